#ifndef GRIDLOOP_COMMON_IDENTITY_IDENTITY_INTERCEPTOR_H_
#define GRIDLOOP_COMMON_IDENTITY_IDENTITY_INTERCEPTOR_H_

#include <grpcpp/support/server_interceptor.h>
#include <grpcpp/support/string_ref.h>

#include <map>

#include "common/identity/identity.h"

namespace gridloop {

// Request headers that carry the caller until authentication replaces them. They are
// trusted as sent, so a deployment must only accept them from its own gateway.
inline constexpr char kPersonHeader[] = "x-gridloop-person";
inline constexpr char kRoleHeader[] = "x-gridloop-role";
inline constexpr char kRegionHeader[] = "x-gridloop-region";

// Reads the caller from request metadata. No role header (or an empty one) gives an
// anonymous Caller; so does a role ParseRole does not know (logged at debug level), and
// an anonymous Caller carries no person id or region scope.
Caller CallerFromMetadata(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata);

// Creates, per call, the interceptor that parses the identity headers when initial
// metadata arrives and attaches the Caller to the call for CallerOf(); the attachment is
// dropped when the call's context is destroyed. Install it through
// ServerBuilder::experimental().SetInterceptorCreators(). Stateless; thread-safe.
class IdentityInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;
};

}  // namespace gridloop

#endif  // GRIDLOOP_COMMON_IDENTITY_IDENTITY_INTERCEPTOR_H_
