// The crawler's pieces without a network: link normalisation (every spelling of a page becomes
// one string), the site a URL belongs to, decompression and its limits, reading a page in any
// charset, Retry-After, the reasons errors are reported with, and the stores saved and loaded.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { Worker } from "node:worker_threads";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  Crawler,
  locationOf,
  retryAfter,
  robotsTag,
  type CrawlOptions,
} from "../examples/crawler/crawler.ts";
import {
  bodyDigest,
  decodeContent,
  extractMimeType,
  readPage,
  type Cut,
  type PageInput,
} from "../examples/crawler/page.ts";
import { Tally, isTransient, reasonOf, type Entry } from "../examples/crawler/report.ts";
import { MemoryFrontier, MemorySeenSet, loadCrawl, saveCrawl } from "../examples/crawler/stores.ts";
import { createEngine } from "../examples/crawler/engine.ts";
import type { Fetched, Fetcher } from "../examples/crawler/fetcher.ts";
import { openReaders, worthAnotherThread, type PageReaders } from "../examples/crawler/readers.ts";
import { StartScope, hostOf, normalizeUrl, siteOf, siteOfHost } from "../examples/crawler/urls.ts";
import { handlers } from "../examples/crawler/tasks.ts";
import { encode } from "../shared/site/wild.ts";
import { SharedHashSet64 } from "../shared/search/bytes.ts";
import { Index, IndexWriter } from "../shared/search/index.ts";

const test = suite("crawler-units");
const PAGE = "http://example.org/wiki/page?x=1";
const norm = (href: string, base: string = PAGE) => normalizeUrl(href, base);

test("normalizeUrl: relative references, <base>-style bases, dot segments", () => {
  assert.is(norm("other"), "http://example.org/wiki/other");
  assert.is(norm("./other"), "http://example.org/wiki/other");
  assert.is(norm("../a/./b/../c"), "http://example.org/a/c");
  assert.is(norm("/../../up"), "http://example.org/up");
  assert.is(norm("?y=2"), "http://example.org/wiki/page?y=2");
  assert.is(norm(""), "http://example.org/wiki/page?x=1");
  assert.is(norm("//mirror.example/p"), "http://mirror.example/p");
  assert.is(norm("page", "http://example.org/base/dir/"), "http://example.org/base/dir/page");
  assert.is(norm("  \n/spaced\t "), "http://example.org/spaced", "whitespace in href");
  assert.is(norm("\\wiki\\back"), "http://example.org/wiki/back", "backslashes, as browsers");
});

test("normalizeUrl: fragments, default ports, case, credentials, empty queries", () => {
  assert.is(norm("/p#section"), "http://example.org/p");
  assert.is(norm("#top"), "http://example.org/wiki/page?x=1");
  assert.is(norm("HTTP://Example.ORG:80/Path"), "http://example.org/Path", "the path keeps case");
  assert.is(norm("https://example.org:443/"), "https://example.org/");
  assert.is(norm("http://example.org:8080/"), "http://example.org:8080/");
  assert.is(norm("http://user:secret@example.org/p"), "http://example.org/p");
  assert.is(norm("/p?"), "http://example.org/p");
  assert.is(norm("/p?a=1&b=2"), "http://example.org/p?a=1&b=2");
  assert.is(norm("/p?b=2&a=1"), "http://example.org/p?b=2&a=1", "query order is the site's");
});

test("normalizeUrl: duplicate slashes become one", () => {
  assert.is(norm("/wild//double//slashes"), "http://example.org/wild/double/slashes");
  assert.is(norm("a///b"), "http://example.org/wiki/a/b");
  assert.is(norm("/p?next=//x"), "http://example.org/p?next=//x", "not in the query");
});

test("normalizeUrl: percent-encoding, in upper case, unreserved characters unescaped", () => {
  assert.is(norm("/%7euser/%41%42"), "http://example.org/~user/AB");
  assert.is(norm("/a%2fb"), "http://example.org/a%2Fb", "a reserved character stays escaped");
  assert.is(norm("/a%2Fb"), "http://example.org/a%2Fb");
  assert.is(norm("/q?x=%e2%82%ac&y=%7E"), "http://example.org/q?x=%E2%82%AC&y=~");
  assert.is(norm("/100%.html"), "http://example.org/100%25.html", "a bare %, as wget sends it");
  assert.is(norm("/bad%zzescape?off=50%"), "http://example.org/bad%25zzescape?off=50%25");
  assert.is(norm("/100%25.html"), "http://example.org/100%25.html");
  assert.is(norm("/a b"), "http://example.org/a%20b");
});

test("normalizeUrl: non-ASCII paths and hosts, as real wikis link them", () => {
  const raw = norm("/wiki/Сокет");
  assert.is(raw, "http://example.org/wiki/%D0%A1%D0%BE%D0%BA%D0%B5%D1%82");
  assert.is(norm("/wiki/%d0%a1%d0%be%d0%ba%d0%b5%d1%82"), raw, "lower-case escapes");
  assert.is(norm("/wiki/%D0%A1%D0%BE%D0%BA%D0%B5%D1%82"), raw);
  assert.is(norm("/wiki/Со%D0%BA%d0%b5т"), raw, "mixed");
  assert.is(norm("http://пример.рф/"), "http://xn--e1afmkfd.xn--p1ai/");
  assert.is(norm("/?q=сокет"), "http://example.org/?q=%D1%81%D0%BE%D0%BA%D0%B5%D1%82");
});

test("normalizeUrl: what is not a page to crawl is null", () => {
  for (const href of ["mailto:a@b.c", "javascript:void(0)", "ftp://h/f", "data:text/html,x"]) {
    assert.is(norm(href), null, href);
  }
  assert.is(normalizeUrl("relative/without/base"), null);
  assert.is(norm("http://[oops/"), null);
  assert.is(norm("http:///nohost"), "http://nohost/", "the URL parser's own recovery");
});

test("normalizeUrl: idempotent on its own output", () => {
  for (const href of [
    "/wiki/Сокет",
    "/%7e/a%2fb?q=%e2%82%ac#f",
    "//x.org//a//b?",
    "../x/./y",
    "/1%",
  ]) {
    const once = norm(href)!;
    assert.is(normalizeUrl(once), once, href);
  }
});

test("siteOf: www. and default ports are the same site, other ports are not", () => {
  assert.is(siteOf("http://www.example.org/"), "example.org");
  assert.is(siteOf("http://example.org:80/a"), "example.org");
  assert.is(siteOf("https://www.example.org:443/"), "example.org");
  assert.is(siteOf("http://example.org:8080/"), "example.org:8080");
  assert.is(siteOf("http://WWW.Example.org/"), "example.org");
  assert.is(siteOf("http://wwwx.example.org/"), "wwwx.example.org");
  assert.is(siteOf("http://127.0.0.1:8080/wiki/x"), "127.0.0.1:8080");
});

test("hostOf: the host of a normalized URL, as new URL() says it, and its site", () => {
  const urls = [
    "http://www.example.org/",
    "http://example.org:80/a",
    "https://www.example.org:443/x?y=/z",
    "http://example.org:8080/a//b",
    "http://user:secret@Example.org/a",
    "http://[::1]:8080/wiki/x",
    "http://127.0.0.1:8080/wiki/Сокет?q=a/b#top",
  ].map((url) => normalizeUrl(url)!);
  for (const url of urls) {
    assert.is(hostOf(url), new URL(url).host, url);
    assert.is(siteOfHost(hostOf(url)), siteOf(url), url);
  }
});

test("decodeContent: gzip, deflate with and without its zlib header, lists, limits", () => {
  const text = Buffer.from("<p>Привет</p>".repeat(100));
  assert.equal(Buffer.from(decodeContent(gzipSync(text), "gzip", 1 << 20)), text);
  assert.equal(Buffer.from(decodeContent(gzipSync(text), "x-gzip", 1 << 20)), text);
  assert.equal(Buffer.from(decodeContent(deflateSync(text), "deflate", 1 << 20)), text);
  assert.equal(Buffer.from(decodeContent(deflateRawSync(text), "deflate", 1 << 20)), text);
  assert.equal(Buffer.from(decodeContent(text, undefined, 1 << 20)), text);
  assert.equal(Buffer.from(decodeContent(text, "identity", 1 << 20)), text);
  const twice = gzipSync(deflateSync(text));
  assert.equal(Buffer.from(decodeContent(twice, "deflate, gzip", 1 << 20)), text);
  // A bomb: 10 MiB of zeros in 10 KiB of gzip stops at the limit, not at 10 MiB.
  const bomb = gzipSync(Buffer.alloc(10 << 20));
  assert.throws(() => decodeContent(bomb, "gzip", 1 << 20), /exceeds 1048576 bytes once/);
  assert.throws(() => decodeContent(text, "gzip", 1 << 20), /bad gzip body/);
  assert.throws(() => decodeContent(text, "compress", 1 << 20), /unknown Content-Encoding/);
  for (const coding of ["gzip", "deflate", "br", "deflate, gzip"]) {
    assert.is(decodeContent(new Uint8Array(0), coding, 1 << 20).length, 0, `empty, ${coding}`);
  }
});

test("decodeContent: gzip sized by its trailer, which a server may get wrong", () => {
  const text = Buffer.from("<p>Привет</p>".repeat(5000)); // 85 KB, more than one 16 KiB piece
  // Two gzip members one after the other are one body (RFC 1952), and the trailer at the end
  // gives only the second one's size: the first is decoded in full all the same.
  const members = Buffer.concat([gzipSync(text), gzipSync(Buffer.from("tail"))]);
  assert.equal(
    Buffer.from(decodeContent(members, "gzip", 1 << 20)),
    Buffer.concat([text, Buffer.from("tail")]),
  );
  // A trailer that lies, either way, is a bad body (zlib checks it), not a huge allocation.
  for (const size of [0, 100, 0xffffffff]) {
    const lying = gzipSync(text);
    lying.writeUInt32LE(size, lying.length - 4);
    assert.throws(() => decodeContent(lying, "gzip", 1 << 20), /bad gzip body/);
  }
  // Past the limit, whatever the trailer says.
  assert.throws(() => decodeContent(gzipSync(text), "gzip", 50_000), /exceeds 50000 bytes once/);
  assert.equal(Buffer.from(decodeContent(gzipSync(Buffer.alloc(0)), "gzip", 1 << 20)).length, 0);
});

test("decodeContent: a stream cut short gives what decoded, and says so; nothing decoded is an error", () => {
  const text = Buffer.from(`<title>Cut</title><p>${"Съешь же ещё этих булок. ".repeat(2000)}`);
  for (const [coding, compress] of [
    ["gzip", gzipSync],
    ["deflate", deflateSync],
    ["deflate", deflateRawSync],
  ] as const) {
    const whole = compress(text);
    const half = whole.subarray(0, whole.length >> 1);
    const cut: Cut = { coding: undefined };
    const start = Buffer.from(decodeContent(half, coding, 1 << 20, cut));
    assert.is(cut.coding, coding);
    assert.ok(start.length > 1000 && start.length < text.length, `${coding}: ${start.length}`);
    assert.equal(start, text.subarray(0, start.length), "the start of the page, as it was");
    // Whole, it says nothing; without a Cut to say it in, a cut stream is an error as before.
    const whole2: Cut = { coding: undefined };
    decodeContent(whole, coding, 1 << 20, whole2);
    assert.is(whole2.coding, undefined);
    assert.throws(() => decodeContent(half, coding, 1 << 20), /bad \w+ body: unexpected end/);
    // Cut inside its header, nothing decodes: an error all the same. Damaged is not cut.
    const empty = { coding: undefined };
    assert.throws(() => decodeContent(whole.subarray(0, 2), coding, 1 << 20, empty), /bad/);
    const damaged = Buffer.concat([whole.subarray(0, 20), Buffer.alloc(20, 0xff)]);
    assert.throws(() => decodeContent(damaged, coding, 1 << 20, empty), /bad \w+ body/);
  }
  // The limit holds for what a cut stream decodes to.
  const bomb = gzipSync(Buffer.alloc(10 << 20));
  assert.throws(
    () => decodeContent(bomb.subarray(0, -100), "gzip", 1 << 20, { coding: undefined }),
    /exceeds 1048576 bytes once/,
  );
  // readPage reads the start, and says why it has only that.
  const page = readPage({
    url: "http://h/",
    body: gzipSync(text).subarray(0, -100),
    contentType: "text/html",
    contentEncoding: "gzip",
    maxBytes: 1 << 20,
  })!;
  assert.is(page.title, "Cut");
  assert.ok(page.text.startsWith("Съешь же ещё этих булок."), page.text.slice(0, 50));
  assert.is(page.partial, "gzip body cut short");
});

test("readPage: charset from header, <meta> or BOM; links normalized; gzip undone", () => {
  const html = (head: string) =>
    `<html><head>${head}<title>Заголовок</title></head><body><p>Съешь ещё` +
    `<a href="a//b#x">1</a><a href="/wiki/Сокет">2</a><a href="A%2fB">3</a><a href="a/b">4</a>`;
  const base = { url: "http://h/dir/", contentEncoding: undefined, maxBytes: 1 << 20 };
  const cases = [
    { body: encode(html(""), "windows-1251"), type: "text/html; charset=windows-1251" },
    { body: encode(html('<meta charset="koi8-r">'), "koi8-r"), type: "text/html" },
    { body: Buffer.from(`\uFEFF${html("")}`), type: "text/html; charset=koi8-r" },
  ];
  for (const { body, type } of cases) {
    const page = readPage({ ...base, body, contentType: type })!;
    assert.is(page.title, "Заголовок", type);
    assert.ok(page.text.startsWith("Съешь ещё"), page.text);
    assert.equal(page.links, [
      "http://h/dir/a/b",
      "http://h/wiki/%D0%A1%D0%BE%D0%BA%D0%B5%D1%82",
      "http://h/dir/A%2FB",
    ]);
  }
  const gzipped = readPage({
    ...base,
    body: gzipSync(Buffer.from(html(""))),
    contentType: "text/html",
    contentEncoding: "gzip",
  })!;
  const plain = readPage({ ...base, body: Buffer.from(html("")), contentType: "text/html" })!;
  assert.equal(gzipped, plain, "gzip undone");
  assert.is(gzipped.charset, "utf-8 from default");
  // A query is in the page's charset, as a browser sends it (the path in UTF-8, above).
  const query = (body: Uint8Array, contentType: string) =>
    readPage({ ...base, body, contentType })!.links[0];
  const search = '<a href="/search?q=ёж">ёж</a>';
  const cp1251 = "text/html; charset=windows-1251";
  assert.is(query(encode(search, "windows-1251"), cp1251), "http://h/search?q=%B8%E6");
  assert.is(
    query(encode(search, "koi8-r"), "text/html; charset=koi8-r"),
    "http://h/search?q=%A3%D6",
  );
  assert.is(query(Buffer.from(search), "text/html"), "http://h/search?q=%D1%91%D0%B6");
});

test("readPage: a body without a type is HTML only if it begins as HTML does", () => {
  const read = (text: string, contentType?: string, contentEncoding?: string) =>
    readPage({
      url: "http://h/",
      body: contentEncoding === "gzip" ? gzipSync(text) : Buffer.from(text),
      contentType,
      contentEncoding,
      maxBytes: 1 << 20,
    })?.title ?? null;
  for (const html of ["<!DOCTYPE html><title>t</title>", " \r\n<HTML><title>t</title>", "<p>x"]) {
    assert.is.not(read(html), null, html);
    assert.is.not(read(html, ""), null, `${html}, Content-Type: ""`);
    assert.is.not(read(html, "nonsense"), null, `${html}, a type that names none`);
    assert.is.not(read(html, undefined, "gzip"), null, `${html}, gzipped`);
  }
  assert.is(read("\uFEFF<html><title>t</title>"), "t", "a UTF-8 BOM");
  for (const other of ["%PDF-1.4", '{"title": "<p>"}', "plain text, <p> later", "<pre>", ""]) {
    assert.is(read(other), null, other);
    assert.is.not(read(other, "text/html"), null, `${other} said to be HTML is read as HTML`);
  }
});

test("readPage: a refresh within 5 s is a redirect, but not to the page itself spelled otherwise", () => {
  const redirect = (url: string, content: string) =>
    readPage({
      url,
      body: Buffer.from(`<meta http-equiv="refresh" content="${content}"><p>Live.`),
      contentType: "text/html",
      contentEncoding: undefined,
      maxBytes: 1 << 20,
    })!.redirect;
  assert.is(redirect("http://h/~u/live", "0; url=/~u/new"), "http://h/~u/new");
  assert.is(redirect("http://h/~u/live", "60; url=/~u/new"), null, "later: only a link");
  for (const self of ["/%7Eu/live", "/~u//live", "/~u/live?", "http://H:80/~u/live#top"]) {
    assert.is(redirect("http://h/~u/live", `5; url=${self}`), null, self);
  }
});

test("readPage: a <base href> that is not http(s) (javascript:, data:) leaves the page's URL", () => {
  const base = { url: "http://h/dir/page", contentEncoding: undefined, maxBytes: 1 << 20 };
  for (const href of ["javascript:void(0)", "data:text/html,x", "mailto:a@b", "http://[oops"]) {
    const html = `<base href="${href}"><a href="next">n</a><a href="/top">t</a>`;
    for (const charset of ["utf-8", "windows-1251"]) {
      const type = `text/html; charset=${charset}`;
      const page = readPage({ ...base, body: Buffer.from(html), contentType: type })!;
      assert.equal(page.links, ["http://h/dir/next", "http://h/top"], `${href} ${charset}`);
    }
  }
  const body = Buffer.from('<base href="../other/"><a href="next">n</a>');
  const relative = readPage({ ...base, body, contentType: "text/html" })!;
  assert.equal(relative.links, ["http://h/other/next"], "a relative one still counts");
});

test("extractMimeType: a Content-Type sent twice is the last valid type, as in the Fetch spec", () => {
  const type = (value: string | undefined) => extractMimeType(value);
  const html = (charset?: string) => ({ essence: "text/html", charset });
  assert.equal(type("text/html, text/html"), html());
  assert.equal(type("Text/HTML ; Charset=windows-1251"), html("windows-1251"));
  assert.equal(type("text/plain, text/html"), html());
  assert.equal(type("text/html, */*"), html(), "the wildcard is skipped");
  assert.equal(type("text/html;charset=koi8-r, text/html"), html("koi8-r"), "charset kept");
  assert.equal(type("text/html;charset=koi8-r, text/plain, text/html"), html(), "not across types");
  assert.equal(type("text/html; charset=koi8-r, text/html; charset=utf-8"), html("utf-8"));
  assert.equal(type('text/html; x="a, b"; charset="koi8-r"'), html("koi8-r"), "quoted comma");
  assert.equal(type("text/html; charset=; charset=utf-8"), html("utf-8"), "an empty one skipped");
  assert.equal(type("text/html, nonsense"), html(), "what does not parse is skipped");
  for (const none of [undefined, "", "html", "text/", "/html", "text /html", "*/*"]) {
    assert.is(type(none), null, String(none));
  }
  const body = encode("<title>Заголовок</title>", "windows-1251");
  const contentType = "text/html; charset=windows-1251, text/html";
  const page = readPage({
    url: "http://h/",
    body,
    contentType,
    contentEncoding: undefined,
    maxBytes: 1 << 20,
  })!;
  assert.is(page.title, "Заголовок");
  assert.is(page.charset, "windows-1251 from header");
});

test("bodyDigest: one body, one digest; its Content-Encoding is part of it", () => {
  const body = Buffer.from("<p>twins</p>");
  assert.is(bodyDigest(body, undefined), bodyDigest(Buffer.from(body), undefined));
  assert.is.not(bodyDigest(body, undefined), bodyDigest(Buffer.from("<p>twin</p>"), undefined));
  assert.is.not(bodyDigest(body, undefined), bodyDigest(body, "gzip"));
  assert.match(bodyDigest(body, "gzip"), /^[A-Za-z0-9+/]{27}=$/);
});

test("retryAfter: seconds or an HTTP date; nothing readable is no wait", () => {
  const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
  assert.is(retryAfter("120", now), 120_000);
  assert.is(retryAfter(" 3 ", now), 3_000);
  assert.is(retryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now), 30_000);
  assert.is(retryAfter("Wed, 21 Oct 2015 07:27:00 GMT", now), 0, "a date in the past");
  assert.is(retryAfter(undefined, now), 0);
  assert.is(retryAfter("soon", now), 0);
  assert.is(retryAfter("-5", now), 0);
});

test("locationOf: a raw UTF-8 Location is the path its bytes spell, as in a browser", () => {
  const latin1 = (text: string) => Buffer.from(text).toString("latin1"); // as the parser reads it
  const location = (text: string) => normalizeUrl(locationOf(latin1(text)), PAGE);
  assert.is(location("/вики"), "http://example.org/%D0%B2%D0%B8%D0%BA%D0%B8");
  assert.is(location("/вики"), normalizeUrl("/вики", PAGE), "as if it had been percent-encoded");
  assert.is(location("http://пример.рф/a"), "http://xn--e1afmkfd.xn--p1ai/a");
  assert.is(location("/plain?q=1"), "http://example.org/plain?q=1");
  // Not UTF-8 (a latin1 é): its one byte, not the two of U+00E9 in UTF-8.
  assert.is(normalizeUrl(locationOf("/caf\xe9"), PAGE), "http://example.org/caf%E9");
});

test("robotsTag: X-Robots-Tag directives for all crawlers, and those named for ours only", () => {
  const tag = (value: string | undefined) => robotsTag(value, "Our-Bot");
  const says = (noindex: boolean, nofollow: boolean) => ({ noindex, nofollow });
  assert.equal(tag(undefined), says(false, false));
  assert.equal(tag("noindex"), says(true, false));
  assert.equal(tag("NoFollow, noarchive"), says(false, true));
  assert.equal(tag("none"), says(true, true));
  assert.equal(tag("noindex nofollow"), says(true, true), "spaces instead of a comma");
  assert.equal(tag("googlebot: noindex, nofollow"), says(false, false), "for another crawler");
  assert.equal(tag("our-bot: noindex"), says(true, false), "for ours, in any case");
  assert.equal(tag("nofollow, googlebot: noindex"), says(false, true));
  assert.equal(tag("googlebot: noindex, our-bot: nofollow, noarchive"), says(false, true));
  assert.equal(tag("our-bot: none, googlebot: noindex"), says(true, true));
  assert.equal(tag("unavailable_after: 25 Jun 2010 15:00:00 PST, noindex"), says(true, false));
  assert.equal(tag("max-snippet: 20, nofollow"), says(false, true), "a value, not a name");
});

/**
 * The Crawler itself, on Node's loop, without a network: `answer` gives each URL's response (and
 * robots.txt is a 404), and a page's body is read in this thread. What it recorded, in order.
 */
async function crawlAnswers(
  start: string[],
  answer: (url: URL) => Fetched,
  options: Partial<CrawlOptions> = {},
): Promise<{ entries: Entry[]; crawler: Crawler }> {
  const fetcher = {
    async fetch(url: URL): Promise<Fetched> {
      return url.pathname === "/robots.txt" ? answered(404) : answer(url);
    },
  } as unknown as Fetcher;
  const readers = {
    async read(input: PageInput) {
      return { ...readPage(input)!, duplicate: null, durable: null };
    },
  } as unknown as PageReaders;
  const tally = new Tally();
  const entries: Entry[] = [];
  tally.onEntry = (entry) => entries.push(entry);
  const crawler = new Crawler(
    {
      concurrency: 1,
      perHost: 1,
      maxPages: 100,
      maxDepth: 5,
      exclude: [],
      noParent: false,
      maxRedirects: 5,
      retries: 2,
      retryBaseMs: 1,
      timeoutMs: 1000,
      maxBodyBytes: 1 << 20,
      maxReading: 1,
      robotsName: "test",
      maxDelayMs: 50,
      ...options,
    },
    {
      engine: createEngine("node"),
      fetcher,
      frontier: new MemoryFrontier(),
      seen: new MemorySeenSet(),
      digests: new MemorySeenSet(),
      readers,
      tally,
    },
    start,
  );
  await crawler.run();
  return { entries, crawler };
}

/** A response to crawlAnswers: an HTML page if given a body. */
function answered(status: number, headers: Record<string, string> = {}, html?: string): Fetched {
  const body = html === undefined ? null : new TextEncoder().encode(html);
  if (body !== null) headers = { "content-type": "text/html; charset=utf-8", ...headers };
  return {
    status,
    reason: "",
    headers: new Map(Object.entries(headers)),
    body,
    wireBytes: 0,
    ms: 1,
  };
}

test("a Retry-After past maxDelayMs is cut to it and the URL tried again, as documented", async () => {
  // A 503 that asks for a day, then a 404. Before, a Retry-After over the cap meant no retry at all.
  const answers: [number, Record<string, string>][] = [
    [503, { "retry-after": "86400" }],
    [404, {}],
  ];
  const asked: number[] = [];
  const { entries } = await crawlAnswers(["http://h/"], () => {
    asked.push(performance.now());
    return answered(...answers.shift()!);
  });
  assert.equal(
    entries.map(({ outcome, status }) => [outcome, status]),
    [["error", 404]],
  );
  assert.ok(asked[1]! - asked[0]! >= 45, `tried again after ${asked[1]! - asked[0]!} ms`);
});

test("StartScope: at or below a start URL's directory, in normalizeUrl's spelling, on its site", () => {
  const starts = ["http://h/docs/index.html", "http://h/guide/", "http://www.other:8080/ф/"];
  const scope = new StartScope(starts.map((url) => normalizeUrl(url)!));
  const contains = (href: string) => scope.contains(normalizeUrl(href)!);
  assert.ok(contains("http://h/docs/"), "index.html's directory");
  assert.ok(contains("http://h/docs/a/b.html?to=/up/"));
  assert.ok(contains("http://h/guide/"));
  assert.ok(contains("http://www.h:80/guide/x"), "www. and the default port: the same site");
  assert.not.ok(contains("http://h/"));
  assert.not.ok(contains("http://h/docs"), "a file in /, as for wget");
  assert.not.ok(contains("http://h/docsx/"));
  assert.not.ok(contains("http://h/index.html?next=/docs/"), "a query is not a path");
  assert.not.ok(contains("http://h/docs/../up.html"), "dot segments resolved first");
  assert.ok(contains("http://other:8080/%d1%84/page"), "percent-encoded, the start written raw");
  assert.not.ok(contains("http://other:8080/%D1%85/"));
  assert.ok(contains("http://elsewhere/anything"), "another site: not this rule's to say");
  assert.ok(contains("http://h:8080/anything"), "another port is another site");
  assert.ok(new StartScope(["http://h/"]).contains("http://h/any/where"), "from /: all of h");
  assert.ok(scope.hasSite("h") && scope.hasSite("other:8080") && !scope.hasSite("h:8080"));
  // Saved and taken back (--resume): the same scope.
  const saved = ["http://h/docs/", "http://h/guide/", "http://other:8080/%D1%84/"];
  assert.equal(scope.directories(), saved);
  assert.equal(new StartScope(saved).directories(), saved);
});

test("noParent: links and redirects above the start directories are excluded, and counted", async () => {
  const pages: Record<string, string> = {
    "/docs/": [
      "a.html",
      "../other.html",
      "http://www.h:80/docs/b.html",
      "/docs/%d1%84/",
      "/docs",
      "moved",
      "http://elsewhere/docs/x",
    ]
      .map((href) => `<a href="${href}">${href}</a>`)
      .join(""),
    "/new/": '<a href="page">page</a> <a href="../new-sibling/">sibling</a>',
  };
  const redirects: Record<string, string> = { "/docs/moved": "/outside/", "/old/": "/new/" };
  const answer = (url: URL) =>
    url.pathname in redirects
      ? answered(301, { location: redirects[url.pathname]! })
      : answered(200, {}, `<title>${url.href}</title>${pages[url.pathname] ?? ""}`);
  const outcomes = async (noParent: boolean) => {
    const { entries, crawler } = await crawlAnswers(["http://h/docs/", "http://h/old/"], answer, {
      noParent,
    });
    assert.is(crawler.stats.offsiteLinks, 1, "http://elsewhere/ is not a URL of the crawl");
    return Object.fromEntries(
      entries.map(({ url, outcome, reason }) => [url, `${outcome} ${reason ?? ""}`.trim()]),
    );
  };
  const excluded = "excluded --no-parent";
  assert.equal(await outcomes(true), {
    "http://h/docs/": "indexed",
    "http://h/old/": "redirected",
    "http://h/docs/a.html": "indexed",
    "http://h/other.html": excluded,
    "http://www.h/docs/b.html": "indexed",
    "http://h/docs/%D1%84/": "indexed",
    "http://h/docs": excluded,
    "http://h/docs/moved": "redirected",
    "http://h/outside/": excluded, // a redirect's target, as a link
    "http://h/new/": "indexed", // where a start URL led: its directory is the crawl's too
    "http://h/new/page": "indexed",
    "http://h/new-sibling/": excluded,
  });
  // Without it, every one of them is fetched.
  const all = await outcomes(false);
  assert.equal(
    Object.keys(all).filter((url) => all[url]!.startsWith("excluded")),
    [],
  );
  assert.is(Object.keys(all).length, 12);
});

test("reasonOf: the same words for the same failure, whichever engine saw it", () => {
  const native = Object.assign(new Error("recv(fd 7): Connection reset by peer (ECONNRESET)"), {
    code: "ECONNRESET",
  });
  const node = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
  assert.is(reasonOf(native, 1000), reasonOf(node, 1000));
  assert.is(
    reasonOf(Object.assign(new Error("x"), { code: "ETIMEDOUT" }), 5000),
    "no answer within 5000 ms",
  );
  assert.is(
    reasonOf(new Error("getaddrinfo(nowhere.invalid): Name or service not known (EAI_NONAME)"), 1),
    "host name not found",
  );
  assert.is(
    reasonOf(Object.assign(new Error("x"), { code: "ENOTFOUND" }), 1),
    "host name not found",
  );
  const nodeTimeout = new DOMException("The operation was aborted due to timeout", "TimeoutError");
  assert.is(reasonOf(nodeTimeout, 5000), "no answer within 5000 ms", "AbortSignal.timeout()");
  assert.ok(isTransient(native) && isTransient(node) && isTransient(nodeTimeout));
  assert.not.ok(isTransient(new Error("bad status line")));
});

test("stores: a frontier of queues per host, and a crawl saved and loaded whole", () => {
  const frontier = new MemoryFrontier();
  frontier.push("a", { url: "http://a/1", depth: 0, via: [] });
  frontier.push("b", { url: "http://b/1", depth: 1, via: [] });
  frontier.push("a", { url: "http://a/2", depth: 1, via: ["http://a/0"] });
  assert.equal([...frontier.hosts()], ["a", "b"]);
  assert.is(frontier.size, 3);
  assert.is(frontier.shift("a")?.url, "http://a/1");
  assert.is(frontier.shift("c"), undefined);
  const seen = new MemorySeenSet();
  assert.ok(seen.add("http://a/1"));
  assert.not.ok(seen.add("http://a/1"));
  const digests = new MemorySeenSet();
  digests.add("2jmj7l5rSw0yVb/vlWAYkK/YBwk=");

  const dir = join(mkdtempSync(join(tmpdir(), "crawl-")), "crawl");
  try {
    saveCrawl(dir, { summary: { startUrls: ["http://a/"] }, frontier, seen, digests });
    saveCrawl(dir, { summary: { startUrls: ["http://a/"] }, frontier, seen, digests });
    const loaded = loadCrawl<{ startUrls: string[] }>(dir);
    assert.equal(loaded.summary, { startUrls: ["http://a/"] });
    assert.equal([...loaded.frontier.items()], [...frontier.items()]);
    assert.equal([...loaded.seen.keys()], ["http://a/1"]);
    assert.equal([...loaded.digests.keys()], ["2jmj7l5rSw0yVb/vlWAYkK/YBwk="]);
    assert.throws(() => loadCrawl(join(dir, "nothing")), /no saved crawl in .*: nothing to resume/);
  } finally {
    rmSync(join(dir, ".."), { recursive: true, force: true });
  }
});

test("SharedHashSet64: of threads adding the same hashes at once, exactly one is first for each", async () => {
  const set = new SharedHashSet64(SharedHashSet64.allocate(1024));
  assert.ok(set.add(1, 2));
  assert.not.ok(set.add(1, 2));
  assert.ok(set.add(1, 4), "another hash");
  assert.not.ok(set.add(1, 3), "the lowest bit is not looked at (63 bits are enough)");
  assert.ok(set.add(0, 0), "hash 0 is a hash like any other");
  assert.not.ok(set.add(0, 0));
  // Three threads add the same 50,000 hashes in the same order, all starting at once (they
  // wait for each other first): every hash has exactly one winner.
  const hashes = 50_000;
  const memory = SharedHashSet64.allocate(1 << 17);
  const started = new Int32Array(new SharedArrayBuffer(4));
  const bytes = new URL("../shared/search/bytes.ts", import.meta.url).href;
  const tsx = import.meta.resolve("tsx/esm/api"); // a worker must register tsx for itself
  const code = `
    const { workerData, parentPort } = require("node:worker_threads");
    import(${JSON.stringify(tsx)}).then(({ register }) => {
      register();
      return import(${JSON.stringify(bytes)});
    }).then(({ SharedHashSet64 }) => {
      const set = new SharedHashSet64(workerData.memory);
      Atomics.add(workerData.started, 0, 1);
      while (Atomics.load(workerData.started, 0) < 3) {}
      let first = 0;
      for (let k = 0; k < ${hashes}; k++) {
        if (set.add(k * 0x9e3779b1, k * 2)) first++;
      }
      parentPort.postMessage(first);
    });`;
  const firsts = await Promise.all(
    [1, 2, 3].map(
      () =>
        new Promise<number>((resolve, reject) => {
          const worker = new Worker(code, { eval: true, workerData: { memory, started } });
          worker.once(
            "message",
            (first: number) => void worker.terminate().then(() => resolve(first)),
          );
          worker.once("error", reject);
        }),
    ),
  );
  assert.is(
    firsts.reduce((sum, first) => sum + first, 0),
    hashes,
    `firsts: ${firsts}`,
  );
  // Past half full it cannot tell: every new hash is "first", and one it holds is still known.
  const small = new SharedHashSet64(SharedHashSet64.allocate(8));
  for (let i = 0; i < 4; i++) assert.ok(small.add(i, i));
  assert.ok(small.add(99, 99));
  assert.ok(small.add(99, 99), "full: not remembered");
  assert.not.ok(small.add(0, 0));
  assert.throws(() => SharedHashSet64.allocate(1000), /power of two/);
});

test("worthAnotherThread: heavy pages waiting and an idle core, yes; light pages, a busy machine, a thread starting, no", () => {
  // The Python docs with one thread: 60 pages waiting at 10 ms each, half a core idle.
  const heavy = { threadCount: 1, opening: 0, waitingPages: 60, readingMs: 500, pagesRead: 50 };
  assert.ok(worthAnotherThread({ ...heavy, idleCores: 0.5 }));
  assert.not.ok(
    worthAnotherThread({ ...heavy, idleCores: 0.1 }),
    "other programs keep the cores busy",
  );
  assert.not.ok(worthAnotherThread({ ...heavy, idleCores: 0.5, opening: 1 }), "one is starting");
  // Two threads share the same backlog: 300 ms each, still more than a thread takes to start.
  assert.ok(worthAnotherThread({ ...heavy, idleCores: 0.5, threadCount: 2 }));
  assert.not.ok(worthAnotherThread({ ...heavy, idleCores: 0.5, threadCount: 3 }));
  // Bench (a): a burst of 170 small pages at 0.6 ms, 0.1 s of work; the PostgreSQL docs, 60 at 2 ms.
  const light = { threadCount: 1, opening: 0, waitingPages: 170, readingMs: 60, pagesRead: 100 };
  assert.not.ok(worthAnotherThread({ ...light, idleCores: 1 }));
  assert.not.ok(worthAnotherThread({ ...light, waitingPages: 60, readingMs: 200, idleCores: 1 }));
  // Nothing read yet: no time per page to go by.
  assert.not.ok(worthAnotherThread({ ...heavy, readingMs: 0, pagesRead: 0, idleCores: 2 }));
});

test("a reading thread's budget task: a smaller share of the memory budget flushes from then on", () => {
  const out = mkdtempSync(join(tmpdir(), "reader-budget-"));
  try {
    // The handlers a worker runs, here in this thread, as --parsers 0 runs them.
    handlers.open({ dir: out, memoryBudget: 64 * 2 ** 20, texts: null });
    handlers.budget(1024); // another thread started: this one's share shrinks
    for (let i = 0; i < 3; i++) {
      const body = new TextEncoder().encode(`<title>Page ${i}</title><p>words of page ${i}</p>`);
      const input = { url: `http://h/${i}`, body, contentType: "text/html", maxBytes: 1 << 20 };
      handlers.read({ input: { ...input, contentEncoding: undefined }, index: true });
    }
    const summary = handlers.close();
    assert.is(summary.pages, 3);
    assert.ok(summary.flushes >= 2, `${summary.flushes} flushes`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("openReaders: parts a killed crawler committed in threads not started again are joined too", async () => {
  const out = mkdtempSync(join(tmpdir(), "readers-left-"));
  try {
    // A crawler sharing a frontier grew to two threads, committed both parts and was killed: the
    // frontier let go of their pages. Started again by hand, it reads in fewer threads.
    for (const part of ["0", "1"]) {
      const writer = IndexWriter.create(join(out, "parts", part));
      const url = `http://h/left-${part}`;
      writer.add({ url, title: `Left ${part}`, text: `words committed in part ${part}` });
      writer.commit();
      writer.abort(); // killed: what it committed stays
    }
    const readers = openReaders(createEngine("node"), out, { first: 0, most: 0 }, false);
    const body = new TextEncoder().encode("<title>New</title><p>a page read in this run</p>");
    const input = { url: "http://h/new", body, contentType: "text/html", maxBytes: 1 << 20 };
    assert.is(
      (await readers.read({ ...input, contentEncoding: undefined }, true))?.duplicate,
      false,
    );
    assert.match(await readers.close(), /^3 pages /);
    const index = Index.open(out);
    try {
      assert.is(index.pages, 3);
    } finally {
      index.close();
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test.run();
