#include "tools/loadgen/call_mode.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace gridloop::loadgen {
namespace {

using ModeFactory = absl::StatusOr<std::unique_ptr<CallMode>> (*)(const ModeContext&);

struct ModeEntry {
  absl::string_view name;
  ModeFactory factory;
};

// A new mode is one line here and one New...Mode function.
constexpr ModeEntry kModes[] = {
    {"echo", &NewEchoMode},
    {"report", &NewReportMode},
};

}  // namespace

absl::StatusOr<std::unique_ptr<CallMode>> NewCallMode(absl::string_view name,
                                                      const ModeContext& context) {
  for (const ModeEntry& mode : kModes) {
    if (mode.name == name) return mode.factory(context);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("mode: \"", name, "\" is not one of ", absl::StrJoin(CallModeNames(), ", ")));
}

std::vector<std::string> CallModeNames() {
  std::vector<std::string> names;
  for (const ModeEntry& mode : kModes) names.emplace_back(mode.name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace gridloop::loadgen
