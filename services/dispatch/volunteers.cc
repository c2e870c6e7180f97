#include "services/dispatch/volunteers.h"

#include <cmath>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/clock/proto_time.h"
#include "common/pii/id_number.h"
#include "common/pii/masking.h"
#include "common/requests/fields.h"
#include "common/status/status_macros.h"

namespace gridloop::dispatch {
namespace {

// Text limits count characters (UTF-8 code points): a Chinese name of 64 characters is
// 192 bytes.
constexpr size_t kMaxRequestIdChars = 128;
constexpr size_t kMaxIdChars = 64;
constexpr size_t kMaxRegionCodeChars = 64;
constexpr size_t kMaxNameChars = 64;
constexpr size_t kMaxServiceUnitChars = 64;
constexpr size_t kMaxReasonChars = 500;
constexpr size_t kMaxTitleChars = 100;
constexpr size_t kMaxPlaceChars = 200;
constexpr size_t kMaxDescriptionChars = 2000;
constexpr int kMaxSkills = 16;
constexpr int kMaxAvailabilityWindows = 28;  // four a day
constexpr int kMinutesPerDay = 24 * 60;
constexpr int kMaxConcurrentTasks = 10;
constexpr int kMaxCapacity = 10000;
constexpr int64_t kMaxPointsPerHour = 1000;
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;
constexpr int kDefaultLeaderboardLimit = 10;
constexpr int kMaxLeaderboardLimit = 100;

using requests::CheckChars;
using requests::CheckText;
using requests::CheckTimestamp;
using requests::InvalidField;

absl::Status CheckRequestId(absl::string_view request_id) {
  return requests::CheckRequestId(request_id, kMaxRequestIdChars);
}

absl::Status CheckId(absl::string_view field, absl::string_view id) {
  return CheckChars(
      field, id, kMaxIdChars,
      [](char ch) { return absl::ascii_isalnum(ch) || ch == '_' || ch == '.' || ch == '-'; },
      "only letters, digits, '_', '.' and '-'");
}

absl::Status CheckRegionCode(absl::string_view field, absl::string_view code) {
  return requests::CheckRegionCode(field, code, kMaxRegionCodeChars);
}

absl::Status CheckLocation(absl::string_view field, bool present, const v1::LatLng& at) {
  if (!present) return InvalidField(field, "required");
  const double lat = at.latitude();
  const double lng = at.longitude();
  if (!std::isfinite(lat) || lat < -90 || lat > 90) {
    return InvalidField(absl::StrCat(field, ".latitude"), "must be between -90 and 90");
  }
  if (!std::isfinite(lng) || lng < -180 || lng > 180) {
    return InvalidField(absl::StrCat(field, ".longitude"), "must be between -180 and 180");
  }
  return absl::OkStatus();
}

absl::StatusOr<int> PageSize(absl::string_view field, int requested, int default_size,
                             int max_size) {
  if (requested == 0) return default_size;
  if (requested < 0 || requested > max_size) {
    return InvalidField(
        field, absl::StrCat("must be between 1 and ", max_size, " (0 = ", default_size, ")"));
  }
  return requested;
}

absl::Status RequireIdentity(const Caller& c) {
  if (c.anonymous()) return absl::UnauthenticatedError("a caller identity is required");
  return absl::OkStatus();
}

bool IsStaff(const Caller& c) {
  return c.role == Role::kGridWorker || c.role == Role::kGridLeader ||
         c.role == Role::kSupervisor || c.role == Role::kOperator;
}

bool StaffInScopeOf(const Caller& c, absl::string_view region_code) {
  return IsStaff(c) && c.ActsWithin(region_code);
}

// The system, or staff acting within their scope.
bool Oversees(const Caller& c, absl::string_view region_code) {
  return c.role == Role::kSystem || StaffInScopeOf(c, region_code);
}

bool IsSelf(const Caller& c, absl::string_view volunteer_id) {
  return c.role == Role::kVolunteer && !c.person_id.empty() && c.person_id == volunteer_id;
}

absl::Status OutOfScope(const Caller& c, absl::string_view region_code) {
  if (IsStaff(c)) {
    return absl::PermissionDeniedError(
        absl::StrCat("region ", region_code, " is outside the caller's scope"));
  }
  return absl::PermissionDeniedError(
      absl::StrCat("role ", RoleName(c.role), " may not do this here"));
}

// Neither the volunteer nor anyone who oversees them; such callers are refused before
// anything is read.
absl::Status NotSelf() {
  return absl::PermissionDeniedError(
      "only the volunteer themself, staff of the region or the system may do this");
}

// The volunteer as `c` may see them: contact details stay with the people who need them.
v1::Volunteer Visible(v1::Volunteer v, const Caller& c) {
  if (!v.phone().empty() && !IsSelf(c, v.id()) && !Oversees(c, v.region_code())) {
    v.set_phone(pii::MaskPhone(v.phone()));
  }
  return v;
}

}  // namespace

Volunteers::Volunteers(VolunteerStore* store, const SkillCatalog* skills, const Clock* clock,
                       VolunteersOptions options, StaffDirectory* residents)
    : store_(store), skills_(skills), clock_(clock), options_(options), residents_(residents) {}

absl::Status Volunteers::CheckResident(absl::string_view field,
                                       absl::string_view resident_id) const {
  if (residents_ == nullptr || resident_id.empty()) return absl::OkStatus();
  absl::StatusOr<bool> exists = residents_->ResidentExists(resident_id);
  if (!exists.ok()) {
    // Not knowing is not "no": the caller may retry once residents answers again.
    return absl::UnavailableError(
        absl::StrCat(field, ": cannot be checked just now (", exists.status().message(), ")"));
  }
  if (!*exists) return InvalidField(field, "no resident has this id");
  return absl::OkStatus();
}

absl::Status Volunteers::CheckSkills(
    absl::string_view field, const google::protobuf::RepeatedPtrField<std::string>& skills) const {
  if (skills.size() > kMaxSkills) {
    return InvalidField(field, absl::StrCat("at most ", kMaxSkills, " skills"));
  }
  std::set<absl::string_view> seen;
  for (int i = 0; i < skills.size(); ++i) {
    const std::string& skill = skills.Get(i);
    const std::string at = absl::StrCat(field, "[", i, "]");
    // The value is echoed, so only as much of it as a real skill name could be.
    const std::string shown = absl::CHexEscape(absl::string_view(skill).substr(0, 32));
    if (!skills_->Bit(skill).has_value()) {
      return InvalidField(at, absl::StrCat("unknown skill \"", shown, "\" (see ListSkills)"));
    }
    if (!seen.insert(skill).second) {
      return InvalidField(at, absl::StrCat("\"", shown, "\" is listed twice"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Volunteer> Volunteers::Profile(const v1::Volunteer& in) const {
  v1::Volunteer out;
  RETURN_IF_ERROR(CheckText("volunteer.name", in.name(), kMaxNameChars, /*required=*/true));
  out.set_name(in.name());
  if (!in.resident_id().empty()) {
    RETURN_IF_ERROR(CheckId("volunteer.resident_id", in.resident_id()));
    out.set_resident_id(in.resident_id());
  }
  RETURN_IF_ERROR(CheckRegionCode("volunteer.region_code", in.region_code()));
  out.set_region_code(in.region_code());
  RETURN_IF_ERROR(CheckLocation("volunteer.location", in.has_location(), in.location()));
  *out.mutable_location() = in.location();
  RETURN_IF_ERROR(CheckSkills("volunteer.skills", in.skills()));
  *out.mutable_skills() = in.skills();

  if (in.availability_size() > kMaxAvailabilityWindows) {
    return InvalidField("volunteer.availability",
                        absl::StrCat("at most ", kMaxAvailabilityWindows, " windows"));
  }
  for (int i = 0; i < in.availability_size(); ++i) {
    const v1::AvailabilityWindow& w = in.availability(i);
    const std::string at = absl::StrCat("volunteer.availability[", i, "]");
    if (w.weekday() < 1 || w.weekday() > 7) {
      return InvalidField(absl::StrCat(at, ".weekday"), "1 (Monday) to 7 (Sunday)");
    }
    if (w.start_minute() < 0 || w.start_minute() >= kMinutesPerDay) {
      return InvalidField(absl::StrCat(at, ".start_minute"), "0 to 1439");
    }
    if (w.duration_minutes() < 1 || w.duration_minutes() > kMinutesPerDay) {
      return InvalidField(absl::StrCat(at, ".duration_minutes"), "1 to 1440");
    }
  }
  *out.mutable_availability() = in.availability();

  out.set_party_member(in.party_member());
  RETURN_IF_ERROR(
      CheckText("volunteer.service_unit", in.service_unit(), kMaxServiceUnitChars, false));
  out.set_service_unit(in.service_unit());

  if (in.max_concurrent_tasks() == 0) {
    out.set_max_concurrent_tasks(1);
  } else if (in.max_concurrent_tasks() < 1 || in.max_concurrent_tasks() > kMaxConcurrentTasks) {
    return InvalidField("volunteer.max_concurrent_tasks",
                        absl::StrCat("1 to ", kMaxConcurrentTasks, " (0 = 1)"));
  } else {
    out.set_max_concurrent_tasks(in.max_concurrent_tasks());
  }

  if (!in.phone().empty()) {
    ASSIGN_OR_RETURN(std::string phone, pii::NormalizeMobile("volunteer.phone", in.phone()));
    out.set_phone(std::move(phone));
  }
  return out;
}

absl::StatusOr<v1::Activity> Volunteers::NewActivity(const v1::Activity& in) const {
  v1::Activity out;
  RETURN_IF_ERROR(CheckText("activity.title", in.title(), kMaxTitleChars, /*required=*/true));
  out.set_title(in.title());
  RETURN_IF_ERROR(CheckRegionCode("activity.region_code", in.region_code()));
  out.set_region_code(in.region_code());

  if (!in.has_starts_at()) return InvalidField("activity.starts_at", "required");
  RETURN_IF_ERROR(CheckTimestamp("activity.starts_at", in.starts_at()));
  if (!in.has_ends_at()) return InvalidField("activity.ends_at", "required");
  RETURN_IF_ERROR(CheckTimestamp("activity.ends_at", in.ends_at()));
  const absl::Time starts = FromTimestamp(in.starts_at());
  const absl::Time ends = FromTimestamp(in.ends_at());
  if (ends <= starts) return InvalidField("activity.ends_at", "must be after starts_at");
  if (ends - starts > options_.max_activity_length) {
    return InvalidField("activity.ends_at",
                        absl::StrCat("at most ", absl::FormatDuration(options_.max_activity_length),
                                     " after starts_at"));
  }
  if (ends <= clock_->Now()) return InvalidField("activity.ends_at", "must be in the future");
  *out.mutable_starts_at() = in.starts_at();
  *out.mutable_ends_at() = in.ends_at();

  RETURN_IF_ERROR(CheckText("activity.place", in.place(), kMaxPlaceChars, false));
  out.set_place(in.place());
  RETURN_IF_ERROR(CheckSkills("activity.skills", in.skills()));
  *out.mutable_skills() = in.skills();
  if (in.capacity() < 1 || in.capacity() > kMaxCapacity) {
    return InvalidField("activity.capacity", absl::StrCat("1 to ", kMaxCapacity));
  }
  out.set_capacity(in.capacity());
  RETURN_IF_ERROR(CheckText("activity.description", in.description(), kMaxDescriptionChars, false,
                            /*multiline=*/true));
  out.set_description(in.description());

  if (in.points_per_hour() == 0) {
    out.set_points_per_hour(options_.default_points_per_hour);
  } else if (in.points_per_hour() < 1 || in.points_per_hour() > kMaxPointsPerHour) {
    return InvalidField("activity.points_per_hour",
                        absl::StrCat("1 to ", kMaxPointsPerHour, " (0 = the default)"));
  } else {
    out.set_points_per_hour(in.points_per_hour());
  }
  return out;
}

absl::Status Volunteers::MayActOnParticipation(const Caller& c, absl::string_view activity_id,
                                               absl::string_view volunteer_id, bool self_allowed) {
  if (c.role == Role::kSystem) return absl::OkStatus();
  if (self_allowed && IsSelf(c, volunteer_id)) return absl::OkStatus();
  if (!IsStaff(c)) {
    return self_allowed ? NotSelf()
                        : absl::PermissionDeniedError(
                              "only staff of the activity's region may check a volunteer out");
  }
  ASSIGN_OR_RETURN(v1::Activity activity, store_->GetActivity(activity_id));
  if (!StaffInScopeOf(c, activity.region_code())) return OutOfScope(c, activity.region_code());
  return absl::OkStatus();
}

absl::Status Volunteers::MayActOnVolunteer(const Caller& c, absl::string_view volunteer_id,
                                           absl::string_view new_region_code) {
  if (IsSelf(c, volunteer_id) || c.role == Role::kSystem) return absl::OkStatus();
  if (!IsStaff(c)) return NotSelf();
  ASSIGN_OR_RETURN(v1::Volunteer stored, store_->Get(volunteer_id));
  if (!StaffInScopeOf(c, stored.region_code())) return OutOfScope(c, stored.region_code());
  if (!new_region_code.empty() && !StaffInScopeOf(c, new_region_code)) {
    return OutOfScope(c, new_region_code);
  }
  return absl::OkStatus();
}

template <typename Request>
absl::StatusOr<v1::SignUpResponse> Volunteers::ChangeParticipation(absl::string_view method,
                                                                   const Request& req,
                                                                   const Caller& c,
                                                                   bool self_allowed,
                                                                   ParticipationChange change) {
  RETURN_IF_ERROR(RequireIdentity(c));
  RETURN_IF_ERROR(CheckRequestId(req.request_id()));
  RETURN_IF_ERROR(CheckId("activity_id", req.activity_id()));
  RETURN_IF_ERROR(CheckId("volunteer_id", req.volunteer_id()));
  RETURN_IF_ERROR(MayActOnParticipation(c, req.activity_id(), req.volunteer_id(), self_allowed));
  const RequestKey rk{req.request_id(), RequestFingerprint(method, req)};
  return (store_->*change)(rk, req.activity_id(), req.volunteer_id(), clock_->Now());
}

// ---------------------------------------------------------------------------------------
// Volunteers

absl::StatusOr<v1::Volunteer> Volunteers::RegisterVolunteer(const v1::RegisterVolunteerRequest& req,
                                                            const Caller& c) {
  RETURN_IF_ERROR(RequireIdentity(c));
  RETURN_IF_ERROR(CheckRequestId(req.request_id()));
  ASSIGN_OR_RETURN(v1::Volunteer v, Profile(req.volunteer()));
  const bool registers_self =
      c.role == Role::kResident && !v.resident_id().empty() && v.resident_id() == c.person_id;
  if (!registers_self && !Oversees(c, v.region_code())) {
    if (c.role == Role::kResident) {
      return absl::PermissionDeniedError(
          "a resident may register only themself (volunteer.resident_id = their id)");
    }
    return OutOfScope(c, v.region_code());
  }
  RETURN_IF_ERROR(CheckResident("volunteer.resident_id", v.resident_id()));
  const RequestKey rk{req.request_id(), RequestFingerprint("RegisterVolunteer", req)};
  // Everyone allowed here supplied the phone themself or oversees the region, so the
  // result goes back unmasked.
  return store_->Register(rk, std::move(v), clock_->Now());
}

absl::StatusOr<v1::Volunteer> Volunteers::GetVolunteer(const v1::GetVolunteerRequest& req,
                                                       const Caller& c) {
  RETURN_IF_ERROR(RequireIdentity(c));
  RETURN_IF_ERROR(CheckId("id", req.id()));
  ASSIGN_OR_RETURN(v1::Volunteer v, store_->Get(req.id()));
  return Visible(std::move(v), c);
}

absl::StatusOr<v1::Volunteer> Volunteers::UpdateVolunteer(const v1::UpdateVolunteerRequest& req,
                                                          const Caller& c) {
  RETURN_IF_ERROR(RequireIdentity(c));
  RETURN_IF_ERROR(CheckRequestId(req.request_id()));
  RETURN_IF_ERROR(CheckId("volunteer.id", req.volunteer().id()));
  ASSIGN_OR_RETURN(v1::Volunteer next, Profile(req.volunteer()));
  next.set_id(req.volunteer().id());
  if (req.expected_version() < 0) {
    return InvalidField("expected_version", "must not be negative (0 = don't check)");
  }
  RETURN_IF_ERROR(MayActOnVolunteer(c, next.id(), next.region_code()));
  // Only a change of the link matters; the stored record is read only when it does.
  if (!next.resident_id().empty() && (c.role == Role::kVolunteer || residents_ != nullptr)) {
    ASSIGN_OR_RETURN(v1::Volunteer stored, store_->Get(next.id()));
    if (stored.resident_id() != next.resident_id()) {
      // Who a volunteer is on the ledger is for staff to say, not for the volunteer.
      if (c.role == Role::kVolunteer) {
        return absl::PermissionDeniedError(
            "volunteer.resident_id: only staff may link a volunteer to a resident");
      }
      RETURN_IF_ERROR(CheckResident("volunteer.resident_id", next.resident_id()));
    }
  }
  const RequestKey rk{req.request_id(), RequestFingerprint("UpdateVolunteer", req)};
  return store_->Update(rk, next, req.expected_version(), clock_->Now());
}

absl::StatusOr<v1::Volunteer> Volunteers::DeactivateVolunteer(
    const v1::DeactivateVolunteerRequest& req, const Caller& c) {
  RETURN_IF_ERROR(RequireIdentity(c));
  RETURN_IF_ERROR(CheckRequestId(req.request_id()));
  RETURN_IF_ERROR(CheckId("id", req.id()));
  RETURN_IF_ERROR(CheckText("reason", req.reason(), kMaxReasonChars, /*required=*/true,
                            /*multiline=*/true));
  RETURN_IF_ERROR(MayActOnVolunteer(c, req.id()));
  const RequestKey rk{req.request_id(), RequestFingerprint("DeactivateVolunteer", req)};
  return store_->Deactivate(rk, req.id(), req.reason(), clock_->Now());
}

absl::StatusOr<v1::ListVolunteersResponse> Volunteers::ListVolunteers(
    const v1::ListVolunteersRequest& req, const Caller& c) {
  RETURN_IF_ERROR(RequireIdentity(c));
  if (!req.region_prefix().empty()) {
    RETURN_IF_ERROR(CheckRegionCode("region_prefix", req.region_prefix()));
  }
  if (!req.skill().empty() && !skills_->Bit(req.skill()).has_value()) {
    return InvalidField("skill", "not in the skill catalog (see ListSkills)");
  }
  ASSIGN_OR_RETURN(const int page_size,
                   PageSize("page_size", req.page_size(), kDefaultPageSize, kMaxPageSize));

  VolunteerFilter filter;
  filter.region_prefix = req.region_prefix();
  filter.skill = req.skill();
  filter.include_inactive = req.include_inactive();
  if (c.role != Role::kSystem) {
    if (!IsStaff(c)) {
      return absl::PermissionDeniedError(
          absl::StrCat("role ", RoleName(c.role), " may not list volunteers"));
    }
    if (filter.region_prefix.empty()) filter.region_prefix = c.region_scope;
    if (!c.ActsWithin(filter.region_prefix)) {
      return OutOfScope(c, filter.region_prefix);
    }
  }

  ASSIGN_OR_RETURN(auto page, store_->List(filter, page_size, req.page_token()));
  v1::ListVolunteersResponse out;
  for (v1::Volunteer& v : page.first) *out.add_volunteers() = Visible(std::move(v), c);
  out.set_next_page_token(std::move(page.second));
  return out;
}

absl::StatusOr<v1::ListSkillsResponse> Volunteers::ListSkills(const v1::ListSkillsRequest& req,
                                                              const Caller& c) {
  RETURN_IF_ERROR(RequireIdentity(c));
  v1::ListSkillsResponse out;
  for (const std::string& skill : skills_->all()) out.add_skills(skill);
  return out;
}

// ---------------------------------------------------------------------------------------
// Activity days

absl::StatusOr<v1::Activity> Volunteers::CreateActivity(const v1::CreateActivityRequest& req,
                                                        const Caller& c) {
  RETURN_IF_ERROR(RequireIdentity(c));
  RETURN_IF_ERROR(CheckRequestId(req.request_id()));
  ASSIGN_OR_RETURN(v1::Activity a, NewActivity(req.activity()));
  if (!Oversees(c, a.region_code())) return OutOfScope(c, a.region_code());
  a.set_organiser_id(c.person_id);
  const RequestKey rk{req.request_id(), RequestFingerprint("CreateActivity", req)};
  return store_->CreateActivity(rk, std::move(a), clock_->Now());
}

absl::StatusOr<v1::Activity> Volunteers::GetActivity(const v1::GetActivityRequest& req,
                                                     const Caller& c) {
  RETURN_IF_ERROR(RequireIdentity(c));
  RETURN_IF_ERROR(CheckId("id", req.id()));
  return store_->GetActivity(req.id());
}

absl::StatusOr<v1::ListActivitiesResponse> Volunteers::ListActivities(
    const v1::ListActivitiesRequest& req, const Caller& c) {
  RETURN_IF_ERROR(RequireIdentity(c));
  ActivityFilter filter;
  if (!req.region_prefix().empty()) {
    RETURN_IF_ERROR(CheckRegionCode("region_prefix", req.region_prefix()));
    filter.region_prefix = req.region_prefix();
  }
  if (req.has_starts_after()) {
    RETURN_IF_ERROR(CheckTimestamp("starts_after", req.starts_after()));
    filter.starts_after = FromTimestamp(req.starts_after());
  }
  if (req.has_starts_before()) {
    RETURN_IF_ERROR(CheckTimestamp("starts_before", req.starts_before()));
    filter.starts_before = FromTimestamp(req.starts_before());
  }
  if (filter.starts_after > filter.starts_before) {
    return InvalidField("starts_after", "must not be later than starts_before");
  }
  ASSIGN_OR_RETURN(const int page_size,
                   PageSize("page_size", req.page_size(), kDefaultPageSize, kMaxPageSize));
  ASSIGN_OR_RETURN(auto page, store_->ListActivities(filter, page_size, req.page_token()));
  v1::ListActivitiesResponse out;
  for (v1::Activity& a : page.first) *out.add_activities() = std::move(a);
  out.set_next_page_token(std::move(page.second));
  return out;
}

absl::StatusOr<v1::SignUpResponse> Volunteers::SignUp(const v1::SignUpRequest& req,
                                                      const Caller& c) {
  return ChangeParticipation("SignUp", req, c, /*self_allowed=*/true, &VolunteerStore::SignUp);
}

absl::StatusOr<v1::SignUpResponse> Volunteers::CancelSignUp(const v1::CancelSignUpRequest& req,
                                                            const Caller& c) {
  return ChangeParticipation("CancelSignUp", req, c, /*self_allowed=*/true,
                             &VolunteerStore::CancelSignUp);
}

absl::StatusOr<v1::SignUpResponse> Volunteers::CheckIn(const v1::CheckInRequest& req,
                                                       const Caller& c) {
  return ChangeParticipation("CheckIn", req, c, /*self_allowed=*/true, &VolunteerStore::CheckIn);
}

absl::StatusOr<v1::SignUpResponse> Volunteers::CheckOut(const v1::CheckOutRequest& req,
                                                        const Caller& c) {
  return ChangeParticipation("CheckOut", req, c, /*self_allowed=*/false, &VolunteerStore::CheckOut);
}

// ---------------------------------------------------------------------------------------
// Service record and recognition

absl::StatusOr<v1::ServiceRecord> Volunteers::GetServiceRecord(
    const v1::GetServiceRecordRequest& req, const Caller& c) {
  RETURN_IF_ERROR(RequireIdentity(c));
  RETURN_IF_ERROR(CheckId("volunteer_id", req.volunteer_id()));
  ASSIGN_OR_RETURN(const int page_size,
                   PageSize("page_size", req.page_size(), kDefaultPageSize, kMaxPageSize));
  RETURN_IF_ERROR(MayActOnVolunteer(c, req.volunteer_id()));
  return store_->GetServiceRecord(req.volunteer_id(), page_size, req.page_token());
}

absl::StatusOr<v1::ListLeaderboardResponse> Volunteers::ListLeaderboard(
    const v1::ListLeaderboardRequest& req, const Caller& c) {
  RETURN_IF_ERROR(RequireIdentity(c));
  RETURN_IF_ERROR(CheckRegionCode("region_code", req.region_code()));
  if (!v1::LeaderboardPeriod_IsValid(req.period())) return InvalidField("period", "unknown period");
  ASSIGN_OR_RETURN(const int limit,
                   PageSize("limit", req.limit(), kDefaultLeaderboardLimit, kMaxLeaderboardLimit));
  absl::Time at = clock_->Now();
  if (req.has_at()) {
    RETURN_IF_ERROR(CheckTimestamp("at", req.at()));
    at = FromTimestamp(req.at());
  }
  v1::ListLeaderboardResponse out;
  out.set_period_key(PeriodKey(req.period(), at));
  ASSIGN_OR_RETURN(std::vector<v1::LeaderboardEntry> entries,
                   store_->Leaderboard(req.region_code(), out.period_key(), limit));
  for (v1::LeaderboardEntry& e : entries) *out.add_entries() = std::move(e);
  return out;
}

}  // namespace gridloop::dispatch
