// 1_bad_socket, run as a student runs it: its output against the snapshot, and the claims behind
// its measured figures: every wait it shows (the handshake, the server's answer, a full send
// buffer) was spent failing and retrying, and the busy loop burns CPU for as long as it waits.
import { ACCEPT_DELAY_MS } from "@async-from-scratch/shared/site";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { figure, matchSnapshot, runOnce, type Mask } from "./lessons.ts";

const LATENCY_MS = 500; // the lesson's default
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

test("1_bad_socket: the busy loop burns CPU for as long as it waits", async () => {
  const { stdout } = await badSocket();
  const cpuMs = figure(stdout, /CPU time ([\d.]+) ms/);
  const wallMs = figure(stdout, /of (\d+) ms wall time/);
  // It waited out the handshake's second SYN, the accept delay and the latency, and the upload.
  assert.ok(wallMs >= 1500, `wall ${wallMs} ms`);
  // A whole core if this machine is idle; on a machine shared with others, still a large share.
  assert.ok(cpuMs >= wallMs / 4, `CPU ${cpuMs} ms against wall ${wallMs} ms`);
  const shown = [...stdout.matchAll(/(\d+) failed attempts in [\d.]+ ms/g)];
  const sum = shown.reduce((total, [, count]) => total + Number(count), 0);
  assert.ok(figure(stdout, /failed attempts in all: (\d+)/) >= sum, "in all counts every wait");
});

test.run();
