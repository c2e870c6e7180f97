#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/testing/kafka_cluster.h"
#include "gtest/gtest.h"
#include "tools/loadgen/bare_hop.h"
#include "tools/loadgen/call_mode.h"
#include "tools/loadgen/load_run.h"
#include "tools/loadgen/open_loop.h"
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

TEST(ItemTag, RoundTripsAndRejectsOtherRuns) {
  const std::string tag = ItemTag("loop", "1764000000", 42);
  EXPECT_EQ(tag, "loop-1764000000-42");
  EXPECT_EQ(ParseItemTag(tag, "loop", "1764000000"), 42);
  EXPECT_EQ(ParseItemTag("loop-1764000000-0", "loop", "1764000000"), 0);
  EXPECT_EQ(ParseItemTag(tag, "loop", "1764000001"), std::nullopt);
  EXPECT_EQ(ParseItemTag(tag, "hop", "1764000000"), std::nullopt);
  for (const char* other : {"", "loop-1764000000-", "loop-1764000000-4x", "loop-1764000000--4",
                            "loop-1764000000-+4", "loop-1764000000- 4", "WO-2026-0042"}) {
    EXPECT_EQ(ParseItemTag(other, "loop", "1764000000"), std::nullopt) << other;
  }
}

TEST(Distribution, PercentilesUseNearestRank) {
  std::vector<int64_t> ns;
  for (int i = 1000; i >= 1; --i) ns.push_back(int64_t{i} * 1000000);  // unsorted on purpose
  Distribution d(std::move(ns));
  EXPECT_EQ(d.count(), 1000U);
  EXPECT_DOUBLE_EQ(d.Ms(0.5), 500);
  EXPECT_DOUBLE_EQ(d.Ms(0.99), 990);
  EXPECT_DOUBLE_EQ(d.Ms(0.999), 999);
  EXPECT_DOUBLE_EQ(d.MaxMs(), 1000);
  EXPECT_DOUBLE_EQ(Distribution().Ms(0.99), 0);
}

TEST(Ledger, MeasuresFromTheDueTimeAndKeepsTheFirstSighting) {
  Ledger ledger(3);  // due, answered, seen
  EXPECT_EQ(ledger.Add(1'000'000, /*measured=*/false), 0);
  EXPECT_EQ(ledger.Add(2'000'000, true), 1);
  EXPECT_EQ(ledger.Add(3'000'000, true), 2);
  EXPECT_EQ(ledger.Add(4'000'000, true), 3);

  // An event may be read before its call is answered; order does not matter.
  EXPECT_TRUE(ledger.Mark(1, 2, 9'000'000));
  EXPECT_TRUE(ledger.Mark(1, 1, 2'500'000));
  // Kafka delivers a record twice: the later copy says nothing.
  EXPECT_FALSE(ledger.Mark(1, 2, 50'000'000));
  EXPECT_TRUE(ledger.Mark(2, 1, 3'200'000));
  ledger.Fail(3, "DEADLINE_EXCEEDED");
  ledger.Fail(3, "UNAVAILABLE");  // the first failure counts
  // Warm-up items count for readiness only.
  EXPECT_TRUE(ledger.Mark(0, 2, 1'500'000));
  // Unknown items and milestones are ignored; milestone 0 belongs to Add().
  EXPECT_FALSE(ledger.Mark(7, 1, 1));
  EXPECT_FALSE(ledger.Mark(1, 3, 1));
  EXPECT_FALSE(ledger.Mark(1, 0, 1));

  EXPECT_EQ(ledger.measured(), 3);
  EXPECT_EQ(ledger.failed(), 1);
  EXPECT_EQ(ledger.failures(), (std::map<std::string, int64_t>{{"DEADLINE_EXCEEDED", 1}}));
  EXPECT_EQ(ledger.Reached(2), 1);
  EXPECT_EQ(ledger.Missing(2), 1);  // item 2: answered, never seen; item 3 failed
  EXPECT_EQ(ledger.ReachedByAny(2), 2);

  Distribution seen = ledger.Between(0, 2);
  ASSERT_EQ(seen.count(), 1U);
  EXPECT_DOUBLE_EQ(seen.Ms(1.0), 7.0);  // 9 ms - due at 2 ms, not from the 2.5 ms start
  Distribution answered = ledger.Between(0, 1);
  ASSERT_EQ(answered.count(), 2U);
  EXPECT_DOUBLE_EQ(answered.Ms(0.5), 0.2);
  EXPECT_DOUBLE_EQ(answered.Ms(1.0), 0.5);
  EXPECT_DOUBLE_EQ(ledger.Between(1, 2).Ms(1.0), 6.5);
  EXPECT_EQ(ledger.Between(0, 9).count(), 0U);
  EXPECT_EQ(ledger.Values(1), (std::vector<int64_t>{2'500'000, 3'200'000}));
  EXPECT_EQ(ledger.Values(0), (std::vector<int64_t>{2'000'000, 3'000'000}));
}

TEST(Ledger, SplitsDurationsByWhenTheItemsWereDue) {
  Ledger ledger(2);
  ledger.Add(0, /*measured=*/false);  // warm-up: neither windowed nor the origin
  // Due at 10, 11, 12.5, 13 and 15.2 ms; each takes 1 ms more than the one before.
  const int64_t due_ms[] = {10, 11, 12, 13, 15};
  for (int64_t i = 0; i < 5; ++i) {
    const int64_t due = due_ms[i] * 1'000'000 + (i == 2 ? 500'000 : 0) + (i == 4 ? 200'000 : 0);
    const int64_t seq = ledger.Add(due, /*measured=*/true);
    if (i != 3) ledger.Mark(seq, 1, due + (i + 1) * 1'000'000);
    if (i == 3) ledger.Fail(seq, "UNAVAILABLE");
  }
  // Windows of 2 ms from the first measured item's due time (10 ms).
  std::vector<Distribution> windows = ledger.BetweenByDue(0, 1, absl::Milliseconds(2));
  ASSERT_EQ(windows.size(), 3U);
  EXPECT_EQ(windows[0].count(), 2U);  // due at 10 and 11 ms
  EXPECT_DOUBLE_EQ(windows[0].Ms(1.0), 2.0);
  EXPECT_EQ(windows[1].count(), 1U);  // 12.5 ms; the failed 13 ms item is left out
  EXPECT_DOUBLE_EQ(windows[1].Ms(1.0), 3.0);
  EXPECT_EQ(windows[2].count(), 1U);  // 15.2 ms
  EXPECT_DOUBLE_EQ(windows[2].Ms(1.0), 5.0);
  EXPECT_TRUE(ledger.BetweenByDue(0, 1, absl::ZeroDuration()).empty());
  EXPECT_TRUE(ledger.BetweenByDue(0, 7, absl::Milliseconds(2)).empty());
}

TEST(OpenLoop, SendsOnScheduleOnceThePathIsLive) {
  Ledger ledger(2);
  OpenLoopOptions options;
  options.rate = 1000;
  options.warmup = absl::ZeroDuration();
  options.duration = absl::Milliseconds(20);
  options.ready_milestone = 1;
  std::vector<int64_t> sent;
  ASSERT_TRUE(RunOpenLoop(options, ledger, [&](int64_t seq) {
                sent.push_back(seq);
                ledger.Mark(seq, 1, MonotonicNanos());
              }).ok());
  // Item 0 finds the path not yet proven live, so it warms up; the window then holds
  // exactly rate x duration items, due 1 ms apart.
  EXPECT_EQ(ledger.measured(), 20);
  ASSERT_EQ(sent.size(), 21U);
  for (size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(sent[i], static_cast<int64_t>(i));
  EXPECT_EQ(ledger.Missing(1), 0);
  // Never sent before its due time.
  EXPECT_GE(ledger.Between(0, 1).Ms(0.001), 0);
  EXPECT_TRUE(AwaitMilestone(ledger, 1, absl::ZeroDuration()));
}

TEST(OpenLoop, GivesUpWhenNothingComesBack) {
  Ledger ledger(2);
  OpenLoopOptions options;
  options.rate = 1000;
  options.warmup = absl::Milliseconds(5);
  options.ready_timeout = absl::Milliseconds(20);
  absl::Status status = RunOpenLoop(options, ledger, [](int64_t) {});
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_EQ(ledger.measured(), 0);
}

TEST(BareHop, ReadsBackEveryRecordThroughTheServicesClients) {
  auto cluster = testing::MockKafkaCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  ASSERT_TRUE((*cluster)->CreateTopic("loadgen.hop.test", 4).ok());
  HopOptions options;
  options.brokers = (*cluster)->bootstrap();
  options.topic = "loadgen.hop.test";
  options.partitions = 4;
  options.payload_bytes = 100;
  options.load.rate = 200;
  options.load.warmup = absl::Milliseconds(200);
  options.load.duration = absl::Milliseconds(500);
  absl::StatusOr<HopResult> result = RunHop(options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->sent, 100);
  EXPECT_EQ(result->failed, 0);
  EXPECT_EQ(result->acked, 100);
  EXPECT_EQ(result->consumed, 100);
  EXPECT_EQ(result->lost, 0);
  EXPECT_TRUE(result->ok());
  EXPECT_EQ(result->latency.count(), 100U);
  const std::string json = FormatHopJson(options, *result);
  EXPECT_TRUE(absl::StartsWith(json, R"({"mode":"hop",)")) << json;
  EXPECT_TRUE(absl::StrContains(json, R"("lost":0,)")) << json;
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
  // The fixed-rate modes check their own settings before connecting to anything.
  Child loop(
      {LOADGEN_BINARY, "--mode=loop", "--target=127.0.0.1:1", "--kafka_brokers=", "--rate=0"});
  ASSERT_TRUE(loop.running());
  EXPECT_EQ(loop.Wait(), 2);
  Child hop({LOADGEN_BINARY, "--mode=hop", "--kafka_brokers=127.0.0.1:1", "--rate=-5"});
  ASSERT_TRUE(hop.running());
  EXPECT_EQ(hop.Wait(), 2);
}

}  // namespace
}  // namespace gridloop::loadgen
