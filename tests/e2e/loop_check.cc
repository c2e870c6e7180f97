#include "tests/e2e/loop_check.h"

#include <grpcpp/client_context.h>

#include <algorithm>
#include <functional>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/clock/proto_time.h"
#include "common/testing/grpc_stack.h"
#include "gridloop/v1/assessment.grpc.pb.h"
#include "gridloop/v1/incidents.grpc.pb.h"

namespace gridloop::e2e {
namespace {

using testing::CallAs;

constexpr char kIncidentTopic[] = "gridloop.incident.events.v1";
constexpr size_t kMaxProblems = 20;

bool Retried(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::INTERNAL:
      return true;
    default:
      return false;
  }
}

bool Open(v1::IncidentStatus status) {
  return status != v1::INCIDENT_STATUS_CLOSED && status != v1::INCIDENT_STATUS_CANCELLED;
}

void Note(Audit& audit, std::string problem) {
  if (audit.problems.size() < kMaxProblems) audit.problems.push_back(std::move(problem));
}

// Makes `attempt` (a call carrying its request_id) until it succeeds, fails with a status
// that is not retried, or `give_up` has passed, backing off between tries. `failed` sees
// every failed try and whether it is tried again. Returns the last status.
grpc::Status CallUntilDone(const std::function<grpc::Status()>& attempt, absl::Duration give_up,
                           const std::function<void(const grpc::Status&, bool)>& failed) {
  const absl::Time deadline = absl::Now() + give_up;
  absl::Duration backoff = absl::Milliseconds(50);
  while (true) {
    grpc::Status s = attempt();
    if (s.ok()) return s;
    const bool again = Retried(s.error_code()) && absl::Now() <= deadline;
    failed(s, again);
    if (!again) return s;
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(1));
  }
}

// Runs work(0..n-1) on `threads` threads, thread t taking t, t + threads, ...; each stops
// at its first false.
void RunStriped(int64_t n, int threads, const std::function<bool(int64_t)>& work) {
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int64_t i = t; i < n; i += threads) {
        if (!work(i)) return;
      }
    });
  }
  for (std::thread& t : pool) t.join();
}

// The first error of several threads.
class FirstError {
 public:
  void Set(const grpc::Status& s, absl::string_view context) {
    absl::MutexLock lock(&mu_);
    if (status_.ok()) {
      status_ = absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                             absl::StrCat(context, s.error_message()));
    }
  }
  bool ok() const {
    absl::MutexLock lock(&mu_);
    return status_.ok();
  }
  absl::Status status() const {
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::Status SeedTestStreet(v1::ResidentService::Stub& residents) {
  if (absl::Status s = testing::CreateTestStreet(residents); !s.ok()) return s;
  const absl::Time since = absl::Now() - absl::Hours(24);
  if (absl::Status s = testing::AddTestStaff(residents, "gw-1", testing::kTestGrid,
                                             v1::STAFF_ROLE_GRID_WORKER, since);
      !s.ok()) {
    return s;
  }
  return testing::AddTestStaff(residents, "cl-1", testing::kTestCommunity,
                               v1::STAFF_ROLE_REGION_LEADER, since);
}

absl::StatusOr<std::unique_ptr<EventLog>> EventLog::Start(const std::string& brokers,
                                                          int partitions) {
  std::unique_ptr<EventLog> log(new EventLog());
  kafka::ConsumerOptions options;
  options.brokers = brokers;
  options.group_id = absl::StrCat("e2e-watch-", absl::ToUnixNanos(absl::Now()));
  for (int p = 0; p < partitions; ++p) options.assign.emplace_back(kIncidentTopic, p);
  options.start_offset = -2;
  EventLog* self = log.get();
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> consumer = kafka::Consumer::Create(
      std::move(options), [self](const kafka::Record& record) -> absl::Status {
        v1::IncidentEvent event;
        const bool decoded = event.ParseFromString(record.value) && !event.incident_id().empty();
        absl::MutexLock lock(&self->mu_);
        ++self->records_;
        if (!decoded) {
          ++self->undecodable_;
          return absl::OkStatus();
        }
        self->by_incident_[event.incident_id()].push_back(
            {event.version(), event.event_id(), event.type(), event.incident().assignee().id(),
             absl::Now()});
        return absl::OkStatus();
      });
  if (!consumer.ok()) return consumer.status();
  log->consumer_ = std::move(*consumer);
  log->consumer_->Start();
  return log;
}

EventLog::~EventLog() {
  if (consumer_ != nullptr) consumer_->Stop();
}

int64_t EventLog::CountWith(const std::vector<std::string>& ids, v1::IncidentEventType type) const {
  absl::MutexLock lock(&mu_);
  int64_t n = 0;
  for (const std::string& id : ids) {
    auto it = by_incident_.find(id);
    if (it == by_incident_.end()) continue;
    n += std::any_of(it->second.begin(), it->second.end(),
                     [&](const Entry& e) { return e.type == type; });
  }
  return n;
}

bool EventLog::WaitForAll(const std::vector<std::string>& ids, v1::IncidentEventType type,
                          absl::Duration timeout) const {
  return testing::Eventually(
      [&] { return CountWith(ids, type) == static_cast<int64_t>(ids.size()); }, timeout);
}

absl::Time EventLog::FirstSeen(const std::string& id, v1::IncidentEventType type) const {
  absl::MutexLock lock(&mu_);
  auto it = by_incident_.find(id);
  if (it == by_incident_.end()) return absl::InfinitePast();
  for (const Entry& e : it->second) {
    if (e.type == type) return e.received;
  }
  return absl::InfinitePast();
}

std::map<std::string, std::vector<EventLog::Entry>> EventLog::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return by_incident_;
}

int64_t EventLog::records() const {
  absl::MutexLock lock(&mu_);
  return records_;
}

int64_t EventLog::undecodable() const {
  absl::MutexLock lock(&mu_);
  return undecodable_;
}

absl::StatusOr<ReportResult> ReportSteadily(const std::shared_ptr<grpc::Channel>& incidents,
                                            const ReportPlan& plan, std::atomic<int64_t>* sent) {
  if (plan.count <= 0 || plan.per_second <= 0 || plan.threads <= 0) {
    return absl::InvalidArgumentError("plan: count, per_second and threads must be positive");
  }
  auto stub = v1::IncidentService::NewStub(incidents);
  ReportResult result;
  result.ids.resize(plan.count);
  result.sent.resize(plan.count);
  absl::Mutex mu;
  FirstError error;
  const absl::Time start = absl::Now();
  const absl::Duration interval = absl::Seconds(1) / plan.per_second;

  RunStriped(plan.count, plan.threads, [&](int64_t i) {
    // Open loop: report i goes out at its own time whatever happened to the ones before.
    absl::SleepFor(start + interval * i - absl::Now());
    v1::ReportIncidentRequest req;
    req.set_request_id(absl::StrCat(plan.prefix, "-", i));
    req.set_category(plan.category);
    req.set_title(absl::StrCat("测试上报 ", i));
    req.set_description("端到端测试：居民来电反映的问题。");
    req.set_channel(v1::CHANNEL_HOTLINE);
    req.set_region_code(plan.region_code);
    req.mutable_location()->set_latitude(plan.latitude);
    req.mutable_location()->set_longitude(plan.longitude);
    req.mutable_reporter()->set_name("王女士");
    req.mutable_reporter()->set_phone("13800138000");
    const absl::Time first_sent = absl::Now();
    v1::IncidentResponse resp;
    grpc::Status s = CallUntilDone(
        [&] {
          return stub->ReportIncident(CallAs(kDeskPerson, kDeskRole, kCityScope).get(), req, &resp);
        },
        plan.give_up,
        [&](const grpc::Status& failed, bool again) {
          absl::MutexLock lock(&mu);
          ++result.failures[absl::StrCat(static_cast<int>(failed.error_code()))];
          if (again) ++result.retries;
        });
    if (!s.ok()) {
      error.Set(s, absl::StrCat("report ", i, ": "));
      return false;
    }
    absl::MutexLock lock(&mu);
    result.ids[i] = resp.incident().id();
    result.sent[i] = first_sent;
    if (sent != nullptr) sent->fetch_add(1);
    return error.ok();
  });
  result.elapsed = absl::Now() - start;
  if (!error.ok()) return error.status();
  return result;
}

absl::StatusOr<int64_t> CloseIncidents(const std::shared_ptr<grpc::Channel>& incidents,
                                       const std::vector<std::string>& ids, int threads) {
  auto stub = v1::IncidentService::NewStub(incidents);
  FirstError error;
  std::atomic<int64_t> closed{0};
  auto call = [&](const std::function<grpc::Status()>& attempt) {
    grpc::Status s = CallUntilDone(attempt, absl::Minutes(3), [](const grpc::Status&, bool) {});
    if (!s.ok()) error.Set(s, "");
    return s.ok();
  };
  RunStriped(static_cast<int64_t>(ids.size()), threads, [&](int64_t i) {
    const std::string& id = ids[i];
    v1::GetIncidentRequest get;
    get.set_id(id);
    v1::Incident current;
    if (!call([&] {
          return stub->GetIncident(CallAs(kDeskPerson, kDeskRole, kCityScope).get(), get, &current);
        })) {
      return false;
    }
    const std::string worker = current.assignee().id();
    v1::AcceptAssignmentRequest accept;
    accept.set_request_id(absl::StrCat("accept-", id));
    accept.set_incident_id(id);
    accept.set_assignee_id(worker);
    v1::ResolveIncidentRequest resolve;
    resolve.set_request_id(absl::StrCat("resolve-", id));
    resolve.set_incident_id(id);
    resolve.set_resolution("已上门处理，问题解决。");
    v1::SubmitFeedbackRequest feedback;
    feedback.set_request_id(absl::StrCat("feedback-", id));
    feedback.set_incident_id(id);
    feedback.set_satisfaction(v1::SATISFACTION_SATISFIED);
    feedback.set_comment("回访：居民表示满意。");
    v1::IncidentResponse resp;
    if (!call([&] {
          return stub->AcceptAssignment(CallAs(worker, "grid_worker").get(), accept, &resp);
        }) ||
        !call([&] {
          return stub->ResolveIncident(CallAs(worker, "grid_worker").get(), resolve, &resp);
        }) ||
        !call([&] {
          return stub->SubmitFeedback(CallAs(kDeskPerson, kDeskRole, kCityScope).get(), feedback,
                                      &resp);
        })) {
      return false;
    }
    ++closed;
    return error.ok();
  });
  if (!error.ok()) return error.status();
  return closed.load();
}

std::string Audit::Summary() const {
  return absl::StrCat("reports ", reports, ", distinct incidents ", distinct_incidents, ", closed ",
                      closed, ", open with an assignee ", open_assigned, ", unaccounted ",
                      unaccounted, "; events ", event_records, " (redelivered ", redeliveries,
                      "), versions missing ", missing_versions, ", conflicting ",
                      conflicting_versions, ", extra assignments ", extra_assignments,
                      problems.empty() ? "" : "; first problems: ", absl::StrJoin(problems, "; "));
}

absl::StatusOr<Audit> AuditIncidents(const std::shared_ptr<grpc::Channel>& incidents,
                                     const EventLog& events, const std::vector<std::string>& ids,
                                     int assignments_per_incident) {
  auto stub = v1::IncidentService::NewStub(incidents);
  const std::map<std::string, std::vector<EventLog::Entry>> seen = events.Snapshot();
  Audit audit;
  audit.reports = static_cast<int64_t>(ids.size());
  audit.event_records = events.records();
  const std::set<std::string> distinct(ids.begin(), ids.end());
  audit.distinct_incidents = static_cast<int64_t>(distinct.size());
  for (const std::string& id : distinct) {
    v1::GetIncidentRequest req;
    req.set_id(id);
    v1::Incident incident;
    grpc::Status s =
        stub->GetIncident(CallAs(kDeskPerson, kDeskRole, kCityScope).get(), req, &incident);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
      ++audit.unaccounted;
      Note(audit, absl::StrCat(id, ": acknowledged but not found"));
      continue;
    }
    if (!s.ok()) {
      return absl::UnavailableError(absl::StrCat("GetIncident ", id, ": ", s.error_message()));
    }
    if (incident.status() == v1::INCIDENT_STATUS_CLOSED) {
      ++audit.closed;
    } else if (Open(incident.status()) && !incident.assignee().id().empty()) {
      ++audit.open_assigned;
    } else {
      ++audit.unaccounted;
      Note(audit, absl::StrCat(id, ": ", v1::IncidentStatus_Name(incident.status()),
                               " without an assignee"));
    }

    std::map<int64_t, std::string> by_version;
    int assigned = 0;
    auto it = seen.find(id);
    if (it != seen.end()) {
      for (const EventLog::Entry& e : it->second) {
        auto [pos, fresh] = by_version.emplace(e.version, e.event_id);
        if (!fresh) {
          if (pos->second == e.event_id) {
            ++audit.redeliveries;
            continue;
          }
          ++audit.conflicting_versions;
          Note(audit, absl::StrCat(id, " v", e.version, ": two different events"));
          continue;
        }
        if (e.type == v1::INCIDENT_EVENT_TYPE_ASSIGNED) ++assigned;
      }
    }
    for (int64_t v = 1; v <= incident.version(); ++v) {
      if (by_version.count(v) == 0) {
        ++audit.missing_versions;
        Note(audit, absl::StrCat(id, " v", v, ": never published"));
      }
    }
    if (!by_version.empty() && by_version.rbegin()->first > incident.version()) {
      ++audit.conflicting_versions;
      Note(audit, absl::StrCat(id, ": an event v", by_version.rbegin()->first,
                               " beyond the stored v", incident.version()));
    }
    if (assigned > assignments_per_incident) {
      audit.extra_assignments += assigned - assignments_per_incident;
      Note(audit, absl::StrCat(id, ": assigned ", assigned, " times"));
    }
  }
  return audit;
}

absl::StatusOr<std::pair<double, double>> AssessedRate(
    const std::shared_ptr<grpc::Channel>& assessment, const std::string& region,
    const std::string& name, absl::Time at) {
  auto stub = v1::AssessmentService::NewStub(assessment);
  v1::GetScorecardRequest req;
  req.set_subject_kind(v1::SUBJECT_KIND_REGION);
  req.set_subject_id(region);
  req.set_period(v1::PERIOD_DAY);
  *req.mutable_at() = ToTimestamp(at);
  v1::Scorecard card;
  grpc::Status s = stub->GetScorecard(CallAs(kDeskPerson, kDeskRole, kCityScope).get(), req, &card);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        absl::StrCat("GetScorecard: ", s.error_message()));
  }
  for (const v1::Rate& rate : card.rates()) {
    if (rate.name() == name) return std::pair{rate.numerator(), rate.denominator()};
  }
  return absl::NotFoundError(absl::StrCat("no rate ", name));
}

absl::StatusOr<int64_t> AssessedReceived(const std::shared_ptr<grpc::Channel>& assessment,
                                         const std::string& region, absl::Time from,
                                         absl::Time to) {
  auto stub = v1::AssessmentService::NewStub(assessment);
  const absl::TimeZone local = absl::FixedTimeZone(8 * 3600);
  std::set<std::string> days;
  int64_t total = 0;
  // One instant per UTC+8 day touched: the run may cross midnight.
  for (absl::Time t = from;; t = std::min(t + absl::Hours(12), to)) {
    if (days.insert(absl::FormatTime("%Y-%m-%d", t, local)).second) {
      v1::GetScorecardRequest req;
      req.set_subject_kind(v1::SUBJECT_KIND_REGION);
      req.set_subject_id(region);
      req.set_period(v1::PERIOD_DAY);
      *req.mutable_at() = ToTimestamp(t);
      v1::Scorecard card;
      grpc::Status s =
          stub->GetScorecard(CallAs(kDeskPerson, kDeskRole, kCityScope).get(), req, &card);
      if (!s.ok()) {
        return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                            absl::StrCat("GetScorecard: ", s.error_message()));
      }
      total += card.received();
    }
    if (t >= to) break;
  }
  return total;
}

}  // namespace gridloop::e2e
