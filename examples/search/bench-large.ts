// bench:search-large: the index at the lecture's scale, a million pages, without a crawl.
//
// It builds the index of the large fixture wiki's articles (shared/site/lazy.ts, each made from
// the seed when it is needed, so the pages never sit in memory together), in segments flushed
// past a memory budget and merged at the end, and prints the writer's peak RSS as the pages go
// in: flat, not growing with them, is the claim. Then it opens the index and answers
// bench:search's queries many times over: the median, the 99th percentile and the slowest, with
// snippets, ranking only, and ranking with every matching page counted (`exactTotal: Infinity`,
// so no block is skipped): the last shows what pruning saves.
//
// The large wiki's vocabulary is small (a few hundred templates), so its common words are on
// most of the million pages: the worst case for a query's postings, which is the point.
//
// Run: pnpm run bench:search-large [--pages N] [--memory-budget MIB] [--index DIR] [--search-only]
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLesson } from "@async-from-scratch/shared";
import { Index, IndexWriter } from "@async-from-scratch/shared/search";
import { LazyWiki } from "../../shared/site/lazy.ts";
import { QUERIES, TYPOS, lazyFixturePage } from "./fixture.ts";

const args = startLesson("bench:search-large", {
  pages: {
    type: "integer",
    default: 1_000_000,
    min: 1000,
    max: 10_000_000,
    help: "pages of the large fixture wiki to index",
  },
  "memory-budget": {
    type: "integer",
    default: 64,
    min: 1,
    max: 4096,
    help: "MiB the writer holds before it flushes a segment",
  },
  index: {
    type: "string",
    placeholder: "DIR",
    help: "where to build the index, and keep it (default: a temporary directory, removed)",
  },
  "search-only": { type: "boolean", help: "search the index already in --index, without building" },
  rounds: { type: "integer", default: 10, min: 1, max: 1000, help: "times each query is asked" },
});
if (args["search-only"] && args.index === undefined) {
  process.stderr.write("bench:search-large: --search-only needs --index DIR\n");
  process.exit(2);
}

const scratch = args.index === undefined ? mkdtempSync(join(tmpdir(), "bench-large-")) : null;
const dir = args.index ?? join(scratch!, "index");
try {
  if (!args["search-only"]) build();
  else if (!existsSync(dir)) throw new Error(`no index at ${dir}`);
  search();
} finally {
  if (scratch !== null) rmSync(scratch, { recursive: true, force: true });
}

function build(): void {
  const wiki = new LazyWiki(args.pages, 1);
  const budget = args["memory-budget"] * 2 ** 20;
  console.log(
    `building the index of ${args.pages} pages, memory budget ${args["memory-budget"]} MiB`,
  );
  const started = performance.now();
  const writer = IndexWriter.create(dir, { memoryBudget: budget });
  // The peak RSS at each tenth of the pages: the writer's memory should not grow with them.
  const peaks: string[] = [];
  const tenth = Math.ceil(args.pages / 10);
  for (let i = 0; i < args.pages; i++) {
    writer.add(lazyFixturePage(wiki, i));
    if ((i + 1) % tenth === 0 || i + 1 === args.pages) {
      peaks.push(mib(peakRss()));
      if (process.stderr.isTTY) {
        const rate = Math.round((i + 1) / ((performance.now() - started) / 1000));
        process.stderr.write(`\r${i + 1} pages, ${rate} pages/s, peak RSS ${peaks.at(-1)}   `);
      }
    }
  }
  if (process.stderr.isTTY) process.stderr.write("\n");
  const addMs = performance.now() - started;
  const beforeMerge = peakRss();
  const summary = writer.close();
  const totalMs = performance.now() - started;
  console.log(
    `added in ${seconds(addMs)} (${Math.round(args.pages / (addMs / 1000))} pages/s), ` +
      `${summary.flushes} segments flushed, merged in ${seconds(summary.mergeMs)}; ` +
      `${seconds(totalMs)} in all`,
  );
  console.log(`index: ${summary.pages} pages, ${mib(summary.bytes)} on disk`);
  console.log(`peak RSS at each tenth of the pages: ${peaks.join(", ")}`);
  console.log(`peak RSS before the merge ${mib(beforeMerge)}, with the merge ${mib(peakRss())}`);
}

function search(): void {
  let started = performance.now();
  const index = Index.open(dir);
  const openMs = performance.now() - started;
  console.log(
    `\nopened ${index.pages} pages, ${index.segmentCount} segment(s), ${mib(index.bytes)}, ` +
      `in ${openMs.toFixed(0)} ms; RSS ${mib(process.memoryUsage().rss)}`,
  );
  const queries = [...QUERIES, ...TYPOS];
  const modes = [
    { name: "10 hits with snippets", options: {} },
    { name: "ranking only", options: { snippets: false } },
    { name: "ranking, exact totals", options: { snippets: false, exactTotal: Infinity } },
  ];
  // Wall time, and the CPU time the process spent on the query: on a shared machine the wall
  // time also holds the time other processes had the core, the CPU time does not.
  const times = modes.map(() => queries.map(() => [] as number[]));
  const cpu = modes.map(() => [] as number[]);
  for (let round = -2; round < args.rounds; round++) {
    modes.forEach((mode, m) => {
      queries.forEach((query, q) => {
        const cpuStarted = process.cpuUsage();
        started = performance.now();
        index.search(query, mode.options);
        if (round < 0) return; // the first rounds warm the JIT up
        times[m]![q]!.push(performance.now() - started);
        const { user, system } = process.cpuUsage(cpuStarted);
        cpu[m]!.push((user + system) / 1000);
      });
    });
  }
  console.log(`\n${queries.length} queries, ${args.rounds} rounds, per query after loading:`);
  modes.forEach((mode, m) => {
    const all = times[m]!.flat();
    const medians = times[m]!.map((samples) => percentile(samples, 0.5));
    const slowest = medians.indexOf(Math.max(...medians));
    console.log(
      `  ${mode.name.padEnd(22)} median ${ms(percentile(all, 0.5))}   p99 ${ms(percentile(all, 0.99))}` +
        `   CPU median ${ms(percentile(cpu[m]!, 0.5))}   p99 ${ms(percentile(cpu[m]!, 0.99))}`,
    );
    console.log(
      `  ${"".padEnd(22)} slowest query ${JSON.stringify(queries[slowest])} (median ${ms(medians[slowest]!)})`,
    );
  });
  const sample = index.search("сокеты");
  const common = index.search("python", { snippets: false });
  console.log(
    `\n"сокеты": ${sample.total} pages${sample.totalExact ? "" : " or more"}; ` +
      `"python": ${common.total} pages, its best 10 in ${ms(common.tookMs)}`,
  );
  index.close();
}

function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024; // KiB on Linux
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function ms(value: number): string {
  return `${value.toFixed(value < 10 ? 2 : 1)} ms`;
}

function seconds(value: number): string {
  return `${(value / 1000).toFixed(1)} s`;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}
