#ifndef GRIDLOOP_SERVICES_DISPATCH_REDIS_DISPATCH_STORE_H_
#define GRIDLOOP_SERVICES_DISPATCH_REDIS_DISPATCH_STORE_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/outbox/entry.h"
#include "common/redis/redis_client.h"
#include "services/dispatch/dispatch_store.h"

namespace gridloop::dispatch {

// DispatchStore on Redis. An incident's record, its offers, the timers of those offers and
// the outbox stream their events go to share a shard's hash tag ("dsp:{0b}:"), so a
// change is one script in one slot; the shard is a stable hash of the incident id.
// Thread-safe.
class RedisDispatchStore final : public DispatchStore {
 public:
  static constexpr int kShards = 16;

  // Told each outbox entry a commit appended, in order, so the relay in this process
  // publishes them at once.
  using OnOutboxWrite = std::function<void(outbox::Appended entry)>;

  // `redis` must outlive the store. `on_outbox_write` may be empty.
  RedisDispatchStore(redis::Client* redis, OnOutboxWrite on_outbox_write);

  // The outbox streams, one per shard, for the relay.
  static std::vector<std::string> OutboxStreams();

  absl::StatusOr<std::optional<v1::Dispatch>> GetJob(absl::string_view incident_id) override;
  absl::StatusOr<v1::Offer> GetOffer(absl::string_view offer_id) override;
  absl::StatusOr<std::vector<v1::Offer>> GetOffers(
      const std::vector<std::string>& offer_ids) override;
  absl::Status Commit(const DispatchWrite& write) override;
  absl::StatusOr<std::vector<std::string>> DueTimers(absl::Time now, int limit) override;

 private:
  redis::Client* const redis_;
  const OnOutboxWrite on_outbox_write_;
};

}  // namespace gridloop::dispatch

#endif  // GRIDLOOP_SERVICES_DISPATCH_REDIS_DISPATCH_STORE_H_
