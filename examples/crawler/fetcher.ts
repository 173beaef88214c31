// HTTP/1.1 GET over an engine's connections, kept alive: one connection carries request after
// request to its host, so a crawl of 1,000 pages opens a handful of connections, not 1,000
// handshakes (and the server keeps no TIME_WAIT per page). The sans-I/O ResponseParser
// (shared/http.ts) says where each response ends and whether the connection may carry the next
// one (`mustClose`); startNextCycle() starts the next response on the same parser.
//
// The crawler decides how many requests go to a host at once (--per-host), so a host never has
// more connections than that: an idle one is reused, else a new one is opened.
//
// A server closes a kept-alive connection that waits too long for its next request (Apache and
// lighttpd after 5 s, nginx after 75 s), and says so with a FIN that arrives while the connection
// sits idle here. So an idle connection is looked at, without waiting, before it carries another
// request (as urllib3 does), and dropped if the server has closed it: a request sent on it would
// learn that only a round trip later, and go again (a crawl whose Crawl-delay outlasted the
// server's timeout sent every request twice). The server may still close it just as a request
// leaves: then the first recv is an EOF or a reset, before any byte of a response (or a 408, from
// a server that says why it closes), and the request is sent again at once on a new connection,
// GET being idempotent: that failure is the connection's, not the page's. Every other failure is
// the caller's to judge.
import { ResponseParser, buildRequest, NEED_DATA, PAUSED } from "@async-from-scratch/shared";
import type { RequestOptions, ResponseEvent } from "@async-from-scratch/shared";
import { type Connection, type Engine, connectFirst } from "./engine.ts";

export interface FetcherOptions {
  /** For the whole request: connect, send, and the response to its last byte. */
  timeoutMs: number;
  /** A longer body is an error (ProtocolError "body exceeds N bytes"), not read to its end. */
  maxBodyBytes: number;
  userAgent: string;
  /**
   * Called as each request ends, well or not, with when its phases began on the engine's clock
   * (the crawl's timeline chart is drawn from them); `index` counts the requests in the order
   * they started.
   */
  onTiming?: (timing: Timing) => void;
}

/** One request's phases, for a timeline (shared/timeline.ts's Span). */
export interface Timing {
  index: number;
  url: string;
  startMs: number;
  /** When the connection was ready: opened now, or startMs for one kept alive. */
  connectedMs?: number;
  firstByteMs?: number;
  endMs: number;
  failed: boolean;
}

export interface Fetched {
  status: number;
  reason: string;
  headers: Map<string, string>;
  /** The body as sent (still gzipped, if it was); null when the caller did not want it. */
  body: Uint8Array | null;
  /** Bytes that arrived on the wire for this response, head included. */
  wireBytes: number;
  /** From the start of the request to the end of the response. */
  ms: number;
}

/** What one fetch() did, for its caller to count: whether a request left (a connect may fail first). */
export interface Sent {
  request: boolean;
}

/** Counts over every request, for the report. */
export interface FetcherStats {
  requests: number;
  connections: number;
  /** Requests sent on a connection that had carried one before. */
  reused: number;
  /** Kept-alive connections found closed by the server, and the request sent again. */
  stale: number;
  wireBytes: number;
}

// A body we do not want (a PDF, say, or a 404's page) is still read if it is this small, so that
// the connection stays usable; a larger one costs less as a new connection than as bytes read for
// nothing. Its size may be known only as it comes: nginx gzips its own 404 and 301 pages, and a
// gzipped body is chunked, without a Content-Length.
const DRAIN_LIMIT = 64 * 1024;

// An idle connection is looked at before it is used again only after this long: the look costs a
// system call (and, on the scratch engine, an exception when the connection is fine, as it mostly
// is), and in a busy crawl a connection waits well under this between requests, where no server's
// keep-alive timeout is as short.
const CHECK_IDLE_MS = 10;

/** What arrived for one response: its bytes, and when the first of them came. */
interface Wire {
  bytes: number;
  firstByteMs?: number;
}

interface Kept {
  connection: Connection;
  parser: ResponseParser;
  requests: number;
  /** When it last went idle, on the engine's clock. */
  idleSince: number;
}

interface Host {
  /**
   * The addresses, resolved once per host (a rejected promise keeps its error for every URL), in
   * the order to try them: the one that last took a connection first.
   */
  addresses: Promise<string[]>;
  port: number;
  idle: Kept[];
}

export class Fetcher {
  readonly stats: FetcherStats = { requests: 0, connections: 0, reused: 0, stale: 0, wireBytes: 0 };
  readonly #engine: Engine;
  readonly #options: FetcherOptions;
  readonly #hosts = new Map<string, Host>();
  readonly #requestOptions: RequestOptions;
  #started = 0;

  constructor(engine: Engine, options: FetcherOptions) {
    this.#engine = engine;
    this.#options = options;
    // The same for every request: made once.
    this.#requestOptions = {
      httpVersion: "1.1",
      headers: {
        "User-Agent": options.userAgent,
        Accept: "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
        "Accept-Encoding": "gzip, deflate",
      },
    };
  }

  /**
   * GETs url. wantBody looks at the head and says whether to read the body; `signal` aborts the
   * whole request (a stopping crawl), as the timeout does. A body longer than maxBodyBytes is an
   * error; with `keepBytes`, its first keepBytes bytes are the body instead, and the rest is not
   * read (robots.txt: RFC 9309 reads 500 KiB of it, whatever the limit on pages). `sent` says,
   * however the fetch ends, whether a request was sent.
   */
  fetch(
    url: URL,
    signal: AbortSignal,
    wantBody: (head: ResponseEvent) => boolean = () => true,
    keepBytes?: number,
    sent?: Sent,
  ): Promise<Fetched> {
    return this.#engine.withTimeout(
      this.#options.timeoutMs,
      async (signal) => {
        const host = this.#host(url);
        const started = this.#engine.time();
        const timing: Timing = {
          index: this.#started++,
          url: url.href,
          startMs: started,
          endMs: started,
          failed: true,
        };
        try {
          for (;;) {
            const kept = this.#idle(host) ?? (await this.#open(host, signal, started));
            const reused = kept.requests > 0;
            // A connection kept alive was ready when the request began: it has no connect phase.
            timing.connectedMs = reused ? started : this.#engine.time();
            const wire: Wire = { bytes: 0 };
            const requestsBefore = kept.requests;
            try {
              const fetched = await this.#exchange(
                kept,
                host,
                url,
                signal,
                wantBody,
                wire,
                keepBytes,
              );
              // A 408 on a kept-alive connection is the server closing it for waiting too long
              // (HAProxy and others answer an idle connection so), which crossed our request on
              // the way: the request was never read. So it goes again on a new connection, as
              // Chromium sends it; on a new connection, a 408 is the page's answer.
              if (reused && fetched.status === 408 && !signal.aborted) {
                this.stats.stale++;
                continue;
              }
              timing.failed = false;
              return { ...fetched, ms: this.#engine.time() - started };
            } catch (error) {
              kept.connection.close();
              if (reused && wire.bytes === 0 && !signal.aborted) {
                this.stats.stale++;
                continue; // the server had closed it while idle: a new connection, once
              }
              throw error;
            } finally {
              if (sent !== undefined && kept.requests > requestsBefore) sent.request = true;
              this.stats.wireBytes += wire.bytes;
              timing.firstByteMs = wire.firstByteMs;
            }
          }
        } finally {
          timing.endMs = this.#engine.time();
          this.#options.onTiming?.(timing);
        }
      },
      signal,
    );
  }

  /** Closes every idle connection. */
  close(): void {
    for (const host of this.#hosts.values()) {
      for (const kept of host.idle.splice(0)) kept.connection.close();
    }
  }

  #host(url: URL): Host {
    let host = this.#hosts.get(url.host);
    if (host === undefined) {
      // An IPv6 address stands in brackets in a URL ("http://[::1]:8080/"), and in its hostname.
      const name = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
      const addresses = this.#engine.resolve(name);
      addresses.catch(() => {}); // its error is handed to each fetch that awaits it
      host = { addresses, port: Number(url.port || 80), idle: [] };
      this.#hosts.set(url.host, host);
    }
    return host;
  }

  /** The most recently used idle connection to host that the server has not closed, if any. */
  #idle(host: Host): Kept | undefined {
    for (let kept = host.idle.pop(); kept !== undefined; kept = host.idle.pop()) {
      const checked = this.#engine.time() - kept.idleSince >= CHECK_IDLE_MS;
      if (!checked || !kept.connection.closedByPeer()) return kept;
      kept.connection.close();
    }
    return undefined;
  }

  /**
   * A new connection to the first of host's addresses that takes one (connectFirst, in
   * engine.ts), within the time the request has left. The address that took it goes first for
   * the next ones (RFC 8305 5: remember what worked), so a host pays for a dead address once, not
   * once per connection: "localhost" as ::1 and 127.0.0.1, with a server on 127.0.0.1 only, is
   * refused on ::1 for its first connection alone.
   */
  async #open(host: Host, signal: AbortSignal, started: number): Promise<Kept> {
    const addresses = await host.addresses;
    const budgetMs = this.#options.timeoutMs - (this.#engine.time() - started);
    // A copy: another connection may reorder the list while this one tries it.
    const tried = [...addresses];
    const { connection, address } = await connectFirst(
      this.#engine,
      tried,
      host.port,
      signal,
      budgetMs,
    );
    if (addresses[0] !== address) {
      addresses.splice(addresses.indexOf(address), 1);
      addresses.unshift(address);
    }
    this.stats.connections++;
    const parser = new ResponseParser({ maxBodyBytes: this.#options.maxBodyBytes });
    return { connection, parser, requests: 0, idleSince: 0 };
  }

  async #exchange(
    kept: Kept,
    host: Host,
    url: URL,
    signal: AbortSignal,
    wantBody: (head: ResponseEvent) => boolean,
    wire: Wire,
    keepBytes: number | undefined,
  ): Promise<Omit<Fetched, "ms">> {
    const { connection, parser } = kept;
    const request = buildRequest(url, this.#requestOptions);
    this.stats.requests++;
    if (kept.requests++ > 0) this.stats.reused++;
    await connection.send(request, signal);

    let head: ResponseEvent | undefined;
    let keep = true; // false: the body is not wanted, and not worth reading either
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const event = parser.nextEvent();
      if (event === NEED_DATA) {
        const data = await connection.recv(signal);
        wire.firstByteMs ??= this.#engine.time();
        wire.bytes += data.length;
        parser.receiveData(data);
        continue;
      }
      if (event === PAUSED) throw new Error("the parser paused before the end of a response");
      if (event.type === "response") {
        head = event;
        if (!wantBody(head)) {
          keep = false;
          // Until-eof (which must close) or too large: close instead. Chunked: read on, below.
          const length = Number(head.headers.get("content-length") ?? 0);
          if (parser.mustClose || !(length <= DRAIN_LIMIT)) break;
        }
        // The parser caps a wanted body at maxBodyBytes. One not wanted is read to DRAIN_LIMIT
        // at most (below), and one whose first keepBytes are kept is cut here, not refused.
        if (!keep || keepBytes !== undefined) parser.limitBody(Infinity);
      } else if (event.type === "data") {
        if (keep && keepBytes !== undefined && size + event.data.length > keepBytes) {
          chunks.push(event.data.subarray(0, keepBytes - size));
          size = keepBytes;
          break; // the rest is not read: the connection is closed below
        }
        // A view the parser never writes to again (shared/http.ts), so no copy until the end.
        if (keep) chunks.push(event.data);
        size += event.data.length;
        if (!keep && size > DRAIN_LIMIT) break;
      } else {
        if (parser.mustClose || !onlyLineEnds(parser.trailingData) || head!.status === 408) {
          connection.close();
        } else {
          parser.startNextCycle("GET");
          kept.idleSince = this.#engine.time();
          host.idle.push(kept);
        }
        return {
          status: head!.status, // "end" always comes after "response"
          reason: head!.reason,
          headers: head!.headers,
          body: keep ? concat(chunks, size) : null,
          wireBytes: wire.bytes,
        };
      }
    }
    // Broke out early: the body is not wanted and not drained, or its first keepBytes are all we
    // keep; either way this connection is done.
    connection.close();
    return {
      status: head!.status, // a break comes at the response, or at its data after it
      reason: head!.reason,
      headers: head!.headers,
      body: keep ? concat(chunks, size) : null,
      wireBytes: wire.bytes,
    };
  }
}

// Whether the bytes that came after a response are at most the stray empty lines some servers
// send between responses (the parser skips those). Anything else means the server sent more body
// than its Content-Length said (a script that counted its page before something changed it): the
// rest would be read as the next response's status line, and fail a page that did nothing wrong.
// curl ("Excess found") and browsers do not use such a connection again; neither do we.
function onlyLineEnds(bytes: Uint8Array): boolean {
  return bytes.every((byte) => byte === 0x0d || byte === 0x0a);
}

// One fresh buffer of exactly the body's size: it may be handed to a worker thread whole
// (transferred, not copied), which a slice of Node's shared Buffer pool could never be.
function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}
