// 0_threads: what a thread costs next to a process and a coroutine, and what threads buy us:
// blocking fetches that wait side by side instead of one after another.
//
// Lecture: "Потоки", and "Кооперативная многозадачность" on why processes and threads are heavy.
// Builds on: 0_fork_exec, which measured one process. Here N of each kind are alive at once: OS
//   threads, Node's worker_threads, processes, and coroutines (generators, async functions). Then
//   the lecture's blocking fetch (0_blocking_socket) runs in one thread per page.
// Leaves out: threads that compute (two cores run two threads at a time, however many we start),
//   and locks: these threads share nothing. Waiting for many sockets in one thread, the cure the
//   lecture turns to next, starts with 1_bad_socket.
// Run: pnpm run 0_threads [--url http://host:port/path] [--latency MS] [--pages K]
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import {
  Socket,
  forkExec,
  joinThreads,
  startThreads,
  threadStackSize,
  waitpid,
} from "@async-from-scratch/native";
import {
  buildRequest,
  openTarget,
  parseResponse,
  siteFlags,
  startLesson,
  startTypeScriptWorker,
} from "@async-from-scratch/shared";

// The lecture's fetch, as in 0_blocking_socket. connect, sendAll and recv each put the calling
// thread to sleep until the kernel has done its part; other threads run on meanwhile.
function fetch(url: URL): Buffer {
  const sock = new Socket();
  try {
    sock.connect([url.hostname, Number(url.port || 80)]);
    sock.sendAll(buildRequest(url));
    const chunks: Buffer[] = [];
    let chunk = sock.recv(4096);
    while (chunk.length > 0) {
      chunks.push(chunk);
      chunk = sock.recv(4096);
    }
    return Buffer.concat(chunks);
  } finally {
    sock.close();
  }
}

// ---- a worker thread of part 2 runs this file too, and only this block -------------------------
// It says it is ready, then blocks until the main thread says go (Atomics.wait: a real blocking
// wait, like recv's), makes its one fetch, hands the bytes back and ends. In a worker,
// process.exit() ends that thread only; it also keeps the main thread's code below from running.
if (!isMainThread) {
  const { href, go } = workerData as { href: string; go: Int32Array };
  parentPort!.postMessage("ready");
  Atomics.wait(go, 0, 0);
  parentPort!.postMessage(fetch(new URL(href)));
  process.exit(0);
}

// ---- the main thread ---------------------------------------------------------------------------
const args = startLesson("0_threads", {
  ...siteFlags(300),
  pages: {
    type: "integer",
    default: 8,
    min: 1,
    max: 32,
    help: "how many pages part 2 fetches, in turn and then one per thread",
  },
});

// ---- part 1: N of each kind alive at once, and what each one costs -----------------------------
// As many of each as fit in a second or so. A thousand threads is the lecture's own number; a
// worker is a whole JavaScript engine, and a process a whole program, so fewer of those.
const THREADS = 1000;
const WORKERS = 20;
const PROCESSES = 50;
const COROUTINES = 100_000;

// Each kind keeps its own units, so that a figure near a boundary (a process that starts in 0.99
// or 1.01 ms) does not switch unit from one run to the next.
type TimeUnit = "ms" | "µs";
type SizeUnit = "B" | "KiB" | "MiB";
interface Cost {
  kind: string;
  count: number;
  startMs: number; // to get all of them started
  bytes: number; // each
  note: string; // which footnote says how `bytes` was measured
  units: [TimeUnit, SizeUnit];
  stackBytes?: number; // each thread's reserved stack
}
const costs: Cost[] = [];

// A child's own resident memory, in bytes: from /proc on Linux, else from ps (both say KiB).
function residentOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return 1024 * Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]);
  } catch {
    const ps = execFileSync("ps", ["-o", "rss=", "-p", String(pid)], { encoding: "utf8" });
    return 1024 * Number(ps.trim());
  }
}

// heapUsed also counts garbage that the collector has not swept yet, so before each reading we
// ask V8 for a full collection. gc() exists only under `node --expose-gc`; setting that flag at
// run time and taking gc from a fresh context gives it to us without changing the command.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
function heapUsed(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

// Processes: fork + exec of `sleep`, as in 0_fork_exec, but PROCESSES of them alive at once. Then
// each is asked to stop (SIGTERM) and reaped with waitpid, or it would stay behind as a zombie.
{
  const started = performance.now();
  const pids: number[] = [];
  for (let i = 0; i < PROCESSES; i++) pids.push(forkExec("sleep", ["sleep", "30"], -1));
  const startMs = performance.now() - started;
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // let the last ones load libc
  const bytes = pids.reduce((sum, pid) => sum + residentOf(pid), 0) / PROCESSES;
  for (const pid of pids) process.kill(pid);
  for (const pid of pids) waitpid(pid, 0);
  costs.push({
    kind: "process (fork + exec)",
    count: PROCESSES,
    startMs,
    bytes,
    note: "a",
    units: ["ms", "MiB"],
  });
}

// OS threads: pthreads from the native module, each blocked until joinThreads wakes them all and
// waits for them to end. They live inside this process, so their cost is what this process grows.
{
  const before = process.memoryUsage.rss();
  const started = performance.now();
  const group = startThreads(THREADS);
  const startMs = performance.now() - started;
  const bytes = (process.memoryUsage.rss() - before) / THREADS;
  joinThreads(group);
  const stackBytes = threadStackSize();
  costs.push({
    kind: "OS thread (pthread)",
    count: THREADS,
    startMs,
    bytes,
    note: "b",
    units: ["µs", "KiB"],
    stackBytes,
  });
}

// worker_threads: Node's threads. Each is an OS thread too, but it carries a V8 engine and an
// event loop of its own. This one says it is ready, then waits for a message that never comes.
{
  const idle = `const { parentPort } = require("node:worker_threads");
parentPort.on("message", () => {});
parentPort.postMessage("ready");`;
  const before = process.memoryUsage.rss();
  const started = performance.now();
  const workers = Array.from({ length: WORKERS }, () => new Worker(idle, { eval: true }));
  await Promise.all(workers.map((worker) => once(worker, "message")));
  const startMs = performance.now() - started;
  const bytes = (process.memoryUsage.rss() - before) / WORKERS;
  // Node gives each worker's thread a stack of this size (4 MiB unless told otherwise).
  const stackBytes = workers[0]!.resourceLimits!.stackSizeMb! * 1024 * 1024;
  await Promise.all(workers.map((worker) => worker.terminate()));
  costs.push({
    kind: "worker_threads Worker",
    count: WORKERS,
    startMs,
    bytes,
    note: "b",
    units: ["ms", "MiB"],
    stackBytes,
  });
}

// Coroutines. A generator that has run to its first yield is suspended there: its local
// variables and the place to resume from are kept in one object on the JavaScript heap, and that
// is all. (The array that holds them adds 8 bytes each.)
{
  function* suspended(): Generator<void, void, void> {
    yield; // stops here; the next next() would resume it
  }
  const before = heapUsed();
  const started = performance.now();
  const generators: Generator<void, void, void>[] = [];
  for (let i = 0; i < COROUTINES; i++) {
    const generator = suspended();
    generator.next();
    generators.push(generator);
  }
  const startMs = performance.now() - started;
  const bytes = (heapUsed() - before) / COROUTINES;
  generators.length = 0; // all it takes to free them: the collector reclaims them like any object
  costs.push({
    kind: "suspended generator",
    count: COROUTINES,
    startMs,
    bytes,
    note: "c",
    units: ["µs", "B"],
  });
}

// The same with async functions, each suspended at its await until release() resolves the promise
// it waits for. What is kept: the function's state, the promise it returns, and a reaction
// registered on the promise it awaits.
{
  let release!: () => void;
  const later = new Promise<void>((resolve) => (release = resolve));
  async function suspended(): Promise<void> {
    await later; // stops here until release()
  }
  const before = heapUsed();
  const started = performance.now();
  const running: Promise<void>[] = [];
  for (let i = 0; i < COROUTINES; i++) running.push(suspended());
  const startMs = performance.now() - started;
  const bytes = (heapUsed() - before) / COROUTINES;
  release();
  await Promise.all(running);
  costs.push({
    kind: "suspended async function",
    count: COROUTINES,
    startMs,
    bytes,
    note: "c",
    units: ["µs", "B"],
  });
}

function duration(ms: number, unit: TimeUnit): string {
  if (unit === "ms") return `${ms.toFixed(1)} ms`;
  const us = ms * 1000;
  return `${us.toFixed(us < 10 ? 2 : 1)} µs`;
}

function size(bytes: number, unit: SizeUnit): string {
  if (unit === "B") return `${bytes.toFixed(0)} B`;
  return `${(bytes / (unit === "KiB" ? 1024 : 1024 * 1024)).toFixed(1)} ${unit}`;
}

console.log("part 1: N of each kind, all alive at the same time, and what each one costs");
const rows = [
  ["kind", "N", "start, each", "memory, each", "stack reserved, each"],
  ...costs.map((cost) => [
    cost.kind,
    String(cost.count),
    duration(cost.startMs / cost.count, cost.units[0]),
    `${size(cost.bytes, cost.units[1])} (${cost.note})`,
    cost.stackBytes === undefined ? "-" : size(cost.stackBytes, "MiB"),
  ]),
];
const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
for (const row of rows) {
  const cells = row.map((cell, column) =>
    column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!),
  );
  console.log(`  ${cells.join("  ")}`);
}
console.log(`  start, each: the wall time to get all N started, divided by N`);
console.log(
  `  (a) the child's own RSS (resident set size): its pages in RAM, shared ones like libc's too`,
);
console.log(`  (b) how much this process's RSS grew, divided by N`);
console.log(`  (c) how much the JavaScript heap grew (heapUsed, after a full GC), divided by N`);
console.log(`  stack reserved: address space set aside for each thread's stack; only the pages a`);
console.log(`    thread touches become resident, so an OS thread's (b) is a sliver of it`);
const cores = availableParallelism();
console.log(`  this machine has ${cores} CPU cores: at most that many of the ${THREADS} threads`);
console.log(`    can run at any instant, and the rest wait their turn`);

// ---- part 2: blocking fetches, one after another, then one per thread --------------------------
const target = await openTarget(args.url, { latencyMs: args.latency });
const url = target.url;
const pages = args.pages;
const numbered = (page: number) => `fetch ${String(page).padStart(String(pages).length)}`;
function describe(bytes: Uint8Array): string {
  const response = parseResponse(bytes);
  return `${response.status} ${response.reason}, ${response.body.length} body bytes`;
}
console.log(`\npart 2: ${pages} blocking fetches of ${url.href}`);

// One after another, in this thread: each fetch starts when the one before it has ended.
console.log(`one after another, in this thread:`);
const serialStart = performance.now();
for (let page = 1; page <= pages; page++) {
  const bytes = fetch(url);
  const doneMs = performance.now() - serialStart;
  console.log(`  ${numbered(page)}: ${describe(bytes)}, done at ${doneMs.toFixed(0)} ms`);
}
const serialMs = performance.now() - serialStart;

// The same fetches, one per worker thread. Starting a worker that loads this file (with tsx and
// the native module) takes longer than a fetch, so we start them all first, wait until each is
// ready, and time only the fetching: part 1 has already shown what starting costs.
const go = new Int32Array(new SharedArrayBuffer(4));
const startupStart = performance.now();
const workers = Array.from({ length: pages }, () =>
  startTypeScriptWorker(import.meta.url, { href: url.href, go }),
);
// Listen for the end of each worker now: it may come as soon as its answer has.
const exited = workers.map((worker) => once(worker, "exit"));
await Promise.all(workers.map((worker) => once(worker, "message")));
const startupMs = performance.now() - startupStart;
const startup = `${startupMs.toFixed(0)} ms to start them and load this file`;
console.log(`in ${pages} worker threads, one fetch each (${startup}):`);
const threadedStart = performance.now();
const answers = workers.map(async (worker) => {
  const [bytes] = (await once(worker, "message")) as [Uint8Array];
  return { bytes, doneMs: performance.now() - threadedStart };
});
Atomics.store(go, 0, 1);
Atomics.notify(go, 0); // wakes every worker blocked in Atomics.wait
const results = await Promise.all(answers);
const threadedMs = performance.now() - threadedStart;
results.forEach(({ bytes, doneMs }, index) => {
  console.log(`  ${numbered(index + 1)}: ${describe(bytes)}, done at ${doneMs.toFixed(0)} ms`);
});
await Promise.all(exited);
await target.close();

// Only the fixture site's latency is known; a --url site's is whatever it is.
const expected = args.url === undefined ? ` (${pages} x ${args.latency} ms latency)` : "";
console.log(`\none after another: ${serialMs.toFixed(0)} ms${expected}`);
console.log(
  `one per thread:    ${threadedMs.toFixed(0)} ms, ${(serialMs / threadedMs).toFixed(1)}x faster`,
);
console.log(`each thread slept in recv until its page came; the threads slept side by side`);
