// The asynchronous client against a real redis-server.
#include "common/redis/async_client.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/testing/redis_server.h"
#include "gtest/gtest.h"

namespace gridloop::redis {
namespace {

using ::gridloop::testing::RedisServer;

// Waits for one callback and hands its result over.
class Result {
 public:
  AsyncClient::Callback Callback() {
    return [this](absl::StatusOr<Reply> r) {
      absl::MutexLock lock(&mu_);
      result_ = std::move(r);
      done_ = true;
    };
  }
  absl::StatusOr<Reply> Get() {
    absl::MutexLock lock(&mu_);
    auto done = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return done_; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(20))) {
      return absl::DeadlineExceededError("no callback");
    }
    return result_;
  }

 private:
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::StatusOr<Reply> result_ ABSL_GUARDED_BY(mu_) = absl::UnknownError("unset");
};

class AsyncClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  std::unique_ptr<AsyncClient> Client(absl::Duration timeout = absl::Seconds(2)) {
    Options o;
    o.port = server_->port();
    o.pool_size = 2;
    o.command_timeout = timeout;
    auto c = AsyncClient::Start(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return std::move(*c);
  }

  absl::StatusOr<Reply> Run(AsyncClient& c, std::vector<std::string> argv) {
    Result r;
    c.Command(std::move(argv), r.Callback());
    return r.Get();
  }

  std::unique_ptr<RedisServer> server_;
};

TEST_F(AsyncClientTest, CommandsAndBinaryValuesRoundTrip) {
  auto c = Client();
  const std::string value("a\0b\r\nc", 6);
  ASSERT_TRUE(Run(*c, {"SET", "k", value}).ok());
  auto got = Run(*c, {"GET", "k"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->str, value);
  auto err = Run(*c, {"INCR", "k"});
  EXPECT_EQ(err.status().code(), absl::StatusCode::kInternal) << "an error reply is a status";
}

TEST_F(AsyncClientTest, EvalLoadsTheScriptAgainAfterAFlush) {
  auto c = Client();
  Script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  Result first;
  c->Eval(script, {"n"}, {"2"}, first.Callback());
  ASSERT_TRUE(first.Get().ok()) << first.Get().status();
  EXPECT_EQ(first.Get()->integer, 2);
  ASSERT_TRUE(Run(*c, {"SCRIPT", "FLUSH"}).ok());
  for (int i = 0; i < 4; ++i) {  // both connections meet NOSCRIPT once
    Result again;
    c->Eval(script, {"n"}, {"1"}, again.Callback());
    ASSERT_TRUE(again.Get().ok()) << again.Get().status();
    EXPECT_EQ(again.Get()->integer, 3 + i);
  }
}

TEST_F(AsyncClientTest, ManyThreadsShareTheClient) {
  auto c = Client();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::atomic<int> ok{0};
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        c->Command({"INCR", "counter"}, [&](const absl::StatusOr<Reply>& r) {
          if (r.ok()) ++ok;
          ++answered;
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (answered.load() < kThreads * kPerThread && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));  // polling for the last callbacks
  }
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_EQ(Run(*c, {"GET", "counter"})->str, std::to_string(kThreads * kPerThread));
}

TEST_F(AsyncClientTest, ARedisRestartFailsCallsInFlightThenRecovers) {
  auto c = Client();
  ASSERT_TRUE(Run(*c, {"SET", "a", "1"}).ok());
  ASSERT_TRUE(server_->Stop(/*hard=*/true).ok());
  auto down = Run(*c, {"GET", "a"});
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();
  ASSERT_TRUE(server_->Restart().ok());
  absl::StatusOr<Reply> up = absl::UnavailableError("not tried");
  for (int i = 0; i < 4 && !up.ok(); ++i) up = Run(*c, {"PING"});  // each connection once
  EXPECT_TRUE(up.ok()) << up.status();
}

TEST_F(AsyncClientTest, ACommandWithoutAReplyTimesOut) {
  auto c = Client(absl::Milliseconds(200));
  auto admin = Client();
  ASSERT_TRUE(Run(*admin, {"CLIENT", "PAUSE", "1500", "ALL"}).ok());
  auto paused = Run(*c, {"GET", "x"});
  EXPECT_EQ(paused.status().code(), absl::StatusCode::kUnavailable) << paused.status();
  // Once the pause ends the client connects afresh and works; until then each attempt
  // times out on its own.
  absl::StatusOr<Reply> after = absl::UnavailableError("not tried");
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (!after.ok() && absl::Now() < deadline) after = Run(*c, {"PING"});
  EXPECT_TRUE(after.ok()) << after.status();
}

TEST_F(AsyncClientTest, DestroyingTheClientAnswersEveryCommand) {
  std::atomic<int> answered{0};
  {
    auto c = Client();
    for (int i = 0; i < 200; ++i) {
      c->Command({"PING"}, [&](const absl::StatusOr<Reply>&) { ++answered; });
    }
  }
  EXPECT_EQ(answered.load(), 200);
}

}  // namespace
}  // namespace gridloop::redis
