// What the crawling lessons (4_callbacks to 7_node_event_loop) share besides their one idea: the
// record each fetch ends as, the links a response leads to, and the lines they print. How a fetch
// waits for its socket is the lesson; none of that is here.
//
// A failed fetch is data, as in 500lines' crawler: it ends as a FetchRecord with its error, is
// printed and counted, and the crawl goes on.
import { createHash } from "node:crypto";
import { charsetOf, linksOnHost, readHtml } from "./html.ts";
import type { ResponseEvent } from "./http.ts";
import { type ClockReading, chartFlags, cpuVersusWall } from "./lesson.ts";
import { type Span, drawTimeline } from "./timeline.ts";

/**
 * The flags of every crawling lesson, beside siteFlags(): the fixture site's size, how many
 * fetches run at once and in all, what to print after the summary, and where the chart goes.
 */
export function crawlFlags() {
  return {
    articles: {
      type: "integer",
      default: 10,
      min: 1,
      max: 10_000,
      help: "how many articles the fixture site has (3 pages each)",
    },
    concurrency: {
      type: "integer",
      default: 20,
      min: 1,
      max: 1000,
      help: "how many connections may be open at once",
    },
    "max-pages": {
      type: "integer",
      default: 1000,
      min: 1,
      max: 100_000,
      help: "fetch this many pages at most",
    },
    timeline: { type: "boolean", help: "draw each fetch on a time line after the crawl" },
    stacks: { type: "boolean", help: "print the stack trace of each failed fetch" },
    ...chartFlags(),
  } as const;
}

/** For the lessons that can stop a fetch once begun (6 and 7): --max-pages cancels, --timeout. */
export function cancelFlags() {
  return {
    "max-pages": {
      type: "integer",
      default: 1000,
      min: 1,
      max: 100_000,
      help: "stop when this many pages are fetched, cancelling the fetches still running",
    },
    timeout: {
      type: "integer",
      default: 15_000,
      min: 1,
      max: 600_000,
      help: "ms a fetch may take before it is cancelled",
    },
  } as const;
}

/** One fetch of the crawl. Times are performance.now() readings. */
export interface FetchRecord {
  url: URL;
  startMs: number;
  /** When the handshake ended. */
  connectedMs?: number;
  /** When the first bytes of the response arrived. */
  firstByteMs?: number;
  endMs: number;
  status?: number;
  reason?: string;
  /** Where a redirect points, as the Location header says it. */
  location?: string;
  /** The URLs this response leads to on the crawl's host: a redirect's target or a page's links. */
  links: string[];
  /** Why a page's links were not read, if they were not. */
  note?: string;
  error?: Error;
}

/** A record for a fetch that starts now. */
export function startRecord(url: URL): FetchRecord {
  const now = performance.now();
  return { url, startMs: now, endMs: now, links: [] };
}

// Links are read from pages up to this size. Parsing HTML is work for the CPU, done in the one
// thread that also runs the loop: the fixture site's 8 MiB /huge takes seconds to parse, and
// every other fetch would wait that long. A real crawler caps the size it reads (the crawler tool
// does); here the page is still read whole, and the line about it says why its links were not.
const PARSE_AT_MOST = 1024 * 1024;

/**
 * Fills in what a whole response says: status, reason, and the links to follow, which are a
 * redirect's Location or an HTML page's links, only those on the page's own host. Any other
 * body (a PDF, JSON) leads nowhere.
 */
export function readResponse(record: FetchRecord, response: ResponseEvent, body: Buffer): void {
  record.status = response.status;
  record.reason = response.reason;
  const { url } = record;
  const location = response.headers.get("location");
  if (response.status >= 300 && response.status < 400 && location !== undefined) {
    record.location = location;
    const target = URL.canParse(location, url.href) ? new URL(location, url) : undefined;
    if (target !== undefined) target.hash = "";
    record.links = target === undefined ? [] : linksOnHost([target.href], url.host);
    return;
  }
  const contentType = response.headers.get("content-type") ?? "";
  if (!contentType.startsWith("text/html")) return;
  if (body.length > PARSE_AT_MOST) {
    const limit = mebibytes(PARSE_AT_MOST);
    record.note = `${mebibytes(body.length)}, too large to look for links in (over ${limit})`;
    return;
  }
  // Read as the crawler reads a page: its links' queries are in its charset (html.ts queryIn).
  const { page } = readHtml(body, url.href, charsetOf(contentType));
  record.links = linksOnHost(page.links, url.host);
}

/**
 * Cancelled fetches (lesson 6's --max-pages) were stopped on purpose: they are counted on their
 * own, not as pages and not as errors.
 */
function cancelled(record: FetchRecord): boolean {
  return record.error?.name === "CancelledError";
}

function path(url: URL): string {
  return url.pathname + url.search;
}

/** "ConnectionResetError: recv(fd 7): ..." or "404 Not Found"; "" for a fetch that went well. */
function problem(record: FetchRecord): string {
  if (record.error !== undefined) return `${record.error.name}: ${record.error.message}`;
  if (record.status !== undefined && record.status >= 400) {
    return `${record.status} ${record.reason}`;
  }
  return "";
}

/**
 * The kind an error is counted under: its errno code if it has one, so that Node's own errors
 * (lesson 7's "read ECONNRESET") count the same as the native module's ConnectionResetError.
 */
function kind(record: FetchRecord): string {
  const { error } = record;
  if (error === undefined) return `HTTP ${record.status}`;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : error.name;
}

/** The line printed as a fetch ends: "  200 /wiki/x", "  302 /a -> /b", "  ERR /reset: ...". */
export function describeFetch(record: FetchRecord): string {
  if (record.error !== undefined)
    return `  ${cancelled(record) ? "---" : "ERR"} ${path(record.url)}: ${problem(record)}`;
  const redirect = record.location === undefined ? "" : ` -> ${record.location}`;
  const note = record.note === undefined ? "" : `: ${record.note}`;
  return `  ${record.status} ${path(record.url)}${redirect}${note}`;
}

export interface CrawlFigures {
  records: readonly FetchRecord[];
  /** The most fetches that were running at one time. */
  peak: number;
  clock: ClockReading;
  /** The fixture site's latency; undefined for a --url site, whose latency is not known. */
  latencyMs: number | undefined;
}

// More URLs than this are summed up as a count and a checksum instead of listed.
const LIST_AT_MOST = 50;
const ERRORS_AT_MOST = 20;

/**
 * The summary after a crawl, the same in every crawling lesson, so that their outputs can be
 * compared line by line: what was fetched, the errors with their reasons, the URL set, and the
 * time against what the same fetches would take one at a time.
 */
export function crawlSummary({ records, peak, clock, latencyMs }: CrawlFigures): string {
  const done = records.filter((record) => !cancelled(record));
  const failed = done.filter((record) => record.error !== undefined);
  const statuses = new Map<number, number>();
  for (const { status, error } of done) {
    if (error === undefined) statuses.set(status!, (statuses.get(status!) ?? 0) + 1);
  }
  const byStatus = [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s} x${n}`);
  const stopped = records.length - done.length;
  const answered =
    `${done.length - failed.length} answered` +
    (byStatus.length > 0 ? ` (${byStatus.join(", ")})` : "");
  const lines = [
    "",
    `${done.length} ${done.length === 1 ? "URL" : "URLs"} fetched: ${answered}, ${failed.length} failed` +
      (stopped > 0 ? `; ${stopped} more cancelled when --max-pages was reached` : ""),
  ];

  const problems = done
    .filter((record) => problem(record) !== "")
    .sort((a, b) => compare(path(a.url), path(b.url)));
  const kinds = new Map<string, number>();
  for (const record of problems) kinds.set(kind(record), (kinds.get(kind(record)) ?? 0) + 1);
  const byKind = [...kinds].sort(([a], [b]) => compare(a, b)).map(([k, n]) => `${k} x${n}`);
  lines.push(
    `errors: ${problems.length}${problems.length > 0 ? `, by kind: ${byKind.join(", ")}` : ""}`,
  );
  for (const record of problems.slice(0, ERRORS_AT_MOST)) {
    lines.push(`  ${path(record.url)}: ${problem(record)}`);
  }
  if (problems.length > ERRORS_AT_MOST) {
    lines.push(`  ... and ${problems.length - ERRORS_AT_MOST} more`);
  }

  // Paths, not whole URLs: the crawl never leaves its host, and the fixture site's port changes
  // from run to run, while its paths do not.
  const paths = done.map((record) => path(record.url)).sort(compare);
  if (paths.length <= LIST_AT_MOST) {
    lines.push(`the URLs, sorted:`, ...paths.map((p) => `  ${p}`));
  } else {
    const sha256 = createHash("sha256").update(paths.join("\n")).digest("hex").slice(0, 16);
    lines.push(`the URLs: ${paths.length}, too many to list; sha256 of the sorted list: ${sha256}`);
  }

  lines.push(`highest concurrency: ${peak} ${peak === 1 ? "connection" : "connections"} at once`);
  lines.push(`wall time ${seconds(clock.wallMs)}`);
  const oneByOne = done.reduce((sum, record) => sum + record.endMs - record.startMs, 0);
  let serial = `one at a time: ${seconds(oneByOne)} (the fetch times added up)`;
  if (latencyMs !== undefined && latencyMs > 0) {
    const atLeast = seconds(done.length * latencyMs);
    serial += `; at least ${done.length} x ${latencyMs} ms latency = ${atLeast}`;
  }
  lines.push(serial);
  lines.push(cpuVersusWall(clock));
  return lines.join("\n");
}

export interface ReportFlags {
  url: URL | undefined;
  latency: number;
  timeline: boolean;
  stacks: boolean;
}

/**
 * What a crawling lesson prints after its crawl: the summary, then the timeline and the stack
 * traces if its flags ask for them. The fixture site's latency counts only without --url.
 */
export function crawlReport(crawl: Omit<CrawlFigures, "latencyMs">, flags: ReportFlags): string {
  const latencyMs = flags.url === undefined ? flags.latency : undefined;
  const parts = [crawlSummary({ ...crawl, latencyMs })];
  if (flags.timeline) parts.push(crawlTimeline(crawl.records));
  if (flags.stacks) parts.push(failureStacks(crawl.records));
  return parts.join("\n\n");
}

/** The picture of the crawl for --timeline: one row per fetch. */
export function crawlTimeline(records: readonly FetchRecord[]): string {
  return drawTimeline(crawlSpans(records));
}

/** The records as the spans of a timeline, in text (drawTimeline) or as a chart (shared/chart). */
export function crawlSpans(records: readonly FetchRecord[]): Span[] {
  return records.map((record) => ({
    label: path(record.url),
    startMs: record.startMs,
    connectedMs: record.connectedMs,
    firstByteMs: record.firstByteMs,
    endMs: record.endMs,
    failed: record.error !== undefined,
  }));
}

/**
 * For --stacks: where each failed fetch's error was thrown, as its stack trace says. Paths are
 * shortened to this folder, and Node's own internal frames left out.
 */
export function failureStacks(records: readonly FetchRecord[]): string {
  const failed = records.filter((record) => record.error !== undefined && !cancelled(record));
  if (failed.length === 0) return "no fetch failed, so there are no stack traces to show";
  const here = process.cwd();
  return failed
    .map(({ url, error }) => {
      const frames = (error!.stack ?? String(error))
        .split("\n")
        .filter((line) => !line.includes("node:internal"))
        .map((line) => line.replaceAll(`file://${here}/`, "").replaceAll(`${here}/`, ""));
      return [`stack trace of the failed fetch of ${path(url)}:`, ...frames].join("\n");
    })
    .join("\n\n");
}

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

// Plain code-unit order, the same on every machine (localeCompare depends on the locale).
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
