// Issue 19: the géo-évaluation in a real browser, on the demo commune. A citizen, on a phone,
// answers the open barometer (their sector, a note per theme) and changes an answer; the
// commune's admin, on a desktop, reads the map: the sectors coloured by the barometer's
// averages (the demo's second round), the legend, the same figures as a table, another layer
// (the reports of the demo), and opens a new round. axe-core checks every page on the way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bin, root, checkA11y, launchBrowser, newPage, startDemo, startSmtpSink, signIn as signInAt } from "./harness.mjs";

test("a citizen answers the barometer, the admin reads the map by sector", { timeout: 300000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "parvis-geo-"));
  const children = [];
  let browser;
  try {
    const smtpPort = await startSmtpSink(join(dir, "mail.jsonl"), children);
    const { communeUrl, env } = await startDemo(dir, smtpPort, children, {
      PARVIS_DEMO_MODULES: join(root, "target", "wasm32-wasip2", "module"),
    });
    execFileSync(bin, ["user", "create", "--email", "lea@example.org", "--password", "une longue phrase", "--name", "Léa Exemple"], {
      cwd: dir,
      env,
    });
    browser = await launchBrowser();
    const at = (path) => new URL(path, communeUrl).href;

    const citizen = await newPage(browser, { viewport: { width: 390, height: 900 }, reducedMotion: "reduce" });
    await signInAt(citizen, at, "lea@example.org", "une longue phrase");
    await citizen.goto(at("/m/geo-evaluation/"));
    await citizen.getByRole("heading", { name: "Baromètre de la vie locale" }).waitFor();
    await citizen.getByText("20 participants").first().waitFor();
    await checkA11y(citizen, "the barometer's form at 390 px");
    await citizen.getByLabel("Votre quartier").selectOption({ label: "Secteur sud-ouest" });
    const propreté = citizen.getByRole("group", { name: "Propreté" });
    await propreté.getByLabel("4 – Plutôt satisfait").check();
    await citizen.getByRole("group", { name: "Sécurité" }).getByLabel("Sans avis").check();
    await citizen.getByRole("button", { name: "Envoyer mes réponses" }).click();
    await citizen.getByText("Vos réponses sont enregistrées. Merci\u202f!").waitFor();
    await citizen.getByText("21 participants").first().waitFor();
    // Changing an answer replaces it.
    await citizen.getByRole("group", { name: "Propreté" }).getByLabel("5 – Très satisfait").check();
    await citizen.getByRole("button", { name: "Changer mes réponses" }).click();
    await citizen.getByText("Vos réponses sont changées. Merci\u202f!").waitFor();
    await citizen.getByText("21 participants").first().waitFor();
    // The map is the team's.
    const refused = await citizen.goto(at("/m/geo-evaluation/carte"));
    assert.equal(refused.status(), 403);

    const admin = await newPage(browser, { viewport: { width: 1280, height: 900 }, reducedMotion: "reduce" });
    await signInAt(admin, at, "admin@parvis.localhost", "parvis-demo-2026");
    await admin.goto(at("/admin/m/geo-evaluation/?indicateur=barometre-proprete"));
    await admin.getByRole("heading", { name: "Baromètre : Propreté" }).waitFor();
    const map = admin.locator("[data-map]");
    await admin.locator("[data-map][data-areas-drawn='4']").waitFor();
    // Over the year: 22 answers in the north-west sector, 12 in the south-east (six per
    // round): coloured; four in the north-east and Léa's one in the south-west: too few.
    const filled = await map.locator("path.leaflet-interactive").evaluateAll((paths) =>
      paths.map((p) => p.getAttribute("fill-opacity")),
    );
    assert.equal(filled.filter((o) => o === "0.75").length, 2, `two sectors coloured: ${filled}`);
    const rows = admin.locator("table").first().locator("tbody tr");
    await rows.filter({ hasText: "Secteur nord-ouest" }).filter({ hasText: "/ 5" }).waitFor();
    await rows.filter({ hasText: "Secteur nord-est" }).filter({ hasText: "pas assez de données" }).waitFor();
    await admin.getByText("en hausse de").first().waitFor();
    await checkA11y(admin, "the géo-évaluation map at 1280 px");
    await admin.screenshot({ path: join(root, "target", "geo-evaluation-map.png"), fullPage: false });

    // The reports of the demo, on their own layer.
    await admin.getByLabel("Indicateur").selectOption({ label: "Signalements" });
    await admin.getByRole("button", { name: "Afficher" }).click();
    await admin.getByRole("heading", { name: "Signalements" }).waitFor();
    await admin.locator("[data-map][data-areas-drawn='4']").waitFor();

    // A new round.
    await admin.getByLabel("Titre").fill("Baromètre du printemps");
    await admin.getByLabel("Ouverture").fill("2026-12-06T10:00");
    await admin.getByLabel("Clôture").fill("2030-03-31T18:00");
    await admin.getByRole("button", { name: "Ouvrir le baromètre" }).click();
    await admin.getByText("Le baromètre est ouvert.").waitFor();
    await admin.getByRole("row", { name: /Baromètre du printemps/ }).waitFor();

    const phone = await newPage(browser, { viewport: { width: 390, height: 900 }, reducedMotion: "reduce" });
    await signInAt(phone, at, "admin@parvis.localhost", "parvis-demo-2026");
    await phone.goto(at("/m/geo-evaluation/carte?indicateur=barometre-proprete"));
    await phone.locator("[data-map][data-areas-drawn='4']").waitFor();
    await checkA11y(phone, "the géo-évaluation map at 390 px");
    await phone.screenshot({ path: join(root, "target", "geo-evaluation-phone.png"), fullPage: true });
  } finally {
    await browser?.close();
    for (const child of children) child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
