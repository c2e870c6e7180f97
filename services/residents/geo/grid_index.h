#ifndef GRIDLOOP_SERVICES_RESIDENTS_GEO_GRID_INDEX_H_
#define GRIDLOOP_SERVICES_RESIDENTS_GEO_GRID_INDEX_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

class S2LatLng;
class S2Polygon;

namespace gridloop::residents::geo {

// A grid found for a point, and how far the answer reaches around it.
struct Located {
  std::string grid_code;
  // An S2 cell (its S2CellId::id()) around the point, every point of which has this same
  // answer from the time asked until `until`, as far as the versions held now tell; 0 when
  // the point is too near another grid's boundary for any cell to be clear of it.
  uint64_t cell_id = 0;
  absl::Time until = absl::InfinitePast();
};

// How far ahead an answer's cell is vouched for: boundary versions added later are
// unknown to it, so callers bound it further by how stale they may be.
inline constexpr absl::Duration kCellHorizon = absl::Hours(1);

// A point on the earth, WGS-84 degrees.
struct LatLng {
  double latitude = 0;   // -90..90
  double longitude = 0;  // -180..180
};

// One effective-dated version of a grid's boundary. A grid is redrawn by adding a new version
// and closing the old one, never by editing it, so that a past incident is still attributed
// to the grid that covered its location at the time.
struct Boundary {
  std::string grid_code;
  // Unique across all grids: the key Upsert and Remove act on.
  std::string version_id;
  // rings[0] is the outer ring, the others are holes. Either orientation is accepted, and
  // the closing point may or may not repeat the first.
  std::vector<std::vector<LatLng>> rings;
  // In force over [valid_from, valid_to).
  absl::Time valid_from = absl::InfinitePast();
  absl::Time valid_to = absl::InfiniteFuture();
};

// Limits on what a caller may send, so that one boundary cannot stall the index.
inline constexpr size_t kMaxRings = 64;
inline constexpr size_t kMaxBoundaryPoints = 20000;

// InvalidArgument naming the field ("region.boundary: ring 0 crosses itself") unless the
// boundary has a grid code and version id, rings of at least 3 distinct points in range
// that do not cross themselves or each other, holes inside the outer ring and apart from
// each other, and valid_from < valid_to.
absl::Status ValidateBoundary(const Boundary& boundary);

// The validated boundary as a polygon whose interior excludes its holes; errors as
// ValidateBoundary. A target that includes S2's headers needs the hidden visibility this
// directory's CMakeLists.txt sets, or sanitizer builds break inside libs2.
absl::StatusOr<std::unique_ptr<S2Polygon>> BuildPolygon(const Boundary& boundary);

// Finds the grid that covers a point at a given time.
//
// Each boundary version is covered by at most 16 S2 cells, none finer than level 20. A query
// probes the cells containing the point at the levels in use and tests only the versions
// listed there: a cell lying wholly inside a version's interior decides without a test;
// otherwise the version's bounding rectangle, then S2Polygon::Contains, decide exactly.
// Containment follows S2's semi-open model, so a point on an edge or vertex shared by
// neighbouring grids belongs to exactly one of them, whatever the order the grids were added
// in. That holds when neighbours share the vertices of their common edges exactly; edges
// that merely nearly coincide leave slivers of overlap or gap.
//
// One MutableS2ShapeIndex over every polygon would build a city faster, but answered half as
// fast, and applies each update lazily, under its own lock, on the next reader's time.
//
// Thread-safe. Queries share a reader lock; a writer validates and covers the new version
// before taking the lock, and holds it only to link or unlink a few cells.
class GridIndex {
 public:
  GridIndex();
  ~GridIndex();
  GridIndex(const GridIndex&) = delete;
  GridIndex& operator=(const GridIndex&) = delete;

  // Adds the boundary version, or replaces the one with the same version_id. Errors as
  // ValidateBoundary, leaving the index unchanged.
  absl::Status Upsert(const Boundary& boundary);

  // Removes a boundary version; unknown ids are ignored.
  void Remove(absl::string_view version_id);

  // The code of the grid whose version in force at `at` contains the point; nullopt if none
  // does or the coordinates are out of range. Where versions overlap (which only bad data
  // allows) the smallest grid code wins; LocateAll reveals the overlap.
  std::optional<std::string> Locate(double latitude, double longitude, absl::Time at) const;

  // As Locate, with a cell around the point that has the same answer: a caller may reuse
  // it for any point of the cell until `until` (at most kCellHorizon after `at`). The cell
  // lies wholly inside the grid found, clear of every other version in force at `at`, and
  // `until` comes before any version touching it starts or ends.
  std::optional<Located> LocateCell(double latitude, double longitude, absl::Time at) const;

  // Every grid whose version in force at `at` contains the point, sorted and distinct.
  std::vector<std::string> LocateAll(double latitude, double longitude, absl::Time at) const;

  // The number of boundary versions held.
  size_t size() const;

 private:
  struct Version;

  // A version listed under a cell: `interior` when the cell lies wholly inside it.
  struct Candidate {
    uint32_t slot;
    bool interior;
  };

  // One past the finest S2 cell level.
  static constexpr int kLevels = 31;

  // Appends to `out` the versions listed under the cells that contain the leaf cell
  // `leaf_id`: those in force at `at`, or every one with `at` unset.
  void CandidatesLocked(uint64_t leaf_id, std::optional<absl::Time> at,
                        absl::InlinedVector<Candidate, 8>* out) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  // Of the candidates in force, the version that contains the point (the smallest code
  // where they overlap); null when none does.
  const Version* BestLocked(const absl::InlinedVector<Candidate, 8>& candidates,
                            const S2LatLng& lat_lng) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  void LinkLocked(uint32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::unique_ptr<Version> UnlinkLocked(uint32_t slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  // Owns the versions; a slot number names a version in `cells_`. Freed slots are null and
  // reused.
  std::vector<std::unique_ptr<Version>> slots_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> free_slots_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint32_t> slot_by_version_ ABSL_GUARDED_BY(mu_);
  // Cell id -> the versions whose covering holds that cell.
  absl::flat_hash_map<uint64_t, absl::InlinedVector<Candidate, 2>> cells_ ABSL_GUARDED_BY(mu_);
  // How many entries `cells_` holds at each cell level: queries probe only the levels in use.
  std::array<uint32_t, kLevels> cells_per_level_ ABSL_GUARDED_BY(mu_) = {};
  uint32_t levels_in_use_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace gridloop::residents::geo

#endif  // GRIDLOOP_SERVICES_RESIDENTS_GEO_GRID_INDEX_H_
