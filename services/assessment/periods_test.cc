#include "services/assessment/periods.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gridloop::assessment {
namespace {

absl::Time Utc(const char* text) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, text, &t, &err)) << err;
  return t;
}

TEST(Periods, DayFollowsCityTimeNotUtc) {
  // 16:00Z is midnight in UTC+8: the local day changes there.
  EXPECT_EQ(PeriodOf(v1::PERIOD_DAY, Utc("2026-11-26T15:59:59Z")).key, "2026-11-26");
  EXPECT_EQ(PeriodOf(v1::PERIOD_DAY, Utc("2026-11-26T16:00:00Z")).key, "2026-11-27");
  const PeriodSpan d = PeriodOf(v1::PERIOD_DAY, Utc("2026-11-27T03:00:00Z"));
  EXPECT_EQ(d.start, Utc("2026-11-26T16:00:00Z"));
  EXPECT_EQ(d.end, Utc("2026-11-27T16:00:00Z"));
}

TEST(Periods, MonthQuarterAndYearTurnAtLocalMidnight) {
  EXPECT_EQ(PeriodOf(v1::PERIOD_MONTH, Utc("2026-03-31T15:59:59Z")).key, "2026-03");
  EXPECT_EQ(PeriodOf(v1::PERIOD_MONTH, Utc("2026-03-31T16:00:00Z")).key, "2026-04");
  EXPECT_EQ(PeriodOf(v1::PERIOD_QUARTER, Utc("2026-03-31T15:59:59Z")).key, "2026-Q1");
  EXPECT_EQ(PeriodOf(v1::PERIOD_QUARTER, Utc("2026-03-31T16:00:00Z")).key, "2026-Q2");
  EXPECT_EQ(PeriodOf(v1::PERIOD_YEAR, Utc("2026-12-31T16:00:00Z")).key, "2027");
  const PeriodSpan q = PeriodOf(v1::PERIOD_QUARTER, Utc("2026-11-27T00:00:00Z"));
  EXPECT_EQ(q.key, "2026-Q4");
  EXPECT_EQ(q.start, Utc("2026-09-30T16:00:00Z"));
  EXPECT_EQ(q.end, Utc("2026-12-31T16:00:00Z"));
}

TEST(Periods, WeeksAreIsoWeeksStartingMonday) {
  // 2026-11-23 is a Monday.
  const PeriodSpan w = PeriodOf(v1::PERIOD_WEEK, Utc("2026-11-27T00:00:00Z"));
  EXPECT_EQ(w.key, "2026-W48");
  EXPECT_EQ(w.start, Utc("2026-11-22T16:00:00Z"));
  EXPECT_EQ(w.end, Utc("2026-11-29T16:00:00Z"));
  // Sunday 23:59 local is still the same week; Monday 00:00 local is the next.
  EXPECT_EQ(PeriodOf(v1::PERIOD_WEEK, Utc("2026-11-29T15:59:00Z")).key, "2026-W48");
  EXPECT_EQ(PeriodOf(v1::PERIOD_WEEK, Utc("2026-11-29T16:00:00Z")).key, "2026-W49");
  // 2027-01-01 is a Friday: it belongs to 2026's last week (53 weeks that year).
  EXPECT_EQ(PeriodOf(v1::PERIOD_WEEK, Utc("2027-01-01T04:00:00Z")).key, "2026-W53");
  // 2024-12-30 is a Monday whose Thursday is in 2025: week 1 of 2025.
  EXPECT_EQ(PeriodOf(v1::PERIOD_WEEK, Utc("2024-12-30T04:00:00Z")).key, "2025-W01");
}

TEST(Periods, PreviousPeriodStepsBackOneOfTheSameKind) {
  const absl::Time at = Utc("2026-01-01T04:00:00Z");
  EXPECT_EQ(PreviousPeriod(PeriodOf(v1::PERIOD_DAY, at)).key, "2025-12-31");
  EXPECT_EQ(PreviousPeriod(PeriodOf(v1::PERIOD_MONTH, at)).key, "2025-12");
  EXPECT_EQ(PreviousPeriod(PeriodOf(v1::PERIOD_QUARTER, at)).key, "2025-Q4");
  EXPECT_EQ(PreviousPeriod(PeriodOf(v1::PERIOD_YEAR, at)).key, "2025");
  EXPECT_EQ(PreviousPeriod(PeriodOf(v1::PERIOD_WEEK, at)).key, "2025-W52");
}

TEST(Periods, PeriodsOfGivesDayToYear) {
  const std::vector<PeriodSpan> all = PeriodsOf(Utc("2026-11-27T00:00:00Z"));
  ASSERT_EQ(all.size(), 5U);
  EXPECT_EQ(all[0].key, "2026-11-27");
  EXPECT_EQ(all[1].key, "2026-W48");
  EXPECT_EQ(all[2].key, "2026-11");
  EXPECT_EQ(all[3].key, "2026-Q4");
  EXPECT_EQ(all[4].key, "2026");
}

TEST(Regions, AncestorsTopFirstAndDepth) {
  EXPECT_THAT(RegionAndAncestors("3301.06.003"),
              testing::ElementsAre("3301", "3301.06", "3301.06.003"));
  EXPECT_TRUE(RegionAndAncestors("").empty());
  EXPECT_EQ(RegionDepth("3301.06.003.001.g01"), 5);
  EXPECT_EQ(RegionDepth("3301"), 1);
  EXPECT_EQ(RegionDepth(""), 0);
}

}  // namespace
}  // namespace gridloop::assessment
