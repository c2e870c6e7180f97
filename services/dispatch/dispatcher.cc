#include "services/dispatch/dispatcher.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock/proto_time.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"

namespace gridloop::dispatch {
namespace {

// A commit that lost a race re-reads and decides again; a record this contended means
// something is wrong, and the consumer's retry is the better place to wait.
constexpr int kMaxConflictRetries = 8;

bool Dispatchable(v1::IncidentStatus s) {
  return s == v1::INCIDENT_STATUS_REPORTED || s == v1::INCIDENT_STATUS_REOPENED ||
         s == v1::INCIDENT_STATUS_ESCALATED;
}

bool Finished(v1::IncidentStatus s) {
  return s == v1::INCIDENT_STATUS_CLOSED || s == v1::INCIDENT_STATUS_CANCELLED;
}

bool IsStaffRole(Role r) {
  return r == Role::kGridWorker || r == Role::kGridLeader || r == Role::kSupervisor ||
         r == Role::kOperator || r == Role::kDepartment;
}

bool SameAssignee(const v1::Assignee& a, const v1::Assignee& b) {
  return a.kind() == b.kind() && a.id() == b.id();
}

v1::DispatchEventType EventForClose(OfferAction action) {
  switch (action) {
    case OfferAction::kDecline:
      return v1::DISPATCH_EVENT_TYPE_OFFER_DECLINED;
    case OfferAction::kExpire:
      return v1::DISPATCH_EVENT_TYPE_OFFER_EXPIRED;
    case OfferAction::kAccept:
      return v1::DISPATCH_EVENT_TYPE_OFFER_ACCEPTED;
    default:
      return v1::DISPATCH_EVENT_TYPE_OFFER_WITHDRAWN;
  }
}

}  // namespace

// One decision in the making: the record as it will be written and everything written
// with it. Peer calls happen while it is built; the commit makes it count.
struct Dispatcher::Plan {
  v1::Dispatch job;
  int64_t expected_version = 0;
  DispatchWrite write;
  const Route* route = nullptr;
};

Dispatcher::Dispatcher(DispatchStore* dispatch, VolunteerStore* volunteers,
                       const VolunteerIndex* index, const Routing* routing,
                       IncidentCommands* incidents, StaffDirectory* staff, const Clock* clock,
                       DispatcherOptions options)
    : dispatch_(dispatch),
      volunteers_(volunteers),
      index_(index),
      routing_(routing),
      incidents_(incidents),
      staff_(staff),
      clock_(clock),
      options_(options),
      applied_(options.applied_versions_slots) {}

absl::Time Dispatcher::FairnessWindowStart() const {
  return clock_->Now() - options_.fairness_window;
}

v1::DispatchEvent Dispatcher::NewEvent(v1::DispatchEventType type, const v1::Dispatch& job) const {
  v1::DispatchEvent e;
  e.set_type(type);
  *e.mutable_occurred_at() = ToTimestamp(clock_->Now());
  e.set_incident_id(job.incident_id());
  e.set_incident_version(job.incident_version());
  e.set_region_code(job.region_code());
  return e;
}

// ---- Incident events

absl::Status Dispatcher::HandleIncidentEvent(const v1::IncidentEvent& event) {
  if (event.incident_id().empty() || event.version() < 1 || !event.has_incident() ||
      event.incident().id() != event.incident_id()) {
    return absl::InvalidArgumentError("incident event: missing incident id, version or snapshot");
  }
  // Already applied, or superseded by a newer version: every decision is made from the
  // newest snapshot, so an older one has nothing left to say. Most often this is the
  // `assigned` event of dispatch's own assignment, known without asking Redis.
  if (applied_.Get(event.incident_id()) >= event.version()) return absl::OkStatus();
  absl::Status last;
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    ASSIGN_OR_RETURN(std::optional<v1::Dispatch> job, dispatch_->GetJob(event.incident_id()));
    if (job.has_value() && job->incident_version() >= event.version()) {
      applied_.Record(event.incident_id(), job->incident_version());
      return absl::OkStatus();
    }
    last = ApplyEvent(event, job);
    if (!absl::IsAborted(last)) return last;
  }
  return absl::UnavailableError(absl::StrCat("dispatch of incident ", event.incident_id(),
                                             " kept changing: ", last.message()));
}

absl::Status Dispatcher::ApplyEvent(const v1::IncidentEvent& event,
                                    const std::optional<v1::Dispatch>& current) {
  const v1::Incident& inc = event.incident();
  Plan plan;
  if (current.has_value()) {
    plan.job = *current;
    plan.expected_version = current->version();
  } else {
    plan.job.set_incident_id(inc.id());
  }
  v1::Dispatch& job = plan.job;
  job.set_version(plan.expected_version + 1);
  job.set_incident_version(event.version());
  job.set_incident_status(inc.status());
  job.set_category(inc.category());
  job.set_region_code(inc.region_code());
  if (inc.has_location()) {
    *job.mutable_location() = inc.location();
  } else {
    job.clear_location();
  }
  job.set_escalation_level(inc.escalation_level());
  job.set_requested_volunteer_id(inc.requested_volunteer_id());
  *job.mutable_updated_at() = ToTimestamp(clock_->Now());
  plan.route = &routing_->For(inc.category());
  job.set_route(plan.route->kind);
  plan.write.incident_id = inc.id();

  switch (event.type()) {
    case v1::INCIDENT_EVENT_TYPE_REPORTED:
      // Reported by location while residents could not say which grid: wait for the
      // grid_located event rather than guess.
      if (!inc.grid_pending() && !inc.region_code().empty() &&
          inc.status() == v1::INCIDENT_STATUS_REPORTED) {
        RETURN_IF_ERROR(StartRound(plan, ""));
      }
      break;
    case v1::INCIDENT_EVENT_TYPE_GRID_LOCATED:
      if (inc.status() == v1::INCIDENT_STATUS_REPORTED && job.round() == 0 && !inc.has_assignee()) {
        RETURN_IF_ERROR(StartRound(plan, ""));
      }
      break;
    case v1::INCIDENT_EVENT_TYPE_REOPENED: {
      // The resident was not satisfied: someone else should have a go if anyone can.
      const v1::Assignee previous = job.assignee();
      if (!previous.id().empty()) {
        RETURN_IF_ERROR(
            volunteers_->EndTask(AssigneeKey(previous.kind(), previous.id()), inc.id()));
        *job.mutable_previous_assignee() = previous;
      }
      job.clear_assignee();
      RETURN_IF_ERROR(WithdrawOpenOffer(plan, "the incident was reopened"));
      if (inc.status() == v1::INCIDENT_STATUS_REOPENED) {
        RETURN_IF_ERROR(StartRound(plan, previous.id()));
      }
      break;
    }
    case v1::INCIDENT_EVENT_TYPE_ESCALATED: {
      const v1::Assignee previous = job.assignee();
      if (!previous.id().empty()) {
        RETURN_IF_ERROR(
            volunteers_->EndTask(AssigneeKey(previous.kind(), previous.id()), inc.id()));
        *job.mutable_previous_assignee() = previous;
      }
      job.clear_assignee();
      RETURN_IF_ERROR(WithdrawOpenOffer(plan, "the incident was escalated"));
      if (inc.status() == v1::INCIDENT_STATUS_ESCALATED) {
        job.set_round(job.round() + 1);
        job.clear_tried();
        RETURN_IF_ERROR(AssignAtLevel(plan, inc.escalation_level()));
      }
      break;
    }
    case v1::INCIDENT_EVENT_TYPE_OVERDUE:
      // 吹哨: a missed deadline moves the incident one level up; the escalated event that
      // follows brings the new assignment.
      if (inc.escalation_level() < v1::ESCALATION_LEVEL_DEPARTMENT &&
          inc.status() != v1::INCIDENT_STATUS_RESOLVED && !Finished(inc.status())) {
        v1::EscalateIncidentRequest req;
        req.set_request_id(absl::StrCat("dispatch-", inc.id(), "-v", event.version(), "-escalate"));
        req.set_incident_id(inc.id());
        req.set_expected_version(event.version());
        req.set_reason(absl::StrCat("overdue: the ", event.detail().empty() ? "" : event.detail(),
                                    event.detail().empty() ? "" : " ", "deadline was missed"));
        absl::StatusOr<v1::Incident> escalated = incidents_->Escalate(req);
        if (escalated.ok()) {
          v1::DispatchEvent e = NewEvent(v1::DISPATCH_EVENT_TYPE_ESCALATED, job);
          e.set_event_id(absl::StrCat("escalate:", inc.id(), ":v", event.version()));
          e.set_escalation_level(escalated->escalation_level());
          e.set_reason(req.reason());
          plan.write.events.push_back(std::move(e));
        } else if (absl::IsUnavailable(escalated.status())) {
          return escalated.status();
        } else {
          // Moved on since (resolved, escalated by hand, a newer version): nothing to do.
          log::Info("dispatch: overdue incident not escalated",
                    {{"incident", inc.id()}, {"reason", escalated.status().ToString()}});
        }
      }
      break;
    case v1::INCIDENT_EVENT_TYPE_ASSIGNED: {
      const v1::Assignee& now_assigned = inc.assignee();
      const v1::Assignee before = job.assignee();
      if (!before.id().empty() && !SameAssignee(before, now_assigned)) {
        RETURN_IF_ERROR(volunteers_->EndTask(AssigneeKey(before.kind(), before.id()), inc.id()));
        *job.mutable_previous_assignee() = before;
      }
      if (!now_assigned.id().empty()) {
        RETURN_IF_ERROR(volunteers_->AddTask(AssigneeKey(now_assigned.kind(), now_assigned.id()),
                                             inc.id(), FromTimestamp(event.occurred_at()),
                                             FairnessWindowStart()));
      }
      *job.mutable_assignee() = now_assigned;
      if (!job.open_offer_id().empty()) {
        ASSIGN_OR_RETURN(v1::Offer offer, dispatch_->GetOffer(job.open_offer_id()));
        if (now_assigned.kind() == v1::ASSIGNEE_KIND_VOLUNTEER &&
            now_assigned.id() == offer.volunteer_id() &&
            offer.status() == v1::OFFER_STATUS_ACCEPTED) {
          ASSIGN_OR_RETURN(v1::Offer done,
                           NextOffer(offer, OfferAction::kMarkAssigned, clock_->Now()));
          if (done.version() != offer.version()) {
            plan.write.offers.emplace_back(done, offer.version());
          }
          plan.write.clear_timers.push_back(offer.id());
          job.clear_open_offer_id();
        } else {
          // Someone assigned it by hand while a volunteer was being asked.
          RETURN_IF_ERROR(WithdrawOpenOffer(plan, "the incident was assigned to someone else"));
        }
      }
      break;
    }
    case v1::INCIDENT_EVENT_TYPE_CLOSED:
      if (!inc.assignee().id().empty()) {
        RETURN_IF_ERROR(volunteers_->EndTask(
            AssigneeKey(inc.assignee().kind(), inc.assignee().id()), inc.id()));
        if (inc.assignee().kind() == v1::ASSIGNEE_KIND_VOLUNTEER) {
          RETURN_IF_ERROR(CreditClosed(inc, event.version()));
        }
      }
      plan.write.retain = options_.retain_finished;
      break;
    case v1::INCIDENT_EVENT_TYPE_CANCELLED:
      if (!inc.assignee().id().empty()) {
        RETURN_IF_ERROR(volunteers_->EndTask(
            AssigneeKey(inc.assignee().kind(), inc.assignee().id()), inc.id()));
      }
      RETURN_IF_ERROR(WithdrawOpenOffer(plan, "the incident was cancelled"));
      plan.write.retain = options_.retain_finished;
      break;
    default:
      // accepted, resolved: nothing to decide; the version is recorded all the same.
      break;
  }
  if (Finished(inc.status())) plan.write.retain = options_.retain_finished;
  plan.write.job = plan.job;
  plan.write.expected_job_version = plan.expected_version;
  RETURN_IF_ERROR(dispatch_->Commit(plan.write));
  applied_.Record(plan.job.incident_id(), plan.job.incident_version());
  return absl::OkStatus();
}

absl::Status Dispatcher::StartRound(Plan& plan, const std::string& avoid_id) {
  v1::Dispatch& job = plan.job;
  job.set_round(job.round() + 1);
  job.clear_tried();
  // 点名: the resident's own choice is asked first, once, on the first round.
  if (job.round() == 1 && !job.requested_volunteer_id().empty()) {
    absl::StatusOr<v1::Volunteer> named = volunteers_->Get(job.requested_volunteer_id());
    if (named.ok() && named->active()) {
      double distance = 0;
      if (job.has_location() && named->has_location()) {
        distance = DistanceMeters(job.location().latitude(), job.location().longitude(),
                                  named->location().latitude(), named->location().longitude());
      }
      return MakeOffer(plan, named->id(), /*named=*/true, distance);
    }
    if (!named.ok() && !absl::IsNotFound(named.status())) return named.status();
    log::Info("dispatch: requested volunteer unavailable, dispatching normally",
              {{"incident", job.incident_id()}, {"volunteer", job.requested_volunteer_id()}});
  }
  return DispatchByRoute(plan, avoid_id);
}

absl::Status Dispatcher::DispatchByRoute(Plan& plan, const std::string& avoid_id) {
  switch (plan.route->kind) {
    case v1::ASSIGNEE_KIND_VOLUNTEER:
      return OfferNextVolunteer(plan, avoid_id);
    case v1::ASSIGNEE_KIND_DEPARTMENT:
      return AssignTo(plan, v1::ASSIGNEE_KIND_DEPARTMENT, plan.route->department);
    default:
      return AssignAtLevel(plan, v1::ESCALATION_LEVEL_GRID);
  }
}

absl::Status Dispatcher::OfferNextVolunteer(Plan& plan, const std::string& avoid_id) {
  v1::Dispatch& job = plan.job;
  if (!job.has_location() || job.tried_size() >= options_.max_offers_per_round) {
    return AssignAtLevel(plan, v1::ESCALATION_LEVEL_GRID);
  }
  NearbyQuery q;
  q.latitude = job.location().latitude();
  q.longitude = job.location().longitude();
  q.max_distance_m = options_.weights.max_distance_m;
  q.skills_any = plan.route->skills;
  q.limit = options_.candidates + job.tried_size();
  std::vector<double> distances;
  std::vector<IndexedVolunteer> near = index_->Nearest(q, &distances);

  std::vector<VolunteerCandidate> candidates;
  std::vector<std::string> keys;
  for (size_t i = 0; i < near.size(); ++i) {
    const IndexedVolunteer& v = near[i];
    if (std::find(job.tried().begin(), job.tried().end(), v.id) != job.tried().end()) continue;
    VolunteerCandidate c;
    c.id = v.id;
    c.skills = v.skills;
    c.distance_m = distances[i];
    c.availability = v.availability;
    c.max_concurrent = v.max_concurrent;
    candidates.push_back(std::move(c));
    keys.push_back(AssigneeKey(v1::ASSIGNEE_KIND_VOLUNTEER, v.id));
  }
  if (!candidates.empty()) {
    ASSIGN_OR_RETURN(std::vector<Load> loads, volunteers_->Loads(keys, FairnessWindowStart()));
    for (size_t i = 0; i < candidates.size() && i < loads.size(); ++i) {
      candidates[i].active_tasks = loads[i].active;
      candidates[i].recent_assignments = loads[i].recent;
    }
  }
  JobView view;
  view.incident_id = job.incident_id();
  view.skills_wanted = plan.route->skills;
  view.avoid_id = avoid_id;
  std::vector<RankedVolunteer> ranked =
      RankVolunteers(view, candidates, clock_->Now(), options_.weights);
  if (ranked.empty()) {
    log::Info("dispatch: no volunteer available, the grid worker takes it",
              {{"incident", job.incident_id()}});
    return AssignAtLevel(plan, v1::ESCALATION_LEVEL_GRID);
  }
  return MakeOffer(plan, ranked.front().id, /*named=*/false, ranked.front().distance_m);
}

absl::Status Dispatcher::MakeOffer(Plan& plan, const std::string& volunteer_id, bool named,
                                   double distance_m) {
  v1::Dispatch& job = plan.job;
  const int n = job.offers_made() + 1;
  const absl::Time now = clock_->Now();
  v1::Offer offer;
  offer.set_id(OfferId(job.incident_id(), n));
  offer.set_incident_id(job.incident_id());
  offer.set_incident_version(job.incident_version());
  offer.set_volunteer_id(volunteer_id);
  offer.set_status(v1::OFFER_STATUS_OFFERED);
  offer.set_named(named);
  offer.set_category(job.category());
  offer.set_region_code(job.region_code());
  offer.set_distance_m(distance_m);
  *offer.mutable_offered_at() = ToTimestamp(now);
  *offer.mutable_expires_at() = ToTimestamp(now + options_.offer_ttl);
  offer.set_version(1);
  // Indexed before the offer exists: a crash in between leaves an index entry that finds
  // no offer (skipped when listing), never an offer its volunteer cannot see. The retry
  // makes the same offer id, so the entry is the same too.
  RETURN_IF_ERROR(volunteers_->IndexOffer(volunteer_id, offer.id(), now));
  job.set_offers_made(n);
  job.set_open_offer_id(offer.id());
  job.add_tried(volunteer_id);
  plan.write.timers.emplace_back(offer.id(), now + options_.offer_ttl);
  v1::DispatchEvent e = NewEvent(v1::DISPATCH_EVENT_TYPE_OFFER_MADE, job);
  e.set_event_id(absl::StrCat("offer:", offer.id(), ":offered"));
  e.set_volunteer_id(volunteer_id);
  *e.mutable_offer() = offer;
  plan.write.events.push_back(std::move(e));
  plan.write.offers.emplace_back(std::move(offer), 0);
  return absl::OkStatus();
}

absl::Status Dispatcher::AssignAtLevel(Plan& plan, v1::EscalationLevel level) {
  v1::Dispatch& job = plan.job;
  const std::string avoid_id = job.previous_assignee().id();
  if (level == v1::ESCALATION_LEVEL_DEPARTMENT) {
    return AssignTo(plan, v1::ASSIGNEE_KIND_DEPARTMENT, plan.route->department);
  }
  absl::StatusOr<v1::GetResponsibleResponse> resp =
      staff_->Responsible(job.region_code(), clock_->Now());
  if (!resp.ok() && !absl::IsNotFound(resp.status())) return resp.status();
  std::vector<std::string> people;
  if (resp.ok()) {
    if (level == v1::ESCALATION_LEVEL_GRID) {
      for (const v1::StaffAssignment& s : resp->grid_workers()) {
        if (s.on_duty()) people.push_back(s.person_id());
      }
      if (people.empty()) {
        for (const v1::StaffAssignment& s : resp->grid_workers()) people.push_back(s.person_id());
      }
      if (people.empty() && resp->has_leader()) people.push_back(resp->leader().person_id());
    } else {
      const v1::RegionLevel wanted = level == v1::ESCALATION_LEVEL_COMMUNITY
                                         ? v1::REGION_LEVEL_COMMUNITY
                                         : v1::REGION_LEVEL_STREET;
      for (const v1::EscalationStep& step : resp->escalation_chain()) {
        if (step.region().level() != wanted) continue;
        for (const v1::StaffAssignment& s : step.responsible()) people.push_back(s.person_id());
      }
    }
  }
  if (people.empty()) {
    // Nobody on the ledger at this level: the category's department is the last resort
    // rather than leaving the incident with no one.
    log::Info("dispatch: nobody responsible at this level, sending to the department",
              {{"incident", job.incident_id()},
               {"level", v1::EscalationLevel_Name(level)},
               {"department", plan.route->department}});
    return AssignTo(plan, v1::ASSIGNEE_KIND_DEPARTMENT, plan.route->department);
  }
  return AssignStaff(plan, people, avoid_id);
}

absl::Status Dispatcher::AssignStaff(Plan& plan, const std::vector<std::string>& people,
                                     const std::string& avoid_id) {
  // One person (most grids have one worker on duty): nothing to compare, so no loads read.
  if (people.size() == 1) return AssignTo(plan, v1::ASSIGNEE_KIND_GRID_WORKER, people.front());
  std::vector<std::string> keys;
  keys.reserve(people.size());
  for (const std::string& p : people) keys.push_back(AssigneeKey(v1::ASSIGNEE_KIND_GRID_WORKER, p));
  ASSIGN_OR_RETURN(std::vector<Load> loads, volunteers_->Loads(keys, FairnessWindowStart()));
  std::vector<StaffCandidate> staff;
  for (size_t i = 0; i < people.size(); ++i) {
    StaffCandidate c;
    c.id = people[i];
    if (i < loads.size()) {
      c.active_tasks = loads[i].active;
      c.recent_assignments = loads[i].recent;
    }
    staff.push_back(std::move(c));
  }
  return AssignTo(plan, v1::ASSIGNEE_KIND_GRID_WORKER, ChooseStaff(staff, avoid_id));
}

absl::Status Dispatcher::AssignTo(Plan& plan, v1::AssigneeKind kind, const std::string& id) {
  v1::Dispatch& job = plan.job;
  v1::AssignIncidentRequest req;
  // The decision's identity: this record version and this assignee. A retry of the same
  // decision returns IncidentService's first answer; a different decision after a crash
  // is a different request, which the expected version then refuses.
  req.set_request_id(absl::StrCat("dispatch-", job.incident_id(), "-d", job.version(), "-",
                                  AssigneeKey(kind, id)));
  req.set_incident_id(job.incident_id());
  req.mutable_assignee()->set_kind(kind);
  req.mutable_assignee()->set_id(id);
  req.set_expected_version(job.incident_version());
  req.set_note(absl::StrCat("dispatch round ", job.round()));
  absl::StatusOr<v1::Incident> assigned = incidents_->Assign(req);
  if (!assigned.ok()) {
    if (absl::IsUnavailable(assigned.status())) return assigned.status();
    // The incident moved on (a newer version, assigned or closed by hand): the events
    // that follow tell dispatch what to do next.
    log::Info("dispatch: assignment not made",
              {{"incident", job.incident_id()}, {"reason", assigned.status().ToString()}});
    return absl::OkStatus();
  }
  *job.mutable_assignee() = assigned->assignee();
  v1::DispatchEvent e = NewEvent(v1::DISPATCH_EVENT_TYPE_ASSIGNED, job);
  e.set_event_id(absl::StrCat("assign:", req.request_id()));
  *e.mutable_assignee() = assigned->assignee();
  if (kind == v1::ASSIGNEE_KIND_VOLUNTEER) e.set_volunteer_id(id);
  plan.write.events.push_back(std::move(e));
  // What the `assigned` event coming back would record, recorded now: that event is then
  // skipped at its first read instead of costing a second pass through Redis.
  const absl::Time at =
      assigned->has_assigned_at() ? FromTimestamp(assigned->assigned_at()) : clock_->Now();
  RETURN_IF_ERROR(
      volunteers_->AddTask(AssigneeKey(assigned->assignee().kind(), assigned->assignee().id()),
                           job.incident_id(), at, FairnessWindowStart()));
  job.set_incident_version(std::max(job.incident_version(), assigned->version()));
  job.set_incident_status(assigned->status());
  return absl::OkStatus();
}

absl::Status Dispatcher::WithdrawOpenOffer(Plan& plan, absl::string_view reason) {
  v1::Dispatch& job = plan.job;
  if (job.open_offer_id().empty()) return absl::OkStatus();
  absl::StatusOr<v1::Offer> offer = dispatch_->GetOffer(job.open_offer_id());
  if (!offer.ok() && !absl::IsNotFound(offer.status())) return offer.status();
  if (offer.ok()) {
    absl::StatusOr<v1::Offer> withdrawn =
        NextOffer(*offer, OfferAction::kWithdraw, clock_->Now(), reason);
    if (withdrawn.ok()) {
      v1::DispatchEvent e = NewEvent(v1::DISPATCH_EVENT_TYPE_OFFER_WITHDRAWN, job);
      e.set_event_id(absl::StrCat("offer:", offer->id(), ":withdrawn"));
      e.set_volunteer_id(offer->volunteer_id());
      *e.mutable_offer() = *withdrawn;
      e.set_reason(std::string(reason));
      plan.write.events.push_back(std::move(e));
      plan.write.offers.emplace_back(*std::move(withdrawn), offer->version());
    }
    plan.write.clear_timers.push_back(offer->id());
  }
  job.clear_open_offer_id();
  return absl::OkStatus();
}

absl::Status Dispatcher::CreditClosed(const v1::Incident& inc, int64_t version) {
  absl::StatusOr<bool> credited =
      volunteers_->Credit(inc.assignee().id(), IncidentCredit(inc, version, options_.credit));
  // A volunteer erased since keeps no record to credit.
  if (!credited.ok() && absl::IsNotFound(credited.status())) return absl::OkStatus();
  return credited.status();
}

// ---- Offers answered and expired

absl::StatusOr<v1::Offer> Dispatcher::CloseAndAdvance(const std::string& offer_id,
                                                      OfferAction action,
                                                      absl::string_view reason) {
  ASSIGN_OR_RETURN(std::string incident_id, IncidentOfOffer(offer_id, "offer_id"));
  absl::Status last;
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    ASSIGN_OR_RETURN(v1::Offer offer, dispatch_->GetOffer(offer_id));
    ASSIGN_OR_RETURN(v1::Offer closed, NextOffer(offer, action, clock_->Now(), reason));
    ASSIGN_OR_RETURN(std::optional<v1::Dispatch> current, dispatch_->GetJob(incident_id));
    Plan plan;
    plan.write.incident_id = incident_id;
    plan.write.clear_timers.push_back(offer_id);
    if (current.has_value() && current->open_offer_id() == offer_id) {
      plan.job = *current;
      plan.expected_version = current->version();
      plan.job.set_version(plan.expected_version + 1);
      plan.job.clear_open_offer_id();
      *plan.job.mutable_updated_at() = ToTimestamp(clock_->Now());
      plan.route = &routing_->For(plan.job.category());
      v1::DispatchEvent e = NewEvent(EventForClose(action), plan.job);
      e.set_event_id(absl::StrCat("offer:", offer_id, ":", OfferActionName(action)));
      e.set_volunteer_id(offer.volunteer_id());
      *e.mutable_offer() = closed;
      e.set_reason(std::string(reason));
      plan.write.events.push_back(std::move(e));
      if (Dispatchable(plan.job.incident_status()) && plan.job.assignee().id().empty()) {
        // Normal dispatch takes over, also after a named volunteer said no.
        RETURN_IF_ERROR(DispatchByRoute(plan, plan.job.previous_assignee().id()));
      }
      plan.write.job = plan.job;
      plan.write.expected_job_version = plan.expected_version;
    }
    plan.write.offers.emplace_back(closed, offer.version());
    last = dispatch_->Commit(plan.write);
    if (last.ok()) {
      RETURN_IF_ERROR(volunteers_->RecordOfferOutcome(offer.volunteer_id(), offer_id,
                                                      action == OfferAction::kDecline));
      return closed;
    }
    if (!absl::IsAborted(last)) return last;
  }
  return absl::UnavailableError(
      absl::StrCat("offer ", offer_id, " kept changing: ", last.message()));
}

absl::StatusOr<v1::Offer> Dispatcher::ConfirmAssignment(const std::string& offer_id) {
  ASSIGN_OR_RETURN(std::string incident_id, IncidentOfOffer(offer_id, "offer_id"));
  ASSIGN_OR_RETURN(v1::Offer offer, dispatch_->GetOffer(offer_id));
  if (offer.status() != v1::OFFER_STATUS_ACCEPTED || offer.assigned()) return offer;
  ASSIGN_OR_RETURN(std::optional<v1::Dispatch> job, dispatch_->GetJob(incident_id));
  int64_t version = job.has_value() ? job->incident_version() : offer.incident_version();

  absl::StatusOr<v1::Incident> assigned;
  for (int attempt = 0; attempt < 3; ++attempt) {
    v1::AssignIncidentRequest req;
    req.set_request_id(absl::StrCat("dispatch-", offer_id, "-v", version));
    req.set_incident_id(incident_id);
    req.mutable_assignee()->set_kind(v1::ASSIGNEE_KIND_VOLUNTEER);
    req.mutable_assignee()->set_id(offer.volunteer_id());
    req.set_expected_version(version);
    req.set_note(absl::StrCat("accepted offer ", offer_id));
    assigned = incidents_->Assign(req);
    if (!absl::IsAborted(assigned.status())) break;
    // Versions move without the status changing (an overdue mark): ask where it stands.
    ASSIGN_OR_RETURN(v1::Incident now, incidents_->Get(incident_id));
    if (!Dispatchable(now.status()) || !now.assignee().id().empty()) {
      assigned = absl::FailedPreconditionError(
          absl::StrCat("incident ", incident_id, " can no longer be assigned from this offer"));
      break;
    }
    version = now.version();
  }
  if (absl::IsUnavailable(assigned.status())) return offer;  // the timer tries again
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    ASSIGN_OR_RETURN(offer, dispatch_->GetOffer(offer_id));
    ASSIGN_OR_RETURN(job, dispatch_->GetJob(incident_id));
    Plan plan;
    plan.write.incident_id = incident_id;
    plan.write.clear_timers.push_back(offer_id);
    if (job.has_value()) {
      plan.job = *job;
      plan.expected_version = job->version();
      plan.job.set_version(plan.expected_version + 1);
    } else {
      plan.job.set_incident_id(incident_id);
      plan.job.set_version(1);
    }
    v1::Offer next;
    if (assigned.ok()) {
      ASSIGN_OR_RETURN(next, NextOffer(offer, OfferAction::kMarkAssigned, clock_->Now()));
      *plan.job.mutable_assignee() = assigned->assignee();
      v1::DispatchEvent e = NewEvent(v1::DISPATCH_EVENT_TYPE_ASSIGNED, plan.job);
      e.set_event_id(absl::StrCat("assign:dispatch-", offer_id));
      e.set_volunteer_id(offer.volunteer_id());
      *e.mutable_assignee() = assigned->assignee();
      *e.mutable_offer() = next;
      plan.write.events.push_back(std::move(e));
    } else {
      absl::StatusOr<v1::Offer> withdrawn =
          NextOffer(offer, OfferAction::kWithdraw, clock_->Now(), assigned.status().message());
      if (!withdrawn.ok()) return offer;  // assigned meanwhile by the event handler
      next = *withdrawn;
      v1::DispatchEvent e = NewEvent(v1::DISPATCH_EVENT_TYPE_OFFER_WITHDRAWN, plan.job);
      e.set_event_id(absl::StrCat("offer:", offer_id, ":withdrawn"));
      e.set_volunteer_id(offer.volunteer_id());
      *e.mutable_offer() = next;
      e.set_reason(std::string(assigned.status().message()));
      plan.write.events.push_back(std::move(e));
    }
    if (plan.job.open_offer_id() == offer_id) plan.job.clear_open_offer_id();
    if (next.version() != offer.version()) plan.write.offers.emplace_back(next, offer.version());
    if (job.has_value()) {
      plan.write.job = plan.job;
      plan.write.expected_job_version = plan.expected_version;
    }
    absl::Status s = dispatch_->Commit(plan.write);
    if (s.ok()) {
      if (!assigned.ok()) return assigned.status();
      return next;
    }
    if (!absl::IsAborted(s)) return s;
  }
  return absl::UnavailableError(absl::StrCat("offer ", offer_id, " kept changing"));
}

absl::StatusOr<int> Dispatcher::FireDueTimers(int limit) {
  const absl::Time now = clock_->Now();
  ASSIGN_OR_RETURN(std::vector<std::string> due, dispatch_->DueTimers(now, limit));
  int handled = 0;
  for (const std::string& offer_id : due) {
    absl::StatusOr<v1::Offer> offer = dispatch_->GetOffer(offer_id);
    absl::Status s;
    if (!offer.ok() && absl::IsNotFound(offer.status())) {
      absl::StatusOr<std::string> iid = IncidentOfOffer(offer_id, "offer_id");
      if (!iid.ok()) continue;
      DispatchWrite w;
      w.incident_id = *iid;
      w.clear_timers.push_back(offer_id);
      s = dispatch_->Commit(w);
    } else if (!offer.ok()) {
      s = offer.status();
    } else if (offer->status() == v1::OFFER_STATUS_OFFERED) {
      // Several replicas may find the same timer due; the offer's version lets one of
      // them expire it, and the others find it closed.
      s = CloseAndAdvance(offer_id, OfferAction::kExpire, "no answer before the deadline").status();
      if (absl::IsFailedPrecondition(s)) s = absl::OkStatus();
    } else if (offer->status() == v1::OFFER_STATUS_ACCEPTED && !offer->assigned()) {
      s = ConfirmAssignment(offer_id).status();
      if (absl::IsFailedPrecondition(s)) s = absl::OkStatus();
    } else {
      DispatchWrite w;
      w.incident_id = offer->incident_id();
      w.clear_timers.push_back(offer_id);
      s = dispatch_->Commit(w);
    }
    if (!s.ok()) {
      log::Warn("dispatch: timer not handled", {{"offer", offer_id}, {"error", s.ToString()}});
      continue;
    }
    ++handled;
  }
  return handled;
}

// ---- RPCs

absl::StatusOr<v1::ListOffersResponse> Dispatcher::ListOffers(const v1::ListOffersRequest& req,
                                                              const Caller& caller) {
  if (caller.anonymous()) return absl::UnauthenticatedError("a caller identity is required");
  if (req.volunteer_id().empty() || req.volunteer_id().size() > 64) {
    return absl::InvalidArgumentError("volunteer_id: required, at most 64 characters");
  }
  if (req.page_size() < 0 || req.page_size() > 500) {
    return absl::InvalidArgumentError("page_size: 0..500");
  }
  const bool self = caller.person_id == req.volunteer_id();
  if (!self && caller.role != Role::kSystem) {
    if (!IsStaffRole(caller.role)) {
      return absl::PermissionDeniedError("volunteer_id: a volunteer sees only their own offers");
    }
    // Staff see the offers of volunteers in their own region only.
    ASSIGN_OR_RETURN(v1::Volunteer volunteer, volunteers_->Get(req.volunteer_id()));
    if (!caller.ActsWithin(volunteer.region_code())) {
      return absl::PermissionDeniedError(absl::StrCat(
          "volunteer_id: volunteer ", req.volunteer_id(), " is outside the caller's region"));
    }
  }
  const int page_size = req.page_size() == 0 ? 50 : req.page_size();
  v1::ListOffersResponse resp;
  std::string token = req.page_token();
  // Closed offers are skipped when not asked for: read on until the page is full (within
  // bounds: a long history of closed offers is paged through, not read in one call).
  for (int pages = 0; pages < 20 && resp.offers_size() < page_size; ++pages) {
    ASSIGN_OR_RETURN(auto page, volunteers_->OfferIds(req.volunteer_id(), page_size, token));
    ASSIGN_OR_RETURN(std::vector<v1::Offer> offers, dispatch_->GetOffers(page.first));
    for (v1::Offer& o : offers) {
      if (!req.include_closed() && !IsOpen(o)) continue;
      *resp.add_offers() = std::move(o);
    }
    token = page.second;
    if (token.empty()) break;
  }
  resp.set_next_page_token(token);
  return resp;
}

absl::StatusOr<v1::Offer> Dispatcher::RespondToOffer(const v1::RespondToOfferRequest& req,
                                                     const Caller& caller) {
  if (caller.anonymous()) return absl::UnauthenticatedError("a caller identity is required");
  if (req.request_id().empty() || req.request_id().size() > 128) {
    return absl::InvalidArgumentError("request_id: required, at most 128 characters");
  }
  ASSIGN_OR_RETURN(std::string incident_id, IncidentOfOffer(req.offer_id(), "offer_id"));
  (void)incident_id;
  if (req.reason().size() > 500) return absl::InvalidArgumentError("reason: at most 500 bytes");
  ASSIGN_OR_RETURN(v1::Offer offer, dispatch_->GetOffer(req.offer_id()));
  if (caller.person_id != offer.volunteer_id() && caller.role != Role::kSystem &&
      caller.role != Role::kOperator) {
    return absl::PermissionDeniedError("offer_id: only the volunteer it was made to may answer it");
  }
  // Answering again the way it was answered returns the offer as it stands.
  if (req.accept() && offer.status() == v1::OFFER_STATUS_ACCEPTED) {
    if (!offer.assigned()) return ConfirmAssignment(offer.id());
    return offer;
  }
  if (!req.accept() && offer.status() == v1::OFFER_STATUS_DECLINED) return offer;
  if (!req.accept()) {
    return CloseAndAdvance(offer.id(), OfferAction::kDecline,
                           req.reason().empty() ? "declined" : req.reason());
  }
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    ASSIGN_OR_RETURN(v1::Offer accepted, NextOffer(offer, OfferAction::kAccept, clock_->Now()));
    ASSIGN_OR_RETURN(std::optional<v1::Dispatch> job, dispatch_->GetJob(offer.incident_id()));
    DispatchWrite w;
    w.incident_id = offer.incident_id();
    w.offers.emplace_back(accepted, offer.version());
    // Until IncidentService confirms, the timer stands ready to try again.
    w.timers.emplace_back(offer.id(), clock_->Now() + options_.assign_retry);
    v1::Dispatch event_job = job.value_or(v1::Dispatch());
    event_job.set_incident_id(offer.incident_id());
    v1::DispatchEvent e = NewEvent(v1::DISPATCH_EVENT_TYPE_OFFER_ACCEPTED, event_job);
    e.set_event_id(absl::StrCat("offer:", offer.id(), ":accept"));
    e.set_volunteer_id(offer.volunteer_id());
    *e.mutable_offer() = accepted;
    w.events.push_back(std::move(e));
    absl::Status s = dispatch_->Commit(w);
    if (s.ok()) return ConfirmAssignment(offer.id());
    if (!absl::IsAborted(s)) return s;
    ASSIGN_OR_RETURN(offer, dispatch_->GetOffer(req.offer_id()));
  }
  return absl::AbortedError(absl::StrCat("offer ", req.offer_id(), " kept changing; try again"));
}

absl::StatusOr<v1::Dispatch> Dispatcher::GetDispatch(const v1::GetDispatchRequest& req,
                                                     const Caller& caller) {
  if (caller.anonymous()) return absl::UnauthenticatedError("a caller identity is required");
  if (caller.role != Role::kSystem && !IsStaffRole(caller.role)) {
    return absl::PermissionDeniedError("only staff may see how an incident is dispatched");
  }
  if (req.incident_id().empty() || req.incident_id().size() > 64) {
    return absl::InvalidArgumentError("incident_id: required, at most 64 characters");
  }
  ASSIGN_OR_RETURN(std::optional<v1::Dispatch> job, dispatch_->GetJob(req.incident_id()));
  if (!job.has_value()) {
    return absl::NotFoundError(
        absl::StrCat("incident ", req.incident_id(), " has not reached dispatch"));
  }
  if (caller.role != Role::kSystem && !caller.ActsWithin(job->region_code())) {
    return absl::PermissionDeniedError(
        absl::StrCat("incident ", req.incident_id(), " is outside the caller's region"));
  }
  std::vector<std::string> ids;
  for (int n = 1; n <= job->offers_made(); ++n) ids.push_back(OfferId(job->incident_id(), n));
  ASSIGN_OR_RETURN(std::vector<v1::Offer> offers, dispatch_->GetOffers(ids));
  for (v1::Offer& o : offers) *job->add_offers() = std::move(o);
  return *job;
}

}  // namespace gridloop::dispatch
