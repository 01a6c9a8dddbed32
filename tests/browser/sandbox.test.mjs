// Issue 14, the page's origin, in a real browser: the demo commune's admin, signed in, opens
// the assailant module's page. It includes the module's own script (which would mark the page,
// read the profile page and switch polls off with the CSRF token in the page), refreshes
// off-site through `<meta>` tags and rebases links off-site with `<base>`. None of it works:
// the script is refused by the Content-Security-Policy (and reported), polls stays on, and the
// browser stays on the commune's origin.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { bin, launchBrowser, newPage, root, startDemo, startSmtpSink } from "./harness.mjs";

const built = join(root, "target", "wasm32-wasip2", "module");

test("a module's script never runs on the commune's origin, and its page cannot take the browser off-site", { timeout: 240000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "parvis-sandbox-"));
  const mailFile = join(dir, "mail.jsonl");
  const children = [];
  let browser;
  try {
    // The demo switches on its victim (polls); the operator installs the assailant (the demo
    // never installs test-only components) and switches it on for the demo commune.
    const modules = join(dir, "modules");
    mkdirSync(modules);
    copyFileSync(join(built, "parvis_module_polls.wasm"), join(modules, "parvis_module_polls.wasm"));
    const smtpPort = await startSmtpSink(mailFile, children);
    const { communeUrl, env } = await startDemo(dir, smtpPort, children, { PARVIS_DEMO_MODULES: modules });
    const origin = new URL(communeUrl).origin;
    const slug = new URL(communeUrl).hostname.split(".")[0];
    const at = (path) => new URL(path, communeUrl).href;
    const cli = (...args) => execFileSync(bin, args, { cwd: dir, env });
    cli("module", "install", join(built, "parvis_module_assailant.wasm"));
    cli("module", "enable", "--tenant", slug, "assailant");

    browser = await launchBrowser();
    const admin = await newPage(browser);
    const requests = [];
    admin.on("request", (r) => requests.push(`${r.method()} ${r.url()}`));
    const served = [];
    admin.on("response", (r) => served.push(`${r.status()} ${r.url()}`));
    await admin.goto(at("/connexion"));
    await admin.getByLabel("Adresse e-mail").fill("admin@parvis.localhost");
    await admin.getByLabel("Mot de passe").fill("parvis-demo-2026");
    await admin.getByRole("button", { name: "Se connecter" }).click();
    await admin.getByRole("button", { name: "Se déconnecter" }).waitFor();
    await admin.goto(at("/admin/modules"));
    await admin.getByRole("button", { name: "Désactiver Sondages" }).waitFor();

    // The attack page (once the running server picked the module up); the meta refreshes
    // would fire at 0, 1 and 2 s.
    for (let tries = 0; ; tries++) {
      const r = await admin.goto(at("/m/assailant/web/page?victim=polls"));
      if (r.status() === 200 || tries >= 30) break;
      await admin.waitForTimeout(500);
    }
    await admin.getByRole("heading", { name: "Page de l'assaillant" }).waitFor();
    await admin.waitForTimeout(3500);

    assert.equal(new URL(admin.url()).origin, origin, "the browser left the commune's origin");
    assert.equal(new URL(admin.url()).pathname, "/m/assailant/web/page");
    assert.notEqual(await admin.title(), "assailant script ran");
    assert.equal(await admin.evaluate(() => document.documentElement.getAttribute("data-assailant")), null);
    // The refusal was reported, and the script was never served to the page (a path below
    // /static/ that a browser's CSP decodes to the module's is fetched, and answered 404).
    assert.ok(
      admin.cspViolations.some((v) => v.includes("script-src") && v.includes("/m/assailant/web/js")),
      `no CSP report of the refused script: ${JSON.stringify(admin.cspViolations)}`,
    );
    const scripts = served.filter((r) => r.includes("/m/assailant/web/js"));
    assert.deepEqual(scripts.filter((r) => !r.startsWith("404 ")), [], served.join("\n"));
    assert.deepEqual(requests.filter((r) => r.includes("evil.example") || r.includes("/admin/modules/")), []);
    // `<base>` was neutralised: a relative link stays on the commune's site.
    const href = await admin.locator("#relative").evaluate((a) => a.href);
    assert.equal(new URL(href).origin, origin, href);

    // Polls is still on, and the admin pages still run the host's own scripts.
    admin.cspViolations = [];
    await admin.goto(at("/admin/modules"));
    await admin.getByRole("button", { name: "Désactiver Sondages" }).waitFor();
    assert.equal(await admin.getByRole("button", { name: "Activer Sondages", exact: true }).count(), 0);
    requests.length = 0;
    await admin.goto(at("/notifications"));
    await admin.waitForLoadState("load");
    assert.ok(requests.some((r) => r === `GET ${at("/static/push.js")}`), requests.join("\n"));
    assert.deepEqual(admin.cspViolations, []);

    // Opening the script's address directly gives a file to save, never a page that runs.
    const download = admin.waitForEvent("download");
    await admin.goto(at("/m/assailant/web/js")).catch(() => {});
    assert.equal((await download).suggestedFilename(), "assailant.js");
  } finally {
    if (browser) await browser.close();
    for (const c of children) c.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
});
