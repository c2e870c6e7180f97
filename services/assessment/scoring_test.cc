#include "services/assessment/scoring.h"

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gridloop::assessment {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;

constexpr v1::SubjectKind kWorker = v1::SUBJECT_KIND_GRID_WORKER;
constexpr v1::SubjectKind kVolunteer = v1::SUBJECT_KIND_VOLUNTEER;
constexpr v1::SubjectKind kDepartment = v1::SUBJECT_KIND_DEPARTMENT;
constexpr v1::SubjectKind kRegion = v1::SUBJECT_KIND_REGION;

Tally Counts(std::initializer_list<std::pair<Counter, int64_t>> counts) {
  Tally t;
  for (const auto& [counter, n] : counts) t[counter] = n;
  return t;
}

const RateFigure& Named(const std::vector<RateFigure>& rates, const std::string& name) {
  for (const RateFigure& r : rates) {
    if (r.name == name) return r;
  }
  ADD_FAILURE() << "no rate " << name;
  static const RateFigure kNone;
  return kNone;
}

std::vector<std::string> Names(const std::vector<RateFigure>& rates) {
  std::vector<std::string> names;
  names.reserve(rates.size());
  for (const RateFigure& r : rates) names.push_back(r.name);
  return names;
}

// A formula whose score is the response rate alone, so a test can dial in any score; the
// satisfaction rate still decides the 5-star rule.
Formula ResponseOnly() {
  Formula f;
  f.response = 1;
  f.resolution = f.satisfaction = f.timeliness = f.reopen = f.escalation = 0;
  f.offer_acceptance = f.survey = 0;
  return f;
}

// Enough incidents to be rated, a score of met/due × 100 under ResponseOnly(), and the
// given satisfaction (satisfied out of 100 feedbacks; none if `satisfied` < 0).
Tally Scoring(int64_t met, int64_t due, int64_t satisfied = 100) {
  Tally t = Counts(
      {{Counter::kReceived, 20}, {Counter::kResponseMet, met}, {Counter::kResponseDue, due}});
  if (satisfied >= 0) {
    t[Counter::kFeedbackSatisfied] = satisfied;
    t[Counter::kFeedbackDissatisfied] = 100 - satisfied;
  }
  return t;
}

// ---- Rate definitions ----

TEST(Rates, ResponseIsMetOverDue) {
  const RateFigure r =
      Named(Rates(Counts({{Counter::kResponseDue, 4}, {Counter::kResponseMet, 3}}), kWorker, {}),
            "response");
  EXPECT_EQ(r.numerator, 3);
  EXPECT_EQ(r.denominator, 4);
  EXPECT_DOUBLE_EQ(r.value, 0.75);
  EXPECT_DOUBLE_EQ(r.weight, 0.25);
  EXPECT_FALSE(r.lower_is_better);
}

TEST(Rates, ResolutionIsClosedOverDue) {
  const RateFigure r = Named(
      Rates(Counts({{Counter::kResolutionDue, 5}, {Counter::kResolutionClosed, 4}}), kWorker, {}),
      "resolution");
  EXPECT_EQ(r.numerator, 4);
  EXPECT_EQ(r.denominator, 5);
  EXPECT_DOUBLE_EQ(r.value, 0.8);
}

TEST(Rates, SatisfactionCountsBasicallySatisfiedAtItsWeight) {
  const Tally t = Counts({{Counter::kFeedbackSatisfied, 6},
                          {Counter::kFeedbackBasic, 2},
                          {Counter::kFeedbackDissatisfied, 2}});
  const RateFigure r = Named(Rates(t, kWorker, {}), "satisfaction");
  EXPECT_DOUBLE_EQ(r.numerator, 6 + 0.8 * 2);
  EXPECT_EQ(r.denominator, 10);
  EXPECT_DOUBLE_EQ(r.value, 0.76);

  Formula half;
  half.basic_satisfied_weight = 0.5;
  EXPECT_DOUBLE_EQ(Named(Rates(t, kWorker, half), "satisfaction").value, 0.7);
}

TEST(Rates, TimelinessIsMetOverDue) {
  const RateFigure r = Named(
      Rates(Counts({{Counter::kTimelinessDue, 8}, {Counter::kTimelinessMet, 2}}), kWorker, {}),
      "timeliness");
  EXPECT_EQ(r.denominator, 8);
  EXPECT_DOUBLE_EQ(r.value, 0.25);
}

TEST(Rates, ReopenAndEscalationAreLowerIsBetter) {
  const std::vector<RateFigure> rates = Rates(Counts({{Counter::kReopenDue, 10},
                                                      {Counter::kReopened, 1},
                                                      {Counter::kEscalationDue, 20},
                                                      {Counter::kEscalated, 5}}),
                                              kWorker, {});
  const RateFigure& reopen = Named(rates, "reopen");
  EXPECT_DOUBLE_EQ(reopen.value, 0.1);
  EXPECT_TRUE(reopen.lower_is_better);
  const RateFigure& escalation = Named(rates, "escalation");
  EXPECT_DOUBLE_EQ(escalation.value, 0.25);
  EXPECT_TRUE(escalation.lower_is_better);
  EXPECT_EQ(escalation.weight, 0);  // shown, not scored, under v1
}

TEST(Rates, OfferAcceptanceIsAcceptedOverDecidedOffers) {
  const RateFigure r = Named(Rates(Counts({{Counter::kOffersMade, 9},
                                           {Counter::kOffersAccepted, 3},
                                           {Counter::kOffersDeclined, 2},
                                           {Counter::kOffersExpired, 1}}),
                                   kVolunteer, {}),
                             "offer_acceptance");
  EXPECT_EQ(r.numerator, 3);
  EXPECT_EQ(r.denominator, 6);  // offers still open are not decided
  EXPECT_DOUBLE_EQ(r.value, 0.5);
  EXPECT_DOUBLE_EQ(r.weight, 0.15);
}

TEST(Rates, SurveySatisfactionIsTheMeanResponse) {
  const RateFigure r = Named(
      Rates(Counts({{Counter::kSurveyResponses, 4}, {Counter::kSurveySatisfactionMilli, 3100}}),
            kRegion, {}),
      "survey_satisfaction");
  EXPECT_DOUBLE_EQ(r.numerator, 3.1);
  EXPECT_EQ(r.denominator, 4);
  EXPECT_DOUBLE_EQ(r.value, 0.775);
  EXPECT_DOUBLE_EQ(r.weight, 0.20);
}

TEST(Rates, NoDenominatorGivesZero) {
  for (const RateFigure& r : Rates(Tally{}, kRegion, {})) {
    EXPECT_EQ(r.numerator, 0) << r.name;
    EXPECT_EQ(r.denominator, 0) << r.name;
    EXPECT_EQ(r.value, 0) << r.name;
  }
}

TEST(Rates, EachKindIsShownItsRatesInOrder) {
  const std::vector<std::string> common = {"response",   "resolution", "satisfaction",
                                           "timeliness", "reopen",     "escalation"};
  EXPECT_EQ(Names(Rates(Tally{}, kWorker, {})), common);
  EXPECT_EQ(Names(Rates(Tally{}, kDepartment, {})), common);
  EXPECT_EQ(Names(Rates(Tally{}, v1::SUBJECT_KIND_UNSPECIFIED, {})), common);
  EXPECT_THAT(Names(Rates(Tally{}, kVolunteer, {})),
              ElementsAre("response", "resolution", "satisfaction", "timeliness", "reopen",
                          "escalation", "offer_acceptance"));
  EXPECT_THAT(Names(Rates(Tally{}, kRegion, {})),
              ElementsAre("response", "resolution", "satisfaction", "timeliness", "reopen",
                          "escalation", "survey_satisfaction"));
}

// ---- Score ----

TEST(Score, PerfectRatesScoreHundred) {
  const Tally t = Counts({{Counter::kReceived, 10},
                          {Counter::kResponseDue, 10},
                          {Counter::kResponseMet, 10},
                          {Counter::kResolutionDue, 10},
                          {Counter::kResolutionClosed, 10},
                          {Counter::kFeedbackSatisfied, 10},
                          {Counter::kTimelinessDue, 10},
                          {Counter::kTimelinessMet, 10},
                          {Counter::kReopenDue, 10},
                          {Counter::kEscalationDue, 10}});
  EXPECT_DOUBLE_EQ(Rate(t, kWorker, {}).score, 100);
}

TEST(Score, NoDataScoresZero) { EXPECT_EQ(Rate(Tally{}, kWorker, {}).score, 0); }

TEST(Score, WeightsAreRenormalisedOverRatesWithData) {
  // Only response has data: the score is the response rate, whatever its weight.
  EXPECT_DOUBLE_EQ(
      Rate(Counts({{Counter::kResponseDue, 4}, {Counter::kResponseMet, 1}}), kWorker, {}).score,
      25);
  // Response 1.0 (0.25) and satisfaction 0.5 (0.35): (0.25 + 0.175) / 0.6.
  const Tally t = Counts({{Counter::kResponseDue, 2},
                          {Counter::kResponseMet, 2},
                          {Counter::kFeedbackSatisfied, 1},
                          {Counter::kFeedbackDissatisfied, 1}});
  EXPECT_NEAR(Rate(t, kWorker, {}).score, 100 * 0.425 / 0.6, 1e-9);
}

TEST(Score, LowerIsBetterRatesCountTheirComplement) {
  // Reopened 1 of 4: 0.75 towards the score.
  EXPECT_DOUBLE_EQ(
      Rate(Counts({{Counter::kReopenDue, 4}, {Counter::kReopened, 1}}), kWorker, {}).score, 75);
  Formula f;
  f.escalation = 0.5;
  const Tally t = Counts({{Counter::kResponseDue, 1},
                          {Counter::kResponseMet, 1},
                          {Counter::kEscalationDue, 10},
                          {Counter::kEscalated, 10}});
  // Response 1.0 at 0.25, escalation 1.0 (so 0) at 0.5.
  EXPECT_NEAR(Rate(t, kWorker, f).score, 100 * 0.25 / 0.75, 1e-9);
}

TEST(Score, RatesWeightedZeroAreNotScored) {
  // Escalation has data but weight 0 under v1: only the response rate counts.
  const Tally t = Counts({{Counter::kResponseDue, 2},
                          {Counter::kResponseMet, 1},
                          {Counter::kEscalationDue, 10},
                          {Counter::kEscalated, 10}});
  EXPECT_DOUBLE_EQ(Rate(t, kWorker, {}).score, 50);
}

TEST(Score, KindSpecificRatesCountOnlyForTheirKind) {
  const Tally t = Counts({{Counter::kResponseDue, 1},
                          {Counter::kResponseMet, 1},
                          {Counter::kOffersAccepted, 0},
                          {Counter::kOffersDeclined, 3},
                          {Counter::kSurveyResponses, 2},
                          {Counter::kSurveySatisfactionMilli, 0}});
  EXPECT_DOUBLE_EQ(Rate(t, kWorker, {}).score, 100);
  EXPECT_NEAR(Rate(t, kVolunteer, {}).score, 100 * 0.25 / 0.40, 1e-9);
  EXPECT_NEAR(Rate(t, kRegion, {}).score, 100 * 0.25 / 0.45, 1e-9);
}

TEST(Score, InconsistentCountersStayInRange) {
  EXPECT_DOUBLE_EQ(
      Rate(Counts({{Counter::kResponseDue, 1}, {Counter::kResponseMet, 3}}), kWorker, {}).score,
      100);
}

// ---- Sample ----

TEST(Sample, IsReceivedLessCancelledPlusKindExtras) {
  const Tally t = Counts({{Counter::kReceived, 7},
                          {Counter::kCancelled, 2},
                          {Counter::kOffersMade, 10},
                          {Counter::kOffersAccepted, 1},
                          {Counter::kOffersDeclined, 1},
                          {Counter::kOffersExpired, 1},
                          {Counter::kSurveyResponses, 4}});
  EXPECT_EQ(Rate(t, kWorker, {}).sample, 5);
  EXPECT_EQ(Rate(t, kDepartment, {}).sample, 5);
  EXPECT_EQ(Rate(t, kVolunteer, {}).sample, 8);
  EXPECT_EQ(Rate(t, kRegion, {}).sample, 9);
}

TEST(Sample, BelowMinimumGivesNoStarsButAScore) {
  const Tally t = Counts({{Counter::kReceived, 4},
                          {Counter::kResponseDue, 4},
                          {Counter::kResponseMet, 4},
                          {Counter::kFeedbackSatisfied, 4}});
  const Rating r = Rate(t, kWorker, {});
  EXPECT_TRUE(r.insufficient_sample);
  EXPECT_EQ(r.sample, 4);
  EXPECT_EQ(r.stars, 0);
  EXPECT_DOUBLE_EQ(r.score, 100);
  const std::string why = "insufficient sample: 4 incidents, at least 5 needed";
  EXPECT_THAT(r.missed,
              ElementsAre(Pair(1, why), Pair(2, why), Pair(3, why), Pair(4, why), Pair(5, why)));
}

TEST(Sample, CancelledIncidentsDoNotCount) {
  const Rating r = Rate(Counts({{Counter::kReceived, 6}, {Counter::kCancelled, 2}}), kWorker, {});
  EXPECT_TRUE(r.insufficient_sample);
  EXPECT_EQ(r.sample, 4);
}

TEST(Sample, ExactlyTheMinimumIsEnough) {
  const Rating r = Rate(Counts({{Counter::kReceived, 5}}), kWorker, {});
  EXPECT_FALSE(r.insufficient_sample);
  EXPECT_EQ(r.stars, 1);
  EXPECT_EQ(r.missed.size(), 4u);
}

TEST(Sample, MessageNamesWhatTheKindCounts) {
  const Rating r = Rate(Counts({{Counter::kSurveyResponses, 1}}), kRegion, {});
  ASSERT_TRUE(r.insufficient_sample);
  EXPECT_EQ(r.missed.front().second,
            "insufficient sample: 1 incident or survey response, at least 5 needed");
  Formula f;
  f.min_sample = 2;
  EXPECT_EQ(Rate(Counts({{Counter::kReceived, 1}}), kWorker, f).missed.front().second,
            "insufficient sample: 1 incident, at least 2 needed");
}

// ---- Stars by threshold ----

TEST(Thresholds, FiveStarsNeedScoreAndSatisfaction) {
  const Rating r = Rate(Scoring(95, 100, 95), kWorker, ResponseOnly());
  EXPECT_EQ(r.stars, 5);
  EXPECT_TRUE(r.missed.empty());
}

TEST(Thresholds, ExactlyOnTheThresholdsIsEnough) {
  const Rating r = Rate(Scoring(90, 100, 90), kWorker, ResponseOnly());
  EXPECT_EQ(r.stars, 5);
}

TEST(Thresholds, LowSatisfactionHoldsBackAtFour) {
  const Rating r = Rate(Scoring(95, 100, 86), kWorker, ResponseOnly());
  EXPECT_EQ(r.stars, 4);
  EXPECT_THAT(r.missed, ElementsAre(Pair(5, "satisfaction 0.86 below 0.90")));
}

TEST(Thresholds, NoFeedbackHoldsBackAtFour) {
  const Rating r = Rate(Scoring(95, 100, /*satisfied=*/-1), kWorker, ResponseOnly());
  EXPECT_EQ(r.stars, 4);
  EXPECT_THAT(r.missed, ElementsAre(Pair(5, "no satisfaction feedback, 0.90 needed")));
}

TEST(Thresholds, FourStars) {
  const Rating r = Rate(Scoring(842, 1000), kWorker, ResponseOnly());
  EXPECT_EQ(r.stars, 4);
  EXPECT_THAT(r.missed, ElementsAre(Pair(5, "score 84.2 below 90")));
}

TEST(Thresholds, ThreeStarsWithEveryReason) {
  const Rating r = Rate(Scoring(75, 100, 80), kWorker, ResponseOnly());
  EXPECT_EQ(r.stars, 3);
  EXPECT_THAT(r.missed, ElementsAre(Pair(4, "score 75.0 below 80"),
                                    Pair(5, "score 75.0 below 90; satisfaction 0.80 below 0.90")));
}

TEST(Thresholds, TwoStars) {
  const Rating r = Rate(Scoring(60, 100), kWorker, ResponseOnly());
  EXPECT_EQ(r.stars, 2);
  EXPECT_THAT(r.missed, ElementsAre(Pair(3, "score 60.0 below 70"), Pair(4, "score 60.0 below 80"),
                                    Pair(5, "score 60.0 below 90")));
}

TEST(Thresholds, OneStarNeedsNothing) {
  const Rating r = Rate(Scoring(0, 100), kWorker, ResponseOnly());
  EXPECT_EQ(r.stars, 1);
  EXPECT_THAT(r.missed, ElementsAre(Pair(2, "score 0.0 below 60"), Pair(3, "score 0.0 below 70"),
                                    Pair(4, "score 0.0 below 80"), Pair(5, "score 0.0 below 90")));
}

TEST(Thresholds, JustBelowIsNotShownAsReached) {
  const Rating r = Rate(Scoring(8996, 10000), kWorker, ResponseOnly());
  EXPECT_EQ(r.stars, 4);
  EXPECT_THAT(r.missed, ElementsAre(Pair(5, "score 89.9 below 90")));
}

TEST(Thresholds, ALevelWithoutARuleCannotBeReached) {
  Formula f = ResponseOnly();
  f.rules = {{5, 90, 0}, {3, 70, 0}, {2, 60, 0}};
  const Rating r = Rate(Scoring(85, 100), kWorker, f);
  EXPECT_EQ(r.stars, 3);
  EXPECT_THAT(r.missed, ElementsAre(Pair(4, "formula v1 has no rule for 4 stars"),
                                    Pair(5, "score 85.0 below 90")));
}

// ---- Stars by quota ----

struct Subject {
  std::string id;
  Rating rating;
};

// Rates every subject under `f`, then applies the quotas.
void RateAll(std::vector<Subject>& subjects, const Formula& f, const std::vector<Tally>& tallies) {
  std::vector<Rating*> ratings;
  std::vector<std::string> ids;
  for (size_t i = 0; i < subjects.size(); ++i) {
    subjects[i].rating = Rate(tallies[i], kWorker, f);
    ratings.push_back(&subjects[i].rating);
    ids.push_back(subjects[i].id);
  }
  ApplyStarQuotas(ratings, ids, f);
}

Formula Quotas(std::vector<double> quotas) {
  Formula f = ResponseOnly();
  f.mode = StarMode::kQuotas;
  f.quotas = std::move(quotas);
  return f;
}

TEST(Quotas, EachLevelTakesAtMostItsShare) {
  // Ten subjects scoring 99 down to 90, all fully satisfied: all meet the 5-star rule.
  std::vector<Subject> subjects;
  std::vector<Tally> tallies;
  for (int i = 0; i < 10; ++i) {
    subjects.push_back({absl::StrCat("s", i), {}});
    tallies.push_back(Scoring(99 - i, 100));
  }
  // Places: 5★ floor(1.0) = 1, 4★ 3, 3★ 4, 2★ floor(1.5) = 1.
  RateAll(subjects, Quotas({0.10, 0.30, 0.40, 0.15}), tallies);
  std::vector<int> stars;
  stars.reserve(subjects.size());
  for (const Subject& s : subjects) stars.push_back(s.rating.stars);
  EXPECT_THAT(stars, ElementsAre(5, 4, 4, 4, 3, 3, 3, 3, 2, 1));

  EXPECT_TRUE(subjects[0].rating.missed.empty());
  EXPECT_THAT(subjects[1].rating.missed,
              ElementsAre(Pair(5, "five-star places are capped at 10% (1 of 10); ranked 2nd")));
  EXPECT_THAT(subjects[9].rating.missed,
              ElementsAre(Pair(2, "two-star places are capped at 15% (1 of 10); ranked 10th"),
                          Pair(3, "three-star places are capped at 40% (4 of 10); ranked 10th"),
                          Pair(4, "four-star places are capped at 30% (3 of 10); ranked 10th"),
                          Pair(5, "five-star places are capped at 10% (1 of 10); ranked 10th")));
}

TEST(Quotas, TiesGoToTheSmallerId) {
  std::vector<Subject> subjects = {{"b", {}}, {"a", {}}, {"c", {}}};
  RateAll(subjects, Quotas({0.34, 0, 0, 0}),
          {Scoring(95, 100), Scoring(95, 100), Scoring(99, 100)});
  EXPECT_EQ(subjects[2].rating.stars, 5);  // c: the best score
  EXPECT_EQ(subjects[1].rating.stars, 1);  // a: one place only, c took it
  EXPECT_EQ(subjects[0].rating.stars, 1);
  EXPECT_THAT(subjects[1].rating.missed.back(),
              Pair(5, "five-star places are capped at 34% (1 of 3); ranked 2nd"));
  EXPECT_THAT(subjects[0].rating.missed.back(),
              Pair(5, "five-star places are capped at 34% (1 of 3); ranked 3rd"));

  std::vector<Subject> tied = {{"b", {}}, {"a", {}}};
  RateAll(tied, Quotas({0.5, 0, 0, 0}), {Scoring(95, 100), Scoring(95, 100)});
  EXPECT_EQ(tied[1].rating.stars, 5);  // a
  EXPECT_EQ(tied[0].rating.stars, 1);  // b
}

TEST(Quotas, InsufficientSamplesAreNeitherRankedNorCounted) {
  Tally small = Scoring(100, 100);
  small[Counter::kReceived] = 2;
  std::vector<Subject> subjects = {{"a", {}}, {"b", {}}, {"c", {}}};
  // 0.4 of the two ranked subjects is no place at all; counting "a" would make it one.
  RateAll(subjects, Quotas({0.4, 0, 0, 0}), {small, Scoring(95, 100), Scoring(93, 100)});
  EXPECT_EQ(subjects[0].rating.stars, 0);
  EXPECT_TRUE(subjects[0].rating.insufficient_sample);
  EXPECT_EQ(subjects[0].rating.missed.size(), 5u);
  EXPECT_THAT(subjects[0].rating.missed.front().second, StartsWith("insufficient sample"));
  EXPECT_EQ(subjects[1].rating.stars, 1);
  EXPECT_THAT(subjects[1].rating.missed.back(),
              Pair(5, "five-star places are capped at 40% (0 of 2); ranked 1st"));
  EXPECT_EQ(subjects[2].rating.stars, 1);
  EXPECT_THAT(subjects[2].rating.missed.back(),
              Pair(5, "five-star places are capped at 40% (0 of 2); ranked 2nd"));

  // With a place to give, it goes to the best ranked subject, not the unranked one above it.
  RateAll(subjects, Quotas({0.5, 0, 0, 0}), {small, Scoring(95, 100), Scoring(93, 100)});
  EXPECT_EQ(subjects[0].rating.stars, 0);
  EXPECT_EQ(subjects[1].rating.stars, 5);
  EXPECT_EQ(subjects[2].rating.stars, 1);
}

TEST(Quotas, SubjectsGetOnlyLevelsWhoseRuleTheyMeet) {
  // Plenty of places everywhere, but the rules still decide.
  std::vector<Subject> subjects = {{"a", {}}, {"b", {}}, {"c", {}}};
  RateAll(subjects, Quotas({1, 0, 0, 0}),
          {Scoring(95, 100), Scoring(95, 100, 50), Scoring(50, 100)});
  EXPECT_EQ(subjects[0].rating.stars, 5);
  EXPECT_EQ(subjects[1].rating.stars, 1);  // 4★ rule met, but 4★ has no places
  EXPECT_THAT(subjects[1].rating.missed,
              ElementsAre(Pair(2, "two-star places are capped at 0% (0 of 3); ranked 2nd"),
                          Pair(3, "three-star places are capped at 0% (0 of 3); ranked 2nd"),
                          Pair(4, "four-star places are capped at 0% (0 of 3); ranked 2nd"),
                          Pair(5, "satisfaction 0.50 below 0.90")));
  EXPECT_EQ(subjects[2].rating.stars, 1);
  EXPECT_THAT(subjects[2].rating.missed,
              ElementsAre(Pair(2, "score 50.0 below 60"), Pair(3, "score 50.0 below 70"),
                          Pair(4, "score 50.0 below 80"), Pair(5, "score 50.0 below 90")));
}

TEST(Quotas, AFullLevelFallsThroughToTheNext) {
  std::vector<Subject> subjects = {{"a", {}}, {"b", {}}, {"c", {}}, {"d", {}}};
  RateAll(subjects, Quotas({0.25, 0.5, 0.25, 0}),
          {Scoring(99, 100), Scoring(98, 100), Scoring(75, 100), Scoring(85, 100)});
  // a 5★; b meets 5★ but it is full, so 4★; d (85) 4★; c (75) 3★.
  EXPECT_EQ(subjects[0].rating.stars, 5);
  EXPECT_EQ(subjects[1].rating.stars, 4);
  EXPECT_EQ(subjects[3].rating.stars, 4);
  EXPECT_EQ(subjects[2].rating.stars, 3);
}

TEST(Quotas, ThresholdModeIsLeftAlone) {
  std::vector<Subject> subjects = {{"a", {}}, {"b", {}}};
  RateAll(subjects, ResponseOnly(), {Scoring(95, 100), Scoring(95, 100)});
  EXPECT_EQ(subjects[0].rating.stars, 5);
  EXPECT_EQ(subjects[1].rating.stars, 5);
}

TEST(Quotas, NullEntriesAreSkipped) {
  Rating r = Rate(Scoring(95, 100), kWorker, ResponseOnly());
  std::vector<Rating*> ratings = {nullptr, &r};
  ApplyStarQuotas(ratings, {"x", "a"}, Quotas({1, 0, 0, 0}));
  EXPECT_EQ(r.stars, 5);
}

// ---- Formula files ----

TEST(Formulas, DefaultHasJustV1) {
  const Formulas formulas = Formulas::Default();
  EXPECT_THAT(formulas.Versions(), ElementsAre("v1"));
  ASSERT_NE(formulas.Find("v1"), nullptr);
  EXPECT_EQ(formulas.Find("v1")->min_sample, 5);
  EXPECT_EQ(formulas.Find("v2"), nullptr);
}

TEST(Formulas, ParsesVersions) {
  absl::StatusOr<Formulas> formulas = Formulas::Parse(R"(
# The 2027 formula: satisfaction first.
[v2]
weight.response = 0.3
weight.resolution = 0.2
weight.satisfaction = 0.4   # the residents' view
weight.timeliness = 0.05
weight.reopen = 0.05
weight.escalation = 0.1
weight.offer_acceptance = 0.12
weight.survey = 0.3
basic_satisfied_weight = 0.6
min_sample = 10
stars = thresholds 5:92:0.95 4:85 3:75:0.5 2:65

[v3]
stars = quotas 0.10 0.30 0.40 0.15
rules = 2:50 3:60 4:70 5:80:0.8
)");
  ASSERT_TRUE(formulas.ok()) << formulas.status();
  EXPECT_THAT(formulas->Versions(), ElementsAre("v1", "v2", "v3"));

  const Formula* v2 = formulas->Find("v2");
  ASSERT_NE(v2, nullptr);
  EXPECT_EQ(v2->version, "v2");
  EXPECT_DOUBLE_EQ(v2->response, 0.3);
  EXPECT_DOUBLE_EQ(v2->resolution, 0.2);
  EXPECT_DOUBLE_EQ(v2->satisfaction, 0.4);
  EXPECT_DOUBLE_EQ(v2->timeliness, 0.05);
  EXPECT_DOUBLE_EQ(v2->reopen, 0.05);
  EXPECT_DOUBLE_EQ(v2->escalation, 0.1);
  EXPECT_DOUBLE_EQ(v2->offer_acceptance, 0.12);
  EXPECT_DOUBLE_EQ(v2->survey, 0.3);
  EXPECT_DOUBLE_EQ(v2->basic_satisfied_weight, 0.6);
  EXPECT_EQ(v2->min_sample, 10);
  EXPECT_EQ(v2->mode, StarMode::kThresholds);
  ASSERT_EQ(v2->rules.size(), 4u);
  EXPECT_EQ(v2->rules[0].stars, 5);
  EXPECT_DOUBLE_EQ(v2->rules[0].min_score, 92);
  EXPECT_DOUBLE_EQ(v2->rules[0].min_satisfaction, 0.95);
  EXPECT_EQ(v2->rules[2].stars, 3);
  EXPECT_DOUBLE_EQ(v2->rules[2].min_satisfaction, 0.5);

  const Formula* v3 = formulas->Find("v3");
  ASSERT_NE(v3, nullptr);
  EXPECT_EQ(v3->mode, StarMode::kQuotas);
  EXPECT_THAT(v3->quotas, ElementsAre(0.10, 0.30, 0.40, 0.15));
  ASSERT_EQ(v3->rules.size(), 4u);
  EXPECT_EQ(v3->rules[0].stars, 5);  // sorted from the top
  EXPECT_DOUBLE_EQ(v3->rules[0].min_score, 80);
  // Unset keys keep v1's values.
  EXPECT_DOUBLE_EQ(v3->satisfaction, 0.35);
  EXPECT_EQ(v3->min_sample, 5);

  const Formula* v1 = formulas->Find("v1");
  ASSERT_NE(v1, nullptr);
  EXPECT_EQ(Describe(*v1), Describe(Formula{}));
}

TEST(Formulas, QuotasWithoutRulesUseTheDefaultRules) {
  absl::StatusOr<Formulas> formulas = Formulas::Parse("[q]\nstars = quotas 0.1 0.2 0.3 0.4\n");
  ASSERT_TRUE(formulas.ok()) << formulas.status();
  const Formula* q = formulas->Find("q");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->mode, StarMode::kQuotas);
  ASSERT_EQ(q->rules.size(), 4u);
  EXPECT_DOUBLE_EQ(q->rules[0].min_satisfaction, 0.90);
}

TEST(Formulas, AFileMayRedefineV1) {
  absl::StatusOr<Formulas> formulas = Formulas::Parse("[v1]\nmin_sample = 3\n");
  ASSERT_TRUE(formulas.ok()) << formulas.status();
  EXPECT_THAT(formulas->Versions(), ElementsAre("v1"));
  EXPECT_EQ(formulas->Find("v1")->min_sample, 3);
}

TEST(Formulas, AnEmptyFileHasV1) {
  absl::StatusOr<Formulas> formulas = Formulas::Parse("# nothing yet\n\n");
  ASSERT_TRUE(formulas.ok()) << formulas.status();
  EXPECT_THAT(formulas->Versions(), ElementsAre("v1"));
}

TEST(Formulas, DescribeRoundTrips) {
  Formula f;
  f.version = "v9";
  f.response = 0.5;
  f.min_sample = 12;
  f.mode = StarMode::kQuotas;
  f.quotas = {0.05, 0.25, 0.5, 0.2};
  f.rules = {{5, 95, 0.92}, {4, 85, 0}, {3, 72.5, 0}, {2, 61, 0.4}};
  const std::string text = Describe(f);
  EXPECT_THAT(text, HasSubstr("[v9]\n"));
  EXPECT_THAT(text, HasSubstr("weight.response = 0.5\n"));
  EXPECT_THAT(text, HasSubstr("min_sample = 12\n"));
  EXPECT_THAT(text, HasSubstr("stars = quotas 0.05 0.25 0.5 0.2\n"));
  EXPECT_THAT(text, HasSubstr("rules = 5:95:0.92 4:85 3:72.5 2:61:0.4\n"));

  absl::StatusOr<Formulas> parsed = Formulas::Parse(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << text;
  ASSERT_NE(parsed->Find("v9"), nullptr);
  EXPECT_EQ(Describe(*parsed->Find("v9")), text);

  EXPECT_THAT(Describe(Formula{}), HasSubstr("stars = thresholds 5:90:0.9 4:80 3:70 2:60\n"));
}

struct BadFile {
  std::string name;
  std::string text;
  int line;
  std::string problem;
};

class BadFormulaFile : public ::testing::TestWithParam<BadFile> {};

TEST_P(BadFormulaFile, IsInvalidArgumentNamingTheLine) {
  const BadFile& bad = GetParam();
  absl::StatusOr<Formulas> formulas = Formulas::Parse(bad.text);
  ASSERT_FALSE(formulas.ok());
  EXPECT_EQ(formulas.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(formulas.status().message()),
              StartsWith(absl::StrCat("line ", bad.line, ": ")));
  EXPECT_THAT(std::string(formulas.status().message()), HasSubstr(bad.problem));
}

INSTANTIATE_TEST_SUITE_P(
    Formulas, BadFormulaFile,
    ::testing::Values(
        BadFile{"KeyBeforeSection", "# c\nmin_sample = 5\n", 2, "before any [version]"},
        BadFile{"NoEquals", "[v2]\nmin_sample 5\n", 2, "expected key = value"},
        BadFile{"NoKey", "[v2]\n= 5\n", 2, "missing key"},
        BadFile{"NoValue", "[v2]\nmin_sample =\n", 2, "has no value"},
        BadFile{"UnclosedHeader", "[v2\n", 1, "must end with ']'"},
        BadFile{"EmptyVersion", "[ ]\n", 1, "empty version"},
        BadFile{"BadVersionName", "[v 2]\n", 1, "only letters"},
        BadFile{"VersionTwice", "[v2]\n\n[v2]\n", 3, "already defined on line 1"},
        BadFile{"KeyTwice", "[v2]\nmin_sample = 5\nmin_sample = 6\n", 3, "already set on line 2"},
        BadFile{"UnknownKey", "[v2]\nweight.speed = 0.1\n", 2, "unknown key \"weight.speed\""},
        BadFile{"NotANumber", "[v2]\nweight.response = lots\n", 2, "is not a number"},
        BadFile{"NotFinite", "[v2]\nweight.response = inf\n", 2, "is not a number"},
        BadFile{"NegativeWeight", "[v2]\nweight.reopen = -0.1\n", 2, "must not be negative"},
        BadFile{"AllWeightsZero",
                "[v2]\nweight.response = 0\nweight.resolution = 0\nweight.satisfaction = 0\n"
                "weight.timeliness = 0\nweight.reopen = 0\nweight.offer_acceptance = 0\n"
                "weight.survey = 0\n",
                1, "every rate a weight of 0"},
        BadFile{"BasicWeightOverOne", "[v2]\nbasic_satisfied_weight = 1.5\n", 2, "between 0 and 1"},
        BadFile{"MinSampleZero", "[v2]\nmin_sample = 0\n", 2, "at least 1"},
        BadFile{"MinSampleFraction", "[v2]\nmin_sample = 2.5\n", 2, "not a whole number"},
        BadFile{"UnknownStarMode", "[v2]\nstars = ranks\n", 2, "expected \"thresholds\""},
        BadFile{"TooFewQuotas", "[v2]\nstars = quotas 0.1 0.2 0.3\n", 2, "expected 4 shares"},
        BadFile{"QuotaAboveOne", "[v2]\nstars = quotas 1.2 0 0 0\n", 2, "between 0 and 1"},
        BadFile{"QuotaNegative", "[v2]\nstars = quotas 0.1 -0.1 0 0\n", 2, "between 0 and 1"},
        BadFile{"QuotasOverOne", "[v2]\nstars = quotas 0.3 0.3 0.3 0.2\n", 2, "more than 1"},
        BadFile{"MalformedRule", "[v2]\nstars = thresholds 5-90 4:80 3:70 2:60\n", 2,
                "expected stars:min_score"},
        BadFile{"RuleForSixStars", "[v2]\nrules = 6:95 5:90 4:80 3:70 2:60\n", 2,
                "stars must be 2..5"},
        BadFile{"RuleTwice", "[v2]\nrules = 5:90 5:95 4:80 3:70 2:60\n", 2, "given twice"},
        BadFile{"RuleMissing", "[v2]\nrules = 5:90 4:80 2:60\n", 2, "no rule for 3 stars"},
        BadFile{"RuleScoreOver100", "[v2]\nrules = 5:120 4:80 3:70 2:60\n", 2, "between 0 and 100"},
        BadFile{"RuleSatisfactionOverOne", "[v2]\nrules = 5:90:2 4:80 3:70 2:60\n", 2,
                "between 0 and 1"},
        BadFile{"RulesTwice",
                "[v2]\nstars = thresholds 5:90 4:80 3:70 2:60\nrules = 5:90 4:80 3:70 2:60\n", 3,
                "already set on line 2"}),
    [](const ::testing::TestParamInfo<BadFile>& info) { return info.param.name; });

}  // namespace
}  // namespace gridloop::assessment
