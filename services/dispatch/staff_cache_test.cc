#include "services/dispatch/staff_cache.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

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

// Background work held until the test runs it, so each step is seen in order.
class HeldTasks {
 public:
  CachingStaffDirectory::Background Runner() {
    return [this](absl::AnyInvocable<void() &&> task) {
      if (refuse) return false;
      tasks_.push_back(std::move(task));
      return true;
    };
  }
  size_t pending() const { return tasks_.size(); }
  void RunAll() {
    std::vector<absl::AnyInvocable<void()&&>> tasks = std::move(tasks_);
    tasks_.clear();
    for (auto& t : tasks) std::move(t)();
  }
  bool refuse = false;

 private:
  std::vector<absl::AnyInvocable<void() &&>> tasks_;
};

// A one-second cache over a roster where g1's leader is cl-1, renewing in the background.
class RenewingStaffDirectory : public ::testing::Test {
 protected:
  RenewingStaffDirectory() { roster_.leaders["g1"] = "cl-1"; }

  Roster roster_;
  FakeClock real_;
  HeldTasks background_;
  CachingStaffDirectory cache_{&roster_, absl::Seconds(1), &real_, 10000, background_.Runner()};
};

TEST_F(RenewingStaffDirectory, AnAnswerPastHalfItsTtlIsRenewedWhileItStillServes) {
  EXPECT_EQ(Leader(cache_, "g1"), "cl-1");
  real_.Advance(absl::Milliseconds(499));
  EXPECT_EQ(Leader(cache_, "g1"), "cl-1");
  EXPECT_EQ(background_.pending(), 0);

  roster_.leaders["g1"] = "cl-2";  // the roster is edited
  real_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(Leader(cache_, "g1"), "cl-1");  // served at once, renewed behind it
  EXPECT_EQ(Leader(cache_, "g1"), "cl-1");
  EXPECT_EQ(background_.pending(), 1);  // once, however often it is used meanwhile
  background_.RunAll();
  EXPECT_EQ(roster_.asked, 2);

  // Past the first answer's ttl, the renewed one serves: nobody waited on residents.
  real_.Advance(absl::Milliseconds(600));
  EXPECT_EQ(Leader(cache_, "g1"), "cl-2");
  EXPECT_EQ(roster_.asked, 2);
  EXPECT_EQ(cache_.misses(), 1);
  EXPECT_EQ(cache_.renewals(), 2);  // the renewed answer is past half its own ttl too
  // Unused, it lapses as before: never older than the ttl.
  real_.Advance(absl::Seconds(1));
  roster_.leaders["g1"] = "cl-3";
  EXPECT_EQ(Leader(cache_, "g1"), "cl-3");
  EXPECT_EQ(cache_.misses(), 2);
}

TEST_F(RenewingStaffDirectory, TheNextMinuteIsAskedForAheadOfIt) {
  const absl::Time minute_end = kAt + absl::Seconds(40);
  EXPECT_EQ(Leader(cache_, "g1", minute_end - absl::Milliseconds(1500)), "cl-1");
  EXPECT_EQ(Leader(cache_, "g1", minute_end - absl::Milliseconds(1001)), "cl-1");
  EXPECT_EQ(background_.pending(), 0);
  EXPECT_EQ(Leader(cache_, "g1", minute_end - absl::Milliseconds(1000)), "cl-1");
  ASSERT_EQ(background_.pending(), 1);
  background_.RunAll();
  EXPECT_EQ(roster_.asked, 2);
  EXPECT_EQ(Leader(cache_, "g1", minute_end), "cl-1");
  EXPECT_EQ(Leader(cache_, "g1", minute_end + absl::Seconds(59)), "cl-1");
  EXPECT_EQ(roster_.asked, 2);
  EXPECT_EQ(cache_.misses(), 1);
}

TEST_F(RenewingStaffDirectory, AFailedRenewalIsTriedAgainAQuarterTtlLater) {
  EXPECT_EQ(Leader(cache_, "g1"), "cl-1");
  roster_.leaders.clear();  // residents now answers NotFound
  real_.Advance(absl::Milliseconds(500));
  EXPECT_EQ(Leader(cache_, "g1"), "cl-1");
  background_.RunAll();
  EXPECT_EQ(Leader(cache_, "g1"), "cl-1");  // still within its ttl
  EXPECT_EQ(background_.pending(), 0);
  real_.Advance(absl::Milliseconds(249));
  EXPECT_EQ(Leader(cache_, "g1"), "cl-1");
  EXPECT_EQ(background_.pending(), 0);
  real_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(Leader(cache_, "g1"), "cl-1");
  EXPECT_EQ(background_.pending(), 1);
  roster_.leaders["g1"] = "cl-2";
  background_.RunAll();
  real_.Advance(absl::Milliseconds(300));  // past the first answer's ttl
  EXPECT_EQ(Leader(cache_, "g1"), "cl-2");
  EXPECT_EQ(cache_.misses(), 1);

  // Background refused (its queue full): the answer just lapses.
  background_.refuse = true;
  real_.Advance(absl::Milliseconds(600));
  EXPECT_EQ(Leader(cache_, "g1"), "cl-2");
  EXPECT_EQ(cache_.renewals(), 2);
}

}  // namespace
}  // namespace gridloop::dispatch
