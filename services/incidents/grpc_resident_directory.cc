#include "services/incidents/grpc_resident_directory.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock/proto_time.h"
#include "common/server/peer_channel.h"

namespace gridloop::incidents {
namespace {

absl::Status FromGrpc(const grpc::Status& s, absl::string_view what) {
  const std::string message = absl::StrCat("residents ", what, ": ", s.error_message());
  switch (s.error_code()) {
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::DeadlineExceededError(message);
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::CANCELLED:
      return absl::UnavailableError(message);
    default:
      // Anything else means this service asked wrongly: not the caller's fault.
      return absl::InternalError(message);
  }
}

}  // namespace

GrpcResidentDirectory::GrpcResidentDirectory(const std::string& target, absl::Duration timeout,
                                             absl::Duration grid_cache_ttl)
    : timeout_(timeout),
      stub_(v1::ResidentService::NewStub(server::PeerChannel(target))),
      grids_(grid_cache_ttl) {}

std::unique_ptr<grpc::ClientContext> GrpcResidentDirectory::Context() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  ctx->AddMetadata("x-gridloop-person", "incidents");
  ctx->AddMetadata("x-gridloop-role", "system");
  return ctx;
}

absl::StatusOr<std::optional<std::string>> GrpcResidentDirectory::LocateGrid(double latitude,
                                                                             double longitude,
                                                                             absl::Time at) {
  if (std::optional<std::string> known = grids_.Find(latitude, longitude, at)) return known;
  v1::LocateGridRequest req;
  req.mutable_location()->set_latitude(latitude);
  req.mutable_location()->set_longitude(longitude);
  *req.mutable_at() = ToTimestamp(at);
  v1::LocateGridResponse resp;
  grpc::Status s = stub_->LocateGrid(Context().get(), req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) return std::optional<std::string>();
  if (!s.ok()) return FromGrpc(s, "LocateGrid");
  if (resp.cell_id() != 0 && resp.has_cell_valid_until()) {
    grids_.Put(resp.cell_id(), resp.region().code(), at, FromTimestamp(resp.cell_valid_until()));
  }
  return std::optional<std::string>(resp.region().code());
}

std::optional<std::string> GrpcResidentDirectory::KnownGrid(double latitude, double longitude,
                                                            absl::Time at) {
  return grids_.Find(latitude, longitude, at);
}

absl::StatusOr<bool> GrpcResidentDirectory::ResidentExists(absl::string_view resident_id) {
  v1::GetResidentRequest req;
  req.set_id(std::string(resident_id));
  req.set_purpose("incident reporter check");
  v1::Resident resp;
  grpc::Status s = stub_->GetResident(Context().get(), req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) return false;
  // A malformed id is one no resident has.
  if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) return false;
  if (!s.ok()) return FromGrpc(s, "GetResident");
  return true;
}

}  // namespace gridloop::incidents
