// Merging segments into one: what the writer's close() does with the segments its flushes left,
// and what joins the indexes that several crawler processes wrote (mergeIndexes).
//
// Every input is read front to back, once: pages in doc order, and postings in term order, which
// is the order the dictionaries are in, so a k-way merge of the dictionaries (a heap of cursors,
// as Lucene and LevelDB merge theirs) reads each postings section sequentially. Memory holds one
// term's postings at a time, the dictionaries and the per-page columns, never the text.
//
// Doc ids are renumbered by concatenation: the first input's pages first. Each doc-id gap inside
// a term's list stays what it was, so a list is copied as bytes, with only its first gap
// rewritten. The exception is a page whose title and text an earlier page already has (two
// crawler processes may each have fetched one of two URLs with the same body): it is dropped, and
// the lists of its segment are re-encoded without it.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { ByteBuffer, FileSource, HashMap64, Uint32List } from "./bytes.ts";
import { lock, publish, readManifest, segmentNamer, unlock } from "./directory.ts";
import {
  Cursor,
  DOC_COLUMNS,
  DocColumnLists,
  SegmentWriter,
  TermsEncoder,
  corrupt,
  sortedUrls,
} from "./format.ts";
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
    out.startPostings();
    const terms = mergePostings(inputs, newIds, out);
    const urls = mergeUrls(inputs, newIds);
    let titleTokens = 0;
    let bodyTokens = 0;
    const docs = columns.views();
    for (let doc = 0; doc < pages; doc++) {
      titleTokens += docs.titleTokens[doc]!;
      bodyTokens += docs.bodyTokens[doc]!;
    }
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

// The dictionaries merged in term order, each term's lists joined in input order.
function mergePostings(inputs: Segment[], newIds: Int32Array[], out: SegmentWriter): TermsEncoder {
  const cursors = inputs.map((input) => input.cursor());
  const sources = inputs.map((input) => input.source("postings"));
  // A page dropped from an input means that input's lists must be re-encoded.
  const dropsPages = newIds.map((ids) => ids.includes(-1));
  const heap = new CursorHeap(cursors);
  cursors.forEach((cursor, i) => cursor.next() && heap.push(i));

  const terms = new TermsEncoder();
  const list: MergedList = {
    docs: new ByteBuffer(1 << 16),
    positions: new ByteBuffer(1 << 16),
    lastDoc: 0,
  };
  while (heap.size > 0) {
    // Every input with the smallest term, in input order: the heap breaks ties by input.
    const first = heap.pop();
    const term = Buffer.from(cursors[first]!.term);
    const surface = cursors[first]!.surfaceBytes();
    const same = [first];
    while (heap.size > 0 && cursors[heap.peek()]!.term.equals(term)) same.push(heap.pop());

    list.docs.clear();
    list.positions.clear();
    list.lastDoc = 0; // the first gap is from 0
    let df = 0;
    for (const i of same) {
      const cursor = cursors[i]!;
      const input = inputs[i]!;
      const postings = read(sources[i]!, cursor.docBytes + cursor.positionBytes, input);
      const docs = postings.subarray(0, cursor.docBytes);
      const positions = postings.subarray(cursor.docBytes);
      if (crc32(docs) !== cursor.docCrc || crc32(positions) !== cursor.positionCrc) {
        throw corrupt(input.path, "a term's postings fail their checksum");
      }
      df += joinList(cursor, input, newIds[i]!, dropsPages[i]!, docs, positions, list);
      if (cursor.next()) heap.push(i);
    }
    if (df === 0) continue; // the term was only on dropped pages
    const postingsOffset = out.postingsLength;
    out.writePostings(list.docs.view());
    out.writePostings(list.positions.view());
    terms.add(term, surface, {
      df,
      docBytes: list.docs.length,
      positionBytes: list.positions.length,
      docCrc: crc32(list.docs.view()),
      positionCrc: crc32(list.positions.view()),
      postingsOffset,
    });
  }
  return terms;
}

// The merged list of one term being built: its doc part, its positions part, its last doc id.
interface MergedList {
  docs: ByteBuffer;
  positions: ByteBuffer;
  lastDoc: number;
}

// Appends one input's list for a term to the merged list; returns how many pages it added.
// Every gap is decoded, to check it and to learn the last doc id, but when the input dropped no
// page its ids are all shifted by the same amount, and only the first gap changes: the rest of
// the bytes are copied as they are.
function joinList(
  cursor: TermCursor,
  input: Segment,
  newIds: Int32Array,
  dropsPages: boolean,
  docs: Uint8Array,
  positions: Uint8Array,
  list: MergedList,
): number {
  const reader = new Cursor(docs, 0, docs.length, input.path);
  const positionReader = new Cursor(positions, 0, positions.length, input.path);
  let local = 0;
  let firstLocal = 0;
  let afterFirstGap = 0;
  let added = 0;
  for (let n = 0; n < cursor.df; n++) {
    const gap = reader.varint();
    local += gap;
    if (local >= input.pages || (n > 0 && gap === 0)) {
      throw corrupt(input.path, "a doc id is out of order");
    }
    if (n === 0) [firstLocal, afterFirstGap] = [local, reader.at];
    const inTitle = reader.varint();
    const inBody = reader.varint();
    if (!dropsPages) continue;
    const positionStart = positionReader.at;
    for (let k = inTitle + inBody; k > 0; k--) positionReader.varint();
    const newId = newIds[local]!;
    if (newId === -1) continue;
    list.docs.varint(newId - list.lastDoc);
    list.docs.varint(inTitle);
    list.docs.varint(inBody);
    list.positions.append(positions.subarray(positionStart, positionReader.at));
    list.lastDoc = newId;
    added++;
  }
  if (reader.at !== docs.length || (dropsPages && positionReader.at !== positions.length)) {
    throw corrupt(input.path, "a term's postings do not match its page count");
  }
  if (dropsPages || cursor.df === 0) return added;
  list.docs.varint(newIds[firstLocal]! - list.lastDoc);
  list.docs.append(docs.subarray(afterFirstGap));
  list.positions.append(positions);
  list.lastDoc = newIds[local]!;
  return cursor.df;
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
 * the one that search reads.
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
