// io_uring, shaped for teaching: queue requests, submit them, wait, reap what completed.
//
//   const ring = new IoUring(64);           // io_uring_setup, and mmap of the two rings
//   const ticket = ring.recv(sock, 4096);   // an SQE written into shared memory: no system call
//   ring.wait();                            // io_uring_enter: submits every SQE queued, then
//                                           //   sleeps until at least one request has completed
//   for (const done of ring.reap()) { ... } // CQEs read from shared memory: no system call
//   ring.close();
//
// A selector (selectors.ts) tells the program when a socket is *ready*, and the program then makes
// the call itself. A ring takes the call, and tells the program when it is *done*, with what the
// call returned: "recv on fd 7 is done: here are 1448 bytes". So there is no recv after the wake-up,
// and one io_uring_enter carries any number of requests in and any number of completions out.
//
// What that costs, and the rules that follow:
//  - Memory: a request's buffer belongs to the kernel until its completion. send() copies the
//    bytes into the ring; recv(sock, n) makes the ring hold n bytes for as long as the recv waits,
//    where a selector's recv needs its buffer only for the moment of the call.
//  - Errors come back as data: a request that fails completes with `error` set to what the same
//    call would have thrown (ConnectionRefusedError for connect, ...); reap() never throws them.
//    Wrong arguments throw at once, as everywhere in this module.
//  - Cancelling: a request waits in the kernel until it completes. ring.cancel(ticket) asks the
//    kernel to give it up (IORING_OP_ASYNC_CANCEL): it then completes with ECANCELED, unless it
//    completed first. Closing the socket does not cancel it: the request holds a reference to the
//    socket of its own, so the socket lives on, and the request waits on, until it completes.
//  - close() cancels every request still in flight and waits for them, before it frees their
//    buffers and unmaps the rings (src/uring.cc says why). A ring dropped open is closed so by the
//    garbage collector, with a ResourceWarning, as a Socket is.
import { constants } from "node:os";
import { ioUring, type IoUringBinding } from "./binding.ts";
import { argumentTypeError } from "./checks.ts";
import { OSError, osError } from "./errors.ts";
import type { FileObject } from "./selectors.ts";
import type { Address } from "./socket.ts";

export type Operation = "connect" | "send" | "recv" | "cancel";

/** One request that the kernel has finished, as reap() returns it. */
export interface Completion {
  /** What the request's method returned when it was queued. */
  readonly ticket: number;
  readonly op: Operation;
  /** The socket it was on (-1 for a cancel). */
  readonly fd: number;
  /**
   * What the system call returned: bytes sent or received (0 at end of file), 0 for connect
   * and cancel; or -errno when it failed.
   */
  readonly result: number;
  /** The failure, as the call would have thrown it; null when it worked. */
  readonly error: OSError | null;
  /** recv: the bytes received, empty at end of file; null for the others. */
  readonly data: Buffer | null;
}

const unclosed = new FinalizationRegistry<string>((what) => {
  process.emitWarning(
    `unclosed ${what}: closed when it was garbage-collected; close it with close() or using`,
    "ResourceWarning",
  );
});

export class IoUring {
  readonly #native: IoUringBinding;
  readonly #ring: object;
  readonly #names: Map<number, Operation>;
  // Where each connect in flight goes, so that a refused one reads as Socket.connect's would.
  readonly #connecting = new Map<number, string>();
  #closed = false;

  /**
   * A ring with room for `entries` requests queued at once (the kernel rounds it up to a power of
   * two) and twice as many completions. Throws OSError where io_uring is missing or refused:
   * ioUringUnavailable() says why in words.
   */
  constructor(entries = 64) {
    this.#native = ioUring ?? unavailable();
    this.#ring = new this.#native.IoUring(entries);
    const { IORING_OP_CONNECT, IORING_OP_SEND, IORING_OP_RECV, IORING_OP_ASYNC_CANCEL } =
      this.#native;
    this.#names = new Map([
      [IORING_OP_CONNECT, "connect"],
      [IORING_OP_SEND, "send"],
      [IORING_OP_RECV, "recv"],
      [IORING_OP_ASYNC_CANCEL, "cancel"],
    ]);
    unclosed.register(this, "IoUring", this);
  }

  /** Queues connect(sock, address). The host must be an IP address (getaddrinfo resolves names). */
  connect(sock: FileObject, [host, port]: Address): number {
    const ticket = this.#native.ioUringPrepConnect(this.#ring, fdOf("connect", sock), host, port);
    this.#connecting.set(ticket, host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`);
    return ticket;
  }

  /** Queues send(sock, data) of a copy of data; it completes with how many bytes went. */
  send(sock: FileObject, data: Uint8Array): number {
    return this.#native.ioUringPrepSend(this.#ring, fdOf("send", sock), data);
  }

  /** Queues recv(sock, bufsize); it completes with the bytes, or an empty Buffer at end of file. */
  recv(sock: FileObject, bufsize: number): number {
    return this.#native.ioUringPrepRecv(this.#ring, fdOf("recv", sock), bufsize);
  }

  /** Queues a request to cancel the request with this ticket. */
  cancel(ticket: number): number {
    return this.#native.ioUringPrepCancel(this.#ring, ticket);
  }

  /** Hands every queued request to the kernel, without waiting: one io_uring_enter. */
  submit(): number {
    return this.#native.ioUringSubmit(this.#ring);
  }

  /**
   * Hands every queued request to the kernel and sleeps until minComplete requests have completed
   * or timeout seconds have passed (none: for ever), in one io_uring_enter. Returns how many
   * completions are waiting to be reaped.
   */
  wait(minComplete = 1, timeout: number | null = null): number {
    if (timeout !== null && (typeof timeout !== "number" || Number.isNaN(timeout))) {
      throw argumentTypeError("wait", "timeout", "a number of seconds or null", timeout);
    }
    // Milliseconds rounded up, so that a short timeout waits instead of returning at once.
    const timeoutMs = timeout === null ? -1 : Math.ceil(Math.max(0, timeout) * 1000);
    return this.#native.ioUringWait(this.#ring, minComplete, timeoutMs);
  }

  /** The requests that have completed since the last reap(), in the order they completed. */
  reap(): Completion[] {
    const flat = this.#native.ioUringReap(this.#ring);
    const completions: Completion[] = [];
    for (let i = 0; i < flat.length; i += 5) {
      const [ticket, opcode, fd, result] = flat.slice(i, i + 4) as number[];
      const op = this.#names.get(opcode!)!;
      const detail = this.#connecting.get(ticket!) ?? (op === "cancel" ? "" : `fd ${fd}`);
      this.#connecting.delete(ticket!);
      const error = result! < 0 ? osError(-result!, op, detail) : null;
      completions.push({
        ticket: ticket!,
        op,
        fd: fd!,
        result: result!,
        error,
        data: flat[i + 4] as Buffer | null,
      });
    }
    return completions;
  }

  /** Requests queued or in the kernel, and completed ones not reaped yet. */
  get inFlight(): number {
    return this.#native.ioUringInFlight(this.#ring);
  }

  /** Cancels what is in flight, waits for it, unmaps the rings and closes the ring's fd. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    unclosed.unregister(this);
    this.#native.ioUringClose(this.#ring);
  }

  /** `using ring = new IoUring()` closes it when the block ends. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function fdOf(fn: string, sock: FileObject): number {
  const fd: unknown = typeof sock === "number" ? sock : sock?.fileno?.();
  if (!Number.isInteger(fd)) {
    throw argumentTypeError(fn, "sock", "a Socket or an fd", sock);
  }
  if ((fd as number) < 0) throw osError(constants.errno.EBADF, fn, "closed socket");
  return fd as number;
}

function unavailable(): never {
  throw new Error(`io_uring is not available: ${ioUringUnavailable()}`);
}

/**
 * Why io_uring cannot be used here, in words, or null if it can: it sets up a small ring and
 * closes it again.
 */
export function ioUringUnavailable(): string | null {
  if (process.platform !== "linux") {
    return `io_uring is Linux's own, and this is ${process.platform} (macOS and the BSDs have kqueue, Windows has IOCP)`;
  }
  if (ioUring === null) {
    return "this native module was built without <linux/io_uring.h> of Linux 5.11 or newer";
  }
  try {
    new IoUring(2).close();
    return null;
  } catch (error) {
    if (!(error instanceof OSError)) throw error;
    if (error.code === "EPERM" || error.code === "EACCES") {
      return `${error.message}: io_uring is refused here, by a seccomp filter (Docker's default profile refuses it since Docker 25) or by sysctl kernel.io_uring_disabled`;
    }
    if (
      error.code === "ENOSYS" &&
      error.syscall === "io_uring_setup" &&
      !error.message.includes("5.11")
    ) {
      return `${error.message}: this kernel has no io_uring (Linux 5.1 brought it, and this needs 5.11)`;
    }
    return error.message;
  }
}
