#include "services/dispatch/policy.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gridloop::dispatch {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr SkillSet kMedical = 1 << 0;
constexpr SkillSet kRepair = 1 << 1;
constexpr SkillSet kCompanionship = 1 << 2;
constexpr SkillSet kLegal = 1 << 3;

constexpr int kMonday = 1;
constexpr int kFriday = 5;
constexpr int kSaturday = 6;
constexpr int kSunday = 7;

const absl::TimeZone& Local() {
  static const auto* const zone =
      new absl::TimeZone(absl::FixedTimeZone(kLocalUtcOffsetMinutes * 60));
  return *zone;
}

// 2025-12-01 is a Monday.
absl::Time LocalTime(int day_of_december, int hour, int minute) {
  return absl::FromCivil(absl::CivilMinute(2025, 12, day_of_december, hour, minute), Local());
}

absl::Time UtcTime(int day_of_december, int hour, int minute) {
  return absl::FromCivil(absl::CivilMinute(2025, 12, day_of_december, hour, minute),
                         absl::UTCTimeZone());
}

// Monday 1 December 2025, 10:00 local: a plain working morning.
const absl::Time kNow = LocalTime(1, 10, 0);

// A candidate that qualifies for anything: every skill, on the spot, idle, any time.
VolunteerCandidate Volunteer(std::string id) {
  VolunteerCandidate c;
  c.id = std::move(id);
  c.skills = kMedical | kRepair | kCompanionship | kLegal;
  c.distance_m = 100;
  c.max_concurrent = 2;
  return c;
}

std::vector<std::string> Ids(const std::vector<RankedVolunteer>& ranked) {
  std::vector<std::string> ids;
  ids.reserve(ranked.size());
  for (const RankedVolunteer& r : ranked) ids.push_back(r.id);
  return ids;
}

JobView Job(SkillSet wanted) {
  JobView job;
  job.incident_id = "i1";
  job.skills_wanted = wanted;
  return job;
}

// ---- Skills

TEST(DispatchPolicy, OnlyVolunteersWithAWantedSkillAreAsked) {
  VolunteerCandidate nurse = Volunteer("nurse");
  nurse.skills = kMedical;
  VolunteerCandidate plumber = Volunteer("plumber");
  plumber.skills = kRepair;
  VolunteerCandidate nobody = Volunteer("no-skills");
  nobody.skills = 0;

  EXPECT_THAT(Ids(RankVolunteers(Job(kMedical | kCompanionship), {nurse, plumber, nobody}, kNow)),
              ElementsAre("nurse"));
}

TEST(DispatchPolicy, AnyVolunteerWillDoWhenNoSkillIsWanted) {
  VolunteerCandidate nurse = Volunteer("nurse");
  nurse.skills = kMedical;
  VolunteerCandidate nobody = Volunteer("no-skills");
  nobody.skills = 0;

  const std::vector<RankedVolunteer> ranked = RankVolunteers(Job(0), {nurse, nobody}, kNow);
  EXPECT_THAT(Ids(ranked), ElementsAre("no-skills", "nurse"));
  // Skills do not count when none are wanted: both score the same and the id decides.
  EXPECT_DOUBLE_EQ(ranked[0].score, ranked[1].score);
}

TEST(DispatchPolicy, NobodyWithAMatchingSkillMeansNobodyIsAsked) {
  VolunteerCandidate plumber = Volunteer("plumber");
  plumber.skills = kRepair;
  EXPECT_THAT(RankVolunteers(Job(kLegal), {plumber}, kNow), IsEmpty());
}

TEST(DispatchPolicy, MoreMatchingSkillsRankHigher) {
  VolunteerCandidate one = Volunteer("a-one-skill");
  one.skills = kMedical;
  VolunteerCandidate two = Volunteer("b-two-skills");
  two.skills = kMedical | kCompanionship;

  EXPECT_THAT(Ids(RankVolunteers(Job(kMedical | kCompanionship), {one, two}, kNow)),
              ElementsAre("b-two-skills", "a-one-skill"));
}

// ---- Distance

TEST(DispatchPolicy, NearerVolunteersRankHigher) {
  VolunteerCandidate far = Volunteer("a-far");
  far.distance_m = 3000;
  VolunteerCandidate near = Volunteer("b-near");
  near.distance_m = 200;

  const std::vector<RankedVolunteer> ranked = RankVolunteers(Job(0), {far, near}, kNow);
  EXPECT_THAT(Ids(ranked), ElementsAre("b-near", "a-far"));
  EXPECT_DOUBLE_EQ(ranked[0].distance_m, 200);
  EXPECT_DOUBLE_EQ(ranked[1].distance_m, 3000);
}

TEST(DispatchPolicy, VolunteersBeyondTheMaximumDistanceAreNotAsked) {
  VolunteerCandidate edge = Volunteer("edge");
  edge.distance_m = 5000;
  VolunteerCandidate beyond = Volunteer("beyond");
  beyond.distance_m = 5000.5;
  EXPECT_THAT(Ids(RankVolunteers(Job(0), {edge, beyond}, kNow)), ElementsAre("edge"));

  PolicyWeights close_only;
  close_only.max_distance_m = 1000;
  EXPECT_THAT(RankVolunteers(Job(0), {edge}, kNow, close_only), IsEmpty());
}

// ---- Availability

TEST(DispatchPolicy, EmptyAvailabilityMeansAnyTime) {
  EXPECT_TRUE(AvailableAt({}, LocalTime(3, 3, 17)));
  EXPECT_TRUE(AvailableAt({}, absl::InfinitePast()));
  EXPECT_TRUE(AvailableAt({}, absl::InfiniteFuture()));
}

TEST(DispatchPolicy, AWindowCoversFromItsStartUpToItsEnd) {
  const std::vector<WeeklyWindow> monday_morning = {{kMonday, 9 * 60, 3 * 60}};
  EXPECT_FALSE(AvailableAt(monday_morning, LocalTime(1, 8, 59)));
  EXPECT_TRUE(AvailableAt(monday_morning, LocalTime(1, 9, 0)));
  EXPECT_TRUE(AvailableAt(monday_morning, LocalTime(1, 11, 59)));
  EXPECT_FALSE(AvailableAt(monday_morning, LocalTime(1, 12, 0)));
  // The same hours on another day, and the next week's Monday.
  EXPECT_FALSE(AvailableAt(monday_morning, LocalTime(2, 10, 0)));
  EXPECT_TRUE(AvailableAt(monday_morning, LocalTime(8, 10, 0)));
}

TEST(DispatchPolicy, AWindowCrossingMidnightCoversTheEarlyHoursOfTheNextDay) {
  // Friday 22:00 for four hours: until Saturday 02:00, exclusive.
  const std::vector<WeeklyWindow> friday_night = {{kFriday, 22 * 60, 4 * 60}};
  EXPECT_FALSE(AvailableAt(friday_night, LocalTime(5, 21, 59)));
  EXPECT_TRUE(AvailableAt(friday_night, LocalTime(5, 23, 0)));
  EXPECT_TRUE(AvailableAt(friday_night, LocalTime(6, 1, 30)));
  EXPECT_FALSE(AvailableAt(friday_night, LocalTime(6, 2, 0)));
  // Saturday's own 22:00 is not Friday's.
  EXPECT_FALSE(AvailableAt(friday_night, LocalTime(6, 23, 0)));
}

TEST(DispatchPolicy, ASundayNightWindowWrapsIntoMonday) {
  const std::vector<WeeklyWindow> sunday_night = {{kSunday, 23 * 60, 3 * 60}};
  EXPECT_TRUE(AvailableAt(sunday_night, LocalTime(7, 23, 30)));
  EXPECT_TRUE(AvailableAt(sunday_night, LocalTime(8, 1, 59)));  // Monday
  EXPECT_FALSE(AvailableAt(sunday_night, LocalTime(8, 2, 0)));
  // Monday 1 December's early hours follow Sunday 30 November.
  EXPECT_TRUE(AvailableAt(sunday_night, LocalTime(1, 0, 30)));
  EXPECT_FALSE(AvailableAt(sunday_night, LocalTime(6, 23, 30)));  // Saturday
}

TEST(DispatchPolicy, WindowsAreInLocalTimeNotUtc) {
  // 09:00 local (UTC+8) on Monday is 01:00 UTC on Monday.
  const std::vector<WeeklyWindow> monday_nine = {{kMonday, 9 * 60, 60}};
  EXPECT_TRUE(AvailableAt(monday_nine, UtcTime(1, 1, 0)));
  EXPECT_TRUE(AvailableAt(monday_nine, UtcTime(1, 1, 59)));
  EXPECT_FALSE(AvailableAt(monday_nine, UtcTime(1, 2, 0)));
  EXPECT_FALSE(AvailableAt(monday_nine, UtcTime(1, 9, 0)));  // 17:00 local

  // 01:00 local on Saturday is still Friday in UTC.
  const std::vector<WeeklyWindow> saturday_one = {{kSaturday, 60, 60}};
  EXPECT_TRUE(AvailableAt(saturday_one, UtcTime(5, 17, 30)));
}

TEST(DispatchPolicy, AnyOfSeveralWindowsWillDo) {
  const std::vector<WeeklyWindow> windows = {{kMonday, 8 * 60, 60}, {kSaturday, 14 * 60, 120}};
  EXPECT_TRUE(AvailableAt(windows, LocalTime(1, 8, 30)));
  EXPECT_TRUE(AvailableAt(windows, LocalTime(6, 15, 0)));
  EXPECT_FALSE(AvailableAt(windows, LocalTime(6, 8, 30)));
}

TEST(DispatchPolicy, AMalformedWindowCoversNothing) {
  EXPECT_FALSE(AvailableAt({{0, 0, 60}}, LocalTime(7, 0, 30)));
  EXPECT_FALSE(AvailableAt({{8, 0, 60}}, LocalTime(1, 0, 30)));
  EXPECT_FALSE(AvailableAt({{kMonday, 0, 0}}, LocalTime(1, 0, 0)));
  EXPECT_FALSE(AvailableAt({{kMonday, -1, 60}}, LocalTime(1, 0, 0)));
  EXPECT_FALSE(AvailableAt({{kMonday, 1440, 60}}, LocalTime(2, 0, 0)));
}

TEST(DispatchPolicy, AvailabilityWorksBeforeTheUnixEpoch) {
  // 1969-12-29 was a Monday.
  const absl::Time monday = absl::FromCivil(absl::CivilMinute(1969, 12, 29, 9, 30), Local());
  EXPECT_TRUE(AvailableAt({{kMonday, 9 * 60, 60}}, monday));
  EXPECT_FALSE(AvailableAt({{kSunday, 9 * 60, 60}}, monday));
}

TEST(DispatchPolicy, VolunteersOffDutyNowAreNotAsked) {
  VolunteerCandidate weekend = Volunteer("weekend");
  weekend.availability = {{kSaturday, 9 * 60, 8 * 60}};
  VolunteerCandidate weekday = Volunteer("weekday");
  weekday.availability = {{kMonday, 9 * 60, 8 * 60}};
  VolunteerCandidate any_time = Volunteer("any-time");

  EXPECT_THAT(Ids(RankVolunteers(Job(0), {weekend, weekday, any_time}, kNow)),
              ElementsAre("any-time", "weekday"));
}

// ---- Load

TEST(DispatchPolicy, VolunteersWithNoRoomAreNotAsked) {
  VolunteerCandidate full = Volunteer("full");
  full.active_tasks = 2;
  full.max_concurrent = 2;
  VolunteerCandidate over = Volunteer("over");
  over.active_tasks = 3;
  over.max_concurrent = 2;
  VolunteerCandidate never = Volunteer("never");
  never.active_tasks = 0;
  never.max_concurrent = 0;
  VolunteerCandidate room = Volunteer("room");
  room.active_tasks = 1;
  room.max_concurrent = 2;

  EXPECT_THAT(Ids(RankVolunteers(Job(0), {full, over, never, room}, kNow)), ElementsAre("room"));
}

TEST(DispatchPolicy, LessLoadedVolunteersRankHigher) {
  VolunteerCandidate busy = Volunteer("a-busy");
  busy.active_tasks = 2;
  busy.max_concurrent = 3;
  VolunteerCandidate idle = Volunteer("b-idle");
  idle.active_tasks = 0;
  idle.max_concurrent = 3;

  EXPECT_THAT(Ids(RankVolunteers(Job(0), {busy, idle}, kNow)), ElementsAre("b-idle", "a-busy"));
}

// ---- Fairness

TEST(DispatchPolicy, FewerRecentAssignmentsRankHigherWhenOtherwiseEqual) {
  VolunteerCandidate often = Volunteer("a-often");
  often.recent_assignments = 4;
  VolunteerCandidate rarely = Volunteer("b-rarely");
  rarely.recent_assignments = 1;
  VolunteerCandidate never = Volunteer("c-never");

  EXPECT_THAT(Ids(RankVolunteers(Job(0), {often, rarely, never}, kNow)),
              ElementsAre("c-never", "b-rarely", "a-often"));
}

TEST(DispatchPolicy, ScoreAddsTheWeightedTerms) {
  VolunteerCandidate c = Volunteer("v");
  c.skills = kMedical;
  c.distance_m = 1000;
  c.active_tasks = 1;
  c.max_concurrent = 4;
  c.recent_assignments = 1;
  const std::vector<RankedVolunteer> ranked = RankVolunteers(Job(kMedical | kRepair), {c}, kNow);
  ASSERT_EQ(ranked.size(), 1u);
  // skill 3 x 1/2 + distance 2 x (1 - 1000/5000) + load 1 x (1 - 1/4) + fairness 1.5 x 1/2.
  EXPECT_DOUBLE_EQ(ranked[0].score, 1.5 + 1.6 + 0.75 + 0.75);
}

// ---- Reopened incidents

TEST(DispatchPolicy, ReopenedIncidentPrefersSomeoneNew) {
  VolunteerCandidate before = Volunteer("before");
  before.distance_m = 10;  // the best by every measure
  VolunteerCandidate other = Volunteer("other");
  other.distance_m = 4000;
  other.recent_assignments = 3;
  JobView job = Job(0);
  job.avoid_id = "before";

  EXPECT_THAT(Ids(RankVolunteers(job, {before, other}, kNow)), ElementsAre("other", "before"));
}

TEST(DispatchPolicy, ReopenedIncidentStillAsksTheLastAssigneeWhenNobodyElseQualifies) {
  VolunteerCandidate before = Volunteer("before");
  VolunteerCandidate busy = Volunteer("busy");
  busy.active_tasks = busy.max_concurrent;
  JobView job = Job(0);
  job.avoid_id = "before";

  EXPECT_THAT(Ids(RankVolunteers(job, {before, busy}, kNow)), ElementsAre("before"));
  EXPECT_THAT(Ids(RankVolunteers(job, {before}, kNow)), ElementsAre("before"));
}

TEST(DispatchPolicy, ReopenedIncidentDoesNotAskALastAssigneeWhoNoLongerQualifies) {
  VolunteerCandidate before = Volunteer("before");
  before.distance_m = 9000;
  JobView job = Job(0);
  job.avoid_id = "before";
  EXPECT_THAT(RankVolunteers(job, {before}, kNow), IsEmpty());
}

// ---- Nobody, and determinism

TEST(DispatchPolicy, NobodyAvailableGivesAnEmptyList) {
  EXPECT_THAT(RankVolunteers(Job(kMedical), {}, kNow), IsEmpty());
  VolunteerCandidate asleep = Volunteer("asleep");
  asleep.availability = {{kSunday, 0, 60}};
  EXPECT_THAT(RankVolunteers(Job(kMedical), {asleep}, kNow), IsEmpty());
}

TEST(DispatchPolicy, EqualScoresBreakByDistanceThenId) {
  // Distance carries no weight here, so every score ties and only the tie-breaks order them.
  PolicyWeights no_distance;
  no_distance.distance = 0;
  VolunteerCandidate a = Volunteer("a");
  a.distance_m = 2500;
  VolunteerCandidate b = Volunteer("b");
  b.distance_m = 0;
  const std::vector<RankedVolunteer> ranked =
      RankVolunteers(Job(0), {a, b, Volunteer("d"), Volunteer("c")}, kNow, no_distance);
  EXPECT_THAT(Ids(ranked), ElementsAre("b", "c", "d", "a"));
  for (const RankedVolunteer& r : ranked) EXPECT_DOUBLE_EQ(r.score, ranked[0].score);
}

TEST(DispatchPolicy, TheOrderOfTheCandidatesDoesNotMatter) {
  std::vector<VolunteerCandidate> candidates;
  for (int i = 0; i < 12; ++i) {
    VolunteerCandidate c = Volunteer("v" + std::to_string(i));
    c.distance_m = 500.0 * (i % 3);
    c.recent_assignments = i % 2;
    candidates.push_back(c);
  }
  const std::vector<std::string> forward = Ids(RankVolunteers(Job(0), candidates, kNow));
  std::reverse(candidates.begin(), candidates.end());
  EXPECT_EQ(Ids(RankVolunteers(Job(0), candidates, kNow)), forward);
  EXPECT_EQ(forward.size(), 12u);
}

// ---- Staff

TEST(DispatchPolicy, StaffWithTheFewestActiveTasksGetTheOrder) {
  EXPECT_EQ(ChooseStaff({{"a", 3, 0}, {"b", 1, 9}, {"c", 2, 0}}, ""), "b");
}

TEST(DispatchPolicy, StaffTiesBreakByRecentAssignments) {
  EXPECT_EQ(ChooseStaff({{"a", 1, 5}, {"b", 1, 2}, {"c", 1, 4}}, ""), "b");
}

TEST(DispatchPolicy, StaffTiesAvoidTheLastAssignee) {
  EXPECT_EQ(ChooseStaff({{"a", 1, 2}, {"b", 1, 2}}, "a"), "b");
  // Avoiding comes after load: a less busy last assignee still gets the order.
  EXPECT_EQ(ChooseStaff({{"a", 0, 2}, {"b", 1, 2}}, "a"), "a");
  // And alone, they get it.
  EXPECT_EQ(ChooseStaff({{"a", 4, 4}}, "a"), "a");
}

TEST(DispatchPolicy, StaffTiesBreakBySmallestId) {
  EXPECT_EQ(ChooseStaff({{"w3", 0, 0}, {"w1", 0, 0}, {"w2", 0, 0}}, ""), "w1");
  EXPECT_EQ(ChooseStaff({{"w3", 0, 0}, {"w1", 0, 0}, {"w2", 0, 0}}, "w1"), "w2");
}

TEST(DispatchPolicy, NoStaffMeansNoOne) { EXPECT_EQ(ChooseStaff({}, "a"), ""); }

}  // namespace
}  // namespace gridloop::dispatch
