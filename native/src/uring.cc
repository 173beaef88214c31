// io_uring (Linux 5.11 and newer): completion instead of readiness.
//
// epoll says "fd 7 is readable: now you may call recv". io_uring takes the recv itself: the program
// writes "recv up to 4096 bytes from fd 7 into this buffer" into a submission queue entry (SQE),
// and later reads "done: 1448 bytes" from a completion queue entry (CQE). Both queues are rings in
// memory that the kernel shares with us (mmap), so queuing a request and reading an answer are
// plain memory accesses; one io_uring_enter hands the kernel every SQE queued since the last one,
// and can sleep in the same call until answers come. Windows' IOCP works the same way.
//
//   new IoUring(entries) -> ring              io_uring_setup, then mmap of the rings
//   ioUringPrepConnect(ring, fd, host, port)  queue an SQE, no system call; each prep returns
//   ioUringPrepSend(ring, fd, bytes)            the request's ticket. send copies the bytes,
//   ioUringPrepRecv(ring, fd, size)             recv gets a buffer of size bytes from the ring
//   ioUringPrepCancel(ring, ticket)           IORING_OP_ASYNC_CANCEL of an earlier request
//   ioUringSubmit(ring) -> SQEs taken         io_uring_enter: hand over what is queued
//   ioUringWait(ring, minComplete, timeoutMs) io_uring_enter: submit, and sleep until enough
//     -> CQEs ready                             have completed
//   ioUringReap(ring)                         read the CQEs, no system call:
//     -> [ticket, opcode, fd, res, Buffer | null, ...]
//   ioUringInFlight(ring)                     requests whose CQE has not been reaped yet
//   ioUringClose(ring)                        cancel what is in flight, wait for it, unmap, close
// A ticket is the request's user_data: the number its CQE comes back with. res is what the system
// call would have returned, or -errno.
//
// A buffer handed to the kernel must stay where it is until the request's CQE says the kernel is
// done with it: the kernel writes into a recv's buffer whenever the data arrives, long after
// ioUringPrepRecv returned. So the ring owns every buffer, and every address connect was given,
// from the SQE to the CQE, in C++ memory that the garbage collector cannot free or move. Reaping
// copies what a recv received into a JavaScript Buffer, and only then frees the ring's.
//
// The rings' heads and tails are shared with the kernel, which runs on other CPUs. The order of
// memory accesses matters, as in liburing (src/include/liburing/barrier.h):
//  - SQ: the SQE is written first, then the tail moves, with a release store, so the kernel never
//    sees a tail that covers an entry not yet written;
//  - CQ: the tail is read with an acquire load, so the CQEs it covers are read after it, never
//    stale; the head moves after they are read, with a release store, so the kernel never reuses
//    a slot we are still reading.
#include "native.h"

#if defined(__linux__) && defined(__has_include)
#if __has_include(<linux/io_uring.h>)
#include <linux/io_uring.h>
#endif
#endif

// IORING_FEAT_EXT_ARG arrived with Linux 5.11, after every opcode used here. Older headers (or
// none, as on macOS) build the module without io_uring; uring.ts then says why it is missing.
#ifdef IORING_FEAT_EXT_ARG
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <unordered_map>

namespace native {
namespace {

// The largest buffer one request may take, as for recv() in socket.cc.
constexpr uint32_t kMaxBuffer = 64 * 1024 * 1024;
// The kernel's limit on submission queue entries (IORING_MAX_ENTRIES).
constexpr int kMaxEntries = 32768;
// How long close waits for the requests it cancelled to finish, before it gives up on them.
constexpr int kDrainMs = 2000;
// The user_data of the cancels that close sends itself; tickets start at 1.
constexpr uint64_t kCloseCancel = 0;
// Tickets are JavaScript numbers: integers are exact up to 2^53.
constexpr double kMaxTicket = 9007199254740991.0;

// The tag that proves an object is a ring, before it is unwrapped (any object could be passed).
constexpr napi_type_tag kRingTag = {0x6b1f3a0c2d4e4f51, 0x9a7c5e3b1d2f4a68};

template <typename T>
T LoadAcquire(const T* shared) {
  return __atomic_load_n(shared, __ATOMIC_ACQUIRE);
}

template <typename T>
void StoreRelease(T* shared, T value) {
  __atomic_store_n(shared, value, __ATOMIC_RELEASE);
}

// One request from its SQE to its CQE, and the memory the kernel may touch meanwhile.
struct Request {
  uint8_t opcode = 0;
  int fd = -1;
  std::unique_ptr<uint8_t[]> buffer;  // send: the bytes to send; recv: where the bytes go
  sockaddr_storage address = {};      // connect: where to
};

class Ring : public Napi::ObjectWrap<Ring> {
 public:
  explicit Ring(const Napi::CallbackInfo& info);
  ~Ring() override { Shutdown(nullptr); }

  Napi::Value Queue(Napi::Env env, const char* fn, std::unique_ptr<Request> request,
                    uint64_t addr, uint32_t len, uint64_t off, uint32_t msgFlags);
  int Submit(Napi::Env env);
  unsigned Wait(Napi::Env env, unsigned minComplete, int timeoutMs);
  Napi::Array Reap(Napi::Env env);
  size_t InFlight() const { return requests_.size(); }
  void Close(Napi::Env env) { Shutdown(&env); }
  void CheckOpen(Napi::Env env, const char* fn) const;

 private:
  void* Map(Napi::Env env, size_t size, uint64_t offset);
  io_uring_sqe* NextSqe(Napi::Env env);
  void Publish() { StoreRelease(sqTail_, ++sqeTail_); }
  unsigned Unsubmitted() const { return sqeTail_ - LoadAcquire(sqHead_); }
  unsigned Ready() const { return LoadAcquire(cqTail_) - *cqHead_; }
  int Enter(Napi::Env* env, unsigned toSubmit, unsigned minComplete, int timeoutMs);
  template <typename Each>
  void ReapEach(Each each);
  void Shutdown(Napi::Env* env);
  void Release(Napi::Env* env);

  int fd_ = -1;
  unsigned features_ = 0;
  // The mappings: the SQ ring (which also holds the CQ ring where the kernel maps both at once,
  // IORING_FEAT_SINGLE_MMAP), the CQ ring otherwise, and the array of SQEs.
  void* sqRing_ = MAP_FAILED;
  size_t sqRingSize_ = 0;
  void* cqRing_ = MAP_FAILED;
  size_t cqRingSize_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  size_t sqesSize_ = 0;
  // Inside them: the kernel's head and tail of each ring, and the sizes it chose.
  unsigned* sqHead_ = nullptr;
  unsigned* sqTail_ = nullptr;
  unsigned* sqArray_ = nullptr;
  unsigned sqMask_ = 0;
  unsigned sqEntries_ = 0;
  unsigned sqeTail_ = 0;  // ours: the kernel's tail moves to it as each SQE is published
  unsigned* cqHead_ = nullptr;
  unsigned* cqTail_ = nullptr;
  io_uring_cqe* cqes_ = nullptr;
  unsigned cqMask_ = 0;
  unsigned cqEntries_ = 0;
  // Every request whose CQE has not been reaped, by ticket, with what the kernel may touch.
  std::unordered_map<uint64_t, std::unique_ptr<Request>> requests_;
  uint64_t nextTicket_ = 1;
};

Ring::Ring(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Ring>(info) {
  Napi::Env env = info.Env();
  CheckCount(info, "IoUring", 1);
  int entries = ArgInt(info, "IoUring", 0, "entries", 1, kMaxEntries);
  info.This().As<Napi::Object>().TypeTag(&kRingTag);
  io_uring_params params;
  std::memset(&params, 0, sizeof params);
  CountSyscall(env, Syscall::io_uring_setup);
  fd_ = static_cast<int>(syscall(__NR_io_uring_setup, entries, &params));
  // ENOSYS: a kernel without io_uring; EPERM: refused, by seccomp (Docker's default profile) or
  // by sysctl kernel.io_uring_disabled. The ring fd is close-on-exec from the start.
  if (fd_ < 0) ThrowOSError(env, "io_uring_setup", errno);
  try {
    features_ = params.features;
    if ((features_ & IORING_FEAT_EXT_ARG) == 0) {
      ThrowOSError(env, "io_uring_setup", ENOSYS,
                   "needs Linux 5.11 or newer: no IORING_FEAT_EXT_ARG");
    }
    sqRingSize_ = params.sq_off.array + params.sq_entries * sizeof(unsigned);
    cqRingSize_ = params.cq_off.cqes + params.cq_entries * sizeof(io_uring_cqe);
    if (features_ & IORING_FEAT_SINGLE_MMAP) {
      sqRingSize_ = cqRingSize_ = std::max(sqRingSize_, cqRingSize_);
    }
    sqRing_ = Map(env, sqRingSize_, IORING_OFF_SQ_RING);
    cqRing_ = (features_ & IORING_FEAT_SINGLE_MMAP) ? sqRing_
                                                    : Map(env, cqRingSize_, IORING_OFF_CQ_RING);
    sqesSize_ = params.sq_entries * sizeof(io_uring_sqe);
    sqes_ = static_cast<io_uring_sqe*>(Map(env, sqesSize_, IORING_OFF_SQES));
  } catch (...) {
    Release(&env);  // the destructor does not run for an object whose constructor threw
    throw;
  }
  auto* sq = static_cast<uint8_t*>(sqRing_);
  auto* cq = static_cast<uint8_t*>(cqRing_);
  sqHead_ = reinterpret_cast<unsigned*>(sq + params.sq_off.head);
  sqTail_ = reinterpret_cast<unsigned*>(sq + params.sq_off.tail);
  sqArray_ = reinterpret_cast<unsigned*>(sq + params.sq_off.array);
  sqMask_ = *reinterpret_cast<unsigned*>(sq + params.sq_off.ring_mask);
  sqEntries_ = *reinterpret_cast<unsigned*>(sq + params.sq_off.ring_entries);
  sqeTail_ = *sqTail_;
  cqHead_ = reinterpret_cast<unsigned*>(cq + params.cq_off.head);
  cqTail_ = reinterpret_cast<unsigned*>(cq + params.cq_off.tail);
  cqes_ = reinterpret_cast<io_uring_cqe*>(cq + params.cq_off.cqes);
  cqMask_ = *reinterpret_cast<unsigned*>(cq + params.cq_off.ring_mask);
  cqEntries_ = *reinterpret_cast<unsigned*>(cq + params.cq_off.ring_entries);
}

void* Ring::Map(Napi::Env env, size_t size, uint64_t offset) {
  CountSyscall(env, Syscall::mmap);
  void* address = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_,
                       static_cast<off_t>(offset));
  if (address == MAP_FAILED) ThrowOSError(env, "mmap", errno, FdDetail(fd_));
  return address;
}

void Ring::CheckOpen(Napi::Env env, const char* fn) const {
  if (fd_ < 0) ThrowOSError(env, fn, EBADF, "closed io_uring");
}

// The next free SQE, zeroed. If the submission queue is full, what is queued is submitted first,
// as liburing's callers do when io_uring_get_sqe returns NULL.
io_uring_sqe* Ring::NextSqe(Napi::Env env) {
  if (Unsubmitted() >= sqEntries_) Submit(env);
  if (Unsubmitted() >= sqEntries_) ThrowOSError(env, "io_uring_enter", EBUSY, FdDetail(fd_));
  unsigned index = sqeTail_ & sqMask_;
  io_uring_sqe* sqe = &sqes_[index];
  std::memset(sqe, 0, sizeof *sqe);
  sqArray_[index] = index;
  return sqe;
}

// Writes one SQE and publishes it; the request, and the memory it points the kernel at, stays in
// requests_ until its CQE is reaped. Returns the ticket, for JavaScript.
Napi::Value Ring::Queue(Napi::Env env, const char* fn, std::unique_ptr<Request> request,
                        uint64_t addr, uint32_t len, uint64_t off, uint32_t msgFlags) {
  CheckOpen(env, fn);
  // With no more requests than CQ slots, every CQE has a place in the ring: none waits in the
  // kernel's overflow list, and wait() can count on seeing them.
  if (requests_.size() >= cqEntries_) {
    ThrowRangeError(env, std::string(fn) + "(): " + std::to_string(requests_.size()) +
                             " requests are in flight, as many as the completion queue holds; "
                             "reap their completions first");
  }
  io_uring_sqe* sqe = NextSqe(env);
  uint64_t ticket = nextTicket_++;
  sqe->opcode = request->opcode;
  sqe->fd = request->fd;
  sqe->addr = addr;
  sqe->len = len;
  sqe->off = off;
  sqe->msg_flags = msgFlags;
  sqe->user_data = ticket;
  requests_.emplace(ticket, std::move(request));
  Publish();
  return Napi::Number::New(env, static_cast<double>(ticket));
}

// One io_uring_enter: submits toSubmit SQEs and, if minComplete > 0, sleeps until that many CQEs
// are ready or timeoutMs passes (a negative timeout waits for ever). Returns what the call
// returned; errno says why it failed. env is null when the garbage collector closes the ring:
// nothing is counted then.
int Ring::Enter(Napi::Env* env, unsigned toSubmit, unsigned minComplete, int timeoutMs) {
  unsigned flags = minComplete > 0 ? IORING_ENTER_GETEVENTS : 0;
  __kernel_timespec timeout = {timeoutMs / 1000, (timeoutMs % 1000) * 1000000LL};
  io_uring_getevents_arg arg;
  std::memset(&arg, 0, sizeof arg);
  arg.ts = reinterpret_cast<uint64_t>(&timeout);
  const void* argp = nullptr;
  size_t argSize = 0;
  if (minComplete > 0 && timeoutMs >= 0) {
    flags |= IORING_ENTER_EXT_ARG;
    argp = &arg;
    argSize = sizeof arg;
  }
  if (env != nullptr) CountSyscall(*env, Syscall::io_uring_enter);
  return static_cast<int>(
      syscall(__NR_io_uring_enter, fd_, toSubmit, minComplete, flags, argp, argSize));
}

int Ring::Submit(Napi::Env env) {
  int submitted;
  do {
    submitted = Enter(&env, Unsubmitted(), 0, -1);
  } while (submitted < 0 && errno == EINTR);
  if (submitted < 0) ThrowOSError(env, "io_uring_enter", errno, FdDetail(fd_));
  return submitted;
}

unsigned Ring::Wait(Napi::Env env, unsigned minComplete, int timeoutMs) {
  Deadline deadline(timeoutMs);
  for (;;) {
    int result = Enter(&env, Unsubmitted(), minComplete, deadline.RemainingMs());
    if (result < 0 && errno != EINTR && errno != ETIME) {
      ThrowOSError(env, "io_uring_enter", errno, FdDetail(fd_));
    }
    // A call that submitted SQEs returns how many it took, even when a signal cut its wait
    // short; so the ring itself says whether the wait is over.
    if (Ready() >= minComplete && Unsubmitted() == 0) break;
    if ((result < 0 && errno == ETIME) || deadline.RemainingMs() == 0) break;
  }
  return Ready();
}

// Takes each CQE off the ring: its request leaves requests_ (and frees its buffers once `each` has
// seen them), then the head moves past it. CQEs of close's own cancels are skipped.
template <typename Each>
void Ring::ReapEach(Each each) {
  unsigned head = *cqHead_;  // only we write the head, so a plain read is exact
  unsigned tail = LoadAcquire(cqTail_);
  while (head != tail) {
    io_uring_cqe cqe = cqes_[head & cqMask_];
    StoreRelease(cqHead_, ++head);
    auto found = requests_.find(cqe.user_data);
    if (found == requests_.end()) continue;
    std::unique_ptr<Request> request = std::move(found->second);
    requests_.erase(found);
    each(cqe.user_data, *request, cqe.res);
  }
}

Napi::Array Ring::Reap(Napi::Env env) {
  Napi::Array reaped = Napi::Array::New(env);
  uint32_t i = 0;
  ReapEach([&](uint64_t ticket, const Request& request, int res) {
    reaped.Set(i++, Napi::Number::New(env, static_cast<double>(ticket)));
    reaped.Set(i++, Napi::Number::New(env, request.opcode));
    reaped.Set(i++, Napi::Number::New(env, request.fd));
    reaped.Set(i++, Napi::Number::New(env, res));
    if (request.opcode == IORING_OP_RECV && res >= 0) {
      reaped.Set(i++, Napi::Buffer<uint8_t>::Copy(env, request.buffer.get(), res));
    } else {
      reaped.Set(i++, env.Null());
    }
  });
  return reaped;
}

// Closing the ring fd alone is not enough while requests are in flight: the kernel tears the ring
// down in the background, and a recv it has not cancelled yet could still write into a buffer we
// have freed. So every request still in flight is cancelled first, and its CQE awaited. One that
// does not end within kDrainMs keeps its memory for ever: a leak is better than the kernel writing
// into memory that has been reused.
void Ring::Shutdown(Napi::Env* env) {
  if (fd_ < 0) return;
  ReapEach([](uint64_t, const Request&, int) {});
  if (!requests_.empty()) {
    for (const auto& entry : requests_) {
      if (entry.second->opcode == IORING_OP_ASYNC_CANCEL) continue;
      if (Unsubmitted() >= sqEntries_ && Enter(env, Unsubmitted(), 0, -1) < 0) break;
      if (Unsubmitted() >= sqEntries_) break;
      unsigned index = sqeTail_ & sqMask_;
      io_uring_sqe* sqe = &sqes_[index];
      std::memset(sqe, 0, sizeof *sqe);
      sqe->opcode = IORING_OP_ASYNC_CANCEL;
      sqe->fd = -1;
      sqe->addr = entry.first;
      sqe->user_data = kCloseCancel;
      sqArray_[index] = index;
      Publish();
    }
    Deadline deadline(kDrainMs);
    while (!requests_.empty() && deadline.RemainingMs() != 0) {
      int result = Enter(env, Unsubmitted(), 1, deadline.RemainingMs());
      if (result < 0 && errno != EINTR && errno != ETIME) break;
      ReapEach([](uint64_t, const Request&, int) {});
    }
    for (auto& entry : requests_) entry.second.release();  // still the kernel's: leaked
    requests_.clear();
  }
  Release(env);
}

// Unmaps whatever is mapped and closes the fd; for the constructor's failures too.
void Ring::Release(Napi::Env* env) {
  auto unmap = [&](void* address, size_t size) {
    if (address == MAP_FAILED || address == nullptr) return;
    if (env != nullptr) CountSyscall(*env, Syscall::munmap);
    munmap(address, size);
  };
  unmap(sqes_ == nullptr ? MAP_FAILED : sqes_, sqesSize_);
  if (cqRing_ != sqRing_) unmap(cqRing_, cqRingSize_);
  unmap(sqRing_, sqRingSize_);
  sqes_ = nullptr;
  cqRing_ = sqRing_ = MAP_FAILED;
  if (fd_ >= 0) {
    if (env != nullptr) CountSyscall(*env, Syscall::close);
    close(fd_);
    fd_ = -1;
  }
}

// The ring an exported function was given as its first argument: checked by its tag before it
// is unwrapped, so no other object can pass for one.
Ring& ArgRing(const Napi::CallbackInfo& info, const char* fn, size_t count) {
  CheckCount(info, fn, count);
  bool isRing = info[0].IsObject() && info[0].As<Napi::Object>().CheckTypeTag(&kRingTag);
  if (!isRing) {
    ThrowTypeError(info.Env(), std::string(fn) + "(): argument 'ring' must be an IoUring");
  }
  return *Ring::Unwrap(info[0].As<Napi::Object>());
}

// A new request for a prep function: its opcode, and the fd of argument 1 (-1 for a cancel).
std::unique_ptr<Request> NewRequest(const Napi::CallbackInfo& info, const char* fn,
                                    uint8_t opcode) {
  auto request = std::make_unique<Request>();
  request->opcode = opcode;
  request->fd = opcode == IORING_OP_ASYNC_CANCEL ? -1 : ArgFd(info, fn, 1);
  return request;
}

Napi::Value PrepConnect(const Napi::CallbackInfo& info) {
  const char* fn = "ioUringPrepConnect";
  Ring& ring = ArgRing(info, fn, 4);
  auto request = NewRequest(info, fn, IORING_OP_CONNECT);
  std::string host = ArgString(info, fn, 2, "host");
  int port = ArgInt(info, fn, 3, "port", 0, 65535);
  socklen_t length = ToSockaddr(info.Env(), fn, host, port, &request->address);
  auto address = reinterpret_cast<uint64_t>(&request->address);
  return ring.Queue(info.Env(), fn, std::move(request), address, 0, length, 0);
}

Napi::Value PrepSend(const Napi::CallbackInfo& info) {
  const char* fn = "ioUringPrepSend";
  Ring& ring = ArgRing(info, fn, 3);
  auto request = NewRequest(info, fn, IORING_OP_SEND);
  Napi::Uint8Array bytes = ArgBytes(info, fn, 2, "data");
  if (bytes.ByteLength() > kMaxBuffer) {
    ThrowRangeError(info.Env(), std::string(fn) + "(): argument 'data' must be at most " +
                                    std::to_string(kMaxBuffer) + " bytes, got " +
                                    std::to_string(bytes.ByteLength()));
  }
  // A copy: the caller may change or drop its bytes as soon as this returns.
  auto size = static_cast<uint32_t>(bytes.ByteLength());
  request->buffer.reset(new uint8_t[size > 0 ? size : 1]);
  std::memcpy(request->buffer.get(), bytes.Data(), size);
  auto buffer = reinterpret_cast<uint64_t>(request->buffer.get());
  // MSG_NOSIGNAL: a send to a closed peer completes with -EPIPE instead of raising SIGPIPE.
  return ring.Queue(info.Env(), fn, std::move(request), buffer, size, 0, MSG_NOSIGNAL);
}

Napi::Value PrepRecv(const Napi::CallbackInfo& info) {
  const char* fn = "ioUringPrepRecv";
  Ring& ring = ArgRing(info, fn, 3);
  auto request = NewRequest(info, fn, IORING_OP_RECV);
  auto size = static_cast<uint32_t>(ArgInt(info, fn, 2, "size", 1, kMaxBuffer));
  request->buffer.reset(new uint8_t[size]);  // not zeroed: only what the kernel writes is read
  auto buffer = reinterpret_cast<uint64_t>(request->buffer.get());
  return ring.Queue(info.Env(), fn, std::move(request), buffer, size, 0, 0);
}

// The cancel's own CQE says how it went: 0 (the request was cancelled: its CQE comes with
// -ECANCELED), -ENOENT (no such request in flight: it had completed already) or -EALREADY (it is
// running, and will complete by itself).
Napi::Value PrepCancel(const Napi::CallbackInfo& info) {
  const char* fn = "ioUringPrepCancel";
  Ring& ring = ArgRing(info, fn, 2);
  double target = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : 0;
  if (!(target >= 1 && target <= kMaxTicket) || std::trunc(target) != target) {
    ThrowTypeError(info.Env(), std::string(fn) + "(): argument 'ticket' must be a ticket, a " +
                                   "whole number from 1 up, got " + info[1].ToString().Utf8Value());
  }
  auto request = NewRequest(info, fn, IORING_OP_ASYNC_CANCEL);
  return ring.Queue(info.Env(), fn, std::move(request), static_cast<uint64_t>(target), 0, 0, 0);
}

Napi::Value Submit(const Napi::CallbackInfo& info) {
  Ring& ring = ArgRing(info, "ioUringSubmit", 1);
  ring.CheckOpen(info.Env(), "io_uring_enter");
  return Napi::Number::New(info.Env(), ring.Submit(info.Env()));
}

Napi::Value Wait(const Napi::CallbackInfo& info) {
  Ring& ring = ArgRing(info, "ioUringWait", 3);
  auto minComplete =
      static_cast<unsigned>(ArgInt(info, "ioUringWait", 1, "minComplete", 0, INT_MAX));
  int timeoutMs = ArgTimeoutMs(info, "ioUringWait", 2);
  ring.CheckOpen(info.Env(), "io_uring_enter");
  if (minComplete > ring.InFlight()) {
    ThrowRangeError(info.Env(), "ioUringWait(): cannot wait for " + std::to_string(minComplete) +
                                    " completions with " + std::to_string(ring.InFlight()) +
                                    " requests in flight: it would wait for ever");
  }
  return Napi::Number::New(info.Env(), ring.Wait(info.Env(), minComplete, timeoutMs));
}

Napi::Value Reap(const Napi::CallbackInfo& info) {
  Ring& ring = ArgRing(info, "ioUringReap", 1);
  ring.CheckOpen(info.Env(), "ioUringReap");
  return ring.Reap(info.Env());
}

Napi::Value InFlight(const Napi::CallbackInfo& info) {
  Ring& ring = ArgRing(info, "ioUringInFlight", 1);
  return Napi::Number::New(info.Env(), static_cast<double>(ring.InFlight()));
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  Ring& ring = ArgRing(info, "ioUringClose", 1);
  ring.Close(info.Env());
  return info.Env().Undefined();
}

}  // namespace

void InitUring(Napi::Env env, Napi::Object exports) {
  exports.Set("IoUring", Ring::DefineClass(env, "IoUring", {}));
  ExportFunctions(env, exports,
                  {{"ioUringPrepConnect", PrepConnect},
                   {"ioUringPrepSend", PrepSend},
                   {"ioUringPrepRecv", PrepRecv},
                   {"ioUringPrepCancel", PrepCancel},
                   {"ioUringSubmit", Submit},
                   {"ioUringWait", Wait},
                   {"ioUringReap", Reap},
                   {"ioUringInFlight", InFlight},
                   {"ioUringClose", Close}});
  ExportConstants(env, exports,
                  {{"IORING_OP_CONNECT", IORING_OP_CONNECT},
                   {"IORING_OP_SEND", IORING_OP_SEND},
                   {"IORING_OP_RECV", IORING_OP_RECV},
                   {"IORING_OP_ASYNC_CANCEL", IORING_OP_ASYNC_CANCEL}});
}

}  // namespace native

#else

namespace native {
void InitUring(Napi::Env, Napi::Object) {}  // no io_uring here; uring.ts says why
}  // namespace native

#endif
