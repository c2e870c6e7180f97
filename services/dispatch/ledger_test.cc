#include "services/dispatch/ledger.h"

#include "common/clock/proto_time.h"
#include "gtest/gtest.h"

namespace gridloop::dispatch {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'780'000'000);

v1::Incident Closed(v1::Satisfaction sat, absl::Duration accepted_to_resolved) {
  v1::Incident inc;
  inc.set_id("261127-03abcdefghjkmn");
  inc.set_category("elderly_help");
  *inc.mutable_assigned_at() = ToTimestamp(kT0 - absl::Minutes(5));
  *inc.mutable_accepted_at() = ToTimestamp(kT0);
  *inc.mutable_resolved_at() = ToTimestamp(kT0 + accepted_to_resolved);
  *inc.mutable_closed_at() = ToTimestamp(kT0 + accepted_to_resolved + absl::Hours(1));
  inc.mutable_feedback()->set_satisfaction(sat);
  return inc;
}

TEST(ServiceLedger, AClosedIncidentIsWorthItsHoursAndMoreWhenTheResidentWasSatisfied) {
  const CreditRules rules;
  v1::CreditEntry e =
      IncidentCredit(Closed(v1::SATISFACTION_SATISFIED, absl::Minutes(90)), 6, rules);
  EXPECT_EQ(e.id(), "incident:261127-03abcdefghjkmn:v6");
  EXPECT_EQ(e.source(), v1::CREDIT_SOURCE_INCIDENT);
  EXPECT_DOUBLE_EQ(e.hours(), 1.5);
  EXPECT_EQ(e.points(), 15);
  EXPECT_EQ(FromTimestamp(e.at()), kT0 + absl::Minutes(150));
  EXPECT_EQ(IncidentCredit(Closed(v1::SATISFACTION_BASICALLY_SATISFIED, absl::Hours(1)), 6, rules)
                .points(),
            12);
  EXPECT_EQ(
      IncidentCredit(Closed(v1::SATISFACTION_DISSATISFIED, absl::Hours(1)), 6, rules).points(), 10);
}

TEST(ServiceLedger, OneTaskNeverCountsForMoreThanTheCapNorLessThanNothing) {
  const CreditRules rules;
  EXPECT_DOUBLE_EQ(
      IncidentCredit(Closed(v1::SATISFACTION_SATISFIED, absl::Hours(30)), 6, rules).hours(), 8.0);
  EXPECT_DOUBLE_EQ(
      IncidentCredit(Closed(v1::SATISFACTION_SATISFIED, -absl::Hours(1)), 6, rules).hours(), 0.0);
}

TEST(ServiceLedger, AnIncidentNeverAcceptedCountsFromItsAssignment) {
  v1::Incident inc = Closed(v1::SATISFACTION_SATISFIED, absl::Hours(1));
  inc.clear_accepted_at();
  EXPECT_NEAR(IncidentCredit(inc, 6, CreditRules()).hours(), 65.0 / 60.0, 1e-9);
}

TEST(ServiceLedger, ActivityHoursAreTheOverlapOfPresenceAndTheActivity) {
  v1::Activity a;
  a.set_id("a1");
  a.set_title("社区清洁日");
  a.set_points_per_hour(10);
  *a.mutable_starts_at() = ToTimestamp(kT0);
  *a.mutable_ends_at() = ToTimestamp(kT0 + absl::Hours(3));
  // Came early, left late: the activity's three hours.
  v1::CreditEntry e = ActivityCredit(a, kT0 - absl::Minutes(30), kT0 + absl::Hours(4));
  EXPECT_EQ(e.id(), "activity:a1");
  EXPECT_DOUBLE_EQ(e.hours(), 3.0);
  EXPECT_EQ(e.points(), 30);
  // Came late, left early: 1 h 15 min, 12.5 points rounded.
  e = ActivityCredit(a, kT0 + absl::Minutes(45), kT0 + absl::Hours(2));
  EXPECT_DOUBLE_EQ(e.hours(), 1.25);
  EXPECT_EQ(e.points(), 13);
  // Checked out before the start: nothing, never negative.
  e = ActivityCredit(a, kT0 - absl::Hours(2), kT0 - absl::Hours(1));
  EXPECT_EQ(e.hours(), 0.0);
  EXPECT_EQ(e.points(), 0);
}

TEST(ServiceLedger, TotalsAreTheSumOfTheEntries) {
  std::vector<v1::CreditEntry> entries = {
      IncidentCredit(Closed(v1::SATISFACTION_SATISFIED, absl::Minutes(20)), 5, CreditRules()),
      IncidentCredit(Closed(v1::SATISFACTION_BASICALLY_SATISFIED, absl::Minutes(40)), 9,
                     CreditRules()),
      IncidentCredit(Closed(v1::SATISFACTION_UNSPECIFIED, absl::Minutes(10)), 12, CreditRules())};
  v1::Activity a;
  a.set_id("a1");
  a.set_points_per_hour(10);
  *a.mutable_starts_at() = ToTimestamp(kT0);
  *a.mutable_ends_at() = ToTimestamp(kT0 + absl::Hours(2));
  entries.push_back(ActivityCredit(a, kT0, kT0 + absl::Hours(2)));
  v1::ServiceTotals t = Totals(entries);
  EXPECT_NEAR(t.hours(), 20.0 / 60 + 40.0 / 60 + 10.0 / 60 + 2.0, 1e-9);
  EXPECT_EQ(t.points(), 15 + 12 + 10 + 20);
  EXPECT_EQ(t.completed_tasks(), 3);
  EXPECT_EQ(t.rated_tasks(), 2);  // the unrated one does not pull the average down
  EXPECT_DOUBLE_EQ(t.average_satisfaction(), 0.75);
  EXPECT_EQ(Totals({}).average_satisfaction(), 0.0);
}

TEST(ServiceLedger, MillisecondHoursAddUpExactlyInAnyOrder) {
  std::vector<v1::CreditEntry> entries;
  for (int i = 0; i < 1000; ++i) {
    v1::CreditEntry e;
    e.set_hours(static_cast<double>(i * 7 + 1) / 3'600'000.0);
    entries.push_back(e);
  }
  const double forward = Totals(entries).hours();
  std::reverse(entries.begin(), entries.end());
  EXPECT_EQ(Totals(entries).hours(), forward);
  EXPECT_EQ(HoursToMillis(forward), 1000 + 7 * 999 * 1000 / 2);
}

}  // namespace
}  // namespace gridloop::dispatch
