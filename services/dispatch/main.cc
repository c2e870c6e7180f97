// gridloop-dispatch: gets the right person to every incident, and volunteers to work.
#include <cstdio>

#include "common/clock/clock.h"
#include "common/config/config.h"
#include "common/log/log.h"
#include "common/server/server.h"
#include "services/dispatch/app.h"

int main(int argc, char** argv) {
  // Before any thread exists, so the server's signal thread is the only one to see them.
  gridloop::server::PrepareProcess();
  gridloop::log::SetService("dispatch");

  absl::StatusOr<gridloop::config::Settings> settings =
      gridloop::config::Settings::FromProcess(argc, argv);
  if (!settings.ok()) {
    gridloop::log::Error("bad configuration", {{"error", settings.status().ToString()}});
    return 2;
  }
  absl::StatusOr<gridloop::dispatch::AppConfig> config =
      gridloop::dispatch::AppConfig::FromSettings(*settings);
  if (!config.ok()) {
    gridloop::log::Error("bad configuration", {{"error", config.status().ToString()}});
    return 2;
  }
  absl::StatusOr<std::unique_ptr<gridloop::dispatch::App>> app =
      gridloop::dispatch::App::Start(*config, gridloop::SystemClock::Get());
  if (!app.ok()) {
    gridloop::log::Error("cannot start", {{"error", app.status().ToString()}});
    return 1;
  }
  (*app)->Wait();
  gridloop::log::Info("dispatch stopped");
  return 0;
}
