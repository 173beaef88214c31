// What the programs of this lesson share: the backends, a process's fds and resident memory, the
// limits that decide how many connections one process may open, starting a server in a process
// of its own, a server's way to stop, its final accounting as text, and the benchmarks' medians and tables
// (bench:c10k's, and bench:search-server's, which loads its servers the same way).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  EpollSelector,
  KqueueSelector,
  PollSelector,
  SIGINT,
  SIGTERM,
  SelectSelector,
  read,
} from "@async-from-scratch/native";
import type { EventLoop } from "@async-from-scratch/shared/loop";
import type { ServerStats } from "@async-from-scratch/shared/server";

export const backends = {
  epoll: EpollSelector,
  kqueue: KqueueSelector,
  poll: PollSelector,
  select: SelectSelector,
};

const FD_DIR = process.platform === "linux" ? "/proc/self/fd" : "/dev/fd";

/** How many fds this process has open. */
export function openFds(): number {
  return readdirSync(FD_DIR).length;
}

/**
 * The fds open now, each with what it is ("7 socket:[123]"): compared with a later one by
 * fdsOpenedSince, which counts what is open then and was not before. A difference of counts would
 * also see fds that Node's own threads open and close meanwhile (tsx's module loader reads files
 * in a thread of its own), and a leak could hide behind one of them closing.
 */
export function openFdSet(): Set<string> {
  const fds = new Set<string>();
  for (const fd of readdirSync(FD_DIR)) {
    let target = "";
    try {
      target = readlinkSync(`${FD_DIR}/${fd}`);
    } catch {
      // closed between the listing and the look, or a system whose fd links are not links
    }
    fds.add(`${fd} ${target}`);
  }
  return fds;
}

/** How many fds are open now that were not in before (openFdSet): what was left open since. */
export function fdsOpenedSince(before: Set<string>): number {
  return [...openFdSet()].filter((fd) => !before.has(fd)).length;
}

/** A process's resident set (RSS) in bytes: the memory it really occupies, not what it reserved. */
export function residentBytes(pid = process.pid): number {
  if (process.platform === "linux") {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
  }
  return Number(execFileSync("ps", ["-o", "rss=", "-p", String(pid)], { encoding: "utf8" })) * 1024;
}

/** CPU time (user + system) a process has used so far, in ms; Linux only, else NaN. */
export function cpuMs(pid: number): number {
  if (process.platform !== "linux") return NaN;
  // /proc/PID/stat: the command may hold spaces, so count fields after its closing parenthesis.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime and stime, fields 14 and 15
  return (ticks * 1000) / 100; // USER_HZ is 100 on every Linux that Node runs on
}

export interface Limits {
  /** Files a process may have open: RLIMIT_NOFILE, soft and hard (`ulimit -n`, `ulimit -Hn`). */
  fds: { soft: number; hard: number } | null;
  /** The ephemeral ports the kernel picks local ports from, for connect() without bind(). */
  ports: { low: number; high: number } | null;
  /** The cap on any socket's listen backlog: net.core.somaxconn. */
  somaxconn: number | null;
}

/** This system's limits, where it shows them (Linux's /proc); null where it does not. */
export function readLimits(): Limits {
  const read = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : null);
  const fds = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(
    read("/proc/self/limits") ?? "",
  );
  const ports = /^(\d+)\s+(\d+)/.exec(read("/proc/sys/net/ipv4/ip_local_port_range") ?? "");
  const somaxconn = read("/proc/sys/net/core/somaxconn");
  const count = (text: string) => (text === "unlimited" ? Infinity : Number(text));
  return {
    fds: fds ? { soft: count(fds[1]!), hard: count(fds[2]!) } : null,
    ports: ports ? { low: Number(ports[1]), high: Number(ports[2]) } : null,
    somaxconn: somaxconn === null ? null : Number(somaxconn),
  };
}

/**
 * What stops `connections` connections from one process to one server port, each as a message
 * that names the limit and says how to raise it; empty if nothing does. `spare` is the fds this
 * process needs besides the connections.
 */
export function limitProblems(connections: number, limits: Limits, spare: number): string[] {
  const problems: string[] = [];
  const { fds, ports } = limits;
  if (fds !== null && connections + spare > fds.soft) {
    problems.push(
      `${connections} connections need ${connections} fds in this process (and as many in the ` +
        `server's), but a process may have only ${fds.soft} open here ` +
        `(RLIMIT_NOFILE, \`ulimit -n\`: soft ${fds.soft}, hard ${fds.hard}; Node raises its soft ` +
        `limit to the hard one). Raise the hard limit as root (\`ulimit -Hn 65536\` in the shell ` +
        `that runs this, LimitNOFILE= for a systemd service, nofile in ` +
        `/etc/security/limits.conf), or ask for at most ${fds.soft - spare} connections.`,
    );
  }
  if (ports !== null && connections > ports.high - ports.low + 1) {
    const range = ports.high - ports.low + 1;
    problems.push(
      `${connections} connections from one address to one server port need ${connections} ` +
        `local ports, but the kernel picks them from ${range} (the ephemeral range ` +
        `${ports.low}-${ports.high}, /proc/sys/net/ipv4/ip_local_port_range). Widen it as root ` +
        `(sysctl -w net.ipv4.ip_local_port_range="1024 65535"), or spread the connections over ` +
        `several local addresses (127.0.0.2, 127.0.0.3, ... each has ports of its own), or ask ` +
        `for at most ${range} connections.`,
    );
  }
  return problems;
}

/**
 * The V8 flags both Node servers run with (package.json's c10k-server and c10k-node-server say
 * the same). V8 grows its young generation, where new objects start, up to 2 x 16 MiB when many
 * of them survive, as 10,000 new connections do: 3 KiB per connection of nursery that a server
 * holding idle connections never needs. Capped at 1 MiB, the nursery is collected more often,
 * and each collection is as cheap as ever: it costs what survives, not what is thrown away.
 */
export const SERVER_NODE_FLAGS = ["--max-semi-space-size=1"];

export interface RunningServer {
  port: number;
  pid: number;
  /** The line in which it said it was listening. */
  ready: string;
  /** Stops the server (SIGTERM, or the signal given); resolves with what it printed besides its ready line. */
  stop(signal?: NodeJS.Signals): Promise<string>;
}

// A server says this when it listens: the port, the backend, and its pid.
const READY_LINE = /listening on http:\/\/127\.0\.0\.1:(\d+)\/ \(.*pid (\d+)\)/;
// Node and tsx take a second or two to start on a busy machine; this is for one where something
// else is wrong.
const READY_TIMEOUT_MS = 20_000;

/**
 * Starts one of this lesson's servers (server.ts, node_server.ts), or a later tool's
 * ("../search-server/main.ts"), in a process of its own, on a port the kernel picks, and waits
 * for its ready line. Its stdin is a pipe that closes when we exit, so it stops even if we are
 * killed; its stderr is ours.
 */
export async function startServer(
  program: string,
  args: string[],
  nodeFlags = SERVER_NODE_FLAGS,
): Promise<RunningServer> {
  const file = fileURLToPath(new URL(program, import.meta.url));
  const child = spawn(
    process.execPath,
    [
      ...nodeFlags,
      "--import",
      import.meta.resolve("tsx"),
      file,
      "--port",
      "0",
      "--until-stdin-closes",
      ...args,
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  // "close", not "exit": the process can end before we have read the last of its output.
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const kill = () => child.kill();
  process.on("exit", kill);
  void exited.then(() => process.off("exit", kill));
  let after = "";
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`${program} did not say it was listening within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    lines.on("line", (line) => {
      const match = READY_LINE.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      } else after += `${line}\n`;
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${program} exited (${signal ?? `status ${code}`}) before it listened`));
    });
  });
  return {
    port: Number(ready[1]),
    pid: Number(ready[2]),
    ready: ready.input,
    async stop(signal = "SIGTERM") {
      child.kill(signal);
      await exited;
      lines.close();
      return after;
    },
  };
}

/**
 * How a server on our loop stops: shutdown is a parameter, an AbortSignal that SIGINT (Ctrl-C),
 * SIGTERM, or, with untilStdinCloses, the parent closing our stdin abort; why() says which came
 * first. The signals arrive through the loop (a self-pipe): Node's own process.on("SIGTERM")
 * handlers cannot run while the loop sleeps in epoll_wait. done() takes stdin off the loop once
 * the server has stopped, before the loop closes.
 */
export function stopSignal(
  loop: EventLoop,
  untilStdinCloses: boolean,
): { signal: AbortSignal; why: () => string; done: () => void } {
  const stop = new AbortController();
  let why = "";
  const stopFor = (reason: string) => () => {
    why ||= reason;
    stop.abort();
  };
  loop.addSignalHandler(SIGINT, stopFor("SIGINT"));
  loop.addSignalHandler(SIGTERM, stopFor("SIGTERM"));
  let reading = untilStdinCloses;
  if (reading) {
    // Readable means a byte or the end of file; a parent that dies closes the pipe either way.
    loop.addReader(0, () => {
      if (read(0, 64).length === 0) {
        loop.removeReader(0);
        reading = false;
        stopFor("stdin closed")();
      }
    });
  }
  const done = () => {
    if (reading) loop.removeReader(0);
    reading = false;
  };
  return { signal: stop.signal, why: () => why, done };
}

/** The server's final accounting, in which every connection accepted ends in exactly one count. */
export function accounting(stats: ServerStats): string[] {
  const { closed } = stats;
  const ends = Object.values(closed).reduce((sum, count) => sum + count, 0);
  const answered = [...stats.responses].sort(([a], [b]) => a - b);
  return [
    `connections accepted: ${stats.accepted}, at most ${stats.peakOpen} open at once` +
      (stats.acceptPauses > 0 ? `; accept paused ${stats.acceptPauses} times (out of fds)` : ""),
    `requests: ${stats.requests}; answered: ` +
      (answered.map(([status, count]) => `${count} x ${status}`).join(", ") || "none"),
    `closed: by the client ${closed.byClient}, after Connection: close ${closed.afterClose}, ` +
      `timed out ${closed.timedOut},`,
    `        bad request ${closed.badRequest}, reset ${closed.reset}, ` +
      `refused ${closed.refused}, at shutdown ${closed.shutdown}`,
    `accepted ${stats.accepted} = closed ${ends} + open ${stats.open}`,
  ];
}

// ---- the benchmarks' figures --------------------------------------------------------------------

/** The middle value (the mean of the two middle ones, for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** A share of one core as a percentage. */
export function percent(share: number): string {
  return `${Math.round(share * 100)}%`;
}

/** Rows of cells as aligned columns: the first column to the left, the figures to the right. */
export function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows) {
    const cells = row.map((cell, column) =>
      column === 0 ? cell.padEnd(widths[column]! + 2) : cell.padStart(widths[column]! + 2),
    );
    console.log(cells.join(""));
  }
}
