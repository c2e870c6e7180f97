#include "services/residents/residents_grpc.h"

#include <utility>

#include "common/server/unary_call.h"

namespace gridloop::residents {

ResidentGrpc::ResidentGrpc(Residents* residents, server::Executor* executor)
    : residents_(residents), executor_(executor) {}

template <typename Resp, typename Work>
grpc::ServerUnaryReactor* ResidentGrpc::Run(grpc::CallbackServerContext* ctx, Resp* resp,
                                            Work work) {
  return server::RunOnExecutor(*executor_, ctx, "residents", resp, std::move(work));
}

grpc::ServerUnaryReactor* ResidentGrpc::CreateRegion(grpc::CallbackServerContext* ctx,
                                                     const v1::CreateRegionRequest* req,
                                                     v1::Region* resp) {
  return Run(ctx, resp, [this, req](const Caller& c) { return residents_->CreateRegion(*req, c); });
}

grpc::ServerUnaryReactor* ResidentGrpc::GetRegion(grpc::CallbackServerContext* ctx,
                                                  const v1::GetRegionRequest* req,
                                                  v1::Region* resp) {
  return Run(ctx, resp, [this, req](const Caller&) { return residents_->GetRegion(req->code()); });
}

grpc::ServerUnaryReactor* ResidentGrpc::UpdateRegion(grpc::CallbackServerContext* ctx,
                                                     const v1::UpdateRegionRequest* req,
                                                     v1::Region* resp) {
  return Run(ctx, resp, [this, req](const Caller& c) { return residents_->UpdateRegion(*req, c); });
}

grpc::ServerUnaryReactor* ResidentGrpc::SetGridBoundary(grpc::CallbackServerContext* ctx,
                                                        const v1::SetGridBoundaryRequest* req,
                                                        v1::Region* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return residents_->SetGridBoundary(*req, c); });
}

grpc::ServerUnaryReactor* ResidentGrpc::DeleteRegion(grpc::CallbackServerContext* ctx,
                                                     const v1::DeleteRegionRequest* req,
                                                     v1::DeleteRegionResponse* resp) {
  return Run(ctx, resp, [this, req](const Caller& c) { return residents_->DeleteRegion(*req, c); });
}

grpc::ServerUnaryReactor* ResidentGrpc::ListChildren(grpc::CallbackServerContext* ctx,
                                                     const v1::ListChildrenRequest* req,
                                                     v1::ListChildrenResponse* resp) {
  return Run(ctx, resp, [this, req](const Caller&) { return residents_->ListChildren(*req); });
}

grpc::ServerUnaryReactor* ResidentGrpc::ListAncestors(grpc::CallbackServerContext* ctx,
                                                      const v1::ListAncestorsRequest* req,
                                                      v1::ListAncestorsResponse* resp) {
  return Run(ctx, resp, [this, req](const Caller&) { return residents_->ListAncestors(*req); });
}

grpc::ServerUnaryReactor* ResidentGrpc::LocateGrid(grpc::CallbackServerContext* ctx,
                                                   const v1::LocateGridRequest* req,
                                                   v1::LocateGridResponse* resp) {
  return Run(ctx, resp, [this, req](const Caller&) { return residents_->LocateGrid(*req); });
}

grpc::ServerUnaryReactor* ResidentGrpc::GetGridPublication(grpc::CallbackServerContext* ctx,
                                                           const v1::GetGridPublicationRequest* req,
                                                           v1::GridPublication* resp) {
  return Run(ctx, resp,
             [this, req](const Caller&) { return residents_->GetGridPublication(*req); });
}

grpc::ServerUnaryReactor* ResidentGrpc::CreateHousehold(grpc::CallbackServerContext* ctx,
                                                        const v1::CreateHouseholdRequest* req,
                                                        v1::Household* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return residents_->CreateHousehold(*req, c); });
}

grpc::ServerUnaryReactor* ResidentGrpc::GetHousehold(grpc::CallbackServerContext* ctx,
                                                     const v1::GetHouseholdRequest* req,
                                                     v1::Household* resp) {
  return Run(ctx, resp, [this, req](const Caller& c) { return residents_->GetHousehold(*req, c); });
}

grpc::ServerUnaryReactor* ResidentGrpc::CreateResident(grpc::CallbackServerContext* ctx,
                                                       const v1::CreateResidentRequest* req,
                                                       v1::Resident* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return residents_->CreateResident(*req, c); });
}

grpc::ServerUnaryReactor* ResidentGrpc::GetResident(grpc::CallbackServerContext* ctx,
                                                    const v1::GetResidentRequest* req,
                                                    v1::Resident* resp) {
  return Run(ctx, resp, [this, req](const Caller& c) { return residents_->GetResident(*req, c); });
}

grpc::ServerUnaryReactor* ResidentGrpc::UpdateResident(grpc::CallbackServerContext* ctx,
                                                       const v1::UpdateResidentRequest* req,
                                                       v1::Resident* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return residents_->UpdateResident(*req, c); });
}

grpc::ServerUnaryReactor* ResidentGrpc::SearchResidents(grpc::CallbackServerContext* ctx,
                                                        const v1::SearchResidentsRequest* req,
                                                        v1::SearchResidentsResponse* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return residents_->SearchResidents(*req, c); });
}

grpc::ServerUnaryReactor* ResidentGrpc::FindResidents(grpc::CallbackServerContext* ctx,
                                                      const v1::FindResidentsRequest* req,
                                                      v1::FindResidentsResponse* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return residents_->FindResidents(*req, c); });
}

grpc::ServerUnaryReactor* ResidentGrpc::EraseResident(grpc::CallbackServerContext* ctx,
                                                      const v1::EraseResidentRequest* req,
                                                      v1::EraseResidentResponse* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return residents_->EraseResident(*req, c); });
}

grpc::ServerUnaryReactor* ResidentGrpc::ListAccessLog(grpc::CallbackServerContext* ctx,
                                                      const v1::ListAccessLogRequest* req,
                                                      v1::ListAccessLogResponse* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return residents_->ListAccessLog(*req, c); });
}

grpc::ServerUnaryReactor* ResidentGrpc::AssignStaff(grpc::CallbackServerContext* ctx,
                                                    const v1::AssignStaffRequest* req,
                                                    v1::StaffAssignment* resp) {
  return Run(ctx, resp, [this, req](const Caller& c) { return residents_->AssignStaff(*req, c); });
}

grpc::ServerUnaryReactor* ResidentGrpc::EndStaffAssignment(grpc::CallbackServerContext* ctx,
                                                           const v1::EndStaffAssignmentRequest* req,
                                                           v1::StaffAssignment* resp) {
  return Run(ctx, resp,
             [this, req](const Caller& c) { return residents_->EndStaffAssignment(*req, c); });
}

grpc::ServerUnaryReactor* ResidentGrpc::ListStaff(grpc::CallbackServerContext* ctx,
                                                  const v1::ListStaffRequest* req,
                                                  v1::ListStaffResponse* resp) {
  return Run(ctx, resp, [this, req](const Caller&) { return residents_->ListStaff(*req); });
}

grpc::ServerUnaryReactor* ResidentGrpc::GetResponsible(grpc::CallbackServerContext* ctx,
                                                       const v1::GetResponsibleRequest* req,
                                                       v1::GetResponsibleResponse* resp) {
  return Run(ctx, resp, [this, req](const Caller&) { return residents_->GetResponsible(*req); });
}

grpc::ServerUnaryReactor* ResidentGrpc::ImportBatch(grpc::CallbackServerContext* ctx,
                                                    const v1::ImportBatchRequest* req,
                                                    v1::ImportBatchResponse* resp) {
  return Run(ctx, resp, [this, req](const Caller& c) { return residents_->ImportBatch(*req, c); });
}

}  // namespace gridloop::residents
