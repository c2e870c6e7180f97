#include "services/incidents/state_machine.h"

#include <algorithm>
#include <iterator>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/clock/proto_time.h"

namespace gridloop::incidents {
namespace {

using v1::Incident;
using v1::IncidentStatus;

constexpr IncidentStatus kSame = v1::INCIDENT_STATUS_UNSPECIFIED;

using Guard = absl::Status (*)(const Incident&, const Change&);
using Effect = void (*)(Incident&, const Change&);

absl::Status NoGuard(const Incident&, const Change&) { return absl::OkStatus(); }

absl::Status AssigneeGiven(const Incident& inc, const Change& c) {
  if (c.assignee.kind() == v1::ASSIGNEE_KIND_UNSPECIFIED || c.assignee.id().empty()) {
    return absl::InvalidArgumentError("assignee: kind and id are required");
  }
  if (inc.status() == v1::INCIDENT_STATUS_ASSIGNED && inc.assignee().kind() == c.assignee.kind() &&
      inc.assignee().id() == c.assignee.id()) {
    return absl::FailedPreconditionError(
        absl::StrCat("incident ", inc.id(), " is already assigned to ", c.assignee.id()));
  }
  return absl::OkStatus();
}

absl::Status AcceptedByAssignee(const Incident& inc, const Change& c) {
  if (c.accepting_id != inc.assignee().id()) {
    return absl::PermissionDeniedError(
        absl::StrCat("assignee_id: incident ", inc.id(), " is assigned to someone else"));
  }
  return absl::OkStatus();
}

absl::Status BelowTopLevel(const Incident& inc, const Change&) {
  if (inc.escalation_level() >= v1::ESCALATION_LEVEL_DEPARTMENT) {
    return absl::FailedPreconditionError(
        absl::StrCat("incident ", inc.id(), " is already escalated to department level"));
  }
  return absl::OkStatus();
}

absl::Status DeadlineNotYetMarked(const Incident& inc, const Change& c) {
  if (c.deadline == "respond" ? inc.respond_overdue() : inc.resolve_overdue()) {
    return absl::FailedPreconditionError(
        absl::StrCat("incident ", inc.id(), " is already marked overdue for ", c.deadline));
  }
  if (c.deadline != "respond" && c.deadline != "resolve") {
    return absl::InvalidArgumentError("deadline: must be respond or resolve");
  }
  return absl::OkStatus();
}

void Assign(Incident& inc, const Change& c) {
  *inc.mutable_assignee() = c.assignee;
  *inc.mutable_assigned_at() = ToTimestamp(c.at);
}

void Accept(Incident& inc, const Change& c) { *inc.mutable_accepted_at() = ToTimestamp(c.at); }

void Resolve(Incident& inc, const Change& c) {
  inc.set_resolution(c.note);
  *inc.mutable_resolved_at() = ToTimestamp(c.at);
}

void RecordFeedback(Incident& inc, const Change& c) {
  auto* fb = inc.mutable_feedback();
  fb->set_satisfaction(c.satisfaction);
  fb->set_comment(c.note);
  *fb->mutable_at() = ToTimestamp(c.at);
}

void Close(Incident& inc, const Change& c) {
  RecordFeedback(inc, c);
  *inc.mutable_closed_at() = ToTimestamp(c.at);
}

// A dissatisfied resident reopens the case: it goes back to dispatch with fresh deadlines,
// and the previous assignee stays visible in the history only.
void Reopen(Incident& inc, const Change& c) {
  RecordFeedback(inc, c);
  inc.set_reopen_count(inc.reopen_count() + 1);
  inc.clear_assignee();
  inc.clear_accepted_at();
  *inc.mutable_reopened_at() = ToTimestamp(c.at);
  *inc.mutable_respond_by() = ToTimestamp(c.at + c.respond_within);
  *inc.mutable_resolve_by() = ToTimestamp(c.at + c.resolve_within);
  inc.set_respond_overdue(false);
  inc.set_resolve_overdue(false);
}

// Escalation (吹哨) hands the incident one level up; whoever held it is released.
void Escalate(Incident& inc, const Change& c) {
  inc.set_escalation_level(static_cast<v1::EscalationLevel>(inc.escalation_level() + 1));
  inc.clear_assignee();
  inc.clear_accepted_at();
  *inc.mutable_escalated_at() = ToTimestamp(c.at);
}

void Cancel(Incident& inc, const Change& c) { *inc.mutable_cancelled_at() = ToTimestamp(c.at); }

void MarkOverdue(Incident& inc, const Change& c) {
  if (c.deadline == "respond") {
    inc.set_respond_overdue(true);
  } else {
    inc.set_resolve_overdue(true);
  }
}

absl::Status GridStillPending(const Incident& inc, const Change& c) {
  if (!inc.grid_pending()) {
    return absl::FailedPreconditionError(
        absl::StrCat("incident ", inc.id(), " already has its grid ", inc.region_code()));
  }
  if (c.region_code.empty()) return absl::InvalidArgumentError("region_code: required");
  return absl::OkStatus();
}

void LocateGrid(Incident& inc, const Change& c) {
  inc.set_region_code(c.region_code);
  inc.set_grid_pending(false);
}

struct Row {
  v1::IncidentEventType event;
  std::vector<IncidentStatus> from;
  IncidentStatus to;  // kSame: the status does not change
  Guard guard;
  Effect effect;
};

constexpr IncidentStatus kOpen[] = {v1::INCIDENT_STATUS_REPORTED, v1::INCIDENT_STATUS_ASSIGNED,
                                    v1::INCIDENT_STATUS_IN_PROGRESS, v1::INCIDENT_STATUS_REOPENED,
                                    v1::INCIDENT_STATUS_ESCALATED};

std::vector<IncidentStatus> Open() { return {std::begin(kOpen), std::end(kOpen)}; }

// A fact about where the incident happened: true in every status, closed ones included.
std::vector<IncidentStatus> Any() {
  std::vector<IncidentStatus> all = Open();
  all.insert(all.end(), {v1::INCIDENT_STATUS_RESOLVED, v1::INCIDENT_STATUS_CLOSED,
                         v1::INCIDENT_STATUS_CANCELLED});
  return all;
}

const std::vector<Row>& Table() {
  static const std::vector<Row>* const table = new std::vector<Row>{
      {v1::INCIDENT_EVENT_TYPE_ASSIGNED, Open(), v1::INCIDENT_STATUS_ASSIGNED, AssigneeGiven,
       Assign},
      {v1::INCIDENT_EVENT_TYPE_ACCEPTED,
       {v1::INCIDENT_STATUS_ASSIGNED},
       v1::INCIDENT_STATUS_IN_PROGRESS,
       AcceptedByAssignee,
       Accept},
      {v1::INCIDENT_EVENT_TYPE_RESOLVED,
       {v1::INCIDENT_STATUS_IN_PROGRESS},
       v1::INCIDENT_STATUS_RESOLVED,
       NoGuard,
       Resolve},
      {v1::INCIDENT_EVENT_TYPE_CLOSED,
       {v1::INCIDENT_STATUS_RESOLVED},
       v1::INCIDENT_STATUS_CLOSED,
       NoGuard,
       Close},
      {v1::INCIDENT_EVENT_TYPE_REOPENED,
       {v1::INCIDENT_STATUS_RESOLVED},
       v1::INCIDENT_STATUS_REOPENED,
       NoGuard,
       Reopen},
      {v1::INCIDENT_EVENT_TYPE_ESCALATED, Open(), v1::INCIDENT_STATUS_ESCALATED, BelowTopLevel,
       Escalate},
      {v1::INCIDENT_EVENT_TYPE_CANCELLED, Open(), v1::INCIDENT_STATUS_CANCELLED, NoGuard, Cancel},
      {v1::INCIDENT_EVENT_TYPE_OVERDUE, Open(), kSame, DeadlineNotYetMarked, MarkOverdue},
      {v1::INCIDENT_EVENT_TYPE_GRID_LOCATED, Any(), kSame, GridStillPending, LocateGrid},
  };
  return *table;
}

}  // namespace

bool IsOpen(v1::IncidentStatus status) {
  return std::find(std::begin(kOpen), std::end(kOpen), status) != std::end(kOpen);
}

std::string StatusName(v1::IncidentStatus status) {
  std::string name(absl::StripPrefix(v1::IncidentStatus_Name(status), "INCIDENT_STATUS_"));
  absl::AsciiStrToLower(&name);
  return name;
}

std::string EventName(v1::IncidentEventType type) {
  std::string name(absl::StripPrefix(v1::IncidentEventType_Name(type), "INCIDENT_EVENT_TYPE_"));
  absl::AsciiStrToLower(&name);
  return name;
}

absl::StatusOr<v1::Incident> ApplyChange(const v1::Incident& current, const Change& change) {
  const Row* row = nullptr;
  for (const Row& r : Table()) {
    if (r.event == change.event) row = &r;
  }
  if (row == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("event ", EventName(change.event), " is not a lifecycle change"));
  }
  if (std::find(row->from.begin(), row->from.end(), current.status()) == row->from.end()) {
    return absl::FailedPreconditionError(absl::StrCat("incident ", current.id(), " is ",
                                                      StatusName(current.status()), ": cannot ",
                                                      EventName(change.event)));
  }
  if (absl::Status st = row->guard(current, change); !st.ok()) return st;

  v1::Incident next = current;
  row->effect(next, change);
  if (row->to != kSame) next.set_status(row->to);
  next.set_version(current.version() + 1);
  *next.mutable_updated_at() = ToTimestamp(change.at);

  v1::HistoryEntry* h = next.add_history();
  h->set_version(next.version());
  h->set_type(change.event);
  *h->mutable_at() = ToTimestamp(change.at);
  h->set_actor_id(change.actor_id);
  h->set_actor_role(change.actor_role);
  h->set_from_status(current.status());
  h->set_to_status(next.status());
  h->set_note(change.event == v1::INCIDENT_EVENT_TYPE_OVERDUE        ? change.deadline
              : change.event == v1::INCIDENT_EVENT_TYPE_GRID_LOCATED ? change.region_code
                                                                     : change.note);
  if (change.event == v1::INCIDENT_EVENT_TYPE_ASSIGNED) *h->mutable_assignee() = change.assignee;
  return next;
}

}  // namespace gridloop::incidents
