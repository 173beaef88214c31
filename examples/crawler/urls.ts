// One spelling per page. A crawler meets the same page under many spellings ("../wiki/x",
// "/wiki/x#top", "http://Host:80/wiki//x", "/wiki/%d1%81" and "/wiki/с"), and its seen set only
// works if they all become one string. The WHATWG URL parser (new URL) does most of it, as a
// browser would: relative references and <base>, dot segments ("a/./b/../c"), the scheme's
// default port, lower-case scheme and host, IDN hosts as punycode, non-ASCII paths percent-encoded
// as UTF-8, backslashes as slashes. What is left is RFC 3986's normalisation (6.2.2), which the
// parser does not do: percent-escapes in upper case, unreserved characters unescaped; and what
// crawlers add to it: no fragment, no empty "?", one slash where a link has two.
//
// Not done, on purpose: sorting or dropping query parameters (?a=1&b=2 and ?b=2&a=1 may be two
// pages, and ?utm_source= tracking is site-specific), lower-casing paths (Unix servers tell /A
// from /a), and "/index.html" as "/" (a server need not agree). Query text on a page in another
// charset is in that charset's escapes already (shared/html.ts, queryEncoder), as a browser sends
// it.

/** The one spelling of the http(s) URL that href means on a page at base; null if none. */
export function normalizeUrl(href: string, base?: string | URL): string | null {
  let url: URL;
  try {
    url = new URL(href, base);
  } catch {
    return null; // "http://[oops", or a relative href with no base
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null; // mailto:, javascript:
  if (url.hostname === "") return null;
  url.hash = "";
  url.username = url.password = ""; // credentials in a link are never ours to send
  // "//" inside a path: one slash, as nginx's merge_slashes (on by default) serves it anyway.
  url.pathname = normalizeEscapes(url.pathname.replace(/\/{2,}/g, "/"));
  url.search = url.search === "?" ? "" : normalizeEscapes(url.search);
  return url.href;
}

// RFC 3986 2.3 and 6.2.2.2: "%7e" and "~" are the same character, and "%7e" and "%7E" the same
// escape. Unreserved characters are unescaped, every other escape is upper-cased; reserved ones
// ("%2F", "%3F") stay escaped, since unescaping them would change what the URL says. A "%" that
// begins no escape ("100%.html") is a "%" of the name: the URL parser leaves it bare, as browsers
// send it, and nginx and Apache answer that with 400 Bad Request; it is escaped as "%25", as
// wget does, which gets the page.
function normalizeEscapes(text: string): string {
  return text.replace(/%([0-9A-Fa-f]{2})?/g, (_, hex: string | undefined) => {
    if (hex === undefined) return "%25";
    const char = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}

/**
 * The site a URL belongs to, for staying on the start hosts: the host without "www.", with its
 * port when that is not the scheme's default. "http://www.Example.org:80/a" and
 * "http://example.org/b" are one site; "http://example.org:8080/" is another.
 */
export function siteOf(url: string | URL): string {
  // URL's host is "name" or "name:port", and leaves the port out when it is the scheme's default.
  return siteOfHost(typeof url === "string" ? new URL(url).host : url.host);
}

/** siteOf for a URL's host ("www.example.org:8080"), as hostOf gives it. */
export function siteOfHost(host: string): string {
  return host.startsWith("www.") ? host.slice(4) : host;
}

/**
 * The host of a URL in normalizeUrl's spelling, with its port if not the default: what
 * `new URL(url).host` says, without parsing the URL again. In that spelling the host always
 * stands between the "://" and the next "/" (an http URL always has a path, at least "/", and
 * normalizeUrl drops the user name and password). The crawler asks this of every link on every
 * page, most of them seen before, and a new URL() for each cost more than all the rest it does
 * with a link.
 */
export function hostOf(normalized: string): string {
  const start = normalized.indexOf("://") + 3;
  return normalized.slice(start, normalized.indexOf("/", start));
}

/**
 * Where a crawl goes: its start sites (siteOf), and in each the directories of its start URLs,
 * which --no-parent keeps to, as wget's -np does. A URL's directory is its path up to its last
 * "/": "/docs/" for http://h/docs/ and for http://h/docs/index.html, "/" for http://h/ (and for
 * http://h/docs, a file in "/", as for wget). URLs are compared in normalizeUrl's spelling, so
 * /docs/%d1%84 is in the directory /docs/ф/, and www.h and h:80 are h.
 */
export class StartScope {
  // The directories' paths by site.
  readonly #directories = new Map<string, Set<string>>();

  /** The scope of these start URLs (normalized), or of a saved scope's directories(). */
  constructor(urls: Iterable<string>) {
    for (const url of urls) this.add(url);
  }

  /** Takes url's site into the crawl, and url's directory: a start URL, or where one led. */
  add(url: string): void {
    const site = siteOf(url);
    const pathname = new URL(url).pathname;
    const directory = pathname.slice(0, pathname.lastIndexOf("/") + 1);
    const directories = this.#directories.get(site) ?? new Set();
    directories.add(directory);
    this.#directories.set(site, directories);
  }

  /** Whether site (siteOfHost) is one the crawl stays on. */
  hasSite(site: string): boolean {
    return this.#directories.has(site);
  }

  /**
   * Whether url (normalized) is at or below a directory of its site. A URL of another site is
   * not this rule's to keep out (it is not followed anyway).
   */
  contains(url: string): boolean {
    const host = hostOf(url);
    const directories = this.#directories.get(siteOfHost(host));
    if (directories === undefined) return true;
    const path = url.slice(url.indexOf("://") + 3 + host.length); // "/docs/page?query"
    for (const directory of directories) if (path.startsWith(directory)) return true;
    return false;
  }

  /** Each directory as a URL ("http://h/docs/"), which the constructor takes back. */
  directories(): string[] {
    return [...this.#directories].flatMap(([site, paths]) =>
      [...paths].map((path) => `http://${site}${path}`),
    );
  }
}
