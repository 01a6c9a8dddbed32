// Issue 17: what four pages of the demo commune cost a phone on a slow network, measured as
// Lighthouse's mobile profile does (« Slow 4G » and a 4× slower CPU, applied through the
// DevTools protocol), against a budget; exits 1, naming what is over, when a page is over it.
//
//   cd tests/browser && node ../../bench/page-budget.mjs        (RUNS=5 by default)
//
// It starts `parvis serve --demo` like the browser tests (PARVIS_BIN, else target/debug/parvis;
// the demo's modules from target/wasm32-wasip2/module), loads each page RUNS times, each in a
// fresh browser context (a cold cache, new connections), and prints the median of each figure.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchBrowser, root, startDemo, startSmtpSink } from "../tests/browser/harness.mjs";

/** Lighthouse's « good » thresholds, and a weight a phone on Slow 4G fetches in under a second. */
const BUDGET = {
  transferredKB: 150, // kilobytes (1,000 bytes) on the wire, headers included
  fcpMs: 1800, // first contentful paint
  lcpMs: 2500, // largest contentful paint
  cls: 0.1, // cumulative layout shift
  tbtMs: 200, // total blocking time
};
const RUNS = Number(process.env.RUNS || 5);
// A phone: its screen, and Lighthouse's mobile user agent.
const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
  userAgent:
    "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36",
  locale: "fr-FR",
};
// Lighthouse's « Slow 4G »: 150 ms round trip, 1.6 Mbit/s down, 750 kbit/s up (bytes per second).
const NETWORK = {
  offline: false,
  latency: 150,
  downloadThroughput: (1.6 * 1024 * 1024) / 8,
  uploadThroughput: (750 * 1024) / 8,
};
const CPU_SLOWDOWN = 4;
const PAGES = [
  { name: "commune home, visitor", path: "/", signedIn: false },
  { name: "commune home, signed in", path: "/", signedIn: true },
  { name: "/fil, signed in", path: "/fil", signedIn: true },
  { name: "polls module, visitor", path: "/m/polls/", signedIn: false },
];
const ACCOUNT = "habitant-1@parvis.localhost";

// Registered before any of the page's own scripts (through the DevTools protocol, so the
// page's Content-Security-Policy does not apply): records layout shifts and long tasks.
function observe() {
  window.__budget = { shifts: [], longTasks: [], lcp: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (!e.hadRecentInput) window.__budget.shifts.push([e.startTime, e.value]);
  }).observe({ type: "layout-shift", buffered: true });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__budget.longTasks.push([e.startTime, e.duration]);
  }).observe({ type: "longtask", buffered: true });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__budget.lcp = e.startTime;
  }).observe({ type: "largest-contentful-paint", buffered: true });
}

/** One cold load of `url` in a fresh context (with `storageState`, the session cookie). */
async function measure(browser, url, storageState) {
  const context = await browser.newContext({ ...PHONE, storageState });
  const page = await context.newPage();
  await page.addInitScript(observe);
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: false });
  await cdp.send("Network.clearBrowserCache");
  await cdp.send("Network.emulateNetworkConditions", NETWORK);
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: CPU_SLOWDOWN });
  const requests = new Map();
  cdp.on("Network.requestWillBeSent", (e) => requests.set(e.requestId, { encoded: 0, decoded: 0, failed: false }));
  cdp.on("Network.dataReceived", (e) => {
    const r = requests.get(e.requestId);
    if (r) r.decoded += e.dataLength;
  });
  cdp.on("Network.loadingFinished", (e) => {
    const r = requests.get(e.requestId);
    if (r) r.encoded = e.encodedDataLength;
  });
  cdp.on("Network.loadingFailed", (e) => {
    const r = requests.get(e.requestId);
    if (r) r.failed = true;
  });
  const response = await page.goto(url, { waitUntil: "load", timeout: 60000 });
  if (!response.ok()) throw new Error(`${url}: ${response.status()}`);
  // Quiet for a while after the load event: late paints, shifts and tasks are counted.
  await page.waitForLoadState("networkidle");
  await page.waitForTimeout(1000);
  const figures = await page.evaluate(() => {
    const { shifts, longTasks, lcp } = window.__budget;
    const fcp = performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? NaN;
    // Lighthouse's CLS: the worst session window (shifts less than 1 s apart, 5 s at most).
    let cls = 0;
    let session = 0;
    let first = -Infinity;
    let last = -Infinity;
    for (const [t, v] of shifts) {
      if (t - last > 1000 || t - first > 5000) {
        session = 0;
        first = t;
      }
      session += v;
      last = t;
      cls = Math.max(cls, session);
    }
    // Lighthouse's TBT: what each task after the first paint ran past 50 ms.
    const tbt = longTasks.filter(([t]) => t >= fcp).reduce((sum, [, d]) => sum + Math.max(0, d - 50), 0);
    return { fcp, lcp, cls, tbt };
  });
  const done = [...requests.values()].filter((r) => !r.failed);
  await context.close();
  return {
    requests: done.length,
    transferredKB: done.reduce((s, r) => s + r.encoded, 0) / 1000,
    decodedKB: done.reduce((s, r) => s + r.decoded, 0) / 1000,
    fcpMs: figures.fcp,
    lcpMs: figures.lcp,
    cls: figures.cls,
    tbtMs: figures.tbt,
  };
}

/** The session cookie of the demo's citizen, signed in once without throttling. */
async function signIn(browser, communeUrl) {
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  await page.goto(new URL("/connexion", communeUrl).href);
  await page.getByLabel("Adresse e-mail").fill(ACCOUNT);
  await page.getByLabel("Mot de passe").fill("parvis-demo-2026");
  await page.getByRole("button", { name: "Se connecter" }).click();
  await page.getByRole("button", { name: "Se déconnecter" }).waitFor();
  const state = await context.storageState();
  await context.close();
  return state;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const COLUMNS = [
  ["requests", "requests", (v) => String(v)],
  ["transferredKB", "transferred", (v) => `${v.toFixed(1)} KB`],
  ["decodedKB", "decoded", (v) => `${v.toFixed(1)} KB`],
  ["fcpMs", "FCP", (v) => `${Math.round(v)} ms`],
  ["lcpMs", "LCP", (v) => `${Math.round(v)} ms`],
  ["cls", "CLS", (v) => v.toFixed(3)],
  ["tbtMs", "TBT", (v) => `${Math.round(v)} ms`],
];

function table(rows) {
  const head = ["page", ...COLUMNS.map(([, title]) => title)];
  const body = rows.map(({ name, m }) => [name, ...COLUMNS.map(([key, , fmt]) => fmt(m[key]))]);
  const widths = head.map((_, i) => Math.max(...[head, ...body].map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ");
  return [line(head), ...body.map(line)].join("\n");
}

const dir = mkdtempSync(join(tmpdir(), "parvis-budget-"));
const children = [];
let browser;
let status = 0;
try {
  const smtpPort = await startSmtpSink(join(dir, "mail.jsonl"), children);
  const { communeUrl } = await startDemo(dir, smtpPort, children, {
    PARVIS_DEMO_MODULES: join(root, "target", "wasm32-wasip2", "module"),
  });
  browser = await launchBrowser();
  const session = await signIn(browser, communeUrl);
  // One warm-up load, unmeasured: the server's first answers (templates, module instances).
  for (const p of PAGES) await measure(browser, new URL(p.path, communeUrl).href, p.signedIn ? session : undefined);
  const rows = [];
  for (const p of PAGES) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      runs.push(await measure(browser, new URL(p.path, communeUrl).href, p.signedIn ? session : undefined));
    }
    const m = Object.fromEntries(COLUMNS.map(([key]) => [key, median(runs.map((r) => r[key]))]));
    rows.push({ name: p.name, m });
  }
  console.log(
    `Phone 390×844 @3x, Slow 4G (${NETWORK.latency} ms RTT, 1.6 Mbit/s down, 750 kbit/s up), CPU ÷${CPU_SLOWDOWN}, ` +
      `cold cache; median of ${RUNS} loads\n`,
  );
  console.log(table(rows));
  const over = [];
  for (const { name, m } of rows) {
    for (const [key, limit] of Object.entries(BUDGET)) {
      if (!(m[key] <= limit)) {
        const [, title, fmt] = COLUMNS.find(([k]) => k === key);
        over.push(`${name}: ${title} ${fmt(m[key])} > ${fmt(limit)}`);
      }
    }
  }
  const budget = `budget: ≤ ${BUDGET.transferredKB} KB transferred, FCP ≤ ${BUDGET.fcpMs} ms, LCP ≤ ${BUDGET.lcpMs} ms, CLS ≤ ${BUDGET.cls}, TBT ≤ ${BUDGET.tbtMs} ms`;
  if (over.length) {
    console.log(`\nOver budget (${budget}):\n  ${over.join("\n  ")}`);
    status = 1;
  } else {
    console.log(`\nWithin budget (${budget}).`);
  }
} catch (e) {
  console.error(e);
  status = 2;
} finally {
  if (browser) await browser.close();
  for (const c of children) c.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
process.exit(status);
