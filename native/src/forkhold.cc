// forkHold: fork WITHOUT exec, so that 0_fork_exec can measure what fork really copies.
//
//   forkHold(buffer) -> [pid, fd]
//
// The child is a copy of this process that only waits for commands on its end of a socketpair;
// fd is this process's end. Each byte sent is one command, and the child answers each with the
// same byte once it is done:
//   'w'   write one byte into every page of the child's copy of `buffer` (copy-on-write then gives
//         the child pages of its own), then answer
//   other answer at once (a ping: "you are running and have touched nothing since")
// End of file on its end (close fd, or this process ends) makes the child _exit(0); reap it with
// waitpid.
//
// As in process.cc: Node is multi-threaded and fork() copies only the calling thread, so a lock
// held by any other thread stays locked forever in the child. The child therefore makes only
// async-signal-safe calls (sigaction, sigprocmask, read, write, close, _exit) and plain stores to
// memory it already has; everything else (the page size, the pointer) is worked out before the
// fork. It also holds copies of every fd this process had at the fork until it ends, so end it
// soon.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "native.h"

namespace native {

[[noreturn]] static void HoldChild(int fd, volatile uint8_t* bytes, size_t length,
                                   size_t pageSize) {
  // Node's handlers and mask make no sense in a copy that runs no JavaScript: the defaults, so
  // that SIGTERM ends the child as it ends any program.
  DefaultSignalsInChild();
  for (;;) {
    char command;
    ssize_t got = read(fd, &command, 1);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) _exit(0);
    if (command == 'w') {
      for (size_t i = 0; i < length; i += pageSize) bytes[i] = static_cast<uint8_t>(bytes[i] + 1);
    }
    while (write(fd, &command, 1) < 0 && errno == EINTR) {
    }
  }
}

static Napi::Value ForkHold(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckCount(info, "forkHold", 1);
  Napi::Uint8Array buffer = ArgBytes(info, "forkHold", 0, "buffer");
  volatile uint8_t* bytes = buffer.Data();
  size_t length = buffer.ByteLength();
  long pageSize = sysconf(_SC_PAGESIZE);
  if (pageSize <= 0) pageSize = 4096;

  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0) ThrowOSError(env, "socketpair", errno);
  // Close-on-exec, so that a program this process starts later does not keep the child waiting.
  for (int fd : fds) {
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
      int err = errno;
      close(fds[0]);
      close(fds[1]);
      ThrowOSError(env, "fcntl", err, FdDetail(fd));
    }
  }
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    ThrowOSError(env, "fork", err);
  }
  if (pid == 0) {
    close(fds[0]);  // or our own copy of the parent's end would keep end of file from coming
    HoldChild(fds[1], bytes, length, static_cast<size_t>(pageSize));
  }
  close(fds[1]);
  Napi::Array result = Napi::Array::New(env, 2);
  result.Set(0u, Napi::Number::New(env, pid));
  result.Set(1u, Napi::Number::New(env, fds[0]));
  return result;
}

void InitForkHold(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports, {{"forkHold", ForkHold}});
}

}  // namespace native
