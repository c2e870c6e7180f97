#ifndef GRIDLOOP_SERVICES_DISPATCH_DISPATCH_STORE_H_
#define GRIDLOOP_SERVICES_DISPATCH_DISPATCH_STORE_H_

// The incident side of dispatch's keyspace: per incident, the dispatch record (what was
// decided for which incident version) and its offers, with the offers' deadlines and the
// dispatch events they produce.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gridloop/v1/dispatch.pb.h"

namespace gridloop::dispatch {

// One atomic change to one incident's dispatch state.
struct DispatchWrite {
  std::string incident_id;
  // The record after the change (its version already bumped), compared against
  // `expected_job_version` (0 = must not exist yet). Unset = leave the record alone.
  std::optional<v1::Dispatch> job;
  int64_t expected_job_version = 0;
  // Offers after the change, each with the version it was computed from (0 = new).
  std::vector<std::pair<v1::Offer, int64_t>> offers;
  // Deadlines to set (offer id -> when its timer fires) and to clear.
  std::vector<std::pair<std::string, absl::Time>> timers;
  std::vector<std::string> clear_timers;
  std::vector<v1::DispatchEvent> events;  // to gridloop.dispatch.events.v1, via the outbox
  // Once the incident is finished (closed, cancelled), its record and offers are kept
  // this long, then forgotten. Infinite = kept.
  absl::Duration retain = absl::InfiniteDuration();
};

// Thread-safe. Unavailable when Redis cannot be reached; Internal for a corrupt record.
class DispatchStore {
 public:
  virtual ~DispatchStore() = default;

  // nullopt when dispatch has never seen the incident.
  virtual absl::StatusOr<std::optional<v1::Dispatch>> GetJob(absl::string_view incident_id) = 0;
  // NotFound (also for an id that names no incident).
  virtual absl::StatusOr<v1::Offer> GetOffer(absl::string_view offer_id) = 0;
  // The offers that exist, in the order asked.
  virtual absl::StatusOr<std::vector<v1::Offer>> GetOffers(
      const std::vector<std::string>& offer_ids) = 0;
  // All or nothing. Aborted when the record or an offer moved on from the expected
  // version (nothing is written).
  virtual absl::Status Commit(const DispatchWrite& write) = 0;
  // Offer ids whose timer is due at `now`, at most `limit`, earliest first.
  virtual absl::StatusOr<std::vector<std::string>> DueTimers(absl::Time now, int limit) = 0;
};

// "<incident id>-o<n>", and back.
std::string OfferId(absl::string_view incident_id, int n);
// The incident an offer id belongs to; InvalidArgument naming `field` when malformed.
absl::StatusOr<std::string> IncidentOfOffer(absl::string_view offer_id, absl::string_view field);

}  // namespace gridloop::dispatch

#endif  // GRIDLOOP_SERVICES_DISPATCH_DISPATCH_STORE_H_
