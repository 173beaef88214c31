// The four crawling lessons side by side, on the same fixture site with a latency that makes
// concurrency show: they end with the same URLs and the same errors, and each takes a fraction of
// what the same pages would take one after another.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readResponse, startRecord } from "../shared/crawl.ts";
import { PANGRAM, encode } from "../shared/site/wild.ts";
import { fetchesIn, readChart } from "./charts.ts";
import { crawlLessons } from "./crawls.ts";
import { type Run, figure, root, runOnce, siteProcesses } from "./lessons.ts";

const sitesBefore = siteProcesses();

const LATENCY_MS = 500;
const CONCURRENCY = 20;
const charts = mkdtempSync(join(tmpdir(), "crawl-charts-"));
const runs = crawlLessons.map((lesson) => ({
  lesson,
  chart: join(charts, `${lesson}.svg`),
  run: runOnce(lesson, [
    "--latency",
    String(LATENCY_MS),
    "--articles",
    "30",
    "--concurrency",
    String(CONCURRENCY),
    "--svg",
    join(charts, `${lesson}.svg`),
  ]),
}));

// What must be the same in every lesson's output: counts by status, errors by kind, and the URL
// set (its size and checksum).
function outcome({ stdout }: Run): string {
  const lines = stdout.split("\n");
  const kept = lines.filter((line) => /^(\d+ URLs fetched|errors: |the URLs)/.test(line));
  assert.is(kept.length, 3, stdout);
  return kept.join("\n");
}

test("the four crawls end with the same URLs and the same errors", async () => {
  // One after another, so that each crawl's times are its own.
  const results: Run[] = [];
  for (const { run } of runs) results.push(await run());
  const [first, ...others] = results;
  for (const run of [first!, ...others]) assert.is(run.status, 0, run.stderr);
  const expected = outcome(first!);
  assert.match(expected, /^113 URLs fetched: 111 answered/);
  others.forEach((run, i) => assert.is(outcome(run), expected, `${runs[i + 1]!.lesson}`));
});

for (const { lesson, run } of runs) {
  test(`${lesson}: P pages at latency L take at most P x L / 4 with ${CONCURRENCY} at once`, async () => {
    const { stdout } = await run();
    const pages = figure(stdout, /^(\d+) URLs fetched/m);
    const seconds = figure(stdout, /^wall time ([\d.]+) s/m);
    const bound = (pages * LATENCY_MS) / 4 / 1000;
    assert.ok(
      seconds <= bound,
      `${pages} pages at ${LATENCY_MS} ms took ${seconds} s > ${bound} s`,
    );
    assert.is(figure(stdout, /^highest concurrency: (\d+)/m), CONCURRENCY);
  });
}

for (const { lesson, run, chart } of runs) {
  test(`${lesson}: its chart has a row per fetch, and as many side by side as it says`, async () => {
    const { stdout } = await run();
    const fetches = fetchesIn(readChart(chart));
    assert.is(fetches.length, figure(stdout, /^(\d+) URLs fetched/m));
    // At the moment each fetch began, how many were under way.
    const busiest = Math.max(
      ...fetches.map(({ start: t }) => fetches.filter((f) => f.start <= t && t < f.end).length),
    );
    assert.is(busiest, figure(stdout, /^highest concurrency: (\d+)/m));
  });
}

// Lessons 5 and 6 each give the size of their diff from the lesson before: how many lines stay
// (a longest common subsequence of the two files' lines), how many go and how many come.
function commonLines(a: string[], b: string[]): number {
  let previous = new Array<number>(b.length + 1).fill(0);
  for (const line of a) {
    const row = [0];
    for (let j = 0; j < b.length; j++) {
      row.push(line === b[j] ? previous[j]! + 1 : Math.max(previous[j + 1]!, row[j]!));
    }
    previous = row;
  }
  return previous[b.length]!;
}

for (const [before, after] of [
  ["4_callbacks", "5_coroutines"],
  ["5_coroutines", "6_async_await"],
] as const) {
  test(`${after}'s README gives the true size of its diff from ${before}`, () => {
    const lines = (lesson: string) =>
      readFileSync(join(root, "examples", lesson, "main.ts"), "utf8")
        .replace(/\n$/, "")
        .split("\n");
    const [a, b] = [lines(before), lines(after)];
    const same = commonLines(a, b);
    const size =
      `Of the ${a.length} lines of \`${before}/main.ts\`, ${same} stay, in the same order, among ` +
      `the ${b.length} of \`${after}/main.ts\`: the diff takes out ${a.length - same} lines and ` +
      `puts in ${b.length - same}.`;
    const readme = readFileSync(join(root, "examples", after, "README.md"), "utf8");
    assert.ok(readme.replace(/\s+/g, " ").includes(size), `the README should say:\n${size}`);
  });
}

test("readResponse reads a page as the crawler does: a query in its one-byte charset, declared or not", () => {
  const read = (body: Uint8Array, contentType: string) => {
    const record = startRecord(new URL("http://h/dir/"));
    const headers = new Map([["content-type", contentType]]);
    readResponse(
      record,
      { type: "response", httpVersion: "1.1", status: 200, reason: "OK", headers },
      Buffer.from(body),
    );
    return record.links;
  };
  // ?q=тест as a browser and wget send it from a windows-1251 page; the path stays UTF-8.
  const links = '<a href="/search?q=тест">q</a> <a href="/вики">w</a>';
  const expected = ["http://h/search?q=%F2%E5%F1%F2", "http://h/%D0%B2%D0%B8%D0%BA%D0%B8"];
  assert.equal(read(encode(links, "windows-1251"), "text/html; charset=windows-1251"), expected);
  // A koi8-r page that says nothing of its charset: guessed from its letters, as in the crawler.
  const koi8 = encode(`<p>${PANGRAM}</p><a href="/search?q=тест">q</a>`, "koi8-r");
  assert.equal(read(koi8, "text/html"), ["http://h/search?q=%D4%C5%D3%D4"]);
});

test("no crawl leaves a fixture site running", () => {
  assert.equal(siteProcesses(), sitesBefore);
});

test.after(() => rmSync(charts, { recursive: true, force: true }));

test.run();
