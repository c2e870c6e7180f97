#ifndef GRIDLOOP_SERVICES_DISPATCH_STAFF_CACHE_H_
#define GRIDLOOP_SERVICES_DISPATCH_STAFF_CACHE_H_

#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"
#include "services/dispatch/peers.h"

namespace gridloop::dispatch {

// Who is responsible for a grid changes when a roster is edited or a shift turns over,
// not once per incident, yet dispatch asks for every incident it assigns. This keeps the
// answers for `ttl` of real time, per region and per minute of the time asked about (duty
// hours are whole minutes), so a roster edited in the residents service is followed within
// `ttl`, as the volunteer index follows volunteers. Only answers are kept: NotFound and
// peer failures are asked again. ResidentExists is passed through (registration checks are
// rare and must be current). Thread-safe.
class CachingStaffDirectory final : public StaffDirectory {
 public:
  // `inner` and `real_clock` must outlive this. A `ttl` of zero keeps nothing.
  CachingStaffDirectory(StaffDirectory* inner, absl::Duration ttl,
                        const Clock* real_clock = SystemClock::Get(), size_t max_entries = 10000);

  absl::StatusOr<v1::GetResponsibleResponse> Responsible(absl::string_view region_code,
                                                         absl::Time at) override;
  absl::StatusOr<bool> ResidentExists(absl::string_view resident_id) override {
    return inner_->ResidentExists(resident_id);
  }

  // Answers served from the cache, and asked of `inner`.
  int64_t hits() const;
  int64_t misses() const;

 private:
  struct Entry {
    v1::GetResponsibleResponse response;
    absl::Time expires;
  };

  StaffDirectory* const inner_;
  const absl::Duration ttl_;
  const Clock* const real_clock_;
  const size_t max_entries_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  int64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace gridloop::dispatch

#endif  // GRIDLOOP_SERVICES_DISPATCH_STAFF_CACHE_H_
