// Merging segments into one: what the writer's close() does with the segments its flushes left,
// and what joins the indexes that several crawler processes wrote (mergeIndexes).
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
import { mkdirSync, renameSync } from "node:fs";
import { join, resolve } from "node:path";
import { crc32 } from "node:zlib";
import { FileSource, HashMap64, Uint32List } from "./bytes.ts";
import { lock, publish, readManifest, segmentNamer, unlock } from "./directory.ts";
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
        const { inTitle, inBody, positionsStart, positionsEnd } = reader;
        encoder.add(newId, inTitle, inBody, positions, positionsStart, positionsEnd);
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
 * target, which may be one of them. This is how the indexes of several crawler processes become
 * the one that search reads. With `consume`, the sources are scratch the caller deletes after:
 * a lone segment may then be moved into target instead of rewritten.
 */
export function mergeIndexes(
  sources: string[],
  target: string,
  { consume = false }: { consume?: boolean } = {},
): IndexMergeSummary {
  const manifests = sources.map((source) => ({ source, manifest: readManifest(source) }));
  mkdirSync(target, { recursive: true });
  lock(target);
  const inputs: Segment[] = [];
  try {
    for (const { source, manifest } of manifests) {
      for (const { file } of manifest.segments) inputs.push(Segment.open(join(source, file)));
    }
    const name = segmentNamer(target)();
    // One segment from elsewhere needs no merging: it is already what a merge would write (a
    // writer stores each page once, and its impacts are computed from its own pages), so it is
    // moved, not rewritten. A crawl with one reading thread ends this way.
    if (consume && inputs.length === 1 && resolve(manifests[0]!.source) !== resolve(target)) {
      const only = inputs.pop()!;
      only.close();
      renameSync(only.path, join(target, name));
      publish(target, [{ file: name, pages: only.pages, bytes: only.bytes }]);
      const { pages, terms, bytes } = only;
      return { pages, terms, bytes, duplicates: 0, dir: target, segments: 1 };
    }
    const merged = mergeSegments(inputs, join(target, name));
    const segments = [{ file: name, pages: merged.pages, bytes: merged.bytes }];
    publish(target, segments);
    return { ...merged, dir: target, segments: 1 };
  } finally {
    for (const input of inputs) input.close();
    unlock(target);
  }
}
