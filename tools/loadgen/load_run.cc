#include "tools/loadgen/load_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "common/server/metrics.h"

namespace gridloop::loadgen {
namespace {

using SteadyClock = std::chrono::steady_clock;

// One closed loop: a call, and on its completion the next. Completions of one lane never
// overlap, so its samples need no lock; the runner reads them only after the lane is done.
struct Lane {
  std::vector<int64_t> ok_latency_ns;
  std::map<std::string, int64_t> codes;
  int64_t calls = 0;
};

// Shared by the runner and every call in flight, so the last completion, which may still be
// returning after the runner has its results, never touches freed memory.
class Runner : public std::enable_shared_from_this<Runner> {
 public:
  Runner(CallMode& mode, const RunOptions& options)
      : mode_(mode), options_(options), lanes_(std::max(options.concurrency, 1)) {}

  RunResult Go() {
    const SteadyClock::time_point start = SteadyClock::now();
    measure_from_ = start + absl::ToChronoNanoseconds(options_.warmup);
    end_ = measure_from_ + absl::ToChronoNanoseconds(options_.duration);
    {
      absl::MutexLock lock(&mu_);
      active_ = static_cast<int>(lanes_.size());
    }
    for (Lane& lane : lanes_) StartCall(lane);

    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &Runner::AllLanesDone));
    // Every lane's last write happened before its final decrement under mu_.
    RunResult result;
    result.measured = options_.duration;
    for (Lane& lane : lanes_) {
      result.calls += lane.calls;
      for (const auto& [code, count] : lane.codes) result.codes[code] += count;
      result.ok_latency_ns.insert(result.ok_latency_ns.end(), lane.ok_latency_ns.begin(),
                                  lane.ok_latency_ns.end());
    }
    std::sort(result.ok_latency_ns.begin(), result.ok_latency_ns.end());
    return result;
  }

 private:
  bool AllLanesDone() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return active_ == 0; }

  void StartCall(Lane& lane) {
    const SteadyClock::time_point started = SteadyClock::now();
    if (started >= end_) {
      absl::MutexLock lock(&mu_);
      --active_;
      return;
    }
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() +
                      absl::ToChronoNanoseconds(options_.call_timeout));
    for (const auto& [key, value] : options_.headers) ctx->AddMetadata(key, value);
    mode_.StartCall(
        std::move(ctx), [self = shared_from_this(), &lane, started](const grpc::Status& status) {
          const SteadyClock::time_point ended = SteadyClock::now();
          if (started >= self->measure_from_ && ended <= self->end_) {
            ++lane.calls;
            ++lane.codes[std::string(server::StatusCodeName(status.error_code()))];
            if (status.ok()) {
              lane.ok_latency_ns.push_back(
                  std::chrono::duration_cast<std::chrono::nanoseconds>(ended - started).count());
            }
          }
          self->StartCall(lane);
        });
  }

  CallMode& mode_;
  const RunOptions options_;
  std::vector<Lane> lanes_;
  SteadyClock::time_point measure_from_;
  SteadyClock::time_point end_;
  absl::Mutex mu_;
  int active_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

int64_t RunResult::errors() const {
  int64_t errors = 0;
  for (const auto& [code, count] : codes) {
    if (code != "OK") errors += count;
  }
  return errors;
}

double RunResult::calls_per_second() const {
  double seconds = absl::ToDoubleSeconds(measured);
  return seconds > 0 ? static_cast<double>(calls) / seconds : 0;
}

double RunResult::LatencyMs(double q) const {
  if (ok_latency_ns.empty()) return 0;
  double rank = std::ceil(q * static_cast<double>(ok_latency_ns.size()));
  size_t index =
      static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(ok_latency_ns.size()))) - 1;
  return static_cast<double>(ok_latency_ns[index]) / 1e6;
}

RunResult RunLoad(CallMode& mode, const RunOptions& options) {
  return std::make_shared<Runner>(mode, options)->Go();
}

}  // namespace gridloop::loadgen
