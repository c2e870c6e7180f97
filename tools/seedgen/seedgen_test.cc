#include "tools/seedgen/seedgen.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/gridctl/import/csv.h"
#include "tools/gridctl/import/rows.h"

namespace gridloop::seedgen {
namespace {

using gridctl::CsvReader;
using gridctl::CsvRecord;
using gridctl::FileKind;
using gridctl::RowConverter;

// A fresh directory under the test's temporary directory.
std::string TempDir(absl::string_view name) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / "seedgen" / std::string(name);
  std::filesystem::remove_all(dir);
  return dir.string();
}

std::string Slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A file read through the import's own reader and converter: the items of its good
// rows, the reasons of the rows it turns down, and the records it cannot read.
struct ParsedFile {
  std::vector<v1::ImportItem> items;
  std::vector<std::string> rejected;
  std::vector<std::string> malformed;
};

ParsedFile Parse(const std::string& dir, FileKind kind) {
  std::ifstream in(std::filesystem::path(dir) / absl::StrCat(gridctl::FileKindName(kind), ".csv"),
                   std::ios::binary);
  EXPECT_TRUE(in.good());
  CsvReader reader(in);
  EXPECT_TRUE(reader.ReadHeader().ok());
  EXPECT_EQ(reader.header(), gridctl::ColumnsOf(kind));
  absl::StatusOr<RowConverter> converter = RowConverter::Create(kind, reader.header());
  EXPECT_TRUE(converter.ok()) << converter.status();
  ParsedFile parsed;
  CsvRecord record;
  while (reader.Next(record)) {
    if (!record.error.ok()) {
      parsed.malformed.emplace_back(record.error.message());
      continue;
    }
    absl::StatusOr<v1::ImportItem> item = converter->Convert(record.fields);
    if (item.ok()) {
      parsed.items.push_back(*std::move(item));
    } else {
      parsed.rejected.emplace_back(item.status().message());
    }
  }
  return parsed;
}

// GB 11643 computed here independently of the generator.
bool IdNumberIsValid(const std::string& id, absl::string_view birth_date, bool male) {
  if (id.size() != 18 || !absl::StartsWith(id, "330106")) return false;
  int sum = 0;
  const int weights[] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
  for (int i = 0; i < 17; ++i) {
    if (id[i] < '0' || id[i] > '9') return false;
    sum += (id[i] - '0') * weights[i];
  }
  if (id[17] != "10X98765432"[sum % 11]) return false;
  absl::CivilDay day;
  const std::string date =
      absl::StrCat(id.substr(6, 4), "-", id.substr(10, 2), "-", id.substr(12, 2));
  if (!absl::ParseCivilTime(date, &day) || date != birth_date) return false;
  if (day < absl::CivilDay(1900, 1, 1) || day >= absl::CivilDay(2025, 1, 1)) return false;
  return ((id[16] - '0') % 2 == 1) == male;
}

bool IsMobile(const std::string& phone) {
  if (phone.size() != 11 || phone[0] != '1' || phone[1] < '3' || phone[1] > '9') return false;
  for (char c : phone) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

struct Point {
  double lat;
  double lng;
};

std::vector<Point> Polygon(const v1::Region& r) {
  std::vector<Point> points;
  for (const auto& p : r.boundary()) points.push_back({p.latitude(), p.longitude()});
  return points;
}

// Even-odd ray casting.
bool Inside(const std::vector<Point>& poly, Point p) {
  bool inside = false;
  for (size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++) {
    if ((poly[i].lat > p.lat) != (poly[j].lat > p.lat) &&
        p.lng < (poly[j].lng - poly[i].lng) * (p.lat - poly[i].lat) / (poly[j].lat - poly[i].lat) +
                    poly[i].lng) {
      inside = !inside;
    }
  }
  return inside;
}

double Area(const std::vector<Point>& poly) {
  double twice = 0;
  for (size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++) {
    twice += poly[j].lng * poly[i].lat - poly[i].lng * poly[j].lat;
  }
  return twice / 2;
}

Point Centre(const std::vector<Point>& poly) {
  Point c{0, 0};
  for (const Point& p : poly) {
    c.lat += p.lat / static_cast<double>(poly.size());
    c.lng += p.lng / static_cast<double>(poly.size());
  }
  return c;
}

class SeedgenTest : public ::testing::Test {
 protected:
  static SeedOptions Small() {
    SeedOptions o;
    o.seed = 7;
    o.communities = 3;
    o.grids_per_community = 6;
    o.residents = 1500;
    return o;
  }
};

TEST_F(SeedgenTest, RegionsComeParentsFirstWithPathCodes) {
  const std::string dir = TempDir("regions");
  absl::StatusOr<SeedCounts> counts = WriteSeedFiles(Small(), dir);
  ASSERT_TRUE(counts.ok()) << counts.status();
  ParsedFile regions = Parse(dir, FileKind::kRegions);
  EXPECT_TRUE(regions.rejected.empty());
  EXPECT_TRUE(regions.malformed.empty());
  ASSERT_EQ(static_cast<int64_t>(regions.items.size()), counts->regions);
  std::map<std::string, v1::RegionLevel> seen;
  int grids = 0;
  int communities = 0;
  for (const v1::ImportItem& item : regions.items) {
    const v1::Region& r = item.region();
    EXPECT_EQ(seen.count(r.code()), 0u) << r.code() << " twice";
    if (r.code() == "3301") {
      EXPECT_EQ(r.parent_code(), "");
      EXPECT_EQ(r.level(), v1::REGION_LEVEL_CITY);
    } else {
      ASSERT_EQ(seen.count(r.parent_code()), 1u) << r.code() << " before its parent";
      EXPECT_TRUE(absl::StartsWith(r.code(), r.parent_code() + "."));
      EXPECT_EQ(r.code().find('.', r.parent_code().size() + 1), std::string::npos);
      // One level down, but buildings stand in grids: there are no micro-grids here.
      const v1::RegionLevel parent = seen[r.parent_code()];
      EXPECT_EQ(r.level(), parent == v1::REGION_LEVEL_GRID
                               ? v1::REGION_LEVEL_BUILDING
                               : static_cast<v1::RegionLevel>(parent + 1))
          << r.code();
    }
    if (r.level() == v1::REGION_LEVEL_GRID) {
      ++grids;
      EXPECT_EQ(r.boundary_size(), 4) << r.code();
      EXPECT_TRUE(r.has_boundary_valid_from());
    } else {
      EXPECT_EQ(r.boundary_size(), 0) << r.code();
    }
    if (r.level() == v1::REGION_LEVEL_COMMUNITY) ++communities;
    seen[r.code()] = r.level();
  }
  EXPECT_EQ(communities, 3);
  EXPECT_EQ(grids, 18);
  EXPECT_EQ(seen.count("3301.06.003.001.g01"), 1u);
  EXPECT_EQ(seen.count("3301.06.003.003.g06"), 1u);
  EXPECT_EQ(seen.count("3301.06.003.001.g01.b01.u1"), 1u);
}

TEST_F(SeedgenTest, GridsTessellateTheStreet) {
  for (const auto& [communities, grids] : {std::pair{3, 6}, std::pair{6, 8}, std::pair{5, 7}}) {
    SCOPED_TRACE(absl::StrCat(communities, " communities of ", grids, " grids"));
    SeedOptions options = Small();
    options.communities = communities;
    options.grids_per_community = grids;
    options.residents = 0;
    const std::string dir = TempDir(absl::StrCat("tessellation-", communities, "-", grids));
    ASSERT_TRUE(WriteSeedFiles(options, dir).ok());
    std::vector<std::vector<Point>> polygons;
    for (const v1::ImportItem& item : Parse(dir, FileKind::kRegions).items) {
      if (item.region().level() == v1::REGION_LEVEL_GRID) {
        polygons.push_back(Polygon(item.region()));
      }
    }
    ASSERT_EQ(polygons.size(), static_cast<size_t>(communities * grids));

    auto containing = [&](Point p) {
      std::vector<size_t> in;
      for (size_t i = 0; i < polygons.size(); ++i) {
        if (Inside(polygons[i], p)) in.push_back(i);
      }
      return in;
    };
    double south = 90, north = -90, west = 180, east = -180;
    double area = 0;
    // Each edge: how many grids have it, and whether it lies on the street's outline.
    std::map<std::pair<std::pair<double, double>, std::pair<double, double>>, std::pair<int, bool>>
        edges;
    for (size_t i = 0; i < polygons.size(); ++i) {
      const std::vector<Point>& poly = polygons[i];
      EXPECT_GT(Area(poly), 0) << "grid " << i << " is not counter-clockwise";
      area += Area(poly);
      const Point c = Centre(poly);
      EXPECT_THAT(containing(c), ::testing::ElementsAre(i)) << "centre of grid " << i;
      for (size_t k = 0; k < poly.size(); ++k) {
        const Point a = poly[k];
        const Point b = poly[(k + 1) % poly.size()];
        south = std::min(south, a.lat);
        north = std::max(north, a.lat);
        west = std::min(west, a.lng);
        east = std::max(east, a.lng);
        // Just inside the edge is this grid only; just outside, one neighbour or none.
        const Point mid{(a.lat + b.lat) / 2, (a.lng + b.lng) / 2};
        const Point in{mid.lat + (c.lat - mid.lat) * 0.01, mid.lng + (c.lng - mid.lng) * 0.01};
        const Point out{mid.lat - (c.lat - mid.lat) * 0.01, mid.lng - (c.lng - mid.lng) * 0.01};
        EXPECT_THAT(containing(in), ::testing::ElementsAre(i)) << "grid " << i << " edge " << k;
        const std::vector<size_t> beyond = containing(out);
        const bool on_outline = (a.lat == b.lat && (a.lat == 30.265 || a.lat == 30.295)) ||
                                (a.lng == b.lng && (a.lng == 120.08 || a.lng == 120.12));
        const std::pair<double, double> from{a.lat, a.lng};
        const std::pair<double, double> to{b.lat, b.lng};
        auto& edge = edges[{std::min(from, to), std::max(from, to)}];
        ++edge.first;
        edge.second = on_outline;
        EXPECT_EQ(beyond.size(), on_outline ? 0u : 1u) << "grid " << i << " edge " << k;
        if (!beyond.empty()) {
          EXPECT_NE(beyond[0], i);
        }
      }
    }
    EXPECT_DOUBLE_EQ(south, 30.265);
    EXPECT_DOUBLE_EQ(north, 30.295);
    EXPECT_DOUBLE_EQ(west, 120.08);
    EXPECT_DOUBLE_EQ(east, 120.12);
    // No gaps and no overlaps: the grids' areas add up to the street's.
    EXPECT_NEAR(area, (north - south) * (east - west), 1e-12);
    // Every edge is a grid's alone (on the outline) or exactly two grids': neighbours
    // share edges vertex for vertex.
    for (const auto& [edge, use] : edges) EXPECT_EQ(use.first, use.second ? 1 : 2);
  }
}

TEST_F(SeedgenTest, PeopleAreValidAndConsistent) {
  const std::string dir = TempDir("people");
  SeedOptions options = Small();
  absl::StatusOr<SeedCounts> counts = WriteSeedFiles(options, dir);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->residents, 1500);
  EXPECT_EQ(counts->bad_rows, 0);

  std::map<std::string, v1::RegionLevel> regions;
  for (const auto& item : Parse(dir, FileKind::kRegions).items) {
    regions[item.region().code()] = item.region().level();
  }
  std::map<std::string, std::string> household_regions;
  ParsedFile households = Parse(dir, FileKind::kHouseholds);
  EXPECT_TRUE(households.rejected.empty());
  for (const auto& item : households.items) {
    const v1::Household& h = item.household();
    EXPECT_EQ(regions[h.region_code()], v1::REGION_LEVEL_UNIT) << h.code();
    EXPECT_TRUE(household_regions.emplace(h.code(), h.region_code()).second) << h.code();
    EXPECT_FALSE(h.address().empty());
  }
  EXPECT_EQ(static_cast<int64_t>(household_regions.size()), counts->households);

  ParsedFile residents = Parse(dir, FileKind::kResidents);
  EXPECT_TRUE(residents.rejected.empty());
  EXPECT_TRUE(residents.malformed.empty());
  ASSERT_EQ(residents.items.size(), 1500u);
  std::set<std::string> ids, phones;
  std::map<std::string, int> tags;
  std::set<std::string> used_households;
  const std::set<std::string> known_tags = {"elderly_living_alone", "disabled",
                                            "low_income",           "veteran",
                                            "party_member",         "left_behind_child"};
  for (const auto& item : residents.items) {
    const v1::Resident& r = item.resident();
    EXPECT_TRUE(IdNumberIsValid(r.id_number(), r.birth_date(), r.gender() == v1::GENDER_MALE))
        << r.id_number() << " " << r.birth_date();
    EXPECT_TRUE(ids.insert(r.id_number()).second) << r.id_number() << " twice";
    EXPECT_TRUE(IsMobile(r.phone())) << r.phone();
    EXPECT_FALSE(absl::StartsWith(r.phone(), "199")) << "a staff prefix";
    EXPECT_TRUE(phones.insert(r.phone()).second) << r.phone() << " twice";
    ASSERT_EQ(household_regions.count(r.household_code()), 1u) << r.household_code();
    EXPECT_EQ(r.region_code(), household_regions[r.household_code()]);
    used_households.insert(r.household_code());
    EXPECT_GE(r.name().size(), 6u);  // a surname and a given name, 3 bytes a character
    for (const std::string& t : r.tags()) {
      EXPECT_EQ(known_tags.count(t), 1u) << t;
      ++tags[t];
    }
  }
  // Every household has someone in it.
  EXPECT_EQ(used_households.size(), household_regions.size());
  // The frequencies are plausible for a city street, not exact.
  EXPECT_GT(tags["party_member"], 40);
  EXPECT_LT(tags["party_member"], 300);
  EXPECT_GT(tags["elderly_living_alone"], 10);
  EXPECT_LT(tags["elderly_living_alone"], 200);
  EXPECT_GT(tags["disabled"], 3);
  EXPECT_LT(tags["disabled"], 100);
  EXPECT_LT(tags["left_behind_child"], 60);
  EXPECT_LT(tags["veteran"], 60);

  ParsedFile staff = Parse(dir, FileKind::kStaff);
  EXPECT_TRUE(staff.rejected.empty());
  std::map<std::string, std::map<v1::StaffRole, int>> roles;
  std::set<std::string> people;
  for (const auto& item : staff.items) {
    const v1::AssignStaffRequest& s = item.staff();
    ASSERT_EQ(regions.count(s.region_code()), 1u) << s.region_code();
    EXPECT_TRUE(people.insert(s.person_id()).second) << s.person_id();
    EXPECT_TRUE(IsMobile(s.phone())) << s.phone();
    EXPECT_TRUE(s.on_duty());
    ++roles[s.region_code()][s.role()];
  }
  EXPECT_EQ(roles["3301.06.003"][v1::STAFF_ROLE_REGION_LEADER], 1);
  EXPECT_EQ(roles["3301.06.003"][v1::STAFF_ROLE_SUPERVISOR], 1);
  for (const auto& [code, level] : regions) {
    if (level == v1::REGION_LEVEL_COMMUNITY) {
      EXPECT_EQ(roles[code][v1::STAFF_ROLE_REGION_LEADER], 1) << code;
    }
    if (level == v1::REGION_LEVEL_GRID) {
      EXPECT_EQ(roles[code][v1::STAFF_ROLE_GRID_LEADER], 1) << code;
      EXPECT_GE(roles[code][v1::STAFF_ROLE_GRID_WORKER], 1) << code;
      EXPECT_LE(roles[code][v1::STAFF_ROLE_GRID_WORKER], 2) << code;
    }
  }
}

TEST_F(SeedgenTest, SameSeedGivesTheSameFiles) {
  const std::string a = TempDir("same-a");
  const std::string b = TempDir("same-b");
  const std::string c = TempDir("same-c");
  SeedOptions options = Small();
  options.bad_rows = true;
  ASSERT_TRUE(WriteSeedFiles(options, a).ok());
  ASSERT_TRUE(WriteSeedFiles(options, b).ok());
  options.seed = 8;
  ASSERT_TRUE(WriteSeedFiles(options, c).ok());
  for (const char* file : {"regions.csv", "households.csv", "residents.csv", "staff.csv"}) {
    const std::string first = Slurp(std::filesystem::path(a) / file);
    EXPECT_FALSE(first.empty()) << file;
    EXPECT_EQ(first, Slurp(std::filesystem::path(b) / file)) << file;
    EXPECT_NE(first, Slurp(std::filesystem::path(c) / file)) << file;
  }
}

TEST_F(SeedgenTest, BadRowsAreEachTurnedDownForTheirReason) {
  const std::string dir = TempDir("bad");
  SeedOptions options = Small();
  options.bad_rows = true;
  absl::StatusOr<SeedCounts> counts = WriteSeedFiles(options, dir);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->bad_rows, 15);

  ParsedFile regions = Parse(dir, FileKind::kRegions);
  ASSERT_EQ(regions.malformed.size(), 1u);
  EXPECT_THAT(regions.malformed[0], ::testing::HasSubstr("unterminated quoted field"));
  EXPECT_THAT(regions.rejected, ::testing::ElementsAre(::testing::HasSubstr("level:")));
  EXPECT_EQ(regions.items.back().region().parent_code(), "3301.06.003.999");

  ParsedFile households = Parse(dir, FileKind::kHouseholds);
  EXPECT_EQ(households.malformed.size(), 1u);
  EXPECT_THAT(households.rejected, ::testing::ElementsAre("code: required"));

  ParsedFile residents = Parse(dir, FileKind::kResidents);
  EXPECT_EQ(residents.malformed.size(), 1u);
  EXPECT_THAT(residents.rejected, ::testing::ElementsAre(::testing::HasSubstr("gender:")));
  int bad_check = 0, bad_phone = 0, unknown_household = 0;
  for (const auto& item : residents.items) {
    const v1::Resident& r = item.resident();
    if (!IdNumberIsValid(r.id_number(), r.birth_date(), r.gender() == v1::GENDER_MALE)) {
      ++bad_check;
    }
    if (!IsMobile(r.phone())) ++bad_phone;
    if (absl::StartsWith(r.household_code(), "3301.06.003.999")) ++unknown_household;
  }
  EXPECT_EQ(bad_check, 1);
  EXPECT_EQ(bad_phone, 1);
  EXPECT_EQ(unknown_household, 1);
  EXPECT_EQ(static_cast<int64_t>(residents.items.size() + residents.rejected.size() +
                                 residents.malformed.size()),
            counts->residents);

  ParsedFile staff = Parse(dir, FileKind::kStaff);
  EXPECT_EQ(staff.malformed.size(), 1u);
  EXPECT_THAT(staff.rejected, ::testing::ElementsAre(::testing::HasSubstr("role:")));
}

TEST_F(SeedgenTest, OptionsOutOfRangeAreRefused) {
  std::ostringstream a, b, c, d;
  SeedOptions options;
  options.communities = 0;
  EXPECT_EQ(Generate(options, {&a, &b, &c, &d}).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = SeedOptions();
  options.grids_per_community = 100;
  EXPECT_EQ(Generate(options, {&a, &b, &c, &d}).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = SeedOptions();
  options.residents = -1;
  EXPECT_EQ(Generate(options, {&a, &b, &c, &d}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gridloop::seedgen
