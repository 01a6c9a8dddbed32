// A citizen signs up on a commune's site, confirms the e-mail from a real SMTP server's
// mailbox, and lands on the commune page signed in; axe-core checks every page visited.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdtempSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import net from "node:net";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");
const bin = process.env.PARVIS_BIN || join(root, "target", "debug", "parvis");
const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/** Resolves with the first stdout line matching `re` (its match), or rejects after `ms`. */
function waitForLine(child, re, ms, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: nothing matching ${re} after ${ms} ms`)), ms);
    const rl = createInterface({ input: child.stdout });
    rl.on("line", (line) => {
      const m = line.match(re);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}`));
    });
  });
}

async function waitForMail(file, to, subject, ms = 30000) {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (existsSync(file)) {
      const mails = readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
      const mail = mails.find((m) => m.rcpt_tos.includes(to) && m.subject.includes(subject));
      if (mail) return mail;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no mail to ${to} (${subject}) after ${ms} ms`);
}

async function checkA11y(page, label) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } }),
  );
  const problems = result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(" ")).join("\n    ")}`,
  );
  assert.deepEqual(problems, [], `axe-core violations on ${label}:\n${problems.join("\n")}`);
}

test("a citizen signs up, confirms the e-mail and lands on the commune page", { timeout: 240000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "parvis-browser-"));
  const mailFile = join(dir, "mail.jsonl");
  const children = [];
  let browser;
  try {
    const sink = spawn(python, [join(root, "tests", "smtp_sink.py"), "--port", "0", "--out", mailFile], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(sink);
    const [, smtpPort] = await waitForLine(sink, /^LISTENING (\d+)/, 20000, "smtp sink");

    const port = await freePort();
    const server = spawn(bin, ["serve", "--demo"], {
      cwd: dir,
      env: {
        ...process.env,
        DATABASE_URL: `sqlite://${join(dir, "parvis.db")}`,
        PARVIS_BIND: `127.0.0.1:${port}`,
        PARVIS_BASE_DOMAIN: "parvis.localhost",
        SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
        RUST_LOG: "warn",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(server);
    const [, communeUrl] = await waitForLine(server, /(http:\/\/[a-z0-9-]+\.parvis\.localhost:\d+\/)/, 180000, "parvis serve --demo");
    const apexUrl = `http://parvis.localhost:${port}/`;

    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP *.parvis.localhost 127.0.0.1, MAP parvis.localhost 127.0.0.1",
      ],
    });
    const page = await browser.newPage();

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
