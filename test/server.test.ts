// The HTTP server core (shared/server.ts) over real sockets on 127.0.0.1: the server and its test
// clients share one loop in this process, so every test is one thread, with no timing races
// between processes. Then the server program (examples/c10k/server.ts) in a process of its own:
// SIGTERM's graceful shutdown, and EMFILE under a low `ulimit -n`.
import { spawn } from "node:child_process";
import { isIP } from "node:net";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  AF_INET,
  AF_INET6,
  BlockingIOError,
  ConnectionResetError,
  SOL_SOCKET,
  SO_RCVBUF,
  SelectSelector,
  Socket,
  type BaseSelector,
} from "@async-from-scratch/native";
import { NEED_DATA, PAUSED, ResponseParser, type ResponseEvent } from "@async-from-scratch/shared";
import { EventLoop } from "@async-from-scratch/shared/loop";
import {
  HttpServer,
  type Handler,
  type ServerOptions,
  type ServerStats,
} from "@async-from-scratch/shared/server";
import { cpuMs, openFds, startServer } from "../examples/c10k/common.ts";
import { root } from "./lessons.ts";
import { testOrSkip, whyNoIPv6 } from "./skips.ts";

const ok: Handler = (request) => ({
  status: 200,
  headers: { "Content-Type": "text/plain" },
  body: `${request.method} ${request.target} ${request.body.length}\n`,
});

interface Reply {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** A client on the test's loop: sends bytes, reads whole responses, then the end. */
class Client {
  readonly parser = new ResponseParser();
  readonly loop: EventLoop;
  readonly sock: Socket;

  private constructor(loop: EventLoop, sock: Socket) {
    this.loop = loop;
    this.sock = sock;
  }

  static async connect(
    loop: EventLoop,
    port: number,
    receiveBuffer?: number,
    host = "127.0.0.1",
  ): Promise<Client> {
    const sock = new Socket(isIP(host) === 6 ? AF_INET6 : AF_INET);
    sock.setBlocking(false);
    if (receiveBuffer !== undefined) sock.setsockopt(SOL_SOCKET, SO_RCVBUF, receiveBuffer);
    try {
      await loop.connect(sock, [host, port]);
    } catch (error) {
      sock.close();
      throw error;
    }
    return new Client(loop, sock);
  }

  send(bytes: string | Uint8Array): Promise<void> {
    const data = typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes;
    return this.loop.sendAll(this.sock, data);
  }

  private answered = false; // the parser has ended a response, and waits for the next cycle

  /** The next whole response, to a request sent with `method`. */
  async response(method = "GET"): Promise<Reply> {
    if (this.answered) this.parser.startNextCycle(method);
    this.answered = false;
    let head: ResponseEvent | null = null;
    const body: Uint8Array[] = [];
    for (;;) {
      const event = this.parser.nextEvent();
      if (event === NEED_DATA) {
        this.parser.receiveData(await this.recv());
        continue;
      }
      if (event === PAUSED) throw new Error("PAUSED before a response");
      if (event.type === "response") head = event;
      else if (event.type === "data") body.push(event.data);
      else {
        this.answered = true;
        const text = Buffer.concat(body).toString();
        return { status: head!.status, headers: head!.headers, body: text };
      }
    }
  }

  /** Reads until the server closes: "eof" when it closes cleanly, "reset" when it resets. */
  async end(): Promise<"eof" | "reset"> {
    try {
      while ((await this.recv()).length > 0);
      return "eof";
    } catch (error) {
      if (error instanceof ConnectionResetError) return "reset";
      throw error;
    }
  }

  private recv(): Promise<Buffer> {
    return this.loop.withTimeout(5000, (signal) => this.loop.recv(this.sock, 65536, signal));
  }

  close(): void {
    this.sock.close();
  }
}

/**
 * Runs body against a server on a fresh loop, then shuts the server down and checks the final
 * accounting: every connection accepted is closed, for one reason each, and no fd is left open.
 */
async function withServer(
  handlerFor: (loop: EventLoop) => Handler, // a handler that may wait on the server's loop
  options: ServerOptions,
  body: (loop: EventLoop, port: number, server: HttpServer, stop: () => void) => Promise<void>,
  selector?: BaseSelector,
): Promise<{ stats: ServerStats; logs: string[] }> {
  const fdsBefore = openFds();
  const logs: string[] = [];
  const loop = new EventLoop(selector);
  const server = new HttpServer(loop, handlerFor(loop), {
    ...options,
    log: (line) => logs.push(line),
  });
  const stop = new AbortController();
  let stats!: ServerStats;
  try {
    await loop.run(
      (async () => {
        const serving = server.serve(stop.signal);
        try {
          await body(loop, server.address[1], server, () => stop.abort());
        } finally {
          stop.abort();
          stats = await serving;
        }
      })(),
    );
  } finally {
    loop.close();
  }
  const ends = Object.values(stats.closed).reduce((sum, count) => sum + count, 0);
  assert.is(stats.open, 0, "nothing open after shutdown");
  assert.is(ends, stats.accepted, `every connection closed once: ${JSON.stringify(stats)}`);
  assert.is(openFds(), fdsBefore, "no fd left open");
  return { stats, logs };
}

test("GET, HEAD, a body, keep-alive, HTTP/1.0: answered as the handler says, with Date", async () => {
  const { stats } = await withServer(
    () => ok,
    {},
    async (loop, port) => {
      const client = await Client.connect(loop, port);
      await client.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
      const first = await client.response();
      assert.is(first.status, 200);
      assert.is(first.body, "GET /a 0\n");
      assert.match(first.headers.get("date")!, / GMT$/);
      assert.not.ok(first.headers.has("connection"), "HTTP/1.1 stays open without saying so");
      await client.send("HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n");
      const head = await client.response("HEAD");
      assert.is(head.headers.get("content-length"), "10"); // of the body the handler gave
      assert.is(head.body, "");
      // A body on GET is read and handed over like any other, and the connection goes on.
      await client.send("GET /c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
      assert.is((await client.response()).body, "GET /c 5\n");
      await client.send("GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      const last = await client.response();
      assert.is(last.headers.get("connection"), "close");
      assert.is(await client.end(), "eof");
      client.close();

      const old = await Client.connect(loop, port);
      await old.send("GET /e HTTP/1.0\r\n\r\n");
      assert.is((await old.response()).headers.get("connection"), "close");
      assert.is(await old.end(), "eof");
      old.close();

      const kept = await Client.connect(loop, port);
      await kept.send("GET /f HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /g HTTP/1.0\r\n\r\n");
      assert.is((await kept.response()).headers.get("connection"), "keep-alive");
      assert.is((await kept.response()).body, "GET /g 0\n");
      assert.is(await kept.end(), "eof");
      kept.close();
    },
  );
  assert.is(stats.requests, 7);
  assert.is(stats.closed.afterClose, 2 + 1);
});

testOrSkip(await whyNoIPv6())(
  "host ::1: an AF_INET6 listener, and [::1] connects to it",
  async () => {
    await withServer(
      () => ok,
      { host: "::1" },
      async (loop, port, server) => {
        assert.equal(server.address, ["::1", port]);
        const client = await Client.connect(loop, port, undefined, "::1");
        await client.send("GET /six HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n");
        assert.is((await client.response()).body, "GET /six 0\n");
        client.close();
      },
    );
  },
);

test("bad input gets the parser's statusHint, then only that connection closes", async () => {
  const cases: [string, string | Buffer][] = [
    ["400", "BAD\r\n\r\n"],
    ["400", Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])], // a TLS hello on a plain port
    ["400", "GET / HTTP/1.1\r\n\r\n"], // no Host
    ["505", "GET / HTTP/2.0\r\nHost: x\r\n\r\n"],
    ["414", `GET /${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`],
    ["431", `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(20_000)}\r\n\r\n`],
    ["413", `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n${"c".repeat(100_000)}`],
    ["501", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"],
  ];
  const { stats } = await withServer(
    () => ok,
    { maxBodyBytes: 1000 },
    async (loop, port) => {
      const bystander = await Client.connect(loop, port);
      await bystander.send("GET /before HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.is((await bystander.response()).status, 200);
      for (const [status, bytes] of cases) {
        const client = await Client.connect(loop, port);
        await client.send(bytes);
        const reply = await client.response();
        assert.is(String(reply.status), status, `${reply.status} ${reply.body}`);
        assert.is(reply.headers.get("connection"), "close");
        assert.match(reply.body, new RegExp(`^${status} `));
        // The client sent more than the server read (the rest of a huge header, a body): the
        // server's lingering close lets the answer arrive whole, ending with a clean EOF.
        assert.is(await client.end(), "eof", `status ${status}`);
        client.close();
      }
      await bystander.send("GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.is((await bystander.response()).body, "GET /after 0\n");
      bystander.close();
    },
  );
  assert.is(stats.closed.badRequest, cases.length);
  for (const status of ["400", "413", "414", "431", "501", "505"]) {
    assert.ok(stats.responses.get(Number(status))! >= 1, `answered ${status}`);
  }
});

test("pipelined requests are answered in order, also when an async handler finishes out of order", async () => {
  // Earlier requests take longer: /3 would be ready first if nothing kept the order. The handler
  // waits on the server's loop: Node's own setTimeout would not fire while the loop sleeps.
  const slow = (loop: EventLoop) => {
    const handler: Handler = async (request) => {
      await loop.sleep((4 - Number(request.target.slice(1))) * 15);
      return ok(request);
    };
    return handler;
  };
  for (const handlerFor of [() => ok, slow]) {
    await withServer(handlerFor, {}, async (loop, port) => {
      const client = await Client.connect(loop, port);
      const requests = [1, 2, 3].map((n) => `GET /${n} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await client.send(requests.join(""));
      for (const n of [1, 2, 3]) assert.is((await client.response()).body, `GET /${n} 0\n`);
      client.close();
    });
  }
});

test("a handler that throws or returns junk costs a 500, and the connection lives on", async () => {
  const handler: Handler = (request) => {
    if (request.target === "/throw") throw new Error("boom");
    if (request.target === "/junk") return null as never;
    if (request.target === "/bad-status") return { status: 999 };
    return ok(request);
  };
  const { logs } = await withServer(
    () => handler,
    {},
    async (loop, port) => {
      const client = await Client.connect(loop, port);
      for (const target of ["/throw", "/junk", "/bad-status", "/fine"]) {
        await client.send(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
        const reply = await client.response();
        assert.is(reply.status, target === "/fine" ? 200 : 500, target);
      }
      client.close();
    },
  );
  assert.ok(
    logs.some((line) => /boom/.test(line)),
    logs.join("\n"),
  );
});

test("slowloris: a client that drips its head is closed at the idle timeout all the same", async () => {
  const { stats } = await withServer(
    () => ok,
    { idleTimeoutMs: 200 },
    async (loop, port) => {
      const busy = await Client.connect(loop, port); // asks every 50 ms: never timed out
      const idle = await Client.connect(loop, port); // asks once, then says nothing
      const started = loop.time();
      const drip = await Client.connect(loop, port); // a CRLF every 20 ms, never a request
      await idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      await idle.response();
      let dripping = true;
      void (async () => {
        try {
          while (dripping) {
            await drip.send("\r\n");
            await loop.sleep(20);
          }
        } catch {
          // the server closed it: the point of the test
        }
      })();
      for (let i = 0; i < 8; i++) {
        await busy.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert.is((await busy.response()).status, 200);
        await loop.sleep(50);
      }
      assert.is(await drip.end(), "eof");
      const dripMs = loop.time() - started;
      dripping = false;
      assert.ok(dripMs >= 190 && dripMs < 1500, `the drip was closed after ${dripMs} ms`);
      assert.is(await idle.end(), "eof");
      for (const client of [busy, idle, drip]) client.close();
    },
  );
  assert.is(stats.closed.timedOut, 2);
  assert.is(stats.closed.byClient, 1, "the busy one lived until it closed");
});

test("a client that resets mid-request costs only its own connection", async () => {
  const { stats } = await withServer(
    () => ok,
    {},
    async (loop, port) => {
      const rude = await Client.connect(loop, port);
      await rude.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      await loop.sleep(20); // the answer arrives, and is never read
      await rude.send("GET /half HTTP/1.1\r\nHo");
      rude.close(); // unread bytes: the kernel sends a reset, not a FIN
      await loop.sleep(20);
      const polite = await Client.connect(loop, port);
      await polite.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.is((await polite.response()).body, "GET /next 0\n");
      polite.close();
    },
  );
  assert.is(stats.closed.reset, 1);
});

test("a client that never reads its answers: the queue stops at the cap, others are served", async () => {
  const big = Buffer.alloc(1024 * 1024, "x");
  const handler: Handler = () => ({ status: 200, body: big });
  const REQUESTS = 50; // 50 MiB of answers, far more than the kernel's buffers hold
  const { stats } = await withServer(
    () => handler,
    { idleTimeoutMs: 2000, maxQueuedBytes: 64 * 1024 },
    async (loop, port, server) => {
      const stalled = await Client.connect(loop, port, 4096);
      await stalled.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(REQUESTS));
      await loop.sleep(100);
      const answered = server.stats.requests;
      assert.ok(answered < REQUESTS / 2, `${answered} of ${REQUESTS} answered, unread`);
      const other = await Client.connect(loop, port);
      const started = loop.time();
      await other.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.is((await other.response()).body.length, big.length);
      // Had it waited behind the stalled client, it would have waited for its timeout.
      assert.ok(loop.time() - started < 1500, "served at once, beside the stalled client");
      other.close();
      // No write progress for idleTimeoutMs: the stalled connection is closed.
      await loop.sleep(2500);
      assert.is(server.stats.closed.timedOut, 1);
      assert.ok(server.stats.requests < REQUESTS / 2, "it never read the rest");
      stalled.close();
    },
  );
  assert.is(stats.closed.timedOut, 1);
});

test("shutdown: idle connections close at once, an answer in flight finishes first", async () => {
  let release = () => {};
  const handler: Handler = (request) => {
    if (request.target !== "/slow") return ok(request);
    return new Promise((resolve) => (release = () => resolve(ok(request))));
  };
  const { stats } = await withServer(
    () => handler,
    {},
    async (loop, port, _server, stop) => {
      const idle = await Client.connect(loop, port);
      await idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      await idle.response();
      const slow = await Client.connect(loop, port);
      await slow.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
      await loop.sleep(20); // the request is in the handler's hands
      stop();
      assert.is(await idle.end(), "eof", "the idle one is closed at once");
      release();
      const answer = await slow.response();
      assert.is(answer.status, 200, "the one in flight is answered");
      assert.is(answer.headers.get("connection"), "close");
      assert.is(await slow.end(), "eof");
      try {
        await Client.connect(loop, port);
        assert.unreachable("nothing listens any more");
      } catch (error) {
        assert.is((error as { code?: string }).code, "ECONNREFUSED");
      }
      slow.close();
      idle.close();
    },
  );
  assert.is(stats.requests, 2);
  assert.is(stats.closed.shutdown, 2);
  // A handler that never answers is cut off when graceMs ends.
  const hung: Handler = () => new Promise(() => {});
  const started = performance.now();
  const { stats: cut } = await withServer(
    () => hung,
    { graceMs: 100 },
    async (loop, port, _s, stop) => {
      const client = await Client.connect(loop, port);
      await client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      await loop.sleep(20);
      stop();
      assert.is(await client.end(), "eof");
      client.close();
    },
  );
  assert.is(cut.closed.shutdown, 1);
  assert.ok(performance.now() - started < 3000);
});

test("on select(), a connection past FD_SETSIZE is closed at once and accepting pauses", async () => {
  // Fill the fds below 1024 first, so that the next accepted connection lands past them.
  const { stats, logs } = await withServer(
    () => ok,
    {},
    async (loop, port) => {
      const filler: Socket[] = [];
      const client = new Socket();
      try {
        while (filler.length === 0 || filler.at(-1)!.fileno() < 1024) filler.push(new Socket());
        client.setBlocking(false);
        try {
          client.connect(["127.0.0.1", port]); // on loopback the handshake ends at once
        } catch (error) {
          if (!(error instanceof BlockingIOError)) throw error;
        }
        await loop.sleep(200);
        client.setBlocking(true);
        assert.is(client.recv(100).length, 0, "the server closed it");
      } finally {
        for (const sock of [client, ...filler]) sock.close();
      }
    },
    new SelectSelector(),
  );
  assert.is(stats.closed.refused, 1);
  assert.ok(stats.acceptPauses >= 1);
  assert.is(logs.length, 1, logs.join("\n"));
  assert.match(logs[0]!, /FD_SETSIZE \(1024\); fd \d+ needs poll or epoll: not accepting for/);
});

test("server.ts: SIGTERM stops accepting, closes every connection, prints the accounting", async () => {
  const server = await startServer("./server.ts", []);
  const clients = [new Socket(), new Socket(), new Socket()];
  for (const client of clients) client.connect(["127.0.0.1", server.port]);
  clients[0]!.sendAll(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  let reply = "";
  while (!reply.endsWith("connections.\n")) reply += clients[0]!.recv(4096).toString();
  clients[1]!.sendAll(Buffer.from("GET / HTTP/1.1\r\nHo")); // half a request
  const output = await server.stop();
  for (const client of clients) {
    assert.is(client.recv(4096).length, 0, "the server closed it");
    client.close();
  }
  assert.match(output, /stopped \(SIGTERM\)/);
  assert.match(output, /connections accepted: 3, at most 3 open at once/);
  assert.match(output, /requests: 1; answered: 1 x 200/);
  assert.match(output, /accepted 3 = closed 3 \+ open 0/);
  assert.match(output, /fds left open: 0\n/);
});

test("server.ts out of fds: says so once, stops accepting for a while, never spins or dies", async () => {
  // `ulimit -n 64` lowers both limits for the server alone; Node and tsx keep ~20 of them.
  const node = JSON.stringify(process.execPath);
  const file = JSON.stringify(join(root, "examples", "c10k", "server.ts"));
  const child = spawn(
    "sh",
    ["-c", `ulimit -n 64 && exec ${node} --import tsx ${file} --port 0 --until-stdin-closes`],
    { cwd: root, stdio: ["pipe", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  try {
    while (!/listening on .*:(\d+)\//.test(stdout)) {
      await sleep(50);
    }
    const port = Number(/listening on .*:(\d+)\//.exec(stdout)![1]);
    // 60 connections wait in the backlog: the server can take only 40 or so of them.
    const clients = Array.from({ length: 60 }, () => {
      const sock = new Socket();
      sock.connect(["127.0.0.1", port]);
      sock.sendAll(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      sock.setBlocking(false);
      return sock;
    });
    const answered = new Set<Socket>();
    const collect = () => {
      for (const sock of clients) {
        if (answered.has(sock)) continue;
        try {
          if (sock.recv(4096).length > 0) answered.add(sock);
        } catch (error) {
          if (!(error instanceof BlockingIOError)) throw error;
        }
      }
    };
    await sleep(1000);
    // Paused, not spinning: the server's CPU time over a second of waiting stays small.
    const cpuBefore = cpuMs(child.pid!);
    await sleep(1000);
    const cpuUsed = cpuMs(child.pid!) - cpuBefore;
    assert.ok(cpuUsed < 300, `${cpuUsed} ms of CPU in a second of waiting for fds`);
    collect();
    assert.ok(answered.size > 10 && answered.size < 60, `${answered.size} answered`);
    // Free fds: the server accepts again, and answers the rest.
    for (const sock of answered) sock.close();
    for (let tries = 0; answered.size < 60 && tries < 100; tries++) {
      await sleep(100);
      collect();
    }
    assert.is(answered.size, 60, "every client answered once fds were free");
    for (const sock of clients) sock.close();
  } finally {
    child.stdin.end(); // --until-stdin-closes: the server stops
  }
  assert.is(await exited, 0, stderr);
  const said = stderr.match(/Too many open files/g) ?? [];
  assert.is(said.length, 1, `said once:\n${stderr}`);
  assert.match(stdout, /accept paused \d+ times \(out of fds\)/);
  assert.match(stdout, /accepted 60 = closed 60 \+ open 0/);
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

test.run();
