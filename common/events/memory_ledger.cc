#include "common/events/memory_ledger.h"

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/events/ledger.h"
#include "common/status/status_macros.h"

namespace gridloop::events {

bool AppliedVersions::ShouldApply(int64_t version) const {
  if (version <= watermark_) return false;
  return policy_ == Policy::kLatestWins || above_.count(version) == 0;
}

void AppliedVersions::MarkApplied(int64_t version) {
  if (policy_ == Policy::kLatestWins) {
    if (version > watermark_) watermark_ = version;
    return;
  }
  if (version <= watermark_) return;
  if (version != watermark_ + 1) {
    above_.insert(version);
    return;
  }
  watermark_ = version;
  while (!above_.empty() && *above_.begin() == watermark_ + 1) {
    above_.erase(above_.begin());
    ++watermark_;
  }
}

absl::StatusOr<bool> MemoryLedger::ApplyOnce(absl::string_view incident_id, int64_t version,
                                             absl::FunctionRef<absl::Status()> effect) {
  RETURN_IF_ERROR(ValidateEvent(incident_id, version));
  absl::MutexLock lock(&mu_);
  auto it = incidents_.find(incident_id);
  if (it == incidents_.end()) {
    it = incidents_.emplace(std::string(incident_id), AppliedVersions(policy_)).first;
  }
  if (!it->second.ShouldApply(version)) return false;
  RETURN_IF_ERROR(effect());
  it->second.MarkApplied(version);
  return true;
}

AppliedVersions MemoryLedger::Applied(absl::string_view incident_id) const {
  absl::MutexLock lock(&mu_);
  auto it = incidents_.find(incident_id);
  return it == incidents_.end() ? AppliedVersions(policy_) : it->second;
}

}  // namespace gridloop::events
