#include "tools/gridctl/names.h"

#include "absl/strings/ascii.h"
#include "absl/strings/strip.h"

namespace gridloop::gridctl {

std::string EnumWord(absl::string_view name, absl::string_view prefix) {
  std::string s(absl::StripPrefix(name, prefix));
  absl::AsciiStrToLower(&s);
  return s;
}

std::string StatusName(v1::IncidentStatus s) {
  return EnumWord(v1::IncidentStatus_Name(s), "INCIDENT_STATUS_");
}

std::string EventName(v1::IncidentEventType t) {
  return EnumWord(v1::IncidentEventType_Name(t), "INCIDENT_EVENT_TYPE_");
}

std::string KindName(v1::AssigneeKind k) {
  return EnumWord(v1::AssigneeKind_Name(k), "ASSIGNEE_KIND_");
}

}  // namespace gridloop::gridctl
