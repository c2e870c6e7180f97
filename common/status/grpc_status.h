#ifndef GRIDLOOP_COMMON_STATUS_GRPC_STATUS_H_
#define GRIDLOOP_COMMON_STATUS_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace gridloop {

// The one conversion from a domain status to the status a gRPC caller sees. The codes
// share numbering; the message is passed through because domain messages are written
// for callers (they name the field or the current state).
grpc::Status ToGrpcStatus(const absl::Status& status);

// The reverse, for clients of peer services.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace gridloop

#endif  // GRIDLOOP_COMMON_STATUS_GRPC_STATUS_H_
