// The fixture site's real-world cases (shared/site/wild.ts): gzip and deflate when asked, the old
// Russian charsets and where each page declares its own, a Cyrillic path three ways, <base href>,
// twins, noindex and nofollow, a 503 that answers once the client waited, and Crawl-delay.
import { request } from "node:http";
import { gunzipSync, inflateSync } from "node:zlib";
import { startSite } from "@async-from-scratch/shared/site";
import type { RunningSite } from "@async-from-scratch/shared/site";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { charsetOf, parsePage, readHtml } from "../shared/html.ts";
import { CYRILLIC_PATH, PANGRAM, RETRY_AFTER_S } from "../shared/site/wild.ts";

const test = suite<{ site: RunningSite }>("site-wild", { site: undefined! });

test.before(async (context) => {
  context.site = await startSite({ articles: 20 });
});

test.after(async ({ site }) => {
  await site.stop();
});

interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

// node:http's own client sends the path as given: no normalising, no Accept-Encoding unless asked.
function get(site: RunningSite, path: string, headers: Record<string, string> = {}) {
  return new Promise<Response>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: site.port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on("error", reject);
    });
    req.on("error", reject).end();
  });
}

test("/wild/ links every case and the wiki, which does not link it", async ({ site }) => {
  const trouble = await get(site, "/trouble/");
  assert.not.ok(
    trouble.body.toString().includes("/wild/"),
    "the lessons' crawls stay as they were",
  );
  const wild = await get(site, "/wild/");
  assert.is(wild.status, 200);
  const links = parsePage(wild.body.toString(), `${site.url}wild/`).links;
  assert.ok(links.includes(site.url), "back to the wiki");
  for (const link of links.filter((link) => link.includes("/wild/"))) {
    const path = new URL(link).pathname;
    const { status } = await get(site, path);
    // The doubled slashes are there for a crawler to clean up; as written, they are a 404.
    assert.is(status, path.includes("//") ? 404 : path === "/wild/busy" ? 503 : 200, path);
  }
});

test("gzip and deflate when the request asks, plain text when it does not", async ({ site }) => {
  const plain = await get(site, "/");
  assert.is(plain.headers["content-encoding"], undefined);
  const gzipped = await get(site, "/", { "Accept-Encoding": "gzip, deflate" });
  assert.is(gzipped.headers["content-encoding"], "gzip");
  assert.is(gzipped.headers["vary"], "Accept-Encoding");
  assert.ok(gzipped.body.length < plain.body.length / 2, "smaller");
  assert.equal(gunzipSync(gzipped.body), plain.body);
  const deflated = await get(site, "/", { "Accept-Encoding": "gzip;q=0, deflate" });
  assert.is(deflated.headers["content-encoding"], "deflate");
  assert.equal(inflateSync(deflated.body), plain.body);
  const refused = await get(site, "/", { "Accept-Encoding": "gzip;q=0, identity" });
  assert.is(refused.headers["content-encoding"], undefined);
  const pdf = await get(site, "/files/report.pdf", { "Accept-Encoding": "gzip" });
  assert.is(pdf.headers["content-encoding"], undefined, "only text is compressed");
});

test("old charsets: in the header, only in <meta>, nowhere, and a BOM that overrules the header", async ({
  site,
}) => {
  const cases: [path: string, charset: string, from: string][] = [
    ["/wild/windows-1251", "windows-1251", "header"],
    ["/wild/koi8-r", "koi8-r", "meta"],
    ["/wild/windows-1251-meta", "windows-1251", "meta"],
    ["/wild/windows-1251-undeclared", "windows-1251", "guess"],
    ["/wild/koi8-r-undeclared", "koi8-r", "guess"],
    ["/wild/bom", "utf-8", "bom"],
  ];
  for (const [path, charset, from] of cases) {
    const { body, headers } = await get(site, path);
    const declared = charsetOf(String(headers["content-type"]));
    const { page, charset: found } = readHtml(body, site.url + path, declared);
    assert.equal(found, { charset, from }, path);
    assert.ok(page.text.includes(PANGRAM), `${path}: ${page.text}`);
    // Read as UTF-8, the same bytes are garbage: the declaration matters.
    if (charset !== "utf-8") assert.not.ok(body.toString("utf8").includes("булок"), path);
  }
});

test("a Cyrillic path, raw or percent-encoded in either case, is one page", async ({ site }) => {
  const encoded = encodeURI(CYRILLIC_PATH);
  const bodies = await Promise.all(
    [encoded, encoded.toLowerCase()].map(async (path) => (await get(site, path)).body.toString()),
  );
  assert.is(bodies[0], bodies[1]);
  assert.ok(bodies[0]!.includes(PANGRAM));
  const hub = (await get(site, "/wild/")).body.toString();
  assert.ok(hub.includes(`href="${CYRILLIC_PATH}"`), "linked raw");
  assert.ok(hub.includes(`href="${encoded.toLowerCase()}"`), "linked in lower case");
});

test("<base href>, twins, noindex and nofollow say what they promise", async ({ site }) => {
  const base = parsePage((await get(site, "/wild/base/")).body.toString(), `${site.url}wild/base/`);
  assert.ok(base.links.includes(`${site.url}wild/based/page`), "resolved against <base>");
  assert.is((await get(site, "/wild/base/page")).status, 404, "not against the page's URL");
  const [a, b] = await Promise.all([get(site, "/wild/same-a"), get(site, "/wild/same-b")]);
  assert.equal(a.body, b.body);
  const noindex = parsePage((await get(site, "/wild/noindex")).body.toString(), site.url);
  assert.equal(noindex.robots, { noindex: true, nofollow: false });
  const nofollow = parsePage((await get(site, "/wild/nofollow")).body.toString(), site.url);
  assert.equal(nofollow.robots, { noindex: false, nofollow: true });
});

test("/wild/busy: 503 with Retry-After, again if asked too soon, 200 after waiting", async ({
  site,
}) => {
  const first = await get(site, "/wild/busy");
  assert.is(first.status, 503);
  assert.is(first.headers["retry-after"], String(RETRY_AFTER_S));
  assert.is((await get(site, "/wild/busy")).status, 503, "too soon");
  await new Promise((resolve) => setTimeout(resolve, RETRY_AFTER_S * 1000));
  assert.is((await get(site, "/wild/busy")).status, 200);
  assert.is((await get(site, "/wild/busy")).status, 503, "the next client waits again");
});

test("robots.txt: no Crawl-delay by default, the site's --crawl-delay in seconds", async ({
  site,
}) => {
  assert.not.match((await get(site, "/robots.txt")).body.toString(), /Crawl-delay/);
  const slow = await startSite({ articles: 1, crawlDelayMs: 250 });
  try {
    const robots = (await get(slow, "/robots.txt")).body.toString();
    assert.match(robots, /^Disallow: \/private\/\nCrawl-delay: 0.25\n$/m);
  } finally {
    await slow.stop();
  }
});

test.run();
