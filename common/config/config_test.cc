#include "common/config/config.h"

#include "common/config/process_settings.h"
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

TEST(ProcessSettings, ReadsOverTheServicesDefaults) {
  const char* argv[] = {"svc", "--workers=8", "--metrics_listen=127.0.0.1:9999"};
  auto s = Settings::Parse(
      3, argv, {{"GRIDLOOP_REDIS", "10.0.0.5:6380"}, {"GRIDLOOP_INSTANCE", "incidents-7d9f-x2"}});
  ASSERT_TRUE(s.ok());
  ProcessSettings p;
  p.listen = "0.0.0.0:50054";
  p.redis_pool = 32;
  ASSERT_TRUE(p.ReadProcess(*s).ok());
  EXPECT_EQ(p.listen, "0.0.0.0:50054");
  EXPECT_EQ(p.redis, "10.0.0.5:6380");
  EXPECT_EQ(p.redis_pool, 32);
  EXPECT_EQ(p.workers, 8);
  EXPECT_EQ(p.metrics_listen, "127.0.0.1:9999");
  EXPECT_EQ(p.instance, "incidents-7d9f-x2");
}

TEST(ProcessSettings, BadValuesNameTheVariable) {
  for (const auto& [flag, variable] : std::vector<std::pair<const char*, const char*>>{
           {"--workers=0", "GRIDLOOP_WORKERS"},
           {"--redis_pool=5000", "GRIDLOOP_REDIS_POOL"},
           {"--max_queue=0", "GRIDLOOP_MAX_QUEUE"},
           {"--listen=nowhere", "GRIDLOOP_LISTEN"},
           {"--redis=h:x", "GRIDLOOP_REDIS"},
           {"--instance=a b", "GRIDLOOP_INSTANCE"}}) {
    const char* argv[] = {"svc", flag};
    auto s = Settings::Parse(2, argv, {});
    ASSERT_TRUE(s.ok());
    ProcessSettings p;
    absl::Status st = p.ReadProcess(*s);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << flag;
    EXPECT_NE(st.message().find(variable), std::string::npos) << st;
  }
}

TEST(ConsumerSettings, PartitionsAndGroup) {
  const char* argv[] = {"svc", "--consumer_partitions=0, 2,5"};
  auto s = Settings::Parse(2, argv, {});
  ASSERT_TRUE(s.ok());
  ConsumerSettings c;
  c.consumer_group = "gridloop-x";
  ASSERT_TRUE(c.ReadConsumer(*s).ok());
  EXPECT_EQ(c.assign_partitions, (std::vector<int32_t>{0, 2, 5}));
  EXPECT_EQ(c.consumer_group, "gridloop-x");

  const char* bad[] = {"svc", "--consumer_partitions=1,x"};
  s = Settings::Parse(2, bad, {});
  EXPECT_NE(c.ReadConsumer(*s).message().find("GRIDLOOP_CONSUMER_PARTITIONS"), std::string::npos);
  ConsumerSettings no_group;
  EXPECT_NE(no_group.ReadConsumer(*Settings::Parse(1, argv, {}))
                .message()
                .find("GRIDLOOP_CONSUMER_GROUP"),
            std::string::npos);
}

TEST(ConsumerSettings, WorkersAndFetchWait) {
  const char* argv[] = {"svc", "--consumer_workers=16", "--kafka_fetch_wait=1ms"};
  auto s = Settings::Parse(3, argv, {});
  ASSERT_TRUE(s.ok());
  ConsumerSettings c;
  c.consumer_group = "gridloop-x";
  ASSERT_TRUE(c.ReadConsumer(*s).ok());
  EXPECT_EQ(c.consumer_workers, 16);
  EXPECT_EQ(c.kafka_fetch_wait, absl::Milliseconds(1));

  for (auto [flag, variable] : {std::pair{"--consumer_workers=0", "GRIDLOOP_CONSUMER_WORKERS"},
                                std::pair{"--consumer_workers=257", "GRIDLOOP_CONSUMER_WORKERS"},
                                std::pair{"--kafka_fetch_wait=0s", "GRIDLOOP_KAFKA_FETCH_WAIT"},
                                std::pair{"--kafka_fetch_wait=11s", "GRIDLOOP_KAFKA_FETCH_WAIT"}}) {
    const char* bad[] = {"svc", flag};
    ConsumerSettings b;
    b.consumer_group = "gridloop-x";
    absl::Status st = b.ReadConsumer(*Settings::Parse(2, bad, {}));
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << flag;
    EXPECT_NE(st.message().find(variable), std::string::npos) << st;
  }
}

TEST(SettingFile, UnreadableNamesTheVariable) {
  absl::StatusOr<std::string> text = ReadSettingFile("/nonexistent/routing.csv", "GRIDLOOP_X_FILE");
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(text.status().message().find("GRIDLOOP_X_FILE"), std::string::npos);
}

}  // namespace
}  // namespace gridloop::config
