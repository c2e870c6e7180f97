#ifndef GRIDLOOP_COMMON_KAFKA_CONSUMER_H_
#define GRIDLOOP_COMMON_KAFKA_CONSUMER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/config/process_settings.h"
#include "common/kafka/producer.h"
#include "common/kafka/record.h"

namespace RdKafka {
class KafkaConsumer;
}  // namespace RdKafka

namespace gridloop::kafka {

namespace internal {
class ConsumerEvents;
}  // namespace internal

struct ConsumerOptions {
  // Comma-separated bootstrap list. Required.
  std::string brokers;
  // The consumer group. Required: offsets are committed to it in both modes below.
  std::string group_id;
  // Subscribe mode: join `group_id` and consume the partitions of these topics that the
  // group assigns to this member (joining takes about 3 s on the mock cluster).
  std::vector<std::string> topics;
  // Assign mode, used when non-empty: consume exactly these (topic, partition) pairs
  // without joining the group.
  std::vector<std::pair<std::string, int32_t>> assign;
  // Where a partition starts when `group_id` has no committed offset for it:
  // -2 (RdKafka::Topic::OFFSET_BEGINNING) or -1 (OFFSET_END). A committed offset always
  // wins, so a restarted consumer resumes after the last record it finished. In assign
  // mode an absolute offset (>= 0) is also accepted and overrides any committed offset.
  int64_t start_offset = -2;
  // Handler invocations per record before it is dead-lettered.
  int max_attempts = 5;
  // Wait before the second attempt; doubles per attempt, capped at 5 s.
  absl::Duration retry_backoff = absl::Milliseconds(100);
  // fetch.wait.max.ms: how long a broker may hold an empty fetch. Small, because the mock
  // cluster holds every empty fetch for the whole of it (see common/testing/kafka_cluster.h).
  int fetch_wait_max_ms = 10;
  // Records handled at once. 1: one at a time on the consuming thread, in partition order.
  // More: that many worker threads take records by key, one key at a time per worker, so
  // one key's records (one incident's events) stay in order while different keys are
  // handled concurrently; a partition's offset is stored only up to its first unfinished
  // record.
  int workers = 1;
  // With workers > 1: how many records may be read ahead of those finished. Reading stops
  // at this many until workers catch up.
  int max_in_flight = 1024;
  // Any further librdkafka consumer property; applied last.
  std::map<std::string, std::string> extra;
};

// What a service's GRIDLOOP_* consumer settings say: brokers, group, attempts, workers and
// fetch wait. What to consume (topics or partitions) is the caller's to add.
ConsumerOptions ConsumerOptionsFrom(const config::ConsumerSettings& settings);

// Decides a record's fate. OK: done, its offset is stored. InvalidArgument or DataLoss:
// poison, dead-lettered at once. Anything else: retried with backoff up to max_attempts,
// then dead-lettered. Must be idempotent: a record may be delivered again after a crash
// or a rebalance. With ConsumerOptions::workers == 1 it runs on the consumer's thread, one
// record at a time; with more, it runs on several threads at once (never two records of
// one key at once) and must be thread-safe.
using Handler = std::function<absl::Status(const Record&)>;

// An at-least-once consumer. A record's offset is stored only after the handler returned
// OK or the record was acknowledged by `<topic>.dlq` (same key and value, the original
// headers plus "error" = the handler's status text, "source.topic", "source.partition",
// "source.offset"). Stored offsets are committed every second and once more on Stop().
// A record that cannot be parked in the DLQ is retried until it can, never skipped.
// With one worker, records of one partition are handled in order and a record being retried
// holds up the partitions behind it. With several, records of one key are handled in order
// and a record being retried holds up its key and one worker; the other workers go on
// until max_in_flight records wait behind it.
//
// Start() and Stop() are thread-safe; the counters may be read from any thread.
class Consumer {
 public:
  // InvalidArgument for missing brokers/group/topics, max_attempts < 1, or a rejected
  // librdkafka property (named in the message); Internal if the handle cannot be created
  // or the subscription/assignment is refused.
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(ConsumerOptions options, Handler handler);
  // Stop().
  ~Consumer();

  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Starts the consuming thread. No-op if already started or stopped.
  void Start();
  // Lets the handler call in progress finish, abandons retries of a record not yet
  // finished (it is delivered again to the next consumer), commits the stored offsets and
  // leaves the group, waiting at most 10 s for that (the broker may be gone). Idempotent;
  // the consumer cannot be restarted.
  void Stop();

  // Best effort: the sum over assigned partitions of (high watermark - position), plus the
  // records read but not yet finished (workers > 1), as last seen by the consuming thread
  // (refreshed about every 200 ms).
  int64_t lag() const;
  // Records whose handler returned OK.
  int64_t processed() const;
  // Records parked in the DLQ.
  int64_t dead_lettered() const;

 private:
  Consumer(ConsumerOptions options, Handler handler);
  absl::Status Subscribe();
  void Run();
  // With workers > 1: queues `record` behind its key, waiting while max_in_flight records
  // are unfinished. False when Stop() interrupted the wait.
  bool Enqueue(Record record);
  void Work();
  // Returns true when the record is finished (handled or dead-lettered), false when Stop()
  // interrupted it.
  bool HandleRecord(const Record& record);
  absl::Status CallHandler(const Record& record);
  // Returns false when Stop() interrupted it; the record's offset is then not stored.
  bool ParkInDlq(const Record& record, const absl::Status& cause);
  absl::Status SendToDlq(const Record& record, const absl::Status& cause);
  // Marks `record` finished and stores its partition's offset up to the first unfinished
  // record.
  void Finish(const Record& record);
  void StoreOffset(const std::string& topic, int32_t partition, int64_t next_offset);
  void RefreshLag();
  // Waits `d` or until Stop() was requested; true if it was.
  bool WaitForStop(absl::Duration d);
  bool StopRequested();
  void Close();

  const ConsumerOptions options_;
  const Handler handler_;
  std::unique_ptr<internal::ConsumerEvents> events_;  // outlives consumer_
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;

  absl::Mutex lifecycle_mu_;  // serializes Start() and Stop()
  std::thread thread_ ABSL_GUARDED_BY(lifecycle_mu_);
  bool started_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
  bool closed_ ABSL_GUARDED_BY(lifecycle_mu_) = false;

  // Wakes the consuming thread out of backoff waits and DLQ sends.
  absl::Mutex signal_mu_;
  bool stop_requested_ ABSL_GUARDED_BY(signal_mu_) = false;
  uint64_t dlq_send_id_ ABSL_GUARDED_BY(signal_mu_) = 0;
  std::optional<absl::Status> dlq_result_ ABSL_GUARDED_BY(signal_mu_);

  // With workers > 1: the records waiting per key (a key is present while a worker holds
  // it or it waits in ready_), the keys no worker holds, and per partition the offsets read
  // but not yet finished and the offset after the highest finished one.
  struct PartitionProgress {
    std::set<int64_t> unfinished;
    int64_t next = -1;
    int64_t stored = -1;
  };
  absl::Mutex work_mu_;
  std::map<std::string, std::deque<Record>> by_key_ ABSL_GUARDED_BY(work_mu_);
  std::deque<std::string> ready_ ABSL_GUARDED_BY(work_mu_);
  std::map<std::pair<std::string, int32_t>, PartitionProgress> progress_ ABSL_GUARDED_BY(work_mu_);
  int in_flight_ ABSL_GUARDED_BY(work_mu_) = 0;
  bool work_stopping_ ABSL_GUARDED_BY(work_mu_) = false;
  std::vector<std::thread> workers_;  // started and joined under lifecycle_mu_

  // One dead-letter send at a time: the workers share the producer and the result slot.
  absl::Mutex dlq_mu_;
  // Used by one thread at a time (under dlq_mu_, or by Close() after the threads ended).
  // Declared after signal_mu_: its delivery callbacks touch it, so it must be destroyed
  // first.
  std::unique_ptr<Producer> dlq_;
  absl::Time lag_refreshed_ = absl::InfinitePast();

  std::atomic<int64_t> lag_{0};
  std::atomic<int64_t> processed_{0};
  std::atomic<int64_t> dead_lettered_{0};
};

}  // namespace gridloop::kafka

#endif  // GRIDLOOP_COMMON_KAFKA_CONSUMER_H_
