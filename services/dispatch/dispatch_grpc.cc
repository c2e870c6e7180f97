#include "services/dispatch/dispatch_grpc.h"

#include <utility>

#include "common/server/unary_call.h"

namespace gridloop::dispatch {

DispatchGrpc::DispatchGrpc(Volunteers* volunteers, Dispatcher* dispatcher,
                           server::Executor* executor)
    : volunteers_(volunteers), dispatcher_(dispatcher), executor_(executor) {}

template <typename Resp, typename Work>
grpc::ServerUnaryReactor* DispatchGrpc::Run(grpc::CallbackServerContext* ctx, Resp* resp,
                                            Work work) {
  return server::RunOnExecutor(*executor_, ctx, "dispatch", resp, std::move(work));
}

grpc::ServerUnaryReactor* DispatchGrpc::RegisterVolunteer(grpc::CallbackServerContext* ctx,
                                                          const v1::RegisterVolunteerRequest* req,
                                                          v1::Volunteer* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return volunteers_->RegisterVolunteer(*req, c); });
}

grpc::ServerUnaryReactor* DispatchGrpc::GetVolunteer(grpc::CallbackServerContext* ctx,
                                                     const v1::GetVolunteerRequest* req,
                                                     v1::Volunteer* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return volunteers_->GetVolunteer(*req, c); });
}

grpc::ServerUnaryReactor* DispatchGrpc::UpdateVolunteer(grpc::CallbackServerContext* ctx,
                                                        const v1::UpdateVolunteerRequest* req,
                                                        v1::Volunteer* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return volunteers_->UpdateVolunteer(*req, c); });
}

grpc::ServerUnaryReactor* DispatchGrpc::DeactivateVolunteer(
    grpc::CallbackServerContext* ctx, const v1::DeactivateVolunteerRequest* req,
    v1::Volunteer* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return volunteers_->DeactivateVolunteer(*req, c); });
}

grpc::ServerUnaryReactor* DispatchGrpc::ListVolunteers(grpc::CallbackServerContext* ctx,
                                                       const v1::ListVolunteersRequest* req,
                                                       v1::ListVolunteersResponse* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return volunteers_->ListVolunteers(*req, c); });
}

grpc::ServerUnaryReactor* DispatchGrpc::ListSkills(grpc::CallbackServerContext* ctx,
                                                   const v1::ListSkillsRequest* req,
                                                   v1::ListSkillsResponse* resp) {
  return Run(ctx, resp, [this, req](const Caller& c) { return volunteers_->ListSkills(*req, c); });
}

grpc::ServerUnaryReactor* DispatchGrpc::ListOffers(grpc::CallbackServerContext* ctx,
                                                   const v1::ListOffersRequest* req,
                                                   v1::ListOffersResponse* resp) {
  return Run(ctx, resp, [this, req](const Caller& c) { return dispatcher_->ListOffers(*req, c); });
}

grpc::ServerUnaryReactor* DispatchGrpc::RespondToOffer(grpc::CallbackServerContext* ctx,
                                                       const v1::RespondToOfferRequest* req,
                                                       v1::Offer* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return dispatcher_->RespondToOffer(*req, c); });
}

grpc::ServerUnaryReactor* DispatchGrpc::GetDispatch(grpc::CallbackServerContext* ctx,
                                                    const v1::GetDispatchRequest* req,
                                                    v1::Dispatch* resp) {
  return Run(ctx, resp, [this, req](const Caller& c) { return dispatcher_->GetDispatch(*req, c); });
}

grpc::ServerUnaryReactor* DispatchGrpc::CreateActivity(grpc::CallbackServerContext* ctx,
                                                       const v1::CreateActivityRequest* req,
                                                       v1::Activity* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return volunteers_->CreateActivity(*req, c); });
}

grpc::ServerUnaryReactor* DispatchGrpc::GetActivity(grpc::CallbackServerContext* ctx,
                                                    const v1::GetActivityRequest* req,
                                                    v1::Activity* resp) {
  return Run(ctx, resp, [this, req](const Caller& c) { return volunteers_->GetActivity(*req, c); });
}

grpc::ServerUnaryReactor* DispatchGrpc::ListActivities(grpc::CallbackServerContext* ctx,
                                                       const v1::ListActivitiesRequest* req,
                                                       v1::ListActivitiesResponse* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return volunteers_->ListActivities(*req, c); });
}

grpc::ServerUnaryReactor* DispatchGrpc::SignUp(grpc::CallbackServerContext* ctx,
                                               const v1::SignUpRequest* req,
                                               v1::SignUpResponse* resp) {
  return Run(ctx, resp, [this, req](const Caller& c) { return volunteers_->SignUp(*req, c); });
}

grpc::ServerUnaryReactor* DispatchGrpc::CancelSignUp(grpc::CallbackServerContext* ctx,
                                                     const v1::CancelSignUpRequest* req,
                                                     v1::SignUpResponse* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return volunteers_->CancelSignUp(*req, c); });
}

grpc::ServerUnaryReactor* DispatchGrpc::CheckIn(grpc::CallbackServerContext* ctx,
                                                const v1::CheckInRequest* req,
                                                v1::SignUpResponse* resp) {
  return Run(ctx, resp, [this, req](const Caller& c) { return volunteers_->CheckIn(*req, c); });
}

grpc::ServerUnaryReactor* DispatchGrpc::CheckOut(grpc::CallbackServerContext* ctx,
                                                 const v1::CheckOutRequest* req,
                                                 v1::SignUpResponse* resp) {
  return Run(ctx, resp, [this, req](const Caller& c) { return volunteers_->CheckOut(*req, c); });
}

grpc::ServerUnaryReactor* DispatchGrpc::GetServiceRecord(grpc::CallbackServerContext* ctx,
                                                         const v1::GetServiceRecordRequest* req,
                                                         v1::ServiceRecord* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return volunteers_->GetServiceRecord(*req, c); });
}

grpc::ServerUnaryReactor* DispatchGrpc::ListLeaderboard(grpc::CallbackServerContext* ctx,
                                                        const v1::ListLeaderboardRequest* req,
                                                        v1::ListLeaderboardResponse* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return volunteers_->ListLeaderboard(*req, c); });
}

}  // namespace gridloop::dispatch
