// Every URL the crawl discovers ends in exactly one outcome, and the Tally counts them, as
// 500lines' crawler keeps a FetchStatistic per URL: a failure is data, never an exception out of
// the crawl. The report adds them up next to the number of URLs discovered, so that a URL lost or
// counted twice shows as a sum that does not match.
import { relative } from "node:path";
import { OSError } from "@async-from-scratch/native";
import type { CrawlOptions, CrawlStats } from "./crawler.ts";
import type { FetcherStats } from "./fetcher.ts";

export const OUTCOMES = [
  "indexed", // an HTML page, fetched, parsed and in the index
  "noindex", // an HTML page whose <meta name="robots"> (or X-Robots-Tag) says noindex
  "duplicate", // the same body (or title and text) as a page indexed before
  "redirected", // a 3xx; where it points is a URL of its own
  "not HTML", // a PDF, an image, JSON...
  "excluded", // --exclude, --no-parent, or https (no TLS here)
  "robots.txt", // disallowed by robots.txt
  "error", // with its reason: HTTP 404, connection reset, timeout, redirect loop...
  "limit", // --max-depth or --max-pages reached: discovered, not fetched
] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface Entry {
  url: string;
  outcome: Outcome;
  status?: number;
  reason?: string;
  /** Time of the last request for it. */
  ms?: number;
  /** Where a redirect points. */
  to?: string;
  /**
   * Why only a part of the page was read (its outcome is that of the part): "gzip body cut
   * short". The report lists these apart, so that a page kept in part is not taken for whole.
   */
  partial?: string;
}

interface Saved {
  counts: Record<string, number>;
  statuses: [number, number][];
  errors: [string, { count: number; urls: string[] }][];
  /** Absent in the state of a crawl saved before pages were kept in part. */
  partial?: [string, { count: number; urls: string[] }][];
  slowest: { url: string; ms: number }[];
}

const SLOWEST = 5;
const URLS_PER_REASON = 3;
// Reasons kept apart, at most: a reason may name a URL ("redirect loop: /a → /b → /a"), and a
// million pages must not mean a million reasons in memory. The rest are counted together, and
// each is in the crawl log with its URL.
const MAX_REASONS_KEPT = 1_000;
const OTHER_REASONS = "other reasons (each in the crawl log)";

export class Tally {
  readonly counts = Object.fromEntries(OUTCOMES.map((outcome) => [outcome, 0])) as Record<
    Outcome,
    number
  >;
  /** Final answers by status code: a retried 503 that then answered 200 counts as 200. */
  readonly statuses = new Map<number, number>();
  /** Each reason with its count and its first few URLs. */
  readonly errors = new Map<string, { count: number; urls: string[] }>();
  /** The same, of the pages read in part (Entry.partial), whatever their outcome. */
  readonly partial = new Map<string, { count: number; urls: string[] }>();
  slowest: { url: string; ms: number }[] = [];
  /** Called with every entry, for the crawl log. */
  onEntry: (entry: Entry) => void = () => {};

  get total(): number {
    return OUTCOMES.reduce((sum, outcome) => sum + this.counts[outcome], 0);
  }

  record(entry: Entry): void {
    this.counts[entry.outcome]++;
    if (entry.status !== undefined) {
      this.statuses.set(entry.status, (this.statuses.get(entry.status) ?? 0) + 1);
    }
    if (entry.outcome === "error") countReason(this.errors, entry.reason ?? "unknown", entry.url);
    if (entry.partial !== undefined) countReason(this.partial, entry.partial, entry.url);
    if (entry.ms !== undefined) {
      const { url, ms } = entry;
      if (this.slowest.length < SLOWEST || ms > this.slowest.at(-1)!.ms) {
        this.slowest.push({ url, ms });
        this.slowest.sort((a, b) => b.ms - a.ms);
        this.slowest.length = Math.min(this.slowest.length, SLOWEST);
      }
    }
    this.onEntry(entry);
  }

  toJSON(): Saved {
    return {
      counts: this.counts,
      statuses: [...this.statuses],
      errors: [...this.errors],
      partial: [...this.partial],
      slowest: this.slowest,
    };
  }

  static fromJSON(saved: Saved): Tally {
    const tally = new Tally();
    for (const outcome of OUTCOMES) tally.counts[outcome] = saved.counts[outcome] ?? 0;
    for (const [status, count] of saved.statuses) tally.statuses.set(status, count);
    for (const [reason, known] of saved.errors) tally.errors.set(reason, known);
    for (const [reason, known] of saved.partial ?? []) tally.partial.set(reason, known);
    tally.slowest = saved.slowest;
    return tally;
  }
}

/** Counts url under reason in reasons, keeping its first few URLs. */
function countReason(
  reasons: Map<string, { count: number; urls: string[] }>,
  reason: string,
  url: string,
): void {
  if (!reasons.has(reason) && reasons.size >= MAX_REASONS_KEPT) reason = OTHER_REASONS;
  const known = reasons.get(reason) ?? { count: 0, urls: [] };
  known.count++;
  if (known.urls.length < URLS_PER_REASON) known.urls.push(url);
  reasons.set(reason, known);
}

/**
 * Why a fetch failed, in words that do not depend on the engine: our native sockets and Node's
 * both say ECONNRESET, but in different messages (and with fd numbers in ours).
 */
export function reasonOf(error: unknown, timeoutMs: number): string {
  const code = (error as { code?: unknown })?.code;
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
      return "connection reset by peer";
    case "EPIPE":
      return "connection closed while sending (broken pipe)";
    case "ETIMEDOUT":
      return `no answer within ${timeoutMs} ms`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "host unreachable";
    case "ENOTFOUND":
      return "host name not found";
    // Both from connecting to ::1 on a machine without IPv6 (or with no port left to connect from).
    case "EADDRNOTAVAIL":
      return "address not available to connect from here";
    case "EAFNOSUPPORT":
      return "address family not supported here";
  }
  // Our loop's timeout is an OSError with code ETIMEDOUT, Node's AbortSignal.timeout() a
  // DOMException; both are named TimeoutError.
  if ((error as { name?: unknown })?.name === "TimeoutError")
    return `no answer within ${timeoutMs} ms`;
  const message = error instanceof Error ? error.message : String(error);
  // getaddrinfo's error crossed from the DNS thread, where only its message survives the copy.
  if (/EAI_NONAME|EAI_NODATA/.test(message)) return "host name not found";
  if (error instanceof Error && error.name === "ProtocolError") return `bad HTTP: ${message}`;
  if (error instanceof OSError) return message.replace(/\(fd \d+\)/, "");
  return message;
}

/** Whether trying again later may help: the network's failures, not the page's. */
export function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if ((error as { name?: unknown })?.name === "TimeoutError") return true;
  return (
    typeof code === "string" &&
    ["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"].includes(
      code,
    )
  );
}

// ---- the report -------------------------------------------------------------------------------

export interface ReportInput {
  /** What was crawled: "the fixture site (http://...)", or the start URLs. */
  where: string;
  engine: string;
  options: CrawlOptions;
  tally: Tally;
  discovered: number;
  /** URLs still in the frontier: stopped, or --max-pages reached. */
  left: number;
  interrupted: boolean;
  crawl: CrawlStats;
  fetchedThisRun: number;
  http: FetcherStats;
  wallMs: number;
  /** Memory at the end, at the start, and the most the process held (RSS). */
  memory: NodeJS.MemoryUsage;
  before: NodeJS.MemoryUsage;
  peakRss: number;
  /** The stores past --memory-urls: bytes on disk (the frontier's at most); null if in Redis. */
  disk: {
    memoryUrls: number;
    seenBytes: number;
    digestBytes: number;
    frontierBytes: number;
  } | null;
  index: string;
  stateDir: string;
  /** How a URL is shown: its path, on a start host. */
  pathOf: (url: string) => string;
}

const MAX_REASONS = 12;

/**
 * The report at the end of a crawl. Counts first (the same on every run of the same site),
 * measured figures after them (times, rates, memory, connections).
 */
export function formatReport(r: ReportInput): string {
  const lines: string[] = [];
  const say = (line = "") => lines.push(line);
  const { concurrency, perHost } = r.options;
  say(
    `Crawled ${r.where} with the ${r.engine} engine: concurrency ${concurrency}, ${perHost} per host`,
  );
  say();
  const rows: [string, number][] = OUTCOMES.map((outcome) => [outcome, r.tally.counts[outcome]]);
  if (r.left > 0) rows.push([r.interrupted ? "not yet (saved)" : "limit (queued)", r.left]);
  const sum = rows.reduce((total, [, count]) => total + count, 0);
  const row = (name: string, count: number) => `  ${name.padEnd(16)}${String(count).padStart(7)}`;
  say(`URLs discovered  ${String(r.discovered).padStart(7)}`);
  for (const [name, count] of rows) say(row(name, count));
  const mismatch =
    sum === r.discovered ? "" : `  (not ${r.discovered}: a URL lost or counted twice)`;
  say(`${row("sum", sum)}${mismatch}`);
  say();
  const statuses = [...r.tally.statuses].sort(([a], [b]) => a - b);
  say(
    `HTTP statuses: ${statuses.map(([status, count]) => `${status} x ${count}`).join(", ") || "none"}`,
  );
  const listReasons = (heading: string, known: Tally["errors"]) => {
    if (known.size === 0) return;
    say(heading);
    const reasons = [...known].sort(([a, x], [b, y]) => y.count - x.count || (a < b ? -1 : 1));
    for (const [reason, { count, urls }] of reasons.slice(0, MAX_REASONS)) {
      const shown = urls.map(r.pathOf).join(", ") + (count > urls.length ? ", ..." : "");
      say(`  ${count} x ${reason}: ${shown}`);
    }
    if (reasons.length > MAX_REASONS) {
      say(`  ... and ${reasons.length - MAX_REASONS} more reasons: see the crawl log`);
    }
  };
  listReasons("Errors:", r.tally.errors);
  // Counted above by their outcome (indexed, most often), and listed here too: a page of which
  // only the start came is in the index, but not whole.
  listReasons("Read in part (each counted above by its outcome):", r.tally.partial);
  say(`Links to other hosts, not followed: ${r.crawl.offsiteLinks}`);
  say();
  const { requests, connections, stale, wireBytes } = r.http;
  const perConnection = (requests / Math.max(1, connections)).toFixed(1);
  // Sent again: on a connection kept alive that the server had closed meanwhile (its keep-alive
  // timeout is shorter than our pauses), which a client learns only by trying.
  const sentAgain = stale === 0 ? "" : `, ${stale} sent again on a new connection`;
  say(
    `This run: ${requests} requests (robots.txt ${r.crawl.robotsFetched}, retries ${r.crawl.retries}${sentAgain}) ` +
      `on ${plural(connections, "connection")}: ${perConnection} requests per connection`,
  );
  say(`Received ${bytes(wireBytes)}; HTML ${bytes(r.crawl.htmlBytes)} once decompressed`);
  const rate = r.fetchedThisRun / (r.wallMs / 1000);
  say(
    `Wall time ${seconds(r.wallMs)}: ${rate.toFixed(0)} pages/s, ` +
      `concurrency reached ${r.crawl.peakConcurrency}`,
  );
  // A host that said "too many requests" (429 or 503) without saying for how long: the pace
  // the crawl found for it (crawler.ts #slowDown), which says how fast the host lets itself be
  // crawled.
  for (const [host, pace] of r.crawl.paced) {
    const end =
      pace.ms === 0
        ? "back to full speed by the end"
        : `one request every ${seconds(pace.ms)} at the end (${(1000 / pace.ms).toFixed(0)} a second)`;
    say(`Paced ${host}: ${pace.answers} answers 429 or 503 without Retry-After; ${end}`);
  }
  if (r.tally.slowest.length > 0) {
    say("Slowest:");
    for (const { url, ms } of r.tally.slowest)
      say(`  ${seconds(ms).padStart(8)}  ${r.pathOf(url)}`);
  }
  const perUrl = (count: number) =>
    bytes(Math.round(Math.max(0, count) / Math.max(1, r.discovered)));
  say(
    `Memory: peak RSS ${bytes(r.peakRss)}, ${perUrl(r.peakRss - r.before.rss)} per URL discovered ` +
      `over the start; heap ${bytes(r.memory.heapUsed)}, ` +
      `${perUrl(r.memory.heapUsed - r.before.heapUsed)} per URL discovered over the start`,
  );
  if (r.disk !== null) {
    const { memoryUrls, seenBytes, digestBytes, frontierBytes } = r.disk;
    const onDisk = seenBytes + digestBytes + frontierBytes;
    say(
      onDisk === 0
        ? `Stores: in memory (up to --memory-urls ${memoryUrls} URLs each, then on disk)`
        : `Stores: on disk past --memory-urls ${memoryUrls}: seen set ${bytes(seenBytes)}, ` +
            `body digests ${bytes(digestBytes)}, frontier ${bytes(frontierBytes)} at most: ` +
            `${perUrl(onDisk)} per URL discovered`,
    );
  }
  say(`Index: ${r.index}`);
  if (r.left > 0) say(`Saved ${r.left} URLs to fetch in ${r.stateDir}: --resume goes on`);
  return `${lines.join("\n")}\n`;
}

// ---- figures in words ---------------------------------------------------------------------------

export function bytes(count: number): string {
  if (count < 1024) return `${count} B`;
  if (count < 1024 * 1024) return `${(count / 1024).toFixed(1)} KiB`;
  if (count < 1024 ** 3) return `${(count / 1024 ** 2).toFixed(1)} MiB`;
  return `${(count / 1024 ** 3).toFixed(2)} GiB`;
}

/** "1 segment", "2 segments". */
export function plural(count: number, what: string): string {
  return `${count} ${what}${count === 1 ? "" : "s"}`;
}

export function seconds(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** A path as short as it can be said: relative to here, unless that climbs out. */
export function shortPath(path: string): string {
  const here = relative(process.cwd(), path);
  return here.startsWith("..") ? path : here || ".";
}
