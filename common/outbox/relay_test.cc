#include "common/outbox/relay.h"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/kafka/producer.h"
#include "common/kafka/record.h"
#include "common/redis/redis_client.h"
#include "common/testing/kafka_cluster.h"
#include "common/testing/redis_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gridloop::outbox {
namespace {

using ::gridloop::testing::MockKafkaCluster;
using ::gridloop::testing::ReadTopic;
using ::gridloop::testing::RedisServer;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::SizeIs;

constexpr absl::Duration kWait = absl::Seconds(8);
const char kStreamA[] = "t:{a}:outbox";
const char kStreamB[] = "t:{b}:outbox";

// Calls `step` until it returns true or `timeout` passes; true if it did.
bool Eventually(const std::function<bool()>& step, absl::Duration timeout = kWait) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (step()) return true;
    absl::SleepFor(absl::Milliseconds(5));  // pacing only: the condition is what is awaited
  }
  return step();
}

// Values of `records` per key, in the order read (one key lives in one partition).
std::map<std::string, std::vector<std::string>> ValuesByKey(
    const std::vector<kafka::Record>& records) {
  std::map<std::string, std::vector<std::string>> out;
  for (const kafka::Record& r : records) out[r.key].push_back(r.value);
  return out;
}

// One redis-server and one Kafka mock cluster for the binary; each case uses its own topic
// and starts from an empty Redis.
class RelayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<RedisServer>> server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
    absl::StatusOr<std::unique_ptr<MockKafkaCluster>> cluster = MockKafkaCluster::Start(1);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = cluster->release();
  }

  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(cluster_, nullptr);
    redis::Options options;
    options.host = server_->host();
    options.port = server_->port();
    absl::StatusOr<std::unique_ptr<redis::Client>> client = redis::Connect(options);
    ASSERT_TRUE(client.ok()) << client.status();
    redis_ = *std::move(client);
    ASSERT_TRUE(redis_->Command({"FLUSHALL"}).ok());
    topic_ =
        absl::StrCat("outbox.", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(cluster_->CreateTopic(topic_, 3).ok());
  }

  // A producer factory for `cluster` that reconnects quickly after an outage.
  static Relay::ProducerFactory Producers(const MockKafkaCluster& cluster,
                                          absl::Duration delivery_timeout = absl::Seconds(5)) {
    const std::string& brokers = cluster.bootstrap();
    return [brokers, delivery_timeout]() {
      kafka::ProducerOptions options;
      options.brokers = brokers;
      options.linger = absl::Milliseconds(1);
      options.delivery_timeout = delivery_timeout;
      options.extra = {{"reconnect.backoff.ms", "10"}, {"reconnect.backoff.max.ms", "100"}};
      return kafka::Producer::Create(options);
    };
  }

  RelayOptions Options(const std::string& owner) const {
    RelayOptions options;
    options.streams = {kStreamA, kStreamB};
    options.topic = topic_;
    options.owner = owner;
    options.idle_poll = absl::Milliseconds(20);
    options.retry_backoff = absl::Milliseconds(20);
    return options;
  }

  // A cluster of its own with this case's topic, for a case that takes its brokers down.
  std::unique_ptr<MockKafkaCluster> OwnCluster() {
    absl::StatusOr<std::unique_ptr<MockKafkaCluster>> cluster = MockKafkaCluster::Start(1);
    EXPECT_TRUE(cluster.ok()) << cluster.status();
    if (!cluster.ok()) return nullptr;
    EXPECT_TRUE((*cluster)->CreateTopic(topic_, 3).ok());
    return *std::move(cluster);
  }

  std::unique_ptr<Relay> NewRelay(const std::string& owner) {
    return std::make_unique<Relay>(redis_.get(), Producers(*cluster_), Options(owner));
  }

  // Returns the entry's id.
  std::string Append(const std::string& stream, const std::string& key, const std::string& value) {
    absl::StatusOr<redis::Reply> r =
        redis_->Command({"XADD", stream, "*", kKeyField, key, kValueField, value});
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return "";
    EXPECT_FALSE(r->is_error()) << *r;
    return r->str;
  }

  int64_t Len(const std::string& stream) {
    absl::StatusOr<redis::Reply> r = redis_->Command({"XLEN", stream});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->integer : -1;
  }

  std::string LeaseHolder(const std::string& stream) {
    absl::StatusOr<redis::Reply> r = redis_->Command({"GET", absl::StrCat(stream, ":lease")});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && !r->is_nil() ? r->str : "";
  }

  std::vector<kafka::Record> Read(size_t count) {
    return ReadTopic(cluster_->bootstrap(), topic_, count, kWait);
  }

  static RedisServer* server_;
  static MockKafkaCluster* cluster_;
  std::unique_ptr<redis::Client> redis_;
  std::string topic_;
};

RedisServer* RelayTest::server_ = nullptr;
MockKafkaCluster* RelayTest::cluster_ = nullptr;

TEST_F(RelayTest, PublishesEveryStreamKeepingEachKeysOrderAndDeletesWhatWasAcked) {
  // Interleaved across streams and keys; one key stays in one stream, as an incident does
  // in its shard.
  for (int i = 0; i < 10; ++i) {
    Append(kStreamA, "inc-1", absl::StrCat("inc-1/v", i));
    Append(kStreamB, "inc-2", absl::StrCat("inc-2/v", i));
    if (i % 2 == 0) Append(kStreamA, "inc-3", absl::StrCat("inc-3/v", i));
  }
  Append(kStreamB, "inc-4", std::string("bytes\0with\xffnul", 14));
  std::unique_ptr<Relay> relay = NewRelay("relay-1");

  absl::StatusOr<int> n = relay->RunOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 26);
  EXPECT_EQ(Len(kStreamA), 0);
  EXPECT_EQ(Len(kStreamB), 0);
  EXPECT_EQ(relay->published(), 26);

  std::vector<kafka::Record> records = Read(26);
  ASSERT_THAT(records, SizeIs(26));
  std::map<std::string, std::vector<std::string>> by_key = ValuesByKey(records);
  std::vector<std::string> inc1, inc2, inc3;
  for (int i = 0; i < 10; ++i) {
    inc1.push_back(absl::StrCat("inc-1/v", i));
    inc2.push_back(absl::StrCat("inc-2/v", i));
    if (i % 2 == 0) inc3.push_back(absl::StrCat("inc-3/v", i));
  }
  EXPECT_EQ(by_key["inc-1"], inc1);
  EXPECT_EQ(by_key["inc-2"], inc2);
  EXPECT_EQ(by_key["inc-3"], inc3);
  EXPECT_THAT(by_key["inc-4"], ElementsAre(std::string("bytes\0with\xffnul", 14)));

  // Nothing left: the next pass publishes nothing again.
  n = relay->RunOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0);
}

TEST_F(RelayTest, EntryWrittenWhileNoRelayRanIsDeliveredByTheNextRelay) {
  // The writer committed its change and died before any relay published it.
  Append(kStreamA, "inc-9", "reported");
  Append(kStreamB, "inc-8", "assigned");

  std::unique_ptr<Relay> relay = NewRelay("relay-late");
  relay->Start();
  EXPECT_TRUE(Eventually([&] { return Len(kStreamA) == 0 && Len(kStreamB) == 0; }));
  std::vector<kafka::Record> records = Read(2);
  ASSERT_THAT(records, SizeIs(2));
  std::map<std::string, std::vector<std::string>> by_key = ValuesByKey(records);
  EXPECT_THAT(by_key["inc-9"], ElementsAre("reported"));
  EXPECT_THAT(by_key["inc-8"], ElementsAre("assigned"));
  relay->Stop();
}

TEST_F(RelayTest, DeadRelaysLeaseExpiresAndTheStreamIsTakenOver) {
  // A relay crashed while holding stream A: its lease outlives it for a while.
  ASSERT_TRUE(
      redis_->Command({"SET", absl::StrCat(kStreamA, ":lease"), "crashed-relay", "PX", "300"})
          .ok());
  Append(kStreamA, "inc-5", "orphan");

  Relay relay(redis_.get(), Producers(*cluster_), Options("relay-next"));
  absl::StatusOr<int> first = relay.RunOnce();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 0);
  EXPECT_EQ(Len(kStreamA), 1);

  int published = 0;
  EXPECT_TRUE(Eventually([&] {
    absl::StatusOr<int> n = relay.RunOnce();
    if (n.ok()) published += *n;
    return published == 1;
  }));
  EXPECT_EQ(Len(kStreamA), 0);
  EXPECT_EQ(LeaseHolder(kStreamA), "relay-next");
  std::vector<kafka::Record> records = Read(1);
  ASSERT_THAT(records, SizeIs(1));
  EXPECT_EQ(records[0].key, "inc-5");
  EXPECT_EQ(records[0].value, "orphan");
}

TEST_F(RelayTest, BrokerOutageKeepsTheEntryUntilItIsPublished) {
  // Its own cluster: the outage must not reach the other cases.
  std::unique_ptr<MockKafkaCluster> cluster = OwnCluster();
  ASSERT_NE(cluster, nullptr);
  Relay relay(redis_.get(), Producers(*cluster, /*delivery_timeout=*/absl::Seconds(1)),
              Options("relay-outage"));

  // Connected and with a producer id before the outage (the first connection to a fresh
  // cluster may take longer than the short delivery timeout: the entry then waits).
  Append(kStreamA, "inc-1", "before");
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<int> sent = relay.RunOnce();
    return sent.ok() && *sent == 1;
  }));
  ASSERT_EQ(Len(kStreamA), 0);

  ASSERT_TRUE(cluster->SetAllBrokersDown().ok());
  Append(kStreamA, "inc-1", "during");
  absl::StatusOr<int> n = relay.RunOnce();
  EXPECT_TRUE(!n.ok() || *n == 0) << (n.ok() ? absl::StrCat(*n) : n.status().ToString());
  if (!n.ok()) {
    EXPECT_EQ(n.status().code(), absl::StatusCode::kUnavailable) << n.status();
  }
  EXPECT_EQ(Len(kStreamA), 1);
  EXPECT_EQ(relay.published(), 1);

  ASSERT_TRUE(cluster->SetAllBrokersUp().ok());
  int published = 0;
  EXPECT_TRUE(Eventually([&] {
    absl::StatusOr<int> again = relay.RunOnce();
    if (again.ok()) published += *again;
    return published >= 1;
  }));
  EXPECT_EQ(published, 1);
  EXPECT_EQ(Len(kStreamA), 0);

  // At least once: the record that timed out may have been re-sent, never lost or
  // overtaken.
  std::vector<kafka::Record> records = ReadTopic(cluster->bootstrap(), topic_, 2, kWait);
  ASSERT_GE(records.size(), 2u);
  std::map<std::string, std::vector<std::string>> by_key = ValuesByKey(records);
  ASSERT_FALSE(by_key["inc-1"].empty());
  EXPECT_EQ(by_key["inc-1"].front(), "before");
  EXPECT_EQ(by_key["inc-1"].back(), "during");
  relay.Stop();
}

TEST_F(RelayTest, OnlyTheLeaseHolderPublishesUntilItStops) {
  std::unique_ptr<Relay> first = NewRelay("relay-a");
  std::unique_ptr<Relay> second = NewRelay("relay-b");

  Append(kStreamA, "inc-1", "one");
  Append(kStreamB, "inc-2", "one");
  absl::StatusOr<int> n = first->RunOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(LeaseHolder(kStreamA), "relay-a");
  EXPECT_EQ(LeaseHolder(kStreamB), "relay-a");

  Append(kStreamA, "inc-1", "two");
  Append(kStreamB, "inc-2", "two");
  n = second->RunOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0);
  EXPECT_EQ(Len(kStreamA), 1);
  EXPECT_EQ(Len(kStreamB), 1);
  EXPECT_EQ(LeaseHolder(kStreamA), "relay-a");

  // A clean stop hands the streams over without waiting for the leases to expire.
  first->Stop();
  EXPECT_EQ(LeaseHolder(kStreamA), "");
  EXPECT_EQ(LeaseHolder(kStreamB), "");
  int published = 0;
  EXPECT_TRUE(Eventually(
      [&] {
        absl::StatusOr<int> again = second->RunOnce();
        if (again.ok()) published += *again;
        return published == 2;
      },
      absl::Seconds(5)));
  EXPECT_EQ(Len(kStreamA), 0);
  EXPECT_EQ(Len(kStreamB), 0);
  EXPECT_EQ(LeaseHolder(kStreamA), "relay-b");
  EXPECT_EQ(LeaseHolder(kStreamB), "relay-b");

  std::map<std::string, std::vector<std::string>> by_key = ValuesByKey(Read(4));
  EXPECT_THAT(by_key["inc-1"], ElementsAre("one", "two"));
  EXPECT_THAT(by_key["inc-2"], ElementsAre("one", "two"));
}

TEST_F(RelayTest, NotifyWakesTheRunningRelay) {
  RelayOptions options = Options("relay-loop");
  // Far beyond the test's deadline: only Notify() can make the entries go out in time.
  options.idle_poll = absl::Minutes(5);
  Relay relay(redis_.get(), Producers(*cluster_), options);
  relay.Start();
  // The first pass runs at once; it has taken the leases when they show up.
  ASSERT_TRUE(Eventually([&] {
    return LeaseHolder(kStreamA) == "relay-loop" && LeaseHolder(kStreamB) == "relay-loop";
  }));

  for (int i = 0; i < 5; ++i) Append(kStreamA, "inc-7", absl::StrCat("v", i));
  Append(kStreamB, "inc-6", "v0");
  relay.Notify();

  std::vector<kafka::Record> records = Read(6);
  ASSERT_THAT(records, SizeIs(6));
  std::map<std::string, std::vector<std::string>> by_key = ValuesByKey(records);
  EXPECT_THAT(by_key["inc-7"], ElementsAre("v0", "v1", "v2", "v3", "v4"));
  EXPECT_THAT(by_key["inc-6"], ElementsAre("v0"));
  EXPECT_TRUE(Eventually([&] { return Len(kStreamA) == 0 && Len(kStreamB) == 0; }));
  EXPECT_THAT(records, Each(Field(&kafka::Record::topic, topic_)));

  relay.Stop();
  EXPECT_EQ(LeaseHolder(kStreamA), "");
  EXPECT_EQ(LeaseHolder(kStreamB), "");
}

TEST_F(RelayTest, NotifyNamingAStreamReadsThatStreamAndTheSweepReadsTheRest) {
  RelayOptions options = Options("relay-named");
  // Far beyond the test's deadline: only notifications make it read.
  options.idle_poll = absl::Minutes(5);
  options.sweep = absl::Minutes(5);
  Append(kStreamA, "inc-1", "v0");
  Relay relay(redis_.get(), Producers(*cluster_), options);
  relay.Start();
  // Deleted once acknowledged: the first pass, which read every stream, is over.
  ASSERT_TRUE(Eventually([&] { return Len(kStreamA) == 0 && relay.published() == 1; }));

  Append(kStreamA, "inc-1", "v1");
  Append(kStreamB, "inc-2", "v0");
  relay.Notify(kStreamA);
  EXPECT_TRUE(Eventually([&] { return Len(kStreamA) == 0 && relay.published() == 2; }));
  // Named by nobody, kStreamB waits for a pass that reads every stream.
  EXPECT_EQ(Len(kStreamB), 1);
  EXPECT_THAT(ValuesByKey(Read(2))["inc-1"], ElementsAre("v0", "v1"));

  relay.Notify();
  std::map<std::string, std::vector<std::string>> by_key = ValuesByKey(Read(3));
  EXPECT_THAT(by_key["inc-1"], ElementsAre("v0", "v1"));
  EXPECT_THAT(by_key["inc-2"], ElementsAre("v0"));
  EXPECT_TRUE(Eventually([&] { return Len(kStreamB) == 0; }));
  relay.Stop();
}

TEST_F(RelayTest, ASweepReadsStreamsNoNotifyNamed) {
  RelayOptions options = Options("relay-sweep");
  options.idle_poll = absl::Minutes(5);
  options.sweep = absl::ZeroDuration();  // every reading pass reads every stream
  Relay relay(redis_.get(), Producers(*cluster_), options);
  relay.Start();
  ASSERT_TRUE(Eventually([&] { return LeaseHolder(kStreamB) == "relay-sweep"; }));
  // Another replica's write to kStreamB, which this relay holds: only its own write to
  // kStreamA is notified, and the pass that reads it sweeps kStreamB too.
  Append(kStreamB, "inc-2", "v0");
  Append(kStreamA, "inc-1", "v0");
  relay.Notify(kStreamA);
  std::map<std::string, std::vector<std::string>> by_key = ValuesByKey(Read(2));
  EXPECT_THAT(by_key["inc-1"], ElementsAre("v0"));
  EXPECT_THAT(by_key["inc-2"], ElementsAre("v0"));
  EXPECT_TRUE(Eventually([&] { return Len(kStreamA) == 0 && Len(kStreamB) == 0; }));
  relay.Stop();
}

TEST_F(RelayTest, EntriesWrittenWhileAPassIsInFlightGoOutOnceBehindItInOrder) {
  // Its own cluster, down from the start: nothing is acknowledged until it comes up.
  std::unique_ptr<MockKafkaCluster> cluster = OwnCluster();
  ASSERT_NE(cluster, nullptr);
  RelayOptions options = Options("relay-pipeline");
  options.idle_poll = absl::Minutes(5);  // only Notify() makes it read
  options.sweep = absl::Minutes(5);
  Relay relay(redis_.get(), Producers(*cluster, /*delivery_timeout=*/absl::Seconds(60)), options);
  relay.Start();
  ASSERT_TRUE(Eventually([&] { return LeaseHolder(kStreamA) == "relay-pipeline"; }));
  ASSERT_TRUE(cluster->SetAllBrokersDown().ok());

  for (int i = 0; i < 3; ++i) Append(kStreamA, "inc-1", absl::StrCat("v", i));
  relay.Notify();
  ASSERT_TRUE(Eventually([&] { return relay.in_flight() == 3; }));
  // Written while the first three wait for the broker: sent behind them without waiting,
  // and what was in flight is neither read nor sent a second time.
  for (int i = 3; i < 5; ++i) Append(kStreamA, "inc-1", absl::StrCat("v", i));
  Append(kStreamB, "inc-2", "v0");
  relay.Notify();
  ASSERT_TRUE(Eventually([&] { return relay.in_flight() == 6; }));
  EXPECT_EQ(relay.published(), 0);
  EXPECT_EQ(Len(kStreamA), 5);

  ASSERT_TRUE(cluster->SetAllBrokersUp().ok());
  EXPECT_TRUE(Eventually([&] { return relay.in_flight() == 0; }, absl::Seconds(20)));
  EXPECT_EQ(relay.failed_deliveries(), 0);
  std::map<std::string, std::vector<std::string>> by_key =
      ValuesByKey(ReadTopic(cluster->bootstrap(), topic_, 6, kWait));
  EXPECT_THAT(by_key["inc-1"], ElementsAre("v0", "v1", "v2", "v3", "v4"));
  EXPECT_THAT(by_key["inc-2"], ElementsAre("v0"));
  // Deleted by the pass after the acknowledgements (no later Notify comes).
  EXPECT_TRUE(Eventually([&] { return Len(kStreamA) == 0 && Len(kStreamB) == 0; }));
  EXPECT_EQ(relay.published(), 6);
  relay.Stop();
}

TEST_F(RelayTest, PublishSendsAnEntryRightBehindTheLastOneSentWithoutReadingIt) {
  RelayOptions options = Options("relay-direct");
  // Far beyond the test's deadline: no pass reads unless notified.
  options.idle_poll = absl::Minutes(5);
  options.sweep = absl::Minutes(5);
  Relay relay(redis_.get(), Producers(*cluster_), options);
  const std::string first = Append(kStreamA, "inc-1", "v0");
  relay.Start();
  ASSERT_TRUE(Eventually([&] { return Len(kStreamA) == 0 && relay.published() == 1; }));

  // Handed over with a value other than the stored one: what reaches the topic shows
  // which of the two was sent. The stream was empty, so nothing comes before it.
  const std::string second = Append(kStreamA, "inc-1", "v1 as stored");
  relay.Publish({kStreamA, second, "", "inc-1", "v1 as handed over"});
  // Right behind the one just sent, still in the stream.
  const std::string third = Append(kStreamA, "inc-1", "v2 as stored");
  relay.Publish({kStreamA, third, second, "inc-1", "v2 as handed over"});
  EXPECT_THAT(ValuesByKey(Read(3))["inc-1"],
              ElementsAre("v0", "v1 as handed over", "v2 as handed over"));
  EXPECT_EQ(relay.in_flight(), 0);
  // Published and deleted by the pass that follows, with no read asked for.
  EXPECT_TRUE(Eventually([&] { return Len(kStreamA) == 0 && relay.published() == 3; }));

  // An entry another writer slipped in between is not skipped: the later one is read in
  // turn with it, in stream order, and handing over the earlier one afterwards sends it
  // no second time.
  const std::string fourth = Append(kStreamA, "inc-1", "v3");
  const std::string fifth = Append(kStreamA, "inc-1", "v4");
  relay.Publish({kStreamA, fifth, fourth, "inc-1", "v4"});
  ASSERT_TRUE(Eventually([&] { return Len(kStreamA) == 0 && relay.published() == 5; }));
  relay.Publish({kStreamA, fourth, third, "inc-1", "v3"});
  EXPECT_EQ(relay.in_flight(), 0);
  relay.Stop();
  EXPECT_THAT(ValuesByKey(Read(5))["inc-1"],
              ElementsAre("v0", "v1 as handed over", "v2 as handed over", "v3", "v4"));
  EXPECT_EQ(relay.published(), 5);
}

TEST_F(RelayTest, PublishSendsNothingFromAStreamItDoesNotHoldOrOnceStopped) {
  // relay-a holds both streams; relay-b, told of an entry, leaves it to the holder.
  std::unique_ptr<Relay> holder = NewRelay("relay-a");
  std::unique_ptr<Relay> other = NewRelay("relay-b");
  ASSERT_TRUE(holder->RunOnce().ok());
  ASSERT_TRUE(other->RunOnce().ok());
  ASSERT_EQ(LeaseHolder(kStreamA), "relay-a");
  const std::string id = Append(kStreamA, "inc-1", "v0");
  other->Publish({kStreamA, id, "", "inc-1", "v0"});
  EXPECT_EQ(other->in_flight(), 0);
  EXPECT_EQ(Len(kStreamA), 1);

  // Stopped, the holder has released its leases and sends nothing either.
  holder->Stop();
  holder->Publish({kStreamA, id, "", "inc-1", "v0"});
  EXPECT_EQ(holder->in_flight(), 0);
  EXPECT_EQ(Len(kStreamA), 1);

  // The stream is released: the next holder publishes the entry by reading it.
  EXPECT_TRUE(Eventually([&] {
    absl::StatusOr<int> n = other->RunOnce();
    return n.ok() && *n == 1;
  }));
  EXPECT_THAT(ValuesByKey(Read(1))["inc-1"], ElementsAre("v0"));
}

TEST_F(RelayTest, RunningRelayResendsAFailedDeliveryAndWhatFollowedItInOrder) {
  std::unique_ptr<MockKafkaCluster> cluster = OwnCluster();
  ASSERT_NE(cluster, nullptr);
  Relay relay(redis_.get(), Producers(*cluster, /*delivery_timeout=*/absl::Seconds(1)),
              Options("relay-resend"));
  relay.Start();
  Append(kStreamA, "inc-1", "v0");
  relay.Notify();
  ASSERT_TRUE(Eventually([&] { return Len(kStreamA) == 0; }, absl::Seconds(20)));

  // Sent while the broker is away: every delivery fails after a second, and the stream
  // is read again from its oldest entry until the broker is back.
  ASSERT_TRUE(cluster->SetAllBrokersDown().ok());
  for (int i = 1; i < 4; ++i) {
    Append(kStreamA, "inc-1", absl::StrCat("v", i));
    relay.Notify();
  }
  ASSERT_TRUE(Eventually([&] { return relay.failed_deliveries() >= 3; }));
  EXPECT_EQ(Len(kStreamA), 3);
  ASSERT_TRUE(cluster->SetAllBrokersUp().ok());
  EXPECT_TRUE(Eventually([&] { return Len(kStreamA) == 0; }, absl::Seconds(20)));

  // At least once, and the last copy of each value comes after every earlier value's.
  std::vector<kafka::Record> records = ReadTopic(cluster->bootstrap(), topic_, 4, kWait);
  std::vector<std::string> values = ValuesByKey(records)["inc-1"];
  ASSERT_FALSE(values.empty());
  EXPECT_EQ(values.front(), "v0");
  EXPECT_EQ(values.back(), "v3");
  std::map<std::string, size_t> last;
  for (size_t i = 0; i < values.size(); ++i) last[values[i]] = i;
  ASSERT_EQ(last.size(), 4u);
  EXPECT_LT(last["v1"], last["v2"]);
  EXPECT_LT(last["v2"], last["v3"]);
  relay.Stop();
}

TEST_F(RelayTest, ADeliveryNeverReportedCountsAsFailedAndIsSentAgain) {
  // The broker is away and the producer would wait a minute before reporting: to the relay
  // that is a report that does not come.
  std::unique_ptr<MockKafkaCluster> cluster = OwnCluster();
  ASSERT_NE(cluster, nullptr);
  RelayOptions options = Options("relay-overdue");
  options.overdue = absl::Milliseconds(300);
  Relay relay(redis_.get(), Producers(*cluster, /*delivery_timeout=*/absl::Seconds(60)), options);
  relay.Start();
  ASSERT_TRUE(Eventually([&] { return LeaseHolder(kStreamA) == "relay-overdue"; }));
  ASSERT_TRUE(cluster->SetAllBrokersDown().ok());
  Append(kStreamA, "inc-1", "v0");
  relay.Notify();
  ASSERT_TRUE(Eventually([&] { return relay.in_flight() == 1; }));
  // Past the overdue time the stream is read again from its oldest entry and the entry
  // sent a second time, while the first send is still unreported.
  EXPECT_TRUE(Eventually([&] { return relay.in_flight() >= 2; }));
  EXPECT_EQ(relay.failed_deliveries(), 0);
  EXPECT_EQ(Len(kStreamA), 1);

  ASSERT_TRUE(cluster->SetAllBrokersUp().ok());
  EXPECT_TRUE(Eventually([&] { return Len(kStreamA) == 0; }, absl::Seconds(20)));
  std::vector<std::string> values =
      ValuesByKey(ReadTopic(cluster->bootstrap(), topic_, 1, kWait))["inc-1"];
  ASSERT_FALSE(values.empty());
  EXPECT_EQ(values.front(), "v0");
  relay.Stop();
}

TEST_F(RelayTest, PublishNeverWaitsForRoomInTheProducersQueue) {
  // A queue of one record and a broker that is away: the writer's thread must not wait
  // for the broker, so what does not fit is left to a pass.
  std::unique_ptr<MockKafkaCluster> cluster = OwnCluster();
  ASSERT_NE(cluster, nullptr);
  const std::string brokers = cluster->bootstrap();
  Relay relay(
      redis_.get(),
      [brokers]() {
        kafka::ProducerOptions options;
        options.brokers = brokers;
        options.delivery_timeout = absl::Seconds(60);
        options.extra = {{"queue.buffering.max.messages", "1"},
                         {"reconnect.backoff.ms", "10"},
                         {"reconnect.backoff.max.ms", "100"}};
        return kafka::Producer::Create(options);
      },
      Options("relay-full"));
  Append(kStreamA, "inc-1", "v0");
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<int> n = relay.RunOnce();
    return n.ok() && *n == 1;
  }));

  ASSERT_TRUE(cluster->SetAllBrokersDown().ok());
  const std::string v1 = Append(kStreamA, "inc-1", "v1");
  // librdkafka counts v0 in its queue until just after v0's report: the first try may still
  // find the queue full (and only name the stream). Once v1 is in, a repeat sends nothing.
  ASSERT_TRUE(Eventually([&] {
    relay.Publish({kStreamA, v1, "", "inc-1", "v1"});
    return relay.in_flight() == 1;
  }));
  const std::string v2 = Append(kStreamA, "inc-1", "v2");
  // Waiting for room would keep the writer until v1 is delivered, after the broker is
  // back, which this test brings about only once the writer has returned.
  std::atomic<bool> returned{false};
  std::thread writer([&] {
    relay.Publish({kStreamA, v2, v1, "inc-1", "v2"});
    returned = true;
  });
  EXPECT_TRUE(Eventually([&] { return returned.load(); }));
  writer.join();
  EXPECT_EQ(relay.in_flight(), 1);
  EXPECT_EQ(relay.failed_deliveries(), 0);

  ASSERT_TRUE(cluster->SetAllBrokersUp().ok());
  int published = 0;
  EXPECT_TRUE(Eventually(
      [&] {
        absl::StatusOr<int> n = relay.RunOnce();
        if (n.ok()) published += *n;
        return published == 2;
      },
      absl::Seconds(20)));
  EXPECT_EQ(Len(kStreamA), 0);
  EXPECT_THAT(ValuesByKey(ReadTopic(brokers, topic_, 3, kWait))["inc-1"],
              ElementsAre("v0", "v1", "v2"));
}

}  // namespace
}  // namespace gridloop::outbox
