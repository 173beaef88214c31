// The raw-HTTP helper: builds request bytes and parses response bytes, and never touches a socket.
//
// Theory of operation
//
// This is "sans-I/O" protocol code, shaped like Python's h11. Whoever owns the socket (a blocking
// loop, a callback, a coroutine, an async function) reads bytes and hands them over with
// `receiveData(chunk)`; an empty chunk means the peer closed the connection. Then it calls
// `nextEvent()` until that returns NEED_DATA ("read more and come back") or PAUSED ("this response
// is over"). The events are, in order: one `response` (status line and headers), any number of
// `data` (body bytes, handed out as soon as they arrive), one `end`. Because the parser never
// waits, the same object works under every style of concurrency the lessons build.
//
// Inside, a state machine walks the response: "head" reads lines until the blank line, then the
// framing rules (RFC 9112 section 6.3) pick one of three ways to find the end of the body: a byte
// count ("length"), chunked coding ("chunk-size" -> "chunk-data" -> "chunk-end", then "trailers"),
// or the peer closing ("until-eof"). The last state is "done". Every pass through the loop in
// `step()` consumes input or changes state, so it cannot spin.
//
// Unread bytes sit in `buffer[start, end)`. The buffer is append-only: a `data` event is a view
// of it (or of the caller's own chunk), so bytes already handed out are never written again.
// A line search remembers how far it has looked (`scanned`), so a head fed one byte at a time
// costs linear, not quadratic, time. Everything kept that is not body is capped by maxHeaderBytes.
//
// Choices: 1xx responses (100 Continue, 103 Early Hints) are skipped and the real response
// follows, since nothing here sends `Expect: 100-continue`; 101 Switching Protocols is an error,
// since nothing here asks for an upgrade. Header bytes are decoded as latin1 (one char per byte,
// never a decoding error). Transfer codings other than chunked (gzip, say) are passed through
// undecoded. The first error is kept: every later call to nextEvent() throws it again.
import { Buffer } from "node:buffer";

export const NEED_DATA = Symbol("NEED_DATA");
export const PAUSED = Symbol("PAUSED");

/** The peer broke HTTP: close this connection (and only this one). */
export class ProtocolError extends Error {
  override name = "ProtocolError";
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
export type HttpEvent = ResponseEvent | DataEvent | EndOfMessageEvent;

// token = 1*tchar                                                           (RFC 9110 5.6.2)
// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
//         / DIGIT / ALPHA
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// field-value = *( SP / HTAB / VCHAR / obs-text )                          (RFC 9110 5.5)
// This also refuses CR, LF and NUL, and (in a JavaScript string) any char above 0xff.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
// status-line = HTTP-version SP status-code SP [ reason-phrase ]           (RFC 9112 4)
// HTTP-version = "HTTP/" DIGIT "." DIGIT; status-code = 3DIGIT;
// reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ). Real servers also send "HTTP/1.1 200"
// with no SP after the code, so the reason and its SP are optional together.
const STATUS_LINE = /^HTTP\/(\d)\.(\d) (\d{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;
// chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF                    (RFC 9112 7.1)
// chunk-size = 1*HEXDIG; chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] )
// Extensions are skipped, not parsed: nothing uses them. Trailing whitespace is tolerated.
const CHUNK_SIZE = /^([0-9A-Fa-f]+)[ \t]*(?:;[\t\x20-\x7e\x80-\xff]*)?$/;

const CR = 0x0d;
const LF = 0x0a;

export interface RequestOptions {
  method?: string;
  httpVersion?: "1.0" | "1.1";
  headers?: Record<string, string>;
}

/**
 * The bytes of a request with no body, like the lecture's
 * `f'GET {url} HTTP/1.0\r\nHost: abcd.com\r\n\r\n'`. HTTP/1.0 is the default because its server
 * closes the connection after the response, so "read until EOF" works. With "1.1" the server keeps
 * the connection open unless the headers say `Connection: close`. A `Host` in `headers` replaces
 * the one taken from the URL.
 */
export function buildRequest(target: string | URL, options: RequestOptions = {}): Uint8Array {
  // The URL parser silently deletes CR, LF and tab, so check the raw text before it does.
  if (typeof target === "string" && /[\r\n\0]/.test(target)) {
    throw new TypeError(`CR, LF or NUL in URL: ${quote(target)}`);
  }
  const url = typeof target === "string" ? new URL(target) : target;
  if (url.protocol !== "http:") {
    throw new TypeError(`only http: URLs are supported (no TLS here), got ${quote(url.href)}`);
  }
  const method = options.method ?? "GET";
  if (!TOKEN.test(method)) throw new TypeError(`bad method: ${quote(method)}`);
  const httpVersion = options.httpVersion ?? "1.0";
  if (httpVersion !== "1.0" && httpVersion !== "1.1") {
    throw new TypeError(`httpVersion must be "1.0" or "1.1", got ${quote(String(httpVersion))}`);
  }

  let host = url.host; // "name" or "name:port"; the URL parser already drops the default :80
  let fields = "";
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (!TOKEN.test(name)) throw new TypeError(`bad header name: ${quote(name)}`);
    if (typeof value !== "string" || !FIELD_VALUE.test(value)) {
      throw new TypeError(`bad value for header ${name}: ${quote(String(value))}`);
    }
    if (name.toLowerCase() === "host") host = value;
    else fields += `${name}: ${value}\r\n`;
  }
  // pathname and search arrive percent-encoded; the fragment (url.hash) never leaves the client.
  const path = url.pathname + url.search;
  const head = `${method} ${path} HTTP/${httpVersion}\r\nHost: ${host}\r\n${fields}\r\n`;
  return Buffer.from(head, "latin1"); // every char was checked to be a single byte
}

export interface ResponseParserOptions {
  /** The request's method: the response to HEAD has headers but never a body. */
  method?: string;
  /** Cap on the bytes of the head (status line + headers), and of a chunk-size line or trailers. */
  maxHeaderBytes?: number;
}

type State =
  "head" | "length" | "chunk-size" | "chunk-data" | "chunk-end" | "trailers" | "until-eof" | "done";

type StatusLine = Pick<ResponseEvent, "httpVersion" | "status" | "reason">;

export class ResponseParser {
  private readonly method: string;
  private readonly maxHeaderBytes: number;
  private state: State = "head";
  private error: ProtocolError | null = null;

  private buffer: Buffer = Buffer.alloc(0);
  private start = 0; // unread bytes are buffer[start, end)
  private end = 0;
  private owned = false; // true once buffer is our own copy, which we may append to
  private scanned = 0; // bytes after start already searched for LF
  private eof = false;

  // The response being parsed. A keep-alive "start the next response" would reset these six,
  // and state, and keep the unread bytes.
  private statusLine: StatusLine | null = null;
  private fields: [string, string][] = [];
  private headBytes = 0; // includes skipped 1xx heads, so endless 100 Continues hit the cap
  private remaining = 0; // body bytes left: of the whole body ("length") or of this chunk
  private bodyBytes = 0;
  private trailerBytes = 0;

  constructor(options: ResponseParserOptions = {}) {
    this.method = options.method ?? "GET";
    this.maxHeaderBytes = options.maxHeaderBytes ?? 64 * 1024;
    if (!Number.isSafeInteger(this.maxHeaderBytes) || this.maxHeaderBytes < 1) {
      throw new RangeError(
        `maxHeaderBytes must be a positive integer, got ${options.maxHeaderBytes}`,
      );
    }
  }

  /**
   * Hand over bytes read from the socket; an empty chunk means the peer closed. The parser keeps
   * a view of `chunk` instead of copying it (data events may be views of it), so don't reuse it.
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
      this.buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      [this.start, this.end, this.owned] = [0, chunk.length, false];
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
      [this.buffer, this.start, this.end, this.owned] = [next, 0, unread + chunk.length, true];
    }
  }

  /** The next event, or NEED_DATA (feed more bytes), or PAUSED (the response has ended). */
  nextEvent(): HttpEvent | typeof NEED_DATA | typeof PAUSED {
    if (this.error !== null) throw this.error;
    try {
      return this.step();
    } catch (error) {
      if (error instanceof ProtocolError) this.error = error;
      throw error;
    }
  }

  /** Bytes received after the end of the response (the next response, on a kept-alive connection). */
  get trailingData(): Uint8Array {
    return this.state === "done" ? this.buffer.subarray(this.start, this.end) : new Uint8Array(0);
  }

  private step(): HttpEvent | typeof NEED_DATA | typeof PAUSED {
    for (;;) {
      switch (this.state) {
        case "head": {
          const limit = this.maxHeaderBytes - this.headBytes;
          const line = this.readLine(limit, `headers exceed ${this.maxHeaderBytes} bytes`);
          if (line === null) {
            if (!this.eof) return NEED_DATA;
            const got = this.headBytes + this.end - this.start;
            if (got === 0) throw new ProtocolError("peer closed before sending a response");
            throw new ProtocolError(`peer closed in the middle of the headers (${got} bytes)`);
          }
          this.headBytes += line.size;
          const response = this.headLine(line.text);
          if (response !== null) return response;
          break;
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
          const data = this.take(Infinity);
          if (data !== null) return { type: "data", data };
          if (!this.eof) return NEED_DATA;
          this.state = "done";
          return { type: "end" };
        }
        case "chunk-size": {
          const tooLong = `chunk size line exceeds ${this.maxHeaderBytes} bytes`;
          const line = this.readLine(this.maxHeaderBytes, tooLong);
          if (line === null) return this.needChunkedData();
          const hex = CHUNK_SIZE.exec(line.text)?.[1];
          if (hex === undefined) throw new ProtocolError(`bad chunk size: ${quote(line.text)}`);
          this.remaining = parseInt(hex, 16);
          if (!Number.isSafeInteger(this.remaining)) {
            throw new ProtocolError(`chunk size too large: ${quote(line.text)}`);
          }
          this.state = this.remaining === 0 ? "trailers" : "chunk-data";
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
          const limit = this.maxHeaderBytes - this.trailerBytes;
          const line = this.readLine(limit, `trailers exceed ${this.maxHeaderBytes} bytes`);
          if (line === null) return this.needChunkedData();
          this.trailerBytes += line.size;
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

  /** One line of the head: the status line, a header field, a continuation, or the blank end. */
  private headLine(text: string): ResponseEvent | null {
    if (this.statusLine === null) {
      const match = STATUS_LINE.exec(text);
      if (match === null) throw new ProtocolError(`bad status line: ${quote(text)}`);
      const [, major, minor, code, reason = ""] = match;
      if (major !== "1") throw new ProtocolError(`unsupported HTTP version: ${quote(text)}`);
      if (code === "101") {
        throw new ProtocolError(`unexpected 101 Switching Protocols: ${quote(text)}`);
      }
      this.statusLine = { httpVersion: `${major}.${minor}`, status: Number(code), reason };
      return null;
    }
    if (text === "") return this.endOfHead(this.statusLine);
    if (text[0] === " " || text[0] === "\t") {
      // obs-fold: a line that starts with whitespace continues the previous field's value.
      const last = this.fields.at(-1);
      if (last === undefined) {
        throw new ProtocolError(`continuation line before the first header: ${quote(text)}`);
      }
      const more = trimOws(text);
      if (!FIELD_VALUE.test(more)) throw new ProtocolError(`bad header line: ${quote(text)}`);
      if (more !== "") last[1] = last[1] === "" ? more : `${last[1]} ${more}`;
      return null;
    }
    // field-line = field-name ":" OWS field-value OWS; field-name = token. A space before the
    // colon makes the name an invalid token, which RFC 9112 5.1 says to reject (smuggling).
    const colon = text.indexOf(":");
    const name = text.slice(0, colon);
    const value = trimOws(text.slice(colon + 1));
    if (colon === -1 || !TOKEN.test(name) || !FIELD_VALUE.test(value)) {
      throw new ProtocolError(`bad header line: ${quote(text)}`);
    }
    this.fields.push([name.toLowerCase(), value]);
    return null;
  }

  private endOfHead(statusLine: StatusLine): ResponseEvent | null {
    if (statusLine.status >= 100 && statusLine.status <= 199) {
      this.statusLine = null; // skip this interim response: the real one follows
      this.fields = [];
      return null;
    }
    const headers = new Map<string, string>();
    for (const [name, value] of this.fields) {
      const earlier = headers.get(name);
      headers.set(name, earlier === undefined ? value : `${earlier}, ${value}`);
    }
    this.state = this.bodyFraming(statusLine.status, headers);
    return { type: "response", ...statusLine, headers };
  }

  /** How the end of the body is found: RFC 9112 6.3, in its order. */
  private bodyFraming(status: number, headers: Map<string, string>): State {
    if (this.method === "HEAD" || status === 204 || status === 304) {
      this.remaining = 0; // no body, whatever Content-Length says
      return "length";
    }
    const transferEncoding = headers.get("transfer-encoding");
    if (transferEncoding !== undefined) {
      // Transfer-Encoding wins over Content-Length. If chunked is not the last coding, only
      // the peer closing can end the body.
      const codings = transferEncoding.split(",").map(trimOws);
      return codings.at(-1)?.toLowerCase() === "chunked" ? "chunk-size" : "until-eof";
    }
    const contentLength = headers.get("content-length");
    if (contentLength === undefined) return "until-eof";
    // Content-Length = 1*DIGIT, but a list of equal values ("5, 5") may arrive: RFC 9110 8.6.
    const values = contentLength.split(",").map(trimOws);
    if (!values.every((value) => /^\d+$/.test(value))) {
      throw new ProtocolError(`bad Content-Length: ${quote(contentLength)}`);
    }
    const lengths = new Set(values.map(Number));
    if (lengths.size > 1) {
      throw new ProtocolError(`conflicting Content-Length values: ${quote(contentLength)}`);
    }
    const [length = 0] = lengths;
    if (!Number.isSafeInteger(length)) {
      throw new ProtocolError(`Content-Length too large: ${quote(contentLength)}`);
    }
    this.remaining = length;
    return "length";
  }

  /**
   * The next line without its CRLF (or bare LF), or null if no whole line has arrived yet.
   * `limit` caps the line's size with its LF; past it, throw `tooLong`.
   */
  private readLine(limit: number, tooLong: string): { text: string; size: number } | null {
    const unread = this.buffer.subarray(this.start, this.end);
    const lf = unread.indexOf(LF, this.scanned);
    if (lf === -1) {
      this.scanned = unread.length;
      // The LF still to come would make the line at least one byte longer than this.
      if (unread.length >= limit) throw new ProtocolError(tooLong);
      return null;
    }
    if (lf + 1 > limit) throw new ProtocolError(tooLong);
    const textEnd = lf > 0 && unread[lf - 1] === CR ? lf - 1 : lf;
    const text = unread.toString("latin1", 0, textEnd);
    this.start += lf + 1;
    this.scanned = 0;
    return { text, size: lf + 1 };
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

  private needChunkedData(): typeof NEED_DATA {
    if (this.eof) throw this.closedInChunkedBody();
    return NEED_DATA;
  }

  private closedInChunkedBody(): ProtocolError {
    const received = `${this.bodyBytes} body bytes received`;
    return new ProtocolError(`peer closed in the middle of a chunked body (${received})`);
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
