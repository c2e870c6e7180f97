#include "services/assessment/folder.h"

#include "absl/strings/str_cat.h"
#include "common/clock/proto_time.h"
#include "common/status/status_macros.h"
#include "services/assessment/periods.h"

namespace gridloop::assessment {
namespace {

// Competing folds of one incident are rare (one consumer per partition; a rebuild's
// replay beside the live consumer): a few retries settle them.
constexpr int kMaxAttempts = 50;

}  // namespace

absl::StatusOr<std::vector<int64_t>> Folder::Targets(const Generations& g,
                                                     FoldTarget target) const {
  if (target == FoldTarget::kLive) return g.Live();
  if (g.building == 0) return absl::FailedPreconditionError("no rebuild is running");
  return std::vector<int64_t>{g.building};
}

absl::Status Folder::FoldIncidentEvent(const v1::IncidentEvent& event, FoldTarget target) {
  ASSIGN_OR_RETURN(const v1::FoldedIncident seen, FactsOf(event));
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    ASSIGN_OR_RETURN(const Generations g, store_->GetGenerations());
    ASSIGN_OR_RETURN(const std::vector<int64_t> targets, Targets(g, target));
    ASSIGN_OR_RETURN(const std::vector<FoldedState> states,
                     store_->LoadIncident(event.incident_id(), targets));
    std::vector<IncidentWrite> writes;
    for (const FoldedState& s : states) {
      IncidentWrite w;
      w.generation = s.generation;
      w.expected_revision = s.revision;
      w.facts = s.facts;
      if (!Merge(w.facts, seen)) continue;
      w.changes = Diff(ContributionOf(s.facts), ContributionOf(w.facts));
      writes.push_back(std::move(w));
    }
    if (writes.empty()) {
      repeats_.fetch_add(1);
      return absl::OkStatus();
    }
    absl::Status s = store_->ApplyIncident(g.revision, event.incident_id(), writes);
    if (absl::IsAborted(s)) continue;
    RETURN_IF_ERROR(s);
    applied_.fetch_add(1);
    return absl::OkStatus();
  }
  return absl::UnavailableError(
      absl::StrCat("incident ", event.incident_id(), ": folding kept conflicting"));
}

absl::Status Folder::FoldDispatchEvent(const v1::DispatchEvent& event, FoldTarget target) {
  ASSIGN_OR_RETURN(const Contribution adds, ContributionOf(event));
  if (adds.empty()) return absl::OkStatus();
  std::vector<CellChange> changes;
  for (const auto& [cell, tally] : adds) {
    changes.push_back(CellChange{cell, tally, CellChange::Presence::kUnchanged});
  }
  // Dedupe sets are kept per day of the event, so that none grows without bound.
  const std::string day = PeriodOf(v1::PERIOD_DAY, FromTimestamp(event.occurred_at())).key;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    ASSIGN_OR_RETURN(const Generations g, store_->GetGenerations());
    ASSIGN_OR_RETURN(const std::vector<int64_t> targets, Targets(g, target));
    std::vector<EventWrite> writes;
    writes.reserve(targets.size());
    for (int64_t gen : targets) writes.push_back(EventWrite{gen, changes});
    absl::StatusOr<bool> applied =
        store_->ApplyEventOnce(g.revision, event.event_id(), day, writes);
    if (absl::IsAborted(applied.status())) continue;
    RETURN_IF_ERROR(applied.status());
    (*applied ? applied_ : repeats_).fetch_add(1);
    return absl::OkStatus();
  }
  return absl::UnavailableError(absl::StrCat("dispatch event ", event.event_id(), ": conflicting"));
}

}  // namespace gridloop::assessment
