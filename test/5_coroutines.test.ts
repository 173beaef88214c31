// 5_coroutines, run as a student runs it: its output against the snapshot, a crawl through every
// hard case of the fixture site, and the stack trace a failed fetch gets inside a generator.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { assertTroubleRecorded, completionOrder, troubleCrawl, stackOf } from "./crawls.ts";
import { matchSnapshot, runOnce } from "./lessons.ts";

const crawl = runOnce("5_coroutines");
const trouble = troubleCrawl("5_coroutines");

test("5_coroutines prints its snapshot", async () => {
  // The /trouble/ crawl of the next tests meanwhile: it is not timed, and this one mostly waits
  // out the site's latency. (Its failure is the next test's, when it awaits the same run.)
  void trouble().catch(() => {});
  const run = await crawl();
  assert.is(run.status, 0, run.stderr);
  matchSnapshot("5_coroutines", run.stdout, [completionOrder]);
});

test("5_coroutines: each failure of /trouble/ is recorded with its reason, and the crawl ends", async () => {
  assertTroubleRecorded(await trouble());
});

test("5_coroutines: a failed fetch's stack trace goes up through read, readAll and fetch", async () => {
  const stack = stackOf((await trouble()).stdout, "/reset");
  assert.match(stack, /ConnectionResetError: recv\(fd \d+\): Connection reset by peer/);
  const frames = [...stack.matchAll(/^ +at (\S+)/gm)].map((match) => match[1]);
  const order = ["read", "readAll", "fetch", "Task.step"].map((name) => frames.indexOf(name));
  assert.ok(
    order.every((index, i) => index !== -1 && (i === 0 || index > order[i - 1]!)),
    stack,
  );
});

test.run();
