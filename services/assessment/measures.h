#ifndef GRIDLOOP_SERVICES_ASSESSMENT_MEASURES_H_
#define GRIDLOOP_SERVICES_ASSESSMENT_MEASURES_H_

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "gridloop/v1/assessment.pb.h"
#include "gridloop/v1/dispatch.pb.h"
#include "gridloop/v1/events.pb.h"
#include "services/assessment/tally.h"

// The definitions of every measure, as pure functions of the event log. docs/assessment.md
// states them in words; the tests check them on hand-built event sequences.
namespace gridloop::assessment {

// One subject's counters in one period: the unit every figure is kept in.
struct Cell {
  v1::SubjectKind kind = v1::SUBJECT_KIND_UNSPECIFIED;
  std::string id;
  std::string period_key;

  friend bool operator<(const Cell& a, const Cell& b) {
    return std::tie(a.kind, a.id, a.period_key) < std::tie(b.kind, b.id, b.period_key);
  }
  friend bool operator==(const Cell& a, const Cell& b) {
    return std::tie(a.kind, a.id, a.period_key) == std::tie(b.kind, b.id, b.period_key);
  }
};

// What one incident adds to every cell it counts in.
using Contribution = std::map<Cell, Tally>;

// The subject kind an assignee is measured as; UNSPECIFIED for none.
v1::SubjectKind SubjectKindOf(v1::AssigneeKind kind);

// What `event` says about its incident, as a FoldedIncident on its own. InvalidArgument if
// the event cannot be folded (no incident id, no version, no snapshot, no report time).
absl::StatusOr<v1::FoldedIncident> FactsOf(const v1::IncidentEvent& event);

// Folds `more` into `into`. Commutative, associative and idempotent: the same events in any
// order, any of them repeated, give the same record. Returns whether `into` changed.
bool Merge(v1::FoldedIncident& into, const v1::FoldedIncident& more);

// The cells an incident counts in and by how much, from what is known of it so far. Pure;
// only non-empty tallies appear.
Contribution ContributionOf(const v1::FoldedIncident& facts);

// A change to one cell: the counters to add, and whether the incident starts or stops
// counting in it (the explain index and the ranking membership follow).
struct CellChange {
  Cell cell;
  Tally delta;
  enum class Presence { kUnchanged, kAdded, kRemoved } presence = Presence::kUnchanged;
};

// What turns `before` into `after`, cell by cell (cells with no change are left out).
std::vector<CellChange> Diff(const Contribution& before, const Contribution& after);

// What one dispatch event adds (volunteers' offers and service hours). Empty for events
// that count for nothing. InvalidArgument if it cannot be folded.
absl::StatusOr<Contribution> ContributionOf(const v1::DispatchEvent& event);

// Whether `facts` counts in the figure `rate`/`part` of `cell`, and with what weight
// (satisfaction: 1 for satisfied, `basic_weight` for basically satisfied), with a
// sentence saying why. Used by Explain; consistent with ContributionOf by construction.
struct Explanation {
  double counts = 0;
  std::string why;
};
Explanation Explain(const v1::FoldedIncident& facts, const Cell& cell, absl::string_view rate,
                    v1::ExplainPart part, double basic_weight);

// The rate names Explain understands.
bool ExplainableRate(absl::string_view rate);

}  // namespace gridloop::assessment

#endif  // GRIDLOOP_SERVICES_ASSESSMENT_MEASURES_H_
