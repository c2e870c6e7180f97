// Locate throughput of GridIndex over a city of 100,000 grids, and a linear scan over 1,000
// grids as the baseline that the index replaces.
//
// The city is a tessellation of irregular polygons of ~300 m around 30.27N 120.15E: a brick
// pattern of hexagons (each row shifted half a cell) whose corners are jittered, and whose
// edges gain a jittered midpoint half the time, giving 6-12 vertices. Neighbours share their
// edges exactly, as real grid boundaries do.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <numbers>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "s2/s2latlng.h"
#include "s2/s2polygon.h"
#include "services/residents/geo/grid_index.h"

namespace gridloop::residents::geo {
namespace {

constexpr int kColumns = 400;
constexpr int kRows = 250;
constexpr int64_t kCityGrids = int64_t{kRows} * kColumns;
// The corner of the city that the linear scan, and the index beside it, are given.
constexpr int kSmallRows = 25;
constexpr int kSmallColumns = 40;
constexpr int64_t kSmallGrids = int64_t{kSmallRows} * kSmallColumns;
constexpr double kHalfCellMeters = 150;  // a cell is two half-cells wide
constexpr double kRowMeters = 260;
constexpr double kCornerJitterMeters = 35;
constexpr double kMidpointJitterMeters = 20;
constexpr double kCenterLat = 30.27;
constexpr double kCenterLng = 120.15;
constexpr double kMetersPerDegreeLat = 111320;

const double kMetersPerDegreeLng =
    kMetersPerDegreeLat * std::cos(kCenterLat * std::numbers::pi / 180);
const double kSouth = kCenterLat - kRows * kRowMeters / 2 / kMetersPerDegreeLat;
const double kWest = kCenterLng - (2 * kColumns + 1) * kHalfCellMeters / 2 / kMetersPerDegreeLng;

const absl::Time kNow = absl::FromUnixSeconds(1764547200);

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

// A deterministic value in [-1, 1) for a lattice feature.
double Jitter(int64_t x, int64_t y, uint64_t salt) {
  const uint64_t h = Mix(Mix(Mix(salt) ^ static_cast<uint64_t>(x)) ^ static_cast<uint64_t>(y));
  return static_cast<double>(h >> 11) / static_cast<double>(uint64_t{1} << 52) - 1;
}

struct Meters {
  double east;
  double north;
};

// Lattice corner (x half-cells east, y rows north).
Meters Corner(int x, int y) {
  return {x * kHalfCellMeters + kCornerJitterMeters * Jitter(x, y, 1),
          y * kRowMeters + kCornerJitterMeters * Jitter(x, y, 2)};
}

LatLng ToLatLng(Meters m) {
  return {kSouth + m.north / kMetersPerDegreeLat, kWest + m.east / kMetersPerDegreeLng};
}

// Appends the corner `from`, then the midpoint of the edge to `to` if that edge has one. The
// midpoint depends on the edge, not the direction it is walked in, so neighbours agree.
void AddEdge(int fx, int fy, int tx, int ty, std::vector<LatLng>* ring) {
  const Meters from = Corner(fx, fy);
  ring->push_back(ToLatLng(from));
  const bool horizontal = fy == ty;
  const int kx = std::min(fx, tx);
  const int ky = std::min(fy, ty);
  const uint64_t salt = horizontal ? 3 : 4;
  if (Jitter(kx, ky, salt) < 0) return;
  const Meters a = Corner(kx, ky);
  const Meters b = Corner(horizontal ? kx + 1 : kx, horizontal ? ky : ky + 1);
  const double offset = kMidpointJitterMeters * Jitter(kx, ky, salt + 2);
  // Pushed sideways, across the edge.
  ring->push_back(ToLatLng({(a.east + b.east) / 2 + (horizontal ? 0 : offset),
                            (a.north + b.north) / 2 + (horizontal ? offset : 0)}));
}

Boundary Cell(int row, int col) {
  const int x0 = 2 * col + (row & 1);
  Boundary b;
  b.grid_code = absl::StrFormat("330106-%03d-%03d", row, col);
  b.version_id = b.grid_code + "@1";
  std::vector<LatLng>& ring = b.rings.emplace_back();
  AddEdge(x0, row, x0 + 1, row, &ring);
  AddEdge(x0 + 1, row, x0 + 2, row, &ring);
  AddEdge(x0 + 2, row, x0 + 2, row + 1, &ring);
  AddEdge(x0 + 2, row + 1, x0 + 1, row + 1, &ring);
  AddEdge(x0 + 1, row + 1, x0, row + 1, &ring);
  AddEdge(x0, row + 1, x0, row, &ring);
  return b;
}

// The grids in the first `rows` x `cols` cells.
std::vector<Boundary> City(int rows, int cols) {
  std::vector<Boundary> grids;
  grids.reserve(static_cast<size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) grids.push_back(Cell(r, c));
  }
  return grids;
}

// Random points well inside the first `rows` x `cols` cells, clear of the ragged border.
std::vector<LatLng> Points(int rows, int cols) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> north(kRowMeters, (rows - 1) * kRowMeters);
  std::uniform_real_distribution<double> east(3 * kHalfCellMeters,
                                              (2 * cols - 2) * kHalfCellMeters);
  std::vector<LatLng> points(1 << 16);
  for (LatLng& p : points) p = ToLatLng({east(rng), north(rng)});
  return points;
}

struct Fixture {
  explicit Fixture(int rows, int cols) : points(Points(rows, cols)) {
    for (const Boundary& b : City(rows, cols)) {
      if (!index.Upsert(b).ok()) std::abort();
    }
  }
  GridIndex index;
  std::vector<LatLng> points;
};

// Built on first use and kept for the process: a city takes seconds to index.
Fixture& FixtureFor(int64_t grids) {
  if (grids == kSmallGrids) {
    static auto* const small = new Fixture(kSmallRows, kSmallColumns);
    return *small;
  }
  static auto* const city = new Fixture(kRows, kColumns);
  return *city;
}

void IndexLocate(benchmark::State& state) {
  const Fixture& fixture = FixtureFor(state.range(0));
  size_t i = static_cast<size_t>(state.thread_index()) * 7919;
  int64_t found = 0;
  for (auto _ : state) {
    const LatLng& p = fixture.points[i++ & (fixture.points.size() - 1)];
    const std::optional<std::string> grid = fixture.index.Locate(p.latitude, p.longitude, kNow);
    found += grid.has_value();
    benchmark::DoNotOptimize(grid);
  }
  if (found != state.iterations()) state.SkipWithError("a point inside the city found no grid");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(IndexLocate)->Arg(kSmallGrids)->Arg(kCityGrids)->UseRealTime()->Threads(1)->Threads(2);

// What LocateGrid answers with: the grid and a cell around the point with the same answer.
void IndexLocateCell(benchmark::State& state) {
  const Fixture& fixture = FixtureFor(state.range(0));
  size_t i = 0;
  int64_t with_cell = 0;
  for (auto _ : state) {
    const LatLng& p = fixture.points[i++ & (fixture.points.size() - 1)];
    const std::optional<Located> found = fixture.index.LocateCell(p.latitude, p.longitude, kNow);
    if (!found.has_value()) {
      state.SkipWithError("a point inside the city found no grid");
      break;
    }
    with_cell += found->cell_id != 0;
    benchmark::DoNotOptimize(found);
  }
  state.counters["with_cell"] = static_cast<double>(with_cell) /
                                static_cast<double>(std::max<int64_t>(1, state.iterations()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(IndexLocateCell)->Arg(kSmallGrids)->Arg(kCityGrids)->UseRealTime();

// The baseline: every polygon tested, as a table scan would.
void LinearScanLocate(benchmark::State& state) {
  const std::vector<Boundary> grids = City(kSmallRows, kSmallColumns);
  std::vector<std::unique_ptr<S2Polygon>> polygons;
  polygons.reserve(grids.size());
  for (const Boundary& b : grids) {
    absl::StatusOr<std::unique_ptr<S2Polygon>> polygon = BuildPolygon(b);
    if (!polygon.ok()) {
      state.SkipWithError("invalid grid");
      return;
    }
    polygons.push_back(*std::move(polygon));
  }
  std::vector<S2Point> points;
  for (const LatLng& p : Points(kSmallRows, kSmallColumns)) {
    points.push_back(S2LatLng::FromDegrees(p.latitude, p.longitude).ToPoint());
  }
  size_t i = 0;
  int64_t found = 0;
  for (auto _ : state) {
    const S2Point& p = points[i++ & (points.size() - 1)];
    for (const auto& polygon : polygons) found += polygon->Contains(p);
  }
  if (found != state.iterations()) state.SkipWithError("expected exactly one grid per point");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(LinearScanLocate)->Arg(kSmallGrids)->UseRealTime();

// Indexing a whole city from scratch: what a restart costs.
void IndexBuild(benchmark::State& state) {
  const std::vector<Boundary> grids = City(kRows, kColumns);
  for (auto _ : state) {
    auto index = std::make_unique<GridIndex>();
    for (const Boundary& b : grids) {
      if (!index->Upsert(b).ok()) state.SkipWithError("invalid grid");
    }
    state.PauseTiming();
    index.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(grids.size()));
}
BENCHMARK(IndexBuild)->Arg(kCityGrids)->Unit(benchmark::kMillisecond)->Iterations(1);

// Redrawing one grid in a full city: validation and covering outside the lock, a short
// exclusive section inside.
void IndexUpsertOne(benchmark::State& state) {
  GridIndex& index = FixtureFor(kCityGrids).index;
  const Boundary original = Cell(kRows / 2, kColumns / 2);
  size_t i = 0;
  for (auto _ : state) {
    Boundary b = original;
    // Alternate between two shapes of the same version so every call really replaces.
    if (i++ % 2 == 1) b.rings[0].pop_back();
    if (!index.Upsert(b).ok()) state.SkipWithError("invalid grid");
  }
  if (!index.Upsert(original).ok()) state.SkipWithError("invalid grid");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(IndexUpsertOne)->Arg(kCityGrids);

}  // namespace
}  // namespace gridloop::residents::geo
