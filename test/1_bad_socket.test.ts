// 1_bad_socket, run as a student runs it: its output against the snapshot, and the claims behind
// its measured figures: every wait it shows (the handshake, the server's answer, a full send
// buffer) was spent failing and retrying, and the busy loop wants a CPU for as long as it waits.
import { ACCEPT_DELAY_MS } from "@async-from-scratch/shared/site";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { figure, matchSnapshot, runOnce, schedulerSaw, type Mask } from "./lessons.ts";
import { whyNoSchedstat } from "@async-from-scratch/shared";
import { testOrSkip } from "./skips.ts";

const LATENCY_MS = 500; // the lesson's default
const withSchedstat = testOrSkip(whyNoSchedstat());

const badSocket = runOnce("1_bad_socket");

// How many times a call failed, and in how many calls the upload went, depend on how fast this
// machine spins and how the kernel sizes its buffers: measured figures.
const spinCounts: Mask[] = [
  [/\b\d+ failed attempts/g, "<n> failed attempts"],
  [/failed attempts in all: \d+/g, "failed attempts in all: <n>"],
  [/\bin \d+ calls/g, "in <n> calls"],
];

/** The failed attempts and milliseconds of the wait on the line that starts with `start`. */
function wait(stdout: string, start: string): { failed: number; ms: number } {
  const line = stdout.split("\n").find((text) => text.startsWith(start));
  assert.ok(line, `no line starting '${start}' in:\n${stdout}`);
  return {
    failed: figure(line, /(\d+) failed attempts/),
    ms: figure(line, /failed attempts in ([\d.]+) ms/),
  };
}

test("1_bad_socket prints its snapshot", async () => {
  const run = await badSocket();
  assert.is(run.status, 0, run.stderr);
  matchSnapshot("1_bad_socket", run.stdout, spinCounts);
});

test("1_bad_socket: send spins until the handshake is over, a SYN retransmission later", async () => {
  const { stdout } = await badSocket();
  const { failed, ms } = wait(stdout, "  send: 41 bytes");
  // Linux and macOS send a SYN again after 1 s; the site had made room in the queue by then.
  assert.ok(ms >= 700, `the handshake took ${ms} ms:\n${stdout}`);
  assert.ok(failed >= 100, `${failed} failed sends in ${ms} ms`);
});

test("1_bad_socket: recv spins while the site accepts and thinks; the FIN comes a moment later", async () => {
  const { stdout } = await badSocket();
  const data = wait(stdout, "  recv: 2804 bytes");
  const expectedMs = ACCEPT_DELAY_MS + LATENCY_MS;
  assert.ok(data.ms >= 0.7 * expectedMs, `data after ${data.ms} ms of about ${expectedMs} ms`);
  assert.ok(data.failed >= 100, `${data.failed} failed recvs in ${data.ms} ms`);
  const end = wait(stdout, "  recv: 0 bytes");
  assert.ok(end.ms <= data.ms / 5, `end of file ${end.ms} ms after the data`);
});

test("1_bad_socket: a large upload fills the buffers, and send spins until the site reads", async () => {
  const { stdout } = await badSocket();
  const atOnceMiB = figure(stdout, /send: ([\d.]+) MiB at once/);
  assert.ok(atOnceMiB > 0 && atOnceMiB < 16, `${atOnceMiB} MiB of 16 MiB went at once`);
  const { failed, ms } = wait(stdout, "  send: the longest wait for room");
  assert.ok(ms >= LATENCY_MS / 2, `the longest wait was ${ms} ms; the site reads after 500 ms`);
  assert.ok(failed >= 100, `${failed} failed sends in ${ms} ms`);
  assert.match(stdout, /send: 16\.0 MiB in all, in \d+ calls/);
  assert.match(stdout, /response: 200 OK, "received 16777216 bytes"/);
});

withSchedstat("1_bad_socket: the busy loop wants a CPU for as long as it waits", async () => {
  const { stdout } = await badSocket();
  const { line, wallMs, asleepMs, sleeps } = schedulerSaw(stdout);
  // It waited out the handshake's second SYN, the accept delay and the latency, and the upload.
  assert.ok(wallMs >= 1500, `wall ${wallMs} ms`);
  // Not the CPU time it prints: a whole core on an idle machine, but a tenth of one under a load
  // of 12 on 2 cores. Rather what the scheduler saw, which the lesson prints over the same stretch:
  // all that time it either ran or waited in the run queue to run again, never asleep (a lesson
  // that slept 1 to 100 ms between attempts was asleep 0.2 to 0.9 of it, under that load and
  // without), and it went to sleep itself only a few times (sleeping 20 ms between attempts, 80
  // times; spinning, 7 to 19).
  assert.ok(asleepMs <= wallMs / 10, `asleep for part of its ${wallMs} ms: ${line}`);
  assert.ok(sleeps <= wallMs / 50, `it went to sleep itself, as one that blocks does: ${line}`);
});

test("1_bad_socket: the failed attempts in all count every wait it shows", async () => {
  const { stdout } = await badSocket();
  const shown = [...stdout.matchAll(/(\d+) failed attempts in [\d.]+ ms/g)];
  const sum = shown.reduce((total, [, count]) => total + Number(count), 0);
  assert.ok(figure(stdout, /failed attempts in all: (\d+)/) >= sum, "in all counts every wait");
});

test.run();
