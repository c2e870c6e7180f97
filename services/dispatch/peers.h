#ifndef GRIDLOOP_SERVICES_DISPATCH_PEERS_H_
#define GRIDLOOP_SERVICES_DISPATCH_PEERS_H_

// The two services dispatch calls: incidents (the one writer of incident state) and
// residents (who is responsible where). Ports, so the dispatcher is tested without them.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gridloop/v1/incidents.pb.h"
#include "gridloop/v1/residents.pb.h"

namespace gridloop::dispatch {

// Commands to IncidentService, made as this service (role system). Every command carries
// a request_id derived from what dispatch is doing, so a retry or a replayed event returns
// the first result instead of acting twice. Statuses are the peer's own (Aborted,
// FailedPrecondition, NotFound...), except that a peer that cannot be reached or did not
// answer in time is Unavailable.
class IncidentCommands {
 public:
  virtual ~IncidentCommands() = default;
  virtual absl::StatusOr<v1::Incident> Assign(const v1::AssignIncidentRequest& request) = 0;
  virtual absl::StatusOr<v1::Incident> Escalate(const v1::EscalateIncidentRequest& request) = 0;
  virtual absl::StatusOr<v1::Incident> Get(absl::string_view incident_id) = 0;
};

// ResidentService's answers to "who is responsible for this grid, and above it?" and "is
// this a registered resident?".
class StaffDirectory {
 public:
  virtual ~StaffDirectory() = default;
  // NotFound for an unknown region; Unavailable as above.
  virtual absl::StatusOr<v1::GetResponsibleResponse> Responsible(absl::string_view region_code,
                                                                 absl::Time at) = 0;
  // False for an id no resident has (erased ones included); Unavailable as above.
  virtual absl::StatusOr<bool> ResidentExists(absl::string_view resident_id) = 0;
};

}  // namespace gridloop::dispatch

#endif  // GRIDLOOP_SERVICES_DISPATCH_PEERS_H_
