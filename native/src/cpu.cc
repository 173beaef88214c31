// Threads that compute, for 0_threads: what more threads than cores buy when the work is CPU.
//
//   spinThreads(count, iterations) -> milliseconds
//
// Starts `count` pthreads that each run the same fixed amount of arithmetic (`iterations` rounds
// of a xorshift random-number step, which no compiler can shorten), waits for all of them, and
// returns the wall time from the first start to the last end. With no more threads than cores,
// they run side by side and the time stays that of one; past the cores, they take turns.
#include <pthread.h>

#include <chrono>
#include <climits>
#include <cstdint>
#include <vector>

#include "native.h"

namespace native {

struct Spin {
  int64_t iterations;
  uint64_t result;  // written once at the end, so the loop's work is used and cannot be dropped
};

static void* RunSpin(void* arg) {
  auto* spin = static_cast<Spin*>(arg);
  uint64_t x = 88172645463325252ull;
  for (int64_t i = 0; i < spin->iterations; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  spin->result = x;
  return nullptr;
}

static Napi::Value SpinThreads(const Napi::CallbackInfo& info) {
  CheckCount(info, "spinThreads", 2);
  int count = ArgInt(info, "spinThreads", 0, "count", 1, 4096);
  int iterations = ArgInt(info, "spinThreads", 1, "iterations", 1, INT_MAX);
  std::vector<Spin> spins(count, Spin{iterations, 0});
  std::vector<pthread_t> threads;
  threads.reserve(count);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < count; i++) {
    pthread_t thread;
    int err = pthread_create(&thread, nullptr, RunSpin, &spins[i]);
    if (err != 0) {
      for (pthread_t started : threads) pthread_join(started, nullptr);
      ThrowOSError(info.Env(), "pthread_create", err,
                   "thread " + std::to_string(i + 1) + " of " + std::to_string(count));
    }
    threads.push_back(thread);
  }
  for (pthread_t thread : threads) pthread_join(thread, nullptr);
  std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
  return Napi::Number::New(info.Env(), elapsed.count());
}

void InitCpu(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports, {{"spinThreads", SpinThreads}});
}

}  // namespace native
