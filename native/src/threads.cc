// Native OS threads, to measure what a thread costs next to a process and a coroutine.
//   startThreads(count) -> group id: count pthreads, each blocked until the group is joined
//   joinThreads(id): wakes them and waits until all have ended
//   threadStackSize() -> bytes of address space reserved for each new thread's stack
//   interruptAfter(delayMs, count, intervalMs): for tests of EINTR, a helper thread sends the
//     calling thread SIGUSR2 `count` times
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <condition_variable>
#include <mutex>

#include "native.h"

namespace native {

struct ThreadGroup {
  std::mutex mutex;
  std::condition_variable wake;
  bool released = false;
  std::vector<pthread_t> threads;

  void ReleaseAndJoin() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      released = true;
    }
    wake.notify_all();
    for (pthread_t thread : threads) pthread_join(thread, nullptr);
    threads.clear();
  }
};

void JoinAllThreadGroups(AddonData& data) {
  for (auto& [id, group] : data.threadGroups) group->ReleaseAndJoin();
  data.threadGroups.clear();
}

static void* BlockUntilReleased(void* arg) {
  auto* group = static_cast<ThreadGroup*>(arg);
  std::unique_lock<std::mutex> lock(group->mutex);
  group->wake.wait(lock, [group] { return group->released; });
  return nullptr;
}

static Napi::Value StartThreads(const Napi::CallbackInfo& info) {
  CheckCount(info, "startThreads", 1);
  int count = ArgInt(info, "startThreads", 0, "count", 1, 100000);
  auto group = std::make_shared<ThreadGroup>();
  group->threads.reserve(count);
  for (int i = 0; i < count; i++) {
    pthread_t thread;
    int err = pthread_create(&thread, nullptr, BlockUntilReleased, group.get());
    if (err != 0) {
      group->ReleaseAndJoin();
      ThrowOSError(info.Env(), "pthread_create", err,
                   "thread " + std::to_string(i + 1) + " of " + std::to_string(count));
    }
    group->threads.push_back(thread);
  }
  AddonData& data = Data(info.Env());
  uint32_t id = data.nextThreadGroup++;
  data.threadGroups[id] = group;
  return Napi::Number::New(info.Env(), id);
}

static Napi::Value JoinThreads(const Napi::CallbackInfo& info) {
  CheckCount(info, "joinThreads", 1);
  int id = ArgInt(info, "joinThreads", 0, "id", 0, INT_MAX);
  AddonData& data = Data(info.Env());
  auto found = data.threadGroups.find(static_cast<uint32_t>(id));
  if (found == data.threadGroups.end()) {
    ThrowRangeError(info.Env(), "joinThreads(): no running thread group " + std::to_string(id));
  }
  found->second->ReleaseAndJoin();
  data.threadGroups.erase(found);
  return info.Env().Undefined();
}

static Napi::Value ThreadStackSize(const Napi::CallbackInfo& info) {
  pthread_attr_t attributes;
  pthread_attr_init(&attributes);
  size_t size = 0;
  pthread_attr_getstacksize(&attributes, &size);
  pthread_attr_destroy(&attributes);
  return Napi::Number::New(info.Env(), static_cast<double>(size));
}

struct SignalPlan {
  pthread_t target;
  int delayMs, count, intervalMs;
};

static void SleepMs(int ms) {
  timespec left = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&left, &left) < 0 && errno == EINTR) {
  }
}

static void* SendSignals(void* arg) {
  SignalPlan plan = *static_cast<SignalPlan*>(arg);
  delete static_cast<SignalPlan*>(arg);
  SleepMs(plan.delayMs);
  for (int i = 0; i < plan.count; i++) {
    if (i > 0) SleepMs(plan.intervalMs);
    pthread_kill(plan.target, SIGUSR2);
  }
  return nullptr;
}

static void DoNothing(int) {}

// The handler is installed without SA_RESTART, replacing any other SIGUSR2 handler (Node's too,
// whose SA_RESTART would have the kernel restart a blocking recv or waitpid by itself, so the
// test would prove nothing): now every signal really interrupts the call with EINTR. Call it from
// the main thread, or from a thread that outlives the signals.
static Napi::Value InterruptAfter(const Napi::CallbackInfo& info) {
  CheckCount(info, "interruptAfter", 3);
  int delayMs = ArgInt(info, "interruptAfter", 0, "delayMs", 0, 60000);
  int count = ArgInt(info, "interruptAfter", 1, "count", 1, 1000);
  int intervalMs = ArgInt(info, "interruptAfter", 2, "intervalMs", 0, 60000);
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = DoNothing;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGUSR2, &action, nullptr) < 0) ThrowOSError(info.Env(), "sigaction", errno);
  auto* plan = new SignalPlan{pthread_self(), delayMs, count, intervalMs};
  pthread_t thread;
  int err = pthread_create(&thread, nullptr, SendSignals, plan);
  if (err != 0) {
    delete plan;
    ThrowOSError(info.Env(), "pthread_create", err);
  }
  pthread_detach(thread);
  return info.Env().Undefined();
}

void InitThreads(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports,
                  {{"startThreads", StartThreads},
                   {"joinThreads", JoinThreads},
                   {"threadStackSize", ThreadStackSize},
                   {"interruptAfter", InterruptAfter}});
}

}  // namespace native
