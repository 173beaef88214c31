// The mini-wiki's HTML pages, as strings. Article pages use the request's Host header for their
// absolute links, and the 404 page names the path asked for; the front page and the category
// pages are the same for every request, so their size never depends on the site's port.
import type { Article, ArticleRef, LinkForm } from "./wiki.ts";

/** What the front page shows: the wiki's size, its categories, a few articles. */
export interface FrontPage {
  articles: number;
  categories: { slug: string; title: string; articles: number }[];
  featured: ArticleRef[];
}

export function indexPage(front: FrontPage): string {
  // Relative links only ("wiki/x", not "/wiki/x"): the crawler lessons start here and resolve
  // them against the URL they fetched.
  return layout(
    "Mini-wiki — Мини-вики",
    `<h1>Mini-wiki — Мини-вики</h1>
<p>${front.articles} articles about sockets, processes, event loops and crawlers, in English
and Russian. <span lang="ru">Статьи о сокетах, процессах, циклах событий и поисковых роботах.</span></p>
<h2>Categories — Разделы</h2>
<ul>
${front.categories
  .map((c) => `<li><a href="category/${c.slug}">${esc(c.title)}</a> (${c.articles})</li>`)
  .join("\n")}
</ul>
<h2>Featured — Избранное</h2>
<ul>
${front.featured.map((a) => `<li><a href="wiki/${a.slug}">${esc(a.title)}</a></li>`).join("\n")}
</ul>
<p><a href="trouble/">Hard cases for crawlers — Трудные случаи для поискового робота</a></p>`,
  );
}

/**
 * A category's page: its articles, or (`of`, on a large wiki) the first of them and how many
 * there are in all.
 */
export function categoryPage(
  category: { title: string; articles: ArticleRef[] },
  of?: number,
): string {
  const more = of === undefined ? "" : `\n<p>The first ${category.articles.length} of ${of}.</p>`;
  return layout(
    category.title,
    `<p><a href="/">Mini-wiki</a></p>
<h1>${esc(category.title)}</h1>
<ul>
${category.articles.map((a) => `<li><a href="../wiki/${a.slug}">${esc(a.title)}</a></li>`).join("\n")}
</ul>${more}`,
  );
}

/**
 * An article, with links of every kind a crawler meets. `host` is the request's Host header, e.g.
 * "127.0.0.1:8080", for the absolute ones. Without `history` (a large wiki), no links to the
 * article's history views: a million articles are then a million pages, not three million.
 */
export function articlePage(article: Article, host: string, history = true): string {
  const { slug, category } = article;
  const section = (id: string, heading: string, paragraphs: string[][]) =>
    `<h2 id="${id}">${heading}</h2>\n` +
    paragraphs.map((sentences) => `<p>${esc(sentences.join(" "))}</p>`).join("\n");
  const tools = [
    ...(history
      ? [
          `<a href="?action=history">History</a>`,
          // "&amp;" on purpose: the href is ?action=history&oldid=1 only once the entity is decoded.
          `<a href="/wiki/${slug}?action=history&amp;oldid=1">Previous version</a>`,
        ]
      : []),
    `<a href="http://${esc(host)}/wiki/${slug}">Permanent link</a>`,
    `<a title="Editing is switched off">Edit</a>`,
  ];
  const seeAlso = article.related.map(
    ({ article: other, form }) =>
      `<li><a href="${relatedHref(other, form, host)}">${esc(other.title)}</a></li>`,
  );
  const external = [
    `<a href="http://example.org/wiki/${slug}">The same topic on example.org</a>`,
    `<a href="https://example.com/docs/${slug}">Documentation (https)</a>`,
    `<a href="//mirror.example/wiki/${slug}">A mirror (protocol-relative link)</a>`,
    `<a href="mailto:editors@example.org?subject=${slug}">Write to the editors</a>`,
    `<a href="javascript:window.print()">Print this page</a>`,
  ];
  return layout(
    article.title,
    `<p><a href="/">Mini-wiki</a> › <a href="../category/${category.slug}">${esc(category.title)}</a></p>
<h1 id="top">${esc(article.title)}</h1>
<p>${tools.join(" · ")}</p>
<p><a href="#english">English</a> · <a href="#russian">По-русски</a> · <a href="#see-also">See also</a></p>
${section("english", "In English", article.english)}
<div lang="ru">
${section("russian", "По-русски", article.russian)}
</div>
<h2 id="see-also">See also — См. также</h2>
<ul>
${seeAlso.join("\n")}
</ul>
<h2 id="external">External links — Внешние ссылки</h2>
<ul>
${external.map((link) => `<li>${link}</li>`).join("\n")}
</ul>
<p><a href="#top">Back to top — Наверх</a></p>`,
  );
}

function relatedHref(other: ArticleRef, form: LinkForm, host: string): string {
  switch (form) {
    case "bare":
      return other.slug;
    case "dot":
      return `./${other.slug}`;
    case "dot-dot":
      return `../wiki/${other.slug}`;
    case "root":
      return `/wiki/${other.slug}`;
    case "absolute":
      return `http://${esc(host)}/wiki/${other.slug}`;
    case "fragment":
      return `/wiki/${other.slug}#see-also`;
  }
}

/** /wiki/<slug>?action=history: links back to its article only, so the site stays finite. */
export function historyPage(article: Article): string {
  return layout(
    `History: ${article.title}`,
    `<h1>History — История</h1>
<p>Revisions of <a href="/wiki/${article.slug}">${esc(article.title)}</a>:</p>
<ol reversed>
<li>current version — текущая версия</li>
<li>revision 1: typo fixed — исправлена опечатка</li>
<li>first version — первая версия</li>
</ol>`,
  );
}

export function notFoundPage(path: string): string {
  return layout(
    "Not found — Страница не найдена",
    `<h1>404 Not found — Страница не найдена</h1>
<p>There is no page at <code>${esc(path)}</code>. <a href="/">Mini-wiki</a></p>`,
  );
}

/** The body of a 302: browsers follow Location, but a human may still see this. */
export function redirectPage(location: string): string {
  return layout(
    "Moved — Перемещено",
    `<p>Moved to <a href="${esc(location)}">${esc(location)}</a>.</p>`,
  );
}

export function layout(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
<style>body { font-family: sans-serif; max-width: 50em; margin: auto; padding: 0 1em; }</style>
</head>
<body>
${body}
</body>
</html>
`;
}

export function esc(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}
