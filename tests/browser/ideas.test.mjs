// Issue 19: an idea's journey in a real browser, on the demo commune. A citizen, on a phone,
// opens the box of ideas, proposes one placed on the map of the commune, then supports and
// comments another citizen's idea; the commune's admin, on a desktop, answers it « Retenue »
// with a public reply; the citizen sees the notification and the answer. axe-core checks
// every page on the way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bin, root, checkA11y, launchBrowser, newPage, startDemo, startSmtpSink, signIn as signInAt } from "./harness.mjs";

test("a citizen proposes an idea on the map, supports and comments another, the town hall answers", { timeout: 300000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "parvis-ideas-"));
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

    // The citizen, on a phone: the box, with the demo's ideas and how the list is ordered.
    const citizen = await newPage(browser, { viewport: { width: 390, height: 900 }, reducedMotion: "reduce" });
    await signInAt(citizen, at, "lea@example.org", "une longue phrase");
    await citizen.goto(at("/m/ideas/"));
    await citizen.getByText("sans classement par popularité").waitFor();
    await citizen.getByRole("link", { name: "Exemple : une boîte à livres dans chaque quartier" }).waitFor();
    await checkA11y(citizen, "the box of ideas at 390 px");

    // She proposes an idea placed by clicking the map.
    await citizen.getByRole("link", { name: "Proposer une idée" }).click();
    await citizen.getByLabel("Titre").fill("Un composteur partagé au square");
    await citizen.getByRole("textbox", { name: "Votre idée" }).fill("Un composteur collectif au square, tenu par les habitants volontaires du quartier.");
    await citizen.getByLabel("Thème").selectOption({ label: "Environnement et nature" });
    const map = citizen.locator("#lieu .map");
    await citizen.waitForSelector("#lieu .map[data-outline-drawn]", { timeout: 20000 });
    await map.scrollIntoViewIfNeeded();
    const box = await map.boundingBox();
    await citizen.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    const lat = Number(await citizen.inputValue("#lieu input[name=lat]"));
    assert.ok(Math.abs(lat - 45.9) < 0.06, `picked ${lat}`);
    await checkA11y(citizen, "the idea form at 390 px, filled in");
    await citizen.getByRole("button", { name: "Proposer l'idée" }).click();
    await citizen.waitForURL(/\/m\/ideas\/\d+$/);
    const number = citizen.url().split("/").pop();
    await citizen.getByText(`Votre idée n°\u00a0${number} est publiée`).waitFor();
    assert.equal(await citizen.locator("h1").innerText(), "Un composteur partagé au square");
    await citizen.waitForSelector(".map .map-pin", { timeout: 20000 });
    await checkA11y(citizen, "an idea's page at 390 px");

    // She supports and comments the book boxes.
    await citizen.goto(at("/m/ideas/"));
    await citizen.getByRole("link", { name: "Exemple : une boîte à livres dans chaque quartier" }).click();
    const books = citizen.url();
    await citizen.getByRole("button", { name: "Je soutiens cette idée" }).click();
    await citizen.getByText("Merci pour votre soutien").waitFor();
    await citizen.getByText("2 habitants soutiennent cette idée").waitFor();
    await citizen.getByLabel("Votre commentaire").fill("Bonne idée : je peux en construire une.");
    await citizen.getByRole("button", { name: "Publier le commentaire" }).click();
    await citizen.getByText("Votre commentaire est publié.").waitFor();
    await citizen.getByText("Bonne idée : je peux en construire une.").waitFor();
    await checkA11y(citizen, "an idea with comments at 390 px");

    // The admin, on a desktop, answers it.
    const admin = await newPage(browser, { viewport: { width: 1280, height: 900 }, reducedMotion: "reduce" });
    await signInAt(admin, at, "admin@parvis.localhost", "parvis-demo-2026");
    await admin.goto(at("/admin/m/ideas/?statut="));
    await checkA11y(admin, "the staff's list of ideas at 1280 px");
    const path = new URL(books).pathname.replace("/m/", "/admin/m/");
    await admin.locator(`main a[href="${path}"]`).first().click();
    await checkA11y(admin, "an idea for the staff at 1280 px");
    await admin.getByLabel("Statut").selectOption({ label: "Retenue" });
    await admin.getByLabel(/Réponse publique/).fill("Trois boîtes seront installées cet été, avec les écoles.");
    await admin.getByRole("button", { name: "Enregistrer" }).click();
    await admin.getByText("Réponse enregistrée").waitFor();

    // The citizen is told, and reads the answer.
    const idea = books.split("/").pop();
    const title = `Idée n°\u00a0${idea}\u00a0: retenue`;
    let seen = false;
    for (let i = 0; i < 50 && !seen; i++) {
      await citizen.goto(at("/notifications"));
      seen = (await citizen.getByText(title).count()) > 0;
      if (!seen) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(seen, "the notification of the answer");
    await citizen.getByText(title).first().click();
    await citizen.getByText("Retenue par la mairie").waitFor();
    await citizen.getByText("Trois boîtes seront installées cet été").waitFor();
  } finally {
    await browser?.close();
    for (const child of children) child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
