#ifndef GRIDLOOP_SERVICES_ASSESSMENT_REDIS_SURVEY_STORE_H_
#define GRIDLOOP_SERVICES_ASSESSMENT_REDIS_SURVEY_STORE_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/redis/redis_client.h"
#include "gridloop/v1/assessment.pb.h"
#include "services/assessment/survey_store.h"
#include "services/assessment/tally.h"

namespace gridloop::assessment {

// SurveyStore on Redis. Every key starts "asm:{a}:sv:" (the hash tag all of assessment's
// keys share, so one Cluster slot), which lets a response, its counts and every tally it
// adds to change in one Lua script; the key layout is described at the top of
// redis_survey_store.cc. Thread-safe (the client is a pool); every call blocks.
//
// Beyond the port's contract:
//  - Survey ids are "sv" and response ids "r", each followed by 12 random base-32
//    characters.
//  - Surveys and responses are never removed; CreateSurvey's request records expire after
//    SurveyStore::kRequestRetention.
//  - Results reads the counts and texts in one MULTI/EXEC, so they agree with each other
//    and with the response count.
class RedisSurveyStore final : public SurveyStore {
 public:
  // `redis` is not owned and must outlive the store.
  explicit RedisSurveyStore(redis::Client* redis);

  // The key of the survey tally of `region_code` for `period_key`: a hash with the fields
  // CounterField(kSurveyResponses) and CounterField(kSurveySatisfactionMilli).
  static std::string TallyKey(absl::string_view region_code, absl::string_view period_key);

  absl::StatusOr<v1::Survey> CreateSurvey(absl::string_view request_id,
                                          absl::string_view fingerprint,
                                          v1::Survey survey) override;
  absl::StatusOr<v1::Survey> GetSurvey(absl::string_view survey_id) override;
  absl::StatusOr<v1::SurveyReceipt> RecordResponse(const v1::Survey& survey,
                                                   const SurveyResponse& response) override;
  absl::StatusOr<std::optional<StoredSurveyResponse>> FindResponse(
      absl::string_view survey_id, absl::string_view respondent_id) override;
  absl::StatusOr<SurveyCounts> Results(absl::string_view survey_id, int text_limit) override;
  absl::StatusOr<Tally> RegionSurveyTally(absl::string_view region_code,
                                          absl::string_view period_key) override;
  absl::StatusOr<std::vector<Tally>> RegionSurveyTallies(
      const std::vector<std::pair<std::string, std::string>>& region_period) override;

 private:
  redis::Client* const redis_;
};

}  // namespace gridloop::assessment

#endif  // GRIDLOOP_SERVICES_ASSESSMENT_REDIS_SURVEY_STORE_H_
