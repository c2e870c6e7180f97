#ifndef GRIDLOOP_TOOLS_LOADGEN_REPORT_H_
#define GRIDLOOP_TOOLS_LOADGEN_REPORT_H_

#include <string>

#include "tools/loadgen/load_run.h"

namespace gridloop::loadgen {

// What was run, printed with the result.
struct RunDescription {
  std::string mode;
  std::string target;
  int concurrency = 0;
  absl::Duration warmup;
};

// A few aligned lines for a person reading a terminal.
std::string FormatTable(const RunDescription& run, const RunResult& result);

// One JSON object on one line (no trailing newline), for scripts comparing runs.
std::string FormatJson(const RunDescription& run, const RunResult& result);

}  // namespace gridloop::loadgen

#endif  // GRIDLOOP_TOOLS_LOADGEN_REPORT_H_
