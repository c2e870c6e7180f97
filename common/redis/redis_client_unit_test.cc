#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/redis/mock_redis_client.h"
#include "common/redis/redis_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gridloop::redis {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Return;

TEST(Script, ShaIsSha1HexOfTheSource) {
  EXPECT_EQ(Script("abc").sha(), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Script("").sha(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(Script("return 1").source(), "return 1");
}

TEST(Script, ShaCoversEveryByte) {
  std::string with_nul("return 1\0x", 10);
  EXPECT_NE(Script(with_nul).sha(), Script("return 1").sha());
}

TEST(StatusFromErrorReply, TransientKindsAreUnavailable) {
  for (const char* message :
       {"LOADING Redis is loading the dataset in memory", "BUSY Redis is busy running a script",
        "MASTERDOWN Link with MASTER is down", "READONLY You can't write against a replica",
        "TRYAGAIN Multiple keys request during rehashing", "CLUSTERDOWN The cluster is down"}) {
    absl::Status status = StatusFromErrorReply(message);
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << message;
    EXPECT_EQ(status.message(), message);
  }
}

TEST(StatusFromErrorReply, OtherKindsAreInternalWithTheMessage) {
  for (const char* message :
       {"ERR unknown command 'FOO'", "WRONGTYPE Operation against a key",
        "BUSYGROUP Consumer Group name already exists", "BUSYKEY Target key name already exists",
        "STALE version 3", "LOADINGX", ""}) {
    absl::Status status = StatusFromErrorReply(message);
    EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << message;
    EXPECT_EQ(status.message(), message);
  }
}

TEST(Connect, RejectsBadOptionsWithoutTouchingTheNetwork) {
  Options bad_port;
  bad_port.port = 0;
  EXPECT_EQ(Connect(bad_port).status().code(), absl::StatusCode::kInvalidArgument);
  Options no_host;
  no_host.host = "";
  EXPECT_EQ(Connect(no_host).status().code(), absl::StatusCode::kInvalidArgument);
  Options no_pool;
  no_pool.pool_size = 0;
  EXPECT_THAT(Connect(no_pool).status().message(), HasSubstr("pool_size"));
  Options no_timeout;
  no_timeout.command_timeout = absl::ZeroDuration();
  EXPECT_THAT(Connect(no_timeout).status().message(), HasSubstr("command_timeout"));
}

TEST(Connect, DoesNotNeedAServerAndRejectsEmptyCommandsLocally) {
  absl::StatusOr<std::unique_ptr<Client>> client = Connect(Options{});
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ((*client)->Command({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*client)->Pipeline({{"PING"}, {}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::vector<Reply>> none = (*client)->Pipeline({});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
}

TEST(Reply, ComparesByValueAndPrintsEscaped) {
  Reply a = Reply::Array({Reply::String(std::string("a\0b", 3)), Reply::Integer(7), Reply::Nil(),
                          Reply::Status("OK"), Reply::Error("ERR x")});
  EXPECT_EQ(a, a);
  EXPECT_NE(a, Reply::Array({}));
  EXPECT_EQ(a.DebugString(), "[\"a\\000b\", (integer) 7, (nil), +OK, -ERR x]");
  EXPECT_TRUE(Reply::Nil().is_nil());
  EXPECT_TRUE(Reply::Error("ERR").is_error());
}

TEST(MockClient, StandsInForTheRealClient) {
  MockClient mock;
  EXPECT_CALL(mock, Command(ElementsAre("PING")))
      .WillOnce(Return(Reply::Status("PONG")))
      .WillOnce(Return(StatusFromErrorReply("LOADING Redis is loading")));
  EXPECT_TRUE(Ping(mock).ok());
  EXPECT_EQ(Ping(mock).code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace gridloop::redis
