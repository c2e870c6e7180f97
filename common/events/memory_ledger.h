#ifndef GRIDLOOP_COMMON_EVENTS_MEMORY_LEDGER_H_
#define GRIDLOOP_COMMON_EVENTS_MEMORY_LEDGER_H_

// The in-memory twin of the Redis ledger in ledger.h: the same decisions, no Redis. For
// unit tests of consumers' domain logic, and the executable statement of what the Lua
// guard and mark do (the integration test checks that both agree).

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/events/ledger.h"

namespace gridloop::events {

// The versions applied for one incident under one Policy. A plain value; not
// thread-safe.
class AppliedVersions {
 public:
  explicit AppliedVersions(Policy policy) : policy_(policy) {}

  // Whether `version` (>= 1) is to be applied now: kLatestWins iff it exceeds the highest
  // applied; kEachOnce iff it was never applied.
  bool ShouldApply(int64_t version) const;
  // Records `version` as applied. Call only after ShouldApply(version) said true and the
  // effect succeeded; for kEachOnce, advances the watermark over a filled gap.
  void MarkApplied(int64_t version);

  // kEachOnce: every version <= watermark() was applied. kLatestWins: the highest applied.
  // 0 before anything was applied.
  int64_t watermark() const { return watermark_; }
  // kEachOnce: applied versions above watermark(), waiting for the gap below them to fill.
  // Always empty for kLatestWins.
  const std::set<int64_t>& above_watermark() const { return above_; }

 private:
  Policy policy_;
  int64_t watermark_ = 0;
  std::set<int64_t> above_;
};

// A ledger for many incidents, with ApplyOnce() semantics matching the Redis one.
// Thread-safe: calls serialize on one mutex and the effect runs under it, as a Redis
// script runs alone; so an effect must not call back into this ledger.
class MemoryLedger {
 public:
  explicit MemoryLedger(Policy policy) : policy_(policy) {}

  MemoryLedger(const MemoryLedger&) = delete;
  MemoryLedger& operator=(const MemoryLedger&) = delete;

  Policy policy() const { return policy_; }

  // Runs `effect` unless (incident_id, version) is not to be applied; marks the version
  // only if `effect` returned OK. Returns true if it ran and succeeded, false if skipped.
  // Errors: InvalidArgument from ValidateEvent() (effect not run); the effect's own
  // non-OK status unchanged (version left unmarked, so a retry runs it again).
  absl::StatusOr<bool> ApplyOnce(absl::string_view incident_id, int64_t version,
                                 absl::FunctionRef<absl::Status()> effect);

  // The state for `incident_id`; an empty one if nothing was applied.
  AppliedVersions Applied(absl::string_view incident_id) const;

 private:
  const Policy policy_;
  mutable absl::Mutex mu_;
  std::map<std::string, AppliedVersions, std::less<>> incidents_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gridloop::events

#endif  // GRIDLOOP_COMMON_EVENTS_MEMORY_LEDGER_H_
