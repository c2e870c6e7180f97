// RedisVolunteerStore against a real redis-server: every method of the port, its
// idempotency, its concurrency guarantees and what it leaves in Redis for others (the
// outbox stream, the change log).

#include "services/dispatch/redis_volunteer_store.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/clock/proto_time.h"
#include "common/redis/redis_client.h"
#include "common/testing/matchers.h"
#include "common/testing/redis_server.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/dispatch/ledger.h"

namespace gridloop::dispatch {
namespace {

using ::gridloop::testing::EqualsProto;
using ::gridloop::testing::StatusIs;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

// 2025-11-25 00:00 in the city (UTC+8): period keys "2025-11", "2025-Q4", "2025".
const absl::Time kT0 = absl::FromUnixMillis(1764000000000);

// One redis-server for the whole binary, emptied before each test.
class RedisEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::RedisServer>> server = testing::RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    redis::Options options;
    options.host = (*server)->host();
    options.port = (*server)->port();
    options.pool_size = 16;
    absl::StatusOr<std::unique_ptr<redis::Client>> client = redis::Connect(options);
    ASSERT_TRUE(client.ok()) << client.status();
    server_ = std::move(*server);
    client_ = std::move(*client);
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
  }

  static redis::Client* client() { return client_.get(); }

 private:
  static std::unique_ptr<testing::RedisServer> server_;
  static std::unique_ptr<redis::Client> client_;
};

std::unique_ptr<testing::RedisServer> RedisEnvironment::server_;
std::unique_ptr<redis::Client> RedisEnvironment::client_;

::testing::Environment* const kRedisEnvironment =
    ::testing::AddGlobalTestEnvironment(new RedisEnvironment);

RequestKey Rk(absl::string_view id) { return RequestKey{std::string(id), absl::StrCat("fp-", id)}; }

v1::Volunteer Profile(absl::string_view name, absl::string_view region,
                      std::vector<std::string> skills = {}, absl::string_view resident = "") {
  v1::Volunteer v;
  v.set_name(std::string(name));
  v.set_region_code(std::string(region));
  for (std::string& s : skills) v.add_skills(std::move(s));
  v.set_resident_id(std::string(resident));
  v.set_max_concurrent_tasks(2);
  v.set_phone("13800138000");
  v.mutable_location()->set_latitude(30.27);
  v.mutable_location()->set_longitude(120.15);
  return v;
}

v1::Activity Activity(absl::string_view title, absl::string_view region, absl::Time starts,
                      absl::Duration length, int capacity, int64_t points_per_hour = 10) {
  v1::Activity a;
  a.set_title(std::string(title));
  a.set_region_code(std::string(region));
  *a.mutable_starts_at() = ToTimestamp(starts);
  *a.mutable_ends_at() = ToTimestamp(starts + length);
  a.set_capacity(capacity);
  a.set_points_per_hour(points_per_hour);
  a.set_organiser_id("staff-1");
  return a;
}

v1::CreditEntry Entry(absl::string_view id, double hours, int64_t points, absl::Time at,
                      v1::Satisfaction satisfaction = v1::SATISFACTION_UNSPECIFIED) {
  v1::CreditEntry e;
  e.set_id(std::string(id));
  e.set_source(v1::CREDIT_SOURCE_INCIDENT);
  e.set_reference(absl::StrCat("inc-", id));
  e.set_hours(hours);
  e.set_points(points);
  e.set_reason("handled an incident");
  *e.mutable_at() = ToTimestamp(at);
  e.set_satisfaction(satisfaction);
  return e;
}

VolunteerFilter Filter(absl::string_view region_prefix, absl::string_view skill = "",
                       bool include_inactive = false) {
  VolunteerFilter f;
  f.region_prefix = std::string(region_prefix);
  f.skill = std::string(skill);
  f.include_inactive = include_inactive;
  return f;
}

ActivityFilter Window(absl::string_view region_prefix, absl::Time after = absl::InfinitePast(),
                      absl::Time before = absl::InfiniteFuture()) {
  ActivityFilter f;
  f.region_prefix = std::string(region_prefix);
  f.starts_after = after;
  f.starts_before = before;
  return f;
}

struct OutboxEntry {
  std::string key;
  v1::DispatchEvent event;
};

class VolunteerStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(redis(), nullptr) << "redis-server did not start";
    ASSERT_TRUE(redis()->Command({"FLUSHALL"}).ok());
    store_ = std::make_unique<RedisVolunteerStore>(redis(), [this](const std::string& stream) {
      // Only its own outbox: the relay reads just the streams it is told of.
      if (stream == RedisVolunteerStore::kOutboxStream) ++notified_;
    });
  }

  static redis::Client* redis() { return RedisEnvironment::client(); }
  RedisVolunteerStore& store() { return *store_; }

  redis::Reply Raw(std::vector<std::string> argv) {
    absl::StatusOr<redis::Reply> r = redis()->Command(std::move(argv));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : redis::Reply::Error("failed");
  }

  std::string MustRegister(const v1::Volunteer& v) {
    absl::StatusOr<v1::Volunteer> r =
        store().Register(Rk(absl::StrCat("reg-", ++requests_)), v, kT0);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->id() : "";
  }

  std::string MustCreate(const v1::Activity& a) {
    absl::StatusOr<v1::Activity> r =
        store().CreateActivity(Rk(absl::StrCat("act-", ++requests_)), a, kT0);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->id() : "";
  }

  // A fresh request id each call, for steps that are not about idempotency.
  RequestKey Fresh() { return Rk(absl::StrCat("step-", ++requests_)); }

  std::vector<OutboxEntry> Outbox() {
    std::vector<OutboxEntry> out;
    redis::Reply range = Raw({"XRANGE", RedisVolunteerStore::kOutboxStream, "-", "+"});
    for (const redis::Reply& entry : range.elements) {
      OutboxEntry e;
      const std::vector<redis::Reply>& fields = entry.elements[1].elements;
      for (size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].str == "k") e.key = fields[i + 1].str;
        if (fields[i].str == "v") {
          EXPECT_TRUE(e.event.ParseFromString(fields[i + 1].str));
        }
      }
      out.push_back(std::move(e));
    }
    return out;
  }

  std::vector<std::string> Names(const std::vector<v1::Volunteer>& vs) {
    std::vector<std::string> out;
    out.reserve(vs.size());
    for (const v1::Volunteer& v : vs) out.push_back(v.name());
    return out;
  }

  std::atomic<int> notified_{0};
  int requests_ = 0;
  std::unique_ptr<RedisVolunteerStore> store_;
};

// ---------------------------------------------------------------------------------------
// Volunteers

TEST_F(VolunteerStoreTest, RegisterStoresANewActiveVolunteerAtVersionOne) {
  absl::StatusOr<v1::Volunteer> v =
      store().Register(Rk("r1"), Profile("Li Na", "3301.06.003", {"first_aid"}), kT0);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->id().size(), 13u);
  EXPECT_EQ(v->id()[0], 'v');
  EXPECT_EQ(v->version(), 1);
  EXPECT_TRUE(v->active());
  EXPECT_EQ(FromTimestamp(v->registered_at()), kT0);
  EXPECT_EQ(FromTimestamp(v->updated_at()), kT0);
  EXPECT_TRUE(v->has_totals());

  absl::StatusOr<v1::Volunteer> got = store().Get(v->id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, EqualsProto(*v));
  EXPECT_THAT(store().Get("v000000000000"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(VolunteerStoreTest, RepeatedRegisterReturnsTheFirstResultAndOtherParametersAreInvalid) {
  v1::RegisterVolunteerRequest req;
  req.set_request_id("r1");
  *req.mutable_volunteer() = Profile("Li Na", "3301.06.003");
  const RequestKey rk{"r1", RequestFingerprint("RegisterVolunteer", req)};

  absl::StatusOr<v1::Volunteer> first = store().Register(rk, req.volunteer(), kT0);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<v1::Volunteer> again =
      store().Register(rk, req.volunteer(), kT0 + absl::Minutes(1));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(*again, EqualsProto(*first));
  EXPECT_EQ(Raw({"ZCARD", "dsp:{vol}:byregion"}).integer, 1);
  EXPECT_EQ(Raw({"XLEN", RedisVolunteerStore::kChangeLog}).integer, 1);

  req.mutable_volunteer()->set_name("Wang Wei");
  const RequestKey other{"r1", RequestFingerprint("RegisterVolunteer", req)};
  absl::StatusOr<v1::Volunteer> clash = store().Register(other, req.volunteer(), kT0);
  EXPECT_THAT(clash, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(absl::StartsWith(clash.status().message(), "request_id")) << clash.status();
  EXPECT_EQ(Raw({"ZCARD", "dsp:{vol}:byregion"}).integer, 1);
}

TEST_F(VolunteerStoreTest, AResidentIsAtMostOneActiveVolunteer) {
  const std::string a = MustRegister(Profile("A", "3301.06.003", {}, "res-1"));
  absl::StatusOr<v1::Volunteer> dup =
      store().Register(Fresh(), Profile("A again", "3301.06.003", {}, "res-1"), kT0);
  EXPECT_THAT(dup, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(dup.status().message(), HasSubstr("resident_id"));
  EXPECT_THAT(dup.status().message(), HasSubstr(a));

  // Taking another's resident id by update is refused too; giving one's own up frees it.
  const std::string c = MustRegister(Profile("C", "3301.06.003", {}, "res-2"));
  v1::Volunteer taking = Profile("C", "3301.06.003", {}, "res-1");
  taking.set_id(c);
  EXPECT_THAT(store().Update(Fresh(), taking, 0, kT0), StatusIs(absl::StatusCode::kAlreadyExists));
  v1::Volunteer moved = Profile("C", "3301.06.003", {}, "res-3");
  moved.set_id(c);
  ASSERT_TRUE(store().Update(Fresh(), moved, 0, kT0).ok());
  EXPECT_TRUE(store().Register(Fresh(), Profile("D", "3301.06.003", {}, "res-2"), kT0).ok());

  // Once the volunteer is deactivated, the resident may register again.
  ASSERT_TRUE(store().Deactivate(Fresh(), a, "moved away", kT0).ok());
  absl::StatusOr<v1::Volunteer> back =
      store().Register(Fresh(), Profile("A again", "3301.06.003", {}, "res-1"), kT0);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_NE(back->id(), a);
}

TEST_F(VolunteerStoreTest, UpdateReplacesTheProfileAndBumpsTheVersion) {
  const std::string id = MustRegister(Profile("Li Na", "3301.06.003", {"first_aid"}));
  v1::Volunteer next = Profile("Li Na (Lina)", "3301.07.001", {"elder_care", "repair"}, "res-9");
  next.set_id(id);
  next.set_party_member(true);
  next.set_service_unit("Street Office");
  next.add_availability()->set_weekday(6);
  next.set_version(99);    // not the caller's to set
  next.set_active(false);  // nor this
  const absl::Time t1 = kT0 + absl::Hours(1);

  absl::StatusOr<v1::Volunteer> updated = store().Update(Rk("u1"), next, 1, t1);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->id(), id);
  EXPECT_EQ(updated->version(), 2);
  EXPECT_TRUE(updated->active());
  EXPECT_EQ(updated->name(), "Li Na (Lina)");
  EXPECT_EQ(updated->region_code(), "3301.07.001");
  EXPECT_THAT(updated->skills(), ElementsAre("elder_care", "repair"));
  EXPECT_EQ(updated->resident_id(), "res-9");
  EXPECT_TRUE(updated->party_member());
  EXPECT_EQ(updated->service_unit(), "Street Office");
  EXPECT_EQ(updated->availability_size(), 1);
  EXPECT_EQ(FromTimestamp(updated->registered_at()), kT0);
  EXPECT_EQ(FromTimestamp(updated->updated_at()), t1);
  absl::StatusOr<v1::Volunteer> got = store().Get(id);
  ASSERT_TRUE(got.ok());
  EXPECT_THAT(*got, EqualsProto(*updated));

  // The region index follows.
  auto in_07 = store().List(Filter("3301.07"), 10, "");
  auto in_06 = store().List(Filter("3301.06"), 10, "");
  ASSERT_TRUE(in_07.ok() && in_06.ok());
  EXPECT_THAT(Names(in_07->first), ElementsAre("Li Na (Lina)"));
  EXPECT_THAT(in_06->first, IsEmpty());

  // A repeat returns the first result rather than applying it again.
  absl::StatusOr<v1::Volunteer> again = store().Update(Rk("u1"), next, 1, t1);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->version(), 2);

  absl::StatusOr<v1::Volunteer> any = store().Update(Fresh(), next, 0, t1);
  ASSERT_TRUE(any.ok()) << any.status();
  EXPECT_EQ(any->version(), 3);
}

TEST_F(VolunteerStoreTest, UpdateRefusesStaleVersionsUnknownAndDeactivatedVolunteers) {
  const std::string id = MustRegister(Profile("Li Na", "3301.06.003"));
  v1::Volunteer next = Profile("Li Na", "3301.06.004");
  next.set_id(id);
  ASSERT_TRUE(store().Update(Fresh(), next, 1, kT0).ok());

  absl::StatusOr<v1::Volunteer> stale = store().Update(Fresh(), next, 1, kT0);
  EXPECT_THAT(stale, StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(stale.status().message(), HasSubstr("version 2"));

  v1::Volunteer unknown = next;
  unknown.set_id("v000000000000");
  EXPECT_THAT(store().Update(Fresh(), unknown, 0, kT0), StatusIs(absl::StatusCode::kNotFound));

  ASSERT_TRUE(store().Deactivate(Fresh(), id, "left", kT0).ok());
  EXPECT_THAT(store().Update(Fresh(), next, 0, kT0),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(VolunteerStoreTest, DeactivateKeepsTheReasonAndASecondCallReturnsTheRecord) {
  const std::string id = MustRegister(Profile("Li Na", "3301.06.003"));
  const absl::Time t1 = kT0 + absl::Hours(2);
  absl::StatusOr<v1::Volunteer> off = store().Deactivate(Rk("d1"), id, "moved away", t1);
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->active());
  EXPECT_EQ(off->deactivated_reason(), "moved away");
  EXPECT_EQ(off->version(), 2);
  EXPECT_EQ(FromTimestamp(off->updated_at()), t1);

  absl::StatusOr<v1::Volunteer> second =
      store().Deactivate(Rk("d2"), id, "another reason", t1 + absl::Hours(1));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(*second, EqualsProto(*off));
  absl::StatusOr<v1::Volunteer> repeat = store().Deactivate(Rk("d1"), id, "moved away", t1);
  ASSERT_TRUE(repeat.ok()) << repeat.status();
  EXPECT_THAT(*repeat, EqualsProto(*off));

  EXPECT_THAT(store().Deactivate(Fresh(), "v000000000000", "x", t1),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(VolunteerStoreTest, ConcurrentUnversionedUpdatesAndCreditsAreEachAppliedOnce) {
  const std::string id = MustRegister(Profile("Li Na", "3301.06.003"));
  constexpr int kThreads = 8;
  std::vector<absl::Status> updates(kThreads);
  std::vector<absl::StatusOr<bool>> shared(kThreads, absl::UnknownError("not run"));
  absl::Notification go;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      go.WaitForNotification();
      v1::Volunteer next = Profile(absl::StrCat("Name ", i), "3301.06.00" + std::to_string(i));
      next.set_id(id);
      updates[i] = store().Update(Rk(absl::StrCat("u", i)), next, 0, kT0).status();
      shared[i] = store().Credit(id, Entry("incident:1:v3", 1, 10, kT0));
      EXPECT_TRUE(store().Credit(id, Entry(absl::StrCat("own:", i), 1, 1, kT0)).ok());
    });
  }
  go.Notify();
  for (std::thread& t : threads) t.join();

  int credited = 0;
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_TRUE(updates[i].ok()) << updates[i];
    ASSERT_TRUE(shared[i].ok()) << shared[i].status();
    if (*shared[i]) ++credited;
  }
  EXPECT_EQ(credited, 1);
  absl::StatusOr<v1::Volunteer> v = store().Get(id);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->version(), 1 + kThreads);
  EXPECT_EQ(v->totals().points(), 10 + kThreads);
  EXPECT_DOUBLE_EQ(v->totals().hours(), 1 + kThreads);
  EXPECT_THAT(Outbox(), SizeIs(1 + kThreads));
  // Only the final region holds the volunteer.
  EXPECT_EQ(Raw({"ZCARD", "dsp:{vol}:byregion"}).integer, 1);
}

TEST_F(VolunteerStoreTest, GetManyKeepsTheOrderAndLeavesMissingOnesEmpty) {
  const std::string a = MustRegister(Profile("A", "3301.06.003"));
  const std::string b = MustRegister(Profile("B", "3301.06.004"));
  ASSERT_TRUE(store().Credit(b, Entry("e1", 1.5, 15, kT0)).ok());
  absl::StatusOr<std::vector<v1::Volunteer>> got = store().GetMany({b, "v000000000000", a});
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_THAT(*got, SizeIs(3));
  EXPECT_EQ((*got)[0].id(), b);
  EXPECT_DOUBLE_EQ((*got)[0].totals().hours(), 1.5);
  EXPECT_EQ((*got)[0].totals().points(), 15);
  EXPECT_TRUE((*got)[1].id().empty());
  EXPECT_EQ((*got)[2].id(), a);
  absl::StatusOr<std::vector<v1::Volunteer>> none = store().GetMany({});
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
}

TEST_F(VolunteerStoreTest, ListFiltersByRegionPrefixSkillAndActivityAndPages) {
  MustRegister(Profile("A", "3301.06.003", {"first_aid"}));
  MustRegister(Profile("B", "3301.06.004", {"elder_care"}));
  MustRegister(Profile("C", "3301.06", {"first_aid", "repair"}));
  MustRegister(Profile("D", "3301.066.001", {"first_aid"}));  // not inside 3301.06
  const std::string e = MustRegister(Profile("E", "3301.07.001", {"first_aid"}));
  ASSERT_TRUE(store().Deactivate(Fresh(), e, "left", kT0).ok());

  auto page = store().List(Filter("3301.06"), 10, "");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(Names(page->first), ElementsAre("A", "B", "C"));
  EXPECT_EQ(page->second, "");

  page = store().List(Filter("3301.06", "first_aid"), 10, "");
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(Names(page->first), ElementsAre("A", "C"));

  page = store().List(Filter("3301"), 10, "");
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(Names(page->first), UnorderedElementsAre("A", "B", "C", "D"));
  page = store().List(Filter("3301", "", true), 10, "");
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(Names(page->first), UnorderedElementsAre("A", "B", "C", "D", "E"));
  ASSERT_THAT(page->first, SizeIs(5));
  EXPECT_TRUE(page->first[0].has_totals());

  // Pages of two cover everything once.
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto p = store().List(Filter("", "first_aid", true), 2, token);
    ASSERT_TRUE(p.ok()) << p.status();
    for (const v1::Volunteer& v : p->first) seen.push_back(v.name());
    token = p->second;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 2);
  EXPECT_THAT(seen, UnorderedElementsAre("A", "C", "D", "E"));

  EXPECT_THAT(store().List({}, 2, "not a token!"), StatusIs(absl::StatusCode::kInvalidArgument));
  auto first = store().List(Filter("3301.06"), 1, "");
  ASSERT_TRUE(first.ok());
  EXPECT_THAT(store().List(Filter("3301.07"), 1, first->second),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(VolunteerStoreTest, ForEachVisitsEveryVolunteerAcrossBatches) {
  constexpr int kCount = 2100;  // more than one round trip's worth
  std::set<std::string> registered;
  for (int i = 0; i < kCount; ++i) {
    registered.insert(MustRegister(Profile(absl::StrCat("V", i), absl::StrCat("3301.0", i % 9))));
  }
  ASSERT_TRUE(store().Deactivate(Fresh(), *registered.begin(), "left", kT0).ok());
  std::set<std::string> visited;
  int inactive = 0;
  ASSERT_TRUE(store()
                  .ForEach([&](const v1::Volunteer& v) {
                    visited.insert(v.id());
                    if (!v.active()) ++inactive;
                  })
                  .ok());
  EXPECT_EQ(visited, registered);
  EXPECT_EQ(inactive, 1);
}

TEST_F(VolunteerStoreTest, ChangesSinceFollowsTheChangeLog) {
  absl::StatusOr<VolunteerChanges> start = store().ChangesSince("", 100);
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_THAT(start->ids, IsEmpty());
  EXPECT_FALSE(start->reset);

  const std::string a = MustRegister(Profile("A", "3301.06.003"));
  const std::string b = MustRegister(Profile("B", "3301.06.003"));
  v1::Volunteer next = Profile("A2", "3301.06.004");
  next.set_id(a);
  ASSERT_TRUE(store().Update(Fresh(), next, 0, kT0).ok());
  ASSERT_TRUE(store().Deactivate(Fresh(), b, "left", kT0).ok());

  absl::StatusOr<VolunteerChanges> all = store().ChangesSince(start->cursor, 100);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(all->ids, ElementsAre(a, b));
  EXPECT_FALSE(all->reset);
  absl::StatusOr<VolunteerChanges> none = store().ChangesSince(all->cursor, 100);
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(none->ids, IsEmpty());
  EXPECT_EQ(none->cursor, all->cursor);
  absl::StatusOr<VolunteerChanges> end = store().ChangesSince("", 100);
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->cursor, all->cursor);

  // At most `max` entries at a time.
  absl::StatusOr<VolunteerChanges> one = store().ChangesSince(start->cursor, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_THAT(one->ids, ElementsAre(a));
  absl::StatusOr<VolunteerChanges> two = store().ChangesSince(one->cursor, 1);
  ASSERT_TRUE(two.ok());
  EXPECT_THAT(two->ids, ElementsAre(b));

  EXPECT_THAT(store().ChangesSince("yesterday", 10), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(VolunteerStoreTest, ChangesSinceAsksForAReloadWhenTheLogWasTrimmedPastTheCursor) {
  absl::StatusOr<VolunteerChanges> start = store().ChangesSince("", 100);
  ASSERT_TRUE(start.ok());
  std::vector<std::string> cursors;  // after each registration
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(MustRegister(Profile(absl::StrCat("V", i), "3301.06.003")));
    absl::StatusOr<VolunteerChanges> end = store().ChangesSince("", 1);
    ASSERT_TRUE(end.ok());
    cursors.push_back(end->cursor);
  }

  ASSERT_EQ(Raw({"XTRIM", RedisVolunteerStore::kChangeLog, "MAXLEN", "2"}).integer, 2);

  for (const std::string& cursor : {start->cursor, cursors[0]}) {
    absl::StatusOr<VolunteerChanges> lost = store().ChangesSince(cursor, 100);
    ASSERT_TRUE(lost.ok()) << lost.status();
    EXPECT_TRUE(lost->reset) << cursor;
    EXPECT_THAT(lost->ids, IsEmpty());
    EXPECT_EQ(lost->cursor, cursors[3]);
  }
  // Nothing after the third entry was trimmed: no reload.
  absl::StatusOr<VolunteerChanges> kept = store().ChangesSince(cursors[2], 100);
  ASSERT_TRUE(kept.ok());
  EXPECT_FALSE(kept->reset);
  EXPECT_THAT(kept->ids, ElementsAre(ids[3]));

  // Trimmed to nothing, every cursor before the end is lost.
  ASSERT_EQ(Raw({"XTRIM", RedisVolunteerStore::kChangeLog, "MAXLEN", "0"}).integer, 2);
  absl::StatusOr<VolunteerChanges> emptied = store().ChangesSince(cursors[2], 100);
  ASSERT_TRUE(emptied.ok());
  EXPECT_TRUE(emptied->reset);
  absl::StatusOr<VolunteerChanges> at_end = store().ChangesSince(cursors[3], 100);
  ASSERT_TRUE(at_end.ok());
  EXPECT_FALSE(at_end->reset);
  EXPECT_THAT(at_end->ids, IsEmpty());

  // A log that is gone altogether (Redis lost its data) is a reset too.
  ASSERT_TRUE(redis()->Command({"DEL", RedisVolunteerStore::kChangeLog}).ok());
  absl::StatusOr<VolunteerChanges> gone = store().ChangesSince(cursors[3], 100);
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(gone->reset);
}

// ---------------------------------------------------------------------------------------
// Activity days

TEST_F(VolunteerStoreTest, ActivitiesAreCreatedReadAndListedByStartTime) {
  absl::StatusOr<v1::Activity> created = store().CreateActivity(
      Rk("c1"), Activity("Clean-up", "3301.06.003", kT0 + absl::Hours(30), absl::Hours(3), 5), kT0);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->id().size(), 13u);
  EXPECT_EQ(created->id()[0], 'a');
  EXPECT_EQ(FromTimestamp(created->created_at()), kT0);
  absl::StatusOr<v1::Activity> got = store().GetActivity(created->id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, EqualsProto(*created));
  absl::StatusOr<v1::Activity> again = store().CreateActivity(
      Rk("c1"), Activity("Clean-up", "3301.06.003", kT0 + absl::Hours(30), absl::Hours(3), 5), kT0);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id(), created->id());
  EXPECT_THAT(store().GetActivity("a000000000000"), StatusIs(absl::StatusCode::kNotFound));

  MustCreate(Activity("Tea for elders", "3301.06.004", kT0 + absl::Hours(10), absl::Hours(2), 5));
  MustCreate(Activity("Repair day", "3301.07.001", kT0 + absl::Hours(20), absl::Hours(2), 5));
  MustCreate(Activity("Old one", "3301.06.003", kT0 - absl::Hours(48), absl::Hours(2), 5));
  MustCreate(Activity("Elsewhere", "3301.066", kT0 + absl::Hours(15), absl::Hours(2), 5));

  auto titles = [](const std::vector<v1::Activity>& as) {
    std::vector<std::string> out;
    out.reserve(as.size());
    for (const v1::Activity& a : as) out.push_back(a.title());
    return out;
  };
  auto all = store().ListActivities({}, 10, "");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(titles(all->first),
              ElementsAre("Old one", "Tea for elders", "Elsewhere", "Repair day", "Clean-up"));
  EXPECT_EQ(all->second, "");

  auto in_06 = store().ListActivities(Window("3301.06"), 10, "");
  ASSERT_TRUE(in_06.ok());
  EXPECT_THAT(titles(in_06->first), ElementsAre("Old one", "Tea for elders", "Clean-up"));

  auto window =
      store().ListActivities(Window("", kT0 + absl::Hours(10), kT0 + absl::Hours(30)), 10, "");
  ASSERT_TRUE(window.ok());
  EXPECT_THAT(titles(window->first), ElementsAre("Tea for elders", "Elsewhere", "Repair day"));

  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto p = store().ListActivities(Window("3301"), 2, token);
    ASSERT_TRUE(p.ok()) << p.status();
    for (const std::string& t : titles(p->first)) seen.push_back(t);
    token = p->second;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_THAT(seen,
              ElementsAre("Old one", "Tea for elders", "Elsewhere", "Repair day", "Clean-up"));
  EXPECT_EQ(pages, 3);
}

TEST_F(VolunteerStoreTest, FiftyConcurrentSignUpsFillTenPlacesAndWaitlistTheRest) {
  constexpr int kVolunteers = 50;
  std::vector<std::string> vids;
  vids.reserve(kVolunteers);
  for (int i = 0; i < kVolunteers; ++i) {
    vids.push_back(MustRegister(Profile(absl::StrCat("V", i), "3301.06.003")));
  }
  const std::string aid =
      MustCreate(Activity("Clean-up", "3301.06.003", kT0 + absl::Hours(2), absl::Hours(3), 10));

  std::vector<absl::StatusOr<v1::SignUpResponse>> results(kVolunteers,
                                                          absl::UnknownError("not run"));
  absl::Notification go;
  std::vector<std::thread> threads;
  threads.reserve(kVolunteers);
  for (int i = 0; i < kVolunteers; ++i) {
    threads.emplace_back([&, i] {
      go.WaitForNotification();
      results[i] = store().SignUp(Rk(absl::StrCat("s", i)), aid, vids[i], kT0);
    });
  }
  go.Notify();
  for (std::thread& t : threads) t.join();

  int confirmed = 0;
  std::vector<int> positions;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    if (r->status() == v1::SIGN_UP_STATUS_CONFIRMED) ++confirmed;
    if (r->status() == v1::SIGN_UP_STATUS_WAITLISTED) {
      positions.push_back(r->participation().waitlist_position());
    }
    EXPECT_EQ(r->participation().status(), r->status());
    EXPECT_LE(r->activity().confirmed(), 10);
  }
  EXPECT_EQ(confirmed, 10);
  ASSERT_THAT(positions, SizeIs(40));
  std::sort(positions.begin(), positions.end());
  for (int i = 0; i < 40; ++i) EXPECT_EQ(positions[i], i + 1);

  absl::StatusOr<v1::Activity> a = store().GetActivity(aid);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->confirmed(), 10);
  EXPECT_EQ(a->waitlisted(), 40);
  EXPECT_EQ(Raw({"HLEN", absl::StrCat("dsp:{vol}:a:", aid, ":s")}).integer, 50);
  EXPECT_EQ(Raw({"ZCARD", absl::StrCat("dsp:{vol}:a:", aid, ":wait")}).integer, 40);
  redis::Reply statuses = Raw({"HVALS", absl::StrCat("dsp:{vol}:a:", aid, ":s")});
  EXPECT_EQ(std::count_if(statuses.elements.begin(), statuses.elements.end(),
                          [](const redis::Reply& s) { return s.str == "1"; }),
            10);
}

TEST_F(VolunteerStoreTest, SignUpChecksTheActivityAndTheVolunteer) {
  const std::string vid = MustRegister(Profile("A", "3301.06.003"));
  const std::string aid =
      MustCreate(Activity("Clean-up", "3301.06.003", kT0 + absl::Hours(2), absl::Hours(3), 10));

  absl::StatusOr<v1::SignUpResponse> first = store().SignUp(Rk("s1"), aid, vid, kT0);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->status(), v1::SIGN_UP_STATUS_CONFIRMED);
  EXPECT_EQ(first->participation().activity_id(), aid);
  EXPECT_EQ(first->participation().volunteer_id(), vid);
  EXPECT_EQ(FromTimestamp(first->participation().signed_up_at()), kT0);
  EXPECT_EQ(first->activity().id(), aid);
  EXPECT_EQ(first->activity().confirmed(), 1);

  // Repeating the request returns its first result; signing up again under another
  // request returns the participation unchanged.
  absl::StatusOr<v1::SignUpResponse> repeat =
      store().SignUp(Rk("s1"), aid, vid, kT0 + absl::Minutes(5));
  ASSERT_TRUE(repeat.ok());
  EXPECT_THAT(*repeat, EqualsProto(*first));
  absl::StatusOr<v1::SignUpResponse> again =
      store().SignUp(Fresh(), aid, vid, kT0 + absl::Minutes(5));
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(again->participation(), EqualsProto(first->participation()));
  EXPECT_EQ(again->activity().confirmed(), 1);
  EXPECT_THAT(store().SignUp(RequestKey{"s1", "another request"}, aid, vid, kT0),
              StatusIs(absl::StatusCode::kInvalidArgument));

  EXPECT_THAT(store().SignUp(Fresh(), "a000000000000", vid, kT0),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().SignUp(Fresh(), aid, "v000000000000", kT0),
              StatusIs(absl::StatusCode::kNotFound));
  const std::string gone = MustRegister(Profile("B", "3301.06.003"));
  ASSERT_TRUE(store().Deactivate(Fresh(), gone, "left", kT0).ok());
  EXPECT_THAT(store().SignUp(Fresh(), aid, gone, kT0),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  const std::string late = MustRegister(Profile("C", "3301.06.003"));
  EXPECT_THAT(store().SignUp(Fresh(), aid, late, kT0 + absl::Hours(5)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  v1::Activity called_off =
      Activity("Called off", "3301.06.003", kT0 + absl::Hours(2), absl::Hours(3), 10);
  called_off.set_cancelled(true);
  EXPECT_THAT(store().SignUp(Fresh(), MustCreate(called_off), late, kT0),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(VolunteerStoreTest, CancellingAConfirmedPlacePromotesTheFirstWaitlisted) {
  std::vector<std::string> v;
  v.reserve(4);
  for (int i = 0; i < 4; ++i) v.push_back(MustRegister(Profile(absl::StrCat("V", i), "3301.06")));
  const std::string aid =
      MustCreate(Activity("Clean-up", "3301.06.003", kT0 + absl::Hours(2), absl::Hours(3), 2));
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(store().SignUp(Fresh(), aid, v[i], kT0 + absl::Minutes(i)).ok());
  }

  absl::StatusOr<v1::SignUpResponse> cancelled = store().CancelSignUp(Rk("x1"), aid, v[0], kT0);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->status(), v1::SIGN_UP_STATUS_CANCELLED);
  EXPECT_EQ(cancelled->promoted_volunteer_id(), v[2]);
  EXPECT_EQ(cancelled->activity().confirmed(), 2);
  EXPECT_EQ(cancelled->activity().waitlisted(), 1);
  absl::StatusOr<v1::SignUpResponse> promoted = store().SignUp(Fresh(), aid, v[2], kT0);
  ASSERT_TRUE(promoted.ok());
  EXPECT_EQ(promoted->status(), v1::SIGN_UP_STATUS_CONFIRMED);
  absl::StatusOr<v1::SignUpResponse> next_in_line = store().SignUp(Fresh(), aid, v[3], kT0);
  ASSERT_TRUE(next_in_line.ok());
  EXPECT_EQ(next_in_line->status(), v1::SIGN_UP_STATUS_WAITLISTED);
  EXPECT_EQ(next_in_line->participation().waitlist_position(), 1);

  // The repeat names the promoted volunteer again; another cancellation changes nothing.
  absl::StatusOr<v1::SignUpResponse> repeat = store().CancelSignUp(Rk("x1"), aid, v[0], kT0);
  ASSERT_TRUE(repeat.ok());
  EXPECT_THAT(*repeat, EqualsProto(*cancelled));
  absl::StatusOr<v1::SignUpResponse> twice = store().CancelSignUp(Fresh(), aid, v[0], kT0);
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(twice->status(), v1::SIGN_UP_STATUS_CANCELLED);
  EXPECT_EQ(twice->promoted_volunteer_id(), "");
  EXPECT_EQ(twice->activity().confirmed(), 2);

  // Leaving the waitlist promotes nobody.
  absl::StatusOr<v1::SignUpResponse> left = store().CancelSignUp(Fresh(), aid, v[3], kT0);
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->promoted_volunteer_id(), "");
  EXPECT_EQ(left->activity().confirmed(), 2);
  EXPECT_EQ(left->activity().waitlisted(), 0);

  // After a cancellation one may sign up again: at the end of the queue.
  absl::StatusOr<v1::SignUpResponse> back = store().SignUp(Fresh(), aid, v[0], kT0);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->status(), v1::SIGN_UP_STATUS_WAITLISTED);
  EXPECT_EQ(back->participation().waitlist_position(), 1);

  EXPECT_THAT(store().CancelSignUp(Fresh(), aid, MustRegister(Profile("X", "3301.06")), kT0),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_TRUE(store().CheckIn(Fresh(), aid, v[1], kT0 + absl::Hours(2)).ok());
  EXPECT_THAT(store().CancelSignUp(Fresh(), aid, v[1], kT0 + absl::Hours(2)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(VolunteerStoreTest, CheckInOpensAnHourBeforeTheStartForConfirmedVolunteers) {
  const std::string a = MustRegister(Profile("A", "3301.06"));
  const std::string b = MustRegister(Profile("B", "3301.06"));
  const std::string aid =
      MustCreate(Activity("Clean-up", "3301.06.003", kT0 + absl::Hours(2), absl::Hours(2), 1));
  ASSERT_TRUE(store().SignUp(Fresh(), aid, a, kT0).ok());
  ASSERT_TRUE(store().SignUp(Fresh(), aid, b, kT0).ok());  // waitlisted

  EXPECT_THAT(store().CheckIn(Fresh(), aid, a, kT0 + absl::Minutes(59)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(store().CheckIn(Fresh(), aid, b, kT0 + absl::Hours(2)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(store().CheckIn(Fresh(), aid, a, kT0 + absl::Hours(4)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(store().CheckIn(Fresh(), "a000000000000", a, kT0 + absl::Hours(2)),
              StatusIs(absl::StatusCode::kNotFound));

  const absl::Time at = kT0 + absl::Hours(1);
  absl::StatusOr<v1::SignUpResponse> in = store().CheckIn(Rk("i1"), aid, a, at);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->status(), v1::SIGN_UP_STATUS_CHECKED_IN);
  EXPECT_EQ(FromTimestamp(in->participation().checked_in_at()), at);
  EXPECT_EQ(FromTimestamp(in->participation().signed_up_at()), kT0);
  EXPECT_EQ(in->activity().confirmed(), 1);
  absl::StatusOr<v1::SignUpResponse> repeat = store().CheckIn(Rk("i1"), aid, a, at);
  ASSERT_TRUE(repeat.ok());
  EXPECT_THAT(*repeat, EqualsProto(*in));
  EXPECT_THAT(store().CheckIn(Fresh(), aid, a, at),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(VolunteerStoreTest, CheckOutCreditsTheHoursInTheSameStep) {
  const std::string a = MustRegister(Profile("A", "3301.06.003"));
  const std::string b = MustRegister(Profile("B", "3301.06.003"));
  const absl::Time starts = kT0 + absl::Hours(2);
  const std::string aid =
      MustCreate(Activity("Clean-up", "3301.06.003", starts, absl::Hours(2), 5, 10));
  for (const std::string& v : {a, b}) {
    ASSERT_TRUE(store().SignUp(Fresh(), aid, v, kT0).ok());
    ASSERT_TRUE(store().CheckIn(Fresh(), aid, v, starts - absl::Minutes(30)).ok());
  }
  EXPECT_THAT(store().CheckOut(Fresh(), aid, MustRegister(Profile("C", "3301.06")), starts),
              StatusIs(absl::StatusCode::kNotFound));

  // Counted from the start (not the early check-in) to the check-out.
  const absl::Time out_at = starts + absl::Minutes(90);
  absl::StatusOr<v1::SignUpResponse> out = store().CheckOut(Rk("o1"), aid, a, out_at);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->status(), v1::SIGN_UP_STATUS_CHECKED_OUT);
  EXPECT_DOUBLE_EQ(out->participation().hours(), 1.5);
  EXPECT_EQ(out->participation().points(), 15);
  EXPECT_EQ(FromTimestamp(out->participation().checked_out_at()), out_at);
  EXPECT_EQ(notified_.load(), 1);

  absl::StatusOr<v1::ServiceRecord> record = store().GetServiceRecord(a, 10, "");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_DOUBLE_EQ(record->hours(), 1.5);
  EXPECT_EQ(record->points(), 15);
  EXPECT_EQ(record->completed_tasks(), 0);
  ASSERT_EQ(record->entries_size(), 1);
  EXPECT_EQ(record->entries(0).id(), absl::StrCat("activity:", aid));
  EXPECT_EQ(record->entries(0).source(), v1::CREDIT_SOURCE_ACTIVITY);
  EXPECT_EQ(record->entries(0).reference(), aid);
  EXPECT_EQ(record->entries(0).points(), 15);
  EXPECT_EQ(FromTimestamp(record->entries(0).at()), out_at);

  // A repeat credits nothing more.
  absl::StatusOr<v1::SignUpResponse> repeat = store().CheckOut(Rk("o1"), aid, a, out_at);
  ASSERT_TRUE(repeat.ok());
  EXPECT_THAT(*repeat, EqualsProto(*out));
  EXPECT_THAT(store().CheckOut(Fresh(), aid, a, out_at),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  record = store().GetServiceRecord(a, 10, "");
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->points(), 15);
  EXPECT_EQ(record->entries_size(), 1);
  EXPECT_THAT(Outbox(), SizeIs(1));

  // Checking out long after the end counts up to the end.
  absl::StatusOr<v1::SignUpResponse> late =
      store().CheckOut(Fresh(), aid, b, starts + absl::Hours(10));
  ASSERT_TRUE(late.ok());
  EXPECT_DOUBLE_EQ(late->participation().hours(), 2.0);
  EXPECT_EQ(late->participation().points(), 20);
  EXPECT_EQ(notified_.load(), 2);
  absl::StatusOr<std::vector<v1::LeaderboardEntry>> board =
      store().Leaderboard("3301.06", "2025-11", 10);
  ASSERT_TRUE(board.ok());
  ASSERT_THAT(*board, SizeIs(2));
  EXPECT_EQ((*board)[0].volunteer_id(), b);
  EXPECT_EQ((*board)[0].points(), 20);
  EXPECT_EQ((*board)[1].volunteer_id(), a);
}

// ---------------------------------------------------------------------------------------
// The service-hours ledger

TEST_F(VolunteerStoreTest, CreditCountsAnEntryOnceAndTotalsAreTheSumOfEntries) {
  const std::string vid = MustRegister(Profile("A", "3301.06.003"));
  const std::vector<v1::CreditEntry> entries = {
      Entry("incident:1:v7", 1.25, 12, kT0, v1::SATISFACTION_SATISFIED),
      Entry("incident:2:v5", 0.5, 5, kT0 + absl::Hours(1), v1::SATISFACTION_BASICALLY_SATISFIED),
      Entry("incident:3:v9", 2.0 / 3.0, 7, kT0 + absl::Hours(2)),
  };
  for (const v1::CreditEntry& e : entries) {
    absl::StatusOr<bool> credited = store().Credit(vid, e);
    ASSERT_TRUE(credited.ok()) << credited.status();
    EXPECT_TRUE(*credited);
  }
  absl::StatusOr<bool> again = store().Credit(vid, entries[0]);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  EXPECT_EQ(notified_.load(), 3);

  absl::StatusOr<v1::ServiceRecord> record = store().GetServiceRecord(vid, 10, "");
  ASSERT_TRUE(record.ok()) << record.status();
  ASSERT_EQ(record->entries_size(), 3);
  double hours = 0;
  int64_t points = 0;
  for (const v1::CreditEntry& e : record->entries()) {
    hours += e.hours();
    points += e.points();
  }
  EXPECT_NEAR(record->hours(), hours, 1e-6);
  EXPECT_EQ(record->points(), points);
  EXPECT_EQ(record->points(), 24);
  EXPECT_EQ(record->completed_tasks(), 3);
  EXPECT_DOUBLE_EQ(record->average_satisfaction(), 0.75);
  EXPECT_EQ(record->entries(0).id(), "incident:3:v9");  // newest first
  EXPECT_THAT(record->entries(2), EqualsProto(entries[0]));

  absl::StatusOr<v1::Volunteer> v = store().Get(vid);
  ASSERT_TRUE(v.ok());
  EXPECT_NEAR(v->totals().hours(), hours, 1e-6);
  EXPECT_EQ(v->totals().rated_tasks(), 2);
  EXPECT_EQ(v->totals().completed_tasks(), 3);
  // Exactly what the ledger's own rule says its entries add up to.
  const v1::ServiceTotals folded =
      Totals(std::vector<v1::CreditEntry>(record->entries().begin(), record->entries().end()));
  EXPECT_EQ(v->totals().hours(), folded.hours());
  EXPECT_EQ(v->totals().points(), folded.points());
  EXPECT_EQ(v->totals().average_satisfaction(), folded.average_satisfaction());

  EXPECT_THAT(store().Credit("v000000000000", entries[0]), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().GetServiceRecord("v000000000000", 10, ""),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(VolunteerStoreTest, ServiceRecordPagesNewestFirst) {
  const std::string vid = MustRegister(Profile("A", "3301.06.003"));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store().Credit(vid, Entry(absl::StrCat("e", i), 1, 1, kT0 + absl::Hours(i))).ok());
  }
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<v1::ServiceRecord> page = store().GetServiceRecord(vid, 2, token);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(page->points(), 5);
    for (const v1::CreditEntry& e : page->entries()) seen.push_back(e.id());
    token = page->next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(seen, ElementsAre("e4", "e3", "e2", "e1", "e0"));
  EXPECT_THAT(store().GetServiceRecord(vid, 2, "bm9wZQ"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(VolunteerStoreTest, LeaderboardsRankEveryRegionLevelAndPeriod) {
  const std::string a = MustRegister(Profile("A", "3301.06.003"));
  const std::string b = MustRegister(Profile("B", "3301.06.004"));
  const std::string c = MustRegister(Profile("C", "3301.07.001"));
  const absl::Time october = kT0 - absl::Hours(24 * 30);     // 2025-10-25
  const absl::Time last_year = kT0 - absl::Hours(24 * 400);  // 2024-10-20
  ASSERT_TRUE(store().Credit(a, Entry("a1", 3, 30, kT0)).ok());
  ASSERT_TRUE(store().Credit(a, Entry("a2", 0.5, 5, last_year)).ok());
  ASSERT_TRUE(store().Credit(b, Entry("b1", 2, 20, kT0 + absl::Hours(1))).ok());
  ASSERT_TRUE(store().Credit(c, Entry("c1", 5, 50, october)).ok());

  auto ids = [&](absl::string_view region, absl::string_view period) {
    std::vector<std::string> out;
    absl::StatusOr<std::vector<v1::LeaderboardEntry>> board =
        store().Leaderboard(region, period, 10);
    EXPECT_TRUE(board.ok()) << board.status();
    if (board.ok()) {
      for (const v1::LeaderboardEntry& e : *board) out.push_back(e.volunteer_id());
    }
    return out;
  };
  EXPECT_THAT(ids("3301", "2025-11"), ElementsAre(a, b));
  EXPECT_THAT(ids("3301", "2025-10"), ElementsAre(c));
  EXPECT_THAT(ids("3301", "2025-Q4"), ElementsAre(c, a, b));
  EXPECT_THAT(ids("3301", "2025"), ElementsAre(c, a, b));
  EXPECT_THAT(ids("3301", "2024"), ElementsAre(a));
  EXPECT_THAT(ids("3301.06", "2025-Q4"), ElementsAre(a, b));
  EXPECT_THAT(ids("3301.06.004", "all"), ElementsAre(b));
  EXPECT_THAT(ids("3301.07", "2025-11"), IsEmpty());

  absl::StatusOr<std::vector<v1::LeaderboardEntry>> all = store().Leaderboard("3301", "all", 10);
  ASSERT_TRUE(all.ok());
  ASSERT_THAT(*all, SizeIs(3));
  EXPECT_EQ((*all)[0].rank(), 1);
  EXPECT_EQ((*all)[0].name(), "C");
  EXPECT_EQ((*all)[0].points(), 50);
  EXPECT_DOUBLE_EQ((*all)[0].hours(), 5);
  EXPECT_EQ((*all)[1].name(), "A");
  EXPECT_EQ((*all)[1].points(), 35);
  EXPECT_DOUBLE_EQ((*all)[1].hours(), 3.5);
  EXPECT_EQ((*all)[2].rank(), 3);

  // Equal points rank by id, also where the limit cuts through the tie.
  const std::string d = MustRegister(Profile("D", "3301.07.002"));
  const std::string e = MustRegister(Profile("E", "3301.07.003"));
  ASSERT_TRUE(store().Credit(d, Entry("d1", 2, 20, kT0)).ok());
  ASSERT_TRUE(store().Credit(e, Entry("e1", 2, 20, kT0)).ok());
  std::vector<std::string> tied = {b, d, e};
  std::sort(tied.begin(), tied.end());
  absl::StatusOr<std::vector<v1::LeaderboardEntry>> top = store().Leaderboard("3301", "2025-11", 3);
  ASSERT_TRUE(top.ok());
  ASSERT_THAT(*top, SizeIs(3));
  EXPECT_EQ((*top)[0].volunteer_id(), a);
  EXPECT_EQ((*top)[1].volunteer_id(), tied[0]);
  EXPECT_EQ((*top)[2].volunteer_id(), tied[1]);
}

TEST_F(VolunteerStoreTest, ACreditWritesAnHoursCreditedEventToTheOutbox) {
  const std::string vid = MustRegister(Profile("A", "3301.06.003"));
  const v1::CreditEntry entry = Entry("incident:42:v7", 1.5, 15, kT0, v1::SATISFACTION_SATISFIED);
  ASSERT_TRUE(store().Credit(vid, entry).ok());
  ASSERT_TRUE(store().Credit(vid, entry).ok());

  std::vector<OutboxEntry> outbox = Outbox();
  ASSERT_THAT(outbox, SizeIs(1));
  EXPECT_EQ(outbox[0].key, vid);
  const v1::DispatchEvent& event = outbox[0].event;
  EXPECT_EQ(event.event_id(), absl::StrCat("credit:", vid, ":incident:42:v7"));
  EXPECT_EQ(event.type(), v1::DISPATCH_EVENT_TYPE_HOURS_CREDITED);
  EXPECT_EQ(event.volunteer_id(), vid);
  EXPECT_EQ(event.region_code(), "3301.06.003");
  EXPECT_EQ(FromTimestamp(event.occurred_at()), kT0);
  EXPECT_THAT(event.credit(), EqualsProto(entry));
}

TEST_F(VolunteerStoreTest, OfferOutcomesCountOncePerOffer) {
  const std::string vid = MustRegister(Profile("A", "3301.06.003"));
  ASSERT_TRUE(store().RecordOfferOutcome(vid, "o1", true).ok());
  ASSERT_TRUE(store().RecordOfferOutcome(vid, "o1", true).ok());
  ASSERT_TRUE(store().RecordOfferOutcome(vid, "o2", false).ok());
  ASSERT_TRUE(store().RecordOfferOutcome(vid, "o3", true).ok());
  absl::StatusOr<v1::Volunteer> v = store().Get(vid);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->totals().declined_tasks(), 2);
  EXPECT_EQ(v->totals().expired_offers(), 1);
  absl::StatusOr<v1::ServiceRecord> record = store().GetServiceRecord(vid, 10, "");
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->declined_tasks(), 2);
  EXPECT_EQ(record->expired_offers(), 1);
  EXPECT_THAT(store().RecordOfferOutcome("v000000000000", "o1", true),
              StatusIs(absl::StatusCode::kNotFound));
}

// ---------------------------------------------------------------------------------------
// Load and offers

TEST_F(VolunteerStoreTest, LoadsCountEachTaskOnceAndForgetOldAssignments) {
  const std::string k = AssigneeKey(v1::ASSIGNEE_KIND_VOLUNTEER, "v1");
  const std::string other = AssigneeKey(v1::ASSIGNEE_KIND_GRID_WORKER, "g1");
  const absl::Time long_ago = kT0 - absl::Hours(24 * 7);
  ASSERT_TRUE(store().AddTask(k, "inc-1", kT0, long_ago).ok());
  ASSERT_TRUE(store().AddTask(k, "inc-1", kT0, long_ago).ok());
  ASSERT_TRUE(store().AddTask(k, "inc-2", kT0 + absl::Hours(1), long_ago).ok());
  // An older replay keeps the newer time.
  ASSERT_TRUE(store().AddTask(k, "inc-2", kT0, long_ago).ok());

  absl::StatusOr<std::vector<Load>> loads = store().Loads({k, other}, kT0);
  ASSERT_TRUE(loads.ok()) << loads.status();
  ASSERT_THAT(*loads, SizeIs(2));
  EXPECT_EQ((*loads)[0].active, 2);
  EXPECT_EQ((*loads)[0].recent, 2);
  EXPECT_EQ((*loads)[1].active, 0);
  EXPECT_EQ((*loads)[1].recent, 0);

  ASSERT_TRUE(store().EndTask(k, "inc-1").ok());
  ASSERT_TRUE(store().EndTask(k, "inc-1").ok());
  loads = store().Loads({k}, kT0 + absl::Minutes(30));
  ASSERT_TRUE(loads.ok());
  EXPECT_EQ((*loads)[0].active, 1);
  EXPECT_EQ((*loads)[0].recent, 1);
  // Assignments before `since` are gone, not just left uncounted.
  EXPECT_EQ(Raw({"ZCARD", absl::StrCat("dsp:{vol}:recent:", k)}).integer, 1);
  absl::StatusOr<std::vector<Load>> none = store().Loads({}, kT0);
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
}

TEST_F(VolunteerStoreTest, AddingATaskForgetsAssignmentsOlderThanAsked) {
  // Nobody reads this worker's loads (the only one on duty), yet the record stays bounded.
  const std::string k = AssigneeKey(v1::ASSIGNEE_KIND_GRID_WORKER, "g1");
  const std::string recent = absl::StrCat("dsp:{vol}:recent:", k);
  ASSERT_TRUE(store().AddTask(k, "inc-1", kT0, kT0 - absl::Hours(1)).ok());
  ASSERT_TRUE(store().AddTask(k, "inc-2", kT0 + absl::Hours(2), kT0 - absl::Hours(1)).ok());
  EXPECT_EQ(Raw({"ZCARD", recent}).integer, 2);
  ASSERT_TRUE(store().AddTask(k, "inc-3", kT0 + absl::Hours(3), kT0 + absl::Hours(1)).ok());
  EXPECT_EQ(Raw({"ZCARD", recent}).integer, 2);
  EXPECT_TRUE(Raw({"ZSCORE", recent, "inc-1"}).is_nil());
  // Forgetting touches the recent assignments only: every task still counts as open.
  EXPECT_EQ(Raw({"SCARD", absl::StrCat("dsp:{vol}:load:", k)}).integer, 3);
}

TEST_F(VolunteerStoreTest, OfferIdsComeNewestFirstInPages) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store().IndexOffer("v1", absl::StrCat("o", i), kT0 + absl::Minutes(i)).ok());
  }
  ASSERT_TRUE(store().IndexOffer("v1", "o3", kT0 + absl::Minutes(3)).ok());  // idempotent
  ASSERT_TRUE(store().IndexOffer("v2", "p0", kT0).ok());

  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = store().OfferIds("v1", 2, token);
    ASSERT_TRUE(page.ok()) << page.status();
    seen.insert(seen.end(), page->first.begin(), page->first.end());
    token = page->second;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(seen, ElementsAre("o4", "o3", "o2", "o1", "o0"));

  auto none = store().OfferIds("v3", 2, "");
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(none->first, IsEmpty());
  EXPECT_EQ(none->second, "");
  EXPECT_THAT(store().OfferIds("v1", 2, "bm9wZQ"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace gridloop::dispatch
