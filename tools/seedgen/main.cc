// gridloop-seedgen: CSV files of one street of Hangzhou for `gridctl import`.
//
//   gridloop-seedgen --out=DIR [--seed=1] [--communities=6] [--grids=8] [--residents=3000]
//                    [--bad_rows]
//
// Writes DIR/regions.csv, households.csv, residents.csv and staff.csv (docs/import.md).
// The same options always give the same files.
#include <cstdio>

#include "absl/status/statusor.h"
#include "common/config/config.h"
#include "tools/seedgen/seedgen.h"

namespace {

int Usage(const char* why) {
  std::fprintf(stderr,
               "%s\nusage: gridloop-seedgen --out=DIR [--seed=1] [--communities=6] [--grids=8] "
               "[--residents=3000] [--bad_rows]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<gridloop::config::Settings> settings =
      gridloop::config::Settings::Parse(argc, argv, {});
  if (!settings.ok()) return Usage(settings.status().ToString().c_str());
  const std::string out = settings->Get("out");
  if (out.empty()) return Usage("--out is required");
  absl::StatusOr<int64_t> seed = settings->GetInt("seed", 1);
  absl::StatusOr<int64_t> communities = settings->GetInt("communities", 6);
  absl::StatusOr<int64_t> grids = settings->GetInt("grids", 8);
  absl::StatusOr<int64_t> residents = settings->GetInt("residents", 3000);
  absl::StatusOr<bool> bad_rows = settings->GetBool("bad_rows", false);
  for (const absl::Status& s : {seed.status(), communities.status(), grids.status(),
                                residents.status(), bad_rows.status()}) {
    if (!s.ok()) return Usage(std::string(s.message()).c_str());
  }
  if (*communities < 1 || *communities > 999) return Usage("--communities must be 1..999");
  if (*grids < 1 || *grids > 99) return Usage("--grids must be 1..99");

  gridloop::seedgen::SeedOptions options;
  options.seed = static_cast<uint64_t>(*seed);
  options.communities = static_cast<int>(*communities);
  options.grids_per_community = static_cast<int>(*grids);
  options.residents = *residents;
  options.bad_rows = *bad_rows;
  absl::StatusOr<gridloop::seedgen::SeedCounts> counts =
      gridloop::seedgen::WriteSeedFiles(options, out);
  if (!counts.ok()) {
    std::fprintf(stderr, "gridloop-seedgen: %s\n", std::string(counts.status().message()).c_str());
    return counts.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::printf("%s: %lld regions, %lld households, %lld residents, %lld staff", out.c_str(),
              static_cast<long long>(counts->regions), static_cast<long long>(counts->households),
              static_cast<long long>(counts->residents), static_cast<long long>(counts->staff));
  if (counts->bad_rows > 0) {
    std::printf(" (%lld of them bad rows)", static_cast<long long>(counts->bad_rows));
  }
  std::printf("\n");
  return 0;
}
