#ifndef GRIDLOOP_SERVICES_INCIDENTS_RESIDENT_DIRECTORY_H_
#define GRIDLOOP_SERVICES_INCIDENTS_RESIDENT_DIRECTORY_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace gridloop::incidents {

// What incidents asks the residents service. Unavailable or DeadlineExceeded when it
// cannot answer now (a report is then accepted and completed later, never lost).
class ResidentDirectory {
 public:
  virtual ~ResidentDirectory() = default;
  // The code of the grid that covered the point at `at`; nullopt when no grid does.
  virtual absl::StatusOr<std::optional<std::string>> LocateGrid(double latitude, double longitude,
                                                                absl::Time at) = 0;
  // The grid that covered the point at `at` if it is known without asking (an answer kept
  // from an earlier call); nullopt otherwise. Never blocks.
  virtual std::optional<std::string> KnownGrid(double latitude, double longitude, absl::Time at) {
    (void)latitude;
    (void)longitude;
    (void)at;
    return std::nullopt;
  }
  // Whether a resident with this id is in the ledger.
  virtual absl::StatusOr<bool> ResidentExists(absl::string_view resident_id) = 0;
};

}  // namespace gridloop::incidents

#endif  // GRIDLOOP_SERVICES_INCIDENTS_RESIDENT_DIRECTORY_H_
