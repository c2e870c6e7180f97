#ifndef GRIDLOOP_SERVICES_ASSESSMENT_APP_H_
#define GRIDLOOP_SERVICES_ASSESSMENT_APP_H_

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
#include "services/assessment/assessment.h"
#include "services/assessment/assessment_grpc.h"
#include "services/assessment/folder.h"
#include "services/assessment/grpc_resident_regions.h"
#include "services/assessment/rebuilder.h"
#include "services/assessment/redis_assessment_store.h"
#include "services/assessment/redis_survey_store.h"
#include "services/assessment/scoring.h"
#include "services/assessment/surveys.h"

namespace gridloop::assessment {

inline constexpr char kIncidentEventsTopic[] = "gridloop.incident.events.v1";
inline constexpr char kDispatchEventsTopic[] = "gridloop.dispatch.events.v1";
inline constexpr char kScoreEventsTopic[] = "gridloop.assessment.scores.v1";

// Everything the assessment process is configured with. FromSettings documents the names.
// assign_partitions, when set, applies to both event topics.
struct AppConfig : config::ProcessSettings, config::ConsumerSettings {
  AppConfig() {
    listen = "0.0.0.0:50054";
    consumer_group = "gridloop-assessment";
  }
  std::string incident_topic = kIncidentEventsTopic;
  std::string dispatch_topic = kDispatchEventsTopic;
  std::string scores_topic = kScoreEventsTopic;
  std::string residents_addr = "127.0.0.1:50052";
  absl::Duration peer_timeout = absl::Seconds(2);
  std::string scoring_file;  // formula versions; empty = the built-in v1
  std::string city_region = "3301";
  absl::Duration score_interval = absl::Minutes(1);
  absl::Duration publish_every = absl::Seconds(1);
  bool relay = true;

  // From flags / GRIDLOOP_* variables: listen, metrics_listen, redis, redis_pool,
  // kafka_brokers, incident_topic, dispatch_topic, scores_topic, consumer_group,
  // consumer_partitions, consumer_max_attempts, consumer_workers, kafka_fetch_wait,
  // residents_addr, peer_timeout,
  // scoring_file, city_region, score_interval, publish_every, workers, max_queue,
  // drain_timeout, outbox_relay. InvalidArgument names a bad one.
  static absl::StatusOr<AppConfig> FromSettings(const config::Settings& settings);
};

// The assessment process, composed: Redis -> stores -> folder, scoring and surveys ->
// gRPC, plus the event consumer, the score-event publisher, the rebuilder and the outbox
// relay. Used by main() and by in-process tests.
class App {
 public:
  // `clock` must outlive the app. Fails fast on bad configuration.
  static absl::StatusOr<std::unique_ptr<App>> Start(const AppConfig& config, const Clock* clock);
  ~App();

  int port() const { return server_->port(); }
  void Wait() { server_->Wait(); }
  void Shutdown() { server_->Shutdown(); }

  Folder& folder() { return *folder_; }
  Assessment& assessment() { return *assessment_; }
  AssessmentStore& store() { return *store_; }
  Rebuilder& rebuilder() { return *rebuilder_; }
  kafka::Consumer* consumer() { return consumer_.get(); }
  outbox::Relay* relay() { return relay_.get(); }

 private:
  App() = default;

  Formulas formulas_ = Formulas::Default();
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<outbox::Relay> relay_;
  std::unique_ptr<RedisAssessmentStore> store_;
  std::unique_ptr<RedisSurveyStore> survey_store_;
  std::unique_ptr<GrpcResidentRegions> residents_;
  std::unique_ptr<Folder> folder_;
  std::unique_ptr<Assessment> assessment_;
  std::unique_ptr<Surveys> surveys_;
  std::unique_ptr<Rebuilder> rebuilder_;
  std::unique_ptr<server::Executor> executor_;
  std::unique_ptr<AssessmentGrpc> grpc_;
  std::unique_ptr<server::Metrics> metrics_;
  std::unique_ptr<kafka::Consumer> consumer_;
  std::unique_ptr<server::Periodic> publisher_;
  std::unique_ptr<server::Server> server_;
  // After server_ and redis_: it reports to the one what it learns of the other.
  std::unique_ptr<server::Readiness> readiness_;
};

}  // namespace gridloop::assessment

#endif  // GRIDLOOP_SERVICES_ASSESSMENT_APP_H_
