#ifndef GRIDLOOP_SERVICES_DISPATCH_TESTING_MOCK_VOLUNTEER_STORE_H_
#define GRIDLOOP_SERVICES_DISPATCH_TESTING_MOCK_VOLUNTEER_STORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gridloop/v1/dispatch.pb.h"
#include "services/dispatch/volunteer_store.h"

namespace gridloop::dispatch {

// A gmock VolunteerStore for unit tests of the domain above it. Wrap it in StrictMock to
// prove that a refused request never reaches the store.
class MockVolunteerStore : public VolunteerStore {
 public:
  using VolunteerPage = std::pair<std::vector<v1::Volunteer>, std::string>;
  using ActivityPage = std::pair<std::vector<v1::Activity>, std::string>;
  using IdPage = std::pair<std::vector<std::string>, std::string>;

  MOCK_METHOD(absl::StatusOr<v1::Volunteer>, Register,
              (const RequestKey& rk, v1::Volunteer v, absl::Time now), (override));
  MOCK_METHOD(absl::StatusOr<v1::Volunteer>, Get, (absl::string_view id), (override));
  MOCK_METHOD(absl::StatusOr<std::vector<v1::Volunteer>>, GetMany,
              (const std::vector<std::string>& ids), (override));
  MOCK_METHOD(absl::StatusOr<v1::Volunteer>, Update,
              (const RequestKey& rk, const v1::Volunteer& v, int64_t expected_version,
               absl::Time now),
              (override));
  MOCK_METHOD(absl::StatusOr<v1::Volunteer>, Deactivate,
              (const RequestKey& rk, absl::string_view id, absl::string_view reason,
               absl::Time now),
              (override));
  MOCK_METHOD(absl::StatusOr<VolunteerPage>, List,
              (const VolunteerFilter& filter, int page_size, absl::string_view page_token),
              (override));
  MOCK_METHOD(absl::Status, ForEach, (const std::function<void(const v1::Volunteer&)>& fn),
              (override));
  MOCK_METHOD(absl::StatusOr<VolunteerChanges>, ChangesSince, (absl::string_view cursor, int max),
              (override));

  MOCK_METHOD(absl::StatusOr<v1::Activity>, CreateActivity,
              (const RequestKey& rk, v1::Activity a, absl::Time now), (override));
  MOCK_METHOD(absl::StatusOr<v1::Activity>, GetActivity, (absl::string_view id), (override));
  MOCK_METHOD(absl::StatusOr<ActivityPage>, ListActivities,
              (const ActivityFilter& filter, int page_size, absl::string_view page_token),
              (override));
  MOCK_METHOD(absl::StatusOr<v1::SignUpResponse>, SignUp,
              (const RequestKey& rk, absl::string_view activity_id, absl::string_view volunteer_id,
               absl::Time now),
              (override));
  MOCK_METHOD(absl::StatusOr<v1::SignUpResponse>, CancelSignUp,
              (const RequestKey& rk, absl::string_view activity_id, absl::string_view volunteer_id,
               absl::Time now),
              (override));
  MOCK_METHOD(absl::StatusOr<v1::SignUpResponse>, CheckIn,
              (const RequestKey& rk, absl::string_view activity_id, absl::string_view volunteer_id,
               absl::Time now),
              (override));
  MOCK_METHOD(absl::StatusOr<v1::SignUpResponse>, CheckOut,
              (const RequestKey& rk, absl::string_view activity_id, absl::string_view volunteer_id,
               absl::Time now),
              (override));

  MOCK_METHOD(absl::StatusOr<bool>, Credit,
              (absl::string_view volunteer_id, const v1::CreditEntry& entry), (override));
  MOCK_METHOD(absl::Status, RecordOfferOutcome,
              (absl::string_view volunteer_id, absl::string_view offer_id, bool declined),
              (override));
  MOCK_METHOD(absl::StatusOr<v1::ServiceRecord>, GetServiceRecord,
              (absl::string_view volunteer_id, int page_size, absl::string_view page_token),
              (override));
  MOCK_METHOD(absl::StatusOr<std::vector<v1::LeaderboardEntry>>, Leaderboard,
              (absl::string_view region_code, absl::string_view period_key, int limit), (override));

  MOCK_METHOD(absl::Status, AddTask,
              (absl::string_view assignee_key, absl::string_view incident_id, absl::Time at,
               absl::Time forget_before),
              (override));
  MOCK_METHOD(absl::Status, EndTask,
              (absl::string_view assignee_key, absl::string_view incident_id), (override));
  MOCK_METHOD(absl::StatusOr<std::vector<Load>>, Loads,
              (const std::vector<std::string>& assignee_keys, absl::Time since), (override));

  MOCK_METHOD(absl::Status, IndexOffer,
              (absl::string_view volunteer_id, absl::string_view offer_id, absl::Time at),
              (override));
  MOCK_METHOD(absl::StatusOr<IdPage>, OfferIds,
              (absl::string_view volunteer_id, int page_size, absl::string_view page_token),
              (override));
};

}  // namespace gridloop::dispatch

#endif  // GRIDLOOP_SERVICES_DISPATCH_TESTING_MOCK_VOLUNTEER_STORE_H_
