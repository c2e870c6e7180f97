#include "services/dispatch/volunteers.h"

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/dispatch/testing/mock_volunteer_store.h"

namespace gridloop::dispatch {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::Return;
using ::testing::SaveArg;
using ::testing::StrictMock;

constexpr char kGrid[] = "3301.06.003";
constexpr char kScope[] = "3301.06";
constexpr char kOtherGrid[] = "3301.07.001";
constexpr char kPhone[] = "13800138000";
constexpr char kMaskedPhone[] = "138****8000";

Caller Anonymous() { return Caller{}; }
Caller System() { return Caller{"dispatch", Role::kSystem, ""}; }
Caller Staff(Role role = Role::kGridWorker, std::string scope = kScope) {
  return Caller{"w-1", role, std::move(scope)};
}
Caller VolunteerCaller(std::string id) { return Caller{std::move(id), Role::kVolunteer, ""}; }
Caller ResidentCaller(std::string id) { return Caller{std::move(id), Role::kResident, ""}; }
Caller Department() { return Caller{"d-1", Role::kDepartment, kScope}; }

// Matches a string_view argument. The expected text is copied: a matcher outlives the
// temporaries the expectations are written with.
::testing::Matcher<absl::string_view> Str(absl::string_view expected) {
  return ::testing::Eq(std::string(expected));
}

MATCHER_P(InvalidAt, field, absl::StrCat("is INVALID_ARGUMENT naming ", field)) {
  const absl::Status& s = arg;
  return s.code() == absl::StatusCode::kInvalidArgument &&
         absl::StartsWith(s.message(), std::string(field));
}
MATCHER(IsDenied, "is PERMISSION_DENIED") {
  return arg.code() == absl::StatusCode::kPermissionDenied;
}
MATCHER(IsUnauthenticated, "is UNAUTHENTICATED") {
  return arg.code() == absl::StatusCode::kUnauthenticated;
}

v1::Volunteer ValidVolunteer() {
  v1::Volunteer v;
  v.set_name("王芳");
  v.set_region_code(kGrid);
  v.mutable_location()->set_latitude(30.274);
  v.mutable_location()->set_longitude(120.155);
  v.add_skills("medical");
  v.add_skills("repair");
  v1::AvailabilityWindow* w = v.add_availability();
  w->set_weekday(6);
  w->set_start_minute(9 * 60);
  w->set_duration_minutes(180);
  v.set_phone(kPhone);
  return v;
}

// What the store hands back for the volunteer "v-1".
v1::Volunteer Stored(absl::string_view region = kGrid) {
  v1::Volunteer v = ValidVolunteer();
  v.set_id("v-1");
  v.set_region_code(std::string(region));
  v.set_version(3);
  v.set_active(true);
  v.set_max_concurrent_tasks(1);
  return v;
}

v1::Activity StoredActivity(absl::string_view region = kGrid) {
  v1::Activity a;
  a.set_id("a-1");
  a.set_title("社区义诊");
  a.set_region_code(std::string(region));
  a.set_capacity(20);
  return a;
}

v1::SignUpResponse Confirmed() {
  v1::SignUpResponse r;
  r.set_status(v1::SIGN_UP_STATUS_CONFIRMED);
  r.mutable_participation()->set_activity_id("a-1");
  r.mutable_participation()->set_volunteer_id("v-1");
  return r;
}

// Stand-ins for what the store does on success, enough to tell the result was passed on.
v1::Volunteer RegisteredAs(const RequestKey& /*rk*/, v1::Volunteer v, absl::Time /*now*/) {
  v.set_id("v-new");
  v.set_version(1);
  v.set_active(true);
  return v;
}
v1::Volunteer UpdatedAs(const RequestKey& /*rk*/, const v1::Volunteer& v, int64_t /*expected*/,
                        absl::Time /*now*/) {
  v1::Volunteer out = v;
  out.set_version(4);
  return out;
}
v1::Activity CreatedAs(const RequestKey& /*rk*/, v1::Activity a, absl::Time /*now*/) {
  a.set_id("a-new");
  return a;
}

class VolunteersTest : public ::testing::Test {
 protected:
  VolunteersTest() : catalog_(SkillCatalog::Default()), volunteers_(&store_, &catalog_, &clock_) {}

  absl::Time Now() const { return clock_.Now(); }

  v1::RegisterVolunteerRequest RegisterRequest(v1::Volunteer v = ValidVolunteer()) const {
    v1::RegisterVolunteerRequest req;
    req.set_request_id("reg-1");
    *req.mutable_volunteer() = std::move(v);
    return req;
  }

  v1::UpdateVolunteerRequest UpdateRequest(v1::Volunteer v = ValidVolunteer()) const {
    v1::UpdateVolunteerRequest req;
    req.set_request_id("upd-1");
    v.set_id("v-1");
    *req.mutable_volunteer() = std::move(v);
    return req;
  }

  v1::DeactivateVolunteerRequest DeactivateRequest() const {
    v1::DeactivateVolunteerRequest req;
    req.set_request_id("deact-1");
    req.set_id("v-1");
    req.set_reason("搬离本社区");
    return req;
  }

  v1::Activity ValidActivity() const {
    v1::Activity a;
    a.set_title("社区义诊");
    a.set_region_code(kGrid);
    *a.mutable_starts_at() = ToTimestamp(Now() + absl::Hours(24));
    *a.mutable_ends_at() = ToTimestamp(Now() + absl::Hours(27));
    a.set_place("社区服务中心");
    a.add_skills("medical");
    a.set_capacity(20);
    a.set_description("免费测血压\n请带医保卡");
    return a;
  }

  v1::CreateActivityRequest CreateActivityRequest(v1::Activity a) const {
    v1::CreateActivityRequest req;
    req.set_request_id("act-1");
    *req.mutable_activity() = std::move(a);
    return req;
  }
  v1::CreateActivityRequest CreateActivityRequest() const {
    return CreateActivityRequest(ValidActivity());
  }

  template <typename Req>
  static Req Participation(absl::string_view request_id = "p-1") {
    Req req;
    req.set_request_id(std::string(request_id));
    req.set_activity_id("a-1");
    req.set_volunteer_id("v-1");
    return req;
  }

  void ExpectRegister() { EXPECT_CALL(store_, Register(_, _, Now())).WillOnce(RegisteredAs); }
  void ExpectGet(const v1::Volunteer& v) {
    EXPECT_CALL(store_, Get(Str(v.id()))).WillOnce(Return(v));
  }
  void ExpectGetActivity(const v1::Activity& a) {
    EXPECT_CALL(store_, GetActivity(Str(a.id()))).WillOnce(Return(a));
  }

  StrictMock<MockVolunteerStore> store_;
  SkillCatalog catalog_;
  FakeClock clock_;
  Volunteers volunteers_;
};

// ---------------------------------------------------------------------------------------
// Every RPC

TEST_F(VolunteersTest, AnonymousCallersAreRefusedBeforeAnythingElse) {
  const Caller anon = Anonymous();
  // Empty requests: the identity is checked before a single field.
  EXPECT_THAT(volunteers_.RegisterVolunteer({}, anon).status(), IsUnauthenticated());
  EXPECT_THAT(volunteers_.GetVolunteer({}, anon).status(), IsUnauthenticated());
  EXPECT_THAT(volunteers_.UpdateVolunteer({}, anon).status(), IsUnauthenticated());
  EXPECT_THAT(volunteers_.DeactivateVolunteer({}, anon).status(), IsUnauthenticated());
  EXPECT_THAT(volunteers_.ListVolunteers({}, anon).status(), IsUnauthenticated());
  EXPECT_THAT(volunteers_.ListSkills({}, anon).status(), IsUnauthenticated());
  EXPECT_THAT(volunteers_.CreateActivity({}, anon).status(), IsUnauthenticated());
  EXPECT_THAT(volunteers_.GetActivity({}, anon).status(), IsUnauthenticated());
  EXPECT_THAT(volunteers_.ListActivities({}, anon).status(), IsUnauthenticated());
  EXPECT_THAT(volunteers_.SignUp({}, anon).status(), IsUnauthenticated());
  EXPECT_THAT(volunteers_.CancelSignUp({}, anon).status(), IsUnauthenticated());
  EXPECT_THAT(volunteers_.CheckIn({}, anon).status(), IsUnauthenticated());
  EXPECT_THAT(volunteers_.CheckOut({}, anon).status(), IsUnauthenticated());
  EXPECT_THAT(volunteers_.GetServiceRecord({}, anon).status(), IsUnauthenticated());
  EXPECT_THAT(volunteers_.ListLeaderboard({}, anon).status(), IsUnauthenticated());

  // And so are well-formed ones.
  EXPECT_THAT(volunteers_.RegisterVolunteer(RegisterRequest(), anon).status(), IsUnauthenticated());
  EXPECT_THAT(volunteers_.SignUp(Participation<v1::SignUpRequest>(), anon).status(),
              IsUnauthenticated());
}

// One mutating RPC, called with a well-formed request carrying `request_id` by the system.
struct MutatingRpc {
  std::string name;
  std::function<absl::Status(Volunteers&, const std::string& request_id)> call;
};

TEST_F(VolunteersTest, EveryMutatingRpcChecksTheRequestId) {
  const std::vector<MutatingRpc> rpcs = {
      {"RegisterVolunteer",
       [this](Volunteers& vs, const std::string& rid) {
         auto req = RegisterRequest();
         req.set_request_id(rid);
         return vs.RegisterVolunteer(req, System()).status();
       }},
      {"UpdateVolunteer",
       [this](Volunteers& vs, const std::string& rid) {
         auto req = UpdateRequest();
         req.set_request_id(rid);
         return vs.UpdateVolunteer(req, System()).status();
       }},
      {"DeactivateVolunteer",
       [this](Volunteers& vs, const std::string& rid) {
         auto req = DeactivateRequest();
         req.set_request_id(rid);
         return vs.DeactivateVolunteer(req, System()).status();
       }},
      {"CreateActivity",
       [this](Volunteers& vs, const std::string& rid) {
         auto req = CreateActivityRequest();
         req.set_request_id(rid);
         return vs.CreateActivity(req, System()).status();
       }},
      {"SignUp",
       [](Volunteers& vs, const std::string& rid) {
         return vs.SignUp(Participation<v1::SignUpRequest>(rid), System()).status();
       }},
      {"CancelSignUp",
       [](Volunteers& vs, const std::string& rid) {
         return vs.CancelSignUp(Participation<v1::CancelSignUpRequest>(rid), System()).status();
       }},
      {"CheckIn",
       [](Volunteers& vs, const std::string& rid) {
         return vs.CheckIn(Participation<v1::CheckInRequest>(rid), System()).status();
       }},
      {"CheckOut",
       [](Volunteers& vs, const std::string& rid) {
         return vs.CheckOut(Participation<v1::CheckOutRequest>(rid), System()).status();
       }},
  };
  const std::vector<std::string> bad = {"",       "has space", "tab\there", std::string(129, 'r'),
                                        "请求-1", "del\x7f"};
  for (const MutatingRpc& rpc : rpcs) {
    for (const std::string& rid : bad) {
      SCOPED_TRACE(absl::StrCat(rpc.name, " request_id=\"", rid, "\""));
      EXPECT_THAT(rpc.call(volunteers_, rid), InvalidAt("request_id:"));
    }
  }
}

TEST_F(VolunteersTest, RequestIdMayBe128PrintableCharacters) {
  ExpectRegister();
  auto req = RegisterRequest();
  req.set_request_id(std::string(120, 'r') + "-_.:/~!#");
  EXPECT_TRUE(volunteers_.RegisterVolunteer(req, System()).ok());
}

TEST_F(VolunteersTest, EveryMutatingRpcKeysTheStoreByRequestIdAndFingerprint) {
  clock_.Advance(absl::Minutes(7));
  RequestKey rk;

  auto reg = RegisterRequest();
  EXPECT_CALL(store_, Register(_, _, Now())).WillOnce(DoAll(SaveArg<0>(&rk), RegisteredAs));
  ASSERT_TRUE(volunteers_.RegisterVolunteer(reg, System()).ok());
  EXPECT_EQ(rk.id, "reg-1");
  EXPECT_EQ(rk.fingerprint, RequestFingerprint("RegisterVolunteer", reg));

  auto upd = UpdateRequest();
  EXPECT_CALL(store_, Update(_, _, 0, Now())).WillOnce(DoAll(SaveArg<0>(&rk), UpdatedAs));
  ASSERT_TRUE(volunteers_.UpdateVolunteer(upd, System()).ok());
  EXPECT_EQ(rk.id, "upd-1");
  EXPECT_EQ(rk.fingerprint, RequestFingerprint("UpdateVolunteer", upd));

  auto deact = DeactivateRequest();
  EXPECT_CALL(store_, Deactivate(_, Str("v-1"), Str("搬离本社区"), Now()))
      .WillOnce(DoAll(SaveArg<0>(&rk), Return(Stored())));
  ASSERT_TRUE(volunteers_.DeactivateVolunteer(deact, System()).ok());
  EXPECT_EQ(rk.id, "deact-1");
  EXPECT_EQ(rk.fingerprint, RequestFingerprint("DeactivateVolunteer", deact));

  auto act = CreateActivityRequest();
  EXPECT_CALL(store_, CreateActivity(_, _, Now())).WillOnce(DoAll(SaveArg<0>(&rk), CreatedAs));
  ASSERT_TRUE(volunteers_.CreateActivity(act, System()).ok());
  EXPECT_EQ(rk.id, "act-1");
  EXPECT_EQ(rk.fingerprint, RequestFingerprint("CreateActivity", act));

  const auto a = Str("a-1");
  const auto v = Str("v-1");
  auto sign = Participation<v1::SignUpRequest>("s-1");
  EXPECT_CALL(store_, SignUp(_, a, v, Now())).WillOnce(DoAll(SaveArg<0>(&rk), Return(Confirmed())));
  ASSERT_TRUE(volunteers_.SignUp(sign, System()).ok());
  EXPECT_EQ(rk.id, "s-1");
  EXPECT_EQ(rk.fingerprint, RequestFingerprint("SignUp", sign));

  auto cancel = Participation<v1::CancelSignUpRequest>("c-1");
  EXPECT_CALL(store_, CancelSignUp(_, a, v, Now()))
      .WillOnce(DoAll(SaveArg<0>(&rk), Return(Confirmed())));
  ASSERT_TRUE(volunteers_.CancelSignUp(cancel, System()).ok());
  EXPECT_EQ(rk.id, "c-1");
  EXPECT_EQ(rk.fingerprint, RequestFingerprint("CancelSignUp", cancel));

  auto in = Participation<v1::CheckInRequest>("i-1");
  EXPECT_CALL(store_, CheckIn(_, a, v, Now()))
      .WillOnce(DoAll(SaveArg<0>(&rk), Return(Confirmed())));
  ASSERT_TRUE(volunteers_.CheckIn(in, System()).ok());
  EXPECT_EQ(rk.id, "i-1");
  EXPECT_EQ(rk.fingerprint, RequestFingerprint("CheckIn", in));

  auto out = Participation<v1::CheckOutRequest>("o-1");
  EXPECT_CALL(store_, CheckOut(_, a, v, Now()))
      .WillOnce(DoAll(SaveArg<0>(&rk), Return(Confirmed())));
  ASSERT_TRUE(volunteers_.CheckOut(out, System()).ok());
  EXPECT_EQ(rk.id, "o-1");
  EXPECT_EQ(rk.fingerprint, RequestFingerprint("CheckOut", out));

  // Same call, same request id, other content: another fingerprint, so the store can tell a
  // retry from a reused id.
  EXPECT_NE(RequestFingerprint("SignUp", sign), RequestFingerprint("SignUp", [&] {
              auto other = sign;
              other.set_volunteer_id("v-2");
              return other;
            }()));
}

// One RPC that takes an id field, called by the system with `id` in that field.
struct IdField {
  std::string field;
  std::function<absl::Status(Volunteers&, const std::string& id)> call;
};

TEST_F(VolunteersTest, IdFieldsAreOneTo64SafeCharacters) {
  const std::vector<IdField> fields = {
      {"id",
       [](Volunteers& vs, const std::string& id) {
         v1::GetVolunteerRequest req;
         req.set_id(id);
         return vs.GetVolunteer(req, System()).status();
       }},
      {"volunteer.id",
       [this](Volunteers& vs, const std::string& id) {
         auto req = UpdateRequest();
         req.mutable_volunteer()->set_id(id);
         return vs.UpdateVolunteer(req, System()).status();
       }},
      {"id",
       [this](Volunteers& vs, const std::string& id) {
         auto req = DeactivateRequest();
         req.set_id(id);
         return vs.DeactivateVolunteer(req, System()).status();
       }},
      {"id",
       [](Volunteers& vs, const std::string& id) {
         v1::GetActivityRequest req;
         req.set_id(id);
         return vs.GetActivity(req, System()).status();
       }},
      {"activity_id",
       [](Volunteers& vs, const std::string& id) {
         auto req = Participation<v1::SignUpRequest>();
         req.set_activity_id(id);
         return vs.SignUp(req, System()).status();
       }},
      {"volunteer_id",
       [](Volunteers& vs, const std::string& id) {
         auto req = Participation<v1::SignUpRequest>();
         req.set_volunteer_id(id);
         return vs.SignUp(req, System()).status();
       }},
      {"activity_id",
       [](Volunteers& vs, const std::string& id) {
         auto req = Participation<v1::CancelSignUpRequest>();
         req.set_activity_id(id);
         return vs.CancelSignUp(req, System()).status();
       }},
      {"volunteer_id",
       [](Volunteers& vs, const std::string& id) {
         auto req = Participation<v1::CancelSignUpRequest>();
         req.set_volunteer_id(id);
         return vs.CancelSignUp(req, System()).status();
       }},
      {"activity_id",
       [](Volunteers& vs, const std::string& id) {
         auto req = Participation<v1::CheckInRequest>();
         req.set_activity_id(id);
         return vs.CheckIn(req, System()).status();
       }},
      {"volunteer_id",
       [](Volunteers& vs, const std::string& id) {
         auto req = Participation<v1::CheckInRequest>();
         req.set_volunteer_id(id);
         return vs.CheckIn(req, System()).status();
       }},
      {"activity_id",
       [](Volunteers& vs, const std::string& id) {
         auto req = Participation<v1::CheckOutRequest>();
         req.set_activity_id(id);
         return vs.CheckOut(req, System()).status();
       }},
      {"volunteer_id",
       [](Volunteers& vs, const std::string& id) {
         auto req = Participation<v1::CheckOutRequest>();
         req.set_volunteer_id(id);
         return vs.CheckOut(req, System()).status();
       }},
      {"volunteer_id",
       [](Volunteers& vs, const std::string& id) {
         v1::GetServiceRecordRequest req;
         req.set_volunteer_id(id);
         return vs.GetServiceRecord(req, System()).status();
       }},
      {"volunteer.resident_id",
       [this](Volunteers& vs, const std::string& id) {
         auto v = ValidVolunteer();
         v.set_resident_id(id);
         return vs.RegisterVolunteer(RegisterRequest(v), System()).status();
       }},
  };
  const std::vector<std::string> bad = {"v 1",    "v/1", "v:1", std::string(65, 'v'),
                                        "志愿者", "v\n1"};
  for (const IdField& f : fields) {
    for (const std::string& id : bad) {
      SCOPED_TRACE(absl::StrCat(f.field, "=\"", id, "\""));
      EXPECT_THAT(f.call(volunteers_, id), InvalidAt(f.field + ":"));
    }
    if (f.field != "volunteer.resident_id") {  // optional; checked below
      SCOPED_TRACE(absl::StrCat(f.field, " empty"));
      EXPECT_THAT(f.call(volunteers_, ""), InvalidAt(f.field + ": required"));
    }
  }
}

TEST_F(VolunteersTest, IdsMayUseLettersDigitsUnderscoreDotAndDash) {
  const std::string id = "Vol_1.a-Z" + std::string(55, '9');
  ASSERT_EQ(id.size(), 64U);
  EXPECT_CALL(store_, Get(Str(id))).WillOnce(Return(Stored()));
  v1::GetVolunteerRequest req;
  req.set_id(id);
  EXPECT_TRUE(volunteers_.GetVolunteer(req, System()).ok());
}

// ---------------------------------------------------------------------------------------
// Volunteer profile: validation

struct ProfileCase {
  std::string name;
  std::function<void(v1::Volunteer&)> change;
  std::string field;  // the path the error must start with; "" = accepted
};

std::string Repeat(absl::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) absl::StrAppend(&out, s);
  return out;
}

std::vector<ProfileCase> ProfileCases() {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  auto window = [](int weekday, int start, int duration) {
    return [=](v1::Volunteer& v) {
      v.clear_availability();
      v1::AvailabilityWindow* w = v.add_availability();
      w->set_weekday(weekday);
      w->set_start_minute(start);
      w->set_duration_minutes(duration);
    };
  };
  auto windows = [](int n) {
    return [=](v1::Volunteer& v) {
      v.clear_availability();
      for (int i = 0; i < n; ++i) {
        v1::AvailabilityWindow* w = v.add_availability();
        w->set_weekday(i % 7 + 1);
        w->set_start_minute(i * 10);
        w->set_duration_minutes(60);
      }
    };
  };
  return {
      // name
      {"NameMissing", [](v1::Volunteer& v) { v.clear_name(); }, "volunteer.name: required"},
      {"NameBlank", [](v1::Volunteer& v) { v.set_name("   "); }, "volunteer.name: required"},
      {"Name65Characters", [](v1::Volunteer& v) { v.set_name(Repeat("张", 65)); },
       "volunteer.name:"},
      {"Name64Characters", [](v1::Volunteer& v) { v.set_name(Repeat("张", 64)); }, ""},
      {"NameNewline", [](v1::Volunteer& v) { v.set_name("王\n芳"); }, "volunteer.name:"},
      {"NameTab", [](v1::Volunteer& v) { v.set_name("王\t芳"); }, "volunteer.name:"},
      {"NameDelete", [](v1::Volunteer& v) { v.set_name("王\x7f"); }, "volunteer.name:"},
      {"NameC1Control", [](v1::Volunteer& v) { v.set_name("王\xc2\x85"); }, "volunteer.name:"},
      {"NameNotUtf8", [](v1::Volunteer& v) { v.set_name("\xff\xfe"); }, "volunteer.name:"},
      {"NameOverlongUtf8", [](v1::Volunteer& v) { v.set_name("a\xc0\xaf"); }, "volunteer.name:"},
      {"NameTruncatedUtf8", [](v1::Volunteer& v) { v.set_name("王\xe8\x8a"); }, "volunteer.name:"},
      // resident_id
      {"ResidentIdOptional", [](v1::Volunteer& v) { v.clear_resident_id(); }, ""},
      {"ResidentIdValid", [](v1::Volunteer& v) { v.set_resident_id("r-42"); }, ""},
      {"ResidentIdBad", [](v1::Volunteer& v) { v.set_resident_id("r 42"); },
       "volunteer.resident_id:"},
      // region_code
      {"RegionMissing", [](v1::Volunteer& v) { v.clear_region_code(); },
       "volunteer.region_code: required"},
      {"RegionLeadingDot", [](v1::Volunteer& v) { v.set_region_code(".3301"); },
       "volunteer.region_code:"},
      {"RegionTrailingDot", [](v1::Volunteer& v) { v.set_region_code("3301."); },
       "volunteer.region_code:"},
      {"RegionEmptySegment", [](v1::Volunteer& v) { v.set_region_code("3301..06"); },
       "volunteer.region_code:"},
      {"RegionUpperCase", [](v1::Volunteer& v) { v.set_region_code("3301.G07"); },
       "volunteer.region_code:"},
      {"RegionDash", [](v1::Volunteer& v) { v.set_region_code("3301-06"); },
       "volunteer.region_code:"},
      {"Region65Characters", [](v1::Volunteer& v) { v.set_region_code(std::string(65, '1')); },
       "volunteer.region_code:"},
      // location
      {"LocationMissing", [](v1::Volunteer& v) { v.clear_location(); },
       "volunteer.location: required"},
      {"LatitudeNaN", [=](v1::Volunteer& v) { v.mutable_location()->set_latitude(nan); },
       "volunteer.location.latitude:"},
      {"LatitudeInfinite", [=](v1::Volunteer& v) { v.mutable_location()->set_latitude(inf); },
       "volunteer.location.latitude:"},
      {"LatitudeAbove90", [](v1::Volunteer& v) { v.mutable_location()->set_latitude(90.0001); },
       "volunteer.location.latitude:"},
      {"LatitudeBelow90", [](v1::Volunteer& v) { v.mutable_location()->set_latitude(-90.0001); },
       "volunteer.location.latitude:"},
      {"LatitudeAtPoles",
       [](v1::Volunteer& v) {
         v.mutable_location()->set_latitude(-90);
         v.mutable_location()->set_longitude(180);
       },
       ""},
      {"LongitudeNaN", [=](v1::Volunteer& v) { v.mutable_location()->set_longitude(nan); },
       "volunteer.location.longitude:"},
      {"LongitudeAbove180", [](v1::Volunteer& v) { v.mutable_location()->set_longitude(180.0001); },
       "volunteer.location.longitude:"},
      {"LongitudeBelow180", [=](v1::Volunteer& v) { v.mutable_location()->set_longitude(-inf); },
       "volunteer.location.longitude:"},
      // skills
      {"SkillsOptional", [](v1::Volunteer& v) { v.clear_skills(); }, ""},
      {"SkillUnknown", [](v1::Volunteer& v) { v.add_skills("juggling"); }, "volunteer.skills[2]:"},
      {"SkillDuplicate", [](v1::Volunteer& v) { v.add_skills("medical"); }, "volunteer.skills[2]:"},
      {"SkillsAtMost16",
       [](v1::Volunteer& v) {
         v.clear_skills();
         for (int i = 0; i < 17; ++i) v.add_skills("medical");
       },
       "volunteer.skills: at most 16"},
      // availability
      {"AvailabilityOptional", [](v1::Volunteer& v) { v.clear_availability(); }, ""},
      {"Availability28Windows", windows(28), ""},
      {"Availability29Windows", windows(29), "volunteer.availability:"},
      {"WeekdayZero", window(0, 0, 60), "volunteer.availability[0].weekday:"},
      {"WeekdayEight", window(8, 0, 60), "volunteer.availability[0].weekday:"},
      {"WeekdayMondayAndSunday",
       [](v1::Volunteer& v) {
         v.clear_availability();
         v.add_availability()->set_weekday(1);
         v.add_availability()->set_weekday(7);
         for (auto& w : *v.mutable_availability()) w.set_duration_minutes(1);
       },
       ""},
      {"StartMinuteNegative", window(1, -1, 60), "volunteer.availability[0].start_minute:"},
      {"StartMinute1440", window(1, 1440, 60), "volunteer.availability[0].start_minute:"},
      {"StartMinute1439", window(1, 1439, 60), ""},
      {"DurationZero", window(1, 0, 0), "volunteer.availability[0].duration_minutes:"},
      {"Duration1441", window(1, 0, 1441), "volunteer.availability[0].duration_minutes:"},
      {"DurationWholeDay", window(5, 1320, 1440), ""},
      {"SecondWindowNamed",
       [](v1::Volunteer& v) {
         v1::AvailabilityWindow* w = v.add_availability();
         w->set_weekday(9);
         w->set_duration_minutes(10);
       },
       "volunteer.availability[1].weekday:"},
      // max_concurrent_tasks
      {"MaxConcurrentNegative", [](v1::Volunteer& v) { v.set_max_concurrent_tasks(-1); },
       "volunteer.max_concurrent_tasks:"},
      {"MaxConcurrent11", [](v1::Volunteer& v) { v.set_max_concurrent_tasks(11); },
       "volunteer.max_concurrent_tasks:"},
      {"MaxConcurrent10", [](v1::Volunteer& v) { v.set_max_concurrent_tasks(10); }, ""},
      // phone
      {"PhoneOptional", [](v1::Volunteer& v) { v.clear_phone(); }, ""},
      {"PhoneTooShort", [](v1::Volunteer& v) { v.set_phone("1380013800"); }, "volunteer.phone:"},
      {"PhoneNotMobile", [](v1::Volunteer& v) { v.set_phone("0571-88886666"); },
       "volunteer.phone:"},
      {"PhoneLetters", [](v1::Volunteer& v) { v.set_phone("138abcd8000"); }, "volunteer.phone:"},
      // service_unit
      {"ServiceUnit64", [](v1::Volunteer& v) { v.set_service_unit(Repeat("局", 64)); }, ""},
      {"ServiceUnit65", [](v1::Volunteer& v) { v.set_service_unit(Repeat("局", 65)); },
       "volunteer.service_unit:"},
      {"ServiceUnitControl", [](v1::Volunteer& v) { v.set_service_unit("区\r民政局"); },
       "volunteer.service_unit:"},
  };
}

class ProfileValidationTest : public VolunteersTest,
                              public ::testing::WithParamInterface<ProfileCase> {};

TEST_P(ProfileValidationTest, RegisterAndUpdateCheckTheProfile) {
  const ProfileCase& c = GetParam();
  v1::Volunteer v = ValidVolunteer();
  c.change(v);
  if (c.field.empty()) {
    ExpectRegister();
    EXPECT_CALL(store_, Update(_, _, 0, Now())).WillOnce(UpdatedAs);
    EXPECT_TRUE(volunteers_.RegisterVolunteer(RegisterRequest(v), System()).ok());
    EXPECT_TRUE(volunteers_.UpdateVolunteer(UpdateRequest(v), System()).ok());
  } else {
    // A strict mock: nothing reaches the store.
    EXPECT_THAT(volunteers_.RegisterVolunteer(RegisterRequest(v), System()).status(),
                InvalidAt(c.field));
    EXPECT_THAT(volunteers_.UpdateVolunteer(UpdateRequest(v), System()).status(),
                InvalidAt(c.field));
  }
}

INSTANTIATE_TEST_SUITE_P(Volunteers, ProfileValidationTest, ::testing::ValuesIn(ProfileCases()),
                         [](const ::testing::TestParamInfo<ProfileCase>& info) {
                           return info.param.name;
                         });

TEST_F(VolunteersTest, SixteenDistinctSkillsAreAllowed) {
  std::string list;
  for (int i = 0; i < 17; ++i) absl::StrAppend(&list, i == 0 ? "" : ",", "skill", i);
  absl::StatusOr<SkillCatalog> big = SkillCatalog::Parse(list);
  ASSERT_TRUE(big.ok()) << big.status();
  Volunteers vs(&store_, &*big, &clock_);

  v1::Volunteer v = ValidVolunteer();
  v.clear_skills();
  for (int i = 0; i < 16; ++i) v.add_skills(absl::StrCat("skill", i));
  ExpectRegister();
  EXPECT_TRUE(vs.RegisterVolunteer(RegisterRequest(v), System()).ok());

  v.add_skills("skill16");
  EXPECT_THAT(vs.RegisterVolunteer(RegisterRequest(v), System()).status(),
              InvalidAt("volunteer.skills: at most 16"));
}

TEST_F(VolunteersTest, RegisterStoresOnlyTheProfileNormalised) {
  v1::Volunteer in = ValidVolunteer();
  in.set_resident_id("r-42");
  in.set_party_member(true);
  in.set_service_unit("区民政局");
  in.set_phone("+86 138-0013-8000");
  // What a caller may not set.
  in.set_id("v-chosen");
  in.set_version(9);
  in.set_active(false);
  in.set_deactivated_reason("x");
  *in.mutable_registered_at() = ToTimestamp(absl::FromUnixSeconds(1));
  *in.mutable_updated_at() = ToTimestamp(absl::FromUnixSeconds(2));
  in.mutable_totals()->set_hours(100);
  in.mutable_totals()->set_points(1000);

  v1::Volunteer stored;
  EXPECT_CALL(store_, Register(_, _, Now())).WillOnce(DoAll(SaveArg<1>(&stored), RegisteredAs));
  absl::StatusOr<v1::Volunteer> out = volunteers_.RegisterVolunteer(RegisterRequest(in), System());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->id(), "v-new");  // the store's answer, passed on

  EXPECT_EQ(stored.id(), "");
  EXPECT_EQ(stored.version(), 0);
  EXPECT_FALSE(stored.active());
  EXPECT_EQ(stored.deactivated_reason(), "");
  EXPECT_FALSE(stored.has_registered_at());
  EXPECT_FALSE(stored.has_updated_at());
  EXPECT_FALSE(stored.has_totals());

  EXPECT_EQ(stored.name(), "王芳");
  EXPECT_EQ(stored.resident_id(), "r-42");
  EXPECT_EQ(stored.region_code(), kGrid);
  EXPECT_DOUBLE_EQ(stored.location().latitude(), 30.274);
  EXPECT_DOUBLE_EQ(stored.location().longitude(), 120.155);
  EXPECT_THAT(stored.skills(), ::testing::ElementsAre("medical", "repair"));
  ASSERT_EQ(stored.availability_size(), 1);
  EXPECT_EQ(stored.availability(0).weekday(), 6);
  EXPECT_EQ(stored.availability(0).start_minute(), 540);
  EXPECT_EQ(stored.availability(0).duration_minutes(), 180);
  EXPECT_TRUE(stored.party_member());
  EXPECT_EQ(stored.service_unit(), "区民政局");
  EXPECT_EQ(stored.phone(), kPhone);            // normalised
  EXPECT_EQ(stored.max_concurrent_tasks(), 1);  // 0 means 1
  EXPECT_EQ(out->phone(), kPhone);              // the registering caller sees it in full
}

TEST_F(VolunteersTest, RegisterKeepsAnExplicitMaxConcurrentTasks) {
  v1::Volunteer in = ValidVolunteer();
  in.set_max_concurrent_tasks(3);
  v1::Volunteer stored;
  EXPECT_CALL(store_, Register(_, _, _)).WillOnce(DoAll(SaveArg<1>(&stored), RegisteredAs));
  ASSERT_TRUE(volunteers_.RegisterVolunteer(RegisterRequest(in), System()).ok());
  EXPECT_EQ(stored.max_concurrent_tasks(), 3);
}

TEST_F(VolunteersTest, UpdateSendsTheIdAndProfileButNothingElse) {
  v1::UpdateVolunteerRequest req = UpdateRequest();
  req.mutable_volunteer()->set_version(9);
  req.mutable_volunteer()->set_active(false);
  req.mutable_volunteer()->mutable_totals()->set_points(5);
  req.mutable_volunteer()->set_phone("86 13800138000");
  req.set_expected_version(3);

  v1::Volunteer sent;
  EXPECT_CALL(store_, Update(_, _, 3, Now())).WillOnce(DoAll(SaveArg<1>(&sent), UpdatedAs));
  absl::StatusOr<v1::Volunteer> out = volunteers_.UpdateVolunteer(req, System());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->version(), 4);
  EXPECT_EQ(sent.id(), "v-1");
  EXPECT_EQ(sent.version(), 0);
  EXPECT_FALSE(sent.active());
  EXPECT_FALSE(sent.has_totals());
  EXPECT_EQ(sent.phone(), kPhone);
  EXPECT_EQ(sent.max_concurrent_tasks(), 1);
}

TEST_F(VolunteersTest, UpdateRefusesANegativeExpectedVersion) {
  v1::UpdateVolunteerRequest req = UpdateRequest();
  req.set_expected_version(-1);
  EXPECT_THAT(volunteers_.UpdateVolunteer(req, System()).status(), InvalidAt("expected_version:"));
}

TEST_F(VolunteersTest, DeactivateNeedsAReasonOfAtMost500Characters) {
  v1::DeactivateVolunteerRequest req = DeactivateRequest();
  req.clear_reason();
  EXPECT_THAT(volunteers_.DeactivateVolunteer(req, System()).status(),
              InvalidAt("reason: required"));
  req.set_reason(" \n ");
  EXPECT_THAT(volunteers_.DeactivateVolunteer(req, System()).status(),
              InvalidAt("reason: required"));
  req.set_reason(Repeat("因", 501));
  EXPECT_THAT(volunteers_.DeactivateVolunteer(req, System()).status(), InvalidAt("reason:"));
  req.set_reason("a\x01");
  EXPECT_THAT(volunteers_.DeactivateVolunteer(req, System()).status(), InvalidAt("reason:"));

  req.set_reason(Repeat("因", 500));
  EXPECT_CALL(store_, Deactivate(_, Str("v-1"), Str(req.reason()), _)).WillOnce(Return(Stored()));
  EXPECT_TRUE(volunteers_.DeactivateVolunteer(req, System()).ok());
}

// ---------------------------------------------------------------------------------------
// Volunteer profile: who may

TEST_F(VolunteersTest, EveryStaffRoleRegistersWithinItsScope) {
  for (Role role : {Role::kGridWorker, Role::kGridLeader, Role::kSupervisor, Role::kOperator}) {
    SCOPED_TRACE(RoleName(role));
    ExpectRegister();
    EXPECT_TRUE(volunteers_.RegisterVolunteer(RegisterRequest(), Staff(role)).ok());
    // The scope itself, not only what lies below it.
    ExpectRegister();
    EXPECT_TRUE(volunteers_.RegisterVolunteer(RegisterRequest(), Staff(role, kGrid)).ok());
  }
}

TEST_F(VolunteersTest, RegisterOutsideTheScopeIsDenied) {
  const auto req = RegisterRequest();
  EXPECT_THAT(volunteers_.RegisterVolunteer(req, Staff(Role::kGridWorker, "3301.07")).status(),
              IsDenied());
  // A scope is a prefix on a '.' boundary: "3301.0" does not cover "3301.06.003".
  EXPECT_THAT(volunteers_.RegisterVolunteer(req, Staff(Role::kSupervisor, "3301.0")).status(),
              IsDenied());
  // An empty scope covers nothing.
  EXPECT_THAT(volunteers_.RegisterVolunteer(req, Staff(Role::kOperator, "")).status(), IsDenied());
  // Below the region: a grid worker of one building may not register for the whole grid.
  EXPECT_THAT(
      volunteers_.RegisterVolunteer(req, Staff(Role::kGridLeader, "3301.06.003.b1")).status(),
      IsDenied());
}

TEST_F(VolunteersTest, OtherRolesMayNotRegisterVolunteers) {
  const auto req = RegisterRequest();
  EXPECT_THAT(volunteers_.RegisterVolunteer(req, Department()).status(), IsDenied());
  EXPECT_THAT(volunteers_.RegisterVolunteer(req, VolunteerCaller("v-1")).status(), IsDenied());
  EXPECT_THAT(volunteers_.RegisterVolunteer(req, ResidentCaller("r-42")).status(), IsDenied());
}

TEST_F(VolunteersTest, SystemRegistersAnywhere) {
  v1::Volunteer v = ValidVolunteer();
  v.set_region_code("4401.01");
  ExpectRegister();
  EXPECT_TRUE(volunteers_.RegisterVolunteer(RegisterRequest(v), System()).ok());
}

TEST_F(VolunteersTest, AResidentRegistersOnlyThemself) {
  v1::Volunteer v = ValidVolunteer();
  v.set_resident_id("r-42");
  ExpectRegister();
  absl::StatusOr<v1::Volunteer> out =
      volunteers_.RegisterVolunteer(RegisterRequest(v), ResidentCaller("r-42"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->phone(), kPhone);

  EXPECT_THAT(volunteers_.RegisterVolunteer(RegisterRequest(v), ResidentCaller("r-43")).status(),
              IsDenied());
  // A volunteer with the resident's id is not a resident registering themself.
  EXPECT_THAT(volunteers_.RegisterVolunteer(RegisterRequest(v), VolunteerCaller("r-42")).status(),
              IsDenied());
}

TEST_F(VolunteersTest, StaffUpdateWithinScopeOfBothTheStoredAndTheNewRegion) {
  // Moving within the scope.
  v1::Volunteer moved = ValidVolunteer();
  moved.set_region_code("3301.06.004");
  ExpectGet(Stored(kGrid));
  EXPECT_CALL(store_, Update(_, _, 0, Now())).WillOnce(UpdatedAs);
  EXPECT_TRUE(volunteers_.UpdateVolunteer(UpdateRequest(moved), Staff()).ok());

  // Moving out of the scope.
  moved.set_region_code(kOtherGrid);
  ExpectGet(Stored(kGrid));
  EXPECT_THAT(volunteers_.UpdateVolunteer(UpdateRequest(moved), Staff()).status(), IsDenied());

  // Claiming someone from outside the scope.
  ExpectGet(Stored(kOtherGrid));
  EXPECT_THAT(volunteers_.UpdateVolunteer(UpdateRequest(), Staff()).status(), IsDenied());
}

TEST_F(VolunteersTest, VolunteersUpdateThemselvesOnly) {
  v1::Volunteer moved = ValidVolunteer();
  moved.set_region_code(kOtherGrid);
  EXPECT_CALL(store_, Update(_, _, 0, Now())).WillOnce(UpdatedAs);
  EXPECT_TRUE(volunteers_.UpdateVolunteer(UpdateRequest(moved), VolunteerCaller("v-1")).ok());

  EXPECT_THAT(volunteers_.UpdateVolunteer(UpdateRequest(), VolunteerCaller("v-2")).status(),
              IsDenied());
  EXPECT_THAT(volunteers_.UpdateVolunteer(UpdateRequest(), ResidentCaller("v-1")).status(),
              IsDenied());
  EXPECT_THAT(volunteers_.UpdateVolunteer(UpdateRequest(), Department()).status(), IsDenied());
}

TEST_F(VolunteersTest, DeactivateByStaffInScopeSelfOrSystem) {
  ExpectGet(Stored(kGrid));
  EXPECT_CALL(store_, Deactivate(_, Str("v-1"), _, Now()))
      .Times(3)
      .WillRepeatedly(Return(Stored()));
  EXPECT_TRUE(volunteers_.DeactivateVolunteer(DeactivateRequest(), Staff()).ok());
  EXPECT_TRUE(volunteers_.DeactivateVolunteer(DeactivateRequest(), VolunteerCaller("v-1")).ok());
  EXPECT_TRUE(volunteers_.DeactivateVolunteer(DeactivateRequest(), System()).ok());
}

TEST_F(VolunteersTest, DeactivateByOthersIsDenied) {
  ExpectGet(Stored(kOtherGrid));
  EXPECT_THAT(volunteers_.DeactivateVolunteer(DeactivateRequest(), Staff()).status(), IsDenied());
  EXPECT_THAT(volunteers_.DeactivateVolunteer(DeactivateRequest(), VolunteerCaller("v-2")).status(),
              IsDenied());
  EXPECT_THAT(volunteers_.DeactivateVolunteer(DeactivateRequest(), ResidentCaller("r-1")).status(),
              IsDenied());
}

// ---------------------------------------------------------------------------------------
// Reading volunteers

struct Viewer {
  std::string name;
  Caller caller;
  bool full;  // sees the phone unmasked
};

TEST_F(VolunteersTest, GetVolunteerMasksThePhoneForAllButSelfStaffInScopeAndSystem) {
  const std::vector<Viewer> viewers = {
      {"self", VolunteerCaller("v-1"), true},
      {"staff in scope", Staff(Role::kGridLeader), true},
      {"staff scoped to the grid", Staff(Role::kOperator, kGrid), true},
      {"system", System(), true},
      {"another volunteer", VolunteerCaller("v-2"), false},
      {"staff elsewhere", Staff(Role::kSupervisor, "3301.07"), false},
      {"staff without scope", Staff(Role::kGridWorker, ""), false},
      {"a resident", ResidentCaller("r-1"), false},
      {"a resident with the volunteer's id", ResidentCaller("v-1"), false},
      {"a department in scope", Department(), false},
  };
  v1::GetVolunteerRequest req;
  req.set_id("v-1");
  for (const Viewer& viewer : viewers) {
    SCOPED_TRACE(viewer.name);
    ExpectGet(Stored());
    absl::StatusOr<v1::Volunteer> v = volunteers_.GetVolunteer(req, viewer.caller);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->phone(), viewer.full ? kPhone : kMaskedPhone);
    EXPECT_EQ(v->name(), "王芳");
    EXPECT_EQ(v->version(), 3);
  }
}

TEST_F(VolunteersTest, GetVolunteerWithoutPhoneShowsNone) {
  v1::Volunteer stored = Stored();
  stored.clear_phone();
  ExpectGet(stored);
  v1::GetVolunteerRequest req;
  req.set_id("v-1");
  absl::StatusOr<v1::Volunteer> v = volunteers_.GetVolunteer(req, ResidentCaller("r-1"));
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->phone(), "");
}

TEST_F(VolunteersTest, StaffListWithinTheirScope) {
  VolunteerFilter filter;
  EXPECT_CALL(store_, List(_, 50, Str("")))
      .WillOnce(DoAll(SaveArg<0>(&filter),
                      Return(MockVolunteerStore::VolunteerPage{{Stored()}, "next"})));
  absl::StatusOr<v1::ListVolunteersResponse> out = volunteers_.ListVolunteers({}, Staff());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(filter.region_prefix, kScope);  // empty = the caller's scope
  EXPECT_EQ(filter.skill, "");
  EXPECT_FALSE(filter.include_inactive);
  ASSERT_EQ(out->volunteers_size(), 1);
  EXPECT_EQ(out->volunteers(0).phone(), kPhone);
  EXPECT_EQ(out->next_page_token(), "next");

  v1::ListVolunteersRequest req;
  req.set_region_prefix(kGrid);
  req.set_skill("medical");
  req.set_include_inactive(true);
  req.set_page_token("tok");
  EXPECT_CALL(store_, List(_, 50, Str("tok")))
      .WillOnce(DoAll(SaveArg<0>(&filter), Return(MockVolunteerStore::VolunteerPage{})));
  ASSERT_TRUE(volunteers_.ListVolunteers(req, Staff()).ok());
  EXPECT_EQ(filter.region_prefix, kGrid);
  EXPECT_EQ(filter.skill, "medical");
  EXPECT_TRUE(filter.include_inactive);
}

TEST_F(VolunteersTest, StaffMayNotListOutsideTheirScope) {
  v1::ListVolunteersRequest req;
  req.set_region_prefix("3301");  // above the scope
  EXPECT_THAT(volunteers_.ListVolunteers(req, Staff()).status(), IsDenied());
  req.set_region_prefix("3301.07");
  EXPECT_THAT(volunteers_.ListVolunteers(req, Staff()).status(), IsDenied());
  req.set_region_prefix("3301.061");  // not on a '.' boundary
  EXPECT_THAT(volunteers_.ListVolunteers(req, Staff()).status(), IsDenied());
  EXPECT_THAT(volunteers_.ListVolunteers({}, Staff(Role::kGridWorker, "")).status(), IsDenied());
}

TEST_F(VolunteersTest, OnlyStaffAndSystemListVolunteers) {
  EXPECT_THAT(volunteers_.ListVolunteers({}, VolunteerCaller("v-1")).status(), IsDenied());
  EXPECT_THAT(volunteers_.ListVolunteers({}, ResidentCaller("r-1")).status(), IsDenied());
  EXPECT_THAT(volunteers_.ListVolunteers({}, Department()).status(), IsDenied());

  VolunteerFilter filter;
  EXPECT_CALL(store_, List(_, 50, _))
      .WillOnce(DoAll(SaveArg<0>(&filter), Return(MockVolunteerStore::VolunteerPage{})));
  ASSERT_TRUE(volunteers_.ListVolunteers({}, System()).ok());
  EXPECT_EQ(filter.region_prefix, "");  // every region
}

TEST_F(VolunteersTest, ListVolunteersChecksItsFilter) {
  v1::ListVolunteersRequest req;
  req.set_region_prefix("3301.");
  EXPECT_THAT(volunteers_.ListVolunteers(req, System()).status(), InvalidAt("region_prefix:"));
  req.set_region_prefix("");
  req.set_skill("juggling");
  EXPECT_THAT(volunteers_.ListVolunteers(req, System()).status(), InvalidAt("skill:"));
}

TEST_F(VolunteersTest, PageSizesDefaultTo50AndStopAt500) {
  for (int bad : {-1, 501, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()}) {
    SCOPED_TRACE(bad);
    v1::ListVolunteersRequest lv;
    lv.set_page_size(bad);
    EXPECT_THAT(volunteers_.ListVolunteers(lv, System()).status(), InvalidAt("page_size:"));
    v1::ListActivitiesRequest la;
    la.set_page_size(bad);
    EXPECT_THAT(volunteers_.ListActivities(la, System()).status(), InvalidAt("page_size:"));
    v1::GetServiceRecordRequest sr;
    sr.set_volunteer_id("v-1");
    sr.set_page_size(bad);
    EXPECT_THAT(volunteers_.GetServiceRecord(sr, System()).status(), InvalidAt("page_size:"));
  }
  for (auto [asked, used] : std::vector<std::pair<int, int>>{{0, 50}, {1, 1}, {500, 500}}) {
    SCOPED_TRACE(asked);
    v1::ListVolunteersRequest lv;
    lv.set_page_size(asked);
    EXPECT_CALL(store_, List(_, used, _)).WillOnce(Return(MockVolunteerStore::VolunteerPage{}));
    EXPECT_TRUE(volunteers_.ListVolunteers(lv, System()).ok());
    v1::ListActivitiesRequest la;
    la.set_page_size(asked);
    EXPECT_CALL(store_, ListActivities(_, used, _))
        .WillOnce(Return(MockVolunteerStore::ActivityPage{}));
    EXPECT_TRUE(volunteers_.ListActivities(la, System()).ok());
    v1::GetServiceRecordRequest sr;
    sr.set_volunteer_id("v-1");
    sr.set_page_size(asked);
    EXPECT_CALL(store_, GetServiceRecord(Str("v-1"), used, _))
        .WillOnce(Return(v1::ServiceRecord()));
    EXPECT_TRUE(volunteers_.GetServiceRecord(sr, System()).ok());
  }
}

TEST_F(VolunteersTest, ListSkillsReturnsTheCatalogToAnyIdentifiedCaller) {
  for (const Caller& c : {ResidentCaller("r-1"), VolunteerCaller("v-1"), Department(), System()}) {
    absl::StatusOr<v1::ListSkillsResponse> out = volunteers_.ListSkills({}, c);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_THAT(out->skills(), ::testing::ElementsAreArray(catalog_.all()));
    EXPECT_THAT(out->skills(), ::testing::Contains("medical"));
  }
}

// ---------------------------------------------------------------------------------------
// Activity days

struct ActivityCase {
  std::string name;
  std::function<void(v1::Activity&, absl::Time now)> change;
  std::string field;  // "" = accepted
};

std::vector<ActivityCase> ActivityCases() {
  auto times = [](absl::Duration start, absl::Duration end) {
    return [=](v1::Activity& a, absl::Time now) {
      *a.mutable_starts_at() = ToTimestamp(now + start);
      *a.mutable_ends_at() = ToTimestamp(now + end);
    };
  };
  return {
      {"TitleMissing", [](v1::Activity& a, absl::Time) { a.clear_title(); },
       "activity.title: required"},
      {"Title100", [](v1::Activity& a, absl::Time) { a.set_title(Repeat("植", 100)); }, ""},
      {"Title101", [](v1::Activity& a, absl::Time) { a.set_title(Repeat("植", 101)); },
       "activity.title:"},
      {"TitleNewline", [](v1::Activity& a, absl::Time) { a.set_title("植树\n节"); },
       "activity.title:"},
      {"RegionMissing", [](v1::Activity& a, absl::Time) { a.clear_region_code(); },
       "activity.region_code: required"},
      {"RegionBad", [](v1::Activity& a, absl::Time) { a.set_region_code("3301..06"); },
       "activity.region_code:"},
      {"StartsAtMissing", [](v1::Activity& a, absl::Time) { a.clear_starts_at(); },
       "activity.starts_at: required"},
      {"EndsAtMissing", [](v1::Activity& a, absl::Time) { a.clear_ends_at(); },
       "activity.ends_at: required"},
      {"StartsAtBadNanos",
       [](v1::Activity& a, absl::Time) { a.mutable_starts_at()->set_nanos(-1); },
       "activity.starts_at:"},
      {"EndsAtOutOfRange",
       [](v1::Activity& a, absl::Time) { a.mutable_ends_at()->set_seconds(253'402'300'800); },
       "activity.ends_at:"},
      {"EndsWhenItStarts", times(absl::Hours(2), absl::Hours(2)), "activity.ends_at:"},
      {"EndsBeforeItStarts", times(absl::Hours(2), absl::Hours(1)), "activity.ends_at:"},
      {"LastsSevenDays", times(absl::Hours(1), absl::Hours(1 + 7 * 24)), ""},
      {"LastsLongerThanSevenDays",
       times(absl::Hours(1), absl::Hours(1 + 7 * 24) + absl::Seconds(1)), "activity.ends_at:"},
      {"AlreadyOver", times(-absl::Hours(3), -absl::Hours(1)), "activity.ends_at:"},
      {"EndsNow", times(-absl::Hours(3), absl::ZeroDuration()), "activity.ends_at:"},
      {"UnderWay", times(-absl::Hours(1), absl::Seconds(1)), ""},
      {"CapacityZero", [](v1::Activity& a, absl::Time) { a.set_capacity(0); },
       "activity.capacity:"},
      {"CapacityNegative", [](v1::Activity& a, absl::Time) { a.set_capacity(-5); },
       "activity.capacity:"},
      {"Capacity10000", [](v1::Activity& a, absl::Time) { a.set_capacity(10000); }, ""},
      {"Capacity10001", [](v1::Activity& a, absl::Time) { a.set_capacity(10001); },
       "activity.capacity:"},
      {"CapacityOne", [](v1::Activity& a, absl::Time) { a.set_capacity(1); }, ""},
      {"SkillUnknown", [](v1::Activity& a, absl::Time) { a.add_skills("juggling"); },
       "activity.skills[1]:"},
      {"SkillDuplicate", [](v1::Activity& a, absl::Time) { a.add_skills("medical"); },
       "activity.skills[1]:"},
      {"SkillsOptional", [](v1::Activity& a, absl::Time) { a.clear_skills(); }, ""},
      {"PointsNegative", [](v1::Activity& a, absl::Time) { a.set_points_per_hour(-1); },
       "activity.points_per_hour:"},
      {"Points1001", [](v1::Activity& a, absl::Time) { a.set_points_per_hour(1001); },
       "activity.points_per_hour:"},
      {"Points1000", [](v1::Activity& a, absl::Time) { a.set_points_per_hour(1000); }, ""},
      {"Place200", [](v1::Activity& a, absl::Time) { a.set_place(Repeat("场", 200)); }, ""},
      {"Place201", [](v1::Activity& a, absl::Time) { a.set_place(Repeat("场", 201)); },
       "activity.place:"},
      {"Description2000",
       [](v1::Activity& a, absl::Time) { a.set_description(Repeat("述", 2000)); }, ""},
      {"Description2001",
       [](v1::Activity& a, absl::Time) { a.set_description(Repeat("述", 2001)); },
       "activity.description:"},
      {"DescriptionControl",
       [](v1::Activity& a, absl::Time) { a.set_description("第一行\x1b[31m"); },
       "activity.description:"},
  };
}

class ActivityValidationTest : public VolunteersTest,
                               public ::testing::WithParamInterface<ActivityCase> {};

TEST_P(ActivityValidationTest, CreateActivityChecksTheActivity) {
  const ActivityCase& c = GetParam();
  v1::Activity a = ValidActivity();
  c.change(a, Now());
  if (c.field.empty()) {
    EXPECT_CALL(store_, CreateActivity(_, _, Now())).WillOnce(CreatedAs);
    absl::StatusOr<v1::Activity> out =
        volunteers_.CreateActivity(CreateActivityRequest(a), System());
    EXPECT_TRUE(out.ok()) << out.status();
  } else {
    EXPECT_THAT(volunteers_.CreateActivity(CreateActivityRequest(a), System()).status(),
                InvalidAt(c.field));
  }
}

INSTANTIATE_TEST_SUITE_P(Activities, ActivityValidationTest, ::testing::ValuesIn(ActivityCases()),
                         [](const ::testing::TestParamInfo<ActivityCase>& info) {
                           return info.param.name;
                         });

TEST_F(VolunteersTest, CreateActivityStoresWhatTheOrganiserMaySetWithDefaults) {
  v1::Activity in = ValidActivity();
  in.set_id("a-chosen");
  in.set_confirmed(5);
  in.set_waitlisted(2);
  in.set_cancelled(true);
  in.set_organiser_id("someone-else");
  *in.mutable_created_at() = ToTimestamp(absl::FromUnixSeconds(1));

  v1::Activity stored;
  EXPECT_CALL(store_, CreateActivity(_, _, Now())).WillOnce(DoAll(SaveArg<1>(&stored), CreatedAs));
  absl::StatusOr<v1::Activity> out =
      volunteers_.CreateActivity(CreateActivityRequest(in), Staff(Role::kGridLeader));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->id(), "a-new");

  EXPECT_EQ(stored.id(), "");
  EXPECT_EQ(stored.confirmed(), 0);
  EXPECT_EQ(stored.waitlisted(), 0);
  EXPECT_FALSE(stored.cancelled());
  EXPECT_FALSE(stored.has_created_at());
  EXPECT_EQ(stored.organiser_id(), "w-1");  // the caller
  EXPECT_EQ(stored.points_per_hour(), 10);  // the default

  EXPECT_EQ(stored.title(), "社区义诊");
  EXPECT_EQ(stored.region_code(), kGrid);
  EXPECT_EQ(FromTimestamp(stored.starts_at()), Now() + absl::Hours(24));
  EXPECT_EQ(FromTimestamp(stored.ends_at()), Now() + absl::Hours(27));
  EXPECT_EQ(stored.place(), "社区服务中心");
  EXPECT_THAT(stored.skills(), ::testing::ElementsAre("medical"));
  EXPECT_EQ(stored.capacity(), 20);
  EXPECT_EQ(stored.description(), "免费测血压\n请带医保卡");
}

TEST_F(VolunteersTest, CreateActivityKeepsExplicitPointsAndUsesTheConfiguredDefault) {
  VolunteersOptions options;
  options.default_points_per_hour = 25;
  Volunteers vs(&store_, &catalog_, &clock_, options);
  v1::Activity stored;
  EXPECT_CALL(store_, CreateActivity(_, _, _))
      .Times(2)
      .WillRepeatedly(DoAll(SaveArg<1>(&stored), CreatedAs));

  ASSERT_TRUE(vs.CreateActivity(CreateActivityRequest(), System()).ok());
  EXPECT_EQ(stored.points_per_hour(), 25);

  v1::Activity a = ValidActivity();
  a.set_points_per_hour(7);
  ASSERT_TRUE(vs.CreateActivity(CreateActivityRequest(a), System()).ok());
  EXPECT_EQ(stored.points_per_hour(), 7);
}

TEST_F(VolunteersTest, CreateActivityByStaffInScopeOrSystemOnly) {
  EXPECT_CALL(store_, CreateActivity(_, _, _)).Times(2).WillRepeatedly(CreatedAs);
  EXPECT_TRUE(volunteers_.CreateActivity(CreateActivityRequest(), Staff(Role::kSupervisor)).ok());
  absl::StatusOr<v1::Activity> by_system =
      volunteers_.CreateActivity(CreateActivityRequest(), System());
  ASSERT_TRUE(by_system.ok());
  EXPECT_EQ(by_system->organiser_id(), "dispatch");

  EXPECT_THAT(
      volunteers_.CreateActivity(CreateActivityRequest(), Staff(Role::kGridWorker, "3301.07"))
          .status(),
      IsDenied());
  EXPECT_THAT(volunteers_.CreateActivity(CreateActivityRequest(), VolunteerCaller("v-1")).status(),
              IsDenied());
  EXPECT_THAT(volunteers_.CreateActivity(CreateActivityRequest(), ResidentCaller("r-1")).status(),
              IsDenied());
  EXPECT_THAT(volunteers_.CreateActivity(CreateActivityRequest(), Department()).status(),
              IsDenied());
}

TEST_F(VolunteersTest, AnyIdentifiedCallerReadsActivities) {
  v1::GetActivityRequest get;
  get.set_id("a-1");
  EXPECT_CALL(store_, GetActivity(Str("a-1"))).WillOnce(Return(StoredActivity(kOtherGrid)));
  absl::StatusOr<v1::Activity> a = volunteers_.GetActivity(get, ResidentCaller("r-1"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->title(), "社区义诊");

  EXPECT_CALL(store_, ListActivities(_, 50, Str("p2")))
      .WillOnce(Return(MockVolunteerStore::ActivityPage{{StoredActivity()}, "p3"}));
  v1::ListActivitiesRequest list;
  list.set_page_token("p2");
  absl::StatusOr<v1::ListActivitiesResponse> page =
      volunteers_.ListActivities(list, VolunteerCaller("v-9"));
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->activities_size(), 1);
  EXPECT_EQ(page->activities(0).id(), "a-1");
  EXPECT_EQ(page->next_page_token(), "p3");
}

TEST_F(VolunteersTest, ListActivitiesPassesItsFilter) {
  ActivityFilter filter;
  EXPECT_CALL(store_, ListActivities(_, _, _))
      .WillRepeatedly(DoAll(SaveArg<0>(&filter), Return(MockVolunteerStore::ActivityPage{})));

  ASSERT_TRUE(volunteers_.ListActivities({}, Department()).ok());
  EXPECT_EQ(filter.region_prefix, "");
  EXPECT_EQ(filter.starts_after, absl::InfinitePast());
  EXPECT_EQ(filter.starts_before, absl::InfiniteFuture());

  v1::ListActivitiesRequest req;
  req.set_region_prefix(kScope);
  *req.mutable_starts_after() = ToTimestamp(Now());
  *req.mutable_starts_before() = ToTimestamp(Now() + absl::Hours(48));
  ASSERT_TRUE(volunteers_.ListActivities(req, Department()).ok());
  EXPECT_EQ(filter.region_prefix, kScope);
  EXPECT_EQ(filter.starts_after, Now());
  EXPECT_EQ(filter.starts_before, Now() + absl::Hours(48));

  // An empty window is allowed; an inverted one is not.
  *req.mutable_starts_before() = req.starts_after();
  EXPECT_TRUE(volunteers_.ListActivities(req, Department()).ok());
  *req.mutable_starts_before() = ToTimestamp(Now() - absl::Seconds(1));
  EXPECT_THAT(volunteers_.ListActivities(req, Department()).status(), InvalidAt("starts_after:"));

  v1::ListActivitiesRequest bad_prefix;
  bad_prefix.set_region_prefix("3301/06");
  EXPECT_THAT(volunteers_.ListActivities(bad_prefix, Department()).status(),
              InvalidAt("region_prefix:"));
  v1::ListActivitiesRequest bad_time;
  bad_time.mutable_starts_before()->set_nanos(1'000'000'000);
  EXPECT_THAT(volunteers_.ListActivities(bad_time, Department()).status(),
              InvalidAt("starts_before:"));
}

// ---------------------------------------------------------------------------------------
// Sign-up, cancellation, check-in and check-out

enum class Step { kSignUp, kCancel, kCheckIn, kCheckOut };

std::string StepName(Step s) {
  switch (s) {
    case Step::kSignUp:
      return "SignUp";
    case Step::kCancel:
      return "CancelSignUp";
    case Step::kCheckIn:
      return "CheckIn";
    case Step::kCheckOut:
      return "CheckOut";
  }
  return "";
}

class ParticipationTest : public VolunteersTest, public ::testing::WithParamInterface<Step> {
 protected:
  absl::StatusOr<v1::SignUpResponse> Call(const Caller& c, const std::string& volunteer_id) {
    switch (GetParam()) {
      case Step::kSignUp: {
        auto req = Participation<v1::SignUpRequest>();
        req.set_volunteer_id(volunteer_id);
        return volunteers_.SignUp(req, c);
      }
      case Step::kCancel: {
        auto req = Participation<v1::CancelSignUpRequest>();
        req.set_volunteer_id(volunteer_id);
        return volunteers_.CancelSignUp(req, c);
      }
      case Step::kCheckIn: {
        auto req = Participation<v1::CheckInRequest>();
        req.set_volunteer_id(volunteer_id);
        return volunteers_.CheckIn(req, c);
      }
      case Step::kCheckOut: {
        auto req = Participation<v1::CheckOutRequest>();
        req.set_volunteer_id(volunteer_id);
        return volunteers_.CheckOut(req, c);
      }
    }
    return absl::InternalError("unreachable");
  }

  // The store call the step makes, answering `result`.
  void ExpectStep(const std::string& volunteer_id,
                  const absl::StatusOr<v1::SignUpResponse>& result) {
    const auto a = Str("a-1");
    const auto v = Str(volunteer_id);
    switch (GetParam()) {
      case Step::kSignUp:
        EXPECT_CALL(store_, SignUp(_, a, v, Now())).WillOnce(Return(result));
        break;
      case Step::kCancel:
        EXPECT_CALL(store_, CancelSignUp(_, a, v, Now())).WillOnce(Return(result));
        break;
      case Step::kCheckIn:
        EXPECT_CALL(store_, CheckIn(_, a, v, Now())).WillOnce(Return(result));
        break;
      case Step::kCheckOut:
        EXPECT_CALL(store_, CheckOut(_, a, v, Now())).WillOnce(Return(result));
        break;
    }
  }

  bool SelfAllowed() const { return GetParam() != Step::kCheckOut; }
};

TEST_P(ParticipationTest, TheVolunteerThemselfMayExceptAtCheckOut) {
  if (SelfAllowed()) {
    ExpectStep("v-1", Confirmed());
    absl::StatusOr<v1::SignUpResponse> out = Call(VolunteerCaller("v-1"), "v-1");
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->status(), v1::SIGN_UP_STATUS_CONFIRMED);
    EXPECT_EQ(out->participation().volunteer_id(), "v-1");
  } else {
    EXPECT_THAT(Call(VolunteerCaller("v-1"), "v-1").status(), IsDenied());
  }
}

TEST_P(ParticipationTest, NobodyElseWithoutAStaffRole) {
  EXPECT_THAT(Call(VolunteerCaller("v-2"), "v-1").status(), IsDenied());
  EXPECT_THAT(Call(ResidentCaller("v-1"), "v-1").status(), IsDenied());
  EXPECT_THAT(Call(Department(), "v-1").status(), IsDenied());
}

TEST_P(ParticipationTest, StaffInScopeOfTheActivitysRegion) {
  ExpectGetActivity(StoredActivity(kGrid));
  ExpectStep("v-7", Confirmed());
  EXPECT_TRUE(Call(Staff(Role::kGridLeader), "v-7").ok());

  ExpectGetActivity(StoredActivity(kOtherGrid));
  EXPECT_THAT(Call(Staff(Role::kGridLeader), "v-7").status(), IsDenied());

  // Staff of one building inside the activity's grid do not oversee the grid.
  ExpectGetActivity(StoredActivity(kOtherGrid));
  EXPECT_THAT(Call(Staff(Role::kGridWorker, "3301.07.001.b2"), "v-7").status(), IsDenied());
}

TEST_P(ParticipationTest, TheSystemAnywhere) {
  ExpectStep("v-7", Confirmed());
  EXPECT_TRUE(Call(System(), "v-7").ok());
}

TEST_P(ParticipationTest, StoreErrorsPassThroughUnchanged) {
  const absl::Status refused = absl::FailedPreconditionError("activity a-1 has ended");
  ExpectStep("v-1", refused);
  EXPECT_EQ(Call(System(), "v-1").status(), refused);

  const absl::Status missing = absl::NotFoundError("activity a-1 not found");
  EXPECT_CALL(store_, GetActivity(Str("a-1"))).WillOnce(Return(missing));
  EXPECT_EQ(Call(Staff(), "v-1").status(), missing);
}

INSTANTIATE_TEST_SUITE_P(Steps, ParticipationTest,
                         ::testing::Values(Step::kSignUp, Step::kCancel, Step::kCheckIn,
                                           Step::kCheckOut),
                         [](const ::testing::TestParamInfo<Step>& info) {
                           return StepName(info.param);
                         });

// ---------------------------------------------------------------------------------------
// Service record and leaderboard

TEST_F(VolunteersTest, ServiceRecordForSelfStaffInScopeAndSystem) {
  v1::ServiceRecord record;
  record.set_volunteer_id("v-1");
  record.set_hours(12.5);
  record.set_points(125);
  record.set_next_page_token("more");
  v1::GetServiceRecordRequest req;
  req.set_volunteer_id("v-1");
  req.set_page_size(20);
  req.set_page_token("t");
  EXPECT_CALL(store_, GetServiceRecord(Str("v-1"), 20, Str("t")))
      .Times(3)
      .WillRepeatedly(Return(record));

  absl::StatusOr<v1::ServiceRecord> mine =
      volunteers_.GetServiceRecord(req, VolunteerCaller("v-1"));
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_DOUBLE_EQ(mine->hours(), 12.5);
  EXPECT_EQ(mine->points(), 125);
  EXPECT_EQ(mine->next_page_token(), "more");

  EXPECT_TRUE(volunteers_.GetServiceRecord(req, System()).ok());
  ExpectGet(Stored(kGrid));
  EXPECT_TRUE(volunteers_.GetServiceRecord(req, Staff(Role::kOperator)).ok());
}

TEST_F(VolunteersTest, ServiceRecordIsPrivateToOthers) {
  v1::GetServiceRecordRequest req;
  req.set_volunteer_id("v-1");
  ExpectGet(Stored(kOtherGrid));
  EXPECT_THAT(volunteers_.GetServiceRecord(req, Staff()).status(), IsDenied());
  EXPECT_THAT(volunteers_.GetServiceRecord(req, VolunteerCaller("v-2")).status(), IsDenied());
  EXPECT_THAT(volunteers_.GetServiceRecord(req, ResidentCaller("v-1")).status(), IsDenied());
  EXPECT_THAT(volunteers_.GetServiceRecord(req, Department()).status(), IsDenied());
}

v1::LeaderboardEntry Entry(int rank, const std::string& id, int64_t points) {
  v1::LeaderboardEntry e;
  e.set_rank(rank);
  e.set_volunteer_id(id);
  e.set_name("王芳");
  e.set_points(points);
  return e;
}

TEST_F(VolunteersTest, LeaderboardDefaultsToTenForNowAndAllTime) {
  // 2026-05-28T20:26:40Z is 2026-05-29 in the city.
  clock_.Set(absl::FromUnixSeconds(1'780'000'000));
  v1::ListLeaderboardRequest req;
  req.set_region_code("3301.06");
  EXPECT_CALL(store_, Leaderboard(Str("3301.06"), Str("all"), 10))
      .WillOnce(
          Return(std::vector<v1::LeaderboardEntry>{Entry(1, "v-1", 90), Entry(2, "v-2", 80)}));
  absl::StatusOr<v1::ListLeaderboardResponse> out =
      volunteers_.ListLeaderboard(req, ResidentCaller("r-1"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->period_key(), "all");
  ASSERT_EQ(out->entries_size(), 2);
  EXPECT_EQ(out->entries(0).volunteer_id(), "v-1");
  EXPECT_EQ(out->entries(1).points(), 80);

  req.set_period(v1::LEADERBOARD_PERIOD_MONTH);
  EXPECT_CALL(store_, Leaderboard(_, Str("2026-05"), 10))
      .WillOnce(Return(std::vector<v1::LeaderboardEntry>{}));
  out = volunteers_.ListLeaderboard(req, ResidentCaller("r-1"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->period_key(), "2026-05");
  EXPECT_EQ(out->period_key(), PeriodKey(v1::LEADERBOARD_PERIOD_MONTH, Now()));
}

TEST_F(VolunteersTest, LeaderboardUsesThePeriodContainingAt) {
  v1::ListLeaderboardRequest req;
  req.set_region_code("3301");
  req.set_period(v1::LEADERBOARD_PERIOD_QUARTER);
  req.set_limit(100);
  // New Year's Eve 17:00 UTC is already 1 January in the city.
  const absl::Time at =
      absl::FromCivil(absl::CivilSecond(2025, 12, 31, 17, 0, 0), absl::UTCTimeZone());
  *req.mutable_at() = ToTimestamp(at);
  EXPECT_CALL(store_, Leaderboard(Str("3301"), Str("2026-Q1"), 100))
      .WillOnce(Return(std::vector<v1::LeaderboardEntry>{}));
  absl::StatusOr<v1::ListLeaderboardResponse> out =
      volunteers_.ListLeaderboard(req, VolunteerCaller("v-1"));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->period_key(), "2026-Q1");
}

TEST_F(VolunteersTest, LeaderboardChecksItsRequest) {
  v1::ListLeaderboardRequest req;
  EXPECT_THAT(volunteers_.ListLeaderboard(req, System()).status(),
              InvalidAt("region_code: required"));
  req.set_region_code("3301.");
  EXPECT_THAT(volunteers_.ListLeaderboard(req, System()).status(), InvalidAt("region_code:"));
  req.set_region_code("3301");
  for (int bad : {-1, 101}) {
    req.set_limit(bad);
    EXPECT_THAT(volunteers_.ListLeaderboard(req, System()).status(), InvalidAt("limit:"));
  }
  req.set_limit(0);
  req.set_period(static_cast<v1::LeaderboardPeriod>(99));
  EXPECT_THAT(volunteers_.ListLeaderboard(req, System()).status(), InvalidAt("period:"));
  req.set_period(v1::LEADERBOARD_PERIOD_YEAR);
  req.mutable_at()->set_nanos(-5);
  EXPECT_THAT(volunteers_.ListLeaderboard(req, System()).status(), InvalidAt("at:"));
}

// ---------------------------------------------------------------------------------------
// Store errors

TEST_F(VolunteersTest, StoreErrorsPassThroughUnchanged) {
  const absl::Status taken = absl::AlreadyExistsError("resident r-42 is already volunteer v-1");
  EXPECT_CALL(store_, Register(_, _, _)).WillOnce(Return(taken));
  EXPECT_EQ(volunteers_.RegisterVolunteer(RegisterRequest(), System()).status(), taken);

  const absl::Status missing = absl::NotFoundError("volunteer v-1 not found");
  EXPECT_CALL(store_, Get(Str("v-1"))).Times(4).WillRepeatedly(Return(missing));
  v1::GetVolunteerRequest get;
  get.set_id("v-1");
  EXPECT_EQ(volunteers_.GetVolunteer(get, ResidentCaller("r-1")).status(), missing);
  // The authorization read, too.
  EXPECT_EQ(volunteers_.UpdateVolunteer(UpdateRequest(), Staff()).status(), missing);
  EXPECT_EQ(volunteers_.DeactivateVolunteer(DeactivateRequest(), Staff()).status(), missing);
  v1::GetServiceRecordRequest record;
  record.set_volunteer_id("v-1");
  EXPECT_EQ(volunteers_.GetServiceRecord(record, Staff()).status(), missing);

  const absl::Status stale = absl::AbortedError("volunteer v-1 is at version 4, not 3");
  EXPECT_CALL(store_, Update(_, _, _, _)).WillOnce(Return(stale));
  EXPECT_EQ(volunteers_.UpdateVolunteer(UpdateRequest(), System()).status(), stale);

  const absl::Status reused = absl::InvalidArgumentError("request_id: already used");
  EXPECT_CALL(store_, Deactivate(_, _, _, _)).WillOnce(Return(reused));
  EXPECT_EQ(volunteers_.DeactivateVolunteer(DeactivateRequest(), System()).status(), reused);

  const absl::Status down = absl::UnavailableError("redis: connection refused");
  EXPECT_CALL(store_, List(_, _, _)).WillOnce(Return(down));
  EXPECT_EQ(volunteers_.ListVolunteers({}, System()).status(), down);
  EXPECT_CALL(store_, CreateActivity(_, _, _)).WillOnce(Return(down));
  EXPECT_EQ(volunteers_.CreateActivity(CreateActivityRequest(), System()).status(), down);
  EXPECT_CALL(store_, ListActivities(_, _, _)).WillOnce(Return(down));
  EXPECT_EQ(volunteers_.ListActivities({}, System()).status(), down);
  EXPECT_CALL(store_, Leaderboard(_, _, _)).WillOnce(Return(down));
  v1::ListLeaderboardRequest board;
  board.set_region_code("3301");
  EXPECT_EQ(volunteers_.ListLeaderboard(board, System()).status(), down);

  const absl::Status corrupt = absl::InternalError("corrupt activity a-1");
  EXPECT_CALL(store_, GetActivity(_)).WillOnce(Return(corrupt));
  v1::GetActivityRequest activity;
  activity.set_id("a-1");
  EXPECT_EQ(volunteers_.GetActivity(activity, System()).status(), corrupt);

  EXPECT_CALL(store_, GetServiceRecord(_, _, _)).WillOnce(Return(missing));
  EXPECT_EQ(volunteers_.GetServiceRecord(record, System()).status(), missing);
}

// ResidentService as the volunteer desk asks it: a fixed set of residents, or unreachable.
class FakeResidents final : public StaffDirectory {
 public:
  bool down = false;
  absl::StatusOr<v1::GetResponsibleResponse> Responsible(absl::string_view, absl::Time) override {
    return absl::UnimplementedError("not asked here");
  }
  absl::StatusOr<bool> ResidentExists(absl::string_view id) override {
    if (down) return absl::UnavailableError("residents down");
    return id == "r-42" || id == "r-43";
  }
};

class VolunteerResidentsTest : public ::testing::Test {
 protected:
  VolunteerResidentsTest()
      : catalog_(SkillCatalog::Default()),
        volunteers_(&store_, &catalog_, &clock_, VolunteersOptions(), &residents_) {}

  StrictMock<MockVolunteerStore> store_;
  SkillCatalog catalog_;
  FakeClock clock_;
  FakeResidents residents_;
  Volunteers volunteers_;
};

TEST_F(VolunteerResidentsTest, AVolunteerLinkedToAResidentMustBeOne) {
  v1::RegisterVolunteerRequest req;
  req.set_request_id("reg-1");
  *req.mutable_volunteer() = ValidVolunteer();
  req.mutable_volunteer()->set_resident_id("r-99");
  EXPECT_THAT(volunteers_.RegisterVolunteer(req, System()).status(),
              InvalidAt("volunteer.resident_id: no resident"));

  residents_.down = true;
  req.mutable_volunteer()->set_resident_id("r-42");
  EXPECT_EQ(volunteers_.RegisterVolunteer(req, System()).status().code(),
            absl::StatusCode::kUnavailable);

  residents_.down = false;
  EXPECT_CALL(store_, Register(_, _, _)).WillOnce(RegisteredAs);
  EXPECT_TRUE(volunteers_.RegisterVolunteer(req, System()).ok());
}

TEST_F(VolunteerResidentsTest, OnlyStaffMayChangeWhoAVolunteerIsOnTheLedger) {
  v1::Volunteer stored = Stored();
  stored.set_resident_id("r-42");
  v1::UpdateVolunteerRequest req;
  req.set_request_id("upd-1");
  *req.mutable_volunteer() = ValidVolunteer();
  req.mutable_volunteer()->set_id("v-1");
  req.mutable_volunteer()->set_resident_id("r-43");
  EXPECT_CALL(store_, Get(Str("v-1"))).WillRepeatedly(Return(stored));
  EXPECT_THAT(volunteers_.UpdateVolunteer(req, VolunteerCaller("v-1")).status(), IsDenied());

  // Staff may, to a resident that exists.
  EXPECT_CALL(store_, Update(_, _, _, _)).WillOnce(UpdatedAs);
  EXPECT_TRUE(volunteers_.UpdateVolunteer(req, Staff()).ok());
  req.mutable_volunteer()->set_resident_id("r-99");
  EXPECT_THAT(volunteers_.UpdateVolunteer(req, Staff()).status(),
              InvalidAt("volunteer.resident_id"));

  // Keeping the same link needs no check.
  req.mutable_volunteer()->set_resident_id("r-42");
  EXPECT_CALL(store_, Update(_, _, _, _)).WillOnce(UpdatedAs);
  EXPECT_TRUE(volunteers_.UpdateVolunteer(req, VolunteerCaller("v-1")).ok());
}

}  // namespace
}  // namespace gridloop::dispatch
