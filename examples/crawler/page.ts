// From a response body to what the crawl needs of it, with no I/O, so that it can run in a worker
// thread (tasks.ts) as well as in the loop's thread: undo the Content-Encoding (gzip, deflate),
// find the charset (BOM, header, <meta>), decode, parse (title, text, links, <meta name=robots>),
// and put each link in its one spelling (urls.ts). And the digest of a body, by which identical
// pages under different URLs are indexed once.
import { createHash } from "node:crypto";
import {
  brotliDecompressSync,
  constants,
  gunzipSync,
  inflateRawSync,
  inflateSync,
  type ZlibOptions,
} from "node:zlib";
import { looksLikeHtml, readHtml } from "@async-from-scratch/shared/html";
import { remembered } from "@async-from-scratch/shared/remember";
import { normalizeUrl } from "./urls.ts";

export interface PageInput {
  url: string;
  /** The body as it came, still compressed if it was. */
  body: Uint8Array;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  /** Cap on the decompressed size: a few KiB of gzip can inflate to gigabytes. */
  maxBytes: number;
}

export interface PageResult {
  title: string;
  text: string;
  /** The text of its headings, a part of `text`, for the index to weigh (shared/html.ts). */
  headings: string;
  /** Absolute http(s) links in their one spelling, each once, in page order. */
  links: string[];
  noindex: boolean;
  nofollow: boolean;
  /**
   * Where a `<meta http-equiv="refresh">` sends the reader within REFRESH_REDIRECT_S (in its one
   * spelling): a redirect, made in HTML. Null if the page has no such refresh.
   */
  redirect: string | null;
  /** "windows-1251 from header" */
  charset: string;
  /** Why only a part of the page was read, or null: "gzip body cut short" (decodeContent). */
  partial: string | null;
  /** Size of the decompressed body. */
  bytes: number;
}

/**
 * The page, or null for a body that came without a type (no Content-Type, or one that names
 * none) and does not begin as HTML does: a browser, and wget -r, take such a body for HTML if it
 * looks like it (the MIME Sniffing standard), and servers do send pages so (Apache 2.4 for a file
 * whose name has no extension it knows, a hand-written CGI script).
 */
export function readPage(input: PageInput): PageResult | null {
  const cut: Cut = { coding: undefined };
  const body = decodeContent(input.body, input.contentEncoding, input.maxBytes, cut);
  const type = extractMimeType(input.contentType);
  if (type === null && !looksLikeHtml(body)) return null;
  const { page, charset } = readHtml(body, input.url, type?.charset);
  const links = new Set<string>();
  for (const link of page.links) {
    const normal = normalForm(link);
    if (normal !== null) links.add(normal);
  }
  const refresh = page.refresh;
  const target =
    refresh !== null && refresh.seconds <= REFRESH_REDIRECT_S ? normalForm(refresh.url) : null;
  // The page itself spelled another way ("/%7Euser/live" on /~user/live) is a reload, as
  // parsePage takes one spelled the same: not a redirect, which would be a loop of one.
  const redirect = target === input.url ? null : target;
  return {
    title: page.title,
    text: page.text,
    headings: page.headings,
    links: [...links],
    noindex: page.robots.noindex,
    nofollow: page.robots.nofollow,
    redirect,
    charset: `${charset.charset} from ${charset.from}`,
    partial: cut.coding === undefined ? null : `${cut.coding} body cut short`,
    bytes: body.length,
  };
}

// A page that refreshes to another URL at once, or after a moment ("You will be taken to the new
// page in 3 seconds"), is a page that has moved: its target is what to index, as Google and
// Yandex treat it, and the page itself is a redirect. A page that goes on after longer shows
// something worth reading first (a slide, a notice); its target is only a link.
const REFRESH_REDIRECT_S = 5;

// Pages link to the same pages over and over (a site's menu, its index, "next" and "previous"),
// and normalizing a link parses it again and again: so each link is normalized once per thread
// that reads pages, as long as the memory has room (bounded for a crawl of millions of URLs; the
// links every page has are back in it after a few pages).
const normalForm = remembered((link: string) => normalizeUrl(link), 20_000);

/**
 * SHA-1 of a body as it came (base64), with its Content-Encoding: the same page from the same
 * server comes compressed the same way, so two URLs with one body have one digest, and the loop's
 * thread can tell before a worker thread has decompressed and read it. (Two servers that compress
 * one page differently give two digests; the index then finds the twin by its title and text.)
 */
export function bodyDigest(body: Uint8Array, contentEncoding: string | undefined): string {
  return createHash("sha1")
    .update(contentEncoding ?? "")
    .update("\0")
    .update(body)
    .digest("base64");
}

/** Where decodeContent says whether a compressed body ended before its stream did. */
export interface Cut {
  /** The coding whose stream was cut ("gzip"); undefined if none was. */
  coding: string | undefined;
}

/**
 * The body with its Content-Encoding undone ("gzip", "deflate", "br", or a list of them, applied
 * in order and so undone from the last); an empty body stays empty. An Error for a coding we do
 * not know or bytes that do not decode, or past maxBytes.
 *
 * A compressed stream that ends early, though the response was whole (a Content-Length that
 * counted the bytes a server had, not the ones it meant to send: a gzip file cut on disk, a
 * proxy that gave up mid-stream and still framed what it had), gives what decoded of it, as
 * browsers show it and wget keeps it, and says so in `cut`: the page is read and indexed as far
 * as it goes, and the report lists it. An error only if nothing decoded.
 */
export function decodeContent(
  body: Uint8Array,
  contentEncoding: string | undefined,
  maxBytes: number,
  cut?: Cut,
): Uint8Array {
  const codings = (contentEncoding ?? "")
    .toLowerCase()
    .split(",")
    .map((coding) => coding.trim())
    .filter((coding) => coding !== "" && coding !== "identity");
  // An empty body is an empty page however it says it is encoded: nothing to decode (a server
  // that compresses every response may send one of no bytes as it is).
  if (body.length === 0) return body;
  let bytes = body;
  for (const coding of codings.reverse()) {
    try {
      try {
        bytes = decode(bytes, coding, { maxOutputLength: maxBytes });
      } catch (error) {
        // zlib's "unexpected end of file" (Z_BUF_ERROR): the stream ran out before its end. A
        // sync flush at the end, instead of the finish that fails, hands out what was decoded.
        // Tried only then, so a whole body is decoded once. (Brotli's decoder hands out nothing
        // so, and we do not ask for brotli.)
        const ranOut = (error as NodeJS.ErrnoException).code === "Z_BUF_ERROR";
        if (!ranOut || cut === undefined || coding === "br") throw error;
        // In pieces of the usual size: the last four bytes of a cut stream are not its size.
        const options = {
          maxOutputLength: maxBytes,
          finishFlush: constants.Z_SYNC_FLUSH,
          chunkSize: constants.Z_DEFAULT_CHUNK,
        };
        const start = decode(bytes, coding, options);
        if (start.length === 0) throw error; // cut inside its header: nothing to show
        cut.coding ??= coding;
        bytes = start;
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ERR_BUFFER_TOO_LARGE") {
        throw new Error(`body exceeds ${maxBytes} bytes once decompressed`);
      }
      if (code?.startsWith("Z_")) {
        throw new Error(`bad ${coding} body: ${(error as Error).message}`);
      }
      throw error;
    }
  }
  return bytes;
}

function decode(bytes: Uint8Array, coding: string, options: ZlibOptions): Uint8Array {
  if (coding === "gzip" || coding === "x-gzip") return gunzip(bytes, options);
  if (coding === "br") return brotliDecompressSync(bytes, options);
  if (coding === "deflate") return inflateDeflate(bytes, options);
  throw new Error(`unknown Content-Encoding: ${coding}`);
}

// Node's gunzipSync() decompresses into pieces of `chunkSize` bytes (16 KiB unless told) and then
// copies them into one Buffer: every byte of a page copied once more, and a Buffer made per piece.
// A gzip stream ends with its decompressed size (ISIZE, RFC 1952, modulo 4 GiB), so a chunkSize
// one byte more than that (one more, or zlib would stop at the full buffer and Node would start
// another) makes the whole page one piece: a third less time on the Python docs, cold. The size
// comes from the server, so it is only a guess: capped at maxBytes, which maxOutputLength still
// enforces, and at least 1 KiB, so that a wrong small one (or a body of several gzip members,
// where the trailer is the last member's) costs pieces of 1 KiB at worst, not of a few bytes.
// A chunkSize in `options` is taken as it is.
function gunzip(bytes: Uint8Array, options: ZlibOptions): Uint8Array {
  if (options.chunkSize !== undefined) return gunzipSync(bytes, options);
  const maxBytes = options.maxOutputLength!;
  const trailer = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const size = bytes.length < 18 ? 0 : trailer.getUint32(bytes.length - 4, true);
  const chunkSize = Math.max(Math.min(size, maxBytes) + 1, 1024);
  return gunzipSync(bytes, { ...options, chunkSize });
}

// "deflate" is the zlib format (RFC 9110 8.4.1.2), but some servers send raw deflate without the
// zlib header; browsers accept both, so do we. A zlib stream starts with 0x78 (32 KiB window).
function inflateDeflate(bytes: Uint8Array, options: ZlibOptions): Uint8Array {
  return (bytes[0]! & 0x0f) === 8 && (bytes[0]! * 256 + bytes[1]!) % 31 === 0
    ? inflateSync(bytes, options)
    : inflateRawSync(bytes, options);
}

export interface MimeType {
  /** "text/html": type and subtype, lower case. */
  essence: string;
  charset: string | undefined;
}

/**
 * The MIME type a Content-Type header says, the Fetch standard's way ("extract a MIME type"): a
 * header sent twice arrives joined ("text/html, text/html"), and a browser takes the last type
 * it can parse that is not the wildcard one; a charset stays from an earlier value of the same
 * type that had one. Null if there is none.
 */
export function extractMimeType(value: string | undefined): MimeType | null {
  let result: MimeType | null = null;
  for (const item of splitOutsideQuotes(value ?? "")) {
    const type = parseMimeType(item);
    if (type === null || type.essence === "*/*") continue;
    const previous: MimeType | null = result;
    if (type.essence === previous?.essence) type.charset ??= previous.charset;
    result = type;
  }
  return result;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HTTP_SPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;

// The MIME Sniffing standard's "parse a MIME type", keeping only the charset parameter (its first).
function parseMimeType(text: string): MimeType | null {
  const slash = text.indexOf("/");
  const semicolon = text.includes(";") ? text.indexOf(";") : text.length;
  const type = text.slice(0, Math.max(slash, 0));
  const subtype = text.slice(slash + 1, semicolon).replace(HTTP_SPACE, "");
  if (slash < 0 || slash > semicolon || !TOKEN.test(type) || !TOKEN.test(subtype)) return null;
  let charset: string | undefined;
  for (let i = semicolon; i < text.length;) {
    i++; // past the ";"
    while (/[\t\n\r ]/.test(text[i] ?? "")) i++;
    let end = i;
    while (end < text.length && text[end] !== ";" && text[end] !== "=") end++;
    const name = text.slice(i, end).toLowerCase();
    i = end;
    if (text[i] !== "=") continue; // a name without a value: skipped
    i++;
    let parameter: string;
    if (text[i] === '"') {
      [parameter, i] = quotedString(text, i);
      while (i < text.length && text[i] !== ";") i++;
    } else {
      end = text.includes(";", i) ? text.indexOf(";", i) : text.length;
      parameter = text.slice(i, end).replace(HTTP_SPACE, "");
      i = end;
    }
    if (name === "charset" && charset === undefined && parameter !== "") charset = parameter;
  }
  return { essence: `${type}/${subtype}`.toLowerCase(), charset };
}

// From the opening quote at `start`: the string's value (escapes undone), and where it ended.
function quotedString(text: string, start: number): [string, number] {
  let value = "";
  let i = start + 1;
  for (; i < text.length && text[i] !== '"'; i++) {
    if (text[i] === "\\" && i + 1 < text.length) i++;
    value += text[i];
  }
  return [value, i + 1];
}

// A header's value split at its commas, except those in quoted strings (Fetch: "getting,
// decoding, and splitting").
function splitOutsideQuotes(value: string): string[] {
  const items: string[] = [];
  let start = 0;
  for (let i = 0; i <= value.length; i++) {
    if (value[i] === '"') i = quotedString(value, i)[1] - 1;
    else if (i === value.length || value[i] === ",") {
      items.push(value.slice(start, i).replace(HTTP_SPACE, ""));
      start = i + 1;
    }
  }
  return items;
}
