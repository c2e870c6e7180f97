#ifndef GRIDLOOP_SERVICES_DISPATCH_APPLIED_VERSIONS_H_
#define GRIDLOOP_SERVICES_DISPATCH_APPLIED_VERSIONS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace gridloop::dispatch {

// The newest incident version this process has seen its dispatch record reach, for the
// incidents it handled lately, so that an event it has already applied is recognised
// without reading the record again. The case that matters is dispatch's own assignment:
// the record is committed with the assignment's version, and the `assigned` event that
// IncidentService then publishes would otherwise cost one more Redis round trip per
// incident on the loop's busiest stage.
//
// Sound because a record's incident version only ever grows: what this holds is never
// newer than the record in Redis, whichever replica wrote it since, so "already applied"
// answered here is what the record would have answered. (It relies on Redis keeping what
// it acknowledged, as dispatch as a whole does: AOF with appendfsync always.)
//
// Bounded: each incident id maps to one slot of a fixed table, and a newer incident that
// lands on the same slot replaces the older one, which is then simply unknown again.
// Thread-safe.
class AppliedVersions {
 public:
  // `slots` of zero keeps nothing: every lookup is unknown.
  explicit AppliedVersions(size_t slots);

  // The version recorded for `incident_id`; 0 when unknown.
  int64_t Get(absl::string_view incident_id) const;
  // Records that the record of `incident_id` reached `version` (an older one is ignored).
  void Record(absl::string_view incident_id, int64_t version);

 private:
  static constexpr size_t kStripes = 64;
  struct Slot {
    std::string incident_id;
    int64_t version = 0;
  };

  size_t SlotOf(absl::string_view incident_id) const;
  absl::Mutex& StripeOf(size_t slot) const { return stripes_[slot % kStripes]; }

  mutable std::array<absl::Mutex, kStripes> stripes_;
  // Guarded by the stripe of each slot's index.
  std::vector<Slot> slots_;
};

}  // namespace gridloop::dispatch

#endif  // GRIDLOOP_SERVICES_DISPATCH_APPLIED_VERSIONS_H_
