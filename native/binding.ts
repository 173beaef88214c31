// The compiled module (src/*.cc, built by node-gyp into build/Release/native.node) and its types.
// Everything here takes and returns plain fds; socket.ts and selectors.ts give it Python's shape.
// Timeouts are milliseconds, and a negative one means "wait forever".
import { createRequire } from "node:module";

export interface AddressInfo {
  family: number;
  host: string;
  port: number;
}

export interface WaitStatus {
  pid: number;
  exitCode: number | null;
  signal: number | null;
}

export type ErrorFactory = (
  syscall: string,
  errno: number,
  detail: string,
  message: string,
  code?: string,
) => Error;

interface Binding {
  setErrorFactory(factory: ErrorFactory): void;
  strerror(errno: number): string;

  socket(family: number, type: number): number;
  socketpair(): [number, number];
  pipe(): [number, number];
  setBlocking(fd: number, flag: boolean): void;
  getBlocking(fd: number): boolean;
  checkFd(fd: number): void;
  connect(fd: number, host: string, port: number): void;
  bind(fd: number, host: string, port: number): void;
  listen(fd: number, backlog: number): void;
  accept(fd: number, blocking: boolean): [number, string, number];
  getsockname(fd: number): [string, number];
  send(fd: number, data: Uint8Array): number;
  recv(fd: number, size: number): Buffer;
  read(fd: number, size: number): Buffer;
  write(fd: number, data: Uint8Array): number;
  shutdown(fd: number, how: number): void;
  close(fd: number): void;
  setsockopt(fd: number, level: number, option: number, value: number): void;
  getsockopt(fd: number, level: number, option: number): number;
  getaddrinfo(host: string, port: number, family: number): AddressInfo[];

  select(readFds: Int32Array, writeFds: Int32Array, timeoutMs: number): [number[], number[]];
  poll(pollfds: Int32Array, timeoutMs: number): number[];

  getpid(): number;
  getppid(): number;
  forkExec(file: string, args: string[], stdoutFd: number): number;
  waitpid(pid: number, options: number): WaitStatus | null;
  startThreads(count: number): number;
  joinThreads(id: number): void;
  threadStackSize(): number;
  spinThreads(count: number, iterations: number): number;
  forkHold(buffer: Uint8Array): [pid: number, fd: number];
  interruptAfter(delayMs: number, count: number, intervalMs: number): void;
  watchSignals(signals: number[]): number;
  unwatchSignals(): void;
  syscallCounts(): Record<string, number>;
  resetSyscallCounts(): void;
}

// Constants, as this system's headers define them.
type Constants = Record<
  | "AF_INET"
  | "AF_INET6"
  | "AF_UNIX"
  | "AF_UNSPEC"
  | "SOCK_STREAM"
  | "SOCK_DGRAM"
  | "SOL_SOCKET"
  | "SO_REUSEADDR"
  | "SO_ERROR"
  | "SO_RCVBUF"
  | "SO_SNDBUF"
  | "SO_KEEPALIVE"
  | "IPPROTO_TCP"
  | "TCP_NODELAY"
  | "SHUT_RD"
  | "SHUT_WR"
  | "SHUT_RDWR"
  | "FD_SETSIZE"
  | "POLLIN"
  | "POLLOUT"
  | "POLLERR"
  | "POLLHUP"
  | "POLLNVAL"
  | "WNOHANG"
  | "SIGINT"
  | "SIGTERM"
  | "SIGHUP",
  number
>;

export const binding: Binding & Constants = createRequire(import.meta.url)(
  "./build/Release/native.node",
);

// epoll exists on Linux only, kqueue on macOS and the BSDs; each is null where it does not.
export interface Epoll {
  epollCreate(): number;
  epollCtl(epfd: number, op: number, fd: number, events: number): void;
  epollWait(epfd: number, timeoutMs: number): number[];
  EPOLLIN: number;
  EPOLLOUT: number;
  EPOLLERR: number;
  EPOLLHUP: number;
  EPOLL_CTL_ADD: number;
  EPOLL_CTL_MOD: number;
  EPOLL_CTL_DEL: number;
}

export interface Kqueue {
  kqueue(): number;
  keventChange(kq: number, fd: number, filter: number, flags: number): void;
  keventWait(kq: number, timeoutMs: number): number[];
  EVFILT_READ: number;
  EVFILT_WRITE: number;
  EV_ADD: number;
  EV_DELETE: number;
  EV_EOF: number;
  EV_ERROR: number;
}

// io_uring (src/uring.cc): Linux 5.11 and newer, in a module built with <linux/io_uring.h>.
export interface IoUringBinding {
  IoUring: new (entries: number) => object;
  ioUringPrepConnect(ring: object, fd: number, host: string, port: number): number;
  ioUringPrepSend(ring: object, fd: number, data: Uint8Array): number;
  ioUringPrepRecv(ring: object, fd: number, size: number): number;
  ioUringPrepCancel(ring: object, ticket: number): number;
  ioUringSubmit(ring: object): number;
  ioUringWait(ring: object, minComplete: number, timeoutMs: number): number;
  ioUringReap(ring: object): (number | Buffer | null)[];
  ioUringInFlight(ring: object): number;
  ioUringClose(ring: object): void;
  IORING_OP_CONNECT: number;
  IORING_OP_SEND: number;
  IORING_OP_RECV: number;
  IORING_OP_ASYNC_CANCEL: number;
}

export const epoll = "epollCreate" in binding ? (binding as unknown as Epoll) : null;
export const kqueue = "kqueue" in binding ? (binding as unknown as Kqueue) : null;
export const ioUring = "IoUring" in binding ? (binding as unknown as IoUringBinding) : null;
