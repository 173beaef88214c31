// poll(pollfds, timeoutMs) -> [fd, revents, fd, revents, ...] for the fds that have events.
//
// pollfds is an Int32Array of [fd, events] pairs, kept by PollSelector and rebuilt only when the
// registrations change: poll() has no memory, so the whole list crosses into the kernel on every
// call, and the kernel checks every entry. That is why poll's cost grows with the number of fds.
#include <poll.h>

#include <cerrno>

#include "native.h"

namespace native {

static Napi::Value Poll(const Napi::CallbackInfo& info) {
  CheckCount(info, "poll", 2);
  Napi::Int32Array pairs = ArgInt32Array(info, "poll", 0, "pollfds");
  Deadline deadline(ArgTimeoutMs(info, "poll", 1));
  if (pairs.ElementLength() % 2 != 0) {
    ThrowRangeError(info.Env(), "poll(): pollfds must hold [fd, events] pairs, got an odd length");
  }
  std::vector<pollfd> entries(pairs.ElementLength() / 2);
  for (size_t i = 0; i < entries.size(); i++) {
    int fd = pairs[2 * i], events = pairs[2 * i + 1];
    if (fd < 0 || events < 0 || events > 0xffff) {
      ThrowRangeError(info.Env(), "poll(): bad pair [" + std::to_string(fd) + ", " +
                                      std::to_string(events) + "] at index " + std::to_string(i));
    }
    entries[i] = {fd, static_cast<short>(events), 0};
  }
  int ready;
  do {
    CountSyscall(info.Env(), Syscall::poll);
    ready = poll(entries.data(), entries.size(), deadline.RemainingMs());
  } while (ready < 0 && errno == EINTR);
  if (ready < 0) ThrowOSError(info.Env(), "poll", errno);
  Napi::Array result = Napi::Array::New(info.Env());
  for (const pollfd& entry : entries) {
    if (entry.revents == 0) continue;
    result.Set(result.Length(), Napi::Number::New(info.Env(), entry.fd));
    result.Set(result.Length(), Napi::Number::New(info.Env(), entry.revents));
  }
  return result;
}

void InitPoll(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports, {{"poll", Poll}});
  ExportConstants(env, exports,
                  {{"POLLIN", POLLIN},
                   {"POLLOUT", POLLOUT},
                   {"POLLERR", POLLERR},
                   {"POLLHUP", POLLHUP},
                   {"POLLNVAL", POLLNVAL}});
}

}  // namespace native
