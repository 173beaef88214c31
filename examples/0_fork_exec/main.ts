// 0_fork_exec: how one process starts another. fork() copies this process, exec() replaces the
// copy with another program, waitpid() collects its exit status. Then what a process costs, and
// what fork really copies: page tables at once, and each page only when it is written.
//
// Lecture: "Старт процессов" and "Fork и Exec" (the terminal that runs find).
// Builds on: nothing; this is where the lecture starts.
// Leaves out: posix_spawn and vfork, which skip the copy (libuv and Python's subprocess use them
//   where they can), and everything about shells: pipes between programs, job control. Threads,
//   the lighter alternative the lecture turns to next, are 0_threads.
// Run: pnpm run 0_fork_exec [--processes N]
import { readFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import {
  AF_UNIX,
  SOCK_STREAM,
  Socket,
  close,
  forkExec,
  forkHold,
  getpid,
  getppid,
  joinThreads,
  pipe,
  read,
  startThreads,
  waitpid,
  type WaitStatus,
} from "@async-from-scratch/native";
import { startClock, startLesson } from "@async-from-scratch/shared";

const args = startLesson("0_fork_exec", {
  processes: {
    type: "integer",
    default: 200,
    min: 1,
    max: 10_000,
    help: "how many fork + exec + waitpid to time",
  },
});

// What a terminal does with a command line: fork, exec the program in the child, read what it
// prints through a pipe, and wait for it to end.
function run(argv: string[]): { pid: number; output: string; status: WaitStatus } {
  const [readEnd, writeEnd] = pipe();
  const pid = forkExec(argv[0]!, argv, writeEnd);
  // The child has its own copy of writeEnd. Ours must go, or read() would never see end of file:
  // a pipe ends only when its last writer closes.
  close(writeEnd);
  const chunks: Buffer[] = [];
  for (let chunk = read(readEnd, 4096); chunk.length > 0; chunk = read(readEnd, 4096)) {
    chunks.push(chunk);
  }
  close(readEnd);
  return { pid, output: Buffer.concat(chunks).toString(), status: waitpid(pid, 0)! };
}

function describe(status: WaitStatus): string {
  return status.exitCode !== null ? `exit status ${status.exitCode}` : `signal ${status.signal}`;
}

// A process's parent and command name: from /proc on Linux, else from ps (started, of course,
// with fork and exec).
function parentOf(pid: number): { ppid: number; command: string } {
  try {
    // "1234 (node) S 1200 ...": the name sits in parentheses and may itself hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const command = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    return { ppid: Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]), command };
  } catch {
    const [ppid = "0", ...command] = run(["ps", "-o", "ppid=,comm=", "-p", String(pid)])
      .output.trim()
      .split(/\s+/);
    return { ppid: Number(ppid), command: basename(command.join(" ")) };
  }
}

function residentKiB(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
  } catch {
    return Number(run(["ps", "-o", "rss=", "-p", String(pid)]).output.trim());
  }
}

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

interface Split {
  rssKiB: number;
  sharedKiB: number; // pages that other processes map too: until a write, all of a fork's
  privateKiB: number; // pages this process alone maps
}

// A process's resident memory split in two, from /proc/PID/smaps_rollup (Linux 4.14 and later).
function memoryOf(pid: number): Split | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  } catch {
    return undefined;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1]);
  return {
    rssKiB: kib("Rss"),
    sharedKiB: kib("Shared_Clean") + kib("Shared_Dirty"),
    privateKiB: kib("Private_Clean") + kib("Private_Dirty"),
  };
}

console.log(`this process: pid ${getpid()}, started by pid ${getppid()}`);

// The lecture's example: the terminal runs find. Here this process is the terminal.
const sample = fileURLToPath(new URL("sample", import.meta.url));
const find = run(["find", sample]);
console.log(`\nfork + exec: find sample`);
console.log(`  fork made pid ${find.pid}, a copy of this process; exec turned the copy into find`);
console.log(`  find printed (sorted here: find lists entries in whatever order the disk keeps):`);
for (const line of find.output.trim().split("\n").sort()) {
  console.log(`    ${line.slice(dirname(sample).length + 1)}`);
}
console.log(`  waitpid: find ended with ${describe(find.status)}`);

// The child's own view: $$ is its pid, $PPID its parent's.
const shell = run(["sh", "-c", 'echo "pid $$, started by pid $PPID"']);
const childsParent = Number(/started by pid (\d+)/.exec(shell.output)?.[1]);
console.log(`\nfork + exec: sh -c 'echo ...' says: ${shell.output.trim()}`);
console.log(`  ${childsParent === getpid() ? "that parent is this process" : "a stranger?!"}`);

// Every process has a parent, up to pid 1, which the kernel starts itself.
console.log(`\nthe chain of parents, from this process up to pid 1:`);
for (let pid = getpid(); pid > 0;) {
  const { ppid, command } = parentOf(pid);
  console.log(`  pid ${pid} ${command}`);
  pid = ppid;
}

// What a process costs. fork copies this process's page tables (its memory itself is shared
// until one side writes to it: copy-on-write), and exec then throws the copy away and loads a
// program from disk. `true` does nothing, so the time is all process creation and teardown.
const timeEach = (start: () => void) => {
  const readClock = startClock();
  for (let i = 0; i < args.processes; i++) start();
  return (1000 * readClock().wallMs) / args.processes;
};
const processMicros = timeEach(() => waitpid(forkExec("true", ["true"], -1), 0));
// For scale: an OS thread started and joined the same number of times (0_threads has more).
const threadMicros = timeEach(() => joinThreads(startThreads(1)));
console.log(`\n${args.processes} x (fork + exec + waitpid) of true:`);
console.log(`  ${processMicros.toFixed(0)} µs per process`);
console.log(`  ${threadMicros.toFixed(1)} µs per thread, started and joined the same way`);
console.log(`  a process costs ${(processMicros / threadMicros).toFixed(0)}x a thread`);

// What fork copies. The lecture: "вся память процесса копируется". A child forked WITHOUT exec
// (forkHold, in the native module: it only waits for commands) shows what really happens. fork
// copies the page tables and marks every page read-only in both processes; the pages themselves
// stay shared until one side writes to one, and only then is that page copied (copy-on-write).
// /proc/PID/smaps_rollup splits a process's resident pages into shared and its own (private).
// Linux only: other systems have no such file.
const BUFFER_BYTES = 64 * 1024 * 1024;
const buffer = Buffer.alloc(BUFFER_BYTES, 1); // written, so each of its pages is really in RAM
const [child, fd] = forkHold(buffer);
const control = new Socket(AF_UNIX, SOCK_STREAM, fd);
// One command byte, then the child's answer: "?" is a ping, "w" writes into every page of its copy.
const ask = (command: string) => {
  control.sendAll(Buffer.from(command));
  control.recv(1);
};
ask("?");
const atFork = memoryOf(child);
ask("w");
const afterWrite = memoryOf(child);
control.close(); // end of file: the child exits
waitpid(child, 0);
console.log(`\nwhat fork copies: a child forked without exec, which only waits`);
const parentKiB = residentKiB(getpid());
console.log(
  `  this process: ${mib(parentKiB)} resident, a buffer of ${mib(BUFFER_BYTES / 1024)} among it`,
);
if (atFork === undefined || afterWrite === undefined) {
  console.log(`  (how much of the child is shared needs /proc/PID/smaps_rollup: Linux only)`);
} else {
  const split = ({ rssKiB, sharedKiB, privateKiB }: Split) =>
    `${mib(rssKiB)} resident: ${mib(sharedKiB)} shared, ${mib(privateKiB)} its own`;
  console.log(`  the child right after fork:               ${split(atFork)}`);
  console.log(`  after it wrote to each page of the buffer: ${split(afterWrite)}`);
  console.log(`  fork copied the page tables, not the pages: a page is copied when one side`);
  console.log(`  first writes to it, and only that page`);
}

// After exec, what the child has is the new program's own: exec threw the copy away.
const sleeper = forkExec("sleep", ["sleep", "10"], -1);
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // let it load libc and settle
const sleeperKiB = residentKiB(sleeper);
process.kill(sleeper);
waitpid(sleeper, 0);
console.log(
  `  after exec the child is another program: running sleep, it holds ${mib(sleeperKiB)}`,
);
