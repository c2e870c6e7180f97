#include "common/events/ledger.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/redis/redis_client.h"
#include "common/status/status_macros.h"

namespace gridloop::events {
namespace {

// Every name the ledger declares starts with "gridloop_ledger_" so that it cannot clash
// with the effect's own locals. Versions are formatted with %d: Lua's default number
// formatting switches to exponent notation above 1e14.
constexpr absl::string_view kPrologueHead = R"lua(-- gridloop events ledger, policy $POLICY
local gridloop_ledger_key = KEYS[1]
local gridloop_ledger_version = tonumber(ARGV[1])
if gridloop_ledger_version == nil or gridloop_ledger_version < 1
    or gridloop_ledger_version ~= math.floor(gridloop_ledger_version) then
  return redis.error_reply('ERR events ledger: ARGV[1] must be a version >= 1, got '
      .. tostring(ARGV[1]))
end
)lua";

constexpr absl::string_view kLatestWinsGuard = R"lua(local gridloop_ledger_latest =
    tonumber(redis.call('HGET', gridloop_ledger_key, 'latest') or '0')
if gridloop_ledger_version <= gridloop_ledger_latest then
  return redis.status_reply('$MARKER')
end
)lua";

constexpr absl::string_view kEachOnceGuard = R"lua(local gridloop_ledger_watermark =
    tonumber(redis.call('HGET', gridloop_ledger_key, 'watermark') or '0')
if gridloop_ledger_version <= gridloop_ledger_watermark
    or redis.call('HEXISTS', gridloop_ledger_key,
                  string.format('v%d', gridloop_ledger_version)) == 1 then
  return redis.status_reply('$MARKER')
end
)lua";

constexpr absl::string_view kOpenEffect = "local function gridloop_ledger_effect()\n";

constexpr absl::string_view kCloseEffect = R"lua(
end
local gridloop_ledger_result = gridloop_ledger_effect()
if type(gridloop_ledger_result) == 'table' and gridloop_ledger_result.err ~= nil then
  return gridloop_ledger_result
end
)lua";

constexpr absl::string_view kLatestWinsMark = R"lua(
redis.call('HSET', gridloop_ledger_key, 'latest', string.format('%d', gridloop_ledger_version))
return gridloop_ledger_result
)lua";

// Filling the gap just above the watermark lets it advance over every version already
// recorded above; their fields go, so the hash holds only what is still out of order.
constexpr absl::string_view kEachOnceMark = R"lua(
if gridloop_ledger_version == gridloop_ledger_watermark + 1 then
  local gridloop_ledger_top = gridloop_ledger_version
  while redis.call('HDEL', gridloop_ledger_key,
                   string.format('v%d', gridloop_ledger_top + 1)) == 1 do
    gridloop_ledger_top = gridloop_ledger_top + 1
  end
  redis.call('HSET', gridloop_ledger_key, 'watermark',
             string.format('%d', gridloop_ledger_top))
else
  redis.call('HSET', gridloop_ledger_key,
             string.format('v%d', gridloop_ledger_version), '1')
end
return gridloop_ledger_result
)lua";

bool HasBrace(absl::string_view s) {
  return absl::StrContains(s, '{') || absl::StrContains(s, '}');
}

}  // namespace

absl::string_view PolicyName(Policy policy) {
  switch (policy) {
    case Policy::kLatestWins:
      return "latest_wins";
    case Policy::kEachOnce:
      return "each_once";
  }
  return "unknown";
}

absl::Status ValidateEvent(absl::string_view incident_id, int64_t version) {
  if (incident_id.empty()) return absl::InvalidArgumentError("incident_id is empty");
  if (HasBrace(incident_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("incident_id \"", incident_id, "\" contains '{' or '}'"));
  }
  if (version < 1 || version > kMaxVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("version ", version, " is outside [1, 2^53] (incident ", incident_id, ")"));
  }
  return absl::OkStatus();
}

Ledger::Ledger(std::string prefix, Policy policy) : prefix_(std::move(prefix)), policy_(policy) {}

std::string Ledger::Key(absl::string_view incident_id) const {
  return absl::StrCat(prefix_, ":{", incident_id, "}:applied");
}

std::string Ledger::LuaPrologue() const {
  const absl::string_view guard =
      policy_ == Policy::kLatestWins ? kLatestWinsGuard : kEachOnceGuard;
  return absl::StrReplaceAll(absl::StrCat(kPrologueHead, guard, kOpenEffect),
                             {{"$POLICY", PolicyName(policy_)}, {"$MARKER", kDuplicateMarker}});
}

std::string Ledger::LuaEpilogue() const {
  return absl::StrCat(kCloseEffect,
                      policy_ == Policy::kLatestWins ? kLatestWinsMark : kEachOnceMark);
}

std::string Ledger::GuardedSource(absl::string_view effect_source) const {
  // Redis reads script flags only from the very first line.
  absl::string_view shebang;
  if (absl::StartsWith(effect_source, "#!")) {
    const size_t end = effect_source.find('\n');
    shebang =
        effect_source.substr(0, end == absl::string_view::npos ? effect_source.size() : end + 1);
    effect_source.remove_prefix(shebang.size());
  }
  return absl::StrCat(shebang, shebang.empty() || absl::EndsWith(shebang, "\n") ? "" : "\n",
                      LuaPrologue(), effect_source, LuaEpilogue());
}

const redis::Script& Ledger::Guard(const redis::Script& effect) const {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<redis::Script>& guarded = guarded_[effect.sha()];
  if (guarded == nullptr) {
    guarded = std::make_unique<redis::Script>(GuardedSource(effect.source()));
  }
  return *guarded;
}

absl::StatusOr<bool> ApplyOnce(redis::Client& client, const Ledger& ledger,
                               absl::string_view incident_id, int64_t version,
                               const redis::Script& effect, std::vector<std::string> keys,
                               std::vector<std::string> args) {
  if (ledger.prefix().empty() || HasBrace(ledger.prefix())) {
    return absl::InvalidArgumentError(
        absl::StrCat("ledger prefix \"", ledger.prefix(), "\" is empty or contains '{' or '}'"));
  }
  RETURN_IF_ERROR(ValidateEvent(incident_id, version));
  keys.insert(keys.begin(), ledger.Key(incident_id));
  args.insert(args.begin(), absl::StrCat(version));
  ASSIGN_OR_RETURN(redis::Reply reply,
                   client.Eval(ledger.Guard(effect), std::move(keys), std::move(args)));
  return !(reply.type == redis::Reply::Type::kStatus && reply.str == kDuplicateMarker);
}

}  // namespace gridloop::events
