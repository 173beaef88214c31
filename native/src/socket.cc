// Sockets: one exported function per system call, taking and returning plain fds. The TypeScript
// Socket class (socket.ts) gives them Python's shape; here we only check arguments, call the
// kernel, retry EINTR and report errno.
//
// Two rules hold for every fd this file creates: it is close-on-exec (a child started by forkExec
// must not inherit our sockets), and writing to it can never raise SIGPIPE (a send to a closed
// peer must come back as EPIPE, a BrokenPipeError, not kill the process).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "native.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0  // macOS: SO_NOSIGPIPE, set on every socket below, does the same job
#endif

namespace native {

// The largest read we allow in one call: a guard against recv(fd, 1e12) allocating without limit.
static constexpr int kMaxRead = 64 * 1024 * 1024;
// Reads up to this size go through one scratch buffer kept per thread; a larger one gets a buffer
// of its own, freed when the call returns, so one big recv does not stay resident for ever.
static constexpr size_t kScratchSize = 64 * 1024;

// Makes a new fd close-on-exec and SIGPIPE-free where the kernel could not do it atomically.
static void PrepareFd(Napi::Env env, int fd, bool isSocket) {
#ifndef SOCK_CLOEXEC
  CountSyscall(env, Syscall::fcntl);
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
    int err = errno;
    CountSyscall(env, Syscall::close);
    close(fd);
    ThrowOSError(env, "fcntl", err, FdDetail(fd));
  }
#endif
#ifdef SO_NOSIGPIPE
  int one = 1;
  if (isSocket) CountSyscall(env, Syscall::setsockopt);
  if (isSocket && setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one) < 0) {
    int err = errno;
    CountSyscall(env, Syscall::close);
    close(fd);
    ThrowOSError(env, "setsockopt", err, FdDetail(fd));
  }
#endif
  (void)env;
  (void)fd;
  (void)isSocket;
}

#ifdef SOCK_CLOEXEC
static constexpr int kCloexecType = SOCK_CLOEXEC;
#else
static constexpr int kCloexecType = 0;
#endif

// "127.0.0.1" or "::1" plus a port into a sockaddr. Names are not resolved here: Socket.connect
// in socket.ts calls getaddrinfo first, where a reader sees the blocking DNS lookup happen.
socklen_t ToSockaddr(Napi::Env env, const char* fn, const std::string& host, int port,
                     sockaddr_storage* out) {
  std::memset(out, 0, sizeof *out);
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    return sizeof(sockaddr_in);
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    return sizeof(sockaddr_in6);
  }
  ThrowRangeError(env, std::string(fn) + "(): host must be a numeric IPv4 or IPv6 address, got '" +
                           host + "' (resolve names with getaddrinfo first)");
}

static std::string AddressDetail(const std::string& host, int port) {
  return host.find(':') == std::string::npos ? host + ":" + std::to_string(port)
                                              : "[" + host + "]:" + std::to_string(port);
}

// [host, port] of a socket address; ["", 0] for families without one (AF_UNIX).
static Napi::Array FromSockaddr(Napi::Env env, const sockaddr_storage& address) {
  char host[INET6_ADDRSTRLEN] = "";
  int port = 0;
  if (address.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
    inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
    port = ntohs(v4->sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
    inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
    port = ntohs(v6->sin6_port);
  }
  Napi::Array pair = Napi::Array::New(env, 2);
  pair.Set(0u, Napi::String::New(env, host));
  pair.Set(1u, Napi::Number::New(env, port));
  return pair;
}

// socket(family, type) -> fd
static Napi::Value Socket(const Napi::CallbackInfo& info) {
  CheckCount(info, "socket", 2);
  int family = ArgInt(info, "socket", 0, "family", 0, INT_MAX);
  int type = ArgInt(info, "socket", 1, "type", 0, INT_MAX);
  CountSyscall(info.Env(), Syscall::socket);
  int fd = socket(family, type | kCloexecType, 0);
  if (fd < 0) ThrowOSError(info.Env(), "socket", errno);
  PrepareFd(info.Env(), fd, true);
  return Napi::Number::New(info.Env(), fd);
}

// socketpair() -> [fd, fd]: two connected AF_UNIX stream sockets, handy to make an fd readable on
// demand (write to one end) in tests and benchmarks.
static Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int fds[2];
  CountSyscall(info.Env(), Syscall::socketpair);
  if (socketpair(AF_UNIX, SOCK_STREAM | kCloexecType, 0, fds) < 0) {
    ThrowOSError(info.Env(), "socketpair", errno);
  }
  PrepareFd(info.Env(), fds[0], true);
  PrepareFd(info.Env(), fds[1], true);
  Napi::Array pair = Napi::Array::New(info.Env(), 2);
  pair.Set(0u, Napi::Number::New(info.Env(), fds[0]));
  pair.Set(1u, Napi::Number::New(info.Env(), fds[1]));
  return pair;
}

void CloexecPipe(Napi::Env env, int fds[2]) {
  CountSyscall(env, Syscall::pipe);
#ifdef __linux__
  if (pipe2(fds, O_CLOEXEC) < 0) ThrowOSError(env, "pipe", errno);
#else
  if (pipe(fds) < 0) ThrowOSError(env, "pipe", errno);
  PrepareFd(env, fds[0], false);
  PrepareFd(env, fds[1], false);
#endif
}

// pipe() -> [readFd, writeFd]
static Napi::Value Pipe(const Napi::CallbackInfo& info) {
  int fds[2];
  CloexecPipe(info.Env(), fds);
  Napi::Array pair = Napi::Array::New(info.Env(), 2);
  pair.Set(0u, Napi::Number::New(info.Env(), fds[0]));
  pair.Set(1u, Napi::Number::New(info.Env(), fds[1]));
  return pair;
}

static int GetFlags(Napi::Env env, int fd) {
  CountSyscall(env, Syscall::fcntl);
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) ThrowOSError(env, "fcntl", errno, FdDetail(fd));
  return flags;
}

// setBlocking(fd, flag): clears or sets O_NONBLOCK, like Python's sock.setblocking(flag).
static Napi::Value SetBlocking(const Napi::CallbackInfo& info) {
  CheckCount(info, "setBlocking", 2);
  int fd = ArgFd(info, "setBlocking", 0);
  bool blocking = ArgBool(info, "setBlocking", 1, "flag");
  int flags = GetFlags(info.Env(), fd);
  flags = blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
  CountSyscall(info.Env(), Syscall::fcntl);
  if (fcntl(fd, F_SETFL, flags) < 0) ThrowOSError(info.Env(), "fcntl", errno, FdDetail(fd));
  return info.Env().Undefined();
}

// getBlocking(fd) -> boolean
static Napi::Value GetBlocking(const Napi::CallbackInfo& info) {
  CheckCount(info, "getBlocking", 1);
  int fd = ArgFd(info, "getBlocking", 0);
  return Napi::Boolean::New(info.Env(), (GetFlags(info.Env(), fd) & O_NONBLOCK) == 0);
}

// checkFd(fd): throws EBADF unless fd is open. Selectors call it on register, so a closed or
// made-up fd is refused at once instead of failing later inside select() or poll().
static Napi::Value CheckFd(const Napi::CallbackInfo& info) {
  CheckCount(info, "checkFd", 1);
  int fd = ArgFd(info, "checkFd", 0);
  CountSyscall(info.Env(), Syscall::fcntl);
  if (fcntl(fd, F_GETFD) < 0) ThrowOSError(info.Env(), "fcntl", errno, FdDetail(fd));
  return info.Env().Undefined();
}

// connect(fd, host, port). A non-blocking socket throws EINPROGRESS (BlockingIOError), as in
// Python: the handshake goes on in the kernel, and the socket turns writable when it is done.
static Napi::Value Connect(const Napi::CallbackInfo& info) {
  CheckCount(info, "connect", 3);
  int fd = ArgFd(info, "connect", 0);
  std::string host = ArgString(info, "connect", 1, "host");
  int port = ArgInt(info, "connect", 2, "port", 0, 65535);
  sockaddr_storage address;
  socklen_t length = ToSockaddr(info.Env(), "connect", host, port, &address);
  CountSyscall(info.Env(), Syscall::connect);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), length) == 0) return info.Env().Undefined();
  int err = errno;
  if (err == EINTR) {
    // A blocking connect cut short by a signal keeps connecting in the background, and calling
    // connect() again would fail with EALREADY. Wait for the outcome instead, as CPython does.
    pollfd entry = {fd, POLLOUT, 0};
    int ready;
    do {
      CountSyscall(info.Env(), Syscall::poll);
      ready = poll(&entry, 1, -1);
    } while (ready < 0 && errno == EINTR);
    if (ready < 0) ThrowOSError(info.Env(), "poll", errno, FdDetail(fd));
    socklen_t size = sizeof err;
    CountSyscall(info.Env(), Syscall::getsockopt);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &size) < 0) {
      ThrowOSError(info.Env(), "getsockopt", errno, FdDetail(fd));
    }
    if (err == 0) return info.Env().Undefined();
  }
  ThrowOSError(info.Env(), "connect", err, AddressDetail(host, port));
}

// bind(fd, host, port)
static Napi::Value Bind(const Napi::CallbackInfo& info) {
  CheckCount(info, "bind", 3);
  int fd = ArgFd(info, "bind", 0);
  std::string host = ArgString(info, "bind", 1, "host");
  int port = ArgInt(info, "bind", 2, "port", 0, 65535);
  sockaddr_storage address;
  socklen_t length = ToSockaddr(info.Env(), "bind", host, port, &address);
  CountSyscall(info.Env(), Syscall::bind);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) < 0) {
    ThrowOSError(info.Env(), "bind", errno, AddressDetail(host, port));
  }
  return info.Env().Undefined();
}

// listen(fd, backlog)
static Napi::Value Listen(const Napi::CallbackInfo& info) {
  CheckCount(info, "listen", 2);
  int fd = ArgFd(info, "listen", 0);
  int backlog = ArgInt(info, "listen", 1, "backlog", 0, INT_MAX);
  CountSyscall(info.Env(), Syscall::listen);
  if (listen(fd, backlog) < 0) ThrowOSError(info.Env(), "listen", errno, FdDetail(fd));
  return info.Env().Undefined();
}

// accept(fd, blocking) -> [fd, host, port]. The new socket is blocking or not as asked, whatever
// the listener is (Linux never passes O_NONBLOCK on, BSD does). On Linux accept4 sets both flags
// in the same call; elsewhere fcntl does it after, two more system calls per connection.
static Napi::Value Accept(const Napi::CallbackInfo& info) {
  CheckCount(info, "accept", 2);
  int fd = ArgFd(info, "accept", 0);
  bool blocking = ArgBool(info, "accept", 1, "blocking");
  sockaddr_storage address;
  socklen_t length;
  int client;
  do {
    length = sizeof address;
    CountSyscall(info.Env(), Syscall::accept);
#ifdef __linux__
    client = accept4(fd, reinterpret_cast<sockaddr*>(&address), &length,
                     SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK));
#else
    client = accept(fd, reinterpret_cast<sockaddr*>(&address), &length);
#endif
  } while (client < 0 && errno == EINTR);
  if (client < 0) ThrowOSError(info.Env(), "accept", errno, FdDetail(fd));
#ifndef __linux__
  PrepareFd(info.Env(), client, true);
  CountSyscall(info.Env(), Syscall::fcntl);
  int flags = fcntl(client, F_GETFL);
  int wanted = blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
  if (flags >= 0 && wanted != flags) CountSyscall(info.Env(), Syscall::fcntl);
  if (flags < 0 || (wanted != flags && fcntl(client, F_SETFL, wanted) < 0)) {
    int err = errno;
    CountSyscall(info.Env(), Syscall::close);
    close(client);
    ThrowOSError(info.Env(), "fcntl", err, FdDetail(client));
  }
#endif
  Napi::Array peer = FromSockaddr(info.Env(), address);
  Napi::Array result = Napi::Array::New(info.Env(), 3);
  result.Set(0u, Napi::Number::New(info.Env(), client));
  result.Set(1u, peer.Get(0u));
  result.Set(2u, peer.Get(1u));
  return result;
}

// getsockname(fd) -> [host, port]: which port bind(0) picked, or which local port connect used.
static Napi::Value GetSockName(const Napi::CallbackInfo& info) {
  CheckCount(info, "getsockname", 1);
  int fd = ArgFd(info, "getsockname", 0);
  sockaddr_storage address;
  socklen_t length = sizeof address;
  CountSyscall(info.Env(), Syscall::getsockname);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) < 0) {
    ThrowOSError(info.Env(), "getsockname", errno, FdDetail(fd));
  }
  return FromSockaddr(info.Env(), address);
}

// send(fd, bytes) -> how many bytes the kernel took, which may be fewer than given.
static Napi::Value Send(const Napi::CallbackInfo& info) {
  CheckCount(info, "send", 2);
  int fd = ArgFd(info, "send", 0);
  Napi::Uint8Array bytes = ArgBytes(info, "send", 1, "data");
  ssize_t sent;
  do {
    CountSyscall(info.Env(), Syscall::send);
    sent = send(fd, bytes.Data(), bytes.ByteLength(), MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) ThrowOSError(info.Env(), "send", errno, FdDetail(fd));
  return Napi::Number::New(info.Env(), static_cast<double>(sent));
}

// recv(fd, size) and read(fd, size) -> a Buffer of the bytes received: empty means end of file.
static Napi::Value Receive(const Napi::CallbackInfo& info, const char* fn, bool isSocket) {
  CheckCount(info, fn, 2);
  int fd = ArgFd(info, fn, 0);
  int size = ArgInt(info, fn, 1, "size", 1, kMaxRead);
  std::vector<uint8_t>& scratch = Data(info.Env()).recvScratch;
  if (scratch.size() < kScratchSize) scratch.resize(kScratchSize);
  // Not zero-filled, so only the pages the kernel writes to become resident.
  std::unique_ptr<uint8_t[]> large;
  if (static_cast<size_t>(size) > kScratchSize) large.reset(new uint8_t[size]);
  uint8_t* into = large ? large.get() : scratch.data();
  ssize_t received;
  do {
    CountSyscall(info.Env(), isSocket ? Syscall::recv : Syscall::read);
    received = isSocket ? recv(fd, into, size, 0) : read(fd, into, size);
  } while (received < 0 && errno == EINTR);
  if (received < 0) ThrowOSError(info.Env(), fn, errno, FdDetail(fd));
  return Napi::Buffer<uint8_t>::Copy(info.Env(), into, received);
}

static Napi::Value Recv(const Napi::CallbackInfo& info) { return Receive(info, "recv", true); }
static Napi::Value Read(const Napi::CallbackInfo& info) { return Receive(info, "read", false); }

// write(fd, bytes) -> how many bytes went in: for pipes, as send() is for sockets. A closed
// reader gives EPIPE (BrokenPipeError): SIGPIPE is ignored by Node, so it never kills us.
static Napi::Value Write(const Napi::CallbackInfo& info) {
  CheckCount(info, "write", 2);
  int fd = ArgFd(info, "write", 0);
  Napi::Uint8Array bytes = ArgBytes(info, "write", 1, "data");
  ssize_t written;
  do {
    CountSyscall(info.Env(), Syscall::write);
    written = write(fd, bytes.Data(), bytes.ByteLength());
  } while (written < 0 && errno == EINTR);
  if (written < 0) ThrowOSError(info.Env(), "write", errno, FdDetail(fd));
  return Napi::Number::New(info.Env(), static_cast<double>(written));
}

// shutdown(fd, how)
static Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  CheckCount(info, "shutdown", 2);
  int fd = ArgFd(info, "shutdown", 0);
  int how = ArgInt(info, "shutdown", 1, "how", 0, 2);
  CountSyscall(info.Env(), Syscall::shutdown);
  if (shutdown(fd, how) < 0) ThrowOSError(info.Env(), "shutdown", errno, FdDetail(fd));
  return info.Env().Undefined();
}

// close(fd). EINTR is not retried: on Linux the fd is already gone by then, and a retry could close
// an fd that another thread has just been given.
static Napi::Value Close(const Napi::CallbackInfo& info) {
  CheckCount(info, "close", 1);
  int fd = ArgFd(info, "close", 0);
  CountSyscall(info.Env(), Syscall::close);
  if (close(fd) < 0 && errno != EINTR) ThrowOSError(info.Env(), "close", errno, FdDetail(fd));
  return info.Env().Undefined();
}

// setsockopt(fd, level, option, value) for integer options (SO_REUSEADDR, TCP_NODELAY, ...)
static Napi::Value SetSockOpt(const Napi::CallbackInfo& info) {
  CheckCount(info, "setsockopt", 4);
  int fd = ArgFd(info, "setsockopt", 0);
  int level = ArgInt(info, "setsockopt", 1, "level", 0, INT_MAX);
  int option = ArgInt(info, "setsockopt", 2, "option", 0, INT_MAX);
  int value = ArgInt(info, "setsockopt", 3, "value", INT_MIN, INT_MAX);
  CountSyscall(info.Env(), Syscall::setsockopt);
  if (setsockopt(fd, level, option, &value, sizeof value) < 0) {
    ThrowOSError(info.Env(), "setsockopt", errno, FdDetail(fd));
  }
  return info.Env().Undefined();
}

// getsockopt(fd, level, option) -> integer. With SO_ERROR it reads (and clears) the outcome of a
// non-blocking connect: 0 or an errno value.
static Napi::Value GetSockOpt(const Napi::CallbackInfo& info) {
  CheckCount(info, "getsockopt", 3);
  int fd = ArgFd(info, "getsockopt", 0);
  int level = ArgInt(info, "getsockopt", 1, "level", 0, INT_MAX);
  int option = ArgInt(info, "getsockopt", 2, "option", 0, INT_MAX);
  int value = 0;
  socklen_t size = sizeof value;
  CountSyscall(info.Env(), Syscall::getsockopt);
  if (getsockopt(fd, level, option, &value, &size) < 0) {
    ThrowOSError(info.Env(), "getsockopt", errno, FdDetail(fd));
  }
  return Napi::Number::New(info.Env(), value);
}

// getaddrinfo(host, port, family) -> [{ family, host, port }, ...] for stream sockets. It blocks
// the calling thread for as long as DNS takes, exactly like Python's socket.getaddrinfo.
static Napi::Value GetAddrInfo(const Napi::CallbackInfo& info) {
  CheckCount(info, "getaddrinfo", 3);
  std::string host = ArgString(info, "getaddrinfo", 0, "host");
  int port = ArgInt(info, "getaddrinfo", 1, "port", 0, 65535);
  int family = ArgInt(info, "getaddrinfo", 2, "family", 0, INT_MAX);
  addrinfo hints;
  std::memset(&hints, 0, sizeof hints);
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* results = nullptr;
  std::string service = std::to_string(port);
  int code;
  do {
    code = getaddrinfo(host.c_str(), service.c_str(), &hints, &results);
  } while (code == EAI_SYSTEM && errno == EINTR);
  if (code != 0) ThrowGaiError(info.Env(), code, host);
  Napi::Env env = info.Env();
  Napi::Array list = Napi::Array::New(env);
  for (addrinfo* entry = results; entry != nullptr; entry = entry->ai_next) {
    if (entry->ai_family != AF_INET && entry->ai_family != AF_INET6) continue;
    sockaddr_storage address;
    std::memset(&address, 0, sizeof address);
    std::memcpy(&address, entry->ai_addr, entry->ai_addrlen);
    Napi::Array pair = FromSockaddr(env, address);
    Napi::Object item = Napi::Object::New(env);
    item.Set("family", Napi::Number::New(env, entry->ai_family));
    item.Set("host", pair.Get(0u));
    item.Set("port", pair.Get(1u));
    list.Set(list.Length(), item);
  }
  freeaddrinfo(results);
  return list;
}

void InitSocket(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports,
                  {{"socket", Socket},
                   {"socketpair", SocketPair},
                   {"pipe", Pipe},
                   {"setBlocking", SetBlocking},
                   {"getBlocking", GetBlocking},
                   {"checkFd", CheckFd},
                   {"connect", Connect},
                   {"bind", Bind},
                   {"listen", Listen},
                   {"accept", Accept},
                   {"getsockname", GetSockName},
                   {"send", Send},
                   {"recv", Recv},
                   {"read", Read},
                   {"write", Write},
                   {"shutdown", Shutdown},
                   {"close", Close},
                   {"setsockopt", SetSockOpt},
                   {"getsockopt", GetSockOpt},
                   {"getaddrinfo", GetAddrInfo}});
  ExportConstants(env, exports,
                  {{"AF_INET", AF_INET},
                   {"AF_INET6", AF_INET6},
                   {"AF_UNIX", AF_UNIX},
                   {"AF_UNSPEC", AF_UNSPEC},
                   {"SOCK_STREAM", SOCK_STREAM},
                   {"SOCK_DGRAM", SOCK_DGRAM},
                   {"SOL_SOCKET", SOL_SOCKET},
                   {"SO_REUSEADDR", SO_REUSEADDR},
                   {"SO_ERROR", SO_ERROR},
                   {"SO_RCVBUF", SO_RCVBUF},
                   {"SO_SNDBUF", SO_SNDBUF},
                   {"SO_KEEPALIVE", SO_KEEPALIVE},
                   {"IPPROTO_TCP", IPPROTO_TCP},
                   {"TCP_NODELAY", TCP_NODELAY},
                   {"SHUT_RD", SHUT_RD},
                   {"SHUT_WR", SHUT_WR},
                   {"SHUT_RDWR", SHUT_RDWR}});
}

}  // namespace native
