// 0_fork_exec: how one process starts another. fork() copies this process, exec() replaces the
// copy with another program, waitpid() collects its exit status. Then what a process costs.
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
  close,
  forkExec,
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

// Memory: fork gives the child all of this process's memory (shared until written); after exec,
// what the child has is the new program's own.
const sleeper = forkExec("sleep", ["sleep", "10"], -1);
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // let it load libc and settle
const sleeperKiB = residentKiB(sleeper);
process.kill(sleeper);
waitpid(sleeper, 0);
console.log(`  memory: this process ${mib(residentKiB(getpid()))} resident, all of it the child's`);
console.log(`  at fork (copy-on-write); after exec, the child running sleep: ${mib(sleeperKiB)}`);
