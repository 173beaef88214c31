// kqueue (macOS and the BSDs): like epoll, the kernel keeps the interest list, but each direction
// is its own filter, so an fd watched for reading and writing is two registrations.
//   kqueue() -> kq
//   keventChange(kq, fd, filter, flags)     EV_ADD or EV_DELETE of one filter
//   keventWait(kq, timeoutMs) -> [fd, filter, flags, fd, filter, flags, ...]
#include <fcntl.h>
#include <sys/event.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "native.h"

namespace native {

static constexpr int kMaxEvents = 1024;  // as in epoll.cc: the rest come with the next wait

static Napi::Value Kqueue(const Napi::CallbackInfo& info) {
  CountSyscall(info.Env(), Syscall::kqueue);
  int kq = kqueue();
  if (kq < 0) ThrowOSError(info.Env(), "kqueue", errno);
  // kqueue descriptors are not inherited by fork()ed children anyway; close-on-exec for symmetry.
  CountSyscall(info.Env(), Syscall::fcntl);
  if (fcntl(kq, F_SETFD, FD_CLOEXEC) < 0) {
    int err = errno;
    CountSyscall(info.Env(), Syscall::close);
    close(kq);
    ThrowOSError(info.Env(), "fcntl", err);
  }
  return Napi::Number::New(info.Env(), kq);
}

static Napi::Value KeventChange(const Napi::CallbackInfo& info) {
  CheckCount(info, "keventChange", 4);
  int kq = ArgInt(info, "keventChange", 0, "kq", 0, INT_MAX);
  int fd = ArgFd(info, "keventChange", 1);
  int filter = ArgInt(info, "keventChange", 2, "filter", SHRT_MIN, SHRT_MAX);
  int flags = ArgInt(info, "keventChange", 3, "flags", 0, USHRT_MAX);
  struct kevent change;
  EV_SET(&change, fd, filter, flags, 0, 0, nullptr);
  int result;
  do {
    CountSyscall(info.Env(), Syscall::kevent);
    result = kevent(kq, &change, 1, nullptr, 0, nullptr);
  } while (result < 0 && errno == EINTR);
  if (result < 0) ThrowOSError(info.Env(), "kevent", errno, FdDetail(fd));
  return info.Env().Undefined();
}

static Napi::Value KeventWait(const Napi::CallbackInfo& info) {
  CheckCount(info, "keventWait", 2);
  int kq = ArgInt(info, "keventWait", 0, "kq", 0, INT_MAX);
  Deadline deadline(ArgTimeoutMs(info, "keventWait", 1));
  struct kevent events[kMaxEvents];
  int ready;
  do {
    int remaining = deadline.RemainingMs();
    timespec timeout = {remaining / 1000, (remaining % 1000) * 1000000L};
    CountSyscall(info.Env(), Syscall::kevent);
    ready = kevent(kq, nullptr, 0, events, kMaxEvents, remaining < 0 ? nullptr : &timeout);
  } while (ready < 0 && errno == EINTR);
  if (ready < 0) ThrowOSError(info.Env(), "kevent", errno, FdDetail(kq));
  Napi::Array result = Napi::Array::New(info.Env(), 3 * ready);
  for (int i = 0; i < ready; i++) {
    result.Set(3 * i, Napi::Number::New(info.Env(), static_cast<double>(events[i].ident)));
    result.Set(3 * i + 1, Napi::Number::New(info.Env(), events[i].filter));
    result.Set(3 * i + 2, Napi::Number::New(info.Env(), events[i].flags));
  }
  return result;
}

void InitKqueue(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports,
                  {{"kqueue", Kqueue}, {"keventChange", KeventChange}, {"keventWait", KeventWait}});
  ExportConstants(env, exports,
                  {{"EVFILT_READ", EVFILT_READ},
                   {"EVFILT_WRITE", EVFILT_WRITE},
                   {"EV_ADD", EV_ADD},
                   {"EV_DELETE", EV_DELETE},
                   {"EV_EOF", EV_EOF},
                   {"EV_ERROR", EV_ERROR}});
}

}  // namespace native
