#include "services/residents/geo/grid_index.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "s2/s2cell.h"
#include "s2/s2cell_id.h"
#include "s2/s2error.h"
#include "s2/s2latlng.h"
#include "s2/s2latlng_rect.h"
#include "s2/s2loop.h"
#include "s2/s2polygon.h"
#include "s2/s2region_coverer.h"

namespace gridloop::residents::geo {
namespace {

// S2's mean earth radius, to turn steradians into square metres.
constexpr double kEarthRadiusMeters = 6371010.0;

// A ring enclosing less than this is a line or a point drawn as a ring.
constexpr double kMinRingAreaSquareMeters = 1.0;

// Widens a polygon's bounding rectangle far beyond rounding error (~6 mm) yet far below any
// grid's size, so that testing it first never turns away a point the polygon contains.
constexpr double kBoundMarginRadians = 1e-9;

// A grid of ~300 m gets cells of ~150-600 m (levels 14-16). No minimum level: one would
// override the cell limit, and a boundary as large as a hemisphere would need millions of
// cells. Level 20 (~10 m) bounds how finely a tiny grid is covered.
constexpr int kMaxCoveringCells = 16;
constexpr int kMaxCoveringLevel = 20;

// The finest cell an answer comes with (~1 m): a point nearer a boundary than that has no
// cell, and is asked about again.
constexpr int kFinestAnswerCell = 24;

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

absl::Status InvalidRing(size_t ring, absl::string_view why) {
  return Invalid("region.boundary", absl::StrCat("ring ", ring, " ", why));
}

absl::Status CheckFields(const Boundary& boundary) {
  if (boundary.grid_code.empty()) return Invalid("region.grid_code", "required");
  if (boundary.version_id.empty()) return Invalid("region.version_id", "required");
  if (!(boundary.valid_from < boundary.valid_to)) {
    return Invalid("region.valid_to", "must be after valid_from");
  }
  if (boundary.rings.empty()) return Invalid("region.boundary", "required");
  if (boundary.rings.size() > kMaxRings) {
    return Invalid("region.boundary", absl::StrCat("at most ", kMaxRings, " rings"));
  }
  size_t points = 0;
  for (const std::vector<LatLng>& ring : boundary.rings) points += ring.size();
  if (points > kMaxBoundaryPoints) {
    return Invalid("region.boundary", absl::StrCat("at most ", kMaxBoundaryPoints, " points"));
  }
  return absl::OkStatus();
}

// Exact equality: two coordinates that convert to the same point are one vertex.
bool SamePoint(const S2Point& a, const S2Point& b) {
  return a.x() == b.x() && a.y() == b.y() && a.z() == b.z();
}

// A ring as a normalized (at most a hemisphere) loop: its interior is the smaller side,
// whichever way the ring was drawn.
absl::StatusOr<std::unique_ptr<S2Loop>> BuildLoop(size_t index, const std::vector<LatLng>& ring) {
  std::vector<S2Point> points;
  points.reserve(ring.size());
  for (size_t j = 0; j < ring.size(); ++j) {
    const LatLng& p = ring[j];
    if (!(p.latitude >= -90 && p.latitude <= 90)) {
      return InvalidRing(index,
                         absl::StrCat("point ", j, ": latitude ", p.latitude, " not in [-90, 90]"));
    }
    if (!(p.longitude >= -180 && p.longitude <= 180)) {
      return InvalidRing(
          index, absl::StrCat("point ", j, ": longitude ", p.longitude, " not in [-180, 180]"));
    }
    const S2Point point = S2LatLng::FromDegrees(p.latitude, p.longitude).ToPoint();
    // A repeated point adds no edge; the closing point is the common case.
    if (points.empty() || !SamePoint(points.back(), point)) points.push_back(point);
  }
  while (points.size() > 1 && SamePoint(points.back(), points.front())) points.pop_back();
  if (points.size() < 3) return InvalidRing(index, "needs at least 3 distinct points");

  auto loop = std::make_unique<S2Loop>(points, S2Debug::DISABLE);
  S2Error error;
  if (loop->FindValidationError(&error)) {
    switch (error.code()) {
      case S2Error::LOOP_SELF_INTERSECTION:
        return InvalidRing(index, "crosses itself");
      case S2Error::DUPLICATE_VERTICES:
        return InvalidRing(index, "passes through the same point twice");
      default:
        return InvalidRing(index, absl::StrCat("is not a simple ring (", error.text(), ")"));
    }
  }
  loop->Normalize();
  if (loop->GetArea() * kEarthRadiusMeters * kEarthRadiusMeters < kMinRingAreaSquareMeters) {
    return InvalidRing(index, "encloses no area");
  }
  return loop;
}

}  // namespace

absl::StatusOr<std::unique_ptr<S2Polygon>> BuildPolygon(const Boundary& boundary) {
  RETURN_IF_ERROR(CheckFields(boundary));
  std::vector<std::unique_ptr<S2Loop>> loops;
  loops.reserve(boundary.rings.size());
  for (size_t i = 0; i < boundary.rings.size(); ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<S2Loop> loop, BuildLoop(i, boundary.rings[i]));
    loops.push_back(std::move(loop));
  }
  // S2Polygon would take a hole inside a hole for an island, and a "hole" outside the outer
  // ring for a second shell; a grid has neither.
  for (size_t i = 1; i < loops.size(); ++i) {
    if (!loops[0]->Contains(*loops[i])) return InvalidRing(i, "(a hole) is not inside ring 0");
    for (size_t j = 1; j < i; ++j) {
      if (loops[j]->Intersects(*loops[i])) {
        return Invalid("region.boundary", absl::StrCat("holes ", j, " and ", i, " overlap"));
      }
    }
  }
  auto polygon = std::make_unique<S2Polygon>(std::move(loops), S2Debug::DISABLE);
  S2Error error;
  if (polygon->FindValidationError(&error)) {
    switch (error.code()) {
      case S2Error::POLYGON_LOOPS_SHARE_EDGE:
        return Invalid("region.boundary", "a hole shares an edge with another ring");
      case S2Error::POLYGON_LOOPS_CROSS:
        return Invalid("region.boundary", "a hole crosses another ring");
      default:
        return Invalid("region.boundary", absl::StrCat("not a valid polygon (", error.text(), ")"));
    }
  }
  return polygon;
}

absl::Status ValidateBoundary(const Boundary& boundary) { return BuildPolygon(boundary).status(); }

struct GridIndex::Version {
  struct CoverCell {
    S2CellId id;
    bool interior;
  };

  std::string grid_code;
  std::string version_id;
  absl::Time valid_from;
  absl::Time valid_to;
  std::unique_ptr<S2Polygon> polygon;
  // A cheap first test: most candidates that fail it are neighbours of the grid found.
  S2LatLngRect bound;
  std::vector<CoverCell> cover;

  bool MayContain(const S2LatLng& point) const { return bound.Contains(point); }

  bool InForceAt(absl::Time at) const { return valid_from <= at && at < valid_to; }
};

GridIndex::GridIndex() = default;
GridIndex::~GridIndex() = default;

absl::Status GridIndex::Upsert(const Boundary& boundary) {
  ASSIGN_OR_RETURN(std::unique_ptr<S2Polygon> polygon, BuildPolygon(boundary));
  auto version = std::make_unique<Version>();
  version->grid_code = boundary.grid_code;
  version->version_id = boundary.version_id;
  version->valid_from = boundary.valid_from;
  version->valid_to = boundary.valid_to;
  version->bound = polygon->GetRectBound().Expanded(
      S2LatLng::FromRadians(kBoundMarginRadians, kBoundMarginRadians));

  S2RegionCoverer::Options options;
  options.set_max_cells(kMaxCoveringCells);
  options.set_max_level(kMaxCoveringLevel);
  S2RegionCoverer coverer(options);
  std::vector<S2CellId> covering;
  coverer.GetCovering(*polygon, &covering);
  version->cover.reserve(covering.size());
  for (S2CellId id : covering) {
    // Contains(S2Cell) holds only when no edge comes near the cell, so a point in such a cell
    // is inside by any rule, the semi-open one included.
    version->cover.push_back({id, polygon->Contains(S2Cell(id))});
  }
  // Readers must find the polygon's edge index built: S2 would otherwise build it lazily,
  // under a lock of its own, on a reader's time. (Covering has built it already.)
  polygon->index().ForceBuild();
  version->polygon = std::move(polygon);

  std::unique_ptr<Version> replaced;  // Destroyed after the lock is released.
  absl::MutexLock lock(&mu_);
  if (auto it = slot_by_version_.find(boundary.version_id); it != slot_by_version_.end()) {
    replaced = UnlinkLocked(it->second);
  }
  uint32_t slot = 0;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else if (slots_.size() < std::numeric_limits<uint32_t>::max()) {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    return absl::ResourceExhaustedError("grid index is full");
  }
  slots_[slot] = std::move(version);
  LinkLocked(slot);
  return absl::OkStatus();
}

void GridIndex::Remove(absl::string_view version_id) {
  std::unique_ptr<Version> removed;  // Destroyed after the lock is released.
  absl::MutexLock lock(&mu_);
  if (auto it = slot_by_version_.find(version_id); it != slot_by_version_.end()) {
    removed = UnlinkLocked(it->second);
  }
}

void GridIndex::LinkLocked(uint32_t slot) {
  const Version& version = *slots_[slot];
  slot_by_version_[version.version_id] = slot;
  for (const Version::CoverCell& cell : version.cover) {
    cells_[cell.id.id()].push_back({slot, cell.interior});
    const int level = cell.id.level();
    if (cells_per_level_[level]++ == 0) levels_in_use_ |= uint32_t{1} << level;
  }
}

std::unique_ptr<GridIndex::Version> GridIndex::UnlinkLocked(uint32_t slot) {
  std::unique_ptr<Version> version = std::move(slots_[slot]);
  for (const Version::CoverCell& cell : version->cover) {
    auto it = cells_.find(cell.id.id());
    auto& candidates = it->second;
    candidates.erase(std::find_if(candidates.begin(), candidates.end(),
                                  [slot](const Candidate& c) { return c.slot == slot; }));
    if (candidates.empty()) cells_.erase(it);
    const int level = cell.id.level();
    if (--cells_per_level_[level] == 0) levels_in_use_ &= ~(uint32_t{1} << level);
  }
  slot_by_version_.erase(version->version_id);
  free_slots_.push_back(slot);
  return version;
}

void GridIndex::CandidatesLocked(uint64_t leaf_id, std::optional<absl::Time> at,
                                 absl::InlinedVector<Candidate, 8>* out) const {
  const S2CellId leaf(leaf_id);
  // The probes miss the cache in a city-sized map; issuing them all before reading any lets
  // the misses overlap.
  std::array<uint64_t, kLevels> ids;
  size_t probes = 0;
  for (uint32_t levels = levels_in_use_; levels != 0; levels &= levels - 1) {
    ids[probes] = leaf.parent(std::countr_zero(levels)).id();
    cells_.prefetch(ids[probes++]);
  }
  // A covering never holds a cell and its ancestor, so no version is found twice.
  for (size_t i = 0; i < probes; ++i) {
    auto it = cells_.find(ids[i]);
    if (it == cells_.end()) continue;
    for (const Candidate& candidate : it->second) {
      if (!at.has_value() || slots_[candidate.slot]->InForceAt(*at)) out->push_back(candidate);
    }
  }
}

namespace {

bool InRange(double latitude, double longitude) {
  return latitude >= -90 && latitude <= 90 && longitude >= -180 && longitude <= 180;
}

}  // namespace

const GridIndex::Version* GridIndex::BestLocked(const absl::InlinedVector<Candidate, 8>& candidates,
                                                const S2LatLng& lat_lng) const {
  // Cells inside a version decide without a test; a polygon is tested only if its code
  // could still beat the best found.
  const Version* best = nullptr;
  for (const Candidate& candidate : candidates) {
    const Version* version = slots_[candidate.slot].get();
    if (candidate.interior && (best == nullptr || version->grid_code < best->grid_code)) {
      best = version;
    }
  }
  const S2Point point = lat_lng.ToPoint();
  for (const Candidate& candidate : candidates) {
    const Version* version = slots_[candidate.slot].get();
    if (!candidate.interior && (best == nullptr || version->grid_code < best->grid_code) &&
        version->MayContain(lat_lng) && version->polygon->Contains(point)) {
      best = version;
    }
  }
  return best;
}

std::optional<std::string> GridIndex::Locate(double latitude, double longitude,
                                             absl::Time at) const {
  if (!InRange(latitude, longitude)) return std::nullopt;
  const S2LatLng lat_lng = S2LatLng::FromDegrees(latitude, longitude);
  absl::InlinedVector<Candidate, 8> candidates;
  absl::ReaderMutexLock lock(&mu_);
  CandidatesLocked(S2CellId(lat_lng).id(), at, &candidates);
  const Version* best = BestLocked(candidates, lat_lng);
  if (best == nullptr) return std::nullopt;
  return best->grid_code;
}

std::optional<Located> GridIndex::LocateCell(double latitude, double longitude,
                                             absl::Time at) const {
  if (!InRange(latitude, longitude)) return std::nullopt;
  const S2LatLng lat_lng = S2LatLng::FromDegrees(latitude, longitude);
  const S2CellId leaf(lat_lng);
  // Every version listed at the point, whenever in force; the answer is among those in
  // force at `at`.
  absl::InlinedVector<Candidate, 8> listed;
  absl::ReaderMutexLock lock(&mu_);
  CandidatesLocked(leaf.id(), std::nullopt, &listed);
  absl::InlinedVector<Candidate, 8> candidates;
  for (const Candidate& candidate : listed) {
    if (slots_[candidate.slot]->InForceAt(at)) candidates.push_back(candidate);
  }
  const Version* best = BestLocked(candidates, lat_lng);
  if (best == nullptr) return std::nullopt;
  Located found{best->grid_code, 0, std::min(best->valid_to, at + kCellHorizon)};

  // Of the others, one that comes into force before `until` ends the answer there; those
  // in force now must keep off the cell.
  absl::InlinedVector<const Version*, 8> neighbours;
  for (const Candidate& candidate : listed) {
    const Version* version = slots_[candidate.slot].get();
    if (version == best || version->valid_to <= at || version->valid_from >= found.until) {
      continue;
    }
    if (version->valid_from > at) {
      found.until = version->valid_from;
    } else {
      neighbours.push_back(version);
    }
  }
  // No coarser cell than the finest covering level: a covering cell that touches a cell
  // at least that fine contains it, so it is listed at the point and seen above.
  const int finest_in_use = static_cast<int>(std::bit_width(levels_in_use_)) - 1;
  for (int level = finest_in_use; level <= kFinestAnswerCell; ++level) {
    const S2Cell cell(leaf.parent(level));
    if (!best->polygon->Contains(cell)) continue;
    const bool clear = std::none_of(neighbours.begin(), neighbours.end(), [&](const Version* v) {
      return v->polygon->MayIntersect(cell);
    });
    if (clear) {
      found.cell_id = cell.id().id();
      break;
    }
  }
  return found;
}

std::vector<std::string> GridIndex::LocateAll(double latitude, double longitude,
                                              absl::Time at) const {
  std::vector<std::string> codes;
  if (!InRange(latitude, longitude)) return codes;
  const S2LatLng lat_lng = S2LatLng::FromDegrees(latitude, longitude);
  const S2Point point = lat_lng.ToPoint();
  absl::InlinedVector<Candidate, 8> candidates;
  {
    absl::ReaderMutexLock lock(&mu_);
    CandidatesLocked(S2CellId(point).id(), at, &candidates);
    for (const Candidate& candidate : candidates) {
      const Version& version = *slots_[candidate.slot];
      if (candidate.interior || (version.MayContain(lat_lng) && version.polygon->Contains(point))) {
        codes.push_back(version.grid_code);
      }
    }
  }
  std::sort(codes.begin(), codes.end());
  codes.erase(std::unique(codes.begin(), codes.end()), codes.end());
  return codes;
}

size_t GridIndex::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return slot_by_version_.size();
}

}  // namespace gridloop::residents::geo
