// The client side of c10k: N connections from one process, on the shared loop, each one a small
// state machine that readiness callbacks move along. main.ts runs it once and prints what it saw;
// bench.ts runs it against each server and keeps the connections busy for a while.
//
//   const crowd = new Crowd(loop, ["127.0.0.1", 8080], request, { timeoutMs: 10_000 });
//   await crowd.open(10_000);   // non-blocking connects, at most `window` under way at once
//   await crowd.requestAll();   // one request on each, every reply read
//   await crowd.load(5000);     // (bench) each connection asks again as soon as it is answered
//   await crowd.load(5000, 1000); // (bench) or all of them together 1,000 times a second
//   crowd.closeAll();
//
// Nothing is lost: each connection ends with one outcome (its first request replied, refused,
// reset, timed out, closed by the server, a bad reply, or never opened because a limit was hit),
// and the outcomes add up to the number asked for.
import { constants } from "node:os";
import {
  BlockingIOError,
  ConnectionAbortedError,
  ConnectionRefusedError,
  ConnectionResetError,
  BrokenPipeError,
  SO_ERROR,
  SOL_SOCKET,
  Socket,
  TimeoutError,
  osError,
  type Address,
} from "@async-from-scratch/native";
import { NEED_DATA, PAUSED, ProtocolError, ResponseParser } from "@async-from-scratch/shared";
import type { EventLoop, TimerHandle } from "@async-from-scratch/shared/loop";

/** How a connection ended up: the outcome of its first request. */
export const OUTCOMES = [
  "replied",
  "refused",
  "reset",
  "timed out",
  "closed by the server",
  "bad reply",
] as const;
/** Or, when a limit stopped the opening (select's FD_SETSIZE), why it never made a request. */
export const CUT_SHORT = ["opened, never asked", "never opened"] as const;
export type Outcome = (typeof OUTCOMES)[number] | (typeof CUT_SHORT)[number] | `error ${string}`;

// Peer.state
const CONNECTING = 1;
const IDLE = 2; // connected, no request outstanding
const WAITING = 3; // a request sent, its reply not read yet
const CLOSED = 4;

// Replies here are a few hundred bytes; this is a cap, not an allocation.
const RECV_SIZE = 16 * 1024;
// How often the timeouts of connects and replies under way are checked.
const SWEEP_MS = 100;

/** One connection. */
class Peer {
  readonly crowd: Crowd;
  sock: Socket | null = null;
  parser: ResponseParser | null = null;
  state = CONNECTING;
  outcome: Outcome | null = null;
  since = 0; // when the current connect or request began (or was due), for its timeout
  unsent: Uint8Array | null = null; // the part of a request the kernel did not take yet

  constructor(crowd: Crowd) {
    this.crowd = crowd;
  }
}

export interface CrowdOptions {
  /** How long a connect, or a reply, may take; default 10,000 ms. */
  timeoutMs?: number;
  /** Connects under way at once; default WINDOW. */
  window?: number;
  /** Keep every reply's latency in `latencies` (bench:search-server's percentiles). */
  recordLatency?: boolean;
}

/** The bytes of one request: always the same, or made anew for each (a different query each). */
export type Requests = Uint8Array | (() => Uint8Array);

/**
 * How many connects may be under way at once. Ten thousand handshakes at once could find the
 * server's accept queue (its listen backlog, at most net.core.somaxconn) full, and a SYN that
 * finds it full is dropped and sent again only a second later: a window lets the server keep up.
 */
export const WINDOW = 1000;

export class Crowd {
  readonly loop: EventLoop;
  readonly address: Address;
  readonly request: Requests;
  readonly peers: Peer[] = [];
  /** Connections open now, and at most at once. */
  openNow = 0;
  peakOpen = 0;
  /** Replies read, over every request. */
  replies = 0;
  /** With recordLatency: ms from each request's send (or, in a paced load, its due time) to its reply. */
  readonly latencies: number[] = [];
  /** The first error that stopped the opening (select's FD_SETSIZE, EMFILE), if any. */
  limit: Error | null = null;
  readonly #timeoutMs: number;
  readonly #window: number;
  readonly #recordLatency: boolean;
  #connecting = 0;
  #waiting = 0;
  #toOpen = 0;
  #loading = false;
  #intervalMs = 0; // in a paced load: the time between two requests on one connection
  #done: (() => void) | null = null;
  #sweep: TimerHandle | null = null;

  constructor(loop: EventLoop, address: Address, request: Requests, options: CrowdOptions = {}) {
    this.loop = loop;
    this.address = address;
    this.request = request;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#window = options.window ?? WINDOW;
    this.#recordLatency = options.recordLatency ?? false;
  }

  static #onConnected = (peer: Peer) => peer.crowd.#connected(peer);
  static #onReadable = (peer: Peer) => peer.crowd.#read(peer);
  static #onWritable = (peer: Peer) => peer.crowd.#sendRest(peer);
  static #onSweep = (crowd: Crowd) => crowd.#expire();
  static #onDue = (peer: Peer) => peer.crowd.#due(peer);

  /** Opens count connections; resolves when every connect has ended, well or not. */
  open(count: number): Promise<void> {
    this.#toOpen = count;
    return this.#phase(() => this.#connectMore());
  }

  /** Sends one request on every open connection; resolves when each is answered or has failed. */
  requestAll(): Promise<void> {
    return this.#phase(() => {
      for (const peer of this.peers) if (peer.state === IDLE) this.#ask(peer);
    });
  }

  /**
   * For durationMs, each open connection sends its next request as soon as the last one is
   * answered (keep-alive, one request in flight per connection); then waits for the last replies.
   * Resolves with the replies that arrived within durationMs.
   *
   * With a rate, the connections instead take turns to send `rate` requests a second between
   * them, each on a schedule of its own (connection k of n first at k / rate s, then every
   * n / rate s), whether or not the server keeps up: an open load, as wrk2 makes it. A request
   * whose turn comes while its connection still waits for the last reply goes as soon as that
   * reply is read, and its latency counts from its turn, so a slow server cannot hide its queue
   * by slowing the client down ("coordinated omission").
   */
  async load(durationMs: number, rate?: number): Promise<number> {
    const before = this.replies;
    let within = 0;
    this.#loading = true;
    const end = this.loop.callLater(durationMs, () => {
      this.#loading = false;
      within = this.replies - before;
    });
    if (rate === undefined) await this.requestAll();
    else await this.#phase(() => this.#pace(rate));
    end.cancel();
    this.#loading = false;
    this.#intervalMs = 0;
    return within || this.replies - before;
  }

  /** Closes every connection still open. */
  closeAll(): void {
    for (const peer of this.peers) this.#close(peer);
  }

  /** How many connections ended each way; the counts add up to the number asked for. */
  outcomes(): Map<Outcome, number> {
    const counts = new Map<Outcome, number>(OUTCOMES.map((outcome) => [outcome, 0]));
    const add = (outcome: Outcome, count: number) =>
      count > 0 && counts.set(outcome, (counts.get(outcome) ?? 0) + count);
    for (const peer of this.peers) add(peer.outcome ?? "opened, never asked", 1);
    add("never opened", this.#toOpen - this.peers.length);
    return counts;
  }

  // A phase ends when nothing is under way: no connect, no request waiting for its reply.
  #phase(start: () => void): Promise<void> {
    return new Promise((resolve) => {
      this.#done = resolve;
      this.#sweep = this.loop.callLater(SWEEP_MS, Crowd.#onSweep, this);
      start();
      this.#checkDone();
    });
  }

  #checkDone(): void {
    if (this.#connecting > 0 || this.#waiting > 0) return;
    if (this.peers.length < this.#toOpen && this.limit === null) return;
    this.#sweep?.cancel();
    this.#sweep = null;
    const done = this.#done;
    this.#done = null;
    done?.();
  }

  // ---- connecting ---------------------------------------------------------------------------

  #connectMore(): void {
    while (this.#connecting < this.#window && this.peers.length < this.#toOpen) {
      if (this.limit !== null) return;
      const peer = new Peer(this);
      let sock: Socket;
      try {
        sock = new Socket();
      } catch (error) {
        // Out of fds (EMFILE, ENFILE): the rest would fail the same way; stop here.
        this.limit = error as Error;
        return;
      }
      this.peers.push(peer);
      peer.sock = sock;
      peer.since = this.loop.time();
      try {
        sock.setBlocking(false);
        // The selector first, so that select's FD_SETSIZE stops us before a connection is made.
        this.loop.addReader(sock, Crowd.#onReadable, peer);
      } catch (error) {
        this.peers.pop();
        sock.close();
        this.limit = error as Error;
        return;
      }
      this.#connecting++;
      try {
        sock.connect(this.address);
        this.#connected(peer); // on loopback a connect can finish at once
      } catch (error) {
        // The usual case: the handshake goes on in the kernel, and the socket turns writable
        // when it ends, well or not.
        if (error instanceof BlockingIOError) this.loop.addWriter(sock, Crowd.#onConnected, peer);
        else this.#fail(peer, error);
      }
    }
  }

  #connected(peer: Peer): void {
    if (peer.state !== CONNECTING) return;
    const sock = peer.sock!;
    this.loop.removeWriter(sock);
    const errno = sock.getsockopt(SOL_SOCKET, SO_ERROR);
    if (errno !== 0) return this.#fail(peer, osError(errno, "connect", this.address.join(":")));
    peer.state = IDLE;
    this.#connecting--;
    this.openNow++;
    if (this.openNow > this.peakOpen) this.peakOpen = this.openNow;
    this.#connectMore();
    this.#checkDone();
  }

  // ---- asking and reading -------------------------------------------------------------------

  #ask(peer: Peer): void {
    peer.state = WAITING;
    peer.since = this.loop.time();
    this.#waiting++;
    this.#send(peer, this.#nextRequest());
  }

  #nextRequest(): Uint8Array {
    return typeof this.request === "function" ? this.request() : this.request;
  }

  // A paced load: each idle connection waits for its first turn. It counts as waiting from now
  // on, so that the phase lasts until the last turn's reply.
  #pace(rate: number): void {
    const idle = this.peers.filter((peer) => peer.state === IDLE);
    this.#intervalMs = (idle.length * 1000) / rate;
    const now = this.loop.time();
    idle.forEach((peer, k) => {
      peer.state = WAITING;
      this.#waiting++;
      this.#schedule(peer, now + (k * 1000) / rate);
    });
  }

  #schedule(peer: Peer, due: number): void {
    peer.since = due;
    const wait = due - this.loop.time();
    if (wait <= 0) this.#send(peer, this.#nextRequest());
    else this.loop.callLater(wait, Crowd.#onDue, peer);
  }

  #due(peer: Peer): void {
    if (peer.state !== WAITING) return; // failed, or closed, while it waited for its turn
    if (this.#loading) return this.#send(peer, this.#nextRequest());
    peer.state = IDLE; // the load ended first: this turn never comes
    this.#waiting--;
    this.#checkDone();
  }

  #send(peer: Peer, bytes: Uint8Array): void {
    let sent = 0;
    try {
      sent = peer.sock!.send(bytes);
    } catch (error) {
      if (!(error instanceof BlockingIOError)) return this.#fail(peer, error);
    }
    if (sent === bytes.length) return;
    peer.unsent = bytes.subarray(sent);
    this.loop.addWriter(peer.sock!, Crowd.#onWritable, peer);
  }

  #sendRest(peer: Peer): void {
    const bytes = peer.unsent!;
    peer.unsent = null;
    this.loop.removeWriter(peer.sock!);
    this.#send(peer, bytes);
  }

  #read(peer: Peer): void {
    let chunk: Buffer;
    try {
      chunk = peer.sock!.recv(RECV_SIZE);
    } catch (error) {
      if (error instanceof BlockingIOError) return;
      return this.#fail(peer, error);
    }
    if (chunk.length === 0 && peer.state !== WAITING) {
      // The server closed a connection we were not using (its idle timeout, its shutdown).
      peer.outcome ??= "closed by the server";
      return this.#close(peer);
    }
    const parser = (peer.parser ??= new ResponseParser());
    parser.receiveData(chunk);
    try {
      for (;;) {
        const event = parser.nextEvent();
        if (event === NEED_DATA) return;
        if (event === PAUSED) {
          // A reply that said Connection: close, or a server that closed while we waited.
          if (parser.mustClose) return this.#fail(peer, null);
          return;
        }
        if (event.type === "end") return this.#replied(peer);
      }
    } catch (error) {
      this.#fail(peer, error);
    }
  }

  #replied(peer: Peer): void {
    const parser = peer.parser!;
    this.replies++;
    if (this.#recordLatency) this.latencies.push(this.loop.time() - peer.since);
    peer.outcome ??= "replied";
    if (parser.mustClose) {
      this.#waiting--;
      peer.state = IDLE; // answered, so not a failure; but the server will close it
      this.#close(peer);
      return this.#checkDone();
    }
    parser.startNextCycle();
    if (this.#loading && this.#intervalMs > 0)
      return this.#schedule(peer, peer.since + this.#intervalMs);
    if (this.#loading) {
      peer.since = this.loop.time();
      return this.#send(peer, this.#nextRequest());
    }
    peer.state = IDLE;
    this.#waiting--;
    this.#checkDone();
  }

  // ---- failing, timing out, closing ---------------------------------------------------------

  /** The connection failed (error null: the server closed it before its reply was whole). */
  #fail(peer: Peer, error: unknown): void {
    peer.outcome ??= outcomeOf(error);
    const { state } = peer;
    this.#close(peer);
    if (state === CONNECTING) {
      this.#connecting--;
      this.#connectMore();
    }
    if (state === WAITING) this.#waiting--;
    this.#checkDone();
  }

  #close(peer: Peer): void {
    if (peer.state === CLOSED || peer.sock === null) return;
    if (peer.state !== CONNECTING) this.openNow--;
    this.loop.removeReader(peer.sock);
    this.loop.removeWriter(peer.sock);
    peer.sock.close();
    peer.state = CLOSED;
    peer.parser = null;
  }

  #expire(): void {
    this.#sweep = null;
    const late = this.loop.time() - this.#timeoutMs;
    for (const peer of this.peers) {
      if ((peer.state === CONNECTING || peer.state === WAITING) && peer.since < late) {
        this.#fail(peer, osError(constants.errno.ETIMEDOUT, "timeout", `${this.#timeoutMs} ms`));
      }
    }
    if (this.#done !== null) this.#sweep = this.loop.callLater(SWEEP_MS, Crowd.#onSweep, this);
  }
}

/** Which outcome an error means. */
function outcomeOf(error: unknown): Outcome {
  if (error === null) return "closed by the server";
  if (error instanceof ConnectionRefusedError) return "refused";
  if (
    error instanceof ConnectionResetError ||
    error instanceof BrokenPipeError ||
    error instanceof ConnectionAbortedError
  ) {
    return "reset";
  }
  if (error instanceof TimeoutError) return "timed out";
  if (error instanceof ProtocolError) {
    return /closed before|closed after|closed in the middle/.test(error.message)
      ? "closed by the server"
      : "bad reply";
  }
  const code = (error as { code?: string })?.code;
  return `error ${code ?? String(error)}`;
}

/** The ways some connections ended, in words: "100 refused, 2 reset" (none for a count of 0). */
export function outcomesInWords(outcomes: Iterable<[Outcome, number]>): string {
  return [...outcomes]
    .filter(([, count]) => count > 0)
    .map(([outcome, count]) => `${count} ${outcome}`)
    .join(", ");
}
