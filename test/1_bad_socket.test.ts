// 1_bad_socket, run as a student runs it: its output against the snapshot, and the claim behind
// its measured figures: the busy loop burns a core for as long as it waits.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { figure, matchSnapshot, runOnce, type Mask } from "./lessons.ts";

const badSocket = runOnce("1_bad_socket");
// How many times a call failed depends on how fast this machine spins: a measured figure.
const spinCounts: Mask[] = [
  [/\b\d+ failed attempts/g, "<n> failed attempts"],
  [/failed attempts in all: \d+/g, "failed attempts in all: <n>"],
];

test("1_bad_socket prints its snapshot", async () => {
  const run = await badSocket();
  assert.is(run.status, 0, run.stderr);
  matchSnapshot("1_bad_socket", run.stdout, spinCounts);
});

test("1_bad_socket: the busy loop burns CPU for as long as it waits", async () => {
  const { stdout } = await badSocket();
  const cpuMs = figure(stdout, /CPU time ([\d.]+) ms/);
  const wallMs = figure(stdout, /of (\d+) ms wall time/);
  assert.ok(wallMs >= 450, `the site's 500 ms latency was waited out (wall ${wallMs} ms)`);
  assert.ok(cpuMs >= wallMs / 2, `CPU ${cpuMs} ms is at least half of wall ${wallMs} ms`);
  assert.ok(figure(stdout, /failed attempts in all: (\d+)/) > 1000, "it spun");
});

test.run();
