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
//     letter deleted, added, changed, or two swapped: Damerau's edit distance 1), or, if that
//     leaves the query without a page, by the next that does not; the result says which was used.
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
// Headings are a part of the body, normalised with it: a body word in a heading counts
// 1 + HEADING_WEIGHT body words (weightedTf() in postings.ts, which PostingsCursor.tf() uses).
import { createHash } from "node:crypto";
import { join } from "node:path";
import { DEFAULT_INDEX_DIR, MANIFEST, forIndexAt, readManifest } from "./directory.ts";
import { corrupt, unreadable, type TermEntry } from "./format.ts";
import {
  BODY_B,
  HEADING_WEIGHT,
  K1,
  PostingsCursor,
  TITLE_B,
  TITLE_WEIGHT,
  lengthNorm,
} from "./postings.ts";
import { Segment, TermCursor, type StoredPage } from "./segment.ts";
import { highlight, snippet, type Part } from "./snippet.ts";
import { fold, parseQuery, termOf, type Clause, type QueryWord } from "./tokens.ts";
import { WordList, editDistance } from "./typos.ts";

// k1 is the usual value (Robertson & Zaragoza; Lucene's default). The body's b is 0.3, not the
// usual 0.75: b says how much of a page's length is verbosity (the same things said at length,
// which b = 1 discounts fully) rather than scope (more things said, which b = 0 leaves alone):
// Robertson & Walker's two hypotheses (SIGIR 1994). A site's long pages are long because they cover
// more: a module's reference, a command's every option. At 0.75 a short index page that lists a
// word under every entry beat the reference page titled with it (Sphinx's genindex, first for
// "regular expressions" on the Python docs); on 75 queries over three real sites
// (examples/search/README.md) 0.3 puts the right page first for 63, 0.75 for 54, and 0.2 to 0.4
// differ little. A title is short and its length says little, so it is normalised less. A title
// word counts fifteen body words: at 5, a page titled with the one word searched for lost to one
// that repeated it 30 times even in a body four times the average length; at 15 it wins from about
// 1.6 times the average (the test's case is twice). At 20 it would also beat 30 repeats in a body
// of average length, a page about little else, which 15 leaves first. BM25F's saturation keeps the
// weight from being a factor: a title match lifts a term's score to at most idf, however large the
// weight. (They live in postings.ts, which needs them to write each block's impact.)
export { K1, TITLE_WEIGHT, TITLE_B, BODY_B, HEADING_WEIGHT };
/**
 * Pages that match are counted one by one up to this many; past it, blocks that cannot change
 * the best hits are skipped, and `total` says "at least" (`totalExact: false`), as Lucene counts
 * exactly only up to its totalHitsThreshold and Elasticsearch answers "10,000+".
 */
export const EXACT_TOTAL = 10_000;
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
  /**
   * Count matching pages exactly up to this many (default EXACT_TOTAL) before skipping blocks
   * that cannot change the hits; Infinity counts them all, 0 skips from the start. The hits are
   * the same either way; only `total` and the time differ.
   */
  exactTotal?: number;
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
  /** Whether `total` is exact; if not, at least that many match (past EXACT_TOTAL). */
  totalExact: boolean;
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

/** Guesses tried per corrected word when the first leaves the query without a page. */
const MAX_GUESSES = 8;

/** A word no page has, and the terms one typo away that it may be searched as instead. */
interface Correcting {
  word: QueryWord;
  /** The term used, and the word shown for it. */
  term: ResolvedTerm;
  shown: string;
  /** The other terms one typo away with pages, the most common first. */
  others: ResolvedTerm[];
  show: (term: ResolvedTerm) => string;
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
  // Per segment: how much more a term frequency can be under the index's average lengths than
  // under the segment's own, which its impacts were computed with (postings.ts).
  private readonly boundFactor: number[];
  private lists: { terms: WordList; surfaces: WordList } | null = null; // see vocabulary()

  /**
   * Opens the index in dir (default: out/index in the project). Reads the manifest and each
   * segment's small sections; postings and text are read per query. Throws SearchIndexError
   * if there is no index there, or it is of another version, or damaged.
   */
  static open(dir: string = DEFAULT_INDEX_DIR): Index {
    try {
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
          const { code, path } = error as NodeJS.ErrnoException;
          if (code === "EACCES" || code === "EPERM") throw unreadable(path ?? dir, error as Error);
          if (code === "EISDIR") throw corrupt(dir, "a segment file is a directory");
          if (code !== "ENOENT") throw error;
          if (attempt > 0) throw corrupt(dir, `${MANIFEST} names a segment file that is not there`);
        }
      }
    } catch (error) {
      throw forIndexAt(dir, error);
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
        this.titleNorm[id] = lengthNorm(TITLE_B, segment.titleTokens[doc]!, averageTitle);
        this.bodyNorm[id] = lengthNorm(BODY_B, segment.bodyTokens[doc]!, averageBody);
      }
    });
    // A norm 1 - b + b·len/avg shrinks by at most avg'/avg when avg grows to avg', and never
    // grows when avg shrinks: so a term frequency grows by at most the larger of the two ratios.
    this.boundFactor = segments.map((segment) =>
      Math.max(
        1,
        averageTitle / (segment.titleTokensTotal / segment.pages || 1),
        averageBody / (segment.bodyTokensTotal / segment.pages || 1),
      ),
    );
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  close(): void {
    for (const segment of this.segments) segment.close();
  }

  search(query: string, options: SearchOptions = {}): SearchResult {
    // Damage found now, in a term's postings or a page, says how to rebuild this index too.
    try {
      return this.searchFor(query, options);
    } catch (error) {
      throw forIndexAt(this.dir, error);
    }
  }

  private searchFor(query: string, options: SearchOptions): SearchResult {
    const started = performance.now();
    const limit = options.limit ?? 10;
    const offset = options.offset ?? 0;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw new RangeError(`limit must be an integer from 1 to ${MAX_LIMIT}, got ${limit}`);
    }
    if (!Number.isInteger(offset) || offset < 0 || offset > MAX_OFFSET) {
      throw new RangeError(`offset must be an integer from 0 to ${MAX_OFFSET}, got ${offset}`);
    }
    const exactTotal = options.exactTotal ?? EXACT_TOTAL;
    if (!(exactTotal >= 0)) {
      throw new RangeError(`exactTotal must be 0 or more, got ${exactTotal}`);
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
      totalExact: true,
      hits: [],
      spelling: null,
      unmatched: [],
      terms: [],
      tookMs: 0,
    };

    // Each word's term, or the term of a word one typo away when no page has it.
    const resolved = new Map<string, ResolvedTerm>();
    const used = new Map<QueryWord, string>(); // the term each word is searched as
    const corrections: Correcting[] = [];
    for (const word of words) {
      let term = this.resolve(word.term, resolved);
      if (term.df === 0) {
        const correction = this.correct(word, resolved);
        if (correction === null) {
          if (!result.unmatched.includes(word.text)) result.unmatched.push(word.text);
        } else {
          term = correction.term;
          corrections.push(correction);
        }
      }
      used.set(word, term.term);
    }
    result.terms = [...new Set(used.values())];
    if (corrections.length > 0) result.spelling = spelling(query, corrections);
    if (words.length === 0 || result.unmatched.length > 0) return finish(result, started);

    let heap = this.match(clauses, used, resolved, result, offset + limit, exactTotal);
    // A correction is a guess, the most common word one typo away, and it can leave the query
    // without a page: "event lop" became the phrase "event top", where "event loop" was meant.
    // Then the next guesses are tried, a few per word, one word at a time, and the first that
    // finds pages is kept; if none does, the first guesses stand, and no page matches.
    if (result.total === 0 && corrections.length > 0) {
      guessing: for (const correction of corrections) {
        for (const other of correction.others.slice(0, MAX_GUESSES - 1)) {
          used.set(correction.word, other.term);
          heap = this.match(clauses, used, resolved, result, offset + limit, exactTotal);
          if (result.total > 0) {
            correction.term = other;
            correction.shown = correction.show(other);
            break guessing;
          }
        }
        used.set(correction.word, correction.term.term);
      }
      if (result.total === 0) {
        heap = this.match(clauses, used, resolved, result, offset + limit, exactTotal);
      }
      result.spelling = spelling(query, corrections);
    }

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

  /**
   * Finds the pages that match the clauses, each word searched as the term `used` gives it:
   * sets result's terms, total and totalExact, and returns the heap of the best `size`.
   */
  private match(
    clauses: Clause[],
    used: Map<QueryWord, string>,
    resolved: Map<string, ResolvedTerm>,
    result: SearchResult,
    size: number,
    exactTotal: number,
  ): TopK {
    result.terms = [...new Set(used.values())];
    // Postings of each distinct term, read per segment; with positions for the terms in phrases.
    const inPhrase = new Set(
      clauses.filter((c) => c.phrase).flatMap((c) => c.words.map((w) => used.get(w)!)),
    );
    const idfs = result.terms.map((term) => {
      const { df } = resolved.get(term)!;
      return Math.log(1 + (this.pages - df + 0.5) / (df + 0.5));
    });
    const heap = new TopK(size);
    const count: Count = { total: 0, skipped: false };
    // One word and no phrase: every page that has it matches, so the count is its df, and blocks
    // may be skipped from the start. Otherwise pages are counted one by one up to exactTotal,
    // and only then does pruning begin (and the count becomes "at least").
    const phrases = clauses.filter((clause) => clause.phrase);
    const known = result.terms.length === 1 && phrases.length === 0;
    // Segment by segment, with one heap: what the first segment's best pages score lets the
    // next one skip more.
    this.segments.forEach((segment, s) => {
      const entries = result.terms.map((term) => resolved.get(term)!.entries[s]!);
      if (entries.some((entry) => entry === null)) return; // a term no page here has
      const cursors = entries.map((entry, t) => {
        const withPositions = inPhrase.has(result.terms[t]!);
        const { docs, positions } = segment.readPostings(entry, withPositions);
        return new PostingsCursor(
          docs,
          positions,
          entry.df,
          segment.pages,
          this.boundFactor[s]!,
          segment.path,
        );
      });
      const phraseWords = phrases.map((clause) =>
        clause.words.map((word) => ({
          cursor: cursors[result.terms.indexOf(used.get(word)!)]!,
          offset: word.offset,
        })),
      );
      this.evaluate(cursors, idfs, phraseWords, heap, this.bases[s]!, count, known, exactTotal);
    });
    result.total = known ? resolved.get(result.terms[0]!)!.df : count.total;
    result.totalExact = known || !count.skipped;
    return heap;
  }

  /** The stored page with this URL, its text marked with the query's words; null if none. */
  page(url: string, query = ""): PageView | null {
    try {
      return this.pageAt(url, query);
    } catch (error) {
      throw forIndexAt(this.dir, error);
    }
  }

  private pageAt(url: string, query: string): PageView | null {
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
  // "soket" -> "socket"), then from the word itself, for a typo in the ending the stemmer saw
  // ("epolll" -> "epoll" -> "epol"): a term whose surface form, the word a person would see, is
  // one typo from what was typed. (Not the stems of the typed word's variants: a variant's stem
  // can be far from what was typed, "dying" -> "bying" -> "by".) Words under three letters are
  // left alone: too many short words are one typo from each other.
  private correct(word: QueryWord, resolved: Map<string, ResolvedTerm>): Correcting | null {
    const folded = fold(word.text);
    if ([...folded].length < 3) return null;
    const { terms, surfaces } = this.vocabulary();
    // The terms with pages among these, the most common first (ties: the first in term order).
    const ranked = (ids: number[]) =>
      ids
        .map((id) => this.resolve(terms.words[id]!, resolved))
        .filter((term) => term.df > 0)
        .sort((a, b) => b.df - a.df || (a.term < b.term ? -1 : a.term > b.term ? 1 : 0));
    const fromStem = ranked(terms.near(word.term));
    const fromWord = ranked(surfaces.near(folded));
    const order = fromStem.length > 0 ? [...fromStem, ...fromWord] : fromWord;
    const candidates = [...new Set(order)];
    if (candidates.length === 0) return null;
    const show = (term: ResolvedTerm) => shownAs(folded, word.term, term);
    return {
      word,
      term: candidates[0]!,
      shown: show(candidates[0]!),
      others: candidates.slice(1),
      show,
    };
  }

  // Every indexed term and its surface form (the first segment's), in two lists searchable for
  // the words one edit away. Made at the first correction, not at open: a search that never
  // meets a typo never pays for it.
  private vocabulary(): { terms: WordList; surfaces: WordList } {
    if (this.lists === null) {
      const surfaceOf = new Map<string, string>();
      for (const segment of this.segments) {
        const cursor = new TermCursor(segment, 0);
        while (cursor.next()) {
          const term = cursor.term.toString("utf8");
          if (!surfaceOf.has(term)) surfaceOf.set(term, cursor.surfaceBytes()?.toString() ?? term);
        }
      }
      this.lists = {
        terms: new WordList([...surfaceOf.keys()]),
        surfaces: new WordList([...surfaceOf.values()]),
      };
    }
    return this.lists;
  }

  /**
   * Scores one segment's pages that have every term (and every phrase) into the heap. Walks the
   * rarest term's blocks (the lead), and for each of its pages moves the other terms' cursors up
   * to it; a term that has no such page says where the next candidate can be, and the lead jumps
   * there, skipping whole blocks by their last doc ids (leapfrog). Once pruning is on and the
   * heap is full, a window of the lead's block whose pages could not beat the heap's worst even
   * at every term's block impact is skipped without being decoded.
   */
  private evaluate(
    cursors: PostingsCursor[],
    idfs: number[],
    phrases: PhraseWord[][],
    heap: TopK,
    base: number,
    count: Count,
    pruneNow: boolean,
    exactTotal: number,
  ): void {
    // The rarest first: it has the fewest candidates, the others are only asked about them.
    const order = cursors.map((_, t) => t).sort((a, b) => cursors[a]!.df - cursors[b]!.df);
    const lists = order.map((t) => cursors[t]!);
    const weights = order.map((t) => idfs[t]!);
    const lead = lists[0]!;
    const { titleNorm, bodyNorm } = this;
    // Whether pages that score at most `bound` cannot get into the heap, once pruning may begin.
    // The bounds are exact arithmetic on rounded-up impacts; the scores use float32 norms, hence
    // the margin.
    const hopeless = (bound: number) =>
      (pruneNow || count.total >= exactTotal) && bound * (1 + 1e-6) <= heap.threshold;
    let target = 0; // the lead's next candidate is its first page at or after this
    let b = 0;
    for (;;) {
      b = lead.blockOf(target, b);
      if (b >= lead.blocks) return;
      const last = lead.last[b]!;
      // The most the other terms can add to a page of this block: their blocks' impacts.
      const first = Math.max(target, b === 0 ? 0 : lead.last[b - 1]! + 1);
      let others = 0;
      for (let t = 1; t < lists.length; t++) {
        const impact = lists[t]!.maxImpact(first, last);
        if (impact < 0) return; // a term has no page left here
        others += weights[t]! * saturate(impact);
      }
      if (hopeless(weights[0]! * saturate(lead.impact[b]!) + others)) {
        count.skipped = true;
        target = last + 1;
        continue;
      }
      if (lead.block !== b) lead.loadBlock(b);
      lead.advance(target);
      let resume = last + 1; // where the lead goes on once done with this block
      for (;;) {
        const doc = lead.doc;
        // A page whose lead term scores so little that the others at their most could not lift
        // it into the heap is passed over without moving the others' cursors: their blocks are
        // not decoded for it (MaxScore's test, page by page).
        const id = base + doc;
        const leadTf = lead.tf(titleNorm[id]!, bodyNorm[id]!);
        if (lists.length > 1 && hopeless(weights[0]! * saturate(leadTf) + others)) {
          count.skipped = true;
          if (!lead.nextInBlock()) break;
          continue;
        }
        let next = doc;
        for (let t = 1; t < lists.length; t++) {
          const list = lists[t]!;
          list.advance(doc);
          if (list.doc !== doc) {
            next = list.doc;
            break;
          }
        }
        if (next === Infinity) return;
        if (next !== doc) {
          if (next > last) {
            resume = next;
            break;
          }
          lead.advance(next);
          continue;
        }
        if (phrases.every(hasPhrase)) {
          count.total++;
          let score = 0;
          for (let t = 0; t < lists.length; t++) {
            const tf = lists[t]!.tf(titleNorm[id]!, bodyNorm[id]!);
            score += (weights[t]! * tf) / (K1 + tf);
          }
          heap.push(score, id);
        }
        if (!lead.nextInBlock()) break;
      }
      target = resume;
    }
  }
}

interface PhraseWord {
  cursor: PostingsCursor;
  offset: number;
}

/** Pages counted so far in a search, and whether a block was skipped (the count is then "at least"). */
interface Count {
  total: number;
  skipped: boolean;
}

/** BM25's saturation of a term frequency: what a term of idf 1 adds to a score. */
function saturate(tf: number): number {
  return tf / (K1 + tf);
}

// Whether a phrase's words stand together, in order, on the page every cursor is on: some
// position p of the first word has each other word at p + its offset.
function hasPhrase(words: PhraseWord[]): boolean {
  const first = words[0]!.cursor;
  first.loadPositions();
  const count = first.loadedCount;
  const starts = first.loaded;
  for (let w = 1; w < words.length; w++) words[w]!.cursor.loadPositions();
  starting: for (let i = 0; i < count; i++) {
    for (let w = 1; w < words.length; w++) {
      const { cursor, offset } = words[w]!;
      if (!contains(cursor.loaded, cursor.loadedCount, starts[i]! + offset)) continue starting;
    }
    return true;
  }
  return false;
}

function finish(result: SearchResult, started: number): SearchResult {
  result.tookMs = performance.now() - started;
  return result;
}

// The word to show for the term a typo was corrected to: of the forms that find exactly that
// term, the one closest to what was typed. The index keeps one surface form per term, the first
// met in each segment, and that can be far from the typo: "vacum" is one letter from the term
// "vacuum", whose first surface may be "vacuuming". So the candidates are those surfaces; the
// typed word with its stem mended ("сакетами", stem "сакет", becomes "сокетами"); and the term
// itself, when it is a word of its own (its own stem). Each stems to the term, so the corrected
// query finds what was searched. Ties go to a surface, a word some page has.
function shownAs(folded: string, stem: string, term: ResolvedTerm): string {
  const forms: string[] = [];
  for (const entry of term.entries) {
    if (entry !== null) forms.push(entry.surface ?? term.term);
  }
  if (folded.startsWith(stem)) forms.push(term.term + folded.slice(stem.length));
  forms.push(term.term);
  let shown = term.term;
  let distance = Infinity;
  for (const form of forms) {
    if (termOf(form) !== term.term) continue;
    const d = editDistance(folded, form);
    if (d < distance) [shown, distance] = [form, d];
  }
  return shown;
}

// The query with each corrected word replaced, as a person would have typed it.
function spelling(query: string, corrections: Correcting[]) {
  let corrected = query;
  for (const { word, shown } of [...corrections].sort((a, b) => b.word.start - a.word.start)) {
    corrected = corrected.slice(0, word.start) + shown + corrected.slice(word.end);
  }
  return {
    query: corrected,
    corrections: corrections.map(({ word, shown }) => ({ word: word.text, used: shown })),
  };
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

  /** Whether it holds k pages: only then can a page fail to get in. */
  get full(): boolean {
    return this.size === this.k;
  }

  /** The worst score kept: a page must beat it (a tie loses to the lower doc id kept). */
  get threshold(): number {
    return this.size === this.k ? this.scores[0]! : -Infinity;
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
