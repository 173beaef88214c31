// What a crawler takes from an HTML page: its title, its visible text (for the index), its links
// (for the queue), and what its <meta name="robots"> asks; and how to find the page's charset.
// The page goes through a real HTML tokenizer (htmlparser2), not regular expressions: a regex
// finds "<a href" inside comments and scripts, trips on unquoted or uppercase attributes, and
// does not decode entities. htmlparser2 also closes the elements that HTML lets a page leave open
// (<p>, <li>, <td>), so every open tag gets its close tag.
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
  /**
   * What `<meta name="robots" content="noindex, nofollow">` asks of a crawler: not to index this
   * page, not to follow its links ("none" is both). Both false when the page says nothing.
   */
  robots: { noindex: boolean; nofollow: boolean };
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
  const robots = { noindex: false, nofollow: false };
  let hiddenDepth = 0;
  let titleState: "before" | "inside" | "done" = "before";

  // htmlparser2 lowercases tag and attribute names and decodes entities in text and attributes.
  const parser = new Parser({
    onopentag(name, attributes) {
      if (HIDDEN.has(name)) hiddenDepth++;
      if (BLOCK.has(name)) textParts.push(" ");
      if (name === "title" && titleState === "before") titleState = "inside";
      if (name === "meta" && attributes["name"]?.trim().toLowerCase() === "robots") {
        for (const directive of (attributes["content"] ?? "").toLowerCase().split(",")) {
          const word = directive.trim();
          if (word === "noindex" || word === "none") robots.noindex = true;
          if (word === "nofollow" || word === "none") robots.nofollow = true;
        }
      }
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
    robots,
  };
}

function resolveLinks(hrefs: string[], base: URL): string[] {
  const links = new Set<string>();
  // "page#a" and "page#b" are one page to a crawler, and pages link to themselves ("#section")
  // and to the same pages over and over (a table of contents, an index): so the fragment goes
  // first (the URL parser ends every part of a URL at the first "#"), and each distinct href is
  // parsed once.
  const distinct = new Set<string>();
  for (const href of hrefs) {
    const hash = href.indexOf("#");
    const unhashed = hash === -1 ? href : href.slice(0, hash);
    if (distinct.has(unhashed)) continue;
    distinct.add(unhashed);
    // The URL parser trims the surrounding whitespace an href may have, and "" means the base.
    const url = parseUrl(unhashed, base);
    // mailto:, javascript:, data:, tel: and the like are not pages to fetch.
    if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
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
 * The text of a response body, in the charset that sniffCharset() finds: a byte order mark, the
 * charset of the Content-Type ("text/html; charset=windows-1251"), a <meta> near the top, or
 * UTF-8, which turns undecodable bytes into U+FFFD instead of failing the page.
 */
export function decodeBody(body: Uint8Array, contentType?: string): string {
  return new TextDecoder(sniffCharset(body, contentType).charset).decode(body);
}

export interface Charset {
  /** A label TextDecoder knows: "utf-8", "windows-1251", "koi8-r"... */
  charset: string;
  /** Where it was found. */
  from: "bom" | "header" | "meta" | "default";
}

/**
 * The charset of an HTML body, found the way browsers find it (the HTML standard's "encoding
 * sniffing algorithm", shortened): a byte order mark wins over everything; then the charset of
 * the Content-Type; then a `<meta charset>` or `<meta http-equiv="Content-Type" content="...;
 * charset=...">` in the first 1024 bytes; else UTF-8. A label TextDecoder does not know counts as
 * none. Old Russian sites declare windows-1251 or koi8-r either way, and often only in <meta>.
 */
export function sniffCharset(body: Uint8Array, contentType?: string): Charset {
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) {
    return { charset: "utf-8", from: "bom" };
  }
  if (body[0] === 0xfe && body[1] === 0xff) return { charset: "utf-16be", from: "bom" };
  if (body[0] === 0xff && body[1] === 0xfe) return { charset: "utf-16le", from: "bom" };
  const fromHeader = contentType === undefined ? undefined : knownCharset(charsetOf(contentType));
  if (fromHeader !== undefined) return { charset: fromHeader, from: "header" };
  const fromMeta = knownCharset(metaCharset(body));
  // A page that reached us as bytes cannot be UTF-16 because its ASCII <meta> says so (HTML
  // standard): the <meta> itself was read as ASCII.
  if (fromMeta !== undefined) {
    return { charset: fromMeta.startsWith("utf-16") ? "utf-8" : fromMeta, from: "meta" };
  }
  return { charset: "utf-8", from: "default" };
}

// The charset a <meta> in the first 1024 bytes declares. A regular expression is enough here,
// unlike for links: the standard's own "prescan" is a small byte-level scanner of <meta> tags
// that skips comments, which this does too.
function metaCharset(body: Uint8Array): string | undefined {
  const head = Buffer.from(body.buffer, body.byteOffset, Math.min(body.length, 1024))
    .toString("latin1")
    .replace(/<!--[^]*?(-->|$)/g, "");
  for (const [, attributeText = ""] of head.matchAll(/<meta\b([^>]*)>?/gi)) {
    const attributes = new Map<string, string>();
    for (const [, name = "", value = ""] of attributeText.matchAll(
      /([^\s=/>]+)\s*(?:=\s*("[^"]*"|'[^']*'|[^\s>]+))?/g,
    )) {
      const lower = name.toLowerCase();
      if (!attributes.has(lower)) attributes.set(lower, value.replace(/^["']|["']$/g, ""));
    }
    const charset = attributes.get("charset");
    if (charset) return charset.trim();
    if (attributes.get("http-equiv")?.toLowerCase() === "content-type") {
      const declared = charsetOf(attributes.get("content") ?? "");
      if (declared) return declared;
    }
  }
  return undefined;
}

// Each label asked once: a TextDecoder is not cheap to make, and every page of a site that
// declares its charset only in <meta> would make one.
const charsetNames = new Map<string, string | undefined>();

/** The label as TextDecoder names it, or undefined if it knows no such charset. */
function knownCharset(label: string | undefined): string | undefined {
  if (label === undefined) return undefined;
  if (charsetNames.has(label)) return charsetNames.get(label);
  let name: string | undefined;
  try {
    name = new TextDecoder(label).encoding;
  } catch {
    name = undefined; // RangeError: not an encoding TextDecoder knows
  }
  if (charsetNames.size < 1000) charsetNames.set(label, name); // labels come from the web
  return name;
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
