#include "common/testing/redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace gridloop::testing {
namespace {

constexpr int kMaxPortAttempts = 5;
constexpr absl::Duration kReadyDeadline = absl::Seconds(10);
constexpr absl::Duration kPollInterval = absl::Milliseconds(10);
constexpr absl::Duration kGracefulStopDeadline = absl::Seconds(10);

std::string FindRedisServer() {
  const char* path = getenv("PATH");
  if (path != nullptr) {
    for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
      std::string candidate = absl::StrCat(dir, "/redis-server");
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  if (access("/usr/bin/redis-server", X_OK) == 0) return "/usr/bin/redis-server";
  return "";
}

// A port the kernel just handed out on loopback. Another process could take it before
// redis-server binds it; Start notices (the server exits) and tries another.
absl::StatusOr<int> PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    close(fd);
    return absl::InternalError(absl::StrCat("bind 127.0.0.1:0: ", std::strerror(err)));
  }
  close(fd);
  return ntohs(addr.sin_port);
}

void IgnoreSigpipe() {
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    signal(SIGPIPE, SIG_IGN);
  }
}

// True when the server on `port` is the process `pid` and has finished loading its data.
// Checking the pid matters: if the port was taken by another redis-server, a plain PING
// would be answered by the wrong one.
bool IsReady(int port, pid_t pid) {
  redisContext* ctx =
      redisConnectWithTimeout("127.0.0.1", port, absl::ToTimeval(absl::Milliseconds(200)));
  if (ctx == nullptr) return false;
  bool ready = false;
  if (ctx->err == 0 && redisSetTimeout(ctx, absl::ToTimeval(absl::Seconds(1))) == REDIS_OK) {
    auto* reply = static_cast<redisReply*>(redisCommand(ctx, "INFO"));
    if (reply != nullptr) {
      if (reply->type == REDIS_REPLY_STRING) {
        bool ours = false;
        bool loaded = false;
        for (absl::string_view line :
             absl::StrSplit(absl::string_view(reply->str, reply->len), "\r\n")) {
          int64_t value = 0;
          if (absl::ConsumePrefix(&line, "process_id:") && absl::SimpleAtoi(line, &value)) {
            ours = value == pid;
          } else if (line == "loading:0") {
            loaded = true;
          }
        }
        ready = ours && loaded;
      }
      freeReplyObject(reply);
    }
  }
  redisFree(ctx);
  return ready;
}

// Polls for the exit of `pid` until `deadline`; true when it has been reaped.
bool ReapBefore(pid_t pid, absl::Time deadline) {
  while (true) {
    pid_t r = waitpid(pid, nullptr, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(kPollInterval);
  }
}

void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start(Options options) {
  std::string binary = FindRedisServer();
  if (binary.empty()) {
    return absl::NotFoundError("redis-server is neither on PATH nor at /usr/bin/redis-server");
  }
  const char* tmp = getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/gridloop-redis-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern, ": ", std::strerror(errno)));
  }
  IgnoreSigpipe();
  // Owning the directory from here on: every early return below removes it.
  std::unique_ptr<RedisServer> server(
      new RedisServer(std::move(binary), std::move(options), std::move(pattern)));
  absl::Status last;
  for (int attempt = 0; attempt < kMaxPortAttempts; ++attempt) {
    absl::StatusOr<int> port = PickFreePort();
    if (!port.ok()) return port.status();
    server->port_ = *port;
    std::error_code ignored;
    std::filesystem::remove(server->dir_ + "/redis.log", ignored);
    std::filesystem::remove(server->dir_ + "/redis.out", ignored);
    bool port_taken = false;
    last = server->Launch(&port_taken);
    if (last.ok()) return server;
    if (!port_taken) break;
  }
  return last;
}

RedisServer::~RedisServer() {
  if (pid_ > 0) KillAndReap(pid_);
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string RedisServer::address() const { return absl::StrCat(host(), ":", port_); }

absl::Status RedisServer::Stop(bool hard) {
  if (pid_ <= 0) return absl::OkStatus();
  pid_t pid = std::exchange(pid_, 0);
  if (kill(pid, hard ? SIGKILL : SIGTERM) != 0 && errno != ESRCH) {
    int err = errno;
    KillAndReap(pid);
    return absl::InternalError(absl::StrCat("kill redis-server: ", std::strerror(err)));
  }
  if (!ReapBefore(pid, absl::Now() + (hard ? absl::InfiniteDuration() : kGracefulStopDeadline))) {
    KillAndReap(pid);
  }
  return absl::OkStatus();
}

absl::Status RedisServer::Restart() {
  if (pid_ > 0) return absl::FailedPreconditionError("redis-server is still running");
  bool port_taken = false;
  return Launch(&port_taken);
}

absl::Status RedisServer::Launch(bool* port_taken) {
  *port_taken = false;
  std::vector<std::string> args = {binary_,
                                   "--port",
                                   absl::StrCat(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--dir",
                                   dir_,
                                   "--save",
                                   "",
                                   "--appendonly",
                                   options_.appendonly ? "yes" : "no",
                                   "--appendfsync",
                                   options_.appendfsync,
                                   "--daemonize",
                                   "no",
                                   "--protected-mode",
                                   "no",
                                   "--logfile",
                                   dir_ + "/redis.log"};
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  // Everything the child needs is prepared here: after fork in a multi-threaded process
  // only async-signal-safe calls are allowed.
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string out_path = dir_ + "/redis.out";
  rlimit fd_limit{};
  int max_fd = getrlimit(RLIMIT_NOFILE, &fd_limit) == 0 && fd_limit.rlim_cur < 65536
                   ? static_cast<int>(fd_limit.rlim_cur)
                   : 65536;

  // Carries the child's errno if exec fails; closes (reads EOF) when exec succeeds.
  int exec_pipe[2];
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(exec_pipe[0]);
    close(exec_pipe[1]);
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(err)));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);  // The parent died before prctl took effect.
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
      dup2(devnull, STDIN_FILENO);
      if (devnull > STDERR_FILENO) close(devnull);
    }
    // Before its log file is open (bad configuration) redis-server only talks to stderr.
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out >= 0) {
      dup2(out, STDOUT_FILENO);
      dup2(out, STDERR_FILENO);
      if (out > STDERR_FILENO) close(out);
    }
    // Sockets the test holds (hiredis opens them without O_CLOEXEC) must not live on in
    // the server, or closing them in the test would not reach their peers.
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      for (int fd = 3; fd < max_fd; ++fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    signal(SIGPIPE, SIG_DFL);
    execv(argv[0], argv.data());
    int err = errno;
    ssize_t ignored = write(exec_pipe[1], &err, sizeof(err));
    (void)ignored;
    _exit(127);
  }
  close(exec_pipe[1]);
  int exec_errno = 0;
  ssize_t n;
  do {
    n = read(exec_pipe[0], &exec_errno, sizeof(exec_errno));
  } while (n < 0 && errno == EINTR);
  close(exec_pipe[0]);
  if (n > 0) {
    KillAndReap(pid);
    return absl::InternalError(absl::StrCat("exec ", binary_, ": ", std::strerror(exec_errno)));
  }

  pid_ = pid;
  absl::Time deadline = absl::Now() + kReadyDeadline;
  while (true) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) {
      pid_ = 0;
      std::string log = LogTail();
      *port_taken = absl::StrContains(log, "Address already in use");
      return absl::UnavailableError(
          absl::StrCat("redis-server on port ", port_, " exited during start-up; log:\n", log));
    }
    if (IsReady(port_, pid)) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      KillAndReap(pid);
      pid_ = 0;
      return absl::UnavailableError(
          absl::StrCat("redis-server on port ", port_, " not ready within ",
                       absl::FormatDuration(kReadyDeadline), "; log:\n", LogTail()));
    }
    absl::SleepFor(kPollInterval);
  }
}

std::string RedisServer::LogTail() const {
  std::string all;
  for (const char* name : {"/redis.out", "/redis.log"}) {
    std::ifstream in(dir_ + name);
    std::stringstream buffer;
    buffer << in.rdbuf();
    all += buffer.str();
  }
  constexpr size_t kTail = 2000;
  return all.size() > kTail ? all.substr(all.size() - kTail) : all;
}

}  // namespace gridloop::testing
