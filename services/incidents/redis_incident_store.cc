#include "services/incidents/redis_incident_store.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <tuple>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/clock/proto_time.h"
#include "common/status/status_macros.h"
#include "lua/commit.lua.h"
#include "lua/list.lua.h"
#include "services/incidents/ids.h"
#include "services/incidents/incidents.h"

namespace gridloop::incidents {
namespace {

using redis::Reply;

// A shard scans at most this many index entries per page, so a rare filter costs a
// bounded amount of Redis time; the page then ends early with a token to continue.
constexpr int kScanCap = 5000;

const redis::Script& CommitScript() {
  static const redis::Script* const s = new redis::Script(kCommitLua);
  return *s;
}

const redis::Script& ListScript() {
  static const redis::Script* const s = new redis::Script(kListLua);
  return *s;
}

std::string Tag(int shard) { return absl::StrFormat("inc:{%02x}:", shard); }
std::string RecordKey(int shard, absl::string_view id) {
  return absl::StrCat(Tag(shard), "i:", id);
}
std::string HistoryKey(int shard, absl::string_view id) {
  return absl::StrCat(Tag(shard), "h:", id);
}
std::string RequestKey(int shard, absl::string_view rid) {
  return absl::StrCat(Tag(shard), "req:", rid);
}
std::string TimeKey(int shard) { return absl::StrCat(Tag(shard), "time"); }
std::string SlaKey(int shard) { return absl::StrCat(Tag(shard), "sla"); }
std::string OutboxKey(int shard) { return absl::StrCat(Tag(shard), "outbox"); }

std::string SlaMember(const SlaDeadline& d) {
  return absl::StrCat(d.incident_id, "|", d.kind, "|", absl::ToUnixMillis(d.due));
}

std::optional<SlaDeadline> ParseSlaMember(absl::string_view member) {
  std::vector<absl::string_view> parts = absl::StrSplit(member, '|');
  int64_t ms = 0;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[2], &ms)) return std::nullopt;
  return SlaDeadline{std::string(parts[0]), std::string(parts[1]), absl::FromUnixMillis(ms)};
}

std::string Meta(const v1::Incident& inc) {
  return absl::StrCat(static_cast<int>(inc.status()), "|", static_cast<int>(inc.assignee().kind()),
                      "|", inc.region_code(), "|", inc.assignee().id());
}

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("stored incident data is unreadable: ", what));
}

absl::StatusOr<v1::Incident> ParseIncident(const std::string& bytes) {
  v1::Incident inc;
  if (!inc.ParseFromString(bytes)) return Corrupt("record");
  return inc;
}

absl::Status NotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("incident ", id, " not found"));
}

// The record from an `HGET <record> d` reply.
absl::StatusOr<v1::Incident> RecordFromReply(absl::string_view id, const Reply& r) {
  if (r.is_nil()) return NotFound(id);
  return ParseIncident(r.str);
}

int ShardOrDie(absl::string_view id) {
  // Callers validated the id; a malformed one here is a bug, kept out of Redis anyway.
  return ShardOfId(id).value_or(0);
}

}  // namespace

RedisIncidentStore::RedisIncidentStore(redis::Client* redis, OnWrite on_write)
    : redis_(redis), on_write_(std::move(on_write)) {}

RedisIncidentStore::RedisIncidentStore(redis::Client* redis, redis::AsyncClient* async,
                                       OnWrite on_write)
    : redis_(redis), async_(async), on_write_(std::move(on_write)) {}

std::vector<std::string> RedisIncidentStore::OutboxStreams() {
  std::vector<std::string> out;
  out.reserve(kShards);
  for (int s = 0; s < kShards; ++s) out.push_back(OutboxKey(s));
  return out;
}

absl::StatusOr<v1::Incident> RedisIncidentStore::Get(absl::string_view id, bool with_history) {
  const std::optional<int> shard = ShardOfId(id);
  if (!shard.has_value()) return NotFound(id);
  const std::string rec = RecordKey(*shard, id);
  if (!with_history) {
    ASSIGN_OR_RETURN(Reply r, redis_->Command({"HGET", rec, "d"}));
    return RecordFromReply(id, r);
  }
  // MULTI/EXEC so the record and its history are read at one point in time.
  ASSIGN_OR_RETURN(std::vector<Reply> replies,
                   redis_->Pipeline({{"MULTI"},
                                     {"HGET", rec, "d"},
                                     {"LRANGE", HistoryKey(*shard, id), "0", "-1"},
                                     {"EXEC"}}));
  const Reply& exec = replies.back();
  if (exec.is_error()) return redis::StatusFromErrorReply(exec.str);
  if (exec.elements.size() != 2) return Corrupt("transaction reply");
  ASSIGN_OR_RETURN(v1::Incident inc, RecordFromReply(id, exec.elements[0]));
  for (const Reply& h : exec.elements[1].elements) {
    if (!inc.add_history()->ParseFromString(h.str)) return Corrupt("history entry");
  }
  return inc;
}

void RedisIncidentStore::GetAsync(absl::string_view id, GetCallback done) {
  const std::optional<int> shard = ShardOfId(id);
  if (async_ == nullptr || !shard.has_value()) {
    done(Get(id, /*with_history=*/false));
    return;
  }
  async_->Command({"HGET", RecordKey(*shard, id), "d"},
                  [id = std::string(id), done = std::move(done)](absl::StatusOr<Reply> r) {
                    if (!r.ok()) return done(r.status());
                    done(RecordFromReply(id, *r));
                  });
}

absl::StatusOr<std::optional<EarlierResult>> RedisIncidentStore::FindRequest(
    int shard, absl::string_view request_id) {
  ASSIGN_OR_RETURN(Reply r, redis_->Command({"GET", RequestKey(shard, request_id)}));
  if (r.is_nil()) return std::nullopt;
  // "<fingerprint>\n<first result>", as commit.lua writes it.
  const size_t nl = r.str.find('\n');
  if (nl == std::string::npos) return Corrupt("request record");
  EarlierResult earlier;
  earlier.fingerprint = r.str.substr(0, nl);
  ASSIGN_OR_RETURN(earlier.incident, ParseIncident(r.str.substr(nl + 1)));
  return earlier;
}

namespace {

// Where commit.lua finds the event's bytes among its arguments (ARGV[11]).
constexpr size_t kEventArg = 10;

// The keys and arguments of commit.lua for `w`.
std::pair<std::vector<std::string>, std::vector<std::string>> CommitCall(const IncidentWrite& w) {
  const std::string& id = w.incident.id();
  const int shard = ShardOrDie(id);
  std::vector<std::string> keys = {
      RecordKey(shard, id),
      HistoryKey(shard, id),
      RequestKey(shard, w.request.has_value() ? w.request->request_id : ""),
      TimeKey(shard),
      SlaKey(shard),
      OutboxKey(shard)};
  std::vector<std::string> args = {absl::StrCat(w.expected_version),
                                   absl::StrCat(w.incident.version()),
                                   w.incident.SerializeAsString(),
                                   w.history.SerializeAsString(),
                                   w.request.has_value() ? "1" : "0",
                                   w.request.has_value() ? w.request->fingerprint : "",
                                   absl::StrCat(absl::ToInt64Seconds(kRequestRetention)),
                                   absl::StrCat(ToUnixMillis(w.incident.reported_at())),
                                   id,
                                   Meta(w.incident),
                                   w.event.SerializeAsString(),
                                   w.fired.has_value() ? SlaMember(*w.fired) : "",
                                   absl::StrCat(w.schedule.size())};
  for (const SlaDeadline& d : w.schedule) {
    args.push_back(absl::StrCat(absl::ToUnixMillis(d.due)));
    args.push_back(SlaMember(d));
  }
  return {std::move(keys), std::move(args)};
}

}  // namespace

absl::StatusOr<WriteResult> RedisIncidentStore::Write(const IncidentWrite& w) {
  auto [keys, args] = CommitCall(w);
  std::string event = on_write_ ? args[kEventArg] : std::string();
  ASSIGN_OR_RETURN(Reply r, redis_->Eval(CommitScript(), std::move(keys), std::move(args)));
  return CommitOutcome(w, std::move(event), r);
}

void RedisIncidentStore::WriteAsync(const IncidentWrite& w, WriteCallback done) {
  if (async_ == nullptr) {
    done(Write(w));
    return;
  }
  auto [keys, args] = CommitCall(w);
  // The callback outlives this call: it keeps what CommitOutcome reads of `w`.
  auto kept = std::make_shared<IncidentWrite>();
  kept->incident.set_id(w.incident.id());
  kept->expected_version = w.expected_version;
  std::string event = on_write_ ? args[kEventArg] : std::string();
  async_->Eval(CommitScript(), std::move(keys), std::move(args),
               [this, kept, event = std::move(event),
                done = std::move(done)](absl::StatusOr<Reply> r) mutable {
                 if (!r.ok()) {
                   done(r.status());
                   return;
                 }
                 done(CommitOutcome(*kept, std::move(event), *r));
               });
}

absl::StatusOr<WriteResult> RedisIncidentStore::CommitOutcome(const IncidentWrite& w,
                                                              std::string event, const Reply& r) {
  const std::string& id = w.incident.id();
  if (r.elements.empty()) return Corrupt("commit reply");
  const std::string& outcome = r.elements[0].str;
  if (outcome == "ok") {
    if (r.elements.size() != 3) return Corrupt("commit reply");
    if (on_write_) {
      on_write_(outbox::Appended{OutboxKey(ShardOrDie(id)), r.elements[1].str, r.elements[2].str,
                                 id, std::move(event)});
    }
    return WriteResult{};
  }
  if (outcome == "dup" && r.elements.size() == 3) {
    EarlierResult earlier;
    earlier.fingerprint = r.elements[1].str;
    ASSIGN_OR_RETURN(earlier.incident, ParseIncident(r.elements[2].str));
    return WriteResult{std::move(earlier)};
  }
  if (outcome == "gone") return absl::FailedPreconditionError("deadline already fired");
  if (outcome == "exists") return absl::AlreadyExistsError(absl::StrCat("incident ", id));
  if (outcome == "missing") return NotFound(id);
  if (outcome == "stale") {
    return absl::AbortedError(absl::StrCat("incident ", id, " is at version ",
                                           r.elements.size() > 1 ? r.elements[1].str : "?",
                                           ", not ", w.expected_version));
  }
  return Corrupt(absl::StrCat("commit outcome ", outcome));
}

absl::StatusOr<ListPage> RedisIncidentStore::List(const ListQuery& q) {
  // Scores are reported_at in ms. created_before is exclusive, the cursor inclusive of its
  // score (ties are broken by id inside the script).
  int64_t max_ms = std::numeric_limits<int64_t>::max();
  if (q.created_before) max_ms = absl::ToUnixMillis(*q.created_before) - 1;
  std::string cursor_id;
  if (q.after.has_value() && q.after->reported_ms <= max_ms) {
    max_ms = q.after->reported_ms;
    cursor_id = q.after->id;
  }
  const std::string max_arg =
      max_ms == std::numeric_limits<int64_t>::max() ? "+inf" : absl::StrCat(max_ms);
  const std::string min_arg =
      q.created_after ? absl::StrCat(absl::ToUnixMillis(*q.created_after)) : "-inf";
  std::string statuses;
  if (!q.statuses.empty()) {
    statuses = ",";
    for (v1::IncidentStatus s : q.statuses) absl::StrAppend(&statuses, static_cast<int>(s), ",");
  }
  const std::string kind =
      q.assignee_kind == v1::ASSIGNEE_KIND_UNSPECIFIED ? "" : absl::StrCat(q.assignee_kind);

  struct Item {
    int64_t ms;
    std::string id;
    v1::Incident incident;
  };
  std::vector<Item> items;
  std::optional<ListCursor> cutoff;  // the newest position a non-exhausted shard stopped at
  for (int shard = 0; shard < kShards; ++shard) {
    ASSIGN_OR_RETURN(Reply r,
                     redis_->Eval(ListScript(), {TimeKey(shard)},
                                  {max_arg, min_arg, cursor_id, q.region_prefix, statuses, kind,
                                   q.assignee_id, absl::StrCat(q.page_size), absl::StrCat(kScanCap),
                                   absl::StrCat(Tag(shard), "i:")}));
    if (r.elements.size() < 3) return Corrupt("list reply");
    for (size_t i = 3; i < r.elements.size(); ++i) {
      ASSIGN_OR_RETURN(v1::Incident inc, ParseIncident(r.elements[i].str));
      const int64_t ms = ToUnixMillis(inc.reported_at());
      std::string id = inc.id();
      items.push_back(Item{ms, std::move(id), std::move(inc)});
    }
    if (r.elements[0].integer == 0) {
      double score = 0;
      if (!absl::SimpleAtod(r.elements[1].str, &score)) return Corrupt("list boundary");
      ListCursor b{static_cast<int64_t>(score), r.elements[2].str};
      if (!cutoff || b.reported_ms > cutoff->reported_ms ||
          (b.reported_ms == cutoff->reported_ms && b.id > cutoff->id)) {
        cutoff = b;
      }
    }
  }
  auto newer = [](int64_t am, const std::string& aid, int64_t bm, const std::string& bid) {
    return am != bm ? am > bm : aid > bid;
  };
  std::sort(items.begin(), items.end(),
            [&](const Item& a, const Item& b) { return newer(a.ms, a.id, b.ms, b.id); });

  ListPage page;
  for (Item& item : items) {
    // Past the cutoff a shard that stopped early may hold incidents not seen yet.
    if (cutoff && newer(cutoff->reported_ms, cutoff->id, item.ms, item.id)) break;
    if (static_cast<int>(page.incidents.size()) == q.page_size) break;
    page.incidents.push_back(std::move(item.incident));
  }
  const bool more_seen = page.incidents.size() < items.size();
  if (static_cast<int>(page.incidents.size()) == q.page_size && (more_seen || cutoff)) {
    const v1::Incident& last = page.incidents.back();
    page.next = ListCursor{ToUnixMillis(last.reported_at()), last.id()};
  } else if (cutoff) {
    page.next = cutoff;
  }
  return page;
}

absl::StatusOr<std::vector<SlaDeadline>> RedisIncidentStore::DueDeadlines(absl::Time now,
                                                                          int limit) {
  if (limit <= 0) return std::vector<SlaDeadline>{};
  std::vector<std::vector<std::string>> commands;
  commands.reserve(kShards);
  for (int s = 0; s < kShards; ++s) {
    commands.push_back({"ZRANGEBYSCORE", SlaKey(s), "-inf", absl::StrCat(absl::ToUnixMillis(now)),
                        "LIMIT", "0", absl::StrCat(limit)});
  }
  ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(std::move(commands)));
  std::vector<SlaDeadline> due;
  for (const Reply& r : replies) {
    if (r.is_error()) return redis::StatusFromErrorReply(r.str);
    for (const Reply& m : r.elements) {
      if (std::optional<SlaDeadline> d = ParseSlaMember(m.str)) due.push_back(std::move(*d));
    }
  }
  std::sort(due.begin(), due.end(), [](const SlaDeadline& a, const SlaDeadline& b) {
    return std::tie(a.due, a.incident_id, a.kind) < std::tie(b.due, b.incident_id, b.kind);
  });
  if (static_cast<int>(due.size()) > limit) due.resize(limit);
  return due;
}

absl::Status RedisIncidentStore::DropDeadline(const SlaDeadline& d) {
  const std::optional<int> shard = ShardOfId(d.incident_id);
  if (!shard.has_value()) return absl::OkStatus();
  return redis_->Command({"ZREM", SlaKey(*shard), SlaMember(d)}).status();
}

}  // namespace gridloop::incidents
