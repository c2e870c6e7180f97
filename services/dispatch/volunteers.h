#ifndef GRIDLOOP_SERVICES_DISPATCH_VOLUNTEERS_H_
#define GRIDLOOP_SERVICES_DISPATCH_VOLUNTEERS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"
#include "common/identity/identity.h"
#include "gridloop/v1/dispatch.pb.h"
#include "services/dispatch/peers.h"
#include "services/dispatch/routing.h"
#include "services/dispatch/volunteer_store.h"

namespace gridloop::dispatch {

struct VolunteersOptions {
  // What an hour of an activity day earns when its organiser leaves points_per_hour at 0.
  int64_t default_points_per_hour = 10;
  // The longest activity day, from starts_at to ends_at.
  absl::Duration max_activity_length = absl::Hours(7 * 24);
};

// The volunteer-facing side of dispatch: the volunteer registry, activity days with their
// sign-ups, the service record and the leaderboard. Each method validates the request,
// decides whether the caller may make it, and hands it to the store; it never touches
// gRPC, Redis or the wall clock.
//
// Errors: an anonymous caller gets Unauthenticated from every method, before anything
// else is looked at. Then InvalidArgument whose message starts with the field's path
// ("volunteer.location.latitude: ..."); then PermissionDenied. Whatever the store
// returns (NotFound, AlreadyExists, Aborted, FailedPrecondition, Unavailable...) is
// passed on unchanged.
//
// Who may do what. "Staff" are grid workers, grid leaders, supervisors and operators,
// acting within their region scope (a region code prefix on a '.' boundary; an empty
// scope covers nothing). The system role may do anything anywhere. "Self" is the caller
// with the volunteer role whose person id is the volunteer's id.
//
// Mutating methods take a request_id; repeating one with the same request returns the
// first result (the store keeps the key). Fields a caller may not set (ids, versions,
// counters, totals, timestamps) are ignored.
//
// Thread-safe when the store is; blocking (call it from an executor, not from a gRPC
// callback thread).
class Volunteers {
 public:
  // `store`, `skills`, `clock` and `residents` are not owned and must outlive this object.
  // With `residents`, a volunteer's resident_id must name a registered resident.
  Volunteers(VolunteerStore* store, const SkillCatalog* skills, const Clock* clock,
             VolunteersOptions options = {}, StaffDirectory* residents = nullptr);

  // Adds a volunteer: active, version 1, max_concurrent_tasks 1 when left at 0, the phone
  // in its normalised 11-digit form. Staff in scope of volunteer.region_code, or a
  // resident registering themself (volunteer.resident_id is their person id).
  absl::StatusOr<v1::Volunteer> RegisterVolunteer(const v1::RegisterVolunteerRequest& req,
                                                  const Caller& c);

  // Any identified caller. The phone is masked ("138****5678") unless the caller is self,
  // staff in scope of the volunteer's region, or the system.
  absl::StatusOr<v1::Volunteer> GetVolunteer(const v1::GetVolunteerRequest& req, const Caller& c);

  // Replaces the profile fields of volunteer.id, checked as on registration. Self, or
  // staff in scope of both the stored and the new region.
  absl::StatusOr<v1::Volunteer> UpdateVolunteer(const v1::UpdateVolunteerRequest& req,
                                                const Caller& c);

  // Takes a volunteer off duty with a reason (required, at most 500 characters). Self, or
  // staff in scope of the volunteer's region.
  absl::StatusOr<v1::Volunteer> DeactivateVolunteer(const v1::DeactivateVolunteerRequest& req,
                                                    const Caller& c);

  // Staff and the system only. Staff list within their scope: an empty region_prefix
  // means their scope, and any other must lie inside it. page_size 0 means 50; at most
  // 500.
  absl::StatusOr<v1::ListVolunteersResponse> ListVolunteers(const v1::ListVolunteersRequest& req,
                                                            const Caller& c);

  // The configured skills, in catalog order. Any identified caller.
  absl::StatusOr<v1::ListSkillsResponse> ListSkills(const v1::ListSkillsRequest& req,
                                                    const Caller& c);

  // Schedules an activity day organised by the caller: staff in scope of its region, or
  // the system. It must end in the future, after it starts, and last at most
  // options.max_activity_length; points_per_hour 0 means options.default_points_per_hour.
  absl::StatusOr<v1::Activity> CreateActivity(const v1::CreateActivityRequest& req,
                                              const Caller& c);

  // Any identified caller.
  absl::StatusOr<v1::Activity> GetActivity(const v1::GetActivityRequest& req, const Caller& c);

  // By start time. Any identified caller. starts_after must not be later than
  // starts_before when both are set.
  absl::StatusOr<v1::ListActivitiesResponse> ListActivities(const v1::ListActivitiesRequest& req,
                                                            const Caller& c);

  // Sign-up, cancellation and check-in: self, staff in scope of the activity's region, or
  // the system.
  absl::StatusOr<v1::SignUpResponse> SignUp(const v1::SignUpRequest& req, const Caller& c);
  absl::StatusOr<v1::SignUpResponse> CancelSignUp(const v1::CancelSignUpRequest& req,
                                                  const Caller& c);
  absl::StatusOr<v1::SignUpResponse> CheckIn(const v1::CheckInRequest& req, const Caller& c);

  // Check-out credits the hours, so only the organising side confirms it: staff in scope
  // of the activity's region, or the system; never the volunteer.
  absl::StatusOr<v1::SignUpResponse> CheckOut(const v1::CheckOutRequest& req, const Caller& c);

  // Totals and ledger entries, newest first. Self, staff in scope of the volunteer's
  // region, or the system.
  absl::StatusOr<v1::ServiceRecord> GetServiceRecord(const v1::GetServiceRecordRequest& req,
                                                     const Caller& c);

  // The top volunteers of a region (at any level) for the period containing `at` (now
  // when unset). limit 0 means 10; at most 100. Any identified caller.
  absl::StatusOr<v1::ListLeaderboardResponse> ListLeaderboard(const v1::ListLeaderboardRequest& req,
                                                              const Caller& c);

 private:
  // The caller-settable fields of `in`, checked and normalised; everything else cleared.
  absl::StatusOr<v1::Volunteer> Profile(const v1::Volunteer& in) const;
  absl::StatusOr<v1::Activity> NewActivity(const v1::Activity& in) const;
  absl::Status CheckSkills(absl::string_view field,
                           const google::protobuf::RepeatedPtrField<std::string>& skills) const;
  // OK for the system and for staff in scope of the activity's region (read from the
  // store), and for self when `self_allowed`.
  absl::Status MayActOnParticipation(const Caller& c, absl::string_view activity_id,
                                     absl::string_view volunteer_id, bool self_allowed);
  // OK for the system, for self, and for staff in scope of the volunteer's stored region
  // and, when not empty, of `new_region_code` too.
  absl::Status MayActOnVolunteer(const Caller& c, absl::string_view volunteer_id,
                                 absl::string_view new_region_code = "");

  // A sign-up, cancellation, check-in or check-out (`change` on the store): the request's
  // ids checked, then MayActOnParticipation, then the store call under the request's key.
  using ParticipationChange = absl::StatusOr<v1::SignUpResponse> (VolunteerStore::*)(
      const RequestKey& rk, absl::string_view activity_id, absl::string_view volunteer_id,
      absl::Time now);
  template <typename Request>
  absl::StatusOr<v1::SignUpResponse> ChangeParticipation(absl::string_view method,
                                                         const Request& req, const Caller& c,
                                                         bool self_allowed,
                                                         ParticipationChange change);

  // InvalidArgument naming `field` unless `resident_id` is a registered resident (when a
  // residents service is configured); Unavailable when it cannot be asked.
  absl::Status CheckResident(absl::string_view field, absl::string_view resident_id) const;

  VolunteerStore* const store_;
  const SkillCatalog* const skills_;
  const Clock* const clock_;
  const VolunteersOptions options_;
  StaffDirectory* const residents_;
};

}  // namespace gridloop::dispatch

#endif  // GRIDLOOP_SERVICES_DISPATCH_VOLUNTEERS_H_
