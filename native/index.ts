// The native module's public face: sockets and selectors shaped like Python's, errno as Python's
// exception classes, and the process and thread calls of the first lessons. Hooks that only the
// module's tests may call are in testing.ts.
import { binding } from "./binding.ts";

export * from "./errors.ts";
export * from "./socket.ts";
export * from "./selectors.ts";
export * from "./uring.ts";
export type { AddressInfo, WaitStatus } from "./binding.ts";

export const {
  /** This process's id. */
  getpid,
  /** The id of the process that started this one. */
  getppid,
  /**
   * forkExec(file, args, stdoutFd): fork, then exec `file` (searched in $PATH) with argv `args`
   * in the child; stdoutFd, unless -1, becomes the child's standard output. The child inherits
   * fds 0, 1 and 2, as a shell's child does, and none of the module's other fds. Returns the
   * child's pid; an exec that fails (no such program) or a closed stdoutFd throws here, in the
   * parent.
   */
  forkExec,
  /**
   * waitpid(pid, options): waits for a child to end and reaps it: { pid, exitCode, signal }, or
   * null if options includes WNOHANG and the child is still running.
   */
  waitpid,
  WNOHANG,
  /** pipe(): [readFd, writeFd], both close-on-exec. */
  pipe,
  /** read(fd, size): up to size bytes from a pipe or file; empty at end of file. */
  read,
  /** write(fd, data): how many bytes went into a pipe (or file); may be fewer than given. */
  write,
  /** setBlocking(fd, flag): O_NONBLOCK off or on for a raw fd, as Python's os.set_blocking. */
  setBlocking,
  /** close(fd): for fds that are not Sockets (pipe ends). */
  close,
  /** socketpair(): two connected Unix-domain stream sockets, as raw fds. */
  socketpair,
  /** startThreads(count): starts count OS threads that block until joinThreads(id). */
  startThreads,
  /** joinThreads(id): wakes the group's threads and waits for all of them to end. */
  joinThreads,
  /** threadStackSize(): the address space reserved for each new thread's stack, in bytes. */
  threadStackSize,
  /**
   * spinThreads(count, iterations): count OS threads each run the same fixed arithmetic
   * (iterations rounds); returns the wall time in milliseconds until the last one ends.
   */
  spinThreads,
  /**
   * forkHold(buffer): fork without exec; the child, a copy of this process, waits for one-byte
   * commands on the returned fd: 'w' writes one byte into each page of its copy of buffer, any
   * other byte is a ping; each is answered with the same byte. Closing fd ends the child (reap it
   * with waitpid). Returns [pid, fd].
   */
  forkHold,
  /**
   * watchSignals(signals): from now on each of these signals (SIGINT, SIGTERM, ...) writes its
   * number, one byte, into a pipe, and this returns the pipe's non-blocking read end for a loop to
   * watch: the self-pipe trick of libuv's uv_signal_t and Python's signal.set_wakeup_fd. One per
   * process; unwatchSignals() puts the earlier handlers back and closes the pipe.
   */
  watchSignals,
  unwatchSignals,
  SIGINT,
  SIGTERM,
  SIGHUP,
  FD_SETSIZE,
  /**
   * syscallCounts(): how many system calls this thread has made through the module since it was
   * loaded (or since resetSyscallCounts()), by name, the ones made at least once:
   * { socket: 93, connect: 93, epoll_wait: 214, ... }. Counted: the I/O calls (sockets, pipes,
   * select, poll, epoll, kqueue, io_uring and its mmaps), each EINTR retry too. Not counted: the
   * calls of Node itself, and the module's process, thread and signal helpers.
   */
  syscallCounts,
  resetSyscallCounts,
} = binding;
