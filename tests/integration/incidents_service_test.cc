// The incidents service in-process against a real redis-server and librdkafka's mock
// cluster, called over gRPC like any other backend would.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock/clock.h"
#include "common/redis/redis_client.h"
#include "common/testing/kafka_cluster.h"
#include "common/testing/redis_server.h"
#include "gridloop/v1/events.pb.h"
#include "gridloop/v1/incidents.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/incidents/app.h"
#include "services/incidents/redis_incident_store.h"

namespace gridloop::incidents {
namespace {

constexpr int kPartitions = 4;

class IncidentsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::RedisServer::Options options;
    options.appendonly = true;
    auto redis = testing::RedisServer::Start(options);
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_server_ = std::move(*redis);
    auto kafka = testing::MockKafkaCluster::Start(1);
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    kafka_ = std::move(*kafka);
    ASSERT_TRUE(kafka_->CreateTopic(kIncidentEventsTopic, kPartitions).ok());
    redis::Options ro;
    ro.port = redis_server_->port();
    redis_ = *redis::Connect(ro);
  }

  void TearDown() override { app_.reset(); }

  void StartApp(bool relay = true) {
    AppConfig c;
    c.listen = "127.0.0.1:0";
    c.redis = redis_server_->address();
    c.kafka_brokers = kafka_->bootstrap();
    c.delivery_timeout = absl::Seconds(60);
    c.workers = 4;
    c.relay = relay;
    auto app = App::Start(c, &clock_);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = std::move(*app);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", app_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::IncidentService::NewStub(channel_);
  }

  void StopApp() { app_.reset(); }

  grpc::Status Report(const std::string& request_id, v1::Incident* out,
                      const std::string& title = "路灯不亮") {
    v1::ReportIncidentRequest req;
    req.set_request_id(request_id);
    req.set_category("street_light");
    req.set_title(title);
    req.set_channel(v1::CHANNEL_APP);
    req.set_region_code("330106.003.012.g07");
    req.mutable_reporter()->set_name("张先生");
    req.mutable_reporter()->set_phone("13900001111");
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::IncidentResponse resp;
    grpc::Status s = stub_->ReportIncident(&ctx, req, &resp);
    if (out != nullptr) *out = resp.incident();
    return s;
  }

  int64_t OutboxBacklog() {
    int64_t total = 0;
    for (const std::string& stream : RedisIncidentStore::OutboxStreams()) {
      total += redis_->Command({"XLEN", stream})->integer;
    }
    return total;
  }

  // Waits until every outbox entry was published and deleted (or the deadline passed).
  bool OutboxDrained(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (OutboxBacklog() == 0) return true;
      if (app_ != nullptr && app_->relay() != nullptr) app_->relay()->Notify();
      absl::SleepFor(absl::Milliseconds(20));  // polling interval, not synchronisation
    }
    return false;
  }

  // Every event on the topic. Called once the outbox is drained, so everything that will
  // ever be published is in the broker; the timeout only bounds the read.
  std::vector<v1::IncidentEvent> AllEvents(size_t at_least) {
    std::vector<v1::IncidentEvent> out;
    for (const kafka::Record& r : testing::ReadTopic(kafka_->bootstrap(), kIncidentEventsTopic,
                                                     at_least, absl::Seconds(4))) {
      v1::IncidentEvent e;
      EXPECT_TRUE(e.ParseFromString(r.value));
      EXPECT_EQ(r.key, e.incident_id()) << "events are keyed by incident id";
      out.push_back(std::move(e));
    }
    return out;
  }

  FakeClock clock_;
  std::unique_ptr<testing::RedisServer> redis_server_;
  std::unique_ptr<testing::MockKafkaCluster> kafka_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<App> app_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::IncidentService::Stub> stub_;
};

TEST_F(IncidentsServiceTest, AReportProducesExactlyOneReportedEvent) {
  StartApp();
  v1::Incident inc;
  ASSERT_TRUE(Report("one", &inc).ok());
  ASSERT_TRUE(OutboxDrained(absl::Seconds(30)));
  std::vector<v1::IncidentEvent> events = AllEvents(2);  // asks for more than can exist
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type(), v1::INCIDENT_EVENT_TYPE_REPORTED);
  EXPECT_EQ(events[0].incident_id(), inc.id());
  EXPECT_EQ(events[0].version(), 1);
  EXPECT_EQ(events[0].incident().status(), v1::INCIDENT_STATUS_REPORTED);
  EXPECT_EQ(events[0].incident().history_size(), 0) << "events stay small";
  EXPECT_EQ(events[0].incident().reporter().phone(), "139****1111");
}

TEST_F(IncidentsServiceTest, ADuplicateRequestIdProducesNoSecondEvent) {
  StartApp();
  v1::Incident first, again, other;
  ASSERT_TRUE(Report("dup", &first).ok());
  ASSERT_TRUE(Report("dup", &again).ok());
  EXPECT_EQ(again.id(), first.id());
  EXPECT_EQ(again.version(), 1);
  grpc::Status changed = Report("dup", nullptr, "不同的标题");
  EXPECT_EQ(changed.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(changed.error_message().find("request_id"), std::string::npos);
  ASSERT_TRUE(Report("other", &other).ok());

  ASSERT_TRUE(OutboxDrained(absl::Seconds(30)));
  std::map<std::string, int> per_incident;
  for (const auto& e : AllEvents(3)) per_incident[e.incident_id()]++;
  EXPECT_EQ(per_incident.size(), 2u);
  EXPECT_EQ(per_incident[first.id()], 1);
  EXPECT_EQ(per_incident[other.id()], 1);
}

TEST_F(IncidentsServiceTest, AnEventWrittenBeforeTheRelayDiedIsDeliveredAfterRestart) {
  // The process dies after the Redis write and before any publish: modelled by a
  // process that never published at all.
  StartApp(/*relay=*/false);
  v1::Incident inc;
  ASSERT_TRUE(Report("before-crash", &inc).ok());
  EXPECT_EQ(OutboxBacklog(), 1);
  StopApp();

  StartApp(/*relay=*/true);
  ASSERT_TRUE(OutboxDrained(absl::Seconds(30)));
  std::vector<v1::IncidentEvent> events = AllEvents(2);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].incident_id(), inc.id());
}

TEST_F(IncidentsServiceTest, WithTheBrokerDownReportsAreAcceptedAndTheirEventsArriveLater) {
  StartApp();
  ASSERT_TRUE(kafka_->SetAllBrokersDown().ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    v1::Incident inc;
    grpc::Status s = Report(absl::StrCat("down-", i), &inc);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ids.push_back(inc.id());
  }
  EXPECT_GT(OutboxBacklog(), 0) << "nothing can be published while the broker is down";
  ASSERT_TRUE(kafka_->SetAllBrokersUp().ok());
  ASSERT_TRUE(OutboxDrained(absl::Seconds(60)));
  std::map<std::string, int> per_incident;
  for (const auto& e : AllEvents(5)) per_incident[e.incident_id()]++;
  ASSERT_EQ(per_incident.size(), 5u);
  for (const auto& id : ids) EXPECT_GE(per_incident[id], 1) << id;
}

TEST_F(IncidentsServiceTest, TheWholeLifecycleOverGrpcEmitsGapFreeVersions) {
  StartApp();
  v1::Incident inc;
  ASSERT_TRUE(Report("life", &inc).ok());
  auto call = [&](auto method, const auto& req, const std::string& person,
                  const std::string& role) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-gridloop-person", person);
    ctx.AddMetadata("x-gridloop-role", role);
    v1::IncidentResponse resp;
    grpc::Status s = ((*stub_).*method)(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.incident();
  };
  v1::AssignIncidentRequest a;
  a.set_request_id("life-a");
  a.set_incident_id(inc.id());
  a.mutable_assignee()->set_kind(v1::ASSIGNEE_KIND_DEPARTMENT);
  a.mutable_assignee()->set_id("urban_management");
  a.set_expected_version(1);
  EXPECT_EQ(call(&v1::IncidentService::Stub::AssignIncident, a, "op1", "operator").status(),
            v1::INCIDENT_STATUS_ASSIGNED);
  v1::AcceptAssignmentRequest acc;
  acc.set_request_id("life-b");
  acc.set_incident_id(inc.id());
  acc.set_assignee_id("urban_management");
  EXPECT_EQ(call(&v1::IncidentService::Stub::AcceptAssignment, acc, "dept1", "department").status(),
            v1::INCIDENT_STATUS_IN_PROGRESS);
  v1::ResolveIncidentRequest res;
  res.set_request_id("life-c");
  res.set_incident_id(inc.id());
  res.set_resolution("更换灯泡");
  EXPECT_EQ(call(&v1::IncidentService::Stub::ResolveIncident, res, "dept1", "department").status(),
            v1::INCIDENT_STATUS_RESOLVED);
  v1::SubmitFeedbackRequest fb;
  fb.set_request_id("life-d");
  fb.set_incident_id(inc.id());
  fb.set_satisfaction(v1::SATISFACTION_BASICALLY_SATISFIED);
  EXPECT_EQ(call(&v1::IncidentService::Stub::SubmitFeedback, fb, "op1", "operator").status(),
            v1::INCIDENT_STATUS_CLOSED);

  // Stale version: ABORTED; illegal transition: FAILED_PRECONDITION naming the state.
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-gridloop-role", "operator");
    ctx.AddMetadata("x-gridloop-person", "op1");
    v1::EscalateIncidentRequest e;
    e.set_request_id("life-e");
    e.set_incident_id(inc.id());
    e.set_reason("复核");
    v1::IncidentResponse resp;
    grpc::Status s = stub_->EscalateIncident(&ctx, e, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(s.error_message().find("closed"), std::string::npos);
  }

  ASSERT_TRUE(OutboxDrained(absl::Seconds(30)));
  std::vector<int64_t> versions;
  for (const auto& e : AllEvents(5)) {
    if (e.incident_id() == inc.id()) versions.push_back(e.version());
  }
  EXPECT_EQ(versions, (std::vector<int64_t>{1, 2, 3, 4, 5})) << "one partition keeps the order";

  grpc::ClientContext ctx;
  v1::GetIncidentRequest g;
  g.set_id(inc.id());
  v1::Incident got;
  ASSERT_TRUE(stub_->GetIncident(&ctx, g, &got).ok());
  EXPECT_EQ(got.history_size(), 5);
  EXPECT_EQ(got.reporter().phone(), "139****1111") << "anonymous callers see a masked phone";
}

TEST_F(IncidentsServiceTest, RacingAssignmentsLandOnceOrNotAtAllWithGapFreeVersions) {
  StartApp();
  v1::Incident inc;
  ASSERT_TRUE(Report("race", &inc).ok());
  auto assign = [&](const std::string& request_id, const std::string& worker,
                    int64_t expected_version, v1::Incident* out) {
    v1::AssignIncidentRequest a;
    a.set_request_id(request_id);
    a.set_incident_id(inc.id());
    a.mutable_assignee()->set_kind(v1::ASSIGNEE_KIND_GRID_WORKER);
    a.mutable_assignee()->set_id(worker);
    a.set_expected_version(expected_version);
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-gridloop-person", "dispatch");
    ctx.AddMetadata("x-gridloop-role", "system");
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::IncidentResponse resp;
    grpc::Status s = stub_->AssignIncident(&ctx, a, &resp);
    if (out != nullptr) *out = resp.incident();
    return s;
  };
  // Without expected_version each asks for "assign now, whatever the version": one that
  // loses a race is read and written again, a bounded number of times, after which it is
  // ABORTED. Every one either lands once or writes nothing.
  constexpr int kThreads = 4;
  constexpr int kEach = 5;
  std::atomic<int> landed{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string id = absl::StrCat("race-", t, "-", i);
        // Each to someone else: the same assignee twice in a row is refused.
        grpc::Status s = assign(id, absl::StrCat("w", t, "-", i), 0, nullptr);
        if (s.ok()) {
          ++landed;
        } else if (s.error_code() != grpc::StatusCode::ABORTED) {
          ADD_FAILURE() << id << ": " << s.error_code() << " " << s.error_message();
          ++other;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(other.load(), 0);
  ASSERT_GT(landed.load(), 0);
  const int64_t last = 1 + landed.load();

  // A repeat returns its first result; a stale expected_version is ABORTED.
  v1::Incident first;
  ASSERT_TRUE(assign("race-stale-first", "w8", last, &first).ok());
  EXPECT_EQ(first.version(), last + 1);
  v1::Incident again;
  ASSERT_TRUE(assign("race-stale-first", "w8", last, &again).ok());
  EXPECT_EQ(again.version(), last + 1);
  EXPECT_EQ(again.assignee().id(), "w8");
  grpc::Status stale = assign("race-stale", "w9", last, nullptr);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED) << stale.error_message();

  ASSERT_TRUE(OutboxDrained(absl::Seconds(30)));
  std::vector<int64_t> versions;
  for (const auto& e : AllEvents(static_cast<size_t>(last + 1))) {
    if (e.incident_id() == inc.id()) versions.push_back(e.version());
  }
  std::vector<int64_t> expected;
  for (int64_t v = 1; v <= last + 1; ++v) expected.push_back(v);
  EXPECT_EQ(versions, expected) << "each landed once, in order; the refused wrote nothing";
}

TEST_F(IncidentsServiceTest, OverdueIsEmittedOncePerMissedDeadline) {
  StartApp();
  v1::Incident inc;
  ASSERT_TRUE(Report("late", &inc).ok());
  clock_.Advance(absl::Hours(4));  // street_light: respond within 4 h
  // The timer runs every second; poll until its overdue mark shows.
  v1::Incident got;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    grpc::ClientContext ctx;
    v1::GetIncidentRequest g;
    g.set_id(inc.id());
    ASSERT_TRUE(stub_->GetIncident(&ctx, g, &got).ok());
    if (got.respond_overdue()) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(got.respond_overdue());
  EXPECT_EQ(got.version(), 2);
  // More ticks change nothing for the same deadline.
  EXPECT_EQ(*app_->incidents().FireDueDeadlines(100), 0);
  ASSERT_TRUE(OutboxDrained(absl::Seconds(30)));
  int overdue = 0;
  for (const auto& e : AllEvents(3)) {
    if (e.type() == v1::INCIDENT_EVENT_TYPE_OVERDUE) {
      ++overdue;
      EXPECT_EQ(e.detail(), "respond");
    }
  }
  EXPECT_EQ(overdue, 1);
}

TEST_F(IncidentsServiceTest, SeveralReplicasFireADeadlineOnlyOnce) {
  // Four replicas' domains over one Redis, all ticking at the same moment.
  RedisIncidentStore store(redis_.get());
  Taxonomy taxonomy = Taxonomy::Default();
  std::vector<std::unique_ptr<Incidents>> replicas;
  replicas.reserve(4);
  for (int i = 0; i < 4; ++i) {
    replicas.push_back(std::make_unique<Incidents>(&store, &taxonomy, &clock_));
  }
  constexpr int kIncidents = 40;
  for (int i = 0; i < kIncidents; ++i) {
    v1::ReportIncidentRequest req;
    req.set_request_id(absl::StrCat("replica-", i));
    req.set_category("noise");
    req.set_title("夜间施工噪音");
    req.set_channel(v1::CHANNEL_HOTLINE);
    req.set_region_code("330106.003");
    req.mutable_reporter()->set_phone("13700001234");
    ASSERT_TRUE(replicas[0]->Report(req, Caller{}).ok());
  }
  clock_.Advance(absl::Hours(25));  // past both deadlines of every incident
  std::vector<std::thread> threads;
  threads.reserve(replicas.size());
  std::atomic<int> fired{0};
  for (auto& r : replicas) {
    threads.emplace_back([&fired, &r] {
      for (int pass = 0; pass < 3; ++pass) {
        absl::StatusOr<int> n = r->FireDueDeadlines(1000);
        EXPECT_TRUE(n.ok()) << n.status();
        if (n.ok()) fired += *n;
      }
    });
  }
  for (auto& t : threads) t.join();
  // A deadline whose incident changed under a replica (Aborted) waits for the next tick;
  // one more tick picks up any such leftovers.
  fired += *replicas[0]->FireDueDeadlines(1000);
  EXPECT_EQ(fired.load(), 2 * kIncidents) << "respond and resolve, once each";
  std::vector<SlaDeadline> left = *store.DueDeadlines(clock_.Now(), 1000);
  EXPECT_TRUE(left.empty());
}

TEST_F(IncidentsServiceTest, BadInputIsInvalidArgumentNamingTheField) {
  StartApp();
  v1::ReportIncidentRequest req;
  req.set_request_id("bad");
  req.set_category("street_light");
  req.set_title("x");
  req.set_channel(v1::CHANNEL_APP);
  req.set_region_code("330106");
  req.mutable_reporter()->set_phone("not-a-phone");
  grpc::ClientContext ctx;
  v1::IncidentResponse resp;
  grpc::Status s = stub_->ReportIncident(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("reporter.phone", 0), 0u) << s.error_message();

  // An oversized request is refused by the transport limit, not by a crash.
  req.set_description(std::string(2 << 20, 'x'));
  grpc::ClientContext big;
  s = stub_->ReportIncident(&big, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(OutboxBacklog(), 0);
}

}  // namespace
}  // namespace gridloop::incidents
