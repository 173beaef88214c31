// 5_coroutines: the same crawl as 4_callbacks, with each fetch written top to bottom again, as
// a generator: where the blocking fetch waited, it yields, and the loop resumes it when its
// socket is ready.
//
// Lecture: "Асинхронный подход" (as 4_callbacks), and "Кооперативная многозадачность":
//   a coroutine gives up control only where it says so.
// Builds on: 4_callbacks. The loop and the crawl are the same, line for line. What changes: the
//   Fetcher and its callbacks give way to a Future (a result that is not here yet), a Task that
//   steps a generator each time the Future it yielded gets its result, and generators composed
//   with `yield*`, which is TypeScript's `yield from`: connect, sendAll, read, readAll, fetch.
// Leaves out: timeouts and cancelling, and the `async`/`await` syntax that does what Task does
//   here (6_async_await); keep-alive, robots.txt and politeness (the crawler).
// Run: pnpm run 5_coroutines [--url http://host:port/path] [--latency MS] [--articles N]
//   [--concurrency N] [--max-pages N] [--timeline] [--stacks] [--svg FILE]
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

const args = startLesson("5_coroutines", {
  ...siteFlags(200),
  ...crawlFlags(),
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
// long as any socket is registered. A fetch in flight always has its socket registered (for
// writing until connected, then for reading), so an empty selector means the crawl is over.
type Callback = (key: SelectorKey<Callback>, events: number) => void;
const selector = new DefaultSelector<Callback>();

function runLoop(): void {
  while (selector.getMap().size > 0) {
    for (const [key, events] of selector.select()) key.data(key, events);
  }
}

// ---- coroutines: Future and Task ------------------------------------------------------------
// A Future is a result that is not here yet. Whoever waits for it adds a callback; whoever has
// the result calls setResult, which runs the callbacks. It is all a coroutine ever yields.
class Future<T = unknown> {
  result: T | undefined;
  readonly callbacks: ((result: T) => void)[] = [];

  addDoneCallback(callback: (result: T) => void): void {
    this.callbacks.push(callback);
  }

  setResult(result: T): void {
    this.result = result;
    for (const callback of this.callbacks) callback(result);
  }
}

// A Task drives one coroutine: it runs the generator up to its next `yield`, which hands over a
// Future, and when that Future gets its result the Task sends it back in with next(result); the
// generator goes on from the line after its yield. Where the state lives: in the generator's own
// local variables. The generator object keeps its suspended stack frame, which is what lesson 4's
// Fetcher kept by hand in its fields.
//
// The calls that can fail (the connect check, recv, the parser) run inside the generator, after
// the yield, so they throw there, and the exception goes up through the `yield*`s to fetch's own
// try/catch as in any sequential code. asyncio's Task can also throw an error into a coroutine
// (coro.throw), for a Future that failed somewhere else; but an error made outside carries the
// stack of the place that made it, the loop's, and nothing here fails outside, so next() is all
// the Task needs. Even 6_async_await's timeouts are thrown by the fetch itself, where it resumes.
class Task {
  readonly coroutine: Generator<Future, void, unknown>;

  constructor(coroutine: Generator<Future, void, unknown>) {
    this.coroutine = coroutine;
    this.step(undefined);
  }

  step(value: unknown): void {
    const next = this.coroutine.next(value);
    if (!next.done) next.value.addDoneCallback((result) => this.step(result));
  }
}

// ---- the fetch, as a coroutine ---------------------------------------------------------------
// It reads like 0_blocking_socket's fetch again, top to bottom. Each `yield` is where that fetch
// blocked: here this coroutine stops, other fetches run, and the Task resumes it when the loop
// finds its socket ready. Anything that must hold across a yield (the parser's state, the body so
// far) is a local variable, kept in the suspended generator.
//
// When a fetch fails, its stack trace now tells the story (run with --stacks):
//
//   ConnectionResetError: recv(fd 35): Connection reset by peer (ECONNRESET)
//       at makeError (native/errors.ts)
//       at Socket.recv (native/socket.ts)
//       at read (examples/5_coroutines/main.ts)
//       at read.next (<anonymous>)
//       at readAll (examples/5_coroutines/main.ts)
//       at readAll.next (<anonymous>)
//       at fetch (examples/5_coroutines/main.ts)
//       at fetch.next (<anonymous>)
//       at Task.step (examples/5_coroutines/main.ts)
//       ...
//
// recv failed in read, called from readAll, called from fetch: the same path as in a blocking
// program. Below it, the Task and the loop that resumed them.

/** A Future that gets its result when the loop finds sock ready for events. */
function ready(sock: Socket, events: number): Future {
  const future = new Future();
  selector.register(sock, events, () => {
    selector.unregister(sock);
    future.setResult(undefined);
  });
  return future;
}

function* connect(sock: Socket): Generator<Future, void, unknown> {
  sock.setBlocking(false);
  try {
    sock.connect(address);
  } catch (error) {
    if (!(error instanceof BlockingIOError)) throw error;
  }
  // The socket becomes writable when the handshake ends, well or badly; SO_ERROR says which.
  yield ready(sock, EVENT_WRITE);
  const errno = sock.getsockopt(SOL_SOCKET, SO_ERROR);
  if (errno !== 0) throw osError(errno, "connect", `${address[0]}:${address[1]}`);
}

// A request of a hundred bytes nearly always goes in one send; the loop covers the other case.
function* sendAll(sock: Socket, data: Uint8Array): Generator<Future, void, unknown> {
  let sent = 0;
  while (sent < data.length) {
    yield ready(sock, EVENT_WRITE);
    sent += sock.send(data.subarray(sent));
  }
}

function* read(sock: Socket): Generator<Future, Buffer, unknown> {
  for (;;) {
    yield ready(sock, EVENT_READ);
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
function* readAll(sock: Socket, record: FetchRecord): Generator<Future, void, unknown> {
  const parser = new ResponseParser();
  let response: ResponseEvent | undefined;
  const body: Uint8Array[] = [];
  for (;;) {
    const event = parser.nextEvent();
    if (event === PAUSED) break;
    if (event === NEED_DATA) {
      const chunk = yield* read(sock);
      record.firstByteMs ??= performance.now();
      parser.receiveData(chunk);
    } else if (event.type === "response") response = event;
    else if (event.type === "data") body.push(event.data);
  }
  readResponse(record, response!, Buffer.concat(body)); // "response" came first
}

function* fetch(url: URL): Generator<Future, void, unknown> {
  const record = startRecord(url);
  const sock = new Socket();
  try {
    yield* connect(sock);
    record.connectedMs = performance.now();
    yield* sendAll(sock, buildRequest(url));
    yield* readAll(sock, record);
  } catch (error) {
    record.error = error as Error; // the native module and the parser throw only Errors
  } finally {
    sock.close();
  }
  record.endMs = performance.now();
  finished(record);
}

// ---- the crawl -------------------------------------------------------------------------------
// The lecture's algorithm (0_blocking_socket): a list of URLs; fetch one, add the links it has to
// the list, repeat. But up to --concurrency fetches run at once, and nothing here waits: a fetch
// ends by calling finished(), which queues its links and starts the next fetches.
const start = target.url;
const queue = [start.href];
const seen = new Set(queue);
const records: FetchRecord[] = [];
let started = 0;
let running = 0;
let peak = 0;

function startFetches(): void {
  // --max-pages counts fetches started, so none is still running when we reach it.
  while (queue.length > 0 && running < args.concurrency && started < args["max-pages"]) {
    started++;
    running++;
    peak = Math.max(peak, running);
    new Task(fetch(new URL(queue.shift()!)));
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
  startFetches();
}

console.log(`crawling ${start.href} with up to ${args.concurrency} connections at once`);
const readClock = startClock();
startFetches();
runLoop();
const clock = readClock();
selector.close();
await target.close();

console.log(crawlReport({ records, peak, clock }, args));

// The timeline as a picture (--svg names the file). The charting library is loaded only now,
// after the crawl: it takes about a second, and that is not the crawl's time.
console.log(
  await drawChart(args.svg, ({ timelineChart }) =>
    timelineChart("5_coroutines", crawlSpans(records)),
  ),
);
