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
#include "common/testing/child_process.h"

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
  // Before its log file is open (bad configuration) redis-server only talks to stderr.
  absl::StatusOr<pid_t> pid =
      Spawn({.argv = std::move(args), .env = {}, .output_path = dir_ + "/redis.out"});
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  absl::Time deadline = absl::Now() + kReadyDeadline;
  while (true) {
    if (waitpid(*pid, nullptr, WNOHANG) == *pid) {
      pid_ = 0;
      std::string log = LogTail();
      *port_taken = absl::StrContains(log, "Address already in use");
      return absl::UnavailableError(
          absl::StrCat("redis-server on port ", port_, " exited during start-up; log:\n", log));
    }
    if (IsReady(port_, *pid)) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      KillAndReap(*pid);
      pid_ = 0;
      return absl::UnavailableError(
          absl::StrCat("redis-server on port ", port_, " not ready within ",
                       absl::FormatDuration(kReadyDeadline), "; log:\n", LogTail()));
    }
    absl::SleepFor(kPollInterval);
  }
}

std::string RedisServer::LogTail() const {
  std::string all = FileTail(dir_ + "/redis.out") + FileTail(dir_ + "/redis.log");
  constexpr size_t kTail = 2000;
  return all.size() > kTail ? all.substr(all.size() - kTail) : all;
}

}  // namespace gridloop::testing
