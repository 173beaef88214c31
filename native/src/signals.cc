// Signals for a loop that sleeps in its own poller: the self-pipe trick.
//   watchSignals(signals) -> readFd: from now on each of these signals writes its number, one byte,
//     into a pipe whose read end the loop watches like any socket
//   unwatchSignals(): puts back the handlers that were there before, and closes the pipe
//
// Node runs a JavaScript signal handler (process.on("SIGINT")) from its own event loop. A program
// whose thread sleeps in our epoll_wait never gets back to Node's loop while it sleeps, and the wait
// itself retries EINTR, so such a handler would run only when the wait ends for some other reason.
// libuv (uv_signal_t) and Python (signal.set_wakeup_fd) solve this the same way: the C handler does
// the only thing a handler may safely do, write() a byte to a pipe, and the loop, which watches the
// pipe's read end, wakes and runs the real handler as an ordinary callback.
//
// Signal dispositions belong to the whole process, so there is one pipe per process, whichever
// thread asked for it.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <mutex>

#include "native.h"

namespace native {

static std::mutex gMutex;  // guards the set-up below; the handler itself takes no lock
static int gPipe[2] = {-1, -1};
static struct sigaction gPrevious[NSIG];
static bool gWatched[NSIG];

static void OnSignal(int signal) {
  int saved = errno;  // a handler must leave errno as it found it
  unsigned char byte = static_cast<unsigned char>(signal);
  // Non-blocking: if the pipe is full, a wake-up is already waiting, and this one can be lost.
  ssize_t ignored = write(gPipe[1], &byte, 1);
  (void)ignored;
  errno = saved;
}

static void SetNonBlocking(Napi::Env env, int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    ThrowOSError(env, "fcntl", errno, FdDetail(fd));
  }
}

static void RestoreHandlers() {
  for (int signal = 1; signal < NSIG; signal++) {
    if (!gWatched[signal]) continue;
    sigaction(signal, &gPrevious[signal], nullptr);
    gWatched[signal] = false;
  }
}

static void ClosePipe() {
  for (int& fd : gPipe) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
}

// watchSignals(signals: number[]) -> the pipe's read end, non-blocking
static Napi::Value WatchSignals(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckCount(info, "watchSignals", 1);
  if (!info[0].IsArray()) ThrowTypeError(env, "watchSignals(): argument 'signals' must be an array");
  Napi::Array list = info[0].As<Napi::Array>();
  std::vector<int> signals;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value value = list.Get(i);
    if (!value.IsNumber()) {
      ThrowTypeError(env, "watchSignals(): signals[" + std::to_string(i) + "] must be an integer");
    }
    double number = value.As<Napi::Number>().DoubleValue();
    // SIGKILL and SIGSTOP cannot be caught; sigaction would refuse them with EINVAL.
    if (number != static_cast<int>(number) || number < 1 || number >= NSIG || number == SIGKILL ||
        number == SIGSTOP) {
      ThrowRangeError(env, "watchSignals(): signals[" + std::to_string(i) +
                               "] is not a signal that can be caught: " +
                               value.ToString().Utf8Value());
    }
    signals.push_back(static_cast<int>(number));
  }
  std::lock_guard<std::mutex> lock(gMutex);
  if (gPipe[0] >= 0) ThrowRangeError(env, "watchSignals(): already watching; unwatchSignals() first");
  CloexecPipe(env, gPipe);
  try {
    SetNonBlocking(env, gPipe[0]);
    SetNonBlocking(env, gPipe[1]);
  } catch (...) {
    ClosePipe();
    throw;
  }
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = OnSignal;
  action.sa_flags = SA_RESTART;  // other blocking calls go on; the pipe does the waking
  sigemptyset(&action.sa_mask);
  for (int signal : signals) {
    if (gWatched[signal]) continue;  // listed twice
    if (sigaction(signal, &action, &gPrevious[signal]) < 0) {
      int err = errno;
      RestoreHandlers();
      ClosePipe();
      ThrowOSError(env, "sigaction", err, "signal " + std::to_string(signal));
    }
    gWatched[signal] = true;
  }
  return Napi::Number::New(env, gPipe[0]);
}

// unwatchSignals(): harmless when nothing is watched
static Napi::Value UnwatchSignals(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(gMutex);
  RestoreHandlers();
  ClosePipe();
  return info.Env().Undefined();
}

void InitSignals(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports,
                  {{"watchSignals", WatchSignals}, {"unwatchSignals", UnwatchSignals}});
  ExportConstants(env, exports, {{"SIGINT", SIGINT}, {"SIGTERM", SIGTERM}, {"SIGHUP", SIGHUP}});
}

}  // namespace native
