#include "common/testing/grpc_stack.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock/proto_time.h"
#include "common/testing/child_process.h"

namespace gridloop::testing {

int FreePort() {
  absl::StatusOr<int> port = PickFreePort();
  return port.ok() ? *port : 0;
}

std::unique_ptr<grpc::ClientContext> CallAs(const std::string& person, const std::string& role,
                                            const std::string& region) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  ctx->AddMetadata("x-gridloop-person", person);
  ctx->AddMetadata("x-gridloop-role", role);
  if (!region.empty()) ctx->AddMetadata("x-gridloop-region", region);
  return ctx;
}

bool Eventually(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return done();
}

absl::Status CreateTestStreet(v1::ResidentService::Stub& residents) {
  struct R {
    const char* code;
    v1::RegionLevel level;
    const char* parent;
  };
  for (const R& r :
       {R{"3301", v1::REGION_LEVEL_CITY, ""}, R{"3301.06", v1::REGION_LEVEL_DISTRICT, "3301"},
        R{kTestStreet, v1::REGION_LEVEL_STREET, "3301.06"},
        R{kTestCommunity, v1::REGION_LEVEL_COMMUNITY, kTestStreet},
        R{kTestGrid, v1::REGION_LEVEL_GRID, kTestCommunity}}) {
    v1::CreateRegionRequest req;
    req.set_request_id(absl::StrCat("r-", r.code));
    req.mutable_region()->set_code(r.code);
    req.mutable_region()->set_name(r.code);
    req.mutable_region()->set_level(r.level);
    req.mutable_region()->set_parent_code(r.parent);
    if (r.level == v1::REGION_LEVEL_GRID) {
      for (auto [lat, lng] : {std::pair{30.28, 120.10}, std::pair{30.28, 120.11},
                              std::pair{30.29, 120.11}, std::pair{30.29, 120.10}}) {
        v1::LatLng* p = req.mutable_region()->add_boundary();
        p->set_latitude(lat);
        p->set_longitude(lng);
      }
    }
    v1::Region out;
    grpc::Status s = residents.CreateRegion(CallAs("op", "operator", "3301").get(), req, &out);
    if (!s.ok()) {
      return absl::InternalError(absl::StrCat("CreateRegion ", r.code, ": ", s.error_message()));
    }
  }
  return absl::OkStatus();
}

absl::Status AddTestStaff(v1::ResidentService::Stub& residents, const std::string& person,
                          const std::string& region, v1::StaffRole role, absl::Time valid_from) {
  v1::AssignStaffRequest req;
  req.set_request_id(absl::StrCat("staff-", person));
  req.set_region_code(region);
  req.set_person_id(person);
  req.set_name(person);
  req.set_role(role);
  req.set_on_duty(true);
  *req.mutable_valid_from() = ToTimestamp(valid_from);
  v1::StaffAssignment out;
  grpc::Status s = residents.AssignStaff(CallAs("op", "operator", "3301").get(), req, &out);
  if (!s.ok()) {
    return absl::InternalError(absl::StrCat("AssignStaff ", person, ": ", s.error_message()));
  }
  return absl::OkStatus();
}

}  // namespace gridloop::testing
