// A SIGINT sent to a lesson's own process (kill -INT PID, not the terminal's Ctrl-C, which also
// reaches tsx's parent process) ends it at once, under tsx as `pnpm run` starts it: tsx catches
// the signal in JavaScript, which a lesson asleep in select() never gets back to run.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { root } from "./lessons.ts";

test("SIGINT to 2_good_socket's process, while it waits 10 s for an answer, ends it at once", async () => {
  // The tsx command, as pnpm run starts it: a parent process that runs the lesson in a child.
  const tsx = fileURLToPath(import.meta.resolve("tsx/cli"));
  const main = join(root, "examples", "2_good_socket", "main.ts");
  const parent = spawn(process.execPath, [tsx, main, "--latency", "10000"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = once(parent, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  let stdout = "";
  let stderr = "";
  parent.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  // The request is sent: from here the lesson sleeps in epoll_wait until the site answers.
  await new Promise<void>((resolve, reject) => {
    parent.stdout.setEncoding("utf8").on("data", (text: string) => {
      stdout += text;
      if (stdout.includes("the whole request; next: EVENT_READ")) resolve();
    });
    void exited.then(() => reject(new Error(`it ended first:\n${stdout}\n${stderr}`)));
  });
  const [lesson] = readFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`, "utf8")
    .trim()
    .split(" ")
    .map(Number);
  const sent = performance.now();
  process.kill(lesson!, "SIGINT");
  const [code] = await exited;
  const seconds = (performance.now() - sent) / 1000;
  // Before, it ran on to the answer, 10 s later. A busy machine takes a moment to end two processes.
  assert.ok(seconds < 6, `it ended ${seconds.toFixed(1)} s after the SIGINT:\n${stdout}`);
  assert.is(code, 130, stderr);
  assert.not.match(stdout, /^response: /m);
});

test("SIGTERM to pnpm alone ends `pnpm run site` and every process it started", async () => {
  // pnpm 12 sends the signal on to its script's process group (the lesson gets the SIGTERM and
  // stops as it would on its own), and a helper it starts kills whatever is left of that group
  // once pnpm is gone: nothing is left listening.
  const pnpm = spawn("pnpm", ["--silent", "run", "site", "--port", "0"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = once(pnpm, "exit");
  let started: number[] = [];
  try {
    let stdout = "";
    await new Promise<void>((resolve, reject) => {
      pnpm.stdout.setEncoding("utf8").on("data", (text: string) => {
        stdout += text;
        if (stdout.includes("Fixture site: http://")) resolve();
      });
      void exited.then(() => reject(new Error(`it ended first:\n${stdout}`)));
    });
    started = descendants(pnpm.pid!);
    assert.ok(
      started.some((pid) => alive(pid) && /site\/main\.ts/.test(args(pid))),
      "the site",
    );
    pnpm.kill("SIGTERM");
    await exited;
    // A busy machine takes a moment to end them.
    for (const deadline = performance.now() + 10_000; performance.now() < deadline;) {
      if (!started.some(alive)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(
      started.filter(alive).map((pid) => `${pid} ${args(pid)}`),
      [],
    );
  } finally {
    // Whatever failed above, nothing this test started outlives it.
    if (pnpm.exitCode === null && pnpm.signalCode === null) pnpm.kill("SIGKILL");
    for (const pid of started.filter(alive)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // it ended meanwhile
      }
    }
  }
});

/** The processes below pid, each before its own children. */
function descendants(pid: number): number[] {
  // Each thread has its own list: the one that forked is the child's parent.
  const children = readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
    readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim().split(" "),
  );
  return children
    .filter((child) => child !== "")
    .map(Number)
    .flatMap((child) => [child, ...descendants(child)]);
}

/** Running, not a zombie waiting for its parent to collect it. */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

function args(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
  } catch {
    return "";
  }
}

test.run();
