#ifndef GRIDLOOP_SERVICES_INCIDENTS_GRPC_RESIDENT_DIRECTORY_H_
#define GRIDLOOP_SERVICES_INCIDENTS_GRPC_RESIDENT_DIRECTORY_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "gridloop/v1/residents.grpc.pb.h"
#include "services/incidents/grid_cache.h"
#include "services/incidents/resident_directory.h"

namespace gridloop::incidents {

// The residents service over gRPC. Every call carries `timeout` as its deadline and the
// identity of this service (role system), so a slow peer costs a report at most that.
// A grid found for a point is kept for the cell residents sent with it, for at most
// `grid_cache_ttl` (GridCache), and answers later points of that cell without a call.
class GrpcResidentDirectory final : public ResidentDirectory {
 public:
  GrpcResidentDirectory(const std::string& target, absl::Duration timeout,
                        absl::Duration grid_cache_ttl = absl::ZeroDuration());

  absl::StatusOr<std::optional<std::string>> LocateGrid(double latitude, double longitude,
                                                        absl::Time at) override;
  std::optional<std::string> KnownGrid(double latitude, double longitude, absl::Time at) override;
  absl::StatusOr<bool> ResidentExists(absl::string_view resident_id) override;

 private:
  std::unique_ptr<grpc::ClientContext> Context() const;

  const absl::Duration timeout_;
  std::unique_ptr<v1::ResidentService::Stub> stub_;
  GridCache grids_;
};

}  // namespace gridloop::incidents

#endif  // GRIDLOOP_SERVICES_INCIDENTS_GRPC_RESIDENT_DIRECTORY_H_
