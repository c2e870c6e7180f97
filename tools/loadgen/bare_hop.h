#ifndef GRIDLOOP_TOOLS_LOADGEN_BARE_HOP_H_
#define GRIDLOOP_TOOLS_LOADGEN_BARE_HOP_H_

// --mode=hop: the floor under any Kafka hop of the loop. Produces records of an event's
// size at a fixed rate through the project's kafka::Producer and reads them back through
// its kafka::Consumer, both with the settings the services use, and measures from each
// record's due time to the moment it is read.

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config/config.h"
#include "tools/loadgen/open_loop.h"

namespace gridloop::loadgen {

struct HopOptions {
  std::string brokers;
  // A topic of its own, so that the services never see these records.
  std::string topic = "gridloop.loadgen.hop.v1";
  int partitions = 16;  // all read without joining a group
  OpenLoopOptions load;
  absl::Duration grace = absl::Seconds(30);
  // About the size of a `reported` incident event.
  int payload_bytes = 700;
  // The outbox relays' producer batching delay (GRIDLOOP_KAFKA_LINGER, 0 by default).
  absl::Duration linger = absl::ZeroDuration();
  // The consumer's fetch.wait.max.ms; the services' (ConsumerOptions's) when negative. For
  // diagnosis: the dev broker holds every empty fetch this long, so each hop pays up to it.
  int fetch_wait_ms = -1;
};

// --kafka_brokers (GRIDLOOP_KAFKA_BROKERS), --topic, --partitions, --grace,
// --payload_bytes, --kafka_linger, --fetch_wait_ms and the OpenLoopOptions settings.
// InvalidArgument naming the setting.
absl::StatusOr<HopOptions> HopOptionsFromSettings(const config::Settings& settings);

struct HopResult {
  absl::Duration measured;
  int64_t sent = 0;    // records due in the measured window
  int64_t failed = 0;  // refused by the producer or not delivered
  std::map<std::string, int64_t> failures;
  int64_t acked = 0;     // delivered (the broker acknowledged them)
  int64_t consumed = 0;  // read back
  int64_t lost = 0;      // delivered or pending, never read within the grace
  // From each record's due time (monotonic clock) to: its Produce() call, its delivery
  // report, the moment the consumer handed it over.
  Distribution sender_lag;
  Distribution acked_after;
  Distribution latency;

  bool ok() const { return failed == 0 && lost == 0; }
};

// Errors: InvalidArgument for bad options; whatever creating the producer or consumer
// returned; DeadlineExceeded when no warm-up record was read in time.
absl::StatusOr<HopResult> RunHop(const HopOptions& options);

std::string FormatHopTable(const HopOptions& options, const HopResult& result);
std::string FormatHopJson(const HopOptions& options, const HopResult& result);

}  // namespace gridloop::loadgen

#endif  // GRIDLOOP_TOOLS_LOADGEN_BARE_HOP_H_
