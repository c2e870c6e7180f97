#include "services/dispatch/redis_dispatch_store.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status/status_macros.h"
#include "lua/dispatch_commit.lua.h"
#include "services/dispatch/volunteer_store.h"

// Keys of shard `ss` (00..0f):
//
// | key                          | type   | content                                        |
// |------------------------------|--------|------------------------------------------------|
// | dsp:{ss}:job:<incident id>   | hash   | `v` version, `d` the `Dispatch` (no offers)    |
// | dsp:{ss}:offer:<offer id>    | hash   | `v` version, `d` the `Offer`                   |
// | dsp:{ss}:timers              | zset   | offer ids by the ms their timer fires          |
// | dsp:{ss}:outbox              | stream | `k` key, `v` `DispatchEvent` bytes             |

namespace gridloop::dispatch {
namespace {

using redis::Reply;

const redis::Script& CommitScript() {
  static const redis::Script* const script = new redis::Script(kDispatchCommitLua);
  return *script;
}

std::string Tag(int shard) { return absl::StrFormat("dsp:{%02x}:", shard); }
int ShardOf(absl::string_view incident_id) {
  return StableBucket(incident_id, RedisDispatchStore::kShards);
}
std::string JobKey(absl::string_view iid) { return absl::StrCat(Tag(ShardOf(iid)), "job:", iid); }
std::string OfferKey(absl::string_view iid, absl::string_view oid) {
  return absl::StrCat(Tag(ShardOf(iid)), "offer:", oid);
}
std::string TimersKey(int shard) { return absl::StrCat(Tag(shard), "timers"); }
std::string OutboxKey(int shard) { return absl::StrCat(Tag(shard), "outbox"); }

absl::Status Corrupt(absl::string_view what, absl::string_view id) {
  return absl::InternalError(absl::StrCat("dispatch store: corrupt ", what, " ", id));
}

// Ids become part of keys: a brace would change the hash tag.
absl::Status CheckKeyPart(absl::string_view id, absl::string_view field) {
  if (id.empty() || id.size() > 128 || absl::StrContains(id, "{") || absl::StrContains(id, "}")) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not a valid id"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string OfferId(absl::string_view incident_id, int n) {
  return absl::StrCat(incident_id, "-o", n);
}

absl::StatusOr<std::string> IncidentOfOffer(absl::string_view offer_id, absl::string_view field) {
  const size_t at = offer_id.rfind("-o");
  int n = 0;
  if (at == absl::string_view::npos || at == 0 || offer_id.size() > 160 ||
      !absl::SimpleAtoi(offer_id.substr(at + 2), &n) || n < 1 || absl::StrContains(offer_id, "{") ||
      absl::StrContains(offer_id, "}")) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not an offer id"));
  }
  return std::string(offer_id.substr(0, at));
}

RedisDispatchStore::RedisDispatchStore(redis::Client* redis, OnOutboxWrite on_outbox_write)
    : redis_(redis), on_outbox_write_(std::move(on_outbox_write)) {}

std::vector<std::string> RedisDispatchStore::OutboxStreams() {
  std::vector<std::string> out;
  out.reserve(kShards);
  for (int s = 0; s < kShards; ++s) out.push_back(OutboxKey(s));
  return out;
}

absl::StatusOr<std::optional<v1::Dispatch>> RedisDispatchStore::GetJob(
    absl::string_view incident_id) {
  RETURN_IF_ERROR(CheckKeyPart(incident_id, "incident_id"));
  ASSIGN_OR_RETURN(Reply r, redis_->Command({"HGET", JobKey(incident_id), "d"}));
  if (r.is_nil()) return std::optional<v1::Dispatch>();
  v1::Dispatch job;
  if (!job.ParseFromString(r.str)) return Corrupt("record of incident", incident_id);
  return std::optional<v1::Dispatch>(std::move(job));
}

absl::StatusOr<v1::Offer> RedisDispatchStore::GetOffer(absl::string_view offer_id) {
  ASSIGN_OR_RETURN(std::vector<v1::Offer> offers, GetOffers({std::string(offer_id)}));
  if (offers.empty()) return absl::NotFoundError(absl::StrCat("offer ", offer_id, " not found"));
  return offers.front();
}

absl::StatusOr<std::vector<v1::Offer>> RedisDispatchStore::GetOffers(
    const std::vector<std::string>& offer_ids) {
  std::vector<std::vector<std::string>> commands;
  for (const std::string& oid : offer_ids) {
    absl::StatusOr<std::string> iid = IncidentOfOffer(oid, "offer_id");
    if (!iid.ok()) continue;  // names no offer: there is none to find
    commands.push_back({"HGET", OfferKey(*iid, oid), "d"});
  }
  std::vector<v1::Offer> out;
  if (commands.empty()) return out;
  ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(std::move(commands)));
  for (const Reply& r : replies) {
    if (r.is_error()) return redis::StatusFromErrorReply(r.str);
    if (r.is_nil()) continue;
    v1::Offer offer;
    if (!offer.ParseFromString(r.str)) return Corrupt("offer", "");
    out.push_back(std::move(offer));
  }
  return out;
}

absl::Status RedisDispatchStore::Commit(const DispatchWrite& w) {
  RETURN_IF_ERROR(CheckKeyPart(w.incident_id, "incident_id"));
  const int shard = ShardOf(w.incident_id);
  std::vector<std::string> keys = {JobKey(w.incident_id), TimersKey(shard), OutboxKey(shard)};
  const int64_t retain_ms = w.retain == absl::InfiniteDuration()
                                ? 0
                                : std::max<int64_t>(1, absl::ToInt64Milliseconds(w.retain));
  std::vector<std::string> args = {w.job.has_value() ? "1" : "0",
                                   absl::StrCat(w.expected_job_version),
                                   w.job.has_value() ? absl::StrCat(w.job->version()) : "0",
                                   w.job.has_value() ? w.job->SerializeAsString() : "",
                                   absl::StrCat(retain_ms),
                                   absl::StrCat(w.offers.size())};
  for (const auto& [offer, expected] : w.offers) {
    if (offer.incident_id() != w.incident_id) {
      return absl::InternalError(
          absl::StrCat("offer ", offer.id(), " does not belong to incident ", w.incident_id));
    }
    keys.push_back(OfferKey(w.incident_id, offer.id()));
    args.push_back(absl::StrCat(expected));
    args.push_back(absl::StrCat(offer.version()));
    args.push_back(offer.SerializeAsString());
  }
  args.push_back(absl::StrCat(w.timers.size()));
  for (const auto& [oid, due] : w.timers) {
    args.push_back(oid);
    args.push_back(absl::StrCat(absl::ToUnixMillis(due)));
  }
  args.push_back(absl::StrCat(w.clear_timers.size()));
  for (const std::string& oid : w.clear_timers) args.push_back(oid);
  args.push_back(absl::StrCat(w.events.size()));
  const size_t events_at = args.size();
  for (const v1::DispatchEvent& e : w.events) {
    args.push_back(e.volunteer_id().empty() || !e.incident_id().empty() ? e.incident_id()
                                                                        : e.volunteer_id());
    args.push_back(e.SerializeAsString());
  }
  // Handed to the relay after the commit, key and bytes as written.
  std::vector<std::string> written;
  if (on_outbox_write_) {
    written.assign(args.begin() + static_cast<std::ptrdiff_t>(events_at), args.end());
  }
  ASSIGN_OR_RETURN(Reply r, redis_->Eval(CommitScript(), std::move(keys), std::move(args)));
  if (r.elements.empty() || r.elements[0].str != "ok") {
    if (!r.elements.empty() && r.elements[0].str == "stale") {
      return absl::AbortedError(absl::StrCat("dispatch of incident ", w.incident_id, ": ",
                                             r.elements.size() > 1 ? r.elements[1].str : "",
                                             " changed concurrently"));
    }
    return absl::InternalError(absl::StrCat("dispatch commit: unexpected reply ", r.DebugString()));
  }
  if (w.events.empty() || !on_outbox_write_) return absl::OkStatus();
  if (r.elements.size() != 3 + w.events.size()) {
    return absl::InternalError(absl::StrCat("dispatch commit: unexpected reply ", r.DebugString()));
  }
  const std::string stream = OutboxKey(shard);
  for (size_t e = 0; e < w.events.size(); ++e) {
    on_outbox_write_(outbox::Appended{stream, r.elements[3 + e].str, r.elements[2 + e].str,
                                      std::move(written[2 * e]), std::move(written[2 * e + 1])});
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> RedisDispatchStore::DueTimers(absl::Time now, int limit) {
  std::vector<std::vector<std::string>> commands;
  commands.reserve(kShards);
  const std::string max = absl::StrCat(absl::ToUnixMillis(now));
  for (int s = 0; s < kShards; ++s) {
    commands.push_back({"ZRANGE", TimersKey(s), "-inf", max, "BYSCORE", "LIMIT", "0",
                        absl::StrCat(limit), "WITHSCORES"});
  }
  ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(std::move(commands)));
  std::vector<std::pair<int64_t, std::string>> due;
  for (const Reply& r : replies) {
    if (r.is_error()) return redis::StatusFromErrorReply(r.str);
    for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
      int64_t ms = 0;
      (void)absl::SimpleAtoi(r.elements[i + 1].str, &ms);
      due.emplace_back(ms, r.elements[i].str);
    }
  }
  std::sort(due.begin(), due.end());
  std::vector<std::string> out;
  for (auto& [ms, oid] : due) {
    if (static_cast<int>(out.size()) >= limit) break;
    out.push_back(std::move(oid));
  }
  return out;
}

}  // namespace gridloop::dispatch
