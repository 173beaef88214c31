// Where the crawl's pages go: the search index, written in a thread of its own. Indexing is the
// heaviest work a page costs (every word segmented, folded and stemmed, postings built, segments
// flushed and merged), and the writer is synchronous, so in the loop's thread it would stall
// every connection while it works. In a worker thread it runs beside the loop on the second core,
// and the loop only posts each page and, later, hears whether it was a duplicate.
//
// The crawler knows only the PageSink interface, so the index could as well be written by
// another process (issue 15 merges the indexes of several crawlers).
import { relative } from "node:path";
import type { IndexSummary } from "@async-from-scratch/shared/search";
import type { Engine } from "./engine.ts";
import { bytes, seconds } from "./report.ts";

export interface SinkPage {
  url: string;
  title: string;
  text: string;
}

export interface PageSink {
  /** Stores a page; resolves true if the index already had one with the same title and text. */
  add(page: SinkPage): Promise<boolean>;
  /** Finishes the index (flushes and merges) and says what it holds, in one line. */
  close(): Promise<string>;
  /** Stops without finishing: what this run added is thrown away. */
  abort(): Promise<void>;
}

/**
 * The index in dir (appended to with `append`, as --resume does), written by a worker thread of
 * the engine's, which engine.close() stops.
 */
export async function openIndexSink(
  engine: Engine,
  dir: string,
  append: boolean,
): Promise<PageSink> {
  const pool = engine.pool(new URL("./indexer.ts", import.meta.url), 1);
  await pool.run("open", { dir, append });
  return {
    add: (page) => pool.run<boolean>("add", page),
    async close() {
      const { pages, bytes: size, flushes, mergeMs } = await pool.run<IndexSummary>("close", null);
      const where = relative(process.cwd(), dir).startsWith("..")
        ? dir
        : relative(process.cwd(), dir);
      const merged = flushes > 1 ? ` (${flushes} segments merged in ${seconds(mergeMs)})` : "";
      return `${pages} pages, ${bytes(size)}${merged} in ${where}`;
    },
    abort: () => pool.run("abort", null),
  };
}
