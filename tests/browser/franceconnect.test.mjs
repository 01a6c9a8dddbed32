// Issue 20: « S'identifier avec FranceConnect » in a real browser, against a real OpenID
// Connect provider configured as FranceConnect (tests/oidc). A citizen on a phone opens Annecy's
// sign-in page, takes FranceConnect's button, signs in at the provider and comes back signed
// in, with an account made from the identity; their account page shows the identity linked
// but not the birth date; signing out ends FranceConnect's session too and says so. The sign-in
// page with the button is checked at 1280 px too. axe-core checks each page of Parvis.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkA11y, franceConnect, freePort, launchBrowser, newPage, startDemo, startSmtpSink } from "./harness.mjs";

test("a citizen signs in with FranceConnect and signs out of it", { timeout: 300000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "parvis-fc-"));
  const children = [];
  let browser;
  try {
    const smtpPort = await startSmtpSink(join(dir, "mail.jsonl"), children);
    const fc = franceConnect(await freePort(), children);
    const { communeUrl, port } = await startDemo(dir, smtpPort, children, fc.env);
    await fc.start(port);
    browser = await launchBrowser();
    const annecy = (path) => new URL(path, communeUrl).href;

    const desktop = await newPage(browser, { viewport: { width: 1280, height: 900 }, reducedMotion: "reduce" });
    await desktop.goto(annecy("/connexion"));
    await desktop.getByRole("link", { name: "S'identifier avec FranceConnect" }).waitFor();
    await checkA11y(desktop, "the sign-in page with FranceConnect's button, at 1280 px");
    await desktop.close();

    const page = await newPage(browser, { viewport: { width: 390, height: 900 }, reducedMotion: "reduce" });
    await page.goto(annecy("/connexion?next=/services"));
    const button = page.getByRole("link", { name: "S'identifier avec FranceConnect" });
    assert.ok(await page.getByRole("link", { name: /Qu'est-ce que FranceConnect/ }).isVisible());
    await checkA11y(page, "the sign-in page with FranceConnect's button, at 390 px");
    const box = await button.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 390, "the button fits the phone's width");
    await button.click();

    // At the provider (FranceConnect's identity provider, in production).
    await page.getByLabel("Identifiant").fill("marie");
    await page.getByRole("button", { name: "Se connecter" }).click();

    // Back on Annecy, on the page the citizen came from, signed in.
    await page.getByRole("button", { name: "Se déconnecter" }).waitFor();
    assert.equal(new URL(page.url()).host, new URL(communeUrl).host);
    assert.equal(new URL(page.url()).pathname, "/services");
    assert.ok(await page.getByText("Marie Dupont").first().isVisible(), "the account made from the identity");

    await page.goto(annecy("/mon-compte"));
    await page.getByRole("heading", { name: "FranceConnect" }).waitFor();
    const content = await page.content();
    assert.match(content, /Marie Jeanne DUPONT/);
    assert.doesNotMatch(content, /1962/, "the birth date is shown to no one");
    await page.getByLabel("Confirmez en recopiant votre adresse e-mail").waitFor();
    await checkA11y(page, "the account page linked to FranceConnect, at 390 px");

    // Signing out ends FranceConnect's session too, and comes back to say so.
    await page.getByRole("button", { name: "Se déconnecter" }).click();
    await page.getByRole("heading", { name: "Vous êtes déconnecté" }).waitFor();
    assert.match(await page.content(), /déconnecté de Parvis et de FranceConnect/);
    await checkA11y(page, "signed out of Parvis and FranceConnect, at 390 px");
    // FranceConnect asks who it is again.
    await page.goto(annecy("/connexion"));
    await page.getByRole("link", { name: "S'identifier avec FranceConnect" }).click();
    await page.getByLabel("Identifiant").waitFor();
  } finally {
    await browser?.close();
    for (const child of children) child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
