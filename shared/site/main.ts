// The fixture site as a program. Lessons start it through startSite() (index.ts); students can run
// it on its own and point a lesson, curl or a browser at it:
//
//   pnpm run site [--port N] [--articles N] [--latency N] [--seed N] [--crawl-delay MS]
//
// It prints one line when it is ready to accept connections, and stops on Ctrl-C, on SIGTERM,
// and when the parent that started it through a pipe goes away.
import { fstatSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { startLesson } from "../lesson.ts";
import { openBusyPort } from "./busy.ts";
import { MAX_LATENCY_MS, createSiteServer } from "./server.ts";

const args = startLesson("site", {
  port: {
    type: "integer",
    default: 8080,
    min: 0,
    max: 65535,
    help: "port on 127.0.0.1; 0 takes any free one",
  },
  articles: {
    type: "integer",
    default: 200,
    min: 1,
    max: 10_000,
    help: "how many articles the wiki has",
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
});
const options = {
  port: args.port,
  articles: args.articles,
  latencyMs: args.latency,
  seed: args.seed,
  crawlDelayMs: args["crawl-delay"],
};
const server = createSiteServer(options);
server.on("error", (error: NodeJS.ErrnoException) => {
  const hint =
    error.code === "EADDRINUSE" ? " (is a site running already? --port 0 takes any)" : "";
  console.error(`fixture site: ${error.message}${hint}`);
  process.exit(1);
});
// 127.0.0.1 only: the site is for this machine's lessons, never for the network.
server.listen(options.port, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  const busy = openBusyPort(server); // for 1_bad_socket: a handshake that takes time
  console.log(
    `Fixture site: http://127.0.0.1:${port}/ ` +
      `(${options.articles} articles, latency ${options.latencyMs} ms, busy port ${busy.port})`,
  );
});

// Stopping closes the listening socket and every connection, which also cancels the timers of
// slow responses, so the process ends by itself once nothing is left. A second Ctrl-C kills it.
function stop(): void {
  server.close();
  server.closeAllConnections();
  process.stdin.destroy();
}
process.once("SIGINT", stop);
process.once("SIGTERM", stop);

// A parent that starts the site with a pipe on its stdin (as startSite does) closes that pipe when
// it dies, however it dies, even by SIGKILL: end of input means "no one needs you any more". A
// terminal or /dev/null on stdin says nothing of the kind, so then stdin is left alone.
const stdin = fstatSync(0);
if (stdin.isFIFO() || stdin.isSocket()) process.stdin.on("end", stop).resume();
