// Finding the words of a list that are one typo away from a word, without trying every typo.
//
// Norvig's way (edits1: every deletion, swap, substitution and insertion, each looked up) makes
// about 60 variants per letter of a Latin word, 70 of a Russian one: some 1,500 for a
// twelve-letter word, and each variant of a typed word must also be stemmed before it can be
// looked up as a term. This goes the other way round, from the list to the word:
//
//   a word one edit (Damerau: a letter deleted, added, changed, or two swapped) from a word of n
//   letters keeps either its first h = floor(n/2) letters or its last n - h - 1: an edit at
//   letter p leaves the letters before p and those after p + 1 where they were, so one at p >= h
//   spares the first h letters, and one at p < h spares every letter from h + 1 on.
//
// So the list is kept in two orders, by its words and by its words read backwards, and the
// candidates are the two ranges of a binary search: the words that start with the first half,
// and those that end with the second. Each candidate is then checked letter by letter. The two
// ranges are short because half a word is already rare; a three-letter word's halves are one
// letter each, and the ranges are then long, but such words are short to check.
//
// Roads not taken: SymSpell (Garbe, 2012) stores every deletion of every word, about ten
// strings per word, too many for a million pages' vocabulary; a Levenshtein automaton walked
// over the sorted dictionary (Lucene's FuzzyQuery; Schulz & Mihov, 2002) is the general answer,
// for any distance, and much more code than one edit needs.
//
// The orders are of JavaScript strings, compared by UTF-16 code units: a range of words that
// start (or end) with a string is contiguous in either order, and that is all a search needs.

/** A list of words, searchable for those one edit from a word. */
export class WordList {
  readonly words: readonly string[];
  // Word ids by length, then by the word; and by length, then by the word read backwards.
  // Length first, because a word one edit away is at most one letter longer or shorter: the
  // ranges are then of three lengths, not of all.
  private readonly forwards: Int32Array;
  private readonly backwards: Int32Array;
  // Whether a word has a letter past U+FFFF (two code units): then lengths in code units may
  // differ by two.
  private readonly wide: boolean;

  constructor(words: readonly string[]) {
    this.words = words;
    const ids = () => Int32Array.from(words.keys());
    this.forwards = ids().sort(
      (a, b) => words[a]!.length - words[b]!.length || (words[a]! < words[b]! ? -1 : 1),
    );
    // Sorting by the reversed words, made once, is several times faster than comparing from
    // the ends with compareBackwards, which orders them the same way.
    const reversed = words.map((word) => word.split("").reverse().join(""));
    this.backwards = ids().sort(
      (a, b) => words[a]!.length - words[b]!.length || (reversed[a]! < reversed[b]! ? -1 : 1),
    );
    this.wide = words.some((word) => SURROGATE.test(word));
  }

  /** The ids of the words one edit from word (not word itself), in no particular order. */
  near(word: string): number[] {
    const letters = [...word];
    const half = letters.length >> 1;
    const head = letters.slice(0, half).join("");
    const tail = letters.slice(half + 1).join("");
    const found = new Set<number>();
    const check = (id: number) => {
      const candidate = this.words[id]!;
      if (candidate !== word && withinOneEdit(word, candidate)) found.add(id);
    };
    const spread = this.wide || letters.length < word.length ? 2 : 1;
    for (let length = word.length - spread; length <= word.length + spread; length++) {
      this.range(
        this.forwards,
        (w) => w.length - length || compareForwards(w.slice(0, head.length), head),
        check,
      );
      this.range(
        this.backwards,
        (w) =>
          w.length - length ||
          compareBackwards(w.length > tail.length ? w.slice(w.length - tail.length) : w, tail),
        check,
      );
    }
    return [...found];
  }

  // Visits the ids whose words `where` says are in the range (0), given the order that puts
  // those before it (< 0) first and those after it (> 0) last.
  private range(order: Int32Array, where: (word: string) => number, visit: (id: number) => void) {
    const bound = (past: (c: number) => boolean) => {
      let low = 0;
      let high = order.length;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (past(where(this.words[order[middle]!]!))) high = middle;
        else low = middle + 1;
      }
      return low;
    };
    const end = bound((c) => c > 0);
    for (let i = bound((c) => c >= 0); i < end; i++) visit(order[i]!);
  }
}

// oneEditApart without its arrays, for the many candidates: by UTF-16 code units, which are
// letters unless a string has a letter outside the BMP (a surrogate pair), left to oneEditApart.
function withinOneEdit(a: string, b: string): boolean {
  if (a.length > b.length) [a, b] = [b, a];
  if (b.length - a.length > 1) return SURROGATE.test(b) && oneEditApart(a, b);
  if (SURROGATE.test(a) || SURROGATE.test(b)) return oneEditApart(a, b);
  let i = 0;
  while (i < a.length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  // From the first difference on, the rest must be the same after one edit there.
  const same = (from: number, shift: number, to = a.length) => {
    for (let j = from; j < to; j++) if (a.charCodeAt(j) !== b.charCodeAt(j + shift)) return false;
    return true;
  };
  if (a.length < b.length) return same(i, 1); // b has one letter more, at i
  if (i >= a.length - 1) return true; // the same, or only the last letter differs
  return (
    same(i + 1, 0) || // a substitution at i
    (a.charCodeAt(i) === b.charCodeAt(i + 1) &&
      a.charCodeAt(i + 1) === b.charCodeAt(i) &&
      same(i + 2, 0)) // a swap of i and i + 1
  );
}

const SURROGATE = /[\ud800-\udfff]/;

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

/**
 * Damerau's edit distance between a and b, by letters (code points): the fewest deletions,
 * insertions, substitutions and swaps of two neighbours (the optimal string alignment form,
 * where no letter is edited twice).
 */
export function editDistance(a: string, b: string): number {
  const [x, y] = [[...a], [...b]];
  // Three rows of the table: the one before the previous (for swaps), the previous, this one.
  let before: number[] = [];
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) {
        row[j] = Math.min(row[j]!, before[j - 2]! + 1);
      }
    }
    [before, previous] = [previous, row];
  }
  return previous[y.length]!;
}

function compareForwards(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// The order of the strings read backwards, code unit by code unit, without reversing them.
function compareBackwards(a: string, b: string): number {
  for (let i = a.length - 1, j = b.length - 1; i >= 0 && j >= 0; i--, j--) {
    const difference = a.charCodeAt(i) - b.charCodeAt(j);
    if (difference !== 0) return difference;
  }
  return a.length - b.length;
}
