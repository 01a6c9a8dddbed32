// Shared by the browser tests: a real SMTP sink process, the real `parvis` binary on a free
// port, headless Chromium with the flags this machine needs, and axe-core checks.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { readFileSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import net from "node:net";
import { chromium } from "playwright-core";

export const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, "..", "..");
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
export const bin = process.env.PARVIS_BIN || join(root, "target", "debug", "parvis");
export const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

export function freePort() {
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
export function waitForLine(child, re, ms, what) {
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

export async function waitForMail(file, to, subject, ms = 30000) {
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

/** A page in a fresh browser context that records what its Content-Security-Policy blocked. */
export async function newPage(browser) {
  const page = await (await browser.newContext()).newPage();
  page.cspViolations = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" && msg.text().includes("Content Security Policy")) {
      page.cspViolations.push(`${page.url()}: ${msg.text()}`);
    }
  });
  return page;
}

/** axe-core finds no violation on the page, and the page's CSP blocked nothing so far. */
export async function checkA11y(page, label) {
  // Pages forbid inline scripts: axe is evaluated through the DevTools protocol, which the
  // Content-Security-Policy does not govern (a <script> tag would be refused).
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } }),
  );
  const problems = result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(" ")).join("\n    ")}`,
  );
  assert.deepEqual(problems, [], `axe-core violations on ${label}:\n${problems.join("\n")}`);
  assert.deepEqual(page.cspViolations ?? [], [], `Content-Security-Policy violations up to ${label}`);
}


/** Starts the SMTP sink writing to `mailFile`; returns its port. */
export async function startSmtpSink(mailFile, children) {
  const sink = spawn(python, [join(root, "tests", "smtp_sink.py"), "--port", "0", "--out", mailFile], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(sink);
  const [, smtpPort] = await waitForLine(sink, /^LISTENING (\d+)/, 20000, "smtp sink");
  return smtpPort;
}

/** Runs `parvis serve --demo` in `dir`; resolves with { communeUrl, port, env }. */
export async function startDemo(dir, smtpPort, children, extraEnv = {}) {
  const port = await freePort();
  const env = {
    ...process.env,
    DATABASE_URL: `sqlite://${join(dir, "parvis.db")}`,
    PARVIS_BIND: `127.0.0.1:${port}`,
    PARVIS_BASE_DOMAIN: "parvis.localhost",
    SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    RUST_LOG: "warn",
    ...extraEnv,
  };
  const server = spawn(bin, ["serve", "--demo"], { cwd: dir, env, stdio: ["ignore", "pipe", "inherit"] });
  children.push(server);
  const [, communeUrl] = await waitForLine(server, /(http:\/\/[a-z0-9-]+\.parvis\.localhost:\d+\/)/, 180000, "parvis serve --demo");
  return { communeUrl, port, env };
}

/** Headless Chromium, resolving *.parvis.localhost to loopback, without background networking. */
export function launchBrowser() {
  return chromium.launch({
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
}
