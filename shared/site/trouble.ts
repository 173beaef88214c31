// The hard cases a real crawler must survive, each linked from /trouble/. Most are written with
// node:http. Three are raw bytes written straight to the socket, because node:http would never
// produce them: a malformed status line, chunked encoding chosen by us rather than by node, and a
// body that ends only when the connection closes. They still wait their turn behind the earlier
// responses of the same connection (writeRaw).
import type { IncomingMessage, ServerResponse } from "node:http";
import { esc, layout } from "./pages.ts";
import { HTML, send } from "./reply.ts";

const CASES: [path: string, what: string][] = [
  ["/redirect/3", "three redirects (302) in a row, relative and absolute, ending at an article"],
  ["/loop/a", "a redirect loop: /loop/a → /loop/b → /loop/a"],
  ["/no-such-page", "404 Not Found"],
  ["/files/report.pdf", "not HTML: application/pdf"],
  ["/files/data.json", "not HTML: application/json, with page paths inside"],
  ["/huge", "an 8 MiB page"],
  ["/slow-body", "headers at once, then the body in 20 pieces over 2 seconds"],
  ["/reset", "the connection is reset after 512 of 2048 body bytes"],
  ["/malformed", "a malformed status line: HTTP/1.1 2OO OK"],
  ["/chunked", "chunked transfer encoding"],
  ["/close-delimited", "no Content-Length: the body ends when the server closes the connection"],
  ["/private/", "a page that robots.txt disallows"],
];

export function troublePage(): string {
  // The script and the comment hold links that are not links: a crawler that finds URLs with a
  // regular expression follows them and gets 404s; one that tokenizes HTML never sees them.
  return layout(
    "Hard cases — Трудные случаи",
    `<p><a href="/">Mini-wiki</a></p>
<h1>Hard cases for crawlers — Трудные случаи для поискового робота</h1>
<ul>
${CASES.map(([path, what]) => `<li><a href="${path}">${path}</a>: ${esc(what)}</li>`).join("\n")}
</ul>
<!-- Removed: <a href="/trap/in-comment">an old link</a> -->
<script>const template = '<a href="/trap/in-script">not a link</a>';</script>`,
  );
}

export function privatePage(): string {
  return layout(
    "Private — Закрыто",
    `<h1>Private — Закрыто</h1>
<p>robots.txt disallows this page, so a polite crawler never fetches it.
<span lang="ru">Вежливый поисковый робот сюда не заходит.</span> <a href="/">Mini-wiki</a></p>`,
  );
}

// Built on first use and kept: 8 MiB is too much to build per request, and it never changes.
const HUGE_SIZE = 8 * 1024 * 1024;
let hugePage: Buffer | undefined;

/** An 8 MiB page with a Content-Length, for a crawler that needs a limit on body size. */
export function huge(res: ServerResponse): void {
  hugePage ??= buildHugePage();
  send(res, 200, HTML, hugePage);
}

function buildHugePage(): Buffer {
  const title = "Huge page — Огромная страница";
  const lines: string[] = [];
  let size = Buffer.byteLength(layout(title, ""));
  for (let n = 1; ; n++) {
    const line = `<p>Line ${n}: this page is 8 MiB, so a crawler must know when to stop reading.</p>\n`;
    if (size + line.length > HUGE_SIZE) break;
    lines.push(line);
    size += line.length;
  }
  const page = Buffer.from(layout(title, lines.join("")));
  // Spaces after </html> bring it to exactly 8 MiB; a browser ignores them.
  return Buffer.concat([page, Buffer.alloc(HUGE_SIZE - page.length, " ")]);
}

const SLOW_PIECES = 20;
const SLOW_INTERVAL_MS = 100;
/** How long /slow-body takes from its headers to its last piece, at the least. */
export const SLOW_BODY_MS = SLOW_PIECES * SLOW_INTERVAL_MS;

/**
 * The headers at once, then the body in 20 pieces, one every 100 ms. The pieces are cut at byte
 * offsets, some inside a two-byte Cyrillic letter: a client that decodes each piece on its own
 * instead of the whole body gets U+FFFD.
 */
export function slowBody(res: ServerResponse): void {
  const lines = Array.from(
    { length: SLOW_PIECES },
    (_, i) => `<p>Piece ${i + 1} of ${SLOW_PIECES} — часть ${i + 1} из ${SLOW_PIECES}</p>`,
  );
  const body = Buffer.from(layout("Slow body — Медленная страница", lines.join("\n")));
  res.writeHead(200, { "Content-Type": HTML, "Content-Length": body.length });
  res.flushHeaders();
  const pieceSize = Math.ceil(body.length / SLOW_PIECES);
  let sent = 0;
  const timer = setInterval(() => {
    res.write(body.subarray(sent, sent + pieceSize));
    sent += pieceSize;
    if (sent >= body.length) {
      clearInterval(timer);
      res.end();
    }
  }, SLOW_INTERVAL_MS);
  // The client may leave before the end; then there is no one to write to.
  res.once("close", () => clearInterval(timer));
}

const RESET_PROMISED = 2048;
const RESET_SENT = 512;
const RESET_DELAY_MS = 100;

/** Content-Length 2048, then 512 bytes, then a TCP reset (RST) instead of the rest. */
export function resetMidBody(req: IncomingMessage, res: ServerResponse): void {
  const start = Buffer.from(
    layout("Reset — Сброс", "<p>This page never ends well.</p>\n".repeat(20)),
  );
  res.writeHead(200, { "Content-Type": HTML, "Content-Length": RESET_PROMISED });
  res.write(start.subarray(0, RESET_SENT), (error) => {
    if (error) return;
    // The pause lets the client read the 512 bytes first: some systems throw away received but
    // unread data when the reset arrives. Linux keeps it (a read returns it, the next one fails
    // with ECONNRESET), so a client there sees the same whether it read in time or not, unless
    // it takes a short read and a hang-up for the end, as libuv does (shared/reads.ts).
    const timer = setTimeout(() => req.socket.resetAndDestroy(), RESET_DELAY_MS);
    res.once("close", () => clearTimeout(timer));
  });
}

/** The status code is "2OO", with two capital letters O: no HTTP parser may accept it. */
export function malformed(res: ServerResponse): void {
  const body = Buffer.from(
    layout("Malformed — Испорченный ответ", "<p>The status line says 2OO, not 200.</p>"),
  );
  writeRaw(
    res,
    ["HTTP/1.1 2OO OK", `Content-Type: ${HTML}`, `Content-Length: ${body.length}`],
    body,
  );
}

/**
 * Chunked transfer encoding, whatever the request's HTTP version. That is deliberate: an HTTP/1.0
 * client should never be sent chunks, but the lessons ask with HTTP/1.0 to keep their parser
 * simple, and this is where they meet chunks anyway. The chunks are 0x1a and 0xab bytes and the
 * rest, so a parser must read hexadecimal sizes with letters in them.
 */
export function chunked(res: ServerResponse): void {
  const body = Buffer.from(
    layout("Chunked — По частям", "<p>This body came in chunks. Это тело пришло частями.</p>"),
  );
  const cuts = [0, 0x1a, 0x1a + 0xab, body.length];
  const chunks = cuts.slice(1).map((end, i) => {
    const chunk = body.subarray(cuts[i], end);
    return Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, CRLF]);
  });
  const lastChunk = Buffer.from("0\r\n\r\n");
  writeRaw(
    res,
    ["HTTP/1.1 200 OK", `Content-Type: ${HTML}`, "Transfer-Encoding: chunked"],
    Buffer.concat([...chunks, lastChunk]),
  );
}

/** No Content-Length and no chunks: the body is everything until the server closes. */
export function closeDelimited(res: ServerResponse): void {
  const body = Buffer.from(
    layout(
      "Close-delimited — До закрытия соединения",
      "<p>This body ends when the connection closes. Тело кончается с закрытием соединения.</p>",
    ),
  );
  writeRaw(res, ["HTTP/1.1 200 OK", `Content-Type: ${HTML}`], body);
}

const CRLF = Buffer.from("\r\n");

// Writes the response itself on the connection, bypassing node:http, then closes it: every raw
// response says "Connection: close", so no later request is answered.
//
// But not before its turn. A client may send several requests on one kept-alive connection
// without waiting (pipelining), and node:http answers them in order: it hands the socket to a
// response only once every earlier one has finished, and says so with the response's 'socket'
// event. Raw bytes written before that would go out ahead of an earlier response, or into the
// middle of one still sending its body.
function writeRaw(res: ServerResponse, head: string[], body: Buffer): void {
  const headBytes = Buffer.from([...head, "Connection: close", "", ""].join("\r\n"));
  const bytes = Buffer.concat([headBytes, body]);
  if (res.socket) res.socket.end(bytes);
  else res.once("socket", (socket) => socket.end(bytes));
}
