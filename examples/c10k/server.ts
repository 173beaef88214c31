// c10k's server: one process, one thread, one event loop, and every connection on it.
//
// Lecture: "Неблокирующий ввод-вывод": «как один сервер может одновременно работать с 10,000
//   соединениями?» The answer, running: a non-blocking listening socket, DefaultSelector, and
//   the HTTP server of shared/server.ts, which keeps one small object per connection.
// Builds on: the shared loop (shared/loop, lesson 6's loop grown up) and the HTTP helper's
//   RequestParser and buildResponse; main.ts, beside this file, is the client that measures it.
// Leaves out: everything but the lesson's one fixed page (hello.ts). The search page of the
//   search tool is served by the same HttpServer with a handler of its own.
// Run: pnpm run c10k-server [--port N] [--backend NAME] [--idle-timeout MS]
//   then, in another terminal: curl -v http://127.0.0.1:8080/ or pnpm run c10k --url ...
import { SIGINT, SIGTERM, availableSelectors, getpid, read } from "@async-from-scratch/native";
import { startLesson } from "@async-from-scratch/shared";
import { EventLoop } from "@async-from-scratch/shared/loop";
import { HttpServer } from "@async-from-scratch/shared/server";
import { accounting, backends, openFds } from "./common.ts";
import { hello } from "./hello.ts";

const args = startLesson("c10k-server", {
  port: {
    type: "integer",
    default: 8080,
    min: 0,
    max: 65535,
    help: "port on 127.0.0.1 (0: any free one)",
  },
  backend: {
    type: "string",
    choices: Object.keys(backends),
    help: `which system call waits (default: the best here, ${availableSelectors[0]})`,
  },
  "idle-timeout": {
    type: "integer",
    default: 30_000,
    min: 1,
    max: 3_600_000,
    help: "ms a request may take to arrive whole, counted from its start",
  },
  "until-stdin-closes": {
    type: "boolean",
    help: "also stop when stdin closes (how the c10k client stops a server it started)",
  },
});

const fdsBefore = openFds();

const name = (args.backend ?? availableSelectors[0]) as keyof typeof backends;
let loop: EventLoop;
try {
  loop = new EventLoop(new backends[name]());
} catch (error) {
  console.error(`c10k-server: ${(error as Error).message}`);
  process.exit(2);
}
const server = new HttpServer(loop, hello, {
  host: "127.0.0.1",
  port: args.port,
  idleTimeoutMs: args["idle-timeout"],
  log: (line) => console.error(`c10k-server: ${line}`),
});
const [host, port] = server.address;

// Shutdown is a parameter: SIGINT (Ctrl-C), SIGTERM, or the parent closing our stdin abort this.
// The signals arrive through the loop (a self-pipe): Node's own process.on("SIGTERM") handlers
// cannot run while the loop sleeps in epoll_wait.
const stop = new AbortController();
let why = "";
const stopFor = (reason: string) => () => {
  why ||= reason;
  stop.abort();
};
loop.addSignalHandler(SIGINT, stopFor("SIGINT"));
loop.addSignalHandler(SIGTERM, stopFor("SIGTERM"));
if (args["until-stdin-closes"]) {
  // Readable means a byte or the end of file; a parent that dies closes the pipe either way.
  loop.addReader(0, () => {
    if (read(0, 64).length === 0) {
      loop.removeReader(0);
      stopFor("stdin closed")();
    }
  });
}

console.log(
  `c10k server: listening on http://${host}:${port}/ (${loop.selector.name}, pid ${getpid()})`,
);
const stats = await loop.run(server.serve(stop.signal));
if (args["until-stdin-closes"]) loop.removeReader(0);
loop.close();
console.log(`c10k server: stopped (${why}): stopped accepting, closed idle connections`);
for (const line of accounting(stats)) console.log(`  ${line}`);
console.log(`  fds left open: ${openFds() - fdsBefore}`);
