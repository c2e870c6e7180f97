#ifndef GRIDLOOP_TOOLS_LOADGEN_LOAD_RUN_H_
#define GRIDLOOP_TOOLS_LOADGEN_LOAD_RUN_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "tools/loadgen/call_mode.h"

namespace gridloop::loadgen {

struct RunOptions {
  // Calls kept in flight: each completion immediately starts the next (a closed loop).
  int concurrency = 16;
  // Calls that start during the warm-up (connection set-up, cold caches) are not measured.
  absl::Duration warmup = absl::Seconds(2);
  absl::Duration duration = absl::Seconds(10);
  // Deadline of each call.
  absl::Duration call_timeout = absl::Seconds(5);
  // Metadata added to every call (the identity headers, for instance).
  std::vector<std::pair<std::string, std::string>> headers;
};

struct RunResult {
  absl::Duration measured;               // length of the measured window
  int64_t calls = 0;                     // measured calls, whatever their status
  std::map<std::string, int64_t> codes;  // measured calls by status code name
  std::vector<int64_t> ok_latency_ns;    // sorted latencies of the measured OK calls

  int64_t errors() const;
  double calls_per_second() const;
  // Nearest-rank percentile (0 < q <= 1) of the OK latencies, in milliseconds; 0 if none.
  double LatencyMs(double q) const;
};

// Drives `mode` for warmup + duration with `options.concurrency` calls in flight and
// returns what it measured: calls that started after the warm-up and ended within the
// window. Blocks until every call it started has ended.
RunResult RunLoad(CallMode& mode, const RunOptions& options);

}  // namespace gridloop::loadgen

#endif  // GRIDLOOP_TOOLS_LOADGEN_LOAD_RUN_H_
