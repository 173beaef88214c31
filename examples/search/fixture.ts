// The fixture site's articles as the crawler would index them, made without a crawl: each article
// rendered by the site's own page code and read back by the crawler's own text extraction. The
// tests and the benchmark build their indexes from these, so they know what each page is about.
import { parsePage } from "@async-from-scratch/shared";
import type { Page } from "@async-from-scratch/shared/search";
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
    const { title, text } = parsePage(articlePage(article, host), url);
    return { url, title, text, article };
  });
}
