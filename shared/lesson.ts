// What every lesson needs around its one idea: its command-line flags, a site to talk to, a clock
// that measures CPU time next to wall time, and one of what the scheduler saw a thread do. Nothing
// here waits on a socket: the waiting is what the lessons teach, so it stays in the lessons.
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { charsetOf, readHtml } from "./html.ts";
import { parseResponse } from "./http.ts";
import { startSite, type SiteOptions } from "./site/index.ts";
import { MAX_LATENCY_MS } from "./site/server.ts";
import type { Chart } from "./chart.ts";

type Option =
  | {
      type: "string";
      help: string;
      default?: string;
      choices?: readonly string[];
      /** What the usage calls the value: "--index DIR" (default NAME). */
      placeholder?: string;
      /** The flag may be given again and again; its value is the list of them all. */
      multiple?: boolean;
    }
  | {
      type: "integer";
      help: string;
      /** None: the value is undefined when the flag is not given, and defaultRule says what then. */
      default?: number;
      /** How the default is worked out where it depends on the machine: "one per core, 1 to 4". */
      defaultRule?: string;
      min: number;
      max: number;
    }
  | { type: "boolean"; help: string }
  | {
      type: "url";
      help: string;
      multiple?: boolean;
      /**
       * Takes "http://[::1]:8080/" too: for a tool that opens its sockets with the address's
       * family (the crawler). Without it, an IPv6 address is refused with a clear message.
       */
      ipv6?: boolean;
    }
  // The arguments that are not flags, joined by spaces: the words of `pnpm run search -- a b`.
  | { type: "words"; help: string; required?: boolean };

type Values<Spec extends Record<string, Option>> = {
  [Name in keyof Spec]: Spec[Name] extends { multiple: true }
    ? Spec[Name] extends { type: "url" }
      ? URL[]
      : string[]
    : Spec[Name] extends { type: "integer" }
      ? Spec[Name] extends { default: number }
        ? number
        : number | undefined
      : Spec[Name] extends { type: "boolean" }
        ? boolean
        : Spec[Name] extends { type: "url" }
          ? URL | undefined
          : Spec[Name] extends { type: "words" }
            ? string
            : Spec[Name] extends { default: string }
              ? string
              : string | undefined;
};

// The lesson's name, for the messages of the helpers below (drawChart).
let lessonName = "lesson";

/**
 * Starts a lesson: parses its flags, and makes network failures read as one line.
 *
 * Flags are `--name value` or `--name=value`. Both `pnpm run LESSON --flag v` and
 * `pnpm run LESSON -- --flag v` work: pnpm passes the `--` on, and we drop it. A wrong flag or
 * value prints the usage to stderr and exits with status 2; --help prints it and exits with 0.
 * Arguments that are not flags are refused, unless the spec has a "words" option, which takes
 * them all (a second `--` ends the flags, for words that start with "-").
 *
 * The network's expected failures (a refused or reset connection, a timeout, a name that does not
 * resolve, a ProtocolError) are not bugs in the lesson: each is printed as one line and the lesson
 * exits with status 1. Any other error keeps its stack trace, system call errors included: EBADF
 * from a socket used after close() is a bug in the code, and the stack says where.
 */
export function startLesson<Spec extends Record<string, Option>>(
  lesson: string,
  spec: Spec,
): Values<Spec> {
  const names = Object.keys(spec);
  const words = names.find((name) => spec[name]!.type === "words");
  const flags = names.map((name) =>
    spec[name]!.type === "words" ? label(name, spec[name]!) : `--${name}`,
  );
  // A column wide enough for the longest flag, so that no help text runs into its flag.
  const width = Math.max(14, ...flags.map((flag) => flag.length + 1));
  const usage = [
    `usage: pnpm run ${lesson} ${names.map((name) => synopsis(name, spec[name]!)).join(" ")}`,
    ...names.map((name, i) => `  ${flags[i]!.padEnd(width)} ${describe(spec[name]!)}`),
  ].join("\n");
  lessonName = lesson;
  const fail = (message: string): never => {
    process.stderr.write(`${lesson}: ${message}\n${usage}\n`);
    process.exit(2);
  };
  // tsx, which runs the lessons, catches SIGINT and SIGTERM in JavaScript (to tell its parent), and
  // JavaScript runs only when this thread gets back to Node's loop: a lesson asleep in select(),
  // or spinning in 1_bad_socket, does not, so a SIGINT sent to it alone (kill -INT) waited for the
  // lesson's end. With no listener, the signal does what it does to any program: it ends the
  // process at once (and the fixture site, whose stdin closes then). A lesson or tool that stops
  // gracefully installs its own handler after this (the shared loop's addSignalHandler).
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.removeAllListeners(signal);
  process.on("uncaughtException", (error: unknown) => {
    const text = fromNetwork(error)
      ? `${error.name}: ${error.message}`
      : String((error as Error)?.stack ?? error);
    process.stderr.write(`${lesson}: ${text}\n`);
    process.exit(1);
  });
  // `pnpm run LESSON | head` closes our stdout early: stop quietly, as command-line tools do.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    process.exit(0);
  });
  const args = joinDashValues(process.argv.slice(2), names, spec);
  if (args[0] === "--") args.shift();
  // Only among the flags: after a second `--`, "-h" is a word to search for.
  const end = args.indexOf("--");
  const flagArgs = end === -1 ? args : args.slice(0, end);
  if (flagArgs.includes("--help") || flagArgs.includes("-h")) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      options: Object.fromEntries(
        names
          .filter((name) => name !== words)
          .map((name) => [
            name,
            {
              type: spec[name]!.type === "boolean" ? "boolean" : "string",
              multiple: isMultiple(spec[name]!),
            },
          ]),
      ) as Record<string, { type: "string" | "boolean"; multiple: boolean }>,
      strict: true,
      allowPositionals: words !== undefined,
    });
  } catch (error) {
    // parseArgs says "Option '--max-pages <value>' argument missing", or "argument is
    // ambiguous" when the next argument is a flag: both mean the value was left out.
    const { message } = error as Error;
    const flag = /^Option '(--[\w-]+)[^']*' argument (missing|is ambiguous)/.exec(message)?.[1];
    if (flag !== undefined) return fail(`${flag} needs a value`);
    // parseArgs names only the first letter of "-socket" ("Unknown option '-s'"), and its advice,
    // to put the word after "--", is what the person did: pnpm passes that "--" on, and it is
    // taken as the end of pnpm's arguments. A word that begins with "-" needs a second one.
    const unknown = flagArgs.find((arg) => arg.startsWith("-") && !known(arg, names));
    if (/^Unknown option/.test(message) && unknown !== undefined) {
      const hint =
        words === undefined || unknown.startsWith("--")
          ? ""
          : `; a word that begins with "-" goes after a second "--": pnpm run ${lesson} -- -- ${unknown}`;
      return fail(`unknown option '${unknown}'${hint}`);
    }
    return fail(message);
  }
  const values: Record<string, unknown> = {};
  for (const name of names) {
    const option = spec[name]!;
    const given = parsed.values[name];
    if (isMultiple(option)) {
      const all = (given ?? []) as string[];
      values[name] =
        option.type === "url" ? all.map((text) => httpUrl(name, option, text, fail)) : [...all];
    } else if (option.type === "words") {
      values[name] = parsed.positionals.join(" ");
    } else if (option.type === "boolean") {
      values[name] = given === true;
    } else if (option.type === "url") {
      values[name] = given === undefined ? undefined : httpUrl(name, option, given as string, fail);
    } else if (option.type === "integer") {
      // Digits only: Number() would also take "" and " " (as 0), "0x10" and "1e3".
      const digits = given === undefined || /^[+-]?\d+$/.test(given as string);
      const number = given === undefined ? option.default : Number(given);
      const unset = given === undefined && number === undefined;
      if (
        !unset &&
        (!digits || !Number.isInteger(number) || number! < option.min || number! > option.max)
      ) {
        fail(`--${name} must be an integer from ${option.min} to ${option.max}, got '${given}'`);
      }
      values[name] = number;
    } else {
      const value = (given as string | undefined) ?? option.default;
      if (value !== undefined && option.choices && !option.choices.includes(value)) {
        fail(`--${name} must be one of ${option.choices.join(", ")}, got '${value}'`);
      }
      values[name] = value;
    }
  }
  // Missing words last: a flag's wrong value, which is what was typed, is the first thing to say.
  const wordsOption = words === undefined ? undefined : spec[words]!;
  if (wordsOption?.type === "words" && wordsOption.required && parsed.positionals.length === 0) {
    fail(`${label(words!, wordsOption)} is missing`);
  }
  return values as Values<Spec>;
}

/**
 * Joins a flag that takes a value to a next argument that starts with one "-": `--max-pages -1`
 * becomes `--max-pages=-1`. parseArgs would read the "-1" as a flag of its own, and say the value
 * is "ambiguous"; joined, a negative number gets the range check's message ("must be an integer
 * from 1 to ..."), and a pattern such as `--exclude -draft` is taken as it is. A next argument
 * that starts with "--" is left alone: `--url --out x` is a --url without its value.
 */
function joinDashValues(args: string[], names: string[], spec: Record<string, Option>): string[] {
  const valued = new Set(
    names
      .filter((name) => spec[name]!.type !== "boolean" && spec[name]!.type !== "words")
      .map((name) => `--${name}`),
  );
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    if (arg === "--" && i > 0) return [...joined, ...args.slice(i)]; // the words after it
    if (valued.has(arg) && next !== undefined && /^-(?!-)/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

// What the network may do to any lesson, named as the native module names it (Python's classes) and
// by errno code, since an error that crossed from a worker thread may come back as a plain Error
// that kept only its name, message and code. ENOTFOUND and EAI_* are names that did not resolve.
const networkErrors = new Set([
  "ConnectionRefusedError",
  "ConnectionResetError",
  "ConnectionAbortedError",
  "BrokenPipeError",
  "TimeoutError",
  "GaiError",
  "ProtocolError",
]);
const networkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTDOWN",
  "ENOTFOUND",
]);

function fromNetwork(error: unknown): error is Error {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return (
    networkErrors.has(error.name) ||
    (typeof code === "string" && (networkCodes.has(code) || code.startsWith("EAI_")))
  );
}

// Only plain http: the lessons speak HTTP over raw sockets, and TLS is not what they teach.
function httpUrl(
  name: string,
  option: { ipv6?: boolean },
  text: string,
  fail: (message: string) => never,
): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail(`--${name} must be a URL such as http://127.0.0.1:8080/, got '${text}'`);
  }
  if (url.protocol !== "http:") fail(`--${name} must be a plain http:// URL, got '${text}'`);
  // The lessons open AF_INET sockets, as the lecture's socket.socket() does; the crawler opens
  // each with its address's family.
  if (url.hostname.startsWith("[") && option.ipv6 !== true) {
    fail(
      `--${name}: IPv6 addresses are not supported by ${lessonName}: its sockets are AF_INET, ` +
        `as the lecture's are (the crawler takes them), got '${text}'`,
    );
  }
  return url;
}

/** Whether arg is one of the flags, as `--name` or `--name=value`. */
function known(arg: string, names: string[]): boolean {
  return arg.startsWith("--") && names.includes(arg.slice(2).replace(/=.*/s, ""));
}

// "[--index DIR]", "[--json]", "QUERY..."
function synopsis(name: string, option: Option): string {
  if (option.type === "words")
    return option.required ? label(name, option) : `[${label(name, option)}]`;
  return `[${label(name, option)}]${isMultiple(option) ? "..." : ""}`;
}

function isMultiple(option: Option): boolean {
  return (option.type === "string" || option.type === "url") && option.multiple === true;
}

function label(name: string, option: Option): string {
  if (option.type === "words") return `${name.toUpperCase()}...`;
  const value = { string: " NAME", integer: " N", boolean: "", url: " URL" }[option.type];
  return `--${name}${option.type === "string" && option.placeholder ? ` ${option.placeholder}` : value}`;
}

/**
 * The two flags of every lesson that talks to a site: --url, and the fixture site's --latency
 * (with this lesson's default), which openTarget() takes.
 */
export function siteFlags(latencyMs: number) {
  return {
    url: { type: "url", help: "use this site instead of starting the fixture site" },
    latency: {
      type: "integer",
      default: latencyMs,
      min: 0,
      max: MAX_LATENCY_MS,
      help: "ms the fixture site waits before each answer",
    },
  } as const;
}

/**
 * The flag of every lesson that draws its figures as a chart (shared/chart.ts): --svg FILE. The
 * chart is drawn unless it is `--svg none`; without the flag it goes to out/ in the project,
 * named for the lesson.
 */
export function chartFlags() {
  return {
    svg: {
      type: "string",
      placeholder: "FILE",
      help: "write the chart to FILE (default out/LESSON.svg in the project; none: no chart)",
    },
  } as const;
}

type Charts = typeof import("@async-from-scratch/shared/chart");

/**
 * Draws a lesson's chart after its measurements, and returns the line to print about it:
 * "chart: out/4_callbacks.svg". `make` builds the chart with the chart module's functions.
 *
 * The chart module is imported only here, when there is a chart to draw: the charting library
 * takes about a second to load, which a lesson that draws nothing should not pay, and which no
 * measured figure should contain. With --svg none (a benchmark that times the whole program),
 * it is not loaded at all.
 */
export async function drawChart(
  file: string | undefined,
  make: (charts: Charts) => Chart,
): Promise<string> {
  if (file === "none") return "chart: not drawn (--svg none)";
  const charts = await import("@async-from-scratch/shared/chart");
  try {
    if (file !== undefined) makeDirectory(dirname(file));
    return await charts.writeChart(make(charts), file);
  } catch (error) {
    // A --svg where no file can be written is the person's mistake, not a bug: one line, and
    // the lesson's measurements above it still stand.
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code !== "string" || !code.startsWith("E")) throw error;
    const why = (error as Error).message.split(",")[0]; // "ENOENT: no such file or directory"
    process.stderr.write(`${lessonName}: --svg ${file}: cannot write the chart there: ${why}\n`);
    process.exitCode = 1;
    return "chart: not drawn (see the error)";
  }
}

/**
 * Makes a folder and those above it, as `mkdir -p` does, or throws the error that stops it. Not
 * mkdirSync's own `recursive`: in Node 20 it never returns where a folder exists that cannot hold
 * another (under /proc, mkdir says ENOENT, which it takes for a missing parent, again and again).
 */
export function makeDirectory(path: string): void {
  const full = resolve(path);
  const missing: string[] = [];
  for (let dir = full; !existsSync(dir); dir = dirname(dir)) missing.unshift(dir);
  for (const dir of missing) {
    try {
      mkdirSync(dir);
    } catch (error) {
      // Made meanwhile by another process (two crawls starting side by side): there it is.
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
  }
  if (!statSync(full).isDirectory()) {
    throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${full}'`), {
      code: "ENOTDIR",
    });
  }
}

function describe(option: Option): string {
  if (option.type === "integer") {
    // A default that depends on the machine is said as its rule, then what it comes to here.
    if (option.default === undefined) {
      return option.defaultRule === undefined
        ? option.help
        : `${option.help} (default ${option.defaultRule})`;
    }
    const rule = option.defaultRule === undefined ? "" : `${option.defaultRule}: `;
    return `${option.help} (default ${rule}${option.default}${rule && " here"})`;
  }
  if (option.type === "string" && option.choices) {
    return `${option.help}: ${option.choices.join(", ")}${option.default ? ` (default ${option.default})` : ""}`;
  }
  return option.help;
}

export interface Target {
  url: URL;
  /** The fixture site's port with a full accept queue (1_bad_socket); none for a --url. */
  busyPort?: number;
  /** Stops the fixture site if the lesson started one; nothing to do for a --url. */
  close(): Promise<void>;
}

/**
 * The site a lesson talks to: the --url it was given, or else the fixture site, started in a child
 * process with the given options and stopped by close().
 */
export async function openTarget(url: URL | undefined, site: SiteOptions): Promise<Target> {
  if (url !== undefined) return { url, close: async () => {} };
  const running = await startSite(site);
  return { url: new URL(running.url), busyPort: running.busyPort, close: running.stop };
}

export interface ClockReading {
  cpuMs: number;
  wallMs: number;
}

/**
 * Starts a clock; calling what it returns reads CPU time (user + system, all threads of this
 * process) and wall time since the start.
 */
export function startClock(): () => ClockReading {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  return () => {
    const used = process.cpuUsage(cpu);
    return { cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - wall };
  };
}

/** "CPU time 3.2 ms of 505 ms wall time (0.6%)" */
export function cpuVersusWall({ cpuMs, wallMs }: ClockReading): string {
  const percent = ((100 * cpuMs) / wallMs).toFixed(1);
  return `CPU time ${cpuMs.toFixed(1)} ms of ${wallMs.toFixed(0)} ms wall time (${percent}%)`;
}

// What the kernel's scheduler saw this thread do: how long it ran on a CPU, how long it waited,
// runnable, for one, and how often it went to sleep of its own accord.
//
// CPU time over wall time says "this thread spun" only on an idle machine: under a load of 30 on
// 2 cores a thread that never stops gets a fifteenth of a core. The scheduler knows the difference
// between a thread that wants the CPU and one that does not: a thread that spins is always either
// running or runnable (in the run queue), so wall time minus both is about nil however loaded the
// machine is; a thread that sleeps or blocks in a system call is neither while it does, and each
// time it goes to sleep counts as a voluntary context switch, which a spinning thread, only ever
// preempted, never makes.
//
// Linux only: /proc/thread-self/schedstat (the kernel's CONFIG_SCHED_INFO, on in every
// distribution's kernel) and the context switch counts in /proc/thread-self/status.

export interface ThreadReading {
  wallMs: number;
  /** On a CPU. */
  runningMs: number;
  /** Runnable, in the run queue, waiting for a CPU that another thread had. */
  runnableMs: number;
  /** Neither: asleep, or blocked in a system call. */
  asleepMs: number;
  /** Times it went to sleep itself: to block, to wait for a lock or a timer. */
  sleeps: number;
}

interface ThreadTimes {
  atMs: number;
  runningMs: number;
  runnableMs: number;
  sleeps: number;
}

function threadTimesNow(): ThreadTimes | undefined {
  try {
    const [running, runnable] = readFileSync("/proc/thread-self/schedstat", "utf8")
      .split(" ")
      .map(Number);
    const status = readFileSync("/proc/thread-self/status", "utf8");
    const voluntary = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status);
    if (voluntary === null || !Number.isFinite(running) || !Number.isFinite(runnable)) {
      return undefined;
    }
    return {
      atMs: performance.now(),
      runningMs: running! / 1e6,
      runnableMs: runnable! / 1e6,
      sleeps: Number(voluntary[1]),
    };
  } catch {
    return undefined;
  }
}

/** Why this machine does not show what the scheduler saw a thread do, or null if it does. */
export function whyNoSchedstat(): string | null {
  if (process.platform !== "linux") return `no /proc/thread-self/schedstat on ${process.platform}`;
  if (threadTimesNow() === undefined) {
    return "no /proc/thread-self/schedstat here (a kernel without CONFIG_SCHED_INFO)";
  }
  return null;
}

/**
 * Starts a clock of what the scheduler sees the calling thread do; calling what it returns reads
 * it since the start, or says why this machine does not show it.
 */
export function startThreadClock(): () => ThreadReading | string {
  const start = threadTimesNow();
  if (start === undefined) {
    const whyNot = whyNoSchedstat()!;
    return () => whyNot;
  }
  return () => {
    const now = threadTimesNow()!;
    const wallMs = now.atMs - start.atMs;
    const runningMs = now.runningMs - start.runningMs;
    const runnableMs = now.runnableMs - start.runnableMs;
    return {
      wallMs,
      runningMs,
      runnableMs,
      // The kernel adds a running thread's time to its count only now and then (at a tick, a
      // switch), so the counts may lag the wall clock by a few ms, either way.
      asleepMs: Math.max(0, wallMs - runningMs - runnableMs),
      sleeps: now.sleeps - start.sleeps,
    };
  };
}

/** "running 2581.3 ms, runnable 12.4 ms, asleep 5.1 ms (9 sleeps)", or why it is not shown. */
export function threadVersusWall(reading: ThreadReading | string): string {
  if (typeof reading === "string") return `not shown: ${reading}`;
  const { runningMs, runnableMs, asleepMs, sleeps } = reading;
  return (
    `running ${runningMs.toFixed(1)} ms, runnable ${runnableMs.toFixed(1)} ms, ` +
    `asleep ${asleepMs.toFixed(1)} ms (${sleeps} ${sleeps === 1 ? "sleep" : "sleeps"})`
  );
}

/** One line about a whole response read until the server closed: "200 OK, 2667 body bytes, ..." */
export function describeResponse(bytes: Uint8Array, url: URL): string {
  const response = parseResponse(bytes);
  const declared = charsetOf(response.headers.get("content-type") ?? "");
  const { title } = readHtml(response.body, url.href, declared).page;
  return `${response.status} ${response.reason}, ${response.body.length} body bytes, title "${title}"`;
}
