#ifndef GRIDLOOP_TESTS_E2E_LOOP_CHECK_H_
#define GRIDLOOP_TESTS_E2E_LOOP_CHECK_H_

// What the end-to-end tests do to a running stack and how they account for it afterwards:
// reports at a steady rate, each retried with its request_id until acknowledged; every
// incident event on the topic, read by a consumer of the test's own; and an audit that
// holds each acknowledged report against the incidents service and the events.

#include <grpcpp/channel.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/kafka/consumer.h"
#include "gridloop/v1/events.pb.h"
#include "gridloop/v1/residents.grpc.pb.h"

namespace gridloop::e2e {

// The caller the tests report as: the hotline desk of the city.
inline constexpr char kDeskPerson[] = "hotline-e2e";
inline constexpr char kDeskRole[] = "operator";
inline constexpr char kCityScope[] = "3301";

// The test street (common/testing/grpc_stack.h) with grid worker gw-1 on duty in its grid
// and leader cl-1 in its community: dispatch assigns reports there to gw-1 and escalates
// to cl-1. For StackOptions::seed.
absl::Status SeedTestStreet(v1::ResidentService::Stub& residents);

// A spot inside the test street's grid.
inline constexpr double kTestLatitude = 30.285;
inline constexpr double kTestLongitude = 120.105;

// Every record of gridloop.incident.events.v1 from the beginning, read by a consumer of
// the test's own (its own group; nothing is dead-lettered from here).
class EventLog {
 public:
  struct Entry {
    int64_t version = 0;
    std::string event_id;
    v1::IncidentEventType type = v1::INCIDENT_EVENT_TYPE_UNSPECIFIED;
    std::string assignee_id;  // of the snapshot
    absl::Time received;      // when this test read it
  };

  static absl::StatusOr<std::unique_ptr<EventLog>> Start(const std::string& brokers,
                                                         int partitions);
  ~EventLog();

  // How many of `ids` have at least one event of `type`.
  int64_t CountWith(const std::vector<std::string>& ids, v1::IncidentEventType type) const;
  // Waits until every one of `ids` has an event of `type`; false after `timeout`.
  bool WaitForAll(const std::vector<std::string>& ids, v1::IncidentEventType type,
                  absl::Duration timeout) const;
  // When the first event of `type` for `id` was read; InfinitePast if none yet.
  absl::Time FirstSeen(const std::string& id, v1::IncidentEventType type) const;
  std::map<std::string, std::vector<Entry>> Snapshot() const;
  int64_t records() const;
  // Records that were not incident events at all.
  int64_t undecodable() const;

 private:
  EventLog() = default;

  std::unique_ptr<kafka::Consumer> consumer_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::vector<Entry>> by_incident_ ABSL_GUARDED_BY(mu_);
  int64_t records_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t undecodable_ ABSL_GUARDED_BY(mu_) = 0;
};

struct ReportPlan {
  int count = 0;
  double per_second = 100;
  std::string prefix;  // request ids are <prefix>-<i>
  int threads = 4;
  std::string category = "roof_leak";
  std::string region_code;  // the grid every report names
  double latitude = 0;
  double longitude = 0;
  // A report is retried (same request_id) on UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED,
  // RESOURCE_EXHAUSTED or INTERNAL until acknowledged, for at most this long.
  absl::Duration give_up = absl::Minutes(3);
};

struct ReportResult {
  std::vector<std::string> ids;             // ids[i]: the incident report i became
  std::vector<absl::Time> sent;             // when report i was first sent
  int64_t retries = 0;                      // calls that failed and were made again
  std::map<std::string, int64_t> failures;  // status code name -> count
  absl::Duration elapsed;
};

// Sends plan.count reports at plan.per_second, spread over plan.threads threads, each at
// its scheduled time (a retried report delays only its own thread). `sent` (optional)
// counts acknowledged reports as they come. Fails with the first error that is not
// retried, or when a report is still not acknowledged after plan.give_up.
absl::StatusOr<ReportResult> ReportSteadily(const std::shared_ptr<grpc::Channel>& incidents,
                                            const ReportPlan& plan,
                                            std::atomic<int64_t>* sent = nullptr);

// The rest of the loop for `ids`, as their assignees and the hotline would: each assigned
// incident accepted and resolved by its assignee (a grid worker), then closed by the
// resident's satisfied answer to the follow-up call. Calls are retried like reports.
// Returns how many were closed.
absl::StatusOr<int64_t> CloseIncidents(const std::shared_ptr<grpc::Channel>& incidents,
                                       const std::vector<std::string>& ids, int threads = 4);

// "Nothing lost, nothing doubled", counted.
struct Audit {
  int64_t reports = 0;             // acknowledged
  int64_t distinct_incidents = 0;  // should equal reports: a retry never makes a second one
  int64_t closed = 0;
  int64_t open_assigned = 0;  // open, with an assignee
  int64_t unaccounted = 0;    // neither: lost, or open without an assignee
  int64_t event_records = 0;
  int64_t redeliveries = 0;           // the same event (same id) read again: allowed
  int64_t missing_versions = 0;       // a version between 1 and the current one never seen
  int64_t conflicting_versions = 0;   // two different events with one version
  int64_t extra_assignments = 0;      // ASSIGNED events beyond the expected per incident
  std::vector<std::string> problems;  // the first few, readable

  bool clean() const {
    return distinct_incidents == reports && unaccounted == 0 && missing_versions == 0 &&
           conflicting_versions == 0 && extra_assignments == 0;
  }
  std::string Summary() const;
};

// Holds each of `ids` against GetIncident (status, assignee, version) and against the
// events read (every version from 1 to the current one, exactly one event each, and at
// most `assignments_per_incident` ASSIGNED events).
absl::StatusOr<Audit> AuditIncidents(const std::shared_ptr<grpc::Channel>& incidents,
                                     const EventLog& events, const std::vector<std::string>& ids,
                                     int assignments_per_incident = 1);

// The rate `name` of region `region`'s scorecard for the day (UTC+8) holding `at`, as
// {numerator, denominator}.
absl::StatusOr<std::pair<double, double>> AssessedRate(
    const std::shared_ptr<grpc::Channel>& assessment, const std::string& region,
    const std::string& name, absl::Time at);

// The `received` figure of region `region` summed over the days (UTC+8) from `from` to
// `to`, as the assessment service reports it.
absl::StatusOr<int64_t> AssessedReceived(const std::shared_ptr<grpc::Channel>& assessment,
                                         const std::string& region, absl::Time from, absl::Time to);

}  // namespace gridloop::e2e

#endif  // GRIDLOOP_TESTS_E2E_LOOP_CHECK_H_
