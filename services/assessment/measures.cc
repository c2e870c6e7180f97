#include "services/assessment/measures.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock/proto_time.h"
#include "services/assessment/periods.h"

namespace gridloop::assessment {
namespace {

using v1::FoldedIncident;

bool Has(const google::protobuf::Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

absl::Time T(const google::protobuf::Timestamp& t) { return FromTimestamp(t); }

bool Earlier(const google::protobuf::Timestamp& a, const google::protobuf::Timestamp& b) {
  return a.seconds() < b.seconds() || (a.seconds() == b.seconds() && a.nanos() < b.nanos());
}

// Keeps the earliest of two optional instants.
bool TakeEarliest(google::protobuf::Timestamp* into, const google::protobuf::Timestamp& more) {
  if (!Has(more)) return false;
  if (Has(*into) && !Earlier(more, *into)) return false;
  *into = more;
  return true;
}

// The incident's subjects for one group of measures.
struct Subjects {
  std::vector<std::pair<v1::SubjectKind, std::string>> list;
  void Add(v1::SubjectKind kind, const std::string& id) {
    if (kind == v1::SUBJECT_KIND_UNSPECIFIED || id.empty()) return;
    for (const auto& s : list) {
      if (s.first == kind && s.second == id) return;
    }
    list.emplace_back(kind, id);
  }
};

void AddIn(Contribution& out, const Subjects& who, absl::Time anchor, Counter c, int64_t n = 1) {
  if (n == 0) return;
  for (const PeriodSpan& p : PeriodsOf(anchor)) {
    for (const auto& [kind, id] : who.list) {
      out[Cell{kind, id, p.key}][c] += n;
    }
  }
}

}  // namespace

v1::SubjectKind SubjectKindOf(v1::AssigneeKind kind) {
  switch (kind) {
    case v1::ASSIGNEE_KIND_GRID_WORKER:
      return v1::SUBJECT_KIND_GRID_WORKER;
    case v1::ASSIGNEE_KIND_VOLUNTEER:
      return v1::SUBJECT_KIND_VOLUNTEER;
    case v1::ASSIGNEE_KIND_DEPARTMENT:
      return v1::SUBJECT_KIND_DEPARTMENT;
    default:
      return v1::SUBJECT_KIND_UNSPECIFIED;
  }
}

absl::StatusOr<FoldedIncident> FactsOf(const v1::IncidentEvent& event) {
  if (event.incident_id().empty()) return absl::InvalidArgumentError("incident_id: empty");
  if (event.version() <= 0) return absl::InvalidArgumentError("version: must be positive");
  if (!event.has_incident()) return absl::InvalidArgumentError("incident: no snapshot");
  const v1::Incident& inc = event.incident();
  if (!inc.id().empty() && inc.id() != event.incident_id()) {
    return absl::InvalidArgumentError("incident.id: differs from incident_id");
  }
  if (!Has(inc.reported_at())) return absl::InvalidArgumentError("incident.reported_at: unset");
  FoldedIncident f;
  f.set_incident_id(event.incident_id());
  const int64_t v = event.version();
  f.set_version(v);
  f.set_status(inc.status());
  f.set_category(inc.category());
  if (!inc.region_code().empty()) {
    f.set_region_code(inc.region_code());
    f.set_region_version(v);
  }
  *f.mutable_reported_at() = inc.reported_at();
  f.set_first_version(v);
  *f.mutable_first_respond_by() = inc.respond_by();
  *f.mutable_first_resolve_by() = inc.resolve_by();
  if (Has(inc.accepted_at())) *f.mutable_first_accepted_at() = inc.accepted_at();
  if (Has(inc.resolved_at())) *f.mutable_first_resolved_at() = inc.resolved_at();
  // Before the first reopen the deadlines are the first ones; afterwards the flags belong
  // to a later round.
  f.set_respond_overdue_first(inc.reopen_count() == 0 && inc.respond_overdue());
  f.set_resolve_overdue_first(inc.reopen_count() == 0 && inc.resolve_overdue());
  f.set_resolve_overdue_any(inc.resolve_overdue());
  f.set_reopen_count(inc.reopen_count());
  f.set_escalation_level(inc.escalation_level());
  if (inc.has_feedback() && inc.feedback().satisfaction() != v1::SATISFACTION_UNSPECIFIED) {
    f.set_feedback_version(v);
    f.set_satisfaction(inc.feedback().satisfaction());
    *f.mutable_feedback_at() = Has(inc.feedback().at()) ? inc.feedback().at() : event.occurred_at();
  }
  if (SubjectKindOf(inc.assignee().kind()) != v1::SUBJECT_KIND_UNSPECIFIED &&
      !inc.assignee().id().empty()) {
    f.set_first_assignee_version(v);
    *f.mutable_first_assignee() = inc.assignee();
    f.set_record_assignee_version(v);
    *f.mutable_record_assignee() = inc.assignee();
  }
  return f;
}

bool Merge(FoldedIncident& into, const FoldedIncident& more) {
  if (into.incident_id().empty()) {
    into = more;
    return !more.incident_id().empty();
  }
  bool changed = false;
  // Whatever the highest version says wins; equal versions carry equal snapshots.
  if (more.version() > into.version()) {
    into.set_version(more.version());
    into.set_status(more.status());
    into.set_category(more.category());
    changed = true;
  }
  if (more.region_version() > into.region_version()) {
    into.set_region_code(more.region_code());
    into.set_region_version(more.region_version());
    changed = true;
  }
  if (!Has(into.reported_at()) && Has(more.reported_at())) {
    *into.mutable_reported_at() = more.reported_at();
    changed = true;
  }
  if (more.first_version() > 0 &&
      (into.first_version() == 0 || more.first_version() < into.first_version())) {
    into.set_first_version(more.first_version());
    *into.mutable_first_respond_by() = more.first_respond_by();
    *into.mutable_first_resolve_by() = more.first_resolve_by();
    changed = true;
  }
  changed |= TakeEarliest(into.mutable_first_accepted_at(), more.first_accepted_at());
  changed |= TakeEarliest(into.mutable_first_resolved_at(), more.first_resolved_at());
  for (auto [get, set] : {std::pair{&FoldedIncident::respond_overdue_first,
                                    &FoldedIncident::set_respond_overdue_first},
                          std::pair{&FoldedIncident::resolve_overdue_first,
                                    &FoldedIncident::set_resolve_overdue_first},
                          std::pair{&FoldedIncident::resolve_overdue_any,
                                    &FoldedIncident::set_resolve_overdue_any}}) {
    if ((more.*get)() && !(into.*get)()) {
      (into.*set)(true);
      changed = true;
    }
  }
  if (more.reopen_count() > into.reopen_count()) {
    into.set_reopen_count(more.reopen_count());
    changed = true;
  }
  if (more.escalation_level() > into.escalation_level()) {
    into.set_escalation_level(more.escalation_level());
    changed = true;
  }
  if (more.feedback_version() > into.feedback_version()) {
    into.set_feedback_version(more.feedback_version());
    into.set_satisfaction(more.satisfaction());
    *into.mutable_feedback_at() = more.feedback_at();
    changed = true;
  }
  if (more.first_assignee_version() > 0 &&
      (into.first_assignee_version() == 0 ||
       more.first_assignee_version() < into.first_assignee_version())) {
    into.set_first_assignee_version(more.first_assignee_version());
    *into.mutable_first_assignee() = more.first_assignee();
    changed = true;
  }
  if (more.record_assignee_version() > into.record_assignee_version()) {
    into.set_record_assignee_version(more.record_assignee_version());
    *into.mutable_record_assignee() = more.record_assignee();
    changed = true;
  }
  return changed;
}

Contribution ContributionOf(const FoldedIncident& f) {
  Contribution out;
  if (f.incident_id().empty() || !Has(f.reported_at())) return out;
  const bool cancelled = f.status() == v1::INCIDENT_STATUS_CANCELLED;

  Subjects regions;
  for (const std::string& r : RegionAndAncestors(f.region_code())) {
    regions.Add(v1::SUBJECT_KIND_REGION, r);
  }
  // The first assignee answers for the response and for whether it had to be escalated;
  // the assignee of record (the latest) for the outcome.
  Subjects first = regions;
  first.Add(SubjectKindOf(f.first_assignee().kind()), f.first_assignee().id());
  Subjects record = regions;
  record.Add(SubjectKindOf(f.record_assignee().kind()), f.record_assignee().id());
  Subjects everyone = first;
  for (const auto& [kind, id] : record.list) everyone.Add(kind, id);

  const absl::Time reported = T(f.reported_at());
  AddIn(out, everyone, reported, Counter::kReceived);
  if (cancelled) {
    AddIn(out, everyone, reported, Counter::kCancelled);
    return out;
  }

  AddIn(out, first, reported, Counter::kEscalationDue);
  AddIn(out, first, reported, Counter::kEscalated, f.escalation_level() > 0 ? 1 : 0);
  if (f.feedback_version() > 0) {
    AddIn(out, record, reported, Counter::kReopenDue);
    AddIn(out, record, reported, Counter::kReopened, f.reopen_count() > 0 ? 1 : 0);
  }

  if (Has(f.first_respond_by()) && (Has(f.first_accepted_at()) || f.respond_overdue_first())) {
    const absl::Time due = T(f.first_respond_by());
    const bool met =
        Has(f.first_accepted_at()) && !Earlier(f.first_respond_by(), f.first_accepted_at());
    AddIn(out, first, due, Counter::kResponseDue);
    AddIn(out, first, due, Counter::kResponseMet, met ? 1 : 0);
  }

  if (Has(f.first_resolve_by())) {
    const absl::Time due = T(f.first_resolve_by());
    const bool closed = f.status() == v1::INCIDENT_STATUS_CLOSED;
    if (closed || f.resolve_overdue_any()) {
      AddIn(out, record, due, Counter::kResolutionDue);
      AddIn(out, record, due, Counter::kResolutionClosed, closed ? 1 : 0);
    }
    if (Has(f.first_resolved_at()) || f.resolve_overdue_first()) {
      const bool met =
          Has(f.first_resolved_at()) && !Earlier(f.first_resolve_by(), f.first_resolved_at());
      AddIn(out, record, due, Counter::kTimelinessDue);
      AddIn(out, record, due, Counter::kTimelinessMet, met ? 1 : 0);
    }
  }

  if (f.feedback_version() > 0 && Has(f.feedback_at())) {
    const absl::Time at = T(f.feedback_at());
    switch (f.satisfaction()) {
      case v1::SATISFACTION_SATISFIED:
        AddIn(out, record, at, Counter::kFeedbackSatisfied);
        break;
      case v1::SATISFACTION_BASICALLY_SATISFIED:
        AddIn(out, record, at, Counter::kFeedbackBasic);
        break;
      case v1::SATISFACTION_DISSATISFIED:
        AddIn(out, record, at, Counter::kFeedbackDissatisfied);
        break;
      default:
        break;
    }
  }
  for (auto it = out.begin(); it != out.end();) {
    it = it->second.empty() ? out.erase(it) : std::next(it);
  }
  return out;
}

std::vector<CellChange> Diff(const Contribution& before, const Contribution& after) {
  std::vector<CellChange> out;
  auto b = before.begin();
  auto a = after.begin();
  while (b != before.end() || a != after.end()) {
    CellChange c;
    if (a == after.end() || (b != before.end() && b->first < a->first)) {
      c.cell = b->first;
      for (int i = 0; i < kCounterCount; ++i) c.delta.n[i] = -b->second.n[i];
      c.presence = CellChange::Presence::kRemoved;
      ++b;
    } else if (b == before.end() || a->first < b->first) {
      c.cell = a->first;
      c.delta = a->second;
      c.presence = CellChange::Presence::kAdded;
      ++a;
    } else {
      c.cell = a->first;
      for (int i = 0; i < kCounterCount; ++i) c.delta.n[i] = a->second.n[i] - b->second.n[i];
      ++a;
      ++b;
      if (c.delta.empty()) continue;
    }
    out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<Contribution> ContributionOf(const v1::DispatchEvent& event) {
  if (event.event_id().empty()) return absl::InvalidArgumentError("event_id: empty");
  Contribution out;
  Counter c;
  int64_t n = 1;
  std::string volunteer = event.volunteer_id();
  switch (event.type()) {
    case v1::DISPATCH_EVENT_TYPE_OFFER_MADE:
      c = Counter::kOffersMade;
      break;
    case v1::DISPATCH_EVENT_TYPE_OFFER_ACCEPTED:
      c = Counter::kOffersAccepted;
      break;
    case v1::DISPATCH_EVENT_TYPE_OFFER_DECLINED:
      c = Counter::kOffersDeclined;
      break;
    case v1::DISPATCH_EVENT_TYPE_OFFER_EXPIRED:
      c = Counter::kOffersExpired;
      break;
    case v1::DISPATCH_EVENT_TYPE_HOURS_CREDITED:
      c = Counter::kServiceMillihours;
      n = std::llround(event.credit().hours() * 1000.0);
      break;
    default:
      return out;
  }
  if (volunteer.empty() && event.has_offer()) volunteer = event.offer().volunteer_id();
  if (volunteer.empty()) return absl::InvalidArgumentError("volunteer_id: empty");
  absl::Time at = T(event.occurred_at());
  if (event.type() == v1::DISPATCH_EVENT_TYPE_HOURS_CREDITED && Has(event.credit().at())) {
    at = T(event.credit().at());
  }
  if (!Has(event.occurred_at()) && c != Counter::kServiceMillihours) {
    return absl::InvalidArgumentError("occurred_at: unset");
  }
  Subjects who;
  who.Add(v1::SUBJECT_KIND_VOLUNTEER, volunteer);
  AddIn(out, who, at, c, n);
  if (c == Counter::kServiceMillihours) {
    AddIn(out, who, at, Counter::kServicePoints, event.credit().points());
  }
  for (auto it = out.begin(); it != out.end();) {
    it = it->second.empty() ? out.erase(it) : std::next(it);
  }
  return out;
}

bool ExplainableRate(absl::string_view rate) {
  return rate == "response" || rate == "resolution" || rate == "satisfaction" ||
         rate == "timeliness" || rate == "reopen" || rate == "escalation";
}

namespace {

std::string Minutes(absl::Duration d) {
  const int64_t m = absl::ToInt64Minutes(d < absl::ZeroDuration() ? -d : d);
  if (m < 120) return absl::StrCat(m, " min");
  constexpr int64_t kHour = 60;
  constexpr int64_t kDay = 24 * kHour;
  if (m < 2 * kDay) return absl::StrCat(m / kHour, " h ", m % kHour, " min");
  return absl::StrCat(m / kDay, " d ", (m / kHour) % 24, " h");
}

std::string Against(const google::protobuf::Timestamp& done,
                    const google::protobuf::Timestamp& deadline, absl::string_view what) {
  const absl::Duration d = T(deadline) - T(done);
  return absl::StrCat(what, " ", Minutes(d), d >= absl::ZeroDuration() ? " before" : " after",
                      " the deadline");
}

}  // namespace

Explanation Explain(const FoldedIncident& f, const Cell& cell, absl::string_view rate,
                    v1::ExplainPart part, double basic_weight) {
  Explanation e;
  const Contribution all = ContributionOf(f);
  auto it = all.find(cell);
  if (it == all.end()) {
    e.why = "does not count for this subject in this period";
    return e;
  }
  const Tally& t = it->second;
  if (part == v1::EXPLAIN_PART_RECEIVED) {
    e.counts = static_cast<double>(t[Counter::kReceived]);
    e.why = f.status() == v1::INCIDENT_STATUS_CANCELLED ? "reported, then cancelled" : "reported";
    return e;
  }
  const bool numerator = part == v1::EXPLAIN_PART_NUMERATOR;
  if (rate == "response") {
    e.counts = static_cast<double>(t[numerator ? Counter::kResponseMet : Counter::kResponseDue]);
    e.why = Has(f.first_accepted_at())
                ? Against(f.first_accepted_at(), f.first_respond_by(), "first accepted")
                : "respond-by deadline missed with nobody accepting";
  } else if (rate == "resolution") {
    e.counts =
        static_cast<double>(t[numerator ? Counter::kResolutionClosed : Counter::kResolutionDue]);
    e.why = f.status() == v1::INCIDENT_STATUS_CLOSED ? "closed"
                                                     : "a resolve-by deadline passed, not closed";
  } else if (rate == "timeliness") {
    e.counts =
        static_cast<double>(t[numerator ? Counter::kTimelinessMet : Counter::kTimelinessDue]);
    e.why = Has(f.first_resolved_at())
                ? Against(f.first_resolved_at(), f.first_resolve_by(), "first resolved")
                : "first resolve-by deadline missed";
  } else if (rate == "satisfaction") {
    const auto sat = static_cast<double>(t[Counter::kFeedbackSatisfied]);
    const auto basic = static_cast<double>(t[Counter::kFeedbackBasic]);
    const auto dis = static_cast<double>(t[Counter::kFeedbackDissatisfied]);
    e.counts = numerator ? sat + basic_weight * basic : sat + basic + dis;
    e.why = f.satisfaction() == v1::SATISFACTION_SATISFIED ? "resident satisfied"
            : f.satisfaction() == v1::SATISFACTION_BASICALLY_SATISFIED
                ? "resident basically satisfied"
                : "resident dissatisfied";
  } else if (rate == "reopen") {
    e.counts = static_cast<double>(t[numerator ? Counter::kReopened : Counter::kReopenDue]);
    e.why = f.reopen_count() > 0 ? absl::StrCat("reopened ", f.reopen_count(), " time(s)")
                                 : "closed without reopening";
  } else if (rate == "escalation") {
    e.counts = static_cast<double>(t[numerator ? Counter::kEscalated : Counter::kEscalationDue]);
    e.why = f.escalation_level() > 0 ? absl::StrCat("escalated ", f.escalation_level(), " level(s)")
                                     : "handled without escalation";
  }
  if (e.counts == 0) e.why = absl::StrCat("not counted: ", e.why);
  return e;
}

}  // namespace gridloop::assessment
