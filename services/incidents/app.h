#ifndef GRIDLOOP_SERVICES_INCIDENTS_APP_H_
#define GRIDLOOP_SERVICES_INCIDENTS_APP_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"
#include "common/config/config.h"
#include "common/config/process_settings.h"
#include "common/outbox/relay.h"
#include "common/redis/async_client.h"
#include "common/redis/redis_client.h"
#include "common/server/executor.h"
#include "common/server/metrics.h"
#include "common/server/periodic.h"
#include "common/server/readiness.h"
#include "common/server/server.h"
#include "services/incidents/categories.h"
#include "services/incidents/grpc_resident_directory.h"
#include "services/incidents/incidents.h"
#include "services/incidents/incidents_grpc.h"
#include "services/incidents/redis_incident_store.h"

namespace gridloop::incidents {

inline constexpr char kIncidentEventsTopic[] = "gridloop.incident.events.v1";

// Everything the incidents process is configured with. FromSettings documents the names.
struct AppConfig : config::ProcessSettings {
  AppConfig() {
    listen = "0.0.0.0:50051";
    redis_pool = 32;
    workers = 32;
  }
  int redis_async_connections = 2;  // the asynchronous client's, for reports
  std::string kafka_brokers = "127.0.0.1:9092";
  std::string topic = kIncidentEventsTopic;
  // The relay's producer linger. The relay reads a batch from the outbox and produces it at
  // once, so waiting for more records only delays the ones in hand.
  absl::Duration kafka_linger = absl::ZeroDuration();
  absl::Duration delivery_timeout = absl::Seconds(30);
  std::string categories_file;  // empty = the built-in taxonomy
  absl::Duration sla_interval = absl::Seconds(1);
  // Publish the outbox from this process. Off only for diagnosis and for tests of the
  // outbox itself: entries then wait for a replica that publishes.
  bool relay = true;
  // The residents service, for reports by location and by resident id; empty = none (every
  // report then names its region_code).
  std::string residents_addr;
  absl::Duration residents_timeout = absl::Milliseconds(500);
  // How long a grid residents found for a point answers for the rest of its cell: how soon
  // a boundary redrawn with immediate effect reaches incidents (changes scheduled ahead are
  // known at once). Zero asks every time.
  absl::Duration grid_cache_ttl = absl::Seconds(10);

  // From flags / GRIDLOOP_* variables: listen, metrics_listen, redis, redis_pool,
  // redis_async_connections,
  // kafka_brokers, incident_topic, kafka_linger, delivery_timeout, categories_file,
  // workers, max_queue, sla_interval, drain_timeout, outbox_relay, residents_addr,
  // residents_timeout, grid_cache_ttl. InvalidArgument names a bad one.
  static absl::StatusOr<AppConfig> FromSettings(const config::Settings& settings);
};

// The incidents process, composed: Redis pool -> store -> domain -> gRPC service on the
// server bootstrap, plus the outbox relay and the SLA timer. Used by main() and by
// in-process integration tests.
class App {
 public:
  // `clock` must outlive the app. Fails fast on bad configuration.
  static absl::StatusOr<std::unique_ptr<App>> Start(const AppConfig& config, const Clock* clock);
  ~App();

  int port() const { return server_->port(); }
  // Blocks until SIGTERM/SIGINT or Shutdown(), then drains and stops everything.
  void Wait() { server_->Wait(); }
  void Shutdown() { server_->Shutdown(); }

  Incidents& incidents() { return *incidents_; }
  outbox::Relay* relay() { return relay_.get(); }

 private:
  App() = default;

  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<redis::AsyncClient> async_redis_;
  Taxonomy taxonomy_ = Taxonomy::Default();
  std::unique_ptr<outbox::Relay> relay_;
  std::unique_ptr<RedisIncidentStore> store_;
  std::unique_ptr<GrpcResidentDirectory> directory_;
  std::unique_ptr<Incidents> incidents_;
  std::unique_ptr<server::Executor> executor_;
  std::unique_ptr<IncidentGrpc> grpc_;
  std::unique_ptr<server::Metrics> metrics_;
  std::unique_ptr<server::Periodic> sla_timer_;
  std::unique_ptr<server::Server> server_;
  // After server_ and redis_: it reports to the one what it learns of the other.
  std::unique_ptr<server::Readiness> readiness_;
};

}  // namespace gridloop::incidents

#endif  // GRIDLOOP_SERVICES_INCIDENTS_APP_H_
