// Assessment with everything real around it: residents, incidents and assessment servers
// in-process over gRPC, one real redis-server, and librdkafka's mock cluster carrying the
// events. A scripted series of incidents goes through the incidents service; the
// scorecard must come out exactly as computed by hand, replays must change nothing, and a
// rebuild from the topics must reproduce the live figures key for key.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/clock/clock.h"
#include "common/clock/proto_time.h"
#include "common/kafka/producer.h"
#include "common/kafka/replay.h"
#include "common/redis/redis_client.h"
#include "common/testing/grpc_stack.h"
#include "common/testing/kafka_cluster.h"
#include "common/testing/redis_server.h"
#include "gridloop/v1/assessment.grpc.pb.h"
#include "gridloop/v1/incidents.grpc.pb.h"
#include "gridloop/v1/residents.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/assessment/app.h"
#include "services/incidents/app.h"
#include "services/residents/app.h"

namespace gridloop {
namespace {

constexpr const char* kGrid = testing::kTestGrid;
constexpr const char* kStreet = testing::kTestStreet;

using testing::CallAs;
using testing::Eventually;
using testing::FreePort;

// 09:00 local on a Friday, mid-month: every deadline below stays in November.
const absl::Time kT0 = absl::FromUnixSeconds(1795741200);  // 2026-11-27T01:00:00Z

class AssessmentServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.Set(kT0);
    auto redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_server_ = std::move(*redis);
    auto kafka = testing::MockKafkaCluster::Start(1);
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    kafka_ = std::move(*kafka);
    ASSERT_TRUE(kafka_->CreateTopic(incidents::kIncidentEventsTopic, 2).ok());
    ASSERT_TRUE(kafka_->CreateTopic(assessment::kDispatchEventsTopic, 2).ok());
    ASSERT_TRUE(kafka_->CreateTopic(assessment::kScoreEventsTopic, 1).ok());

    residents::AppConfig rc;
    rc.listen = absl::StrCat("127.0.0.1:", FreePort());
    rc.redis = redis_server_->address();
    rc.workers = 4;
    rc.pii_keys = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    rc.pii_index_key = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
    auto residents = residents::App::Start(rc, &clock_);
    ASSERT_TRUE(residents.ok()) << residents.status();
    residents_ = std::move(*residents);
    residents_addr_ = rc.listen;
    resident_stub_ = v1::ResidentService::NewStub(
        grpc::CreateChannel(rc.listen, grpc::InsecureChannelCredentials()));
    absl::Status street = testing::CreateTestStreet(*resident_stub_);
    ASSERT_TRUE(street.ok()) << street;
    ASSERT_TRUE(testing::AddTestStaff(*resident_stub_, "gw-1", kGrid, v1::STAFF_ROLE_GRID_WORKER,
                                      kT0 - absl::Hours(24))
                    .ok());

    incidents::AppConfig ic;
    ic.listen = "127.0.0.1:0";
    ic.redis = redis_server_->address();
    ic.kafka_brokers = kafka_->bootstrap();
    ic.workers = 4;
    ic.sla_interval = absl::Milliseconds(20);
    ic.residents_addr = rc.listen;
    auto incidents = incidents::App::Start(ic, &clock_);
    ASSERT_TRUE(incidents.ok()) << incidents.status();
    incidents_ = std::move(*incidents);
    incident_stub_ = v1::IncidentService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", incidents_->port()), grpc::InsecureChannelCredentials()));

    StartAssessment();
    redis::Options ro;
    ro.host = "127.0.0.1";
    ro.port = redis_server_->port();
    auto client = redis::Connect(ro);
    ASSERT_TRUE(client.ok()) << client.status();
    redis_ = std::move(*client);
  }

  void StartAssessment(const std::string& scoring_file = "") {
    assessment::AppConfig ac;
    ac.listen = "127.0.0.1:0";
    ac.redis = redis_server_->address();
    ac.kafka_brokers = kafka_->bootstrap();
    ac.assign_partitions = {0, 1};
    ac.residents_addr = residents_addr_;
    ac.workers = 4;
    ac.publish_every = absl::Milliseconds(20);
    ac.scoring_file = scoring_file;
    auto app = assessment::App::Start(ac, &clock_);
    ASSERT_TRUE(app.ok()) << app.status();
    assessment_ = std::move(*app);
    stub_ = v1::AssessmentService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", assessment_->port()), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    assessment_.reset();
    incidents_.reset();
    residents_.reset();
  }

  std::string Report(const std::string& rid) {
    v1::ReportIncidentRequest req;
    req.set_request_id(rid);
    req.set_category("noise");  // respond within 2 h, resolve within 24 h
    req.set_title("楼上噪音");
    req.set_channel(v1::CHANNEL_HOTLINE);
    req.set_region_code(kGrid);
    req.mutable_reporter()->set_name("张先生");
    req.mutable_reporter()->set_phone("13900001111");
    v1::IncidentResponse resp;
    grpc::Status s =
        incident_stub_->ReportIncident(CallAs("hotline-1", "operator", "3301").get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    ++events_;
    return resp.incident().id();
  }
  void Assign(const std::string& id) {
    v1::AssignIncidentRequest req;
    req.set_request_id(absl::StrCat("assign-", id, "-", events_));
    req.set_incident_id(id);
    req.mutable_assignee()->set_kind(v1::ASSIGNEE_KIND_GRID_WORKER);
    req.mutable_assignee()->set_id("gw-1");
    Call([&](grpc::ClientContext* c, v1::IncidentResponse* r) {
      return incident_stub_->AssignIncident(c, req, r);
    });
  }
  void Accept(const std::string& id) {
    v1::AcceptAssignmentRequest req;
    req.set_request_id(absl::StrCat("accept-", id, "-", events_));
    req.set_incident_id(id);
    req.set_assignee_id("gw-1");
    Call([&](grpc::ClientContext* c,
             v1::IncidentResponse* r) { return incident_stub_->AcceptAssignment(c, req, r); },
         "gw-1", "grid_worker", kGrid);
  }
  void Resolve(const std::string& id) {
    v1::ResolveIncidentRequest req;
    req.set_request_id(absl::StrCat("resolve-", id, "-", events_));
    req.set_incident_id(id);
    req.set_resolution("已处理");
    Call([&](grpc::ClientContext* c,
             v1::IncidentResponse* r) { return incident_stub_->ResolveIncident(c, req, r); },
         "gw-1", "grid_worker", kGrid);
  }
  void Feedback(const std::string& id, v1::Satisfaction s) {
    v1::SubmitFeedbackRequest req;
    req.set_request_id(absl::StrCat("feedback-", id, "-", events_));
    req.set_incident_id(id);
    req.set_satisfaction(s);
    Call([&](grpc::ClientContext* c, v1::IncidentResponse* r) {
      return incident_stub_->SubmitFeedback(c, req, r);
    });
  }
  void Cancel(const std::string& id) {
    v1::CancelIncidentRequest req;
    req.set_request_id(absl::StrCat("cancel-", id));
    req.set_incident_id(id);
    req.set_reason("重复上报");
    Call([&](grpc::ClientContext* c, v1::IncidentResponse* r) {
      return incident_stub_->CancelIncident(c, req, r);
    });
  }
  template <typename F>
  void Call(F f, const std::string& person = "op", const std::string& role = "operator",
            const std::string& scope = "3301") {
    v1::IncidentResponse resp;
    grpc::Status s = f(CallAs(person, role, scope).get(), &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ++events_;
  }
  v1::Incident Get(const std::string& id) {
    v1::GetIncidentRequest req;
    req.set_id(id);
    v1::Incident out;
    grpc::Status s = incident_stub_->GetIncident(CallAs("op", "operator", "3301").get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  // The scripted month: five noise complaints in the test grid, all handled by gw-1.
  //   A accepted in 10 min, resolved, satisfied.
  //   B accepted in 10 min, resolved, basically satisfied.
  //   C accepted in 10 min, resolved, dissatisfied (reopened), handled again, satisfied.
  //   D assigned, not accepted within 2 h (overdue), accepted late, resolved, no feedback.
  //   E reported twice by mistake and cancelled.
  //   F accepted in 10 min, still being handled.
  void PlayScript() {
    a_ = Report("a");
    b_ = Report("b");
    c_ = Report("c");
    d_ = Report("d");
    e_ = Report("e");
    f_ = Report("f");
    clock_.Advance(absl::Minutes(10));
    for (const std::string& id : {a_, b_, c_, f_}) {
      Assign(id);
      Accept(id);
    }
    Assign(d_);
    clock_.Advance(absl::Minutes(50));
    for (const std::string& id : {a_, b_, c_}) Resolve(id);
    Feedback(a_, v1::SATISFACTION_SATISFIED);
    Feedback(b_, v1::SATISFACTION_BASICALLY_SATISFIED);
    Feedback(c_, v1::SATISFACTION_DISSATISFIED);
    Cancel(e_);
    Assign(c_);
    Accept(c_);
    // D's respond-by deadline passes; the incidents service marks it overdue.
    clock_.Advance(absl::Minutes(61));
    ASSERT_TRUE(Eventually([&] { return Get(d_).respond_overdue(); }));
    ++events_;
    Accept(d_);
    Resolve(d_);
    Resolve(c_);
    Feedback(c_, v1::SATISFACTION_SATISFIED);
  }

  void WaitForFolded() {
    ASSERT_TRUE(Eventually([&] { return assessment_->consumer()->processed() >= events_; }))
        << assessment_->consumer()->processed() << " of " << events_;
  }

  v1::Scorecard Card(v1::SubjectKind kind, const std::string& id,
                     v1::Period period = v1::PERIOD_MONTH) {
    v1::GetScorecardRequest req;
    req.set_subject_kind(kind);
    req.set_subject_id(id);
    req.set_period(period);
    *req.mutable_at() = ToTimestamp(kT0);
    v1::Scorecard out;
    grpc::Status s = stub_->GetScorecard(CallAs("sup", "supervisor", "3301").get(), req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  static const v1::Rate& RateOf(const v1::Scorecard& card, const std::string& name) {
    for (const v1::Rate& r : card.rates()) {
      if (r.name() == name) return r;
    }
    static const v1::Rate kNone;
    ADD_FAILURE() << "no rate " << name;
    return kNone;
  }

  // Every counter of a generation, keyed without the generation: the figures themselves.
  std::map<std::string, std::map<std::string, std::string>> Counters(int64_t generation) {
    std::map<std::string, std::map<std::string, std::string>> out;
    const std::string prefix = absl::StrCat("asm:{a}:", generation, ":");
    std::string cursor = "0";
    do {
      auto r = redis_->Command({"SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000"});
      EXPECT_TRUE(r.ok());
      cursor = r->elements[0].str;
      for (const auto& k : r->elements[1].elements) {
        const std::string rest = k.str.substr(prefix.size());
        // Facts keep their revision count, which depends on how often an incident was
        // folded, not on what it says; everything else must match exactly.
        if (absl::StartsWith(rest, "f:") || absl::StartsWith(rest, "seen:")) continue;
        auto type = redis_->Command({"TYPE", k.str});
        std::vector<std::string> dump;
        if (type->str == "hash") dump = {"HGETALL", k.str};
        if (type->str == "zset") dump = {"ZRANGE", k.str, "0", "-1", "WITHSCORES"};
        if (dump.empty()) continue;
        auto v = redis_->Command(dump);
        auto& m = out[rest];
        for (size_t i = 0; i + 1 < v->elements.size(); i += 2) {
          m[v->elements[i].str] = v->elements[i + 1].str;
        }
      }
    } while (cursor != "0");
    return out;
  }

  v1::Rebuild RunRebuild(const std::string& id, const std::string& formula = "") {
    v1::StartRebuildRequest req;
    req.set_request_id(id);
    req.set_formula_version(formula);
    v1::Rebuild started;
    grpc::Status s = stub_->StartRebuild(CallAs("op", "operator", "3301").get(), req, &started);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::Rebuild now;
    EXPECT_TRUE(Eventually([&] {
      v1::GetRebuildRequest get;
      get.set_rebuild_id(id);
      grpc::Status g = stub_->GetRebuild(CallAs("op", "operator", "3301").get(), get, &now);
      return g.ok() && now.state() != v1::REBUILD_STATE_RUNNING;
    }));
    return now;
  }

  FakeClock clock_;
  std::unique_ptr<testing::RedisServer> redis_server_;
  std::unique_ptr<testing::MockKafkaCluster> kafka_;
  std::unique_ptr<residents::App> residents_;
  std::unique_ptr<incidents::App> incidents_;
  std::unique_ptr<assessment::App> assessment_;
  std::unique_ptr<redis::Client> redis_;
  std::string residents_addr_;
  std::unique_ptr<v1::ResidentService::Stub> resident_stub_;
  std::unique_ptr<v1::IncidentService::Stub> incident_stub_;
  std::unique_ptr<v1::AssessmentService::Stub> stub_;
  int64_t events_ = 0;
  std::string a_, b_, c_, d_, e_, f_;
};

TEST_F(AssessmentServiceTest, AScriptedMonthGivesExactlyTheScorecardComputedByHand) {
  PlayScript();
  WaitForFolded();
  for (const std::string& region : {std::string(kGrid), std::string(kStreet)}) {
    const v1::Scorecard card = Card(v1::SUBJECT_KIND_REGION, region);
    SCOPED_TRACE(region);
    EXPECT_EQ(card.period_key(), "2026-11");
    EXPECT_EQ(card.received(), 6);
    EXPECT_EQ(card.cancelled(), 1);
    // Response: A, B, C, F on time, D late; E cancelled.
    EXPECT_EQ(RateOf(card, "response").numerator(), 4);
    EXPECT_EQ(RateOf(card, "response").denominator(), 5);
    // Resolution: A, B, C closed; D resolved but not closed and F open, their deadlines
    // not passed.
    EXPECT_EQ(RateOf(card, "resolution").numerator(), 3);
    EXPECT_EQ(RateOf(card, "resolution").denominator(), 3);
    EXPECT_EQ(RateOf(card, "timeliness").numerator(), 4);
    EXPECT_EQ(RateOf(card, "timeliness").denominator(), 4);
    // Satisfaction: A satisfied, B basically (0.8), C's final word satisfied; D none.
    EXPECT_DOUBLE_EQ(RateOf(card, "satisfaction").numerator(), 2.8);
    EXPECT_EQ(RateOf(card, "satisfaction").denominator(), 3);
    EXPECT_NEAR(RateOf(card, "satisfaction").value(), 2.8 / 3, 1e-12);
    EXPECT_EQ(RateOf(card, "reopen").numerator(), 1);
    EXPECT_EQ(RateOf(card, "reopen").denominator(), 3);
    EXPECT_EQ(RateOf(card, "escalation").numerator(), 0);
    EXPECT_EQ(RateOf(card, "escalation").denominator(), 5);
    // The v1 weights over the rates with data (documented in docs/assessment.md).
    const double expected =
        100 * (0.25 * 0.8 + 0.25 * 1.0 + 0.35 * (2.8 / 3) + 0.10 * 1.0 + 0.05 * (1 - 1.0 / 3)) /
        (0.25 + 0.25 + 0.35 + 0.10 + 0.05);
    EXPECT_NEAR(card.score(), expected, 1e-9);
    EXPECT_EQ(card.sample(), 5);
    EXPECT_FALSE(card.insufficient_sample());
    EXPECT_EQ(card.stars(), 5) << "score " << card.score() << " ≥ 90, satisfaction ≥ 0.90";
    EXPECT_EQ(card.missed_size(), 0);
    EXPECT_EQ(card.formula_version(), "v1");
  }
  const v1::Scorecard gw = Card(v1::SUBJECT_KIND_GRID_WORKER, "gw-1");
  EXPECT_EQ(gw.received(), 5) << "E was never assigned";
  EXPECT_EQ(RateOf(gw, "response").numerator(), 4);
  EXPECT_EQ(RateOf(gw, "satisfaction").denominator(), 3);
  // A day's card: the deadlines of the 27th fall on the 27th (09:00 + 2 h) for response,
  // and on the 28th for resolution.
  const v1::Scorecard day = Card(v1::SUBJECT_KIND_REGION, kGrid, v1::PERIOD_DAY);
  EXPECT_EQ(day.period_key(), "2026-11-27");
  EXPECT_EQ(RateOf(day, "response").denominator(), 5);
  EXPECT_EQ(RateOf(day, "resolution").denominator(), 0);

  // Explain: the incidents behind the response numerator.
  v1::ExplainRequest ex;
  ex.set_subject_kind(v1::SUBJECT_KIND_REGION);
  ex.set_subject_id(kGrid);
  ex.set_period(v1::PERIOD_MONTH);
  *ex.mutable_at() = ToTimestamp(kT0);
  ex.set_rate("response");
  ex.set_part(v1::EXPLAIN_PART_NUMERATOR);
  ex.set_page_size(2);
  std::vector<std::string> ids;
  std::string token;
  do {
    ex.set_page_token(token);
    v1::ExplainResponse page;
    grpc::Status s = stub_->Explain(CallAs("sup", "supervisor", "3301").get(), ex, &page);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(page.total(), 4);
    for (const auto& i : page.incidents()) ids.push_back(i.incident_id());
    token = page.next_page_token();
  } while (!token.empty());
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> want{a_, b_, c_, f_};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ids, want);
}

TEST_F(AssessmentServiceTest, RedeliveredAndReorderedEventsChangeNoFigure) {
  PlayScript();
  WaitForFolded();
  auto g = assessment_->store().GetGenerations();
  ASSERT_TRUE(g.ok());
  const auto before = Counters(g->current);
  ASSERT_FALSE(before.empty());
  // Every incident event again, newest first within the topic.
  std::vector<kafka::Record> records;
  kafka::ReplayOptions ro;
  ro.brokers = kafka_->bootstrap();
  ro.topics = {incidents::kIncidentEventsTopic};
  auto replayed = kafka::Replay(ro, [&](const kafka::Record& r) {
    records.push_back(r);
    return absl::OkStatus();
  });
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  ASSERT_EQ(replayed->done, events_);
  kafka::ProducerOptions po;
  po.brokers = kafka_->bootstrap();
  auto producer = kafka::Producer::Create(po);
  ASSERT_TRUE(producer.ok());
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    ASSERT_TRUE((*producer)->ProduceSync(it->topic, it->key, it->value).ok());
  }
  events_ *= 2;
  WaitForFolded();
  EXPECT_EQ(Counters(g->current), before);
  EXPECT_GE(assessment_->folder().repeats(), static_cast<int64_t>(records.size()));
}

TEST_F(AssessmentServiceTest, ARebuildFromTheTopicsEqualsTheLiveFiguresAndSwitchesOver) {
  PlayScript();
  WaitForFolded();
  auto g = assessment_->store().GetGenerations();
  ASSERT_TRUE(g.ok());
  const auto live = Counters(g->current);
  const v1::Scorecard live_card = Card(v1::SUBJECT_KIND_REGION, kGrid);
  ASSERT_FALSE(live.empty());

  const v1::Rebuild done = RunRebuild("rebuild-1");
  ASSERT_EQ(done.state(), v1::REBUILD_STATE_SWITCHED) << done.error();
  EXPECT_EQ(done.events_folded(), events_);
  EXPECT_EQ(done.previous_generation(), g->current);
  auto after = assessment_->store().GetGenerations();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->current, done.generation());
  EXPECT_EQ(after->building, 0);
  EXPECT_EQ(Counters(done.generation()), live);
  const v1::Scorecard rebuilt_card = Card(v1::SUBJECT_KIND_REGION, kGrid);
  EXPECT_EQ(rebuilt_card.DebugString(), live_card.DebugString());
  // The replaced keyspace is dropped.
  EXPECT_TRUE(Eventually([&] { return Counters(g->current).empty(); }));

  // Events after the switch are folded into the new generation.
  const std::string f = Report("late");
  WaitForFolded();
  EXPECT_EQ(Card(v1::SUBJECT_KIND_REGION, kGrid).received(), 7);
  (void)f;
}

TEST_F(AssessmentServiceTest, ARebuildCanApplyANewFormulaVersionToTheWholeHistory) {
  const std::string path = ::testing::TempDir() + "/scoring.conf";
  {
    FILE* f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs(
        "[v2]\nweight.satisfaction = 1\nweight.response = 0\nweight.resolution = 0\n"
        "weight.timeliness = 0\nweight.reopen = 0\n",
        f);
    fclose(f);
  }
  assessment_.reset();
  StartAssessment(path);
  PlayScript();
  WaitForFolded();
  EXPECT_EQ(Card(v1::SUBJECT_KIND_REGION, kGrid).formula_version(), "v1");
  const v1::Rebuild done = RunRebuild("rebuild-v2", "v2");
  ASSERT_EQ(done.state(), v1::REBUILD_STATE_SWITCHED) << done.error();
  const v1::Scorecard card = Card(v1::SUBJECT_KIND_REGION, kGrid);
  EXPECT_EQ(card.formula_version(), "v2");
  EXPECT_NEAR(card.score(), 100 * 2.8 / 3, 1e-9);
  // An unknown version is refused up front.
  v1::StartRebuildRequest bad;
  bad.set_request_id("rebuild-v9");
  bad.set_formula_version("v9");
  v1::Rebuild out;
  EXPECT_EQ(stub_->StartRebuild(CallAs("op", "operator", "3301").get(), bad, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AssessmentServiceTest, FrozenRatingsChangeOnlyThroughARecordedAppeal) {
  PlayScript();
  WaitForFolded();
  v1::FreezeRatingsRequest freeze;
  freeze.set_request_id("freeze-1");
  freeze.set_subject_kind(v1::SUBJECT_KIND_REGION);
  freeze.set_within_region("3301.06.003.001");
  freeze.set_period(v1::PERIOD_MONTH);
  *freeze.mutable_at() = ToTimestamp(kT0);
  v1::FreezeRatingsResponse frozen;
  ASSERT_TRUE(
      stub_->FreezeRatings(CallAs("sup", "supervisor", "3301").get(), freeze, &frozen).ok());
  EXPECT_EQ(frozen.frozen(), 1);
  const v1::Scorecard at_freeze = Card(v1::SUBJECT_KIND_REGION, kGrid);
  EXPECT_TRUE(at_freeze.frozen());
  EXPECT_EQ(at_freeze.stars(), 5);

  // New events move the live figures, not the frozen rating.
  const std::string g = Report("g");
  clock_.Advance(absl::Hours(3));
  ASSERT_TRUE(Eventually([&] { return Get(g).respond_overdue(); }));
  ++events_;
  WaitForFolded();
  const v1::Scorecard later = Card(v1::SUBJECT_KIND_REGION, kGrid);
  EXPECT_TRUE(later.frozen());
  EXPECT_EQ(later.score(), at_freeze.score());
  EXPECT_NE(later.live_score(), at_freeze.score());

  v1::AppealRatingRequest appeal;
  appeal.set_request_id("appeal-1");
  appeal.set_subject_kind(v1::SUBJECT_KIND_REGION);
  appeal.set_subject_id(kGrid);
  appeal.set_period(v1::PERIOD_MONTH);
  *appeal.mutable_at() = ToTimestamp(kT0);
  appeal.set_stars(4);
  appeal.set_score(86);
  appeal.set_reason("复核发现 B 的回访记录有误，经街道审定降为四星");
  v1::Appeal recorded;
  ASSERT_TRUE(
      stub_->AppealRating(CallAs("sup", "supervisor", "3301").get(), appeal, &recorded).ok());
  EXPECT_EQ(recorded.stars_before(), 5);
  EXPECT_EQ(recorded.stars_after(), 4);
  EXPECT_EQ(recorded.decided_by(), "sup");
  EXPECT_EQ(Card(v1::SUBJECT_KIND_REGION, kGrid).stars(), 4);
  v1::ListAppealsRequest list;
  list.set_subject_kind(v1::SUBJECT_KIND_REGION);
  list.set_subject_id(kGrid);
  list.set_period(v1::PERIOD_MONTH);
  *list.mutable_at() = ToTimestamp(kT0);
  v1::ListAppealsResponse appeals;
  ASSERT_TRUE(stub_->ListAppeals(CallAs("sup", "supervisor", "3301").get(), list, &appeals).ok());
  ASSERT_EQ(appeals.appeals_size(), 1);
  EXPECT_EQ(appeals.appeals(0).reason(), appeal.reason());
  // A grid worker may not appeal.
  v1::Appeal denied;
  appeal.set_request_id("appeal-2");
  EXPECT_EQ(
      stub_->AppealRating(CallAs("gw-1", "grid_worker", kGrid).get(), appeal, &denied).error_code(),
      grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AssessmentServiceTest, RankingsTrendAndScoreEvents) {
  PlayScript();
  WaitForFolded();
  v1::ListRankingsRequest req;
  req.set_subject_kind(v1::SUBJECT_KIND_REGION);
  req.set_within_region("3301.06");
  req.set_region_depth(5);
  req.set_period(v1::PERIOD_MONTH);
  *req.mutable_at() = ToTimestamp(kT0);
  v1::ListRankingsResponse ranked;
  ASSERT_TRUE(stub_->ListRankings(CallAs("sup", "supervisor", "3301").get(), req, &ranked).ok());
  ASSERT_EQ(ranked.entries_size(), 1);
  EXPECT_EQ(ranked.entries(0).rank(), 1);
  EXPECT_EQ(ranked.entries(0).scorecard().subject_id(), kGrid);
  // Grid workers with incidents in the district: gw-1 held 5, just the minimum sample.
  req.set_subject_kind(v1::SUBJECT_KIND_GRID_WORKER);
  req.set_region_depth(0);
  ASSERT_TRUE(stub_->ListRankings(CallAs("sup", "supervisor", "3301").get(), req, &ranked).ok());
  EXPECT_EQ(ranked.ranked(), 1);
  EXPECT_EQ(ranked.insufficient_sample(), 0);
  ASSERT_EQ(ranked.entries_size(), 1);
  EXPECT_EQ(ranked.entries(0).scorecard().subject_id(), "gw-1");

  v1::GetTrendRequest trend;
  trend.set_subject_kind(v1::SUBJECT_KIND_REGION);
  trend.set_subject_id(kGrid);
  trend.set_period(v1::PERIOD_MONTH);
  *trend.mutable_at() = ToTimestamp(kT0);
  trend.set_periods(3);
  v1::GetTrendResponse t;
  ASSERT_TRUE(stub_->GetTrend(CallAs("sup", "supervisor", "3301").get(), trend, &t).ok());
  ASSERT_EQ(t.scorecards_size(), 3);
  EXPECT_EQ(t.scorecards(0).period_key(), "2026-09");
  EXPECT_EQ(t.scorecards(2).period_key(), "2026-11");
  EXPECT_EQ(t.scorecards(0).received(), 0);
  EXPECT_EQ(t.scorecards(2).received(), 6);

  // Score events: at most one per subject per minute, and only when the score changed.
  const std::string reg = absl::StrCat("reg:", kGrid);
  std::map<std::string, int> per_subject;
  auto count = [&] {
    per_subject.clear();
    kafka::ReplayOptions ro;
    ro.brokers = kafka_->bootstrap();
    ro.topics = {assessment::kScoreEventsTopic};
    auto r = kafka::Replay(ro, [&](const kafka::Record& rec) {
      v1::ScoreEvent e;
      EXPECT_TRUE(e.ParseFromString(rec.value));
      EXPECT_EQ(rec.key, absl::StrCat(assessment::KindKey(e.subject_kind()), ":", e.subject_id()));
      ++per_subject[rec.key];
      return absl::OkStatus();
    });
    EXPECT_TRUE(r.ok()) << r.status();
    return per_subject[reg];
  };
  auto settled = [&] {
    auto dirty = assessment_->store().DirtySubjects(absl::InfiniteFuture(), 100);
    auto outbox = redis_->Command({"XLEN", "asm:{a}:outbox"});
    return dirty.ok() && dirty->empty() && outbox.ok() && outbox->integer == 0;
  };
  clock_.Advance(absl::Minutes(2));
  ASSERT_TRUE(Eventually(settled));
  const int first = count();
  EXPECT_GE(first, 1);
  EXPECT_GE(per_subject["gw:gw-1"], 1);

  // h's report is folded and whatever it changed published (at once, or once the minute
  // since the last event is over) before its deadline is missed: its score event then
  // stands apart from the one the missed deadline brings.
  const std::string h = Report("h");
  WaitForFolded();
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(Eventually(settled));
  const int before = count();
  EXPECT_GE(before, first);
  // A change of score: h misses its respond-by deadline.
  clock_.Advance(absl::Hours(2) + absl::Minutes(1));
  ASSERT_TRUE(Eventually([&] { return Get(h).respond_overdue(); }));
  ++events_;
  WaitForFolded();
  ASSERT_TRUE(Eventually([&] { return count() == before + 1; }));
  // Another change within the minute (h cancelled: out of the response rate again) waits.
  Cancel(h);
  WaitForFolded();
  clock_.Advance(absl::Seconds(30));
  auto published = assessment_->assessment().PublishDueScores(100);
  ASSERT_TRUE(published.ok());
  EXPECT_EQ(*published, 0);
  EXPECT_EQ(count(), before + 1);
  clock_.Advance(absl::Seconds(31));
  ASSERT_TRUE(Eventually([&] { return count() == before + 2; }));
}

TEST_F(AssessmentServiceTest, ASurveyCountsInTheRegionsScoreWithItsOwnWeight) {
  PlayScript();
  WaitForFolded();
  const double before = Card(v1::SUBJECT_KIND_REGION, kGrid).score();

  v1::CreateResidentRequest cr;
  cr.set_request_id("resident-1");
  cr.mutable_resident()->set_name("王阿姨");
  cr.mutable_resident()->set_region_code(kGrid);
  v1::Resident resident;
  ASSERT_TRUE(
      resident_stub_->CreateResident(CallAs("op", "operator", "3301").get(), cr, &resident).ok());

  v1::DefineSurveyRequest def;
  def.set_request_id("survey-1");
  def.set_title("2026年第四季度文明指数测评");
  def.set_region_code(testing::kTestCommunity);
  v1::Question* q = def.add_questions();
  q->set_type(v1::QUESTION_TYPE_RATING);
  q->set_text("您对社区环境卫生是否满意？");
  q->set_scale(5);
  q->set_satisfaction(true);
  q->set_required(true);
  v1::Question* t = def.add_questions();
  t->set_type(v1::QUESTION_TYPE_FREE_TEXT);
  t->set_text("您的建议");
  *def.mutable_closes_at() = ToTimestamp(kT0 + absl::Hours(24 * 7));
  v1::Survey survey;
  grpc::Status s = stub_->DefineSurvey(CallAs("sup", "supervisor", "3301").get(), def, &survey);
  ASSERT_TRUE(s.ok()) << s.error_message();

  v1::RespondToSurveyRequest resp;
  resp.set_request_id("answer-1");
  resp.set_survey_id(survey.id());
  v1::Answer* a = resp.add_answers();
  a->set_question_id(survey.questions(0).id());
  a->set_rating(4);
  v1::SurveyReceipt receipt;
  s = stub_->RespondToSurvey(CallAs(resident.id(), "resident").get(), resp, &receipt);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_DOUBLE_EQ(receipt.satisfaction(), 0.75);
  // One response per resident.
  resp.set_request_id("answer-2");
  EXPECT_EQ(
      stub_->RespondToSurvey(CallAs(resident.id(), "resident").get(), resp, &receipt).error_code(),
      grpc::StatusCode::ALREADY_EXISTS);

  const v1::Scorecard card = Card(v1::SUBJECT_KIND_REGION, kGrid);
  EXPECT_DOUBLE_EQ(RateOf(card, "survey_satisfaction").numerator(), 0.75);
  EXPECT_EQ(RateOf(card, "survey_satisfaction").denominator(), 1);
  EXPECT_EQ(RateOf(card, "survey_satisfaction").weight(), 0.20);
  // The survey weighs 0.20 beside the incident rates' 1.0.
  EXPECT_NEAR(card.score(), (before + 0.20 * 75) / 1.20, 1e-9);
  // And up the tree; the street sees it too.
  EXPECT_EQ(RateOf(Card(v1::SUBJECT_KIND_REGION, kStreet), "survey_satisfaction").denominator(), 1);

  v1::GetSurveyResultsRequest results_req;
  results_req.set_survey_id(survey.id());
  v1::SurveyResults results;
  ASSERT_TRUE(
      stub_->GetSurveyResults(CallAs("sup", "supervisor", "3301").get(), results_req, &results)
          .ok());
  EXPECT_EQ(results.responses(), 1);
  EXPECT_DOUBLE_EQ(results.satisfaction(), 0.75);
}

TEST_F(AssessmentServiceTest, VolunteersAreMeasuredOnTheirOffersAndHoursFromDispatchEvents) {
  kafka::ProducerOptions po;
  po.brokers = kafka_->bootstrap();
  auto producer = kafka::Producer::Create(po);
  ASSERT_TRUE(producer.ok()) << producer.status();
  auto send = [&](const std::string& id, v1::DispatchEventType type) {
    v1::DispatchEvent e;
    e.set_event_id(id);
    e.set_type(type);
    e.set_volunteer_id("vol-1");
    e.set_incident_id("inc-x");
    *e.mutable_occurred_at() = ToTimestamp(kT0);
    if (type == v1::DISPATCH_EVENT_TYPE_HOURS_CREDITED) {
      e.mutable_credit()->set_hours(1.5);
      e.mutable_credit()->set_points(15);
      *e.mutable_credit()->mutable_at() = ToTimestamp(kT0);
    }
    ASSERT_TRUE((*producer)
                    ->ProduceSync(assessment::kDispatchEventsTopic, "inc-x", e.SerializeAsString())
                    .ok());
  };
  send("d1", v1::DISPATCH_EVENT_TYPE_OFFER_MADE);
  send("d2", v1::DISPATCH_EVENT_TYPE_OFFER_DECLINED);
  send("d3", v1::DISPATCH_EVENT_TYPE_OFFER_MADE);
  send("d4", v1::DISPATCH_EVENT_TYPE_OFFER_ACCEPTED);
  send("d5", v1::DISPATCH_EVENT_TYPE_HOURS_CREDITED);
  send("d4", v1::DISPATCH_EVENT_TYPE_OFFER_ACCEPTED);  // redelivered
  send("d6", v1::DISPATCH_EVENT_TYPE_ASSIGNED);        // counts for nothing
  events_ = 7;
  WaitForFolded();
  v1::GetScorecardRequest req;
  req.set_subject_kind(v1::SUBJECT_KIND_VOLUNTEER);
  req.set_subject_id("vol-1");
  req.set_period(v1::PERIOD_MONTH);
  *req.mutable_at() = ToTimestamp(kT0);
  v1::Scorecard card;
  // The volunteer reads their own scorecard.
  ASSERT_TRUE(stub_->GetScorecard(CallAs("vol-1", "volunteer").get(), req, &card).ok());
  EXPECT_EQ(RateOf(card, "offer_acceptance").numerator(), 1);
  EXPECT_EQ(RateOf(card, "offer_acceptance").denominator(), 2);
  EXPECT_DOUBLE_EQ(card.service_hours(), 1.5);
  EXPECT_EQ(card.service_points(), 15);
  // Another volunteer may not.
  EXPECT_EQ(stub_->GetScorecard(CallAs("vol-2", "volunteer").get(), req, &card).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AssessmentServiceTest, BadRequestsNameTheField) {
  v1::GetScorecardRequest req;
  v1::Scorecard out;
  grpc::Status s = stub_->GetScorecard(CallAs("sup", "supervisor", "3301").get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("subject_kind"), std::string::npos);
  req.set_subject_kind(v1::SUBJECT_KIND_REGION);
  req.set_subject_id(kGrid);
  s = stub_->GetScorecard(CallAs("sup", "supervisor", "3301").get(), req, &out);
  EXPECT_NE(s.error_message().find("period"), std::string::npos);
  req.set_period(v1::PERIOD_WEEK);
  s = stub_->GetScorecard(CallAs("", "anonymous").get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  s = stub_->GetScorecard(CallAs("gw-9", "grid_worker", "3301.06.009").get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  v1::ExplainRequest ex;
  ex.set_subject_kind(v1::SUBJECT_KIND_REGION);
  ex.set_subject_id(kGrid);
  ex.set_period(v1::PERIOD_DAY);
  ex.set_rate("happiness");
  v1::ExplainResponse er;
  s = stub_->Explain(CallAs("sup", "supervisor", "3301").get(), ex, &er);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("rate"), std::string::npos);
  ex.set_rate("response");
  ex.set_page_token("garbage");
  s = stub_->Explain(CallAs("sup", "supervisor", "3301").get(), ex, &er);
  EXPECT_NE(s.error_message().find("page_token"), std::string::npos);
}

}  // namespace
}  // namespace gridloop
