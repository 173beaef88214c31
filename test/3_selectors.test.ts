// 3_selectors, run as a student runs it: its output against the snapshot, and every claim behind
// its measured figures: poll's wait grows with the number of fds, epoll's stays flat, so epoll wins
// when most fds are idle; with a few fds the choice does not matter; select stops at FD_SETSIZE,
// poll and epoll do not.
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { availableSelectors } from "@async-from-scratch/native";
import { readChart } from "./charts.ts";
import { figure, matchSnapshot, root, runLesson, runOnce } from "./lessons.ts";

const run = runOnce("3_selectors");

test("3_selectors prints its snapshot", async () => {
  const { status, stdout, stderr } = await run();
  assert.is(status, 0, stderr);
  matchSnapshot("3_selectors", stdout);
});

// The conclusion lines quote the table: "poll 1.5 µs at F = 10, 1572.4 µs at F = 10000: ..."
function waitMicros(stdout: string, backend: string, size: number): number {
  const at = size === 10 ? / ([\d.]+) µs at F = 10,/ : new RegExp(`, ([\\d.]+) µs at F = ${size}:`);
  const line = new RegExp(`^  ${backend} +[\\d.]+ µs at F = .*$`, "m").exec(stdout)?.[0];
  assert.ok(line, `no conclusion line for ${backend}:\n${stdout}`);
  return figure(line, at);
}
const best = availableSelectors.find((name) => name === "epoll" || name === "kqueue")!;

test("3_selectors: poll's wait grows with F: at 10000 fds at least 10x its wait at 10", async () => {
  const { stdout } = await run();
  const [few, many] = [waitMicros(stdout, "poll", 10), waitMicros(stdout, "poll", 10000)];
  assert.ok(many >= 10 * few, `poll ${few} µs at F = 10, ${many} µs at F = 10000:\n${stdout}`);
});

test(`3_selectors: ${best}'s wait stays flat: at 10000 fds within 3x of its wait at 10`, async () => {
  const { stdout } = await run();
  const [few, many] = [waitMicros(stdout, best, 10), waitMicros(stdout, best, 10000)];
  assert.ok(many <= 3 * few, `${best} ${few} µs at F = 10, ${many} µs at F = 10000:\n${stdout}`);
});

test(`3_selectors: at F = 10000, ${best} waits at least 10x faster than poll`, async () => {
  const { stdout } = await run();
  const [poll, fast] = [waitMicros(stdout, "poll", 10000), waitMicros(stdout, best, 10000)];
  assert.ok(fast * 10 <= poll, `${best} ${fast} µs against poll ${poll} µs:\n${stdout}`);
});

test("3_selectors: at F = 10 the backends are close: within 5x of each other", async () => {
  const { stdout } = await run();
  const waits = availableSelectors.map((name) => waitMicros(stdout, name, 10));
  assert.ok(Math.max(...waits) <= 5 * Math.min(...waits), `${waits.join(", ")} µs:\n${stdout}`);
});

test("3_selectors: select refuses fds from FD_SETSIZE up, by name; the others take them", async () => {
  const { stdout } = await run();
  const high = figure(stdout, /fd (\d+) is past it:/);
  assert.ok(high >= 1024, `fd ${high}`);
  assert.match(
    stdout,
    `  select  refused it: RangeError: select() can only watch fds below FD_SETSIZE (1024); ` +
      `fd ${high} needs poll or epoll\n`,
  );
  for (const name of availableSelectors.filter((name) => name !== "select")) {
    assert.match(stdout, `  ${name.padEnd(7)} took it, and the wait woke for fd ${high}\n`);
  }
  assert.match(stdout, /^ +10000 +500 +refused: fd ≥ FD_SETSIZE /m);
});

test("3_selectors: its chart, out/3_selectors.svg: a line per backend, select's ending below 1024", async () => {
  const { stdout } = await run();
  assert.ok(stdout.endsWith("\nchart: out/3_selectors.svg\n"), stdout);
  const chart = readChart(join(root, "out", "3_selectors.svg"));
  const lines = chart.marks("waits_lines").map((line) => line.backend);
  assert.equal([...lines].sort(), [...availableSelectors].sort());
  const points = chart.marks("waits");
  const at = (backend: string) => points.filter((point) => point.backend === backend);
  for (const backend of availableSelectors) {
    const fds = at(backend).map((point) => point.fds as number);
    if (backend === "select") assert.ok(Math.max(...fds) < 1024, `select: ${fds}`);
    else assert.is(Math.max(...fds), 10000, `${backend}: ${fds}`);
    // The same figures as the text: its conclusion line, to its one decimal.
    const us = at(backend).find((point) => point.fds === 10)!.us as number;
    assert.ok(Math.abs(us - waitMicros(stdout, backend, 10)) <= 0.05, `${backend}: ${us} µs`);
  }
  assert.ok(chart.texts.includes("FD_SETSIZE = 1024: select stops"), chart.texts.join("|"));
});

test("3_selectors: a wrong flag prints the usage and exits with status 2", async () => {
  const cases = [
    ["--max", "20000"],
    ["--max", "lots"],
    ["--backend", "poll"],
  ];
  // Side by side: nothing here is timed.
  const runs = await Promise.all(cases.map((args) => runLesson("3_selectors", args)));
  for (const [i, args] of cases.entries()) {
    const wrong = runs[i]!;
    assert.is(wrong.status, 2, `${args.join(" ")}: ${wrong.stderr}`);
    assert.is(wrong.stdout, "");
    assert.match(wrong.stderr, /\nusage: pnpm run 3_selectors \[--max N\] \[--svg FILE\]\n/);
  }
});

test.run();
