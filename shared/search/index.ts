// The search index: one module that the crawler writes and the search command and page read.
// README.md beside this file describes the format on disk, the ranking and the API.
export { IndexWriter, DEFAULT_MEMORY_BUDGET } from "./writer.ts";
export { SharedHashSet64 } from "./bytes.ts";
export type { Added, IndexSummary, Page, WriterOptions } from "./writer.ts";
export {
  Index,
  K1,
  TITLE_WEIGHT,
  TITLE_B,
  BODY_B,
  HEADING_WEIGHT,
  MAX_QUERY_WORDS,
  MAX_LIMIT,
  MAX_OFFSET,
} from "./search.ts";
export type { Correction, Hit, PageView, SearchOptions, SearchResult } from "./search.ts";
export { MAX_SEGMENTS, joinIndexes, mergeIndexes, planMerge } from "./merge.ts";
export type { IndexMergeSummary, JoinSummary } from "./merge.ts";
export { DEFAULT_INDEX_DIR, lock, unlock } from "./directory.ts";
export { FORMAT_VERSION, SearchIndexError } from "./format.ts";
export { ANALYZER_VERSION, MAX_WORD_LENGTH, forEachWord, parseQuery, termOf } from "./tokens.ts";
export type { Clause, QueryWord } from "./tokens.ts";
export { highlight, snippet, SNIPPET_LENGTH } from "./snippet.ts";
export type { Part } from "./snippet.ts";
export type { StoredPage } from "./segment.ts";
export { displayUrl } from "./url.ts";
