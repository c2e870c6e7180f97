#ifndef GRIDLOOP_SERVICES_ASSESSMENT_REDIS_ASSESSMENT_STORE_H_
#define GRIDLOOP_SERVICES_ASSESSMENT_REDIS_ASSESSMENT_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"
#include "common/redis/redis_client.h"
#include "gridloop/v1/assessment.pb.h"
#include "services/assessment/assessment_store.h"

namespace gridloop::assessment {

// AssessmentStore on Redis. Every key starts "asm:{a}:", the hash tag all of assessment
// shares, so any set of its keys can change in one Lua script (one Cluster slot). The key
// layout is described at the top of redis_assessment_store.cc. Thread-safe (the client is
// a pool); every call blocks.
//
// Beyond the port's contract:
//  - Counter hashes hold only non-zero fields and membership hashes only positive
//    reference counts, so a key whose figures all return to zero is gone, and a rebuilt
//    generation can be compared key by key with a live one.
//  - The regions an incident's people are ranked under are the ones its facts named when
//    they were counted; the facts hash remembers them, so a later change of region moves
//    every membership of the incident, not only the cells the change adds or removes.
//  - BeginRebuild fills in `generation`, `previous_generation` and (when empty)
//    `formula_version` of the record it saves, and RUNNING when no state is given.
//  - Appeal ids are "ap" followed by 12 random base-32 characters. A request id is kept
//    for good, beside the appeal it recorded.
//  - Score events go to kOutboxStream as outbox entries (outbox/relay.h): key
//    "<kind key>:<subject id>", value the serialized ScoreEvent.
class RedisAssessmentStore final : public AssessmentStore {
 public:
  static constexpr char kOutboxStream[] = "asm:{a}:outbox";

  // `redis` and `clock` are not owned and must outlive the store. `clock` stamps the marks
  // of subjects due a score event. `notify_outbox` (may be empty) runs after a score event
  // was written, so the relay in this process publishes at once.
  RedisAssessmentStore(redis::Client* redis, const Clock* clock,
                       std::function<void()> notify_outbox = {});

  absl::StatusOr<Generations> GetGenerations() override;
  absl::StatusOr<Generations> BeginRebuild(const v1::Rebuild& rebuild) override;
  absl::StatusOr<Generations> SwitchOver(absl::string_view rebuild_id) override;
  absl::Status AbandonRebuild(absl::string_view rebuild_id) override;
  absl::StatusOr<int64_t> DropGeneration(int64_t generation, int64_t max_keys) override;
  absl::Status SaveRebuild(const v1::Rebuild& rebuild) override;
  absl::StatusOr<v1::Rebuild> GetRebuild(absl::string_view rebuild_id) override;

  absl::StatusOr<std::vector<FoldedState>> LoadIncident(
      absl::string_view incident_id, const std::vector<int64_t>& generations) override;
  absl::Status ApplyIncident(int64_t generations_revision, absl::string_view incident_id,
                             const std::vector<IncidentWrite>& writes) override;
  absl::StatusOr<bool> ApplyEventOnce(int64_t generations_revision, absl::string_view event_id,
                                      absl::string_view dedupe_day,
                                      const std::vector<EventWrite>& writes) override;

  absl::StatusOr<std::vector<Tally>> ReadTallies(int64_t generation,
                                                 const std::vector<Cell>& cells) override;
  absl::StatusOr<std::vector<std::string>> Members(int64_t generation, v1::SubjectKind kind,
                                                   absl::string_view region,
                                                   absl::string_view period_key) override;
  absl::StatusOr<ExplainPage> ExplainIncidents(int64_t generation, const Cell& cell, int64_t offset,
                                               int64_t count) override;
  absl::StatusOr<std::vector<v1::FoldedIncident>> GetFacts(
      int64_t generation, const std::vector<std::string>& incident_ids) override;

  absl::StatusOr<std::vector<std::optional<FrozenRating>>> GetFrozen(
      v1::SubjectKind kind, const std::vector<std::string>& subject_ids,
      absl::string_view period_key) override;
  absl::StatusOr<int> Freeze(
      v1::SubjectKind kind, absl::string_view period_key,
      const std::vector<std::pair<std::string, FrozenRating>>& ratings) override;
  absl::StatusOr<v1::Appeal> RecordAppeal(absl::string_view request_id,
                                          const v1::Appeal& appeal) override;
  absl::StatusOr<std::vector<v1::Appeal>> ListAppeals(v1::SubjectKind kind,
                                                      absl::string_view subject_id,
                                                      absl::string_view period_key) override;

  absl::StatusOr<std::vector<DirtySubject>> DirtySubjects(absl::Time now, int limit) override;
  absl::Status DeferScore(const SubjectRef& subject, absl::Time until) override;
  absl::StatusOr<bool> PublishScore(const DirtySubject& seen, absl::Time now,
                                    absl::string_view digest, const v1::ScoreEvent* event,
                                    absl::Time next_due) override;

 private:
  redis::Client* const redis_;
  const Clock* const clock_;
  const std::function<void()> notify_outbox_;
};

}  // namespace gridloop::assessment

#endif  // GRIDLOOP_SERVICES_ASSESSMENT_REDIS_ASSESSMENT_STORE_H_
