#ifndef GRIDLOOP_COMMON_KAFKA_REPLAY_H_
#define GRIDLOOP_COMMON_KAFKA_REPLAY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/kafka/record.h"

namespace gridloop::kafka {

struct ReplayOptions {
  std::string brokers;              // required
  std::vector<std::string> topics;  // required; every partition of each is read
  int fetch_wait_max_ms = 10;
  // Give up when the broker cannot be reached for this long in a row.
  absl::Duration stall_timeout = absl::Seconds(60);
  std::map<std::string, std::string> extra;  // further librdkafka properties
};

// Where a replay stands: records handed to the handler so far, of `total`.
struct ReplayProgress {
  int64_t done = 0;
  int64_t total = 0;
};

// Reads every record the topics hold now, from the earliest retained offset up to the end
// as it is when Replay starts (records produced later are not read), in order within each
// partition, without joining a consumer group or committing anything. The handler's first
// error stops the replay and is returned. `stop` (optional) aborts it with Cancelled;
// `progress` (optional) is updated as records are handled.
absl::StatusOr<ReplayProgress> Replay(const ReplayOptions& options,
                                      const std::function<absl::Status(const Record&)>& handler,
                                      const std::atomic<bool>* stop = nullptr,
                                      std::atomic<int64_t>* progress = nullptr);

}  // namespace gridloop::kafka

#endif  // GRIDLOOP_COMMON_KAFKA_REPLAY_H_
