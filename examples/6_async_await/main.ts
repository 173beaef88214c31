// 6_async_await: the same crawl as 5_coroutines, written with async/await on the same hand-made
// loop, with what a real crawl needs: a timeout for each fetch, and cancelling the fetches still
// running when --max-pages is reached.
//
// Lecture: "Асинхронный подход" (as 4_callbacks), and "Кооперативная многозадачность":
//   every `await` is a place where other fetches may run.
// Builds on: 5_coroutines. What changes: the Future gets a then() method, so `await` can wait for
//   it, and the JavaScript engine does what the Task did (the Task is gone); `function*` becomes
//   `async function` and `yield`/`yield*` become `await`. The loop learns two things: timers,
//   and letting the microtasks that `await` leaves behind run between its rounds. The fetches
//   take an AbortSignal, through which a timer or the end of the crawl stops them.
// Leaves out: keep-alive, robots.txt and politeness (the crawler). Node's own loop, which does
//   all of this for us, is 7_node_event_loop.
// Run: pnpm run 6_async_await [--url http://host:port/path] [--latency MS] [--articles N]
//   [--concurrency N] [--max-pages N] [--timeout MS] [--timeline] [--stacks]
//   [--svg FILE] [--skip-microtasks]
import { constants } from "node:os";
import {
  AF_INET,
  type Address,
  BlockingIOError,
  DefaultSelector,
  EVENT_READ,
  EVENT_WRITE,
  SO_ERROR,
  SOL_SOCKET,
  type SelectorKey,
  Socket,
  TimeoutError,
  getaddrinfo,
  osError,
} from "@async-from-scratch/native";
import {
  type FetchRecord,
  NEED_DATA,
  PAUSED,
  type ResponseEvent,
  ResponseParser,
  buildRequest,
  cancelFlags,
  crawlFlags,
  crawlReport,
  crawlSpans,
  describeFetch,
  drawChart,
  openTarget,
  readResponse,
  siteFlags,
  startClock,
  startLesson,
  startRecord,
} from "@async-from-scratch/shared";

const args = startLesson("6_async_await", {
  ...siteFlags(200),
  ...crawlFlags(),
  ...cancelFlags(),
  "skip-microtasks": {
    type: "boolean",
    help: "to see what goes wrong: the loop does not let await's continuations run",
  },
});
const target = await openTarget(args.url, { latencyMs: args.latency, articles: args.articles });

// The host name is resolved once, here, before the loop starts. getaddrinfo blocks until DNS
// answers (a millisecond from a cache, seconds from a slow server), and a blocking call made
// inside the loop stalls every connection of the loop at once; Socket.connect would make it for
// every fetch. Node's own loop (7_node_event_loop) runs getaddrinfo in libuv's thread pool
// instead. The crawl never leaves this host, so one address serves every fetch.
// (getaddrinfo throws GaiError for a name it cannot resolve, so `resolved` is there.)
const [resolved] = getaddrinfo(target.url.hostname, Number(target.url.port || 80), AF_INET);
const address: Address = [resolved!.host, resolved!.port];

// ---- the event loop --------------------------------------------------------------------------
// 2_good_socket's loop, grown up: each registered socket carries, as its key's data, the function
// to call when it is ready; the loop sleeps in select() and calls whichever are ready, for as
// long as any socket is registered or any timer is set. It has learned two things since lesson 5.
type Callback = (key: SelectorKey<Callback>, events: number) => void;
const selector = new DefaultSelector<Callback>();

// Timers. The loop sleeps in select() no longer than until the nearest timer is due, then calls
// the timers that are due. Node's setTimeout cannot do this job: its timers are kept by Node's
// own loop, which does not run while ours sleeps in epoll. Sorted by when: asyncio keeps a heap,
// but with one timer per fetch, at most --concurrency of them, a sorted array is as quick.
interface Timer {
  when: number;
  callback: () => void;
}
const timers: Timer[] = [];

function callLater(ms: number, callback: () => void): Timer {
  const timer = { when: performance.now() + ms, callback };
  const later = timers.findIndex((other) => other.when > timer.when);
  timers.splice(later === -1 ? timers.length : later, 0, timer);
  return timer;
}

function cancelTimer(timer: Timer): void {
  const index = timers.indexOf(timer);
  if (index !== -1) timers.splice(index, 1);
}

// Microtasks. When a Future gets its result, the code after the `await` on it does not run at
// once: the engine queues it as a microtask, and microtasks run only when the JavaScript running
// now returns to Node. Our loop never returns while it works, so between rounds it steps aside:
// it awaits a setImmediate, which Node runs only after every microtask queued before it, and
// every microtask those queue in turn. One `await null` would not do: it lets the continuations
// already queued run, but the ones they queue (each `return` up a chain of awaits is one more)
// would wait until select() returns, and select() may be waiting for them. The cost is one turn
// of Node's own loop per round. (--skip-microtasks leaves this out, to show what happens then.)
function microtasksDone(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function runLoop(): Promise<void> {
  for (;;) {
    if (!args["skip-microtasks"]) await microtasksDone();
    if (selector.getMap().size === 0 && timers.length === 0) return;
    // Seconds until the nearest timer is due; with no timer, sleep until a socket is ready.
    const nearest = timers[0];
    const seconds = nearest && Math.max(0, nearest.when - performance.now()) / 1000;
    for (const [key, events] of selector.select(seconds)) key.data(key, events);
    while (timers[0] !== undefined && timers[0].when <= performance.now()) {
      timers.shift()!.callback();
    }
  }
}

// ---- coroutines: the awaitable Future ----------------------------------------------------------
// Lesson 5's Future, with a method more, then(). `await x` works on anything with a then()
// method: the engine calls x.then(resume) and suspends the async function until resume is
// called, then goes on from the line after the await. That is what lesson 5's Task did, so the
// Task is gone. Where the state lives: in the async function's local variables, as in lesson 5.
class Future<T = unknown> {
  result: T | undefined;
  done = false;
  readonly callbacks: ((result: T) => void)[] = [];

  addDoneCallback(callback: (result: T) => void): void {
    // The engine calls then() a microtask after the await, so the result may be here already.
    if (this.done) callback(this.result as T);
    else this.callbacks.push(callback);
  }

  setResult(result: T): void {
    this.result = result;
    this.done = true;
    for (const callback of this.callbacks) callback(result);
  }

  then(resume: (result: T) => void): void {
    this.addDoneCallback(resume);
  }
}

// asyncio's name for what a cancelled fetch meets at its await.
class CancelledError extends Error {
  override name = "CancelledError";
}

// ---- the fetch, as an async function ---------------------------------------------------------
// It reads like 0_blocking_socket's fetch again, top to bottom. Each `await` is where that fetch
// blocked: here this coroutine stops, other fetches run, and the engine resumes it when the loop
// finds its socket ready. Anything that must hold across an await (the parser's state, the body
// so far) is a local variable, kept in the suspended async function.
//
// When a fetch fails, its stack trace now tells the story (run with --stacks):
//
//   ConnectionResetError: recv(fd 35): Connection reset by peer (ECONNRESET)
//       at makeError (native/errors.ts)
//       at Socket.recv (native/socket.ts)
//       at read (examples/6_async_await/main.ts)
//       at async readAll (examples/6_async_await/main.ts)
//       at async fetch (examples/6_async_await/main.ts)
//
// recv failed in read, awaited by readAll, awaited by fetch. V8 follows the chain of awaits
// ("async" frames), so the trace is the one a blocking program would print, with no loop in it.

/**
 * Returns when the loop finds sock ready for events. If signal aborts first (the fetch's timer
 * fired, or the crawl is over), it wakes at once and throws the signal's reason instead.
 */
async function ready(sock: Socket, events: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  const future = new Future();
  const wake = () => {
    selector.unregister(sock);
    signal.removeEventListener("abort", wake);
    future.setResult(undefined);
  };
  selector.register(sock, events, wake);
  signal.addEventListener("abort", wake);
  await future;
  // Aborted while we waited, or after the socket was ready but before we ran again: either way
  // the fetch stops here, as asyncio's Task.cancel() stops a task at its next step.
  signal.throwIfAborted();
}

async function connect(sock: Socket, signal: AbortSignal): Promise<void> {
  sock.setBlocking(false);
  try {
    sock.connect(address);
  } catch (error) {
    if (!(error instanceof BlockingIOError)) throw error;
  }
  // The socket becomes writable when the handshake ends, well or badly; SO_ERROR says which.
  await ready(sock, EVENT_WRITE, signal);
  const errno = sock.getsockopt(SOL_SOCKET, SO_ERROR);
  if (errno !== 0) throw osError(errno, "connect", `${address[0]}:${address[1]}`);
}

// A request of a hundred bytes nearly always goes in one send; the loop covers the other case.
async function sendAll(sock: Socket, data: Uint8Array, signal: AbortSignal): Promise<void> {
  let sent = 0;
  while (sent < data.length) {
    await ready(sock, EVENT_WRITE, signal);
    sent += sock.send(data.subarray(sent));
  }
}

async function read(sock: Socket, signal: AbortSignal): Promise<Buffer> {
  for (;;) {
    await ready(sock, EVENT_READ, signal);
    try {
      return sock.recv(4096);
    } catch (error) {
      // Readiness is a hint: recv may find nothing after all. Then we simply wait again.
      if (!(error instanceof BlockingIOError)) throw error;
    }
  }
}

// Feeds the parser each piece of the response as recv returns it, until the parser says the
// response is over. The parser is sans-I/O: it never waits, it says NEED_DATA.
async function readAll(sock: Socket, record: FetchRecord, signal: AbortSignal): Promise<void> {
  const parser = new ResponseParser();
  let response: ResponseEvent | undefined;
  const body: Uint8Array[] = [];
  for (;;) {
    const event = parser.nextEvent();
    if (event === PAUSED) break;
    if (event === NEED_DATA) {
      const chunk = await read(sock, signal);
      record.firstByteMs ??= performance.now();
      parser.receiveData(chunk);
    } else if (event.type === "response") response = event;
    else if (event.type === "data") body.push(event.data);
  }
  readResponse(record, response!, Buffer.concat(body)); // "response" came first
}

// The timeout is a timer kept by our loop, raced against the fetch: if the timer comes first, it
// aborts the fetch's signal, and the fetch stops at the await where it waits, running its
// `finally` on the way out. The end of the crawl (stopCrawl) stops it the same way.
async function fetch(url: URL): Promise<void> {
  const record = startRecord(url);
  const sock = new Socket();
  const timeout = new AbortController();
  const timer = callLater(args.timeout, () => timeout.abort(timedOut(url)));
  const signal = AbortSignal.any([timeout.signal, stopCrawl.signal]);
  try {
    await connect(sock, signal);
    record.connectedMs = performance.now();
    await sendAll(sock, buildRequest(url), signal);
    await readAll(sock, record, signal);
    // A fetch that ends after the crawl was stopped, in the same round, is cancelled too.
    signal.throwIfAborted();
  } catch (error) {
    record.error = error as Error; // the native module, the parser and our aborts throw Errors
  } finally {
    cancelTimer(timer);
    sock.close();
  }
  record.endMs = performance.now();
  finished(record);
}

function timedOut(url: URL): TimeoutError {
  const message = `no whole answer within ${args.timeout} ms`;
  return new TimeoutError("fetch", constants.errno.ETIMEDOUT, url.pathname, message, "ETIMEDOUT");
}

// ---- the crawl -------------------------------------------------------------------------------
// The lecture's algorithm (0_blocking_socket): a list of URLs; fetch one, add the links it has to
// the list, repeat. But up to --concurrency fetches run at once, and nothing here waits: a fetch
// ends by calling finished(), which queues its links and starts the next fetches.
const start = target.url;
const queue = [start.href];
const seen = new Set(queue);
const records: FetchRecord[] = [];
let running = 0;
let peak = 0;
// --max-pages counts fetches done. Lessons 4 and 5 could not stop a fetch once begun, so they
// started no more than that; this one keeps every connection busy to the end, and when the last
// page it needs is in, cancels the fetches still running instead of waiting for them.
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
}

console.log(`crawling ${start.href} with up to ${args.concurrency} connections at once`);
const readClock = startClock();
startFetches();
await runLoop();
const clock = readClock();
if (running > 0) {
  // Only with --skip-microtasks: the loop woke each waiting fetch when its socket was ready, but
  // the code after its await, queued as a microtask, never ran, so nothing was left to wait for.
  const fetches = `${running} ${running === 1 ? "fetch" : "fetches"}`;
  const after = `${(clock.wallMs / 1000).toFixed(2)} s`;
  console.log(`the loop ran out of work after ${after} with ${fetches} unfinished:`);
  console.log("each was woken, but the code after its await is a microtask, and none ran");
  process.exit(1);
}
selector.close();
await target.close();

console.log(crawlReport({ records, peak, clock }, args));

// The timeline as a picture (--svg names the file). The charting library is loaded only now,
// after the crawl: it takes about a second, and that is not the crawl's time.
console.log(
  await drawChart(args.svg, ({ timelineChart }) =>
    timelineChart("6_async_await", crawlSpans(records)),
  ),
);
