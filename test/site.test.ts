// The fixture site (shared/site/): the same seed serves the same bytes, every article is reachable
// from the front page, each hard case misbehaves exactly as promised, latency delays only the
// response that asks for it, and no site process outlives stop() or its parent.
import { execFileSync, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { Agent, get as httpGet } from "node:http";
import type { IncomingHttpHeaders } from "node:http";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { startSite } from "@async-from-scratch/shared/site";
import type { RunningSite } from "@async-from-scratch/shared/site";
import { HANG_LIMIT_MS } from "./lessons.ts";
import { SocketReads } from "@async-from-scratch/shared/reads";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { linksOnHost, parsePage } from "../shared/html.ts";
import { HEADERS_TIMEOUT_MS, createSiteServer } from "../shared/site/server.ts";

// Most tests share one site with the default 200 articles; test.before fills in `site`.
const test = suite<{ site: RunningSite }>("site", { site: undefined! });
const ARTICLES = 200;
const HTML = "text/html; charset=utf-8";

test.before(async (context) => {
  context.site = await startSite({ articles: ARTICLES });
});

test.after(async ({ site }) => {
  await site.stop();
});

// --- Clients: node:http where a well-formed response is expected, raw bytes everywhere else.

interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Milliseconds from the request to the end of the body. */
  ms: number;
}

function get(url: string, headers: Record<string, string> = {}, agent?: Agent): Promise<Response> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    httpGet(url, { headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          ms: performance.now() - start,
        }),
      );
      res.on("error", reject);
    }).on("error", reject);
  });
}

interface Exchange {
  bytes: Buffer;
  /** Each piece as it was read, with the milliseconds since the request was sent. */
  pieces: { ms: number; bytes: Buffer }[];
  /** The socket error that ended the exchange ("ECONNRESET"), if any. */
  error?: string;
  /** The server closed its side cleanly (FIN). */
  ended: boolean;
}

/**
 * Sends `request` on a new connection and records everything until the connection closes. Read
 * one read at a time (SocketReads): with the socket's own 'data' and 'end', a reset that came
 * before the bytes ahead of it were read (this process ran late) could count as a clean close.
 */
async function exchange(port: number, request: string): Promise<Exchange> {
  const result: Exchange = { bytes: Buffer.alloc(0), pieces: [], ended: false };
  const start = performance.now();
  const reads = new SocketReads();
  const socket = reads.watch(connect({ port, host: "127.0.0.1", onread: reads.onread }));
  socket.write(request); // sent once connected
  try {
    for await (const bytes of reads) result.pieces.push({ ms: performance.now() - start, bytes });
    result.ended = true;
  } catch (error) {
    result.error = (error as NodeJS.ErrnoException).code;
  } finally {
    socket.destroy();
  }
  result.bytes = Buffer.concat(result.pieces.map((piece) => piece.bytes));
  return result;
}

function http10(path: string, host = "wiki.test"): string {
  return `GET ${path} HTTP/1.0\r\nHost: ${host}\r\n\r\n`;
}

function splitResponse(bytes: Buffer): { head: string; body: Buffer } {
  const end = bytes.indexOf("\r\n\r\n");
  assert.ok(end > 0, `no end of headers in ${JSON.stringify(bytes.toString().slice(0, 200))}`);
  return { head: bytes.subarray(0, end + 2).toString("latin1"), body: bytes.subarray(end + 4) };
}

const withoutDate = (bytes: Buffer) => bytes.toString("latin1").replace(/\r\nDate: [^\r]*/, "");
const hrefs = (html: string) =>
  [...html.matchAll(/href="([^"]*)"/g)].map((match) => match[1] ?? "");

// --- The wiki

test("the same seed serves the same bytes on any port; another seed, another wiki", async ({
  site,
}) => {
  const [same, other] = await Promise.all([
    startSite({ articles: ARTICLES }),
    startSite({ articles: ARTICLES, seed: 2 }),
  ]);
  try {
    assert.is.not(same.port, site.port);
    const index = (await exchange(site.port, http10("/"))).bytes;
    const article = hrefs(splitResponse(index).body.toString()).find((href) =>
      href.startsWith("wiki/"),
    );
    assert.ok(article, "the front page links an article");
    // The article's absolute links come from the Host header, so both requests send the same one.
    for (const path of ["/", `/${article}`]) {
      const first = (await exchange(site.port, http10(path))).bytes;
      const second = (await exchange(same.port, http10(path))).bytes;
      const another = (await exchange(other.port, http10(path))).bytes;
      assert.ok(first.length > 1000, path);
      assert.is(withoutDate(second), withoutDate(first), path);
      assert.is.not(withoutDate(another), withoutDate(first), path);
    }
  } finally {
    await Promise.all([same.stop(), other.stop()]);
  }
});

test("the front page: small, bilingual title, relative links only", async ({ site }) => {
  const response = await get(site.url);
  assert.is(response.status, 200);
  assert.is(response.headers["content-type"], HTML);
  assert.ok(response.body.length < 20_000, `${response.body.length} bytes`);
  const html = response.body.toString();
  assert.is(parsePage(html, site.url).title, "Mini-wiki — Мини-вики");
  for (const href of hrefs(html)) assert.ok(/^[a-z]/.test(href) && !href.includes(":"), href);
});

test("every article is reachable from /, and the site is finite", async ({ site }) => {
  // A small breadth-first crawl of the wiki itself; the hard cases have their own tests.
  const isWiki = (url: URL) =>
    url.pathname === "/" || /^\/(category|wiki|trouble)\//.test(url.pathname);
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const seen = new Set([site.url]);
  const queue = [site.url];
  try {
    while (queue.length > 0) {
      await Promise.all(
        queue.splice(0, 8).map(async (url) => {
          const response = await get(url, {}, agent);
          assert.is(response.status, 200, url);
          assert.is(response.headers["content-type"], HTML, url);
          const page = parsePage(response.body.toString(), url);
          assert.ok(page.title, `${url} has a title`);
          for (const link of linksOnHost(page.links, `127.0.0.1:${site.port}`)) {
            if (seen.has(link) || !isWiki(new URL(link))) continue;
            seen.add(link);
            queue.push(link);
          }
        }),
      );
      assert.ok(seen.size < 10 * ARTICLES, `still finding new pages after ${seen.size}`);
    }
  } finally {
    agent.destroy();
  }
  const urls = [...seen].map((url) => new URL(url));
  const articles = new Set(
    urls.filter((u) => u.pathname.startsWith("/wiki/")).map((u) => u.pathname),
  );
  assert.is(articles.size, ARTICLES);
  // "/", six categories and /trouble/, then each article with its two history pages: history
  // pages link nowhere new.
  assert.is(seen.size, 1 + 6 + 1 + 3 * ARTICLES);
  const histories = urls.filter((u) => u.searchParams.get("action") === "history");
  assert.is(histories.length, 2 * ARTICLES);
});

test("articles carry every kind of link a crawler meets", async ({ site }) => {
  const index = (await get(site.url)).body.toString();
  const featured = hrefs(index).filter((href) => href.startsWith("wiki/"));
  assert.ok(featured.length >= 5);
  const host = "wiki.test:1234";
  const pages = await Promise.all(featured.map((href) => get(site.url + href, { Host: host })));
  const html = pages.map((page) => page.body.toString()).join("\n");
  const all = hrefs(html);
  const kinds: [string, (href: string) => boolean][] = [
    ["bare relative", (h) => /^[a-z0-9-]+$/.test(h)],
    ["./x", (h) => h.startsWith("./")],
    ["../wiki/x", (h) => h.startsWith("../wiki/")],
    ["root-relative", (h) => h.startsWith("/wiki/") && !h.includes("#") && !h.includes("?")],
    ["absolute from Host", (h) => h.startsWith(`http://${host}/wiki/`)],
    ["with #fragment", (h) => /^\/wiki\/[a-z0-9-]+#/.test(h)],
    ["fragment only", (h) => h.startsWith("#")],
    ["query only", (h) => h === "?action=history"],
    ["entity in href", (h) => h.includes("?action=history&amp;oldid=")],
    ["other host", (h) => h.startsWith("http://example.org/")],
    ["https", (h) => h.startsWith("https://")],
    ["protocol-relative", (h) => h.startsWith("//")],
    ["mailto:", (h) => h.startsWith("mailto:")],
    ["javascript:", (h) => h.startsWith("javascript:")],
  ];
  for (const [kind, matches] of kinds) assert.ok(all.some(matches), `no ${kind} link`);
  assert.match(html, /<a title="[^"]*">/, "an <a> without href");
  assert.match(html, /<div lang="ru">\n<h2 id="russian">По-русски<\/h2>\n<p>[А-Яа-яЁё]/);
});

// --- The hard cases

test("/trouble/ links every hard case; its script and comment hold no links", async ({ site }) => {
  const response = await get(`${site.url}trouble/`);
  const links = parsePage(response.body.toString(), `${site.url}trouble/`).links;
  const paths = links.map((link) => new URL(link).pathname);
  const cases = [
    "/redirect/3",
    "/loop/a",
    "/files/report.pdf",
    "/files/data.json",
    "/huge",
    "/slow-body",
    "/reset",
    "/malformed",
    "/chunked",
    "/close-delimited",
    "/private/",
  ];
  for (const path of cases) assert.ok(paths.includes(path), `/trouble/ links ${path}`);
  assert.ok(hrefs(response.body.toString()).some((href) => href.startsWith("/trap/")));
  assert.not.ok(paths.some((path) => path.startsWith("/trap/")));
  const index = parsePage((await get(site.url)).body.toString(), site.url);
  assert.ok(index.links.includes(`${site.url}trouble/`), "the front page links /trouble/");
});

test("redirects: /redirect/3 → 2 → 1 → an article, with relative and absolute Locations", async ({
  site,
}) => {
  const locations: string[] = [];
  let url = `${site.url}redirect/3`;
  let response = await get(url);
  while (response.status === 302) {
    const location = response.headers.location ?? "";
    locations.push(location);
    url = new URL(location, url).href;
    response = await get(url);
  }
  assert.equal(locations.slice(0, 2), ["/redirect/2", `http://127.0.0.1:${site.port}/redirect/1`]);
  assert.match(locations[2] ?? "", /^\.\.\/wiki\/[a-z0-9-]+$/);
  assert.is(locations.length, 3);
  assert.is(response.status, 200);
  assert.match(url, new RegExp(`^${site.url}wiki/`));
});

test("a redirect loop: /loop/a → /loop/b → /loop/a", async ({ site }) => {
  const a = await get(`${site.url}loop/a`);
  const b = await get(`${site.url}loop/b`);
  assert.is(a.status, 302);
  assert.is(b.status, 302);
  assert.is(new URL(a.headers.location ?? "", `${site.url}loop/a`).href, `${site.url}loop/b`);
  assert.is(new URL(b.headers.location ?? "", `${site.url}loop/b`).href, `${site.url}loop/a`);
});

test("404 is an HTML page, for unknown paths and unknown articles alike", async ({ site }) => {
  for (const path of ["no-such-page", "wiki/no-such-article", "trap/in-script", "wiki/"]) {
    const response = await get(site.url + path);
    assert.is(response.status, 404, path);
    assert.is(response.headers["content-type"], HTML, path);
    assert.match(response.body.toString(), /<title>Not found/);
  }
});

test("non-HTML files: a PDF and JSON with their own Content-Types", async ({ site }) => {
  const pdf = await get(`${site.url}files/report.pdf`);
  assert.is(pdf.status, 200);
  assert.is(pdf.headers["content-type"], "application/pdf");
  assert.is(pdf.body.subarray(0, 5).toString(), "%PDF-");
  assert.ok(pdf.body.toString().endsWith("%%EOF\n"));
  const json = await get(`${site.url}files/data.json`);
  assert.is(json.headers["content-type"], "application/json");
  assert.is(JSON.parse(json.body.toString()).articles, ARTICLES);
});

test("/huge: 8 MiB of HTML with a Content-Length", async ({ site }) => {
  const response = await get(`${site.url}huge`);
  assert.is(response.status, 200);
  assert.is(response.headers["content-type"], HTML);
  assert.is(response.headers["content-length"], String(8 * 1024 * 1024));
  assert.is(response.body.length, 8 * 1024 * 1024);
  assert.ok(response.body.toString().trimEnd().endsWith("</html>"));
});

test("/slow-body: headers at once, then the body in pieces for about 2 s", async ({ site }) => {
  const { pieces, ended } = await exchange(site.port, http10("/slow-body", "h"));
  const { head, body } = splitResponse(Buffer.concat(pieces.map((piece) => piece.bytes)));
  const first = pieces[0];
  const last = pieces.at(-1);
  assert.ok(first && last && ended);
  assert.ok(first.ms < 1000, `headers after ${first.ms} ms`);
  assert.ok(last.ms > 1500, `body done after ${last.ms} ms`);
  assert.ok(pieces.length >= 10, `${pieces.length} pieces`);
  assert.match(head, new RegExp(`\r\nContent-Length: ${body.length}\r\n`));
  // The pieces are cut at byte offsets: decoding each on its own breaks Cyrillic letters.
  const decoder = new TextDecoder();
  const wholeText = decoder.decode(body);
  assert.not.match(wholeText, "\uFFFD");
  assert.match(wholeText, "часть 20 из 20");
  const pieceByPiece = pieces.slice(1).map((piece) => decoder.decode(piece.bytes));
  assert.ok(pieceByPiece.join("").includes("\uFFFD"), "some piece ends inside a letter");
});

test("/reset: Content-Length 2048, then 512 bytes, then a reset", async ({ site }) => {
  const { bytes, error, ended } = await exchange(site.port, http10("/reset"));
  const { head, body } = splitResponse(bytes);
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(head, /\r\nContent-Length: 2048\r\n/);
  assert.is(body.length, 512);
  assert.is(error, "ECONNRESET");
  assert.not.ok(ended, "a reset, not a clean close");
});

test("/malformed: the status line is HTTP/1.1 2OO OK, then the connection closes", async ({
  site,
}) => {
  const { bytes, ended } = await exchange(site.port, http10("/malformed"));
  const { head, body } = splitResponse(bytes);
  assert.ok(head.startsWith("HTTP/1.1 2OO OK\r\n"), head);
  assert.match(head, new RegExp(`\r\nContent-Length: ${body.length}\r\n`));
  assert.match(head, /\r\nConnection: close\r\n/);
  assert.ok(ended);
  // And node's own parser refuses it, as every HTTP client should.
  const refused = await get(`${site.url}malformed`).then(
    () => "accepted",
    (error: NodeJS.ErrnoException) => error.code,
  );
  assert.is(refused, "HPE_INVALID_STATUS");
});

test("/chunked: raw chunks sized 1a, ab and the rest, even to an HTTP/1.0 request", async ({
  site,
}) => {
  const { bytes, ended } = await exchange(site.port, http10("/chunked"));
  const { head, body } = splitResponse(bytes);
  assert.ok(head.startsWith("HTTP/1.1 200 OK\r\n"), head);
  assert.match(head, /\r\nTransfer-Encoding: chunked\r\n/);
  assert.match(head, /\r\nConnection: close\r\n/);
  assert.not.match(head, /Content-Length/i);
  assert.ok(ended);
  // Decode the chunks by hand: size line, data, CRLF, until a size of 0.
  const sizes: number[] = [];
  const data: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = body.indexOf("\r\n", offset);
    const size = Number.parseInt(body.subarray(offset, lineEnd).toString(), 16);
    sizes.push(size);
    offset = lineEnd + 2;
    if (size === 0) break;
    data.push(body.subarray(offset, offset + size));
    assert.is(body.subarray(offset + size, offset + size + 2).toString(), "\r\n");
    offset += size + 2;
  }
  assert.is(body.subarray(offset).toString(), "\r\n", "nothing after the last chunk");
  assert.equal(sizes.slice(0, 2), [0x1a, 0xab]);
  assert.is(sizes.length, 4);
  assert.match(body.toString(), /^1a\r\n/);
  assert.is(parsePage(Buffer.concat(data).toString(), "http://h/").title, "Chunked — По частям");
});

test("/close-delimited: no Content-Length, the body ends when the server closes", async ({
  site,
}) => {
  const { bytes, ended, error } = await exchange(site.port, http10("/close-delimited"));
  const { head, body } = splitResponse(bytes);
  assert.ok(head.startsWith("HTTP/1.1 200 OK\r\n"), head);
  assert.not.match(head, /Content-Length|Transfer-Encoding/i);
  assert.ok(ended && error === undefined);
  assert.ok(body.toString().endsWith("</html>\n"));
});

test("robots.txt disallows /private/, which exists", async ({ site }) => {
  const robots = await get(`${site.url}robots.txt`);
  assert.is(robots.headers["content-type"], "text/plain; charset=utf-8");
  assert.match(robots.body.toString(), /^User-agent: \*\nDisallow: \/private\/$/m);
  assert.is((await get(`${site.url}private/`)).status, 200);
});

// --- HTTP behaviour

test("HTTP/1.0 gets Connection: close, HTTP/1.1 keep-alive; no Host means 127.0.0.1", async ({
  site,
}) => {
  const old = await exchange(site.port, "GET /wiki/nothing HTTP/1.0\r\n\r\n");
  assert.match(splitResponse(old.bytes).head, /\r\nConnection: close\r\n/);
  assert.ok(old.ended);
  const modern = await get(site.url, { Connection: "keep-alive" });
  assert.is(modern.headers.connection, "keep-alive");
  const index = (await get(site.url)).body.toString();
  const article = hrefs(index).find((href) => href.startsWith("wiki/"));
  const hostless = await exchange(site.port, `GET /${article} HTTP/1.0\r\n\r\n`);
  const permanent = `<a href="http://127.0.0.1:${site.port}/${article}">Permanent link</a>`;
  assert.ok(hostless.bytes.toString().includes(permanent));
});

test("?latency=300 delays that response only; a concurrent plain one is fast", async ({ site }) => {
  const [slow, fast] = await Promise.all([get(`${site.url}?latency=300`), get(site.url)]);
  assert.is(slow.status, 200);
  assert.ok(slow.ms >= 250, `slow took ${slow.ms} ms`);
  // Relative, not absolute: on a busy machine both take longer, but the plain one never waits.
  assert.ok(fast.ms + 150 < slow.ms, `fast took ${fast.ms} ms, slow ${slow.ms} ms`);
  const bad = await get(`${site.url}?latency=soon`);
  assert.is(bad.status, 400);
  assert.match(bad.body.toString(), /latency must be a whole number of milliseconds, got "soon"/);
});

test("pipelined requests on one connection are answered in order, the raw ones too", async ({
  site,
}) => {
  const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: wiki.test\r\n\r\n`;
  // First a response through node:http that takes a while (it waits before it starts, or it is
  // still sending its body), then one written raw, which must neither jump ahead of it nor land
  // inside it.
  const cases = [
    ["/robots.txt?latency=300", "/chunked", "HTTP/1.1 200 OK"],
    ["/slow-body", "/malformed", "HTTP/1.1 2OO OK"],
    ["/?latency=200", "/close-delimited", "HTTP/1.1 200 OK"],
  ];
  for (const [first, raw, rawStatus] of cases) {
    const { bytes, ended } = await exchange(site.port, request(first!) + request(raw!));
    const { head, body } = splitResponse(bytes);
    assert.ok(head.startsWith("HTTP/1.1 200 OK\r\n"), `${first} came first: ${head}`);
    const length = Number(/\r\nContent-Length: (\d+)\r\n/.exec(head)?.[1]);
    const next = body.subarray(length).toString("latin1");
    assert.ok(
      next.startsWith(`${rawStatus}\r\n`),
      `after all ${length} bytes of ${first}: ${JSON.stringify(next.slice(0, 40))}`,
    );
    assert.ok(ended, "the raw response closes the connection, as its Connection: close says");
  }
});

test("a connection that never sends a byte gets a 408 and is closed after the headers timeout", async () => {
  assert.is(
    createSiteServer({ articles: 1, latencyMs: 0, seed: 1 }).headersTimeout,
    HEADERS_TIMEOUT_MS,
  );
  const timeoutMs = 300;
  const server = createSiteServer({
    articles: 3,
    latencyMs: 0,
    seed: 1,
    headersTimeoutMs: timeoutMs,
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const started = performance.now();
    const tooLate = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error("the idle connection is still open after 5 s")),
        5000,
      ).unref(),
    );
    const [idle, prompt] = await Promise.race([
      Promise.all([exchange(port, ""), exchange(port, http10("/robots.txt"))]),
      tooLate,
    ]);
    const elapsed = performance.now() - started;
    assert.ok(
      idle.bytes.toString().startsWith("HTTP/1.1 408 Request Timeout\r\n"),
      idle.bytes.toString(),
    );
    assert.ok(idle.ended);
    assert.ok(elapsed >= timeoutMs - 50, `closed after ${elapsed} ms, before the timeout`);
    assert.ok(
      prompt.bytes.toString().startsWith("HTTP/1.1 200 OK\r\n"),
      "a prompt client is served",
    );
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test("startSite({ latencyMs }) delays every response", async () => {
  const slow = await startSite({ articles: 5, latencyMs: 200 });
  try {
    const [index, missing] = await Promise.all([get(slow.url), get(`${slow.url}nothing`)]);
    assert.ok(index.ms >= 150, `index took ${index.ms} ms`);
    assert.ok(missing.ms >= 150, `404 took ${missing.ms} ms`);
    const fast = await get(`${slow.url}?latency=0`);
    assert.ok(fast.ms + 100 < index.ms, `?latency=0 took ${fast.ms} ms, index ${index.ms} ms`);
  } finally {
    await slow.stop();
  }
});

// --- The process

/** The pids of this process's children that run the site. */
function siteChildren(): number[] {
  try {
    const out = execFileSync("pgrep", ["-P", String(process.pid), "-f", "site/main.ts"]);
    return out.toString().trim().split("\n").map(Number);
  } catch {
    return []; // pgrep exits with 1 when nothing matches
  }
}

test("stop() ends the child process and frees the port", async () => {
  const before = siteChildren();
  const site = await startSite({ articles: 5 });
  assert.is(siteChildren().length, before.length + 1);
  await site.stop();
  assert.equal(siteChildren(), before);
  const refused = await exchange(site.port, http10("/"));
  assert.is(refused.error, "ECONNREFUSED");
  await site.stop(); // a second stop() is harmless
});

test("startSite() rejects, and says why, when the site exits before it is ready", async () => {
  const error = await startSite({ articles: 0 }).then(
    () => undefined,
    (error: Error) => error,
  );
  assert.match(
    error?.message ?? "not rejected",
    "fixture site exited (code 2) before it was ready: site: --articles must be an integer from 1 to 10000000, got '0'",
  );
});

const TSX = import.meta.resolve("tsx");
const MAIN = fileURLToPath(new URL("../shared/site/main.ts", import.meta.url));
// Only for a run that hangs: on a busy machine a start through tsx took over the 10 s this was.
const RUN_LIMIT_MS = HANG_LIMIT_MS;

interface Run {
  code: number | null;
  /** The signal that ended it, or "timed out". */
  signal: string | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs node with tsx's loader and `args`; resolves once it has ended and everything holding its
 * stdout and stderr has closed them (a fixture site it started holds its stderr). After 10 s it
 * is killed and the run "timed out": a test that hangs tells nothing.
 */
function runNode(args: string[], onStdout?: (text: string, child: ChildProcess) => void) {
  const child = spawn(process.execPath, ["--import", TSX, ...args], { stdio: "pipe" });
  const run: Run = { code: null, signal: null, stdout: "", stderr: "" };
  child.stdout.on("data", (data: Buffer) => {
    run.stdout += data.toString();
    onStdout?.(run.stdout, child);
  });
  child.stderr.on("data", (data: Buffer) => (run.stderr += data.toString()));
  return new Promise<Run>((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve({ ...run, signal: "timed out" });
    }, RUN_LIMIT_MS);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ ...run, code, signal });
    });
  });
}

test("main.ts: unknown flags and bad values exit with code 2 and the usage", async () => {
  const runs = await Promise.all([
    runNode([MAIN, "--prot", "8080"]),
    runNode([MAIN, "--port", "http"]),
    runNode([MAIN, "extra"]),
  ]);
  for (const { code, stdout, stderr } of runs) {
    assert.is(code, 2, stderr);
    assert.is(stdout, "");
    assert.match(stderr, "usage: pnpm run site [--port N] [--articles N] [--latency N] [--seed N]");
  }
  assert.match(runs[0]?.stderr ?? "", "--prot");
  assert.match(runs[1]?.stderr ?? "", "--port must be an integer from 0 to 65535, got 'http'");
});

test("main.ts: a leading --, one ready line, and it exits when its stdin closes", async () => {
  const args = [MAIN, "--", "--port", "0", "--articles", "7", "--latency", "3", "--seed", "9"];
  const { code, stdout } = await runNode(args, (text, child) => {
    if (text.endsWith("\n")) child.stdin?.end(); // as when the parent dies: the pipe closes
  });
  assert.match(
    stdout,
    /^Fixture site: http:\/\/127\.0\.0\.1:\d+\/ \(7 articles, latency 3 ms, busy port \d+\)\n$/,
  );
  assert.is(code, 0);
});

test("the site does not outlive a parent that exits without stop() or is killed", async () => {
  const index = new URL("../shared/site/index.ts", import.meta.url).href;
  const parent = (ending: string) =>
    `const { startSite } = await import(${JSON.stringify(index)});
     const site = await startSite({ articles: 3 });
     console.log(site.port);
     ${ending}`;
  const ports: number[] = [];
  const printPort = (text: string) => ports.push(Number(text));
  const [exited, killed] = await Promise.all([
    runNode(["--input-type=module", "-e", parent("process.exit(0);")], printPort),
    runNode(
      ["--input-type=module", "-e", parent("setInterval(() => {}, 1000);")],
      (text, child) => {
        printPort(text);
        child.kill("SIGKILL"); // no 'exit' event, no cleanup: only the closed pipe tells the site
      },
    ),
  ]);
  // Each run ends when the site, which shares the parent's stderr, has gone too.
  assert.is(exited.code, 0, exited.stderr);
  assert.is(killed.signal, "SIGKILL", killed.stderr);
  assert.is(ports.length, 2);
  for (const port of ports) assert.is((await exchange(port, http10("/"))).error, "ECONNREFUSED");
});

test.run();
