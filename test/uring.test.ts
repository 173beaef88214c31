// The native module's count of its own system calls, and its io_uring (native/uring.ts over
// src/uring.cc): requests complete with what the call would have returned, buffers stay the
// ring's until their completion, cancels and close end what is in flight, and no argument from
// JavaScript can crash the process. Where io_uring is missing or refused, the io_uring checks are
// reported as skipped, with the reason (skips.ts), and the counting checks still run.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  AF_UNIX,
  ConnectionRefusedError,
  IoUring,
  OSError,
  SOCK_STREAM,
  SO_REUSEADDR,
  SOL_SOCKET,
  Socket,
  ioUringUnavailable,
  resetSyscallCounts,
  socketpair,
  syscallCounts,
} from "@async-from-scratch/native";
import { binding, ioUring } from "../native/binding.ts";
import { testOrSkip } from "./skips.ts";

const withIoUring = testOrSkip(
  ioUringUnavailable() === null ? null : `io_uring is not available: ${ioUringUnavailable()}`,
);

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** Two connected Unix-domain stream sockets. */
function pair(): [Socket, Socket] {
  const [a, b] = socketpair().map((fd) => new Socket(AF_UNIX, SOCK_STREAM, fd));
  return [a!, b!];
}

// ---- counting system calls -------------------------------------------------------------------

/**
 * The counts after one socketpair() and these calls. Linux makes a new fd close-on-exec in the
 * same call; macOS needs an fcntl for it, and a setsockopt for SO_NOSIGPIPE, for each end.
 */
function withPairSetUp(calls: Record<string, number>): Record<string, number> {
  const counts: Record<string, number> = { ...calls, socketpair: 1 };
  if (process.platform === "linux") return counts;
  return { ...counts, fcntl: (counts.fcntl ?? 0) + 2, setsockopt: 2 };
}

test("syscallCounts counts each system call the module makes, by name, from the last reset", () => {
  resetSyscallCounts();
  assert.equal(syscallCounts(), {});
  const [a, b] = pair();
  a.send(Buffer.from("hi"));
  b.recv(10);
  a.setBlocking(false); // fcntl twice: F_GETFL, then F_SETFL
  a.close();
  b.close();
  assert.equal(syscallCounts(), withPairSetUp({ fcntl: 2, send: 1, recv: 1, close: 2 }));
  resetSyscallCounts();
  assert.equal(syscallCounts(), {});
});

test("each worker thread counts its own calls, apart from the main thread's", async () => {
  const nativePath = createRequire(import.meta.url).resolve("../native/build/Release/native.node");
  resetSyscallCounts();
  const worker = new Worker(
    `const { parentPort, workerData } = require("node:worker_threads");
     const native = require(workerData);
     const [a, b] = native.socketpair();
     native.close(a); native.close(b);
     parentPort.postMessage(native.syscallCounts());`,
    { eval: true, workerData: nativePath },
  );
  const counts = await new Promise((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  await worker.terminate();
  assert.equal(counts, withPairSetUp({ close: 2 }));
  assert.equal(syscallCounts(), {}, "none of the worker's calls counted here");
});

// ---- io_uring ----------------------------------------------------------------------------------

test("io_uring exists on Linux 5.11 and newer; elsewhere ioUringUnavailable says why", () => {
  const why = ioUringUnavailable();
  if (process.platform !== "linux") {
    assert.match(why ?? "", /Linux's own/);
    assert.throws(
      () => new IoUring(),
      (e: Error) => /io_uring is not available/.test(e.message),
      "new IoUring",
    );
  } else if (why === null) {
    assert.ok(ioUring !== null);
  } else {
    // Missing or refused: the reason names the call and what refused it, and is one line.
    assert.match(why, /^io_uring_setup/);
    assert.not.match(why, /\n/);
  }
});

withIoUring("send and recv complete with what the calls return, the bytes with recv", () => {
  const [a, b] = pair();
  using ring = new IoUring(8);
  const receiving = ring.recv(b, 100);
  const sending = ring.send(a, Buffer.from("hello"));
  assert.is(ring.inFlight, 2);
  assert.is(ring.wait(2, 5), 2);
  const done = ring.reap();
  assert.is(ring.inFlight, 0);
  const byTicket = new Map(done.map((completion) => [completion.ticket, completion]));
  assert.equal(
    { ...byTicket.get(sending)!, data: null },
    { ticket: sending, op: "send", fd: a.fileno(), result: 5, error: null, data: null },
  );
  const received = byTicket.get(receiving)!;
  assert.is(received.op, "recv");
  assert.is(received.result, 5);
  assert.is(received.data!.toString(), "hello");
  a.close();
  ring.recv(b, 100);
  ring.wait(1, 5);
  const [end] = ring.reap();
  assert.is(end!.result, 0);
  assert.is(end!.data!.length, 0, "end of file: an empty Buffer");
  b.close();
});

withIoUring(
  "the ring keeps its own copy of the bytes to send: the caller may reuse its buffer",
  () => {
    const [a, b] = pair();
    using ring = new IoUring(4);
    const bytes = Buffer.from("first");
    ring.send(a, bytes);
    bytes.write("later"); // before the send is even submitted
    ring.wait(1, 5);
    ring.reap();
    assert.is(b.recv(10).toString(), "first");
    a.close();
    b.close();
  },
);

withIoUring("one io_uring_enter submits many requests and reaps as many completions", () => {
  const pairs = Array.from({ length: 10 }, () => pair());
  using ring = new IoUring(32);
  for (const [a] of pairs) ring.send(a, Buffer.from("x"));
  for (const [, b] of pairs) ring.recv(b, 10);
  resetSyscallCounts();
  ring.wait(20, 5); // the data is there by the time each recv is issued: all complete at once
  const done = ring.reap();
  assert.is(done.length, 20);
  assert.equal(syscallCounts(), { io_uring_enter: 1 }, "twenty requests, one system call");
  for (const [a, b] of pairs) {
    a.close();
    b.close();
  }
});

withIoUring(
  "a recv waits in the kernel; wait() with a timeout returns with nothing to reap",
  () => {
    const [a, b] = pair();
    using ring = new IoUring(4);
    const ticket = ring.recv(b, 10);
    const began = performance.now();
    assert.is(ring.wait(1, 0.05), 0);
    assert.ok(performance.now() - began >= 45, "it waited for the timeout");
    assert.equal(ring.reap(), []);
    a.send(Buffer.from("late"));
    ring.wait(1, 5);
    const [done] = ring.reap();
    assert.is(done!.ticket, ticket);
    assert.is(done!.data!.toString(), "late");
    a.close();
    b.close();
  },
);

withIoUring(
  "cancel: the request completes with ECANCELED and the cancel with 0; later, ENOENT",
  () => {
    const [a, b] = pair();
    using ring = new IoUring(4);
    const receiving = ring.recv(b, 10);
    ring.submit();
    const cancelling = ring.cancel(receiving);
    ring.wait(2, 5);
    const done = new Map(ring.reap().map((completion) => [completion.ticket, completion]));
    const cancelled = done.get(receiving)!;
    assert.is(cancelled.error?.code, "ECANCELED");
    assert.ok(cancelled.error instanceof OSError);
    assert.is(cancelled.error!.syscall, "recv");
    assert.is(done.get(cancelling)!.result, 0);
    assert.is(done.get(cancelling)!.op, "cancel");
    const again = ring.cancel(receiving);
    ring.wait(1, 5);
    assert.is(ring.reap()[0]!.ticket, again);
    a.close();
    b.close();
  },
);

withIoUring(
  "closing the socket does not cancel a recv in flight: the request keeps it alive",
  () => {
    const [a, b] = pair();
    using ring = new IoUring(4);
    ring.recv(b, 10);
    ring.submit();
    b.close(); // our fd is gone, but the request holds the socket
    a.send(Buffer.from("still"));
    ring.wait(1, 5);
    const [done] = ring.reap();
    assert.is(done!.data?.toString(), "still");
    a.close();
  },
);

withIoUring("a refused connect completes with ConnectionRefusedError naming the address", () => {
  // A port that was free a moment ago: nothing listens there.
  const probe = new Socket();
  probe.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  probe.bind(["127.0.0.1", 0]);
  const port = probe.getsockname()[1];
  probe.close();
  using sock = new Socket();
  using ring = new IoUring(2);
  ring.connect(sock, ["127.0.0.1", port]);
  ring.wait(1, 5);
  const [done] = ring.reap();
  assert.ok(done!.error instanceof ConnectionRefusedError, String(done!.error));
  assert.is(done!.error!.message, `connect(127.0.0.1:${port}): Connection refused (ECONNREFUSED)`);
});

withIoUring(
  "close() cancels what is in flight, frees it, and leaves no fd; a closed ring is refused",
  () => {
    const before = openFds();
    const [a, b] = pair();
    const ring = new IoUring(8);
    for (let i = 0; i < 3; i++) ring.recv(b, 4096);
    ring.submit();
    ring.recv(a, 4096); // queued, never submitted
    const began = performance.now();
    ring.close();
    assert.ok(performance.now() - began < 1000, "the cancelled recvs ended at once");
    ring.close(); // twice is harmless
    assert.throws(
      () => ring.recv(b, 10),
      (e: OSError) => e.code === "EBADF",
      "recv on a closed ring",
    );
    assert.throws(
      () => ring.wait(),
      (e: OSError) => e.code === "EBADF",
      "wait on a closed ring",
    );
    a.close();
    b.close();
    assert.is(openFds(), before);
  },
);

withIoUring("wrong arguments are TypeErrors and RangeErrors, never a crash", () => {
  const [a, b] = pair();
  using ring = new IoUring(2); // 2 SQ entries, 4 CQ entries
  const isType = (e: Error) => e instanceof TypeError;
  const isRange = (e: Error) => e instanceof RangeError;
  const native = ioUring!;
  assert.throws(() => new IoUring(0), isRange, "entries 0");
  assert.throws(() => new IoUring(1.5), isType, "entries 1.5");
  assert.throws(() => ring.recv(b, 0), isRange, "recv size 0");
  assert.throws(() => ring.recv(b, "10" as never), isType, "recv size a string");
  assert.throws(() => ring.recv("b" as never, 10), isType, "a string for a socket");
  assert.throws(() => ring.send(a, "text" as never), isType, "send a string");
  assert.throws(() => ring.connect(a, ["localhost", 80]), isRange, "a host name");
  assert.throws(() => ring.cancel(0), isType, "ticket 0");
  assert.throws(() => ring.cancel(2 ** 60), isType, "a ticket past 2^53");
  assert.throws(() => ring.wait(1), isRange, "waiting for more than is in flight");
  assert.throws(() => ring.wait(0, "soon" as never), isType, "timeout a string");
  for (const notARing of [{}, 5, null, { fileno: () => 3 }, ring]) {
    assert.throws(
      () => native.ioUringReap(notARing as object),
      isType,
      `reap(${String(notARing)})`,
    );
  }
  assert.throws(() => (native.IoUring as unknown as (n: number) => void)(2), isType, "without new");
  for (let i = 0; i < 4; i++) ring.recv(b, 10);
  assert.throws(() => ring.recv(b, 10), isRange, "more requests than the completion queue holds");
  a.close();
  b.close();
});

withIoUring(
  "a ring dropped without close() is closed when collected, with a ResourceWarning",
  () => {
    const result = spawnSync(
      process.execPath,
      [
        "--expose-gc",
        "--import",
        import.meta.resolve("tsx"),
        "--input-type=module",
        "-e",
        `import { readdirSync } from "node:fs";
       import { IoUring } from "@async-from-scratch/native";
       const fds = () => readdirSync("/proc/self/fd").length;
       const before = fds();
       (() => new IoUring(4).recv(0, 10))();
       for (let i = 0; i < 20 && fds() > before; i++) {
         globalThis.gc();
         await new Promise((resolve) => setTimeout(resolve, 10));
       }
       console.log(fds() - before);`,
      ],
      { cwd: dirname(fileURLToPath(import.meta.url)), encoding: "utf8", timeout: 60_000 },
    );
    assert.is(result.status, 0, result.stderr);
    assert.is(result.stdout.trim(), "0", "the ring's fd was closed");
    assert.match(
      result.stderr,
      /ResourceWarning: unclosed IoUring: closed when it was garbage-collected/,
    );
  },
);

test("binding: the io_uring functions are there exactly where ioUring says", () => {
  assert.is("ioUringWait" in binding, ioUring !== null);
});

test.run();
