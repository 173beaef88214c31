// 3_selectors, run as a student runs it: its output against the snapshot, and the lecture's claims
// behind its measured figures (epoll beats poll when most fds are idle; select stops at
// FD_SETSIZE, poll and epoll do not).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { availableSelectors } from "@async-from-scratch/native";
import { figure, matchSnapshot, runLesson, runOnce } from "./lessons.ts";

const run = runOnce("3_selectors");

test("3_selectors prints its snapshot", async () => {
  const { status, stdout, stderr } = await run();
  assert.is(status, 0, stderr);
  matchSnapshot("3_selectors", stdout);
});

test("3_selectors: at F = 10000, epoll (or kqueue) waits at least 3x faster than poll", async () => {
  const { stdout } = await run();
  // The conclusion lines quote the table: "poll 1.5 µs at F = 10, 1572.4 µs at F = 10000: ..."
  const poll = figure(stdout, /^ {2}poll +.*, ([\d.]+) µs at F = 10000:/m);
  const best = figure(stdout, /^ {2}(?:epoll|kqueue) +.*, ([\d.]+) µs at F = 10000:/m);
  assert.ok(best * 3 <= poll, `epoll ${best} µs against poll ${poll} µs:\n${stdout}`);
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

test("3_selectors: a wrong flag prints the usage and exits with status 2", async () => {
  for (const args of [
    ["--max", "20000"],
    ["--max", "lots"],
    ["--backend", "poll"],
  ]) {
    const wrong = await runLesson("3_selectors", args);
    assert.is(wrong.status, 2, `${args.join(" ")}: ${wrong.stderr}`);
    assert.is(wrong.stdout, "");
    assert.match(wrong.stderr, /\nusage: pnpm run 3_selectors \[--max N\]\n/);
  }
});

test.run();
