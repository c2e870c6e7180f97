#ifndef GRIDLOOP_SERVICES_RESIDENTS_LEDGER_STORE_H_
#define GRIDLOOP_SERVICES_RESIDENTS_LEDGER_STORE_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/redis/redis_client.h"

namespace gridloop::residents {

// Every key of the residents ledger. One hash tag for all of them: a change (a resident,
// its unique ID-number index, its region and tag indexes, its request record) is one
// atomic script, and a city's ledger fits one Redis primary (see docs/residents.md).
namespace keys {
std::string Region(absl::string_view code);
std::string Children(absl::string_view parent_code);  // "" = the roots
std::string Boundaries();                             // hash: version id → boundary record
std::string GeoLog();                                 // stream of boundary changes
std::string GridVersions(absl::string_view code);     // set: a grid's boundary version ids
std::string Household(absl::string_view id);
std::string HouseholdCode(absl::string_view code);   // → household id
std::string GridHouseholds(absl::string_view grid);  // set of household ids
std::string Resident(absl::string_view id);
std::string IdNumberIndex(absl::string_view blind);            // → resident id (unique)
std::string PhoneIndex(absl::string_view blind);               // set of resident ids
std::string HouseholdMembers(absl::string_view household_id);  // set of resident ids
std::string ByRegion();                                        // lex zset "<region>.|<id>"
std::string ByTag(absl::string_view tag);                      // lex zset "<region>.|<id>"
std::string AccessLog(absl::string_view resident_id);          // list, newest first
std::string ResidentRequests(absl::string_view resident_id);   // set of request keys
std::string Staff(absl::string_view id);
std::string RegionStaff(absl::string_view region_code);  // set of assignment ids
std::string Request(absl::string_view request_id);
}  // namespace keys

// One change, computed by the domain from what it read, applied by commit.lua only if
// every guard still holds.
class Txn {
 public:
  // Guards.
  Txn& Absent(absl::string_view key);
  Txn& Present(absl::string_view key);
  Txn& Equals(absl::string_view key, absl::string_view value);
  // The hash field `field` of `key` equals `value` ("" = absent).
  Txn& FieldEquals(absl::string_view key, absl::string_view field, absl::string_view value);
  // Operations.
  Txn& Set(absl::string_view key, absl::string_view value);
  Txn& Del(absl::string_view key);
  Txn& ZAdd(absl::string_view key, absl::string_view member);
  Txn& ZRem(absl::string_view key, absl::string_view member);
  Txn& SAdd(absl::string_view key, absl::string_view member);
  Txn& SRem(absl::string_view key, absl::string_view member);
  Txn& HSet(absl::string_view key, absl::string_view field, absl::string_view value);
  Txn& HDel(absl::string_view key, absl::string_view field);
  Txn& LPush(absl::string_view key, absl::string_view value);
  Txn& XAdd(absl::string_view key, absl::string_view field, absl::string_view value);
  // Records `result` as the first result of `request_id` (none when empty).
  Txn& Request(absl::string_view request_id, absl::string_view fingerprint,
               absl::string_view result);

  bool empty() const { return guards_ == 0 && ops_ == 0; }

 private:
  friend class LedgerStore;
  int KeyIndex(absl::string_view key);

  std::vector<std::string> keys_;
  std::map<std::string, int, std::less<>> key_index_;
  std::vector<std::string> guard_args_;
  std::vector<std::string> op_args_;
  int guards_ = 0;
  int ops_ = 0;
  int request_key_ = 0;
  std::string fingerprint_;
  std::string result_;
};

struct Earlier {
  std::string fingerprint;
  std::string result;
};

struct CommitResult {
  bool committed = false;
  bool conflict = false;           // a guard no longer held: read again and retry
  std::optional<Earlier> earlier;  // the request id was seen before
};

// The ledger in Redis: reads are plain commands, every change is one commit.lua call.
class LedgerStore {
 public:
  LedgerStore(redis::Client* redis, absl::Duration request_retention);

  absl::StatusOr<CommitResult> Commit(Txn txn);
  // The first result of `request_id`, if it is still retained.
  absl::StatusOr<std::optional<Earlier>> FindEarlier(absl::string_view request_id);

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key);
  absl::StatusOr<std::vector<std::optional<std::string>>> MGet(std::vector<std::string> keys);
  absl::StatusOr<std::vector<std::string>> SMembers(absl::string_view key);
  absl::StatusOr<int64_t> SCard(absl::string_view key);
  // Members of a lex zset in [min, max] (Redis ZRANGEBYLEX syntax), at most `limit`.
  absl::StatusOr<std::vector<std::string>> RangeByLex(absl::string_view key, absl::string_view min,
                                                      absl::string_view max, int limit);
  absl::StatusOr<std::vector<std::string>> LRange(absl::string_view key, int64_t start,
                                                  int64_t stop);
  absl::StatusOr<std::map<std::string, std::string>> HGetAll(absl::string_view key);
  // Stream entries after `after_id` ("0" = from the start): (id, field value of `field`).
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> XRangeAfter(
      absl::string_view key, absl::string_view after_id, absl::string_view field, int count);
  // Every key of the ledger (SCAN), for tests and tooling.
  absl::StatusOr<std::vector<std::string>> ScanAll(absl::string_view pattern);

  redis::Client& redis() { return *redis_; }

 private:
  redis::Client* const redis_;
  const absl::Duration request_retention_;
};

}  // namespace gridloop::residents

#endif  // GRIDLOOP_SERVICES_RESIDENTS_LEDGER_STORE_H_
