// The raw-HTTP helper, for both ends of a connection: a client builds requests and parses
// responses, a server parses requests and builds responses. It never touches a socket.
//
// Theory of operation
//
// This is "sans-I/O" protocol code, shaped like Python's h11. Whoever owns the socket (a blocking
// loop, a callback, a coroutine, an async function) reads bytes and hands them to a parser with
// `receiveData(chunk)`; an empty chunk means the peer closed the connection. Then it calls
// `nextEvent()` until that returns NEED_DATA ("read more and come back") or PAUSED ("this message
// is over"). A ResponseParser gives, in order, one `response` (status line and headers), any
// number of `data` (body bytes, handed out as soon as they arrive) and one `end`; a RequestParser
// gives `request`, `data`, `end` the same way. Because a parser never waits, the same object
// works under every style of concurrency the lessons build. Building needs no state at all:
// buildRequest() and buildResponse() return the bytes to send.
//
// Keep-alive. One parser reads one connection, message after message. From the head on,
// `mustClose` says whether the connection has to close after this message, decided from the
// message as h11 does (RFC 9112 9.3): `Connection: close`, HTTP/1.0 without `Connection:
// keep-alive`, a response body that only the peer's close can end; or the peer has closed, or
// broke the protocol. If not, `startNextCycle()` after `end` starts the next message on the bytes
// already buffered (a pipelined request, the next response), so nothing that came early is lost;
// the response side takes the next request's method, since the answer to HEAD has no body. The
// cycle is explicit, as in h11, not automatic: a server answers request N before it looks at
// request N+1, so pipelined requests are answered in order, and a server whose replies pile up
// simply stops asking for events (and stops reading) until they drain.
//
// Inside, one state machine (MessageParser) walks both kinds of message; the two parsers differ
// only in the start line and in the framing rules (RFC 9112 6.3). "head" reads lines until the
// blank line, skipping empty lines before the start line (RFC 9112 2.2; some servers send a stray
// CRLF between responses). Then the framing picks one of three ways to find the end of the body:
// a byte count ("length"), chunked coding ("chunk-size" -> "chunk-data" -> "chunk-end", then
// "trailers"), or the peer closing ("until-eof": responses only, a request with neither length
// nor chunked has no body). The last state is "done". Every pass through the loop in `step()`
// consumes input or changes state, so it cannot spin.
//
// Unread bytes sit in `buffer[start, end)`. The buffer is append-only: a `data` event is a view
// of it (or of the caller's own chunk), so bytes already handed out are never written again. When
// every byte has been read the parser drops the buffer, so an idle connection holds none. A line
// search remembers how far it has looked (`scanned`), so a head fed one byte at a time costs
// linear, not quadratic, time. Everything kept that is not body is capped by maxHeaderBytes; a
// body is never kept, only handed out, and maxBodyBytes caps its size.
//
// Errors. A ProtocolError means the peer broke HTTP: close this connection, and only this one.
// Its `statusHint` (h11's error_status_hint) is what a server answers before it closes: 400 for a
// malformed request, 414 or 431 past the head cap, 413 past the body cap, 501 for a transfer
// coding it cannot decode, 505 for an HTTP major version other than 1. The first error is kept:
// every later call to nextEvent() throws it again. Misuse by the caller (a wrong argument,
// startNextCycle() too early) is a plain TypeError or Error instead.
//
// Choices: 1xx responses (100 Continue, 103 Early Hints) are skipped and the real response
// follows, since nothing here sends `Expect: 100-continue`; 101 Switching Protocols is an error,
// since nothing here asks for an upgrade. Header bytes are decoded as latin1 (one char per byte,
// never a decoding error). A response's transfer codings other than chunked (gzip, say) are
// passed through undecoded; a request's are refused. Unlike h11, an HTTP/1.0 peer that says
// `Connection: keep-alive` is kept alive (ApacheBench's -k does that), and buildResponse answers
// it with `Connection: keep-alive`. buildResponse writes no Date: the caller, who has a clock,
// adds it (RFC 9110 6.6.1), and tests stay deterministic.
import { Buffer } from "node:buffer";

export const NEED_DATA = Symbol("NEED_DATA");
export const PAUSED = Symbol("PAUSED");

/**
 * The peer broke HTTP: close this connection (and only this one). A server answers with
 * `statusHint` first (400, 413, 414, 431, 501 or 505); a client ignores it.
 */
export class ProtocolError extends Error {
  override name = "ProtocolError";
  readonly statusHint: number;
  constructor(message: string, statusHint = 400) {
    super(message);
    this.statusHint = statusHint;
  }
}

export interface RequestEvent {
  type: "request";
  method: string; // case-sensitive, as sent: "GET"
  target: string; // as sent: "/path?q" (origin-form), "http://host/path", "host:443" or "*"
  httpVersion: string; // "1.0" or "1.1" (or "1.2"..., read as 1.1)
  headers: Map<string, string>; // names lower-cased; repeated fields joined with ", "
}
export interface ResponseEvent {
  type: "response";
  httpVersion: string; // "1.0" or "1.1"
  status: number;
  reason: string;
  headers: Map<string, string>; // names lower-cased; repeated fields joined with ", "
}
export interface DataEvent {
  type: "data";
  data: Uint8Array; // a view, not a copy: the parser never writes to it again
}
export interface EndOfMessageEvent {
  type: "end";
}
export type HttpEvent = RequestEvent | ResponseEvent | DataEvent | EndOfMessageEvent;

// token = 1*tchar                                                           (RFC 9110 5.6.2)
// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
//         / DIGIT / ALPHA
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// field-value = *( SP / HTAB / VCHAR / obs-text )                          (RFC 9110 5.5)
// This also refuses CR, LF and NUL, and (in a JavaScript string) any char above 0xff.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
// request-line = method SP request-target SP HTTP-version                  (RFC 9112 3)
// method = token; HTTP-version = "HTTP/" DIGIT "." DIGIT. Every form of request-target (3.2)
// is made of VCHARs; a space or a raw non-ASCII byte inside it is an error, not part of it.
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/(\d)\.(\d)$/;
// status-line = HTTP-version SP status-code SP [ reason-phrase ]           (RFC 9112 4)
// status-code = 3DIGIT; reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ). Real servers also
// send "HTTP/1.1 200" with no SP after the code, so the reason and its SP are optional together.
const STATUS_LINE = /^HTTP\/(\d)\.(\d) (\d{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;
// chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF                    (RFC 9112 7.1)
// chunk-size = 1*HEXDIG; chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] )
// Extensions are skipped, not parsed: nothing uses them. Trailing whitespace is tolerated.
const CHUNK_SIZE = /^([0-9A-Fa-f]+)[ \t]*(?:;[\t\x20-\x7e\x80-\xff]*)?$/;

const CR = 0x0d;
const LF = 0x0a;
const EMPTY = Buffer.alloc(0); // what an idle parser holds: one shared empty buffer, not its own

// ---- building -------------------------------------------------------------------------------

/**
 * A host and port as a URL writes them: "127.0.0.1:8080", and an IPv6 address in brackets,
 * "[::1]:8080" (RFC 3986's IP-literal), as the native module's errors write an address too.
 */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

export interface RequestOptions {
  method?: string;
  httpVersion?: "1.0" | "1.1";
  headers?: Record<string, string>;
}

/**
 * The bytes of a request with no body, like the lecture's
 * `f'GET {url} HTTP/1.0\r\nHost: abcd.com\r\n\r\n'`. HTTP/1.0 is the default because its server
 * closes the connection after the response, so "read until EOF" works. With "1.1" the server keeps
 * the connection open for the next request unless the headers say `Connection: close`. A `Host`
 * in `headers` replaces the one taken from the URL.
 */
export function buildRequest(target: string | URL, options: RequestOptions = {}): Uint8Array {
  if (typeof target !== "string" && !(target instanceof URL)) {
    throw new TypeError(`buildRequest() wants a URL or a string, got ${typeof target}`);
  }
  // The URL parser silently deletes CR, LF and tab, so check the raw text before it does.
  if (typeof target === "string" && /[\r\n\0]/.test(target)) {
    throw new TypeError(`CR, LF or NUL in URL: ${quote(target)}`);
  }
  const url = typeof target === "string" ? new URL(target) : target;
  if (url.protocol !== "http:") {
    throw new TypeError(`only http: URLs are supported (no TLS here), got ${quote(url.href)}`);
  }
  const method = checkMethod(options.method ?? "GET");
  const httpVersion = options.httpVersion ?? "1.0";
  if (httpVersion !== "1.0" && httpVersion !== "1.1") {
    throw new TypeError(`httpVersion must be "1.0" or "1.1", got ${quote(String(httpVersion))}`);
  }

  let host = url.host; // "name" or "name:port"; the URL parser already drops the default :80
  let fields = "";
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    const line = fieldLine(name, value);
    if (name.toLowerCase() === "host") host = value;
    else fields += line;
  }
  // pathname and search arrive percent-encoded; the fragment (url.hash) never leaves the client.
  const path = url.pathname + url.search;
  const head = `${method} ${path} HTTP/${httpVersion}\r\nHost: ${host}\r\n${fields}\r\n`;
  return Buffer.from(head, "latin1"); // every char was checked to be a single byte
}

export interface ResponseOptions {
  /** The reason phrase; by default the usual one for the status ("Not Found"), or none. */
  reason?: string;
  /** Fields sent as given, in order. Content-Length and Connection are written from the rest. */
  headers?: Record<string, string>;
  /** The whole body: bytes, or a string sent as UTF-8. */
  body?: Uint8Array | string;
  /** The request answered: HEAD gets the head without the body, HTTP/1.0 gets its keep-alive. */
  request?: { method: string; httpVersion: string };
  /** Say `Connection: close`: pass the parser's mustClose, or true to close for your own reasons. */
  close?: boolean;
}

/**
 * The bytes of a whole response: "HTTP/1.1 200 OK", the given fields, Content-Length, then
 * `Connection: close` (when `close`) or `Connection: keep-alive` (to an HTTP/1.0 request kept
 * alive), and the body. Always HTTP/1.1, even to an HTTP/1.0 client (RFC 9110 2.5): Content-Length
 * framing is understood by both. A 1xx, 204 or 304 has no body and no Content-Length.
 */
export function buildResponse(status: number, options: ResponseOptions = {}): Uint8Array {
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new RangeError(`status must be an integer from 100 to 599, got ${status}`);
  }
  const reason = options.reason ?? REASONS[status] ?? "";
  if (typeof reason !== "string" || !FIELD_VALUE.test(reason)) {
    throw new TypeError(`bad reason phrase: ${quote(String(reason))}`);
  }
  const { body = EMPTY, request } = options;
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  if (!(bytes instanceof Uint8Array)) throw new TypeError("body must be a Uint8Array or a string");
  const interim = status < 200;
  const bodiless = interim || status === 204 || status === 304;
  if (bodiless && bytes.length > 0) throw new TypeError(`a ${status} response has no body`);

  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    const lower = name.toLowerCase();
    if (lower === "content-length" || lower === "connection" || lower === "transfer-encoding") {
      throw new TypeError(`buildResponse() writes ${name} itself: leave it out of headers`);
    }
    head += fieldLine(name, value);
  }
  if (!bodiless) head += `Content-Length: ${bytes.length}\r\n`;
  // A 1xx is not the response yet, so it says nothing about the connection.
  if (!interim && options.close === true) head += "Connection: close\r\n";
  else if (!interim && request?.httpVersion === "1.0") head += "Connection: keep-alive\r\n";
  head += "\r\n";

  const sent = request?.method === "HEAD" ? EMPTY : bytes; // HEAD: the length of what GET sends
  const response = Buffer.allocUnsafe(head.length + sent.length);
  response.write(head, 0, "latin1"); // every char was checked to be a single byte
  response.set(sent, head.length);
  return response;
}

// The usual reason phrases (RFC 9110 15, and 429 and 431 from RFC 6585). A client must not rely
// on them, so an unlisted status simply goes without one.
const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  411: "Length Required",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** "Name: value\r\n", or a TypeError if either could break the message. */
function fieldLine(name: string, value: string): string {
  if (!TOKEN.test(name)) throw new TypeError(`bad header name: ${quote(name)}`);
  if (typeof value !== "string" || !FIELD_VALUE.test(value)) {
    throw new TypeError(`bad value for header ${name}: ${quote(String(value))}`);
  }
  return `${name}: ${value}\r\n`;
}

function checkMethod(method: unknown): string {
  if (typeof method !== "string" || !TOKEN.test(method)) {
    throw new TypeError(`bad method: ${quote(String(method))}`);
  }
  return method;
}

// ---- parsing: what both directions share ----------------------------------------------------

interface ParserOptions {
  /** Cap on the bytes of the head (start line + headers), and of a chunk-size line or trailers. */
  maxHeaderBytes?: number;
  /** Cap on the body's size; past it, a ProtocolError with statusHint 413. */
  maxBodyBytes?: number;
}

type State =
  "head" | "length" | "chunk-size" | "chunk-data" | "chunk-end" | "trailers" | "until-eof" | "done";

type Next<Head> = Head | DataEvent | EndOfMessageEvent | typeof NEED_DATA | typeof PAUSED;

function checkBodyLimit(bytes: number): void {
  if (!(bytes === Infinity || (Number.isSafeInteger(bytes) && bytes >= 0))) {
    throw new RangeError(`maxBodyBytes must be an integer >= 0 or Infinity, got ${bytes}`);
  }
}

/**
 * The state machine that RequestParser and ResponseParser share: the buffer, the lines of the
 * head and its fields, the body and its framing, the caps, EOF, errors and the keep-alive cycle.
 * A subclass parses its start line and picks the body's framing.
 */
abstract class MessageParser<Head extends RequestEvent | ResponseEvent> {
  protected readonly maxHeaderBytes: number;
  private readonly defaultMaxBodyBytes: number;
  private maxBodyBytes: number; // this message's: limitBody() may change it, until the next one
  private state: State = "head";
  private error: ProtocolError | null = null;

  private buffer: Buffer = EMPTY;
  private start = 0; // unread bytes are buffer[start, end)
  private end = 0;
  private owned = false; // true once buffer is our own copy, which we may append to
  private scanned = 0; // bytes after start already searched for LF
  private eof = false;

  // The message being read. startNextCycle() resets these, and state, and keeps unread bytes.
  protected head: Head | null = null; // the start line and fields so far, until the blank line
  private lastName: string | null = null; // the field that an obs-fold line continues
  private headBytes = 0; // of the head (with skipped 1xx heads), later of the trailers
  private remaining = 0; // body bytes left: of the whole body ("length") or of this chunk
  private bodyBytes = 0;
  private close = false; // this message says the connection ends after it

  constructor(options: ParserOptions, maxHeaderBytes: number, maxBodyBytes: number) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError("the parser's options must be an object");
    }
    this.maxHeaderBytes = options.maxHeaderBytes ?? maxHeaderBytes;
    this.maxBodyBytes = this.defaultMaxBodyBytes = options.maxBodyBytes ?? maxBodyBytes;
    if (!Number.isSafeInteger(this.maxHeaderBytes) || this.maxHeaderBytes < 1) {
      throw new RangeError(
        `maxHeaderBytes must be a positive integer, got ${options.maxHeaderBytes}`,
      );
    }
    checkBodyLimit(this.maxBodyBytes);
  }

  /**
   * A cap on the body of the message being read, instead of maxBodyBytes, until the next one: a
   * client that knows from the head what it will do with the body (not want it, or keep only
   * its start) sets the cap it needs. Checked as the body comes, as maxBodyBytes is.
   */
  limitBody(maxBytes: number): void {
    checkBodyLimit(maxBytes);
    this.maxBodyBytes = maxBytes;
  }

  /** The start line, as the event that the blank line will complete with its fields. */
  protected abstract parseStartLine(text: string): Head;
  /** At the blank line: how the body ends (setting `remaining` for "length"), or null to skip. */
  protected abstract framing(head: Head): State | null;
  /** The peer closed before the first byte of a message. */
  protected abstract closedBeforeMessage(): typeof PAUSED;
  /** "request line" or "status line", for error messages. */
  protected abstract get startLineName(): string;

  /**
   * Hand over bytes read from the socket; an empty chunk means the peer closed. The parser keeps
   * a view of `chunk` instead of copying it (data events may be views of it), so don't reuse it.
   * While the parser is PAUSED, bytes pile up for the next message: stop reading until then.
   */
  receiveData(chunk: Uint8Array): void {
    if (!(chunk instanceof Uint8Array)) throw new TypeError("receiveData() wants a Uint8Array");
    if (chunk.length === 0) {
      this.eof = true;
      return;
    }
    if (this.eof) throw new Error("receiveData() after EOF: a closed peer sends nothing more");
    if (this.error !== null) return; // the connection is going to be closed anyway
    const unread = this.end - this.start;
    if (unread === 0) {
      // The common case: everything before was read, so just look at the new chunk.
      this.buffer = Buffer.isBuffer(chunk)
        ? chunk
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      this.start = 0;
      this.end = chunk.length;
      this.owned = false;
    } else if (this.owned && this.buffer.length - this.end >= chunk.length) {
      this.buffer.set(chunk, this.end);
      this.end += chunk.length;
    } else {
      // Copy into a fresh buffer with room to spare: doubling keeps appends linear overall,
      // and the old buffer stays intact for anyone holding a data event that points into it.
      // (Compacting in place would save memory but corrupt those events; 256 is arbitrary.)
      const next = Buffer.allocUnsafe(Math.max(2 * (unread + chunk.length), 256));
      this.buffer.copy(next, 0, this.start, this.end);
      next.set(chunk, unread);
      this.buffer = next;
      this.start = 0;
      this.end = unread + chunk.length;
      this.owned = true;
    }
  }

  /** The next event, or NEED_DATA (feed more bytes), or PAUSED (the message has ended). */
  nextEvent(): Next<Head> {
    if (this.error !== null) throw this.error;
    try {
      const event = this.step();
      // Nothing left to read: let go of the bytes, so an idle connection holds none.
      if (typeof event === "symbol" && this.start === this.end) this.release();
      return event;
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.error = error;
        this.release();
      }
      throw error;
    }
  }

  /**
   * The connection ends after this message: it said so (`Connection: close`, or HTTP/1.0 without
   * `Connection: keep-alive`), or its body ends only when the peer closes, or the peer has closed
   * and every byte it sent has been read, or it broke the protocol. Known once the head is out.
   */
  get mustClose(): boolean {
    return this.close || this.error !== null || (this.eof && this.start === this.end);
  }

  /**
   * After `end`, read the next message from the same connection, starting with any bytes that
   * have already arrived. An Error if the message has not ended or the connection must close.
   */
  startNextCycle(): void {
    if (this.error !== null) {
      throw new Error("startNextCycle() after a ProtocolError: the connection must close");
    }
    if (this.state !== "done") {
      throw new Error("startNextCycle() before the end of the message (wait for the end event)");
    }
    if (this.mustClose) throw new Error("startNextCycle() on a connection that must close");
    this.state = "head";
    this.headBytes = 0;
    this.bodyBytes = 0;
    this.maxBodyBytes = this.defaultMaxBodyBytes;
  }

  /** Bytes received after the end of the message (the next one, on a kept-alive connection). */
  get trailingData(): Uint8Array {
    return this.state === "done" ? this.buffer.subarray(this.start, this.end) : EMPTY;
  }

  private step(): Next<Head> {
    for (;;) {
      switch (this.state) {
        case "head": {
          // A start line begins with a letter. Refuse a control byte at once rather than wait
          // for a LF that may never come: a TLS handshake sent to a plain-HTTP port starts 0x16.
          if (this.head === null && this.start < this.end) {
            const first = this.buffer[this.start]!;
            if (first < 0x21 && first !== CR && first !== LF) {
              const shown = quote(String.fromCharCode(first));
              throw new ProtocolError(`bad ${this.startLineName}: starts with ${shown}`);
            }
          }
          const line = this.readLine(this.maxHeaderBytes - this.headBytes, "head");
          if (line === null) {
            if (!this.eof) return NEED_DATA;
            const got = this.headBytes + this.end - this.start;
            if (got === 0) return this.closedBeforeMessage();
            throw new ProtocolError(`peer closed in the middle of the headers (${got} bytes)`);
          }
          if (this.head === null) {
            // Empty lines before the start line are skipped and not counted (RFC 9112 2.2).
            if (line.text === "") break;
            this.headBytes += line.size;
            this.head = this.parseStartLine(line.text);
            break;
          }
          this.headBytes += line.size;
          if (line.text !== "") {
            this.addField(this.head.headers, line.text);
            break;
          }
          const head = this.head;
          this.head = null;
          this.lastName = null;
          const state = this.framing(head);
          if (state === null) break; // an interim response, skipped: the real one follows
          this.state = state;
          this.close = state === "until-eof" || !keepAlive(head);
          return head;
        }
        case "length":
        case "chunk-data": {
          if (this.remaining === 0) {
            if (this.state === "chunk-data") {
              this.state = "chunk-end";
              break;
            }
            this.state = "done";
            return { type: "end" };
          }
          if (this.bodyBytes + this.remaining > this.maxBodyBytes) throw this.bodyTooLarge();
          const data = this.take(this.remaining);
          if (data !== null) {
            this.remaining -= data.length;
            return { type: "data", data };
          }
          if (!this.eof) return NEED_DATA;
          if (this.state === "chunk-data") throw this.closedInChunkedBody();
          const expected = this.bodyBytes + this.remaining;
          throw new ProtocolError(`peer closed after ${this.bodyBytes} of ${expected} body bytes`);
        }
        case "until-eof": {
          if (this.bodyBytes + this.end - this.start > this.maxBodyBytes) {
            throw this.bodyTooLarge();
          }
          const data = this.take(Infinity);
          if (data !== null) return { type: "data", data };
          if (!this.eof) return NEED_DATA;
          this.state = "done";
          return { type: "end" };
        }
        case "chunk-size": {
          const line = this.readLine(this.maxHeaderBytes, "chunk-size");
          if (line === null) return this.needChunkedData();
          const hex = CHUNK_SIZE.exec(line.text)?.[1];
          if (hex === undefined) throw new ProtocolError(`bad chunk size: ${quote(line.text)}`);
          this.remaining = parseInt(hex, 16);
          if (!Number.isSafeInteger(this.remaining)) {
            throw new ProtocolError(`chunk size too large: ${quote(line.text)}`);
          }
          if (this.bodyBytes + this.remaining > this.maxBodyBytes) throw this.bodyTooLarge();
          if (this.remaining === 0) {
            this.state = "trailers";
            this.headBytes = 0; // the trailers get a cap of their own
          } else {
            this.state = "chunk-data";
          }
          break;
        }
        case "chunk-end": {
          // The CRLF (or bare LF) after chunk data. Checked byte by byte, not read as a line, so
          // a chunk longer than its size said is caught at its first extra byte.
          const unread = this.buffer.subarray(this.start, this.end);
          const size = unread[0] === CR ? 2 : 1;
          if (unread.length < size) return this.needChunkedData();
          if (unread[size - 1] !== LF) {
            const got = quote(unread.toString("latin1", 0, size));
            throw new ProtocolError(`expected CRLF after chunk data, got ${got}`);
          }
          this.start += size;
          this.state = "chunk-size";
          break;
        }
        case "trailers": {
          // Trailer fields are read only to find where the message ends: nothing here uses them.
          const line = this.readLine(this.maxHeaderBytes - this.headBytes, "trailers");
          if (line === null) return this.needChunkedData();
          this.headBytes += line.size;
          if (line.text === "") {
            this.state = "done";
            return { type: "end" };
          }
          break;
        }
        case "done":
          return PAUSED;
      }
    }
  }

  /** A header field line, or an obs-fold line that continues the one before. */
  private addField(headers: Map<string, string>, text: string): void {
    if (text[0] === " " || text[0] === "\t") {
      // obs-fold: a line that starts with whitespace continues the previous field's value.
      if (this.lastName === null) {
        throw new ProtocolError(`continuation line before the first header: ${quote(text)}`);
      }
      const more = trimOws(text);
      if (!FIELD_VALUE.test(more)) throw new ProtocolError(`bad header line: ${quote(text)}`);
      if (more === "") return;
      const value = headers.get(this.lastName)!;
      // Values are trimmed, so one that is empty or ends in a space (", " of a join) ends with
      // an empty field: the folded text is all of that field, with no space before it.
      const joined = value === "" || value.endsWith(" ") ? value + more : `${value} ${more}`;
      headers.set(this.lastName, joined);
      return;
    }
    // field-line = field-name ":" OWS field-value OWS; field-name = token. A space before the
    // colon makes the name an invalid token, which RFC 9112 5.1 says to reject (smuggling).
    const colon = text.indexOf(":");
    const name = text.slice(0, colon);
    const value = trimOws(text.slice(colon + 1));
    if (colon === -1 || !TOKEN.test(name) || !FIELD_VALUE.test(value)) {
      throw new ProtocolError(`bad header line: ${quote(text)}`);
    }
    const lower = name.toLowerCase();
    const earlier = headers.get(lower);
    headers.set(lower, earlier === undefined ? value : `${earlier}, ${value}`);
    this.lastName = lower;
  }

  /** Framing by a byte count: a Content-Length, or 0 for a message that has no body. */
  protected bodyOfLength(length: number): "length" {
    this.remaining = length;
    return "length";
  }

  /**
   * The next line without its CRLF (or bare LF), or null if no whole line has arrived yet.
   * `limit` caps the line's size with its LF; past it, throw the cap's error for `part`.
   */
  private readLine(
    limit: number,
    part: "head" | "chunk-size" | "trailers",
  ): { text: string; size: number } | null {
    const { buffer, start, end } = this;
    // The caller's chunk ends where its bytes do, so it is searched in place (no view to make:
    // this runs for every line); our own copy has spare room past `end`, so it needs a view.
    const from = start + this.scanned;
    const lf = this.owned ? buffer.subarray(0, end).indexOf(LF, from) : buffer.indexOf(LF, from);
    if (lf === -1) {
      this.scanned = end - start;
      // The LF still to come would make the line at least one byte longer than this.
      if (end - start >= limit) throw this.lineTooLong(part);
      return null;
    }
    const size = lf + 1 - start;
    if (size > limit) throw this.lineTooLong(part);
    const textEnd = lf > start && buffer[lf - 1] === CR ? lf - 1 : lf;
    const text = buffer.toString("latin1", start, textEnd);
    this.start = lf + 1;
    this.scanned = 0;
    return { text, size };
  }

  private lineTooLong(part: "head" | "chunk-size" | "trailers"): ProtocolError {
    const max = this.maxHeaderBytes;
    if (part === "head") return this.headTooLarge();
    if (part === "trailers") return new ProtocolError(`trailers exceed ${max} bytes`, 431);
    return new ProtocolError(`chunk size line exceeds ${max} bytes`);
  }

  /** The head has grown past maxHeaderBytes. */
  protected headTooLarge(): ProtocolError {
    return new ProtocolError(`headers exceed ${this.maxHeaderBytes} bytes`, 431);
  }

  /** Up to `max` unread bytes as body data, or null if there are none. */
  private take(max: number): Uint8Array | null {
    const count = Math.min(max, this.end - this.start);
    if (count === 0) return null;
    const data = this.buffer.subarray(this.start, this.start + count);
    this.start += count;
    this.bodyBytes += count;
    return data;
  }

  private release(): void {
    this.buffer = EMPTY;
    this.start = this.end = this.scanned = 0;
    this.owned = false;
  }

  private bodyTooLarge(): ProtocolError {
    return new ProtocolError(`body exceeds ${this.maxBodyBytes} bytes`, 413);
  }

  private needChunkedData(): typeof NEED_DATA {
    if (this.eof) throw this.closedInChunkedBody();
    return NEED_DATA;
  }

  private closedInChunkedBody(): ProtocolError {
    const received = `${this.bodyBytes} body bytes received`;
    return new ProtocolError(`peer closed in the middle of a chunked body (${received})`);
  }
}

/**
 * RFC 9112 9.3: a connection persists after this message unless it says `Connection: close`;
 * an HTTP/1.0 message must ask for it with `Connection: keep-alive`. Tokens are case-insensitive.
 */
function keepAlive({ httpVersion, headers }: RequestEvent | ResponseEvent): boolean {
  const connection = headers.get("connection");
  if (connection === undefined) return httpVersion !== "1.0";
  const options = connection.toLowerCase().split(",").map(trimOws);
  return !options.includes("close") && (httpVersion !== "1.0" || options.includes("keep-alive"));
}

/** Content-Length = 1*DIGIT, but a list of equal values ("5, 5") may arrive: RFC 9110 8.6. */
function contentLength(field: string): number {
  const values = field.split(",").map(trimOws);
  if (!values.every((value) => /^\d+$/.test(value))) {
    throw new ProtocolError(`bad Content-Length: ${quote(field)}`);
  }
  const lengths = new Set(values.map(Number));
  if (lengths.size > 1) {
    throw new ProtocolError(`conflicting Content-Length values: ${quote(field)}`);
  }
  const [length = 0] = lengths;
  if (!Number.isSafeInteger(length)) {
    throw new ProtocolError(`Content-Length too large: ${quote(field)}`);
  }
  return length;
}

// ---- the server's side: requests ------------------------------------------------------------

export interface RequestParserOptions extends ParserOptions {}

/**
 * Parses the requests a client sends on one connection, for a server. Events: `request`, any
 * number of `data`, `end`; then PAUSED until startNextCycle(), unless mustClose. A request with
 * neither Content-Length nor chunked has no body (never "read until EOF"); a body on GET is read
 * and handed out like any other. A peer that closes between requests is not an error: nextEvent()
 * returns PAUSED, and mustClose is true.
 *
 * Defaults: maxHeaderBytes 16 KiB (h11's and Node's), maxBodyBytes 1 MiB (nginx's
 * client_max_body_size). The body is handed out as it arrives and never kept here, so the cap is
 * about how much the server agrees to read, not about this parser's memory: a server that takes
 * uploads raises it, or sets Infinity and counts for itself.
 */
export class RequestParser extends MessageParser<RequestEvent> {
  protected get startLineName(): string {
    return "request line";
  }

  constructor(options: RequestParserOptions = {}) {
    super(options, 16 * 1024, 1024 * 1024);
  }

  protected parseStartLine(text: string): RequestEvent {
    const match = REQUEST_LINE.exec(text);
    if (match === null) throw new ProtocolError(`bad request line: ${quote(text)}`);
    type Groups = [string, string, string, string, string]; // every group takes part in a match
    const [, method, target, major, minor] = match as unknown as Groups;
    if (major !== "1") throw new ProtocolError(`unsupported HTTP version: ${quote(text)}`, 505);
    const httpVersion = minor === "1" ? "1.1" : minor === "0" ? "1.0" : `1.${minor}`;
    return { type: "request", method, target, httpVersion, headers: new Map() };
  }

  protected override headTooLarge(): ProtocolError {
    if (this.head !== null) return super.headTooLarge();
    return new ProtocolError(`request line exceeds ${this.maxHeaderBytes} bytes`, 414);
  }

  /** RFC 9112 6.3, for requests: chunked, or Content-Length, or no body at all. */
  protected framing({ httpVersion, headers }: RequestEvent): State {
    const host = headers.get("host");
    // RFC 9112 3.2: exactly one Host in HTTP/1.1 (a Host value never holds a comma).
    if (host === undefined && httpVersion !== "1.0") throw new ProtocolError("missing Host header");
    if (host?.includes(",")) throw new ProtocolError(`more than one Host: ${quote(host)}`);
    const transferEncoding = headers.get("transfer-encoding");
    const length = headers.get("content-length");
    if (transferEncoding === undefined) {
      return this.bodyOfLength(length === undefined ? 0 : contentLength(length));
    }
    // Two framings that disagree are how requests get smuggled past a proxy: refuse them.
    if (length !== undefined) {
      throw new ProtocolError("both Transfer-Encoding and Content-Length in a request");
    }
    if (httpVersion === "1.0") {
      throw new ProtocolError("Transfer-Encoding in an HTTP/1.0 request"); // RFC 9112 6.1
    }
    const codings = transferEncoding.toLowerCase().split(",").map(trimOws);
    if (codings.at(-1) !== "chunked") {
      // RFC 9112 6.3: the body's length cannot be known, and the server MUST answer 400.
      throw new ProtocolError(
        `Transfer-Encoding not ending in chunked: ${quote(transferEncoding)}`,
      );
    }
    if (codings.length > 1) {
      throw new ProtocolError(`unsupported Transfer-Encoding: ${quote(transferEncoding)}`, 501);
    }
    return "chunk-size";
  }

  protected closedBeforeMessage(): typeof PAUSED {
    return PAUSED; // a client may close whenever no request is under way
  }
}

// ---- the client's side: responses -----------------------------------------------------------

export interface ResponseParserOptions extends ParserOptions {
  /** The request's method: the response to HEAD has headers but never a body. */
  method?: string;
}

/**
 * Parses the responses a server sends on one connection, for a client. Events: `response`, any
 * number of `data`, `end`; then PAUSED until startNextCycle(method) for the next request, unless
 * mustClose. mustClose reads the response only: a request you sent with `Connection: close`, or
 * as HTTP/1.0 without keep-alive, is yours to remember.
 *
 * Defaults: method "GET", maxHeaderBytes 64 KiB, maxBodyBytes Infinity (the body is handed out,
 * never kept here; a crawler that wants a cap sets one).
 */
export class ResponseParser extends MessageParser<ResponseEvent> {
  protected get startLineName(): string {
    return "status line";
  }
  private method: string;

  constructor(options: ResponseParserOptions = {}) {
    super(options, 64 * 1024, Infinity);
    this.method = checkMethod(options.method ?? "GET");
  }

  /** After `end`, read the response to the next request, sent with `method`. */
  override startNextCycle(method = "GET"): void {
    checkMethod(method);
    super.startNextCycle();
    this.method = method;
  }

  protected parseStartLine(text: string): ResponseEvent {
    const match = STATUS_LINE.exec(text);
    if (match === null) throw new ProtocolError(`bad status line: ${quote(text)}`);
    const [, major, minor, code, reason = ""] = match;
    if (major !== "1") throw new ProtocolError(`unsupported HTTP version: ${quote(text)}`, 505);
    if (code === "101") {
      throw new ProtocolError(`unexpected 101 Switching Protocols: ${quote(text)}`);
    }
    const httpVersion = minor === "1" ? "1.1" : minor === "0" ? "1.0" : `1.${minor}`;
    return { type: "response", httpVersion, status: Number(code), reason, headers: new Map() };
  }

  /** RFC 9112 6.3, for responses, in its order. */
  protected framing({ status, headers }: ResponseEvent): State | null {
    if (status < 200) return null; // 1xx: an interim response, and the real one follows
    if (this.method === "HEAD" || status === 204 || status === 304) {
      return this.bodyOfLength(0); // no body, whatever Content-Length says
    }
    const transferEncoding = headers.get("transfer-encoding");
    if (transferEncoding !== undefined) {
      // Transfer-Encoding wins over Content-Length. If chunked is not the last coding, only
      // the peer closing can end the body.
      const codings = transferEncoding.split(",").map(trimOws);
      return codings.at(-1)?.toLowerCase() === "chunked" ? "chunk-size" : "until-eof";
    }
    const length = headers.get("content-length");
    return length === undefined ? "until-eof" : this.bodyOfLength(contentLength(length));
  }

  protected closedBeforeMessage(): never {
    throw new ProtocolError("peer closed before sending a response");
  }
}

export interface Response {
  httpVersion: string;
  status: number;
  reason: string;
  headers: Map<string, string>;
  body: Buffer;
}

/**
 * Parse a whole response that ended with the peer closing, as the blocking lesson reads it.
 * Throws ProtocolError if it is cut short, or if bytes follow the end of a framed body.
 */
export function parseResponse(bytes: Uint8Array, options: ResponseParserOptions = {}): Response {
  const parser = new ResponseParser(options);
  parser.receiveData(bytes);
  parser.receiveData(new Uint8Array(0));
  let response: ResponseEvent | undefined;
  const body: Uint8Array[] = [];
  for (;;) {
    const event = parser.nextEvent();
    // After EOF the parser never asks for more: it ends the message or throws.
    if (typeof event === "symbol") throw new Error(`unexpected ${String(event)} after EOF`);
    if (event.type === "end") break;
    if (event.type === "response") response = event;
    else body.push(event.data);
  }
  const extra = parser.trailingData;
  if (extra.length > 0) {
    const shown = quote(Buffer.from(extra).toString("latin1"));
    throw new ProtocolError(`${extra.length} bytes after the end of the response: ${shown}`);
  }
  const { httpVersion, status, reason, headers } = response!; // "end" comes after "response"
  return { httpVersion, status, reason, headers, body: Buffer.concat(body) };
}

/** Remove OWS (spaces and tabs only: latin1 0xa0 is obs-text, not whitespace). */
function trimOws(text: string): string {
  let [from, to] = [0, text.length];
  while (from < to && (text[from] === " " || text[from] === "\t")) from += 1;
  while (to > from && (text[to - 1] === " " || text[to - 1] === "\t")) to -= 1;
  return text.slice(from, to);
}

/**
 * Bytes (as a latin1 string) for an error message, Python-style: 'HTTP/1.1 2OO OK'. Control and
 * non-ASCII bytes are escaped, and anything longer than 60 bytes is cut with its size given.
 */
function quote(text: string, max = 60): string {
  const escaped = text.slice(0, max).replace(/[\x00-\x1f\x7f-\xff'\\]/g, (char) => {
    const special: Record<string, string> = { "\t": "\\t", "\r": "\\r", "\n": "\\n" };
    if (char === "'" || char === "\\") return `\\${char}`;
    return special[char] ?? `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
  return text.length > max ? `'${escaped}'... (${text.length} bytes)` : `'${escaped}'`;
}
