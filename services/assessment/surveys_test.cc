#include "services/assessment/surveys.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/clock/proto_time.h"
#include "common/testing/matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/assessment/periods.h"
#include "services/assessment/testing/memory_survey_store.h"

namespace gridloop::assessment {
namespace {

using ::gridloop::testing::StatusIs;
using ::gridloop::testing::StatusOf;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kGrid[] = "3301.06.003";
constexpr char kScope[] = "3301.06";

// 2026-03-10 08:00 in the city.
const absl::Time kT0 =
    absl::FromCivil(absl::CivilSecond(2026, 3, 10, 0, 0, 0), absl::UTCTimeZone());

MATCHER_P(InvalidAt, field, absl::StrCat("is INVALID_ARGUMENT naming ", field)) {
  const absl::Status s = StatusOf(arg);
  *result_listener << "which is " << s;
  return s.code() == absl::StatusCode::kInvalidArgument &&
         absl::StartsWith(s.message(), absl::StrCat(field, ":"));
}
Caller Anonymous() { return Caller{}; }
Caller Staff(Role role = Role::kGridLeader, std::string scope = kScope) {
  return Caller{"staff-1", role, std::move(scope)};
}
Caller Resident(std::string id) { return Caller{std::move(id), Role::kResident, ""}; }

class FakeResidents final : public ResidentRegions {
 public:
  void Set(const std::string& id, const std::string& region) { regions_[id] = region; }
  void FailWith(absl::Status s) { failure_ = std::move(s); }

  absl::StatusOr<std::string> RegionOf(absl::string_view resident_id) override {
    if (!failure_.ok()) return failure_;
    auto it = regions_.find(std::string(resident_id));
    if (it == regions_.end()) return absl::NotFoundError("no such resident");
    return it->second;
  }

 private:
  std::map<std::string, std::string> regions_;
  absl::Status failure_;
};

v1::Question Rating(absl::string_view id, int scale, bool satisfaction, bool required = false) {
  v1::Question q;
  q.set_id(std::string(id));
  q.set_type(v1::QUESTION_TYPE_RATING);
  q.set_text("How satisfied are you with the grid's service?");
  q.set_scale(scale);
  q.set_satisfaction(satisfaction);
  q.set_required(required);
  return q;
}

v1::Question Choice(absl::string_view id, std::vector<std::string> options) {
  v1::Question q;
  q.set_id(std::string(id));
  q.set_type(v1::QUESTION_TYPE_SINGLE_CHOICE);
  q.set_text("小区环境如何？");
  for (std::string& o : options) q.add_options(std::move(o));
  return q;
}

v1::Question FreeText(absl::string_view id) {
  v1::Question q;
  q.set_id(std::string(id));
  q.set_type(v1::QUESTION_TYPE_FREE_TEXT);
  q.set_text("Anything else?");
  return q;
}

// Questions "overall" (1..5, satisfaction, required), "q2" (choice of 3), "q3" (text),
// "clean" (1..3, satisfaction), "q5" (1..10).
v1::DefineSurveyRequest ValidDefine(absl::string_view request_id = "def-1") {
  v1::DefineSurveyRequest req;
  req.set_request_id(std::string(request_id));
  req.set_title("2026 年第一季度满意度调查");
  req.set_region_code(kGrid);
  *req.add_questions() = Rating("overall", 0, /*satisfaction=*/true, /*required=*/true);
  *req.add_questions() = Choice("", {"好", "一般", "差"});
  *req.add_questions() = FreeText("");
  *req.add_questions() = Rating("clean", 3, /*satisfaction=*/true);
  *req.add_questions() = Rating("", 10, /*satisfaction=*/false);
  *req.mutable_closes_at() = ToTimestamp(kT0 + absl::Hours(24 * 60));
  return req;
}

v1::Answer RatingAnswer(absl::string_view question_id, int rating) {
  v1::Answer a;
  a.set_question_id(std::string(question_id));
  a.set_rating(rating);
  return a;
}
v1::Answer ChoiceAnswer(absl::string_view question_id, int choice) {
  v1::Answer a;
  a.set_question_id(std::string(question_id));
  a.set_choice(choice);
  return a;
}
v1::Answer TextAnswer(absl::string_view question_id, absl::string_view text) {
  v1::Answer a;
  a.set_question_id(std::string(question_id));
  a.set_text(std::string(text));
  return a;
}

v1::RespondToSurveyRequest Response(absl::string_view request_id, absl::string_view survey_id,
                                    std::vector<v1::Answer> answers) {
  v1::RespondToSurveyRequest req;
  req.set_request_id(std::string(request_id));
  req.set_survey_id(std::string(survey_id));
  for (v1::Answer& a : answers) *req.add_answers() = std::move(a);
  return req;
}

std::string Repeat(absl::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) absl::StrAppend(&out, s);
  return out;
}

class SurveysTest : public ::testing::Test {
 protected:
  SurveysTest() : clock_(kT0), surveys_(&store_, &residents_, &clock_) {
    residents_.Set("res-1", kGrid);
    residents_.Set("res-2", absl::StrCat(kGrid, ".07"));  // a building inside the grid
    residents_.Set("res-3", kGrid);
    residents_.Set("res-out", "3301.07.001");
    residents_.Set("res-sibling", "3301.06.0031");  // not below 3301.06.003
  }

  std::string MustDefine(const v1::DefineSurveyRequest& req) {
    absl::StatusOr<v1::Survey> s = surveys_.Define(Staff(), req);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? s->id() : "";
  }

  absl::StatusOr<v1::SurveyReceipt> Respond(const std::string& resident,
                                            const v1::RespondToSurveyRequest& req) {
    return surveys_.Respond(Resident(resident), req);
  }

  // A valid response to ValidDefine()'s survey: overall 4, q2 "一般", clean 2.
  v1::RespondToSurveyRequest GoodResponse(absl::string_view request_id,
                                          absl::string_view survey_id) {
    return Response(request_id, survey_id,
                    {RatingAnswer("overall", 4), ChoiceAnswer("q2", 1), RatingAnswer("clean", 2)});
  }

  Tally SurveyTally(absl::string_view region, absl::string_view period) {
    absl::StatusOr<Tally> t = store_.RegionSurveyTally(region, period);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : Tally{};
  }

  FakeClock clock_;
  MemorySurveyStore store_;
  FakeResidents residents_;
  Surveys surveys_;
};

Tally Counted(int64_t responses, int64_t milli) {
  Tally t;
  t[Counter::kSurveyResponses] = responses;
  t[Counter::kSurveySatisfactionMilli] = milli;
  return t;
}

// ---------------------------------------------------------------------------------------
// Define

TEST_F(SurveysTest, DefineStoresTheSurveyWithIdsScaleAndOpeningFilledIn) {
  absl::StatusOr<v1::Survey> s = surveys_.Define(Staff(), ValidDefine());
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->id().empty());
  EXPECT_EQ(s->title(), "2026 年第一季度满意度调查");
  EXPECT_EQ(s->region_code(), kGrid);
  ASSERT_EQ(s->questions_size(), 5);
  EXPECT_EQ(s->questions(0).id(), "overall");
  EXPECT_EQ(s->questions(1).id(), "q2");
  EXPECT_EQ(s->questions(2).id(), "q3");
  EXPECT_EQ(s->questions(3).id(), "clean");
  EXPECT_EQ(s->questions(4).id(), "q5");
  EXPECT_EQ(s->questions(0).scale(), 5);  // 0 means 5
  EXPECT_EQ(s->questions(3).scale(), 3);
  EXPECT_EQ(s->questions(4).scale(), 10);
  EXPECT_TRUE(s->questions(0).satisfaction());
  EXPECT_TRUE(s->questions(0).required());
  EXPECT_THAT(s->questions(1).options(), ElementsAre("好", "一般", "差"));
  EXPECT_EQ(FromTimestamp(s->opens_at()), kT0);
  EXPECT_EQ(FromTimestamp(s->closes_at()), kT0 + absl::Hours(24 * 60));
  EXPECT_EQ(s->created_by(), "staff-1");
  EXPECT_EQ(FromTimestamp(s->created_at()), kT0);
  EXPECT_EQ(s->responses(), 0);

  absl::StatusOr<v1::Survey> got = store_.GetSurvey(s->id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->SerializeAsString(), s->SerializeAsString());
}

TEST_F(SurveysTest, DefineKeepsAGivenOpeningTime) {
  v1::DefineSurveyRequest req = ValidDefine();
  *req.mutable_opens_at() = ToTimestamp(kT0 + absl::Hours(24));
  absl::StatusOr<v1::Survey> s = surveys_.Define(Staff(), req);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(FromTimestamp(s->opens_at()), kT0 + absl::Hours(24));
}

TEST_F(SurveysTest, AssignedQuestionIdsSkipThoseGivenExplicitly) {
  v1::DefineSurveyRequest req = ValidDefine();
  req.clear_questions();
  *req.add_questions() = FreeText("");
  *req.add_questions() = FreeText("q1");
  *req.add_questions() = FreeText("");
  *req.add_questions() = FreeText("q4");
  absl::StatusOr<v1::Survey> s = surveys_.Define(Staff(), req);
  ASSERT_TRUE(s.ok()) << s.status();
  std::vector<std::string> ids;
  for (const v1::Question& q : s->questions()) ids.push_back(q.id());
  EXPECT_THAT(ids, ElementsAre("q2", "q1", "q3", "q4"));
}

TEST_F(SurveysTest, DefineRejectsEachInvalidFieldByName) {
  struct Case {
    std::string field;
    std::function<void(v1::DefineSurveyRequest&)> change;
  };
  const std::vector<Case> cases = {
      {"request_id", [](auto& r) { r.clear_request_id(); }},
      {"request_id", [](auto& r) { r.set_request_id(std::string(129, 'a')); }},
      {"request_id", [](auto& r) { r.set_request_id("has space"); }},
      {"title", [](auto& r) { r.clear_title(); }},
      {"title", [](auto& r) { r.set_title("   "); }},
      {"title", [](auto& r) { r.set_title(Repeat("调", 201)); }},
      {"title", [](auto& r) { r.set_title("bad\xff"); }},
      {"region_code", [](auto& r) { r.clear_region_code(); }},
      {"region_code", [](auto& r) { r.set_region_code("3301..06"); }},
      {"region_code", [](auto& r) { r.set_region_code("3301 06"); }},
      {"questions", [](auto& r) { r.clear_questions(); }},
      {"questions",
       [](auto& r) {
         for (int i = 0; i < 96; ++i) *r.add_questions() = FreeText("");
       }},
      {"questions[3].id", [](auto& r) { r.mutable_questions(3)->set_id("overall"); }},
      {"questions[0].id", [](auto& r) { r.mutable_questions(0)->set_id("a|b"); }},
      {"questions[0].id", [](auto& r) { r.mutable_questions(0)->set_id(std::string(33, 'x')); }},
      {"questions[2].type",
       [](auto& r) { r.mutable_questions(2)->set_type(v1::QUESTION_TYPE_UNSPECIFIED); }},
      {"questions[2].type",
       [](auto& r) { r.mutable_questions(2)->set_type(static_cast<v1::QuestionType>(9)); }},
      {"questions[0].text", [](auto& r) { r.mutable_questions(0)->clear_text(); }},
      {"questions[0].text", [](auto& r) { r.mutable_questions(0)->set_text(Repeat("x", 501)); }},
      {"questions[1].options",
       [](auto& r) {
         r.mutable_questions(1)->clear_options();
         r.mutable_questions(1)->add_options("only one");
       }},
      {"questions[1].options",
       [](auto& r) {
         for (int i = 0; i < 18; ++i) r.mutable_questions(1)->add_options(absl::StrCat(i));
       }},
      {"questions[1].options[1]", [](auto& r) { r.mutable_questions(1)->set_options(1, ""); }},
      {"questions[0].options", [](auto& r) { r.mutable_questions(0)->add_options("x"); }},
      {"questions[2].options", [](auto& r) { r.mutable_questions(2)->add_options("x"); }},
      {"questions[0].scale", [](auto& r) { r.mutable_questions(0)->set_scale(1); }},
      {"questions[0].scale", [](auto& r) { r.mutable_questions(0)->set_scale(11); }},
      {"questions[0].scale", [](auto& r) { r.mutable_questions(0)->set_scale(-5); }},
      {"questions[1].scale", [](auto& r) { r.mutable_questions(1)->set_scale(5); }},
      {"questions[1].satisfaction",
       [](auto& r) { r.mutable_questions(1)->set_satisfaction(true); }},
      {"questions[2].satisfaction",
       [](auto& r) { r.mutable_questions(2)->set_satisfaction(true); }},
      {"closes_at", [](auto& r) { r.clear_closes_at(); }},
      {"closes_at", [](auto& r) { *r.mutable_closes_at() = ToTimestamp(kT0); }},
      {"closes_at", [](auto& r) { *r.mutable_closes_at() = ToTimestamp(kT0 - absl::Hours(1)); }},
      {"closes_at",
       [](auto& r) { *r.mutable_opens_at() = ToTimestamp(kT0 + absl::Hours(24 * 61)); }},
      {"closes_at", [](auto& r) { r.mutable_closes_at()->set_nanos(-1); }},
      {"opens_at", [](auto& r) { r.mutable_opens_at()->set_nanos(1'000'000'000); }},
  };
  for (const Case& c : cases) {
    v1::DefineSurveyRequest req = ValidDefine();
    c.change(req);
    EXPECT_THAT(surveys_.Define(Staff(), req), InvalidAt(c.field)) << req.ShortDebugString();
  }
  EXPECT_TRUE(store_.recorded().empty());
  EXPECT_THAT(store_.GetSurvey("sv1"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SurveysTest, DefineAcceptsEveryLimitItself) {
  v1::DefineSurveyRequest req = ValidDefine();
  req.set_request_id(std::string(128, 'r'));
  req.set_title(Repeat("调", 200));
  req.mutable_questions(0)->set_scale(2);
  req.mutable_questions(3)->set_scale(10);
  req.mutable_questions(0)->set_text(Repeat("问", 500));
  for (int i = 3; i < 20; ++i) req.mutable_questions(1)->add_options(absl::StrCat("option ", i));
  for (int i = 5; i < 100; ++i) *req.add_questions() = FreeText("");
  absl::StatusOr<v1::Survey> s = surveys_.Define(Staff(), req);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->questions_size(), 100);
  EXPECT_EQ(s->questions(1).options_size(), 20);
  EXPECT_EQ(s->questions(99).id(), "q100");

  v1::DefineSurveyRequest two = ValidDefine("def-2");
  two.mutable_questions(1)->clear_options();
  two.mutable_questions(1)->add_options("是");
  two.mutable_questions(1)->add_options("否");
  EXPECT_TRUE(surveys_.Define(Staff(), two).ok());
}

TEST_F(SurveysTest, OnlyStaffWithinTheRegionDefineSurveys) {
  const v1::DefineSurveyRequest req = ValidDefine();
  EXPECT_THAT(surveys_.Define(Anonymous(), req), StatusIs(absl::StatusCode::kUnauthenticated));
  for (Role role :
       {Role::kResident, Role::kGridWorker, Role::kVolunteer, Role::kDepartment, Role::kSystem}) {
    EXPECT_THAT(surveys_.Define(Staff(role), req), StatusIs(absl::StatusCode::kPermissionDenied))
        << RoleName(role);
  }
  // A role that may never define is refused before its request is looked at.
  v1::DefineSurveyRequest invalid = req;
  invalid.clear_title();
  EXPECT_THAT(surveys_.Define(Staff(Role::kResident), invalid),
              StatusIs(absl::StatusCode::kPermissionDenied));

  EXPECT_THAT(surveys_.Define(Staff(Role::kGridLeader, "3301.07"), req),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(surveys_.Define(Staff(Role::kGridLeader, ""), req),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(surveys_.Define(Staff(Role::kGridLeader, "3301.06.00"), req),
              StatusIs(absl::StatusCode::kPermissionDenied));

  int n = 0;
  for (auto [role, scope] : std::vector<std::pair<Role, std::string>>{
           {Role::kGridLeader, kGrid}, {Role::kSupervisor, "3301"}, {Role::kOperator, kScope}}) {
    absl::StatusOr<v1::Survey> s =
        surveys_.Define(Staff(role, scope), ValidDefine(absl::StrCat("ok-", ++n)));
    EXPECT_TRUE(s.ok()) << RoleName(role) << ": " << s.status();
  }
}

TEST_F(SurveysTest, RepeatingADefinitionReturnsTheSameSurveyAndReusingItsIdIsRefused) {
  const v1::DefineSurveyRequest req = ValidDefine("def-1");
  absl::StatusOr<v1::Survey> first = surveys_.Define(Staff(), req);
  ASSERT_TRUE(first.ok()) << first.status();

  clock_.Advance(absl::Minutes(5));  // opens_at "now" must not make the repeat differ
  absl::StatusOr<v1::Survey> again = surveys_.Define(Staff(), req);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id(), first->id());
  EXPECT_EQ(FromTimestamp(again->opens_at()), kT0);

  v1::DefineSurveyRequest other = req;
  other.set_title("Another title");
  absl::StatusOr<v1::Survey> clash = surveys_.Define(Staff(), other);
  EXPECT_THAT(clash, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(clash.status().message(), HasSubstr("request_id"));

  Caller someone_else = Staff(Role::kSupervisor);
  someone_else.person_id = "staff-2";
  EXPECT_THAT(surveys_.Define(someone_else, req), StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(SurveysTest, StoreFailuresPassThrough) {
  store_.FailWith(absl::UnavailableError("redis down"));
  EXPECT_THAT(surveys_.Define(Staff(), ValidDefine()), StatusIs(absl::StatusCode::kUnavailable));
  v1::GetSurveyRequest get;
  get.set_survey_id("sv1");
  EXPECT_THAT(surveys_.Get(Staff(), get), StatusIs(absl::StatusCode::kUnavailable));
}

// ---------------------------------------------------------------------------------------
// Get

TEST_F(SurveysTest, GetReturnsTheSurveyWithItsResponseCount) {
  const std::string id = MustDefine(ValidDefine());
  ASSERT_TRUE(Respond("res-1", GoodResponse("a", id)).ok());
  ASSERT_TRUE(Respond("res-2", GoodResponse("b", id)).ok());

  v1::GetSurveyRequest req;
  req.set_survey_id(id);
  absl::StatusOr<v1::Survey> s = surveys_.Get(Staff(), req);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->id(), id);
  EXPECT_EQ(s->responses(), 2);
  EXPECT_EQ(s->questions_size(), 5);

  // Any resident may read it (to answer it); staff only within the region.
  EXPECT_TRUE(surveys_.Get(Resident("res-out"), req).ok());
  EXPECT_TRUE(surveys_.Get(Staff(Role::kOperator, "3301"), req).ok());
  EXPECT_THAT(surveys_.Get(Staff(Role::kGridLeader, "3301.07"), req),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(surveys_.Get(Staff(Role::kGridWorker), req),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(surveys_.Get(Staff(Role::kVolunteer), req),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(surveys_.Get(Anonymous(), req), StatusIs(absl::StatusCode::kUnauthenticated));

  req.set_survey_id("sv404");
  EXPECT_THAT(surveys_.Get(Staff(), req), StatusIs(absl::StatusCode::kNotFound));
  req.clear_survey_id();
  EXPECT_THAT(surveys_.Get(Staff(), req), InvalidAt("survey_id"));
  req.set_survey_id("a:b");
  EXPECT_THAT(surveys_.Get(Staff(), req), InvalidAt("survey_id"));
}

// ---------------------------------------------------------------------------------------
// Respond

TEST_F(SurveysTest, RespondRecordsTheAnswersAndReturnsAReceipt) {
  const std::string id = MustDefine(ValidDefine());
  clock_.Advance(absl::Hours(1));
  v1::RespondToSurveyRequest req = Response(
      "r-1", id,
      {RatingAnswer("overall", 4), ChoiceAnswer("q2", 2), TextAnswer("q3", "路灯坏了\n请修"),
       RatingAnswer("clean", 2), RatingAnswer("q5", 10)});
  req.mutable_answers(0)->set_text("ignored for a rating");
  req.mutable_answers(1)->set_rating(3);
  absl::StatusOr<v1::SurveyReceipt> receipt = Respond("res-1", req);
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  EXPECT_EQ(receipt->survey_id(), id);
  EXPECT_FALSE(receipt->response_id().empty());
  EXPECT_EQ(FromTimestamp(receipt->received_at()), kT0 + absl::Hours(1));
  // overall (4-1)/(5-1) = 0.75 and clean (2-1)/(3-1) = 0.5; q5 is no satisfaction question.
  EXPECT_DOUBLE_EQ(receipt->satisfaction(), 0.625);

  const std::vector<SurveyResponse> recorded = store_.recorded();
  ASSERT_EQ(recorded.size(), 1u);
  const SurveyResponse& r = recorded[0];
  EXPECT_EQ(r.respondent_id, "res-1");
  EXPECT_EQ(r.request_id, "r-1");
  EXPECT_FALSE(r.fingerprint.empty());
  EXPECT_EQ(r.satisfaction_milli, 625);
  ASSERT_EQ(r.answers.size(), 5u);
  // Only the field of each question's type is kept.
  EXPECT_EQ(r.answers[0].SerializeAsString(), RatingAnswer("overall", 4).SerializeAsString());
  EXPECT_EQ(r.answers[1].SerializeAsString(), ChoiceAnswer("q2", 2).SerializeAsString());
  EXPECT_EQ(r.answers[2].text(), "路灯坏了\n请修");
}

TEST_F(SurveysTest, SatisfactionIsTheMeanOverTheAnsweredSatisfactionQuestions) {
  const std::string id = MustDefine(ValidDefine());
  // Only "overall" answered among the satisfaction questions: (5-1)/(5-1).
  absl::StatusOr<v1::SurveyReceipt> top =
      Respond("res-1", Response("a", id, {RatingAnswer("overall", 5), RatingAnswer("q5", 1)}));
  ASSERT_TRUE(top.ok()) << top.status();
  EXPECT_DOUBLE_EQ(top->satisfaction(), 1.0);
  // Lowest on both: 0.
  absl::StatusOr<v1::SurveyReceipt> low =
      Respond("res-2", Response("b", id, {RatingAnswer("overall", 1), RatingAnswer("clean", 1)}));
  ASSERT_TRUE(low.ok()) << low.status();
  EXPECT_DOUBLE_EQ(low->satisfaction(), 0.0);

  // A seven-point scale: (2-1)/(7-1) = 0.1666..., counted as 167 thousandths.
  v1::DefineSurveyRequest seven = ValidDefine("def-7");
  seven.clear_questions();
  *seven.add_questions() = Rating("s", 7, true, true);
  const std::string seven_id = MustDefine(seven);
  absl::StatusOr<v1::SurveyReceipt> sixth =
      Respond("res-1", Response("c", seven_id, {RatingAnswer("s", 2)}));
  ASSERT_TRUE(sixth.ok()) << sixth.status();
  EXPECT_DOUBLE_EQ(sixth->satisfaction(), 1.0 / 6.0);

  const std::vector<SurveyResponse> recorded = store_.recorded();
  ASSERT_EQ(recorded.size(), 3u);
  EXPECT_EQ(recorded[0].satisfaction_milli, 1000);
  EXPECT_EQ(recorded[1].satisfaction_milli, 0);
  EXPECT_EQ(recorded[2].satisfaction_milli, 167);
  const std::string month = PeriodOf(v1::PERIOD_MONTH, kT0).key;
  EXPECT_EQ(SurveyTally(kGrid, month), Counted(3, 1167));
}

TEST_F(SurveysTest, AResponseWithoutSatisfactionAnswersCountsTowardNoTally) {
  v1::DefineSurveyRequest req = ValidDefine();
  req.clear_questions();
  *req.add_questions() = Choice("", {"yes", "no"});
  *req.add_questions() = Rating("", 5, /*satisfaction=*/false);
  *req.add_questions() = Rating("sat", 5, /*satisfaction=*/true);  // optional, left out
  const std::string id = MustDefine(req);
  absl::StatusOr<v1::SurveyReceipt> receipt =
      Respond("res-1", Response("a", id, {ChoiceAnswer("q1", 0), RatingAnswer("q2", 5)}));
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  EXPECT_EQ(receipt->satisfaction(), -1);

  const std::vector<SurveyResponse> recorded = store_.recorded();
  ASSERT_EQ(recorded.size(), 1u);
  EXPECT_THAT(recorded[0].tally_regions, IsEmpty());
  EXPECT_THAT(recorded[0].tally_periods, IsEmpty());
  for (const PeriodSpan& p : PeriodsOf(kT0)) {
    EXPECT_TRUE(SurveyTally(kGrid, p.key).empty()) << p.key;
  }
}

TEST_F(SurveysTest, ATallyIsAddedForTheRespondentsRegionAndAboveInEveryPeriodInCityTime) {
  v1::DefineSurveyRequest req = ValidDefine();
  *req.mutable_opens_at() = ToTimestamp(kT0);
  const std::string id = MustDefine(req);

  // 2026-03-31T16:30Z is 2026-04-01 00:30 in the city: April's day, week 14, month,
  // the second quarter.
  clock_.Set(absl::FromCivil(absl::CivilSecond(2026, 3, 31, 16, 30, 0), absl::UTCTimeZone()));
  ASSERT_TRUE(Respond("res-1", GoodResponse("a", id)).ok());  // 0.625
  // A second before city midnight still lands in March.
  clock_.Set(absl::FromCivil(absl::CivilSecond(2026, 3, 31, 15, 59, 59), absl::UTCTimeZone()));
  ASSERT_TRUE(
      Respond("res-2", Response("b", id, {RatingAnswer("overall", 5), RatingAnswer("clean", 3)}))
          .ok());

  const std::vector<SurveyResponse> recorded = store_.recorded();
  ASSERT_EQ(recorded.size(), 2u);
  EXPECT_THAT(recorded[0].tally_regions, ElementsAre("3301", "3301.06", "3301.06.003"));
  EXPECT_THAT(recorded[0].tally_periods,
              ElementsAre("2026-04-01", "2026-W14", "2026-04", "2026-Q2", "2026"));
  EXPECT_THAT(recorded[1].tally_periods,
              ElementsAre("2026-03-31", "2026-W14", "2026-03", "2026-Q1", "2026"));

  for (absl::string_view region : {"3301", "3301.06", "3301.06.003"}) {
    for (absl::string_view period : {"2026-04-01", "2026-04", "2026-Q2"}) {
      EXPECT_EQ(SurveyTally(region, period), Counted(1, 625)) << region << " " << period;
    }
    for (absl::string_view period : {"2026-03-31", "2026-03", "2026-Q1"}) {
      EXPECT_EQ(SurveyTally(region, period), Counted(1, 1000)) << region << " " << period;
    }
    for (absl::string_view period : {"2026-W14", "2026"}) {
      EXPECT_EQ(SurveyTally(region, period), Counted(2, 1625)) << region << " " << period;
    }
  }
  // Each response also counts where its resident lives, below the survey's region, and
  // nowhere beside it.
  EXPECT_EQ(SurveyTally("3301.06.003.07", "2026"), Counted(1, 1000));
  EXPECT_TRUE(SurveyTally("3301.06.003", "2026") == Counted(2, 1625));
  EXPECT_TRUE(SurveyTally("3301.07", "2026").empty());
}

TEST_F(SurveysTest, OnlySignedInResidentsRespond) {
  const std::string id = MustDefine(ValidDefine());
  const v1::RespondToSurveyRequest req = GoodResponse("a", id);
  EXPECT_THAT(surveys_.Respond(Anonymous(), req), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(surveys_.Respond(Staff(), req), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(surveys_.Respond(Caller{"v-1", Role::kVolunteer, ""}, req),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(surveys_.Respond(Caller{"", Role::kResident, ""}, req),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_TRUE(store_.recorded().empty());
}

TEST_F(SurveysTest, TheResidentMustLiveWithinTheSurveysRegion) {
  const std::string id = MustDefine(ValidDefine());
  absl::StatusOr<v1::SurveyReceipt> out = Respond("res-out", GoodResponse("a", id));
  EXPECT_THAT(out, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(out.status().message(), HasSubstr("3301.07.001"));
  EXPECT_THAT(out.status().message(), HasSubstr(kGrid));
  EXPECT_THAT(Respond("res-sibling", GoodResponse("b", id)),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Respond("res-unknown", GoodResponse("c", id)),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_TRUE(store_.recorded().empty());

  EXPECT_TRUE(Respond("res-2", GoodResponse("d", id)).ok());  // lives below the grid

  residents_.FailWith(absl::UnavailableError("residents down"));
  EXPECT_THAT(Respond("res-1", GoodResponse("e", id)), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(SurveysTest, ResponsesAreTakenFromOpeningUntilJustBeforeClosing) {
  v1::DefineSurveyRequest req = ValidDefine();
  const absl::Time opens = kT0 + absl::Hours(24);
  const absl::Time closes = kT0 + absl::Hours(48);
  *req.mutable_opens_at() = ToTimestamp(opens);
  *req.mutable_closes_at() = ToTimestamp(closes);
  const std::string id = MustDefine(req);

  clock_.Set(opens - absl::Nanoseconds(1));
  EXPECT_THAT(Respond("res-1", GoodResponse("a", id)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  clock_.Set(opens);
  EXPECT_TRUE(Respond("res-1", GoodResponse("a", id)).ok());
  clock_.Set(closes - absl::Nanoseconds(1));
  EXPECT_TRUE(Respond("res-2", GoodResponse("b", id)).ok());
  clock_.Set(closes);
  EXPECT_THAT(Respond("res-3", GoodResponse("c", id)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(store_.recorded().size(), 2u);
}

TEST_F(SurveysTest, RespondRejectsEachInvalidAnswerByName) {
  const std::string id = MustDefine(ValidDefine());
  struct Case {
    std::string field;
    std::vector<v1::Answer> answers;
  };
  const std::vector<Case> cases = {
      {"answers", {}},
      {"answers", {RatingAnswer("clean", 2)}},  // "overall" is required
      {"answers[1].question_id", {RatingAnswer("overall", 3), RatingAnswer("nope", 1)}},
      {"answers[1].question_id", {RatingAnswer("overall", 3), RatingAnswer("", 1)}},
      {"answers[1].question_id", {RatingAnswer("overall", 3), RatingAnswer("overall", 4)}},
      {"answers[1].choice", {RatingAnswer("overall", 3), ChoiceAnswer("q2", 3)}},
      {"answers[1].choice", {RatingAnswer("overall", 3), ChoiceAnswer("q2", -1)}},
      {"answers[0].rating", {RatingAnswer("overall", 0)}},
      {"answers[0].rating", {RatingAnswer("overall", 6)}},
      {"answers[2].rating",
       {RatingAnswer("overall", 3), ChoiceAnswer("q2", 0), RatingAnswer("clean", 4)}},
      {"answers[1].text", {RatingAnswer("overall", 3), TextAnswer("q3", "")}},
      {"answers[1].text", {RatingAnswer("overall", 3), TextAnswer("q3", "  \n ")}},
      {"answers[1].text", {RatingAnswer("overall", 3), TextAnswer("q3", Repeat("字", 2001))}},
      {"answers[1].text", {RatingAnswer("overall", 3), TextAnswer("q3", "bell\a")}},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(Respond("res-1", Response("a", id, c.answers)), InvalidAt(c.field)) << c.field;
  }
  EXPECT_THAT(Respond("res-1", Response("", id, {RatingAnswer("overall", 3)})),
              InvalidAt("request_id"));
  EXPECT_THAT(Respond("res-1", Response("a", "", {RatingAnswer("overall", 3)})),
              InvalidAt("survey_id"));
  EXPECT_THAT(Respond("res-1", Response("a", "sv404", {RatingAnswer("overall", 3)})),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(store_.recorded().empty());

  // The longest text is fine.
  EXPECT_TRUE(
      Respond("res-1",
              Response("a", id, {RatingAnswer("overall", 3), TextAnswer("q3", Repeat("字", 2000))}))
          .ok());
}

TEST_F(SurveysTest, AResidentRespondsOnceAndARepeatReturnsTheFirstReceipt) {
  const std::string id = MustDefine(ValidDefine());
  const v1::RespondToSurveyRequest req = GoodResponse("r-1", id);
  absl::StatusOr<v1::SurveyReceipt> first = Respond("res-1", req);
  ASSERT_TRUE(first.ok()) << first.status();

  clock_.Advance(absl::Minutes(3));
  absl::StatusOr<v1::SurveyReceipt> again = Respond("res-1", req);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->SerializeAsString(), first->SerializeAsString());

  EXPECT_THAT(Respond("res-1", GoodResponse("r-2", id)),
              StatusIs(absl::StatusCode::kAlreadyExists));
  v1::RespondToSurveyRequest changed = req;
  changed.mutable_answers(0)->set_rating(1);
  EXPECT_THAT(Respond("res-1", changed), StatusIs(absl::StatusCode::kAlreadyExists));

  // Another resident may reuse the same request id: ids belong to their caller.
  EXPECT_TRUE(Respond("res-3", req).ok());

  // After closing, the retry still gets its receipt; a new response gets the window's error.
  clock_.Set(kT0 + absl::Hours(24 * 60));
  absl::StatusOr<v1::SurveyReceipt> late = Respond("res-1", req);
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_EQ(late->response_id(), first->response_id());
  EXPECT_THAT(Respond("res-1", changed), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Respond("res-2", GoodResponse("r-9", id)),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  EXPECT_EQ(store_.recorded().size(), 2u);
  const std::string month = PeriodOf(v1::PERIOD_MONTH, kT0).key;
  EXPECT_EQ(SurveyTally(kGrid, month), Counted(2, 1250));
  v1::GetSurveyRequest get;
  get.set_survey_id(id);
  absl::StatusOr<v1::Survey> s = surveys_.Get(Staff(), get);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->responses(), 2);
}

// ---------------------------------------------------------------------------------------
// Results

TEST_F(SurveysTest, ResultsCountEachQuestionAndAverageTheSatisfaction) {
  const std::string id = MustDefine(ValidDefine());
  ASSERT_TRUE(Respond("res-1", Response("a", id,
                                        {RatingAnswer("overall", 5), ChoiceAnswer("q2", 0),
                                         TextAnswer("q3", "first"), RatingAnswer("q5", 7)}))
                  .ok());  // satisfaction 1.0
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(Respond("res-2", Response("b", id,
                                        {RatingAnswer("overall", 3), ChoiceAnswer("q2", 2),
                                         TextAnswer("q3", "second"), RatingAnswer("clean", 1)}))
                  .ok());  // (0.5 + 0) / 2 = 0.25
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(
      Respond("res-3", Response("c", id, {RatingAnswer("overall", 3), ChoiceAnswer("q2", 0)}))
          .ok());  // 0.5

  v1::GetSurveyResultsRequest req;
  req.set_survey_id(id);
  absl::StatusOr<v1::SurveyResults> r = surveys_.Results(Staff(), req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->survey().id(), id);
  EXPECT_EQ(r->survey().responses(), 3);
  EXPECT_EQ(r->responses(), 3);
  EXPECT_EQ(r->satisfaction_responses(), 3);
  EXPECT_DOUBLE_EQ(r->satisfaction(), (1.0 + 0.25 + 0.5) / 3);
  ASSERT_EQ(r->questions_size(), 5);

  const v1::QuestionResult& overall = r->questions(0);
  EXPECT_EQ(overall.question_id(), "overall");
  EXPECT_EQ(overall.answered(), 3);
  EXPECT_THAT(overall.option_counts(), ElementsAre(0, 0, 2, 0, 1));
  EXPECT_DOUBLE_EQ(overall.average_rating(), 11.0 / 3);

  const v1::QuestionResult& choice = r->questions(1);
  EXPECT_EQ(choice.question_id(), "q2");
  EXPECT_EQ(choice.answered(), 3);
  EXPECT_THAT(choice.option_counts(), ElementsAre(2, 0, 1));
  EXPECT_EQ(choice.average_rating(), 0);

  const v1::QuestionResult& text = r->questions(2);
  EXPECT_EQ(text.answered(), 2);
  EXPECT_THAT(text.option_counts(), IsEmpty());
  EXPECT_THAT(text.texts(), ElementsAre("second", "first"));

  const v1::QuestionResult& clean = r->questions(3);
  EXPECT_EQ(clean.answered(), 1);
  EXPECT_THAT(clean.option_counts(), ElementsAre(1, 0, 0));
  EXPECT_DOUBLE_EQ(clean.average_rating(), 1.0);

  const v1::QuestionResult& ten = r->questions(4);
  EXPECT_EQ(ten.answered(), 1);
  EXPECT_EQ(ten.option_counts_size(), 10);
  EXPECT_EQ(ten.option_counts(6), 1);
  EXPECT_DOUBLE_EQ(ten.average_rating(), 7.0);
}

TEST_F(SurveysTest, ResultsOfASurveyWithoutResponsesAreZero) {
  const std::string id = MustDefine(ValidDefine());
  v1::GetSurveyResultsRequest req;
  req.set_survey_id(id);
  absl::StatusOr<v1::SurveyResults> r = surveys_.Results(Staff(), req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->responses(), 0);
  EXPECT_EQ(r->satisfaction(), 0);
  EXPECT_EQ(r->satisfaction_responses(), 0);
  ASSERT_EQ(r->questions_size(), 5);
  EXPECT_THAT(r->questions(0).option_counts(), ElementsAre(0, 0, 0, 0, 0));
  EXPECT_EQ(r->questions(0).average_rating(), 0);
  EXPECT_THAT(r->questions(2).texts(), IsEmpty());
}

TEST_F(SurveysTest, ResultsShowTheNewestTextsUpToThePageSize) {
  v1::DefineSurveyRequest def = ValidDefine();
  def.clear_questions();
  *def.add_questions() = FreeText("say");
  const std::string id = MustDefine(def);
  for (int i = 0; i < 25; ++i) {
    const std::string resident = absl::StrCat("many-", i);
    residents_.Set(resident, kGrid);
    ASSERT_TRUE(
        Respond(resident, Response("a", id, {TextAnswer("say", absl::StrCat("t", i))})).ok());
  }
  v1::GetSurveyResultsRequest req;
  req.set_survey_id(id);
  absl::StatusOr<v1::SurveyResults> r = surveys_.Results(Staff(), req);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->questions(0).texts_size(), 20);  // 0 means 20
  EXPECT_EQ(r->questions(0).texts(0), "t24");
  EXPECT_EQ(r->questions(0).texts(19), "t5");
  EXPECT_EQ(r->satisfaction_responses(), 0);

  req.set_text_page_size(3);
  r = surveys_.Results(Staff(), req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->questions(0).texts(), ElementsAre("t24", "t23", "t22"));
  req.set_text_page_size(200);
  r = surveys_.Results(Staff(), req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->questions(0).texts_size(), 25);

  req.set_text_page_size(201);
  EXPECT_THAT(surveys_.Results(Staff(), req), InvalidAt("text_page_size"));
  req.set_text_page_size(-1);
  EXPECT_THAT(surveys_.Results(Staff(), req), InvalidAt("text_page_size"));
}

TEST_F(SurveysTest, OnlyStaffWithinTheRegionReadResults) {
  const std::string id = MustDefine(ValidDefine());
  v1::GetSurveyResultsRequest req;
  req.set_survey_id(id);
  EXPECT_TRUE(surveys_.Results(Staff(Role::kSupervisor, "3301"), req).ok());
  EXPECT_TRUE(surveys_.Results(Staff(Role::kOperator, kGrid), req).ok());
  EXPECT_THAT(surveys_.Results(Anonymous(), req), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(surveys_.Results(Resident("res-1"), req),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(surveys_.Results(Staff(Role::kGridWorker), req),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(surveys_.Results(Staff(Role::kGridLeader, "3301.07"), req),
              StatusIs(absl::StatusCode::kPermissionDenied));
  req.set_survey_id("sv404");
  EXPECT_THAT(surveys_.Results(Staff(), req), StatusIs(absl::StatusCode::kNotFound));
  req.clear_survey_id();
  EXPECT_THAT(surveys_.Results(Staff(), req), InvalidAt("survey_id"));
}

}  // namespace
}  // namespace gridloop::assessment
