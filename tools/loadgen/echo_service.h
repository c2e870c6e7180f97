#ifndef GRIDLOOP_TOOLS_LOADGEN_ECHO_SERVICE_H_
#define GRIDLOOP_TOOLS_LOADGEN_ECHO_SERVICE_H_

#include "common/server/executor.h"
#include "tools/loadgen/echo.grpc.pb.h"

namespace gridloop::loadgen {

// EchoService shaped like a real handler: it hands the call to the executor and finishes
// it there, so its cost is the framework's (interceptors, executor hop) without any work
// of its own. RESOURCE_EXHAUSTED when the executor's queue is full.
class EchoServiceImpl final : public gridloop::bench::v1::EchoService::CallbackService {
 public:
  // `executor` is not owned and must outlive every call.
  explicit EchoServiceImpl(server::Executor* executor) : executor_(executor) {}

  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx,
                                 const gridloop::bench::v1::EchoRequest* req,
                                 gridloop::bench::v1::EchoResponse* resp) override;

 private:
  server::Executor* const executor_;
};

}  // namespace gridloop::loadgen

#endif  // GRIDLOOP_TOOLS_LOADGEN_ECHO_SERVICE_H_
