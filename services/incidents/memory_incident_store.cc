#include "services/incidents/memory_incident_store.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/clock/proto_time.h"
#include "services/incidents/ids.h"

namespace gridloop::incidents {

absl::StatusOr<v1::Incident> MemoryIncidentStore::Get(absl::string_view id, bool with_history) {
  absl::MutexLock lock(&mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return absl::NotFoundError(absl::StrCat("incident ", id, " not found"));
  v1::Incident out = it->second;
  if (!with_history) out.clear_history();
  return out;
}

absl::StatusOr<std::optional<EarlierResult>> MemoryIncidentStore::FindRequest(
    int shard, absl::string_view request_id) {
  absl::MutexLock lock(&mu_);
  auto it = requests_.find(absl::StrCat(shard, "/", request_id));
  if (it == requests_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<WriteResult> MemoryIncidentStore::Write(const IncidentWrite& w) {
  absl::MutexLock lock(&mu_);
  const std::string& id = w.incident.id();
  const std::optional<int> parsed = ShardOfId(id);
  if (!parsed.has_value()) return absl::InvalidArgumentError(absl::StrCat("id: malformed ", id));
  const int shard = *parsed;
  if (w.request.has_value()) {
    auto it = requests_.find(absl::StrCat(shard, "/", w.request->request_id));
    if (it != requests_.end()) return WriteResult{it->second};
  }
  if (w.fired.has_value() &&
      deadlines_.count({w.fired->due, w.fired->incident_id, w.fired->kind}) == 0) {
    return absl::FailedPreconditionError("deadline already fired");
  }
  auto it = records_.find(id);
  if (w.expected_version == 0) {
    if (it != records_.end()) return absl::AlreadyExistsError(absl::StrCat("incident ", id));
  } else {
    if (it == records_.end()) return absl::NotFoundError(absl::StrCat("incident ", id));
    if (it->second.version() != w.expected_version) {
      return absl::AbortedError(
          absl::StrCat("incident ", id, " is at version ", it->second.version()));
    }
  }
  v1::Incident record = w.incident;
  if (it != records_.end()) *record.mutable_history() = it->second.history();
  *record.add_history() = w.history;
  records_[id] = std::move(record);
  if (w.request.has_value()) {
    requests_[absl::StrCat(shard, "/", w.request->request_id)] =
        EarlierResult{w.request->fingerprint, w.incident};
  }
  for (const SlaDeadline& d : w.schedule) deadlines_.insert({d.due, d.incident_id, d.kind});
  if (w.fired.has_value()) deadlines_.erase({w.fired->due, w.fired->incident_id, w.fired->kind});
  outbox_.push_back(w.event);
  return WriteResult{};
}

absl::StatusOr<ListPage> MemoryIncidentStore::List(const ListQuery& q) {
  absl::MutexLock lock(&mu_);
  std::vector<const v1::Incident*> matches;
  for (const auto& [id, inc] : records_) {
    const absl::Time reported = FromTimestamp(inc.reported_at());
    if (!absl::StartsWith(inc.region_code(), q.region_prefix)) continue;
    if (!q.statuses.empty() &&
        std::find(q.statuses.begin(), q.statuses.end(), inc.status()) == q.statuses.end()) {
      continue;
    }
    if (q.assignee_kind != v1::ASSIGNEE_KIND_UNSPECIFIED &&
        inc.assignee().kind() != q.assignee_kind) {
      continue;
    }
    if (!q.assignee_id.empty() && inc.assignee().id() != q.assignee_id) continue;
    if (q.created_after && reported < *q.created_after) continue;
    if (q.created_before && reported >= *q.created_before) continue;
    if (q.after.has_value()) {
      const int64_t ms = ToUnixMillis(inc.reported_at());
      if (ms > q.after->reported_ms || (ms == q.after->reported_ms && inc.id() >= q.after->id)) {
        continue;
      }
    }
    matches.push_back(&inc);
  }
  // Newest first; ties broken by id, descending, the same order as the Redis store.
  std::sort(matches.begin(), matches.end(), [](const v1::Incident* a, const v1::Incident* b) {
    const int64_t am = ToUnixMillis(a->reported_at());
    const int64_t bm = ToUnixMillis(b->reported_at());
    return am != bm ? am > bm : a->id() > b->id();
  });
  ListPage page;
  for (const v1::Incident* inc : matches) {
    if (static_cast<int>(page.incidents.size()) == q.page_size) {
      const v1::Incident& last = page.incidents.back();
      page.next = ListCursor{ToUnixMillis(last.reported_at()), last.id()};
      break;
    }
    v1::Incident copy = *inc;
    copy.clear_history();
    page.incidents.push_back(std::move(copy));
  }
  return page;
}

absl::StatusOr<std::vector<SlaDeadline>> MemoryIncidentStore::DueDeadlines(absl::Time now,
                                                                           int limit) {
  if (limit <= 0) return std::vector<SlaDeadline>{};
  absl::MutexLock lock(&mu_);
  std::vector<SlaDeadline> out;
  for (const auto& [due, id, kind] : deadlines_) {
    if (due > now || static_cast<int>(out.size()) >= limit) break;
    out.push_back(SlaDeadline{id, kind, due});
  }
  return out;
}

absl::Status MemoryIncidentStore::DropDeadline(const SlaDeadline& d) {
  absl::MutexLock lock(&mu_);
  deadlines_.erase({d.due, d.incident_id, d.kind});
  return absl::OkStatus();
}

std::vector<v1::IncidentEvent> MemoryIncidentStore::events() const {
  absl::MutexLock lock(&mu_);
  return outbox_;
}

size_t MemoryIncidentStore::watched_deadlines() const {
  absl::MutexLock lock(&mu_);
  return deadlines_.size();
}

}  // namespace gridloop::incidents
