#ifndef GRIDLOOP_TOOLS_GRIDCTL_IMPORT_ROWS_H_
#define GRIDLOOP_TOOLS_GRIDCTL_IMPORT_ROWS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gridloop/v1/residents.pb.h"

namespace gridloop::gridctl {

// The kinds of file an import reads, in the order they are imported: each refers only to
// records of the kinds before it.
enum class FileKind { kRegions, kHouseholds, kResidents, kStaff };

inline constexpr FileKind kFileKinds[] = {FileKind::kRegions, FileKind::kHouseholds,
                                          FileKind::kResidents, FileKind::kStaff};

// "regions", "households", "residents", "staff".
absl::string_view FileKindName(FileKind kind);

// The columns a file of `kind` may have, in the documented order.
const std::vector<std::string>& ColumnsOf(FileKind kind);

// Turns the records of one CSV file into import items. Columns are matched by their
// header names in any order; only light checks are made here (required values present,
// enumerations, booleans, dates and coordinates parse), because the service validates
// every item and its verdict is what counts.
class RowConverter {
 public:
  // InvalidArgument naming every unknown, repeated or missing required column.
  static absl::StatusOr<RowConverter> Create(FileKind kind, const std::vector<std::string>& header);

  FileKind kind() const { return kind_; }

  // The item for one record, which has a field for every header column. InvalidArgument
  // naming the column and what is wrong with it otherwise.
  absl::StatusOr<v1::ImportItem> Convert(const std::vector<std::string>& fields) const;

 private:
  RowConverter(FileKind kind, std::vector<int> positions)
      : kind_(kind), positions_(std::move(positions)) {}

  // The trimmed value of column `column` (an index into ColumnsOf), "" when absent.
  absl::string_view Value(const std::vector<std::string>& fields, size_t column) const;

  absl::StatusOr<v1::ImportItem> RegionItem(const std::vector<std::string>& fields) const;
  absl::StatusOr<v1::ImportItem> HouseholdItem(const std::vector<std::string>& fields) const;
  absl::StatusOr<v1::ImportItem> ResidentItem(const std::vector<std::string>& fields) const;
  absl::StatusOr<v1::ImportItem> StaffItem(const std::vector<std::string>& fields) const;

  FileKind kind_;
  // For each column of ColumnsOf(kind_), its position in the record, or -1.
  std::vector<int> positions_;
};

// "lat lng;lat lng;..." rings separated by '|': the first ring is the outer boundary,
// the others its holes. Every ring needs at least three points. InvalidArgument
// naming `field` otherwise.
absl::Status ParseBoundary(absl::string_view field, absl::string_view text, v1::Region& region);

// true/false/1/0/yes/no in any case; empty is `empty_value`.
absl::StatusOr<bool> ParseBool(absl::string_view field, absl::string_view text, bool empty_value);

}  // namespace gridloop::gridctl

#endif  // GRIDLOOP_TOOLS_GRIDCTL_IMPORT_ROWS_H_
