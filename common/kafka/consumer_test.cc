#include "common/kafka/consumer.h"

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/kafka/producer.h"
#include "common/kafka/record.h"
#include "common/testing/kafka_cluster.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gridloop::kafka {
namespace {

using ::gridloop::testing::MockKafkaCluster;
using ::gridloop::testing::ReadTopic;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr absl::Duration kWait = absl::Seconds(20);

// Polls `condition` until it holds or `timeout` passes.
template <typename Condition>
bool WaitUntil(Condition condition, absl::Duration timeout = kWait) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

std::map<std::string, std::string> HeaderMap(const Record& record) {
  std::map<std::string, std::string> map;
  for (const Header& header : record.headers) map[header.key] = header.value;
  return map;
}

// Records the values a handler saw, and how often it saw each.
class Seen {
 public:
  void Add(const std::string& value) {
    absl::MutexLock lock(&mu_);
    values_.push_back(value);
    ++calls_[value];
  }
  std::vector<std::string> values() const {
    absl::MutexLock lock(&mu_);
    return values_;
  }
  int calls(const std::string& value) const {
    absl::MutexLock lock(&mu_);
    auto it = calls_.find(value);
    return it == calls_.end() ? 0 : it->second;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> values_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> calls_ ABSL_GUARDED_BY(mu_);
};

class ConsumerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto cluster = MockKafkaCluster::Start(1);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(cluster).value().release();
    ProducerOptions options;
    options.brokers = cluster_->bootstrap();
    auto producer = Producer::Create(options);
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = std::move(producer).value().release();
  }
  static void TearDownTestSuite() {
    delete producer_;
    delete cluster_;
  }

  // A topic (one partition unless told) and its DLQ, named after the running test.
  static std::string NewTopic(int partitions = 1) {
    std::string topic =
        absl::StrCat("consumer.", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    EXPECT_TRUE(cluster_->CreateTopic(topic, partitions).ok());
    EXPECT_TRUE(cluster_->CreateTopic(absl::StrCat(topic, ".dlq"), 1).ok());
    return topic;
  }

  static void Produce(const std::string& topic, const std::vector<std::string>& values,
                      const std::vector<Header>& headers = {}) {
    for (const std::string& value : values) {
      ASSERT_TRUE(producer_->ProduceSync(topic, absl::StrCat("key-", value), value, headers).ok());
    }
  }

  static ConsumerOptions AssignOptions(const std::string& topic, const std::string& group) {
    ConsumerOptions options;
    options.brokers = cluster_->bootstrap();
    options.group_id = group;
    options.assign = {{topic, 0}};
    options.retry_backoff = absl::Milliseconds(1);
    return options;
  }

  static std::unique_ptr<Consumer> Started(ConsumerOptions options, Handler handler) {
    auto consumer = Consumer::Create(std::move(options), std::move(handler));
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    if (!consumer.ok()) return nullptr;
    (*consumer)->Start();
    return std::move(consumer).value();
  }

  static MockKafkaCluster* cluster_;
  static Producer* producer_;
};

MockKafkaCluster* ConsumerTest::cluster_ = nullptr;
Producer* ConsumerTest::producer_ = nullptr;

TEST_F(ConsumerTest, AssignedPartitionIsHandledInOrder) {
  const std::string topic = NewTopic();
  Produce(topic, {"a", "b", "c", "d", "e"});
  Seen seen;
  auto consumer = Started(AssignOptions(topic, "g.order"), [&](const Record& record) {
    seen.Add(record.value);
    return absl::OkStatus();
  });
  ASSERT_NE(consumer, nullptr);

  ASSERT_TRUE(WaitUntil([&] { return consumer->processed() == 5; }));
  EXPECT_THAT(seen.values(), ElementsAre("a", "b", "c", "d", "e"));
  EXPECT_EQ(consumer->dead_lettered(), 0);
  EXPECT_TRUE(WaitUntil([&] { return consumer->lag() == 0; }));
}

TEST_F(ConsumerTest, NewConsumerOfTheSameGroupResumesAfterTheLastFinishedRecord) {
  const std::string topic = NewTopic();
  Produce(topic, {"1", "2", "3"});
  Seen first;
  auto consumer = Started(AssignOptions(topic, "g.resume"), [&](const Record& record) {
    first.Add(record.value);
    return absl::OkStatus();
  });
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return consumer->processed() == 3; }));
  consumer->Stop();
  consumer->Stop();  // idempotent

  Produce(topic, {"4", "5"});
  Seen second;
  consumer = Started(AssignOptions(topic, "g.resume"), [&](const Record& record) {
    second.Add(record.value);
    return absl::OkStatus();
  });
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return consumer->processed() == 2; }));
  // Had the committed offset been ignored, "1" would have come first.
  EXPECT_THAT(second.values(), ElementsAre("4", "5"));
  EXPECT_THAT(first.values(), ElementsAre("1", "2", "3"));
}

TEST_F(ConsumerTest, TransientFailuresAreRetriedUntilTheHandlerSucceeds) {
  const std::string topic = NewTopic();
  Produce(topic, {"flaky"});
  std::atomic<int> calls{0};
  auto consumer = Started(AssignOptions(topic, "g.transient"), [&](const Record&) {
    return ++calls <= 2 ? absl::UnavailableError("redis down") : absl::OkStatus();
  });
  ASSERT_NE(consumer, nullptr);

  ASSERT_TRUE(WaitUntil([&] { return consumer->processed() == 1; }));
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(consumer->dead_lettered(), 0);
  consumer->Stop();
  EXPECT_THAT(ReadTopic(cluster_->bootstrap(), topic + ".dlq", 1, absl::Milliseconds(300)),
              IsEmpty());
}

TEST_F(ConsumerTest, RecordThatKeepsFailingIsParkedInTheDlqAndTheNextOneIsHandled) {
  const std::string topic = NewTopic();
  Produce(topic, {"bad"}, {{"type", "incident.reported"}});
  Produce(topic, {"good"});
  Seen seen;
  ConsumerOptions options = AssignOptions(topic, "g.dlq");
  options.max_attempts = 3;
  auto consumer = Started(options, [&](const Record& record) {
    seen.Add(record.value);
    return record.value == "bad" ? absl::UnavailableError("store unreachable") : absl::OkStatus();
  });
  ASSERT_NE(consumer, nullptr);

  ASSERT_TRUE(
      WaitUntil([&] { return consumer->processed() == 1 && consumer->dead_lettered() == 1; }));
  EXPECT_EQ(seen.calls("bad"), 3);
  EXPECT_EQ(seen.calls("good"), 1);

  std::vector<Record> parked = ReadTopic(cluster_->bootstrap(), topic + ".dlq", 1, kWait);
  ASSERT_EQ(parked.size(), 1u);
  EXPECT_EQ(parked[0].key, "key-bad");
  EXPECT_EQ(parked[0].value, "bad");
  std::map<std::string, std::string> headers = HeaderMap(parked[0]);
  EXPECT_THAT(headers["error"], HasSubstr("store unreachable"));
  EXPECT_EQ(headers["source.topic"], topic);
  EXPECT_EQ(headers["source.partition"], "0");
  EXPECT_EQ(headers["source.offset"], "0");
  EXPECT_EQ(headers["type"], "incident.reported");
}

TEST_F(ConsumerTest, PoisonRecordsGoToTheDlqWithoutRetries) {
  const std::string topic = NewTopic();
  Produce(topic, {"malformed", "corrupt", "fine"});
  Seen seen;
  auto consumer = Started(AssignOptions(topic, "g.poison"), [&](const Record& record) {
    seen.Add(record.value);
    if (record.value == "malformed") return absl::InvalidArgumentError("bad envelope");
    if (record.value == "corrupt") return absl::DataLossError("truncated");
    return absl::OkStatus();
  });
  ASSERT_NE(consumer, nullptr);

  ASSERT_TRUE(
      WaitUntil([&] { return consumer->processed() == 1 && consumer->dead_lettered() == 2; }));
  EXPECT_EQ(seen.calls("malformed"), 1);
  EXPECT_EQ(seen.calls("corrupt"), 1);
  std::vector<Record> parked = ReadTopic(cluster_->bootstrap(), topic + ".dlq", 2, kWait);
  ASSERT_EQ(parked.size(), 2u);
  EXPECT_THAT(HeaderMap(parked[0])["error"], HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(HeaderMap(parked[1])["error"], HasSubstr("DATA_LOSS"));
}

TEST_F(ConsumerTest, StopDuringRetriesLeavesTheRecordForTheNextConsumer) {
  const std::string topic = NewTopic();
  Produce(topic, {"pending"});
  std::atomic<int> calls{0};
  ConsumerOptions options = AssignOptions(topic, "g.stop");
  options.retry_backoff = absl::Seconds(60);  // Stop() must cut the backoff short
  auto consumer = Started(options, [&](const Record&) {
    ++calls;
    return absl::UnavailableError("not yet");
  });
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return calls == 1; }));
  const absl::Time stop_started = absl::Now();
  consumer->Stop();
  EXPECT_LT(absl::Now() - stop_started, absl::Seconds(10));
  EXPECT_EQ(consumer->dead_lettered(), 0);

  Seen seen;
  consumer = Started(AssignOptions(topic, "g.stop"), [&](const Record& record) {
    seen.Add(record.value);
    return absl::OkStatus();
  });
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return consumer->processed() == 1; }));
  EXPECT_THAT(seen.values(), ElementsAre("pending"));
}

TEST_F(ConsumerTest, SubscribedConsumerJoinsTheGroupAndReadsEveryPartition) {
  const std::string topic = NewTopic(/*partitions=*/3);
  Produce(topic, {"x", "y", "z", "w"});
  Seen seen;
  ConsumerOptions options;
  options.brokers = cluster_->bootstrap();
  options.group_id = "g.subscribe";
  options.topics = {topic};
  auto consumer = Started(options, [&](const Record& record) {
    seen.Add(record.value);
    return absl::OkStatus();
  });
  ASSERT_NE(consumer, nullptr);

  ASSERT_TRUE(WaitUntil([&] { return consumer->processed() == 4; }, absl::Seconds(60)));
  EXPECT_THAT(seen.values(), ::testing::UnorderedElementsAre("x", "y", "z", "w"));
}

TEST_F(ConsumerTest, RejectsIncompleteOptions) {
  auto ok = [](const Record&) { return absl::OkStatus(); };
  ConsumerOptions no_group;
  no_group.brokers = cluster_->bootstrap();
  no_group.topics = {"t"};
  EXPECT_EQ(Consumer::Create(no_group, ok).status().code(), absl::StatusCode::kInvalidArgument);

  ConsumerOptions no_topics = no_group;
  no_topics.group_id = "g";
  no_topics.topics.clear();
  EXPECT_EQ(Consumer::Create(no_topics, ok).status().code(), absl::StatusCode::kInvalidArgument);

  ConsumerOptions no_attempts = no_group;
  no_attempts.group_id = "g";
  no_attempts.max_attempts = 0;
  EXPECT_EQ(Consumer::Create(no_attempts, ok).status().code(), absl::StatusCode::kInvalidArgument);

  ConsumerOptions no_workers = no_group;
  no_workers.group_id = "g";
  no_workers.workers = 0;
  EXPECT_EQ(Consumer::Create(no_workers, ok).status().code(), absl::StatusCode::kInvalidArgument);
  ConsumerOptions no_room = no_workers;
  no_room.workers = 8;
  no_room.max_in_flight = 4;
  EXPECT_EQ(Consumer::Create(no_room, ok).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConsumerOptionsFrom, TakesEveryConsumerSetting) {
  config::ConsumerSettings s;
  s.kafka_brokers = "kafka-1:9092,kafka-2:9092";
  s.consumer_group = "gridloop-dispatch";
  s.consumer_max_attempts = 7;
  s.consumer_workers = 12;
  s.kafka_fetch_wait = absl::Milliseconds(100);
  const ConsumerOptions o = ConsumerOptionsFrom(s);
  EXPECT_EQ(o.brokers, "kafka-1:9092,kafka-2:9092");
  EXPECT_EQ(o.group_id, "gridloop-dispatch");
  EXPECT_EQ(o.max_attempts, 7);
  EXPECT_EQ(o.workers, 12);
  EXPECT_EQ(o.fetch_wait_max_ms, 100);
  EXPECT_TRUE(o.topics.empty());
  EXPECT_TRUE(o.assign.empty());
}

TEST_F(ConsumerTest, WorkersHandleOtherKeysWhileOneWaitsAndKeepEachKeysOrder) {
  const std::string topic = NewTopic();
  // One partition: with a single worker "slow-1" would hold up everything behind it.
  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{{"slow", "slow-1"},
                                                                            {"a", "a-1"},
                                                                            {"b", "b-1"},
                                                                            {"slow", "slow-2"},
                                                                            {"a", "a-2"},
                                                                            {"b", "b-2"},
                                                                            {"a", "a-3"}}) {
    ASSERT_TRUE(producer_->ProduceSync(topic, key, value).ok());
  }
  Seen seen;
  absl::Mutex mu;
  int others_done = 0;
  bool others_passed_slow = false;
  ConsumerOptions options = AssignOptions(topic, "g.workers");
  options.workers = 8;
  auto consumer = Started(options, [&](const Record& record) {
    if (record.value == "slow-1") {
      // Held until every record of the other keys is finished, which only other workers
      // can do meanwhile.
      absl::MutexLock lock(&mu);
      auto all = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return others_done == 5; };
      others_passed_slow = mu.AwaitWithTimeout(absl::Condition(&all), kWait);
    }
    seen.Add(record.value);
    if (record.key != "slow") {
      absl::MutexLock lock(&mu);
      ++others_done;
    }
    return absl::OkStatus();
  });
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return consumer->processed() == 7; }));
  {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(others_passed_slow);
  }
  std::map<std::string, std::vector<std::string>> by_key;
  for (const std::string& v : seen.values()) by_key[v.substr(0, v.find('-'))].push_back(v);
  EXPECT_THAT(by_key["slow"], ElementsAre("slow-1", "slow-2"));
  EXPECT_THAT(by_key["a"], ElementsAre("a-1", "a-2", "a-3"));
  EXPECT_THAT(by_key["b"], ElementsAre("b-1", "b-2"));
  EXPECT_TRUE(WaitUntil([&] { return consumer->lag() == 0; }));
}

TEST_F(ConsumerTest, WithWorkersTheOffsetStopsAtTheFirstUnfinishedRecord) {
  const std::string topic = NewTopic();
  std::vector<std::string> values;
  values.reserve(10);
  for (int i = 0; i < 10; ++i) values.push_back(absl::StrCat("v", i));
  Produce(topic, values);  // keys differ: spread over the workers
  std::atomic<int> stuck_calls{0};
  ConsumerOptions options = AssignOptions(topic, "g.workers.offset");
  options.workers = 4;
  options.retry_backoff = absl::Seconds(60);  // Stop() cuts it short
  auto consumer = Started(options, [&](const Record& record) {
    if (record.value != "v3") return absl::OkStatus();
    ++stuck_calls;
    return absl::UnavailableError("not yet");
  });
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return consumer->processed() == 9 && stuck_calls >= 1; }));
  // All ten read, one unfinished: the lag says one record is still behind.
  EXPECT_TRUE(WaitUntil([&] { return consumer->lag() == 1; }));
  consumer->Stop();  // commits what was stored: everything before v3, nothing after

  Seen again;
  consumer = Started(AssignOptions(topic, "g.workers.offset"), [&](const Record& record) {
    again.Add(record.value);
    return absl::OkStatus();
  });
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return consumer->processed() == 7; }));
  EXPECT_THAT(again.values(), ElementsAre("v3", "v4", "v5", "v6", "v7", "v8", "v9"));
}

}  // namespace
}  // namespace gridloop::kafka
