// What a crawler takes from an HTML page: its title, its visible text and the text of its
// headings (for the index), its links (for the queue), what its <meta name="robots"> asks and
// where its <meta http-equiv="refresh"> sends the reader; and how to find the page's charset,
// and whether a body is HTML at all.
// The page goes through a real HTML tokenizer (htmlparser2's), not regular expressions: a regex
// finds "<a href" inside comments and scripts, trips on unquoted or uppercase attributes, and
// does not decode entities. On top of the tokenizer, PageReader keeps the open elements the way
// htmlparser2's Parser does, closing those that HTML lets a page leave open (<p>, <li>, <td>), so
// every open tag gets its close tag.
//
//   const { page } = readHtml(body, url, charsetOf(headers.get("content-type") ?? ""));
//   for (const link of linksOnHost(page.links, new URL(url).host)) queue.push(link);
import { isUtf8 } from "node:buffer";
import { Tokenizer, type TokenizerCallbacks } from "htmlparser2";
import { SpanMap } from "./search/bytes.ts";

export interface Page {
  /** The first <title>'s text, whitespace collapsed; "" if the page has none. */
  title: string;
  /** What a reader sees: no scripts, styles or comments, one space between words. */
  text: string;
  /**
   * The text of the page's headings, <h1> to <h6>, in order, one space between words: a part of
   * `text` that says what the page's sections are about, which a search weighs more.
   */
  headings: string;
  /** Absolute http(s) URLs without #fragments, each once, in the order the page has them. */
  links: string[];
  /**
   * What `<meta name="robots" content="noindex, nofollow">` asks of a crawler: not to index this
   * page, not to follow its links ("none" is both). Both false when the page says nothing.
   */
  robots: { noindex: boolean; nofollow: boolean };
  /**
   * Where `<meta http-equiv="refresh" content="0; url=next.html">` sends the reader, and after how
   * many seconds: a redirect made in HTML (rustdoc, javadoc and old sites write pages that are
   * only that). The URL is absolute and among `links` too. Null if the page has none, or one that
   * only reloads the page.
   */
  refresh: { seconds: number; url: string } | null;
}

// Elements whose text a reader never sees. <head> is not listed: its only elements with text are
// these, and a browser shows stray text in <head> as body text, so listing it would hide a whole
// page that forgot its </head>.
const HIDDEN = ["script", "style", "noscript", "template", "title"];

// The headings, whose text is also kept apart (Page.headings).
const HEADINGS = new Set(["h1", "h2", "h3", "h4", "h5", "h6"]);

// Elements that start a new line or box: "<p>a</p><p>b</p>" is the two words "a b", while inline
// elements join: "<b>in</b>line" is one word.
const BLOCK = [
  ..."address article aside blockquote br caption dd details dialog div dl dt fieldset".split(" "),
  ..."figcaption figure footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol option".split(" "),
  ..."p pre section summary table tbody td textarea tfoot th thead tr ul".split(" "),
];

// What follows, down to parsePage, is the part of htmlparser2's Parser (version 12) that decides
// which elements are open: the tokenizer only says "a start tag named P", and a page may leave
// elements open that HTML closes for it. Without it, "<p>a<div>b" would have no space between
// a and b, and an unclosed <li> would swallow the end tags after it.

// Elements that have no content and no end tag: "<br>" is a whole element, "</br>" a stray end.
const VOID = [
  ..."area base basefont br col command embed frame hr img input isindex keygen link".split(" "),
  ..."meta param source track wbr".split(" "),
];

// The open elements a start tag closes, innermost first, as long as they are innermost: "<p>a<p>b"
// is two paragraphs, "<li>a<li>b" two items, and a block closes the paragraph before it. Each row:
// start tags, and the elements they close.
const CLOSES: [string, string][] = [
  ["tr", "tr th td"],
  ["th", "th"],
  ["td", "thead th td"],
  ["body", "head link script"],
  ["a", "a"],
  ["li", "li"],
  ["option", "option"],
  ["optgroup", "optgroup option"],
  ["dd dt", "dd dt"],
  ["rt rp", "rt rp"],
  ["tbody tfoot", "thead tbody"],
  ["h1 h2 h3 h4 h5 h6", "h1 h2 h3 h4 h5 h6 p"],
  [
    "select input output button datalist textarea",
    "input option optgroup select button datalist textarea",
  ],
  [
    "p address article aside blockquote details div dl fieldset figcaption figure footer form " +
      "header hr main nav ol pre section table ul",
    "p",
  ],
];

// Inside <svg> and <math> a page is XML-like, not HTML: "<title>" there is an SVG element rather
// than the page's title (the tokenizer reads its content as markup), "<path/>" closes itself, and
// <![CDATA[...]]> is text. These elements switch the language of their content; the "integration
// points" switch it back to HTML inside SVG or MathML.
type Language = "html" | "svg" | "math";
const INTEGRATION_POINTS = "mi mo mn ms mtext annotation-xml foreignObject desc title".split(" ");

/** What the reader needs to know of an element; an element not in ELEMENTS has none of it. */
interface ElementRule {
  hidden: boolean;
  block: boolean;
  void: boolean;
  /** The open elements its start tag closes. */
  closes: Set<string> | undefined;
  /** The language of its content; undefined: its parent's. */
  content: Language | undefined;
}

// One table, so that each tag costs one lookup instead of one per list above.
const ELEMENTS = new Map<string, ElementRule>();
function rule(name: string): ElementRule {
  let found = ELEMENTS.get(name);
  if (found === undefined) {
    found = { hidden: false, block: false, void: false, closes: undefined, content: undefined };
    ELEMENTS.set(name, found);
  }
  return found;
}
for (const name of HIDDEN) rule(name).hidden = true;
for (const name of BLOCK) rule(name).block = true;
for (const name of VOID) rule(name).void = true;
for (const [names, closed] of CLOSES) {
  for (const name of names.split(" ")) rule(name).closes = new Set(closed.split(" "));
}
for (const name of INTEGRATION_POINTS) rule(name).content = "html";
rule("svg").content = "svg";
rule("math").content = "math";

/**
 * Title, visible text and links of `html`, whose own address is `pageUrl`; `charset`, the one
 * the page was decoded from, is the one its links' query strings are encoded in (see queryIn).
 */
export function parsePage(html: string, pageUrl: string, charset = "utf-8"): Page {
  const reader = new PageReader(undefined);
  reader.write(html);
  return reader.end(pageUrl, queryEncoder(charset));
}

/**
 * The page in a response body, and the charset it was read in: found as sniffCharset() finds it
 * (`declared` is the Content-Type's charset parameter, charsetOf()), decoded, and parsed with its
 * links' queries in that charset, as parsePage() says. The one way from a body to a page for the
 * crawler and the crawling lessons alike.
 */
export function readHtml(
  body: Uint8Array,
  pageUrl: string,
  declared?: string,
): { page: Page; charset: Charset } {
  const charset = sniffCharset(body, declared);
  const page =
    charset.charset === "utf-8"
      ? parseUtf8Page(charset.from === "bom" ? body.subarray(3) : body, pageUrl)
      : parsePage(decodeText(body, charset.charset), pageUrl, charset.charset);
  return { page, charset };
}

/**
 * The same as parsePage(body.toString("utf8"), pageUrl), for a page in UTF-8 (without its byte
 * order mark), in half the time or less: see PageReader.piece().
 */
export function parseUtf8Page(body: Uint8Array, pageUrl: string): Page {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.length);
  const reader = new PageReader(bytes);
  // The tokenizer takes a page in chunks as well as whole. In chunks, because V8 keeps a string
  // of 128 KiB or more apart from the others, as a "large object", and making one is dozens of
  // times slower: decoding a 750 KB page at once runs at about 90 MB/s, in 64 KiB chunks at
  // about 3 GB/s. Each chunk ends before an ASCII byte, so that it cuts no UTF-8 character.
  for (let start = 0; start < bytes.length;) {
    let end = Math.min(start + CHUNK_BYTES, bytes.length);
    while (end < bytes.length && bytes[end]! > 0x7f) end++;
    reader.write(bytes.toString("latin1", start, end));
    start = end;
  }
  return reader.end(pageUrl);
}

const CHUNK_BYTES = 64 * 1024;

// The elements whose attributes the reader keeps: those that link to a page (<a>, <area>, and
// what wget -r follows too: <frame> and <iframe>, whose src is a page, and a <link> that names
// one), <base>, and <meta> for robots.
const LINKING = new Set(["a", "area", "base", "meta", "link", "frame", "iframe"]);

// The relations of a <link> to another page: "next", "prev", "up", "index", "search" (Sphinx and
// DocBook write them on every page), a translation or a canonical URL. A <link> says more often
// what a page needs (a stylesheet, an icon, a font to preload), and a feed or an OpenSearch
// description is "alternate" or "search" with a type that is not HTML.
const PAGE_RELATIONS = new Set([
  ..."alternate canonical next prev previous first last start up home top".split(" "),
  ..."index contents toc search help glossary copyright license author".split(" "),
  ..."chapter section subsection appendix".split(" "),
]);

function namesPage(rel = "", type = ""): boolean {
  const kind = type.trim().toLowerCase();
  if (kind !== "" && kind !== "text/html" && kind !== "application/xhtml+xml") return false;
  const relations = rel.toLowerCase().split(/[\t\n\f\r ]+/);
  if (relations.some((relation) => relation === "stylesheet" || relation.endsWith("icon"))) {
    return false; // "alternate stylesheet", "shortcut icon", "apple-touch-icon"
  }
  return relations.some((relation) => PAGE_RELATIONS.has(relation));
}

// The lower-case names of tags and attributes by their spelling in the page. A page has thousands
// of tags and only a few dozen names: making a string of each name, and a lower-case copy, was
// a fifth of what reading a page allocated, and the garbage collector's time with it. So a name
// is looked up by where it stands in the chunk (bytes.ts SpanMap), with no string made, and each
// spelling is lower-cased once per thread. Only ASCII spellings are kept: in a chunk of UTF-8
// read as latin1 (parseUtf8Page) a non-ASCII name stands as other characters than in a decoded
// page (parsePage), and the two share the table. Pages can make up any names: past
// MAX_NAMES, start over.
const nameIds = new SpanMap();
const names: string[] = [];
const MAX_NAMES = 10_000;

// htmlparser2 comes as two layers: a Tokenizer, which finds tags, attributes, text and comments
// and decodes entities, and a Parser on top, which keeps the stack of open elements and hands out
// each tag with a fresh object of its attributes, every name lower-cased. The Parser did twice the
// work we need (most of the time of reading a page went there), so the reader takes the
// tokenizer's events itself: they are index ranges in the page, and it slices out only what it
// keeps: the visible text, the title, the href of a link, the name and content of a <meta>.
class PageReader implements TokenizerCallbacks {
  private readonly titleParts: string[] = [];
  /** The text so far, in runs of words without whitespace around them. */
  private readonly words: string[] = [];
  /** The same, of the text inside headings; and how many headings are open (one, in practice). */
  private readonly headingWords: string[] = [];
  private headingDepth = 0;
  /** Whether a heading began or ended since the last word: the next heading word starts a run. */
  private headingBreak = false;
  /** Whether whitespace came since the last word: the next word starts a new run. */
  private space = false;
  private readonly hrefs: string[] = [];
  private baseHref: string | undefined;
  private readonly robots = { noindex: false, nofollow: false };
  /** How many open elements hide their text (a <noscript> in a <template>: 2). */
  private hiddenDepth = 0;
  private titleState: "before" | "inside" | "done" = "before";

  /** The open elements, innermost last, by lower-case name, and the language inside each. */
  private readonly stack: string[] = [];
  private readonly languages: Language[] = [];

  /** The start tag being read, until its ">"; undefined for an ignored one. */
  private tag: string | undefined;
  private tagRule: ElementRule | undefined;
  /** Its attributes that we keep (the first of each name counts, as in a browser). */
  private href: string | undefined;
  private metaName: string | undefined;
  private metaContent: string | undefined;
  private metaHttpEquiv: string | undefined;
  private linkRel: string | undefined;
  private linkType: string | undefined;
  /** Which of them the attribute being read is, and its value so far. */
  private attribute: "href" | "name" | "content" | "http-equiv" | "rel" | "type" | undefined;
  /** The first <meta http-equiv="refresh">, read; null if none. */
  private refresh: Refresh | null = null;
  private value = "";

  private readonly tokenizer = new Tokenizer({}, this);
  /** The page's bytes, from parseUtf8Page (see piece()). */
  private readonly bytes: Buffer | undefined;
  /** The chunk of the page that the tokenizer reads now, and its index in the page. */
  private chunk = "";
  private chunkStart = 0;

  constructor(bytes: Buffer | undefined) {
    this.bytes = bytes;
  }

  write(chunk: string): void {
    this.chunkStart += this.chunk.length;
    this.chunk = chunk;
    this.tokenizer.write(chunk);
  }

  end(pageUrl: string, encodeQuery?: QueryEncoder): Page {
    this.tokenizer.end();
    const page = new URL(pageUrl);
    // A <base href> counts only if it is a URL of the web: javascript: or data: (the HTML spec's
    // "frozen base URL"), or anything else that is not http(s), leaves the page's own URL.
    const href = this.baseHref === undefined ? null : parseUrl(this.baseHref, page);
    const base = href?.protocol === "http:" || href?.protocol === "https:" ? href : page;
    return {
      title: collapseWhitespace(this.titleParts.join("")),
      text: this.words.join(" "),
      headings: this.headingWords.join(" "),
      links: resolveLinks(this.hrefs, base, encodeQuery),
      robots: this.robots,
      refresh: this.refreshTarget(base, page, encodeQuery),
    };
  }

  // Where the page's refresh sends the reader; null if nowhere, or to the page itself (a page
  // that reloads every minute).
  private refreshTarget(base: URL, page: URL, encodeQuery?: QueryEncoder): Page["refresh"] {
    const href = this.refresh?.href;
    if (href === undefined) return null;
    const [url] = resolveLinks([href], base, encodeQuery); // none for javascript: or a bad URL
    const self = new URL(page);
    self.hash = "";
    return url === undefined || url === self.href ? null : { seconds: this.refresh!.seconds, url };
  }

  // The page's text from start to end. From parseUtf8Page, the page is its bytes read as latin1,
  // one character per byte: decoding that is several times faster than decoding UTF-8, and
  // the result is a string of one-byte characters, which everything after is faster on (a single
  // "—" makes the UTF-8 decoded page a two-byte string, twice the size). It misreads only the
  // bytes of non-ASCII characters, and every byte of those is >= 0x80 in UTF-8, so the tokenizer,
  // which looks only at ASCII characters (<, >, =, quotes, &, names), splits the page at the
  // same places. So a piece that is all ASCII is right as it is, and one that is not is decoded
  // again from its bytes as UTF-8, where a byte that is not UTF-8 becomes U+FFFD, as in
  // toString("utf8"). (Pieces start and end next to ASCII characters, so none cuts a character.)
  // A piece may begin in an earlier chunk (a tag cut in two); it is read from the bytes then.
  private piece(start: number, end: number): string {
    const bytes = this.bytes;
    if (bytes === undefined) return this.chunk.slice(start, end); // parsePage: one chunk
    for (let i = start; i < end; i++) {
      if (bytes[i]! > 0x7f) return bytes.toString("utf8", start, end);
    }
    if (start < this.chunkStart) return bytes.toString("latin1", start, end);
    return this.chunk.slice(start - this.chunkStart, end - this.chunkStart);
  }

  /** piece(start, end).toLowerCase(), from the table of names when it is there. */
  private lowerName(start: number, end: number): string {
    if (start < this.chunkStart) return this.piece(start, end).toLowerCase();
    const chunk = this.chunk;
    const at = this.chunkStart;
    const id = nameIds.get(chunk, start - at, end - at);
    if (id !== SpanMap.MISSING) return names[id]!;
    const name = this.piece(start, end).toLowerCase();
    const spelling = chunk.slice(start - at, end - at);
    if (/^[\x00-\x7f]*$/.test(spelling)) {
      if (names.length >= MAX_NAMES) {
        nameIds.clear();
        names.length = 0;
      }
      nameIds.set(spelling, names.length);
      names.push(name);
    }
    return name;
  }

  // ---- What the tokenizer reports, in the order it reports it.

  ontext(start: number, end: number): void {
    if (this.titleState === "inside") {
      this.titleParts.push(this.piece(start, end));
      return;
    }
    if (this.hiddenDepth !== 0) return;
    // Most text is ASCII words with one space between them, and whitespace around them (the line
    // breaks and indentation of the page's source), or only that whitespace. That is told apart
    // by looking at the characters, without making a string of the whitespace; anything else (a
    // line break or two spaces between words, a character that is not ASCII) goes to addText().
    // Text that began in an earlier chunk (which ended inside an entity or an end tag) is rare.
    if (start < this.chunkStart) {
      this.addText(this.piece(start, end));
      return;
    }
    const chunk = this.chunk;
    const at = this.chunkStart;
    while (start < end && isAsciiSpace(chunk.charCodeAt(start - at))) {
      this.space = true;
      start++;
    }
    let last = end;
    while (last > start && isAsciiSpace(chunk.charCodeAt(last - 1 - at))) last--;
    if (start === last) return;
    for (let i = start - at; i < last - at; i++) {
      const char = chunk.charCodeAt(i);
      if (char > 0x7f || (isAsciiSpace(char) && (char !== 32 || chunk.charCodeAt(i + 1) === 32))) {
        this.addText(this.piece(start, end));
        return;
      }
    }
    this.addWords(chunk.slice(start - at, last - at));
    this.space = last < end;
  }

  /** An entity in text, "&amp;" or "&#8212;", as its code point. */
  ontextentity(codePoint: number): void {
    const char = String.fromCodePoint(codePoint);
    if (this.titleState === "inside") this.titleParts.push(char);
    else if (this.hiddenDepth === 0) this.addText(char);
  }

  onopentagname(start: number, end: number): void {
    this.openTag(this.tagName(start, end));
  }

  onattribname(start: number, end: number): void {
    this.attribute = undefined;
    const tag = this.tag;
    if (tag === undefined || !LINKING.has(tag)) return;
    const name = this.lowerName(start, end);
    const hrefName = tag === "frame" || tag === "iframe" ? "src" : "href";
    if (name === hrefName && tag !== "meta" && this.href === undefined) this.attribute = "href";
    if (name === "name" && tag === "meta" && this.metaName === undefined) this.attribute = "name";
    if (name === "content" && tag === "meta" && this.metaContent === undefined) {
      this.attribute = "content";
    }
    if (name === "http-equiv" && tag === "meta" && this.metaHttpEquiv === undefined) {
      this.attribute = "http-equiv";
    }
    if (name === "rel" && tag === "link" && this.linkRel === undefined) this.attribute = "rel";
    if (name === "type" && tag === "link" && this.linkType === undefined) this.attribute = "type";
    this.value = "";
  }

  onattribdata(start: number, end: number): void {
    if (this.attribute !== undefined) this.value += this.piece(start, end);
  }

  onattribentity(codePoint: number): void {
    if (this.attribute !== undefined) this.value += String.fromCodePoint(codePoint);
  }

  onattribend(): void {
    if (this.attribute === "href") this.href = this.value;
    else if (this.attribute === "name") this.metaName = this.value;
    else if (this.attribute === "content") this.metaContent = this.value;
    else if (this.attribute === "http-equiv") this.metaHttpEquiv = this.value;
    else if (this.attribute === "rel") this.linkRel = this.value;
    else if (this.attribute === "type") this.linkType = this.value;
    this.attribute = undefined;
  }

  /** The ">" of a start tag. */
  onopentagend(): void {
    const { tag, tagRule } = this;
    this.tag = undefined;
    if (tag === undefined) return;
    this.opened(tag, tagRule);
    if (tagRule?.void) this.closed(tag, tagRule);
  }

  /** The "/>" of a start tag: it closes the element only inside SVG or MathML. */
  onselfclosingtag(): void {
    const tag = this.tag;
    this.onopentagend();
    if (this.language() !== "html" && tag !== undefined && this.stack.at(-1) === tag) {
      this.popElement();
    }
  }

  onclosetag(start: number, end: number): void {
    const name = this.tagName(start, end);
    const rule = ELEMENTS.get(name);
    if (rule?.void) {
      // "</br>" is a line break all the same; "</img>" means nothing.
      if (name === "br") {
        this.opened(name, rule);
        this.closed(name, rule);
      }
      return;
    }
    // The end tag closes its element and every element left open inside it; an end tag for no
    // open element is ignored, except "</p>", which is an empty paragraph.
    const at = this.stack.lastIndexOf(name);
    if (at !== -1) {
      while (this.stack.length > at) this.popElement();
    } else if (name === "p") {
      this.openTag("p");
      this.onopentagend();
      this.popElement();
    }
  }

  /** <![CDATA[...]]> is text inside SVG and MathML, and a comment in HTML. */
  oncdata(start: number, end: number, endOffset: number): void {
    if (this.language() !== "html") this.ontext(start, end - endOffset);
  }

  /** The tokenizer reads <title>, <script> and <style> as markup inside SVG and MathML. */
  isInForeignContext(): boolean {
    return this.language() !== "html";
  }

  // Comments, <!DOCTYPE> and <?...?> say nothing a reader sees. At the end, the elements still
  // open would be closed, but no text follows to be separated from.
  oncomment(): void {}
  ondeclaration(): void {}
  onprocessinginstruction(): void {}
  onend(): void {}

  // ---- The open elements.

  // The lower-case name of a tag. HTML's "<image>" is an <img> (outside SVG, where <image> is an
  // element of its own). SVG's <foreignObject>, which holds HTML, keeps its SVG spelling, so that
  // a <foreignobject> elsewhere is an element like any other.
  private tagName(start: number, end: number): string {
    const name = this.lowerName(start, end);
    if (name === "foreignobject") {
      const inSvg = this.language() === "svg" || this.stack.includes("foreignObject");
      return inSvg ? "foreignObject" : name;
    }
    return name === "image" && this.language() === "html" ? "img" : name;
  }

  private language(): Language {
    return this.languages.at(-1) ?? "html";
  }

  private openTag(name: string): void {
    this.tag = name;
    this.href = this.metaName = this.metaContent = this.metaHttpEquiv = undefined;
    this.linkRel = this.linkType = undefined;
    // A <form> inside a form is ignored, tag and attributes, as the HTML standard says.
    if (name === "form" && this.stack.includes("form")) {
      this.tag = undefined;
      return;
    }
    const rule = ELEMENTS.get(name);
    this.tagRule = rule;
    if (rule === undefined) {
      this.push(name, this.language());
      return;
    }
    if (rule.closes !== undefined) {
      while (this.stack.length > 0 && rule.closes.has(this.stack.at(-1)!)) this.popElement();
    }
    if (rule.void) return;
    this.push(name, rule.content ?? this.language());
  }

  private push(name: string, language: Language): void {
    this.stack.push(name);
    this.languages.push(language);
  }

  private popElement(): void {
    this.languages.pop();
    const name = this.stack.pop()!;
    this.closed(name, ELEMENTS.get(name));
  }

  // ---- What an element means for the page, once it is open and once it is closed.

  private opened(name: string, rule: ElementRule | undefined): void {
    if (rule !== undefined) {
      if (rule.hidden) this.hiddenDepth++;
      if (rule.block) this.space = true;
    }
    if (name === "title" && this.titleState === "before") this.titleState = "inside";
    if (HEADINGS.has(name)) {
      this.headingDepth++;
      this.headingBreak = true;
    }
    if (name === "meta" && this.metaName?.trim().toLowerCase() === "robots") {
      for (const directive of (this.metaContent ?? "").toLowerCase().split(",")) {
        const word = directive.trim();
        if (word === "noindex" || word === "none") this.robots.noindex = true;
        if (word === "nofollow" || word === "none") this.robots.nofollow = true;
      }
    }
    // Only the first refresh counts, as in a browser. Its URL is a link too: wget -r follows it.
    const equiv = name === "meta" ? this.metaHttpEquiv?.trim().toLowerCase() : undefined;
    if (equiv === "refresh" && this.refresh === null) {
      this.refresh = parseRefresh(this.metaContent ?? "");
      if (this.refresh?.href !== undefined) this.hrefs.push(this.refresh.href);
    }
    const href = this.href;
    if (href === undefined) return;
    if (name === "a" || name === "area" || name === "frame" || name === "iframe") {
      this.hrefs.push(href);
    }
    if (name === "link" && namesPage(this.linkRel, this.linkType)) this.hrefs.push(href);
    // Only the first <base href> counts, and it applies to links before it too (HTML spec).
    if (name === "base" && this.baseHref === undefined) this.baseHref = href;
  }

  private closed(name: string, rule: ElementRule | undefined): void {
    if (rule !== undefined) {
      if (rule.hidden) this.hiddenDepth--;
      if (rule.block) this.space = true;
    }
    if (name === "title" && this.titleState === "inside") this.titleState = "done";
    if (HEADINGS.has(name) && this.headingDepth > 0) {
      this.headingDepth--;
      this.headingBreak = true;
    }
  }

  // Text a reader sees, with its whitespace collapsed as it comes: tabs, line breaks, no-break
  // spaces (&nbsp;) and every other Unicode space (trim() and \s know the same ones) separate
  // words the same way, and one space is all a reader needs between them. The title is collapsed
  // once at the end, as it is short. Only what is not one space already is replaced: most text
  // that comes here has single spaces (and a "¶" or a "’" that kept it off the fast path in
  // ontext()), and a replace() that matches nothing makes no new string.
  private addText(data: string): void {
    const words = data.trim();
    if (words === "") {
      this.space = true;
      return;
    }
    if (data.charCodeAt(0) !== words.charCodeAt(0)) this.space = true; // it began with a space
    this.addWords(words.replace(COLLAPSIBLE, " "));
    this.space = data.charCodeAt(data.length - 1) !== words.charCodeAt(words.length - 1);
  }

  /** Words without whitespace around them: a new run after whitespace, else part of the last. */
  private addWords(words: string): void {
    if (this.headingDepth > 0) {
      const runs = this.headingWords;
      if (this.space || this.headingBreak || runs.length === 0) runs.push(words);
      else runs[runs.length - 1] += words;
      this.headingBreak = false;
    }
    if (this.space || this.words.length === 0) this.words.push(words);
    else this.words[this.words.length - 1] += words; // "<b>in</b>line" is one word
  }
}

// ASCII whitespace as \s and trim() know it: tab, line feed, vertical tab, form feed, carriage
// return and space.
function isAsciiSpace(char: number): boolean {
  return char === 32 || (char >= 9 && char <= 13);
}

function resolveLinks(hrefs: string[], base: URL, encodeQuery?: QueryEncoder): string[] {
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
    const url = parseUrl(encodeQuery === undefined ? unhashed : encodeQuery(unhashed), base);
    // mailto:, javascript:, data:, tel: and the like are not pages to fetch.
    if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) continue;
    links.add(url.href);
  }
  return [...links];
}

// A link's query string is encoded in its page's charset, not in UTF-8 as its path is (the URL
// standard's "encoding" of the parser, which a browser sets to the document's): on a windows-1251
// page, <a href="/search?q=тест"> asks for /search?q=%F2%E5%F1%F2, and so does wget, which sends
// the page's bytes as they are. A Russian site in windows-1251 reads its queries so; encoded as
// UTF-8 here, they were other URLs, with other answers (a search for garbage), and a link written
// already escaped (?q=%F2%E5%F1%F2) was a second URL of the same page. `new URL()` knows UTF-8
// only, so the query's other characters are escaped before it parses the link: each character's
// byte in the page's charset, or, for one the charset has no byte for, its HTML character
// reference, escaped ("&#20013;" as %26%2320013%3B), as the standard says. Only the charsets of
// one byte a character (windows-125x, koi8-r, iso-8859-x and their like) are done so; a page in
// Shift_JIS or GBK keeps UTF-8 queries.
type QueryEncoder = (href: string) => string;

const queryEncoders = new Map<string, QueryEncoder | undefined>();

function queryEncoder(charset: string): QueryEncoder | undefined {
  if (queryEncoders.has(charset)) return queryEncoders.get(charset);
  const decoder = new TextDecoder(charset);
  let encoder: QueryEncoder | undefined;
  if (decoder.encoding !== "utf-8" && !MULTI_BYTE.has(decoder.encoding)) {
    const bytes = new Map<string, number>();
    for (let byte = 0x80; byte <= 0xff; byte++) {
      const char = decodeText(Uint8Array.of(byte), decoder.encoding);
      if (char !== "\uFFFD" && !bytes.has(char)) bytes.set(char, byte);
    }
    encoder = (href) => queryIn(href, bytes);
  }
  queryEncoders.set(charset, encoder);
  return encoder;
}

// The charsets of more than one byte a character, left to UTF-8 (and x-user-defined, which is
// no text at all).
const MULTI_BYTE = new Set([
  ..."utf-16le utf-16be gbk gb18030 big5 euc-jp iso-2022-jp shift_jis euc-kr".split(" "),
  "replacement",
  "x-user-defined",
]);

/** href with the characters past ASCII of its query escaped as their bytes in `bytes`. */
function queryIn(href: string, bytes: Map<string, number>): string {
  const start = href.indexOf("?");
  if (start === -1 || !/[^\x00-\x7f]/.test(href.slice(start))) return href;
  let query = "";
  for (const char of href.slice(start)) {
    const byte = bytes.get(char); // only characters past ASCII have one
    if (char < "\x80") query += char;
    else if (byte !== undefined) query += `%${byte.toString(16).toUpperCase()}`;
    else query += encodeURIComponent(`&#${char.codePointAt(0)};`);
  }
  return href.slice(0, start) + query;
}

interface Refresh {
  seconds: number;
  /** As the page has it, relative or not; undefined: the page reloads itself. */
  href?: string;
}

/**
 * The content of a `<meta http-equiv="refresh">`, read as the HTML standard's "shared declarative
 * refresh steps" read it: seconds (digits, then digits and dots that do not count), then a ";" or
 * a "," or whitespace, then the URL, which may follow "url=" and stand in quotes. "5" alone, or a
 * URL left out, reloads the page (href undefined). Null for content that is no refresh at all.
 */
function parseRefresh(content: string): Refresh | null {
  const parts = /^[\t\n\f\r ]*(\d*)(\.[\d.]*)?([;,\t\n\f\r ][^]*)?$/.exec(content);
  if (parts === null || (parts[1] === "" && parts[2] === undefined)) return null;
  const seconds = Number(parts[1] || "0");
  let rest = (parts[3] ?? "").replace(/^[\t\n\f\r ]*[;,]?[\t\n\f\r ]*/, "");
  if (rest === "") return { seconds };
  rest = rest.replace(/^url[\t\n\f\r ]*=[\t\n\f\r ]*/i, "");
  const quote = rest[0] === '"' || rest[0] === "'" ? rest[0] : undefined;
  if (quote !== undefined) {
    const end = rest.indexOf(quote, 1);
    rest = rest.slice(1, end === -1 ? undefined : end);
  }
  return { seconds, href: rest };
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

/** body decoded from `charset`, a label TextDecoder knows (as sniffCharset() returns them). */
export function decodeText(body: Uint8Array, charset: string): string {
  const text = new TextDecoder(charset).decode(body);
  return charset === "windows-1252" && WINDOWS_1252_BROKEN ? fixWindows1252(text) : text;
}

// Node 20.18.3 and later (and 22.13.0 and later, until a fix) decode windows-1252, which is also
// what the labels "latin1" and "iso-8859-1" mean on the web, as ISO-8859-1: its bytes 0x80-0x9F,
// the curly quotes, dashes, "…" and "€" of every old Western page, come out as invisible control
// characters U+0080-U+009F (nodejs/node#60888). Asked once: a Node that decodes them right is
// left alone.
const WINDOWS_1252_BROKEN = new TextDecoder("windows-1252").decode(Uint8Array.of(0x80)) !== "€";
// The Encoding standard's windows-1252 from 0x80 to 0x9F; "_" for the five bytes that stay the
// control character of their number.
const WINDOWS_1252_C1 = "€_‚ƒ„…†‡ˆ‰Š‹Œ_Ž__‘’“”•–—˜™š›œ_žŸ";

function fixWindows1252(text: string): string {
  return text.replace(/[\x80-\x9f]/g, (char) => {
    const fixed = WINDOWS_1252_C1[char.charCodeAt(0) - 0x80]!;
    return fixed === "_" ? char : fixed;
  });
}

export interface Charset {
  /** A label TextDecoder knows: "utf-8", "windows-1251", "koi8-r"... */
  charset: string;
  /**
   * Where it was found; "default": nothing declares one and the body is UTF-8 (or ASCII);
   * "guess": nothing declares one and the body is not UTF-8, so guessCharset() chose.
   */
  from: "bom" | "header" | "meta" | "default" | "guess";
}

/**
 * The charset of an HTML body, found the way browsers find it (the HTML standard's "encoding
 * sniffing algorithm", shortened): a byte order mark wins over everything; then `declared`, the
 * charset parameter of the Content-Type ("windows-1251" of "text/html; charset=windows-1251");
 * then a `<meta charset>` or `<meta http-equiv="Content-Type" content="...; charset=...">` in the
 * first 1024 bytes, or later in the <head>; else UTF-8 if the body is UTF-8 (as nearly every page
 * is), and a guess from its bytes if it is not (guessCharset). A label TextDecoder does not know
 * counts as none. Old Russian sites declare windows-1251 or koi8-r either way, often only in
 * <meta>, and some not at all.
 */
export function sniffCharset(body: Uint8Array, declared?: string): Charset {
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) {
    return { charset: "utf-8", from: "bom" };
  }
  if (body[0] === 0xfe && body[1] === 0xff) return { charset: "utf-16be", from: "bom" };
  if (body[0] === 0xff && body[1] === 0xfe) return { charset: "utf-16le", from: "bom" };
  const fromHeader = knownCharset(declared);
  if (fromHeader !== undefined) return { charset: fromHeader, from: "header" };
  const fromMeta = knownCharset(metaCharset(body));
  // A page that reached us as bytes cannot be UTF-16 because its ASCII <meta> says so (HTML
  // standard): the <meta> itself was read as ASCII.
  if (fromMeta !== undefined) {
    return { charset: fromMeta.startsWith("utf-16") ? "utf-8" : fromMeta, from: "meta" };
  }
  // Nothing says. isUtf8 (simdutf, in Node) reads a page at several GB/s: the one pass a UTF-8
  // page pays for not declaring its charset, under a hundredth of reading the page (1.3 ms of
  // 270 for the 16 MB of the PostgreSQL docs).
  if (isUtf8(body)) return { charset: "utf-8", from: "default" };
  return { charset: guessCharset(body), from: "guess" };
}

/**
 * The charset of a body that declares none and is not UTF-8, among the three that such pages
 * are in on the sites we crawl: UTF-8 damaged (a stray byte, or cut short), windows-1251 or
 * koi8-r (old Russian sites), windows-1252 (old Western ones). Browsers guess too, with more
 * charsets and longer tables (Firefox's chardetng, Chrome's CED); a page read as UTF-8 here
 * was U+FFFD in place of every Russian letter, in the index and in the snippets. In one pass:
 *   - UTF-8 if its well-formed sequences of two to four bytes outnumber the bytes that are not
 *     UTF-8: a UTF-8 page with a stray windows-1252 "©" in its footer stays UTF-8. A sequence cut
 *     by the end of the body (a page cut short) counts as neither.
 *   - Else Cyrillic or Latin, by where the bytes 0xC0-0xFF stand, the letters in all three
 *     charsets: a Russian word is letters of that range next to each other ("привет", six),
 *     while an accented letter of a Western word stands between ASCII letters ("café",
 *     "Größe"). Cyrillic if pairs of them outnumber such letters next to an ASCII letter.
 *   - Cyrillic: windows-1251 or koi8-r, whichever reads the body as the commoner Russian letters.
 *     Both have the same 32 letters at 0xC0-0xDF and 0xE0-0xFF, in other orders and with upper
 *     and lower case swapped (windows-1251's "о", the commonest, 0xEE, is koi8-r's "Н"); each
 *     byte scores the frequency of its letter in Russian text, case aside, so a page in capitals
 *     is read right too. On a paragraph the right one scores 1.2 to 1.8 times the other.
 *   - Latin, or nothing to tell by (no letter past ASCII): windows-1252, which is also what a
 *     browser takes an undeclared ISO-8859-1 page for.
 * Ukrainian and Belarusian pages come out windows-1251 or koi8-r too (koi8-u's few letters of
 * their own are read wrong); a page in Shift_JIS, GBK or another charset of more than one byte a
 * character that declares nothing is read wrong, as it was read as UTF-8 before.
 */
export function guessCharset(body: Uint8Array): string {
  let wellFormed = 0; // UTF-8 sequences of 2 to 4 bytes
  let malformed = 0; // bytes that start no such sequence and are in none
  let cyrillicPairs = 0;
  let latinPairs = 0;
  const letters = new Uint32Array(32); // bytes 0xC0-0xFF, by their low 5 bits (case aside)
  let previous = 0x20;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i]!;
    if (byte >= 0xc0) {
      letters[byte & 0x1f]!++;
      if (previous >= 0xc0) cyrillicPairs++;
      else if (isAsciiLetter(previous)) latinPairs++;
      if (i + 1 < body.length && isAsciiLetter(body[i + 1]!)) latinPairs++;
    }
    previous = byte;
    if (byte < 0x80) continue;
    const length = byte >= 0xc2 && byte <= 0xdf ? 2 : byte >= 0xe0 && byte <= 0xef ? 3 : 4;
    let end = i + 1;
    if (byte <= 0xf4 && byte >= 0xc2) {
      while (end < i + length && end < body.length && (body[end]! & 0xc0) === 0x80) end++;
    }
    if (end === i + length) {
      wellFormed++;
      // The sequence's continuation bytes are 0x80-0xBF: no letters, pairs or sequences.
      previous = body[end - 1]!;
      i = end - 1;
    } else if (end < body.length || byte < 0xc2 || byte > 0xf4) {
      malformed++;
    }
  }
  if (wellFormed >= malformed) return "utf-8"; // 0 and 0: ASCII with a character cut at the end
  if (cyrillicPairs <= latinPairs) return "windows-1252";
  let windows1251 = 0;
  let koi8r = 0;
  for (let low = 0; low < 32; low++) {
    windows1251 += letters[low]! * LETTER_FREQUENCY.windows1251[low]!;
    koi8r += letters[low]! * LETTER_FREQUENCY.koi8r[low]!;
  }
  return koi8r > windows1251 ? "koi8-r" : "windows-1251";
}

function isAsciiLetter(byte: number): boolean {
  return (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7a;
}

// How often each letter is met in Russian text, per thousand letters (the Russian National
// Corpus's counts, as Wikipedia's "Частотность" gives them; ё is counted as е, as most text
// writes it). Ordered by the low 5 bits of each letter's byte in the two charsets, which their
// decoders say: windows-1251's 0xC0-0xDF are А to Я, koi8-r's are ю, а, б, ц...
const RUSSIAN_LETTERS =
  "о 109.7 е 84.9 а 80.1 и 73.5 н 67.0 т 62.6 с 54.7 р 47.3 в 45.4 л 44.0 к 34.9 м 32.1 " +
  "д 29.8 п 28.1 у 26.2 я 20.1 ы 19.0 ь 17.4 г 17.0 з 16.5 б 15.9 ч 14.4 й 12.1 х 9.7 ж 9.4 " +
  "ш 7.3 ю 6.4 ц 4.8 щ 3.6 э 3.2 ф 2.6 ъ 0.4";
const LETTER_SHARES = new Map(
  [...RUSSIAN_LETTERS.matchAll(/(\S) ([\d.]+)/g)].map(([, letter, share]) => [letter!, +share!]),
);
const LETTER_FREQUENCY = {
  windows1251: letterFrequencies("windows-1251"),
  koi8r: letterFrequencies("koi8-r"),
};

function letterFrequencies(charset: string): number[] {
  const decoder = new TextDecoder(charset);
  return Array.from({ length: 32 }, (_, low) => {
    const letter = decoder.decode(Uint8Array.of(0xc0 + low)).toLowerCase();
    return LETTER_SHARES.get(letter) ?? 0;
  });
}

/**
 * Whether a body that came without a type begins as HTML does, by the MIME Sniffing standard's
 * signatures: after whitespace, "<!DOCTYPE HTML", "<html", "<head", "<body", "<title", "<p", "<a",
 * "<!--" and their like, in any case, followed by a space or ">". A text file, JSON, an image or
 * an archive does not.
 */
export function looksLikeHtml(body: Uint8Array): boolean {
  const head = Buffer.from(body.buffer, body.byteOffset, Math.min(body.length, 512));
  return HTML_SIGNATURE.test(head.toString("latin1"));
}

// The standard's list, in its order. A UTF-8 byte order mark (which the standard leaves to
// text/plain) is let through too.
const HTML_STARTS =
  "!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p|!--";
const HTML_SIGNATURE = new RegExp(
  `^(?:\\xef\\xbb\\xbf)?[\\t\\n\\f\\r ]*<(?:${HTML_STARTS})[ >]`,
  "i",
);

// The charset a <meta> declares: in the first 1024 bytes, where the HTML standard's prescan looks
// before the page is parsed, or else further on in the <head>, where Chrome's still looks (and
// the standard's parser, which then reads the page again in that charset). A Russian site's head
// of scripts, styles and other <meta>s can put its `<meta charset="windows-1251">` past 1024
// bytes: read as UTF-8, every Cyrillic word of the page was garbage in the index, where a browser
// showed it right (Firefox, which stops at 1024 bytes, guesses windows-1251 from the bytes). As in
// Chrome, the head ends at the first tag that has no place in it (a <body>, a <div>), outside the
// text of a <script>, <style> or <title>; a <meta> after that does not count. A regular
// expression is enough here, unlike for links: the standard's own prescan is a small byte-level
// scanner of <meta> tags that skips comments, which this does too.
function metaCharset(body: Uint8Array): string | undefined {
  const found = metaCharsetIn(latin1(body, PRESCAN_BYTES));
  if (found !== undefined || body.length <= PRESCAN_BYTES) return found;
  // Cut at the <body> (or </head>) first, so that a page's body is not searched for what only its
  // head can have: most pages have one, a few KiB in.
  const text = latin1(body, HEAD_BYTES);
  const bodyAt = text.search(BODY);
  const head = (bodyAt === -1 ? text : text.slice(0, bodyAt))
    .replace(COMMENT, "")
    .replace(RAW_TEXT, "");
  const end = head.search(NOT_IN_HEAD);
  return metaCharsetIn(end === -1 ? head : head.slice(0, end));
}

const PRESCAN_BYTES = 1024;
// How far a head is looked through, at most: a page whose head is longer than this (inline
// scripts and styles of a page builder) declares its charset in the header, if anywhere.
const HEAD_BYTES = 64 * 1024;
const BODY = /<(?:\/head|body)[\t\n\f\r />]/i;
const COMMENT = /<!--[^]*?(-->|$)/g;
const RAW_TEXT = /<(script|style|title|noscript)\b[^]*?(<\/\1[\t\n\f\r />]|$)/gi;
const NOT_IN_HEAD =
  /<\/head[\t\n\f\r />]|<(?!(?:html|head|meta|link|base|script|style|title|noscript|object|template)[\t\n\f\r />])[a-z]/i;

function latin1(body: Uint8Array, bytes: number): string {
  return Buffer.from(body.buffer, body.byteOffset, Math.min(body.length, bytes)).toString("latin1");
}

function metaCharsetIn(text: string): string | undefined {
  const head = text.replace(COMMENT, "");
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

/** The charset parameter of a media type: `text/html; Charset="koi8-r"` gives "koi8-r". */
export function charsetOf(contentType: string): string | undefined {
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
  return text.replace(COLLAPSIBLE, " ").trim();
}

// Whitespace that is not a single space: the runs that collapse to one space.
const COLLAPSIBLE = /\s{2,}|[^\S ]/g;

function parseUrl(input: string, base?: URL): URL | null {
  try {
    return new URL(input, base);
  } catch {
    return null;
  }
}
