// search, run as a student runs it, on an index of the fixture site's articles built here
// without a crawl: its output against the snapshot, --json, flags through pnpm, and the one-line
// errors for a missing or damaged index.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  truncateSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { IndexWriter, type SearchResult } from "@async-from-scratch/shared/search";
import { fixturePages } from "../examples/search/fixture.ts";
import { mask, matchSnapshot, root, runCommand, runLesson, runPnpm } from "./lessons.ts";
import { testOrSkip } from "./skips.ts";

const scratch = mkdtempSync(join(tmpdir(), "search-test-"));
const dir = join(scratch, "index");
const writer = IndexWriter.create(dir);
for (const page of fixturePages()) writer.add(page);
writer.close();

// What the README shows: a plain query in each language, a phrase, a typo, and no hits.
const queries = [
  ["сокеты", "--limit", "3"],
  ['"event loop" python', "--limit", "2"],
  ["sokcets", "epoll", "--limit", "2"],
  ["xyzzy"],
];

test("search prints its snapshot", async () => {
  let output = "";
  for (const args of queries) {
    const run = await runLesson("search", [...args, "--index", dir]);
    assert.is(run.status, 0, run.stderr);
    assert.is(run.stderr, "");
    const shown = args.map((arg) => (/[\s"]/.test(arg) ? `'${arg}'` : arg)).join(" ");
    output += `$ pnpm run search -- ${shown}\n${run.stdout}\n`;
  }
  // The figures that vary are the times, which the common masks cover.
  matchSnapshot("search", output);
});

test("pnpm run search starts from a bundle of main.ts; main.ts under tsx answers the same", async () => {
  const { status, stdout, stderr } = await runPnpm(["run", "search", "--", "--help"]);
  assert.is(status, 0, stderr);
  assert.match(stdout, /^usage: pnpm run search QUERY\.\.\. /);
  assert.ok(existsSync(join(root, "examples/search/dist/main.mjs")));
  // The TypeScript as a student reads and runs it: the README's queries, a bad flag, no index.
  const main = join(root, "examples", "search", "main.ts");
  const cases = [
    ...queries.map((args) => [...args, "--index", dir]),
    ["epoll", "--limit", "0"],
    ["epoll", "--index", join(scratch, "nowhere")],
  ];
  // A pair at a time: a dozen starts at once, half of them under tsx, would take both cores from
  // the timed tests that the other test worker runs meanwhile.
  for (const args of cases) {
    const [bundled, typescript] = await Promise.all([
      runLesson("search", args),
      runCommand(process.execPath, ["--import", "tsx", main, ...args]),
    ]);
    assert.is(typescript.status, bundled.status, args.join(" "));
    assert.is(mask(typescript.stdout), mask(bundled.stdout), args.join(" "));
    assert.is(typescript.stderr, bundled.stderr, args.join(" "));
  }
});

test("search: what the output claims holds (marks, order, counts)", async () => {
  const run = await runLesson("search", ["сокеты", "--index", dir, "--limit", "3"]);
  const scores = [...run.stdout.matchAll(/score (\d+\.\d+)/g)].map((match) => Number(match[1]));
  assert.is(scores.length, 3);
  assert.equal(
    [...scores].sort((a, b) => b - a),
    scores,
  );
  assert.match(run.stdout, /^\d+ of 200 pages match, in [\d.]+ ms; the best 3:$/m);
  // Not a terminal: marks are brackets, never escape codes.
  assert.match(run.stdout, /\[Сокет[а-я]*\]|\[сокет[а-я]*\]/);
  assert.not.match(run.stdout, /\x1b/);
});

test("search --json gives the whole result, snippets as marked parts", async () => {
  const run = await runLesson("search", ["epoll", "--index", dir, "--json", "--limit", "2"]);
  assert.is(run.status, 0, run.stderr);
  const result = JSON.parse(run.stdout) as SearchResult;
  assert.is(result.query, "epoll");
  assert.is(result.hits.length, 2);
  assert.ok(result.total >= 2);
  assert.ok(result.hits[0]!.snippet.some((part) => part.match && part.text === "epoll"));
  assert.equal(Object.keys(result.hits[0]!).sort(), ["id", "score", "snippet", "title", "url"]);
});

// A program reads --json by its fields: each is named in the README, and `pages` is there, as in
// the search-server's API (it was missing: the text said "of 200 pages", the JSON did not).
test("search --json: every field is documented in the README", async () => {
  const run = await runLesson("search", ["sokcets", "--index", dir, "--json", "--limit", "1"]);
  assert.is(run.status, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  assert.is(result.pages, 200);
  const readme = readFileSync(join(root, "examples", "search", "README.md"), "utf8");
  const keys = [
    ...Object.keys(result),
    ...Object.keys(result.hits[0]),
    ...Object.keys(result.hits[0].snippet[0]),
    ...Object.keys(result.spelling),
    ...Object.keys(result.spelling.corrections[0]),
  ];
  // Named in one of the README's `{ field, field }` lists.
  for (const key of keys)
    assert.match(readme, new RegExp(`\`\\{[^\`]*\\b${key}\\b[^\`]*\\}\``), key);
});

test("search shows a Cyrillic URL as an address bar does; --json keeps the URL as stored", async () => {
  const wiki = join(scratch, "wiki");
  const url = "http://127.0.0.1:8080/%D0%B2%D0%B8%D0%BA%D0%B8/%D0%A1%D0%BE%D0%BA%D0%B5%D1%82%2F1";
  const small = IndexWriter.create(wiki);
  small.add({ url, title: "Сокет", text: "Сокет: конечная точка соединения." });
  small.close();
  const text = await runLesson("search", ["сокет", "--index", wiki]);
  assert.is(text.status, 0, text.stderr);
  assert.match(text.stdout, "\n   http://127.0.0.1:8080/вики/Сокет%2F1\n");
  assert.not.match(text.stdout, "%D0");
  const json = await runLesson("search", ["сокет", "--index", wiki, "--json"]);
  assert.is((JSON.parse(json.stdout) as SearchResult).hits[0]!.url, url);
});

test("the query and flags reach search through pnpm, with and without --", async () => {
  const cases = [
    ["run", "search", "epoll", "internals", "--index", dir, "--limit", "1"],
    ["run", "search", "--", "epoll internals", "--index", dir, "--limit", "1"],
    ["run", "search", "--", "--limit", "1", "--index", dir, "--", "epoll", "internals"],
  ];
  // Side by side: nothing here is timed.
  const runs = await Promise.all(cases.map((args) => runPnpm(args)));
  for (const [i, args] of cases.entries()) {
    const run = runs[i]!;
    assert.is(run.status, 0, `${args.join(" ")}: ${run.stderr}`);
    assert.ok(run.stdout.startsWith("query: epoll internals\n"), run.stdout);
    assert.match(run.stdout, /\n1\. epoll: internals — epoll: устройство /);
    assert.not.match(run.stdout, /\n2\. /);
  }
});

test("search without a query, or with a bad flag, prints the usage and exits with 2", async () => {
  // Side by side: nothing here is timed.
  const [empty, ...runs] = await Promise.all([
    runLesson("search", ["!!!", "--index", dir]),
    ...[[], ["epoll", "--limit", "0"], ["epoll", "--bogus"]].map((args) =>
      runLesson("search", [...args, "--index", dir]),
    ),
  ]);
  for (const run of runs) {
    assert.is(run.status, 2, run.stderr);
    assert.match(
      run.stderr,
      /\nusage: pnpm run search QUERY\.\.\. \[--index DIR\] \[--limit N\] \[--exact-total\] \[--json\]\n/,
    );
  }
  assert.equal(
    [empty!.status, empty!.stderr],
    [2, 'search: the query "!!!" has no words to look for\n'],
  );
});

test("with --json an error is JSON on stdout too, beside its line on stderr and its status", async () => {
  // Side by side: nothing here is timed.
  const [noWords, tooMany, missing] = await Promise.all([
    runLesson("search", ["!!!", "--index", dir, "--json"]),
    runLesson("search", [Array(40).fill("epoll").join(" "), "--index", dir, "--json"]),
    runLesson("search", ["epoll", "--index", join(scratch, "nowhere"), "--json"]),
  ]);
  for (const [run, status, error] of [
    [noWords!, 2, "no-words"],
    [tooMany!, 2, "too-many-words"],
    [missing!, 1, "no-index"],
  ] as const) {
    assert.is(run.status, status, run.stderr);
    const json = JSON.parse(run.stdout) as { error: string; message: string };
    assert.is(json.error, error);
    assert.is(run.stderr, `search: ${json.message}\n`);
  }
});

test("a word too long to be indexed is named as the reason; a long query is cut in the message", async () => {
  const run = await runLesson("search", ["a".repeat(500), "--index", dir]);
  assert.is(run.status, 2, run.stderr);
  assert.is(
    run.stderr,
    `search: the query "${"a".repeat(80)}…" has no words to look for ` +
      "(a word of more than 64 letters is not indexed)\n",
  );
  // Cut at 80 code units, the 80th the first half of an emoji: the emoji goes whole, not half
  // (which reached the terminal as "�").
  const emoji = await runLesson("search", [`${"!".repeat(79)}${"😀".repeat(10)}`, "--index", dir]);
  assert.is(emoji.stderr, `search: the query "${"!".repeat(79)}…" has no words to look for\n`);
});

test("control characters of a crawled page never reach the terminal", async () => {
  // A page may put escape sequences in its title and text: set the window's title, clear the
  // screen, hide what follows; or a right-to-left override that turns the line around.
  const hostile = join(scratch, "hostile");
  const writer = IndexWriter.create(hostile);
  writer.add({
    url: "http://127.0.0.1:8080/hostile",
    title: "Sockets \x1b]0;owned\x07 \x1b[31mred\x1b[0m",
    text: "Sockets \x1b[2J cleared \u202e reversed, \x9b bell\x07 socket.",
  });
  writer.close();
  const run = await runLesson("search", ["sockets", "--index", hostile]);
  assert.is(run.status, 0, run.stderr);
  assert.not.match(run.stdout, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
  assert.match(run.stdout, "\n1. Sockets \ufffd]0;owned\ufffd \ufffd[31mred\ufffd[0m   score ");
  assert.match(run.stdout, "\ufffd[2J cleared \ufffd reversed");
});

test("a missing or damaged index is one line that says how to build one, there", async () => {
  const nowhere = join(scratch, "nowhere");
  const missing = await runLesson("search", ["epoll", "--index", nowhere]);
  assert.is(missing.status, 1);
  // `pnpm run crawler` alone would build out/index, not the index asked for.
  assert.is(
    missing.stderr,
    `search: no search index at ${nowhere}: build one with \`pnpm run crawler -- --out ${nowhere}\`\n`,
  );
  const segment = join(
    dir,
    readdirSync(dir).find((name) => name.endsWith(".seg"))!,
  );
  truncateSync(segment, 1000);
  const damaged = await runLesson("search", ["epoll", "--index", dir]);
  assert.is(damaged.status, 1);
  assert.match(
    damaged.stderr,
    /^search: the search index is damaged \(segment-\d+\.seg: .*\): rebuild it with `pnpm run crawler -- --out .*index`\n$/,
  );
});

// An index with a file this user may not read (mode 000). Root reads anything, so as root the
// search runs without the capabilities that let it (setpriv, from util-linux). Not as another
// user: the checkout may be in a folder only its owner can enter (a fresh clone in a mkdtemp).
const withoutOverride =
  process.getuid?.() === 0 ? ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"] : [];
const whyNotUnreadable =
  withoutOverride.length > 0 && spawnSync("setpriv", ["--help"]).error !== undefined
    ? "running as root without setpriv: cannot make a file this process may not read"
    : null;
testOrSkip(whyNotUnreadable)(
  "an index this user may not read is one line, not a stack trace",
  async () => {
    const locked = mkdtempSync(join(tmpdir(), "search-test-locked-"));
    const index = join(locked, "index");
    const writer = IndexWriter.create(index);
    writer.add({ url: "http://t/1", title: "Epoll", text: "epoll waits" });
    writer.close();
    const main = join(root, "examples", "search", "main.ts");
    const run = (file: string) => {
      for (const name of readdirSync(index))
        chmodSync(join(index, name), name === file ? 0o000 : 0o644);
      const [command, ...args] = [...withoutOverride, process.execPath, "--import", "tsx", main];
      return runCommand(command!, [...args, "epoll", "--index", index, "--json"]);
    };
    try {
      for (const file of [
        "index.json",
        readdirSync(index).find((name) => name.endsWith(".seg"))!,
      ]) {
        const result = await run(file);
        assert.is(result.status, 1, result.stderr);
        assert.match(
          result.stderr,
          `search: cannot read the search index (${join(index, file)}: permission denied): `,
        );
        assert.not.match(result.stderr, /\n    at /);
        assert.is(JSON.parse(result.stdout).error, "index-unreadable");
      }
    } finally {
      rmSync(locked, { recursive: true, force: true });
    }
  },
);

test.after(() => rmSync(scratch, { recursive: true, force: true }));

test.run();
