#include "tools/loadgen/bare_hop.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/kafka/consumer.h"
#include "common/kafka/producer.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"

namespace gridloop::loadgen {
namespace {

constexpr char kTagPrefix[] = "hop";

enum Milestone : int { kDue = 0, kStarted, kAcked, kConsumed, kMilestoneCount };

int FetchWaitMs(const HopOptions& options) {
  return options.fetch_wait_ms < 0 ? kafka::ConsumerOptions().fetch_wait_max_ms
                                   : options.fetch_wait_ms;
}

}  // namespace

absl::StatusOr<HopOptions> HopOptionsFromSettings(const config::Settings& settings) {
  HopOptions o;
  o.brokers = settings.Get("kafka_brokers");
  if (o.brokers.empty()) {
    return absl::InvalidArgumentError("kafka_brokers: required (or GRIDLOOP_KAFKA_BROKERS)");
  }
  o.topic = settings.Get("topic", o.topic);
  if (o.topic.empty()) return absl::InvalidArgumentError("topic: must not be empty");
  ASSIGN_OR_RETURN(const int64_t partitions, settings.GetInt("partitions", o.partitions));
  if (partitions < 1 || partitions > 10000) {
    return absl::InvalidArgumentError("partitions: must be within 1..10000");
  }
  o.partitions = static_cast<int>(partitions);
  ASSIGN_OR_RETURN(o.load, OpenLoopOptionsFromSettings(settings));
  ASSIGN_OR_RETURN(o.grace, settings.GetDuration("grace", o.grace));
  if (o.grace <= absl::ZeroDuration()) return absl::InvalidArgumentError("grace: must be positive");
  ASSIGN_OR_RETURN(const int64_t bytes, settings.GetInt("payload_bytes", o.payload_bytes));
  if (bytes < 0 || bytes > (1 << 20)) {
    return absl::InvalidArgumentError("payload_bytes: must be within 0..1048576");
  }
  o.payload_bytes = static_cast<int>(bytes);
  ASSIGN_OR_RETURN(o.linger, settings.GetDuration("kafka_linger", o.linger));
  if (o.linger < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("kafka_linger: must not be negative");
  }
  ASSIGN_OR_RETURN(const int64_t fetch_wait, settings.GetInt("fetch_wait_ms", o.fetch_wait_ms));
  if (fetch_wait > 60'000) return absl::InvalidArgumentError("fetch_wait_ms: at most 60000");
  o.fetch_wait_ms = static_cast<int>(fetch_wait);
  return o;
}

absl::StatusOr<HopResult> RunHop(const HopOptions& options) {
  const std::string run = absl::StrCat(absl::ToUnixNanos(absl::Now()));
  // Outlives the producer's and consumer's callbacks: both are stopped before it goes.
  auto ledger = std::make_shared<Ledger>(kMilestoneCount);

  kafka::ConsumerOptions copts;
  copts.brokers = options.brokers;
  copts.group_id = absl::StrCat("gridloop-loadgen-hop-", run);
  for (int p = 0; p < options.partitions; ++p) copts.assign.emplace_back(options.topic, p);
  copts.start_offset = -1;  // as the loop's reader: only what is produced from now on
  copts.max_attempts = 1;
  if (options.fetch_wait_ms >= 0) copts.fetch_wait_max_ms = options.fetch_wait_ms;
  ASSIGN_OR_RETURN(std::unique_ptr<kafka::Consumer> consumer,
                   kafka::Consumer::Create(copts, [ledger, run](const kafka::Record& r) {
                     const int64_t now = MonotonicNanos();
                     if (std::optional<int64_t> seq = ParseItemTag(r.key, kTagPrefix, run)) {
                       ledger->Mark(*seq, kConsumed, now);
                     }
                     return absl::OkStatus();
                   }));
  consumer->Start();

  kafka::ProducerOptions popts;
  popts.brokers = options.brokers;
  popts.linger = options.linger;
  ASSIGN_OR_RETURN(std::unique_ptr<kafka::Producer> producer, kafka::Producer::Create(popts));

  const std::string value(static_cast<size_t>(options.payload_bytes), 'x');
  OpenLoopOptions load = options.load;
  load.ready_milestone = kConsumed;
  absl::Status sent = RunOpenLoop(load, *ledger, [&](int64_t seq) {
    // The key is the tag, about as long as an incident id, and spreads records over the
    // partitions as incident ids do.
    const std::string key = ItemTag(kTagPrefix, run, seq);
    ledger->Mark(seq, kStarted, MonotonicNanos());
    absl::Status queued =
        producer->Produce(options.topic, key, value, {}, [ledger, seq](const absl::Status& s) {
          if (s.ok()) {
            ledger->Mark(seq, kAcked, MonotonicNanos());
          } else {
            ledger->Fail(seq, absl::StatusCodeToString(s.code()));
          }
        });
    if (!queued.ok()) ledger->Fail(seq, absl::StatusCodeToString(queued.code()));
  });
  if (sent.ok()) (void)AwaitMilestone(*ledger, kConsumed, options.grace);
  // Delivery reports of records still queued run here, before the ledger is read.
  producer.reset();
  consumer->Stop();
  RETURN_IF_ERROR(sent);

  HopResult result;
  result.measured = options.load.duration;
  result.sent = ledger->measured();
  result.failed = ledger->failed();
  result.failures = ledger->failures();
  result.acked = ledger->Reached(kAcked);
  result.consumed = ledger->Reached(kConsumed);
  result.lost = ledger->Missing(kConsumed);
  result.sender_lag = ledger->Between(kDue, kStarted);
  result.acked_after = ledger->Between(kDue, kAcked);
  result.latency = ledger->Between(kDue, kConsumed);
  return result;
}

std::string FormatHopTable(const HopOptions& options, const HopResult& result) {
  std::string out;
  absl::StrAppendFormat(&out, "%-12s %s\n", "mode", "hop (produce -> consume)");
  absl::StrAppendFormat(&out, "%-12s %s (%d partitions) at %s, linger %s, fetch wait %dms\n",
                        "topic", options.topic, options.partitions, options.brokers,
                        absl::FormatDuration(options.linger), FetchWaitMs(options));
  absl::StrAppendFormat(
      &out, "%-12s %.0f records/s of %d bytes for %.2f s (after %.2f s warm-up)\n", "load",
      options.load.rate, options.payload_bytes, absl::ToDoubleSeconds(result.measured),
      absl::ToDoubleSeconds(options.load.warmup));
  absl::StrAppendFormat(&out, "%-12s %d, failed %d, acknowledged %d, read %d, lost %d\n", "sent",
                        result.sent, result.failed, result.acked, result.consumed, result.lost);
  for (const auto& [code, count] : result.failures) {
    absl::StrAppendFormat(&out, "  %-20s %d\n", code, count);
  }
  AppendHeading(&out, "from each record's due time (ms)");
  AppendRow(&out, "Produce() called", result.sender_lag);
  AppendRow(&out, "delivery report", result.acked_after);
  AppendRow(&out, "read by the consumer", result.latency);
  return out;
}

std::string FormatHopJson(const HopOptions& options, const HopResult& result) {
  const std::string failures = FailuresJson(result.failures);
  return absl::StrCat(
      absl::StrFormat(
          R"({"mode":"hop","topic":"%s","rate":%.0f,"payload_bytes":%d,"linger_ms":%.3f,)"
          R"("fetch_wait_ms":%d,)"
          R"("measured_s":%.3f,"sent":%d,"failed":%d,"failures":{%s},"acked":%d,)"
          R"("consumed":%d,"lost":%d,)",
          log::JsonEscape(options.topic), options.load.rate, options.payload_bytes,
          absl::ToDoubleMilliseconds(options.linger), FetchWaitMs(options),
          absl::ToDoubleSeconds(result.measured), result.sent, result.failed, failures,
          result.acked, result.consumed, result.lost),
      R"("sender_lag_ms":)", JsonOf(result.sender_lag), R"(,"acked_ms":)",
      JsonOf(result.acked_after), R"(,"latency_ms":)", JsonOf(result.latency), "}");
}

}  // namespace gridloop::loadgen
