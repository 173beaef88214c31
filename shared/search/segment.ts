// Reading one segment file (format.ts writes it). Opening reads the footer and the three small
// sections, which are O(pages + terms): the docs columns, the term dictionary and the URL table.
// Postings and pages, which are most of the file, stay on disk and are read per term and per
// page with positioned reads (pread) from the open fd, so opening a million-page index is quick
// and memory does not grow with its text.
//
// Every byte read is checked before it is believed: the small sections and each term's postings
// and each page against a CRC-32, and every length against the bytes that are there. A damaged
// file gives a SearchIndexError that says so, never a crash or a wrong answer.
import { closeSync, fstatSync, openSync } from "node:fs";
import { endianness } from "node:os";
import { basename } from "node:path";
import { crc32 } from "node:zlib";
import { FileSource, readExactly } from "./bytes.ts";
import {
  BLOCK_ENTRY_BYTES,
  Cursor,
  DOC_COLUMNS,
  FOOTER_BYTES,
  FORMAT_VERSION,
  HEADER_BYTES,
  MAGIC,
  SECTIONS,
  TERMS_PER_BLOCK,
  corrupt,
  wrongVersion,
  type DocColumns,
  type Section,
  type SectionEntry,
  type TermEntry,
} from "./format.ts";
import { ANALYZER_VERSION } from "./tokens.ts";

export interface StoredPage {
  url: string;
  title: string;
  text: string;
}

export class Segment implements DocColumns {
  readonly pages: number;
  readonly terms: number;
  readonly titleTokensTotal: number;
  readonly bodyTokensTotal: number;
  readonly bytes: number;
  readonly pageLength: Uint32Array;
  readonly pageCrc: Uint32Array;
  readonly titleTokens: Uint32Array;
  readonly bodyTokens: Uint32Array;
  readonly hashHi: Uint32Array;
  readonly hashLo: Uint32Array;
  /** Where each page's record starts in the file. */
  readonly pageOffset: Float64Array;
  readonly sections: Record<Section, SectionEntry>;
  private readonly dictionary: Buffer;
  private readonly blocks: number;
  private readonly blockIndex: number;
  /** Per page, sorted by URL hash: hash high half, low half, doc id. */
  private readonly urls: Uint32Array;
  private fd: number;
  private readonly decoded = new Map<number, { terms: string[]; entries: TermEntry[] }>();

  /** Opens a segment file; throws SearchIndexError if it is not a whole segment of this version. */
  static open(path: string): Segment {
    return new Segment(path, openSync(path, "r"));
  }

  readonly path: string;

  private constructor(path: string, fd: number) {
    this.path = path;
    this.fd = fd;
    const where = basename(path);
    try {
      // The typed-array columns are the file's bytes as they are: little-endian numbers.
      if (endianness() !== "LE")
        throw new Error("index files are read on little-endian machines only");
      this.bytes = fstatSync(fd).size;
      if (this.bytes < HEADER_BYTES + FOOTER_BYTES) {
        throw corrupt(where, `${this.bytes} bytes is too short for a segment`);
      }
      const header = this.read(0, HEADER_BYTES, where);
      const footer = this.read(this.bytes - FOOTER_BYTES, FOOTER_BYTES, where);
      if (!header.subarray(0, 8).equals(MAGIC)) throw corrupt(where, "not a segment file");
      checkVersions(where, header.readUInt32LE(8), header.readUInt32LE(12));
      if (!footer.subarray(FOOTER_BYTES - 8).equals(MAGIC)) {
        throw corrupt(where, "the file is cut short or overwritten at its end");
      }
      checkVersions(
        where,
        footer.readUInt32LE(FOOTER_BYTES - 12),
        footer.readUInt32LE(FOOTER_BYTES - 16),
      );
      if (crc32(footer.subarray(0, FOOTER_BYTES - 20)) !== footer.readUInt32LE(FOOTER_BYTES - 20)) {
        throw corrupt(where, "the footer fails its checksum");
      }

      const sections = {} as Record<Section, SectionEntry>;
      let at = 0;
      let expected = HEADER_BYTES;
      for (const name of SECTIONS) {
        const offset = Number(footer.readBigUInt64LE(at));
        const length = Number(footer.readBigUInt64LE(at + 8));
        // Sections lie end to end, in order, between the header and the footer.
        if (offset !== expected || offset + length > this.bytes - FOOTER_BYTES) {
          throw corrupt(where, `the ${name} section is out of place`);
        }
        sections[name] = { offset, length, crc: footer.readUInt32LE(at + 16) };
        expected = offset + length;
        at += 20;
      }
      if (expected !== this.bytes - FOOTER_BYTES) throw corrupt(where, "bytes after the sections");
      this.sections = sections;
      this.pages = footer.readUInt32LE(at);
      this.terms = footer.readUInt32LE(at + 4);
      this.titleTokensTotal = Number(footer.readBigUInt64LE(at + 8));
      this.bodyTokensTotal = Number(footer.readBigUInt64LE(at + 16));

      const docs = this.section("docs", where);
      if (docs.length !== this.pages * 4 * DOC_COLUMNS.length) {
        throw corrupt(where, `the docs section does not hold ${this.pages} pages`);
      }
      // slice() copies each column into an ArrayBuffer of its own, aligned for a Uint32Array.
      const column = (i: number) =>
        new Uint32Array(
          docs.buffer.slice(
            docs.byteOffset + i * this.pages * 4,
            docs.byteOffset + (i + 1) * this.pages * 4,
          ),
        );
      this.pageLength = column(0);
      this.pageCrc = column(1);
      this.titleTokens = column(2);
      this.bodyTokens = column(3);
      this.hashHi = column(4);
      this.hashLo = column(5);
      this.pageOffset = new Float64Array(this.pages);
      let offset = sections.pages.offset;
      for (let doc = 0; doc < this.pages; doc++) {
        this.pageOffset[doc] = offset;
        offset += this.pageLength[doc]!;
      }
      if (offset !== sections.pages.offset + sections.pages.length) {
        throw corrupt(where, "the page lengths do not add up to the pages section");
      }

      this.dictionary = this.section("terms", where);
      this.blocks = Math.ceil(this.terms / TERMS_PER_BLOCK);
      this.blockIndex = this.dictionary.length - this.blocks * BLOCK_ENTRY_BYTES;
      if (this.blockIndex < 0) throw corrupt(where, "the terms section is too short");

      const urls = this.section("urls", where);
      if (urls.length !== this.pages * 12)
        throw corrupt(where, "the urls section is the wrong size");
      this.urls = new Uint32Array(
        urls.buffer.slice(urls.byteOffset, urls.byteOffset + urls.length),
      );
    } catch (error) {
      closeSync(fd);
      throw error instanceof RangeError ? corrupt(where, error.message) : error;
    }
  }

  close(): void {
    if (this.fd === -1) return;
    closeSync(this.fd);
    this.fd = -1;
  }

  /** The dictionary entry of a term, or null if no page here has it. */
  lookup(term: string): TermEntry | null {
    const block = this.blockOf(Buffer.from(term, "utf8"));
    if (block === -1) return null;
    let decoded = this.decoded.get(block);
    if (decoded === undefined) {
      decoded = { terms: [], entries: [] };
      const cursor = new TermCursor(this, block);
      for (let n = 0; n < TERMS_PER_BLOCK && cursor.next(); n++) {
        decoded.terms.push(cursor.term.toString("utf8"));
        decoded.entries.push(cursor.entry());
      }
      // A query looks up a few terms, a misspelt word a few hundred near ones, many in the same
      // blocks; a few thousand decoded blocks are a few megabytes.
      if (this.decoded.size >= 4096) this.decoded.clear();
      this.decoded.set(block, decoded);
    }
    const index = decoded.terms.indexOf(term);
    return index === -1 ? null : decoded.entries[index]!;
  }

  // The last block whose first term is <= term, by binary search on the blocks' first terms,
  // read in place; -1 if term comes before them all.
  private blockOf(term: Uint8Array): number {
    let low = 0;
    let high = this.blocks - 1;
    let block = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const cursor = this.blockCursor(middle);
      cursor.varint(); // shared: 0 for a block's first term
      const length = cursor.varint();
      const start = cursor.skip(length);
      const order = Buffer.compare(term, this.dictionary.subarray(start, start + length));
      if (order === 0) return middle;
      if (order < 0) high = middle - 1;
      else {
        block = middle;
        low = middle + 1;
      }
    }
    return block;
  }

  /** A cursor over every term in order, from the first block on. */
  cursor(): TermCursor {
    return new TermCursor(this, 0);
  }

  /**
   * A term's postings: its doc part, and its positions part if asked for (a phrase needs them),
   * each checked against its CRC-32. The two parts lie side by side, so it is one read.
   */
  readPostings(
    entry: TermEntry,
    withPositions: boolean,
  ): { docs: Buffer; positions: Buffer | null } {
    const where = basename(this.path);
    const length = entry.docBytes + (withPositions ? entry.positionBytes : 0);
    const bytes = this.read(this.sections.postings.offset + entry.postingsOffset, length, where);
    const docs = bytes.subarray(0, entry.docBytes);
    const positions = withPositions ? bytes.subarray(entry.docBytes) : null;
    if (
      crc32(docs) !== entry.docCrc ||
      (positions !== null && crc32(positions) !== entry.positionCrc)
    ) {
      throw corrupt(where, "a term's postings fail their checksum");
    }
    return { docs, positions };
  }

  /** A page's stored record, as its bytes (for a merge to copy). */
  readPageRecord(doc: number): Buffer {
    return this.readChecked(
      this.pageOffset[doc]!,
      this.pageLength[doc]!,
      this.pageCrc[doc]!,
      "page",
    );
  }

  readPage(doc: number): StoredPage {
    const where = basename(this.path);
    const record = this.readPageRecord(doc);
    const cursor = new Cursor(record, 0, record.length, where);
    const text = () => {
      const length = cursor.varint();
      const start = cursor.skip(length);
      return record.toString("utf8", start, start + length);
    };
    return { url: text(), title: text(), text: text() };
  }

  /** The doc id of the page with this URL, or -1. */
  findUrl(url: string, hi: number, lo: number): number {
    const urls = this.urls;
    let low = 0;
    let high = this.pages - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const h = urls[middle * 3]!;
      const l = urls[middle * 3 + 1]!;
      if (h < hi || (h === hi && l < lo)) low = middle + 1;
      else high = middle - 1;
    }
    // `low` is the first entry >= the hash; two URLs may share a hash, so each is compared.
    for (let i = low; i < this.pages && urls[i * 3] === hi && urls[i * 3 + 1] === lo; i++) {
      const doc = urls[i * 3 + 2]!;
      if (this.readPage(doc).url === url) return doc;
    }
    return -1;
  }

  /** A sequential reader over the pages or the postings section, for a merge. */
  source(section: "pages" | "postings"): FileSource {
    const { offset, length } = this.sections[section];
    return new FileSource(this.fd, offset, offset + length);
  }

  /** The urls section as (hash high, hash low, doc id) triples, for a merge. */
  urlTable(): Uint32Array {
    return this.urls;
  }

  /** @internal */
  blockCursor(block: number): Cursor {
    const entry = this.blockIndex + block * BLOCK_ENTRY_BYTES;
    const offset = this.dictionary.readUInt32LE(entry);
    if (offset >= this.blockIndex)
      throw corrupt(basename(this.path), "a term block is out of place");
    return new Cursor(this.dictionary, offset, this.blockIndex, basename(this.path));
  }

  /** @internal the postings offset of a block's first term */
  blockPostings(block: number): number {
    const entry = this.blockIndex + block * BLOCK_ENTRY_BYTES;
    return (
      this.dictionary.readUInt32LE(entry + 4) + this.dictionary.readUInt32LE(entry + 8) * 2 ** 32
    );
  }

  /** @internal */
  get dictionaryBytes(): Buffer {
    return this.dictionary;
  }

  private section(name: Section, where: string): Buffer {
    const { offset, length, crc } = this.sections[name];
    const bytes = this.read(offset, length, where);
    if (crc32(bytes) !== crc) throw corrupt(where, `the ${name} section fails its checksum`);
    return bytes;
  }

  private readChecked(offset: number, length: number, crc: number, what: string): Buffer {
    const where = basename(this.path);
    const bytes = this.read(offset, length, where);
    if (crc32(bytes) !== crc) throw corrupt(where, `a ${what} record fails its checksum`);
    return bytes;
  }

  private read(offset: number, length: number, where: string): Buffer {
    if (this.fd === -1) throw new Error(`${where} is closed`);
    const bytes = Buffer.allocUnsafe(length);
    try {
      readExactly(this.fd, bytes, length, offset);
    } catch (error) {
      if (error instanceof RangeError) throw corrupt(where, "the file is cut short");
      throw error;
    }
    return bytes;
  }
}

function checkVersions(where: string, format: number, analyzer: number): void {
  if (format !== FORMAT_VERSION) throw wrongVersion(where, "format", format, FORMAT_VERSION);
  if (analyzer !== ANALYZER_VERSION) {
    throw wrongVersion(where, "analyzer", analyzer, ANALYZER_VERSION);
  }
}

/**
 * Walks the dictionary from a block's first term on, one term per next(). `term` is the current
 * term's bytes: a view into a buffer the cursor owns, valid until the next call.
 */
export class TermCursor {
  ordinal: number;
  term: Buffer = Buffer.alloc(0);
  df = 0;
  docBytes = 0;
  positionBytes = 0;
  docCrc = 0;
  positionCrc = 0;
  postingsOffset = 0;
  surfaceStart = 0;
  surfaceLength = 0;
  private readonly cursor: Cursor;
  private termBuffer = Buffer.alloc(64);
  private nextOffset: number;

  private readonly segment: Segment;

  constructor(segment: Segment, block: number) {
    this.segment = segment;
    this.ordinal = block * TERMS_PER_BLOCK - 1;
    this.cursor =
      block < Math.ceil(segment.terms / TERMS_PER_BLOCK)
        ? segment.blockCursor(block)
        : new Cursor(Buffer.alloc(0), 0, 0, "");
    this.nextOffset =
      block < Math.ceil(segment.terms / TERMS_PER_BLOCK) ? segment.blockPostings(block) : 0;
  }

  next(): boolean {
    if (this.ordinal + 1 >= this.segment.terms) return false;
    this.ordinal++;
    const cursor = this.cursor;
    const shared = cursor.varint();
    const suffix = cursor.varint();
    const start = cursor.skip(suffix);
    if (shared > this.term.length)
      throw corrupt(basename(this.segment.path), "a term shares more than it has");
    if (shared + suffix > this.termBuffer.length) {
      const bigger = Buffer.alloc(Math.max(shared + suffix, this.termBuffer.length * 2));
      this.termBuffer.copy(bigger, 0, 0, shared);
      this.termBuffer = bigger;
    }
    this.segment.dictionaryBytes.copy(this.termBuffer, shared, start, start + suffix);
    this.term = this.termBuffer.subarray(0, shared + suffix);
    this.df = cursor.varint();
    this.docBytes = cursor.varint();
    this.positionBytes = cursor.varint();
    this.docCrc = cursor.uint32();
    this.positionCrc = cursor.uint32();
    this.surfaceLength = cursor.varint();
    this.surfaceStart = cursor.skip(this.surfaceLength);
    this.postingsOffset = this.nextOffset;
    this.nextOffset += this.docBytes + this.positionBytes;
    if (
      this.postingsOffset + this.docBytes + this.positionBytes >
      this.segment.sections.postings.length
    ) {
      throw corrupt(basename(this.segment.path), "a term's postings run past their section");
    }
    return true;
  }

  /** The current term as a TermEntry. */
  entry(): TermEntry {
    return {
      df: this.df,
      docBytes: this.docBytes,
      positionBytes: this.positionBytes,
      docCrc: this.docCrc,
      positionCrc: this.positionCrc,
      postingsOffset: this.postingsOffset,
      surface:
        this.surfaceLength === 0
          ? null
          : this.segment.dictionaryBytes.toString(
              "utf8",
              this.surfaceStart,
              this.surfaceStart + this.surfaceLength,
            ),
    };
  }

  /** The current term's surface bytes, or null if it is the term itself. */
  surfaceBytes(): Buffer | null {
    if (this.surfaceLength === 0) return null;
    return this.segment.dictionaryBytes.subarray(
      this.surfaceStart,
      this.surfaceStart + this.surfaceLength,
    );
  }
}
