// The module's entry point: one AddonData per environment, then each family adds its exports.
#include "native.h"

namespace native {

AddonData::~AddonData() { JoinAllThreadGroups(*this); }

AddonData& Data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

void ExportFunctions(Napi::Env env, Napi::Object exports,
                     std::initializer_list<std::pair<const char*, Callback>> functions) {
  for (const auto& [name, callback] : functions) {
    exports.Set(name, Napi::Function::New(env, callback, name));
  }
}

void ExportConstants(Napi::Env env, Napi::Object exports,
                     std::initializer_list<std::pair<const char*, int>> constants) {
  for (const auto& [name, value] : constants) exports.Set(name, Napi::Number::New(env, value));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  InitErrors(env, exports);
  InitSocket(env, exports);
  InitSelect(env, exports);
  InitPoll(env, exports);
#ifdef __linux__
  InitEpoll(env, exports);
#endif
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__)
  InitKqueue(env, exports);
#endif
  InitProcess(env, exports);
  InitThreads(env, exports);
  InitSignals(env, exports);
  InitSyscallCounts(env, exports);
  InitUring(env, exports);  // empty where there is no io_uring
  InitCpu(env, exports);
  InitForkHold(env, exports);
  return exports;
}

}  // namespace native

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return native::Init(env, exports);
}

NODE_API_MODULE(native, InitModule)
