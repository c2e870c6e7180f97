#include "services/assessment/scoring.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace gridloop::assessment {
namespace {

// A score or rate that is mathematically on a threshold can land a rounding error below
// it after the weighted sum; it must still count as meeting the threshold.
constexpr double kTolerance = 1e-9;

constexpr absl::string_view kSatisfactionRate = "satisfaction";

double Ratio(double numerator, int64_t denominator) {
  return denominator > 0 ? numerator / static_cast<double>(denominator) : 0;
}

RateFigure Figure(absl::string_view name, double numerator, int64_t denominator, double weight,
                  bool lower_is_better = false) {
  RateFigure r;
  r.name = std::string(name);
  r.numerator = numerator;
  r.denominator = denominator;
  r.value = Ratio(numerator, denominator);
  r.weight = weight;
  r.lower_is_better = lower_is_better;
  return r;
}

double Score(const std::vector<RateFigure>& rates) {
  double weighted = 0;
  double weights = 0;
  for (const RateFigure& r : rates) {
    if (r.denominator <= 0 || r.weight <= 0) continue;
    // Counters folded from an event log that was replayed out of order can briefly
    // disagree (met > due); the score must stay within 0..100 regardless.
    double v = std::clamp(r.value, 0.0, 1.0);
    if (r.lower_is_better) v = 1 - v;
    weighted += r.weight * v;
    weights += r.weight;
  }
  return weights > 0 ? 100 * weighted / weights : 0;
}

int64_t Sample(const Tally& t, v1::SubjectKind kind) {
  int64_t sample = std::max<int64_t>(0, t[Counter::kReceived] - t[Counter::kCancelled]);
  if (kind == v1::SUBJECT_KIND_VOLUNTEER) {
    sample +=
        t[Counter::kOffersAccepted] + t[Counter::kOffersDeclined] + t[Counter::kOffersExpired];
  } else if (kind == v1::SUBJECT_KIND_REGION) {
    sample += t[Counter::kSurveyResponses];
  }
  return sample;
}

// What the sample of a subject of `kind` counts, for messages.
std::string SampleNoun(v1::SubjectKind kind, int64_t n) {
  const bool one = n == 1;
  switch (kind) {
    case v1::SUBJECT_KIND_VOLUNTEER:
      return one ? "incident or decided offer" : "incidents and decided offers";
    case v1::SUBJECT_KIND_REGION:
      return one ? "incident or survey response" : "incidents and survey responses";
    default:
      return one ? "incident" : "incidents";
  }
}

const RateFigure* FindRate(const std::vector<RateFigure>& rates, absl::string_view name) {
  for (const RateFigure& r : rates) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

const StarRule* FindRule(const std::vector<StarRule>& rules, int stars) {
  for (const StarRule& rule : rules) {
    if (rule.stars == stars) return &rule;
  }
  return nullptr;
}

// `value` to `decimals` places, but never shown as reaching `limit` when it is below it
// ("89.96 below 90" must not read "90.0 below 90").
std::string ShownBelow(double value, double limit, int decimals) {
  const double scale = std::pow(10.0, decimals);
  double shown = std::round(value * scale) / scale;
  if (shown >= limit) shown = std::floor(value * scale) / scale;
  return absl::StrFormat("%.*f", decimals, shown);
}

// A satisfaction threshold as people write it: "0.90", or every digit it has ("0.925").
std::string SatisfactionLimit(double limit) {
  const double hundredths = limit * 100;
  if (std::abs(hundredths - std::round(hundredths)) < kTolerance) {
    return absl::StrFormat("%.2f", limit);
  }
  return absl::StrFormat("%g", limit);
}

// Empty when `rule` is met; otherwise every reason it is not, "; "-separated.
std::string RuleShortfall(const StarRule& rule, double score, const RateFigure* satisfaction) {
  std::vector<std::string> reasons;
  if (score + kTolerance < rule.min_score) {
    reasons.push_back(
        absl::StrFormat("score %s below %g", ShownBelow(score, rule.min_score, 1), rule.min_score));
  }
  if (rule.min_satisfaction > 0) {
    if (satisfaction == nullptr || satisfaction->denominator <= 0) {
      reasons.push_back(absl::StrCat("no satisfaction feedback, ",
                                     SatisfactionLimit(rule.min_satisfaction), " needed"));
    } else if (satisfaction->value + kTolerance < rule.min_satisfaction) {
      reasons.push_back(absl::StrCat("satisfaction ",
                                     ShownBelow(satisfaction->value, rule.min_satisfaction, 2),
                                     " below ", SatisfactionLimit(rule.min_satisfaction)));
    }
  }
  return absl::StrJoin(reasons, "; ");
}

// Empty when the rule for `stars` is met; otherwise why not.
std::string LevelShortfall(const Formula& f, int stars, const Rating& rating) {
  const StarRule* rule = FindRule(f.rules, stars);
  if (rule == nullptr) {
    return absl::StrCat("formula ", f.version, " has no rule for ", stars, " stars");
  }
  return RuleShortfall(*rule, rating.score, FindRate(rating.rates, kSatisfactionRate));
}

std::string LevelWord(int stars) {
  static constexpr std::array<absl::string_view, 6> kWords = {"zero",  "one",  "two",
                                                              "three", "four", "five"};
  return std::string(kWords[std::clamp(stars, 0, 5)]);
}

std::string Ordinal(int64_t n) {
  const int64_t last_two = n % 100;
  const int64_t last = n % 10;
  absl::string_view suffix = "th";
  if (last_two < 11 || last_two > 13) {
    if (last == 1) suffix = "st";
    if (last == 2) suffix = "nd";
    if (last == 3) suffix = "rd";
  }
  return absl::StrCat(n, suffix);
}

// ---- Parsing ----

constexpr size_t kMaxVersionChars = 64;
constexpr int kQuotaLevels = 4;  // 5, 4, 3 and 2 stars

struct WeightKey {
  absl::string_view key;
  double Formula::*field;
};

constexpr std::array<WeightKey, 8> kWeightKeys = {{
    {"weight.response", &Formula::response},
    {"weight.resolution", &Formula::resolution},
    {"weight.satisfaction", &Formula::satisfaction},
    {"weight.timeliness", &Formula::timeliness},
    {"weight.reopen", &Formula::reopen},
    {"weight.escalation", &Formula::escalation},
    {"weight.offer_acceptance", &Formula::offer_acceptance},
    {"weight.survey", &Formula::survey},
}};

absl::Status Invalid(absl::string_view why) { return absl::InvalidArgumentError(why); }

absl::StatusOr<double> ParseNumber(absl::string_view what, absl::string_view text) {
  double v = 0;
  if (!absl::SimpleAtod(text, &v) || !std::isfinite(v)) {
    return Invalid(absl::StrCat(what, ": \"", text, "\" is not a number"));
  }
  return v;
}

absl::StatusOr<double> ParseInRange(absl::string_view what, absl::string_view text, double lo,
                                    double hi) {
  absl::StatusOr<double> v = ParseNumber(what, text);
  if (!v.ok()) return v;
  if (*v < lo || *v > hi) {
    return Invalid(absl::StrFormat("%s must be between %g and %g (got %s)", what, lo, hi, text));
  }
  return v;
}

std::vector<absl::string_view> Words(absl::string_view text) {
  return absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty());
}

// "5:90:0.9 4:80 3:70 2:60": each of 2..5 stars exactly once. Sorted from 5 stars down.
absl::StatusOr<std::vector<StarRule>> ParseRules(const std::vector<absl::string_view>& words) {
  std::vector<StarRule> rules;
  for (absl::string_view word : words) {
    const std::vector<absl::string_view> parts = absl::StrSplit(word, ':');
    if (parts.size() < 2 || parts.size() > 3) {
      return Invalid(
          absl::StrCat("star rule \"", word, "\": expected stars:min_score[:min_satisfaction]"));
    }
    int stars = 0;
    if (!absl::SimpleAtoi(parts[0], &stars) || stars < 2 || stars > 5) {
      return Invalid(absl::StrCat("star rule \"", word, "\": stars must be 2..5"));
    }
    if (FindRule(rules, stars) != nullptr) {
      return Invalid(absl::StrCat("star rule \"", word, "\": ", stars, " stars given twice"));
    }
    StarRule rule{stars, 0, 0};
    absl::StatusOr<double> score =
        ParseInRange(absl::StrCat("star rule \"", word, "\": min_score"), parts[1], 0, 100);
    if (!score.ok()) return score.status();
    rule.min_score = *score;
    if (parts.size() == 3) {
      absl::StatusOr<double> satisfaction =
          ParseInRange(absl::StrCat("star rule \"", word, "\": min_satisfaction"), parts[2], 0, 1);
      if (!satisfaction.ok()) return satisfaction.status();
      rule.min_satisfaction = *satisfaction;
    }
    rules.push_back(rule);
  }
  for (int stars = 5; stars >= 2; --stars) {
    if (FindRule(rules, stars) == nullptr) {
      return Invalid(absl::StrCat("star rules: no rule for ", stars, " stars"));
    }
  }
  std::sort(rules.begin(), rules.end(),
            [](const StarRule& a, const StarRule& b) { return a.stars > b.stars; });
  return rules;
}

absl::StatusOr<std::vector<double>> ParseQuotas(const std::vector<absl::string_view>& words) {
  if (words.size() != kQuotaLevels) {
    return Invalid(absl::StrCat("stars = quotas: expected 4 shares (5, 4, 3 and 2 stars), got ",
                                words.size()));
  }
  std::vector<double> quotas;
  double total = 0;
  for (size_t i = 0; i < words.size(); ++i) {
    absl::StatusOr<double> share =
        ParseInRange(absl::StrCat("quota for ", 5 - i, " stars"), words[i], 0, 1);
    if (!share.ok()) return share.status();
    quotas.push_back(*share);
    total += *share;
  }
  if (total > 1 + kTolerance) {
    return Invalid(absl::StrFormat("stars = quotas: the shares add up to %g, more than 1", total));
  }
  return quotas;
}

// One [version] section being read.
struct Section {
  Formula formula;
  int line = 0;                     // of the header
  std::map<std::string, int> keys;  // key -> the line that set it
  int rules_line = 0;               // the line that set the rules, if any
};

absl::Status SetKey(Section& s, absl::string_view key, absl::string_view value, int line) {
  Formula& f = s.formula;
  for (const WeightKey& w : kWeightKeys) {
    if (key != w.key) continue;
    absl::StatusOr<double> v = ParseNumber(key, value);
    if (!v.ok()) return v.status();
    if (*v < 0) return Invalid(absl::StrCat(key, " must not be negative (got ", value, ")"));
    f.*w.field = *v;
    return absl::OkStatus();
  }
  if (key == "basic_satisfied_weight") {
    absl::StatusOr<double> v = ParseInRange(key, value, 0, 1);
    if (!v.ok()) return v.status();
    f.basic_satisfied_weight = *v;
    return absl::OkStatus();
  }
  if (key == "min_sample") {
    int64_t n = 0;
    if (!absl::SimpleAtoi(value, &n)) {
      return Invalid(absl::StrCat("min_sample: \"", value, "\" is not a whole number"));
    }
    if (n < 1) return Invalid(absl::StrCat("min_sample must be at least 1 (got ", n, ")"));
    f.min_sample = n;
    return absl::OkStatus();
  }
  auto set_rules = [&](const std::vector<absl::string_view>& words) -> absl::Status {
    if (s.rules_line != 0) {
      return Invalid(absl::StrCat("star rules already set on line ", s.rules_line));
    }
    absl::StatusOr<std::vector<StarRule>> rules = ParseRules(words);
    if (!rules.ok()) return rules.status();
    f.rules = *std::move(rules);
    s.rules_line = line;
    return absl::OkStatus();
  };
  if (key == "rules") {
    std::vector<absl::string_view> words = Words(value);
    return set_rules(words);
  }
  if (key == "stars") {
    std::vector<absl::string_view> words = Words(value);
    const absl::string_view mode = words.front();
    words.erase(words.begin());
    if (mode == "thresholds") {
      f.mode = StarMode::kThresholds;
      f.quotas.clear();
      return words.empty() ? absl::OkStatus() : set_rules(words);
    }
    if (mode == "quotas") {
      absl::StatusOr<std::vector<double>> quotas = ParseQuotas(words);
      if (!quotas.ok()) return quotas.status();
      f.mode = StarMode::kQuotas;
      f.quotas = *std::move(quotas);
      return absl::OkStatus();
    }
    return Invalid(absl::StrCat(R"(stars: expected "thresholds" or "quotas", got ")", mode, "\""));
  }
  return Invalid(absl::StrCat("unknown key \"", key, "\""));
}

absl::Status CheckVersion(absl::string_view version) {
  if (version.empty()) return Invalid("empty version name in [ ]");
  if (version.size() > kMaxVersionChars) {
    return Invalid(absl::StrCat("version name longer than ", kMaxVersionChars, " characters"));
  }
  for (char c : version) {
    if (!(absl::ascii_isalnum(c) || c == '.' || c == '-' || c == '_')) {
      return Invalid(absl::StrCat("version \"", version,
                                  "\": only letters, digits, '.', '-' and '_' allowed"));
    }
  }
  return absl::OkStatus();
}

absl::Status AtLine(int line, const absl::Status& status) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", status.message()));
}

}  // namespace

std::vector<RateFigure> Rates(const Tally& t, v1::SubjectKind kind, const Formula& f) {
  std::vector<RateFigure> rates;
  rates.reserve(7);
  rates.push_back(Figure("response", static_cast<double>(t[Counter::kResponseMet]),
                         t[Counter::kResponseDue], f.response));
  rates.push_back(Figure("resolution", static_cast<double>(t[Counter::kResolutionClosed]),
                         t[Counter::kResolutionDue], f.resolution));
  const int64_t satisfied = t[Counter::kFeedbackSatisfied];
  const int64_t basic = t[Counter::kFeedbackBasic];
  rates.push_back(
      Figure(kSatisfactionRate,
             static_cast<double>(satisfied) + f.basic_satisfied_weight * static_cast<double>(basic),
             satisfied + basic + t[Counter::kFeedbackDissatisfied], f.satisfaction));
  rates.push_back(Figure("timeliness", static_cast<double>(t[Counter::kTimelinessMet]),
                         t[Counter::kTimelinessDue], f.timeliness));
  rates.push_back(Figure("reopen", static_cast<double>(t[Counter::kReopened]),
                         t[Counter::kReopenDue], f.reopen, /*lower_is_better=*/true));
  rates.push_back(Figure("escalation", static_cast<double>(t[Counter::kEscalated]),
                         t[Counter::kEscalationDue], f.escalation, /*lower_is_better=*/true));
  if (kind == v1::SUBJECT_KIND_VOLUNTEER) {
    rates.push_back(Figure(
        "offer_acceptance", static_cast<double>(t[Counter::kOffersAccepted]),
        t[Counter::kOffersAccepted] + t[Counter::kOffersDeclined] + t[Counter::kOffersExpired],
        f.offer_acceptance));
  } else if (kind == v1::SUBJECT_KIND_REGION) {
    rates.push_back(Figure("survey_satisfaction",
                           static_cast<double>(t[Counter::kSurveySatisfactionMilli]) / 1000,
                           t[Counter::kSurveyResponses], f.survey));
  }
  return rates;
}

Rating Rate(const Tally& t, v1::SubjectKind kind, const Formula& f) {
  Rating r;
  r.rates = Rates(t, kind, f);
  r.score = Score(r.rates);
  r.sample = Sample(t, kind);
  if (r.sample < f.min_sample) {
    r.insufficient_sample = true;
    r.stars = 0;
    const std::string reason =
        absl::StrCat("insufficient sample: ", r.sample, " ", SampleNoun(kind, r.sample),
                     ", at least ", f.min_sample, " needed");
    for (int stars = 1; stars <= 5; ++stars) r.missed.emplace_back(stars, reason);
    return r;
  }
  r.stars = 1;
  for (int stars = 5; stars >= 2; --stars) {
    if (LevelShortfall(f, stars, r).empty()) {
      r.stars = stars;
      break;
    }
  }
  for (int stars = r.stars + 1; stars <= 5; ++stars) {
    r.missed.emplace_back(stars, LevelShortfall(f, stars, r));
  }
  return r;
}

void ApplyStarQuotas(std::vector<Rating*>& ratings, const std::vector<std::string>& ids,
                     const Formula& f) {
  if (f.mode != StarMode::kQuotas) return;
  struct Ranked {
    Rating* rating;
    absl::string_view id;
  };
  std::vector<Ranked> ranked;
  for (size_t i = 0; i < ratings.size(); ++i) {
    if (ratings[i] == nullptr || ratings[i]->insufficient_sample) continue;
    ranked.push_back({ratings[i], i < ids.size() ? absl::string_view(ids[i]) : ""});
  }
  std::sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) {
    if (a.rating->score != b.rating->score) return a.rating->score > b.rating->score;
    return a.id < b.id;
  });

  const auto count = static_cast<int64_t>(ranked.size());
  std::array<int64_t, 6> places{};  // by star level
  std::array<int64_t, 6> taken{};
  for (int stars = 5; stars >= 2; --stars) {
    const size_t index = 5 - stars;
    const double share = index < f.quotas.size() ? f.quotas[index] : 0;
    // Shares such as 0.29 × 100 come out a hair under the whole number they stand for.
    places[stars] = std::max<int64_t>(
        0, static_cast<int64_t>(std::floor(share * static_cast<double>(count) + kTolerance)));
  }

  for (int64_t rank = 1; rank <= count; ++rank) {
    Rating& r = *ranked[rank - 1].rating;
    r.stars = 1;
    std::vector<std::pair<int, std::string>> missed;  // highest level first
    for (int stars = 5; stars >= 2; --stars) {
      std::string shortfall = LevelShortfall(f, stars, r);
      if (!shortfall.empty()) {
        missed.emplace_back(stars, std::move(shortfall));
        continue;
      }
      if (taken[stars] >= places[stars]) {
        const size_t index = 5 - stars;
        const double share = index < f.quotas.size() ? f.quotas[index] : 0;
        missed.emplace_back(
            stars,
            absl::StrFormat("%s-star places are capped at %g%% (%d of %d); ranked %s",
                            LevelWord(stars), share * 100, places[stars], count, Ordinal(rank)));
        continue;
      }
      ++taken[stars];
      r.stars = stars;
      break;
    }
    r.missed.assign(missed.rbegin(), missed.rend());
  }
}

std::string Describe(const Formula& f) {
  std::vector<std::string> lines;
  lines.push_back(absl::StrCat("[", f.version, "]"));
  for (const WeightKey& w : kWeightKeys) {
    lines.push_back(absl::StrFormat("%s = %g", w.key, f.*w.field));
  }
  lines.push_back(absl::StrFormat("basic_satisfied_weight = %g", f.basic_satisfied_weight));
  lines.push_back(absl::StrCat("min_sample = ", f.min_sample));
  std::vector<std::string> rules;
  rules.reserve(f.rules.size());
  for (const StarRule& rule : f.rules) {
    std::string text = absl::StrFormat("%d:%g", rule.stars, rule.min_score);
    if (rule.min_satisfaction > 0) absl::StrAppendFormat(&text, ":%g", rule.min_satisfaction);
    rules.push_back(std::move(text));
  }
  if (f.mode == StarMode::kQuotas) {
    lines.push_back(absl::StrFormat("stars = quotas %s",
                                    absl::StrJoin(f.quotas, " ", [](std::string* out, double q) {
                                      absl::StrAppendFormat(out, "%g", q);
                                    })));
    lines.push_back(absl::StrCat("rules = ", absl::StrJoin(rules, " ")));
  } else {
    lines.push_back(absl::StrCat("stars = thresholds ", absl::StrJoin(rules, " ")));
  }
  return absl::StrCat(absl::StrJoin(lines, "\n"), "\n");
}

Formulas Formulas::Default() {
  Formulas formulas;
  formulas.by_version_.emplace("v1", Formula{});
  return formulas;
}

absl::StatusOr<Formulas> Formulas::Parse(absl::string_view text) {
  Formulas formulas;
  std::map<std::string, int> version_lines;
  std::optional<Section> section;

  auto close = [&]() -> absl::Status {
    if (!section.has_value()) return absl::OkStatus();
    const Formula& f = section->formula;
    bool any_weight = false;
    for (const WeightKey& w : kWeightKeys) any_weight = any_weight || f.*w.field > 0;
    if (!any_weight) {
      return AtLine(section->line,
                    Invalid(absl::StrCat("[", f.version, "] gives every rate a weight of 0")));
    }
    formulas.by_version_[f.version] = f;
    section.reset();
    return absl::OkStatus();
  };

  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = line.substr(0, line.find('#'));
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;

    if (absl::ConsumePrefix(&line, "[")) {
      if (!absl::ConsumeSuffix(&line, "]")) {
        return AtLine(line_no, Invalid("a section header must end with ']'"));
      }
      const absl::string_view version = absl::StripAsciiWhitespace(line);
      if (absl::Status s = CheckVersion(version); !s.ok()) return AtLine(line_no, s);
      if (auto it = version_lines.find(std::string(version)); it != version_lines.end()) {
        return AtLine(line_no, Invalid(absl::StrCat("version \"", version,
                                                    "\" already defined on line ", it->second)));
      }
      if (absl::Status s = close(); !s.ok()) return s;
      version_lines.emplace(std::string(version), line_no);
      section.emplace();
      section->formula.version = std::string(version);
      section->line = line_no;
      continue;
    }

    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return AtLine(line_no,
                    Invalid(absl::StrCat("expected key = value or [version], got \"", line, "\"")));
    }
    const absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, eq));
    const absl::string_view value = absl::StripAsciiWhitespace(line.substr(eq + 1));
    if (key.empty()) return AtLine(line_no, Invalid("missing key before '='"));
    if (!section.has_value()) {
      return AtLine(line_no,
                    Invalid(absl::StrCat("\"", key, "\" comes before any [version] header")));
    }
    if (value.empty()) return AtLine(line_no, Invalid(absl::StrCat("\"", key, "\" has no value")));
    if (auto it = section->keys.find(std::string(key)); it != section->keys.end()) {
      return AtLine(line_no,
                    Invalid(absl::StrCat("\"", key, "\" already set on line ", it->second)));
    }
    if (absl::Status s = SetKey(*section, key, value, line_no); !s.ok()) return AtLine(line_no, s);
    section->keys.emplace(std::string(key), line_no);
  }
  if (absl::Status s = close(); !s.ok()) return s;
  if (formulas.by_version_.find("v1") == formulas.by_version_.end()) {
    formulas.by_version_.emplace("v1", Formula{});
  }
  return formulas;
}

const Formula* Formulas::Find(absl::string_view version) const {
  auto it = by_version_.find(std::string(version));
  return it == by_version_.end() ? nullptr : &it->second;
}

std::vector<std::string> Formulas::Versions() const {
  std::vector<std::string> versions;
  versions.reserve(by_version_.size());
  for (const auto& [version, formula] : by_version_) versions.push_back(version);
  return versions;
}

}  // namespace gridloop::assessment
