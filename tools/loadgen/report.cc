#include "tools/loadgen/report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log/log.h"

namespace gridloop::loadgen {

std::string FormatTable(const RunDescription& run, const RunResult& result) {
  std::string out;
  absl::StrAppendFormat(&out, "%-12s %s\n", "mode", run.mode);
  absl::StrAppendFormat(&out, "%-12s %s\n", "target", run.target);
  absl::StrAppendFormat(&out, "%-12s %d\n", "concurrency", run.concurrency);
  absl::StrAppendFormat(&out, "%-12s %.2f s (after %.2f s warm-up)\n", "measured",
                        absl::ToDoubleSeconds(result.measured), absl::ToDoubleSeconds(run.warmup));
  absl::StrAppendFormat(&out, "%-12s %d\n", "calls", result.calls);
  absl::StrAppendFormat(&out, "%-12s %.1f calls/s\n", "throughput", result.calls_per_second());
  absl::StrAppendFormat(&out, "%-12s %d\n", "errors", result.errors());
  for (const auto& [code, count] : result.codes) {
    absl::StrAppendFormat(&out, "  %-20s %d\n", code, count);
  }
  absl::StrAppendFormat(&out, "%-12s p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms\n",
                        "latency(ok)", result.LatencyMs(0.5), result.LatencyMs(0.99),
                        result.LatencyMs(0.999), result.LatencyMs(1.0));
  return out;
}

std::string FormatJson(const RunDescription& run, const RunResult& result) {
  std::string codes;
  for (const auto& [code, count] : result.codes) {
    absl::StrAppend(&codes, codes.empty() ? "" : ",", "\"", log::JsonEscape(code), "\":", count);
  }
  return absl::StrFormat(
      "{\"mode\":\"%s\",\"target\":\"%s\",\"concurrency\":%d,\"warmup_s\":%.3f,"
      "\"measured_s\":%.3f,\"calls\":%d,\"calls_per_s\":%.1f,\"errors\":%d,\"codes\":{%s},"
      "\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f}}",
      log::JsonEscape(run.mode), log::JsonEscape(run.target), run.concurrency,
      absl::ToDoubleSeconds(run.warmup), absl::ToDoubleSeconds(result.measured), result.calls,
      result.calls_per_second(), result.errors(), codes, result.LatencyMs(0.5),
      result.LatencyMs(0.99), result.LatencyMs(0.999), result.LatencyMs(1.0));
}

}  // namespace gridloop::loadgen
