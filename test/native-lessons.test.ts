// The native calls that only lessons use to measure: spinThreads (0_threads) and forkHold
// (0_fork_exec). Each checks its arguments before it touches them, and leaves nothing behind.
// And Socket.detach(), with which the fixture site's busy port hands an fd to node:net and
// 0_threads borrows a worker's fd to shut it down.
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  AF_UNIX,
  SOCK_STREAM,
  Socket,
  forkHold,
  spinThreads,
  waitpid,
} from "@async-from-scratch/native";
import { root, runCommand } from "./lessons.ts";

const bad: [name: string, call: () => unknown, want: typeof TypeError | typeof RangeError][] = [
  ["spinThreads()", () => (spinThreads as (...args: unknown[]) => number)(), TypeError],
  ["spinThreads('2', 10)", () => spinThreads("2" as unknown as number, 10), TypeError],
  ["spinThreads(0, 10)", () => spinThreads(0, 10), RangeError],
  ["spinThreads(2, -1)", () => spinThreads(2, -1), RangeError],
  ["spinThreads(5000, 1)", () => spinThreads(5000, 1), RangeError],
  ["forkHold('bytes')", () => forkHold("bytes" as unknown as Uint8Array), TypeError],
  ["forkHold(Int32Array)", () => forkHold(new Int32Array(4) as unknown as Uint8Array), TypeError],
];

test("bad arguments are refused before anything starts", () => {
  for (const [name, call, want] of bad) {
    assert.throws(call, (error: unknown) => error instanceof want, name);
  }
});

test("spinThreads runs the work and returns the wall time", () => {
  const ms = spinThreads(2, 100_000);
  assert.ok(ms > 0 && Number.isFinite(ms), `${ms} ms`);
});

test("forkHold: the child answers each command, and ends when its fd is closed", () => {
  const buffer = Buffer.alloc(1 << 20, 7);
  const [pid, fd] = forkHold(buffer);
  const control = new Socket(AF_UNIX, SOCK_STREAM, fd);
  for (const command of ["?", "w", "w"]) {
    control.sendAll(Buffer.from(command));
    assert.is(control.recv(1).toString(), command);
  }
  // Its copy was written, not ours: copy-on-write.
  assert.ok(buffer.every((byte) => byte === 7));
  control.close();
  assert.equal(waitpid(pid, 0), { pid, exitCode: 0, signal: null });
});

test("a process exits while worker threads are woken from recv on the way out", async () => {
  // The fixture exits with status 3; an abort (a C++ exception that could not become a JavaScript
  // one, with the worker's environment going away) or a hang would not. The race is narrow, so
  // it runs a few times, side by side, as nothing here is timed.
  const fixture = join(root, "test", "fixtures", "exit-while-blocked.ts");
  const runs = await Promise.all(
    Array.from({ length: 5 }, () => runCommand(process.execPath, ["--import", "tsx", fixture])),
  );
  runs.forEach((run, i) => {
    assert.is(run.status, 3, `run ${i + 1}: status ${run.status}\n${run.stderr}`);
  });
});

test("a detached Socket gives its fd up: the object acts closed, the collector leaves the fd", async () => {
  const fixture = join(root, "test", "fixtures", "detached-socket.ts");
  const run = await runCommand(process.execPath, ["--expose-gc", "--import", "tsx", fixture]);
  assert.is(run.status, 0, run.stderr);
  if (process.platform === "linux") assert.is(run.stdout, "open\n");
  assert.not.match(run.stderr, "ResourceWarning");
});

test.run();
