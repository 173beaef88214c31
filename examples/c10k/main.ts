// c10k: one process holds ten thousand connections open at once, and one thread serves them all.
//
// Lecture: "Неблокирующий ввод-вывод": «Есть так называемая проблема C10k: как один сервер может
//   одновременно работать с 10,000 соединениями?» and its answer, «неблокирующий ввод-вывод и
//   асинхронное программирование». Here, measured on your machine.
// Builds on: lessons 2-6 (non-blocking sockets, a selector, an event loop), grown up into the
//   shared loop (shared/loop) and an HTTP server on it (shared/server.ts, run by server.ts). What
//   changes: the numbers. Ten thousand sockets, each a small object and one registration in
//   epoll, and no thread per connection.
// Leaves out: a realistic load. Each connection asks once and is held; `pnpm run bench:c10k`
//   keeps them all busy and compares the server with Node's own and with nginx.
// Run: pnpm run c10k [--connections N] [--backend NAME] [--hold-ms MS] [--url URL]
import { AF_INET, getaddrinfo, threadStackSize, type Address } from "@async-from-scratch/native";
import { buildRequest, startLesson } from "@async-from-scratch/shared";
import { EventLoop } from "@async-from-scratch/shared/loop";
import { Crowd, WINDOW, outcomesInWords } from "./client.ts";
import {
  backends,
  limitProblems,
  fdsOpenedSince,
  openFdSet,
  readLimits,
  residentBytes,
  startServer,
  type RunningServer,
} from "./common.ts";

const args = startLesson("c10k", {
  connections: {
    type: "integer",
    default: 10_000,
    min: 1,
    max: 1_000_000, // the system's own limits are checked below, with a message that names them
    help: "how many connections to open and hold at once",
  },
  backend: {
    type: "string",
    choices: Object.keys(backends),
    help: "which system call this process waits in (default: the best this system has)",
  },
  "hold-ms": {
    type: "integer",
    default: 1000,
    min: 0,
    max: 600_000,
    help: "how long to hold every connection open after its reply",
  },
  url: { type: "url", help: "a server to connect to, instead of starting ours" },
});
const N = args.connections;
const fdsBefore = openFdSet();
const WARM_UP = 100;

// The limits first: a clear sentence now beats EMFILE at connection 19,970. This process needs a
// few fds besides the connections (Node's own, the selector, the server's pipes).
const limits = readLimits();
const problems = limitProblems(N, limits, fdsBefore.size + 16);
if (problems.length > 0) {
  for (const problem of problems) console.error(`c10k: ${problem}`);
  process.exit(1);
}

// Asking for a backend this system lacks (kqueue on Linux) fails here, before anything starts.
let loop: EventLoop;
try {
  loop = new EventLoop(
    args.backend ? new backends[args.backend as keyof typeof backends]() : undefined,
  );
} catch (error) {
  console.error(`c10k: ${(error as Error).message}`);
  process.exit(2);
}

// The server runs in a process of its own: this one will be asleep in epoll_wait, and a server
// in the same thread could not answer. With --url, it is someone else's. It waits with the best
// backend there is, whatever --backend says: select's limit shows here, in the client, where it
// is hit at the same connection every time (`pnpm run c10k-server --backend select` shows the
// server's side).
let server: RunningServer | null = null;
let url: URL;
if (args.url === undefined) {
  server = await startServer("./server.ts", []);
  url = new URL(`http://127.0.0.1:${server.port}/`);
} else {
  url = args.url;
}
// A name is resolved once, here: Socket.connect would ask DNS again for each connection.
const port = Number(url.port || 80);
const address: Address = [getaddrinfo(url.hostname, port, AF_INET)[0]!.host, port];
console.log(`c10k: ${N} connections from this process (${loop.selector.name}) to ${url.href}`);
console.log(`  the server: ${server ? `ours, pid ${server.pid}` : "not ours (--url)"}`);
const { fds, ports, somaxconn } = limits;
console.log(
  `  limits here: ${fds ? `${fds.soft} fds per process (ulimit -n)` : "fds not shown"}, ` +
    `${ports ? `ports ${ports.low}-${ports.high}` : "ports not shown"}, ` +
    `backlog ${somaxconn ? `at most ${somaxconn} (somaxconn)` : "not shown"}`,
);

// Every connection sends the same bytes: HTTP/1.1, so the server keeps the connection open.
const request = buildRequest(url, { httpVersion: "1.1" });
// A warm-up first: a few connections ask once and close, so that the JIT has compiled the request
// path on both sides before the baseline is measured; the figures below are the connections' own.
const warmUp = new Crowd(loop, address, request);
await loop.run(warmUp.open(WARM_UP));
await loop.run(warmUp.requestAll());
warmUp.closeAll();
await loop.run(loop.sleep(100));
// What happened to them, not what was meant: where nothing listens (a --url), all are refused.
const warmedUp = warmUp.outcomes();
console.log(
  warmedUp.get("replied") === WARM_UP
    ? `  warm-up: ${WARM_UP} connections asked once and closed`
    : `  warm-up: ${WARM_UP} connections, not all answered (${outcomesInWords(warmedUp)}); closed`,
);

const crowd = new Crowd(loop, address, request);
const memoryBefore = {
  server: server ? await loop.run(settledResidentBytes(server.pid)) : 0,
  client: residentBytes(),
};

let started = loop.time();
await loop.run(crowd.open(N));
const openMs = loop.time() - started;
const opened = crowd.openNow;

let roundTripMs = 0;
let stillOpen = 0;
const memoryAtPeak = { server: 0, client: 0 };
if (crowd.limit === null) {
  console.log(
    `opened ${opened} connections in ${seconds(openMs)}, at most ${WINDOW} connecting at once`,
  );
  console.log(`  open at the same moment, at the peak: ${crowd.peakOpen}`);
  started = loop.time();
  await loop.run(crowd.requestAll());
  roundTripMs = loop.time() - started;
  console.log(`sent one request on each: ${crowd.replies} replies in ${seconds(roundTripMs)}`);
  await loop.run(loop.sleep(args["hold-ms"]));
  stillOpen = crowd.openNow;
  memoryAtPeak.server = server ? residentBytes(server.pid) : 0;
  memoryAtPeak.client = residentBytes();
  console.log(`held them for ${args["hold-ms"]} ms: ${stillOpen} still open at the end`);
} else {
  // select's FD_SETSIZE, or the fds ran out after all: the lecture's point about select.
  console.log(`stopped after ${opened} connections: ${crowd.limit.name}: ${crowd.limit.message}`);
}
crowd.closeAll();
loop.close();
console.log(crowd.limit ? "closed every connection" : `closed all ${stillOpen}`);

console.log("\nevery connection, accounted for:");
const outcomes = crowd.outcomes();
const width = Math.max(...[...outcomes.keys()].map((outcome) => outcome.length));
for (const [outcome, count] of outcomes) {
  console.log(`  ${outcome.padEnd(width)}  ${String(count).padStart(String(N).length)}`);
}
const total = [...outcomes.values()].reduce((sum, count) => sum + count, 0);
console.log(
  `  ${"total".padEnd(width)}  ${total}${total === N ? ", as many as asked for" : ` of ${N}!`}`,
);

if (crowd.limit === null) {
  console.log(`\nresident memory (RSS) with all ${stillOpen} connections open:`);
  // With none open (every connect refused, say) there is nothing to divide the growth among.
  const perConnection = (after: number, before: number) =>
    `${mib(after)}, ${mib(after - before)} more than before them` +
    (stillOpen === 0
      ? ""
      : `: ${((after - before) / 1024 / stillOpen).toFixed(2)} KiB per connection`);
  console.log(
    server
      ? `  server  ${perConnection(memoryAtPeak.server, memoryBefore.server)}`
      : "  server  not measured: it is not our process (--url)",
  );
  console.log(`  client  ${perConnection(memoryAtPeak.client, memoryBefore.client)}`);
  const stack = threadStackSize();
  console.log(
    `a thread per connection would reserve ${N} x ${mib(stack)} = ${mib(N * stack)} ` +
      `of stack (computed, not attempted)`,
  );
}

if (server) {
  console.log("\nthe server's own accounting, after SIGTERM:");
  const said = (await server.stop()).trimEnd();
  console.log(said.replace(/^/gm, "  "));
}
console.log(`\nfds left open in this process: ${fdsOpenedSince(fdsBefore)}`);
// A run in which no connection got its reply measured nothing: say why in one line, as the crawler
// does when it could read no page, and end with status 1 (a script can tell).
if (crowd.limit === null && crowd.replies === 0) {
  process.stderr.write(`c10k: no connection got a reply: ${outcomesInWords(outcomes)}\n`);
}
process.exitCode = crowd.limit || crowd.replies === 0 ? 1 : 0;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function mib(bytes: number): string {
  return bytes >= 1024 ** 3
    ? `${(bytes / 1024 ** 3).toFixed(1)} GiB`
    : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/**
 * The server's RSS once it has settled: a server just started and warmed up may still give memory
 * back (its collector after the warm-up, tsx's loader), and a baseline taken before that made the
 * connections' share come out below zero now and then. Read every 100 ms until two readings
 * agree within 64 KiB, for 2 s at most.
 */
async function settledResidentBytes(pid: number): Promise<number> {
  let last = residentBytes(pid);
  for (let tries = 0; tries < 20; tries++) {
    await loop.sleep(100);
    const now = residentBytes(pid);
    if (Math.abs(now - last) < 64 * 1024) return now;
    last = now;
  }
  return last;
}
