// The crawl: the lecture's five steps (a list of URLs; fetch; read each page; find its links; back
// to 2), with what a crawler of real sites adds to them.
//
// Theory of operation
//
// Every URL is discovered once (the seen set), waits in the frontier in a queue of its host, is
// handed out by one dispatcher, visited, and ends in exactly one outcome of the Tally. The
// dispatcher starts a visit when all of these allow it:
//   - fewer than --concurrency fetches are under way, and fewer than --per-host to its host;
//   - the host's robots.txt has been read (the first visit of a host waits for it);
//   - the host's Crawl-delay since its last request has passed, and any pause it asked for;
//   - fewer than --max-pages URLs have been fetched;
//   - the reading threads are not too far behind: fetches under way and pages fetched but not yet
//     read stay within --concurrency + maxReading together.
// 500lines' crawler runs N workers on one asyncio.Queue instead; a queue cannot say "not this
// host yet", so here one dispatcher hands URLs out and sleeps until something changes: a visit
// ends, a robots.txt arrives, a delay runs out.
//
// A visit fetches the URL (fetcher.ts: HTTP/1.1 over kept-alive connections), and then:
//   3xx      the Location is a URL discovered at the same depth, remembering the chain that led
//            to it, so that a loop or a chain longer than --max-redirects ends as an error;
//   5xx, 429 and the network's errors: tried again after a backoff (1x, 2x, 4x the base) or the
//            Retry-After the server asked for, then an error; a Retry-After pauses the whole
//            host as long, and a 429 or 503 without one paces it (#slowDown);
//   2xx HTML the page is read in a worker thread (readers.ts, page.ts): links, <meta
//            name=robots>, digest; links are discovered one level deeper (unless nofollow); a
//            body seen before is a duplicate (whichever of two twins arrives first is indexed);
//            the thread indexes the text (unless noindex); a page whose <meta
//            http-equiv=refresh> sends the reader on at once is a redirect, as a 3xx is;
//   2xx without a Content-Type: as HTML if its first bytes are HTML's;
//   the rest not HTML, or an error with its reason.
//
// Several crawlers can share one frontier (--frontier redis://, redis-stores.ts): then each
// dispatcher takes URLs from it a batch at a time when its own queues run low (#takeMore), and
// the crawl is over when the shared frontier says so, not when this crawler's queues are empty.
// A page indexed is then recorded (and its URL let go) only once the reading threads say it is
// on disk (a checkpoint: readers.ts), so that a crawler killed before loses no page.
//
// Stopping (Ctrl-C): no new visits start, those under way finish, and what is left stays in the
// frontier, to be saved for --resume. A second Ctrl-C aborts the visits under way too: their
// fetches are cancelled and their URLs go back to the frontier, not counted.
import { setMaxListeners } from "node:events";
import robotsParserModule from "robots-parser";
import { ProtocolError, type ResponseEvent } from "@async-from-scratch/shared";
import type { Engine } from "./engine.ts";
import type { Fetched, Fetcher, Sent } from "./fetcher.ts";
import { bodyDigest, decodeContent, extractMimeType, type MimeType } from "./page.ts";
import type { PageReaders, ReadResult } from "./readers.ts";
import { Tally, isTransient, reasonOf, type Entry } from "./report.ts";
import type { DigestSet, Frontier, Item, SeenSet } from "./stores.ts";
import { StartScope, hostOf, normalizeUrl, siteOfHost } from "./urls.ts";

// The reason #waitForChange's timer is stopped with: nobody sees it.
const WOKEN = new Error("woken before the timer");

export interface CrawlOptions {
  concurrency: number;
  perHost: number;
  /** URLs fetched at most, over the whole crawl (resumed runs included). */
  maxPages: number;
  /** Links followed from a start URL at most. */
  maxDepth: number;
  exclude: RegExp[];
  /** Stay at or below the directories of the start URLs (StartScope), as wget -np. */
  noParent: boolean;
  maxRedirects: number;
  /** Tries after the first, for the network's errors, 5xx and 429. */
  retries: number;
  /** The first retry waits this long, the next twice as long, and so on. */
  retryBaseMs: number;
  timeoutMs: number;
  maxBodyBytes: number;
  /**
   * Pages fetched and not yet read and indexed, past which fetching waits: fetches under way and
   * such pages stay within concurrency + maxReading together.
   */
  maxReading: number;
  /** The product token robots.txt groups are matched against. */
  robotsName: string;
  /** A longer Crawl-delay or Retry-After is cut to this. */
  maxDelayMs: number;
}

/** What the crawl keeps between runs besides the stores (stores.ts). */
export interface CrawlSummary {
  startUrls: string[];
  /** The start URLs' directories, and those of where they redirected (StartScope). */
  directories: string[];
  fetched: number;
  tally: ReturnType<Tally["toJSON"]>;
}

export interface CrawlStats {
  /** URLs fetched (each counted once, however often it was tried). */
  fetched: number;
  /** The most visits under way at once. */
  peakConcurrency: number;
  /** Requests for robots.txt (a try whose connection failed sent none). */
  robotsFetched: number;
  /** Requests that were a page's second or later try. */
  retries: number;
  /** Links to other hosts: counted, never followed, never in the seen set. */
  offsiteLinks: number;
  /** Bytes of HTML after decompression. */
  htmlBytes: number;
  /** The hosts that answered 429 or 503 without a Retry-After, and the pace each was given. */
  paced: Map<string, Pace>;
}

/** How fast a host that has said "too many requests" is asked: see Crawler.#slowDown. */
export interface Pace {
  /** The time between two requests to the host. */
  ms: number;
  /** 429 and 503 answers without a Retry-After. */
  answers: number;
  /** When ms last grew. */
  grewAt: number;
}

export interface Collaborators {
  engine: Engine;
  fetcher: Fetcher;
  frontier: Frontier;
  seen: SeenSet;
  digests: DigestSet;
  /** The threads that read pages and index them (readers.ts). */
  readers: PageReaders;
  tally: Tally;
}

// robots-parser is CommonJS, and its types describe the module rather than the function it is.
interface Robots {
  isDisallowed(url: string, userAgent: string): boolean | undefined;
  getCrawlDelay(userAgent: string): number | undefined;
}
const robotsParser = robotsParserModule as unknown as (url: string, text: string) => Robots;

interface Host {
  /** "unknown" until a visit needs it, then "loading", then the rules (or why there are none). */
  robots: "unknown" | "loading" | { rules: Robots } | { error: string };
  /** The Crawl-delay of its robots.txt, 0 if none. */
  delayMs: number;
  /** Null until the host first says "too many requests" without a Retry-After. */
  pace: Pace | null;
  /** No request to this host starts before this time (Crawl-delay, pace, Retry-After). */
  notBefore: number;
  active: number;
}

// A host's pace: the first 429 or 503 (without Retry-After) spaces its requests FIRST_PACE_MS
// apart, each later one (one per round, see #slowDown) doubles that, up to MAX_PACE_MS, and each
// answer that is not one takes 1/PACE_EASING of it off again, until it is under a millisecond and
// the host is asked at full speed again.
const FIRST_PACE_MS = 10;
const MAX_PACE_MS = 5_000;
const PACE_EASING = 32;

/** An answer that was not "too many requests": a little faster. */
function easePace(pace: Pace): void {
  pace.ms -= pace.ms / PACE_EASING;
  if (pace.ms < 1) pace.ms = 0;
}

interface Retry {
  at: number;
  host: string;
  item: Item;
  attempt: number;
}

// A crawler trap that real sites set by mistake: a page served for any path (a "soft 404": an
// error page answered 200) with a relative link on it, "docs/" say, makes /x/docs/, then
// /x/docs/docs/, and so on without end, each new URL a new page; with two such links, twice as
// many at every level, down to --max-depth. A path in which a segment, or a run of them, comes
// three times in a row (/docs/docs/docs/, /a/b/a/b/a/b/) is such a URL and is excluded, as
// Heritrix's PathologicalPathDecideRule does; twice (/2024/01/01/) is left to the site.
const REPEATING_PATH = /\/((?:[^/]+\/)+?)\1\1/;

// A server's directory listing links to itself sorted by each column: Apache's autoindex
// "?C=M;O=A" (with ";F=1" and the like after it when the request had them; "?M=A" before 2.0),
// Caddy's browse "?sort=size&order=asc". Each sorted page links to the other orders, so a crawl
// that follows them fetches every listing 8 more times (wget -r does, and so did this crawler)
// and indexes most of them: the same words in another order, which the duplicate check cannot
// tell from a new page. Only a directory's URL ("/dir/?...") whose query is nothing but such a
// sort is excluded; "/shop?sort=name&order=asc" or "/dir/?sort=name&order=asc&page=2" is not.
const SORTED_LISTING =
  /\/\?(?:C=[NMSD][;&]O=[AD](?:[;&][FVP]=[^;&]*)*|[NMSD]=[AD]|sort=\w+&order=(?:asc|desc))$/;

// RFC 9309 2.5: a crawler must read at least 500 KiB of a robots.txt; what follows is ignored.
const ROBOTS_MAX_BYTES = 512 * 1024;
const ROBOTS_MAX_REDIRECTS = 5;

export class Crawler {
  readonly stats: CrawlStats = {
    fetched: 0,
    peakConcurrency: 0,
    robotsFetched: 0,
    retries: 0,
    offsiteLinks: 0,
    htmlBytes: 0,
    paced: new Map(),
  };
  readonly #options: CrawlOptions;
  readonly #c: Collaborators;
  readonly #startUrls: string[];
  readonly #scope: StartScope;
  readonly #hosts = new Map<string, Host>();
  #retries: Retry[] = [];
  #active = 0; // fetches under way: visits and robots.txt
  #reading = 0; // pages fetched, being read and indexed by the threads
  #undurable = 0; // pages indexed, waiting for a checkpoint to be done (a shared frontier)
  #stopping = false;
  #taking = false; // asking a shared frontier for more URLs
  #drained = false; // a shared frontier said the crawl is over everywhere
  #failure: unknown = null;
  readonly #abort = new AbortController();
  // Aborted by stop(): what only waits (a robots.txt's retry) waits no longer.
  readonly #stop = new AbortController();
  #changed: (() => void) | null = null;

  /** A new crawl of startUrls (normalized, http), or one resumed from its summary. */
  constructor(options: CrawlOptions, c: Collaborators, start: string[] | CrawlSummary) {
    this.#options = options;
    this.#c = c;
    // Every fetch listens to this signal (for a second Ctrl-C): a hundred at once is no leak.
    setMaxListeners(0, this.#abort.signal);
    if (Array.isArray(start)) {
      this.#startUrls = start;
      this.#scope = new StartScope(start);
    } else {
      this.#startUrls = start.startUrls;
      this.#scope = new StartScope(start.directories);
      this.stats.fetched = start.fetched;
    }
  }

  /** URLs waiting (in the frontier, or for a retry). */
  get queued(): number {
    return this.#c.frontier.size + this.#retries.length;
  }

  /** Fetches under way (visits and robots.txt). */
  get fetching(): number {
    return this.#active;
  }

  /** Pages fetched, being read and indexed by the threads (or waiting for them). */
  get reading(): number {
    return this.#reading;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** Crawls until nothing is left to fetch, --max-pages is reached, or stop(). */
  async run(): Promise<void> {
    for (const url of this.#startUrls) this.#discover(url, 0, [], true);
    for (;;) {
      const wakeAt = this.#dispatch();
      const taking = this.#takeMore();
      // Nothing fetched or read now: the pages waiting for a checkpoint need not wait longer.
      const quiet = this.#active === 0 && this.#reading === 0;
      if (quiet && this.#undurable > 0) this.#c.readers.checkpoint();
      const idle = quiet && this.#undurable === 0 && !taking;
      if (idle && (this.#stopping || (wakeAt === null && this.#retries.length === 0))) break;
      // Before sleeping: every visit, robots.txt, timer and take in flight can wake us (#wake).
      await this.#waitForChange(wakeAt);
    }
    if (this.#failure !== null) throw this.#failure;
    // A stopped crawl keeps its waiting retries, as fresh URLs in the frontier (so not fetched).
    for (const retry of this.#retries.splice(0)) {
      this.#c.frontier.push(retry.host, retry.item);
      this.stats.fetched--;
    }
  }

  /** No new visits; those under way finish. */
  stop(): void {
    this.#stopping = true;
    this.#stop.abort();
    this.#wake();
  }

  /** Cancels the visits under way too; their URLs go back to the frontier. */
  abort(): void {
    this.stop();
    this.#abort.abort();
  }

  /** What --resume needs besides the stores. */
  summary(): CrawlSummary {
    return {
      startUrls: this.#startUrls,
      directories: this.#scope.directories(),
      fetched: this.stats.fetched,
      tally: this.#c.tally.toJSON(),
    };
  }

  // ---- dispatching ------------------------------------------------------------------------------

  /**
   * Starts every visit that may start now. Returns the time when a waiting one may (a delay runs
   * out), or null if none is waiting for time.
   */
  #dispatch(): number | null {
    const { frontier } = this.#c;
    const now = this.#c.engine.time();
    let wakeAt: number | null = null;
    const later = (at: number) => (wakeAt = wakeAt === null ? at : Math.min(wakeAt, at));
    if (this.#stopping) return null;

    // Retries first: they were fetched before, so --max-pages has counted them already.
    for (const retry of [...this.#retries]) {
      if (this.#full()) return wakeAt;
      const host = this.#host(retry.host);
      if (retry.at > now || host.notBefore > now) {
        later(Math.max(retry.at, host.notBefore));
        continue;
      }
      if (host.active >= this.#options.perHost) continue;
      this.#retries.splice(this.#retries.indexOf(retry), 1);
      this.#start(retry.host, host, retry.item, retry.attempt);
    }

    for (const key of [...frontier.hosts()]) {
      const host = this.#host(key);
      while (!this.#full() && host.active < this.#options.perHost) {
        if (this.stats.fetched >= this.#options.maxPages) return wakeAt;
        if (host.robots === "unknown") this.#loadRobots(key, host);
        if (host.robots === "loading") break;
        if (host.notBefore > now) {
          later(host.notBefore);
          break;
        }
        const item = frontier.shift(key);
        if (item === undefined) break;
        if (!this.#allowed(host, item)) continue; // recorded: robots.txt says no, or has no say
        this.stats.fetched++;
        this.#start(key, host, item, 0);
      }
      if (this.#full()) break;
    }
    return wakeAt;
  }

  /**
   * No room for one more fetch: --concurrency of them are under way, or the threads are that far
   * behind. Backpressure, so that bodies do not pile up in memory faster than they are read; and
   * it paces rather than stops: once the threads are behind, each page they finish lets one fetch
   * start. (A gate that closed at maxReading pages waiting and opened again below let the fetches
   * under way land, and then started a whole --concurrency at once, to land together a latency
   * later: the pages came in bursts, and the threads sat idle between them.)
   */
  #full(): boolean {
    const { concurrency, maxReading } = this.#options;
    return this.#active >= concurrency || this.#active + this.#reading >= concurrency + maxReading;
  }

  #start(key: string, host: Host, item: Item, attempt: number): void {
    this.#active++;
    host.active++;
    // Only a Crawl-delay or a pace holds the host's next request back. Without one, `now + 0`
    // would still lie a few microseconds past the `now` that #dispatch compares with, and each
    // dispatch would start one visit per host and then wait for a timer to start the next.
    const spacingMs = Math.max(host.delayMs, host.pace?.ms ?? 0);
    if (spacingMs > 0) {
      host.notBefore = Math.max(host.notBefore, this.#c.engine.time() + spacingMs);
    }
    this.stats.peakConcurrency = Math.max(this.stats.peakConcurrency, this.#active);
    this.#visit(key, host, item, attempt)
      .catch((error: unknown) => {
        // A bug, not a page's failure (those are recorded in #visit): still one outcome for it.
        this.#record({ url: item.url, outcome: "error", reason: `crawler bug: ${String(error)}` });
      })
      .finally(() => {
        this.#active--;
        host.active--;
        this.#wake();
      });
  }

  /**
   * A shared frontier (several crawlers, redis-stores.ts): asks it for more URLs when the local
   * queues run low, one request at a time. True while one is under way.
   */
  #takeMore(): boolean {
    const { frontier } = this.#c;
    if (this.#taking) return true;
    if (frontier.take === undefined || this.#drained || this.#stopping) return false;
    const enough = frontier.size >= this.#options.concurrency;
    if (enough || this.stats.fetched >= this.#options.maxPages) return false;
    this.#taking = true;
    frontier
      .take(2 * this.#options.concurrency)
      .then(
        (taken) => (this.#drained = taken === null),
        (error: unknown) => {
          this.#failure = error; // the store is gone: stop, and let run() say why
          this.abort();
        },
      )
      .finally(() => {
        this.#taking = false;
        this.#wake();
      });
    return true;
  }

  #host(key: string): Host {
    let host = this.#hosts.get(key);
    if (host === undefined) {
      host = { robots: "unknown", delayMs: 0, pace: null, notBefore: 0, active: 0 };
      this.#hosts.set(key, host);
    }
    return host;
  }

  async #waitForChange(wakeAt: number | null): Promise<void> {
    const woken = new Promise<void>((resolve) => (this.#changed = resolve));
    if (wakeAt === null) return woken;
    const timer = new AbortController();
    const slept = this.#c.engine
      .sleep(wakeAt - this.#c.engine.time(), timer.signal)
      .catch(() => {});
    await Promise.race([woken, slept]);
    // The timer, if woken first: the loop keeps no dead timers around. With a reason of our own,
    // since abort() with none makes a DOMException, and its stack trace, on every wake-up.
    timer.abort(WOKEN);
  }

  #wake(): void {
    const changed = this.#changed;
    this.#changed = null;
    changed?.();
  }

  // ---- discovering --------------------------------------------------------------------------------

  /** A link (already normalized) found at `depth`; `via` is the redirect chain that led to it. */
  #discover(url: string, depth: number, via: string[], isStart = false): void {
    const host = hostOf(url); // sliced, not parsed: normalized, its parts are where we know
    if (!isStart && !this.#scope.hasSite(siteOfHost(host))) {
      this.stats.offsiteLinks++;
      return;
    }
    if (!this.#c.seen.add(url)) return;
    if (!url.startsWith("http:")) {
      this.#record({ url, outcome: "excluded", reason: "https: no TLS here" });
    } else if (this.#options.noParent && !this.#scope.contains(url)) {
      this.#record({ url, outcome: "excluded", reason: "--no-parent" });
    } else if (this.#options.exclude.some((pattern) => pattern.test(url))) {
      this.#record({ url, outcome: "excluded", reason: "--exclude" });
    } else if (REPEATING_PATH.test(new URL(url).pathname)) {
      this.#record({ url, outcome: "excluded", reason: "a path that repeats itself" });
    } else if (SORTED_LISTING.test(url)) {
      this.#record({ url, outcome: "excluded", reason: "a directory listing sorted another way" });
    } else if (depth > this.#options.maxDepth) {
      this.#record({ url, outcome: "limit", reason: "--max-depth" });
    } else {
      this.#c.frontier.push(host, { url, depth, via });
    }
  }

  #record(entry: Entry): void {
    this.#c.tally.record(entry);
  }

  // ---- visiting -----------------------------------------------------------------------------------

  /** Whether robots.txt lets us fetch item; if not, its outcome is recorded. */
  #allowed(host: Host, item: Item): boolean {
    const robots = host.robots as { rules: Robots } | { error: string }; // loaded: see #dispatch
    if ("error" in robots) {
      this.#record({ url: item.url, outcome: "error", reason: robots.error });
      return false;
    }
    if (robots.rules.isDisallowed(item.url, this.#options.robotsName)) {
      this.#record({ url: item.url, outcome: "robots.txt" });
      return false;
    }
    return true;
  }

  async #visit(key: string, host: Host, item: Item, attempt: number): Promise<void> {
    // Depth 0 is a start URL or where one redirected: its site is the crawl's, also when the
    // crawler that followed the redirect is another one sharing the frontier.
    if (item.depth === 0) this.#scope.add(item.url);
    let fetched: Fetched;
    // The last head's type, parsed once, when it came: null for none (undefined: no head yet).
    let mimeType = undefined as MimeType | null | undefined;
    const sentAt = this.#c.engine.time();
    // A retry counts as one once its request has left: a host that refuses connections, or
    // does not answer them, gets none (the report's requests add up to what went out).
    const sent: Sent = { request: false };
    const wantBody = (head: ResponseEvent) => {
      mimeType = extractMimeType(head.headers.get("content-type"));
      return wantsBody(head, mimeType, this.#options.maxBodyBytes);
    };
    try {
      fetched = await this.#c.fetcher
        .fetch(new URL(item.url), this.#abort.signal, wantBody, undefined, sent)
        .finally(() => {
          if (attempt > 0 && sent.request) this.stats.retries++;
        });
    } catch (error) {
      if (this.#abort.signal.aborted) {
        this.stats.fetched--; // not fetched after all: it goes back, uncounted
        return this.#c.frontier.push(key, item);
      }
      // An untyped body with no length to judge it by (chunked) is read to find out what it is,
      // and one that runs past --max-body is what wantsBody() would have said of it by its
      // Content-Length: not a page.
      if (mimeType === null && tooLarge(error)) {
        const reason = "no Content-Type, and more than --max-body to look at";
        return this.#record({ url: item.url, outcome: "not HTML", reason });
      }
      if (isTransient(error) && attempt < this.#options.retries) {
        this.#retryLater(key, item, attempt, 0);
        return;
      }
      const reason = reasonOf(error, this.#options.timeoutMs);
      return this.#record({ url: item.url, outcome: "error", reason });
    }
    const { status, headers } = fetched;
    const entry: Omit<Entry, "outcome"> = { url: item.url, status, ms: fetched.ms };

    const retryAfterMs = this.#retryAfterMs(headers);
    // The server asks the whole host to slow down, not just this URL: with a Retry-After, for
    // that long; with a 429 or 503 alone (nginx's limit_req answers 503 without one), by pacing.
    const tooMany = retryAfterMs === 0 && (status === 429 || status === 503);
    if (tooMany) this.#slowDown(key, host, sentAt);
    else if (host.pace !== null) easePace(host.pace);
    if (status === 429 || status >= 500) {
      if (attempt < this.#options.retries) {
        const waitMs = this.#retryLater(key, item, attempt, retryAfterMs);
        if (retryAfterMs > 0) {
          host.notBefore = Math.max(host.notBefore, this.#c.engine.time() + waitMs);
        }
        return;
      }
    }
    if (status >= 300 && status < 400 && headers.has("location")) {
      return this.#redirect(item, locationOf(headers.get("location")!), entry);
    }
    // A redirect that does not say where to (a script that set the status and forgot the
    // header) leads nowhere: an error that says why, as wget's "Redirection (302) without
    // location.", not a bare "HTTP 302 Found" that reads as though it were followed.
    if (status >= 300 && status < 400) {
      return this.#record({ ...entry, outcome: "error", reason: `${status} without Location` });
    }
    // 204 and 205 have no content by definition (RFC 9110 15.3.5-6): no page, whatever the type.
    if (status < 200 || status >= 300 || status === 204 || status === 205) {
      return this.#record({
        ...entry,
        outcome: "error",
        reason: `HTTP ${status} ${fetched.reason}`,
      });
    }
    if (fetched.body === null) {
      const type = headers.get("content-type") ?? "no Content-Type";
      const why = mimeType === null ? `${type}, and more than --max-body to look at` : type;
      return this.#record({ ...entry, outcome: "not HTML", reason: why });
    }
    // The connection and the slots are free for the next request while the page is read.
    this.#reading++;
    this.#read(item, fetched, entry)
      .catch((error: unknown) => {
        this.#record({ ...entry, outcome: "error", reason: `crawler bug: ${String(error)}` });
      })
      .finally(() => {
        this.#reading--;
        this.#wake();
      });
  }

  /**
   * A 429 or 503 without a Retry-After: the host is rate-limited or overloaded, and how fast it
   * would be asked it does not say. Pausing the whole host for each URL's backoff (half a second
   * and more) got the PostgreSQL docs, behind nginx's limit_req of 100 requests a second, at 23
   * a second; not pausing at all lost pages to 503s after their retries. So the host gets a pace,
   * found the way TCP finds its window: doubled when the host says "too many", eased a little with
   * each answer that is not that, so that it hovers just under the limit. The answers to requests
   * sent before the pace last grew are one round, one "too many": those requests went out at the
   * old pace, and doubling again for each of them would slow down for nothing.
   */
  #slowDown(key: string, host: Host, sentAt: number): void {
    const now = this.#c.engine.time();
    if (host.pace === null) {
      host.pace = { ms: 0, answers: 0, grewAt: -Infinity };
      this.stats.paced.set(key, host.pace);
    }
    const pace = host.pace;
    pace.answers++;
    if (sentAt < pace.grewAt) return;
    pace.ms = Math.min(MAX_PACE_MS, Math.max(FIRST_PACE_MS, pace.ms * 2));
    pace.grewAt = now;
    host.notBefore = Math.max(host.notBefore, now + pace.ms);
  }

  /** A response's Retry-After in ms (0 if none), cut to maxDelayMs: a day becomes a minute. */
  #retryAfterMs(headers: Map<string, string> | undefined): number {
    return Math.min(retryAfter(headers?.get("retry-after"), Date.now()), this.#options.maxDelayMs);
  }

  /** The wait before try attempt + 2: the backoff (1x, 2x, 4x the base), or atLeastMs if longer. */
  #backoffMs(attempt: number, atLeastMs: number): number {
    return Math.max(this.#options.retryBaseMs * 2 ** attempt, atLeastMs);
  }

  /** Puts item back for another try after a backoff, or atLeastMs; returns the wait. */
  #retryLater(key: string, item: Item, attempt: number, atLeastMs: number): number {
    const waitMs = this.#backoffMs(attempt, atLeastMs);
    this.#retries.push({
      at: this.#c.engine.time() + waitMs,
      host: key,
      item,
      attempt: attempt + 1,
    });
    return waitMs;
  }

  #redirect(item: Item, location: string, entry: Omit<Entry, "outcome">): void {
    const target = normalizeUrl(location, item.url);
    if (target === null) {
      const reason = `redirect to an unusable Location: ${JSON.stringify(location)}`;
      return this.#record({ ...entry, outcome: "error", reason });
    }
    const chain = [...item.via, item.url];
    if (chain.includes(target)) {
      const loop = [...chain.slice(chain.indexOf(target)), target].map(pathOf).join(" → ");
      return this.#record({ ...entry, outcome: "error", reason: `redirect loop: ${loop}` });
    }
    if (chain.length > this.#options.maxRedirects) {
      const reason = `more than ${this.#options.maxRedirects} redirects in a row`;
      return this.#record({ ...entry, outcome: "error", reason });
    }
    // A start URL that redirects to another host (http://example.org/ to www.example.com, say)
    // takes that host along, and its directory for --no-parent: it is where the site lives now.
    if (item.depth === 0) this.#scope.add(target);
    // The target first, then the outcome: a shared frontier lets go of item with its outcome, and
    // a crawler that dies between the two leaves item to be fetched again, never the target lost.
    this.#discover(target, item.depth, chain);
    this.#record({ ...entry, outcome: "redirected", to: target });
  }

  async #read(item: Item, fetched: Fetched, entry: Omit<Entry, "outcome">): Promise<void> {
    const { headers } = fetched;
    const body = fetched.body!; // wantsBody() said yes
    const contentEncoding = headers.get("content-encoding");
    // X-Robots-Tag says for any response what <meta name="robots"> says inside a page.
    const tag = robotsTag(headers.get("x-robots-tag"), this.#options.robotsName);
    // Decided here, before the page goes to a thread: a twin of a page seen before is read for
    // its links, never indexed.
    const twin = !(await this.#c.digests.add(bodyDigest(body, contentEncoding), item.url));
    let page: ReadResult | null;
    try {
      page = await this.#c.readers.read(
        {
          url: item.url,
          body,
          contentType: headers.get("content-type"),
          contentEncoding,
          maxBytes: this.#options.maxBodyBytes,
        },
        !twin && !tag.noindex,
      );
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return this.#record({ ...entry, outcome: "error", reason });
    }
    if (page === null) {
      const reason = "no Content-Type, and its first bytes are not HTML";
      return this.#record({ ...entry, outcome: "not HTML", reason });
    }
    this.stats.htmlBytes += page.bytes;
    // A page read in part (a gzip stream cut short) ends as what it becomes, with a note of it.
    if (page.partial !== null) entry = { ...entry, partial: page.partial };
    // A duplicate's links are followed too: relative links on the same body under another path
    // may lead elsewhere, and which of two twins arrives first must not change what is found.
    // A redirect's target is not, here: it follows as a redirect's does, in its chain, whatever
    // nofollow says (a 3xx has no nofollow either).
    if (!page.nofollow && !tag.nofollow) {
      for (const link of page.links) {
        if (link !== page.redirect) this.#discover(link, item.depth + 1, []);
      }
    }
    if (page.redirect !== null) return this.#redirect(item, page.redirect, entry);
    if (twin) return this.#record({ ...entry, outcome: "duplicate", reason: "same body" });
    if (page.noindex || tag.noindex) return this.#record({ ...entry, outcome: "noindex" });
    if (page.durable === null) {
      return this.#record({ ...entry, outcome: page.duplicate ? "duplicate" : "indexed" });
    }
    // Sharing the crawl: the URL is done only once its page is on disk (the next checkpoint), so
    // that a kill before then leaves the URL to another crawler, not a page missing from the index.
    // The reading slot is free meanwhile; the lease of the URL is renewed until it is done.
    this.#undurable++;
    page.durable
      .then(
        () => this.#record({ ...entry, outcome: "indexed" }),
        (error: unknown) => {
          this.#failure ??= error; // the index cannot be written: stop, and let run() say why
          this.abort();
        },
      )
      .finally(() => {
        this.#undurable--;
        this.#wake();
      });
  }

  // ---- robots.txt ---------------------------------------------------------------------------------

  /**
   * Reads the host's robots.txt, as RFC 9309 says: a 2xx gives the rules (of its first 500 KiB);
   * a 4xx means there are none (everything allowed), and so does a robots.txt that is otherwise
   * "unavailable": a body that does not decode, a redirect without a Location, to a loop, or past
   * the fifth. Only a 5xx or a network error, after the usual retries, means the host cannot say,
   * so nothing is fetched from it (each of its URLs ends as an error that says why).
   */
  #loadRobots(key: string, host: Host): void {
    host.robots = "loading";
    this.#active++;
    this.#fetchRobots(key)
      .then(
        (text) => {
          const rules = robotsParser(`http://${key}/robots.txt`, text);
          host.robots = { rules };
          const delay = rules.getCrawlDelay(this.#options.robotsName);
          if (delay !== undefined && delay > 0) {
            // The fetch of robots.txt was a request too: the first page waits its delay.
            host.delayMs = Math.min(delay * 1000, this.#options.maxDelayMs);
            host.notBefore = this.#c.engine.time() + host.delayMs;
          }
        },
        (error: unknown) => {
          // Stopped while it loaded (or waited to ask again): the next run asks again, and the
          // host's URLs stay in the frontier, since a stopped crawl starts no visit.
          if (this.#stopping) host.robots = "unknown";
          else host.robots = { error: `robots.txt: ${reasonOf(error, this.#options.timeoutMs)}` };
        },
      )
      .finally(() => {
        this.#active--;
        this.#wake();
      });
  }

  /** The text of robots.txt ("" for none), following redirects and retrying as pages do. */
  async #fetchRobots(key: string): Promise<string> {
    let url = new URL(`http://${key}/robots.txt`);
    const chain = new Set([url.href]);
    for (let attempt = 0; ;) {
      let fetched: Fetched | undefined;
      let failure: unknown;
      const sent: Sent = { request: false };
      try {
        const keepBytes = ROBOTS_MAX_BYTES; // past it, ignored: not an error, whatever --max-body
        fetched = await this.#c.fetcher
          .fetch(url, this.#abort.signal, undefined, keepBytes, sent)
          .finally(() => {
            if (sent.request) this.stats.robotsFetched++;
          });
      } catch (error) {
        if (this.#abort.signal.aborted || !isTransient(error)) throw error;
        failure = error;
      }
      const status = fetched?.status ?? 0;
      if (fetched !== undefined && status >= 200 && status < 300) {
        let body: Uint8Array;
        try {
          body = decodeContent(
            fetched.body!,
            fetched.headers.get("content-encoding"),
            64 * ROBOTS_MAX_BYTES, // gzip of a 500 KiB file of spaces is 1 KiB: decompress a bounded amount
            { coding: undefined }, // cut short: its rules as far as they go, safer than none
          );
        } catch {
          return ""; // an unknown coding, or bytes that do not decode: unavailable
        }
        return new TextDecoder().decode(body.subarray(0, ROBOTS_MAX_BYTES));
      }
      if (status >= 300 && status < 400) {
        const location = fetched!.headers.get("location");
        const target = location === undefined ? null : normalizeUrl(locationOf(location), url);
        if (target === null || !target.startsWith("http:") || chain.has(target)) return "";
        if (chain.size > ROBOTS_MAX_REDIRECTS) return "";
        chain.add(target);
        url = new URL(target);
        continue;
      }
      if (status >= 400 && status < 500 && status !== 429) return "";
      if (attempt++ >= this.#options.retries) {
        throw failure ?? new Error(`HTTP ${status} ${fetched?.reason ?? ""}`.trim());
      }
      // A stopping crawl does not wait for this (a Retry-After may be a minute): #stop.
      const waitMs = this.#backoffMs(attempt - 1, this.#retryAfterMs(fetched?.headers));
      await this.#c.engine.sleep(waitMs, this.#stop.signal);
    }
  }
}

/**
 * Read the body of 2xx answers that are HTML, or that say no type (readPage() looks at their
 * first bytes); of anything else, only the head matters. An untyped body that says it is larger
 * than maxBodyBytes is not read either: most likely a file of a type the server does not know
 * (Apache 2.4 sends none for a name whose extension its mime.types lacks: a disk image, a
 * dump), and a page to index it could not be anyway; read, it would be an error, "body exceeds".
 */
function wantsBody(head: ResponseEvent, type: MimeType | null, maxBodyBytes: number): boolean {
  if (head.status < 200 || head.status >= 300) return false;
  if (type === null) return !(Number(head.headers.get("content-length")) > maxBodyBytes);
  return type.essence === "text/html" || type.essence === "application/xhtml+xml";
}

/** Whether error is the parser's "body exceeds" (its statusHint is a server's 413). */
function tooLarge(error: unknown): boolean {
  return error instanceof ProtocolError && error.statusHint === 413;
}

// Directives that take a value after a colon, which is not a crawler's name before one.
const VALUED = new Set([
  "max-snippet",
  "max-image-preview",
  "max-video-preview",
  "unavailable_after",
]);

/**
 * What X-Robots-Tag says to the crawler named robotsName. A directive may be aimed at one
 * crawler ("googlebot: noindex, nofollow": both for googlebot) or at all (no name). Sent twice,
 * the header arrives joined with ", ", so a name holds until the next one: "a: noindex, b:
 * nofollow, noarchive" gives b nofollow and noarchive (so a second header of bare directives
 * after a named one counts as the named one's: once joined, the two cannot be told apart).
 */
export function robotsTag(
  value: string | undefined,
  robotsName: string,
): { noindex: boolean; nofollow: boolean } {
  const ours = new Set<string>();
  let agent: string | null = null; // null: every crawler
  for (const part of (value ?? "").toLowerCase().split(",")) {
    let directives = part.trim();
    const named = /^([^\s:]+)\s*:\s*(.*)$/.exec(directives);
    if (named !== null && !VALUED.has(named[1]!)) {
      agent = named[1]!;
      directives = named[2]!;
    }
    if (agent !== null && agent !== robotsName.toLowerCase()) continue;
    for (const directive of directives.split(/\s+/)) ours.add(directive); // "noindex nofollow" too
  }
  const none = ours.has("none");
  return { noindex: none || ours.has("noindex"), nofollow: none || ours.has("nofollow") };
}

/** Retry-After as milliseconds: "120" (seconds) or an HTTP date; 0 if absent or unreadable. */
export function retryAfter(value: string | undefined, nowMs: number): number {
  if (value === undefined) return 0;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? 0 : Math.max(0, date - nowMs);
}

/**
 * A Location header's value as a browser reads it. A header's bytes arrive as latin1 (one char per
 * byte: shared/http.ts), and some servers send a raw UTF-8 path (`Location: /вики`): read as
 * latin1 and encoded again, each byte would become two. A browser percent-encodes the raw bytes,
 * so do we: /%D0%B2%D0%B8%D0%BA%D0%B8, the path the server meant (and bytes that are not UTF-8
 * stay the bytes they were).
 */
export function locationOf(value: string): string {
  return value.replace(
    /[\x80-\xff]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function pathOf(url: string): string {
  const { pathname, search } = new URL(url);
  return pathname + search;
}
