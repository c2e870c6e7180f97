#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tools/loadgen/call_mode.h"
#include "tools/loadgen/load_run.h"
#include "tools/loadgen/report.h"

extern char** environ;

namespace gridloop::loadgen {
namespace {

constexpr auto kPatience = std::chrono::seconds(20);  // a deadline, not a delay

// A child process whose stdout is read line by line; killed (if still running) and reaped
// on destruction.
class Child {
 public:
  explicit Child(std::vector<std::string> argv) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_ = fds[0];
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }

  bool running() const { return pid_ > 0; }

  // The next line of output (without '\n'); empty at end of output or after the deadline.
  std::string ReadLine() {
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (true) {
      size_t newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return "";
      char chunk[1024];
      ssize_t n = read(out_, chunk, sizeof(chunk));
      if (n <= 0) return "";
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

  // Sends `signal`, then as Wait().
  int SignalAndWait(int signal) {
    kill(pid_, signal);
    return Wait();
  }

  // Waits for exit; the exit status, or 128 + the signal that ended it, as a shell says.
  int Wait() {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
};

int ListeningPort(Child& server) {
  std::string line = server.ReadLine();
  int port = 0;
  if (!absl::StartsWith(line, "listening=") || !absl::SimpleAtoi(line.substr(10), &port)) {
    ADD_FAILURE() << "unexpected first line: \"" << line << "\"";
    return 0;
  }
  return port;
}

TEST(RunResult, PercentilesUseNearestRank) {
  RunResult result;
  for (int i = 1; i <= 1000; ++i) result.ok_latency_ns.push_back(int64_t{i} * 1000000);
  EXPECT_DOUBLE_EQ(result.LatencyMs(0.5), 500);
  EXPECT_DOUBLE_EQ(result.LatencyMs(0.99), 990);
  EXPECT_DOUBLE_EQ(result.LatencyMs(0.999), 999);
  EXPECT_DOUBLE_EQ(result.LatencyMs(1.0), 1000);
  EXPECT_DOUBLE_EQ(RunResult{}.LatencyMs(0.5), 0);
}

TEST(CallModes, UnknownModeIsRejectedNamingTheKnownOnes) {
  absl::StatusOr<std::unique_ptr<CallMode>> mode = NewCallMode("teleport", ModeContext{});
  EXPECT_EQ(mode.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(mode.status().message(), "echo")) << mode.status();
}

TEST(EchoServer, ServesLoadAndStopsCleanlyOnSigterm) {
  Child server({ECHO_SERVER_BINARY, "--listen=127.0.0.1:0"});
  ASSERT_TRUE(server.running());
  int port = ListeningPort(server);
  ASSERT_NE(port, 0);
  std::string target = absl::StrCat("127.0.0.1:", port);

  // In process: the runner against the real binary.
  ModeContext context;
  context.channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  absl::StatusOr<std::unique_ptr<CallMode>> mode = NewCallMode("echo", context);
  ASSERT_TRUE(mode.ok()) << mode.status();
  RunOptions options;
  options.concurrency = 4;
  options.warmup = absl::Milliseconds(50);
  options.duration = absl::Milliseconds(300);
  RunResult result = RunLoad(**mode, options);
  EXPECT_GT(result.calls, 0);
  EXPECT_EQ(result.errors(), 0) << FormatTable({"echo", target, 4, options.warmup}, result);
  EXPECT_EQ(result.codes["OK"], result.calls);
  EXPECT_EQ(static_cast<int64_t>(result.ok_latency_ns.size()), result.calls);

  // The command-line tool, JSON output.
  Child loadgen({LOADGEN_BINARY, "--target=" + target, "--mode=echo", "--concurrency=2",
                 "--duration=300ms", "--warmup=0s", "--json"});
  ASSERT_TRUE(loadgen.running());
  std::string json = loadgen.ReadLine();
  EXPECT_EQ(loadgen.Wait(), 0) << json;
  EXPECT_TRUE(absl::StartsWith(json, "{\"mode\":\"echo\"")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"errors\":0,")) << json;

  EXPECT_EQ(server.SignalAndWait(SIGTERM), 0);
}

TEST(Loadgen, BadSettingsExitWithStatus2) {
  Child loadgen({LOADGEN_BINARY, "--target=127.0.0.1:1", "--mode=teleport"});
  ASSERT_TRUE(loadgen.running());
  EXPECT_EQ(loadgen.Wait(), 2);
}

}  // namespace
}  // namespace gridloop::loadgen
