#include "common/kafka/producer.h"

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/kafka/record.h"
#include "common/testing/kafka_cluster.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gridloop::kafka {
namespace {

using ::gridloop::testing::MockKafkaCluster;
using ::gridloop::testing::ReadTopic;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(20);

auto HeaderIs(const std::string& key, const std::string& value) {
  return ::testing::AllOf(Field(&Header::key, key), Field(&Header::value, value));
}

// Reconnect quickly after a broker comes back, so the down/up tests take milliseconds.
ProducerOptions FastReconnect(const std::string& brokers) {
  ProducerOptions options;
  options.brokers = brokers;
  options.extra = {{"reconnect.backoff.ms", "10"}, {"reconnect.backoff.max.ms", "100"}};
  return options;
}

class ProducerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto cluster = MockKafkaCluster::Start(1);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(cluster).value().release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  static std::unique_ptr<Producer> NewProducer() {
    ProducerOptions options;
    options.brokers = cluster_->bootstrap();
    auto producer = Producer::Create(options);
    EXPECT_TRUE(producer.ok()) << producer.status();
    return producer.ok() ? std::move(producer).value() : nullptr;
  }

  static MockKafkaCluster* cluster_;
};

MockKafkaCluster* ProducerTest::cluster_ = nullptr;

TEST_F(ProducerTest, DeliveredRecordIsReadBackWithKeyValueAndHeaders) {
  ASSERT_TRUE(cluster_->CreateTopic("producer.delivers", 3).ok());
  std::unique_ptr<Producer> producer = NewProducer();
  ASSERT_NE(producer, nullptr);

  ASSERT_TRUE(producer
                  ->ProduceSync("producer.delivers", "incident-1", "payload",
                                {{"type", "incident.reported"}, {"trace", ""}})
                  .ok());

  std::vector<Record> records = ReadTopic(cluster_->bootstrap(), "producer.delivers", 1, kWait);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].topic, "producer.delivers");
  EXPECT_EQ(records[0].key, "incident-1");
  EXPECT_EQ(records[0].value, "payload");
  EXPECT_EQ(records[0].offset, 0);
  EXPECT_THAT(records[0].headers,
              ElementsAre(HeaderIs("type", "incident.reported"), HeaderIs("trace", "")));
  EXPECT_GT(records[0].timestamp, absl::UnixEpoch());
}

TEST_F(ProducerTest, SameKeyKeepsOrderWithinItsPartition) {
  ASSERT_TRUE(cluster_->CreateTopic("producer.order", 4).ok());
  std::unique_ptr<Producer> producer = NewProducer();
  ASSERT_NE(producer, nullptr);

  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(
        producer->Produce("producer.order", "same-key", std::to_string(i), {}, nullptr).ok());
  }
  ASSERT_TRUE(producer->Flush(kWait).ok());

  std::vector<Record> records = ReadTopic(cluster_->bootstrap(), "producer.order", 20, kWait);
  ASSERT_EQ(records.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(records[i].value, std::to_string(i));
    EXPECT_EQ(records[i].partition, records[0].partition);
  }
}

TEST_F(ProducerTest, EveryCallbackRunsOnceAndFlushDrainsThem) {
  ASSERT_TRUE(cluster_->CreateTopic("producer.callbacks", 2).ok());
  std::unique_ptr<Producer> producer = NewProducer();
  ASSERT_NE(producer, nullptr);

  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(producer
                    ->Produce("producer.callbacks", absl::StrCat("k", i), "v", {},
                              [&](const absl::Status& status) { ++(status.ok() ? ok : failed); })
                    .ok());
  }
  ASSERT_TRUE(producer->Flush(kWait).ok());
  EXPECT_EQ(ok, 100);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(producer->outstanding(), 0);
  EXPECT_FALSE(producer->fatal());
}

TEST_F(ProducerTest, RejectsMissingBrokersAndUnknownProperties) {
  EXPECT_EQ(Producer::Create(ProducerOptions{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  ProducerOptions options;
  options.brokers = cluster_->bootstrap();
  options.extra = {{"no.such.property", "1"}};
  absl::Status status = Producer::Create(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("no.such.property"));
}

TEST(ProducerBrokerDown, RecordProducedWhileAllBrokersAreDownIsDeliveredWhenTheyReturn) {
  auto cluster = MockKafkaCluster::Start(2);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  ASSERT_TRUE((*cluster)->CreateTopic("producer.outage", 2).ok());
  ProducerOptions options = FastReconnect((*cluster)->bootstrap());
  options.delivery_timeout = absl::Seconds(60);
  auto producer = Producer::Create(options);
  ASSERT_TRUE(producer.ok()) << producer.status();
  // Connected, with a producer id, before the outage.
  ASSERT_TRUE((*producer)->ProduceSync("producer.outage", "before", "1").ok());

  ASSERT_TRUE((*cluster)->SetAllBrokersDown().ok());
  absl::Notification delivered;
  absl::Status result;
  ASSERT_TRUE((*producer)
                  ->Produce("producer.outage", "during", "2", {},
                            [&](absl::Status status) {
                              result = std::move(status);
                              delivered.Notify();
                            })
                  .ok());
  // Not a synchronisation: proves the record really waited for the brokers.
  EXPECT_FALSE(delivered.WaitForNotificationWithTimeout(absl::Milliseconds(300)));
  EXPECT_EQ((*producer)->outstanding(), 1);

  ASSERT_TRUE((*cluster)->SetAllBrokersUp().ok());
  ASSERT_TRUE(delivered.WaitForNotificationWithTimeout(kWait));
  EXPECT_TRUE(result.ok()) << result;

  std::vector<Record> records = ReadTopic((*cluster)->bootstrap(), "producer.outage", 2, kWait);
  std::vector<std::string> keys;
  keys.reserve(records.size());
  for (const Record& record : records) keys.push_back(record.key);
  EXPECT_THAT(keys, ::testing::UnorderedElementsAre("before", "during"));
}

TEST(ProducerBrokerDown, DeliveryTimesOutAsUnavailableWhileBrokersStayDown) {
  auto cluster = MockKafkaCluster::Start(1);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  ASSERT_TRUE((*cluster)->CreateTopic("producer.timeout", 1).ok());
  ProducerOptions options = FastReconnect((*cluster)->bootstrap());
  options.delivery_timeout = absl::Seconds(2);
  auto producer = Producer::Create(options);
  ASSERT_TRUE(producer.ok()) << producer.status();
  ASSERT_TRUE((*producer)->ProduceSync("producer.timeout", "before", "1").ok());

  ASSERT_TRUE((*cluster)->SetAllBrokersDown().ok());
  absl::Status status = (*producer)->ProduceSync("producer.timeout", "lost", "2");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("persisted"));
  EXPECT_TRUE((*producer)->Flush(kWait).ok());
  EXPECT_EQ((*producer)->outstanding(), 0);
}

}  // namespace
}  // namespace gridloop::kafka
