#include "services/incidents/app.h"

#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"

namespace gridloop::incidents {

absl::StatusOr<AppConfig> AppConfig::FromSettings(const config::Settings& s) {
  AppConfig c;
  RETURN_IF_ERROR(c.ReadProcess(s));
  c.kafka_brokers = s.Get("kafka_brokers", c.kafka_brokers);
  c.topic = s.Get("incident_topic", c.topic);
  c.categories_file = s.Get("categories_file", "");
  c.residents_addr = s.Get("residents_addr", c.residents_addr);
  ASSIGN_OR_RETURN(c.residents_timeout, s.GetDuration("residents_timeout", c.residents_timeout));
  if (c.residents_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("GRIDLOOP_RESIDENTS_TIMEOUT: must be positive");
  }
  ASSIGN_OR_RETURN(c.grid_cache_ttl, s.GetDuration("grid_cache_ttl", c.grid_cache_ttl));
  if (c.grid_cache_ttl < absl::ZeroDuration() || c.grid_cache_ttl > absl::Hours(1)) {
    return absl::InvalidArgumentError("GRIDLOOP_GRID_CACHE_TTL: 0..1h");
  }
  ASSIGN_OR_RETURN(int64_t async_conns,
                   s.GetInt("redis_async_connections", c.redis_async_connections));
  ASSIGN_OR_RETURN(c.kafka_linger, s.GetDuration("kafka_linger", c.kafka_linger));
  ASSIGN_OR_RETURN(c.delivery_timeout, s.GetDuration("delivery_timeout", c.delivery_timeout));
  ASSIGN_OR_RETURN(c.sla_interval, s.GetDuration("sla_interval", c.sla_interval));
  ASSIGN_OR_RETURN(c.relay, s.GetBool("outbox_relay", c.relay));
  if (async_conns < 1 || async_conns > 64) {
    return absl::InvalidArgumentError("GRIDLOOP_REDIS_ASYNC_CONNECTIONS: 1..64");
  }
  if (c.sla_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("GRIDLOOP_SLA_INTERVAL: must be positive");
  }
  if (c.kafka_brokers.empty()) {
    return absl::InvalidArgumentError("GRIDLOOP_KAFKA_BROKERS: required");
  }
  c.redis_async_connections = static_cast<int>(async_conns);
  return c;
}

absl::StatusOr<std::unique_ptr<App>> App::Start(const AppConfig& config, const Clock* clock) {
  std::unique_ptr<App> app(new App());
  if (!config.categories_file.empty()) {
    ASSIGN_OR_RETURN(const std::string text,
                     config::ReadSettingFile(config.categories_file, "GRIDLOOP_CATEGORIES_FILE"));
    ASSIGN_OR_RETURN(app->taxonomy_, Taxonomy::FromCsv(text));
  }

  ASSIGN_OR_RETURN(config::HostPort redis_addr,
                   config::ParseHostPort(config.redis, "GRIDLOOP_REDIS"));
  redis::Options ropts;
  ropts.host = redis_addr.host;
  ropts.port = redis_addr.port;
  ropts.pool_size = config.redis_pool;
  ASSIGN_OR_RETURN(app->redis_, redis::Connect(ropts));
  redis::Options async_opts = ropts;
  async_opts.pool_size = config.redis_async_connections;
  ASSIGN_OR_RETURN(app->async_redis_, redis::AsyncClient::Start(async_opts));

  if (config.relay) {
    outbox::RelayOptions relay_opts;
    relay_opts.owner = config.instance;
    relay_opts.streams = RedisIncidentStore::OutboxStreams();
    relay_opts.topic = config.topic;
    kafka::ProducerOptions popts;
    popts.brokers = config.kafka_brokers;
    popts.linger = config.kafka_linger;
    popts.delivery_timeout = config.delivery_timeout;
    app->relay_ = std::make_unique<outbox::Relay>(
        app->redis_.get(), [popts] { return kafka::Producer::Create(popts); }, relay_opts);
  }
  outbox::Relay* relay = app->relay_.get();
  app->store_ = std::make_unique<RedisIncidentStore>(
      app->redis_.get(), app->async_redis_.get(),
      relay == nullptr ? RedisIncidentStore::OnWrite()
                       : [relay](outbox::Appended entry) { relay->Publish(std::move(entry)); });
  if (!config.residents_addr.empty()) {
    RETURN_IF_ERROR(
        config::ParseHostPort(config.residents_addr, "GRIDLOOP_RESIDENTS_ADDR").status());
    app->directory_ = std::make_unique<GrpcResidentDirectory>(
        config.residents_addr, config.residents_timeout, config.grid_cache_ttl);
  }
  app->incidents_ =
      std::make_unique<Incidents>(app->store_.get(), &app->taxonomy_, clock, app->directory_.get());
  app->executor_ = std::make_unique<server::Executor>(config.workers, config.max_queue);
  app->grpc_ =
      std::make_unique<IncidentGrpc>(app->incidents_.get(), app->executor_.get(), config.max_queue);
  app->metrics_ = std::make_unique<server::Metrics>();

  Incidents* incidents = app->incidents_.get();
  server::Metrics* metrics = app->metrics_.get();
  app->sla_timer_ =
      std::make_unique<server::Periodic>(config.sla_interval, [incidents, relay, metrics] {
        absl::StatusOr<int> fired = incidents->FireDueDeadlines(500);
        if (!fired.ok()) {
          log::Warn("sla timer: pass failed", {{"error", fired.status().ToString()}});
        } else if (*fired > 0) {
          log::Info("sla timer: deadlines missed", {{"overdue_events", absl::StrCat(*fired)}});
        }
        if (relay != nullptr) metrics->outbox_lag().Set(static_cast<double>(relay->lag()));
      });

  server::ServerOptions sopts;
  sopts.service_name = "incidents";
  sopts.health_services = {"gridloop.v1.IncidentService"};
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
  // Shutdown order: the server has drained in-flight calls; stop checking Redis, finish
  // queued work, stop firing deadlines, then publish what is left and flush the producer.
  app->server_->OnShutdown([raw] { raw->readiness_->Stop(); });
  app->server_->OnShutdown([raw] { raw->executor_->Shutdown(); });
  app->server_->OnShutdown([raw] { raw->sla_timer_->Stop(); });
  app->server_->OnShutdown([raw] {
    if (raw->relay_ != nullptr) {
      (void)raw->relay_->RunOnce();
      raw->relay_->Stop();
    }
  });
  if (relay != nullptr) relay->Start();
  app->sla_timer_->Start();
  app->readiness_->Start();
  log::Info("incidents serving", {{"port", absl::StrCat(app->server_->port())},
                                  {"redis", config.redis},
                                  {"kafka", config.kafka_brokers},
                                  {"topic", config.topic}});
  return app;
}

App::~App() {
  if (server_ != nullptr) {
    server_->Shutdown();
    server_.reset();  // runs the shutdown sequence if Wait() did not
  }
  if (sla_timer_ != nullptr) sla_timer_->Stop();
  if (relay_ != nullptr) relay_->Stop();
  if (executor_ != nullptr) executor_->Shutdown();
}

}  // namespace gridloop::incidents
