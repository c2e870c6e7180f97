#ifndef GRIDLOOP_SERVICES_ASSESSMENT_SCORING_H_
#define GRIDLOOP_SERVICES_ASSESSMENT_SCORING_H_

// Scores and star ratings computed from a subject's counters: pure functions of (Tally,
// kind, formula), so a formula can change, or be compared with another, without a recount.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gridloop/v1/assessment.pb.h"
#include "services/assessment/tally.h"

namespace gridloop::assessment {

// One rate as shown on a scorecard (v1::Rate).
struct RateFigure {
  std::string name;
  double numerator = 0;  // satisfaction: satisfied + weight × basically satisfied
  int64_t denominator = 0;
  double value = 0;  // numerator / denominator; 0 when the denominator is 0
  // The formula's weight for this rate (before renormalisation); 0 = not scored.
  double weight = 0;
  bool lower_is_better = false;
};

// What reaching `stars` needs: both a score and a satisfaction rate at least this high.
// A min_satisfaction above 0 is not met by a subject with no satisfaction feedback.
struct StarRule {
  int stars;
  double min_score;
  double min_satisfaction = 0;
};

enum class StarMode {
  kThresholds,  // every subject gets the highest level whose rule it meets
  kQuotas,      // ... as long as the level's share of ranked subjects is not used up
};

// One version of the scoring formula. Every field has v1's value by default.
struct Formula {
  std::string version = "v1";
  // Weights of the rates in the composite score, renormalised over the rates that have
  // data, so a subject is not punished for a rate it had no chance to earn.
  double response = 0.25;
  double resolution = 0.25;
  double satisfaction = 0.35;
  double timeliness = 0.10;
  double reopen = 0.05;
  double escalation = 0.0;
  double offer_acceptance = 0.15;       // volunteers only
  double survey = 0.20;                 // regions only
  double basic_satisfied_weight = 0.8;  // "basically satisfied" counts this much of "satisfied"
  int64_t min_sample = 5;               // fewer: insufficient sample, no stars, not ranked
  StarMode mode = StarMode::kThresholds;
  // One rule for each of 2..5 stars (1 star needs nothing). A level without a rule cannot
  // be reached.
  std::vector<StarRule> rules = {{5, 90, 0.90}, {4, 80, 0}, {3, 70, 0}, {2, 60, 0}};
  // kQuotas: the largest share of ranked subjects at 5, 4, 3 and 2 stars, e.g.
  // {0.10, 0.30, 0.40, 0.15}. A level without a share has no places.
  std::vector<double> quotas;
};

// The rates a subject of `kind` is shown, in this order: response, resolution,
// satisfaction, timeliness, reopen, escalation, then offer_acceptance (VOLUNTEER only) and
// survey_satisfaction (REGION only). Any other kind is shown the first six.
std::vector<RateFigure> Rates(const Tally& t, v1::SubjectKind kind, const Formula& f);

// One subject's rating under a formula.
struct Rating {
  std::vector<RateFigure> rates;
  double score = 0;  // 0..100
  int64_t sample = 0;
  bool insufficient_sample = false;
  int stars = 0;  // 1..5; 0 when the sample is insufficient
  // One (level, reason) per star level above `stars`, lowest level first.
  std::vector<std::pair<int, std::string>> missed;
};

// Score and stars for one subject. The score is 100 × Σ(weight × v) / Σ weight over the
// rates with data and a positive weight (v = 1 − value for lower-is-better rates, each
// value clamped to 0..1); 0 if no rate has data. In quota mode the stars are those the
// rules alone give, the starting point of ApplyStarQuotas.
Rating Rate(const Tally& t, v1::SubjectKind kind, const Formula& f);

// Quota mode: the subjects with a sufficient sample, best score first (ties by id,
// ascending), each get the highest level whose rule they meet and whose places
// (floor(share × subjects ranked)) are not all taken; stars and missed are rewritten.
// Subjects with an insufficient sample, and null entries, are left as they are.
// Threshold mode: changes nothing. `ids[i]` names `ratings[i]`; the two are the same size.
void ApplyStarQuotas(std::vector<Rating*>& ratings, const std::vector<std::string>& ids,
                     const Formula& f);

// `f` in the text form Formulas::Parse reads, one line per setting, so a rendered formula
// can be pasted into a formula file as it is.
std::string Describe(const Formula& f);

// The scoring formulas known by version. Immutable once built; safe to share across
// threads.
class Formulas {
 public:
  // Just "v1", with Formula's defaults.
  static Formulas Default();

  // Reads a formula file:
  //   [v2]                        a version: letters, digits, '.', '-', '_'
  //   weight.response = 0.3       also weight.resolution, .satisfaction, .timeliness,
  //                               .reopen, .escalation, .offer_acceptance, .survey (>= 0)
  //   basic_satisfied_weight = 0.8   (0..1)
  //   min_sample = 5                 (>= 1)
  //   stars = thresholds 5:90:0.9 4:80 3:70 2:60   stars:min_score[:min_satisfaction]
  //   stars = quotas 0.10 0.30 0.40 0.15           shares at 5..2 stars, summing to <= 1
  //   rules = 5:90:0.9 4:80 3:70 2:60              the rules when they are not on `stars`
  // '#' starts a comment; blank lines are ignored; a setting left out keeps v1's default;
  // rules name each of 2..5 stars once. InvalidArgument "line N: ..." names the first
  // problem. "v1" is always present: built in unless the file defines it.
  static absl::StatusOr<Formulas> Parse(absl::string_view text);

  // nullptr if `version` is unknown.
  const Formula* Find(absl::string_view version) const;

  // Every version, sorted.
  std::vector<std::string> Versions() const;

 private:
  std::map<std::string, Formula> by_version_;
};

}  // namespace gridloop::assessment

#endif  // GRIDLOOP_SERVICES_ASSESSMENT_SCORING_H_
