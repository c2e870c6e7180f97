#include "services/dispatch/policy.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <tuple>

namespace gridloop::dispatch {
namespace {

constexpr int64_t kMinutesPerDay = int64_t{24} * 60;
constexpr int64_t kMinutesPerWeek = 7 * kMinutesPerDay;
// 1970-01-01 was a Thursday: three days after the Monday that starts our week.
constexpr int64_t kEpochWeekdayFromMonday = 3;

// Minutes since local Monday 00:00, 0..10079.
int64_t LocalMinuteOfWeek(absl::Time at) {
  constexpr int64_t kSecondsPerWeek = kMinutesPerWeek * 60;
  // ToUnixSeconds rounds toward negative infinity and saturates at the infinite times, so
  // reducing modulo a week before adding anything cannot overflow; a week is whole minutes,
  // so the reduction keeps the minute.
  int64_t second = absl::ToUnixSeconds(at) % kSecondsPerWeek;
  if (second < 0) second += kSecondsPerWeek;
  const int64_t minute =
      second / 60 + kEpochWeekdayFromMonday * kMinutesPerDay + kLocalUtcOffsetMinutes;
  return minute % kMinutesPerWeek;
}

bool Covers(const WeeklyWindow& w, int64_t minute_of_week) {
  // A malformed window covers nothing rather than, say, the whole week.
  if (w.weekday < 1 || w.weekday > 7 || w.start_minute < 0 || w.start_minute >= kMinutesPerDay ||
      w.duration_minutes < 1 || w.duration_minutes > kMinutesPerDay) {
    return false;
  }
  const int64_t start = (w.weekday - 1) * kMinutesPerDay + w.start_minute;
  // Measured forward from the start, so a window that runs past Sunday midnight wraps into
  // Monday. Half-open: a window 22:00 + 4h ends before 02:00.
  const int64_t since_start = (minute_of_week - start + kMinutesPerWeek) % kMinutesPerWeek;
  return since_start < w.duration_minutes;
}

// A qualifying candidate, kept small so that sorting moves no strings.
struct Scored {
  double score;
  double distance_m;
  size_t index;  // into the candidates
  bool avoided;
};

}  // namespace

bool AvailableAt(const std::vector<WeeklyWindow>& windows, absl::Time at) {
  if (windows.empty()) return true;
  const int64_t minute = LocalMinuteOfWeek(at);
  return std::any_of(windows.begin(), windows.end(),
                     [minute](const WeeklyWindow& w) { return Covers(w, minute); });
}

std::vector<RankedVolunteer> RankVolunteers(const JobView& job,
                                            const std::vector<VolunteerCandidate>& candidates,
                                            absl::Time now, const PolicyWeights& weights) {
  const int wanted_count = std::popcount(job.skills_wanted);
  std::vector<Scored> qualified;
  qualified.reserve(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    const VolunteerCandidate& c = candidates[i];
    const SkillSet matched = c.skills & job.skills_wanted;
    if (wanted_count > 0 && matched == 0) continue;
    // Written so that a NaN distance fails too.
    if (!(c.distance_m <= weights.max_distance_m)) continue;
    if (c.max_concurrent <= 0 || c.active_tasks >= c.max_concurrent) continue;
    // Last: the only test that walks a list.
    if (!AvailableAt(c.availability, now)) continue;

    // With no skill wanted everyone matches fully, so scores stay comparable across jobs.
    const double skill =
        wanted_count == 0 ? 1.0 : static_cast<double>(std::popcount(matched)) / wanted_count;
    const double distance_m = std::max(c.distance_m, 0.0);
    const double nearness =
        weights.max_distance_m > 0 ? 1.0 - distance_m / weights.max_distance_m : 1.0;
    const double free_share =
        1.0 - static_cast<double>(std::max(c.active_tasks, 0)) / c.max_concurrent;
    const double fairness = 1.0 / (1.0 + std::max(c.recent_assignments, 0));
    const double score = weights.skill * skill + weights.distance * nearness +
                         weights.load * free_share + weights.fairness * fairness;
    qualified.push_back({score, distance_m, i, !job.avoid_id.empty() && c.id == job.avoid_id});
  }

  std::sort(qualified.begin(), qualified.end(), [&](const Scored& a, const Scored& b) {
    // Ascending tuples: not avoided first, then higher score, nearer, smaller id.
    return std::forward_as_tuple(a.avoided, b.score, a.distance_m, candidates[a.index].id) <
           std::forward_as_tuple(b.avoided, a.score, b.distance_m, candidates[b.index].id);
  });

  std::vector<RankedVolunteer> ranked;
  ranked.reserve(qualified.size());
  for (const Scored& s : qualified) {
    ranked.push_back({candidates[s.index].id, s.score, s.distance_m});
  }
  return ranked;
}

std::string ChooseStaff(const std::vector<StaffCandidate>& staff, absl::string_view avoid_id) {
  const StaffCandidate* best = nullptr;
  auto key = [avoid_id](const StaffCandidate& s) {
    return std::make_tuple(s.active_tasks, s.recent_assignments,
                           !avoid_id.empty() && s.id == avoid_id, absl::string_view(s.id));
  };
  for (const StaffCandidate& s : staff) {
    if (best == nullptr || key(s) < key(*best)) best = &s;
  }
  return best == nullptr ? std::string() : best->id;
}

}  // namespace gridloop::dispatch
