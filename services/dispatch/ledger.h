#ifndef GRIDLOOP_SERVICES_DISPATCH_LEDGER_H_
#define GRIDLOOP_SERVICES_DISPATCH_LEDGER_H_

// The service-hours ledger's rules, as pure functions: what one piece of work is worth,
// and what the totals of a ledger are. The store writes an entry and its effect on the
// totals in one step; these say what both must be, so the rules are tested here and the
// store's totals can be checked against Totals() of its entries.

#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gridloop/v1/dispatch.pb.h"
#include "gridloop/v1/incidents.pb.h"

namespace gridloop::dispatch {

struct CreditRules {
  int64_t points_per_task = 10;                    // an incident handled to the end
  int64_t points_satisfied = 5;                    // ... and the resident was satisfied
  int64_t points_basically_satisfied = 2;          // ... or basically satisfied
  absl::Duration max_task_hours = absl::Hours(8);  // one task never counts for more
};

// Hours are kept in whole milliseconds, so sums are exact whatever the order.
int64_t HoursToMillis(double hours);

// The entry for an incident a volunteer handled, at its close (`version` = the closed
// event's): hours from accepting (or, if never accepted, from assignment) to resolution,
// at most max_task_hours and never negative; points for the task plus the satisfaction
// bonus. Its id, "incident:<id>:v<version>", makes crediting the same close twice a no-op.
v1::CreditEntry IncidentCredit(const v1::Incident& closed, int64_t version,
                               const CreditRules& rules);

// The entry for checking out of an activity: the time between the later of check-in and
// the start and the earlier of check-out and the end (0 if none), and points_per_hour for
// each of those hours, rounded. Id "activity:<id>": one credit per activity.
v1::CreditEntry ActivityCredit(const v1::Activity& activity, absl::Time checked_in,
                               absl::Time checked_out);

// 1 for satisfied, 0.5 for basically satisfied, 0 for dissatisfied, -1 when unrated: the
// scale of ServiceTotals::average_satisfaction, in thousandths.
int64_t SatisfactionMilli(v1::Satisfaction satisfaction);

// The totals a ledger of `entries` adds up to: hours and points; completed tasks and the
// satisfaction average over incident entries (rated ones only for the average).
v1::ServiceTotals Totals(const std::vector<v1::CreditEntry>& entries);

}  // namespace gridloop::dispatch

#endif  // GRIDLOOP_SERVICES_DISPATCH_LEDGER_H_
