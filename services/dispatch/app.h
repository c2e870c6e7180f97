#ifndef GRIDLOOP_SERVICES_DISPATCH_APP_H_
#define GRIDLOOP_SERVICES_DISPATCH_APP_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"
#include "common/config/config.h"
#include "common/config/process_settings.h"
#include "common/kafka/consumer.h"
#include "common/outbox/relay.h"
#include "common/redis/redis_client.h"
#include "common/server/executor.h"
#include "common/server/metrics.h"
#include "common/server/periodic.h"
#include "common/server/readiness.h"
#include "common/server/server.h"
#include "services/dispatch/dispatch_grpc.h"
#include "services/dispatch/dispatcher.h"
#include "services/dispatch/geo/volunteer_index.h"
#include "services/dispatch/grpc_peers.h"
#include "services/dispatch/redis_dispatch_store.h"
#include "services/dispatch/redis_volunteer_store.h"
#include "services/dispatch/routing.h"
#include "services/dispatch/staff_cache.h"
#include "services/dispatch/volunteers.h"

namespace gridloop::dispatch {

inline constexpr char kIncidentEventsTopic[] = "gridloop.incident.events.v1";
inline constexpr char kDispatchEventsTopic[] = "gridloop.dispatch.events.v1";

// Everything the dispatch process is configured with. FromSettings documents the names.
// assign_partitions, when set, are partitions of incident_topic.
struct AppConfig : config::ProcessSettings, config::ConsumerSettings {
  AppConfig() {
    listen = "0.0.0.0:50053";
    consumer_group = "gridloop-dispatch";
    // Dispatching one incident is mostly waiting on residents, incidents and Redis: a
    // partition's other incidents go on meanwhile.
    consumer_workers = 8;
  }
  std::string incident_topic = kIncidentEventsTopic;
  std::string dispatch_topic = kDispatchEventsTopic;
  std::string incidents_addr = "127.0.0.1:50051";
  std::string residents_addr = "127.0.0.1:50052";
  absl::Duration peer_timeout = absl::Seconds(2);
  std::string skills;        // comma-separated; empty = the built-in catalog
  std::string routing_file;  // CSV; empty = the built-in routing
  absl::Duration offer_ttl = absl::Minutes(10);
  absl::Duration timer_interval = absl::Milliseconds(500);
  absl::Duration index_refresh = absl::Seconds(1);
  // How long residents' answer to "who is responsible for this grid" is reused; zero asks
  // for every assignment.
  absl::Duration staff_cache_ttl = absl::Seconds(1);
  bool relay = true;
  // The outbox relay's producer linger (see incidents' AppConfig::kafka_linger).
  absl::Duration kafka_linger = absl::ZeroDuration();

  // From flags / GRIDLOOP_* variables: listen, metrics_listen, redis, redis_pool,
  // kafka_brokers, incident_topic, dispatch_topic, consumer_group, consumer_partitions,
  // consumer_max_attempts, consumer_workers, kafka_fetch_wait, kafka_linger, incidents_addr,
  // residents_addr, peer_timeout, skills, routing_file, offer_ttl, timer_interval,
  // index_refresh, staff_cache_ttl, workers, max_queue, drain_timeout, outbox_relay.
  // InvalidArgument names a bad one.
  static absl::StatusOr<AppConfig> FromSettings(const config::Settings& settings);
};

// The dispatch process, composed: Redis -> stores -> volunteer index -> dispatcher and
// volunteers domain -> gRPC, plus the incident-event consumer, the offer timers, the
// index refresher and the outbox relay. Used by main() and by in-process tests.
class App {
 public:
  // `clock` must outlive the app. Fails fast on bad configuration; loads the volunteer
  // index from Redis before serving.
  static absl::StatusOr<std::unique_ptr<App>> Start(const AppConfig& config, const Clock* clock);
  ~App();

  int port() const { return server_->port(); }
  void Wait() { server_->Wait(); }
  void Shutdown() { server_->Shutdown(); }

  Dispatcher& dispatcher() { return *dispatcher_; }
  VolunteerIndex& index() { return index_; }
  // Brings the index up to date with the change log now (the refresher does it
  // periodically).
  absl::Status RefreshIndex();
  kafka::Consumer* consumer() { return consumer_.get(); }
  outbox::Relay* relay() { return relay_.get(); }

 private:
  App() = default;
  absl::Status LoadIndex();

  SkillCatalog skills_ = SkillCatalog::Default();
  Routing routing_ = Routing::Default(SkillCatalog::Default());
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<outbox::Relay> relay_;
  std::unique_ptr<RedisDispatchStore> dispatch_store_;
  std::unique_ptr<RedisVolunteerStore> volunteer_store_;
  VolunteerIndex index_;
  absl::Mutex index_mu_;  // one refresh at a time
  std::string index_cursor_ ABSL_GUARDED_BY(index_mu_);
  std::unique_ptr<GrpcIncidentCommands> incidents_;
  std::unique_ptr<GrpcStaffDirectory> residents_;
  std::unique_ptr<CachingStaffDirectory> staff_;  // over residents_
  // Renews staff_'s answers ahead of need; destroyed (drained) before staff_.
  std::unique_ptr<server::Executor> renewer_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<Volunteers> volunteers_;
  std::unique_ptr<server::Executor> executor_;
  std::unique_ptr<DispatchGrpc> grpc_;
  std::unique_ptr<server::Metrics> metrics_;
  std::unique_ptr<kafka::Consumer> consumer_;
  std::unique_ptr<server::Periodic> timers_;
  std::unique_ptr<server::Periodic> refresher_;
  std::unique_ptr<server::Server> server_;
  // After server_ and redis_: it reports to the one what it learns of the other.
  std::unique_ptr<server::Readiness> readiness_;
};

// What the index keeps of `v`; skills outside `skills` are ignored.
IndexedVolunteer ToIndexed(const v1::Volunteer& v, const SkillCatalog& skills);

}  // namespace gridloop::dispatch

#endif  // GRIDLOOP_SERVICES_DISPATCH_APP_H_
