#include "common/kafka/consumer.h"

#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/kafka/rdkafka_util.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"

namespace gridloop::kafka {
namespace internal {

class ConsumerEvents final : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& event) override { LogEvent(event, "consumer"); }
};

}  // namespace internal

namespace {

// How long one consume() call may block; bounds how quickly Stop() is noticed.
constexpr int kConsumeMillis = 100;
// How long Stop() waits for the consumer to leave its group.
constexpr int kCloseWaitSeconds = 10;
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);
constexpr absl::Duration kLagRefreshInterval = absl::Milliseconds(200);
constexpr char kAutoCommitIntervalMs[] = "1000";
constexpr int kMaxWorkers = 256;

bool IsPoison(const absl::Status& status) {
  return absl::IsInvalidArgument(status) || absl::IsDataLoss(status);
}

absl::Duration NextBackoff(absl::Duration backoff) { return std::min(backoff * 2, kMaxBackoff); }

// Frees the TopicPartitions a librdkafka call allocated or was handed.
struct PartitionList {
  std::vector<RdKafka::TopicPartition*> items;
  ~PartitionList() { RdKafka::TopicPartition::destroy(items); }
};

}  // namespace

ConsumerOptions ConsumerOptionsFrom(const config::ConsumerSettings& settings) {
  ConsumerOptions o;
  o.brokers = settings.kafka_brokers;
  o.group_id = settings.consumer_group;
  o.max_attempts = settings.consumer_max_attempts;
  o.workers = settings.consumer_workers;
  o.fetch_wait_max_ms = static_cast<int>(absl::ToInt64Milliseconds(settings.kafka_fetch_wait));
  return o;
}

Consumer::Consumer(ConsumerOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(ConsumerOptions options,
                                                           Handler handler) {
  if (options.brokers.empty()) return absl::InvalidArgumentError("kafka consumer: no brokers");
  if (options.group_id.empty()) return absl::InvalidArgumentError("kafka consumer: no group_id");
  if (options.topics.empty() && options.assign.empty()) {
    return absl::InvalidArgumentError("kafka consumer: neither topics nor assign given");
  }
  if (options.max_attempts < 1) {
    return absl::InvalidArgumentError("kafka consumer: max_attempts must be at least 1");
  }
  if (options.workers < 1 || options.workers > kMaxWorkers) {
    return absl::InvalidArgumentError(
        absl::StrCat("kafka consumer: workers must be 1..", kMaxWorkers));
  }
  if (options.max_in_flight < options.workers) {
    return absl::InvalidArgumentError("kafka consumer: max_in_flight must be at least workers");
  }
  if (!handler) return absl::InvalidArgumentError("kafka consumer: no handler");
  const int64_t start = options.start_offset;
  if (start < 0 && start != RdKafka::Topic::OFFSET_BEGINNING &&
      start != RdKafka::Topic::OFFSET_END && start != RdKafka::Topic::OFFSET_STORED) {
    return absl::InvalidArgumentError(
        absl::StrCat("kafka consumer: unsupported start_offset ", start));
  }
  if (start >= 0 && options.assign.empty()) {
    return absl::InvalidArgumentError("kafka consumer: an absolute start_offset needs assign mode");
  }

  std::unique_ptr<Consumer> consumer(new Consumer(std::move(options), std::move(handler)));
  const ConsumerOptions& opts = consumer->options_;
  consumer->events_ = std::make_unique<internal::ConsumerEvents>();

  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  RETURN_IF_ERROR(internal::SetConf(*conf, "bootstrap.servers", opts.brokers));
  RETURN_IF_ERROR(internal::SetConf(*conf, "group.id", opts.group_id));
  // Offsets are stored by hand once a record is finished; the auto-commit timer then
  // commits only those.
  RETURN_IF_ERROR(internal::SetConf(*conf, "enable.auto.offset.store", "false"));
  RETURN_IF_ERROR(internal::SetConf(*conf, "enable.auto.commit", "true"));
  RETURN_IF_ERROR(internal::SetConf(*conf, "auto.commit.interval.ms", kAutoCommitIntervalMs));
  RETURN_IF_ERROR(internal::SetConf(*conf, "auto.offset.reset",
                                    start == RdKafka::Topic::OFFSET_END ? "latest" : "earliest"));
  RETURN_IF_ERROR(
      internal::SetConf(*conf, "fetch.wait.max.ms", absl::StrCat(opts.fetch_wait_max_ms)));
  RETURN_IF_ERROR(internal::SetConf(*conf, "socket.nagle.disable", "true"));
  // librdkafka backs off reconnecting up to 10 s: after an outage the backlog would wait
  // that long for a broker that is already back.
  RETURN_IF_ERROR(internal::SetConf(*conf, "reconnect.backoff.max.ms", "2000"));
  RETURN_IF_ERROR(internal::SetConf(*conf, opts.extra));
  std::string error;
  if (conf->set("event_cb", static_cast<RdKafka::EventCb*>(consumer->events_.get()), error) !=
      RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("kafka consumer callbacks: ", error));
  }
  consumer->consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (consumer->consumer_ == nullptr) {
    return absl::InternalError(absl::StrCat("kafka consumer: ", error));
  }
  RETURN_IF_ERROR(consumer->Subscribe());
  return consumer;
}

absl::Status Consumer::Subscribe() {
  if (options_.assign.empty()) {
    const RdKafka::ErrorCode code = consumer_->subscribe(options_.topics);
    if (code != RdKafka::ERR_NO_ERROR) {
      return absl::InternalError(absl::StrCat("kafka subscribe: ", RdKafka::err2str(code)));
    }
    return absl::OkStatus();
  }
  // OFFSET_STORED: start from the group's committed offset, or per auto.offset.reset.
  const int64_t offset =
      options_.start_offset >= 0 ? options_.start_offset : RdKafka::Topic::OFFSET_STORED;
  PartitionList partitions;
  for (const auto& [topic, partition] : options_.assign) {
    partitions.items.push_back(RdKafka::TopicPartition::create(topic, partition, offset));
  }
  const RdKafka::ErrorCode code = consumer_->assign(partitions.items);
  if (code != RdKafka::ERR_NO_ERROR) {
    return absl::InternalError(absl::StrCat("kafka assign: ", RdKafka::err2str(code)));
  }
  return absl::OkStatus();
}

Consumer::~Consumer() { Stop(); }

void Consumer::Start() {
  absl::MutexLock lock(&lifecycle_mu_);
  if (started_ || closed_) return;
  started_ = true;
  if (options_.workers > 1) {
    for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { Work(); });
  }
  thread_ = std::thread([this] { Run(); });
}

void Consumer::Stop() {
  absl::MutexLock lock(&lifecycle_mu_);
  if (closed_) return;
  {
    absl::MutexLock signal(&signal_mu_);
    stop_requested_ = true;
  }
  {
    // Records still queued are left unfinished: their offsets are not stored, so the next
    // consumer of the partition reads them again.
    absl::MutexLock work(&work_mu_);
    work_stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
  Close();
  closed_ = true;
}

void Consumer::Close() {
  if (consumer_ == nullptr) return;  // Create() failed before the handle existed.
  // Destroyed first: its remaining delivery callbacks must run while this object is whole.
  dlq_.reset();
  // The final commit and close() both wait on the broker without a time limit: close()
  // leaves the group and waits for the coordinator to hear it, and with the broker gone
  // neither returns. Both run on a thread of their own; after a bounded wait the handle is
  // let go, still closing there, and the process can exit. Offsets not committed mean
  // records delivered again, which handlers absorb.
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> closed = done->get_future();
  RdKafka::KafkaConsumer* handle = consumer_.get();
  std::thread closer([handle, done, group = options_.group_id] {
    const RdKafka::ErrorCode committed = handle->commitSync();
    if (committed != RdKafka::ERR_NO_ERROR && committed != RdKafka::ERR__NO_OFFSET) {
      gridloop::log::Warn("kafka final commit failed",
                          {{"group", group}, {"error", RdKafka::err2str(committed)}});
    }
    handle->close();
    done->set_value();
  });
  if (closed.wait_for(std::chrono::seconds(kCloseWaitSeconds)) == std::future_status::ready) {
    closer.join();
    return;
  }
  gridloop::log::Warn("kafka consumer did not close in time; leaving it",
                      {{"group", options_.group_id}});
  closer.detach();
  // Both stay alive for the detached close(): the handle and the callbacks it may call.
  (void)consumer_.release();
  (void)events_.release();
}

int64_t Consumer::lag() const { return lag_; }
int64_t Consumer::processed() const { return processed_; }
int64_t Consumer::dead_lettered() const { return dead_lettered_; }

bool Consumer::StopRequested() {
  absl::MutexLock lock(&signal_mu_);
  return stop_requested_;
}

bool Consumer::WaitForStop(absl::Duration d) {
  absl::MutexLock lock(&signal_mu_);
  return signal_mu_.AwaitWithTimeout(absl::Condition(&stop_requested_), d);
}

void Consumer::Run() {
  RdKafka::ErrorCode last_error = RdKafka::ERR_NO_ERROR;
  while (!StopRequested()) {
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(kConsumeMillis));
    const RdKafka::ErrorCode code = message->err();
    switch (code) {
      case RdKafka::ERR_NO_ERROR: {
        Record record = internal::ToRecord(*message);
        if (options_.workers > 1) {
          (void)Enqueue(std::move(record));  // false only when stopping: the loop ends
        } else if (HandleRecord(record)) {
          StoreOffset(record.topic, record.partition, record.offset + 1);
        }
        last_error = code;
        break;
      }
      case RdKafka::ERR__TIMED_OUT:
      case RdKafka::ERR__PARTITION_EOF:
        break;
      default:
        // Usually transient (a broker restarting, a topic not created yet); logged once
        // per change so that a long outage does not flood the log.
        if (code != last_error) {
          gridloop::log::Warn("kafka consume error",
                              {{"group", options_.group_id}, {"error", message->errstr()}});
          last_error = code;
        }
        break;
    }
    if (absl::Now() - lag_refreshed_ >= kLagRefreshInterval) RefreshLag();
  }
}

bool Consumer::Enqueue(Record record) {
  // Records without a key keep their partition's order instead.
  std::string key = record.key.empty() ? absl::StrCat(absl::string_view("\0", 1), record.topic, "/",
                                                      record.partition)
                                       : record.key;
  absl::MutexLock lock(&work_mu_);
  auto room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(work_mu_) {
    return work_stopping_ || in_flight_ < options_.max_in_flight;
  };
  work_mu_.Await(absl::Condition(&room));
  if (work_stopping_) return false;
  progress_[{record.topic, record.partition}].unfinished.insert(record.offset);
  ++in_flight_;
  auto [it, fresh] = by_key_.try_emplace(key);
  it->second.push_back(std::move(record));
  // A key already present is held by a worker or waits in ready_: this record follows in
  // turn.
  if (fresh) ready_.push_back(std::move(key));
  return true;
}

void Consumer::Work() {
  while (true) {
    std::string key;
    Record record;
    {
      absl::MutexLock lock(&work_mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(work_mu_) {
        return work_stopping_ || !ready_.empty();
      };
      work_mu_.Await(absl::Condition(&ready));
      if (work_stopping_) return;
      key = std::move(ready_.front());
      ready_.pop_front();
      std::deque<Record>& queue = by_key_[key];
      record = std::move(queue.front());
      queue.pop_front();
    }
    if (!HandleRecord(record)) return;  // stopping: left unfinished
    Finish(record);
    absl::MutexLock lock(&work_mu_);
    auto it = by_key_.find(key);
    if (it->second.empty()) {
      by_key_.erase(it);
    } else {
      ready_.push_back(std::move(key));  // behind the keys already waiting
    }
  }
}

void Consumer::Finish(const Record& record) {
  absl::MutexLock lock(&work_mu_);
  --in_flight_;
  PartitionProgress& p = progress_[{record.topic, record.partition}];
  p.unfinished.erase(record.offset);
  p.next = std::max(p.next, record.offset + 1);
  // Never past a record read but not finished: a crash now must deliver it again.
  const int64_t store = p.unfinished.empty() ? p.next : *p.unfinished.begin();
  if (store <= p.stored) return;
  p.stored = store;
  StoreOffset(record.topic, record.partition, store);
}

absl::Status Consumer::CallHandler(const Record& record) {
  // No exception may escape into librdkafka's frames or end the consuming thread.
  try {
    return handler_(record);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("handler threw: ", e.what()));
  } catch (...) {
    return absl::InternalError("handler threw a non-standard exception");
  }
}

bool Consumer::HandleRecord(const Record& record) {
  absl::Duration backoff = options_.retry_backoff;
  absl::Status status;
  for (int attempt = 1;; ++attempt) {
    status = CallHandler(record);
    if (status.ok()) {
      ++processed_;
      return true;
    }
    if (IsPoison(status) || attempt >= options_.max_attempts) break;
    gridloop::log::Debug("kafka handler failed; retrying",
                         {{"topic", record.topic},
                          {"partition", absl::StrCat(record.partition)},
                          {"offset", absl::StrCat(record.offset)},
                          {"attempt", absl::StrCat(attempt)},
                          {"error", status.ToString()}});
    // Left unstored when stopping: the record is delivered again after a restart.
    if (WaitForStop(backoff)) return false;
    backoff = NextBackoff(backoff);
  }
  if (!ParkInDlq(record, status)) return false;
  ++dead_lettered_;
  return true;
}

bool Consumer::ParkInDlq(const Record& record, const absl::Status& cause) {
  gridloop::log::Warn("kafka record dead-lettered", {{"topic", record.topic},
                                                     {"partition", absl::StrCat(record.partition)},
                                                     {"offset", absl::StrCat(record.offset)},
                                                     {"error", cause.ToString()}});
  absl::Duration backoff = options_.retry_backoff;
  while (true) {
    absl::Status sent;
    {
      absl::MutexLock one_at_a_time(&dlq_mu_);
      sent = SendToDlq(record, cause);
    }
    if (sent.ok()) return true;
    if (absl::IsCancelled(sent)) return false;
    gridloop::log::Warn("kafka dead-letter produce failed; retrying",
                        {{"topic", record.topic}, {"error", sent.ToString()}});
    if (WaitForStop(backoff)) return false;
    backoff = NextBackoff(backoff);
  }
}

absl::Status Consumer::SendToDlq(const Record& record, const absl::Status& cause) {
  if (dlq_ != nullptr && dlq_->fatal()) dlq_.reset();
  if (dlq_ == nullptr) {
    ProducerOptions producer_options;
    producer_options.brokers = options_.brokers;
    ASSIGN_OR_RETURN(dlq_, Producer::Create(producer_options));
  }
  std::vector<Header> headers = record.headers;
  headers.push_back({"error", cause.ToString()});
  headers.push_back({"source.topic", record.topic});
  headers.push_back({"source.partition", absl::StrCat(record.partition)});
  headers.push_back({"source.offset", absl::StrCat(record.offset)});

  uint64_t send_id = 0;
  {
    absl::MutexLock lock(&signal_mu_);
    send_id = ++dlq_send_id_;
    dlq_result_.reset();
  }
  // Not ProduceSync(): Stop() must be able to interrupt the wait.
  RETURN_IF_ERROR(dlq_->Produce(absl::StrCat(record.topic, ".dlq"), record.key, record.value,
                                headers, [this, send_id](absl::Status status) {
                                  absl::MutexLock lock(&signal_mu_);
                                  if (send_id == dlq_send_id_) dlq_result_ = std::move(status);
                                }));
  absl::MutexLock lock(&signal_mu_);
  auto settled = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(signal_mu_) {
    return stop_requested_ || dlq_result_.has_value();
  };
  signal_mu_.Await(absl::Condition(&settled));
  if (!dlq_result_.has_value()) return absl::CancelledError("kafka consumer stopping");
  return *dlq_result_;
}

void Consumer::StoreOffset(const std::string& topic, int32_t partition, int64_t next_offset) {
  PartitionList next;
  // The committed offset names the next record to read.
  next.items.push_back(RdKafka::TopicPartition::create(topic, partition, next_offset));
  const RdKafka::ErrorCode code = consumer_->offsets_store(next.items);
  if (code != RdKafka::ERR_NO_ERROR) {
    // ERR__STATE: the partition was revoked meanwhile; its new owner reads the record
    // again, which the handler's idempotence absorbs.
    gridloop::log::Debug("kafka offset not stored", {{"topic", topic},
                                                     {"partition", absl::StrCat(partition)},
                                                     {"error", RdKafka::err2str(code)}});
  }
}

void Consumer::RefreshLag() {
  lag_refreshed_ = absl::Now();
  PartitionList assigned;
  if (consumer_->assignment(assigned.items) != RdKafka::ERR_NO_ERROR) return;
  if (consumer_->position(assigned.items) != RdKafka::ERR_NO_ERROR) return;
  int64_t total = 0;
  for (const RdKafka::TopicPartition* partition : assigned.items) {
    int64_t low = RdKafka::Topic::OFFSET_INVALID;
    int64_t high = RdKafka::Topic::OFFSET_INVALID;
    // Cached from fetch responses: no broker round trip.
    if (consumer_->get_watermark_offsets(partition->topic(), partition->partition(), &low, &high) !=
            RdKafka::ERR_NO_ERROR ||
        high < 0) {
      continue;
    }
    int64_t position = partition->offset();
    if (position < 0) position = low >= 0 ? low : high;  // nothing consumed yet
    total += std::max<int64_t>(0, high - position);
  }
  // Read ahead but not finished: still behind, though past the position.
  absl::MutexLock lock(&work_mu_);
  lag_ = total + in_flight_;
}

}  // namespace gridloop::kafka
