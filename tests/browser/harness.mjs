// Shared by the browser tests: a real SMTP sink process, the real `parvis` binary, headless
// Chromium with the flags this machine needs, and axe-core checks.
//
// No port is chosen free and bound later (another process could take it in between): the sink
// binds port 0 and prints the port it got; `parvis serve` binds port 0 and prints its address;
// and the port the browser and the links use is a listener this process binds (port 0) before
// starting Parvis, keeps, and relays to Parvis's port byte for byte.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { readFileSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import net from "node:net";
import http from "node:http";
import { chromium } from "playwright-core";
import { PNG } from "pngjs";

export const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, "..", "..");
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
export const bin = process.env.PARVIS_BIN || join(root, "target", "debug", "parvis");
export const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

/** Resolves with the first stdout line matching `re` (its match), or rejects after `ms`. */
export function waitForLine(child, re, ms, what) {
  return waitForLines(child, [re], ms, what).then(([m]) => m);
}

/** Resolves with the first stdout line matching each of `res` (their matches, in that order),
 * read by one reader of the child's output, or rejects after `ms`. */
export function waitForLines(child, res, ms, what) {
  return new Promise((resolve, reject) => {
    const found = res.map(() => null);
    const timer = setTimeout(
      () => reject(new Error(`${what}: nothing matching ${res.filter((_, i) => !found[i]).join(", ")} after ${ms} ms`)),
      ms,
    );
    const rl = createInterface({ input: child.stdout });
    rl.on("line", (line) => {
      res.forEach((re, i) => {
        const m = found[i] ? null : line.match(re);
        if (m) found[i] = m;
      });
      if (found.every(Boolean)) {
        clearTimeout(timer);
        resolve(found);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}`));
    });
  });
}

/** A listener on a port the kernel picks, kept by this process, whose connections go to the
 * port `target` resolves with (connections made before are held until then). Its `kill()`
 * closes it and every connection, like a child's. */
async function relay(target) {
  const sockets = new Set();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    target.then(
      (port) => {
        const upstream = net.connect(port, "127.0.0.1");
        sockets.add(upstream);
        upstream.on("close", () => {
          sockets.delete(upstream);
          client.destroy();
        });
        upstream.on("error", () => client.destroy());
        client.on("close", () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
      },
      () => client.destroy(),
    );
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return {
    port: server.address().port,
    kill() {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

/** The messages in the sink's file: whole lines only (the last one may still be written). */
export function readMails(file) {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, "utf8");
  return text
    .slice(0, text.lastIndexOf("\n") + 1)
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

export async function waitForMail(file, to, subject, ms = 30000) {
  const started = Date.now();
  while (Date.now() - started < ms) {
    const mail = readMails(file).find((m) => m.rcpt_tos.includes(to) && m.subject.includes(subject));
    if (mail) return mail;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no mail to ${to} (${subject}) after ${ms} ms`);
}

/** A page in a fresh browser context (with `options`: viewport, colorScheme…) that records
 * what its Content-Security-Policy blocked. */
export async function newPage(browser, options = {}) {
  const page = await (await browser.newContext(options)).newPage();
  page.cspViolations = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" && msg.text().includes("Content Security Policy")) {
      page.cspViolations.push(`${page.url()}: ${msg.text()}`);
    }
  });
  return page;
}

/** Signs `page` in with the e-mail sign-in form of the site `at` resolves paths against. */
export async function signIn(page, at, email, password) {
  await page.goto(at("/connexion"));
  await page.getByLabel("Adresse e-mail").fill(email);
  await page.getByLabel("Mot de passe").fill(password);
  await page.getByRole("button", { name: "Se connecter" }).click();
  await page.getByRole("button", { name: "Se déconnecter" }).waitFor();
}

/** axe-core finds no violation on the page, and the page's CSP blocked nothing so far. */
export async function checkA11y(page, label) {
  // Pages forbid inline scripts: axe is evaluated through the DevTools protocol, which the
  // Content-Security-Policy does not govern (a <script> tag would be refused).
  // Once per document: a page checked at several widths keeps it.
  if (!(await page.evaluate(() => typeof window.axe === "object"))) await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
      // Only violations are read: axe then details nothing else (its documented speed-up).
      resultTypes: ["violations"],
    }),
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

/** A map tile server on loopback (`PARVIS_MAP_TILES` of the demo): every tile is the same
 * 256-pixel PNG, a pale ground with a darker edge, so a map shows its grid; `requests` lists
 * the paths asked. No test reaches the real tile service. */
export async function startTileServer(children) {
  const png = new PNG({ width: 256, height: 256 });
  for (let y = 0; y < 256; y++) {
    for (let x = 0; x < 256; x++) {
      const i = (y * 256 + x) * 4;
      const edge = x === 0 || y === 0;
      png.data[i] = edge ? 200 : 242;
      png.data[i + 1] = edge ? 196 : 239;
      png.data[i + 2] = edge ? 186 : 233;
      png.data[i + 3] = 255;
    }
  }
  const tile = PNG.sync.write(png);
  const requests = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url);
    if (!/^\/tuiles\/\d+\/\d+\/\d+\.png$/.test(req.url)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "image/png", "cache-control": "max-age=3600" }).end(tile);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  children.push({ kill: () => server.close() });
  const url = `http://127.0.0.1:${server.address().port}/tuiles/{z}/{x}/{y}.png`;
  return { url, requests };
}

/** Runs `parvis serve --demo` in `dir`; resolves with { communeUrl, port, env }: `port` is
 * the public port (links and the browser use it), relayed to the port Parvis bound. */
export async function startDemo(dir, smtpPort, children, extraEnv = {}) {
  const tiles = await startTileServer(children);
  let bound;
  const parvisPort = new Promise((resolve, reject) => (bound = { resolve, reject }));
  // Connections wait on it; when none came, its failure is the one startDemo throws.
  parvisPort.catch(() => {});
  const front = await relay(parvisPort);
  children.push(front);
  const port = front.port;
  const env = {
    ...process.env,
    DATABASE_URL: `sqlite://${join(dir, "parvis.db")}`,
    PARVIS_BIND: "127.0.0.1:0",
    PARVIS_PUBLIC_PORT: String(port),
    PARVIS_BASE_DOMAIN: "parvis.localhost",
    SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    PARVIS_MAP_TILES: tiles.url,
    PARVIS_MAP_ATTRIBUTION: "Tuiles d'essai",
    // One cache of compiled modules for every demo of the run, as the Rust tests share one:
    // each demo would otherwise compile the same components again (entries are keyed by the
    // component's hash and the engine's, and written by rename).
    PARVIS_MODULE_CACHE: join(root, "target", "parvis-browser-module-cache"),
    RUST_LOG: "warn",
    ...extraEnv,
  };
  const server = spawn(bin, ["serve", "--demo"], { cwd: dir, env, stdio: ["ignore", "pipe", "inherit"] });
  children.push(server);
  try {
    const [[, listening], [, communeUrl]] = await waitForLines(
      server,
      [/^Parvis écoute sur 127\.0\.0\.1:(\d+)\.$/, /(http:\/\/[a-z0-9-]+\.parvis\.localhost:\d+\/)/],
      180000,
      "parvis serve --demo",
    );
    bound.resolve(Number(listening));
    assert.equal(new URL(communeUrl).port, String(port), `the commune's links use the public port ${port}`);
    return { communeUrl, port, env, tiles };
  } catch (e) {
    bound.reject(e);
    throw e;
  }
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
      "--host-resolver-rules=MAP *.parvis.localhost 127.0.0.1, MAP parvis.localhost 127.0.0.1, MAP mairie-annecy.test 127.0.0.1",
    ],
  });
}

/** A loopback port free now (a child binds it a moment later). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** FranceConnect as the demo on `publicPort` sees it: the settings for its environment, and
 * `start()`, which runs the real OpenID Connect provider of tests/oidc (configured as
 * FranceConnect) on `fcPort` once the demo's port is known. */
export function franceConnect(fcPort, children) {
  const clientId = "parvis-navigateur";
  const secret = "un-secret-de-test-assez-long-pour-franceconnect";
  const issuer = `http://127.0.0.1:${fcPort}/api/v2`;
  return {
    env: {
      PARVIS_FRANCECONNECT_URL: issuer,
      PARVIS_FRANCECONNECT_CLIENT_ID: clientId,
      PARVIS_FRANCECONNECT_CLIENT_SECRET: secret,
    },
    async start(publicPort) {
      const origin = `http://parvis.localhost:${publicPort}`;
      const provider = spawn("node", [join(root, "tests", "oidc", "provider.mjs")], {
        env: {
          ...process.env,
          FC_PORT: String(fcPort),
          FC_CLIENT_ID: clientId,
          FC_CLIENT_SECRET: secret,
          FC_REDIRECT_URIS: `${origin}/franceconnect/retour`,
          FC_POST_LOGOUT_REDIRECT_URIS: `${origin}/franceconnect/sortie`,
        },
        stdio: ["ignore", "pipe", "inherit"],
      });
      children.push(provider);
      const [, started] = await waitForLine(provider, /^\{"issuer":"([^"]+)"\}$/, 30000, "tests/oidc/provider.mjs");
      assert.equal(started, issuer);
      return issuer;
    },
  };
}
