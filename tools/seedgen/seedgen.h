#ifndef GRIDLOOP_TOOLS_SEEDGEN_SEEDGEN_H_
#define GRIDLOOP_TOOLS_SEEDGEN_SEEDGEN_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gridloop::seedgen {

// What to generate: one street of Hangzhou (杭州市 西湖区 文新街道) with its communities,
// grids, buildings, units, households, residents and staff.
struct SeedOptions {
  uint64_t seed = 1;
  int communities = 6;          // 1..999
  int grids_per_community = 8;  // 1..99
  int64_t residents = 3000;     // 0..10,000,000
  // Appends a few rows to each file that an import must reject: an ID number with a
  // wrong check character, unknown regions, a bad phone, a bad enumeration value and an
  // unterminated quote.
  bool bad_rows = false;
};

struct SeedCounts {
  int64_t regions = 0;
  int64_t households = 0;
  int64_t residents = 0;
  int64_t staff = 0;
  int64_t bad_rows = 0;  // included in the counts above
};

// Where the four CSV files go, in the formats of docs/import.md.
struct SeedOutput {
  std::ostream* regions = nullptr;
  std::ostream* households = nullptr;
  std::ostream* residents = nullptr;
  std::ostream* staff = nullptr;
};

// Writes the data set. The output is a function of `options` alone: the same options
// give the same bytes on every machine. Rows are written as they are made, so memory
// does not grow with the number of residents. Regions come parents first; grids
// tessellate a rectangle around 30.28N 120.10E (neighbouring grids share their edges
// exactly); ID numbers are valid for region 330106 with real birth dates; phone numbers
// are valid and unique. InvalidArgument when an option is out of range; Internal when a
// stream fails.
absl::StatusOr<SeedCounts> Generate(const SeedOptions& options, const SeedOutput& out);

// As Generate, into regions.csv, households.csv, residents.csv and staff.csv in `dir`,
// which is created if missing. Internal when a file cannot be written.
absl::StatusOr<SeedCounts> WriteSeedFiles(const SeedOptions& options, const std::string& dir);

}  // namespace gridloop::seedgen

#endif  // GRIDLOOP_TOOLS_SEEDGEN_SEEDGEN_H_
