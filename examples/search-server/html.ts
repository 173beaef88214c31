// The search server's HTML: the page's words in Russian and English, and the three pages (the
// search page, a stored page, an error) as template strings. Every string that came from outside
// (the query, and the titles, URLs and text the crawler stored from other people's sites) goes
// through escapeHtml() on its way in; the templates themselves are ours.
//
// The browser's script (static/app.js) renders the same results from the JSON API. It reads this
// language's messages from the page (data-messages on <body>), so the words live here only; it
// builds its elements with textContent, which needs no escaping at all.
import { displayUrl, type Part, type SearchResult } from "@async-from-scratch/shared/search";

export type Lang = "en" | "ru";
export const LANGS: readonly Lang[] = ["en", "ru"];

/** Hits per page of results. */
export const PER_PAGE = 10;

/**
 * The page's words. {name} is filled in with a value, escaped; a message whose name is also an
 * error code of the API (no-words, too-long, ...) says that error to a person.
 */
const MESSAGES = {
  en: {
    title: "Search",
    label: "Words to look for",
    button: "Search",
    examples: "Try:",
    // English agrees with the count: foundMessage() picks one of the three.
    found: "{total} of {pages} pages match, in {ms}",
    "found-one": "{total} of {pages} pages matches, in {ms}",
    "found-only": "{total} of {pages} page matches, in {ms}",
    range: "results {from}–{to}",
    spelling: 'No page has "{word}": searching for "{used}", one typo away',
    unmatched: "No page matches: no page has {words}, nor a word one typo away",
    "no-page-has-all": "No page has all of these words",
    "past-the-end": "No more results: there are {total}",
    "past-the-end-one": "No more results: there is {total}",
    previous: "← Previous",
    next: "Next →",
    "page-of": "page {page} of {last}",
    back: "← Back to the results",
    "stored-note": "The text the crawler stored, as it was indexed",
    footer: "{pages} pages in the index, served by one thread on a hand-made event loop",
    "no-query": "Type the words to look for.",
    "no-words": 'The query "{query}" has no words to look for.',
    "too-long": "The query is longer than {max} characters.",
    "too-many-words": "The query has more than {max} words.",
    "bad-number": "{name} must be a whole number from {min} to {max}.",
    "bad-target": "The address must start with /.",
    "bad-encoding": "The address has a broken %-escape.",
    "not-utf8": "The address has bytes that are not UTF-8 text.",
    "no-url": "Which page? The address has no url.",
    "no-such-page": "The index has no page {url}.",
    "not-found": "There is no such page here.",
    "index-damaged": "The search index is damaged: rebuild it with pnpm run crawler.",
    unreachable: "The server did not answer.",
  },
  ru: {
    title: "Поиск",
    label: "Что найти",
    button: "Найти",
    examples: "Например:",
    // "Найдено страниц: N" needs no agreement with N, unlike "N страница найдена".
    found: "Найдено страниц: {total} из {pages}, за {ms}",
    "found-one": "Найдено страниц: {total} из {pages}, за {ms}",
    "found-only": "Найдено страниц: {total} из {pages}, за {ms}",
    range: "результаты {from}–{to}",
    spelling: "Ни на одной странице нет слова «{word}»: ищем «{used}», в нём одна опечатка",
    unmatched: "Ничего не найдено: ни на одной странице нет {words}, даже с одной опечаткой",
    "no-page-has-all": "Нет страницы, на которой были бы все эти слова",
    "past-the-end": "Больше результатов нет: их {total}",
    "past-the-end-one": "Больше результатов нет: он один",
    previous: "← Назад",
    next: "Дальше →",
    "page-of": "страница {page} из {last}",
    back: "← К результатам",
    "stored-note": "Текст, который сохранил поисковый робот, как он проиндексирован",
    footer: "Страниц в индексе: {pages}. Отвечает один поток на самодельном цикле событий",
    "no-query": "Введите слова для поиска.",
    "no-words": "В запросе «{query}» нет слов для поиска.",
    "too-long": "Запрос длиннее {max} символов.",
    "too-many-words": "В запросе больше {max} слов.",
    "bad-number": "{name} должно быть целым числом от {min} до {max}.",
    "bad-target": "Адрес должен начинаться с /.",
    "bad-encoding": "В адресе испорчена %-последовательность.",
    "not-utf8": "В адресе байты, которые не являются текстом в UTF-8.",
    "no-url": "Какая страница? В адресе нет url.",
    "no-such-page": "В индексе нет страницы {url}.",
    "not-found": "Здесь нет такой страницы.",
    "index-damaged": "Поисковый индекс повреждён: пересоберите его, pnpm run crawler.",
    unreachable: "Сервер не ответил.",
  },
} as const;

export type MessageName = keyof (typeof MESSAGES)["en"];
export type Values = Record<string, string | number>;

/** Queries the front page offers, found on the fixture site's pages (the crawler's default). */
const EXAMPLES = ["сокеты", "epoll internals", '"event loop" python', "sokcets"];

/** Text made safe to stand in HTML, as element content or inside a double-quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}
const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** A message in a language, each value escaped: for HTML. */
export function say(lang: Lang, name: MessageName, values: Values = {}): string {
  return fill(lang, name, values, escapeHtml);
}

/** A message in a language as plain text, its values as they are: for JSON and logs. */
export function sayText(lang: Lang, name: MessageName, values: Values = {}): string {
  return fill(lang, name, values, (text) => text);
}

function fill(lang: Lang, name: MessageName, values: Values, escape: (text: string) => string) {
  return MESSAGES[lang][name].replace(/\{(\w+)\}/g, (_, key: string) =>
    escape(String(values[key] ?? "")),
  );
}

/**
 * Which "found" message fits the counts: "1 of 424 pages matches", "2 of 424 pages match",
 * "1 of 1 page matches". A count past the exact total ("10034+") is many. static/app.js has
 * the same choice (foundMessage() there).
 */
export function foundMessage(total: number, totalExact: boolean, pages: number): MessageName {
  if (pages === 1) return "found-only";
  return total === 1 && totalExact ? "found-one" : "found";
}

/** A duration as the language writes it: "9.3 ms", "9,3 мс". */
export function milliseconds(lang: Lang, ms: number): string {
  const number = new Intl.NumberFormat(lang, { maximumFractionDigits: ms < 10 ? 1 : 0 });
  return `${number.format(ms)} ${lang === "ru" ? "мс" : "ms"}`;
}

/** A link to one of our pages, its parameters percent-encoded (the caller escapes it for HTML). */
export function link(path: string, params: Record<string, string | number | undefined>): string {
  const pairs = Object.entries(params).filter(([, value]) => value !== undefined && value !== "");
  if (pairs.length === 0) return path;
  return `${path}?${new URLSearchParams(pairs.map(([k, v]): [string, string] => [k, String(v)]))}`;
}

export interface PageFrame {
  lang: Lang;
  /** Given when the language was picked by ?lang=, so that the links keep it. */
  fixedLang: Lang | undefined;
  query: string;
  pages: number;
}

// Every page: the search form on top (a plain GET: it works with JavaScript off), the content, a
// footer. The script and the style are files of their own, so that the Content-Security-Policy
// can allow 'self' and nothing inline (app.ts).
function layout(frame: PageFrame, title: string, content: string): string {
  const { lang, fixedLang, query } = frame;
  const other = lang === "ru" ? "en" : "ru";
  const messages = escapeHtml(JSON.stringify(MESSAGES[lang]));
  const hidden = fixedLang ? `<input type="hidden" name="lang" value="${fixedLang}">` : "";
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/static/style.css">
<link rel="icon" href="/static/icon.svg" type="image/svg+xml">
<script src="/static/app.js" defer></script>
</head>
<body data-messages="${messages}">
<header>
<form action="/" method="get" role="search">
<a class="home" href="${escapeHtml(link("/", { lang: fixedLang }))}">${say(lang, "title")}</a>
<input type="search" name="q" value="${escapeHtml(query)}" maxlength="256" autocomplete="off" aria-label="${say(lang, "label")}" placeholder="${say(lang, "label")}">${hidden}
<button>${say(lang, "button")}</button>
</form>
<a class="lang" lang="${other}" hreflang="${other}" href="${escapeHtml(link("/", { q: query, lang: other }))}">${other === "ru" ? "Русский" : "English"}</a>
</header>
${content}
<footer>${say(lang, "footer", { pages: frame.pages })}</footer>
</body>
</html>
`;
}

/** The front page: the form, and a few queries to try. */
export function frontPage(frame: PageFrame): string {
  const { lang, fixedLang } = frame;
  const examples = EXAMPLES.map((q) => {
    const href = escapeHtml(link("/", { q, lang: fixedLang }));
    return `<a href="${href}">${escapeHtml(q)}</a>`;
  });
  const main = `<main id="results">
<p class="examples">${say(lang, "examples")} ${examples.join(" · ")}</p>
</main>`;
  return layout(frame, say(lang, "title"), main);
}

/** One page of results. */
export function resultsPage(frame: PageFrame, result: SearchResult, page: number): string {
  const title = `${frame.query} — ${say(frame.lang, "title")}`;
  return layout(frame, title, `<main id="results">\n${results(frame, result, page)}</main>`);
}

// The markup app.js builds too (render() there): keep the two alike.
function results(frame: PageFrame, result: SearchResult, page: number): string {
  const { lang, fixedLang, pages } = frame;
  let html = "";
  for (const { word, used } of result.spelling?.corrections ?? []) {
    html += `<p class="spelling">${say(lang, "spelling", { word, used })}</p>\n`;
  }
  if (result.total === 0) {
    const words = result.unmatched.map((word) => (lang === "ru" ? `«${word}»` : `"${word}"`));
    const why = words.length
      ? say(lang, "unmatched", { words: words.join(", ") })
      : say(lang, "no-page-has-all");
    return `${html}<p class="status">${why}</p>\n`;
  }
  const from = (page - 1) * PER_PAGE + 1;
  const to = from + result.hits.length - 1;
  const found = say(lang, foundMessage(result.total, result.totalExact, pages), {
    // Past 10,000 matching pages the count stops being exact (shared/search): "10034+".
    total: result.totalExact ? result.total : `${result.total}+`,
    pages,
    ms: milliseconds(lang, result.tookMs),
  });
  const range = page > 1 && result.hits.length > 0 ? `; ${say(lang, "range", { from, to })}` : "";
  html += `<p class="status">${found}${range}</p>\n`;
  if (result.hits.length === 0) {
    const past = result.total === 1 ? "past-the-end-one" : "past-the-end";
    return `${html}<p>${say(lang, past, { total: result.total })}</p>\n`;
  }
  // A stored page marks the words the search used: the corrected ones, if it corrected any.
  const searched = result.spelling?.query ?? result.query;
  html += `<ol class="hits" start="${from}">\n`;
  for (const hit of result.hits) {
    const stored = escapeHtml(link("/page", { url: hit.url, q: searched, lang: fixedLang }));
    html +=
      `<li><a class="title" href="${stored}">${escapeHtml(hit.title)}</a>` +
      `${originalLink(hit.url)}<p class="snippet">${marked(hit.snippet)}</p></li>\n`;
  }
  html += "</ol>\n";
  return html + pager(frame, result.total, page);
}

// Previous and next, as plain links: with JavaScript on or off, another page is another GET.
function pager({ lang, fixedLang, query }: PageFrame, total: number, page: number): string {
  const last = Math.ceil(total / PER_PAGE);
  if (last <= 1) return "";
  // Page 1 has no page= in its address: one address for the first page, however it was reached.
  const to = (n: number) =>
    escapeHtml(link("/", { q: query, page: n > 1 ? n : undefined, lang: fixedLang }));
  const previous =
    page > 1 ? `<a rel="prev" href="${to(page - 1)}">${say(lang, "previous")}</a>` : "";
  const next = page < last ? `<a rel="next" href="${to(page + 1)}">${say(lang, "next")}</a>` : "";
  const where = `<span>${say(lang, "page-of", { page, last })}</span>`;
  return `<nav class="pager">${previous}${where}${next}</nav>\n`;
}

/** A stored page: its text, with the query's words marked. */
export function storedPage(frame: PageFrame, page: { url: string; title: string; parts: Part[] }) {
  const { lang, fixedLang, query } = frame;
  const back = escapeHtml(link("/", { q: query, lang: fixedLang }));
  const main = `<main class="stored">
<p><a href="${back}">${say(lang, "back")}</a></p>
<h1>${escapeHtml(page.title)}</h1>
${originalLink(page.url)}
<p class="note">${say(lang, "stored-note")}</p>
<p class="text">${marked(page.parts)}</p>
</main>`;
  return layout(frame, `${page.title} — ${say(lang, "title")}`, main);
}

/** An error page: the form, so that the person can try again, and what was wrong. */
export function errorPage(frame: PageFrame, message: string): string {
  return layout(
    frame,
    say(frame.lang, "title"),
    `<main id="results">\n<p class="error">${message}</p>\n</main>`,
  );
}

// Snippet parts are data: each part's text is escaped, and the matched ones wrapped in <mark>.
function marked(parts: Part[]): string {
  return parts
    .map(({ text, match }) => (match ? `<mark>${escapeHtml(text)}</mark>` : escapeHtml(text)))
    .join("");
}

// A crawled URL is someone else's text: it becomes a link only if it is http(s), so that a
// `javascript:` URL in an index can never be clicked (the CSP would stop it too). The link goes to
// the URL as stored; its text is the URL as the address bar would show it (displayUrl()).
function originalLink(url: string): string {
  const text = escapeHtml(displayUrl(url));
  if (!/^https?:\/\//i.test(url)) return `<span class="url">${text}</span>`;
  return `<a class="url" href="${escapeHtml(url)}" rel="noreferrer">${text}</a>`;
}
