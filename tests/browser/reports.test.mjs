// Issue 18: a report's whole journey in a real browser, on the demo commune. A citizen opens
// « Signaler un problème », places the pin by clicking the map of the commune, attaches a
// photo from the phone, describes the problem and sends it; the report's page shows the place
// pinned and the photo re-encoded. The commune's admin finds it in the queue and resolves it
// with a reply; the citizen sees the notification in the app and receives the e-mail. axe-core
// checks every page on the way, on a phone and on a desktop.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { bin, root, checkA11y, launchBrowser, newPage, startDemo, startSmtpSink, waitForMail, signIn as signInAt } from "./harness.mjs";

/** A 1200 × 900 PNG, a photo's size, in a few colours. */
function photo(file) {
  const png = new PNG({ width: 1200, height: 900 });
  for (let y = 0; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) {
      const i = (png.width * y + x) << 2;
      png.data[i] = (x * 7) % 256;
      png.data[i + 1] = (y * 3) % 256;
      png.data[i + 2] = 120;
      png.data[i + 3] = 255;
    }
  }
  writeFileSync(file, PNG.sync.write(png));
}

test("a citizen reports a problem on the map with a photo, the town hall resolves it, the citizen is told", { timeout: 300000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "parvis-reports-"));
  const mailFile = join(dir, "mail.jsonl");
  const children = [];
  let browser;
  try {
    const smtpPort = await startSmtpSink(mailFile, children);
    const { communeUrl, env } = await startDemo(dir, smtpPort, children, {
      PARVIS_DEMO_MODULES: join(root, "target", "wasm32-wasip2", "module"),
    });
    execFileSync(bin, ["user", "create", "--email", "lea@example.org", "--password", "une longue phrase", "--name", "Léa Exemple"], {
      cwd: dir,
      env,
    });
    const picture = join(dir, "lampadaire.png");
    photo(picture);
    browser = await launchBrowser();
    const at = (path) => new URL(path, communeUrl).href;
    const signIn = (page, email, password) => signInAt(page, at, email, password);

    // The citizen, on a phone.
    const citizen = await newPage(browser, { viewport: { width: 390, height: 900 }, reducedMotion: "reduce" });
    await signIn(citizen, "lea@example.org", "une longue phrase");
    await citizen.goto(at("/m/reports/"));
    await citizen.waitForSelector(".map[data-outline-drawn]", { timeout: 20000 });
    await checkA11y(citizen, "the reports' map and list at 390 px");
    await citizen.getByRole("link", { name: "Signaler un problème" }).click();
    // Only the chosen category's questions show (each category asks its own).
    const volume = citizen.getByLabel("Volume (facultatif)");
    await citizen.getByLabel("Catégorie").selectOption({ label: "Dépôt sauvage" });
    assert.ok(await volume.isVisible(), "the dumping question shows for its category");
    await citizen.getByLabel("Catégorie").selectOption({ label: "Éclairage public" });
    assert.ok(!(await volume.isVisible()), "and hides for another");
    await citizen.getByLabel("Ce que fait la lampe (facultatif)").selectOption({ label: "Clignote" });
    const map = citizen.locator("#lieu .map");
    await citizen.waitForSelector("#lieu .map[data-outline-drawn]", { timeout: 20000 });
    await map.scrollIntoViewIfNeeded();
    const box = await map.boundingBox();
    // The middle of the commune's outline, which the map is fitted to: the town centre.
    await citizen.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    const lat = Number(await citizen.inputValue("#lieu input[name=lat]"));
    const lon = Number(await citizen.inputValue("#lieu input[name=lon]"));
    assert.ok(Math.abs(lat - 45.9) < 0.06 && Math.abs(lon - 6.12) < 0.08, `picked ${lat}, ${lon}`);
    await citizen.getByLabel("Description").fill("Le lampadaire devant la boulangerie est éteint depuis lundi soir.");
    await citizen.locator("input[type=file][name=photo]").setInputFiles(picture);
    await citizen.getByLabel("Ce que montrent les photos").fill("Le lampadaire éteint, la nuit");
    await checkA11y(citizen, "the report form at 390 px, filled in");
    await citizen.getByRole("button", { name: "Envoyer le signalement" }).click();
    await citizen.waitForURL(/\/m\/reports\/\d+$/);
    const reportUrl = citizen.url();
    const number = reportUrl.split("/").pop();
    await citizen.getByText(`Votre signalement n°\u00a0${number} est envoyé`).waitFor();
    assert.equal(await citizen.locator("h1").innerText(), `Signalement n°\u00a0${number}`);
    assert.equal(await citizen.locator(".answers dd").innerText(), "Clignote");
    const img = citizen.locator('img[alt="Le lampadaire éteint, la nuit"]');
    await img.waitFor();
    // Re-encoded by the host: a JPEG, no larger than 1,600 pixels.
    const served = await img.evaluate(async (el) => {
      const r = await fetch(el.src);
      return { type: r.headers.get("content-type"), width: el.naturalWidth };
    });
    assert.equal(served.type, "image/jpeg");
    assert.ok(served.width > 0 && served.width <= 1600, `width ${served.width}`);
    await citizen.waitForSelector(".map .map-pin", { timeout: 20000 });
    await checkA11y(citizen, "a report's page at 390 px");

    // The admin, on a desktop: the queue, then the answer.
    const admin = await newPage(browser, { viewport: { width: 1280, height: 900 }, reducedMotion: "reduce" });
    await signIn(admin, "admin@parvis.localhost", "parvis-demo-2026");
    await admin.goto(at("/admin/m/reports/"));
    await checkA11y(admin, "the town hall's queue at 1280 px");
    await admin.locator(`main a[href="/admin/m/reports/${number}"]`).click();
    await admin.getByText("Léa Exemple").first().waitFor();
    await checkA11y(admin, "a report for the staff at 1280 px");
    await admin.getByLabel("Statut").selectOption({ label: "Résolu" });
    await admin.getByLabel(/Réponse publique/).fill("L'ampoule a été changée ce matin. Merci !");
    await admin.getByRole("button", { name: "Enregistrer" }).click();
    await admin.getByText("La réponse est enregistrée").waitFor();

    // The citizen is told, in the app and by e-mail.
    const title = `Signalement n°\u00a0${number}\u00a0: résolu`;
    let seen = false;
    for (let i = 0; i < 50 && !seen; i++) {
      await citizen.goto(at("/notifications"));
      seen = (await citizen.getByText(title).count()) > 0;
      if (!seen) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(seen, "the notification of the answer");
    await checkA11y(citizen, "the notifications at 390 px");
    await citizen.getByText(title).first().click();
    await citizen.getByText("Problème résolu").waitFor();
    await citizen.getByText("L'ampoule a été changée ce matin.").waitFor();
    const mail = await waitForMail(mailFile, "lea@example.org", "résolu");
    assert.match(mail.text ?? mail.body ?? JSON.stringify(mail), /ampoule a été changée/);
  } finally {
    await browser?.close();
    for (const child of children) child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
