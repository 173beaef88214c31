// The search server's handler: one function from a request to a reply, which knows nothing of
// sockets or loops. main.ts serves it with our own HttpServer; node_server.ts serves the very same
// function with node:http, so that bench:search-server compares the two servers, not two apps.
//
//   GET /                      the search page; ?q=words&page=N gives results, rendered here
//   GET /api/search            ?q=words&limit=N&offset=N: the results as JSON
//   GET /page                  ?url=URL&q=words: a stored page, the query's words marked
//   GET /static/app.js, ...    the page's script, style and icon, with an ETag
//
// HTTP as a browser and a cache expect it: a charset on every text type, HEAD as GET without the
// body (buildResponse does that), 404 for an unknown path, 405 with Allow for another method,
// 304 when If-None-Match names a static file's ETag. A bad query is a 400 that says what is wrong:
// empty, too long, a broken %-escape, bytes that are not UTF-8, a number out of range. A request
// the parser refuses (a huge header: 431) never reaches this function: the server answers it.
//
// Security, in one place: every page carries a Content-Security-Policy that lets scripts, styles
// and fetches come from this server only, and nothing inline, so that even a bug in escaping
// could not run a script; nosniff, so that a browser never guesses a type; no-referrer, so that
// a person's query never travels to the sites the results link to.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Reply, Request } from "@async-from-scratch/shared/server";
import {
  Index,
  MAX_OFFSET,
  MAX_QUERY_WORDS,
  SearchIndexError,
  displayUrl,
  type SearchResult,
} from "@async-from-scratch/shared/search";
import {
  LANGS,
  PER_PAGE,
  errorPage,
  frontPage,
  resultsPage,
  say,
  sayText,
  storedPage,
  type Lang,
  type MessageName,
  type PageFrame,
  type Values,
} from "./html.ts";

/** The longest query taken, in characters: a person types a few words, never a page. */
export const MAX_QUERY_LENGTH = 256;
/** The most hits one API call may ask for: each costs a snippet. */
export const MAX_API_LIMIT = 100;

const HTML = "text/html; charset=utf-8";
const JSON_TYPE = "application/json; charset=utf-8";
const TEXT = "text/plain; charset=utf-8";

export const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
};

// The static files, read once at start. Their ETag is a hash of their bytes; "no-cache" lets a
// browser keep them but makes it ask each time, and the answer is a 304 with no body. (A name
// with the hash in it, cached for a year, would save even that question: a build step's job.)
interface StaticFile {
  type: string;
  body: Buffer;
  etag: string;
}
const STATIC = new Map<string, StaticFile>(
  [
    ["app.js", "text/javascript; charset=utf-8"],
    ["style.css", "text/css; charset=utf-8"],
    ["icon.svg", "image/svg+xml; charset=utf-8"],
  ].map(([name, type]) => {
    const body = readFileSync(new URL(`./static/${name}`, import.meta.url));
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 16)}"`;
    return [`/static/${name}`, { type: type!, body, etag }];
  }),
);

/** A request we refuse, with a status, and a message name that says why in either language. */
class HttpError extends Error {
  readonly status: number;
  readonly code: MessageName;
  readonly values: Values;

  constructor(status: number, code: MessageName, values: Values = {}) {
    // Plain text: the API's JSON carries it as a string, and a page escapes it itself.
    super(sayText("en", code, values));
    this.status = status;
    this.code = code;
    this.values = values;
  }
}

/** The handler for an open index. */
export function searchApp(index: Index): (request: Request) => Reply {
  return (request) => {
    const api = request.target.startsWith("/api/");
    if (request.method !== "GET" && request.method !== "HEAD") {
      return {
        status: 405,
        headers: { Allow: "GET, HEAD", "Content-Type": TEXT, ...SECURITY_HEADERS },
        body: `405 ${request.method} is not served here: GET or HEAD\n`,
      };
    }
    let lang: Lang = "en";
    let fixedLang: Lang | undefined;
    let query = "";
    try {
      const { path, params } = parseTarget(request.target);
      fixedLang = LANGS.find((l) => l === params.get("lang"));
      lang = fixedLang ?? preferredLang(request.headers.get("accept-language"));
      query = params.get("q") ?? "";
      const frame: PageFrame = { lang, fixedLang, query, pages: index.pages };
      switch (path) {
        case "/":
          return html(200, searchPage(index, frame, params), fixedLang);
        case "/api/search":
          return json(200, apiSearch(index, params));
        case "/page":
          return html(200, stored(index, frame, params), fixedLang);
      }
      const file = STATIC.get(path);
      if (file !== undefined) return staticFile(file, request.headers.get("if-none-match"));
      throw new HttpError(404, "not-found");
    } catch (error) {
      // A damaged index is no bug of ours: the person is told so (503, "try later"), the log too.
      if (error instanceof SearchIndexError) error = new HttpError(503, "index-damaged");
      if (!(error instanceof HttpError)) throw error; // a bug: the server answers 500, logs it
      // The API's error: a code, an English message, and the figures in it (max, ...).
      const { code, message, values } = error;
      if (api) return json(error.status, { error: code, message, ...values });
      const frame = { lang, fixedLang, query, pages: index.pages };
      return html(error.status, errorPage(frame, say(lang, code, values)), fixedLang);
    }
  };
}

// ---- the three kinds of page --------------------------------------------------------------------

function searchPage(index: Index, frame: PageFrame, params: Map<string, string>): string {
  if (!params.has("q")) return frontPage(frame);
  const page = number(params, "page", 1, 1, 1 + MAX_OFFSET / PER_PAGE);
  const result = search(index, frame.query, PER_PAGE, (page - 1) * PER_PAGE);
  return resultsPage(frame, result, page);
}

function apiSearch(index: Index, params: Map<string, string>) {
  const limit = number(params, "limit", 10, 1, MAX_API_LIMIT);
  const offset = number(params, "offset", 0, 0, MAX_OFFSET);
  const result = search(index, params.get("q") ?? "", limit, offset);
  const { query, total, totalExact, hits, spelling, unmatched, tookMs } = result;
  return {
    query,
    total,
    totalExact,
    offset,
    limit,
    pages: index.pages,
    tookMs,
    spelling,
    unmatched,
    // displayUrl: the URL as a person reads it, for the script to show beside the link to url;
    // worked out here, so that the rules live in one function (shared/search/url.ts).
    hits: hits.map(({ url, title, score, snippet }) => {
      return { url, displayUrl: displayUrl(url), title, score, snippet };
    }),
  };
}

function stored(index: Index, frame: PageFrame, params: Map<string, string>): string {
  const url = params.get("url");
  if (!url) throw new HttpError(400, "no-url");
  if (frame.query.length > MAX_QUERY_LENGTH) {
    throw new HttpError(400, "too-long", { max: MAX_QUERY_LENGTH });
  }
  const page = index.page(url, frame.query);
  // Named as the address bar shows it: a Cyrillic path readable, not a wall of %D0%BF.
  if (page === null) throw new HttpError(404, "no-such-page", { url: displayUrl(url) });
  return storedPage(frame, page);
}

/** The index's answer, or a 400 for a query it cannot take. */
function search(index: Index, query: string, limit: number, offset: number): SearchResult {
  if (query.trim() === "") throw new HttpError(400, "no-query");
  if (query.length > MAX_QUERY_LENGTH) {
    throw new HttpError(400, "too-long", { max: MAX_QUERY_LENGTH });
  }
  let result: SearchResult;
  try {
    result = index.search(query, { limit, offset });
  } catch (error) {
    // The only RangeError left, limit and offset being checked: more than MAX_QUERY_WORDS words.
    if (error instanceof RangeError) {
      throw new HttpError(400, "too-many-words", { max: MAX_QUERY_WORDS });
    }
    throw error;
  }
  if (result.terms.length === 0) throw new HttpError(400, "no-words", { query });
  return result;
}

// ---- HTTP -----------------------------------------------------------------------------------------

function html(status: number, body: string, fixedLang: Lang | undefined): Reply {
  const headers: Record<string, string> = { "Content-Type": HTML, ...SECURITY_HEADERS };
  // The language came from Accept-Language: a cache must keep one copy per language.
  if (fixedLang === undefined) headers.Vary = "Accept-Language";
  return { status, headers, body };
}

function json(status: number, value: unknown): Reply {
  return {
    status,
    headers: { "Content-Type": JSON_TYPE, ...SECURITY_HEADERS },
    body: JSON.stringify(value),
  };
}

function staticFile(file: StaticFile, ifNoneMatch: string | undefined): Reply {
  const headers = {
    "Content-Type": file.type,
    ETag: file.etag,
    "Cache-Control": "no-cache",
    ...SECURITY_HEADERS,
  };
  // RFC 9110 13.1.2: a list of tags, or "*"; compared weakly, so a W/ prefix does not matter.
  const tags = ifNoneMatch?.split(",").map((tag) => tag.trim().replace(/^W\//, "")) ?? [];
  if (tags.includes("*") || tags.includes(file.etag)) return { status: 304, headers };
  return { status: 200, headers, body: file.body };
}

/**
 * The path and the query parameters of an origin-form target ("/page?url=..."). Each name and
 * value is decoded strictly: URLSearchParams would turn a broken %-escape or bytes that are not
 * UTF-8 into U+FFFD without a word, and search for something nobody typed. The first of a
 * repeated parameter counts.
 */
export function parseTarget(target: string): { path: string; params: Map<string, string> } {
  // The absolute form ("GET http://host/path"), which a server must take too (RFC 9112 3.2.2),
  // is read as its path; "*" (OPTIONS) never gets here, its method being refused already.
  target = target.replace(/^https?:\/\/[^/?]*/i, "") || "/";
  if (!target.startsWith("/")) throw new HttpError(400, "bad-target");
  const mark = target.indexOf("?");
  const path = mark === -1 ? target : target.slice(0, mark);
  const params = new Map<string, string>();
  if (mark === -1) return { path, params };
  for (const pair of target.slice(mark + 1).split("&")) {
    if (pair === "") continue;
    const equals = pair.indexOf("=");
    const name = decode(equals === -1 ? pair : pair.slice(0, equals));
    const value = decode(equals === -1 ? "" : pair.slice(equals + 1));
    if (!params.has(name)) params.set(name, value);
  }
  return { path, params };
}

// application/x-www-form-urlencoded, as a form's GET sends it: "+" is a space, %XX a byte, and
// the bytes must be UTF-8 (decodeURIComponent refuses anything else, overlong forms included).
function decode(text: string): string {
  const spaced = text.replaceAll("+", " ");
  if (/%(?![0-9A-Fa-f]{2})/.test(spaced)) throw new HttpError(400, "bad-encoding");
  try {
    return decodeURIComponent(spaced);
  } catch {
    throw new HttpError(400, "not-utf8");
  }
}

function number(
  params: Map<string, string>,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const text = params.get(name);
  if (text === undefined) return fallback;
  const value = /^\d{1,6}$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) throw new HttpError(400, "bad-number", { name, min, max });
  return value;
}

/** The language a browser asks for first, of the two we have (Accept-Language, RFC 9110 12.5.4). */
export function preferredLang(header: string | undefined): Lang {
  let best: Lang = "en";
  let bestWeight = 0;
  for (const item of (header ?? "").split(",")) {
    const [range = "", ...rest] = item.trim().toLowerCase().split(";");
    const q = rest.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find(Boolean);
    const weight = q === undefined ? 1 : Number(q);
    const lang = LANGS.find((l) => range === l || range.startsWith(`${l}-`));
    if (lang !== undefined && weight > bestWeight) [best, bestWeight] = [lang, weight];
  }
  return best;
}
