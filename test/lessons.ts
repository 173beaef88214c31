// Running a lesson as a student does, and comparing what it prints with a stored snapshot.
//
// Snapshots keep the READMEs and the lessons honest: the text a lesson prints is compared whole,
// and only figures that really vary from run to run are masked (durations, percentages, ports,
// fds, pids, memory, and figures a lesson names as measured, like lesson 1's spin counts). Counts
// and orders the lesson claims stay in the snapshot; the claims about measured figures are
// asserted separately, with generous margins.
//
//   UPDATE_SNAPSHOTS=1 pnpm test    rewrites test/snapshots/*.txt from the current output
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as assert from "uvu/assert";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface Run {
  stdout: string;
  stderr: string;
  status: number | null;
}

/**
 * Runs a command to its end (killing it after timeoutMs) and collects what it printed. The limit
 * only stops a hung command: it is no timing claim, and it is far above any run's time on a quiet
 * machine, because on a busy one (load 15 to 28 on 2 cores, with several test runs at once)
 * lessons that take 20 s alone took over a minute and were killed at the old limit of 60 s.
 */
export const HANG_LIMIT_MS = 600_000;

export function runCommand(
  command: string,
  args: string[],
  timeoutMs = HANG_LIMIT_MS,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, status });
    });
  });
}

/**
 * The node arguments that start a lesson as `pnpm run <lesson>` does: examples/<lesson>/main.ts
 * with tsx, and the crawler and search from their bundles (examples/<lesson>/start.mjs, see
 * shared/bundle.mjs), made of the same code. Under tsx a crawler takes 1 to 2 s of CPU more to
 * start (it and its parser threads load some sixty modules through tsx's loader), search 0.9 s
 * more, and the tests start each dozens of times. The TypeScript itself still runs under
 * tsx in the tests that start it by hand (the crawler's progress line, Ctrl-C in a terminal, the
 * crawl on disk stores; search's snapshot queries).
 */
const BUNDLED = new Set(["crawler", "search"]);
function lessonCommand(lesson: string): string[] {
  if (BUNDLED.has(lesson)) return [join(root, "examples", lesson, "start.mjs")];
  return ["--import", "tsx", join(root, "examples", lesson, "main.ts")];
}

// A tool's bundle, made (if a source file is newer) by one run before any other starts: two runs
// that both find it stale would each make it (safely, shared/bundle.mjs, but each for seconds of
// CPU that the timed tests beside them need). The other test worker (run.ts) may be at it too:
// so under a lock, a directory, which only one process can make; one left by a killed run is
// taken over after a minute.
const bundled = new Map<string, Promise<Run>>();
async function ready(lesson: string): Promise<void> {
  if (!BUNDLED.has(lesson)) return;
  if (!bundled.has(lesson)) bundled.set(lesson, bundle(lesson));
  const run = await bundled.get(lesson)!;
  assert.is(run.status, 0, `the ${lesson}'s bundle: ${run.stderr}`);
}
async function bundle(lesson: string): Promise<Run> {
  const lock = join(root, "out", `${lesson}-bundle.lock`);
  mkdirSync(dirname(lock), { recursive: true });
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    return await runCommand(process.execPath, [...lessonCommand(lesson), "--help"]);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Runs a lesson to its end, as `pnpm run <lesson> ...args` does (see lessonCommand). */
export async function runLesson(lesson: string, args: string[] = []): Promise<Run> {
  await ready(lesson);
  return runCommand(process.execPath, [...lessonCommand(lesson), ...args]);
}

/**
 * Starts a lesson as runLesson does and leaves it running, for a test that acts on it
 * meanwhile (a signal, say): what it has printed so far, and its end.
 */
export async function spawnLesson(lesson: string, args: string[] = []) {
  await ready(lesson);
  const child = spawn(process.execPath, [...lessonCommand(lesson), ...args], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const printed = { stdout: "", stderr: "" };
  child.stdout.setEncoding("utf8").on("data", (text: string) => (printed.stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (printed.stderr += text));
  const exited = new Promise<Run>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (status) => resolve({ ...printed, status }));
  });
  return { child, printed, exited };
}

/** Runs a lesson once, on first use, and hands every caller the same result. */
export function runOnce(lesson: string, args: string[] = []): () => Promise<Run> {
  let run: Promise<Run> | undefined;
  return () => (run ??= runLesson(lesson, args));
}

/** The same through pnpm itself, to check how arguments reach the lesson. */
export function runPnpm(args: string[]): Promise<Run> {
  return runCommand("pnpm", ["--silent", ...args]);
}

/** A pattern and what replaces each match: a string, or a function of the matched text. */
export type Mask = [pattern: RegExp, replacement: string | ((match: string) => string)];

const figuresThatVary: Mask[] = [
  [/127\.0\.0\.1:\d+/g, "127.0.0.1:<port>"],
  [/\bfd \d+/g, "fd <fd>"],
  [/\bpid (?!1\b)\d+/g, "pid <pid>"], // pid 1 is always pid 1
  [/\b\d+(\.\d+)? (s|ms|µs)\b(?! latency)/g, "<n> $2"], // "200 ms latency" is a setting
  [/\b\d+(\.\d+)?%/g, "<n>%"],
  [/\b\d+(\.\d+)? (B|KiB|MiB|GiB)\b/g, "<n> $2"],
  [/\(\d+ sleeps?\)/g, "(<n> sleeps)"], // what the scheduler saw (threadVersusWall)
];

/**
 * The text with its varying figures replaced by placeholders: the lesson's own masks first, then
 * the common ones. Runs of spaces after the indentation become one, so that a table whose columns
 * widen with a figure still compares equal.
 */
export function mask(text: string, masks: Mask[] = []): string {
  return [...masks, ...figuresThatVary]
    .reduce(
      (masked, [pattern, replacement]) =>
        typeof replacement === "string"
          ? masked.replace(pattern, replacement)
          : masked.replace(pattern, replacement),
      text,
    )
    .replace(/(?<=\S) {2,}/g, " ");
}

// A lesson's README shows one real run's output in the ```text block after this marker.
const readmeOutput = /(<!-- output: [^>]*-->\n\n```text\n)([^]*?)(```)/;

/**
 * Compares a lesson's output, masked, with test/snapshots/<lesson>.txt, and checks that the
 * sample output in examples/<lesson>/README.md, masked the same way, says the same.
 * UPDATE_SNAPSHOTS=1 writes both instead: the snapshot masked, the README's sample as it ran.
 */
export function matchSnapshot(lesson: string, output: string, masks: Mask[] = []): void {
  const snapshotFile = join(root, "test", "snapshots", `${lesson}.txt`);
  const readmeFile = join(root, "examples", lesson, "README.md");
  const readme = readFileSync(readmeFile, "utf8");
  assert.match(readme, readmeOutput, `${readmeFile} has no sample output block`);
  if (process.env.UPDATE_SNAPSHOTS === "1") {
    mkdirSync(dirname(snapshotFile), { recursive: true });
    writeFileSync(snapshotFile, mask(output, masks));
    writeFileSync(
      readmeFile,
      readme.replace(readmeOutput, (_, open, _old, close) => open + output + close),
    );
    return;
  }
  if (!existsSync(snapshotFile)) {
    assert.unreachable(`no snapshot ${snapshotFile}: run UPDATE_SNAPSHOTS=1 pnpm test and read it`);
  }
  const snapshot = readFileSync(snapshotFile, "utf8");
  assert.fixture(mask(output, masks), snapshot, `${lesson}'s output against its snapshot`);
  const sample = readmeOutput.exec(readme)![2]!;
  assert.fixture(mask(sample, masks), snapshot, `${lesson}'s README sample against the snapshot`);
}

/** A number the lesson printed: the first capture group of pattern, which must match. */
export function figure(text: string, pattern: RegExp): number {
  const match = pattern.exec(text);
  assert.ok(match, `no ${pattern} in:\n${text}`);
  return Number(match[1]);
}

/**
 * What the scheduler saw a lesson's thread do, from the line the lesson printed after its CPU time
 * (shared/lesson.ts, threadVersusWall), with the wall time of that CPU time line. The two clocks
 * ran over the same stretch, so running, runnable and asleep add up to that wall time, within the
 * lag of the kernel's counts.
 */
export function schedulerSaw(stdout: string) {
  const line = /^our thread, as the kernel's scheduler saw it: .*$/m.exec(stdout)?.[0];
  assert.ok(line, `no line of what the scheduler saw:\n${stdout}`);
  const wallMs = figure(stdout, /of (\d+) ms wall time/);
  const runningMs = figure(line, /running ([\d.]+) ms/);
  const runnableMs = figure(line, /runnable ([\d.]+) ms/);
  const asleepMs = figure(line, /asleep ([\d.]+) ms/);
  const sleeps = figure(line, /\((\d+) sleeps?\)/);
  const counted = runningMs + runnableMs + asleepMs;
  assert.ok(
    counted >= wallMs * 0.9 && counted <= wallMs * 1.1,
    `not over the ${wallMs} ms it printed: ${line}`,
  );
  return { line, wallMs, runningMs, runnableMs, asleepMs, sleeps };
}

/**
 * The pids of processes running this checkout's fixture site, to check that none is left behind.
 * Only this checkout's: another clone's tests may start and stop sites of their own meanwhile.
 * And on Linux, only this test worker's (run.ts): the other worker runs other files meanwhile. A
 * site inherits the worker's mark in its environment from whichever of its processes started it,
 * and keeps it when that process is gone.
 */
export function siteProcesses(): number[] {
  const siteMain = join(root, "shared", "site", "main.ts");
  const mark = process.env.ASYNC_TESTS_WORKER;
  const ours = (pid: number) => {
    if (mark === undefined || process.platform !== "linux") return true;
    try {
      return readFileSync(`/proc/${pid}/environ`, "utf8")
        .split("\0")
        .includes(`ASYNC_TESTS_WORKER=${mark}`);
    } catch {
      return false; // it ended meanwhile
    }
  };
  return execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" })
    .split("\n")
    .filter((line) => line.includes(siteMain))
    .map((line) => Number.parseInt(line, 10))
    .filter(ours);
}
