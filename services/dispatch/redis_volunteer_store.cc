#include "services/dispatch/redis_volunteer_store.h"

// Keys. Every key starts "dsp:{vol}:" (one hash tag, one Cluster slot). Records are the
// API's protobuf messages; beside them sit the few fields the scripts must read, since Lua
// does not parse protobuf.
//
// | key                           | type   | content                                            |
// |-------------------------------|--------|----------------------------------------------------|
// | v:<id>                        | hash   | d Volunteer bytes (without totals), v version,      |
// |                               |        | a "1" active / "0"                                  |
// | resident:<resident id>        | string | the id of the resident's active volunteer           |
// | byregion                      | zset   | "<region code>.\|<id>" at score 0, every volunteer  |
// | changes                       | stream | id = a volunteer that changed; ~100000 entries      |
// | a:<id>                        | hash   | d Activity bytes (counters at 0), cap, starts and   |
// |                               |        | ends (ms), cancelled, confirmed, waitlisted, seq    |
// | a:<id>:p                      | hash   | volunteer id -> Participation bytes without status  |
// |                               |        | and waitlist position                               |
// | a:<id>:s                      | hash   | volunteer id -> SignUpStatus number                 |
// | a:<id>:wait                   | zset   | waitlisted volunteer ids by sign-up sequence        |
// | activities                    | zset   | "<starts_at>\|<id>\|<region code>" at score 0;      |
// |                               |        | starts_at in ms as 16 hex digits, sign bit flipped  |
// | totals:<volunteer id>         | hash   | hours_ms, points, completed, declined, expired,     |
// |                               |        | satisfaction_milli, rated (all integers)            |
// | ledger:<volunteer id>         | hash   | entry id -> CreditEntry bytes (also the dedupe)     |
// | ledger:<volunteer id>:at      | zset   | entry ids by entry time (ms)                        |
// | outcomes:<volunteer id>       | set    | offer ids counted as declined or expired            |
// | board:<region>:<period>       | zset   | volunteer ids by points credited there and then     |
// | boardh:<region>:<period>      | hash   | volunteer id -> hours (ms) credited there and then  |
// | load:<assignee key>           | set    | incident ids in hand                                |
// | recent:<assignee key>         | zset   | incident ids by assigned at (ms)                    |
// | offers:<volunteer id>         | zset   | offer ids by offered at (ms)                        |
// | req:<request id>              | string | "<fingerprint>\n<first result bytes>", 48 hours     |
// | outbox                        | stream | k volunteer id, v DispatchEvent bytes               |
//
// Hours are kept as integer milliseconds so that totals add up exactly; a credit's hours
// are rounded to the millisecond.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/clock/proto_time.h"
#include "common/identity/identity.h"
#include "common/status/status_macros.h"
#include "lua/activity_cancel.lua.h"
#include "lua/activity_check_in.lua.h"
#include "lua/activity_check_out.lua.h"
#include "lua/activity_common.lua.h"
#include "lua/activity_create.lua.h"
#include "lua/activity_sign_up.lua.h"
#include "lua/ledger_apply.lua.h"
#include "lua/ledger_credit.lua.h"
#include "lua/ledger_offer_outcome.lua.h"
#include "lua/ledger_record.lua.h"
#include "lua/volunteer_common.lua.h"
#include "lua/volunteer_deactivate.lua.h"
#include "lua/volunteer_offers.lua.h"
#include "lua/volunteer_register.lua.h"
#include "lua/volunteer_update.lua.h"
#include "services/dispatch/ledger.h"

namespace gridloop::dispatch {
namespace {

using redis::Reply;

constexpr absl::string_view kPrefix = "dsp:{vol}:";
constexpr absl::Duration kRequestRetention = absl::Hours(48);
// Attempts of a change computed from a read when the record changed in between.
constexpr int kAttempts = 8;
// Index entries one List or ListActivities call looks at, so a rare filter costs a bounded
// amount of Redis time.
constexpr int kScanCap = 5000;
constexpr int kForEachBatch = 2000;
constexpr int kDefaultPageSize = 50;
// Pages are read by Lua scripts that unpack a page onto the Lua stack.
constexpr int kMaxPageSize = 1000;
constexpr double kMsPerHour = 3'600'000.0;

// ---- Keys

std::string Key(absl::string_view a, absl::string_view b = "", absl::string_view c = "") {
  return absl::StrCat(kPrefix, a, b, c);
}
std::string VolunteerKey(absl::string_view id) { return Key("v:", id); }
std::string ResidentKey(absl::string_view resident_id) { return Key("resident:", resident_id); }
std::string RegionIndexKey() { return Key("byregion"); }
std::string ActivityKey(absl::string_view id) { return Key("a:", id); }
std::string ParticipationsKey(absl::string_view id) { return Key("a:", id, ":p"); }
std::string StatusesKey(absl::string_view id) { return Key("a:", id, ":s"); }
std::string WaitlistKey(absl::string_view id) { return Key("a:", id, ":wait"); }
std::string ActivityIndexKey() { return Key("activities"); }
std::string TotalsKey(absl::string_view vid) { return Key("totals:", vid); }
std::string EntriesKey(absl::string_view vid) { return Key("ledger:", vid); }
std::string EntryTimesKey(absl::string_view vid) { return Key("ledger:", vid, ":at"); }
std::string OutcomesKey(absl::string_view vid) { return Key("outcomes:", vid); }
std::string BoardKey(absl::string_view region, absl::string_view period) {
  return Key("board:", absl::StrCat(region, ":", period));
}
std::string BoardHoursKey(absl::string_view region, absl::string_view period) {
  return Key("boardh:", absl::StrCat(region, ":", period));
}
std::string LoadKey(absl::string_view assignee) { return Key("load:", assignee); }
std::string RecentKey(absl::string_view assignee) { return Key("recent:", assignee); }
std::string OffersKey(absl::string_view vid) { return Key("offers:", vid); }
std::string RequestRecordKey(absl::string_view request_id) { return Key("req:", request_id); }

std::string RegionMember(absl::string_view region_code, absl::string_view id) {
  return absl::StrCat(region_code, ".|", id);
}

// Milliseconds as text that sorts like the number (negative times included).
std::string SortableMillis(int64_t ms) {
  return absl::StrFormat("%016x", static_cast<uint64_t>(ms) ^ (uint64_t{1} << 63));
}

std::string ActivityMember(const v1::Activity& a) {
  return absl::StrCat(SortableMillis(ToUnixMillis(a.starts_at())), "|", a.id(), "|",
                      a.region_code());
}

int PageSize(int requested) {
  return requested <= 0 ? kDefaultPageSize : std::min(requested, kMaxPageSize);
}

// ---- Scripts

redis::Script Compose(std::initializer_list<absl::string_view> parts) {
  return redis::Script(absl::StrJoin(parts, "\n"));
}

// Each script is the shared parts it uses in front of its own text.
struct Scripts {
  const redis::Script register_volunteer =
      Compose({kDispatchVolunteerCommonLua, kDispatchVolunteerRegisterLua});
  const redis::Script update_volunteer =
      Compose({kDispatchVolunteerCommonLua, kDispatchVolunteerUpdateLua});
  const redis::Script deactivate_volunteer =
      Compose({kDispatchVolunteerCommonLua, kDispatchVolunteerDeactivateLua});
  const redis::Script create_activity =
      Compose({kDispatchVolunteerCommonLua, kDispatchActivityCreateLua});
  const redis::Script sign_up = Compose(
      {kDispatchVolunteerCommonLua, kDispatchActivityCommonLua, kDispatchActivitySignUpLua});
  const redis::Script cancel_sign_up = Compose(
      {kDispatchVolunteerCommonLua, kDispatchActivityCommonLua, kDispatchActivityCancelLua});
  const redis::Script check_in = Compose(
      {kDispatchVolunteerCommonLua, kDispatchActivityCommonLua, kDispatchActivityCheckInLua});
  const redis::Script check_out = Compose({kDispatchVolunteerCommonLua, kDispatchActivityCommonLua,
                                           kDispatchLedgerApplyLua, kDispatchActivityCheckOutLua});
  const redis::Script credit = Compose({kDispatchLedgerApplyLua, kDispatchLedgerCreditLua});
  const redis::Script offer_outcome = Compose({kDispatchLedgerOfferOutcomeLua});
  const redis::Script service_record = Compose({kDispatchLedgerRecordLua});
  const redis::Script offers = Compose({kDispatchVolunteerOffersLua});
};

const Scripts& Lua() {
  static const Scripts* const scripts = new Scripts();
  return *scripts;
}

// ---- Replies

absl::Status Corrupt(absl::string_view what) {
  return absl::InternalError(absl::StrCat("dispatch: stored ", what, " is unreadable"));
}

template <typename M>
absl::StatusOr<M> Parse(absl::string_view bytes, absl::string_view what) {
  M m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return Corrupt(what);
  return m;
}

// A script's outcome: the first element of its reply.
const std::string& Outcome(const Reply& r) {
  static const std::string* const none = new std::string();
  return r.elements.empty() ? *none : r.elements[0].str;
}

absl::Status Unexpected(absl::string_view script, const Reply& r) {
  return absl::InternalError(
      absl::StrCat("dispatch: unexpected reply from ", script, ": ", r.DebugString()));
}

absl::Status CheckReplies(const std::vector<Reply>& replies) {
  for (const Reply& r : replies) {
    if (r.is_error()) return redis::StatusFromErrorReply(r.str);
  }
  return absl::OkStatus();
}

// The script's arguments that describe the request record (see volunteer_common.lua).
std::vector<std::string> RequestArgs(const RequestKey& rk) {
  return {rk.id.empty() ? "0" : "1", rk.fingerprint,
          absl::StrCat(absl::ToInt64Seconds(kRequestRetention))};
}

// The first result of a repeated request ({"dup", fingerprint, result}), or
// InvalidArgument when the request id came with other parameters.
absl::StatusOr<std::string> FirstResult(const Reply& r, const RequestKey& rk) {
  if (r.elements.size() != 3) return Corrupt("request record");
  if (r.elements[1].str != rk.fingerprint) {
    return absl::InvalidArgumentError(
        absl::StrCat("request_id: ", rk.id, " was already used for a different request"));
  }
  return r.elements[2].str;
}

// Totals from an HGETALL of the totals hash.
absl::StatusOr<v1::ServiceTotals> TotalsFrom(const Reply& flat) {
  std::map<std::string, int64_t> f;
  for (size_t i = 0; i + 1 < flat.elements.size(); i += 2) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(flat.elements[i + 1].str, &n)) return Corrupt("totals");
    f[flat.elements[i].str] = n;
  }
  auto field = [&f](absl::string_view name) -> int64_t {
    auto it = f.find(std::string(name));
    return it == f.end() ? 0 : it->second;
  };
  v1::ServiceTotals t;
  t.set_hours(static_cast<double>(field("hours_ms")) / kMsPerHour);
  t.set_points(field("points"));
  t.set_completed_tasks(static_cast<int32_t>(field("completed")));
  t.set_declined_tasks(static_cast<int32_t>(field("declined")));
  t.set_expired_offers(static_cast<int32_t>(field("expired")));
  const int64_t rated = field("rated");
  t.set_rated_tasks(static_cast<int32_t>(rated));
  if (rated > 0) {
    t.set_average_satisfaction(static_cast<double>(field("satisfaction_milli")) / 1000.0 /
                               static_cast<double>(rated));
  }
  return t;
}

// A volunteer record with totals from ({"ok", record, totals}).
absl::StatusOr<v1::Volunteer> VolunteerWithTotals(const Reply& r) {
  if (r.elements.size() != 3) return Corrupt("volunteer reply");
  ASSIGN_OR_RETURN(v1::Volunteer v, Parse<v1::Volunteer>(r.elements[1].str, "volunteer"));
  ASSIGN_OR_RETURN(*v.mutable_totals(), TotalsFrom(r.elements[2]));
  return v;
}

absl::Status NoVolunteer(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("volunteer ", id, " not found"));
}
absl::Status NoActivity(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("activity ", id, " not found"));
}
absl::Status ResidentTaken(absl::string_view resident_id, const Reply& r) {
  return absl::AlreadyExistsError(absl::StrCat("resident_id: resident ", resident_id,
                                               " is already volunteer ",
                                               r.elements.size() > 1 ? r.elements[1].str : "?"));
}
absl::Status KeptChanging(absl::string_view what) {
  return absl::AbortedError(absl::StrCat(what, " kept changing while being written; try again"));
}

absl::StatusOr<std::string> DecodeToken(absl::string_view token) {
  std::string out;
  if (!absl::WebSafeBase64Unescape(token, &out) || out.empty()) {
    return absl::InvalidArgumentError("page_token: not a token this listing issued");
  }
  return out;
}

std::string EncodeToken(absl::string_view position) { return absl::WebSafeBase64Escape(position); }

// A stream entry id "<ms>-<seq>".
using StreamId = std::pair<uint64_t, uint64_t>;

std::optional<StreamId> ParseStreamId(absl::string_view s) {
  std::vector<absl::string_view> parts = absl::StrSplit(s, '-');
  StreamId id;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &id.first) ||
      !absl::SimpleAtoi(parts[1], &id.second)) {
    return std::nullopt;
  }
  return id;
}

// The volunteer a repeated request returned the first time, with the current totals.
absl::StatusOr<v1::Volunteer> EarlierVolunteer(redis::Client* redis, const Reply& r,
                                               const RequestKey& rk) {
  ASSIGN_OR_RETURN(std::string first, FirstResult(r, rk));
  ASSIGN_OR_RETURN(v1::Volunteer earlier, Parse<v1::Volunteer>(first, "volunteer"));
  ASSIGN_OR_RETURN(Reply totals, redis->Command({"HGETALL", TotalsKey(earlier.id())}));
  ASSIGN_OR_RETURN(*earlier.mutable_totals(), TotalsFrom(totals));
  return earlier;
}

// The records (nil where gone) of the volunteers behind region index members.
absl::StatusOr<std::vector<Reply>> VolunteerRecords(redis::Client* redis,
                                                    const std::vector<Reply>& members) {
  std::vector<Reply> records;
  if (members.empty()) return records;
  std::vector<std::vector<std::string>> commands;
  commands.reserve(members.size());
  for (const Reply& m : members) {
    commands.push_back({"HGET", VolunteerKey(m.str.substr(m.str.rfind('|') + 1)), "d"});
  }
  ASSIGN_OR_RETURN(records, redis->Pipeline(std::move(commands)));
  RETURN_IF_ERROR(CheckReplies(records));
  return records;
}

std::vector<std::string> ReadActivityCommand(absl::string_view id) {
  return {"HMGET", ActivityKey(id), "d", "confirmed", "waitlisted"};
}

// An activity with its counters, from the reply to ReadActivityCommand of one that exists.
absl::StatusOr<v1::Activity> ActivityFrom(const Reply& r) {
  ASSIGN_OR_RETURN(v1::Activity a, Parse<v1::Activity>(r.elements[0].str, "activity"));
  int32_t confirmed = 0;
  int32_t waitlisted = 0;
  if (!absl::SimpleAtoi(r.elements[1].str, &confirmed) ||
      !absl::SimpleAtoi(r.elements[2].str, &waitlisted)) {
    return Corrupt("activity counters");
  }
  a.set_confirmed(confirmed);
  a.set_waitlisted(waitlisted);
  return a;
}

// ---- Paged index scans

// A page of an index: the members kept with their values, in index order, and the token
// of the next page ("" after the last).
template <typename T>
struct IndexPage {
  std::vector<std::pair<std::string, T>> kept;
  std::string next_token;
};

// For each member of a batch looked at, in order: the value to keep, or nullopt.
template <typename T>
using Decisions = std::vector<std::optional<T>>;

// Decides about a batch of index members. It stops looking once `wanted` are kept, so it
// may answer for the first few members only.
template <typename T>
using BatchFilter =
    std::function<absl::StatusOr<Decisions<T>>(const std::vector<Reply>& members, int wanted)>;

// Walks the index `key` (a zset whose members all score 0) by ZRANGEBYLEX from `lo`, or
// from just after the member in `page_token` when `token_fits` accepts it, to `hi`. Reads
// batches until a page of `page_size` is kept, and one more to tell whether there are
// more; looks at kScanCap members at most, so a rare filter may end a page short.
template <typename T>
absl::StatusOr<IndexPage<T>> ScanIndex(redis::Client* redis, const std::string& key, std::string lo,
                                       const std::string& hi, absl::string_view page_token,
                                       const std::function<bool(absl::string_view)>& token_fits,
                                       int page_size, const BatchFilter<T>& filter) {
  const int size = PageSize(page_size);
  if (!page_token.empty()) {
    ASSIGN_OR_RETURN(std::string after, DecodeToken(page_token));
    if (!token_fits(after)) {
      return absl::InvalidArgumentError("page_token: belongs to another listing");
    }
    lo = absl::StrCat("(", after);
  }
  const int batch = std::clamp(2 * (size + 1), 64, 1000);

  IndexPage<T> page;
  std::string last_scanned;
  int scanned = 0;
  bool exhausted = false;
  while (static_cast<int>(page.kept.size()) <= size) {
    ASSIGN_OR_RETURN(Reply range, redis->Command({"ZRANGEBYLEX", key, lo, hi, "LIMIT", "0",
                                                  absl::StrCat(batch)}));
    ASSIGN_OR_RETURN(Decisions<T> decided,
                     filter(range.elements, size + 1 - static_cast<int>(page.kept.size())));
    for (size_t i = 0; i < decided.size() && i < range.elements.size(); ++i) {
      last_scanned = range.elements[i].str;
      ++scanned;
      if (decided[i].has_value()) page.kept.emplace_back(last_scanned, std::move(*decided[i]));
    }
    if (static_cast<int>(range.elements.size()) < batch) {
      exhausted = true;
      break;
    }
    if (scanned >= kScanCap) break;
    lo = absl::StrCat("(", last_scanned);
  }

  if (static_cast<int>(page.kept.size()) > size) {
    page.kept.resize(size);
    page.next_token = EncodeToken(page.kept.back().first);
  } else if (!exhausted) {
    page.next_token = EncodeToken(last_scanned);  // cut short by the scan cap
  }
  return page;
}

// ---- The ledger

// The ledger part of a crediting script's keys and arguments (see ledger_apply.lua).
struct LedgerCall {
  std::vector<std::string> keys;
  std::vector<std::string> args;
};

LedgerCall Ledger(absl::string_view volunteer_id, absl::string_view region_code,
                  const v1::CreditEntry& entry) {
  const absl::Time at = FromTimestamp(entry.at());
  v1::DispatchEvent event;
  event.set_event_id(absl::StrCat("credit:", volunteer_id, ":", entry.id()));
  event.set_type(v1::DISPATCH_EVENT_TYPE_HOURS_CREDITED);
  *event.mutable_occurred_at() = entry.at();
  event.set_volunteer_id(std::string(volunteer_id));
  if (entry.source() == v1::CREDIT_SOURCE_INCIDENT) event.set_incident_id(entry.reference());
  *event.mutable_credit() = entry;
  event.set_region_code(std::string(region_code));

  LedgerCall call;
  call.keys = {EntriesKey(volunteer_id), EntryTimesKey(volunteer_id), TotalsKey(volunteer_id),
               RedisVolunteerStore::kOutboxStream};
  const std::vector<std::string> periods = PeriodKeysAt(at);
  int boards = 0;
  for (const std::string& region : RegionAndAncestors(region_code)) {
    for (const std::string& period : periods) {
      call.keys.push_back(BoardKey(region, period));
      call.keys.push_back(BoardHoursKey(region, period));
      ++boards;
    }
  }
  call.args = {entry.id(),
               entry.SerializeAsString(),
               absl::StrCat(absl::ToUnixMillis(at)),
               absl::StrCat(HoursToMillis(entry.hours())),
               absl::StrCat(entry.points()),
               entry.source() == v1::CREDIT_SOURCE_INCIDENT ? "1" : "0",
               absl::StrCat(SatisfactionMilli(entry.satisfaction())),
               std::string(volunteer_id),
               event.SerializeAsString(),
               absl::StrCat(boards)};
  return call;
}

// ---- Sign-ups

// The first six keys of every sign-up script (see activity_common.lua).
std::vector<std::string> SignUpKeys(const RequestKey& rk, absl::string_view activity_id,
                                    absl::string_view volunteer_id) {
  return {RequestRecordKey(rk.id),  ActivityKey(activity_id), ParticipationsKey(activity_id),
          StatusesKey(activity_id), WaitlistKey(activity_id), VolunteerKey(volunteer_id)};
}

// What a sign-up script's outcome means. `expected` names the state the change needs,
// for the message when the sign-up is in another.
absl::StatusOr<v1::SignUpResponse> SignUpOutcome(const Reply& r, const RequestKey& rk,
                                                 absl::string_view activity_id,
                                                 absl::string_view volunteer_id,
                                                 absl::string_view expected) {
  const std::string& outcome = Outcome(r);
  if (outcome == "ok" && r.elements.size() >= 2) {
    return Parse<v1::SignUpResponse>(r.elements[1].str, "sign-up");
  }
  if (outcome == "dup") {
    ASSIGN_OR_RETURN(std::string first, FirstResult(r, rk));
    return Parse<v1::SignUpResponse>(first, "sign-up");
  }
  if (outcome == "no_activity") return NoActivity(activity_id);
  if (outcome == "no_volunteer") return NoVolunteer(volunteer_id);
  if (outcome == "not_signed_up") {
    return absl::NotFoundError(
        absl::StrCat("volunteer ", volunteer_id, " has not signed up for activity ", activity_id));
  }
  if (outcome == "refused" && r.elements.size() >= 2) {
    const std::string& reason = r.elements[1].str;
    if (reason == "activity_cancelled") {
      return absl::FailedPreconditionError(absl::StrCat("activity ", activity_id, " is cancelled"));
    }
    if (reason == "activity_ended") {
      return absl::FailedPreconditionError(absl::StrCat("activity ", activity_id, " has ended"));
    }
    if (reason == "volunteer_inactive") {
      return absl::FailedPreconditionError(
          absl::StrCat("volunteer ", volunteer_id, " is deactivated"));
    }
    if (reason == "too_early") {
      return absl::FailedPreconditionError(
          absl::StrCat("check-in for activity ", activity_id, " opens an hour before it starts"));
    }
    if (reason == "status" && r.elements.size() >= 3) {
      return absl::FailedPreconditionError(absl::StrCat("volunteer ", volunteer_id, " is ",
                                                        r.elements[2].str, " for activity ",
                                                        activity_id, "; ", expected));
    }
  }
  return Unexpected("a sign-up script", r);
}

// Runs a sign-up script on SignUpKeys with the request's arguments, the volunteer id and
// `more`, and reads its outcome.
absl::StatusOr<v1::SignUpResponse> RunSignUpScript(
    redis::Client* redis, const redis::Script& script, const RequestKey& rk,
    absl::string_view activity_id, absl::string_view volunteer_id,
    std::initializer_list<std::string> more, absl::string_view expected) {
  std::vector<std::string> args = RequestArgs(rk);
  args.emplace_back(volunteer_id);
  args.insert(args.end(), more);
  ASSIGN_OR_RETURN(Reply r,
                   redis->Eval(script, SignUpKeys(rk, activity_id, volunteer_id), std::move(args)));
  return SignUpOutcome(r, rk, activity_id, volunteer_id, expected);
}

}  // namespace

RedisVolunteerStore::RedisVolunteerStore(redis::Client* redis, OnOutboxWrite on_outbox_write)
    : redis_(redis), on_outbox_write_(std::move(on_outbox_write)) {}

void RedisVolunteerStore::Notify() const {
  if (on_outbox_write_) on_outbox_write_(kOutboxStream);
}

// ---- Volunteers

absl::StatusOr<RedisVolunteerStore::Stored> RedisVolunteerStore::Read(absl::string_view id) {
  ASSIGN_OR_RETURN(Reply r, redis_->Command({"HMGET", VolunteerKey(id), "d", "v"}));
  if (r.elements.size() != 2) return Unexpected("HMGET", r);
  if (r.elements[0].is_nil()) return NoVolunteer(id);
  Stored s;
  ASSIGN_OR_RETURN(s.volunteer, Parse<v1::Volunteer>(r.elements[0].str, "volunteer"));
  s.version = r.elements[1].str;
  return s;
}

absl::StatusOr<v1::Volunteer> RedisVolunteerStore::Register(const RequestKey& rk, v1::Volunteer v,
                                                            absl::Time now) {
  v.set_version(1);
  v.set_active(true);
  v.clear_deactivated_reason();
  *v.mutable_registered_at() = ToTimestamp(now);
  *v.mutable_updated_at() = ToTimestamp(now);
  v.clear_totals();
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    v.set_id(NewId("v"));
    std::string bytes = v.SerializeAsString();
    std::vector<std::string> args = RequestArgs(rk);
    args.insert(args.end(), {v.id(), bytes, v.resident_id().empty() ? "0" : "1",
                             RegionMember(v.region_code(), v.id())});
    ASSIGN_OR_RETURN(Reply r,
                     redis_->Eval(Lua().register_volunteer,
                                  {RequestRecordKey(rk.id), VolunteerKey(v.id()),
                                   ResidentKey(v.resident_id()), RegionIndexKey(), kChangeLog},
                                  std::move(args)));
    const std::string& outcome = Outcome(r);
    if (outcome == "ok") {
      v.mutable_totals();
      return v;
    }
    if (outcome == "dup") return EarlierVolunteer(redis_, r, rk);
    if (outcome == "resident_taken") return ResidentTaken(v.resident_id(), r);
    if (outcome != "id_taken") return Unexpected("volunteer_register.lua", r);
  }
  return absl::InternalError("dispatch: no free volunteer id");
}

absl::StatusOr<v1::Volunteer> RedisVolunteerStore::Get(absl::string_view id) {
  ASSIGN_OR_RETURN(std::vector<v1::Volunteer> found, GetMany({std::string(id)}));
  if (found.empty() || found[0].id().empty()) return NoVolunteer(id);
  return std::move(found[0]);
}

absl::StatusOr<std::vector<v1::Volunteer>> RedisVolunteerStore::GetMany(
    const std::vector<std::string>& ids) {
  std::vector<v1::Volunteer> out;
  if (ids.empty()) return out;
  std::vector<std::vector<std::string>> commands;
  commands.reserve(ids.size() * 2);
  for (const std::string& id : ids) {
    commands.push_back({"HGET", VolunteerKey(id), "d"});
    commands.push_back({"HGETALL", TotalsKey(id)});
  }
  ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(std::move(commands)));
  RETURN_IF_ERROR(CheckReplies(replies));
  out.resize(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (replies[2 * i].is_nil()) continue;
    ASSIGN_OR_RETURN(out[i], Parse<v1::Volunteer>(replies[2 * i].str, "volunteer"));
    ASSIGN_OR_RETURN(*out[i].mutable_totals(), TotalsFrom(replies[2 * i + 1]));
  }
  return out;
}

absl::StatusOr<v1::Volunteer> RedisVolunteerStore::Update(const RequestKey& rk,
                                                          const v1::Volunteer& v,
                                                          int64_t expected_version,
                                                          absl::Time now) {
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    ASSIGN_OR_RETURN(Stored cur, Read(v.id()));
    const v1::Volunteer& old = cur.volunteer;
    v1::Volunteer next = old;
    next.set_name(v.name());
    next.set_resident_id(v.resident_id());
    next.set_region_code(v.region_code());
    if (v.has_location()) {
      *next.mutable_location() = v.location();
    } else {
      next.clear_location();
    }
    *next.mutable_skills() = v.skills();
    *next.mutable_availability() = v.availability();
    next.set_party_member(v.party_member());
    next.set_service_unit(v.service_unit());
    next.set_max_concurrent_tasks(v.max_concurrent_tasks());
    next.set_phone(v.phone());
    next.set_version(old.version() + 1);
    *next.mutable_updated_at() = ToTimestamp(now);

    std::vector<std::string> args = RequestArgs(rk);
    args.insert(args.end(),
                {v.id(), absl::StrCat(expected_version), cur.version, next.SerializeAsString(),
                 RegionMember(old.region_code(), v.id()), RegionMember(next.region_code(), v.id()),
                 old.resident_id().empty() ? "0" : "1", next.resident_id().empty() ? "0" : "1"});
    ASSIGN_OR_RETURN(Reply r,
                     redis_->Eval(Lua().update_volunteer,
                                  {RequestRecordKey(rk.id), VolunteerKey(v.id()),
                                   ResidentKey(old.resident_id()), ResidentKey(next.resident_id()),
                                   RegionIndexKey(), kChangeLog, TotalsKey(v.id())},
                                  std::move(args)));
    const std::string& outcome = Outcome(r);
    if (outcome == "ok") return VolunteerWithTotals(r);
    if (outcome == "dup") return EarlierVolunteer(redis_, r, rk);
    if (outcome == "missing") return NoVolunteer(v.id());
    if (outcome == "inactive") {
      return absl::FailedPreconditionError(absl::StrCat("volunteer ", v.id(), " is deactivated"));
    }
    if (outcome == "stale") {
      return absl::AbortedError(absl::StrCat("volunteer ", v.id(), " is at version ",
                                             r.elements.size() > 1 ? r.elements[1].str : "?",
                                             ", not ", expected_version));
    }
    if (outcome == "resident_taken") return ResidentTaken(next.resident_id(), r);
    if (outcome != "retry") return Unexpected("volunteer_update.lua", r);
  }
  return KeptChanging(absl::StrCat("volunteer ", v.id()));
}

absl::StatusOr<v1::Volunteer> RedisVolunteerStore::Deactivate(const RequestKey& rk,
                                                              absl::string_view id,
                                                              absl::string_view reason,
                                                              absl::Time now) {
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    ASSIGN_OR_RETURN(Stored cur, Read(id));
    v1::Volunteer next = cur.volunteer;
    next.set_active(false);
    next.set_deactivated_reason(std::string(reason));
    next.set_version(cur.volunteer.version() + 1);
    *next.mutable_updated_at() = ToTimestamp(now);

    std::vector<std::string> args = RequestArgs(rk);
    args.insert(args.end(), {std::string(id), cur.version, next.SerializeAsString(),
                             cur.volunteer.resident_id().empty() ? "0" : "1"});
    ASSIGN_OR_RETURN(
        Reply r, redis_->Eval(Lua().deactivate_volunteer,
                              {RequestRecordKey(rk.id), VolunteerKey(id),
                               ResidentKey(cur.volunteer.resident_id()), kChangeLog, TotalsKey(id)},
                              std::move(args)));
    const std::string& outcome = Outcome(r);
    if (outcome == "ok") return VolunteerWithTotals(r);
    if (outcome == "dup") return EarlierVolunteer(redis_, r, rk);
    if (outcome == "missing") return NoVolunteer(id);
    if (outcome != "retry") return Unexpected("volunteer_deactivate.lua", r);
  }
  return KeptChanging(absl::StrCat("volunteer ", id));
}

absl::StatusOr<std::pair<std::vector<v1::Volunteer>, std::string>> RedisVolunteerStore::List(
    const VolunteerFilter& filter, int page_size, absl::string_view page_token) {
  const std::string& prefix = filter.region_prefix;
  auto in_prefix = [&prefix](absl::string_view after) {
    return prefix.empty() || absl::StartsWith(after, absl::StrCat(prefix, "."));
  };
  auto matching = [this, &filter](const std::vector<Reply>& members,
                                  int wanted) -> absl::StatusOr<Decisions<v1::Volunteer>> {
    ASSIGN_OR_RETURN(std::vector<Reply> records, VolunteerRecords(redis_, members));
    Decisions<v1::Volunteer> decided;
    for (size_t i = 0; i < records.size() && wanted > 0; ++i) {
      decided.emplace_back();
      if (records[i].is_nil()) continue;
      ASSIGN_OR_RETURN(v1::Volunteer v, Parse<v1::Volunteer>(records[i].str, "volunteer"));
      if (!filter.include_inactive && !v.active()) continue;
      if (!filter.skill.empty() &&
          std::find(v.skills().begin(), v.skills().end(), filter.skill) == v.skills().end()) {
        continue;
      }
      decided.back() = std::move(v);
      --wanted;
    }
    return decided;
  };
  ASSIGN_OR_RETURN(
      IndexPage<v1::Volunteer> page,
      ScanIndex<v1::Volunteer>(redis_, RegionIndexKey(),
                               prefix.empty() ? "-" : absl::StrCat("[", prefix, "."),
                               prefix.empty() ? "+" : absl::StrCat("[", prefix, ".\xff"),
                               page_token, in_prefix, page_size, matching));

  std::vector<v1::Volunteer> out;
  out.reserve(page.kept.size());
  if (!page.kept.empty()) {
    std::vector<std::vector<std::string>> commands;
    commands.reserve(page.kept.size());
    for (const auto& [member, v] : page.kept) commands.push_back({"HGETALL", TotalsKey(v.id())});
    ASSIGN_OR_RETURN(std::vector<Reply> totals, redis_->Pipeline(std::move(commands)));
    RETURN_IF_ERROR(CheckReplies(totals));
    for (size_t i = 0; i < page.kept.size(); ++i) {
      ASSIGN_OR_RETURN(*page.kept[i].second.mutable_totals(), TotalsFrom(totals[i]));
      out.push_back(std::move(page.kept[i].second));
    }
  }
  return std::make_pair(std::move(out), std::move(page.next_token));
}

absl::Status RedisVolunteerStore::ForEach(const std::function<void(const v1::Volunteer&)>& fn) {
  std::string lo = "-";
  while (true) {
    ASSIGN_OR_RETURN(Reply range, redis_->Command({"ZRANGEBYLEX", RegionIndexKey(), lo, "+",
                                                   "LIMIT", "0", absl::StrCat(kForEachBatch)}));
    if (range.elements.empty()) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::vector<Reply> records, VolunteerRecords(redis_, range.elements));
    for (const Reply& record : records) {
      if (record.is_nil()) continue;
      ASSIGN_OR_RETURN(v1::Volunteer v, Parse<v1::Volunteer>(record.str, "volunteer"));
      fn(v);
    }
    if (static_cast<int>(range.elements.size()) < kForEachBatch) return absl::OkStatus();
    lo = absl::StrCat("(", range.elements.back().str);
  }
}

absl::StatusOr<VolunteerChanges> RedisVolunteerStore::ChangesSince(absl::string_view cursor,
                                                                   int max) {
  std::optional<StreamId> from;
  if (!cursor.empty()) {
    from = ParseStreamId(cursor);
    if (!from.has_value()) {
      return absl::InvalidArgumentError("cursor: not a position in the change log");
    }
  }
  const int count = max > 0 ? max : 1000;
  // One transaction, so the log's bounds and the entries read agree.
  std::vector<std::vector<std::string>> commands = {
      {"MULTI"}, {"EXISTS", kChangeLog}, {"XINFO", "STREAM", kChangeLog}};
  if (from.has_value()) {
    commands.push_back(
        {"XRANGE", kChangeLog, absl::StrCat("(", cursor), "+", "COUNT", absl::StrCat(count)});
  }
  commands.push_back({"EXEC"});
  ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(std::move(commands)));
  const Reply& exec = replies.back();
  if (exec.is_error()) return redis::StatusFromErrorReply(exec.str);
  if (exec.elements.size() != (from.has_value() ? 3u : 2u)) return Unexpected("EXEC", exec);

  // What the log holds and has dropped. Trimming drops the oldest entries; XDEL (which
  // nothing here uses) any, and is recorded as max-deleted-entry-id.
  std::string last = "0-0";
  std::string first = "0-0";
  std::string deleted = "0-0";
  int64_t length = 0;
  int64_t added = 0;
  if (exec.elements[0].integer == 1) {
    const Reply& info = exec.elements[1];
    if (info.is_error()) return redis::StatusFromErrorReply(info.str);
    for (size_t i = 0; i + 1 < info.elements.size(); i += 2) {
      const std::string& name = info.elements[i].str;
      const Reply& value = info.elements[i + 1];
      if (name == "last-generated-id") last = value.str;
      if (name == "recorded-first-entry-id") first = value.str;
      if (name == "max-deleted-entry-id") deleted = value.str;
      if (name == "length") length = value.integer;
      if (name == "entries-added") added = value.integer;
    }
  }
  const std::optional<StreamId> last_id = ParseStreamId(last);
  const std::optional<StreamId> first_id = ParseStreamId(first);
  const std::optional<StreamId> deleted_id = ParseStreamId(deleted);
  if (!last_id || !first_id || !deleted_id) return Unexpected("XINFO", exec);

  VolunteerChanges changes;
  changes.cursor = last;
  if (!from.has_value()) return changes;
  // Entries after the cursor may be gone: it is older than the first entry kept after a
  // trim (a cursor at the newest entry trimmed cannot be told apart, and reloads too), or
  // an entry after it was deleted. A cursor past the end comes from a log since lost.
  const bool trimmed = added > length && (length == 0 ? *from < *last_id : *from < *first_id);
  if (trimmed || *from < *deleted_id || *from > *last_id) {
    changes.reset = true;
    return changes;
  }
  changes.cursor = std::string(cursor);
  for (const Reply& entry : exec.elements[2].elements) {
    if (entry.elements.size() != 2) return Unexpected("XRANGE", entry);
    changes.cursor = entry.elements[0].str;
    const std::vector<Reply>& fields = entry.elements[1].elements;
    for (size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].str == "id" && std::find(changes.ids.begin(), changes.ids.end(),
                                             fields[i + 1].str) == changes.ids.end()) {
        changes.ids.push_back(fields[i + 1].str);
      }
    }
  }
  return changes;
}

// ---- Activity days

absl::StatusOr<v1::Activity> RedisVolunteerStore::CreateActivity(const RequestKey& rk,
                                                                 v1::Activity a, absl::Time now) {
  a.set_confirmed(0);
  a.set_waitlisted(0);
  *a.mutable_created_at() = ToTimestamp(now);
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    a.set_id(NewId("a"));
    std::string bytes = a.SerializeAsString();
    std::vector<std::string> args = RequestArgs(rk);
    args.insert(
        args.end(),
        {bytes, absl::StrCat(a.capacity()), absl::StrCat(ToUnixMillis(a.starts_at())),
         absl::StrCat(ToUnixMillis(a.ends_at())), a.cancelled() ? "1" : "0", ActivityMember(a)});
    ASSIGN_OR_RETURN(
        Reply r, redis_->Eval(Lua().create_activity,
                              {RequestRecordKey(rk.id), ActivityKey(a.id()), ActivityIndexKey()},
                              std::move(args)));
    const std::string& outcome = Outcome(r);
    if (outcome == "ok") return a;
    if (outcome == "dup") {
      ASSIGN_OR_RETURN(std::string first, FirstResult(r, rk));
      return Parse<v1::Activity>(first, "activity");
    }
    if (outcome != "id_taken") return Unexpected("activity_create.lua", r);
  }
  return absl::InternalError("dispatch: no free activity id");
}

absl::StatusOr<v1::Activity> RedisVolunteerStore::GetActivity(absl::string_view id) {
  ASSIGN_OR_RETURN(Reply r, redis_->Command(ReadActivityCommand(id)));
  if (r.elements.size() != 3) return Unexpected("HMGET", r);
  if (r.elements[0].is_nil()) return NoActivity(id);
  return ActivityFrom(r);
}

absl::StatusOr<std::pair<std::vector<v1::Activity>, std::string>>
RedisVolunteerStore::ListActivities(const ActivityFilter& filter, int page_size,
                                    absl::string_view page_token) {
  const std::string lo =
      filter.starts_after == absl::InfinitePast()
          ? "-"
          : absl::StrCat("[", SortableMillis(absl::ToUnixMillis(filter.starts_after)));
  const std::string hi =
      filter.starts_before == absl::InfiniteFuture()
          ? "+"
          : absl::StrCat("(", SortableMillis(absl::ToUnixMillis(filter.starts_before)));
  auto not_before_lo = [&lo](absl::string_view after) {
    return lo == "-" || after >= absl::string_view(lo).substr(1);
  };
  // Index members carry the region, so the filter needs no records.
  auto in_scope = [&filter](const std::vector<Reply>& members,
                            int wanted) -> absl::StatusOr<Decisions<std::string>> {
    Decisions<std::string> decided;
    for (size_t i = 0; i < members.size() && wanted > 0; ++i) {
      std::vector<std::string> parts = absl::StrSplit(members[i].str, absl::MaxSplits('|', 2));
      if (parts.size() != 3) return Corrupt("activity index entry");
      decided.emplace_back();
      if (RegionWithin(parts[2], filter.region_prefix)) {
        decided.back() = std::move(parts[1]);
        --wanted;
      }
    }
    return decided;
  };
  ASSIGN_OR_RETURN(IndexPage<std::string> page,
                   ScanIndex<std::string>(redis_, ActivityIndexKey(), lo, hi, page_token,
                                          not_before_lo, page_size, in_scope));

  std::vector<v1::Activity> out;
  if (page.kept.empty()) return std::make_pair(std::move(out), std::move(page.next_token));
  std::vector<std::vector<std::string>> commands;
  commands.reserve(page.kept.size());
  for (const auto& [member, id] : page.kept) commands.push_back(ReadActivityCommand(id));
  ASSIGN_OR_RETURN(std::vector<Reply> records, redis_->Pipeline(std::move(commands)));
  RETURN_IF_ERROR(CheckReplies(records));
  out.reserve(page.kept.size());
  for (const Reply& r : records) {
    if (r.elements.size() != 3 || r.elements[0].is_nil()) continue;
    ASSIGN_OR_RETURN(v1::Activity a, ActivityFrom(r));
    out.push_back(std::move(a));
  }
  return std::make_pair(std::move(out), std::move(page.next_token));
}

absl::StatusOr<v1::SignUpResponse> RedisVolunteerStore::SignUp(const RequestKey& rk,
                                                               absl::string_view activity_id,
                                                               absl::string_view volunteer_id,
                                                               absl::Time now) {
  v1::Participation p;
  p.set_activity_id(std::string(activity_id));
  p.set_volunteer_id(std::string(volunteer_id));
  *p.mutable_signed_up_at() = ToTimestamp(now);
  return RunSignUpScript(redis_, Lua().sign_up, rk, activity_id, volunteer_id,
                         {absl::StrCat(absl::ToUnixMillis(now)), p.SerializeAsString()}, "");
}

absl::StatusOr<v1::SignUpResponse> RedisVolunteerStore::CancelSignUp(const RequestKey& rk,
                                                                     absl::string_view activity_id,
                                                                     absl::string_view volunteer_id,
                                                                     absl::Time /*now*/) {
  return RunSignUpScript(redis_, Lua().cancel_sign_up, rk, activity_id, volunteer_id, {},
                         "a sign-up cannot be cancelled after check-in");
}

absl::StatusOr<v1::SignUpResponse> RedisVolunteerStore::CheckIn(const RequestKey& rk,
                                                                absl::string_view activity_id,
                                                                absl::string_view volunteer_id,
                                                                absl::Time now) {
  v1::Participation patch;
  *patch.mutable_checked_in_at() = ToTimestamp(now);
  return RunSignUpScript(redis_, Lua().check_in, rk, activity_id, volunteer_id,
                         {absl::StrCat(absl::ToUnixMillis(now)), patch.SerializeAsString()},
                         "only a confirmed sign-up checks in");
}

absl::StatusOr<v1::SignUpResponse> RedisVolunteerStore::CheckOut(const RequestKey& rk,
                                                                 absl::string_view activity_id,
                                                                 absl::string_view volunteer_id,
                                                                 absl::Time now) {
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    // What the hours are computed from. Whatever is missing or not checked in yet, the
    // script reports (after looking for an earlier result of the request).
    ASSIGN_OR_RETURN(
        std::vector<Reply> read,
        redis_->Pipeline({{"HGET", ActivityKey(activity_id), "d"},
                          {"HGET", ParticipationsKey(activity_id), std::string(volunteer_id)},
                          {"HMGET", VolunteerKey(volunteer_id), "d", "v"}}));
    RETURN_IF_ERROR(CheckReplies(read));
    v1::Activity activity;
    if (!read[0].is_nil()) {
      ASSIGN_OR_RETURN(activity, Parse<v1::Activity>(read[0].str, "activity"));
    }
    v1::Participation participation;
    if (!read[1].is_nil()) {
      ASSIGN_OR_RETURN(participation, Parse<v1::Participation>(read[1].str, "participation"));
    }
    v1::Volunteer volunteer;
    std::string version;
    if (read[2].elements.size() == 2 && !read[2].elements[0].is_nil()) {
      ASSIGN_OR_RETURN(volunteer, Parse<v1::Volunteer>(read[2].elements[0].str, "volunteer"));
      version = read[2].elements[1].str;
    }

    // The ledger's rule for an activity; the ids come from the request, so a missing
    // activity (reported by the script) still names itself.
    v1::CreditEntry entry =
        ActivityCredit(activity, FromTimestamp(participation.checked_in_at()), now);
    entry.set_id(absl::StrCat("activity:", activity_id));
    entry.set_reference(std::string(activity_id));
    v1::Participation patch;
    *patch.mutable_checked_out_at() = ToTimestamp(now);
    patch.set_hours(entry.hours());
    patch.set_points(entry.points());
    LedgerCall ledger = Ledger(volunteer_id, volunteer.region_code(), entry);

    std::vector<std::string> keys = SignUpKeys(rk, activity_id, volunteer_id);
    keys.insert(keys.end(), std::make_move_iterator(ledger.keys.begin()),
                std::make_move_iterator(ledger.keys.end()));
    std::vector<std::string> args = RequestArgs(rk);
    args.insert(args.end(),
                {std::string(volunteer_id), read[1].str, version, patch.SerializeAsString()});
    args.insert(args.end(), std::make_move_iterator(ledger.args.begin()),
                std::make_move_iterator(ledger.args.end()));
    ASSIGN_OR_RETURN(Reply r, redis_->Eval(Lua().check_out, std::move(keys), std::move(args)));
    if (Outcome(r) == "retry") continue;
    ASSIGN_OR_RETURN(
        v1::SignUpResponse resp,
        SignUpOutcome(r, rk, activity_id, volunteer_id, "only a checked-in volunteer checks out"));
    if (Outcome(r) == "ok" && r.elements.size() == 3 && r.elements[2].integer == 1) Notify();
    return resp;
  }
  return KeptChanging(absl::StrCat("the sign-up of ", volunteer_id, " for ", activity_id));
}

// ---- The service-hours ledger

absl::StatusOr<bool> RedisVolunteerStore::Credit(absl::string_view volunteer_id,
                                                 const v1::CreditEntry& entry) {
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    ASSIGN_OR_RETURN(Stored cur, Read(volunteer_id));
    LedgerCall ledger = Ledger(volunteer_id, cur.volunteer.region_code(), entry);
    std::vector<std::string> keys = {VolunteerKey(volunteer_id)};
    keys.insert(keys.end(), std::make_move_iterator(ledger.keys.begin()),
                std::make_move_iterator(ledger.keys.end()));
    std::vector<std::string> args = {cur.version};
    args.insert(args.end(), std::make_move_iterator(ledger.args.begin()),
                std::make_move_iterator(ledger.args.end()));
    ASSIGN_OR_RETURN(Reply r, redis_->Eval(Lua().credit, std::move(keys), std::move(args)));
    const std::string& outcome = Outcome(r);
    if (outcome == "ok" && r.elements.size() == 2) {
      const bool credited = r.elements[1].integer == 1;
      if (credited) Notify();
      return credited;
    }
    if (outcome == "missing") return NoVolunteer(volunteer_id);
    if (outcome != "retry") return Unexpected("ledger_credit.lua", r);
  }
  return KeptChanging(absl::StrCat("volunteer ", volunteer_id));
}

absl::Status RedisVolunteerStore::RecordOfferOutcome(absl::string_view volunteer_id,
                                                     absl::string_view offer_id, bool declined) {
  ASSIGN_OR_RETURN(
      Reply r,
      redis_->Eval(Lua().offer_outcome,
                   {VolunteerKey(volunteer_id), OutcomesKey(volunteer_id), TotalsKey(volunteer_id)},
                   {std::string(offer_id), declined ? "declined" : "expired"}));
  const std::string& outcome = Outcome(r);
  if (outcome == "ok") return absl::OkStatus();
  if (outcome == "missing") return NoVolunteer(volunteer_id);
  return Unexpected("ledger_offer_outcome.lua", r);
}

absl::StatusOr<v1::ServiceRecord> RedisVolunteerStore::GetServiceRecord(
    absl::string_view volunteer_id, int page_size, absl::string_view page_token) {
  const int size = PageSize(page_size);
  std::string after;
  if (!page_token.empty()) {
    ASSIGN_OR_RETURN(after, DecodeToken(page_token));
  }
  ASSIGN_OR_RETURN(Reply r, redis_->Eval(Lua().service_record,
                                         {VolunteerKey(volunteer_id), TotalsKey(volunteer_id),
                                          EntriesKey(volunteer_id), EntryTimesKey(volunteer_id)},
                                         {after, absl::StrCat(size + 1)}));
  const std::string& outcome = Outcome(r);
  if (outcome == "missing") return NoVolunteer(volunteer_id);
  if (outcome == "bad_token") {
    return absl::InvalidArgumentError("page_token: not a token of this service record");
  }
  if (outcome != "ok" || r.elements.size() != 3) return Unexpected("ledger_record.lua", r);
  ASSIGN_OR_RETURN(v1::ServiceTotals totals, TotalsFrom(r.elements[1]));
  v1::ServiceRecord record;
  record.set_volunteer_id(std::string(volunteer_id));
  record.set_hours(totals.hours());
  record.set_points(totals.points());
  record.set_completed_tasks(totals.completed_tasks());
  record.set_declined_tasks(totals.declined_tasks());
  record.set_expired_offers(totals.expired_offers());
  record.set_average_satisfaction(totals.average_satisfaction());
  const std::vector<Reply>& entries = r.elements[2].elements;
  for (size_t i = 0; i < entries.size() && static_cast<int>(i) < size; ++i) {
    if (entries[i].is_nil()) return Corrupt("ledger index");
    ASSIGN_OR_RETURN(*record.add_entries(), Parse<v1::CreditEntry>(entries[i].str, "ledger entry"));
  }
  if (static_cast<int>(entries.size()) > size) {
    record.set_next_page_token(EncodeToken(record.entries(size - 1).id()));
  }
  return record;
}

absl::StatusOr<std::vector<v1::LeaderboardEntry>> RedisVolunteerStore::Leaderboard(
    absl::string_view region_code, absl::string_view period_key, int limit) {
  std::vector<v1::LeaderboardEntry> out;
  if (limit <= 0) return out;
  const std::string board = BoardKey(region_code, period_key);
  ASSIGN_OR_RETURN(
      Reply top, redis_->Command({"ZREVRANGE", board, "0", absl::StrCat(limit - 1), "WITHSCORES"}));
  std::vector<std::pair<int64_t, std::string>> ranked;  // (points, volunteer id)
  for (size_t i = 0; i + 1 < top.elements.size(); i += 2) {
    double score = 0;
    if (!absl::SimpleAtod(top.elements[i + 1].str, &score)) return Corrupt("leaderboard");
    ranked.emplace_back(std::llround(score), top.elements[i].str);
  }
  if (ranked.empty()) return out;
  // Equal points rank by id, but Redis orders them the other way round: where the cut
  // falls inside a tie, the smallest ids of that tie make the list.
  if (static_cast<int>(ranked.size()) == limit) {
    const int64_t cut = ranked.back().first;
    const auto tied = static_cast<size_t>(std::count_if(
        ranked.begin(), ranked.end(), [cut](const auto& e) { return e.first == cut; }));
    ASSIGN_OR_RETURN(Reply smallest,
                     redis_->Command({"ZRANGEBYSCORE", board, absl::StrCat(cut), absl::StrCat(cut),
                                      "LIMIT", "0", absl::StrCat(tied)}));
    ranked.resize(ranked.size() - tied);
    for (const Reply& m : smallest.elements) ranked.emplace_back(cut, m.str);
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });

  std::vector<std::vector<std::string>> commands;
  commands.reserve(ranked.size() + 1);
  std::vector<std::string> hmget = {"HMGET", BoardHoursKey(region_code, period_key)};
  for (const auto& [points, id] : ranked) hmget.push_back(id);
  commands.push_back(std::move(hmget));
  for (const auto& [points, id] : ranked) commands.push_back({"HGET", VolunteerKey(id), "d"});
  ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(std::move(commands)));
  RETURN_IF_ERROR(CheckReplies(replies));
  if (replies[0].elements.size() != ranked.size()) return Unexpected("HMGET", replies[0]);
  out.reserve(ranked.size());
  for (size_t i = 0; i < ranked.size(); ++i) {
    v1::LeaderboardEntry e;
    e.set_rank(static_cast<int32_t>(i + 1));
    e.set_volunteer_id(ranked[i].second);
    e.set_points(ranked[i].first);
    int64_t hours_ms = 0;
    if (!replies[0].elements[i].is_nil() &&
        !absl::SimpleAtoi(replies[0].elements[i].str, &hours_ms)) {
      return Corrupt("leaderboard hours");
    }
    e.set_hours(static_cast<double>(hours_ms) / kMsPerHour);
    if (!replies[i + 1].is_nil()) {
      ASSIGN_OR_RETURN(v1::Volunteer v, Parse<v1::Volunteer>(replies[i + 1].str, "volunteer"));
      e.set_name(v.name());
    }
    out.push_back(std::move(e));
  }
  return out;
}

// ---- Load and fairness

absl::Status RedisVolunteerStore::AddTask(absl::string_view assignee_key,
                                          absl::string_view incident_id, absl::Time at,
                                          absl::Time forget_before) {
  // GT: a replayed older assignment does not move the time back.
  ASSIGN_OR_RETURN(
      std::vector<Reply> replies,
      redis_->Pipeline({{"MULTI"},
                        {"SADD", LoadKey(assignee_key), std::string(incident_id)},
                        {"ZADD", RecentKey(assignee_key), "GT",
                         absl::StrCat(absl::ToUnixMillis(at)), std::string(incident_id)},
                        {"ZREMRANGEBYSCORE", RecentKey(assignee_key), "-inf",
                         absl::StrCat("(", absl::ToUnixMillis(forget_before))},
                        {"EXEC"}}));
  RETURN_IF_ERROR(CheckReplies(replies));
  return CheckReplies(replies.back().elements);
}

absl::Status RedisVolunteerStore::EndTask(absl::string_view assignee_key,
                                          absl::string_view incident_id) {
  return redis_->Command({"SREM", LoadKey(assignee_key), std::string(incident_id)}).status();
}

absl::StatusOr<std::vector<Load>> RedisVolunteerStore::Loads(
    const std::vector<std::string>& assignee_keys, absl::Time since) {
  std::vector<Load> out;
  if (assignee_keys.empty()) return out;
  const std::string before = absl::StrCat("(", absl::ToUnixMillis(since));
  std::vector<std::vector<std::string>> commands;
  commands.reserve(assignee_keys.size() * 3);
  for (const std::string& key : assignee_keys) {
    commands.push_back({"ZREMRANGEBYSCORE", RecentKey(key), "-inf", before});
    commands.push_back({"SCARD", LoadKey(key)});
    commands.push_back({"ZCARD", RecentKey(key)});
  }
  ASSIGN_OR_RETURN(std::vector<Reply> replies, redis_->Pipeline(std::move(commands)));
  RETURN_IF_ERROR(CheckReplies(replies));
  out.reserve(assignee_keys.size());
  for (size_t i = 0; i < assignee_keys.size(); ++i) {
    Load load;
    load.active = static_cast<int>(replies[3 * i + 1].integer);
    load.recent = static_cast<int>(replies[3 * i + 2].integer);
    out.push_back(load);
  }
  return out;
}

// ---- Offers

absl::Status RedisVolunteerStore::IndexOffer(absl::string_view volunteer_id,
                                             absl::string_view offer_id, absl::Time at) {
  return redis_
      ->Command({"ZADD", OffersKey(volunteer_id), absl::StrCat(absl::ToUnixMillis(at)),
                 std::string(offer_id)})
      .status();
}

absl::StatusOr<std::pair<std::vector<std::string>, std::string>> RedisVolunteerStore::OfferIds(
    absl::string_view volunteer_id, int page_size, absl::string_view page_token) {
  const int size = PageSize(page_size);
  std::string after;
  if (!page_token.empty()) {
    ASSIGN_OR_RETURN(after, DecodeToken(page_token));
  }
  ASSIGN_OR_RETURN(Reply r, redis_->Eval(Lua().offers, {OffersKey(volunteer_id)},
                                         {after, absl::StrCat(size + 1)}));
  const std::string& outcome = Outcome(r);
  if (outcome == "bad_token") {
    return absl::InvalidArgumentError("page_token: not a token of this offer list");
  }
  if (outcome != "ok" || r.elements.size() != 2) return Unexpected("volunteer_offers.lua", r);
  std::vector<std::string> ids;
  for (const Reply& m : r.elements[1].elements) {
    if (static_cast<int>(ids.size()) == size) break;
    ids.push_back(m.str);
  }
  std::string next;
  if (static_cast<int>(r.elements[1].elements.size()) > size) next = EncodeToken(ids.back());
  return std::make_pair(std::move(ids), std::move(next));
}

}  // namespace gridloop::dispatch
