// A queue for coroutines, as asyncio.Queue: put() waits while it is full, get() while it is empty,
// and join() until every item put has been marked done. A fixed pool of workers on one bounded
// queue is how the crawler keeps both its connections and its memory bounded (500lines' crawler
// does the same with asyncio.Queue).
//
// It needs no fds and no timers: a waiting put() or get() is a promise, settled by the get() or
// put() that frees it, and the loop runs its continuation between rounds like any other.
import { CancelledError } from "./loop.ts";

export class QueueFull extends Error {
  override name = "QueueFull";
}
export class QueueEmpty extends Error {
  override name = "QueueEmpty";
}

interface Waiter {
  wake: () => void;
}

export class Queue<T> {
  readonly maxSize: number;
  #items: T[] = [];
  #head = 0; // items before #head were taken: shifting an array is O(n), this is O(1)
  #getters: Waiter[] = [];
  #putters: Waiter[] = [];
  #unfinished = 0;
  #joiners: (() => void)[] = [];

  /** maxSize: how many items it holds before put() waits; Infinity for no bound. */
  constructor(maxSize = Infinity) {
    if (!(maxSize === Infinity || (Number.isInteger(maxSize) && maxSize > 0))) {
      throw new RangeError(`maxSize must be a positive integer or Infinity, got ${maxSize}`);
    }
    this.maxSize = maxSize;
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  full(): boolean {
    return this.size >= this.maxSize;
  }

  /** Items put and not yet marked done with taskDone(). */
  get unfinished(): number {
    return this.#unfinished;
  }

  /** Puts item, waiting while the queue is full; rejects if signal aborts first. */
  async put(item: T, signal?: AbortSignal): Promise<void> {
    while (this.full()) await this.#wait(this.#putters, signal);
    this.putNowait(item);
  }

  putNowait(item: T): void {
    if (this.full()) throw new QueueFull(`queue is full (${this.maxSize} items)`);
    this.#items.push(item);
    this.#unfinished++;
    this.#wakeOne(this.#getters);
  }

  /** Takes the oldest item, waiting while the queue is empty. */
  async get(signal?: AbortSignal): Promise<T> {
    while (this.size === 0) await this.#wait(this.#getters, signal);
    return this.getNowait();
  }

  getNowait(): T {
    if (this.size === 0) throw new QueueEmpty("queue is empty");
    const item = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined as T; // let the item be collected
    if (this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    this.#wakeOne(this.#putters);
    return item;
  }

  /** Marks one item taken with get() as finished: join() waits for all of them. */
  taskDone(): void {
    if (this.#unfinished === 0) throw new Error("taskDone() called more times than items put");
    this.#unfinished--;
    if (this.#unfinished === 0) {
      for (const resolve of this.#joiners.splice(0)) resolve();
    }
  }

  /** Resolves once every item put has been marked done. */
  join(): Promise<void> {
    if (this.#unfinished === 0) return Promise.resolve();
    return new Promise((resolve) => this.#joiners.push(resolve));
  }

  #wait(waiters: Waiter[], signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason ?? new CancelledError("cancelled"));
      const waiter: Waiter = {
        wake: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(signal!.reason ?? new CancelledError("cancelled"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      waiters.push(waiter);
    });
  }

  // A woken waiter checks again (another may have come first), so waking one per item is enough.
  #wakeOne(waiters: Waiter[]): void {
    waiters.shift()?.wake();
  }
}
