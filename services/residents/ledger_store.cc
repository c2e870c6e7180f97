#include "services/residents/ledger_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "lua/commit.lua.h"

namespace gridloop::residents {
namespace keys {
namespace {
constexpr absl::string_view kPrefix = "res:{ledger}:";
}  // namespace

std::string Region(absl::string_view code) { return absl::StrCat(kPrefix, "region:", code); }
std::string Children(absl::string_view parent_code) {
  return absl::StrCat(kPrefix, "children:", parent_code);
}
std::string Boundaries() { return absl::StrCat(kPrefix, "boundaries"); }
std::string GeoLog() { return absl::StrCat(kPrefix, "geo"); }
std::string GridVersions(absl::string_view code) {
  return absl::StrCat(kPrefix, "gridversions:", code);
}
std::string Household(absl::string_view id) { return absl::StrCat(kPrefix, "hh:", id); }
std::string HouseholdCode(absl::string_view code) { return absl::StrCat(kPrefix, "hhcode:", code); }
std::string GridHouseholds(absl::string_view grid) {
  return absl::StrCat(kPrefix, "gridhh:", grid);
}
std::string Resident(absl::string_view id) { return absl::StrCat(kPrefix, "r:", id); }
std::string IdNumberIndex(absl::string_view blind) { return absl::StrCat(kPrefix, "idn:", blind); }
std::string PhoneIndex(absl::string_view blind) { return absl::StrCat(kPrefix, "ph:", blind); }
std::string HouseholdMembers(absl::string_view household_id) {
  return absl::StrCat(kPrefix, "members:", household_id);
}
std::string ByRegion() { return absl::StrCat(kPrefix, "byregion"); }
std::string ByTag(absl::string_view tag) { return absl::StrCat(kPrefix, "bytag:", tag); }
std::string AccessLog(absl::string_view resident_id) {
  return absl::StrCat(kPrefix, "alog:", resident_id);
}
std::string ResidentRequests(absl::string_view resident_id) {
  return absl::StrCat(kPrefix, "rreq:", resident_id);
}
std::string Staff(absl::string_view id) { return absl::StrCat(kPrefix, "staff:", id); }
std::string RegionStaff(absl::string_view region_code) {
  return absl::StrCat(kPrefix, "regionstaff:", region_code);
}
std::string Request(absl::string_view request_id) {
  return absl::StrCat(kPrefix, "req:", request_id);
}
}  // namespace keys

namespace {

const redis::Script& CommitScript() {
  static const redis::Script* const s = new redis::Script(kLedgerCommitLua);
  return *s;
}

std::vector<std::string> Strings(const redis::Reply& r) {
  std::vector<std::string> out;
  out.reserve(r.elements.size());
  for (const redis::Reply& e : r.elements) out.push_back(e.str);
  return out;
}

}  // namespace

int Txn::KeyIndex(absl::string_view key) {
  if (auto it = key_index_.find(key); it != key_index_.end()) return it->second;
  keys_.emplace_back(key);
  const int index = static_cast<int>(keys_.size());  // Lua's KEYS is 1-based
  key_index_.emplace(std::string(key), index);
  return index;
}

Txn& Txn::Absent(absl::string_view key) {
  guard_args_.insert(guard_args_.end(), {"absent", absl::StrCat(KeyIndex(key)), ""});
  ++guards_;
  return *this;
}

Txn& Txn::Present(absl::string_view key) {
  guard_args_.insert(guard_args_.end(), {"present", absl::StrCat(KeyIndex(key)), ""});
  ++guards_;
  return *this;
}

Txn& Txn::Equals(absl::string_view key, absl::string_view value) {
  guard_args_.insert(guard_args_.end(), {"eq", absl::StrCat(KeyIndex(key)), std::string(value)});
  ++guards_;
  return *this;
}

Txn& Txn::FieldEquals(absl::string_view key, absl::string_view field, absl::string_view value) {
  guard_args_.insert(guard_args_.end(),
                     {"heq", absl::StrCat(KeyIndex(key)), absl::StrCat(field, "\n", value)});
  ++guards_;
  return *this;
}

#define GRIDLOOP_TXN_OP(Name, kind)                                                      \
  Txn& Txn::Name(absl::string_view key, absl::string_view a) {                           \
    op_args_.insert(op_args_.end(),                                                      \
                    {kind, absl::StrCat(KeyIndex(key)), std::string(a), std::string()}); \
    ++ops_;                                                                              \
    return *this;                                                                        \
  }
GRIDLOOP_TXN_OP(Set, "set")
GRIDLOOP_TXN_OP(ZAdd, "zadd")
GRIDLOOP_TXN_OP(ZRem, "zrem")
GRIDLOOP_TXN_OP(SAdd, "sadd")
GRIDLOOP_TXN_OP(SRem, "srem")
GRIDLOOP_TXN_OP(HDel, "hdel")
GRIDLOOP_TXN_OP(LPush, "lpush")
#undef GRIDLOOP_TXN_OP

Txn& Txn::Del(absl::string_view key) {
  op_args_.insert(op_args_.end(), {"del", absl::StrCat(KeyIndex(key)), "", ""});
  ++ops_;
  return *this;
}

Txn& Txn::HSet(absl::string_view key, absl::string_view field, absl::string_view value) {
  op_args_.insert(op_args_.end(),
                  {"hset", absl::StrCat(KeyIndex(key)), std::string(field), std::string(value)});
  ++ops_;
  return *this;
}

Txn& Txn::XAdd(absl::string_view key, absl::string_view field, absl::string_view value) {
  op_args_.insert(op_args_.end(),
                  {"xadd", absl::StrCat(KeyIndex(key)), std::string(field), std::string(value)});
  ++ops_;
  return *this;
}

Txn& Txn::Request(absl::string_view request_id, absl::string_view fingerprint,
                  absl::string_view result) {
  if (request_id.empty()) return *this;
  request_key_ = KeyIndex(keys::Request(request_id));
  fingerprint_ = std::string(fingerprint);
  result_ = std::string(result);
  return *this;
}

LedgerStore::LedgerStore(redis::Client* redis, absl::Duration request_retention)
    : redis_(redis), request_retention_(request_retention) {}

absl::StatusOr<CommitResult> LedgerStore::Commit(Txn txn) {
  std::vector<std::string> args;
  args.reserve(6 + txn.guard_args_.size() + txn.op_args_.size());
  args.push_back(absl::StrCat(txn.request_key_));
  args.push_back(std::move(txn.fingerprint_));
  args.push_back(std::move(txn.result_));
  args.push_back(absl::StrCat(absl::ToInt64Seconds(request_retention_)));
  args.push_back(absl::StrCat(txn.guards_));
  for (std::string& a : txn.guard_args_) args.push_back(std::move(a));
  args.push_back(absl::StrCat(txn.ops_));
  for (std::string& a : txn.op_args_) args.push_back(std::move(a));
  ASSIGN_OR_RETURN(redis::Reply r,
                   redis_->Eval(CommitScript(), std::move(txn.keys_), std::move(args)));
  if (r.elements.empty()) return absl::InternalError("residents commit: empty reply");
  CommitResult out;
  const std::string& tag = r.elements[0].str;
  if (tag == "ok") {
    out.committed = true;
  } else if (tag == "dup" && r.elements.size() == 3) {
    out.earlier = residents::Earlier{r.elements[1].str, r.elements[2].str};
  } else if (tag == "conflict") {
    out.conflict = true;
  } else {
    return absl::InternalError(absl::StrCat("residents commit: unexpected reply ", tag));
  }
  return out;
}

absl::StatusOr<std::optional<Earlier>> LedgerStore::FindEarlier(absl::string_view request_id) {
  ASSIGN_OR_RETURN(std::optional<std::string> v, Get(keys::Request(request_id)));
  if (!v.has_value()) return std::optional<residents::Earlier>();
  const size_t nl = v->find('\n');
  if (nl == std::string::npos) return absl::InternalError("residents: bad request record");
  return std::optional<residents::Earlier>(residents::Earlier{v->substr(0, nl), v->substr(nl + 1)});
}

absl::StatusOr<std::optional<std::string>> LedgerStore::Get(absl::string_view key) {
  ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"GET", std::string(key)}));
  if (r.is_nil()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(r.str));
}

absl::StatusOr<std::vector<std::optional<std::string>>> LedgerStore::MGet(
    std::vector<std::string> keys) {
  std::vector<std::optional<std::string>> out;
  if (keys.empty()) return out;
  keys.insert(keys.begin(), "MGET");
  ASSIGN_OR_RETURN(redis::Reply r, redis_->Command(std::move(keys)));
  out.reserve(r.elements.size());
  for (redis::Reply& e : r.elements) {
    out.push_back(e.is_nil() ? std::nullopt : std::optional<std::string>(std::move(e.str)));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> LedgerStore::SMembers(absl::string_view key) {
  ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"SMEMBERS", std::string(key)}));
  return Strings(r);
}

absl::StatusOr<int64_t> LedgerStore::SCard(absl::string_view key) {
  ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"SCARD", std::string(key)}));
  return r.integer;
}

absl::StatusOr<std::vector<std::string>> LedgerStore::RangeByLex(absl::string_view key,
                                                                 absl::string_view min,
                                                                 absl::string_view max, int limit) {
  ASSIGN_OR_RETURN(redis::Reply r,
                   redis_->Command({"ZRANGEBYLEX", std::string(key), std::string(min),
                                    std::string(max), "LIMIT", "0", absl::StrCat(limit)}));
  return Strings(r);
}

absl::StatusOr<std::vector<std::string>> LedgerStore::LRange(absl::string_view key, int64_t start,
                                                             int64_t stop) {
  ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"LRANGE", std::string(key), absl::StrCat(start),
                                                    absl::StrCat(stop)}));
  return Strings(r);
}

absl::StatusOr<std::map<std::string, std::string>> LedgerStore::HGetAll(absl::string_view key) {
  ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"HGETALL", std::string(key)}));
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    out.emplace(std::move(r.elements[i].str), std::move(r.elements[i + 1].str));
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> LedgerStore::XRangeAfter(
    absl::string_view key, absl::string_view after_id, absl::string_view field, int count) {
  ASSIGN_OR_RETURN(redis::Reply r,
                   redis_->Command({"XRANGE", std::string(key), absl::StrCat("(", after_id), "+",
                                    "COUNT", absl::StrCat(count)}));
  std::vector<std::pair<std::string, std::string>> out;
  for (const redis::Reply& entry : r.elements) {
    if (entry.elements.size() != 2) continue;
    std::string value;
    const auto& fields = entry.elements[1].elements;
    for (size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].str == field) value = fields[i + 1].str;
    }
    out.emplace_back(entry.elements[0].str, std::move(value));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> LedgerStore::ScanAll(absl::string_view pattern) {
  std::vector<std::string> out;
  std::string cursor = "0";
  do {
    ASSIGN_OR_RETURN(redis::Reply r, redis_->Command({"SCAN", cursor, "MATCH", std::string(pattern),
                                                      "COUNT", "1000"}));
    if (r.elements.size() != 2) return absl::InternalError("SCAN: unexpected reply");
    cursor = r.elements[0].str;
    for (const redis::Reply& k : r.elements[1].elements) out.push_back(k.str);
  } while (cursor != "0");
  return out;
}

}  // namespace gridloop::residents
