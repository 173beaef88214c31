// 1_bad_socket: a non-blocking socket in a busy loop. Nothing blocks, and yet the whole program
// waits, and burns a CPU core while it does.
//
// Lecture: "Плохой вариант неблокирующего сокета" (the lecture's 1_bad_socket.py).
// Builds on: the blocking fetch of "Как работать с сетью с помощью сокетов". One line changes:
//   sock.setBlocking(false), so connect, send and recv never wait; they throw BlockingIOError.
// Leaves out: anything useful to do between the attempts; we can only try again, which is the
//   lecture's point. The cure, sleeping until the kernel says the socket is ready, is
//   2_good_socket.
// Run: pnpm run 1_bad_socket [--url http://host:port/path] [--latency MS]
import { BlockingIOError, OSError, Socket } from "@async-from-scratch/native";
import {
  buildRequest,
  cpuVersusWall,
  describeResponse,
  openTarget,
  startClock,
  siteFlags,
  startLesson,
} from "@async-from-scratch/shared";

const args = startLesson("1_bad_socket", {
  ...siteFlags(500),
});
const target = await openTarget(args.url, { latencyMs: args.latency });
const url = target.url;
console.log(`fetching ${url.href} with a non-blocking socket and a busy loop`);

// The lecture's `while True: try: ... except OSError: pass`, plus a counter: call attempt again
// and again, at once, until it stops failing because the socket is not ready yet.
function retryUntilReady<T>(attempt: () => T): { result: T; failedAttempts: number } {
  for (let failedAttempts = 0; ; failedAttempts++) {
    try {
      return { result: attempt(), failedAttempts };
    } catch (error) {
      if (!notReadyYet(error)) throw error;
    }
  }
}

// BlockingIOError, or, from a send before the handshake has ended, ENOTCONN on macOS and the BSDs
// (Linux says EAGAIN, a BlockingIOError). Anything else (a refused connection) is a real error.
function notReadyYet(error: unknown): boolean {
  return (
    error instanceof BlockingIOError || (error instanceof OSError && error.code === "ENOTCONN")
  );
}

const readClock = startClock();
let allFailedAttempts = 0;

const sock = new Socket();
sock.setBlocking(false);
try {
  sock.connect([url.hostname, Number(url.port || 80)]);
} catch (error) {
  // EINPROGRESS: the kernel has sent the SYN and finishes the handshake without us.
  if (!(error instanceof BlockingIOError)) throw error;
  console.log(`connect: BlockingIOError (${error.code}), the handshake goes on without us`);
}

// Until the handshake ends, send fails too. send may also take only part of the request, so we
// loop until all of it is gone.
const request = buildRequest(url);
for (let sent = 0; sent < request.length;) {
  const { result, failedAttempts } = retryUntilReady(() => sock.send(request.subarray(sent)));
  sent += result;
  allFailedAttempts += failedAttempts;
  console.log(`send: ${result} bytes after ${failedAttempts} failed attempts`);
}

// The lecture's `recv(4096)` until the server closes. While the server thinks, every recv throws
// at once, and we ask again: that is the spin.
const chunks: Buffer[] = [];
for (;;) {
  const { result: chunk, failedAttempts } = retryUntilReady(() => sock.recv(4096));
  allFailedAttempts += failedAttempts;
  const eof = chunk.length === 0 ? ": end of file, the server closed" : "";
  console.log(`recv: ${chunk.length} bytes after ${failedAttempts} failed attempts${eof}`);
  if (chunk.length === 0) break;
  chunks.push(chunk);
}
sock.close();
const clock = readClock();
await target.close();

console.log(`response: ${describeResponse(Buffer.concat(chunks), url)}`);
console.log(
  `failed attempts in all: ${allFailedAttempts}, each a system call that returned at once`,
);
console.log(`${cpuVersusWall(clock)}: a core spun at full speed while we only waited`);
