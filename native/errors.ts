// System call failures as Python names them (PEP 3151), so `catch (e) { if (e instanceof
// BlockingIOError) ... }` reads like the lecture's `except BlockingIOError:`.
//
// Every error carries what Node's own system errors carry: `code` ('EAGAIN'), `errno` (11) and
// `syscall` ('recv'), and a message that says which call failed, on what, and why:
//   recv(fd 5): Connection reset by peer (ECONNRESET)
import { constants } from "node:os";
import { binding } from "./binding.ts";

export class OSError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;

  constructor(syscall: string, errno: number, detail: string, message: string, code: string) {
    super(`${syscall}${detail ? `(${detail})` : ""}: ${message} (${code})`);
    this.name = new.target.name;
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
  }
}

/** The call would have to wait: EAGAIN, EWOULDBLOCK, EINPROGRESS, EALREADY. */
export class BlockingIOError extends OSError {}
export class ChildProcessError extends OSError {}
export class ConnectionError extends OSError {}
export class BrokenPipeError extends ConnectionError {}
export class ConnectionAbortedError extends ConnectionError {}
export class ConnectionRefusedError extends ConnectionError {}
export class ConnectionResetError extends ConnectionError {}
export class FileExistsError extends OSError {}
export class FileNotFoundError extends OSError {}
export class InterruptedError extends OSError {}
export class PermissionError extends OSError {}
export class ProcessLookupError extends OSError {}
export class TimeoutError extends OSError {}
/** getaddrinfo could not resolve a name (Python's socket.gaierror). */
export class GaiError extends OSError {}

const classByCode: Record<string, typeof OSError> = {
  EAGAIN: BlockingIOError,
  EWOULDBLOCK: BlockingIOError,
  EINPROGRESS: BlockingIOError,
  EALREADY: BlockingIOError,
  ECHILD: ChildProcessError,
  EPIPE: BrokenPipeError,
  ESHUTDOWN: BrokenPipeError,
  ECONNABORTED: ConnectionAbortedError,
  ECONNREFUSED: ConnectionRefusedError,
  ECONNRESET: ConnectionResetError,
  EEXIST: FileExistsError,
  ENOENT: FileNotFoundError,
  EINTR: InterruptedError,
  EACCES: PermissionError,
  EPERM: PermissionError,
  ESRCH: ProcessLookupError,
  ETIMEDOUT: TimeoutError,
};

// errno number -> name, from this system's own table. Where two names share a number (EAGAIN and
// EWOULDBLOCK), the first one listed wins.
const errnoNames = new Map<number, string>();
for (const [name, errno] of Object.entries(constants.errno)) {
  if (!errnoNames.has(errno)) errnoNames.set(errno, name);
}

function makeError(
  syscall: string,
  errno: number,
  detail: string,
  message: string,
  gaiCode?: string,
): OSError {
  if (gaiCode !== undefined) return new GaiError(syscall, errno, detail, message, gaiCode);
  const code = errnoNames.get(errno) ?? `E${errno}`;
  const ErrorClass = classByCode[code] ?? OSError;
  if (ErrorClass !== BlockingIOError) return new ErrorClass(syscall, errno, detail, message, code);
  // "Would block" is control flow, not a failure: a busy loop (1_bad_socket) and every event loop
  // throw and catch it thousands of times a second. Capturing a stack trace for it was half the
  // cost of a failed recv (measured), and no one reads it.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new BlockingIOError(syscall, errno, detail, message, code);
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

binding.setErrorFactory(makeError);

/**
 * The error for an errno that arrives as a number rather than as a failed call: the SO_ERROR of a
 * non-blocking connect, for one.
 */
export function osError(errno: number, syscall: string, detail = ""): OSError {
  return makeError(syscall, errno, detail, binding.strerror(errno));
}
