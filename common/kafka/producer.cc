#include "common/kafka/producer.h"

#include <librdkafka/rdkafkacpp.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/kafka/rdkafka_util.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"

namespace gridloop::kafka {
namespace internal {

// librdkafka's callbacks, forwarded to the producer. Both run on the thread that calls
// poll(), which is the producer's poll thread.
class ProducerCallbacks final : public RdKafka::DeliveryReportCb, public RdKafka::EventCb {
 public:
  explicit ProducerCallbacks(Producer* producer) : producer_(producer) {}

  void dr_cb(RdKafka::Message& message) override {
    absl::Status status;
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      status = absl::UnavailableError(absl::StrCat("kafka delivery to ", message.topic_name(),
                                                   " failed (", PersistenceName(message.status()),
                                                   "): ", message.errstr()));
    }
    producer_->OnDelivery(message.msg_opaque(), std::move(status));
  }

  void event_cb(RdKafka::Event& event) override {
    LogEvent(event, "producer");
    if (event.type() == RdKafka::Event::EVENT_ERROR && event.fatal()) {
      producer_->OnFatal(event.str());
    }
  }

 private:
  static absl::string_view PersistenceName(RdKafka::Message::Status status) {
    switch (status) {
      case RdKafka::Message::MSG_STATUS_NOT_PERSISTED:
        return "not persisted";
      case RdKafka::Message::MSG_STATUS_POSSIBLY_PERSISTED:
        return "possibly persisted";
      case RdKafka::Message::MSG_STATUS_PERSISTED:
        return "persisted";
    }
    return "unknown persistence";
  }

  Producer* const producer_;
};

}  // namespace internal

namespace {

constexpr absl::Duration kDestroyFlushTimeout = absl::Seconds(5);
constexpr absl::Duration kPurgeTimeout = absl::Seconds(1);
constexpr int kPollMillis = 50;
// How long Produce() waits for a delivery report to free room in a full queue before it
// tries again; the report normally wakes it sooner.
constexpr absl::Duration kQueueFullWait = absl::Milliseconds(10);

absl::Status EnqueueError(RdKafka::ErrorCode code, absl::string_view topic) {
  std::string message = absl::StrCat("kafka produce to ", topic, ": ", RdKafka::err2str(code));
  switch (code) {
    case RdKafka::ERR__QUEUE_FULL:
      return absl::UnavailableError(message);
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
      return absl::InvalidArgumentError(message);
    case RdKafka::ERR__FATAL:
      return absl::FailedPreconditionError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

Producer::Producer(ProducerOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(const ProducerOptions& options) {
  if (options.brokers.empty()) return absl::InvalidArgumentError("kafka producer: no brokers");
  std::unique_ptr<Producer> producer(new Producer(options));
  producer->callbacks_ = std::make_unique<internal::ProducerCallbacks>(producer.get());

  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  RETURN_IF_ERROR(internal::SetConf(*conf, "bootstrap.servers", options.brokers));
  RETURN_IF_ERROR(internal::SetConf(*conf, "linger.ms", internal::Millis(options.linger)));
  RETURN_IF_ERROR(
      internal::SetConf(*conf, "message.timeout.ms", internal::Millis(options.delivery_timeout)));
  RETURN_IF_ERROR(internal::SetConf(*conf, "socket.nagle.disable", "true"));
  // librdkafka backs off reconnecting up to 10 s: after an outage the backlog would wait
  // that long for a broker that is already back.
  RETURN_IF_ERROR(internal::SetConf(*conf, "reconnect.backoff.max.ms", "2000"));
  RETURN_IF_ERROR(internal::SetConf(*conf, options.extra));
  // Set after `extra`: the delivery guarantees documented above depend on them.
  RETURN_IF_ERROR(internal::SetConf(*conf, "enable.idempotence", "true"));
  RETURN_IF_ERROR(internal::SetConf(*conf, "acks", "all"));
  std::string error;
  if (conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(producer->callbacks_.get()),
                error) != RdKafka::Conf::CONF_OK ||
      conf->set("event_cb", static_cast<RdKafka::EventCb*>(producer->callbacks_.get()), error) !=
          RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("kafka producer callbacks: ", error));
  }
  producer->producer_.reset(RdKafka::Producer::create(conf.get(), error));
  if (producer->producer_ == nullptr) {
    return absl::InternalError(absl::StrCat("kafka producer: ", error));
  }
  producer->poll_thread_ = std::thread([p = producer.get()] { p->PollLoop(); });
  return producer;
}

Producer::~Producer() {
  if (producer_ == nullptr) return;  // Create() failed before the handle existed.
  if (absl::Status flushed = Flush(kDestroyFlushTimeout); !flushed.ok()) {
    gridloop::log::Warn("kafka producer closing with undelivered records",
                        {{"error", flushed.ToString()}});
    // Purged records get a delivery report (ERR__PURGE_*), so every callback still runs.
    producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
    (void)Flush(kPurgeTimeout);
  }
  stop_polling_ = true;
  poll_thread_.join();
  // Reports that arrived after the poll thread stopped are served here.
  producer_->poll(0);
  if (int64_t left = outstanding(); left > 0) {
    gridloop::log::Error("kafka producer dropped records without a delivery report",
                         {{"count", absl::StrCat(left)}});
  }
  producer_.reset();
}

void Producer::PollLoop() {
  while (!stop_polling_) producer_->poll(kPollMillis);
}

void Producer::OnDelivery(void* opaque, absl::Status status) {
  std::unique_ptr<DeliveryCallback> done(static_cast<DeliveryCallback*>(opaque));
  if (done != nullptr && *done) (*done)(std::move(status));
  // Decremented after the callback so that Flush() returning means every callback ran.
  absl::MutexLock lock(&mu_);
  --outstanding_;
}

void Producer::OnFatal(absl::string_view reason) {
  std::string detail;
  producer_->fatal_error(detail);
  fatal_ = true;
  gridloop::log::Error("kafka producer is fatal; it must be recreated",
                       {{"event", std::string(reason)}, {"error", detail}});
}

absl::Status Producer::Produce(absl::string_view topic, absl::string_view key,
                               absl::string_view value, const std::vector<Header>& headers,
                               DeliveryCallback done) {
  return Enqueue(topic, key, value, headers, std::move(done), options_.delivery_timeout);
}

absl::Status Producer::TryProduce(absl::string_view topic, absl::string_view key,
                                  absl::string_view value, const std::vector<Header>& headers,
                                  DeliveryCallback done) {
  return Enqueue(topic, key, value, headers, std::move(done), absl::ZeroDuration());
}

absl::Status Producer::Enqueue(absl::string_view topic, absl::string_view key,
                               absl::string_view value, const std::vector<Header>& headers,
                               DeliveryCallback done, absl::Duration room_wait) {
  std::unique_ptr<RdKafka::Headers> rd_headers;
  if (!headers.empty()) {
    rd_headers.reset(RdKafka::Headers::create());
    for (const Header& header : headers) {
      rd_headers->add(header.key, header.value.data(), header.value.size());
    }
  }
  auto pending = std::make_unique<DeliveryCallback>(std::move(done));
  const std::string topic_name(topic);
  const absl::Time deadline = absl::Now() + room_wait;
  {
    // Counted before the record is handed over, so a report that arrives before
    // produce() returns cannot take the count below zero.
    absl::MutexLock lock(&mu_);
    ++outstanding_;
  }
  while (true) {
    // RK_MSG_COPY: librdkafka copies key and value, so the caller's buffers may go away.
    const RdKafka::ErrorCode code = producer_->produce(
        topic_name, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
        const_cast<char*>(value.data()), value.size(), key.empty() ? nullptr : key.data(),
        key.size(), /*timestamp=*/0, rd_headers.get(), pending.get());
    if (code == RdKafka::ERR_NO_ERROR) {
      (void)rd_headers.release();  // now owned by librdkafka
      (void)pending.release();     // freed by OnDelivery
      return absl::OkStatus();
    }
    absl::MutexLock lock(&mu_);
    if (code == RdKafka::ERR__QUEUE_FULL && absl::Now() < deadline) {
      const int64_t before = outstanding_;
      auto room_freed = [this, before]()
                            ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return outstanding_ < before; };
      mu_.AwaitWithTimeout(absl::Condition(&room_freed), kQueueFullWait);
      continue;
    }
    --outstanding_;
    return EnqueueError(code, topic);
  }
}

absl::Status Producer::ProduceSync(absl::string_view topic, absl::string_view key,
                                   absl::string_view value, const std::vector<Header>& headers) {
  struct Result {
    absl::Notification done;
    absl::Status status;
  };
  auto result = std::make_shared<Result>();
  RETURN_IF_ERROR(Produce(topic, key, value, headers, [result](absl::Status status) {
    result->status = std::move(status);
    result->done.Notify();
  }));
  result->done.WaitForNotification();
  return result->status;
}

absl::Status Producer::Flush(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return outstanding_ == 0; };
  if (!mu_.AwaitWithTimeout(absl::Condition(&drained), timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("kafka flush: ", outstanding_, " records still undelivered"));
  }
  return absl::OkStatus();
}

bool Producer::fatal() const { return fatal_; }

int64_t Producer::outstanding() const {
  absl::MutexLock lock(&mu_);
  return outstanding_;
}

}  // namespace gridloop::kafka
