// The same server written the way a Node programmer would write it: node:net, a 'data' event per
// read, closures per connection, libuv underneath. It parses with the same RequestParser and
// answers with the same handler and buildResponse as server.ts, so that `pnpm run bench:c10k`
// compares the two event loops and what each keeps per connection, not two HTTP implementations.
//
// Run: pnpm run c10k-node-server [--port N] [--idle-timeout MS]
import { createServer, type Socket } from "node:net";
import {
  NEED_DATA,
  PAUSED,
  ProtocolError,
  RequestParser,
  buildResponse,
  startLesson,
  type RequestEvent,
} from "@async-from-scratch/shared";
import { hello } from "./hello.ts";

const args = startLesson("c10k-node-server", {
  port: { type: "integer", default: 8081, min: 0, max: 65535, help: "port on 127.0.0.1 (0: any)" },
  "idle-timeout": {
    type: "integer",
    default: 30_000,
    min: 1,
    max: 3_600_000,
    help: "ms a connection may stay silent",
  },
  "until-stdin-closes": { type: "boolean", help: "also stop when stdin closes" },
});

const sockets = new Set<Socket>();
let accepted = 0;
let requests = 0;
let date = { second: -1, text: "" };

const server = createServer({ noDelay: true }, (socket) => {
  accepted++;
  sockets.add(socket);
  const parser = new RequestParser({ maxBodyBytes: 64 * 1024 });
  let head: RequestEvent | null = null;
  let body: Uint8Array[] = [];
  let closing = false;
  // Node's timeout runs from the last byte either way: the simple way a Node server is written.
  socket.setTimeout(args["idle-timeout"], () => socket.destroy());
  socket.on("data", (chunk) => {
    if (closing) return; // answered and ending: what comes now is read and dropped
    parser.receiveData(chunk);
    answer();
  });
  socket.on("end", () => {
    if (closing) return;
    parser.receiveData(new Uint8Array(0));
    answer();
  });
  socket.on("error", () => socket.destroy()); // a reset: nothing to tell anyone
  socket.on("close", () => sockets.delete(socket));
  // Node buffers whatever write() is given; pausing while it is over its highWaterMark is the
  // queued-bytes cap that server.ts has.
  socket.on("drain", () => {
    if (!closing) socket.resume();
  });

  function answer(): void {
    for (;;) {
      let event;
      try {
        event = parser.nextEvent();
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        closing = true;
        const status = error.statusHint;
        socket.end(respond(status, `${status} ${error.message}\n`, undefined, true));
        return;
      }
      if (event === NEED_DATA) return;
      if (event === PAUSED) {
        if (parser.mustClose) {
          closing = true;
          socket.end();
          return;
        }
        parser.startNextCycle();
        continue;
      }
      if (event.type === "request") {
        head = event;
        body = [];
      } else if (event.type === "data") {
        body.push(event.data);
      } else {
        requests++;
        const { method, target, httpVersion, headers } = head!;
        const reply = hello({ method, target, httpVersion, headers, body: Buffer.concat(body) });
        const bytes = respond(reply.status, reply.body, reply.headers, parser.mustClose, head!);
        if (!socket.write(bytes)) socket.pause();
      }
    }
  }
});

function respond(
  status: number,
  body: string | Uint8Array | undefined,
  headers: Record<string, string> = { "Content-Type": "text/plain; charset=utf-8" },
  close: boolean,
  request?: RequestEvent,
): Uint8Array {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== date.second) date = { second, text: new Date(now).toUTCString() };
  return buildResponse(status, { headers: { Date: date.text, ...headers }, body, close, request });
}

let stopped = false;
function stop(why: string): void {
  if (stopped) return;
  stopped = true;
  server.close();
  process.stdin.destroy();
  for (const socket of sockets) socket.destroy();
  console.log(`node net server: stopped (${why})`);
  console.log(`  accepted ${accepted} connections, ${requests} requests`);
}

process.once("SIGINT", () => stop("SIGINT"));
process.once("SIGTERM", () => stop("SIGTERM"));
if (args["until-stdin-closes"]) process.stdin.on("end", () => stop("stdin closed")).resume();

server.listen({ host: "127.0.0.1", port: args.port, backlog: 4096 }, () => {
  const { port } = server.address() as { port: number };
  console.log(
    `node net server: listening on http://127.0.0.1:${port}/ (libuv, pid ${process.pid})`,
  );
});
