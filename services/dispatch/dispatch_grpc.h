#ifndef GRIDLOOP_SERVICES_DISPATCH_DISPATCH_GRPC_H_
#define GRIDLOOP_SERVICES_DISPATCH_DISPATCH_GRPC_H_

#include "common/identity/identity.h"
#include "common/server/executor.h"
#include "gridloop/v1/dispatch.grpc.pb.h"
#include "services/dispatch/dispatcher.h"
#include "services/dispatch/volunteers.h"

namespace gridloop::dispatch {

// The gRPC face of dispatch: every call reads Redis or a peer, so each runs on the
// executor, never on a gRPC callback thread.
class DispatchGrpc final : public v1::DispatchService::CallbackService {
 public:
  DispatchGrpc(Volunteers* volunteers, Dispatcher* dispatcher, server::Executor* executor);
  grpc::ServerUnaryReactor* RegisterVolunteer(grpc::CallbackServerContext* ctx,
                                              const v1::RegisterVolunteerRequest* req,
                                              v1::Volunteer* resp) override;
  grpc::ServerUnaryReactor* GetVolunteer(grpc::CallbackServerContext* ctx,
                                         const v1::GetVolunteerRequest* req,
                                         v1::Volunteer* resp) override;
  grpc::ServerUnaryReactor* UpdateVolunteer(grpc::CallbackServerContext* ctx,
                                            const v1::UpdateVolunteerRequest* req,
                                            v1::Volunteer* resp) override;
  grpc::ServerUnaryReactor* DeactivateVolunteer(grpc::CallbackServerContext* ctx,
                                                const v1::DeactivateVolunteerRequest* req,
                                                v1::Volunteer* resp) override;
  grpc::ServerUnaryReactor* ListVolunteers(grpc::CallbackServerContext* ctx,
                                           const v1::ListVolunteersRequest* req,
                                           v1::ListVolunteersResponse* resp) override;
  grpc::ServerUnaryReactor* ListSkills(grpc::CallbackServerContext* ctx,
                                       const v1::ListSkillsRequest* req,
                                       v1::ListSkillsResponse* resp) override;
  grpc::ServerUnaryReactor* ListOffers(grpc::CallbackServerContext* ctx,
                                       const v1::ListOffersRequest* req,
                                       v1::ListOffersResponse* resp) override;
  grpc::ServerUnaryReactor* RespondToOffer(grpc::CallbackServerContext* ctx,
                                           const v1::RespondToOfferRequest* req,
                                           v1::Offer* resp) override;
  grpc::ServerUnaryReactor* GetDispatch(grpc::CallbackServerContext* ctx,
                                        const v1::GetDispatchRequest* req,
                                        v1::Dispatch* resp) override;
  grpc::ServerUnaryReactor* CreateActivity(grpc::CallbackServerContext* ctx,
                                           const v1::CreateActivityRequest* req,
                                           v1::Activity* resp) override;
  grpc::ServerUnaryReactor* GetActivity(grpc::CallbackServerContext* ctx,
                                        const v1::GetActivityRequest* req,
                                        v1::Activity* resp) override;
  grpc::ServerUnaryReactor* ListActivities(grpc::CallbackServerContext* ctx,
                                           const v1::ListActivitiesRequest* req,
                                           v1::ListActivitiesResponse* resp) override;
  grpc::ServerUnaryReactor* SignUp(grpc::CallbackServerContext* ctx, const v1::SignUpRequest* req,
                                   v1::SignUpResponse* resp) override;
  grpc::ServerUnaryReactor* CancelSignUp(grpc::CallbackServerContext* ctx,
                                         const v1::CancelSignUpRequest* req,
                                         v1::SignUpResponse* resp) override;
  grpc::ServerUnaryReactor* CheckIn(grpc::CallbackServerContext* ctx, const v1::CheckInRequest* req,
                                    v1::SignUpResponse* resp) override;
  grpc::ServerUnaryReactor* CheckOut(grpc::CallbackServerContext* ctx,
                                     const v1::CheckOutRequest* req,
                                     v1::SignUpResponse* resp) override;
  grpc::ServerUnaryReactor* GetServiceRecord(grpc::CallbackServerContext* ctx,
                                             const v1::GetServiceRecordRequest* req,
                                             v1::ServiceRecord* resp) override;
  grpc::ServerUnaryReactor* ListLeaderboard(grpc::CallbackServerContext* ctx,
                                            const v1::ListLeaderboardRequest* req,
                                            v1::ListLeaderboardResponse* resp) override;

 private:
  template <typename Resp, typename Work>
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* ctx, Resp* resp, Work work);

  Volunteers* const volunteers_;
  Dispatcher* const dispatcher_;
  server::Executor* const executor_;
};

}  // namespace gridloop::dispatch

#endif  // GRIDLOOP_SERVICES_DISPATCH_DISPATCH_GRPC_H_
