#include "services/residents/geo/grid_index.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "s2/s2cell.h"
#include "s2/s2cell_id.h"
#include "s2/s2latlng.h"
#include "s2/s2polygon.h"

namespace gridloop::residents::geo {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Optional;

// Fixed instants: the index never reads a clock.
const absl::Time kLastYear = absl::FromUnixSeconds(1700000000);  // 2023-11-14
const absl::Time kRedrawn = absl::FromUnixSeconds(1735689600);   // 2025-01-01
const absl::Time kNow = absl::FromUnixSeconds(1764547200);       // 2025-12-01

// The corner of the test area, in Hangzhou, and the side of a grid square in degrees
// (~1.1 km north-south, ~0.96 km east-west).
constexpr double kLat0 = 30.27;
constexpr double kLng0 = 120.15;
constexpr double kStep = 0.01;

std::vector<LatLng> SquareRing(double lat, double lng, double side) {
  return {{lat, lng}, {lat, lng + side}, {lat + side, lng + side}, {lat + side, lng}};
}

Boundary Square(std::string code, double lat, double lng, double side = kStep,
                absl::Time from = absl::InfinitePast(), absl::Time to = absl::InfiniteFuture()) {
  Boundary b;
  b.version_id = code + "@v1";
  b.grid_code = std::move(code);
  b.rings = {SquareRing(lat, lng, side)};
  b.valid_from = from;
  b.valid_to = to;
  return b;
}

std::string CellCode(int row, int col) { return absl::StrFormat("G%02d%02d", row, col); }

// Rows run north, columns east, from (kLat0, kLng0). Corners come from their lattice
// indices, so neighbours share their vertices bit for bit, as real boundaries must.
std::vector<Boundary> Tessellation(int rows, int cols) {
  auto corner = [](int r, int c) { return LatLng{kLat0 + r * kStep, kLng0 + c * kStep}; };
  std::vector<Boundary> grids;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      Boundary b = Square(CellCode(r, c), 0, 0);
      b.rings[0] = {corner(r, c), corner(r, c + 1), corner(r + 1, c + 1), corner(r + 1, c)};
      grids.push_back(std::move(b));
    }
  }
  return grids;
}

void AddAll(GridIndex& index, const std::vector<Boundary>& grids) {
  for (const Boundary& b : grids) ASSERT_TRUE(index.Upsert(b).ok()) << b.grid_code;
}

TEST(GridIndex, FindsTheGridContainingAPoint) {
  GridIndex index;
  ASSERT_TRUE(index.Upsert(Square("A", kLat0, kLng0)).ok());
  EXPECT_EQ(index.size(), 1);

  EXPECT_THAT(index.Locate(kLat0 + 0.005, kLng0 + 0.005, kNow), Optional(std::string("A")));
  EXPECT_THAT(index.Locate(kLat0 + 0.0001, kLng0 + 0.0099, kNow), Optional(std::string("A")));
  EXPECT_EQ(index.Locate(kLat0 + 0.005, kLng0 + 0.0101, kNow), std::nullopt);
  EXPECT_EQ(index.Locate(kLat0 - 0.0001, kLng0 + 0.005, kNow), std::nullopt);
  EXPECT_EQ(index.Locate(-kLat0, kLng0 + 0.005, kNow), std::nullopt);
  EXPECT_THAT(index.LocateAll(kLat0 + 0.005, kLng0 + 0.005, kNow), ElementsAre("A"));
  EXPECT_THAT(index.LocateAll(kLat0 + 0.02, kLng0, kNow), IsEmpty());
}

TEST(GridIndex, CoordinatesOutOfRangeAreNowhere) {
  GridIndex index;
  ASSERT_TRUE(index.Upsert(Square("A", 89.99, 179.99)).ok());
  EXPECT_EQ(index.Locate(90.5, 179.995, kNow), std::nullopt);
  EXPECT_EQ(index.Locate(89.995, 180.5, kNow), std::nullopt);
  EXPECT_EQ(index.Locate(std::nan(""), 179.995, kNow), std::nullopt);
  EXPECT_THAT(index.LocateAll(89.995, std::numeric_limits<double>::infinity(), kNow), IsEmpty());
  EXPECT_THAT(index.Locate(89.995, 179.995, kNow), Optional(std::string("A")));
}

TEST(GridIndex, CoversALargeBoundaryWithFewCells) {
  // Far larger than any grid; it must still be cheap to add and exact to query.
  Boundary b;
  b.grid_code = "WIDE";
  b.version_id = "WIDE@v1";
  b.rings = {{{0, 100}, {0, 140}, {50, 140}, {50, 100}}};
  GridIndex index;
  ASSERT_TRUE(index.Upsert(b).ok());
  EXPECT_THAT(index.Locate(kLat0, kLng0, kNow), Optional(std::string("WIDE")));
  EXPECT_THAT(index.Locate(49.9, 139.9, kNow), Optional(std::string("WIDE")));
  EXPECT_EQ(index.Locate(kLat0, 140.1, kNow), std::nullopt);
  EXPECT_EQ(index.Locate(-0.1, kLng0, kNow), std::nullopt);
}

TEST(GridIndex, PointInAHoleIsOutsideTheGrid) {
  Boundary ring = Square("RING", kLat0, kLng0, 3 * kStep);
  ring.rings.push_back(SquareRing(kLat0 + kStep, kLng0 + kStep, kStep));
  GridIndex index;
  ASSERT_TRUE(index.Upsert(ring).ok());

  const double hole_lat = kLat0 + 1.5 * kStep;
  const double hole_lng = kLng0 + 1.5 * kStep;
  EXPECT_EQ(index.Locate(hole_lat, hole_lng, kNow), std::nullopt);
  EXPECT_THAT(index.Locate(kLat0 + 0.5 * kStep, hole_lng, kNow), Optional(std::string("RING")));

  // A compound governed apart, filling the hole exactly.
  ASSERT_TRUE(index.Upsert(Square("ISLAND", kLat0 + kStep, kLng0 + kStep)).ok());
  EXPECT_THAT(index.LocateAll(hole_lat, hole_lng, kNow), ElementsAre("ISLAND"));
  // The hole's corner is shared by the two grids; it belongs to one of them.
  EXPECT_EQ(index.LocateAll(kLat0 + kStep, kLng0 + kStep, kNow).size(), 1);
}

TEST(GridIndex, PointOnASharedEdgeBelongsToExactlyOneGrid) {
  const std::vector<Boundary> pair = Tessellation(1, 2);
  const Boundary& west = pair[0];
  const Boundary& east = pair[1];
  GridIndex west_first;
  GridIndex east_first;
  AddAll(west_first, {west, east});
  AddAll(east_first, {east, west});

  // The shared edge lies on a meridian; sample it between its end vertices.
  const double edge_lng = kLng0 + kStep;
  for (int i = 1; i < 100; ++i) {
    const double lat = kLat0 + i * kStep / 100;
    const std::vector<std::string> all = west_first.LocateAll(lat, edge_lng, kNow);
    ASSERT_EQ(all.size(), 1) << "lat " << lat;
    const std::optional<std::string> owner = west_first.Locate(lat, edge_lng, kNow);
    EXPECT_THAT(owner, Optional(all[0]));
    EXPECT_EQ(west_first.Locate(lat, edge_lng, kNow), owner);
    EXPECT_EQ(east_first.Locate(lat, edge_lng, kNow), owner);
    EXPECT_EQ(east_first.LocateAll(lat, edge_lng, kNow), all);
  }
}

TEST(GridIndex, PointOnAVertexSharedByFourGridsBelongsToExactlyOneOfThem) {
  const std::vector<Boundary> grids = Tessellation(2, 2);
  GridIndex forward;
  GridIndex backward;
  AddAll(forward, grids);
  AddAll(backward, {grids.rbegin(), grids.rend()});

  const double lat = kLat0 + kStep;
  const double lng = kLng0 + kStep;
  const std::vector<std::string> all = forward.LocateAll(lat, lng, kNow);
  ASSERT_EQ(all.size(), 1);
  EXPECT_THAT(forward.Locate(lat, lng, kNow), Optional(all[0]));
  EXPECT_THAT(backward.Locate(lat, lng, kNow), Optional(all[0]));
  EXPECT_EQ(backward.LocateAll(lat, lng, kNow), all);
}

TEST(GridIndex, RandomPointsInATessellationResolveToTheirCell) {
  constexpr int kSide = 10;
  GridIndex index;
  AddAll(index, Tessellation(kSide, kSide));
  ASSERT_EQ(index.size(), kSide * kSide);

  // Grid edges are great-circle arcs, which stray from a parallel by ~1 cm over a side; a
  // 1e-5 degree (~1 m) margin keeps the expected cell unambiguous.
  std::mt19937_64 rng(20240601);
  std::uniform_int_distribution<int> cell(0, kSide - 1);
  std::uniform_real_distribution<double> offset(1e-5, kStep - 1e-5);
  for (int i = 0; i < 5000; ++i) {
    const int row = cell(rng);
    const int col = cell(rng);
    const double lat = kLat0 + row * kStep + offset(rng);
    const double lng = kLng0 + col * kStep + offset(rng);
    ASSERT_THAT(index.LocateAll(lat, lng, kNow), ElementsAre(CellCode(row, col)))
        << lat << ", " << lng;
    ASSERT_THAT(index.Locate(lat, lng, kNow), Optional(CellCode(row, col)));
  }
}

TEST(GridIndex, AgreesWithTestingEveryPolygonOnEdgesAndVertices) {
  constexpr int kSide = 10;
  const std::vector<Boundary> grids = Tessellation(kSide, kSide);
  GridIndex index;
  AddAll(index, grids);
  std::vector<std::unique_ptr<S2Polygon>> polygons;
  for (const Boundary& b : grids) {
    auto polygon = BuildPolygon(b);
    ASSERT_TRUE(polygon.ok());
    polygons.push_back(*std::move(polygon));
  }
  auto scan = [&](double lat, double lng) {
    const S2Point point = S2LatLng::FromDegrees(lat, lng).ToPoint();
    std::vector<std::string> codes;
    for (size_t i = 0; i < polygons.size(); ++i) {
      if (polygons[i]->Contains(point)) codes.push_back(grids[i].grid_code);
    }
    return codes;
  };

  // Every inner vertex, and points on (or within rounding of) every inner edge.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> along(0, kStep);
  for (int r = 1; r < kSide; ++r) {
    for (int c = 1; c < kSide; ++c) {
      const double lat = kLat0 + r * kStep;
      const double lng = kLng0 + c * kStep;
      for (const auto& [plat, plng] : {std::pair{lat, lng}, std::pair{lat, lng - along(rng)},
                                       std::pair{lat - along(rng), lng}}) {
        const std::vector<std::string> expected = scan(plat, plng);
        ASSERT_EQ(expected.size(), 1) << plat << ", " << plng;
        ASSERT_EQ(index.LocateAll(plat, plng, kNow), expected) << plat << ", " << plng;
        ASSERT_THAT(index.Locate(plat, plng, kNow), Optional(expected[0]));
      }
    }
  }
}

TEST(GridIndex, EachTimeSeesTheBoundaryThenInForce) {
  // Grid A was redrawn half a square east; the strip it gave up went to nobody.
  Boundary old_a = Square("A", kLat0, kLng0, kStep, kLastYear, kRedrawn);
  old_a.version_id = "A@2023";
  Boundary new_a = Square("A", kLat0, kLng0 + kStep / 2, kStep, kRedrawn);
  new_a.version_id = "A@2025";
  GridIndex index;
  ASSERT_TRUE(index.Upsert(old_a).ok());
  ASSERT_TRUE(index.Upsert(new_a).ok());
  EXPECT_EQ(index.size(), 2);

  const double lat = kLat0 + kStep / 2;
  const double given_up_lng = kLng0 + kStep / 4;
  const double gained_lng = kLng0 + 5 * kStep / 4;
  EXPECT_EQ(index.Locate(lat, given_up_lng, kLastYear - absl::Hours(1)), std::nullopt);
  EXPECT_THAT(index.Locate(lat, given_up_lng, kLastYear), Optional(std::string("A")));
  EXPECT_THAT(index.Locate(lat, given_up_lng, kRedrawn - absl::Seconds(1)),
              Optional(std::string("A")));
  EXPECT_EQ(index.Locate(lat, given_up_lng, kRedrawn), std::nullopt);
  EXPECT_EQ(index.Locate(lat, given_up_lng, kNow), std::nullopt);
  EXPECT_EQ(index.Locate(lat, gained_lng, kLastYear), std::nullopt);
  EXPECT_THAT(index.Locate(lat, gained_lng, kNow), Optional(std::string("A")));

  // The grid is dissolved: its current version goes, its history stays.
  index.Remove("A@2025");
  EXPECT_EQ(index.size(), 1);
  EXPECT_EQ(index.Locate(lat, gained_lng, kNow), std::nullopt);
  EXPECT_THAT(index.Locate(lat, given_up_lng, kLastYear), Optional(std::string("A")));
  index.Remove("A@2023");
  index.Remove("never-added");
  EXPECT_EQ(index.size(), 0);
  EXPECT_EQ(index.Locate(lat, given_up_lng, kLastYear), std::nullopt);
}

TEST(GridIndex, UpsertReplacesTheVersionWithTheSameId) {
  GridIndex index;
  ASSERT_TRUE(index.Upsert(Square("A", kLat0, kLng0)).ok());
  Boundary moved = Square("A", kLat0 + 2 * kStep, kLng0);
  ASSERT_TRUE(index.Upsert(moved).ok());
  EXPECT_EQ(index.size(), 1);
  EXPECT_EQ(index.Locate(kLat0 + kStep / 2, kLng0 + kStep / 2, kNow), std::nullopt);
  EXPECT_THAT(index.Locate(kLat0 + 2.5 * kStep, kLng0 + kStep / 2, kNow),
              Optional(std::string("A")));

  // The same version id may even be reassigned to another grid code.
  moved.grid_code = "B";
  ASSERT_TRUE(index.Upsert(moved).ok());
  EXPECT_EQ(index.size(), 1);
  EXPECT_THAT(index.LocateAll(kLat0 + 2.5 * kStep, kLng0 + kStep / 2, kNow), ElementsAre("B"));
}

TEST(GridIndex, OverlappingGridsResolveToTheSmallestCodeAndAreReported) {
  const Boundary b = Square("B", kLat0, kLng0);
  const Boundary a = Square("A", kLat0 + kStep / 2, kLng0 + kStep / 2);
  for (const auto& order : {std::vector<Boundary>{a, b}, std::vector<Boundary>{b, a}}) {
    GridIndex index;
    AddAll(index, order);
    const double lat = kLat0 + 0.75 * kStep;
    const double lng = kLng0 + 0.75 * kStep;
    EXPECT_THAT(index.Locate(lat, lng, kNow), Optional(std::string("A")));
    EXPECT_THAT(index.LocateAll(lat, lng, kNow), ElementsAre("A", "B"));
    EXPECT_THAT(index.Locate(kLat0 + 0.25 * kStep, kLng0 + 0.25 * kStep, kNow),
                Optional(std::string("B")));
  }
}

// Points spread over the cell, its corners pulled in by a millionth of its size so none lies
// on a neighbouring cell's edge.
std::vector<S2LatLng> PointsOf(uint64_t cell_id) {
  const S2Cell cell{S2CellId(cell_id)};
  const S2Point center = cell.GetCenter();
  std::vector<S2LatLng> points = {S2LatLng(center)};
  for (int k = 0; k < 4; ++k) {
    const S2Point corner = cell.GetVertex(k);
    points.emplace_back((corner * 0.999999 + center * 0.000001).Normalize());
    points.emplace_back((corner * 0.5 + center * 0.5).Normalize());
  }
  return points;
}

TEST(GridIndex, AnAnswersCellHasThatAnswerAllOver) {
  constexpr int kSide = 6;
  GridIndex index;
  AddAll(index, Tessellation(kSide, kSide));

  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> anywhere(0, kSide * kStep);
  int with_cell = 0;
  for (int i = 0; i < 2000; ++i) {
    const double lat = kLat0 + anywhere(rng);
    const double lng = kLng0 + anywhere(rng);
    const std::optional<Located> found = index.LocateCell(lat, lng, kNow);
    ASSERT_TRUE(found.has_value()) << lat << ", " << lng;
    EXPECT_THAT(index.Locate(lat, lng, kNow), Optional(found->grid_code));
    EXPECT_EQ(found->until, kNow + kCellHorizon);
    if (found->cell_id == 0) continue;
    ++with_cell;
    const S2CellId cell(found->cell_id);
    ASSERT_TRUE(cell.is_valid());
    ASSERT_TRUE(cell.contains(S2CellId(S2LatLng::FromDegrees(lat, lng))));
    for (const S2LatLng& p : PointsOf(found->cell_id)) {
      ASSERT_THAT(index.LocateAll(p.lat().degrees(), p.lng().degrees(), kNow),
                  ElementsAre(found->grid_code))
          << "cell " << cell.ToToken() << " around " << lat << ", " << lng;
    }
  }
  // Only points within a metre or so of an edge go without.
  EXPECT_GT(with_cell, 1990);
}

TEST(GridIndex, AnAnswersCellKeepsClearOfASmallGridNearby) {
  // B lies inside A (bad data, but it happens): a cell around a point of A that held B
  // would be wrong for B's points, though B is nowhere near the point itself.
  const Boundary a = Square("A", kLat0, kLng0, 4 * kStep);
  const Boundary b = Square("B", kLat0 + 2 * kStep, kLng0 + 2 * kStep, kStep / 10);
  GridIndex index;
  AddAll(index, {a, b});
  auto b_polygon = BuildPolygon(b);
  ASSERT_TRUE(b_polygon.ok());
  for (const double d : {0.5, 1.0, 1.5, 1.9}) {
    const std::optional<Located> found =
        index.LocateCell(kLat0 + d * kStep, kLng0 + d * kStep, kNow);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->grid_code, "A");
    ASSERT_NE(found->cell_id, 0) << d;
    EXPECT_FALSE((*b_polygon)->MayIntersect(S2Cell(S2CellId(found->cell_id)))) << d;
  }
}

TEST(GridIndex, APointByAnEdgeGetsASmallCellOrNone) {
  const std::vector<Boundary> pair = Tessellation(1, 2);
  GridIndex index;
  AddAll(index, pair);
  const double lat = kLat0 + kStep / 2;
  const double edge = kLng0 + kStep;

  const std::optional<Located> middle = index.LocateCell(lat, kLng0 + kStep / 2, kNow);
  const std::optional<Located> near = index.LocateCell(lat, edge - 2e-5, kNow);  // ~2 m
  const std::optional<Located> on = index.LocateCell(lat, edge - 1e-8, kNow);    // ~1 mm
  ASSERT_TRUE(middle.has_value() && near.has_value() && on.has_value());
  EXPECT_EQ(near->grid_code, "G0000");
  ASSERT_NE(middle->cell_id, 0);
  ASSERT_NE(near->cell_id, 0);
  EXPECT_LT(S2CellId(middle->cell_id).level(), S2CellId(near->cell_id).level());
  EXPECT_EQ(on->cell_id, 0);
  EXPECT_THAT(index.Locate(lat, edge - 1e-8, kNow), Optional(on->grid_code));
}

TEST(GridIndex, AnAnswerEndsWhenAVersionTouchingItsCellStartsOrEnds) {
  const double lat = kLat0 + kStep / 2;
  const double lng = kLng0 + kStep / 2;
  {
    // The grid itself is redrawn next month.
    GridIndex index;
    ASSERT_TRUE(
        index.Upsert(Square("A", kLat0, kLng0, kStep, kLastYear, kNow + absl::Minutes(20))).ok());
    const std::optional<Located> found = index.LocateCell(lat, lng, kNow);
    ASSERT_TRUE(found.has_value());
    EXPECT_NE(found->cell_id, 0);
    EXPECT_EQ(found->until, kNow + absl::Minutes(20));
  }
  {
    // A neighbour grows over the point in ten minutes.
    GridIndex index;
    ASSERT_TRUE(index.Upsert(Square("A", kLat0, kLng0)).ok());
    Boundary grown = Square("B", kLat0, kLng0 + kStep / 4, kStep, kNow + absl::Minutes(10));
    ASSERT_TRUE(index.Upsert(grown).ok());
    const std::optional<Located> found = index.LocateCell(lat, lng, kNow);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->grid_code, "A");
    EXPECT_NE(found->cell_id, 0);
    EXPECT_EQ(found->until, kNow + absl::Minutes(10));
    // Long past versions and those beyond the horizon change nothing.
    GridIndex later;
    ASSERT_TRUE(later.Upsert(Square("A", kLat0, kLng0)).ok());
    Boundary old = Square("C", kLat0, kLng0, kStep, kLastYear, kRedrawn);
    old.version_id = "C@old";
    ASSERT_TRUE(later.Upsert(old).ok());
    ASSERT_TRUE(later.Upsert(Square("D", kLat0, kLng0, kStep, kNow + 2 * kCellHorizon)).ok());
    const std::optional<Located> unchanged = later.LocateCell(lat, lng, kNow);
    ASSERT_TRUE(unchanged.has_value());
    EXPECT_EQ(unchanged->grid_code, "A");
    EXPECT_EQ(unchanged->until, kNow + kCellHorizon);
  }
}

TEST(GridIndex, WhereGridsOverlapNoCellIsVouchedFor) {
  GridIndex index;
  AddAll(index, {Square("B", kLat0, kLng0), Square("A", kLat0 + kStep / 2, kLng0 + kStep / 2)});
  const std::optional<Located> both =
      index.LocateCell(kLat0 + 0.75 * kStep, kLng0 + 0.75 * kStep, kNow);
  ASSERT_TRUE(both.has_value());
  EXPECT_EQ(both->grid_code, "A");
  EXPECT_EQ(both->cell_id, 0);
  const std::optional<Located> only_b =
      index.LocateCell(kLat0 + 0.25 * kStep, kLng0 + 0.25 * kStep, kNow);
  ASSERT_TRUE(only_b.has_value());
  EXPECT_EQ(only_b->grid_code, "B");
  EXPECT_NE(only_b->cell_id, 0);
  EXPECT_EQ(index.LocateCell(kLat0 - kStep, kLng0, kNow), std::nullopt);
  EXPECT_EQ(index.LocateCell(91, kLng0, kNow), std::nullopt);
}

TEST(GridIndex, AcceptsRingsInEitherOrientationWithOrWithoutTheClosingPoint) {
  Boundary clockwise = Square("CW", kLat0, kLng0);
  std::reverse(clockwise.rings[0].begin(), clockwise.rings[0].end());
  Boundary closed = Square("CLOSED", kLat0, kLng0 + kStep);
  closed.rings[0].push_back(closed.rings[0].front());
  // A hole drawn the same way round as its outer ring.
  Boundary holed = Square("HOLED", kLat0, kLng0 + 2 * kStep);
  holed.rings.push_back(SquareRing(kLat0 + kStep / 4, kLng0 + 2.25 * kStep, kStep / 2));

  GridIndex index;
  AddAll(index, {clockwise, closed, holed});
  const double lat = kLat0 + kStep / 8;
  EXPECT_THAT(index.Locate(lat, kLng0 + kStep / 2, kNow), Optional(std::string("CW")));
  EXPECT_THAT(index.Locate(lat, kLng0 + 1.5 * kStep, kNow), Optional(std::string("CLOSED")));
  EXPECT_THAT(index.Locate(lat, kLng0 + 2.5 * kStep, kNow), Optional(std::string("HOLED")));
  EXPECT_EQ(index.Locate(kLat0 + kStep / 2, kLng0 + 2.5 * kStep, kNow), std::nullopt);
  EXPECT_EQ(index.Locate(kLat0 + 2 * kStep, kLng0 + kStep / 2, kNow), std::nullopt);
}

struct InvalidCase {
  std::string name;
  Boundary boundary;
  std::string message;
};

std::vector<InvalidCase> InvalidCases() {
  const Boundary good = Square("A", kLat0, kLng0);
  std::vector<InvalidCase> cases;
  auto add = [&](std::string name, auto edit, std::string message) {
    Boundary b = good;
    edit(b);
    cases.push_back({std::move(name), std::move(b), std::move(message)});
  };
  add(
      "BowTie",
      [](Boundary& b) {
        b.rings[0] = {{kLat0, kLng0},
                      {kLat0 + kStep, kLng0 + kStep},
                      {kLat0, kLng0 + kStep},
                      {kLat0 + kStep, kLng0}};
      },
      "region.boundary: ring 0 crosses itself");
  add(
      "TwoPoints",
      [](Boundary& b) {
        b.rings[0] = {{kLat0, kLng0}, {kLat0 + kStep, kLng0}};
      },
      "region.boundary: ring 0 needs at least 3 distinct points");
  add(
      "TwoPointsAndTheClosingOne",
      [](Boundary& b) {
        b.rings[0] = {
            {kLat0, kLng0}, {kLat0 + kStep, kLng0}, {kLat0 + kStep, kLng0}, {kLat0, kLng0}};
      },
      "region.boundary: ring 0 needs at least 3 distinct points");
  add(
      "Collinear",
      [](Boundary& b) {
        b.rings[0] = {{kLat0, kLng0}, {kLat0 + kStep, kLng0}, {kLat0 + 2 * kStep, kLng0}};
      },
      "region.boundary: ring 0 encloses no area");
  add(
      "PinchedAtAPoint",
      [](Boundary& b) {
        b.rings[0] = {{kLat0, kLng0},
                      {kLat0, kLng0 + kStep},
                      {kLat0 + kStep, kLng0 + kStep},
                      {kLat0 + kStep, kLng0 + 2 * kStep},
                      {kLat0 + 2 * kStep, kLng0 + 2 * kStep},
                      {kLat0 + 2 * kStep, kLng0 + kStep},
                      {kLat0 + kStep, kLng0 + kStep},
                      {kLat0 + kStep, kLng0}};
      },
      "region.boundary: ring 0 passes through the same point twice");
  add(
      "LatitudeOutOfRange", [](Boundary& b) { b.rings[0][2].latitude = 91; },
      "region.boundary: ring 0 point 2: latitude 91 not in [-90, 90]");
  add(
      "LongitudeOutOfRange", [](Boundary& b) { b.rings[0][1].longitude = -180.5; },
      "region.boundary: ring 0 point 1: longitude -180.5 not in [-180, 180]");
  add(
      "LatitudeNotANumber", [](Boundary& b) { b.rings[0][0].latitude = std::nan(""); },
      "region.boundary: ring 0 point 0: latitude nan");
  add(
      "HoleOutside",
      [](Boundary& b) { b.rings.push_back(SquareRing(kLat0 + 2 * kStep, kLng0, kStep / 2)); },
      "region.boundary: ring 1 (a hole) is not inside ring 0");
  add(
      "HoleCrossingTheOuterRing",
      [](Boundary& b) { b.rings.push_back(SquareRing(kLat0 + kStep / 2, kLng0, kStep)); },
      "region.boundary: ring 1 (a hole) is not inside ring 0");
  add(
      "HolesOverlapping",
      [](Boundary& b) {
        b.rings.push_back(SquareRing(kLat0 + kStep / 8, kLng0 + kStep / 8, kStep / 2));
        b.rings.push_back(SquareRing(kLat0 + kStep / 4, kLng0 + kStep / 4, kStep / 2));
      },
      "region.boundary: holes 1 and 2 overlap");
  add(
      "BadHole",
      [](Boundary& b) {
        b.rings.push_back(
            {{kLat0 + kStep / 4, kLng0 + kStep / 4}, {kLat0 + kStep / 2, kLng0 + kStep / 4}});
      },
      "region.boundary: ring 1 needs at least 3 distinct points");
  add(
      "NoRings", [](Boundary& b) { b.rings.clear(); }, "region.boundary: required");
  add(
      "TooManyPoints",
      [](Boundary& b) { b.rings[0].resize(kMaxBoundaryPoints + 1, b.rings[0][0]); },
      "region.boundary: at most");
  add(
      "NoGridCode", [](Boundary& b) { b.grid_code.clear(); }, "region.grid_code: required");
  add(
      "NoVersionId", [](Boundary& b) { b.version_id.clear(); }, "region.version_id: required");
  add(
      "EmptyPeriod", [](Boundary& b) { b.valid_from = b.valid_to = kNow; },
      "region.valid_to: must be after valid_from");
  add(
      "PeriodBackwards",
      [](Boundary& b) {
        b.valid_from = kNow;
        b.valid_to = kLastYear;
      },
      "region.valid_to: must be after valid_from");
  return cases;
}

class InvalidBoundary : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidBoundary, IsRejectedAndLeavesTheIndexUnchanged) {
  const InvalidCase& c = GetParam();
  const absl::Status status = ValidateBoundary(c.boundary);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(c.message));

  GridIndex index;
  ASSERT_TRUE(index.Upsert(Square("A", kLat0, kLng0)).ok());
  EXPECT_EQ(index.Upsert(c.boundary), status);
  EXPECT_EQ(index.size(), 1);
  EXPECT_THAT(index.Locate(kLat0 + kStep / 2, kLng0 + kStep / 2, kNow), Optional(std::string("A")));
}

INSTANTIATE_TEST_SUITE_P(GridIndex, InvalidBoundary, ::testing::ValuesIn(InvalidCases()),
                         [](const ::testing::TestParamInfo<InvalidCase>& info) {
                           return info.param.name;
                         });

TEST(GridIndex, ValidBoundaryPassesValidation) {
  Boundary b = Square("A", kLat0, kLng0);
  b.rings.push_back(SquareRing(kLat0 + kStep / 4, kLng0 + kStep / 4, kStep / 4));
  b.rings.push_back(SquareRing(kLat0 + kStep / 4, kLng0 + 5 * kStep / 8, kStep / 4));
  EXPECT_TRUE(ValidateBoundary(b).ok()) << ValidateBoundary(b);
}

TEST(GridIndex, QueriesRunWhileGridsAreRedrawn) {
  constexpr int kSide = 5;
  GridIndex index;
  AddAll(index, Tessellation(kSide, kSide));
  // The writer redraws grid N north of the tessellation, moving it between two places and
  // sometimes dissolving it; queries there may see it or not, but never anything else.
  const Boundary north_west = Square("N", kLat0 + (kSide + 1) * kStep, kLng0);
  const Boundary north_east = Square("N", kLat0 + (kSide + 1) * kStep, kLng0 + kStep);

  std::atomic<bool> writer_done{false};
  std::atomic<int> wrong{0};
  std::atomic<int64_t> queries{0};
  auto reader = [&](uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> cell(0, kSide - 1);
    std::uniform_real_distribution<double> offset(1e-5, kStep - 1e-5);
    for (int i = 0; i < 2000 || !writer_done.load(); ++i) {
      const int row = cell(rng);
      const int col = cell(rng);
      const std::optional<std::string> found =
          index.Locate(kLat0 + row * kStep + offset(rng), kLng0 + col * kStep + offset(rng), kNow);
      if (found != CellCode(row, col)) ++wrong;
      const std::optional<std::string> north =
          index.Locate(kLat0 + (kSide + 1.5) * kStep, kLng0 + offset(rng), kNow);
      if (north.has_value() && *north != "N") ++wrong;
      queries += 2;
    }
  };
  std::vector<std::thread> readers;
  for (uint64_t seed = 1; seed <= 3; ++seed) readers.emplace_back(reader, seed);
  std::thread writer([&] {
    for (int i = 0; i < 300; ++i) {
      if (!index.Upsert(i % 2 == 0 ? north_west : north_east).ok()) ++wrong;
      if (i % 3 == 0) index.Remove(north_west.version_id);
    }
    writer_done = true;
  });
  writer.join();
  for (std::thread& t : readers) t.join();

  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GE(queries.load(), 3 * 2 * 2000);
  EXPECT_EQ(index.size(), kSide * kSide + 1);
}

}  // namespace
}  // namespace gridloop::residents::geo
