// Selectors shaped like Python's `selectors` module: ask the kernel to wake us when one of many
// fds is ready, instead of spinning on each.
//
//   const selector = new DefaultSelector();
//   selector.register(sock, EVENT_READ, data);   // "tell me when sock is readable"
//   for (const [key, events] of selector.select()) { ... key.data ... }
//
// Four backends, one interface; they differ in what each wait costs (lesson 3_selectors):
//   select  a bitmap of fds, at most FD_SETSIZE (1024), rebuilt and scanned on every call
//   poll    an array of fds, any number, still handed over and scanned on every call
//   epoll   (Linux) the kernel keeps the list; a wait costs only the fds that are ready
//   kqueue  (macOS, BSD) the same idea as epoll
// DefaultSelector is the best one this system has.
//
// Timeouts are seconds, as in Python: select() with none waits for ever, select(0) only looks.
//
// What every backend promises (libuv keeps the same promises):
//  - EINTR is retried inside the wait with the time that remains, never returned;
//  - an error or hang-up on an fd is reported as readiness, so the next recv/send raises the
//    real error instead of the wait hiding it;
//  - readiness is a hint: the recv or send that follows can still throw BlockingIOError;
//  - select() checks each result against the registrations when you reach it, so an fd that an
//    earlier callback of the same batch unregistered is skipped, not delivered.
//
// And Python's selectors' promises, where they can be seen: unregister() after close() still
// finds the key (by the object, since fileno() is -1 by then) and frees the fd number; a modify()
// the kernel refuses unregisters the fd before the error goes on (bpo-30014); getMap() and its
// keys cannot be changed. A selector closes with close() or at the end of a `using` block; an
// epoll or kqueue selector dropped open is closed when it is collected, with a ResourceWarning.
import { binding, epoll, kqueue } from "./binding.ts";
import { argumentTypeError, describe, typeError } from "./checks.ts";
import { closeWhenCollected, closedByOwner } from "./unclosed.ts";

export const EVENT_READ = 1;
export const EVENT_WRITE = 2;

/** An fd, or anything with a fileno() method, such as a Socket. */
export type FileObject = number | { fileno(): number };

export interface SelectorKey<T> {
  readonly fileobj: FileObject;
  readonly fd: number;
  readonly events: number;
  readonly data: T;
}

export type Ready<T> = [key: SelectorKey<T>, events: number];

function toFd(fn: string, fileobj: FileObject): number {
  const hasFileno = typeof (fileobj as { fileno?: unknown } | null)?.fileno === "function";
  const fd: unknown = hasFileno ? (fileobj as { fileno(): unknown }).fileno() : fileobj;
  if (!Number.isInteger(fd)) {
    throw hasFileno
      ? typeError(`${fn}(): fileobj.fileno() must return an integer, got ${describe(fd)}`)
      : argumentTypeError(fn, "fileobj", "an integer fd or an object with fileno()", fileobj);
  }
  if ((fd as number) < 0) {
    throw new RangeError(`invalid file descriptor ${fd} (is the socket closed?)`);
  }
  return fd as number;
}

// Python refuses anything but EVENT_READ, EVENT_WRITE or both, with TypeError for a value that is
// not an integer at all. A bit test alone would not do: `events & ~3` sees only the low 32 bits,
// so 2 ** 32 + 1 would pass as EVENT_READ.
function checkEvents(fn: string, events: number): void {
  if (!Number.isInteger(events)) {
    throw argumentTypeError(fn, "events", "an integer: EVENT_READ, EVENT_WRITE or both", events);
  }
  if (events !== EVENT_READ && events !== EVENT_WRITE && events !== (EVENT_READ | EVENT_WRITE)) {
    throw new RangeError(`invalid events: ${events} (use EVENT_READ, EVENT_WRITE or both)`);
  }
}

function toMilliseconds(timeout: number | null | undefined): number {
  if (timeout === null || timeout === undefined) return -1;
  if (typeof timeout !== "number" || Number.isNaN(timeout)) {
    throw new TypeError(`timeout must be a number of seconds or null, got ${String(timeout)}`);
  }
  // Round up, as Python does, so a 0.1 ms timeout waits instead of returning at once and spinning.
  return timeout <= 0 ? 0 : Math.ceil(timeout * 1000);
}

/**
 * A read-only, live view of a selector's registrations by fd, like Python's get_map(): it has
 * the methods of a Map that read, and none that write.
 */
class SelectorMapping<T> implements ReadonlyMap<number, SelectorKey<T>> {
  readonly #keys: ReadonlyMap<number, SelectorKey<T>>;

  constructor(keys: ReadonlyMap<number, SelectorKey<T>>) {
    this.#keys = keys;
  }

  get size() {
    return this.#keys.size;
  }
  get(fd: number) {
    return this.#keys.get(fd);
  }
  has(fd: number) {
    return this.#keys.has(fd);
  }
  keys() {
    return this.#keys.keys();
  }
  values() {
    return this.#keys.values();
  }
  entries() {
    return this.#keys.entries();
  }
  [Symbol.iterator]() {
    return this.#keys.entries();
  }
  forEach(
    callback: (key: SelectorKey<T>, fd: number, map: ReadonlyMap<number, SelectorKey<T>>) => void,
    thisArg?: unknown,
  ): void {
    this.#keys.forEach((key, fd) => callback.call(thisArg, key, fd, this));
  }
}

export abstract class BaseSelector<T = unknown> {
  /** Which system call does the waiting: "select", "poll", "epoll" or "kqueue". */
  abstract readonly name: string;
  readonly #keys = new Map<number, SelectorKey<T>>();
  readonly #map = new SelectorMapping(this.#keys);
  #closed = false;

  /** Start watching fileobj for events (EVENT_READ, EVENT_WRITE or both); data comes back with it. */
  register(fileobj: FileObject, events: number, data?: T): SelectorKey<T> {
    this.#checkOpen();
    checkEvents("register", events);
    const fd = toFd("register", fileobj);
    if (this.#keys.has(fd)) throw new Error(`fd ${fd} is already registered`);
    const key = Object.freeze({ fileobj, fd, events, data: data as T });
    this.add(key);
    this.#keys.set(fd, key);
    return key;
  }

  /**
   * Stop watching fileobj. Unregister before you close; a socket closed first is still found by
   * the object itself, as in Python.
   */
  unregister(fileobj: FileObject): SelectorKey<T> {
    const key = this.#keyOf("unregister", fileobj);
    this.#forget(key);
    return key;
  }

  /**
   * Change what fileobj is watched for, and the data that comes back with it. If the kernel
   * refuses the change (the fd was closed behind the selector's back, say), fileobj is
   * unregistered and the error thrown, as in Python: a key the kernel no longer agrees with
   * would only fail again later, and would keep its fd number taken.
   */
  modify(fileobj: FileObject, events: number, data?: T): SelectorKey<T> {
    checkEvents("modify", events);
    const old = this.#keyOf("modify", fileobj);
    const key = Object.freeze({ ...old, events, data: data as T });
    if (events !== old.events) {
      try {
        this.change(old, key);
      } catch (error) {
        this.#forget(old);
        throw error;
      }
    }
    this.#keys.set(key.fd, key);
    return key;
  }

  /**
   * Sleeps in the kernel until a registered fd is ready or timeout seconds pass, then returns
   * each ready key with the events that happened. With no timeout it waits for ever.
   *
   * One wait returns at most 1024 fds with epoll and kqueue (kMaxEvents in src/epoll.cc and
   * src/kqueue.cc: a fixed buffer, as in libuv). None is lost when more are ready: the interest is
   * level-triggered, so the others stay ready and come with the next select().
   */
  select(timeout?: number | null): Iterable<Ready<T>> {
    this.#checkOpen();
    return this.#stillRegistered(this.wait(toMilliseconds(timeout)));
  }

  getKey(fileobj: FileObject): SelectorKey<T> {
    return this.#keyOf("getKey", fileobj);
  }

  /** The registrations by fd: a view that follows them, and cannot change them. */
  getMap(): ReadonlyMap<number, SelectorKey<T>> {
    return this.#map;
  }

  /** Forget every registration (and close the kernel object, for epoll and kqueue). */
  close(): void {
    this.#keys.clear();
    this.#closed = true;
  }

  /** `using selector = new DefaultSelector()` closes it when the block ends, like Python's `with`. */
  [Symbol.dispose](): void {
    this.close();
  }

  // Python's _fileobj_lookup: by fd, or, when fileobj no longer has one (a closed socket's
  // fileno() is -1), by the object itself.
  #keyOf(fn: string, fileobj: FileObject): SelectorKey<T> {
    let fd: number;
    try {
      fd = toFd(fn, fileobj);
    } catch (error) {
      const found = [...this.#keys.values()].find((key) => key.fileobj === fileobj);
      if (found === undefined || !(error instanceof RangeError)) throw error;
      return found;
    }
    const key = this.#keys.get(fd);
    if (key === undefined) throw new Error(`fd ${fd} is not registered`);
    return key;
  }

  #forget(key: SelectorKey<T>): void {
    this.#keys.delete(key.fd);
    this.remove(key);
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error(`this ${this.name} selector is closed`);
  }

  *#stillRegistered(ready: Map<number, number>): Generator<Ready<T>> {
    for (const [fd, events] of ready) {
      const key = this.#keys.get(fd);
      const wanted = key === undefined ? 0 : key.events & events;
      if (key !== undefined && wanted !== 0) yield [key, wanted];
    }
  }

  /** Tell the kernel (or our own list) about a new key; throw if its fd is not open. */
  protected abstract add(key: SelectorKey<T>): void;
  protected abstract remove(key: SelectorKey<T>): void;
  /** The events of a registered fd changed from old.events to key.events. */
  protected change(old: SelectorKey<T>, key: SelectorKey<T>): void {
    this.remove(old);
    this.add(key);
  }
  /** Wait, and return the events (EVENT_READ | EVENT_WRITE) of each fd that is ready. */
  protected abstract wait(timeoutMs: number): Map<number, number>;
}

/** select(2): the oldest; refuses fds of FD_SETSIZE (1024) and above. */
export class SelectSelector<T = unknown> extends BaseSelector<T> {
  readonly name = "select";
  // The fds to watch for reading and for writing, rebuilt only after the registrations change.
  #fds: [readers: Int32Array, writers: Int32Array] | null = null;

  protected add(key: SelectorKey<T>): void {
    if (key.fd >= binding.FD_SETSIZE) {
      throw new RangeError(
        `select() can only watch fds below FD_SETSIZE (${binding.FD_SETSIZE}); ` +
          `fd ${key.fd} needs poll or epoll`,
      );
    }
    binding.checkFd(key.fd);
    this.#fds = null;
  }

  protected remove(): void {
    this.#fds = null;
  }

  protected wait(timeoutMs: number): Map<number, number> {
    this.#fds ??= [this.#watching(EVENT_READ), this.#watching(EVENT_WRITE)];
    const [readable, writable] = binding.select(...this.#fds, timeoutMs);
    const ready = new Map<number, number>();
    for (const fd of readable) ready.set(fd, EVENT_READ);
    for (const fd of writable) ready.set(fd, (ready.get(fd) ?? 0) | EVENT_WRITE);
    return ready;
  }

  #watching(events: number): Int32Array {
    const keys = [...this.getMap().values()].filter((key) => key.events & events);
    return Int32Array.from(keys, (key) => key.fd);
  }
}

/** poll(2): no fd limit, but the whole list is copied in and scanned on every wait. */
export class PollSelector<T = unknown> extends BaseSelector<T> {
  readonly name = "poll";
  // [fd, events] pairs as poll() wants them, rebuilt only after the registrations change.
  #pollfds: Int32Array | null = null;

  protected add(key: SelectorKey<T>): void {
    binding.checkFd(key.fd);
    this.#pollfds = null;
  }

  protected remove(): void {
    this.#pollfds = null;
  }

  protected wait(timeoutMs: number): Map<number, number> {
    this.#pollfds ??= Int32Array.from(
      [...this.getMap().values()].flatMap((key) => [key.fd, toPollEvents(key.events)]),
    );
    return pairsToEvents(binding.poll(this.#pollfds, timeoutMs), binding.POLLIN, binding.POLLOUT);
  }
}

function toPollEvents(events: number): number {
  return (events & EVENT_READ ? binding.POLLIN : 0) | (events & EVENT_WRITE ? binding.POLLOUT : 0);
}

// poll and epoll report [fd, bits, fd, bits, ...]. Any bit other than "writable" (readable, error,
// hang-up) counts as readable, and any bit other than "readable" as writable, as in Python: the
// recv or send that follows then meets the error.
function pairsToEvents(pairs: number[], readBit: number, writeBit: number): Map<number, number> {
  const ready = new Map<number, number>();
  for (let i = 0; i < pairs.length; i += 2) {
    const bits = pairs[i + 1]!;
    const events = (bits & ~writeBit ? EVENT_READ : 0) | (bits & ~readBit ? EVENT_WRITE : 0);
    ready.set(pairs[i]!, events);
  }
  return ready;
}

/** epoll(7), Linux: the kernel keeps the interest list, so idle fds cost nothing per wait. */
export class EpollSelector<T = unknown> extends BaseSelector<T> {
  readonly name = "epoll";
  readonly #epoll = epoll ?? unavailable("epoll", "Linux");
  #epfd = this.#epoll.epollCreate();

  constructor() {
    super();
    closeWhenCollected(this, this.#epfd, "epoll selector");
  }

  fileno(): number {
    return this.#epfd;
  }

  protected add(key: SelectorKey<T>): void {
    this.#epoll.epollCtl(this.#epfd, this.#epoll.EPOLL_CTL_ADD, key.fd, this.#bits(key.events));
  }

  protected remove(key: SelectorKey<T>): void {
    try {
      this.#epoll.epollCtl(this.#epfd, this.#epoll.EPOLL_CTL_DEL, key.fd, 0);
    } catch {
      // The fd was closed before it was unregistered; closing already took it out of epoll.
    }
  }

  protected override change(_old: SelectorKey<T>, key: SelectorKey<T>): void {
    this.#epoll.epollCtl(this.#epfd, this.#epoll.EPOLL_CTL_MOD, key.fd, this.#bits(key.events));
  }

  protected wait(timeoutMs: number): Map<number, number> {
    const { EPOLLIN, EPOLLOUT } = this.#epoll;
    return pairsToEvents(this.#epoll.epollWait(this.#epfd, timeoutMs), EPOLLIN, EPOLLOUT);
  }

  override close(): void {
    super.close();
    if (this.#epfd < 0) return;
    closedByOwner(this);
    binding.close(this.#epfd);
    this.#epfd = -1;
  }

  #bits(events: number): number {
    return (
      (events & EVENT_READ ? this.#epoll.EPOLLIN : 0) |
      (events & EVENT_WRITE ? this.#epoll.EPOLLOUT : 0)
    );
  }
}

/**
 * kqueue(2), macOS and the BSDs: like epoll, but each direction is a filter of its own, so an fd
 * watched both ways is two registrations, and one wait may report it twice.
 */
export class KqueueSelector<T = unknown> extends BaseSelector<T> {
  readonly name = "kqueue";
  readonly #kqueue = kqueue ?? unavailable("kqueue", "macOS and the BSDs");
  #kq = this.#kqueue.kqueue();

  constructor() {
    super();
    closeWhenCollected(this, this.#kq, "kqueue selector");
  }

  fileno(): number {
    return this.#kq;
  }

  protected add(key: SelectorKey<T>): void {
    this.#filters(key.fd, key.events, this.#kqueue.EV_ADD);
  }

  protected remove(key: SelectorKey<T>): void {
    try {
      this.#filters(key.fd, key.events, this.#kqueue.EV_DELETE);
    } catch {
      // The fd was closed before it was unregistered; closing already removed its filters.
    }
  }

  protected wait(timeoutMs: number): Map<number, number> {
    const { EVFILT_READ, EVFILT_WRITE } = this.#kqueue;
    const triples = this.#kqueue.keventWait(this.#kq, timeoutMs);
    const ready = new Map<number, number>();
    for (let i = 0; i < triples.length; i += 3) {
      const fd = triples[i]!;
      const filter = triples[i + 1]!;
      const events =
        filter === EVFILT_READ ? EVENT_READ : filter === EVFILT_WRITE ? EVENT_WRITE : 0;
      ready.set(fd, (ready.get(fd) ?? 0) | events);
    }
    return ready;
  }

  override close(): void {
    super.close();
    if (this.#kq < 0) return;
    closedByOwner(this);
    binding.close(this.#kq);
    this.#kq = -1;
  }

  #filters(fd: number, events: number, flags: number): void {
    const { EVFILT_READ, EVFILT_WRITE } = this.#kqueue;
    if (events & EVENT_READ) this.#kqueue.keventChange(this.#kq, fd, EVFILT_READ, flags);
    if (events & EVENT_WRITE) this.#kqueue.keventChange(this.#kq, fd, EVFILT_WRITE, flags);
  }
}

function unavailable(name: string, where: string): never {
  throw new Error(`${name} is not available on ${process.platform}: it exists on ${where} only`);
}

/** The backends this system has, best first: the order DefaultSelector picks from. */
export const availableSelectors: readonly string[] = [
  ...(epoll ? ["epoll"] : []),
  ...(kqueue ? ["kqueue"] : []),
  "poll",
  "select",
];

/** The best selector this system has: epoll on Linux, kqueue on macOS and BSD, else poll. */
export const DefaultSelector: new <T = unknown>() => BaseSelector<T> = epoll
  ? EpollSelector
  : kqueue
    ? KqueueSelector
    : PollSelector;
