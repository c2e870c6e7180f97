#include "services/dispatch/volunteer_store.h"

#include <openssl/rand.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "services/dispatch/policy.h"

namespace gridloop::dispatch {
namespace {

constexpr char kBase32[] = "0123456789abcdefghjkmnpqrstvwxyz";

absl::TimeZone LocalZone() { return absl::FixedTimeZone(kLocalUtcOffsetMinutes * 60); }

}  // namespace

std::vector<std::string> PeriodKeysAt(absl::Time at) {
  const absl::CivilMonth month = absl::ToCivilMonth(at, LocalZone());
  const int quarter = (month.month() - 1) / 3 + 1;
  return {absl::FormatCivilTime(month).substr(0, 7),
          absl::StrFormat("%04d-Q%d", month.year(), quarter), absl::StrCat(month.year()), "all"};
}

std::string PeriodKey(v1::LeaderboardPeriod period, absl::Time at) {
  std::vector<std::string> keys = PeriodKeysAt(at);
  switch (period) {
    case v1::LEADERBOARD_PERIOD_MONTH:
      return keys[0];
    case v1::LEADERBOARD_PERIOD_QUARTER:
      return keys[1];
    case v1::LEADERBOARD_PERIOD_YEAR:
      return keys[2];
    default:
      return keys[3];
  }
}

std::vector<std::string> RegionAndAncestors(absl::string_view region_code) {
  std::vector<std::string> out;
  for (size_t i = 0; i < region_code.size(); ++i) {
    if (region_code[i] == '.') out.emplace_back(region_code.substr(0, i));
  }
  if (!region_code.empty()) out.emplace_back(region_code);
  return out;
}

std::string AssigneeKey(v1::AssigneeKind kind, absl::string_view id) {
  switch (kind) {
    case v1::ASSIGNEE_KIND_GRID_WORKER:
      return absl::StrCat("grid_worker:", id);
    case v1::ASSIGNEE_KIND_VOLUNTEER:
      return absl::StrCat("volunteer:", id);
    case v1::ASSIGNEE_KIND_DEPARTMENT:
      return absl::StrCat("department:", id);
    default:
      return absl::StrCat("unknown:", id);
  }
}

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

int StableBucket(absl::string_view s, int buckets) {
  // FNV-1a: tiny, and identical on every platform and run (std::hash is neither).
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return static_cast<int>(h % static_cast<uint64_t>(buckets));
}

}  // namespace gridloop::dispatch
