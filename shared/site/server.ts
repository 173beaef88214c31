// The fixture site's HTTP server: the mini-wiki's pages, the hard cases, and a latency that makes
// concurrency visible. node:http serves requests concurrently, so one slow response never
// delays another.
//
// Every response first waits the latency (the server's, or ?latency=MS on any URL, at most 10 s),
// then is routed:
//   /                          front page: categories, featured articles, /trouble/
//   /category/<slug>           the articles of one category
//   /wiki/<slug>               an article; ?action=history gives its small history page
//   /trouble/ and what it lists, robots.txt, /private/, /wild/ (wild.ts); anything else is a 404
//   /upload                    POST a body: read only now, after the latency (busy.ts)
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { upload } from "./busy.ts";
import { REPORT_PDF, dataJson, robotsTxt } from "./files.ts";
import { EAGER_MAX, LazyWiki } from "./lazy.ts";
import { articlePage, categoryPage, historyPage, indexPage, notFoundPage } from "./pages.ts";
import type { FrontPage } from "./pages.ts";
import { HTML, redirect, send } from "./reply.ts";
import * as trouble from "./trouble.ts";
import { serveWild } from "./wild.ts";
import { buildWiki } from "./wiki.ts";

export interface SiteServerOptions {
  /** Up to EAGER_MAX, the wiki is built up front; past it, each page is made when asked for. */
  articles: number;
  /** Make pages when asked for even for a small wiki (tests of the large one's pages). */
  lazy?: boolean;
  latencyMs: number;
  seed: number;
  /** How long a connection has to send a whole request head (default HEADERS_TIMEOUT_MS). */
  headersTimeoutMs?: number;
  /** The Crawl-delay that robots.txt asks for, in ms (0: none). */
  crawlDelayMs?: number;
}

export const MAX_LATENCY_MS = 10_000;

// A connection that sends nothing, or a request head that never ends, gets "408 Request Timeout"
// and is closed this long after it opened (or after that request began): node:http's
// headersTimeout. Its other limits miss such a connection: keepAliveTimeout (5 s) closes only
// one left idle after a response, requestTimeout also counts a request's body, and the
// socket-idle `timeout` would also cut a response waiting out a long ?latency. 30 s: long enough
// to type a request into nc by hand.
export const HEADERS_TIMEOUT_MS = 30_000;

export function createSiteServer({
  articles,
  latencyMs,
  seed,
  headersTimeoutMs = HEADERS_TIMEOUT_MS,
  crawlDelayMs = 0,
  lazy = articles > EAGER_MAX,
}: SiteServerOptions): Server {
  const wiki = lazy ? lazyPages(new LazyWiki(articles, seed)) : eagerPages(articles, seed);
  const robots = robotsTxt(crawlDelayMs);
  // node:http looks for expired connections every connectionsCheckingInterval (30 s by default),
  // so a connection is closed up to that much after its time is up: look every second instead.
  const options = {
    headersTimeout: headersTimeoutMs,
    connectionsCheckingInterval: Math.min(1_000, headersTimeoutMs),
  };
  return createServer(options, (req, res) => {
    serve(wiki, latencyMs, robots, req, res).catch((error: unknown) => {
      // A bug in one handler costs that one response, not the whole site.
      console.error("fixture site:", error);
      if (res.headersSent) res.destroy();
      else send(res, 500, "text/plain; charset=utf-8", "internal error\n");
    });
  });
}

/** The wiki's pages, however they are made: built up front (wiki.ts) or when asked for (lazy.ts). */
interface WikiPages {
  front(): string;
  category(slug: string): string | null;
  article(slug: string, host: string): string | null;
  history(slug: string): string | null;
  /** Where /redirect/1 leads. */
  firstSlug: string;
  json: string;
}

function eagerPages(articles: number, seed: number): WikiPages {
  const wiki = buildWiki(articles, seed);
  const front: FrontPage = {
    articles: wiki.articles.length,
    categories: wiki.categories.map(({ slug, title, articles }) => ({
      slug,
      title,
      articles: articles.length,
    })),
    featured: wiki.featured,
  };
  const categories = new Map(wiki.categories.map((c) => [c.slug, c]));
  return {
    front: () => indexPage(front),
    category: (slug) => {
      const category = categories.get(slug);
      return category ? categoryPage(category) : null;
    },
    article: (slug, host) => {
      const article = wiki.bySlug.get(slug);
      return article ? articlePage(article, host) : null;
    },
    history: (slug) => {
      const article = wiki.bySlug.get(slug);
      return article ? historyPage(article) : null;
    },
    firstSlug: wiki.articles[0]!.slug, // buildWiki makes at least one
    json: dataJson(front),
  };
}

function lazyPages(wiki: LazyWiki): WikiPages {
  const categories = wiki.categories.map(({ slug, title, count }) => ({
    slug,
    title,
    articles: count,
  }));
  const front = indexPage({ articles: wiki.size, categories, featured: wiki.featured() });
  return {
    front: () => front,
    category: (slug) => {
      const category = wiki.category(slug);
      return category ? categoryPage(category, category.count) : null;
    },
    article: (slug, host) => {
      const article = wiki.article(slug);
      return article ? articlePage(article, host, false) : null;
    },
    history: () => null,
    firstSlug: wiki.ref(0).slug,
    json: dataJson({ articles: wiki.size, categories }),
  };
}

async function serve(
  wiki: WikiPages,
  defaultLatencyMs: number,
  robots: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  // Prefixed, not given as a base: new URL("//x", base) would read "x" as a host name.
  const url = new URL(`http://site${req.url ?? "/"}`);
  const latencyMs = latencyOf(url, defaultLatencyMs);
  if (latencyMs === undefined) {
    const message = `latency must be a whole number of milliseconds, got "${url.searchParams.get("latency")}"\n`;
    return send(res, 400, "text/plain; charset=utf-8", message);
  }
  if (!(await wait(latencyMs, res))) return; // the client left while we waited

  // Absolute links and Locations are built from the Host the client asked for, as real sites do.
  const host = req.headers.host ?? `127.0.0.1:${req.socket.localPort}`;
  const path = url.pathname;
  switch (path) {
    case "/":
      return send(res, 200, HTML, wiki.front());
    case "/robots.txt":
      return send(res, 200, "text/plain; charset=utf-8", robots);
    case "/trouble/":
      return send(res, 200, HTML, trouble.troublePage());
    case "/private/":
      return send(res, 200, HTML, trouble.privatePage());
    case "/redirect/3":
      return redirect(res, "/redirect/2");
    case "/redirect/2":
      return redirect(res, `http://${host}/redirect/1`);
    case "/redirect/1":
      return redirect(res, `../wiki/${wiki.firstSlug}`);
    case "/loop/a":
      return redirect(res, "/loop/b");
    case "/loop/b":
      return redirect(res, "a");
    case "/files/report.pdf":
      return send(res, 200, "application/pdf", REPORT_PDF);
    case "/files/data.json":
      return send(res, 200, "application/json", wiki.json);
    case "/huge":
      return trouble.huge(res);
    case "/slow-body":
      return trouble.slowBody(res);
    case "/reset":
      return trouble.resetMidBody(req, res);
    case "/malformed":
      return trouble.malformed(res);
    case "/chunked":
      return trouble.chunked(res);
    case "/close-delimited":
      return trouble.closeDelimited(res);
    case "/upload":
      return upload(req, res);
  }

  if (path.startsWith("/wild/") && serveWild(res, decodePath(path))) return;
  let page: string | null = null;
  if (path.startsWith("/category/")) page = wiki.category(path.slice("/category/".length));
  else if (path.startsWith("/wiki/")) {
    const slug = path.slice("/wiki/".length);
    page =
      url.searchParams.get("action") === "history" ? wiki.history(slug) : wiki.article(slug, host);
  }
  if (page !== null) return send(res, 200, HTML, page);
  send(res, 404, HTML, notFoundPage(path));
}

/** "/wild/%D1%81..." as "/wild/с..."; a malformed escape stays as it is (and is a 404). */
function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** The ?latency=MS of the URL, capped; the default if there is none; undefined if malformed. */
function latencyOf(url: URL, defaultMs: number): number | undefined {
  const value = url.searchParams.get("latency");
  if (value === null) return defaultMs;
  return /^\d+$/.test(value) ? Math.min(Number(value), MAX_LATENCY_MS) : undefined;
}

/** Resolves true after `ms`, or false as soon as the client goes away. */
function wait(ms: number, res: ServerResponse): Promise<boolean> {
  if (ms === 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      res.off("close", onClose);
      resolve(true);
    }, ms);
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    res.once("close", onClose);
  });
}
