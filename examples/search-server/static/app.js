// The search page's one script: results as you type, from the JSON API (/api/search). The page
// works without it, since the form is a plain GET and the server renders the same results; this
// only saves a person the Enter key and a page load.
//
// Every element is built with textContent, never innerHTML: a title or a snippet from a crawled
// page is text, whatever characters it holds, so nothing here needs escaping. The words come
// from the page itself (data-messages on <body>, in the page's language), and the markup is the
// one html.ts's results() writes: keep the two alike. No framework and no build step: the
// browser gets this file as it is.
"use strict";

const PER_PAGE = 10; // html.ts's PER_PAGE
const DELAY_MS = 150; // wait for a pause in typing: one request per word, not per key

const form = document.querySelector('form[role="search"]');
const input = form.elements.namedItem("q");
const results = document.getElementById("results"); // not on a stored page
const messages = JSON.parse(document.body.dataset.messages);
const lang = document.documentElement.lang;
const fixedLang = form.elements.namedItem("lang")?.value; // when ?lang= chose the language
const otherLang = document.querySelector("a.lang"); // the link to this page in the other language

let timer = 0;
let inFlight = null; // the AbortController of the request under way

if (results !== null) {
  if (input.value === "") input.focus();
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, DELAY_MS);
  });
}

async function search() {
  const query = input.value;
  inFlight?.abort(); // its answer would be for words no longer in the box
  // Nothing to search for until a letter or a digit is typed: a lone `"` that begins a phrase, or
  // a "<", would be answered "no words to search for" (a 400, which the console also reports)
  // while the person is still typing.
  if (!/[\p{L}\p{N}]/u.test(query)) {
    inFlight = null;
    results.replaceChildren();
    history.replaceState(null, "", address("/", { lang: fixedLang }));
    otherLang.href = address("/", { lang: otherLang.hreflang });
    return;
  }
  const controller = (inFlight = new AbortController());
  let answer;
  try {
    const response = await fetch(address("/api/search", { q: query }), {
      signal: controller.signal,
    });
    answer = await response.json();
  } catch {
    if (controller.signal.aborted) return;
    answer = { error: "unreachable" };
  }
  if (controller !== inFlight) return;
  inFlight = null;
  render(answer);
  // The address says what is shown, so that a reload, a bookmark or a shared link gives the
  // same results; replaceState, not pushState: Back should not step through every word typed.
  history.replaceState(null, "", address("/", { q: query, lang: fixedLang }));
  otherLang.href = address("/", { q: query, lang: otherLang.hreflang });
  document.title = `${query} — ${messages.title}`;
}

function render(answer) {
  if (answer.error !== undefined) {
    const text = answer.error in messages ? say(answer.error, answer) : answer.message;
    results.replaceChildren(element("p", "error", text));
    return;
  }
  const shown = [];
  for (const { word, used } of answer.spelling?.corrections ?? []) {
    shown.push(element("p", "spelling", say("spelling", { word, used })));
  }
  if (answer.total === 0) {
    const words = answer.unmatched.map((word) => (lang === "ru" ? `«${word}»` : `"${word}"`));
    const why = words.length
      ? say("unmatched", { words: words.join(", ") })
      : say("no-page-has-all");
    shown.push(element("p", "status", why));
    results.replaceChildren(...shown);
    return;
  }
  const ms = milliseconds(answer.tookMs);
  shown.push(
    element(
      "p",
      "status",
      say(foundMessage(answer.total, answer.totalExact, answer.pages), {
        total: answer.totalExact ? answer.total : `${answer.total}+`,
        pages: answer.pages,
        ms,
      }),
    ),
  );
  // A stored page marks the words the search used: the corrected ones, if it corrected any.
  const searched = answer.spelling?.query ?? answer.query;
  const list = element("ol", "hits");
  list.start = 1;
  for (const hit of answer.hits) {
    const title = element("a", "title", hit.title);
    title.href = address("/page", { url: hit.url, q: searched, lang: fixedLang });
    const snippet = element("p", "snippet");
    for (const part of hit.snippet) {
      snippet.append(part.match ? element("mark", null, part.text) : part.text);
    }
    const item = document.createElement("li");
    item.append(title, originalLink(hit.url, hit.displayUrl), snippet);
    list.append(item);
  }
  shown.push(list);
  const last = Math.ceil(answer.total / PER_PAGE);
  if (last > 1) {
    const next = element("a", null, say("next"));
    next.rel = "next";
    next.href = address("/", { q: answer.query, page: 2, lang: fixedLang });
    const pager = element("nav", "pager");
    pager.append(element("span", null, say("page-of", { page: 1, last })), next);
    shown.push(pager);
  }
  results.replaceChildren(...shown);
}

// As html.ts's foundMessage(): English agrees with the count ("1 of 424 pages matches").
function foundMessage(total, totalExact, pages) {
  if (pages === 1) return "found-only";
  return total === 1 && totalExact ? "found-one" : "found";
}

// As html.ts's originalLink(): a link only to an http(s) URL, its text the URL as the address
// bar shows it (the API's displayUrl).
function originalLink(url, shown) {
  if (!/^https?:\/\//i.test(url)) return element("span", "url", shown);
  const link = element("a", "url", shown);
  link.href = url;
  link.rel = "noreferrer";
  return link;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function say(name, values = {}) {
  return messages[name].replace(/\{(\w+)\}/g, (_, key) => String(values[key] ?? ""));
}

function milliseconds(ms) {
  const number = new Intl.NumberFormat(lang, { maximumFractionDigits: ms < 10 ? 1 : 0 });
  return `${number.format(ms)} ${lang === "ru" ? "мс" : "ms"}`;
}

// As html.ts's link(): parameters that are empty are left out.
function address(path, params) {
  const pairs = Object.entries(params).filter(([, value]) => value !== undefined && value !== "");
  return pairs.length ? `${path}?${new URLSearchParams(pairs)}` : path;
}
