// gridloop-incidents: the single writer of incident state.
#include <cstdio>

#include "common/clock/clock.h"
#include "common/config/config.h"
#include "common/log/log.h"
#include "common/server/server.h"
#include "services/incidents/app.h"

int main(int argc, char** argv) {
  // Before any thread exists, so the server's signal thread is the only one to see them.
  gridloop::server::PrepareProcess();
  gridloop::log::SetService("incidents");

  absl::StatusOr<gridloop::config::Settings> settings =
      gridloop::config::Settings::FromProcess(argc, argv);
  if (!settings.ok()) {
    gridloop::log::Error("bad configuration", {{"error", settings.status().ToString()}});
    return 2;
  }
  absl::StatusOr<gridloop::incidents::AppConfig> config =
      gridloop::incidents::AppConfig::FromSettings(*settings);
  if (!config.ok()) {
    gridloop::log::Error("bad configuration", {{"error", config.status().ToString()}});
    return 2;
  }
  absl::StatusOr<std::unique_ptr<gridloop::incidents::App>> app =
      gridloop::incidents::App::Start(*config, gridloop::SystemClock::Get());
  if (!app.ok()) {
    gridloop::log::Error("cannot start", {{"error", app.status().ToString()}});
    return 1;
  }
  (*app)->Wait();
  gridloop::log::Info("incidents stopped");
  return 0;
}
