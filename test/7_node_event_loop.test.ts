// 7_node_event_loop, run as a student runs it: its output against the snapshot, a crawl through
// every hard case of the fixture site, and --compare beside lesson 6.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  assertCutAtTimeout,
  assertTroubleRecorded,
  completionOrder,
  crawlSlowBody,
  troubleCrawl,
} from "./crawls.ts";
import { matchSnapshot, runLesson, runOnce } from "./lessons.ts";

const crawl = runOnce("7_node_event_loop");
const trouble = troubleCrawl("7_node_event_loop");

test("7_node_event_loop prints its snapshot", async () => {
  // The /trouble/ crawl of the next tests meanwhile: it is not timed, and this one mostly waits
  // out the site's latency. (Its failure is the next test's, when it awaits the same run.)
  void trouble().catch(() => {});
  const run = await crawl();
  assert.is(run.status, 0, run.stderr);
  matchSnapshot("7_node_event_loop", run.stdout, [completionOrder]);
});

test("7_node_event_loop: each failure of /trouble/ is recorded with its reason, and the crawl ends", async () => {
  assertTroubleRecorded(await trouble());
});

test("7_node_event_loop --timeout: Node's timer cuts a fetch off at the timeout, long before the body ends", async () => {
  const run = await crawlSlowBody("7_node_event_loop");
  assertCutAtTimeout(run, "TimeoutError: fetch(/slow-body): no whole answer within <timeout>");
});

test("7_node_event_loop --compare: lesson 6 crawls the same site, and both times are printed", async () => {
  const run = await runLesson("7_node_event_loop", [
    "--compare",
    "--articles",
    "3",
    "--latency",
    "50",
  ]);
  assert.is(run.status, 0, run.stderr);
  const urls = /^(\d+) URLs fetched/m.exec(run.stdout)?.[1];
  assert.ok(urls, run.stdout);
  assert.match(
    run.stdout,
    new RegExp(`^  6_async_await .* ${urls} URLs in [\\d.]+ s, CPU time`, "m"),
  );
  assert.match(
    run.stdout,
    new RegExp(`^  7_node_event_loop .* ${urls} URLs in [\\d.]+ s, CPU time`, "m"),
  );
});

test.run();
