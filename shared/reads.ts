// A net.Socket's bytes, taken one read at a time, for a client on Node's sockets that must tell a
// reset (RST) from a clean close (FIN): the crawler's node engine, 7_node_event_loop, the fixture
// site's tests. With a plain net.Socket it cannot always.
//
// Why. libuv 1.46 (Node 20's) reads a socket once per readiness and takes a short read for "that
// was all". When the same epoll event also said hang-up (EPOLLHUP, which a RST raises), it then
// reports the end of the stream at once, without the next read() that would have failed with
// ECONNRESET: the shortcut in uv__stream_io, src/unix/stream.c (libuv pull request 4997 reads on
// in versions after it). Linux keeps the bytes that a RST overtook: a read returns them, and the
// read after them fails. So whether a net.Socket says 'end' or 'error' depends on timing: if the
// RST arrives before the bytes ahead of it were read (the process was slow to run, on a busy
// machine), it says 'end'. The fixture site's /reset (512 of 2048 body bytes, then a RST) then
// ended as "peer closed after 512 of 2048 body bytes" on the crawler's node engine, and as
// "connection reset by peer" on the scratch engine, whose next recv() fails.
//
// The cure is to have stopped reading by then: the shortcut is only taken while libuv is still
// reading. Node reads into our buffer (net.connect's onread option) and calls us; our false stops
// its reading (uv_read_stop) until the chunk is taken, and reading starts again on the loop's next
// turn, after libuv's read callback has returned. Then the read after the bytes is always made,
// and fails with ECONNRESET however late the process ran. It is also backpressure: what nobody
// has asked for stays in the kernel, as with a recv() not called. The price: two epoll_ctl calls
// and a turn of the loop per read, where a page takes one or two reads.
//
//   const reads = new SocketReads();
//   const socket = reads.watch(connect({ host, port, onread: reads.onread }));
//   for await (const chunk of reads) ...  // then the peer closed; a reset throws ECONNRESET
import type { Socket } from "node:net";

// What each read asks for: libuv's own suggestion, and the scratch engine's recv() size.
const READ_SIZE = 64 * 1024;

export class SocketReads implements AsyncIterable<Buffer> {
  readonly #chunks: Buffer[] = [];
  #socket: Socket | null = null;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;
  #resuming = false;

  /** For net.connect's options: one buffer for every read, each chunk copied out of it. */
  readonly onread = {
    buffer: Buffer.allocUnsafe(READ_SIZE),
    callback: (size: number, buffer: Uint8Array): false => {
      this.#chunks.push(Buffer.from(buffer.subarray(0, size)));
      this.#wakeUp();
      return false; // stop reading until the chunk is taken
    },
  };

  /** Watches the socket that was given onread, at once (its 'error' would otherwise throw). */
  watch(socket: Socket): Socket {
    this.#socket = socket;
    socket.on("end", () => {
      this.#ended = true;
      this.#wakeUp();
    });
    socket.on("error", (error) => {
      this.#error = error;
      this.#wakeUp();
    });
    // Destroyed with neither (by its owner): nothing more will come.
    socket.on("close", () => {
      this.#ended = true;
      this.#wakeUp();
    });
    return socket;
  }

  /** The socket's error, once it has had one. */
  get error(): Error | null {
    return this.#error;
  }

  /** Whether read() would answer at once: a chunk, the end, or an error is there. */
  ready(): boolean {
    return this.#chunks.length > 0 || this.#ended || this.#error !== null;
  }

  /**
   * The next chunk; null once the peer has closed its side. Throws the socket's error (ECONNRESET)
   * after the chunks that came before it, or signal's reason if it aborts first.
   */
  async read(signal?: AbortSignal): Promise<Buffer | null> {
    while (!this.ready()) await this.#wait(signal);
    const chunk = this.#chunks.shift();
    if (chunk !== undefined) {
      this.#resume();
      return chunk;
    }
    if (this.#error !== null) throw this.#error;
    return null;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (let chunk = await this.read(); chunk !== null; chunk = await this.read()) yield chunk;
  }

  // On the loop's next turn, not now: read() runs in the microtasks that Node runs before it
  // returns from its read callback, and reading again there would bring the shortcut back.
  #resume(): void {
    if (this.#resuming) return;
    this.#resuming = true;
    setImmediate(() => {
      this.#resuming = false;
      if (this.#socket !== null && !this.#socket.destroyed) this.#socket.resume();
    });
  }

  #wait(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        this.#wake = null;
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#wake = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
    });
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
