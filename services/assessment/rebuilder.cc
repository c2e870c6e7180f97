#include "services/assessment/rebuilder.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/clock/proto_time.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"
#include "gridloop/v1/dispatch.pb.h"
#include "gridloop/v1/events.pb.h"

namespace gridloop::assessment {
namespace {

constexpr int64_t kDropBatch = 2000;

bool ValidId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

}  // namespace

Rebuilder::Rebuilder(AssessmentStore* store, Folder* folder, const Formulas* formulas,
                     const Clock* clock, TopicReplay replay, RebuilderOptions options)
    : store_(store),
      folder_(folder),
      formulas_(formulas),
      clock_(clock),
      replay_(std::move(replay)),
      options_(std::move(options)) {}

Rebuilder::~Rebuilder() {
  stop_.store(true);
  absl::MutexLock lock(&mu_);
  if (worker_.joinable()) worker_.join();
}

absl::StatusOr<v1::Rebuild> Rebuilder::Start(const Caller& caller,
                                             const v1::StartRebuildRequest& req) {
  if (caller.anonymous()) return absl::UnauthenticatedError("rebuild needs an identified caller");
  if (caller.role != Role::kOperator && caller.role != Role::kSystem) {
    return absl::PermissionDeniedError("only operators rebuild the figures");
  }
  if (!ValidId(req.request_id())) {
    return absl::InvalidArgumentError("request_id: 1..64 letters, digits, '-', '_' or '.'");
  }
  if (!req.formula_version().empty() && formulas_->Find(req.formula_version()) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("formula_version: ", req.formula_version(), " is not configured"));
  }
  absl::StatusOr<v1::Rebuild> existing = store_->GetRebuild(req.request_id());
  if (existing.ok()) return existing;
  if (!absl::IsNotFound(existing.status())) return existing.status();

  ASSIGN_OR_RETURN(Generations g, store_->GetGenerations());
  if (g.building != 0) {
    // A rebuild whose owner stopped reporting progress died with its process.
    absl::StatusOr<v1::Rebuild> running = store_->GetRebuild(g.rebuild_id);
    const absl::Time moved =
        running.ok() ? FromTimestamp(running->finished_at().seconds() != 0 ? running->finished_at()
                                                                           : running->started_at())
                     : absl::InfinitePast();
    if (clock_->Now() - moved < options_.stale_after) {
      return absl::FailedPreconditionError(
          absl::StrCat("rebuild ", g.rebuild_id, " is running; wait for it to finish"));
    }
    log::Warn("assessment: abandoning a stalled rebuild", {{"rebuild", g.rebuild_id}});
    RETURN_IF_ERROR(store_->AbandonRebuild(g.rebuild_id));
    if (running.ok()) {
      running->set_state(v1::REBUILD_STATE_FAILED);
      running->set_error("interrupted: its process stopped");
      RETURN_IF_ERROR(store_->SaveRebuild(*running));
    }
  }
  v1::Rebuild rebuild;
  rebuild.set_id(req.request_id());
  rebuild.set_state(v1::REBUILD_STATE_RUNNING);
  rebuild.set_formula_version(req.formula_version().empty() ? g.current_formula
                                                            : req.formula_version());
  *rebuild.mutable_started_at() = ToTimestamp(clock_->Now());
  ASSIGN_OR_RETURN(Generations begun, store_->BeginRebuild(rebuild));
  if (begun.rebuild_id != rebuild.id()) {
    return absl::FailedPreconditionError(
        absl::StrCat("rebuild ", begun.rebuild_id, " is running; wait for it to finish"));
  }
  rebuild.set_generation(begun.building);
  rebuild.set_previous_generation(begun.current);
  RETURN_IF_ERROR(store_->SaveRebuild(rebuild));

  absl::MutexLock lock(&mu_);
  if (worker_.joinable()) worker_.join();  // the previous one has finished: it released the store
  worker_ = std::thread([this, rebuild, previous = begun.current] { Run(rebuild, previous); });
  return rebuild;
}

absl::StatusOr<v1::Rebuild> Rebuilder::Get(const Caller& caller, const v1::GetRebuildRequest& req) {
  if (caller.anonymous()) return absl::UnauthenticatedError("rebuild needs an identified caller");
  if (caller.role != Role::kOperator && caller.role != Role::kSystem) {
    return absl::PermissionDeniedError("only operators read rebuilds");
  }
  if (!req.rebuild_id().empty() && !ValidId(req.rebuild_id())) {
    return absl::InvalidArgumentError("rebuild_id: not a rebuild id");
  }
  return store_->GetRebuild(req.rebuild_id());
}

absl::Status Rebuilder::FoldRecord(const kafka::Record& record) {
  absl::Status s;
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    if (record.topic == options_.dispatch_topic) {
      v1::DispatchEvent e;
      if (!e.ParseFromString(record.value)) return absl::OkStatus();  // poison: in the DLQ
      s = folder_->FoldDispatchEvent(e, FoldTarget::kBuilding);
    } else {
      v1::IncidentEvent e;
      if (!e.ParseFromString(record.value)) return absl::OkStatus();
      s = folder_->FoldIncidentEvent(e, FoldTarget::kBuilding);
    }
    // An event the live consumer dead-letters is skipped here the same way.
    if (s.ok() || absl::IsInvalidArgument(s)) return absl::OkStatus();
    if (!absl::IsUnavailable(s) || stop_.load()) return s;
    absl::SleepFor(absl::Milliseconds(100) * (attempt + 1));
  }
  return s;
}

v1::Rebuild Rebuilder::Run(v1::Rebuild rebuild, int64_t previous_generation) {
  std::atomic<int64_t> done{0};
  std::atomic<int64_t> total{0};
  std::atomic<bool> replay_finished{false};
  // Progress is saved as it goes: it shows operators how far it is, and tells other
  // replicas this rebuild is alive.
  std::thread reporter([&] {
    while (!replay_finished.load()) {
      for (int i = 0; i < 10 && !replay_finished.load(); ++i) {
        absl::SleepFor(absl::Milliseconds(100));
      }
      v1::Rebuild snapshot = rebuild;
      snapshot.set_events_folded(done.load());
      snapshot.set_events_total(total.load());
      *snapshot.mutable_finished_at() = ToTimestamp(clock_->Now());
      (void)store_->SaveRebuild(snapshot);
    }
  });
  absl::Status s =
      replay_([this](const kafka::Record& r) { return FoldRecord(r); }, &done, &total, &stop_);
  replay_finished.store(true);
  reporter.join();
  rebuild.set_events_folded(done.load());
  rebuild.set_events_total(total.load());
  if (s.ok()) {
    absl::StatusOr<Generations> switched = store_->SwitchOver(rebuild.id());
    s = switched.status();
  }
  *rebuild.mutable_finished_at() = ToTimestamp(clock_->Now());
  int64_t drop = previous_generation;
  if (s.ok()) {
    rebuild.set_state(v1::REBUILD_STATE_SWITCHED);
    log::Info("assessment: rebuild switched over",
              {{"rebuild", rebuild.id()},
               {"generation", absl::StrCat(rebuild.generation())},
               {"events", absl::StrCat(rebuild.events_folded())}});
  } else {
    rebuild.set_state(v1::REBUILD_STATE_FAILED);
    rebuild.set_error(s.ToString());
    (void)store_->AbandonRebuild(rebuild.id());
    drop = rebuild.generation();
    log::Warn("assessment: rebuild failed", {{"rebuild", rebuild.id()}, {"error", s.ToString()}});
  }
  (void)store_->SaveRebuild(rebuild);
  // The replaced (or half-built) keyspace goes in batches, so Redis is never blocked long.
  while (!stop_.load()) {
    absl::StatusOr<int64_t> n = store_->DropGeneration(drop, kDropBatch);
    if (!n.ok() || *n == 0) break;
  }
  return rebuild;
}

}  // namespace gridloop::assessment
