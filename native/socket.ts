// A socket shaped like Python's socket.socket, over the raw system calls of the native module.
//
//   const sock = new Socket();        // socket.socket()
//   sock.setBlocking(false);          // sock.setblocking(False)
//   sock.connect(["127.0.0.1", 80]);  // sock.connect(('127.0.0.1', 80))
//   sock.recv(4096);                  // sock.recv(4096)
//
// Methods throw the OSError subclasses of errors.ts: a non-blocking socket that would have to wait
// throws BlockingIOError, as in Python. An argument of the wrong type is a TypeError that names it.
//
// Close a socket with close(), or let `using` close it at the end of a block (Python's `with`).
// One that is dropped open is closed when the garbage collector finds it, with a ResourceWarning
// (unclosed.ts), as Python does.
import { isIP } from "node:net";
import { constants } from "node:os";
import { binding, type AddressInfo } from "./binding.ts";
import { argumentRangeError, argumentTypeError } from "./checks.ts";
import { GaiError, osError } from "./errors.ts";
import { closeWhenCollected, closedByOwner } from "./unclosed.ts";

export const {
  AF_INET,
  AF_INET6,
  AF_UNIX,
  AF_UNSPEC,
  SOCK_STREAM,
  SOCK_DGRAM,
  SOL_SOCKET,
  SO_REUSEADDR,
  SO_ERROR,
  SO_RCVBUF,
  SO_SNDBUF,
  SO_KEEPALIVE,
  IPPROTO_TCP,
  TCP_NODELAY,
  SHUT_RD,
  SHUT_WR,
  SHUT_RDWR,
} = binding;

/** A host and a port, like Python's ('127.0.0.1', 80). */
export type Address = [host: string, port: number];

function checkAddress(fn: string, address: unknown): Address {
  if (Array.isArray(address) && address.length === 2) {
    const [host, port]: unknown[] = address;
    if (typeof host === "string" && typeof port === "number") return [host, port];
  }
  throw argumentTypeError(fn, "address", "[host, port], a string and a number", address);
}

/**
 * Resolves a host name to addresses for a stream socket. It blocks until DNS answers, like
 * Python's socket.getaddrinfo; a name that does not resolve throws GaiError.
 */
export function getaddrinfo(host: string, port: number, family = AF_UNSPEC): AddressInfo[] {
  return binding.getaddrinfo(host, port, family);
}

export class Socket {
  readonly family: number;
  #fd: number;

  /**
   * A new socket, or (given fd) a Socket object for an fd that accept() or socketpair() returned,
   * which it then owns: its close() closes that fd.
   */
  constructor(family = AF_INET, type = SOCK_STREAM, fd?: number | null) {
    if (fd !== undefined && fd !== null) {
      if (!Number.isInteger(fd)) throw argumentTypeError("Socket", "fd", "an integer", fd);
      if (fd < 0) throw argumentRangeError("Socket", "fd", `must be 0 or more, got ${fd}`);
    }
    this.family = family;
    this.#fd = fd ?? binding.socket(family, type);
    closeWhenCollected(this, this.#fd, "Socket");
  }

  /** The file descriptor: the small number the kernel knows this socket by; -1 once closed. */
  fileno(): number {
    return this.#fd;
  }

  /** false makes every call that would wait throw BlockingIOError instead. */
  setBlocking(flag: boolean): void {
    binding.setBlocking(this.#open("setBlocking"), flag);
  }

  getBlocking(): boolean {
    return binding.getBlocking(this.#open("getBlocking"));
  }

  /**
   * Connects to [host, port]. A host name is resolved first, with a blocking getaddrinfo. On a
   * non-blocking socket this throws BlockingIOError (EINPROGRESS): the handshake goes on without
   * us, the socket becomes writable when it ends, and getsockopt(SOL_SOCKET, SO_ERROR) then says
   * whether it worked.
   */
  connect(address: Address): void {
    const [host, port] = checkAddress("connect", address);
    binding.connect(this.#open("connect"), this.#resolve(host, port), port);
  }

  bind(address: Address): void {
    const [host, port] = checkAddress("bind", address);
    binding.bind(this.#open("bind"), this.#resolve(host, port), port);
  }

  /** backlog: how many finished handshakes the kernel queues before we accept() them. */
  listen(backlog = 128): void {
    binding.listen(this.#open("listen"), backlog);
  }

  /**
   * A connected client and its address. The new socket is blocking, as in Python, whatever the
   * listener is. accept({ blocking: false }) gives a non-blocking one instead, made so by the same
   * system call on Linux (accept4): what a server on an event loop wants for every connection,
   * where Python's asyncio calls setblocking(False) after accept(), one more system call each.
   */
  accept({ blocking = true }: { blocking?: boolean } = {}): [Socket, Address] {
    const [fd, host, port] = binding.accept(this.#open("accept"), blocking);
    return [new Socket(this.family, SOCK_STREAM, fd), [host, port]];
  }

  getsockname(): Address {
    return binding.getsockname(this.#open("getsockname"));
  }

  /** Sends what the kernel will take now, and returns how many bytes that was. */
  send(data: Uint8Array): number {
    return binding.send(this.#open("send"), data);
  }

  /** Sends all of data, calling send() until it is gone (Python's sendall). */
  sendAll(data: Uint8Array): void {
    if (!(data instanceof Uint8Array)) {
      throw argumentTypeError("sendAll", "data", "a Uint8Array or Buffer", data);
    }
    let sent = 0;
    while (sent < data.length) sent += this.send(data.subarray(sent));
  }

  /** Up to bufsize bytes; an empty buffer means the peer closed its side (end of file). */
  recv(bufsize: number): Buffer {
    return binding.recv(this.#open("recv"), bufsize);
  }

  shutdown(how: number): void {
    binding.shutdown(this.#open("shutdown"), how);
  }

  setsockopt(level: number, option: number, value: number): void {
    binding.setsockopt(this.#open("setsockopt"), level, option, value);
  }

  getsockopt(level: number, option: number): number {
    return binding.getsockopt(this.#open("getsockopt"), level, option);
  }

  /**
   * Gives the fd up without closing it, and returns it (Python's detach): for handing it to code
   * that will own it from now on, such as Node's net.Socket. This object acts closed afterwards.
   */
  detach(): number {
    const fd = this.#fd;
    this.#fd = -1;
    closedByOwner(this); // no longer ours to close, when collected or ever
    return fd;
  }

  /** Closes the fd. Closing twice is harmless, as in Python. */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    closedByOwner(this);
    binding.close(fd);
  }

  /** `using sock = new Socket()` closes it when the block ends, like Python's `with`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #open(syscall: string): number {
    if (this.#fd < 0) throw osError(constants.errno.EBADF, syscall, "closed socket");
    return this.#fd;
  }

  #resolve(host: string, port: number): string {
    if (isIP(host) !== 0) return host;
    const [first] = getaddrinfo(host, port, this.family);
    if (first === undefined) {
      throw new GaiError(
        "getaddrinfo",
        0,
        host,
        "no address of this socket's family",
        "EAI_NODATA",
      );
    }
    return first.host;
  }
}
