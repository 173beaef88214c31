// What the crawler's worker threads do: all the CPU work a page costs, so that the loop's thread
// only moves bytes. Each worker reads pages (gunzip, charset, HTML, links, SHA-1: page.ts) and
// indexes them (words, stems, postings: shared/search) into an index of its own, which the main
// thread merges into one at the end (readers.ts). A page's text never travels back to the main
// thread: it waits here, by its ticket, until the crawler says whether to index it (it may be a
// duplicate of a page another worker read) and is dropped otherwise.
//
// This module runs in each worker of a WorkerPool (serveTasks); with --parsers 0 the main thread
// calls the same handlers itself.
import { IndexWriter, type IndexSummary } from "@async-from-scratch/shared/search";
import { serveTasks } from "@async-from-scratch/shared/loop";
import { readPage, type PageInput, type PageResult } from "./page.ts";

/** What the crawler gets back for a page: all of PageResult but its title and text. */
export type ReadPage = Omit<PageResult, "title" | "text"> & { ticket: number };

let writer: IndexWriter | null = null;
const waiting = new Map<number, { url: string; title: string; text: string }>();
let nextTicket = 0;

function opened(): IndexWriter {
  if (writer === null) throw new Error("no index is open in this thread");
  return writer;
}

export const handlers = {
  /** Starts this thread's own index in dir (a part of the crawl's index). */
  open({ dir, memoryBudget }: { dir: string; memoryBudget: number }): void {
    writer = IndexWriter.create(dir, { memoryBudget });
  },
  read(input: PageInput): ReadPage {
    const { title, text, ...rest } = readPage(input);
    const ticket = nextTicket++;
    waiting.set(ticket, { url: input.url, title, text });
    return { ...rest, ticket };
  },
  /** Indexes the page read with this ticket; true if the index had its title and text already. */
  index(ticket: number): boolean {
    const page = waiting.get(ticket);
    if (page === undefined) throw new Error(`no page waits with ticket ${ticket}`);
    waiting.delete(ticket);
    return opened().add(page).duplicate;
  },
  drop(ticket: number): void {
    waiting.delete(ticket);
  },
  close(): IndexSummary {
    const summary = opened().close();
    writer = null;
    waiting.clear();
    return summary;
  },
  abort(): void {
    writer?.abort();
    writer = null;
    waiting.clear();
  },
};

serveTasks(handlers);
