// A redis-server of the test's own, on a free port of 127.0.0.1, with nothing saved to disk, for
// the tests of the Redis client and of crawls that share a frontier. Where redis-server is not
// installed, whyNoRedis says so, and those checks are skipped (skips.ts), never passed.
import { spawn, execFileSync } from "node:child_process";
import { connect, createServer } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NEED_DATA, RespParser, type RespReply, encodeCommand } from "@async-from-scratch/shared";

function findRedisServer(): string | null {
  try {
    return (
      execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim() || null
    );
  } catch {
    return null;
  }
}

const redisServer = findRedisServer();

/** Why the Redis checks cannot run here, or null if they can. */
export const whyNoRedis =
  redisServer === null
    ? "redis-server is not installed (Debian: apt-get install redis-server; .ci/run does)"
    : null;

export interface RunningRedis {
  url: string;
  port: number;
  /** One command, on a connection of its own, from the test's (Node's) loop. */
  call(...args: string[]): Promise<RespReply>;
  stop(): Promise<void>;
}

/** Starts redis-server on a free port; resolves once it accepts connections. */
export async function startRedis(): Promise<RunningRedis> {
  if (redisServer === null) throw new Error(whyNoRedis!);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "redis-test-"));
  const child = spawn(
    redisServer,
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`redis-server did not start:\n${output}`)),
      10_000,
    );
    child.stdout.setEncoding("utf8").on("data", (text: string) => {
      output += text;
      if (output.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr.setEncoding("utf8").on("data", (text: string) => (output += text));
    child.on("error", reject);
    void exited.then(() => reject(new Error(`redis-server exited:\n${output}`)));
  });
  return {
    url: `redis://127.0.0.1:${port}/`,
    port,
    call: (...args) => call(port, args),
    async stop() {
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function call(port: number, args: string[]): Promise<RespReply> {
  return new Promise((resolve, reject) => {
    const parser = new RespParser();
    const socket = connect(port, "127.0.0.1", () => socket.write(encodeCommand(args)));
    socket.on("error", reject);
    socket.on("end", () => reject(new Error(`redis-server closed before it answered ${args[0]}`)));
    socket.on("data", (chunk) => {
      parser.receiveData(chunk);
      const reply = parser.nextReply();
      if (reply === NEED_DATA) return;
      socket.destroy();
      resolve(reply);
    });
  });
}

// A port the kernel gave and took back: another program could take it meanwhile, but on a test
// machine that is rare, and redis-server then fails to start loudly.
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
