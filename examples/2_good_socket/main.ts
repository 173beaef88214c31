// 2_good_socket: the same non-blocking fetch, but instead of spinning we register the socket with a
// selector, with a callback as its data, and sleep in select() until the kernel says the socket is
// ready. A loop of a few lines then calls that callback. Wall time stays the same; CPU time drops
// to almost nothing.
//
// Lecture: "Хороший вариант неблокирующего сокета" (the lecture's 2_good_socket.py), and
//   "Функции команд": register an fd, sleep, be woken when its state changes.
// Builds on: 1_bad_socket. What changes: each `retryUntilReady(...)` becomes a callback, and
//   instead of retrying, the loop sleeps until the socket is ready and then calls it: connected()
//   when the handshake is over, readable() each time data (or end of file) has come.
// Leaves out: more than one socket. The loop below would serve many, each with callbacks of its
//   own; 4_callbacks does that, to fetch a whole site at once.
// Run: pnpm run 2_good_socket [--url http://host:port/path] [--latency MS] [--backend NAME]
import {
  type BaseSelector,
  type SelectorKey,
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
  startThreadClock,
  threadVersusWall,
} from "@async-from-scratch/shared";

const args = startLesson("2_good_socket", {
  ...siteFlags(500),
  backend: {
    type: "string",
    choices: ["select", "poll", "epoll", "kqueue"],
    help: "which system call waits, instead of DefaultSelector's choice",
  },
});
// What a key's data is in this lesson: the function to call when its socket is ready. The loop
// passes it the key and the events that happened; this lesson's callbacks need neither, as they
// have one socket and wait for one event at a time.
type Callback = (key: SelectorKey<Callback>, events: number) => void;
const selector = newSelector(args.backend); // DefaultSelector unless --backend: see the end

const target = await openTarget(args.url, { latencyMs: args.latency });
const url = target.url;
console.log(`fetching ${url.href} with a non-blocking socket and ${selector.name}`);

const readClock = startClock();
// And what the kernel's scheduler saw this thread do meanwhile: see the last lines.
const readThreadClock = startThreadClock();
const request = buildRequest(url);
let sent = 0;
const chunks: Buffer[] = [];

const sock = new Socket();
sock.setBlocking(false);
try {
  sock.connect([url.hostname, Number(url.port || 80)]);
} catch (error) {
  if (!(error instanceof BlockingIOError)) throw error;
}

// The socket becomes writable when the handshake is over, well or badly; SO_ERROR says which. A
// refused connection throws here, right after the wake-up that reported it.
function connected(): void {
  const error = sock.getsockopt(SOL_SOCKET, SO_ERROR);
  if (error !== 0) throw osError(error, "connect", url.host);
  console.log(`  connected(): the handshake is over`);
  writable();
}

// Writable means the kernel has room for more of the request. That is a hint, not a promise: send
// can still throw BlockingIOError, or take only part of the request. Then we stay registered for
// EVENT_WRITE, with this function as the callback, and the loop calls it again.
function writable(): void {
  try {
    sent += sock.send(request.subarray(sent));
  } catch (error) {
    if (!(error instanceof BlockingIOError)) throw error;
    console.log(`  writable(): send would block after all; wait for EVENT_WRITE again`);
    selector.modify(sock, EVENT_WRITE, writable);
    return;
  }
  if (sent < request.length) {
    console.log(`  writable(): sent ${sent} of ${request.length} bytes; wait to send the rest`);
    selector.modify(sock, EVENT_WRITE, writable);
    return;
  }
  console.log(`  writable(): sent ${sent} bytes, the whole request; next: EVENT_READ, readable()`);
  selector.modify(sock, EVENT_READ, readable);
}

// Readable means data or end of file is waiting. A hint again: recv can still throw
// BlockingIOError, and then we simply wait for the next wake-up.
function readable(): void {
  let chunk: Buffer;
  try {
    chunk = sock.recv(4096);
  } catch (error) {
    if (!(error instanceof BlockingIOError)) throw error;
    console.log(`  readable(): nothing to read after all`);
    return;
  }
  if (chunk.length > 0) {
    console.log(`  readable(): recv ${chunk.length} bytes`);
    chunks.push(chunk);
    return;
  }
  console.log(`  readable(): recv 0 bytes, end of file; unregister: nothing is left to wait for`);
  selector.unregister(sock);
  sock.close();
}

// Register once, with the callback as the key's data: "wake me when sock is writable, and
// remember that connected() comes next". modify() changes both as the fetch goes on.
selector.register(sock, EVENT_WRITE, connected);

// The loop. select() puts the process to sleep in the kernel until a registered socket is ready,
// then returns the ready keys, and that is all the kernel does. Calling our code is the loop's
// job: each key's data is the callback we registered with it. It runs while anything is
// registered.
let wakeUps = 0;
function loop(): void {
  while (selector.getMap().size > 0) {
    const asleep = performance.now();
    for (const [key, events] of selector.select()) {
      wakeUps++;
      const ms = (performance.now() - asleep).toFixed(1);
      const callback = key.data;
      console.log(
        `wake-up ${wakeUps} after ${ms} ms: fd ${key.fd} ${eventNames(events)}, ` +
          `the loop calls ${callback.name}()`,
      );
      callback(key, events);
    }
  }
}
loop();
selector.close();
const clock = readClock();
const thread = readThreadClock();
await target.close();

console.log(`response: ${describeResponse(Buffer.concat(chunks), url)}`);
console.log(`wake-ups: ${wakeUps}; between them the process slept in ${selector.name}`);
console.log(`the kernel only ended each wait; each callback was called by our loop`);
console.log(`${cpuVersusWall(clock)}: the core was free while we waited`);
// The same as the scheduler counted it, to set beside 1_bad_socket's line. On a busy machine the
// busy loop's CPU time falls short of wall time too, but the scheduler tells the time a thread
// waited for its turn (runnable) from the time it did not want a CPU at all (asleep). The busy
// loop was hardly ever asleep; this thread is asleep nearly all of the wall time, in one sleep
// for each wait that the kernel could not end at once.
console.log(`our thread, as the kernel's scheduler saw it: ${threadVersusWall(thread)}`);
if (typeof thread !== "string") {
  console.log(`  it slept in ${selector.name} until the socket was ready; the busy loop never did`);
}

function eventNames(events: number): string {
  const names = [events & EVENT_READ && "EVENT_READ", events & EVENT_WRITE && "EVENT_WRITE"];
  return names.filter(Boolean).join(" | ");
}

// ---- set-up: which system call waits -------------------------------------------------------------
// DefaultSelector is the best this system has: epoll on Linux, kqueue on macOS and BSD, else poll.
// --backend asks for another; one the system lacks (kqueue on Linux) fails here, before anything
// starts.
function newSelector(backend: string | undefined): BaseSelector<Callback> {
  const backends = {
    select: SelectSelector,
    poll: PollSelector,
    epoll: EpollSelector,
    kqueue: KqueueSelector,
  };
  let chosen: BaseSelector<Callback>;
  try {
    const Selector = backend ? backends[backend as keyof typeof backends] : DefaultSelector;
    chosen = new Selector<Callback>();
  } catch (error) {
    console.error(`2_good_socket: ${(error as Error).message}`);
    process.exit(2);
  }
  const why =
    backend === undefined
      ? `DefaultSelector's choice, the best of ${availableSelectors.join(", ")} on ${process.platform}`
      : "chosen with --backend";
  console.log(`selector: ${chosen.name} (${why})`);
  return chosen;
}
