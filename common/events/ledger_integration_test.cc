// The ledger end to end: duplicated and reordered IncidentEvents on a two-partition topic
// of the librdkafka mock cluster, consumed at least once into a real redis-server.

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/events/ledger.h"
#include "common/events/memory_ledger.h"
#include "common/kafka/consumer.h"
#include "common/kafka/producer.h"
#include "common/kafka/record.h"
#include "common/redis/redis_client.h"
#include "common/testing/kafka_cluster.h"
#include "common/testing/redis_server.h"
#include "gmock/gmock.h"
#include "gridloop/v1/events.pb.h"
#include "gtest/gtest.h"

namespace gridloop::events {
namespace {

using ::gridloop::testing::MockKafkaCluster;
using ::gridloop::testing::RedisServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr char kTopic[] = "gridloop.incident.events.v1";
constexpr absl::Duration kWait = absl::Seconds(10);

// What the publisher sent, in order: per incident deliberately duplicated and reordered
// the way a re-publish delivers them (alpha: 1 2 2 1 3 3, bravo: 1 3 2 2, charlie: 2 1 1 2), with
// the incidents interleaved. With librdkafka's default partitioner (CRC32 of the key) alpha lands
// on partition 1, bravo and charlie on partition 0.
const std::vector<std::pair<std::string, int64_t>>& Sent() {
  static const auto* sent = new std::vector<std::pair<std::string, int64_t>>{
      {"inc-alpha", 1}, {"inc-bravo", 1},   {"inc-alpha", 2}, {"inc-charlie", 2},
      {"inc-alpha", 2}, {"inc-bravo", 3},   {"inc-alpha", 1}, {"inc-charlie", 1},
      {"inc-bravo", 2}, {"inc-alpha", 3},   {"inc-bravo", 2}, {"inc-charlie", 1},
      {"inc-alpha", 3}, {"inc-charlie", 2},
  };
  return *sent;
}

// The effect every consumer below guards: counts the event and logs its version, standing
// in for a score or a projection. KEYS[2] counter, KEYS[3] list; ARGV[1] the version
// (KEYS[1] belongs to the ledger).
const redis::Script& CountAndLog() {
  static const auto* script = new redis::Script(R"lua(
redis.call('INCR', KEYS[2])
redis.call('RPUSH', KEYS[3], ARGV[1])
return 1
)lua");
  return *script;
}

std::string CounterKey(absl::string_view prefix, absl::string_view incident) {
  return absl::StrCat(prefix, ":{", incident, "}:count");
}
std::string LogKey(absl::string_view prefix, absl::string_view incident) {
  return absl::StrCat(prefix, ":{", incident, "}:versions");
}

std::string EventValue(const std::string& incident, int64_t version) {
  v1::IncidentEvent event;
  event.set_event_id(absl::StrCat(incident, ".", version));
  event.set_incident_id(incident);
  event.set_version(version);
  event.set_type(version == 1 ? v1::INCIDENT_EVENT_TYPE_REPORTED
                              : v1::INCIDENT_EVENT_TYPE_ASSIGNED);
  event.mutable_occurred_at()->set_seconds(1700000000 + version);
  event.mutable_incident()->set_id(incident);
  event.mutable_incident()->set_version(version);
  return event.SerializeAsString();
}

template <typename Condition>
bool WaitUntil(Condition condition, absl::Duration timeout = kWait) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// What one consumer run saw.
struct ConsumerRun {
  int64_t processed = 0;
  int64_t dead_lettered = 0;
  int handler_calls = 0;
  std::set<int32_t> partitions;
};

class LedgerIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto redis = RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = std::move(redis).value().release();
    redis::Options options;
    options.host = redis_->host();
    options.port = redis_->port();
    auto client = redis::Connect(options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(client).value().release();

    auto cluster = MockKafkaCluster::Start(1);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(cluster).value().release();
    ASSERT_TRUE(cluster_->CreateTopic(kTopic, 2).ok());
    kafka::ProducerOptions producer_options;
    producer_options.brokers = cluster_->bootstrap();
    auto producer = kafka::Producer::Create(producer_options);
    ASSERT_TRUE(producer.ok()) << producer.status();
    // One at a time, so each partition holds its incidents' records in the order above.
    for (const auto& [incident, version] : Sent()) {
      absl::Status sent = (*producer)->ProduceSync(kTopic, incident, EventValue(incident, version));
      ASSERT_TRUE(sent.ok()) << sent;
    }
  }

  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    delete client_;
    client_ = nullptr;
    delete redis_;
    redis_ = nullptr;
  }

  // Consumes `topic` from the beginning as consumer group `group` until `expected` records
  // were handled, guarding `effect` with `ledger`; the effect's keys are those of
  // `effect_keys(incident id)`.
  template <typename EffectKeys>
  static ConsumerRun Consume(const std::string& group, const Ledger& ledger,
                             const redis::Script& effect, EffectKeys effect_keys,
                             const std::string& topic = kTopic, int partitions = 2,
                             int64_t expected = static_cast<int64_t>(Sent().size())) {
    absl::Mutex mu;
    ConsumerRun run;
    kafka::ConsumerOptions options;
    options.brokers = cluster_->bootstrap();
    options.group_id = group;
    for (int p = 0; p < partitions; ++p) options.assign.emplace_back(topic, p);
    options.start_offset = -2;
    options.retry_backoff = absl::Milliseconds(10);
    auto consumer = kafka::Consumer::Create(options, [&](const kafka::Record& record) {
      v1::IncidentEvent event;
      if (!event.ParseFromString(record.value)) {
        return absl::InvalidArgumentError("value is not an IncidentEvent");
      }
      {
        absl::MutexLock lock(&mu);
        ++run.handler_calls;
        run.partitions.insert(record.partition);
      }
      return ApplyOnce(*client_, ledger, event.incident_id(), event.version(), effect,
                       effect_keys(event.incident_id()), {})
          .status();
    });
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    if (!consumer.ok()) return run;
    (*consumer)->Start();
    EXPECT_TRUE(WaitUntil([&] { return (*consumer)->processed() >= expected; }))
        << group << " processed " << (*consumer)->processed() << " of " << expected;
    (*consumer)->Stop();
    absl::MutexLock lock(&mu);
    run.processed = (*consumer)->processed();
    run.dead_lettered = (*consumer)->dead_lettered();
    return run;
  }

  static ConsumerRun ConsumeCountAndLog(const std::string& group, const Ledger& ledger) {
    const std::string& prefix = ledger.prefix();
    return Consume(group, ledger, CountAndLog(), [prefix](const std::string& incident) {
      return std::vector<std::string>{CounterKey(prefix, incident), LogKey(prefix, incident)};
    });
  }

  static redis::Reply Call(std::vector<std::string> argv) {
    absl::StatusOr<redis::Reply> reply = client_->Command(std::move(argv));
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *std::move(reply) : redis::Reply::Nil();
  }

  static std::vector<std::string> List(const std::string& key) {
    std::vector<std::string> items;
    for (const redis::Reply& item : Call({"LRANGE", key, "0", "-1"}).elements) {
      items.push_back(item.str);
    }
    return items;
  }

  static int64_t Counter(const std::string& key) {
    redis::Reply reply = Call({"GET", key});
    return reply.is_nil() ? 0 : std::stoll(reply.str);
  }

  static std::map<std::string, std::string> Hash(const std::string& key) {
    std::map<std::string, std::string> fields;
    const std::vector<redis::Reply>& flat = Call({"HGETALL", key}).elements;
    for (size_t i = 0; i + 1 < flat.size(); i += 2) fields[flat[i].str] = flat[i + 1].str;
    return fields;
  }

  // Everything a run of CountAndLog left for `incident`, to compare before and after a replay.
  static std::string Snapshot(const Ledger& ledger, const std::string& incident) {
    std::string out =
        absl::StrCat("count=", Counter(CounterKey(ledger.prefix(), incident)), " log=");
    for (const std::string& v : List(LogKey(ledger.prefix(), incident))) {
      absl::StrAppend(&out, v, ",");
    }
    absl::StrAppend(&out, " ledger=");
    for (const auto& [field, value] : Hash(ledger.Key(incident))) {
      absl::StrAppend(&out, field, ":", value, ",");
    }
    return out;
  }

  static RedisServer* redis_;
  static redis::Client* client_;
  static MockKafkaCluster* cluster_;
};

RedisServer* LedgerIntegrationTest::redis_ = nullptr;
redis::Client* LedgerIntegrationTest::client_ = nullptr;
MockKafkaCluster* LedgerIntegrationTest::cluster_ = nullptr;

TEST_F(LedgerIntegrationTest, EachOnceAppliesEveryVersionExactlyOnceAndReplaysIdempotently) {
  Ledger ledger("asm", Policy::kEachOnce);
  ConsumerRun run = ConsumeCountAndLog("each-once", ledger);
  EXPECT_EQ(run.processed, static_cast<int64_t>(Sent().size()));
  EXPECT_EQ(run.handler_calls, static_cast<int>(Sent().size()));
  EXPECT_EQ(run.dead_lettered, 0);
  EXPECT_THAT(run.partitions, ElementsAre(0, 1)) << "the incidents should span both partitions";

  EXPECT_THAT(List(LogKey("asm", "inc-alpha")), ElementsAre("1", "2", "3"));
  EXPECT_THAT(List(LogKey("asm", "inc-bravo")), ElementsAre("1", "3", "2"));
  EXPECT_THAT(List(LogKey("asm", "inc-charlie")), ElementsAre("2", "1"));
  EXPECT_EQ(Counter(CounterKey("asm", "inc-alpha")), 3);
  EXPECT_EQ(Counter(CounterKey("asm", "inc-bravo")), 3);
  EXPECT_EQ(Counter(CounterKey("asm", "inc-charlie")), 2);
  // Compact: once the gaps filled, only the watermark is left.
  EXPECT_THAT(Hash(ledger.Key("inc-alpha")), ElementsAre(Pair("watermark", "3")));
  EXPECT_THAT(Hash(ledger.Key("inc-bravo")), ElementsAre(Pair("watermark", "3")));
  EXPECT_THAT(Hash(ledger.Key("inc-charlie")), ElementsAre(Pair("watermark", "2")));

  std::map<std::string, std::string> before;
  for (const char* incident : {"inc-alpha", "inc-bravo", "inc-charlie"}) {
    before[incident] = Snapshot(ledger, incident);
  }
  ConsumerRun replay = ConsumeCountAndLog("each-once-replay", ledger);
  EXPECT_EQ(replay.processed, static_cast<int64_t>(Sent().size()));
  EXPECT_EQ(replay.dead_lettered, 0);
  for (const auto& [incident, snapshot] : before) {
    EXPECT_EQ(Snapshot(ledger, incident), snapshot) << incident;
  }
}

TEST_F(LedgerIntegrationTest, LatestWinsSkipsSupersededVersionsAndReplaysIdempotently) {
  Ledger ledger("dsp", Policy::kLatestWins);
  ConsumerRun run = ConsumeCountAndLog("latest-wins", ledger);
  EXPECT_EQ(run.processed, static_cast<int64_t>(Sent().size()));
  EXPECT_EQ(run.dead_lettered, 0);

  EXPECT_THAT(List(LogKey("dsp", "inc-alpha")), ElementsAre("1", "2", "3"));
  EXPECT_THAT(List(LogKey("dsp", "inc-bravo")), ElementsAre("1", "3"));
  EXPECT_THAT(List(LogKey("dsp", "inc-charlie")), ElementsAre("2"));
  EXPECT_EQ(Counter(CounterKey("dsp", "inc-alpha")), 3);
  EXPECT_EQ(Counter(CounterKey("dsp", "inc-bravo")), 2);
  EXPECT_EQ(Counter(CounterKey("dsp", "inc-charlie")), 1);
  EXPECT_THAT(Hash(ledger.Key("inc-bravo")), ElementsAre(Pair("latest", "3")));
  EXPECT_THAT(Hash(ledger.Key("inc-charlie")), ElementsAre(Pair("latest", "2")));

  std::map<std::string, std::string> before;
  for (const char* incident : {"inc-alpha", "inc-bravo", "inc-charlie"}) {
    before[incident] = Snapshot(ledger, incident);
  }
  ConsumerRun replay = ConsumeCountAndLog("latest-wins-replay", ledger);
  EXPECT_EQ(replay.processed, static_cast<int64_t>(Sent().size()));
  for (const auto& [incident, snapshot] : before) {
    EXPECT_EQ(Snapshot(ledger, incident), snapshot) << incident;
  }
}

TEST_F(LedgerIntegrationTest, FailedEffectLeavesVersionUnmarkedSoARetryAppliesIt) {
  // KEYS[2] counter, KEYS[3] a switch: while it is "reply" the effect returns an error
  // reply, while it is "raise" it raises a Lua error; both before writing anything.
  static const auto* effect = new redis::Script(R"lua(
local mode = redis.call('GET', KEYS[3])
if mode == 'reply' then return redis.error_reply('ERR downstream refused') end
if mode == 'raise' then error('downstream exploded') end
return redis.call('INCR', KEYS[2])
)lua");
  for (Policy policy : {Policy::kEachOnce, Policy::kLatestWins}) {
    SCOPED_TRACE(PolicyName(policy));
    const std::string prefix = absl::StrCat("crash-", PolicyName(policy));
    Ledger ledger(prefix, policy);
    const std::vector<std::string> keys = {CounterKey(prefix, "inc-x"),
                                           absl::StrCat(prefix, ":{inc-x}:mode")};

    Call({"SET", keys[1], "reply"});
    absl::StatusOr<bool> refused = ApplyOnce(*client_, ledger, "inc-x", 1, *effect, keys, {});
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInternal);
    EXPECT_THAT(refused.status().message(), HasSubstr("downstream refused"));
    EXPECT_THAT(Hash(ledger.Key("inc-x")), IsEmpty());

    Call({"SET", keys[1], "raise"});
    absl::StatusOr<bool> raised = ApplyOnce(*client_, ledger, "inc-x", 1, *effect, keys, {});
    EXPECT_EQ(raised.status().code(), absl::StatusCode::kInternal);
    EXPECT_THAT(raised.status().message(), HasSubstr("downstream exploded"));
    EXPECT_THAT(Hash(ledger.Key("inc-x")), IsEmpty());

    Call({"DEL", keys[1]});
    absl::StatusOr<bool> retried = ApplyOnce(*client_, ledger, "inc-x", 1, *effect, keys, {});
    ASSERT_TRUE(retried.ok()) << retried.status();
    EXPECT_TRUE(*retried);
    absl::StatusOr<bool> again = ApplyOnce(*client_, ledger, "inc-x", 1, *effect, keys, {});
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_FALSE(*again);
    EXPECT_EQ(Counter(keys[0]), 1);
  }
}

TEST_F(LedgerIntegrationTest, ConsumerRetryAppliesAnEventWhoseEffectFailed) {
  // KEYS[2] counter, KEYS[3] failures still to inject. The DECR is a write before the
  // error reply: it stays, as the header warns, while the ledger mark does not happen.
  static const auto* effect = new redis::Script(R"lua(
if tonumber(redis.call('GET', KEYS[3]) or '0') > 0 then
  redis.call('DECR', KEYS[3])
  return redis.error_reply('ERR injected failure')
end
return redis.call('INCR', KEYS[2])
)lua");
  const std::string topic = "gridloop.incident.events.v1.retry";
  ASSERT_TRUE(cluster_->CreateTopic(topic, 1).ok());
  {
    kafka::ProducerOptions producer_options;
    producer_options.brokers = cluster_->bootstrap();
    auto producer = kafka::Producer::Create(producer_options);
    ASSERT_TRUE(producer.ok()) << producer.status();
    ASSERT_TRUE((*producer)->ProduceSync(topic, "inc-d", EventValue("inc-d", 1)).ok());
  }
  Ledger ledger("retry", Policy::kEachOnce);
  const std::string failures_key = "retry:{inc-d}:failures";
  Call({"SET", failures_key, "2"});
  auto keys = [](const std::string& incident) {
    return std::vector<std::string>{CounterKey("retry", incident),
                                    absl::StrCat("retry:{", incident, "}:failures")};
  };

  ConsumerRun run = Consume("retry", ledger, *effect, keys, topic, 1, 1);
  EXPECT_EQ(run.processed, 1);
  EXPECT_EQ(run.handler_calls, 3);  // two injected failures, then applied
  EXPECT_EQ(run.dead_lettered, 0);
  EXPECT_EQ(Counter(CounterKey("retry", "inc-d")), 1);
  EXPECT_THAT(Hash(ledger.Key("inc-d")), ElementsAre(Pair("watermark", "1")));

  ConsumerRun replay = Consume("retry-replay", ledger, *effect, keys, topic, 1, 1);
  EXPECT_EQ(replay.processed, 1);
  EXPECT_EQ(Counter(CounterKey("retry", "inc-d")), 1);
}

// Every sequence of four deliveries drawn from versions 1..3: the Lua guard and mark
// decide exactly as the in-memory twin, and leave the same state behind.
TEST_F(LedgerIntegrationTest, RedisLedgerDecidesLikeTheMemoryTwin) {
  static const auto* noop = new redis::Script("return 1");
  for (Policy policy : {Policy::kEachOnce, Policy::kLatestWins}) {
    const std::string prefix = absl::StrCat("twin-", PolicyName(policy));
    Ledger ledger(prefix, policy);
    MemoryLedger twin(policy);
    for (int code = 0; code < 81; ++code) {
      std::vector<int64_t> sequence;
      for (int i = 0, rest = code; i < 4; ++i, rest /= 3) sequence.push_back(1 + rest % 3);
      const std::string incident = absl::StrCat("seq-", code);
      for (int64_t version : sequence) {
        absl::StatusOr<bool> in_redis =
            ApplyOnce(*client_, ledger, incident, version, *noop, {}, {});
        absl::StatusOr<bool> in_memory =
            twin.ApplyOnce(incident, version, [] { return absl::OkStatus(); });
        ASSERT_TRUE(in_redis.ok()) << in_redis.status();
        ASSERT_TRUE(in_memory.ok()) << in_memory.status();
        ASSERT_EQ(*in_redis, *in_memory)
            << PolicyName(policy) << " " << incident << " v" << version;
      }
      const AppliedVersions expected = twin.Applied(incident);
      std::map<std::string, std::string> fields;
      if (expected.watermark() > 0) {
        fields[policy == Policy::kEachOnce ? "watermark" : "latest"] =
            absl::StrCat(expected.watermark());
      }
      for (int64_t above : expected.above_watermark()) fields[absl::StrCat("v", above)] = "1";
      EXPECT_EQ(Hash(ledger.Key(incident)), fields) << PolicyName(policy) << " " << incident;
    }
  }
}

}  // namespace
}  // namespace gridloop::events
