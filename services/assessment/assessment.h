#ifndef GRIDLOOP_SERVICES_ASSESSMENT_ASSESSMENT_H_
#define GRIDLOOP_SERVICES_ASSESSMENT_ASSESSMENT_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"
#include "common/identity/identity.h"
#include "gridloop/v1/assessment.pb.h"
#include "services/assessment/assessment_store.h"
#include "services/assessment/periods.h"
#include "services/assessment/scoring.h"

namespace gridloop::assessment {

// Reads the survey tallies of (region code, period key) pairs, one Tally per pair.
using SurveyTallyReader = std::function<absl::StatusOr<std::vector<Tally>>(
    const std::vector<std::pair<std::string, std::string>>&)>;

struct AssessmentOptions {
  // The city's region code: the population people (grid workers, volunteers, departments)
  // are rated against when stars are given by quota.
  std::string city_region = "3301";
  // Rankings and quota ratings load every subject of the population; beyond this many the
  // caller is asked to narrow the region.
  int max_population = 20000;
  // At most one score event per subject per this long.
  absl::Duration score_event_interval = absl::Minutes(1);
};

// Scorecards, rankings, trends, explanations, frozen ratings and appeals, and the score
// events, computed from the store's counters with the generation's scoring formula.
// Thread-safe.
class Assessment {
 public:
  // Pointers must outlive the object.
  Assessment(AssessmentStore* store, SurveyTallyReader surveys, const Formulas* formulas,
             const Clock* clock, AssessmentOptions options = {});

  absl::StatusOr<v1::Scorecard> GetScorecard(const Caller& caller,
                                             const v1::GetScorecardRequest& req);
  absl::StatusOr<v1::ListRankingsResponse> ListRankings(const Caller& caller,
                                                        const v1::ListRankingsRequest& req);
  absl::StatusOr<v1::GetTrendResponse> GetTrend(const Caller& caller,
                                                const v1::GetTrendRequest& req);
  absl::StatusOr<v1::ExplainResponse> Explain(const Caller& caller, const v1::ExplainRequest& req);
  absl::StatusOr<v1::FreezeRatingsResponse> FreezeRatings(const Caller& caller,
                                                          const v1::FreezeRatingsRequest& req);
  absl::StatusOr<v1::Appeal> AppealRating(const Caller& caller, const v1::AppealRatingRequest& req);
  absl::StatusOr<v1::ListAppealsResponse> ListAppeals(const Caller& caller,
                                                      const v1::ListAppealsRequest& req);

  // Publishes the score events that are due: subjects whose figures changed, at most one
  // event per subject per score_event_interval, none when the score did not change.
  // Returns how many were published.
  absl::StatusOr<int> PublishDueScores(int limit);

  // The formula a generation's figures are scored with (v1 if the named one is unknown).
  const Formula& FormulaOf(absl::string_view version) const;

 private:
  struct Population;
  // The scorecard of every subject in `pop` for `span`, ratings as the formula gives them
  // (quota stars among them) and frozen ratings applied.
  absl::StatusOr<std::vector<v1::Scorecard>> Rate(const Population& pop, const PeriodSpan& span);
  absl::StatusOr<Population> PopulationOf(const Generations& g, v1::SubjectKind kind,
                                          absl::string_view within, int depth,
                                          absl::string_view period_key);
  absl::StatusOr<v1::Scorecard> Card(const Generations& g, v1::SubjectKind kind,
                                     const std::string& id, const PeriodSpan& span);

  AssessmentStore* const store_;
  SurveyTallyReader surveys_;
  const Formulas* const formulas_;
  const Clock* const clock_;
  const AssessmentOptions options_;
};

}  // namespace gridloop::assessment

#endif  // GRIDLOOP_SERVICES_ASSESSMENT_ASSESSMENT_H_
