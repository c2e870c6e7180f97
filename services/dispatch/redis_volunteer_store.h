#ifndef GRIDLOOP_SERVICES_DISPATCH_REDIS_VOLUNTEER_STORE_H_
#define GRIDLOOP_SERVICES_DISPATCH_REDIS_VOLUNTEER_STORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/redis/redis_client.h"
#include "gridloop/v1/dispatch.pb.h"
#include "services/dispatch/volunteer_store.h"

namespace gridloop::dispatch {

// VolunteerStore on Redis. Every key shares the hash tag "dsp:{vol}:" (one Cluster slot),
// so each change (a record, its indexes, the totals, the leaderboards, the outbox event
// and the request record) is one Lua script; the key layout is described at the top of
// redis_volunteer_store.cc. Thread-safe (the client is a pool); every call blocks.
//
// Beyond the port's contract:
//  - Get and GetMany carry totals, and so do the volunteers returned by Register, Update,
//    Deactivate and List; ForEach does not (it feeds the geo index, which has no use for
//    them).
//  - ForEach walks the region index without a snapshot: a volunteer that moves region
//    meanwhile may be seen twice or not at all. Take ChangesSince("") before the walk and
//    apply what follows it afterwards.
//  - ChangesSince cannot tell a cursor at the newest entry a trim removed from an older
//    one, so that cursor gets reset=true as well (a reload that was not strictly needed).
//  - List orders by region index member "<region code>.|<id>": a region's sub-regions come
//    before the volunteers registered directly in it ('|' sorts after digits). It scans at
//    most a few thousand index entries per call; a page cut short by that limit has fewer
//    than page_size volunteers (possibly none) and a token to continue.
//    ListActivities likewise.
//  - A page_size of 0 or less means 50; more than 1000 means 1000.
//  - SignUp after a cancelled sign-up signs up anew (at the end of the waitlist if full).
//  - CancelSignUp of a cancelled sign-up returns it unchanged.
//  - RecordOfferOutcome is NotFound for an unknown volunteer.
//  - A Leaderboard entry's hours are those credited in that region and period.
class RedisVolunteerStore final : public VolunteerStore {
 public:
  // HOURS_CREDITED events: field "k" the volunteer id, "v" the DispatchEvent bytes.
  static constexpr char kOutboxStream[] = "dsp:{vol}:outbox";
  // The change log ChangesSince reads (field "id").
  static constexpr char kChangeLog[] = "dsp:{vol}:changes";

  // Told kOutboxStream on the calling thread after a write that appended to it, so the
  // relay looks at once.
  using OnOutboxWrite = std::function<void(const std::string& stream)>;

  // `redis` must outlive the store. `on_outbox_write` may be empty.
  explicit RedisVolunteerStore(redis::Client* redis, OnOutboxWrite on_outbox_write = nullptr);

  absl::StatusOr<v1::Volunteer> Register(const RequestKey& rk, v1::Volunteer v,
                                         absl::Time now) override;
  absl::StatusOr<v1::Volunteer> Get(absl::string_view id) override;
  absl::StatusOr<std::vector<v1::Volunteer>> GetMany(const std::vector<std::string>& ids) override;
  absl::StatusOr<v1::Volunteer> Update(const RequestKey& rk, const v1::Volunteer& v,
                                       int64_t expected_version, absl::Time now) override;
  absl::StatusOr<v1::Volunteer> Deactivate(const RequestKey& rk, absl::string_view id,
                                           absl::string_view reason, absl::Time now) override;
  absl::StatusOr<std::pair<std::vector<v1::Volunteer>, std::string>> List(
      const VolunteerFilter& filter, int page_size, absl::string_view page_token) override;
  absl::Status ForEach(const std::function<void(const v1::Volunteer&)>& fn) override;
  absl::StatusOr<VolunteerChanges> ChangesSince(absl::string_view cursor, int max) override;

  absl::StatusOr<v1::Activity> CreateActivity(const RequestKey& rk, v1::Activity a,
                                              absl::Time now) override;
  absl::StatusOr<v1::Activity> GetActivity(absl::string_view id) override;
  absl::StatusOr<std::pair<std::vector<v1::Activity>, std::string>> ListActivities(
      const ActivityFilter& filter, int page_size, absl::string_view page_token) override;
  absl::StatusOr<v1::SignUpResponse> SignUp(const RequestKey& rk, absl::string_view activity_id,
                                            absl::string_view volunteer_id,
                                            absl::Time now) override;
  absl::StatusOr<v1::SignUpResponse> CancelSignUp(const RequestKey& rk,
                                                  absl::string_view activity_id,
                                                  absl::string_view volunteer_id,
                                                  absl::Time now) override;
  absl::StatusOr<v1::SignUpResponse> CheckIn(const RequestKey& rk, absl::string_view activity_id,
                                             absl::string_view volunteer_id,
                                             absl::Time now) override;
  absl::StatusOr<v1::SignUpResponse> CheckOut(const RequestKey& rk, absl::string_view activity_id,
                                              absl::string_view volunteer_id,
                                              absl::Time now) override;

  absl::StatusOr<bool> Credit(absl::string_view volunteer_id,
                              const v1::CreditEntry& entry) override;
  absl::Status RecordOfferOutcome(absl::string_view volunteer_id, absl::string_view offer_id,
                                  bool declined) override;
  absl::StatusOr<v1::ServiceRecord> GetServiceRecord(absl::string_view volunteer_id, int page_size,
                                                     absl::string_view page_token) override;
  absl::StatusOr<std::vector<v1::LeaderboardEntry>> Leaderboard(absl::string_view region_code,
                                                                absl::string_view period_key,
                                                                int limit) override;

  absl::Status AddTask(absl::string_view assignee_key, absl::string_view incident_id, absl::Time at,
                       absl::Time forget_before) override;
  absl::Status EndTask(absl::string_view assignee_key, absl::string_view incident_id) override;
  absl::StatusOr<std::vector<Load>> Loads(const std::vector<std::string>& assignee_keys,
                                          absl::Time since) override;

  absl::Status IndexOffer(absl::string_view volunteer_id, absl::string_view offer_id,
                          absl::Time at) override;
  absl::StatusOr<std::pair<std::vector<std::string>, std::string>> OfferIds(
      absl::string_view volunteer_id, int page_size, absl::string_view page_token) override;

 private:
  // A volunteer as stored: the record (without totals) and its version.
  struct Stored {
    v1::Volunteer volunteer;
    std::string version;
  };
  absl::StatusOr<Stored> Read(absl::string_view id);
  void Notify() const;

  redis::Client* const redis_;
  const OnOutboxWrite on_outbox_write_;
};

}  // namespace gridloop::dispatch

#endif  // GRIDLOOP_SERVICES_DISPATCH_REDIS_VOLUNTEER_STORE_H_
