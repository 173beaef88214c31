// The production event loop: lesson 6_async_await's loop, grown up for the tools (the c10k server,
// the crawler, the search server), which share this one module instead of each writing its own.
//
// Theory of operation
//
// One thread, one selector (DefaultSelector: epoll on Linux), and three kinds of work, as in
// CPython's asyncio (base_events.py, `_run_once`) and libuv (`uv_run` in src/unix/core.c):
//   ready     callbacks to run in this round (callSoon, and those of fds and timers that came due)
//   timers    a heap of callbacks due at a time (callLater); the nearest one bounds the wait
//   watchers  for each fd, the callback for "readable" and the one for "writable" (addReader)
// One round: tell the selector what changed, sleep in select() until an fd is ready or the nearest
// timer is due (not at all if callbacks are waiting), put the callbacks of the ready fds and of the
// due timers on the ready list, and run the callbacks that list held when the round began. Those
// a callback adds wait for the next round, so one busy connection cannot starve the others.
//
// Each round is one setImmediate() callback of Node's own loop, and that is how `await` works
// here. A promise's continuation is a microtask, and Node runs the microtask queue, to the end,
// between two such callbacks: every coroutine our callbacks woke runs up to its next `await` before
// the next round's select(). (Lesson 6 shows what goes wrong when a loop forgets this.) When
// nothing is ready, no timer is set and no fd is watched, the loop schedules no round: it waits for
// Node's loop, whose promises (a file read, a worker's exit) may give it work again.
//
// What it adds to lesson 6, and why:
//   - timers in a heap, cancelled lazily, as asyncio keeps them: the crawler's per-request
//     timeouts and Retry-After delays, the server's idle timeouts (lesson 6 kept a short list);
//   - callbacks with an argument (asyncio's add_reader(fd, callback, *args)), so a server passes
//     one shared function and each connection's object instead of a closure per connection;
//   - persistent fd watchers (addReader/addWriter), so a server keeps one registration per
//     connection instead of one per wait; removals reach the kernel at the next round, so a
//     socket that is read, then waited on again, costs no epoll_ctl at all (libuv batches the
//     same way);
//   - cancellation and timeouts through AbortSignal, the JavaScript way to say "stop": every wait
//     takes one, and withTimeout() aborts one from a loop timer. A signal has one 'abort'
//     listener of the loop's however many waits it can cancel (see Waits, below);
//   - the sock* coroutines (connect, recv, sendAll, accept), as asyncio's loop.sock_* are;
//   - signals (SIGINT, SIGTERM) through a self-pipe, and a wake-up fd for other threads
//     (waker.ts), since Node's own handlers and message events cannot run while we sleep.
//
// Node's own timers, sockets and message events still work, but only between rounds: while the
// loop sleeps in select(), Node's loop is not running. Use this loop's timers and sockets.
import { constants } from "node:os";
import {
  BlockingIOError,
  DefaultSelector,
  EVENT_READ,
  EVENT_WRITE,
  SOL_SOCKET,
  SO_ERROR,
  type Address,
  type BaseSelector,
  type FileObject,
  type Socket,
  osError,
  unwatchSignals,
  watchSignals,
  read,
} from "@async-from-scratch/native";
import { hostPort } from "../http.ts";

type Callback = () => void;
// A callback with the one argument it was scheduled with (asyncio's `add_reader(fd, cb, *args)`):
// a server with 10,000 connections passes each one's object to a shared method, instead of
// allocating a closure per connection for every watcher and timer.
type CallbackOf<T> = (arg: T) => void;

/** A callback scheduled with callSoon (or an fd's callback): cancel() keeps it from running. */
export class Handle {
  #callback: CallbackOf<never> | null;
  #arg: unknown;

  constructor(callback: Callback);
  constructor(callback: CallbackOf<never>, arg: unknown);
  constructor(callback: CallbackOf<never>, arg?: unknown) {
    this.#callback = callback;
    this.#arg = arg;
  }

  get cancelled(): boolean {
    return this.#callback === null;
  }

  cancel(): void {
    this.#callback = null;
    this.#arg = undefined; // let go of the connection it was for
  }

  /** Runs the callback (with its argument), unless it was cancelled. */
  run(): void {
    this.#callback?.(this.#arg as never);
  }
}

/** A callback scheduled with callLater, due at `when` (the loop's clock, in milliseconds). */
export class TimerHandle extends Handle {
  readonly when: number;
  readonly sequence: number; // timers due at the same time run in the order they were set
  readonly #onCancel: () => void;

  constructor(
    callback: CallbackOf<never>,
    arg: unknown,
    when: number,
    sequence: number,
    onCancel: () => void,
  ) {
    super(callback, arg);
    this.when = when;
    this.sequence = sequence;
    this.#onCancel = onCancel;
  }

  /** In the loop's heap still: neither due yet nor cancelled (asyncio's `_scheduled`). */
  scheduled = true;

  override cancel(): void {
    if (this.cancelled) return;
    super.cancel();
    // Counted only while it is in the heap: cancelling one that ran (or is about to) leaves
    // nothing behind there.
    if (this.scheduled) this.#onCancel();
  }
}

/** What a cancelled wait rejects with, unless the AbortSignal carries a reason of its own. */
export class CancelledError extends Error {
  override name = "CancelledError";
}

/** The per-fd state: the callbacks, and which events the selector has been told about. */
interface Watcher {
  fileobj: FileObject;
  fd: number;
  reader: Handle | null;
  writer: Handle | null;
  registered: number; // EVENT_READ | EVENT_WRITE, as the selector knows it now
}

// Timers a few microseconds short of their time run now rather than cost one more wait: the
// selector's timeout is in whole milliseconds, rounded up, and the clock is not exact either.
const CLOCK_RESOLUTION_MS = 0.05;
// A heap of mostly cancelled timers is rebuilt, as asyncio does, so that a server that arms and
// cancels an idle timeout per request does not keep every dead timer until it would have fired.
const MIN_CANCELLED_TO_REBUILD = 100;

export class EventLoop {
  readonly selector: BaseSelector;
  #ready: Handle[] = [];
  #timers: TimerHandle[] = []; // a binary heap, earliest first
  #cancelledTimers = 0;
  #timerSequence = 0;
  #watchers = new Map<number, Watcher>();
  #changed = new Set<Watcher>(); // watchers whose callbacks changed since the last select()
  #watching = 0; // watchers with a reader or a writer
  #running: { fail: (error: unknown) => void } | null = null;
  #roundScheduled = false;
  #signals: { pipe: number; handlers: Map<number, Callback> } | null = null;

  /** The selector decides which system call waits: DefaultSelector unless told otherwise. */
  constructor(selector: BaseSelector = new DefaultSelector()) {
    this.selector = selector;
  }

  /** The loop's clock: milliseconds, monotonic (it never jumps back when the wall clock is set). */
  time(): number {
    return performance.now();
  }

  /** Run callback (with arg, if given) in the next round, after the callbacks already waiting. */
  callSoon(callback: Callback): Handle;
  callSoon<T>(callback: CallbackOf<T>, arg: T): Handle;
  callSoon<T>(callback: CallbackOf<T>, arg?: T): Handle {
    const handle = new Handle(callback as CallbackOf<never>, arg);
    this.#ready.push(handle);
    this.#wake();
    return handle;
  }

  /** Run callback (with arg, if given) once delayMs have passed (at the earliest). */
  callLater(delayMs: number, callback: Callback): TimerHandle;
  callLater<T>(delayMs: number, callback: CallbackOf<T>, arg: T): TimerHandle;
  callLater<T>(delayMs: number, callback: CallbackOf<T>, arg?: T): TimerHandle {
    if (typeof delayMs !== "number" || Number.isNaN(delayMs)) {
      throw new TypeError(`delayMs must be a number, got ${String(delayMs)}`);
    }
    const timer = new TimerHandle(
      callback as CallbackOf<never>,
      arg,
      this.time() + Math.max(0, delayMs),
      this.#timerSequence++,
      this.#timerCancelled,
    );
    heapPush(this.#timers, timer);
    this.#wake();
    return timer;
  }

  /**
   * Call callback (with arg, if given) whenever fileobj is readable, until removeReader. One
   * reader per fd.
   */
  addReader(fileobj: FileObject, callback: Callback): void;
  addReader<T>(fileobj: FileObject, callback: CallbackOf<T>, arg: T): void;
  addReader<T>(fileobj: FileObject, callback: CallbackOf<T>, arg?: T): void {
    this.#watch(fileobj, EVENT_READ, callback as CallbackOf<never>, arg);
  }

  /** Stop watching fileobj for reading; true if it was watched. */
  removeReader(fileobj: FileObject): boolean {
    return this.#unwatch(fileobj, EVENT_READ);
  }

  /** Call callback (with arg, if given) whenever fileobj is writable, until removeWriter. */
  addWriter(fileobj: FileObject, callback: Callback): void;
  addWriter<T>(fileobj: FileObject, callback: CallbackOf<T>, arg: T): void;
  addWriter<T>(fileobj: FileObject, callback: CallbackOf<T>, arg?: T): void {
    this.#watch(fileobj, EVENT_WRITE, callback as CallbackOf<never>, arg);
  }

  removeWriter(fileobj: FileObject): boolean {
    return this.#unwatch(fileobj, EVENT_WRITE);
  }

  /**
   * Resolves once fileobj is readable (data, end of file, or an error for recv to raise); rejects
   * with signal's reason if it is aborted first.
   */
  readable(fileobj: FileObject, signal?: AbortSignal): Promise<void> {
    return this.#ready1(fileobj, EVENT_READ, signal);
  }

  /** Resolves once fileobj is writable (or has an error for send to raise). */
  writable(fileobj: FileObject, signal?: AbortSignal): Promise<void> {
    return this.#ready1(fileobj, EVENT_WRITE, signal);
  }

  /** Resolves after ms milliseconds; rejects if signal is aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal));
      const waits = signal === undefined ? null : Waits.of(signal);
      const timer = this.callLater(ms, () => {
        waits?.leave(onAbort);
        resolve();
      });
      const onAbort = (reason: unknown) => {
        timer.cancel();
        reject(reason);
      };
      waits?.join(onAbort);
    });
  }

  /**
   * Runs work with a signal that aborts after ms milliseconds with a TimeoutError (ETIMEDOUT), or
   * as soon as `parent` aborts. Whatever work waits on with that signal rejects then. Once work
   * has settled, the signal never aborts: its timer is cancelled, and parent forgets it.
   */
  async withTimeout<T>(
    ms: number,
    work: (signal: AbortSignal) => Promise<T>,
    parent?: AbortSignal,
  ): Promise<T> {
    const controller = new AbortController();
    // The signal is the loop's own: nobody else can abort it, so its waits need no listener.
    const waits = Waits.own(controller.signal);
    const abort = (reason: unknown) => {
      if (controller.signal.aborted) return;
      controller.abort(reason); // for listeners of work's own, if it added any
      waits.cancel(reason);
    };
    const timer = this.callLater(ms, () =>
      abort(osError(constants.errno.ETIMEDOUT, "timeout", `${ms} ms`)),
    );
    const parentWaits = parent === undefined ? null : Waits.of(parent);
    if (parent?.aborted) abort(abortReason(parent));
    else parentWaits?.join(abort);
    try {
      return await work(controller.signal);
    } finally {
      timer.cancel();
      parentWaits?.leave(abort);
    }
  }

  // ---- sockets, as asyncio's loop.sock_* coroutines: the sock must be non-blocking ---------------

  /** Connects a non-blocking socket: starts the handshake, waits until it ends, raises its error. */
  async connect(sock: Socket, address: Address, signal?: AbortSignal): Promise<void> {
    try {
      sock.connect(address);
      return;
    } catch (error) {
      if (!(error instanceof BlockingIOError)) throw error;
    }
    // The handshake goes on in the kernel; the socket turns writable when it ends, well or not.
    await this.writable(sock, signal);
    const errno = sock.getsockopt(SOL_SOCKET, SO_ERROR);
    if (errno !== 0) throw osError(errno, "connect", hostPort(...address));
  }

  /** Up to size bytes, waiting until some arrive; empty at end of file. */
  async recv(sock: Socket, size: number, signal?: AbortSignal): Promise<Buffer> {
    for (;;) {
      try {
        return sock.recv(size);
      } catch (error) {
        if (!(error instanceof BlockingIOError)) throw error;
      }
      // Readiness is a hint: another reader may have taken the data, so loop and try again.
      await this.readable(sock, signal);
    }
  }

  /** Sends all of data, waiting for room in the socket's buffer whenever it is full. */
  async sendAll(sock: Socket, data: Uint8Array, signal?: AbortSignal): Promise<void> {
    let sent = 0;
    while (sent < data.length) {
      try {
        sent += sock.send(data.subarray(sent));
        continue;
      } catch (error) {
        if (!(error instanceof BlockingIOError)) throw error;
      }
      await this.writable(sock, signal);
    }
  }

  // ---- signals ----------------------------------------------------------------------------------

  /**
   * Call callback (in a round of this loop, not inside the signal handler) each time the process
   * gets signal. Node's own process.on(signal) handlers cannot run while the loop sleeps in
   * select(); this is asyncio's add_signal_handler, over the native module's self-pipe.
   */
  addSignalHandler(signal: number, callback: Callback): void {
    const handlers = new Map(this.#signals?.handlers ?? []);
    handlers.set(signal, callback);
    this.#setSignals(handlers);
  }

  removeSignalHandler(signal: number): boolean {
    if (!this.#signals?.handlers.has(signal)) return false;
    const handlers = new Map(this.#signals.handlers);
    handlers.delete(signal);
    this.#setSignals(handlers);
    return true;
  }

  // ---- running ----------------------------------------------------------------------------------

  /**
   * Runs the loop until main settles, and settles with it. An exception thrown by a callback
   * stops the loop and rejects this promise too: a bug is loud, never lost.
   */
  run<T>(main: Promise<T>): Promise<T> {
    if (this.#running !== null) throw new Error("this loop is already running");
    return new Promise<T>((resolve, reject) => {
      // The first outcome wins: main's, or a callback's exception.
      const running = {
        fail: (error: unknown) => {
          if (this.#running !== running) return;
          this.#running = null;
          reject(error);
        },
      };
      this.#running = running;
      main.then((value) => {
        if (this.#running !== running) return;
        this.#running = null;
        resolve(value);
      }, running.fail);
      this.#wake();
    });
  }

  /** Forgets every callback and closes the selector (and the signal pipe). Not while running. */
  close(): void {
    if (this.#running !== null) throw new Error("close() of a running loop");
    this.#setSignals(new Map());
    for (const handle of this.#ready) handle.cancel();
    this.#ready = [];
    for (const timer of this.#timers) timer.scheduled = false;
    this.#timers = [];
    this.#cancelledTimers = 0;
    this.#watchers.clear();
    this.#changed.clear();
    this.#watching = 0;
    this.selector.close();
  }

  /** How many fds have a reader or a writer: for tests and accounting. */
  get watching(): number {
    return this.#watching;
  }

  /** How many timers are set and neither run nor cancelled: for tests and accounting. */
  get timers(): number {
    return this.#timers.length - this.#cancelledTimers;
  }

  // One round, from a setImmediate callback: Node runs every microtask before the next.
  #round = (): void => {
    this.#roundScheduled = false;
    if (this.#running === null) return;
    try {
      this.#runOnce();
    } catch (error) {
      this.#running.fail(error);
      return;
    }
    if (this.#busy()) this.#scheduleRound();
  };

  #runOnce(): void {
    this.#applyChanges();
    let timeoutMs: number | null = null; // null: no timer, so wait until an fd is ready
    if (this.#ready.length > 0) timeoutMs = 0;
    else if (this.#timers.length > 0) timeoutMs = Math.max(0, this.#timers[0]!.when - this.time());
    else if (this.#watching === 0) return; // nothing to wait for: a wait would never end
    // With no fd watched and callbacks ready, there is nothing to ask the kernel.
    if (this.#watching > 0 || timeoutMs !== 0) {
      const ready = this.selector.select(timeoutMs === null ? null : timeoutMs / 1000);
      for (const [key, events] of ready) {
        const watcher = key.data as Watcher;
        if (events & EVENT_READ && watcher.reader !== null) this.#ready.push(watcher.reader);
        if (events & EVENT_WRITE && watcher.writer !== null) this.#ready.push(watcher.writer);
      }
    }
    const due = this.time() + CLOCK_RESOLUTION_MS;
    while (this.#timers.length > 0 && this.#timers[0]!.when <= due) {
      const timer = heapPop(this.#timers)!;
      timer.scheduled = false;
      if (timer.cancelled) this.#cancelledTimers--;
      else this.#ready.push(timer);
    }
    // Only what is ready now: callbacks added by these run in the next round.
    const running = this.#ready;
    this.#ready = [];
    for (const handle of running) handle.run();
  }

  #busy(): boolean {
    return this.#ready.length > 0 || this.#timers.length > 0 || this.#watching > 0;
  }

  #wake(): void {
    if (this.#running !== null) this.#scheduleRound();
  }

  #scheduleRound(): void {
    if (this.#roundScheduled) return;
    this.#roundScheduled = true;
    setImmediate(this.#round);
  }

  #timerCancelled = (): void => {
    this.#cancelledTimers++;
    if (
      this.#cancelledTimers >= MIN_CANCELLED_TO_REBUILD &&
      this.#cancelledTimers * 2 > this.#timers.length
    ) {
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      heapify(this.#timers);
      this.#cancelledTimers = 0;
    }
  };

  #watch(fileobj: FileObject, event: number, callback: CallbackOf<never>, arg: unknown): void {
    const fd = fdOf(fileobj);
    let watcher = this.#watchers.get(fd);
    if (watcher !== undefined && watcher.fileobj !== fileobj) {
      // A new object on an fd number that a closed one had: the kernel forgot the old one when it
      // was closed, so whatever we remember about it is stale.
      this.#forget(watcher);
      watcher = undefined;
    }
    if (watcher === undefined) {
      watcher = { fileobj, fd, reader: null, writer: null, registered: 0 };
      this.#watchers.set(fd, watcher);
    }
    const slot = event === EVENT_READ ? "reader" : "writer";
    const wasIdle = watcher.reader === null && watcher.writer === null;
    const previous = watcher[slot];
    watcher[slot] = new Handle(callback, arg);
    // Added interest reaches the kernel now, so a closed or bad fd (or one that select() cannot
    // take) fails here, in the caller, and leaves the loop as it was.
    try {
      this.#apply(watcher);
    } catch (error) {
      watcher[slot] = previous;
      // A refused change may have cost the fd its registration (the selector drops it then).
      if (!this.selector.getMap().has(fd)) watcher.registered = 0;
      if (wasIdle && watcher.registered === 0) this.#watchers.delete(fd);
      else this.#changed.add(watcher); // brought in line with its callbacks at the next round
      throw error;
    }
    previous?.cancel();
    if (wasIdle) this.#watching++;
    this.#wake();
  }

  #unwatch(fileobj: FileObject, event: number): boolean {
    const watcher = this.#find(fileobj);
    const slot = event === EVENT_READ ? "reader" : "writer";
    if (watcher === undefined || watcher[slot] === null) return false;
    watcher[slot]!.cancel(); // it may be on the ready list of this very round
    watcher[slot] = null;
    if (watcher.reader === null && watcher.writer === null) this.#watching--;
    // A raw fd number may be closed and reused before the next round, with no object to tell
    // the two apart, so only objects get the lazy removal.
    if (typeof fileobj === "number") this.#apply(watcher);
    else this.#changed.add(watcher);
    return true;
  }

  #find(fileobj: FileObject): Watcher | undefined {
    const fd = typeof fileobj === "number" ? fileobj : fileobj.fileno();
    const watcher = fd >= 0 ? this.#watchers.get(fd) : undefined;
    if (watcher !== undefined) return watcher;
    // A socket closed before it was unwatched says -1; find it by the object.
    for (const candidate of this.#watchers.values()) {
      if (candidate.fileobj === fileobj) return candidate;
    }
    return undefined;
  }

  #applyChanges(): void {
    for (const watcher of this.#changed) this.#apply(watcher);
    this.#changed.clear();
  }

  // Brings the selector in line with the watcher's callbacks.
  #apply(watcher: Watcher): void {
    this.#changed.delete(watcher);
    const wanted = (watcher.reader ? EVENT_READ : 0) | (watcher.writer ? EVENT_WRITE : 0);
    if (wanted === watcher.registered) return;
    if (wanted === 0) return this.#forget(watcher);
    if (watcher.registered === 0) this.selector.register(watcher.fd, wanted, watcher);
    else this.selector.modify(watcher.fd, wanted, watcher);
    watcher.registered = wanted;
  }

  #forget(watcher: Watcher): void {
    if (watcher.registered !== 0) {
      try {
        this.selector.unregister(watcher.fd);
      } catch {
        // Already gone: the fd was closed, and the kernel dropped it then.
      }
    }
    watcher.registered = 0;
    this.#changed.delete(watcher);
    if (this.#watchers.get(watcher.fd) === watcher) this.#watchers.delete(watcher.fd);
    if (watcher.reader !== null || watcher.writer !== null) this.#watching--;
    watcher.reader?.cancel();
    watcher.writer?.cancel();
    watcher.reader = watcher.writer = null;
  }

  // One wait for one event: watch, and on the first wake-up stop watching and resolve.
  #ready1(fileobj: FileObject, event: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortReason(signal));
      const slot = event === EVENT_READ ? "reader" : "writer";
      if (this.#find(fileobj)?.[slot]) {
        // A second waiter would replace the first, whose promise would then never settle.
        throw new Error(`fd ${fdOf(fileobj)} already has a ${slot}: one wait at a time`);
      }
      const waits = signal === undefined ? null : Waits.of(signal);
      const stop = () =>
        event === EVENT_READ ? this.removeReader(fileobj) : this.removeWriter(fileobj);
      const onAbort = (reason: unknown) => {
        stop();
        reject(reason);
      };
      this.#watch(
        fileobj,
        event,
        () => {
          stop();
          waits?.leave(onAbort);
          resolve();
        },
        undefined,
      );
      waits?.join(onAbort);
    });
  }

  #setSignals(handlers: Map<number, Callback>): void {
    if (this.#signals !== null) {
      this.removeReader(this.#signals.pipe);
      unwatchSignals();
      this.#signals = null;
    }
    if (handlers.size === 0) return;
    const pipe = watchSignals([...handlers.keys()]);
    this.#signals = { pipe, handlers };
    this.addReader(pipe, () => {
      for (;;) {
        let bytes: Buffer;
        try {
          bytes = read(pipe, 64);
        } catch (error) {
          if (error instanceof BlockingIOError) return;
          throw error;
        }
        for (const signal of bytes) this.#signals?.handlers.get(signal)?.();
      }
    });
  }
}

function fdOf(fileobj: FileObject): number {
  const fd = typeof fileobj === "number" ? fileobj : fileobj?.fileno?.();
  if (!Number.isInteger(fd) || fd! < 0) {
    throw new TypeError(`expected an open fd or an object with fileno(), got ${String(fd)}`);
  }
  return fd!;
}

// ---- the waits a signal cancels -----------------------------------------------------------------
//
// Each wait (readable, writable, sleep, a withTimeout's parent) must end when its signal aborts.
// The plain way is an 'abort' listener per wait, added when it starts and removed when it ends.
// But Node's EventTarget makes each addEventListener and removeEventListener a small journey (an
// object per listener, options to read, a list to walk: about a microsecond the pair, and garbage),
// and a crawler waits thousands of times on the same signal: the crawl's own, under every fetch.
// So the loop keeps, per signal, the set of waits it can cancel, and gives the signal one listener
// that cancels them all; a wait joins the set and leaves it, which costs next to nothing. The
// listener is removed when the set empties: Node keeps a signal made by AbortSignal.any() or
// AbortSignal.timeout() alive while it has a listener, so one left behind would keep it for good.
//
// A signal of withTimeout()'s own needs no listener at all: nobody but the loop can abort it, so
// the loop cancels its waits itself when it aborts it (Waits.own).

type OnAbort = (reason: unknown) => void;

class Waits {
  static readonly #bySignal = new WeakMap<AbortSignal, Waits>();

  /** The waits of signal (a new, empty set the first time). */
  static of(signal: AbortSignal): Waits {
    let waits = Waits.#bySignal.get(signal);
    if (waits === undefined) {
      waits = new Waits(signal, true);
      Waits.#bySignal.set(signal, waits);
    }
    return waits;
  }

  /** The waits of a signal that only the caller aborts, and then calls cancel() itself. */
  static own(signal: AbortSignal): Waits {
    const waits = new Waits(signal, false);
    Waits.#bySignal.set(signal, waits);
    return waits;
  }

  readonly #signal: AbortSignal;
  readonly #listens: boolean;
  readonly #waits = new Set<OnAbort>();

  private constructor(signal: AbortSignal, listens: boolean) {
    this.#signal = signal;
    this.#listens = listens;
  }

  join(onAbort: OnAbort): void {
    this.#waits.add(onAbort);
    if (this.#listens && this.#waits.size === 1) {
      this.#signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  leave(onAbort: OnAbort): void {
    if (this.#waits.delete(onAbort) && this.#listens && this.#waits.size === 0) {
      this.#signal.removeEventListener("abort", this.#onAbort);
    }
  }

  /** Ends every wait with reason: each is called once, and leaves. */
  cancel(reason: unknown): void {
    const waits = [...this.#waits];
    this.#waits.clear();
    for (const onAbort of waits) onAbort(reason);
  }

  #onAbort = (): void => this.cancel(abortReason(this.#signal));
}

function abortReason(signal: AbortSignal): unknown {
  // An abort() without a reason gives a DOMException AbortError; say what it means here.
  const reason: unknown = signal.reason;
  return reason instanceof DOMException && reason.name === "AbortError"
    ? new CancelledError("cancelled")
    : reason;
}

// ---- a binary heap of timers, ordered by (when, sequence) ---------------------------------------

function earlier(a: TimerHandle, b: TimerHandle): boolean {
  return a.when < b.when || (a.when === b.when && a.sequence < b.sequence);
}

function heapPush(heap: TimerHandle[], timer: TimerHandle): void {
  heap.push(timer);
  let child = heap.length - 1;
  while (child > 0) {
    const parent = (child - 1) >> 1;
    if (!earlier(heap[child]!, heap[parent]!)) break;
    [heap[child], heap[parent]] = [heap[parent]!, heap[child]!];
    child = parent;
  }
}

function heapPop(heap: TimerHandle[]): TimerHandle | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length > 0 && last !== undefined) {
    heap[0] = last;
    siftDown(heap, 0);
  }
  return top;
}

function siftDown(heap: TimerHandle[], index: number): void {
  for (;;) {
    const left = 2 * index + 1;
    const right = left + 1;
    let smallest = index;
    if (left < heap.length && earlier(heap[left]!, heap[smallest]!)) smallest = left;
    if (right < heap.length && earlier(heap[right]!, heap[smallest]!)) smallest = right;
    if (smallest === index) return;
    [heap[index], heap[smallest]] = [heap[smallest]!, heap[index]!];
    index = smallest;
  }
}

function heapify(heap: TimerHandle[]): void {
  for (let index = (heap.length >> 1) - 1; index >= 0; index--) siftDown(heap, index);
}
