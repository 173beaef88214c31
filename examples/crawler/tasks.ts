// What the crawler's worker threads do: all the CPU work a page costs, so that the loop's thread
// only moves bytes. Each worker reads a page (gunzip, charset, HTML, links: page.ts) and indexes
// it (words, stems, postings: shared/search) into an index of its own, which the main thread
// merges into one at the end (readers.ts). One message each way per page: the page's text never
// travels back to the loop's thread, and the crawler has decided before sending a page whether
// it is to be indexed (not if its body is a twin's), so nothing waits for a second answer.
//
// This module runs in each worker of a WorkerPool (serveTasks); with --parsers 0 the main thread
// calls the same handlers itself.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { IndexWriter, SharedHashSet64, type IndexSummary } from "@async-from-scratch/shared/search";
import { serveTasks } from "@async-from-scratch/shared/loop";
import { readPage, type PageInput, type PageResult } from "./page.ts";
import { warmUp } from "./warmup.ts";

/** What the crawler gets back for a page: all of PageResult but what went into the index. */
export type ReadPage = Omit<PageResult, "title" | "text" | "headings"> & {
  /**
   * Indexed: null if not (not wanted, noindex, a redirect); else whether the index had its text
   * already.
   */
  duplicate: boolean | null;
};

let writer: IndexWriter | null = null;

/** This thread's index writer; a task that needs it before "open" (or after "close") is a bug. */
function openWriter(): IndexWriter {
  if (writer === null) throw new Error("no index is open in this thread");
  return writer;
}

export const handlers = {
  /**
   * Starts this thread's own index in dir (a part of the crawl's index). A part that a crawler
   * killed earlier committed (index.json) is kept and added to: its pages' URLs are done.
   * `texts`: the set of title-and-text hashes that the threads share (readers.ts), or null.
   */
  open(options: { dir: string; memoryBudget: number; texts: SharedArrayBuffer | null }): void {
    warmUp(); // while the first page is on its way (warmup.ts says why)
    const { dir, memoryBudget, texts } = options;
    const shared = texts === null ? null : new SharedHashSet64(texts);
    writer = IndexWriter.create(dir, {
      memoryBudget,
      append: existsSync(join(dir, "index.json")),
      claim: shared === null ? undefined : (hi, lo) => shared.add(hi, lo),
    });
  },
  /**
   * Reads a page, and indexes it if `index` says so, the page does not say noindex and is no
   * redirect.
   */
  read({ input, index }: { input: PageInput; index: boolean }): ReadPage | null {
    const part = openWriter(); // first: a read before "open" is a bug, whatever the page
    const page = readPage(input);
    if (page === null) return null; // no HTML after all
    const { title, text, headings, ...rest } = page;
    const indexed = index && !rest.noindex && rest.redirect === null;
    const duplicate = indexed
      ? part.add({ url: input.url, title, text, headings }).duplicate
      : null;
    return { ...rest, duplicate };
  },
  /** This thread's share of the crawl's memory budget, when the number of threads changes. */
  budget(memoryBudget: number): void {
    openWriter().resize(memoryBudget);
  },
  /** Makes the pages indexed so far durable (IndexWriter.commit()): a kill no longer loses them. */
  commit(): void {
    openWriter().commit();
  },
  close(): IndexSummary {
    const summary = openWriter().close();
    writer = null;
    return summary;
  },
  abort(): void {
    writer?.abort();
    writer = null;
  },
};

serveTasks(handlers);
