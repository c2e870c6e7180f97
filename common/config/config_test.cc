#include "common/config/config.h"

#include "gtest/gtest.h"

namespace gridloop::config {
namespace {

TEST(Settings, FlagWinsOverEnvironmentWhichWinsOverDefault) {
  const char* argv[] = {"svc", "--redis=127.0.0.1:7000", "--residents-addr", "r:1"};
  auto s =
      Settings::Parse(4, argv, {{"GRIDLOOP_REDIS", "env:1"}, {"GRIDLOOP_LISTEN", "0.0.0.0:9"}});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->Get("redis"), "127.0.0.1:7000");
  EXPECT_EQ(s->Get("listen"), "0.0.0.0:9");
  EXPECT_EQ(s->Get("residents_addr"), "r:1");
  EXPECT_EQ(s->Get("metrics_listen", "d:1"), "d:1");
}

TEST(Settings, BadValuesNameTheVariable) {
  const char* argv[] = {"svc", "--pool=abc", "--timeout=soon"};
  auto s = Settings::Parse(3, argv, {});
  ASSERT_TRUE(s.ok());
  auto n = s->GetInt("pool", 1);
  EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(n.status().message().find("GRIDLOOP_POOL"), std::string::npos);
  EXPECT_FALSE(s->GetDuration("timeout", absl::Seconds(1)).ok());
  EXPECT_EQ(*s->GetDuration("absent", absl::Seconds(3)), absl::Seconds(3));
}

TEST(Settings, PositionalArgumentIsRejected) {
  const char* argv[] = {"svc", "oops"};
  EXPECT_FALSE(Settings::Parse(2, argv, {}).ok());
}

TEST(HostPort, ParsesAndRejects) {
  auto hp = ParseHostPort("127.0.0.1:6379", "GRIDLOOP_REDIS");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 6379);
  EXPECT_FALSE(ParseHostPort("nohost", "x").ok());
  EXPECT_FALSE(ParseHostPort("h:99999", "x").ok());
  EXPECT_EQ(ParseHostPort("[::1]:5", "x")->host, "::1");
}

}  // namespace
}  // namespace gridloop::config
