#include "services/assessment/measures.h"

#include <algorithm>
#include <random>

#include "common/clock/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/assessment/periods.h"

namespace gridloop::assessment {
namespace {

constexpr char kGrid[] = "3301.06.003.001.g01";
constexpr char kStreet[] = "3301.06.003";

absl::Time Utc(const char* text) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, text, &t, &err)) << err;
  return t;
}

// One incident's life, told as the incidents service would publish it: every change is a
// new version with the snapshot after it (the same rules as its state machine).
class Story {
 public:
  explicit Story(std::string id, absl::Time at, std::string region = kGrid,
                 absl::Duration respond = absl::Hours(2), absl::Duration resolve = absl::Hours(24))
      : respond_(respond), resolve_(resolve) {
    inc_.set_id(std::move(id));
    inc_.set_category("repair");
    inc_.set_region_code(std::move(region));
    inc_.set_status(v1::INCIDENT_STATUS_REPORTED);
    *inc_.mutable_reported_at() = ToTimestamp(at);
    *inc_.mutable_respond_by() = ToTimestamp(at + respond);
    *inc_.mutable_resolve_by() = ToTimestamp(at + resolve);
    Emit(v1::INCIDENT_EVENT_TYPE_REPORTED, at);
  }
  Story& Assign(absl::Time at, std::string who,
                v1::AssigneeKind kind = v1::ASSIGNEE_KIND_GRID_WORKER) {
    inc_.mutable_assignee()->set_kind(kind);
    inc_.mutable_assignee()->set_id(std::move(who));
    *inc_.mutable_assigned_at() = ToTimestamp(at);
    inc_.set_status(v1::INCIDENT_STATUS_ASSIGNED);
    return Emit(v1::INCIDENT_EVENT_TYPE_ASSIGNED, at);
  }
  Story& Accept(absl::Time at) {
    *inc_.mutable_accepted_at() = ToTimestamp(at);
    inc_.set_status(v1::INCIDENT_STATUS_IN_PROGRESS);
    return Emit(v1::INCIDENT_EVENT_TYPE_ACCEPTED, at);
  }
  Story& Resolve(absl::Time at) {
    *inc_.mutable_resolved_at() = ToTimestamp(at);
    inc_.set_status(v1::INCIDENT_STATUS_RESOLVED);
    return Emit(v1::INCIDENT_EVENT_TYPE_RESOLVED, at);
  }
  Story& Close(absl::Time at, v1::Satisfaction s) {
    Feedback(at, s);
    *inc_.mutable_closed_at() = ToTimestamp(at);
    inc_.set_status(v1::INCIDENT_STATUS_CLOSED);
    return Emit(v1::INCIDENT_EVENT_TYPE_CLOSED, at);
  }
  Story& Reopen(absl::Time at) {
    Feedback(at, v1::SATISFACTION_DISSATISFIED);
    inc_.set_reopen_count(inc_.reopen_count() + 1);
    inc_.clear_assignee();
    inc_.clear_accepted_at();
    *inc_.mutable_respond_by() = ToTimestamp(at + respond_);
    *inc_.mutable_resolve_by() = ToTimestamp(at + resolve_);
    inc_.set_respond_overdue(false);
    inc_.set_resolve_overdue(false);
    inc_.set_status(v1::INCIDENT_STATUS_REOPENED);
    return Emit(v1::INCIDENT_EVENT_TYPE_REOPENED, at);
  }
  Story& Escalate(absl::Time at) {
    inc_.set_escalation_level(static_cast<v1::EscalationLevel>(inc_.escalation_level() + 1));
    inc_.clear_assignee();
    inc_.clear_accepted_at();
    inc_.set_status(v1::INCIDENT_STATUS_ESCALATED);
    return Emit(v1::INCIDENT_EVENT_TYPE_ESCALATED, at);
  }
  Story& Overdue(absl::Time at, absl::string_view deadline) {
    if (deadline == "respond") {
      inc_.set_respond_overdue(true);
    } else {
      inc_.set_resolve_overdue(true);
    }
    return Emit(v1::INCIDENT_EVENT_TYPE_OVERDUE, at);
  }
  Story& Cancel(absl::Time at) {
    inc_.set_status(v1::INCIDENT_STATUS_CANCELLED);
    return Emit(v1::INCIDENT_EVENT_TYPE_CANCELLED, at);
  }
  const std::vector<v1::IncidentEvent>& events() const { return events_; }

 private:
  void Feedback(absl::Time at, v1::Satisfaction s) {
    inc_.mutable_feedback()->set_satisfaction(s);
    *inc_.mutable_feedback()->mutable_at() = ToTimestamp(at);
  }
  Story& Emit(v1::IncidentEventType type, absl::Time at) {
    inc_.set_version(inc_.version() + 1);
    v1::IncidentEvent e;
    e.set_event_id(absl::StrCat(inc_.id(), ":", inc_.version()));
    e.set_incident_id(inc_.id());
    e.set_version(inc_.version());
    e.set_type(type);
    *e.mutable_occurred_at() = ToTimestamp(at);
    *e.mutable_incident() = inc_;
    events_.push_back(std::move(e));
    return *this;
  }

  absl::Duration respond_;
  absl::Duration resolve_;
  v1::Incident inc_;
  std::vector<v1::IncidentEvent> events_;
};

// Folds events in the order given, as the consumer would: facts merged, then the
// contribution recomputed. Also checks that adding up the per-event diffs gives the same.
Contribution Fold(const std::vector<v1::IncidentEvent>& events) {
  std::map<std::string, v1::FoldedIncident> facts;
  std::map<Cell, Tally> running;
  for (const v1::IncidentEvent& e : events) {
    absl::StatusOr<v1::FoldedIncident> seen = FactsOf(e);
    EXPECT_TRUE(seen.ok()) << seen.status();
    v1::FoldedIncident& f = facts[e.incident_id()];
    const Contribution before = ContributionOf(f);
    if (!Merge(f, *seen)) continue;
    for (const CellChange& c : Diff(before, ContributionOf(f))) running[c.cell] += c.delta;
  }
  Contribution total;
  for (const auto& [id, f] : facts) {
    for (const auto& [cell, t] : ContributionOf(f)) total[cell] += t;
  }
  for (auto it = running.begin(); it != running.end();) {
    it = it->second.empty() ? running.erase(it) : std::next(it);
  }
  EXPECT_EQ(running, total) << "diffs do not add up to the contribution";
  return total;
}

Tally At(const Contribution& c, v1::SubjectKind kind, const std::string& id,
         absl::string_view key) {
  auto it = c.find(Cell{kind, id, std::string(key)});
  return it == c.end() ? Tally{} : it->second;
}

Tally Grid(const Contribution& c, absl::string_view key) {
  return At(c, v1::SUBJECT_KIND_REGION, kGrid, key);
}

const absl::Time kT0 = Utc("2026-11-27T01:00:00Z");  // 09:00 local

TEST(Measures, AReportCountsAsReceivedForTheGridAndEveryRegionAboveInEveryPeriod) {
  Story s("i1", kT0);
  const Contribution c = Fold(s.events());
  for (const std::string& region : RegionAndAncestors(kGrid)) {
    for (const PeriodSpan& p : PeriodsOf(kT0)) {
      const Tally t = At(c, v1::SUBJECT_KIND_REGION, region, p.key);
      EXPECT_EQ(t[Counter::kReceived], 1) << region << " " << p.key;
      EXPECT_EQ(t[Counter::kEscalationDue], 1);
      EXPECT_EQ(t[Counter::kResponseDue], 0) << "the response is not due yet";
    }
  }
  EXPECT_EQ(c.size(), 25U);
}

TEST(Measures, ResponseIsMetWhenFirstAcceptedByTheRespondByDeadline) {
  Story on_time("a", kT0);
  on_time.Assign(kT0 + absl::Minutes(5), "gw1").Accept(kT0 + absl::Minutes(119));
  Story late("b", kT0);
  late.Assign(kT0 + absl::Minutes(5), "gw1")
      .Overdue(kT0 + absl::Hours(2), "respond")
      .Accept(kT0 + absl::Hours(3));
  Story never("c", kT0);
  never.Overdue(kT0 + absl::Hours(2), "respond");
  Story pending("d", kT0);
  pending.Assign(kT0 + absl::Minutes(1), "gw1");

  std::vector<v1::IncidentEvent> all;
  for (const Story* s : {&on_time, &late, &never, &pending}) {
    all.insert(all.end(), s->events().begin(), s->events().end());
  }
  const Contribution c = Fold(all);
  const Tally grid = Grid(c, "2026-11");
  EXPECT_EQ(grid[Counter::kReceived], 4);
  EXPECT_EQ(grid[Counter::kResponseDue], 3) << "pending is not yet determined";
  EXPECT_EQ(grid[Counter::kResponseMet], 1);
  const Tally gw = At(c, v1::SUBJECT_KIND_GRID_WORKER, "gw1", "2026-11");
  EXPECT_EQ(gw[Counter::kReceived], 3);
  EXPECT_EQ(gw[Counter::kResponseDue], 2);
  EXPECT_EQ(gw[Counter::kResponseMet], 1);
}

TEST(Measures, ResponseCountsInThePeriodOfTheDeadlineInLocalTime) {
  // Reported 23:30 local on the 27th with two hours to respond: due on the 28th.
  const absl::Time at = Utc("2026-11-27T15:30:00Z");
  Story s("i1", at);
  s.Assign(at + absl::Minutes(1), "gw1").Accept(at + absl::Minutes(10));
  const Contribution c = Fold(s.events());
  EXPECT_EQ(Grid(c, "2026-11-27")[Counter::kReceived], 1);
  EXPECT_EQ(Grid(c, "2026-11-27")[Counter::kResponseDue], 0);
  EXPECT_EQ(Grid(c, "2026-11-28")[Counter::kResponseDue], 1);
  EXPECT_EQ(Grid(c, "2026-11-28")[Counter::kResponseMet], 1);
  EXPECT_EQ(Grid(c, "2026-11")[Counter::kResponseMet], 1);
}

TEST(Measures, MonthBoundaryAtLocalMidnight) {
  Story before("a", Utc("2026-11-30T15:59:59Z"));
  Story after("b", Utc("2026-11-30T16:00:00Z"));
  std::vector<v1::IncidentEvent> all = before.events();
  all.insert(all.end(), after.events().begin(), after.events().end());
  const Contribution c = Fold(all);
  EXPECT_EQ(Grid(c, "2026-11")[Counter::kReceived], 1);
  EXPECT_EQ(Grid(c, "2026-12")[Counter::kReceived], 1);
  EXPECT_EQ(Grid(c, "2026-Q4")[Counter::kReceived], 2);
  EXPECT_EQ(Grid(c, "2026-12-01")[Counter::kReceived], 1);
}

TEST(Measures, ResolutionCountsClosedIncidentsAgainstThoseDue) {
  Story closed("a", kT0);
  closed.Assign(kT0, "gw1")
      .Accept(kT0 + absl::Minutes(3))
      .Resolve(kT0 + absl::Hours(3))
      .Close(kT0 + absl::Hours(4), v1::SATISFACTION_SATISFIED);
  Story overdue("b", kT0);
  overdue.Assign(kT0, "gw1")
      .Accept(kT0 + absl::Minutes(3))
      .Overdue(kT0 + absl::Hours(24), "resolve");
  Story open("c", kT0);
  open.Assign(kT0, "gw1").Accept(kT0 + absl::Minutes(3));
  std::vector<v1::IncidentEvent> all = closed.events();
  all.insert(all.end(), overdue.events().begin(), overdue.events().end());
  all.insert(all.end(), open.events().begin(), open.events().end());
  const Contribution c = Fold(all);
  // The resolve-by deadline is a day later: the 28th local.
  const Tally day = Grid(c, "2026-11-28");
  EXPECT_EQ(day[Counter::kResolutionDue], 2);
  EXPECT_EQ(day[Counter::kResolutionClosed], 1);
  EXPECT_EQ(day[Counter::kTimelinessDue], 2);
  EXPECT_EQ(day[Counter::kTimelinessMet], 1);
}

TEST(Measures, ALateResolutionIsResolvedButNotTimely) {
  Story s("a", kT0);
  s.Assign(kT0, "gw1")
      .Accept(kT0 + absl::Minutes(3))
      .Overdue(kT0 + absl::Hours(24), "resolve")
      .Resolve(kT0 + absl::Hours(30))
      .Close(kT0 + absl::Hours(31), v1::SATISFACTION_BASICALLY_SATISFIED);
  const Tally t = Grid(Fold(s.events()), "2026-11");
  EXPECT_EQ(t[Counter::kResolutionDue], 1);
  EXPECT_EQ(t[Counter::kResolutionClosed], 1);
  EXPECT_EQ(t[Counter::kTimelinessDue], 1);
  EXPECT_EQ(t[Counter::kTimelinessMet], 0);
  EXPECT_EQ(t[Counter::kFeedbackBasic], 1);
}

TEST(Measures, SatisfactionCountsTheLatestFeedbackAndIgnoresIncidentsWithout) {
  Story happy("a", kT0);
  happy.Assign(kT0, "gw1")
      .Accept(kT0)
      .Resolve(kT0 + absl::Hours(1))
      .Close(kT0 + absl::Hours(2), v1::SATISFACTION_SATISFIED);
  Story unrated("b", kT0);
  unrated.Assign(kT0, "gw1").Accept(kT0).Resolve(kT0 + absl::Hours(1));
  Story second_try("c", kT0);
  second_try.Assign(kT0, "gw1")
      .Accept(kT0)
      .Resolve(kT0 + absl::Hours(1))
      .Reopen(kT0 + absl::Hours(2))
      .Assign(kT0 + absl::Hours(3), "gw2")
      .Accept(kT0 + absl::Hours(3))
      .Resolve(kT0 + absl::Hours(4))
      .Close(kT0 + absl::Hours(5), v1::SATISFACTION_BASICALLY_SATISFIED);
  std::vector<v1::IncidentEvent> all = happy.events();
  all.insert(all.end(), unrated.events().begin(), unrated.events().end());
  all.insert(all.end(), second_try.events().begin(), second_try.events().end());
  const Contribution c = Fold(all);
  const Tally t = Grid(c, "2026-11-27");
  EXPECT_EQ(t[Counter::kFeedbackSatisfied], 1);
  EXPECT_EQ(t[Counter::kFeedbackBasic], 1);
  EXPECT_EQ(t[Counter::kFeedbackDissatisfied], 0) << "the reopening feedback was superseded";
  EXPECT_EQ(t[Counter::kReopenDue], 2) << "unrated has no feedback";
  EXPECT_EQ(t[Counter::kReopened], 1);
  // The outcome of the reopened incident is gw2's; its first response stays gw1's.
  EXPECT_EQ(At(c, v1::SUBJECT_KIND_GRID_WORKER, "gw2", "2026-11")[Counter::kFeedbackBasic], 1);
  EXPECT_EQ(At(c, v1::SUBJECT_KIND_GRID_WORKER, "gw2", "2026-11")[Counter::kResponseDue], 0);
  EXPECT_EQ(At(c, v1::SUBJECT_KIND_GRID_WORKER, "gw1", "2026-11")[Counter::kResponseDue], 3);
  EXPECT_EQ(At(c, v1::SUBJECT_KIND_GRID_WORKER, "gw1", "2026-11")[Counter::kFeedbackBasic], 0);
}

TEST(Measures, AStillDissatisfiedIncidentCountsDissatisfied) {
  Story s("a", kT0);
  s.Assign(kT0, "gw1").Accept(kT0).Resolve(kT0 + absl::Hours(1)).Reopen(kT0 + absl::Hours(2));
  const Tally t = Grid(Fold(s.events()), "2026-11-27");
  EXPECT_EQ(t[Counter::kFeedbackDissatisfied], 1);
  EXPECT_EQ(t[Counter::kReopened], 1);
  EXPECT_EQ(t[Counter::kResolutionDue], 0) << "reopened, its new deadline has not passed";
}

TEST(Measures, EscalationCountsForTheFirstAssigneeAndTheOutcomeForTheDepartment) {
  Story s("a", kT0);
  s.Assign(kT0, "gw1")
      .Overdue(kT0 + absl::Hours(2), "respond")
      .Escalate(kT0 + absl::Hours(2))
      .Assign(kT0 + absl::Hours(3), "housing", v1::ASSIGNEE_KIND_DEPARTMENT)
      .Accept(kT0 + absl::Hours(3))
      .Resolve(kT0 + absl::Hours(5))
      .Close(kT0 + absl::Hours(6), v1::SATISFACTION_SATISFIED);
  const Contribution c = Fold(s.events());
  const Tally gw = At(c, v1::SUBJECT_KIND_GRID_WORKER, "gw1", "2026-11");
  const Tally dep = At(c, v1::SUBJECT_KIND_DEPARTMENT, "housing", "2026-11");
  EXPECT_EQ(gw[Counter::kEscalated], 1);
  EXPECT_EQ(gw[Counter::kResponseDue], 1);
  EXPECT_EQ(gw[Counter::kResponseMet], 0);
  EXPECT_EQ(gw[Counter::kFeedbackSatisfied], 0);
  EXPECT_EQ(dep[Counter::kEscalationDue], 0);
  EXPECT_EQ(dep[Counter::kFeedbackSatisfied], 1);
  EXPECT_EQ(dep[Counter::kResolutionClosed], 1);
  EXPECT_EQ(dep[Counter::kReceived], 1);
  EXPECT_EQ(At(c, v1::SUBJECT_KIND_REGION, kStreet, "2026")[Counter::kEscalated], 1);
}

TEST(Measures, ACancelledIncidentIsReceivedButInNoRate) {
  Story s("a", kT0);
  s.Assign(kT0, "gw1").Overdue(kT0 + absl::Hours(2), "respond").Cancel(kT0 + absl::Hours(3));
  const Tally t = Grid(Fold(s.events()), "2026-11");
  EXPECT_EQ(t[Counter::kReceived], 1);
  EXPECT_EQ(t[Counter::kCancelled], 1);
  EXPECT_EQ(t[Counter::kResponseDue], 0);
  EXPECT_EQ(t[Counter::kEscalationDue], 0);
}

std::vector<v1::IncidentEvent> Busy() {
  Story a("a", kT0);
  a.Assign(kT0, "gw1")
      .Accept(kT0 + absl::Minutes(30))
      .Resolve(kT0 + absl::Hours(3))
      .Reopen(kT0 + absl::Hours(4))
      .Assign(kT0 + absl::Hours(5), "v9", v1::ASSIGNEE_KIND_VOLUNTEER)
      .Overdue(kT0 + absl::Hours(6), "respond")
      .Accept(kT0 + absl::Hours(7))
      .Resolve(kT0 + absl::Hours(8))
      .Close(kT0 + absl::Hours(9), v1::SATISFACTION_SATISFIED);
  Story b("b", Utc("2026-11-27T15:45:00Z"));
  b.Assign(Utc("2026-11-27T15:50:00Z"), "gw1")
      .Overdue(Utc("2026-11-27T17:45:00Z"), "respond")
      .Escalate(Utc("2026-11-27T18:00:00Z"))
      .Assign(Utc("2026-11-27T18:05:00Z"), "housing", v1::ASSIGNEE_KIND_DEPARTMENT)
      .Accept(Utc("2026-11-27T18:10:00Z"))
      .Overdue(Utc("2026-11-28T15:45:00Z"), "resolve");
  std::vector<v1::IncidentEvent> all = a.events();
  all.insert(all.end(), b.events().begin(), b.events().end());
  return all;
}

TEST(Measures, AnyOrderAndAnyRepeatGiveTheSameFigures) {
  const std::vector<v1::IncidentEvent> in_order = Busy();
  const Contribution expected = Fold(in_order);
  ASSERT_FALSE(expected.empty());
  std::mt19937 rng(20261127);
  for (int round = 0; round < 200; ++round) {
    std::vector<v1::IncidentEvent> events = in_order;
    // Redelivery: some events twice, some three times.
    for (int i = 0; i < 6; ++i) events.push_back(in_order[rng() % in_order.size()]);
    std::shuffle(events.begin(), events.end(), rng);
    ASSERT_EQ(Fold(events), expected) << "round " << round;
  }
}

TEST(Measures, AnEventSeenAgainChangesNothing) {
  const std::vector<v1::IncidentEvent> events = Busy();
  v1::FoldedIncident f;
  for (const v1::IncidentEvent& e : events) {
    if (e.incident_id() == "a") {
      ASSERT_TRUE(Merge(f, *FactsOf(e)));
    }
  }
  for (const v1::IncidentEvent& e : events) {
    if (e.incident_id() == "a") {
      EXPECT_FALSE(Merge(f, *FactsOf(e))) << e.version();
    }
  }
}

TEST(Measures, AnOlderEventArrivingLateStillAddsWhatOnlyItKnew) {
  Story s("a", kT0);
  s.Assign(kT0, "gw1").Accept(kT0 + absl::Minutes(10)).Escalate(kT0 + absl::Hours(1));
  // The escalation cleared accepted_at; the acceptance arrives after it.
  std::vector<v1::IncidentEvent> events = s.events();
  std::swap(events[2], events[3]);
  const Tally gw = At(Fold(events), v1::SUBJECT_KIND_GRID_WORKER, "gw1", "2026-11");
  EXPECT_EQ(gw[Counter::kResponseDue], 1);
  EXPECT_EQ(gw[Counter::kResponseMet], 1);
}

TEST(Measures, BadEventsAreRejected) {
  v1::IncidentEvent e = Story("a", kT0).events()[0];
  v1::IncidentEvent no_id = e;
  no_id.clear_incident_id();
  EXPECT_EQ(FactsOf(no_id).status().code(), absl::StatusCode::kInvalidArgument);
  v1::IncidentEvent no_version = e;
  no_version.set_version(0);
  EXPECT_EQ(FactsOf(no_version).status().code(), absl::StatusCode::kInvalidArgument);
  v1::IncidentEvent no_snapshot = e;
  no_snapshot.clear_incident();
  EXPECT_EQ(FactsOf(no_snapshot).status().code(), absl::StatusCode::kInvalidArgument);
  v1::IncidentEvent other = e;
  other.mutable_incident()->set_id("b");
  EXPECT_EQ(FactsOf(other).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Measures, VolunteerOffersAndHoursFromDispatchEvents) {
  v1::DispatchEvent offer;
  offer.set_event_id("e1");
  offer.set_type(v1::DISPATCH_EVENT_TYPE_OFFER_DECLINED);
  offer.set_volunteer_id("v1");
  *offer.mutable_occurred_at() = ToTimestamp(kT0);
  absl::StatusOr<Contribution> c = ContributionOf(offer);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->size(), 5U);
  EXPECT_EQ(At(*c, v1::SUBJECT_KIND_VOLUNTEER, "v1", "2026-11")[Counter::kOffersDeclined], 1);

  v1::DispatchEvent credit;
  credit.set_event_id("e2");
  credit.set_type(v1::DISPATCH_EVENT_TYPE_HOURS_CREDITED);
  credit.set_volunteer_id("v1");
  credit.mutable_credit()->set_hours(1.5);
  credit.mutable_credit()->set_points(15);
  *credit.mutable_credit()->mutable_at() = ToTimestamp(Utc("2026-11-30T16:30:00Z"));
  c = ContributionOf(credit);
  ASSERT_TRUE(c.ok());
  const Tally dec = At(*c, v1::SUBJECT_KIND_VOLUNTEER, "v1", "2026-12");
  EXPECT_EQ(dec[Counter::kServiceMillihours], 1500);
  EXPECT_EQ(dec[Counter::kServicePoints], 15);

  v1::DispatchEvent other;
  other.set_event_id("e3");
  other.set_type(v1::DISPATCH_EVENT_TYPE_ASSIGNED);
  EXPECT_TRUE(ContributionOf(other)->empty());
  v1::DispatchEvent nobody = offer;
  nobody.clear_volunteer_id();
  EXPECT_EQ(ContributionOf(nobody).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Measures, ExplainAddsUpToTheFigure) {
  const std::vector<v1::IncidentEvent> events = Busy();
  std::map<std::string, v1::FoldedIncident> facts;
  for (const v1::IncidentEvent& e : events) Merge(facts[e.incident_id()], *FactsOf(e));
  const Contribution total = Fold(events);
  for (const auto& [cell, tally] : total) {
    for (absl::string_view rate :
         {"response", "resolution", "timeliness", "reopen", "escalation"}) {
      double num = 0;
      double den = 0;
      for (const auto& [id, f] : facts) {
        num += Explain(f, cell, rate, v1::EXPLAIN_PART_NUMERATOR, 0.8).counts;
        den += Explain(f, cell, rate, v1::EXPLAIN_PART_DENOMINATOR, 0.8).counts;
      }
      if (rate == "response") {
        EXPECT_EQ(num, static_cast<double>(tally[Counter::kResponseMet]));
        EXPECT_EQ(den, static_cast<double>(tally[Counter::kResponseDue]));
      }
      if (rate == "escalation") {
        EXPECT_EQ(num, static_cast<double>(tally[Counter::kEscalated]));
      }
    }
  }
  const Cell month{v1::SUBJECT_KIND_GRID_WORKER, "gw1", "2026-11"};
  const Explanation why = Explain(facts["a"], month, "response", v1::EXPLAIN_PART_NUMERATOR, 0.8);
  EXPECT_EQ(why.counts, 1);
  EXPECT_THAT(why.why, testing::HasSubstr("90 min before"));
}

}  // namespace
}  // namespace gridloop::assessment
