#include "services/residents/app.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"

namespace gridloop::residents {

absl::StatusOr<AppConfig> AppConfig::FromSettings(const config::Settings& s) {
  AppConfig c;
  RETURN_IF_ERROR(c.ReadProcess(s));
  c.pii_keys = s.Get("pii_keys", "");
  c.pii_active_key = s.Get("pii_active_key", "");
  c.pii_index_key = s.Get("pii_index_key", "");
  ASSIGN_OR_RETURN(c.grid_refresh, s.GetDuration("grid_refresh", c.grid_refresh));
  ASSIGN_OR_RETURN(c.startup_wait, s.GetDuration("startup_wait", c.startup_wait));
  if (c.grid_refresh <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("GRIDLOOP_GRID_REFRESH: must be positive");
  }
  return c;
}

absl::StatusOr<std::unique_ptr<App>> App::Start(const AppConfig& config, const Clock* clock) {
  std::unique_ptr<App> app(new App());
  if (config.pii_keys.empty() || config.pii_index_key.empty()) {
    return absl::InvalidArgumentError(
        "GRIDLOOP_PII_KEYS and GRIDLOOP_PII_INDEX_KEY are required: personal data is never "
        "stored in the clear");
  }
  std::string active = config.pii_active_key;
  if (active.empty()) active = config.pii_keys.substr(0, config.pii_keys.find(':'));
  ASSIGN_OR_RETURN(pii::Keyring keyring,
                   pii::Keyring::Parse(config.pii_keys, active, config.pii_index_key));
  app->keyring_ = std::make_unique<pii::Keyring>(std::move(keyring));

  ASSIGN_OR_RETURN(config::HostPort redis_addr,
                   config::ParseHostPort(config.redis, "GRIDLOOP_REDIS"));
  redis::Options ropts;
  ropts.host = redis_addr.host;
  ropts.port = redis_addr.port;
  ropts.pool_size = config.redis_pool;
  ASSIGN_OR_RETURN(app->redis_, redis::Connect(ropts));
  app->store_ = std::make_unique<LedgerStore>(app->redis_.get(), config.request_retention);
  app->residents_ = std::make_unique<Residents>(app->store_.get(), app->keyring_.get(), clock);
  // Without its grids the service would answer LocateGrid wrongly: it waits for Redis
  // (still starting, or loading its data) for a while, then refuses to start.
  const absl::Time give_up = absl::Now() + config.startup_wait;
  for (absl::Duration pause = absl::Milliseconds(50);;
       pause = std::min(pause * 2, absl::Seconds(1))) {
    absl::Status loaded = app->residents_->LoadGrids();
    if (loaded.ok()) break;
    if (!absl::IsUnavailable(loaded) || absl::Now() + pause > give_up) return loaded;
    log::Warn("waiting for redis to load the grids", {{"error", loaded.ToString()}});
    absl::SleepFor(pause);
  }
  app->executor_ = std::make_unique<server::Executor>(config.workers, config.max_queue);
  app->grpc_ = std::make_unique<ResidentGrpc>(app->residents_.get(), app->executor_.get());
  app->metrics_ = std::make_unique<server::Metrics>();
  Residents* residents = app->residents_.get();
  app->refresher_ = std::make_unique<server::Periodic>(config.grid_refresh, [residents] {
    if (absl::Status s = residents->RefreshGrids(); !s.ok()) {
      log::Warn("grid refresh failed", {{"error", s.ToString()}});
    }
  });

  server::ServerOptions sopts;
  sopts.service_name = "residents";
  sopts.health_services = {"gridloop.v1.ResidentService"};
  sopts.listen = config.listen;
  sopts.metrics_listen = config.metrics_listen;
  sopts.drain_timeout = config.drain_timeout;
  ASSIGN_OR_RETURN(app->server_,
                   server::Server::Start(sopts, {app->grpc_.get()}, app->metrics_.get()));
  App* raw = app.get();
  // Readiness follows Redis, without which no call can be answered.
  ASSIGN_OR_RETURN(std::function<absl::Status()> ping_redis, redis::NewPing(ropts));
  app->readiness_ = std::make_unique<server::Readiness>(
      app->server_.get(), app->metrics_.get(),
      std::vector<server::Readiness::Dependency>{{"redis", std::move(ping_redis)}});
  app->server_->OnShutdown([raw] { raw->readiness_->Stop(); });
  app->server_->OnShutdown([raw] { raw->executor_->Shutdown(); });
  app->server_->OnShutdown([raw] { raw->refresher_->Stop(); });
  app->refresher_->Start();
  app->readiness_->Start();
  log::Info("residents serving",
            {{"port", absl::StrCat(app->server_->port())}, {"redis", config.redis}});
  return app;
}

App::~App() {
  if (server_ != nullptr) {
    server_->Shutdown();
    server_.reset();
  }
  if (refresher_ != nullptr) refresher_->Stop();
  if (executor_ != nullptr) executor_->Shutdown();
}

}  // namespace gridloop::residents
