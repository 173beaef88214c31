// search-server: the search engine as a web page and a JSON API, served by one thread on the
// course's own event loop. The last step of the lecture's plan: a person types words into a
// browser, and the pages the crawler found come back, best first, the words marked.
//
// Lecture: "Как работать с сетью с помощью сокетов?": «Задача любого поисковика — при вводе
//   текста запроса выдать какие-то релевантные сайты». And "Неблокирующий ввод-вывод": one
//   process, one thread, every client on one loop.
// Builds on: search (the same Index answers, shared/search) and c10k (the same HttpServer on the
//   same loop, shared/server.ts and shared/loop). What is new is app.ts, a handler from request
//   to reply, and the page it serves (html.ts, static/).
// Leaves out: TLS, and a second core. Every query runs on the loop's thread, between two waits in
//   epoll: a few hundred microseconds on the fixture site's index, during which no other client
//   is served. A bigger index would send the searching to a WorkerPool (shared/loop), as the
//   crawler does with its parsing; then the loop would only move bytes.
// Run: pnpm run search-server [--index DIR] [--port N] [--host ADDRESS]
//   then open http://127.0.0.1:8000/ in a browser, or curl 'http://127.0.0.1:8000/api/search?q=epoll'
import { getpid } from "@async-from-scratch/native";
import { hostPort, startLesson } from "@async-from-scratch/shared";
import { EventLoop } from "@async-from-scratch/shared/loop";
import { DEFAULT_INDEX_DIR, Index, SearchIndexError } from "@async-from-scratch/shared/search";
import { HttpServer } from "@async-from-scratch/shared/server";
import { accounting, fdsOpenedSince, openFdSet, stopSignal } from "../c10k/common.ts";
import { searchApp } from "./app.ts";

const args = startLesson("search-server", {
  index: {
    type: "string",
    placeholder: "DIR",
    help: "the index the crawler wrote (default out/index in the project)",
  },
  port: {
    type: "integer",
    default: 8000,
    min: 0,
    max: 65535,
    help: "port to listen on (0: any free one)",
  },
  host: {
    type: "string",
    default: "127.0.0.1",
    placeholder: "ADDRESS",
    help: "address to listen on: 127.0.0.1 (or ::1) is this machine only, 0.0.0.0 (or ::) every interface",
  },
  "until-stdin-closes": {
    type: "boolean",
    help: "also stop when stdin closes (how a test or a benchmark stops a server it started)",
  },
});

const fdsBefore = openFdSet();
const dir = args.index ?? DEFAULT_INDEX_DIR;
let index: Index;
try {
  index = Index.open(dir);
} catch (error) {
  // A missing, old or damaged index: one line that says how to build one, as search says it.
  if (!(error instanceof SearchIndexError)) throw error;
  console.error(`search-server: ${error.message}`);
  process.exit(1);
}

const loop = new EventLoop();
let server: HttpServer;
try {
  server = new HttpServer(loop, searchApp(index), {
    host: args.host,
    port: args.port,
    log: (line) => console.error(`search-server: ${line}`),
  });
} catch (error) {
  // The port is taken (EADDRINUSE), or the address is not this machine's (EADDRNOTAVAIL): say
  // what to do about it.
  const hint = {
    EADDRINUSE:
      "another program listens there: stop it, or choose another --port (0: any free one)",
    EADDRNOTAVAIL:
      "not an address of this machine: --host 127.0.0.1 (or ::1), or 0.0.0.0 (or ::) for all of them",
  }[(error as NodeJS.ErrnoException).code ?? ""];
  const message = `${hostPort(args.host, args.port)}: ${(error as Error).message}`;
  console.error(`search-server: ${message}${hint ? `; ${hint}` : ""}`);
  process.exit(1);
}
const [host, port] = server.address;

// Shutdown is a parameter: Ctrl-C, SIGTERM, or the parent closing our stdin abort stop.signal.
// They arrive through the loop (a self-pipe), since Node's own signal handlers cannot run while
// the loop sleeps in epoll_wait (stopSignal, in c10k/common.ts).
const stop = stopSignal(loop, args["until-stdin-closes"] ?? false);

const origin = `http://${hostPort(host, port)}`; // http://[::1]:8000 on IPv6
const mib = (index.bytes / 2 ** 20).toFixed(1);
console.log(`search-server: listening on ${origin}/ (${loop.selector.name}, pid ${getpid()})`);
console.log(`  the index         ${args.index ?? "out/index"}: ${index.pages} pages, ${mib} MiB`);
console.log(`  the page          ${origin}/?q=epoll`);
console.log(`  the JSON API      ${origin}/api/search?q=epoll&limit=10&offset=0`);
console.log(`  a stored page     ${origin}/page?url=URL&q=epoll`);
const stats = await loop.run(server.serve(stop.signal));
stop.done();
loop.close();
index.close();
console.log(`search-server: stopped (${stop.why()}): stopped accepting, closed idle connections`);
for (const line of accounting(stats)) console.log(`  ${line}`);
console.log(`  fds left open: ${fdsOpenedSince(fdsBefore)}`);
