#include "services/incidents/incidents.h"

#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "common/clock/proto_time.h"
#include "gtest/gtest.h"
#include "services/incidents/memory_incident_store.h"

namespace gridloop::incidents {
namespace {

Caller Resident(const std::string& id) { return Caller{id, Role::kResident, ""}; }
Caller Worker(const std::string& id) { return Caller{id, Role::kGridWorker, "330106"}; }
Caller Dispatcher() { return Caller{"dispatch", Role::kSystem, ""}; }

class IncidentsTest : public ::testing::Test {
 protected:
  IncidentsTest() : taxonomy_(Taxonomy::Default()), incidents_(&store_, &taxonomy_, &clock_) {}

  v1::ReportIncidentRequest Report(const std::string& request_id,
                                   const std::string& category = "roof_leak") {
    v1::ReportIncidentRequest r;
    r.set_request_id(request_id);
    r.set_category(category);
    r.set_title("楼顶漏水");
    r.set_channel(v1::CHANNEL_APP);
    r.set_region_code("330106.001.g07");
    r.mutable_reporter()->set_resident_id("r-42");
    return r;
  }

  v1::Incident MustReport(const std::string& request_id) {
    auto inc = incidents_.Report(Report(request_id), Resident("r-42"));
    EXPECT_TRUE(inc.ok()) << inc.status();
    return *inc;
  }

  static v1::AssignIncidentRequest AssignRequest(const std::string& request_id,
                                                 const v1::Incident& inc,
                                                 const std::string& worker) {
    v1::AssignIncidentRequest a;
    a.set_request_id(request_id);
    a.set_incident_id(inc.id());
    a.mutable_assignee()->set_kind(v1::ASSIGNEE_KIND_GRID_WORKER);
    a.mutable_assignee()->set_id(worker);
    return a;
  }

  v1::Incident MustAssign(const v1::Incident& inc, const std::string& worker) {
    auto out = incidents_.Assign(AssignRequest("assign-" + inc.id() + "-" + worker, inc, worker),
                                 Dispatcher());
    EXPECT_TRUE(out.ok()) << out.status();
    return *out;
  }

  v1::Incident MustAccept(const v1::Incident& inc, const std::string& worker) {
    v1::AcceptAssignmentRequest a;
    a.set_request_id("accept-" + inc.id());
    a.set_incident_id(inc.id());
    a.set_assignee_id(worker);
    auto out = incidents_.Accept(a, Worker(worker));
    EXPECT_TRUE(out.ok()) << out.status();
    return *out;
  }

  v1::Incident MustResolve(const v1::Incident& inc, const std::string& worker) {
    v1::ResolveIncidentRequest r;
    r.set_request_id("resolve-" + inc.id() + std::to_string(inc.version()));
    r.set_incident_id(inc.id());
    r.set_resolution("修好了");
    auto out = incidents_.Resolve(r, Worker(worker));
    EXPECT_TRUE(out.ok()) << out.status();
    return *out;
  }

  absl::StatusOr<v1::Incident> Feedback(const v1::Incident& inc, v1::Satisfaction s,
                                        const Caller& caller) {
    v1::SubmitFeedbackRequest f;
    f.set_request_id("fb-" + inc.id() + std::to_string(inc.version()));
    f.set_incident_id(inc.id());
    f.set_satisfaction(s);
    return incidents_.SubmitFeedback(f, caller);
  }

  FakeClock clock_;
  MemoryIncidentStore store_;
  Taxonomy taxonomy_;
  Incidents incidents_;
};

TEST_F(IncidentsTest, ReportRegistersVersionOneWithDeadlinesAndOneEvent) {
  v1::Incident inc = MustReport("r1");
  EXPECT_EQ(inc.status(), v1::INCIDENT_STATUS_REPORTED);
  EXPECT_EQ(inc.version(), 1);
  EXPECT_EQ(inc.urgency(), v1::URGENCY_HIGH);  // roof_leak's default
  EXPECT_EQ(FromTimestamp(inc.respond_by()), clock_.Now() + absl::Hours(2));
  EXPECT_EQ(FromTimestamp(inc.resolve_by()), clock_.Now() + absl::Hours(48));
  auto events = store_.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type(), v1::INCIDENT_EVENT_TYPE_REPORTED);
  EXPECT_EQ(events[0].version(), 1);
  EXPECT_EQ(events[0].incident_id(), inc.id());
  EXPECT_EQ(events[0].event_id(), inc.id() + ".1");
  EXPECT_EQ(store_.watched_deadlines(), 2u);
}

TEST_F(IncidentsTest, RepeatedRequestIdReturnsTheFirstResultWithoutASecondEvent) {
  v1::Incident first = MustReport("same");
  clock_.Advance(absl::Minutes(5));
  auto again = incidents_.Report(Report("same"), Resident("r-42"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id(), first.id());
  EXPECT_EQ(store_.events().size(), 1u);

  auto changed = Report("same");
  changed.set_title("另一件事");
  EXPECT_EQ(incidents_.Report(changed, Resident("r-42")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(IncidentsTest, ARepeatedLifecycleRequestReturnsItsFirstResultEvenAfterTheStateMoved) {
  v1::Incident inc = MustAssign(MustReport("repeat"), "w1");
  v1::Incident accepted = MustAccept(inc, "w1");
  MustResolve(accepted, "w1");
  // The same accept again: the incident is resolved now, but the caller gets what the
  // first accept returned, and nothing is written.
  const size_t events = store_.events().size();
  v1::AcceptAssignmentRequest again;
  again.set_request_id("accept-" + inc.id());
  again.set_incident_id(inc.id());
  again.set_assignee_id("w1");
  auto replay = incidents_.Accept(again, Worker("w1"));
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ(replay->status(), v1::INCIDENT_STATUS_IN_PROGRESS);
  EXPECT_EQ(replay->version(), accepted.version());
  EXPECT_EQ(store_.events().size(), events);
  // The same request_id for another change is the caller's mistake.
  again.set_assignee_id("w2");
  EXPECT_EQ(incidents_.Accept(again, Caller{"ops", Role::kOperator, ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(IncidentsTest, TheWholeLoopClosesWithGapFreeVersions) {
  v1::Incident inc = MustReport("loop");
  inc = MustAssign(inc, "w1");
  EXPECT_EQ(inc.status(), v1::INCIDENT_STATUS_ASSIGNED);
  inc = MustAccept(inc, "w1");
  EXPECT_EQ(inc.status(), v1::INCIDENT_STATUS_IN_PROGRESS);
  inc = MustResolve(inc, "w1");
  EXPECT_EQ(inc.status(), v1::INCIDENT_STATUS_RESOLVED);
  auto closed = Feedback(inc, v1::SATISFACTION_SATISFIED, Resident("r-42"));
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(closed->status(), v1::INCIDENT_STATUS_CLOSED);

  auto events = store_.events();
  ASSERT_EQ(events.size(), 5u);
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].version(), int64_t(i + 1));
  EXPECT_EQ(events.back().type(), v1::INCIDENT_EVENT_TYPE_CLOSED);

  auto full = incidents_.Get(inc.id(), Resident("r-42"));
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->history_size(), 5);
  EXPECT_EQ(full->history(4).to_status(), v1::INCIDENT_STATUS_CLOSED);

  // A closed incident accepts nothing.
  v1::EscalateIncidentRequest e;
  e.set_request_id("esc-after-close");
  e.set_incident_id(inc.id());
  e.set_reason("再看看");
  auto refused = incidents_.Escalate(e, Dispatcher());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("closed"), std::string::npos);
}

TEST_F(IncidentsTest, DissatisfiedFeedbackReopensForAnotherRound) {
  v1::Incident inc = MustResolve(MustAccept(MustAssign(MustReport("again"), "w1"), "w1"), "w1");
  auto reopened = Feedback(inc, v1::SATISFACTION_DISSATISFIED, Resident("r-42"));
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(reopened->status(), v1::INCIDENT_STATUS_REOPENED);
  EXPECT_EQ(reopened->reopen_count(), 1);
  v1::Incident again = MustAssign(*reopened, "w2");
  EXPECT_EQ(again.status(), v1::INCIDENT_STATUS_ASSIGNED);
  EXPECT_EQ(again.version(), 6);
}

TEST_F(IncidentsTest, StaleExpectedVersionIsAborted) {
  v1::Incident inc = MustReport("stale");
  MustAssign(inc, "w1");
  v1::AssignIncidentRequest a = AssignRequest("stale-assign", inc, "w2");
  a.set_expected_version(1);
  EXPECT_EQ(incidents_.Assign(a, Dispatcher()).status().code(), absl::StatusCode::kAborted);
  a.set_request_id("fresh-assign");
  a.set_expected_version(2);
  EXPECT_TRUE(incidents_.Assign(a, Dispatcher()).ok());
}

// The result AssignAsync gave (it runs `done` before returning with the memory store).
std::optional<absl::StatusOr<v1::Incident>> AssignAsyncNow(Incidents& incidents,
                                                           const v1::AssignIncidentRequest& req,
                                                           const Caller& caller) {
  std::optional<absl::StatusOr<v1::Incident>> out;
  bool called = false;
  incidents.AssignAsync(req, caller, [&](std::optional<absl::StatusOr<v1::Incident>> r) {
    called = true;
    out = std::move(r);
  });
  EXPECT_TRUE(called);
  return out;
}

TEST_F(IncidentsTest, AssignAsyncAssignsAndHandsRefusalsToTheBlockingPath) {
  v1::Incident inc = MustReport("async");
  v1::AssignIncidentRequest a = AssignRequest("async-assign", inc, "w1");
  a.set_expected_version(1);
  std::optional<absl::StatusOr<v1::Incident>> done = AssignAsyncNow(incidents_, a, Dispatcher());
  ASSERT_TRUE(done.has_value());
  ASSERT_TRUE(done->ok()) << done->status();
  EXPECT_EQ((*done)->status(), v1::INCIDENT_STATUS_ASSIGNED);
  EXPECT_EQ((*done)->assignee().id(), "w1");
  EXPECT_EQ((*done)->version(), 2);
  ASSERT_EQ(store_.events().size(), 2u);
  EXPECT_EQ(store_.events()[1].type(), v1::INCIDENT_EVENT_TYPE_ASSIGNED);

  // The same request again: its expected_version is stale now, a refusal the blocking
  // path turns into the first result, with nothing written.
  EXPECT_FALSE(AssignAsyncNow(incidents_, a, Dispatcher()).has_value());
  absl::StatusOr<v1::Incident> replay = incidents_.Assign(a, Dispatcher());
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ(replay->version(), 2);
  EXPECT_EQ(store_.events().size(), 2u);

  // Bad input and callers who may not assign are answered at once, before any read.
  v1::AssignIncidentRequest bad = a;
  bad.set_request_id("async-bad");
  bad.clear_assignee();
  done = AssignAsyncNow(incidents_, bad, Dispatcher());
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(done->status().message(), "assignee.kind"));
  done = AssignAsyncNow(incidents_, a, Resident("r-42"));
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status().code(), absl::StatusCode::kPermissionDenied);
  bad = a;
  bad.set_incident_id("no-such-incident");
  done = AssignAsyncNow(incidents_, bad, Dispatcher());
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status().code(), absl::StatusCode::kNotFound);
}

TEST_F(IncidentsTest, CallersMayOnlyDoWhatTheirRoleAllows) {
  v1::Incident inc = MustReport("perm");
  v1::AssignIncidentRequest a = AssignRequest("perm-assign", inc, "w1");
  EXPECT_EQ(incidents_.Assign(a, Caller{}).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(incidents_.Assign(a, Resident("r-42")).status().code(),
            absl::StatusCode::kPermissionDenied);

  v1::CancelIncidentRequest c;
  c.set_request_id("perm-cancel");
  c.set_incident_id(inc.id());
  c.set_reason("不需要了");
  EXPECT_EQ(incidents_.Cancel(c, Resident("someone-else")).status().code(),
            absl::StatusCode::kPermissionDenied);
  auto cancelled = incidents_.Cancel(c, Resident("r-42"));
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->status(), v1::INCIDENT_STATUS_CANCELLED);
}

TEST_F(IncidentsTest, UnknownOrMalformedIdsAreNotFound) {
  EXPECT_EQ(incidents_.Get("nope", Caller{}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(incidents_.Get("261127-0fabcdefghjkmn", Caller{}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(incidents_.Get("", Caller{}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(IncidentsTest, ReporterPhoneIsMaskedForOthers) {
  auto r = Report("phone");
  r.mutable_reporter()->clear_resident_id();
  r.mutable_reporter()->set_name("李先生");
  r.mutable_reporter()->set_phone("13800138000");
  auto inc = incidents_.Report(r, Caller{});
  ASSERT_TRUE(inc.ok()) << inc.status();
  EXPECT_EQ(inc->reporter().phone(), "138****8000");
  EXPECT_EQ(incidents_.Get(inc->id(), Worker("w1"))->reporter().phone(), "13800138000");
  EXPECT_EQ(store_.events().back().incident().reporter().phone(), "138****8000");
}

TEST_F(IncidentsTest, MissedDeadlinesFireOnceAndMetOnesAreDropped) {
  v1::Incident slow = MustReport("slow");
  v1::Incident quick = MustAccept(MustAssign(MustReport("quick"), "w1"), "w1");
  EXPECT_EQ(*incidents_.FireDueDeadlines(100), 0);  // nothing due yet

  clock_.Advance(absl::Hours(2));                   // respond_by of both
  EXPECT_EQ(*incidents_.FireDueDeadlines(100), 1);  // only `slow` missed it
  auto after = incidents_.Get(slow.id(), Dispatcher());
  EXPECT_TRUE(after->respond_overdue());
  EXPECT_FALSE(after->resolve_overdue());
  EXPECT_EQ(*incidents_.FireDueDeadlines(100), 0);  // once per deadline
  EXPECT_FALSE(incidents_.Get(quick.id(), Dispatcher())->respond_overdue());

  MustResolve(quick, "w1");
  clock_.Advance(absl::Hours(46));                  // resolve_by
  EXPECT_EQ(*incidents_.FireDueDeadlines(100), 1);  // slow again; quick was resolved
  EXPECT_TRUE(incidents_.Get(slow.id(), Dispatcher())->resolve_overdue());
  EXPECT_EQ(store_.watched_deadlines(), 0u);

  int overdue = 0;
  for (const auto& e : store_.events()) {
    if (e.type() == v1::INCIDENT_EVENT_TYPE_OVERDUE) {
      ++overdue;
      EXPECT_EQ(e.incident_id(), slow.id());
    }
  }
  EXPECT_EQ(overdue, 2);
}

// The residents service as incidents sees it: a fixed map of grids and residents, and a
// switch that makes it unreachable.
class FakeDirectory final : public ResidentDirectory {
 public:
  absl::StatusOr<std::optional<std::string>> LocateGrid(double latitude, double longitude,
                                                        absl::Time at) override {
    if (down) return absl::UnavailableError("residents: connection refused");
    ++locates;
    if (latitude > 30.0 && latitude < 31.0) return std::optional<std::string>("3301.06.g01");
    return std::optional<std::string>();
  }
  absl::StatusOr<bool> ResidentExists(absl::string_view id) override {
    if (down) return absl::DeadlineExceededError("residents: too slow");
    return id == "r-42";
  }
  std::optional<std::string> KnownGrid(double latitude, double longitude, absl::Time at) override {
    (void)longitude;
    (void)at;
    if (latitude > 30.0 && latitude < 31.0) return known;
    return std::nullopt;
  }
  bool down = false;
  int locates = 0;
  std::optional<std::string> known;  // what KnownGrid answers for a point in the city
};

class IncidentsWithDirectoryTest : public IncidentsTest {
 protected:
  IncidentsWithDirectoryTest() : located_(&store_, &taxonomy_, &clock_, &directory_) {}

  v1::ReportIncidentRequest ByLocation(const std::string& request_id, double lat) {
    v1::ReportIncidentRequest r = Report(request_id);
    r.clear_region_code();
    r.mutable_location()->set_latitude(lat);
    r.mutable_location()->set_longitude(120.1);
    return r;
  }

  FakeDirectory directory_;
  Incidents located_;
};

TEST_F(IncidentsWithDirectoryTest, AReportByLocationGetsItsGrid) {
  v1::ReportIncidentRequest r = ByLocation("loc-1", 30.28);
  EXPECT_TRUE(located_.NeedsDirectory(r));
  auto inc = located_.Report(r, Resident("r-42"));
  ASSERT_TRUE(inc.ok()) << inc.status();
  EXPECT_EQ(inc->region_code(), "3301.06.g01");
  EXPECT_FALSE(inc->grid_pending());

  auto outside = located_.Report(ByLocation("loc-2", 10.0), Resident("r-42"));
  EXPECT_EQ(outside.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(outside.status().message(), "location")) << outside.status();

  v1::ReportIncidentRequest stranger = Report("loc-3");
  stranger.mutable_reporter()->set_resident_id("r-unknown");
  auto refused = located_.Report(stranger, Resident("r-unknown"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(refused.status().message(), "reporter.resident_id"));

  // Without a directory, a report must name its region.
  auto no_directory = incidents_.Report(ByLocation("loc-4", 30.28), Resident("r-42"));
  EXPECT_EQ(no_directory.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(no_directory.status().message(), "region_code"));
}

TEST_F(IncidentsWithDirectoryTest, AGridKnownWithoutAskingLetsTheReportSkipTheCall) {
  v1::ReportIncidentRequest r = ByLocation("known-1", 30.28);
  r.mutable_reporter()->clear_resident_id();
  r.mutable_reporter()->set_name("张先生");
  r.mutable_reporter()->set_phone("13900001111");
  std::string grid;
  EXPECT_TRUE(located_.NeedsDirectory(r, &grid));
  directory_.known = "3301.06.g01";
  EXPECT_FALSE(located_.NeedsDirectory(r, &grid));
  EXPECT_EQ(grid, "3301.06.g01");
  EXPECT_TRUE(located_.NeedsDirectory(r));  // nowhere to put the grid: ask

  std::optional<absl::StatusOr<v1::Incident>> got;
  located_.ReportAsync(
      r, Resident("r-42"), [&got](absl::StatusOr<v1::Incident> inc) { got = std::move(inc); },
      grid);
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->ok()) << got->status();
  EXPECT_EQ((*got)->region_code(), "3301.06.g01");
  EXPECT_FALSE((*got)->grid_pending());
  EXPECT_EQ(directory_.locates, 0);

  // A named reporter is still checked, and a point the directory does not know is asked.
  EXPECT_TRUE(located_.NeedsDirectory(ByLocation("known-2", 30.28), &grid));
  r.mutable_location()->set_latitude(10.0);
  EXPECT_TRUE(located_.NeedsDirectory(r, &grid));
}

TEST_F(IncidentsWithDirectoryTest, WithResidentsDownTheReportIsKeptAndItsGridFilledInLater) {
  directory_.down = true;
  auto inc = located_.Report(ByLocation("down-1", 30.28), Resident("r-42"));
  ASSERT_TRUE(inc.ok()) << inc.status();
  EXPECT_TRUE(inc->grid_pending());
  EXPECT_TRUE(inc->region_code().empty());

  // Still down when the retry is due: nothing happens, nothing is lost.
  clock_.Advance(absl::Seconds(10));
  ASSERT_TRUE(located_.FireDueDeadlines(100).ok());
  EXPECT_EQ(store_.Get(inc->id(), false)->version(), 1);

  directory_.down = false;
  clock_.Advance(absl::Seconds(1));
  auto fired = located_.FireDueDeadlines(100);
  ASSERT_TRUE(fired.ok()) << fired.status();
  EXPECT_EQ(*fired, 1);
  auto now = store_.Get(inc->id(), true);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->version(), 2);
  EXPECT_EQ(now->region_code(), "3301.06.g01");
  EXPECT_FALSE(now->grid_pending());
  EXPECT_EQ(now->history(1).type(), v1::INCIDENT_EVENT_TYPE_GRID_LOCATED);
  // Once only.
  const int asked = directory_.locates;
  clock_.Advance(absl::Seconds(10));
  ASSERT_TRUE(located_.FireDueDeadlines(100).ok());
  EXPECT_EQ(store_.Get(inc->id(), false)->version(), 2);
  EXPECT_EQ(directory_.locates, asked);
}

TEST_F(IncidentsTest, ListFiltersAndPagesNewestFirst) {
  std::set<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    clock_.Advance(absl::Seconds(1));
    ids.insert(MustReport("list-" + std::to_string(i)).id());
  }
  auto other = Report("elsewhere");
  other.set_region_code("330107.002.g01");
  ASSERT_TRUE(incidents_.Report(other, Resident("r-42")).ok());

  v1::ListIncidentsRequest q;
  q.set_region_prefix("330106");
  q.set_page_size(3);
  std::set<std::string> seen;
  int64_t last_ms = INT64_MAX;
  for (int page = 0; page < 5; ++page) {
    auto resp = incidents_.List(q, Dispatcher());
    ASSERT_TRUE(resp.ok()) << resp.status();
    for (const auto& inc : resp->incidents()) {
      EXPECT_TRUE(seen.insert(inc.id()).second);
      EXPECT_LE(ToUnixMillis(inc.reported_at()), last_ms);
      last_ms = ToUnixMillis(inc.reported_at());
    }
    if (resp->next_page_token().empty()) break;
    q.set_page_token(resp->next_page_token());
  }
  EXPECT_EQ(seen, ids);

  v1::ListIncidentsRequest bad;
  bad.set_page_token("garbage");
  EXPECT_EQ(incidents_.List(bad, Dispatcher()).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gridloop::incidents
