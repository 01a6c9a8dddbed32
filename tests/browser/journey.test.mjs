// A citizen's journey in a real browser, on the demo commune: the mayor from the officials
// registry (imported with the real CLI from a file in the RNE format) claims the profile and the
// platform admin approves; a citizen signs up and confirms the e-mail, follows the mayor, is
// notified of the mayor's new post, reads it, comments, and writes to the mayor; the mayor
// answers and the citizen gets the notification; then adds a photo and chooses a daily digest.
// axe-core checks every page on the way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bin, checkA11y, launchBrowser, newPage, startDemo, startSmtpSink, waitForMail, signIn as signInAt } from "./harness.mjs";

const RNE_HEADER =
  "Code du département;Libellé du département;Code de la collectivité à statut particulier;Libellé de la collectivité à statut particulier;Code de la commune;Libellé de la commune;Nom de l’élu;Prénom de l’élu;Code sexe;Date de naissance;Code de la catégorie socio-professionnelle;Libellé de la catégorie socio-professionnelle;Date de début du mandat;Libellé de la fonction;Date de début de la fonction;Code nationalité";
// A valid 1×1 PNG.
const PIXEL_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
const MAYOR = "74;Haute-Savoie;;;74010;Annecy;EXEMPLE;Sophie;F;12/04/1975;33;Cadres de la fonction publique;15/03/2026;Maire;23/03/2026;FR";

test("a citizen signs up, follows the mayor, reads and comments a post, writes, and is notified of the answer", { timeout: 300000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "parvis-journey-"));
  const mailFile = join(dir, "mail.jsonl");
  const children = [];
  let browser;
  try {
    const smtpPort = await startSmtpSink(mailFile, children);
    const { communeUrl, env } = await startDemo(dir, smtpPort, children);
    const rne = join(dir, "elus-conseillers-municipaux-cm.csv");
    writeFileSync(rne, `\uFEFF${RNE_HEADER}\n${MAYOR}\n`);
    execFileSync(bin, ["officials", "import", "--file", rne], { cwd: dir, env });
    execFileSync(bin, ["user", "create", "--email", "sophie@example.org", "--password", "une longue phrase", "--name", "Sophie Exemple"], {
      cwd: dir,
      env,
    });

    browser = await launchBrowser();
    const at = (path) => new URL(path, communeUrl).href;
    const signIn = (page, email, password) => signInAt(page, at, email, password);

    // The mayor claims the profile from the commune page; the platform admin approves.
    const mayor = await newPage(browser);
    await signIn(mayor, "sophie@example.org", "une longue phrase");
    await mayor.goto(communeUrl);
    await mayor.locator("main").getByRole("link", { name: "Sophie EXEMPLE", exact: true }).click();
    const profileUrl = mayor.url();
    await checkA11y(mayor, "an official's profile, not yet claimed");
    await mayor.getByLabel("Votre date de naissance").fill("1975-04-12");
    await mayor.getByRole("button", { name: "Revendiquer ce profil" }).click();
    await mayor.getByText("Votre demande est envoyée").waitFor();

    const admin = await newPage(browser);
    await signIn(admin, "admin@parvis.localhost", "parvis-demo-2026");
    await admin.goto(at("/admin/revendications"));
    await checkA11y(admin, "the claims to review");
    await admin.getByRole("button", { name: /Attribuer le profil de Sophie EXEMPLE/ }).click();
    await mayor.goto(profileUrl);
    await mayor.getByText("c'est le vôtre").waitFor();

    // A citizen signs up and confirms the address.
    const citizen = await newPage(browser);
    await citizen.goto(at("/inscription"));
    const email = `habitant-${Date.now()}@example.org`;
    await citizen.getByLabel("Nom affiché").fill("Hugo Habitant");
    await citizen.getByLabel("Adresse e-mail").fill(email);
    await citizen.getByLabel("Mot de passe").fill("une autre longue phrase");
    await citizen.getByRole("button", { name: "Créer mon compte" }).click();
    const mail = await waitForMail(mailFile, email, "Confirmez");
    const link = mail.text.split(/\s+/).find((w) => w.includes("/verification?token="));
    assert.ok(link, `no verification link in: ${mail.text}`);
    await citizen.goto(link);
    await citizen.getByRole("button", { name: "Confirmer mon adresse" }).click();
    await citizen.getByRole("button", { name: "Se déconnecter" }).waitFor();

    // …follows the mayor.
    await citizen.goto(profileUrl);
    await citizen.getByRole("button", { name: "Suivre Sophie EXEMPLE" }).click();
    await citizen.getByRole("button", { name: "Ne plus suivre" }).waitFor();
    await checkA11y(citizen, "the mayor's profile, followed");

    // The mayor publishes an action.
    await mayor.goto(at("/publier"));
    await checkA11y(mayor, "the publishing form");
    await mayor.getByLabel(/^Texte/).fill("Les travaux du **pont des Amours** sont terminés : merci pour votre patience.");
    await mayor.getByLabel(/^Type/).selectOption({ label: "Action réalisée" });
    await mayor.getByRole("button", { name: "Publier" }).click();

    // The citizen is notified, reads the post, and comments.
    let notified = false;
    for (let i = 0; i < 100 && !notified; i++) {
      await citizen.goto(at("/notifications"));
      notified = (await citizen.getByRole("link", { name: /Sophie EXEMPLE a publié/ }).count()) > 0;
      if (!notified) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(notified, "the follower was notified of the new post");
    await checkA11y(citizen, "the notification centre");
    await citizen.goto(at("/fil"));
    await citizen.getByText("Pourquoi je vois ceci ? Vous suivez Sophie EXEMPLE.").waitFor();
    await checkA11y(citizen, "the feed");
    await citizen.getByRole("link", { name: /commentaire/ }).first().click();
    await citizen.locator("strong", { hasText: "pont des Amours" }).waitFor();
    await citizen.getByLabel("Votre commentaire").fill("Merci ! Le passage piéton sera-t-il repeint ?");
    await citizen.getByRole("button", { name: "Commenter" }).click();
    await citizen.getByText("Le passage piéton sera-t-il repeint ?").waitFor();
    await checkA11y(citizen, "the post page with a comment");

    // …and writes to the mayor.
    await citizen.goto(profileUrl);
    await citizen.getByRole("link", { name: "Écrire à Sophie EXEMPLE" }).click();
    await checkA11y(citizen, "the new message form");
    await citizen.getByLabel("Objet").fill("Pont des Amours");
    await citizen.getByLabel("Message", { exact: true }).fill("Bonjour, l'éclairage du pont sera-t-il rétabli ?");
    await citizen.getByRole("button", { name: "Envoyer" }).click();
    await citizen.getByText("l'éclairage du pont sera-t-il rétabli").waitFor();

    // The mayor answers from the inbox.
    await mayor.goto(at("/messages"));
    await mayor.getByRole("link", { name: /Pont des Amours/ }).first().click();
    await checkA11y(mayor, "the thread, on the mayor's side");
    await mayor.getByLabel("Votre réponse").fill("Oui, dès la semaine prochaine.");
    await mayor.getByRole("button", { name: "Envoyer" }).click();
    await mayor.getByText("dès la semaine prochaine").waitFor();

    // The citizen receives the notification of the answer and reads it.
    notified = false;
    for (let i = 0; i < 100 && !notified; i++) {
      await citizen.goto(at("/notifications"));
      notified = (await citizen.getByRole("link", { name: /Nouveau message de Sophie/i }).count()) > 0;
      if (!notified) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(notified, "the citizen was notified of the mayor's answer");
    await citizen.getByRole("link", { name: "Messages 1 non lu" }).waitFor();
    await citizen.getByRole("link", { name: /Nouveau message de Sophie/i }).first().click();
    await citizen.getByText("Oui, dès la semaine prochaine.").waitFor();
    await checkA11y(citizen, "the thread with the answer");
    assert.equal(await citizen.getByRole("link", { name: /Messages \d+ non lus?$/ }).count(), 0, "the answer is read");

    // The citizen adds a photo (resized by the server) and chooses a daily digest.
    await citizen.goto(at("/mon-compte/profil"));
    await checkA11y(citizen, "the profile settings");
    await citizen.setInputFiles("#avatar", { name: "moi.png", mimeType: "image/png", buffer: Buffer.from(PIXEL_PNG, "base64") });
    await citizen.getByRole("button", { name: "Envoyer la photo" }).click();
    const photo = citizen.getByAltText("Votre photo de profil actuelle");
    await photo.waitFor();
    await photo.evaluate((img) => img.decode());
    assert.equal(await photo.evaluate((img) => img.naturalWidth), 256, "the avatar is resized to 256 px");
    await citizen.goto(at("/notifications/preferences"));
    await checkA11y(citizen, "the notification preferences");
    await citizen.getByLabel(/Un résumé par jour/).check();
    await citizen.getByRole("button", { name: "Enregistrer" }).click();
    await citizen.goto(at("/notifications/preferences"));
    assert.ok(await citizen.getByLabel(/Un résumé par jour/).isChecked(), "the daily digest is saved");
  } finally {
    if (browser) await browser.close();
    for (const c of children) c.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
});
