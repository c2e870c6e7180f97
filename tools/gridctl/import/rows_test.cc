#include "tools/gridctl/import/rows.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gridloop::gridctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

RowConverter Converter(FileKind kind, const std::vector<std::string>& header) {
  absl::StatusOr<RowConverter> c = RowConverter::Create(kind, header);
  EXPECT_TRUE(c.ok()) << c.status();
  return *std::move(c);
}

// The reason `fields` are turned down, or "" when they are not.
std::string RejectOf(const RowConverter& c, const std::vector<std::string>& fields) {
  absl::StatusOr<v1::ImportItem> item = c.Convert(fields);
  if (item.ok()) return "";
  EXPECT_EQ(item.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(item.status().message());
}

TEST(RowConverter, HeaderNamesUnknownRepeatedAndMissingColumns) {
  absl::StatusOr<RowConverter> c =
      RowConverter::Create(FileKind::kRegions, {"code", "colour", "code", "level"});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("unknown column \"colour\""));
  EXPECT_THAT(c.status().message(), HasSubstr("column \"code\" appears twice"));
  EXPECT_THAT(c.status().message(), HasSubstr("missing column \"name\""));

  EXPECT_FALSE(RowConverter::Create(FileKind::kHouseholds, {"code", "address"}).ok());
  EXPECT_FALSE(RowConverter::Create(FileKind::kResidents, {"id_number"}).ok());
  EXPECT_FALSE(RowConverter::Create(FileKind::kStaff, {"region_code", "person_id", "name"}).ok());
  for (FileKind kind : kFileKinds) {
    EXPECT_TRUE(RowConverter::Create(kind, ColumnsOf(kind)).ok()) << FileKindName(kind);
  }
}

TEST(RegionRows, GridWithBoundaryHolesAndValidFrom) {
  RowConverter c = Converter(FileKind::kRegions, ColumnsOf(FileKind::kRegions));
  absl::StatusOr<v1::ImportItem> item = c.Convert(
      {"3301.06.003.001.g01", "竞舟社区第1网格", "grid", "3301.06.003.001",
       "30.1 120.1;30.1 120.2; 30.2 120.2 ;30.2 120.1;|30.12 120.12;30.12 120.13;30.13 120.13",
       "2024-03-01T08:00:00+08:00"});
  ASSERT_TRUE(item.ok()) << item.status();
  const v1::Region& r = item->region();
  EXPECT_EQ(r.code(), "3301.06.003.001.g01");
  EXPECT_EQ(r.name(), "竞舟社区第1网格");
  EXPECT_EQ(r.level(), v1::REGION_LEVEL_GRID);
  EXPECT_EQ(r.parent_code(), "3301.06.003.001");
  ASSERT_EQ(r.boundary_size(), 4);
  EXPECT_DOUBLE_EQ(r.boundary(2).latitude(), 30.2);
  EXPECT_DOUBLE_EQ(r.boundary(2).longitude(), 120.2);
  ASSERT_EQ(r.holes_size(), 1);
  EXPECT_EQ(r.holes(0).points_size(), 3);
  EXPECT_EQ(r.boundary_valid_from().seconds(), 1709251200);  // 2024-03-01T00:00:00Z
}

TEST(RegionRows, ColumnsInAnyOrderAndOptionalOnesAbsent) {
  RowConverter c = Converter(FileKind::kRegions, {"level", "name", "code"});
  absl::StatusOr<v1::ImportItem> item = c.Convert({"City", " 杭州市 ", "3301"});
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->region().code(), "3301");
  EXPECT_EQ(item->region().name(), "杭州市");
  EXPECT_EQ(item->region().level(), v1::REGION_LEVEL_CITY);
  EXPECT_EQ(item->region().parent_code(), "");
  EXPECT_FALSE(item->region().has_boundary_valid_from());
}

TEST(RegionRows, Rejects) {
  RowConverter c = Converter(FileKind::kRegions, ColumnsOf(FileKind::kRegions));
  const std::string square = "30.1 120.1;30.1 120.2;30.2 120.2;30.2 120.1";
  EXPECT_EQ(RejectOf(c, {"3301", "杭州市", "city", "", "", ""}), "");
  EXPECT_EQ(RejectOf(c, {"", "x", "city", "", "", ""}), "code: required");
  EXPECT_EQ(RejectOf(c, {"3301", "", "city", "", "", ""}), "name: required");
  EXPECT_THAT(RejectOf(c, {"3301", "x", "town", "", "", ""}),
              HasSubstr("level: \"town\" is not one of city, district"));
  EXPECT_THAT(RejectOf(c, {"3301", "x", "unspecified", "", "", ""}), HasSubstr("level:"));
  EXPECT_EQ(RejectOf(c, {"3301.1", "x", "building", "3301", square, ""}),
            "boundary: only grids and micro-grids have a boundary");
  EXPECT_EQ(RejectOf(c, {"g", "x", "micro_grid", "p", square, ""}), "");
  EXPECT_THAT(RejectOf(c, {"g", "x", "grid", "p", "30.1 120.1;30.1;30.2 120.2", ""}),
              HasSubstr("boundary: \"30.1\" is not \"latitude longitude\""));
  EXPECT_THAT(RejectOf(c, {"g", "x", "grid", "p", "30.1 120.1;30.1 east;30.2 120.2", ""}),
              HasSubstr("is not \"latitude longitude\""));
  EXPECT_THAT(RejectOf(c, {"g", "x", "grid", "p", "95 120.1;30.1 120.2;30.2 120.2", ""}),
              HasSubstr("off the earth"));
  EXPECT_THAT(RejectOf(c, {"g", "x", "grid", "p", "30.1 120.1;30.2 120.2", ""}),
              HasSubstr("a ring needs at least 3 points (got 2)"));
  EXPECT_THAT(RejectOf(c, {"g", "x", "grid", "p", square + "|30.1 120.1", ""}),
              HasSubstr("boundary hole 1: a ring needs at least 3 points"));
  EXPECT_THAT(RejectOf(c, {"g", "x", "grid", "p", square, "2024-03-01"}),
              HasSubstr("valid_from: \"2024-03-01\" is not an RFC 3339 time"));
}

TEST(HouseholdRows, ConvertsAndRejects) {
  RowConverter c = Converter(FileKind::kHouseholds, {"region_code", "code", "address"});
  absl::StatusOr<v1::ImportItem> item =
      c.Convert({"3301.06.003.001.g01.b03.u2", "H-0301", "竞舟苑3幢2单元301室"});
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->household().code(), "H-0301");
  EXPECT_EQ(item->household().region_code(), "3301.06.003.001.g01.b03.u2");
  EXPECT_EQ(item->household().address(), "竞舟苑3幢2单元301室");
  EXPECT_EQ(RejectOf(c, {"", "H-1", ""}), "region_code: required");
  EXPECT_EQ(RejectOf(c, {"r", " ", ""}), "code: required");
}

TEST(ResidentRows, ConvertsEveryColumn) {
  RowConverter c = Converter(FileKind::kResidents, ColumnsOf(FileKind::kResidents));
  absl::StatusOr<v1::ImportItem> item = c.Convert(
      {"王秀英", "Female", "1948-02-29", "33010619480229002X", "13805710001", "H-0301",
       "3301.06.003.001.g01.b03.u2", "elderly_living_alone; low_income;", "yes", "0", "TRUE"});
  ASSERT_TRUE(item.ok()) << item.status();
  const v1::Resident& r = item->resident();
  EXPECT_EQ(r.name(), "王秀英");
  EXPECT_EQ(r.gender(), v1::GENDER_FEMALE);
  EXPECT_EQ(r.birth_date(), "1948-02-29");
  EXPECT_EQ(r.id_number(), "33010619480229002X");
  EXPECT_EQ(r.phone(), "13805710001");
  EXPECT_EQ(r.household_code(), "H-0301");
  EXPECT_EQ(r.household_id(), "");
  EXPECT_EQ(r.region_code(), "3301.06.003.001.g01.b03.u2");
  EXPECT_THAT(r.tags(), ElementsAre("elderly_living_alone", "low_income"));
  EXPECT_TRUE(r.consent().contact_by_phone());
  EXPECT_FALSE(r.consent().share_with_volunteers());
  EXPECT_TRUE(r.consent().publish_in_ledger());
}

TEST(ResidentRows, EmptyOptionalColumnsWithholdConsent) {
  RowConverter c = Converter(FileKind::kResidents, {"name", "household_code"});
  absl::StatusOr<v1::ImportItem> item = c.Convert({"李明", "H-1"});
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_EQ(item->resident().gender(), v1::GENDER_UNSPECIFIED);
  EXPECT_TRUE(item->resident().tags().empty());
  EXPECT_FALSE(item->resident().consent().contact_by_phone());
  EXPECT_FALSE(item->resident().consent().share_with_volunteers());
  EXPECT_FALSE(item->resident().consent().publish_in_ledger());
}

TEST(ResidentRows, Rejects) {
  RowConverter c = Converter(FileKind::kResidents, {"name", "gender", "birth_date", "id_number",
                                                    "household_code", "contact_by_phone"});
  EXPECT_EQ(RejectOf(c, {"", "", "", "330106200001010011", "", ""}), "name: required");
  EXPECT_EQ(RejectOf(c, {"李明", "", "", "", "", ""}),
            "id_number: required when household_code is empty");
  EXPECT_THAT(RejectOf(c, {"李明", "m", "", "", "H", ""}),
              HasSubstr("gender: \"m\" is not one of male, female or empty"));
  EXPECT_THAT(RejectOf(c, {"李明", "", "2001-02-29", "", "H", ""}),
              HasSubstr("birth_date: \"2001-02-29\" is not a date"));
  EXPECT_THAT(RejectOf(c, {"李明", "", "20010228", "", "H", ""}), HasSubstr("birth_date:"));
  EXPECT_THAT(RejectOf(c, {"李明", "", "", "", "H", "maybe"}),
              HasSubstr("contact_by_phone: \"maybe\" is not true/false"));
  // The service judges ID numbers and phones; a bad check character is its to reject.
  EXPECT_EQ(RejectOf(c, {"李明", "", "", "330106200001010010", "", ""}), "");
}

TEST(StaffRows, ConvertsEveryRole) {
  RowConverter c = Converter(FileKind::kStaff, ColumnsOf(FileKind::kStaff));
  const std::pair<const char*, v1::StaffRole> roles[] = {
      {"supervisor", v1::STAFF_ROLE_SUPERVISOR},
      {"grid_leader", v1::STAFF_ROLE_GRID_LEADER},
      {"grid_leader_assistant", v1::STAFF_ROLE_GRID_LEADER_ASSISTANT},
      {"grid_worker", v1::STAFF_ROLE_GRID_WORKER},
      {"building_leader", v1::STAFF_ROLE_BUILDING_LEADER},
      {"co_manager", v1::STAFF_ROLE_CO_MANAGER},
      {"liaison", v1::STAFF_ROLE_LIAISON},
      {"public_sentiment_liaison", v1::STAFF_ROLE_PUBLIC_SENTIMENT_LIAISON},
      {"region_leader", v1::STAFF_ROLE_REGION_LEADER},
  };
  for (const auto& [name, role] : roles) {
    absl::StatusOr<v1::ImportItem> item =
        c.Convert({"3301.06.003.001.g01", "p-0001", "张伟", name, "", "13900000000", "巡查走访",
                   "城管", "2024-01-01T00:00:00Z"});
    ASSERT_TRUE(item.ok()) << name << ": " << item.status();
    const v1::AssignStaffRequest& s = item->staff();
    EXPECT_EQ(s.role(), role) << name;
    EXPECT_EQ(s.request_id(), "");
    EXPECT_EQ(s.region_code(), "3301.06.003.001.g01");
    EXPECT_EQ(s.person_id(), "p-0001");
    EXPECT_EQ(s.name(), "张伟");
    EXPECT_TRUE(s.on_duty());  // empty means on duty
    EXPECT_EQ(s.phone(), "13900000000");
    EXPECT_EQ(s.duty(), "巡查走访");
    EXPECT_EQ(s.department(), "城管");
    EXPECT_EQ(s.valid_from().seconds(), 1704067200);
  }
}

TEST(StaffRows, Rejects) {
  RowConverter c = Converter(FileKind::kStaff,
                             {"region_code", "person_id", "name", "role", "on_duty", "valid_from"});
  EXPECT_EQ(RejectOf(c, {"g", "p", "n", "grid_worker", "no", ""}), "");
  EXPECT_FALSE(c.Convert({"g", "p", "n", "grid_worker", "no", ""})->staff().on_duty());
  EXPECT_EQ(RejectOf(c, {"", "p", "n", "grid_worker", "", ""}), "region_code: required");
  EXPECT_EQ(RejectOf(c, {"g", "", "n", "grid_worker", "", ""}), "person_id: required");
  EXPECT_EQ(RejectOf(c, {"g", "p", "", "grid_worker", "", ""}), "name: required");
  EXPECT_THAT(RejectOf(c, {"g", "p", "n", "mayor", "", ""}),
              HasSubstr("role: \"mayor\" is not one of supervisor, grid_leader"));
  EXPECT_THAT(RejectOf(c, {"g", "p", "n", "", "", ""}), HasSubstr("role: \"\" is not one of"));
  EXPECT_THAT(RejectOf(c, {"g", "p", "n", "grid_worker", "2", ""}), HasSubstr("on_duty:"));
  EXPECT_THAT(RejectOf(c, {"g", "p", "n", "grid_worker", "", "yesterday"}),
              HasSubstr("valid_from:"));
}

TEST(ParseBool, AcceptsTheDocumentedSpellings) {
  for (const char* yes : {"true", "TRUE", "1", "yes", "Yes"}) {
    EXPECT_TRUE(*ParseBool("f", yes, false)) << yes;
  }
  for (const char* no : {"false", "False", "0", "no", "NO"}) {
    EXPECT_FALSE(*ParseBool("f", no, true)) << no;
  }
  EXPECT_TRUE(*ParseBool("f", "", true));
  EXPECT_FALSE(*ParseBool("f", "", false));
  EXPECT_FALSE(ParseBool("f", "y", false).ok());
}

}  // namespace
}  // namespace gridloop::gridctl
