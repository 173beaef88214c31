// bench:million: the lecture's own scale, "список ссылок, который состоит из 1,000,000
// документов". The fixture site with a million articles at zero latency, crawled and indexed by
// one crawler process whose frontier and seen sets go to disk past --memory-urls (disk.ts). A
// benchmark, not a test: it prints what it measures and asserts nothing; the README quotes it.
//
// It prints pages/s; the crawler's RSS as the crawl goes on (it stays flat when memory does not
// grow with the pages) and at its peak; bytes per URL, in memory and on disk; the index's size
// on disk and the time its parts took to join (and the reading thread to merge what it flushed).
//
// The crawler runs as `pnpm run crawler` does (node examples/crawler/start.mjs), in a process of
// its own; its RSS is read from /proc/PID/status every second (Linux), and the pages it has done
// from the length of its crawl log.
//
// A million pages take the better part of an hour on a small machine: Ctrl-C (or SIGINT to this
// process) stops the crawl as the crawler's own Ctrl-C does, and the figures are printed for the
// pages done, the index made from them included.
//
// Run: pnpm run bench:million [--articles N] [--max-pages N] [--memory-urls N] [--concurrency N]
//        [--per-host N]
import { spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startLesson } from "@async-from-scratch/shared";
import { LAZY_MAX, startSite } from "@async-from-scratch/shared/site";
import { bytes, seconds } from "./report.ts";

const args = startLesson("bench:million", {
  articles: {
    type: "integer",
    default: 1_000_000,
    min: 1,
    max: LAZY_MAX,
    help: "the fixture site's articles (past 10000, each page is made when asked for)",
  },
  "max-pages": {
    type: "integer",
    default: 100_000_000,
    min: 1,
    max: 100_000_000,
    help: "stop after this many pages; the default, more than the site has, means all of them",
  },
  "memory-urls": {
    type: "integer",
    default: 100_000,
    min: 0,
    max: 100_000_000,
    help: "the crawler's --memory-urls: URLs its stores keep in memory before disk",
  },
  concurrency: { type: "integer", default: 32, min: 1, max: 10_000, help: "requests at once" },
  "per-host": {
    type: "integer",
    default: 16,
    min: 1,
    max: 1_000,
    help: "connections to the site at once",
  },
});

const here = fileURLToPath(new URL(".", import.meta.url));
const root = join(here, "..", "..");
const start = join(here, "start.mjs");
const out = mkdtempSync(join(tmpdir(), "bench-million-"));
const line = (text = "") => process.stdout.write(`${text}\n`);

// Build the bundle first, outside the measurement.
spawnSync(process.execPath, [start, "--help"], { cwd: root, stdio: "ignore" });

const site = await startSite({ articles: args.articles, latencyMs: 0 });
line(
  `bench:million: the fixture site with ${args.articles} articles at zero latency, crawled by ` +
    `one crawler process (--memory-urls ${args["memory-urls"]}, --concurrency ` +
    `${args.concurrency}, --per-host ${args["per-host"]})`,
);
line();

interface Sample {
  ms: number;
  pages: number;
  rss: number;
}
const samples: Sample[] = [];
let report = "";
try {
  report = await crawl(samples);
} finally {
  await site.stop();
  rmSync(out, { recursive: true, force: true });
}

// ---- what it found ---------------------------------------------------------------------------------

const figure = (pattern: RegExp) => pattern.exec(report)?.[1] ?? "?";
const discovered = Number(figure(/^URLs discovered +(\d+)$/m));
// URLs with an outcome: all of them, unless the crawl was stopped.
const done = Math.max(0, ...samples.map((sample) => sample.pages));
line(`URLs discovered: ${discovered}`);
if (report.includes("stopped by Ctrl-C"))
  line("Stopped by Ctrl-C: the figures are for the pages done.");
line(figure(/^(Wall time .*)$/m));
line();
// The highest RSS up to each point: if memory does not grow with the pages, it levels off.
line("Peak RSS of the crawler's process so far, as the crawl went on (pages done: RSS):");
const peakAt = (share: number) => {
  let peak: Sample | undefined;
  for (const sample of samples) {
    if (peak === undefined || sample.rss > peak.rss) peak = { ...sample, rss: sample.rss };
    if (sample.pages >= share * done) return { pages: sample.pages, rss: peak.rss };
  }
  return peak === undefined ? undefined : { pages: samples.at(-1)!.pages, rss: peak.rss };
};
for (const share of [0.1, 0.25, 0.5, 0.75, 1]) {
  const at = peakAt(share);
  if (at !== undefined) line(`  ${String(at.pages).padStart(9)}: ${bytes(at.rss).padStart(10)}`);
}
const [half, whole] = [peakAt(0.5), peakAt(1)];
if (half !== undefined && whole !== undefined && whole.pages > half.pages) {
  const perUrl = Math.max(0, whole.rss - half.rss) / (whole.pages - half.pages);
  line(`  over the second half: ${bytes(Math.round(perUrl))} more per page done`);
}
line();
line("The crawler's own report:");
for (const name of ["Memory", "Stores", "Index"])
  line(`  ${figure(new RegExp(`^(${name}: .*)$`, "m"))}`);

/** Runs the crawler to its end, sampling its RSS and its progress; its report. */
function crawl(samples: Sample[]): Promise<string> {
  const flags = [
    ...["--url", site.url, "--out", out, "--max-pages", String(args["max-pages"])],
    ...["--memory-urls", String(args["memory-urls"])],
    ...["--concurrency", String(args.concurrency), "--per-host", String(args["per-host"])],
  ];
  const began = performance.now();
  const child = spawn(process.execPath, [start, ...flags], {
    cwd: root,
    // The crawler then collects garbage before it measures its heap (main.ts).
    env: { ...process.env, NODE_OPTIONS: "--expose-gc" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const log = progressOf(join(out, "crawl-log.jsonl"));
  const timer = setInterval(() => {
    const rss = rssOf(child.pid!);
    if (rss === null) return;
    const sample = { ms: performance.now() - began, pages: log(), rss };
    samples.push(sample);
    if (process.stderr.isTTY) {
      const rate = (sample.pages / (sample.ms / 1000)).toFixed(0);
      process.stderr.write(
        `\r\x1b[K${sample.pages} pages, ${rate} pages/s, RSS ${bytes(rss)}, ${seconds(sample.ms)}`,
      );
    }
  }, 1000);
  // Ctrl-C in a terminal reaches the crawler itself too; a SIGINT sent to this process alone
  // is passed on. Either way the crawler stops, saves, merges its index and reports (status 130).
  const interrupt = () => child.kill("SIGINT");
  process.on("SIGINT", interrupt);
  let stdout = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (status) => {
      clearInterval(timer);
      process.off("SIGINT", interrupt);
      if (process.stderr.isTTY) process.stderr.write("\r\x1b[K");
      if (status === 130) stdout += "\n(stopped by Ctrl-C: the figures are for the pages done)\n";
      if (status !== 0 && status !== 130) {
        reject(new Error(`crawler ${flags.join(" ")}: status ${status}`));
      } else resolve(stdout);
    });
  });
}

/** The resident set of a process, in bytes, from /proc; null once it has gone (or not Linux). */
function rssOf(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
    return kib === undefined ? null : Number(kib) * 1024;
  } catch {
    return null;
  }
}

/** Counts the lines of a growing file, reading only what was added since the last call. */
function progressOf(path: string): () => number {
  let offset = 0;
  let lines = 0;
  const buffer = Buffer.alloc(1024 * 1024);
  return () => {
    if (!existsSync(path)) return lines;
    const fd = openSync(path, "r");
    try {
      for (let got; (got = readSync(fd, buffer, 0, buffer.length, offset)) > 0; offset += got) {
        for (let i = buffer.indexOf(10); i !== -1 && i < got; i = buffer.indexOf(10, i + 1))
          lines++;
      }
    } finally {
      closeSync(fd);
    }
    return lines;
  };
}
