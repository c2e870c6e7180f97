#ifndef GRIDLOOP_SERVICES_ASSESSMENT_PERIODS_H_
#define GRIDLOOP_SERVICES_ASSESSMENT_PERIODS_H_

#include <array>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gridloop/v1/assessment.pb.h"

namespace gridloop::assessment {

// Assessment periods follow the city's calendar: local time UTC+8, weeks Monday to Sunday
// (ISO 8601 weeks, so the first days of January may belong to the previous year's week).
absl::TimeZone CityTime();

// One period: its kind, its key ("2026-11-27", "2026-W48", "2026-11", "2026-Q4", "2026";
// the keys of different kinds never collide) and its bounds [start, end).
struct PeriodSpan {
  v1::Period period = v1::PERIOD_UNSPECIFIED;
  std::string key;
  absl::Time start;
  absl::Time end;
};

inline constexpr std::array<v1::Period, 5> kAllPeriods = {
    v1::PERIOD_DAY, v1::PERIOD_WEEK, v1::PERIOD_MONTH, v1::PERIOD_QUARTER, v1::PERIOD_YEAR};

// The period of kind `period` containing `at`. `period` must be one of kAllPeriods.
PeriodSpan PeriodOf(v1::Period period, absl::Time at);

// The five periods (day to year) containing `at`.
std::vector<PeriodSpan> PeriodsOf(absl::Time at);

// The period just before `span`, of the same kind.
PeriodSpan PreviousPeriod(const PeriodSpan& span);

// `code` and every region above it, top first: "3301.06.003" gives "3301", "3301.06",
// "3301.06.003". Empty for an empty code.
std::vector<std::string> RegionAndAncestors(absl::string_view code);

// The number of '.'-separated segments of a region code (1 = city ... 5 = grid).
int RegionDepth(absl::string_view code);

}  // namespace gridloop::assessment

#endif  // GRIDLOOP_SERVICES_ASSESSMENT_PERIODS_H_
