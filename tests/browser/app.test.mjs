// Issue 17: each commune installs as an app on a phone. Its pages link a manifest named after
// the commune with icons Chromium accepts; the service worker keeps an offline page, fetched
// without cookies, and shows it when the network is gone — never anyone's page.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkA11y, launchBrowser, startDemo, startSmtpSink } from "./harness.mjs";

/** Width and height of a PNG, from its IHDR chunk. */
function pngSize(bytes) {
  assert.deepEqual([...bytes.subarray(1, 4)], [0x50, 0x4e, 0x47], "a PNG");
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

test("a commune installs as an app and shows its offline page without the network", { timeout: 240000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "parvis-app-"));
  const children = [];
  let browser;
  try {
    const smtpPort = await startSmtpSink(join(dir, "mail.jsonl"), children);
    const { communeUrl } = await startDemo(dir, smtpPort, children);
    const at = (path) => new URL(path, communeUrl).href;
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();

    // Signed in: what the worker keeps must still be nobody's.
    await page.goto(at("/connexion"));
    await page.getByLabel("Adresse e-mail").fill("admin@parvis.localhost");
    await page.getByLabel("Mot de passe").fill("parvis-demo-2026");
    await page.getByRole("button", { name: "Se connecter" }).click();
    await page.getByRole("button", { name: "Se déconnecter" }).waitFor();

    // The manifest, named after the commune, and its icons (fetched by the page: only the
    // browser resolves the commune's host).
    const get = (url) =>
      page.evaluate(async (url) => {
        const r = await fetch(url);
        return { status: r.status, type: r.headers.get("content-type"), bytes: [...new Uint8Array(await r.arrayBuffer())] };
      }, url);
    const href = await page.locator('link[rel="manifest"]').getAttribute("href");
    const manifestResponse = await get(at(href));
    assert.equal(manifestResponse.status, 200);
    assert.match(manifestResponse.type, /^application\/manifest\+json/);
    const manifest = JSON.parse(Buffer.from(manifestResponse.bytes).toString("utf8"));
    assert.equal(manifest.short_name, "Annecy");
    assert.equal(manifest.name, "Annecy — Parvis");
    assert.match(manifest.description, /d'Annecy/);
    assert.equal(manifest.start_url, "/");
    assert.equal(manifest.display, "standalone");
    assert.equal(manifest.lang, "fr");
    for (const icon of manifest.icons) {
      const response = await get(at(icon.src));
      assert.equal(response.status, 200, icon.src);
      assert.equal(response.type, "image/png", icon.src);
      const [w, h] = pngSize(Buffer.from(response.bytes));
      assert.equal(`${w}x${h}`, icon.sizes, icon.src);
    }
    assert.ok(manifest.icons.some((i) => i.sizes === "512x512" && i.purpose === "maskable"));

    // Chromium's own reading of the manifest: no error, installable icons.
    const cdp = await context.newCDPSession(page);
    const { errors } = await cdp.send("Page.getAppManifest");
    assert.deepEqual(errors, [], "Chromium reads the manifest without error");
    // A test's browser context is private (« in-incognito »), where nothing installs; any
    // other reason would be the site's.
    const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors");
    assert.deepEqual(
      installabilityErrors.map((e) => e.errorId).filter((id) => id !== "in-incognito"),
      [],
      "installable",
    );

    // The worker is registered on every page and keeps the offline page.
    await page.goto(at("/"));
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
    await page.waitForFunction(() => caches.has("parvis-hors-ligne-1"));
    const kept = await page.evaluate(async () => {
      const cache = await caches.open("parvis-hors-ligne-1");
      const offline = await cache.match("/hors-ligne");
      return offline ? await offline.text() : "";
    });
    assert.match(kept, /Vous êtes hors ligne/);
    assert.match(kept, /Se connecter/, "kept signed out: the worker sends no cookie");
    assert.doesNotMatch(kept, /Se déconnecter/);

    // The network is gone: a page of the site shows the offline page, styled, not an error.
    await context.setOffline(true);
    await page.goto(at("/fil"));
    await page.getByRole("heading", { name: "Vous êtes hors ligne" }).waitFor();
    const styled = await page.evaluate(() => getComputedStyle(document.querySelector("header.top")).borderBottomStyle);
    assert.equal(styled, "solid", "the style sheet came from the worker's cache");
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `the offline page fits a 390 px phone (${width} px)`);
    await context.setOffline(false);
    await checkA11y(page, "the offline page");

    // Back online, pages come from the network again, signed in.
    await page.goto(at("/fil"));
    await page.getByRole("button", { name: "Se déconnecter" }).waitFor();
  } finally {
    await browser?.close();
    for (const child of children) child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
