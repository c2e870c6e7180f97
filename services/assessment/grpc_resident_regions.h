#ifndef GRIDLOOP_SERVICES_ASSESSMENT_GRPC_RESIDENT_REGIONS_H_
#define GRIDLOOP_SERVICES_ASSESSMENT_GRPC_RESIDENT_REGIONS_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "gridloop/v1/residents.grpc.pb.h"
#include "services/assessment/surveys.h"

namespace gridloop::assessment {

// Asks the residents service where a resident lives, as the system, with a deadline.
class GrpcResidentRegions final : public ResidentRegions {
 public:
  GrpcResidentRegions(const std::string& target, absl::Duration timeout);
  absl::StatusOr<std::string> RegionOf(absl::string_view resident_id) override;

 private:
  const absl::Duration timeout_;
  std::unique_ptr<v1::ResidentService::Stub> stub_;
};

}  // namespace gridloop::assessment

#endif  // GRIDLOOP_SERVICES_ASSESSMENT_GRPC_RESIDENT_REGIONS_H_
