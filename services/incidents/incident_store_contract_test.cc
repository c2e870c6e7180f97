// The contract of IncidentStore, run unchanged against the in-memory twin and against the
// Redis adapter on a real redis-server, so the domain's unit tests (which use the twin)
// say something true about production.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/clock/proto_time.h"
#include "common/redis/redis_client.h"
#include "common/testing/matchers.h"
#include "common/testing/redis_server.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/incidents/ids.h"
#include "services/incidents/incident_store.h"
#include "services/incidents/memory_incident_store.h"
#include "services/incidents/redis_incident_store.h"

namespace gridloop::incidents {
namespace {

using ::gridloop::testing::EqualsProto;
using ::gridloop::testing::StatusIs;

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Whole milliseconds: both stores keep time at that precision.
const absl::Time kT0 = absl::FromUnixMillis(1764000000000);  // 2025-11-24T16:00:00Z

// One outbox entry as a consumer would see it: the Kafka key and the event.
struct OutboxEntry {
  std::string key;
  v1::IncidentEvent event;
};

// ---------------------------------------------------------------------------------------
// The two stores under test. Each backend offers the store and a view of one shard's
// outbox; a suite-wide setup may start shared infrastructure.

class MemoryBackend {
 public:
  absl::Status Reset() { return absl::OkStatus(); }
  IncidentStore& store() { return store_; }

  absl::StatusOr<std::vector<OutboxEntry>> Outbox(int shard) {
    std::vector<OutboxEntry> out;
    for (const v1::IncidentEvent& e : store_.events()) {
      if (ShardOfId(e.incident_id()) == shard) out.push_back({e.incident_id(), e});
    }
    return out;
  }

 private:
  MemoryIncidentStore store_;
};

// One redis-server for the whole binary (started by RedisEnvironment below), emptied
// before each case.
class RedisBackend {
 public:
  static absl::Status StartServer() {
    absl::StatusOr<std::unique_ptr<testing::RedisServer>> server = testing::RedisServer::Start();
    if (!server.ok()) return server.status();
    redis::Options options;
    options.host = (*server)->host();
    options.port = (*server)->port();
    absl::StatusOr<std::unique_ptr<redis::Client>> client = redis::Connect(options);
    if (!client.ok()) return client.status();
    server_ = server->release();
    client_ = client->release();
    return absl::OkStatus();
  }

  static void StopServer() {
    delete client_;
    client_ = nullptr;
    delete server_;
    server_ = nullptr;
  }

  absl::Status Reset() {
    if (client_ == nullptr) return absl::FailedPreconditionError("redis-server did not start");
    absl::StatusOr<redis::Reply> flushed = client_->Command({"FLUSHALL"});
    if (!flushed.ok()) return flushed.status();
    appended_.clear();
    store_ = std::make_unique<RedisIncidentStore>(
        client_, [this](outbox::Appended entry) { appended_.push_back(std::move(entry)); });
    return absl::OkStatus();
  }

  // What the store handed its relay, in order.
  const std::vector<outbox::Appended>& appended() const { return appended_; }

  absl::StatusOr<redis::Reply> Command(std::vector<std::string> argv) {
    return client_->Command(std::move(argv));
  }

  IncidentStore& store() { return *store_; }

  absl::StatusOr<std::vector<OutboxEntry>> Outbox(int shard) {
    const std::string stream = absl::StrFormat("inc:{%02x}:outbox", shard);
    absl::StatusOr<redis::Reply> len = client_->Command({"XLEN", stream});
    if (!len.ok()) return len.status();
    absl::StatusOr<redis::Reply> range = client_->Command({"XRANGE", stream, "-", "+"});
    if (!range.ok()) return range.status();
    std::vector<OutboxEntry> out;
    for (const redis::Reply& entry : range->elements) {
      if (entry.elements.size() != 2) return absl::DataLossError("malformed stream entry");
      OutboxEntry e;
      const std::vector<redis::Reply>& fields = entry.elements[1].elements;
      for (size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].str == "k") e.key = fields[i + 1].str;
        if (fields[i].str == "v" && !e.event.ParseFromString(fields[i + 1].str)) {
          return absl::DataLossError("unreadable event");
        }
      }
      out.push_back(std::move(e));
    }
    if (len->integer != static_cast<int64_t>(out.size())) {
      return absl::InternalError("XLEN disagrees with XRANGE");
    }
    return out;
  }

 private:
  static testing::RedisServer* server_;
  static redis::Client* client_;
  std::unique_ptr<RedisIncidentStore> store_;
  std::vector<outbox::Appended> appended_;
};

testing::RedisServer* RedisBackend::server_ = nullptr;
redis::Client* RedisBackend::client_ = nullptr;

class RedisEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const absl::Status started = RedisBackend::StartServer();
    ASSERT_TRUE(started.ok()) << started;
  }
  void TearDown() override { RedisBackend::StopServer(); }
};

::testing::Environment* const kRedisEnvironment =
    ::testing::AddGlobalTestEnvironment(new RedisEnvironment);

// ---------------------------------------------------------------------------------------
// Writes built by hand, the way the domain builds them.

v1::Incident NewRecord(int shard, absl::Time reported) {
  v1::Incident inc;
  inc.set_id(NewIncidentId(shard, reported));
  inc.set_status(v1::INCIDENT_STATUS_REPORTED);
  inc.set_version(1);
  inc.set_category("road.pothole");
  inc.set_region_code("330102001");
  inc.set_title("Pothole at the bus stop");
  inc.set_channel(v1::CHANNEL_APP);
  inc.set_urgency(v1::URGENCY_NORMAL);
  *inc.mutable_reported_at() = ToTimestamp(reported);
  *inc.mutable_updated_at() = ToTimestamp(reported);
  return inc;
}

v1::HistoryEntry EntryFor(const v1::Incident& after, v1::IncidentStatus from,
                          v1::IncidentEventType type) {
  v1::HistoryEntry h;
  h.set_version(after.version());
  h.set_type(type);
  *h.mutable_at() = after.updated_at();
  h.set_actor_id("worker-7");
  h.set_actor_role("grid_worker");
  h.set_from_status(from);
  h.set_to_status(after.status());
  *h.mutable_assignee() = after.assignee();
  return h;
}

v1::IncidentEvent EventFor(const v1::Incident& after, v1::IncidentEventType type) {
  v1::IncidentEvent e;
  e.set_event_id(absl::StrCat(after.id(), "/", after.version()));
  e.set_incident_id(after.id());
  e.set_version(after.version());
  e.set_type(type);
  *e.mutable_occurred_at() = after.updated_at();
  *e.mutable_incident() = after;
  return e;
}

// The write that stores `inc` as a new record.
IncidentWrite Create(const v1::Incident& inc) {
  IncidentWrite w;
  w.incident = inc;
  w.history = EntryFor(inc, v1::INCIDENT_STATUS_UNSPECIFIED, v1::INCIDENT_EVENT_TYPE_REPORTED);
  w.expected_version = 0;
  w.event = EventFor(inc, v1::INCIDENT_EVENT_TYPE_REPORTED);
  return w;
}

// The write that moves `before` to `status`, computed from `before.version()`.
IncidentWrite Move(const v1::Incident& before, v1::IncidentStatus status,
                   v1::IncidentEventType type) {
  IncidentWrite w;
  w.incident = before;
  w.incident.set_status(status);
  w.incident.set_version(before.version() + 1);
  *w.incident.mutable_updated_at() =
      ToTimestamp(FromTimestamp(before.updated_at()) + absl::Minutes(1));
  w.history = EntryFor(w.incident, before.status(), type);
  w.expected_version = before.version();
  w.event = EventFor(w.incident, type);
  return w;
}

IncidentWrite Assign(const v1::Incident& before, v1::AssigneeKind kind, const std::string& who) {
  IncidentWrite w = Move(before, v1::INCIDENT_STATUS_ASSIGNED, v1::INCIDENT_EVENT_TYPE_ASSIGNED);
  w.incident.mutable_assignee()->set_kind(kind);
  w.incident.mutable_assignee()->set_id(who);
  w.history = EntryFor(w.incident, before.status(), v1::INCIDENT_EVENT_TYPE_ASSIGNED);
  w.event = EventFor(w.incident, v1::INCIDENT_EVENT_TYPE_ASSIGNED);
  return w;
}

// ---------------------------------------------------------------------------------------

template <typename Backend>
class IncidentStoreContract : public ::testing::Test {
 protected:
  void SetUp() override {
    const absl::Status reset = backend_.Reset();
    ASSERT_TRUE(reset.ok()) << reset;
  }

  IncidentStore& store() { return backend_.store(); }

  // The events in `shard`'s outbox, oldest first.
  std::vector<OutboxEntry> Outbox(int shard) {
    absl::StatusOr<std::vector<OutboxEntry>> out = backend_.Outbox(shard);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *std::move(out) : std::vector<OutboxEntry>{};
  }

  size_t OutboxSize(int shard) { return Outbox(shard).size(); }

  // Stores `w`, failing the test if the store refuses it.
  void MustWrite(const IncidentWrite& w) {
    absl::StatusOr<WriteResult> r = store().Write(w);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_FALSE(r->earlier.has_value());
  }

  v1::Incident MustGet(const std::string& id, bool with_history) {
    absl::StatusOr<v1::Incident> got = store().Get(id, with_history);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *std::move(got) : v1::Incident{};
  }

  Backend backend_;
};

class BackendNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    if (std::is_same_v<T, MemoryBackend>) return "Memory";
    if (std::is_same_v<T, RedisBackend>) return "Redis";
    return "Unknown";
  }
};

using Backends = ::testing::Types<MemoryBackend, RedisBackend>;
TYPED_TEST_SUITE(IncidentStoreContract, Backends, BackendNames);

// --- records and versions ---------------------------------------------------------------

TYPED_TEST(IncidentStoreContract, CreatedRecordReadsBackWithAndWithoutHistory) {
  const v1::Incident inc = NewRecord(3, kT0);
  const IncidentWrite w = Create(inc);
  this->MustWrite(w);

  EXPECT_THAT(this->MustGet(inc.id(), /*with_history=*/false), EqualsProto(inc));
  v1::Incident expected = inc;
  *expected.add_history() = w.history;
  EXPECT_THAT(this->MustGet(inc.id(), /*with_history=*/true), EqualsProto(expected));
}

TYPED_TEST(IncidentStoreContract, UnknownIdIsNotFound) {
  EXPECT_THAT(this->store().Get(NewIncidentId(3, kT0), false),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(this->store().Get(NewIncidentId(3, kT0), true),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(this->store().Get("not-an-id", false), StatusIs(absl::StatusCode::kNotFound));
}

TYPED_TEST(IncidentStoreContract, CreatingATakenIdIsAlreadyExistsAndWritesNothing) {
  const v1::Incident inc = NewRecord(4, kT0);
  this->MustWrite(Create(inc));

  v1::Incident other = inc;
  other.set_title("Someone else's report");
  EXPECT_THAT(this->store().Write(Create(other)), StatusIs(absl::StatusCode::kAlreadyExists));

  const v1::Incident got = this->MustGet(inc.id(), true);
  EXPECT_EQ(got.title(), inc.title());
  EXPECT_EQ(got.history_size(), 1);
  EXPECT_EQ(this->OutboxSize(4), 1u);
}

TYPED_TEST(IncidentStoreContract, UpdateAtTheCurrentVersionAppendsHistory) {
  const v1::Incident inc = NewRecord(5, kT0);
  const IncidentWrite created = Create(inc);
  this->MustWrite(created);
  const IncidentWrite assigned = Assign(inc, v1::ASSIGNEE_KIND_GRID_WORKER, "worker-7");
  this->MustWrite(assigned);
  const IncidentWrite started =
      Move(assigned.incident, v1::INCIDENT_STATUS_IN_PROGRESS, v1::INCIDENT_EVENT_TYPE_ACCEPTED);
  this->MustWrite(started);

  EXPECT_THAT(this->MustGet(inc.id(), false), EqualsProto(started.incident));
  const v1::Incident full = this->MustGet(inc.id(), true);
  EXPECT_EQ(full.version(), 3);
  ASSERT_EQ(full.history_size(), 3);
  EXPECT_THAT(full.history(0), EqualsProto(created.history));
  EXPECT_THAT(full.history(1), EqualsProto(assigned.history));
  EXPECT_THAT(full.history(2), EqualsProto(started.history));
}

TYPED_TEST(IncidentStoreContract, StaleExpectedVersionIsAbortedAndWritesNothing) {
  const v1::Incident inc = NewRecord(6, kT0);
  this->MustWrite(Create(inc));
  const IncidentWrite assigned = Assign(inc, v1::ASSIGNEE_KIND_GRID_WORKER, "worker-7");
  this->MustWrite(assigned);

  // A second replica computed its change from version 1 too.
  const IncidentWrite late =
      Move(inc, v1::INCIDENT_STATUS_CANCELLED, v1::INCIDENT_EVENT_TYPE_CANCELLED);
  EXPECT_THAT(this->store().Write(late), StatusIs(absl::StatusCode::kAborted));

  const v1::Incident got = this->MustGet(inc.id(), true);
  EXPECT_EQ(got.version(), 2);
  EXPECT_EQ(got.status(), v1::INCIDENT_STATUS_ASSIGNED);
  EXPECT_EQ(got.history_size(), 2);
  EXPECT_EQ(this->OutboxSize(6), 2u);
}

TYPED_TEST(IncidentStoreContract, UpdateOfAMissingRecordIsNotFoundAndWritesNothing) {
  const v1::Incident ghost = NewRecord(7, kT0);
  const IncidentWrite w =
      Move(ghost, v1::INCIDENT_STATUS_ASSIGNED, v1::INCIDENT_EVENT_TYPE_ASSIGNED);
  EXPECT_THAT(this->store().Write(w), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(this->store().Get(ghost.id(), false), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(this->OutboxSize(7), 0u);
}

// --- idempotency records ------------------------------------------------------------------

TYPED_TEST(IncidentStoreContract, RequestRecordRemembersTheFirstResult) {
  const std::string rid = "req-2f4c9a";
  const int shard = ShardOfRequest(rid);
  const v1::Incident inc = NewRecord(shard, kT0);
  IncidentWrite w = Create(inc);
  w.request = RequestRecord{rid, "fp-first"};
  this->MustWrite(w);

  absl::StatusOr<std::optional<EarlierResult>> found = this->store().FindRequest(shard, rid);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->fingerprint, "fp-first");
  EXPECT_THAT((*found)->incident, EqualsProto(inc));

  absl::StatusOr<std::optional<EarlierResult>> unknown =
      this->store().FindRequest(shard, "req-never-used");
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_FALSE(unknown->has_value());
  // A request id is scoped to its shard.
  absl::StatusOr<std::optional<EarlierResult>> elsewhere =
      this->store().FindRequest((shard + 1) % kShards, rid);
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.status();
  EXPECT_FALSE(elsewhere->has_value());
}

TYPED_TEST(IncidentStoreContract, RepeatedRequestReturnsTheEarlierResultAndWritesNothing) {
  const std::string rid = "req-77e0b1";
  const int shard = ShardOfRequest(rid);
  const v1::Incident inc = NewRecord(shard, kT0);
  IncidentWrite first = Create(inc);
  first.request = RequestRecord{rid, "fp-first"};
  this->MustWrite(first);
  ASSERT_EQ(this->OutboxSize(shard), 1u);

  // The same report retried: the new attempt drew a fresh id and may differ in detail.
  v1::Incident retry = NewRecord(shard, kT0 + absl::Seconds(2));
  retry.set_title("Pothole at the bus stop (retry)");
  IncidentWrite again = Create(retry);
  again.request = RequestRecord{rid, "fp-second"};
  absl::StatusOr<WriteResult> r = this->store().Write(again);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->earlier.has_value());
  EXPECT_EQ(r->earlier->fingerprint, "fp-first");
  EXPECT_THAT(r->earlier->incident, EqualsProto(inc));
  EXPECT_THAT(this->store().Get(retry.id(), false), StatusIs(absl::StatusCode::kNotFound));

  // A change of the existing record under the used request id is not applied either.
  IncidentWrite change = Assign(inc, v1::ASSIGNEE_KIND_VOLUNTEER, "vol-1");
  change.request = RequestRecord{rid, "fp-first"};
  r = this->store().Write(change);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->earlier.has_value());
  EXPECT_THAT(r->earlier->incident, EqualsProto(inc));

  const v1::Incident got = this->MustGet(inc.id(), true);
  EXPECT_EQ(got.version(), 1);
  EXPECT_EQ(got.status(), v1::INCIDENT_STATUS_REPORTED);
  EXPECT_EQ(got.history_size(), 1);
  EXPECT_EQ(this->OutboxSize(shard), 1u);

  ListQuery all;
  absl::StatusOr<ListPage> page = this->store().List(all);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->incidents.size(), 1u);
  EXPECT_EQ(page->incidents[0].id(), inc.id());
}

// --- SLA deadlines ------------------------------------------------------------------------

TYPED_TEST(IncidentStoreContract, DueDeadlinesAreTheDueOnesEarliestFirstUpToTheLimit) {
  const v1::Incident a = NewRecord(1, kT0);
  const v1::Incident b = NewRecord(5, kT0);
  const v1::Incident c = NewRecord(9, kT0);
  const SlaDeadline a_respond{a.id(), "respond", kT0 + absl::Minutes(10)};
  const SlaDeadline a_resolve{a.id(), "resolve", kT0 + absl::Hours(2)};
  const SlaDeadline b_respond{b.id(), "respond", kT0 + absl::Minutes(5)};
  const SlaDeadline c_respond{c.id(), "respond", kT0 + absl::Minutes(30)};
  IncidentWrite wa = Create(a);
  wa.schedule = {a_respond, a_resolve};
  IncidentWrite wb = Create(b);
  wb.schedule = {b_respond};
  IncidentWrite wc = Create(c);
  wc.schedule = {c_respond};
  this->MustWrite(wa);
  this->MustWrite(wb);
  this->MustWrite(wc);

  auto due = [&](absl::Time now, int limit) {
    absl::StatusOr<std::vector<SlaDeadline>> d = this->store().DueDeadlines(now, limit);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *std::move(d) : std::vector<SlaDeadline>{};
  };
  EXPECT_THAT(due(kT0 + absl::Minutes(1), 10), IsEmpty());
  // Due exactly now counts as due.
  EXPECT_THAT(due(kT0 + absl::Minutes(5), 10), ElementsAre(b_respond));
  EXPECT_THAT(due(kT0 + absl::Minutes(20), 10), ElementsAre(b_respond, a_respond));
  EXPECT_THAT(due(kT0 + absl::Hours(1), 10), ElementsAre(b_respond, a_respond, c_respond));
  EXPECT_THAT(due(kT0 + absl::Hours(1), 2), ElementsAre(b_respond, a_respond));
  EXPECT_THAT(due(kT0 + absl::Hours(3), 1), ElementsAre(b_respond));
  EXPECT_THAT(due(kT0 + absl::Hours(3), 10),
              ElementsAre(b_respond, a_respond, c_respond, a_resolve));
}

TYPED_TEST(IncidentStoreContract, FiringADeadlineTwiceIsFailedPreconditionAndWritesNothing) {
  const v1::Incident inc = NewRecord(2, kT0);
  const SlaDeadline respond{inc.id(), "respond", kT0 + absl::Minutes(5)};
  const SlaDeadline resolve{inc.id(), "resolve", kT0 + absl::Hours(4)};
  IncidentWrite created = Create(inc);
  created.schedule = {respond, resolve};
  this->MustWrite(created);

  IncidentWrite overdue = Move(inc, v1::INCIDENT_STATUS_ESCALATED, v1::INCIDENT_EVENT_TYPE_OVERDUE);
  overdue.event.set_detail("respond");
  overdue.fired = respond;
  this->MustWrite(overdue);
  absl::StatusOr<std::vector<SlaDeadline>> due =
      this->store().DueDeadlines(kT0 + absl::Hours(5), 10);
  ASSERT_TRUE(due.ok()) << due.status();
  EXPECT_THAT(*due, ElementsAre(resolve));

  // Another replica fires the same deadline from the record it read, now current.
  IncidentWrite again =
      Move(overdue.incident, v1::INCIDENT_STATUS_ESCALATED, v1::INCIDENT_EVENT_TYPE_OVERDUE);
  again.fired = respond;
  EXPECT_THAT(this->store().Write(again), StatusIs(absl::StatusCode::kFailedPrecondition));

  const v1::Incident got = this->MustGet(inc.id(), true);
  EXPECT_EQ(got.version(), 2);
  EXPECT_EQ(got.history_size(), 2);
  EXPECT_EQ(this->OutboxSize(2), 2u);
}

TYPED_TEST(IncidentStoreContract, DroppedDeadlineIsNoLongerDue) {
  const v1::Incident inc = NewRecord(11, kT0);
  const SlaDeadline respond{inc.id(), "respond", kT0 + absl::Minutes(5)};
  const SlaDeadline resolve{inc.id(), "resolve", kT0 + absl::Hours(4)};
  IncidentWrite created = Create(inc);
  created.schedule = {respond, resolve};
  this->MustWrite(created);

  ASSERT_TRUE(this->store().DropDeadline(respond).ok());
  absl::StatusOr<std::vector<SlaDeadline>> due =
      this->store().DueDeadlines(kT0 + absl::Hours(5), 10);
  ASSERT_TRUE(due.ok()) << due.status();
  EXPECT_THAT(*due, ElementsAre(resolve));
  // Dropping what is not watched is not an error (two replicas may both drop it).
  EXPECT_TRUE(this->store().DropDeadline(respond).ok());

  // A dropped deadline can no longer be fired.
  IncidentWrite overdue = Move(inc, v1::INCIDENT_STATUS_ESCALATED, v1::INCIDENT_EVENT_TYPE_OVERDUE);
  overdue.fired = respond;
  EXPECT_THAT(this->store().Write(overdue), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(this->OutboxSize(11), 1u);
}

// --- List ---------------------------------------------------------------------------------

constexpr int kListed = 60;
const char* const kRegions[] = {"330102001", "330102002", "330106001", "110101003"};
const v1::IncidentStatus kStatuses[] = {v1::INCIDENT_STATUS_REPORTED, v1::INCIDENT_STATUS_ASSIGNED,
                                        v1::INCIDENT_STATUS_IN_PROGRESS,
                                        v1::INCIDENT_STATUS_RESOLVED, v1::INCIDENT_STATUS_CLOSED};
const v1::AssigneeKind kKinds[] = {v1::ASSIGNEE_KIND_GRID_WORKER, v1::ASSIGNEE_KIND_VOLUNTEER,
                                   v1::ASSIGNEE_KIND_DEPARTMENT};

// Incident i is reported at kT0 + (i / 3) s + 250 ms, so every three share a millisecond
// (ties); consecutive pairs share a shard, so some ties are within one shard.
absl::Time ReportedAt(int i) { return kT0 + absl::Seconds(i / 3) + absl::Milliseconds(250); }

v1::Incident ListedIncident(int i) {
  v1::Incident inc = NewRecord((i / 2) % kShards, ReportedAt(i));
  inc.set_region_code(kRegions[i % 4]);
  inc.set_status(kStatuses[i % 5]);
  if (inc.status() != v1::INCIDENT_STATUS_REPORTED) {
    inc.mutable_assignee()->set_kind(kKinds[i % 3]);
    inc.mutable_assignee()->set_id(absl::StrCat("p", i % 2));
  }
  return inc;
}

// What `q` should match among `all`, in list order; computed without any store.
std::vector<std::string> Expected(const std::vector<v1::Incident>& all, const ListQuery& q) {
  std::vector<const v1::Incident*> hits;
  for (const v1::Incident& inc : all) {
    const absl::Time at = FromTimestamp(inc.reported_at());
    if (!absl::StartsWith(inc.region_code(), q.region_prefix)) continue;
    if (!q.statuses.empty() &&
        std::find(q.statuses.begin(), q.statuses.end(), inc.status()) == q.statuses.end()) {
      continue;
    }
    if (q.assignee_kind != v1::ASSIGNEE_KIND_UNSPECIFIED &&
        inc.assignee().kind() != q.assignee_kind) {
      continue;
    }
    if (!q.assignee_id.empty() && inc.assignee().id() != q.assignee_id) continue;
    if (q.created_after && at < *q.created_after) continue;
    if (q.created_before && at >= *q.created_before) continue;
    hits.push_back(&inc);
  }
  std::sort(hits.begin(), hits.end(), [](const v1::Incident* a, const v1::Incident* b) {
    const int64_t am = ToUnixMillis(a->reported_at());
    const int64_t bm = ToUnixMillis(b->reported_at());
    return am != bm ? am > bm : a->id() > b->id();
  });
  std::vector<std::string> ids;
  ids.reserve(hits.size());
  for (const v1::Incident* inc : hits) ids.push_back(inc->id());
  return ids;
}

template <typename Backend>
class IncidentStoreListContract : public IncidentStoreContract<Backend> {
 protected:
  void SetUp() override {
    IncidentStoreContract<Backend>::SetUp();
    if (::testing::Test::HasFatalFailure()) return;
    for (int i = 0; i < kListed; ++i) {
      const v1::Incident inc = ListedIncident(i);
      this->MustWrite(Create(inc));
      if (::testing::Test::HasFatalFailure()) return;
      all_.push_back(inc);
    }
  }

  // Every page of `q` (page_size 7), checked page by page; returns the ids in order.
  std::vector<std::string> AllPages(ListQuery q) {
    q.page_size = 7;
    std::vector<std::string> ids;
    for (int pages = 0; pages <= kListed; ++pages) {
      absl::StatusOr<ListPage> page = this->store().List(q);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) return ids;
      EXPECT_LE(page->incidents.size(), 7u);
      for (const v1::Incident& inc : page->incidents) {
        EXPECT_EQ(inc.history_size(), 0) << inc.id();
        ids.push_back(inc.id());
      }
      if (!page->next.has_value()) return ids;
      // A full page continues after its last record.
      if (page->incidents.size() == 7u) {
        EXPECT_EQ(page->next->id, page->incidents.back().id());
        EXPECT_EQ(page->next->reported_ms, ToUnixMillis(page->incidents.back().reported_at()));
      }
      q.after = page->next;
    }
    ADD_FAILURE() << "List never reached a last page";
    return ids;
  }

  std::vector<v1::Incident> all_;
};

TYPED_TEST_SUITE(IncidentStoreListContract, Backends, BackendNames);

TYPED_TEST(IncidentStoreListContract, EveryIncidentOnceNewestFirstTiesByIdDescending) {
  const ListQuery all;
  const std::vector<std::string> expected = Expected(this->all_, all);
  ASSERT_EQ(expected.size(), static_cast<size_t>(kListed));
  EXPECT_EQ(this->AllPages(all), expected);
}

TYPED_TEST(IncidentStoreListContract, OnePageHoldsTheNewestRecordsWithoutHistory) {
  ListQuery q;
  q.page_size = 10;
  absl::StatusOr<ListPage> page = this->store().List(q);
  ASSERT_TRUE(page.ok()) << page.status();
  const std::vector<std::string> expected = Expected(this->all_, q);
  ASSERT_EQ(page->incidents.size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    const auto it = std::find_if(this->all_.begin(), this->all_.end(),
                                 [&](const v1::Incident& inc) { return inc.id() == expected[i]; });
    ASSERT_NE(it, this->all_.end());
    EXPECT_THAT(page->incidents[i], EqualsProto(*it)) << i;
  }
  ASSERT_TRUE(page->next.has_value());
  EXPECT_EQ(page->next->id, expected[9]);
}

TYPED_TEST(IncidentStoreListContract, FiltersByRegionPrefix) {
  ListQuery q;
  q.region_prefix = "330102";
  const std::vector<std::string> expected = Expected(this->all_, q);
  EXPECT_EQ(expected.size(), 30u);
  EXPECT_EQ(this->AllPages(q), expected);
  q.region_prefix = "3301";
  EXPECT_EQ(this->AllPages(q), Expected(this->all_, q));
}

TYPED_TEST(IncidentStoreListContract, FiltersByStatuses) {
  ListQuery q;
  q.statuses = {v1::INCIDENT_STATUS_ASSIGNED, v1::INCIDENT_STATUS_IN_PROGRESS};
  const std::vector<std::string> expected = Expected(this->all_, q);
  EXPECT_EQ(expected.size(), 24u);
  EXPECT_EQ(this->AllPages(q), expected);
}

TYPED_TEST(IncidentStoreListContract, FiltersByAssigneeKindAndId) {
  ListQuery q;
  q.assignee_kind = v1::ASSIGNEE_KIND_GRID_WORKER;
  EXPECT_EQ(this->AllPages(q), Expected(this->all_, q));
  q.assignee_id = "p0";
  const std::vector<std::string> both = Expected(this->all_, q);
  EXPECT_FALSE(both.empty());
  EXPECT_EQ(this->AllPages(q), both);
  q.assignee_kind = v1::ASSIGNEE_KIND_UNSPECIFIED;
  EXPECT_EQ(this->AllPages(q), Expected(this->all_, q));
}

TYPED_TEST(IncidentStoreListContract, FiltersByReportedTimeAfterInclusiveBeforeExclusive) {
  ListQuery q;
  q.created_after = ReportedAt(10);   // incidents 9..11 share this instant: all in
  q.created_before = ReportedAt(40);  // incidents 39..41 share this instant: all out
  const std::vector<std::string> expected = Expected(this->all_, q);
  EXPECT_EQ(expected.size(), 30u);  // 9..38
  EXPECT_EQ(this->AllPages(q), expected);
}

TYPED_TEST(IncidentStoreListContract, CombinedFiltersAndAnEmptyResult) {
  ListQuery q;
  q.region_prefix = "330";
  q.statuses = {v1::INCIDENT_STATUS_REPORTED, v1::INCIDENT_STATUS_RESOLVED,
                v1::INCIDENT_STATUS_CLOSED};
  q.created_after = ReportedAt(6);
  const std::vector<std::string> expected = Expected(this->all_, q);
  EXPECT_FALSE(expected.empty());
  EXPECT_EQ(this->AllPages(q), expected);

  ListQuery none;
  none.region_prefix = "999";
  absl::StatusOr<ListPage> page = this->store().List(none);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->incidents, IsEmpty());
  EXPECT_FALSE(page->next.has_value());
}

TYPED_TEST(IncidentStoreListContract, AChangedRecordIsListedByItsNewStateInItsOldPlace) {
  const v1::Incident& target = this->all_[20];
  ASSERT_EQ(target.status(), v1::INCIDENT_STATUS_REPORTED);
  const IncidentWrite cancelled =
      Move(target, v1::INCIDENT_STATUS_CANCELLED, v1::INCIDENT_EVENT_TYPE_CANCELLED);
  this->MustWrite(cancelled);
  this->all_[20] = cancelled.incident;

  ListQuery q;
  q.statuses = {v1::INCIDENT_STATUS_CANCELLED};
  absl::StatusOr<ListPage> page = this->store().List(q);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->incidents.size(), 1u);
  EXPECT_THAT(page->incidents[0], EqualsProto(cancelled.incident));
  EXPECT_EQ(this->AllPages(ListQuery{}), Expected(this->all_, ListQuery{}));
}

// --- outbox -------------------------------------------------------------------------------

TYPED_TEST(IncidentStoreContract, EveryAcceptedWriteAndNothingElseReachesTheShardOutbox) {
  const std::string rid = "req-outbox";
  const int shard = ShardOfRequest(rid);
  const v1::Incident inc = NewRecord(shard, kT0);
  const SlaDeadline respond{inc.id(), "respond", kT0 + absl::Minutes(5)};
  IncidentWrite created = Create(inc);
  created.request = RequestRecord{rid, "fp"};
  created.schedule = {respond};
  this->MustWrite(created);
  IncidentWrite overdue = Move(inc, v1::INCIDENT_STATUS_ESCALATED, v1::INCIDENT_EVENT_TYPE_OVERDUE);
  overdue.fired = respond;
  this->MustWrite(overdue);

  // Refused or repeated: no event.
  EXPECT_TRUE(this->store().Write(created).ok());  // a duplicate request
  EXPECT_THAT(this->store().Write(Create(inc)), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(this->store().Write(overdue), StatusIs(absl::StatusCode::kFailedPrecondition));
  IncidentWrite stale = Move(inc, v1::INCIDENT_STATUS_CANCELLED, v1::INCIDENT_EVENT_TYPE_CANCELLED);
  EXPECT_THAT(this->store().Write(stale), StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(this->store().Write(Move(NewRecord(shard, kT0), v1::INCIDENT_STATUS_ASSIGNED,
                                       v1::INCIDENT_EVENT_TYPE_ASSIGNED)),
              StatusIs(absl::StatusCode::kNotFound));

  const std::vector<OutboxEntry> outbox = this->Outbox(shard);
  ASSERT_EQ(outbox.size(), 2u);
  EXPECT_EQ(outbox[0].key, inc.id());
  EXPECT_THAT(outbox[0].event, EqualsProto(created.event));
  EXPECT_EQ(outbox[1].key, inc.id());
  EXPECT_THAT(outbox[1].event, EqualsProto(overdue.event));
  for (int s = 0; s < kShards; ++s) {
    if (s != shard) {
      EXPECT_EQ(this->OutboxSize(s), 0u) << "shard " << s;
    }
  }
}

// What the relay is handed (the Redis store only: the twin has no relay). It sends an
// entry at once only right behind the entry it sent last, so it must learn which entry
// came before.
TEST(RedisIncidentStoreOutbox, EachAcceptedWriteHandsOverItsEntryAndTheOneBeforeIt) {
  RedisBackend backend;
  ASSERT_TRUE(backend.Reset().ok());
  const int shard = 3;
  const std::string stream = absl::StrFormat("inc:{%02x}:outbox", shard);
  const v1::Incident a = NewRecord(shard, kT0);
  const v1::Incident b = NewRecord(shard, kT0 + absl::Seconds(1));
  const IncidentWrite created_a = Create(a);
  const IncidentWrite created_b = Create(b);
  ASSERT_TRUE(backend.store().Write(created_a).ok());
  ASSERT_TRUE(backend.store().Write(created_b).ok());
  // Refused: nothing is handed over.
  EXPECT_THAT(backend.store().Write(Create(a)), StatusIs(absl::StatusCode::kAlreadyExists));

  absl::StatusOr<redis::Reply> range = backend.Command({"XRANGE", stream, "-", "+"});
  ASSERT_TRUE(range.ok()) << range.status();
  ASSERT_EQ(range->elements.size(), 2u);
  const std::string first = range->elements[0].elements[0].str;
  const std::string second = range->elements[1].elements[0].str;
  const std::vector<outbox::Appended>& handed = backend.appended();
  ASSERT_EQ(handed.size(), 2u);
  EXPECT_EQ(handed[0].stream, stream);
  EXPECT_EQ(handed[0].id, first);
  EXPECT_EQ(handed[0].previous_id, "");  // the stream was empty
  EXPECT_EQ(handed[0].key, a.id());
  v1::IncidentEvent event;
  ASSERT_TRUE(event.ParseFromString(handed[0].value));
  EXPECT_THAT(event, EqualsProto(created_a.event));
  EXPECT_EQ(handed[1].id, second);
  EXPECT_EQ(handed[1].previous_id, first);
  EXPECT_EQ(handed[1].key, b.id());
  ASSERT_TRUE(event.ParseFromString(handed[1].value));
  EXPECT_THAT(event, EqualsProto(created_b.event));

  // The relay deletes the oldest entries first: the one before is the last one left.
  ASSERT_TRUE(backend.Command({"XDEL", stream, first}).ok());
  const IncidentWrite assigned = Assign(a, v1::ASSIGNEE_KIND_GRID_WORKER, "worker-7");
  ASSERT_TRUE(backend.store().Write(assigned).ok());
  ASSERT_EQ(handed.size(), 3u);
  EXPECT_EQ(handed[2].previous_id, second);
  // With every entry published and deleted, none comes before.
  ASSERT_TRUE(backend.Command({"XDEL", stream, second, handed[2].id}).ok());
  ASSERT_TRUE(backend.store()
                  .Write(Move(assigned.incident, v1::INCIDENT_STATUS_IN_PROGRESS,
                              v1::INCIDENT_EVENT_TYPE_ACCEPTED))
                  .ok());
  ASSERT_EQ(handed.size(), 4u);
  EXPECT_EQ(handed[3].previous_id, "");
  EXPECT_EQ(handed[3].key, a.id());
}

}  // namespace
}  // namespace gridloop::incidents
