#include "services/dispatch/staff_cache.h"

#include <map>
#include <string>

#include "common/clock/clock.h"
#include "gtest/gtest.h"

namespace gridloop::dispatch {
namespace {

// Residents' answers, by region; counts the questions.
class Roster final : public StaffDirectory {
 public:
  absl::StatusOr<v1::GetResponsibleResponse> Responsible(absl::string_view region,
                                                         absl::Time) override {
    ++asked;
    auto it = leaders.find(std::string(region));
    if (it == leaders.end()) return absl::NotFoundError("no such region");
    v1::GetResponsibleResponse r;
    r.mutable_leader()->set_person_id(it->second);
    return r;
  }
  absl::StatusOr<bool> ResidentExists(absl::string_view) override {
    ++asked;
    return true;
  }

  std::map<std::string, std::string> leaders;
  int asked = 0;
};

const absl::Time kAt = absl::FromUnixSeconds(1'780'000'040);  // 20 s into a minute

std::string Leader(StaffDirectory& d, const std::string& region, absl::Time at = kAt) {
  absl::StatusOr<v1::GetResponsibleResponse> r = d.Responsible(region, at);
  return r.ok() ? r->leader().person_id() : r.status().ToString();
}

TEST(CachingStaffDirectory, AnswersFromTheCacheUntilTheTtlPassesThenSeesTheChange) {
  Roster roster;
  roster.leaders["g1"] = "cl-1";
  FakeClock real;
  CachingStaffDirectory cache(&roster, absl::Seconds(1), &real);
  EXPECT_EQ(Leader(cache, "g1"), "cl-1");
  roster.leaders["g1"] = "cl-2";  // the roster is edited
  real.Advance(absl::Milliseconds(999));
  EXPECT_EQ(Leader(cache, "g1"), "cl-1");
  EXPECT_EQ(roster.asked, 1);
  real.Advance(absl::Milliseconds(1));
  EXPECT_EQ(Leader(cache, "g1"), "cl-2");
  EXPECT_EQ(roster.asked, 2);
  EXPECT_EQ(cache.hits(), 1);
  EXPECT_EQ(cache.misses(), 2);
}

TEST(CachingStaffDirectory, AnotherMinuteOrRegionIsAskedAfresh) {
  Roster roster;
  roster.leaders["g1"] = "cl-1";
  roster.leaders["g2"] = "cl-9";
  FakeClock real;
  CachingStaffDirectory cache(&roster, absl::Seconds(1), &real);
  EXPECT_EQ(Leader(cache, "g1"), "cl-1");
  EXPECT_EQ(Leader(cache, "g1", kAt + absl::Seconds(30)), "cl-1");  // the same minute
  EXPECT_EQ(roster.asked, 1);
  EXPECT_EQ(Leader(cache, "g1", kAt + absl::Seconds(40)), "cl-1");  // the next minute
  EXPECT_EQ(roster.asked, 2);
  EXPECT_EQ(Leader(cache, "g2"), "cl-9");
  EXPECT_EQ(roster.asked, 3);
}

TEST(CachingStaffDirectory, FailuresAndResidentChecksAreNeverKept) {
  Roster roster;
  FakeClock real;
  CachingStaffDirectory cache(&roster, absl::Seconds(1), &real);
  EXPECT_FALSE(cache.Responsible("nowhere", kAt).ok());
  roster.leaders["nowhere"] = "cl-3";  // created since
  EXPECT_EQ(Leader(cache, "nowhere"), "cl-3");
  EXPECT_EQ(roster.asked, 2);
  ASSERT_TRUE(cache.ResidentExists("r-1").ok());
  ASSERT_TRUE(cache.ResidentExists("r-1").ok());
  EXPECT_EQ(roster.asked, 4);
}

TEST(CachingStaffDirectory, ZeroTtlKeepsNothing) {
  Roster roster;
  roster.leaders["g1"] = "cl-1";
  FakeClock real;
  CachingStaffDirectory cache(&roster, absl::ZeroDuration(), &real);
  EXPECT_EQ(Leader(cache, "g1"), "cl-1");
  EXPECT_EQ(Leader(cache, "g1"), "cl-1");
  EXPECT_EQ(roster.asked, 2);
}

TEST(CachingStaffDirectory, StaysWithinItsSize) {
  Roster roster;
  roster.leaders = {{"g1", "a"}, {"g2", "b"}, {"g3", "c"}};
  FakeClock real;
  CachingStaffDirectory cache(&roster, absl::Minutes(1), &real, /*max_entries=*/2);
  Leader(cache, "g1");
  Leader(cache, "g2");
  Leader(cache, "g3");  // full of live entries: starts afresh with g3 alone
  EXPECT_EQ(roster.asked, 3);
  Leader(cache, "g3");
  EXPECT_EQ(roster.asked, 3);
  Leader(cache, "g1");
  EXPECT_EQ(roster.asked, 4);
}

}  // namespace
}  // namespace gridloop::dispatch
