// The module's own count of the system calls it makes, per name, so that a lesson can print what
// each way of waiting costs (8_io_uring: readiness against completion).
//   syscallCounts() -> { socket: 93, connect: 93, epoll_wait: 210, ... }  (the non-zero ones)
//   resetSyscallCounts()
// The counters live in AddonData (native.h), one set per environment: a worker thread that loads
// the module counts its own calls, and its counts never mix with the main thread's.
#include "native.h"

namespace native {

#define NATIVE_SYSCALL_NAME(name) #name,
static const char* const kSyscallNames[] = {NATIVE_SYSCALLS(NATIVE_SYSCALL_NAME)};
#undef NATIVE_SYSCALL_NAME
static_assert(sizeof kSyscallNames / sizeof kSyscallNames[0] ==
                  static_cast<size_t>(Syscall::kCount),
              "one name per counter");

static Napi::Value SyscallCounts(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const AddonData& data = Data(env);
  Napi::Object counts = Napi::Object::New(env);
  for (size_t i = 0; i < static_cast<size_t>(Syscall::kCount); i++) {
    if (data.syscalls[i] == 0) continue;
    counts.Set(kSyscallNames[i], Napi::Number::New(env, static_cast<double>(data.syscalls[i])));
  }
  return counts;
}

static Napi::Value ResetSyscallCounts(const Napi::CallbackInfo& info) {
  AddonData& data = Data(info.Env());
  for (uint64_t& count : data.syscalls) count = 0;
  return info.Env().Undefined();
}

void InitSyscallCounts(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports,
                  {{"syscallCounts", SyscallCounts}, {"resetSyscallCounts", ResetSyscallCounts}});
}

}  // namespace native
