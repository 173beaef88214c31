// The seam between the crawl and whatever moves its bytes: connect, send, recv and close a TCP
// connection; sleep; time out; resolve a host name; catch Ctrl-C; run tasks in worker threads.
// The crawl (crawler.ts, fetcher.ts) is written once against this interface, and runs on either
// engine:
//
//   scratch  our own event loop (shared/loop), on the native module's non-blocking sockets and
//            epoll: what lessons 2-6 built, grown up. Host names are resolved by getaddrinfo in a
//            worker thread, since getaddrinfo blocks (dns.ts). Each socket is opened with its
//            address's family: AF_INET6 for "::1", AF_INET for "127.0.0.1".
//   node     Node's own loop: net.Socket, setTimeout, dns.lookup (libuv runs getaddrinfo in its
//            thread pool), process.on("SIGINT"). What libuv does for us, for comparison.
//
// The seam is small on purpose: seven verbs are all a crawler asks of its I/O, and a third engine
// (io_uring, say) would only have to provide these.
import { connect as netConnect, type Socket as NetSocket } from "node:net";
import { lookup } from "node:dns/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { isIP } from "node:net";
import {
  AF_INET,
  AF_INET6,
  BlockingIOError,
  SIGINT,
  SIGTERM,
  Socket,
  IPPROTO_TCP,
  TCP_NODELAY,
} from "@async-from-scratch/native";
import { EventLoop, WorkerPool } from "@async-from-scratch/shared/loop";
import { SocketReads } from "@async-from-scratch/shared/reads";

export type EngineName = "scratch" | "node";
export const ENGINES: readonly EngineName[] = ["scratch", "node"];

/** One TCP connection. Every wait takes a signal, which aborts it with the signal's reason. */
export interface Connection {
  /** Sends all of data. */
  send(data: Uint8Array, signal: AbortSignal): Promise<void>;
  /** The next bytes that arrive; empty once the peer has closed its side. */
  recv(signal: AbortSignal): Promise<Uint8Array>;
  /**
   * Whether the peer has closed the connection (or sent bytes nobody asked for), as far as can be
   * told without waiting: asked of an idle connection before it carries another request. A stray
   * empty line that a server sent late after its last answer counts too: a new connection is
   * cheaper than telling it apart.
   */
  closedByPeer(): boolean;
  /** Closes at once; harmless twice. */
  close(): void;
}

export interface Engine {
  readonly name: EngineName;
  /** Milliseconds, monotonic. */
  time(): number;
  /**
   * Every address of the host name, IPv6 and IPv4, in the order getaddrinfo gives them (RFC 6724's:
   * mostly IPv6 first where this machine has a route for it), without blocking. An address is its
   * own answer. host is a URL's hostname without the brackets of an IPv6 one: "::1".
   */
  resolve(host: string): Promise<string[]>;
  /** A connection to a numeric address, "127.0.0.1" or "::1". */
  connect(address: string, port: number, signal: AbortSignal): Promise<Connection>;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Runs work with a signal that aborts with a TimeoutError after ms (or when parent aborts). */
  withTimeout<T>(
    ms: number,
    work: (signal: AbortSignal) => Promise<T>,
    parent?: AbortSignal,
  ): Promise<T>;
  /** Calls handler on SIGINT and SIGTERM, in the engine's loop; returns what undoes it. */
  onSignal(handler: (signal: "SIGINT" | "SIGTERM") => void): () => void;
  /** A pool of worker threads whose answers wake this engine's loop; close() stops it. */
  pool(moduleUrl: URL, size: number): WorkerPool;
  /** Runs main on the engine's loop and settles with it. */
  run<T>(main: () => Promise<T>): Promise<T>;
  /**
   * Frees what the engine holds: its pools' threads, its loop. After run(): a thread's end is
   * an event of Node's loop, which ours keeps asleep while it runs.
   */
  close(): Promise<void>;
}

export function createEngine(name: EngineName): Engine {
  return name === "scratch" ? new ScratchEngine() : new NodeEngine();
}

/**
 * A connection to the first of addresses (resolve()'s answer) that takes one, and which that was.
 * A failure to connect moves on to the next address, as in curl and Python's create_connection():
 * ECONNREFUSED (a server on 127.0.0.1 only, asked at ::1), ENETUNREACH or EADDRNOTAVAIL (no IPv6
 * here), a timeout. Each address but the last may take half the time left of budgetMs, as curl
 * gives it, so that one whose packets vanish (an IPv6 route that leads nowhere) costs half the
 * time and not all of it; the last takes what is left, until signal aborts. If none takes it, the
 * last one's error is thrown, as curl reports it.
 *
 * One address after another, not raced: RFC 8305's happy eyeballs would start the next attempt
 * 250 ms after the last one began, while it still waits (Node's autoSelectFamily, curl and
 * browsers do). Here a dead address costs up to half the budget, once per host: the fetcher
 * remembers the address that worked, and the crawler's first request to a host, robots.txt, goes
 * alone.
 */
export async function connectFirst(
  engine: Engine,
  addresses: readonly string[],
  port: number,
  signal: AbortSignal,
  budgetMs = Infinity,
): Promise<{ connection: Connection; address: string }> {
  if (addresses.length === 0) {
    throw Object.assign(new Error("the host name has no address"), { code: "ENOTFOUND" });
  }
  const started = engine.time();
  for (let i = 0; ; i++) {
    const address = addresses[i]!; // the last one's failure is thrown, below
    const last = i === addresses.length - 1;
    const attemptMs = (budgetMs - (engine.time() - started)) / 2;
    try {
      const connection =
        last || !Number.isFinite(attemptMs)
          ? await engine.connect(address, port, signal)
          : await engine.withTimeout(
              Math.max(0, attemptMs),
              (attempt) => engine.connect(address, port, attempt),
              signal,
            );
      return { connection, address };
    } catch (error) {
      if (last || signal.aborted || !fromConnecting(error)) throw error;
    }
  }
}

// What connecting to an address may fail with: an errno ("ECONNREFUSED"), or an attempt's
// timeout. Not a bug's error (a TypeError, Node's "ERR_OUT_OF_RANGE"): that is thrown at once,
// not taken for a dead address.
function fromConnecting(error: unknown): boolean {
  const { name, code } = error as { name?: unknown; code?: unknown };
  return name === "TimeoutError" || (typeof code === "string" && /^E[A-Z0-9]+$/.test(code));
}

// recv() asks for up to this much at a time: a typical page in one or two calls.
const RECV_SIZE = 64 * 1024;

// ---- scratch: our loop, our sockets ------------------------------------------------------------

class ScratchEngine implements Engine {
  readonly name = "scratch";
  readonly loop = new EventLoop();
  readonly #pools: WorkerPool[] = [];
  #dns: WorkerPool | null = null;

  time(): number {
    return this.loop.time();
  }

  async resolve(host: string): Promise<string[]> {
    if (isIP(host) !== 0) return [host];
    // One thread for every lookup, started on the first name: a crawl of 127.0.0.1 needs none.
    this.#dns ??= this.pool(new URL("./dns.ts", import.meta.url), 1);
    return this.#dns.run<string[]>("getaddrinfo", host); // it throws rather than answer nothing
  }

  async connect(address: string, port: number, signal: AbortSignal): Promise<Connection> {
    // The family is the address's: an AF_INET socket cannot connect to "::1" (EAFNOSUPPORT).
    const sock = new Socket(isIP(address) === 6 ? AF_INET6 : AF_INET);
    try {
      sock.setBlocking(false);
      // One small write per request, then we wait for the answer: Nagle's delay would only hold
      // the request back (Node's http sets noDelay for the same reason).
      sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
      await this.loop.connect(sock, [address, port], signal);
    } catch (error) {
      sock.close();
      throw error;
    }
    const loop = this.loop;
    // loop.recv() tries the socket first and waits only if it has nothing, which is right for a
    // stream whose bytes may be there already. But right after a request is sent, its answer
    // cannot be: that first recv() would be a system call that fails with EAGAIN (and an error
    // object with its stack trace), once per page. So the first recv after a send waits for
    // readability first, then reads.
    let answerDue = false;
    return {
      send: async (data, signal) => {
        await loop.sendAll(sock, data, signal);
        answerDue = true;
      },
      recv: async (signal) => {
        if (answerDue) {
          answerDue = false;
          await loop.readable(sock, signal);
        }
        return loop.recv(sock, RECV_SIZE, signal);
      },
      closedByPeer: () => {
        try {
          sock.recv(1); // an end of file, or a byte unasked for: either way, not for a request
          return true;
        } catch (error) {
          return !(error instanceof BlockingIOError); // nothing to read: open; a reset: closed
        }
      },
      close: () => sock.close(),
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return this.loop.sleep(ms, signal);
  }

  withTimeout<T>(ms: number, work: (signal: AbortSignal) => Promise<T>, parent?: AbortSignal) {
    return this.loop.withTimeout(ms, work, parent);
  }

  onSignal(handler: (signal: "SIGINT" | "SIGTERM") => void): () => void {
    // Through the loop's self-pipe: a process.on("SIGINT") handler would wait for Node's loop,
    // which does not run while ours sleeps in epoll_wait.
    this.loop.addSignalHandler(SIGINT, () => handler("SIGINT"));
    this.loop.addSignalHandler(SIGTERM, () => handler("SIGTERM"));
    return () => {
      this.loop.removeSignalHandler(SIGINT);
      this.loop.removeSignalHandler(SIGTERM);
    };
  }

  pool(moduleUrl: URL, size: number): WorkerPool {
    const pool = new WorkerPool(this.loop, moduleUrl, size);
    this.#pools.push(pool);
    return pool;
  }

  run<T>(main: () => Promise<T>): Promise<T> {
    return this.loop.run(main());
  }

  async close(): Promise<void> {
    await Promise.all(this.#pools.map((pool) => pool.close()));
    this.loop.close();
  }
}

// ---- node: libuv's loop, Node's sockets ----------------------------------------------------------

class NodeEngine implements Engine {
  readonly name = "node";
  readonly #pools: WorkerPool[] = [];

  time(): number {
    return performance.now();
  }

  async resolve(host: string): Promise<string[]> {
    if (isIP(host) !== 0) return [host];
    // getaddrinfo too (in libuv's pool), and in its order ("verbatim", Node's default since 17).
    const found = await lookup(host, { all: true, order: "verbatim" });
    return [...new Set(found.map(({ address }) => address))];
  }

  connect(address: string, port: number, signal: AbortSignal): Promise<Connection> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const reads = new SocketReads();
      const socket = reads.watch(
        netConnect({ host: address, port, noDelay: true, onread: reads.onread }),
      );
      const onAbort = () => {
        socket.destroy();
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      const onError = (error: Error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      };
      socket.once("error", onError);
      socket.once("connect", () => {
        signal.removeEventListener("abort", onAbort);
        socket.off("error", onError); // later errors come out of recv(), through reads
        resolve(new NodeConnection(socket, reads));
      });
    });
  }

  // Node's own: timers/promises takes a signal, AbortSignal.timeout() is withTimeout's signal
  // (it aborts with a TimeoutError, as ours does), and AbortSignal.any() joins it to the parent.
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleep(ms, undefined, { signal });
  }

  withTimeout<T>(
    ms: number,
    work: (signal: AbortSignal) => Promise<T>,
    parent?: AbortSignal,
  ): Promise<T> {
    // Whole milliseconds: a fraction (half of what a request has left) throws ERR_OUT_OF_RANGE.
    const timeout = AbortSignal.timeout(Math.max(0, Math.ceil(ms)));
    return work(parent === undefined ? timeout : AbortSignal.any([timeout, parent]));
  }

  onSignal(handler: (signal: "SIGINT" | "SIGTERM") => void): () => void {
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
    return () => {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    };
  }

  pool(moduleUrl: URL, size: number): WorkerPool {
    const pool = new WorkerPool(null, moduleUrl, size);
    this.#pools.push(pool);
    return pool;
  }

  run<T>(main: () => Promise<T>): Promise<T> {
    return main();
  }

  async close(): Promise<void> {
    await Promise.all(this.#pools.map((pool) => pool.close()));
  }
}

/**
 * recv() takes what Node read, one read at a time (SocketReads): reading stops until each chunk is
 * taken, which is backpressure (what recv() has not asked for stays in the kernel), and keeps a
 * reset from passing for an end of file, as it could with the socket's own 'data' and 'end'
 * (shared/reads.ts says how, and how the fixture site's /reset showed it).
 */
class NodeConnection implements Connection {
  readonly #socket: NetSocket;
  readonly #reads: SocketReads;

  constructor(socket: NetSocket, reads: SocketReads) {
    this.#socket = socket;
    this.#reads = reads;
  }

  send(data: Uint8Array, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#reads.error !== null) return reject(this.#reads.error);
      if (signal.aborted) return reject(signal.reason);
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#socket.write(data, (error) => {
        signal.removeEventListener("abort", onAbort);
        if (error) reject(this.#reads.error ?? error);
        else resolve();
      });
    });
  }

  async recv(signal: AbortSignal): Promise<Uint8Array> {
    return (await this.#reads.read(signal)) ?? new Uint8Array(0);
  }

  // The socket reads while the connection is idle (taking its last chunk started it again), so a
  // FIN or a reset has already come as 'end' or 'error' by the time anyone asks.
  closedByPeer(): boolean {
    return this.#reads.ready();
  }

  close(): void {
    this.#socket.destroy();
  }
}
