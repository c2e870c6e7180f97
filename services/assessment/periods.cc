#include "services/assessment/periods.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gridloop::assessment {
namespace {

absl::Time LocalMidnight(const absl::CivilDay& day) {
  return absl::FromCivil(absl::CivilSecond(day), CityTime());
}

// ISO 8601: the week belongs to the year of its Thursday.
PeriodSpan WeekOf(const absl::CivilDay& day) {
  const absl::Weekday wd = absl::GetWeekday(day);
  // Monday = 0 ... Sunday = 6.
  const int from_monday = (static_cast<int>(wd) - static_cast<int>(absl::Weekday::monday) + 7) % 7;
  const absl::CivilDay monday = day - from_monday;
  const absl::CivilDay thursday = monday + 3;
  const absl::CivilDay jan1(thursday.year(), 1, 1);
  const int week = static_cast<int>((thursday - jan1) / 7) + 1;
  PeriodSpan s;
  s.period = v1::PERIOD_WEEK;
  s.key = absl::StrFormat("%04d-W%02d", thursday.year(), week);
  s.start = LocalMidnight(monday);
  s.end = LocalMidnight(monday + 7);
  return s;
}

}  // namespace

absl::TimeZone CityTime() { return absl::FixedTimeZone(8 * 60 * 60); }

PeriodSpan PeriodOf(v1::Period period, absl::Time at) {
  const absl::CivilDay day = absl::ToCivilDay(at, CityTime());
  PeriodSpan s;
  s.period = period;
  switch (period) {
    case v1::PERIOD_WEEK:
      return WeekOf(day);
    case v1::PERIOD_MONTH: {
      const absl::CivilMonth m(day);
      s.key = absl::StrFormat("%04d-%02d", m.year(), m.month());
      s.start = absl::FromCivil(m, CityTime());
      s.end = absl::FromCivil(m + 1, CityTime());
      return s;
    }
    case v1::PERIOD_QUARTER: {
      const int q = (day.month() - 1) / 3;
      const absl::CivilMonth first(day.year(), q * 3 + 1);
      s.key = absl::StrFormat("%04d-Q%d", day.year(), q + 1);
      s.start = absl::FromCivil(first, CityTime());
      s.end = absl::FromCivil(first + 3, CityTime());
      return s;
    }
    case v1::PERIOD_YEAR: {
      const absl::CivilYear y(day);
      s.key = absl::StrFormat("%04d", y.year());
      s.start = absl::FromCivil(y, CityTime());
      s.end = absl::FromCivil(y + 1, CityTime());
      return s;
    }
    case v1::PERIOD_DAY:
    default:
      s.period = v1::PERIOD_DAY;
      s.key = absl::StrFormat("%04d-%02d-%02d", day.year(), day.month(), day.day());
      s.start = LocalMidnight(day);
      s.end = LocalMidnight(day + 1);
      return s;
  }
}

std::vector<PeriodSpan> PeriodsOf(absl::Time at) {
  std::vector<PeriodSpan> out;
  out.reserve(kAllPeriods.size());
  for (v1::Period p : kAllPeriods) out.push_back(PeriodOf(p, at));
  return out;
}

PeriodSpan PreviousPeriod(const PeriodSpan& span) {
  // Every period is at least a day long and starts at local midnight: a second before its
  // start lies in the previous one.
  return PeriodOf(span.period, span.start - absl::Seconds(1));
}

std::vector<std::string> RegionAndAncestors(absl::string_view code) {
  std::vector<std::string> out;
  for (size_t i = 0; i < code.size(); ++i) {
    if (code[i] == '.') out.emplace_back(code.substr(0, i));
  }
  if (!code.empty()) out.emplace_back(code);
  return out;
}

int RegionDepth(absl::string_view code) {
  if (code.empty()) return 0;
  return static_cast<int>(std::count(code.begin(), code.end(), '.')) + 1;
}

}  // namespace gridloop::assessment
