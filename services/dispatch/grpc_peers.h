#ifndef GRIDLOOP_SERVICES_DISPATCH_GRPC_PEERS_H_
#define GRIDLOOP_SERVICES_DISPATCH_GRPC_PEERS_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "gridloop/v1/incidents.grpc.pb.h"
#include "gridloop/v1/residents.grpc.pb.h"
#include "services/dispatch/peers.h"

namespace gridloop::dispatch {

// IncidentService over gRPC, as role system. Every call has `timeout` as its deadline.
class GrpcIncidentCommands final : public IncidentCommands {
 public:
  GrpcIncidentCommands(const std::string& target, absl::Duration timeout);
  absl::StatusOr<v1::Incident> Assign(const v1::AssignIncidentRequest& request) override;
  absl::StatusOr<v1::Incident> Escalate(const v1::EscalateIncidentRequest& request) override;
  absl::StatusOr<v1::Incident> Get(absl::string_view incident_id) override;

 private:
  const absl::Duration timeout_;
  std::unique_ptr<v1::IncidentService::Stub> stub_;
};

// ResidentService over gRPC, as role system.
class GrpcStaffDirectory final : public StaffDirectory {
 public:
  GrpcStaffDirectory(const std::string& target, absl::Duration timeout);
  absl::StatusOr<v1::GetResponsibleResponse> Responsible(absl::string_view region_code,
                                                         absl::Time at) override;
  absl::StatusOr<bool> ResidentExists(absl::string_view resident_id) override;

 private:
  const absl::Duration timeout_;
  std::unique_ptr<v1::ResidentService::Stub> stub_;
};

}  // namespace gridloop::dispatch

#endif  // GRIDLOOP_SERVICES_DISPATCH_GRPC_PEERS_H_
