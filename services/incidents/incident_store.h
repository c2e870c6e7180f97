#ifndef GRIDLOOP_SERVICES_INCIDENTS_INCIDENT_STORE_H_
#define GRIDLOOP_SERVICES_INCIDENTS_INCIDENT_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gridloop/v1/events.pb.h"
#include "gridloop/v1/incidents.pb.h"

namespace gridloop::incidents {

// A deadline the SLA timer watches: "respond" (an assignee accepted) or "resolve".
struct SlaDeadline {
  std::string incident_id;
  std::string kind;
  absl::Time due;

  friend bool operator==(const SlaDeadline& a, const SlaDeadline& b) {
    return a.incident_id == b.incident_id && a.kind == b.kind && a.due == b.due;
  }
};

// The parameters a request_id was first used with, and what it returned.
struct RequestRecord {
  std::string request_id;
  std::string fingerprint;  // printable, without newlines (a hex digest)
};

struct EarlierResult {
  std::string fingerprint;
  v1::Incident incident;  // the first result, without history
};

// One accepted change, written atomically with its event.
struct IncidentWrite {
  v1::Incident incident;         // the record after the change, without history
  v1::HistoryEntry history;      // appended to the record's history
  int64_t expected_version = 0;  // the version the change was computed from; 0 = a new record
  v1::IncidentEvent event;       // goes to the outbox in the same step
  std::optional<RequestRecord> request;  // remembered with `incident` as the first result
  std::vector<SlaDeadline> schedule;     // deadlines to start watching
  std::optional<SlaDeadline> fired;      // an overdue mark: the deadline it fires
};

struct WriteResult {
  // Set when `request.request_id` had already been used: nothing was written.
  std::optional<EarlierResult> earlier;
};

// A position in the newest-first order of incidents: (reported_at, id) of the last one seen.
struct ListCursor {
  int64_t reported_ms = 0;
  std::string id;
};

struct ListQuery {
  std::string region_prefix;
  std::vector<v1::IncidentStatus> statuses;  // empty = any
  v1::AssigneeKind assignee_kind = v1::ASSIGNEE_KIND_UNSPECIFIED;
  std::string assignee_id;                   // empty = any
  std::optional<absl::Time> created_after;   // inclusive
  std::optional<absl::Time> created_before;  // exclusive
  int page_size = 50;
  std::optional<ListCursor> after;  // continue after this position
};

struct ListPage {
  std::vector<v1::Incident> incidents;  // newest first, without history
  std::optional<ListCursor> next;       // absent on the last page
};

// Persists incidents, their history, indexes, idempotency records, SLA deadlines and the
// outbox. Thread-safe. Every write is atomic with its outbox event: either all of a
// change is stored or none of it.
class IncidentStore {
 public:
  virtual ~IncidentStore() = default;

  // NotFound if unknown; Unavailable if the store cannot be reached.
  virtual absl::StatusOr<v1::Incident> Get(absl::string_view id, bool with_history) = 0;

  // The first result of `request_id` in `shard`, if the id was used within the retention.
  virtual absl::StatusOr<std::optional<EarlierResult>> FindRequest(
      int shard, absl::string_view request_id) = 0;

  // Writes `w` atomically. Returns `earlier` (and writes nothing) when the request id was
  // already used; Aborted when the record is no longer at `expected_version`;
  // AlreadyExists when a new record's id is taken; FailedPrecondition when `fired` is no
  // longer watched (another replica fired it).
  virtual absl::StatusOr<WriteResult> Write(const IncidentWrite& w) = 0;

  // Write without blocking the calling thread: `done` runs exactly once, possibly on
  // another thread, and must not block. The default runs Write() on the calling thread.
  using WriteCallback = std::function<void(absl::StatusOr<WriteResult>)>;
  virtual void WriteAsync(const IncidentWrite& w, WriteCallback done) {
    WriteCallback callback = std::move(done);
    callback(Write(w));
  }

  // Get (without history) without blocking the calling thread, as WriteAsync does.
  using GetCallback = std::function<void(absl::StatusOr<v1::Incident>)>;
  virtual void GetAsync(absl::string_view id, GetCallback done) {
    GetCallback callback = std::move(done);
    callback(Get(id, /*with_history=*/false));
  }

  // One page of incidents matching `q`.
  virtual absl::StatusOr<ListPage> List(const ListQuery& q) = 0;

  // Watched deadlines due at or before `now`, earliest first, at most `limit`.
  virtual absl::StatusOr<std::vector<SlaDeadline>> DueDeadlines(absl::Time now, int limit) = 0;

  // Stops watching a deadline that no longer applies (the incident moved on).
  virtual absl::Status DropDeadline(const SlaDeadline& deadline) = 0;
};

}  // namespace gridloop::incidents

#endif  // GRIDLOOP_SERVICES_INCIDENTS_INCIDENT_STORE_H_
