#include "tools/loadgen/loop_mode.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/kafka/consumer.h"
#include "common/log/log.h"
#include "common/server/metrics.h"
#include "common/status/status_macros.h"
#include "gridloop/v1/events.pb.h"
#include "gridloop/v1/incidents.grpc.pb.h"

namespace gridloop::loadgen {
namespace {

namespace v1 = ::gridloop::v1;

constexpr char kTagPrefix[] = "loop";

// A report's milestones. The first five are on the monotonic clock; the rest are wall
// clock readings taken from the events, only ever subtracted from one another.
enum Milestone : int {
  kDue = 0,
  kStarted,
  kAnswered,
  kReportedSeen,
  kAssignedSeen,
  kReportedAt,        // the snapshot's reported_at (incidents' clock)
  kReportedProduced,  // the `reported` record's timestamp (the relay's produce call)
  kReportedSeenWall,
  kAssignedAt,  // the snapshot's assigned_at
  kAssignedProduced,
  kAssignedSeenWall,
  kMilestoneCount,
};

int64_t TimestampNanos(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1'000'000'000 + t.nanos();
}

// Shared by the run and every call and record in flight.
struct State {
  State() : ledger(kMilestoneCount) {}

  void CallEnded() {
    absl::MutexLock lock(&mu);
    --in_flight;
  }

  Ledger ledger;
  std::atomic<int64_t> event_bytes{0};
  std::atomic<int64_t> events_sized{0};
  absl::Mutex mu;
  int64_t in_flight ABSL_GUARDED_BY(mu) = 0;
};

// Records what an incident event says about one of this run's reports; anything else on
// the topic is skipped. Never fails: an error would send the record to the DLQ.
void Observe(State& state, absl::string_view run, const kafka::Record& record) {
  const int64_t seen = MonotonicNanos();
  const int64_t seen_wall = absl::ToUnixNanos(absl::Now());
  v1::IncidentEvent event;
  if (!event.ParseFromString(record.value)) return;
  std::optional<int64_t> seq = ParseItemTag(event.incident().external_ref(), kTagPrefix, run);
  if (!seq.has_value()) return;
  const bool stamped = record.timestamp != absl::UnixEpoch();
  Ledger& ledger = state.ledger;
  switch (event.type()) {
    case v1::INCIDENT_EVENT_TYPE_REPORTED:
      if (!ledger.Mark(*seq, kReportedSeen, seen)) return;  // a redelivery
      ledger.Mark(*seq, kReportedSeenWall, seen_wall);
      ledger.Mark(*seq, kReportedAt, TimestampNanos(event.incident().reported_at()));
      if (stamped) ledger.Mark(*seq, kReportedProduced, absl::ToUnixNanos(record.timestamp));
      state.event_bytes += static_cast<int64_t>(record.value.size());
      ++state.events_sized;
      return;
    case v1::INCIDENT_EVENT_TYPE_ASSIGNED:
      if (!ledger.Mark(*seq, kAssignedSeen, seen)) return;
      ledger.Mark(*seq, kAssignedSeenWall, seen_wall);
      ledger.Mark(*seq, kAssignedAt, TimestampNanos(event.incident().assigned_at()));
      if (stamped) ledger.Mark(*seq, kAssignedProduced, absl::ToUnixNanos(record.timestamp));
      return;
    default:
      return;
  }
}

v1::ReportIncidentRequest Prototype(const LoopOptions& options) {
  v1::ReportIncidentRequest r;
  r.set_category(options.category);
  r.set_title("3号楼顶楼漏水");
  r.set_description("昨夜大雨后 3 号楼 6 楼天花板渗水，住户放了水桶接水。");
  r.set_channel(v1::CHANNEL_HOTLINE);
  r.mutable_location()->set_latitude(options.latitude);
  r.mutable_location()->set_longitude(options.longitude);
  r.set_address("西湖区文新街道 3 号楼 2 单元 601");
  r.set_region_code(options.region_code);
  r.mutable_reporter()->set_name("王女士");
  r.mutable_reporter()->set_phone("13800138000");
  return r;
}

// "timeline":{"window_s":W,"windows":[{"from_s":..,"assigned":{..},"relay_reported":{..},
// ...}]}
std::string TimelineJson(const LoopResult& result) {
  std::string out = absl::StrFormat(R"("timeline":{"window_s":%.0f,"windows":[)",
                                    absl::ToDoubleSeconds(result.timeline_window));
  for (size_t w = 0; w < result.timeline.size(); ++w) {
    const LoopResult::Window& window = result.timeline[w];
    absl::StrAppend(
        &out, w == 0 ? "" : ",", "{",
        absl::StrFormat(R"("from_s":%.0f)",
                        absl::ToDoubleSeconds(result.timeline_window) * static_cast<double>(w)),
        R"(,"assigned":)", JsonOf(window.to_assigned), R"(,"relay_reported":)",
        JsonOf(window.relay_reported), R"(,"hop_reported":)", JsonOf(window.hop_reported),
        R"(,"dispatch":)", JsonOf(window.dispatch), R"(,"relay_assigned":)",
        JsonOf(window.relay_assigned), R"(,"hop_assigned":)", JsonOf(window.hop_assigned), "}");
  }
  absl::StrAppend(&out, "]}");
  return out;
}

}  // namespace

absl::StatusOr<LoopOptions> LoopOptionsFromSettings(const config::Settings& settings) {
  LoopOptions o;
  o.target = settings.Get("target");
  if (o.target.empty()) return absl::InvalidArgumentError("--target=host:port is required");
  RETURN_IF_ERROR(config::ParseHostPort(o.target, "target").status());
  o.brokers = settings.Get("kafka_brokers");
  if (o.brokers.empty()) {
    return absl::InvalidArgumentError("kafka_brokers: required (or GRIDLOOP_KAFKA_BROKERS)");
  }
  o.topic = settings.Get("incident_topic", o.topic);
  ASSIGN_OR_RETURN(const int64_t partitions, settings.GetInt("partitions", o.partitions));
  if (partitions < 1 || partitions > 10000) {
    return absl::InvalidArgumentError("partitions: must be within 1..10000");
  }
  o.partitions = static_cast<int>(partitions);
  ASSIGN_OR_RETURN(o.load, OpenLoopOptionsFromSettings(settings));
  ASSIGN_OR_RETURN(o.grace, settings.GetDuration("grace", o.grace));
  ASSIGN_OR_RETURN(o.call_timeout, settings.GetDuration("timeout", o.call_timeout));
  if (o.grace <= absl::ZeroDuration() || o.call_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("grace and timeout must be positive");
  }
  ASSIGN_OR_RETURN(const int64_t fetch_wait, settings.GetInt("fetch_wait_ms", o.fetch_wait_ms));
  if (fetch_wait > 60'000) return absl::InvalidArgumentError("fetch_wait_ms: at most 60000");
  o.fetch_wait_ms = static_cast<int>(fetch_wait);
  o.category = settings.Get("category", o.category);
  if (o.category.empty()) return absl::InvalidArgumentError("category: required");
  o.region_code = settings.Get("region_code");
  if (settings.Has("location")) {
    std::vector<std::string> ll = absl::StrSplit(settings.Get("location"), ',');
    if (ll.size() != 2 || !absl::SimpleAtod(ll[0], &o.latitude) ||
        !absl::SimpleAtod(ll[1], &o.longitude)) {
      return absl::InvalidArgumentError("location: expected lat,lng");
    }
  }
  o.headers.emplace_back("x-gridloop-person", settings.Get("person", "hotline-01"));
  o.headers.emplace_back("x-gridloop-role", settings.Get("role", "operator"));
  if (settings.Has("region")) o.headers.emplace_back("x-gridloop-region", settings.Get("region"));
  return o;
}

absl::StatusOr<LoopResult> RunLoop(const LoopOptions& options) {
  const std::string run = absl::StrCat(absl::ToUnixNanos(absl::Now()));
  auto state = std::make_shared<State>();

  kafka::ConsumerOptions copts;
  copts.brokers = options.brokers;
  copts.group_id = absl::StrCat("gridloop-loadgen-loop-", run);
  for (int p = 0; p < options.partitions; ++p) copts.assign.emplace_back(options.topic, p);
  // Only what is published from now on; the warm-up proves the reader is positioned
  // before anything is measured.
  copts.start_offset = -1;
  copts.max_attempts = 1;
  if (options.fetch_wait_ms >= 0) copts.fetch_wait_max_ms = options.fetch_wait_ms;
  ASSIGN_OR_RETURN(std::unique_ptr<kafka::Consumer> consumer,
                   kafka::Consumer::Create(copts, [state, run](const kafka::Record& r) {
                     Observe(*state, run, r);
                     return absl::OkStatus();
                   }));
  consumer->Start();

  grpc::ChannelArguments args;
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                 absl::ToChronoMilliseconds(options.call_timeout))) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", options.target));
  }
  std::unique_ptr<v1::IncidentService::Stub> stub = v1::IncidentService::NewStub(channel);
  const v1::ReportIncidentRequest prototype = Prototype(options);

  struct Call {
    grpc::ClientContext ctx;
    v1::ReportIncidentRequest request;
    v1::IncidentResponse response;
  };
  // Measuring starts once a warm-up report was assigned and its event read here: every
  // process on the path is live and this reader is positioned.
  OpenLoopOptions load = options.load;
  load.ready_milestone = kAssignedSeen;
  absl::Status sent = RunOpenLoop(load, state->ledger, [&](int64_t seq) {
    auto* call = new Call;
    call->ctx.set_deadline(std::chrono::system_clock::now() +
                           absl::ToChronoNanoseconds(options.call_timeout));
    for (const auto& [key, value] : options.headers) call->ctx.AddMetadata(key, value);
    call->request = prototype;
    const std::string tag = ItemTag(kTagPrefix, run, seq);
    call->request.set_request_id(tag);
    call->request.set_external_ref(tag);
    {
      absl::MutexLock lock(&state->mu);
      ++state->in_flight;
    }
    state->ledger.Mark(seq, kStarted, MonotonicNanos());
    stub->async()->ReportIncident(&call->ctx, &call->request, &call->response,
                                  [state, call, seq](const grpc::Status& status) {
                                    if (status.ok()) {
                                      state->ledger.Mark(seq, kAnswered, MonotonicNanos());
                                    } else {
                                      state->ledger.Fail(
                                          seq, server::StatusCodeName(status.error_code()));
                                    }
                                    delete call;
                                    state->CallEnded();
                                  });
  });
  if (sent.ok()) (void)AwaitMilestone(state->ledger, kAssignedSeen, options.grace);
  {
    // Every call has a deadline, so this ends; the stub must outlive them.
    absl::MutexLock lock(&state->mu);
    auto ended = [&state]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) { return state->in_flight == 0; };
    state->mu.Await(absl::Condition(&ended));
  }
  consumer->Stop();
  RETURN_IF_ERROR(sent);

  const Ledger& ledger = state->ledger;
  LoopResult result;
  result.measured = options.load.duration;
  result.reported = ledger.measured();
  result.failed = ledger.failed();
  result.failures = ledger.failures();
  result.reported_events = ledger.Reached(kReportedSeen);
  result.assigned = ledger.Reached(kAssignedSeen);
  result.unassigned = ledger.Missing(kAssignedSeen);
  result.sender_lag = ledger.Between(kDue, kStarted);
  result.call = ledger.Between(kDue, kAnswered);
  result.to_reported = ledger.Between(kDue, kReportedSeen);
  result.to_assigned = ledger.Between(kDue, kAssignedSeen);
  result.relay_reported = ledger.Between(kReportedAt, kReportedProduced);
  result.hop_reported = ledger.Between(kReportedProduced, kReportedSeenWall);
  result.dispatch = ledger.Between(kReportedProduced, kAssignedAt);
  result.relay_assigned = ledger.Between(kAssignedAt, kAssignedProduced);
  result.hop_assigned = ledger.Between(kAssignedProduced, kAssignedSeenWall);
  // About ten windows, in whole seconds.
  result.timeline_window =
      std::max(absl::Seconds(1), absl::Seconds(absl::ToInt64Seconds(options.load.duration / 10)));
  const auto by_due = [&](int from, int to) {
    return ledger.BetweenByDue(from, to, result.timeline_window);
  };
  const std::vector<Distribution> to_assigned = by_due(kDue, kAssignedSeen);
  const std::vector<Distribution> relay_reported = by_due(kReportedAt, kReportedProduced);
  const std::vector<Distribution> dispatch = by_due(kReportedProduced, kAssignedAt);
  const std::vector<Distribution> relay_assigned = by_due(kAssignedAt, kAssignedProduced);
  const std::vector<Distribution> hop_reported = by_due(kReportedProduced, kReportedSeenWall);
  const std::vector<Distribution> hop_assigned = by_due(kAssignedProduced, kAssignedSeenWall);
  result.timeline.resize(to_assigned.size());
  for (size_t w = 0; w < to_assigned.size(); ++w) {
    LoopResult::Window& window = result.timeline[w];
    window.to_assigned = to_assigned[w];
    // Every list has a window for every due window (items are windowed alike).
    window.relay_reported = relay_reported[w];
    window.dispatch = dispatch[w];
    window.relay_assigned = relay_assigned[w];
    window.hop_reported = hop_reported[w];
    window.hop_assigned = hop_assigned[w];
  }
  if (const int64_t n = state->events_sized.load(); n > 0) {
    result.event_bytes = static_cast<double>(state->event_bytes.load()) / static_cast<double>(n);
  }
  return result;
}

std::string FormatLoopTable(const LoopOptions& options, const LoopResult& result) {
  std::string out;
  absl::StrAppendFormat(&out, "%-12s %s\n", "mode", "loop (report -> assigned)");
  absl::StrAppendFormat(&out, "%-12s %s, events from %s (%d partitions)\n", "target",
                        options.target, options.topic, options.partitions);
  absl::StrAppendFormat(&out, "%-12s %.0f reports/s for %.2f s (after %.2f s warm-up)\n", "load",
                        options.load.rate, absl::ToDoubleSeconds(result.measured),
                        absl::ToDoubleSeconds(options.load.warmup));
  absl::StrAppendFormat(&out, "%-12s %d, failed %d\n", "reported", result.reported, result.failed);
  for (const auto& [code, count] : result.failures) {
    absl::StrAppendFormat(&out, "  %-20s %d\n", code, count);
  }
  absl::StrAppendFormat(&out, "%-12s %d reported events, %d assigned events\n", "read",
                        result.reported_events, result.assigned);
  absl::StrAppendFormat(&out, "%-12s %d (after a %.0f s grace)\n", "unassigned", result.unassigned,
                        absl::ToDoubleSeconds(options.grace));
  absl::StrAppendFormat(&out, "%-12s %.0f bytes\n", "event size", result.event_bytes);
  AppendHeading(&out, "from each report's due time (ms)");
  AppendRow(&out, "call started (sender lag)", result.sender_lag);
  AppendRow(&out, "ReportIncident answered", result.call);
  AppendRow(&out, "reported event read", result.to_reported);
  AppendRow(&out, "assigned event read", result.to_assigned);
  AppendHeading(&out, "where the time goes (ms)");
  AppendRow(&out, "reported_at -> relay produce", result.relay_reported);
  AppendRow(&out, "produce -> read (hop 1)", result.hop_reported);
  AppendRow(&out, "produce -> assigned_at (dispatch)", result.dispatch);
  AppendRow(&out, "assigned_at -> relay produce", result.relay_assigned);
  AppendRow(&out, "produce -> read (hop 2)", result.hop_assigned);
  absl::StrAppendFormat(&out, "timeline (p99 ms of reports due in each %s window)\n",
                        absl::FormatDuration(result.timeline_window));
  absl::StrAppendFormat(&out, "  %8s %8s %9s %9s %9s %9s %9s %9s\n", "from s", "n", "assigned",
                        "relay 1", "hop 1", "dispatch", "relay 2", "hop 2");
  for (size_t w = 0; w < result.timeline.size(); ++w) {
    const LoopResult::Window& window = result.timeline[w];
    absl::StrAppendFormat(&out, "  %8.0f %8d %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f\n",
                          absl::ToDoubleSeconds(result.timeline_window) * static_cast<double>(w),
                          window.to_assigned.count(), window.to_assigned.Ms(0.99),
                          window.relay_reported.Ms(0.99), window.hop_reported.Ms(0.99),
                          window.dispatch.Ms(0.99), window.relay_assigned.Ms(0.99),
                          window.hop_assigned.Ms(0.99));
  }
  return out;
}

std::string FormatLoopJson(const LoopOptions& options, const LoopResult& result) {
  const std::string failures = FailuresJson(result.failures);
  return absl::StrCat(
      absl::StrFormat(
          R"({"mode":"loop","target":"%s","rate":%.0f,"measured_s":%.3f,"reported":%d,)"
          R"("failed":%d,"failures":{%s},"reported_events":%d,"assigned":%d,"unassigned":%d,)"
          R"("event_bytes":%.0f,)",
          log::JsonEscape(options.target), options.load.rate,
          absl::ToDoubleSeconds(result.measured), result.reported, result.failed, failures,
          result.reported_events, result.assigned, result.unassigned, result.event_bytes),
      R"("sender_lag_ms":)", JsonOf(result.sender_lag), R"(,"call_ms":)", JsonOf(result.call),
      R"(,"reported_ms":)", JsonOf(result.to_reported), R"(,"assigned_ms":)",
      JsonOf(result.to_assigned), R"(,"segments_ms":{"relay_reported":)",
      JsonOf(result.relay_reported), R"(,"hop_reported":)", JsonOf(result.hop_reported),
      R"(,"dispatch":)", JsonOf(result.dispatch), R"(,"relay_assigned":)",
      JsonOf(result.relay_assigned), R"(,"hop_assigned":)", JsonOf(result.hop_assigned), "},",
      TimelineJson(result), "}");
}

}  // namespace gridloop::loadgen
