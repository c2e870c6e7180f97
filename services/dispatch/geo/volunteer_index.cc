#include "services/dispatch/geo/volunteer_index.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "s2/s1angle.h"
#include "s2/s1chord_angle.h"
#include "s2/s2cap.h"
#include "s2/s2cell_id.h"
#include "s2/s2latlng.h"
#include "s2/s2point.h"
#include "s2/s2region_coverer.h"

namespace gridloop::dispatch {
namespace {

// S2's mean earth radius, as the residents service uses.
constexpr double kEarthRadiusMeters = 6371010.0;
// Half the earth's circumference: no two points are farther apart.
constexpr double kMaxDistanceMeters = std::numbers::pi * kEarthRadiusMeters;

// A city has hundreds of volunteers per square kilometre, so the first cap usually holds
// enough and the doubling is for the outskirts.
constexpr double kFirstRadiusMeters = 500;

// More cells hug the cap more tightly (fewer volunteers scanned and rejected) but cost the
// coverer more work and one ordered-set seek each. With 1,000,000 volunteers over a city,
// 4 to 8 cells cost about the same and 2, or 16, clearly more; 6 leaves room for districts
// denser than the benchmark's, where a tighter covering pays.
constexpr int kMaxCoveringCells = 6;

bool ValidLocation(double latitude, double longitude) {
  // Written so that NaN fails.
  return latitude >= -90 && latitude <= 90 && longitude >= -180 && longitude <= 180;
}

S2Point ToPoint(double latitude, double longitude) {
  return S2LatLng::FromDegrees(latitude, longitude).ToPoint();
}

S1ChordAngle ChordOf(double meters) {
  return S1ChordAngle(S1Angle::Radians(meters / kEarthRadiusMeters));
}

double MetersOf(S1ChordAngle angle) { return angle.ToAngle().radians() * kEarthRadiusMeters; }

// A volunteer in the ordered set. The skills and the point ride along so that a query
// filters without touching the volunteer's record, which lies elsewhere in memory.
struct CellEntry {
  uint64_t cell = 0;  // leaf S2CellId
  uint32_t slot = 0;
  SkillSet skills = 0;
  S2Point point;
};

// By cell, so that the volunteers inside any S2 cell form one contiguous range; by slot
// within a cell, since two volunteers may share a leaf cell (about a square centimetre).
struct CellOrder {
  bool operator()(const CellEntry& a, const CellEntry& b) const {
    return a.cell != b.cell ? a.cell < b.cell : a.slot < b.slot;
  }
};

using CellSet = absl::btree_set<CellEntry, CellOrder>;

// An entry with only the fields CellOrder reads, to find or erase one.
CellEntry KeyOf(uint64_t cell, uint32_t slot) {
  CellEntry key;
  key.cell = cell;
  key.slot = slot;
  return key;
}

}  // namespace

class VolunteerIndex::Impl {
 public:
  void Upsert(IndexedVolunteer v) {
    if (!v.active || !ValidLocation(v.latitude, v.longitude)) {
      Remove(v.id);
      return;
    }
    const S2Point point = ToPoint(v.latitude, v.longitude);
    const uint64_t cell = S2CellId(point).id();
    IndexedVolunteer replaced;  // Destroyed after the lock is released.
    absl::MutexLock lock(&mu_);
    uint32_t slot = 0;
    if (auto it = slot_by_id_.find(v.id); it != slot_by_id_.end()) {
      slot = it->second;
      cells_.erase(KeyOf(slots_[slot].cell, slot));
      replaced = std::move(slots_[slot].volunteer);
    } else {
      slot = AllocateSlotLocked();
      slot_by_id_.emplace(v.id, slot);
    }
    cells_.insert(CellEntry{cell, slot, v.skills, point});
    slots_[slot] = Slot{std::move(v), cell};
  }

  void Remove(absl::string_view id) {
    IndexedVolunteer removed;  // Destroyed after the lock is released.
    absl::MutexLock lock(&mu_);
    auto it = slot_by_id_.find(id);
    if (it == slot_by_id_.end()) return;
    const uint32_t slot = it->second;
    slot_by_id_.erase(it);
    cells_.erase(KeyOf(slots_[slot].cell, slot));
    removed = std::move(slots_[slot].volunteer);
    slots_[slot] = Slot{};
    free_slots_.push_back(slot);
  }

  void Reset(std::vector<IndexedVolunteer> all) {
    // Built aside and swapped in, so readers wait only for the swap.
    std::vector<Slot> slots;
    slots.reserve(all.size());
    absl::flat_hash_map<std::string, uint32_t> slot_by_id;
    slot_by_id.reserve(all.size());
    std::vector<CellEntry> entries;
    entries.reserve(all.size());
    // From the last record back, so that the first seen of an id is the one that counts,
    // as it would after Upserts in order, even when it retires the volunteer.
    absl::flat_hash_set<absl::string_view> retired;  // views into `all`, never moved from
    for (size_t i = all.size(); i-- > 0;) {
      IndexedVolunteer& v = all[i];
      if (slot_by_id.contains(v.id) || retired.contains(v.id)) continue;
      if (!v.active || !ValidLocation(v.latitude, v.longitude)) {
        retired.insert(v.id);
        continue;
      }
      const S2Point point = ToPoint(v.latitude, v.longitude);
      const uint64_t cell = S2CellId(point).id();
      const auto slot = static_cast<uint32_t>(slots.size());
      slot_by_id.emplace(v.id, slot);
      entries.push_back({cell, slot, v.skills, point});
      slots.push_back(Slot{std::move(v), cell});
    }
    // Sorted input lets the set append each entry at its end instead of searching.
    std::sort(entries.begin(), entries.end(), CellOrder());
    CellSet cells(entries.begin(), entries.end());
    std::vector<uint32_t> free_slots;

    absl::MutexLock lock(&mu_);
    slots_.swap(slots);
    slot_by_id_.swap(slot_by_id);
    cells_.swap(cells);
    free_slots_.swap(free_slots);
    // The old content, now in the locals, is destroyed after the lock is released.
  }

  size_t size() const {
    absl::ReaderMutexLock lock(&mu_);
    return slot_by_id_.size();
  }

  std::vector<IndexedVolunteer> Nearest(const NearbyQuery& query,
                                        std::vector<double>* distances_m) const {
    std::vector<IndexedVolunteer> result;
    if (distances_m != nullptr) distances_m->clear();
    if (query.limit <= 0 || !ValidLocation(query.latitude, query.longitude) ||
        !(query.max_distance_m >= 0)) {
      return result;
    }
    const auto limit = static_cast<size_t>(query.limit);
    const double max_m = std::min(query.max_distance_m, kMaxDistanceMeters);
    const S2Point center = ToPoint(query.latitude, query.longitude);

    S2RegionCoverer::Options options;
    options.set_max_cells(kMaxCoveringCells);
    S2RegionCoverer coverer(options);
    std::vector<S2CellId> covering;
    std::vector<Found> found;

    absl::ReaderMutexLock lock(&mu_);
    for (double radius_m = std::min(kFirstRadiusMeters, max_m);;
         radius_m = std::min(2 * radius_m, max_m)) {
      // Each round rescans what the last one did: each covers four times the area of the
      // one before, so the repeats add at most a third, and a city seldom needs a second.
      found.clear();
      const S1ChordAngle radius = ChordOf(radius_m);
      coverer.GetCovering(S2Cap(center, radius), &covering);
      for (const S2CellId& cell : covering) {
        ScanLocked(cell, center, radius, query.skills_any, &found);
      }
      // Everyone within the radius has been seen, so once `limit` are inside it no one
      // farther out can be among the nearest `limit`.
      if (found.size() >= limit || radius_m >= max_m) break;
    }

    // Only the nearest `count` need ordering: select them, then sort just those.
    const size_t count = std::min(limit, found.size());
    auto nearer = [this](const Found& a, const Found& b) ABSL_NO_THREAD_SAFETY_ANALYSIS {
      if (a.length2 != b.length2) return a.length2 < b.length2;
      return slots_[a.slot].volunteer.id < slots_[b.slot].volunteer.id;
    };
    const auto cut = found.begin() + static_cast<ptrdiff_t>(count);
    if (cut != found.end()) std::nth_element(found.begin(), cut, found.end(), nearer);
    std::sort(found.begin(), cut, nearer);
    // The records lie scattered over a large array, and each one's availability elsewhere
    // again: asking for them all before copying any lets the cache misses overlap (about a
    // tenth of a query's time with 1,000,000 volunteers).
    for (size_t i = 0; i < count; ++i) __builtin_prefetch(&slots_[found[i].slot]);
    for (size_t i = 0; i < count; ++i) {
      __builtin_prefetch(slots_[found[i].slot].volunteer.availability.data());
    }
    result.reserve(count);
    if (distances_m != nullptr) distances_m->reserve(count);
    for (size_t i = 0; i < count; ++i) {
      result.push_back(slots_[found[i].slot].volunteer);
      if (distances_m != nullptr) {
        distances_m->push_back(MetersOf(S1ChordAngle::FromLength2(found[i].length2)));
      }
    }
    return result;
  }

 private:
  struct Slot {
    IndexedVolunteer volunteer;
    uint64_t cell = 0;  // where its entry in `cells_` is filed
  };

  // A volunteer within the radius: the squared chord orders like the distance and costs no
  // trigonometry.
  struct Found {
    double length2;
    uint32_t slot;
  };

  uint32_t AllocateSlotLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!free_slots_.empty()) {
      const uint32_t slot = free_slots_.back();
      free_slots_.pop_back();
      return slot;
    }
    slots_.emplace_back();
    return static_cast<uint32_t>(slots_.size() - 1);
  }

  // Appends the volunteers in `cell` within `radius` of `center` having one of
  // `skills_any` (any, if 0).
  void ScanLocked(S2CellId cell, const S2Point& center, S1ChordAngle radius, SkillSet skills_any,
                  std::vector<Found>* found) const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    const uint64_t last = cell.range_max().id();
    for (auto it = cells_.lower_bound(KeyOf(cell.range_min().id(), 0));
         it != cells_.end() && it->cell <= last; ++it) {
      if (skills_any != 0 && (it->skills & skills_any) == 0) continue;
      const S1ChordAngle distance(center, it->point);
      if (distance <= radius) found->push_back({distance.length2(), it->slot});
    }
  }

  mutable absl::Mutex mu_;
  // A slot number names a volunteer in `cells_`. Removed volunteers leave empty slots for
  // reuse.
  std::vector<Slot> slots_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> free_slots_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint32_t> slot_by_id_ ABSL_GUARDED_BY(mu_);
  CellSet cells_ ABSL_GUARDED_BY(mu_);
};

VolunteerIndex::VolunteerIndex() : impl_(std::make_unique<Impl>()) {}
VolunteerIndex::~VolunteerIndex() = default;

void VolunteerIndex::Upsert(IndexedVolunteer v) { impl_->Upsert(std::move(v)); }
void VolunteerIndex::Remove(absl::string_view id) { impl_->Remove(id); }
void VolunteerIndex::Reset(std::vector<IndexedVolunteer> all) { impl_->Reset(std::move(all)); }
size_t VolunteerIndex::size() const { return impl_->size(); }

std::vector<IndexedVolunteer> VolunteerIndex::Nearest(const NearbyQuery& query,
                                                      std::vector<double>* distances_m) const {
  return impl_->Nearest(query, distances_m);
}

double DistanceMeters(double lat1, double lng1, double lat2, double lng2) {
  // The same measure Nearest uses, so that its distances and this agree exactly.
  return MetersOf(S1ChordAngle(ToPoint(lat1, lng1), ToPoint(lat2, lng2)));
}

}  // namespace gridloop::dispatch
