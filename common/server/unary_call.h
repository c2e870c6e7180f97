#ifndef GRIDLOOP_COMMON_SERVER_UNARY_CALL_H_
#define GRIDLOOP_COMMON_SERVER_UNARY_CALL_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <chrono>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/identity/identity.h"
#include "common/server/executor.h"
#include "common/status/grpc_status.h"

namespace gridloop::server {

// Finishes `reactor`, a callback-API unary call's, with what `work(caller)` returns (an
// absl::Status), run on `executor` so that its blocking Redis and peer calls never hold a
// gRPC callback thread. A call cancelled or past its deadline while queued is finished
// without running `work`; a full queue is RESOURCE_EXHAUSTED at once, naming `service`, so
// clients back off instead of piling up. `service` must be a string literal (it outlives
// the call).
template <typename Work>
void FinishOnExecutor(Executor& executor, grpc::CallbackServerContext* ctx,
                      grpc::ServerUnaryReactor* reactor, Caller caller, const char* service,
                      Work work) {
  const bool posted =
      executor.Post([ctx, reactor, caller = std::move(caller), work = std::move(work)]() mutable {
        if (ctx->IsCancelled()) {
          reactor->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled"));
          return;
        }
        if (ctx->deadline() < std::chrono::system_clock::now()) {
          reactor->Finish(
              grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline passed while queued"));
          return;
        }
        reactor->Finish(ToGrpcStatus(work(caller)));
      });
  if (!posted) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     absl::StrCat(service, " service is at capacity; retry with backoff")));
  }
}

// The same for a call not yet given a reactor: returns the one it finishes.
template <typename Work>
grpc::ServerUnaryReactor* RunOnExecutor(Executor& executor, grpc::CallbackServerContext* ctx,
                                        const char* service, Work work) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  FinishOnExecutor(executor, ctx, reactor, CallerOf(*ctx), service, std::move(work));
  return reactor;
}

// The same for `work` returning absl::StatusOr<Resp>: its value becomes the response.
template <typename Resp, typename Work>
grpc::ServerUnaryReactor* RunOnExecutor(Executor& executor, grpc::CallbackServerContext* ctx,
                                        const char* service, Resp* resp, Work work) {
  return RunOnExecutor(executor, ctx, service,
                       [resp, work = std::move(work)](const Caller& caller) mutable {
                         auto result = work(caller);
                         if (!result.ok()) return result.status();
                         *resp = *std::move(result);
                         return absl::OkStatus();
                       });
}

}  // namespace gridloop::server

#endif  // GRIDLOOP_COMMON_SERVER_UNARY_CALL_H_
