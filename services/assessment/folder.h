#ifndef GRIDLOOP_SERVICES_ASSESSMENT_FOLDER_H_
#define GRIDLOOP_SERVICES_ASSESSMENT_FOLDER_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "gridloop/v1/dispatch.pb.h"
#include "gridloop/v1/events.pb.h"
#include "services/assessment/assessment_store.h"

namespace gridloop::assessment {

// Which generations a fold writes: the live consumer folds into every live generation
// (the current one, and the one a rebuild is building); a rebuild's replay only into the
// one it builds.
enum class FoldTarget { kLive, kBuilding };

// Folds events into the store with an exactly-once effect on top of at-least-once
// delivery: an incident's facts are merged (order- and repeat-proof, see measures.h) and
// only the difference they make to its contribution is written, under a compare-and-set
// on the incident's revision; dispatch events are applied once per event id.
// Thread-safe; the store serialises competing folds of one incident.
class Folder {
 public:
  explicit Folder(AssessmentStore* store) : store_(store) {}

  // InvalidArgument for an event that can never be folded (dead-letter it); Unavailable
  // when Redis is down (retry); OK when folded or already folded.
  absl::Status FoldIncidentEvent(const v1::IncidentEvent& event,
                                 FoldTarget target = FoldTarget::kLive);
  absl::Status FoldDispatchEvent(const v1::DispatchEvent& event,
                                 FoldTarget target = FoldTarget::kLive);

  // Events that changed a figure; events that were already folded.
  int64_t applied() const { return applied_.load(); }
  int64_t repeats() const { return repeats_.load(); }

 private:
  absl::StatusOr<std::vector<int64_t>> Targets(const Generations& g, FoldTarget target) const;

  AssessmentStore* const store_;
  std::atomic<int64_t> applied_{0};
  std::atomic<int64_t> repeats_{0};
};

}  // namespace gridloop::assessment

#endif  // GRIDLOOP_SERVICES_ASSESSMENT_FOLDER_H_
