#ifndef GRIDLOOP_TOOLS_GRIDCTL_NAMES_H_
#define GRIDLOOP_TOOLS_GRIDCTL_NAMES_H_

// How gridctl prints the API's enum values: the value's name without its enum's prefix, in
// lower case ("INCIDENT_STATUS_IN_PROGRESS" -> "in_progress").

#include <string>

#include "absl/strings/string_view.h"
#include "gridloop/v1/events.pb.h"
#include "gridloop/v1/incidents.pb.h"

namespace gridloop::gridctl {

// `name` without `prefix`, lower-cased.
std::string EnumWord(absl::string_view name, absl::string_view prefix);

std::string StatusName(v1::IncidentStatus s);
std::string EventName(v1::IncidentEventType t);
std::string KindName(v1::AssigneeKind k);

}  // namespace gridloop::gridctl

#endif  // GRIDLOOP_TOOLS_GRIDCTL_NAMES_H_
