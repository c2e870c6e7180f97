// The client against a real redis-server.

#include "common/redis/redis_client.h"

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/testing/redis_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gridloop::redis {
namespace {

using ::gridloop::testing::RedisServer;
using ::testing::HasSubstr;

std::unique_ptr<Client> ClientFor(const RedisServer& server, Options options = {}) {
  options.host = server.host();
  options.port = server.port();
  absl::StatusOr<std::unique_ptr<Client>> client = Connect(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

// Waits until `n` connections are parked in BLPOP on the server, so a test knows those
// calls hold their pooled connections right now.
void AwaitBlockedClients(Client& observer, int n) {
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  int blocked = 0;
  while (absl::Now() < deadline) {
    absl::StatusOr<Reply> list = observer.Command({"CLIENT", "LIST"});
    ASSERT_TRUE(list.ok()) << list.status();
    blocked = 0;
    for (absl::string_view line : absl::StrSplit(list->str, '\n')) {
      if (absl::StrContains(line, " cmd=blpop ")) ++blocked;
    }
    if (blocked >= n) return;
    absl::SleepFor(absl::Milliseconds(10));
  }
  FAIL() << "only " << blocked << " of " << n << " clients blocked in BLPOP";
}

int64_t ScriptLoadCalls(Client& client) {
  absl::StatusOr<Reply> info = client.Command({"INFO", "commandstats"});
  EXPECT_TRUE(info.ok()) << info.status();
  if (!info.ok()) return -1;
  for (absl::string_view line : absl::StrSplit(info->str, "\r\n")) {
    if (absl::ConsumePrefix(&line, "cmdstat_script|load:calls=")) {
      int64_t calls = 0;
      EXPECT_TRUE(absl::SimpleAtoi(line.substr(0, line.find(',')), &calls)) << line;
      return calls;
    }
  }
  return 0;
}

// Most cases share one server; each uses its own keys.
class RedisClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    client_ = ClientFor(*server_);
    ASSERT_NE(client_, nullptr);
  }

  static RedisServer* server_;
  std::unique_ptr<Client> client_;
};

RedisServer* RedisClientTest::server_ = nullptr;

TEST_F(RedisClientTest, BinaryKeysAndValuesRoundTrip) {
  std::string key("bin\0key", 7);
  std::string value;
  for (int b = 0; b < 256; ++b) value.push_back(static_cast<char>(b));
  value += std::string("\r\n\0\r\n", 5);

  absl::StatusOr<Reply> set = client_->Command({"SET", key, value});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(*set, Reply::Status("OK"));

  absl::StatusOr<Reply> got = client_->Command({"GET", key});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, Reply::String(value));
  EXPECT_EQ(got->str.size(), 261u);

  absl::StatusOr<Reply> truncated_key = client_->Command({"GET", "bin"});
  ASSERT_TRUE(truncated_key.ok()) << truncated_key.status();
  EXPECT_TRUE(truncated_key->is_nil());
}

TEST_F(RedisClientTest, RepliesOfEveryShapeAreCopied) {
  ASSERT_TRUE(client_->Command({"DEL", "shapes"}).ok());
  absl::StatusOr<Reply> pushed = client_->Command({"RPUSH", "shapes", "a", "", "c"});
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  EXPECT_EQ(*pushed, Reply::Integer(3));
  absl::StatusOr<Reply> range = client_->Command({"LRANGE", "shapes", "0", "-1"});
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(*range, Reply::Array({Reply::String("a"), Reply::String(""), Reply::String("c")}));
}

TEST_F(RedisClientTest, ErrorReplyBecomesInternalWithTheRedisMessage) {
  ASSERT_TRUE(client_->Command({"SET", "plain", "x"}).ok());
  absl::StatusOr<Reply> wrong = client_->Command({"HSET", "plain", "f", "v"});
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(wrong.status().message(), HasSubstr("WRONGTYPE"));
  // The connection stays usable after an error reply.
  EXPECT_TRUE(Ping(*client_).ok());
}

TEST_F(RedisClientTest, PipelineKeepsErrorRepliesInTheirSlots) {
  absl::StatusOr<std::vector<Reply>> replies = client_->Pipeline({
      {"SET", "pipe", "1"},
      {"INCR", "pipe"},
      {"HSET", "pipe", "f", "v"},
      {"GET", "pipe"},
      {"NOSUCHCOMMAND"},
      {"GET", "pipe-missing"},
  });
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 6u);
  EXPECT_EQ((*replies)[0], Reply::Status("OK"));
  EXPECT_EQ((*replies)[1], Reply::Integer(2));
  EXPECT_TRUE((*replies)[2].is_error());
  EXPECT_THAT((*replies)[2].str, HasSubstr("WRONGTYPE"));
  EXPECT_EQ((*replies)[3], Reply::String("2"));
  EXPECT_TRUE((*replies)[4].is_error());
  EXPECT_TRUE((*replies)[5].is_nil());
  // Every reply was consumed: the next command on the pooled connection sees its own.
  absl::StatusOr<Reply> echo = client_->Command({"ECHO", "in sync"});
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_EQ(*echo, Reply::String("in sync"));
}

TEST_F(RedisClientTest, ScriptShaEqualsWhatRedisComputes) {
  Script script("return redis.call('GET', KEYS[1])");
  absl::StatusOr<Reply> loaded = client_->Command({"SCRIPT", "LOAD", script.source()});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->str, script.sha());
}

TEST_F(RedisClientTest, EvalLoadsTheScriptOnceAndReloadsAfterFlush) {
  Script script("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}");
  ASSERT_TRUE(client_->Command({"SCRIPT", "FLUSH"}).ok());
  ASSERT_TRUE(client_->Command({"DEL", "evals"}).ok());
  ASSERT_TRUE(client_->Command({"CONFIG", "RESETSTAT"}).ok());

  for (int i = 1; i <= 3; ++i) {
    absl::StatusOr<Reply> r = client_->Eval(script, {"evals"}, {"arg"});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, Reply::Array({Reply::String("evals"), Reply::String("arg"), Reply::Integer(i)}));
  }
  EXPECT_EQ(ScriptLoadCalls(*client_), 1);

  ASSERT_TRUE(client_->Command({"SCRIPT", "FLUSH"}).ok());
  absl::StatusOr<Reply> after_flush = client_->Eval(script, {"evals"}, {"again"});
  ASSERT_TRUE(after_flush.ok()) << after_flush.status();
  EXPECT_EQ(after_flush->elements.at(2), Reply::Integer(4));
  EXPECT_EQ(ScriptLoadCalls(*client_), 2);
}

TEST_F(RedisClientTest, ScriptErrorsMapLikeCommandErrors) {
  Script raises("return redis.error_reply('STALE expected version 3')");
  absl::StatusOr<Reply> stale = client_->Eval(raises, {}, {});
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(stale.status().message(), HasSubstr("STALE expected version 3"));

  Script busy("return redis.error_reply('BUSY pretend the server is busy')");
  EXPECT_EQ(client_->Eval(busy, {}, {}).status().code(), absl::StatusCode::kUnavailable);

  ASSERT_TRUE(client_->Command({"SET", "script-plain", "x"}).ok());
  Script wrong_type("return redis.call('HSET', KEYS[1], 'f', 'v')");
  absl::StatusOr<Reply> wrong = client_->Eval(wrong_type, {"script-plain"}, {});
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(wrong.status().message(), HasSubstr("WRONGTYPE"));
}

TEST_F(RedisClientTest, ConcurrentCallersShareThePool) {
  constexpr int kThreads = 16;
  constexpr int kIncrementsPerThread = 500;
  Options options;
  options.pool_size = 8;
  options.pool_wait = absl::Seconds(30);  // Generous: the build machine may be loaded.
  std::unique_ptr<Client> client = ClientFor(*server_, options);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Command({"DEL", "counter"}).ok());

  absl::Mutex mu;
  std::vector<absl::Status> failures;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrementsPerThread; ++i) {
        absl::StatusOr<Reply> r = client->Command({"INCR", "counter"});
        if (!r.ok()) {
          absl::MutexLock lock(&mu);
          failures.push_back(r.status());
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_THAT(failures, ::testing::IsEmpty());

  absl::StatusOr<Reply> total = client->Command({"GET", "counter"});
  ASSERT_TRUE(total.ok()) << total.status();
  EXPECT_EQ(total->str, absl::StrCat(kThreads * kIncrementsPerThread));
}

TEST_F(RedisClientTest, PoolExhaustedWhenEveryConnectionIsBusy) {
  Options options;
  options.pool_size = 1;
  options.pool_wait = absl::Milliseconds(50);
  options.command_timeout = absl::Seconds(30);
  std::unique_ptr<Client> client = ClientFor(*server_, options);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client_->Command({"DEL", "exhaust"}).ok());

  absl::StatusOr<Reply> popped;
  std::thread holder([&] { popped = client->Command({"BLPOP", "exhaust", "20"}); });
  AwaitBlockedClients(*client_, 1);

  absl::StatusOr<Reply> refused = client->Command({"PING"});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(refused.status().message(), HasSubstr("redis pool exhausted"));

  ASSERT_TRUE(client_->Command({"LPUSH", "exhaust", "x"}).ok());
  holder.join();
  ASSERT_TRUE(popped.ok()) << popped.status();
  EXPECT_EQ(*popped, Reply::Array({Reply::String("exhaust"), Reply::String("x")}));
  // The connection came back to the pool.
  EXPECT_TRUE(Ping(*client).ok());
}

TEST_F(RedisClientTest, NewPingAnswersWhileTheServicesPoolIsBusy) {
  Options options;
  options.host = server_->host();
  options.port = server_->port();
  options.pool_size = 1;
  options.pool_wait = absl::Milliseconds(50);
  options.command_timeout = absl::Seconds(30);
  std::unique_ptr<Client> busy = ClientFor(*server_, options);
  ASSERT_NE(busy, nullptr);
  absl::StatusOr<std::function<absl::Status()>> ping = NewPing(options);
  ASSERT_TRUE(ping.ok()) << ping.status();
  ASSERT_TRUE(client_->Command({"DEL", "busy-pool"}).ok());

  absl::StatusOr<Reply> popped;
  std::thread holder([&] { popped = busy->Command({"BLPOP", "busy-pool", "20"}); });
  AwaitBlockedClients(*client_, 1);
  // The pool has nothing free, yet Redis answers: a readiness check must say so.
  EXPECT_EQ(Ping(*busy).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE((*ping)().ok());
  ASSERT_TRUE(client_->Command({"LPUSH", "busy-pool", "x"}).ok());
  holder.join();
  ASSERT_TRUE(popped.ok()) << popped.status();
}

TEST(RedisClientFaults, NewPingFailsWhileRedisIsStoppedAndAnswersOnceItIsBack) {
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  Options options;
  options.host = (*server)->host();
  options.port = (*server)->port();
  absl::StatusOr<std::function<absl::Status()>> ping = NewPing(options);
  ASSERT_TRUE(ping.ok()) << ping.status();
  EXPECT_TRUE((*ping)().ok());
  ASSERT_TRUE((*server)->Stop(/*hard=*/true).ok());
  EXPECT_EQ((*ping)().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE((*server)->Restart().ok());
  EXPECT_TRUE((*ping)().ok());
}

TEST_F(RedisClientTest, CommandTimeoutOnAStalledServerIsUnavailable) {
  Options quick_options;
  quick_options.command_timeout = absl::Milliseconds(100);
  std::unique_ptr<Client> quick = ClientFor(*server_, quick_options);
  Options patient_options;
  patient_options.command_timeout = absl::Seconds(30);
  std::unique_ptr<Client> patient = ClientFor(*server_, patient_options);
  ASSERT_NE(quick, nullptr);
  ASSERT_NE(patient, nullptr);
  ASSERT_TRUE(Ping(*quick).ok());

  // CLIENT PAUSE holds every client's commands on the server, like a server stuck in a
  // long command, and unlike DEBUG SLEEP it is in effect once its own reply arrives.
  ASSERT_TRUE(patient->Command({"CLIENT", "PAUSE", "2000"}).ok());
  absl::StatusOr<Reply> late = quick->Command({"ECHO", "late"});
  EXPECT_EQ(late.status().code(), absl::StatusCode::kUnavailable);

  // Blocks until the pause ends; then the timed-out connection must not be reused, or
  // its stale "late" reply would answer the next command.
  ASSERT_TRUE(Ping(*patient).ok());
  absl::StatusOr<Reply> fresh = quick->Command({"ECHO", "fresh"});
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(*fresh, Reply::String("fresh"));
}

// These own their server, since they stop it.
TEST(RedisClientFaults, StoppedServerIsUnavailableAndTheSameClientRecovers) {
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  Options options;
  options.connect_timeout = absl::Milliseconds(500);
  options.command_timeout = absl::Milliseconds(500);
  std::unique_ptr<Client> client = ClientFor(**server, options);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Command({"SET", "k", "v"}).ok());

  ASSERT_TRUE((*server)->Stop(/*hard=*/true).ok());
  EXPECT_EQ(client->Command({"GET", "k"}).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(client->Pipeline({{"GET", "k"}}).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(client->Eval(Script("return 1"), {}, {}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(Ping(*client).code(), absl::StatusCode::kUnavailable);

  ASSERT_TRUE((*server)->Restart().ok());
  EXPECT_TRUE(Ping(*client).ok());
  absl::StatusOr<Reply> got = client->Command({"GET", "k"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->is_nil());  // No AOF in this server: the restart lost the key.
}

TEST(RedisClientFaults, IdleConnectionsFromBeforeARestartAreReplaced) {
  constexpr int kConnections = 4;
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  Options options;
  options.pool_size = kConnections;
  std::unique_ptr<Client> client = ClientFor(**server, options);
  std::unique_ptr<Client> observer = ClientFor(**server);
  ASSERT_NE(client, nullptr);
  ASSERT_NE(observer, nullptr);

  // Fill the pool: kConnections calls parked at once each open their own connection.
  std::vector<std::thread> parked;
  parked.reserve(kConnections);
  for (int i = 0; i < kConnections; ++i) {
    parked.emplace_back([&] { EXPECT_TRUE(client->Command({"BLPOP", "wake", "20"}).ok()); });
  }
  AwaitBlockedClients(*observer, kConnections);
  ASSERT_TRUE(observer->Command({"LPUSH", "wake", "1", "2", "3", "4"}).ok());
  for (std::thread& t : parked) t.join();

  ASSERT_TRUE((*server)->Stop(/*hard=*/false).ok());
  ASSERT_TRUE((*server)->Restart().ok());
  // Every pooled connection is dead now; none of them may surface as a failed call.
  for (int i = 0; i < 2 * kConnections; ++i) {
    EXPECT_TRUE(Ping(*client).ok()) << "call " << i;
  }
}

TEST(RedisClientFaults, NothingListeningIsUnavailable) {
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  std::unique_ptr<Client> client = ClientFor(**server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE((*server)->Stop(/*hard=*/true).ok());
  absl::StatusOr<Reply> r = client->Command({"PING"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr((*server)->address()));
}

}  // namespace
}  // namespace gridloop::redis
