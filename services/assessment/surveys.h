#ifndef GRIDLOOP_SERVICES_ASSESSMENT_SURVEYS_H_
#define GRIDLOOP_SERVICES_ASSESSMENT_SURVEYS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock/clock.h"
#include "common/identity/identity.h"
#include "gridloop/v1/assessment.pb.h"
#include "services/assessment/survey_store.h"

namespace gridloop::assessment {

// Where residents live, as the residents service knows it. Thread-safe; blocking.
class ResidentRegions {
 public:
  virtual ~ResidentRegions() = default;
  // The region code of the resident `resident_id`. NotFound if there is no such resident;
  // Unavailable if the residents service cannot be reached (retry may help).
  virtual absl::StatusOr<std::string> RegionOf(absl::string_view resident_id) = 0;
};

// Resident surveys (满意度调查 / 文明指数测评): staff define them for a region, residents
// of that region respond once each while they are open, and staff read the results. Each
// response with satisfaction questions also counts toward the survey-satisfaction tallies
// of the survey's region and every region above it, for the day, week, month, quarter and
// year (city time, UTC+8) it was received in. Never touches gRPC, Redis or the wall clock.
//
// Who may do what. "Staff" here are grid leaders, supervisors and operators, acting
// within their region scope (Caller::ActsWithin). An anonymous caller gets
// Unauthenticated from every method. Then, in this order: PermissionDenied for a role
// that may never call the method, InvalidArgument whose message starts with the field's
// path ("questions[2].options: ..."), NotFound, then PermissionDenied for a region out of
// reach. Whatever the store returns (AlreadyExists, Unavailable...) is passed on
// unchanged.
//
// Thread-safe when the store and the residents port are; blocking (call it from an
// executor, not from a gRPC callback thread).
class Surveys {
 public:
  // Text limits, in characters (UTF-8 code points).
  static constexpr int kMaxRequestIdChars = 128;
  static constexpr int kMaxTitleChars = 200;
  static constexpr int kMaxQuestions = 100;
  static constexpr int kMaxQuestionTextChars = 500;
  static constexpr int kMaxOptionChars = 200;
  static constexpr int kMinOptions = 2;
  static constexpr int kMaxOptions = 20;
  static constexpr int kMinScale = 2;
  static constexpr int kMaxScale = 10;
  static constexpr int kDefaultScale = 5;
  static constexpr int kMaxAnswerTextChars = 2000;
  static constexpr int kDefaultTextPageSize = 20;
  static constexpr int kMaxTextPageSize = 200;

  // `store`, `residents` and `clock` are not owned and must outlive this object.
  Surveys(SurveyStore* store, ResidentRegions* residents, const Clock* clock);

  // Defines a survey for req.region_code: staff within that region. Questions left
  // without an id get "q<position>" (1-based; the next free number if an explicit id
  // already has it); a RATING question's scale 0 means 5; opens_at unset means now. The
  // survey records the caller as created_by and now as created_at.
  // A repeat of request_id by the same caller with the same request returns the survey it
  // created; the same request_id with anything else is AlreadyExists.
  absl::StatusOr<v1::Survey> Define(const Caller& caller, const v1::DefineSurveyRequest& req);

  // The survey with its response count: staff within its region, or any resident (who
  // needs the questions to respond).
  absl::StatusOr<v1::Survey> Get(const Caller& caller, const v1::GetSurveyRequest& req);

  // Records the calling resident's answers. Only a resident (role resident with a person
  // id) may respond; anyone else is Unauthenticated. The resident must live within the
  // survey's region (PermissionDenied otherwise, and for a resident the residents service
  // does not know); the survey must be open: FailedPrecondition before opens_at and from
  // closes_at on. Answers must name known questions, each at most once, answer every
  // required one, and hold a choice within the options, a rating within 1..scale, or a
  // non-blank text of at most 2,000 characters (InvalidArgument naming e.g.
  // "answers[2].rating").
  //
  // One response per resident and survey: another one is AlreadyExists. Repeating the
  // request_id of the recorded response with the same request returns its receipt, even
  // after the survey has closed.
  absl::StatusOr<v1::SurveyReceipt> Respond(const Caller& caller,
                                            const v1::RespondToSurveyRequest& req);

  // Per question: how many answered, the count of each option (SINGLE_CHOICE) or of each
  // rating 1..scale (RATING) with the average rating, and the newest texts (FREE_TEXT,
  // text_page_size of them: 0 means 20, at most 200); overall, the mean satisfaction of
  // the responses that have one. Staff within the survey's region.
  absl::StatusOr<v1::SurveyResults> Results(const Caller& caller,
                                            const v1::GetSurveyResultsRequest& req);

 private:
  // The region the resident `c` lives in, if they may respond to `survey` at `now`;
  // PermissionDenied or FailedPrecondition when they may not; Unavailable when their
  // region cannot be learnt.
  absl::StatusOr<std::string> MayRespond(const Caller& c, const v1::Survey& survey, absl::Time now);

  SurveyStore* const store_;
  ResidentRegions* const residents_;
  const Clock* const clock_;
};

}  // namespace gridloop::assessment

#endif  // GRIDLOOP_SERVICES_ASSESSMENT_SURVEYS_H_
