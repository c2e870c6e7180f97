#include "services/dispatch/ledger.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/clock/proto_time.h"

namespace gridloop::dispatch {

int64_t HoursToMillis(double hours) { return std::llround(hours * 3'600'000.0); }

v1::CreditEntry IncidentCredit(const v1::Incident& closed, int64_t version,
                               const CreditRules& rules) {
  const absl::Time started =
      FromTimestamp(closed.has_accepted_at() ? closed.accepted_at() : closed.assigned_at());
  absl::Duration worked = absl::ZeroDuration();
  if (closed.has_resolved_at() && (closed.has_accepted_at() || closed.has_assigned_at())) {
    worked = FromTimestamp(closed.resolved_at()) - started;
  }
  worked = std::clamp(worked, absl::ZeroDuration(), rules.max_task_hours);
  int64_t points = rules.points_per_task;
  const v1::Satisfaction sat = closed.feedback().satisfaction();
  if (sat == v1::SATISFACTION_SATISFIED) points += rules.points_satisfied;
  if (sat == v1::SATISFACTION_BASICALLY_SATISFIED) points += rules.points_basically_satisfied;

  v1::CreditEntry entry;
  entry.set_id(absl::StrCat("incident:", closed.id(), ":v", version));
  entry.set_source(v1::CREDIT_SOURCE_INCIDENT);
  entry.set_reference(closed.id());
  // Whole milliseconds, as the ledger keeps them.
  entry.set_hours(static_cast<double>(absl::ToInt64Milliseconds(worked)) / 3'600'000.0);
  entry.set_points(points);
  entry.set_reason(absl::StrCat("closed incident ", closed.id(), " (", closed.category(), ")"));
  *entry.mutable_at() = closed.has_closed_at() ? closed.closed_at() : closed.updated_at();
  entry.set_satisfaction(sat);
  return entry;
}

v1::CreditEntry ActivityCredit(const v1::Activity& activity, absl::Time checked_in,
                               absl::Time checked_out) {
  const absl::Time from = std::max(checked_in, FromTimestamp(activity.starts_at()));
  const absl::Time to = std::min(checked_out, FromTimestamp(activity.ends_at()));
  const int64_t ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(to - from));
  v1::CreditEntry entry;
  entry.set_id(absl::StrCat("activity:", activity.id()));
  entry.set_source(v1::CREDIT_SOURCE_ACTIVITY);
  entry.set_reference(activity.id());
  entry.set_hours(static_cast<double>(ms) / 3'600'000.0);
  entry.set_points(std::llround(static_cast<double>(ms) *
                                static_cast<double>(activity.points_per_hour()) / 3'600'000.0));
  entry.set_reason(activity.title());
  *entry.mutable_at() = ToTimestamp(checked_out);
  return entry;
}

int64_t SatisfactionMilli(v1::Satisfaction satisfaction) {
  switch (satisfaction) {
    case v1::SATISFACTION_SATISFIED:
      return 1000;
    case v1::SATISFACTION_BASICALLY_SATISFIED:
      return 500;
    case v1::SATISFACTION_DISSATISFIED:
      return 0;
    default:
      return -1;
  }
}

v1::ServiceTotals Totals(const std::vector<v1::CreditEntry>& entries) {
  int64_t hours_ms = 0;
  int64_t points = 0;
  int32_t completed = 0;
  int64_t satisfaction_milli = 0;
  int32_t rated = 0;
  for (const v1::CreditEntry& e : entries) {
    hours_ms += HoursToMillis(e.hours());
    points += e.points();
    if (e.source() != v1::CREDIT_SOURCE_INCIDENT) continue;
    ++completed;
    const int64_t milli = SatisfactionMilli(e.satisfaction());
    if (milli >= 0) {
      satisfaction_milli += milli;
      ++rated;
    }
  }
  v1::ServiceTotals t;
  t.set_hours(static_cast<double>(hours_ms) / 3'600'000.0);
  t.set_points(points);
  t.set_completed_tasks(completed);
  t.set_rated_tasks(rated);
  t.set_average_satisfaction(rated == 0 ? 0.0
                                        : static_cast<double>(satisfaction_milli) / 1000.0 / rated);
  return t;
}

}  // namespace gridloop::dispatch
