// What the scheduler saw one thread do, read from outside its process: how long it ran on a CPU,
// how long it waited, runnable, for one, and how often it gave the CPU up of its own accord.
//
// CPU time over wall time (what a lesson prints of itself) says "this thread spun" only on an idle
// machine: under a load of 30 on 2 cores a thread that never stops gets a fifteenth of a core. The
// scheduler knows the difference between a thread that wants the CPU and one that does not: a
// thread that spins is always either running or runnable (waiting in the run queue), so wall time
// minus both is about nil however loaded the machine is; a thread that sleeps or blocks in a system
// call is neither while it does, and each time it goes to sleep counts as a voluntary context
// switch, which a spinning thread, only ever preempted, never makes.
//
// Linux only: /proc/<pid>/task/<tid>/schedstat (the kernel's CONFIG_SCHED_INFO, on in every
// distribution's kernel) and the context switch counts in /proc/<pid>/task/<tid>/status.
import { readFileSync } from "node:fs";

export interface ThreadTimes {
  /** performance.now() when read. */
  atMs: number;
  /** Time on a CPU. */
  runningMs: number;
  /** Time runnable, in the run queue, waiting for a CPU. */
  waitingMs: number;
  /** Times it gave up the CPU itself: to sleep, to block, to wait for a lock. */
  voluntarySwitches: number;
}

/** The thread's times now (the main thread if tid is left out), or undefined once it is gone. */
export function threadTimes(pid: number, tid = pid): ThreadTimes | undefined {
  try {
    const [running, waiting] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8")
      .split(" ")
      .map(Number);
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
    const voluntary = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status);
    if (voluntary === null || !Number.isFinite(running) || !Number.isFinite(waiting)) {
      return undefined;
    }
    return {
      atMs: performance.now(),
      runningMs: running! / 1e6,
      waitingMs: waiting! / 1e6,
      voluntarySwitches: Number(voluntary[1]),
    };
  } catch {
    return undefined;
  }
}

export interface Between {
  wallMs: number;
  runningMs: number;
  waitingMs: number;
  /** Neither running nor waiting to: asleep, or blocked in a system call. */
  asleepMs: number;
  voluntarySwitches: number;
}

/** What the thread did from one reading to a later one. */
export function between(from: ThreadTimes, to: ThreadTimes): Between {
  const wallMs = to.atMs - from.atMs;
  const runningMs = to.runningMs - from.runningMs;
  const waitingMs = to.waitingMs - from.waitingMs;
  return {
    wallMs,
    runningMs,
    waitingMs,
    asleepMs: wallMs - runningMs - waitingMs,
    voluntarySwitches: to.voluntarySwitches - from.voluntarySwitches,
  };
}

/** Why this machine cannot show a thread's scheduling, or null if it can. */
export function whyNoSchedstat(): string | null {
  if (process.platform !== "linux")
    return `no /proc/<pid>/task/<tid>/schedstat on ${process.platform}`;
  if (threadTimes(process.pid) === undefined) {
    return "no /proc/<pid>/task/<tid>/schedstat here (a kernel without CONFIG_SCHED_INFO)";
  }
  return null;
}
