// 2_good_socket: the same non-blocking fetch, but instead of spinning we ask the kernel to wake
// us when the socket is ready, and sleep until it does. Wall time stays the same; CPU time drops
// to almost nothing.
//
// Lecture: "Хороший вариант неблокирующего сокета" (the lecture's 2_good_socket.py), and
//   "Функции команд": register an fd, sleep, get woken when its state changes.
// Builds on: 1_bad_socket. What changes: every `retryUntilReady(...)` becomes "register the socket
//   for the event we need, sleep in selector.select(), then make the call once".
// Leaves out: doing anything else while we sleep. One socket, one wait at a time, written top to
//   bottom; many sockets sharing one loop, with callbacks, is the next step.
// Run: pnpm run 2_good_socket [--url http://host:port/path] [--latency MS] [--backend NAME]
import {
  type BaseSelector,
  BlockingIOError,
  DefaultSelector,
  EVENT_READ,
  EVENT_WRITE,
  EpollSelector,
  KqueueSelector,
  PollSelector,
  SO_ERROR,
  SOL_SOCKET,
  SelectSelector,
  Socket,
  availableSelectors,
  osError,
} from "@async-from-scratch/native";
import {
  buildRequest,
  cpuVersusWall,
  describeResponse,
  openTarget,
  startClock,
  siteFlags,
  startLesson,
} from "@async-from-scratch/shared";

const backends = {
  select: SelectSelector,
  poll: PollSelector,
  epoll: EpollSelector,
  kqueue: KqueueSelector,
};
const args = startLesson("2_good_socket", {
  ...siteFlags(500),
  backend: {
    type: "string",
    choices: Object.keys(backends),
    help: "which system call waits, instead of DefaultSelector's choice",
  },
});

// DefaultSelector is the best this system has: epoll on Linux, kqueue on macOS and BSD, else poll.
// Asking for one the system lacks (kqueue on Linux) fails here, before anything starts.
let selector: BaseSelector;
try {
  const Selector = args.backend ? backends[args.backend as keyof typeof backends] : DefaultSelector;
  selector = new Selector();
} catch (error) {
  console.error(`2_good_socket: ${(error as Error).message}`);
  process.exit(2);
}
const why =
  args.backend === undefined
    ? `DefaultSelector's choice, the best of ${availableSelectors.join(", ")} on ${process.platform}`
    : "chosen with --backend";
console.log(`selector: ${selector.name} (${why})`);

const target = await openTarget(args.url, { latencyMs: args.latency });
const url = target.url;
console.log(`fetching ${url.href} with a non-blocking socket and ${selector.name}`);

const readClock = startClock();
let wakeUps = 0;

// Where lesson 1 retried at once, we sleep: register the socket for the event we need, and the
// process is off the CPU until the kernel sees it become ready (or fail). Returns a line saying
// what woke us, for the student to read.
function sleepUntil(sock: Socket, events: number): string {
  selector.register(sock, events);
  const asleep = performance.now();
  let woke = "";
  for (const [key, ready] of selector.select()) {
    wakeUps++;
    const names = [ready & EVENT_READ && "EVENT_READ", ready & EVENT_WRITE && "EVENT_WRITE"];
    woke = `wake-up ${wakeUps} after ${(performance.now() - asleep).toFixed(1)} ms: fd ${key.fd} ${names.filter(Boolean).join(" | ")}`;
  }
  selector.unregister(sock);
  return woke;
}

const sock = new Socket();
sock.setBlocking(false);
try {
  sock.connect([url.hostname, Number(url.port || 80)]);
} catch (error) {
  if (!(error instanceof BlockingIOError)) throw error;
}
// The socket becomes writable when the handshake ends, well or badly; SO_ERROR says which.
let woke = sleepUntil(sock, EVENT_WRITE);
const connectError = sock.getsockopt(SOL_SOCKET, SO_ERROR);
if (connectError !== 0) throw osError(connectError, "connect", url.host);

// Writable means the kernel has buffer space now; send may still take only part of the request.
const request = buildRequest(url);
let sent = sock.send(request);
console.log(`${woke}: connected, sent ${sent} bytes`);
while (sent < request.length) {
  woke = sleepUntil(sock, EVENT_WRITE);
  sent += sock.send(request.subarray(sent));
  console.log(`${woke}: sent ${sent} bytes in all`);
}

// Readable means data or end of file is waiting. Readiness is a hint, not a promise, so recv can
// still throw BlockingIOError; then we simply sleep again.
const chunks: Buffer[] = [];
for (;;) {
  woke = sleepUntil(sock, EVENT_READ);
  let chunk: Buffer;
  try {
    chunk = sock.recv(4096);
  } catch (error) {
    if (!(error instanceof BlockingIOError)) throw error;
    console.log(`${woke}: nothing to read after all`);
    continue;
  }
  console.log(`${woke}: recv ${chunk.length} bytes${chunk.length === 0 ? ", end of file" : ""}`);
  if (chunk.length === 0) break;
  chunks.push(chunk);
}
sock.close();
selector.close();
const clock = readClock();
await target.close();

console.log(`response: ${describeResponse(Buffer.concat(chunks), url)}`);
console.log(`wake-ups: ${wakeUps}; between them the process slept in ${selector.name}`);
console.log(`${cpuVersusWall(clock)}: the core was free while we waited`);
