#ifndef GRIDLOOP_SERVICES_ASSESSMENT_REBUILDER_H_
#define GRIDLOOP_SERVICES_ASSESSMENT_REBUILDER_H_

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock/clock.h"
#include "common/identity/identity.h"
#include "common/kafka/record.h"
#include "gridloop/v1/assessment.pb.h"
#include "services/assessment/assessment_store.h"
#include "services/assessment/folder.h"
#include "services/assessment/scoring.h"

namespace gridloop::assessment {

// Reads every record of the event topics from their start up to where they end when it
// is called, handing each to `fold`. (kafka::Replay in production; tests may script it.)
using TopicReplay = std::function<absl::Status(
    const std::function<absl::Status(const kafka::Record&)>& fold, std::atomic<int64_t>* done,
    std::atomic<int64_t>* total, const std::atomic<bool>* stop)>;

struct RebuilderOptions {
  std::string incident_topic = "gridloop.incident.events.v1";
  std::string dispatch_topic = "gridloop.dispatch.events.v1";
  // A rebuild whose record has not moved for this long is taken to have died with its
  // process; a new StartRebuild abandons it.
  absl::Duration stale_after = absl::Seconds(30);
  // Attempts per record when the store is unavailable, before the rebuild fails.
  int max_attempts = 20;
};

// Recomputes every figure from the event log into a fresh generation, then switches reads
// over to it and drops the old one (the audit trail: a figure can always be recomputed
// from the log). While it runs, the live consumer folds new events into both generations,
// so nothing published after the replay's end is missed. One rebuild at a time, across
// replicas (the store admits one). Thread-safe.
class Rebuilder {
 public:
  Rebuilder(AssessmentStore* store, Folder* folder, const Formulas* formulas, const Clock* clock,
            TopicReplay replay, RebuilderOptions options = {});
  ~Rebuilder();  // stops a rebuild in progress (it is abandoned) and waits for it

  // Operators only. Starts a rebuild in the background and returns its record; the same
  // request_id again returns the record of that rebuild.
  absl::StatusOr<v1::Rebuild> Start(const Caller& caller, const v1::StartRebuildRequest& req);
  absl::StatusOr<v1::Rebuild> Get(const Caller& caller, const v1::GetRebuildRequest& req);

  // Runs the rebuild `rebuild` (already begun in the store) to the end on this thread.
  v1::Rebuild Run(v1::Rebuild rebuild, int64_t previous_generation);

 private:
  absl::Status FoldRecord(const kafka::Record& record);

  AssessmentStore* const store_;
  Folder* const folder_;
  const Formulas* const formulas_;
  const Clock* const clock_;
  const TopicReplay replay_;
  const RebuilderOptions options_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  std::thread worker_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gridloop::assessment

#endif  // GRIDLOOP_SERVICES_ASSESSMENT_REBUILDER_H_
