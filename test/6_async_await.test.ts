// 6_async_await, run as a student runs it: its output against the snapshot, a crawl through every
// hard case of the fixture site with a timeout that /slow-body exceeds, the async stack trace of
// a failed fetch, cancelling at --max-pages, and what happens when the loop skips microtasks.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  assertCutAtTimeout,
  assertTroubleRecorded,
  completionOrder,
  crawlSlowBody,
  stackOf,
  troubleCrawl,
} from "./crawls.ts";
import { figure, matchSnapshot, runLesson, runOnce } from "./lessons.ts";

const crawl = runOnce("6_async_await");
const trouble = troubleCrawl("6_async_await");

test("6_async_await prints its snapshot", async () => {
  // The /trouble/ crawl of the next tests meanwhile: it is not timed, and this one mostly waits
  // out the site's latency. (Its failure is the next test's, when it awaits the same run.)
  void trouble().catch(() => {});
  const run = await crawl();
  assert.is(run.status, 0, run.stderr);
  matchSnapshot("6_async_await", run.stdout, [completionOrder]);
});

test("6_async_await: each failure of /trouble/ is recorded with its reason, and the crawl ends", async () => {
  assertTroubleRecorded(await trouble());
});

test("6_async_await --timeout: the loop's timer cuts a fetch off at the timeout, long before the body ends", async () => {
  const run = await crawlSlowBody("6_async_await");
  assertCutAtTimeout(
    run,
    "TimeoutError: fetch(/slow-body): no whole answer within <timeout> (ETIMEDOUT)",
  );
});

test("6_async_await: a failed fetch's stack trace is the chain of awaits, with no loop in it", async () => {
  const stack = stackOf((await trouble()).stdout, "/reset");
  assert.match(stack, /ConnectionResetError: recv\(fd \d+\): Connection reset by peer/);
  assert.match(stack, /at read \(examples\/6_async_await\/main\.ts:\d+:\d+\)/);
  assert.match(stack, /at async readAll \(/);
  assert.match(stack, /at async fetch \(/);
  assert.not.match(stack, /runLoop/);
});

test("6_async_await --max-pages: stops at that many pages and cancels the fetches still running", async () => {
  const run = await runLesson("6_async_await", ["--max-pages", "10", "--latency", "100"]);
  assert.is(run.status, 0, run.stderr);
  assert.is(figure(run.stdout, /^(\d+) URLs fetched/m), 10);
  const cancelled = figure(run.stdout, /; (\d+) more cancelled when --max-pages was reached$/m);
  assert.ok(cancelled > 0, run.stdout);
  const lines = run.stdout.match(/^ {2}--- \S+: CancelledError: --max-pages 10 reached$/gm) ?? [];
  assert.is(lines.length, cancelled);
});

test("6_async_await --skip-microtasks: the loop runs out of work with the fetch unfinished", async () => {
  const run = await runLesson("6_async_await", ["--skip-microtasks", "--timeout", "300"]);
  assert.is(run.status, 1, run.stderr);
  assert.match(run.stdout, /^the loop ran out of work after [\d.]+ s with 1 fetch unfinished:$/m);
  assert.not.match(run.stdout, /^ {2}200 /m, "no page was ever fetched");
});

test.run();
