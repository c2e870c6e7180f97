#include "services/incidents/grid_cache.h"

#include <algorithm>
#include <bit>
#include <utility>

#include "common/geo/cell.h"

namespace gridloop::incidents {

GridCache::GridCache(absl::Duration ttl, size_t capacity)
    : ttl_(ttl), capacity_(std::max<size_t>(capacity, 1)) {}

std::optional<std::string> GridCache::Find(double latitude, double longitude, absl::Time at) const {
  if (ttl_ <= absl::ZeroDuration()) return std::nullopt;
  const uint64_t leaf = geo::LeafCell(latitude, longitude);
  if (leaf == 0) return std::nullopt;
  absl::ReaderMutexLock lock(&mu_);
  for (uint32_t levels = levels_in_use_; levels != 0; levels &= levels - 1) {
    auto it = cells_.find(geo::CellParent(leaf, std::countr_zero(levels)));
    if (it != cells_.end() && it->second.from <= at && at < it->second.until) {
      return it->second.grid_code;
    }
  }
  return std::nullopt;
}

void GridCache::Put(uint64_t cell_id, std::string grid_code, absl::Time asked_at,
                    absl::Time valid_until) {
  if (ttl_ <= absl::ZeroDuration()) return;
  const int level = geo::CellLevel(cell_id);
  if (level < 0) return;
  const absl::Time until = std::min(valid_until, asked_at + ttl_);
  if (until <= asked_at) return;
  absl::MutexLock lock(&mu_);
  auto it = cells_.find(cell_id);
  if (it != cells_.end()) {
    it->second = Answer{std::move(grid_code), asked_at, until};
    return;
  }
  if (cells_.size() >= capacity_) {
    for (auto e = cells_.begin(); e != cells_.end();) {
      auto next = std::next(e);
      if (e->second.until <= asked_at) DropLocked(e);
      e = next;
    }
  }
  if (cells_.size() >= capacity_) {
    cells_.clear();
    per_level_ = {};
    levels_in_use_ = 0;
  }
  cells_.emplace(cell_id, Answer{std::move(grid_code), asked_at, until});
  if (per_level_[level]++ == 0) levels_in_use_ |= uint32_t{1} << level;
}

void GridCache::DropLocked(absl::flat_hash_map<uint64_t, Answer>::iterator it) {
  const int level = geo::CellLevel(it->first);
  if (--per_level_[level] == 0) levels_in_use_ &= ~(uint32_t{1} << level);
  cells_.erase(it);
}

size_t GridCache::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return cells_.size();
}

}  // namespace gridloop::incidents
