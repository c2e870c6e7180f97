#ifndef GRIDLOOP_SERVICES_INCIDENTS_STATE_MACHINE_H_
#define GRIDLOOP_SERVICES_INCIDENTS_STATE_MACHINE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gridloop/v1/incidents.pb.h"

namespace gridloop::incidents {

// One change requested of an incident's lifecycle. Which fields matter depends on `event`.
struct Change {
  v1::IncidentEventType event = v1::INCIDENT_EVENT_TYPE_UNSPECIFIED;
  absl::Time at;
  std::string actor_id;
  std::string actor_role;
  v1::Assignee assignee;     // ASSIGNED: the new assignee
  std::string accepting_id;  // ACCEPTED: who accepts (must be the assignee)
  std::string note;          // resolution, reason, comment
  v1::Satisfaction satisfaction = v1::SATISFACTION_UNSPECIFIED;  // CLOSED / REOPENED
  std::string deadline;                                          // OVERDUE: "respond" or "resolve"
  std::string region_code;  // GRID_LOCATED: the grid the residents service found
  // REOPENED: the fresh deadlines the category gives the second attempt.
  absl::Duration respond_within;
  absl::Duration resolve_within;
};

// The lifecycle as one table: for each event, the statuses it may leave and the status it
// leads to, a guard and an effect. Later steps (verification of a resolution, approved
// deferral, merging duplicates) are new rows, not new code paths.
//
// Returns `current` with the change applied, its version bumped, `updated_at` set and one
// history entry appended; FailedPrecondition naming the current status when the table has
// no row for (status, event) or a guard refuses. Pure: no I/O, no clock.
absl::StatusOr<v1::Incident> ApplyChange(const v1::Incident& current, const Change& change);

// Whether `status` is one in which work on the incident is still open (it can be assigned,
// escalated, cancelled, become overdue).
bool IsOpen(v1::IncidentStatus status);

// Short lower-case names for messages and logs ("in_progress").
std::string StatusName(v1::IncidentStatus status);
std::string EventName(v1::IncidentEventType type);

}  // namespace gridloop::incidents

#endif  // GRIDLOOP_SERVICES_INCIDENTS_STATE_MACHINE_H_
