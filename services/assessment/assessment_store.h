#ifndef GRIDLOOP_SERVICES_ASSESSMENT_ASSESSMENT_STORE_H_
#define GRIDLOOP_SERVICES_ASSESSMENT_ASSESSMENT_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gridloop/v1/assessment.pb.h"
#include "services/assessment/measures.h"
#include "services/assessment/tally.h"

namespace gridloop::assessment {

// Which keyspaces hold figures. `current` serves reads and is folded live; while a rebuild
// runs, `building` is folded live as well, so that it misses nothing the rebuild's replay
// of the topic does not reach. Every change bumps `revision`.
struct Generations {
  int64_t revision = 0;
  int64_t current = 1;
  std::string current_formula = "v1";
  int64_t building = 0;  // 0: no rebuild running
  std::string building_formula;
  std::string rebuild_id;

  // The generations an event must be folded into.
  std::vector<int64_t> Live() const {
    std::vector<int64_t> out{current};
    if (building != 0) out.push_back(building);
    return out;
  }
};

// What one generation holds of an incident. revision 0: nothing yet.
struct FoldedState {
  int64_t generation = 0;
  int64_t revision = 0;
  v1::FoldedIncident facts;
};

// One generation's change for one incident: the new facts and the cells they move.
struct IncidentWrite {
  int64_t generation = 0;
  int64_t expected_revision = 0;
  v1::FoldedIncident facts;
  std::vector<CellChange> changes;
};

// One generation's additions for one dispatch event.
struct EventWrite {
  int64_t generation = 0;
  std::vector<CellChange> changes;  // all kAdded / kUnchanged, positive deltas
};

// A subject, as it is written in keys and score events: "<kind>:<id>".
struct SubjectRef {
  v1::SubjectKind kind = v1::SUBJECT_KIND_UNSPECIFIED;
  std::string id;
};

// A page of the incidents counted in one cell, oldest report first.
struct ExplainPage {
  std::vector<std::string> incident_ids;
  int64_t total = 0;  // incidents in the cell
};

// A frozen rating and how it came to be.
struct FrozenRating {
  double score = 0;
  int32_t stars = 0;
  bool insufficient_sample = false;
  std::string formula_version;
  absl::Time frozen_at;
};

// A subject whose figures changed and whose score event may be due.
struct DirtySubject {
  SubjectRef subject;
  int64_t change = 0;                              // the subject's change count when it was read
  absl::Time published_at = absl::InfinitePast();  // the last score event; past = never
  std::string published_digest;                    // what it said, to skip an unchanged score
};

// Persists assessment's figures: per-generation facts, counters, explain indexes and
// ranking memberships; frozen ratings and appeals; the score-event outbox. Thread-safe.
// Every write is atomic. Unavailable when Redis cannot be reached.
class AssessmentStore {
 public:
  virtual ~AssessmentStore() = default;

  // Generations.
  virtual absl::StatusOr<Generations> GetGenerations() = 0;
  // Starts a rebuild into a fresh generation scored with `formula_version`.
  // FailedPrecondition if one is running; the same `rebuild.id` again returns the state.
  virtual absl::StatusOr<Generations> BeginRebuild(const v1::Rebuild& rebuild) = 0;
  // Makes the building generation current. FailedPrecondition unless `rebuild_id` runs.
  virtual absl::StatusOr<Generations> SwitchOver(absl::string_view rebuild_id) = 0;
  // Drops a running rebuild (its keyspace stays until DropGeneration).
  virtual absl::Status AbandonRebuild(absl::string_view rebuild_id) = 0;
  // Deletes up to `max_keys` keys of `generation` (never a live one). Returns how many
  // were deleted: 0 once it is gone.
  virtual absl::StatusOr<int64_t> DropGeneration(int64_t generation, int64_t max_keys) = 0;
  virtual absl::Status SaveRebuild(const v1::Rebuild& rebuild) = 0;
  // NotFound if unknown; an empty id is the latest.
  virtual absl::StatusOr<v1::Rebuild> GetRebuild(absl::string_view rebuild_id) = 0;

  // Folding. Load returns one state per generation asked for, in order.
  virtual absl::StatusOr<std::vector<FoldedState>> LoadIncident(
      absl::string_view incident_id, const std::vector<int64_t>& generations) = 0;
  // Aborted if the generations' revision moved or a facts revision is not the expected one
  // (someone folded this incident meanwhile). Subjects whose current-generation figures
  // change are marked for a score event.
  virtual absl::Status ApplyIncident(int64_t generations_revision, absl::string_view incident_id,
                                     const std::vector<IncidentWrite>& writes) = 0;
  // Applies `writes` unless `event_id` was already applied to that generation. Returns
  // whether anything was applied. Aborted if the generations' revision moved.
  virtual absl::StatusOr<bool> ApplyEventOnce(int64_t generations_revision,
                                              absl::string_view event_id,
                                              absl::string_view dedupe_day,
                                              const std::vector<EventWrite>& writes) = 0;

  // Reading figures.
  virtual absl::StatusOr<std::vector<Tally>> ReadTallies(int64_t generation,
                                                         const std::vector<Cell>& cells) = 0;
  // The subjects of `kind` with figures in `period_key` within `region` (for REGION: the
  // regions at or below it).
  virtual absl::StatusOr<std::vector<std::string>> Members(int64_t generation, v1::SubjectKind kind,
                                                           absl::string_view region,
                                                           absl::string_view period_key) = 0;
  virtual absl::StatusOr<ExplainPage> ExplainIncidents(int64_t generation, const Cell& cell,
                                                       int64_t offset, int64_t count) = 0;
  // The facts of each incident; a default record for one not folded.
  virtual absl::StatusOr<std::vector<v1::FoldedIncident>> GetFacts(
      int64_t generation, const std::vector<std::string>& incident_ids) = 0;

  // Ratings. Freeze keeps an existing frozen rating; returns how many were newly frozen.
  virtual absl::StatusOr<std::vector<std::optional<FrozenRating>>> GetFrozen(
      v1::SubjectKind kind, const std::vector<std::string>& subject_ids,
      absl::string_view period_key) = 0;
  virtual absl::StatusOr<int> Freeze(
      v1::SubjectKind kind, absl::string_view period_key,
      const std::vector<std::pair<std::string, FrozenRating>>& ratings) = 0;
  // Replaces a frozen rating and records why, atomically. FailedPrecondition if the rating
  // is not frozen. `appeal.stars_before`/`score_before` are filled in from the stored
  // rating. Idempotent on `request_id`.
  virtual absl::StatusOr<v1::Appeal> RecordAppeal(absl::string_view request_id,
                                                  const v1::Appeal& appeal) = 0;
  virtual absl::StatusOr<std::vector<v1::Appeal>> ListAppeals(v1::SubjectKind kind,
                                                              absl::string_view subject_id,
                                                              absl::string_view period_key) = 0;

  // Score events. Subjects marked by ApplyIncident/ApplyEventOnce whose mark is due by
  // `now`, longest-waiting first. A fold marks a subject (keeping an earlier mark) and
  // counts the change.
  virtual absl::StatusOr<std::vector<DirtySubject>> DirtySubjects(absl::Time now, int limit) = 0;
  // Moves a subject's mark to `until` (a subject published too recently to publish again).
  virtual absl::Status DeferScore(const SubjectRef& subject, absl::Time until) = 0;
  // Writes `event` (unless null, or its digest is the last one's) to the outbox and records
  // it as the subject's last, unless another replica published for the subject since
  // `seen.published_at` (then false). The mark is cleared if nothing changed since `seen`
  // was read; otherwise it is kept, due at `next_due`, so that change is published too.
  virtual absl::StatusOr<bool> PublishScore(const DirtySubject& seen, absl::Time now,
                                            absl::string_view digest, const v1::ScoreEvent* event,
                                            absl::Time next_due) = 0;
};

// The key form of a subject kind ("gw", "vol", "dep", "reg").
absl::string_view KindKey(v1::SubjectKind kind);
std::optional<v1::SubjectKind> KindFromKey(absl::string_view key);

}  // namespace gridloop::assessment

#endif  // GRIDLOOP_SERVICES_ASSESSMENT_ASSESSMENT_STORE_H_
