#include "services/dispatch/grpc_peers.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock/proto_time.h"
#include "common/server/peer_channel.h"
#include "common/status/grpc_status.h"

namespace gridloop::dispatch {
namespace {

std::unique_ptr<grpc::ClientContext> SystemContext(absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  ctx->AddMetadata("x-gridloop-person", "dispatch");
  ctx->AddMetadata("x-gridloop-role", "system");
  return ctx;
}

// The peer's verdict passes through; not being able to ask it at all is Unavailable, the
// one code the consumer and the timers retry.
absl::Status FromPeer(const grpc::Status& s, absl::string_view what) {
  switch (s.error_code()) {
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::CANCELLED:
      return absl::UnavailableError(absl::StrCat(what, ": ", s.error_message()));
    default: {
      absl::Status st = FromGrpcStatus(s);
      return absl::Status(st.code(), absl::StrCat(what, ": ", st.message()));
    }
  }
}

}  // namespace

GrpcIncidentCommands::GrpcIncidentCommands(const std::string& target, absl::Duration timeout)
    : timeout_(timeout), stub_(v1::IncidentService::NewStub(server::PeerChannel(target))) {}

absl::StatusOr<v1::Incident> GrpcIncidentCommands::Assign(const v1::AssignIncidentRequest& req) {
  v1::IncidentResponse resp;
  grpc::Status s = stub_->AssignIncident(SystemContext(timeout_).get(), req, &resp);
  if (!s.ok()) return FromPeer(s, "incidents AssignIncident");
  return resp.incident();
}

absl::StatusOr<v1::Incident> GrpcIncidentCommands::Escalate(
    const v1::EscalateIncidentRequest& req) {
  v1::IncidentResponse resp;
  grpc::Status s = stub_->EscalateIncident(SystemContext(timeout_).get(), req, &resp);
  if (!s.ok()) return FromPeer(s, "incidents EscalateIncident");
  return resp.incident();
}

absl::StatusOr<v1::Incident> GrpcIncidentCommands::Get(absl::string_view incident_id) {
  v1::GetIncidentRequest req;
  req.set_id(std::string(incident_id));
  v1::Incident resp;
  grpc::Status s = stub_->GetIncident(SystemContext(timeout_).get(), req, &resp);
  if (!s.ok()) return FromPeer(s, "incidents GetIncident");
  return resp;
}

GrpcStaffDirectory::GrpcStaffDirectory(const std::string& target, absl::Duration timeout)
    : timeout_(timeout), stub_(v1::ResidentService::NewStub(server::PeerChannel(target))) {}

absl::StatusOr<v1::GetResponsibleResponse> GrpcStaffDirectory::Responsible(
    absl::string_view region_code, absl::Time at) {
  v1::GetResponsibleRequest req;
  req.set_region_code(std::string(region_code));
  *req.mutable_at() = ToTimestamp(at);
  v1::GetResponsibleResponse resp;
  grpc::Status s = stub_->GetResponsible(SystemContext(timeout_).get(), req, &resp);
  if (!s.ok()) return FromPeer(s, "residents GetResponsible");
  return resp;
}

absl::StatusOr<bool> GrpcStaffDirectory::ResidentExists(absl::string_view resident_id) {
  v1::GetResidentRequest req;
  req.set_id(std::string(resident_id));
  req.set_purpose("volunteer registration check");
  v1::Resident resp;
  grpc::Status s = stub_->GetResident(SystemContext(timeout_).get(), req, &resp);
  // A malformed id is one no resident has.
  if (s.error_code() == grpc::StatusCode::NOT_FOUND ||
      s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    return false;
  }
  if (!s.ok()) return FromPeer(s, "residents GetResident");
  return true;
}

}  // namespace gridloop::dispatch
