#include "services/dispatch/app.h"

#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"
#include "gridloop/v1/events.pb.h"

namespace gridloop::dispatch {

absl::StatusOr<AppConfig> AppConfig::FromSettings(const config::Settings& s) {
  AppConfig c;
  RETURN_IF_ERROR(c.ReadProcess(s));
  RETURN_IF_ERROR(c.ReadConsumer(s));
  c.incident_topic = s.Get("incident_topic", c.incident_topic);
  c.dispatch_topic = s.Get("dispatch_topic", c.dispatch_topic);
  c.incidents_addr = s.Get("incidents_addr", c.incidents_addr);
  c.residents_addr = s.Get("residents_addr", c.residents_addr);
  c.skills = s.Get("skills", c.skills);
  c.routing_file = s.Get("routing_file", c.routing_file);
  ASSIGN_OR_RETURN(c.peer_timeout, s.GetDuration("peer_timeout", c.peer_timeout));
  ASSIGN_OR_RETURN(c.offer_ttl, s.GetDuration("offer_ttl", c.offer_ttl));
  ASSIGN_OR_RETURN(c.timer_interval, s.GetDuration("timer_interval", c.timer_interval));
  ASSIGN_OR_RETURN(c.index_refresh, s.GetDuration("index_refresh", c.index_refresh));
  ASSIGN_OR_RETURN(c.staff_cache_ttl, s.GetDuration("staff_cache_ttl", c.staff_cache_ttl));
  if (c.staff_cache_ttl < absl::ZeroDuration() || c.staff_cache_ttl > absl::Minutes(1)) {
    return absl::InvalidArgumentError("GRIDLOOP_STAFF_CACHE_TTL: 0..1m");
  }
  ASSIGN_OR_RETURN(c.relay, s.GetBool("outbox_relay", c.relay));
  ASSIGN_OR_RETURN(c.kafka_linger, s.GetDuration("kafka_linger", c.kafka_linger));
  if (c.kafka_linger < absl::ZeroDuration() || c.kafka_linger > absl::Seconds(1)) {
    return absl::InvalidArgumentError("GRIDLOOP_KAFKA_LINGER: 0..1s");
  }
  for (auto [d, name] : {std::pair{c.peer_timeout, "GRIDLOOP_PEER_TIMEOUT"},
                         std::pair{c.offer_ttl, "GRIDLOOP_OFFER_TTL"},
                         std::pair{c.timer_interval, "GRIDLOOP_TIMER_INTERVAL"},
                         std::pair{c.index_refresh, "GRIDLOOP_INDEX_REFRESH"}}) {
    if (d <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": must be positive"));
    }
  }
  RETURN_IF_ERROR(config::ParseHostPort(c.incidents_addr, "GRIDLOOP_INCIDENTS_ADDR").status());
  RETURN_IF_ERROR(config::ParseHostPort(c.residents_addr, "GRIDLOOP_RESIDENTS_ADDR").status());
  return c;
}

IndexedVolunteer ToIndexed(const v1::Volunteer& v, const SkillCatalog& skills) {
  IndexedVolunteer out;
  out.id = v.id();
  out.latitude = v.location().latitude();
  out.longitude = v.location().longitude();
  for (const std::string& s : v.skills()) {
    if (std::optional<SkillSet> bit = skills.Bit(s)) out.skills |= *bit;
  }
  for (const v1::AvailabilityWindow& w : v.availability()) {
    out.availability.push_back({w.weekday(), w.start_minute(), w.duration_minutes()});
  }
  out.max_concurrent = v.max_concurrent_tasks() > 0 ? v.max_concurrent_tasks() : 1;
  out.active = v.active() && v.has_location();
  return out;
}

absl::Status App::LoadIndex() {
  absl::MutexLock lock(&index_mu_);
  // The cursor is taken first: a change made while loading is then applied again by the
  // next refresh, never missed.
  ASSIGN_OR_RETURN(VolunteerChanges start, volunteer_store_->ChangesSince("", 0));
  std::vector<IndexedVolunteer> all;
  RETURN_IF_ERROR(volunteer_store_->ForEach(
      [&](const v1::Volunteer& v) { all.push_back(ToIndexed(v, skills_)); }));
  const size_t n = all.size();
  index_.Reset(std::move(all));
  index_cursor_ = start.cursor;
  log::Info("dispatch: volunteer index loaded", {{"volunteers", absl::StrCat(n)}});
  return absl::OkStatus();
}

absl::Status App::RefreshIndex() {
  bool reset = false;
  {
    absl::MutexLock lock(&index_mu_);
    while (true) {
      ASSIGN_OR_RETURN(VolunteerChanges changes,
                       volunteer_store_->ChangesSince(index_cursor_, 1000));
      if (changes.reset) {
        reset = true;
        break;
      }
      if (!changes.ids.empty()) {
        ASSIGN_OR_RETURN(std::vector<v1::Volunteer> records,
                         volunteer_store_->GetMany(changes.ids));
        for (size_t i = 0; i < records.size() && i < changes.ids.size(); ++i) {
          if (records[i].id().empty()) {
            index_.Remove(changes.ids[i]);
          } else {
            index_.Upsert(ToIndexed(records[i], skills_));
          }
        }
      }
      index_cursor_ = changes.cursor;
      if (changes.ids.size() < 1000) break;
    }
  }
  // The log no longer reaches back to our cursor (a long pause): start over.
  if (reset) return LoadIndex();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<App>> App::Start(const AppConfig& config, const Clock* clock) {
  std::unique_ptr<App> app(new App());
  if (!config.skills.empty()) {
    ASSIGN_OR_RETURN(app->skills_, SkillCatalog::Parse(config.skills));
  }
  app->routing_ = Routing::Default(app->skills_);
  if (!config.routing_file.empty()) {
    ASSIGN_OR_RETURN(const std::string text,
                     config::ReadSettingFile(config.routing_file, "GRIDLOOP_ROUTING_FILE"));
    absl::StatusOr<Routing> routing = Routing::FromCsv(text, app->skills_);
    if (!routing.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("GRIDLOOP_ROUTING_FILE: ", routing.status().message()));
    }
    app->routing_ = *std::move(routing);
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
    relay_opts.streams = RedisDispatchStore::OutboxStreams();
    relay_opts.streams.emplace_back(RedisVolunteerStore::kOutboxStream);
    relay_opts.topic = config.dispatch_topic;
    kafka::ProducerOptions popts;
    popts.brokers = config.kafka_brokers;
    popts.linger = config.kafka_linger;
    app->relay_ = std::make_unique<outbox::Relay>(
        app->redis_.get(), [popts] { return kafka::Producer::Create(popts); }, relay_opts);
  }
  outbox::Relay* relay = app->relay_.get();
  RedisDispatchStore::OnOutboxWrite publish;
  RedisVolunteerStore::OnOutboxWrite notify;
  if (relay != nullptr) {
    publish = [relay](outbox::Appended entry) { relay->Publish(std::move(entry)); };
    notify = [relay](const std::string& stream) { relay->Notify(stream); };
  }
  app->dispatch_store_ = std::make_unique<RedisDispatchStore>(app->redis_.get(), publish);
  app->volunteer_store_ = std::make_unique<RedisVolunteerStore>(app->redis_.get(), notify);
  RETURN_IF_ERROR(app->LoadIndex());

  app->incidents_ =
      std::make_unique<GrpcIncidentCommands>(config.incidents_addr, config.peer_timeout);
  app->residents_ =
      std::make_unique<GrpcStaffDirectory>(config.residents_addr, config.peer_timeout);
  // One thread: renewals are a few a second per busy grid, and each waits on residents.
  app->renewer_ = std::make_unique<server::Executor>(1, 1000);
  app->staff_ = std::make_unique<CachingStaffDirectory>(
      app->residents_.get(), config.staff_cache_ttl, SystemClock::Get(), 10000,
      [renewer = app->renewer_.get()](absl::AnyInvocable<void() &&> renewal) {
        return renewer->Post(std::move(renewal));
      });
  DispatcherOptions dopts;
  dopts.offer_ttl = config.offer_ttl;
  app->dispatcher_ = std::make_unique<Dispatcher>(
      app->dispatch_store_.get(), app->volunteer_store_.get(), &app->index_, &app->routing_,
      app->incidents_.get(), app->staff_.get(), clock, dopts);
  app->volunteers_ = std::make_unique<Volunteers>(app->volunteer_store_.get(), &app->skills_, clock,
                                                  VolunteersOptions(), app->staff_.get());
  app->executor_ = std::make_unique<server::Executor>(config.workers, config.max_queue);
  app->grpc_ = std::make_unique<DispatchGrpc>(app->volunteers_.get(), app->dispatcher_.get(),
                                              app->executor_.get());
  app->metrics_ = std::make_unique<server::Metrics>();

  kafka::ConsumerOptions copts = kafka::ConsumerOptionsFrom(config);
  if (config.assign_partitions.empty()) {
    copts.topics = {config.incident_topic};
  } else {
    for (int32_t p : config.assign_partitions) copts.assign.emplace_back(config.incident_topic, p);
  }
  Dispatcher* dispatcher = app->dispatcher_.get();
  ASSIGN_OR_RETURN(app->consumer_,
                   kafka::Consumer::Create(copts, [dispatcher](const kafka::Record& record) {
                     v1::IncidentEvent event;
                     if (!event.ParseFromString(record.value)) {
                       return absl::InvalidArgumentError("not an IncidentEvent");
                     }
                     return dispatcher->HandleIncidentEvent(event);
                   }));

  App* raw = app.get();
  app->timers_ = std::make_unique<server::Periodic>(config.timer_interval, [raw, dispatcher] {
    absl::StatusOr<int> fired = dispatcher->FireDueTimers(200);
    if (!fired.ok()) {
      log::Warn("dispatch timers: pass failed", {{"error", fired.status().ToString()}});
    }
    raw->metrics_->ObserveConsumer("incident_events", raw->consumer_->lag(),
                                   raw->consumer_->dead_lettered());
    if (raw->relay_ != nullptr) {
      raw->metrics_->outbox_lag().Set(static_cast<double>(raw->relay_->lag()));
    }
  });
  app->refresher_ = std::make_unique<server::Periodic>(config.index_refresh, [raw] {
    absl::Status s = raw->RefreshIndex();
    if (!s.ok()) log::Warn("dispatch: index refresh failed", {{"error", s.ToString()}});
  });

  server::ServerOptions sopts;
  sopts.service_name = "dispatch";
  sopts.health_services = {"gridloop.v1.DispatchService"};
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
  // Shutdown order: calls drained; stop checking Redis, taking events and firing
  // timers; finish queued work; publish what is left.
  app->server_->OnShutdown([raw] { raw->readiness_->Stop(); });
  app->server_->OnShutdown([raw] { raw->consumer_->Stop(); });
  app->server_->OnShutdown([raw] {
    raw->timers_->Stop();
    raw->refresher_->Stop();
  });
  app->server_->OnShutdown([raw] {
    raw->executor_->Shutdown();
    raw->renewer_->Shutdown();
  });
  app->server_->OnShutdown([raw] {
    if (raw->relay_ != nullptr) {
      (void)raw->relay_->RunOnce();
      raw->relay_->Stop();
    }
  });
  if (relay != nullptr) relay->Start();
  app->refresher_->Start();
  app->timers_->Start();
  app->consumer_->Start();
  app->readiness_->Start();
  log::Info("dispatch serving", {{"port", absl::StrCat(app->server_->port())},
                                 {"redis", config.redis},
                                 {"kafka", config.kafka_brokers},
                                 {"incidents", config.incidents_addr},
                                 {"residents", config.residents_addr}});
  return app;
}

App::~App() {
  if (server_ != nullptr) {
    server_->Shutdown();
    server_.reset();
  }
  if (consumer_ != nullptr) consumer_->Stop();
  if (timers_ != nullptr) timers_->Stop();
  if (refresher_ != nullptr) refresher_->Stop();
  if (executor_ != nullptr) executor_->Shutdown();
  if (renewer_ != nullptr) renewer_->Shutdown();
  if (relay_ != nullptr) relay_->Stop();
}

}  // namespace gridloop::dispatch
