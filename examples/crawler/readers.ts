// The threads that read and index pages (tasks.ts), seen from the crawl: read a page and, if the
// crawler wants it, index it. Each thread writes an index of its own into out/parts/N (main.ts holds the lock
// of out/parts, so that two crawls never share an --out); close() merges them
// into the one index in out (after what a resumed crawl had there), which search reads. Merging
// the indexes of several writers is the same step that joins the indexes of several crawler
// processes (issue 15).
//
// The crawler knows only the PageReaders interface: where the text goes is not its business.
import { existsSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { DEFAULT_MEMORY_BUDGET, mergeIndexes } from "@async-from-scratch/shared/search";
import type { IndexSummary } from "@async-from-scratch/shared/search";
import type { WorkerPool } from "@async-from-scratch/shared/loop";
import type { Engine } from "./engine.ts";
import type { PageInput } from "./page.ts";
import { bytes, seconds } from "./report.ts";
import { handlers, type ReadPage } from "./tasks.ts";

/** A page read, and if it was indexed with checkpoints on, when it is durable. */
export type ReadResult = ReadPage & {
  /**
   * Settles once the page is in a committed segment of its thread's index, where a kill of this
   * process no longer loses it; rejects if the commit failed. Null without checkpoints, or when
   * the page was not added to the index.
   */
  durable: Promise<void> | null;
};

export interface PageReaders {
  /** Settles once every thread has opened its index; rejects if one could not (locked, say). */
  ready: Promise<void>;
  /** Reads a page in a thread; indexes it there too if `index` (and the page allows). */
  read(input: PageInput, index: boolean): Promise<ReadResult>;
  /** With checkpoints on: commits now each thread's pages not yet durable. */
  checkpoint(): void;
  /** Merges the threads' indexes into the crawl's; a line for the report. */
  close(): Promise<string>;
  /** Stops without touching the crawl's index. */
  abort(): Promise<void>;
}

type Call = <T>(task: string, argument: unknown, transfer?: ArrayBuffer[]) => Promise<T>;

/**
 * `threads` worker threads (of the engine's, which engine.close() stops), or none: then the loop's
 * own thread reads and indexes, which is simpler to follow and slower. `append`: keep the pages
 * already in out (--resume). `checkpointMs`: commit each thread's index that often (and when
 * checkpoint() asks), for a crawler that must not say a page is done before it is on disk; null:
 * only close() makes the index, as a crawler alone needs.
 */
export function openReaders(
  engine: Engine,
  out: string,
  threads: number,
  append: boolean,
  checkpointMs: number | null = null,
): PageReaders {
  const started: Call[] =
    threads === 0
      ? [
          async (task, argument) =>
            (handlers as Record<string, (a: never) => unknown>)[task]!(argument as never) as never,
        ]
      : Array.from({ length: threads }, () => {
          const pool: WorkerPool = engine.pool(new URL("./tasks.ts", import.meta.url), 1);
          return (task, argument, transfer) => pool.run(task, argument, transfer);
        });
  const parts = started.map((_, i) => join(out, "parts", String(i)));
  // The threads share the memory budget of one writer: each flushes a segment past its share.
  const memoryBudget = Math.floor(DEFAULT_MEMORY_BUDGET / started.length);
  // A thread takes a while to start (a second, on a busy machine), and the crawl need not wait
  // for it: the first request goes out now, and the first page waits for its thread if need be.
  // Tasks are answered in order, so each thread opens its index before it reads a page.
  const opened = started.map((call, i) => call<void>("open", { dir: parts[i], memoryBudget }));
  const ready = Promise.all(opened).then(() => {});
  ready.catch(() => {}); // the caller hears of it through `ready`
  const calls: Call[] = started.map((call, i) => async (task, argument, transfer) => {
    await opened[i];
    return call(task, argument, transfer);
  });
  const pending = calls.map(() => 0);

  async function track<T>(reader: number, work: Promise<T>): Promise<T> {
    pending[reader]!++;
    try {
      return await work;
    } finally {
      pending[reader]!--;
    }
  }

  // Checkpoints. A thread answers its tasks in order, so a "commit" sent after a page's "read"
  // covers that page: each page indexed waits for the next commit of its thread (`next`), which
  // is sent once checkpointMs have passed since the last one, or when checkpoint() asks.
  const commits = calls.map(() => ({ next: deferred(), uncommitted: 0, at: engine.time() }));
  function commit(reader: number): void {
    const state = commits[reader]!;
    const { resolve, reject } = state.next;
    Object.assign(state, { next: deferred(), uncommitted: 0, at: engine.time() });
    calls[reader]!<void>("commit", null).then(resolve, reject);
  }

  return {
    ready,
    async read(input, index) {
      // The thread with the fewest pages in hand; the body is moved to it, not copied.
      const reader = pending.indexOf(Math.min(...pending));
      const transfer = [input.body.buffer as ArrayBuffer];
      const page = track(reader, calls[reader]!<ReadPage>("read", { input, index }, transfer));
      if (checkpointMs === null || !index) return { ...(await page), durable: null };
      const state = commits[reader]!;
      const durable = state.next.promise;
      state.uncommitted++;
      if (engine.time() - state.at >= checkpointMs) commit(reader);
      const read = await page;
      return { ...read, durable: read.duplicate === false ? durable : null };
    },
    checkpoint() {
      for (const [reader, state] of commits.entries()) if (state.uncommitted > 0) commit(reader);
    },
    async close() {
      const summaries = await Promise.all(calls.map((call) => call<IndexSummary>("close", null)));
      const started = performance.now();
      const sources = [...(append && existsSync(join(out, "index.json")) ? [out] : []), ...parts];
      const merged = mergeIndexes(sources, out, { consume: true });
      const mergeMs = performance.now() - started;
      rmSync(join(out, "parts"), { recursive: true, force: true });
      const added = summaries.reduce((sum, s) => sum + s.pages, 0);
      const where = relative(process.cwd(), out).startsWith("..")
        ? out
        : relative(process.cwd(), out);
      const from = `${sources.length} part${sources.length === 1 ? "" : "s"}`;
      return (
        `${merged.pages} pages (${added} added) in ${where}: ${bytes(merged.bytes)}, ` +
        `merged from ${from} in ${seconds(mergeMs)}`
      );
    },
    async abort() {
      await Promise.allSettled(started.map((call) => call("abort", null)));
    },
  };
}

/** A promise and its resolve and reject; a rejection nobody waits for is not an unhandled one. */
function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((yes, no) => ([resolve, reject] = [yes, no]));
  promise.catch(() => {});
  return { promise, resolve, reject };
}
