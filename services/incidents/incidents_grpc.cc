#include "services/incidents/incidents_grpc.h"

#include <optional>
#include <utility>

#include "common/identity/identity.h"
#include "common/server/unary_call.h"
#include "common/status/grpc_status.h"

namespace gridloop::incidents {

IncidentGrpc::IncidentGrpc(Incidents* incidents, server::Executor* executor,
                           int max_async_in_flight)
    : incidents_(incidents), executor_(executor), max_async_in_flight_(max_async_in_flight) {}

template <typename Work>
grpc::ServerUnaryReactor* IncidentGrpc::Run(grpc::CallbackServerContext* ctx, Work work) {
  return server::RunOnExecutor(*executor_, ctx, "incidents", std::move(work));
}

bool IncidentGrpc::AdmitAsync(grpc::ServerUnaryReactor* reactor) {
  if (async_in_flight_.fetch_add(1) < max_async_in_flight_) return true;
  async_in_flight_.fetch_sub(1);
  reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                               "incidents service is at capacity; retry with backoff"));
  return false;
}

namespace {

// Finishes a command returning the incident into an IncidentResponse.
template <typename Result>
absl::Status Into(Result result, v1::IncidentResponse* resp) {
  if (!result.ok()) return result.status();
  *resp->mutable_incident() = std::move(*result);
  return absl::OkStatus();
}

}  // namespace

// The hot path: validated on the callback thread (CPU only, no I/O) and written through
// the asynchronous Redis client, so no thread sleeps on the round trip and concurrent
// reports share the connection's writes. Calls in flight on this path (reports and
// assignments) are bounded like the executor's queue.
grpc::ServerUnaryReactor* IncidentGrpc::ReportIncident(grpc::CallbackServerContext* ctx,
                                                       const v1::ReportIncidentRequest* req,
                                                       v1::IncidentResponse* resp) {
  std::string grid;
  if (incidents_->NeedsDirectory(*req, &grid)) {
    // It asks the residents service first: a blocking call, so it runs on the executor.
    return Run(ctx, [this, req, resp](const Caller& c) {
      return Into(incidents_->Report(*req, c), resp);
    });
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (!AdmitAsync(reactor)) return reactor;
  incidents_->ReportAsync(
      *req, CallerOf(*ctx),
      [this, reactor, resp](absl::StatusOr<v1::Incident> inc) {
        async_in_flight_.fetch_sub(1);
        reactor->Finish(ToGrpcStatus(Into(std::move(inc), resp)));
      },
      grid);
  return reactor;
}

grpc::ServerUnaryReactor* IncidentGrpc::GetIncident(grpc::CallbackServerContext* ctx,
                                                    const v1::GetIncidentRequest* req,
                                                    v1::Incident* resp) {
  return Run(ctx, [this, req, resp](const Caller& c) -> absl::Status {
    absl::StatusOr<v1::Incident> inc = incidents_->Get(req->id(), c);
    if (!inc.ok()) return inc.status();
    *resp = std::move(*inc);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* IncidentGrpc::ListIncidents(grpc::CallbackServerContext* ctx,
                                                      const v1::ListIncidentsRequest* req,
                                                      v1::ListIncidentsResponse* resp) {
  return Run(ctx, [this, req, resp](const Caller& c) -> absl::Status {
    absl::StatusOr<v1::ListIncidentsResponse> page = incidents_->List(*req, c);
    if (!page.ok()) return page.status();
    *resp = std::move(*page);
    return absl::OkStatus();
  });
}

// Dispatch's hot path, asynchronous like reports: the read and the conditional write go
// through the asynchronous Redis client. An outcome that needs the blocking path (a
// refusal to check against an earlier request, a race with another change) runs Assign
// on the executor.
grpc::ServerUnaryReactor* IncidentGrpc::AssignIncident(grpc::CallbackServerContext* ctx,
                                                       const v1::AssignIncidentRequest* req,
                                                       v1::IncidentResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (!AdmitAsync(reactor)) return reactor;
  Caller caller = CallerOf(*ctx);
  incidents_->AssignAsync(
      *req, caller,
      [this, ctx, reactor, req, resp,
       caller](std::optional<absl::StatusOr<v1::Incident>> done) mutable {
        async_in_flight_.fetch_sub(1);
        if (done.has_value()) {
          reactor->Finish(ToGrpcStatus(Into(*std::move(done), resp)));
          return;
        }
        server::FinishOnExecutor(
            *executor_, ctx, reactor, caller, "incidents",
            [this, req, resp](const Caller& c) { return Into(incidents_->Assign(*req, c), resp); });
      });
  return reactor;
}

grpc::ServerUnaryReactor* IncidentGrpc::AcceptAssignment(grpc::CallbackServerContext* ctx,
                                                         const v1::AcceptAssignmentRequest* req,
                                                         v1::IncidentResponse* resp) {
  return Run(
      ctx, [this, req, resp](const Caller& c) { return Into(incidents_->Accept(*req, c), resp); });
}

grpc::ServerUnaryReactor* IncidentGrpc::ResolveIncident(grpc::CallbackServerContext* ctx,
                                                        const v1::ResolveIncidentRequest* req,
                                                        v1::IncidentResponse* resp) {
  return Run(
      ctx, [this, req, resp](const Caller& c) { return Into(incidents_->Resolve(*req, c), resp); });
}

grpc::ServerUnaryReactor* IncidentGrpc::SubmitFeedback(grpc::CallbackServerContext* ctx,
                                                       const v1::SubmitFeedbackRequest* req,
                                                       v1::IncidentResponse* resp) {
  return Run(ctx, [this, req, resp](const Caller& c) {
    return Into(incidents_->SubmitFeedback(*req, c), resp);
  });
}

grpc::ServerUnaryReactor* IncidentGrpc::EscalateIncident(grpc::CallbackServerContext* ctx,
                                                         const v1::EscalateIncidentRequest* req,
                                                         v1::IncidentResponse* resp) {
  return Run(ctx, [this, req, resp](const Caller& c) {
    return Into(incidents_->Escalate(*req, c), resp);
  });
}

grpc::ServerUnaryReactor* IncidentGrpc::CancelIncident(grpc::CallbackServerContext* ctx,
                                                       const v1::CancelIncidentRequest* req,
                                                       v1::IncidentResponse* resp) {
  return Run(
      ctx, [this, req, resp](const Caller& c) { return Into(incidents_->Cancel(*req, c), resp); });
}

grpc::ServerUnaryReactor* IncidentGrpc::ListCategories(grpc::CallbackServerContext* ctx,
                                                       const v1::ListCategoriesRequest*,
                                                       v1::ListCategoriesResponse* resp) {
  // Pure memory: answered on the callback thread.
  *resp = incidents_->ListCategories();
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace gridloop::incidents
