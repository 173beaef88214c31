// RESP, the Redis protocol (version 2), sans-I/O: encodeCommand() gives the bytes of a command,
// and a RespParser turns the bytes a Redis server sends back into replies, fed in chunks of any
// size. It never touches a socket, exactly as the HTTP helper beside it (http.ts), and is used
// the same way: `receiveData(chunk)`, then `nextReply()` until it returns NEED_DATA.
//
// Theory of operation
//
// A command is an array of bulk strings: `*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n`. A reply
// is one of five types, told by its first byte:
//   +OK\r\n             a simple string            -> "OK"
//   -ERR wrong\r\n      an error                   -> a RedisError (a value, not thrown)
//   :42\r\n             an integer                 -> 42
//   $5\r\nhello\r\n     a bulk string ($-1: nil)   -> "hello" (null)
//   *2\r\n...           an array of replies (*-1)  -> [...] (null)
// Commands are answered in the order they were sent, so a client that pipelines (sends many
// before it reads) matches the replies to its commands by counting: this parser just hands them
// out in order.
//
// Parsing. Unread bytes sit in `buffer[start, end)`. nextReply() parses one whole reply from
// `start`; if the bytes end before the reply does, it returns NEED_DATA and starts that reply
// over when more come. hiredis keeps a stack of half-read arrays instead, so that nothing is
// read twice; a reply here is a few kilobytes (a batch of URLs), and starting over is simpler
// to follow. Lines are capped (a length or a status has no business being long), and so are
// bulk strings and the nesting of arrays, so that a broken or hostile peer cannot make us buffer
// without end. RESP3 (HELLO 3: maps, sets, doubles, pushes) is left out: nothing here asks for it.
//
// Errors. A bad reply (an unknown type byte, a length that is not a number, a missing CRLF)
// throws a RespProtocolError that quotes the bytes; the first one is kept, and every later call
// throws it again, as the HTTP parser does: the connection is beyond repair. The peer closing
// halfway through a reply is an error too; closing between replies is not.
import { Buffer } from "node:buffer";
import { NEED_DATA } from "./http.ts";

/** A reply: what each type of RESP2 becomes. */
export type RespReply = string | number | null | RedisError | RespReply[];

/** An error reply ("-ERR unknown command"): the command failed, the connection is fine. */
export class RedisError extends Error {
  override name = "RedisError";
  /** The first word: ERR, WRONGTYPE, BUSYGROUP, NOSCRIPT... */
  readonly code: string;
  constructor(message: string) {
    super(message);
    this.code = message.split(" ", 1)[0]!;
  }
}

/** The server broke RESP: close the connection. */
export class RespProtocolError extends Error {
  override name = "RespProtocolError";
}

export interface RespParserOptions {
  /** Bytes of a bulk string at most (Redis's own proto-max-bulk-len is 512 MiB). */
  maxBulkBytes?: number;
  /** Arrays within arrays at most. */
  maxDepth?: number;
}

const CR = 13;
const LF = 10;
const CRLF = "\r\n";
// A type byte and a number, or a status line: longer is a broken peer, not a real reply.
const MAX_LINE = 64 * 1024;
// Only as a marker between parse steps: "the reply is not all here yet".
const INCOMPLETE = Symbol("INCOMPLETE");

/** The bytes of one command: an array of bulk strings. Numbers are sent as their digits. */
export function encodeCommand(args: readonly (string | number | Uint8Array)[]): Uint8Array {
  if (args.length === 0) throw new TypeError("encodeCommand() wants at least the command's name");
  const parts: Buffer[] = [Buffer.from(`*${args.length}${CRLF}`, "latin1")];
  for (const arg of args) {
    let bytes: Buffer;
    if (arg instanceof Uint8Array) bytes = Buffer.from(arg.buffer, arg.byteOffset, arg.length);
    else if (typeof arg === "string") bytes = Buffer.from(arg, "utf8");
    else if (typeof arg === "number" && Number.isFinite(arg)) bytes = Buffer.from(String(arg));
    else throw new TypeError(`encodeCommand(): an argument is ${String(arg)}`);
    parts.push(Buffer.from(`$${bytes.length}${CRLF}`, "latin1"), bytes, Buffer.from(CRLF));
  }
  return Buffer.concat(parts);
}

export class RespParser {
  readonly #maxBulkBytes: number;
  readonly #maxDepth: number;
  #buffer = Buffer.alloc(0);
  #start = 0;
  #end = 0;
  #eof = false;
  #error: RespProtocolError | null = null;

  constructor(options: RespParserOptions = {}) {
    this.#maxBulkBytes = options.maxBulkBytes ?? 64 * 1024 * 1024;
    this.#maxDepth = options.maxDepth ?? 32;
  }

  /** Bytes from the server; an empty chunk means it closed the connection. */
  receiveData(chunk: Uint8Array): void {
    if (!(chunk instanceof Uint8Array)) throw new TypeError("receiveData() wants a Uint8Array");
    if (this.#eof) throw new Error("receiveData() after EOF: a closed peer sends nothing more");
    if (chunk.length === 0) {
      this.#eof = true;
      return;
    }
    if (this.#start === this.#end) {
      // Everything before was read: the chunk is the buffer (copied: the caller may reuse it).
      this.#buffer = Buffer.from(chunk);
      this.#start = 0;
      this.#end = chunk.length;
      return;
    }
    const unread = this.#end - this.#start;
    if (this.#end + chunk.length > this.#buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(2 * (unread + chunk.length), 4096));
      this.#buffer.copy(grown, 0, this.#start, this.#end);
      this.#buffer = grown;
      this.#start = 0;
      this.#end = unread;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** The next reply, or NEED_DATA (feed more bytes). Throws RespProtocolError on bad bytes. */
  nextReply(): RespReply | typeof NEED_DATA {
    if (this.#error !== null) throw this.#error;
    if (this.#start === this.#end) return NEED_DATA; // after EOF too: closed between replies

    try {
      const parsed = this.#parse(this.#start, 0);
      if (parsed === INCOMPLETE) {
        if (this.#eof) {
          throw new RespProtocolError(
            `server closed in the middle of a reply (${this.#end - this.#start} bytes of it came)`,
          );
        }
        return NEED_DATA;
      }
      this.#start = parsed.next;
      if (this.#start === this.#end) {
        this.#buffer = Buffer.alloc(0); // an idle connection keeps no buffer
        this.#start = this.#end = 0;
      }
      return parsed.value;
    } catch (error) {
      if (error instanceof RespProtocolError) this.#error = error;
      throw error;
    }
  }

  // One reply starting at `at`: its value and where the next begins, or INCOMPLETE.
  #parse(at: number, depth: number): { value: RespReply; next: number } | typeof INCOMPLETE {
    const lineEnd = this.#lineEnd(at);
    if (lineEnd === INCOMPLETE) return INCOMPLETE;
    const type = this.#buffer[at]!;
    const line = this.#buffer.toString("utf8", at + 1, lineEnd);
    const next = lineEnd + 2;
    switch (type) {
      case 0x2b: // +
        return { value: line, next };
      case 0x2d: // -
        return { value: new RedisError(line), next };
      case 0x3a: // :
        return { value: this.#integer(line, "integer"), next };
      case 0x24: {
        // $
        const length = this.#integer(line, "bulk length");
        if (length === -1) return { value: null, next };
        if (length < 0 || length > this.#maxBulkBytes) {
          throw new RespProtocolError(
            `bulk string of ${length} bytes (at most ${this.#maxBulkBytes})`,
          );
        }
        if (next + length + 2 > this.#end) return INCOMPLETE;
        if (this.#buffer[next + length] !== CR || this.#buffer[next + length + 1] !== LF) {
          throw new RespProtocolError(
            `bulk string of ${length} bytes not followed by CRLF: ${this.#quote(next + length, 2)}`,
          );
        }
        return {
          value: this.#buffer.toString("utf8", next, next + length),
          next: next + length + 2,
        };
      }
      case 0x2a: {
        // *
        const count = this.#integer(line, "array length");
        if (count === -1) return { value: null, next };
        if (count < 0) throw new RespProtocolError(`array of ${count} elements`);
        if (depth >= this.#maxDepth) {
          throw new RespProtocolError(`arrays nested deeper than ${this.#maxDepth}`);
        }
        // Each element takes 3 bytes at least: a count bigger than the bytes can hold waits for
        // them, and a count no reply could reach is refused rather than allocated.
        if (count > this.#maxBulkBytes) throw new RespProtocolError(`array of ${count} elements`);
        const values: RespReply[] = [];
        let from = next;
        for (let i = 0; i < count; i++) {
          const element = this.#parse(from, depth + 1);
          if (element === INCOMPLETE) return INCOMPLETE;
          values.push(element.value);
          from = element.next;
        }
        return { value: values, next: from };
      }
      default:
        throw new RespProtocolError(`unknown reply type: ${this.#quote(at)}`);
    }
  }

  // Where the line that starts at `at` ends (its CR), or INCOMPLETE.
  #lineEnd(at: number): number | typeof INCOMPLETE {
    const limit = Math.min(this.#end, at + MAX_LINE);
    const cr = this.#buffer.indexOf(CR, at);
    if (cr === -1 || cr + 1 >= this.#end) {
      if (this.#end - at > MAX_LINE)
        throw new RespProtocolError(`line longer than ${MAX_LINE} bytes`);
      return INCOMPLETE;
    }
    if (cr >= limit) throw new RespProtocolError(`line longer than ${MAX_LINE} bytes`);
    if (this.#buffer[cr + 1] !== LF) {
      throw new RespProtocolError(`CR without LF in ${this.#quote(at, cr + 2 - at)}`);
    }
    return cr;
  }

  #integer(text: string, what: string): number {
    if (!/^-?\d{1,18}$/.test(text)) throw new RespProtocolError(`bad ${what}: '${text}'`);
    return Number(text);
  }

  // Up to `length` bytes from `at`, as the peer sent them, for an error message.
  #quote(at: number, length = 40): string {
    const text = this.#buffer.toString("latin1", at, Math.min(this.#end, at + length));
    return `'${JSON.stringify(text).slice(1, -1)}'`;
  }
}
