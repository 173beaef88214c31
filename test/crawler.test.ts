// The crawler on the fixture site with all its hard cases: every URL ends in exactly one outcome
// and the counts add up; each hard case ends as it should; keep-alive; charsets and gzip; both
// engines find the same; Crawl-delay is kept; redirect chains are capped; Ctrl-C stops cleanly
// and --resume fetches nothing twice; --max-pages; the report against its snapshot.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { deflateSync, gzipSync } from "node:zlib";
import { Index } from "@async-from-scratch/shared/search";
import { startSite } from "@async-from-scratch/shared/site";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { CYRILLIC_PATH, PANGRAM } from "../shared/site/wild.ts";
import { fetchesIn, readChart } from "./charts.ts";
import {
  figure,
  matchSnapshot,
  root,
  runCommand,
  runLesson,
  runPnpm,
  siteProcesses,
  spawnLesson,
  type Run,
} from "./lessons.ts";

const test = suite("crawler");
const scratchDir = mkdtempSync(join(tmpdir(), "crawler-test-"));
const outDir = (name: string) => join(scratchDir, name);

interface Crawl extends Run {
  out: string;
  /** The crawl log: one entry per URL, by URL (a URL logged twice fails the test). */
  log: Map<string, LogEntry>;
  /** The pages the index got. */
  pages: { url: string; title: string; text: string }[];
}

interface LogEntry {
  url: string;
  outcome: string;
  status?: number;
  reason?: string;
  to?: string;
  partial?: string;
}

/**
 * A crawl into a folder of its own. It draws no timeline chart unless `chart` or its own --svg
 * says so: Vega takes some 0.7 s of CPU for each, and only the full crawls' are read. `chart:
 * true` draws it where a person's crawl in a terminal does; "unasked" gives no --svg at all, as a
 * script does, whose output is no terminal.
 */
async function crawl(
  name: string,
  args: string[],
  { chart = false as boolean | "unasked" } = {},
): Promise<Crawl> {
  const out = outDir(name);
  const svg =
    args.includes("--svg") || chart === "unasked"
      ? []
      : chart
        ? ["--svg", "out/crawler.svg"]
        : ["--svg", "none"];
  const run = await runLesson("crawler", ["--out", out, ...svg, ...args]);
  return { ...run, out, ...readCrawl(out) };
}

/** A crawl of a server the test made, from its "/", on a free port; the server stops after. */
async function crawlServer(name: string, server: Server): Promise<Crawl> {
  return withServer(server, (url) => crawl(name, ["--url", url]));
}

/** use(url of server's "/"), with server listening on a free port meanwhile; stopped after. */
async function withServer<T>(server: Server, use: (url: string) => Promise<T>): Promise<T> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await use(`http://127.0.0.1:${port}/`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function readCrawl(out: string): Pick<Crawl, "log" | "pages"> {
  const log = new Map<string, LogEntry>();
  const logFile = join(out, "crawl-log.jsonl");
  const lines = existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n") : [];
  for (const line of lines.filter(Boolean)) {
    const entry = JSON.parse(line) as LogEntry;
    assert.not.ok(log.has(entry.url), `${entry.url} logged twice`);
    log.set(entry.url, entry);
  }
  const pages: Crawl["pages"] = [];
  if (existsSync(join(out, "index.json"))) {
    const index = Index.open(out);
    try {
      assert.is(index.pages, [...log.values()].filter((e) => e.outcome === "indexed").length);
      for (const { url, outcome } of log.values()) {
        if (outcome !== "indexed") continue;
        const page = index.page(url);
        assert.ok(page, `${url} is in the index`);
        pages.push({ url, title: page.title, text: page.text });
      }
    } finally {
      index.close();
    }
  }
  return { log, pages };
}

function memo<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}

// The whole fixture site, once with each engine, side by side.
// The node engine's draws its timeline chart here; the scratch one's goes to out/crawler.svg, as
// the snapshot says.
const nodeChart = join(scratchDir, "node-timeline.svg");
const fullCrawls = memo(() =>
  Promise.all([
    crawl("scratch", ["--engine", "scratch"], { chart: true }), // the snapshot names its chart
    crawl("node", ["--engine", "node", "--svg", nodeChart]),
  ]),
);
const scratch = async () => (await fullCrawls())[0];

// A whole crawl of a smaller site, which two tests compare with crawls of their own: once.
const sixtyArticles = memo(() =>
  crawl("sixty-articles", ["--articles", "60"], { chart: "unasked" }),
);

// Crawls that mostly wait (on retries' backoff, on slow pages) and that no test times: each is
// started early, beside another such crawl, and awaited where it is checked. Started with
// start(): a failure is the awaiting test's, not an unhandled rejection meanwhile.
const start = (crawl: () => Promise<unknown>) => void crawl().catch(() => {});
const redirectsCrawl = memo(() =>
  crawl("redirects", [
    "--max-redirects",
    "1",
    "--exclude",
    "/wiki/|/category/|/wild/|slow-body|huge",
  ]),
);
const limitCrawl = memo(() => crawl("limit", ["--max-pages", "40"]));

/** The report's count for a row: "  indexed   424". */
const count = (stdout: string, row: string) =>
  figure(stdout, new RegExp(`^  ${row.replace(/[()]/g, "\\$&")} +(\\d+)$`, "m"));
const pathOf = (url: string) => {
  const { pathname, search } = new URL(url);
  return decodeURI(pathname) + search;
};
const byPath = (log: Map<string, LogEntry>) =>
  new Map([...log.values()].map((entry) => [pathOf(entry.url), entry]));
/** Each path's outcome and reason, "error redirect loop: ...", for one assert.equal of them all. */
const outcomesByPath = (log: Map<string, LogEntry>) =>
  Object.fromEntries(
    [...byPath(log)].map(([path, entry]) => [path, `${entry.outcome} ${entry.reason ?? ""}`]),
  );

test("every URL discovered ends in exactly one outcome, and the counts add up", async () => {
  const { status, stdout, stderr, log } = await scratch();
  assert.is(status, 0, stderr);
  assert.is(stderr, "", "nothing on stderr when it is not a terminal");
  const discovered = figure(stdout, /^URLs discovered +(\d+)$/m);
  assert.is(count(stdout, "sum"), discovered);
  assert.not.match(stdout, /lost or counted twice/);
  assert.is(log.size, discovered, "one log line per URL");
  const outcomes = new Map<string, number>();
  for (const { outcome } of log.values()) outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  for (const [outcome, n] of outcomes) assert.is(count(stdout, outcome), n, outcome);
  // The wiki: the front page, 6 categories, 200 articles with 2 history pages each.
  assert.ok(discovered > 1 + 6 + 3 * 200, `${discovered} URLs`);
});

test("the hard cases end as they should", async () => {
  const { log } = await scratch();
  const paths = byPath(log);
  const outcome = (path: string) => {
    const entry = paths.get(path);
    return entry === undefined ? "not discovered" : `${entry.outcome} ${entry.reason ?? ""}`.trim();
  };
  assert.is(outcome("/private/"), "robots.txt");
  assert.is(outcome("/redirect/3"), "redirected");
  assert.is(outcome("/redirect/2"), "redirected");
  assert.is(outcome("/redirect/1"), "redirected");
  assert.is(outcome("/loop/a"), "redirected");
  assert.is(outcome("/loop/b"), "error redirect loop: /loop/a → /loop/b → /loop/a");
  assert.is(outcome("/no-such-page"), "error HTTP 404 Not Found");
  assert.is(outcome("/files/report.pdf"), "not HTML application/pdf");
  assert.is(outcome("/files/data.json"), "not HTML application/json");
  assert.match(outcome("/huge"), /^error body exceeds \d+ bytes/);
  assert.is(outcome("/reset"), "error connection reset by peer");
  assert.is(outcome("/malformed"), "error bad HTTP: bad status line: 'HTTP/1.1 2OO OK'");
  for (const path of ["/slow-body", "/chunked", "/close-delimited", "/wild/busy"]) {
    assert.is(outcome(path), "indexed", path);
  }
  assert.is(outcome("/trap/in-script"), "not discovered", "no links from scripts");
  assert.is(outcome("/wild/base/page"), "not discovered", "<base href> was followed");
  assert.is(outcome("/wild/based/page"), "indexed");
  assert.is(outcome("/wild/double/slashes"), "indexed");
  assert.is(outcome("/wild/noindex"), "noindex");
  assert.is(outcome("/wild/noindex-child"), "indexed", "a noindex page's links are followed");
  assert.is(outcome("/wild/nofollow"), "indexed");
  assert.is(outcome("/wild/never"), "not discovered", "a nofollow page's links are not");
  assert.is(outcome(CYRILLIC_PATH), "indexed", "three spellings, one URL");
  const twins = [outcome("/wild/same-a"), outcome("/wild/same-b")].sort();
  assert.equal(twins, ["duplicate same body", "indexed"]);
});

test("keep-alive: a handful of connections carry hundreds of requests", async () => {
  const { stdout } = await scratch();
  const requests = figure(stdout, /^This run: (\d+) requests/m);
  const connections = figure(stdout, /on (\d+) connections/);
  // 6 at a time, and a new one after each response that closes its connection (the raw hard
  // cases, the reset, the 8 MiB page): about 15, where one per request would be 640.
  assert.ok(connections * 10 < requests, `${connections} connections for ${requests} requests`);
  assert.match(stdout, /concurrency reached 6$/m);
});

test("old charsets decoded, gzip taken, the busy page retried after its Retry-After", async () => {
  const { stdout, pages, log, out } = await scratch();
  for (const path of [
    "/wild/windows-1251",
    "/wild/koi8-r",
    "/wild/windows-1251-meta",
    "/wild/windows-1251-undeclared",
    "/wild/koi8-r-undeclared",
    "/wild/bom",
  ]) {
    const page = pages.find((page) => pathOf(page.url) === path);
    assert.ok(page?.text.includes(PANGRAM), `${path}: ${page?.text}`);
  }
  // The pages that declare no charset are found by their Russian words, and their snippets show
  // them (read as UTF-8, each letter was U+FFFD, and no word matched).
  const index = Index.open(out);
  try {
    const { hits } = index.search("французских булок", { limit: 50 });
    for (const path of ["/wild/windows-1251-undeclared", "/wild/koi8-r-undeclared"]) {
      const hit = hits.find((hit) => pathOf(hit.url) === path);
      const marked = hit?.snippet.filter((part) => part.match).map((part) => part.text);
      assert.ok(marked?.join(" ").includes("французских булок"), `${path}: ${marked}`);
    }
  } finally {
    index.close();
  }
  assert.is(pages.length, count(stdout, "indexed"));
  assert.is(new Set(pages.map((page) => page.url)).size, pages.length, "no page indexed twice");
  const received = figure(stdout, /^Received ([\d.]+) KiB/m);
  const html = figure(stdout, /HTML ([\d.]+) MiB once decompressed/) * 1024;
  // Without gzip the wire would carry more than the HTML (heads, 404 pages, the PDF besides).
  assert.ok(received < html, `gzip: ${received} KiB on the wire for ${html} KiB of HTML`);
  assert.is(byPath(log).get("/wild/busy")?.status, 200);
  assert.match(
    stdout,
    /^This run: \d+ requests \(robots.txt 1, retries 3\)/m,
    "busy once, reset twice",
  );
});

test("both engines find the same URLs, each with the same outcome", async () => {
  const [ours, node] = await fullCrawls();
  assert.is(node.status, 0, node.stderr);
  const counts = (stdout: string) =>
    stdout.slice(stdout.indexOf("URLs discovered"), stdout.indexOf("Links to"));
  assert.is(counts(node.stdout), counts(ours.stdout));
  const ourPaths = byPath(ours.log);
  const nodePaths = byPath(node.log);
  assert.equal([...nodePaths.keys()].sort(), [...ourPaths.keys()].sort());
  // Which of two identical pages is indexed is whichever arrives first: the same pairs, though.
  const outcome = ({ outcome, status, reason, to }: LogEntry) =>
    JSON.stringify({
      outcome: outcome === "duplicate" || outcome === "indexed" ? "indexed or duplicate" : outcome,
      status,
      reason: reason === "same body" ? undefined : reason,
      to: to && pathOf(to),
    });
  for (const [path, entry] of ourPaths) {
    assert.is(outcome(nodePaths.get(path)!), outcome(entry), path);
  }
  const indexed = (crawl: Crawl) => new Set(crawl.pages.map((page) => page.text));
  assert.equal(indexed(node), indexed(ours), "the same texts in the index");
});

test("the timeline chart: the first requests, one row each; a connect only on a new connection", async () => {
  const { stdout } = (await fullCrawls())[1];
  assert.ok(stdout.endsWith(`\nchart: ${nodeChart}\n`), stdout);
  const chart = readChart(nodeChart);
  const title = chart.texts.find((text) => text.startsWith("crawler: "));
  const fetches = Number(/^crawler: (\d+) fetches over [\d.]+ s$/.exec(title ?? "")?.[1]);
  // A request sent again on a new connection, after a kept-alive one turned out closed, is one
  // fetch and two requests.
  const requests = figure(stdout, /^This run: (\d+) requests/m);
  assert.ok(fetches <= requests && fetches > 600, `${fetches} fetches, ${requests} requests`);
  const rows = fetchesIn(chart);
  assert.is(rows.length, 150);
  assert.is(rows[0]!.fetch, "/robots.txt");
  rows.slice(1).forEach(({ start }, i) => assert.ok(start >= rows[i]!.start, "in start order"));
  const connects = rows.filter(({ phases }) => phases.includes("connecting")).length;
  const connections = figure(stdout, /^This run: .* on (\d+) connections/m);
  assert.ok(connects >= 1 && connects <= connections, `${connects} of ${connections}`);
});

test("the report against its snapshot", async () => {
  const { stdout } = await scratch();
  matchSnapshot("crawler", stdout, [
    [/^(Index: .* in )\S+:/gm, "$1<out>:"],
    // A part per reading thread, and the default number of threads is the machine's.
    [/\b\d+ segments?, \d+ parts? joined/g, "<n> segments, <n> parts joined"],
    // One thread at first, and a second only if the machine has a core to spare: it may.
    [/; read by \d+ threads?( \(.*\))?$/gm, "; read by <n> threads"],
    [
      /^(This run: \d+ requests \(robots\.txt \d+, retries \d+\) on )\d+ connections: [\d.]+/gm,
      "$1<n> connections: <n>",
    ],
    [/\b\d+ pages\/s/g, "<n> pages/s"],
    [/^ +\d+(\.\d+)? (s|ms) {2}\S+$/gm, "  <slow page>"],
    // Measured sizes and times may cross from one unit to the next between runs.
    [/\b\d+(\.\d+)? (B|KiB|MiB|GiB)\b/g, "<size>"],
    [/\b\d+(\.\d+)? (s|ms)\b/g, "<time>"],
  ]);
});

test("Crawl-delay: requests to the host are that far apart", async () => {
  const site = await startSite({ articles: 1, crawlDelayMs: 100 });
  try {
    const { status, stdout, stderr } = await crawl("delay", [
      "--url",
      site.url,
      "--exclude",
      "/trouble/",
      "--concurrency",
      "8",
    ]);
    assert.is(status, 0, stderr);
    const requests = figure(stdout, /^This run: (\d+) requests/m);
    const seconds = figure(stdout, /^Wall time ([\d.]+) s/m);
    assert.ok(requests >= 10, `${requests} requests`);
    assert.ok(seconds >= 0.9 * (requests - 1) * 0.1, `${requests} requests in ${seconds} s`);
  } finally {
    await site.stop();
  }
});

test("a server that closes kept-alive connections sooner than our pauses: found closed, not used", async () => {
  // It closes a connection 20 ms after its last response (as a server with a short keep-alive
  // timeout does), and asks for 100 ms between requests: every connection the crawler keeps is
  // closed by the time it would be used again. Its FIN has arrived by then, so the crawler opens
  // a new one instead; it used to send each request on the closed one first, and again.
  const pages = 10;
  const idle = new Map<Socket, NodeJS.Timeout>();
  const server = createServer((request, response) => {
    clearTimeout(idle.get(request.socket));
    const robots = request.url === "/robots.txt";
    const links = Array.from({ length: pages }, (_, i) => `<a href="/${i}">${i}</a>`).join(" ");
    response.setHeader("content-type", robots ? "text/plain" : "text/html; charset=utf-8");
    response.end(
      robots ? "User-agent: *\nCrawl-delay: 0.1\n" : `<title>${request.url}</title>${links}`,
    );
    idle.set(
      request.socket,
      setTimeout(() => request.socket.destroy(), 20),
    );
  });
  const { status, stdout, stderr, log } = await crawlServer("short-keep-alive", server);
  for (const timer of idle.values()) clearTimeout(timer);
  assert.is(status, 0, stderr);
  assert.is(count(stdout, "indexed"), pages + 1, stdout);
  assert.is(count(stdout, "error"), 0, stdout);
  assert.is(log.size, pages + 1);
  // Only a server whose 20 ms timer fired 80 ms late, on a busy machine, closes one as it is used.
  const sentAgain = Number(/, (\d+) sent again on a new connection\)/.exec(stdout)?.[1] ?? 0);
  assert.ok(sentAgain <= 2, `${sentAgain} sent again:\n${stdout}`);
});

test("a server that closes a kept-alive connection as a request arrives: sent again, not lost", async () => {
  // Each connection carries one answer; a second request on it finds the server closing it, with
  // no answer and no "Connection: close" before: the race that no look beforehand can win. GET
  // is idempotent, so the request is sent again on a new connection, not counted an error.
  const pages = 10;
  const answered = new WeakSet<Socket>();
  const server = createServer((request, response) => {
    if (answered.has(request.socket)) return request.socket.destroy();
    answered.add(request.socket);
    const links = Array.from({ length: pages }, (_, i) => `<a href="/${i}">${i}</a>`).join(" ");
    response.writeHead(request.url === "/robots.txt" ? 404 : 200, { "content-type": "text/html" });
    response.end(`<title>${request.url}</title>${links}`);
  });
  const { status, stdout, stderr, log } = await crawlServer("closed-as-asked", server);
  assert.is(status, 0, stderr);
  assert.is(count(stdout, "indexed"), pages + 1, stdout);
  assert.is(count(stdout, "error"), 0, stdout);
  assert.is(log.size, pages + 1);
  const sentAgain = figure(stdout, /, (\d+) sent again on a new connection\)/);
  const connections = figure(stdout, /^This run: .* on (\d+) connections/m);
  assert.is(connections, pages + 2, stdout); // robots.txt and each page: an answer each
  assert.ok(sentAgain >= 1, stdout);
});

test("a 503 without Retry-After paces the whole host just under its limit, and no page is lost", async () => {
  // A rate limit as nginx's limit_req keeps one: a bucket of 10 requests, one more every 10 ms
  // (100 a second), and past it a 503 at once, with no Retry-After. Pausing only the URL that got
  // the 503, the crawl went on at full speed, and pages failed all three tries; pausing the whole
  // host for each URL's backoff, it went on at a fifth of the limit.
  const limitPerSecond = 100;
  const bucket = { tokens: 10, at: Date.now() };
  const pages = 150;
  const server = createServer((request, response) => {
    const now = Date.now();
    bucket.tokens = Math.min(10, bucket.tokens + ((now - bucket.at) * limitPerSecond) / 1000);
    bucket.at = now;
    if (bucket.tokens < 1) {
      response.writeHead(503, { "Content-Type": "text/html" }).end("<h1>503</h1>");
      return;
    }
    bucket.tokens--;
    const links = Array.from({ length: pages }, (_, i) => `<a href="/page/${i}">${i}</a>`);
    const page = request.url === "/" || request.url!.startsWith("/page/");
    response.writeHead(page ? 200 : 404, { "Content-Type": "text/html" }); // robots.txt: 404
    response.end(request.url === "/" ? links.join("\n") : `<title>${request.url}</title>`);
  });
  const { status, stdout, stderr, log } = await crawlServer("rate-limited", server);
  assert.is(status, 0, stderr);
  assert.is(count(stdout, "indexed"), pages + 1, stdout);
  assert.is(count(stdout, "error"), 0, stdout);
  assert.is(log.size, pages + 1);
  assert.ok(figure(stdout, /\(robots\.txt \d+, retries (\d+)/) > 0, "some were 503s");
  assert.match(stdout, /^Paced 127\.0\.0\.1:\d+: \d+ answers 429 or 503 without Retry-After; /m);
  // Paced, the crawl goes at most of the limit (about 0.85 of it here); the pauses went at 0.2.
  const rate = figure(stdout, /(\d+) pages\/s/);
  assert.ok(rate >= 0.4 * limitPerSecond, `${rate} pages/s against a limit of ${limitPerSecond}`);
});

test("a path that repeats itself is a crawler trap: excluded, not followed down to --max-depth", async () => {
  // A "soft 404": every path is answered 200 with the same page, which links to "docs/": each
  // page a level deeper than the last, and each a duplicate, whose links are followed all the same.
  const server = createServer((request, response) => {
    response.writeHead(request.url === "/robots.txt" ? 404 : 200, { "Content-Type": "text/html" });
    response.end(`<title>Not found</title><a href="docs/">the docs</a>`);
  });
  const { status, stdout, stderr, log } = await crawlServer("trap", server);
  assert.is(status, 0, stderr);
  const outcomes = [...log.values()].map(({ url, outcome, reason }) =>
    [new URL(url).pathname, outcome, reason ?? ""].join(" "),
  );
  assert.equal(outcomes.sort(), [
    "/ indexed ",
    "/docs/ duplicate same body",
    "/docs/docs/ duplicate same body",
    "/docs/docs/docs/ excluded a path that repeats itself",
  ]);
});

test("a directory listing's links to itself sorted another way are excluded: one listing indexed", async () => {
  // Apache's autoindex and Caddy's browse, as they serve a directory: each column's header links
  // to the same listing sorted by it. Fetched, each was a page of its own, and indexed: its text
  // is the same words in another order, which the duplicate check does not see.
  const apache = ["N", "M", "S", "D"].flatMap((column) => [`?C=${column};O=A`, `?C=${column};O=D`]);
  const caddy = ["name", "size", "time"].map((column) => `?sort=${column}&order=desc`);
  const server = createServer((request, response) => {
    const sorts = request.url!.startsWith("/caddy/") ? caddy : apache;
    const listing = [...sorts, "a.html", "b.html"].map((href) => `<a href="${href}">${href}</a>`);
    // A page of the site's own that takes ?sort=: not a directory, so followed as any link.
    if (request.url === "/")
      listing.push(`<a href="caddy/">caddy</a><a href="shop?sort=name&order=asc">shop</a>`);
    const found = request.url !== "/robots.txt";
    response.writeHead(found ? 200 : 404, { "Content-Type": "text/html" });
    response.end(
      `<title>Index of ${new URL(request.url!, "http://x").pathname}</title>${listing.join("")}`,
    );
  });
  const { status, stderr, log } = await crawlServer("listings", server);
  assert.is(status, 0, stderr);
  const paths = byPath(log);
  for (const path of [
    ...apache.map((sort) => `/${sort}`),
    ...caddy.map((sort) => `/caddy/${sort}`),
  ]) {
    const { outcome, reason } = paths.get(path) ?? {};
    assert.is(
      `${path} ${outcome} ${reason}`,
      `${path} excluded a directory listing sorted another way`,
    );
  }
  assert.is(paths.get("/")?.outcome, "indexed");
  assert.is(paths.get("/caddy/")?.outcome, "indexed");
  assert.is(paths.get("/shop?sort=name&order=asc")?.outcome, "indexed");
});

test("--no-parent: a crawl from /wild/ stays below it, with either engine; the links above are excluded", async () => {
  const site = await startSite({ articles: 5 });
  try {
    const wild = `${site.url}wild/`;
    const [scratch, node, without] = await Promise.all([
      crawl("no-parent-scratch", ["--url", wild, "--no-parent"]),
      crawl("no-parent-node", ["--url", wild, "--no-parent", "--engine", "node"]),
      crawl("with-parent", ["--url", wild, "--max-depth", "1"]),
    ]);
    for (const { status, stdout, stderr, log } of [scratch, node]) {
      assert.is(status, 0, stderr);
      const discovered = figure(stdout, /^URLs discovered +(\d+)$/m);
      assert.is(count(stdout, "sum"), discovered);
      assert.is(log.size, discovered, "one log line per URL");
      const above = [...byPath(log)].filter(([path]) => !path.startsWith("/wild/"));
      for (const [path, { outcome, reason }] of above) {
        assert.is(`${path} ${outcome} ${reason}`, `${path} excluded --no-parent`);
      }
      // /wild/ links to / and /trouble/, the wiki's, and its pages back to /wild/ only.
      assert.ok(above.length >= 2, `${above.length} URLs above /wild/`);
      assert.is(count(stdout, "excluded"), above.length, stdout);
      assert.ok(count(stdout, "indexed") >= 10, stdout);
      // Written raw and percent-encoded two ways: one URL, below /wild/ in each spelling.
      assert.is(byPath(log).get(CYRILLIC_PATH)?.outcome, "indexed");
    }
    assert.equal([...byPath(node.log).keys()].sort(), [...byPath(scratch.log).keys()].sort());
    // Without it, the same start goes up to the wiki.
    assert.is(without.status, 0, without.stderr);
    const paths = byPath(without.log);
    assert.is(paths.get("/")?.outcome, "indexed");
    assert.is(paths.get("/trouble/")?.outcome, "indexed");
    assert.not.ok([...paths.values()].some(({ reason }) => reason === "--no-parent"));
  } finally {
    await site.stop();
  }
});

test("--resume keeps --no-parent, and refuses it to a crawl begun without it", async () => {
  // From an article: every article links up, to its category and to /, and the category links
  // of the articles read after the resume are new URLs there.
  const site = await startSite({ articles: 5 });
  try {
    const article = `${site.url}wiki/c10k-internals`;
    const first = await crawl("no-parent-resume", [
      "--url",
      article,
      "--no-parent",
      "--max-pages",
      "1",
    ]);
    assert.is(first.status, 0, first.stderr);
    assert.match(first.stdout, /--resume goes on/);
    const excludedFirst = count(first.stdout, "excluded");
    const resumed = await crawl("no-parent-resume", ["--resume"]);
    assert.is(resumed.status, 0, resumed.stderr);
    assert.ok(count(resumed.stdout, "excluded") > excludedFirst, resumed.stdout);
    for (const [path, { outcome, reason }] of byPath(resumed.log)) {
      if (path.startsWith("/wiki/")) continue;
      assert.is(`${path} ${outcome} ${reason}`, `${path} excluded --no-parent`);
    }

    const begunWithout = await crawl("parent-resume", ["--url", article, "--max-pages", "1"]);
    assert.is(begunWithout.status, 0, begunWithout.stderr);
    const refused = await crawl("parent-resume", ["--resume", "--no-parent"]);
    assert.is(refused.status, 2, refused.stderr);
    assert.is(refused.stdout, "");
    assert.match(
      refused.stderr,
      /^crawler: --resume goes on with the crawl saved in \S+, which was started without --no-parent: leave --no-parent out to go on with it, or start a new crawl without --resume/,
    );
  } finally {
    await site.stop();
  }
});

test("redirect chains longer than --max-redirects end as an error", async () => {
  start(limitCrawl); // the next test's, meanwhile
  const { status, stderr, log } = await redirectsCrawl();
  assert.is(status, 0, stderr);
  const paths = byPath(log);
  assert.is(paths.get("/redirect/3")?.outcome, "redirected");
  assert.is(paths.get("/redirect/2")?.reason, "more than 1 redirects in a row");
  assert.not.ok(paths.has("/redirect/1"), "the chain stopped before it");
});

test("--max-pages: that many fetched, the rest counted as limit and kept for --resume", async () => {
  const { status, stdout, stderr } = await limitCrawl();
  assert.is(status, 0, stderr);
  const discovered = figure(stdout, /^URLs discovered +(\d+)$/m);
  assert.is(count(stdout, "sum"), discovered);
  assert.ok(count(stdout, "limit (queued)") > 0);
  assert.match(stdout, /--resume goes on/);
});

test("in a terminal, a progress line on stderr: done, queued, in flight, being read, pages/s", async () => {
  // script(1) gives the crawler a pseudo-terminal, as a person's shell would; the crawl of 30
  // slow pages, two at a time, takes about a second, and the line is redrawn every 200 ms. (Not
  // /trouble/, whose slowest page alone takes 2 s; no chart, which takes some CPU for nothing.)
  const out = outDir("progress");
  const crawler = [process.execPath, "--import", "tsx", join("examples", "crawler", "main.ts")];
  const args = ["--out", out, "--articles", "30", "--latency", "50", "--concurrency", "2"];
  args.push("--exclude", "/trouble/", "--svg", "none");
  const command = [...crawler, ...args].map((word) => `'${word}'`).join(" ");
  const { status, stdout, stderr } = await runCommand("script", ["-qec", command, "/dev/null"]);
  assert.is(status, 0, stderr);
  const lines = stdout.split(/\r|\n/).map(stripVTControlCharacters);
  const progress = lines.filter((line) =>
    /^\d+ done, \d+ queued, \d+ in flight, \d+ being read, \d+ pages\/s, \d+ errors$/.test(line),
  );
  assert.ok(progress.length >= 2, `progress lines:\n${stdout}`);
  assert.match(stdout, /^URLs discovered +\d+/m, "the report follows");
});

test("Ctrl-C stops cleanly and saves the frontier; --resume fetches nothing twice", async () => {
  const out = outDir("resume");
  const args = ["--out", out, "--articles", "60", "--latency", "20", "--concurrency", "3"];
  args.push("--svg", "none"); // no chart: some CPU for nothing here
  start(sixtyArticles); // compared with at the end; meanwhile, beside this test's own crawls
  const { child, exited } = await spawnLesson("crawler", args);
  // Interrupt once the log has its first 100 URLs: mid-crawl, whatever the machine's speed.
  const logFile = join(out, "crawl-log.jsonl");
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (existsSync(logFile) && readFileSync(logFile, "utf8").length > 0) break;
  }
  child.kill("SIGINT");
  const { status, stdout, stderr } = await exited;
  assert.is(status, 130, stderr);
  assert.match(
    stderr,
    /SIGINT: stopping after the \d+ requests? under way and \d+ pages? being read/,
  );
  const saved = count(stdout, "not yet (saved)");
  assert.ok(saved > 0, stdout);
  assert.is(count(stdout, "sum"), figure(stdout, /^URLs discovered +(\d+)$/m));
  const first = readCrawl(out);

  const resumed = await runLesson("crawler", ["--out", out, "--resume", "--svg", "none"]);
  assert.is(resumed.status, 0, resumed.stderr);
  assert.not.match(resumed.stdout, /not yet \(saved\)/);
  const discovered = figure(resumed.stdout, /^URLs discovered +(\d+)$/m);
  assert.is(count(resumed.stdout, "sum"), discovered);
  const all = readCrawl(out); // throws if a URL was logged in both runs
  assert.is(all.log.size, discovered);
  for (const url of first.log.keys()) assert.ok(all.log.has(url));
  assert.is(
    new Set(all.pages.map((page) => page.url)).size,
    all.pages.length,
    "no page indexed twice",
  );

  const whole = await sixtyArticles();
  for (const row of [
    "indexed",
    "noindex",
    "duplicate",
    "redirected",
    "not HTML",
    "robots.txt",
    "error",
  ]) {
    assert.is(count(resumed.stdout, row), count(whole.stdout, row), row);
  }
  assert.is(discovered, figure(whole.stdout, /^URLs discovered +(\d+)$/m));
});

for (const engine of ["scratch", "node"]) {
  test(`${engine}: Ctrl-C pressed again and again while the crawl is saved loses nothing`, async () => {
    const out = outDir(`impatient-${engine}`);
    const args = ["--out", out, "--engine", engine, "--articles", "400", "--svg", "none"];
    const { child, printed, exited } = await spawnLesson("crawler", args);
    let status: number | null | undefined;
    void exited.then((run) => (status = run.status));
    const logFile = join(out, "crawl-log.jsonl");
    const until = async (done: () => boolean) => {
      const deadline = Date.now() + 60_000;
      while (!done() && status === undefined && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    await until(() => existsSync(logFile) && readFileSync(logFile, "utf8").length > 0);
    // One Ctrl-C, then more, 10 ms apart, until the crawler says it is saving (the index is
    // joined and the state written then): before, one of them killed it halfway.
    child.kill("SIGINT");
    await until(() => printed.stderr.includes("one moment") || !child.kill("SIGINT"));
    const { stdout, stderr } = await exited;
    assert.is(status, 130, stderr);
    assert.match(stderr, /SIGINT: saving the crawl and its index, one moment/);
    assert.match(stdout, /not yet \(saved\)/);
    assert.ok(existsSync(join(out, "crawl", "state.json")), "the crawl is saved");
    const { log, pages } = readCrawl(out); // the index holds every page the log says is indexed
    assert.ok(pages.length > 0 && log.size > 0);
  });
}

test("odd headers of real servers: raw UTF-8 Location, two Content-Types, none, X-Robots-Tag, 204, 302 without Location", async () => {
  const links = ["/utf8", "/twice", "/untyped", "/untyped-text", "/other-bot", "/ours"];
  links.push("/no-content", "/empty-gzip", "/untyped-large", "/untyped-chunked", "/no-location");
  const server = createServer((request, response) => {
    const html = (title: string) => `<title>${title}</title>`;
    response.setHeader("content-type", "text/html; charset=utf-8");
    switch (decodeURI(request.url!)) {
      case "/":
        return response.end(links.map((link) => `<a href="${link}">${link}</a>`).join(" "));
      case "/utf8": // the bytes of "/вики" as they are, as some servers send them
        return response.writeHead(301, { location: Buffer.from("/вики").toString("latin1") }).end();
      case "/вики":
        return response.end(html("вики"));
      case "/twice":
        response.setHeader("content-type", ["text/html", "text/html; charset=windows-1251"]);
        return response.end(Buffer.from([0xc4, 0xe0])); // "Да" in windows-1251
      case "/untyped": // no Content-Type at all: HTML by its first bytes, as for a browser
        response.removeHeader("content-type");
        return response.end(`<!DOCTYPE html>${html("untyped")}<a href="/found">f</a>`);
      case "/found":
        return response.end(html("found"));
      case "/untyped-text":
        response.removeHeader("content-type");
        return response.end("Not a page. <a href=/nowhere>");
      case "/untyped-large": // a disk image, say, past --max-body: not read, and no error
        response.removeHeader("content-type");
        return response.end(Buffer.alloc(5 * 1024 * 1024));
      case "/untyped-chunked": // the same without a Content-Length: read until past --max-body
        response.removeHeader("content-type");
        for (let mib = 0; mib < 5; mib++) response.write(Buffer.alloc(1024 * 1024));
        return response.end();
      case "/other-bot":
        response.setHeader("x-robots-tag", "googlebot: noindex, nofollow");
        return response.end(`${html("other bot")}<a href="/followed">f</a>`);
      case "/followed":
        return response.end(html("followed"));
      case "/ours":
        response.setHeader(
          "x-robots-tag",
          "googlebot: noarchive, async-from-scratch-crawler: none",
        );
        return response.end(`${html("ours")}<a href="/not-followed">f</a>`);
      case "/no-content":
        return response.writeHead(204).end();
      case "/empty-gzip":
        return response.writeHead(200, { "content-encoding": "gzip" }).end();
      case "/no-location": // a redirect that says not where to
        return response.writeHead(302).end(html("moved, but where?"));
    }
    response.writeHead(404).end();
  });
  const { status, stderr, stdout, log, pages } = await crawlServer("odd-headers", server);
  assert.is(status, 0, stderr);
  assert.equal(
    outcomesByPath(log),
    {
      "/": "indexed ",
      "/utf8": "redirected ",
      "/вики": "indexed ",
      "/twice": "indexed ",
      "/untyped": "indexed ",
      "/found": "indexed ",
      "/untyped-text": "not HTML no Content-Type, and its first bytes are not HTML",
      "/untyped-large": "not HTML no Content-Type, and more than --max-body to look at",
      "/untyped-chunked": "not HTML no Content-Type, and more than --max-body to look at",
      "/other-bot": "indexed ",
      "/followed": "indexed ",
      "/ours": "noindex ",
      "/no-content": "error HTTP 204 No Content",
      "/empty-gzip": "indexed ",
      "/no-location": "error 302 without Location",
    },
    stdout,
  );
  assert.is(byPath(log).get("/no-location")?.status, 302);
  assert.match(stdout, /^ {2}1 x 302 without Location: \/no-location$/m);
  assert.is(pages.find((page) => page.url.endsWith("/twice"))?.text, "Да");
});

test("a gzip or deflate body cut short, in a whole response: indexed as far as it decoded, and listed; both engines", async () => {
  const sentence = "Съешь же ещё этих мягких французских булок, да выпей чаю.";
  const lines = Array.from({ length: 400 }, (_, i) => `<p>${i + 1}: ${sentence}</p>`);
  const text = `<title>Cut short</title>${lines.join("\n")}`;
  const half = (body: Buffer) => body.subarray(0, body.length >> 1);
  const bodies: Record<string, [coding: string, body: Buffer]> = {
    "/gzip": ["gzip", half(gzipSync(text))],
    "/deflate": ["deflate", half(deflateSync(text))],
    "/header": ["gzip", gzipSync(text).subarray(0, 5)], // nothing of the page decodes
  };
  const server = createServer((request, response) => {
    response.setHeader("content-type", "text/html; charset=utf-8");
    if (request.url === "/") {
      return response.end(
        Object.keys(bodies)
          .map((path) => `<a href="${path}">x</a>`)
          .join(""),
      );
    }
    const [coding, body] = bodies[request.url!] ?? [];
    if (body === undefined) return response.writeHead(404).end();
    // The Content-Length is the bytes sent: the response is whole, its gzip stream is not.
    response.writeHead(200, { "content-encoding": coding, "content-length": body.length });
    response.end(body);
  });
  const crawls = await withServer(server, (url) =>
    Promise.all(
      ["scratch", "node"].map((engine) =>
        crawl(`cut-${engine}`, ["--url", url, "--engine", engine]),
      ),
    ),
  );
  for (const { status, stderr, stdout, log, pages } of crawls) {
    assert.is(status, 0, stderr);
    assert.equal(
      outcomesByPath(log),
      {
        "/": "indexed ",
        "/gzip": "indexed ",
        "/deflate": "indexed ",
        "/header": "error bad gzip body: unexpected end of file",
      },
      stdout,
    );
    assert.is(byPath(log).get("/gzip")?.partial, "gzip body cut short");
    assert.is(byPath(log).get("/deflate")?.partial, "deflate body cut short");
    assert.is(byPath(log).get("/")?.partial, undefined);
    for (const path of ["/gzip", "/deflate"]) {
      const page = pages.find((page) => pathOf(page.url) === path)!;
      assert.is(page.title, "Cut short");
      assert.ok(page.text.startsWith(`1: ${sentence} 2: ${sentence}`), path);
      assert.ok(page.text.length < text.length - 100, `${path}: only a part`);
    }
    assert.match(
      stdout,
      "\nRead in part (each counted above by its outcome):\n" +
        "  1 x deflate body cut short: /deflate\n  1 x gzip body cut short: /gzip\n",
    );
    assert.is(count(stdout, "sum"), figure(stdout, /^URLs discovered +(\d+)$/m));
  }
  const texts = crawls.map(({ pages }) => pages.map((page) => page.text).sort());
  assert.equal(texts[1], texts[0], "the same part with both engines");
});

test('<meta http-equiv="refresh">: a redirect within 5 s, in its chain; a later one only a link', async () => {
  const refresh = (seconds: number, to: string) =>
    `<meta http-equiv="refresh" content="${seconds}; url=${to}"><title>Redirecting</title>` +
    `<p>Redirecting to <a href="${to}">${to}</a>`;
  const pages: Record<string, string> = {
    "/": ["/moved", "/notice", "/loop-a", "/nofollow", "/~user/live"]
      .map((to) => `<a href="${to}">x</a>`)
      .join(""),
    "/moved": refresh(0, "/new"), // rustdoc's kind: the page has moved
    "/new": "<title>New</title>",
    "/notice": `${refresh(60, "/later")}<p>Read this first.`, // a page of its own
    "/later": "<title>Later</title>",
    "/loop-a": refresh(0, "/loop-b"),
    "/loop-b": refresh(1, "/loop-a"),
    "/nofollow": `<meta name="robots" content="nofollow">${refresh(0, "/target")}`,
    "/target": "<title>Target</title>",
    // It reloads itself, its own URL spelled as old pages spell a "~": no redirect, a page.
    "/~user/live": `${refresh(5, "/%7Euser/live")}<p>Live.`,
  };
  const server = createServer((request, response) => {
    const page = pages[request.url!];
    if (page === undefined) return response.writeHead(404).end();
    response.writeHead(200, { "content-type": "text/html" }).end(page);
  });
  const { status, stderr, stdout, log } = await crawlServer("refresh", server);
  assert.is(status, 0, stderr);
  assert.equal(
    outcomesByPath(log),
    {
      "/": "indexed ",
      "/moved": "redirected ",
      "/new": "indexed ",
      "/notice": "indexed ",
      "/later": "indexed ",
      "/loop-a": "redirected ",
      "/loop-b": "error redirect loop: /loop-a → /loop-b → /loop-a",
      "/nofollow": "redirected ",
      "/target": "indexed ",
      "/~user/live": "indexed ",
    },
    stdout,
  );
});

test("robots.txt past --max-body is read to 500 KiB; one that is unavailable allows all", async () => {
  // One server per robots.txt (a host is its host and port), all crawled at once.
  const kib = (n: number) => `# ${"x".repeat(n * 1024)}\n`;
  const robots: Record<string, (response: ServerResponse) => void> = {
    // Its rule lies past --max-body (64 KiB), and another past 500 KiB: ignored.
    large: (response) =>
      response.end(`${kib(200)}User-agent: *\nDisallow: /secret\n${kib(400)}Disallow: /a\n`),
    "empty gzip": (response) => response.writeHead(200, { "content-encoding": "gzip" }).end(),
    "unknown coding": (response) => response.writeHead(200, { "content-encoding": "zz" }).end("?"),
    "redirect loop": (response) => response.writeHead(301, { location: "/robots.txt" }).end(),
    "six redirects": (response) => response.writeHead(301, { location: "/r" }).end(),
    "no Location": (response) => response.writeHead(302).end(),
  };
  const servers = Object.entries(robots).map(([name, answer]) =>
    createServer((request, response) => {
      const redirects = Number(/^\/r(\d*)$/.exec(request.url!)?.[1] ?? -1) + 1;
      if (request.url === "/robots.txt") return answer(response);
      if (redirects > 0 && redirects < 6) {
        return response.writeHead(301, { location: `/r${redirects}` }).end();
      }
      if (redirects > 0) return response.end("User-agent: *\nDisallow: /\n"); // not reached
      response.setHeader("content-type", "text/html");
      response.end(
        `<title>${name} ${request.url}</title><a href="/a">a</a><a href="/secret">s</a>`,
      );
    }),
  );
  try {
    const urls = [];
    for (const server of servers) {
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      urls.push("--url", `http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    }
    const { status, stdout, stderr, log } = await crawl("robots-unavailable", [
      ...urls,
      "--max-body",
      "65536",
      "--svg",
      "none",
    ]);
    assert.is(status, 0, stderr);
    assert.is(count(stdout, "error"), 0, stdout);
    assert.is(count(stdout, "indexed"), 3 * servers.length - 1, stdout);
    const secret = [...log.values()].filter((entry) => entry.outcome === "robots.txt");
    assert.equal(
      secret.map((entry) => entry.url),
      [`${urls[1]}secret`],
    );
  } finally {
    for (const server of servers) server.close();
  }
});

test("Ctrl-C while robots.txt waits for its Retry-After: stops at once, the host's URLs kept", async () => {
  let robotsAsked = 0;
  const server = createServer((request, response) => {
    if (request.url === "/robots.txt") robotsAsked++;
    response.writeHead(503, { "retry-after": "30", "content-length": "0" }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const out = outDir("robots-wait");
    const args = ["--out", out, "--url", `http://127.0.0.1:${port}/`, "--svg", "none"];
    const { child, exited } = await spawnLesson("crawler", args);
    const deadline = Date.now() + 60_000;
    while (robotsAsked === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const interrupted = Date.now();
    child.kill("SIGINT");
    const { status, stdout, stderr } = await exited;
    const stoppingMs = Date.now() - interrupted;
    assert.is(status, 130, stderr);
    assert.ok(stoppingMs < 10_000, `${stoppingMs} ms to stop: the 30 s Retry-After was waited`);
    assert.is(robotsAsked, 1);
    assert.is(count(stdout, "not yet (saved)"), 1, stdout); // the start URL, for --resume
    assert.is(count(stdout, "error"), 0, stdout);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test("without --svg, a crawl whose output is no terminal draws no chart, and says why", async () => {
  const { status, stdout, stderr } = await sixtyArticles();
  assert.is(status, 0, stderr);
  assert.ok(
    stdout.endsWith("\nchart: not drawn (the output is not a terminal: --svg FILE draws it)\n"),
    stdout,
  );
});

test("--parsers 2: each thread's part joined as a segment, resumed too; search answers as from one", async () => {
  const one = await sixtyArticles();
  assert.is(one.status, 0, one.stderr);
  // Without --parsers: one thread, and more if pages waited while a core was idle.
  assert.match(
    one.stdout,
    /; read by (1 thread|\d+ threads \(\d+ started after [^)]*, as pages waited and a core was idle\))$/m,
  );
  const first = await crawl("two-threads", [
    "--articles",
    "60",
    "--parsers",
    "2",
    "--max-pages",
    "40",
  ]);
  assert.is(first.status, 0, first.stderr);
  assert.match(
    first.stdout,
    /^Index: \d+ pages \(\d+ added\) in .* in 2 segments, 2 parts joined in .*; read by 2 threads$/m,
  );
  const resumed = await runLesson("crawler", ["--out", first.out, "--resume", "--parsers", "2"]);
  assert.is(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, / in 4 segments, 2 parts joined in /);
  readCrawl(first.out); // every page logged as indexed is in the index, once
  // The same pages, so the same hits and scores; only the doc ids (the order pages came in) and
  // so the order of equal scores may differ.
  const answers = (out: string) => {
    const index = Index.open(out);
    try {
      return ["сокеты", "epoll", '"event loop"', "sokcets", "потоки процессы"].map((query) => {
        const { total, hits, spelling } = index.search(query, { limit: 1000 });
        // Each crawl starts a fixture site of its own, on a port of its own.
        const found = hits.map(({ url, score }) => `${score} ${new URL(url).pathname}`).sort();
        return { total, found, spelling };
      });
    } finally {
      index.close();
    }
  };
  const expected = answers(one.out);
  assert.ok(expected.every(({ total }) => total > 0));
  assert.equal(answers(first.out), expected);
});

test("--parsers 3: a text met by two threads is indexed once and counted a duplicate", async () => {
  // 30 pairs of pages whose bytes differ (a comment) and whose title and text do not: the
  // body digests see two pages, the index one. Spread over three threads, each pair's two pages
  // mostly go to two threads; each thread's index alone would hold its own, and the crawl counted
  // the page indexed twice until the join dropped one.
  const pairs = 30;
  const server = createServer((request, response) => {
    response.writeHead(request.url === "/robots.txt" ? 404 : 200, { "Content-Type": "text/html" });
    const twin = /^\/(\d+)\/(a|b)$/.exec(request.url!);
    if (twin === null) {
      const links = Array.from(
        { length: pairs },
        (_, i) => `<a href="/${i}/a">a</a> <a href="/${i}/b">b</a>`,
      );
      return response.end(`<title>twins</title>${links.join("\n")}`);
    }
    response.end(`<!-- ${twin[2]} --><title>Twin ${twin[1]}</title><p>The same words ${twin[1]}.`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const { status, stdout, stderr, log, pages } = await crawl("twins", [
      ...["--url", `http://127.0.0.1:${port}/`, "--parsers", "3"],
    ]);
    assert.is(status, 0, stderr);
    assert.is(count(stdout, "indexed"), pairs + 1, stdout);
    assert.is(count(stdout, "duplicate"), pairs, stdout);
    assert.is(pages.length, pairs + 1, "every page logged as indexed is in the index");
    assert.match(
      stdout,
      new RegExp(`^Index: ${pairs + 1} pages \\(${pairs + 1} added\\) in `, "m"),
    );
    assert.not.match(stdout, /repeated page/);
    const duplicates = [...log.values()].filter(({ outcome }) => outcome === "duplicate");
    assert.is(new Set(duplicates.map(({ url }) => url.split("/")[3])).size, pairs, "one of each");
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test("pnpm run crawler starts from a bundle of the same code, rebuilt when a file changes", async () => {
  const { status, stdout, stderr } = await runPnpm(["run", "crawler", "--", "--help"]);
  assert.is(status, 0, stderr);
  assert.match(stdout, /^usage: pnpm run crawler \[--url URL\]\.\.\. /);
  // A default that depends on the machine: its rule and what it comes to here, said once.
  const parsers = stdout.split("\n").find((line) => line.startsWith("  --parsers")) ?? stdout;
  assert.match(
    parsers,
    /\(default 1, more while heavy pages wait and a core is idle: up to one per core, 4 at most, so at most \d+ here\)$/,
  );
  assert.is(parsers.match(/default/g)?.length, 1, parsers);
  assert.ok(existsSync(join(root, "examples/crawler/dist/main.mjs")));
  assert.ok(existsSync(join(root, "examples/crawler/dist/tasks.mjs")), "the worker's bundle too");
});

test("a second crawl into the same --out is refused while the first runs", async () => {
  const out = outDir("locked");
  mkdirSync(join(out, "parts"), { recursive: true });
  writeFileSync(join(out, "parts", "write.lock"), `${process.pid}\n`); // a live process
  const { status, stdout, stderr } = await runLesson("crawler", ["--out", out]);
  assert.is(status, 1);
  assert.is(stdout, "");
  assert.match(stderr, /^crawler: another program \(pid \d+\) is writing the index in .*parts/);
  assert.ok(existsSync(join(out, "parts", "write.lock")), "its lock is left alone");
});

test("--resume with nothing saved says so; bad flags say what is wrong", async () => {
  // Side by side: nothing here is timed.
  const [nothing, regex, engine] = await Promise.all([
    runLesson("crawler", ["--out", outDir("nothing"), "--resume"]),
    runLesson("crawler", ["--exclude", "(unclosed"]),
    runLesson("crawler", ["--engine", "uring"]),
  ]);
  assert.is(nothing.status, 2);
  assert.match(nothing.stderr, /^crawler: no saved crawl in .*: nothing to resume/);
  assert.is(regex.status, 2);
  assert.match(regex.stderr, /^crawler: --exclude: Invalid regular expression/);
  assert.is(engine.status, 2);
  assert.match(engine.stderr, /--engine must be one of scratch, node/);
});

test.after(() => {
  rmSync(scratchDir, { recursive: true, force: true });
  assert.equal(siteProcesses(), [], "no fixture site left running");
});

test.run();
