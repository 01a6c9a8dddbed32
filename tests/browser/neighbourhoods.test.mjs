// Issue 19: neighbourhoods. The demo commune's admin sees its four demo sectors on the map
// over loopback tiles, clears them, imports a GeoJSON file chosen in the file picker, then
// draws a neighbourhood by clicking its corners on the map and adds it; the page passes
// axe-core on a phone and a desktop and is never wider than the phone's screen; the reports'
// list then offers the new neighbourhoods as a filter.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { root, checkA11y, launchBrowser, newPage, startDemo, startSmtpSink, signIn as signInAt } from "./harness.mjs";

const rectangle = (nom, west, south, east, north) => ({
  type: "Feature",
  properties: { nom },
  geometry: {
    type: "Polygon",
    coordinates: [[[west, south], [east, south], [east, north], [west, north], [west, south]]],
  },
});

test("an admin imports neighbourhoods, draws one on the map, and the reports offer them", { timeout: 300000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "parvis-quartiers-"));
  const children = [];
  let browser;
  try {
    const smtpPort = await startSmtpSink(join(dir, "mail.jsonl"), children);
    const { communeUrl } = await startDemo(dir, smtpPort, children, {
      PARVIS_DEMO_MODULES: join(root, "target", "wasm32-wasip2", "module"),
    });
    const file = join(dir, "quartiers.geojson");
    // West and south of the middle of Annecy's outline (6.1264, 45.9025), where the map opens.
    writeFileSync(file, JSON.stringify({
      type: "FeatureCollection",
      features: [rectangle("Vieille ville", 6.116, 45.894, 6.125, 45.901)],
    }));
    browser = await launchBrowser();
    const at = (path) => new URL(path, communeUrl).href;

    // On a phone: the demo's sectors, listed and drawn; the page fits the screen.
    const phone = await newPage(browser, { viewport: { width: 390, height: 900 }, reducedMotion: "reduce" });
    await signInAt(phone, at, "admin@parvis.localhost", "parvis-demo-2026");
    await phone.goto(at("/admin/quartiers"));
    await phone.waitForSelector('.map[data-areas-drawn="4"]', { timeout: 20000 });
    assert.equal(await phone.locator("main tbody tr").count(), 4);
    await phone.getByRole("cell", { name: "Secteur nord-est", exact: true }).waitFor();
    const wide = await phone.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= 390, `the page is ${wide} px wide on a 390 px screen`);
    await checkA11y(phone, "/admin/quartiers at 390 px");
    await phone.context().close();

    // On a desktop: clear, import, draw.
    const admin = await newPage(browser, { viewport: { width: 1280, height: 900 }, reducedMotion: "reduce" });
    await signInAt(admin, at, "admin@parvis.localhost", "parvis-demo-2026");
    await admin.goto(at("/admin/quartiers"));
    await admin.getByRole("button", { name: "Effacer les 4 quartiers" }).click();
    await admin.getByText("La commune n'a plus de quartiers.").waitFor();
    await admin.getByLabel("Fichier GeoJSON des quartiers").setInputFiles(file);
    await admin.getByRole("button", { name: "Importer" }).click();
    await admin.getByText(/^La commune a 1 quartier\./).waitFor();
    await admin.waitForSelector('.map[data-areas-drawn="1"]', { timeout: 20000 });
    await checkA11y(admin, "/admin/quartiers at 1280 px, after an import");

    // Three corners north-east of the middle (south-east is the lake, outside the commune:
    // such a drawing is refused), then the contour closed, named and added.
    const map = admin.locator(".map[data-draw]");
    await map.scrollIntoViewIfNeeded();
    const box = await map.boundingBox();
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    for (const [dx, dy] of [[6, -34], [40, -34], [22, -10]]) {
      await admin.mouse.click(cx + dx, cy + dy);
    }
    await admin.waitForSelector('.map[data-corners="3"]');
    await admin.getByRole("button", { name: "Fermer le contour" }).click();
    await admin.waitForSelector(".map[data-drawn]");
    assert.match(await admin.locator("#dessin [role=status]").innerText(), /Contour fermé \(3 coins\)/);
    const drawn = JSON.parse(await admin.inputValue("#dessin input[name=geometrie]"));
    assert.equal(drawn.type, "Polygon");
    assert.equal(drawn.coordinates[0].length, 4, "three corners and the first again");
    assert.ok(drawn.coordinates[0].every(([lon, lat]) => lon > 6.1264 && lat > 45.9025), `north-east of the middle: ${JSON.stringify(drawn)}`);
    await admin.getByLabel("Nom du quartier").fill("Les Romains");
    await admin.getByRole("button", { name: "Ajouter le quartier" }).click();
    await admin.getByText(/^La commune a 2 quartiers\./).waitFor();
    await admin.getByRole("cell", { name: "Les Romains", exact: true }).waitFor();
    await admin.waitForSelector('.map[data-areas-drawn="2"]', { timeout: 20000 });

    // The reports' list offers them.
    await admin.goto(at("/m/reports/"));
    const options = await admin.locator("#quartier option").allInnerTexts();
    assert.deepEqual(options, ["Tous", "Vieille ville", "Les Romains"]);
    await admin.context().close();
  } finally {
    await browser?.close();
    for (const child of children) child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
