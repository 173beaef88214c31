// How text becomes terms: the same steps for a page being indexed, a query being searched and a
// snippet being marked, so that a word always meets itself.
//
//   1. Words, by the Unicode rules (UAX #29) as Intl.Segmenter applies them: "select.epoll()"
//      is one word to them, "non-blocking" two, "東京タワーに行く" three (a dictionary decides).
//   2. Parts: a word that joins runs of letters and digits with punctuation ("select.epoll",
//      "epoll_wait", "robots.txt", "3.14") is taken as its parts, at consecutive positions, so
//      "epoll" finds "select.epoll()", and the query "epoll_wait" finds it as the phrase
//      "epoll wait". lunr splits on spaces and hyphens only and never finds "epoll" there.
//      Apostrophes stay inside a word ("don't", "kernel's"): the English stemmer knows them.
//      Letters and digits stay together: "C10k" is one term, not "c", "10" and "k".
//   3. Folding: lower case, NFKC (ligatures, full-width letters), "ё" as "е", stress marks off,
//      invisible characters inside a word (soft hyphens, joiners) dropped, "İ" as "i", "ß" as "ss".
//   4. Stemming with the Snowball stemmers (Porter's algorithms, snowballstem.org): Russian for a
//      Cyrillic word, English (Porter2) for a Latin one, none for the rest. "сокеты", "сокета" and
//      "сокетов" all become "сокет"; "sockets" becomes "socket".
//
// The stemmers: Russian as the Snowball compiler makes it for JavaScript (@orama/stemmers, from
// the Orama search engine), English from porter2, Porter2 written out by hand for speed. Both
// give the stems the snowball-stemmers package gave, on which the indexes before them were
// built, on the Snowball project's own test vocabularies (42,000 English and 50,000 Russian
// words), the Python docs, the fixture site and the lecture, and 300,000 random words each; and
// they are 8 (Russian) and 6 to 25 (English, cold to warm) times as fast: snowball-stemmers, an
// old port by way of Java, took 5 to 10 µs a word, most of the time of learning a new word.
//
// A text repeats its words, so each distinct word is still stemmed once and remembered, for the
// whole process.
import { stemmer as russianStem } from "@orama/stemmers/russian";
import { stem as englishStem } from "porter2";
import { remembered } from "../remember.ts";

/**
 * Bumped whenever any step above changes the terms a text gives: an index built with other
 * terms would silently miss words, so the reader refuses it and asks for a rebuild.
 */
export const ANALYZER_VERSION = 2;

/** Longer words (base64, hashes, minified code) are skipped, though they keep their position. */
export const MAX_WORD_LENGTH = 64;

// "und": no language, the root Unicode rules. A locale would change only Thai-like scripts.
const segmenter = new Intl.Segmenter("und", { granularity: "word" });

// V8's segmenter slows down worse than linearly on long strings (170 KB took minutes here, 1 KB
// pieces take microseconds), so text is segmented in pieces cut at a space.
const PIECE = 1024;

// A letter, a digit, a combining mark, an apostrophe, or an invisible format character. Anything
// else inside a word-like segment ("." "_" ":" ",") separates its parts. The format characters
// (general category Cf) are those UAX #29 ignores inside a word (rule WB4), and so must we: the
// soft hyphen that typesetting puts in long words ("при\u00ADмер", "co\u00ADoperate"), the
// zero-width joiner and non-joiner, the word joiner, bidi marks. Taken for separators, they cut
// "пример" into "при" and "мер", which no query for "пример" found. fold() drops them.
const PART = /[\p{L}\p{N}\p{M}\p{Cf}'’]+/gu;
const HAS_SEPARATOR = /[^\p{L}\p{N}\p{M}\p{Cf}'’]/u;

// The same words without the segmenter, for text in the scripts where the Unicode rules come down
// to "runs of letters and digits": ASCII, the Latin letters of Latin-1 and Latin Extended, and
// Cyrillic, with spaces and punctuation (general punctuation too: dashes, quotes, "›") and the
// symbols technical text has between its words: currency, arrows, mathematical operators, box
// drawing (a directory tree drawn in text), geometric shapes, dingbats. There, a word-like
// segment is letters and digits joined by punctuation, and an apostrophe stays inside a part
// only between two letters or two digits (UAX #29 rules WB6, WB7, WB11, WB12), so a plain
// scan finds the parts that the loop in segmentedWords() would: the same words, at the same
// places, some 25 times faster on the Python docs. V8's segmenter makes an object per segment,
// which made it the slowest step of indexing. What the segmenter must decide for itself takes
// the slow path: combining marks and soft hyphens (ignored inside a word), superscript digits and
// fractions, circled letters and digits, and every other script (Chinese words come from a
// dictionary). One "→" or "≤" was enough to send its whole piece (below) the slow way: a few
// hundred pieces of the Python docs, and a tenth of the time of finding their words. So was the
// zero-width space (U+200B, between words, unlike its neighbours the joiners) that javadoc puts
// between a method's name and its "(": on two pages in three of a javadoc site, whose words
// took 16 times as long to find as those of as much other text.
const SIMPLE =
  /^[\x00-\x7f\xa0-\xac\xae-\xb1\xb4-\xb8\xba\xbb\xbf-\u024f\u0400-\u0482\u048a-\u04ff\u200b\u2010-\u205e\u20a0-\u20bf\u2190-\u23ff\u2500-\u2775]*$/;
const LAST_SIMPLE = 0x2775;

// What each UTF-16 code unit is to the scan, looked up in a table rather than asked of a regular
// expression. A regular expression that finds the parts ([\p{L}\p{N}]+ runs joined by
// lookbehind and lookahead for the apostrophes) was the fast path before: a match array per word
// made it five times slower than the scan. The table is built from the same Unicode properties,
// so the two cannot disagree. It has a slot for every code unit (64 KiB), so that the scan reads
// it without a bounds check; everything past LAST_SIMPLE is NOT_SIMPLE.
const OTHER = 0; // space, punctuation, symbols: between words, or between the parts of one
const LETTER = 1;
const DIGIT = 2;
const APOSTROPHE = 3;
const NOT_SIMPLE = 4;
const KINDS = new Uint8Array(0x10000).fill(NOT_SIMPLE);
for (let code = 0; code <= LAST_SIMPLE; code++) {
  const char = String.fromCharCode(code);
  KINDS[code] = !SIMPLE.test(char)
    ? NOT_SIMPLE
    : /\p{L}/u.test(char)
      ? LETTER
      : /\p{N}/u.test(char)
        ? DIGIT
        : char === "'" || char === "’"
          ? APOSTROPHE
          : OTHER;
}

export type WordCallback = (word: string, position: number, start: number, end: number) => void;

/**
 * Calls onWord for every word part of text, in order, with its position (counted from
 * firstPosition) and its place in text [start, end). Returns the position after the last word.
 * The words are as they stand in the text: termOf() makes terms of them.
 */
export function forEachWord(text: string, onWord: WordCallback, firstPosition = 0): number {
  return forEachWordSpan(
    text,
    (start, end, position) => onWord(text.slice(start, end), position, start, end),
    firstPosition,
  );
}

export type SpanCallback = (start: number, end: number, position: number) => void;

/**
 * forEachWord without the word as a string: only where it stands in text. The index writer
 * looks a word up by its place in the text (bytes.ts SpanMap) and makes a string only for a word
 * it has not met: a string per word, 1.8 million for the Python docs, cost more than the scan.
 */
export function forEachWordSpan(text: string, onSpan: SpanCallback, firstPosition = 0): number {
  let position = firstPosition;
  // Room for the words of one piece (below), made per call so that an onSpan may itself call
  // forEachWord: a piece of n characters has at most n / 2 + 1 words.
  const spans = new Int32Array(Math.min(text.length, PIECE) + 2);
  for (let pieceStart = 0; pieceStart < text.length;) {
    const pieceEnd = cutPoint(text, pieceStart);
    const found = simpleWords(text, pieceStart, pieceEnd, spans);
    if (found === NOT_SIMPLE_PIECE) {
      position = segmentedWords(text, pieceStart, pieceEnd, onSpan, position);
    } else {
      for (let k = 0; k < found; k += 2) onSpan(spans[k]!, spans[k + 1]!, position++);
    }
    pieceStart = pieceEnd;
  }
  return position;
}

// The fast path: each run of letters and digits is a part, and so are runs joined by an
// apostrophe that stands between two letters ("don't") or two digits ("1'000"), never between
// a letter and a digit, and never at either end ("dogs'", "'quoted'"). The piece's end is the
// text's end as far as the rules go: the segmenter, too, sees only the piece.
//
// Whether the piece is simple at all is found in the same pass (every character's kind is read
// once), so its words wait in `spans`, [start, end) pairs, until its end is reached. Returns how
// many numbers it put there, or NOT_SIMPLE_PIECE.
const NOT_SIMPLE_PIECE = -1;

function simpleWords(text: string, start: number, end: number, spans: Int32Array): number {
  let found = 0;
  for (let i = start; i < end;) {
    let kind = KINDS[text.charCodeAt(i)]!;
    if (kind !== LETTER && kind !== DIGIT) {
      if (kind === NOT_SIMPLE) return NOT_SIMPLE_PIECE;
      i++;
      continue;
    }
    const wordStart = i;
    for (;;) {
      // A run of letters and digits; `last` is the kind of its last character. The character
      // that ends it is read again above, unless it is an apostrophe that joins.
      let last;
      do {
        last = kind;
        kind = ++i < end ? KINDS[text.charCodeAt(i)]! : OTHER;
      } while (kind === LETTER || kind === DIGIT);
      if (kind !== APOSTROPHE || i + 1 >= end) break;
      const after = KINDS[text.charCodeAt(i + 1)]!;
      if (after !== last) break;
      i++; // over the apostrophe: the next run belongs to this part
      kind = after;
    }
    spans[found++] = wordStart;
    spans[found++] = i;
  }
  return found;
}

// The slow path, for any piece that has a character the fast path does not know: word-like
// segments of the Unicode segmenter, each cut into its parts.
function segmentedWords(
  text: string,
  pieceStart: number,
  pieceEnd: number,
  onSpan: SpanCallback,
  position: number,
): number {
  const piece = pieceEnd - pieceStart === text.length ? text : text.slice(pieceStart, pieceEnd);
  for (const { segment, index, isWordLike } of segmenter.segment(piece)) {
    if (!isWordLike) continue;
    const start = pieceStart + index;
    if (!HAS_SEPARATOR.test(segment)) {
      onSpan(start, start + segment.length, position++);
      continue;
    }
    PART.lastIndex = 0;
    for (let match = PART.exec(segment); match !== null; match = PART.exec(segment)) {
      onSpan(start + match.index, start + match.index + match[0].length, position++);
    }
  }
  return position;
}

// Where the piece that starts at `start` ends: at the last whitespace before start + PIECE, or at
// the last punctuation for text without spaces (Chinese, say), or at start + PIECE if there is
// neither, but never inside a surrogate pair.
const BREAKS = [/\s/, /[\s\p{P}]/u];
function cutPoint(text: string, start: number): number {
  const limit = start + PIECE;
  if (limit >= text.length) return text.length;
  for (const breaks of BREAKS) {
    for (let i = limit; i > start + PIECE / 2; i--) {
      if (breaks.test(text[i]!)) return i;
    }
  }
  const code = text.charCodeAt(limit - 1);
  return code >= 0xd800 && code <= 0xdbff ? limit - 1 : limit;
}

/**
 * A word lower-cased and folded, unstemmed: how the index shows a term to a person (the spelling
 * it used, say). "" for a word too long to index.
 */
export function fold(word: string): string {
  let folded = word.toLowerCase();
  // Only non-ASCII words need the rest; most words are ASCII, and the test is cheap.
  if (/[^\x00-\x7f]/.test(folded)) {
    folded = folded
      // Invisible characters inside a word (the soft hyphen, the joiners): not a part of it.
      .replace(/\p{Default_Ignorable_Code_Point}/gu, "")
      .normalize("NFKC")
      .replaceAll("ё", "е")
      .replaceAll("’", "'")
      // Combining acute and grave: stress marks in Russian dictionaries and textbooks ("соке́т").
      // NFKC has already joined every mark that has a precomposed letter ("é"), so only marks
      // that no letter takes are left for this.
      .replace(/[\u0300\u0301]/g, "")
      // Lower case of the Turkish dotted "İ" is "i" and a combining dot above, which no letter
      // takes: without this, "İstanbul" would never meet "istanbul". (Turkish's own dotless
      // "ı" stays a letter of its own, as in its lower case.)
      .replaceAll("i\u0307", "i")
      // "ß" as "ss", as full case folding has it: "Straße" is written "STRASSE" in capitals,
      // and "strasse" where there is no ß to type.
      .replaceAll("ß", "ss");
  }
  return folded.length > MAX_WORD_LENGTH ? "" : folded;
}

// A language has far fewer common words than this.
const MAX_REMEMBERED = 100_000;

// The stems worked out so far, by folded word, for the whole process: termOf() and every index
// writer ask here, so a writer that starts a new segment, or a second writer, or a search for
// words the index has, does not stem the same word again ("Socket" and "socket" are stemmed
// once too). Stemming is pure, so a remembered stem is never stale.

/** The stem of a folded word, by the script of its first letter. */
export const stem = remembered((folded: string): string => {
  const first = folded.charCodeAt(0);
  if (first >= 0x0400 && first <= 0x04ff) return russianStem(folded);
  if ((first >= 0x61 && first <= 0x7a) || (first >= 0xc0 && first <= 0x24f)) {
    return englishStem(folded);
  }
  return folded;
}, MAX_REMEMBERED);

// And the term of each word as written, so that termOf() skips the folding too.

/** The term a word is indexed under: folded and stemmed; "" if it is not indexed. */
export const termOf = remembered((word: string): string => {
  const folded = fold(word);
  return folded === "" ? "" : stem(folded);
}, MAX_REMEMBERED);

/** One word of a query, where it stands in the query, and its place within its phrase. */
export interface QueryWord {
  /** As typed: "Sockets". */
  text: string;
  term: string;
  start: number;
  end: number;
  /** Its position relative to the phrase's first word (0 for a single word). */
  offset: number;
}

/** A query is a list of clauses, each a single word or a phrase, and a page must match all. */
export interface Clause {
  words: QueryWord[];
  /** Whether the words must stand together, in this order. */
  phrase: boolean;
}

// Straight and typographic quotes, Russian «ёлочки» and „лапки“ among them. Any of them opens a
// phrase and any closes it: people mix them up, and an unclosed one runs to the end.
const QUOTES = /["«»“”„]/;

/**
 * The clauses of a query. A quoted phrase is one clause. So is an unquoted piece without spaces
 * that has several words, such as `select.epoll()` or `non-blocking`: its words are searched as
 * the phrase they are, the way they were indexed. Words too long to index are left out.
 */
export function parseQuery(query: string): Clause[] {
  const clauses: Clause[] = [];
  const addClause = (start: number, end: number) => {
    const words: QueryWord[] = [];
    forEachWord(query.slice(start, end), (text, position, wordStart, wordEnd) => {
      const term = termOf(text);
      if (term === "") return;
      words.push({ text, term, start: start + wordStart, end: start + wordEnd, offset: position });
    });
    const first = words[0]?.offset ?? 0;
    for (const word of words) word.offset -= first;
    if (words.length > 0) clauses.push({ words, phrase: words.length > 1 });
  };
  let quoted = false;
  let pieceStart = 0;
  for (let i = 0; i <= query.length; i++) {
    const char = query[i];
    const atEnd = char === undefined;
    if (!atEnd && !QUOTES.test(char) && (quoted || !/\s/.test(char))) continue;
    // The end of a piece: a quote, the end of the query, or a space outside quotes.
    if (i > pieceStart) addClause(pieceStart, i);
    pieceStart = i + 1;
    if (!atEnd && QUOTES.test(char)) quoted = !quoted;
  }
  return clauses;
}
