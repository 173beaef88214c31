// The fixture site at the lecture's scale (shared/site/lazy.ts): a million articles made when
// asked for, in one connected and shallow site, the same bytes on every request and from every
// process that serves the port; small sites are still the ones the lessons' snapshots show.
import { get as httpGet } from "node:http";
import type { AddressInfo } from "node:net";
import { startSite } from "@async-from-scratch/shared/site";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { LazyWiki } from "../shared/site/lazy.ts";
import { createSiteServer } from "../shared/site/server.ts";
import { siteProcesses } from "./lessons.ts";

const test = suite("site-lazy");

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpGet(url, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (text: string) => (body += text));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    }).on("error", reject);
  });
}

test("a slug gives its article's number back, and only one slug names an article", () => {
  const wiki = new LazyWiki(1_000_000, 1);
  for (const i of [0, 1, 319, 320, 321, 123_456, 999_999]) {
    assert.is(wiki.number(wiki.ref(i).slug), i, `article ${i}`);
  }
  const first = wiki.ref(0).slug;
  assert.not.match(first, /-\d+$/, "round 0 has no number");
  for (const slug of [`${first}-1`, `${first}-01`, `${first}-99999999`, "no-such-slug", ""]) {
    assert.is(wiki.number(slug), -1, slug);
  }
  assert.is(new LazyWiki(500, 1).number(wiki.ref(999).slug), -1, "past the wiki's end");
});

test("every one of a million articles is reachable from the front page, within 12 links", () => {
  const wiki = new LazyWiki(1_000_000, 1);
  const depth = new Int8Array(wiki.size).fill(-1);
  let frontier = wiki.featured().map((ref) => wiki.number(ref.slug));
  for (const i of frontier) depth[i] = 1;
  let reached = frontier.length;
  let deepest = 1;
  let links = 0;
  let seenBefore = 0;
  for (let level = 2; frontier.length > 0; level++) {
    const next: number[] = [];
    for (const i of frontier) {
      for (const other of wiki.links(i)) {
        links++;
        if (depth[other] !== -1) {
          seenBefore++;
          continue;
        }
        depth[other] = level;
        next.push(other);
      }
    }
    reached += next.length;
    if (next.length > 0) deepest = level;
    frontier = next;
  }
  assert.is(reached, wiki.size, "all reached");
  assert.ok(deepest <= 12, `deepest at ${deepest} links`);
  // Most links lead to an article found before: a crawler's seen set is asked far more often
  // than it says "new".
  assert.ok(seenBefore / links > 0.2, `${seenBefore} of ${links} links seen before`);
});

test("served lazily: the same bytes every time, from every process, no history views", async () => {
  const before = siteProcesses().length;
  const site = await startSite({ articles: 1_000_000, processes: 2 });
  try {
    assert.is(siteProcesses().length, before + 3, "a primary and two processes");
    const front = await get(site.url);
    assert.match(front.body, "1000000 articles");
    const root = /href="wiki\/([^"]+)"/.exec(front.body)![1]!;
    const pages = await Promise.all(
      Array.from({ length: 6 }, () => get(`${site.url}wiki/${root}`)),
    );
    for (const page of pages) {
      assert.is(page.status, 200);
      assert.is(page.body, pages[0]!.body, "the same page from both processes");
    }
    assert.not.match(pages[0]!.body, "action=history");
    const wiki = new LazyWiki(1_000_000, 1);
    for (const i of wiki.links(wiki.number(root))) {
      assert.match(pages[0]!.body, `>${wiki.ref(i).title.replace(/&/g, "&amp;")}<`);
    }
    const last = await get(`${site.url}wiki/${wiki.ref(999_999).slug}`);
    assert.is(last.status, 200);
    assert.is((await get(`${site.url}wiki/${root}?action=history`)).status, 404);
    assert.is((await get(`${site.url}wiki/${root}-1`)).status, 404);
    const category = await get(`${site.url}category/networking`);
    assert.match(category.body, /The first 50 of \d+\./);
  } finally {
    await site.stop();
  }
  assert.is(siteProcesses().length, before, "no process left");
});

test("up to 10,000 articles the wiki is built up front, as the lessons' snapshots show it", async () => {
  // `lazy: true` makes even a small wiki's pages when asked for: same articles, no history views.
  const servers = [
    createSiteServer({ articles: 200, latencyMs: 0, seed: 1 }),
    createSiteServer({ articles: 200, latencyMs: 0, seed: 1, lazy: true }),
  ];
  try {
    const [eager, lazy] = await Promise.all(
      servers.map(async (server) => {
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
        const article = /href="(wiki\/[^"]+)"/.exec((await get(url)).body)![1]!;
        return (await get(url + article)).body;
      }),
    );
    assert.match(eager!, "action=history");
    assert.not.match(lazy!, "action=history");
  } finally {
    for (const server of servers) server.close();
  }
  assert.throws(() => new LazyWiki(0, 1), /1 to 10000000 articles/);
});

test.run();
