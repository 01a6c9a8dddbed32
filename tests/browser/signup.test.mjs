// A citizen signs up on a commune's site, confirms the e-mail from a real SMTP server's
// mailbox, and lands on the commune page signed in; axe-core checks every page visited.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkA11y, launchBrowser, newPage, startDemo, startSmtpSink, waitForMail } from "./harness.mjs";

test("a citizen signs up, confirms the e-mail and lands on the commune page", { timeout: 240000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "parvis-browser-"));
  const mailFile = join(dir, "mail.jsonl");
  const children = [];
  let browser;
  try {
    const smtpPort = await startSmtpSink(mailFile, children);

    const { communeUrl, port } = await startDemo(dir, smtpPort, children);
    const apexUrl = `http://parvis.localhost:${port}/`;

    browser = await launchBrowser();
    const page = await newPage(browser);

    await page.goto(apexUrl);
    assert.match(await page.locator("h1").innerText(), /parvis de votre mairie/i);
    await checkA11y(page, "the platform landing");
    await page.getByLabel("Trouver une commune (nom ou code postal)").fill("annecy");
    await page.locator("#resultats li").first().waitFor();
    assert.match(await page.locator("#resultats").innerText(), /Annecy/);

    await page.goto(new URL("/connexion", communeUrl).href);
    await checkA11y(page, "the login page");

    await page.goto(new URL("/inscription", communeUrl).href);
    await checkA11y(page, "the sign-up form");
    const email = `citoyenne-${Date.now()}@example.org`;
    await page.getByLabel("Nom affiché").fill("Claire Citoyenne");
    await page.getByLabel("Adresse e-mail").fill(email);
    await page.getByLabel("Mot de passe").fill("une longue phrase de passe");
    await page.getByRole("button", { name: "Créer mon compte" }).click();
    await page.getByText("Vérifiez votre boîte mail").first().waitFor();
    await checkA11y(page, "the check-your-e-mail page");

    const mail = await waitForMail(mailFile, email, "Confirmez");
    const link = mail.text.split(/\s+/).find((w) => w.includes("/verification?token="));
    assert.ok(link, `no verification link in: ${mail.text}`);
    assert.ok(link.startsWith(communeUrl), `link ${link} is on the commune site ${communeUrl}`);

    await page.goto(link);
    // The link shows the address; the button confirms it and signs in (a GET never does).
    await page.getByRole("button", { name: "Confirmer mon adresse" }).click();
    await page.getByRole("button", { name: "Se déconnecter" }).waitFor();
    assert.equal(new URL(page.url()).pathname, "/");
    const h1 = await page.locator("h1").innerText();
    assert.match(h1, /Annecy/);
    await page.getByText("Claire Citoyenne", { exact: false }).first().waitFor();
    await page.getByRole("button", { name: "Se déconnecter" }).waitFor();
    await checkA11y(page, "the commune page, signed in");
  } finally {
    if (browser) await browser.close();
    for (const c of children) c.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
});
