// 1_bad_socket: a non-blocking socket in a busy loop. Nothing blocks, and yet the whole program
// waits, and burns a CPU core while it does: on send, when the socket is not writable yet, and on
// recv, when nothing has come yet.
//
// Lecture: "Плохой вариант неблокирующего сокета" (the lecture's 1_bad_socket.py): a socket is not
//   writable while the TCP handshake is not over, or while the send buffer is full.
// Builds on: the blocking fetch of "Как работать с сетью с помощью сокетов". One line changes:
//   sock.setBlocking(false), so connect, send and recv never wait; they throw BlockingIOError.
// Leaves out: anything useful to do between the attempts; we can only try again, which is the
//   lecture's point. The cure, sleeping until the kernel says the socket is ready, is
//   2_good_socket.
// Run: pnpm run 1_bad_socket [--url http://host:port/path] [--latency MS]
import {
  BlockingIOError,
  OSError,
  SOL_SOCKET,
  SO_SNDBUF,
  Socket,
  type Address,
} from "@async-from-scratch/native";
import {
  buildRequest,
  cpuVersusWall,
  describeResponse,
  openTarget,
  parseResponse,
  siteFlags,
  startClock,
  startLesson,
  startThreadClock,
  threadVersusWall,
} from "@async-from-scratch/shared";
import { ACCEPT_DELAY_MS } from "@async-from-scratch/shared/site";

const args = startLesson("1_bad_socket", {
  ...siteFlags(500),
});
const target = await openTarget(args.url, { latencyMs: args.latency });
const url = target.url;
const address: Address = [url.hostname, Number(url.port || 80)];
console.log(`fetching ${url.href} with a non-blocking socket and a busy loop`);

// The lecture's `while True: try: ... except OSError: pass`, plus what the lesson prints: how many
// times the call failed because the socket was not ready yet, for how long, and with which code.
interface Retried<T> {
  result: T;
  failedAttempts: number;
  ms: number;
  code: string; // of the last failure: EAGAIN, or ENOTCONN for a send before the handshake on BSD
}
let allFailedAttempts = 0;
function retryUntilReady<T>(attempt: () => T): Retried<T> {
  const start = performance.now();
  let code = "";
  for (let failedAttempts = 0; ; failedAttempts++) {
    try {
      const result = attempt();
      allFailedAttempts += failedAttempts;
      return { result, failedAttempts, ms: performance.now() - start, code };
    } catch (error) {
      if (!notReadyYet(error)) throw error;
      code = error.code;
    }
  }
}

// BlockingIOError, or, from a send before the handshake has ended, ENOTCONN on macOS and the BSDs
// (Linux says EAGAIN, a BlockingIOError). Anything else (a refused connection) is a real error.
function notReadyYet(error: unknown): error is OSError {
  return (
    error instanceof BlockingIOError || (error instanceof OSError && error.code === "ENOTCONN")
  );
}

// "after 61374 failed attempts in 1003.2 ms (EAGAIN)". Where the count may well be 0 (the wait
// for the FIN), the code is left out, so that the line reads the same either way.
function waited({ failedAttempts, ms, code }: Retried<unknown>, showCode = true): string {
  const why = showCode && failedAttempts > 0 ? ` (${code})` : "";
  return `after ${failedAttempts} failed attempts in ${ms.toFixed(1)} ms${why}`;
}

// The lecture's non-blocking connect: it returns at once, and the handshake goes on without us.
function connect(to: Address): Socket {
  const sock = new Socket();
  sock.setBlocking(false);
  try {
    sock.connect(to);
  } catch (error) {
    // EINPROGRESS: the kernel has sent the SYN and finishes the handshake without us.
    if (!(error instanceof BlockingIOError)) throw error;
    console.log(`  connect: BlockingIOError (${error.code}), the handshake goes on without us`);
  }
  return sock;
}

// The lecture's `recv(4096)` until the server closes. While the server thinks, every recv throws
// at once, and we ask again: that is the spin. Then once more, after the data: the server's FIN,
// which ends the stream, is a packet of its own, sent only once the server has finished writing.
function receiveAll(sock: Socket, show: boolean): Buffer {
  const chunks: Buffer[] = [];
  for (;;) {
    const received = retryUntilReady(() => sock.recv(4096));
    const chunk = received.result;
    if (show && chunk.length > 0) console.log(`  recv: ${chunk.length} bytes ${waited(received)}`);
    if (show && chunk.length === 0) {
      console.log(`  recv: 0 bytes ${waited(received, false)}: end of file, the server's FIN came`);
    }
    if (chunk.length === 0) return Buffer.concat(chunks);
    chunks.push(chunk);
  }
}

const readClock = startClock();
// And what the kernel's scheduler saw this thread do meanwhile: see the last lines.
const readThreadClock = startThreadClock();

// ---- 1. not writable until the handshake is over -----------------------------------------------
// On loopback a handshake is over before connect() even returns, so the fixture site offers a
// busy port: its accept queue holds one connection, and the site accepts each one only 300 ms
// after it arrived. Another client's connection is waiting there already, so the kernel drops our
// SYN (a full queue gets no answer), and our kernel sends it again a second later. Until then
// every send throws. A --url site has no busy port: there the handshake takes what it takes.
const busyPort = target.busyPort;
console.log(
  busyPort === undefined
    ? `\n1. GET ${url.pathname}: a --url site has no busy port; the handshake takes what it takes`
    : `\n1. GET ${url.pathname} through the site's busy port, ${url.hostname}:${busyPort}`,
);
let otherClient: Socket | undefined;
if (busyPort !== undefined) {
  otherClient = new Socket();
  otherClient.connect([url.hostname, busyPort]); // blocking; the queue had room for this one
  console.log(`  another client waits in its accept queue, which the site empties only after`);
  console.log(`  ${ACCEPT_DELAY_MS} ms: until then the queue is full, and our SYN is dropped`);
}
const sock = connect(busyPort === undefined ? address : [url.hostname, busyPort]);
// send may also take only part of the request, so we loop until all of it is gone.
const request = buildRequest(url);
for (let sent = 0; sent < request.length;) {
  const sending = retryUntilReady(() => sock.send(request.subarray(sent)));
  sent += sending.result;
  console.log(`  send: ${sending.result} bytes ${waited(sending)}`);
}
if (busyPort !== undefined) {
  console.log(`    (not connected until our kernel sent the SYN again, a second after the first)`);
}
console.log(`  response: ${describeResponse(receiveAll(sock, true), url)}`);
sock.close();
otherClient?.close();

// ---- 2. not writable while the send buffer is full ---------------------------------------------
// A request bigger than the buffers between us and the site. send() copies into our socket's send
// buffer and returns; the kernel moves the bytes on into the site's receive buffer as fast as the
// site reads them. The fixture site's /upload reads only after its latency, so both buffers fill,
// and then every send throws until the site begins to read. (Any site that reads slowly does
// this; only the fixture site is known to, so a --url site is not sent 16 MiB.)
const UPLOAD_BYTES = 16 * 1024 * 1024;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
if (args.url !== undefined) {
  console.log(
    `\n2. no upload: only the fixture site is known to read it slowly, so a --url site is spared`,
  );
} else {
  const uploadUrl = new URL("/upload", url);
  console.log(
    `\n2. POST ${uploadUrl.pathname}: ${mib(UPLOAD_BYTES)}, which the site reads only after its ` +
      `${args.latency} ms latency`,
  );
  const uploader = new Socket();
  uploader.connect(address); // blocking, this time: only a full buffer can stop a send below
  uploader.setBlocking(false);
  const sendBuffer = uploader.getsockopt(SOL_SOCKET, SO_SNDBUF);
  const upload = Buffer.concat([
    buildRequest(uploadUrl, {
      method: "POST",
      headers: { "Content-Length": String(UPLOAD_BYTES) },
    }),
    Buffer.alloc(UPLOAD_BYTES, "x"),
  ]);
  let sent = 0;
  let atOnce = 0; // what the sends took before the first one failed
  let longest: Retried<number> | undefined;
  let calls = 0;
  let failedAttempts = 0;
  while (sent < upload.length) {
    const sending = retryUntilReady(() => uploader.send(upload.subarray(sent)));
    sent += sending.result;
    calls++;
    failedAttempts += sending.failedAttempts;
    if (failedAttempts === 0) atOnce = sent;
    if (longest === undefined || sending.ms > longest.ms) longest = sending;
  }
  console.log(
    `  send: ${mib(atOnce)} at once, into our send buffer (SO_SNDBUF ${mib(sendBuffer)}) ` +
      `and the site's receive buffer`,
  );
  console.log(
    `  send: the longest wait for room ended ${waited(longest!)}: the site began to read`,
  );
  console.log(
    `  send: ${mib(sent)} in all, in ${calls} calls, after ${failedAttempts} failed attempts`,
  );
  const response = parseResponse(receiveAll(uploader, false));
  const answer = new TextDecoder().decode(response.body).trim();
  console.log(`  response: ${response.status} ${response.reason}, "${answer}"`);
  uploader.close();
}

const clock = readClock();
const thread = readThreadClock();
await target.close();

console.log(
  `\nfailed attempts in all: ${allFailedAttempts}, each a system call that returned at once`,
);
console.log(`${cpuVersusWall(clock)}: a core spun while we only waited`);
// On a busy machine CPU time falls short of wall time: other programs get their turns. But the
// scheduler counts the time the thread waited for its turn (runnable) apart from the time it did
// not want a CPU at all (asleep). A blocking recv would have been asleep for all of its wait; the
// busy loop never is: it goes to sleep only a few times, each for a moment.
console.log(`our thread, as the kernel's scheduler saw it: ${threadVersusWall(thread)}`);
if (typeof thread !== "string") {
  console.log(`  it wanted a CPU all along, where a blocking call would have slept`);
}
