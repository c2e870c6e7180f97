#ifndef GRIDLOOP_SERVICES_INCIDENTS_INCIDENTS_H_
#define GRIDLOOP_SERVICES_INCIDENTS_INCIDENTS_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"
#include "common/identity/identity.h"
#include "google/protobuf/message.h"
#include "gridloop/v1/incidents.pb.h"
#include "services/incidents/categories.h"
#include "services/incidents/incident_store.h"
#include "services/incidents/resident_directory.h"
#include "services/incidents/state_machine.h"

namespace gridloop::incidents {

// How long a request_id is remembered: at least a day, so a client retrying after an
// outage gets the first result rather than a second incident.
inline constexpr absl::Duration kRequestRetention = absl::Hours(48);

// The incidents domain: validation, who may do what, the lifecycle, SLA deadlines and
// idempotency. Talks only to its store port and a clock. Thread-safe; blocking (call it
// from an executor, not from a gRPC callback thread).
class Incidents {
 public:
  // `store`, `taxonomy` and `clock` (and `directory`, when given) must outlive this object.
  // Without a directory every report must name its region_code.
  Incidents(IncidentStore* store, const Taxonomy* taxonomy, const Clock* clock,
            ResidentDirectory* directory = nullptr);

  // Whether reporting `req` asks the residents service (a grid from the location, or a
  // reporter given as a resident id): such reports go through Report on an executor. A
  // report by location whose grid the directory knows without asking does not: `grid`
  // (when given) is set to it, for ReportAsync.
  bool NeedsDirectory(const v1::ReportIncidentRequest& req, std::string* grid = nullptr) const;

  // Registers a new incident (status reported, version 1) with its SLA deadlines.
  // InvalidArgument naming the field for bad input; a repeated request_id returns the
  // first result and writes nothing. A report with a location and no region_code gets its
  // grid from the directory; when the directory cannot answer, the report is accepted
  // with grid_pending set, and FireDueDeadlines fills the grid in later (a GRID_LOCATED
  // event). A reporter resident_id the directory does not know is InvalidArgument.
  absl::StatusOr<v1::Incident> Report(const v1::ReportIncidentRequest& req, const Caller& caller);

  // Report without blocking, for a report that needs no directory call: validation runs on
  // the calling thread (CPU only), the write through the store's WriteAsync, and `done`
  // runs once with what Report would return, possibly on another thread. `done` must not
  // block. `grid` is the one NeedsDirectory found for a report by location.
  using IncidentCallback = std::function<void(absl::StatusOr<v1::Incident>)>;
  void ReportAsync(const v1::ReportIncidentRequest& req, const Caller& caller,
                   IncidentCallback done, absl::string_view grid = {});

  // The incident with its full history. NotFound when unknown (or malformed id).
  absl::StatusOr<v1::Incident> Get(absl::string_view id, const Caller& caller);

  absl::StatusOr<v1::ListIncidentsResponse> List(const v1::ListIncidentsRequest& req,
                                                 const Caller& caller);

  // The lifecycle commands. Each returns the incident after the change (without history);
  // FailedPrecondition naming the current status for an illegal transition, Aborted for a
  // stale expected_version, PermissionDenied/Unauthenticated when the caller may not.
  absl::StatusOr<v1::Incident> Assign(const v1::AssignIncidentRequest& req, const Caller& caller);

  // Assign without blocking, for the dispatch hot path: validation on the calling thread,
  // then one read and one conditional write through the store's asynchronous calls. `done`
  // runs once, possibly on another thread, and must not block: with what Assign would
  // return, or with nullopt when the outcome needs the blocking path (a refusal, which may
  // be the repeat of a request that took effect, or a change that raced another): the
  // caller then runs Assign, on a thread that may block. Nothing was written in that case.
  using MaybeCallback = std::function<void(std::optional<absl::StatusOr<v1::Incident>>)>;
  void AssignAsync(const v1::AssignIncidentRequest& req, const Caller& caller, MaybeCallback done);
  absl::StatusOr<v1::Incident> Accept(const v1::AcceptAssignmentRequest& req, const Caller& caller);
  absl::StatusOr<v1::Incident> Resolve(const v1::ResolveIncidentRequest& req, const Caller& caller);
  absl::StatusOr<v1::Incident> SubmitFeedback(const v1::SubmitFeedbackRequest& req,
                                              const Caller& caller);
  absl::StatusOr<v1::Incident> Escalate(const v1::EscalateIncidentRequest& req,
                                        const Caller& caller);
  absl::StatusOr<v1::Incident> Cancel(const v1::CancelIncidentRequest& req, const Caller& caller);

  v1::ListCategoriesResponse ListCategories() const;

  // Marks every watched deadline that is due and still missed as overdue (one OVERDUE
  // event each) and stops watching the ones that were met; for incidents waiting for
  // their grid, asks the directory again (one GRID_LOCATED event each it answers). Safe
  // with several replicas: the store lets exactly one of them fire a deadline. Returns
  // the number of events.
  absl::StatusOr<int> FireDueDeadlines(int limit);

 private:
  using MakeChange = std::function<absl::StatusOr<Change>(const v1::Incident&)>;

  // The shared path of every lifecycle command: idempotency, optimistic concurrency
  // (retrying internally when the caller gave no expected_version), the state machine,
  // and one atomic write with the event.
  absl::StatusOr<v1::Incident> Mutate(absl::string_view method,
                                      const google::protobuf::Message& req,
                                      absl::string_view request_id, absl::string_view incident_id,
                                      int64_t expected_version, const Caller& caller,
                                      const MakeChange& make_change);
  // Mutate's first try without blocking; see AssignAsync.
  void MutateAsync(absl::string_view method, const google::protobuf::Message& req,
                   absl::string_view request_id, absl::string_view incident_id,
                   int64_t expected_version, const Caller& caller, MakeChange make_change,
                   MaybeCallback done);
  // InvalidArgument (or NotFound for an id no shard can hold) before any read.
  static absl::Status CheckTarget(absl::string_view request_id, absl::string_view incident_id,
                                  int64_t expected_version);
  // The write of `make_change` applied to `current`; Aborted for a stale expected_version,
  // or the change's refusal.
  absl::StatusOr<IncidentWrite> Compute(const v1::Incident& current, absl::string_view request_id,
                                        const std::string& fingerprint, int64_t expected_version,
                                        const Caller& caller, const MakeChange& make_change) const;
  // What the caller gets once `written` (the record a write carried) was stored, or was
  // found to repeat an earlier request.
  static absl::StatusOr<v1::Incident> Written(v1::Incident written, const std::string& fingerprint,
                                              WriteResult result, const Caller& caller);

  // A validated report, ready to be written.
  struct PreparedReport {
    IncidentWrite write;
    std::string fingerprint;
  };
  // `region_code` overrides the request's (the grid the directory found); `grid_pending`
  // marks a report whose grid is still to be found.
  absl::StatusOr<PreparedReport> PrepareReport(const v1::ReportIncidentRequest& req,
                                               const Caller& caller,
                                               absl::string_view region_code = {},
                                               bool grid_pending = false) const;
  // Fires one due "grid" deadline: Unavailable when the directory still cannot answer.
  absl::StatusOr<bool> LocatePending(const SlaDeadline& due, const v1::Incident& current);
  // What the caller gets once the write of `prepared` finished with `written`.
  static absl::StatusOr<v1::Incident> CompleteReport(const PreparedReport& prepared,
                                                     absl::StatusOr<WriteResult> written,
                                                     const Caller& caller);

  // What `caller` may see of `incident` (the reporter's phone is masked for non-staff).
  static v1::Incident ForCaller(v1::Incident incident, const Caller& caller);

  IncidentStore* const store_;
  const Taxonomy* const taxonomy_;
  const Clock* const clock_;
  ResidentDirectory* const directory_;
};

// The event for a change that produced `after` (which may carry history; it is dropped).
v1::IncidentEvent MakeEvent(const v1::Incident& after, v1::IncidentEventType type, absl::Time at,
                            absl::string_view actor_id, absl::string_view actor_role,
                            absl::string_view detail);

// Staff act on incidents; residents and volunteers act only on their own.
bool IsStaff(const Caller& caller);

}  // namespace gridloop::incidents

#endif  // GRIDLOOP_SERVICES_INCIDENTS_INCIDENTS_H_
