// Snippets: the few lines of a page that show why it matched, with the query's words marked. The
// marks are data ({ text, match } parts), not markup, so a terminal can make them bold, a web
// page can wrap them in <mark> after escaping the text, and JSON can carry them as they are.
//
// Which words to mark is decided by the tokenizer, exactly as the index decided which pages
// match: "сокетов" is marked for the query "сокеты", "epoll" inside "select.epoll()" for "epoll".
// But tokenising costs (Intl.Segmenter takes about a microsecond a segment), so it is spent only
// where a match can be. A stem is the start of its words, give or take its last letter
// ("сокет" of "сокетов", "queri" of "query", "gentl" of "gently"), so a plain string search for a
// term's first letters finds every place a match could be, and many where none is ("soc" of
// "social"). Words never run across whitespace (UAX #29), so the tokenizer decides each such
// place by looking at its own space-delimited piece of text alone. The window to show is chosen
// the same way: where the most different terms' letters stand close together.
import { remembered } from "../remember.ts";
import { forEachWord, termOf } from "./tokens.ts";

export interface Part {
  text: string;
  match: boolean;
}

/** About how many characters a snippet shows. */
export const SNIPPET_LENGTH = 220;
// How much text a snippet shows before its first match.
const LEAD = 60;
// Guesses looked at per term; a window with them all is found among the first few anyway.
const GUESSES_PER_TERM = 24;
// Past this many pieces to look at, tokenising the window whole is cheaper.
const MAX_PIECES = 12;

/** The whole text, with every word whose term is one of `terms` marked. */
export function highlight(text: string, terms: ReadonlySet<string>): Part[] {
  return marked(text, 0, text.length, terms);
}

/**
 * A window of about SNIPPET_LENGTH characters of text that shows the most of `terms`. Pages
 * usually repeat their title at the top of their text (an <h1>); a window there says no more
 * than the title beside it, so one further down with as many terms is preferred.
 */
export function snippet(text: string, terms: ReadonlySet<string>, title = ""): Part[] {
  if (text.length <= SNIPPET_LENGTH) return highlight(text, terms);
  const folded = loweredText(text);
  const titleAt = title === "" ? -1 : text.indexOf(title);
  const inTitle = (at: number) => titleAt !== -1 && at >= titleAt && at < titleAt + title.length;
  const places = folded === null ? [] : likelyPlaces(visible(folded), terms, inTitle);
  // Four windows at most, each at a place no window tried has held: most places are guessed
  // wrong together ("DatabaseError" five times in a row, for "database").
  const tried: [number, number][] = [];
  for (const at of places) {
    if (tried.length === 4) break;
    if (tried.some(([start, end]) => at >= start && at < end)) continue;
    const start = wordStart(text, Math.max(0, at - LEAD), at);
    const end = wordEnd(text, start + SNIPPET_LENGTH);
    const parts = marked(text, start, end, terms);
    if (parts.some((part) => part.match)) return parts;
    tried.push([start, end]);
  }
  return marked(text, 0, wordEnd(text, SNIPPET_LENGTH), terms);
}

// The first letters of a term that its words are sure to start with: all but the last. Not
// fewer: in a page of 20,000 characters "tra" stood in "trailing", "traceback", "strategy" more
// than GUESSES_PER_TERM times before the first "transaction", whose snippet then had no match.
//
// And those letters as a page may write them where fold() makes the term of something else: a
// letter and its accent apart (NFD, as macOS writes names: "и" and U+0306 for "й"), and "ß"
// where the term has "ss". Without them the word was found but never shown: the snippet was the
// top of the page. Remembered: a query's few terms are probed on every page and window shown.
const probes = remembered((term: string): string[] => {
  const probe = (word: string) => word.slice(0, Math.max(1, word.length - 1));
  return [...new Set([term, term.normalize("NFD"), term.replaceAll("ss", "ß")].map(probe))];
}, 10_000);

// The text lower-cased and folded as the probes are ("ё" as "е", "’" as "'"), offset for offset;
// null where lower-casing changes offsets. "İ" is the one letter whose lower case is longer
// ("i" and a combining dot), and fold() drops that dot: so it is lowered as "I" is.
function loweredText(text: string): string | null {
  const folded = text.replaceAll("İ", "I").toLowerCase().replaceAll("ё", "е").replaceAll("’", "'");
  return folded.length === text.length ? folded : null;
}

// loweredText, and null also where a probe could miss a word that the tokenizer folds to a term:
// letters NFKC changes (the ligature "ﬁ"), stress marks (fold() drops them). Then the whole
// window is tokenised instead. Choosing the window (snippet) takes loweredText: a place missed
// there costs only a window with fewer of the query's words, where null, for a page with one "…"
// (NFKC makes "..." of it) or "’" (Sphinx writes "you’ve") anywhere, put every snippet of the
// page at its top, most of them without a match.
function foldedText(text: string): string | null {
  const folded = loweredText(text);
  if (folded === null || /[\u0300\u0301]/.test(folded) || IGNORABLE.test(folded)) return null;
  return folded.normalize("NFKC") === folded ? folded : null;
}

// Characters that fold() drops from inside a word: the soft hyphen of "co\u00ADoperate", the
// joiners. A probe ("cooper") never stands in a text that has them.
const IGNORABLE = /\p{Default_Ignorable_Code_Point}/u;
const IGNORABLES = /\p{Default_Ignorable_Code_Point}+/gu;

// The folded text without those characters, and where each of its code units stands in the text
// (offsets of their own, but only for the rare text that has any). Made a run of visible text at
// a time, not a character at a time: PostgreSQL's manual puts zero-width spaces in its long
// names, and on its pages of 100 KB the snippets of one query took 50 ms here, and as much again
// in garbage collection.
interface Visible {
  text: string;
  offsets: Int32Array | null;
}

function visible(folded: string): Visible {
  if (!IGNORABLE.test(folded)) return { text: folded, offsets: null };
  const runs: string[] = [];
  const offsets = new Int32Array(folded.length);
  let length = 0;
  let from = 0;
  const keep = (to: number) => {
    runs.push(folded.slice(from, to));
    for (let at = from; at < to; at++) offsets[length++] = at;
  };
  for (const { index, 0: ignorable } of folded.matchAll(IGNORABLES)) {
    keep(index);
    from = index + ignorable.length;
  }
  keep(folded.length);
  return { text: runs.join(""), offsets: offsets.subarray(0, length) };
}

// Offsets where terms' probes stand in the folded text, best first: the windows starting there
// that hold the most different terms, and among those the earliest outside the title.
function likelyPlaces(
  folded: Visible,
  terms: ReadonlySet<string>,
  inTitle: (at: number) => boolean,
): number[] {
  const guesses: { at: number; term: number }[] = [];
  const { text, offsets } = folded;
  [...terms].forEach((term, index) => {
    for (const probe of probes(term)) {
      for (const at of occurrences(text, probe, 0, text.length, GUESSES_PER_TERM)) {
        guesses.push({ at: offsets === null ? at : offsets[at]!, term: index });
      }
    }
  });
  guesses.sort((a, b) => a.at - b.at);
  const windows = guesses.map(({ at }, i) => {
    const inside = new Set<number>();
    for (let j = i; j < guesses.length && guesses[j]!.at < at + SNIPPET_LENGTH - LEAD; j++) {
      inside.add(guesses[j]!.term);
    }
    return { at, terms: inside.size, inTitle: inTitle(at) ? 1 : 0 };
  });
  windows.sort((a, b) => b.terms - a.terms || a.inTitle - b.inTitle || a.at - b.at);
  return windows.map((window) => window.at);
}

function occurrences(text: string, probe: string, from: number, to: number, most: number) {
  const found: number[] = [];
  for (let at = text.indexOf(probe, from); at !== -1 && at < to && found.length < most;) {
    found.push(at);
    at = text.indexOf(probe, at + 1);
  }
  return found;
}

// The start of the first word at or after `from`, but no later than `limit`.
function wordStart(text: string, from: number, limit: number): number {
  if (from === 0) return 0;
  const space = text.slice(from, limit).search(/\s/);
  return space === -1 ? limit : from + space + 1;
}

// The end of the last word that ends by `to`, so no word is cut in half; where there is no
// space near (an emoji run, a long URL), never between the two halves of a surrogate pair,
// which would end the snippet in half a character (shown as "�", and JSON's "\ud83d").
function wordEnd(text: string, to: number): number {
  if (to >= text.length) return text.length;
  const space = text.lastIndexOf(" ", to);
  if (space > to - LEAD) return space;
  const code = text.charCodeAt(to - 1);
  return code >= 0xd800 && code <= 0xdbff ? to - 1 : to;
}

// text[start, end) as parts: the words whose terms are in `terms` marked, and a run of marked
// words joined into one part where only spaces or one mark stand between them ("event loop",
// "epoll_wait", not "event", "loop", "epoll", "wait").
// An ellipsis stands where the text goes on.
function marked(text: string, start: number, end: number, terms: ReadonlySet<string>): Part[] {
  const window = text.slice(start, end);
  const matches: number[] = []; // start, end, start, end, ...
  let offset = 0; // of the piece being tokenised, in the window
  const onWord = (word: string, _position: number, wordStart: number, wordEnd: number) => {
    if (terms.has(termOf(word))) matches.push(offset + wordStart, offset + wordEnd);
  };
  const addMatches = (piece: string, pieceOffset: number) => {
    offset = pieceOffset;
    forEachWord(piece, onWord);
  };
  // The space-delimited pieces where a probe stands, to be tokenised alone; or, where probing
  // cannot be trusted or finds a piece in every few (a one-letter term such as the "i" of
  // "I/O"), the whole window at once.
  const folded = foldedText(window);
  const pieces = new Set<number>();
  for (const term of folded === null ? [] : terms) {
    for (const probe of probes(term)) {
      for (const at of occurrences(folded!, probe, 0, folded!.length, MAX_PIECES + 1)) {
        pieces.add(pieceStart(window, at));
      }
    }
  }
  if (folded === null || pieces.size > MAX_PIECES) {
    addMatches(window, 0);
  } else {
    for (const pieceAt of [...pieces].sort((a, b) => a - b)) {
      const pieceEnd = window.slice(pieceAt).search(/\s/);
      addMatches(window.slice(pieceAt, pieceEnd === -1 ? undefined : pieceAt + pieceEnd), pieceAt);
    }
  }

  const parts: Part[] = [];
  let at = 0;
  for (let i = 0; i < matches.length; i += 2) {
    const matchStart = matches[i]!;
    let matchEnd = matches[i + 1]!;
    while (i + 2 < matches.length && JOINS.test(window.slice(matchEnd, matches[i + 2]))) {
      matchEnd = matches[i + 3]!;
      i += 2;
    }
    if (matchStart > at) parts.push({ text: window.slice(at, matchStart), match: false });
    parts.push({ text: window.slice(matchStart, matchEnd), match: true });
    at = matchEnd;
  }
  if (at < window.length) parts.push({ text: window.slice(at), match: false });
  if (start > 0) addText(parts, 0, "…");
  if (end < text.length) addText(parts, parts.length, "…");
  return parts;
}

const JOINS = /^(\s*|[^\s\p{L}\p{N}])$/u;

// The start of the space-delimited piece that holds offset `at`.
function pieceStart(text: string, at: number): number {
  let start = at;
  while (start > 0 && !/\s/.test(text[start - 1]!)) start--;
  return start;
}

function addText(parts: Part[], index: number, text: string): void {
  const neighbour = parts[index === 0 ? 0 : index - 1];
  if (neighbour !== undefined && !neighbour.match) {
    neighbour.text = index === 0 ? text + neighbour.text : neighbour.text + text;
  } else {
    parts.splice(index, 0, { text, match: false });
  }
}
