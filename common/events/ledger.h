#ifndef GRIDLOOP_COMMON_EVENTS_LEDGER_H_
#define GRIDLOOP_COMMON_EVENTS_LEDGER_H_

// Which incident events a consumer has already applied, kept in Redis beside the
// consumer's own state.
//
// Why: gridloop.incident.events.v1 is delivered at least once. A consumer may see a record
// twice, and after a re-publish it may see an older version after a newer one
// (v1 v2 v1 v2 v3, or v3 then a re-sent v2). Every handler must therefore decide, per
// (incident id, version), whether the event still has to be applied.
//
// Why in the same script as the effect: if the "applied" mark were written in a separate
// step, a crash between the effect and the mark would apply the event again on
// redelivery (or, marking first, lose it). So the ledger does not run on its own: it
// wraps the consumer's Lua effect, and guard, effect and mark run in ONE script, which
// Redis executes atomically. The ledger key shares the incident's hash tag with the
// consumer's keys (`<prefix>:{<incident id>}:applied`), so in Redis Cluster they all live
// in one slot and may be touched by one script.
//
// The script convention (for ApplyOnce() and for anyone composing the text by hand):
//   KEYS[1]        the ledger key, Ledger::Key(incident_id). Reserved: the effect must not
//                  read or write it.
//   KEYS[2..n+1]   the effect's own keys, in the order the caller passed them.
//   ARGV[1]        the event's version as a decimal integer >= 1. The effect may read it.
//   ARGV[2..m+1]   the effect's own arguments, in order.
// The effect's source sees these tables unchanged, i.e. its first own key is KEYS[2] and
// its first own argument is ARGV[2].
//
// What the composed script does:
//   1. Guard: if the version is not to be applied under the ledger's Policy, return the
//      status reply kDuplicateMarker at once; neither the effect nor the mark runs.
//   2. Effect: the caller's source, run as the body of a Lua function, so `return` and
//      `local` behave as in a script of its own.
//   3. Mark: only if the effect returned normally and not an error reply
//      (redis.error_reply / {err = ...}); then the effect's reply is returned unchanged.
//      If the effect raises (error(), a failing redis.call) or returns an error reply,
//      the version stays unmarked and a retry applies it again.
// Redis does not roll back a script's writes when it fails, so an effect that can fail
// must check everything before its first write; writes it made before failing stay.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/redis/redis_client.h"

namespace gridloop::events {

// How a consumer treats versions, chosen by what its effect does.
enum class Policy {
  // For state-like consumers keeping a projection of the incident (each event carries a
  // full snapshot): apply a version only if it is greater than the highest applied. An
  // equal or older one is skipped, because a newer snapshot already superseded it; so
  // after v3, a late v2 is never applied. Stored: hash field "latest".
  kLatestWins,
  // For counter-like consumers (scores) that must fold in every version exactly once,
  // in whatever order they arrive: apply a version iff it was never applied. Stored
  // compactly: hash field "watermark" (every version <= it was applied) plus one field
  // "v<N>" per applied version above it; when the gap below them fills, the watermark
  // advances over them and their fields are deleted. Since versions are gap-free per
  // incident, the set above the watermark stays small and normally ends empty.
  kEachOnce,
};

// "latest_wins" / "each_once", for logs.
absl::string_view PolicyName(Policy policy);

// The status reply the composed script returns when it skipped the event. Reserved: an
// effect must not return redis.status_reply() with this text.
inline constexpr char kDuplicateMarker[] = "GRIDLOOP_EVENTS_DUPLICATE";

// Versions above this cannot be represented exactly by Lua's numbers.
inline constexpr int64_t kMaxVersion = int64_t{1} << 53;

// OK if (incident_id, version) can be recorded: the id is non-empty and holds no '{' or
// '}' (that would change the Redis Cluster hash tag), and 1 <= version <= kMaxVersion.
// InvalidArgument naming the field otherwise. Shared by both ledgers.
absl::Status ValidateEvent(absl::string_view incident_id, int64_t version);

// One consumer's ledger: a key prefix and a policy. Use one prefix per consumer (the
// service's own, e.g. "dsp" or "asm"): two consumers sharing a prefix would see each
// other's marks.
//
// Thread-safe. Not copyable: it memoizes the composed scripts (see Guard()).
class Ledger {
 public:
  // `prefix` must be non-empty and hold no '{' or '}'; ApplyOnce() reports a bad prefix
  // as InvalidArgument.
  Ledger(std::string prefix, Policy policy);

  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  const std::string& prefix() const { return prefix_; }
  Policy policy() const { return policy_; }

  // "<prefix>:{<incident_id>}:applied": KEYS[1] of every guarded script. The consumer's
  // own keys for the incident should carry the same "{<incident_id>}" hash tag.
  std::string Key(absl::string_view incident_id) const;

  // The Lua text put in front of an effect's source: validates ARGV[1], applies the
  // guard, and opens the function that holds the effect. Must be followed by the effect's
  // source and then LuaEpilogue(). Most callers want GuardedSource() instead.
  std::string LuaPrologue() const;
  // Closes the effect's function, runs it, and marks the version if it succeeded.
  std::string LuaEpilogue() const;
  // LuaPrologue() + effect_source + LuaEpilogue(). A first line "#!lua ..." (script
  // flags) in `effect_source` is moved to the top of the result, where Redis requires it;
  // the ledger's own commands need write access, so "no-writes" must not be among them.
  std::string GuardedSource(absl::string_view effect_source) const;

  // The redis::Script for GuardedSource(effect.source()). Composed (and its SHA1 computed)
  // once per distinct effect and kept for the ledger's lifetime, so the reference stays
  // valid as long as the ledger. Meant for a fixed handful of effect scripts.
  const redis::Script& Guard(const redis::Script& effect) const;

 private:
  const std::string prefix_;
  const Policy policy_;

  mutable absl::Mutex mu_;
  // Effect SHA1 -> composed script. Entries are never removed; unique_ptr keeps the
  // handed-out references stable.
  mutable std::map<std::string, std::unique_ptr<redis::Script>> guarded_ ABSL_GUARDED_BY(mu_);
};

// Applies `effect` for (incident_id, version) unless `ledger` says it was already
// applied, in one EVALSHA of ledger.Guard(effect) with
//   KEYS = {ledger.Key(incident_id), keys...}, ARGV = {version, args...}
// (see the convention at the top of this file). Guard, effect and mark are atomic.
//
// Returns true if the effect ran and the version is now marked, false if it was skipped
// (already applied, or superseded under kLatestWins). Errors: InvalidArgument from
// ValidateEvent() or for a bad prefix (nothing is sent); otherwise Client::Eval's status,
// i.e. Unavailable when Redis could not be reached or the call timed out (the script may
// or may not have run; calling again is safe, that is the point), and Internal carrying
// the script's error text when the effect failed (then the version is not marked).
//
// Thread-safe; blocks on Redis. `client` and `ledger` are only used during the call.
absl::StatusOr<bool> ApplyOnce(redis::Client& client, const Ledger& ledger,
                               absl::string_view incident_id, int64_t version,
                               const redis::Script& effect, std::vector<std::string> keys,
                               std::vector<std::string> args);

}  // namespace gridloop::events

#endif  // GRIDLOOP_COMMON_EVENTS_LEDGER_H_
