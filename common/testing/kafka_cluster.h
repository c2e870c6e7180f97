#ifndef GRIDLOOP_COMMON_TESTING_KAFKA_CLUSTER_H_
#define GRIDLOOP_COMMON_TESTING_KAFKA_CLUSTER_H_

// librdkafka's mock cluster (rdkafka_mock.h) speaks the real Kafka protocol on loopback
// ports, so tests and tools/devbroker exercise the same client code as production.
// What it does differently from a real broker, and why that matters here:
// - It holds an empty fetch for the whole of fetch.wait.max.ms instead of answering as
//   soon as data arrives, so a consumer with the 500 ms default sees 500 ms latency per
//   idle poll. Consumers here use ~10 ms (ConsumerOptions::fetch_wait_max_ms).
// - It keeps only ~5 MiB per partition and drops older records. A long-running devbroker
//   or a load test can therefore lose records that a slow consumer had not read yet (the
//   consumer then jumps per auto.offset.reset); size such tests to stay below it.
// - It validates producer sequence numbers only for transactional producers, so the
//   idempotent producer's sequence/fatal-error path (Producer::fatal()) cannot be driven
//   from it; broker down/up and injected request errors can.
// - Joining a consumer group takes ~3 s; tests that are not about groups assign
//   partitions directly.
// This library must not depend on gtest: tools/devbroker links it.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/kafka/record.h"

namespace gridloop::testing {

// An in-process Kafka cluster of `brokers` brokers (ids 1..brokers) on loopback ports.
// Thread-safe: the mock runs on its own threads and every call here hands it a request.
class MockKafkaCluster {
 public:
  // Internal if librdkafka cannot create the handle or the cluster; InvalidArgument if
  // `brokers` < 1.
  static absl::StatusOr<std::unique_ptr<MockKafkaCluster>> Start(int brokers = 1);
  // Stops every broker; clients still connected see their connections close.
  ~MockKafkaCluster();

  MockKafkaCluster(const MockKafkaCluster&) = delete;
  MockKafkaCluster& operator=(const MockKafkaCluster&) = delete;

  // "127.0.0.1:port,..." for bootstrap.servers.
  const std::string& bootstrap() const;
  int broker_count() const { return broker_count_; }

  // Creates `topic` with `partitions` partitions (replication factor min(brokers, 3)).
  // Topics a client produces to without creating are auto-created with the mock's default
  // partition count. Internal with librdkafka's reason on failure (e.g. already exists).
  absl::Status CreateTopic(absl::string_view topic, int partitions);
  // Closes the broker's connections and refuses new ones until SetBrokerUp(); leadership
  // does not move. NotFound for an unknown id.
  absl::Status SetBrokerDown(int32_t broker_id);
  absl::Status SetBrokerUp(int32_t broker_id);
  absl::Status SetAllBrokersDown();
  absl::Status SetAllBrokersUp();

  // For fault injection beyond the above (rd_kafka_mock_push_request_errors, ...).
  // Owned by this object.
  rd_kafka_mock_cluster_t* raw();

 private:
  MockKafkaCluster(rd_kafka_t* handle, rd_kafka_mock_cluster_t* cluster, int brokers);

  rd_kafka_t* handle_;                // owns the cluster's threads
  rd_kafka_mock_cluster_t* cluster_;  // destroyed before handle_
  const int broker_count_;
  std::string bootstrap_;
};

// A plain reader (every partition of `topic` assigned from the beginning, no group join,
// nothing committed): returns the records read once at least `count` arrived, or whatever
// was read when `timeout` passed. Order is per partition; partitions are interleaved.
std::vector<kafka::Record> ReadTopic(const std::string& brokers, const std::string& topic,
                                     size_t count, absl::Duration timeout);

}  // namespace gridloop::testing

#endif  // GRIDLOOP_COMMON_TESTING_KAFKA_CLUSTER_H_
