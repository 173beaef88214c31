// 0_threads: what a thread costs next to a process and a coroutine, what threads that compute get
// from more threads than cores, and what threads buy us: blocking fetches that wait side by side
// instead of one after another.
//
// Lecture: "Потоки", and "Кооперативная многозадачность" on why processes and threads are heavy.
// Builds on: 0_fork_exec, which measured one process. Here N of each kind are alive at once: OS
//   threads, Node's worker_threads, processes, and coroutines (generators, async functions). Then
//   N threads that compute, past the number of cores. Then the lecture's blocking fetch
//   (0_blocking_socket) runs in one thread per page.
// Leaves out: locks: these threads share nothing that they write. Waiting for many sockets in one
//   thread, the cure the lecture turns to next, starts with 1_bad_socket.
// Run: pnpm run 0_threads [--url http://host:port/path] [--latency MS] [--pages K] [--svg FILE]
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import {
  AF_INET,
  SHUT_RDWR,
  SOCK_STREAM,
  Socket,
  forkExec,
  joinThreads,
  spinThreads,
  startThreads,
  threadStackSize,
  waitpid,
} from "@async-from-scratch/native";
import {
  buildRequest,
  chartFlags,
  drawChart,
  openTarget,
  parseResponse,
  siteFlags,
  startLesson,
  startTypeScriptWorker,
} from "@async-from-scratch/shared";

// The lecture's fetch, as in 0_blocking_socket. connect, sendAll and recv each put the calling
// thread to sleep until the kernel has done its part; other threads run on meanwhile. (A worker
// opens the socket itself and passes it in, to say its fd first: see part 3.)
function fetch(url: URL, sock = new Socket()): Buffer {
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

// ---- a worker thread of part 3 runs this file too, and only this block -------------------------
// It says it is ready, then blocks until the main thread says go (Atomics.wait: a real blocking
// wait, like recv's), makes its one fetch, hands the bytes back and ends. Before the fetch it
// writes its socket's fd where the main thread can read it (part 3 says why). In a worker,
// process.exit() ends that thread only; it also keeps the main thread's code below from running.
if (!isMainThread) {
  const { href, go, openFds, index } = workerData as {
    href: string;
    go: Int32Array;
    openFds: Int32Array;
    index: number;
  };
  parentPort!.postMessage("ready");
  Atomics.wait(go, 0, 0);
  const sock = new Socket();
  Atomics.store(openFds, index, sock.fileno());
  const bytes = fetch(new URL(href), sock);
  Atomics.store(openFds, index, -1);
  parentPort!.postMessage(bytes);
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
    help: "how many pages part 3 fetches, in turn and then one per thread",
  },
  ...chartFlags(),
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
  kernelBytes?: number; // each, in the kernel: in no process's RSS
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

// What the kernel keeps for each process and thread, and counts in no process's RSS: a kernel
// stack, page tables, and its task structures (the unreclaimable part of the slab: task_struct,
// the memory map, the fd table). /proc/meminfo has the whole machine's totals, so we read the
// difference while N of a kind are alive. Its reclaimable slab (caches of files) is left out: it
// moves with every file anyone opens. Measured for the 1000 OS threads only: over 50 processes or
// 20 workers, what other programs on the machine start and stop meanwhile weighs as much as what
// we measure. Linux only; elsewhere, undefined.
function kernelBytes(): number | undefined {
  try {
    const meminfo = readFileSync("/proc/meminfo", "utf8");
    const kib = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(meminfo)![1]);
    return 1024 * (kib("KernelStack") + kib("PageTables") + kib("SUnreclaim"));
  } catch {
    return undefined;
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
// Three rounds, and the median of each figure: the kernel's figure is the whole machine's, and a
// program that starts or ends meanwhile can move it as much as a thousand threads do.
{
  const rounds = Array.from({ length: 3 }, () => {
    const kernelBefore = kernelBytes();
    const before = process.memoryUsage.rss();
    const started = performance.now();
    const group = startThreads(THREADS);
    const startMs = performance.now() - started;
    const bytes = (process.memoryUsage.rss() - before) / THREADS;
    const kernelAfter = kernelBytes();
    joinThreads(group);
    const kernel =
      kernelBefore === undefined || kernelAfter === undefined
        ? NaN
        : (kernelAfter - kernelBefore) / THREADS;
    return { startMs, bytes, kernel };
  });
  const median = (values: number[]) => values.sort((a, b) => a - b)[1]!;
  const kernel = median(rounds.map((round) => round.kernel));
  costs.push({
    kind: "OS thread (pthread)",
    count: THREADS,
    startMs: median(rounds.map((round) => round.startMs)),
    bytes: median(rounds.map((round) => round.bytes)),
    note: "b",
    units: ["µs", "KiB"],
    kernelBytes: Number.isNaN(kernel) ? undefined : kernel,
    stackBytes: threadStackSize(),
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
  ["kind", "N", "start, each", "memory, each", "kernel, each", "stack reserved, each"],
  ...costs.map((cost) => [
    cost.kind,
    String(cost.count),
    duration(cost.startMs / cost.count, cost.units[0]),
    `${size(cost.bytes, cost.units[1])} (${cost.note})`,
    cost.kernelBytes === undefined ? "-" : `${size(cost.kernelBytes, "KiB")} (d)`,
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
console.log(
  `  (d) how much the kernel's own memory grew, divided by N: a kernel stack, page tables`,
);
console.log(
  `    and task structures (KernelStack + PageTables + SUnreclaim in /proc/meminfo), in RAM`,
);
console.log(`    but in no process's RSS`);
console.log(`  stack reserved: address space set aside for each thread's stack; only the pages a`);
console.log(`    thread touches become resident, so an OS thread's (b) is a sliver of it`);
console.log(
  `  a thread shares this process's memory: starting one copies none of it; what is made`,
);
console.log(`    is a stack, and the kernel's record of one more task to schedule`);

// ---- part 2: threads that compute ------------------------------------------------------------
// The lecture: "нельзя создать, например, 1000 полноценно-рабочих потоков, если процессор не
// состоит из 1000 ядер". Each thread below does the same fixed arithmetic (spinThreads, in the
// native module: no JavaScript, no locks, nothing shared), for N = 1, the number of cores, and 2,
// 4 and 8 times that. With N up to the core count the threads run side by side; past it they
// take turns, so the wall time grows with N and the work done per second does not.
const cores = availableParallelism();
// The amount of work: 30 ms for one thread on this machine, scaled from a small sample. Each N
// runs three times, the rounds interleaved, and the quickest run counts, the sample's too: a
// program that shares the machine may take the cores from us for a moment, and that moment is
// not the figure we want.
const WORK_MS = 30;
const ROUNDS = 3;
const sample = 2_000_000;
const sampleMs = Math.min(...Array.from({ length: ROUNDS }, () => spinThreads(1, sample)));
const iterations = Math.min(2 ** 31 - 1, Math.round((sample * WORK_MS) / sampleMs));
const counts = [...new Set([1, cores, 2 * cores, 4 * cores, 8 * cores])];
const quickest = new Map<number, { count: number; wallMs: number; cpuMs: number }>();
for (let round = 0; round < ROUNDS; round++) {
  for (const count of counts) {
    const cpu = process.cpuUsage();
    const wallMs = spinThreads(count, iterations);
    const used = process.cpuUsage(cpu);
    if (wallMs < (quickest.get(count)?.wallMs ?? Infinity)) {
      quickest.set(count, { count, wallMs, cpuMs: (used.user + used.system) / 1000 });
    }
  }
}
const computed = counts.map((count) => quickest.get(count)!);
const perSecond = ({ count, wallMs }: { count: number; wallMs: number }) => count / wallMs;
const oneThread = perSecond(computed[0]!);
console.log(
  `\npart 2: N threads that compute, each the same arithmetic: ${WORK_MS} ms of it for one ` +
    `alone; the quickest of ${ROUNDS} runs`,
);
const computeRows = [
  ["threads", "wall time", "work per second", "cores busy"],
  ...computed.map((row) => [
    row.count === 1 ? "1" : `${row.count / cores} x cores = ${row.count}`,
    `${row.wallMs.toFixed(0)} ms`,
    `${(perSecond(row) / oneThread).toFixed(1)}x one thread's`,
    (row.cpuMs / row.wallMs).toFixed(1),
  ]),
];
const computeWidths = computeRows[0]!.map((_, column) =>
  Math.max(...computeRows.map((row) => row[column]!.length)),
);
for (const row of computeRows) {
  const cells = row.map((cell, column) =>
    column === 0 ? cell.padEnd(computeWidths[column]!) : cell.padStart(computeWidths[column]!),
  );
  console.log(`  ${cells.join("  ")}`);
}
console.log(`  cores busy: CPU time over wall time; this machine has ${cores} CPU cores`);
console.log(`  past ${cores} threads, more threads only take turns: the wall time grows with N,`);
console.log(`    the work done per second does not`);

// ---- part 3: blocking fetches, one after another, then one per thread --------------------------
const target = await openTarget(args.url, { latencyMs: args.latency });
const url = target.url;
const pages = args.pages;
const numbered = (page: number) => `fetch ${String(page).padStart(String(pages).length)}`;
function describe(bytes: Uint8Array): string {
  const response = parseResponse(bytes);
  return `${response.status} ${response.reason}, ${response.body.length} body bytes`;
}
console.log(`\npart 3: ${pages} blocking fetches of ${url.href}`);

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
// If the lesson has to stop while workers are blocked in connect or recv (an error it did not
// catch, a failed fetch), process.exit() would wait for them for ever: Node stops a worker only
// between two steps of its JavaScript, never inside a system call. So each worker writes its
// socket's fd here, and on the way out we shut those sockets down, which makes connect and recv
// return at once. (shutdown, not close: closing an fd does not wake a thread blocked on it.)
const openFds = new Int32Array(new SharedArrayBuffer(4 * pages)).fill(-1);
process.on("exit", () => {
  for (const fd of openFds) {
    if (fd < 0) continue;
    const borrowed = new Socket(AF_INET, SOCK_STREAM, fd);
    try {
      borrowed.shutdown(SHUT_RDWR);
    } catch {
      // That fetch had ended meanwhile.
    } finally {
      borrowed.detach(); // the worker's socket: it closes it, not us
    }
  }
});
const startupStart = performance.now();
const workers = Array.from({ length: pages }, (_, index) =>
  startTypeScriptWorker(import.meta.url, { href: url.href, go, openFds, index }),
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

// Parts 1 and 2 as a picture (--svg names the file), drawn when everything is measured.
const units = costs.map((cost) => ({ ...cost, startUs: (cost.startMs / cost.count) * 1000 }));
const speedups = computed.map((row) => ({
  threads: row.count,
  speedup: perSecond(row) / oneThread,
}));
console.log(
  await drawChart(args.svg, ({ threadsChart }) =>
    threadsChart("0_threads", units, speedups, cores),
  ),
);
