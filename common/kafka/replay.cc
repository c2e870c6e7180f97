#include "common/kafka/replay.h"

#include <librdkafka/rdkafkacpp.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/kafka/rdkafka_util.h"
#include "common/status/status_macros.h"

namespace gridloop::kafka {
namespace {

using internal::SetConf;
using internal::ToRecord;

constexpr int kQueryTimeoutMs = 5000;

struct Partition {
  std::string topic;
  int32_t partition = 0;
  int64_t low = 0;
  int64_t high = 0;
};

}  // namespace

absl::StatusOr<ReplayProgress> Replay(const ReplayOptions& options,
                                      const std::function<absl::Status(const Record&)>& handler,
                                      const std::atomic<bool>* stop,
                                      std::atomic<int64_t>* progress) {
  if (options.brokers.empty()) return absl::InvalidArgumentError("brokers: required");
  if (options.topics.empty()) return absl::InvalidArgumentError("topics: required");
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  RETURN_IF_ERROR(SetConf(*conf, "bootstrap.servers", options.brokers));
  // A group id is required by the client even though nothing is committed or joined.
  RETURN_IF_ERROR(SetConf(*conf, "group.id", "gridloop-replay"));
  RETURN_IF_ERROR(SetConf(*conf, "enable.auto.commit", "false"));
  RETURN_IF_ERROR(SetConf(*conf, "enable.auto.offset.store", "false"));
  RETURN_IF_ERROR(SetConf(*conf, "fetch.wait.max.ms", absl::StrCat(options.fetch_wait_max_ms)));
  RETURN_IF_ERROR(SetConf(*conf, options.extra));
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (consumer == nullptr) return absl::InternalError(absl::StrCat("replay consumer: ", err));

  // Where every partition ends now: the replay stops there.
  std::vector<Partition> parts;
  for (const std::string& topic : options.topics) {
    std::unique_ptr<RdKafka::Topic> handle(
        RdKafka::Topic::create(consumer.get(), topic, nullptr, err));
    if (handle == nullptr) return absl::InternalError(absl::StrCat("topic ", topic, ": ", err));
    RdKafka::Metadata* raw = nullptr;
    RdKafka::ErrorCode code = consumer->metadata(false, handle.get(), &raw, kQueryTimeoutMs);
    std::unique_ptr<RdKafka::Metadata> metadata(raw);
    if (code != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError(
          absl::StrCat("metadata of ", topic, ": ", RdKafka::err2str(code)));
    }
    for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
      if (t->topic() != topic) continue;
      if (t->err() == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART) break;  // nothing published yet
      for (const RdKafka::PartitionMetadata* p : *t->partitions()) {
        Partition part{topic, p->id(), 0, 0};
        code = consumer->query_watermark_offsets(topic, p->id(), &part.low, &part.high,
                                                 kQueryTimeoutMs);
        if (code != RdKafka::ERR_NO_ERROR) {
          return absl::UnavailableError(
              absl::StrCat("watermarks of ", topic, "/", p->id(), ": ", RdKafka::err2str(code)));
        }
        if (part.high > part.low) parts.push_back(part);
      }
    }
  }
  ReplayProgress out;
  std::vector<RdKafka::TopicPartition*> assignment;
  std::map<std::pair<std::string, int32_t>, int64_t> end;
  for (const Partition& p : parts) {
    out.total += p.high - p.low;
    assignment.push_back(RdKafka::TopicPartition::create(p.topic, p.partition, p.low));
    end[{p.topic, p.partition}] = p.high;
  }
  if (assignment.empty()) return out;
  RdKafka::ErrorCode code = consumer->assign(assignment);
  RdKafka::TopicPartition::destroy(assignment);
  if (code != RdKafka::ERR_NO_ERROR) {
    return absl::InternalError(absl::StrCat("assign: ", RdKafka::err2str(code)));
  }

  absl::Status result = absl::OkStatus();
  absl::Time last_record = absl::Now();
  while (!end.empty()) {
    if (stop != nullptr && stop->load()) {
      result = absl::CancelledError("replay stopped");
      break;
    }
    std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
    if (m->err() == RdKafka::ERR__TIMED_OUT || m->err() == RdKafka::ERR__PARTITION_EOF) {
      if (absl::Now() - last_record > options.stall_timeout) {
        result = absl::UnavailableError("replay: no records from the broker for too long");
        break;
      }
      continue;
    }
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      // Transient broker errors are retried by the client; only the stall timeout gives up.
      continue;
    }
    last_record = absl::Now();
    auto it = end.find({m->topic_name(), m->partition()});
    if (it == end.end() || m->offset() >= it->second) continue;
    const Record record = ToRecord(*m);
    absl::Status s = handler(record);
    if (!s.ok()) {
      result = s;
      break;
    }
    ++out.done;
    if (progress != nullptr) progress->store(out.done);
    if (m->offset() + 1 >= it->second) end.erase(it);
  }
  consumer->unassign();
  consumer->close();
  if (!result.ok()) return result;
  return out;
}

}  // namespace gridloop::kafka
