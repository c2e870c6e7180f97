#include "tools/gridctl/import/grpc_sender.h"

#include <grpcpp/client_context.h>

#include <utility>

#include "absl/time/clock.h"
#include "common/status/grpc_status.h"
#include "gridloop/v1/residents.grpc.pb.h"

namespace gridloop::gridctl {

BatchSender MakeGrpcBatchSender(const std::shared_ptr<grpc::Channel>& channel, ImportCaller caller,
                                absl::Duration deadline) {
  std::shared_ptr<v1::ResidentService::Stub> stub = v1::ResidentService::NewStub(channel);
  return [stub = std::move(stub), caller = std::move(caller), deadline](
             const v1::ImportBatchRequest& request) -> absl::StatusOr<v1::ImportBatchResponse> {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    ctx.AddMetadata("x-gridloop-person", caller.person);
    ctx.AddMetadata("x-gridloop-role", caller.role);
    ctx.AddMetadata("x-gridloop-region", caller.region_scope);
    v1::ImportBatchResponse response;
    grpc::Status status = stub->ImportBatch(&ctx, request, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    return response;
  };
}

}  // namespace gridloop::gridctl
