// How another thread wakes a loop that sleeps in select(): libuv's uv_async_t, by hand.
//
// Worker threads talk to the main thread through MessagePorts, and a message normally arrives as a
// 'message' event, run by Node's own loop. But while our loop sleeps in epoll_wait, Node's loop is
// not running, so that event would wait until something else woke us. libuv has the same problem
// between its thread pool and its loop, and solves it with uv_async_send (src/unix/async.c): the
// other thread writes to an fd that the loop watches (an eventfd on Linux, a pipe elsewhere), the
// wait ends, and the loop runs the callback in its own thread. Here:
//   - the main thread makes a Waker: a non-blocking pipe whose read end the loop watches;
//   - a worker posts its message, then writes one byte to the pipe's write end (wake(handle));
//   - the loop wakes, empties the pipe, and takes the messages with receiveMessageOnPort(), which
//     reads a port's queue synchronously, without Node's loop.
// Wake-ups coalesce, as uv_async_send's do: ten messages may come with one wake-up, so the callback
// takes every message waiting, not just one. And as in uv_async_send, a flag in memory that both
// threads share says whether a wake-up is already on its way: only the first wake() since the
// loop last looked pays for a write() (a system call, which also wakes the sleeping thread); the
// others find the flag set and return. The loop clears the flag before it takes the messages, so a
// message posted after that finds it clear and writes again: none is left waiting unseen.
import { BlockingIOError, close, pipe, read, setBlocking, write } from "@async-from-scratch/native";
import type { MessagePort } from "node:worker_threads";
import { receiveMessageOnPort } from "node:worker_threads";
import type { EventLoop } from "./loop.ts";

const ONE_BYTE = new Uint8Array(1);

/**
 * What another thread needs to wake a loop: the pipe's write end, and the flag that says a
 * wake-up is on its way (1) or not (0). Post it to a worker as it is: the flag's memory is shared.
 */
export interface WakeHandle {
  fd: number;
  pending: Int32Array;
}

/** Wakes the loop of this handle (a Waker's); callable from any thread. */
export function wake({ fd, pending }: WakeHandle): void {
  if (Atomics.exchange(pending, 0, 1) === 1) return; // one is on its way already
  try {
    write(fd, ONE_BYTE);
  } catch (error) {
    if (!(error instanceof BlockingIOError)) throw error; // full: a wake-up is already pending
  }
}

export class Waker {
  /** Hand it to other threads, which call wake(handle). */
  readonly handle: WakeHandle;
  readonly #readFd: number;
  readonly #loop: EventLoop;
  #closed = false;

  /** onWake runs in the loop's thread, once per wake-up however many wake() calls it covers. */
  constructor(loop: EventLoop, onWake: () => void) {
    const [readFd, writeFd] = pipe();
    setBlocking(readFd, false);
    setBlocking(writeFd, false);
    this.#readFd = readFd;
    this.handle = { fd: writeFd, pending: new Int32Array(new SharedArrayBuffer(4)) };
    this.#loop = loop;
    loop.addReader(readFd, () => {
      this.#drain();
      Atomics.store(this.handle.pending, 0, 0); // before looking: see the comment at the top
      onWake();
    });
  }

  /** Wakes the loop from its own thread (the same as wake(handle)). */
  wake(): void {
    wake(this.handle);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#loop.removeReader(this.#readFd);
    close(this.#readFd);
    close(this.handle.fd);
  }

  // Reads until a read comes back short: a pipe hands over what it holds, up to the size asked
  // for, so a short read has emptied it, and reading on to the EAGAIN would only cost one more
  // system call (and an error object) per wake-up. A byte written after that read makes the pipe
  // readable again, and the loop comes back for it.
  #drain(): void {
    const size = 256;
    try {
      while (read(this.#readFd, size).length === size);
    } catch (error) {
      if (!(error instanceof BlockingIOError)) throw error; // empty: all wake-ups taken
    }
  }
}

/**
 * Calls onMessage, in the loop's thread, for each message posted on port by a thread that calls
 * wake(waker.handle) after posting. Returns the Waker; close it when done.
 */
export function watchPort(
  loop: EventLoop,
  port: MessagePort,
  onMessage: (message: unknown) => void,
): Waker {
  return new Waker(loop, () => {
    for (
      let received = receiveMessageOnPort(port);
      received;
      received = receiveMessageOnPort(port)
    ) {
      onMessage(received.message);
    }
  });
}
