#ifndef GRIDLOOP_SERVICES_DISPATCH_VOLUNTEER_STORE_H_
#define GRIDLOOP_SERVICES_DISPATCH_VOLUNTEER_STORE_H_

// The volunteer side of dispatch's keyspace: volunteers, activity days, the service-hours
// ledger with its totals and leaderboards, each assignee's load, and each volunteer's
// offer index. The incident side (jobs, offers, timers) is DispatchStore's.

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/requests/fingerprint.h"
#include "gridloop/v1/dispatch.pb.h"

namespace gridloop::dispatch {

// A mutating call's idempotency key: the caller's request_id and a fingerprint of what it
// asked (RequestFingerprint, common/requests/fingerprint.h). A repeat with the same fingerprint
// returns the first result and changes nothing; with another fingerprint it is INVALID_ARGUMENT
// naming request_id. Kept 48 hours.
struct RequestKey {
  std::string id;
  std::string fingerprint;
};

// The period keys a credit at `at` counts toward, in the city's local time (UTC+8):
// {"2026-11", "2026-Q4", "2026", "all"}.
std::vector<std::string> PeriodKeysAt(absl::Time at);
// The key of `period` containing `at` ("all" for ALL_TIME and UNSPECIFIED).
std::string PeriodKey(v1::LeaderboardPeriod period, absl::Time at);

// Every region code a record in `region_code` counts toward: itself and each prefix on a
// '.' boundary ("3301.06.003" -> "3301", "3301.06", "3301.06.003").
std::vector<std::string> RegionAndAncestors(absl::string_view region_code);

// An assignee's load, for the policy.
struct Load {
  int active = 0;  // incidents assigned to them and not yet closed, cancelled or moved on
  int recent = 0;  // assignments at or after the `since` passed to Loads()
};

struct VolunteerFilter {
  std::string region_prefix;  // on a '.' boundary; "" = all
  std::string skill;          // "" = any
  bool include_inactive = false;
};

struct ActivityFilter {
  std::string region_prefix;
  absl::Time starts_after = absl::InfinitePast();     // inclusive
  absl::Time starts_before = absl::InfiniteFuture();  // exclusive
};

// Volunteers that changed since a cursor, for replicas keeping their index in step.
struct VolunteerChanges {
  std::vector<std::string> ids;  // changed (created, updated, deactivated), oldest first
  std::string cursor;            // pass back to get what follows
  // The cursor was older than what the change log still holds: reload everything.
  bool reset = false;
};

// Thread-safe. Errors shared by all calls: Unavailable when Redis cannot be reached
// (retry may help), Internal for a corrupt record. Callers validate fields; the store
// enforces existence, uniqueness, versions and lifecycle rules.
class VolunteerStore {
 public:
  virtual ~VolunteerStore() = default;

  // ---- Volunteers
  // Stores `v` with a new id ("v" + 12 base-32 characters), version 1, active, and
  // registered_at/updated_at = now. AlreadyExists when v.resident_id (if set) is already
  // an active volunteer's.
  virtual absl::StatusOr<v1::Volunteer> Register(const RequestKey& rk, v1::Volunteer v,
                                                 absl::Time now) = 0;
  // With totals. NotFound.
  virtual absl::StatusOr<v1::Volunteer> Get(absl::string_view id) = 0;
  // Many at once, in order; a missing id yields a Volunteer with an empty id.
  virtual absl::StatusOr<std::vector<v1::Volunteer>> GetMany(
      const std::vector<std::string>& ids) = 0;
  // Replaces the profile fields of v.id (name, resident_id, region_code, location, skills,
  // availability, party_member, service_unit, max_concurrent_tasks, phone); version+1.
  // NotFound; Aborted when expected_version (0 = any) is stale; FailedPrecondition when
  // deactivated; AlreadyExists when the new resident_id is another volunteer's.
  virtual absl::StatusOr<v1::Volunteer> Update(const RequestKey& rk, const v1::Volunteer& v,
                                               int64_t expected_version, absl::Time now) = 0;
  // active=false with the reason; version+1. NotFound; a second call returns the record.
  virtual absl::StatusOr<v1::Volunteer> Deactivate(const RequestKey& rk, absl::string_view id,
                                                   absl::string_view reason, absl::Time now) = 0;
  // By region code then id. page_token is opaque.
  virtual absl::StatusOr<std::pair<std::vector<v1::Volunteer>, std::string>> List(
      const VolunteerFilter& filter, int page_size, absl::string_view page_token) = 0;
  // Calls `fn` for every volunteer, active or not, reading a few thousand per round trip
  // (the start-up load of the geo index).
  virtual absl::Status ForEach(const std::function<void(const v1::Volunteer&)>& fn) = 0;
  // The change log after `cursor` ("" = its current end, with no ids), at most `max`.
  virtual absl::StatusOr<VolunteerChanges> ChangesSince(absl::string_view cursor, int max) = 0;

  // ---- Activity days
  // A new id ("a" + 12 base-32 characters), confirmed = waitlisted = 0.
  virtual absl::StatusOr<v1::Activity> CreateActivity(const RequestKey& rk, v1::Activity a,
                                                      absl::Time now) = 0;
  virtual absl::StatusOr<v1::Activity> GetActivity(absl::string_view id) = 0;
  // By starts_at, then id.
  virtual absl::StatusOr<std::pair<std::vector<v1::Activity>, std::string>> ListActivities(
      const ActivityFilter& filter, int page_size, absl::string_view page_token) = 0;
  // CONFIRMED while confirmed < capacity, else WAITLISTED (with its position); atomic, so
  // concurrent sign-ups never exceed capacity. Signing up again returns the current
  // participation unchanged. NotFound (activity or volunteer); FailedPrecondition when the
  // activity is cancelled or has ended (now >= ends_at) or the volunteer is inactive.
  virtual absl::StatusOr<v1::SignUpResponse> SignUp(const RequestKey& rk,
                                                    absl::string_view activity_id,
                                                    absl::string_view volunteer_id,
                                                    absl::Time now) = 0;
  // CANCELLED; a confirmed place goes to the first on the waitlist (promoted_volunteer_id).
  // FailedPrecondition after check-in; NotFound when not signed up.
  virtual absl::StatusOr<v1::SignUpResponse> CancelSignUp(const RequestKey& rk,
                                                          absl::string_view activity_id,
                                                          absl::string_view volunteer_id,
                                                          absl::Time now) = 0;
  // CONFIRMED -> CHECKED_IN. FailedPrecondition otherwise (waitlisted, cancelled, not yet
  // within an hour before starts_at, already ended).
  virtual absl::StatusOr<v1::SignUpResponse> CheckIn(const RequestKey& rk,
                                                     absl::string_view activity_id,
                                                     absl::string_view volunteer_id,
                                                     absl::Time now) = 0;
  // CHECKED_IN -> CHECKED_OUT, crediting hours = (min(now, ends_at) - max(checked_in_at,
  // starts_at)), at least 0, and points = round(hours x points_per_hour), in the same
  // step as the ledger entry "activity:<activity id>" (see Credit).
  virtual absl::StatusOr<v1::SignUpResponse> CheckOut(const RequestKey& rk,
                                                      absl::string_view activity_id,
                                                      absl::string_view volunteer_id,
                                                      absl::Time now) = 0;

  // ---- The service-hours ledger
  // Appends `entry` to the volunteer's ledger unless an entry with entry.id is already
  // there, and in the same atomic step adds it to the totals (hours, points; for an
  // INCIDENT entry also completed_tasks and, when entry.satisfaction is set, the
  // satisfaction average), to the leaderboards of every region of the volunteer's
  // region_code and every period of entry.at, and writes a HOURS_CREDITED dispatch event
  // to the outbox. True if credited, false if it was already there. NotFound.
  virtual absl::StatusOr<bool> Credit(absl::string_view volunteer_id,
                                      const v1::CreditEntry& entry) = 0;
  // Counts a declined (or expired) offer once per offer id.
  virtual absl::Status RecordOfferOutcome(absl::string_view volunteer_id,
                                          absl::string_view offer_id, bool declined) = 0;
  // Totals, and entries newest first. NotFound.
  virtual absl::StatusOr<v1::ServiceRecord> GetServiceRecord(absl::string_view volunteer_id,
                                                             int page_size,
                                                             absl::string_view page_token) = 0;
  // The top `limit` of a region and period key, by points (ties by id), with names.
  virtual absl::StatusOr<std::vector<v1::LeaderboardEntry>> Leaderboard(
      absl::string_view region_code, absl::string_view period_key, int limit) = 0;

  // ---- Load and fairness, per assignee key "<kind>:<id>" (AssigneeKey()).
  // Idempotent: the incident counts once however often it is added. Also forgets the
  // assignee's assignments before `forget_before`, so that their record stays bounded
  // where no choice ever reads it (a grid with one worker is given every incident without
  // comparing loads).
  virtual absl::Status AddTask(absl::string_view assignee_key, absl::string_view incident_id,
                               absl::Time at, absl::Time forget_before) = 0;
  virtual absl::Status EndTask(absl::string_view assignee_key, absl::string_view incident_id) = 0;
  // One Load per key, in order, in one round trip; forgets assignments before `since`.
  virtual absl::StatusOr<std::vector<Load>> Loads(const std::vector<std::string>& assignee_keys,
                                                  absl::Time since) = 0;

  // ---- Each volunteer's offers (the offers themselves are DispatchStore's).
  virtual absl::Status IndexOffer(absl::string_view volunteer_id, absl::string_view offer_id,
                                  absl::Time at) = 0;
  // Offer ids, newest first.
  virtual absl::StatusOr<std::pair<std::vector<std::string>, std::string>> OfferIds(
      absl::string_view volunteer_id, int page_size, absl::string_view page_token) = 0;
};

// "grid_worker:<id>", "volunteer:<id>", "department:<code>".
std::string AssigneeKey(v1::AssigneeKind kind, absl::string_view id);

// `prefix` followed by 12 random base-32 characters (Crockford, lower case).
std::string NewId(absl::string_view prefix);

// A stable hash of `s` into [0, buckets): the same on every replica and every run.
int StableBucket(absl::string_view s, int buckets);

}  // namespace gridloop::dispatch

#endif  // GRIDLOOP_SERVICES_DISPATCH_VOLUNTEER_STORE_H_
