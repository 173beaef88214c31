// Merging segments into one: what the writer's close() does with the segments its flushes left,
// and what joins the indexes that several crawler processes wrote (mergeIndexes). And joining
// indexes without a merge, their segments taken as they are (joinIndexes, for the parts of one
// crawl), with the policy that says when some must be merged after all.
//
// Every input is read front to back, once: pages in doc order, and postings in term order, which
// is the order the dictionaries are in, so a k-way merge of the dictionaries (a heap of cursors,
// as Lucene and LevelDB merge theirs) reads each postings section sequentially. Memory holds one
// term's postings at a time, the dictionaries and the per-page columns, never the text.
//
// Doc ids are renumbered by concatenation: the first input's pages first, except a page whose
// title and text an earlier page already has (two crawler processes may each have fetched one of
// two URLs with the same body), which is dropped. Each term's lists are decoded and encoded again
// (postings.ts): the blocks fall elsewhere once lists are joined, and each block's impact depends
// on the merged index's average page lengths. Positions are copied as bytes, page by page.
import { copyFileSync, existsSync, linkSync, mkdirSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { crc32 } from "node:zlib";
import { FileSource, HashMap64, Uint32List } from "./bytes.ts";
import {
  MANIFEST,
  lock,
  publish,
  readManifest,
  segmentNamer,
  unlock,
  type Manifest,
} from "./directory.ts";
import {
  DOC_COLUMNS,
  DocColumnLists,
  SegmentWriter,
  TermsEncoder,
  corrupt,
  sortedUrls,
} from "./format.ts";
import { PostingsEncoder, PostingsReader } from "./postings.ts";
import { Segment, type TermCursor } from "./segment.ts";

export interface MergeSummary {
  pages: number;
  terms: number;
  bytes: number;
  /** Pages dropped because an earlier page had the same title and text. */
  duplicates: number;
}

/** Merges the segments, in order, into one new segment file at path. */
export function mergeSegments(inputs: Segment[], path: string): MergeSummary {
  // Each input page's new doc id, or -1 if an earlier page has its title and text.
  const seen = new HashMap64();
  let pages = 0;
  let duplicates = 0;
  const newIds = inputs.map((input) => {
    const ids = new Int32Array(input.pages);
    for (let doc = 0; doc < input.pages; doc++) {
      const [hi, lo] = [input.hashHi[doc]!, input.hashLo[doc]!];
      if (seen.get(hi, lo) !== -1) {
        ids[doc] = -1;
        duplicates++;
      } else {
        seen.set(hi, lo, pages);
        ids[doc] = pages++;
      }
    }
    return ids;
  });

  const out = new SegmentWriter(path);
  try {
    const columns = copyPages(inputs, newIds, out);
    let titleTokens = 0;
    let bodyTokens = 0;
    const docs = columns.views();
    for (let doc = 0; doc < pages; doc++) {
      titleTokens += docs.titleTokens[doc]!;
      bodyTokens += docs.bodyTokens[doc]!;
    }
    out.startPostings();
    const encoder = new PostingsEncoder({
      titleTokens: docs.titleTokens,
      bodyTokens: docs.bodyTokens,
      averageTitle: titleTokens / pages || 1,
      averageBody: bodyTokens / pages || 1,
    });
    const terms = mergePostings(inputs, newIds, out, encoder);
    const urls = mergeUrls(inputs, newIds);
    const bytes = out.finish(docs, terms.finish(), urls, {
      pages,
      terms: terms.count,
      titleTokens,
      bodyTokens,
    });
    return { pages, terms: terms.count, bytes, duplicates };
  } catch (error) {
    out.abort();
    throw error;
  }
}

// The pages sections, copied record by record (each checked against its CRC-32), and the docs
// columns of the pages kept.
function copyPages(inputs: Segment[], newIds: Int32Array[], out: SegmentWriter): DocColumnLists {
  const columns = new DocColumnLists();
  inputs.forEach((input, i) => {
    const source = input.source("pages");
    for (let doc = 0; doc < input.pages; doc++) {
      const record = read(source, input.pageLength[doc]!, input);
      if (crc32(record) !== input.pageCrc[doc])
        throw corrupt(input.path, "a page fails its checksum");
      if (newIds[i]![doc] === -1) continue;
      out.copyPage(record);
      for (const name of DOC_COLUMNS) columns.lists[name].push(input[name][doc]!);
    }
  });
  return columns;
}

// The dictionaries merged in term order, each term's lists joined in input order and encoded
// again: the blocks and their impacts depend on the new doc ids and the new average lengths.
function mergePostings(
  inputs: Segment[],
  newIds: Int32Array[],
  out: SegmentWriter,
  encoder: PostingsEncoder,
): TermsEncoder {
  const cursors = inputs.map((input) => input.cursor());
  const sources = inputs.map((input) => input.source("postings"));
  const heap = new CursorHeap(cursors);
  cursors.forEach((cursor, i) => cursor.next() && heap.push(i));

  const terms = new TermsEncoder();
  while (heap.size > 0) {
    // Every input with the smallest term, in input order: the heap breaks ties by input.
    const first = heap.pop();
    const term = Buffer.from(cursors[first]!.term);
    const surface = cursors[first]!.surfaceBytes();
    const same = [first];
    while (heap.size > 0 && cursors[heap.peek()]!.term.equals(term)) same.push(heap.pop());

    encoder.reset();
    for (const i of same) {
      const cursor = cursors[i]!;
      const input = inputs[i]!;
      const postings = read(sources[i]!, cursor.docBytes + cursor.positionBytes, input);
      const docs = postings.subarray(0, cursor.docBytes);
      const positions = postings.subarray(cursor.docBytes);
      if (crc32(docs) !== cursor.docCrc || crc32(positions) !== cursor.positionCrc) {
        throw corrupt(input.path, "a term's postings fail their checksum");
      }
      const reader = new PostingsReader(docs, positions, cursor.df, input.pages, input.path);
      const ids = newIds[i]!;
      while (reader.next()) {
        const newId = ids[reader.doc]!;
        if (newId === -1) continue;
        const { inTitle, inBody, inHeading, positionsStart, positionsEnd } = reader;
        encoder.add(newId, inTitle, inBody, inHeading, positions, positionsStart, positionsEnd);
      }
      if (cursor.next()) heap.push(i);
    }
    if (encoder.df === 0) continue; // the term was only on dropped pages
    const list = encoder.finish();
    const postingsOffset = out.postingsLength;
    out.writePostings(list.docs);
    out.writePostings(list.positions);
    terms.add(term, surface, {
      df: encoder.df,
      docBytes: list.docs.length,
      positionBytes: list.positions.length,
      docCrc: crc32(list.docs),
      positionCrc: crc32(list.positions),
      postingsOffset,
    });
  }
  return terms;
}

function mergeUrls(inputs: Segment[], newIds: Int32Array[]): Uint32Array {
  const hi = new Uint32List();
  const lo = new Uint32List();
  const docs = new Uint32List();
  inputs.forEach((input, i) => {
    const table = input.urlTable();
    for (let k = 0; k < input.pages; k++) {
      const newId = newIds[i]![table[k * 3 + 2]!];
      if (newId === undefined) throw corrupt(input.path, "the urls section names a page it lacks");
      if (newId === -1) continue;
      hi.push(table[k * 3]!);
      lo.push(table[k * 3 + 1]!);
      docs.push(newId);
    }
  });
  return sortedUrls(hi.view(), lo.view(), docs.view());
}

function read(source: FileSource, length: number, input: Segment): Uint8Array {
  try {
    return source.read(length);
  } catch (error) {
    if (error instanceof RangeError) throw corrupt(input.path, error.message);
    throw error;
  }
}

// A binary min-heap of input numbers, ordered by each input's current term, then by input.
class CursorHeap {
  private readonly items: number[] = [];

  private readonly cursors: TermCursor[];

  constructor(cursors: TermCursor[]) {
    this.cursors = cursors;
  }

  get size(): number {
    return this.items.length;
  }

  peek(): number {
    return this.items[0]!;
  }

  push(input: number): void {
    const items = this.items;
    items.push(input);
    for (let i = items.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!this.less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }

  pop(): number {
    const items = this.items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      for (let i = 0; ;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && this.less(items[left]!, items[smallest]!)) smallest = left;
        if (right < items.length && this.less(items[right]!, items[smallest]!)) smallest = right;
        if (smallest === i) break;
        [items[i], items[smallest]] = [items[smallest]!, items[i]!];
        i = smallest;
      }
    }
    return top;
  }

  private less(a: number, b: number): boolean {
    return (Buffer.compare(this.cursors[a]!.term, this.cursors[b]!.term) || a - b) < 0;
  }
}

export interface IndexMergeSummary extends MergeSummary {
  dir: string;
  segments: number;
}

/**
 * Merges whole indexes (each a directory with its index.json), in order, into one index in
 * target, which may be one of them: one segment, written anew. This is how the indexes of several
 * crawler processes become the one that search reads (and joinIndexes, below, how the parts of
 * one crawl do, without the rewrite).
 */
export function mergeIndexes(sources: string[], target: string): IndexMergeSummary {
  const manifests = sources.map((source) => ({ source, manifest: readManifest(source) }));
  mkdirSync(target, { recursive: true });
  lock(target);
  const inputs: Segment[] = [];
  try {
    for (const { source, manifest } of manifests) {
      for (const { file } of manifest.segments) inputs.push(Segment.open(join(source, file)));
    }
    const name = segmentNamer(target)();
    const merged = mergeSegments(inputs, join(target, name));
    const segments = [{ file: name, pages: merged.pages, bytes: merged.bytes }];
    publish(target, segments);
    return { ...merged, dir: target, segments: 1 };
  } finally {
    for (const input of inputs) input.close();
    unlock(target);
  }
}

/**
 * An index joined from parts keeps at most this many segments: past it, joinIndexes merges some.
 * Each segment costs a query one dictionary lookup and one read per term, and an open file;
 * Lucene's merge policies let about ten segments of a size stand before they merge them.
 */
export const MAX_SEGMENTS = 10;

export interface JoinSummary {
  dir: string;
  /** Indexes joined into target (not counting target's own). */
  sources: number;
  pages: number;
  bytes: number;
  /** Segments the index has now. */
  segments: number;
  /** Segments that were merged into one (0: every segment was kept as it was). */
  merged: number;
  /** Pages dropped because an earlier segment had one with the same title and text. */
  duplicates: number;
  mergeMs: number;
}

/**
 * Joins indexes into target without rewriting them: their segments are hard-linked into target
 * (copied across file systems), renamed to fit in, and index.json names them in order after
 * target's own if `append` (a resumed crawl); without it, target's old segments go. The sources
 * are left as they were: a crawl deletes its parts after. A reader gives the same hits from these
 * segments as from their merge: it reads several segments with the statistics of all of them.
 *
 * Segments are merged only where they must be, and only neighbours, so that pages keep the order
 * a merge of all of them gives them (mergeSegments): where a segment repeats a page (its title and
 * text) that an earlier one has, which only a merge drops; and past maxSegments, the run of
 * neighbours with the fewest bytes that brings the count back to it (planMerge).
 */
export function joinIndexes(
  sources: string[],
  target: string,
  { append = false, maxSegments = MAX_SEGMENTS }: { append?: boolean; maxSegments?: number } = {},
): JoinSummary {
  if (!(maxSegments >= 1))
    throw new RangeError(`maxSegments must be 1 or more, got ${maxSegments}`);
  const started = performance.now();
  const own = resolve(target);
  const dirs = [...(append && existsSync(join(target, MANIFEST)) ? [target] : []), ...sources];
  const manifests = dirs.map((dir) => ({ dir, manifest: readManifest(dir) }));
  mkdirSync(target, { recursive: true });
  lock(target);
  const inputs: { segment: Segment; dir: string }[] = [];
  try {
    for (const { dir, manifest } of manifests) {
      for (const { file } of manifest.segments) {
        inputs.push({ segment: Segment.open(join(dir, file)), dir });
      }
    }
    const segments = inputs.map(({ segment }) => segment);
    const window = planMerge(
      segments.map((segment) => segment.bytes),
      repeats(segments),
      maxSegments,
    );
    const newName = segmentNamer(target);
    // New files only, the merged one and the links; none is in target's index until publish().
    let merge: { start: number; end: number; file: string; summary: MergeSummary } | null = null;
    if (window !== null) {
      const [start, end] = window;
      const file = newName();
      merge = {
        start,
        end,
        file,
        summary: mergeSegments(segments.slice(start, end), join(target, file)),
      };
    }
    const kept: Manifest["segments"] = [];
    for (let i = 0; i < inputs.length; i++) {
      const { segment, dir } = inputs[i]!;
      if (merge !== null && i === merge.start) {
        kept.push({ file: merge.file, pages: merge.summary.pages, bytes: merge.summary.bytes });
        i = merge.end - 1;
        continue;
      }
      let file = basename(segment.path);
      if (resolve(dir) !== own) {
        file = newName();
        linkOrCopy(segment.path, join(target, file));
      }
      kept.push({ file, pages: segment.pages, bytes: segment.bytes });
    }
    const manifest = publish(target, kept);
    return {
      dir: target,
      sources: sources.length,
      pages: manifest.pages,
      bytes: kept.reduce((sum, s) => sum + s.bytes, 0),
      segments: kept.length,
      merged: merge === null ? 0 : merge.end - merge.start,
      duplicates: merge?.summary.duplicates ?? 0,
      mergeMs: performance.now() - started,
    };
  } finally {
    for (const { segment } of inputs) segment.close();
    unlock(target);
  }
}

// A link rather than a rename: the source stays whole until its owner deletes it, so a join cut
// short (a kill, a full disk) leaves both indexes as they were: target's index.json does not name
// the new links yet, and its next publish() deletes them. A segment file is never changed once
// written, so two directories may share one.
function linkOrCopy(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Another file system, or one without hard links.
    if (code !== "EXDEV" && code !== "EPERM" && code !== "ENOTSUP" && code !== "EMLINK")
      throw error;
    copyFileSync(from, to);
  }
}

// The span of segments [first, last] whose pages repeat one another (the same title and text,
// by the hash the writer keeps), or null if no page is in two of them. A writer stores a page
// once, so these are pages two writers both stored: two threads of a crawl, say, when two URLs
// gave different bytes with the same text (the crawler's digests catch only equal bytes).
function repeats(segments: Segment[]): [number, number] | null {
  const seen = new HashMap64(); // hash of title and text -> the first segment with it
  let [start, end] = [Infinity, -1];
  for (const [i, segment] of segments.entries()) {
    for (let doc = 0; doc < segment.pages; doc++) {
      const [hi, lo] = [segment.hashHi[doc]!, segment.hashLo[doc]!];
      const first = seen.get(hi, lo);
      if (first === -1) {
        seen.set(hi, lo, i);
      } else {
        start = Math.min(start, first);
        end = i;
      }
    }
  }
  return end === -1 ? null : [start, end];
}

/**
 * Which neighbouring segments to merge into one, as [start, end), or null for none. `bytes` is
 * each segment's size, in index order; `span` the first and last segment that must be merged
 * together (repeated pages), if any. Of the runs that cover span and leave at most maxSegments,
 * the one with the fewest bytes: so the big old segment of a long crawl stays as it is while a
 * resume's small new ones merge, and merges fall on segments of a size, as in the size-tiered
 * policies of Lucene (TieredMergePolicy) and Cassandra.
 */
export function planMerge(
  bytes: number[],
  span: [number, number] | null,
  maxSegments: number,
): [number, number] | null {
  const count = bytes.length;
  const length = Math.max(count > maxSegments ? count - maxSegments + 1 : 0, span ? 1 : 0);
  if (length === 0) return null;
  const before = [0];
  for (const size of bytes) before.push(before.at(-1)! + size);
  let best: [number, number] | null = null;
  let bestBytes = Infinity;
  for (let start = 0; start < count; start++) {
    // The shortest run from start that is long enough and covers the span is the cheapest.
    if (span && start > span[0]) break;
    const end = Math.max(start + length, span ? span[1] + 1 : 0);
    if (end > count) break;
    if (before[end]! - before[start]! < bestBytes) {
      best = [start, end];
      bestBytes = before[end]! - before[start]!;
    }
  }
  return best;
}
