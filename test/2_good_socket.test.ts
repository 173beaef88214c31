// 2_good_socket, run as a student runs it: its output against the snapshot, the claim behind its
// measured figures (it sleeps while it waits), each backend, and how lessons take their flags
// (shared/lesson.ts, checked here on this lesson).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { whyNoSchedstat } from "@async-from-scratch/shared";
import { startSite } from "@async-from-scratch/shared/site";
import {
  figure,
  matchSnapshot,
  runLesson,
  runOnce,
  runPnpm,
  schedulerSaw,
  siteProcesses,
} from "./lessons.ts";
import { testOrSkip } from "./skips.ts";

const sitesBefore = siteProcesses();
const withSchedstat = testOrSkip(whyNoSchedstat());

const goodSocket = runOnce("2_good_socket");

test("2_good_socket prints its snapshot", async () => {
  const run = await goodSocket();
  assert.is(run.status, 0, run.stderr);
  matchSnapshot("2_good_socket", run.stdout);
});

test("2_good_socket: the loop calls the callbacks, one per wake-up, with the registered data", async () => {
  const { stdout } = await goodSocket();
  const calls = [...stdout.matchAll(/, the loop calls (\w+)\(\)\n {2}(\w+)\(\)/g)];
  assert.ok(calls.length >= 3, stdout);
  for (const [, called, printed] of calls) assert.is(printed, called, stdout);
});

test("2_good_socket: the process sleeps while it waits, and wakes only a few times", async () => {
  const { stdout } = await goodSocket();
  const cpuMs = figure(stdout, /CPU time ([\d.]+) ms/);
  const wallMs = figure(stdout, /of (\d+) ms wall time/);
  assert.ok(wallMs >= 450, `the site's 500 ms latency was waited out (wall ${wallMs} ms)`);
  assert.ok(cpuMs < wallMs / 5, `CPU ${cpuMs} ms is below a fifth of wall ${wallMs} ms`);
  const wakeUps = figure(stdout, /wake-ups: (\d+)/);
  assert.ok(wakeUps >= 3 && wakeUps <= 10, `${wakeUps} wake-ups`);
});

withSchedstat("2_good_socket: the thread is asleep in the selector while it waits", async () => {
  const { stdout } = await goodSocket();
  const { line, wallMs, runningMs, runnableMs, asleepMs, sleeps } = schedulerSaw(stdout);
  // 1_bad_socket's check turned round: not CPU time, which falls short of wall time on a loaded
  // machine whatever the thread does, but what the scheduler saw over the same stretch. The
  // thread ran for a small part of it, and of the rest it was mostly asleep: runnable, waiting
  // for its turn after a wake-up, is all a loaded machine adds. And it went to sleep itself, in
  // the selector, at least for the site's latency.
  assert.ok(runningMs < wallMs / 3, `it ran for much of its ${wallMs} ms: ${line}`);
  assert.ok(asleepMs > runnableMs, `it wanted a CPU for most of the rest: ${line}`);
  assert.ok(sleeps >= 1, `it never went to sleep itself: ${line}`);
});

for (const backend of ["select", "poll", "epoll"]) {
  test(`2_good_socket --backend ${backend} does the same fetch with ${backend}`, async () => {
    const run = await runLesson("2_good_socket", ["--backend", backend, "--latency", "100"]);
    assert.is(run.status, 0, run.stderr);
    assert.ok(run.stdout.startsWith(`selector: ${backend} (chosen with --backend)\n`), run.stdout);
    assert.match(run.stdout, /^response: 200 OK/m);
  });
}

test("2_good_socket --backend kqueue on Linux is refused with a clear message", async () => {
  if (process.platform !== "linux") return;
  const run = await runLesson("2_good_socket", ["--backend", "kqueue"]);
  assert.is(run.status, 2);
  assert.is(
    run.stderr,
    "2_good_socket: kqueue is not available on linux: it exists on macOS and the BSDs only\n",
  );
});

test("flags reach a lesson through pnpm, with and without --", async () => {
  const cases = [
    ["run", "2_good_socket", "--backend", "poll", "--latency", "0"],
    ["run", "2_good_socket", "--", "--backend", "poll", "--latency", "0"],
  ];
  // Side by side: nothing here is timed.
  const runs = await Promise.all(cases.map((args) => runPnpm(args)));
  for (const [i, args] of cases.entries()) {
    const run = runs[i]!;
    assert.is(run.status, 0, run.stderr);
    assert.ok(
      run.stdout.startsWith("selector: poll (chosen with --backend)\n"),
      `${args.join(" ")}:\n${run.stdout}`,
    );
  }
});

test("a wrong flag or value prints the usage and exits with status 2", async () => {
  const cases = [
    ["--latency", "soon"],
    ["--latency", "-5"],
    ["--bogus"],
    ["--url", "https://example.org/"],
    ["--url", "http://[::1]:8080/"],
    ["--backend", "iocp"],
    ["stray"],
  ];
  // Side by side: nothing here is timed.
  const [help, ...runs] = await Promise.all([
    runLesson("1_bad_socket", ["--help"]),
    ...cases.map((args) => runLesson("2_good_socket", args)),
  ]);
  for (const [i, args] of cases.entries()) {
    const run = runs[i]!;
    assert.is(run.status, 2, `${args.join(" ")}: ${run.stderr}`);
    assert.is(run.stdout, "");
    assert.match(
      run.stderr,
      /^2_good_socket: [^]+\nusage: pnpm run 2_good_socket \[--url URL\] \[--latency N\] \[--backend NAME\]\n/,
    );
  }
  assert.is(help!.status, 0);
  assert.match(
    help!.stdout,
    /--latency +ms the fixture site waits before each answer \(default 500\)/,
  );
});

test("--url: both lessons fetch a site they did not start; a dead one is one clear line", async () => {
  const site = await startSite({ latencyMs: 0 });
  try {
    for (const lesson of ["1_bad_socket", "2_good_socket"]) {
      const run = await runLesson(lesson, ["--url", site.url]);
      assert.is(run.status, 0, run.stderr);
      assert.ok(run.stdout.includes(`fetching ${site.url} with`), run.stdout);
      assert.match(run.stdout, /^ *response: 200 OK/m);
    }
  } finally {
    await site.stop();
  }
  const dead = await runLesson("2_good_socket", ["--url", site.url]);
  assert.is(dead.status, 1);
  assert.match(
    dead.stderr,
    /^2_good_socket: ConnectionRefusedError: connect\(127\.0\.0\.1:\d+\): Connection refused \(ECONNREFUSED\)\n$/,
  );
  // The wake-up that reported the refusal comes first: the handshake ended, badly, so the socket
  // became writable and the loop called connected(), which read SO_ERROR.
  assert.match(
    dead.stdout,
    /\nwake-up 1 after [\d.]+ ms: fd \d+ EVENT_WRITE, the loop calls connected\(\)\n$/,
  );
});

test("no lesson leaves a fixture site running", () => {
  assert.equal(siteProcesses(), sitesBefore);
});

test.run();
