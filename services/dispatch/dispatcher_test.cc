// The dispatcher's decisions against a real redis-server, with IncidentService and
// ResidentService played by fakes that keep the rules dispatch relies on (versions,
// request ids), and a clock that moves only when told.
#include "services/dispatch/dispatcher.h"

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/clock/proto_time.h"
#include "common/outbox/entry.h"
#include "common/redis/redis_client.h"
#include "common/testing/redis_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/dispatch/redis_dispatch_store.h"
#include "services/dispatch/redis_volunteer_store.h"

namespace gridloop::dispatch {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;

constexpr char kGrid[] = "3301.06.003.001.g01";

// IncidentService as dispatch sees it: assignments and escalations checked against the
// version, and a repeated request_id answered with its first result.
class FakeIncidents final : public IncidentCommands {
 public:
  void Put(const v1::Incident& inc) {
    absl::MutexLock lock(&mu_);
    incidents_[inc.id()] = inc;
  }
  v1::Incident Current(const std::string& id) {
    absl::MutexLock lock(&mu_);
    return incidents_[id];
  }
  int assign_calls() {
    absl::MutexLock lock(&mu_);
    return assign_calls_;
  }
  void set_down(bool down) {
    absl::MutexLock lock(&mu_);
    down_ = down;
  }

  absl::StatusOr<v1::Incident> Assign(const v1::AssignIncidentRequest& req) override {
    absl::MutexLock lock(&mu_);
    if (down_) return absl::UnavailableError("incidents down");
    if (auto it = first_.find(req.request_id()); it != first_.end()) return it->second;
    ++assign_calls_;
    v1::Incident& inc = incidents_[req.incident_id()];
    if (req.expected_version() != 0 && req.expected_version() != inc.version()) {
      return absl::AbortedError("stale version");
    }
    inc.set_status(v1::INCIDENT_STATUS_ASSIGNED);
    *inc.mutable_assignee() = req.assignee();
    inc.set_version(inc.version() + 1);
    first_[req.request_id()] = inc;
    return inc;
  }
  absl::StatusOr<v1::Incident> Escalate(const v1::EscalateIncidentRequest& req) override {
    absl::MutexLock lock(&mu_);
    if (auto it = first_.find(req.request_id()); it != first_.end()) return it->second;
    v1::Incident& inc = incidents_[req.incident_id()];
    if (req.expected_version() != 0 && req.expected_version() != inc.version()) {
      return absl::AbortedError("stale version");
    }
    inc.set_status(v1::INCIDENT_STATUS_ESCALATED);
    inc.set_escalation_level(static_cast<v1::EscalationLevel>(inc.escalation_level() + 1));
    inc.clear_assignee();
    inc.set_version(inc.version() + 1);
    first_[req.request_id()] = inc;
    return inc;
  }
  absl::StatusOr<v1::Incident> Get(absl::string_view id) override {
    absl::MutexLock lock(&mu_);
    return incidents_[std::string(id)];
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, v1::Incident> incidents_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::Incident> first_ ABSL_GUARDED_BY(mu_);
  int assign_calls_ ABSL_GUARDED_BY(mu_) = 0;
  bool down_ ABSL_GUARDED_BY(mu_) = false;
};

class FakeStaff final : public StaffDirectory {
 public:
  std::vector<std::string> grid_workers = {"gw-1", "gw-2"};
  std::vector<std::string> community = {"cl-1"};
  bool down = false;

  absl::StatusOr<v1::GetResponsibleResponse> Responsible(absl::string_view region,
                                                         absl::Time) override {
    if (down) return absl::UnavailableError("residents down");
    v1::GetResponsibleResponse resp;
    for (const std::string& p : grid_workers) {
      v1::StaffAssignment* s = resp.add_grid_workers();
      s->set_person_id(p);
      s->set_on_duty(true);
    }
    v1::EscalationStep* grid = resp.add_escalation_chain();
    grid->mutable_region()->set_code(std::string(region));
    grid->mutable_region()->set_level(v1::REGION_LEVEL_GRID);
    v1::EscalationStep* comm = resp.add_escalation_chain();
    comm->mutable_region()->set_level(v1::REGION_LEVEL_COMMUNITY);
    for (const std::string& p : community) comm->add_responsible()->set_person_id(p);
    return resp;
  }
  absl::StatusOr<bool> ResidentExists(absl::string_view) override { return true; }
};

// The Redis store, counting the records read.
class CountingDispatchStore final : public DispatchStore {
 public:
  explicit CountingDispatchStore(DispatchStore* inner) : inner_(inner) {}
  int job_reads() const { return job_reads_.load(); }

  absl::StatusOr<std::optional<v1::Dispatch>> GetJob(absl::string_view incident_id) override {
    job_reads_.fetch_add(1);
    return inner_->GetJob(incident_id);
  }
  absl::StatusOr<v1::Offer> GetOffer(absl::string_view offer_id) override {
    return inner_->GetOffer(offer_id);
  }
  absl::StatusOr<std::vector<v1::Offer>> GetOffers(
      const std::vector<std::string>& offer_ids) override {
    return inner_->GetOffers(offer_ids);
  }
  absl::Status Commit(const DispatchWrite& write) override { return inner_->Commit(write); }
  absl::StatusOr<std::vector<std::string>> DueTimers(absl::Time now, int limit) override {
    return inner_->DueTimers(now, limit);
  }

 private:
  DispatchStore* const inner_;
  std::atomic<int> job_reads_{0};
};

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = testing::RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    redis::Options o;
    o.port = server_->port();
    auto client = redis::Connect(o);
    ASSERT_TRUE(client.ok());
    redis_ = std::move(*client);
    dispatch_store_ =
        std::make_unique<RedisDispatchStore>(redis_.get(), [this](outbox::Appended entry) {
          absl::MutexLock lock(&handed_mu_);
          handed_.push_back(std::move(entry));
        });
    volunteer_store_ = std::make_unique<RedisVolunteerStore>(redis_.get());
    dispatcher_ = NewDispatcher();
  }

  std::unique_ptr<Dispatcher> NewDispatcher(DispatchStore* store = nullptr,
                                            DispatcherOptions options = DispatcherOptions()) {
    return std::make_unique<Dispatcher>(store != nullptr ? store : dispatch_store_.get(),
                                        volunteer_store_.get(), &index_, &routing_, &incidents_,
                                        &staff_, &clock_, options);
  }

  std::string AddVolunteer(const std::string& request_id, double metres_east,
                           const std::vector<std::string>& skills) {
    v1::Volunteer v;
    v.set_name(request_id);
    v.set_region_code(kGrid);
    v.mutable_location()->set_latitude(30.285);
    v.mutable_location()->set_longitude(120.105 + metres_east / 96000.0);
    for (const std::string& s : skills) v.add_skills(s);
    v.set_max_concurrent_tasks(1);
    auto stored = volunteer_store_->Register({request_id, "fp"}, v, clock_.Now());
    EXPECT_TRUE(stored.ok()) << stored.status();
    IndexedVolunteer iv;
    iv.id = stored->id();
    iv.latitude = v.location().latitude();
    iv.longitude = v.location().longitude();
    for (const std::string& s : skills) iv.skills |= *skills_.Bit(s);
    index_.Upsert(iv);
    return stored->id();
  }

  // Reports an incident to the fake and returns its `reported` event.
  v1::IncidentEvent Reported(const std::string& id, const std::string& category,
                             const std::string& named = "") {
    v1::Incident inc;
    inc.set_id(id);
    inc.set_status(v1::INCIDENT_STATUS_REPORTED);
    inc.set_version(1);
    inc.set_category(category);
    inc.set_region_code(kGrid);
    inc.mutable_location()->set_latitude(30.285);
    inc.mutable_location()->set_longitude(120.105);
    inc.set_requested_volunteer_id(named);
    incidents_.Put(inc);
    return EventOf(inc, v1::INCIDENT_EVENT_TYPE_REPORTED);
  }

  v1::IncidentEvent EventOf(const v1::Incident& inc, v1::IncidentEventType type,
                            const std::string& detail = "") {
    v1::IncidentEvent e;
    e.set_event_id(absl::StrCat(inc.id(), "-", inc.version()));
    e.set_incident_id(inc.id());
    e.set_version(inc.version());
    e.set_type(type);
    *e.mutable_occurred_at() = ToTimestamp(clock_.Now());
    *e.mutable_incident() = inc;
    e.set_detail(detail);
    return e;
  }

  // Someone assigns `id` to grid worker `who` by hand: the fake's new state and its event.
  v1::IncidentEvent AssignedByHand(const std::string& id, const std::string& who) {
    v1::Incident inc = incidents_.Current(id);
    inc.set_version(inc.version() + 1);
    inc.set_status(v1::INCIDENT_STATUS_ASSIGNED);
    inc.mutable_assignee()->set_kind(v1::ASSIGNEE_KIND_GRID_WORKER);
    inc.mutable_assignee()->set_id(who);
    incidents_.Put(inc);
    return EventOf(inc, v1::INCIDENT_EVENT_TYPE_ASSIGNED);
  }

  // The event IncidentService would publish for the fake's current state.
  v1::IncidentEvent Latest(const std::string& id, v1::IncidentEventType type) {
    return EventOf(incidents_.Current(id), type);
  }

  v1::Dispatch Job(const std::string& id) {
    auto job = dispatch_store_->GetJob(id);
    EXPECT_TRUE(job.ok() && job->has_value());
    return job.ok() && job->has_value() ? **job : v1::Dispatch();
  }

  Caller As(const std::string& person, Role role) { return Caller{person, role, "3301"}; }

  std::vector<outbox::Appended> Handed() {
    absl::MutexLock lock(&handed_mu_);
    return handed_;
  }

  FakeClock clock_;
  absl::Mutex handed_mu_;
  // What the store handed the relay.
  std::vector<outbox::Appended> handed_ ABSL_GUARDED_BY(handed_mu_);
  std::unique_ptr<testing::RedisServer> server_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<RedisDispatchStore> dispatch_store_;
  std::unique_ptr<RedisVolunteerStore> volunteer_store_;
  SkillCatalog skills_ = SkillCatalog::Default();
  Routing routing_ = Routing::Default(SkillCatalog::Default());
  VolunteerIndex index_;
  FakeIncidents incidents_;
  FakeStaff staff_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(DispatcherTest, AReplayedEventDecidesNothingTwice) {
  v1::IncidentEvent reported = Reported("inc-1", "roof_leak");
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(reported).ok());
  EXPECT_EQ(incidents_.Current("inc-1").assignee().id(), "gw-1");
  const v1::Dispatch before = Job("inc-1");
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(reported).ok());
  EXPECT_EQ(incidents_.assign_calls(), 1);
  EXPECT_EQ(Job("inc-1").SerializeAsString(), before.SerializeAsString());
}

TEST_F(DispatcherTest, TheEchoOfItsOwnAssignmentIsKnownWithoutReadingTheRecord) {
  CountingDispatchStore counting(dispatch_store_.get());
  std::unique_ptr<Dispatcher> dispatcher = NewDispatcher(&counting);
  ASSERT_TRUE(dispatcher->HandleIncidentEvent(Reported("inc-1", "roof_leak")).ok());
  EXPECT_EQ(counting.job_reads(), 1);
  const v1::Dispatch before = Job("inc-1");
  v1::IncidentEvent assigned = Latest("inc-1", v1::INCIDENT_EVENT_TYPE_ASSIGNED);
  ASSERT_EQ(before.incident_version(), assigned.version());
  ASSERT_TRUE(dispatcher->HandleIncidentEvent(assigned).ok());
  ASSERT_TRUE(dispatcher->HandleIncidentEvent(assigned).ok());
  EXPECT_EQ(counting.job_reads(), 1);
  EXPECT_EQ(Job("inc-1").SerializeAsString(), before.SerializeAsString());
  // A version it has not reached is read and applied as before.
  v1::Incident accepted = incidents_.Current("inc-1");
  accepted.set_status(v1::INCIDENT_STATUS_IN_PROGRESS);
  accepted.set_version(accepted.version() + 1);
  incidents_.Put(accepted);
  ASSERT_TRUE(
      dispatcher->HandleIncidentEvent(EventOf(accepted, v1::INCIDENT_EVENT_TYPE_ACCEPTED)).ok());
  EXPECT_EQ(counting.job_reads(), 2);
  EXPECT_EQ(Job("inc-1").incident_version(), accepted.version());
  EXPECT_EQ(Job("inc-1").incident_status(), v1::INCIDENT_STATUS_IN_PROGRESS);

  // With no slots every event reads the record, and decides the same.
  DispatcherOptions uncached;
  uncached.applied_versions_slots = 0;
  CountingDispatchStore counting_uncached(dispatch_store_.get());
  std::unique_ptr<Dispatcher> reads_all = NewDispatcher(&counting_uncached, uncached);
  ASSERT_TRUE(reads_all->HandleIncidentEvent(Reported("inc-2", "roof_leak")).ok());
  ASSERT_TRUE(
      reads_all->HandleIncidentEvent(Latest("inc-2", v1::INCIDENT_EVENT_TYPE_ASSIGNED)).ok());
  EXPECT_EQ(counting_uncached.job_reads(), 2);
  EXPECT_EQ(incidents_.assign_calls(), 2);
}

TEST_F(DispatcherTest, WhatAnotherReplicaAppliedSinceIsReadNotRemembered) {
  // This replica assigned inc-1 and remembers version 2; the other one then applied
  // the reopening (version 3) and reassigned it.
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(Reported("inc-1", "roof_leak")).ok());
  EXPECT_EQ(incidents_.Current("inc-1").assignee().id(), "gw-1");
  std::unique_ptr<Dispatcher> other = NewDispatcher();
  v1::Incident reopened = incidents_.Current("inc-1");
  reopened.set_status(v1::INCIDENT_STATUS_REOPENED);
  reopened.clear_assignee();
  reopened.set_version(reopened.version() + 1);
  incidents_.Put(reopened);
  const v1::IncidentEvent reopened_event = EventOf(reopened, v1::INCIDENT_EVENT_TYPE_REOPENED);
  ASSERT_TRUE(other->HandleIncidentEvent(reopened_event).ok());
  EXPECT_EQ(incidents_.Current("inc-1").assignee().id(), "gw-2");
  EXPECT_EQ(incidents_.assign_calls(), 2);
  // The same event redelivered to this replica (a rebalance): it finds the record moved
  // on and decides nothing again.
  const v1::Dispatch after = Job("inc-1");
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(reopened_event).ok());
  EXPECT_EQ(incidents_.assign_calls(), 2);
  EXPECT_EQ(Job("inc-1").SerializeAsString(), after.SerializeAsString());
}

TEST_F(DispatcherTest, WorkIsSpreadOverTheGridWorkersOnDuty) {
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(Reported("inc-1", "noise")).ok());
  ASSERT_TRUE(
      dispatcher_->HandleIncidentEvent(Latest("inc-1", v1::INCIDENT_EVENT_TYPE_ASSIGNED)).ok());
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(Reported("inc-2", "noise")).ok());
  EXPECT_EQ(incidents_.Current("inc-1").assignee().id(), "gw-1");
  EXPECT_EQ(incidents_.Current("inc-2").assignee().id(), "gw-2");  // gw-1 has one already
}

TEST_F(DispatcherTest, TheOnlyWorkerOnDutyGetsItWithoutLoadsBeingRead) {
  staff_.grid_workers = {"gw-1"};
  ASSERT_TRUE(redis_->Command({"CONFIG", "RESETSTAT"}).ok());
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(Reported("inc-1", "noise")).ok());
  EXPECT_EQ(incidents_.Current("inc-1").assignee().id(), "gw-1");
  auto stats = redis_->Command({"INFO", "commandstats"});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->str.find("cmdstat_scard"), std::string::npos) << stats->str;
  // The task was counted all the same: with a second worker on duty, the next incident
  // goes to the one without work.
  staff_.grid_workers = {"gw-1", "gw-2"};
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(Reported("inc-2", "noise")).ok());
  EXPECT_EQ(incidents_.Current("inc-2").assignee().id(), "gw-2");
  stats = redis_->Command({"INFO", "commandstats"});
  ASSERT_TRUE(stats.ok());
  EXPECT_NE(stats->str.find("cmdstat_scard"), std::string::npos);
}

TEST_F(DispatcherTest, WhileResidentsIsDownTheEventIsRetriedNotLost) {
  staff_.down = true;
  v1::IncidentEvent reported = Reported("inc-1", "roof_leak");
  EXPECT_EQ(dispatcher_->HandleIncidentEvent(reported).code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(dispatch_store_->GetJob("inc-1")->has_value());  // nothing recorded as done
  staff_.down = false;
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(reported).ok());
  EXPECT_EQ(incidents_.Current("inc-1").assignee().id(), "gw-1");
}

TEST_F(DispatcherTest, AnIncidentAssignedByHandMeanwhileIsLeftAlone) {
  v1::IncidentEvent reported = Reported("inc-1", "roof_leak");
  // A supervisor assigned it before dispatch read the report: version 2 exists.
  v1::Incident by_hand = incidents_.Current("inc-1");
  by_hand.set_version(2);
  by_hand.set_status(v1::INCIDENT_STATUS_ASSIGNED);
  by_hand.mutable_assignee()->set_kind(v1::ASSIGNEE_KIND_GRID_WORKER);
  by_hand.mutable_assignee()->set_id("gw-9");
  incidents_.Put(by_hand);
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(reported).ok());
  EXPECT_EQ(incidents_.Current("inc-1").assignee().id(), "gw-9");
  ASSERT_TRUE(
      dispatcher_->HandleIncidentEvent(EventOf(by_hand, v1::INCIDENT_EVENT_TYPE_ASSIGNED)).ok());
  EXPECT_EQ(Job("inc-1").assignee().id(), "gw-9");
}

TEST_F(DispatcherTest, AReopenedIncidentGoesToSomeoneNew) {
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(Reported("inc-1", "roof_leak")).ok());
  ASSERT_TRUE(
      dispatcher_->HandleIncidentEvent(Latest("inc-1", v1::INCIDENT_EVENT_TYPE_ASSIGNED)).ok());
  EXPECT_EQ(incidents_.Current("inc-1").assignee().id(), "gw-1");
  v1::Incident reopened = incidents_.Current("inc-1");
  reopened.set_status(v1::INCIDENT_STATUS_REOPENED);
  reopened.clear_assignee();
  reopened.set_version(reopened.version() + 1);
  incidents_.Put(reopened);
  ASSERT_TRUE(
      dispatcher_->HandleIncidentEvent(EventOf(reopened, v1::INCIDENT_EVENT_TYPE_REOPENED)).ok());
  EXPECT_EQ(incidents_.Current("inc-1").assignee().id(), "gw-2");
  EXPECT_EQ(Job("inc-1").previous_assignee().id(), "gw-1");
}

TEST_F(DispatcherTest, WithNobodyOnTheLedgerTheDepartmentGetsIt) {
  staff_.grid_workers.clear();
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(Reported("inc-1", "roof_leak")).ok());
  EXPECT_EQ(incidents_.Current("inc-1").assignee().kind(), v1::ASSIGNEE_KIND_DEPARTMENT);
  EXPECT_EQ(incidents_.Current("inc-1").assignee().id(), "housing");
}

TEST_F(DispatcherTest, AnOverdueIncidentIsEscalatedAndAssignedOneLevelUp) {
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(Reported("inc-1", "roof_leak")).ok());
  v1::IncidentEvent assigned = Latest("inc-1", v1::INCIDENT_EVENT_TYPE_ASSIGNED);
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(assigned).ok());
  v1::Incident overdue = incidents_.Current("inc-1");
  overdue.set_version(overdue.version() + 1);
  overdue.set_respond_overdue(true);
  incidents_.Put(overdue);
  v1::IncidentEvent overdue_event = EventOf(overdue, v1::INCIDENT_EVENT_TYPE_OVERDUE, "respond");
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(overdue_event).ok());
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(overdue_event).ok());  // replayed: once only
  v1::Incident escalated = incidents_.Current("inc-1");
  EXPECT_EQ(escalated.escalation_level(), v1::ESCALATION_LEVEL_COMMUNITY);
  ASSERT_TRUE(
      dispatcher_->HandleIncidentEvent(EventOf(escalated, v1::INCIDENT_EVENT_TYPE_ESCALATED)).ok());
  EXPECT_EQ(incidents_.Current("inc-1").assignee().id(), "cl-1");
  EXPECT_EQ(incidents_.Current("inc-1").escalation_level(), v1::ESCALATION_LEVEL_COMMUNITY);
}

TEST_F(DispatcherTest, AnOfferDeadlineFiresOnceAcrossReplicas) {
  const std::string a = AddVolunteer("va", 100, {"elderly_care"});
  const std::string b = AddVolunteer("vb", 300, {"elderly_care"});
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(Reported("inc-1", "elderly_help")).ok());
  EXPECT_EQ(Job("inc-1").tried(0), a);
  std::unique_ptr<Dispatcher> replica = NewDispatcher();
  clock_.Advance(absl::Minutes(11));
  absl::StatusOr<int> first = dispatcher_->FireDueTimers(100);
  absl::StatusOr<int> second = replica->FireDueTimers(100);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first + *second, 1);
  v1::Dispatch job = Job("inc-1");
  ASSERT_EQ(job.offers_made(), 2);  // expired once, so exactly one next offer
  EXPECT_EQ(job.tried(1), b);
  auto offers = dispatch_store_->GetOffers({OfferId("inc-1", 1), OfferId("inc-1", 2)});
  ASSERT_TRUE(offers.ok());
  EXPECT_EQ((*offers)[0].status(), v1::OFFER_STATUS_EXPIRED);
  EXPECT_EQ((*offers)[1].status(), v1::OFFER_STATUS_OFFERED);
}

TEST_F(DispatcherTest, AnAcceptedOfferIsAssignedOnceIncidentsIsBack) {
  const std::string a = AddVolunteer("va", 100, {"elderly_care"});
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(Reported("inc-1", "elderly_help")).ok());
  incidents_.set_down(true);
  v1::RespondToOfferRequest req;
  req.set_request_id("r1");
  req.set_offer_id(OfferId("inc-1", 1));
  req.set_accept(true);
  absl::StatusOr<v1::Offer> accepted = dispatcher_->RespondToOffer(req, As(a, Role::kVolunteer));
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->status(), v1::OFFER_STATUS_ACCEPTED);
  EXPECT_FALSE(accepted->assigned());
  incidents_.set_down(false);
  clock_.Advance(absl::Seconds(6));
  ASSERT_TRUE(dispatcher_->FireDueTimers(100).ok());
  EXPECT_EQ(incidents_.Current("inc-1").assignee().id(), a);
  auto offer = dispatch_store_->GetOffer(OfferId("inc-1", 1));
  ASSERT_TRUE(offer.ok());
  EXPECT_TRUE(offer->assigned());
  // Answering again returns the offer as it stands.
  accepted = dispatcher_->RespondToOffer(req, As(a, Role::kVolunteer));
  ASSERT_TRUE(accepted.ok());
  EXPECT_TRUE(accepted->assigned());
  EXPECT_EQ(incidents_.assign_calls(), 1);
}

TEST_F(DispatcherTest, OnlyTheVolunteerAskedMayAnswer) {
  AddVolunteer("va", 100, {"elderly_care"});
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(Reported("inc-1", "elderly_help")).ok());
  v1::RespondToOfferRequest req;
  req.set_request_id("r1");
  req.set_offer_id(OfferId("inc-1", 1));
  EXPECT_EQ(dispatcher_->RespondToOffer(req, As("someone-else", Role::kVolunteer)).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(dispatcher_->RespondToOffer(req, Caller{}).status().code(),
            absl::StatusCode::kUnauthenticated);
  req.set_offer_id("not-an-offer");
  EXPECT_EQ(dispatcher_->RespondToOffer(req, As("x", Role::kVolunteer)).status().code(),
            absl::StatusCode::kInvalidArgument);

  // How an incident was dispatched is for staff of its region.
  v1::GetDispatchRequest get;
  get.set_incident_id("inc-1");
  EXPECT_TRUE(dispatcher_->GetDispatch(get, As("op", Role::kOperator)).ok());
  EXPECT_EQ(dispatcher_->GetDispatch(get, Caller{"op", Role::kOperator, "3302"}).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(dispatcher_->GetDispatch(get, As("v", Role::kVolunteer)).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(DispatcherTest, AManualAssignmentWithdrawsTheOpenOffer) {
  const std::string a = AddVolunteer("va", 100, {"elderly_care"});
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(Reported("inc-1", "elderly_help")).ok());
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(AssignedByHand("inc-1", "gw-2")).ok());
  auto offer = dispatch_store_->GetOffer(OfferId("inc-1", 1));
  ASSERT_TRUE(offer.ok());
  EXPECT_EQ(offer->status(), v1::OFFER_STATUS_WITHDRAWN);
  v1::ListOffersRequest list;
  list.set_volunteer_id(a);
  auto open = dispatcher_->ListOffers(list, As(a, Role::kVolunteer));
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->offers_size(), 0);
  // Staff see a volunteer's offers within their own region only.
  EXPECT_TRUE(dispatcher_->ListOffers(list, As("op", Role::kOperator)).ok());
  EXPECT_EQ(dispatcher_->ListOffers(list, Caller{"op", Role::kOperator, "3302"}).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(dispatcher_->ListOffers(list, As("someone-else", Role::kVolunteer)).status().code(),
            absl::StatusCode::kPermissionDenied);
  // Its timer no longer fires anything.
  clock_.Advance(absl::Minutes(11));
  ASSERT_TRUE(dispatcher_->FireDueTimers(100).ok());
  EXPECT_EQ(Job("inc-1").offers_made(), 1);
}

TEST_F(DispatcherTest, EachEventCommittedIsHandedToTheRelayWithTheEntryBeforeIt) {
  AddVolunteer("va", 100, {"elderly_care"});
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(Reported("inc-1", "elderly_help")).ok());
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(AssignedByHand("inc-1", "gw-2")).ok());

  // An offer made, then withdrawn: two commits, one event each, in the incident's stream.
  const std::vector<outbox::Appended> handed = Handed();
  ASSERT_EQ(handed.size(), 2u);
  const std::string stream = handed[0].stream;
  EXPECT_THAT(RedisDispatchStore::OutboxStreams(), Contains(stream));
  auto range = redis_->Command({"XRANGE", stream, "-", "+"});
  ASSERT_TRUE(range.ok()) << range.status();
  ASSERT_EQ(range->elements.size(), 2u);
  std::vector<v1::DispatchEventType> types;
  for (size_t i = 0; i < handed.size(); ++i) {
    EXPECT_EQ(handed[i].stream, stream);
    EXPECT_EQ(handed[i].id, range->elements[i].elements[0].str);
    EXPECT_EQ(handed[i].previous_id, i == 0 ? "" : handed[i - 1].id);
    EXPECT_EQ(handed[i].key, "inc-1");
    v1::DispatchEvent e;
    ASSERT_TRUE(e.ParseFromString(handed[i].value));
    types.push_back(e.type());
  }
  EXPECT_THAT(types, ElementsAre(v1::DISPATCH_EVENT_TYPE_OFFER_MADE,
                                 v1::DISPATCH_EVENT_TYPE_OFFER_WITHDRAWN));
}

TEST_F(DispatcherTest, ANamedVolunteerIsAskedFirstEvenIfOthersAreCloser) {
  AddVolunteer("near", 50, {"elderly_care"});
  const std::string named = AddVolunteer("named", 3000, {"companionship"});
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(Reported("inc-1", "elderly_help", named)).ok());
  auto offer = dispatch_store_->GetOffer(OfferId("inc-1", 1));
  ASSERT_TRUE(offer.ok());
  EXPECT_EQ(offer->volunteer_id(), named);
  EXPECT_TRUE(offer->named());
}

TEST_F(DispatcherTest, AClosedIncidentCreditsItsVolunteerOnce) {
  const std::string a = AddVolunteer("va", 100, {"elderly_care"});
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(Reported("inc-1", "elderly_help")).ok());
  v1::Incident closed = incidents_.Current("inc-1");
  closed.set_version(5);
  closed.set_status(v1::INCIDENT_STATUS_CLOSED);
  closed.mutable_assignee()->set_kind(v1::ASSIGNEE_KIND_VOLUNTEER);
  closed.mutable_assignee()->set_id(a);
  *closed.mutable_accepted_at() = ToTimestamp(clock_.Now());
  *closed.mutable_resolved_at() = ToTimestamp(clock_.Now() + absl::Hours(2));
  *closed.mutable_closed_at() = ToTimestamp(clock_.Now() + absl::Hours(3));
  closed.mutable_feedback()->set_satisfaction(v1::SATISFACTION_BASICALLY_SATISFIED);
  v1::IncidentEvent event = EventOf(closed, v1::INCIDENT_EVENT_TYPE_CLOSED);
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(event).ok());
  ASSERT_TRUE(dispatcher_->HandleIncidentEvent(event).ok());
  // Even credited again directly (as a consumer that lost its dispatch record would), the
  // ledger takes the close once.
  auto again = volunteer_store_->Credit(a, IncidentCredit(closed, 5, CreditRules()));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  auto record = volunteer_store_->GetServiceRecord(a, 10, "");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_DOUBLE_EQ(record->hours(), 2.0);
  EXPECT_EQ(record->points(), 12);
  EXPECT_EQ(record->entries_size(), 1);
}

}  // namespace
}  // namespace gridloop::dispatch
