// 8_io_uring: its output against the snapshot; the claims behind its figures (io_uring makes
// fewer system calls per page, and fetches the same bytes as epoll and as a fetch of our own); a
// fetch past its deadline given up both ways; and, where io_uring is missing or refused, a lesson
// that says why and exits 0. The checks that need io_uring are reported as skipped where it is
// not available (skips.ts), never as passed.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ioUringUnavailable } from "@async-from-scratch/native";
import { charsetOf, linksOnHost, readHtml } from "@async-from-scratch/shared";
import { startSite } from "@async-from-scratch/shared/site";
import {
  type Mask,
  figure,
  matchSnapshot,
  root,
  runCommand,
  runLesson,
  runOnce,
  siteProcesses,
} from "./lessons.ts";
import { testOrSkip } from "./skips.ts";

const sitesBefore = siteProcesses();
const unavailable = ioUringUnavailable();
const withIoUring = testOrSkip(
  unavailable === null ? null : `io_uring is not available: ${unavailable}`,
);

const lesson = runOnce("8_io_uring");

// The figures that vary from run to run, besides times: how many waits and recvs it took (how the
// answers happened to arrive together), the totals that include them, and the digest (the pages
// hold the site's port).
const masks: Mask[] = [
  [/^( {2}digest of bodies +)[0-9a-f]{12} +[0-9a-f]{12}$/m, "$1<digest> <digest>"],
  [/^( {2}(?:recv|epoll_wait|io_uring_enter|all|per page) +)[\d.-]+ +[\d.-]+$/gm, "$1<n> <n>"],
  [/[\d.]+ (sockets ready per|requests completed per|times fewer)/g, "<n> $1"],
];

/** The two cells of the lesson's table row `label`: [epoll, io_uring]. */
function cells(stdout: string, label: string): [string, string] {
  const match = new RegExp(`^ {2}${label} +(\\S+) +(\\S+)$`, "m").exec(stdout);
  assert.ok(match, `no row '${label}' in:\n${stdout}`);
  return [match[1]!, match[2]!];
}

withIoUring("8_io_uring prints its snapshot", async () => {
  const { status, stdout, stderr } = await lesson();
  assert.is(status, 0, stderr);
  matchSnapshot("8_io_uring", stdout, masks);
});

withIoUring(
  "8_io_uring: io_uring makes fewer system calls per page, on the same pages",
  async () => {
    const { stdout } = await lesson();
    const [epollPages, uringPages] = cells(stdout, "pages fetched").map(Number);
    assert.ok(epollPages! > 100, `a crawl of many pages (${epollPages})`);
    assert.is(uringPages, epollPages);
    assert.equal(cells(stdout, "pages failed"), ["0", "0"]);
    const [epollDigest, uringDigest] = cells(stdout, "digest of bodies");
    assert.is(uringDigest, epollDigest);
    assert.match(
      stdout,
      new RegExp(`^the same ${epollPages} pages, byte for byte, both ways$`, "m"),
    );
    // The calls the ring took over are not made by the program at all.
    for (const call of ["connect", "send", "recv"]) assert.is(cells(stdout, call)[1], "-", call);
    const [epollPerPage, uringPerPage] = cells(stdout, "per page").map(Number);
    // Measured: 12-13 against 2.5-3.5 at 20 fetches at once; one fetch at a time still gives 2.5x.
    assert.ok(
      epollPerPage! >= 2 * uringPerPage!,
      `per page: epoll ${epollPerPage}, io_uring ${uringPerPage}`,
    );
    assert.ok(figure(stdout, /^io_uring made ([\d.]+) times fewer/m) >= 2);
  },
);

// The pages the lesson's own crawl would find, fetched one by one with Node's fetch: a digest made
// the lesson's way, from bytes that neither of its loops touched.
async function digestOfOurOwn(site: string): Promise<string> {
  const queue = [site];
  const seen = new Set(queue);
  const pages: { path: string; status: number; body: Uint8Array }[] = [];
  while (queue.length > 0) {
    const url = new URL(queue.shift()!);
    const response = await fetch(url, { redirect: "manual" });
    const body = new Uint8Array(await response.arrayBuffer());
    pages.push({ path: url.pathname + url.search, status: response.status, body });
    const type = response.headers.get("content-type") ?? "";
    const html = type.startsWith("text/html") ? body : new Uint8Array(0);
    for (const link of linksOnHost(
      readHtml(html, url.href, charsetOf(type)).page.links,
      url.host,
    )) {
      if (seen.has(link) || new URL(link).pathname.startsWith("/trouble/")) continue;
      seen.add(link);
      queue.push(link);
    }
  }
  const hash = createHash("sha256");
  for (const { path, status, body } of pages.sort((a, b) => (a.path < b.path ? -1 : 1))) {
    hash.update(`${path} ${status} ${body.length}\n`).update(body);
  }
  return hash.digest("hex").slice(0, 12);
}

withIoUring("8_io_uring: both ways fetch the bytes a fetch of our own gets", async () => {
  const site = await startSite({ articles: 10, latencyMs: 0 });
  try {
    const { status, stdout, stderr } = await runLesson("8_io_uring", ["--url", site.url]);
    assert.is(status, 0, stderr);
    const ours = await digestOfOurOwn(site.url);
    assert.equal(cells(stdout, "digest of bodies"), [ours, ours]);
  } finally {
    await site.stop();
  }
});

withIoUring("8_io_uring: a fetch past its deadline is given up both ways", async () => {
  // Every page but the first (?latency=0) takes 3 s; each fetch may take 300 ms. epoll's loop
  // simply stops waiting; io_uring's must cancel the recv in the kernel, or wait the 3 s.
  const site = await startSite({ articles: 3, latencyMs: 3000 });
  try {
    const began = performance.now();
    const { status, stdout, stderr } = await runLesson("8_io_uring", [
      "--url",
      `${site.url}?latency=0`,
      "--timeout",
      "300",
    ]);
    assert.is(status, 0, stderr);
    assert.equal(cells(stdout, "pages fetched"), ["1", "1"]);
    const [epollFailed, uringFailed] = cells(stdout, "pages failed").map(Number);
    assert.ok(epollFailed! > 3, `${epollFailed} pages given up`);
    assert.is(uringFailed, epollFailed);
    const lines = (engine: string) =>
      stdout
        .match(new RegExp(`^ {2}${engine} failed .*$`, "gm"))!
        .map((line) => line.slice(4 + engine.length));
    assert.equal(lines("io_uring"), lines("epoll"), "the same pages, for the same reason");
    assert.match(
      stdout,
      /^ {2}io_uring failed \/category\/\S+: fetch\(\/category\/\S+, after 300 ms\): Connection timed out \(ETIMEDOUT\)$/m,
    );
    const wallMs = figure(stdout, /^ {2}wall time +\d+ ms +(\d+) ms$/m);
    assert.ok(wallMs < 2500, `io_uring's crawl did not wait out the 3 s (${wallMs} ms)`);
    assert.ok(performance.now() - began < 30_000);
  } finally {
    await site.stop();
  }
});

withIoUring(
  "8_io_uring: a site that cannot be reached is one clear line and status 1",
  async () => {
    // A port that was free a moment ago: nothing listens there.
    const server = createServer().listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    server.close();
    const { status, stdout, stderr } = await runLesson("8_io_uring", [
      "--url",
      `http://127.0.0.1:${port}/`,
    ]);
    assert.is(status, 1);
    assert.match(stdout, /^crawling /);
    assert.is(
      stderr,
      `8_io_uring: ConnectionRefusedError: connect(127.0.0.1:${port}): Connection refused (ECONNREFUSED)\n`,
    );
  },
);

// Where io_uring is missing or refused, what the lesson does then is the thing to check: on such
// a machine, the lesson as it is; elsewhere, with strace making io_uring_setup fail as a seccomp
// filter (EPERM) or an old kernel (ENOSYS) would.
const refusedMessage =
  /^io_uring is not available here: [^\n]+\nso there is nothing to compare epoll with; the README shows a run where there is\n$/;
const straceWorks = spawnSync("strace", ["-o", "/dev/null", "true"]).status === 0;

testOrSkip(
  unavailable !== null || straceWorks ? null : "strace is not installed, or may not trace here",
)("8_io_uring where io_uring_setup fails: says why, starts no site, exits 0", async () => {
  if (unavailable !== null) {
    const { status, stdout, stderr } = await runLesson("8_io_uring");
    assert.is(status, 0, stderr);
    assert.match(stdout, refusedMessage);
    return;
  }
  const cases = [
    ["EPERM", /Operation not permitted \(EPERM\): io_uring is refused here, by a seccomp filter/],
    ["ENOSYS", /Function not implemented \(ENOSYS\): this kernel has no io_uring/],
  ] as const;
  // Side by side: nothing here is timed.
  const runs = await Promise.all(
    cases.map(([errno]) =>
      runCommand("strace", [
        "-f",
        "-o",
        "/dev/null",
        "-e",
        "trace=io_uring_setup",
        "-e",
        `inject=io_uring_setup:error=${errno}`,
        process.execPath,
        "--import",
        "tsx",
        `${root}/examples/8_io_uring/main.ts`,
      ]),
    ),
  );
  for (const [i, [, why]] of cases.entries()) {
    const { status, stdout, stderr } = runs[i]!;
    assert.is(status, 0, stderr);
    assert.match(stdout, refusedMessage);
    assert.match(stdout, why);
  }
});

test("8_io_uring: a wrong flag prints the usage and exits with status 2", async () => {
  const { status, stdout, stderr } = await runLesson("8_io_uring", ["--concurrency", "0"]);
  assert.is(status, 2);
  assert.is(stdout, "");
  assert.match(stderr, /^8_io_uring: --concurrency must be an integer from 1 to 1000, got '0'\n/);
  assert.match(
    stderr,
    /\n {2}--timeout +ms a fetch may take before it is cancelled \(default 15000\)\n/,
  );
});

test("no 8_io_uring run leaves a fixture site running", () => {
  assert.equal(siteProcesses(), sitesBefore);
});

test.run();
