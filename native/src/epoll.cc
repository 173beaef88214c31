// epoll (Linux): the kernel keeps the interest list, so a wait costs nothing per idle fd.
//   epollCreate() -> epfd
//   epollCtl(epfd, op, fd, events)
//   epollWait(epfd, timeoutMs) -> [fd, events, fd, events, ...]
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "native.h"

namespace native {

// At most this many events come back from one wait, as in libuv. More ready fds are not lost:
// epoll is level-triggered here, so the rest are reported by the next wait.
static constexpr int kMaxEvents = 1024;

static Napi::Value EpollCreate(const Napi::CallbackInfo& info) {
  CountSyscall(info.Env(), Syscall::epoll_create1);
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) ThrowOSError(info.Env(), "epoll_create1", errno);
  return Napi::Number::New(info.Env(), epfd);
}

static Napi::Value EpollCtl(const Napi::CallbackInfo& info) {
  CheckCount(info, "epollCtl", 4);
  int epfd = ArgInt(info, "epollCtl", 0, "epfd", 0, INT_MAX);
  int op = ArgInt(info, "epollCtl", 1, "op", 0, INT_MAX);
  int fd = ArgFd(info, "epollCtl", 2);
  int events = ArgInt(info, "epollCtl", 3, "events", 0, INT_MAX);
  epoll_event event = {};
  event.events = static_cast<uint32_t>(events);
  event.data.fd = fd;
  CountSyscall(info.Env(), Syscall::epoll_ctl);
  if (epoll_ctl(epfd, op, fd, &event) < 0) {
    ThrowOSError(info.Env(), "epoll_ctl", errno, FdDetail(fd));
  }
  return info.Env().Undefined();
}

static Napi::Value EpollWait(const Napi::CallbackInfo& info) {
  CheckCount(info, "epollWait", 2);
  int epfd = ArgInt(info, "epollWait", 0, "epfd", 0, INT_MAX);
  Deadline deadline(ArgTimeoutMs(info, "epollWait", 1));
  epoll_event events[kMaxEvents];
  int ready;
  do {
    CountSyscall(info.Env(), Syscall::epoll_wait);
    ready = epoll_wait(epfd, events, kMaxEvents, deadline.RemainingMs());
  } while (ready < 0 && errno == EINTR);
  if (ready < 0) ThrowOSError(info.Env(), "epoll_wait", errno, FdDetail(epfd));
  Napi::Array result = Napi::Array::New(info.Env(), 2 * ready);
  for (int i = 0; i < ready; i++) {
    result.Set(2 * i, Napi::Number::New(info.Env(), events[i].data.fd));
    result.Set(2 * i + 1, Napi::Number::New(info.Env(), events[i].events));
  }
  return result;
}

void InitEpoll(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports,
                  {{"epollCreate", EpollCreate}, {"epollCtl", EpollCtl}, {"epollWait", EpollWait}});
  ExportConstants(env, exports,
                  {{"EPOLLIN", EPOLLIN},
                   {"EPOLLOUT", EPOLLOUT},
                   {"EPOLLERR", EPOLLERR},
                   {"EPOLLHUP", EPOLLHUP},
                   {"EPOLL_CTL_ADD", EPOLL_CTL_ADD},
                   {"EPOLL_CTL_MOD", EPOLL_CTL_MOD},
                   {"EPOLL_CTL_DEL", EPOLL_CTL_DEL}});
}

}  // namespace native
