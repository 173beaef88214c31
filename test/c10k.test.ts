// c10k, run as a student runs it: 2,000 connections (bounded, for CI) against its snapshot, every
// connection accounted for in both processes and no fd left open; select stopping at
// FD_SETSIZE; the limits of descriptors and ephemeral ports named before anything is opened;
// --url; and the benchmark's table, from a small run.
import { readFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { threadStackSize } from "@async-from-scratch/native";
import { SERVER_NODE_FLAGS, readLimits, startServer } from "../examples/c10k/common.ts";
import {
  figure,
  matchSnapshot,
  root,
  runCommand,
  runLesson,
  runOnce,
  type Mask,
} from "./lessons.ts";
import { chartFile, readChart } from "./charts.ts";

const N = 2000;
const run = runOnce("c10k", ["--connections", String(N)]);
// This machine's limits, which the lesson prints for the student to see. And the sign of the
// server's memory growth: a measured figure, which comes out a little below zero when the server
// gives back more memory while the connections open than they take (seen in a fresh clone's CI).
const masks: Mask[] = [
  [/limits here: .*/g, "limits here: <limits>"],
  [/-(?=(\d+(\.\d+)?|<n>) (MiB more|KiB per))/g, ""],
];

test("c10k prints its snapshot", async () => {
  const { status, stdout, stderr } = await run();
  assert.is(status, 0, stderr);
  matchSnapshot("c10k", stdout, masks);
});

test("c10k: every connection is accounted for on both sides, and no fd is left open", async () => {
  const { stdout } = await run();
  assert.is(figure(stdout, /open at the same moment, at the peak: (\d+)/), N);
  assert.match(stdout, `  total                 ${N}, as many as asked for\n`);
  assert.is(figure(stdout, /^ {2}replied +(\d+)$/m), N);
  // The server's own accounting: it held all of them at once, and closed each exactly once.
  assert.match(stdout, new RegExp(`at most ${N} open at once`));
  const accepted = figure(stdout, /accepted (\d+) = closed/);
  assert.match(stdout, `accepted ${accepted} = closed ${accepted} + open 0`);
  assert.is(figure(stdout, /^ {4}fds left open: (-?\d+)$/m), 0, "in the server");
  assert.is(figure(stdout, /^fds left open in this process: (-?\d+)$/m), 0, "in the client");
});

test("c10k: a thread per connection is computed from this system's stack size", async () => {
  const { stdout } = await run();
  const stack = threadStackSize();
  const mib = (bytes: number) => (bytes / 1024 ** 2).toFixed(1);
  assert.match(stdout, `would reserve ${N} x ${mib(stack)} MiB = `);
  // And the server's memory per connection is far below a thread's stack, with a wide margin for
  // a busy machine: the figure itself is the benchmark's business.
  const perConnection = figure(stdout, /server .*: (-?[\d.]+) KiB per connection/);
  assert.ok(perConnection < 8, `${perConnection} KiB per connection`);
});

test("c10k --backend select stops at FD_SETSIZE with the module's error", async () => {
  const { status, stdout } = await runLesson("c10k", [
    "--backend",
    "select",
    "--connections",
    "1500",
  ]);
  assert.is(status, 1);
  assert.match(
    stdout,
    /stopped after \d+ connections: RangeError: select\(\) can only watch fds below FD_SETSIZE \(1024\); fd 1024 needs poll or epoll\n/,
  );
  assert.match(stdout, "  total                 1500, as many as asked for\n");
  assert.is(figure(stdout, /^ {4}fds left open: (-?\d+)$/m), 0, "in the server");
  assert.is(figure(stdout, /^fds left open in this process: (-?\d+)$/m), 0, "in the client");
});

test("c10k: more connections than `ulimit -n` allows: a message that names the limit", async () => {
  // `ulimit -n 1000` lowers both limits for this run only, on any machine.
  const main = JSON.stringify(join(root, "examples", "c10k", "main.ts"));
  const { status, stdout, stderr } = await runCommand("sh", [
    "-c",
    `ulimit -n 1000 && exec ${JSON.stringify(process.execPath)} --import tsx ${main} --connections 2000`,
  ]);
  assert.is(status, 1, stderr);
  assert.is(stdout, "", "nothing was started");
  assert.match(stderr, /^c10k: 2000 connections need 2000 fds in this process/);
  assert.match(stderr, "(RLIMIT_NOFILE, `ulimit -n`: soft 1000, hard 1000;");
  assert.match(stderr, /Raise the hard limit as root \(`ulimit -Hn 65536`/);
  assert.match(stderr, /or ask for at most 9\d\d connections\.\n/);
});

test("c10k: more connections than the ephemeral port range: a message that names it", async () => {
  const { ports } = readLimits();
  assert.ok(ports, "Linux shows its ephemeral port range in /proc");
  const range = ports.high - ports.low + 1;
  const { status, stdout, stderr } = await runLesson("c10k", ["--connections", String(range + 1)]);
  assert.is(status, 1, stderr);
  assert.is(stdout, "");
  assert.match(
    stderr,
    `c10k: ${range + 1} connections from one address to one server port need ${range + 1} ` +
      `local ports, but the kernel picks them from ${range} (the ephemeral range ` +
      `${ports.low}-${ports.high}, /proc/sys/net/ipv4/ip_local_port_range).`,
  );
});

test("c10k --url: someone else's server, whose memory is not ours to measure", async () => {
  const server = await startServer("./server.ts", []);
  try {
    const url = `http://localhost:${server.port}/`;
    const { status, stdout, stderr } = await runLesson("c10k", [
      "--url",
      url,
      "--connections",
      "50",
      "--hold-ms",
      "0",
    ]);
    assert.is(status, 0, stderr);
    assert.match(stdout, `to ${url}\n  the server: not ours (--url)\n`);
    assert.is(figure(stdout, /^ {2}replied +(\d+)$/m), 50);
    assert.match(stdout, "  server  not measured: it is not our process (--url)\n");
    assert.not.match(stdout, "the server's own accounting");
  } finally {
    assert.match(await server.stop(), /accepted 150 = closed 150 \+ open 0/); // 100 warm up
  }
});

test("c10k --url where nothing listens: every connection refused, counted, and status 1", async () => {
  // A port that was free a moment ago: bound, read and closed again.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const url = `http://127.0.0.1:${port}/`;
  const args = ["--url", url, "--connections", "10", "--hold-ms", "0"];
  const { status, stdout, stderr } = await runLesson("c10k", args);
  assert.is(status, 1, stderr);
  assert.match(stdout, "  warm-up: 100 connections, not all answered (100 refused); closed\n");
  assert.is(figure(stdout, /^ {2}refused +(\d+)$/m), 10);
  assert.match(stdout, "  total                 10, as many as asked for\n");
  // Nothing was open to divide the memory among: no figure per connection.
  assert.not.match(stdout, "KiB per connection");
  assert.match(stderr, /^c10k: no connection got a reply: 10 refused\n$/);
});

test("c10k: a wrong flag prints the usage and exits with status 2", async () => {
  const cases = [
    ["--connections", "0"],
    ["--backend", "nope"],
    ["--hold-ms", "soon"],
  ];
  // Side by side: nothing here is timed.
  const runs = await Promise.all(cases.map((args) => runLesson("c10k", args)));
  for (const [i, args] of cases.entries()) {
    const wrong = runs[i]!;
    assert.is(wrong.status, 2, `${args.join(" ")}: ${wrong.stderr}`);
    assert.is(wrong.stdout, "");
    assert.match(wrong.stderr, /\nusage: pnpm run c10k \[--connections N\]/);
  }
});

test("the servers' V8 flags are the same in package.json and where the lesson starts them", () => {
  const { scripts } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  for (const name of ["c10k-server", "c10k-node-server"]) {
    assert.match(scripts[name], `tsx ${SERVER_NODE_FLAGS.join(" ")} examples/c10k/`);
  }
});

test("bench:c10k: a small run prints a row per server and the table, with nothing lost", async () => {
  const bench = join(root, "examples", "c10k", "bench.ts");
  const { file, remove } = chartFile();
  try {
    const { status, stdout, stderr } = await runCommand(
      process.execPath,
      ["--import", "tsx", bench, "--connections", "200", "--seconds", "1", "--svg", file],
      180_000,
    );
    assert.is(status, 0, stderr);
    const rows = [
      "scratch (ours)",
      "node net",
      ...(stdout.includes("nginx: not installed") ? [] : ["nginx"]),
    ];
    for (const row of rows) {
      assert.match(
        stdout,
        new RegExp(`^ {2}${row.replace(/[()]/g, "\\$&")} +\\d+ requests/s, `, "m"),
      );
      assert.match(stdout, new RegExp(`^${row.replace(/[()]/g, "\\$&")} +\\d+ +[\\d.]+x +`, "m"));
    }
    assert.not.match(stdout, /^ {4}/m, "no run lost a connection or a reply");

    // The chart: a bar per server, measured, and the thread's stack, computed from ulimit -s,
    // which no server comes near.
    assert.ok(stdout.endsWith(`\nchart: ${file}\n`), stdout);
    const bars = readChart(file).marks("memory");
    assert.equal(
      bars.map((bar) => [bar.server, bar.how]),
      [...rows.map((row) => [row, "measured"]), ["a thread's stack", "computed"]],
    );
    const stack = bars.at(-1)!.kib as number;
    assert.ok(Math.abs(stack - threadStackSize() / 1024) < 0.01, `${stack} KiB`);
    for (const bar of bars.slice(0, -1)) assert.ok((bar.kib as number) < stack / 100, file);
  } finally {
    remove();
  }
});

test.run();
