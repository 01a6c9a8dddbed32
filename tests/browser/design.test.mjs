// Issue 17: the design system's living page and the pages made of it, as people see them: at
// 320, 390 and 1280 px, in light and dark mode, with axe-core (contrast included) and no page
// wider than its screen. A module's page is framed like the host's: one trail, one title. The
// demo commune wears its own colour (communes::identity), in both modes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkA11y, launchBrowser, newPage, root, startDemo, startSmtpSink } from "./harness.mjs";

test("the components page and module pages hold in light and dark mode, phone and desktop", { timeout: 240000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "parvis-design-"));
  const children = [];
  let browser;
  try {
    const smtpPort = await startSmtpSink(join(dir, "mail.jsonl"), children);
    const { communeUrl } = await startDemo(dir, smtpPort, children, {
      PARVIS_DEMO_MODULES: join(root, "target", "wasm32-wasip2", "module"),
    });
    const at = (path) => new URL(path, communeUrl).href;
    browser = await launchBrowser();
    for (const [width, colorScheme] of [[320, "light"], [390, "dark"], [1280, "light"], [1280, "dark"]]) {
      const page = await newPage(browser, { viewport: { width, height: 900 }, colorScheme });
      for (const path of ["/composants", "/", "/m/polls/", "/m/alerts/"]) {
        const response = await page.goto(at(path));
        assert.equal(response.status(), 200, path);
        const label = `${path} at ${width} px, ${colorScheme}`;
        const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(scrollWidth <= width, `${label}: ${scrollWidth} px wide`);
        const dark = await page.evaluate(() => matchMedia("(prefers-color-scheme: dark)").matches);
        assert.equal(dark, colorScheme === "dark");
        // The demo commune's own colour (its lake's blue), and in dark mode the lighter
        // variant derived from it: axe's contrast check below runs on them.
        const button = await page.evaluate(() => {
          const b = document.createElement("button");
          document.querySelector("main").append(b);
          const colour = getComputedStyle(b).backgroundColor;
          b.remove();
          return colour;
        });
        assert.equal(button, colorScheme === "dark" ? "rgb(87, 144, 169)" : "rgb(0, 87, 125)", label);
        await checkA11y(page, label);
        if (path.startsWith("/m/")) {
          // One trail, one title: « Accueil › Sondages », then the module's own h1.
          assert.equal(await page.locator("main h1").count(), 1, label);
          const trail = await page.locator("main nav.trail li").allInnerTexts();
          assert.equal(trail[0], "Accueil", label);
          assert.equal(trail.length, 2, `${label}: ${trail.join(" › ")}`);
          assert.equal(await page.locator("main nav.trail [aria-current=page]").count(), 1);
        }
      }
      // Printed, the page keeps its content and drops its controls.
      await page.goto(at("/composants"));
      await page.emulateMedia({ media: "print" });
      assert.equal(await page.locator("footer.bottom").isVisible(), false, "no footer on paper");
      assert.equal(await page.locator("main h1").isVisible(), true);
      await page.emulateMedia({ media: "screen" });
      await page.context().close();
    }
  } finally {
    await browser?.close();
    for (const child of children) child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
