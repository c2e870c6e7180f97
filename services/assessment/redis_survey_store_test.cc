// RedisSurveyStore against a real redis-server: every method of the port, its idempotency
// and its guarantees under concurrent responses.

#include "services/assessment/redis_survey_store.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/clock/proto_time.h"
#include "common/redis/redis_client.h"
#include "common/testing/matchers.h"
#include "common/testing/redis_server.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace gridloop::assessment {
namespace {

using ::gridloop::testing::EqualsProto;
using ::gridloop::testing::StatusIs;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const absl::Time kT0 = absl::FromUnixSeconds(1'775'000'000);
const std::vector<std::string> kRegions = {"3301", "3301.06", "3301.06.003"};
const std::vector<std::string> kPeriods = {"2026-04-01", "2026-W14", "2026-04", "2026-Q2", "2026"};

// One redis-server for the whole binary, emptied before each test.
class RedisEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<gridloop::testing::RedisServer>> server =
        gridloop::testing::RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    redis::Options options;
    options.host = (*server)->host();
    options.port = (*server)->port();
    options.pool_size = 16;
    absl::StatusOr<std::unique_ptr<redis::Client>> client = redis::Connect(options);
    ASSERT_TRUE(client.ok()) << client.status();
    server_ = std::move(*server);
    client_ = std::move(*client);
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
  }

  static redis::Client* client() { return client_.get(); }

 private:
  static std::unique_ptr<gridloop::testing::RedisServer> server_;
  static std::unique_ptr<redis::Client> client_;
};

std::unique_ptr<gridloop::testing::RedisServer> RedisEnvironment::server_;
std::unique_ptr<redis::Client> RedisEnvironment::client_;

::testing::Environment* const kRedisEnvironment =
    ::testing::AddGlobalTestEnvironment(new RedisEnvironment);

// Questions "sat" (1..5, satisfaction), "pick" (4 options), "say" (text), "ten" (1..10).
v1::Survey Definition() {
  v1::Survey s;
  s.set_title("文明指数测评");
  s.set_region_code("3301.06.003");
  v1::Question* sat = s.add_questions();
  sat->set_id("sat");
  sat->set_type(v1::QUESTION_TYPE_RATING);
  sat->set_text("How satisfied are you?");
  sat->set_scale(5);
  sat->set_satisfaction(true);
  sat->set_required(true);
  v1::Question* pick = s.add_questions();
  pick->set_id("pick");
  pick->set_type(v1::QUESTION_TYPE_SINGLE_CHOICE);
  pick->set_text("Which matters most?");
  for (const char* o : {"safety", "cleanliness", "noise", "parking"}) pick->add_options(o);
  v1::Question* say = s.add_questions();
  say->set_id("say");
  say->set_type(v1::QUESTION_TYPE_FREE_TEXT);
  say->set_text("Anything else?");
  v1::Question* ten = s.add_questions();
  ten->set_id("ten");
  ten->set_type(v1::QUESTION_TYPE_RATING);
  ten->set_text("Rate the lighting");
  ten->set_scale(10);
  *s.mutable_opens_at() = ToTimestamp(kT0);
  *s.mutable_closes_at() = ToTimestamp(kT0 + absl::Hours(24 * 30));
  s.set_created_by("staff-1");
  *s.mutable_created_at() = ToTimestamp(kT0);
  return s;
}

v1::Answer Rating(absl::string_view q, int rating) {
  v1::Answer a;
  a.set_question_id(std::string(q));
  a.set_rating(rating);
  return a;
}
v1::Answer Choice(absl::string_view q, int choice) {
  v1::Answer a;
  a.set_question_id(std::string(q));
  a.set_choice(choice);
  return a;
}
v1::Answer Text(absl::string_view q, absl::string_view text) {
  v1::Answer a;
  a.set_question_id(std::string(q));
  a.set_text(std::string(text));
  return a;
}

// A response as the domain hands it over: satisfaction from the "sat" rating when given,
// counted toward kRegions x kPeriods.
SurveyResponse Response(absl::string_view respondent, absl::string_view request_id,
                        std::vector<v1::Answer> answers, absl::Time at = kT0) {
  SurveyResponse r;
  r.respondent_id = std::string(respondent);
  r.request_id = std::string(request_id);
  r.fingerprint = absl::StrCat("fp-", request_id);
  r.received_at = at;
  for (const v1::Answer& a : answers) {
    if (a.question_id() == "sat") r.satisfaction = (a.rating() - 1) / 4.0;
  }
  r.answers = std::move(answers);
  if (r.satisfaction >= 0) {
    r.satisfaction_milli = std::llround(r.satisfaction * 1000);
    r.tally_regions = kRegions;
    r.tally_periods = kPeriods;
  }
  return r;
}

Tally Counted(int64_t responses, int64_t milli) {
  Tally t;
  t[Counter::kSurveyResponses] = responses;
  t[Counter::kSurveySatisfactionMilli] = milli;
  return t;
}

class SurveyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(redis(), nullptr) << "redis-server did not start";
    ASSERT_TRUE(redis()->Command({"FLUSHALL"}).ok());
    store_ = std::make_unique<RedisSurveyStore>(redis());
  }

  static redis::Client* redis() { return RedisEnvironment::client(); }
  RedisSurveyStore& store() { return *store_; }

  redis::Reply Raw(std::vector<std::string> argv) {
    absl::StatusOr<redis::Reply> r = redis()->Command(std::move(argv));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : redis::Reply::Error("failed");
  }

  v1::Survey MustCreate(const v1::Survey& s = Definition()) {
    absl::StatusOr<v1::Survey> created =
        store().CreateSurvey(absl::StrCat("create-", ++requests_), "fp", s);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : v1::Survey();
  }

  Tally TallyOf(absl::string_view region, absl::string_view period) {
    absl::StatusOr<Tally> t = store().RegionSurveyTally(region, period);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : Tally{};
  }

  int requests_ = 0;
  std::unique_ptr<RedisSurveyStore> store_;
};

TEST_F(SurveyStoreTest, CreateAndGetRoundTripAndEveryKeyIsInTheAssessmentSlot) {
  absl::StatusOr<v1::Survey> created = store().CreateSurvey("def-1", "fp-1", Definition());
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(absl::StartsWith(created->id(), "sv")) << created->id();
  EXPECT_EQ(created->id().size(), 14u);
  EXPECT_EQ(created->responses(), 0);
  v1::Survey expected = Definition();
  expected.set_id(created->id());
  EXPECT_THAT(*created, EqualsProto(expected));

  absl::StatusOr<v1::Survey> got = store().GetSurvey(created->id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_THAT(*got, EqualsProto(*created));
  EXPECT_THAT(store().GetSurvey("sv000000000000"), StatusIs(absl::StatusCode::kNotFound));

  ASSERT_TRUE(
      store()
          .RecordResponse(*got, Response("res-1", "r-1", {Rating("sat", 4), Text("say", "hello")}))
          .ok());
  const redis::Reply keys = Raw({"KEYS", "*"});
  ASSERT_THAT(keys.elements, SizeIs(::testing::Gt(5u)));
  for (const redis::Reply& k : keys.elements) {
    EXPECT_TRUE(absl::StartsWith(k.str, "asm:{a}:sv:")) << k.str;
  }
}

TEST_F(SurveyStoreTest, CreateIsIdempotentOnTheRequestIdAndFingerprint) {
  absl::StatusOr<v1::Survey> first = store().CreateSurvey("def-1", "fp-1", Definition());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(store().RecordResponse(*first, Response("res-1", "r-1", {Rating("sat", 5)})).ok());

  absl::StatusOr<v1::Survey> again = store().CreateSurvey("def-1", "fp-1", Definition());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->id(), first->id());
  EXPECT_EQ(again->responses(), 1);  // the survey as it is now

  v1::Survey other = Definition();
  other.set_title("other");
  absl::StatusOr<v1::Survey> clash = store().CreateSurvey("def-1", "fp-2", other);
  EXPECT_THAT(clash, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_TRUE(absl::StartsWith(clash.status().message(), "request_id")) << clash.status();

  // One survey: its record, respondents, answers and counts (no text was given).
  EXPECT_EQ(Raw({"KEYS", "asm:{a}:sv:s:*"}).elements.size(), 4u);
  const int64_t ttl = Raw({"TTL", "asm:{a}:sv:req:def-1"}).integer;
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, absl::ToInt64Seconds(SurveyStore::kRequestRetention));
}

TEST_F(SurveyStoreTest, ARecordedResponseIsCountedOnceAndARepeatGetsTheFirstReceipt) {
  const v1::Survey s = MustCreate();
  const SurveyResponse r =
      Response("res-1", "r-1",
               {Rating("sat", 4), Choice("pick", 2), Text("say", "路灯坏了"), Rating("ten", 9)});
  absl::StatusOr<v1::SurveyReceipt> receipt = store().RecordResponse(s, r);
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  EXPECT_EQ(receipt->survey_id(), s.id());
  EXPECT_TRUE(absl::StartsWith(receipt->response_id(), "r")) << receipt->response_id();
  EXPECT_EQ(receipt->response_id().size(), 13u);
  EXPECT_EQ(FromTimestamp(receipt->received_at()), kT0);
  EXPECT_DOUBLE_EQ(receipt->satisfaction(), 0.75);

  absl::StatusOr<v1::SurveyReceipt> again = store().RecordResponse(s, r);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(*again, EqualsProto(*receipt));

  SurveyResponse other_request = r;
  other_request.request_id = "r-2";
  other_request.fingerprint = "fp-r-2";
  absl::StatusOr<v1::SurveyReceipt> second = store().RecordResponse(s, other_request);
  EXPECT_THAT(second, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(second.status().message(), HasSubstr("res-1"));
  SurveyResponse other_answers = r;
  other_answers.fingerprint = "fp-changed";
  EXPECT_THAT(store().RecordResponse(s, other_answers), StatusIs(absl::StatusCode::kAlreadyExists));

  absl::StatusOr<std::optional<StoredSurveyResponse>> found = store().FindResponse(s.id(), "res-1");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->request_id, "r-1");
  EXPECT_EQ((*found)->fingerprint, "fp-r-1");
  EXPECT_THAT((*found)->receipt, EqualsProto(*receipt));
  absl::StatusOr<std::optional<StoredSurveyResponse>> none = store().FindResponse(s.id(), "res-2");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());

  absl::StatusOr<v1::Survey> got = store().GetSurvey(s.id());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->responses(), 1);
  absl::StatusOr<SurveyCounts> counts = store().Results(s.id(), 20);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->survey.responses(), 1);
  EXPECT_EQ(counts->satisfaction_responses, 1);
  EXPECT_EQ(counts->satisfaction_milli, 750);
  ASSERT_THAT(counts->questions, SizeIs(4));
  EXPECT_EQ(counts->questions[0].question_id, "sat");
  EXPECT_EQ(counts->questions[0].answered, 1);
  EXPECT_THAT(counts->questions[0].counts, ElementsAre(0, 0, 0, 1, 0));
  EXPECT_THAT(counts->questions[1].counts, ElementsAre(0, 0, 1, 0));
  EXPECT_THAT(counts->questions[2].texts, ElementsAre("路灯坏了"));
  EXPECT_THAT(counts->questions[2].counts, IsEmpty());
  EXPECT_EQ(counts->questions[3].counts[8], 1);

  // The tallies are the documented hashes, for every region and period.
  for (const std::string& region : kRegions) {
    for (const std::string& period : kPeriods) {
      EXPECT_EQ(TallyOf(region, period), Counted(1, 750)) << region << " " << period;
      const std::string key = absl::StrCat("asm:{a}:sv:t:", region, ":", period);
      EXPECT_EQ(RedisSurveyStore::TallyKey(region, period), key);
      EXPECT_EQ(Raw({"HGET", key, std::string(CounterField(Counter::kSurveyResponses))}).str, "1");
      EXPECT_EQ(
          Raw({"HGET", key, std::string(CounterField(Counter::kSurveySatisfactionMilli))}).str,
          "750");
    }
  }

  v1::Survey unknown = s;
  unknown.set_id("sv000000000000");
  EXPECT_THAT(store().RecordResponse(unknown, Response("res-9", "r-9", {Rating("sat", 1)})),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SurveyStoreTest, AResponseWithoutSatisfactionLeavesTheTalliesAlone) {
  const v1::Survey s = MustCreate();
  SurveyResponse r = Response("res-1", "r-1", {Choice("pick", 0)});
  r.tally_regions = kRegions;  // even if named, nothing is added without a satisfaction value
  r.tally_periods = kPeriods;
  absl::StatusOr<v1::SurveyReceipt> receipt = store().RecordResponse(s, r);
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  EXPECT_EQ(receipt->satisfaction(), -1);
  EXPECT_TRUE(TallyOf("3301", "2026").empty());
  EXPECT_TRUE(Raw({"KEYS", "asm:{a}:sv:t:*"}).elements.empty());
  absl::StatusOr<SurveyCounts> counts = store().Results(s.id(), 20);
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->survey.responses(), 1);
  EXPECT_EQ(counts->satisfaction_responses, 0);
}

TEST_F(SurveyStoreTest, ConcurrentResponsesAreEachCountedOnceAndOnePerResident) {
  const v1::Survey s = MustCreate();
  constexpr int kResidents = 50;
  constexpr int kRepeats = 10;
  std::vector<absl::StatusOr<v1::SurveyReceipt>> many(kResidents, absl::UnknownError("not run"));
  std::vector<absl::StatusOr<v1::SurveyReceipt>> same(kRepeats, absl::UnknownError("not run"));
  // Half of the same resident's attempts retry one request; the others are new requests.
  auto same_request = [](int k) {
    return k % 2 == 0 ? std::string("same-shared") : absl::StrCat("same-", k);
  };
  absl::Notification go;
  std::vector<std::thread> threads;
  threads.reserve(kResidents + kRepeats);
  for (int i = 0; i < kResidents; ++i) {
    threads.emplace_back([&, i] {
      go.WaitForNotification();
      many[i] = store().RecordResponse(
          s, Response(absl::StrCat("res-", i), absl::StrCat("req-", i),
                      {Rating("sat", i % 5 + 1), Choice("pick", i % 4),
                       Text("say", absl::StrCat("t", i)), Rating("ten", i % 10 + 1)}));
    });
  }
  for (int k = 0; k < kRepeats; ++k) {
    threads.emplace_back([&, k] {
      go.WaitForNotification();
      same[k] = store().RecordResponse(
          s, Response("res-same", same_request(k), {Rating("sat", 5), Choice("pick", 3)}));
    });
  }
  go.Notify();
  for (std::thread& t : threads) t.join();

  int64_t milli = 0;
  std::set<std::string> response_ids;
  for (int i = 0; i < kResidents; ++i) {
    ASSERT_TRUE(many[i].ok()) << i << ": " << many[i].status();
    response_ids.insert(many[i]->response_id());
    milli += std::llround((i % 5) / 4.0 * 1000);
  }
  EXPECT_EQ(response_ids.size(), static_cast<size_t>(kResidents));

  // Exactly one of the same resident's attempts was stored; only retries of its request
  // got its receipt, every other attempt was refused.
  std::set<std::string> winners;
  std::set<std::string> same_receipts;
  for (int k = 0; k < kRepeats; ++k) {
    if (same[k].ok()) {
      winners.insert(same_request(k));
      same_receipts.insert(same[k]->response_id());
    } else {
      EXPECT_THAT(same[k], StatusIs(absl::StatusCode::kAlreadyExists)) << k;
    }
  }
  ASSERT_EQ(winners.size(), 1u);
  EXPECT_EQ(same_receipts.size(), 1u);
  absl::StatusOr<std::optional<StoredSurveyResponse>> stored =
      store().FindResponse(s.id(), "res-same");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->request_id, *winners.begin());
  EXPECT_EQ((*stored)->receipt.response_id(), *same_receipts.begin());
  milli += 1000;

  absl::StatusOr<SurveyCounts> counts = store().Results(s.id(), 200);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->survey.responses(), kResidents + 1);
  EXPECT_EQ(counts->satisfaction_responses, kResidents + 1);
  EXPECT_EQ(counts->satisfaction_milli, milli);
  // sat: ten residents per value, plus the 5 of res-same.
  EXPECT_EQ(counts->questions[0].answered, kResidents + 1);
  EXPECT_THAT(counts->questions[0].counts, ElementsAre(10, 10, 10, 10, 11));
  // pick: i % 4 over 0..49 gives 13, 13, 12, 12; res-same picked option 3.
  EXPECT_EQ(counts->questions[1].answered, kResidents + 1);
  EXPECT_THAT(counts->questions[1].counts, ElementsAre(13, 13, 12, 13));
  EXPECT_EQ(counts->questions[2].answered, kResidents);
  EXPECT_THAT(counts->questions[2].texts, SizeIs(kResidents));
  EXPECT_EQ(counts->questions[3].answered, kResidents);
  EXPECT_THAT(counts->questions[3].counts, ElementsAre(5, 5, 5, 5, 5, 5, 5, 5, 5, 5));

  std::vector<std::pair<std::string, std::string>> pairs;
  for (const std::string& region : kRegions) {
    for (const std::string& period : kPeriods) pairs.emplace_back(region, period);
  }
  absl::StatusOr<std::vector<Tally>> tallies = store().RegionSurveyTallies(pairs);
  ASSERT_TRUE(tallies.ok()) << tallies.status();
  ASSERT_EQ(tallies->size(), pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    EXPECT_EQ((*tallies)[i], Counted(kResidents + 1, milli))
        << pairs[i].first << " " << pairs[i].second;
  }
}

TEST_F(SurveyStoreTest, TextsAreReadNewestFirstAndAtMostTwoHundredAreKept) {
  const v1::Survey s = MustCreate();
  constexpr int kTexts = SurveyStore::kTextsKept + 5;
  for (int i = 0; i < kTexts; ++i) {
    ASSERT_TRUE(
        store()
            .RecordResponse(s, Response(absl::StrCat("res-", i), absl::StrCat("r-", i),
                                        {Rating("sat", 3), Text("say", absl::StrCat("t", i))},
                                        kT0 + absl::Seconds(i)))
            .ok());
  }
  const std::string list = absl::StrCat("asm:{a}:sv:s:", s.id(), ":txt:say");
  EXPECT_EQ(Raw({"LLEN", list}).integer, SurveyStore::kTextsKept);

  absl::StatusOr<SurveyCounts> all = store().Results(s.id(), 1000);
  ASSERT_TRUE(all.ok()) << all.status();
  const std::vector<std::string>& texts = all->questions[2].texts;
  ASSERT_THAT(texts, SizeIs(SurveyStore::kTextsKept));
  EXPECT_EQ(texts.front(), absl::StrCat("t", kTexts - 1));
  EXPECT_EQ(texts.back(), "t5");
  EXPECT_EQ(all->questions[2].answered, kTexts);  // every answer is still counted

  absl::StatusOr<SurveyCounts> page = store().Results(s.id(), 3);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->questions[2].texts, ElementsAre("t204", "t203", "t202"));
  EXPECT_THAT(store().Results("sv000000000000", 3), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SurveyStoreTest, TalliesAreReadInTheOrderAskedAndAbsentOnesAreZero) {
  const v1::Survey s = MustCreate();
  ASSERT_TRUE(store().RecordResponse(s, Response("res-1", "r-1", {Rating("sat", 2)})).ok());
  absl::StatusOr<std::vector<Tally>> tallies = store().RegionSurveyTallies(
      {{"3301.06", "2026-Q2"}, {"3301.07", "2026-Q2"}, {"3301", "2026"}, {"3301", "2025"}});
  ASSERT_TRUE(tallies.ok()) << tallies.status();
  EXPECT_THAT(*tallies, ElementsAre(Counted(1, 250), Tally{}, Counted(1, 250), Tally{}));
  absl::StatusOr<std::vector<Tally>> none = store().RegionSurveyTallies({});
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
}

TEST_F(SurveyStoreTest, AnUnreachableRedisIsUnavailable) {
  absl::StatusOr<std::unique_ptr<gridloop::testing::RedisServer>> server =
      gridloop::testing::RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  redis::Options options;
  options.host = (*server)->host();
  options.port = (*server)->port();
  options.connect_timeout = absl::Milliseconds(200);
  ASSERT_TRUE((*server)->Stop(/*hard=*/true).ok());
  absl::StatusOr<std::unique_ptr<redis::Client>> client = redis::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status();
  RedisSurveyStore down(client->get());

  EXPECT_THAT(down.CreateSurvey("def-1", "fp", Definition()),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(down.GetSurvey("sv1"), StatusIs(absl::StatusCode::kUnavailable));
  v1::Survey s = Definition();
  s.set_id("sv1");
  EXPECT_THAT(down.RecordResponse(s, Response("res-1", "r-1", {Rating("sat", 2)})),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(down.FindResponse("sv1", "res-1"), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(down.Results("sv1", 20), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(down.RegionSurveyTally("3301", "2026"), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(down.RegionSurveyTallies({{"3301", "2026"}}),
              StatusIs(absl::StatusCode::kUnavailable));
}

}  // namespace
}  // namespace gridloop::assessment
