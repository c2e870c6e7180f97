#ifndef GRIDLOOP_SERVICES_INCIDENTS_GRID_CACHE_H_
#define GRIDLOOP_SERVICES_INCIDENTS_GRID_CACHE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace gridloop::incidents {

// The residents service's answers to "which grid covers this point", each kept for the
// cell it came with (LocateGridResponse.cell_id), so that a report from anywhere in that
// cell needs no call. An answer counts from the time it was asked for until the time
// residents vouched for, and at most `ttl` after it was asked: a boundary redrawn in the
// meantime reaches incidents within `ttl`. A `ttl` of zero keeps nothing.
//
// Bounded: a full cache first drops its lapsed answers, and if that is not enough, all of
// them. Thread-safe; lookups share a reader lock.
class GridCache {
 public:
  explicit GridCache(absl::Duration ttl, size_t capacity = 65536);

  // The grid kept for a cell containing the point, if its answer counts at `at`.
  std::optional<std::string> Find(double latitude, double longitude, absl::Time at) const;

  // Keeps `grid_code` for every point of `cell_id`, from `asked_at` until `valid_until`
  // (and not past asked_at + ttl). Cell ids that are no S2 cell are ignored.
  void Put(uint64_t cell_id, std::string grid_code, absl::Time asked_at, absl::Time valid_until);

  size_t size() const;

 private:
  struct Answer {
    std::string grid_code;
    absl::Time from;
    absl::Time until;
  };
  static constexpr int kLevels = 31;

  void DropLocked(absl::flat_hash_map<uint64_t, Answer>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration ttl_;
  const size_t capacity_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Answer> cells_ ABSL_GUARDED_BY(mu_);
  // Cells kept per level: lookups probe only the levels in use.
  std::array<uint32_t, kLevels> per_level_ ABSL_GUARDED_BY(mu_) = {};
  uint32_t levels_in_use_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace gridloop::incidents

#endif  // GRIDLOOP_SERVICES_INCIDENTS_GRID_CACHE_H_
