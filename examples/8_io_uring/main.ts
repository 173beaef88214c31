// 8_io_uring: the same crawl twice, with readiness and with completion. epoll tells us when a
// socket is ready, and we then make each call ourselves; io_uring takes the calls themselves and
// tells us when they are done. The native module counts the system calls each way makes.
//
// Lecture: past the end of its list of "хитрые команды", which stops at epoll and kqueue and says
//   of Windows only "В Windows свои интересные штуки". One of those is IOCP, which completes
//   requests instead of reporting readiness; io_uring (Linux 5.1, 2019) brought that to Linux.
// Builds on: 4_callbacks (the whole site crawled by one loop of callbacks, many fetches at once,
//   each socket registered with epoll); its loop is the readiness half here, kept small. What
//   changes in the completion half: instead of "wake me when fd 7 is readable", then recv, we say
//   "recv from fd 7", and later read "done: 1448 bytes".
// Leaves out: linking requests (connect, send and recv as one chain), registered buffers and
//   files, buffer rings and SQPOLL; the README says what each would save. Keep-alive, robots.txt
//   and the hard cases of /trouble/ are the crawler's.
// Run: pnpm run 8_io_uring [--url http://host:port/path] [--latency MS] [--articles N]
//   [--concurrency N] [--max-pages N] [--timeout MS]
import { createHash } from "node:crypto";
import { constants } from "node:os";
import {
  AF_INET,
  type Address,
  BlockingIOError,
  type Completion,
  EVENT_READ,
  EVENT_WRITE,
  EpollSelector,
  IoUring,
  SO_ERROR,
  SOL_SOCKET,
  Socket,
  getaddrinfo,
  ioUringUnavailable,
  osError,
  resetSyscallCounts,
  syscallCounts,
} from "@async-from-scratch/native";
import {
  buildRequest,
  cancelFlags,
  crawlFlags,
  charsetOf,
  linksOnHost,
  openTarget,
  parseResponse,
  readHtml,
  siteFlags,
  startLesson,
} from "@async-from-scratch/shared";

// The crawling lessons' flags (4_callbacks to 7_node_event_loop), on a larger site by default:
// about 300 pages, so that the figures per page are averages over many.
const { articles, concurrency, "max-pages": maxPages } = crawlFlags();
const args = startLesson("8_io_uring", {
  ...siteFlags(20),
  articles: { ...articles, default: 100 },
  concurrency,
  "max-pages": maxPages,
  timeout: cancelFlags().timeout,
});

// io_uring may be missing (not Linux, a kernel older than 5.11) or refused (a seccomp filter, as
// in Docker's default profile, or sysctl kernel.io_uring_disabled). Then there is nothing to
// compare, and that is no fault of the lesson: it says why, and ends without an error.
const unavailable = ioUringUnavailable();
if (unavailable !== null) {
  console.log(`io_uring is not available here: ${unavailable}`);
  console.log("so there is nothing to compare epoll with; the README shows a run where there is");
  process.exit(0);
}

const target = await openTarget(args.url, { latencyMs: args.latency, articles: args.articles });
// Resolved once, before any loop runs: getaddrinfo blocks, and the crawl never leaves this host.
const [resolved] = getaddrinfo(target.url.hostname, Number(target.url.port || 80), AF_INET);
const address: Address = [resolved!.host, resolved!.port];

// A fetch ends with the bytes of the whole response, as the server sent them, or with an error.
type Done = (bytes: Buffer | null, error: Error | null) => void;

// The two ways of running fetches, each with its own loop; crawl() below drives either of them.
interface Engine {
  readonly name: string;
  /** Starts fetching url; done is called once, when the fetch has ended. */
  fetch(url: URL, done: Done): void;
  /** Runs the loop until every fetch has ended. */
  run(): void;
  close(): void;
  /** Sockets reported ready per wait (epoll), or requests completed per wait (io_uring). */
  readonly perWait: number;
}

function timedOut(url: URL): Error {
  return osError(constants.errno.ETIMEDOUT, "fetch", `${url.pathname}, after ${args.timeout} ms`);
}

// Each fetch's deadline, for both loops' timeouts: a loop sleeps at most until the nearest one,
// then expires every fetch past its own. A scan of one entry per fetch in flight; asyncio keeps
// its timers in a heap, which pays off with many more.
class Deadlines {
  readonly #at = new Map<() => void, number>();

  add(expire: () => void): void {
    this.#at.set(expire, performance.now() + args.timeout);
  }

  delete(expire: () => void): void {
    this.#at.delete(expire);
  }

  /** Seconds until the nearest deadline; null (wait for ever) when there is none. */
  timeout(): number | null {
    if (this.#at.size === 0) return null;
    return Math.max(0, (Math.min(...this.#at.values()) - performance.now()) / 1000);
  }

  expireOverdue(): void {
    const now = performance.now();
    for (const [expire, at] of this.#at) {
      if (at > now) continue;
      this.#at.delete(expire);
      expire();
    }
  }
}

// ---- readiness: epoll says when, and we make every call -------------------------------------
// 4_callbacks' loop: each registered socket carries, as its key's data, the step to run when it
// is ready. Every step is a system call of ours: the wait that said "ready", then the send or
// recv that does the work.
function readiness(): Engine {
  const selector = new EpollSelector<() => void>();
  const deadlines = new Deadlines();
  let waits = 0;
  let ready = 0;
  return {
    name: "epoll",
    fetch(url, done) {
      let sock: Socket;
      const request = buildRequest(url);
      const chunks: Buffer[] = [];
      let sent = 0;
      const end = (error: Error | null) => {
        deadlines.delete(expire);
        if (selector.getMap().has(sock.fileno())) selector.unregister(sock);
        sock.close();
        done(error === null ? Buffer.concat(chunks) : null, error);
      };
      const expire = () => end(timedOut(url));
      // Each step catches its own errors: one thrown into the loop would end every fetch.
      const step = (body: () => void) => () => {
        try {
          body();
        } catch (error) {
          end(error as Error);
        }
      };
      // The socket turns writable when the handshake ends, well or badly; SO_ERROR says which.
      const connected = step(() => {
        const errno = sock.getsockopt(SOL_SOCKET, SO_ERROR);
        if (errno !== 0) throw osError(errno, "connect", `${address[0]}:${address[1]}`);
        writable();
      });
      const writable = step(() => {
        sent += sock.send(request.subarray(sent));
        if (sent < request.length) selector.modify(sock, EVENT_WRITE, writable);
        else selector.modify(sock, EVENT_READ, readable);
      });
      // One wake-up, one recv. Readiness is a hint: recv may still find nothing, then we wait.
      const readable = step(() => {
        let chunk: Buffer;
        try {
          chunk = sock.recv(4096);
        } catch (error) {
          if (error instanceof BlockingIOError) return;
          throw error;
        }
        if (chunk.length === 0) return end(null);
        chunks.push(chunk);
      });
      try {
        sock = new Socket();
      } catch (error) {
        return done(null, error as Error); // EMFILE, say: no socket, nothing to close
      }
      deadlines.add(expire);
      step(() => {
        sock.setBlocking(false);
        try {
          sock.connect(address);
        } catch (error) {
          if (!(error instanceof BlockingIOError)) throw error;
        }
        selector.register(sock, EVENT_WRITE, connected);
      })();
    },
    run() {
      while (selector.getMap().size > 0) {
        waits++;
        for (const [key] of selector.select(deadlines.timeout())) {
          ready++;
          key.data();
        }
        // Giving up is simple here: nothing of ours is in the kernel's hands, so a fetch past its
        // deadline unregisters its socket, closes it, and is gone.
        deadlines.expireOverdue();
      }
    },
    close() {
      selector.close();
    },
    get perWait() {
      return ready / waits;
    },
  };
}

// ---- completion: we hand io_uring the calls, and it says when they are done ------------------
// Each step queues the fetch's next request and names what to do with its completion; the loop
// submits everything queued and sleeps in one io_uring_enter, then reaps the completions, which
// costs no system call at all: they are in memory we share with the kernel.
function completion(): Engine {
  // Room for each fetch's one request in flight, and a cancel of it.
  const ring = new IoUring(2 * args.concurrency);
  const then = new Map<number, (done: Completion) => void>(); // by ticket
  const deadlines = new Deadlines();
  let waits = 0;
  let completed = 0;
  return {
    name: "io_uring",
    fetch(url, done) {
      let sock: Socket;
      const request = buildRequest(url);
      const chunks: Buffer[] = [];
      let sent = 0;
      let inFlight = 0; // the ticket of this fetch's request in the kernel
      let cancelled = false;
      const end = (error: Error | null) => {
        deadlines.delete(expire);
        sock.close(); // only ever after the last request has completed: see expire
        done(error === null ? Buffer.concat(chunks) : null, error);
      };
      // What to do when the request with this ticket completes. A request that failed ends the
      // fetch with what the call would have thrown (ConnectionRefusedError, ...).
      const whenDone = (ticket: number, next: (done: Completion) => void) => {
        inFlight = ticket;
        then.set(ticket, (done) => {
          if (cancelled) end(timedOut(url));
          else if (done.error !== null) end(done.error);
          else next(done);
        });
      };
      const connected = () => whenDone(ring.send(sock, request), sentSome);
      const sentSome = (done: Completion) => {
        sent += done.result;
        if (sent < request.length) whenDone(ring.send(sock, request.subarray(sent)), sentSome);
        else whenDone(ring.recv(sock, 4096), received);
      };
      // The completion carries the bytes: there is no recv to make after the wake-up.
      const received = (done: Completion) => {
        if (done.data!.length === 0) return end(null);
        chunks.push(done.data!);
        whenDone(ring.recv(sock, 4096), received);
      };
      // Past the deadline we cannot simply stop waiting, as epoll's loop does: the request is in
      // the kernel's hands, with its buffer, and closing the socket would not stop it (it holds a
      // reference to the socket of its own). So we ask the kernel to cancel it; the fetch ends
      // when the request completes, with ECANCELED, or with its result if that came first.
      const expire = () => {
        cancelled = true;
        then.set(ring.cancel(inFlight), () => {}); // 0, or ENOENT if it had completed already
      };
      try {
        sock = new Socket(); // no setBlocking(false): the kernel waits, never this thread
      } catch (error) {
        return done(null, error as Error);
      }
      deadlines.add(expire);
      whenDone(ring.connect(sock, address), connected);
    },
    run() {
      while (ring.inFlight > 0) {
        waits++;
        ring.wait(1, deadlines.timeout());
        for (const done of ring.reap()) {
          completed++;
          const next = then.get(done.ticket)!;
          then.delete(done.ticket);
          next(done);
        }
        deadlines.expireOverdue();
      }
    },
    close() {
      ring.close();
    },
    get perWait() {
      return completed / waits;
    },
  };
}

// ---- the crawl, the same both ways -----------------------------------------------------------
// The lecture's algorithm (0_blocking_socket), with up to --concurrency fetches at once: a fetch
// that ends queues the links of its page and starts the next fetches.
interface Page {
  url: URL;
  status: number;
  body: Uint8Array;
}

interface Crawl {
  engine: Engine;
  pages: Page[];
  failed: [url: URL, error: Error][];
  wallMs: number;
  /** CPU time in user space (our JavaScript, V8) and in the kernel (system calls, TCP). */
  cpu: NodeJS.CpuUsage;
  calls: Record<string, number>;
}

// The page, and the links on it to follow: those on its own host, except under /trouble/, the
// fixture site's hard cases (an 8 MiB body, a drip-fed one, ...). They are the crawler's business;
// here every page is an ordinary one, so that figures per page compare like with like.
function read(url: URL, bytes: Buffer): { page: Page; links: string[] } {
  const response = parseResponse(bytes);
  const contentType = response.headers.get("content-type") ?? "";
  // Read as the crawler reads a page: in its charset, and its links' queries in it too.
  const html = contentType.startsWith("text/html") ? response.body : new Uint8Array(0);
  const { links: all } = readHtml(html, url.href, charsetOf(contentType)).page;
  const links = linksOnHost(all, url.host).filter(
    (link) => !new URL(link).pathname.startsWith("/trouble/"),
  );
  return { page: { url, status: response.status, body: response.body }, links };
}

function crawl(makeEngine: () => Engine): Crawl {
  // Counted from before the loop is made to after it is closed: epoll_create1, or io_uring_setup
  // and its mmaps, are part of what each way costs.
  resetSyscallCounts();
  const cpu = process.cpuUsage();
  const wall = performance.now();
  const engine = makeEngine();
  const pages: Page[] = [];
  const failed: [URL, Error][] = [];
  const queue = [target.url.href];
  const seen = new Set(queue);
  let started = 0;
  let running = 0;
  const startFetches = () => {
    while (queue.length > 0 && running < args.concurrency && started < args["max-pages"]) {
      const url = new URL(queue.shift()!);
      started++;
      running++;
      engine.fetch(url, (bytes, error) => {
        running--;
        try {
          if (error !== null) throw error;
          const { page, links } = read(url, bytes!);
          pages.push(page);
          for (const link of links.filter((link) => !seen.has(link))) {
            seen.add(link);
            queue.push(link);
          }
        } catch (error) {
          failed.push([url, error as Error]); // a failed page is a line of the report
        }
        startFetches();
      });
    }
  };
  startFetches();
  engine.run();
  engine.close();
  return {
    engine,
    pages,
    failed,
    wallMs: performance.now() - wall,
    cpu: process.cpuUsage(cpu),
    calls: syscallCounts(),
  };
}

console.log(`crawling ${target.url.href} twice, up to ${args.concurrency} fetches at once:`);
console.log("first with epoll (readiness), then with io_uring (completion)");
// A first round of both, not counted: the first crawl of a process also compiles the HTML parser
// and the HTTP helper (V8's JIT), and would look slower than the second for that alone. If its
// first page cannot be fetched, there is no crawl to compare: that is one line and status 1.
const warmUp = crawl(readiness);
if (warmUp.pages.length === 0) throw warmUp.failed[0]![1];
crawl(completion);
const [epoll, uring] = [crawl(readiness), crawl(completion)] as const;
const crawls = [epoll, uring];
await target.close();

// ---- what each way cost ----------------------------------------------------------------------
// A digest of every page's path, status and body, in the order of their paths: the same digest
// both ways means the same bytes, whatever order the pages came in.
function digest({ pages }: Crawl): string {
  const hash = createHash("sha256");
  const path = (url: URL) => url.pathname + url.search;
  const sorted = pages.toSorted((a, b) => (path(a.url) < path(b.url) ? -1 : 1));
  for (const { url, status, body } of sorted) {
    hash.update(`${path(url)} ${status} ${body.length}\n`).update(body);
  }
  return hash.digest("hex").slice(0, 12);
}
const bodyBytes = ({ pages }: Crawl) => pages.reduce((sum, page) => sum + page.body.length, 0);
const ms = (microseconds: number) => `${(microseconds / 1000).toFixed(0)} ms`;
const row = (label: string, cell: (crawl: Crawl) => string | number) =>
  console.log(`  ${label.padEnd(20)}${crawls.map((c) => String(cell(c)).padStart(14)).join("")}`);

console.log("");
row("", (c) => c.engine.name);
row("pages fetched", (c) => c.pages.length);
row("pages failed", (c) => c.failed.length);
row("body bytes", bodyBytes);
row("digest of bodies", digest);
row("wall time", (c) => ms(c.wallMs * 1000));
row("CPU time, user", (c) => ms(c.cpu.user));
row("CPU time, kernel", (c) => ms(c.cpu.system));
for (const { engine, failed } of crawls) {
  for (const [url, error] of failed.toSorted(([a], [b]) => (a.href < b.href ? -1 : 1))) {
    console.log(`  ${engine.name} failed ${url.pathname}${url.search}: ${error.message}`);
  }
}

// Every system call the native module made, by name, in the order the module lists them.
const total = ({ calls }: Crawl) => Object.values(calls).reduce((sum, count) => sum + count, 0);
const perPage = (crawl: Crawl) => total(crawl) / Math.max(1, crawl.pages.length);
console.log("");
row("system calls", (c) => c.engine.name);
for (const name of new Set([...Object.keys(epoll.calls), ...Object.keys(uring.calls)])) {
  row(name, (c) => c.calls[name] ?? "-");
}
row("all", total);
row("per page", (c) => perPage(c).toFixed(1));

console.log(
  `\nepoll: ${epoll.engine.perWait.toFixed(1)} sockets ready per epoll_wait, ` +
    "each then a send or recv of our own",
);
console.log(
  `io_uring: ${uring.engine.perWait.toFixed(1)} requests completed per io_uring_enter, ` +
    "which also submitted the next ones",
);
const fewer = perPage(epoll) / perPage(uring);
console.log(`io_uring made ${fewer.toFixed(1)} times fewer system calls per page`);
console.log(
  epoll.pages.length === uring.pages.length && digest(epoll) === digest(uring)
    ? `the same ${epoll.pages.length} pages, byte for byte, both ways`
    : "the two crawls did not fetch the same pages: a site that changes, or --max-pages",
);
