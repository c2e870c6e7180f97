#include "common/identity/identity_interceptor.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "common/identity/internal/registry.h"
#include "common/log/log.h"

namespace gridloop {
namespace identity_internal {

CallerRegistry& CallerRegistry::Get() {
  static auto* const registry = new CallerRegistry();
  return *registry;
}

void CallerRegistry::Attach(const void* call, Caller caller) {
  Shard& shard = ShardFor(call);
  absl::MutexLock lock(&shard.mu);
  shard.callers.insert_or_assign(call, std::move(caller));
}

void CallerRegistry::Detach(const void* call) {
  Shard& shard = ShardFor(call);
  absl::MutexLock lock(&shard.mu);
  shard.callers.erase(call);
}

std::optional<Caller> CallerRegistry::Find(const void* call) const {
  Shard& shard = ShardFor(call);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.callers.find(call);
  if (it == shard.callers.end()) return std::nullopt;
  return it->second;
}

size_t CallerRegistry::Size() const {
  size_t total = 0;
  for (const Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    total += shard.callers.size();
  }
  return total;
}

}  // namespace identity_internal

namespace {

using grpc::experimental::InterceptionHookPoints;

std::optional<absl::string_view> Header(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata, absl::string_view key) {
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return std::nullopt;
  return absl::string_view(it->second.data(), it->second.size());
}

class IdentityInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit IdentityInterceptor(const grpc::ServerContextBase* call) : call_(call) {}
  ~IdentityInterceptor() override {
    if (attached_) identity_internal::CallerRegistry::Get().Detach(call_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      const auto* metadata = methods->GetRecvInitialMetadata();
      if (metadata != nullptr) {
        Caller caller = CallerFromMetadata(*metadata);
        // Anonymous is what CallerOf returns for an unknown call anyway.
        if (!caller.anonymous()) {
          identity_internal::CallerRegistry::Get().Attach(call_, std::move(caller));
          attached_ = true;
        }
      }
    }
    methods->Proceed();
  }

 private:
  const grpc::ServerContextBase* const call_;
  bool attached_ = false;  // hooks of one call never run concurrently
};

}  // namespace

Caller CallerFromMetadata(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
  std::optional<absl::string_view> role_name = Header(metadata, kRoleHeader);
  if (!role_name.has_value() || role_name->empty()) return Caller{};
  std::optional<Role> role = ParseRole(*role_name);
  if (!role.has_value()) {
    log::Debug("unknown caller role; treating the call as anonymous",
               {{"role", std::string(*role_name)}});
    return Caller{};
  }
  if (*role == Role::kAnonymous) return Caller{};
  Caller caller;
  caller.role = *role;
  caller.person_id = std::string(Header(metadata, kPersonHeader).value_or(""));
  caller.region_scope = std::string(Header(metadata, kRegionHeader).value_or(""));
  return caller;
}

grpc::experimental::Interceptor* IdentityInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new IdentityInterceptor(info->server_context());
}

}  // namespace gridloop
