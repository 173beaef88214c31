// The crawler as a person and a script meet it when something is wrong: an --out or --svg where
// nothing can be written, a crawl that reads no page, --resume with the --url of another crawl,
// Ctrl-C typed in a terminal. Each says so in one line, with a status a script can test, and
// never hangs.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Index } from "@async-from-scratch/shared/search";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { root, runLesson, siteProcesses, type Run } from "./lessons.ts";

const test = suite("crawler-cli");
const scratchDir = mkdtempSync(join(tmpdir(), "crawler-cli-test-"));
const outDir = (name: string) => join(scratchDir, name);
const crawl = (name: string, args: string[]) =>
  runLesson("crawler", ["--out", outDir(name), "--svg", "none", ...args]);

// A site of two pages and a 404, on a free port, for the tests that need a site that answers.
const site = createServer((request, response) => {
  if (request.url === "/robots.txt" || request.url === "/gone") {
    return response.writeHead(404).end();
  }
  // As most http:// sites now answer: the same page on https:, which this crawler cannot fetch.
  if (request.url === "/to-https") {
    return response.writeHead(301, { location: `https://${request.headers.host}/` }).end();
  }
  response.setHeader("content-type", "text/html; charset=utf-8");
  if (request.url === "/") return response.end('<title>Home</title><a href="/about">about</a>');
  response.end("<title>About</title><p>The second page.</p>");
});
const listening = (server: Server) =>
  new Promise<string>((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    }),
  );
const siteUrl = listening(site);

/** A port nothing listens on: one the kernel gave a server, which then closed it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await listening(server);
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test("--out where no folder can be made: one line and status 1, at once, not a hang", async () => {
  const file = join(scratchDir, "a-file");
  writeFileSync(file, "");
  // Under /proc, mkdir says ENOENT for any name, which mkdirSync's recursive option took for a
  // missing parent, and tried again, for ever; under a file, ENOTDIR.
  const [proc, underFile] = await Promise.all(
    ["/proc/no-such-dir/index", join(file, "index")].map((out) =>
      runLesson("crawler", ["--out", out, "--svg", "none", "--url", "http://127.0.0.1:9/"]),
    ),
  );
  for (const run of [proc!, underFile!]) {
    assert.is(run.status, 1, run.stderr);
    assert.is(run.stdout, "");
    assert.match(run.stderr, /^crawler: --out \S+: cannot write the index there: E[A-Z]+: /);
    assert.is(run.stderr.split("\n").length, 2, "one line, no stack");
  }
});

test("--svg where no file can be written: one line, status 1, and the crawl's index kept", async () => {
  const file = join(scratchDir, "not-a-dir");
  writeFileSync(file, "");
  const svg = join(file, "chart.svg");
  const out = outDir("svg");
  const run = await runLesson("crawler", ["--out", out, "--svg", svg, "--url", await siteUrl]);
  assert.is(run.status, 1, run.stderr);
  assert.match(run.stdout, /^ {2}indexed +2$/m, "the report is printed");
  assert.match(run.stdout, /\nchart: not drawn \(see the error\)\n$/);
  assert.is(
    run.stderr,
    `crawler: --svg ${svg}: cannot write the chart there: ENOTDIR: not a directory\n`,
  );
  assert.ok(existsSync(join(out, "index.json")), "the index is written");
});

test("a crawl that reads no page fails: status 1, and a line that says where to look", async () => {
  const [refused, notFound] = await Promise.all([
    closedPort().then((port) => crawl("refused", ["--url", `http://127.0.0.1:${port}/`])),
    siteUrl.then((url) => crawl("not-found", ["--url", `${url}gone`])),
  ]);
  for (const [run, reason] of [
    [refused!, "connection refused"],
    [notFound!, "HTTP 404 Not Found"],
  ] as [Run, string][]) {
    assert.is(run.status, 1, run.stderr);
    assert.match(run.stdout, new RegExp(`^ {2}1 x [^\\n]*${reason}`, "m"), "the report says why");
    assert.is(
      run.stderr,
      `crawler: no page could be read: 1 URL ended in an error (the report's "Errors:" says which)\n`,
    );
  }
  // A crawl that read a page and met errors too did its work: status 0.
  const some = await crawl("some", ["--url", await siteUrl, "--url", `${await siteUrl}gone`]);
  assert.is(some.status, 0, some.stderr);
  assert.is(some.stderr, "");
});

test("a crawl of two hosts names each URL in full; of one host, by its path", async () => {
  const other = createServer((request, response) => response.writeHead(404).end());
  const otherUrl = await listening(other);
  try {
    const both = await crawl("two-hosts", ["--url", await siteUrl, "--url", `${otherUrl}gone`]);
    assert.is(both.status, 0, both.stderr);
    // Both sites have a /gone, and a /gone alone would not say which.
    assert.match(both.stdout, `1 x HTTP 404 Not Found: ${otherUrl}gone\n`);
    assert.match(both.stdout, new RegExp(`^ +\\S+ m?s  ${await siteUrl}`, "m"), "slowest, in full");
    const one = await crawl("one-host", ["--url", await siteUrl, "--url", `${await siteUrl}gone`]);
    assert.match(one.stdout, "1 x HTTP 404 Not Found: /gone\n");
  } finally {
    await new Promise((resolve) => other.close(resolve));
  }
});

test("a robots.txt that never comes: the report counts its tries as requests for robots.txt", async () => {
  // A server that takes the connection and never answers: each try of robots.txt is a request
  // sent, and the report's requests add up to them ("2 requests (robots.txt 0, retries 0)" before).
  const silent = createServer(() => {});
  const url = await listening(silent);
  try {
    const run = await crawl("silent", ["--url", url, "--timeout", "300", "--retries", "1"]);
    assert.is(run.status, 1, run.stderr);
    assert.match(run.stdout, /^ {2}1 x robots\.txt: no answer within 300 ms: \/$/m);
    assert.match(
      run.stdout,
      /^This run: 2 requests \(robots\.txt 2, retries 0\) on 2 connections/m,
    );
  } finally {
    silent.closeAllConnections();
    await new Promise((resolve) => silent.close(resolve));
  }
  // A port nothing listens on: no request leaves, however often it is tried.
  const refused = await crawl("refused-requests", [
    "--url",
    `http://127.0.0.1:${await closedPort()}/`,
  ]);
  assert.match(
    refused.stdout,
    /^This run: 0 requests \(robots\.txt 0, retries 0\) on 0 connections/m,
  );
});

test("a crawl that reads no page leaves the index and the saved crawl in --out as they were", async () => {
  const out = outDir("kept");
  const first = await crawl("kept", ["--url", await siteUrl, "--max-pages", "1"]);
  assert.is(first.status, 0, first.stderr);
  const saved = readFileSync(join(out, "crawl", "state.json"), "utf8");
  // A mistyped --url, or a server that is down, into the same --out.
  const typo = await crawl("kept", ["--url", `http://127.0.0.1:${await closedPort()}/`]);
  assert.is(typo.status, 1, typo.stderr);
  assert.match(typo.stdout, /^Index: left as it was in \S+kept: no page was read$/m);
  assert.not.ok(existsSync(join(out, "parts")), "no parts left behind");
  const index = Index.open(out);
  try {
    assert.is(index.pages, 1);
    assert.is(index.search("home").total, 1);
  } finally {
    index.close();
  }
  assert.is(readFileSync(join(out, "crawl", "state.json"), "utf8"), saved);
  // No error, but no page either: the site is on https: now.
  const https = await crawl("kept", ["--url", `${await siteUrl}to-https`]);
  assert.is(https.status, 1, https.stderr);
  assert.match(
    https.stderr,
    /^crawler: no page could be read: 1 redirected, 1 excluded \(the crawl log, \S+, says where each went\)\n$/,
  );
  assert.match(https.stdout, /^Index: left as it was in \S+kept: no page was read$/m);
  assert.is(readFileSync(join(out, "crawl", "state.json"), "utf8"), saved);
  const resumed = await crawl("kept", ["--resume"]);
  assert.is(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /^ {2}indexed +2$/m, "the first crawl goes on");
});

test("--resume with the --url of another crawl is refused; the same --url is fine", async () => {
  const url = await siteUrl;
  // Given twice, a start URL is one URL of the crawl, and named once.
  const first = await crawl("resume", ["--url", url, "--url", url, "--max-pages", "1"]);
  assert.is(first.status, 0, first.stderr);
  assert.match(first.stdout, new RegExp(`^Crawled ${url} with the scratch engine`));
  assert.match(first.stdout, /--resume goes on/);
  const other = `http://127.0.0.1:${await closedPort()}/`;
  const refused = await crawl("resume", ["--resume", "--url", other]);
  assert.is(refused.status, 2, refused.stderr);
  assert.is(refused.stdout, "");
  assert.match(
    refused.stderr,
    new RegExp(
      `^crawler: --resume goes on with the crawl saved in \\S+, which started from ${url}, ` +
        `not ${other}: leave --url out to go on with it, or start a new crawl without --resume`,
    ),
  );
  const same = await crawl("resume", ["--resume", "--url", url]);
  assert.is(same.status, 0, same.stderr);
  assert.match(same.stdout, /^ {2}indexed +2$/m);
});

test("Ctrl-C in a terminal reaches the crawler, not the fixture site: the requests under way finish", async () => {
  // A terminal sends SIGINT to its whole foreground process group: the crawler and the fixture
  // site it started. The site used to stop at once, so the requests under way failed, and were
  // counted as retries and as "sent again on a new connection".
  const main = join(root, "examples", "crawler", "main.ts");
  const args = ["--out", outDir("group"), "--svg", "none", "--latency", "300"];
  const child = spawn(process.execPath, ["--import", "tsx", main, ...args], {
    cwd: root,
    detached: true, // a process group of its own, as a shell gives a command
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const status = new Promise<number | null>((resolve) => child.on("close", resolve));
  // Once requests are under way: the crawl log's first lines are written a second in.
  const log = join(outDir("group"), "crawl-log.jsonl");
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !(existsSync(log) && readFileSync(log, "utf8").length > 0)) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  process.kill(-child.pid!, "SIGINT");
  assert.is(await status, 130, stderr);
  assert.match(stderr, /SIGINT: stopping after the [1-9]\d* requests? under way/);
  assert.match(stdout, /^This run: \d+ requests \(robots\.txt 1, retries 0\) on \d+ connections/m);
  assert.not.match(stdout, /sent again/);
  assert.match(stdout, /^ {2}error +0$/m);
});

test("an --exclude that is not a regular expression says how to write one", async () => {
  const run = await runLesson("crawler", ["--exclude", "?id="]);
  assert.is(run.status, 2, run.stderr);
  assert.is(
    run.stderr,
    "crawler: --exclude: Invalid regular expression: /?id=/: Nothing to repeat; a character " +
      "that means something in a pattern (. ? * + ( ) [ { | ^ $) stands for itself after a " +
      "backslash, as in '\\?'\n",
  );
});

test.after(async () => {
  site.closeAllConnections();
  await new Promise((resolve) => site.close(resolve));
  rmSync(scratchDir, { recursive: true, force: true });
  assert.equal(siteProcesses(), [], "no fixture site left running");
});

test.run();
