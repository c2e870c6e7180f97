#ifndef GRIDLOOP_SERVICES_INCIDENTS_REDIS_INCIDENT_STORE_H_
#define GRIDLOOP_SERVICES_INCIDENTS_REDIS_INCIDENT_STORE_H_

#include <functional>
#include <string>
#include <vector>

#include "common/outbox/entry.h"
#include "common/redis/async_client.h"
#include "common/redis/redis_client.h"
#include "services/incidents/incident_store.h"

namespace gridloop::incidents {

// The incident store on Redis. Keys of shard `ss` (two hex digits) share the hash tag
// `{ss}`, i.e. one Cluster slot:
//   inc:{ss}:i:<id>        hash  v = version, d = Incident bytes (without history),
//                                m = "status|assignee kind|region|assignee id" (list filters)
//   inc:{ss}:h:<id>        list  HistoryEntry bytes, oldest first
//   inc:{ss}:req:<rid>     string  "<fingerprint>\n<first result>"; expires
//   inc:{ss}:time          zset  id by reported_at (ms)
//   inc:{ss}:sla           zset  "<id>|<kind>|<due ms>" by due (ms)
//   inc:{ss}:outbox        stream  k = incident id, v = IncidentEvent bytes
// Thread-safe (the client is a pool).
class RedisIncidentStore final : public IncidentStore {
 public:
  // Told the outbox entry an accepted write appended, on the writing thread: it goes to
  // the outbox relay.
  using OnWrite = std::function<void(outbox::Appended entry)>;

  // `redis` must outlive the store. `on_write` may be empty.
  explicit RedisIncidentStore(redis::Client* redis, OnWrite on_write = nullptr);
  // As above, with `async` (outliving the store) for WriteAsync, the hot path of reports.
  RedisIncidentStore(redis::Client* redis, redis::AsyncClient* async, OnWrite on_write);

  absl::StatusOr<v1::Incident> Get(absl::string_view id, bool with_history) override;
  absl::StatusOr<std::optional<EarlierResult>> FindRequest(int shard,
                                                           absl::string_view request_id) override;
  absl::StatusOr<WriteResult> Write(const IncidentWrite& w) override;
  void WriteAsync(const IncidentWrite& w, WriteCallback done) override;
  void GetAsync(absl::string_view id, GetCallback done) override;
  absl::StatusOr<ListPage> List(const ListQuery& q) override;
  absl::StatusOr<std::vector<SlaDeadline>> DueDeadlines(absl::Time now, int limit) override;
  absl::Status DropDeadline(const SlaDeadline& deadline) override;

  // The outbox stream of every shard, for the relay.
  static std::vector<std::string> OutboxStreams();

 private:
  // `event` is the outbox entry's value, as written.
  absl::StatusOr<WriteResult> CommitOutcome(const IncidentWrite& w, std::string event,
                                            const redis::Reply& r);

  redis::Client* const redis_;
  redis::AsyncClient* const async_ = nullptr;
  const OnWrite on_write_;
};

}  // namespace gridloop::incidents

#endif  // GRIDLOOP_SERVICES_INCIDENTS_REDIS_INCIDENT_STORE_H_
