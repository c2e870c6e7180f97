// Dispatch with everything real around it: residents, incidents and dispatch servers
// in-process over gRPC, one real redis-server, and librdkafka's mock cluster carrying the
// incident and dispatch events. No test calls AssignIncident: dispatch does.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock/clock.h"
#include "common/clock/proto_time.h"
#include "common/kafka/producer.h"
#include "common/testing/grpc_stack.h"
#include "common/testing/kafka_cluster.h"
#include "common/testing/redis_server.h"
#include "gridloop/v1/dispatch.grpc.pb.h"
#include "gridloop/v1/events.pb.h"
#include "gridloop/v1/incidents.grpc.pb.h"
#include "gridloop/v1/residents.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/dispatch/app.h"
#include "services/incidents/app.h"
#include "services/residents/app.h"

namespace gridloop {
namespace {

constexpr const char* kGrid = testing::kTestGrid;
constexpr const char* kCommunity = testing::kTestCommunity;
constexpr double kLat = 30.285;
constexpr double kLng = 120.105;

using testing::CallAs;
using testing::Eventually;
using testing::FreePort;

class DispatchServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_server_ = std::move(*redis);
    auto kafka = testing::MockKafkaCluster::Start(1);
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    kafka_ = std::move(*kafka);
    ASSERT_TRUE(kafka_->CreateTopic(incidents::kIncidentEventsTopic, 2).ok());
    ASSERT_TRUE(kafka_->CreateTopic(dispatch::kDispatchEventsTopic, 1).ok());

    residents::AppConfig rc;
    residents_port_ = FreePort();
    rc.listen = absl::StrCat("127.0.0.1:", residents_port_);
    rc.redis = redis_server_->address();
    rc.workers = 4;
    rc.pii_keys = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    rc.pii_index_key = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
    auto residents = residents::App::Start(rc, &clock_);
    ASSERT_TRUE(residents.ok()) << residents.status();
    residents_ = std::move(*residents);
    resident_stub_ = v1::ResidentService::NewStub(
        grpc::CreateChannel(rc.listen, grpc::InsecureChannelCredentials()));
    BuildLedger();

    incidents::AppConfig ic;
    ic.listen = "127.0.0.1:0";
    ic.redis = redis_server_->address();
    ic.kafka_brokers = kafka_->bootstrap();
    ic.workers = 4;
    ic.sla_interval = absl::Milliseconds(20);
    ic.residents_addr = rc.listen;
    ic.residents_timeout = absl::Seconds(2);
    auto incidents = incidents::App::Start(ic, &clock_);
    ASSERT_TRUE(incidents.ok()) << incidents.status();
    incidents_ = std::move(*incidents);
    incident_stub_ = v1::IncidentService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", incidents_->port()), grpc::InsecureChannelCredentials()));

    dispatch::AppConfig dc;
    dc.listen = "127.0.0.1:0";
    dc.redis = redis_server_->address();
    dc.kafka_brokers = kafka_->bootstrap();
    dc.assign_partitions = {0, 1};
    dc.incidents_addr = absl::StrCat("127.0.0.1:", incidents_->port());
    dc.residents_addr = rc.listen;
    dc.workers = 8;
    dc.timer_interval = absl::Milliseconds(20);
    dc.index_refresh = absl::Milliseconds(20);
    auto dispatch = dispatch::App::Start(dc, &clock_);
    ASSERT_TRUE(dispatch.ok()) << dispatch.status();
    dispatch_ = std::move(*dispatch);
    dispatch_stub_ = v1::DispatchService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", dispatch_->port()), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    dispatch_.reset();
    incidents_.reset();
    residents_.reset();
  }

  void BuildLedger() {
    absl::Status street = testing::CreateTestStreet(*resident_stub_);
    ASSERT_TRUE(street.ok()) << street;
    AddStaff("gw-1", kGrid, v1::STAFF_ROLE_GRID_WORKER);
    AddStaff("cl-1", kCommunity, v1::STAFF_ROLE_REGION_LEADER);
  }

  void AddStaff(const std::string& person, const std::string& region, v1::StaffRole role) {
    absl::Status s = testing::AddTestStaff(*resident_stub_, person, region, role,
                                           clock_.Now() - absl::Hours(24));
    ASSERT_TRUE(s.ok()) << s;
  }

  // A volunteer `metres_east` of the incident site, with `skills`.
  std::string Volunteer(const std::string& name, double metres_east,
                        const std::vector<std::string>& skills) {
    v1::RegisterVolunteerRequest req;
    req.set_request_id(absl::StrCat("vol-", absl::BytesToHexString(name)));
    v1::Volunteer* v = req.mutable_volunteer();
    v->set_name(name);
    v->set_region_code(kGrid);
    v->mutable_location()->set_latitude(kLat);
    v->mutable_location()->set_longitude(kLng + metres_east / 96000.0);
    for (const std::string& s : skills) v->add_skills(s);
    v->set_party_member(true);
    v1::Volunteer out;
    grpc::Status s =
        dispatch_stub_->RegisterVolunteer(CallAs("op", "operator", "3301").get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out.id();
  }

  void WaitForIndex(size_t n) {
    ASSERT_TRUE(Eventually([&] { return dispatch_->index().size() >= n; }))
        << "index holds " << dispatch_->index().size();
  }

  v1::Incident Report(const std::string& request_id, const std::string& category,
                      const std::string& named = "") {
    v1::ReportIncidentRequest req;
    req.set_request_id(request_id);
    req.set_category(category);
    req.set_title("需要帮助");
    req.set_channel(v1::CHANNEL_HOTLINE);
    req.set_region_code(kGrid);
    req.mutable_location()->set_latitude(kLat);
    req.mutable_location()->set_longitude(kLng);
    req.mutable_reporter()->set_name("张先生");
    req.mutable_reporter()->set_phone("13900001111");
    req.set_requested_volunteer_id(named);
    v1::IncidentResponse resp;
    grpc::Status s =
        incident_stub_->ReportIncident(CallAs("hotline-1", "operator").get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.incident();
  }

  v1::Incident Get(const std::string& id) {
    v1::GetIncidentRequest req;
    req.set_id(id);
    v1::Incident out;
    grpc::Status s = incident_stub_->GetIncident(CallAs("op", "operator").get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  std::vector<v1::Offer> OpenOffers(const std::string& volunteer_id) {
    v1::ListOffersRequest req;
    req.set_volunteer_id(volunteer_id);
    v1::ListOffersResponse resp;
    grpc::Status s =
        dispatch_stub_->ListOffers(CallAs(volunteer_id, "volunteer").get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.offers().begin(), resp.offers().end()};
  }

  v1::Offer WaitForOffer(const std::string& volunteer_id) {
    std::vector<v1::Offer> offers;
    EXPECT_TRUE(Eventually([&] {
      offers = OpenOffers(volunteer_id);
      return !offers.empty();
    })) << "no offer reached "
        << volunteer_id;
    return offers.empty() ? v1::Offer() : offers.front();
  }

  grpc::Status Respond(const v1::Offer& offer, bool accept, v1::Offer* out) {
    v1::RespondToOfferRequest req;
    req.set_request_id(absl::StrCat("answer-", offer.id()));
    req.set_offer_id(offer.id());
    req.set_accept(accept);
    req.set_reason(accept ? "" : "not at home today");
    return dispatch_stub_->RespondToOffer(CallAs(offer.volunteer_id(), "volunteer").get(), req,
                                          out);
  }

  v1::Incident WaitForAssignee(const std::string& incident_id, v1::AssigneeKind kind,
                               const std::string& id) {
    v1::Incident inc;
    EXPECT_TRUE(Eventually([&] {
      inc = Get(incident_id);
      return inc.status() == v1::INCIDENT_STATUS_ASSIGNED && inc.assignee().kind() == kind &&
             inc.assignee().id() == id;
    })) << "incident "
        << incident_id << " is " << inc.ShortDebugString();
    return inc;
  }

  v1::Dispatch GetDispatch(const std::string& incident_id) {
    v1::GetDispatchRequest req;
    req.set_incident_id(incident_id);
    v1::Dispatch out;
    grpc::Status s = dispatch_stub_->GetDispatch(CallAs("op", "operator", "3301").get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  // Dispatch asks incidents to assign before it commits its own record, so an incident
  // seen assigned does not yet mean the dispatch record shows why.
  v1::Dispatch WaitForDispatch(const std::string& incident_id,
                               const std::function<bool(const v1::Dispatch&)>& settled) {
    v1::Dispatch d;
    EXPECT_TRUE(Eventually([&] {
      d = GetDispatch(incident_id);
      return settled(d);
    })) << "dispatch of "
        << incident_id << " is " << d.ShortDebugString();
    return d;
  }

  FakeClock clock_;
  std::unique_ptr<testing::RedisServer> redis_server_;
  std::unique_ptr<testing::MockKafkaCluster> kafka_;
  int residents_port_ = 0;
  std::unique_ptr<residents::App> residents_;
  std::unique_ptr<incidents::App> incidents_;
  std::unique_ptr<dispatch::App> dispatch_;
  std::unique_ptr<v1::ResidentService::Stub> resident_stub_;
  std::unique_ptr<v1::IncidentService::Stub> incident_stub_;
  std::unique_ptr<v1::DispatchService::Stub> dispatch_stub_;
};

TEST_F(DispatchServiceTest, AReportedIncidentIsAssignedToTheOnDutyGridWorker) {
  v1::Incident inc = Report("leak-1", "roof_leak");
  v1::Incident assigned = WaitForAssignee(inc.id(), v1::ASSIGNEE_KIND_GRID_WORKER, "gw-1");
  EXPECT_EQ(assigned.version(), 2);

  // A department category goes straight to its department.
  v1::Incident light = Report("light-1", "street_light");
  WaitForAssignee(light.id(), v1::ASSIGNEE_KIND_DEPARTMENT, "urban_management");

  // Its own assignment comes back as an event and moves the record to version 2.
  v1::Dispatch d =
      WaitForDispatch(inc.id(), [](const v1::Dispatch& x) { return x.incident_version() == 2; });
  EXPECT_EQ(d.route(), v1::ASSIGNEE_KIND_GRID_WORKER);

  // A volunteer linked to a resident is checked against the real residents service.
  v1::RegisterVolunteerRequest reg;
  reg.set_request_id("vol-stranger");
  reg.mutable_volunteer()->set_name("无名");
  reg.mutable_volunteer()->set_resident_id("r-00000000deadbeef");
  reg.mutable_volunteer()->set_region_code(kGrid);
  reg.mutable_volunteer()->mutable_location()->set_latitude(kLat);
  reg.mutable_volunteer()->mutable_location()->set_longitude(kLng);
  v1::Volunteer out;
  grpc::Status s =
      dispatch_stub_->RegisterVolunteer(CallAs("op", "operator", "3301").get(), reg, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("volunteer.resident_id", 0), 0u) << s.error_message();
  EXPECT_EQ(d.assignee().id(), "gw-1");
}

TEST_F(DispatchServiceTest, ADeclinedOfferMovesOnAndNobodyLeftMeansTheGridWorker) {
  const std::string near = Volunteer("李医生", 100, {"medical", "elderly_care"});
  const std::string farther = Volunteer("陈阿姨", 800, {"companionship"});
  Volunteer("赵师傅", 200, {"repair"});  // no skill the category wants: never asked
  WaitForIndex(3);

  v1::Incident inc = Report("help-1", "elderly_help");
  v1::Offer first = WaitForOffer(near);
  EXPECT_EQ(first.incident_id(), inc.id());
  EXPECT_FALSE(first.named());
  v1::Offer declined;
  grpc::Status s = Respond(first, /*accept=*/false, &declined);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(declined.status(), v1::OFFER_STATUS_DECLINED);

  v1::Offer second = WaitForOffer(farther);
  EXPECT_EQ(second.incident_id(), inc.id());
  // Nobody answers within the deadline: the offer expires and, with no volunteer left,
  // the grid worker gets the order.
  clock_.Advance(absl::Minutes(11));
  WaitForAssignee(inc.id(), v1::ASSIGNEE_KIND_GRID_WORKER, "gw-1");

  v1::Dispatch d =
      WaitForDispatch(inc.id(), [](const v1::Dispatch& x) { return x.open_offer_id().empty(); });
  ASSERT_EQ(d.offers_size(), 2);
  EXPECT_EQ(d.offers(0).status(), v1::OFFER_STATUS_DECLINED);
  EXPECT_EQ(d.offers(1).status(), v1::OFFER_STATUS_EXPIRED);
  EXPECT_TRUE(d.open_offer_id().empty());

  // Both outcomes are on the volunteers' records.
  v1::GetServiceRecordRequest rec;
  rec.set_volunteer_id(near);
  v1::ServiceRecord record;
  ASSERT_TRUE(
      dispatch_stub_->GetServiceRecord(CallAs("op", "operator", "3301").get(), rec, &record).ok());
  EXPECT_EQ(record.declined_tasks(), 1);
  // The expiry is counted on the record just after the dispatch record is committed.
  rec.set_volunteer_id(farther);
  EXPECT_TRUE(Eventually([&] {
    return dispatch_stub_->GetServiceRecord(CallAs("op", "operator", "3301").get(), rec, &record)
               .ok() &&
           record.expired_offers() == 1;
  })) << record.ShortDebugString();
}

TEST_F(DispatchServiceTest, ANamedVolunteerIsAskedFirstAndCreditedWhenTheResidentIsSatisfied) {
  Volunteer("李医生", 100, {"medical"});
  const std::string named = Volunteer("陈阿姨", 2000, {"companionship"});
  WaitForIndex(2);

  v1::Incident inc = Report("help-named", "elderly_help", named);
  v1::Offer offer = WaitForOffer(named);
  EXPECT_TRUE(offer.named());
  v1::Offer accepted;
  grpc::Status s = Respond(offer, /*accept=*/true, &accepted);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(accepted.status(), v1::OFFER_STATUS_ACCEPTED);
  WaitForAssignee(inc.id(), v1::ASSIGNEE_KIND_VOLUNTEER, named);

  // The volunteer does the work; the resident is satisfied.
  v1::IncidentResponse r;
  v1::AcceptAssignmentRequest acc;
  acc.set_request_id("acc");
  acc.set_incident_id(inc.id());
  acc.set_assignee_id(named);
  ASSERT_TRUE(incident_stub_->AcceptAssignment(CallAs(named, "volunteer").get(), acc, &r).ok());
  clock_.Advance(absl::Minutes(90));
  v1::ResolveIncidentRequest res;
  res.set_request_id("res");
  res.set_incident_id(inc.id());
  res.set_resolution("陪同就医");
  ASSERT_TRUE(incident_stub_->ResolveIncident(CallAs(named, "volunteer").get(), res, &r).ok());
  v1::SubmitFeedbackRequest fb;
  fb.set_request_id("fb");
  fb.set_incident_id(inc.id());
  fb.set_satisfaction(v1::SATISFACTION_SATISFIED);
  ASSERT_TRUE(incident_stub_->SubmitFeedback(CallAs("op", "operator", "3301").get(), fb, &r).ok());

  v1::GetServiceRecordRequest rec;
  rec.set_volunteer_id(named);
  v1::ServiceRecord record;
  ASSERT_TRUE(Eventually([&] {
    record.Clear();
    return dispatch_stub_->GetServiceRecord(CallAs(named, "volunteer").get(), rec, &record).ok() &&
           record.entries_size() == 1;
  }));
  EXPECT_EQ(record.points(), 15);  // 10 for the task, 5 for a satisfied resident
  EXPECT_NEAR(record.hours(), 1.5, 1e-6);
  EXPECT_EQ(record.completed_tasks(), 1);
  EXPECT_EQ(record.entries(0).source(), v1::CREDIT_SOURCE_INCIDENT);
  EXPECT_EQ(record.entries(0).reference(), inc.id());
}

TEST_F(DispatchServiceTest, AnOverdueIncidentIsEscalatedOneLevel) {
  v1::Incident inc = Report("leak-overdue", "roof_leak");
  WaitForAssignee(inc.id(), v1::ASSIGNEE_KIND_GRID_WORKER, "gw-1");
  // Nobody accepted within the two hours a roof leak allows: 吹哨.
  clock_.Advance(absl::Hours(3));
  v1::Incident now = WaitForAssignee(inc.id(), v1::ASSIGNEE_KIND_GRID_WORKER, "cl-1");
  EXPECT_EQ(now.escalation_level(), v1::ESCALATION_LEVEL_COMMUNITY);
  EXPECT_TRUE(now.respond_overdue());
  // One level, not more: the history holds exactly one escalation.
  int escalations = 0;
  for (const v1::HistoryEntry& h : now.history()) {
    if (h.type() == v1::INCIDENT_EVENT_TYPE_ESCALATED) ++escalations;
  }
  EXPECT_EQ(escalations, 1);
}

TEST_F(DispatchServiceTest, FiftyConcurrentSignUpsFillTenPlacesExactly) {
  std::vector<std::string> volunteers;
  volunteers.reserve(50);
  for (int i = 0; i < 50; ++i) volunteers.push_back(Volunteer(absl::StrCat("志愿者", i), i, {}));
  v1::CreateActivityRequest create;
  create.set_request_id("clean-up");
  v1::Activity* a = create.mutable_activity();
  a->set_title("社区清洁日");
  a->set_region_code(kCommunity);
  *a->mutable_starts_at() = ToTimestamp(clock_.Now() + absl::Hours(24));
  *a->mutable_ends_at() = ToTimestamp(clock_.Now() + absl::Hours(27));
  a->set_capacity(10);
  v1::Activity activity;
  grpc::Status s =
      dispatch_stub_->CreateActivity(CallAs("op", "operator", "3301").get(), create, &activity);
  ASSERT_TRUE(s.ok()) << s.error_message();

  std::vector<v1::SignUpStatus> statuses(volunteers.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < volunteers.size(); ++i) {
    threads.emplace_back([&, i] {
      v1::SignUpRequest req;
      req.set_request_id(absl::StrCat("signup-", i));
      req.set_activity_id(activity.id());
      req.set_volunteer_id(volunteers[i]);
      v1::SignUpResponse resp;
      grpc::Status st =
          dispatch_stub_->SignUp(CallAs(volunteers[i], "volunteer").get(), req, &resp);
      EXPECT_TRUE(st.ok()) << st.error_message();
      statuses[i] = resp.status();
    });
  }
  for (std::thread& t : threads) t.join();
  int confirmed = 0;
  int waitlisted = 0;
  for (v1::SignUpStatus st : statuses) {
    confirmed += st == v1::SIGN_UP_STATUS_CONFIRMED;
    waitlisted += st == v1::SIGN_UP_STATUS_WAITLISTED;
  }
  EXPECT_EQ(confirmed, 10);
  EXPECT_EQ(waitlisted, 40);
  v1::GetActivityRequest get;
  get.set_id(activity.id());
  ASSERT_TRUE(
      dispatch_stub_->GetActivity(CallAs("op", "operator", "3301").get(), get, &activity).ok());
  EXPECT_EQ(activity.confirmed(), 10);
  EXPECT_EQ(activity.waitlisted(), 40);
}

TEST_F(DispatchServiceTest, ReplayedEventsChangeNothing) {
  const std::string vol = Volunteer("陈阿姨", 300, {"elderly_care"});
  WaitForIndex(1);
  v1::Incident leak = Report("leak-replay", "roof_leak");
  WaitForAssignee(leak.id(), v1::ASSIGNEE_KIND_GRID_WORKER, "gw-1");
  v1::Incident help = Report("help-replay", "elderly_help");
  WaitForOffer(vol);

  // Everything dispatch has seen so far...
  std::vector<kafka::Record> seen = testing::ReadTopic(
      kafka_->bootstrap(), incidents::kIncidentEventsTopic, 3, absl::Seconds(10));
  ASSERT_EQ(seen.size(), 3u);  // leak reported + assigned, help reported
  ASSERT_TRUE(Eventually([&] { return dispatch_->consumer()->processed() >= 3; }));
  const v1::Dispatch leak_before = GetDispatch(leak.id());
  const v1::Dispatch help_before = GetDispatch(help.id());
  const size_t dispatch_events_before =
      testing::ReadTopic(kafka_->bootstrap(), dispatch::kDispatchEventsTopic, 2, absl::Seconds(5))
          .size();
  ASSERT_EQ(dispatch_events_before, 2u);  // assigned, offer made

  // ...delivered again, as after a consumer restarted before storing its offsets.
  kafka::ProducerOptions popts;
  popts.brokers = kafka_->bootstrap();
  auto producer = kafka::Producer::Create(popts);
  ASSERT_TRUE(producer.ok()) << producer.status();
  for (const kafka::Record& r : seen) {
    ASSERT_TRUE((*producer)->ProduceSync(r.topic, r.key, r.value).ok());
  }
  ASSERT_TRUE(Eventually([&] { return dispatch_->consumer()->processed() >= 6; }));

  EXPECT_EQ(Get(leak.id()).version(), 2);
  EXPECT_EQ(Get(help.id()).version(), 1);
  EXPECT_EQ(GetDispatch(leak.id()).SerializeAsString(), leak_before.SerializeAsString());
  EXPECT_EQ(GetDispatch(help.id()).SerializeAsString(), help_before.SerializeAsString());
  EXPECT_EQ(OpenOffers(vol).size(), 1u);
  // Publishing is asynchronous: give the relay a pass before counting.
  ASSERT_TRUE(dispatch_->relay()->RunOnce().ok());
  EXPECT_EQ(
      testing::ReadTopic(kafka_->bootstrap(), dispatch::kDispatchEventsTopic, 3, absl::Seconds(3))
          .size(),
      dispatch_events_before);
}

}  // namespace
}  // namespace gridloop
