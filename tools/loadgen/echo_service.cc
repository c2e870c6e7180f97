#include "tools/loadgen/echo_service.h"

namespace gridloop::loadgen {

grpc::ServerUnaryReactor* EchoServiceImpl::Echo(grpc::CallbackServerContext* ctx,
                                                const gridloop::bench::v1::EchoRequest* req,
                                                gridloop::bench::v1::EchoResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  bool posted = executor_->Post([req, resp, reactor] {
    resp->set_payload(req->payload());
    reactor->Finish(grpc::Status::OK);
  });
  if (!posted) {
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "server is busy"));
  }
  return reactor;
}

}  // namespace gridloop::loadgen
