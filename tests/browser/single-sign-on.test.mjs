// Issue 20: one account everywhere, in a real browser. A citizen signs in on one commune
// (Annecy's subdomain), opens another commune's site (Paris's subdomain), the platform's site
// and Annecy on its own domain (mairie-annecy.test, handed over by the platform), and is signed
// in on each without a password; then signs out once, on the commune's own domain, and is
// signed out on all. axe-core checks the pages on the way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bin, checkA11y, launchBrowser, newPage, startDemo, startSmtpSink, signIn } from "./harness.mjs";

test("signed in once on every commune, signed out once everywhere", { timeout: 300000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "parvis-sso-"));
  const children = [];
  let browser;
  try {
    const smtpPort = await startSmtpSink(join(dir, "mail.jsonl"), children);
    const { communeUrl, env, port } = await startDemo(dir, smtpPort, children);
    const cli = (...args) => execFileSync(bin, args, { cwd: dir, env, encoding: "utf8" });
    cli("user", "create", "--email", "lea@example.org", "--password", "une longue phrase", "--name", "Léa Exemple");
    cli("tenant", "create", "--insee", "75056");
    assert.match(cli("tenant", "domain", "--tenant", "annecy", "mairie-annecy.test"), /mairie-annecy\.test/);
    browser = await launchBrowser();
    const annecy = (path) => new URL(path, communeUrl).href;
    const paris = (path) => `http://paris.parvis.localhost:${port}${path}`;
    const apex = (path) => `http://parvis.localhost:${port}${path}`;
    const own = (path) => `http://mairie-annecy.test:${port}${path}`;

    const page = await newPage(browser, { viewport: { width: 390, height: 900 }, reducedMotion: "reduce" });
    await signIn(page, annecy, "lea@example.org", "une longue phrase");
    const signedIn = async (url, what) => {
      await page.goto(url);
      await page.getByRole("button", { name: "Se déconnecter" }).waitFor();
      assert.ok(await page.getByText("Léa Exemple").first().isVisible(), `${what}: the same account in the header`);
    };
    await signedIn(paris("/"), "Paris's subdomain");
    await checkA11y(page, "another commune, signed in, at 390 px");
    await signedIn(apex("/"), "the platform's site");
    // Annecy on its own domain: the platform hands the session over, no password asked.
    await signedIn(own("/services"), "Annecy's own domain");
    assert.equal(new URL(page.url()).host, `mairie-annecy.test:${port}`);
    assert.equal(new URL(page.url()).pathname, "/services");
    assert.ok(!page.url().includes("code="), "the hand-off code is not left in the address bar");
    await checkA11y(page, "a commune on its own domain, signed in, at 390 px");

    // Signing out there signs out everywhere.
    await page.getByRole("button", { name: "Se déconnecter" }).click();
    await page.getByRole("link", { name: "Se connecter" }).first().waitFor();
    for (const [url, what] of [[paris("/"), "Paris"], [annecy("/"), "Annecy's subdomain"], [apex("/"), "the platform"], [own("/"), "Annecy's own domain"]]) {
      await page.goto(url);
      await page.getByRole("link", { name: "Se connecter" }).first().waitFor();
      assert.equal(await page.getByRole("button", { name: "Se déconnecter" }).count(), 0, `${what}: signed out`);
    }
  } finally {
    await browser?.close();
    for (const child of children) child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
