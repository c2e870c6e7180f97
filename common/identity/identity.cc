#include "common/identity/identity.h"

#include <array>
#include <utility>

#include "absl/strings/match.h"
#include "common/identity/internal/registry.h"

namespace gridloop {
namespace {

struct RoleEntry {
  Role role;
  absl::string_view name;
};

constexpr std::array<RoleEntry, 9> kRoles = {{
    {Role::kAnonymous, "anonymous"},
    {Role::kResident, "resident"},
    {Role::kGridWorker, "grid_worker"},
    {Role::kGridLeader, "grid_leader"},
    {Role::kSupervisor, "supervisor"},
    {Role::kVolunteer, "volunteer"},
    {Role::kDepartment, "department"},
    {Role::kOperator, "operator"},
    {Role::kSystem, "system"},
}};

}  // namespace

absl::string_view RoleName(Role role) {
  for (const RoleEntry& entry : kRoles) {
    if (entry.role == role) return entry.name;
  }
  return "unknown";
}

std::optional<Role> ParseRole(absl::string_view name) {
  for (const RoleEntry& entry : kRoles) {
    if (entry.name == name) return entry.role;
  }
  return std::nullopt;
}

Caller CallerOf(const grpc::ServerContextBase& ctx) {
  std::optional<Caller> caller = identity_internal::CallerRegistry::Get().Find(&ctx);
  if (!caller.has_value()) return Caller{};
  return *std::move(caller);
}

bool RegionWithin(absl::string_view code, absl::string_view prefix) {
  return prefix.empty() || code == prefix ||
         (absl::StartsWith(code, prefix) && code.size() > prefix.size() &&
          code[prefix.size()] == '.');
}

bool Caller::ActsWithin(absl::string_view region_code) const {
  return !region_scope.empty() && RegionWithin(region_code, region_scope);
}

}  // namespace gridloop
