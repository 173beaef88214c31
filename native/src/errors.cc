// errno to JavaScript errors. The C++ side knows only the number, the call and what it was called
// on; the TypeScript side (errors.ts) owns the classes and the errno-to-class table, and hands this
// module a factory at load time. So a failed recv() throws a ConnectionResetError whose stack
// points at the JavaScript line that called recv().
#include <netdb.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "native.h"

namespace native {

std::string FdDetail(int fd) { return "fd " + std::to_string(fd); }

// Builds the error with index.ts's factory, from what the system said: the call, the number,
// what it was called on, the system's message, and (for getaddrinfo) the code's name.
[[noreturn]] static void ThrowFromFactory(Napi::Env env, const char* syscall, int number,
                                          const std::string& detail, const char* message,
                                          const char* code = nullptr) {
  AddonData& data = Data(env);
  if (data.errorFactory.IsEmpty()) {
    // Only reachable if the .node file is loaded without index.ts: still a useful error.
    Napi::Error error = Napi::Error::New(env, std::string(syscall) + ": " + message);
    error.Set("errno", Napi::Number::New(env, number));
    error.Set("syscall", Napi::String::New(env, syscall));
    throw error;
  }
  std::vector<napi_value> args = {Napi::String::New(env, syscall), Napi::Number::New(env, number),
                                  Napi::String::New(env, detail), Napi::String::New(env, message)};
  if (code != nullptr) args.push_back(Napi::String::New(env, code));
  throw Napi::Error(env, data.errorFactory.Call(args));
}

// strerror_r comes in two shapes: glibc's (with _GNU_SOURCE, which g++ always defines) returns
// the message, which may or may not be in our buffer; POSIX's returns 0 and fills the buffer.
// One overload for each return type picks whichever this system has. Not plain strerror: it may
// share one static buffer between threads, and worker threads load this module too.
[[maybe_unused]] static const char* StrerrorResult(const char* message, const char*) {
  return message;
}
[[maybe_unused]] static const char* StrerrorResult(int failed, const char* buffer) {
  return failed == 0 ? buffer : "Unknown error";
}

std::string ErrnoMessage(int err) {
  char buffer[256] = "";
  return StrerrorResult(strerror_r(err, buffer, sizeof buffer), buffer);
}

void ThrowOSError(Napi::Env env, const char* syscall, int err, const std::string& detail) {
  ThrowFromFactory(env, syscall, err, detail, ErrnoMessage(err).c_str());
}

static const char* GaiCodeName(int code) {
  switch (code) {
    case EAI_AGAIN: return "EAI_AGAIN";
    case EAI_BADFLAGS: return "EAI_BADFLAGS";
    case EAI_FAIL: return "EAI_FAIL";
    case EAI_FAMILY: return "EAI_FAMILY";
    case EAI_MEMORY: return "EAI_MEMORY";
    case EAI_NONAME: return "EAI_NONAME";
    case EAI_SERVICE: return "EAI_SERVICE";
    case EAI_SOCKTYPE: return "EAI_SOCKTYPE";
#ifdef EAI_NODATA
    case EAI_NODATA: return "EAI_NODATA";
#endif
    default: return "EAI_UNKNOWN";
  }
}

void ThrowGaiError(Napi::Env env, int eaiCode, const std::string& detail) {
  if (eaiCode == EAI_SYSTEM) ThrowOSError(env, "getaddrinfo", errno, detail);
  ThrowFromFactory(env, "getaddrinfo", eaiCode, detail, gai_strerror(eaiCode),
                   GaiCodeName(eaiCode));
}

static int64_t MonotonicNs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

Deadline::Deadline(int timeoutMs)
    : timeoutMs_(timeoutMs), endNs_(MonotonicNs() + static_cast<int64_t>(timeoutMs) * 1000000) {}

int Deadline::RemainingMs() const {
  if (timeoutMs_ < 0) return -1;
  int64_t left = endNs_ - MonotonicNs();
  if (left <= 0) return 0;
  return static_cast<int>((left + 999999) / 1000000);  // round up: never wake before the deadline
}

// setErrorFactory(factory): (syscall, errno, detail, strerror, code?) => Error
static Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  CheckCount(info, "setErrorFactory", 1);
  if (!info[0].IsFunction()) ThrowTypeError(info.Env(), "setErrorFactory(): expects a function");
  Data(info.Env()).errorFactory = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// strerror(errno): the system's message for an errno value, for errors that arrive as numbers
// (getsockopt SO_ERROR after a non-blocking connect).
static Napi::Value StrError(const Napi::CallbackInfo& info) {
  CheckCount(info, "strerror", 1);
  int err = ArgInt(info, "strerror", 0, "errno", 0, 4095);
  return Napi::String::New(info.Env(), ErrnoMessage(err));
}

void InitErrors(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports, {{"setErrorFactory", SetErrorFactory}, {"strerror", StrError}});
}

}  // namespace native
