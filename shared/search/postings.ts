// A term's postings in blocks, with the skip data that lets a query step over pages it does not
// need: formats 2 to 4 of the index (3 has the same bytes, its impacts computed with a title weight
// of 15 instead of 5; 4 adds each page's heading frequency, and computes the impacts with it and
// with a body b of 0.3 instead of 0.75). Format 1 kept one flat list per term, and a query read all
// of it; its cost was linear in the list's length, about 70 ns a page, so a word on every page of a
// million-page index took 70 ms before ranking began. Here the doc part is cut into blocks of BLOCK
// pages, and a skip table in front of them says, per block:
//
//   last     the block's last doc id, so that advance(target) finds the block to decode without
//            decoding the ones before it (Lucene's skip lists; here one level, read whole)
//   bytes    the lengths of the block's doc and positions parts, to jump to either
//   impact   the highest term frequency tf~ (BM25F's weighted, length-normalised sum) of any page
//            in the block, rounded up: from it and the term's idf, the most a page of the block
//            can add to a score. A query that already holds k pages scoring more than a block's
//            bound for every term together skips that block undecoded: block-max pruning, as
//            Lucene's block-max WAND and MaxScore do (Ding & Suel, "Faster top-k document
//            retrieval using block-max indexes", SIGIR 2011).
//
// The impact is computed with the segment's own average lengths. A reader whose index has several
// segments normalises with the averages of them all, which may differ; since a length norm
// 1 - b + b·len/avg changes by at most the ratio of two averages, the reader multiplies each
// segment's impacts by that ratio (boundFactor) and the bound stays a bound.
//
//   doc part       skip table: per block, varint (last − the previous block's last, from 0),
//                  varint doc bytes, varint position bytes, varint impact (ceil(tf~ × IMPACT_SCALE));
//                  then the blocks: per page, varint doc-id gap (from the page before, in any
//                  block; the first from 0), varint title frequency, varint body frequency,
//                  varint heading frequency (how many of the body's occurrences are in headings)
//   positions part per page in the same order, its positions, each a varint gap from the one
//                  before (the first from 0)
import { ByteBuffer } from "./bytes.ts";
import { Cursor, corrupt } from "./format.ts";

/** Pages per block: Lucene's choice too; a block's bound covers few enough pages to be tight. */
export const BLOCK = 128;
/** Impacts are stored as ceil(tf~ × this): two bytes each, and never below the true value. */
export const IMPACT_SCALE = 256;

// BM25F's constants (search.ts explains them); the impacts need them when the index is written,
// so changing one changes what an index's bytes mean: FORMAT_VERSION is bumped with it.
export const K1 = 1.2;
export const TITLE_WEIGHT = 15;
export const TITLE_B = 0.5;
export const BODY_B = 0.3;
/** What a body word in a heading counts besides itself: a heading word counts 1 + 4 body words. */
export const HEADING_WEIGHT = 4;

/** The length norm of a field: 1 − b + b × length / average. */
export function lengthNorm(b: number, length: number, average: number): number {
  return 1 - b + (b * length) / average;
}

/**
 * BM25F's weighted, length-normalised term frequency tf~ of a page, from its title, body and
 * heading frequencies and its title's and body's length norms. Headings are part of the body, and
 * normalised by its length: a heading word is a body word that counts more.
 */
export function weightedTf(
  inTitle: number,
  inBody: number,
  inHeading: number,
  titleNorm: number,
  bodyNorm: number,
): number {
  return (TITLE_WEIGHT * inTitle) / titleNorm + (inBody + HEADING_WEIGHT * inHeading) / bodyNorm;
}

/** The page lengths a writer knows, for the impacts: per local doc id, and their averages. */
export interface Lengths {
  titleTokens: ArrayLike<number>;
  bodyTokens: ArrayLike<number>;
  averageTitle: number;
  averageBody: number;
}

/**
 * Writes one term's postings in format 4, page by page in doc-id order: add() each page, then
 * finish() gives the doc part and the positions part. One encoder is reused term after term.
 */
export class PostingsEncoder {
  df = 0;
  private readonly skips = new ByteBuffer(1 << 10);
  private readonly blocks = new ByteBuffer(1 << 16);
  private readonly positions = new ByteBuffer(1 << 16);
  private readonly docPart = new ByteBuffer(1 << 16);
  private lastDoc = 0;
  private previousBlockLast = 0;
  private inBlock = 0;
  private blockStart = 0;
  private blockPositionStart = 0;
  private blockImpact = 0;

  private readonly lengths: Lengths;

  constructor(lengths: Lengths) {
    this.lengths = lengths;
  }

  reset(): void {
    this.df = 0;
    this.skips.clear();
    this.blocks.clear();
    this.positions.clear();
    this.lastDoc = this.previousBlockLast = 0;
    this.inBlock = this.blockStart = this.blockPositionStart = this.blockImpact = 0;
  }

  /**
   * A page that has the term: its doc id (ascending), frequencies, and its positions' bytes,
   * positions[start, end) (all of them by default).
   */
  add(
    doc: number,
    inTitle: number,
    inBody: number,
    inHeading: number,
    positions: Uint8Array,
    start = 0,
    end = positions.length,
  ): void {
    const { lengths } = this;
    const tf = weightedTf(
      inTitle,
      inBody,
      inHeading,
      lengthNorm(TITLE_B, lengths.titleTokens[doc]!, lengths.averageTitle),
      lengthNorm(BODY_B, lengths.bodyTokens[doc]!, lengths.averageBody),
    );
    const impact = Math.ceil(tf * IMPACT_SCALE);
    if (impact > this.blockImpact) this.blockImpact = impact;
    this.blocks.varint(doc - this.lastDoc);
    this.blocks.varint(inTitle);
    this.blocks.varint(inBody);
    this.blocks.varint(inHeading);
    this.positions.append(positions, start, end);
    this.lastDoc = doc;
    this.df++;
    if (++this.inBlock === BLOCK) this.endBlock();
  }

  /** The term's doc part and positions part: views, valid until the next reset(). */
  finish(): { docs: Uint8Array; positions: Uint8Array } {
    if (this.inBlock > 0) this.endBlock();
    this.docPart.clear();
    this.docPart.append(this.skips.view());
    this.docPart.append(this.blocks.view());
    return { docs: this.docPart.view(), positions: this.positions.view() };
  }

  private endBlock(): void {
    this.skips.varint(this.lastDoc - this.previousBlockLast);
    this.skips.varint(this.blocks.length - this.blockStart);
    this.skips.varint(this.positions.length - this.blockPositionStart);
    this.skips.varint(this.blockImpact);
    this.previousBlockLast = this.lastDoc;
    this.blockStart = this.blocks.length;
    this.blockPositionStart = this.positions.length;
    this.inBlock = 0;
    this.blockImpact = 0;
  }
}

/**
 * Reads one term's postings page by page, front to back, checking everything: what a merge
 * needs. next() is false at the end; then doc, inTitle, inBody, inHeading, positionsStart and
 * positionsEnd are the page's.
 */
export class PostingsReader {
  doc = -1;
  inTitle = 0;
  inBody = 0;
  inHeading = 0;
  private readonly skip: Cursor;
  private readonly docs: Cursor;
  private readonly positionBytes: Uint8Array;
  private positionAt = 0;
  private positionStart = 0;
  private read = 0;
  private inBlock = 0;
  private blockLast = 0;
  private blockEnd = 0;
  private blockPositionsEnd = 0;
  private readonly df: number;
  private readonly pages: number;
  private readonly where: string;

  constructor(docs: Uint8Array, positions: Uint8Array, df: number, pages: number, where: string) {
    this.df = df;
    this.pages = pages;
    this.where = where;
    this.skip = new Cursor(docs, 0, docs.length, where);
    // The skip table is read as the blocks are, one entry ahead: its length is known only once
    // read, so the blocks' cursor starts after it.
    const blocks = Math.ceil(df / BLOCK);
    const probe = new Cursor(docs, 0, docs.length, where);
    for (let i = 0; i < blocks * 4; i++) probe.varint();
    this.docs = new Cursor(docs, probe.at, docs.length, where);
    this.blockEnd = probe.at;
    this.positionBytes = positions;
  }

  next(): boolean {
    if (this.read === this.df) {
      if (this.docs.at !== this.docs.end || this.positionAt !== this.positionBytes.length) {
        throw corrupt(this.where, "a term's postings do not match its page count");
      }
      return false;
    }
    if (this.inBlock === 0) {
      if (this.docs.at !== this.blockEnd || this.positionAt !== this.blockPositionsEnd) {
        throw corrupt(this.where, "a block's length does not match its pages");
      }
      this.blockLast += this.skip.varint();
      this.blockEnd = this.docs.at + this.skip.varint();
      this.blockPositionsEnd = this.positionAt + this.skip.varint();
      this.skip.varint(); // the impact: a merge computes it again
      this.inBlock = Math.min(BLOCK, this.df - this.read);
    }
    const gap = this.docs.varint();
    if (this.read > 0 && gap === 0) throw corrupt(this.where, "a doc id is out of order");
    this.doc = (this.read === 0 ? 0 : this.doc) + gap;
    if (this.doc >= this.pages) throw corrupt(this.where, "a doc id is out of range");
    this.inTitle = this.docs.varint();
    this.inBody = this.docs.varint();
    this.inHeading = this.docs.varint();
    if (this.inHeading > this.inBody)
      throw corrupt(this.where, "more in headings than in the body");
    // The page's positions: as many varints as it has occurrences.
    this.positionStart = this.positionAt;
    const bytes = this.positionBytes;
    for (let n = this.inTitle + this.inBody; n > 0;) {
      if (this.positionAt >= bytes.length) throw corrupt(this.where, "positions end too soon");
      if (bytes[this.positionAt++]! < 0x80) n--;
    }
    this.read++;
    if (--this.inBlock === 0 && this.doc !== this.blockLast) {
      throw corrupt(this.where, "a block's last doc id does not match its skip entry");
    }
    return true;
  }

  /**
   * Where the current page's positions stand, as they are stored, in the positions bytes the
   * reader was given: [positionsStart, positionsEnd). A merge copies them from there.
   */
  get positionsStart(): number {
    return this.positionStart;
  }

  get positionsEnd(): number {
    return this.positionAt;
  }
}

/**
 * One term's postings in one segment, for a query: the skip table decoded at once (a few numbers
 * per 128 pages), a block decoded only when a page in it is needed. Doc ids are the segment's own.
 */
export class PostingsCursor {
  readonly df: number;
  readonly blocks: number;
  /** Per block: its last doc id, where its pages start in the doc part and in the positions. */
  readonly last: Int32Array;
  readonly impact: Float64Array; // tf~ bound, already scaled back and multiplied by boundFactor
  private readonly docStart: Float64Array;
  private readonly positionStart: Float64Array;
  private readonly bytes: Uint8Array;
  private readonly positionBytes: Uint8Array | null;
  private readonly pages: number;
  private readonly where: string;

  /** The decoded block. */
  block = -1;
  /** Pages in the decoded block. */
  count = 0;
  readonly docs = new Int32Array(BLOCK);
  readonly inTitle = new Int32Array(BLOCK);
  readonly inBody = new Int32Array(BLOCK);
  readonly inHeading = new Int32Array(BLOCK);
  /** The current page's index in the block; the cursor is exhausted when block === blocks. */
  index = 0;
  /** The current page's doc id (Infinity when exhausted). */
  doc = -1;

  // Positions of the decoded block, read up to the page `positionsFor`.
  private positionsBlock = -1;
  private positionsNext = 0;
  private positionsAt = 0;
  loaded = new Int32Array(16);
  loadedCount = 0;
  private loadedFor = -1;

  constructor(
    docs: Uint8Array,
    positions: Uint8Array | null,
    df: number,
    pages: number,
    boundFactor: number,
    where: string,
  ) {
    this.df = df;
    this.pages = pages;
    this.where = where;
    this.bytes = docs;
    this.positionBytes = positions;
    this.blocks = Math.ceil(df / BLOCK);
    this.last = new Int32Array(this.blocks);
    this.impact = new Float64Array(this.blocks);
    this.docStart = new Float64Array(this.blocks + 1);
    this.positionStart = new Float64Array(this.blocks + 1);
    const skip = new Cursor(docs, 0, docs.length, where);
    let last = 0;
    const lengths = new Float64Array(this.blocks);
    const positionLengths = new Float64Array(this.blocks);
    for (let b = 0; b < this.blocks; b++) {
      const gap = skip.varint();
      if (b > 0 && gap === 0) throw corrupt(where, "a skip entry is out of order");
      last += gap;
      if (last >= pages) throw corrupt(where, "a skip entry's doc id is out of range");
      this.last[b] = last;
      lengths[b] = skip.varint();
      positionLengths[b] = skip.varint();
      this.impact[b] = (skip.varint() / IMPACT_SCALE) * boundFactor;
    }
    let at = skip.at;
    let positionAt = 0;
    for (let b = 0; b < this.blocks; b++) {
      this.docStart[b] = at;
      this.positionStart[b] = positionAt;
      at += lengths[b]!;
      positionAt += positionLengths[b]!;
    }
    this.docStart[this.blocks] = at;
    this.positionStart[this.blocks] = positionAt;
    if (at !== docs.length || (positions !== null && positionAt !== positions.length)) {
      throw corrupt(where, "a term's blocks do not add up to its postings");
    }
  }

  /** The first block whose last doc id is at least target, from block `from` on; blocks if none. */
  blockOf(target: number, from = 0): number {
    const last = this.last;
    let b = Math.max(from, 0);
    // Galloping, then binary search: a query's targets ascend, often by little.
    let step = 1;
    while (b + step < this.blocks && last[b + step - 1]! < target) step *= 2;
    let low = b;
    let high = Math.min(b + step, this.blocks);
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (last[middle]! < target) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /**
   * The highest impact of the blocks that may hold pages from first to last (doc ids, both
   * included), or -1 if no page of the term can lie there. Asked with ascending windows.
   */
  maxImpact(first: number, last: number): number {
    // The first block that reaches first; it and those that begin before last cover the window.
    let b = (this.boundBlock = this.blockOf(first, this.boundBlock));
    if (b >= this.blocks) return -1;
    let max = this.impact[b]!;
    while (++b < this.blocks && this.last[b - 1]! < last) max = Math.max(max, this.impact[b]!);
    return max;
  }

  private boundBlock = 0;

  /** Decodes block b and puts the cursor on its first page. */
  loadBlock(b: number): void {
    this.block = b;
    this.index = 0;
    if (b >= this.blocks) {
      this.count = 0;
      this.doc = Infinity;
      return;
    }
    const cursor = new Cursor(this.bytes, this.docStart[b]!, this.docStart[b + 1]!, this.where);
    this.count = b === this.blocks - 1 ? this.df - b * BLOCK : BLOCK;
    let doc = b === 0 ? 0 : this.last[b - 1]!;
    for (let i = 0; i < this.count; i++) {
      const gap = cursor.varint();
      if ((i > 0 || b > 0) && gap === 0) throw corrupt(this.where, "a doc id is out of order");
      doc += gap;
      this.docs[i] = doc;
      this.inTitle[i] = cursor.varint();
      this.inBody[i] = cursor.varint();
      this.inHeading[i] = cursor.varint();
    }
    if (doc !== this.last[b] || cursor.at !== cursor.end) {
      throw corrupt(this.where, "a block does not match its skip entry");
    }
    this.doc = this.docs[0]!;
  }

  /** The current page's weighted term frequency tf~, given its title's and body's length norms. */
  tf(titleNorm: number, bodyNorm: number): number {
    const i = this.index;
    return weightedTf(this.inTitle[i]!, this.inBody[i]!, this.inHeading[i]!, titleNorm, bodyNorm);
  }

  /** Moves to the block's next page; false (and no move) at its last. */
  nextInBlock(): boolean {
    if (this.index + 1 >= this.count) return false;
    this.doc = this.docs[++this.index]!;
    return true;
  }

  /** Moves to the first page whose doc id is at least target (never back); Infinity if none. */
  advance(target: number): void {
    if (target <= this.doc) return;
    if (this.block < 0 || target > this.last[this.block]!) {
      this.loadBlock(this.blockOf(target, this.block + 1));
      if (this.doc >= target) return;
    }
    const docs = this.docs;
    let i = this.index;
    while (docs[i]! < target) i++; // the block's last doc is >= target
    this.index = i;
    this.doc = docs[i]!;
  }

  /** The current page's positions into `loaded` (the first `loadedCount`). */
  loadPositions(): void {
    const key = this.block * BLOCK + this.index;
    if (key === this.loadedFor) return;
    const bytes = this.positionBytes;
    if (bytes === null) throw new Error("positions were not read for this term");
    if (this.positionsBlock !== this.block || this.positionsNext > this.index) {
      this.positionsBlock = this.block;
      this.positionsNext = 0;
      this.positionsAt = this.positionStart[this.block]!;
    }
    // Skip the pages of the block before this one by counting varints: no array filled for them.
    const end = this.positionStart[this.block + 1]!;
    for (; this.positionsNext < this.index; this.positionsNext++) {
      for (let n = this.inTitle[this.positionsNext]! + this.inBody[this.positionsNext]!; n > 0;) {
        if (this.positionsAt >= end) throw corrupt(this.where, "positions end too soon");
        if (bytes[this.positionsAt++]! < 0x80) n--;
      }
    }
    const count = this.inTitle[this.index]! + this.inBody[this.index]!;
    if (count > this.loaded.length) this.loaded = new Int32Array(count * 2);
    const reader = new Cursor(bytes, this.positionsAt, end, this.where);
    for (let n = 0, position = 0; n < count; n++) {
      position += reader.varint();
      this.loaded[n] = position;
    }
    this.positionsAt = reader.at;
    this.positionsNext = this.index + 1;
    this.loadedCount = count;
    this.loadedFor = key;
  }
}
