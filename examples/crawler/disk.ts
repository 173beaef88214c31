// The frontier and the seen sets of a crawl too big for memory (issue 15: a million pages, with
// memory that does not grow with them). Each store is the in-memory one of stores.ts until it
// holds --memory-urls entries; past that, it moves to files in a folder of its own and keeps only
// a few buffers in memory, however long the crawl runs.
//
// Theory of operation
//
// DiskSeenSet: a hash table of 64-bit fingerprints in a file. The table is a row of buckets of
//   one 4 KiB page each, 512 slots of 8 bytes; a key's bucket is the top bits of its fingerprint.
//   add() reads that bucket (one pread of one page, which the page cache holds), looks for the
//   fingerprint, and if it is not there writes it into the bucket's first empty slot (one pwrite
//   of 8 bytes). When the table is half full, or a bucket is full, it doubles: bucket i splits
//   into buckets 2i and 2i+1 by the fingerprint's next bit, so the new file is written in order
//   in one pass over the old. Memory: one page, whatever the number of keys. The keys themselves
//   are appended to a log beside the table, so that keys() can still list them (for --resume).
//   Roads not taken: sorted runs of fingerprints with a Bloom filter in memory (an LSM tree)
//   need the filter's memory, which grows with the keys (10 bits a key for 1% false positives),
//   and a search of every run a Bloom positive sends to disk, and most links point to URLs
//   seen before, which the filter always calls positive. IRLbot's DRUM sorts a batch of URLs
//   and merges it with the sorted set on disk, sequential reads instead of random ones: the
//   answer once the table outgrows RAM, but it answers "new?" a batch later, and SeenSet.add()
//   answers at once.
//
//   What a fingerprint costs: two URLs with the same 64 bits are one URL to the table, and the
//   second is never fetched. Among n URLs the chance that any two collide is about n^2 / 2^65:
//   3 in 100 million for a million URLs, 3 in 100 for a billion. Past a few billion, take 128
//   bits (16-byte slots).
//
// DiskFrontier: a queue per host, as MemoryFrontier. While the whole frontier holds fewer than
//   the threshold, items stay in memory; past it, a host's new items go to a batch that is
//   appended, 1,024 items at a time, to the host's current segment file (a JSON line each);
//   shift() reads a segment back in order, 256 KiB at a time, and deletes it once read. A
//   host's order is kept: the items in memory, then its segments, then the batch not yet
//   written. Memory: the threshold's items, and a batch or two per host.
//
// Plain synchronous fs calls, in the loop's thread, on purpose: epoll cannot wait for a regular
// file (it is always "ready"), which is why libuv sends file work to its thread pool; but that
// round trip costs tens of microseconds, and a pread of a 4 KiB page in the page cache, or an
// append of a batch of a few KB, costs one or two. The table of a million URLs is 16 to 32 MiB,
// held in the page cache whole. Once it outgrows RAM, each add() would wait for the disk with
// the loop stopped: that is where the batching of DRUM, or the thread pool, would come in.
import { createHash } from "node:crypto";
import {
  appendFileSync,
  closeSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import {
  Fifo,
  MemorySeenSet,
  readLineBatch,
  type Frontier,
  type Item,
  type SeenSet,
} from "./stores.ts";

const PAGE = 4096;
const SLOTS = PAGE / 8;
/** Items (or keys) appended to a file at once; bytes read back at once. */
const WRITE_BATCH = 1024;
const READ_BYTES = 256 * 1024;
/** A host's segment file is closed for writing at this size, and deleted once read. */
const SEGMENT_BYTES = 16 * 1024 * 1024;

// ---- the seen set ---------------------------------------------------------------------------------

export class DiskSeenSet implements SeenSet {
  readonly #dir: string;
  readonly #memoryKeys: number;
  #memory: MemorySeenSet | null = new MemorySeenSet();
  #table: FingerprintTable | null = null;
  #log: KeyLog | null = null;

  /** In memory up to memoryKeys keys; past them, in files in dir (made then). */
  constructor(dir: string, memoryKeys: number) {
    this.#dir = dir;
    this.#memoryKeys = memoryKeys;
  }

  add(key: string): boolean {
    if (this.#memory !== null) {
      if (this.#memory.size < this.#memoryKeys) return this.#memory.add(key);
      if (!this.#memory.add(key)) return false;
      this.#spill(this.#memory);
      return true;
    }
    if (!this.#table!.add(key)) return false;
    this.#log!.append(key);
    return true;
  }

  get size(): number {
    return this.#memory?.size ?? this.#table!.size;
  }

  keys(): Iterable<string> {
    return this.#memory?.keys() ?? this.#log!.keys();
  }

  /** Bytes of the files on disk (0 while in memory). */
  get diskBytes(): number {
    return this.#table === null ? 0 : this.#table.bytes + this.#log!.bytes;
  }

  /** Closes and deletes the files. */
  close(): void {
    this.#table?.close();
    this.#table = null;
    this.#log = null;
    this.#memory = new MemorySeenSet();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #spill(memory: MemorySeenSet): void {
    rmSync(this.#dir, { recursive: true, force: true });
    mkdirSync(this.#dir, { recursive: true });
    this.#table = new FingerprintTable(join(this.#dir, "table"), memory.size);
    this.#log = new KeyLog(join(this.#dir, "keys.txt"));
    for (const key of memory.keys()) {
      this.#table.add(key);
      this.#log.append(key);
    }
    this.#memory = null;
  }
}

/** The first 64 bits of the key's SHA-1, as two 32-bit halves; (0, 0) is kept for "empty". */
export function fingerprint(key: string): [hi: number, lo: number] {
  const digest = createHash("sha1").update(key).digest();
  const hi = digest.readUInt32BE(0);
  const lo = digest.readUInt32BE(4);
  return hi === 0 && lo === 0 ? [0, 1] : [hi, lo];
}

/** A set of fingerprints in a file: buckets of a page each, found by the fingerprint's top bits. */
export class FingerprintTable {
  readonly #path: string;
  #fd: number;
  /** log2 of the number of buckets. */
  #bits: number;
  #size = 0;
  readonly #page = new Uint32Array(SLOTS * 2);
  readonly #pageBytes = new Uint8Array(this.#page.buffer);

  /** An empty table at path, with room for `expected` keys before it first grows. */
  constructor(path: string, expected: number) {
    this.#path = path;
    this.#bits = 1;
    while (2 ** this.#bits * (SLOTS / 2) < expected * 2) this.#bits++;
    this.#fd = openSync(path, "w+");
    ftruncateSync(this.#fd, 2 ** this.#bits * PAGE); // a file of zeros: every slot empty
  }

  get size(): number {
    return this.#size;
  }

  get bytes(): number {
    return 2 ** this.#bits * PAGE;
  }

  /** Adds the key's fingerprint; true if it was not there. */
  add(key: string): boolean {
    const [hi, lo] = fingerprint(key);
    for (;;) {
      const bucket = hi >>> (32 - this.#bits);
      this.#read(bucket);
      let slot = 0;
      for (; slot < SLOTS; slot++) {
        const h = this.#page[2 * slot]!;
        const l = this.#page[2 * slot + 1]!;
        if (h === hi && l === lo) return false;
        if (h === 0 && l === 0) break; // slots fill in order: the first empty one ends the bucket
      }
      // A full bucket, at half the table's load: 512 slots for 256 keys on average, so rare.
      if (slot === SLOTS) {
        this.#grow();
        continue;
      }
      this.#page[2 * slot] = hi;
      this.#page[2 * slot + 1] = lo;
      writeSync(this.#fd, this.#pageBytes, slot * 8, 8, bucket * PAGE + slot * 8);
      this.#size++;
      if (this.#size > 2 ** this.#bits * (SLOTS / 2)) this.#grow();
      return true;
    }
  }

  close(): void {
    closeSync(this.#fd);
  }

  #read(bucket: number): void {
    const got = readSync(this.#fd, this.#pageBytes, 0, PAGE, bucket * PAGE);
    if (got !== PAGE) throw new Error(`${this.#path}: read ${got} of ${PAGE} bytes`);
  }

  /** Twice the buckets: bucket i of the old table becomes 2i and 2i+1 of the new, in one pass. */
  #grow(): void {
    if (this.#bits >= 31) throw new Error(`${this.#path}: the table cannot grow past 2^31 pages`);
    const next = `${this.#path}.next`;
    const fd = openSync(next, "w+");
    const low = new Uint32Array(SLOTS * 2);
    const high = new Uint32Array(SLOTS * 2);
    const shift = 31 - this.#bits; // the bit just below the bucket's
    for (let bucket = 0; bucket < 2 ** this.#bits; bucket++) {
      this.#read(bucket);
      low.fill(0);
      high.fill(0);
      let lows = 0;
      let highs = 0;
      for (let slot = 0; slot < SLOTS; slot++) {
        const h = this.#page[2 * slot]!;
        const l = this.#page[2 * slot + 1]!;
        if (h === 0 && l === 0) break;
        const [to, at] = ((h >>> shift) & 1) === 0 ? [low, lows++] : [high, highs++];
        to[2 * at] = h;
        to[2 * at + 1] = l;
      }
      writeSync(fd, new Uint8Array(low.buffer), 0, PAGE, 2 * bucket * PAGE);
      writeSync(fd, new Uint8Array(high.buffer), 0, PAGE, (2 * bucket + 1) * PAGE);
    }
    closeSync(this.#fd);
    renameSync(next, this.#path);
    this.#fd = fd;
    this.#bits++;
  }
}

/** Keys appended to a file, a line each, in batches; read back in order. */
class KeyLog {
  readonly #path: string;
  #pending: string[] = [];
  #bytes = 0;

  constructor(path: string) {
    this.#path = path;
    appendFileSync(path, "");
  }

  get bytes(): number {
    return this.#bytes;
  }

  append(key: string): void {
    this.#pending.push(key);
    if (this.#pending.length >= WRITE_BATCH) this.flush();
  }

  flush(): void {
    if (this.#pending.length === 0) return;
    const text = `${this.#pending.join("\n")}\n`;
    appendFileSync(this.#path, text);
    this.#bytes += Buffer.byteLength(text);
    this.#pending = [];
  }

  *keys(): Iterable<string> {
    this.flush();
    yield* readLines(this.#path, 0, this.#bytes);
  }
}

/** The lines of path from byte `from` to byte `to`, read a batch at a time. */
function* readLines(path: string, from: number, to: number): Iterable<string> {
  for (let offset = from; offset < to;) {
    const batch = readLineBatch(path, offset, READ_BYTES);
    yield* batch.lines;
    offset = batch.next;
  }
}

// ---- the frontier ---------------------------------------------------------------------------------

interface Segment {
  path: string;
  /** Bytes written to it so far, and where reading has got to. */
  written: number;
  read: number;
}

interface Queue {
  /** Items in memory, oldest first: pushed before the host had to spill, or read back. */
  head: Fifo<Item>;
  /** On disk, oldest first; the last one is written to. */
  segments: Segment[];
  /** Pushed after everything on disk, not yet written. */
  tail: Item[];
  /** Numbers the host's segment files. */
  id: number;
}

export class DiskFrontier implements Frontier {
  readonly #dir: string;
  readonly #memoryItems: number;
  readonly #queues = new Map<string, Queue>();
  #hosts = 0;
  #segments = 0;
  #size = 0;
  #inMemory = 0;
  #diskBytes = 0;
  #peakDiskBytes = 0;

  /** Items in memory up to memoryItems; past them, in segment files in dir (made then). */
  constructor(dir: string, memoryItems: number) {
    this.#dir = dir;
    this.#memoryItems = memoryItems;
  }

  push(host: string, item: Item): void {
    let queue = this.#queues.get(host);
    if (queue === undefined) {
      queue = { head: new Fifo(), segments: [], tail: [], id: this.#hosts++ };
      this.#queues.set(host, queue);
    }
    this.#size++;
    this.#inMemory++;
    const onDisk = queue.segments.length > 0 || queue.tail.length > 0;
    if (!onDisk && this.#inMemory <= this.#memoryItems) {
      queue.head.push(item);
      return;
    }
    queue.tail.push(item);
    if (queue.tail.length >= WRITE_BATCH) this.#write(queue);
  }

  shift(host: string): Item | undefined {
    const queue = this.#queues.get(host);
    if (queue === undefined) return undefined;
    if (queue.head.length === 0) this.#refill(queue);
    const item = queue.head.shift()!; // a queue in the map is never empty
    this.#size--;
    this.#inMemory--;
    if (queue.head.length === 0 && queue.segments.length === 0 && queue.tail.length === 0) {
      this.#queues.delete(host);
    }
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
      for (const item of queue.head) yield [host, item];
      for (const segment of [...queue.segments]) {
        for (const line of readLines(segment.path, segment.read, segment.written)) {
          yield [host, JSON.parse(line) as Item];
        }
      }
      for (const item of queue.tail) yield [host, item];
    }
  }

  /** The most bytes its segment files held at once. */
  get peakDiskBytes(): number {
    return this.#peakDiskBytes;
  }

  /** Deletes the segment files. */
  close(): void {
    this.#queues.clear();
    this.#size = 0;
    this.#inMemory = 0;
    rmSync(this.#dir, { recursive: true, force: true });
  }

  /** Appends the host's tail to its last segment, or to a new one if that is full. */
  #write(queue: Queue): void {
    let segment = queue.segments.at(-1);
    if (segment === undefined || segment.written >= SEGMENT_BYTES) {
      if (this.#segments === 0) {
        rmSync(this.#dir, { recursive: true, force: true });
        mkdirSync(this.#dir, { recursive: true });
      }
      segment = {
        path: join(this.#dir, `${queue.id}-${this.#segments++}.jsonl`),
        written: 0,
        read: 0,
      };
      queue.segments.push(segment);
    }
    const text = `${queue.tail.map((item) => JSON.stringify(item)).join("\n")}\n`;
    appendFileSync(segment.path, text);
    const bytes = Buffer.byteLength(text);
    segment.written += bytes;
    this.#diskBytes += bytes;
    this.#peakDiskBytes = Math.max(this.#peakDiskBytes, this.#diskBytes);
    this.#inMemory -= queue.tail.length;
    queue.tail = [];
  }

  /** Fills the empty head from the oldest segment, or takes the tail if nothing is on disk. */
  #refill(queue: Queue): void {
    const segment = queue.segments[0];
    if (segment === undefined) {
      queue.head = new Fifo(queue.tail);
      queue.tail = [];
      return;
    }
    const batch = readLineBatch(segment.path, segment.read, READ_BYTES);
    queue.head = new Fifo(batch.lines.map((line) => JSON.parse(line) as Item));
    this.#inMemory += queue.head.length;
    segment.read = batch.next;
    if (segment.read >= segment.written) {
      queue.segments.shift();
      this.#diskBytes -= segment.written;
      rmSync(segment.path, { force: true });
    }
  }
}
