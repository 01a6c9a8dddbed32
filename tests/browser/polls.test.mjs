// The polls module in a real browser: the demo commune's admin switches the module off and on
// again, creates a poll; a citizen votes and sees the results. axe-core checks every page.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bin, checkA11y, launchBrowser, newPage, root, startDemo, startSmtpSink, signIn as signInAt } from "./harness.mjs";

test("an admin enables polls and creates a poll; a citizen votes and sees the results", { timeout: 240000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "parvis-polls-"));
  const mailFile = join(dir, "mail.jsonl");
  const children = [];
  let browser;
  try {
    const smtpPort = await startSmtpSink(mailFile, children);

    const { communeUrl, env } = await startDemo(dir, smtpPort, children, {
      PARVIS_DEMO_MODULES: join(root, "target", "wasm32-wasip2", "module"),
    });
    execFileSync(bin, ["user", "create", "--email", "lucie@example.org", "--password", "une longue phrase", "--name", "Lucie Habitante"], {
      cwd: dir,
      env,
    });

    browser = await launchBrowser();
    const at = (path) => new URL(path, communeUrl).href;
    const signIn = (page, email, password) => signInAt(page, at, email, password);

    // The admin switches polls off, then on again, from the back-office.
    // axe-core is injected as an inline script, which module pages' CSP forbids (on purpose).
    const admin = await newPage(browser);
    await signIn(admin, "admin@parvis.localhost", "parvis-demo-2026");
    await admin.goto(at("/admin/modules"));
    await checkA11y(admin, "the modules page");
    // Each switch is checked where citizens meet it: off, the polls page is the « not
    // offered » page; on again, it is served.
    const visitor = await newPage(browser);
    const pollsPage = async () => {
      const response = await visitor.goto(at("/m/polls/"));
      return { status: response.status(), text: await visitor.locator("body").innerText() };
    };
    assert.equal((await pollsPage()).status, 200, "polls are on in the demo");
    await admin.getByRole("button", { name: "Désactiver Sondages" }).click();
    // Switching a service off asks first, and says the data stay.
    await admin.getByRole("heading", { name: "Désactiver « Sondages » ?" }).waitFor();
    await checkA11y(admin, "confirming a module switched off");
    assert.equal((await pollsPage()).status, 200, "not switched off before the confirmation");
    await admin.getByRole("button", { name: "Oui, désactiver Sondages" }).click();
    await admin.getByRole("button", { name: "Activer Sondages" }).waitFor();
    const off = await pollsPage();
    assert.equal(off.status, 404, off.text);
    assert.match(off.text, /Le service «\sSondages\s» n'est pas proposé par cette commune\./);
    await admin.getByRole("button", { name: "Activer Sondages" }).click();
    await admin.getByRole("button", { name: "Désactiver Sondages" }).waitFor();
    const on = await pollsPage();
    assert.equal(on.status, 200, on.text);
    assert.match(on.text, /Sondages/);

    // The billing page (no Stripe key in the demo: it says so) is accessible too.
    await admin.goto(at("/admin/billing"));
    await admin.getByRole("heading", { name: /^Facturation (de |d'|du |des )/ }).waitFor();
    assert.match(await admin.locator("main").innerText(), /n'est pas configuré sur cette plateforme/);
    await checkA11y(admin, "the billing page");

    // …and creates a poll.
    await admin.goto(at("/admin/m/polls/new"));
    await checkA11y(admin, "the new poll form");
    await admin.getByLabel(/^Question/).fill("Quel nom pour la nouvelle médiathèque ?");
    await admin.getByLabel(/^Réponses proposées/).fill("Simone Veil\nGisèle Halimi\nLucie Aubrac");
    await admin.getByLabel(/^Clôture/).fill("2099-06-30T18:00");
    await admin.getByRole("button", { name: "Créer le sondage" }).click();
    await admin.getByRole("heading", { name: "Quel nom pour la nouvelle médiathèque ?" }).waitFor();
    await checkA11y(admin, "the poll's admin page");

    // A citizen finds it, votes, and sees the results.
    const citizen = await newPage(browser);
    await signIn(citizen, "lucie@example.org", "une longue phrase");
    await citizen.goto(at("/m/polls/"));
    await checkA11y(citizen, "the polls list");
    await citizen.getByRole("link", { name: "Quel nom pour la nouvelle médiathèque ?" }).click();
    await checkA11y(citizen, "the poll page");
    // A choice is a small box beside its label, not a field across the page (issue 17).
    const choice = await citizen.getByLabel("Lucie Aubrac").boundingBox();
    const label = await citizen.locator("label", { hasText: "Lucie Aubrac" }).boundingBox();
    assert.ok(choice.width < 30, `radio ${choice.width}px wide`);
    assert.ok(label.x > choice.x && label.x - (choice.x + choice.width) < 20, "label beside its radio");
    assert.ok(Math.abs(label.y + label.height / 2 - (choice.y + choice.height / 2)) < 12, "on the same line");
    await citizen.getByLabel("Lucie Aubrac").check();
    await citizen.getByRole("button", { name: "Voter" }).click();
    await citizen.getByText("Votre vote a été enregistré").waitFor();
    const results = await citizen.locator("#results-title").locator("xpath=..").innerText();
    assert.match(results, /1 votant/);
    assert.match(results, /Lucie Aubrac\s: 1 voix \(100,0 %\)/);
    assert.match(results, /Simone Veil\s: 0 voix/);
    await checkA11y(citizen, "the poll page after voting");
    // Voting twice is refused: back on the poll, it says so, shows the results, offers no ballot.
    await citizen.goto(citizen.url());
    await citizen.getByText("Vous avez voté à ce sondage.").waitFor();
    assert.match(await citizen.locator("#results-title").locator("xpath=..").innerText(), /1 votant/);
    assert.equal(await citizen.getByRole("button", { name: "Voter" }).count(), 0);

    // The citizen writes to the town hall; the admin reads it in the inbox.
    await citizen.goto(at("/messages/nouveau"));
    await checkA11y(citizen, "the new message form");
    await citizen.getByLabel("Objet").fill("Horaires de la médiathèque");
    await citizen.getByLabel("Message", { exact: true }).fill("Bonjour, la médiathèque ouvrira-t-elle le dimanche ?");
    await citizen.getByRole("button", { name: "Envoyer" }).click();
    await citizen.getByText("la médiathèque ouvrira-t-elle le dimanche").waitFor();
    await checkA11y(citizen, "the message thread");
    await admin.goto(at("/messages"));
    await admin.getByText("Horaires de la médiathèque").waitFor();
    await checkA11y(admin, "the town hall's inbox");
  } finally {
    if (browser) await browser.close();
    for (const c of children) c.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
});
