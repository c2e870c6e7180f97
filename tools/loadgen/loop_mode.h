#ifndef GRIDLOOP_TOOLS_LOADGEN_LOOP_MODE_H_
#define GRIDLOOP_TOOLS_LOADGEN_LOOP_MODE_H_

// --mode=loop: how fast the loop closes. Reports incidents at a fixed rate to a place the
// running stack's dispatch assigns by itself, reads the incident events, and measures
// from each report's due time to the moment its `assigned` event is read, with the
// `reported` event on the way (the first Kafka hop).

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config/config.h"
#include "tools/loadgen/open_loop.h"

namespace gridloop::loadgen {

struct LoopOptions {
  std::string target;   // the incidents service
  std::string brokers;  // Kafka bootstrap list
  std::string topic = "gridloop.incident.events.v1";
  // Partitions of `topic`, all read without joining a group.
  int partitions = 16;
  OpenLoopOptions load;
  // How long after the last report to wait for the last `assigned` event.
  absl::Duration grace = absl::Seconds(30);
  absl::Duration call_timeout = absl::Seconds(5);
  // The reader's fetch.wait.max.ms; ConsumerOptions's when negative. Set it as the
  // services' GRIDLOOP_KAFKA_FETCH_WAIT, so the last hop costs what theirs do.
  int fetch_wait_ms = -1;
  // What is reported, and where: by default a roof leak at the location `gridctl demo
  // --by_location` uses, which the seed street's grid worker on duty is given by dispatch
  // (the residents service finds the grid). With `region_code` set the report names its
  // grid instead and residents is not asked.
  std::string category = "roof_leak";
  double latitude = 30.2675;
  double longitude = 120.0828;
  std::string region_code;
  // Identity headers of every report: a hotline operator unless --person/--role say else.
  std::vector<std::pair<std::string, std::string>> headers;
};

// --target, --kafka_brokers (GRIDLOOP_KAFKA_BROKERS), --incident_topic, --partitions,
// --grace, --timeout, --fetch_wait_ms, --category, --location=lat,lng, --region_code,
// --person, --role, --region and the OpenLoopOptions settings. InvalidArgument naming the setting.
absl::StatusOr<LoopOptions> LoopOptionsFromSettings(const config::Settings& settings);

struct LoopResult {
  absl::Duration measured;                  // the measured window (reports due within it count)
  int64_t reported = 0;                     // reports due in the window
  int64_t failed = 0;                       // of those, refused or timed out
  std::map<std::string, int64_t> failures;  // by status code name
  int64_t reported_events = 0;              // accepted reports whose `reported` event was read
  int64_t assigned = 0;                     // ... whose `assigned` event was read
  int64_t unassigned = 0;                   // accepted, no `assigned` event within the grace
  // From the report's due time (monotonic clock): to its call's start (the load
  // generator's own lateness), its reply, its `reported` event, its `assigned` event.
  Distribution sender_lag;
  Distribution call;
  Distribution to_reported;
  Distribution to_assigned;
  // Where the time goes, from the timestamps the events carry (wall clock of the one
  // machine; a Kafka record's is in whole milliseconds): incidents' write to the relay's
  // produce of `reported`; that produce to this reader; to incidents' assign step
  // (dispatch reading and deciding); the assign step to the produce of `assigned`; that
  // produce to this reader.
  Distribution relay_reported;
  Distribution hop_reported;
  Distribution dispatch;
  Distribution relay_assigned;
  Distribution hop_assigned;
  double event_bytes = 0;  // mean size of the `reported` events read
  // The run in windows of `timeline_window` by due time: whether report -> assigned grows
  // through the run (a stage slower than the rate: a queue) or jumps now and then (stalls),
  // and which stage does it.
  struct Window {
    Distribution to_assigned;
    Distribution relay_reported;
    Distribution dispatch;
    Distribution relay_assigned;
    Distribution hop_reported;
    Distribution hop_assigned;
  };
  absl::Duration timeline_window;
  std::vector<Window> timeline;

  bool ok() const { return failed == 0 && unassigned == 0; }
};

// Runs the loop against a live stack. Errors: InvalidArgument for bad options,
// Unavailable when the consumer cannot be created or the target is unreachable,
// DeadlineExceeded when no warm-up report was assigned in time (nothing measured).
absl::StatusOr<LoopResult> RunLoop(const LoopOptions& options);

// A few aligned lines for a terminal / one JSON object on one line.
std::string FormatLoopTable(const LoopOptions& options, const LoopResult& result);
std::string FormatLoopJson(const LoopOptions& options, const LoopResult& result);

}  // namespace gridloop::loadgen

#endif  // GRIDLOOP_TOOLS_LOADGEN_LOOP_MODE_H_
