#ifndef GRIDLOOP_SERVICES_ASSESSMENT_TESTING_MEMORY_SURVEY_STORE_H_
#define GRIDLOOP_SERVICES_ASSESSMENT_TESTING_MEMORY_SURVEY_STORE_H_

// SurveyStore in memory, for unit tests of the code above the port. Follows the port's
// contract (and RedisSurveyStore's id shapes loosely: "sv<n>", "r<n>"); not for
// production use. Thread-safe.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/clock/proto_time.h"
#include "services/assessment/survey_store.h"

namespace gridloop::assessment {

class MemorySurveyStore final : public SurveyStore {
 public:
  // Every later call fails with `status` until it is OK again (e.g. Unavailable, as when
  // Redis is down).
  void FailWith(absl::Status status) {
    absl::MutexLock lock(&mu_);
    failure_ = std::move(status);
  }

  // The responses recorded, in order, as the domain handed them over.
  std::vector<SurveyResponse> recorded() const {
    absl::MutexLock lock(&mu_);
    return recorded_;
  }

  absl::StatusOr<v1::Survey> CreateSurvey(absl::string_view request_id,
                                          absl::string_view fingerprint,
                                          v1::Survey survey) override {
    absl::MutexLock lock(&mu_);
    if (!failure_.ok()) return failure_;
    if (auto it = requests_.find(std::string(request_id)); it != requests_.end()) {
      if (it->second.first != fingerprint) {
        return absl::AlreadyExistsError(
            absl::StrCat("request_id: ", request_id, " was already used for a different survey"));
      }
      return WithCount(surveys_.at(it->second.second));
    }
    survey.set_id(absl::StrCat("sv", ++next_id_));
    survey.set_responses(0);
    requests_[std::string(request_id)] = {std::string(fingerprint), survey.id()};
    surveys_[survey.id()].survey = survey;
    return survey;
  }

  absl::StatusOr<v1::Survey> GetSurvey(absl::string_view survey_id) override {
    absl::MutexLock lock(&mu_);
    if (!failure_.ok()) return failure_;
    auto it = surveys_.find(std::string(survey_id));
    if (it == surveys_.end()) return NoSurvey(survey_id);
    return WithCount(it->second);
  }

  absl::StatusOr<v1::SurveyReceipt> RecordResponse(const v1::Survey& survey,
                                                   const SurveyResponse& response) override {
    absl::MutexLock lock(&mu_);
    if (!failure_.ok()) return failure_;
    auto it = surveys_.find(survey.id());
    if (it == surveys_.end()) return NoSurvey(survey.id());
    Stored& s = it->second;
    if (auto prev = s.respondents.find(response.respondent_id); prev != s.respondents.end()) {
      if (prev->second.request_id == response.request_id &&
          prev->second.fingerprint == response.fingerprint) {
        return prev->second.receipt;
      }
      return absl::AlreadyExistsError(absl::StrCat(
          "resident ", response.respondent_id, " has already responded to survey ", survey.id()));
    }
    StoredSurveyResponse stored{response.request_id, response.fingerprint, {}};
    stored.receipt.set_survey_id(survey.id());
    stored.receipt.set_response_id(absl::StrCat("r", ++next_id_));
    *stored.receipt.mutable_received_at() = ToTimestamp(response.received_at);
    stored.receipt.set_satisfaction(response.satisfaction);
    s.respondents[response.respondent_id] = stored;
    ++s.responses;
    for (const v1::Answer& a : response.answers) {
      const v1::Question* q = nullptr;
      for (const v1::Question& each : s.survey.questions()) {
        if (each.id() == a.question_id()) q = &each;
      }
      if (q == nullptr) continue;
      ++s.counts[a.question_id()]["n"];
      if (q->type() == v1::QUESTION_TYPE_SINGLE_CHOICE) {
        ++s.counts[a.question_id()][absl::StrCat(a.choice())];
      } else if (q->type() == v1::QUESTION_TYPE_RATING) {
        ++s.counts[a.question_id()][absl::StrCat(a.rating())];
      } else {
        std::deque<std::string>& texts = s.texts[a.question_id()];
        texts.push_front(a.text());
        if (texts.size() > static_cast<size_t>(kTextsKept)) texts.pop_back();
      }
    }
    if (response.satisfaction >= 0) {
      ++s.satisfaction_responses;
      s.satisfaction_milli += response.satisfaction_milli;
      for (const std::string& region : response.tally_regions) {
        for (const std::string& period : response.tally_periods) {
          Tally& t = tallies_[{region, period}];
          t[Counter::kSurveyResponses] += 1;
          t[Counter::kSurveySatisfactionMilli] += response.satisfaction_milli;
        }
      }
    }
    recorded_.push_back(response);
    return stored.receipt;
  }

  absl::StatusOr<std::optional<StoredSurveyResponse>> FindResponse(
      absl::string_view survey_id, absl::string_view respondent_id) override {
    absl::MutexLock lock(&mu_);
    if (!failure_.ok()) return failure_;
    auto it = surveys_.find(std::string(survey_id));
    if (it == surveys_.end()) return std::nullopt;
    auto prev = it->second.respondents.find(std::string(respondent_id));
    if (prev == it->second.respondents.end()) return std::nullopt;
    return prev->second;
  }

  absl::StatusOr<SurveyCounts> Results(absl::string_view survey_id, int text_limit) override {
    absl::MutexLock lock(&mu_);
    if (!failure_.ok()) return failure_;
    auto it = surveys_.find(std::string(survey_id));
    if (it == surveys_.end()) return NoSurvey(survey_id);
    const Stored& s = it->second;
    SurveyCounts out;
    out.survey = WithCount(s);
    out.satisfaction_responses = s.satisfaction_responses;
    out.satisfaction_milli = s.satisfaction_milli;
    for (const v1::Question& q : s.survey.questions()) {
      SurveyQuestionCounts c;
      c.question_id = q.id();
      c.answered = Count(s, q.id(), "n");
      if (q.type() == v1::QUESTION_TYPE_SINGLE_CHOICE) {
        for (int i = 0; i < q.options_size(); ++i) {
          c.counts.push_back(Count(s, q.id(), absl::StrCat(i)));
        }
      } else if (q.type() == v1::QUESTION_TYPE_RATING) {
        for (int v = 1; v <= q.scale(); ++v) c.counts.push_back(Count(s, q.id(), absl::StrCat(v)));
      } else if (auto t = s.texts.find(q.id()); t != s.texts.end()) {
        for (const std::string& text : t->second) {
          if (static_cast<int>(c.texts.size()) >= text_limit) break;
          c.texts.push_back(text);
        }
      }
      out.questions.push_back(std::move(c));
    }
    return out;
  }

  absl::StatusOr<Tally> RegionSurveyTally(absl::string_view region_code,
                                          absl::string_view period_key) override {
    absl::MutexLock lock(&mu_);
    if (!failure_.ok()) return failure_;
    return TallyOf(region_code, period_key);
  }

  absl::StatusOr<std::vector<Tally>> RegionSurveyTallies(
      const std::vector<std::pair<std::string, std::string>>& region_period) override {
    absl::MutexLock lock(&mu_);
    if (!failure_.ok()) return failure_;
    std::vector<Tally> out;
    out.reserve(region_period.size());
    for (const auto& [region, period] : region_period) out.push_back(TallyOf(region, period));
    return out;
  }

 private:
  struct Stored {
    v1::Survey survey;
    int64_t responses = 0;
    int64_t satisfaction_responses = 0;
    int64_t satisfaction_milli = 0;
    std::map<std::string, StoredSurveyResponse> respondents;
    // question id -> "n" or the option index / rating -> count.
    std::map<std::string, std::map<std::string, int64_t>> counts;
    std::map<std::string, std::deque<std::string>> texts;  // newest first
  };

  static absl::Status NoSurvey(absl::string_view id) {
    return absl::NotFoundError(absl::StrCat("survey ", id, " not found"));
  }
  static v1::Survey WithCount(const Stored& s) {
    v1::Survey out = s.survey;
    out.set_responses(s.responses);
    return out;
  }
  static int64_t Count(const Stored& s, const std::string& question_id, const std::string& key) {
    auto q = s.counts.find(question_id);
    if (q == s.counts.end()) return 0;
    auto n = q->second.find(key);
    return n == q->second.end() ? 0 : n->second;
  }
  Tally TallyOf(absl::string_view region, absl::string_view period) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = tallies_.find({std::string(region), std::string(period)});
    return it == tallies_.end() ? Tally{} : it->second;
  }

  mutable absl::Mutex mu_;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::pair<std::string, std::string>> requests_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Stored> surveys_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, std::string>, Tally> tallies_ ABSL_GUARDED_BY(mu_);
  std::vector<SurveyResponse> recorded_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gridloop::assessment

#endif  // GRIDLOOP_SERVICES_ASSESSMENT_TESTING_MEMORY_SURVEY_STORE_H_
