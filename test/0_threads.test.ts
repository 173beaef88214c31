// 0_threads, run as a student runs it: its output against the stored snapshot, and the lecture's
// claims behind its measured figures: a process costs more than a thread, a thread more than a
// coroutine, and blocking fetches in threads wait side by side.
import { execFileSync } from "node:child_process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { figure, matchSnapshot, runLesson, runOnce, siteProcesses, type Mask } from "./lessons.ts";

const sitesBefore = siteProcesses();

// The lesson's defaults, which the claims below depend on.
const PAGES = 8;
const LATENCY_MS = 300;

const threads = runOnce("0_threads");

// How many cores this machine has, and how much faster the threads were: measured figures.
const measured: Mask[] = [
  [/\b\d+ CPU cores/g, "<n> CPU cores"],
  [/\b\d+(\.\d+)?x faster/g, "<n>x faster"],
];

/** A row of part 1's table: start time (in ms) and memory (in bytes) of one of that kind. */
function costOf(stdout: string, kind: string): { startMs: number; bytes: number } {
  const row = new RegExp(
    `^  ${kind.replace(/[()+]/g, "\\$&")} +\\d+ +([\\d.]+) (ms|µs) +([\\d.]+) (B|KiB|MiB) `,
    "m",
  );
  const match = row.exec(stdout);
  assert.ok(match, `no row for ${kind} in:\n${stdout}`);
  const [, time, timeUnit, memory, sizeUnit] = match;
  const scale: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 * 1024 };
  return {
    startMs: Number(time) / (timeUnit === "µs" ? 1000 : 1),
    bytes: Number(memory) * scale[sizeUnit!]!,
  };
}

test("0_threads prints its snapshot", async () => {
  const { status, stdout, stderr } = await threads();
  assert.is(status, 0, stderr);
  matchSnapshot("0_threads", stdout, measured);
});

test("0_threads: a process takes longer to start than an OS thread", async () => {
  const { stdout } = await threads();
  const child = costOf(stdout, "process (fork + exec)");
  const thread = costOf(stdout, "OS thread (pthread)");
  assert.ok(
    child.startMs > thread.startMs,
    `process ${child.startMs} ms, thread ${thread.startMs} ms`,
  );
});

test("0_threads: an OS thread holds at least 10x the memory of a coroutine", async () => {
  const { stdout } = await threads();
  const thread = costOf(stdout, "OS thread (pthread)");
  const generator = costOf(stdout, "suspended generator");
  const asyncFunction = costOf(stdout, "suspended async function");
  assert.ok(generator.bytes > 0 && asyncFunction.bytes > 0, stdout);
  assert.ok(
    thread.bytes >= 10 * generator.bytes,
    `thread ${thread.bytes} B, generator ${generator.bytes} B`,
  );
  assert.ok(
    thread.bytes >= 10 * asyncFunction.bytes,
    `thread ${thread.bytes} B, async function ${asyncFunction.bytes} B`,
  );
});

test("0_threads: blocking fetches take K x latency in turn, about one latency in threads", async () => {
  const { stdout } = await threads();
  const serialMs = figure(stdout, /^one after another: (\d+) ms/m);
  const threadedMs = figure(stdout, /^one per thread: +(\d+) ms/m);
  const expectedMs = PAGES * LATENCY_MS;
  assert.ok(serialMs >= 0.9 * expectedMs, `serial ${serialMs} ms of ${expectedMs} ms`);
  assert.ok(
    serialMs / threadedMs >= PAGES / 2,
    `serial ${serialMs} ms, threaded ${threadedMs} ms: at least ${PAGES / 2}x faster`,
  );
});

test("0_threads: a wrong flag or value exits with status 2", async () => {
  for (const args of [["--pages", "0"], ["--pages", "many"], ["--bogus"]]) {
    const run = await runLesson("0_threads", args);
    assert.is(run.status, 2, `${args.join(" ")}: ${run.stderr}`);
    assert.is(run.stdout, "");
    assert.match(run.stderr, /^0_threads: [^]+\nusage: pnpm run 0_threads \[--url URL\]/);
  }
});

test("0_threads leaves no child process and no site behind", async () => {
  await threads();
  // A `sleep 30` whose parent is not a running 0_threads (another test run's, say) was left behind.
  const processes = execFileSync("ps", ["-eo", "pid=,ppid=,args="], { encoding: "utf8" })
    .split("\n")
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((match) => match !== null)
    .map(([, pid, ppid, args]) => ({ pid: Number(pid), ppid: Number(ppid), args: args! }));
  const lessons = new Set(
    processes.filter((p) => p.args.includes("examples/0_threads/main.ts")).map((p) => p.pid),
  );
  const leftBehind = processes.filter((p) => p.args === "sleep 30" && !lessons.has(p.ppid));
  assert.equal(leftBehind, []);
  assert.equal(siteProcesses(), sitesBefore);
});

test.run();
