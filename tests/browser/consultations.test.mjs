// Issue 19: a consultation in a real browser, on the demo commune. A citizen, on a phone,
// opens the demo's consultation, goes through its voting sequence (one proposal at a time,
// each once, until none is left), finds her votes, and makes a proposal of her own, which
// waits for moderation; the commune's admin, on a desktop, publishes it; the citizen is told
// and reads the results. axe-core checks every page on the way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bin, root, checkA11y, launchBrowser, newPage, startDemo, startSmtpSink, signIn as signInAt } from "./harness.mjs";

test("a citizen votes through a consultation's sequence and proposes, the town hall publishes it", { timeout: 300000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "parvis-consultations-"));
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

    // The citizen, on a phone: the consultation and how to take part.
    const citizen = await newPage(browser, { viewport: { width: 390, height: 900 }, reducedMotion: "reduce" });
    await signInAt(citizen, at, "lea@example.org", "une longue phrase");
    await citizen.goto(at("/m/consultations/"));
    await checkA11y(citizen, "the consultations at 390 px");
    await citizen.getByRole("link", { name: /bord du lac/ }).click();
    await citizen.getByText("4 propositions publiées").waitFor();
    await checkA11y(citizen, "a consultation at 390 px");

    // The voting sequence: every published proposal once, then none left.
    await citizen.getByRole("link", { name: "Voter sur les propositions" }).click();
    await checkA11y(citizen, "the voting sequence at 390 px");
    const seen = [];
    for (let i = 0; i < 4; i++) {
      const text = await citizen.locator("#proposition-texte").innerText();
      assert.ok(!seen.includes(text), `shown twice: ${text}`);
      seen.push(text);
      await citizen.getByLabel(i % 2 === 0 ? "D'accord" : "Neutre", { exact: true }).check();
      if (i === 0) await citizen.getByLabel("Coup de cœur").check();
      await citizen.getByRole("button", { name: "Voter", exact: true }).click();
      await citizen.getByText("Vote enregistré").waitFor();
    }
    await citizen.getByText("Plus aucune proposition à vous présenter").waitFor();
    await citizen.getByText("Comment les propositions vous sont présentées").click();
    await citizen.getByText("celle qui a reçu le moins de votes").waitFor();
    const page = await citizen.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(page <= 390, `the page fits the phone (${page} px)`);

    // Her votes, and a proposal of her own.
    await citizen.goto(at("/m/consultations/1/mes-votes"));
    assert.equal(await citizen.locator("main table tbody tr").count(), 4);
    await checkA11y(citizen, "her votes at 390 px");
    await citizen.goto(at("/m/consultations/1"));
    const mine = "Il faut des jeux d'eau pour les enfants près de la plage";
    await citizen.getByLabel("Votre proposition").fill(mine);
    await citizen.getByRole("button", { name: "Envoyer ma proposition" }).click();
    await citizen.getByText("elle sera publiée après modération").waitFor();
    await citizen.getByText("En attente de modération").waitFor();

    // The admin, on a desktop, publishes it.
    const admin = await newPage(browser, { viewport: { width: 1280, height: 900 }, reducedMotion: "reduce" });
    await signInAt(admin, at, "admin@parvis.localhost", "parvis-demo-2026");
    await admin.goto(at("/admin/m/consultations/"));
    await checkA11y(admin, "the team's consultations at 1280 px");
    await admin.getByRole("link", { name: /bord du lac/ }).click();
    await checkA11y(admin, "a consultation's moderation at 1280 px");
    await admin.getByRole("button", { name: `Publier « ${mine} »` }).click();
    await admin.getByText("Proposition publiée").waitFor();

    // The citizen is told, and reads the results.
    let told = false;
    for (let i = 0; i < 50 && !told; i++) {
      await citizen.goto(at("/notifications"));
      told = (await citizen.getByText("Proposition publiée").count()) > 0;
      if (!told) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(told, "the notification of the publication");
    await citizen.goto(at("/m/consultations/1/resultats"));
    await citizen.getByRole("heading", { name: "Les plus consensuelles" }).waitFor();
    assert.ok((await citizen.locator("main table").first().locator("tbody tr").count()) >= 1);
    await checkA11y(citizen, "the results at 390 px");
  } finally {
    await browser?.close();
    for (const child of children) child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
