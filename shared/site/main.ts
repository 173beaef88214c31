// The fixture site as a program. Lessons start it through startSite() (index.ts); students can run
// it on its own and point a lesson, curl or a browser at it:
//
//   pnpm run site [--port N] [--articles N] [--latency N] [--seed N] [--crawl-delay MS]
//                 [--processes N] [--host ADDRESS]
//
// It prints one line when it is ready to accept connections, and stops on Ctrl-C, on SIGTERM,
// and when the parent that started it through a pipe goes away.
import cluster from "node:cluster";
import { fstatSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { hostPort } from "../http.ts";
import { startLesson } from "../lesson.ts";
import { openBusyPort } from "./busy.ts";
import { LAZY_MAX } from "./lazy.ts";
import { MAX_LATENCY_MS, createSiteServer } from "./server.ts";

const args = startLesson("site", {
  port: {
    type: "integer",
    default: 8080,
    min: 0,
    max: 65535,
    help: "port to listen on; 0 takes any free one",
  },
  articles: {
    type: "integer",
    default: 200,
    min: 1,
    max: LAZY_MAX,
    help: "how many articles the wiki has (past 10000, each page is made when asked for)",
  },
  latency: {
    type: "integer",
    default: 0,
    min: 0,
    max: MAX_LATENCY_MS,
    help: "ms every response waits before it starts",
  },
  seed: {
    type: "integer",
    default: 1,
    min: 0,
    max: 2 ** 32 - 1,
    help: "the same seed gives the same pages",
  },
  "crawl-delay": {
    type: "integer",
    default: 0,
    min: 0,
    max: 60_000,
    help: "ms that robots.txt asks crawlers to wait between requests (Crawl-delay)",
  },
  processes: {
    type: "integer",
    default: 1,
    min: 1,
    max: 64,
    help: "processes serving the one port (node:cluster), for a crawler faster than one",
  },
  // ::1 for the crawler, which speaks IPv6 too: a site served on ::1 alone is what a Node server
  // started with listen(port, "localhost") is on many machines.
  host: {
    type: "string",
    default: "127.0.0.1",
    choices: ["127.0.0.1", "::1"],
    placeholder: "ADDRESS",
    help: "loopback address to listen on",
  },
});
const options = {
  port: args.port,
  articles: args.articles,
  latencyMs: args.latency,
  seed: args.seed,
  crawlDelayMs: args["crawl-delay"],
};
if (args.processes > 1 && cluster.isPrimary) servePrimary(args.processes);
else serve();

function serve(): void {
  const server = createSiteServer(options);
  server.on("error", (error: NodeJS.ErrnoException) => {
    const hint =
      error.code === "EADDRINUSE" ? " (is a site running already? --port 0 takes any)" : "";
    console.error(`fixture site: ${error.message}${hint}`);
    process.exit(1);
  });
  // A loopback address only: the site is for this machine's lessons, never for the network.
  server.listen(options.port, args.host, () => {
    const { port } = server.address() as AddressInfo;
    // For 1_bad_socket: a handshake that takes time. One is enough, so with several processes
    // the first opens it and tells the primary its port.
    if (cluster.isPrimary) ready(port, openBusyPort(server).port);
    else if (cluster.worker?.id === 1) process.send!({ busyPort: openBusyPort(server).port });
  });

  // Stopping closes the listening socket and every connection, which also cancels the timers of
  // slow responses, so the process ends by itself once nothing is left. A second Ctrl-C kills it.
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
    process.stdin.destroy();
    // A worker's channel to its primary would keep it alive.
    if (cluster.isWorker && process.connected) process.disconnect();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  // A worker of servePrimary() whose primary is gone, however it went, stops too.
  if (cluster.isWorker) process.once("disconnect", stop);
  else watchStdin(stop);
}

// Several processes serving one port: the primary forks them and hands each accepted connection
// to one of them in turn (node:cluster's round-robin on Linux). The pages are made per request,
// so the processes share nothing and scale with the cores; the primary only passes connections on.
function servePrimary(processes: number): void {
  cluster.setupPrimary({ stdio: ["ignore", "inherit", "inherit", "ipc"] });
  let stopping = false;
  const stopAll = (): void => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
    process.stdin.destroy();
  };
  let listening = 0;
  let port = 0;
  let busyPort = 0;
  const readyWhenAll = (): void => {
    if (listening === processes && busyPort !== 0) ready(port, busyPort);
  };
  cluster.on("listening", (_worker, address) => {
    listening++;
    port = address.port;
    readyWhenAll();
  });
  cluster.on("message", (_worker, message: { busyPort?: number }) => {
    busyPort = message.busyPort ?? busyPort;
    readyWhenAll();
  });
  // One that dies takes the site with it: a site that answers only some requests would be worse.
  cluster.on("exit", (worker, code, signal) => {
    if (!stopping) {
      console.error(`fixture site: process ${worker.process.pid} exited (${signal ?? code})`);
      stopAll();
    }
  });
  for (let i = 0; i < processes; i++) cluster.fork();
  process.once("SIGINT", stopAll);
  process.once("SIGTERM", stopAll);
  watchStdin(stopAll);
}

function ready(port: number, busyPort: number): void {
  const many = args.processes > 1 ? `, ${args.processes} processes` : "";
  console.log(
    `Fixture site: http://${hostPort(args.host, port)}/ ` +
      `(${options.articles} articles, latency ${options.latencyMs} ms${many}, busy port ${busyPort})`,
  );
}

// A parent that starts the site with a pipe on its stdin (as startSite does) closes that pipe when
// it dies, however it dies, even by SIGKILL: end of input means "no one needs you any more". A
// terminal or /dev/null on stdin says nothing of the kind, so then stdin is left alone.
function watchStdin(stop: () => void): void {
  const stdin = fstatSync(0);
  if (stdin.isFIFO() || stdin.isSocket()) process.stdin.on("end", stop).resume();
}
