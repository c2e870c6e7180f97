#ifndef GRIDLOOP_SERVICES_RESIDENTS_RESIDENTS_GRPC_H_
#define GRIDLOOP_SERVICES_RESIDENTS_RESIDENTS_GRPC_H_

#include "common/identity/identity.h"
#include "common/server/executor.h"
#include "gridloop/v1/residents.grpc.pb.h"
#include "services/residents/residents.h"

namespace gridloop::residents {

// The gRPC face of Residents: every call reads Redis, so each runs on the executor, never
// on a gRPC callback thread.
class ResidentGrpc final : public v1::ResidentService::CallbackService {
 public:
  ResidentGrpc(Residents* residents, server::Executor* executor);
  grpc::ServerUnaryReactor* CreateRegion(grpc::CallbackServerContext* ctx,
                                         const v1::CreateRegionRequest* req,
                                         v1::Region* resp) override;
  grpc::ServerUnaryReactor* GetRegion(grpc::CallbackServerContext* ctx,
                                      const v1::GetRegionRequest* req, v1::Region* resp) override;
  grpc::ServerUnaryReactor* UpdateRegion(grpc::CallbackServerContext* ctx,
                                         const v1::UpdateRegionRequest* req,
                                         v1::Region* resp) override;
  grpc::ServerUnaryReactor* SetGridBoundary(grpc::CallbackServerContext* ctx,
                                            const v1::SetGridBoundaryRequest* req,
                                            v1::Region* resp) override;
  grpc::ServerUnaryReactor* DeleteRegion(grpc::CallbackServerContext* ctx,
                                         const v1::DeleteRegionRequest* req,
                                         v1::DeleteRegionResponse* resp) override;
  grpc::ServerUnaryReactor* ListChildren(grpc::CallbackServerContext* ctx,
                                         const v1::ListChildrenRequest* req,
                                         v1::ListChildrenResponse* resp) override;
  grpc::ServerUnaryReactor* ListAncestors(grpc::CallbackServerContext* ctx,
                                          const v1::ListAncestorsRequest* req,
                                          v1::ListAncestorsResponse* resp) override;
  grpc::ServerUnaryReactor* LocateGrid(grpc::CallbackServerContext* ctx,
                                       const v1::LocateGridRequest* req,
                                       v1::LocateGridResponse* resp) override;
  grpc::ServerUnaryReactor* GetGridPublication(grpc::CallbackServerContext* ctx,
                                               const v1::GetGridPublicationRequest* req,
                                               v1::GridPublication* resp) override;
  grpc::ServerUnaryReactor* CreateHousehold(grpc::CallbackServerContext* ctx,
                                            const v1::CreateHouseholdRequest* req,
                                            v1::Household* resp) override;
  grpc::ServerUnaryReactor* GetHousehold(grpc::CallbackServerContext* ctx,
                                         const v1::GetHouseholdRequest* req,
                                         v1::Household* resp) override;
  grpc::ServerUnaryReactor* CreateResident(grpc::CallbackServerContext* ctx,
                                           const v1::CreateResidentRequest* req,
                                           v1::Resident* resp) override;
  grpc::ServerUnaryReactor* GetResident(grpc::CallbackServerContext* ctx,
                                        const v1::GetResidentRequest* req,
                                        v1::Resident* resp) override;
  grpc::ServerUnaryReactor* UpdateResident(grpc::CallbackServerContext* ctx,
                                           const v1::UpdateResidentRequest* req,
                                           v1::Resident* resp) override;
  grpc::ServerUnaryReactor* SearchResidents(grpc::CallbackServerContext* ctx,
                                            const v1::SearchResidentsRequest* req,
                                            v1::SearchResidentsResponse* resp) override;
  grpc::ServerUnaryReactor* FindResidents(grpc::CallbackServerContext* ctx,
                                          const v1::FindResidentsRequest* req,
                                          v1::FindResidentsResponse* resp) override;
  grpc::ServerUnaryReactor* EraseResident(grpc::CallbackServerContext* ctx,
                                          const v1::EraseResidentRequest* req,
                                          v1::EraseResidentResponse* resp) override;
  grpc::ServerUnaryReactor* ListAccessLog(grpc::CallbackServerContext* ctx,
                                          const v1::ListAccessLogRequest* req,
                                          v1::ListAccessLogResponse* resp) override;
  grpc::ServerUnaryReactor* AssignStaff(grpc::CallbackServerContext* ctx,
                                        const v1::AssignStaffRequest* req,
                                        v1::StaffAssignment* resp) override;
  grpc::ServerUnaryReactor* EndStaffAssignment(grpc::CallbackServerContext* ctx,
                                               const v1::EndStaffAssignmentRequest* req,
                                               v1::StaffAssignment* resp) override;
  grpc::ServerUnaryReactor* ListStaff(grpc::CallbackServerContext* ctx,
                                      const v1::ListStaffRequest* req,
                                      v1::ListStaffResponse* resp) override;
  grpc::ServerUnaryReactor* GetResponsible(grpc::CallbackServerContext* ctx,
                                           const v1::GetResponsibleRequest* req,
                                           v1::GetResponsibleResponse* resp) override;
  grpc::ServerUnaryReactor* ImportBatch(grpc::CallbackServerContext* ctx,
                                        const v1::ImportBatchRequest* req,
                                        v1::ImportBatchResponse* resp) override;

 private:
  template <typename Resp, typename Work>
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* ctx, Resp* resp, Work work);

  Residents* const residents_;
  server::Executor* const executor_;
};

}  // namespace gridloop::residents

#endif  // GRIDLOOP_SERVICES_RESIDENTS_RESIDENTS_GRPC_H_
