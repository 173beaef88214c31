// The fixture site's articles as the crawler would index them, made without a crawl: each article
// rendered by the site's own page code and read back by the crawler's own text extraction. The
// tests and the benchmark build their indexes from these, so they know what each page is about.
import { parsePage } from "@async-from-scratch/shared";
import type { Page } from "@async-from-scratch/shared/search";
import { LazyWiki } from "../../shared/site/lazy.ts";
import { articlePage } from "../../shared/site/pages.ts";
import { buildWiki, type Article } from "../../shared/site/wiki.ts";

/** The origin the pages are given, as if the fixture site ran on port 8080. */
export const FIXTURE_ORIGIN = "http://127.0.0.1:8080";

export interface FixturePage extends Page {
  article: Article;
}

/** The wiki's articles (the site's defaults: 200 articles, seed 1) as pages to index. */
export function fixturePages(articles = 200, seed = 1): FixturePage[] {
  const host = new URL(FIXTURE_ORIGIN).host;
  return buildWiki(articles, seed).articles.map((article) => {
    const url = `${FIXTURE_ORIGIN}/wiki/${article.slug}`;
    const { title, text, headings } = parsePage(articlePage(article, host), url);
    return { url, title, text, headings, article };
  });
}

/**
 * Article i of the large wiki the site serves past 10,000 articles (shared/site/lazy.ts), as the
 * crawler would index it: one page at a time, so that a million never sit in memory together.
 */
export function lazyFixturePage(wiki: LazyWiki, i: number): Page {
  const host = new URL(FIXTURE_ORIGIN).host;
  const article = wiki.article(wiki.ref(i).slug)!; // every number below wiki.size has one
  const url = `${FIXTURE_ORIGIN}/wiki/${article.slug}`;
  const { title, text, headings } = parsePage(articlePage(article, host, false), url);
  return { url, title, text, headings };
}

// What the benchmarks ask (bench:search, bench:search-server, bench:search-large): topic words in both languages,
// two- and three-word queries, phrases, punctuated words; and typos, which a search corrects.
export const QUERIES = [
  "epoll",
  "kqueue",
  "sockets",
  "сокеты",
  "сокет",
  "mutex",
  "мьютексы",
  "планировщик",
  "корутины",
  "generators",
  "libuv",
  "timers",
  "таймеры",
  "buffers",
  "порты",
  "threads",
  "потоки",
  "процессы",
  "callbacks",
  "futures",
  "c10k",
  "robots.txt",
  "select()",
  "poll()",
  "epoll internals",
  "сокеты основы",
  "inverted index",
  "обратный индекс",
  "поисковый робот",
  "event loop",
  "цикл событий",
  "non-blocking I/O",
  "file descriptors",
  "context switch",
  "tcp connection python",
  "async await node",
  "эффективность epoll",
  "kqueue performance",
  '"event loop"',
  '"цикл событий"',
  '"inverted index" python',
  '"non-blocking I/O"',
];
export const TYPOS = ["sokcets", "epolll", "сакеты", "корутинны"];
