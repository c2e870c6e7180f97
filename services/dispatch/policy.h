#ifndef GRIDLOOP_SERVICES_DISPATCH_POLICY_H_
#define GRIDLOOP_SERVICES_DISPATCH_POLICY_H_

// Who should handle an incident: a pure function of (incident, candidates, time), so every
// rule is unit-tested without Redis, Kafka or a clock.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace gridloop::dispatch {

// Skills as bits. The skill list is configuration (see Routing); a skill's bit is its
// position in that list, so at most 64 skills.
using SkillSet = uint64_t;

// One weekly window in the city's local time (UTC+8). Crosses midnight when
// start_minute + duration_minutes > 1440; Sunday night runs into Monday.
struct WeeklyWindow {
  int weekday = 1;           // 1 = Monday ... 7 = Sunday
  int start_minute = 0;      // 0..1439 after local midnight
  int duration_minutes = 0;  // 1..1440
};

// The city's offset from UTC: availability and periods are local (China Standard Time).
inline constexpr int kLocalUtcOffsetMinutes = 8 * 60;

// True when `windows` is empty (any time) or one of them covers `at`.
bool AvailableAt(const std::vector<WeeklyWindow>& windows, absl::Time at);

// What the policy needs to know about the incident.
struct JobView {
  std::string incident_id;
  SkillSet skills_wanted = 0;  // 0 = any volunteer will do
  // The assignee of the round before (a reopened incident): ranked behind everyone else
  // who qualifies, so the resident meets someone new, but still asked if nobody else is.
  std::string avoid_id;
};

// A volunteer near the incident, with what dispatch knows of them right now.
struct VolunteerCandidate {
  std::string id;
  SkillSet skills = 0;
  double distance_m = 0;
  std::vector<WeeklyWindow> availability;  // empty = any time
  int active_tasks = 0;                    // incidents assigned and not yet closed
  int max_concurrent = 1;
  int recent_assignments = 0;  // within the fairness window
};

struct PolicyWeights {
  double skill = 3.0;            // x fraction of wanted skills the volunteer has
  double distance = 2.0;         // x (1 - distance / max_distance_m)
  double load = 1.0;             // x (1 - active / max_concurrent)
  double fairness = 1.5;         // x 1 / (1 + recent assignments)
  double max_distance_m = 5000;  // farther candidates are not asked at all
};

struct RankedVolunteer {
  std::string id;
  double score = 0;
  double distance_m = 0;
};

// The volunteers to ask, best first. A candidate qualifies when it has at least one wanted
// skill (if any are wanted), is available at `now`, has room (active < max_concurrent) and
// is within max_distance_m; the rest are dropped. Ties break by distance, then id, so the
// result is deterministic. `avoid_id`, when it qualifies, comes last. Empty when nobody
// qualifies: the caller falls back to the grid worker.
std::vector<RankedVolunteer> RankVolunteers(const JobView& job,
                                            const std::vector<VolunteerCandidate>& candidates,
                                            absl::Time now, const PolicyWeights& weights = {});

// A member of staff who could take an order (an on-duty grid worker, a community's or
// street's responsible person).
struct StaffCandidate {
  std::string id;
  int active_tasks = 0;
  int recent_assignments = 0;
};

// The one to give the order to: the fewest active tasks, then the fewest recent
// assignments, then not `avoid_id`, then the smallest id. Empty when there is no one.
std::string ChooseStaff(const std::vector<StaffCandidate>& staff, absl::string_view avoid_id);

}  // namespace gridloop::dispatch

#endif  // GRIDLOOP_SERVICES_DISPATCH_POLICY_H_
