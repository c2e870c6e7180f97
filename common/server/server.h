#ifndef GRIDLOOP_COMMON_SERVER_SERVER_H_
#define GRIDLOOP_COMMON_SERVER_SERVER_H_

#include <grpcpp/impl/service_type.h>
#include <grpcpp/server.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/server/metrics.h"

namespace gridloop::server {

struct ServerOptions {
  // Names the process in logs ("incidents").
  std::string service_name;
  // Names reported by the health service ("gridloop.v1.IncidentService"), in addition to
  // the overall status under "".
  std::vector<std::string> health_services;
  // "host:port"; port 0 picks a free one (see Server::port()).
  std::string listen = "0.0.0.0:50051";
  // "host:port" for Prometheus's /metrics; empty = not served over HTTP.
  std::string metrics_listen;
  // A report is a few KiB; 1 MiB leaves room and caps what one call can make us buffer.
  int max_receive_message_bytes = 1 << 20;
  // Room for a page of incidents.
  int max_send_message_bytes = 4 << 20;
  // How long in-flight calls may take to finish once shutdown begins; calls still running
  // then are cancelled.
  absl::Duration drain_timeout = absl::Seconds(20);
  // Server-initiated pings on idle connections find dead peers behind NATs and proxies.
  absl::Duration keepalive_time = absl::Minutes(1);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  // Clients reconnect after this long (with a grace for calls in flight), so connections
  // spread over replicas added since they were opened.
  absl::Duration max_connection_age = absl::Minutes(5);
};

// Owns a running gRPC server set up the way every GridLoop service is: the standard health
// service, server reflection, the identity and metrics interceptors, keepalive and
// message-size limits. Public methods are thread-safe.
class Server {
 public:
  // Builds and starts serving `services` (not owned; they must outlive the Server) on
  // options.listen, with every health name SERVING. `metrics` (not owned, may be null to
  // record nothing) must outlive the Server; it is served on options.metrics_listen when
  // that is set. Unavailable if an address cannot be bound; InvalidArgument for options
  // gRPC refuses.
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerOptions options,
                                                       const std::vector<grpc::Service*>& services,
                                                       Metrics* metrics);

  // Runs the shutdown sequence if Wait() has not.
  ~Server();

  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port.
  int port() const { return port_; }

  // Adds a step to the shutdown sequence, run after the gRPC server has drained, in the
  // order added: flush the producer, stop consumers, stop the outbox relay... Hooks added
  // once the sequence has started are not run.
  void OnShutdown(std::function<void()> fn);

  // Blocks until SIGTERM or SIGINT arrives (when the calling thread blocks them, see
  // BlockTerminationSignals) or Shutdown() is called, then: every health name NOT_SERVING,
  // stop accepting calls and let those in flight finish within drain_timeout, run the
  // OnShutdown hooks, return. Call at most once.
  void Wait();

  // Asks Wait() to run the shutdown sequence and return. Returns at once; safe from any
  // thread, including a handler. Idempotent.
  void Shutdown();

  // Reports the named health services (ServerOptions::health_services, what readiness
  // probes ask for) SERVING or NOT_SERVING, e.g. while a dependency is out of reach (see
  // Readiness). The overall status "" stays SERVING until shutdown: it is the liveness
  // probe's. Ignored once shutdown has begun: every name then stays NOT_SERVING.
  void SetReady(bool ready);

 private:
  Server(ServerOptions options, std::unique_ptr<grpc::Server> server, int port);

  bool ShutdownRequested() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return shutdown_requested_; }
  // The sequence Wait() describes after the trigger. Runs once.
  void Stop();

  const ServerOptions options_;
  const std::unique_ptr<grpc::Server> server_;
  const int port_;

  mutable absl::Mutex mu_;
  bool shutdown_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::function<void()>> hooks_ ABSL_GUARDED_BY(mu_);

  absl::Mutex stop_mu_;  // held for the whole sequence so it runs once
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
};

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts afterwards,
// so that Server::Wait can take them with sigwait() instead of a handler. Call first in
// main, before any thread exists (gRPC and librdkafka start threads of their own).
void BlockTerminationSignals();

// What every service's main does first: BlockTerminationSignals(), and turn off Abseil's
// mutex deadlock detection, a debugging aid that Debian's Abseil leaves on and that costs
// a global lock-graph update on every contended lock in the request path.
void PrepareProcess();

}  // namespace gridloop::server

#endif  // GRIDLOOP_COMMON_SERVER_SERVER_H_
