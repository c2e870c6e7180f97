// gridloop-loadgen: keeps a fixed number of calls in flight against one target and
// reports throughput, status codes and latency percentiles; or, in the fixed-rate modes,
// sends at a set rate and reports latency from each send's due time.
//
//   gridloop-loadgen --target=host:port [--mode=echo] [--concurrency=16]
//                    [--duration=10s] [--warmup=2s] [--timeout=5s] [--json]
//                    [--person=ID --role=ROLE --region=CODE] [mode settings]
//   gridloop-loadgen --mode=loop --target=<incidents> --kafka_brokers=<bootstrap>
//                    [--rate=1000] [--duration=10s] [--warmup=2s] [--grace=30s]
//                    [--partitions=16] [--category=roof_leak] [--location=lat,lng]
//                    [--region_code=CODE] [--fetch_wait_ms=10] [--json]
//   gridloop-loadgen --mode=hop --kafka_brokers=<bootstrap> [--rate=1000]
//                    [--duration=10s] [--topic=gridloop.loadgen.hop.v1]
//                    [--payload_bytes=700] [--kafka_linger=0ms] [--fetch_wait_ms=10] [--json]
//
// Mode settings: echo takes --payload-bytes (default 64). loop: report -> assigned
// (tools/loadgen/loop_mode.h); hop: a bare produce -> consume (tools/loadgen/bare_hop.h).
// Exit status: 0 after a run with no errors, 1 if any call failed (loop: or any report was
// never assigned; hop: or any record was never read), 2 on bad settings or a run that
// could not start.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/config/config.h"
#include "common/log/log.h"
#include "tools/loadgen/bare_hop.h"
#include "tools/loadgen/call_mode.h"
#include "tools/loadgen/load_run.h"
#include "tools/loadgen/loop_mode.h"
#include "tools/loadgen/report.h"

namespace {

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "gridloop-loadgen: %s\n", status.ToString().c_str());
  return 2;
}

// The fixed-rate modes, which pace sends by a schedule rather than by replies.
int RunFixedRate(const std::string& mode, const gridloop::config::Settings& settings) {
  absl::StatusOr<bool> json = settings.GetBool("json", false);
  if (!json.ok()) return Fail(json.status());
  std::string out;
  bool ok = false;
  if (mode == "loop") {
    absl::StatusOr<gridloop::loadgen::LoopOptions> options =
        gridloop::loadgen::LoopOptionsFromSettings(settings);
    if (!options.ok()) return Fail(options.status());
    absl::StatusOr<gridloop::loadgen::LoopResult> result = gridloop::loadgen::RunLoop(*options);
    if (!result.ok()) return Fail(result.status());
    out = *json ? gridloop::loadgen::FormatLoopJson(*options, *result) + "\n"
                : gridloop::loadgen::FormatLoopTable(*options, *result);
    ok = result->ok();
  } else {
    absl::StatusOr<gridloop::loadgen::HopOptions> options =
        gridloop::loadgen::HopOptionsFromSettings(settings);
    if (!options.ok()) return Fail(options.status());
    absl::StatusOr<gridloop::loadgen::HopResult> result = gridloop::loadgen::RunHop(*options);
    if (!result.ok()) return Fail(result.status());
    out = *json ? gridloop::loadgen::FormatHopJson(*options, *result) + "\n"
                : gridloop::loadgen::FormatHopTable(*options, *result);
    ok = result->ok();
  }
  std::printf("%s", out.c_str());
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's Abseil is built with lock-order checking on, which costs every lock a global
  // graph update; the load generator shares the machine it measures, so it keeps to less.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  using gridloop::loadgen::RunOptions;
  gridloop::log::SetService("loadgen");

  absl::StatusOr<gridloop::config::Settings> settings =
      gridloop::config::Settings::FromProcess(argc, argv);
  if (!settings.ok()) return Fail(settings.status());
  const std::string mode_name = settings->Get("mode", "echo");
  if (mode_name == "loop" || mode_name == "hop") return RunFixedRate(mode_name, *settings);
  std::vector<std::string> modes = gridloop::loadgen::CallModeNames();
  if (std::find(modes.begin(), modes.end(), mode_name) == modes.end()) {
    modes.insert(modes.end(), {"hop", "loop"});
    std::sort(modes.begin(), modes.end());
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("mode: \"", mode_name, "\" is not one of ", absl::StrJoin(modes, ", "))));
  }
  std::string target = settings->Get("target");
  if (target.empty()) return Fail(absl::InvalidArgumentError("--target=host:port is required"));
  if (absl::Status ok = gridloop::config::ParseHostPort(target, "target").status(); !ok.ok()) {
    return Fail(ok);
  }

  RunOptions options;
  absl::StatusOr<int64_t> concurrency = settings->GetInt("concurrency", 16);
  if (!concurrency.ok()) return Fail(concurrency.status());
  if (*concurrency < 1 || *concurrency > 100000) {
    return Fail(absl::InvalidArgumentError("concurrency: must be within 1..100000"));
  }
  options.concurrency = static_cast<int>(*concurrency);
  absl::StatusOr<absl::Duration> duration = settings->GetDuration("duration", absl::Seconds(10));
  if (!duration.ok()) return Fail(duration.status());
  absl::StatusOr<absl::Duration> warmup = settings->GetDuration("warmup", absl::Seconds(2));
  if (!warmup.ok()) return Fail(warmup.status());
  absl::StatusOr<absl::Duration> timeout = settings->GetDuration("timeout", absl::Seconds(5));
  if (!timeout.ok()) return Fail(timeout.status());
  if (*duration <= absl::ZeroDuration() || *warmup < absl::ZeroDuration() ||
      *timeout <= absl::ZeroDuration()) {
    return Fail(absl::InvalidArgumentError("duration and timeout must be positive, warmup >= 0"));
  }
  options.duration = *duration;
  options.warmup = *warmup;
  options.call_timeout = *timeout;
  absl::StatusOr<bool> json = settings->GetBool("json", false);
  if (!json.ok()) return Fail(json.status());
  for (const auto& [setting, header] :
       {std::pair{"person", "x-gridloop-person"}, std::pair{"role", "x-gridloop-role"},
        std::pair{"region", "x-gridloop-region"}}) {
    if (settings->Has(setting)) options.headers.emplace_back(header, settings->Get(setting));
  }

  grpc::ChannelArguments args;
  // One connection is what a single client process gets; more would hide per-connection
  // limits the services will meet.
  args.SetMaxReceiveMessageSize(64 << 20);
  gridloop::loadgen::ModeContext context;
  context.channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  context.settings = &*settings;
  absl::StatusOr<std::unique_ptr<gridloop::loadgen::CallMode>> mode =
      gridloop::loadgen::NewCallMode(mode_name, context);
  if (!mode.ok()) return Fail(mode.status());

  if (!context.channel->WaitForConnected(std::chrono::system_clock::now() +
                                         absl::ToChronoMilliseconds(*timeout))) {
    return Fail(absl::UnavailableError(absl::StrCat("cannot connect to ", target)));
  }

  gridloop::loadgen::RunResult result = gridloop::loadgen::RunLoad(**mode, options);
  gridloop::loadgen::RunDescription run{mode_name, target, options.concurrency, options.warmup};
  if (*json) {
    std::printf("%s\n", gridloop::loadgen::FormatJson(run, result).c_str());
  } else {
    std::printf("%s", gridloop::loadgen::FormatTable(run, result).c_str());
  }
  return result.errors() == 0 ? 0 : 1;
}
