#include "services/incidents/state_machine.h"

#include <tuple>
#include <vector>

#include "gtest/gtest.h"

namespace gridloop::incidents {
namespace {

using v1::IncidentStatus;

constexpr IncidentStatus kAll[] = {v1::INCIDENT_STATUS_REPORTED,    v1::INCIDENT_STATUS_ASSIGNED,
                                   v1::INCIDENT_STATUS_IN_PROGRESS, v1::INCIDENT_STATUS_RESOLVED,
                                   v1::INCIDENT_STATUS_CLOSED,      v1::INCIDENT_STATUS_REOPENED,
                                   v1::INCIDENT_STATUS_ESCALATED,   v1::INCIDENT_STATUS_CANCELLED};

constexpr v1::IncidentEventType kEvents[] = {
    v1::INCIDENT_EVENT_TYPE_ASSIGNED,  v1::INCIDENT_EVENT_TYPE_ACCEPTED,
    v1::INCIDENT_EVENT_TYPE_RESOLVED,  v1::INCIDENT_EVENT_TYPE_CLOSED,
    v1::INCIDENT_EVENT_TYPE_REOPENED,  v1::INCIDENT_EVENT_TYPE_ESCALATED,
    v1::INCIDENT_EVENT_TYPE_CANCELLED, v1::INCIDENT_EVENT_TYPE_OVERDUE};

v1::Incident InStatus(IncidentStatus s) {
  v1::Incident inc;
  inc.set_id("261127-03abcdefghjkmn");
  inc.set_status(s);
  inc.set_version(4);
  inc.mutable_assignee()->set_kind(v1::ASSIGNEE_KIND_GRID_WORKER);
  inc.mutable_assignee()->set_id("w1");
  return inc;
}

Change ChangeFor(v1::IncidentEventType e) {
  Change c;
  c.event = e;
  c.at = absl::FromUnixSeconds(1'800'000'000);
  c.actor_id = "p1";
  c.actor_role = "grid_worker";
  c.assignee.set_kind(v1::ASSIGNEE_KIND_VOLUNTEER);
  c.assignee.set_id("v9");
  c.accepting_id = "w1";
  c.note = "done";
  c.deadline = "resolve";
  c.respond_within = absl::Hours(1);
  c.resolve_within = absl::Hours(24);
  return c;
}

// The expected lifecycle, written out independently of the implementation's table.
IncidentStatus Expected(IncidentStatus from, v1::IncidentEventType e) {
  const bool open = from == v1::INCIDENT_STATUS_REPORTED || from == v1::INCIDENT_STATUS_ASSIGNED ||
                    from == v1::INCIDENT_STATUS_IN_PROGRESS ||
                    from == v1::INCIDENT_STATUS_REOPENED || from == v1::INCIDENT_STATUS_ESCALATED;
  switch (e) {
    case v1::INCIDENT_EVENT_TYPE_ASSIGNED:
      return open ? v1::INCIDENT_STATUS_ASSIGNED : v1::INCIDENT_STATUS_UNSPECIFIED;
    case v1::INCIDENT_EVENT_TYPE_ACCEPTED:
      return from == v1::INCIDENT_STATUS_ASSIGNED ? v1::INCIDENT_STATUS_IN_PROGRESS
                                                  : v1::INCIDENT_STATUS_UNSPECIFIED;
    case v1::INCIDENT_EVENT_TYPE_RESOLVED:
      return from == v1::INCIDENT_STATUS_IN_PROGRESS ? v1::INCIDENT_STATUS_RESOLVED
                                                     : v1::INCIDENT_STATUS_UNSPECIFIED;
    case v1::INCIDENT_EVENT_TYPE_CLOSED:
      return from == v1::INCIDENT_STATUS_RESOLVED ? v1::INCIDENT_STATUS_CLOSED
                                                  : v1::INCIDENT_STATUS_UNSPECIFIED;
    case v1::INCIDENT_EVENT_TYPE_REOPENED:
      return from == v1::INCIDENT_STATUS_RESOLVED ? v1::INCIDENT_STATUS_REOPENED
                                                  : v1::INCIDENT_STATUS_UNSPECIFIED;
    case v1::INCIDENT_EVENT_TYPE_ESCALATED:
      return open ? v1::INCIDENT_STATUS_ESCALATED : v1::INCIDENT_STATUS_UNSPECIFIED;
    case v1::INCIDENT_EVENT_TYPE_CANCELLED:
      return open ? v1::INCIDENT_STATUS_CANCELLED : v1::INCIDENT_STATUS_UNSPECIFIED;
    case v1::INCIDENT_EVENT_TYPE_OVERDUE:
      return open ? from : v1::INCIDENT_STATUS_UNSPECIFIED;
    default:
      return v1::INCIDENT_STATUS_UNSPECIFIED;
  }
}

TEST(IncidentLifecycle, EveryStatusAndEventFollowsTheTable) {
  int legal = 0;
  int illegal = 0;
  for (IncidentStatus from : kAll) {
    for (v1::IncidentEventType e : kEvents) {
      SCOPED_TRACE(StatusName(from) + " + " + EventName(e));
      absl::StatusOr<v1::Incident> next = ApplyChange(InStatus(from), ChangeFor(e));
      const IncidentStatus want = Expected(from, e);
      if (want == v1::INCIDENT_STATUS_UNSPECIFIED) {
        ++illegal;
        ASSERT_EQ(next.status().code(), absl::StatusCode::kFailedPrecondition);
        EXPECT_NE(next.status().message().find(StatusName(from)), std::string::npos)
            << "the message names the current state: " << next.status().message();
      } else {
        ++legal;
        ASSERT_TRUE(next.ok()) << next.status();
        EXPECT_EQ(next->status(), want);
        EXPECT_EQ(next->version(), 5);
        ASSERT_EQ(next->history_size(), 1);
        EXPECT_EQ(next->history(0).version(), 5);
        EXPECT_EQ(next->history(0).type(), e);
        EXPECT_EQ(next->history(0).from_status(), from);
        EXPECT_EQ(next->history(0).to_status(), want);
      }
    }
  }
  EXPECT_EQ(legal, 5 * 4 + 1 + 1 + 1 + 1);  // assign/escalate/cancel/overdue from 5 open
  EXPECT_EQ(illegal, 8 * 8 - legal);
}

TEST(IncidentLifecycle, ClosedAcceptsNothing) {
  for (v1::IncidentEventType e : kEvents) {
    EXPECT_EQ(ApplyChange(InStatus(v1::INCIDENT_STATUS_CLOSED), ChangeFor(e)).status().code(),
              absl::StatusCode::kFailedPrecondition);
  }
}

TEST(IncidentLifecycle, AcceptByAnotherPersonIsRefused) {
  Change c = ChangeFor(v1::INCIDENT_EVENT_TYPE_ACCEPTED);
  c.accepting_id = "someone-else";
  EXPECT_EQ(ApplyChange(InStatus(v1::INCIDENT_STATUS_ASSIGNED), c).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(IncidentLifecycle, EscalationClimbsOneLevelAndUnassigns) {
  v1::Incident inc = InStatus(v1::INCIDENT_STATUS_IN_PROGRESS);
  for (int level = 1; level <= 3; ++level) {
    auto next = ApplyChange(inc, ChangeFor(v1::INCIDENT_EVENT_TYPE_ESCALATED));
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_EQ(next->escalation_level(), level);
    EXPECT_FALSE(next->has_assignee());
    inc = *next;
  }
  auto beyond = ApplyChange(inc, ChangeFor(v1::INCIDENT_EVENT_TYPE_ESCALATED));
  EXPECT_EQ(beyond.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(IncidentLifecycle, DissatisfiedFeedbackReopensWithFreshDeadlines) {
  Change c = ChangeFor(v1::INCIDENT_EVENT_TYPE_REOPENED);
  c.satisfaction = v1::SATISFACTION_DISSATISFIED;
  v1::Incident resolved = InStatus(v1::INCIDENT_STATUS_RESOLVED);
  resolved.set_resolve_overdue(true);
  auto next = ApplyChange(resolved, c);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->status(), v1::INCIDENT_STATUS_REOPENED);
  EXPECT_EQ(next->reopen_count(), 1);
  EXPECT_FALSE(next->has_assignee());
  EXPECT_FALSE(next->resolve_overdue());
  EXPECT_EQ(next->feedback().satisfaction(), v1::SATISFACTION_DISSATISFIED);
  EXPECT_EQ(next->resolve_by().seconds(), 1'800'000'000 + 24 * 3600);
}

TEST(IncidentLifecycle, OverdueIsMarkedOncePerDeadline) {
  Change c = ChangeFor(v1::INCIDENT_EVENT_TYPE_OVERDUE);
  auto once = ApplyChange(InStatus(v1::INCIDENT_STATUS_ASSIGNED), c);
  ASSERT_TRUE(once.ok());
  EXPECT_TRUE(once->resolve_overdue());
  EXPECT_EQ(once->status(), v1::INCIDENT_STATUS_ASSIGNED);
  EXPECT_EQ(ApplyChange(*once, c).status().code(), absl::StatusCode::kFailedPrecondition);
  c.deadline = "respond";
  EXPECT_TRUE(ApplyChange(*once, c).ok());
}

TEST(IncidentLifecycle, AGridIsLocatedOnceInAnyStatus) {
  Change c = ChangeFor(v1::INCIDENT_EVENT_TYPE_GRID_LOCATED);
  c.region_code = "3301.06.003.001.g01";
  for (IncidentStatus from : kAll) {
    SCOPED_TRACE(StatusName(from));
    v1::Incident pending = InStatus(from);
    pending.set_grid_pending(true);
    auto next = ApplyChange(pending, c);
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_EQ(next->status(), from);
    EXPECT_EQ(next->region_code(), c.region_code);
    EXPECT_FALSE(next->grid_pending());
    EXPECT_EQ(next->history(0).note(), c.region_code);
    // Once located, a second one is refused.
    EXPECT_EQ(ApplyChange(*next, c).status().code(), absl::StatusCode::kFailedPrecondition);
  }
  v1::Incident pending = InStatus(v1::INCIDENT_STATUS_REPORTED);
  pending.set_grid_pending(true);
  c.region_code.clear();
  EXPECT_EQ(ApplyChange(pending, c).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(IncidentLifecycle, ReassigningToTheSameAssigneeIsRefused) {
  Change c = ChangeFor(v1::INCIDENT_EVENT_TYPE_ASSIGNED);
  c.assignee.set_kind(v1::ASSIGNEE_KIND_GRID_WORKER);
  c.assignee.set_id("w1");
  EXPECT_EQ(ApplyChange(InStatus(v1::INCIDENT_STATUS_ASSIGNED), c).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace gridloop::incidents
