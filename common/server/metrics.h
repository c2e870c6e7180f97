#ifndef GRIDLOOP_COMMON_SERVER_METRICS_H_
#define GRIDLOOP_COMMON_SERVER_METRICS_H_

#include <grpcpp/support/server_interceptor.h>
#include <grpcpp/support/status.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace gridloop::server {

// A process's Prometheus metrics: the RPC counters every server records through the
// interceptor from NewInterceptorFactory(), the lag gauges the services set, and the
// registry for anything else a service wants to export. Optionally served over HTTP
// (`/metrics`). Thread-safe; must outlive every server whose calls it records.
class Metrics {
 public:
  Metrics();
  ~Metrics();

  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Serves the registry on `listen` ("0.0.0.0:9090"; port 0 picks a free one) until
  // destruction. Unavailable if the address cannot be bound; FailedPrecondition if
  // already serving.
  absl::Status Expose(absl::string_view listen);
  // The port Expose bound, or 0 when not exposed.
  int exposed_port() const;

  // The registry, for a service's own families (prometheus::BuildGauge()...Register()).
  prometheus::Registry& registry() { return *registry_; }

  // Records one finished call. `full_method` is gRPC's "/package.Service/Method".
  void RecordRpc(absl::string_view full_method, grpc::StatusCode code,
                 std::chrono::steady_clock::duration elapsed);

  // gridloop_outbox_lag: outbox entries written but not yet published to Kafka.
  prometheus::Gauge& outbox_lag() { return *outbox_lag_; }
  // A consumer's state on a service's tick: sets gridloop_consumer_lag{consumer} (records
  // behind the partition end) to `lag`, and moves
  // gridloop_consumer_dead_lettered_total{consumer} on to `dead_lettered`, the consumer's
  // own count of records parked in its DLQ since it was created. A count lower than the
  // last one seen (a consumer created anew) counts from zero again, as a counter's
  // reset does.
  void ObserveConsumer(absl::string_view consumer, int64_t lag, int64_t dead_lettered);

  // gridloop_dependency_up{dependency}: 1 while `dependency` ("redis") answers, 0 while it
  // does not (see Readiness).
  void ObserveDependency(absl::string_view dependency, bool up);

  // A server interceptor factory recording every call's count, code and latency here.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewInterceptorFactory();

  // Distinct methods recorded under their own name. Calls to further methods, and to
  // methods the server does not have (first call answered UNIMPLEMENTED), are recorded as
  // service="other", method="other", so clients cannot grow the series without bound.
  static constexpr size_t kMaxMethods = 512;

 private:
  static constexpr int kCodes = 17;  // grpc::StatusCode values 0..16
  // One method's series, created on first use: prometheus-cpp's Family::Add builds a new
  // metric object on every call even when the series exists, too costly per RPC.
  struct MethodSeries {
    std::string service;
    std::string method;
    std::array<prometheus::Counter*, kCodes> total{};
    std::array<prometheus::Histogram*, kCodes> duration{};
  };
  // The series for `full_method` and `code`; "other" beyond kMaxMethods methods.
  std::pair<prometheus::Counter*, prometheus::Histogram*> Series(absl::string_view full_method,
                                                                 grpc::StatusCode code);

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* rpc_total_;
  prometheus::Family<prometheus::Histogram>* rpc_duration_;
  prometheus::Gauge* outbox_lag_;
  prometheus::Family<prometheus::Gauge>* consumer_lag_;
  prometheus::Family<prometheus::Counter>* consumer_dead_lettered_;
  prometheus::Family<prometheus::Gauge>* dependency_up_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<MethodSeries>> methods_ ABSL_GUARDED_BY(mu_);
  // Per consumer: the dead-lettered count the counter stands at.
  absl::flat_hash_map<std::string, int64_t> dead_lettered_seen_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<prometheus::Exposer> exposer_ ABSL_GUARDED_BY(mu_);
};

// The canonical name of `code` ("RESOURCE_EXHAUSTED"), as metric labels carry it.
absl::string_view StatusCodeName(grpc::StatusCode code);

}  // namespace gridloop::server

#endif  // GRIDLOOP_COMMON_SERVER_METRICS_H_
