// examples/search/judge.ts, the script that examples/search/README.md runs on real sites: a wrong
// flag, --help or a missing index is one line and the usage, never a stack trace.
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { root, runCommand } from "./lessons.ts";

const judge = (args: string[]) =>
  runCommand(
    process.execPath,
    ["--import", "tsx", join(root, "examples", "search", "judge.ts"), ...args],
    60_000,
  );

test("judge.ts: --help prints the usage, and status 0", async () => {
  const run = await judge(["--help"]);
  assert.is(run.status, 0, run.stderr);
  assert.match(run.stdout, /^usage: tsx examples\/search\/judge\.ts --site /);
  assert.is(run.stderr, "");
});

test("judge.ts: an unknown flag, a missing value or a site it has no queries for: one line and the usage, status 2", async () => {
  const cases: [string[], string][] = [
    [["--bogus"], "judge: unknown option '--bogus'"],
    [["--site"], "judge: --site needs a value"],
    [["--site", "perl", "--index", "/tmp"], "judge: --site must be one of "],
    [["--site", "python"], "judge: --index is missing"],
  ];
  const runs = await Promise.all(cases.map(([args]) => judge(args)));
  for (const [i, [args, message]] of cases.entries()) {
    const run = runs[i]!;
    assert.is(run.status, 2, `${args.join(" ")}: ${run.stderr}`);
    assert.ok(run.stderr.startsWith(message), `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, /\nusage: tsx examples\/search\/judge\.ts --site [^\n]*\n$/);
    assert.not.match(run.stderr, /\n {4}at /, "no stack trace");
  }
});

test("judge.ts: no index there: one line, status 1", async () => {
  const run = await judge(["--site", "python", "--index", join(root, "no-such-index")]);
  assert.is(run.status, 1, run.stderr);
  assert.match(run.stderr, /^judge: no search index at [^\n]*\n$/);
});

test.run();
