// gridloop-echo-server: the server bootstrap with nothing behind it, the baseline a
// service's load test is compared with.
//
//   gridloop-echo-server [--listen=127.0.0.1:0] [--metrics-listen=host:port]
//                        [--threads=4] [--queue=4096] [--drain-timeout=5s]
//
// Prints `listening=<port>` on stdout once serving; exits 0 after SIGTERM/SIGINT.

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/config/config.h"
#include "common/log/log.h"
#include "common/server/executor.h"
#include "common/server/metrics.h"
#include "common/server/server.h"
#include "tools/loadgen/echo_service.h"

namespace {

int Fail(const absl::Status& status) {
  gridloop::log::Error("cannot start", {{"error", status.ToString()}});
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  gridloop::server::PrepareProcess();
  gridloop::log::SetService("echo");

  absl::StatusOr<gridloop::config::Settings> settings =
      gridloop::config::Settings::FromProcess(argc, argv);
  if (!settings.ok()) return Fail(settings.status());
  absl::StatusOr<int64_t> threads = settings->GetInt("threads", 4);
  if (!threads.ok()) return Fail(threads.status());
  absl::StatusOr<int64_t> queue = settings->GetInt("queue", 4096);
  if (!queue.ok()) return Fail(queue.status());
  absl::StatusOr<absl::Duration> drain = settings->GetDuration("drain_timeout", absl::Seconds(5));
  if (!drain.ok()) return Fail(drain.status());
  if (*threads < 1 || *queue < 1) {
    return Fail(absl::InvalidArgumentError("threads and queue must be at least 1"));
  }

  gridloop::server::Executor executor(static_cast<int>(*threads), static_cast<size_t>(*queue));
  gridloop::loadgen::EchoServiceImpl echo(&executor);
  gridloop::server::Metrics metrics;

  gridloop::server::ServerOptions options;
  options.service_name = "echo";
  options.health_services = {"gridloop.bench.v1.EchoService"};
  options.listen = settings->Get("listen", "127.0.0.1:0");
  options.metrics_listen = settings->Get("metrics_listen");
  options.drain_timeout = *drain;
  absl::StatusOr<std::unique_ptr<gridloop::server::Server>> server =
      gridloop::server::Server::Start(options, {&echo}, &metrics);
  if (!server.ok()) return Fail(server.status());
  (*server)->OnShutdown([&executor] { executor.Shutdown(); });

  std::printf("listening=%d\n", (*server)->port());
  std::fflush(stdout);
  (*server)->Wait();
  return 0;
}
