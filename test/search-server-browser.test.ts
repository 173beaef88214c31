/// <reference lib="dom" />
// (The DOM's types, for the functions page.evaluate() runs in the browser.)
// The search page in a real browser: headless Chromium (Debian's package, driven by playwright-core)
// against search-server on the fixture site's index. A person types Russian and English words and
// sees ranked results with the words marked, follows a result, pages forward, and types markup
// that must stay text; with JavaScript off, the form still searches. A screenshot of the results
// goes to out/search-server/ (git-ignored).
//
// Where no Chromium is installed, or it cannot start, every check here is reported as skipped,
// with the reason: it proves nothing, so it never counts as passed. `.ci/run` installs the
// browser where it can.
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { IndexWriter } from "@async-from-scratch/shared/search";
import { startServer, type RunningServer } from "../examples/c10k/common.ts";
import { fixturePages } from "../examples/search/fixture.ts";
import { root } from "./lessons.ts";
import { testOrSkip } from "./skips.ts";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const SCREENSHOT = join(root, "out", "search-server", "results.png");

// Chromium's own networking off (updates, sync, field trials): this machine has no network but
// loopback, and the browser would keep trying. As root it needs --no-sandbox. Playwright gives
// every launch a fresh profile (a new --user-data-dir) and deletes it at close.
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

async function launch(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 60_000 });
}

/**
 * Why this machine cannot run the checks, or null: no browser installed, or one that does not
 * start (a missing library, say). Tried once here, before any check is registered, and closed at
 * once: the checks start their own when they run, after the other test files have loaded.
 */
async function whyNoBrowser(): Promise<string | null> {
  if (!existsSync(CHROMIUM)) {
    return (
      `no browser: ${CHROMIUM} is not installed (.ci/run installs Debian's chromium with apt ` +
      "as root; elsewhere apt-get install chromium, or CHROMIUM=/path/to/chrome)"
    );
  }
  try {
    await (await launch()).close();
    return null;
  } catch (error) {
    const first = String((error as Error).message).split("\n")[0];
    return `no browser: ${CHROMIUM} did not start: ${first}`;
  }
}
const check = testOrSkip(await whyNoBrowser());

interface Setup {
  scratch: string;
  server: RunningServer;
  origin: string;
  browser: Browser;
}
let setup: Promise<Setup> | null = null;

/** The index, the server and the browser, started by the first check that needs them. */
function started(): Promise<Setup> {
  return (setup ??= (async () => {
    const scratch = mkdtempSync(join(tmpdir(), "search-browser-test-"));
    const dir = join(scratch, "index");
    const writer = IndexWriter.create(dir);
    for (const page of fixturePages()) writer.add(page);
    writer.close();
    const server = await startServer("../search-server/main.ts", ["--index", dir], []);
    const browser = await launch();
    return { scratch, server, origin: `http://127.0.0.1:${server.port}`, browser };
  })());
}

/**
 * A page in a fresh context of the browser, which fails the check on any console error, page
 * error, CSP violation or dialog (an alert() would mean a query ran as a script).
 */
async function open(
  options: { locale?: string; javaScriptEnabled?: boolean } = {},
): Promise<{ page: Page; context: BrowserContext; origin: string; problems: string[] }> {
  const { browser, origin } = await started();
  const context = await browser.newContext({ viewport: { width: 900, height: 900 }, ...options });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("dialog", (dialog) => {
    problems.push(`a dialog opened: ${dialog.message()}`);
    void dialog.dismiss();
  });
  return { page, context, origin, problems };
}

/** Types a query into the box key by key, and waits until the results for all of it are shown. */
async function type(page: Page, query: string): Promise<void> {
  const box = page.locator('input[name="q"]');
  await box.fill("");
  await box.pressSequentially(query, { delay: 20 });
  await page.waitForFunction((q) => new URLSearchParams(location.search).get("q") === q, query);
}

/** What the results show: the status line, and each hit's title, link, URL and marked snippet. */
function shown(page: Page) {
  return page.evaluate(() => ({
    status: document.querySelector("#results .status")?.textContent ?? "",
    start: (document.querySelector("ol.hits") as HTMLOListElement | null)?.start ?? 0,
    hits: Array.from(document.querySelectorAll("ol.hits li"), (li) => ({
      title: li.querySelector("a.title")!.textContent!,
      href: li.querySelector("a.title")!.getAttribute("href")!,
      url: li.querySelector(".url")!.textContent!,
      snippet: li.querySelector(".snippet")!.innerHTML,
      marks: Array.from(li.querySelectorAll(".snippet mark"), (mark) => mark.textContent!),
    })),
  }));
}

check("typing Russian words shows ranked results as you type, the words marked", async () => {
  const { page, context, origin, problems } = await open({ locale: "ru-RU" });
  try {
    await page.goto(`${origin}/`);
    assert.is(await page.getAttribute("html", "lang"), "ru");
    await type(page, "сокеты");
    const typed = await shown(page);
    assert.match(typed.status, /^Найдено страниц: 65 из 200, за [\d,]+ мс$/);
    assert.is(typed.hits.length, 10);
    assert.match(typed.hits[0]!.title, /^Sockets: .* — Сокеты: /);
    for (const hit of typed.hits.slice(0, 8)) {
      assert.ok(hit.marks.length > 0, `${hit.title}: no word marked`);
      for (const mark of hit.marks) assert.match(mark, /^сокет/i);
    }
    mkdirSync(join(root, "out", "search-server"), { recursive: true });
    // The top of the page: the form, the count and time, the first four results.
    await page.screenshot({ path: SCREENSHOT, clip: { x: 0, y: 0, width: 900, height: 700 } });
    assert.ok(statSync(SCREENSHOT).size > 10_000, "a screenshot with something on it");

    // The results the script rendered from the JSON API are the ones the server renders.
    await page.reload();
    const rendered = await shown(page);
    assert.equal(rendered.hits, typed.hits);
    assert.is(rendered.status.replace(/[\d,]+ мс/, ""), typed.status.replace(/[\d,]+ мс/, ""));
    assert.equal(problems, []);
  } finally {
    await context.close();
  }
});

check("an English query, then a typo, each with its own results", async () => {
  const { page, context, origin, problems } = await open({ locale: "en-US" });
  try {
    await page.goto(`${origin}/`);
    await type(page, "epoll internals");
    const results = await shown(page);
    assert.match(results.status, /^\d+ of 200 pages match, in [\d.]+ ms$/);
    assert.is(results.hits[0]!.title, "epoll: internals — epoll: устройство");
    assert.ok(results.hits[0]!.marks.some((mark) => /^epoll$/i.test(mark)));
    await type(page, "sokcets epoll");
    assert.is(
      await page.textContent(".spelling"),
      'No page has "sokcets": searching for "sockets", one typo away',
    );
    assert.ok((await shown(page)).hits[0]!.marks.some((mark) => /^sockets?$/i.test(mark)));
    assert.equal(problems, []);
  } finally {
    await context.close();
  }
});

// The script shows the API's displayUrl as the link's text, the link going to url. The server's
// side (which URL it sends as which) is search-server.test.ts's; here the answer is made up, so
// that the fixture's index need not hold a Cyrillic URL.
check(
  "a result's URL is shown as the address bar shows it, the link to the URL as stored",
  async () => {
    const { page, context, origin, problems } = await open();
    const url = "http://127.0.0.1:8080/%D0%B2%D0%B8%D0%BA%D0%B8/%D0%A1%D0%BE%D0%BA%D0%B5%D1%82";
    const displayUrl = "http://127.0.0.1:8080/вики/Сокет";
    const answer = {
      query: "сокет",
      total: 1,
      totalExact: true,
      offset: 0,
      limit: 10,
      pages: 1,
      tookMs: 0.5,
      spelling: null,
      unmatched: [],
      hits: [
        { url, displayUrl, title: "Сокет", score: 1, snippet: [{ text: "Сокет", match: true }] },
      ],
    };
    try {
      await page.route("**/api/search?**", (route) =>
        route.fulfill({ contentType: "application/json", body: JSON.stringify(answer) }),
      );
      await page.goto(`${origin}/`);
      await type(page, "сокет");
      await page.waitForSelector("ol.hits li");
      assert.is(await page.textContent("ol.hits .url"), displayUrl);
      assert.is(await page.getAttribute("ol.hits .url", "href"), url);
      // The script's count agrees with its number, as the server's page does.
      assert.match((await page.textContent("p.status"))!, /^1 of 1 page matches, in /);
      assert.equal(problems, []);
    } finally {
      await context.close();
    }
  },
);

check("following a result opens its stored text, the query's words marked", async () => {
  const { page, context, origin, problems } = await open();
  try {
    await page.goto(`${origin}/`);
    await type(page, "epoll");
    const first = (await shown(page)).hits[0]!;
    await page.click("ol.hits li:first-child a.title");
    await page.waitForURL(/\/page\?url=/);
    assert.is(await page.textContent("h1"), first.title);
    assert.is(await page.textContent("main .url"), first.url);
    const marks = await page.locator(".text mark").allTextContents();
    assert.ok(marks.length >= 3, `${marks.length} words marked`);
    for (const mark of marks) assert.match(mark, /^epoll$/i);
    await page.click("text=← Back to the results");
    await page.waitForSelector("ol.hits li");
    assert.is((await shown(page)).hits[0]!.title, first.title);
    assert.equal(problems, []);
  } finally {
    await context.close();
  }
});

check("paging forward shows the next ten, numbered on", async () => {
  const { page, context, origin, problems } = await open({ locale: "ru-RU" });
  try {
    await page.goto(`${origin}/`);
    await type(page, "сокеты");
    const first = await shown(page);
    await page.click('a[rel="next"]');
    await page.waitForURL(/page=2/);
    const second = await shown(page);
    assert.is(second.start, 11);
    assert.is(second.hits.length, 10);
    assert.match(second.status, /; результаты 11–20$/);
    const titles = new Set(first.hits.map((hit) => hit.title));
    assert.ok(
      second.hits.every((hit) => !titles.has(hit.title)),
      "ten new pages",
    );
    assert.match((await page.textContent(".pager span"))!, /^страница 2 из 7$/);
    await page.click('a[rel="prev"]');
    await page.waitForURL((url) => !url.search.includes("page="));
    assert.equal((await shown(page)).hits, first.hits);
    assert.equal(problems, []);
  } finally {
    await context.close();
  }
});

check(
  "a query of <script> is shown as text, typed or sent with the form, and never runs",
  async () => {
    const { page, context, origin, problems } = await open();
    const query = "<script>alert(1)</script>";
    try {
      await page.goto(`${origin}/`);
      await type(page, query); // rendered by the script, from JSON
      assert.is(await page.inputValue('input[name="q"]'), query);
      assert.is(await page.title(), `${query} — Search`);
      await page.press('input[name="q"]', "Enter"); // rendered by the server, into HTML
      await page.waitForLoadState();
      assert.is(await page.inputValue('input[name="q"]'), query);
      assert.is(await page.title(), `${query} — Search`);
      assert.is(await page.locator("script").count(), 1, "only the page's own script");
      assert.match((await page.textContent("#results"))!, /No page matches|pages match/);
      await type(page, '"><img src=x onerror=alert(1)>');
      assert.is(await page.locator("#results img").count(), 0);
      assert.equal(problems, []);
    } finally {
      await context.close();
    }
  },
);

check('a lone " that begins a phrase is no query yet: no request, no error shown', async () => {
  const { page, context, origin, problems } = await open();
  const asked: string[] = [];
  page.on("request", (request) => {
    if (request.url().includes("/api/")) asked.push(request.url());
  });
  try {
    await page.goto(`${origin}/`);
    await page.locator('input[name="q"]').pressSequentially('"');
    await page.waitForTimeout(600); // four times the pause the script waits for
    assert.equal(asked, []);
    assert.is(await page.textContent("#results"), "");
    // The rest at once (one input event): typed key by key, a loaded machine can pause longer
    // than the script's 150 ms between two keys, and then it rightly asks twice.
    await page.locator('input[name="q"]').fill('"epoll');
    await page.waitForFunction(() => new URLSearchParams(location.search).get("q") === '"epoll');
    assert.is(asked.length, 1, asked.join(" "));
    assert.equal(problems, []);
  } finally {
    await context.close();
  }
});

check("with JavaScript off, the form still searches and pages", async () => {
  const { page, context, origin, problems } = await open({ javaScriptEnabled: false });
  try {
    await page.goto(`${origin}/`);
    await page.fill('input[name="q"]', "обратный индекс");
    await page.press('input[name="q"]', "Enter");
    await page.waitForURL(/\?q=/);
    const results = await shown(page);
    assert.is(results.hits.length, 10);
    assert.ok(results.hits[0]!.marks.length > 0);
    await page.click('a[rel="next"]');
    await page.waitForURL(/page=2/);
    assert.is((await shown(page)).start, 11);
    assert.equal(problems, []);
  } finally {
    await context.close();
  }
});

check("the browser's view: CSP allows the page's own script and style, and they ran", async () => {
  const { page, context, origin, problems } = await open();
  try {
    const response = await page.goto(`${origin}/?q=epoll`);
    assert.match(response!.headers()["content-security-policy"]!, "script-src 'self'");
    // The style applied (the file loaded), and the script ran (it focused nothing here, but it
    // listens: typing re-renders).
    const display = await page.evaluate(
      () => getComputedStyle(document.querySelector("header")!).display,
    );
    assert.is(display, "flex");
    await type(page, "kqueue");
    assert.match((await shown(page)).hits[0]!.title, /kqueue/i);
    assert.equal(problems, []);
  } finally {
    await context.close();
  }
});

test.after(async () => {
  if (setup === null) return;
  const { browser, server, scratch } = await setup;
  await browser.close();
  await server.stop();
  rmSync(scratch, { recursive: true, force: true });
});

test.run();
