#include "tools/loadgen/open_loop.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"

namespace gridloop::loadgen {

int64_t MonotonicNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Distribution::Distribution(std::vector<int64_t> ns) : sorted_ns_(std::move(ns)) {
  std::sort(sorted_ns_.begin(), sorted_ns_.end());
}

double Distribution::Ms(double q) const {
  if (sorted_ns_.empty()) return 0;
  const double rank = std::ceil(q * static_cast<double>(sorted_ns_.size()));
  const size_t index =
      static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(sorted_ns_.size()))) - 1;
  return static_cast<double>(sorted_ns_[index]) / 1e6;
}

std::string ItemTag(absl::string_view prefix, absl::string_view run, int64_t seq) {
  return absl::StrCat(prefix, "-", run, "-", seq);
}

std::optional<int64_t> ParseItemTag(absl::string_view text, absl::string_view prefix,
                                    absl::string_view run) {
  if (!absl::ConsumePrefix(&text, prefix) || !absl::ConsumePrefix(&text, "-") ||
      !absl::ConsumePrefix(&text, run) || !absl::ConsumePrefix(&text, "-")) {
    return std::nullopt;
  }
  int64_t seq = 0;
  // SimpleAtoi alone would take a sign or surrounding spaces.
  if (text.empty() || !std::all_of(text.begin(), text.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(text, &seq)) {
    return std::nullopt;
  }
  return seq;
}

Ledger::Ledger(int milestones)
    : milestones_(std::max(milestones, 1)), reached_by_any_(std::max(milestones, 1), 0) {}

int64_t& Ledger::At(int64_t seq, int milestone) {
  return times_[static_cast<size_t>(seq) * milestones_ + milestone];
}

int64_t Ledger::At(int64_t seq, int milestone) const {
  return times_[static_cast<size_t>(seq) * milestones_ + milestone];
}

int64_t Ledger::Add(int64_t due_ns, bool measured) {
  absl::MutexLock lock(&mu_);
  const auto seq = static_cast<int64_t>(items_.size());
  items_.push_back({measured, false});
  times_.resize(times_.size() + milestones_, kUnset);
  At(seq, 0) = due_ns;
  ++reached_by_any_[0];
  return seq;
}

bool Ledger::Mark(int64_t seq, int milestone, int64_t at_ns) {
  absl::MutexLock lock(&mu_);
  if (seq < 0 || seq >= static_cast<int64_t>(items_.size()) || milestone <= 0 ||
      milestone >= milestones_) {
    return false;
  }
  int64_t& slot = At(seq, milestone);
  if (slot != kUnset) return false;
  slot = at_ns;
  ++reached_by_any_[milestone];
  return true;
}

void Ledger::Fail(int64_t seq, absl::string_view code) {
  absl::MutexLock lock(&mu_);
  if (seq < 0 || seq >= static_cast<int64_t>(items_.size())) return;
  Item& item = items_[seq];
  if (item.failed) return;
  item.failed = true;
  if (item.measured) ++failures_[std::string(code)];
}

Distribution Ledger::Between(int from, int to) const {
  std::vector<int64_t> ns;
  absl::MutexLock lock(&mu_);
  if (from < 0 || to < 0 || from >= milestones_ || to >= milestones_) return Distribution();
  for (size_t seq = 0; seq < items_.size(); ++seq) {
    if (!items_[seq].measured || items_[seq].failed) continue;
    const int64_t a = At(static_cast<int64_t>(seq), from);
    const int64_t b = At(static_cast<int64_t>(seq), to);
    if (a != kUnset && b != kUnset) ns.push_back(b - a);
  }
  return Distribution(std::move(ns));
}

std::vector<Distribution> Ledger::BetweenByDue(int from, int to, absl::Duration window) const {
  std::vector<std::vector<int64_t>> windows;
  const int64_t window_ns = absl::ToInt64Nanoseconds(window);
  absl::MutexLock lock(&mu_);
  if (from < 0 || to < 0 || from >= milestones_ || to >= milestones_ || window_ns <= 0) return {};
  int64_t first_due = kUnset;
  for (size_t seq = 0; seq < items_.size(); ++seq) {
    if (!items_[seq].measured) continue;
    const int64_t due = At(static_cast<int64_t>(seq), 0);
    if (first_due == kUnset) first_due = due;
    const auto w = static_cast<size_t>(std::max<int64_t>(0, due - first_due) / window_ns);
    if (windows.size() <= w) windows.resize(w + 1);
    if (items_[seq].failed) continue;
    const int64_t a = At(static_cast<int64_t>(seq), from);
    const int64_t b = At(static_cast<int64_t>(seq), to);
    if (a != kUnset && b != kUnset) windows[w].push_back(b - a);
  }
  std::vector<Distribution> out;
  out.reserve(windows.size());
  for (std::vector<int64_t>& ns : windows) out.emplace_back(std::move(ns));
  return out;
}

std::vector<int64_t> Ledger::Values(int milestone) const {
  std::vector<int64_t> out;
  absl::MutexLock lock(&mu_);
  if (milestone < 0 || milestone >= milestones_) return out;
  for (size_t seq = 0; seq < items_.size(); ++seq) {
    if (!items_[seq].measured || items_[seq].failed) continue;
    if (const int64_t v = At(static_cast<int64_t>(seq), milestone); v != kUnset) out.push_back(v);
  }
  return out;
}

int64_t Ledger::measured() const {
  absl::MutexLock lock(&mu_);
  return std::count_if(items_.begin(), items_.end(), [](const Item& i) { return i.measured; });
}

int64_t Ledger::failed() const {
  absl::MutexLock lock(&mu_);
  return std::count_if(items_.begin(), items_.end(),
                       [](const Item& i) { return i.measured && i.failed; });
}

std::map<std::string, int64_t> Ledger::failures() const {
  absl::MutexLock lock(&mu_);
  return failures_;
}

int64_t Ledger::Reached(int milestone) const {
  absl::MutexLock lock(&mu_);
  if (milestone < 0 || milestone >= milestones_) return 0;
  int64_t n = 0;
  for (size_t seq = 0; seq < items_.size(); ++seq) {
    if (items_[seq].measured && !items_[seq].failed &&
        At(static_cast<int64_t>(seq), milestone) != kUnset) {
      ++n;
    }
  }
  return n;
}

int64_t Ledger::Missing(int milestone) const {
  int64_t live = 0;
  {
    absl::MutexLock lock(&mu_);
    live = std::count_if(items_.begin(), items_.end(),
                         [](const Item& i) { return i.measured && !i.failed; });
  }
  // Reached() only counts up while items only fail, never un-fail: a race with a new
  // failure can only make this briefly too high, and the caller polls.
  return std::max<int64_t>(0, live - Reached(milestone));
}

int64_t Ledger::ReachedByAny(int milestone) const {
  absl::MutexLock lock(&mu_);
  if (milestone < 0 || milestone >= milestones_) return 0;
  return reached_by_any_[milestone];
}

absl::StatusOr<OpenLoopOptions> OpenLoopOptionsFromSettings(const config::Settings& settings) {
  OpenLoopOptions o;
  ASSIGN_OR_RETURN(const int64_t rate, settings.GetInt("rate", 1000));
  if (rate < 1 || rate > 1'000'000) {
    return absl::InvalidArgumentError("rate: must be within 1..1000000 per second");
  }
  o.rate = static_cast<double>(rate);
  ASSIGN_OR_RETURN(o.duration, settings.GetDuration("duration", o.duration));
  ASSIGN_OR_RETURN(o.warmup, settings.GetDuration("warmup", o.warmup));
  if (o.duration <= absl::ZeroDuration() || o.warmup < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("duration must be positive, warmup >= 0");
  }
  return o;
}

absl::Status RunOpenLoop(const OpenLoopOptions& options, Ledger& ledger,
                         const std::function<void(int64_t seq)>& send) {
  if (!(options.rate > 0)) return absl::InvalidArgumentError("rate: must be positive");
  const double interval_ns = 1e9 / options.rate;
  const int64_t start = MonotonicNanos();
  const int64_t warm_until = start + absl::ToInt64Nanoseconds(options.warmup);
  const int64_t give_up = warm_until + absl::ToInt64Nanoseconds(options.ready_timeout);
  const int64_t window = absl::ToInt64Nanoseconds(options.duration);
  int64_t measure_until = -1;  // set when the measured window opens
  for (int64_t n = 0;; ++n) {
    // From the start each time, so rounding never accumulates into drift.
    const int64_t due = start + std::llround(static_cast<double>(n) * interval_ns);
    if (measure_until < 0 && due >= warm_until) {
      if (ledger.ReachedByAny(options.ready_milestone) > 0) {
        measure_until = due + window;
      } else if (due >= give_up) {
        return absl::DeadlineExceededError(
            absl::StrCat("no item came back within ",
                         absl::FormatDuration(options.warmup + options.ready_timeout),
                         " of the start: is everything on the path running?"));
      }
    }
    if (measure_until >= 0 && due >= measure_until) return absl::OkStatus();
    const int64_t now = MonotonicNanos();
    if (due > now) std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
    send(ledger.Add(due, measure_until >= 0));
  }
}

bool AwaitMilestone(const Ledger& ledger, int milestone, absl::Duration grace) {
  const absl::Time until = absl::Now() + grace;
  while (ledger.Missing(milestone) > 0) {
    if (absl::Now() >= until) return false;
    // Polled: a few scans a second of a few hundred thousand items cost nothing here.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

std::string JsonOf(const Distribution& d) {
  return absl::StrFormat(R"({"n":%d,"p50":%.3f,"p99":%.3f,"p999":%.3f,"max":%.3f})", d.count(),
                         d.Ms(0.5), d.Ms(0.99), d.Ms(0.999), d.MaxMs());
}

void AppendRow(std::string* out, absl::string_view name, const Distribution& d) {
  absl::StrAppendFormat(out, "  %-34s %9.3f %9.3f %9.3f %9.3f %8d\n", name, d.Ms(0.5), d.Ms(0.99),
                        d.Ms(0.999), d.MaxMs(), d.count());
}

void AppendHeading(std::string* out, absl::string_view title) {
  absl::StrAppendFormat(out, "%-36s %9s %9s %9s %9s %8s\n", title, "p50", "p99", "p99.9", "max",
                        "n");
}

std::string FailuresJson(const std::map<std::string, int64_t>& failures) {
  std::string out;
  for (const auto& [code, count] : failures) {
    absl::StrAppend(&out, out.empty() ? "" : ",", "\"", log::JsonEscape(code), "\":", count);
  }
  return out;
}

}  // namespace gridloop::loadgen
