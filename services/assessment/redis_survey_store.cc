#include "services/assessment/redis_survey_store.h"

// Keys. Every key starts "asm:{a}:sv:". Records are the API's protobuf messages; counts
// sit beside them as plain integers, since Lua does not parse protobuf.
//
// | key                      | type   | content                                              |
// |--------------------------|--------|------------------------------------------------------|
// | s:<id>                   | hash   | d Survey bytes (responses 0), n responses, sat_n     |
// |                          |        | responses with a satisfaction value, sat_m the sum   |
// |                          |        | of their satisfaction x 1000                         |
// | s:<id>:who               | hash   | respondent id -> "<request id>\n<fingerprint>\n      |
// |                          |        | <SurveyReceipt bytes>" (uniqueness and idempotency)  |
// | s:<id>:ans               | hash   | respondent id -> RespondToSurveyRequest bytes: the   |
// |                          |        | answers as counted, so results can be recounted      |
// | s:<id>:cnt               | hash   | "<question id>|n" answers; "<question id>|<v>" the   |
// |                          |        | answers with option index v (SINGLE_CHOICE) or       |
// |                          |        | rating v (RATING)                                    |
// | s:<id>:txt:<question id> | list   | FREE_TEXT answers, newest first, kTextsKept at most  |
// | req:<request id>         | string | "<fingerprint>\n<survey id>", kRequestRetention      |
// | t:<region>:<period key>  | hash   | the region's survey tally for the period (tally.h    |
// |                          |        | field names)                                         |
//
// Question ids, request ids and survey ids are checked by the domain to hold none of the
// separators used here.

#include <openssl/rand.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/clock/proto_time.h"
#include "common/status/status_macros.h"
#include "lua/survey_create.lua.h"
#include "lua/survey_respond.lua.h"

namespace gridloop::assessment {
namespace {

using redis::Reply;

constexpr absl::string_view kPrefix = "asm:{a}:sv:";
constexpr char kBase32[] = "0123456789abcdefghjkmnpqrstvwxyz";
// Attempts at a fresh survey id; a clash among 60 random bits is not expected at all.
constexpr int kAttempts = 4;

std::string SurveyKey(absl::string_view id) { return absl::StrCat(kPrefix, "s:", id); }
std::string RespondentsKey(absl::string_view id) { return absl::StrCat(kPrefix, "s:", id, ":who"); }
std::string AnswersKey(absl::string_view id) { return absl::StrCat(kPrefix, "s:", id, ":ans"); }
std::string CountsKey(absl::string_view id) { return absl::StrCat(kPrefix, "s:", id, ":cnt"); }
std::string TextsKey(absl::string_view id, absl::string_view question_id) {
  return absl::StrCat(kPrefix, "s:", id, ":txt:", question_id);
}
std::string RequestKey(absl::string_view request_id) {
  return absl::StrCat(kPrefix, "req:", request_id);
}

std::string AnsweredField(absl::string_view question_id) { return absl::StrCat(question_id, "|n"); }
std::string ValueField(absl::string_view question_id, int value) {
  return absl::StrCat(question_id, "|", value);
}

// `prefix` followed by 12 random base-32 characters.
std::string NewId(absl::string_view prefix) {
  unsigned char bytes[12];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    // The CSPRNG is not expected to fail; a per-thread engine keeps ids unique if it does.
    thread_local std::mt19937_64 engine{std::random_device{}()};
    for (auto& b : bytes) b = static_cast<unsigned char>(engine());
  }
  std::string id(prefix);
  for (unsigned char b : bytes) id += kBase32[b % 32];
  return id;
}

const redis::Script& CreateScript() {
  static const auto* const script = new redis::Script(kAssessmentSurveyCreateLua);
  return *script;
}
const redis::Script& RespondScript() {
  static const auto* const script = new redis::Script(kAssessmentSurveyRespondLua);
  return *script;
}

absl::Status Corrupt(absl::string_view what) {
  return absl::InternalError(absl::StrCat("assessment: stored ", what, " is unreadable"));
}

absl::Status Unexpected(absl::string_view script, const Reply& r) {
  return absl::InternalError(
      absl::StrCat("assessment: unexpected reply from ", script, ": ", r.DebugString()));
}

absl::Status NoSurvey(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("survey ", id, " not found"));
}

template <typename M>
absl::StatusOr<M> Parse(absl::string_view bytes, absl::string_view what) {
  M m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return Corrupt(what);
  return m;
}

// A script's outcome: the first element of its reply.
absl::string_view Outcome(const Reply& r) {
  return r.elements.empty() ? absl::string_view() : absl::string_view(r.elements[0].str);
}

// An integer field of an HMGET reply; nil counts as 0.
absl::StatusOr<int64_t> IntegerOf(const Reply& r, absl::string_view what) {
  if (r.is_nil()) return 0;
  int64_t n = 0;
  if (!absl::SimpleAtoi(r.str, &n)) return Corrupt(what);
  return n;
}

std::string RespondentRecord(absl::string_view request_id, absl::string_view fingerprint,
                             const v1::SurveyReceipt& receipt) {
  return absl::StrCat(request_id, "\n", fingerprint, "\n", receipt.SerializeAsString());
}

absl::StatusOr<StoredSurveyResponse> ParseRespondentRecord(absl::string_view record) {
  const size_t first = record.find('\n');
  const size_t second = first == absl::string_view::npos ? first : record.find('\n', first + 1);
  if (second == absl::string_view::npos) return Corrupt("survey response");
  StoredSurveyResponse out;
  out.request_id = std::string(record.substr(0, first));
  out.fingerprint = std::string(record.substr(first + 1, second - first - 1));
  ASSIGN_OR_RETURN(out.receipt,
                   Parse<v1::SurveyReceipt>(record.substr(second + 1), "survey receipt"));
  return out;
}

const v1::Question* FindQuestion(const v1::Survey& survey, absl::string_view id) {
  for (const v1::Question& q : survey.questions()) {
    if (q.id() == id) return &q;
  }
  return nullptr;
}

// A tally from the reply to HMGET <tally key> <responses field> <satisfaction field>.
absl::StatusOr<Tally> TallyFrom(const Reply& r) {
  if (r.is_error()) return redis::StatusFromErrorReply(r.str);
  if (r.elements.size() != 2) return Corrupt("survey tally");
  Tally t;
  ASSIGN_OR_RETURN(t[Counter::kSurveyResponses], IntegerOf(r.elements[0], "survey tally"));
  ASSIGN_OR_RETURN(t[Counter::kSurveySatisfactionMilli], IntegerOf(r.elements[1], "survey tally"));
  return t;
}

std::vector<std::string> ReadTallyCommand(absl::string_view region_code,
                                          absl::string_view period_key) {
  return {"HMGET", RedisSurveyStore::TallyKey(region_code, period_key),
          std::string(CounterField(Counter::kSurveyResponses)),
          std::string(CounterField(Counter::kSurveySatisfactionMilli))};
}

}  // namespace

RedisSurveyStore::RedisSurveyStore(redis::Client* redis) : redis_(redis) {}

std::string RedisSurveyStore::TallyKey(absl::string_view region_code,
                                       absl::string_view period_key) {
  return absl::StrCat(kPrefix, "t:", region_code, ":", period_key);
}

absl::StatusOr<v1::Survey> RedisSurveyStore::CreateSurvey(absl::string_view request_id,
                                                          absl::string_view fingerprint,
                                                          v1::Survey survey) {
  survey.set_responses(0);
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    survey.set_id(NewId("sv"));
    ASSIGN_OR_RETURN(
        Reply r, redis_->Eval(CreateScript(), {RequestKey(request_id), SurveyKey(survey.id())},
                              {std::string(fingerprint),
                               absl::StrCat(absl::ToInt64Seconds(kRequestRetention)), survey.id(),
                               survey.SerializeAsString()}));
    const absl::string_view outcome = Outcome(r);
    if (outcome == "ok") return survey;
    if (outcome == "dup") {
      if (r.elements.size() != 3) return Corrupt("survey request record");
      if (r.elements[1].str != fingerprint) {
        return absl::AlreadyExistsError(
            absl::StrCat("request_id: ", request_id, " was already used for a different survey"));
      }
      return GetSurvey(r.elements[2].str);
    }
    if (outcome != "id_taken") return Unexpected("survey_create.lua", r);
  }
  return absl::InternalError("assessment: no free survey id");
}

absl::StatusOr<v1::Survey> RedisSurveyStore::GetSurvey(absl::string_view survey_id) {
  ASSIGN_OR_RETURN(Reply r, redis_->Command({"HMGET", SurveyKey(survey_id), "d", "n"}));
  if (r.elements.size() != 2) return Corrupt("survey");
  if (r.elements[0].is_nil()) return NoSurvey(survey_id);
  ASSIGN_OR_RETURN(v1::Survey survey, Parse<v1::Survey>(r.elements[0].str, "survey"));
  ASSIGN_OR_RETURN(int64_t responses, IntegerOf(r.elements[1], "survey response count"));
  survey.set_responses(responses);
  return survey;
}

absl::StatusOr<v1::SurveyReceipt> RedisSurveyStore::RecordResponse(const v1::Survey& survey,
                                                                   const SurveyResponse& response) {
  v1::SurveyReceipt receipt;
  receipt.set_survey_id(survey.id());
  receipt.set_response_id(NewId("r"));
  *receipt.mutable_received_at() = ToTimestamp(response.received_at);
  receipt.set_satisfaction(response.satisfaction);

  v1::RespondToSurveyRequest answers;
  answers.set_request_id(response.request_id);
  answers.set_survey_id(survey.id());
  std::vector<std::string> count_fields;
  std::vector<std::string> texts;
  std::vector<std::string> keys = {SurveyKey(survey.id()), RespondentsKey(survey.id()),
                                   AnswersKey(survey.id()), CountsKey(survey.id())};
  for (const v1::Answer& a : response.answers) {
    const v1::Question* q = FindQuestion(survey, a.question_id());
    if (q == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("answers: no question ", a.question_id(), " in survey ", survey.id()));
    }
    *answers.add_answers() = a;
    count_fields.push_back(AnsweredField(q->id()));
    switch (q->type()) {
      case v1::QUESTION_TYPE_SINGLE_CHOICE:
        count_fields.push_back(ValueField(q->id(), a.choice()));
        break;
      case v1::QUESTION_TYPE_RATING:
        count_fields.push_back(ValueField(q->id(), a.rating()));
        break;
      default:
        keys.push_back(TextsKey(survey.id(), q->id()));
        texts.push_back(a.text());
        break;
    }
  }
  const bool satisfied = response.satisfaction >= 0;
  size_t tallies = 0;
  if (satisfied) {
    for (const std::string& region : response.tally_regions) {
      for (const std::string& period : response.tally_periods) {
        keys.push_back(TallyKey(region, period));
        ++tallies;
      }
    }
  }

  std::vector<std::string> args = {
      response.respondent_id,
      RespondentRecord(response.request_id, response.fingerprint, receipt),
      answers.SerializeAsString(),
      satisfied ? absl::StrCat(response.satisfaction_milli) : "",
      absl::StrCat(count_fields.size()),
      absl::StrCat(texts.size()),
      absl::StrCat(tallies),
      std::string(CounterField(Counter::kSurveyResponses)),
      std::string(CounterField(Counter::kSurveySatisfactionMilli)),
      absl::StrCat(kTextsKept)};
  args.insert(args.end(), std::make_move_iterator(count_fields.begin()),
              std::make_move_iterator(count_fields.end()));
  args.insert(args.end(), std::make_move_iterator(texts.begin()),
              std::make_move_iterator(texts.end()));

  ASSIGN_OR_RETURN(Reply r, redis_->Eval(RespondScript(), std::move(keys), std::move(args)));
  const absl::string_view outcome = Outcome(r);
  if (outcome == "ok") return receipt;
  if (outcome == "no_survey") return NoSurvey(survey.id());
  if (outcome != "responded" || r.elements.size() != 2) {
    return Unexpected("survey_respond.lua", r);
  }
  ASSIGN_OR_RETURN(StoredSurveyResponse earlier, ParseRespondentRecord(r.elements[1].str));
  if (earlier.request_id == response.request_id && earlier.fingerprint == response.fingerprint) {
    return earlier.receipt;
  }
  if (earlier.request_id == response.request_id) {
    return absl::AlreadyExistsError(absl::StrCat("request_id: ", response.request_id,
                                                 " was already used for a different response"));
  }
  return absl::AlreadyExistsError(absl::StrCat("resident ", response.respondent_id,
                                               " has already responded to survey ", survey.id()));
}

absl::StatusOr<std::optional<StoredSurveyResponse>> RedisSurveyStore::FindResponse(
    absl::string_view survey_id, absl::string_view respondent_id) {
  ASSIGN_OR_RETURN(
      Reply r, redis_->Command({"HGET", RespondentsKey(survey_id), std::string(respondent_id)}));
  if (r.is_nil()) return std::nullopt;
  ASSIGN_OR_RETURN(StoredSurveyResponse earlier, ParseRespondentRecord(r.str));
  return earlier;
}

absl::StatusOr<SurveyCounts> RedisSurveyStore::Results(absl::string_view survey_id,
                                                       int text_limit) {
  ASSIGN_OR_RETURN(Reply d, redis_->Command({"HGET", SurveyKey(survey_id), "d"}));
  if (d.is_nil()) return NoSurvey(survey_id);
  SurveyCounts out;
  ASSIGN_OR_RETURN(out.survey, Parse<v1::Survey>(d.str, "survey"));

  // The definition never changes; what it has received is read as one snapshot.
  std::vector<std::vector<std::string>> commands = {
      {"MULTI"},
      {"HMGET", SurveyKey(survey_id), "n", "sat_n", "sat_m"},
      {"HGETALL", CountsKey(survey_id)}};
  const std::string last = absl::StrCat(std::max(text_limit, 1) - 1);
  for (const v1::Question& q : out.survey.questions()) {
    if (q.type() == v1::QUESTION_TYPE_FREE_TEXT) {
      commands.push_back({"LRANGE", TextsKey(survey_id, q.id()), "0", last});
    }
  }
  commands.push_back({"EXEC"});
  const size_t queued = commands.size() - 2;
  ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(std::move(commands)));
  for (const Reply& r : replies) {
    if (r.is_error()) return redis::StatusFromErrorReply(r.str);
  }
  const Reply& exec = replies.back();
  if (exec.type != Reply::Type::kArray || exec.elements.size() != queued) {
    return Unexpected("survey results", exec);
  }
  for (const Reply& r : exec.elements) {
    if (r.is_error()) return redis::StatusFromErrorReply(r.str);
  }

  const Reply& totals = exec.elements[0];
  if (totals.elements.size() != 3) return Corrupt("survey totals");
  int64_t responses = 0;
  ASSIGN_OR_RETURN(responses, IntegerOf(totals.elements[0], "survey response count"));
  out.survey.set_responses(responses);
  ASSIGN_OR_RETURN(out.satisfaction_responses, IntegerOf(totals.elements[1], "survey totals"));
  ASSIGN_OR_RETURN(out.satisfaction_milli, IntegerOf(totals.elements[2], "survey totals"));

  std::map<std::string, int64_t> counts;
  const Reply& flat = exec.elements[1];
  for (size_t i = 0; i + 1 < flat.elements.size(); i += 2) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(flat.elements[i + 1].str, &n)) return Corrupt("survey counts");
    counts[flat.elements[i].str] = n;
  }
  auto count = [&counts](const std::string& field) -> int64_t {
    auto it = counts.find(field);
    return it == counts.end() ? 0 : it->second;
  };

  size_t next_texts = 2;
  for (const v1::Question& q : out.survey.questions()) {
    SurveyQuestionCounts c;
    c.question_id = q.id();
    c.answered = count(AnsweredField(q.id()));
    switch (q.type()) {
      case v1::QUESTION_TYPE_SINGLE_CHOICE:
        for (int i = 0; i < q.options_size(); ++i) c.counts.push_back(count(ValueField(q.id(), i)));
        break;
      case v1::QUESTION_TYPE_RATING:
        for (int v = 1; v <= q.scale(); ++v) c.counts.push_back(count(ValueField(q.id(), v)));
        break;
      case v1::QUESTION_TYPE_FREE_TEXT:
        for (const Reply& t : exec.elements[next_texts].elements) c.texts.push_back(t.str);
        ++next_texts;
        break;
      default:
        break;
    }
    out.questions.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<Tally> RedisSurveyStore::RegionSurveyTally(absl::string_view region_code,
                                                          absl::string_view period_key) {
  ASSIGN_OR_RETURN(Reply r, redis_->Command(ReadTallyCommand(region_code, period_key)));
  return TallyFrom(r);
}

absl::StatusOr<std::vector<Tally>> RedisSurveyStore::RegionSurveyTallies(
    const std::vector<std::pair<std::string, std::string>>& region_period) {
  std::vector<Tally> out;
  if (region_period.empty()) return out;
  std::vector<std::vector<std::string>> commands;
  commands.reserve(region_period.size());
  for (const auto& [region, period] : region_period) {
    commands.push_back(ReadTallyCommand(region, period));
  }
  ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(std::move(commands)));
  if (replies.size() != region_period.size()) return Corrupt("survey tallies");
  out.reserve(replies.size());
  for (const Reply& r : replies) {
    ASSIGN_OR_RETURN(Tally t, TallyFrom(r));
    out.push_back(t);
  }
  return out;
}

}  // namespace gridloop::assessment
