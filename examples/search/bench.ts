// bench:search: how fast the index answers, beside MiniSearch (a popular in-memory search library
// for JavaScript) fed the same pages in the same run.
//
// It builds the index of 1,000 fixture articles on disk (timed, and measured on disk), opens it,
// and then answers a fixed set of queries many times over, in rounds that alternate between the
// engines so that a busy machine slows both alike. Figures are per query, after loading: the
// median and the 99th percentile, and the ratios between the engines.
//
// MiniSearch gets our own terms (its processTerm is our fold-and-stem), so it matches Russian
// and English forms as we do; it is asked for every word (AND), as we are. It has no phrases and
// no positions, and returns ids and scores only: "ranking only" is the fair comparison, and the
// figure with snippets is what a person waits for.
//
// Run: pnpm run bench:search [--articles N] [--rounds N]
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import MiniSearch from "minisearch";
import { startLesson } from "@async-from-scratch/shared";
import { Index, IndexWriter, termOf } from "@async-from-scratch/shared/search";
import { QUERIES, TYPOS, fixturePages } from "./fixture.ts";

const args = startLesson("bench:search", {
  articles: {
    type: "integer",
    default: 1000,
    min: 10,
    max: 100_000,
    help: "fixture articles to index",
  },
  rounds: { type: "integer", default: 30, min: 1, max: 10_000, help: "times each query is asked" },
});

const scratch = mkdtempSync(join(tmpdir(), "bench-search-"));
try {
  const pages = fixturePages(args.articles);
  const textBytes = pages.reduce((sum, page) => sum + Buffer.byteLength(page.text), 0);
  console.log(`${pages.length} fixture articles, ${mib(textBytes)} of text`);

  // Ours first: the process remembers every stem worked out (shared/search/tokens.ts), and
  // MiniSearch stems through termOf(), so it finds the stemmer's work done. If either build is
  // favoured, it is MiniSearch's.
  let started = performance.now();
  const writer = IndexWriter.create(join(scratch, "index"));
  for (const page of pages) writer.add(page);
  const summary = writer.close();
  const buildMs = performance.now() - started;

  started = performance.now();
  const mini = new MiniSearch({
    fields: ["title", "text"],
    processTerm: (term) => termOf(term) || null,
  });
  mini.addAll(pages.map((page, id) => ({ id, title: page.title, text: page.text })));
  const miniMs = performance.now() - started;

  const onDisk = readdirSync(summary.dir).reduce(
    (sum, name) => sum + statSync(join(summary.dir, name)).size,
    0,
  );
  started = performance.now();
  const index = Index.open(summary.dir);
  const openMs = performance.now() - started;
  console.log(
    `ours:       built in ${seconds(buildMs)} (${Math.round(pages.length / (buildMs / 1000))} pages/s), ` +
      `${mib(onDisk)} on disk with the text; opened in ${openMs.toFixed(1)} ms`,
  );
  console.log(
    `MiniSearch: built in ${seconds(miniMs)} (${Math.round(pages.length / (miniMs / 1000))} pages/s), in memory`,
  );

  const engines: { name: string; queries: string[]; ask: (query: string) => number }[] = [
    {
      name: "ours, 10 hits with snippets",
      queries: [...QUERIES, ...TYPOS],
      ask: (q) => index.search(q).total,
    },
    {
      name: "ours, ranking only",
      queries: [...QUERIES, ...TYPOS],
      ask: (q) => index.search(q, { snippets: false }).total,
    },
    {
      // MiniSearch gets a phrase's words without the quotes, and no typos: it has no correction,
      // and would find nothing for them, cheaply.
      name: "MiniSearch, ranking only",
      queries: QUERIES,
      ask: (q) => mini.search(q, { combineWith: "AND", boost: { title: 5 } }).length,
    },
    { name: "ours, typos, with snippets", queries: TYPOS, ask: (q) => index.search(q).total },
  ];
  const times = engines.map(() => [] as number[]);
  for (let round = -3; round < args.rounds; round++) {
    engines.forEach((engine, i) => {
      for (const query of engine.queries) {
        const start = performance.now();
        engine.ask(query);
        if (round >= 0) times[i]!.push(performance.now() - start); // the first rounds warm the JIT
      }
    });
  }
  index.close();

  console.log(
    `\n${QUERIES.length} queries (and ${TYPOS.length} typos), ${args.rounds} rounds, after loading:`,
  );
  const rows = engines.map((engine, i) => ({ name: engine.name, ...stats(times[i]!) }));
  for (const { name, median, p99 } of rows) {
    console.log(`  ${name.padEnd(30)} median ${ms(median)}   p99 ${ms(p99)}`);
  }
  const [full, ranking, peer] = [rows[0]!, rows[1]!, rows[2]!];
  console.log(
    `\nranking only, ours / MiniSearch: median ${(ranking.median / peer.median).toFixed(2)}x, ` +
      `p99 ${(ranking.p99 / peer.p99).toFixed(2)}x`,
  );
  console.log(
    `with snippets, ours / MiniSearch ranking only: median ${(full.median / peer.median).toFixed(2)}x`,
  );
  console.log(
    `goal, a median under 1 ms with snippets: ${full.median < 1 ? "met" : "missed"} (${ms(full.median)})`,
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

interface Row {
  median: number;
  p99: number;
}

function stats(samples: number[]): Row {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: at(0.5), p99: at(0.99) };
}

function ms(value: number): string {
  return `${value.toFixed(3)} ms`;
}

function seconds(value: number): string {
  return `${(value / 1000).toFixed(2)} s`;
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
