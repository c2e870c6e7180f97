#include "common/server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <pthread.h>

#include <algorithm>
#include <csignal>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/identity/identity_interceptor.h"
#include "common/log/log.h"

namespace gridloop::server {
namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

// True when the calling thread blocks the termination signals, i.e. main opted in to
// taking them synchronously.
bool TerminationSignalsBlocked() {
  sigset_t current;
  sigemptyset(&current);
  if (pthread_sigmask(SIG_BLOCK, nullptr, &current) != 0) return false;
  return sigismember(&current, SIGTERM) == 1 && sigismember(&current, SIGINT) == 1;
}

// Both switches are process-wide and must be set before the first ServerBuilder.
void EnableHealthAndReflection() {
  static std::once_flag once;
  std::call_once(once, [] {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  });
}

int Millis(absl::Duration d) {
  // Channel arguments are ints; 20 days is beyond any setting that makes sense.
  return static_cast<int>(
      absl::ToInt64Milliseconds(std::clamp(d, absl::ZeroDuration(), absl::Hours(24 * 20))));
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void PrepareProcess() {
  BlockTerminationSignals();
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options,
                                                      const std::vector<grpc::Service*>& services,
                                                      Metrics* metrics) {
  if (options.max_receive_message_bytes <= 0 || options.max_send_message_bytes <= 0) {
    return absl::InvalidArgumentError("message size limits must be positive");
  }
  if (options.listen.empty()) return absl::InvalidArgumentError("listen address is empty");
  EnableHealthAndReflection();

  if (metrics != nullptr && !options.metrics_listen.empty()) {
    absl::Status exposed = metrics->Expose(options.metrics_listen);
    if (!exposed.ok()) return exposed;
  }

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &port);
  // A second server on a port already served must fail to start, not silently take half
  // of the first one's calls (gRPC sets SO_REUSEPORT unless told otherwise).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  for (grpc::Service* service : services) builder.RegisterService(service);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  builder.SetMaxSendMessageSize(options.max_send_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, Millis(options.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Millis(options.keepalive_timeout));
  // Tolerate client keepalives down to 10 s instead of answering them with GOAWAY.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, Millis(options.max_connection_age));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, Millis(options.drain_timeout));

  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  // Metrics first, so the latency it records includes the identity interceptor's work.
  if (metrics != nullptr) creators.push_back(metrics->NewInterceptorFactory());
  creators.push_back(std::make_unique<IdentityInterceptorFactory>());
  builder.experimental().SetInterceptorCreators(std::move(creators));

  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    if (server != nullptr) server->Shutdown();
    return absl::UnavailableError(absl::StrCat("cannot serve gRPC on ", options.listen));
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  if (health != nullptr) {
    health->SetServingStatus(true);
    for (const std::string& name : options.health_services) health->SetServingStatus(name, true);
  }
  log::Info("serving", {{"service", options.service_name},
                        {"listen", options.listen},
                        {"port", absl::StrCat(port)},
                        {"metrics_port", absl::StrCat(metrics ? metrics->exposed_port() : 0)}});
  return std::unique_ptr<Server>(new Server(std::move(options), std::move(server), port));
}

Server::Server(ServerOptions options, std::unique_ptr<grpc::Server> server, int port)
    : options_(std::move(options)), server_(std::move(server)), port_(port) {}

Server::~Server() {
  Shutdown();
  Stop();
}

void Server::OnShutdown(std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  hooks_.push_back(std::move(fn));
}

void Server::SetReady(bool ready) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  for (const std::string& name : options_.health_services) health->SetServingStatus(name, ready);
}

void Server::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutdown_requested_ = true;
}

void Server::Wait() {
  std::thread signal_watcher;
  if (TerminationSignalsBlocked()) {
    // Inherits the blocked mask, so sigwait() is the only way these signals are taken.
    signal_watcher = std::thread([this] {
      sigset_t set = TerminationSignals();
      int signal = 0;
      if (sigwait(&set, &signal) != 0) return;
      bool already = false;
      {
        absl::MutexLock lock(&mu_);
        already = shutdown_requested_;
      }
      // When Wait() is done it wakes this thread with a signal of its own; that is no request.
      if (!already) {
        log::Info("termination signal received",
                  {{"signal", signal == SIGINT ? "SIGINT" : "SIGTERM"}});
        Shutdown();
      }
    });
  }
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &Server::ShutdownRequested));
  }
  Stop();
  if (signal_watcher.joinable()) {
    // Blocked there, so it only ends sigwait(); the watcher sees the request and returns.
    // NOLINTNEXTLINE(bugprone-bad-signal-to-kill-thread)
    pthread_kill(signal_watcher.native_handle(), SIGTERM);
    signal_watcher.join();
  }
}

void Server::Stop() {
  absl::MutexLock stop_lock(&stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  std::vector<std::function<void()>> hooks;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    shutdown_requested_ = true;
    hooks.swap(hooks_);
    // Under mu_, so no SetReady can follow and undo it.
    grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
    if (health != nullptr) health->SetServingStatus(false);
  }
  log::Info("draining", {{"service", options_.service_name},
                         {"timeout", absl::FormatDuration(options_.drain_timeout)}});
  // Stops accepting calls, waits for those in flight until the deadline, then cancels them.
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(options_.drain_timeout));
  server_->Wait();
  for (std::function<void()>& hook : hooks) hook();
  log::Info("stopped", {{"service", options_.service_name}});
}

}  // namespace gridloop::server
