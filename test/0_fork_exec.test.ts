// 0_fork_exec: its output against the snapshot, and the facts behind the masked figures: the chain
// of parents, a process costing many threads, and fork copying a page only when it is written.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { figure, matchSnapshot, runLesson, runOnce, type Mask } from "./lessons.ts";

const forkExec = runOnce("0_fork_exec");

// How many times a thread a process costs is a ratio of two measured figures.
const ratio: Mask = [/costs \d+x a thread/, "costs <n>x a thread"];
// Who started whom depends on how the lesson was started (a terminal, pnpm, CI).
const chain: Mask = [/(up to pid 1:\n)(  pid .*\n)+/, "$1  <the chain of parents>\n"];

test("0_fork_exec prints its snapshot", async () => {
  const { status, stdout, stderr } = await forkExec();
  assert.is(status, 0, stderr);
  matchSnapshot("0_fork_exec", stdout, [chain, ratio]);
});

test("0_fork_exec: the chain runs from this process to pid 1", async () => {
  const { stdout } = await forkExec();
  const pids = [...stdout.matchAll(/^ {2}pid (\d+) /gm)].map((match) => Number(match[1]));
  assert.ok(pids.length >= 2, stdout);
  assert.is(pids[0], figure(stdout, /^this process: pid (\d+)/));
  assert.is(pids.at(-1), 1);
  assert.is(new Set(pids).size, pids.length, "no pid twice");
});

test("0_fork_exec: a process costs many times a thread, and a copy of this one", async () => {
  const { stdout } = await forkExec();
  const processMicros = figure(stdout, /(\d+) µs per process/);
  const threadMicros = figure(stdout, /([\d.]+) µs per thread/);
  assert.ok(
    processMicros >= 3 * threadMicros,
    `process ${processMicros} µs, thread ${threadMicros} µs`,
  );
  const parentMiB = figure(stdout, /this process: ([\d.]+) MiB resident/);
  const childMiB = figure(stdout, /running sleep, it holds ([\d.]+) MiB/);
  assert.ok(parentMiB > 5 * childMiB, `node (${parentMiB} MiB) against sleep (${childMiB} MiB)`);
});

test("0_fork_exec: fork copies lazily: a child shares its pages until it writes them", async () => {
  const { stdout } = await forkExec();
  if (process.platform !== "linux") {
    assert.match(stdout, "needs /proc/PID/smaps_rollup: Linux only");
    return;
  }
  const split = (label: string) => {
    const line = stdout.split("\n").find((text) => text.startsWith(`  ${label}`));
    assert.ok(line, `no line '${label}' in:\n${stdout}`);
    const [rss, shared, own] = [...line.matchAll(/([\d.]+) MiB/g)].map((match) => Number(match[1]));
    return { rss: rss!, shared: shared!, own: own! };
  };
  const atFork = split("the child right after fork:");
  const afterWrite = split("after it wrote to each page of the buffer:");
  const bufferMiB = figure(stdout, /a buffer of ([\d.]+) MiB/);
  assert.ok(atFork.own <= atFork.rss / 10, `at fork ${atFork.own} of ${atFork.rss} MiB its own`);
  assert.ok(atFork.shared >= bufferMiB, `at fork ${atFork.shared} MiB shared`);
  assert.ok(
    afterWrite.own - atFork.own >= 0.9 * bufferMiB,
    `its own grew from ${atFork.own} to ${afterWrite.own} MiB, for a ${bufferMiB} MiB buffer`,
  );
});

test("0_fork_exec: a wrong flag exits with status 2", async () => {
  const { status, stderr } = await runLesson("0_fork_exec", ["--processes", "0"]);
  assert.is(status, 2);
  assert.match(stderr, "--processes must be an integer from 1 to 10000");
});

test.run();
