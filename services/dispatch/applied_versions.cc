#include "services/dispatch/applied_versions.h"

#include <algorithm>

#include "absl/hash/hash.h"

namespace gridloop::dispatch {

AppliedVersions::AppliedVersions(size_t slots) : slots_(slots) {}

size_t AppliedVersions::SlotOf(absl::string_view incident_id) const {
  return absl::Hash<absl::string_view>()(incident_id) % slots_.size();
}

int64_t AppliedVersions::Get(absl::string_view incident_id) const {
  if (slots_.empty()) return 0;
  const size_t i = SlotOf(incident_id);
  absl::MutexLock lock(&StripeOf(i));
  const Slot& slot = slots_[i];
  return slot.incident_id == incident_id ? slot.version : 0;
}

void AppliedVersions::Record(absl::string_view incident_id, int64_t version) {
  if (slots_.empty() || incident_id.empty() || version < 1) return;
  const size_t i = SlotOf(incident_id);
  absl::MutexLock lock(&StripeOf(i));
  Slot& slot = slots_[i];
  if (slot.incident_id == incident_id) {
    slot.version = std::max(slot.version, version);
    return;
  }
  slot.incident_id.assign(incident_id.data(), incident_id.size());
  slot.version = version;
}

}  // namespace gridloop::dispatch
