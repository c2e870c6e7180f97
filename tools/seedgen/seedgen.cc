#include "tools/seedgen/seedgen.h"

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/types/span.h"
#include "tools/seedgen/names.h"

namespace gridloop::seedgen {
namespace {

using internal::Era;

constexpr char kCityCode[] = "3301";
constexpr char kDistrictCode[] = "3301.06";
constexpr char kStreetCode[] = "3301.06.003";
constexpr char kStreetAddress[] = "杭州市西湖区文新街道";
// The administrative division code of 西湖区 that ID numbers issued there start with.
constexpr char kIdRegion[] = "330106";
// Grids, staff assignments and ages are as of this day, never the clock, so that the
// output depends on the options only.
constexpr char kValidFrom[] = "2024-01-01T00:00:00+08:00";
constexpr absl::CivilDay kReferenceDay(2025, 1, 1);
constexpr absl::CivilDay kEarliestBirth(1920, 1, 1);

// The street as a rectangle in micro-degrees (about 3.3 km by 3.9 km around 30.28N
// 120.10E). Integer coordinates make a vertex shared by four grids print identically in
// each of them.
constexpr int64_t kSouth = 30'265'000;
constexpr int64_t kNorth = 30'295'000;
constexpr int64_t kWest = 120'080'000;
constexpr int64_t kEast = 120'120'000;

// ID numbers: a 3-digit sequence per birth day, odd for men and even for women.
constexpr int kSequencesPerDay = 500;
constexpr int kCheckWeights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
constexpr char kCheckCharacters[] = "10X98765432";

// Mobile prefixes of the three carriers; 199 is kept for staff work numbers so they
// never collide with residents'.
constexpr const char* kMobilePrefixes[] = {"130", "131", "132", "133", "135", "136", "137", "138",
                                           "139", "150", "151", "152", "153", "155", "156", "157",
                                           "158", "159", "166", "173", "177", "180", "181", "182",
                                           "183", "185", "186", "187", "188", "189", "198"};

constexpr int64_t kMaxResidents = 10'000'000;

// SplitMix64: tiny, fast, and the same sequence everywhere (unlike the standard
// distributions, whose output differs between library implementations).
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi].
  int64_t Between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool Chance(double p) { return static_cast<double>(Next() >> 11) * 0x1.0p-53 < p; }
  template <typename T>
  const T& Pick(absl::Span<const T> items) {
    return items[Next() % items.size()];
  }

 private:
  uint64_t state_;
};

// A value determined by its inputs alone, for things computed more than once.
uint64_t Hash(uint64_t seed, uint64_t key) {
  return Random(seed ^ (key * 0xD6E8FEB86659FD93ULL)).Next();
}

std::string Degrees(int64_t micro) {
  return absl::StrFormat("%d.%06d", micro / 1'000'000, micro % 1'000'000);
}

// The `index`th of distinct 8-digit phone suffixes: a four-round Feistel network over
// two 4-digit halves is a bijection on 0..10^8-1, so no suffix repeats and none needs
// remembering, yet consecutive ones look unrelated.
int64_t PhoneSuffix(uint64_t seed, int64_t index) {
  constexpr int64_t kHalf = 10'000;
  int64_t left = index / kHalf % kHalf;
  int64_t right = index % kHalf;
  for (uint64_t round = 0; round < 4; ++round) {
    const auto mixed =
        static_cast<int64_t>(Hash(seed + round, static_cast<uint64_t>(right)) % kHalf);
    const int64_t next = (left + mixed) % kHalf;
    left = right;
    right = next;
  }
  return left * kHalf + right;
}

// Splits `n` into rows x cols with rows <= cols, as square as n allows.
std::pair<int, int> Factor(int n) {
  int rows = 1;
  for (int d = 1; d * d <= n; ++d) {
    if (n % d == 0) rows = d;
  }
  return {rows, n / rows};
}

struct Layout {
  int community_rows;
  int community_cols;
  int grid_rows;
  int grid_cols;
};

// Communities as blocks of the street and grids as cells of a block, turned whichever
// way makes the cells closest to square on the ground (a degree of longitude is 0.87 of
// one of latitude here).
Layout ChooseLayout(int communities, int grids) {
  const auto [cr, cc] = Factor(communities);
  const auto [gr, gc] = Factor(grids);
  const double width = static_cast<double>(kEast - kWest) * 0.866;
  const auto height = static_cast<double>(kNorth - kSouth);
  Layout best{};
  double best_skew = 0;
  for (const Layout& l : {Layout{cr, cc, gr, gc}, Layout{cr, cc, gc, gr}, Layout{cc, cr, gr, gc},
                          Layout{cc, cr, gc, gr}}) {
    const double cell_width = width / (l.community_cols * l.grid_cols);
    const double cell_height = height / (l.community_rows * l.grid_rows);
    const double skew = std::max(cell_width / cell_height, cell_height / cell_width);
    if (best.community_rows == 0 || skew < best_skew) {
      best = l;
      best_skew = skew;
    }
  }
  return best;
}

// The street's grids as cells of one lattice, so that neighbouring cells are built from
// the same vertices and share their edges exactly. Inner vertices are moved a little
// (at most an eighth of a cell, which keeps every cell convex) so grids look drawn, not
// ruled; vertices on the street's outline move only along it.
class Lattice {
 public:
  Lattice(uint64_t seed, int rows, int cols) : seed_(seed), rows_(rows), cols_(cols) {}

  int64_t Lat(int r, int c) const {
    const int64_t base = kSouth + (kNorth - kSouth) * r / rows_;
    if (r == 0 || r == rows_) return base;
    return base + Jitter(r, c, 0, (kNorth - kSouth) / rows_ / 8);
  }
  int64_t Lng(int r, int c) const {
    const int64_t base = kWest + (kEast - kWest) * c / cols_;
    if (c == 0 || c == cols_) return base;
    return base + Jitter(r, c, 1, (kEast - kWest) / cols_ / 8);
  }

  // "lat lng;..." counter-clockwise from the south-west corner of cell (r, c).
  std::string Boundary(int r, int c) const {
    const std::pair<int, int> corners[] = {{r, c}, {r, c + 1}, {r + 1, c + 1}, {r + 1, c}};
    std::string out;
    for (const auto& [vr, vc] : corners) {
      if (!out.empty()) out += ';';
      absl::StrAppend(&out, Degrees(Lat(vr, vc)), " ", Degrees(Lng(vr, vc)));
    }
    return out;
  }

 private:
  int64_t Jitter(int r, int c, int axis, int64_t amplitude) const {
    const uint64_t key = (static_cast<uint64_t>(r) << 32) | (static_cast<uint64_t>(c) << 1) |
                         static_cast<uint64_t>(axis);
    return static_cast<int64_t>(Hash(seed_, key) % static_cast<uint64_t>(2 * amplitude + 1)) -
           amplitude;
  }

  uint64_t seed_;
  int rows_;
  int cols_;
};

struct Person {
  std::string name;
  bool male = false;
  absl::CivilDay birth;
  std::vector<const char*> tags;
};

class Generator {
 public:
  Generator(const SeedOptions& options, const SeedOutput& out)
      : options_(options),
        out_(out),
        rng_(options.seed),
        id_sequences_(static_cast<size_t>(kReferenceDay - kEarliestBirth) * 2, 0) {}

  SeedCounts Run();

 private:
  struct Building {
    bool open = false;
    int number = 0;
    int units = 0;
    int floors = 0;
    int rooms = 0;  // per floor and unit
    int unit = 1;
    int floor = 1;
    int room = 0;
    int written_units = 0;
    std::string code;
    std::string unit_code;
  };

  void Row(std::ostream& out, std::initializer_list<absl::string_view> fields);
  void Region(absl::string_view code, absl::string_view name, absl::string_view level,
              absl::string_view parent, absl::string_view boundary = "",
              absl::string_view valid_from = "");
  void Staff(absl::string_view region, absl::string_view role, absl::string_view duty);
  void FillGrid(const std::string& grid_code, absl::string_view estate, int64_t residents);
  // Moves to the next occupied flat of the grid, opening buildings and units as needed.
  void NextFlat(const std::string& grid_code, absl::string_view estate, Building& b);
  void Household(const std::string& code, const std::string& unit_code, absl::string_view address,
                 int size);
  void Resident(const Person& p, const std::string& household, const std::string& region,
                bool low_income);
  void BadRows();

  Person MakePerson(bool male, int min_age, int max_age, absl::string_view surname = "");
  std::string Surname();
  std::string IdNumber(absl::CivilDay& birth, bool male);
  std::string ResidentPhone();
  std::string StaffPhone();

  const SeedOptions& options_;
  const SeedOutput& out_;
  Random rng_;
  SeedCounts counts_;
  // Sequence numbers used per birth day and gender, which keeps ID numbers unique in a
  // fixed amount of memory.
  std::vector<uint16_t> id_sequences_;
  int64_t phones_issued_ = 0;
  int64_t staff_issued_ = 0;
  int64_t staff_phones_issued_ = 0;
  std::string first_household_;
  std::string first_unit_;
  std::string line_;
};

void Generator::Row(std::ostream& out, std::initializer_list<absl::string_view> fields) {
  line_.clear();
  bool first = true;
  for (absl::string_view f : fields) {
    if (!first) line_ += ',';
    first = false;
    if (f.find_first_of(",\"\r\n") == absl::string_view::npos) {
      line_.append(f.data(), f.size());
      continue;
    }
    line_ += '"';
    for (char c : f) {
      if (c == '"') line_ += '"';
      line_ += c;
    }
    line_ += '"';
  }
  line_ += '\n';
  out.write(line_.data(), static_cast<std::streamsize>(line_.size()));
}

void Generator::Region(absl::string_view code, absl::string_view name, absl::string_view level,
                       absl::string_view parent, absl::string_view boundary,
                       absl::string_view valid_from) {
  Row(*out_.regions, {code, name, level, parent, boundary, valid_from});
  ++counts_.regions;
}

void Generator::Staff(absl::string_view region, absl::string_view role, absl::string_view duty) {
  const Person p = MakePerson(rng_.Chance(0.5), 28, 55);
  const std::string id = absl::StrFormat("staff-%05d", ++staff_issued_);
  Row(*out_.staff, {region, id, p.name, role, "true", StaffPhone(), duty, "", kValidFrom});
  ++counts_.staff;
}

std::string Generator::Surname() {
  int total = 0;
  for (const auto& s : internal::Surnames()) total += s.weight;
  int64_t pick = rng_.Between(0, total - 1);
  for (const auto& s : internal::Surnames()) {
    if (pick < s.weight) return s.name;
    pick -= s.weight;
  }
  return internal::Surnames().front().name;
}

Person Generator::MakePerson(bool male, int min_age, int max_age, absl::string_view surname) {
  Person p;
  p.male = male;
  const int64_t days = rng_.Between(static_cast<int64_t>(min_age) * 365 + 1,
                                    static_cast<int64_t>(max_age) * 365 + 364);
  p.birth = kReferenceDay - days;
  if (p.birth < kEarliestBirth) p.birth = kEarliestBirth;
  const int year = static_cast<int>(p.birth.year());
  const Era era = year < 1965 ? Era::kOld : year < 1990 ? Era::kMiddle : Era::kYoung;
  p.name = absl::StrCat(surname.empty() ? Surname() : std::string(surname),
                        rng_.Pick(internal::GivenNames(era, male)));
  return p;
}

std::string Generator::IdNumber(absl::CivilDay& birth, bool male) {
  // A day whose sequences are used up passes the person to the day before; over a
  // century of days that only happens for the largest data sets, and moves a birthday
  // by a day or two.
  int64_t day = birth - kEarliestBirth;
  for (int64_t tries = 0;; ++tries) {
    if (day < 0) day = (kReferenceDay - kEarliestBirth) - 1;
    if (id_sequences_[static_cast<size_t>(day) * 2 + (male ? 1 : 0)] < kSequencesPerDay) break;
    --day;
  }
  birth = kEarliestBirth + day;
  uint16_t& used = id_sequences_[static_cast<size_t>(day) * 2 + (male ? 1 : 0)];
  const int sequence = 2 * static_cast<int>((used + day * 37) % kSequencesPerDay) + (male ? 1 : 0);
  ++used;
  std::string id = absl::StrFormat("%s%04d%02d%02d%03d", kIdRegion, birth.year(), birth.month(),
                                   birth.day(), sequence);
  int sum = 0;
  for (int i = 0; i < 17; ++i) sum += (id[i] - '0') * kCheckWeights[i];
  id += kCheckCharacters[sum % 11];
  return id;
}

std::string Generator::ResidentPhone() {
  return absl::StrFormat("%s%08d", rng_.Pick(absl::Span<const char* const>(kMobilePrefixes)),
                         PhoneSuffix(options_.seed, phones_issued_++));
}

// Staff numbers have a prefix of their own, so they never equal a resident's.
std::string Generator::StaffPhone() {
  return absl::StrFormat("199%08d", PhoneSuffix(options_.seed ^ 0x5157AFF, staff_phones_issued_++));
}

void Generator::Resident(const Person& p, const std::string& household, const std::string& region,
                         bool low_income) {
  absl::CivilDay birth = p.birth;
  const std::string id = IdNumber(birth, p.male);
  const int age = static_cast<int>((kReferenceDay - birth) / 365);
  std::vector<const char*> tags = p.tags;
  if (rng_.Chance(age >= 65 ? 0.05 : 0.012)) tags.push_back("disabled");
  if (low_income) tags.push_back("low_income");
  if (p.male && age >= 35 && rng_.Chance(0.04)) tags.push_back("veteran");
  if (age >= 18 && rng_.Chance(age >= 60 ? 0.14 : 0.08)) tags.push_back("party_member");
  Row(*out_.residents,
      {p.name, p.male ? "male" : "female", absl::FormatCivilTime(birth), id, ResidentPhone(),
       household, region, absl::StrJoin(tags, ";"), rng_.Chance(0.85) ? "true" : "false",
       rng_.Chance(0.4) ? "true" : "false", rng_.Chance(0.6) ? "true" : "false"});
  ++counts_.residents;
}

// Families as they live in the city's flats: people alone (often the elderly), couples,
// parents with children, three generations, and now and then a grandparent raising a
// child whose parents work elsewhere.
void Generator::Household(const std::string& code, const std::string& unit_code,
                          absl::string_view address, int size) {
  std::vector<Person> family;
  const bool low_income = rng_.Chance(0.02);
  auto couple = [&](int min_age, int max_age) {
    Person husband = MakePerson(true, min_age, max_age);
    const int age = static_cast<int>((kReferenceDay - husband.birth) / 365);
    family.push_back(husband);
    family.push_back(MakePerson(false, std::max(18, age - 5), std::min(95, age + 3)));
    return husband;
  };
  auto children = [&](const Person& father, int count, int max_age) {
    const int father_age = static_cast<int>((kReferenceDay - father.birth) / 365);
    const std::string surname = father.name.substr(0, 3);  // one CJK character in UTF-8
    for (int i = 0; i < count; ++i) {
      const int oldest = std::max(0, std::min(max_age, father_age - 22));
      family.push_back(MakePerson(rng_.Chance(0.52), 0, oldest, surname));
    }
  };
  const double kind = static_cast<double>(rng_.Between(0, 999)) / 1000;
  switch (size) {
    case 1:
      if (rng_.Chance(0.45)) {
        family.push_back(MakePerson(rng_.Chance(0.4), 65, 92));
        family.back().tags.push_back("elderly_living_alone");
      } else {
        family.push_back(MakePerson(rng_.Chance(0.5), 22, 64));
      }
      break;
    case 2:
      if (kind < 0.55) {
        couple(25, 88);
      } else if (kind < 0.85) {
        family.push_back(MakePerson(rng_.Chance(0.3), 40, 60));
        children(family.back(), 1, 25);
      } else if (kind < 0.95) {
        const Person grandparent = MakePerson(rng_.Chance(0.4), 58, 75);
        family.push_back(grandparent);
        family.push_back(MakePerson(rng_.Chance(0.52), 3, 15, grandparent.name.substr(0, 3)));
        family.back().tags.push_back("left_behind_child");
      } else {
        const Person first = MakePerson(rng_.Chance(0.5), 20, 40);
        family.push_back(first);
        family.push_back(MakePerson(rng_.Chance(0.5), 20, 40, first.name.substr(0, 3)));
      }
      break;
    case 3:
      if (kind < 0.8) {
        children(couple(28, 55), 1, 25);
      } else {
        const Person husband = couple(30, 55);
        const int age = static_cast<int>((kReferenceDay - husband.birth) / 365);
        family.push_back(MakePerson(rng_.Chance(0.35), std::min(92, age + 22),
                                    std::min(95, age + 32), husband.name.substr(0, 3)));
      }
      break;
    case 4:
      if (kind < 0.5) {
        children(couple(30, 50), 2, 20);
      } else {
        const Person husband = couple(28, 50);
        const int age = static_cast<int>((kReferenceDay - husband.birth) / 365);
        children(husband, 1, 20);
        family.push_back(MakePerson(rng_.Chance(0.35), std::min(92, age + 22),
                                    std::min(95, age + 32), husband.name.substr(0, 3)));
      }
      break;
    default: {
      const Person grandfather = couple(60, 80);
      const int age = static_cast<int>((kReferenceDay - grandfather.birth) / 365);
      Person father = MakePerson(true, std::max(25, age - 35), std::max(26, age - 22),
                                 grandfather.name.substr(0, 3));
      family.push_back(father);
      const int father_age = static_cast<int>((kReferenceDay - father.birth) / 365);
      family.push_back(MakePerson(false, std::max(20, father_age - 5), father_age + 3));
      children(father, size - 4, 18);
      break;
    }
  }
  Row(*out_.households, {code, unit_code, address});
  ++counts_.households;
  for (const Person& p : family) Resident(p, code, unit_code, low_income);
}

void Generator::NextFlat(const std::string& grid_code, absl::string_view estate, Building& b) {
  while (true) {
    if (!b.open) {
      const int number = b.number + 1;
      b = Building();
      b.open = true;
      b.number = number;
      b.units = static_cast<int>(rng_.Between(1, 3));
      constexpr int kFloors[] = {6, 7, 11, 18};
      b.floors = rng_.Pick(absl::Span<const int>(kFloors));
      b.rooms = b.floors <= 7 ? 2 : static_cast<int>(rng_.Between(2, 4));
      b.code = absl::StrFormat("%s.b%02d", grid_code, number);
      Region(b.code, absl::StrCat(estate, number, "幢"), "building", grid_code);
    }
    if (++b.room > b.rooms) {
      b.room = 1;
      if (++b.floor > b.floors) {
        b.floor = 1;
        if (++b.unit > b.units) {
          b.open = false;
          continue;
        }
      }
    }
    if (rng_.Chance(0.08)) continue;  // empty or let out without registration
    if (b.written_units < b.unit) {
      b.written_units = b.unit;
      b.unit_code = absl::StrCat(b.code, ".u", b.unit);
      Region(b.unit_code, absl::StrCat(b.unit, "单元"), "unit", b.code);
    }
    return;
  }
}

void Generator::FillGrid(const std::string& grid_code, absl::string_view estate,
                         int64_t residents) {
  Building b;
  while (residents > 0) {
    NextFlat(grid_code, estate, b);
    // Household sizes of urban Hangzhou: about 2.5 people on average.
    const int64_t draw = rng_.Between(0, 99);
    int size = draw < 22 ? 1 : draw < 54 ? 2 : draw < 82 ? 3 : draw < 93 ? 4 : 5;
    if (size > residents) size = static_cast<int>(residents);
    const std::string code = absl::StrFormat("%s-%d%02d", b.unit_code, b.floor, b.room);
    if (first_household_.empty()) {
      first_household_ = code;
      first_unit_ = b.unit_code;
    }
    const std::string address = absl::StrCat(kStreetAddress, estate, b.number, "幢", b.unit, "单元",
                                             absl::StrFormat("%d%02d", b.floor, b.room), "室");
    Household(code, b.unit_code, address, size);
    residents -= size;
  }
}

SeedCounts Generator::Run() {
  Row(*out_.regions, {"code", "name", "level", "parent_code", "boundary", "valid_from"});
  Row(*out_.households, {"code", "region_code", "address"});
  Row(*out_.residents,
      {"name", "gender", "birth_date", "id_number", "phone", "household_code", "region_code",
       "tags", "contact_by_phone", "share_with_volunteers", "publish_in_ledger"});
  Row(*out_.staff, {"region_code", "person_id", "name", "role", "on_duty", "phone", "duty",
                    "department", "valid_from"});

  Region(kCityCode, "杭州市", "city", "");
  Region(kDistrictCode, "西湖区", "district", kCityCode);
  Region(kStreetCode, "文新街道", "street", kDistrictCode);
  Staff(kStreetCode, "region_leader", "街道网格化服务管理中心主任，统筹全街道网格工作");
  Staff(kStreetCode, "supervisor", "督导各社区网格走访、上报、处置工作的落实");

  const auto [community_rows, community_cols, grid_rows, grid_cols] =
      ChooseLayout(options_.communities, options_.grids_per_community);
  const Lattice lattice(options_.seed, community_rows * grid_rows, community_cols * grid_cols);
  const int64_t grids = static_cast<int64_t>(options_.communities) * options_.grids_per_community;
  const absl::Span<const char* const> community_names = internal::CommunityNames();
  const absl::Span<const char* const> estates = internal::EstateNames();
  int64_t grid_index = 0;
  for (int k = 0; k < options_.communities; ++k) {
    const std::string community = absl::StrFormat("%s.%03d", kStreetCode, k + 1);
    const std::string community_name = static_cast<size_t>(k) < community_names.size()
                                           ? std::string(community_names[k])
                                           : absl::StrCat("文新第", k + 1, "社区");
    Region(community, community_name, "community", kStreetCode);
    Staff(community, "region_leader", "社区党委书记、居委会主任，负责社区网格化服务管理");
    for (int j = 0; j < options_.grids_per_community; ++j, ++grid_index) {
      const int row = (k / community_cols) * grid_rows + j / grid_cols;
      const int col = (k % community_cols) * grid_cols + j % grid_cols;
      const std::string grid = absl::StrFormat("%s.g%02d", community, j + 1);
      Region(grid, absl::StrCat(community_name, "第", j + 1, "网格"), "grid", community,
             lattice.Boundary(row, col), kValidFrom);
      Staff(grid, "grid_leader", "统筹网格内各项工作，组织网格员走访排查、上报事件");
      const int workers = rng_.Chance(0.5) ? 2 : 1;
      for (int w = 0; w < workers; ++w) {
        Staff(grid, "grid_worker", "入户走访、信息采集、隐患排查、矛盾调解、政策宣传");
      }
      const int64_t share = options_.residents / grids + (grid_index < options_.residents % grids);
      FillGrid(grid, estates[static_cast<size_t>(grid_index) % estates.size()], share);
    }
  }
  if (options_.bad_rows) BadRows();
  return counts_;
}

// Rows an import must turn down, each for one reason. The unterminated quote comes
// before another bad row, so a reader that does not recover from it loses that one too.
void Generator::BadRows() {
  constexpr char kNoCommunity[] = "3301.06.003.999";
  const std::string no_grid = absl::StrCat(kNoCommunity, ".g01");
  const std::string no_unit = absl::StrCat(no_grid, ".b01.u1");
  const std::string grid = absl::StrCat(kStreetCode, ".001.g01");
  const std::string unit = first_unit_.empty() ? grid : first_unit_;
  const std::string household = first_household_;
  const int64_t before = counts_.regions + counts_.households + counts_.residents + counts_.staff;

  // Regions: an unknown parent, an unterminated quote, a level that does not exist.
  Region(no_grid, "不存在社区的网格", "grid", kNoCommunity,
         "30.300000 120.080000;30.300000 120.081000;30.301000 120.081000;30.301000 120.080000",
         kValidFrom);
  *out_.regions << '"' << grid << ".q1,引号未闭合,building," << grid << ",,\n";
  ++counts_.regions;
  Region(absl::StrCat(grid, ".x1"), "错误层级", "village", grid);

  // Households: an unknown region, an unterminated quote, no code.
  Row(*out_.households, {absl::StrCat(no_unit, "-101"), no_unit, "不存在的单元"});
  *out_.households << '"' << unit << "-9901," << unit << ",引号未闭合\n";
  Row(*out_.households, {"", unit, "户号缺失"});
  counts_.households += 3;

  // Residents: a wrong check character, an unknown household and region, a bad phone,
  // an unterminated quote, a gender that does not exist.
  Person p = MakePerson(true, 30, 60);
  absl::CivilDay birth = p.birth;
  std::string id = IdNumber(birth, true);
  id.back() = id.back() == '0' ? '1' : '0';
  Row(*out_.residents, {p.name, "male", absl::FormatCivilTime(birth), id, ResidentPhone(),
                        household, unit, "", "true", "false", "false"});
  p = MakePerson(false, 30, 60);
  birth = p.birth;
  Row(*out_.residents,
      {p.name, "female", absl::FormatCivilTime(birth), IdNumber(birth, false), ResidentPhone(),
       absl::StrCat(no_unit, "-101"), no_unit, "", "true", "false", "false"});
  p = MakePerson(true, 30, 60);
  birth = p.birth;
  Row(*out_.residents, {p.name, "male", absl::FormatCivilTime(birth), IdNumber(birth, true),
                        "1380571000", household, unit, "", "true", "false", "false"});
  *out_.residents << "\"" << MakePerson(false, 30, 60).name << ",female,,,," << household << ","
                  << unit << ",,true,false,false\n";
  p = MakePerson(true, 30, 60);
  birth = p.birth;
  Row(*out_.residents, {p.name, "robot", absl::FormatCivilTime(birth), IdNumber(birth, true),
                        ResidentPhone(), household, unit, "", "true", "false", "false"});
  counts_.residents += 5;

  // Staff: an unknown region, a bad phone, an unterminated quote, a role that does not
  // exist.
  Row(*out_.staff, {no_grid, "staff-99001", MakePerson(true, 30, 50).name, "grid_worker", "true",
                    StaffPhone(), "", "", kValidFrom});
  Row(*out_.staff, {grid, "staff-99002", MakePerson(false, 30, 50).name, "grid_worker", "true",
                    "12345", "", "", kValidFrom});
  *out_.staff << '"' << grid << ",staff-99003," << MakePerson(true, 30, 50).name
              << ",grid_worker,true,,,,\n";
  Row(*out_.staff, {grid, "staff-99004", MakePerson(false, 30, 50).name, "mayor", "true",
                    StaffPhone(), "", "", kValidFrom});
  counts_.staff += 4;

  counts_.bad_rows =
      counts_.regions + counts_.households + counts_.residents + counts_.staff - before;
}

absl::Status CheckRange(absl::string_view name, int64_t value, int64_t lo, int64_t hi) {
  if (value >= lo && value <= hi) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(name, " must be from ", lo, " to ", hi, " (got ", value, ")"));
}

}  // namespace

absl::StatusOr<SeedCounts> Generate(const SeedOptions& options, const SeedOutput& out) {
  if (absl::Status s = CheckRange("communities", options.communities, 1, 999); !s.ok()) return s;
  if (absl::Status s = CheckRange("grids", options.grids_per_community, 1, 99); !s.ok()) return s;
  if (absl::Status s = CheckRange("residents", options.residents, 0, kMaxResidents); !s.ok()) {
    return s;
  }
  if (out.regions == nullptr || out.households == nullptr || out.residents == nullptr ||
      out.staff == nullptr) {
    return absl::InvalidArgumentError("every output stream is required");
  }
  Generator generator(options, out);
  SeedCounts counts = generator.Run();
  for (std::ostream* s : {out.regions, out.households, out.residents, out.staff}) {
    s->flush();
    if (!*s) return absl::InternalError("writing the seed data failed");
  }
  return counts;
}

absl::StatusOr<SeedCounts> WriteSeedFiles(const SeedOptions& options, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(dir, ": ", ec.message()));
  const std::filesystem::path base(dir);
  std::ofstream regions(base / "regions.csv", std::ios::binary | std::ios::trunc);
  std::ofstream households(base / "households.csv", std::ios::binary | std::ios::trunc);
  std::ofstream residents(base / "residents.csv", std::ios::binary | std::ios::trunc);
  std::ofstream staff(base / "staff.csv", std::ios::binary | std::ios::trunc);
  if (!regions || !households || !residents || !staff) {
    return absl::InternalError(absl::StrCat(dir, ": cannot create the CSV files"));
  }
  absl::StatusOr<SeedCounts> counts =
      Generate(options, {&regions, &households, &residents, &staff});
  if (!counts.ok()) return counts.status();
  for (std::ofstream* f : {&regions, &households, &residents, &staff}) {
    f->close();
    if (!*f) return absl::InternalError(absl::StrCat(dir, ": writing the CSV files failed"));
  }
  return counts;
}

}  // namespace gridloop::seedgen
