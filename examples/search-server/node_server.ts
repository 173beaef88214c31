// The same search server on node:http, for bench:search-server: the same index, the same handler
// (app.ts), the same answers, served by Node's own HTTP server on libuv, as a Node programmer
// would write it. What differs from main.ts is the HTTP server and the event loop under it; so
// the benchmark compares those, not two applications.
//
// Run: pnpm run search-server-node [--index DIR] [--port N]
import { createServer } from "node:http";
import { startLesson } from "@async-from-scratch/shared";
import { DEFAULT_INDEX_DIR, Index, SearchIndexError } from "@async-from-scratch/shared/search";
import { searchApp } from "./app.ts";

const args = startLesson("search-server-node", {
  index: {
    type: "string",
    placeholder: "DIR",
    help: "the index the crawler wrote (default out/index in the project)",
  },
  port: { type: "integer", default: 8001, min: 0, max: 65535, help: "port on 127.0.0.1 (0: any)" },
  "until-stdin-closes": { type: "boolean", help: "also stop when stdin closes" },
});

let index: Index;
try {
  index = Index.open(args.index ?? DEFAULT_INDEX_DIR);
} catch (error) {
  if (!(error instanceof SearchIndexError)) throw error;
  console.error(`search-server-node: ${error.message}`);
  process.exit(1);
}
const app = searchApp(index);
let requests = 0;

const server = createServer({ noDelay: true }, (req, res) => {
  const body: Buffer[] = [];
  req.on("data", (chunk: Buffer) => body.push(chunk));
  req.on("end", () => {
    requests++;
    // Node joins repeated fields with ", " and lower-cases the names, as the RequestParser does.
    const headers = new Map<string, string>();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    }
    let reply;
    try {
      reply = app({
        method: req.method!,
        target: req.url!,
        httpVersion: req.httpVersion,
        headers,
        body: Buffer.concat(body),
      });
    } catch (error) {
      console.error(`search-server-node: the handler failed: ${String(error)}`);
      reply = { status: 500, body: "500 internal server error\n" };
    }
    // node:http writes Content-Length (the body is given whole), Date and Connection, and sends
    // no body to HEAD: what our HttpServer does.
    res.writeHead(reply.status, reply.headers);
    res.end(reply.body);
  });
});
// Keep-alive as long as ours: Node closes an idle connection after 5 s by default.
server.keepAliveTimeout = 30_000;

let stopped = false;
function stop(why: string): void {
  if (stopped) return;
  stopped = true;
  server.close();
  server.closeAllConnections();
  process.stdin.destroy();
  index.close();
  console.log(`search-server-node: stopped (${why}): ${requests} requests`);
}

process.once("SIGINT", () => stop("SIGINT"));
process.once("SIGTERM", () => stop("SIGTERM"));
if (args["until-stdin-closes"]) process.stdin.on("end", () => stop("stdin closed")).resume();

server.listen({ host: "127.0.0.1", port: args.port, backlog: 4096 }, () => {
  const { port } = server.address() as { port: number };
  console.log(
    `search-server-node: listening on http://127.0.0.1:${port}/ (node:http, libuv, pid ${process.pid})`,
  );
});
