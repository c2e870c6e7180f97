#ifndef GRIDLOOP_SERVICES_INCIDENTS_INCIDENTS_GRPC_H_
#define GRIDLOOP_SERVICES_INCIDENTS_INCIDENTS_GRPC_H_

#include <atomic>

#include "common/server/executor.h"
#include "gridloop/v1/incidents.grpc.pb.h"
#include "services/incidents/incidents.h"

namespace gridloop::incidents {

// gridloop.v1.IncidentService over the callback API. Reports and assignments (the loop's
// hot path) wait on Redis without a thread; every other handler reads the caller, hands
// the blocking domain call to the executor and finishes from there, so no gRPC thread
// ever waits on Redis. A full executor queue is RESOURCE_EXHAUSTED (retry later);
// a call whose deadline passed while queued is not started.
class IncidentGrpc final : public v1::IncidentService::CallbackService {
 public:
  // `incidents` and `executor` must outlive this service. Beyond `max_async_in_flight`
  // concurrent reports and assignments (the calls that wait on Redis without a thread),
  // those calls are RESOURCE_EXHAUSTED.
  IncidentGrpc(Incidents* incidents, server::Executor* executor, int max_async_in_flight = 10000);

  grpc::ServerUnaryReactor* ReportIncident(grpc::CallbackServerContext* ctx,
                                           const v1::ReportIncidentRequest* req,
                                           v1::IncidentResponse* resp) override;
  grpc::ServerUnaryReactor* GetIncident(grpc::CallbackServerContext* ctx,
                                        const v1::GetIncidentRequest* req,
                                        v1::Incident* resp) override;
  grpc::ServerUnaryReactor* ListIncidents(grpc::CallbackServerContext* ctx,
                                          const v1::ListIncidentsRequest* req,
                                          v1::ListIncidentsResponse* resp) override;
  grpc::ServerUnaryReactor* AssignIncident(grpc::CallbackServerContext* ctx,
                                           const v1::AssignIncidentRequest* req,
                                           v1::IncidentResponse* resp) override;
  grpc::ServerUnaryReactor* AcceptAssignment(grpc::CallbackServerContext* ctx,
                                             const v1::AcceptAssignmentRequest* req,
                                             v1::IncidentResponse* resp) override;
  grpc::ServerUnaryReactor* ResolveIncident(grpc::CallbackServerContext* ctx,
                                            const v1::ResolveIncidentRequest* req,
                                            v1::IncidentResponse* resp) override;
  grpc::ServerUnaryReactor* SubmitFeedback(grpc::CallbackServerContext* ctx,
                                           const v1::SubmitFeedbackRequest* req,
                                           v1::IncidentResponse* resp) override;
  grpc::ServerUnaryReactor* EscalateIncident(grpc::CallbackServerContext* ctx,
                                             const v1::EscalateIncidentRequest* req,
                                             v1::IncidentResponse* resp) override;
  grpc::ServerUnaryReactor* CancelIncident(grpc::CallbackServerContext* ctx,
                                           const v1::CancelIncidentRequest* req,
                                           v1::IncidentResponse* resp) override;
  grpc::ServerUnaryReactor* ListCategories(grpc::CallbackServerContext* ctx,
                                           const v1::ListCategoriesRequest* req,
                                           v1::ListCategoriesResponse* resp) override;

 private:
  // Runs `work(caller)` on the executor and finishes the call with its status.
  template <typename Work>
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* ctx, Work work);

  Incidents* const incidents_;
  server::Executor* const executor_;
  // Counts a call into the asynchronous path, or finishes it RESOURCE_EXHAUSTED when
  // that path is full (the caller then returns the reactor as it is).
  bool AdmitAsync(grpc::ServerUnaryReactor* reactor);

  const int max_async_in_flight_;
  std::atomic<int> async_in_flight_{0};
};

}  // namespace gridloop::incidents

#endif  // GRIDLOOP_SERVICES_INCIDENTS_INCIDENTS_GRPC_H_
