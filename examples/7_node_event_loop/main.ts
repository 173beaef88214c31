// 7_node_event_loop: the same crawl on Node's own event loop: `net` sockets and async/await, with
// no native module and no loop of our own. libuv, the C library under Node, does what lessons 2
// to 6 built by hand.
//
// Lecture: "Асинхронный подход": "доверить это ожидание кому-то другому", here to Node; and
//   "Функции команд": "ОС сама вызовет нужную часть программы" is what libuv's loop does.
// Builds on: 6_async_await, whose crawl, fetch and output this keeps. What changes: net.connect
//   instead of Socket and DefaultSelector; Node's reads, handed out by an async iterator, instead
//   of our ready() and read(); Node's setTimeout instead of our timers; Node's loop instead of
//   runLoop(). The README maps each piece of lessons 2-6 to the part of libuv that does it.
// Leaves out: keep-alive, robots.txt and politeness (the crawler).
// Run: pnpm run 7_node_event_loop [--url http://host:port/path] [--latency MS] [--articles N]
//   [--concurrency N] [--max-pages N] [--timeout MS] [--timeline] [--stacks]
//   [--svg FILE] [--compare]
import { lookup } from "node:dns/promises";
import { once } from "node:events";
import { connect } from "node:net";
import {
  type FetchRecord,
  NEED_DATA,
  PAUSED,
  type ResponseEvent,
  ResponseParser,
  type ProgramRun,
  buildRequest,
  cancelFlags,
  crawlFlags,
  crawlReport,
  crawlSpans,
  crawlSummary,
  describeFetch,
  drawChart,
  openTarget,
  readResponse,
  runTypeScriptProgram,
  siteFlags,
  startClock,
  startLesson,
  startRecord,
} from "@async-from-scratch/shared";
import { SocketReads } from "@async-from-scratch/shared/reads";

const args = startLesson("7_node_event_loop", {
  ...siteFlags(200),
  ...crawlFlags(),
  ...cancelFlags(),
  compare: {
    type: "boolean",
    help: "then run 6_async_await's crawl of the same site, and print both times",
  },
});
const target = await openTarget(args.url, { latencyMs: args.latency, articles: args.articles });

// The host name is resolved once, as in lessons 4-6, so that both loops do the same work. Here it
// would not stall the loop even if done for every fetch: dns.lookup runs getaddrinfo in libuv's
// thread pool (4 threads unless UV_THREADPOOL_SIZE says otherwise), and the loop goes on.
const address = (await lookup(target.url.hostname, { family: 4 })).address;
const port = Number(target.url.port || 80);

// ---- the fetch, as an async function on Node's sockets ---------------------------------------
// 6_async_await's fetch, with Node's pieces in place of ours. net.connect starts a non-blocking
// connect and registers the socket with libuv, which watches it with epoll (kqueue on macOS)
// inside uv_run. Its "connect" event is lesson 6's ready(sock, EVENT_WRITE) and SO_ERROR check;
// SocketReads hands out what each read() returned once epoll said "readable", one at a time (the
// socket's own async iterator would too, but reads on meanwhile, and then libuv can report a
// reset as an end of file when this process runs late: shared/reads.ts says why). Every
// `await` leaves a microtask behind, and Node runs the microtask queue after each callback it
// makes: the job lesson 6's microtasksDone() did by hand.
//
// The timeout is Node's setTimeout, a timer kept by libuv's loop; the signal given to
// net.connect destroys the socket when it aborts, and the await that waits on the socket then
// throws. So a timer, or the end of the crawl, stops a fetch at its await, as in lesson 6.
async function fetch(url: URL): Promise<void> {
  const record = startRecord(url);
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(timedOut(url)), args.timeout);
  const signal = AbortSignal.any([timeout.signal, stopCrawl.signal]);
  const reads = new SocketReads();
  const sock = reads.watch(connect({ host: address, port, signal, onread: reads.onread }));
  try {
    await once(sock, "connect", { signal });
    record.connectedMs = performance.now();
    // write() never blocks: what the kernel does not take yet, Node keeps and sends when libuv
    // finds the socket writable (lesson 6's sendAll).
    sock.write(buildRequest(url));
    await readAll(reads, record);
    // A fetch that ends after the crawl was stopped, in the same turn, is cancelled too.
    signal.throwIfAborted();
  } catch (error) {
    // Aborted: Node throws an AbortError whose cause is our reason; record the reason itself.
    record.error = signal.aborted ? (signal.reason as Error) : (error as Error);
  } finally {
    clearTimeout(timer);
    sock.destroy();
  }
  record.endMs = performance.now();
  finished(record);
}

// Feeds the parser each piece of the response as a read returns it, until the parser says the
// response is over: the same sans-I/O parser, under a different loop.
async function readAll(reads: SocketReads, record: FetchRecord): Promise<void> {
  const chunks: AsyncIterator<Buffer> = reads[Symbol.asyncIterator]();
  const parser = new ResponseParser();
  let response: ResponseEvent | undefined;
  const body: Uint8Array[] = [];
  for (;;) {
    const event = parser.nextEvent();
    if (event === PAUSED) break;
    if (event === NEED_DATA) {
      const next = await chunks.next();
      record.firstByteMs ??= performance.now();
      parser.receiveData(next.done ? new Uint8Array(0) : next.value); // done: the peer closed
    } else if (event.type === "response") response = event;
    else if (event.type === "data") body.push(event.data);
  }
  readResponse(record, response!, Buffer.concat(body)); // "response" came first
}

// The same error as lesson 6's timeout, so that both lessons count it alike (as ETIMEDOUT).
function timedOut(url: URL): Error {
  const error = new Error(`fetch(${url.pathname}): no whole answer within ${args.timeout} ms`);
  return Object.assign(error, { name: "TimeoutError", code: "ETIMEDOUT" });
}

// asyncio's name for what a cancelled fetch meets at its await.
class CancelledError extends Error {
  override name = "CancelledError";
}

// ---- the crawl -------------------------------------------------------------------------------
// 6_async_await's crawl, line for line. Nothing here waits, and there is no runLoop() to call:
// Node's loop runs as long as a socket or a timer is alive, and the crawl is over when it ends.
const start = target.url;
const queue = [start.href];
const seen = new Set(queue);
const records: FetchRecord[] = [];
let running = 0;
let peak = 0;
const stopCrawl = new AbortController();

function startFetches(): void {
  while (queue.length > 0 && running < args.concurrency && records.length < args["max-pages"]) {
    running++;
    peak = Math.max(peak, running);
    void fetch(new URL(queue.shift()!));
  }
}

function finished(record: FetchRecord): void {
  running--;
  records.push(record);
  console.log(describeFetch(record));
  for (const link of record.links) {
    if (seen.has(link)) continue;
    seen.add(link);
    queue.push(link);
  }
  if (records.length === args["max-pages"]) {
    stopCrawl.abort(new CancelledError(`--max-pages ${args["max-pages"]} reached`));
  }
  startFetches();
  if (running === 0) crawled();
}

if (args.compare) await warmUp();
console.log(`crawling ${start.href} with up to ${args.concurrency} connections at once`);
const readClock = startClock();
let crawled: () => void = () => {};
const done = new Promise<void>((resolve) => (crawled = resolve));
startFetches();
await done;
const clock = readClock();

console.log(crawlReport({ records, peak, clock }, args));

// The timeline as a picture (--svg names the file). The charting library is loaded only now,
// after the crawl: it takes about a second, and that is not the crawl's time.
console.log(
  await drawChart(args.svg, ({ timelineChart }) =>
    timelineChart("7_node_event_loop", crawlSpans(records)),
  ),
);

if (args.compare) await compare();
await target.close();

// --compare: lesson 6 crawls the same site in a process of its own, with the same flags, and we
// print both times. A child process rather than lesson 6's code in this one: a lesson is a whole
// program (its loop blocks the thread in epoll, where Node's loop could not run beside it), and
// running it as the student does measures what the student measures. A site is slower the first
// time (the fixture site builds its 8 MiB page on first use), so lesson 6 crawls it once before
// we start, untimed, and once more after us, timed.
function runLesson6(): Promise<ProgramRun> {
  const flags = ["--url", start.href, "--concurrency", String(args.concurrency)];
  flags.push("--max-pages", String(args["max-pages"]), "--timeout", String(args.timeout));
  return runTypeScriptProgram(new URL("../6_async_await/main.ts", import.meta.url), flags);
}

async function warmUp(): Promise<void> {
  console.log("--compare: lesson 6 crawls the site once to warm it up (untimed)");
  await runLesson6();
}

async function compare(): Promise<void> {
  const run = await runLesson6();
  if (run.status !== 0) {
    console.log(`\n--compare: 6_async_await failed (status ${run.status}):\n${run.stderr}`);
    return;
  }
  const theirs = figures(run.stdout);
  const ours = figures(crawlSummary({ records, peak, clock, latencyMs: undefined }));
  console.log(
    "\nthe same crawl of the same site, by lesson 6 (run after this one) and by this one:",
  );
  console.log(`  6_async_await      our loop on epoll     ${theirs}`);
  console.log(`  7_node_event_loop  Node's loop (libuv)   ${ours}`);
}

// "53 URLs in 3.69 s, CPU time 451.1 ms", from a crawl's summary.
function figures(summary: string): string {
  const urls = /^(\d+) URLs fetched/m.exec(summary)?.[1];
  const wall = /^wall time ([\d.]+ s)/m.exec(summary)?.[1];
  const cpu = /^CPU time ([\d.]+ ms)/m.exec(summary)?.[1];
  return `${urls} URLs in ${wall}, CPU time ${cpu}`;
}
