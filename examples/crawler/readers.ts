// The threads that read and index pages (tasks.ts), seen from the crawl: read a page and, if the
// crawler wants it, index it. Each thread writes an index of its own into out/parts/N (main.ts
// holds the lock of out/parts, so that two crawls never share an --out); close() joins them into
// the one index in out (after what a resumed crawl had there), which search reads: each part's
// segment is linked into out as it is, and index.json names them all (joinIndexes). The search
// reads several segments as one, so nothing is decoded and encoded again; a merge, which did that
// (0.28 s of a 3 s crawl of 500 pages with two threads), happens only where a merge policy asks
// for one (shared/search/merge.ts): a page two parts both hold, or too many segments. Within a
// crawl the threads do not both index one text: they share the set of texts indexed (below).
//
// The crawler knows only the PageReaders interface: where the text goes is not its business.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import {
  DEFAULT_MEMORY_BUDGET,
  SharedHashSet64,
  joinIndexes,
} from "@async-from-scratch/shared/search";
import type { IndexSummary, JoinSummary } from "@async-from-scratch/shared/search";
import type { WorkerPool } from "@async-from-scratch/shared/loop";
import type { Engine } from "./engine.ts";
import type { PageInput } from "./page.ts";
import { bytes, plural, seconds, shortPath } from "./report.ts";
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
  /**
   * Rejects if a thread cannot open its index (another crawler is writing this --out, say): one
   * of the first threads, or one started later. Never resolves.
   */
  failure: Promise<never>;
  /** Reads a page in a thread; indexes it there too if `index` (and the page allows). */
  read(input: PageInput, index: boolean): Promise<ReadResult | null>;
  /** With checkpoints on: commits now each thread's pages not yet durable. */
  checkpoint(): void;
  /** Joins the threads' indexes into the crawl's; a line for the report. */
  close(): Promise<string>;
  /** Stops without touching the crawl's index. */
  abort(): Promise<void>;
}

/** How many threads read pages. */
export interface ReadingThreads {
  /** Started at once; 0: none, the loop's own thread reads (and `most` is not looked at). */
  first: number;
  /** At most: one more is started while the pages waiting are worth it and a core is idle. */
  most: number;
}

// Slots of the shared set of texts: 8 MiB, which holds the texts of half a million pages; past
// that, joinIndexes finds the rest of the repeats (and the report says so).
const SHARED_TEXTS = 2 ** 20;

// When the threads fall behind, another may help, if a core has nothing else to do. But a thread
// costs CPU to start (about START_MS, loading and compiling its modules) and runs its code cold
// at first: where the pages waiting are little work (many small pages, a crawl like bench (a)),
// a second thread costs more than it saves, and where the loop's thread and the server keep every
// core busy, it only takes time from them. Where heavy pages wait and a core sits idle (bench
// (c)), it pays. So: once every LOOK_MS, if the pages waiting would keep each thread busy for
// more than START_MS (at the time a page has taken so far), none is still starting, and the
// machine left IDLE_CORES idle since the last look, one more thread.
const LOOK_MS = 100;
const START_MS = 250;
const IDLE_CORES = 0.3;

type Call = <T>(task: string, argument: unknown, transfer?: ArrayBuffer[]) => Promise<T>;

/** A thread that reads pages (the loop's own, with --parsers 0), as openReaders keeps it. */
interface Reader {
  /** Its part of the index: out/parts/N. */
  part: string;
  /** Runs a task in it. `run` first waits for its index to be open; `call` does not (abort). */
  call: Call;
  run: Call;
  /** Whether it has opened its index: its first pages wait till then. */
  open: boolean;
  /** Pages sent to it and not yet answered. */
  pending: number;
  /** When it could start on the next page it is sent: its last page answered, or it opened. */
  freeAt: number;
  /** Checkpoints: the promise of its next commit, its pages since the last one, and when. */
  commit: { next: ReturnType<typeof deferred>; uncommitted: number; at: number };
}

/**
 * The threads that read pages (of the engine's, which engine.close() stops), or none: then the
 * loop's own thread reads and indexes, which is simpler to follow and slower. `append`: keep the
 * pages already in out (--resume). `checkpointMs`: commit each thread's index that often (and when
 * checkpoint() asks), for a crawler that must not say a page is done before it is on disk; null:
 * only close() makes the index, as a crawler alone needs.
 */
export function openReaders(
  engine: Engine,
  out: string,
  threads: ReadingThreads,
  append: boolean,
  checkpointMs: number | null = null,
): PageReaders {
  let most = threads.first === 0 ? 1 : Math.max(threads.first, threads.most);
  // The threads share the memory budget of one writer: each flushes a segment past its share,
  // which shrinks when another thread starts.
  const share = (threadCount: number) => Math.floor(DEFAULT_MEMORY_BUDGET / threadCount);
  // Two URLs whose bodies differ (a comment, a token) may still have the same title and text,
  // and two threads would each index theirs: the threads share the set of the texts they have
  // indexed, so that the second one to meet a text counts it a duplicate, as one thread would.
  const texts = most > 1 ? SharedHashSet64.allocate(SHARED_TEXTS) : null;
  const readers: Reader[] = [];
  const openedAt = engine.time();
  // What reading a page has taken a thread, on average: from when the thread could start on it
  // (its freeAt: a thread reads in order) to its answer.
  let readingMs = 0;
  let pagesRead = 0;
  const grownAt: number[] = []; // when each thread past the first ones started, from openedAt
  let fail!: (error: unknown) => void;
  const failure = new Promise<never>((_, reject) => (fail = reject));
  failure.catch(() => {}); // the caller hears of it through `failure`

  // A thread takes a while to start (a second, on a busy machine), and the crawl need not wait
  // for it: the first request goes out now, and the first page waits for its thread if need be.
  // Tasks are answered in order, so each thread opens its index before it reads a page.
  function startThread(memoryBudget: number): Reader {
    const part = join(out, "parts", String(readers.length));
    let call: Call;
    if (threads.first === 0) {
      call = async (task, argument) =>
        (handlers as Record<string, (a: never) => unknown>)[task]!(argument as never) as never;
    } else {
      const pool: WorkerPool = engine.pool(new URL("./tasks.ts", import.meta.url), 1);
      call = (task, argument, transfer) => pool.run(task, argument, transfer);
    }
    const opened = call<void>("open", { dir: part, memoryBudget, texts });
    const now = engine.time();
    const reader: Reader = {
      part,
      call,
      run: async (task, argument, transfer) => {
        await opened;
        return call(task, argument, transfer);
      },
      open: false,
      pending: 0,
      freeAt: now,
      commit: { next: deferred(), uncommitted: 0, at: now },
    };
    opened.then(() => {
      reader.open = true;
      reader.freeAt = engine.time(); // its first pages' reading begins now
    }, fail);
    readers.push(reader);
    return reader;
  }
  const firstCount = Math.max(1, threads.first);
  for (let i = 0; i < firstCount; i++) startThread(share(firstCount));

  const sample = () => ({ at: engine.time(), idle: idleCpuMs(), ours: ourCpuMs() });
  // Only where another thread may start (not with --parsers N): os.cpus() is not free.
  let lastLook = readers.length < most ? sample() : null;
  /** One more thread if the pages waiting are worth starting one for and a core was idle. */
  function lookForHelp(): void {
    if (lastLook === null || readers.length >= most) return;
    if (engine.time() - lastLook.at < LOOK_MS) return;
    const now = sample();
    const elapsedMs = now.at - lastLook.at;
    // The machine's idle cores, but no more than the cores this process may use and does not:
    // os.cpus() counts every core of the machine, also for a process pinned to two of them (a
    // cpuset). (A CPU quota, docker --cpus, neither sees: this Node's availableParallelism()
    // reads only the affinity.)
    const idleCores = Math.min(
      (now.idle - lastLook.idle) / elapsedMs,
      availableParallelism() - (now.ours - lastLook.ours) / elapsedMs,
    );
    lastLook = now;
    const look = {
      threadCount: readers.length,
      opening: readers.filter((reader) => !reader.open).length,
      waitingPages: readers.reduce((sum, reader) => sum + reader.pending, 0),
      readingMs,
      pagesRead,
      idleCores,
    };
    if (!worthAnotherThread(look)) return;
    const memoryBudget = share(readers.length + 1);
    let added: Reader;
    try {
      added = startThread(memoryBudget);
    } catch {
      // No thread to be had at once (no fds for its pipe, say): go on with those there are.
      most = readers.length;
      return;
    }
    grownAt.push(now.at - openedAt);
    for (const reader of readers) {
      if (reader !== added) reader.run<void>("budget", memoryBudget).catch(fail);
    }
  }

  async function track<T>(reader: Reader, work: Promise<T>): Promise<T> {
    reader.pending++;
    const sent = engine.time();
    try {
      return await work;
    } finally {
      const answered = engine.time();
      readingMs += answered - Math.max(sent, reader.freeAt);
      pagesRead++;
      reader.freeAt = answered;
      reader.pending--;
    }
  }

  // Checkpoints. A thread answers its tasks in order, so a "commit" sent after a page's "read"
  // covers that page: each page indexed waits for the next commit of its thread (`next`), which
  // is sent once checkpointMs have passed since the last one, or when checkpoint() asks.
  function commit(reader: Reader): void {
    const state = reader.commit;
    const { resolve, reject } = state.next;
    Object.assign(state, { next: deferred(), uncommitted: 0, at: engine.time() });
    reader.run<void>("commit", null).then(resolve, reject);
  }

  return {
    failure,
    async read(input, index) {
      lookForHelp();
      // The thread with the fewest pages in hand; the body is moved to it, not copied.
      const reader = readers.reduce((best, other) => (other.pending < best.pending ? other : best));
      const transfer = [input.body.buffer as ArrayBuffer];
      const page = track(reader, reader.run<ReadPage | null>("read", { input, index }, transfer));
      if (checkpointMs === null || !index) {
        const read = await page;
        return read === null ? null : { ...read, durable: null };
      }
      const state = reader.commit;
      const durable = state.next.promise;
      state.uncommitted++;
      if (engine.time() - state.at >= checkpointMs) commit(reader);
      const read = await page;
      return read === null ? null : { ...read, durable: read.duplicate === false ? durable : null };
    },
    checkpoint() {
      for (const reader of readers) if (reader.commit.uncommitted > 0) commit(reader);
    },
    async close() {
      const summaries = await Promise.all(
        readers.map((reader) => reader.run<IndexSummary>("close", null)),
      );
      // And the parts a crawler killed before committed in threads this run did not start again
      // (it had grown to more): their pages are done, and were let go of in a shared frontier.
      const parts = readers.map((reader) => reader.part);
      const left = committedParts(out).filter((part) => !parts.includes(part));
      const joined = joinIndexes([...parts, ...left], out, { append });
      rmSync(join(out, "parts"), { recursive: true, force: true });
      const added = summaries.reduce((sum, s) => sum + s.pages, 0);
      // A thread's writer merged the segments its flushes left (past its memory budget) before:
      // the threads did that side by side, so the slowest one is what the crawl waited for.
      const flushed = summaries.filter((s) => s.mergeMs > 0);
      const before =
        flushed.length === 0
          ? ""
          : `, after the threads merged their ${flushed.reduce((sum, s) => sum + s.flushes, 0)} ` +
            `flushed segments in ${seconds(Math.max(...flushed.map((s) => s.mergeMs)))}`;
      return (
        `${joined.pages} pages (${added} added) in ${shortPath(out)}: ${joinLine(joined)}${before}; ` +
        describeThreads(threads.first, grownAt)
      );
    },
    async abort() {
      await Promise.allSettled(readers.map((reader) => reader.call("abort", null)));
    },
  };
}

/** What readers.ts sees when it looks whether another reading thread would pay. */
export interface Look {
  /** Threads started, and of those, still opening their index. */
  threadCount: number;
  opening: number;
  /** Pages sent to the threads and not yet answered. */
  waitingPages: number;
  /** The time the threads have taken for the pages they answered, and how many. */
  readingMs: number;
  pagesRead: number;
  /** Cores the machine left idle since the last look (and this process could have used). */
  idleCores: number;
}

/** The rule at the top of this file: whether one more thread is worth starting now. */
export function worthAnotherThread(look: Look): boolean {
  // Not while a thread is starting: the pages queued for it are not a backlog, only a wait.
  if (look.opening > 0 || look.pagesRead === 0) return false;
  const backlogMs = (look.waitingPages * look.readingMs) / look.pagesRead / look.threadCount;
  return backlogMs > START_MS && look.idleCores >= IDLE_CORES;
}

/** Who read the pages: "read by 2 threads (1 started after 420 ms, ...)". */
function describeThreads(first: number, grownAt: number[]): string {
  if (first === 0) return "read in the loop's thread";
  const all = `read by ${plural(first + grownAt.length, "thread")}`;
  if (grownAt.length === 0) return all;
  const when = grownAt.map((ms) => seconds(ms)).join(", ");
  return `${all} (${grownAt.length} started after ${when}, as pages waited and a core was idle)`;
}

/** The parts of the index in out/parts that a thread committed (index.json), in any run. */
export function committedParts(out: string): string[] {
  const dir = join(out, "parts");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => existsSync(join(dir, name, "index.json")))
    .sort((a, b) => Number(a) - Number(b) || a.localeCompare(b))
    .map((name) => join(dir, name));
}

/** CPU time this process has used, all its threads, in ms. */
function ourCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * CPU time the machine's cores have spent idle, or running niced programs (which give way to a
 * crawl, as they are meant to), summed over them all, in ms (os.cpus()).
 */
function idleCpuMs(): number {
  return cpus().reduce((sum, { times }) => sum + times.idle + times.nice, 0);
}

/**
 * What joinIndexes did, for a report: "14.6 MiB in 2 segments, 2 parts joined in 20 ms", and if
 * it merged some, "(3 segments merged into one, 1 repeated page dropped)".
 */
export function joinLine(joined: JoinSummary): string {
  const merged =
    joined.merged === 0
      ? ""
      : ` (${plural(joined.merged, "segment")} merged into one` +
        (joined.duplicates > 0 ? `, ${plural(joined.duplicates, "repeated page")} dropped)` : ")");
  return (
    `${bytes(joined.bytes)} in ${plural(joined.segments, "segment")}, ` +
    `${plural(joined.sources, "part")} joined in ${seconds(joined.mergeMs)}${merged}`
  );
}

/** A promise and its resolve and reject; a rejection nobody waits for is not an unhandled one. */
function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((yes, no) => ([resolve, reject] = [yes, no]));
  promise.catch(() => {});
  return { promise, resolve, reject };
}
