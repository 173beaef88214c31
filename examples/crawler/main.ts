// crawler: the search engine's crawler, for real: it crawls whole sites, as completely as
// `wget -r` and faster, and writes what it reads into the search index.
//
// Lecture: "Как работать с сетью с помощью сокетов?", "Допустим, мы делаем поисковик": the
//   five steps (a list of URLs; fetch them; read each page; find its links; repeat).
// Builds on: lesson 6's async/await on a hand-made loop, grown up in shared/loop; the sans-I/O
//   HTTP helper with its keep-alive cycle (shared/http.ts); the HTML reader (shared/html.ts).
//   crawler.ts is the crawl itself; fetcher.ts speaks HTTP/1.1 over kept-alive connections;
//   engine.ts is the seam under both (our loop, or Node's); page.ts reads a page in a worker
//   thread and indexes it (readers.ts, tasks.ts); stores.ts holds the frontier and the seen sets,
//   disk.ts the same on disk past --memory-urls. With --frontier redis://host:port/ the
//   frontier, the seen sets and the counts live in Redis (redis-stores.ts, on our own client:
//   redis.ts), and several crawlers share the crawl: --workers N starts N of them (workers.ts),
//   or start them by hand, on other machines too.
// Leaves out: TLS (https links are counted, not followed), JavaScript-rendered pages, sitemaps.
// Run: pnpm run crawler [--url URL]... [--concurrency N] [--per-host N] [--max-pages N]
//        [--max-depth N] [--exclude REGEX]... [--no-parent] [--engine scratch|node] [--out DIR]
//        [--resume] [--memory-urls N] [--svg FILE] [--merge DIR]...
//        [--frontier redis://host:port/ [--workers N] [--lease MS] [--checkpoint MS]]
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import {
  CHART_ROWS,
  type Span,
  chartFlags,
  drawChart,
  makeDirectory,
  startLesson,
  siteFlags,
} from "@async-from-scratch/shared";
import {
  DEFAULT_INDEX_DIR,
  displayUrl,
  lock,
  mergeIndexes,
  unlock,
} from "@async-from-scratch/shared/search";
import { LAZY_MAX, startSite, type RunningSite } from "@async-from-scratch/shared/site";
import { Crawler, type CrawlOptions, type CrawlSummary } from "./crawler.ts";
import { ENGINES, createEngine, type EngineName } from "./engine.ts";
import { Fetcher } from "./fetcher.ts";
import {
  OUTCOMES,
  Tally,
  bytes,
  formatReport,
  plural,
  reasonOf,
  shortPath,
  type Entry,
} from "./report.ts";
import { openReaders } from "./readers.ts";
import { DiskFrontier, DiskSeenSet } from "./disk.ts";
import { RedisCrawl } from "./redis-stores.ts";
import { parseRedisUrl } from "./redis.ts";
import { loadCrawl, saveCrawl } from "./stores.ts";
import { normalizeUrl } from "./urls.ts";
import { indexesLeft, runWorkers, sharedTotalsLine } from "./workers.ts";

const NAME = "async-from-scratch-crawler";
// Reading and indexing are most of a crawl's CPU (README, "Both cores"). Without --parsers, one
// thread reads, and more start, up to one per core (four at most), while the pages waiting for
// them are more work than starting one costs and a core is idle (readers.ts): where the pages are
// light, or the loop's thread and the server keep the cores busy, a second thread only costs.
const READING_THREADS = { first: 1, most: Math.max(1, Math.min(4, availableParallelism())) };

const args = startLesson("crawler", {
  url: {
    type: "url",
    multiple: true,
    ipv6: true,
    help: "start here (again for more sites); default: the fixture site",
  },
  concurrency: {
    type: "integer",
    default: 32,
    min: 1,
    max: 10_000,
    help: "requests at once, in all",
  },
  "per-host": {
    type: "integer",
    default: 6,
    min: 1,
    max: 1_000,
    help: "requests (and connections) at once to one host",
  },
  "max-pages": {
    type: "integer",
    default: 100_000,
    min: 1,
    max: 100_000_000,
    help: "URLs fetched at most",
  },
  "max-depth": {
    type: "integer",
    default: 50,
    min: 0,
    max: 10_000,
    help: "links followed from a start URL at most",
  },
  exclude: {
    type: "string",
    multiple: true,
    placeholder: "REGEX",
    help: "skip URLs this regular expression finds (again for more)",
  },
  "no-parent": {
    type: "boolean",
    help: "stay at or below the directory of each start URL on its site, as wget -np",
  },
  engine: {
    type: "string",
    placeholder: "scratch|node",
    default: "scratch",
    choices: ENGINES,
    help: "whose event loop and sockets",
  },
  out: {
    type: "string",
    placeholder: "DIR",
    default: DEFAULT_INDEX_DIR,
    help: "the index goes here, and the crawl's state to its crawl/",
  },
  resume: {
    type: "boolean",
    help: "go on with the crawl saved in --out (after Ctrl-C or --max-pages)",
  },
  parsers: {
    type: "integer",
    defaultRule:
      "1, more while heavy pages wait and a core is idle: up to one per core, 4 at most, " +
      `so at most ${READING_THREADS.most} here`,
    min: 0,
    max: 64,
    help: "worker threads that read and index pages; 0: the loop's own thread does",
  },
  timeout: {
    type: "integer",
    default: 10_000,
    min: 1,
    max: 600_000,
    help: "ms for one request, from connect to the last byte",
  },
  "max-redirects": {
    type: "integer",
    default: 10,
    min: 0,
    max: 100,
    help: "redirects in a row at most (browsers allow 20, Googlebot 10)",
  },
  retries: {
    type: "integer",
    default: 2,
    min: 0,
    max: 10,
    help: "tries after the first, for network errors, 5xx and 429",
  },
  "max-body": {
    type: "integer",
    default: 4 * 1024 * 1024,
    min: 1024,
    max: 2 ** 30,
    help: "bytes of a page at most (decompressed)",
  },
  "memory-urls": {
    type: "integer",
    default: 100_000,
    min: 0,
    max: 100_000_000,
    help: "URLs the frontier and each seen set keep in memory; past them, on disk in --out",
  },
  latency: siteFlags(0).latency,
  articles: {
    type: "integer",
    default: 200,
    min: 1,
    max: LAZY_MAX,
    help: "the fixture site's articles (past 10000, each page is made when asked for)",
  },
  svg: {
    ...chartFlags().svg,
    help:
      "write the timeline chart to FILE (default out/crawler.svg in the project when the output " +
      "is a terminal; none: no chart)",
  },
  frontier: {
    type: "string",
    placeholder: "redis://HOST:PORT/",
    help: "share the crawl through this Redis: frontier, seen sets, counts",
  },
  workers: {
    type: "integer",
    default: 0,
    min: 0,
    max: 64,
    help: "start this many crawler processes sharing --frontier (0: crawl here)",
  },
  merge: {
    type: "string",
    multiple: true,
    placeholder: "DIR",
    help: "merge the index in DIR (again for more) into --out, and stop",
  },
  lease: {
    type: "integer",
    default: 30_000,
    min: 100,
    max: 3_600_000,
    help: "ms before the URLs a silent crawler took go to another",
  },
  checkpoint: {
    type: "integer",
    default: 2000,
    min: 10,
    max: 3_600_000,
    help: "ms between commits of the index with --frontier: what a kill costs",
  },
});
const exclude = args.exclude.map((pattern) => {
  try {
    return new RegExp(pattern);
  } catch (error) {
    // "Nothing to repeat" for a "?" meant as itself: say how to write one.
    const hint =
      "a character that means something in a pattern (. ? * + ( ) [ { | ^ $) stands for itself after a backslash, as in '\\?'";
    process.stderr.write(`crawler: --exclude: ${(error as Error).message}; ${hint}\n`);
    process.exit(2);
  }
});
const frontierUrl = args.frontier === undefined ? null : redisUrl(args.frontier);
if (args.workers > 0 && frontierUrl === null)
  usage("--workers needs --frontier redis://HOST:PORT/");
// Crawlers that share a crawl must crawl the same URLs: a fixture site of each one's own would
// not do (--workers starts one and gives them its URL).
if (frontierUrl !== null && args.workers === 0 && args.url.length === 0) {
  usage("--frontier needs --url: every crawler sharing it must start from the same site");
}
if (frontierUrl !== null && args.resume && args.url.length === 0) {
  usage("--resume with --frontier needs --url: the fixture site would get a new port");
}
const out = resolve(args.out);
// The indexes of crawlers started by hand (each with an --out of its own), joined into one.
if (args.merge.length > 0) {
  try {
    // A crawler killed before it merged its index left the parts it committed: those.
    const dirs = [...new Set(args.merge.map((dir) => resolve(dir)))];
    const sources = dirs.flatMap((dir) => {
      const left = indexesLeft(dir);
      return left.length > 0 ? left : [dir]; // no index there: mergeIndexes says so
    });
    const merged = mergeIndexes(sources, out);
    process.stdout.write(`${merged.pages} pages in ${out}: ${bytes(merged.bytes)}\n`);
    process.exit(0);
  } catch (error) {
    usage(`--merge: ${(error as Error).message}`);
  }
}
const stateDir = join(out, "crawl");
const logFile = join(out, "crawl-log.jsonl");
// Where the stores go past --memory-urls: the files of this run only (what --resume needs is
// saved into stateDir at the end). A crawl that crashed left its own: they are deleted.
const spillDir = join(out, "spill");
// One crawl at a time per --out: the lock of out/parts, where the threads write their indexes.
const workDir = join(out, "parts");
try {
  makeDirectory(workDir);
} catch (error) {
  process.stderr.write(
    `crawler: --out ${args.out}: cannot write the index there: ${(error as Error).message}\n`,
  );
  process.exit(1);
}
try {
  lock(workDir);
  rmSync(spillDir, { recursive: true, force: true });
} catch (error) {
  process.stderr.write(`crawler: ${(error as Error).message}\n`);
  process.exit(1);
}

// A resumed crawl takes its start URLs (and the fixture site's port and size, and --no-parent)
// from the saved one.
interface Saved extends CrawlSummary {
  fixture: { port: number; articles: number; latencyMs: number } | null;
  noParent: boolean;
}
// With node --expose-gc, garbage is collected before memory is measured: the figures are then
// what the crawl keeps, not what the collector has not got to yet (the tests use it).
globalThis.gc?.();
const before = process.memoryUsage();
// The stores of a crawl of this process alone: in memory, then on disk past --memory-urls. With
// --frontier, the crawl is kept in Redis, not in --out: --resume just does not clear it.
const local = frontierUrl === null ? newStores() : null;
const saved = args.resume && local !== null ? loadSaved(local) : null;
// --resume goes on with the saved crawl, from its own start URLs: a --url of another crawl would
// be ignored without a word, and the person would think that crawl had been made.
if (saved !== null && args.url.length > 0) {
  const given = args.url.map((url) => normalizeUrl(url.href)!);
  const from = saved.summary.startUrls;
  if (saved.summary.fixture !== null || given.some((url) => !from.includes(url))) {
    const what = saved.summary.fixture !== null ? "the fixture site" : from.join(" and ");
    usage(
      `--resume goes on with the crawl saved in ${shortPath(stateDir)}, which started from ${what}, ` +
        `not ${given.join(" and ")}: leave --url out to go on with it, ` +
        `or start a new crawl without --resume (another --out keeps this one)`,
    );
  }
}
// --no-parent says where the crawl goes, as its start URLs do: a resumed crawl keeps it, and one
// begun without it is not given it halfway (the URLs above its start fetched already would stay).
if (saved !== null && args["no-parent"] && !saved.summary.noParent) {
  usage(
    `--resume goes on with the crawl saved in ${shortPath(stateDir)}, which was started without ` +
      `--no-parent: leave --no-parent out to go on with it, ` +
      `or start a new crawl without --resume (another --out keeps this one)`,
  );
}
const noParent = saved?.summary.noParent ?? args["no-parent"];
let site: RunningSite | null = null;
let fixture = saved?.summary.fixture ?? null;
let startUrls: string[];
if (saved !== null) {
  startUrls = saved.summary.startUrls;
} else if (args.url.length > 0) {
  startUrls = [...new Set(args.url.map((url) => normalizeUrl(url.href)!))];
} else {
  fixture = { port: 0, articles: args.articles, latencyMs: args.latency };
  startUrls = [];
}
if (fixture !== null) {
  site = await startSite({
    port: fixture.port,
    articles: fixture.articles,
    latencyMs: fixture.latencyMs,
  });
  fixture = { ...fixture, port: site.port };
  // /wild/ too: the real sites' cases, which the wiki does not link (shared/site/wild.ts).
  if (saved === null) startUrls = [site.url, `${site.url}wild/`];
}
// The report names a page by its path alone only where that cannot be misread: where the crawl
// started on one host (two sites both have a /index.html). That host, or null.
const startHosts = new Set(startUrls.map((start) => new URL(start).host));
const onlyHost = startHosts.size === 1 ? [...startHosts][0]! : null;

if (args.workers > 0) {
  const code = await runWorkers({
    count: args.workers,
    frontier: frontierUrl!,
    fresh: !args.resume,
    startUrls,
    out,
    flags: childFlags(),
  });
  await site?.stop();
  unlock(workDir);
  process.exit(code);
}

const options: CrawlOptions = {
  concurrency: args.concurrency,
  perHost: args["per-host"],
  maxPages: args["max-pages"],
  maxDepth: args["max-depth"],
  exclude,
  noParent,
  maxRedirects: args["max-redirects"],
  retries: args.retries,
  retryBaseMs: 500,
  timeoutMs: args.timeout,
  maxBodyBytes: args["max-body"],
  // Enough to keep the threads busy while pages arrive, even when a busy machine is slow to
  // wake them; and twice --concurrency bodies held in memory at most (crawler.ts, #full).
  maxReading: Math.max(16, args.concurrency),
  robotsName: NAME,
  maxDelayMs: 60_000,
};

const engine = createEngine(args.engine as EngineName);
// Sharing a crawl, a crawler may be killed while the others go on: its log is written line by
// line, so that it holds every URL it settled.
const log = openLog(logFile, saved !== null, frontierUrl === null ? 100 : 1);
// The timeline chart (--svg) draws the crawl's first requests: those are kept, the rest counted.
const timeline = { spans: [] as Span[], count: 0, endMs: 0 };

const run = await engine.run(async () => {
  let shared: RedisCrawl | null = null;
  if (frontierUrl !== null) {
    try {
      shared = await RedisCrawl.open(engine, frontierUrl, { leaseMs: args.lease, pollMs: 100 });
    } catch (error) {
      const reason = reasonOf(error, 10_000);
      return { failed: new Error(`Redis at ${frontierUrl}: ${reason}`), crawler: null };
    }
  }
  // The stores: in this process (and the saved crawl, with --resume), or shared through Redis.
  const tally =
    shared?.tally ?? (saved === null ? new Tally() : Tally.fromJSON(saved.summary.tally));
  tally.onEntry = (entry) => log.write(entry);
  const frontier = shared?.frontier ?? local!.frontier;
  const seen = shared?.seen ?? local!.seen;
  const digests = shared?.digests ?? local!.digests;
  const stores = { frontier, seen, digests, tally };

  const fetcher = new Fetcher(engine, {
    timeoutMs: options.timeoutMs,
    maxBodyBytes: options.maxBodyBytes,
    userAgent: `${NAME}/1.0`,
    onTiming: ({ index, url, ...span }) => {
      if (index < CHART_ROWS) timeline.spans.push({ label: pathOf(url), ...span });
      timeline.count++;
      timeline.endMs = Math.max(timeline.endMs, span.endMs);
    },
  });
  // Sharing the crawl, a URL is done only once its page is durable: each thread commits its part
  // of the index every --checkpoint ms (and when the crawl is quiet), so a kill costs the pages read
  // since. Alone, the index is made once, at the end, as the state --resume reads is saved.
  const checkpointMs = frontierUrl === null ? null : args.checkpoint;
  const threads =
    args.parsers === undefined ? READING_THREADS : { first: args.parsers, most: args.parsers };
  const readers = openReaders(engine, out, threads, saved !== null, checkpointMs);
  const crawler = new Crawler(
    options,
    { engine, fetcher, frontier, seen, digests, readers, tally },
    saved?.summary ?? startUrls,
  );
  // The reading threads open their indexes while the first requests go out. One that cannot
  // (another crawler is writing this --out) stops the crawl.
  let failed: Error | null = null;
  readers.failure.catch((error: Error) => {
    failed = error;
    crawler.abort();
  });
  // So does losing Redis: the URLs this crawler holds go to another once their lease is out.
  if (shared !== null) {
    shared.onFailure = (error) => {
      failed ??= new Error(`Redis at ${frontierUrl}: ${reasonOf(error, 10_000)}`);
      crawler.abort();
    };
  }

  // Ctrl-C once: no new requests, those under way finish. Twice: those are cancelled too. Once
  // the crawl is over, its index is joined and its state saved for --resume: a Ctrl-C then (a
  // second one, impatient) must not kill the process halfway and lose both, so it only says so.
  let interrupted: "SIGINT" | "SIGTERM" | null = null;
  let saving = false;
  const undoSignals = engine.onSignal((signal) => {
    if (saving) {
      process.stderr.write(`\n${signal}: saving the crawl and its index, one moment\n`);
    } else if (interrupted === null) {
      interrupted = signal;
      // Pages fetched and waiting for a reading thread can far outnumber the fetches: say which.
      const { fetching, reading } = crawler;
      const underWay = `${plural(fetching, "request")} under way and ${plural(reading, "page")} being read`;
      const again = signal === "SIGINT" ? "Ctrl-C again" : "a second signal";
      process.stderr.write(`\n${signal}: stopping after the ${underWay} (${again}: at once)\n`);
      crawler.stop();
    } else {
      crawler.abort();
    }
  });
  try {
    const progress = process.stderr.isTTY ? showProgress(crawler, tally) : null;
    const began = engine.time();
    try {
      await crawler.run();
      await shared?.close(); // gives back the URLs taken and left
    } catch (error) {
      await readers.abort(); // the index stays as it was
      if (failed !== null) return { failed: failed as Error, crawler: null };
      throw error; // a bug
    } finally {
      progress?.abort();
      saving = true;
      fetcher.close();
    }
    const wallMs = engine.time() - began;
    if (failed !== null) {
      await readers.abort();
      return { failed: failed as Error, crawler: null };
    }
    // A crawl that read no page (a mistyped --url, a server that is down, an http:// site that
    // redirects to https://) leaves the index and the saved crawl in --out as they were: an empty
    // index in their place would lose a whole crawl to a typo.
    if (local !== null && interrupted === null && readNothing(tally)) {
      await readers.abort();
      rmSync(workDir, { recursive: true, force: true }); // the threads' empty parts
      const indexLine = `left as it was in ${shortPath(out)}: no page was read`;
      return { crawler, fetcher, stores, wallMs, indexLine, totals: null, interrupted: null };
    }
    const indexLine = await readers.close();
    if (local !== null) {
      const summary: Saved = { ...crawler.summary(), fixture, noParent };
      saveCrawl(stateDir, { summary, ...local });
    }
    const totals =
      frontierUrl === null ? null : await sharedTotalsLine(engine, frontierUrl, shared!.takenOver);
    return {
      crawler,
      fetcher,
      stores,
      wallMs,
      indexLine,
      totals,
      interrupted: interrupted as string | null,
    };
  } finally {
    undoSignals(); // the state is saved, or the crawl failed
  }
});
await engine.close();
await site?.stop();
log.close();
unlock(workDir);
if (run.crawler === null) {
  process.stderr.write(`crawler: ${run.failed.message}\n`);
  process.exit(1);
}
const { crawler, fetcher, stores, wallMs, indexLine, totals, interrupted } = run;
const { frontier, seen, digests, tally } = stores;
const disk =
  local === null
    ? null
    : {
        memoryUrls: args["memory-urls"],
        seenBytes: local.seen.diskBytes,
        digestBytes: local.digests.diskBytes,
        frontierBytes: local.frontier.peakDiskBytes,
      };

// ---- the report ----------------------------------------------------------------------------------

globalThis.gc?.();
const memory = process.memoryUsage();
const report = formatReport({
  where: (fixture !== null ? "the fixture site, " : "") + startUrls.join(" and "),
  engine: engine.name,
  options,
  tally,
  // A crawler sharing a crawl reports the URLs it settled itself; the line below, the whole crawl.
  discovered: totals === null ? seen.size : tally.total,
  left: totals === null ? frontier.size : 0,
  interrupted: interrupted !== null,
  crawl: crawler.stats,
  fetchedThisRun: crawler.stats.fetched - (saved?.summary.fetched ?? 0),
  http: fetcher.stats,
  wallMs,
  memory,
  before,
  peakRss: process.resourceUsage().maxRSS * 1024,
  disk,
  index: indexLine,
  stateDir: shortPath(stateDir),
  pathOf,
});
process.stdout.write(report);
if (totals !== null) process.stdout.write(totals);
if (local !== null) {
  for (const store of [local.frontier, local.seen, local.digests]) store.close();
}
rmSync(spillDir, { recursive: true, force: true });

// The timeline as a picture (--svg names the file), drawn now that the loop has finished: the
// charting library is loaded only now, and its rendering is a promise of Node's own. It is for a
// person: by default it is drawn when the output is a terminal, and a script (a pipe, a file, a
// benchmark) asks for it with --svg FILE. Loading Vega and drawing took 0.3 s after a crawl of
// 1.9 s (the PostgreSQL docs), which a script timing the crawler against wget would count.
console.log(
  args.svg === undefined && !process.stdout.isTTY
    ? "chart: not drawn (the output is not a terminal: --svg FILE draws it)"
    : await drawChart(args.svg, ({ timelineChart }) =>
        timelineChart("crawler", timeline.spans, timeline),
      ),
);
// Not 0 otherwise: drawChart sets 1 when the chart cannot be written.
if (interrupted !== null) process.exitCode = interrupted === "SIGINT" ? 130 : 143;
// A crawl that read no page (a host that does not resolve, a port nothing listens on, a 404 for
// a start page, a redirect to https:) failed, as wget's and curl's do: a script that runs it
// learns so from the status, and the person from one line below the report.
if (interrupted === null && totals === null && readNothing(tally)) {
  const { counts } = tally;
  const why =
    counts.error > 0
      ? `${plural(counts.error, "URL")} ended in an error (the report's "Errors:" says which)`
      : `${OUTCOMES.filter((outcome) => counts[outcome] > 0)
          .map((outcome) => `${counts[outcome]} ${outcome}`)
          .join(", ")} (the crawl log, ${shortPath(logFile)}, says where each went)`;
  process.stderr.write(`crawler: no page could be read: ${why}\n`);
  process.exitCode = 1;
}

// ---- helpers ---------------------------------------------------------------------------------------

function usage(message: string): never {
  process.stderr.write(`crawler: ${message}\n`);
  process.exit(2);
}

/**
 * Whether the crawl read no page: it failed. Not only when every URL was an error: a start URL
 * that redirects to https: (most http:// sites now), or that robots.txt or an --exclude keeps
 * out, leaves a crawl that read nothing without one.
 */
function readNothing(tally: Tally): boolean {
  const read = ["indexed", "noindex", "duplicate", "not HTML"] as const;
  return read.every((outcome) => tally.counts[outcome] === 0);
}

function redisUrl(text: string): string {
  try {
    return parseRedisUrl(text).url;
  } catch (error) {
    return usage(`--frontier: ${(error as Error).message}`);
  }
}

/** The flags every crawler started by --workers gets from this one, as given or by default. */
function childFlags(): string[] {
  const flags: string[] = [];
  const integers = ["concurrency", "per-host", "max-pages", "max-depth", "parsers", "timeout"];
  integers.push("max-redirects", "retries", "max-body", "lease", "checkpoint");
  for (const name of integers) {
    const value = args[name as keyof typeof args];
    if (value !== undefined) flags.push(`--${name}`, String(value));
  }
  for (const pattern of args.exclude) flags.push("--exclude", pattern);
  if (args["no-parent"]) flags.push("--no-parent");
  flags.push("--engine", args.engine, "--svg", "none"); // a chart of each would overwrite the others
  return flags;
}

/** The frontier and the seen sets: in memory up to --memory-urls, on disk past them. */
function newStores() {
  const memoryUrls = args["memory-urls"];
  return {
    frontier: new DiskFrontier(join(spillDir, "frontier"), memoryUrls),
    seen: new DiskSeenSet(join(spillDir, "seen"), memoryUrls),
    digests: new DiskSeenSet(join(spillDir, "digests"), memoryUrls),
  };
}

function loadSaved(into: ReturnType<typeof newStores>) {
  try {
    return loadCrawl<Saved>(join(resolve(args.out), "crawl"), into);
  } catch (error) {
    process.stderr.write(`crawler: ${(error as Error).message}\n`);
    process.exit(2);
  }
}

function pathOf(url: string): string {
  const parsed = new URL(url);
  // As an address bar shows it: /вики/Сокет, not /%D0%B2%D0%B8... (the log keeps the URL as is).
  return displayUrl(parsed.host === onlyHost ? parsed.pathname + parsed.search : url);
}

/** A line on stderr, redrawn every 200 ms: only for a person watching a terminal. */
function showProgress(crawler: Crawler, tally: Tally): AbortController {
  const controller = new AbortController();
  void (async () => {
    const began = engine.time();
    try {
      for (;;) {
        await engine.sleep(200, controller.signal);
        const rate = (crawler.stats.fetched / ((engine.time() - began) / 1000)).toFixed(0);
        const text =
          `${tally.total} done, ${crawler.queued} queued, ${crawler.fetching} in flight, ` +
          `${crawler.reading} being read, ${rate} pages/s, ${tally.counts.error} errors`;
        process.stderr.write(`\r\x1b[K${text}`);
      }
    } catch {
      process.stderr.write("\r\x1b[K");
    }
  })();
  return controller;
}

/**
 * The crawl log: one JSON line per URL and its outcome, appended in batches of `batch` (or what
 * a second brought), so that `tail -f` follows the crawl without a write per URL.
 */
function openLog(path: string, append: boolean, batch: number) {
  let lines: string[] = [];
  let flushed = performance.now();
  mkdirSync(dirname(path), { recursive: true });
  if (!append) writeFileSync(path, "");
  const flush = () => {
    flushed = performance.now();
    if (lines.length === 0) return;
    appendFileSync(path, `${lines.join("\n")}\n`);
    lines = [];
  };
  return {
    write(entry: Entry): void {
      lines.push(JSON.stringify(entry));
      if (lines.length >= batch || performance.now() - flushed > 1000) flush();
    },
    close: flush,
  };
}
