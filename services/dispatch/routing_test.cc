#include "services/dispatch/routing.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gridloop::dispatch {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The message of a status expected to be InvalidArgument.
std::string InvalidMessage(const absl::Status& status) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  return std::string(status.message());
}

// ---- SkillCatalog

TEST(SkillCatalog, DefaultListsTheFourteenSkillsInOrder) {
  const SkillCatalog catalog = SkillCatalog::Default();
  ASSERT_EQ(catalog.all().size(), 14u);
  EXPECT_EQ(catalog.all().front(), "medical");
  EXPECT_EQ(catalog.all().back(), "driving");
  EXPECT_EQ(catalog.Bit("medical"), SkillSet{1} << 0);
  EXPECT_EQ(catalog.Bit("legal"), SkillSet{1} << 1);
  EXPECT_EQ(catalog.Bit("driving"), SkillSet{1} << 13);
  EXPECT_EQ(catalog.Bit("juggling"), std::nullopt);
}

TEST(SkillCatalog, ASkillsBitIsItsPositionInTheList) {
  absl::StatusOr<SkillCatalog> catalog = SkillCatalog::Parse(" repair , medical,first_aid ");
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  EXPECT_THAT(catalog->all(), ElementsAre("repair", "medical", "first_aid"));
  EXPECT_EQ(catalog->Bit("repair"), SkillSet{1});
  EXPECT_EQ(catalog->Bit("medical"), SkillSet{2});
  EXPECT_EQ(catalog->Bit("first_aid"), SkillSet{4});
}

TEST(SkillCatalog, SixtyFourSkillsFitAndTheLastTakesTheTopBit) {
  std::string list;
  for (int i = 0; i < 64; ++i) list += (i == 0 ? "s" : ",s") + std::to_string(i);
  absl::StatusOr<SkillCatalog> catalog = SkillCatalog::Parse(list);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  EXPECT_EQ(catalog->Bit("s63"), SkillSet{1} << 63);

  EXPECT_THAT(InvalidMessage(SkillCatalog::Parse(list + ",s64").status()),
              HasSubstr("at most 64 (got 65)"));
}

TEST(SkillCatalog, ParseNamesTheFirstBadSkill) {
  EXPECT_THAT(InvalidMessage(SkillCatalog::Parse("medical,Legal,x y").status()),
              HasSubstr("\"Legal\""));
  EXPECT_THAT(InvalidMessage(SkillCatalog::Parse("medical,,legal").status()), HasSubstr("\"\""));
  EXPECT_THAT(InvalidMessage(SkillCatalog::Parse(std::string(33, 'a')).status()),
              HasSubstr("1-32 of [a-z0-9_]"));
  EXPECT_TRUE(SkillCatalog::Parse(std::string(32, 'a')).ok());
}

TEST(SkillCatalog, ParseRejectsDuplicatesAndEmptyLists) {
  EXPECT_THAT(InvalidMessage(SkillCatalog::Parse("medical,legal,medical").status()),
              HasSubstr("duplicate \"medical\""));
  EXPECT_THAT(InvalidMessage(SkillCatalog::Parse("").status()), HasSubstr("none"));
  EXPECT_THAT(InvalidMessage(SkillCatalog::Parse("  ").status()), HasSubstr("none"));
}

TEST(SkillCatalog, SetOfCombinesBitsAndNamesTheFieldOfAnUnknownSkill) {
  const SkillCatalog catalog = SkillCatalog::Default();
  EXPECT_EQ(catalog.SetOf({}, "skills").value(), SkillSet{0});
  EXPECT_EQ(catalog.SetOf({"medical", "legal", "medical"}, "skills").value(), SkillSet{3});

  const absl::Status unknown =
      catalog.SetOf({"medical", "juggling", "x"}, "volunteer.skills").status();
  EXPECT_THAT(InvalidMessage(unknown), HasSubstr("volunteer.skills: unknown skill \"juggling\""));
}

// ---- Routing::Default

TEST(Routing, DefaultMirrorsTheIncidentCategories) {
  const SkillCatalog skills = SkillCatalog::Default();
  const Routing routing = Routing::Default(skills);
  ASSERT_EQ(routing.all().size(), 12u);

  const Route& street_light = routing.For("street_light");
  EXPECT_EQ(street_light.kind, v1::ASSIGNEE_KIND_DEPARTMENT);
  EXPECT_EQ(street_light.department, "urban_management");
  EXPECT_EQ(street_light.skills, SkillSet{0});

  const Route& roof_leak = routing.For("roof_leak");
  EXPECT_EQ(roof_leak.kind, v1::ASSIGNEE_KIND_GRID_WORKER);
  EXPECT_EQ(roof_leak.department, "housing");
  EXPECT_THAT(roof_leak.skill_names, ElementsAre("repair", "plumbing"));
  EXPECT_EQ(roof_leak.skills, *skills.Bit("repair") | *skills.Bit("plumbing"));

  const Route& elderly = routing.For("elderly_help");
  EXPECT_EQ(elderly.kind, v1::ASSIGNEE_KIND_VOLUNTEER);
  EXPECT_EQ(elderly.department, "civil_affairs");
  EXPECT_EQ(elderly.skills,
            skills.SetOf({"elderly_care", "companionship", "medical"}, "skills").value());

  const Route& disability = routing.For("disability_help");
  EXPECT_EQ(disability.kind, v1::ASSIGNEE_KIND_VOLUNTEER);
  EXPECT_THAT(disability.skill_names, ElementsAre("disability_care", "companionship", "medical"));

  EXPECT_EQ(routing.For("neighbour_dispute").department, "justice");
  EXPECT_THAT(routing.For("neighbour_dispute").skill_names, ElementsAre("mediation", "legal"));
  EXPECT_EQ(routing.For("noise").department, "public_security");
  EXPECT_THAT(routing.For("sanitation").skill_names, ElementsAre("cleaning"));
  EXPECT_EQ(routing.For("illegal_construction").kind, v1::ASSIGNEE_KIND_DEPARTMENT);
  EXPECT_EQ(routing.For("property_management").department, "housing");
  EXPECT_EQ(routing.For("safety_hazard").department, "emergency_management");
  EXPECT_THAT(routing.For("safety_hazard").skill_names, ElementsAre("first_aid", "electrical"));
  EXPECT_EQ(routing.For("public_facility").kind, v1::ASSIGNEE_KIND_DEPARTMENT);
  EXPECT_EQ(routing.For("public_facility").department, "housing");
  EXPECT_EQ(routing.For("other").department, "comprehensive_governance");

  for (const Route& route : routing.all()) {
    EXPECT_FALSE(route.department.empty()) << route.category;
  }
}

TEST(Routing, DefaultLeavesOutSkillsTheCatalogLacks) {
  const SkillCatalog skills = SkillCatalog::Parse("companionship,repair").value();
  const Routing routing = Routing::Default(skills);
  EXPECT_THAT(routing.For("elderly_help").skill_names, ElementsAre("companionship"));
  EXPECT_EQ(routing.For("elderly_help").skills, SkillSet{1});
  EXPECT_THAT(routing.For("roof_leak").skill_names, ElementsAre("repair"));
}

TEST(Routing, UnknownCategoriesGoToTheComprehensiveGovernanceCentre) {
  const Routing routing = Routing::Default(SkillCatalog::Default());
  const Route& route = routing.For("alien_landing");
  EXPECT_EQ(route.kind, v1::ASSIGNEE_KIND_GRID_WORKER);
  EXPECT_EQ(route.department, "comprehensive_governance");
  EXPECT_EQ(route.skills, SkillSet{0});
}

// ---- Routing::FromCsv

constexpr absl::string_view kHeader = "category,route,department,skills\n";

TEST(Routing, ParsesCsv) {
  const SkillCatalog skills = SkillCatalog::Default();
  absl::StatusOr<Routing> routing =
      Routing::FromCsv(absl::StrCat("# A city's own routing.\n", kHeader,
                                    "elderly_help,volunteer,civil_affairs,elderly_care|medical\r\n"
                                    "\n"
                                    " street_light , department , urban_management , \n"),
                       skills);
  ASSERT_TRUE(routing.ok()) << routing.status();
  ASSERT_EQ(routing->all().size(), 2u);
  const Route& elderly = routing->For("elderly_help");
  EXPECT_EQ(elderly.category, "elderly_help");
  EXPECT_EQ(elderly.kind, v1::ASSIGNEE_KIND_VOLUNTEER);
  EXPECT_EQ(elderly.department, "civil_affairs");
  EXPECT_THAT(elderly.skill_names, ElementsAre("elderly_care", "medical"));
  EXPECT_EQ(elderly.skills, *skills.Bit("elderly_care") | *skills.Bit("medical"));
  const Route& light = routing->For("street_light");
  EXPECT_EQ(light.kind, v1::ASSIGNEE_KIND_DEPARTMENT);
  EXPECT_EQ(light.skills, SkillSet{0});
  EXPECT_TRUE(light.skill_names.empty());
  // Without a "*" row the built-in fallback applies.
  EXPECT_EQ(routing->For("noise").department, "comprehensive_governance");
}

TEST(Routing, AStarRowIsTheFallback) {
  absl::StatusOr<Routing> routing = Routing::FromCsv(
      absl::StrCat(kHeader, "*,volunteer,civil_affairs,companionship\n"), SkillCatalog::Default());
  ASSERT_TRUE(routing.ok()) << routing.status();
  EXPECT_TRUE(routing->all().empty());
  const Route& route = routing->For("anything");
  EXPECT_EQ(route.category, "*");
  EXPECT_EQ(route.kind, v1::ASSIGNEE_KIND_VOLUNTEER);
  EXPECT_EQ(route.department, "civil_affairs");
  EXPECT_THAT(route.skill_names, ElementsAre("companionship"));
}

TEST(Routing, CsvErrorsNameTheLineAndColumn) {
  const SkillCatalog skills = SkillCatalog::Default();
  auto error = [&](absl::string_view rows) {
    return InvalidMessage(Routing::FromCsv(absl::StrCat(kHeader, rows), skills).status());
  };
  EXPECT_THAT(error("noise,grid_worker,public_security,\nBad Code,grid_worker,x,\n"),
              HasSubstr("routing line 3, column 1 (category)"));
  EXPECT_THAT(error("noise,grid_worker,public_security,\nnoise,volunteer,x,\n"),
              HasSubstr("line 3, column 1 (category): \"noise\" already routed on line 2"));
  EXPECT_THAT(error("noise,police,public_security,\n"),
              HasSubstr("line 2, column 2 (route): unknown route \"police\""));
  EXPECT_THAT(error("noise,grid_worker,,\n"), HasSubstr("line 2, column 3 (department): required"));
  EXPECT_THAT(error("noise,grid_worker,Public Security,\n"),
              HasSubstr("line 2, column 3 (department)"));
  EXPECT_THAT(error("elderly_help,volunteer,civil_affairs,medical|juggling\n"),
              HasSubstr("line 2, column 4 (skills): unknown skill \"juggling\""));
  EXPECT_THAT(error("elderly_help,volunteer,civil_affairs,medical||legal\n"),
              HasSubstr("line 2, column 4 (skills): unknown skill \"\""));
  EXPECT_THAT(error("elderly_help,volunteer,civil_affairs,medical|medical\n"),
              HasSubstr("line 2, column 4 (skills): \"medical\" listed twice"));
  EXPECT_THAT(error("noise,grid_worker,public_security\n"),
              HasSubstr("line 2: expected 4 columns, got 3"));
  EXPECT_THAT(error("*,grid_worker,a,\n*,grid_worker,b,\n"),
              HasSubstr("line 3, column 1 (category): \"*\" already routed on line 2"));
}

TEST(Routing, CsvNeedsTheHeaderFirstAndAtLeastOneRoute) {
  const SkillCatalog skills = SkillCatalog::Default();
  EXPECT_THAT(
      InvalidMessage(Routing::FromCsv("noise,grid_worker,public_security,\n", skills).status()),
      HasSubstr("line 1: expected the header"));
  // Columns in another order would send incidents to the wrong place.
  EXPECT_THAT(
      InvalidMessage(
          Routing::FromCsv("# routes\ncategory,department,route,skills\n", skills).status()),
      HasSubstr("line 2: expected the header"));
  EXPECT_THAT(InvalidMessage(Routing::FromCsv("", skills).status()), HasSubstr("empty"));
  EXPECT_THAT(InvalidMessage(Routing::FromCsv(kHeader, skills).status()),
              HasSubstr("no route defined"));
}

TEST(Routing, CsvSkillsComeFromTheGivenCatalog) {
  const SkillCatalog skills = SkillCatalog::Parse("gardening,medical").value();
  absl::StatusOr<Routing> routing = Routing::FromCsv(
      absl::StrCat(kHeader, "elderly_help,volunteer,civil_affairs,medical\n"), skills);
  ASSERT_TRUE(routing.ok()) << routing.status();
  EXPECT_EQ(routing->For("elderly_help").skills, SkillSet{2});
  EXPECT_FALSE(
      Routing::FromCsv(absl::StrCat(kHeader, "x,volunteer,civil_affairs,legal\n"), skills).ok());
}

}  // namespace
}  // namespace gridloop::dispatch
