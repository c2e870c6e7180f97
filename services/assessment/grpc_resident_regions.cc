#include "services/assessment/grpc_resident_regions.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/server/peer_channel.h"
#include "common/status/grpc_status.h"

namespace gridloop::assessment {

GrpcResidentRegions::GrpcResidentRegions(const std::string& target, absl::Duration timeout)
    : timeout_(timeout), stub_(v1::ResidentService::NewStub(server::PeerChannel(target))) {}

absl::StatusOr<std::string> GrpcResidentRegions::RegionOf(absl::string_view resident_id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  ctx.AddMetadata("x-gridloop-person", "assessment");
  ctx.AddMetadata("x-gridloop-role", "system");
  v1::GetResidentRequest req;
  req.set_id(std::string(resident_id));
  req.set_purpose("survey respondent's region");
  v1::Resident resp;
  grpc::Status s = stub_->GetResident(&ctx, req, &resp);
  switch (s.error_code()) {
    case grpc::StatusCode::OK:
      return resp.region_code();
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::INVALID_ARGUMENT:
      return absl::NotFoundError(absl::StrCat("resident ", resident_id, " is not registered"));
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::CANCELLED:
      return absl::UnavailableError(absl::StrCat("residents GetResident: ", s.error_message()));
    default: {
      absl::Status st = FromGrpcStatus(s);
      return absl::Status(st.code(), absl::StrCat("residents GetResident: ", st.message()));
    }
  }
}

}  // namespace gridloop::assessment
