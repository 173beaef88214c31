// 0_blocking_socket: the lecture's blocking fetch(url), and the crawl built on it, which takes
// as long as all its pages' latencies added up, because each recv waits for its own page.
//
// Lecture: "Как работать с сетью с помощью сокетов" (the fetch example), and "Решения": every
//   call here (connect, send, recv) blocks until it is done.
// Builds on: nothing; this is where the lecture starts with sockets.
// Leaves out: doing anything while a page is on its way. Threads are one way out (0_threads),
//   non-blocking sockets the other (1_bad_socket, then 2_good_socket). Redirects, robots.txt and
//   politeness are left to the crawler lesson.
// Run: pnpm run 0_blocking_socket [--url http://host:port/path] [--latency MS] [--pages N]
//   [--timeline] [--svg FILE]
import { OSError, Socket } from "@async-from-scratch/native";
import {
  ProtocolError,
  buildRequest,
  type Span,
  chartFlags,
  drawChart,
  cpuVersusWall,
  charsetOf,
  drawTimeline,
  linksOnHost,
  openTarget,
  parseResponse,
  readHtml,
  startClock,
  siteFlags,
  startLesson,
  startThreadClock,
  threadVersusWall,
} from "@async-from-scratch/shared";

const args = startLesson("0_blocking_socket", {
  ...siteFlags(200),
  pages: { type: "integer", default: 10, min: 1, max: 1000, help: "how many pages to crawl" },
  timeline: { type: "boolean", help: "draw each fetch on a time line after the crawl" },
  ...chartFlags(),
});
const target = await openTarget(args.url, { latencyMs: args.latency });

// The lecture's fetch, line for line (the two `span` lines note the time for --timeline). Each of
// connect, sendAll and recv puts this thread to sleep until the kernel has done its part; while
// it sleeps, nothing else in this program can happen.
function fetch(url: URL, span: Span): Buffer {
  const sock = new Socket();
  try {
    sock.connect([url.hostname, Number(url.port || 80)]);
    span.connectedMs = performance.now();
    sock.sendAll(buildRequest(url));
    const chunks: Buffer[] = [];
    let chunk = sock.recv(4096);
    span.firstByteMs = performance.now();
    while (chunk.length > 0) {
      chunks.push(chunk);
      chunk = sock.recv(4096);
    }
    return Buffer.concat(chunks);
  } finally {
    sock.close();
  }
}

// Status, title and links of a fetched page; links only on the page's own host, as a crawler of
// one site wants them.
function read(url: URL, bytes: Buffer) {
  const response = parseResponse(bytes);
  const contentType = response.headers.get("content-type") ?? "";
  // Read as the crawler reads a page: in its charset, and its links' queries in it too.
  const body = contentType.startsWith("text/html") ? response.body : new Uint8Array(0);
  const { page } = readHtml(body, url.href, charsetOf(contentType));
  return { response, title: page.title, links: linksOnHost(page.links, url.host) };
}

// The lecture's algorithm: 1. a list of URLs to fetch; 2. fetch the next one; 3. read the page;
// 4. add the links it has to the list; 5. repeat from 2. One page at a time, so every page waits
// for all the pages before it.
const start = target.url;
const queue = [start.href];
const seen = new Set(queue);
const readClock = startClock();
// And what the kernel's scheduler saw this thread do meanwhile: see the lines after the crawl.
const readThreadClock = startThreadClock();
const spans: Span[] = [];
let fetched = 0;
while (fetched < args.pages && queue.length > 0) {
  const url = new URL(queue.shift()!);
  fetched++;
  const span: Span = { label: url.pathname + url.search, startMs: performance.now(), endMs: 0 };
  let outcome: string;
  try {
    const { response, title, links } = read(url, fetch(url, span));
    const fresh = links.filter((link) => !seen.has(link));
    for (const link of fresh) seen.add(link);
    queue.push(...fresh);
    outcome = `${response.status} ${url.pathname}${url.search}: ${fresh.length} new links`;
    if (fetched === 1) {
      console.log(`fetch(${url.href}): ${response.status} ${response.reason}, "${title}"`);
      console.log(`links to this site: ${links.length}`);
      for (const link of links) console.log(`  ${new URL(link).pathname}`);
      console.log(`\ncrawling ${args.pages} pages one after another, this one first:`);
    }
  } catch (error) {
    // A page that fails (reset, malformed) is one line of the report, not the end of the crawl;
    // but if the first one fails, there is no crawl.
    if (fetched === 1 || !(error instanceof OSError || error instanceof ProtocolError)) throw error;
    outcome = `${url.pathname}${url.search}: ${error.name}: ${error.message}`;
    span.failed = true;
  }
  span.endMs = performance.now();
  spans.push(span);
  const took = (span.endMs - span.startMs).toFixed(0);
  console.log(`  ${String(fetched).padStart(3)}. ${took} ms  ${outcome}`);
}
const clock = readClock();
const thread = readThreadClock();
await target.close();

console.log(`\n${fetched} pages in ${(clock.wallMs / 1000).toFixed(2)} s`);
if (args.url === undefined) {
  // Only the fixture site's latency is known; a --url site's is whatever it is.
  const serial = ((fetched * args.latency) / 1000).toFixed(2);
  console.log(
    `${fetched} x ${args.latency} ms latency = ${serial} s: each page waited for the one before it`,
  );
}
console.log(`${cpuVersusWall(clock)}: blocked in recv, the process slept; it just slept in line`);
// The same as the scheduler counted it. On a busy machine CPU time falls short of wall time for
// any thread, as other programs get their turns; but the scheduler tells the time a thread waited
// for its turn (runnable) from the time it did not want a CPU at all (asleep). A blocking call
// puts the thread to sleep until the kernel has done its part: asleep nearly all of the wall
// time, a sleep or two a page. 1_bad_socket prints this line for a busy loop, hardly ever asleep.
console.log(`our thread, as the kernel's scheduler saw it: ${threadVersusWall(thread)}`);
if (typeof thread !== "string") {
  console.log(`  it slept in recv until each page came, where a busy loop would want a CPU`);
}
if (args.timeline) console.log(`\n${drawTimeline(spans)}`);

// The timeline as a picture (--svg names the file). The charting library is loaded only now,
// after the crawl: it takes about a second, and that is not the crawl's time.
console.log(
  await drawChart(args.svg, ({ timelineChart }) => timelineChart("0_blocking_socket", spans)),
);
