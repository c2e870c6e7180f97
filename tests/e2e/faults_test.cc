// Faults the loop must survive, each on a stack of its own (separate processes, real
// Redis, a Kafka-protocol broker). Each ends with the same audit: every acknowledged
// report is there and assigned, every event version was published once, no incident was
// assigned twice, and assessment counted every incident exactly once.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/clock/proto_time.h"
#include "common/kafka/producer.h"
#include "common/kafka/replay.h"
#include "common/testing/child_process.h"
#include "common/testing/grpc_stack.h"
#include "gridloop/v1/assessment.grpc.pb.h"
#include "gridloop/v1/incidents.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/e2e/loop_check.h"
#include "tests/e2e/process_stack.h"

namespace gridloop::e2e {
namespace {

constexpr char kIncidentTopic[] = "gridloop.incident.events.v1";

class FaultsTest : public ::testing::Test {
 protected:
  void StartStack(StackOptions options = {}) {
    options.seed = SeedTestStreet;
    auto stack = ProcessStack::Start(std::move(options));
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = std::move(*stack);
    auto events = EventLog::Start(stack_->kafka().bootstrap(), stack_->partitions());
    ASSERT_TRUE(events.ok()) << events.status();
    events_ = std::move(*events);
  }

  ReportPlan Plan(const std::string& prefix, int count, double per_second) const {
    ReportPlan plan;
    plan.count = count;
    plan.per_second = per_second;
    plan.prefix = prefix;
    plan.region_code = testing::kTestGrid;
    plan.latitude = kTestLatitude;
    plan.longitude = kTestLongitude;
    return plan;
  }

  // Reports in the background while the test breaks things.
  void StartReporting(const ReportPlan& plan) {
    reporter_ = std::thread([this, plan] {
      auto result = ReportSteadily(stack_->channel(Service::kIncidents), plan, &acknowledged_);
      absl::MutexLock lock(&mu_);
      result_ = std::move(result);
    });
  }

  ReportResult FinishReporting() {
    reporter_.join();
    absl::MutexLock lock(&mu_);
    EXPECT_TRUE(result_.ok()) << result_.status();
    return result_.ok() ? *result_ : ReportResult{};
  }

  // Nothing lost, nothing doubled: every report assigned once, every version published
  // once, assessment's count equal to the reports. Returns how long the loop took to
  // assign the last report after `since`.
  absl::Duration ExpectNothingLostNothingDoubled(const ReportResult& sent, absl::Time since,
                                                 absl::Time first_report) {
    const bool all =
        events_->WaitForAll(sent.ids, v1::INCIDENT_EVENT_TYPE_ASSIGNED, absl::Minutes(10));
    const absl::Duration caught_up = absl::Now() - since;
    EXPECT_TRUE(all) << events_->CountWith(sent.ids, v1::INCIDENT_EVENT_TYPE_ASSIGNED) << " of "
                     << sent.ids.size() << " assigned; dispatch:\n"
                     << stack_->LogTail(Service::kDispatch);
    auto audit = AuditIncidents(stack_->channel(Service::kIncidents), *events_, sent.ids);
    EXPECT_TRUE(audit.ok()) << audit.status();
    if (!audit.ok()) return caught_up;
    EXPECT_TRUE(audit->clean()) << audit->Summary();
    EXPECT_EQ(audit->open_assigned, static_cast<int64_t>(sent.ids.size())) << audit->Summary();
    int64_t received = -1;
    testing::Eventually(
        [&] {
          auto r = AssessedReceived(stack_->channel(Service::kAssessment), testing::kTestStreet,
                                    first_report, absl::Now());
          received = r.ok() ? *r : -1;
          return received >= static_cast<int64_t>(sent.ids.size());
        },
        absl::Minutes(10));
    EXPECT_EQ(received, static_cast<int64_t>(sent.ids.size()))
        << "assessment:\n"
        << stack_->LogTail(Service::kAssessment);
    std::cout << "  " << audit->Summary() << "; assessment received " << received << "\n";
    return caught_up;
  }

  // How long after `since` the last of the reports first sent before it was assigned: the
  // time the loop took to work off the backlog a fault left.
  absl::Duration BacklogClearedAfter(const ReportResult& sent, absl::Time since) const {
    absl::Time last = since;
    for (size_t i = 0; i < sent.ids.size(); ++i) {
      if (sent.sent[i] < since) {
        last = std::max(last, events_->FirstSeen(sent.ids[i], v1::INCIDENT_EVENT_TYPE_ASSIGNED));
      }
    }
    return last - since;
  }

  std::unique_ptr<ProcessStack> stack_;
  std::unique_ptr<EventLog> events_;
  std::atomic<int64_t> acknowledged_{0};
  std::thread reporter_;
  absl::Mutex mu_;
  absl::StatusOr<ReportResult> result_ ABSL_GUARDED_BY(mu_) = absl::UnknownError("not run");
};

// kill -9 of every service in turn at random moments while reports stream in, each back a
// second later: its peers retry, the reporter retries with the same request_id, and the
// outbox and the consumers' committed offsets pick up where the process died.
TEST_F(FaultsTest, KillNineOfEachServiceDuringTheLoopLosesAndDoublesNothing) {
  StartStack();
  const uint32_t seed = std::random_device{}();
  std::cout << "  kill order and moments from seed " << seed << "\n";
  std::mt19937 random(seed);
  std::vector<Service> order(kAllServices.begin(), kAllServices.end());
  std::shuffle(order.begin(), order.end(), random);

  const absl::Time start = absl::Now();
  StartReporting(Plan("kill9", 3000, 60));
  for (Service service : order) {
    absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(2000, 6000)(random)));
    const int64_t before = acknowledged_.load();
    ASSERT_TRUE(stack_->Kill(service).ok());
    absl::SleepFor(absl::Seconds(1));  // the outage itself, not a wait for anything
    ASSERT_TRUE(stack_->Launch(service).ok()) << stack_->LogTail(service);
    std::cout << "  killed " << ServiceName(service) << " after " << before
              << " acknowledged reports; back serving after "
              << absl::FormatDuration(absl::Now() - start) << "\n";
  }
  ReportResult sent = FinishReporting();
  ASSERT_EQ(sent.ids.size(), 3000u);
  std::cout << "  " << sent.retries << " reports retried\n";
  const absl::Duration caught_up = ExpectNothingLostNothingDoubled(sent, absl::Now(), start);
  std::cout << "  every report assigned " << absl::FormatDuration(caught_up)
            << " after the last one\n";
}

// Redis killed (SIGKILL, AOF with appendfsync always) and started again mid-run: the
// services reconnect and every acknowledged report is still there. While Redis is away
// every service reports itself not ready (its own health name) yet alive (""), so an
// orchestrator routes around it and restarts nothing; once Redis is back they are ready.
TEST_F(FaultsTest, RedisRestartedMidRunKeepsEveryAcknowledgedReport) {
  StartStack();
  const absl::Time start = absl::Now();
  StartReporting(Plan("redis", 1500, 60));
  absl::SleepFor(absl::Seconds(8));
  const int64_t before = acknowledged_.load();
  ASSERT_TRUE(stack_->redis().Stop(/*hard=*/true).ok());
  const absl::Time killed = absl::Now();
  auto all_are = [this](bool readiness, server::ServingStatus want) {
    for (Service service : kAllServices) {
      absl::StatusOr<server::ServingStatus> health = stack_->Health(service, readiness);
      if (!health.ok() || *health != want) return false;
    }
    return true;
  };
  EXPECT_TRUE(testing::Eventually([&] {
    return all_are(/*readiness=*/true, server::ServingStatus::kNotServing);
  })) << "not every service left readiness with Redis down";
  EXPECT_TRUE(all_are(/*readiness=*/false, server::ServingStatus::kServing));
  const absl::Duration unready_after = absl::Now() - killed;
  ASSERT_TRUE(stack_->redis().Restart().ok());
  const absl::Time back = absl::Now();
  EXPECT_TRUE(testing::Eventually([&] {
    return all_are(/*readiness=*/true, server::ServingStatus::kServing);
  })) << "not every service was ready again with Redis back";
  std::cout << "  every service not ready (and still alive) " << absl::FormatDuration(unready_after)
            << " after Redis went down, ready again " << absl::FormatDuration(absl::Now() - back)
            << " after it was back\n";
  std::cout << "  Redis killed after " << before << " acknowledged reports, back at "
            << absl::FormatDuration(back - start) << "\n";
  ReportResult sent = FinishReporting();
  std::cout << "  " << sent.retries << " reports retried\n";
  const absl::Duration caught_up = ExpectNothingLostNothingDoubled(sent, back, start);
  std::cout << "  reports sent before Redis was back all assigned "
            << absl::FormatDuration(BacklogClearedAfter(sent, back)) << " after it; every report "
            << absl::FormatDuration(caught_up) << " after it\n";
  for (Service service : kAllServices) EXPECT_TRUE(stack_->running(service));
}

// The broker unreachable for 10 s, then failing produce requests: reports are still
// acknowledged (the outbox holds their events in Redis) and the loop catches up.
TEST_F(FaultsTest, BrokerDownTenSecondsReportsStillAcceptedAndTheLoopCatchesUp) {
  StartStack();
  const absl::Time start = absl::Now();
  StartReporting(Plan("broker", 1500, 60));
  absl::SleepFor(absl::Seconds(5));
  ASSERT_TRUE(stack_->kafka().SetAllBrokersDown().ok());
  const int64_t at_down = acknowledged_.load();
  absl::SleepFor(absl::Seconds(10));
  const int64_t during = acknowledged_.load() - at_down;
  ASSERT_TRUE(stack_->kafka().SetAllBrokersUp().ok());
  const absl::Time up = absl::Now();
  // Then a burst of failed produce and fetch requests, which clients retry.
  rd_kafka_mock_push_request_errors(
      stack_->kafka().raw(), /*Produce*/ 0, 5, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
      RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  rd_kafka_mock_push_request_errors(
      stack_->kafka().raw(), /*Fetch*/ 1, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  std::cout << "  broker down for 10 s: " << during << " reports acknowledged meanwhile\n";
  EXPECT_GT(during, 0) << "reports stopped being accepted while the broker was down";
  ReportResult sent = FinishReporting();
  const absl::Duration caught_up = ExpectNothingLostNothingDoubled(sent, up, start);
  std::cout << "  reports sent before the broker was back all assigned "
            << absl::FormatDuration(BacklogClearedAfter(sent, up)) << " after it; every report "
            << absl::FormatDuration(caught_up) << " after it\n";
}

// A peer that is down answers nobody; its callers give up on their own deadlines with
// UNAVAILABLE (or carry on without it where the design says so) and never hang.
TEST_F(FaultsTest, APeerDownMakesCallersFailFastNeverHang) {
  StartStack();
  auto incidents = v1::IncidentService::NewStub(stack_->channel(Service::kIncidents));
  auto assessment = v1::AssessmentService::NewStub(stack_->channel(Service::kAssessment));
  v1::DefineSurveyRequest def;
  def.set_request_id("peer-down-survey");
  def.set_title("社区环境满意度测评");
  def.set_region_code(testing::kTestCommunity);
  v1::Question* q = def.add_questions();
  q->set_type(v1::QUESTION_TYPE_RATING);
  q->set_text("您对社区环境卫生是否满意？");
  q->set_scale(5);
  q->set_satisfaction(true);
  q->set_required(true);
  *def.mutable_closes_at() = ToTimestamp(absl::Now() + absl::Hours(24 * 7));
  v1::Survey survey;
  grpc::Status defined =
      assessment->DefineSurvey(testing::CallAs("sup", "supervisor", "3301").get(), def, &survey);
  ASSERT_TRUE(defined.ok()) << defined.error_message();

  // Each call allows 30 s: a caller that waited for its own deadline would show it.
  auto patient = [](const std::string& person, const std::string& role) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ctx->AddMetadata("x-gridloop-person", person);
    ctx->AddMetadata("x-gridloop-role", role);
    return ctx;
  };
  // A hotline report by location, which needs residents to find its grid: incidents gives
  // up on its own residents timeout and takes the report with the grid pending.
  auto report_by_location = [&](const std::string& request_id, const std::string& what) {
    v1::ReportIncidentRequest req;
    req.set_request_id(request_id);
    req.set_category("roof_leak");
    req.set_title("楼道漏水");
    req.set_description("居民来电：楼道天花板漏水。");
    req.set_channel(v1::CHANNEL_HOTLINE);
    req.mutable_location()->set_latitude(kTestLatitude);
    req.mutable_location()->set_longitude(kTestLongitude);
    req.mutable_reporter()->set_name("李先生");
    req.mutable_reporter()->set_phone("13900139000");
    v1::IncidentResponse resp;
    const absl::Time asked = absl::Now();
    grpc::Status s = incidents->ReportIncident(patient(kDeskPerson, kDeskRole).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    EXPECT_TRUE(resp.incident().grid_pending());
    std::cout << "  report by location with residents " << what
              << ": taken with the grid pending in " << absl::FormatDuration(absl::Now() - asked)
              << "\n";
    return resp.incident().id();
  };
  // Assessment needs residents to know where a survey's respondent lives: without it the
  // answer is refused as UNAVAILABLE (the resident may try again) on its peer timeout.
  auto answer_survey = [&](const std::string& request_id, const std::string& what) {
    v1::RespondToSurveyRequest answer;
    answer.set_request_id(request_id);
    answer.set_survey_id(survey.id());
    v1::Answer* a = answer.add_answers();
    a->set_question_id(survey.questions(0).id());
    a->set_rating(4);
    v1::SurveyReceipt receipt;
    const absl::Time asked = absl::Now();
    grpc::Status refused =
        assessment->RespondToSurvey(patient("res-1", "resident").get(), answer, &receipt);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
    std::cout << "  survey answer with residents " << what << ": " << refused.error_code() << " in "
              << absl::FormatDuration(absl::Now() - asked) << "\n";
  };

  // Residents hung (stopped, its connections open): only deadlines help.
  ASSERT_TRUE(stack_->Freeze(Service::kResidents).ok());
  report_by_location("peer-hung-1", "hung");
  answer_survey("peer-hung-answer", "hung");
  ASSERT_TRUE(stack_->Thaw(Service::kResidents).ok());

  // Residents down: its port refuses connections.
  ASSERT_TRUE(stack_->Kill(Service::kResidents).ok());
  const std::string pending_id = report_by_location("peer-down-1", "down");
  answer_survey("peer-down-answer", "down");

  // A caller of a service that is down gets UNAVAILABLE, not a hang.
  ASSERT_TRUE(stack_->Kill(Service::kIncidents).ok());
  v1::GetIncidentRequest get;
  get.set_id(pending_id);
  v1::Incident out;
  const absl::Time asked2 = absl::Now();
  grpc::Status down = incidents->GetIncident(patient(kDeskPerson, kDeskRole).get(), get, &out);
  EXPECT_EQ(down.error_code(), grpc::StatusCode::UNAVAILABLE) << down.error_message();
  std::cout << "  call to incidents while it is down: " << down.error_code() << " in "
            << absl::FormatDuration(absl::Now() - asked2) << "\n";

  // Both back: the pending report is placed in its grid and dispatched.
  ASSERT_TRUE(stack_->Launch(Service::kIncidents).ok());
  ASSERT_TRUE(stack_->Launch(Service::kResidents).ok());
  const absl::Time back = absl::Now();
  EXPECT_TRUE(
      events_->WaitForAll({pending_id}, v1::INCIDENT_EVENT_TYPE_GRID_LOCATED, absl::Minutes(2)))
      << stack_->LogTail(Service::kIncidents);
  std::cout << "  the pending report located "
            << absl::FormatDuration(
                   events_->FirstSeen(pending_id, v1::INCIDENT_EVENT_TYPE_GRID_LOCATED) - back)
            << " after the peers were back\n";
  EXPECT_TRUE(events_->WaitForAll({pending_id}, v1::INCIDENT_EVENT_TYPE_ASSIGNED, absl::Minutes(2)))
      << stack_->LogTail(Service::kDispatch);
  std::cout << "  the pending report located and assigned "
            << absl::FormatDuration(absl::Now() - back) << " after the peers were back\n";
  // Dispatch and assessment kept running through it all.
  EXPECT_TRUE(stack_->running(Service::kDispatch));
  EXPECT_TRUE(stack_->running(Service::kAssessment));
}

// Bytes that are no incident event, on the topic among real ones: each consumer parks
// them in the DLQ (with the reason) and goes on with the records behind them.
TEST_F(FaultsTest, APoisonEventGoesToTheDlqAndTheConsumersMoveOn) {
  StartStack();
  kafka::ProducerOptions po;
  po.brokers = stack_->kafka().bootstrap();
  auto producer = kafka::Producer::Create(po);
  ASSERT_TRUE(producer.ok()) << producer.status();
  const std::string poison = "\xff\xfe not a protobuf \x01\x02";
  // The key picks the partition; several keys reach several partitions.
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE((*producer)->ProduceSync(kIncidentTopic, absl::StrCat("poison-", i), poison).ok());
  }

  const absl::Time start = absl::Now();
  auto sent = ReportSteadily(stack_->channel(Service::kIncidents), Plan("after-poison", 40, 40));
  ASSERT_TRUE(sent.ok()) << sent.status();
  ExpectNothingLostNothingDoubled(*sent, absl::Now(), start);

  // Dispatch and assessment each parked the four records.
  int64_t parked = 0;
  std::vector<std::string> errors;
  EXPECT_TRUE(testing::Eventually([&] {
    parked = 0;
    errors.clear();
    kafka::ReplayOptions ro;
    ro.brokers = stack_->kafka().bootstrap();
    ro.topics = {absl::StrCat(kIncidentTopic, ".dlq")};
    auto replayed = kafka::Replay(ro, [&](const kafka::Record& r) {
      if (r.value == poison) {
        ++parked;
        for (const kafka::Header& h : r.headers) {
          if (h.key == "error") errors.push_back(h.value);
        }
      }
      return absl::OkStatus();
    });
    return replayed.ok() && parked >= 8;
  }));
  EXPECT_EQ(parked, 8);
  ASSERT_FALSE(errors.empty());
  for (const std::string& e : errors) EXPECT_NE(e.find("INVALID_ARGUMENT"), std::string::npos) << e;
  EXPECT_EQ(events_->undecodable(), 4);
  // Operators see it too: each consumer's dead-letter counter says 4.
  for (const std::pair<Service, const char*>& of :
       {std::pair{Service::kDispatch, "incident_events"},
        std::pair{Service::kAssessment, "events"}}) {
    const Service service = of.first;
    const char* consumer = of.second;
    const std::string series =
        absl::StrCat("\ngridloop_consumer_dead_lettered_total{consumer=\"", consumer, "\"} ");
    std::string page;
    EXPECT_TRUE(testing::Eventually([&] {
      page = testing::HttpGet(stack_->metrics_port(service), "/metrics");
      return absl::StrContains(page, absl::StrCat(series, "4\n"));
    })) << ServiceName(service)
        << ": " << page.substr(0, 2000);
  }
  std::cout << "  4 poison records, " << parked
            << " parked in the DLQ (first reason: " << errors.front() << ")\n";
}

}  // namespace
}  // namespace gridloop::e2e
