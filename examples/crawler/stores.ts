// What a crawl remembers, behind small interfaces, so that each can move out of this process's
// memory without the crawl changing (issue 15 takes the crawl to a million pages and to several
// processes sharing one frontier):
//
//   Frontier   URLs waiting to be fetched, a queue per host (so that one slow or polite host never
//              holds up the others). In memory here; on disk as queue segments (disk.ts); in Redis
//              (redis-stores.ts) as a stream that several crawlers take URLs from.
//   SeenSet    every URL discovered, so that none is queued twice. In memory a Set; on disk a
//              compact hash table (disk.ts); with Redis, a Set in each crawler that spares it
//              asking again, and the authority in Redis, asked inside the same step that queues
//              the URL.
//   DigestSet  the digest of every body read, so that identical pages are indexed once.
//   PageReaders where pages go: the search index, written by its own threads (readers.ts).
//
// Synchronous on purpose where the crawl asks per URL: a Set answers at once, and an await per
// link would cost the single-process crawl its speed. What a distant store cannot answer at once
// is asked in bulk or per page: a shared frontier has take(), which the dispatcher calls when its
// queues run low, and a DigestSet may answer with a promise (one per page read).
//
// The stores here live in memory; disk.ts has those that move to disk past --memory-urls.
// saveCrawl() and loadCrawl() put a stopped crawl on disk and take it back (--resume).
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

/** A URL waiting in the frontier. */
export interface Item {
  url: string;
  /** Links followed from a start URL to get here (a redirect is not a link: same depth). */
  depth: number;
  /** The URLs that redirected to this one, oldest first: for the cap on a chain, and loops. */
  via: string[];
}

export interface Frontier {
  /** Queues item behind the others of its host ("127.0.0.1:8080"). */
  push(host: string, item: Item): void;
  /** The oldest item of host, or undefined if it has none. */
  shift(host: string): Item | undefined;
  /** The hosts that have items waiting, in the order they first got one. */
  hosts(): Iterable<string>;
  readonly size: number;
  /** Every item waiting, host by host: for saving. */
  items(): Iterable<[host: string, item: Item]>;
  /**
   * A frontier that other crawlers share (redis-stores.ts): fetches up to max more items into the
   * queues above. Settles with how many came; 0 if none is ready now, though other crawlers are
   * still at work (and may queue more); null once the crawl is over everywhere. A frontier of
   * this process alone has none: its queues are all there is.
   */
  take?(max: number): Promise<number | null>;
}

export interface SeenSet {
  /** Adds key; true if it was not there before. */
  add(key: string): boolean;
  readonly size: number;
  keys(): Iterable<string>;
}

export interface DigestSet {
  /**
   * Adds the digest of url's body; true if no other URL had that digest before (url itself again
   * is no twin: its page was read before and is being read once more after a crash).
   */
  add(digest: string, url: string): boolean | Promise<boolean>;
}

/** A first-in first-out list: shift() from an array is O(n), from this O(1). */
export class Fifo<T> {
  // The items from #head on; those before it are taken.
  #items: T[] = [];
  #head = 0;

  constructor(items: T[] = []) {
    this.#items = items;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined!; // let it be collected
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head * 2 > this.#items.length && this.#head > 1024) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i]!;
  }
}

export class MemoryFrontier implements Frontier {
  readonly #queues = new Map<string, Fifo<Item>>();
  #size = 0;

  push(host: string, item: Item): void {
    let queue = this.#queues.get(host);
    if (queue === undefined) {
      queue = new Fifo();
      this.#queues.set(host, queue);
    }
    queue.push(item);
    this.#size++;
  }

  shift(host: string): Item | undefined {
    const queue = this.#queues.get(host);
    if (queue === undefined) return undefined;
    const item = queue.shift()!; // a queue in the map is never empty
    this.#size--;
    if (queue.length === 0) this.#queues.delete(host);
    return item;
  }

  hosts(): Iterable<string> {
    return this.#queues.keys();
  }

  get size(): number {
    return this.#size;
  }

  *items(): Iterable<[string, Item]> {
    for (const [host, queue] of this.#queues) {
      for (const item of queue) yield [host, item];
    }
  }
}

/** Also a DigestSet: in one process, no URL is read twice. */
export class MemorySeenSet implements SeenSet, DigestSet {
  readonly #keys = new Set<string>();

  add(key: string): boolean {
    if (this.#keys.has(key)) return false;
    this.#keys.add(key);
    return true;
  }

  get size(): number {
    return this.#keys.size;
  }

  keys(): Iterable<string> {
    return this.#keys;
  }
}

// ---- a stopped crawl on disk ------------------------------------------------------------------

/** Bumped whenever the files below change meaning: --resume refuses another version. */
export const STATE_VERSION = 2;

export interface SavedCrawl<Summary> {
  /** Whatever the crawler needs besides the stores: its start URLs, counts, and so on. */
  summary: Summary;
  frontier: Frontier;
  seen: SeenSet;
  digests: SeenSet;
}

// One file per store, a line per entry, so that a million URLs stream out and back in without
// one giant JSON string. state.json is written last: a folder without it was never finished.
const FILES = {
  state: "state.json",
  frontier: "frontier.jsonl",
  seen: "seen.txt",
  digests: "digests.txt",
};

/**
 * Writes the crawl into dir, replacing what was there only once all of it is written: into
 * dir.tmp first, then renamed (a crash halfway leaves the previous save whole).
 */
export function saveCrawl<Summary>(dir: string, crawl: SavedCrawl<Summary>): void {
  const temporary = `${dir}.tmp`;
  rmSync(temporary, { recursive: true, force: true });
  mkdirSync(temporary, { recursive: true });
  writeLines(
    join(temporary, FILES.frontier),
    (function* () {
      for (const [host, item] of crawl.frontier.items()) yield JSON.stringify({ host, ...item });
    })(),
  );
  writeLines(join(temporary, FILES.seen), crawl.seen.keys());
  writeLines(join(temporary, FILES.digests), crawl.digests.keys());
  const state = { version: STATE_VERSION, summary: crawl.summary };
  writeFileSync(join(temporary, FILES.state), `${JSON.stringify(state, null, 2)}\n`);
  const previous = `${dir}.old`;
  rmSync(previous, { recursive: true, force: true });
  if (existsSync(dir)) renameSync(dir, previous);
  renameSync(temporary, dir);
  rmSync(previous, { recursive: true, force: true });
}

export type Stores = Pick<SavedCrawl<unknown>, "frontier" | "seen" | "digests">;

/**
 * The crawl saved in dir, put into `into` (empty stores; by default fresh in-memory ones), a
 * line at a time; an Error that says why if there is none.
 */
export function loadCrawl<Summary>(
  dir: string,
  into: Stores = {
    frontier: new MemoryFrontier(),
    seen: new MemorySeenSet(),
    digests: new MemorySeenSet(),
  },
): SavedCrawl<Summary> {
  const statePath = join(dir, FILES.state);
  if (!existsSync(statePath)) {
    throw new Error(`no saved crawl in ${dir}: nothing to resume (start one without --resume)`);
  }
  const state = JSON.parse(readFileSync(statePath, "utf8")) as {
    version: number;
    summary: Summary;
  };
  if (state.version !== STATE_VERSION) {
    throw new Error(
      `the crawl saved in ${dir} has format ${state.version}, this crawler reads ${STATE_VERSION}: ` +
        "start a new crawl without --resume",
    );
  }
  const { frontier, seen, digests } = into;
  for (const line of readLines(join(dir, FILES.frontier))) {
    const { host, ...item } = JSON.parse(line) as Item & { host: string };
    frontier.push(host, item);
  }
  for (const line of readLines(join(dir, FILES.seen))) seen.add(line);
  for (const line of readLines(join(dir, FILES.digests))) digests.add(line);
  return { summary: state.summary, frontier, seen, digests };
}

// Sync writes on purpose: this runs once, at the end of a crawl, when the loop has nothing else
// to do; and Node's async fs would need Node's loop, which ours keeps asleep (shared/loop).
function writeLines(path: string, lines: Iterable<string>): void {
  let batch: string[] = [];
  writeFileSync(path, "");
  for (const line of lines) {
    batch.push(line);
    if (batch.length === 10_000) {
      writeFileSync(path, `${batch.join("\n")}\n`, { flag: "a" });
      batch = [];
    }
  }
  if (batch.length > 0) writeFileSync(path, `${batch.join("\n")}\n`, { flag: "a" });
}

/** The lines of a file, a batch at a time: a million of them never sit in memory at once. */
function* readLines(path: string): Iterable<string> {
  if (!existsSync(path)) return;
  for (let offset = 0; ;) {
    const batch = readLineBatch(path, offset, 1024 * 1024);
    if (batch.lines.length === 0) return;
    yield* batch.lines.filter((line) => line !== "");
    offset = batch.next;
  }
}

/**
 * The whole lines of path from byte `offset` on, about maxBytes of them (more if one line is
 * longer); `next` is where the next batch starts. Split as bytes, before decoding, so that a
 * batch never ends inside a character.
 */
export function readLineBatch(
  path: string,
  offset: number,
  maxBytes: number,
): { lines: string[]; next: number } {
  const fd = openSync(path, "r");
  try {
    for (let size = maxBytes; ; size *= 2) {
      const buffer = Buffer.allocUnsafe(size);
      const got = readSync(fd, buffer, 0, size, offset);
      if (got === 0) return { lines: [], next: offset };
      const end = buffer.lastIndexOf(0x0a, got - 1);
      if (end !== -1)
        return { lines: buffer.toString("utf8", 0, end).split("\n"), next: offset + end + 1 };
      if (got < size) throw new Error(`${path}: the last line has no end (a write cut short?)`);
    }
  } finally {
    closeSync(fd);
  }
}
