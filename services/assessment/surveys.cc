#include "services/assessment/surveys.h"

#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock/proto_time.h"
#include "common/requests/fields.h"
#include "common/requests/fingerprint.h"
#include "common/status/status_macros.h"
#include "services/assessment/periods.h"

namespace gridloop::assessment {
namespace {

constexpr size_t kMaxIdChars = 64;
constexpr size_t kMaxQuestionIdChars = 32;

using requests::CheckChars;
using requests::CheckRegionCode;
using requests::CheckText;
using requests::CheckTimestamp;
using requests::InvalidField;

absl::Status CheckRequestId(absl::string_view request_id) {
  return requests::CheckRequestId(request_id, Surveys::kMaxRequestIdChars);
}

absl::Status CheckSurveyId(absl::string_view id) {
  return CheckChars(
      "survey_id", id, kMaxIdChars,
      [](char ch) { return absl::ascii_isalnum(ch) || ch == '_' || ch == '-'; },
      "only letters, digits, '_' and '-'");
}

// Question ids become parts of stored field names, which use '|' and ':' as separators.
absl::Status CheckQuestionId(absl::string_view field, absl::string_view id) {
  return CheckChars(
      field, id, kMaxQuestionIdChars,
      [](char ch) { return absl::ascii_isalnum(ch) || ch == '_' || ch == '-'; },
      "only letters, digits, '_' and '-'");
}

bool IsStaff(const Caller& c) {
  return c.role == Role::kGridLeader || c.role == Role::kSupervisor || c.role == Role::kOperator;
}

bool IsResident(const Caller& c) { return c.role == Role::kResident && !c.person_id.empty(); }

absl::Status RequireIdentity(const Caller& c) {
  if (c.anonymous()) return absl::UnauthenticatedError("a caller identity is required");
  return absl::OkStatus();
}

absl::Status RequireStaff(const Caller& c, absl::string_view what) {
  RETURN_IF_ERROR(RequireIdentity(c));
  if (!IsStaff(c)) {
    return absl::PermissionDeniedError(
        absl::StrCat("role ", RoleName(c.role), " may not ", what,
                     "; grid leaders, supervisors and operators may"));
  }
  return absl::OkStatus();
}

absl::Status OutOfScope(const Caller& c, absl::string_view region_code) {
  return absl::PermissionDeniedError(absl::StrCat(
      "region ", region_code, " is outside the caller's scope \"", c.region_scope, "\""));
}

// The question checked and normalised, its id still empty when the caller left it so.
absl::StatusOr<v1::Question> CheckQuestion(absl::string_view at, const v1::Question& in) {
  v1::Question q;
  if (!in.id().empty()) RETURN_IF_ERROR(CheckQuestionId(absl::StrCat(at, ".id"), in.id()));
  q.set_id(in.id());
  if (!v1::QuestionType_IsValid(in.type()) || in.type() == v1::QUESTION_TYPE_UNSPECIFIED) {
    return InvalidField(absl::StrCat(at, ".type"), "SINGLE_CHOICE, RATING or FREE_TEXT");
  }
  q.set_type(in.type());
  RETURN_IF_ERROR(CheckText(absl::StrCat(at, ".text"), in.text(), Surveys::kMaxQuestionTextChars));
  q.set_text(in.text());

  const std::string options_at = absl::StrCat(at, ".options");
  if (in.type() == v1::QUESTION_TYPE_SINGLE_CHOICE) {
    if (in.options_size() < Surveys::kMinOptions || in.options_size() > Surveys::kMaxOptions) {
      return InvalidField(options_at,
                          absl::StrCat(Surveys::kMinOptions, " to ", Surveys::kMaxOptions,
                                       " options (got ", in.options_size(), ")"));
    }
    for (int j = 0; j < in.options_size(); ++j) {
      RETURN_IF_ERROR(CheckText(absl::StrCat(options_at, "[", j, "]"), in.options(j),
                                Surveys::kMaxOptionChars));
    }
    *q.mutable_options() = in.options();
  } else if (in.options_size() > 0) {
    return InvalidField(options_at, "only SINGLE_CHOICE questions have options");
  }

  const std::string scale_at = absl::StrCat(at, ".scale");
  if (in.type() == v1::QUESTION_TYPE_RATING) {
    if (in.scale() == 0) {
      q.set_scale(Surveys::kDefaultScale);
    } else if (in.scale() < Surveys::kMinScale || in.scale() > Surveys::kMaxScale) {
      return InvalidField(scale_at, absl::StrCat(Surveys::kMinScale, " to ", Surveys::kMaxScale,
                                                 " (0 = ", Surveys::kDefaultScale, ")"));
    } else {
      q.set_scale(in.scale());
    }
  } else if (in.scale() != 0) {
    return InvalidField(scale_at, "only RATING questions have a scale");
  }

  if (in.satisfaction() && in.type() != v1::QUESTION_TYPE_RATING) {
    return InvalidField(absl::StrCat(at, ".satisfaction"), "only RATING questions count toward it");
  }
  q.set_satisfaction(in.satisfaction());
  q.set_required(in.required());
  return q;
}

// The questions checked, with ids given to those left without one.
absl::Status CheckQuestions(const v1::DefineSurveyRequest& req, v1::Survey* out) {
  if (req.questions_size() == 0) return InvalidField("questions", "required");
  if (req.questions_size() > Surveys::kMaxQuestions) {
    return InvalidField("questions", absl::StrCat("at most ", Surveys::kMaxQuestions, " (got ",
                                                  req.questions_size(), ")"));
  }
  std::set<std::string> explicit_ids;
  for (int i = 0; i < req.questions_size(); ++i) {
    const std::string at = absl::StrCat("questions[", i, "]");
    ASSIGN_OR_RETURN(v1::Question q, CheckQuestion(at, req.questions(i)));
    if (!q.id().empty() && !explicit_ids.insert(q.id()).second) {
      return InvalidField(absl::StrCat(at, ".id"), absl::StrCat("\"", q.id(), "\" is used twice"));
    }
    *out->add_questions() = std::move(q);
  }
  // Assigned after every explicit id is known, so an assigned id never takes one.
  std::set<std::string> taken = explicit_ids;
  for (int i = 0; i < out->questions_size(); ++i) {
    v1::Question* q = out->mutable_questions(i);
    if (!q->id().empty()) continue;
    for (int n = i + 1;; ++n) {
      std::string id = absl::StrCat("q", n);
      if (taken.insert(id).second) {
        q->set_id(std::move(id));
        break;
      }
    }
  }
  return absl::OkStatus();
}

// The answers checked against the survey's questions, keeping only the field of each
// question's type.
absl::StatusOr<std::vector<v1::Answer>> CheckAnswers(const v1::Survey& survey,
                                                     const v1::RespondToSurveyRequest& req) {
  if (req.answers_size() == 0) return InvalidField("answers", "required");
  std::set<std::string> answered;
  std::vector<v1::Answer> out;
  out.reserve(req.answers_size());
  for (int i = 0; i < req.answers_size(); ++i) {
    const v1::Answer& in = req.answers(i);
    const std::string at = absl::StrCat("answers[", i, "]");
    const v1::Question* question = nullptr;
    for (const v1::Question& q : survey.questions()) {
      if (q.id() == in.question_id()) question = &q;
    }
    if (question == nullptr) {
      return InvalidField(absl::StrCat(at, ".question_id"),
                          in.question_id().empty() ? "required" : "no such question in the survey");
    }
    if (!answered.insert(in.question_id()).second) {
      return InvalidField(absl::StrCat(at, ".question_id"),
                          absl::StrCat("question ", in.question_id(), " is answered twice"));
    }
    v1::Answer a;
    a.set_question_id(in.question_id());
    switch (question->type()) {
      case v1::QUESTION_TYPE_SINGLE_CHOICE:
        if (in.choice() < 0 || in.choice() >= question->options_size()) {
          return InvalidField(absl::StrCat(at, ".choice"),
                              absl::StrCat("0 to ", question->options_size() - 1));
        }
        a.set_choice(in.choice());
        break;
      case v1::QUESTION_TYPE_RATING:
        if (in.rating() < 1 || in.rating() > question->scale()) {
          return InvalidField(absl::StrCat(at, ".rating"),
                              absl::StrCat("1 to ", question->scale()));
        }
        a.set_rating(in.rating());
        break;
      default:
        RETURN_IF_ERROR(CheckText(absl::StrCat(at, ".text"), in.text(),
                                  Surveys::kMaxAnswerTextChars, /*required=*/true,
                                  /*multiline=*/true));
        a.set_text(in.text());
        break;
    }
    out.push_back(std::move(a));
  }
  for (const v1::Question& q : survey.questions()) {
    if (q.required() && answered.count(q.id()) == 0) {
      return InvalidField("answers", absl::StrCat("question ", q.id(), " is required"));
    }
  }
  return out;
}

// The mean of (rating - 1) / (scale - 1) over the answered satisfaction questions; -1
// when there is none.
double Satisfaction(const v1::Survey& survey, const std::vector<v1::Answer>& answers) {
  double sum = 0;
  int n = 0;
  for (const v1::Answer& a : answers) {
    for (const v1::Question& q : survey.questions()) {
      if (q.id() != a.question_id() || !q.satisfaction()) continue;
      sum += static_cast<double>(a.rating() - 1) / static_cast<double>(q.scale() - 1);
      ++n;
    }
  }
  return n == 0 ? -1 : sum / n;
}

}  // namespace

Surveys::Surveys(SurveyStore* store, ResidentRegions* residents, const Clock* clock)
    : store_(store), residents_(residents), clock_(clock) {}

absl::StatusOr<v1::Survey> Surveys::Define(const Caller& caller,
                                           const v1::DefineSurveyRequest& req) {
  RETURN_IF_ERROR(RequireStaff(caller, "define surveys"));
  RETURN_IF_ERROR(CheckRequestId(req.request_id()));

  v1::Survey survey;
  RETURN_IF_ERROR(CheckText("title", req.title(), kMaxTitleChars));
  survey.set_title(req.title());
  RETURN_IF_ERROR(CheckRegionCode("region_code", req.region_code()));
  survey.set_region_code(req.region_code());
  RETURN_IF_ERROR(CheckQuestions(req, &survey));

  const absl::Time now = clock_->Now();
  if (req.has_opens_at()) {
    RETURN_IF_ERROR(CheckTimestamp("opens_at", req.opens_at()));
    *survey.mutable_opens_at() = req.opens_at();
  } else {
    *survey.mutable_opens_at() = ToTimestamp(now);
  }
  if (!req.has_closes_at()) return InvalidField("closes_at", "required");
  RETURN_IF_ERROR(CheckTimestamp("closes_at", req.closes_at()));
  if (FromTimestamp(req.closes_at()) <= FromTimestamp(survey.opens_at())) {
    return InvalidField("closes_at", "must be after opens_at");
  }
  *survey.mutable_closes_at() = req.closes_at();

  if (!caller.ActsWithin(survey.region_code())) return OutOfScope(caller, survey.region_code());

  survey.set_created_by(caller.person_id);
  *survey.mutable_created_at() = ToTimestamp(now);
  // The caller is part of what was asked: another caller reusing the id gets no survey of
  // someone else's.
  return store_->CreateSurvey(
      req.request_id(), RequestFingerprint(absl::StrCat("DefineSurvey/", caller.person_id), req),
      std::move(survey));
}

absl::StatusOr<v1::Survey> Surveys::Get(const Caller& caller, const v1::GetSurveyRequest& req) {
  RETURN_IF_ERROR(RequireIdentity(caller));
  if (!IsStaff(caller) && caller.role != Role::kResident) {
    return absl::PermissionDeniedError(
        absl::StrCat("role ", RoleName(caller.role), " may not read surveys"));
  }
  RETURN_IF_ERROR(CheckSurveyId(req.survey_id()));
  ASSIGN_OR_RETURN(v1::Survey survey, store_->GetSurvey(req.survey_id()));
  if (IsStaff(caller) && !caller.ActsWithin(survey.region_code())) {
    return OutOfScope(caller, survey.region_code());
  }
  return survey;
}

absl::StatusOr<std::string> Surveys::MayRespond(const Caller& c, const v1::Survey& survey,
                                                absl::Time now) {
  absl::StatusOr<std::string> region = residents_->RegionOf(c.person_id);
  if (absl::IsNotFound(region.status())) {
    return absl::PermissionDeniedError(
        absl::StrCat("resident ", c.person_id, " is not registered with the residents service"));
  }
  if (!region.ok()) return region.status();
  if (!RegionWithin(*region, survey.region_code())) {
    return absl::PermissionDeniedError(absl::StrCat("the resident's region ", *region,
                                                    " is not within the survey's region ",
                                                    survey.region_code()));
  }
  if (now < FromTimestamp(survey.opens_at())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "survey ", survey.id(), " opens at ",
        absl::FormatTime(absl::RFC3339_sec, FromTimestamp(survey.opens_at()), CityTime())));
  }
  if (now >= FromTimestamp(survey.closes_at())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "survey ", survey.id(), " closed at ",
        absl::FormatTime(absl::RFC3339_sec, FromTimestamp(survey.closes_at()), CityTime())));
  }
  return region;
}

absl::StatusOr<v1::SurveyReceipt> Surveys::Respond(const Caller& caller,
                                                   const v1::RespondToSurveyRequest& req) {
  if (!IsResident(caller)) {
    return absl::UnauthenticatedError("responding to a survey needs a signed-in resident");
  }
  RETURN_IF_ERROR(CheckRequestId(req.request_id()));
  RETURN_IF_ERROR(CheckSurveyId(req.survey_id()));
  ASSIGN_OR_RETURN(v1::Survey survey, store_->GetSurvey(req.survey_id()));
  ASSIGN_OR_RETURN(std::vector<v1::Answer> answers, CheckAnswers(survey, req));
  const std::string fingerprint = RequestFingerprint("RespondToSurvey", req);

  const absl::Time now = clock_->Now();
  absl::StatusOr<std::string> home = MayRespond(caller, survey, now);
  if (!home.ok()) {
    const absl::Status& may = home.status();
    if (!absl::IsPermissionDenied(may) && !absl::IsFailedPrecondition(may)) return may;
    // A retry of a recorded response still gets its receipt once the survey has closed
    // or the resident has moved away.
    ASSIGN_OR_RETURN(std::optional<StoredSurveyResponse> earlier,
                     store_->FindResponse(survey.id(), caller.person_id));
    if (earlier.has_value() && earlier->request_id == req.request_id() &&
        earlier->fingerprint == fingerprint) {
      return earlier->receipt;
    }
    return may;
  }

  SurveyResponse response;
  response.respondent_id = caller.person_id;
  response.request_id = req.request_id();
  response.fingerprint = fingerprint;
  response.answers = std::move(answers);
  response.received_at = now;
  response.satisfaction = Satisfaction(survey, response.answers);
  if (response.satisfaction >= 0) {
    response.satisfaction_milli = std::llround(response.satisfaction * 1000);
    // The respondent's own grid and everything above it: a community-wide survey still
    // tells each grid what its residents think.
    response.tally_regions = RegionAndAncestors(*home);
    for (PeriodSpan& p : PeriodsOf(now)) response.tally_periods.push_back(std::move(p.key));
  }
  return store_->RecordResponse(survey, response);
}

absl::StatusOr<v1::SurveyResults> Surveys::Results(const Caller& caller,
                                                   const v1::GetSurveyResultsRequest& req) {
  RETURN_IF_ERROR(RequireStaff(caller, "read survey results"));
  RETURN_IF_ERROR(CheckSurveyId(req.survey_id()));
  int texts = req.text_page_size();
  if (texts == 0) {
    texts = kDefaultTextPageSize;
  } else if (texts < 0 || texts > kMaxTextPageSize) {
    return InvalidField("text_page_size", absl::StrCat("1 to ", kMaxTextPageSize,
                                                       " (0 = ", kDefaultTextPageSize, ")"));
  }
  ASSIGN_OR_RETURN(SurveyCounts counts, store_->Results(req.survey_id(), texts));
  if (!caller.ActsWithin(counts.survey.region_code())) {
    return OutOfScope(caller, counts.survey.region_code());
  }

  v1::SurveyResults out;
  out.set_responses(counts.survey.responses());
  out.set_satisfaction_responses(counts.satisfaction_responses);
  if (counts.satisfaction_responses > 0) {
    out.set_satisfaction(static_cast<double>(counts.satisfaction_milli) / 1000.0 /
                         static_cast<double>(counts.satisfaction_responses));
  }
  for (int i = 0; i < counts.survey.questions_size(); ++i) {
    const v1::Question& q = counts.survey.questions(i);
    v1::QuestionResult* r = out.add_questions();
    r->set_question_id(q.id());
    if (i >= static_cast<int>(counts.questions.size())) continue;
    const SurveyQuestionCounts& c = counts.questions[i];
    r->set_answered(c.answered);
    for (int64_t n : c.counts) r->add_option_counts(n);
    if (q.type() == v1::QUESTION_TYPE_RATING) {
      int64_t ratings = 0;
      int64_t sum = 0;
      for (size_t v = 0; v < c.counts.size(); ++v) {
        ratings += c.counts[v];
        sum += c.counts[v] * static_cast<int64_t>(v + 1);
      }
      if (ratings > 0) {
        r->set_average_rating(static_cast<double>(sum) / static_cast<double>(ratings));
      }
    }
    for (const std::string& t : c.texts) r->add_texts(t);
  }
  *out.mutable_survey() = std::move(counts.survey);
  return out;
}

}  // namespace gridloop::assessment
