// The scripted day of `./tools/dev run` (tools/gridctl/day.h) as an assertion: twelve
// incidents around the whole loop through the four services as separate processes, and
// the street's scorecard equal to the figures worked out by hand in day.h.
#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/testing/grpc_stack.h"
#include "gtest/gtest.h"
#include "tests/e2e/loop_check.h"
#include "tests/e2e/process_stack.h"
#include "tools/gridctl/day.h"

namespace gridloop::e2e {
namespace {

std::string DayCategories() {
  std::ifstream in(GRIDLOOP_SOURCE_DIR "/tools/gridctl/day_categories.csv");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

const v1::Rate* RateOf(const v1::Scorecard& card, const std::string& name) {
  for (const v1::Rate& r : card.rates()) {
    if (r.name() == name) return &r;
  }
  return nullptr;
}

TEST(ScriptedDayTest, EveryIncidentEndsAsScriptedAndTheScorecardIsTheHandComputedOne) {
  StackOptions options;
  options.seed = SeedTestStreet;
  options.categories_csv = DayCategories();
  ASSERT_FALSE(options.categories_csv.empty());
  // The overdue incident's 5 s respond-by is noticed within a quarter second.
  options.service_env[Service::kIncidents]["GRIDLOOP_SLA_INTERVAL"] = "250ms";
  auto stack = ProcessStack::Start(options);
  ASSERT_TRUE(stack.ok()) << stack.status();
  auto events = EventLog::Start((*stack)->kafka().bootstrap(), options.partitions);
  ASSERT_TRUE(events.ok()) << events.status();

  gridctl::DayOptions day;
  day.incidents_addr = (*stack)->address(Service::kIncidents);
  day.dispatch_addr = (*stack)->address(Service::kDispatch);
  day.assessment_addr = (*stack)->address(Service::kAssessment);
  day.residents_addr = (*stack)->address(Service::kResidents);
  day.kafka_brokers = (*stack)->kafka().bootstrap();
  day.street = testing::kTestStreet;
  day.latitude = kTestLatitude;
  day.longitude = kTestLongitude;
  day.run_id = "e2e-day";
  std::ostringstream printed;
  day.out = &printed;
  auto outcome = gridctl::PlayDay(day);
  ASSERT_TRUE(outcome.ok()) << outcome.status() << "\n" << printed.str();
  EXPECT_EQ(outcome->grid, testing::kTestGrid);

  // Every incident ends closed, or escalated and assigned.
  ASSERT_EQ(outcome->incidents.size(), 12u) << printed.str();
  std::vector<std::string> ids;
  int closed = 0;
  for (const gridctl::DayIncident& inc : outcome->incidents) {
    ids.push_back(inc.id);
    EXPECT_TRUE(inc.as_expected) << inc.category << " " << inc.id;
    if (inc.final_status == v1::INCIDENT_STATUS_CLOSED) {
      ++closed;
      EXPECT_FALSE(inc.escalated) << inc.category;
      continue;
    }
    EXPECT_EQ(inc.category, "noise");
    EXPECT_TRUE(inc.escalated);
    EXPECT_EQ(inc.escalation_level, v1::ESCALATION_LEVEL_COMMUNITY);
    EXPECT_EQ(inc.assignee_id, "cl-1");
    EXPECT_EQ(inc.final_status, v1::INCIDENT_STATUS_IN_PROGRESS);
  }
  EXPECT_EQ(closed, 11);
  const auto reopened = std::count_if(outcome->incidents.begin(), outcome->incidents.end(),
                                      [](const gridctl::DayIncident& i) { return i.reopened; });
  EXPECT_EQ(reopened, 1);

  // Nothing lost or doubled on the way: the reopened and the escalated incident were
  // assigned twice, every other once.
  auto audit = AuditIncidents((*stack)->channel(Service::kIncidents), **events, ids,
                              /*assignments_per_incident=*/2);
  ASSERT_TRUE(audit.ok()) << audit.status();
  EXPECT_TRUE(audit->clean()) << audit->Summary();
  EXPECT_EQ(audit->closed, 11) << audit->Summary();
  EXPECT_EQ(audit->open_assigned, 1) << audit->Summary();

  if (!outcome->within_one_day) {
    GTEST_SKIP() << "the day straddled local midnight: its figures are split over two days";
  }
  // The figures of day.h, from the definitions in docs/assessment.md.
  const v1::Scorecard& card = outcome->street_day;
  EXPECT_EQ(card.received(), 12);
  EXPECT_EQ(card.cancelled(), 0);
  struct Expected {
    const char* name;
    double numerator;
    int64_t denominator;
  };
  for (const Expected& e : {Expected{"response", 11, 12}, Expected{"resolution", 11, 11},
                            Expected{"timeliness", 11, 11}, Expected{"satisfaction", 10.8, 11},
                            Expected{"reopen", 1, 11}, Expected{"escalation", 1, 12},
                            Expected{"survey_satisfaction", 0, 0}}) {
    const v1::Rate* rate = RateOf(card, e.name);
    ASSERT_NE(rate, nullptr) << e.name;
    EXPECT_DOUBLE_EQ(rate->numerator(), e.numerator) << e.name;
    EXPECT_EQ(rate->denominator(), e.denominator) << e.name;
  }
  const double score =
      100 * (0.35 * 10.8 / 11 + 0.25 * 11 / 12 + 0.25 + 0.10 + 0.05 * (1 - 1.0 / 11));
  EXPECT_NEAR(card.score(), score, 1e-6);
  EXPECT_NEAR(card.score(), 96.8258, 1e-4);
  EXPECT_EQ(card.stars(), 5);
  EXPECT_FALSE(card.insufficient_sample());
}

}  // namespace
}  // namespace gridloop::e2e
