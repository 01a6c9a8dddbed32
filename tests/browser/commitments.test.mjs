// Issue 19: commitments in a real browser, on the demo commune. A citizen, on a phone, reads
// the commune's bilan, opens a commitment under way and evaluates it (a note and a comment);
// the commune's admin, on a desktop, reports its progress, which the citizen then reads.
// axe-core checks every page on the way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bin, root, checkA11y, launchBrowser, newPage, startDemo, startSmtpSink, signIn as signInAt } from "./harness.mjs";

test("a citizen evaluates a commitment, the town hall reports its progress", { timeout: 300000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "parvis-commitments-"));
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
    await citizen.goto(at("/m/commitments/"));
    await citizen.getByRole("heading", { name: "Engagements et bilan" }).waitFor();
    await checkA11y(citizen, "the commune's bilan at 390 px");
    await citizen.getByRole("link", { name: "Exemple : vingt kilomètres de pistes cyclables" }).click();
    const url = citizen.url();
    await citizen.getByText("(6 évaluations)").waitFor();
    await checkA11y(citizen, "a commitment with its evaluations at 390 px");
    await citizen.getByLabel("4 sur 5").check();
    await citizen.getByLabel(/Un commentaire/).fill("Bien parti, mais pensez aux enfants qui vont à l'école à vélo.");
    await citizen.getByRole("button", { name: "Évaluer" }).click();
    await citizen.getByText("Merci, votre évaluation est enregistrée.").waitFor();
    await citizen.getByText("(7 évaluations)").waitFor();
    assert.ok(await citizen.getByRole("button", { name: "Changer mon évaluation" }).isVisible());

    const admin = await newPage(browser, { viewport: { width: 1280, height: 900 }, reducedMotion: "reduce" });
    await signInAt(admin, at, "admin@parvis.localhost", "parvis-demo-2026");
    await admin.goto(url);
    await checkA11y(admin, "a commitment for its manager at 1280 px");
    await admin.getByLabel("Avancement (en %)").fill("60");
    await admin.getByLabel(/Ce qui a changé/).fill("Les travaux de la rive ouest sont terminés.");
    await admin.getByRole("button", { name: "Publier le point d'étape" }).click();
    await admin.getByText("Le point d'étape est publié").waitFor();

    await citizen.goto(url);
    await citizen.getByText("Les travaux de la rive ouest sont terminés.").waitFor();
    assert.equal(await citizen.locator("progress").first().getAttribute("value"), "60");
  } finally {
    await browser?.close();
    for (const child of children) child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
