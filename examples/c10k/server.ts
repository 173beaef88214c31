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
import { availableSelectors, getpid } from "@async-from-scratch/native";
import { startLesson } from "@async-from-scratch/shared";
import { EventLoop } from "@async-from-scratch/shared/loop";
import { HttpServer } from "@async-from-scratch/shared/server";
import { accounting, backends, fdsOpenedSince, openFdSet, stopSignal } from "./common.ts";
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

const fdsBefore = openFdSet();

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

// Shutdown is a parameter: Ctrl-C, SIGTERM, or the parent closing our stdin abort stop.signal.
// They arrive through the loop (a self-pipe), since Node's own signal handlers cannot run while
// the loop sleeps in epoll_wait (stopSignal, in c10k/common.ts).
const stop = stopSignal(loop, args["until-stdin-closes"] ?? false);

console.log(
  `c10k server: listening on http://${host}:${port}/ (${loop.selector.name}, pid ${getpid()})`,
);
const stats = await loop.run(server.serve(stop.signal));
stop.done();
loop.close();
console.log(`c10k server: stopped (${stop.why()}): stopped accepting, closed idle connections`);
for (const line of accounting(stats)) console.log(`  ${line}`);
console.log(`  fds left open: ${fdsOpenedSince(fdsBefore)}`);
