#include "common/testing/kafka_cluster.h"

#include <dirent.h>
#include <librdkafka/rdkafkacpp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/kafka/rdkafka_util.h"
#include "common/log/log.h"

namespace gridloop::testing {
namespace {

absl::Status MockError(rd_kafka_resp_err_t err, absl::string_view what) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  std::string message = absl::StrCat("kafka mock ", what, ": ", rd_kafka_err2str(err));
  if (err == RD_KAFKA_RESP_ERR__UNKNOWN_BROKER) return absl::NotFoundError(message);
  return absl::InternalError(message);
}

// The partition count of `topic`, or 0 if the cluster does not know it (yet).
int PartitionCount(RdKafka::KafkaConsumer& consumer, const std::string& topic,
                   absl::Duration timeout) {
  std::string error;
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(&consumer, topic, nullptr, error));
  if (handle == nullptr) return 0;
  RdKafka::Metadata* raw = nullptr;
  const int timeout_ms = static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout)));
  if (consumer.metadata(false, handle.get(), &raw, timeout_ms) != RdKafka::ERR_NO_ERROR) return 0;
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
    if (t->topic() == topic && t->err() == RdKafka::ERR_NO_ERROR) {
      return static_cast<int>(t->partitions()->size());
    }
  }
  return 0;
}

// The mock's broker sockets lack TCP_NODELAY, which every Kafka broker sets: from a
// connection's second response on, each reply then waits for the client's delayed ACK
// (~40 ms), and a producer writing to several partitions at once pays it per batch. A
// listening socket hands the option down to the connections it accepts, so it is set on
// the listeners in this process whose ports are the brokers'. Best effort: a socket that
// refuses keeps the mock's behaviour.
void SetNoDelayOnBrokerListeners(const std::string& bootstrap) {
  std::set<int> ports;
  for (absl::string_view address : absl::StrSplit(bootstrap, ',', absl::SkipEmpty())) {
    int port = 0;
    const size_t colon = address.rfind(':');
    if (colon != absl::string_view::npos && absl::SimpleAtoi(address.substr(colon + 1), &port)) {
      ports.insert(port);
    }
  }
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return;
  while (const dirent* entry = readdir(dir)) {
    int fd = -1;
    if (!absl::SimpleAtoi(entry->d_name, &fd) || fd == dirfd(dir)) continue;
    struct stat st {};
    int listening = 0;
    socklen_t len = sizeof(listening);
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0) {
      continue;
    }
    sockaddr_in addr{};
    socklen_t addr_len = sizeof(addr);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0 ||
        addr.sin_family != AF_INET || ports.count(ntohs(addr.sin_port)) == 0) {
      continue;
    }
    const int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  }
  closedir(dir);
}

}  // namespace

MockKafkaCluster::MockKafkaCluster(rd_kafka_t* handle, rd_kafka_mock_cluster_t* cluster,
                                   int brokers)
    : handle_(handle),
      cluster_(cluster),
      broker_count_(brokers),
      bootstrap_(rd_kafka_mock_cluster_bootstraps(cluster)) {}

absl::StatusOr<std::unique_ptr<MockKafkaCluster>> MockKafkaCluster::Start(int brokers) {
  if (brokers < 1) return absl::InvalidArgumentError("kafka mock: brokers must be >= 1");
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // Warnings and worse only: the notice that this handle has no bootstrap.servers is noise.
  if (rd_kafka_conf_set(conf, "log_level", "4", error, sizeof(error)) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("kafka mock log_level: ", error));
  }
  // The handle exists only to host the cluster's threads; it never connects anywhere.
  rd_kafka_t* handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
  if (handle == nullptr) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new takes ownership only on success
    return absl::InternalError(absl::StrCat("kafka mock handle: ", error));
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(handle, brokers);
  if (cluster == nullptr) {
    rd_kafka_destroy(handle);
    return absl::InternalError("kafka mock: cannot create the cluster");
  }
  std::unique_ptr<MockKafkaCluster> mock(new MockKafkaCluster(handle, cluster, brokers));
  SetNoDelayOnBrokerListeners(mock->bootstrap());
  return mock;
}

MockKafkaCluster::~MockKafkaCluster() {
  rd_kafka_mock_cluster_destroy(cluster_);
  rd_kafka_destroy(handle_);
}

const std::string& MockKafkaCluster::bootstrap() const { return bootstrap_; }

absl::Status MockKafkaCluster::CreateTopic(absl::string_view topic, int partitions) {
  if (partitions < 1) return absl::InvalidArgumentError("kafka mock: partitions must be >= 1");
  const std::string name(topic);
  return MockError(
      rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, std::min(broker_count_, 3)),
      absl::StrCat("create topic ", name));
}

absl::Status MockKafkaCluster::SetBrokerDown(int32_t broker_id) {
  return MockError(rd_kafka_mock_broker_set_down(cluster_, broker_id),
                   absl::StrCat("broker ", broker_id, " down"));
}

absl::Status MockKafkaCluster::SetBrokerUp(int32_t broker_id) {
  absl::Status up = MockError(rd_kafka_mock_broker_set_up(cluster_, broker_id),
                              absl::StrCat("broker ", broker_id, " up"));
  // In case the broker listens anew.
  if (up.ok()) SetNoDelayOnBrokerListeners(bootstrap_);
  return up;
}

absl::Status MockKafkaCluster::SetAllBrokersDown() {
  for (int32_t id = 1; id <= broker_count_; ++id) {
    if (absl::Status status = SetBrokerDown(id); !status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status MockKafkaCluster::SetAllBrokersUp() {
  for (int32_t id = 1; id <= broker_count_; ++id) {
    if (absl::Status status = SetBrokerUp(id); !status.ok()) return status;
  }
  return absl::OkStatus();
}

rd_kafka_mock_cluster_t* MockKafkaCluster::raw() { return cluster_; }

std::vector<kafka::Record> ReadTopic(const std::string& brokers, const std::string& topic,
                                     size_t count, absl::Duration timeout) {
  std::vector<kafka::Record> records;
  const absl::Time deadline = absl::Now() + timeout;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  // KafkaConsumer insists on a group id; nothing is committed to it and it is never joined.
  for (const auto& [name, value] :
       std::map<std::string, std::string>{{"bootstrap.servers", brokers},
                                          {"group.id", "gridloop.testing.read-topic"},
                                          {"enable.auto.commit", "false"},
                                          {"enable.auto.offset.store", "false"},
                                          {"fetch.wait.max.ms", "10"},
                                          {"socket.nagle.disable", "true"}}) {
    if (absl::Status status = kafka::internal::SetConf(*conf, name, value); !status.ok()) {
      gridloop::log::Error("ReadTopic", {{"error", status.ToString()}});
      return records;
    }
  }
  std::string error;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), error));
  if (consumer == nullptr) {
    gridloop::log::Error("ReadTopic", {{"error", error}});
    return records;
  }

  int partitions = 0;
  while (partitions == 0 && absl::Now() < deadline) {
    partitions = PartitionCount(*consumer, topic, deadline - absl::Now());
    // An unknown topic answers at once; pace the retries until it is created.
    if (partitions == 0) absl::SleepFor(absl::Milliseconds(10));
  }
  std::vector<RdKafka::TopicPartition*> assignment;
  assignment.reserve(partitions);
  for (int32_t p = 0; p < partitions; ++p) {
    assignment.push_back(
        RdKafka::TopicPartition::create(topic, p, RdKafka::Topic::OFFSET_BEGINNING));
  }
  const RdKafka::ErrorCode assigned = consumer->assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);

  while (assigned == RdKafka::ERR_NO_ERROR && partitions > 0 && records.size() < count) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    const int wait_ms =
        static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(left), 1, 100));
    std::unique_ptr<RdKafka::Message> message(consumer->consume(wait_ms));
    if (message->err() == RdKafka::ERR_NO_ERROR) {
      records.push_back(kafka::internal::ToRecord(*message));
    }
  }
  consumer->close();
  return records;
}

}  // namespace gridloop::testing
