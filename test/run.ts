// Runs every test/*.test.ts with uvu, then ends with a plain "N passed, M failed" line.
//
// Each file runs in a worker process (a file's tests one after another, as uvu runs them). The
// files that time something run first, one at a time, with the machine to themselves; then the
// files listed in sideBySide below, which time nothing, two at a time where there are two cores
// (most of their time is spent waiting on a child process, a site or a browser, so two side by
// side take little more than the longer of them). What each file prints is kept and printed
// whole, in the files' order, so the output is the same however the files were shared out.
//
// A test that uvu skips (test.skip or test.only left in a file) counts as failed: a check that did
// not run proved nothing, and nobody meant it not to run. A check that this machine cannot run
// (io_uring refused by a seccomp filter, say) is declared with its reason through skips.ts instead,
// and is printed as skipped, with the reason, on the lines before the last one: it is counted
// neither as passed, because it proved nothing, nor as failed, because nothing is wrong with the
// code; the suite stays green where the lesson correctly explains that it cannot run.
//
//   pnpm test                      typecheck, lint, then every test
//   tsx run.ts http site           only the files whose names contain "http" or "site"
//   UPDATE_SNAPSHOTS=1 pnpm test   rewrite test/snapshots/ and the READMEs' sample output
//   TEST_WORKERS=1 pnpm test       every file alone, one at a time
import { type ChildProcess, fork } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";
import type { SkippedCheck } from "./skips.ts";

/** What a worker hands back for one file. */
interface FileResult {
  name: string;
  /** What uvu printed for the file: its name, a dot per test, and the failures in full. */
  printed: string;
  total: number;
  passed: number;
  skipped: number;
  skippedChecks: SkippedCheck[];
  /** The file failed to load, or its worker died: no counts. */
  error?: string;
  /** Seconds the file took, and the CPU seconds of its worker and the processes it waited for. */
  seconds?: number;
  cpuSeconds?: number;
}

// The files that may run beside another: they time nothing, or hold a time only to a bound that
// a busy machine cannot break (a timeout waited at least so long). The others run alone, one at
// a time, as every file did before: a claim such as "N threads that compute stop gaining past the
// core count" compares figures measured a few seconds apart, and another file's crawl starting
// in between skews it (it did: 0.6x one thread's work at 2 threads), and the browser test types
// into a page that waits for a pause in the typing (a second request went out, for "epol", when
// the keys came slowly). A new file runs alone until it is put here.
const sideBySide = new Set([
  "chart.test.ts",
  "crawler-cli.test.ts",
  "crawler-disk.test.ts",
  "crawler-fetcher.test.ts",
  "crawler-redis.test.ts",
  "crawler-units.test.ts",
  "html.test.ts",
  "http.test.ts",
  "lesson.test.ts",
  "loop.test.ts",
  "native-lessons.test.ts",
  "resp.test.ts",
  "search-index.test.ts",
  "search-server.test.ts",
  "search-tokens.test.ts",
  "search-typos.test.ts",
  "search.test.ts",
  "site-lazy.test.ts",
  "site-wild.test.ts",
  "uring.test.ts",
]);

// The variable that marks a worker, and every process it starts (so siteProcesses() in
// lessons.ts can tell this worker's fixture sites from the other's).
const WORKER = "ASYNC_TESTS_WORKER";

if (process.env[WORKER] !== undefined && process.send !== undefined) {
  await serve();
} else {
  await main();
}

async function main(): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url));
  const filters = process.argv.slice(2).filter((arg) => arg !== "--");
  const files = readdirSync(here)
    .filter((file) => file.endsWith(".test.ts"))
    .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
    .sort();
  if (files.length === 0) {
    console.log("no test files\n0 passed, 1 failed");
    process.exit(1);
  }
  const started = performance.now();
  const wanted = Number(process.env.TEST_WORKERS ?? Math.min(2, availableParallelism()));
  const workers = Math.max(1, Number.isInteger(wanted) ? wanted : 1);

  // Each result is printed as soon as every file before it has been, so the output is in the
  // files' order however they were shared out.
  const results = new Map<string, FileResult>();
  let printedUpTo = 0;
  const flush = () => {
    while (printedUpTo < files.length && results.has(files[printedUpTo]!)) {
      const result = results.get(files[printedUpTo++]!)!;
      process.stdout.write(result.printed);
      if (result.error !== undefined) process.stdout.write(`${result.error}\n\n`);
    }
  };
  let workersStarted = 0;
  /** Runs these files in this many workers, each taking the next file when it is done. */
  const runAll = async (queue: string[], count: number): Promise<void> => {
    const runWorker = async (): Promise<void> => {
      while (queue.length > 0) {
        const worker = startWorker(join(here, "run.ts"), ++workersStarted);
        // A worker whose process died is replaced by a new one for the files still to run.
        while (queue.length > 0 && worker.alive()) {
          const name = queue.shift()!;
          results.set(name, await worker.run(name, join(here, name)));
          flush();
        }
        worker.stop();
      }
    };
    await Promise.all(Array.from({ length: Math.min(count, queue.length) }, runWorker));
  };
  // First the files that must have the machine to themselves, one at a time; then the others.
  await runAll(
    files.filter((file) => !sideBySide.has(file)),
    1,
  );
  await runAll(
    files.filter((file) => sideBySide.has(file)),
    workers,
  );
  flush();

  const all = [...results.values()];
  const sum = (key: "total" | "passed" | "skipped") => all.reduce((n, r) => n + r[key], 0);
  const [total, passed, skipped] = [sum("total"), sum("passed"), sum("skipped")];
  const broken = all.filter((result) => result.error !== undefined).length;
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  process.stdout.write(
    `  Total:     ${total}\n  Passed:    ${passed}\n  Skipped:   ${skipped}\n` +
      `  Duration:  ${seconds}s (${workers} worker${workers === 1 ? "" : "s"})\n\n`,
  );
  const failed = total - passed + skipped + broken;
  const skippedChecks = all.flatMap((result) => result.skippedChecks);
  if (skippedChecks.length > 0) {
    console.log(
      `${skippedChecks.length} skipped, not run on this machine (neither passed nor failed):`,
    );
    for (const reason of new Set(skippedChecks.map((check) => check.reason))) {
      console.log(`  ${reason}`);
      for (const check of skippedChecks.filter((check) => check.reason === reason)) {
        console.log(`    - ${check.name}`);
      }
    }
  }
  // Where the time went: the slowest files, to keep an eye on what CI spends.
  const timed = all.filter((result) => result.seconds !== undefined);
  const slowest = timed.sort((a, b) => b.seconds! - a.seconds!).slice(0, 10);
  if (slowest.length > 1) {
    console.log("slowest files: wall time, CPU time (with the processes each started)");
    for (const { name, seconds, cpuSeconds } of slowest) {
      console.log(
        `  ${seconds!.toFixed(1).padStart(6)} s ${cpuSeconds!.toFixed(1).padStart(6)} s  ${name}`,
      );
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

/** The result of a file that failed to load, or whose worker died: no counts, and why. */
function broken(name: string, printed: string, why: string): FileResult {
  return {
    name,
    printed,
    total: 0,
    passed: 0,
    skipped: 0,
    skippedChecks: [],
    error: `${name}: ${why}`,
  };
}

/** A worker process: run(name, file) runs one test file in it and hands back its result. */
function startWorker(script: string, id: number) {
  const child: ChildProcess = fork(script, [], {
    // The same Node flags as ours: tsx's loader among them.
    execArgv: process.execArgv,
    env: { ...process.env, [WORKER]: `${process.pid}.${id}.${Math.random()}` },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let dead = false;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      dead = true;
      resolve();
    }),
  );
  return {
    alive: () => !dead,
    run(name: string, file: string): Promise<FileResult> {
      const answered = new Promise<FileResult>((resolve) =>
        child.once("message", (result) => resolve(result as FileResult)),
      );
      child.send({ name, file });
      return Promise.race([
        answered,
        // Its tests may have ended the process: an uncaught exception, a process.exit().
        exited.then(() =>
          broken(
            name,
            `${name}\n`,
            `its worker exited (status ${child.exitCode}, ${child.signalCode}) before its tests ended`,
          ),
        ),
      ]);
    },
    stop() {
      if (!dead) child.disconnect();
    },
  };
}

/**
 * The CPU seconds of this process and of the child processes it has waited for (and theirs), as
 * /proc/self/stat counts them (utime, stime, cutime, cstime); this process's alone elsewhere.
 */
function cpuSeconds(): number {
  try {
    // The fields after the command's name, which may hold spaces and parentheses itself.
    const stat = readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    return ticks / 100; // USER_HZ, 100 on Linux
  } catch {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  }
}

/** In a worker: runs each file the parent sends, and sends back what uvu printed and counted. */
async function serve(): Promise<void> {
  // uvu must know it is run by a runner (UVU_DEFER) before it loads: then test.run() only queues
  // a file's tests, and exec() runs what is queued.
  const globals = globalThis as unknown as {
    UVU_DEFER: number;
    UVU_QUEUE: unknown[][];
    UVU_INDEX: number;
  };
  globals.UVU_DEFER = 1;
  const uvu = (await import("uvu")) as unknown as { exec: (bail?: boolean) => Promise<void> };
  const { skippedChecks } = await import("./skips.ts");

  // What uvu (or a test) prints goes to the parent with the file's result, not to stdout.
  let printed = "";
  process.stdout.write = ((chunk: string | Uint8Array) => {
    printed += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;

  const runFile = async (name: string, file: string): Promise<FileResult> => {
    const started = performance.now();
    const cpuBefore = cpuSeconds();
    printed = "";
    const skippedBefore = skippedChecks.length;
    globals.UVU_QUEUE = [[name]];
    globals.UVU_INDEX = 0;
    try {
      await import(`file://${file}`);
    } catch (error) {
      return broken(
        name,
        `${name}\n`,
        `failed to load: ${String((error as Error)?.stack ?? error)}`,
      );
    }
    await uvu.exec();
    // uvu ends with its own summary of this one file: the counts are read from it, and it is
    // left out of what is printed, which ends with one summary of all the files.
    const at = printed.lastIndexOf("\n  Total:");
    const summary = stripVTControlCharacters(printed.slice(at));
    const count = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(summary)?.[1]);
    const [total, passed, skipped] = [count("Total"), count("Passed"), count("Skipped")];
    if (at === -1 || [total, passed, skipped].some(Number.isNaN)) {
      return broken(name, printed, "uvu printed no summary");
    }
    return {
      name,
      printed: `${printed.slice(0, at)}\n`,
      total,
      passed,
      skipped,
      skippedChecks: skippedChecks.slice(skippedBefore),
      seconds: (performance.now() - started) / 1000,
      cpuSeconds: cpuSeconds() - cpuBefore,
    };
  };

  process.on("message", (message: { name: string; file: string }) => {
    void runFile(message.name, message.file).then((result) => process.send!(result));
  });
  // The parent disconnects when it has no more files for us: then only what the tests left
  // running could keep us alive, and nothing should.
  process.on("disconnect", () => process.exit(process.exitCode ?? 0));
}
