// Issue 18: maps. The commune's page draws its official outline over tiles from the configured
// tile server (here one on loopback: no test reaches the real one), with the library the
// binary embeds, under the page's Content-Security-Policy; the design system's place picker
// fills its fields when the map is clicked and when the pin is dragged; both pass axe-core on
// a phone and a desktop; and without JavaScript the page says the map needs it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkA11y, launchBrowser, newPage, startDemo, startSmtpSink } from "./harness.mjs";

test("a commune's map draws its outline over loopback tiles, and a place is picked by clicking", { timeout: 240000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "parvis-map-"));
  const children = [];
  let browser;
  try {
    const smtpPort = await startSmtpSink(join(dir, "mail.jsonl"), children);
    const { communeUrl, tiles } = await startDemo(dir, smtpPort, children);
    const at = (path) => new URL(path, communeUrl).href;
    browser = await launchBrowser();

    for (const width of [390, 1280]) {
      const page = await newPage(browser, { viewport: { width, height: 900 }, reducedMotion: "reduce" });
      const outside = [];
      page.on("request", (r) => {
        const u = new URL(r.url());
        if (u.hostname !== "127.0.0.1" && !u.hostname.endsWith(".parvis.localhost")) outside.push(r.url());
      });
      const response = await page.goto(at("/"));
      assert.equal(response.status(), 200);
      const map = page.locator("section[aria-labelledby=territoire] .map");
      // The outline is drawn (one SVG path in the overlay), the view fitted to it, over tiles.
      await page.waitForSelector("section[aria-labelledby=territoire] .map[data-outline-drawn]", { timeout: 20000 });
      const path = await map.locator(".leaflet-overlay-pane path").getAttribute("d");
      assert.ok(path && path.length > 100, `the outline's path: ${path}`);
      await page.waitForFunction(
        () => [...document.querySelectorAll(".map .leaflet-tile")].some((t) => t.complete && t.naturalWidth === 256),
        null,
        { timeout: 20000 },
      );
      assert.ok(tiles.requests.length > 0, "tiles were asked of the loopback tile server");
      assert.deepEqual(outside, [], "nothing asked outside loopback");
      assert.equal(await map.locator(".leaflet-control-attribution").innerText(), "Tuiles d'essai");
      assert.equal(await map.locator(".map-off").count(), 0, "the no-JavaScript line is gone");
      const zoom = await map.evaluate((el) => el.querySelector(".leaflet-control-zoom-in").getAttribute("aria-label"));
      assert.equal(zoom, "Zoom avant");
      // The library and the script are the binary's, gzipped.
      const encoding = await page.evaluate(() =>
        fetch("/static/vendor/leaflet.js").then((r) => r.headers.get("content-encoding")),
      );
      assert.equal(encoding, "gzip");
      await checkA11y(page, `/ at ${width} px`);

      // The picker: a click places the pin and fills lat/lon; dragging moves both.
      await page.goto(at("/composants#lieu"));
      const picker = page.locator("#lieu ~ .sample .map, section[aria-labelledby=lieu] .sample .map").first();
      await page.waitForSelector("section[aria-labelledby=lieu] .map.map-live .leaflet-tile-loaded", { timeout: 20000 });
      await picker.scrollIntoViewIfNeeded();
      const box = await picker.boundingBox();
      await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
      const lat = () => page.inputValue("#demo-lieu input[name=lat]");
      const lon = () => page.inputValue("#demo-lieu input[name=lon]");
      const first = [Number(await lat()), Number(await lon())];
      assert.ok(Math.abs(first[0] - 45.8992) < 0.01 && Math.abs(first[1] - 6.1294) < 0.01, `picked ${first}`);
      assert.match(await page.locator("#demo-lieu [role=status]").innerText(), /Lieu choisi sur la carte\u00a0: latitude 45,\d+, longitude 6,\d+/);
      const pin = page.locator("section[aria-labelledby=lieu] .map-pin");
      const pinBox = await pin.boundingBox();
      await page.mouse.move(pinBox.x + pinBox.width / 2, pinBox.y + pinBox.height / 2);
      await page.mouse.down();
      await page.mouse.move(pinBox.x + pinBox.width / 2 + 60, pinBox.y + pinBox.height / 2 + 40, { steps: 8 });
      await page.mouse.up();
      const moved = [Number(await lat()), Number(await lon())];
      assert.ok(moved[0] < first[0] && moved[1] > first[1], `dragged south-east: ${first} → ${moved}`);
      assert.match(await page.locator("#demo-lieu [role=status]").innerText(), /Lieu déplacé/);
      await checkA11y(page, `/composants at ${width} px`);
      await page.context().close();
    }

    // Without JavaScript: no map, the page says so, everything else is there.
    const plain = await newPage(browser, { javaScriptEnabled: false, viewport: { width: 390, height: 900 } });
    await plain.goto(at("/"));
    assert.equal(
      await plain.locator("section[aria-labelledby=territoire] .map-off").innerText(),
      "La carte s'affiche quand JavaScript est activé.",
    );
    await plain.context().close();
  } finally {
    await browser?.close();
    for (const child of children) child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
