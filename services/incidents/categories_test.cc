#include "services/incidents/categories.h"

#include "gtest/gtest.h"

namespace gridloop::incidents {
namespace {

TEST(Taxonomy, DefaultCoversTheDomainsProblems) {
  Taxonomy t = Taxonomy::Default();
  for (const char* code :
       {"roof_leak", "street_light", "neighbour_dispute", "noise", "sanitation",
        "illegal_construction", "property_management", "elderly_help", "safety_hazard"}) {
    ASSERT_NE(t.Find(code), nullptr) << code;
    EXPECT_LE(t.Find(code)->respond_within, t.Find(code)->resolve_within) << code;
  }
  EXPECT_EQ(t.Find("nope"), nullptr);
}

TEST(Taxonomy, ParsesCsvAndNamesTheBadCell) {
  auto t = Taxonomy::FromCsv(
      "code,name,default_urgency,respond_within,resolve_within,handled_by,department\n"
      "leak,漏水,high,2h,48h,grid_worker,\n"
      "light,路灯,normal,4h,24h,department,urban_management\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->all().size(), 2u);
  EXPECT_EQ(t->Find("leak")->respond_within, absl::Hours(2));
  EXPECT_EQ(t->Find("light")->department, "urban_management");

  auto bad = Taxonomy::FromCsv(
      "code,name,default_urgency,respond_within,resolve_within,"
      "handled_by,department\nleak,漏水,urgent,2h,48h,grid_worker,\n");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("line 2, default_urgency"), std::string::npos)
      << bad.status();
  EXPECT_FALSE(Taxonomy::FromCsv("x,y,low,2h,1h,grid_worker,\n").ok());  // resolve < respond
  EXPECT_FALSE(Taxonomy::FromCsv("x,y,low,1h,2h,department,\n").ok());   // department missing
  EXPECT_FALSE(Taxonomy::FromCsv("").ok());
}

}  // namespace
}  // namespace gridloop::incidents
