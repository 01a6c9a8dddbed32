// Phones first (issue 17): on a 390 px screen no page of the demo commune is wider than the
// screen, for a visitor, a citizen and the commune's admin, core pages and module pages alike.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkA11y, launchBrowser, root, startDemo, startSmtpSink } from "./harness.mjs";

const PHONE = { width: 390, height: 844 };
// The legal pages, also checked with axe-core (they are mostly text and tables).
const LEGAL = ["/mentions-legales", "/confidentialite", "/conditions", "/accessibilite"];
// Besides these, every module page the commune's home page links to.
const PAGES = {
  visitor: ["/", "/connexion", "/inscription", ...LEGAL],
  citizen: ["/", "/fil", "/notifications", "/messages", "/mon-compte"],
  admin: ["/", "/fil", "/admin", "/admin/moderation", "/admin/modules"],
};
const ACCOUNTS = {
  citizen: "habitant-1@parvis.localhost",
  admin: "admin@parvis.localhost",
};

test("no page is wider than a 390 px phone, signed in or not", { timeout: 240000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "parvis-phone-"));
  const children = [];
  let browser;
  try {
    const smtpPort = await startSmtpSink(join(dir, "mail.jsonl"), children);
    const { communeUrl } = await startDemo(dir, smtpPort, children, {
      PARVIS_DEMO_MODULES: join(root, "target", "wasm32-wasip2", "module"),
    });
    browser = await launchBrowser();
    const at = (path) => new URL(path, communeUrl).href;
    const wide = [];
    for (const [who, paths] of Object.entries(PAGES)) {
      const page = await (await browser.newContext({ viewport: PHONE })).newPage();
      if (ACCOUNTS[who]) {
        await page.goto(at("/connexion"));
        await page.getByLabel("Adresse e-mail").fill(ACCOUNTS[who]);
        await page.getByLabel("Mot de passe").fill("parvis-demo-2026");
        await page.getByRole("button", { name: "Se connecter" }).click();
        await page.getByRole("button", { name: "Se déconnecter" }).waitFor();
      }
      await page.goto(at("/"));
      const modules = await page.locator('main a[href^="/m/"]').evaluateAll((links) => links.map((a) => a.getAttribute("href")));
      assert.ok(modules.length > 0, "the demo commune's home links to its modules");
      for (const path of [...paths, ...new Set(modules)]) {
        const response = await page.goto(at(path));
        assert.ok(response.ok(), `${who} ${path}: ${response.status()}`);
        if (LEGAL.includes(path)) await checkA11y(page, path);
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        if (width > PHONE.width) {
          const culprits = await page.evaluate((limit) =>
            [...document.querySelectorAll("body *")]
              .filter((e) => e.getBoundingClientRect().right > limit + 1)
              .slice(0, 3)
              .map((e) => `${e.tagName.toLowerCase()}${e.className ? "." + e.className : ""}`),
          PHONE.width);
          wide.push(`${who} ${path}: ${width} px (${culprits.join(", ")})`);
        }
      }
    }
    assert.deepEqual(wide, [], "pages wider than the phone");
  } finally {
    if (browser) await browser.close();
    for (const c of children) c.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
});
