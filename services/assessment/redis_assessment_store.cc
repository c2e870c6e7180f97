#include "services/assessment/redis_assessment_store.h"

// Keys. Every key starts "asm:{a}:"; G is a generation number (1, 2, ...), <kind> a kind
// key ("gw", "vol", "dep", "reg"), <period> a period key ("2026-11-27", "2026-W48", ...).
//
// | key                            | type   | content                                       |
// |--------------------------------|--------|-----------------------------------------------|
// | gen                            | hash   | revision, current (1 when absent),            |
// |                                |        | current_formula ("v1"), building (0 = none),  |
// |                                |        | building_formula, rebuild_id, next (the       |
// |                                |        | highest generation ever allocated)            |
// | G:f:<incident>                 | hash   | rev, facts (FoldedIncident bytes); mcells and |
// |                                |        | mregion: the incident's people as counted in  |
// |                                |        | the memberships ("<kind>:<period>:<subject>"  |
// |                                |        | lines) and the region they are counted under  |
// | G:c:<kind>:<subject>:<period>  | hash   | CounterField -> count; only non-zero fields   |
// | G:x:<kind>:<subject>:<period>  | zset   | incident ids counted in the cell, by the      |
// |                                |        | second they were reported                     |
// | G:m:<kind>:<region>:<period>   | hash   | subject -> incidents it counts in within the  |
// |                                |        | region (people: by the incident's region;     |
// |                                |        | regions: the region itself and every one      |
// |                                |        | below it); only positive counts               |
// | G:seen:<day>                   | set    | dispatch event ids applied, by event day      |
// | rebuild:<id>                   | string | Rebuild bytes                                 |
// | rebuild:latest                 | string | the id of the latest rebuild begun            |
// | frz:<kind>:<period>            | hash   | subject -> frozen rating, "<score>|<stars>|   |
// |                                |        | <insufficient 0/1>|<frozen at, unix ms>|      |
// |                                |        | <formula version>" (score in its shortest     |
// |                                |        | round-trip decimal form)                      |
// | appeals:<kind>:<subject>:<period> | list | Appeal bytes, oldest first                  |
// | req:<request id>               | hash   | fp (the appeal's decisive fields), appeal     |
// |                                |        | (the Appeal bytes recorded for it)            |
// | dirty                          | zset   | "<kind>:<subject>" due a score event, by the  |
// |                                |        | ms it was first marked                        |
// | pub                            | hash   | "<kind>:<subject>" -> "<ms>|<digest>" of its  |
// |                                |        | last score event                              |
// | outbox                         | stream | k "<kind>:<subject>", v ScoreEvent bytes      |
//
// A generation's keys all start "asm:{a}:G:", which is how DropGeneration finds them; the
// colon after G keeps generation 1 from matching generation 10.
//
// Why the facts hash carries the membership cells: a person is ranked within the region
// of the incidents it counts in, and an incident's region can become known (or change)
// after its people were counted. Undoing the old memberships takes the region and the
// cells they were counted under, which the new facts no longer say, so the adapter keeps
// them beside the facts, reads them before a write, and lets the write's revision check
// prove they did not change meanwhile.

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <initializer_list>
#include <map>
#include <random>
#include <set>
#include <system_error>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/clock/proto_time.h"
#include "common/status/status_macros.h"
#include "lua/store_appeal.lua.h"
#include "lua/store_apply_event.lua.h"
#include "lua/store_apply_incident.lua.h"
#include "lua/store_begin_rebuild.lua.h"
#include "lua/store_common.lua.h"
#include "lua/store_drop_generation.lua.h"
#include "lua/store_end_rebuild.lua.h"
#include "lua/store_publish_score.lua.h"
#include "services/assessment/periods.h"

namespace gridloop::assessment {
namespace {

using redis::Reply;

constexpr absl::string_view kPrefix = "asm:{a}:";
constexpr absl::string_view kLatest = "latest";
constexpr char kBase32[] = "0123456789abcdefghjkmnpqrstvwxyz";
// Optimistic steps (BeginRebuild, RecordAppeal) retry this often before giving up with
// Aborted; each retry means someone else changed the same record meanwhile.
constexpr int kAttempts = 8;
// The COUNT hint of each SCAN in DropGeneration.
constexpr int kScanCount = 1000;

// ---------------------------------------------------------------------------------------
// Keys

std::string GenerationsKey() { return absl::StrCat(kPrefix, "gen"); }
std::string DirtyKey() { return absl::StrCat(kPrefix, "dirty"); }
// "<kind>:<subject>" -> how many folds changed the subject's figures (never reset, so a
// publisher can tell whether anything changed after it looked).
std::string ChangesKey() { return absl::StrCat(kPrefix, "chg"); }
std::string PublishedKey() { return absl::StrCat(kPrefix, "pub"); }
std::string GenerationPrefix(int64_t g) { return absl::StrCat(kPrefix, g, ":"); }
std::string FactsKey(int64_t g, absl::string_view incident_id) {
  return absl::StrCat(GenerationPrefix(g), "f:", incident_id);
}
std::string CellSuffix(const Cell& c) {
  return absl::StrCat(KindKey(c.kind), ":", c.id, ":", c.period_key);
}
std::string CounterKey(int64_t g, const Cell& c) {
  return absl::StrCat(GenerationPrefix(g), "c:", CellSuffix(c));
}
std::string ExplainKey(int64_t g, const Cell& c) {
  return absl::StrCat(GenerationPrefix(g), "x:", CellSuffix(c));
}
std::string MembersKey(int64_t g, absl::string_view kind_key, absl::string_view region,
                       absl::string_view period_key) {
  return absl::StrCat(GenerationPrefix(g), "m:", kind_key, ":", region, ":", period_key);
}
std::string SeenKey(int64_t g, absl::string_view day) {
  return absl::StrCat(GenerationPrefix(g), "seen:", day);
}
std::string RebuildKey(absl::string_view id) { return absl::StrCat(kPrefix, "rebuild:", id); }
std::string FrozenKey(absl::string_view kind_key, absl::string_view period_key) {
  return absl::StrCat(kPrefix, "frz:", kind_key, ":", period_key);
}
std::string AppealsKey(absl::string_view kind_key, absl::string_view subject_id,
                       absl::string_view period_key) {
  return absl::StrCat(kPrefix, "appeals:", kind_key, ":", subject_id, ":", period_key);
}
std::string RequestKey(absl::string_view request_id) {
  return absl::StrCat(kPrefix, "req:", request_id);
}
// How a subject is written in the dirty marks, the last-published hash and the outbox.
std::string SubjectMember(absl::string_view kind_key, absl::string_view subject_id) {
  return absl::StrCat(kind_key, ":", subject_id);
}

// ---------------------------------------------------------------------------------------
// Scripts

redis::Script Compose(std::initializer_list<absl::string_view> parts) {
  return redis::Script(absl::StrJoin(parts, "\n"));
}

struct Scripts {
  const redis::Script apply_incident =
      Compose({kAssessmentStoreCommonLua, kAssessmentStoreApplyIncidentLua});
  const redis::Script apply_event =
      Compose({kAssessmentStoreCommonLua, kAssessmentStoreApplyEventLua});
  const redis::Script begin_rebuild =
      Compose({kAssessmentStoreCommonLua, kAssessmentStoreBeginRebuildLua});
  const redis::Script end_rebuild =
      Compose({kAssessmentStoreCommonLua, kAssessmentStoreEndRebuildLua});
  const redis::Script drop_generation =
      Compose({kAssessmentStoreCommonLua, kAssessmentStoreDropGenerationLua});
  const redis::Script appeal = Compose({kAssessmentStoreAppealLua});
  const redis::Script publish_score = Compose({kAssessmentStorePublishScoreLua});
};

const Scripts& TheScripts() {
  static const Scripts* const scripts = new Scripts();
  return *scripts;
}

// ---------------------------------------------------------------------------------------
// Errors and checks

absl::Status Corrupt(absl::string_view what) {
  return absl::InternalError(absl::StrCat("assessment store: stored ", what, " is unreadable"));
}

absl::Status Unexpected(absl::string_view script, const Reply& r) {
  return absl::InternalError(
      absl::StrCat("assessment store: unexpected reply from ", script, ": ", r.DebugString()));
}

// A script's outcome: the first element of its reply.
absl::string_view Outcome(const Reply& r) {
  return r.elements.empty() ? absl::string_view() : absl::string_view(r.elements[0].str);
}

absl::Status CheckReplies(const std::vector<Reply>& replies, size_t want) {
  if (replies.size() != want) {
    return absl::InternalError(
        absl::StrCat("assessment store: ", replies.size(), " replies to ", want, " commands"));
  }
  for (const Reply& r : replies) {
    if (r.is_error()) return redis::StatusFromErrorReply(r.str);
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::string_view> KindKeyOf(v1::SubjectKind kind, absl::string_view field) {
  const absl::string_view key = KindKey(kind);
  if (!KindFromKey(key).has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not a kind of subject"));
  }
  return key;
}

// An id written into keys and line-separated records.
absl::Status CheckId(absl::string_view id, absl::string_view field) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  if (absl::StrContains(id, "\n")) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must not hold a line break"));
  }
  return absl::OkStatus();
}

absl::Status CheckGeneration(int64_t generation) {
  if (generation < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("generation: ", generation, " is not a generation"));
  }
  return absl::OkStatus();
}

absl::Status CheckCell(const Cell& c) {
  RETURN_IF_ERROR(KindKeyOf(c.kind, "cell.kind").status());
  RETURN_IF_ERROR(CheckId(c.id, "cell.id"));
  return CheckId(c.period_key, "cell.period_key");
}

absl::StatusOr<int64_t> IntegerOf(absl::string_view s, absl::string_view what) {
  int64_t n = 0;
  if (!absl::SimpleAtoi(s, &n)) return Corrupt(what);
  return n;
}

template <typename M>
absl::StatusOr<M> Parse(absl::string_view bytes, absl::string_view what) {
  M m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return Corrupt(what);
  return m;
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

// ---------------------------------------------------------------------------------------
// Generations

struct StoredGenerations {
  Generations generations;
  int64_t next = 0;  // the highest generation ever allocated
};

absl::StatusOr<StoredGenerations> ParseGenerations(const Reply& flat) {
  StoredGenerations out;
  Generations& g = out.generations;
  for (size_t i = 0; i + 1 < flat.elements.size(); i += 2) {
    const std::string& field = flat.elements[i].str;
    const std::string& value = flat.elements[i + 1].str;
    if (field == "revision") {
      ASSIGN_OR_RETURN(g.revision, IntegerOf(value, "generations"));
    } else if (field == "current") {
      ASSIGN_OR_RETURN(g.current, IntegerOf(value, "generations"));
    } else if (field == "current_formula") {
      g.current_formula = value;
    } else if (field == "building") {
      ASSIGN_OR_RETURN(g.building, IntegerOf(value, "generations"));
    } else if (field == "building_formula") {
      g.building_formula = value;
    } else if (field == "rebuild_id") {
      g.rebuild_id = value;
    } else if (field == "next") {
      ASSIGN_OR_RETURN(out.next, IntegerOf(value, "generations"));
    }
  }
  return out;
}

absl::StatusOr<StoredGenerations> ReadGenerations(redis::Client& redis) {
  ASSIGN_OR_RETURN(Reply flat, redis.Command({"HGETALL", GenerationsKey()}));
  return ParseGenerations(flat);
}

// The {outcome, detail, generations} reply of the rebuild scripts.
absl::StatusOr<Generations> GenerationsOf(absl::string_view script, const Reply& r) {
  if (r.elements.size() != 3) return Unexpected(script, r);
  ASSIGN_OR_RETURN(StoredGenerations stored, ParseGenerations(r.elements[2]));
  return stored.generations;
}

absl::Status NotRunning(absl::string_view rebuild_id, const Reply& r) {
  const std::string latest = r.elements.size() > 1 ? r.elements[1].str : "";
  return absl::FailedPreconditionError(absl::StrCat(
      "rebuild ", rebuild_id, " is not running",
      latest.empty() || latest == rebuild_id ? "" : absl::StrCat(" (the latest is ", latest, ")")));
}

absl::Status CheckRebuildId(absl::string_view id) {
  RETURN_IF_ERROR(CheckId(id, "rebuild.id"));
  if (id == kLatest) return absl::InvalidArgumentError("rebuild.id: \"latest\" is reserved");
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------
// Folding

// Numbers the keys of one script call: KEYS[i] for every distinct key, in first-use order.
class KeyTable {
 public:
  // The 1-based index of `key` in KEYS, as a script argument.
  std::string Index(std::string key) {
    auto [it, inserted] = index_.emplace(std::move(key), keys_.size() + 1);
    if (inserted) keys_.push_back(it->first);
    return absl::StrCat(it->second);
  }
  std::vector<std::string> Take() { return std::move(keys_); }

 private:
  std::map<std::string, size_t> index_;
  std::vector<std::string> keys_;
};

// One write's operations, in the form read_ops (store_common.lua) reads.
struct Ops {
  std::vector<std::array<std::string, 3>> incr;
  std::vector<std::array<std::string, 3>> zadd;
  std::vector<std::array<std::string, 2>> zrem;
  std::set<std::string> dirty;

  void AppendTo(std::vector<std::string>& args) const {
    args.push_back(absl::StrCat(incr.size()));
    for (const auto& op : incr) args.insert(args.end(), op.begin(), op.end());
    args.push_back(absl::StrCat(zadd.size()));
    for (const auto& op : zadd) args.insert(args.end(), op.begin(), op.end());
    args.push_back(absl::StrCat(zrem.size()));
    for (const auto& op : zrem) args.insert(args.end(), op.begin(), op.end());
    args.push_back(absl::StrCat(dirty.size()));
    args.insert(args.end(), dirty.begin(), dirty.end());
  }
};

bool Changes(const CellChange& c) {
  return c.presence != CellChange::Presence::kUnchanged || !c.delta.empty();
}

// The counter deltas of `c`, and its subject's mark.
void AddCounters(int64_t g, const CellChange& c, KeyTable& keys, Ops& ops) {
  if (!c.delta.empty()) {
    const std::string key = keys.Index(CounterKey(g, c.cell));
    for (int i = 0; i < kCounterCount; ++i) {
      if (c.delta.n[i] == 0) continue;
      ops.incr.push_back(
          {key, std::string(CounterField(static_cast<Counter>(i))), absl::StrCat(c.delta.n[i])});
    }
  }
  if (Changes(c)) ops.dirty.insert(SubjectMember(KindKey(c.cell.kind), c.cell.id));
}

// A person counted in a ranking membership through one incident: (kind key, period key,
// subject id), in the order it is written in the facts hash.
using PersonCell = std::tuple<std::string, std::string, std::string>;

std::string EncodeCells(const std::set<PersonCell>& cells) {
  return absl::StrJoin(cells, "\n", [](std::string* out, const PersonCell& c) {
    absl::StrAppend(out, std::get<0>(c), ":", std::get<1>(c), ":", std::get<2>(c));
  });
}

absl::StatusOr<std::set<PersonCell>> DecodeCells(absl::string_view text) {
  std::set<PersonCell> out;
  if (text.empty()) return out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (parts.size() != 3) return Corrupt("membership cells");
    out.emplace(std::move(parts[0]), std::move(parts[1]), std::move(parts[2]));
  }
  return out;
}

// What an incident's people were counted under before a write.
struct CountedMembers {
  int64_t revision = 0;
  std::string region;
  std::set<PersonCell> cells;
};

// Membership reference-count changes, summed per (key, subject) so that what a write
// takes away and gives back under the same region cancels out.
using MembershipDeltas = std::map<std::pair<std::string, std::string>, int64_t>;

void AddMemberships(int64_t g, const std::set<PersonCell>& cells, absl::string_view region,
                    int64_t sign, MembershipDeltas& deltas) {
  for (const std::string& area : RegionAndAncestors(region)) {
    for (const auto& [kind_key, period_key, subject] : cells) {
      deltas[{MembersKey(g, kind_key, area, period_key), subject}] += sign;
    }
  }
}

}  // namespace

RedisAssessmentStore::RedisAssessmentStore(redis::Client* redis, const Clock* clock,
                                           std::function<void()> notify_outbox)
    : redis_(redis), clock_(clock), notify_outbox_(std::move(notify_outbox)) {}

// ---------------------------------------------------------------------------------------
// Generations

absl::StatusOr<Generations> RedisAssessmentStore::GetGenerations() {
  ASSIGN_OR_RETURN(StoredGenerations stored, ReadGenerations(*redis_));
  return stored.generations;
}

absl::StatusOr<Generations> RedisAssessmentStore::BeginRebuild(const v1::Rebuild& rebuild) {
  RETURN_IF_ERROR(CheckRebuildId(rebuild.id()));
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    ASSIGN_OR_RETURN(StoredGenerations stored, ReadGenerations(*redis_));
    const Generations& g = stored.generations;
    const int64_t generation = std::max({stored.next, g.current, g.building}) + 1;
    v1::Rebuild record = rebuild;
    record.set_generation(generation);
    record.set_previous_generation(g.current);
    if (record.formula_version().empty()) record.set_formula_version(g.current_formula);
    if (record.state() == v1::REBUILD_STATE_UNSPECIFIED) {
      record.set_state(v1::REBUILD_STATE_RUNNING);
    }
    ASSIGN_OR_RETURN(Reply r,
                     redis_->Eval(TheScripts().begin_rebuild,
                                  {GenerationsKey(), RebuildKey(rebuild.id()), RebuildKey(kLatest)},
                                  {rebuild.id(), absl::StrCat(g.revision), absl::StrCat(generation),
                                   record.formula_version(), record.SerializeAsString()}));
    const absl::string_view outcome = Outcome(r);
    if (outcome == "ok" || outcome == "same") return GenerationsOf("store_begin_rebuild.lua", r);
    if (outcome == "running") {
      return absl::FailedPreconditionError(
          absl::StrCat("rebuild ", r.elements.size() > 1 ? r.elements[1].str : "", " is running"));
    }
    if (outcome != "stale") return Unexpected("store_begin_rebuild.lua", r);
  }
  return absl::AbortedError("generations kept changing while a rebuild was begun");
}

absl::StatusOr<Generations> RedisAssessmentStore::SwitchOver(absl::string_view rebuild_id) {
  RETURN_IF_ERROR(CheckRebuildId(rebuild_id));
  ASSIGN_OR_RETURN(Reply r, redis_->Eval(TheScripts().end_rebuild, {GenerationsKey()},
                                         {std::string(rebuild_id), "switch"}));
  const absl::string_view outcome = Outcome(r);
  if (outcome == "not_running") return NotRunning(rebuild_id, r);
  if (outcome != "ok") return Unexpected("store_end_rebuild.lua", r);
  return GenerationsOf("store_end_rebuild.lua", r);
}

absl::Status RedisAssessmentStore::AbandonRebuild(absl::string_view rebuild_id) {
  RETURN_IF_ERROR(CheckRebuildId(rebuild_id));
  ASSIGN_OR_RETURN(Reply r, redis_->Eval(TheScripts().end_rebuild, {GenerationsKey()},
                                         {std::string(rebuild_id), "abandon"}));
  const absl::string_view outcome = Outcome(r);
  if (outcome == "not_running") return NotRunning(rebuild_id, r);
  if (outcome != "ok") return Unexpected("store_end_rebuild.lua", r);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> RedisAssessmentStore::DropGeneration(int64_t generation, int64_t max_keys) {
  RETURN_IF_ERROR(CheckGeneration(generation));
  if (max_keys < 1) return absl::InvalidArgumentError("max_keys: must be at least 1");
  ASSIGN_OR_RETURN(const Generations g, GetGenerations());
  if (generation == g.current || generation == g.building) {
    return absl::FailedPreconditionError(
        absl::StrCat("generation ", generation, " is live and cannot be dropped"));
  }

  const std::string pattern = absl::StrCat(GenerationPrefix(generation), "*");
  std::set<std::string> found;  // SCAN may return a key more than once
  std::string cursor = "0";
  do {
    ASSIGN_OR_RETURN(Reply r, redis_->Command({"SCAN", cursor, "MATCH", pattern, "COUNT",
                                               absl::StrCat(kScanCount)}));
    if (r.elements.size() != 2) return absl::InternalError("assessment store: bad SCAN reply");
    cursor = r.elements[0].str;
    for (const Reply& key : r.elements[1].elements) {
      if (static_cast<int64_t>(found.size()) >= max_keys) break;
      found.insert(key.str);
    }
  } while (cursor != "0" && static_cast<int64_t>(found.size()) < max_keys);
  if (found.empty()) return 0;

  std::vector<std::string> keys = {GenerationsKey()};
  keys.insert(keys.end(), found.begin(), found.end());
  ASSIGN_OR_RETURN(Reply r, redis_->Eval(TheScripts().drop_generation, std::move(keys),
                                         {absl::StrCat(generation)}));
  const absl::string_view outcome = Outcome(r);
  if (outcome == "live") {
    return absl::FailedPreconditionError(
        absl::StrCat("generation ", generation, " is live and cannot be dropped"));
  }
  if (outcome != "ok" || r.elements.size() != 2) {
    return Unexpected("store_drop_generation.lua", r);
  }
  return r.elements[1].integer;
}

absl::Status RedisAssessmentStore::SaveRebuild(const v1::Rebuild& rebuild) {
  RETURN_IF_ERROR(CheckRebuildId(rebuild.id()));
  return redis_->Command({"SET", RebuildKey(rebuild.id()), rebuild.SerializeAsString()}).status();
}

absl::StatusOr<v1::Rebuild> RedisAssessmentStore::GetRebuild(absl::string_view rebuild_id) {
  std::string id(rebuild_id);
  if (id.empty()) {
    ASSIGN_OR_RETURN(Reply latest, redis_->Command({"GET", RebuildKey(kLatest)}));
    if (latest.is_nil()) return absl::NotFoundError("no rebuild has been started");
    id = latest.str;
  }
  ASSIGN_OR_RETURN(Reply r, redis_->Command({"GET", RebuildKey(id)}));
  if (r.is_nil()) return absl::NotFoundError(absl::StrCat("rebuild ", id, " not found"));
  return Parse<v1::Rebuild>(r.str, "rebuild");
}

// ---------------------------------------------------------------------------------------
// Folding

absl::StatusOr<std::vector<FoldedState>> RedisAssessmentStore::LoadIncident(
    absl::string_view incident_id, const std::vector<int64_t>& generations) {
  RETURN_IF_ERROR(CheckId(incident_id, "incident_id"));
  std::vector<FoldedState> out;
  if (generations.empty()) return out;
  std::vector<std::vector<std::string>> commands;
  commands.reserve(generations.size());
  for (int64_t g : generations) {
    RETURN_IF_ERROR(CheckGeneration(g));
    commands.push_back({"HMGET", FactsKey(g, incident_id), "rev", "facts"});
  }
  ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(std::move(commands)));
  RETURN_IF_ERROR(CheckReplies(replies, generations.size()));
  out.reserve(generations.size());
  for (size_t i = 0; i < generations.size(); ++i) {
    const Reply& r = replies[i];
    if (r.elements.size() != 2) return Corrupt("incident facts");
    FoldedState s;
    s.generation = generations[i];
    if (!r.elements[0].is_nil()) {
      ASSIGN_OR_RETURN(s.revision, IntegerOf(r.elements[0].str, "incident revision"));
    }
    if (!r.elements[1].is_nil()) {
      ASSIGN_OR_RETURN(s.facts, Parse<v1::FoldedIncident>(r.elements[1].str, "incident facts"));
    }
    out.push_back(std::move(s));
  }
  return out;
}

absl::Status RedisAssessmentStore::ApplyIncident(int64_t generations_revision,
                                                 absl::string_view incident_id,
                                                 const std::vector<IncidentWrite>& writes) {
  RETURN_IF_ERROR(CheckId(incident_id, "incident_id"));
  if (writes.empty()) return absl::OkStatus();
  for (const IncidentWrite& w : writes) {
    RETURN_IF_ERROR(CheckGeneration(w.generation));
    for (const CellChange& c : w.changes) RETURN_IF_ERROR(CheckCell(c.cell));
  }

  // What each incident's people are counted under now. A write expecting revision 0 has
  // nothing counted yet (and the script refuses it if that is no longer so).
  std::vector<CountedMembers> counted(writes.size());
  std::vector<size_t> to_read;
  std::vector<std::vector<std::string>> commands;
  for (size_t w = 0; w < writes.size(); ++w) {
    if (writes[w].expected_revision == 0) continue;
    to_read.push_back(w);
    commands.push_back(
        {"HMGET", FactsKey(writes[w].generation, incident_id), "rev", "mregion", "mcells"});
  }
  if (!commands.empty()) {
    ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(std::move(commands)));
    RETURN_IF_ERROR(CheckReplies(replies, to_read.size()));
    for (size_t k = 0; k < to_read.size(); ++k) {
      const IncidentWrite& w = writes[to_read[k]];
      const Reply& r = replies[k];
      if (r.elements.size() != 3) return Corrupt("incident facts");
      CountedMembers& c = counted[to_read[k]];
      if (!r.elements[0].is_nil()) {
        ASSIGN_OR_RETURN(c.revision, IntegerOf(r.elements[0].str, "incident revision"));
      }
      if (c.revision != w.expected_revision) {
        return absl::AbortedError(absl::StrCat("incident ", incident_id, " in generation ",
                                               w.generation, " is at revision ", c.revision,
                                               ", not ", w.expected_revision));
      }
      c.region = r.elements[1].str;
      ASSIGN_OR_RETURN(c.cells, DecodeCells(r.elements[2].str));
    }
  }

  KeyTable keys;
  keys.Index(GenerationsKey());
  keys.Index(DirtyKey());
  keys.Index(ChangesKey());
  std::vector<std::string> fact_keys;
  fact_keys.reserve(writes.size());
  for (const IncidentWrite& w : writes) {
    fact_keys.push_back(keys.Index(FactsKey(w.generation, incident_id)));
  }
  std::vector<std::string> args = {absl::StrCat(generations_revision),
                                   absl::StrCat(absl::ToUnixMillis(clock_->Now())),
                                   absl::StrCat(writes.size())};
  for (size_t wi = 0; wi < writes.size(); ++wi) {
    const IncidentWrite& w = writes[wi];
    const int64_t g = w.generation;
    const CountedMembers& before = counted[wi];
    std::set<PersonCell> cells = before.cells;
    MembershipDeltas memberships;
    Ops ops;
    const std::string reported = absl::StrCat(w.facts.reported_at().seconds());
    for (const CellChange& c : w.changes) {
      AddCounters(g, c, keys, ops);
      if (c.presence == CellChange::Presence::kUnchanged) continue;
      const bool added = c.presence == CellChange::Presence::kAdded;
      const std::string explain = keys.Index(ExplainKey(g, c.cell));
      if (added) {
        ops.zadd.push_back({explain, reported, std::string(incident_id)});
      } else {
        ops.zrem.push_back({explain, std::string(incident_id)});
      }
      if (c.cell.kind == v1::SUBJECT_KIND_REGION) {
        for (const std::string& area : RegionAndAncestors(c.cell.id)) {
          memberships[{MembersKey(g, KindKey(c.cell.kind), area, c.cell.period_key), c.cell.id}] +=
              added ? 1 : -1;
        }
        continue;
      }
      PersonCell person{std::string(KindKey(c.cell.kind)), c.cell.period_key, c.cell.id};
      if (added) {
        cells.insert(std::move(person));
      } else {
        cells.erase(person);
      }
    }
    // People: undo what was counted under the old region, count what is there now under
    // the new one; the sum leaves untouched what did not move.
    AddMemberships(g, before.cells, before.region, -1, memberships);
    AddMemberships(g, cells, w.facts.region_code(), +1, memberships);
    for (const auto& [key_field, delta] : memberships) {
      if (delta == 0) continue;
      ops.incr.push_back({keys.Index(key_field.first), key_field.second, absl::StrCat(delta)});
    }

    args.push_back(absl::StrCat(g));
    args.push_back(absl::StrCat(w.expected_revision));
    args.push_back(fact_keys[wi]);
    args.push_back(w.facts.SerializeAsString());
    args.push_back(cells.empty() ? "" : w.facts.region_code());
    args.push_back(EncodeCells(cells));
    ops.AppendTo(args);
  }

  ASSIGN_OR_RETURN(Reply r,
                   redis_->Eval(TheScripts().apply_incident, keys.Take(), std::move(args)));
  const absl::string_view outcome = Outcome(r);
  if (outcome == "ok") return absl::OkStatus();
  if (outcome == "stale" && r.elements.size() >= 3) {
    if (r.elements[1].str == "generations") {
      return absl::AbortedError(absl::StrCat("generations moved to revision ", r.elements[2].str,
                                             " from ", generations_revision));
    }
    if (r.elements.size() == 4) {
      return absl::AbortedError(absl::StrCat("incident ", incident_id, " in generation ",
                                             r.elements[2].str, " is at revision ",
                                             r.elements[3].str));
    }
  }
  return Unexpected("store_apply_incident.lua", r);
}

absl::StatusOr<bool> RedisAssessmentStore::ApplyEventOnce(int64_t generations_revision,
                                                          absl::string_view event_id,
                                                          absl::string_view dedupe_day,
                                                          const std::vector<EventWrite>& writes) {
  RETURN_IF_ERROR(CheckId(event_id, "event_id"));
  RETURN_IF_ERROR(CheckId(dedupe_day, "dedupe_day"));
  if (writes.empty()) return false;
  KeyTable keys;
  keys.Index(GenerationsKey());
  keys.Index(DirtyKey());
  keys.Index(ChangesKey());
  std::vector<std::string> args = {absl::StrCat(generations_revision),
                                   absl::StrCat(absl::ToUnixMillis(clock_->Now())),
                                   std::string(event_id), absl::StrCat(writes.size())};
  for (const EventWrite& w : writes) {
    RETURN_IF_ERROR(CheckGeneration(w.generation));
    Ops ops;
    for (const CellChange& c : w.changes) {
      RETURN_IF_ERROR(CheckCell(c.cell));
      AddCounters(w.generation, c, keys, ops);
    }
    args.push_back(absl::StrCat(w.generation));
    args.push_back(keys.Index(SeenKey(w.generation, dedupe_day)));
    ops.AppendTo(args);
  }
  ASSIGN_OR_RETURN(Reply r, redis_->Eval(TheScripts().apply_event, keys.Take(), std::move(args)));
  const absl::string_view outcome = Outcome(r);
  if (outcome == "ok" && r.elements.size() == 2) return r.elements[1].integer > 0;
  if (outcome == "stale" && r.elements.size() == 3) {
    return absl::AbortedError(absl::StrCat("generations moved to revision ", r.elements[2].str,
                                           " from ", generations_revision));
  }
  return Unexpected("store_apply_event.lua", r);
}

// ---------------------------------------------------------------------------------------
// Reading figures

absl::StatusOr<std::vector<Tally>> RedisAssessmentStore::ReadTallies(
    int64_t generation, const std::vector<Cell>& cells) {
  RETURN_IF_ERROR(CheckGeneration(generation));
  std::vector<Tally> out;
  if (cells.empty()) return out;
  std::vector<std::vector<std::string>> commands;
  commands.reserve(cells.size());
  for (const Cell& c : cells) {
    RETURN_IF_ERROR(CheckCell(c));
    commands.push_back({"HGETALL", CounterKey(generation, c)});
  }
  ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(std::move(commands)));
  RETURN_IF_ERROR(CheckReplies(replies, cells.size()));
  out.reserve(cells.size());
  for (const Reply& r : replies) {
    Tally t;
    for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
      // A field this version does not know was written by a newer one: not ours to read.
      const std::optional<Counter> counter = CounterFromField(r.elements[i].str);
      if (!counter.has_value()) continue;
      ASSIGN_OR_RETURN(t[*counter], IntegerOf(r.elements[i + 1].str, "counter"));
    }
    out.push_back(t);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> RedisAssessmentStore::Members(
    int64_t generation, v1::SubjectKind kind, absl::string_view region,
    absl::string_view period_key) {
  RETURN_IF_ERROR(CheckGeneration(generation));
  ASSIGN_OR_RETURN(const absl::string_view kind_key, KindKeyOf(kind, "kind"));
  RETURN_IF_ERROR(CheckId(region, "region"));
  RETURN_IF_ERROR(CheckId(period_key, "period_key"));
  ASSIGN_OR_RETURN(
      Reply r, redis_->Command({"HKEYS", MembersKey(generation, kind_key, region, period_key)}));
  std::vector<std::string> out;
  out.reserve(r.elements.size());
  for (Reply& e : r.elements) {
    if (kind == v1::SUBJECT_KIND_REGION && e.str == region) continue;
    out.push_back(std::move(e.str));
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<ExplainPage> RedisAssessmentStore::ExplainIncidents(int64_t generation,
                                                                   const Cell& cell, int64_t offset,
                                                                   int64_t count) {
  RETURN_IF_ERROR(CheckGeneration(generation));
  RETURN_IF_ERROR(CheckCell(cell));
  if (offset < 0) return absl::InvalidArgumentError("offset: must not be negative");
  if (count < 0) return absl::InvalidArgumentError("count: must not be negative");
  const std::string key = ExplainKey(generation, cell);
  std::vector<std::vector<std::string>> commands = {{"ZCARD", key}};
  if (count > 0) {
    commands.push_back({"ZRANGE", key, absl::StrCat(offset), absl::StrCat(offset + count - 1)});
  }
  const size_t sent = commands.size();
  ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(std::move(commands)));
  RETURN_IF_ERROR(CheckReplies(replies, sent));
  ExplainPage page;
  page.total = replies[0].integer;
  if (count > 0) {
    page.incident_ids.reserve(replies[1].elements.size());
    for (Reply& e : replies[1].elements) page.incident_ids.push_back(std::move(e.str));
  }
  return page;
}

absl::StatusOr<std::vector<v1::FoldedIncident>> RedisAssessmentStore::GetFacts(
    int64_t generation, const std::vector<std::string>& incident_ids) {
  RETURN_IF_ERROR(CheckGeneration(generation));
  std::vector<v1::FoldedIncident> out;
  if (incident_ids.empty()) return out;
  std::vector<std::vector<std::string>> commands;
  commands.reserve(incident_ids.size());
  for (const std::string& id : incident_ids) {
    RETURN_IF_ERROR(CheckId(id, "incident_ids"));
    commands.push_back({"HGET", FactsKey(generation, id), "facts"});
  }
  ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(std::move(commands)));
  RETURN_IF_ERROR(CheckReplies(replies, incident_ids.size()));
  out.reserve(replies.size());
  for (const Reply& r : replies) {
    if (r.is_nil()) {
      out.emplace_back();
      continue;
    }
    ASSIGN_OR_RETURN(v1::FoldedIncident facts, Parse<v1::FoldedIncident>(r.str, "incident facts"));
    out.push_back(std::move(facts));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Ratings

namespace {

// The shortest decimal that reads back as exactly `v`.
std::string ExactDecimal(double v) {
  char buf[32];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), v);
  if (r.ec != std::errc()) return absl::StrCat(v);
  return std::string(buf, r.ptr);
}

std::string EncodeRating(const FrozenRating& f) {
  return absl::StrCat(ExactDecimal(f.score), "|", f.stars, "|", f.insufficient_sample ? 1 : 0, "|",
                      absl::ToUnixMillis(f.frozen_at), "|", f.formula_version);
}

absl::StatusOr<FrozenRating> DecodeRating(absl::string_view text) {
  // The formula version comes last so that it may hold any character.
  const std::vector<absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits('|', 4));
  FrozenRating f;
  int64_t insufficient = 0;
  int64_t frozen_ms = 0;
  if (parts.size() != 5 || !absl::SimpleAtod(parts[0], &f.score) ||
      !absl::SimpleAtoi(parts[1], &f.stars) || !absl::SimpleAtoi(parts[2], &insufficient) ||
      !absl::SimpleAtoi(parts[3], &frozen_ms)) {
    return Corrupt("frozen rating");
  }
  f.insufficient_sample = insufficient != 0;
  f.frozen_at = absl::FromUnixMillis(frozen_ms);
  f.formula_version = std::string(parts[4]);
  return f;
}

// What makes two appeals the same decision: everything but what the store fills in and
// when it was taken, so a retried request matches its first attempt.
std::string AppealFingerprint(const v1::Appeal& appeal) {
  v1::Appeal decisive = appeal;
  decisive.clear_id();
  decisive.clear_stars_before();
  decisive.clear_score_before();
  decisive.clear_decided_at();
  return decisive.SerializeAsString();
}

}  // namespace

absl::StatusOr<std::vector<std::optional<FrozenRating>>> RedisAssessmentStore::GetFrozen(
    v1::SubjectKind kind, const std::vector<std::string>& subject_ids,
    absl::string_view period_key) {
  ASSIGN_OR_RETURN(const absl::string_view kind_key, KindKeyOf(kind, "kind"));
  RETURN_IF_ERROR(CheckId(period_key, "period_key"));
  std::vector<std::optional<FrozenRating>> out;
  if (subject_ids.empty()) return out;
  std::vector<std::string> argv = {"HMGET", FrozenKey(kind_key, period_key)};
  argv.insert(argv.end(), subject_ids.begin(), subject_ids.end());
  ASSIGN_OR_RETURN(Reply r, redis_->Command(std::move(argv)));
  if (r.elements.size() != subject_ids.size()) return Corrupt("frozen ratings");
  out.reserve(subject_ids.size());
  for (const Reply& e : r.elements) {
    if (e.is_nil()) {
      out.emplace_back();
      continue;
    }
    ASSIGN_OR_RETURN(FrozenRating f, DecodeRating(e.str));
    out.emplace_back(std::move(f));
  }
  return out;
}

absl::StatusOr<int> RedisAssessmentStore::Freeze(
    v1::SubjectKind kind, absl::string_view period_key,
    const std::vector<std::pair<std::string, FrozenRating>>& ratings) {
  ASSIGN_OR_RETURN(const absl::string_view kind_key, KindKeyOf(kind, "kind"));
  RETURN_IF_ERROR(CheckId(period_key, "period_key"));
  if (ratings.empty()) return 0;
  const std::string key = FrozenKey(kind_key, period_key);
  std::vector<std::vector<std::string>> commands = {{"MULTI"}};
  for (const auto& [subject, rating] : ratings) {
    RETURN_IF_ERROR(CheckId(subject, "subject_id"));
    commands.push_back({"HSETNX", key, subject, EncodeRating(rating)});
  }
  commands.push_back({"EXEC"});
  const size_t sent = commands.size();
  ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(std::move(commands)));
  RETURN_IF_ERROR(CheckReplies(replies, sent));
  const Reply& exec = replies.back();
  if (exec.elements.size() != ratings.size()) return Unexpected("freeze", exec);
  int frozen = 0;
  for (const Reply& e : exec.elements) {
    if (e.is_error()) return redis::StatusFromErrorReply(e.str);
    frozen += e.integer == 1 ? 1 : 0;
  }
  return frozen;
}

absl::StatusOr<v1::Appeal> RedisAssessmentStore::RecordAppeal(absl::string_view request_id,
                                                              const v1::Appeal& appeal) {
  RETURN_IF_ERROR(CheckId(request_id, "request_id"));
  ASSIGN_OR_RETURN(const absl::string_view kind_key,
                   KindKeyOf(appeal.subject_kind(), "subject_kind"));
  RETURN_IF_ERROR(CheckId(appeal.subject_id(), "subject_id"));
  RETURN_IF_ERROR(CheckId(appeal.period_key(), "period_key"));
  const std::string frozen_key = FrozenKey(kind_key, appeal.period_key());
  const std::string fingerprint = AppealFingerprint(appeal);
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    // The appeal records the rating it replaces, so it is built on what is stored now and
    // written only if that is still so.
    ASSIGN_OR_RETURN(Reply stored, redis_->Command({"HGET", frozen_key, appeal.subject_id()}));
    v1::Appeal out = appeal;
    out.set_id(NewId("ap"));
    if (!out.has_decided_at()) *out.mutable_decided_at() = ToTimestamp(clock_->Now());
    std::string after;
    if (!stored.is_nil()) {
      ASSIGN_OR_RETURN(const FrozenRating before, DecodeRating(stored.str));
      out.set_stars_before(before.stars);
      out.set_score_before(before.score);
      FrozenRating decided = before;
      decided.score = appeal.score_after();
      decided.stars = appeal.stars_after();
      decided.insufficient_sample = false;
      after = EncodeRating(decided);
    }
    // Not frozen: the script still runs, so that a repeated request is recognised first.
    ASSIGN_OR_RETURN(
        Reply r,
        redis_->Eval(TheScripts().appeal,
                     {frozen_key, AppealsKey(kind_key, appeal.subject_id(), appeal.period_key()),
                      RequestKey(request_id)},
                     {appeal.subject_id(), stored.is_nil() ? "" : stored.str, after,
                      out.SerializeAsString(), fingerprint}));
    const absl::string_view outcome = Outcome(r);
    if (outcome == "ok") return out;
    if (outcome == "not_frozen") {
      return absl::FailedPreconditionError(absl::StrCat(
          "the rating of ", appeal.subject_id(), " for ", appeal.period_key(), " is not frozen"));
    }
    if (outcome == "dup" && r.elements.size() == 3) {
      if (r.elements[1].str != fingerprint) {
        return absl::AlreadyExistsError(
            absl::StrCat("request_id: ", request_id, " was already used for a different appeal"));
      }
      return Parse<v1::Appeal>(r.elements[2].str, "appeal");
    }
    if (outcome != "stale") return Unexpected("store_appeal.lua", r);
  }
  return absl::AbortedError(
      absl::StrCat("the rating of ", appeal.subject_id(), " kept changing during the appeal"));
}

absl::StatusOr<std::vector<v1::Appeal>> RedisAssessmentStore::ListAppeals(
    v1::SubjectKind kind, absl::string_view subject_id, absl::string_view period_key) {
  ASSIGN_OR_RETURN(const absl::string_view kind_key, KindKeyOf(kind, "kind"));
  RETURN_IF_ERROR(CheckId(subject_id, "subject_id"));
  RETURN_IF_ERROR(CheckId(period_key, "period_key"));
  ASSIGN_OR_RETURN(Reply r, redis_->Command({"LRANGE", AppealsKey(kind_key, subject_id, period_key),
                                             "0", "-1"}));
  std::vector<v1::Appeal> out;
  out.reserve(r.elements.size());
  for (const Reply& e : r.elements) {
    ASSIGN_OR_RETURN(v1::Appeal a, Parse<v1::Appeal>(e.str, "appeal"));
    out.push_back(std::move(a));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Score events

absl::StatusOr<std::vector<DirtySubject>> RedisAssessmentStore::DirtySubjects(absl::Time now,
                                                                              int limit) {
  std::vector<DirtySubject> out;
  if (limit <= 0) return out;
  ASSIGN_OR_RETURN(Reply marked, redis_->Command({"ZRANGEBYSCORE", DirtyKey(), "-inf",
                                                  absl::StrCat(absl::ToUnixMillis(now)), "LIMIT",
                                                  "0", absl::StrCat(limit)}));
  if (marked.elements.empty()) return out;
  std::vector<std::string> argv = {"HMGET", PublishedKey()};
  std::vector<std::string> changes_argv = {"HMGET", ChangesKey()};
  for (const Reply& m : marked.elements) {
    argv.push_back(m.str);
    changes_argv.push_back(m.str);
  }
  ASSIGN_OR_RETURN(std::vector<Reply> replies,
                   redis_->Pipeline({std::move(argv), std::move(changes_argv)}));
  if (replies.size() != 2) return Corrupt("published scores");
  const Reply& published = replies[0];
  const Reply& changes = replies[1];
  if (published.elements.size() != marked.elements.size() ||
      changes.elements.size() != marked.elements.size()) {
    return Corrupt("published scores");
  }
  out.reserve(marked.elements.size());
  for (size_t i = 0; i < marked.elements.size(); ++i) {
    const std::string& member = marked.elements[i].str;
    const size_t colon = member.find(':');
    const std::optional<v1::SubjectKind> kind =
        colon == std::string::npos ? std::nullopt : KindFromKey(member.substr(0, colon));
    // Only this adapter writes marks; one it cannot read would otherwise block every
    // publisher for good.
    if (!kind.has_value()) continue;
    DirtySubject d;
    d.subject.kind = *kind;
    d.subject.id = member.substr(colon + 1);
    if (!changes.elements[i].is_nil()) {
      ASSIGN_OR_RETURN(d.change, IntegerOf(changes.elements[i].str, "change count"));
    }
    const Reply& last = published.elements[i];
    if (!last.is_nil()) {
      const size_t bar = last.str.find('|');
      ASSIGN_OR_RETURN(const int64_t ms,
                       IntegerOf(absl::string_view(last.str).substr(0, bar), "published score"));
      d.published_at = absl::FromUnixMillis(ms);
      if (bar != std::string::npos) d.published_digest = last.str.substr(bar + 1);
    }
    out.push_back(std::move(d));
  }
  return out;
}

absl::Status RedisAssessmentStore::DeferScore(const SubjectRef& subject, absl::Time until) {
  ASSIGN_OR_RETURN(const absl::string_view kind_key, KindKeyOf(subject.kind, "subject.kind"));
  RETURN_IF_ERROR(CheckId(subject.id, "subject.id"));
  return redis_
      ->Command({"ZADD", DirtyKey(), "XX", absl::StrCat(absl::ToUnixMillis(until)),
                 SubjectMember(kind_key, subject.id)})
      .status();
}

absl::StatusOr<bool> RedisAssessmentStore::PublishScore(const DirtySubject& seen, absl::Time now,
                                                        absl::string_view digest,
                                                        const v1::ScoreEvent* event,
                                                        absl::Time next_due) {
  ASSIGN_OR_RETURN(const absl::string_view kind_key, KindKeyOf(seen.subject.kind, "subject.kind"));
  RETURN_IF_ERROR(CheckId(seen.subject.id, "subject.id"));
  const std::string seen_at = seen.published_at == absl::InfinitePast()
                                  ? ""
                                  : absl::StrCat(absl::ToUnixMillis(seen.published_at));
  ASSIGN_OR_RETURN(
      Reply r,
      redis_->Eval(TheScripts().publish_score,
                   {PublishedKey(), DirtyKey(), RedisAssessmentStore::kOutboxStream, ChangesKey()},
                   {SubjectMember(kind_key, seen.subject.id), seen_at, std::string(digest),
                    event != nullptr ? "1" : "0", absl::StrCat(absl::ToUnixMillis(now)),
                    event != nullptr ? event->SerializeAsString() : "", absl::StrCat(seen.change),
                    absl::StrCat(absl::ToUnixMillis(next_due))}));
  const absl::string_view outcome = Outcome(r);
  if (outcome == "raced" || outcome == "unchanged") return false;
  if (outcome != "ok") return Unexpected("store_publish_score.lua", r);
  if (notify_outbox_) notify_outbox_();
  return true;
}

}  // namespace gridloop::assessment
