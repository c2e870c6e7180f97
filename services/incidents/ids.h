#ifndef GRIDLOOP_SERVICES_INCIDENTS_IDS_H_
#define GRIDLOOP_SERVICES_INCIDENTS_IDS_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace gridloop::incidents {

// Incidents are spread over a fixed number of shards. A shard is one Redis Cluster slot
// (its keys share the hash tag `{<shard>}`), so a record, its indexes, its idempotency
// keys and the outbox entry of a change can be written by one Lua script even on a
// cluster. The shard is part of the id, so it never needs a lookup and never moves.
inline constexpr int kShards = 16;

// A new id: "<yymmdd>-<2 hex shard><12 base32 random>", e.g. "261127-0bq4k8m2x7d9pa".
// Thread-safe.
std::string NewIncidentId(int shard, absl::Time now);

// The shard of a well-formed id; nullopt for anything else (a caller's typo must not
// become a key).
std::optional<int> ShardOfId(absl::string_view id);

// The shard a new incident reported with `request_id` lives in, so a repeated report
// finds its first result in the same slot. Stable across processes and versions.
int ShardOfRequest(absl::string_view request_id);

// Hex SHA-256 of `data`: request fingerprints.
std::string Sha256Hex(absl::string_view data);

}  // namespace gridloop::incidents

#endif  // GRIDLOOP_SERVICES_INCIDENTS_IDS_H_
