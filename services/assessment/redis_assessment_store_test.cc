// RedisAssessmentStore against a real redis-server: every method of the port, its
// optimistic concurrency, and what it leaves in Redis (clean counters, the outbox stream).

#include "services/assessment/redis_assessment_store.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"
#include "common/clock/proto_time.h"
#include "common/redis/redis_client.h"
#include "common/testing/matchers.h"
#include "common/testing/redis_server.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace gridloop::assessment {
namespace {

using ::gridloop::testing::EqualsProto;
using ::gridloop::testing::StatusIs;

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;
using Presence = CellChange::Presence;

constexpr v1::SubjectKind kGw = v1::SUBJECT_KIND_GRID_WORKER;
constexpr v1::SubjectKind kVol = v1::SUBJECT_KIND_VOLUNTEER;
constexpr v1::SubjectKind kReg = v1::SUBJECT_KIND_REGION;
constexpr char kMonth[] = "2026-11";
const absl::Time kReported = absl::FromUnixSeconds(1'795'000'000);

// One redis-server for the whole binary, emptied before each test.
class RedisEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<testing::RedisServer>> server = testing::RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    redis::Options options;
    options.host = (*server)->host();
    options.port = (*server)->port();
    options.pool_size = 8;
    options.pool_wait = absl::Seconds(30);
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

Cell C(v1::SubjectKind kind, absl::string_view id, absl::string_view period = kMonth) {
  return Cell{kind, std::string(id), std::string(period)};
}

Tally T(std::initializer_list<std::pair<Counter, int64_t>> counts) {
  Tally t;
  for (const auto& [c, n] : counts) t[c] = n;
  return t;
}

CellChange Change(const Cell& cell, const Tally& delta, Presence presence) {
  return CellChange{cell, delta, presence};
}

v1::FoldedIncident Facts(absl::string_view id, absl::string_view region,
                         absl::Time reported = kReported, int64_t version = 1) {
  v1::FoldedIncident f;
  f.set_incident_id(std::string(id));
  f.set_version(version);
  f.set_region_code(std::string(region));
  *f.mutable_reported_at() = ToTimestamp(reported);
  return f;
}

IncidentWrite Write(int64_t generation, int64_t expected, v1::FoldedIncident facts,
                    std::vector<CellChange> changes) {
  return IncidentWrite{generation, expected, std::move(facts), std::move(changes)};
}

const Tally kOne = T({{Counter::kReceived, 1}, {Counter::kEscalationDue, 1}});

std::string CounterKey(int64_t g, const Cell& c) {
  return absl::StrCat("asm:{a}:", g, ":c:", KindKey(c.kind), ":", c.id, ":", c.period_key);
}
std::string ExplainKey(int64_t g, const Cell& c) {
  return absl::StrCat("asm:{a}:", g, ":x:", KindKey(c.kind), ":", c.id, ":", c.period_key);
}
std::string MembersKey(int64_t g, v1::SubjectKind kind, absl::string_view region) {
  return absl::StrCat("asm:{a}:", g, ":m:", KindKey(kind), ":", region, ":", kMonth);
}

struct OutboxEntry {
  std::string key;
  v1::ScoreEvent event;
};

class AssessmentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(redis(), nullptr) << "redis-server did not start";
    ASSERT_TRUE(redis()->Command({"FLUSHALL"}).ok());
    store_ = std::make_unique<RedisAssessmentStore>(redis(), &clock_, [this] { ++notified_; });
  }

  static redis::Client* redis() { return RedisEnvironment::client(); }
  RedisAssessmentStore& store() { return *store_; }

  redis::Reply Raw(std::vector<std::string> argv) {
    absl::StatusOr<redis::Reply> r = redis()->Command(std::move(argv));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : redis::Reply::Error("failed");
  }
  int64_t Exists(const std::string& key) { return Raw({"EXISTS", key}).integer; }
  std::string HGet(const std::string& key, const std::string& field) {
    return Raw({"HGET", key, field}).str;
  }

  Generations Gens() {
    absl::StatusOr<Generations> g = store().GetGenerations();
    EXPECT_TRUE(g.ok()) << g.status();
    return g.ok() ? *g : Generations{};
  }

  Tally Read(int64_t generation, const Cell& cell) {
    absl::StatusOr<std::vector<Tally>> t = store().ReadTallies(generation, {cell});
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() && t->size() == 1 ? t->front() : Tally{};
  }

  std::vector<std::string> MembersOf(int64_t generation, v1::SubjectKind kind,
                                     absl::string_view region) {
    absl::StatusOr<std::vector<std::string>> m = store().Members(generation, kind, region, kMonth);
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *m : std::vector<std::string>{};
  }

  FoldedState Load(absl::string_view incident, int64_t generation = 1) {
    absl::StatusOr<std::vector<FoldedState>> s = store().LoadIncident(incident, {generation});
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() && s->size() == 1 ? s->front() : FoldedState{};
  }

  void MustApply(absl::string_view incident, const std::vector<IncidentWrite>& writes) {
    absl::Status s = store().ApplyIncident(Gens().revision, incident, writes);
    ASSERT_TRUE(s.ok()) << s;
  }

  Generations MustBegin(absl::string_view id, absl::string_view formula = "") {
    v1::Rebuild r;
    r.set_id(std::string(id));
    r.set_formula_version(std::string(formula));
    absl::StatusOr<Generations> g = store().BeginRebuild(r);
    EXPECT_TRUE(g.ok()) << g.status();
    return g.ok() ? *g : Generations{};
  }

  std::vector<OutboxEntry> Outbox() {
    std::vector<OutboxEntry> out;
    redis::Reply range = Raw({"XRANGE", RedisAssessmentStore::kOutboxStream, "-", "+"});
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

  std::vector<std::string> KeysOf(absl::string_view pattern) {
    std::vector<std::string> out;
    for (const redis::Reply& k : Raw({"KEYS", std::string(pattern)}).elements) {
      out.push_back(k.str);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  FakeClock clock_;
  std::atomic<int> notified_{0};
  std::unique_ptr<RedisAssessmentStore> store_;
};

// ---------------------------------------------------------------------------------------
// Generations and rebuilds

TEST_F(AssessmentStoreTest, GenerationsStartAtOneWithFormulaV1) {
  const Generations g = Gens();
  EXPECT_EQ(g.revision, 0);
  EXPECT_EQ(g.current, 1);
  EXPECT_EQ(g.current_formula, "v1");
  EXPECT_EQ(g.building, 0);
  EXPECT_THAT(g.Live(), ElementsAre(1));
}

TEST_F(AssessmentStoreTest, BeginRebuildAllocatesAFreshGenerationAndSavesTheRecord) {
  const Generations g = MustBegin("rb-1", "v2");
  EXPECT_EQ(g.revision, 1);
  EXPECT_EQ(g.current, 1);
  EXPECT_EQ(g.building, 2);
  EXPECT_EQ(g.building_formula, "v2");
  EXPECT_EQ(g.rebuild_id, "rb-1");
  EXPECT_THAT(g.Live(), ElementsAre(1, 2));

  absl::StatusOr<v1::Rebuild> saved = store().GetRebuild("rb-1");
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_EQ(saved->generation(), 2);
  EXPECT_EQ(saved->previous_generation(), 1);
  EXPECT_EQ(saved->formula_version(), "v2");
  EXPECT_EQ(saved->state(), v1::REBUILD_STATE_RUNNING);
  absl::StatusOr<v1::Rebuild> latest = store().GetRebuild("");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_THAT(*latest, EqualsProto(*saved));
}

TEST_F(AssessmentStoreTest, BeginRebuildIsRefusedWhileAnotherRunsAndRepeatsForTheSameId) {
  MustBegin("rb-1");
  v1::Rebuild other;
  other.set_id("rb-2");
  EXPECT_THAT(store().BeginRebuild(other), StatusIs(absl::StatusCode::kFailedPrecondition));

  v1::Rebuild same;
  same.set_id("rb-1");
  absl::StatusOr<Generations> again = store().BeginRebuild(same);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->revision, 1);
  EXPECT_EQ(again->building, 2);
  EXPECT_EQ(again->building_formula, "v1");  // empty = the current formula
}

TEST_F(AssessmentStoreTest, SwitchOverMakesTheBuiltGenerationCurrent) {
  MustBegin("rb-1", "v2");
  EXPECT_THAT(store().SwitchOver("rb-x"), StatusIs(absl::StatusCode::kFailedPrecondition));
  absl::StatusOr<Generations> g = store().SwitchOver("rb-1");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->revision, 2);
  EXPECT_EQ(g->current, 2);
  EXPECT_EQ(g->current_formula, "v2");
  EXPECT_EQ(g->building, 0);
  EXPECT_TRUE(g->building_formula.empty());
  EXPECT_THAT(store().SwitchOver("rb-1"), StatusIs(absl::StatusCode::kFailedPrecondition));

  const Generations next = MustBegin("rb-2");
  EXPECT_EQ(next.building, 3);
  EXPECT_EQ(next.building_formula, "v2");
  EXPECT_EQ(next.current, 2);
}

TEST_F(AssessmentStoreTest, AbandonRebuildStopsItAndItsGenerationIsNeverReused) {
  MustBegin("rb-1");
  EXPECT_THAT(store().AbandonRebuild("rb-x"), StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_TRUE(store().AbandonRebuild("rb-1").ok());
  Generations g = Gens();
  EXPECT_EQ(g.revision, 2);
  EXPECT_EQ(g.current, 1);
  EXPECT_EQ(g.building, 0);
  EXPECT_THAT(store().AbandonRebuild("rb-1"), StatusIs(absl::StatusCode::kFailedPrecondition));

  g = MustBegin("rb-2");
  EXPECT_EQ(g.building, 3);
}

TEST_F(AssessmentStoreTest, RebuildRecordsAreSavedAndFound) {
  EXPECT_THAT(store().GetRebuild(""), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store().GetRebuild("rb-9"), StatusIs(absl::StatusCode::kNotFound));
  v1::Rebuild r;
  r.set_id("rb-9");
  r.set_state(v1::REBUILD_STATE_FAILED);
  r.set_events_folded(12);
  r.set_error("broker down");
  ASSERT_TRUE(store().SaveRebuild(r).ok());
  absl::StatusOr<v1::Rebuild> got = store().GetRebuild("rb-9");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, EqualsProto(r));
  v1::Rebuild nameless;
  EXPECT_THAT(store().SaveRebuild(nameless), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(AssessmentStoreTest, DropGenerationDeletesExactlyThatGenerationsKeys) {
  MustBegin("rb-1");
  ASSERT_TRUE(store().SwitchOver("rb-1").ok());  // current 2; 1 is no longer live
  const Cell gw = C(kGw, "gw-1");
  for (int64_t g : {1, 10}) {
    for (int i = 0; i < 5; ++i) {
      MustApply(absl::StrCat("inc-", i), {Write(g, 0, Facts(absl::StrCat("inc-", i), "3301.06.003"),
                                                {Change(gw, kOne, Presence::kAdded)})});
    }
  }
  const std::vector<std::string> tens = KeysOf("asm:{a}:10:*");
  ASSERT_THAT(tens, SizeIs(5 + 1 + 1 + 3));  // facts, counter, explain, memberships
  ASSERT_THAT(KeysOf("asm:{a}:1:*"), SizeIs(tens.size()));

  int64_t total = 0;
  for (int round = 0; round < 20; ++round) {
    absl::StatusOr<int64_t> n = store().DropGeneration(1, 3);
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_LE(*n, 3);
    if (*n == 0) break;
    total += *n;
  }
  EXPECT_EQ(total, static_cast<int64_t>(tens.size()));
  EXPECT_THAT(KeysOf("asm:{a}:1:*"), IsEmpty());
  EXPECT_EQ(KeysOf("asm:{a}:10:*"), tens);
  EXPECT_EQ(Exists("asm:{a}:gen"), 1);

  EXPECT_THAT(store().DropGeneration(2, 100), StatusIs(absl::StatusCode::kFailedPrecondition));
  MustBegin("rb-2");
  EXPECT_THAT(store().DropGeneration(Gens().building, 100),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(store().DropGeneration(0, 100), StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---------------------------------------------------------------------------------------
// Folding incidents

TEST_F(AssessmentStoreTest, LoadIncidentReturnsOneStatePerGenerationAskedFor) {
  absl::StatusOr<std::vector<FoldedState>> none = store().LoadIncident("inc-1", {1, 2});
  ASSERT_TRUE(none.ok()) << none.status();
  ASSERT_THAT(*none, SizeIs(2));
  EXPECT_EQ((*none)[0].generation, 1);
  EXPECT_EQ((*none)[0].revision, 0);
  EXPECT_THAT((*none)[0].facts, EqualsProto(v1::FoldedIncident()));
  EXPECT_EQ((*none)[1].generation, 2);

  const v1::FoldedIncident facts = Facts("inc-1", "3301.06.003");
  MustApply("inc-1", {Write(2, 0, facts, {})});
  absl::StatusOr<std::vector<FoldedState>> some = store().LoadIncident("inc-1", {1, 2});
  ASSERT_TRUE(some.ok()) << some.status();
  EXPECT_EQ((*some)[0].revision, 0);
  EXPECT_EQ((*some)[1].revision, 1);
  EXPECT_THAT((*some)[1].facts, EqualsProto(facts));
}

TEST_F(AssessmentStoreTest, ApplyIncidentCountsIndexesAndRanksTheIncident) {
  const Cell gw = C(kGw, "gw-1");
  const Cell reg = C(kReg, "3301.06.003");
  MustApply("inc-1",
            {Write(1, 0, Facts("inc-1", "3301.06.003"),
                   {Change(gw, kOne, Presence::kAdded), Change(reg, kOne, Presence::kAdded)})});

  EXPECT_EQ(Read(1, gw), kOne);
  EXPECT_EQ(Read(1, reg), kOne);
  EXPECT_EQ(Read(1, C(kGw, "gw-2")), Tally{});
  EXPECT_EQ(Load("inc-1").revision, 1);

  absl::StatusOr<ExplainPage> page = store().ExplainIncidents(1, gw, 0, 10);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->incident_ids, ElementsAre("inc-1"));
  EXPECT_EQ(page->total, 1);
  EXPECT_EQ(Raw({"ZSCORE", ExplainKey(1, gw), "inc-1"}).str, "1795000000");

  // People are ranked within the incident's region and every region above it.
  EXPECT_THAT(MembersOf(1, kGw, "3301"), ElementsAre("gw-1"));
  EXPECT_THAT(MembersOf(1, kGw, "3301.06.003"), ElementsAre("gw-1"));
  EXPECT_THAT(MembersOf(1, kGw, "3301.07"), IsEmpty());
  // Regions within every region above them, not within themselves.
  EXPECT_THAT(MembersOf(1, kReg, "3301"), ElementsAre("3301.06.003"));
  EXPECT_THAT(MembersOf(1, kReg, "3301.06"), ElementsAre("3301.06.003"));
  EXPECT_THAT(MembersOf(1, kReg, "3301.06.003"), IsEmpty());
  EXPECT_THAT(MembersOf(1, kVol, "3301"), IsEmpty());
}

TEST_F(AssessmentStoreTest, MembershipsAreReferenceCountsOverIncidents) {
  const Cell gw = C(kGw, "gw-1");
  MustApply("inc-1",
            {Write(1, 0, Facts("inc-1", "3301.06.003"), {Change(gw, kOne, Presence::kAdded)})});
  MustApply("inc-2",
            {Write(1, 0, Facts("inc-2", "3301.06.004"), {Change(gw, kOne, Presence::kAdded)})});
  EXPECT_EQ(HGet(MembersKey(1, kGw, "3301.06"), "gw-1"), "2");
  EXPECT_EQ(HGet(MembersKey(1, kGw, "3301.06.003"), "gw-1"), "1");

  Tally minus = kOne;
  for (int64_t& n : minus.n) n = -n;
  MustApply("inc-1", {Write(1, 1, Facts("inc-1", "3301.06.003", kReported, 2),
                            {Change(gw, minus, Presence::kRemoved)})});
  EXPECT_EQ(HGet(MembersKey(1, kGw, "3301.06"), "gw-1"), "1");
  EXPECT_EQ(Exists(MembersKey(1, kGw, "3301.06.003")), 0);
  EXPECT_THAT(MembersOf(1, kGw, "3301.06.003"), IsEmpty());
  EXPECT_THAT(MembersOf(1, kGw, "3301.06"), ElementsAre("gw-1"));
}

TEST_F(AssessmentStoreTest, CountersGoBackToZeroAndTheirKeysDisappear) {
  const Cell gw = C(kGw, "gw-1");
  const Cell reg = C(kReg, "3301.06.003");
  MustApply("inc-1",
            {Write(1, 0, Facts("inc-1", "3301.06.003"),
                   {Change(gw, kOne, Presence::kAdded), Change(reg, kOne, Presence::kAdded)})});
  // A later fold that moves one counter and not the other leaves only non-zero fields.
  MustApply("inc-1",
            {Write(1, 1, Facts("inc-1", "3301.06.003", kReported, 2),
                   {Change(gw, T({{Counter::kEscalationDue, -1}, {Counter::kCancelled, 1}}),
                           Presence::kUnchanged)})});
  EXPECT_EQ(Raw({"HLEN", CounterKey(1, gw)}).integer, 2);
  EXPECT_EQ(HGet(CounterKey(1, gw), std::string(CounterField(Counter::kCancelled))), "1");

  Tally minus_gw = Read(1, gw);
  for (int64_t& n : minus_gw.n) n = -n;
  Tally minus_reg = kOne;
  for (int64_t& n : minus_reg.n) n = -n;
  MustApply("inc-1", {Write(1, 2, Facts("inc-1", "3301.06.003", kReported, 3),
                            {Change(gw, minus_gw, Presence::kRemoved),
                             Change(reg, minus_reg, Presence::kRemoved)})});

  EXPECT_EQ(Read(1, gw), Tally{});
  for (const Cell& c : {gw, reg}) {
    EXPECT_EQ(Exists(CounterKey(1, c)), 0) << c.id;
    EXPECT_EQ(Exists(ExplainKey(1, c)), 0) << c.id;
  }
  // Only the facts are left, and they no longer name counted people.
  EXPECT_THAT(KeysOf("asm:{a}:1:*"), ElementsAre("asm:{a}:1:f:inc-1"));
  EXPECT_EQ(Raw({"HLEN", "asm:{a}:1:f:inc-1"}).integer, 2);
  EXPECT_EQ(Load("inc-1").revision, 3);
}

TEST_F(AssessmentStoreTest, MembershipRemovalUsesTheRegionTheyWereCountedUnder) {
  const Cell gw1 = C(kGw, "gw-1");
  const Cell gw2 = C(kGw, "gw-2");
  MustApply("inc-1",
            {Write(1, 0, Facts("inc-1", "3301.06.003"), {Change(gw1, kOne, Presence::kAdded)})});
  Tally minus = kOne;
  for (int64_t& n : minus.n) n = -n;
  // Reassigned and relocated at once: gw-1 leaves under the old region, gw-2 joins under
  // the new one.
  MustApply("inc-1",
            {Write(1, 1, Facts("inc-1", "3301.07.001", kReported, 2),
                   {Change(gw1, minus, Presence::kRemoved), Change(gw2, kOne, Presence::kAdded)})});
  EXPECT_THAT(KeysOf("asm:{a}:1:m:*"),
              UnorderedElementsAre(MembersKey(1, kGw, "3301"), MembersKey(1, kGw, "3301.07"),
                                   MembersKey(1, kGw, "3301.07.001")));
  EXPECT_THAT(MembersOf(1, kGw, "3301"), ElementsAre("gw-2"));
  EXPECT_THAT(MembersOf(1, kGw, "3301.06"), IsEmpty());
  EXPECT_THAT(MembersOf(1, kGw, "3301.07.001"), ElementsAre("gw-2"));
}

TEST_F(AssessmentStoreTest, AGridLocatedLaterMovesThePeopleAlreadyCounted) {
  const Cell gw = C(kGw, "gw-1");
  const Cell vol = C(kVol, "vol-1");
  // Reported without a grid: counted, but ranked nowhere yet.
  MustApply("inc-1",
            {Write(1, 0, Facts("inc-1", ""),
                   {Change(gw, kOne, Presence::kAdded), Change(vol, kOne, Presence::kAdded)})});
  EXPECT_THAT(KeysOf("asm:{a}:1:m:*"), IsEmpty());
  // The grid becomes known; the cells themselves do not change.
  MustApply("inc-1", {Write(1, 1, Facts("inc-1", "3301.06", kReported, 2), {})});
  EXPECT_THAT(MembersOf(1, kGw, "3301.06"), ElementsAre("gw-1"));
  EXPECT_THAT(MembersOf(1, kVol, "3301"), ElementsAre("vol-1"));
  // A finer grid: moved again, never counted twice.
  MustApply("inc-1", {Write(1, 2, Facts("inc-1", "3301.06.003", kReported, 3), {})});
  EXPECT_EQ(HGet(MembersKey(1, kGw, "3301"), "gw-1"), "1");
  EXPECT_EQ(HGet(MembersKey(1, kGw, "3301.06"), "gw-1"), "1");
  EXPECT_EQ(HGet(MembersKey(1, kGw, "3301.06.003"), "gw-1"), "1");
  EXPECT_EQ(HGet(MembersKey(1, kVol, "3301.06.003"), "vol-1"), "1");
  EXPECT_THAT(KeysOf("asm:{a}:1:m:*"), SizeIs(6));
}

TEST_F(AssessmentStoreTest, AStaleIncidentRevisionIsAbortedAndWritesNothing) {
  const Cell gw = C(kGw, "gw-1");
  MustApply("inc-1",
            {Write(1, 0, Facts("inc-1", "3301.06.003"), {Change(gw, kOne, Presence::kAdded)})});
  const std::vector<IncidentWrite> from_nothing = {
      Write(1, 0, Facts("inc-1", "3301.06.003"), {Change(gw, kOne, Presence::kAdded)})};
  EXPECT_THAT(store().ApplyIncident(0, "inc-1", from_nothing),
              StatusIs(absl::StatusCode::kAborted));
  const std::vector<IncidentWrite> from_the_future = {
      Write(1, 5, Facts("inc-1", "3301.06.003"), {Change(gw, kOne, Presence::kUnchanged)})};
  EXPECT_THAT(store().ApplyIncident(0, "inc-1", from_the_future),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(Read(1, gw), kOne);
  EXPECT_EQ(Load("inc-1").revision, 1);
}

TEST_F(AssessmentStoreTest, AMovedGenerationsRevisionIsAbortedAndWritesNothing) {
  const Cell gw = C(kGw, "gw-1");
  const int64_t seen = Gens().revision;
  MustBegin("rb-1");
  const std::vector<IncidentWrite> writes = {
      Write(1, 0, Facts("inc-1", "3301.06.003"), {Change(gw, kOne, Presence::kAdded)})};
  EXPECT_THAT(store().ApplyIncident(seen, "inc-1", writes), StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(Exists(CounterKey(1, gw)), 0);
  EXPECT_EQ(Exists("asm:{a}:1:f:inc-1"), 0);
  EXPECT_EQ(Raw({"ZCARD", "asm:{a}:dirty"}).integer, 0);
}

TEST_F(AssessmentStoreTest, OneApplyWritesEveryLiveGenerationButMarksOnlyTheCurrent) {
  MustBegin("rb-1");
  const Cell gw = C(kGw, "gw-1");
  MustApply("inc-1",
            {Write(1, 0, Facts("inc-1", "3301.06.003"), {Change(gw, kOne, Presence::kAdded)}),
             Write(2, 0, Facts("inc-1", "3301.06.003"), {Change(gw, kOne, Presence::kAdded)})});
  EXPECT_EQ(Read(1, gw), kOne);
  EXPECT_EQ(Read(2, gw), kOne);
  absl::StatusOr<std::vector<DirtySubject>> dirty = store().DirtySubjects(clock_.Now(), 10);
  ASSERT_TRUE(dirty.ok()) << dirty.status();
  ASSERT_THAT(*dirty, SizeIs(1));

  // Into the building generation alone (a rebuild's replay): no score event is due.
  ASSERT_TRUE(redis()->Command({"DEL", "asm:{a}:dirty"}).ok());
  MustApply("inc-2", {Write(2, 0, Facts("inc-2", "3301.06.003"),
                            {Change(C(kGw, "gw-2"), kOne, Presence::kAdded)})});
  EXPECT_EQ(Raw({"ZCARD", "asm:{a}:dirty"}).integer, 0);
}

TEST_F(AssessmentStoreTest, SubjectsAreMarkedOnceInTheOrderTheyFirstChanged) {
  const absl::Time t0 = clock_.Now();
  MustApply("inc-1", {Write(1, 0, Facts("inc-1", "3301.06.003"),
                            {Change(C(kGw, "gw-b"), kOne, Presence::kAdded)})});
  clock_.Advance(absl::Seconds(5));
  MustApply("inc-2", {Write(1, 0, Facts("inc-2", "3301.06.003"),
                            {Change(C(kGw, "gw-a"), kOne, Presence::kAdded),
                             Change(C(kReg, "3301.06.003"), kOne, Presence::kAdded)})});
  clock_.Advance(absl::Seconds(5));
  MustApply("inc-1", {Write(1, 1, Facts("inc-1", "3301.06.003", kReported, 2),
                            {Change(C(kGw, "gw-b"), kOne, Presence::kUnchanged)})});

  absl::StatusOr<std::vector<DirtySubject>> dirty = store().DirtySubjects(clock_.Now(), 10);
  ASSERT_TRUE(dirty.ok()) << dirty.status();
  ASSERT_THAT(*dirty, SizeIs(3));
  EXPECT_EQ((*dirty)[0].subject.kind, kGw);
  EXPECT_EQ((*dirty)[0].subject.id, "gw-b");
  EXPECT_EQ((*dirty)[0].published_at, absl::InfinitePast());
  EXPECT_TRUE((*dirty)[0].published_digest.empty());
  EXPECT_EQ(Raw({"ZSCORE", "asm:{a}:dirty", "gw:gw-b"}).str, absl::StrCat(absl::ToUnixMillis(t0)));
  absl::StatusOr<std::vector<DirtySubject>> first = store().DirtySubjects(clock_.Now(), 1);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_THAT(*first, SizeIs(1));
  EXPECT_EQ((*first)[0].subject.id, "gw-b");
}

// ---------------------------------------------------------------------------------------
// Dispatch events

TEST_F(AssessmentStoreTest, ApplyEventOnceAppliesAnEventOnlyOnce) {
  const Cell vol = C(kVol, "vol-1");
  const Tally offers = T({{Counter::kOffersMade, 1}, {Counter::kOffersAccepted, 1}});
  const std::vector<EventWrite> writes = {
      EventWrite{1, {Change(vol, offers, Presence::kUnchanged)}}};
  absl::StatusOr<bool> first = store().ApplyEventOnce(0, "ev-1", "2026-11-27", writes);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(*first);
  absl::StatusOr<bool> second = store().ApplyEventOnce(0, "ev-1", "2026-11-27", writes);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(*second);
  EXPECT_EQ(Read(1, vol), offers);
  EXPECT_EQ(Raw({"SISMEMBER", "asm:{a}:1:seen:2026-11-27", "ev-1"}).integer, 1);
  // Events count; they rank no one and explain nothing.
  EXPECT_THAT(KeysOf("asm:{a}:1:*"), ElementsAre(CounterKey(1, vol), "asm:{a}:1:seen:2026-11-27"));
  EXPECT_EQ(Raw({"ZCARD", "asm:{a}:dirty"}).integer, 1);
}

TEST_F(AssessmentStoreTest, ApplyEventOnceFillsAGenerationThatMissedTheEvent) {
  const Cell vol = C(kVol, "vol-1");
  const Tally hours = T({{Counter::kServiceMillihours, 1500}});
  absl::StatusOr<bool> live = store().ApplyEventOnce(
      0, "ev-1", "2026-11-27", {EventWrite{1, {Change(vol, hours, Presence::kUnchanged)}}});
  ASSERT_TRUE(live.ok()) << live.status();
  const Generations g = MustBegin("rb-1");
  absl::StatusOr<bool> both =
      store().ApplyEventOnce(g.revision, "ev-1", "2026-11-27",
                             {EventWrite{1, {Change(vol, hours, Presence::kUnchanged)}},
                              EventWrite{2, {Change(vol, hours, Presence::kUnchanged)}}});
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_TRUE(*both);
  EXPECT_EQ(Read(1, vol), hours);
  EXPECT_EQ(Read(2, vol), hours);
}

TEST_F(AssessmentStoreTest, ApplyEventOnceIsAbortedWhenTheGenerationsMoved) {
  MustBegin("rb-1");
  const Cell vol = C(kVol, "vol-1");
  EXPECT_THAT(
      store().ApplyEventOnce(
          0, "ev-1", "2026-11-27",
          {EventWrite{1, {Change(vol, T({{Counter::kOffersMade, 1}}), Presence::kUnchanged)}}}),
      StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(Exists("asm:{a}:1:seen:2026-11-27"), 0);
  EXPECT_EQ(Exists(CounterKey(1, vol)), 0);
}

// ---------------------------------------------------------------------------------------
// Reading

TEST_F(AssessmentStoreTest, ReadTalliesIgnoresFieldsItDoesNotKnow) {
  const Cell gw = C(kGw, "gw-1");
  MustApply("inc-1",
            {Write(1, 0, Facts("inc-1", "3301.06.003"), {Change(gw, kOne, Presence::kAdded)})});
  ASSERT_TRUE(redis()->Command({"HSET", CounterKey(1, gw), "from_the_future", "7"}).ok());
  absl::StatusOr<std::vector<Tally>> t = store().ReadTallies(1, {C(kGw, "gw-0"), gw});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(*t, ElementsAre(Tally{}, kOne));
  EXPECT_THAT(store().ReadTallies(1, {C(v1::SUBJECT_KIND_UNSPECIFIED, "x")}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(AssessmentStoreTest, ExplainIncidentsPagesOldestReportFirst) {
  const Cell gw = C(kGw, "gw-1");
  for (int i : {2, 0, 1}) {
    const std::string id = absl::StrCat("inc-", i);
    MustApply(id, {Write(1, 0, Facts(id, "3301.06.003", kReported + absl::Hours(i)),
                         {Change(gw, kOne, Presence::kAdded)})});
  }
  absl::StatusOr<ExplainPage> all = store().ExplainIncidents(1, gw, 0, 10);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(all->incident_ids, ElementsAre("inc-0", "inc-1", "inc-2"));
  absl::StatusOr<ExplainPage> middle = store().ExplainIncidents(1, gw, 1, 1);
  ASSERT_TRUE(middle.ok()) << middle.status();
  EXPECT_THAT(middle->incident_ids, ElementsAre("inc-1"));
  EXPECT_EQ(middle->total, 3);
  absl::StatusOr<ExplainPage> past = store().ExplainIncidents(1, gw, 3, 10);
  ASSERT_TRUE(past.ok()) << past.status();
  EXPECT_THAT(past->incident_ids, IsEmpty());
  EXPECT_EQ(past->total, 3);
}

TEST_F(AssessmentStoreTest, GetFactsGivesADefaultRecordForAnIncidentNotFolded) {
  const v1::FoldedIncident facts = Facts("inc-1", "3301.06.003");
  MustApply("inc-1", {Write(1, 0, facts, {})});
  absl::StatusOr<std::vector<v1::FoldedIncident>> got = store().GetFacts(1, {"inc-1", "inc-9"});
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_THAT(*got, SizeIs(2));
  EXPECT_THAT((*got)[0], EqualsProto(facts));
  EXPECT_THAT((*got)[1], EqualsProto(v1::FoldedIncident()));
}

// ---------------------------------------------------------------------------------------
// Ratings and appeals

FrozenRating Rating(double score, int stars, absl::Time at, bool insufficient = false) {
  FrozenRating f;
  f.score = score;
  f.stars = stars;
  f.insufficient_sample = insufficient;
  f.formula_version = "v2|beta";
  f.frozen_at = at;
  return f;
}

void ExpectRating(const std::optional<FrozenRating>& got, const FrozenRating& want) {
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->score, want.score);
  EXPECT_EQ(got->stars, want.stars);
  EXPECT_EQ(got->insufficient_sample, want.insufficient_sample);
  EXPECT_EQ(got->formula_version, want.formula_version);
  EXPECT_EQ(got->frozen_at, want.frozen_at);
}

TEST_F(AssessmentStoreTest, FreezeKeepsTheFirstFrozenRating) {
  const absl::Time t0 = clock_.Now();
  const FrozenRating a = Rating(87.123456789012345, 4, t0);
  const FrozenRating b = Rating(12.5, 0, t0, /*insufficient=*/true);
  absl::StatusOr<int> first = store().Freeze(kGw, kMonth, {{"gw-a", a}, {"gw-b", b}});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 2);
  absl::StatusOr<int> second =
      store().Freeze(kGw, kMonth, {{"gw-a", Rating(10, 1, t0 + absl::Hours(1))}, {"gw-c", a}});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, 1);

  absl::StatusOr<std::vector<std::optional<FrozenRating>>> got =
      store().GetFrozen(kGw, {"gw-a", "gw-b", "gw-x"}, kMonth);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_THAT(*got, SizeIs(3));
  ExpectRating((*got)[0], a);
  ExpectRating((*got)[1], b);
  EXPECT_FALSE((*got)[2].has_value());
  absl::StatusOr<std::vector<std::optional<FrozenRating>>> other_kind =
      store().GetFrozen(kVol, {"gw-a"}, kMonth);
  ASSERT_TRUE(other_kind.ok()) << other_kind.status();
  EXPECT_FALSE((*other_kind)[0].has_value());
}

v1::Appeal Decision(absl::string_view subject, int stars, double score,
                    absl::string_view reason = "the overdue case was a data error") {
  v1::Appeal a;
  a.set_subject_kind(kGw);
  a.set_subject_id(std::string(subject));
  a.set_period(v1::PERIOD_MONTH);
  a.set_period_key(kMonth);
  a.set_stars_after(stars);
  a.set_score_after(score);
  a.set_reason(std::string(reason));
  a.set_decided_by("staff-9");
  *a.mutable_decided_at() = ToTimestamp(absl::FromUnixSeconds(1'796'000'000));
  return a;
}

TEST_F(AssessmentStoreTest, AnAppealNeedsAFrozenRating) {
  EXPECT_THAT(store().RecordAppeal("req-1", Decision("gw-a", 5, 95)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  absl::StatusOr<std::vector<v1::Appeal>> none = store().ListAppeals(kGw, "gw-a", kMonth);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_THAT(*none, IsEmpty());
}

TEST_F(AssessmentStoreTest, AnAppealReplacesTheRatingAndIsListed) {
  const FrozenRating before = Rating(71.5, 3, clock_.Now());
  ASSERT_TRUE(store().Freeze(kGw, kMonth, {{"gw-a", before}}).ok());

  absl::StatusOr<v1::Appeal> appeal = store().RecordAppeal("req-1", Decision("gw-a", 4, 82.25));
  ASSERT_TRUE(appeal.ok()) << appeal.status();
  EXPECT_EQ(appeal->id().size(), 14u);
  EXPECT_EQ(appeal->id().substr(0, 2), "ap");
  EXPECT_EQ(appeal->stars_before(), 3);
  EXPECT_EQ(appeal->score_before(), 71.5);
  EXPECT_EQ(appeal->stars_after(), 4);
  EXPECT_EQ(appeal->score_after(), 82.25);

  absl::StatusOr<std::vector<std::optional<FrozenRating>>> now =
      store().GetFrozen(kGw, {"gw-a"}, kMonth);
  ASSERT_TRUE(now.ok()) << now.status();
  FrozenRating after = before;
  after.score = 82.25;
  after.stars = 4;
  ExpectRating((*now)[0], after);

  // A second appeal starts from the first one's decision.
  absl::StatusOr<v1::Appeal> again = store().RecordAppeal("req-2", Decision("gw-a", 5, 90));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->stars_before(), 4);
  EXPECT_EQ(again->score_before(), 82.25);

  absl::StatusOr<std::vector<v1::Appeal>> listed = store().ListAppeals(kGw, "gw-a", kMonth);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_THAT(*listed, SizeIs(2));
  EXPECT_THAT((*listed)[0], EqualsProto(*appeal));
  EXPECT_THAT((*listed)[1], EqualsProto(*again));
}

TEST_F(AssessmentStoreTest, ARepeatedAppealRequestReturnsTheFirstAppeal) {
  ASSERT_TRUE(store().Freeze(kGw, kMonth, {{"gw-a", Rating(71.5, 3, clock_.Now())}}).ok());
  absl::StatusOr<v1::Appeal> first = store().RecordAppeal("req-1", Decision("gw-a", 4, 82));
  ASSERT_TRUE(first.ok()) << first.status();
  v1::Appeal retried = Decision("gw-a", 4, 82);
  *retried.mutable_decided_at() = ToTimestamp(absl::FromUnixSeconds(1'796'000'060));
  absl::StatusOr<v1::Appeal> again = store().RecordAppeal("req-1", retried);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(*again, EqualsProto(*first));
  EXPECT_THAT(store().RecordAppeal("req-1", Decision("gw-a", 5, 99)),
              StatusIs(absl::StatusCode::kAlreadyExists));

  absl::StatusOr<std::vector<v1::Appeal>> listed = store().ListAppeals(kGw, "gw-a", kMonth);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(*listed, SizeIs(1));
  absl::StatusOr<std::vector<std::optional<FrozenRating>>> now =
      store().GetFrozen(kGw, {"gw-a"}, kMonth);
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ((*now)[0]->stars, 4);
}

// ---------------------------------------------------------------------------------------
// Score events

v1::ScoreEvent Event(absl::string_view subject, absl::Time at, double score) {
  v1::ScoreEvent e;
  e.set_event_id(absl::StrCat("gw:", subject, ":", absl::ToUnixMillis(at)));
  e.set_subject_kind(kGw);
  e.set_subject_id(std::string(subject));
  *e.mutable_occurred_at() = ToTimestamp(at);
  e.set_formula_version("v1");
  v1::PeriodScore* s = e.add_scores();
  s->set_period(v1::PERIOD_MONTH);
  s->set_period_key(kMonth);
  s->set_score(score);
  s->set_stars(4);
  return e;
}

class ScoreEventTest : public AssessmentStoreTest {
 protected:
  void Touch(int n) {
    const std::string id = absl::StrCat("inc-", n);
    MustApply(id, {Write(1, 0, Facts(id, "3301.06.003"),
                         {Change(C(kGw, "gw-1"), kOne, Presence::kAdded)})});
  }
  DirtySubject OnlyDirty() {
    absl::StatusOr<std::vector<DirtySubject>> d = store().DirtySubjects(clock_.Now(), 10);
    EXPECT_TRUE(d.ok()) << d.status();
    EXPECT_THAT(*d, SizeIs(1));
    return d.ok() && d->size() == 1 ? d->front() : DirtySubject{};
  }
};

TEST_F(ScoreEventTest, TheFirstPublishWritesOneOutboxEntry) {
  Touch(1);
  const DirtySubject d = OnlyDirty();
  const absl::Time now = clock_.Now();
  const v1::ScoreEvent e = Event("gw-1", now, 80);
  absl::StatusOr<bool> done =
      store().PublishScore(d, now, "digest-80", &e, clock_.Now() + absl::Minutes(1));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(*done);
  const std::vector<OutboxEntry> outbox = Outbox();
  ASSERT_THAT(outbox, SizeIs(1));
  EXPECT_EQ(outbox[0].key, "gw:gw-1");
  EXPECT_THAT(outbox[0].event, EqualsProto(e));
  EXPECT_EQ(notified_.load(), 1);
  absl::StatusOr<std::vector<DirtySubject>> left = store().DirtySubjects(clock_.Now(), 10);
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_THAT(*left, IsEmpty());

  Touch(2);
  const DirtySubject next = OnlyDirty();
  EXPECT_EQ(next.published_at, absl::FromUnixMillis(absl::ToUnixMillis(now)));
  EXPECT_EQ(next.published_digest, "digest-80");
}

TEST_F(ScoreEventTest, APublishAfterAnotherReplicasIsDropped) {
  Touch(1);
  const DirtySubject stale = OnlyDirty();
  const v1::ScoreEvent e = Event("gw-1", clock_.Now(), 80);
  ASSERT_TRUE(
      store()
          .PublishScore(stale, clock_.Now(), "digest-80", &e, clock_.Now() + absl::Minutes(1))
          .ok());

  Touch(2);
  clock_.Advance(absl::Minutes(2));
  const v1::ScoreEvent late = Event("gw-1", clock_.Now(), 75);
  absl::StatusOr<bool> done = store().PublishScore(stale, clock_.Now(), "digest-75", &late,
                                                   clock_.Now() + absl::Minutes(1));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_FALSE(*done);
  EXPECT_THAT(Outbox(), SizeIs(1));
  EXPECT_EQ(notified_.load(), 1);
  // The change after `stale` was read keeps its mark: it still needs an event.
  EXPECT_EQ(Raw({"ZCARD", "asm:{a}:dirty"}).integer, 1);
}

TEST_F(ScoreEventTest, AChangeWhilePublishingKeepsItsMarkForLater) {
  Touch(1);
  const DirtySubject seen = OnlyDirty();
  Touch(2);  // folded after the publisher looked
  const v1::ScoreEvent e = Event("gw-1", clock_.Now(), 80);
  const absl::Time next = clock_.Now() + absl::Minutes(1);
  absl::StatusOr<bool> done = store().PublishScore(seen, clock_.Now(), "digest-80", &e, next);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(*done);
  absl::StatusOr<std::vector<DirtySubject>> now = store().DirtySubjects(clock_.Now(), 10);
  ASSERT_TRUE(now.ok());
  EXPECT_THAT(*now, IsEmpty()) << "not due again until the interval is over";
  absl::StatusOr<std::vector<DirtySubject>> later = store().DirtySubjects(next, 10);
  ASSERT_TRUE(later.ok());
  ASSERT_THAT(*later, SizeIs(1));
  EXPECT_EQ((*later)[0].change, seen.change + 1);
}

TEST_F(ScoreEventTest, ADeferredMarkIsNotDueUntilItsTime) {
  Touch(1);
  const absl::Time until = clock_.Now() + absl::Seconds(40);
  ASSERT_TRUE(store().DeferScore(SubjectRef{kGw, "gw-1"}, until).ok());
  absl::StatusOr<std::vector<DirtySubject>> d = store().DirtySubjects(clock_.Now(), 10);
  ASSERT_TRUE(d.ok());
  EXPECT_THAT(*d, IsEmpty());
  d = store().DirtySubjects(until, 10);
  ASSERT_TRUE(d.ok());
  EXPECT_THAT(*d, SizeIs(1));
  // Deferring a subject with no mark does not create one.
  ASSERT_TRUE(store().DeferScore(SubjectRef{kGw, "gw-9"}, until).ok());
  EXPECT_EQ(Raw({"ZCARD", "asm:{a}:dirty"}).integer, 1);
}

TEST_F(ScoreEventTest, AnUnchangedScoreIsNotPublishedAgain) {
  Touch(1);
  const v1::ScoreEvent e = Event("gw-1", clock_.Now(), 80);
  ASSERT_TRUE(
      store()
          .PublishScore(OnlyDirty(), clock_.Now(), "digest-80", &e, clock_.Now() + absl::Minutes(1))
          .ok());

  Touch(2);
  clock_.Advance(absl::Minutes(2));
  const v1::ScoreEvent same = Event("gw-1", clock_.Now(), 80);
  absl::StatusOr<bool> done = store().PublishScore(OnlyDirty(), clock_.Now(), "digest-80", &same,
                                                   clock_.Now() + absl::Minutes(1));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_FALSE(*done);

  Touch(3);
  done = store().PublishScore(OnlyDirty(), clock_.Now(), "digest-81", nullptr,
                              clock_.Now() + absl::Minutes(1));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_FALSE(*done);
  EXPECT_THAT(Outbox(), SizeIs(1));
  EXPECT_EQ(Raw({"ZCARD", "asm:{a}:dirty"}).integer, 0);
}

// ---------------------------------------------------------------------------------------
// Concurrency

TEST_F(AssessmentStoreTest, ConflictingFoldsOfOneIncidentEndWithExactCounters) {
  constexpr int kThreads = 20;
  constexpr int kEach = 5;
  const Cell gw = C(kGw, "gw-1");
  const Cell reg = C(kReg, "3301.06.003");
  std::atomic<int> aborted{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int done = 0; done < kEach;) {
        absl::StatusOr<Generations> g = store().GetGenerations();
        absl::StatusOr<std::vector<FoldedState>> s = store().LoadIncident("inc-1", {1});
        if (!g.ok() || !s.ok()) {
          failed.fetch_add(1);
          return;
        }
        const FoldedState& state = s->front();
        // Every fold adds one escalation; the first also starts the incident counting.
        IncidentWrite w;
        w.generation = 1;
        w.expected_revision = state.revision;
        w.facts = state.revision == 0 ? Facts("inc-1", "3301.06.003") : state.facts;
        w.facts.set_escalation_level(w.facts.escalation_level() + 1);
        const Presence presence = state.revision == 0 ? Presence::kAdded : Presence::kUnchanged;
        Tally delta = T({{Counter::kEscalated, 1}});
        if (state.revision == 0) delta[Counter::kReceived] = 1;
        w.changes = {Change(gw, delta, presence), Change(reg, delta, presence)};
        absl::Status st = store().ApplyIncident(g->revision, "inc-1", {w});
        if (absl::IsAborted(st)) {
          aborted.fetch_add(1);
          continue;
        }
        if (!st.ok()) {
          failed.fetch_add(1);
          return;
        }
        ++done;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(failed.load(), 0);

  const FoldedState end = Load("inc-1");
  EXPECT_EQ(end.revision, kThreads * kEach);
  EXPECT_EQ(end.facts.escalation_level(), kThreads * kEach);
  const Tally want = T({{Counter::kReceived, 1}, {Counter::kEscalated, kThreads * kEach}});
  EXPECT_EQ(Read(1, gw), want);
  EXPECT_EQ(Read(1, reg), want);
  EXPECT_EQ(HGet(MembersKey(1, kGw, "3301.06.003"), "gw-1"), "1");
  EXPECT_EQ(HGet(MembersKey(1, kReg, "3301"), "3301.06.003"), "1");
  EXPECT_EQ(Raw({"ZCARD", ExplainKey(1, gw)}).integer, 1);
  RecordProperty("aborted_folds", aborted.load());
}

// ---------------------------------------------------------------------------------------
// Kind keys

TEST(KindKeys, RoundTrip) {
  for (v1::SubjectKind k : {kGw, kVol, v1::SUBJECT_KIND_DEPARTMENT, kReg}) {
    EXPECT_EQ(KindFromKey(KindKey(k)), k);
  }
  EXPECT_EQ(KindKey(kGw), "gw");
  EXPECT_EQ(KindKey(kVol), "vol");
  EXPECT_EQ(KindKey(v1::SUBJECT_KIND_DEPARTMENT), "dep");
  EXPECT_EQ(KindKey(kReg), "reg");
  EXPECT_EQ(KindFromKey("nope"), std::nullopt);
}

}  // namespace
}  // namespace gridloop::assessment
