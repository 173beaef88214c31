// Processes: getpid, getppid, forkExec and waitpid, the lecture's "fork and exec".
//
// fork() and exec() both happen here in C++, never with JavaScript in between: Node is a
// multi-threaded process, and fork() copies only the calling thread. A lock held by another thread
// at that instant (the allocator's, V8's) stays locked forever in the child, so the child may only
// make async-signal-safe calls (dup2, sigaction, execve, write, _exit) until execve replaces it.
// Everything else (argv, the PATH search) is prepared before the fork.
//
// The child inherits fds 0, 1 and 2 as a shell's child does. That takes work: Node marks its own
// stdio close-on-exec once it opens them as streams, so without it the new program would start
// with no stdin, stdout or stderr. Every other fd of ours is close-on-exec and stays behind.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "native.h"

extern char** environ;

namespace native {

static Napi::Value GetPid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), getpid());
}

static Napi::Value GetPpid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), getppid());
}

// The path execvp would run for `file`: file itself if it names a path, else the first executable
// match in $PATH. Empty when there is none.
static std::string FindExecutable(const std::string& file) {
  if (file.find('/') != std::string::npos) return file;
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + file;
    struct stat status;
    if (stat(candidate.c_str(), &status) == 0 && S_ISREG(status.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return "";
}

enum ChildFailure { kDup2Failed, kFcntlFailed, kExecveFailed };

// In the child: tells the parent which call failed and its errno, through the close-on-exec pipe
// (a successful exec closes that pipe instead), and ends.
[[noreturn]] static void ReportAndExit(int errorFd, ChildFailure call) {
  int failure[2] = {call, errno};
  ssize_t ignored = write(errorFd, failure, sizeof failure);
  (void)ignored;
  _exit(127);
}

void DefaultSignalsInChild() {
  struct sigaction defaults;
  std::memset(&defaults, 0, sizeof defaults);
  defaults.sa_handler = SIG_DFL;
  for (int signal = 1; signal < NSIG; signal++) {
    if (signal != SIGKILL && signal != SIGSTOP) sigaction(signal, &defaults, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

// Runs in the child between fork and exec: async-signal-safe calls only.
[[noreturn]] static void ExecChild(const char* path, char* const argv[], int stdoutFd,
                                   int errorFd) {
  // Node ignores SIGPIPE and libuv may block signals; the new program must start with the
  // defaults, or `find | head` would never stop on a closed pipe.
  DefaultSignalsInChild();
  if (stdoutFd >= 0 && stdoutFd != STDOUT_FILENO && dup2(stdoutFd, STDOUT_FILENO) < 0) {
    ReportAndExit(errorFd, kDup2Failed);
  }
  // 0, 1 and 2 stay open across exec. One the parent has closed stays closed (EBADF), as it
  // would for a shell's child.
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0 && (flags & FD_CLOEXEC) && fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) {
      ReportAndExit(errorFd, kFcntlFailed);
    }
  }
  execve(path, argv, environ);
  ReportAndExit(errorFd, kExecveFailed);
}

// forkExec(file, args, stdoutFd) -> pid. args is the whole argv, args[0] included. stdoutFd, if not
// -1, becomes the child's standard output (the write end of a pipe, say). If exec fails, the
// child is reaped and the error (ENOENT, EACCES, ...) is thrown here in the parent.
static Napi::Value ForkExec(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckCount(info, "forkExec", 3);
  std::string file = ArgString(info, "forkExec", 0, "file");
  if (!info[1].IsArray()) ThrowTypeError(env, "forkExec(): argument 'args' must be an array");
  Napi::Array args = info[1].As<Napi::Array>();
  std::vector<std::string> argv;
  for (uint32_t i = 0; i < args.Length(); i++) {
    Napi::Value arg = args.Get(i);
    if (!arg.IsString()) ThrowTypeError(env, "forkExec(): args[" + std::to_string(i) + "] must be a string");
    argv.push_back(arg.As<Napi::String>().Utf8Value());
    if (argv.back().find('\0') != std::string::npos) {
      ThrowTypeError(env, "forkExec(): args[" + std::to_string(i) + "] must not contain NUL bytes");
    }
  }
  if (argv.empty()) ThrowRangeError(env, "forkExec(): args must hold at least argv[0]");
  int stdoutFd = ArgInt(info, "forkExec", 2, "stdoutFd", -1, INT_MAX);
  if (file.empty()) ThrowRangeError(env, "forkExec(): file must not be empty");
  // A closed stdoutFd is refused here, before anything is opened: the error pipe below would take
  // that free number, and the child would write its output into our own pipe.
  if (stdoutFd >= 0 && fcntl(stdoutFd, F_GETFD) < 0) {
    ThrowOSError(env, "fcntl", errno, "stdoutFd " + std::to_string(stdoutFd));
  }

  std::string path = FindExecutable(file);
  if (path.empty()) ThrowOSError(env, "execve", ENOENT, file);
  std::vector<char*> argvPointers;
  for (std::string& arg : argv) argvPointers.push_back(arg.data());
  argvPointers.push_back(nullptr);

  int errorPipe[2];
  CloexecPipe(env, errorPipe);

  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(errorPipe[0]);
    close(errorPipe[1]);
    ThrowOSError(env, "fork", err);
  }
  if (pid == 0) ExecChild(path.c_str(), argvPointers.data(), stdoutFd, errorPipe[1]);

  close(errorPipe[1]);
  int failure[2];
  ssize_t got;
  do {
    got = read(errorPipe[0], failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  close(errorPipe[0]);
  if (got == sizeof failure) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (failure[0] == kDup2Failed) ThrowOSError(env, "dup2", failure[1], FdDetail(stdoutFd));
    if (failure[0] == kFcntlFailed) ThrowOSError(env, "fcntl", failure[1], "fds 0-2 in the child");
    ThrowOSError(env, "execve", failure[1], path);
  }
  return Napi::Number::New(env, pid);
}

// waitpid(pid, options) -> { pid, exitCode, signal }, or null when options has WNOHANG and the
// child is still running. exitCode is null if a signal ended it, and signal is null otherwise.
static Napi::Value WaitPid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckCount(info, "waitpid", 2);
  int pid = ArgInt(info, "waitpid", 0, "pid", INT_MIN, INT_MAX);
  int options = ArgInt(info, "waitpid", 1, "options", 0, INT_MAX);
  int status = 0;
  pid_t done;
  do {
    done = waitpid(pid, &status, options);
  } while (done < 0 && errno == EINTR);
  if (done < 0) ThrowOSError(env, "waitpid", errno, "pid " + std::to_string(pid));
  if (done == 0) return env.Null();
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, done));
  result.Set("exitCode", WIFEXITED(status) ? Napi::Number::New(env, WEXITSTATUS(status))
                                           : env.Null());
  result.Set("signal", WIFSIGNALED(status) ? Napi::Number::New(env, WTERMSIG(status))
                                           : env.Null());
  return result;
}

void InitProcess(Napi::Env env, Napi::Object exports) {
  ExportFunctions(env, exports,
                  {{"getpid", GetPid},
                   {"getppid", GetPpid},
                   {"forkExec", ForkExec},
                   {"waitpid", WaitPid}});
  ExportConstants(env, exports, {{"WNOHANG", WNOHANG}});
}

}  // namespace native
