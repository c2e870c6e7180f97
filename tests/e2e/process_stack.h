#ifndef GRIDLOOP_TESTS_E2E_PROCESS_STACK_H_
#define GRIDLOOP_TESTS_E2E_PROCESS_STACK_H_

// The whole of GridLoop as an operator runs it, for end-to-end tests: the four services'
// own binaries as separate processes, a real redis-server with AOF on, and a Kafka-protocol
// broker (librdkafka's mock cluster, hosted here so that tests can take it down or inject
// request errors). Every process is a child of the test and dies with it.
//
// Services run exactly as deployed, configured by GRIDLOOP_* variables only; each keeps
// its ports across restarts so that its peers find it again.

#include <grpcpp/channel.h>
#include <sys/types.h>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/server/health_check.h"
#include "common/testing/kafka_cluster.h"
#include "common/testing/redis_server.h"
#include "gridloop/v1/residents.grpc.pb.h"

namespace gridloop::e2e {

enum class Service { kResidents = 0, kIncidents = 1, kDispatch = 2, kAssessment = 3 };
inline constexpr std::array<Service, 4> kAllServices = {Service::kResidents, Service::kIncidents,
                                                        Service::kDispatch, Service::kAssessment};

// "residents", "incidents", ...
absl::string_view ServiceName(Service service);

struct StackOptions {
  // Partitions of every topic. The mock broker keeps ~5 MiB per partition; a long run
  // needs enough of them that nothing ages out before it is read.
  int partitions = 4;
  // "always": an acknowledged write survives a SIGKILL of Redis. "everysec" loses up to
  // a second of them.
  std::string redis_appendfsync = "always";
  // Written to a file for GRIDLOOP_CATEGORIES_FILE; empty = the built-in taxonomy.
  std::string categories_csv;
  // Consumers read every partition without joining their group
  // (GRIDLOOP_CONSUMER_PARTITIONS): a killed and restarted service resumes from its
  // committed offsets at once instead of waiting out the group's session timeout.
  bool assign_partitions = true;
  // Added to (or overriding) every service's environment, e.g. {"GRIDLOOP_SLA_INTERVAL",
  // "200ms"}; per service below.
  std::map<std::string, std::string> env;
  std::map<Service, std::map<std::string, std::string>> service_env;
  // Called once the residents service is up and before the others start: creates the
  // regions, staff and residents the test needs.
  std::function<absl::Status(v1::ResidentService::Stub&)> seed;
  // How long a starting service may take to answer its health check as SERVING.
  absl::Duration ready_timeout = absl::Seconds(90);
};

class ProcessStack {
 public:
  // Redis, the broker with every topic, residents, seed, then incidents, dispatch and
  // assessment, each waited for until it is SERVING. The error carries the log tail of
  // whatever did not come up.
  static absl::StatusOr<std::unique_ptr<ProcessStack>> Start(StackOptions options);
  // Stops the services (SIGTERM, they drain), then the broker and Redis; removes the
  // working directory.
  ~ProcessStack();

  ProcessStack(const ProcessStack&) = delete;
  ProcessStack& operator=(const ProcessStack&) = delete;

  // A crash: SIGKILL, reaped. OK if it was not running.
  absl::Status Kill(Service service);
  // A rolling restart's first half: SIGTERM and wait for the drain (SIGKILL after
  // `grace`). Returns the exit status as waitpid reports it (0 = clean exit, code 0).
  absl::StatusOr<int> Stop(Service service, absl::Duration grace = absl::Seconds(30));
  // A hung peer: SIGSTOP keeps its sockets open but it answers nothing, so callers learn
  // of it only through their own deadlines. Thaw sends SIGCONT.
  absl::Status Freeze(Service service);
  absl::Status Thaw(Service service);
  // Starts the service again on its ports and waits until it is SERVING.
  absl::Status Launch(Service service);
  bool running(Service service) const;
  pid_t pid(Service service) const;

  // "127.0.0.1:<port>" of the service's gRPC listener.
  std::string address(Service service) const;
  // The port of the service's Prometheus page (/metrics).
  int metrics_port(Service service) const { return process(service).metrics_port; }
  std::shared_ptr<grpc::Channel> channel(Service service) const;
  // What the service's health check answers for its own name (readiness, which follows
  // Redis) or, with `readiness` false, for "" (liveness).
  absl::StatusOr<server::ServingStatus> Health(Service service, bool readiness) const;
  // The last `bytes` of the output (JSON log lines) of the service's current or last life.
  std::string LogTail(Service service, size_t bytes = 4000) const;

  testing::RedisServer& redis() { return *redis_; }
  testing::MockKafkaCluster& kafka() { return *kafka_; }
  const std::string& dir() const { return dir_; }
  int partitions() const { return options_.partitions; }

 private:
  struct Process {
    std::string binary;
    int port = 0;
    int metrics_port = 0;
    pid_t pid = 0;
    int launches = 0;
  };

  explicit ProcessStack(StackOptions options) : options_(std::move(options)) {}
  std::vector<std::string> Environment(Service service) const;
  // New gRPC and metrics ports for the service, and a channel to the new one.
  absl::Status PickPorts(Service service);
  // Launch, moving to other ports when one picked was taken meanwhile.
  absl::Status FirstLaunch(Service service);
  absl::Status WaitUntilServing(Service service);
  Process& process(Service service) { return processes_[static_cast<int>(service)]; }
  const Process& process(Service service) const { return processes_[static_cast<int>(service)]; }
  std::string LogPath(Service service) const;

  StackOptions options_;
  std::string dir_;
  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<testing::MockKafkaCluster> kafka_;
  std::array<Process, 4> processes_;
  std::array<std::shared_ptr<grpc::Channel>, 4> channels_;
};

}  // namespace gridloop::e2e

#endif  // GRIDLOOP_TESTS_E2E_PROCESS_STACK_H_
