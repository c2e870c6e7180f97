#include "services/incidents/incidents.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/clock/proto_time.h"
#include "common/requests/fingerprint.h"
#include "common/status/status_macros.h"
#include "services/incidents/ids.h"
#include "services/incidents/validation.h"

namespace gridloop::incidents {
namespace {

constexpr int kMaxConflictRetries = 8;
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;

absl::Status NotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("incident ", id.substr(0, kMaxIdChars), " not found"));
}

absl::Status RequireStaff(const Caller& caller, absl::string_view what) {
  if (caller.anonymous()) {
    return absl::UnauthenticatedError(absl::StrCat(what, " needs an identified caller"));
  }
  if (!IsStaff(caller)) {
    return absl::PermissionDeniedError(
        absl::StrCat("role ", RoleName(caller.role), " may not ", what));
  }
  return absl::OkStatus();
}

bool IsReporter(const v1::Incident& inc, const Caller& caller) {
  return !caller.anonymous() && !caller.person_id.empty() &&
         caller.person_id == inc.reporter().resident_id();
}

SlaDeadline DeadlineOf(const v1::Incident& inc, absl::string_view kind) {
  return SlaDeadline{inc.id(), std::string(kind),
                     FromTimestamp(kind == "respond" ? inc.respond_by() : inc.resolve_by())};
}

// A page token is "<reported_ms>:<id>" of the last incident returned.
std::string EncodeCursor(const ListCursor& c) { return absl::StrCat(c.reported_ms, ":", c.id); }

absl::StatusOr<ListCursor> DecodeCursor(absl::string_view token) {
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(token, ':');
  ListCursor c;
  if (!absl::SimpleAtoi(parts.first, &c.reported_ms) || !ShardOfId(parts.second).has_value()) {
    return absl::InvalidArgumentError("page_token: not a token this service issued");
  }
  c.id = std::string(parts.second);
  return c;
}

}  // namespace

bool IsStaff(const Caller& caller) {
  switch (caller.role) {
    case Role::kGridWorker:
    case Role::kGridLeader:
    case Role::kSupervisor:
    case Role::kDepartment:
    case Role::kOperator:
    case Role::kSystem:
      return true;
    default:
      return false;
  }
}

v1::IncidentEvent MakeEvent(const v1::Incident& after, v1::IncidentEventType type, absl::Time at,
                            absl::string_view actor_id, absl::string_view actor_role,
                            absl::string_view detail) {
  v1::IncidentEvent e;
  // Deterministic: one writer and gap-free versions make (id, version) unique, and a
  // re-published outbox entry keeps its id, so consumers can dedupe on it.
  e.set_event_id(absl::StrCat(after.id(), ".", after.version()));
  e.set_incident_id(after.id());
  e.set_version(after.version());
  e.set_type(type);
  *e.mutable_occurred_at() = ToTimestamp(at);
  e.mutable_actor()->set_person_id(std::string(actor_id));
  e.mutable_actor()->set_role(std::string(actor_role));
  e.set_detail(std::string(detail));
  *e.mutable_incident() = after;
  e.mutable_incident()->clear_history();
  // Events stay small and carry no more personal data than consumers need.
  if (!e.incident().reporter().phone().empty()) {
    e.mutable_incident()->mutable_reporter()->set_phone(MaskPhone(after.reporter().phone()));
  }
  return e;
}

Incidents::Incidents(IncidentStore* store, const Taxonomy* taxonomy, const Clock* clock,
                     ResidentDirectory* directory)
    : store_(store), taxonomy_(taxonomy), clock_(clock), directory_(directory) {}

bool Incidents::NeedsDirectory(const v1::ReportIncidentRequest& req, std::string* grid) const {
  if (directory_ == nullptr) return false;
  if (!req.reporter().resident_id().empty()) return true;
  if (!req.region_code().empty() || !req.has_location()) return false;
  if (grid == nullptr) return true;
  std::optional<std::string> known =
      directory_->KnownGrid(req.location().latitude(), req.location().longitude(), clock_->Now());
  if (!known.has_value()) return true;
  *grid = *std::move(known);
  return false;
}

namespace {

// The residents service is down or slow: what it would have told us is filled in later.
bool CannotAnswerNow(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s);
}

// How long an incident waits before its grid is asked for again.
constexpr absl::Duration kGridRetry = absl::Seconds(5);

}  // namespace

v1::Incident Incidents::ForCaller(v1::Incident incident, const Caller& caller) {
  if (!IsStaff(caller) && !IsReporter(incident, caller) && !incident.reporter().phone().empty()) {
    incident.mutable_reporter()->set_phone(MaskPhone(incident.reporter().phone()));
  }
  return incident;
}

absl::StatusOr<Incidents::PreparedReport> Incidents::PrepareReport(
    const v1::ReportIncidentRequest& req, const Caller& caller, absl::string_view region_code,
    bool grid_pending) const {
  RETURN_IF_ERROR(ValidateReport(req, *taxonomy_));
  if (region_code.empty()) region_code = req.region_code();
  if (region_code.empty() && !grid_pending) {
    return absl::InvalidArgumentError(
        "region_code: required when the grid cannot be found from the location");
  }
  const Category& category = *taxonomy_->Find(req.category());

  v1::Reporter reporter = req.reporter();
  if (!reporter.phone().empty()) {
    ASSIGN_OR_RETURN(std::string phone, NormalizeMobile("reporter.phone", reporter.phone()));
    reporter.set_phone(phone);
  }
  if (reporter.resident_id().empty() && reporter.name().empty() && reporter.phone().empty()) {
    // A patrol report or a resident using the app: the caller is the reporter.
    if (caller.anonymous() || caller.person_id.empty()) {
      return absl::InvalidArgumentError(
          "reporter: resident_id, or name and phone, required for an anonymous caller");
    }
    reporter.set_resident_id(caller.person_id);
  }
  if (reporter.resident_id().empty() && reporter.phone().empty()) {
    return absl::InvalidArgumentError(
        "reporter.phone: required when the reporter is not a registered resident (回访 needs it)");
  }

  // No separate look-up of the request_id: the write checks it atomically and hands back
  // the first result, so a report costs one round trip to the store.
  const int shard = ShardOfRequest(req.request_id());
  const std::string fingerprint = RequestFingerprint("ReportIncident", req);

  const absl::Time now = clock_->Now();
  v1::Incident inc;
  inc.set_id(NewIncidentId(shard, now));
  inc.set_status(v1::INCIDENT_STATUS_REPORTED);
  inc.set_version(1);
  inc.set_category(category.code);
  inc.set_region_code(std::string(region_code));
  inc.set_grid_pending(grid_pending);
  inc.set_escalation_level(v1::ESCALATION_LEVEL_GRID);
  inc.set_title(req.title());
  inc.set_description(req.description());
  inc.set_channel(req.channel());
  if (req.has_location()) *inc.mutable_location() = req.location();
  inc.set_address(req.address());
  inc.set_urgency(req.urgency() != v1::URGENCY_UNSPECIFIED ? req.urgency()
                                                           : category.default_urgency);
  *inc.mutable_reporter() = reporter;
  inc.set_external_ref(req.external_ref());
  inc.set_requested_volunteer_id(req.requested_volunteer_id());
  *inc.mutable_reported_at() = ToTimestamp(now);
  *inc.mutable_updated_at() = ToTimestamp(now);
  *inc.mutable_respond_by() = ToTimestamp(now + category.respond_within);
  *inc.mutable_resolve_by() = ToTimestamp(now + category.resolve_within);

  const std::string actor_role(RoleName(caller.role));
  IncidentWrite w;
  w.incident = inc;
  w.history.set_version(1);
  w.history.set_type(v1::INCIDENT_EVENT_TYPE_REPORTED);
  *w.history.mutable_at() = ToTimestamp(now);
  w.history.set_actor_id(caller.person_id);
  w.history.set_actor_role(actor_role);
  w.history.set_to_status(v1::INCIDENT_STATUS_REPORTED);
  w.expected_version = 0;
  w.event = MakeEvent(inc, v1::INCIDENT_EVENT_TYPE_REPORTED, now, caller.person_id, actor_role, "");
  w.request = RequestRecord{req.request_id(), fingerprint};
  w.schedule = {DeadlineOf(inc, "respond"), DeadlineOf(inc, "resolve")};
  if (grid_pending) w.schedule.push_back(SlaDeadline{inc.id(), "grid", now + kGridRetry});

  return PreparedReport{std::move(w), fingerprint};
}

absl::StatusOr<v1::Incident> Incidents::CompleteReport(const PreparedReport& prepared,
                                                       absl::StatusOr<WriteResult> written,
                                                       const Caller& caller) {
  if (!written.ok()) return written.status();
  if (written->earlier.has_value()) {  // a repeat, or a concurrent identical request that won
    if (written->earlier->fingerprint != prepared.fingerprint) {
      return absl::InvalidArgumentError("request_id: already used for a different request");
    }
    return ForCaller(std::move(written->earlier->incident), caller);
  }
  return ForCaller(prepared.write.incident, caller);
}

absl::StatusOr<v1::Incident> Incidents::Report(const v1::ReportIncidentRequest& req,
                                               const Caller& caller) {
  std::string region_code;
  bool grid_pending = false;
  if (NeedsDirectory(req)) {
    // Bad input is refused before anything is asked of the residents service.
    RETURN_IF_ERROR(ValidateReport(req, *taxonomy_));
    if (!req.reporter().resident_id().empty()) {
      absl::StatusOr<bool> known = directory_->ResidentExists(req.reporter().resident_id());
      if (known.ok() && !*known) {
        return absl::InvalidArgumentError("reporter.resident_id: no such resident");
      }
      if (!known.ok() && !CannotAnswerNow(known.status())) return known.status();
      // Unreachable: the report is taken as given rather than lost.
    }
    if (req.region_code().empty() && req.has_location()) {
      absl::StatusOr<std::optional<std::string>> grid = directory_->LocateGrid(
          req.location().latitude(), req.location().longitude(), clock_->Now());
      if (grid.ok() && !grid->has_value()) {
        return absl::InvalidArgumentError("location: outside every grid; give region_code instead");
      }
      if (grid.ok()) {
        region_code = **grid;
      } else if (CannotAnswerNow(grid.status())) {
        grid_pending = true;
      } else {
        return grid.status();
      }
    }
  }
  ASSIGN_OR_RETURN(PreparedReport prepared, PrepareReport(req, caller, region_code, grid_pending));
  return CompleteReport(prepared, store_->Write(prepared.write), caller);
}

void Incidents::ReportAsync(const v1::ReportIncidentRequest& req, const Caller& caller,
                            IncidentCallback done, absl::string_view grid) {
  absl::StatusOr<PreparedReport> prepared = PrepareReport(req, caller, grid);
  if (!prepared.ok()) {
    done(prepared.status());
    return;
  }
  auto kept = std::make_shared<PreparedReport>(*std::move(prepared));
  store_->WriteAsync(kept->write,
                     [kept, caller, done = std::move(done)](absl::StatusOr<WriteResult> written) {
                       done(CompleteReport(*kept, std::move(written), caller));
                     });
}

absl::StatusOr<v1::Incident> Incidents::Get(absl::string_view id, const Caller& caller) {
  if (id.empty()) return absl::InvalidArgumentError("id: required");
  if (!ShardOfId(id).has_value()) return NotFound(id);
  ASSIGN_OR_RETURN(v1::Incident inc, store_->Get(id, /*with_history=*/true));
  return ForCaller(std::move(inc), caller);
}

absl::StatusOr<v1::ListIncidentsResponse> Incidents::List(const v1::ListIncidentsRequest& req,
                                                          const Caller& caller) {
  ListQuery q;
  if (!req.region_prefix().empty()) {
    RETURN_IF_ERROR(CheckRegionCode("region_prefix", req.region_prefix()));
    q.region_prefix = req.region_prefix();
  }
  for (int s : req.statuses()) {
    if (!v1::IncidentStatus_IsValid(s) || s == v1::INCIDENT_STATUS_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat("statuses: unknown status ", s));
    }
    q.statuses.push_back(static_cast<v1::IncidentStatus>(s));
  }
  if (req.has_assignee()) {
    if (!v1::AssigneeKind_IsValid(req.assignee().kind())) {
      return absl::InvalidArgumentError("assignee.kind: unknown kind");
    }
    RETURN_IF_ERROR(CheckText("assignee.id", req.assignee().id(), kMaxIdChars, false));
    q.assignee_kind = req.assignee().kind();
    q.assignee_id = req.assignee().id();
    if (!q.assignee_id.empty() && q.assignee_kind == v1::ASSIGNEE_KIND_UNSPECIFIED) {
      return absl::InvalidArgumentError("assignee.kind: required with assignee.id");
    }
  }
  if (req.has_created_after()) q.created_after = FromTimestamp(req.created_after());
  if (req.has_created_before()) q.created_before = FromTimestamp(req.created_before());
  if (q.created_after && q.created_before && *q.created_after >= *q.created_before) {
    return absl::InvalidArgumentError("created_before: must be after created_after");
  }
  if (req.page_size() < 0) return absl::InvalidArgumentError("page_size: must not be negative");
  q.page_size = req.page_size() == 0 ? kDefaultPageSize : std::min(req.page_size(), kMaxPageSize);
  if (!req.page_token().empty()) {
    ASSIGN_OR_RETURN(ListCursor cursor, DecodeCursor(req.page_token()));
    q.after = std::move(cursor);
  }
  ASSIGN_OR_RETURN(ListPage page, store_->List(q));
  v1::ListIncidentsResponse resp;
  for (v1::Incident& inc : page.incidents) {
    *resp.add_incidents() = ForCaller(std::move(inc), caller);
  }
  if (page.next.has_value()) resp.set_next_page_token(EncodeCursor(*page.next));
  return resp;
}

absl::Status Incidents::CheckTarget(absl::string_view request_id, absl::string_view incident_id,
                                    int64_t expected_version) {
  RETURN_IF_ERROR(CheckRequestId(request_id));
  if (incident_id.empty()) return absl::InvalidArgumentError("incident_id: required");
  if (expected_version < 0) {
    return absl::InvalidArgumentError("expected_version: must not be negative");
  }
  if (!ShardOfId(incident_id).has_value()) return NotFound(incident_id);
  return absl::OkStatus();
}

absl::StatusOr<IncidentWrite> Incidents::Compute(const v1::Incident& current,
                                                 absl::string_view request_id,
                                                 const std::string& fingerprint,
                                                 int64_t expected_version, const Caller& caller,
                                                 const MakeChange& make_change) const {
  if (expected_version != 0 && current.version() != expected_version) {
    return absl::AbortedError(absl::StrCat("incident ", current.id(), " is at version ",
                                           current.version(), ", not ", expected_version));
  }
  ASSIGN_OR_RETURN(Change change, make_change(current));
  change.at = clock_->Now();
  change.actor_id = caller.person_id;
  change.actor_role = std::string(RoleName(caller.role));
  ASSIGN_OR_RETURN(v1::Incident next, ApplyChange(current, change));

  IncidentWrite w;
  w.history = next.history(next.history_size() - 1);
  next.clear_history();
  w.expected_version = current.version();
  w.event = MakeEvent(next, change.event, change.at, change.actor_id, change.actor_role, "");
  w.request = RequestRecord{std::string(request_id), fingerprint};
  if (change.event == v1::INCIDENT_EVENT_TYPE_REOPENED) {
    w.schedule = {DeadlineOf(next, "respond"), DeadlineOf(next, "resolve")};
  }
  w.incident = std::move(next);
  return w;
}

absl::StatusOr<v1::Incident> Incidents::Written(v1::Incident written,
                                                const std::string& fingerprint, WriteResult result,
                                                const Caller& caller) {
  if (result.earlier.has_value()) {
    if (result.earlier->fingerprint != fingerprint) {
      return absl::InvalidArgumentError("request_id: already used for a different request");
    }
    return ForCaller(std::move(result.earlier->incident), caller);
  }
  return ForCaller(std::move(written), caller);
}

absl::StatusOr<v1::Incident> Incidents::Mutate(absl::string_view method,
                                               const google::protobuf::Message& req,
                                               absl::string_view request_id,
                                               absl::string_view incident_id,
                                               int64_t expected_version, const Caller& caller,
                                               const MakeChange& make_change) {
  RETURN_IF_ERROR(CheckTarget(request_id, incident_id, expected_version));
  const int shard = *ShardOfId(incident_id);
  const std::string fingerprint = RequestFingerprint(method, req);
  // The write checks the request_id atomically, so the happy path needs no look-up of its
  // own. A repeat of a request that already took effect usually finds the incident moved
  // on, so any refusal first asks whether this request_id has a first result to return.
  auto earlier_or = [&](absl::Status refusal) -> absl::StatusOr<v1::Incident> {
    ASSIGN_OR_RETURN(std::optional<EarlierResult> earlier, store_->FindRequest(shard, request_id));
    if (!earlier.has_value()) return refusal;
    if (earlier->fingerprint != fingerprint) {
      return absl::InvalidArgumentError("request_id: already used for a different request");
    }
    return ForCaller(std::move(earlier->incident), caller);
  };

  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<v1::Incident> current = store_->Get(incident_id, /*with_history=*/false);
    if (!current.ok()) return current.status();
    absl::StatusOr<IncidentWrite> w =
        Compute(*current, request_id, fingerprint, expected_version, caller, make_change);
    if (!w.ok()) return earlier_or(w.status());
    absl::StatusOr<WriteResult> result = store_->Write(*w);
    if (result.ok()) {
      return Written(std::move(w->incident), fingerprint, *std::move(result), caller);
    }
    // Someone else changed the incident between our read and write. Without an
    // expected_version the caller asked for "whatever the state is now", so recompute.
    if (result.status().code() != absl::StatusCode::kAborted || expected_version != 0 ||
        attempt + 1 >= kMaxConflictRetries) {
      return result.status();
    }
  }
}

void Incidents::MutateAsync(absl::string_view method, const google::protobuf::Message& req,
                            absl::string_view request_id, absl::string_view incident_id,
                            int64_t expected_version, const Caller& caller, MakeChange make_change,
                            MaybeCallback done) {
  if (absl::Status s = CheckTarget(request_id, incident_id, expected_version); !s.ok()) {
    done(s);
    return;
  }
  struct Call {
    std::string request_id;
    std::string fingerprint;
    int64_t expected_version;
    Caller caller;
    MakeChange make_change;
    MaybeCallback done;
  };
  auto call = std::make_shared<Call>(Call{std::string(request_id), RequestFingerprint(method, req),
                                          expected_version, caller, std::move(make_change),
                                          std::move(done)});
  store_->GetAsync(incident_id, [this, call](absl::StatusOr<v1::Incident> current) {
    if (!current.ok()) return call->done(current.status());
    absl::StatusOr<IncidentWrite> w =
        Compute(*current, call->request_id, call->fingerprint, call->expected_version, call->caller,
                call->make_change);
    // A refusal may be the repeat of a request that took effect: the blocking path asks.
    if (!w.ok()) return call->done(std::nullopt);
    auto kept = std::make_shared<IncidentWrite>(*std::move(w));
    store_->WriteAsync(*kept, [call, kept](absl::StatusOr<WriteResult> result) {
      if (result.ok()) {
        return call->done(Written(std::move(kept->incident), call->fingerprint, *std::move(result),
                                  call->caller));
      }
      // Changed between the read and the write: the blocking path reads again (or refuses
      // a stale expected_version, after asking for an earlier result).
      if (absl::IsAborted(result.status())) return call->done(std::nullopt);
      call->done(result.status());
    });
  });
}

namespace {

absl::Status CheckAssign(const v1::AssignIncidentRequest& req, const Caller& caller) {
  RETURN_IF_ERROR(RequireStaff(caller, "assign incidents"));
  if (!req.has_assignee() || req.assignee().kind() == v1::ASSIGNEE_KIND_UNSPECIFIED ||
      !v1::AssigneeKind_IsValid(req.assignee().kind())) {
    return absl::InvalidArgumentError(
        "assignee.kind: required (grid worker, volunteer or department)");
  }
  RETURN_IF_ERROR(CheckText("assignee.id", req.assignee().id(), kMaxIdChars, true));
  return CheckText("note", req.note(), kMaxNoteChars, false, true);
}

// Holds copies: the asynchronous path runs it after the caller's frame is gone.
std::function<absl::StatusOr<Change>(const v1::Incident&)> AssignChange(
    const v1::AssignIncidentRequest& req) {
  return [assignee = req.assignee(), note = req.note()](const v1::Incident&) {
    Change c;
    c.event = v1::INCIDENT_EVENT_TYPE_ASSIGNED;
    c.assignee = assignee;
    c.note = note;
    return absl::StatusOr<Change>(std::move(c));
  };
}

}  // namespace

absl::StatusOr<v1::Incident> Incidents::Assign(const v1::AssignIncidentRequest& req,
                                               const Caller& caller) {
  RETURN_IF_ERROR(CheckAssign(req, caller));
  return Mutate("AssignIncident", req, req.request_id(), req.incident_id(), req.expected_version(),
                caller, AssignChange(req));
}

void Incidents::AssignAsync(const v1::AssignIncidentRequest& req, const Caller& caller,
                            MaybeCallback done) {
  if (absl::Status s = CheckAssign(req, caller); !s.ok()) {
    done(s);
    return;
  }
  MutateAsync("AssignIncident", req, req.request_id(), req.incident_id(), req.expected_version(),
              caller, AssignChange(req), std::move(done));
}

absl::StatusOr<v1::Incident> Incidents::Accept(const v1::AcceptAssignmentRequest& req,
                                               const Caller& caller) {
  if (caller.anonymous()) {
    return absl::UnauthenticatedError("accepting an assignment needs an identified caller");
  }
  RETURN_IF_ERROR(CheckText("assignee_id", req.assignee_id(), kMaxIdChars, true));
  if (!IsStaff(caller) && caller.person_id != req.assignee_id()) {
    return absl::PermissionDeniedError("assignee_id: a volunteer accepts only for themself");
  }
  return Mutate("AcceptAssignment", req, req.request_id(), req.incident_id(),
                req.expected_version(), caller, [&](const v1::Incident&) -> absl::StatusOr<Change> {
                  Change c;
                  c.event = v1::INCIDENT_EVENT_TYPE_ACCEPTED;
                  c.accepting_id = req.assignee_id();
                  return c;
                });
}

absl::StatusOr<v1::Incident> Incidents::Resolve(const v1::ResolveIncidentRequest& req,
                                                const Caller& caller) {
  if (caller.anonymous()) {
    return absl::UnauthenticatedError("resolving an incident needs an identified caller");
  }
  RETURN_IF_ERROR(CheckText("resolution", req.resolution(), kMaxNoteChars, true, true));
  return Mutate("ResolveIncident", req, req.request_id(), req.incident_id(), req.expected_version(),
                caller, [&](const v1::Incident& current) -> absl::StatusOr<Change> {
                  if (!IsStaff(caller) && caller.person_id != current.assignee().id()) {
                    return absl::PermissionDeniedError(
                        "only the assignee or staff may resolve this incident");
                  }
                  Change c;
                  c.event = v1::INCIDENT_EVENT_TYPE_RESOLVED;
                  c.note = req.resolution();
                  return c;
                });
}

absl::StatusOr<v1::Incident> Incidents::SubmitFeedback(const v1::SubmitFeedbackRequest& req,
                                                       const Caller& caller) {
  if (req.satisfaction() == v1::SATISFACTION_UNSPECIFIED ||
      !v1::Satisfaction_IsValid(req.satisfaction())) {
    return absl::InvalidArgumentError(
        "satisfaction: required (satisfied, basically satisfied or dissatisfied)");
  }
  RETURN_IF_ERROR(CheckText("comment", req.comment(), kMaxNoteChars, false, true));
  if (caller.anonymous()) {
    return absl::UnauthenticatedError("feedback needs an identified caller");
  }
  return Mutate("SubmitFeedback", req, req.request_id(), req.incident_id(), req.expected_version(),
                caller, [&](const v1::Incident& current) -> absl::StatusOr<Change> {
                  // The reporter answers for themself; staff record a follow-up call (回访).
                  if (!IsReporter(current, caller) && !IsStaff(caller)) {
                    return absl::PermissionDeniedError(
                        "only the reporter or staff may give feedback on this incident");
                  }
                  Change c;
                  c.satisfaction = req.satisfaction();
                  c.note = req.comment();
                  if (req.satisfaction() == v1::SATISFACTION_DISSATISFIED) {
                    c.event = v1::INCIDENT_EVENT_TYPE_REOPENED;
                    const Category* cat = taxonomy_->Find(current.category());
                    const Category& fallback = *taxonomy_->Find(taxonomy_->all().front().code);
                    const Category& use = cat != nullptr ? *cat : fallback;
                    c.respond_within = use.respond_within;
                    c.resolve_within = use.resolve_within;
                  } else {
                    c.event = v1::INCIDENT_EVENT_TYPE_CLOSED;
                  }
                  return c;
                });
}

absl::StatusOr<v1::Incident> Incidents::Escalate(const v1::EscalateIncidentRequest& req,
                                                 const Caller& caller) {
  RETURN_IF_ERROR(RequireStaff(caller, "escalate incidents"));
  RETURN_IF_ERROR(CheckText("reason", req.reason(), kMaxNoteChars, true, true));
  return Mutate("EscalateIncident", req, req.request_id(), req.incident_id(),
                req.expected_version(), caller, [&](const v1::Incident&) -> absl::StatusOr<Change> {
                  Change c;
                  c.event = v1::INCIDENT_EVENT_TYPE_ESCALATED;
                  c.note = req.reason();
                  return c;
                });
}

absl::StatusOr<v1::Incident> Incidents::Cancel(const v1::CancelIncidentRequest& req,
                                               const Caller& caller) {
  if (caller.anonymous()) {
    return absl::UnauthenticatedError("cancelling an incident needs an identified caller");
  }
  RETURN_IF_ERROR(CheckText("reason", req.reason(), kMaxNoteChars, true, true));
  return Mutate("CancelIncident", req, req.request_id(), req.incident_id(), req.expected_version(),
                caller, [&](const v1::Incident& current) -> absl::StatusOr<Change> {
                  const bool desk = caller.role == Role::kOperator ||
                                    caller.role == Role::kSystem ||
                                    caller.role == Role::kSupervisor;
                  if (!IsReporter(current, caller) && !desk) {
                    return absl::PermissionDeniedError(
                        "only the reporter (or the hotline desk) may cancel this incident");
                  }
                  Change c;
                  c.event = v1::INCIDENT_EVENT_TYPE_CANCELLED;
                  c.note = req.reason();
                  return c;
                });
}

v1::ListCategoriesResponse Incidents::ListCategories() const {
  v1::ListCategoriesResponse resp;
  for (const Category& c : taxonomy_->all()) {
    v1::Category* out = resp.add_categories();
    out->set_code(c.code);
    out->set_name(c.name);
    out->set_default_urgency(c.default_urgency);
    *out->mutable_respond_within() = ToDurationProto(c.respond_within);
    *out->mutable_resolve_within() = ToDurationProto(c.resolve_within);
    out->set_handled_by(c.handled_by);
    out->set_department(c.department);
  }
  return resp;
}

absl::StatusOr<int> Incidents::FireDueDeadlines(int limit) {
  const absl::Time now = clock_->Now();
  ASSIGN_OR_RETURN(std::vector<SlaDeadline> due, store_->DueDeadlines(now, limit));
  int fired = 0;
  bool directory_down = false;
  for (const SlaDeadline& d : due) {
    absl::StatusOr<v1::Incident> current = store_->Get(d.incident_id, /*with_history=*/false);
    if (absl::IsNotFound(current.status())) {
      RETURN_IF_ERROR(store_->DropDeadline(d));
      continue;
    }
    if (!current.ok()) return current.status();
    if (d.kind == "grid") {
      // One failed question per pass is enough: the rest wait for the next tick.
      if (directory_down) continue;
      absl::StatusOr<bool> located = LocatePending(d, *current);
      if (located.ok()) {
        fired += *located ? 1 : 0;
      } else if (CannotAnswerNow(located.status())) {
        directory_down = true;
      } else {
        return located.status();
      }
      continue;
    }
    // A deadline still applies when it is the incident's current one, was not marked yet,
    // and the work it measures is not done: respond = someone accepted; resolve = resolved.
    const bool respond = d.kind == "respond";
    // Stores keep deadlines to the millisecond.
    const bool current_deadline =
        absl::ToUnixMillis(DeadlineOf(*current, d.kind).due) == absl::ToUnixMillis(d.due);
    const bool marked = respond ? current->respond_overdue() : current->resolve_overdue();
    const v1::IncidentStatus st = current->status();
    const bool missed =
        respond ? (IsOpen(st) && st != v1::INCIDENT_STATUS_IN_PROGRESS) : IsOpen(st);
    if (!current_deadline || marked || !missed) {
      RETURN_IF_ERROR(store_->DropDeadline(d));
      continue;
    }
    Change c;
    c.event = v1::INCIDENT_EVENT_TYPE_OVERDUE;
    c.at = now;
    c.actor_id = "sla-timer";
    c.actor_role = std::string(RoleName(Role::kSystem));
    c.deadline = d.kind;
    ASSIGN_OR_RETURN(v1::Incident next, ApplyChange(*current, c));
    IncidentWrite w;
    w.history = next.history(next.history_size() - 1);
    next.clear_history();
    w.incident = next;
    w.expected_version = current->version();
    w.event = MakeEvent(next, c.event, now, c.actor_id, c.actor_role, d.kind);
    w.fired = d;
    absl::StatusOr<WriteResult> result = store_->Write(w);
    if (result.ok()) {
      ++fired;
    } else if (!absl::IsFailedPrecondition(result.status()) && !absl::IsAborted(result.status())) {
      // FailedPrecondition: another replica fired it. Aborted: the incident changed under
      // us; the deadline stays watched and is looked at again on the next tick.
      return result.status();
    }
  }
  return fired;
}

absl::StatusOr<bool> Incidents::LocatePending(const SlaDeadline& d, const v1::Incident& current) {
  if (!current.grid_pending() || directory_ == nullptr) {
    RETURN_IF_ERROR(store_->DropDeadline(d));
    return false;
  }
  // The grid as it was when the incident was reported, not as it is now.
  absl::StatusOr<std::optional<std::string>> grid =
      directory_->LocateGrid(current.location().latitude(), current.location().longitude(),
                             FromTimestamp(current.reported_at()));
  if (!grid.ok()) return grid.status();
  if (!grid->has_value()) {
    // No grid covered the point: nothing will ever answer; an operator sets the region.
    RETURN_IF_ERROR(store_->DropDeadline(d));
    return false;
  }
  const absl::Time now = clock_->Now();
  Change c;
  c.event = v1::INCIDENT_EVENT_TYPE_GRID_LOCATED;
  c.at = now;
  c.actor_id = "grid-locator";
  c.actor_role = std::string(RoleName(Role::kSystem));
  c.region_code = **grid;
  ASSIGN_OR_RETURN(v1::Incident next, ApplyChange(current, c));
  IncidentWrite w;
  w.history = next.history(next.history_size() - 1);
  next.clear_history();
  w.incident = next;
  w.expected_version = current.version();
  w.event = MakeEvent(next, c.event, now, c.actor_id, c.actor_role, c.region_code);
  w.fired = d;
  absl::StatusOr<WriteResult> result = store_->Write(w);
  if (result.ok()) return true;
  // Another replica got there first, or the incident changed under us (next tick).
  if (absl::IsFailedPrecondition(result.status()) || absl::IsAborted(result.status())) {
    return false;
  }
  return result.status();
}

}  // namespace gridloop::incidents
