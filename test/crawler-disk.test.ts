// The crawler's stores on disk (examples/crawler/disk.ts) against the in-memory ones of stores.ts:
// the same answers for the same operations, past a small threshold so that every on-disk path
// runs (the table's growth and full buckets, segments written, read back, rolled and deleted),
// and a crawl saved from disk stores and loaded back into them. Then a cut of the million-page
// crawl: 20,000 URLs past --memory-urls 1000, stopped and resumed, each fetched once, the counts
// adding up, and the heap not holding the URLs.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { figure, root, runCommand, siteProcesses } from "./lessons.ts";
import { DiskFrontier, DiskSeenSet, FingerprintTable } from "../examples/crawler/disk.ts";
import {
  MemoryFrontier,
  MemorySeenSet,
  loadCrawl,
  readLineBatch,
  saveCrawl,
  type Item,
} from "../examples/crawler/stores.ts";

const test = suite("crawler-disk");
const scratch = mkdtempSync(join(tmpdir(), "crawler-disk-"));
const dir = (name: string) => join(scratch, name);

/** A small deterministic random source (mulberry32), so that a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

test("DiskSeenSet answers as a Set, in memory and past its threshold on disk", () => {
  const path = dir("seen");
  const disk = new DiskSeenSet(path, 1_000);
  const memory = new MemorySeenSet();
  const next = random(1);
  for (let i = 0; i < 60_000; i++) {
    // Half of the adds repeat a key: most links point to pages seen before.
    const key = `http://127.0.0.1:8080/wiki/${Math.floor(next() * 30_000)}?Ключ`;
    assert.is(disk.add(key), memory.add(key), key);
    if (i === 999) assert.not.ok(existsSync(path), "nothing on disk below the threshold");
  }
  assert.is(disk.size, memory.size);
  assert.ok(existsSync(path) && disk.diskBytes > 0);
  assert.equal([...disk.keys()].sort(), [...memory.keys()].sort());
  disk.close();
  assert.not.ok(existsSync(path), "its files are deleted");
});

test("FingerprintTable: grows from one bucket, keeps every key across each doubling", () => {
  const table = new FingerprintTable(join(scratch, "table"), 1);
  const bytes = table.bytes;
  for (let i = 0; i < 20_000; i++) assert.ok(table.add(`key ${i}`), `key ${i} is new`);
  for (let i = 0; i < 20_000; i++) assert.not.ok(table.add(`key ${i}`), `key ${i} was added`);
  assert.is(table.size, 20_000);
  assert.ok(table.bytes >= 20_000 * 8 * 2, "at most half full");
  assert.ok(table.bytes > bytes);
  table.close();
});

test("DiskFrontier hands out what MemoryFrontier does, host by host, in order", () => {
  const path = dir("frontier");
  const disk = new DiskFrontier(path, 500);
  const memory = new MemoryFrontier();
  const next = random(2);
  const hosts = ["a.example", "b.example:8080", "[::1]:80"];
  let pushed = 0;
  let sawSegments = false;
  for (let step = 0; step < 40_000; step++) {
    const host = hosts[Math.floor(next() * hosts.length)]!;
    // More pushes than shifts at first (the frontier grows past the threshold), then fewer.
    if (next() < (step < 20_000 ? 0.7 : 0.3)) {
      const item: Item = { url: `http://${host}/${pushed++}/ё`, depth: step % 7, via: [] };
      disk.push(host, item);
      memory.push(host, item);
    } else {
      assert.equal(disk.shift(host), memory.shift(host));
    }
    assert.is(disk.size, memory.size);
    if (step % 100 === 0) sawSegments ||= existsSync(path) && readdirSync(path).length > 0;
    if (step % 5_000 === 0) assert.equal([...disk.hosts()], [...memory.hosts()]);
  }
  assert.ok(sawSegments, "some items went to disk");
  assert.equal([...disk.items()], [...memory.items()]);
  for (const host of hosts) {
    for (let item = memory.shift(host); item !== undefined; item = memory.shift(host)) {
      assert.equal(disk.shift(host), item);
    }
    assert.is(disk.shift(host), undefined);
  }
  assert.is(disk.size, 0);
  assert.equal(readdirSync(path), [], "every segment deleted once read");
  disk.close();
  assert.not.ok(existsSync(path));
});

test("DiskFrontier: a host's segments roll over and are read back across the seams", () => {
  const path = dir("long");
  const disk = new DiskFrontier(path, 0);
  // Long URLs, so that the 16 MiB segments roll over a few times.
  const url = (i: number) => `http://a.example/${i}/${"x".repeat(4000)}`;
  const count = 10_000;
  for (let i = 0; i < count; i++) disk.push("a.example", { url: url(i), depth: 1, via: [] });
  assert.ok(readdirSync(path).length >= 2, `${readdirSync(path).length} segments`);
  for (let i = 0; i < count; i++) assert.is(disk.shift("a.example")?.url, url(i));
  assert.is(disk.size, 0);
  disk.close();
});

test("a crawl on disk stores is saved and loaded back into disk stores", () => {
  const stores = (name: string) => ({
    frontier: new DiskFrontier(dir(`${name}-frontier`), 100),
    seen: new DiskSeenSet(dir(`${name}-seen`), 100),
    digests: new DiskSeenSet(dir(`${name}-digests`), 100),
  });
  const before = stores("before");
  const expected: [string, Item][] = [];
  for (let i = 0; i < 3_000; i++) {
    const url = `http://h${i % 3}.example/${i}`;
    before.seen.add(url);
    if (i % 2 === 0) before.digests.add(`digest ${i}`);
    if (i % 3 !== 0) {
      before.frontier.push(`h${i % 3}.example`, { url, depth: 2, via: [`${url}?from`] });
      expected.push([`h${i % 3}.example`, { url, depth: 2, via: [`${url}?from`] }]);
    }
  }
  const state = dir("state");
  saveCrawl(state, { summary: { note: "x" }, ...before });
  const into = stores("after");
  const after = loadCrawl<{ note: string }>(state, into);
  assert.is(after.summary.note, "x");
  assert.is(after.seen.size, 3_000);
  assert.is(after.digests.size, 1_500);
  assert.not.ok(after.seen.add("http://h1.example/1"));
  assert.ok(after.seen.add("http://h1.example/new"));
  const sorted = (items: Iterable<[string, Item]>) =>
    [...items].sort(([a, x], [b, y]) => (a + x.url < b + y.url ? -1 : 1));
  assert.equal(sorted(after.frontier.items()), sorted(expected));
  for (const s of [before, into]) {
    s.frontier.close();
    s.seen.close();
    s.digests.close();
  }
});

test("readLineBatch: whole lines only, never a split character, a line longer than a batch", () => {
  const path = join(scratch, "lines.txt");
  const lines = ["ёжик", "x".repeat(100), "", "последняя"];
  writeFileSync(path, `${lines.join("\n")}\n`);
  const got: string[] = [];
  for (let offset = 0; ;) {
    const batch = readLineBatch(path, offset, 7); // 7 bytes: mid-"ёжик", shorter than a line
    if (batch.lines.length === 0) break;
    got.push(...batch.lines);
    offset = batch.next;
  }
  assert.equal(got, lines);
});

test("20,000 URLs past --memory-urls 1000, stopped and resumed: each fetched once, heap flat", async () => {
  const out = dir("crawl");
  const main = join(root, "examples/crawler/main.ts");
  // --expose-gc: the crawler collects garbage before it measures, so that its heap figures are
  // what it holds, not what the collector has not got to yet.
  const env = { ...process.env, NODE_OPTIONS: "--expose-gc" };
  const crawl = async (flags: string[]) => {
    const command = ["--import", "tsx", main, "--out", out, "--memory-urls", "1000", ...flags];
    const run = await runCommand(process.execPath, command, undefined, env);
    assert.is(run.status, 0, run.stderr);
    return run.stdout;
  };
  // 6,700 articles: with their history pages, the categories and the hard cases, 20,000 URLs.
  // The first run stops at 1,000 pages, with thousands of URLs discovered and waiting on disk;
  // the second goes on from what the first saved.
  const first = await crawl(["--articles", "6700", "--max-pages", "1000"]);
  const second = await crawl(["--resume"]);
  const discovered = (stdout: string) => figure(stdout, /^URLs discovered +(\d+)$/m);
  const [early, all] = [discovered(first), discovered(second)];
  assert.ok(all >= 20_000, `${all} URLs`);
  for (const stdout of [first, second]) {
    assert.is(figure(stdout, /^ {2}sum +(\d+)$/m), discovered(stdout), "the outcomes add up");
    // The stores went to disk, and their files are gone once the crawl is saved.
    assert.match(stdout, /^Stores: on disk past --memory-urls 1000: /m);
  }
  assert.ok(figure(first, /frontier ([\d.]+) (?:KiB|MiB) at most/) > 0, "the frontier on disk");
  assert.not.ok(existsSync(join(out, "spill")));

  // Each URL ends once in the log, over both runs; and each was asked for once: the requests
  // are the URLs that were fetched, the robots.txt and the retries, and at most one more per
  // connection (a request on a kept-alive connection that the server had closed meanwhile is
  // sent again, once).
  const outcomes = new Map<string, string>();
  for (const line of readFileSync(join(out, "crawl-log.jsonl"), "utf8").split("\n")) {
    if (line === "") continue;
    const { url, outcome } = JSON.parse(line) as { url: string; outcome: string };
    assert.not.ok(outcomes.has(url), `${url} logged twice`);
    outcomes.set(url, outcome);
  }
  assert.is(outcomes.size, all);
  const notFetched = new Set(["excluded", "robots.txt", "limit"]);
  const fetched = [...outcomes.values()].filter((outcome) => !notFetched.has(outcome)).length;
  const sum = (pattern: RegExp) => figure(first, pattern) + figure(second, pattern);
  const requests = sum(/^This run: (\d+) requests/m);
  const expected = fetched + sum(/\(robots\.txt (\d+), retries/) + sum(/, retries (\d+)\)/);
  const connections = sum(/ on (\d+) connections/);
  assert.ok(
    requests >= expected && requests <= expected + connections,
    `${requests} requests for ${fetched} URLs`,
  );

  // The heap at the end of each run: the second knows some 15,000 URLs more, which in-memory
  // stores would hold, as strings of their length and more (about 500 bytes a URL, measured);
  // the disk stores keep a thousand. What the heap grows by besides is noise: the report gives the
  // heap to 0.1 MiB (7 bytes a URL here), and what a run happens to hold at its end (timers
  // cancelled and not yet swept, compiled code) differs by a few tenths of a MiB, a few tens of
  // bytes a URL. So the bound is two URLs' length: a quarter of what in-memory stores would take.
  const heap = (stdout: string) => {
    const [, n, unit] = /^Memory: .*; heap ([\d.]+) (B|KiB|MiB)/m.exec(stdout) ?? [];
    assert.ok(n, stdout);
    return Number(n) * { B: 1, KiB: 1024, MiB: 1024 ** 2 }[unit as "B"];
  };
  const urlBytes = [...outcomes.keys()].reduce((sum, url) => sum + url.length, 0) / all;
  const perUrl = (heap(second) - heap(first)) / (all - early);
  assert.ok(perUrl < 2 * urlBytes, `${perUrl} B of heap per URL (a URL: ${urlBytes} B)`);
});

test.after(() => {
  rmSync(scratch, { recursive: true, force: true });
  assert.equal(siteProcesses(), [], "no fixture site left running");
});

test.run();
