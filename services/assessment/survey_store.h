#ifndef GRIDLOOP_SERVICES_ASSESSMENT_SURVEY_STORE_H_
#define GRIDLOOP_SERVICES_ASSESSMENT_SURVEY_STORE_H_

// The survey side of assessment's keyspace: survey definitions, who responded, the counts
// results are read from, and the survey-satisfaction tallies of regions. These tallies are
// kept apart from the figures folded from the event log: surveys are not in the log, so a
// rebuild of those figures must leave them alone.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gridloop/v1/assessment.pb.h"
#include "services/assessment/tally.h"

namespace gridloop::assessment {

// A response checked by the domain and ready to be stored.
struct SurveyResponse {
  // The resident responding; a survey keeps at most one response per respondent.
  std::string respondent_id;
  // The caller's request_id and a fingerprint of what it asked (RequestFingerprint).
  std::string request_id;
  std::string fingerprint;
  // One per answered question, each question at most once, every value in range; only the
  // field of the question's type is set.
  std::vector<v1::Answer> answers;
  absl::Time received_at;
  // (rating - 1) / (scale - 1) averaged over the answered satisfaction questions; -1 when
  // none was answered, and then nothing is added to any tally.
  double satisfaction = -1;
  // round(satisfaction x 1000): what the response adds to the satisfaction sums.
  int64_t satisfaction_milli = 0;
  // The tallies the response counts toward: every region code here for every period key
  // here (the survey's region and those above it; the periods containing received_at).
  std::vector<std::string> tally_regions;
  std::vector<std::string> tally_periods;
};

// A respondent's stored response, as a repeated request needs it.
struct StoredSurveyResponse {
  std::string request_id;
  std::string fingerprint;
  v1::SurveyReceipt receipt;
};

// What one question has received.
struct SurveyQuestionCounts {
  std::string question_id;
  int64_t answered = 0;
  // SINGLE_CHOICE: one per option, in order. RATING: one per value 1..scale. Else empty.
  std::vector<int64_t> counts;
  // FREE_TEXT: the most recent answers, newest first. Else empty.
  std::vector<std::string> texts;
};

// A survey's results as stored: raw counts, from which the domain derives the figures.
struct SurveyCounts {
  v1::Survey survey;  // with its response count
  int64_t satisfaction_responses = 0;
  int64_t satisfaction_milli = 0;               // the sum over those responses
  std::vector<SurveyQuestionCounts> questions;  // one per question of the survey, in order
};

// Persists surveys and their responses. Thread-safe; every call blocks. Errors shared by
// all calls: Unavailable when the store cannot be reached (retry may help), Internal for
// a corrupt record. Callers validate fields; the store enforces existence, uniqueness and
// idempotency.
class SurveyStore {
 public:
  // How long a request id of CreateSurvey is remembered at least.
  static constexpr absl::Duration kRequestRetention = absl::Hours(48);
  // Free-text answers kept per question; older ones are dropped.
  static constexpr int kTextsKept = 200;

  virtual ~SurveyStore() = default;

  // Stores `survey` under a new id, with 0 responses; the other fields are kept as given.
  // A repeat of `request_id` with the same `fingerprint` returns the survey it created (with
  // its current response count) and stores nothing; with another fingerprint it is
  // AlreadyExists naming request_id.
  virtual absl::StatusOr<v1::Survey> CreateSurvey(absl::string_view request_id,
                                                  absl::string_view fingerprint,
                                                  v1::Survey survey) = 0;

  // The survey with its response count. NotFound.
  virtual absl::StatusOr<v1::Survey> GetSurvey(absl::string_view survey_id) = 0;

  // In one atomic step: refuses a second response of the respondent, stores the response,
  // counts its answers toward `survey`'s results (keeping the newest kTextsKept texts per
  // question) and, when it has a satisfaction value, adds 1 response and its
  // satisfaction_milli to every tally named by the response. Returns the receipt, with a
  // new response id.
  //
  // When the respondent has responded already: a repeat of the same request_id and
  // fingerprint returns the first receipt and changes nothing; anything else is
  // AlreadyExists. NotFound when `survey` is not stored. `survey` is the stored survey
  // (its questions say how each answer counts).
  virtual absl::StatusOr<v1::SurveyReceipt> RecordResponse(const v1::Survey& survey,
                                                           const SurveyResponse& response) = 0;

  // The response `respondent_id` gave to `survey_id`; nullopt when none (or no survey).
  virtual absl::StatusOr<std::optional<StoredSurveyResponse>> FindResponse(
      absl::string_view survey_id, absl::string_view respondent_id) = 0;

  // The survey's counts, with at most `text_limit` (>= 1) texts per question. NotFound.
  virtual absl::StatusOr<SurveyCounts> Results(absl::string_view survey_id, int text_limit) = 0;

  // The survey tally of `region_code` for `period_key`: only Counter::kSurveyResponses and
  // Counter::kSurveySatisfactionMilli are set (0 when nothing was counted).
  virtual absl::StatusOr<Tally> RegionSurveyTally(absl::string_view region_code,
                                                  absl::string_view period_key) = 0;

  // As RegionSurveyTally for each (region code, period key), in order, in one round trip.
  virtual absl::StatusOr<std::vector<Tally>> RegionSurveyTallies(
      const std::vector<std::pair<std::string, std::string>>& region_period) = 0;
};

}  // namespace gridloop::assessment

#endif  // GRIDLOOP_SERVICES_ASSESSMENT_SURVEY_STORE_H_
