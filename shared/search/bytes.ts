// The small tools the index files are made of: varints, a growable byte buffer, buffered
// sequential writes and reads on a file descriptor, growable columns of numbers, a hash table
// keyed by 64-bit hashes and one keyed by strings that is asked about a span of a text. Nothing
// here knows what an index is; format.ts says what the bytes mean.
//
// Everything is synchronous on purpose. The crawler runs on the scratch event loop, which blocks
// its thread in epoll: a callback from Node's own fs would not run until the loop woke for
// something else. A positioned read of a few kilobytes from the page cache takes microseconds,
// and a tool that must not stall at all runs the index in a worker thread.
import { closeSync, readSync, writeSync } from "node:fs";

/**
 * A varint holds an unsigned integer below 2^32 in 1 to 5 bytes, 7 bits a byte, low bits first,
 * the top bit set on every byte but the last (Lucene's VInt, protobuf's varint). Doc-id gaps,
 * term frequencies and position gaps are mostly small, so most take one byte.
 */
export function varintLength(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

/** Writes a varint into bytes at offset; returns the offset after it. */
export function putVarint(bytes: Uint8Array, offset: number, value: number): number {
  while (value >= 0x80) {
    bytes[offset++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  bytes[offset++] = value;
  return offset;
}

const utf8 = new TextEncoder();

/** Bytes that grow as they are written to, like a Vec<u8>: doubling, so appends are O(1). */
export class ByteBuffer {
  bytes: Uint8Array;
  length = 0;

  constructor(capacity = 1024) {
    this.bytes = new Uint8Array(capacity);
  }

  /** Makes room for n more bytes. */
  reserve(n: number): void {
    const needed = this.length + n;
    if (needed <= this.bytes.length) return;
    let capacity = this.bytes.length * 2;
    while (capacity < needed) capacity *= 2;
    const bytes = new Uint8Array(capacity);
    bytes.set(this.bytes.subarray(0, this.length));
    this.bytes = bytes;
  }

  varint(value: number): void {
    this.reserve(5);
    this.length = putVarint(this.bytes, this.length, value);
  }

  /** Appends source[start, end), the whole of it by default. */
  append(source: Uint8Array, start = 0, end = source.length): void {
    this.reserve(end - start);
    if (end - start <= 16) {
      // A few bytes (a page's positions, mostly) by hand: subarray() would make an object.
      for (let i = start; i < end; i++) this.bytes[this.length++] = source[i]!;
      return;
    }
    this.bytes.set(
      start === 0 && end === source.length ? source : source.subarray(start, end),
      this.length,
    );
    this.length += end - start;
  }

  /** A varint length, then the string's UTF-8 bytes. */
  string(text: string): void {
    // Encoded straight into the buffer: Buffer.from(text) would copy a page's text twice more.
    const length = Buffer.byteLength(text, "utf8");
    this.varint(length);
    this.reserve(length);
    utf8.encodeInto(text, this.bytes.subarray(this.length, this.length + length));
    this.length += length;
  }

  // Little-endian, byte by byte: a DataView made per call (two per term of a segment's
  // dictionary) cost more than the writing.
  uint32(value: number): void {
    this.reserve(4);
    const bytes = this.bytes;
    bytes[this.length++] = value & 0xff;
    bytes[this.length++] = (value >>> 8) & 0xff;
    bytes[this.length++] = (value >>> 16) & 0xff;
    bytes[this.length++] = value >>> 24;
  }

  float64(value: number): void {
    this.reserve(8);
    new DataView(this.bytes.buffer).setFloat64(this.length, value, true);
    this.length += 8;
  }

  /** The bytes written so far (a view: valid until the next write). */
  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  clear(): void {
    this.length = 0;
  }
}

/** A growable column of 32-bit unsigned integers. */
export class Uint32List {
  array: Uint32Array;
  length = 0;

  constructor(capacity = 1024) {
    this.array = new Uint32Array(capacity);
  }

  push(value: number): void {
    if (this.length === this.array.length) {
      const array = new Uint32Array(this.array.length * 2);
      array.set(this.array);
      this.array = array;
    }
    this.array[this.length++] = value;
  }

  view(): Uint32Array {
    return this.array.subarray(0, this.length);
  }
}

/** An Int32Array that grows to hold any index it is asked for, filled with `fill`. */
export function grown(array: Int32Array, size: number, fill = 0): Int32Array {
  if (size <= array.length) return array;
  let capacity = Math.max(array.length * 2, 16);
  while (capacity < size) capacity *= 2;
  const bigger = new Int32Array(capacity).fill(fill);
  bigger.set(array);
  return bigger;
}

/**
 * Sequential writes to a file through a 1 MiB buffer: a segment is written front to back, and one
 * write(2) per megabyte costs nothing next to one per page or per term.
 */
export class FileSink {
  /** Bytes written so far: the file offset of the next byte. */
  position = 0;
  private readonly buffer = Buffer.allocUnsafe(1 << 20);
  private used = 0;

  readonly fd: number;

  constructor(fd: number) {
    this.fd = fd;
  }

  write(bytes: Uint8Array): void {
    if (bytes.length > this.buffer.length - this.used) {
      this.flush();
      if (bytes.length > this.buffer.length) {
        writeAll(this.fd, bytes);
        this.position += bytes.length;
        return;
      }
    }
    this.buffer.set(bytes, this.used);
    this.used += bytes.length;
    this.position += bytes.length;
  }

  flush(): void {
    writeAll(this.fd, this.buffer.subarray(0, this.used));
    this.used = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

/**
 * Sequential reads of the byte range [start, end) of a file through a buffer, for a merge that
 * walks every term's postings in order. read() returns a view that is valid until the next call.
 */
export class FileSource {
  private buffer = Buffer.allocUnsafe(1 << 20);
  private bufferStart = 0; // file offset of buffer[0]
  private bufferEnd = 0; // file offset just past the valid bytes

  private readonly fd: number;
  private position: number;
  private readonly end: number;

  constructor(fd: number, start: number, end: number) {
    this.fd = fd;
    this.position = this.bufferStart = this.bufferEnd = start;
    this.end = end;
  }

  /** The next `length` bytes; throws RangeError if the range ends first. */
  read(length: number): Uint8Array {
    if (this.position + length > this.end) {
      throw new RangeError(`read of ${length} bytes at ${this.position} runs past ${this.end}`);
    }
    if (this.position + length > this.bufferEnd) {
      if (length > this.buffer.length) this.buffer = Buffer.allocUnsafe(length);
      const wanted = Math.min(this.buffer.length, this.end - this.position);
      readExactly(this.fd, this.buffer, wanted, this.position);
      this.bufferStart = this.position;
      this.bufferEnd = this.position + wanted;
    }
    const from = this.position - this.bufferStart;
    this.position += length;
    return this.buffer.subarray(from, from + length);
  }
}

/**
 * Reads exactly `length` bytes at `position` into buffer; throws RangeError if the file ends
 * first (a truncated file), which the index reader reports as a corrupt index.
 */
export function readExactly(fd: number, buffer: Uint8Array, length: number, position: number) {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) throw new RangeError(`the file ends ${length - done} bytes short`);
    done += n;
  }
}

/**
 * Where a 64-bit hash (two halves, the low bit of lo not counted) starts its probe in a table of
 * mask + 1 slots: HashMap64's and SharedHashSet64's, which hold the same hashes of pages.
 */
function firstSlot(hi: number, lo: number, mask: number): number {
  return (hi ^ Math.imul(lo | 1, 0x9e3779b1)) & mask;
}

/**
 * A hash table from 64-bit hashes (two 32-bit halves) to 32-bit values: open addressing with
 * linear probing in three typed arrays, 12 bytes a slot, no object per entry. A Map keyed by a
 * hex string would spend about 80 bytes on every page of a million-page crawl.
 */
export class HashMap64 {
  private hi = new Uint32Array(1024);
  private lo = new Uint32Array(1024);
  private values = new Uint32Array(1024);
  size = 0;

  /** The value stored for the hash, or -1. */
  get(hi: number, lo: number): number {
    lo = (lo | 1) >>> 0; // lo with its low bit set is never 0, so 0 marks an empty slot
    const mask = this.hi.length - 1;
    for (let slot = firstSlot(hi, lo, mask); ; slot = (slot + 1) & mask) {
      if (this.lo[slot] === 0) return -1;
      if (this.lo[slot] === lo && this.hi[slot] === hi) return this.values[slot]!;
    }
  }

  /** Stores value for the hash unless it is there already. */
  set(hi: number, lo: number, value: number): void {
    if (this.get(hi, lo) !== -1) return;
    if ((this.size + 1) * 2 > this.hi.length) this.grow();
    this.insert(hi, (lo | 1) >>> 0, value);
    this.size++;
  }

  private insert(hi: number, lo: number, value: number): void {
    const mask = this.hi.length - 1;
    let slot = firstSlot(hi, lo, mask);
    while (this.lo[slot] !== 0) slot = (slot + 1) & mask;
    this.hi[slot] = hi;
    this.lo[slot] = lo;
    this.values[slot] = value;
  }

  private grow(): void {
    const { hi, lo, values } = this;
    this.hi = new Uint32Array(hi.length * 2);
    this.lo = new Uint32Array(hi.length * 2);
    this.values = new Uint32Array(hi.length * 2);
    for (let slot = 0; slot < hi.length; slot++) {
      if (lo[slot] !== 0) this.insert(hi[slot]!, lo[slot]!, values[slot]!);
    }
  }
}

/**
 * A set of 64-bit hashes that several threads add to at once, in a SharedArrayBuffer that each
 * of them wraps: open addressing with linear probing, each slot taken with
 * Atomics.compareExchange, so that of two threads adding the same hash at the same moment exactly
 * one is told it came first. It cannot grow, since every thread holds its memory: past half
 * full, add() answers "first" for every new hash, and repeats must be found some other way.
 */
export class SharedHashSet64 {
  private readonly slots: BigInt64Array;
  private readonly count: Int32Array;

  /** The memory of a set of `capacity` slots (a power of two), to hand to each thread. */
  static allocate(capacity: number): SharedArrayBuffer {
    if (!Number.isInteger(Math.log2(capacity))) {
      throw new RangeError(`capacity must be a power of two, got ${capacity}`);
    }
    return new SharedArrayBuffer(8 + 8 * capacity);
  }

  constructor(buffer: SharedArrayBuffer) {
    this.count = new Int32Array(buffer, 0, 1);
    this.slots = new BigInt64Array(buffer, 8);
  }

  /** Adds the hash (its lowest bit aside); false if it was there already, from any thread. */
  add(hi: number, lo: number): boolean {
    // The low bit set: never 0, which marks an empty slot.
    const key = BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt((lo | 1) >>> 0));
    const mask = this.slots.length - 1;
    for (let slot = firstSlot(hi, lo, mask); ; slot = (slot + 1) & mask) {
      const found = Atomics.load(this.slots, slot);
      if (found === key) return false;
      if (found !== 0n) continue;
      if (Atomics.add(this.count, 0, 1) * 2 >= this.slots.length) return true; // full enough
      const before = Atomics.compareExchange(this.slots, slot, 0n, key);
      if (before === 0n) return true;
      Atomics.sub(this.count, 0, 1); // another thread took the slot first
      if (before === key) return false; // with this very hash
    }
  }
}

/**
 * A hash table from strings to 32-bit values that is asked about a span of a longer string,
 * text.slice(start, end), without making that string: the index writer looks up every word of a
 * page in it, and nearly all of them are there already. A Map would need the word as a string of
 * its own, made and hashed for each lookup. Open addressing with linear probing; each slot holds
 * an entry's number + 1 (0 is empty), and each entry its key, its hash and its value.
 */
export class SpanMap {
  /** What get() returns for a key that is not in the map. */
  static readonly MISSING = -(2 ** 31);

  private slots = new Int32Array(1024);
  private keys: string[] = [];
  private hashes: Int32Array = new Int32Array(512);
  private values: Int32Array = new Int32Array(512);

  get size(): number {
    return this.keys.length;
  }

  /** The value stored for text.slice(start, end), or SpanMap.MISSING. */
  get(text: string, start: number, end: number): number {
    const hash = spanHash(text, start, end);
    const mask = this.slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = this.slots[slot]! - 1;
      if (entry < 0) return SpanMap.MISSING;
      if (this.hashes[entry] === hash && sameSpan(this.keys[entry]!, text, start, end)) {
        return this.values[entry]!;
      }
    }
  }

  /** Stores value for key, which must not be in the map yet. */
  set(key: string, value: number): void {
    const entry = this.keys.length;
    if ((entry + 1) * 2 > this.slots.length) this.grow();
    if (entry === this.values.length) {
      this.hashes = grown(this.hashes, entry + 1);
      this.values = grown(this.values, entry + 1);
    }
    const hash = spanHash(key, 0, key.length);
    this.keys.push(key);
    this.hashes[entry] = hash;
    this.values[entry] = value;
    this.place(entry, hash);
  }

  clear(): void {
    this.slots.fill(0);
    this.keys = [];
  }

  private place(entry: number, hash: number): void {
    const mask = this.slots.length - 1;
    let slot = hash & mask;
    while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
    this.slots[slot] = entry + 1;
  }

  private grow(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    for (let entry = 0; entry < this.keys.length; entry++) this.place(entry, this.hashes[entry]!);
  }
}

// FNV-1a over the UTF-16 code units: a multiply and an xor a character, and good enough a spread
// for a table that is never more than half full.
function spanHash(text: string, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash;
}

function sameSpan(key: string, text: string, start: number, end: number): boolean {
  if (key.length !== end - start) return false;
  for (let i = 0; i < key.length; i++) {
    if (key.charCodeAt(i) !== text.charCodeAt(start + i)) return false;
  }
  return true;
}
