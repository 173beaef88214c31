// The on-disk format, written: a segment file's header, sections and footer, the term dictionary,
// the manifest that lists an index's segments, and the error every reader throws when the files
// are missing, old or damaged. README.md beside this file draws the same layout as a picture;
// segment.ts reads what this writes.
//
// A segment file, front to back (all integers little-endian):
//
//   header    16 bytes: "AFSINDEX", format version u32, analyzer version u32
//   pages     per page: url, title, text, each a varint byte length and UTF-8
//   postings  per term, in term order: its doc part (a skip table with each block's impact,
//             then blocks of 128 pages: postings.ts), then its positions part
//   docs      six u32 columns, one entry per page: page bytes, page CRC-32, title tokens,
//             body tokens, and the 64-bit hash of title and text (two halves)
//   terms     the dictionary: blocks of 32 front-coded terms, then one index entry per block
//   urls      per page, sorted: the 64-bit hash of its URL (two u32 halves), its doc id u32
//   footer    144 bytes: each section's offset u64, length u64 and CRC-32 u32; page count u32,
//             term count u32, title tokens u64, body tokens u64; the CRC-32 of the footer's
//             124 bytes so far; analyzer u32, format u32, "AFSINDEX"
//
// The footer is last so that a segment can be streamed front to back, and found again from the
// end; a file cut short has no footer, which the reader sees at once.
import { closeSync, fsyncSync, openSync, unlinkSync } from "node:fs";
import { crc32 } from "node:zlib";
import { ByteBuffer, FileSink, Uint32List } from "./bytes.ts";
import { ANALYZER_VERSION } from "./tokens.ts";

/** Bumped whenever the bytes change meaning; the reader refuses any other version. */
export const FORMAT_VERSION = 4;
export const MAGIC = Buffer.from("AFSINDEX", "latin1");
export const HEADER_BYTES = 16;
export const SECTIONS = ["pages", "postings", "docs", "terms", "urls"] as const;
export type Section = (typeof SECTIONS)[number];
export const FOOTER_BYTES = SECTIONS.length * 20 + 24 + 4 + 16;
/** Terms per dictionary block: a lookup scans at most this many after a binary search. */
export const TERMS_PER_BLOCK = 32;
/** Bytes of one block index entry: the block's offset in the terms section u32, its first term's postings offset u64. */
export const BLOCK_ENTRY_BYTES = 12;

/** What builds an index, for the messages that say how to get one. */
export const BUILD_COMMAND = "`pnpm run crawler`";

/** Why an index cannot be used; the message says what to do about it. */
export class SearchIndexError extends Error {
  override name = "SearchIndexError";

  readonly reason: "missing" | "unreadable" | "version" | "corrupt" | "locked";

  constructor(reason: SearchIndexError["reason"], message: string) {
    super(message);
    this.reason = reason;
  }
}

export function corrupt(where: string, what: string): SearchIndexError {
  return new SearchIndexError(
    "corrupt",
    `the search index is damaged (${where}: ${what}): rebuild it with ${BUILD_COMMAND}`,
  );
}

// Permission denied: the files are there and may be whole, so the index is not called damaged.
export function unreadable(path: string, error: Error): SearchIndexError {
  const why =
    (error as NodeJS.ErrnoException).code === "EPERM" ? "not permitted" : "permission denied";
  return new SearchIndexError(
    "unreadable",
    `cannot read the search index (${path}: ${why}): run as a user who may read it, ` +
      "or build one of your own with `pnpm run crawler -- --out DIR`",
  );
}

export function wrongVersion(where: string, what: string, found: number, wanted: number) {
  const age = found < wanted ? "an older" : "a newer";
  return new SearchIndexError(
    "version",
    `${where} was written by ${age} version of this program (${what} ${found}, this one reads ${wanted}): ` +
      `rebuild it with ${BUILD_COMMAND}`,
  );
}

export interface SectionEntry {
  offset: number;
  length: number;
  crc: number;
}

export interface SegmentStats {
  pages: number;
  terms: number;
  titleTokens: number;
  bodyTokens: number;
}

/** The per-page columns of the docs section, each `pages` long. */
export interface DocColumns {
  pageLength: Uint32Array;
  pageCrc: Uint32Array;
  titleTokens: Uint32Array;
  bodyTokens: Uint32Array;
  hashHi: Uint32Array;
  hashLo: Uint32Array;
}
/** The docs columns as they grow, a page at a time, for a flush or a merge to write. */
export class DocColumnLists {
  readonly lists = {
    pageLength: new Uint32List(),
    pageCrc: new Uint32List(),
    titleTokens: new Uint32List(),
    bodyTokens: new Uint32List(),
    hashHi: new Uint32List(),
    hashLo: new Uint32List(),
  };

  push(page: Record<keyof DocColumns, number>): void {
    for (const name of DOC_COLUMNS) this.lists[name].push(page[name]);
  }

  views(): DocColumns {
    const lists = this.lists;
    return {
      pageLength: lists.pageLength.view(),
      pageCrc: lists.pageCrc.view(),
      titleTokens: lists.titleTokens.view(),
      bodyTokens: lists.bodyTokens.view(),
      hashHi: lists.hashHi.view(),
      hashLo: lists.hashLo.view(),
    };
  }
}

export const DOC_COLUMNS = [
  "pageLength",
  "pageCrc",
  "titleTokens",
  "bodyTokens",
  "hashHi",
  "hashLo",
] as const;

/**
 * Writes one segment file front to back: the header at once, then pages as they come, then
 * postings, then the rest in finish(). The crawler's writer and the merge both write through it.
 */
export class SegmentWriter {
  private readonly sink: FileSink;
  private readonly sections = new Map<Section, SectionEntry>();
  private postingsStart = -1;

  readonly path: string;

  constructor(path: string) {
    this.path = path;
    // "wx": a segment file is never overwritten in place; a reader may have the old one open.
    this.sink = new FileSink(openSync(path, "wx"));
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header, 0);
    header.writeUInt32LE(FORMAT_VERSION, 8);
    header.writeUInt32LE(ANALYZER_VERSION, 12);
    this.sink.write(header);
  }

  /** Writes one page record; returns its byte length and CRC-32 for the docs columns. */
  addPage(url: string, title: string, text: string, scratch: ByteBuffer): [number, number] {
    scratch.clear();
    scratch.string(url);
    scratch.string(title);
    scratch.string(text);
    const record = scratch.view();
    this.sink.write(record);
    return [record.length, crc32(record)];
  }

  /** Writes a page record as it was read from another segment. */
  copyPage(record: Uint8Array): void {
    this.sink.write(record);
  }

  /** Ends the pages section: what is written next is postings. */
  startPostings(): void {
    this.postingsStart = this.sink.position;
    this.sections.set("pages", {
      offset: HEADER_BYTES,
      length: this.postingsStart - HEADER_BYTES,
      crc: 0, // pages carry one CRC-32 each, in the docs section
    });
  }

  writePostings(bytes: Uint8Array): void {
    this.sink.write(bytes);
  }

  /** Bytes of postings written so far: the offset, within the section, of the next term's. */
  get postingsLength(): number {
    return this.sink.position - this.postingsStart;
  }

  /** Writes the docs, terms and urls sections and the footer, and closes the file; returns its size. */
  finish(docs: DocColumns, terms: Uint8Array, urls: Uint32Array, stats: SegmentStats): number {
    this.sections.set("postings", {
      offset: this.postingsStart,
      length: this.postingsLength,
      crc: 0, // each term's postings carry two CRC-32s, in the dictionary
    });
    const columns = new ByteBuffer(stats.pages * 4 * DOC_COLUMNS.length + 16);
    for (const name of DOC_COLUMNS) {
      columns.append(new Uint8Array(docs[name].buffer, docs[name].byteOffset, stats.pages * 4));
    }
    this.writeSection("docs", columns.view());
    this.writeSection("terms", terms);
    this.writeSection("urls", new Uint8Array(urls.buffer, urls.byteOffset, urls.length * 4));

    const footer = Buffer.alloc(FOOTER_BYTES);
    let at = 0;
    for (const name of SECTIONS) {
      const { offset, length, crc } = this.sections.get(name)!; // every section was set above
      footer.writeBigUInt64LE(BigInt(offset), at);
      footer.writeBigUInt64LE(BigInt(length), at + 8);
      footer.writeUInt32LE(crc, at + 16);
      at += 20;
    }
    footer.writeUInt32LE(stats.pages, at);
    footer.writeUInt32LE(stats.terms, at + 4);
    footer.writeBigUInt64LE(BigInt(stats.titleTokens), at + 8);
    footer.writeBigUInt64LE(BigInt(stats.bodyTokens), at + 16);
    footer.writeUInt32LE(crc32(footer.subarray(0, at + 24)), at + 24);
    footer.writeUInt32LE(ANALYZER_VERSION, at + 28);
    footer.writeUInt32LE(FORMAT_VERSION, at + 32);
    MAGIC.copy(footer, at + 36);
    this.sink.write(footer);
    this.sink.flush();
    // On disk before the manifest names it: a crash must never leave a manifest naming a
    // segment whose bytes are still only in the page cache.
    fsyncSync(this.sink.fd);
    this.sink.close();
    return this.sink.position;
  }

  /** Closes and deletes the unfinished file. */
  abort(): void {
    try {
      closeSync(this.sink.fd);
    } catch {
      // already closed by finish()
    }
    unlinkSync(this.path);
  }

  private writeSection(name: Section, bytes: Uint8Array): void {
    this.sections.set(name, {
      offset: this.sink.position,
      length: bytes.length,
      crc: crc32(bytes),
    });
    this.sink.write(bytes);
  }
}

/**
 * One dictionary entry. The postings of a term are its doc part, then its positions part:
 *   doc part:       per page, in doc-id order: varint doc-id gap (the first from 0), varint
 *                   title frequency, varint body frequency, varint heading frequency (of the
 *                   body's), in blocks behind a skip table (postings.ts)
 *   positions part: per page, in the same order, its (title + body) positions, each a varint gap
 *                   from the one before (the first from 0)
 */
export interface TermEntry {
  /** Pages the term is on. */
  df: number;
  docBytes: number;
  positionBytes: number;
  docCrc: number;
  positionCrc: number;
  /** Byte offset of its doc part within the postings section. */
  postingsOffset: number;
  /** The first word seen with this term, folded but unstemmed ("sockets"), if not the term itself. */
  surface: string | null;
}

/**
 * Encodes the term dictionary: terms in order, in blocks of TERMS_PER_BLOCK, each term stored as
 * the number of bytes it shares with the one before and the rest (front coding: "socket",
 * "sockets" costs 6 + 1 bytes, not 6 + 7). A block's first term is whole, so a binary search
 * over blocks can read it. After the blocks, one index entry per block.
 *
 *   entry: varint shared, varint suffix length, suffix, varint df, varint doc bytes,
 *          varint position bytes, u32 doc CRC-32, u32 position CRC-32,
 *          varint surface length (0: the term itself), surface
 */
export class TermsEncoder {
  count = 0;
  private readonly out = new ByteBuffer(1 << 16);
  private readonly index = new ByteBuffer(1 << 12);
  private previous: Uint8Array = new Uint8Array(0);

  add(term: Uint8Array, surface: Uint8Array | null, entry: Omit<TermEntry, "surface">): void {
    let shared = 0;
    if (this.count % TERMS_PER_BLOCK === 0) {
      this.index.uint32(this.out.length);
      this.index.uint32(entry.postingsOffset % 2 ** 32);
      this.index.uint32(Math.floor(entry.postingsOffset / 2 ** 32));
    } else {
      const limit = Math.min(term.length, this.previous.length);
      while (shared < limit && term[shared] === this.previous[shared]) shared++;
    }
    const out = this.out;
    out.varint(shared);
    out.varint(term.length - shared);
    out.append(term.subarray(shared));
    out.varint(entry.df);
    out.varint(entry.docBytes);
    out.varint(entry.positionBytes);
    out.uint32(entry.docCrc);
    out.uint32(entry.positionCrc);
    out.varint(surface === null ? 0 : surface.length);
    if (surface !== null) out.append(surface);
    this.previous = term.slice(); // a copy: the caller may reuse its buffer
    this.count++;
  }

  /** The whole terms section. */
  finish(): Uint8Array {
    if (this.out.length >= 2 ** 32) throw new RangeError("a term dictionary past 4 GiB");
    this.out.append(this.index.view());
    return this.out.view();
  }
}

/** The urls section: (hash high, hash low, doc id) per page, sorted by hash. */
export function sortedUrls(hi: Uint32Array, lo: Uint32Array, docs?: Uint32Array): Uint32Array {
  const order = Array.from({ length: hi.length }, (_, i) => i).sort(
    (a, b) => hi[a]! - hi[b]! || lo[a]! - lo[b]! || a - b,
  );
  const table = new Uint32Array(hi.length * 3);
  order.forEach((i, k) => {
    table[k * 3] = hi[i]!;
    table[k * 3 + 1] = lo[i]!;
    table[k * 3 + 2] = docs === undefined ? i : docs[i]!;
  });
  return table;
}

/** Reads the varints of a byte range, and turns running off its end into a corrupt-index error. */
export class Cursor {
  readonly bytes: Uint8Array;
  at: number;
  readonly end: number;
  readonly where: string;

  constructor(bytes: Uint8Array, at: number, end: number, where: string) {
    this.bytes = bytes;
    this.at = at;
    this.end = end;
    this.where = where;
  }

  varint(): number {
    const { bytes, end } = this;
    let at = this.at;
    // Most varints are one byte: doc-id gaps in common terms, frequencies, position gaps.
    if (at < end && bytes[at]! < 0x80) {
      this.at = at + 1;
      return bytes[at]!;
    }
    let result = 0;
    for (let factor = 1; factor <= 2 ** 28; factor *= 128) {
      if (at >= end) throw corrupt(this.where, "a number runs past its section");
      const byte = bytes[at++]!;
      result += (byte & 0x7f) * factor;
      if (byte < 0x80) {
        if (result >= 2 ** 32) break;
        this.at = at;
        return result;
      }
    }
    throw corrupt(this.where, "a number is too long");
  }

  uint32(): number {
    if (this.at + 4 > this.end) throw corrupt(this.where, "a number runs past its section");
    const bytes = this.bytes;
    const value =
      (bytes[this.at]! | (bytes[this.at + 1]! << 8) | (bytes[this.at + 2]! << 16)) +
      bytes[this.at + 3]! * 2 ** 24;
    this.at += 4;
    return value;
  }

  /** Skips n bytes, checking that they are there. */
  skip(n: number): number {
    if (this.at + n > this.end) throw corrupt(this.where, "a string runs past its section");
    const start = this.at;
    this.at += n;
    return start;
  }
}
