// search: the other half of the search engine. The crawler downloaded the site and built an
// inverted index; this answers a person's words with the pages that match them, best first,
// each with the lines that show why.
//
// Lecture: "Как работать с сетью с помощью сокетов?": «построить обратный индекс и дальше по
//   словам пользователя возвращать сайты, которые удовлетворяют поиску».
// Builds on: crawler, which writes the index. Both use one module, shared/search: the crawler
//   its IndexWriter, this its Index. Its README.md describes the format on disk and the ranking.
// Leaves out: the web page and JSON API (search-server, the next lesson); the same Index serves
//   it. A million-page index is searched the same way (bench:search-large builds one).
// Run: pnpm run search -- "query words" [--index DIR] [--limit N] [--exact-total] [--json]
import { startLesson } from "@async-from-scratch/shared";
import type { Part, SearchResult } from "@async-from-scratch/shared/search";

const args = startLesson("search", {
  query: {
    type: "words",
    required: true,
    help: 'the words to look for; "words in quotes" must stand together, in that order',
  },
  index: {
    type: "string",
    placeholder: "DIR",
    help: "the index the crawler wrote (default out/index in the project)",
  },
  limit: { type: "integer", default: 10, min: 1, max: 100, help: "how many pages to show" },
  "exact-total": {
    type: "boolean",
    help: "count every page that matches (on a large index, past 10000, slower)",
  },
  json: { type: "boolean", help: "print the whole result as JSON" },
});

// The index code (and the stemmers it loads) is imported only now that the flags are good: --help
// and a mistyped flag answer without waiting for it. A static import would load it first.
const { DEFAULT_INDEX_DIR, Index, MAX_WORD_LENGTH, SearchIndexError, displayUrl, parseQuery } =
  await import("@async-from-scratch/shared/search");

// With --json an error is JSON too, { error, message }, as the search-server's API gives it, so
// that a program reading stdout always has JSON to read; the status and the line on stderr are
// the same as without --json.
function fail(error: string, message: string, status: number): never {
  if (args.json) process.stdout.write(`${JSON.stringify({ error, message })}\n`);
  process.stderr.write(`search: ${message}\n`);
  process.exit(status);
}
const INDEX_ERRORS = {
  missing: "no-index",
  unreadable: "index-unreadable",
  version: "index-version",
  corrupt: "index-damaged",
  locked: "index-locked",
} as const;

let result: SearchResult;
let pages: number;
try {
  // Opening reads only the index's small parts: the term dictionary and a few numbers per page.
  // Each query term's postings are read from disk when it is searched for.
  const index = Index.open(args.index ?? DEFAULT_INDEX_DIR);
  pages = index.pages;
  // Past 10,000 matching pages the count stops being exact, and the search skips the blocks of
  // pages that cannot make the best hits: on a million pages, most of them.
  const exactTotal = args["exact-total"] ? Infinity : undefined;
  result = index.search(args.query, { limit: args.limit, exactTotal });
  index.close();
} catch (error) {
  // A missing, old or damaged index is not a bug here: one line that says how to build one.
  if (error instanceof SearchIndexError) fail(INDEX_ERRORS[error.reason], error.message, 1);
  // The only RangeError of a search: more words than MAX_QUERY_WORDS.
  if (error instanceof RangeError) fail("too-many-words", error.message, 2);
  throw error;
}
if (result.terms.length === 0) {
  // A word longer than the longest indexed (a hash, a run of letters) is left out of the query.
  const long = new RegExp(`[\\p{L}\\p{N}]{${MAX_WORD_LENGTH + 1},}`, "u").test(result.query);
  // Cut at 80 code units, but not between the halves of a surrogate pair (half an emoji).
  const cut = /[\ud800-\udbff]/.test(result.query[79] ?? "") ? 79 : 80;
  const shown = result.query.length > 80 ? `${result.query.slice(0, cut)}…` : result.query;
  const why = long ? ` (a word of more than ${MAX_WORD_LENGTH} letters is not indexed)` : "";
  fail("no-words", `the query "${shown}" has no words to look for${why}`, 2);
}

// JSON is for programs: each hit's url is the real one, percent-escapes and all, as a program
// fetching or comparing it needs; displayUrl() (shared/search) gives what the text below shows.
// `pages`, the index's page count, is there as in the search-server's API: "total of pages".
if (args.json) {
  const { query, total, totalExact, hits, spelling, unmatched, terms, tookMs } = result;
  const answer = { query, total, totalExact, pages, hits, spelling, unmatched, terms, tookMs };
  process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
  process.exit(0);
}

console.log(`query: ${result.query}`);
for (const { word, used } of result.spelling?.corrections ?? []) {
  console.log(`no page has "${word}": searching for "${used}", one typo away`);
}
if (result.total === 0) {
  const missing = result.unmatched.map((word) => `"${word}"`).join(", ");
  const phrases = parseQuery(result.query).some((clause) => clause.phrase);
  const why = missing
    ? `no page has ${missing}, nor a word one typo away`
    : `no page has all of its words${phrases ? ", with each phrase's words together" : ""}`;
  console.log(`no page matches: ${why} (${ms(result.tookMs)})`);
  process.exit(0);
}
const best = result.hits.length < result.total ? `; the best ${result.hits.length}` : "";
const total = result.totalExact ? `${result.total}` : `at least ${result.total}`;
const matching = `${pages === 1 ? "page" : "pages"} ${result.total === 1 ? "matches" : "match"}`;
console.log(`${total} of ${pages} ${matching}, in ${ms(result.tookMs)}${best}:`);
result.hits.forEach((hit, i) => {
  console.log(`\n${i + 1}. ${printable(hit.title)}   score ${hit.score.toFixed(3)}`);
  // As a browser's address bar shows it: http://host/вики/Сокет, not %D0%B2%D0%B8...
  console.log(`   ${displayUrl(hit.url)}`);
  console.log(`   ${hit.snippet.map(mark).join("")}`);
});

// Bold in a terminal; [brackets] in a file or a pipe, where escape codes would be noise.
function mark(part: Part): string {
  const text = printable(part.text);
  if (!part.match) return text;
  return process.stdout.isTTY ? `\x1b[1m${text}\x1b[22m` : `[${text}]`;
}

// Titles and text come from other people's pages: an escape sequence among them would reach the
// terminal as a command (clear the screen, retitle the window, hide what follows), and a bidi
// override would turn the line around. Each control character is shown as "�" instead, as the
// HTML page escapes the same strings for the browser. (--json escapes them its own way.)
function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, "\ufffd");
}

function ms(milliseconds: number): string {
  return `${milliseconds.toFixed(milliseconds < 10 ? 2 : 0)} ms`;
}
