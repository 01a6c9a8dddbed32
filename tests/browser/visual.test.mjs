// Issue 17, « Checks that keep it true »: every core and module page of the demo commune, for a
// visitor, a citizen and the commune's admin, at 320, 390, 768 and 1280 px, is checked for
//  - no page wider than its screen (document scrollWidth ≤ viewport width), naming the culprits;
//  - no checkbox or radio button detached from its label (the label's text starts within
//    24 px of the control and shares a line with it: a control drawn full width, its label far
//    below, is the bug this catches);
//  - axe-core's rules (and the Content-Security-Policy blocking nothing), at every width;
//  - a screenshot matching its reference, tests/browser/reference/<role>-<page>-<width>.png:
//    the top of the page (at most CAP px tall), what changes with the time or the run (dates,
//    the admin's weekly chart…) masked, kept at half size in few colours (see `reduce`), and
//    compared with pixelmatch;
//  - French typography's no-break spaces: no ordinary space before « : ; ? ! » or inside « »
//    in the page's text and in the attributes people read (alt, title, aria-label,
//    placeholder), whoever wrote it (a template, the host, a module).
//
// After a wanted change of the look, write the references again (the directory is emptied first)
// and review them in git's diff before committing them:
//   cd tests/browser && PARVIS_UPDATE_SCREENSHOTS=1 PARVIS_BIN=$PWD/../../target/debug/parvis node --test visual.test.mjs
// The references are this machine's rendering (Debian's Chromium and fonts); another machine
// may need its own.
// A mismatch leaves the screenshot taken and its difference in tests/browser/screenshots-failed/
// (ignored by git): <name>-actual.png, and <name>-diff.png (at half size, as compared: differing
// pixels in red).
//
// The pages are walked once (each page loaded once per role, then resized to each width) and
// the checks report everything they found, each as its own test.
import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pixelmatch from "pixelmatch";
import { PNG } from "pngjs";
import { checkA11y, here, launchBrowser, newPage, root, startDemo, startSmtpSink } from "./harness.mjs";

const WIDTHS = [320, 390, 768, 1280];
const HEIGHT = 844;
/** Screenshots show the page's top, at most this tall (CSS px): a screen and a bit. */
const CAP = 1000;
/** Pixels further apart than this (pixelmatch's colour distance, 0–1) differ… */
const PIXEL_THRESHOLD = 0.1;
/** …and a screenshot may differ from its reference on at most this share of its pixels. On this
 * machine the demo, started again, gives the same pixels (0 differ, three runs); moving a title
 * 4 px down makes 3.7 % to 23 % differ, main's padding 3 px wider 0.7 % to 22 %. */
const MAX_DIFF_RATIO = 0.001;
/** How far (px) a label's text may start from its checkbox or radio button. */
const LABEL_GAP = 24;
const REFERENCE = join(here, "reference");
const FAILED = join(here, "screenshots-failed");
const UPDATE = process.env.PARVIS_UPDATE_SCREENSHOTS === "1";

// The legal pages are mostly text and tables.
const LEGAL = ["/mentions-legales", "/confidentialite", "/conditions", "/accessibilite"];
// Besides these, every module page the home page links to, and the admin's module pages.
const PAGES = {
  visitor: ["/", "/connexion", "/inscription", ...LEGAL, "/services", "/composants"],
  citizen: ["/", "/fil", "/notifications", "/messages", "/mon-compte", "/mon-compte/securite", "/services", "/composants"],
  admin: ["/", "/fil", "/admin", "/admin/moderation", "/admin/modules", "/admin/modules/usage", "/admin/quartiers", "/services", "/composants"],
};
// The design system's page shows the same samples to everyone: one set of screenshots (the
// visitor's) is enough, and keeps the references small.
const SAME_FOR_ALL = ["/composants"];
const ACCOUNTS = {
  citizen: "habitant-1@parvis.localhost",
  admin: "admin@parvis.localhost",
};
// What the run changes, masked: the dates in <time> elements, the admin's charts of weeks, the
// date fields of forms. The dates written in text elsewhere (« mardi 8 décembre 2026 à 17 h 00 »:
// the demo's content is dated from its start) are replaced, for the screenshot only, by a date
// of the same form (see `stubDates`), so that the lines wrap the same whatever the day.
// The notification centre's list too (`ul.results`; the search page, which shares the class,
// is not walked): notices the demo's job workers deliver within the same second come in either
// order from one start to the next.
const MASK = ["time", "figure.chart", "input[type=date]", "input[type=datetime-local]", "input[type=time]", ".map", "ul.results"];

const found = { wide: [], detached: [], a11y: [], french: [], screenshots: [], ratios: [], shot: new Set(), updated: 0 };
const children = [];
let browser;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "parvis-visual-"));
  rmSync(FAILED, { recursive: true, force: true });
  // Written again from scratch: the references of pages gone go with them.
  if (UPDATE) rmSync(REFERENCE, { recursive: true, force: true });
  mkdirSync(REFERENCE, { recursive: true });
  const smtpPort = await startSmtpSink(join(dir, "mail.jsonl"), children);
  const { communeUrl } = await startDemo(dir, smtpPort, children, {
    PARVIS_DEMO_MODULES: join(root, "target", "wasm32-wasip2", "module"),
  });
  browser = await launchBrowser();
  await untilNowCards(communeUrl);
  // One person after the other, always in the same order: what a page visited sets off (a
  // module closing a poll, a notification sent) happens at the same point of every run.
  for (const who of Object.keys(PAGES)) await walk(who, communeUrl);
  for (const file of readdirSync(REFERENCE)) {
    if (!found.shot.has(file)) found.screenshots.push(`${file}: a reference for a page no longer visited`);
  }
}, { timeout: 280000 });

after(async () => {
  if (browser) await browser.close();
  for (const c of children) c.kill("SIGTERM");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("no page is wider than its screen", () => {
  assert.deepEqual(found.wide, [], "pages wider than the screen");
});

test("every checkbox and radio button sits next to its label", () => {
  assert.deepEqual(found.detached, [], `controls more than ${LABEL_GAP} px from their label, or not on its line`);
});

test("axe-core finds no violation", () => {
  assert.deepEqual(found.a11y, [], "axe-core violations");
});

test("French text keeps its no-break spaces", () => {
  assert.deepEqual(found.french, [], "ordinary spaces where French typography wants no-break ones");
});

test("every page looks like its reference", (t) => {
  if (UPDATE) t.diagnostic(`${found.updated} references written in ${REFERENCE}`);
  const closest = found.ratios.sort(([a], [b]) => b - a).slice(0, 3);
  t.diagnostic(`most differing: ${closest.map(([r, n]) => `${n} ${(r * 100).toFixed(4)} %`).join(", ")}`);
  assert.deepEqual(
    found.screenshots,
    [],
    `screenshots unlike their reference: actual and diff PNGs are in ${FAILED}; if the change is wanted, ` +
      "write the references again with `PARVIS_UPDATE_SCREENSHOTS=1 node --test visual.test.mjs` (in tests/browser)",
  );
});

/** Waits until the home page shows what the modules say is happening now (« En ce moment »):
 * the host asks them in the background after the first visit, and every screenshot of the home
 * page and the feed must show the same cards. */
async function untilNowCards(communeUrl) {
  const page = await newPage(browser);
  try {
    for (const started = Date.now(); Date.now() - started < 30000; await page.waitForTimeout(250)) {
      await page.goto(communeUrl);
      if ((await page.locator("section.now article").count()) > 0) return;
    }
    assert.fail("the home page shows no « En ce moment » card after 30 s");
  } finally {
    await page.context().close();
  }
}

/** Signs `who` in (unless a visitor), then checks each of their pages at each width. */
async function walk(who, communeUrl) {
  const at = (path) => new URL(path, communeUrl).href;
  const page = await newPage(browser, { viewport: { width: WIDTHS[0], height: HEIGHT } });
  if (ACCOUNTS[who]) {
    await page.goto(at("/connexion"));
    await page.getByLabel("Adresse e-mail").fill(ACCOUNTS[who]);
    await page.getByLabel("Mot de passe").fill("parvis-demo-2026");
    await page.getByRole("button", { name: "Se connecter" }).click();
    await page.getByRole("button", { name: "Se déconnecter" }).waitFor();
  }
  await page.goto(at("/"));
  const links = (selector) => page.locator(selector).evaluateAll((as) => as.map((a) => a.getAttribute("href")));
  const modules = await links('main a[href^="/m/"]');
  assert.ok(modules.length > 0, "the demo commune's home links to its modules");
  const moduleAdmin = [];
  if (who === "admin") {
    // The modules' own admin pages are linked from the list of services (« Gérer »).
    for (const path of ["/admin", "/admin/modules"]) {
      await page.goto(at(path));
      moduleAdmin.push(...(await links('main a[href^="/admin/m/"]')));
    }
    assert.ok(moduleAdmin.length > 0, "the admin's pages link to the modules' admin pages");
  }
  const names = new Set();
  for (const path of new Set([...PAGES[who], ...modules, ...moduleAdmin])) {
    const name = unique(names, slug(path));
    await page.setViewportSize({ width: WIDTHS[0], height: HEIGHT });
    const response = await page.goto(at(path));
    assert.ok(response.ok(), `${who} ${path}: ${response.status()}`);
    await settle(page);
    await checkFrench(page, `${who} ${path}`);
    for (const width of WIDTHS) {
      const label = `${who} ${path} at ${width} px`;
      if (width !== WIDTHS[0]) {
        await page.setViewportSize({ width, height: HEIGHT });
        await settle(page);
      }
      await checkWidth(page, width, label);
      await checkLabels(page, label);
      try {
        await checkA11y(page, label);
      } catch (e) {
        // The message without assert's diff of the same list.
        found.a11y.push(e.message.split("\n+ actual - expected")[0]);
        page.cspViolations.length = 0;
      }
      if (who === "visitor" || !SAME_FOR_ALL.includes(path)) {
        await checkScreenshot(page, `${who}-${name}-${width}`, width);
      }
    }
  }
  await page.context().close();
}

/** Waits until every image is loaded (lazy ones too) and the fonts are ready. */
async function settle(page) {
  await page.evaluate(async () => {
    // The notification page's « Sur cet appareil » shows once the service worker answered
    // (push.js): wait for it, or the screenshot catches it shown or not by chance.
    const push = document.getElementById("push");
    for (let i = 0; push && push.hidden && i < 100; i++) await new Promise((done) => setTimeout(done, 20));
    for (const img of document.images) img.loading = "eager";
    await Promise.all([...document.images].map((img) => img.decode().catch(() => {})));
    await document.fonts.ready;
    // Two frames: what a resize sets off (app.js makes a table that now scrolls focusable)
    // has run.
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  });
}

async function checkWidth(page, width, label) {
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  if (scrollWidth <= width) return;
  // The outermost boxes past the screen's edge, else the text running out of its box (a long
  // word), leaving out the text only screen readers get (`.sr-only`, clipped to 1 px).
  const culprits = await page.evaluate((limit) => {
    const past = (e) => e && e.getBoundingClientRect().right > limit + 1;
    const name = (e) =>
      `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}${e.className ? "." + e.className : ""}` +
      ` « ${e.textContent.trim().replace(/\s+/g, " ").slice(0, 40)}… »`;
    const boxes = [...document.querySelectorAll("body *")].filter((e) => past(e) && !past(e.parentElement));
    if (boxes.length) return boxes.slice(0, 3).map(name);
    const texts = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(n);
      if (range.getBoundingClientRect().right > limit + 1 && n.parentElement.getBoundingClientRect().width > 1) {
        texts.push(`text of ${name(n.parentElement)}`);
      }
    }
    return texts.slice(0, 3);
  }, width);
  found.wide.push(`${label}: ${scrollWidth} px (${culprits.join(", ")})`);
}

/** The page's text (scripts and styles left out) and the attributes people read, searched for
 * an ordinary space (U+0020) where French wants a no-break one: before « : » (U+00A0), before
 * « ; ? ! » (U+202F), inside « » (U+00A0). Text nodes are joined, so « <strong>Motif</strong> : »
 * counts. A mark not closing a word group (« 4,5:1 », « https:// ») is not one. */
async function checkFrench(page, label) {
  const faults = await page.evaluate(() => {
    const wrong = /\S (?:[:;?!](?=$|[\s»).,…?!*])|»)|« (?=\S)/g;
    const texts = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
      acceptNode: (n) => (n.parentElement.closest("script, style, template") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
    });
    let joined = "";
    for (let n = walker.nextNode(); n; n = walker.nextNode()) joined += n.data;
    texts.push(joined);
    for (const e of document.querySelectorAll("[alt], [title], [aria-label], [placeholder]")) {
      for (const a of ["alt", "title", "aria-label", "placeholder"]) if (e.hasAttribute(a)) texts.push(e.getAttribute(a));
    }
    texts.push(document.title);
    const out = [];
    for (const text of texts) {
      for (const m of text.matchAll(wrong)) {
        out.push(`« ${text.slice(Math.max(0, m.index - 30), m.index + 12).replace(/\s+/g, " ")} »`);
      }
    }
    return out;
  });
  for (const f of faults) found.french.push(`${label}: ${f}`);
}

/** For each visible checkbox and radio button with a label: the label's text (not the whole
 * label, which may wrap the control) has a line box within LABEL_GAP px of the control,
 * sideways, overlapping it vertically. */
async function checkLabels(page, label) {
  const detached = await page.evaluate((gap) => {
    const out = [];
    for (const input of document.querySelectorAll("input[type=checkbox], input[type=radio]")) {
      if (!input.checkVisibility({ visibilityProperty: true, opacityProperty: false })) continue;
      const c = input.getBoundingClientRect();
      if (c.width < 2 || c.height < 2) continue;
      for (const l of input.labels) {
        const lines = [];
        const walker = document.createTreeWalker(l, NodeFilter.SHOW_TEXT);
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
          if (!n.textContent.trim()) continue;
          const range = document.createRange();
          range.selectNodeContents(n);
          lines.push(...[...range.getClientRects()].filter((r) => r.width > 0));
        }
        if (!lines.length) continue;
        const near = lines.some(
          (r) => Math.max(r.left - c.right, c.left - r.right) <= gap && r.top < c.bottom && r.bottom > c.top,
        );
        if (near) continue;
        const r = lines[0];
        out.push(
          `${input.type} ${input.id ? "#" + input.id : `name=${input.name}`} at x ${Math.round(c.left)}–${Math.round(c.right)}, ` +
            `y ${Math.round(c.top)}–${Math.round(c.bottom)}; its label « ${l.textContent.trim().slice(0, 40)} » ` +
            `at x ${Math.round(r.left)}–${Math.round(r.right)}, y ${Math.round(r.top)}–${Math.round(r.bottom)}`,
        );
      }
    }
    return out;
  }, LABEL_GAP);
  found.detached.push(...detached.map((d) => `${label}: ${d}`));
}

/** Compares the page's top with its reference (or writes the reference). */
async function checkScreenshot(page, name, width) {
  // The dates first: the page's height is the stubbed page's (a date of the run that wraps on
  // one more line would otherwise leave its line's height as a blank below the footer).
  await page.evaluate(stubDates);
  const height = Math.min(CAP, await page.evaluate(() => document.documentElement.scrollHeight));
  const buffer = await page.screenshot({
    clip: { x: 0, y: 0, width, height },
    fullPage: true,
    animations: "disabled",
    caret: "hide",
    mask: MASK.map((s) => page.locator(s)),
    maskColor: "#888",
  });
  await page.evaluate(() => window.__unstubDates());
  const actual = reduce(PNG.sync.read(buffer));
  const file = join(REFERENCE, `${name}.png`);
  found.shot.add(`${name}.png`);
  if (UPDATE) {
    writeFileSync(file, PNG.sync.write(actual, { colorType: 2, deflateLevel: 9, filterType: -1 }));
    found.updated++;
    return;
  }
  if (!existsSync(file)) {
    found.screenshots.push(`${name}: no reference yet`);
    return;
  }
  const expected = PNG.sync.read(readFileSync(file));
  const w = Math.max(actual.width, expected.width);
  const h = Math.max(actual.height, expected.height);
  const [a, e] = [actual, expected].map((img) => pad(img, w, h));
  const diff = new PNG({ width: w, height: h });
  const differing = pixelmatch(a.data, e.data, diff.data, w, h, { threshold: PIXEL_THRESHOLD });
  const ratio = differing / (w * h);
  found.ratios.push([ratio, name]);
  const sized = actual.height === expected.height && actual.width === expected.width;
  if (sized && ratio <= MAX_DIFF_RATIO) return;
  mkdirSync(FAILED, { recursive: true });
  writeFileSync(join(FAILED, `${name}-actual.png`), buffer);
  writeFileSync(join(FAILED, `${name}-diff.png`), PNG.sync.write(diff));
  found.screenshots.push(
    `${name}: ${(ratio * 100).toFixed(2)} % of pixels differ (at most ${MAX_DIFF_RATIO * 100} %)` +
      (sized ? "" : `, ${actual.width}×${actual.height} px instead of ${expected.width}×${expected.height}`),
  );
}

/** In the page: replaces each date or hour written in text by a fixed one of the same form
 * (weekday, « 1er mars 2026 », « 7 déc. », « 9 h 05 », « 14/03/2026 »); `__unstubDates()`
 * puts the text back. */
function stubDates() {
  const months = "janv\\.|janvier|févr\\.|février|mars|avr\\.|avril|mai|juin|juil\\.|juillet|août|sept\\.|septembre|oct\\.|octobre|nov\\.|novembre|déc\\.|décembre";
  const forms = [
    [/\b(lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)\b/g, "jeudi"],
    [new RegExp(`\\b\\d{1,2}(er)?[ \\u00a0](${months})([ \\u00a0]\\d{4})?`, "g"), (...m) => `15 mars${m[3] ? " 2026" : ""}`],
    [/\b\d{1,2}[ \u00a0]h[ \u00a0]\d{2}\b/g, "12\u00a0h\u00a000"],
    [/\b\d{2}\/\d{2}\/\d{4}\b/g, "15/03/2026"],
  ];
  const undo = [];
  // A <time> is masked, but its size still follows the clock (a date of the demo's run in a
  // narrow column wraps on one more line at some hours): each reads one fixed date.
  for (const t of document.querySelectorAll("time")) {
    undo.push([t, t.textContent]);
    t.textContent = "15 mars 2026 à 12\u00a0h\u00a000";
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    let text = n.textContent;
    for (const [re, by] of forms) text = text.replace(re, by);
    if (text !== n.textContent) {
      undo.push([n, n.textContent]);
      n.textContent = text;
    }
  }
  window.__unstubDates = () => undo.forEach(([node, text]) => (node.textContent = text));
}

/** The screenshot as references keep it, about 27 KB: half its size (each pixel the mean of
 * four) and nine shades a channel. A block moved by a few pixels or a colour changed still
 * shows; the anti-aliased edges of text, which make a PNG big, mostly do not. */
function reduce(img) {
  const w = img.width >> 1;
  const h = img.height >> 1;
  const out = new PNG({ width: w, height: h });
  const at = (x, y, c) => img.data[(y * img.width + x) * 4 + c];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        const mean = (at(2 * x, 2 * y, c) + at(2 * x + 1, 2 * y, c) + at(2 * x, 2 * y + 1, c) + at(2 * x + 1, 2 * y + 1, c)) / 4;
        out.data[(y * w + x) * 4 + c] = Math.min(255, Math.round(mean / 32) * 32);
      }
      out.data[(y * w + x) * 4 + 3] = 255;
    }
  }
  return out;
}

/** The image on a w×h canvas, the rest white. */
function pad(img, w, h) {
  if (img.width === w && img.height === h) return img;
  const out = new PNG({ width: w, height: h, fill: true });
  out.data.fill(255);
  PNG.bitblt(img, out, 0, 0, img.width, img.height, 0, 0);
  return out;
}

/** "/" → "accueil", "/admin/m/alerts/" → "admin-m-alerts", and a page of one item (its id
 * changes with each run: "/m/polls/01a2…") → "m-polls-item". */
function slug(path) {
  const parts = path.split("/").filter(Boolean).map((p) => (/\d/.test(p) && p.length >= 8 ? "item" : p));
  return parts.join("-").replace(/[^a-z0-9]+/gi, "-") || "accueil";
}

/** `name`, or `name-2`, `name-3`… when taken. */
function unique(taken, name) {
  let n = name;
  for (let i = 2; taken.has(n); i++) n = `${name}-${i}`;
  taken.add(n);
  return n;
}
