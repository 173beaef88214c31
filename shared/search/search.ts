// Searching an index: a query's words become terms, each term's postings are read from disk,
// the pages that have every term (and every quoted phrase) are scored with BM25F, and the best
// come back with snippets.
//
//   const index = Index.open("out/index");
//   const { total, hits, spelling, tookMs } = index.search('"event loop" epoll', { limit: 10 });
//   index.page(hits[0].url, "epoll"); // the stored text, with the query's words marked
//   index.close();
//
// What a query means:
//   - every word must be on the page (AND): a search narrows as words are added, as on the web;
//   - "a quoted phrase" must stand on the page word for word, in order (positions); an unquoted
//     piece like select.epoll() or non-blocking is searched as the phrase of its parts;
//   - a word that no page has is replaced by the most common indexed word one typo away (one
//     letter deleted, added, changed, or two swapped: Damerau's edit distance 1), and the result
//     says which word was used.
//
// Ranking is BM25F (Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25 and
// Beyond", 2009, section 3.6): each field's term frequency is normalised by that field's length,
// weighted (a title word counts TITLE_WEIGHT times a body word) and summed into one frequency,
// which BM25's saturation and idf then turn into the score:
//
//   tf~ = sum over fields f of  weight_f * tf_f / (1 - b_f + b_f * length_f / average length_f)
//   score = sum over query terms of  idf * tf~ / (k1 + tf~)
//   idf = ln(1 + (N - df + 0.5) / (df + 0.5))        (the "+1" keeps it positive for common terms)
//
// Summing per field before saturating is what makes it BM25F rather than a title boost: a word
// once in the title and once in the body is not scored as two separate near-saturated matches.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { DEFAULT_INDEX_DIR, MANIFEST, readManifest } from "./directory.ts";
import { Cursor, corrupt, type TermEntry } from "./format.ts";
import { Segment, type StoredPage } from "./segment.ts";
import { highlight, snippet, type Part } from "./snippet.ts";
import { fold, parseQuery, stem, type QueryWord } from "./tokens.ts";

// k1 and the body's b are the usual values (Robertson & Zaragoza; Lucene's defaults). A title
// is short and its length says little, so it is normalised less. A title word counts five body
// words: tried on the fixture site, 3 let body noise outvote a title, past 8 little changes.
export const K1 = 1.2;
export const TITLE_WEIGHT = 5;
export const TITLE_B = 0.5;
export const BODY_B = 0.75;
/** A query may have this many words; a longer one is refused (RangeError). */
export const MAX_QUERY_WORDS = 32;
export const MAX_LIMIT = 1000;
export const MAX_OFFSET = 10_000;

export interface SearchOptions {
  /** How many hits to return (default 10, at most MAX_LIMIT). */
  limit?: number;
  /** How many of the best hits to skip first, for the next page of results (default 0). */
  offset?: number;
  /** Whether to make snippets (default true); without them a hit's snippet is []. */
  snippets?: boolean;
}

export interface Hit {
  /** The page's doc id. */
  id: number;
  url: string;
  title: string;
  score: number;
  snippet: Part[];
}

export interface Correction {
  /** The word as typed. */
  word: string;
  /** The word searched for instead. */
  used: string;
}

export interface SearchResult {
  query: string;
  /** Pages that match, of which `hits` are the best, from `offset` on. */
  total: number;
  hits: Hit[];
  /** When a word was replaced by one a typo away: the query as searched, and the replacements. */
  spelling: { query: string; corrections: Correction[] } | null;
  /** Words no page has, nor any word one typo away: these alone make `total` 0. */
  unmatched: string[];
  /** The query's terms as searched, after stemming and corrections; [] if it has no words. */
  terms: string[];
  tookMs: number;
}

export interface PageView extends StoredPage {
  id: number;
  /** The text as parts, the query's words marked. */
  parts: Part[];
}

// A term's postings across all segments, with global doc ids in order.
interface Postings {
  df: number;
  docs: Int32Array;
  inTitle: Uint32Array;
  inBody: Uint32Array;
  /** Only for terms in a phrase. */
  positions: Positions | null;
}

interface ResolvedTerm {
  term: string;
  entries: (TermEntry | null)[]; // per segment
  df: number;
}

export class Index {
  readonly pages: number;
  /** Bytes of the segment files. */
  readonly bytes: number;
  private readonly segments: Segment[];
  private readonly bases: number[]; // the global doc id of each segment's first page
  private readonly titleNorm: Float32Array; // per page: 1 - b + b * length / average length
  private readonly bodyNorm: Float32Array;

  /**
   * Opens the index in dir (default: out/index in the project). Reads the manifest and each
   * segment's small sections; postings and text are read per query. Throws SearchIndexError
   * if there is no index there, or it is of another version, or damaged.
   */
  static open(dir: string = DEFAULT_INDEX_DIR): Index {
    // A writer may replace the index between our reading its manifest and opening the segments
    // it names (and delete those): then the new manifest names the new ones.
    for (let attempt = 0; ; attempt++) {
      const manifest = readManifest(dir);
      const segments: Segment[] = [];
      try {
        for (const { file } of manifest.segments) segments.push(Segment.open(join(dir, file)));
        return new Index(dir, segments);
      } catch (error) {
        for (const segment of segments) segment.close();
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        if (attempt > 0) throw corrupt(dir, `${MANIFEST} names a segment file that is not there`);
      }
    }
  }

  readonly dir: string;

  private constructor(dir: string, segments: Segment[]) {
    this.dir = dir;
    this.segments = segments;
    this.bases = [];
    let pages = 0;
    let titleTokens = 0;
    let bodyTokens = 0;
    for (const segment of segments) {
      this.bases.push(pages);
      pages += segment.pages;
      titleTokens += segment.titleTokensTotal;
      bodyTokens += segment.bodyTokensTotal;
    }
    this.pages = pages;
    this.bytes = segments.reduce((sum, segment) => sum + segment.bytes, 0);
    this.titleNorm = new Float32Array(pages);
    this.bodyNorm = new Float32Array(pages);
    const averageTitle = titleTokens / pages || 1;
    const averageBody = bodyTokens / pages || 1;
    segments.forEach((segment, i) => {
      for (let doc = 0; doc < segment.pages; doc++) {
        const id = this.bases[i]! + doc;
        this.titleNorm[id] = 1 - TITLE_B + (TITLE_B * segment.titleTokens[doc]!) / averageTitle;
        this.bodyNorm[id] = 1 - BODY_B + (BODY_B * segment.bodyTokens[doc]!) / averageBody;
      }
    });
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  close(): void {
    for (const segment of this.segments) segment.close();
  }

  search(query: string, options: SearchOptions = {}): SearchResult {
    const started = performance.now();
    const limit = options.limit ?? 10;
    const offset = options.offset ?? 0;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw new RangeError(`limit must be an integer from 1 to ${MAX_LIMIT}, got ${limit}`);
    }
    if (!Number.isInteger(offset) || offset < 0 || offset > MAX_OFFSET) {
      throw new RangeError(`offset must be an integer from 0 to ${MAX_OFFSET}, got ${offset}`);
    }
    const clauses = parseQuery(query);
    const words = clauses.flatMap((clause) => clause.words);
    if (words.length > MAX_QUERY_WORDS) {
      throw new RangeError(
        `a query may have at most ${MAX_QUERY_WORDS} words, this one has ${words.length}`,
      );
    }
    const result: SearchResult = {
      query,
      total: 0,
      hits: [],
      spelling: null,
      unmatched: [],
      terms: [],
      tookMs: 0,
    };

    // Each word's term, or the term of a word one typo away when no page has it.
    const resolved = new Map<string, ResolvedTerm>();
    const used = new Map<QueryWord, string>(); // the term each word is searched as
    const corrections: { word: QueryWord; used: string }[] = [];
    for (const word of words) {
      let term = this.resolve(word.term, resolved);
      if (term.df === 0) {
        const correction = this.correct(word, resolved);
        if (correction === null) {
          if (!result.unmatched.includes(word.text)) result.unmatched.push(word.text);
        } else {
          term = correction.term;
          corrections.push({ word, used: correction.surface });
        }
      }
      used.set(word, term.term);
    }
    result.terms = [...new Set(used.values())];
    if (corrections.length > 0) result.spelling = spelling(query, corrections);
    if (words.length === 0 || result.unmatched.length > 0) return finish(result, started);

    // Postings of each distinct term; with positions for the terms in phrases.
    const inPhrase = new Set(
      clauses.filter((c) => c.phrase).flatMap((c) => c.words.map((w) => used.get(w)!)),
    );
    const postings = new Map<string, Postings>();
    for (const term of result.terms)
      postings.set(term, this.postings(resolved.get(term)!, inPhrase.has(term)));

    // The pages with every term: walk the rarest term's list, and look each page up in the rest.
    const byRarity = [...postings.values()].sort((a, b) => a.df - b.df);
    let candidates = byRarity[0]!.docs;
    for (const list of byRarity.slice(1)) candidates = intersect(candidates, list.docs);
    const where = new Map<string, Int32Array>(); // per term, each candidate's index in its list
    for (const [term, list] of postings) where.set(term, indexesOf(candidates, list.docs));

    // Everything the loop over candidates needs, looked up once: it runs for every page that
    // has all the terms, a million on a large index, so it allocates nothing and calls no
    // closure.
    const phrases = clauses
      .filter((clause) => clause.phrase)
      .map((clause) =>
        clause.words.map((word) => {
          const term = used.get(word)!;
          return {
            positions: postings.get(term)!.positions!,
            where: where.get(term)!,
            offset: word.offset,
          };
        }),
      );
    const lists = result.terms.map((term) => postings.get(term)!);
    const idfs = lists.map((list) => Math.log(1 + (this.pages - list.df + 0.5) / (list.df + 0.5)));
    const wheres = result.terms.map((term) => where.get(term)!);
    const { titleNorm, bodyNorm } = this;
    const heap = new TopK(offset + limit);
    let total = 0;
    candidates: for (let k = 0; k < candidates.length; k++) {
      for (let p = 0; p < phrases.length; p++) if (!hasPhrase(phrases[p]!, k)) continue candidates;
      total++;
      const doc = candidates[k]!;
      let score = 0;
      for (let t = 0; t < lists.length; t++) {
        const list = lists[t]!;
        const i = wheres[t]![k]!;
        const tf =
          (TITLE_WEIGHT * list.inTitle[i]!) / titleNorm[doc]! + list.inBody[i]! / bodyNorm[doc]!;
        score += (idfs[t]! * tf) / (K1 + tf);
      }
      heap.push(score, doc);
    }
    result.total = total;

    const markTerms = new Set(result.terms);
    result.hits = heap
      .sorted()
      .slice(offset)
      .map(({ score, doc }) => {
        const page = this.storedPage(doc);
        return {
          id: doc,
          url: page.url,
          title: page.title,
          score,
          snippet: options.snippets === false ? [] : snippet(page.text, markTerms, page.title),
        };
      });
    return finish(result, started);
  }

  /** The stored page with this URL, its text marked with the query's words; null if none. */
  page(url: string, query = ""): PageView | null {
    const hash = createHash("sha1").update(url).digest();
    const [hi, lo] = [hash.readUInt32LE(0), hash.readUInt32LE(4)];
    for (const [i, segment] of this.segments.entries()) {
      const doc = segment.findUrl(url, hi, lo);
      if (doc === -1) continue;
      const page = segment.readPage(doc);
      const terms = new Set(
        parseQuery(query).flatMap((clause) => clause.words.map((word) => word.term)),
      );
      return { ...page, id: this.bases[i]! + doc, parts: highlight(page.text, terms) };
    }
    return null;
  }

  private storedPage(doc: number): StoredPage {
    let i = this.segments.length - 1;
    while (this.bases[i]! > doc) i--;
    return this.segments[i]!.readPage(doc - this.bases[i]!);
  }

  private resolve(term: string, resolved: Map<string, ResolvedTerm>): ResolvedTerm {
    let entry = resolved.get(term);
    if (entry === undefined) {
      const entries = this.segments.map((segment) => segment.lookup(term));
      entry = { term, entries, df: entries.reduce((sum, e) => sum + (e?.df ?? 0), 0) };
      resolved.set(term, entry);
    }
    return entry;
  }

  // The most common indexed term one typo away from the word: first from its stem ("sokets" ->
  // "soket" -> "socket"), then from the word itself, stemming each variant, for a typo in the
  // ending the stemmer saw ("epolll" -> "epoll" -> "epol"). A variant's stem can be far from
  // what was typed ("dying" -> "bying" -> "by"), so there the word a person would see, the
  // term's surface form, must itself be one typo away. Words under three letters are left
  // alone: too many short words are one typo from each other.
  private correct(word: QueryWord, resolved: Map<string, ResolvedTerm>) {
    const folded = fold(word.text);
    if ([...folded].length < 3) return null;
    const surfaceOf = (term: ResolvedTerm) =>
      term.entries.find((entry) => entry !== null)?.surface ?? term.term;
    const best = (candidates: Iterable<string>, accept: (term: ResolvedTerm) => boolean) => {
      let found: ResolvedTerm | null = null;
      for (const candidate of candidates) {
        const term = this.resolve(candidate, resolved);
        if (
          term.df === 0 ||
          (found !== null &&
            (term.df < found.df || (term.df === found.df && term.term > found.term)))
        ) {
          continue;
        }
        if (accept(term)) found = term;
      }
      return found;
    };
    const found =
      best(variants(word.term), () => true) ??
      best([...variants(folded)].map(stem), (term) => oneEditApart(folded, surfaceOf(term)));
    return found === null ? null : { term: found, surface: surfaceOf(found) };
  }

  private postings(term: ResolvedTerm, withPositions: boolean): Postings {
    const docs = new Int32Array(term.df);
    const inTitle = new Uint32Array(term.df);
    const inBody = new Uint32Array(term.df);
    const positionParts: Uint8Array[] = [];
    let n = 0;
    term.entries.forEach((entry, i) => {
      if (entry === null) return;
      const segment = this.segments[i]!;
      const { docs: bytes, positions } = segment.readPostings(entry, withPositions);
      const reader = new Cursor(bytes, 0, bytes.length, segment.path);
      let doc = 0;
      for (let k = 0; k < entry.df; k++, n++) {
        const gap = reader.varint();
        doc += gap;
        if (doc >= segment.pages || (k > 0 && gap === 0)) {
          throw corrupt(segment.path, "a doc id is out of order");
        }
        docs[n] = this.bases[i]! + doc;
        inTitle[n] = reader.varint();
        inBody[n] = reader.varint();
      }
      // Each page's positions start from 0, so the segments' parts can simply be joined.
      if (positions !== null) positionParts.push(positions);
    });
    const joined = positionParts.length === 1 ? positionParts[0]! : Buffer.concat(positionParts);
    const positions = withPositions ? new Positions(joined, inTitle, inBody, term.term) : null;
    return { df: term.df, docs, inTitle, inBody, positions };
  }
}

interface PhraseWord {
  positions: Positions;
  where: Int32Array;
  offset: number;
}

// Whether a phrase's words stand together, in order, on candidate k: some position p of the
// first word has each other word at p + its offset.
function hasPhrase(words: PhraseWord[], k: number): boolean {
  const first = words[0]!;
  const count = first.positions.load(first.where[k]!);
  const starts = first.positions.loaded;
  for (let w = 1; w < words.length; w++) words[w]!.positions.load(words[w]!.where[k]!);
  starting: for (let i = 0; i < count; i++) {
    for (let w = 1; w < words.length; w++) {
      const { positions, offset } = words[w]!;
      if (!contains(positions.loaded, positions.count, starts[i]! + offset)) continue starting;
    }
    return true;
  }
  return false;
}

/**
 * The positions part of one term's postings, decoded only for the pages a phrase asks about.
 * They are asked for in order (candidates ascend), so the pages between are skipped by counting
 * varints, with no array filled for them: a phrase of two common words costs the positions of
 * the pages that have both, not of every page that has either.
 */
class Positions {
  /** The positions last loaded, in the first `count` entries. */
  loaded = new Int32Array(16);
  count = 0;
  private readonly bytes: Uint8Array;
  private readonly inTitle: Uint32Array;
  private readonly inBody: Uint32Array;
  private readonly where: string;
  private next = 0; // the page whose positions start at `at`
  private at = 0;
  private lastPage = -1;

  constructor(bytes: Uint8Array, inTitle: Uint32Array, inBody: Uint32Array, term: string) {
    this.bytes = bytes;
    this.inTitle = inTitle;
    this.inBody = inBody;
    this.where = `the positions of "${term}"`;
  }

  /** Loads the positions on the page at index i of the term's list; returns how many. */
  load(i: number): number {
    if (i === this.lastPage) return this.count;
    if (i < this.next)
      throw new RangeError(`positions asked for out of order: ${i} < ${this.next}`);
    const bytes = this.bytes;
    for (; this.next < i; this.next++) {
      for (let n = this.inTitle[this.next]! + this.inBody[this.next]!; n > 0;) {
        if (this.at >= bytes.length) throw corrupt(this.where, "they end too soon");
        if (bytes[this.at++]! < 0x80) n--;
      }
    }
    this.count = this.inTitle[i]! + this.inBody[i]!;
    if (this.count > this.loaded.length) this.loaded = new Int32Array(this.count * 2);
    const reader = new Cursor(bytes, this.at, bytes.length, this.where);
    for (let n = 0, position = 0; n < this.count; n++) {
      position += reader.varint();
      this.loaded[n] = position;
    }
    this.at = reader.at;
    this.next = i + 1;
    this.lastPage = i;
    return this.count;
  }
}

function finish(result: SearchResult, started: number): SearchResult {
  result.tookMs = performance.now() - started;
  return result;
}

// The query with each corrected word replaced, as a person would have typed it.
function spelling(query: string, corrections: { word: QueryWord; used: string }[]) {
  let corrected = query;
  for (const { word, used } of [...corrections].sort((a, b) => b.word.start - a.word.start)) {
    corrected = corrected.slice(0, word.start) + used + corrected.slice(word.end);
  }
  return {
    query: corrected,
    corrections: corrections.map(({ word, used }) => ({ word: word.text, used })),
  };
}

const CYRILLIC = "абвгдежзийклмнопрстуфхцчшщъыьэюя";
const LATIN = "abcdefghijklmnopqrstuvwxyz";

/** Every string one edit from word (Norvig's edits1, with transpositions). */
export function variants(word: string): Set<string> {
  const letters = [...word];
  const first = letters[0] ?? "";
  let alphabet = /[а-я]/.test(first)
    ? CYRILLIC
    : /[a-z]/.test(first)
      ? LATIN
      : [...new Set(letters)].join("");
  if (/\d/.test(word)) alphabet += "0123456789";
  const out = new Set<string>();
  const at = (i: number) => letters.slice(0, i).join("");
  const from = (i: number) => letters.slice(i).join("");
  for (let i = 0; i <= letters.length; i++) {
    const [head, tail] = [at(i), from(i)];
    if (i < letters.length) {
      out.add(head + from(i + 1)); // deletion
      if (i + 1 < letters.length) out.add(head + letters[i + 1] + letters[i] + from(i + 2)); // swap
      for (const c of alphabet) out.add(head + c + from(i + 1)); // substitution
    }
    for (const c of alphabet) out.add(head + c + tail); // insertion
  }
  out.delete(word);
  return out;
}

/** Whether a and b differ by at most one edit (deletion, insertion, substitution or swap). */
export function oneEditApart(a: string, b: string): boolean {
  const [x, y] = [[...a], [...b]];
  if (Math.abs(x.length - y.length) > 1) return false;
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  const rest = (dx: number, dy: number) => x.slice(i + dx).join("") === y.slice(i + dy).join("");
  if (i === x.length && i === y.length) return true;
  return (
    rest(1, 1) || rest(1, 0) || rest(0, 1) || (x[i] === y[i + 1] && x[i + 1] === y[i] && rest(2, 2))
  );
}

// The docs of `a` that are also in `b`; both sorted. Galloping search in b keeps it
// O(|a| log(|b| / |a|)) when a is much shorter, as it is: a is the rarest term's list.
function intersect(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(Math.min(a.length, b.length));
  let n = 0;
  let j = 0;
  for (let i = 0; i < a.length && j < b.length; i++) {
    const doc = a[i]!;
    if (b[j]! < doc) {
      let step = 1;
      while (j + step < b.length && b[j + step]! < doc) step *= 2;
      let low = j + (step >> 1);
      let high = Math.min(j + step, b.length - 1);
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (b[middle]! < doc) low = middle + 1;
        else high = middle;
      }
      j = low;
    }
    if (b[j] === doc) out[n++] = doc;
  }
  return out.subarray(0, n);
}

// For each doc of `docs` (all in `list`, both sorted), its index in list.
function indexesOf(docs: Int32Array, list: Int32Array): Int32Array {
  const out = new Int32Array(docs.length);
  let j = 0;
  for (let i = 0; i < docs.length; i++) {
    while (list[j]! < docs[i]!) j++;
    out[i] = j;
  }
  return out;
}

// Whether the first `length` entries of a sorted array hold value.
function contains(sorted: Int32Array, length: number, value: number): boolean {
  let low = 0;
  let high = length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < value) low = middle + 1;
    else if (sorted[middle]! > value) high = middle - 1;
    else return true;
  }
  return false;
}

// The k best (score, doc) pairs: a min-heap whose root is the worst kept, so a page that does
// not beat it costs one comparison. Ties go to the lower doc id, so results are stable.
class TopK {
  private readonly scores: Float64Array;
  private readonly docs: Int32Array;
  private size = 0;

  private readonly k: number;

  constructor(k: number) {
    this.k = k;
    this.scores = new Float64Array(k);
    this.docs = new Int32Array(k);
  }

  push(score: number, doc: number): void {
    if (this.size < this.k) {
      this.scores[this.size] = score;
      this.docs[this.size] = doc;
      this.up(this.size++);
    } else if (this.worse(this.scores[0]!, this.docs[0]!, score, doc)) {
      this.scores[0] = score;
      this.docs[0] = doc;
      this.down(0);
    }
  }

  /** Best first. */
  sorted(): { score: number; doc: number }[] {
    const out = Array.from({ length: this.size }, (_, i) => ({
      score: this.scores[i]!,
      doc: this.docs[i]!,
    }));
    return out.sort((a, b) => b.score - a.score || a.doc - b.doc);
  }

  // Whether (s1, d1) ranks below (s2, d2).
  private worse(s1: number, d1: number, s2: number, d2: number): boolean {
    return s1 < s2 || (s1 === s2 && d1 > d2);
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.worse(this.scores[i]!, this.docs[i]!, this.scores[parent]!, this.docs[parent]!))
        break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let worst = i;
      if (
        left < this.size &&
        this.worse(this.scores[left]!, this.docs[left]!, this.scores[worst]!, this.docs[worst]!)
      )
        worst = left;
      if (
        right < this.size &&
        this.worse(this.scores[right]!, this.docs[right]!, this.scores[worst]!, this.docs[worst]!)
      )
        worst = right;
      if (worst === i) return;
      this.swap(i, worst);
      i = worst;
    }
  }

  private swap(i: number, j: number): void {
    [this.scores[i], this.scores[j]] = [this.scores[j]!, this.scores[i]!];
    [this.docs[i], this.docs[j]] = [this.docs[j]!, this.docs[i]!];
  }
}
