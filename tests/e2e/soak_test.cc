// The loop under a steady stream of reports, as separate processes: every acknowledged
// report ends assigned (or closed), every event version is published exactly once, and
// assessment counts exactly the incidents reported.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "common/testing/grpc_stack.h"
#include "gtest/gtest.h"
#include "tests/e2e/loop_check.h"
#include "tests/e2e/process_stack.h"

namespace gridloop::e2e {
namespace {

// GRIDLOOP_SOAK_REPORTS / GRIDLOOP_SOAK_RATE override the defaults for longer runs by hand.
int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  int parsed = 0;
  return value != nullptr && absl::SimpleAtoi(value, &parsed) && parsed > 0 ? parsed : fallback;
}

TEST(SoakTest, TwentyThousandReportsAreAllAccountedForExactlyOnce) {
  const int reports = EnvInt("GRIDLOOP_SOAK_REPORTS", 20000);
  const int rate = EnvInt("GRIDLOOP_SOAK_RATE", 100);
  StackOptions options;
  // ~4 events of ~1 KiB per report: 20,000 reports are ~80 MiB, against ~5 MiB kept per
  // partition.
  options.partitions = 32;
  options.seed = SeedTestStreet;
  auto stack = ProcessStack::Start(options);
  ASSERT_TRUE(stack.ok()) << stack.status();
  auto events = EventLog::Start((*stack)->kafka().bootstrap(), options.partitions);
  ASSERT_TRUE(events.ok()) << events.status();

  ReportPlan plan;
  plan.count = reports;
  plan.per_second = rate;
  plan.prefix = "soak";
  plan.region_code = testing::kTestGrid;
  plan.latitude = kTestLatitude;
  plan.longitude = kTestLongitude;
  const absl::Time start = absl::Now();
  auto sent = ReportSteadily((*stack)->channel(Service::kIncidents), plan);
  ASSERT_TRUE(sent.ok()) << sent.status();
  const absl::Time reported = absl::Now();

  // Dispatch assigns every one without anybody calling AssignIncident.
  EXPECT_TRUE((*events)->WaitForAll(sent->ids, v1::INCIDENT_EVENT_TYPE_ASSIGNED, absl::Minutes(15)))
      << (*events)->CountWith(sent->ids, v1::INCIDENT_EVENT_TYPE_ASSIGNED) << " of " << reports
      << " assigned; dispatch log:\n"
      << (*stack)->LogTail(Service::kDispatch);
  const absl::Time assigned = absl::Now();

  // A quarter go all the way round: accepted, resolved, and closed by the resident's
  // feedback.
  std::vector<std::string> to_close;
  for (size_t i = 0; i < sent->ids.size(); i += 4) to_close.push_back(sent->ids[i]);
  auto closed = CloseIncidents((*stack)->channel(Service::kIncidents), to_close);
  ASSERT_TRUE(closed.ok()) << closed.status();
  ASSERT_EQ(*closed, static_cast<int64_t>(to_close.size()));
  EXPECT_TRUE((*events)->WaitForAll(to_close, v1::INCIDENT_EVENT_TYPE_CLOSED, absl::Minutes(5)));
  const absl::Time finished = absl::Now();

  auto audit = AuditIncidents((*stack)->channel(Service::kIncidents), **events, sent->ids);
  ASSERT_TRUE(audit.ok()) << audit.status();
  EXPECT_TRUE(audit->clean()) << audit->Summary();
  EXPECT_EQ(audit->closed, *closed) << audit->Summary();
  EXPECT_EQ(audit->open_assigned, reports - *closed) << audit->Summary();
  EXPECT_EQ((*events)->undecodable(), 0);

  // Assessment has folded every incident once: received equals the number reported.
  int64_t received = 0;
  EXPECT_TRUE(testing::Eventually(
      [&] {
        auto r = AssessedReceived((*stack)->channel(Service::kAssessment), testing::kTestStreet,
                                  start, absl::Now());
        received = r.ok() ? *r : -1;
        return received >= reports;
      },
      absl::Minutes(15)))
      << received << " of " << reports << "; assessment log:\n"
      << (*stack)->LogTail(Service::kAssessment);
  EXPECT_EQ(received, reports);
  // ... and every feedback once.
  std::pair<double, double> satisfaction{-1, -1};
  EXPECT_TRUE(testing::Eventually(
      [&] {
        auto r = AssessedRate((*stack)->channel(Service::kAssessment), testing::kTestStreet,
                              "satisfaction", start);
        if (r.ok()) satisfaction = *r;
        return satisfaction.second >= static_cast<double>(*closed);
      },
      absl::Minutes(10)));
  EXPECT_EQ(satisfaction.second, static_cast<double>(*closed));
  EXPECT_EQ(satisfaction.first, static_cast<double>(*closed));
  const absl::Time folded = absl::Now();

  std::cout << "soak: " << reports << " reports at " << rate << "/s in "
            << absl::FormatDuration(reported - start) << " (" << sent->retries
            << " retried); all assigned " << absl::FormatDuration(assigned - reported)
            << " after the last report; " << *closed << " closed in "
            << absl::FormatDuration(finished - assigned) << "; assessment caught up "
            << absl::FormatDuration(folded - finished) << " after that; " << audit->Summary()
            << "\n";

  for (Service service : kAllServices) {
    auto exit = (*stack)->Stop(service);
    ASSERT_TRUE(exit.ok()) << exit.status();
    EXPECT_EQ(*exit, 0) << ServiceName(service) << " did not exit cleanly:\n"
                        << (*stack)->LogTail(service);
  }
}

}  // namespace
}  // namespace gridloop::e2e
