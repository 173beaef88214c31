// parsePage, linksOnHost and readHtml on the quirks real pages have: entities, comments with
// tags in them, scripts that look like markup, uppercase and unquoted attributes, unclosed
// elements, <base>, every shape of relative URL, Cyrillic text and URLs, legacy charsets.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  charsetOf,
  linksOnHost,
  parsePage,
  parseUtf8Page,
  readHtml,
  sniffCharset,
} from "../shared/html.ts";
import { encode } from "../shared/site/wild.ts";

const test = suite("html");
const PAGE = "http://127.0.0.1:8080/wiki/sockets?lang=en#intro";

const text = (html: string) => parsePage(html, PAGE).text;
const links = (html: string) => parsePage(html, PAGE).links;
/** The text of a response body as the crawler and the lessons read it, given its Content-Type. */
const bodyText = (body: Uint8Array, contentType = "") =>
  readHtml(body, PAGE, charsetOf(contentType)).page.text;

test("title: the first <title>, entities decoded, whitespace collapsed", () => {
  const html = "<head><title>\n  Sockets &amp;\tthreads&nbsp;&#8212; &laquo;сокеты&raquo; </title>";
  assert.is(parsePage(html, PAGE).title, "Sockets & threads — «сокеты»");
  assert.is(parsePage("<title>one</title><title>two</title>", PAGE).title, "one");
  assert.is(parsePage("<p>no title here</p>", PAGE).title, "");
});

test("text: block elements separate words, inline elements do not", () => {
  assert.is(text("<p>a</p><p>b</p>"), "a b");
  assert.is(text("before<div>inside</div>after"), "before inside after");
  assert.is(
    text("<div>one</div><div>two</div><h2>three</h2>four<br>five"),
    "one two three four five",
  );
  assert.is(text("<table><tr><td>cell</td><td>next</td></tr></table>"), "cell next");
  assert.is(text("<b>in</b>line <i>it</i><span>alic</span>"), "inline italic");
  assert.is(text("  lots \n\n of\t\twhite   space  "), "lots of white space");
});

test("headings: the text of <h1> to <h6>, also in the text; one heading never joins the next", () => {
  const headings = (html: string) => parsePage(html, PAGE).headings;
  const html = "<h1>Event <b>loop</b>s</h1><p>body</p><h2>select &amp; poll</h2><h3>epoll</h3>";
  assert.is(headings(html), "Event loops select & poll epoll");
  assert.is(text(html), "Event loops body select & poll epoll");
  // A heading left open is closed by the next one, or by its own end tag, or by nothing.
  assert.is(headings("<h2>one<h3>two</h3>after<H4>three</H4>"), "one two three");
  assert.is(headings("<h2>one</h2><h2>two</h2>"), "one two");
  assert.is(headings("<h1>a<script>hidden</script>b</h1><title>not</title>"), "ab");
  assert.is(headings("<p>no headings</p>"), "");
  assert.is(headings("<h1>open to the end"), "open to the end");
});

test("text: unclosed <p> and <li> are closed for us", () => {
  assert.is(text("<p>first<p>second<ul><li>one<li>two</ul>after"), "first second one two after");
});

test("text: named and numeric entities are decoded; &nbsp; separates words", () => {
  assert.is(text("fish &amp; chips, 1 &lt; 2 &gt; 0"), "fish & chips, 1 < 2 > 0");
  assert.is(text("&#1089;&#x43E;&#1082;&#1077;&#1090;"), "сокет");
  assert.is(text("a&nbsp;b&nbsp;&nbsp;c"), "a b c");
  assert.is(text("&laquo;quoted&raquo; &copy; &euro;"), "«quoted» © €");
});

test("text: no scripts, styles, noscript, template, title or comments", () => {
  const html = `<!DOCTYPE html><html><head><title>Title</title>
    <style>p { color: red } /* </div> */</style>
    <script>var s = "</div><a href='/fake'>fake</a>"; if (a < b && c > d) {}</script>
    </head><body>
    <!-- old: <p>commented out</p> <a href="/commented">link</a> -->
    <p>visible</p>
    <noscript><p>enable JavaScript</p></noscript>
    <template><p>template row</p></template>
    <script type="application/ld+json">{"name": "</p>"}</script>
    <p>also visible</p></body></html>`;
  assert.is(text(html), "visible also visible");
  assert.equal(links(html), []);
});

test("text and links: uppercase tags and attributes, unquoted attribute values", () => {
  const html = "<P>Upper</P><A HREF=/wiki/epoll TITLE=x>epoll</A> <a href=select.html>select</a>";
  assert.is(text(html), "Upper epoll select");
  assert.equal(links(html), [
    "http://127.0.0.1:8080/wiki/epoll",
    "http://127.0.0.1:8080/wiki/select.html",
  ]);
});

test("links: relative paths, ../ and ./, root-relative and query strings", () => {
  const html = `
    <a href="threads">bare</a>
    <a href="./poll">dot</a>
    <a href="../category/io">dot dot</a>
    <a href="../../../../up-too-far">too far up</a>
    <a href="/wiki/epoll">root</a>
    <a href="?action=history">query only</a>
    <a href="select?a=1&b=%20two">query</a>`;
  assert.equal(links(html), [
    "http://127.0.0.1:8080/wiki/threads",
    "http://127.0.0.1:8080/wiki/poll",
    "http://127.0.0.1:8080/category/io",
    "http://127.0.0.1:8080/up-too-far",
    "http://127.0.0.1:8080/wiki/epoll",
    "http://127.0.0.1:8080/wiki/sockets?action=history",
    "http://127.0.0.1:8080/wiki/select?a=1&b=%20two",
  ]);
});

test("links: fragments are dropped, duplicates kept once in first-seen order", () => {
  const html = `
    <a href="#top">top</a>
    <a href="b#one">b</a>
    <a href="a">a</a>
    <a href="b#two">b again</a>
    <a href="">the page itself</a>`;
  assert.equal(links(html), [
    "http://127.0.0.1:8080/wiki/sockets?lang=en",
    "http://127.0.0.1:8080/wiki/b",
    "http://127.0.0.1:8080/wiki/a",
  ]);
});

test("links: absolute, https and protocol-relative; non-web schemes and garbage dropped", () => {
  const html = `
    <a href="http://example.org/wiki/Epoll">http</a>
    <a href="https://example.com/docs">https</a>
    <a href="//other.example/x">protocol-relative</a>
    <a href="mailto:editors@example.org">mail</a>
    <a href="javascript:void(0)">js</a>
    <a href="JavaScript:alert(1)">js, mixed case</a>
    <a href="data:text/html,hi">data</a>
    <a href="tel:+100">tel</a>
    <a href="ftp://example.org/file">ftp</a>
    <a href="http://exa mple.org/">space in host</a>
    <a href="http://[::1">unclosed IPv6</a>
    <a>no href at all</a>
    <a name="anchor">named anchor</a>`;
  assert.equal(links(html), [
    "http://example.org/wiki/Epoll",
    "https://example.com/docs",
    "http://other.example/x",
  ]);
  const secure = parsePage('<a href="//other.example/x">x</a>', "https://h/").links;
  assert.equal(secure, ["https://other.example/x"]);
});

test("links: entities decoded and surrounding whitespace trimmed in href; <area> counts", () => {
  const html = `
    <a href="/wiki/x?action=history&amp;oldid=3">entity</a>
    <a href="/wiki/y?a=1&#38;b=2">numeric entity</a>
    <a href="  /wiki/z
      ">whitespace</a>
    <map><area href="/wiki/map" alt="map"></map>`;
  assert.equal(links(html), [
    "http://127.0.0.1:8080/wiki/x?action=history&oldid=3",
    "http://127.0.0.1:8080/wiki/y?a=1&b=2",
    "http://127.0.0.1:8080/wiki/z",
    "http://127.0.0.1:8080/wiki/map",
  ]);
});

test("links: frames, and a <link> to a page (next, search), not to a stylesheet or a feed", () => {
  // What wget -r follows besides <a>: Sphinx links its search page only as <link rel="search">.
  const html = `<head>
    <link rel="stylesheet" href="/static/style.css">
    <LINK REL="Shortcut Icon" href="/favicon.ico">
    <link rel="alternate stylesheet" href="/static/dark.css">
    <link rel="alternate" type="application/rss+xml" href="/feed.xml">
    <link rel="search" type="application/opensearchdescription+xml" href="/opensearch.xml">
    <link rel="preload" href="/static/font.woff2">
    <link rel="search" title="Search" href="search.html" />
    <link rel="next" href="chapter-2.html"><link rel="prev up" href="/wiki/">
    <link rel="alternate" hreflang="ru" type="text/html" href="/ru/wiki/sockets">
    <link rel="canonical" href="http://127.0.0.1:8080/wiki/sockets">
    <link href="/no-rel">
    </head>
    <frameset><frame src="/frames/menu.html"><frame name="main" SRC=/frames/main.html></frameset>
    <iframe src="embedded.html" title="x"></iframe>`;
  assert.equal(links(html), [
    "http://127.0.0.1:8080/wiki/search.html",
    "http://127.0.0.1:8080/wiki/chapter-2.html",
    "http://127.0.0.1:8080/wiki/",
    "http://127.0.0.1:8080/ru/wiki/sockets",
    "http://127.0.0.1:8080/wiki/sockets",
    "http://127.0.0.1:8080/frames/menu.html",
    "http://127.0.0.1:8080/frames/main.html",
    "http://127.0.0.1:8080/wiki/embedded.html",
  ]);
});

test("links: <base href> resolves every link, even those before it; only the first counts", () => {
  const html = `
    <a href="before">before</a>
    <head><base href="/docs/v2/"><base href="http://ignored.example/"></head>
    <a href="after">after</a>
    <a href="../v1/old">up</a>
    <a href="/root">root</a>`;
  assert.equal(links(html), [
    "http://127.0.0.1:8080/docs/v2/before",
    "http://127.0.0.1:8080/docs/v2/after",
    "http://127.0.0.1:8080/docs/v1/old",
    "http://127.0.0.1:8080/root",
  ]);
  const absolute = links('<base href="https://mirror.example/a/"><a href="b">b</a>');
  assert.equal(absolute, ["https://mirror.example/a/b"]);
});

test("links in comments, scripts and styles are not links", () => {
  const html = `
    <!-- <a href="/in-comment">x</a> -->
    <!--[if IE]><a href="/conditional">x</a><![endif]-->
    <script>document.write('<a href="/in-script">x</a>')</script>
    <style>a[href="/in-style"] {}</style>
    <a href="/real">real</a>`;
  assert.equal(links(html), ["http://127.0.0.1:8080/real"]);
});

test("Cyrillic: text as is, URLs percent-encoded as UTF-8, hosts as punycode", () => {
  const html = `<p>Сокеты и&nbsp;потоки</p>
    <a href="/wiki/Сокет">path</a>
    <a href="/search?q=цикл событий">query</a>
    <a href="http://пример.рф/страница">host</a>`;
  const page = parsePage(html, PAGE);
  assert.is(page.text, "Сокеты и потоки path query host");
  assert.equal(page.links, [
    "http://127.0.0.1:8080/wiki/%D0%A1%D0%BE%D0%BA%D0%B5%D1%82",
    "http://127.0.0.1:8080/search?q=%D1%86%D0%B8%D0%BA%D0%BB%20%D1%81%D0%BE%D0%B1%D1%8B%D1%82%D0%B8%D0%B9",
    "http://xn--e1afmkfd.xn--p1ai/%D1%81%D1%82%D1%80%D0%B0%D0%BD%D0%B8%D1%86%D0%B0",
  ]);
});

test("linksOnHost: same host and port, http only; port 80 is no port", () => {
  const all = [
    "http://127.0.0.1:8080/a",
    "http://127.0.0.1:8081/other-port",
    "http://127.0.0.1/no-port",
    "https://127.0.0.1:8080/https",
    "http://localhost:8080/other-name",
    "http://127.0.0.1:8080/b?q=1",
  ];
  assert.equal(linksOnHost(all, "127.0.0.1:8080"), [
    "http://127.0.0.1:8080/a",
    "http://127.0.0.1:8080/b?q=1",
  ]);
  const site = ["http://h:80/explicit", "http://h/implicit", "http://h:8080/not", "http://H/upper"];
  assert.equal(linksOnHost(site, "h"), [
    "http://h:80/explicit",
    "http://h/implicit",
    "http://H/upper",
  ]);
  assert.equal(linksOnHost(site, "h:80"), linksOnHost(site, "h"));
  assert.equal(linksOnHost(["not a url", "mailto:x@h"], "h"), []);
});

test("readHtml: the charset of the Content-Type, UTF-8 by default and for unknown labels", () => {
  const utf8 = new TextEncoder().encode("Привет, мир");
  const cp1251 = new Uint8Array([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2, 0x2c, 0x20, 0xec, 0xe8, 0xf0]);
  const koi8 = new Uint8Array([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4, 0x2c, 0x20, 0xcd, 0xc9, 0xd2]);
  assert.is(bodyText(cp1251, "text/html; charset=windows-1251"), "Привет, мир");
  assert.is(bodyText(koi8, 'text/html;Charset="KOI8-R"'), "Привет, мир");
  assert.is(bodyText(cp1251, "text/html; q=1; charset = cp1251 "), "Привет, мир");
  assert.is(bodyText(utf8), "Привет, мир");
  assert.is(bodyText(utf8, "text/html"), "Привет, мир");
  assert.is(bodyText(utf8, "text/html; charset=no-such-charset"), "Привет, мир");
  // Bytes that are not UTF-8, in a page that says it is, become U+FFFD instead of failing it.
  assert.is(bodyText(new Uint8Array([0x61, 0xff, 0x62]), "text/html; charset=utf-8"), "a\uFFFDb");
});

test("guessCharset: a page that declares nothing is UTF-8 if it is, else what its letters say", () => {
  const sniff = (body: Uint8Array) => {
    const { charset, from } = sniffCharset(body);
    return `${charset} from ${from}`;
  };
  const russian =
    "Мы уже говорили про потоки и процессы. Сейчас мы разберемся, как происходит создание процессов.";
  assert.is(sniff(Buffer.from(russian)), "utf-8 from default");
  assert.is(sniff(Buffer.from("<p>plain ASCII</p>")), "utf-8 from default");
  for (const charset of ["windows-1251", "koi8-r"]) {
    assert.is(sniff(encode(russian, charset)), `${charset} from guess`);
    // In capitals too: each letter counts by its frequency, whatever its case.
    assert.is(sniff(encode("ПРОЦЕССЫ И ПОТОКИ", charset)), `${charset} from guess`);
    assert.is(bodyText(encode(russian, charset), "text/html"), russian);
  }
  // Accented letters between ASCII ones are a Western page, and its curly quotes are quotes (Node
  // 20.18.3 decodes windows-1252's 0x80-0x9F as control characters: html.ts puts them right).
  const western = Buffer.from("\x93Gr\xf6\xdfe\x94 \x96 caf\xe9 \x80", "latin1");
  assert.is(sniff(western), "windows-1252 from guess");
  assert.is(bodyText(western), "“Größe” – café €");
  assert.is(bodyText(western, "text/html; charset=iso-8859-1"), "“Größe” – café €");
  // UTF-8 with a stray byte (a footer's "©" in windows-1252), or cut in the middle of a
  // character at the end, is still UTF-8.
  const stray = Buffer.concat([Buffer.from(russian), Buffer.from([0xa9])]);
  assert.is(sniff(stray), "utf-8 from guess");
  assert.is(bodyText(stray), `${russian}\uFFFD`);
  assert.is(sniff(Buffer.from(russian).subarray(0, -2)), "utf-8 from guess"); // "в." cut to its first byte
  assert.is(sniff(Buffer.from("abc\xd0", "latin1")), "utf-8 from guess");
  // A declaration still wins over the guess.
  assert.is(
    sniff(Buffer.concat([Buffer.from('<meta charset="koi8-r">'), encode(russian, "windows-1251")])),
    "koi8-r from meta",
  );
});

test("sniffCharset: a BOM wins, then the header's charset, then <meta> in the head, then UTF-8", () => {
  const bytes = (text: string) => Buffer.from(text, "latin1");
  const sniff = (body: Uint8Array, declared?: string) => {
    const { charset, from } = sniffCharset(body, declared);
    return `${charset} from ${from}`;
  };
  const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("<p>Привет")]);
  assert.is(sniff(bom, "windows-1251"), "utf-8 from bom");
  assert.is(bodyText(bom, "text/html; charset=windows-1251"), "Привет");
  assert.is(sniff(Buffer.from([0xff, 0xfe, 0x41, 0])), "utf-16le from bom");
  const meta = bytes('<html><head><meta charset="koi8-r"><title>x</title>');
  assert.is(sniff(meta, "cp1251"), "windows-1251 from header");
  assert.is(sniff(meta), "koi8-r from meta");
  assert.is(sniff(meta, "nonsense"), "koi8-r from meta");
  const equiv = bytes("<META HTTP-EQUIV='Content-Type' CONTENT='text/html; charset=Windows-1251'>");
  assert.is(sniff(equiv), "windows-1251 from meta");
  assert.is(sniff(bytes("<meta charset=KOI8-R>")), "koi8-r from meta");
  // Past the first 1024 bytes, a <meta> still counts while the head goes on (as in Chrome): a
  // Russian site's head of scripts put it there. A <meta> after the head has ended does not.
  assert.is(sniff(bytes(" ".repeat(1024) + '<meta charset="koi8-r">')), "koi8-r from meta");
  const scripts = `<script>${'document.write("<div>");'.repeat(60)}</script>`;
  const late = `<html><head><title>x</title>${scripts}<meta charset="windows-1251"></head>`;
  assert.is(sniff(bytes(late)), "windows-1251 from meta");
  const inBody = `<html><head><title>x</title></head><body>${scripts}<meta charset="koi8-r">`;
  assert.is(sniff(bytes(inBody)), "utf-8 from default");
  assert.is(sniff(bytes(`<p>${scripts}<meta charset="koi8-r">`)), "utf-8 from default");
  // Inside a comment, or naming UTF-16: not a declaration to follow.
  assert.is(sniff(bytes('<!-- <meta charset="koi8-r"> -->')), "utf-8 from default");
  assert.is(sniff(bytes(`<!-- ${scripts} <meta charset="koi8-r"> -->`)), "utf-8 from default");
  assert.is(sniff(bytes('<meta charset="utf-16">')), "utf-8 from meta");
  assert.is(sniff(bytes('<meta name="robots" content="noindex">')), "utf-8 from default");
  const koi8 = Buffer.concat([
    bytes('<meta http-equiv="content-type" content="text/html; charset=koi8-r"><p>'),
    Buffer.from([0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4]),
  ]);
  assert.is(bodyText(koi8, "text/html"), "Привет");
});

test("links: a query on a page in windows-1251 or koi8-r is in the page's charset, its path in UTF-8", () => {
  const html =
    '<a href="/поиск?q=тест&amp;p=1">a</a><a href="?q=中">b</a>' +
    '<meta http-equiv="refresh" content="9; url=/r?q=ё">';
  assert.equal(parsePage(html, PAGE, "windows-1251").links, [
    "http://127.0.0.1:8080/%D0%BF%D0%BE%D0%B8%D1%81%D0%BA?q=%F2%E5%F1%F2&p=1",
    "http://127.0.0.1:8080/wiki/sockets?q=%26%2320013%3B",
    "http://127.0.0.1:8080/r?q=%B8",
  ]);
  assert.is(
    parsePage(html, PAGE, "koi8-r").links[0],
    "http://127.0.0.1:8080/%D0%BF%D0%BE%D0%B8%D1%81%D0%BA?q=%D4%C5%D3%D4&p=1",
  );
  assert.is(parsePage(html, PAGE, "windows-1251").refresh?.url, "http://127.0.0.1:8080/r?q=%B8");
  // UTF-8, UTF-16 and the charsets of several bytes a character: UTF-8.
  const utf8 =
    "http://127.0.0.1:8080/%D0%BF%D0%BE%D0%B8%D1%81%D0%BA?q=%D1%82%D0%B5%D1%81%D1%82&p=1";
  for (const charset of [undefined, "utf-8", "utf-16le", "shift_jis"]) {
    assert.is(parsePage(html, PAGE, charset).links[0], utf8, String(charset));
  }
});

test('robots: <meta name="robots"> noindex, nofollow and none, in any case and order', () => {
  const robots = (html: string) => parsePage(html, PAGE).robots;
  assert.equal(robots("<p>nothing said"), { noindex: false, nofollow: false });
  assert.equal(robots('<meta name="robots" content="noindex">'), {
    noindex: true,
    nofollow: false,
  });
  assert.equal(robots('<META NAME="Robots" CONTENT="index, NoFollow">'), {
    noindex: false,
    nofollow: true,
  });
  assert.equal(robots('<meta name="robots" content="none">'), { noindex: true, nofollow: true });
  assert.equal(robots('<meta name="description" content="noindex">'), {
    noindex: false,
    nofollow: false,
  });
});

test('refresh: <meta http-equiv="refresh"> read as the HTML standard reads it; its URL a link', () => {
  const refresh = (content: string) => {
    const html = `<meta http-equiv="Refresh" content="${content}"><a href="/a">a</a>`;
    const page = parsePage(html, PAGE);
    return { refresh: page.refresh, links: page.links };
  };
  const wiki = "http://127.0.0.1:8080/wiki/";
  // rustdoc's redirect pages, word for word; then quotes, commas, a dot, "url" left out.
  assert.equal(refresh("0;URL=../../syn/struct.File.html"), {
    refresh: { seconds: 0, url: "http://127.0.0.1:8080/syn/struct.File.html" },
    links: ["http://127.0.0.1:8080/syn/struct.File.html", "http://127.0.0.1:8080/a"],
  });
  assert.equal(refresh("5; url='next' and more").refresh, { seconds: 5, url: `${wiki}next` });
  assert.equal(refresh(" 3 , /y").refresh?.url, "http://127.0.0.1:8080/y");
  assert.equal(refresh("1.5; URL = &quot;q").refresh, { seconds: 1, url: `${wiki}q` });
  assert.equal(refresh("0; moved").refresh?.url, `${wiki}moved`);
  // A reload of the page itself, no URL, or no refresh at all: no refresh, and no link made.
  for (const reload of ["30", "", "url=/x", "x; url=/z", "0; url=sockets?lang=en#top"]) {
    assert.is(refresh(reload).refresh, null, reload);
  }
  assert.equal(refresh("0; url=javascript:go()"), {
    refresh: null,
    links: ["http://127.0.0.1:8080/a"],
  });
  // The first refresh counts; a <meta name="refresh"> is none.
  const twice =
    '<meta http-equiv=refresh content="0; url=/1"><meta http-equiv=refresh content="0; url=/2">';
  assert.is(parsePage(twice, PAGE).refresh?.url, "http://127.0.0.1:8080/1");
  assert.is(parsePage('<meta name="refresh" content="0; url=/1">', PAGE).refresh, null);
});

test("entities in text and attributes: legacy names without ';' as browsers read them", () => {
  // In text, "&amp" and "&copy" without ';' still count; in an attribute, not when a letter,
  // digit or '=' follows (a query string "?a=1&copy=2" keeps its "&copy=").
  assert.is(text("fish &amp chips &copy2024 &notit; &#65 &#x42;"), "fish & chips ©2024 ¬it; A B");
  assert.equal(links('<a href="/x?a=1&copy=2&amp;b=3&lt">x</a>'), [
    "http://127.0.0.1:8080/x?a=1&copy=2&b=3%3C",
  ]);
  // "&nbsp" and "&emsp;" are whitespace like any other; an unknown entity stays as it is.
  assert.is(text("a&nbsp;&nbsp;b&emsp;c &nbsp d &bogus; e"), "a b c d &bogus; e");
  assert.is(text("&nbsp;&#9;lead and trail&#10;&nbsp;"), "lead and trail");
});

test("text: every kind of whitespace collapses, inside a piece of text and between pieces", () => {
  assert.is(text("a\u00a0\u00a0b\u2003c\u3000d\ufeffe\vf\r\ng"), "a b c d e f g");
  assert.is(text("one  two\n\tthree <b> four </b> five<i>six</i>"), "one two three four fivesix");
  assert.is(text("x\u200by"), "x\u200by"); // a zero-width space is not whitespace to \s
});

test("uppercase and mixed-case tags close, hide and separate as lower-case ones do", () => {
  assert.is(text("<DIV>a</div><Script>hidden</SCRIPT><P>b</P>c<BR>d"), "a b c d");
  assert.is(parsePage("<TITLE>Upper</TiTlE><p>body", PAGE).title, "Upper");
});

test("unclosed elements: <title> and <script> to the end of the page, <p> and <li> closed", () => {
  // An unclosed <title> or <script> reads the rest of the page as its text, as browsers do.
  assert.equal(parsePage("<title>Only a title <p>and no end", PAGE), {
    title: "Only a title <p>and no end",
    text: "",
    headings: "",
    links: [],
    robots: { noindex: false, nofollow: false },
    refresh: null,
  });
  assert.is(text("<p>before<script>var a = '<a href=x>';"), "before");
  // A block closes an open <p>; both add the space between words.
  assert.is(text("<p>one<div>two</div>three<p>four</p>five"), "one two three four five");
  // An end tag closes the elements left open inside it; a stray end tag is ignored, but "</p>"
  // is an empty paragraph and "</br>" a line break.
  assert.is(text("<div><span>a<p>b</div>c"), "a b c");
  assert.is(text("a</span>b</p>c</br>d"), "ab c d");
  // A <form> inside a form is ignored, and so is the space its start tag would add.
  assert.is(text("<form>a<form>b</form>c"), "ab c");
});

test("SVG and MathML: their <title> and <style> are markup, CDATA is text, '/>' closes", () => {
  const html =
    "<title>Page</title><p>before <svg><title>Icon</title><style>.a{}</style>" +
    "<![CDATA[in svg]]><path/><foreignObject><p>html inside</p></foreignObject></svg>after" +
    "<![CDATA[a comment in HTML]]>";
  const page = parsePage(html, PAGE);
  assert.is(page.title, "Page");
  assert.is(page.text, "before in svg html inside after");
  // <svg> closes itself with "/>", so what follows is HTML again: a <title> there is hidden.
  assert.is(text("a<svg/><title>hidden</title>b"), "ab");
});

test("parseUtf8Page: the same page as parsePage of the decoded text", () => {
  const pages = [
    "<title>Сокеты &amp; потоки</title><p>Съешь ещё\u00a0этих <b>мягких</b>булок, € 😀",
    '<a href="/wiki/Сокет?q=цикл&amp;x=1">ссылка</a><meta name="robots" content="noindex">',
    "<p>é<!-- комментарий --><script>'ё'</script>ж &nbsp;з\u2028и",
  ];
  for (const html of pages) {
    assert.equal(parseUtf8Page(Buffer.from(html), PAGE), parsePage(html, PAGE), html);
  }
});

test("parseUtf8Page: bytes that are not UTF-8 become U+FFFD, as in decoding the page first", () => {
  const bytes = (...parts: (string | number[])[]) =>
    Buffer.concat(parts.map((part) => Buffer.from(part)));
  const cases = [
    bytes("<p>a", [0xff], "b</p>"), // never in UTF-8
    bytes("<p>a", [0xe2, 0x82], "</p>b"), // a character cut short by a tag
    bytes("<title>", [0xc0, 0xaf], "</title>"), // overlong "/"
    bytes('<a href="/', [0xed, 0xa0, 0x80], '">x</a>'), // a surrogate
    bytes("<p>", [0x80], "&amp;", [0xf0, 0x9f, 0x98], "<b>x</b>"), // stray continuation bytes
  ];
  for (const body of cases) {
    const decoded = body.toString("utf8");
    assert.ok(decoded.includes("\uFFFD"));
    assert.equal(parseUtf8Page(body, PAGE), parsePage(decoded, PAGE), decoded);
  }
});

test("parseUtf8Page: a page larger than the chunks it is read in", () => {
  // Read in chunks of 64 KiB: the cuts fall inside words, tags, entities and Cyrillic text.
  const block =
    "<p>Сокеты &amp; потоки, select\tи epoll&nbsp;— <b>не</b>блокирующие вызовы " +
    '<a href="/wiki/Сокет#x">сокет</a> <a href="/wiki/a?x=1&amp;y=2">a</a>😀</p>\n';
  const html = `<title>Большая страница</title>${block.repeat(1200)}`;
  assert.ok(Buffer.byteLength(html) > 3 * 64 * 1024);
  assert.equal(parseUtf8Page(Buffer.from(html), PAGE), parsePage(html, PAGE));
  assert.is(parsePage(html, PAGE).text.split("сокет").length, 1201);
});

test.run();
