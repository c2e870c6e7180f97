#ifndef GRIDLOOP_SERVICES_RESIDENTS_APP_H_
#define GRIDLOOP_SERVICES_RESIDENTS_APP_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"
#include "common/config/config.h"
#include "common/config/process_settings.h"
#include "common/pii/keyring.h"
#include "common/redis/redis_client.h"
#include "common/server/executor.h"
#include "common/server/metrics.h"
#include "common/server/periodic.h"
#include "common/server/readiness.h"
#include "common/server/server.h"
#include "services/residents/ledger_store.h"
#include "services/residents/residents.h"
#include "services/residents/residents_grpc.h"

namespace gridloop::residents {

struct AppConfig : config::ProcessSettings {
  AppConfig() { listen = "0.0.0.0:50052"; }
  // How often a replica picks up grid boundaries changed through another replica.
  absl::Duration grid_refresh = absl::Seconds(1);
  absl::Duration request_retention = absl::Hours(48);
  // How long start-up waits for Redis to answer (it may still be loading its data).
  absl::Duration startup_wait = absl::Seconds(30);
  // Personal-data keys: "<id>:<base64 32 bytes>,…", the active id, and the index key.
  std::string pii_keys;
  std::string pii_active_key;
  std::string pii_index_key;

  // From flags / GRIDLOOP_* variables: listen, metrics_listen, redis, redis_pool, workers,
  // max_queue, drain_timeout, grid_refresh, startup_wait, pii_keys, pii_active_key,
  // pii_index_key.
  static absl::StatusOr<AppConfig> FromSettings(const config::Settings& settings);
};

class App {
 public:
  // `clock` must outlive the app.
  static absl::StatusOr<std::unique_ptr<App>> Start(const AppConfig& config, const Clock* clock);
  ~App();

  int port() const { return server_->port(); }
  void Wait() { server_->Wait(); }
  void Shutdown() { server_->Shutdown(); }
  Residents& residents() { return *residents_; }

 private:
  App() = default;

  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<pii::Keyring> keyring_;
  std::unique_ptr<LedgerStore> store_;
  std::unique_ptr<Residents> residents_;
  std::unique_ptr<server::Executor> executor_;
  std::unique_ptr<ResidentGrpc> grpc_;
  std::unique_ptr<server::Metrics> metrics_;
  std::unique_ptr<server::Periodic> refresher_;
  std::unique_ptr<server::Server> server_;
  // After server_ and redis_: it reports to the one what it learns of the other.
  std::unique_ptr<server::Readiness> readiness_;
};

}  // namespace gridloop::residents

#endif  // GRIDLOOP_SERVICES_RESIDENTS_APP_H_
