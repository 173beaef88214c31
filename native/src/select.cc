// select(readFds, writeFds, timeoutMs) -> [readableFds, writableFds]
//
// An fd_set is a fixed bitmap of FD_SETSIZE bits (1024 on Linux and macOS), and FD_SET does no
// bounds check: FD_SET(5000, &set) writes past the end of the set and corrupts the stack. That is
// the limit the lecture means when it says select handles only 1024 descriptors. So every fd is
// checked before any bit is set, and one that does not fit is refused with a RangeError.
//
// The fds are copied out of the caller's arrays once, checked once, and that copy is what both
// FD_SET and FD_ISSET see. Reading the arrays again after select() would trust memory that
// another thread (a worker sharing the buffer) may have rewritten meanwhile with an fd past the
// end of the bitmap.
#include <sys/select.h>

#include <algorithm>
#include <cerrno>

#include "native.h"

namespace native {

// The fds of one argument, copied and each checked to fit in an fd_set.
static std::vector<int> CopyFds(Napi::Env env, const Napi::Int32Array& array) {
  std::vector<int> fds(array.Data(), array.Data() + array.ElementLength());
  for (int fd : fds) {
    if (fd < 0 || fd >= FD_SETSIZE) {
      ThrowRangeError(env, "select(): fd " + std::to_string(fd) +
                               " does not fit in an fd_set: select() can only watch fds 0 to " +
                               std::to_string(FD_SETSIZE - 1) + " (FD_SETSIZE is " +
                               std::to_string(FD_SETSIZE) + "); use poll or epoll");
    }
  }
  return fds;
}

static int FillSet(const std::vector<int>& fds, fd_set* set) {
  FD_ZERO(set);
  int highest = -1;
  for (int fd : fds) {
    FD_SET(fd, set);
    if (fd > highest) highest = fd;
  }
  return highest;
}

static Napi::Array ReadySet(Napi::Env env, const std::vector<int>& fds, const fd_set& set) {
  Napi::Array ready = Napi::Array::New(env);
  for (int fd : fds) {
    if (FD_ISSET(fd, &set)) ready.Set(ready.Length(), Napi::Number::New(env, fd));
  }
  return ready;
}

static Napi::Value Select(const Napi::CallbackInfo& info) {
  CheckCount(info, "select", 3);
  Napi::Int32Array readArray = ArgInt32Array(info, "select", 0, "readFds");
  Napi::Int32Array writeArray = ArgInt32Array(info, "select", 1, "writeFds");
  Deadline deadline(ArgTimeoutMs(info, "select", 2));
  std::vector<int> readFds = CopyFds(info.Env(), readArray);
  std::vector<int> writeFds = CopyFds(info.Env(), writeArray);
  fd_set readable, writable;
  int ready;
  do {
    // select() overwrites the sets with its answer, so they are filled again on every retry.
    int highest = std::max(FillSet(readFds, &readable), FillSet(writeFds, &writable));
    int remaining = deadline.RemainingMs();
    timeval timeout = {remaining / 1000, (remaining % 1000) * 1000};
    CountSyscall(info.Env(), Syscall::select);
    ready = select(highest + 1, &readable, &writable, nullptr, remaining < 0 ? nullptr : &timeout);
  } while (ready < 0 && errno == EINTR);
  if (ready < 0) ThrowOSError(info.Env(), "select", errno);
  Napi::Array result = Napi::Array::New(info.Env(), 2);
  result.Set(0u, ReadySet(info.Env(), readFds, readable));
  result.Set(1u, ReadySet(info.Env(), writeFds, writable));
  return result;
}

void InitSelect(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports, {{"select", Select}});
  ExportConstants(env, exports, {{"FD_SETSIZE", FD_SETSIZE}});
}

}  // namespace native
