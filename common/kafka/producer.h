#ifndef GRIDLOOP_COMMON_KAFKA_PRODUCER_H_
#define GRIDLOOP_COMMON_KAFKA_PRODUCER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/kafka/record.h"

namespace RdKafka {
class Producer;
}  // namespace RdKafka

namespace gridloop::kafka {

namespace internal {
class ProducerCallbacks;
}  // namespace internal

struct ProducerOptions {
  // Comma-separated bootstrap list, "host:port,host:port". Required.
  std::string brokers;
  // linger.ms: how long a batch may wait for more records.
  absl::Duration linger = absl::Milliseconds(5);
  // message.timeout.ms: how long librdkafka keeps retrying one record before it reports
  // the delivery as failed. Also bounds how long Produce() waits for room in a full queue.
  absl::Duration delivery_timeout = absl::Seconds(30);
  // Any further librdkafka property; applied last, so it may override the ones above
  // (but not enable.idempotence or acks, which this class depends on).
  std::map<std::string, std::string> extra;
};

// An idempotent producer (enable.idempotence=true, acks=all): a record the broker
// acknowledged is persisted on every in-sync replica, and librdkafka's own retries never
// duplicate or reorder records within a partition.
//
// Thread-safe. Owns one poll thread that serves delivery reports and error events; every
// DeliveryCallback runs there, so callbacks must be quick and must not call ProduceSync()
// or Flush() (that would wait on the thread that is running them).
class Producer {
 public:
  // Receives the delivery result of one record: OK once the broker acknowledged it;
  // Unavailable when it was not persisted or only possibly persisted (the message text
  // names which) — the caller should send it again and let consumers drop duplicates.
  using DeliveryCallback = std::function<void(absl::Status)>;

  // InvalidArgument when `options.brokers` is empty or a librdkafka property is rejected
  // (the message names it); Internal if librdkafka cannot create the handle. Connecting
  // is lazy: an unreachable broker is not an error here.
  static absl::StatusOr<std::unique_ptr<Producer>> Create(const ProducerOptions& options);

  // Waits up to 5 s for outstanding deliveries, then purges what is left (those records'
  // callbacks run with Unavailable) and stops the poll thread.
  ~Producer();

  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Enqueues one record for `topic`, partitioned by `key` (an empty key spreads records
  // over the partitions). When it returns OK, `done` will run exactly once on the poll
  // thread (or, for records still queued when the producer is destroyed, on the
  // destroying thread). When the local queue is full it waits for room until
  // delivery_timeout. Errors, after which `done` is NOT called: Unavailable (queue still
  // full), InvalidArgument (record too large), FailedPrecondition (the producer hit a
  // fatal error; see fatal()), Internal (anything else librdkafka refused).
  absl::Status Produce(absl::string_view topic, absl::string_view key, absl::string_view value,
                       const std::vector<Header>& headers, DeliveryCallback done);
  // Produce() without waiting: Unavailable at once when the local queue is full. For a
  // caller whose thread must not block on the broker.
  absl::Status TryProduce(absl::string_view topic, absl::string_view key, absl::string_view value,
                          const std::vector<Header>& headers, DeliveryCallback done);

  // Produce() and wait for the delivery result; returns the enqueue error or the status
  // `done` would have received. Blocks up to about 2 x delivery_timeout. Must not be called
  // from a DeliveryCallback.
  absl::Status ProduceSync(absl::string_view topic, absl::string_view key, absl::string_view value,
                           const std::vector<Header>& headers = {});

  // Waits until every record enqueued so far has been reported. DeadlineExceeded (naming
  // how many remain) after `timeout`. Must not be called from a DeliveryCallback.
  absl::Status Flush(absl::Duration timeout);

  // True after librdkafka raised a fatal error (for example an idempotence sequence
  // violation). A fatal producer refuses every record: destroy it and create a new one.
  bool fatal() const;

  // Records enqueued whose delivery has not yet been reported. A record leaves the count
  // after its callback returned, so a ProduceSync() caller may still briefly see it.
  int64_t outstanding() const;

 private:
  friend class internal::ProducerCallbacks;

  explicit Producer(ProducerOptions options);
  // Waits up to `room_wait` for room in a full queue.
  absl::Status Enqueue(absl::string_view topic, absl::string_view key, absl::string_view value,
                       const std::vector<Header>& headers, DeliveryCallback done,
                       absl::Duration room_wait);
  void PollLoop();
  // Called by librdkafka on the poll thread.
  void OnDelivery(void* opaque, absl::Status status);
  void OnFatal(absl::string_view reason);

  const ProducerOptions options_;
  // Referenced by librdkafka's configuration: declared before producer_ so that it is
  // destroyed after it.
  std::unique_ptr<internal::ProducerCallbacks> callbacks_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::thread poll_thread_;
  std::atomic<bool> stop_polling_{false};
  std::atomic<bool> fatal_{false};

  mutable absl::Mutex mu_;
  int64_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace gridloop::kafka

#endif  // GRIDLOOP_COMMON_KAFKA_PRODUCER_H_
