// Building an index: pages go in one by one; the inverted index comes out in segments.
//
//   const writer = IndexWriter.create("out/index");
//   writer.add({ url, title, text, headings }); // -> { id, duplicate }
//   writer.close();                   // flush, merge the segments into one, write index.json
//
// The writer keeps one segment in memory and flushes it to a segment file when it grows past its
// memory budget, the way Lucene's IndexWriter does: memory stays bounded however many pages come
// (a million, in issue 15), and close() merges the segment files (merge.ts). Pages are written to
// the open segment file as they come; only the postings wait in memory.
//
// The hot path is add(). For each word it looks up the word's term id (learnt once per distinct
// word and segment) by where the word stands in the text, so that no string is made for a word
// met before, and writes the id into a reused Int32Array: no object per word.
// Each page is then folded into a byte log: per distinct term, its id, frequencies and position
// gaps as varints. The flush turns the log into postings grouped by term with two linear passes
// (count, then place), like a counting sort, rather than a list per term: a million small lists
// would cost more in object headers than in postings.
import { createHash } from "node:crypto";
import { mkdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import {
  ByteBuffer,
  HashMap64,
  SpanMap,
  Uint32List,
  grown,
  putVarint,
  varintLength,
} from "./bytes.ts";
import { lock, publish, readManifest, segmentNamer, unlock, type Manifest } from "./directory.ts";
import {
  DocColumnLists,
  SearchIndexError,
  SegmentWriter,
  TermsEncoder,
  sortedUrls,
} from "./format.ts";
import { mergeSegments } from "./merge.ts";
import { PostingsEncoder } from "./postings.ts";
import { Segment } from "./segment.ts";
import { fold, forEachWordSpan, stem } from "./tokens.ts";

export interface Page {
  url: string;
  title: string;
  /** The page's visible text, as shared/html.ts parsePage() gives it. */
  text: string;
  /**
   * The text of its headings, a part of `text` (parsePage() gives it too): a word of the text
   * that stands in a heading weighs more in the ranking. Not stored; none if left out.
   */
  headings?: string;
}

export interface Added {
  /** The page's doc id: its place in the index, counted from 0. */
  id: number;
  /**
   * Whether a page with the same title and text was added before (under another URL). Then it
   * is not stored again, and id is the earlier page's (-1 if another writer has it: `claim`).
   * A crawler counts it as a duplicate.
   */
  duplicate: boolean;
}

export interface WriterOptions {
  /**
   * About how many bytes the in-memory segment may take before it is flushed to disk (default
   * 64 MiB). Flushing needs about as much again for a moment.
   */
  memoryBudget?: number;
  /** Keep the pages already in the index and add to them, as a resumed crawl does. */
  append?: boolean;
  /** Merge all segments into one at close() (default true); false leaves them for the reader. */
  merge?: boolean;
  /**
   * For writers in several threads that index one crawl, each into its own part: asked about a
   * page whose title and text this writer has not met, by their hash; false if another writer
   * took them first, and the page is a duplicate here too. Without it, both parts would hold the
   * page, and the crawl would count it indexed twice until joinIndexes dropped one.
   */
  claim?: (hashHi: number, hashLo: number) => boolean;
}

export interface IndexSummary {
  dir: string;
  /** Pages in the index. */
  pages: number;
  /** Pages not stored because their title and text were already there. */
  duplicates: number;
  /** Segment files written by flushes before the merge. */
  flushes: number;
  /** Segment files the index has now. */
  segments: number;
  /** Bytes of the index's segment files. */
  bytes: number;
  mergeMs: number;
}

export const DEFAULT_MEMORY_BUDGET = 64 * 2 ** 20;

export class IndexWriter {
  /** Pages added (not counting duplicates), including those of an index appended to. */
  pages = 0;
  duplicates = 0;
  flushes = 0;
  private budget: number;
  private readonly segments: Manifest["segments"];
  private readonly written: string[] = []; // files this writer made, for abort()
  private readonly hashes = new HashMap64(); // hash of title and text -> doc id
  private readonly newSegmentName: () => string;
  private closed = false;

  // The segment in memory. Doc ids within it count from 0; `pages - docs` is its first global id.
  private file: SegmentWriter | null = null;
  private docs = 0;
  private readonly termIds = new Map<string, number>();
  private termStrings: string[] = [];
  private surfaces: (string | null)[] = [];
  private readonly wordIds = new SpanMap(); // a word as written -> term id, or -1
  private readonly log = new ByteBuffer(1 << 20);
  private columns = new DocColumnLists();
  private urlHi = new Uint32List(); // per page, the hash of its URL
  private urlLo = new Uint32List();
  private titleTokens = 0;
  private bodyTokens = 0;

  // Scratch for one page, reused: the term id at each position, and per term id the page it was
  // last seen on, its count, its title count and where its positions go.
  private tokens: Int32Array = new Int32Array(1024);
  private seenOn: Int32Array = new Int32Array(1024).fill(-1);
  private count: Int32Array = new Int32Array(1024);
  private titleCount: Int32Array = new Int32Array(1024);
  private headingCount: Int32Array = new Int32Array(1024);
  private next: Int32Array = new Int32Array(1024);
  private distinct: Int32Array = new Int32Array(1024);
  private grouped: Int32Array = new Int32Array(1024);
  private readonly record = new ByteBuffer(1 << 16);

  /**
   * Opens a writer on dir, creating it if need be. Only one writer may write an index at a
   * time: a second one gets a SearchIndexError("locked"). Without `append`, the pages already
   * there stay searchable until close() replaces them.
   */
  static create(dir: string, options: WriterOptions = {}): IndexWriter {
    mkdirSync(dir, { recursive: true });
    lock(dir);
    try {
      return new IndexWriter(dir, options);
    } catch (error) {
      unlock(dir);
      throw error;
    }
  }

  readonly dir: string;
  private readonly options: WriterOptions;

  private constructor(dir: string, options: WriterOptions) {
    this.dir = dir;
    this.options = options;
    this.budget = checkedBudget(options.memoryBudget ?? DEFAULT_MEMORY_BUDGET);
    this.segments = options.append ? existingSegments(dir) : [];
    this.newSegmentName = segmentNamer(dir);
    for (const { file } of this.segments) {
      const segment = Segment.open(join(dir, file));
      for (let doc = 0; doc < segment.pages; doc++) {
        this.hashes.set(segment.hashHi[doc]!, segment.hashLo[doc]!, this.pages + doc);
      }
      this.pages += segment.pages;
      segment.close();
    }
  }

  /**
   * A new memory budget (WriterOptions.memoryBudget), from the next page on: writers that share
   * one budget take a smaller share each when another one starts (examples/crawler/readers.ts).
   */
  resize(memoryBudget: number): void {
    this.budget = checkedBudget(memoryBudget);
  }

  /** Adds a page; returns its doc id, and whether the same title and text were added before. */
  add(page: Page): Added {
    if (this.closed) throw new Error("add() after close()");
    const { url, title, text, headings = "" } = page;
    if (
      typeof url !== "string" ||
      typeof title !== "string" ||
      typeof text !== "string" ||
      typeof headings !== "string"
    ) {
      throw new TypeError("add() takes { url, title, text, headings? }, all strings");
    }
    const hash = createHash("sha1").update(title).update("\0").update(text).digest();
    const [hashHi, hashLo] = [hash.readUInt32LE(0), hash.readUInt32LE(4)];
    const earlier = this.hashes.get(hashHi, hashLo);
    if (earlier !== -1 || this.options.claim?.(hashHi, hashLo) === false) {
      this.duplicates++;
      return { id: earlier, duplicate: true };
    }
    const id = this.pages++;
    this.hashes.set(hashHi, hashLo, id);

    // Title words take positions 0..T-1, body words T+1 on: the gap at T keeps a phrase from
    // running from the title into the body, and a position says which field it is in.
    this.text = title;
    const titleLength = forEachWordSpan(title, this.onWord);
    this.tokens = grown(this.tokens, titleLength + 1);
    this.tokens[titleLength] = -1;
    this.text = text;
    const end = forEachWordSpan(text, this.onWord, titleLength + 1);
    // The headings' words go after the body's in the scratch array, only to be counted.
    this.text = headings;
    const headingEnd = forEachWordSpan(headings, this.onHeadingWord, end);
    this.text = "";
    this.foldIntoLog(titleLength, end, headingEnd);

    this.file ??= new SegmentWriter(join(this.dir, this.newSegmentName()));
    const [length, crc] = this.file.addPage(url, title, text, this.record);
    const urlHash = createHash("sha1").update(url).digest();
    this.columns.push({
      pageLength: length,
      pageCrc: crc,
      titleTokens: titleLength,
      bodyTokens: end - titleLength - 1,
      hashHi,
      hashLo,
    });
    this.urlHi.push(urlHash.readUInt32LE(0));
    this.urlLo.push(urlHash.readUInt32LE(4));
    this.titleTokens += titleLength;
    this.bodyTokens += end - titleLength - 1;
    this.docs++;
    if (this.memoryUsed() > this.budget) this.flush();
    return { id, duplicate: false };
  }

  // Bound once, not a closure per page; the word stands in this.text at [start, end).
  private text = "";
  private readonly onWord = (start: number, end: number, position: number): void => {
    let id = this.wordIds.get(this.text, start, end);
    if (id === SpanMap.MISSING) id = this.learn(this.text.slice(start, end));
    if (position >= this.tokens.length) this.tokens = grown(this.tokens, position + 1);
    this.tokens[position] = id;
  };

  // A heading's words are words of the text, whose terms are known by now: a word that is not
  // (a caller's headings that are not in its text) is -1, not a new term that no page has.
  private readonly onHeadingWord = (start: number, end: number, position: number): void => {
    let id = this.wordIds.get(this.text, start, end);
    if (id === SpanMap.MISSING) {
      const folded = fold(this.text.slice(start, end));
      id = folded === "" ? -1 : (this.termIds.get(stem(folded)) ?? -1);
    }
    if (position >= this.tokens.length) this.tokens = grown(this.tokens, position + 1);
    this.tokens[position] = id;
  };

  /** The term id of a word met for the first time in this segment. */
  private learn(word: string): number {
    const folded = fold(word);
    let id = -1;
    if (folded !== "") {
      const term = stem(folded);
      id = this.termIds.get(term) ?? -1;
      if (id === -1) {
        id = this.termStrings.length;
        this.termIds.set(term, id);
        this.termStrings.push(term);
        this.surfaces.push(folded === term ? null : folded);
        const size = id + 1;
        this.seenOn = grown(this.seenOn, size, -1);
        this.count = grown(this.count, size);
        this.titleCount = grown(this.titleCount, size);
        this.headingCount = grown(this.headingCount, size);
        this.next = grown(this.next, size);
        this.distinct = grown(this.distinct, size);
      }
    }
    // Web pages bring endless one-off words (ids, numbers, typos); past this many, start over.
    if (this.wordIds.size >= 200_000) this.wordIds.clear();
    this.wordIds.set(word, id);
    return id;
  }

  /**
   * Appends the page just tokenised to the log: the number of distinct terms, then per term its
   * id, title, body and heading frequencies, and its positions as gaps. The tokens from `end` to
   * `headingEnd` are the headings' words: counted for the terms of the text, not positions.
   */
  private foldIntoLog(titleLength: number, end: number, headingEnd: number): void {
    // `distinct` has room for every term of the segment (learn() grows it), so none is checked.
    const { tokens, seenOn, count, titleCount, headingCount, next, distinct: distinctIds } = this;
    const doc = this.docs;
    let distinct = 0;
    for (let position = 0; position < end; position++) {
      const id = tokens[position]!;
      if (id < 0) continue;
      if (seenOn[id] !== doc) {
        seenOn[id] = doc;
        count[id] = 0;
        titleCount[id] = 0;
        headingCount[id] = 0;
        distinctIds[distinct++] = id;
      }
      count[id]!++;
      if (position < titleLength) titleCount[id]!++;
    }
    for (let position = end; position < headingEnd; position++) {
      const id = tokens[position]!;
      if (id >= 0 && seenOn[id] === doc) headingCount[id]!++;
    }
    // Where each term's positions go in `grouped`: one slot per occurrence, terms one after
    // another. Filling them in position order leaves each term's positions sorted.
    this.grouped = grown(this.grouped, end);
    let slot = 0;
    for (let i = 0; i < distinct; i++) {
      const id = distinctIds[i]!;
      next[id] = slot;
      slot += count[id]!;
    }
    const grouped = this.grouped;
    for (let position = 0; position < end; position++) {
      const id = tokens[position]!;
      if (id >= 0) grouped[next[id]!++] = position;
    }

    const log = this.log;
    log.reserve(5 + distinct * 20 + slot * 5);
    const bytes = log.bytes;
    let at = putVarint(bytes, log.length, distinct);
    slot = 0;
    for (let i = 0; i < distinct; i++) {
      const id = distinctIds[i]!;
      const n = count[id]!;
      const inBody = n - titleCount[id]!;
      at = putVarint(bytes, at, id);
      at = putVarint(bytes, at, titleCount[id]!);
      at = putVarint(bytes, at, inBody);
      // A heading is a part of the body: never more of a term there than in the body.
      at = putVarint(bytes, at, Math.min(headingCount[id]!, inBody));
      let previous = 0;
      for (const stop = slot + n; slot < stop; slot++) {
        at = putVarint(bytes, at, grouped[slot]! - previous);
        previous = grouped[slot]!;
      }
    }
    log.length = at;
  }

  private memoryUsed(): number {
    // The log, and the postings the flush will build from it; about 100 bytes per term for the
    // Maps and strings; 40 bytes per page for the columns.
    return (
      this.log.length * 2 + (this.termStrings.length + this.wordIds.size) * 100 + this.docs * 40
    );
  }

  /** Writes the segment in memory to its file, if it has any pages. close() calls it too. */
  flush(): void {
    if (this.file === null) return;
    const file = this.file;
    try {
      this.writePostings(file);
    } catch (error) {
      file.abort();
      throw error;
    }
    this.written.push(file.path);
    this.flushes++;
    this.resetSegment();
  }

  /**
   * Makes the pages added so far durable: flushes the segment in memory and publishes the
   * segments written so far (index.json names them, unmerged), so that a reader, or a merge after
   * this process is killed, finds them. Without `append`, that replaces the index that was there.
   * abort() after it keeps what it published. A crawler sharing its crawl with others calls it
   * before it tells them a page is done (examples/crawler/readers.ts).
   */
  commit(): void {
    if (this.closed) throw new Error("commit() after close()");
    this.flush();
    publish(this.dir, this.segments);
    this.written.length = 0; // part of the index now
  }

  // The three passes are functions of their own, not one long method: V8 compiles a hot loop
  // (on-stack replacement) with the whole function around it, and a later pass that meets a path
  // the earlier ones never took throws that code away and compiles it all again, which cost more
  // than the passes themselves on a flush of 500 pages.
  private writePostings(file: SegmentWriter): void {
    const termCount = this.termStrings.length;
    const { docBytes, positionBytes, df } = measurePostings(this.log, termCount);

    // Terms in byte order, and where each one's postings start.
    const strings = this.termStrings;
    const encoded = strings.map((term) => Buffer.from(term, "utf8"));
    const order = Array.from({ length: termCount }, (_, i) => i).sort((a, b) =>
      codePointOrder(strings[a]!, strings[b]!),
    );
    const docAt = new Float64Array(termCount);
    const positionAt = new Float64Array(termCount);
    let total = 0;
    for (const id of order) {
      docAt[id] = total;
      positionAt[id] = total + docBytes[id]!;
      total += docBytes[id]! + positionBytes[id]!;
    }
    const docStart = docAt.slice();
    const postings = scatterPostings(this.log, total, docAt, positionAt);

    // Pass 3, term by term in order: each flat list into blocks with their skip table and
    // impacts (postings.ts), which need the pages' lengths and the segment's averages.
    const columns = this.columns.views();
    const encoder = new PostingsEncoder({
      titleTokens: columns.titleTokens,
      bodyTokens: columns.bodyTokens,
      averageTitle: this.titleTokens / this.docs || 1,
      averageBody: this.bodyTokens / this.docs || 1,
    });
    const docs = new LogReader(postings);
    const positions = new LogReader(postings);
    file.startPostings();
    const terms = new TermsEncoder();
    for (const id of order) {
      docs.at = docStart[id]!;
      positions.at = docStart[id]! + docBytes[id]!;
      const list = encodeTerm(encoder, df[id]!, postings, docs, positions);
      const postingsOffset = file.postingsLength;
      file.writePostings(list.docs);
      file.writePostings(list.positions);
      const surface = this.surfaces[id];
      terms.add(encoded[id]!, surface == null ? null : Buffer.from(surface, "utf8"), {
        df: df[id]!,
        docBytes: list.docs.length,
        positionBytes: list.positions.length,
        docCrc: crc32(list.docs),
        positionCrc: crc32(list.positions),
        postingsOffset,
      });
    }

    const urls = sortedUrls(this.urlHi.view(), this.urlLo.view());
    const bytes = file.finish(columns, terms.finish(), urls, {
      pages: this.docs,
      terms: termCount,
      titleTokens: this.titleTokens,
      bodyTokens: this.bodyTokens,
    });
    this.segments.push({ file: file.path.slice(this.dir.length + 1), pages: this.docs, bytes });
  }

  private resetSegment(): void {
    this.file = null;
    this.docs = 0;
    this.termIds.clear();
    this.termStrings = [];
    this.surfaces = [];
    this.wordIds.clear();
    this.log.clear();
    this.columns = new DocColumnLists();
    this.urlHi = new Uint32List();
    this.urlLo = new Uint32List();
    this.titleTokens = 0;
    this.bodyTokens = 0;
    this.seenOn.fill(-1);
  }

  /**
   * Flushes what is in memory, merges the segments into one (unless `merge: false`), writes
   * index.json and deletes the segment files it no longer names. Synchronous, like add().
   */
  close(): IndexSummary {
    if (this.closed) throw new Error("close() twice");
    this.flush();
    const flushes = this.flushes;
    let mergeMs = 0;
    let segments = this.segments;
    try {
      if (this.options.merge !== false && segments.length > 1) {
        const started = performance.now();
        const inputs = segments.map(({ file }) => Segment.open(join(this.dir, file)));
        const name = this.newSegmentName();
        try {
          const merged = mergeSegments(inputs, join(this.dir, name));
          segments = [{ file: name, pages: merged.pages, bytes: merged.bytes }];
        } finally {
          for (const input of inputs) input.close();
        }
        mergeMs = performance.now() - started;
      }
    } catch (error) {
      this.abort();
      throw error;
    }
    this.closed = true;
    try {
      publish(this.dir, segments);
    } finally {
      unlock(this.dir);
    }
    return {
      dir: this.dir,
      pages: this.pages,
      duplicates: this.duplicates,
      flushes,
      segments: segments.length,
      bytes: segments.reduce((sum, s) => sum + s.bytes, 0),
      mergeMs,
    };
  }

  /** Stops without touching the index: deletes what this writer wrote and releases the lock. */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    this.file?.abort();
    for (const path of this.written) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    }
    unlock(this.dir);
  }
}

function checkedBudget(budget: number): number {
  if (!(budget > 0)) throw new RangeError(`memoryBudget must be positive, got ${budget}`);
  // A flush builds the postings in one Buffer, and a Buffer holds at most 4 GiB.
  return Math.min(budget, 2 ** 30);
}

// The segments of the index in dir, to append to; none if there is no index yet.
/** Pass 1 of a flush: how many bytes each term's doc part and positions part take, and its df. */
function measurePostings(log: ByteBuffer, termCount: number) {
  const docBytes = new Int32Array(termCount);
  const positionBytes = new Int32Array(termCount);
  const df = new Int32Array(termCount);
  const lastDoc = new Int32Array(termCount);
  const reader = new LogReader(log.bytes);
  const logEnd = log.length;
  for (let doc = 0; reader.at < logEnd; doc++) {
    for (let distinct = reader.varint(); distinct > 0; distinct--) {
      const id = reader.varint();
      const inTitle = reader.varint();
      const inBody = reader.varint();
      const inHeading = reader.varint();
      const start = reader.at;
      reader.skip(inTitle + inBody);
      docBytes[id]! +=
        varintLength(doc - lastDoc[id]!) +
        varintLength(inTitle) +
        varintLength(inBody) +
        varintLength(inHeading);
      positionBytes[id]! += reader.at - start;
      lastDoc[id] = doc;
      df[id]!++;
    }
  }
  return { docBytes, positionBytes, df };
}

/**
 * Pass 2: each entry of the log to its term's place in one buffer of `total` bytes, where docAt
 * and positionAt say each term's parts start (and are moved past what is written).
 */
function scatterPostings(
  log: ByteBuffer,
  total: number,
  docAt: Float64Array,
  positionAt: Float64Array,
): Buffer {
  const postings = Buffer.allocUnsafe(total);
  const bytes = log.bytes;
  const logEnd = log.length;
  const lastDoc = new Int32Array(docAt.length);
  const reader = new LogReader(bytes);
  for (let doc = 0; reader.at < logEnd; doc++) {
    for (let distinct = reader.varint(); distinct > 0; distinct--) {
      const id = reader.varint();
      const inTitle = reader.varint();
      const inBody = reader.varint();
      const inHeading = reader.varint();
      let out = putVarint(postings, docAt[id]!, doc - lastDoc[id]!);
      out = putVarint(postings, out, inTitle);
      out = putVarint(postings, out, inBody);
      docAt[id] = putVarint(postings, out, inHeading);
      lastDoc[id] = doc;
      const start = reader.at;
      reader.skip(inTitle + inBody);
      let place = positionAt[id]!;
      for (let k = start; k < reader.at; k++) postings[place++] = bytes[k]!;
      positionAt[id] = place;
    }
  }
  return postings;
}

/** Pass 3, for one term: its flat lists in postings (read at docs and positions) encoded. */
function encodeTerm(
  encoder: PostingsEncoder,
  df: number,
  postings: Uint8Array,
  docs: LogReader,
  positions: LogReader,
) {
  encoder.reset();
  for (let n = 0, doc = 0; n < df; n++) {
    doc += docs.varint();
    const inTitle = docs.varint();
    const inBody = docs.varint();
    const inHeading = docs.varint();
    const start = positions.at;
    positions.skip(inTitle + inBody);
    encoder.add(doc, inTitle, inBody, inHeading, postings, start, positions.at);
  }
  return encoder.finish();
}

function existingSegments(dir: string): Manifest["segments"] {
  try {
    return readManifest(dir).segments;
  } catch (error) {
    if (error instanceof SearchIndexError && error.reason === "missing") return [];
    throw error;
  }
}

// The order of two strings' UTF-8 bytes, which is the order of their code points, the order of
// the term dictionary. Comparing the strings themselves spares a call into C++ per comparison
// (Buffer.compare), n log n of them. JavaScript's < compares UTF-16 code units, which agree with
// code points except that a surrogate (half of a code point past U+FFFF) is below U+E000..U+FFFF
// as a code unit and above them as a code point: the two ranges are swapped before comparing.
// Terms never hold a lone surrogate (no word does), which UTF-8 could not encode.
function codePointOrder(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
    if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

// Reads back the log. Only bytes this writer wrote itself are read here, so no bounds checks.
class LogReader {
  at = 0;

  private readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  // Both loops work on locals and store `at` once: a field read and written at every byte kept
  // skip(), which walks over every position three times in a flush, at a tenth of its speed.
  varint(): number {
    const bytes = this.bytes;
    let at = this.at;
    let value = 0;
    for (let factor = 1; ; factor *= 128) {
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * factor;
      if (byte < 0x80) {
        this.at = at;
        return value;
      }
    }
  }

  skip(varints: number): void {
    const bytes = this.bytes;
    let at = this.at;
    while (varints > 0) if (bytes[at++]! < 0x80) varints--;
    this.at = at;
  }
}
