// gridloop-assessment: the three rates, scores and stars, folded from the event log.
#include <cstdio>

#include "common/clock/clock.h"
#include "common/config/config.h"
#include "common/log/log.h"
#include "common/server/server.h"
#include "services/assessment/app.h"

int main(int argc, char** argv) {
  // Before any thread exists, so the server's signal thread is the only one to see them.
  gridloop::server::PrepareProcess();
  gridloop::log::SetService("assessment");

  absl::StatusOr<gridloop::config::Settings> settings =
      gridloop::config::Settings::FromProcess(argc, argv);
  if (!settings.ok()) {
    gridloop::log::Error("bad configuration", {{"error", settings.status().ToString()}});
    return 2;
  }
  absl::StatusOr<gridloop::assessment::AppConfig> config =
      gridloop::assessment::AppConfig::FromSettings(*settings);
  if (!config.ok()) {
    gridloop::log::Error("bad configuration", {{"error", config.status().ToString()}});
    return 2;
  }
  absl::StatusOr<std::unique_ptr<gridloop::assessment::App>> app =
      gridloop::assessment::App::Start(*config, gridloop::SystemClock::Get());
  if (!app.ok()) {
    gridloop::log::Error("cannot start", {{"error", app.status().ToString()}});
    return 1;
  }
  (*app)->Wait();
  gridloop::log::Info("assessment stopped");
  return 0;
}
