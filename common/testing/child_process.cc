#include "common/testing/child_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/base/const_init.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace gridloop::testing {
namespace {

constexpr absl::Duration kPollInterval = absl::Milliseconds(10);

// Ports below this are left to the system's own services.
constexpr int kLowestPickedPort = 10000;
constexpr int kHighestPort = 65535;
constexpr int kMinRangeWidth = 1000;
constexpr int kRandomPortAttempts = 100;

// The range the kernel takes local ports of outgoing connections (and of bind to port 0)
// from: /proc/sys/net/ipv4/ip_local_port_range, or Linux's default when unreadable.
std::pair<int, int> EphemeralPortRange() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  int high = 0;
  if (in >> low >> high && low > 0 && high >= low && high <= kHighestPort) return {low, high};
  return {32768, 60999};
}

// Binds a loopback socket to `port` (0: any) and returns the port bound, or 0.
int BindLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof(addr);
  int bound = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    bound = ntohs(addr.sin_port);
  }
  close(fd);
  return bound;
}

bool PortIsFree(int port) { return BindLoopback(port) == port; }

absl::StatusOr<int> BindAnyPort() {
  const int port = BindLoopback(0);
  if (port == 0) {
    return absl::InternalError(absl::StrCat("bind 127.0.0.1:0: ", std::strerror(errno)));
  }
  return port;
}

}  // namespace

absl::StatusOr<pid_t> Spawn(const SpawnSpec& spec) {
  if (spec.argv.empty()) return absl::InvalidArgumentError("argv: empty");
  // Everything the child needs is prepared here: after fork in a multi-threaded process
  // only async-signal-safe calls are allowed.
  std::vector<std::string> args = spec.argv;
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = spec.env;
  std::vector<char*> envp;
  envp.reserve(env_strings.size() + 1);
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string out_path = spec.output_path.empty() ? "/dev/null" : spec.output_path;
  rlimit fd_limit{};
  const int max_fd = getrlimit(RLIMIT_NOFILE, &fd_limit) == 0 && fd_limit.rlim_cur < 65536
                         ? static_cast<int>(fd_limit.rlim_cur)
                         : 65536;

  // Carries the child's errno if exec fails; closes (reads EOF) when exec succeeds.
  int exec_pipe[2];
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(exec_pipe[0]);
    close(exec_pipe[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(err)));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);  // The parent died before prctl took effect.
    // Its own process group: a terminal's Ctrl-C reaches the test, which stops the child
    // itself, in order.
    setpgid(0, 0);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
      dup2(devnull, STDIN_FILENO);
      if (devnull > STDERR_FILENO) close(devnull);
    }
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out >= 0) {
      dup2(out, STDOUT_FILENO);
      dup2(out, STDERR_FILENO);
      if (out > STDERR_FILENO) close(out);
    }
    // Sockets the test holds (hiredis opens them without O_CLOEXEC) must not live on in
    // the child, or closing them in the test would not reach their peers.
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      for (int fd = 3; fd < max_fd; ++fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    execve(argv[0], argv.data(), envp.data());
    const int err = errno;
    const ssize_t ignored = write(exec_pipe[1], &err, sizeof(err));
    (void)ignored;
    _exit(127);
  }
  close(exec_pipe[1]);
  int exec_errno = 0;
  ssize_t n = 0;
  do {
    n = read(exec_pipe[0], &exec_errno, sizeof(exec_errno));
  } while (n < 0 && errno == EINTR);
  close(exec_pipe[0]);
  if (n > 0) {
    KillAndReap(pid);
    return absl::InternalError(
        absl::StrCat("exec ", spec.argv[0], ": ", std::strerror(exec_errno)));
  }
  return pid;
}

bool ReapBefore(pid_t pid, absl::Time deadline, int* wstatus) {
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (wstatus != nullptr) *wstatus = status;
      return true;
    }
    if (r < 0 && errno == ECHILD) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(kPollInterval);
  }
}

void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

int TerminateAndReap(pid_t pid, absl::Duration grace) {
  int status = 0;
  if (kill(pid, SIGTERM) == 0 && ReapBefore(pid, absl::Now() + grace, &status)) return status;
  kill(pid, SIGKILL);
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

absl::StatusOr<int> PickFreePort() {
  const std::pair<int, int> ephemeral = EphemeralPortRange();
  std::vector<std::pair<int, int>> ranges;
  if (ephemeral.first - kLowestPickedPort >= kMinRangeWidth) {
    ranges.emplace_back(kLowestPickedPort, ephemeral.first - 1);
  }
  if (kHighestPort - ephemeral.second >= kMinRangeWidth) {
    ranges.emplace_back(ephemeral.second + 1, kHighestPort);
  }
  if (!ranges.empty()) {
    static absl::Mutex mu(absl::kConstInit);
    static std::mt19937* random = nullptr;
    absl::MutexLock lock(&mu);
    if (random == nullptr) {
      std::random_device device;
      random = new std::mt19937(device() ^ static_cast<unsigned>(getpid()));
    }
    for (int attempt = 0; attempt < kRandomPortAttempts; ++attempt) {
      const auto& [low, high] = ranges[(*random)() % ranges.size()];
      const int port = low + static_cast<int>((*random)() % (high - low + 1));
      if (PortIsFree(port)) return port;
    }
  }
  // No room outside the ephemeral range: the kernel's choice, which an outgoing
  // connection may take again before the caller binds it.
  return BindAnyPort();
}

std::string HttpGet(int port, absl::string_view path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\n\r\n");
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[4096];
      ssize_t n = 0;
      while ((n = read(fd, buf, sizeof(buf))) > 0) response.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return response;
}

void IgnoreSigpipe() {
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    signal(SIGPIPE, SIG_IGN);
  }
}

std::string FileTail(const std::string& path, size_t bytes) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string all = buffer.str();
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

}  // namespace gridloop::testing
