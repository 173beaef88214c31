// Several crawlers, one frontier: `crawler --frontier redis://... --workers 3` against a
// redis-server the test starts. One crawler is killed (SIGKILL) in the middle of the crawl, after
// it has committed pages to its index; the others must take its URLs over, and the whole crawl
// must end as one crawler alone ends it: every URL discovered in exactly one outcome, each logged
// once, the same counts, and an index of the same pages.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Index } from "@async-from-scratch/shared/search";
import { HANG_LIMIT_MS, type Run, runLesson, spawnLesson } from "./lessons.ts";
import { type RunningRedis, startRedis, whyNoRedis } from "./redis.ts";
import { testOrSkip } from "./skips.ts";

const withRedis = testOrSkip(whyNoRedis);
const scratchDir = mkdtempSync(join(tmpdir(), "crawler-redis-test-"));
// Enough latency that a crawler is always in the middle of fetches when it is killed, a short
// lease, so that its URLs are taken over within the test's time, and checkpoints often enough
// that it has committed pages before, and pages read since.
const SITE = ["--articles", "60", "--latency", "40"];
const CRAWL = ["--concurrency", "4", "--per-host", "4", "--lease", "1000", "--checkpoint", "300"];

/** The counts of a report, by row name ("URLs discovered", "indexed", ..., "sum"). */
function counts(stdout: string): Map<string, number> {
  const rows = [...stdout.matchAll(/^ {0,2}([a-zA-Z. ]+?) {2,}(\d+)$/gm)];
  return new Map(rows.map(([, name, count]) => [name!.trim(), Number(count)]));
}

withRedis("3 crawlers share a Redis frontier; one killed mid-crawl loses nothing", async () => {
  const redis = await startRedis();
  try {
    // The lone crawl, to compare with, runs beside the shared one: neither is timed, and the
    // shared one kills a crawler on what the log and Redis say, whatever the machine's speed.
    const out = join(scratchDir, "shared");
    const args = ["--frontier", redis.url, "--workers", "3", "--out", out, ...SITE, ...CRAWL];
    const [alone, shared] = await Promise.all([
      runLesson("crawler", [...SITE, ...CRAWL, "--out", join(scratchDir, "alone")]),
      runKillingOne(redis, args, join(out, "workers", "2", "crawl-log.jsonl")),
    ]);
    assert.is(alone.status, 0, alone.stderr);
    assert.is(shared.status, 1, "a crawler was killed: the exit code says so");
    assert.match(shared.stdout, /^ {2}crawler 2: killed by SIGKILL/m);
    assert.match(shared.stdout, /^ {2}crawler 1: exit 0, \d+ URLs settled, \d+ taken over$/m);
    assert.match(shared.stdout, /^ {2}crawler 3: exit 0, \d+ URLs settled, \d+ taken over$/m);
    const takenOver = [...shared.stdout.matchAll(/(\d+) taken over$/gm)].map(([, n]) => Number(n));
    assert.ok(
      takenOver.reduce((a, b) => a + b, 0) > 0,
      `the killed crawler held URLs, which the others took over:\n${shared.stdout}`,
    );

    // The whole crawl's counts, from Redis: they add up, and they are the lone crawler's.
    const together = counts(shared.stdout);
    const single = counts(alone.stdout);
    assert.not.match(shared.stdout, /lost or counted twice|still queued/);
    assert.is(together.get("sum"), together.get("URLs discovered"));
    for (const row of [
      "URLs discovered",
      "indexed",
      "duplicate",
      "redirected",
      "not HTML",
      "error",
    ]) {
      assert.is(together.get(row), single.get(row), `${row}:\n${shared.stdout}\n${alone.stdout}`);
    }

    // Each URL settled once: the crawlers' logs, joined, name no URL twice. They may miss the
    // last few URLs the killed crawler settled: counted in Redis, their replies not yet read by
    // it (at most what it had under way: --concurrency 4, and 16 pages being read).
    const entries = readFileSync(join(out, "crawl-log.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { url: string; outcome: string });
    const urls = entries.map((entry) => entry.url);
    const outcomes = entries.map((entry) => entry.outcome);
    const twice = urls.filter((url, i) => urls.indexOf(url) !== i);
    assert.equal(twice, [], "no URL settled twice");
    const sum = together.get("sum")!;
    assert.ok(urls.length <= sum && urls.length >= sum - 20, `${urls.length} logged of ${sum}`);

    // The crawlers' indexes, the killed one's committed parts too, are merged into the one
    // search reads: the same number of pages as the lone crawler's, and every page logged as
    // indexed is in it. (Which of two twins is indexed may differ between runs; their count not.)
    assert.ok(existsSync(join(out, "index.json")));
    assert.not.ok(existsSync(join(out, "workers")), "the crawlers' own folders are gone");
    const parts = Number(/(\d+) parts joined/.exec(shared.stdout)?.[1]);
    assert.ok(
      parts >= 3,
      `the killed crawler's committed parts were joined too:\n${shared.stdout}`,
    );
    const indexed = urls.filter((_, i) => outcomes[i] === "indexed");
    const index = Index.open(out);
    const lone = Index.open(join(scratchDir, "alone"));
    try {
      assert.is(index.pages, lone.pages, `${shared.stdout}\n${alone.stdout}`);
      assert.is(index.pages, together.get("indexed"));
      const missing = indexed.filter((url) => index.page(url) === null);
      assert.equal(missing, [], "every URL logged as indexed is in the index");
    } finally {
      index.close();
      lone.close();
    }
  } finally {
    await redis.stop();
  }
});

withRedis("--workers without --frontier, and a Redis that is not there: clear errors", async () => {
  // Side by side: nothing here is timed.
  const [noFrontier, noUrl, bad] = await Promise.all([
    runLesson("crawler", ["--workers", "2"]),
    runLesson("crawler", ["--frontier", "redis://127.0.0.1:1/"]),
    runLesson("crawler", ["--frontier", "http://x/", "--workers", "2"]),
  ]);
  assert.is(noFrontier.status, 2);
  assert.match(noFrontier.stderr, /--workers needs --frontier redis:\/\/HOST:PORT\//);
  assert.is(noUrl.status, 2);
  assert.match(noUrl.stderr, /--frontier needs --url/);
  assert.match(bad.stderr, /--frontier: "http:\/\/x\/" is not a redis:\/\/ URL/);
  const redis = await startRedis();
  await redis.stop(); // its port: nobody listens there now
  const away = await runLesson("crawler", [
    "--frontier",
    redis.url,
    "--url",
    "http://127.0.0.1:9/",
    "--out",
    join(scratchDir, "away"),
  ]);
  assert.is(away.status, 1);
  assert.match(
    away.stderr,
    /^crawler: Redis at redis:\/\/127\.0\.0\.1:\d+\/: connection refused$/m,
  );
});

/**
 * Runs the crawler with args; once the log at killLog names a few pages indexed (which it does
 * only once they are committed), and Redis names entries that "crawler 2" holds, SIGKILLs it.
 * Both, since a crawler whose log is far along may be between URLs, holding none, on a machine
 * slow enough that the others have taken the rest.
 */
async function runKillingOne(redis: RunningRedis, args: string[], killLog: string): Promise<Run> {
  const { child, printed, exited } = await spawnLesson("crawler", args);
  const timeout = setTimeout(() => child.kill("SIGKILL"), HANG_LIMIT_MS);
  let killed = false;
  const watch = async () => {
    const pid = /^ {2}crawler 2: pid (\d+)$/m.exec(printed.stdout)?.[1];
    if (pid === undefined || !existsSync(killLog)) return;
    if (readFileSync(killLog, "utf8").split('"outcome":"indexed"').length <= 3) return;
    // [pending, first id, last id, [[consumer, count], ...]]; a consumer is "host:pid:random".
    const [, , , consumers] = (await redis.call("XPENDING", "crawler:frontier", "crawlers")) as [
      number,
      string,
      string,
      [string, string][] | null,
    ];
    const held = consumers?.find(([name]) => name.split(":").at(-2) === pid)?.[1];
    if (killed || Number(held ?? 0) < 2) return;
    killed = true;
    process.kill(Number(pid), "SIGKILL");
  };
  const watching = setInterval(() => void watch().catch(() => {}), 20);
  try {
    return await exited;
  } finally {
    clearTimeout(timeout);
    clearInterval(watching);
  }
}

test.after(() => rmSync(scratchDir, { recursive: true, force: true }));

test.run();
