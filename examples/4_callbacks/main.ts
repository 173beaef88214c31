// 4_callbacks: a whole site crawled by one thread, many pages at a time: a hand-made event loop
// calls back whichever fetch's socket is ready, so twenty pages wait side by side and the crawl
// takes a few latencies instead of one per page.
//
// Lecture: "Асинхронный подход" (download a whole site without a thread per page: "не ждать
//   какой-то операции, а доверить это ожидание кому-то другому"), carrying on from "Хороший
//   вариант неблокирующего сокета", whose text stops at 2_good_socket.py.
// Builds on: 2_good_socket's shape (register the socket with a callback as key.data, a small loop
//   that calls key.data). What changes: many sockets share the one selector and loop, and each
//   fetch is a Fetcher object whose steps are callbacks.
// Leaves out: a fetch that reads top to bottom (5_coroutines gives it back), timeouts and
//   cancelling (6_async_await), keep-alive, robots.txt and politeness (the crawler). Every fetch
//   is HTTP/1.0, one connection per page, as in the lessons before.
// Run: pnpm run 4_callbacks [--url http://host:port/path] [--latency MS] [--articles N]
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

const args = startLesson("4_callbacks", {
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

// ---- the fetch, as callbacks -----------------------------------------------------------------
// Where the state lives: 0_blocking_socket's fetch keeps its socket, its request and the body
// read so far in local variables, alive on the stack from its first line to its last. Here each
// step returns to the loop as soon as it has done its part, and its stack frame is gone; so all
// a later step needs is kept in the object's fields. The Fetcher is the fetch's stack frame,
// kept by hand.
//
// Why it reads inside out: the order of the fetch (connect, send, read, read, ...) is nowhere in
// the code as a sequence. Each step ends by naming the next one (`selector.modify(..., next)`),
// a `while` loop around recv has become "stay registered and return", and every step catches its
// own errors, because an exception thrown from a callback goes up into the loop, which knows
// nothing of this fetch. Here is the stack trace of a fetch that fails (run with --stacks; the
// fixture site resets /reset's connection halfway through its body):
//
//   ConnectionResetError: recv(fd 35): Connection reset by peer (ECONNRESET)
//       at makeError (native/errors.ts)
//       at Socket.recv (native/socket.ts)
//       at Object.readable (examples/4_callbacks/main.ts)
//       at runLoop (examples/4_callbacks/main.ts)
//       at <anonymous> (examples/4_callbacks/main.ts)
//
// The loop called a callback (as key.data, hence "Object"); that is all it says. Not which page
// this was, not who started the fetch (that call returned long ago), not what the fetch was in the
// middle of. Coroutines (5_coroutines) give the fetch its stack back.
class Fetcher {
  readonly record: FetchRecord;
  readonly sock = new Socket();
  readonly request: Uint8Array;
  sent = 0;
  readonly parser = new ResponseParser();
  response: ResponseEvent | undefined;
  readonly body: Uint8Array[] = [];

  constructor(url: URL) {
    this.record = startRecord(url);
    this.request = buildRequest(url);
  }

  start(): void {
    try {
      this.sock.setBlocking(false);
      try {
        this.sock.connect(address);
      } catch (error) {
        if (!(error instanceof BlockingIOError)) throw error;
      }
      // The socket becomes writable when the handshake ends, well or badly.
      selector.register(this.sock, EVENT_WRITE, this.connected);
    } catch (error) {
      this.fail(error);
    }
  }

  // The steps are arrow functions, so that `this` is still the Fetcher when the loop calls them.
  connected = (): void => {
    try {
      const errno = this.sock.getsockopt(SOL_SOCKET, SO_ERROR);
      if (errno !== 0) throw osError(errno, "connect", `${address[0]}:${address[1]}`);
      this.record.connectedMs = performance.now();
      this.send();
    } catch (error) {
      this.fail(error);
    }
  };

  writable = (): void => {
    try {
      this.send();
    } catch (error) {
      this.fail(error);
    }
  };

  // A request of a hundred bytes nearly always goes in one send; if the kernel takes only part
  // of it, we stay registered for writing and send the rest when there is room.
  send(): void {
    this.sent += this.sock.send(this.request.subarray(this.sent));
    if (this.sent < this.request.length) selector.modify(this.sock, EVENT_WRITE, this.writable);
    else selector.modify(this.sock, EVENT_READ, this.readable);
  }

  // Called for every piece of the response as it arrives. The parser is sans-I/O: it takes the
  // bytes recv gave us and says what it can make of them so far, NEED_DATA until the end.
  readable = (): void => {
    try {
      const chunk = this.sock.recv(4096);
      this.record.firstByteMs ??= performance.now();
      this.parser.receiveData(chunk);
      for (;;) {
        const event = this.parser.nextEvent();
        if (event === NEED_DATA) return; // still registered: the loop calls us when more comes
        if (event === PAUSED) break;
        if (event.type === "response") this.response = event;
        else if (event.type === "data") this.body.push(event.data);
      }
      readResponse(this.record, this.response!, Buffer.concat(this.body)); // "response" came first
    } catch (error) {
      // Readiness is a hint: recv may find nothing after all. Then we simply wait for the next.
      if (error instanceof BlockingIOError) return;
      return this.fail(error);
    }
    this.finish();
  };

  fail(error: unknown): void {
    this.record.error = error as Error; // the native module and the parser throw only Errors
    this.finish();
  }

  finish(): void {
    if (selector.getMap().has(this.sock.fileno())) selector.unregister(this.sock);
    this.sock.close();
    this.record.endMs = performance.now();
    finished(this.record);
  }
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
    new Fetcher(new URL(queue.shift()!)).start();
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
    timelineChart("4_callbacks", crawlSpans(records)),
  ),
);
