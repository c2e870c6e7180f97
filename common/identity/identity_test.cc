#include "common/identity/identity.h"

#include <grpcpp/support/string_ref.h>

#include <map>

#include "common/identity/identity_interceptor.h"
#include "gtest/gtest.h"

namespace gridloop {
namespace {

using Metadata = std::multimap<grpc::string_ref, grpc::string_ref>;

TEST(RoleNames, EveryRoleRoundTripsThroughItsName) {
  for (Role role :
       {Role::kAnonymous, Role::kResident, Role::kGridWorker, Role::kGridLeader, Role::kSupervisor,
        Role::kVolunteer, Role::kDepartment, Role::kOperator, Role::kSystem}) {
    EXPECT_EQ(ParseRole(RoleName(role)), role) << RoleName(role);
  }
  EXPECT_EQ(RoleName(Role::kGridWorker), "grid_worker");
}

TEST(RoleNames, UnknownOrDifferentlySpelledNamesAreRejected) {
  EXPECT_EQ(ParseRole("mayor"), std::nullopt);
  EXPECT_EQ(ParseRole("GridWorker"), std::nullopt);
  EXPECT_EQ(ParseRole(""), std::nullopt);
}

TEST(CallerFromMetadata, NoHeadersIsAnonymous) {
  Caller caller = CallerFromMetadata(Metadata{});
  EXPECT_TRUE(caller.anonymous());
  EXPECT_EQ(caller.person_id, "");
}

TEST(CallerFromMetadata, HeadersBecomeTheCaller) {
  Metadata md = {{kPersonHeader, "p-17"}, {kRoleHeader, "grid_leader"}, {kRegionHeader, "3301"}};
  Caller caller = CallerFromMetadata(md);
  EXPECT_EQ(caller.role, Role::kGridLeader);
  EXPECT_EQ(caller.person_id, "p-17");
  EXPECT_EQ(caller.region_scope, "3301");
  EXPECT_FALSE(caller.anonymous());
}

TEST(CallerFromMetadata, UnknownRoleIsAnonymousAndDropsThePerson) {
  Metadata md = {{kPersonHeader, "p-17"}, {kRoleHeader, "mayor"}};
  Caller caller = CallerFromMetadata(md);
  EXPECT_TRUE(caller.anonymous());
  EXPECT_EQ(caller.person_id, "");
}

TEST(CallerFromMetadata, PersonWithoutRoleIsAnonymous) {
  Metadata md = {{kPersonHeader, "p-17"}};
  EXPECT_TRUE(CallerFromMetadata(md).anonymous());
}

TEST(RegionScope, ARegionLiesWithinItsAncestorsOnSegmentBoundariesOnly) {
  EXPECT_TRUE(RegionWithin("3301.06.003", "3301.06"));
  EXPECT_TRUE(RegionWithin("3301.06", "3301.06"));
  EXPECT_FALSE(RegionWithin("3301.061", "3301.06"));
  EXPECT_FALSE(RegionWithin("3301", "3301.06"));
  EXPECT_TRUE(RegionWithin("3301", ""));
}

TEST(RegionScope, ACallerWithoutAScopeActsNowhere) {
  EXPECT_TRUE((Caller{"w", Role::kGridWorker, "3301.06"}).ActsWithin("3301.06.003.001"));
  EXPECT_FALSE((Caller{"w", Role::kGridWorker, "3301.06"}).ActsWithin("3301.07"));
  EXPECT_FALSE((Caller{"w", Role::kGridWorker, ""}).ActsWithin("3301"));
}

}  // namespace
}  // namespace gridloop
