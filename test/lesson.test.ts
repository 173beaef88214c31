// startLesson (shared/lesson.ts) on failures: what the network does to a lesson is one line on
// stderr and status 1; a bug, the student's own included, keeps its stack trace.
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { root, runCommand, runLesson } from "./lessons.ts";

const fixture = join(root, "test", "fixtures", "failing-lesson.ts");

// Each way to fail once, all started by the first test side by side (nothing here is timed), and
// each awaited, and so checked, by its own test.
const runs = new Map<string, ReturnType<typeof runCommand>>();
function failWith(how: string) {
  if (runs.size === 0) {
    for (const way of ["refused", "protocol", "closed", "bug"]) {
      const env = { ...process.env, FAIL: way };
      const run = runCommand(process.execPath, ["--import", "tsx", fixture], undefined, env);
      run.catch(() => {});
      runs.set(way, run);
    }
  }
  return runs.get(how)!;
}

test("a refused connection or a malformed response is one line, without a stack", async () => {
  const refused = await failWith("refused");
  assert.is(refused.status, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /^failing-lesson: ConnectionRefusedError: connect\(127\.0\.0\.1:\d+\): Connection refused \(ECONNREFUSED\)\n$/,
  );
  const protocol = await failWith("protocol");
  assert.is(protocol.status, 1, protocol.stderr);
  assert.match(protocol.stderr, /^failing-lesson: ProtocolError: [^\n]*2OO OK[^\n]*\n$/);
});

test("a socket used after close() keeps its stack: EBADF is a bug, not the network", async () => {
  const closed = await failWith("closed");
  assert.is(closed.status, 1, closed.stderr);
  assert.match(
    closed.stderr,
    /^failing-lesson: OSError: recv\(closed socket\): [^\n]* \(EBADF\)\n/,
  );
  assert.match(
    closed.stderr,
    /\n {4}at [^\n]*failing-lesson\.ts:\d+:\d+/,
    "the stack names the line",
  );
});

test("any other error keeps its stack", async () => {
  const bug = await failWith("bug");
  assert.is(bug.status, 1, bug.stderr);
  assert.match(bug.stderr, /^failing-lesson: TypeError: /);
  assert.match(bug.stderr, /\n {4}at [^\n]*failing-lesson\.ts:\d+:\d+/);
});

test("a flag's value: a negative number gets the range, a missing one is named, digits only; an unknown flag named whole", async () => {
  // search checks its flags before it opens an index: nothing else runs. Side by side.
  const cases: [string[], string][] = [
    [["x", "--limit", "-1"], "--limit must be an integer from 1 to 100, got '-1'"],
    [["x", "--limit"], "--limit needs a value"],
    [["--limit", "--json", "x"], "--limit needs a value"],
    [["x", "--limit="], "--limit must be an integer from 1 to 100, got ''"],
    [["x", "--limit", " "], "--limit must be an integer from 1 to 100, got ' '"],
    [["x", "--limit", "0x2"], "--limit must be an integer from 1 to 100, got '0x2'"],
    [["x", "--limit", "1e1"], "--limit must be an integer from 1 to 100, got '1e1'"],
    // parseArgs would say "Unknown option '-s'", and advise the "--" that pnpm has eaten.
    [
      ["-socket"],
      `unknown option '-socket'; a word that begins with "-" goes after a second "--": pnpm run search -- -- -socket`,
    ],
    [["x", "--lmit=3"], "unknown option '--lmit=3'"],
    // A wrong value is named before the words that are missing: the flag is what was typed.
    [["--limit", "abc"], "--limit must be an integer from 1 to 100, got 'abc'"],
    [["--limit", "0"], "--limit must be an integer from 1 to 100, got '0'"],
    [[], "QUERY... is missing"],
  ];
  const runs = await Promise.all(cases.map(([args]) => runLesson("search", args)));
  for (const [i, [args, message]] of cases.entries()) {
    const run = runs[i]!;
    assert.is(run.status, 2, args.join(" "));
    assert.ok(run.stderr.startsWith(`search: ${message}\nusage: pnpm run search `), run.stderr);
  }
});

test("after a second --, -h is a word to look for, not --help", async () => {
  const run = await runLesson("search", ["--index", join(root, "no-such-index"), "--", "-h"]);
  assert.is(run.status, 1, run.stderr);
  assert.match(run.stderr, /^search: no search index at /);
});

test.run();
