// --workers N: starts N crawler processes that share one crawl through Redis (--frontier), waits
// for them, and joins what they leave: their indexes into one in --out (which search reads),
// their crawl logs into one, and the counts of the whole crawl from Redis.
//
// The crawlers are the same program (main.ts) started with --frontier and --url, each with an
// --out of its own (out/workers/N): exactly what a person starts by hand on other machines. This
// process only watches: a crawler that dies (killed, out of memory) is reported, not restarted,
// and the others take its URLs over once their lease runs out (redis-stores.ts). Node's own
// child_process and loop do the watching here: nothing in this process needs our loop.
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { joinIndexes } from "@async-from-scratch/shared/search";
import { createEngine, type Engine } from "./engine.ts";
import { RedisCrawl } from "./redis-stores.ts";
import { committedParts, joinLine } from "./readers.ts";
import { OUTCOMES, seconds, shortPath } from "./report.ts";

export interface WorkersOptions {
  count: number;
  /** redis://host:port/ */
  frontier: string;
  /** Clear what Redis holds of an earlier crawl first (not for --resume). */
  fresh: boolean;
  startUrls: string[];
  out: string;
  /** The other flags, for each crawler. */
  flags: string[];
}

interface Ended {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Runs the crawlers, prints the report of the whole crawl; the exit code. */
export async function runWorkers(options: WorkersOptions): Promise<number> {
  const { count, frontier, out } = options;
  const engine = createEngine("node");
  const say = (line = "") => process.stdout.write(`${line}\n`);
  const workersDir = join(out, "workers");
  rmSync(workersDir, { recursive: true, force: true });
  try {
    if (options.fresh) await RedisCrawl.clear(engine, frontier);
  } catch (error) {
    process.stderr.write(`crawler: Redis at ${frontier}: ${(error as Error).message}\n`);
    return 1;
  }

  say(`${count} crawlers share ${frontier}, from ${options.startUrls.join(" and ")}`);
  // Ctrl-C (or SIGTERM) reaches this process alone, since each crawler has a process group of
  // its own, and is passed on to each crawler once: they stop as one crawler stops, giving back
  // what they took. (From the terminal's group, they would get a second one from us: "at once".)
  const children: ChildProcess[] = [];
  let interrupted: NodeJS.Signals | null = null;
  const relay = (signal: NodeJS.Signals) => {
    interrupted ??= signal;
    for (const child of children) child.kill(signal);
  };
  process.on("SIGINT", relay);
  process.on("SIGTERM", relay);
  const began = performance.now();
  const ended = await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const args = [
        ...process.execArgv,
        process.argv[1]!,
        "--frontier",
        frontier,
        ...options.startUrls.flatMap((url) => ["--url", url]),
        "--out",
        join(workersDir, String(i + 1)),
        ...options.flags,
      ];
      return runOne(i + 1, args, say, children);
    }),
  );
  process.off("SIGINT", relay);
  process.off("SIGTERM", relay);
  const wallMs = performance.now() - began;
  say();

  // The crawlers' indexes, and their logs. One that finished left its index in its --out; one
  // that was killed left the parts its threads last committed (out/parts/N), with the pages of
  // every URL it finished. A page in one of those and fetched again by another crawler (its URL
  // was not finished yet) is in two parts: joinIndexes merges the segments from one to the
  // other, which keeps it once (same title and text), and links the rest as they are (they are
  // scratch, deleted below), after what a crawl resumed in out had there.
  const dirs = ended.map((_, i) => join(workersDir, String(i + 1)));
  const parts = dirs.flatMap(indexesLeft);
  const joined = parts.length > 0 ? joinIndexes(parts, out, { append: !options.fresh }) : null;
  const log = join(out, "crawl-log.jsonl");
  if (options.fresh) writeFileSync(log, "");
  for (const dir of dirs) {
    const part = join(dir, "crawl-log.jsonl");
    if (existsSync(part)) appendFileSync(log, readFileSync(part));
  }
  rmSync(workersDir, { recursive: true, force: true });

  const totals = await RedisCrawl.totals(engine, frontier);
  await engine.close();
  const row = (name: string, value: number) => `  ${name.padEnd(16)}${String(value).padStart(7)}`;
  say(`URLs discovered  ${String(totals.discovered).padStart(7)}`);
  let sum = 0;
  for (const outcome of OUTCOMES) {
    say(row(outcome, totals.counts[outcome]));
    sum += totals.counts[outcome];
  }
  const settled = sum;
  if (totals.waiting > 0) say(row("still queued", totals.waiting));
  sum += totals.waiting;
  const mismatch =
    sum === totals.discovered ? "" : `  (not ${totals.discovered}: a URL lost or counted twice)`;
  say(`${row("sum", sum)}${mismatch}`);
  say();
  say(
    `Wall time ${seconds(wallMs)}: ${(settled / (wallMs / 1000)).toFixed(0)} URLs settled/s in all`,
  );
  if (joined !== null)
    say(`Index: ${joined.pages} pages in ${shortPath(out)}: ${joinLine(joined)}`);
  if (interrupted !== null) return interrupted === "SIGINT" ? 130 : 143;
  return ended.every((end) => end.code === 0) ? 0 : 1;
}

/** Starts crawler n and relays its stderr; settles when it ends, however it ends. */
function runOne(
  n: number,
  args: string[],
  say: (line: string) => void,
  children: ChildProcess[],
): Promise<Ended> {
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  children.push(child);
  say(`  crawler ${n}: pid ${child.pid}`);
  let report = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (report += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => {
    for (const line of text.split("\n").filter(Boolean))
      process.stderr.write(`crawler ${n}: ${line}\n`);
  });
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      if (signal !== null) {
        say(`  crawler ${n}: killed by ${signal}; its URLs go to the others when its lease is out`);
      } else {
        // Its own report's count: the URLs it settled itself.
        const settled = /^URLs discovered\s+(\d+)/m.exec(report)?.[1] ?? "?";
        const takenOver = /(\d+) taken over here/.exec(report)?.[1] ?? "?";
        say(`  crawler ${n}: exit ${code}, ${settled} URLs settled, ${takenOver} taken over`);
      }
      resolve({ pid: child.pid!, code: signal === null ? code : null, signal });
    });
  });
}

/** A line of the whole shared crawl's counts, for a crawler's own report. */
export async function sharedTotalsLine(engine: Engine, frontier: string, takenOver: number) {
  const totals = await RedisCrawl.totals(engine, frontier);
  const settled = OUTCOMES.reduce((sum, outcome) => sum + totals.counts[outcome], 0);
  return (
    `Shared crawl in ${frontier}: ${totals.discovered} URLs discovered by all crawlers, ` +
    `${settled} settled, ${totals.waiting} waiting or being fetched; ` +
    `${takenOver} taken over here from crawlers gone silent\n`
  );
}

/**
 * The index a crawler left in dir (its --out): its own, or if it was killed before it made one,
 * the parts its threads committed. Also for --merge, with crawlers started by hand.
 */
export function indexesLeft(dir: string): string[] {
  return existsSync(join(dir, "index.json")) ? [dir] : committedParts(dir);
}
