// What a crawler takes from an HTML page: its title, its visible text (for the index) and its links
// (for the queue). The page goes through a real HTML tokenizer (htmlparser2), not regular
// expressions: a regex finds "<a href" inside comments and scripts, trips on unquoted or
// uppercase attributes, and does not decode entities. htmlparser2 also closes the elements that
// HTML lets a page leave open (<p>, <li>, <td>), so every open tag gets its close tag.
//
//   const page = parsePage(decodeBody(body, headers.get("content-type")), url);
//   for (const link of linksOnHost(page.links, new URL(url).host)) queue.push(link);
import { Parser } from "htmlparser2";

export interface Page {
  /** The first <title>'s text, whitespace collapsed; "" if the page has none. */
  title: string;
  /** What a reader sees: no scripts, styles or comments, one space between words. */
  text: string;
  /** Absolute http(s) URLs without #fragments, each once, in the order the page has them. */
  links: string[];
}

// Elements whose text a reader never sees. <head> is not listed: its only elements with text are
// these, and a browser shows stray text in <head> as body text, so listing it would hide a whole
// page that forgot its </head>.
const HIDDEN = new Set(["script", "style", "noscript", "template", "title"]);

// Elements that start a new line or box: "<p>a</p><p>b</p>" is the two words "a b", while inline
// elements join: "<b>in</b>line" is one word.
const BLOCK = new Set([
  ..."address article aside blockquote br caption dd details dialog div dl dt fieldset".split(" "),
  ..."figcaption figure footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol option".split(" "),
  ..."p pre section summary table tbody td textarea tfoot th thead tr ul".split(" "),
]);

/** Title, visible text and links of `html`, whose own address is `pageUrl`. */
export function parsePage(html: string, pageUrl: string): Page {
  const titleParts: string[] = [];
  const textParts: string[] = [];
  const hrefs: string[] = [];
  let baseHref: string | undefined;
  let hiddenDepth = 0;
  let titleState: "before" | "inside" | "done" = "before";

  // htmlparser2 lowercases tag and attribute names and decodes entities in text and attributes.
  const parser = new Parser({
    onopentag(name, attributes) {
      if (HIDDEN.has(name)) hiddenDepth++;
      if (BLOCK.has(name)) textParts.push(" ");
      if (name === "title" && titleState === "before") titleState = "inside";
      const href = attributes["href"];
      if (href === undefined) return;
      if (name === "a" || name === "area") hrefs.push(href);
      // Only the first <base href> counts, and it applies to links before it too (HTML spec).
      if (name === "base" && baseHref === undefined) baseHref = href;
    },
    onclosetag(name) {
      if (HIDDEN.has(name)) hiddenDepth--;
      if (BLOCK.has(name)) textParts.push(" ");
      if (name === "title" && titleState === "inside") titleState = "done";
    },
    ontext(data) {
      if (titleState === "inside") titleParts.push(data);
      if (hiddenDepth === 0) textParts.push(data);
    },
  });
  parser.end(html);

  const page = new URL(pageUrl);
  const base = (baseHref === undefined ? null : parseUrl(baseHref, page)) ?? page;
  return {
    title: collapseWhitespace(titleParts.join("")),
    text: collapseWhitespace(textParts.join("")),
    links: resolveLinks(hrefs, base),
  };
}

function resolveLinks(hrefs: string[], base: URL): string[] {
  const links = new Set<string>();
  for (const href of hrefs) {
    // The URL parser trims the surrounding whitespace an href may have, and "" means the base.
    const url = parseUrl(href, base);
    // mailto:, javascript:, data:, tel: and the like are not pages to fetch.
    if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
    // "page#a" and "page#b" are one page to a crawler.
    url.hash = "";
    links.add(url.href);
  }
  return [...links];
}

/** Only the http: links whose host (with its port, if not 80) is `host`, e.g. "127.0.0.1:8080". */
export function linksOnHost(links: string[], host: string): string[] {
  // Normalized the way URL.host is, so "Example.org:80" matches "http://example.org/".
  const wanted = new URL(`http://${host}/`).host;
  return links.filter((link) => {
    const url = parseUrl(link);
    return url !== null && url.protocol === "http:" && url.host === wanted;
  });
}

/**
 * The text of a response body, decoded with the charset its Content-Type names
 * ("text/html; charset=windows-1251"). No charset, or one TextDecoder does not know: UTF-8, which
 * turns undecodable bytes into U+FFFD instead of failing the page.
 */
export function decodeBody(body: Uint8Array, contentType?: string): string {
  const charset = (contentType === undefined ? undefined : charsetOf(contentType)) ?? "utf-8";
  return new TextDecoder(isKnownCharset(charset) ? charset : "utf-8").decode(body);
}

function isKnownCharset(label: string): boolean {
  try {
    new TextDecoder(label);
    return true;
  } catch {
    return false; // RangeError: not an encoding TextDecoder knows
  }
}

// The charset parameter of a media type: `text/html; Charset="koi8-r"` gives "koi8-r".
function charsetOf(contentType: string): string | undefined {
  for (const parameter of contentType.split(";").slice(1)) {
    const equals = parameter.indexOf("=");
    if (equals === -1 || parameter.slice(0, equals).trim().toLowerCase() !== "charset") continue;
    const value = parameter.slice(equals + 1).trim();
    return value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  }
  return undefined;
}

// Tabs, newlines and no-break spaces (&nbsp;) all separate words the same way.
function collapseWhitespace(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function parseUrl(input: string, base?: URL): URL | null {
  try {
    return new URL(input, base);
  } catch {
    return null;
  }
}
