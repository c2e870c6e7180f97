#include "common/server/metrics.h"

#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace gridloop::server {
namespace {

using grpc::experimental::InterceptionHookPoints;

// From half a millisecond (a cache hit) to ten seconds (beyond any deadline we set).
const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* const buckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *buckets;
}

class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(Metrics* metrics, const char* method)
      : metrics_(metrics),
        method_(method == nullptr ? "" : method),
        start_(std::chrono::steady_clock::now()) {}

  ~MetricsInterceptor() override {
    // A call that ends without the server sending a status was cancelled underneath it.
    if (!recorded_) Record(grpc::StatusCode::CANCELLED);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (!recorded_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      // Recorded before the status leaves, so a client that has its answer can already
      // see its call counted.
      Record(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Record(grpc::StatusCode code) {
    recorded_ = true;
    metrics_->RecordRpc(method_, code, std::chrono::steady_clock::now() - start_);
  }

  Metrics* const metrics_;
  // A copy: a generic service's method name dies with its context, before this does.
  const std::string method_;
  const std::chrono::steady_clock::time_point start_;
  bool recorded_ = false;  // hooks of one call never run concurrently
};

class MetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(Metrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(metrics_, info->method());
  }

 private:
  Metrics* const metrics_;
};

}  // namespace

absl::string_view StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      rpc_total_(&prometheus::BuildCounter()
                      .Name("gridloop_rpc_total")
                      .Help("RPCs handled, by service, method and status code.")
                      .Register(*registry_)),
      rpc_duration_(&prometheus::BuildHistogram()
                         .Name("gridloop_rpc_duration_seconds")
                         .Help("Time from a call's arrival to its status, in seconds.")
                         .Register(*registry_)),
      outbox_lag_(&prometheus::BuildGauge()
                       .Name("gridloop_outbox_lag")
                       .Help("Outbox entries written but not yet published.")
                       .Register(*registry_)
                       .Add({})),
      consumer_lag_(&prometheus::BuildGauge()
                         .Name("gridloop_consumer_lag")
                         .Help("Records behind the end of the consumed partitions.")
                         .Register(*registry_)),
      consumer_dead_lettered_(
          &prometheus::BuildCounter()
               .Name("gridloop_consumer_dead_lettered_total")
               .Help("Records a consumer could not handle and parked in its dead-letter topic.")
               .Register(*registry_)),
      dependency_up_(&prometheus::BuildGauge()
                          .Name("gridloop_dependency_up")
                          .Help("1 while a dependency the service cannot answer without "
                                "answers its checks, 0 while it does not.")
                          .Register(*registry_)) {}

Metrics::~Metrics() {
  absl::MutexLock lock(&mu_);
  exposer_.reset();
}

absl::Status Metrics::Expose(absl::string_view listen) {
  absl::MutexLock lock(&mu_);
  if (exposer_ != nullptr) return absl::FailedPreconditionError("metrics are already exposed");
  try {
    auto exposer = std::make_unique<prometheus::Exposer>(std::string(listen));
    exposer->RegisterCollectable(registry_);
    exposer_ = std::move(exposer);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", listen, ": ", e.what()));
  }
  return absl::OkStatus();
}

int Metrics::exposed_port() const {
  absl::MutexLock lock(&mu_);
  if (exposer_ == nullptr) return 0;
  std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

std::pair<prometheus::Counter*, prometheus::Histogram*> Metrics::Series(
    absl::string_view full_method, grpc::StatusCode code) {
  int index = static_cast<int>(code);
  if (index < 0 || index >= kCodes) index = static_cast<int>(grpc::StatusCode::UNKNOWN);
  absl::MutexLock lock(&mu_);
  auto it = methods_.find(full_method);
  if (it == methods_.end()) {
    absl::string_view name = full_method;
    if (!name.empty() && name.front() == '/') name.remove_prefix(1);
    size_t slash = name.find('/');
    bool well_formed = slash != absl::string_view::npos && slash != 0 && slash + 1 != name.size();
    auto series = std::make_unique<MethodSeries>();
    // A method first seen answering UNIMPLEMENTED is almost surely one a client made up.
    if (well_formed && methods_.size() < kMaxMethods && code != grpc::StatusCode::UNIMPLEMENTED) {
      series->service = std::string(name.substr(0, slash));
      series->method = std::string(name.substr(slash + 1));
      it = methods_.emplace(full_method, std::move(series)).first;
    } else {
      series->service = "other";
      series->method = "other";
      it = methods_.try_emplace("", std::move(series)).first;
    }
  }
  MethodSeries& series = *it->second;
  if (series.total[index] == nullptr) {
    prometheus::Labels labels = {{"service", series.service},
                                 {"method", series.method},
                                 {"code", std::string(StatusCodeName(code))}};
    series.total[index] = &rpc_total_->Add(labels);
    series.duration[index] = &rpc_duration_->Add(labels, LatencyBuckets());
  }
  return {series.total[index], series.duration[index]};
}

void Metrics::RecordRpc(absl::string_view full_method, grpc::StatusCode code,
                        std::chrono::steady_clock::duration elapsed) {
  auto [total, duration] = Series(full_method, code);
  total->Increment();
  duration->Observe(std::chrono::duration<double>(elapsed).count());
}

void Metrics::ObserveConsumer(absl::string_view consumer, int64_t lag, int64_t dead_lettered) {
  const std::string name(consumer);
  consumer_lag_->Add({{"consumer", name}}).Set(static_cast<double>(lag));
  prometheus::Counter& counter = consumer_dead_lettered_->Add({{"consumer", name}});
  absl::MutexLock lock(&mu_);
  int64_t& seen = dead_lettered_seen_[name];
  if (dead_lettered < seen) seen = 0;
  if (dead_lettered > seen) counter.Increment(static_cast<double>(dead_lettered - seen));
  seen = dead_lettered;
}

void Metrics::ObserveDependency(absl::string_view dependency, bool up) {
  dependency_up_->Add({{"dependency", std::string(dependency)}}).Set(up ? 1.0 : 0.0);
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
Metrics::NewInterceptorFactory() {
  return std::make_unique<MetricsInterceptorFactory>(this);
}

}  // namespace gridloop::server
