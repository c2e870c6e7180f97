#ifndef GRIDLOOP_COMMON_IDENTITY_IDENTITY_H_
#define GRIDLOOP_COMMON_IDENTITY_IDENTITY_H_

#include <grpcpp/server_context.h>

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace gridloop {

// What a caller may do is decided by the domain from its role and region scope.
enum class Role {
  kAnonymous,
  kResident,
  kGridWorker,
  kGridLeader,
  kSupervisor,
  kVolunteer,
  kDepartment,
  kOperator,
  kSystem,
};

// Who is calling, as the domain sees it: a value, never metadata. Handlers read it once
// with CallerOf() and pass it to the domain, so domain code never touches gRPC.
struct Caller {
  std::string person_id;  // empty when anonymous
  Role role = Role::kAnonymous;
  std::string region_scope;  // region code prefix the caller acts within; empty = none
  bool anonymous() const { return role == Role::kAnonymous; }
  // `region_code` lies within the caller's scope; an empty scope covers nothing.
  bool ActsWithin(absl::string_view region_code) const;
};

// `code` lies within the region `prefix`: equal to it, or below it on a '.' boundary
// ("3301.06" is within "3301", "33011" is not). Every code lies within "".
bool RegionWithin(absl::string_view code, absl::string_view prefix);

// The wire name of `role` ("grid_worker"); the same names ParseRole accepts.
absl::string_view RoleName(Role role);

// The role named `name` (exact, lower snake case as RoleName spells it); nullopt otherwise.
std::optional<Role> ParseRole(absl::string_view name);

// The identity IdentityInterceptorFactory attached to the call `ctx` belongs to, or an
// anonymous Caller when none was attached (no headers, or the interceptor is not
// installed). Thread-safe; valid from any thread while the call is in flight, i.e. until
// the handler finishes it.
Caller CallerOf(const grpc::ServerContextBase& ctx);

}  // namespace gridloop

#endif  // GRIDLOOP_COMMON_IDENTITY_IDENTITY_H_
