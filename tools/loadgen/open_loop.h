#ifndef GRIDLOOP_TOOLS_LOADGEN_OPEN_LOOP_H_
#define GRIDLOOP_TOOLS_LOADGEN_OPEN_LOOP_H_

// What the fixed-rate modes (loop, hop) share: sends paced by a schedule rather than by
// replies, and a ledger of when each item reached each milestone. Latencies are taken from
// the time an item was due, not from when it was actually sent, so a stall anywhere (the
// load generator included) shows up in them instead of thinning the load (coordinated
// omission).

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/config/config.h"

namespace gridloop::loadgen {

// Nanoseconds on the monotonic clock, the time base of every `*_ns` argument below
// unless it says wall clock.
int64_t MonotonicNanos();

// Nearest-rank percentiles of a set of durations.
class Distribution {
 public:
  Distribution() = default;
  explicit Distribution(std::vector<int64_t> ns);

  size_t count() const { return sorted_ns_.size(); }
  // The q-quantile (0 < q <= 1) in milliseconds; 0 when empty.
  double Ms(double q) const;
  double MaxMs() const { return Ms(1.0); }

 private:
  std::vector<int64_t> sorted_ns_;
};

// A run's item tag, "<prefix>-<run>-<seq>", carried by every item (a report's external
// reference, a record's value) so that its milestones can be matched to it wherever they
// are observed, even before the sender has heard back.
std::string ItemTag(absl::string_view prefix, absl::string_view run, int64_t seq);
// The sequence number of a tag made with the same prefix and run; nullopt for anything
// else (another run's items, or unrelated text).
std::optional<int64_t> ParseItemTag(absl::string_view text, absl::string_view prefix,
                                    absl::string_view run);

// When each item of an open-loop run was due and when it first reached each milestone.
// Milestone 0 is the due time, set by Add(); the meaning of the others is the mode's.
// Thread-safe: the sender, RPC callbacks and consumers record into it concurrently.
class Ledger {
 public:
  static constexpr int64_t kUnset = INT64_MIN;

  // `milestones` counts milestone 0; at least 1.
  explicit Ledger(int milestones);

  // Registers the next item, due at `due_ns`; returns its sequence number (0, 1, 2...).
  // Only `measured` items count in the figures below; the others warm the system up.
  int64_t Add(int64_t due_ns, bool measured);

  // Records that item `seq` reached `milestone` at `at_ns` (any clock, as long as the
  // durations asked of Between() pair milestones of one clock). Only the first time
  // counts: Kafka may deliver a record twice. Returns whether it was recorded; false for
  // an unknown item or milestone, or a repeat.
  bool Mark(int64_t seq, int milestone, int64_t at_ns);

  // Item `seq` failed with `code` (its call or produce was refused); it is counted apart
  // and leaves every duration and Missing() count. The first failure counts.
  void Fail(int64_t seq, absl::string_view code);

  // The durations from milestone `from` to `to` of measured, unfailed items that reached
  // both.
  Distribution Between(int from, int to) const;

  // Between(from, to), split by when the items were due: element i holds the measured
  // items due within [i * window, (i + 1) * window) after the first measured one. Shows
  // whether a latency is a queue that grows through the run or a few stalls.
  std::vector<Distribution> BetweenByDue(int from, int to, absl::Duration window) const;

  // Milestone `milestone` of every measured, unfailed item that reached it, in item order.
  std::vector<int64_t> Values(int milestone) const;

  int64_t measured() const;
  int64_t failed() const;                           // measured items that failed
  std::map<std::string, int64_t> failures() const;  // measured failures by code
  // Measured, unfailed items that reached / have not reached `milestone`.
  int64_t Reached(int milestone) const;
  int64_t Missing(int milestone) const;
  // Items of any kind (warm-up included) that reached `milestone`.
  int64_t ReachedByAny(int milestone) const;

 private:
  struct Item {
    bool measured = false;
    bool failed = false;
  };

  int64_t& At(int64_t seq, int milestone) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t At(int64_t seq, int milestone) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const int milestones_;
  mutable absl::Mutex mu_;
  std::vector<Item> items_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> times_ ABSL_GUARDED_BY(mu_);  // items_.size() x milestones_
  std::vector<int64_t> reached_by_any_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> failures_ ABSL_GUARDED_BY(mu_);
};

struct OpenLoopOptions {
  double rate = 1000;  // items per second
  // Items sent first, unmeasured; the measured window opens once this has passed and an
  // item reached `ready_milestone` (the path is live end to end).
  absl::Duration warmup = absl::Seconds(2);
  absl::Duration duration = absl::Seconds(10);
  int ready_milestone = 1;
  // How long past the warm-up to wait for that before giving up.
  absl::Duration ready_timeout = absl::Seconds(30);
};

// OpenLoopOptions from --rate (per second), --duration, --warmup; InvalidArgument naming
// the setting when one is malformed or out of range.
// For the modes' JSON lines: a distribution as {"n","p50","p99","p999","max"} in ms, and
// failures by status code as {"CODE":count,...} without the braces.
std::string JsonOf(const Distribution& d);
// For the modes' tables: one row "  <name> p50 p99 p99.9 max n" in ms.
void AppendRow(std::string* out, absl::string_view name, const Distribution& d);
// The heading above such rows: `title` and the column names, aligned with them.
void AppendHeading(std::string* out, absl::string_view title);
std::string FailuresJson(const std::map<std::string, int64_t>& failures);

absl::StatusOr<OpenLoopOptions> OpenLoopOptionsFromSettings(const config::Settings& settings);

// Sends items at `options.rate` on a fixed schedule: item n is due n / rate after the
// start, whatever became of earlier items; a sender that falls behind catches up at
// once without moving the schedule. `send(seq)` is called on the calling thread with the
// item already in `ledger` (due time set) and must not block. Returns after the last
// measured item was sent: DeadlineExceeded if the path never became ready.
absl::Status RunOpenLoop(const OpenLoopOptions& options, Ledger& ledger,
                         const std::function<void(int64_t seq)>& send);

// Waits until every measured, unfailed item reached `milestone` or `grace` passed
// (polling: the ledger has no waiters). Returns whether they all did.
bool AwaitMilestone(const Ledger& ledger, int milestone, absl::Duration grace);

}  // namespace gridloop::loadgen

#endif  // GRIDLOOP_TOOLS_LOADGEN_OPEN_LOOP_H_
