// The crawler's HTTP client against a server that answers as nginx does: which answers leave
// their connection for the next request, and which close it. nginx gzips its own 404 and 301
// pages, so they come chunked, without a Content-Length; each of them closed its connection once,
// and a crawl of the sqlite docs (426 links to pages not shipped) opened 428 connections for 1,185
// requests. The node engine, so that the server runs in this process.
import { type Server, createServer } from "node:http";
import {
  type AddressInfo,
  type Server as NetServer,
  type Socket,
  createServer as createNetServer,
} from "node:net";
import type { ResponseEvent } from "@async-from-scratch/shared";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { type Engine, createEngine } from "../examples/crawler/engine.ts";
import { Fetcher } from "../examples/crawler/fetcher.ts";

const test = suite("crawler-fetcher");

test("unwanted bodies: a small one is read and its connection kept, a large one closes it", async () => {
  const server = createServer((request, response) => {
    const chunked = (status: number, type: string, body: string) => {
      response.writeHead(status, { "Content-Type": type });
      response.write(body); // a write before end(): chunked, as a gzipped body is
      response.end();
    };
    if (request.url === "/page") chunked(200, "text/html", "<title>page</title>");
    else if (request.url === "/moved") {
      response.setHeader("Location", "/page");
      chunked(301, "text/html", "<h1>301 Moved Permanently</h1>");
    } else if (request.url === "/large.bin") {
      chunked(200, "application/octet-stream", "x".repeat(200 * 1024));
    } else if (request.url === "/sized.bin") {
      response.writeHead(200, { "Content-Type": "application/pdf", "Content-Length": 100 });
      response.end("%".repeat(100));
    } else chunked(404, "text/html", "<h1>404 Not Found</h1>");
  });
  await withFetcher(server, async (fetcher, base) => {
    // What the crawler wants (crawler.ts wantsBody): a 2xx in HTML.
    const html = (head: ResponseEvent) =>
      head.status === 200 && head.headers.get("content-type") === "text/html";
    const get = async (path: string) => {
      const fetched = await fetcher.fetch(new URL(base + path), AbortSignal.timeout(5000), html);
      return `${fetched.status} ${fetched.body === null ? "-" : new TextDecoder().decode(fetched.body)}`;
    };
    assert.is(await get("/missing"), "404 -");
    assert.is(await get("/moved"), "301 -");
    assert.is(await get("/sized.bin"), "200 -");
    assert.is(await get("/page"), "200 <title>page</title>");
    assert.is(fetcher.stats.connections, 1, "four answers, one connection");
    assert.is(fetcher.stats.reused, 3);

    const wantNothing = () => false;
    const large = await fetcher.fetch(
      new URL(`${base}/large.bin`),
      AbortSignal.timeout(5000),
      wantNothing,
    );
    assert.is(large.body, null);
    assert.ok(large.wireBytes < 150 * 1024, `${large.wireBytes} bytes read of 200 KiB not wanted`);
    assert.is(await get("/page"), "200 <title>page</title>");
    assert.is(fetcher.stats.connections, 2, "a new connection after the large body");
  });
});

test("an idle connection the server has closed is not used again", async () => {
  // A keep-alive timeout of 20 ms, as a server configured tight has one, and 100 ms between
  // our requests: the FIN is there when the second request is due.
  const server = createServer((request, response) => {
    response.end("<title>page</title>");
    setTimeout(() => request.socket.destroy(), 20);
  });
  await withFetcher(server, async (fetcher, base, engine) => {
    const url = new URL(`${base}/`);
    assert.is((await fetcher.fetch(url, AbortSignal.timeout(5000))).status, 200);
    await engine.sleep(100);
    assert.is((await fetcher.fetch(url, AbortSignal.timeout(5000))).status, 200);
    assert.equal(
      { ...fetcher.stats, wireBytes: 0 },
      { requests: 2, connections: 2, reused: 0, stale: 0, wireBytes: 0 },
      "two requests, one on each connection, none sent on the closed one",
    );
  });
});

test("a reset that came before the bytes ahead of it were read is a reset, not an end", async () => {
  // The head and 512 of 2048 body bytes, then a RST, in one turn of this process's loop: both are
  // there before the fetcher's first read, as with the fixture site's /reset when the crawl ran
  // late on a busy machine. A net.Socket read with 'data' and 'end' said 'end' here, every time
  // (shared/reads.ts says why); the scratch engine's recv() fails with ECONNRESET.
  const server = createServer((request) => {
    const head = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2048\r\n\r\n";
    request.socket.write(head + "x".repeat(512));
    request.socket.resetAndDestroy();
  });
  await withFetcher(server, async (fetcher, base) => {
    const failure = await fetcher.fetch(new URL(`${base}/reset`), AbortSignal.timeout(5000)).then(
      (fetched) => `fetched: ${fetched.status}`,
      (error: NodeJS.ErrnoException) => `${error.code}: ${error.message}`,
    );
    assert.match(failure, /^ECONNRESET: /);
  });
});

test("a connection that brought more body than its Content-Length is not used again", async () => {
  // A script that counted its page before something changed it: Content-Length says 12 bytes, 21
  // come. The other 9 would be the start of the next response on this connection, and fail the
  // next page ("bad status line: 's</title>HTTP/1.1 200 OK'"), which did nothing wrong.
  const raw = rawServer((path) => {
    const body = path === "/excess" ? "<title>excess</title>" : "<title>page</title>";
    const length = path === "/excess" ? 12 : body.length;
    return `HTTP/1.1 200 OK\r\nContent-Length: ${length}\r\n\r\n${body}`;
  });
  await withFetcher(
    raw.server,
    async (fetcher, base) => {
      assert.is(await get(fetcher, base, "/page"), "200 <title>page</title>");
      assert.is(await get(fetcher, base, "/excess"), "200 <title>exces", "as Content-Length says");
      assert.is(await get(fetcher, base, "/page"), "200 <title>page</title>");
      assert.equal(
        { ...fetcher.stats, wireBytes: 0 },
        { requests: 3, connections: 2, reused: 1, stale: 0, wireBytes: 0 },
        "the third request on a new connection",
      );
    },
    raw.closeConnections,
  );
});

test("a 408 on a kept-alive connection: the request goes again on a new one; on a new one, it is the answer", async () => {
  // A server that closes a connection it finds idle with a 408 (HAProxy does), just as our next
  // request arrives on it: the server never read that request.
  const raw = rawServer((path, nth) =>
    nth > 1 || path === "/slow"
      ? "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
      : "HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\n<title>page</title>",
  );
  await withFetcher(
    raw.server,
    async (fetcher, base) => {
      assert.is(await get(fetcher, base, "/a"), "200 <title>page</title>");
      assert.is(await get(fetcher, base, "/b"), "200 <title>page</title>");
      assert.equal(
        { ...fetcher.stats, wireBytes: 0 },
        { requests: 3, connections: 2, reused: 1, stale: 1, wireBytes: 0 },
        "/b sent again on a new connection",
      );
      fetcher.close(); // so that /slow goes on a new connection
      assert.is(await get(fetcher, base, "/slow"), "408 ");
      assert.is(fetcher.stats.requests, 4, "not sent again");
    },
    raw.closeConnections,
  );
});

/** The status and body of path, fetched. */
async function get(fetcher: Fetcher, base: string, path: string): Promise<string> {
  const fetched = await fetcher.fetch(new URL(base + path), AbortSignal.timeout(5000));
  return `${fetched.status} ${new TextDecoder().decode(fetched.body!)}`;
}

/**
 * A server that answers each request with the bytes `answer` gives for its path and its place on
 * its connection (1, 2, ...), as they are: a response node:http would never send.
 */
function rawServer(answer: (path: string, nth: number) => string) {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    let head = "";
    let nth = 0;
    socket.on("data", (data) => {
      head += data.toString("latin1");
      for (let end = head.indexOf("\r\n\r\n"); end !== -1; end = head.indexOf("\r\n\r\n")) {
        const path = head.split(" ")[1]!;
        head = head.slice(end + 4);
        const response = answer(path, ++nth);
        if (response.includes("Connection: close")) socket.end(response);
        else socket.write(response);
      }
    });
  });
  return { server, closeConnections: () => sockets.forEach((socket) => socket.destroy()) };
}

/** Runs `use` with a Fetcher on the node engine, against server on a free port; stops both. */
async function withFetcher(
  server: Server | NetServer,
  use: (fetcher: Fetcher, base: string, engine: Engine) => Promise<void>,
  closeConnections = () => (server as Server).closeAllConnections(),
): Promise<void> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const engine = createEngine("node");
  try {
    await engine.run(async () => {
      const fetcher = new Fetcher(engine, {
        timeoutMs: 5000,
        maxBodyBytes: 1 << 20,
        userAgent: "test",
      });
      try {
        await use(fetcher, base, engine);
      } finally {
        fetcher.close();
      }
    });
  } finally {
    await engine.close();
    closeConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test.run();
