// Incidents asking a real residents server for grids and reporters, both in-process over
// gRPC against one real redis-server and librdkafka's mock cluster; and what happens to a
// report while residents is down.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock/clock.h"
#include "common/testing/grpc_stack.h"
#include "common/testing/kafka_cluster.h"
#include "common/testing/redis_server.h"
#include "gridloop/v1/events.pb.h"
#include "gridloop/v1/incidents.grpc.pb.h"
#include "gridloop/v1/residents.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/incidents/app.h"
#include "services/residents/app.h"

namespace gridloop {
namespace {

constexpr const char* kGrid = testing::kTestGrid;

using testing::FreePort;

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& person, const std::string& role,
                                         const std::string& region) {
  return testing::CallAs(person, role, region);
}

class IncidentsResidentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_server_ = std::move(*redis);
    auto kafka = testing::MockKafkaCluster::Start(1);
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    kafka_ = std::move(*kafka);
    ASSERT_TRUE(kafka_->CreateTopic(incidents::kIncidentEventsTopic, 1).ok());
    residents_port_ = FreePort();
    StartResidents();
    BuildLedger();
    incidents::AppConfig c;
    c.listen = "127.0.0.1:0";
    c.redis = redis_server_->address();
    c.kafka_brokers = kafka_->bootstrap();
    c.workers = 4;
    c.sla_interval = absl::Milliseconds(20);
    c.residents_addr = absl::StrCat("127.0.0.1:", residents_port_);
    c.residents_timeout = absl::Seconds(2);
    auto app = incidents::App::Start(c, &clock_);
    ASSERT_TRUE(app.ok()) << app.status();
    incidents_ = std::move(*app);
    incident_stub_ = v1::IncidentService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", incidents_->port()), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    incidents_.reset();
    residents_.reset();
  }

  void StartResidents() {
    residents::AppConfig c;
    c.listen = absl::StrCat("127.0.0.1:", residents_port_);
    c.redis = redis_server_->address();
    c.workers = 4;
    c.pii_keys = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    c.pii_index_key = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
    auto app = residents::App::Start(c, &clock_);
    ASSERT_TRUE(app.ok()) << app.status();
    residents_ = std::move(*app);
    resident_stub_ = v1::ResidentService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", residents_port_), grpc::InsecureChannelCredentials()));
  }

  void BuildLedger() {
    absl::Status street = testing::CreateTestStreet(*resident_stub_);
    ASSERT_TRUE(street.ok()) << street;
    v1::CreateResidentRequest req;
    req.set_request_id("resident-1");
    req.mutable_resident()->set_name("王阿姨");
    req.mutable_resident()->set_region_code(kGrid);
    grpc::Status s =
        resident_stub_->CreateResident(Ctx("op", "operator", "3301").get(), req, &resident_);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  grpc::Status Report(const std::string& request_id, const std::string& resident_id,
                      v1::Incident* out, double latitude = 30.285, double longitude = 120.105) {
    v1::ReportIncidentRequest req;
    req.set_request_id(request_id);
    req.set_category("street_light");
    req.set_title("路灯不亮");
    req.set_channel(v1::CHANNEL_APP);
    req.mutable_location()->set_latitude(latitude);
    req.mutable_location()->set_longitude(longitude);
    if (resident_id.empty()) {
      req.mutable_reporter()->set_name("张先生");
      req.mutable_reporter()->set_phone("13900001111");
    } else {
      req.mutable_reporter()->set_resident_id(resident_id);
    }
    v1::IncidentResponse resp;
    grpc::Status s =
        incident_stub_->ReportIncident(Ctx("hotline-1", "operator", "").get(), req, &resp);
    *out = resp.incident();
    return s;
  }

  FakeClock clock_;
  std::unique_ptr<testing::RedisServer> redis_server_;
  std::unique_ptr<testing::MockKafkaCluster> kafka_;
  int residents_port_ = 0;
  std::unique_ptr<residents::App> residents_;
  std::unique_ptr<incidents::App> incidents_;
  std::unique_ptr<v1::ResidentService::Stub> resident_stub_;
  std::unique_ptr<v1::IncidentService::Stub> incident_stub_;
  v1::Resident resident_;
};

TEST_F(IncidentsResidentsTest, AReportByLocationGetsItsGridAndResidentReportersMustExist) {
  v1::Incident inc;
  grpc::Status s = Report("by-location", "", &inc);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(inc.region_code(), kGrid);
  EXPECT_FALSE(inc.grid_pending());

  s = Report("by-resident", resident_.id(), &inc);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(inc.reporter().resident_id(), resident_.id());

  s = Report("by-stranger", "r-00000000deadbeef", &inc);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "reporter.resident_id")) << s.error_message();
}

TEST_F(IncidentsResidentsTest, AGridFoundOnceAnswersNearbyReportsWithoutACallForAWhile) {
  v1::Incident inc;
  ASSERT_TRUE(Report("first", "", &inc).ok());
  ASSERT_EQ(inc.region_code(), kGrid);

  // Residents goes away: a report a few metres off still gets its grid, from the answer
  // kept for the cell around the first.
  residents_.reset();
  grpc::Status s = Report("nearby", "", &inc, 30.28503, 120.10497);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(inc.region_code(), kGrid);
  EXPECT_FALSE(inc.grid_pending());

  // Not in the next grid, which was never asked about; not once the answer is older than
  // GRIDLOOP_GRID_CACHE_TTL (10 s by default).
  ASSERT_TRUE(Report("next-grid", "", &inc, 30.285, 120.115).ok());
  EXPECT_TRUE(inc.grid_pending());
  clock_.Advance(absl::Seconds(10));
  ASSERT_TRUE(Report("later", "", &inc, 30.28503, 120.10497).ok());
  EXPECT_TRUE(inc.grid_pending());
}

TEST_F(IncidentsResidentsTest, WhileResidentsIsDownReportsAreKeptAndTheirGridComesLater) {
  residents_.reset();
  v1::Incident inc;
  grpc::Status s = Report("while-down", "", &inc);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(inc.grid_pending());
  EXPECT_TRUE(inc.region_code().empty());

  StartResidents();
  clock_.Advance(absl::Seconds(10));  // the retry is due
  v1::GetIncidentRequest get;
  get.set_id(inc.id());
  v1::Incident now;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    ASSERT_TRUE(
        incident_stub_->GetIncident(Ctx("hotline-1", "operator", "").get(), get, &now).ok());
    if (!now.grid_pending()) break;
    absl::SleepFor(absl::Milliseconds(20));  // polling interval, not synchronisation
  }
  EXPECT_FALSE(now.grid_pending());
  EXPECT_EQ(now.region_code(), kGrid);
  EXPECT_EQ(now.version(), 2);

  // The event says so: reported without a grid, then grid_located with it.
  std::vector<v1::IncidentEvent> events;
  const absl::Time read_until = absl::Now() + absl::Seconds(20);
  while (events.size() < 2 && absl::Now() < read_until) {
    events.clear();
    for (const kafka::Record& r : testing::ReadTopic(
             kafka_->bootstrap(), incidents::kIncidentEventsTopic, 2, absl::Seconds(2))) {
      v1::IncidentEvent e;
      ASSERT_TRUE(e.ParseFromString(r.value));
      if (e.incident_id() == inc.id()) events.push_back(e);
    }
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type(), v1::INCIDENT_EVENT_TYPE_REPORTED);
  EXPECT_TRUE(events[0].incident().grid_pending());
  EXPECT_EQ(events[1].type(), v1::INCIDENT_EVENT_TYPE_GRID_LOCATED);
  EXPECT_EQ(events[1].incident().region_code(), kGrid);
  EXPECT_EQ(events[1].version(), 2);
}

}  // namespace
}  // namespace gridloop
