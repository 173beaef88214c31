// What real sites do that a crawler must get right, each linked from /wild/: pages in the old
// Russian charsets, declared in the header, only in <meta>, nowhere at all, or overruled by a
// byte order mark; a Cyrillic path written raw and percent-encoded two ways;
// <base href>; one body under two URLs; <meta name="robots"> noindex and nofollow; a 503 that asks
// to come back later; a link with doubled slashes. Every HTML page of the site is gzipped or
// deflated when the request asks for it (reply.ts).
//
// No page of the wiki links /wild/: the crawling lessons (4 to 7) crawl everything they can reach
// from /, and their output stays what their READMEs say. The crawler starts from / and /wild/.
import type { ServerResponse } from "node:http";
import { esc, layout } from "./pages.ts";
import { HTML, send } from "./reply.ts";

/** A sentence with every Cyrillic letter in it, so that a wrong charset shows in every word. */
export const PANGRAM = "Съешь же ещё этих мягких французских булок, да выпей чаю.";

/** The Cyrillic path, as a reader writes it: /wild/статья. */
export const CYRILLIC_PATH = "/wild/статья";

/** How long /wild/busy asks a client to wait (Retry-After, in seconds). */
export const RETRY_AFTER_S = 1;

const encoded = encodeURI(CYRILLIC_PATH); // "/wild/%D1%81%D1%82..."

const CASES: [href: string, what: string][] = [
  ["/wild/windows-1251", "windows-1251, declared in the Content-Type header"],
  ["/wild/koi8-r", "koi8-r, declared only in <meta http-equiv>"],
  ["/wild/windows-1251-meta", "windows-1251, declared only in <meta charset>"],
  ["/wild/windows-1251-undeclared", "windows-1251, declared nowhere: a browser guesses"],
  ["/wild/koi8-r-undeclared", "koi8-r, declared nowhere: a browser guesses"],
  ["/wild/bom", "UTF-8 with a byte order mark, though the header says windows-1251"],
  [CYRILLIC_PATH, "a Cyrillic path, written as is"],
  [encoded, "the same path, percent-encoded"],
  [encoded.toLowerCase(), "the same path, percent-encoded in lower case"],
  ["/wild/base/", "a page with <base href>: its relative links start from another folder"],
  ["/wild/same-a", "the same body as /wild/same-b"],
  ["/wild/same-b", "the same body as /wild/same-a"],
  ["/wild/noindex", '<meta name="robots" content="noindex">: follow, but do not index'],
  ["/wild/nofollow", '<meta name="robots" content="nofollow">: index, but do not follow'],
  [
    "/wild/busy",
    `503 with Retry-After: ${RETRY_AFTER_S}; it answers once a client waited that long`,
  ],
  ["/wild//double//slashes", "a link with doubled slashes"],
];

export function wildPage(): string {
  return layout(
    "What real sites do — Как делают настоящие сайты",
    `<p><a href="/">Mini-wiki</a> › <a href="/trouble/">Hard cases</a></p>
<h1>What real sites do — Как делают настоящие сайты</h1>
<ul>
${CASES.map(([href, what]) => `<li><a href="${esc(href)}">${esc(href)}</a>: ${esc(what)}</li>`).join("\n")}
</ul>`,
  );
}

/** Answers a path under /wild/ (already percent-decoded); false if there is no such page. */
export function serveWild(res: ServerResponse, path: string): boolean {
  switch (path) {
    case "/wild/":
      send(res, 200, HTML, wildPage());
      return true;
    case "/wild/windows-1251":
      send(
        res,
        200,
        "text/html; charset=windows-1251",
        encode(legacyPage("Windows-1251 - в заголовке", ""), "windows-1251"),
      );
      return true;
    case "/wild/koi8-r":
      send(
        res,
        200,
        "text/html",
        encode(
          legacyPage(
            "KOI8-R - только в meta",
            '<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">',
          ),
          "koi8-r",
        ),
      );
      return true;
    case "/wild/windows-1251-meta":
      send(
        res,
        200,
        "text/html",
        encode(
          legacyPage("Windows-1251 - только в meta", '<meta charset="windows-1251">'),
          "windows-1251",
        ),
      );
      return true;
    // As an old Russian site's pages come from a server that names no charset: the reader's
    // browser guesses it from the bytes.
    case "/wild/windows-1251-undeclared":
    case "/wild/koi8-r-undeclared": {
      const charset = path === "/wild/koi8-r-undeclared" ? "koi8-r" : "windows-1251";
      const title = `${charset.toUpperCase()} - без объявления`;
      send(res, 200, "text/html", encode(legacyPage(title, ""), charset));
      return true;
    }
    case "/wild/bom": {
      const page = Buffer.from(legacyPage("UTF-8 с меткой порядка байтов", ""));
      const bom = Buffer.from([0xef, 0xbb, 0xbf]);
      send(res, 200, "text/html; charset=windows-1251", Buffer.concat([bom, page]));
      return true;
    }
    case CYRILLIC_PATH:
      send(res, 200, HTML, simplePage("Статья — a Cyrillic path", `<p>${PANGRAM}</p>`));
      return true;
    case "/wild/base/":
      // Without the <base>, "page" would be /wild/base/page, which does not exist.
      send(
        res,
        200,
        HTML,
        simplePage(
          "Base — База",
          `<p>Links here start from /wild/based/: <a href="page">a page</a>.</p>`,
          '<base href="/wild/based/">',
        ),
      );
      return true;
    case "/wild/based/page":
      send(res, 200, HTML, simplePage("Based — Найдено через base", "<p>Found through base.</p>"));
      return true;
    case "/wild/same-a":
    case "/wild/same-b":
      // Nothing on the page depends on its URL, so the two bodies are the same bytes.
      send(res, 200, HTML, simplePage("Twins — Близнецы", "<p>One body, two addresses.</p>"));
      return true;
    case "/wild/noindex":
      send(
        res,
        200,
        HTML,
        simplePage(
          "Noindex — Не индексировать",
          `<p>Do not index this page, but follow <a href="/wild/noindex-child">its link</a>.</p>`,
          '<meta name="robots" content="noindex">',
        ),
      );
      return true;
    case "/wild/noindex-child":
      send(res, 200, HTML, simplePage("Found through a noindex page", "<p>Followed.</p>"));
      return true;
    case "/wild/nofollow":
      send(
        res,
        200,
        HTML,
        simplePage(
          "Nofollow — Не переходить",
          `<p>Index this page, but do not follow <a href="/wild/never">this link</a>.</p>`,
          '<meta name="robots" content="nofollow">',
        ),
      );
      return true;
    case "/wild/never":
      send(res, 200, HTML, simplePage("Never", "<p>Only a nofollow page links here.</p>"));
      return true;
    case "/wild/busy":
      busy(res, path);
      return true;
    case "/wild/double/slashes":
      send(res, 200, HTML, simplePage("Slashes — Косые черты", "<p>One slash is enough.</p>"));
      return true;
  }
  return false;
}

// When each busy path last answered 503. A client that comes back RETRY_AFTER_S later gets the
// page (and the next one gets a 503 again); one that comes back sooner gets another 503.
const busySince = new Map<string, number>();
// A client's clock and ours disagree by a little: a retry 10% early still counts as waiting.
const PATIENCE = 0.9;

function busy(res: ServerResponse, path: string): void {
  const since = busySince.get(path);
  if (since !== undefined && performance.now() - since >= PATIENCE * RETRY_AFTER_S * 1000) {
    busySince.delete(path);
    send(res, 200, HTML, simplePage("Busy — Занято", "<p>Thank you for waiting.</p>"));
    return;
  }
  if (since === undefined) busySince.set(path, performance.now());
  send(res, 503, HTML, simplePage("Busy — Занято", `<p>Come back in ${RETRY_AFTER_S} s.</p>`), {
    "Retry-After": String(RETRY_AFTER_S),
  });
}

function simplePage(title: string, body: string, head = ""): string {
  const page = layout(title, `<p><a href="/wild/">What real sites do</a></p>\n${body}`);
  return head === "" ? page : page.replace("<title>", `${head}\n<title>`);
}

// A page for an old charset: no "<meta charset=utf-8>" of layout(), its own declaration instead;
// and plain hyphens in the title, since koi8-r has no dashes.
function legacyPage(title: string, head: string): string {
  return layout(title, `<p><a href="/wild/">What real sites do</a></p>\n<p>${PANGRAM}</p>`)
    .replace('<meta charset="utf-8">', head)
    .replace("\n\n", "\n");
}

// TextDecoder knows the old charsets, TextEncoder only UTF-8: so learn each byte's letter from
// the decoder, once, and turn the table around.
const tables = new Map<string, Map<string, number>>();

/** text in a single-byte charset such as windows-1251 or koi8-r; "?" for what it lacks. */
export function encode(text: string, charset: string): Buffer {
  let table = tables.get(charset);
  if (table === undefined) {
    const decoder = new TextDecoder(charset);
    table = new Map();
    for (let byte = 0; byte < 256; byte++) {
      table.set(decoder.decode(new Uint8Array([byte])), byte);
    }
    tables.set(charset, table);
  }
  const bytes = Buffer.alloc(text.length);
  let length = 0;
  for (const char of text) bytes[length++] = table.get(char) ?? 0x3f;
  return bytes.subarray(0, length);
}
