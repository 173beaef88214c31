// The fixture site's two ways to make a client's socket not writable (shared/site/busy.ts): the
// busy port, whose full accept queue makes a handshake wait for a SYN retransmission, and
// /upload, which reads a body only after the latency, so that the client's send buffer fills.
import { BlockingIOError, Socket } from "@async-from-scratch/native";
import { ACCEPT_DELAY_MS, startSite, type RunningSite } from "@async-from-scratch/shared/site";
import { suite } from "uvu";
import * as assert from "uvu/assert";

const LATENCY_MS = 200;
const test = suite<{ site: RunningSite }>("site: busy port and upload", { site: undefined! });

test.before(async (context) => {
  context.site = await startSite({ latencyMs: LATENCY_MS, articles: 5 });
});

test.after(async ({ site }) => {
  await site.stop();
});

/** Sends all of data on a non-blocking socket, retrying; returns the failed attempts and ms. */
function sendSpinning(sock: Socket, data: Uint8Array): { failed: number; ms: number } {
  const start = performance.now();
  let failed = 0;
  for (let sent = 0; sent < data.length;) {
    try {
      sent += sock.send(data.subarray(sent));
    } catch (error) {
      if (!(error instanceof BlockingIOError)) throw error;
      failed++;
    }
  }
  return { failed, ms: performance.now() - start };
}

function readAll(sock: Socket): string {
  sock.setBlocking(true);
  const chunks: Buffer[] = [];
  for (let chunk = sock.recv(65536); chunk.length > 0; chunk = sock.recv(65536)) chunks.push(chunk);
  return Buffer.concat(chunks).toString("latin1");
}

test("the busy port: the first client gets in at once, the next one a SYN retransmission later", async ({
  site,
}) => {
  const first = new Socket();
  const start = performance.now();
  first.connect(["127.0.0.1", site.busyPort]); // the queue has room for one
  const firstMs = performance.now() - start;
  const second = new Socket();
  second.setBlocking(false);
  try {
    second.connect(["127.0.0.1", site.busyPort]);
  } catch (error) {
    if (!(error instanceof BlockingIOError)) throw error;
  }
  const request = Buffer.from("GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  const { ms } = sendSpinning(second, request);
  assert.ok(firstMs < 200, `the first handshake took ${firstMs} ms`);
  assert.ok(ms >= 700, `the second handshake took ${ms} ms: its first SYN was dropped`);
  // Then the site serves it like any other connection, after the accept delay and the latency.
  const response = readAll(second);
  assert.ok(response.startsWith("HTTP/1.1 200 OK\r\n"), response.slice(0, 100));
  assert.ok(performance.now() - start >= ms + ACCEPT_DELAY_MS + LATENCY_MS * 0.8);
  first.close();
  second.close();
});

test("/upload reads the body only after the latency, so a large one fills the buffers", async ({
  site,
}) => {
  const size = 16 * 1024 * 1024;
  const sock = new Socket();
  sock.connect(["127.0.0.1", site.port]);
  sock.setBlocking(false);
  const head = `POST /upload HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: ${size}\r\n\r\n`;
  const { failed, ms } = sendSpinning(
    sock,
    Buffer.concat([Buffer.from(head), Buffer.alloc(size, "x")]),
  );
  assert.ok(ms >= LATENCY_MS / 2 && failed > 0, `sent in ${ms} ms after ${failed} failures`);
  const response = readAll(sock);
  assert.ok(response.startsWith("HTTP/1.1 200 OK\r\n"), response.slice(0, 100));
  assert.ok(response.endsWith(`\r\n\r\nreceived ${size} bytes\n`), response);
  sock.close();
});

test("/upload of nothing says so", async ({ site }) => {
  const sock = new Socket();
  sock.connect(["127.0.0.1", site.port]);
  sock.sendAll(Buffer.from("GET /upload?latency=0 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"));
  assert.ok(readAll(sock).endsWith("\r\n\r\nreceived 0 bytes\n"));
  sock.close();
});

test("stop() ends the site while a connection still waits in the busy port's queue", async () => {
  const site = await startSite({ articles: 1 });
  const waiting = new Socket();
  waiting.connect(["127.0.0.1", site.busyPort]); // queued; the site would accept it 300 ms later
  const start = performance.now();
  await site.stop();
  waiting.close();
  assert.ok(performance.now() - start < 5000, "stopped");
});

test.run();
