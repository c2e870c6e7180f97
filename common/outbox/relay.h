#ifndef GRIDLOOP_COMMON_OUTBOX_RELAY_H_
#define GRIDLOOP_COMMON_OUTBOX_RELAY_H_

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/kafka/producer.h"
#include "common/outbox/entry.h"
#include "common/redis/redis_client.h"

namespace gridloop::outbox {

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
  // A pass started by notifications reads only the streams they named, and every stream
  // when this long has passed since a pass last read them all: under load, what another
  // replica wrote to a stream this one holds still goes out within about this time.
  absl::Duration sweep = absl::Milliseconds(10);
  // While anything sent is not deleted yet, a pass runs this long after the previous
  // one at the latest: it deletes what was acknowledged (and sweeps when it is time).
  absl::Duration delete_every = absl::Milliseconds(10);
  // A stream is published by at most one relay at a time (so one incident's events keep
  // their order): the one holding its lease. The lease outlives a pass's delivery wait.
  absl::Duration lease_ttl = absl::Seconds(60);
  // A delivery with no report this long after it was sent counts as failed. The
  // producer's own delivery timeout reports every one much sooner; this is for a report
  // that never comes, which would otherwise hold its stream's deletes forever.
  absl::Duration overdue = absl::Minutes(2);
  // After a failed pass (broker or Redis down), the next one waits this long, doubling
  // up to 16x.
  absl::Duration retry_backoff = absl::Milliseconds(200);
};

// Publishes outbox entries to Kafka and deletes each only after the broker acknowledged
// it, in stream order. A crash at any point loses nothing: an entry is deleted only
// after its delivery report said "persisted", so at worst it is published twice (a
// report "possibly persisted" counts as not delivered and is re-sent); consumers dedupe.
// A producer that hit a fatal error is replaced through the factory.
//
// An entry reaches the relay in one of two ways. A writer that knows what it appended
// hands it over (Publish): when the relay holds the stream and has already sent the
// entry before it, it is sent at once, on the writer's thread, without a read. Otherwise
// a pass reads the stream from just past the last entry sent, whether or not earlier
// ones have come back yet; at most `batch` entries per stream are in flight. The
// acknowledged entries are deleted in the same round trip to Redis as a pass's reads. A
// failed delivery stops its stream; the stream is then read again from its oldest entry
// after a backoff, which re-sends the failed entry and any after it that were
// acknowledged meanwhile, in order.
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
  // Stops the thread, waits for the deliveries in flight (flushing the producer), deletes
  // what they acknowledged and releases the leases so another replica takes over at once.
  // Idempotent.
  void Stop();

  // Something was just written to `stream`: look at it now rather than at the next idle
  // poll. A pass started by notifications reads only the streams named since the last one.
  void Notify(const std::string& stream);
  // `entry` was just appended: sent now when it directly follows the last entry this
  // relay sent from its stream, else as Notify(entry.stream). Never blocks on I/O.
  void Publish(Appended entry);
  // The same for every stream, when the writer cannot say which.
  void Notify();

  // One whole pass over every stream this relay can lease: publish, wait for every
  // delivery in flight, delete. Returns the number of entries published and deleted. For
  // tests and for a last pass before Stop().
  absl::StatusOr<int> RunOnce();

  // Entries in the streams at the last look, less those deleted since (published ones are
  // deleted as their acknowledgements come, so this is the backlog).
  int64_t lag() const { return lag_.load(); }
  int64_t published() const { return published_.load(); }
  // Deliveries sent and not yet acknowledged (or failed).
  int64_t in_flight() const;
  // Deliveries that came back failed (each was or will be sent again).
  int64_t failed_deliveries() const;

 private:
  // Shared with the delivery callbacks, which may run after the relay is gone (for records
  // still queued when a producer is destroyed).
  struct Delivery {
    std::string id;
    absl::Time sent_at;
    std::atomic<bool> done{false};
    absl::Status result;  // written before `done` is set
  };
  struct Signals {
    absl::Mutex mu;
    bool notified ABSL_GUARDED_BY(mu) = false;
    // The streams named by Notify() since the loop last looked; `all_dirty` for all.
    std::set<std::string> dirty ABSL_GUARDED_BY(mu);
    bool all_dirty ABSL_GUARDED_BY(mu) = false;
    bool stopping ABSL_GUARDED_BY(mu) = false;
    // Set when a delivery came back failed: the loop acts on it at once.
    bool delivered ABSL_GUARDED_BY(mu) = false;
    // While the loop has no pass coming to delete what is sent, the first entry Publish()
    // sends sets `sent`, and the loop schedules one.
    bool watch_sends ABSL_GUARDED_BY(mu) = false;
    bool sent ABSL_GUARDED_BY(mu) = false;
    int64_t in_flight ABSL_GUARDED_BY(mu) = 0;
    int64_t failed ABSL_GUARDED_BY(mu) = 0;
  };
  struct Entry {
    std::string id;
    std::string key;
    std::string value;
  };
  // What this relay knows of one stream it holds.
  struct StreamState {
    std::string cursor;  // the last id sent; empty: read from the oldest entry
    std::deque<std::shared_ptr<Delivery>> in_flight;  // sent and not yet deleted, in order
    bool failed = false;  // a delivery failed: read nothing until in_flight has come back
    absl::Time retry_at = absl::InfinitePast();
    absl::Duration backoff;  // before reading again after a failure; doubles per failure
    // Worth a read at the next reading pass: written to (or named by a Notify), left with
    // more than a batch, or not read yet since this relay took it (back) over.
    bool unread = true;
  };
  struct PassResult {
    int deleted = 0;
    bool more = false;         // a stream returned a full batch: more is waiting
    bool outstanding = false;  // something sent is not deleted yet
    absl::Status failure;      // the first failed delivery seen, if any
    absl::Time next_retry = absl::InfiniteFuture();  // earliest failed stream's retry
  };

  void Loop();
  // A pass deletes what was acknowledged and, when `read`, reads the streams marked
  // unread; `read_all` marks every stream first (the idle poll, RunOnce).
  absl::StatusOr<PassResult> Pass(bool read, bool read_all = false)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  absl::Status CheckLeases(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  // Sends those of `entries` (one stream's, in order) that come after the last entry sent;
  // stops at the first that cannot be enqueued. Waits for room in the producer's queue
  // only when `wait_for_room` (the relay's own thread; never a writer's).
  absl::Status Send(StreamState& state, std::vector<Entry> entries, bool wait_for_room)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_);
  void ResetStreams() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_);
  // Whether anything sent from a held stream is not deleted yet.
  bool AnyInFlight() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_);
  absl::StatusOr<bool> HoldLease(const std::string& stream);
  void ReleaseLeases() ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  absl::Status EnsureProducer(bool* replaced) ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  absl::Status UpdateLag();
  bool WaitInFlight(absl::Duration timeout);

  redis::Client* const redis_;
  const ProducerFactory producer_factory_;
  const RelayOptions options_;
  const std::string owner_;
  const std::shared_ptr<Signals> signals_ = std::make_shared<Signals>();

  absl::Mutex run_mu_;  // one pass at a time; taken before state_mu_
  absl::Time lease_checked_ ABSL_GUARDED_BY(run_mu_) = absl::InfinitePast();
  bool all_held_ ABSL_GUARDED_BY(run_mu_) = false;
  absl::Time lag_checked_ ABSL_GUARDED_BY(run_mu_) = absl::InfinitePast();
  // What passes share with Publish(); held for no I/O but enqueueing to the producer.
  absl::Mutex state_mu_;
  std::unique_ptr<kafka::Producer> producer_ ABSL_GUARDED_BY(state_mu_);
  // The streams whose lease this relay holds, and what it has in flight from each.
  std::map<std::string, StreamState> held_ ABSL_GUARDED_BY(state_mu_);
  // Until when the leases in held_ are surely this relay's.
  absl::Time leases_valid_until_ ABSL_GUARDED_BY(state_mu_) = absl::InfinitePast();
  // Set by Stop(): from then on Publish() only notifies.
  bool closing_ ABSL_GUARDED_BY(state_mu_) = false;

  std::thread thread_;
  std::atomic<int64_t> lag_{0};
  std::atomic<int64_t> published_{0};
};

}  // namespace gridloop::outbox

#endif  // GRIDLOOP_COMMON_OUTBOX_RELAY_H_
