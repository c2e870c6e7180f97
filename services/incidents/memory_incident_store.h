#ifndef GRIDLOOP_SERVICES_INCIDENTS_MEMORY_INCIDENT_STORE_H_
#define GRIDLOOP_SERVICES_INCIDENTS_MEMORY_INCIDENT_STORE_H_

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "services/incidents/incident_store.h"

namespace gridloop::incidents {

// The in-memory twin of the Redis store, for unit tests of the domain. Same contract
// (the shared contract test runs against both); the outbox is a vector to inspect.
// Thread-safe.
class MemoryIncidentStore final : public IncidentStore {
 public:
  absl::StatusOr<v1::Incident> Get(absl::string_view id, bool with_history) override;
  absl::StatusOr<std::optional<EarlierResult>> FindRequest(int shard,
                                                           absl::string_view request_id) override;
  absl::StatusOr<WriteResult> Write(const IncidentWrite& w) override;
  absl::StatusOr<ListPage> List(const ListQuery& q) override;
  absl::StatusOr<std::vector<SlaDeadline>> DueDeadlines(absl::Time now, int limit) override;
  absl::Status DropDeadline(const SlaDeadline& deadline) override;

  // Every event written, in order.
  std::vector<v1::IncidentEvent> events() const;
  size_t watched_deadlines() const;

 private:
  using DeadlineKey = std::tuple<absl::Time, std::string, std::string>;  // due, id, kind

  mutable absl::Mutex mu_;
  std::map<std::string, v1::Incident, std::less<>> records_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, EarlierResult, std::less<>> requests_ ABSL_GUARDED_BY(mu_);
  std::set<DeadlineKey> deadlines_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::IncidentEvent> outbox_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gridloop::incidents

#endif  // GRIDLOOP_SERVICES_INCIDENTS_MEMORY_INCIDENT_STORE_H_
