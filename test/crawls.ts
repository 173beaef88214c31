// What the tests of the crawling lessons (4_callbacks to 7_node_event_loop) share: the lessons'
// names, the mask for the order in which their fetches end, a crawl of /slow-body with a timeout
// and what it must show, and a crawl of /trouble/ on a site the test starts, where every hard
// case of the fixture site is met.
import * as assert from "uvu/assert";
import { startSite } from "@async-from-scratch/shared/site";
import { SLOW_BODY_MS } from "../shared/site/trouble.ts";
import { figure, type Mask, type Run, runLesson } from "./lessons.ts";

export const crawlLessons = [
  "4_callbacks",
  "5_coroutines",
  "6_async_await",
  "7_node_event_loop",
] as const;

// Pages end in an order that changes from run to run (twenty of them wait at once); the lines
// printed as they end are compared as a set, sorted. Everything else keeps its order.
export const completionOrder: Mask = [
  /(?:^ {2}(?:\d{3}|ERR|---) .*\n)+/gm,
  (lines) => `${lines.trimEnd().split("\n").sort().join("\n")}\n`,
];

// Half a second: a timeout that /slow-body's body, two seconds long, is sure to exceed, and far
// enough from its end that a timer late on a loaded machine still fires long before.
const SLOW_BODY_TIMEOUT_MS = 500;

/**
 * The lesson's crawl of the fixture site's /slow-body alone, whose body comes over 2 s, with a
 * timeout of half a second, on a site started for it and stopped after it.
 */
export async function crawlSlowBody(lesson: string): Promise<Run> {
  const site = await startSite({ latencyMs: 0, articles: 1 });
  try {
    const timeout = String(SLOW_BODY_TIMEOUT_MS);
    return await runLesson(lesson, ["--url", `${site.url}slow-body`, "--timeout", timeout]);
  } finally {
    await site.stop();
  }
}

/**
 * crawlSlowBody's run: its one fetch failed as a timeout (`failure`, the lesson's line for it,
 * with "<timeout>" for the --timeout it names), and took the timeout and no less (a timer never
 * fires early), but not the time the body takes to come (a timer on a loaded machine may fire
 * late, but not by a second).
 */
export function assertCutAtTimeout(run: Run, failure: string): void {
  assert.is(run.status, 0, run.stderr);
  const line = failure.replace("<timeout>", `${SLOW_BODY_TIMEOUT_MS} ms`);
  assert.ok(run.stdout.includes(`\n  /slow-body: ${line}\n`), `no '${line}' in:\n${run.stdout}`);
  assert.match(run.stdout, /^1 URL fetched: 0 answered, 1 failed$/m);
  assert.match(run.stdout, /^errors: 1, by kind: ETIMEDOUT x1$/m);
  // The fetch's own time, from its start to its end (to a hundredth of a second).
  const fetchMs = 1000 * figure(run.stdout, /^one at a time: ([\d.]+) s/m);
  assert.ok(fetchMs >= SLOW_BODY_TIMEOUT_MS - 10, `cut after ${fetchMs} ms, before its timeout`);
  assert.ok(
    fetchMs <= 0.75 * SLOW_BODY_MS,
    `cut after ${fetchMs} ms: it waited for most of the body, which takes ${SLOW_BODY_MS} ms`,
  );
}

/**
 * The lesson's crawl of the fixture site's /trouble/ page (and from there, of the whole site),
 * with no latency and --stacks, on a site of 10 articles (53 URLs) started for it and stopped
 * after it. Like runOnce, it runs on first use, and every caller gets the same run.
 */
export function troubleCrawl(lesson: string, flags: string[] = []): () => Promise<Run> {
  let run: Promise<Run> | undefined;
  return () => (run ??= crawlTrouble(lesson, flags));
}

async function crawlTrouble(lesson: string, flags: string[]): Promise<Run> {
  const site = await startSite({ latencyMs: 0, articles: 10 });
  try {
    return await runLesson(lesson, ["--url", `${site.url}trouble/`, "--stacks", ...flags]);
  } finally {
    await site.stop();
  }
}

/** The failures every crawl meets on /trouble/, each listed with its reason. */
export function assertTroubleRecorded(run: Run): void {
  assert.is(run.status, 0, run.stderr);
  const { stdout } = run;
  assert.match(stdout, /^ {2}\/malformed: ProtocolError: bad status line: 'HTTP\/1\.1 2OO OK'$/m);
  assert.match(stdout, /^ {2}\/reset: .*ECONNRESET.*$/m);
  assert.match(stdout, /^ {2}\/no-such-page: 404 Not Found$/m);
  assert.match(stdout, /^53 URLs fetched: /m);
  assert.match(stdout, /^errors: \d+, by kind: .*ECONNRESET x1.*HTTP 404 x1.*ProtocolError x1/m);
}

/** The stack trace --stacks printed for the failed fetch of this path. */
export function stackOf(stdout: string, path: string): string {
  const start = stdout.indexOf(`stack trace of the failed fetch of ${path}:\n`);
  assert.ok(start !== -1, `no stack trace for ${path} in:\n${stdout}`);
  const end = stdout.indexOf("\n\n", start);
  return stdout.slice(start, end === -1 ? undefined : end);
}

/** The columns each row of a --timeline picture covers: [first, last] of its bar's marks. */
export function timelineBars(stdout: string): [first: number, last: number][] {
  const rows = stdout.split("\n").filter((line) => /^.{26}\|[ c\-#x]+\|$/.test(line));
  assert.ok(rows.length > 0, `no timeline in:\n${stdout}`);
  return rows.map((row) => {
    const bar = row.slice(27, -1);
    return [bar.search(/\S/), bar.length - 1 - [...bar].reverse().join("").search(/\S/)];
  });
}
