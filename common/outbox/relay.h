#ifndef GRIDLOOP_COMMON_OUTBOX_RELAY_H_
#define GRIDLOOP_COMMON_OUTBOX_RELAY_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/kafka/producer.h"
#include "common/redis/redis_client.h"

namespace gridloop::outbox {

// An outbox stream entry carries the record's Kafka key in field "k" and value in "v";
// that is the whole format, so any service's Lua script can write one with XADD.
inline constexpr char kKeyField[] = "k";
inline constexpr char kValueField[] = "v";

struct RelayOptions {
  // Redis streams to publish from. Each must carry its own hash tag; its lease key is
  // "<stream>:lease", in the same slot.
  std::vector<std::string> streams;
  std::string topic;
  // Unique per process: holds the leases. Empty = "<hostname>-<pid>-<random>".
  std::string owner;
  // Entries read per stream per pass.
  int batch = 500;
  // How often streams are looked at when no Notify() came (entries written by a replica
  // that died before publishing them, or by another process).
  absl::Duration idle_poll = absl::Milliseconds(200);
  // A stream is published by at most one relay at a time (so one incident's events keep
  // their order): the one holding its lease. The lease outlives a pass's delivery wait.
  absl::Duration lease_ttl = absl::Seconds(60);
  // After a failed pass (broker or Redis down), the next one waits this long, doubling
  // up to 16x.
  absl::Duration retry_backoff = absl::Milliseconds(200);
};

// Publishes outbox entries to Kafka and deletes each only after the broker acknowledged
// it, in stream order. A crash at any point loses nothing: an entry is deleted only
// after its delivery report said "persisted", so at worst it is published twice (a
// report "possibly persisted" counts as not delivered and is re-sent); consumers dedupe.
// A producer that hit a fatal error is replaced through the factory.
// Thread-safe. Runs one thread between Start() and Stop().
class Relay {
 public:
  using ProducerFactory = std::function<absl::StatusOr<std::unique_ptr<kafka::Producer>>()>;

  // `redis` must outlive the relay.
  Relay(redis::Client* redis, ProducerFactory producer_factory, RelayOptions options);
  ~Relay();

  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  void Start();
  // Finishes the pass in hand (waiting for its deliveries), flushes the producer and
  // releases the leases so another replica takes over at once. Idempotent.
  void Stop();

  // Something was just written: look now rather than at the next idle poll.
  void Notify();

  // One pass over every stream this relay can lease: publish, wait, delete. Returns the
  // number of entries published and deleted. For tests and for the loop.
  absl::StatusOr<int> RunOnce();

  // Entries in the streams at the last look (published ones are deleted at once, so this
  // is the backlog).
  int64_t lag() const { return lag_.load(); }
  int64_t published() const { return published_.load(); }

 private:
  struct Entry {
    std::string stream;
    std::string id;
    std::string key;
    std::string value;
  };

  void Loop();
  absl::StatusOr<bool> HoldLease(const std::string& stream);
  void ReleaseLeases();
  absl::Status EnsureProducer();
  absl::Status UpdateLag();

  redis::Client* const redis_;
  const ProducerFactory producer_factory_;
  const RelayOptions options_;
  const std::string owner_;
  std::unique_ptr<kafka::Producer> producer_;  // used by the loop thread (or RunOnce caller)
  absl::Time lease_checked_ = absl::InfinitePast();
  std::vector<std::string> held_;  // streams whose lease this relay holds
  absl::Time lag_checked_ = absl::InfinitePast();

  absl::Mutex mu_;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex run_mu_;  // one pass at a time
  std::thread thread_;
  std::atomic<int64_t> lag_{0};
  std::atomic<int64_t> published_{0};
};

}  // namespace gridloop::outbox

#endif  // GRIDLOOP_COMMON_OUTBOX_RELAY_H_
