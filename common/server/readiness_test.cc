#include "common/server/readiness.h"

#include <grpcpp/grpcpp.h>
#include <prometheus/metric_family.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/redis/redis_client.h"
#include "common/server/health_check.h"
#include "common/server/metrics.h"
#include "common/server/server.h"
#include "common/testing/grpc_stack.h"
#include "common/testing/redis_server.h"
#include "gtest/gtest.h"

namespace gridloop::server {
namespace {

constexpr char kService[] = "gridloop.test.v1.ReadyService";
constexpr absl::Duration kPatience = absl::Seconds(20);  // a deadline, not a delay

// A server with nothing but its health service, a Redis to depend on and a client of it.
class ReadinessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::RedisServer>> redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    redis::Options ropts;
    ropts.port = redis_->port();
    ropts.pool_size = 2;
    // Short, so that a check of a stopped Redis fails at once rather than after seconds.
    ropts.connect_timeout = absl::Milliseconds(500);
    ropts.command_timeout = absl::Milliseconds(500);
    absl::StatusOr<std::unique_ptr<redis::Client>> client = redis::Connect(ropts);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);

    ServerOptions options;
    options.service_name = "readiness-test";
    options.health_services = {kService};
    options.listen = "127.0.0.1:0";
    absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options, {}, &metrics_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
  }

  std::vector<Readiness::Dependency> OnRedis() {
    return {{"redis", [this] { return redis::Ping(*client_); }}};
  }

  ServingStatus Health(const std::string& service) {
    absl::StatusOr<ServingStatus> status = CheckHealth(channel_, service, kPatience);
    EXPECT_TRUE(status.ok()) << status.status();
    return status.value_or(ServingStatus::kUnknown);
  }

  // gridloop_dependency_up{dependency="redis"}, or nullopt when not yet reported.
  std::optional<double> RedisUp() {
    for (const prometheus::MetricFamily& f : metrics_.registry().Collect()) {
      if (f.name != "gridloop_dependency_up") continue;
      for (const prometheus::ClientMetric& m : f.metric) {
        std::map<std::string, std::string> labels;
        for (const prometheus::ClientMetric::Label& l : m.label) labels[l.name] = l.value;
        if (labels == std::map<std::string, std::string>{{"dependency", "redis"}}) {
          return m.gauge.value;
        }
      }
    }
    return std::nullopt;
  }

  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<redis::Client> client_;
  Metrics metrics_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ReadinessTest, LeavesAfterRedisFailsTwiceInARowAndComesBackWithItWhileStayingAlive) {
  Readiness readiness(server_.get(), &metrics_, OnRedis());
  EXPECT_TRUE(readiness.CheckNow());
  EXPECT_EQ(Health(kService), ServingStatus::kServing);
  EXPECT_EQ(RedisUp(), 1.0);

  ASSERT_TRUE(redis_->Stop(/*hard=*/true).ok());
  // One failed check is tolerated: a single broken connection is not an outage.
  EXPECT_TRUE(readiness.CheckNow());
  EXPECT_EQ(Health(kService), ServingStatus::kServing);
  EXPECT_EQ(RedisUp(), 0.0);
  EXPECT_FALSE(readiness.CheckNow());
  EXPECT_EQ(Health(kService), ServingStatus::kNotServing);
  // The liveness probe's status: restarting the process would not bring Redis back.
  EXPECT_EQ(Health(""), ServingStatus::kServing);
  EXPECT_FALSE(readiness.CheckNow());
  EXPECT_EQ(Health(kService), ServingStatus::kNotServing);

  ASSERT_TRUE(redis_->Restart().ok());
  EXPECT_TRUE(readiness.CheckNow());
  EXPECT_EQ(Health(kService), ServingStatus::kServing);
  EXPECT_EQ(RedisUp(), 1.0);
}

TEST_F(ReadinessTest, ARedisNeverReachedMakesItNotReadyAtTheFirstCheck) {
  ASSERT_TRUE(redis_->Stop(/*hard=*/true).ok());
  Readiness readiness(server_.get(), &metrics_, OnRedis());
  EXPECT_FALSE(readiness.CheckNow());
  EXPECT_EQ(Health(kService), ServingStatus::kNotServing);
  EXPECT_EQ(Health(""), ServingStatus::kServing);
  EXPECT_EQ(RedisUp(), 0.0);
}

TEST_F(ReadinessTest, ReadyOnlyWhileEveryDependencyIsUp) {
  bool other_up = true;
  std::vector<Readiness::Dependency> deps = OnRedis();
  deps.push_back({"other", [&other_up] {
                    return other_up ? absl::OkStatus() : absl::UnavailableError("down");
                  }});
  Readiness::Options options;
  options.failures_to_unready = 1;
  Readiness readiness(server_.get(), &metrics_, std::move(deps), options);
  EXPECT_TRUE(readiness.CheckNow());
  other_up = false;
  EXPECT_FALSE(readiness.CheckNow());
  EXPECT_EQ(Health(kService), ServingStatus::kNotServing);
  EXPECT_EQ(RedisUp(), 1.0);
  other_up = true;
  EXPECT_TRUE(readiness.CheckNow());
  EXPECT_EQ(Health(kService), ServingStatus::kServing);
}

TEST_F(ReadinessTest, ItsOwnThreadChecksAtOnceAndAfterEachInterval) {
  ASSERT_TRUE(redis_->Stop(/*hard=*/true).ok());
  Readiness::Options options;
  options.interval = absl::Milliseconds(50);
  Readiness readiness(server_.get(), &metrics_, OnRedis(), options);
  readiness.Start();
  auto wait_for = [&](ServingStatus want) {
    return testing::Eventually([&] { return Health(kService) == want; }, kPatience);
  };

  EXPECT_TRUE(wait_for(ServingStatus::kNotServing));
  ASSERT_TRUE(redis_->Restart().ok());
  EXPECT_TRUE(wait_for(ServingStatus::kServing));
  readiness.Stop();
  // Stopped: nothing checks any more, so an outage now changes nothing.
  ASSERT_TRUE(redis_->Stop(/*hard=*/true).ok());
  EXPECT_EQ(Health(kService), ServingStatus::kServing);
}

}  // namespace
}  // namespace gridloop::server
