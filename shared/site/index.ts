// Start and stop the fixture site from code. The site always runs in a child process of its own:
// the lessons block their one thread inside select(), and a server in that same thread could
// never answer them.
//
//   const site = await startSite({ latencyMs: 100 });
//   ... fetch site.url ...
//   await site.stop();
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface SiteOptions {
  /** How many articles the wiki has (default 200). */
  articles?: number;
  /** How long every response waits before it starts (default 0). */
  latencyMs?: number;
  /** The same seed gives the same pages, byte for byte (default 1). */
  seed?: number;
  /** The Crawl-delay that robots.txt asks for, in ms (default 0: none). */
  crawlDelayMs?: number;
  /** The port (default 0: any free one). */
  port?: number;
  /** The loopback address it listens on (default 127.0.0.1); the busy port stays on 127.0.0.1. */
  host?: "127.0.0.1" | "::1";
  /** Processes serving the port (default 1): a large wiki can keep one busy (main.ts). */
  processes?: number;
}

export interface RunningSite {
  /** "http://127.0.0.1:PORT/", or "http://[::1]:PORT/" */
  url: string;
  port: number;
  /** A port of the same site whose accept queue is full, so a handshake takes time (busy.ts). */
  busyPort: number;
  /** Stops the site; resolves once its process has exited. */
  stop(): Promise<void>;
}

// Starting takes a few hundred milliseconds (node, then tsx compiling the site); this is for a
// machine so busy that something else is wrong.
export { ACCEPT_DELAY_MS } from "./busy.ts";
/** The most articles the site has (past 10,000 each page is made when asked for: lazy.ts). */
export { LAZY_MAX } from "./lazy.ts";

const READY_TIMEOUT_MS = 15_000;
const READY_LINE =
  /^Fixture site: (http:\/\/(?:127\.0\.0\.1|\[::1\]):(\d+)\/) .*busy port (\d+)\)$/;
const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

export async function startSite(options: SiteOptions = {}): Promise<RunningSite> {
  const flags = ["--port", String(options.port ?? 0)];
  if (options.host !== undefined) flags.push("--host", options.host);
  if (options.articles !== undefined) flags.push("--articles", String(options.articles));
  if (options.latencyMs !== undefined) flags.push("--latency", String(options.latencyMs));
  if (options.seed !== undefined) flags.push("--seed", String(options.seed));
  if (options.crawlDelayMs !== undefined) {
    flags.push("--crawl-delay", String(options.crawlDelayMs));
  }
  if (options.processes !== undefined) flags.push("--processes", String(options.processes));

  // Node itself with tsx's loader, rather than the tsx command: one process, not two, so the
  // pid we signal is the site's. Its stdin is a pipe that only closes when we exit, which the
  // site takes as its cue to stop (main.ts). Its stderr goes into the error if it fails to
  // start, and to our stderr once it runs, so its complaints reach the student either way.
  // In a process group of its own (detached): the Ctrl-C typed in a terminal goes to the whole
  // group in the foreground, and the lesson, which lets its requests under way finish on the
  // first one, needs the site to answer them. It stops when we do, through its stdin.
  const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), MAIN, ...flags], {
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // 'exit' handlers run even when a lesson ends with process.exit() or an uncaught exception.
  const killChild = () => child.kill();
  process.on("exit", killChild);
  void exited.then(() => process.off("exit", killChild));

  const [url, port, busyPort] = await waitUntilReady(child);
  child.stderr!.pipe(process.stderr);
  return {
    url,
    port,
    busyPort,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** The URL and ports from the site's ready line; rejects if it exits or stays silent instead. */
function waitUntilReady(
  child: ChildProcess,
): Promise<[url: string, port: number, busyPort: number]> {
  return new Promise((resolve, reject) => {
    // stdio[1] is a pipe: spawn() was asked for one.
    const lines = createInterface({ input: child.stdout! });
    let complaint = "";
    const onComplaint = (text: string) => (complaint += text);
    child.stderr!.setEncoding("utf8").on("data", onComplaint);
    const onLine = (line: string) => {
      const match = READY_LINE.exec(line);
      if (match) settle(() => resolve([match[1]!, Number(match[2]), Number(match[3])]));
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      settle(() =>
        reject(
          new Error(
            `fixture site exited (${signal ?? `code ${code}`}) before it was ready` +
              (complaint ? `: ${complaint.trim()}` : ""),
          ),
        ),
      );
    const onError = (error: Error) => settle(() => reject(error));
    const timer = setTimeout(() => {
      child.kill();
      settle(() => reject(new Error(`fixture site not ready after ${READY_TIMEOUT_MS} ms`)));
    }, READY_TIMEOUT_MS);

    function settle(finish: () => void): void {
      clearTimeout(timer);
      lines.off("line", onLine);
      child.off("exit", onExit);
      child.off("error", onError);
      child.stderr!.off("data", onComplaint);
      finish();
    }
    lines.on("line", onLine);
    child.once("exit", onExit);
    child.once("error", onError);
  });
}
