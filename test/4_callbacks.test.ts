// 4_callbacks, run as a student runs it: its output against the snapshot, a crawl through every
// hard case of the fixture site, and the stack trace a failed fetch gets inside a callback.
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  assertTroubleRecorded,
  completionOrder,
  stackOf,
  timelineBars,
  troubleCrawl,
} from "./crawls.ts";
import { chartFile, fetchesIn, readChart } from "./charts.ts";
import { matchSnapshot, runLesson, runOnce } from "./lessons.ts";

const crawl = runOnce("4_callbacks");
const trouble = troubleCrawl("4_callbacks");

test("4_callbacks prints its snapshot", async () => {
  // The /trouble/ crawl of the next tests meanwhile: it is not timed, and this one mostly waits
  // out the site's latency. (Its failure is the next test's, when it awaits the same run.)
  void trouble().catch(() => {});
  const run = await crawl();
  assert.is(run.status, 0, run.stderr);
  matchSnapshot("4_callbacks", run.stdout, [completionOrder]);
});

test("4_callbacks: each failure of /trouble/ is recorded with its reason, and the crawl ends", async () => {
  assertTroubleRecorded(await trouble());
});

test("4_callbacks: a failed fetch's stack trace shows the loop calling a callback, and no more", async () => {
  const stack = stackOf((await trouble()).stdout, "/reset");
  assert.match(stack, /ConnectionResetError: recv\(fd \d+\): Connection reset by peer/);
  assert.match(stack, /at Object\.readable \(examples\/4_callbacks\/main\.ts:\d+:\d+\)/);
  assert.match(stack, /at runLoop \(examples\/4_callbacks\/main\.ts:\d+:\d+\)/);
  assert.not.match(stack, /startFetches|fetch \(/, "whoever started the fetch is not there");
});

test("4_callbacks --timeline: the fetches of one depth wait side by side", async () => {
  const { file, remove } = chartFile();
  try {
    const { status, stdout, stderr } = await runLesson("4_callbacks", [
      "--articles",
      "3",
      "--timeline",
      "--svg",
      file,
    ]);
    assert.is(status, 0, stderr);
    const bars = timelineBars(stdout);
    // The front page's links are fetched together: many bars cover one same column.
    const [, firstEnd] = bars[0]!;
    const together = bars.filter(([first, last]) => first <= firstEnd + 2 && last > firstEnd + 2);
    assert.ok(together.length >= 8, stdout);

    // The chart of the same crawl: a row per fetch, and when the ninth fetch began, the seven
    // before it (the front page's links, started with it) were still under way.
    const fetches = fetchesIn(readChart(file));
    assert.is(fetches.length, bars.length);
    const moment = fetches[8]!.start;
    const atOnce = fetches.filter(({ start, end }) => start <= moment && end > moment);
    assert.ok(atOnce.length >= 8, `${atOnce.length} fetches at ${moment} ms`);
  } finally {
    remove();
  }
});

test.run();
