#include "services/assessment/assessment_store.h"

namespace gridloop::assessment {

absl::string_view KindKey(v1::SubjectKind kind) {
  switch (kind) {
    case v1::SUBJECT_KIND_GRID_WORKER:
      return "gw";
    case v1::SUBJECT_KIND_VOLUNTEER:
      return "vol";
    case v1::SUBJECT_KIND_DEPARTMENT:
      return "dep";
    case v1::SUBJECT_KIND_REGION:
      return "reg";
    default:
      return "unknown";
  }
}

std::optional<v1::SubjectKind> KindFromKey(absl::string_view key) {
  for (v1::SubjectKind k : {v1::SUBJECT_KIND_GRID_WORKER, v1::SUBJECT_KIND_VOLUNTEER,
                            v1::SUBJECT_KIND_DEPARTMENT, v1::SUBJECT_KIND_REGION}) {
    if (KindKey(k) == key) return k;
  }
  return std::nullopt;
}

}  // namespace gridloop::assessment
