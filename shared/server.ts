// An HTTP/1.1 server on the shared event loop: the c10k server, and the search page after it.
//
//   const loop = new EventLoop();
//   const server = new HttpServer(loop, (request) => ({ status: 200, body: "hi\n" }), { port: 0 });
//   console.log(server.address);                                // ["127.0.0.1", 41234]
//   const stop = new AbortController();
//   loop.addSignalHandler(SIGTERM, () => stop.abort());
//   const stats = await loop.run(server.serve(stop.signal));   // after a graceful shutdown
//
// Theory of operation
//
// One thread, one loop, one listening socket, and for every client a Connection: one small
// object, shared methods (the loop calls them with the connection as their argument, so there is
// no closure per connection), and no buffer while the connection is idle. Bytes go into the
// connection's RequestParser (shared/http.ts, sans-I/O); each whole request goes to the handler,
// whose reply is built by buildResponse and sent at once. What the kernel does not take waits in
// the connection's output queue for EVENT_WRITE. The tiers of error (STYLE.md, point 8):
//   would block             wait: a readiness callback, never a retry loop
//   a bad request           answer with the parser's statusHint (400, 413, 414, 431, 501, 505),
//                           then close this connection and only this one
//   a reset, a broken pipe  close this connection, count it, go on
//   EMFILE/ENFILE on accept stop accepting for a moment (the clients wait in the backlog), say so
//                           once, go on: never spin, never crash
//   a handler that throws   500 for that request, logged; the connection lives on
//
// Keep-alive and pipelining. The parser's keep-alive cycle is explicit: after a request ends,
// startNextCycle() reads the next one from bytes already received, so pipelined requests are
// answered one after the other, in order, into the same output queue. When that queue holds more
// than maxQueuedBytes (a client that sends requests but does not read the answers), the
// connection stops reading and parsing until the kernel has taken the backlog: memory stays
// bounded, and other clients never notice. An async handler pauses its connection the same way.
// It must wait on this loop (loop.sleep, the loop's sockets, a WorkerPool): Node's own timers and
// I/O do not run while the loop sleeps in epoll_wait, and a server's loop always has fds to watch.
//
// Timeouts. Every connection has one deadline, idleTimeoutMs after a request began: after accept,
// and again each time the next request's cycle starts. It is not pushed back by each byte that
// arrives, so a client that drips a header (or CRLFs) a byte at a time is closed all the same
// (slowloris). While answers wait in the output queue, each write that makes progress sets the
// deadline again, as nginx's send_timeout does: a slow reader is served, a dead one is closed.
// Every deadline is "now + the same timeout", so the order in which they are set is the order in
// which they fall due: the connections sit in one list, a deadline set again moves its connection
// to the tail, and one loop timer waits for the head. That is O(1) per request, with no timer
// object per connection; Node keeps one list per duration for the same reason
// (lib/internal/timers.js).
//
// Closing. When the server decides to close (Connection: close, HTTP/1.0, an error answer), it
// sends the answer, shuts down its sending side, and reads and discards until the client closes
// too, or until its deadline: closing a socket with unread bytes makes the kernel send a reset,
// which can destroy the answer before the client has read it (nginx's lingering_close). Shutdown
// is a parameter: when serve()'s signal aborts, the server stops accepting, closes the idle
// connections, lets answers in flight finish for graceMs, closes every fd, and resolves with the
// final accounting, in which accepted = open + every reason for closing.
//
// Leaves out: TLS, HTTP/2, chunked responses (a reply is one whole body), Expect: 100-continue.
import { isIP } from "node:net";
import {
  AF_INET,
  AF_INET6,
  BlockingIOError,
  IPPROTO_TCP,
  SHUT_WR,
  SOL_SOCKET,
  SO_REUSEADDR,
  Socket,
  TCP_NODELAY,
  type Address,
} from "@async-from-scratch/native";
import {
  NEED_DATA,
  PAUSED,
  ProtocolError,
  RequestParser,
  buildResponse,
  type RequestEvent,
  type ResponseOptions,
} from "./http.ts";
import type { EventLoop, TimerHandle } from "./loop/index.ts";

/** A whole request, as the handler gets it. */
export interface Request {
  method: string; // as sent: "GET"
  target: string; // as sent: "/search?q=epoll"
  httpVersion: string; // "1.0" or "1.1"
  headers: Map<string, string>; // names lower-cased
  body: Buffer; // empty for most GETs; a body on GET is read and handed over like any other
}

/** What the handler answers. Content-Length, Connection and Date are written for it. */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: Uint8Array | string; // a string is sent as UTF-8
  close?: boolean; // close the connection after this answer
}

/** Answers one request, at once or later (a promise pauses that connection until it settles). */
export type Handler = (request: Request) => Reply | Promise<Reply>;

export interface ServerOptions {
  /** Default "127.0.0.1": only this machine can connect. "0.0.0.0" listens on every interface. */
  host?: string;
  /** Default 0: the kernel picks a free port (read it from `address`). */
  port?: number;
  /**
   * Finished handshakes the kernel queues until we accept them; Linux caps it at
   * net.core.somaxconn (4096 here). Default 4096: 10,000 clients that connect at once must
   * not find the queue full (Node and nginx default to 511).
   */
  backlog?: number;
  /** A request must arrive whole within this, counted from its start; default 30,000 ms. */
  idleTimeoutMs?: number;
  /** Answers queued per connection before it stops reading; default 64 KiB. */
  maxQueuedBytes?: number;
  /** Cap on a request's head (the parser's 431 and 414); default 16 KiB, as Node and h11. */
  maxHeaderBytes?: number;
  /** Cap on a request's body (the parser's 413); default 64 KiB: this server takes no uploads. */
  maxBodyBytes?: number;
  /** How long answers in flight may take to finish after shutdown starts; default 1000 ms. */
  graceMs?: number;
  /** Where the server says what it must say once (EMFILE, say); default stderr. */
  log?: (line: string) => void;
}

/** Why connections ended: accepted = open + the sum of these. */
export interface ClosedCounts {
  /** The client closed between requests: the normal end of keep-alive. */
  byClient: number;
  /** After an answer with `Connection: close` (asked for, or HTTP/1.0). */
  afterClose: number;
  /** No whole request within idleTimeoutMs (idle keep-alive, slowloris), or writes stalled. */
  timedOut: number;
  /** A bad request, answered with its 4xx or 5xx. */
  badRequest: number;
  /** The client vanished mid-request or mid-answer: ECONNRESET, EPIPE, or an end of file. */
  reset: number;
  /** Closed at once after accept: select() cannot watch an fd past FD_SETSIZE. */
  refused: number;
  /** Closed by a graceful shutdown. */
  shutdown: number;
}

export interface ServerStats {
  accepted: number;
  open: number;
  peakOpen: number;
  requests: number;
  /** Answers sent, by status. */
  responses: Map<number, number>;
  closed: ClosedCounts;
  /** Times accept stopped for a moment because the process (EMFILE) or system (ENFILE) was out of fds. */
  acceptPauses: number;
}

// Connection.flags: what a connection is doing, as bits, so that the object stays small.
const READING = 1; // its reader is registered
const WRITING = 2; // its writer is registered: the output queue is not empty
const BUSY = 4; // an async handler is working on its request
const CLOSING = 8; // no more requests: close once the output queue is empty
const LINGERING = 16; // all sent, our side shut down: reading until the client closes
const EOF = 32; // the client has closed its side
const CLOSED = 64;

// One recv's worth. Most requests are a few hundred bytes, so this is a cap, not an allocation:
// the native recv returns a buffer of the size received.
const RECV_SIZE = 64 * 1024;
// How long accept waits after EMFILE or ENFILE before it tries again: at first, and at most.
const ACCEPT_PAUSE_MS = [100, 1600] as const;
const EMPTY = Buffer.alloc(0);
// Different failures the log reports, each once; the accounting counts every one of them.
const MAX_SAID = 100;

type ClosedReason = keyof ClosedCounts;

/** One client: its socket, its parser, the request being read, answers not yet sent. */
class Connection {
  readonly server: HttpServer;
  readonly sock: Socket;
  readonly parser: RequestParser;
  flags = 0;
  request: RequestEvent | null = null; // the head of the request being read, until its end
  body: Uint8Array[] | null = null; // its body so far, if it has one
  output: Uint8Array[] | null = null; // answers the kernel has not taken yet
  queued = 0; // their bytes
  reason: ClosedReason | null = null; // why it closes, once CLOSING
  // The deadline list: a doubly linked list in the order the deadlines were set.
  deadline = 0;
  prev: Connection | null = null;
  next: Connection | null = null;

  constructor(server: HttpServer, sock: Socket, parser: RequestParser) {
    this.server = server;
    this.sock = sock;
    this.parser = parser;
  }
}

export class HttpServer {
  readonly loop: EventLoop;
  readonly handler: Handler;
  /** The address the server listens on: [host, port], with the port the kernel picked for 0. */
  readonly address: Address;
  readonly stats: ServerStats = {
    accepted: 0,
    open: 0,
    peakOpen: 0,
    requests: 0,
    responses: new Map(),
    closed: {
      byClient: 0,
      afterClose: 0,
      timedOut: 0,
      badRequest: 0,
      reset: 0,
      refused: 0,
      shutdown: 0,
    },
    acceptPauses: 0,
  };
  readonly #listener: Socket;
  readonly #idleTimeoutMs: number;
  readonly #maxQueuedBytes: number;
  readonly #parserOptions: { maxHeaderBytes: number; maxBodyBytes: number };
  readonly #graceMs: number;
  readonly #log: (line: string) => void;
  readonly #said = new Set<string>();
  #state: "new" | "serving" | "stopping" | "stopped" = "new";
  #accepting = false;
  #acceptPauseMs: number = ACCEPT_PAUSE_MS[0];
  #acceptTimer: TimerHandle | null = null;
  // Every open connection, in the order their deadlines were set: the head is due first.
  #head: Connection | null = null;
  #tail: Connection | null = null;
  #deadlineTimer: TimerHandle | null = null;
  #graceTimer: TimerHandle | null = null;
  #stopped: ((stats: ServerStats) => void) | null = null;
  #date = { second: -1, text: "" };

  /** Binds and listens at once, so that `address` is known before serve(). */
  constructor(loop: EventLoop, handler: Handler, options: ServerOptions = {}) {
    if (typeof handler !== "function") throw new TypeError("the handler must be a function");
    this.loop = loop;
    this.handler = handler;
    this.#idleTimeoutMs = checkCount("idleTimeoutMs", options.idleTimeoutMs, 30_000, 1);
    this.#maxQueuedBytes = checkCount("maxQueuedBytes", options.maxQueuedBytes, 64 * 1024, 1);
    this.#graceMs = checkCount("graceMs", options.graceMs, 1000, 0);
    this.#parserOptions = {
      maxHeaderBytes: checkCount("maxHeaderBytes", options.maxHeaderBytes, 16 * 1024, 1),
      maxBodyBytes: checkCount("maxBodyBytes", options.maxBodyBytes, 64 * 1024, 0),
    };
    const backlog = checkCount("backlog", options.backlog, 4096, 1);
    this.#log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    const host = options.host ?? "127.0.0.1";
    // The family is the address's: "::1" (or "::", every interface, IPv4 too) needs an AF_INET6
    // socket; an AF_INET one cannot bind it (EAFNOSUPPORT).
    const listener = new Socket(isIP(host) === 6 ? AF_INET6 : AF_INET);
    try {
      // A restarted server can bind its port again while the old connections sit in TIME_WAIT.
      listener.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
      listener.bind([host, options.port ?? 0]);
      listener.listen(backlog);
      listener.setBlocking(false);
      this.address = listener.getsockname();
    } catch (error) {
      listener.close();
      throw error;
    }
    this.#listener = listener;
  }

  /**
   * Serves until signal aborts, then shuts down gracefully (stop accepting, close idle
   * connections, let answers in flight finish for graceMs, close every fd) and resolves with the
   * final accounting. Run it on the loop: `await loop.run(server.serve(signal))`.
   */
  serve(signal?: AbortSignal): Promise<ServerStats> {
    if (this.#state !== "new") throw new Error("serve() may be called once");
    this.#state = "serving";
    const stopped = new Promise<ServerStats>((resolve) => (this.#stopped = resolve));
    this.#startAccepting();
    if (signal?.aborted) this.#shutdown();
    else signal?.addEventListener("abort", () => this.#shutdown(), { once: true });
    return stopped;
  }

  // The loop calls these with the object they are for: one function for every connection,
  // where a closure per connection and per watcher would cost memory on each of 10,000.
  static #onAcceptable = (server: HttpServer) => server.#accept();
  static #onAcceptPauseEnd = (server: HttpServer) => server.#startAccepting();
  static #onReadable = (conn: Connection) => conn.server.#read(conn);
  static #onWritable = (conn: Connection) => conn.server.#flush(conn);
  static #onDeadline = (server: HttpServer) => server.#expire();
  static #onGraceEnd = (server: HttpServer) => server.#closeAll();

  // ---- accepting ------------------------------------------------------------------------------

  #startAccepting(): void {
    this.#acceptTimer = null;
    if (this.#state !== "serving" || this.#accepting) return;
    this.#accepting = true;
    this.loop.addReader(this.#listener, HttpServer.#onAcceptable, this);
  }

  #stopAccepting(): void {
    if (!this.#accepting) return;
    this.#accepting = false;
    this.loop.removeReader(this.#listener);
  }

  /** Accepts every connection waiting in the backlog: until EAGAIN, as libuv does. */
  #accept(): void {
    for (;;) {
      let sock: Socket;
      try {
        // Non-blocking from the start: accept4(SOCK_NONBLOCK) on Linux, no second system call.
        [sock] = this.#listener.accept({ blocking: false });
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (error instanceof BlockingIOError) break;
        // The client gave up between its handshake and our accept: nothing to serve.
        if (code === "ECONNABORTED" || code === "EPROTO") continue;
        if (code === "EMFILE" || code === "ENFILE" || code === "ENOBUFS" || code === "ENOMEM") {
          return this.#pauseAccepting(error as Error);
        }
        throw error;
      }
      const conn = new Connection(this, sock, new RequestParser(this.#parserOptions));
      this.stats.accepted++;
      this.stats.open++;
      if (this.stats.open > this.stats.peakOpen) this.stats.peakOpen = this.stats.open;
      this.#arm(conn);
      try {
        // No Nagle delay: every answer goes out in one send, and holding a second small one until
        // the first is acknowledged would stall pipelined answers.
        sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
        this.#startReading(conn);
      } catch (error) {
        this.#close(conn, "refused");
        // select() takes no fd of FD_SETSIZE or more: wait until lower fds are free again.
        if (error instanceof RangeError) return this.#pauseAccepting(error);
        if (!(error instanceof Error && "syscall" in error)) throw error;
      }
    }
    this.#acceptPauseMs = ACCEPT_PAUSE_MS[0];
  }

  // Out of fds: the clients wait in the kernel's backlog until some close. Trying again at once
  // would fail again at once, and spin; so wait, a little longer each time it happens in a row.
  #pauseAccepting(error: Error): void {
    this.stats.acceptPauses++;
    this.#sayOnce(
      `accept:${error.name}`,
      `server: ${error.message}: not accepting for ${ACCEPT_PAUSE_MS[0]} to ` +
        `${ACCEPT_PAUSE_MS[1]} ms at a time while connections wait in the backlog ` +
        `(said once, counted in acceptPauses)`,
    );
    this.#stopAccepting();
    this.#acceptTimer = this.loop.callLater(
      this.#acceptPauseMs,
      HttpServer.#onAcceptPauseEnd,
      this,
    );
    this.#acceptPauseMs = Math.min(2 * this.#acceptPauseMs, ACCEPT_PAUSE_MS[1]);
  }

  // ---- reading and parsing --------------------------------------------------------------------

  #startReading(conn: Connection): void {
    if (conn.flags & (READING | EOF | CLOSED)) return;
    this.loop.addReader(conn.sock, HttpServer.#onReadable, conn);
    conn.flags |= READING;
  }

  #stopReading(conn: Connection): void {
    if (!(conn.flags & READING)) return;
    this.loop.removeReader(conn.sock);
    conn.flags &= ~READING;
  }

  /** The connection is readable: one recv (the loop calls again while more is waiting). */
  #read(conn: Connection): void {
    let chunk: Buffer;
    try {
      chunk = conn.sock.recv(RECV_SIZE);
    } catch (error) {
      if (error instanceof BlockingIOError) return; // readiness is a hint
      return this.#close(conn, conn.flags & LINGERING ? conn.reason! : "reset");
    }
    if (conn.flags & LINGERING) {
      // All sent and shut down: discard what comes, until the client closes too.
      if (chunk.length === 0) this.#close(conn, conn.reason!);
      return;
    }
    if (chunk.length === 0) {
      // An end of file stays readable for ever: stop watching, or the loop would spin on it.
      conn.flags |= EOF;
      this.#stopReading(conn);
    }
    conn.parser.receiveData(chunk);
    this.#process(conn);
  }

  /** Takes events from the parser and answers whole requests, in order, until it must wait. */
  #process(conn: Connection): void {
    for (;;) {
      if (conn.flags & (BUSY | CLOSING | CLOSED)) return;
      if (conn.queued > this.#maxQueuedBytes) {
        // Answers pile up unread: stop reading (and answering) until the kernel takes them.
        return this.#stopReading(conn);
      }
      let event;
      try {
        event = conn.parser.nextEvent();
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        return this.#refuse(conn, error);
      }
      if (event === NEED_DATA) return this.#startReading(conn);
      if (event === PAUSED) {
        // The client closed between requests, or its last request said Connection: close.
        if (conn.parser.mustClose) {
          return this.#closeWhenSent(conn, conn.flags & EOF ? "byClient" : "afterClose");
        }
        conn.parser.startNextCycle();
        this.#arm(conn); // a new request begins: its time starts now
        continue;
      }
      switch (event.type) {
        case "request":
          conn.request = event;
          break;
        case "data":
          (conn.body ??= []).push(event.data);
          break;
        case "end":
          this.#dispatch(conn);
          break;
      }
    }
  }

  /** A bad request: answer with the parser's statusHint, then close this connection only. */
  #refuse(conn: Connection, error: ProtocolError): void {
    // An end of file in the middle of a request: the client went away, nobody to answer.
    if (conn.flags & EOF) return this.#close(conn, "reset");
    this.#send(conn, error.statusHint, {
      headers: { "Content-Type": "text/plain; charset=utf-8" },
      body: `${error.statusHint} ${error.message}\n`,
      close: true,
    });
    this.#closeWhenSent(conn, "badRequest");
  }

  // ---- answering --------------------------------------------------------------------------

  #dispatch(conn: Connection): void {
    const { method, target, httpVersion, headers } = conn.request!; // "end" follows "request"
    const body = conn.body === null ? EMPTY : Buffer.concat(conn.body);
    conn.request = conn.body = null;
    this.stats.requests++;
    const head = { method, httpVersion };
    let reply: Reply | Promise<Reply>;
    try {
      reply = this.handler({ method, target, httpVersion, headers, body });
    } catch (error) {
      reply = this.#internalError(error);
    }
    if (!(reply instanceof Promise)) return this.#answer(conn, head, reply);
    // Later: nothing more is read or answered on this connection until it settles, so answers
    // stay in order and the client cannot pile requests up meanwhile.
    conn.flags |= BUSY;
    this.#stopReading(conn);
    reply
      .catch((error: unknown) => this.#internalError(error))
      .then((late) => {
        conn.flags &= ~BUSY;
        if (conn.flags & CLOSED) return;
        this.#answer(conn, head, late);
        if (conn.flags & CLOSING && conn.output === null) this.#linger(conn);
        else this.#process(conn);
      });
  }

  #answer(conn: Connection, request: { method: string; httpVersion: string }, reply: Reply) {
    if (typeof reply !== "object" || reply === null) {
      reply = this.#internalError(new TypeError(`the handler returned ${String(reply)}`));
    }
    const stopping = this.#state !== "serving";
    const close = reply.close === true || conn.parser.mustClose || stopping;
    this.#send(conn, reply.status, { ...reply, request, close });
    if (!close) return;
    this.#closeWhenSent(conn, conn.flags & EOF ? "byClient" : stopping ? "shutdown" : "afterClose");
  }

  #send(conn: Connection, status: number, options: ResponseOptions): void {
    let bytes: Uint8Array;
    try {
      bytes = buildResponse(status, {
        ...options,
        headers: { Date: this.#httpDate(), ...options.headers },
      });
    } catch (error) {
      // A reply that buildResponse refuses (a bad status, a CR in a header) is a bug in the
      // handler: the client gets a 500, the log says why.
      const { headers, body } = this.#internalError(error);
      return this.#send(conn, 500, { ...options, headers, body });
    }
    const { responses } = this.stats;
    responses.set(status, (responses.get(status) ?? 0) + 1);
    this.#write(conn, bytes);
  }

  #internalError(error: unknown): Reply {
    this.#sayOnce(`handler:${String(error)}`, `server: the handler failed: ${String(error)}`);
    return {
      status: 500,
      headers: { "Content-Type": "text/plain; charset=utf-8" },
      body: "500 internal server error\n",
    };
  }

  // RFC 9110 6.6.1: a server with a clock sends Date. Its text changes once a second.
  #httpDate(): string {
    const now = Date.now();
    const second = Math.floor(now / 1000);
    if (second !== this.#date.second) this.#date = { second, text: new Date(now).toUTCString() };
    return this.#date.text;
  }

  // ---- writing ------------------------------------------------------------------------------

  /** Sends now what the kernel takes, and queues the rest for EVENT_WRITE. */
  #write(conn: Connection, bytes: Uint8Array): void {
    if (conn.flags & CLOSED) return;
    if (conn.output !== null) {
      conn.output.push(bytes); // behind the others, so answers stay in order
      conn.queued += bytes.length;
      return;
    }
    let sent = 0;
    try {
      sent = conn.sock.send(bytes);
    } catch (error) {
      if (!(error instanceof BlockingIOError)) return this.#close(conn, "reset");
    }
    if (sent === bytes.length) return;
    conn.output = [bytes.subarray(sent)];
    conn.queued = bytes.length - sent;
    this.loop.addWriter(conn.sock, HttpServer.#onWritable, conn);
    conn.flags |= WRITING;
    this.#arm(conn); // from now on, the time runs from the last write that made progress
  }

  /** The connection is writable: send what is queued, until the kernel's buffer is full. */
  #flush(conn: Connection): void {
    const output = conn.output!; // the writer is registered only while something is queued
    let progress = false;
    while (output.length > 0) {
      const bytes = output[0]!;
      let sent: number;
      try {
        sent = conn.sock.send(bytes);
      } catch (error) {
        if (error instanceof BlockingIOError) break;
        return this.#close(conn, "reset");
      }
      progress = true;
      conn.queued -= sent;
      if (sent < bytes.length) {
        output[0] = bytes.subarray(sent);
        break;
      }
      output.shift();
    }
    if (progress) this.#arm(conn);
    if (output.length > 0) return;
    conn.output = null;
    conn.queued = 0;
    this.loop.removeWriter(conn.sock);
    conn.flags &= ~WRITING;
    if (conn.flags & CLOSING) return this.#linger(conn);
    this.#process(conn); // requests that waited for the queue to drain, then reading again
  }

  // ---- closing ------------------------------------------------------------------------------

  /** No more requests on this connection: close it once its answers are sent. */
  #closeWhenSent(conn: Connection, reason: ClosedReason): void {
    if (conn.flags & (CLOSING | CLOSED)) return;
    conn.flags |= CLOSING;
    conn.reason = reason;
    conn.request = conn.body = null;
    this.#stopReading(conn); // what it sends now would only pile up
    if (conn.output === null && !(conn.flags & BUSY)) this.#linger(conn);
  }

  // Everything is sent. Closing now, with unread bytes (more pipelined requests, the rest of a
  // huge header), would make the kernel answer them with a reset, which can destroy our answer
  // in the client's buffer before it is read. So shut down our side (the client reads our answer,
  // then the end of the data), and read and discard until the client closes its side too, or
  // until its deadline: nginx's lingering_close.
  #linger(conn: Connection): void {
    if (conn.flags & (CLOSED | LINGERING)) return;
    if (conn.flags & EOF || this.#state === "stopping") return this.#close(conn, conn.reason!);
    try {
      conn.sock.shutdown(SHUT_WR);
    } catch {
      return this.#close(conn, conn.reason!); // the connection is gone already
    }
    conn.flags |= LINGERING;
    this.#arm(conn);
    this.#startReading(conn);
  }

  #close(conn: Connection, reason: ClosedReason): void {
    if (conn.flags & CLOSED) return;
    this.#disarm(conn);
    // Watchers go before the fd: the loop tells a closed socket from a new one on its number.
    if (conn.flags & READING) this.loop.removeReader(conn.sock);
    if (conn.flags & WRITING) this.loop.removeWriter(conn.sock);
    conn.flags = CLOSED;
    conn.sock.close();
    conn.output = conn.request = conn.body = null;
    this.stats.open--;
    this.stats.closed[reason]++;
    if (this.#state === "stopping" && this.stats.open === 0) this.#finish();
  }

  // ---- deadlines ----------------------------------------------------------------------------

  /** Sets conn's deadline to now + idleTimeoutMs, which moves it to the tail of the list. */
  #arm(conn: Connection): void {
    this.#disarm(conn);
    conn.deadline = this.loop.time() + this.#idleTimeoutMs;
    conn.prev = this.#tail;
    if (this.#tail === null) this.#head = conn;
    else this.#tail.next = conn;
    this.#tail = conn;
    // One timer, for the head. A deadline set again only moves later, so a timer that fires
    // early finds nothing due, and waits again for the new head.
    this.#deadlineTimer ??= this.loop.callLater(this.#idleTimeoutMs, HttpServer.#onDeadline, this);
  }

  #disarm(conn: Connection): void {
    if (conn.prev === null && this.#head !== conn) return; // not in the list
    if (conn.prev === null) this.#head = conn.next;
    else conn.prev.next = conn.next;
    if (conn.next === null) this.#tail = conn.prev;
    else conn.next.prev = conn.prev;
    conn.prev = conn.next = null;
  }

  /** The deadline timer fired: close every connection whose time is up. */
  #expire(): void {
    this.#deadlineTimer = null;
    const now = this.loop.time();
    for (let conn = this.#head; conn !== null && conn.deadline <= now; conn = this.#head) {
      if (conn.flags & BUSY)
        this.#arm(conn); // the handler is working, not the client
      else this.#close(conn, conn.flags & LINGERING ? conn.reason! : "timedOut");
    }
    const head = this.#head;
    if (head !== null) {
      this.#deadlineTimer = this.loop.callLater(head.deadline - now, HttpServer.#onDeadline, this);
    }
  }

  // ---- shutdown -----------------------------------------------------------------------------

  #shutdown(): void {
    if (this.#state !== "serving") return;
    this.#state = "stopping";
    this.#stopAccepting();
    this.#acceptTimer?.cancel();
    this.#listener.close();
    // Idle connections close now; those with an answer being made or sent finish it first, for
    // at most graceMs.
    for (let conn = this.#head, next; conn !== null; conn = next) {
      next = conn.next;
      if (conn.flags & LINGERING) {
        this.#close(conn, conn.reason!); // answered already
      } else if (conn.flags & (WRITING | BUSY)) {
        this.#closeWhenSent(conn, "shutdown");
      } else {
        // Before calling it idle, read what has arrived: the client's close (counted as its
        // own), or a request, which is answered, with Connection: close.
        this.#read(conn);
        if (!(conn.flags & (CLOSED | CLOSING | BUSY))) this.#close(conn, "shutdown");
      }
    }
    if (this.stats.open === 0) return this.#finish();
    this.#graceTimer = this.loop.callLater(this.#graceMs, HttpServer.#onGraceEnd, this);
  }

  #closeAll(): void {
    this.#graceTimer = null;
    for (let conn = this.#head, next; conn !== null; conn = next) {
      next = conn.next;
      this.#close(conn, conn.reason ?? "shutdown");
    }
  }

  #finish(): void {
    if (this.#state === "stopped") return;
    this.#state = "stopped";
    this.#deadlineTimer?.cancel();
    this.#graceTimer?.cancel();
    this.#stopped?.(this.stats);
  }

  // Each thing is said once: a server that fails the same way 10,000 times does not log it
  // 10,000 times. At most MAX_SAID different things, so that the set itself stays bounded.
  #sayOnce(key: string, line: string): void {
    if (this.#said.has(key) || this.#said.size >= MAX_SAID) return;
    this.#said.add(key);
    this.#log(line);
  }
}

function checkCount(name: string, value: number | undefined, fallback: number, min: number) {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}
