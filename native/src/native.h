// Shared declarations of the native module. Each .cc file wraps one family of system calls; this
// header holds what they all need: argument checks that throw a TypeError or RangeError naming the
// argument, and ThrowOSError, which turns errno into the TypeScript error class (BlockingIOError,
// ConnectionRefusedError, ...) through a factory that index.ts installs at load time.
#pragma once

#include <napi.h>
#include <sys/socket.h>

#include <cstdint>
#include <initializer_list>
#include <utility>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace native {

// The system calls the module counts (syscallCounts() in index.ts): those of the I/O families,
// sockets, select, poll, epoll, kqueue and io_uring, which the lessons compare. Each function
// counts every call it makes, an EINTR retry included, just before making it.
#define NATIVE_SYSCALLS(X)                                                                      \
  X(socket) X(socketpair) X(pipe) X(fcntl) X(connect) X(bind) X(listen) X(accept)               \
  X(getsockname) X(setsockopt) X(getsockopt) X(send) X(recv) X(read) X(write) X(shutdown)       \
  X(close) X(select) X(poll) X(epoll_create1) X(epoll_ctl) X(epoll_wait) X(kqueue) X(kevent)    \
  X(io_uring_setup) X(io_uring_enter) X(mmap) X(munmap)
#define NATIVE_SYSCALL_ENUM(name) name,
enum class Syscall { NATIVE_SYSCALLS(NATIVE_SYSCALL_ENUM) kCount };
#undef NATIVE_SYSCALL_ENUM

// Per-environment state: the main thread and each worker_thread that loads the module get their
// own, so nothing JavaScript-owned is shared between threads.
struct ThreadGroup;
struct AddonData {
  Napi::FunctionReference errorFactory;
  // One plain counter per system call: each environment runs on one thread, so no lock is needed.
  uint64_t syscalls[static_cast<size_t>(Syscall::kCount)] = {};
  std::vector<uint8_t> recvScratch;  // small recv()s read here, then copy the bytes received
  std::map<uint32_t, std::shared_ptr<ThreadGroup>> threadGroups;
  uint32_t nextThreadGroup = 1;
  ~AddonData();  // releases and joins the threads that JavaScript started and never joined
};
void JoinAllThreadGroups(AddonData& data);

AddonData& Data(Napi::Env env);
inline void CountSyscall(Napi::Env env, Syscall call) {
  Data(env).syscalls[static_cast<size_t>(call)]++;
}

// Argument checks. Each one throws (as a C++ exception that node-addon-api turns into a JavaScript
// exception) before any value is converted, so no input from JavaScript can crash the process.
void CheckCount(const Napi::CallbackInfo& info, const char* fn, size_t count);
int ArgInt(const Napi::CallbackInfo& info, const char* fn, size_t i, const char* name, int64_t min,
           int64_t max);
int ArgFd(const Napi::CallbackInfo& info, const char* fn, size_t i);
bool ArgBool(const Napi::CallbackInfo& info, const char* fn, size_t i, const char* name);
std::string ArgString(const Napi::CallbackInfo& info, const char* fn, size_t i, const char* name);
Napi::Uint8Array ArgBytes(const Napi::CallbackInfo& info, const char* fn, size_t i,
                          const char* name);
Napi::Int32Array ArgInt32Array(const Napi::CallbackInfo& info, const char* fn, size_t i,
                               const char* name);
// A timeout in milliseconds: a negative number means "wait forever".
int ArgTimeoutMs(const Napi::CallbackInfo& info, const char* fn, size_t i);

[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string& message);
[[noreturn]] void ThrowRangeError(Napi::Env env, const std::string& message);
// Throws the OSError subclass for err (an errno value); detail names the fd or address involved.
[[noreturn]] void ThrowOSError(Napi::Env env, const char* syscall, int err,
                               const std::string& detail = "");
// The same for getaddrinfo's own error codes (EAI_NONAME, ...), which are not errno values.
[[noreturn]] void ThrowGaiError(Napi::Env env, int eaiCode, const std::string& detail);
std::string FdDetail(int fd);
// The system's message for an errno value ("Connection refused"), thread-safe (strerror_r).
std::string ErrnoMessage(int err);
// "127.0.0.1" or "::1" plus a port into a sockaddr; a RangeError names fn for anything else.
socklen_t ToSockaddr(Napi::Env env, const char* fn, const std::string& host, int port,
                     sockaddr_storage* out);
// pipe(), both ends close-on-exec from the start (atomically where the system can: pipe2).
void CloexecPipe(Napi::Env env, int fds[2]);
// In a child just forked from Node: every signal back to its default action, none blocked.
// Async-signal-safe (sigaction and sigprocmask only).
void DefaultSignalsInChild();

// Milliseconds left until a deadline, for retrying a wait after EINTR without waiting longer than
// asked. A negative timeout stays negative (wait forever).
class Deadline {
 public:
  explicit Deadline(int timeoutMs);
  int RemainingMs() const;

 private:
  int timeoutMs_;
  int64_t endNs_;
};

// Adds named functions and integer constants to the module's exports.
using Callback = Napi::Value (*)(const Napi::CallbackInfo&);
void ExportFunctions(Napi::Env env, Napi::Object exports,
                     std::initializer_list<std::pair<const char*, Callback>> functions);
void ExportConstants(Napi::Env env, Napi::Object exports,
                     std::initializer_list<std::pair<const char*, int>> constants);

// Each family of functions adds its exports here.
void InitErrors(Napi::Env env, Napi::Object exports);
void InitSocket(Napi::Env env, Napi::Object exports);
void InitSelect(Napi::Env env, Napi::Object exports);
void InitPoll(Napi::Env env, Napi::Object exports);
void InitEpoll(Napi::Env env, Napi::Object exports);
void InitKqueue(Napi::Env env, Napi::Object exports);
void InitProcess(Napi::Env env, Napi::Object exports);
void InitThreads(Napi::Env env, Napi::Object exports);
void InitSignals(Napi::Env env, Napi::Object exports);
void InitSyscallCounts(Napi::Env env, Napi::Object exports);
void InitUring(Napi::Env env, Napi::Object exports);
void InitCpu(Napi::Env env, Napi::Object exports);
void InitForkHold(Napi::Env env, Napi::Object exports);

}  // namespace native
