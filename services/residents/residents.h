#ifndef GRIDLOOP_SERVICES_RESIDENTS_RESIDENTS_H_
#define GRIDLOOP_SERVICES_RESIDENTS_RESIDENTS_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock/clock.h"
#include "common/identity/identity.h"
#include "common/pii/keyring.h"
#include "gridloop/v1/residents.pb.h"
#include "services/residents/geo/grid_index.h"
#include "services/residents/ledger_store.h"

namespace gridloop::residents {

namespace v1 = ::gridloop::v1;

// The residents ledger: regions and their grid boundaries, households, residents (personal
// data encrypted, found through keyed hashes, shown masked unless the caller may see it),
// and effective-dated grid staff.
//
// Who may do what (until authentication lands, from the caller identity):
//  - regions, grid publication, LocateGrid and GetResponsible: anyone;
//  - changes: staff roles (grid worker, grid leader, supervisor, operator) within their
//    region scope, and the system role anywhere;
//  - resident reads: the same roles plus department and volunteer, within scope; a
//    resident reads their own record;
//  - ID-card number and phone in full: grid worker, grid leader and supervisor within
//    scope, and the resident themself; each such read is written to the access log.
// Anonymous callers get UNAUTHENTICATED where a role is needed, others PERMISSION_DENIED.
class Residents {
 public:
  Residents(LedgerStore* store, const pii::Keyring* keyring, const Clock* clock);

  // Loads every grid boundary into the in-memory index; then RefreshGrids follows changes
  // (made by this or any other replica).
  absl::Status LoadGrids();
  absl::Status RefreshGrids();

  absl::StatusOr<v1::Region> CreateRegion(const v1::CreateRegionRequest& req, const Caller& c);
  absl::StatusOr<v1::Region> GetRegion(absl::string_view code);
  absl::StatusOr<v1::Region> UpdateRegion(const v1::UpdateRegionRequest& req, const Caller& c);
  absl::StatusOr<v1::Region> SetGridBoundary(const v1::SetGridBoundaryRequest& req,
                                             const Caller& c);
  absl::StatusOr<v1::DeleteRegionResponse> DeleteRegion(const v1::DeleteRegionRequest& req,
                                                        const Caller& c);
  absl::StatusOr<v1::ListChildrenResponse> ListChildren(const v1::ListChildrenRequest& req);
  absl::StatusOr<v1::ListAncestorsResponse> ListAncestors(const v1::ListAncestorsRequest& req);
  absl::StatusOr<v1::LocateGridResponse> LocateGrid(const v1::LocateGridRequest& req);
  absl::StatusOr<v1::GridPublication> GetGridPublication(const v1::GetGridPublicationRequest& req);

  absl::StatusOr<v1::Household> CreateHousehold(const v1::CreateHouseholdRequest& req,
                                                const Caller& c);
  absl::StatusOr<v1::Household> GetHousehold(const v1::GetHouseholdRequest& req, const Caller& c);
  absl::StatusOr<v1::Resident> CreateResident(const v1::CreateResidentRequest& req,
                                              const Caller& c);
  absl::StatusOr<v1::Resident> GetResident(const v1::GetResidentRequest& req, const Caller& c);
  absl::StatusOr<v1::Resident> UpdateResident(const v1::UpdateResidentRequest& req,
                                              const Caller& c);
  absl::StatusOr<v1::SearchResidentsResponse> SearchResidents(const v1::SearchResidentsRequest& req,
                                                              const Caller& c);
  absl::StatusOr<v1::FindResidentsResponse> FindResidents(const v1::FindResidentsRequest& req,
                                                          const Caller& c);
  absl::StatusOr<v1::EraseResidentResponse> EraseResident(const v1::EraseResidentRequest& req,
                                                          const Caller& c);
  absl::StatusOr<v1::ListAccessLogResponse> ListAccessLog(const v1::ListAccessLogRequest& req,
                                                          const Caller& c);

  absl::StatusOr<v1::StaffAssignment> AssignStaff(const v1::AssignStaffRequest& req,
                                                  const Caller& c);
  absl::StatusOr<v1::StaffAssignment> EndStaffAssignment(const v1::EndStaffAssignmentRequest& req,
                                                         const Caller& c);
  absl::StatusOr<v1::ListStaffResponse> ListStaff(const v1::ListStaffRequest& req);
  absl::StatusOr<v1::GetResponsibleResponse> GetResponsible(const v1::GetResponsibleRequest& req);

  absl::StatusOr<v1::ImportBatchResponse> ImportBatch(const v1::ImportBatchRequest& req,
                                                      const Caller& c);

 private:
  enum class Outcome { kCreated, kUpdated, kUnchanged };
  template <typename T>
  struct Upserted {
    T record;
    Outcome outcome;
  };

  // The first result of a repeated request (none for an empty request id).
  template <typename M>
  absl::StatusOr<std::optional<M>> FirstResult(absl::string_view request_id,
                                               absl::string_view fingerprint);
  // Commits `txn`: `next` when it took effect, the first result when the request was seen
  // before, Aborted("retry") when a guard failed.
  template <typename M>
  absl::StatusOr<M> CommitOr(Txn txn, M next, absl::string_view fingerprint);
  template <typename M>
  absl::StatusOr<Upserted<M>> CommitUpsert(Txn txn, M next, Outcome outcome,
                                           absl::string_view fingerprint);

  // Regions.
  absl::StatusOr<std::optional<v1::Region>> FindRegion(absl::string_view code);
  absl::StatusOr<v1::Region> MustRegion(absl::string_view field, absl::string_view code);
  absl::StatusOr<std::vector<v1::Region>> Ancestors(const v1::Region& region);
  // The grid at or above `region` (nullopt above grid level).
  absl::StatusOr<std::optional<v1::Region>> GridOf(const v1::Region& region);
  absl::StatusOr<Upserted<v1::Region>> UpsertRegion(const v1::Region& region,
                                                    absl::string_view request_id, const Caller& c,
                                                    bool upsert);
  absl::StatusOr<v1::Region> WriteBoundary(
      const v1::Region& current, const google::protobuf::RepeatedPtrField<v1::LatLng>& boundary,
      const google::protobuf::RepeatedPtrField<v1::Ring>& holes, absl::Time valid_from,
      absl::string_view request_id, absl::string_view fingerprint);

  // Households and residents.
  absl::StatusOr<std::optional<v1::Household>> FindHousehold(absl::string_view id);
  absl::StatusOr<Upserted<v1::Household>> UpsertHousehold(const v1::Household& h,
                                                          absl::string_view request_id,
                                                          absl::string_view fingerprint,
                                                          const Caller& c);
  absl::StatusOr<std::optional<v1::Resident>> FindStored(absl::string_view id);
  // A resident with its personal data in the clear, beside a record without it.
  struct PlainResident {
    v1::Resident record;  // id_number and phone empty
    std::string id_number;
    std::string phone;
  };
  // Validates and normalizes `in` for the resident `id`; `previous` is what an update
  // starts from (a masked id_number or phone keeps its value).
  absl::StatusOr<PlainResident> Normalize(const v1::Resident& in, absl::string_view id,
                                          const PlainResident* previous);
  absl::StatusOr<PlainResident> Unseal(const v1::Resident& stored) const;
  absl::StatusOr<Upserted<v1::Resident>> WriteResident(const v1::Resident& in,
                                                       const std::optional<v1::Resident>& prev,
                                                       absl::string_view request_id,
                                                       absl::string_view fingerprint,
                                                       int64_t expected_version, const Caller& c);
  // The stored resident as `c` may see it; a read in full is logged (method, purpose).
  absl::StatusOr<v1::Resident> Render(const v1::Resident& stored, const Caller& c,
                                      absl::string_view method, absl::string_view purpose,
                                      bool echo = false);
  absl::StatusOr<std::optional<std::string>> ResidentByKey(const v1::Resident& in);

  // Staff.
  absl::StatusOr<std::vector<v1::StaffAssignment>> StaffOf(absl::string_view region_code);
  absl::StatusOr<Upserted<v1::StaffAssignment>> UpsertStaff(const v1::AssignStaffRequest& req,
                                                            absl::string_view fingerprint,
                                                            const Caller& c);

  LedgerStore* const store_;
  const pii::Keyring* const keyring_;
  const Clock* const clock_;
  geo::GridIndex grids_;
  absl::Mutex geo_mu_;  // one refresh at a time
  std::string geo_seen_ ABSL_GUARDED_BY(geo_mu_) = "0";
};

}  // namespace gridloop::residents

#endif  // GRIDLOOP_SERVICES_RESIDENTS_RESIDENTS_H_
