#include "services/assessment/app.h"

#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/kafka/replay.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"
#include "gridloop/v1/dispatch.pb.h"
#include "gridloop/v1/events.pb.h"

namespace gridloop::assessment {

absl::StatusOr<AppConfig> AppConfig::FromSettings(const config::Settings& s) {
  AppConfig c;
  RETURN_IF_ERROR(c.ReadProcess(s));
  RETURN_IF_ERROR(c.ReadConsumer(s));
  c.incident_topic = s.Get("incident_topic", c.incident_topic);
  c.dispatch_topic = s.Get("dispatch_topic", c.dispatch_topic);
  c.scores_topic = s.Get("scores_topic", c.scores_topic);
  c.residents_addr = s.Get("residents_addr", c.residents_addr);
  c.scoring_file = s.Get("scoring_file", c.scoring_file);
  c.city_region = s.Get("city_region", c.city_region);
  ASSIGN_OR_RETURN(c.peer_timeout, s.GetDuration("peer_timeout", c.peer_timeout));
  ASSIGN_OR_RETURN(c.score_interval, s.GetDuration("score_interval", c.score_interval));
  ASSIGN_OR_RETURN(c.publish_every, s.GetDuration("publish_every", c.publish_every));
  ASSIGN_OR_RETURN(c.relay, s.GetBool("outbox_relay", c.relay));
  for (auto [d, name] : {std::pair{c.peer_timeout, "GRIDLOOP_PEER_TIMEOUT"},
                         std::pair{c.score_interval, "GRIDLOOP_SCORE_INTERVAL"},
                         std::pair{c.publish_every, "GRIDLOOP_PUBLISH_EVERY"}}) {
    if (d <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": must be positive"));
    }
  }
  if (c.city_region.empty()) return absl::InvalidArgumentError("GRIDLOOP_CITY_REGION: required");
  RETURN_IF_ERROR(config::ParseHostPort(c.residents_addr, "GRIDLOOP_RESIDENTS_ADDR").status());
  return c;
}

absl::StatusOr<std::unique_ptr<App>> App::Start(const AppConfig& config, const Clock* clock) {
  std::unique_ptr<App> app(new App());
  if (!config.scoring_file.empty()) {
    ASSIGN_OR_RETURN(const std::string text,
                     config::ReadSettingFile(config.scoring_file, "GRIDLOOP_SCORING_FILE"));
    absl::StatusOr<Formulas> formulas = Formulas::Parse(text);
    if (!formulas.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("GRIDLOOP_SCORING_FILE: ", formulas.status().message()));
    }
    app->formulas_ = *std::move(formulas);
  }

  ASSIGN_OR_RETURN(config::HostPort redis_addr,
                   config::ParseHostPort(config.redis, "GRIDLOOP_REDIS"));
  redis::Options ropts;
  ropts.host = redis_addr.host;
  ropts.port = redis_addr.port;
  ropts.pool_size = config.redis_pool;
  ASSIGN_OR_RETURN(app->redis_, redis::Connect(ropts));

  if (config.relay) {
    outbox::RelayOptions relay_opts;
    relay_opts.owner = config.instance;
    relay_opts.streams = {RedisAssessmentStore::kOutboxStream};
    relay_opts.topic = config.scores_topic;
    kafka::ProducerOptions popts;
    popts.brokers = config.kafka_brokers;
    app->relay_ = std::make_unique<outbox::Relay>(
        app->redis_.get(), [popts] { return kafka::Producer::Create(popts); }, relay_opts);
  }
  outbox::Relay* relay = app->relay_.get();
  std::function<void()> notify;
  if (relay != nullptr) notify = [relay] { relay->Notify(); };
  app->store_ = std::make_unique<RedisAssessmentStore>(app->redis_.get(), clock, notify);
  app->survey_store_ = std::make_unique<RedisSurveyStore>(app->redis_.get());
  app->residents_ =
      std::make_unique<GrpcResidentRegions>(config.residents_addr, config.peer_timeout);
  app->folder_ = std::make_unique<Folder>(app->store_.get());
  AssessmentOptions aopts;
  aopts.city_region = config.city_region;
  aopts.score_event_interval = config.score_interval;
  RedisSurveyStore* surveys = app->survey_store_.get();
  app->assessment_ = std::make_unique<Assessment>(
      app->store_.get(),
      [surveys](const std::vector<std::pair<std::string, std::string>>& keys) {
        return surveys->RegionSurveyTallies(keys);
      },
      &app->formulas_, clock, aopts);
  app->surveys_ = std::make_unique<Surveys>(surveys, app->residents_.get(), clock);

  kafka::ReplayOptions replay_opts;
  replay_opts.brokers = config.kafka_brokers;
  replay_opts.topics = {config.incident_topic, config.dispatch_topic};
  RebuilderOptions bopts;
  bopts.incident_topic = config.incident_topic;
  bopts.dispatch_topic = config.dispatch_topic;
  app->rebuilder_ = std::make_unique<Rebuilder>(
      app->store_.get(), app->folder_.get(), &app->formulas_, clock,
      [replay_opts](const std::function<absl::Status(const kafka::Record&)>& fold,
                    std::atomic<int64_t>* done, std::atomic<int64_t>* total,
                    const std::atomic<bool>* stop) -> absl::Status {
        absl::StatusOr<kafka::ReplayProgress> r = kafka::Replay(replay_opts, fold, stop, done);
        if (!r.ok()) return r.status();
        total->store(r->total);
        return absl::OkStatus();
      },
      bopts);

  app->executor_ = std::make_unique<server::Executor>(config.workers, config.max_queue);
  app->grpc_ = std::make_unique<AssessmentGrpc>(app->assessment_.get(), app->surveys_.get(),
                                                app->rebuilder_.get(), app->executor_.get());
  app->metrics_ = std::make_unique<server::Metrics>();

  kafka::ConsumerOptions copts = kafka::ConsumerOptionsFrom(config);
  if (config.assign_partitions.empty()) {
    copts.topics = {config.incident_topic, config.dispatch_topic};
  } else {
    for (int32_t p : config.assign_partitions) {
      copts.assign.emplace_back(config.incident_topic, p);
      copts.assign.emplace_back(config.dispatch_topic, p);
    }
  }
  Folder* folder = app->folder_.get();
  const std::string dispatch_topic = config.dispatch_topic;
  ASSIGN_OR_RETURN(app->consumer_,
                   kafka::Consumer::Create(copts, [folder, dispatch_topic](const kafka::Record& r) {
                     if (r.topic == dispatch_topic) {
                       v1::DispatchEvent event;
                       if (!event.ParseFromString(r.value)) {
                         return absl::InvalidArgumentError("not a DispatchEvent");
                       }
                       return folder->FoldDispatchEvent(event);
                     }
                     v1::IncidentEvent event;
                     if (!event.ParseFromString(r.value)) {
                       return absl::InvalidArgumentError("not an IncidentEvent");
                     }
                     return folder->FoldIncidentEvent(event);
                   }));

  App* raw = app.get();
  app->publisher_ = std::make_unique<server::Periodic>(config.publish_every, [raw] {
    absl::StatusOr<int> n = raw->assessment_->PublishDueScores(500);
    if (!n.ok()) log::Warn("assessment: score events failed", {{"error", n.status().ToString()}});
    raw->metrics_->ObserveConsumer("events", raw->consumer_->lag(),
                                   raw->consumer_->dead_lettered());
    if (raw->relay_ != nullptr) {
      raw->metrics_->outbox_lag().Set(static_cast<double>(raw->relay_->lag()));
    }
  });

  server::ServerOptions sopts;
  sopts.service_name = "assessment";
  sopts.health_services = {"gridloop.v1.AssessmentService"};
  sopts.listen = config.listen;
  sopts.metrics_listen = config.metrics_listen;
  sopts.drain_timeout = config.drain_timeout;
  ASSIGN_OR_RETURN(app->server_,
                   server::Server::Start(sopts, {app->grpc_.get()}, app->metrics_.get()));

  // Readiness follows Redis, without which no call can be answered.
  ASSIGN_OR_RETURN(std::function<absl::Status()> ping_redis, redis::NewPing(ropts));
  app->readiness_ = std::make_unique<server::Readiness>(
      app->server_.get(), app->metrics_.get(),
      std::vector<server::Readiness::Dependency>{{"redis", std::move(ping_redis)}});
  // Shutdown order: calls drained; stop checking Redis, taking events and publishing;
  // finish queued work; publish what is left.
  app->server_->OnShutdown([raw] { raw->readiness_->Stop(); });
  app->server_->OnShutdown([raw] { raw->consumer_->Stop(); });
  app->server_->OnShutdown([raw] { raw->publisher_->Stop(); });
  app->server_->OnShutdown([raw] { raw->executor_->Shutdown(); });
  app->server_->OnShutdown([raw] {
    if (raw->relay_ != nullptr) {
      (void)raw->relay_->RunOnce();
      raw->relay_->Stop();
    }
  });
  if (relay != nullptr) relay->Start();
  app->publisher_->Start();
  app->consumer_->Start();
  app->readiness_->Start();
  log::Info("assessment serving", {{"port", absl::StrCat(app->server_->port())},
                                   {"redis", config.redis},
                                   {"kafka", config.kafka_brokers},
                                   {"residents", config.residents_addr}});
  return app;
}

App::~App() {
  if (server_ != nullptr) {
    server_->Shutdown();
    server_.reset();
  }
  if (consumer_ != nullptr) consumer_->Stop();
  if (publisher_ != nullptr) publisher_->Stop();
  rebuilder_.reset();
  if (executor_ != nullptr) executor_->Shutdown();
  if (relay_ != nullptr) relay_->Stop();
}

}  // namespace gridloop::assessment
