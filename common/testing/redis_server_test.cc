#include "common/testing/redis_server.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/redis/redis_client.h"
#include "common/testing/child_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gridloop::testing {
namespace {

using redis::Reply;

std::unique_ptr<redis::Client> ClientFor(const RedisServer& server) {
  redis::Options options;
  options.host = server.host();
  options.port = server.port();
  absl::StatusOr<std::unique_ptr<redis::Client>> client = redis::Connect(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

TEST(PickFreePort, PicksBindablePortsOutsideTheEphemeralRange) {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  int high = 0;
  ASSERT_TRUE(in >> low >> high);
  std::set<int> seen;
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<int> port = PickFreePort();
    ASSERT_TRUE(port.ok()) << port.status();
    seen.insert(*port);
    // Outgoing connections take their local ports from [low, high]; with room outside it,
    // none of them can hold a picked port.
    if (low - 10000 >= 1000 || 65535 - high >= 1000) {
      EXPECT_TRUE(*port < low || *port > high) << *port << " in " << low << "-" << high;
    }
    EXPECT_GE(*port, 1024);
  }
  // Random, so that tests picking at once rarely meet.
  EXPECT_GT(seen.size(), 40U);
}

TEST(RedisServer, TwoServersGetTheirOwnPortAndDirectoryAndLeaveNothingBehind) {
  std::string first_dir;
  {
    absl::StatusOr<std::unique_ptr<RedisServer>> a = RedisServer::Start();
    absl::StatusOr<std::unique_ptr<RedisServer>> b = RedisServer::Start();
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_NE((*a)->port(), (*b)->port());
    EXPECT_NE((*a)->dir(), (*b)->dir());
    EXPECT_EQ((*a)->address(), absl::StrCat("127.0.0.1:", (*a)->port()));
    EXPECT_TRUE(std::filesystem::is_directory((*a)->dir()));
    first_dir = (*a)->dir();

    std::unique_ptr<redis::Client> client = ClientFor(**a);
    ASSERT_NE(client, nullptr);
    EXPECT_TRUE(redis::Ping(*client).ok());
    absl::StatusOr<Reply> save = client->Command({"CONFIG", "GET", "save"});
    ASSERT_TRUE(save.ok()) << save.status();
    EXPECT_EQ(*save, Reply::Array({Reply::String("save"), Reply::String("")}));
  }
  EXPECT_FALSE(std::filesystem::exists(first_dir));
}

TEST(RedisServer, AofKeepsAcknowledgedWritesAcrossAKill) {
  RedisServer::Options options;
  options.appendonly = true;
  options.appendfsync = "always";
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  std::unique_ptr<redis::Client> client = ClientFor(**server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Command({"SET", "durable", "yes"}).ok());

  int port = (*server)->port();
  ASSERT_TRUE((*server)->Stop(/*hard=*/true).ok());
  EXPECT_FALSE((*server)->running());
  ASSERT_TRUE((*server)->Restart().ok());
  EXPECT_EQ((*server)->port(), port);

  absl::StatusOr<Reply> got = client->Command({"GET", "durable"});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, Reply::String("yes"));
}

TEST(RedisServer, GracefulStopAndRestartKeepAofData) {
  RedisServer::Options options;
  options.appendonly = true;
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  std::unique_ptr<redis::Client> client = ClientFor(**server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Command({"RPUSH", "list", "a", "b"}).ok());

  ASSERT_TRUE((*server)->Stop(/*hard=*/false).ok());
  ASSERT_TRUE((*server)->Restart().ok());
  absl::StatusOr<Reply> len = client->Command({"LLEN", "list"});
  ASSERT_TRUE(len.ok()) << len.status();
  EXPECT_EQ(*len, Reply::Integer(2));
}

TEST(RedisServer, StopIsIdempotentAndRestartNeedsAStoppedServer) {
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ((*server)->Restart().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE((*server)->Stop(/*hard=*/true).ok());
  EXPECT_TRUE((*server)->Stop(/*hard=*/true).ok());
}

TEST(RedisServer, BadConfigurationFailsWithTheServerLog) {
  RedisServer::Options options;
  options.appendfsync = "sometimes";
  absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start(options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(server.status().message()), ::testing::HasSubstr("appendfsync"));
}

}  // namespace
}  // namespace gridloop::testing
