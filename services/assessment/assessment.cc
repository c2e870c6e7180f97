#include "services/assessment/assessment.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/clock/proto_time.h"
#include "common/status/status_macros.h"
#include "services/assessment/periods.h"

namespace gridloop::assessment {
namespace {

constexpr size_t kMaxIdLength = 128;

absl::Status CheckKind(v1::SubjectKind k, absl::string_view field) {
  if (k == v1::SUBJECT_KIND_UNSPECIFIED || !v1::SubjectKind_IsValid(k)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": a subject kind is required"));
  }
  return absl::OkStatus();
}

absl::Status CheckSubject(v1::SubjectKind kind, absl::string_view id) {
  RETURN_IF_ERROR(CheckKind(kind, "subject_kind"));
  if (id.empty()) return absl::InvalidArgumentError("subject_id: required");
  if (id.size() > kMaxIdLength || id.find(':') != absl::string_view::npos) {
    return absl::InvalidArgumentError("subject_id: at most 128 characters, no ':'");
  }
  return absl::OkStatus();
}

absl::Status CheckPeriod(v1::Period p) {
  if (p == v1::PERIOD_UNSPECIFIED || !v1::Period_IsValid(p)) {
    return absl::InvalidArgumentError("period: DAY, WEEK, MONTH, QUARTER or YEAR is required");
  }
  return absl::OkStatus();
}

bool Supervises(const Caller& c) {
  return c.role == Role::kGridLeader || c.role == Role::kSupervisor || c.role == Role::kOperator ||
         c.role == Role::kSystem;
}

bool Within(const Caller& c, absl::string_view region) {
  return c.role == Role::kSystem || c.ActsWithin(region);
}

absl::Status MayRead(const Caller& c, v1::SubjectKind kind, absl::string_view id) {
  if (c.anonymous()) return absl::UnauthenticatedError("assessment needs an identified caller");
  if (kind == v1::SUBJECT_KIND_REGION) {
    if (c.role != Role::kResident && c.role != Role::kVolunteer && Within(c, id)) {
      return absl::OkStatus();
    }
    return absl::PermissionDeniedError(absl::StrCat("region ", id, " is outside your scope"));
  }
  if (c.person_id == id || Supervises(c)) return absl::OkStatus();
  if (c.role == Role::kDepartment && kind == v1::SUBJECT_KIND_DEPARTMENT) return absl::OkStatus();
  return absl::PermissionDeniedError(
      "only the subject or their supervisors may read this scorecard");
}

absl::Status MayDecide(const Caller& c, absl::string_view region) {
  if (c.anonymous()) return absl::UnauthenticatedError("assessment needs an identified caller");
  if (c.role != Role::kSupervisor && c.role != Role::kOperator && c.role != Role::kSystem) {
    return absl::PermissionDeniedError("only supervisors and operators freeze or appeal ratings");
  }
  if (!region.empty() && !Within(c, region)) {
    return absl::PermissionDeniedError(absl::StrCat("region ", region, " is outside your scope"));
  }
  return absl::OkStatus();
}

absl::Time AtOr(const google::protobuf::Timestamp& t, absl::Time now) {
  return t.seconds() == 0 && t.nanos() == 0 ? now : FromTimestamp(t);
}

void FillRating(const Rating& r, v1::Scorecard& card) {
  card.clear_rates();
  for (const RateFigure& f : r.rates) {
    v1::Rate* out = card.add_rates();
    out->set_name(f.name);
    out->set_numerator(f.numerator);
    out->set_denominator(f.denominator);
    out->set_value(f.value);
    out->set_weight(f.weight);
  }
  card.set_score(r.score);
  card.set_stars(r.stars);
  card.set_live_score(r.score);
  card.set_live_stars(r.stars);
  card.set_insufficient_sample(r.insufficient_sample);
  card.set_sample(r.sample);
  card.clear_missed();
  for (const auto& [stars, reason] : r.missed) {
    v1::StarLevelMiss* m = card.add_missed();
    m->set_stars(stars);
    m->set_reason(reason);
  }
}

v1::Scorecard Blank(v1::SubjectKind kind, const std::string& id, const PeriodSpan& span,
                    const Tally& t, const std::string& formula) {
  v1::Scorecard card;
  card.set_subject_kind(kind);
  card.set_subject_id(id);
  card.set_period(span.period);
  card.set_period_key(span.key);
  *card.mutable_period_start() = ToTimestamp(span.start);
  *card.mutable_period_end() = ToTimestamp(span.end);
  card.set_received(t[Counter::kReceived]);
  card.set_cancelled(t[Counter::kCancelled]);
  card.set_formula_version(formula);
  card.set_service_hours(static_cast<double>(t[Counter::kServiceMillihours]) / 1000.0);
  card.set_service_points(t[Counter::kServicePoints]);
  return card;
}

void ApplyFrozen(const FrozenRating& f, v1::Scorecard& card) {
  card.set_frozen(true);
  card.set_score(f.score);
  card.set_stars(f.stars);
  card.set_insufficient_sample(f.insufficient_sample);
  card.set_formula_version(f.formula_version);
}

std::string Digest(const v1::ScoreEvent& e) {
  std::string out;
  for (const v1::PeriodScore& s : e.scores()) {
    absl::StrAppendFormat(&out, "%s=%.4f/%d/%d;", s.period_key(), s.score(), s.stars(),
                          s.insufficient_sample() ? 1 : 0);
  }
  return out;
}

}  // namespace

struct Assessment::Population {
  int64_t generation = 0;
  const Formula* formula = nullptr;
  v1::SubjectKind kind = v1::SUBJECT_KIND_UNSPECIFIED;
  std::vector<std::string> ids;
};

Assessment::Assessment(AssessmentStore* store, SurveyTallyReader surveys, const Formulas* formulas,
                       const Clock* clock, AssessmentOptions options)
    : store_(store),
      surveys_(std::move(surveys)),
      formulas_(formulas),
      clock_(clock),
      options_(std::move(options)) {}

const Formula& Assessment::FormulaOf(absl::string_view version) const {
  if (const Formula* f = formulas_->Find(version)) return *f;
  return *formulas_->Find("v1");
}

absl::StatusOr<Assessment::Population> Assessment::PopulationOf(const Generations& g,
                                                                v1::SubjectKind kind,
                                                                absl::string_view within, int depth,
                                                                absl::string_view period_key) {
  Population pop;
  pop.generation = g.current;
  pop.formula = &FormulaOf(g.current_formula);
  pop.kind = kind;
  ASSIGN_OR_RETURN(std::vector<std::string> ids,
                   store_->Members(g.current, kind, within, period_key));
  if (kind == v1::SUBJECT_KIND_REGION) {
    const int want = depth > 0 ? depth : RegionDepth(within) + 1;
    ids.erase(std::remove_if(ids.begin(), ids.end(),
                             [&](const std::string& r) { return RegionDepth(r) != want; }),
              ids.end());
  }
  if (static_cast<int>(ids.size()) > options_.max_population) {
    return absl::FailedPreconditionError(absl::StrCat(ids.size(), " subjects in ", within,
                                                      ": narrow within_region (at most ",
                                                      options_.max_population, ")"));
  }
  std::sort(ids.begin(), ids.end());
  pop.ids = std::move(ids);
  return pop;
}

absl::StatusOr<std::vector<v1::Scorecard>> Assessment::Rate(const Population& pop,
                                                            const PeriodSpan& span) {
  std::vector<Cell> cells;
  cells.reserve(pop.ids.size());
  for (const std::string& id : pop.ids) cells.push_back(Cell{pop.kind, id, span.key});
  ASSIGN_OR_RETURN(std::vector<Tally> tallies, store_->ReadTallies(pop.generation, cells));
  if (pop.kind == v1::SUBJECT_KIND_REGION && surveys_) {
    std::vector<std::pair<std::string, std::string>> keys;
    keys.reserve(pop.ids.size());
    for (const std::string& id : pop.ids) keys.emplace_back(id, span.key);
    ASSIGN_OR_RETURN(std::vector<Tally> survey, surveys_(keys));
    for (size_t i = 0; i < tallies.size() && i < survey.size(); ++i) tallies[i] += survey[i];
  }
  std::vector<Rating> ratings;
  ratings.reserve(tallies.size());
  for (const Tally& t : tallies) ratings.push_back(assessment::Rate(t, pop.kind, *pop.formula));
  if (pop.formula->mode == StarMode::kQuotas) {
    std::vector<Rating*> ptrs;
    ptrs.reserve(ratings.size());
    for (Rating& r : ratings) ptrs.push_back(&r);
    ApplyStarQuotas(ptrs, pop.ids, *pop.formula);
  }
  ASSIGN_OR_RETURN(std::vector<std::optional<FrozenRating>> frozen,
                   store_->GetFrozen(pop.kind, pop.ids, span.key));
  std::vector<v1::Scorecard> cards;
  cards.reserve(pop.ids.size());
  for (size_t i = 0; i < pop.ids.size(); ++i) {
    v1::Scorecard card = Blank(pop.kind, pop.ids[i], span, tallies[i], pop.formula->version);
    FillRating(ratings[i], card);
    if (i < frozen.size() && frozen[i].has_value()) ApplyFrozen(*frozen[i], card);
    cards.push_back(std::move(card));
  }
  return cards;
}

absl::StatusOr<v1::Scorecard> Assessment::Card(const Generations& g, v1::SubjectKind kind,
                                               const std::string& id, const PeriodSpan& span) {
  const Formula& formula = FormulaOf(g.current_formula);
  if (formula.mode == StarMode::kQuotas) {
    // Stars by quota are relative: rate the subject among its peers.
    absl::string_view within = options_.city_region;
    int depth = 0;
    std::string parent;
    if (kind == v1::SUBJECT_KIND_REGION) {
      const std::vector<std::string> up = RegionAndAncestors(id);
      parent = up.size() >= 2 ? up[up.size() - 2] : id;
      within = parent;
      depth = RegionDepth(id);
    }
    ASSIGN_OR_RETURN(Population pop, PopulationOf(g, kind, within, depth, span.key));
    if (std::binary_search(pop.ids.begin(), pop.ids.end(), id)) {
      ASSIGN_OR_RETURN(std::vector<v1::Scorecard> cards, Rate(pop, span));
      for (v1::Scorecard& c : cards) {
        if (c.subject_id() == id) return std::move(c);
      }
    }
  }
  Population one;
  one.generation = g.current;
  one.formula = &formula;
  one.kind = kind;
  one.ids = {id};
  ASSIGN_OR_RETURN(std::vector<v1::Scorecard> cards, Rate(one, span));
  return std::move(cards.front());
}

absl::StatusOr<v1::Scorecard> Assessment::GetScorecard(const Caller& caller,
                                                       const v1::GetScorecardRequest& req) {
  RETURN_IF_ERROR(CheckSubject(req.subject_kind(), req.subject_id()));
  RETURN_IF_ERROR(CheckPeriod(req.period()));
  RETURN_IF_ERROR(MayRead(caller, req.subject_kind(), req.subject_id()));
  ASSIGN_OR_RETURN(const Generations g, store_->GetGenerations());
  return Card(g, req.subject_kind(), req.subject_id(),
              PeriodOf(req.period(), AtOr(req.at(), clock_->Now())));
}

absl::StatusOr<v1::ListRankingsResponse> Assessment::ListRankings(
    const Caller& caller, const v1::ListRankingsRequest& req) {
  RETURN_IF_ERROR(CheckKind(req.subject_kind(), "subject_kind"));
  RETURN_IF_ERROR(CheckPeriod(req.period()));
  if (req.within_region().empty()) return absl::InvalidArgumentError("within_region: required");
  if (req.region_depth() < 0 || req.region_depth() > 8) {
    return absl::InvalidArgumentError("region_depth: 0..8");
  }
  if (req.subject_kind() == v1::SUBJECT_KIND_REGION && req.region_depth() != 0 &&
      req.region_depth() <= RegionDepth(req.within_region())) {
    return absl::InvalidArgumentError("region_depth: must be below within_region");
  }
  if (req.limit() < 0 || req.limit() > 100) return absl::InvalidArgumentError("limit: 0..100");
  if (caller.anonymous()) {
    return absl::UnauthenticatedError("assessment needs an identified caller");
  }
  if (caller.role == Role::kResident || caller.role == Role::kVolunteer ||
      !Within(caller, req.within_region())) {
    return absl::PermissionDeniedError(
        absl::StrCat("rankings of ", req.within_region(), " are outside your scope"));
  }
  ASSIGN_OR_RETURN(const Generations g, store_->GetGenerations());
  const PeriodSpan span = PeriodOf(req.period(), AtOr(req.at(), clock_->Now()));
  ASSIGN_OR_RETURN(Population pop, PopulationOf(g, req.subject_kind(), req.within_region(),
                                                req.region_depth(), span.key));
  ASSIGN_OR_RETURN(std::vector<v1::Scorecard> cards, Rate(pop, span));
  std::vector<v1::Scorecard*> ranked;
  int insufficient = 0;
  for (v1::Scorecard& c : cards) {
    if (c.insufficient_sample()) {
      ++insufficient;
    } else {
      ranked.push_back(&c);
    }
  }
  std::sort(ranked.begin(), ranked.end(), [](const v1::Scorecard* a, const v1::Scorecard* b) {
    if (a->score() != b->score()) return a->score() > b->score();
    return a->subject_id() < b->subject_id();
  });
  v1::ListRankingsResponse resp;
  resp.set_ranked(static_cast<int32_t>(ranked.size()));
  resp.set_insufficient_sample(insufficient);
  resp.set_formula_version(pop.formula->version);
  const int limit = req.limit() == 0 ? 10 : req.limit();
  const int n = static_cast<int>(ranked.size());
  const bool bottom = req.order() == v1::RANKING_ORDER_BOTTOM;
  for (int k = 0; k < std::min(limit, n); ++k) {
    const int i = bottom ? n - 1 - k : k;
    v1::RankingEntry* e = resp.add_entries();
    e->set_rank(i + 1);
    *e->mutable_scorecard() = std::move(*ranked[i]);
  }
  return resp;
}

absl::StatusOr<v1::GetTrendResponse> Assessment::GetTrend(const Caller& caller,
                                                          const v1::GetTrendRequest& req) {
  RETURN_IF_ERROR(CheckSubject(req.subject_kind(), req.subject_id()));
  RETURN_IF_ERROR(CheckPeriod(req.period()));
  if (req.periods() < 0 || req.periods() > 60) return absl::InvalidArgumentError("periods: 0..60");
  RETURN_IF_ERROR(MayRead(caller, req.subject_kind(), req.subject_id()));
  ASSIGN_OR_RETURN(const Generations g, store_->GetGenerations());
  const int n = req.periods() == 0 ? 6 : req.periods();
  std::vector<PeriodSpan> spans{PeriodOf(req.period(), AtOr(req.at(), clock_->Now()))};
  while (static_cast<int>(spans.size()) < n) spans.push_back(PreviousPeriod(spans.back()));
  v1::GetTrendResponse resp;
  std::reverse(spans.begin(), spans.end());  // oldest first
  for (const PeriodSpan& span : spans) {
    ASSIGN_OR_RETURN(v1::Scorecard card, Card(g, req.subject_kind(), req.subject_id(), span));
    *resp.add_scorecards() = std::move(card);
  }
  return resp;
}

absl::StatusOr<v1::ExplainResponse> Assessment::Explain(const Caller& caller,
                                                        const v1::ExplainRequest& req) {
  RETURN_IF_ERROR(CheckSubject(req.subject_kind(), req.subject_id()));
  RETURN_IF_ERROR(CheckPeriod(req.period()));
  const v1::ExplainPart part =
      req.part() == v1::EXPLAIN_PART_UNSPECIFIED ? v1::EXPLAIN_PART_DENOMINATOR : req.part();
  if (!v1::ExplainPart_IsValid(part)) return absl::InvalidArgumentError("part: unknown");
  if (part != v1::EXPLAIN_PART_RECEIVED && !ExplainableRate(req.rate())) {
    return absl::InvalidArgumentError(
        "rate: one of response, resolution, satisfaction, timeliness, reopen, escalation");
  }
  if (req.page_size() < 0 || req.page_size() > 500) {
    return absl::InvalidArgumentError("page_size: 0..500");
  }
  int64_t offset = 0;
  if (!req.page_token().empty()) {
    absl::string_view token = req.page_token();
    if (!absl::ConsumePrefix(&token, "o") || !absl::SimpleAtoi(token, &offset) || offset < 0) {
      return absl::InvalidArgumentError("page_token: not a token this service issued");
    }
  }
  RETURN_IF_ERROR(MayRead(caller, req.subject_kind(), req.subject_id()));
  ASSIGN_OR_RETURN(const Generations g, store_->GetGenerations());
  const Formula& formula = FormulaOf(g.current_formula);
  const PeriodSpan span = PeriodOf(req.period(), AtOr(req.at(), clock_->Now()));
  const Cell cell{req.subject_kind(), req.subject_id(), span.key};

  v1::ExplainResponse resp;
  ASSIGN_OR_RETURN(std::vector<Tally> tally, store_->ReadTallies(g.current, {cell}));
  const Rating rating = assessment::Rate(tally.front(), req.subject_kind(), formula);
  if (part == v1::EXPLAIN_PART_RECEIVED) {
    resp.set_total(static_cast<double>(tally.front()[Counter::kReceived]));
  } else {
    for (const RateFigure& f : rating.rates) {
      if (f.name != req.rate()) continue;
      resp.set_total(part == v1::EXPLAIN_PART_NUMERATOR ? f.numerator
                                                        : static_cast<double>(f.denominator));
    }
  }
  const int want = req.page_size() == 0 ? 50 : req.page_size();
  // Incidents counted in the cell but not in this figure are skipped; a page reads a
  // bounded number of them so that a sparse figure cannot make one call unbounded.
  constexpr int64_t kChunk = 200;
  constexpr int64_t kMaxScanned = 5000;
  int64_t scanned = 0;
  bool more = false;
  while (resp.incidents_size() < want && scanned < kMaxScanned) {
    ASSIGN_OR_RETURN(ExplainPage page, store_->ExplainIncidents(g.current, cell, offset, kChunk));
    if (page.incident_ids.empty()) {
      more = false;
      break;
    }
    ASSIGN_OR_RETURN(std::vector<v1::FoldedIncident> facts,
                     store_->GetFacts(g.current, page.incident_ids));
    size_t used = 0;
    for (; used < facts.size() && resp.incidents_size() < want; ++used) {
      const v1::FoldedIncident& f = facts[used];
      const Explanation e =
          assessment::Explain(f, cell, req.rate(), part, formula.basic_satisfied_weight);
      if (e.counts == 0) continue;
      v1::ExplainedIncident* out = resp.add_incidents();
      out->set_incident_id(page.incident_ids[used]);
      out->set_version(f.version());
      out->set_status(f.status());
      out->set_category(f.category());
      out->set_region_code(f.region_code());
      *out->mutable_reported_at() = f.reported_at();
      *out->mutable_respond_by() = f.first_respond_by();
      *out->mutable_first_accepted_at() = f.first_accepted_at();
      *out->mutable_resolve_by() = f.first_resolve_by();
      *out->mutable_first_resolved_at() = f.first_resolved_at();
      out->set_satisfaction(f.satisfaction());
      out->set_counts(e.counts);
      out->set_why(e.why);
    }
    offset += static_cast<int64_t>(used);
    scanned += static_cast<int64_t>(used);
    more = offset < page.total;
    if (!more) break;
  }
  if (more) resp.set_next_page_token(absl::StrCat("o", offset));
  return resp;
}

absl::StatusOr<v1::FreezeRatingsResponse> Assessment::FreezeRatings(
    const Caller& caller, const v1::FreezeRatingsRequest& req) {
  if (req.request_id().empty() || req.request_id().size() > kMaxIdLength) {
    return absl::InvalidArgumentError("request_id: 1..128 characters");
  }
  RETURN_IF_ERROR(CheckKind(req.subject_kind(), "subject_kind"));
  RETURN_IF_ERROR(CheckPeriod(req.period()));
  if (req.within_region().empty()) return absl::InvalidArgumentError("within_region: required");
  if (req.region_depth() < 0 || req.region_depth() > 8) {
    return absl::InvalidArgumentError("region_depth: 0..8");
  }
  RETURN_IF_ERROR(MayDecide(caller, req.within_region()));
  ASSIGN_OR_RETURN(const Generations g, store_->GetGenerations());
  const PeriodSpan span = PeriodOf(req.period(), AtOr(req.at(), clock_->Now()));
  ASSIGN_OR_RETURN(Population pop, PopulationOf(g, req.subject_kind(), req.within_region(),
                                                req.region_depth(), span.key));
  ASSIGN_OR_RETURN(std::vector<v1::Scorecard> cards, Rate(pop, span));
  std::vector<std::pair<std::string, FrozenRating>> ratings;
  const absl::Time now = clock_->Now();
  for (const v1::Scorecard& c : cards) {
    if (c.frozen()) continue;
    FrozenRating f;
    f.score = c.score();
    f.stars = c.stars();
    f.insufficient_sample = c.insufficient_sample();
    f.formula_version = c.formula_version();
    f.frozen_at = now;
    ratings.emplace_back(c.subject_id(), f);
  }
  // Freezing is idempotent in effect (an existing frozen rating is kept), so a repeated
  // request_id needs no record of its own.
  ASSIGN_OR_RETURN(int frozen, store_->Freeze(req.subject_kind(), span.key, ratings));
  v1::FreezeRatingsResponse resp;
  resp.set_frozen(frozen);
  resp.set_already_frozen(static_cast<int32_t>(cards.size()) - frozen);
  resp.set_period_key(span.key);
  resp.set_formula_version(pop.formula->version);
  return resp;
}

absl::StatusOr<v1::Appeal> Assessment::AppealRating(const Caller& caller,
                                                    const v1::AppealRatingRequest& req) {
  if (req.request_id().empty() || req.request_id().size() > kMaxIdLength) {
    return absl::InvalidArgumentError("request_id: 1..128 characters");
  }
  RETURN_IF_ERROR(CheckSubject(req.subject_kind(), req.subject_id()));
  RETURN_IF_ERROR(CheckPeriod(req.period()));
  if (req.stars() < 1 || req.stars() > 5) return absl::InvalidArgumentError("stars: 1..5");
  if (!(req.score() >= 0 && req.score() <= 100)) return absl::InvalidArgumentError("score: 0..100");
  if (req.reason().empty() || req.reason().size() > 2000) {
    return absl::InvalidArgumentError("reason: required, at most 2000 characters");
  }
  RETURN_IF_ERROR(
      MayDecide(caller, req.subject_kind() == v1::SUBJECT_KIND_REGION ? req.subject_id() : ""));
  const PeriodSpan span = PeriodOf(req.period(), AtOr(req.at(), clock_->Now()));
  v1::Appeal appeal;
  appeal.set_subject_kind(req.subject_kind());
  appeal.set_subject_id(req.subject_id());
  appeal.set_period(req.period());
  appeal.set_period_key(span.key);
  appeal.set_stars_after(req.stars());
  appeal.set_score_after(req.score());
  appeal.set_reason(req.reason());
  appeal.set_decided_by(caller.person_id);
  *appeal.mutable_decided_at() = ToTimestamp(clock_->Now());
  return store_->RecordAppeal(req.request_id(), appeal);
}

absl::StatusOr<v1::ListAppealsResponse> Assessment::ListAppeals(const Caller& caller,
                                                                const v1::ListAppealsRequest& req) {
  RETURN_IF_ERROR(CheckSubject(req.subject_kind(), req.subject_id()));
  RETURN_IF_ERROR(CheckPeriod(req.period()));
  RETURN_IF_ERROR(MayRead(caller, req.subject_kind(), req.subject_id()));
  const PeriodSpan span = PeriodOf(req.period(), AtOr(req.at(), clock_->Now()));
  ASSIGN_OR_RETURN(std::vector<v1::Appeal> appeals,
                   store_->ListAppeals(req.subject_kind(), req.subject_id(), span.key));
  v1::ListAppealsResponse resp;
  for (v1::Appeal& a : appeals) *resp.add_appeals() = std::move(a);
  return resp;
}

absl::StatusOr<int> Assessment::PublishDueScores(int limit) {
  const absl::Time now = clock_->Now();
  ASSIGN_OR_RETURN(std::vector<DirtySubject> dirty, store_->DirtySubjects(now, limit));
  if (dirty.empty()) return 0;
  ASSIGN_OR_RETURN(const Generations g, store_->GetGenerations());
  int published = 0;
  for (const DirtySubject& d : dirty) {
    // Published within the interval: its mark waits until the interval is over, out of
    // the way of subjects that are due.
    if (now - d.published_at < options_.score_event_interval) {
      RETURN_IF_ERROR(
          store_->DeferScore(d.subject, d.published_at + options_.score_event_interval));
      continue;
    }
    v1::ScoreEvent e;
    e.set_subject_kind(d.subject.kind);
    e.set_subject_id(d.subject.id);
    *e.mutable_occurred_at() = ToTimestamp(now);
    e.set_formula_version(FormulaOf(g.current_formula).version);
    for (const PeriodSpan& span : PeriodsOf(now)) {
      ASSIGN_OR_RETURN(v1::Scorecard card, Card(g, d.subject.kind, d.subject.id, span));
      v1::PeriodScore* s = e.add_scores();
      s->set_period(span.period);
      s->set_period_key(span.key);
      s->set_score(card.score());
      s->set_stars(card.stars());
      s->set_insufficient_sample(card.insufficient_sample());
      s->set_received(card.received());
    }
    const std::string digest = Digest(e);
    e.set_event_id(
        absl::StrCat(KindKey(d.subject.kind), ":", d.subject.id, ":", absl::ToUnixMillis(now)));
    ASSIGN_OR_RETURN(bool done,
                     store_->PublishScore(d, now, digest, &e, now + options_.score_event_interval));
    if (done) ++published;
  }
  return published;
}

}  // namespace gridloop::assessment
