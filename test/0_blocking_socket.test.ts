// 0_blocking_socket: its output against the snapshot, the serial crawl's N x latency, the thread
// asleep while it waits, and a crawl that meets every hard case of the fixture site and goes on.
import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { whyNoSchedstat } from "@async-from-scratch/shared";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chartFile, fetchesIn, readChart } from "./charts.ts";
import { encode } from "../shared/site/wild.ts";
import { timelineBars } from "./crawls.ts";
import { figure, matchSnapshot, runLesson, runOnce, schedulerSaw } from "./lessons.ts";
import { testOrSkip } from "./skips.ts";

const withSchedstat = testOrSkip(whyNoSchedstat());

const blocking = runOnce("0_blocking_socket");
// A crawl of 1000 pages at no latency, which nothing times: it runs beside the snapshot's crawl,
// which mostly waits out the site's latency and is held only to a lower bound of time.
const throughTrouble = runOnce("0_blocking_socket", ["--latency", "0", "--pages", "1000"]);

test("0_blocking_socket prints its snapshot", async () => {
  void throughTrouble().catch(() => {}); // awaited, and so checked, by its own test
  const { status, stdout, stderr } = await blocking();
  assert.is(status, 0, stderr);
  matchSnapshot("0_blocking_socket", stdout);
});

test("0_blocking_socket: one page after another takes at least pages x latency", async () => {
  const { stdout } = await blocking();
  const pages = figure(stdout, /^(\d+) pages in/m);
  const seconds = figure(stdout, /pages in ([\d.]+) s/);
  assert.is(pages, 10);
  assert.ok(seconds >= 0.9 * pages * 0.2, `${pages} pages at 200 ms took ${seconds} s`);
});

withSchedstat("0_blocking_socket: the thread is asleep in recv while it waits", async () => {
  const { stdout } = await blocking();
  const { line, wallMs, runningMs, runnableMs, asleepMs, sleeps } = schedulerSaw(stdout);
  // 1_bad_socket's check turned round, as in 2_good_socket's test: the thread ran for a small part
  // of the crawl, and of the rest it was mostly asleep (runnable, waiting for its turn after a
  // wake-up, is all a loaded machine adds). Each page's recv put it to sleep until the page came.
  assert.ok(runningMs < wallMs / 3, `it ran for much of its ${wallMs} ms: ${line}`);
  assert.ok(asleepMs > runnableMs, `it wanted a CPU for most of the rest: ${line}`);
  const pages = figure(stdout, /^(\d+) pages in/m);
  assert.ok(sleeps >= pages, `fewer sleeps than the ${pages} pages it waited for: ${line}`);
});

test("0_blocking_socket --timeline: a staircase, each fetch starting where the one before ended", async () => {
  const { file, remove } = chartFile();
  try {
    const { status, stdout, stderr } = await runLesson("0_blocking_socket", [
      "--pages",
      "6",
      "--latency",
      "100",
      "--timeline",
      "--svg",
      file,
    ]);
    assert.is(status, 0, stderr);
    const bars = timelineBars(stdout);
    assert.is(bars.length, 6);
    // A column is 1/70 of the crawl; a fetch begins in the column where the one before it ended.
    bars.slice(1).forEach(([first], i) => assert.ok(first >= bars[i]![1], stdout));

    // The chart of the same crawl: the same staircase, in milliseconds.
    assert.ok(stdout.endsWith(`\nchart: ${file}\n`), stdout);
    const fetches = fetchesIn(readChart(file));
    assert.is(fetches.length, 6);
    fetches.slice(1).forEach(({ start }, i) => assert.ok(start >= fetches[i]!.end, file));
    assert.ok(fetches.every(({ phases }) => phases.join() === "connecting,waiting,reading"));
  } finally {
    remove();
  }
});

test("0_blocking_socket: a failed page is a line of the report, and the crawl goes on", async () => {
  const { status, stdout, stderr } = await throughTrouble();
  assert.is(status, 0, stderr);
  assert.match(stdout, /\/reset: ConnectionResetError: recv\(fd \d+\): Connection reset by peer/);
  assert.match(stdout, /\/malformed: ProtocolError: bad status line: 'HTTP\/1\.1 2OO OK'/);
  assert.match(stdout, / 404 \/[\w-]+: 0 new links/);
  assert.ok(figure(stdout, /^(\d+) pages in/m) > 600, "it went on after them");
});

test("0_blocking_socket: a start page that cannot be fetched is one clear line and status 1", async () => {
  // A port that was free a moment ago: nothing listens there.
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  server.close();
  const url = `http://127.0.0.1:${port}/`;
  const { status, stdout, stderr } = await runLesson("0_blocking_socket", ["--url", url]);
  assert.is(status, 1);
  assert.is(stdout, "");
  assert.match(stderr, /^0_blocking_socket: ConnectionRefusedError: connect\(127\.0\.0\.1:\d+\): /);
});

test("0_blocking_socket reads a windows-1251 page as the crawler does: its link's query in that charset", async () => {
  // ?q=тест as a browser, wget and the crawler send it from a windows-1251 page.
  const asked: string[] = [];
  const server = createHttpServer((request, response) => {
    asked.push(request.url!);
    response.setHeader("content-type", "text/html; charset=windows-1251");
    response.end(
      request.url === "/" ? encode('<a href="/search?q=тест">q</a>', "windows-1251") : "",
    );
  }).listen(0, "127.0.0.1");
  await once(server, "listening");
  try {
    const { port } = server.address() as AddressInfo;
    const { status, stderr } = await runLesson("0_blocking_socket", [
      "--url",
      `http://127.0.0.1:${port}/`,
    ]);
    assert.is(status, 0, stderr);
    assert.equal(asked, ["/", "/search?q=%F2%E5%F1%F2"]);
  } finally {
    server.close();
  }
});

test.run();
