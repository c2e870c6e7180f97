#ifndef GRIDLOOP_SERVICES_DISPATCH_STAFF_CACHE_H_
#define GRIDLOOP_SERVICES_DISPATCH_STAFF_CACHE_H_

#include <cstddef>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
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
// rare and must be current).
//
// Given somewhere to run them (`background`), answers are renewed before anyone waits for
// them: the first use of an answer past half its ttl asks again in the background while
// the answer still serves, and a use within `ttl` of the next minute asks for that minute
// ahead. So a grid with steady incidents never has one wait on residents; an answer is
// still never older than `ttl`. A renewal that fails is tried again a quarter ttl later.
// Thread-safe.
class CachingStaffDirectory final : public StaffDirectory {
 public:
  // Runs a renewal off the caller's thread; false when it cannot take one now.
  using Background = std::function<bool(absl::AnyInvocable<void() &&>)>;

  // `inner` and `real_clock` must outlive this, and `background` must run nothing after it
  // is destroyed. A `ttl` of zero keeps nothing; no `background`, nothing is renewed ahead.
  CachingStaffDirectory(StaffDirectory* inner, absl::Duration ttl,
                        const Clock* real_clock = SystemClock::Get(), size_t max_entries = 10000,
                        Background background = nullptr);

  absl::StatusOr<v1::GetResponsibleResponse> Responsible(absl::string_view region_code,
                                                         absl::Time at) override;
  absl::StatusOr<bool> ResidentExists(absl::string_view resident_id) override {
    return inner_->ResidentExists(resident_id);
  }

  // Answers served from the cache, asked of `inner` while a caller waited, and asked of
  // it in the background ahead of need.
  int64_t hits() const;
  int64_t misses() const;
  int64_t renewals() const;

 private:
  struct Entry {
    v1::GetResponsibleResponse response;
    absl::Time renew_at;  // a use from then on renews it in the background
    absl::Time expires;
  };

  void StoreLocked(const std::string& key, v1::GetResponsibleResponse response, absl::Time asked)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Asks `inner` for `key` in the background, unless a renewal of it is under way or failed
  // lately.
  void RenewLocked(const std::string& key, absl::string_view region_code, absl::Time at,
                   absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  StaffDirectory* const inner_;
  const absl::Duration ttl_;
  const Clock* const real_clock_;
  const size_t max_entries_;
  const Background background_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Keys being asked in the background (until InfiniteFuture) or whose renewal failed (not
  // to be asked again before the time held).
  absl::flat_hash_map<std::string, absl::Time> renewing_ ABSL_GUARDED_BY(mu_);
  int64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t renewals_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace gridloop::dispatch

#endif  // GRIDLOOP_SERVICES_DISPATCH_STAFF_CACHE_H_
