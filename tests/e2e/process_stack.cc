#include "tests/e2e/process_stack.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <sys/wait.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/server/health_check.h"
#include "common/testing/child_process.h"

namespace gridloop::e2e {
namespace {

constexpr const char* kTopics[] = {
    "gridloop.incident.events.v1",   "gridloop.incident.events.v1.dlq",
    "gridloop.dispatch.events.v1",   "gridloop.dispatch.events.v1.dlq",
    "gridloop.assessment.scores.v1",
};

// Personal-data keys of the stack's residents service: fixed, since nothing a test seals
// outlives it.
constexpr char kPiiKeys[] = "e2e1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr char kPiiIndexKey[] = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

constexpr int kMaxPortAttempts = 5;

// Where CMake put the binaries this test depends on.
std::string BinaryOf(Service service) {
  switch (service) {
    case Service::kResidents:
      return GRIDLOOP_E2E_RESIDENTS_BIN;
    case Service::kIncidents:
      return GRIDLOOP_E2E_INCIDENTS_BIN;
    case Service::kDispatch:
      return GRIDLOOP_E2E_DISPATCH_BIN;
    case Service::kAssessment:
      return GRIDLOOP_E2E_ASSESSMENT_BIN;
  }
  return "";
}

std::string HealthServiceOf(Service service) {
  switch (service) {
    case Service::kResidents:
      return "gridloop.v1.ResidentService";
    case Service::kIncidents:
      return "gridloop.v1.IncidentService";
    case Service::kDispatch:
      return "gridloop.v1.DispatchService";
    case Service::kAssessment:
      return "gridloop.v1.AssessmentService";
  }
  return "";
}

}  // namespace

absl::string_view ServiceName(Service service) {
  switch (service) {
    case Service::kResidents:
      return "residents";
    case Service::kIncidents:
      return "incidents";
    case Service::kDispatch:
      return "dispatch";
    case Service::kAssessment:
      return "assessment";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<ProcessStack>> ProcessStack::Start(StackOptions options) {
  testing::IgnoreSigpipe();
  std::unique_ptr<ProcessStack> stack(new ProcessStack(std::move(options)));
  const char* tmp = getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/gridloop-e2e-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern, ": ", std::strerror(errno)));
  }
  stack->dir_ = pattern;

  testing::RedisServer::Options ro;
  ro.appendonly = true;
  ro.appendfsync = stack->options_.redis_appendfsync;
  absl::StatusOr<std::unique_ptr<testing::RedisServer>> redis = testing::RedisServer::Start(ro);
  if (!redis.ok()) return redis.status();
  stack->redis_ = std::move(*redis);

  absl::StatusOr<std::unique_ptr<testing::MockKafkaCluster>> kafka =
      testing::MockKafkaCluster::Start(1);
  if (!kafka.ok()) return kafka.status();
  stack->kafka_ = std::move(*kafka);
  for (const char* topic : kTopics) {
    if (absl::Status s = stack->kafka_->CreateTopic(topic, stack->options_.partitions); !s.ok()) {
      return s;
    }
  }

  if (!stack->options_.categories_csv.empty()) {
    std::ofstream out(stack->dir_ + "/categories.csv");
    out << stack->options_.categories_csv;
    if (!out) return absl::InternalError("cannot write categories.csv");
  }

  for (Service service : kAllServices) {
    stack->process(service).binary = BinaryOf(service);
    if (absl::Status s = stack->PickPorts(service); !s.ok()) return s;
  }

  if (absl::Status s = stack->FirstLaunch(Service::kResidents); !s.ok()) return s;
  if (stack->options_.seed) {
    auto stub = v1::ResidentService::NewStub(stack->channel(Service::kResidents));
    if (absl::Status s = stack->options_.seed(*stub); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("seeding the residents ledger: ", s.message()));
    }
  }
  for (Service service : {Service::kIncidents, Service::kDispatch, Service::kAssessment}) {
    if (absl::Status s = stack->FirstLaunch(service); !s.ok()) return s;
  }
  return stack;
}

ProcessStack::~ProcessStack() {
  // Callers first, so that nothing is left calling a peer that already went away.
  for (Service service :
       {Service::kAssessment, Service::kDispatch, Service::kIncidents, Service::kResidents}) {
    if (running(service)) (void)Stop(service);
  }
  kafka_.reset();
  redis_.reset();
  if (dir_.empty()) return;
  // GRIDLOOP_E2E_KEEP=1 keeps every process's log for a look after the test.
  if (const char* keep = getenv("GRIDLOOP_E2E_KEEP"); keep != nullptr && keep[0] == '1') {
    std::fprintf(stderr, "e2e: logs kept in %s\n", dir_.c_str());
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string ProcessStack::address(Service service) const {
  return absl::StrCat("127.0.0.1:", process(service).port);
}

std::shared_ptr<grpc::Channel> ProcessStack::channel(Service service) const {
  return channels_[static_cast<int>(service)];
}

bool ProcessStack::running(Service service) const { return process(service).pid > 0; }

pid_t ProcessStack::pid(Service service) const { return process(service).pid; }

std::string ProcessStack::LogPath(Service service) const {
  return absl::StrCat(dir_, "/", ServiceName(service), ".", process(service).launches, ".log");
}

std::string ProcessStack::LogTail(Service service, size_t bytes) const {
  return testing::FileTail(LogPath(service), bytes);
}

std::vector<std::string> ProcessStack::Environment(Service service) const {
  std::map<std::string, std::string> env;
  // The sanitizers' settings (suppressions, exit codes) reach the services too.
  for (const char* name : {"ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS", "TZ"}) {
    if (const char* value = getenv(name); value != nullptr) env[name] = value;
  }
  const Process& self = process(service);
  env["GRIDLOOP_LISTEN"] = absl::StrCat("127.0.0.1:", self.port);
  env["GRIDLOOP_METRICS_LISTEN"] = absl::StrCat("127.0.0.1:", self.metrics_port);
  env["GRIDLOOP_REDIS"] = redis_->address();
  // As a container restarted in its pod keeps the pod's name: a killed service comes back
  // as itself and takes up its outbox leases at once.
  env["GRIDLOOP_INSTANCE"] = absl::StrCat(ServiceName(service), "-e2e");
  // A small box shared by six processes: a few threads each.
  env["GRIDLOOP_WORKERS"] = "4";
  if (service != Service::kResidents) {
    env["GRIDLOOP_KAFKA_BROKERS"] = kafka_->bootstrap();
    env["GRIDLOOP_RESIDENTS_ADDR"] = address(Service::kResidents);
  }
  if (options_.assign_partitions &&
      (service == Service::kDispatch || service == Service::kAssessment)) {
    std::vector<int> all(options_.partitions);
    std::iota(all.begin(), all.end(), 0);
    env["GRIDLOOP_CONSUMER_PARTITIONS"] = absl::StrJoin(all, ",");
  }
  switch (service) {
    case Service::kResidents:
      env["GRIDLOOP_PII_KEYS"] = kPiiKeys;
      env["GRIDLOOP_PII_INDEX_KEY"] = kPiiIndexKey;
      break;
    case Service::kIncidents:
      if (!options_.categories_csv.empty()) {
        env["GRIDLOOP_CATEGORIES_FILE"] = dir_ + "/categories.csv";
      }
      break;
    case Service::kDispatch:
      env["GRIDLOOP_INCIDENTS_ADDR"] = address(Service::kIncidents);
      break;
    case Service::kAssessment:
      break;
  }
  for (const auto& [name, value] : options_.env) env[name] = value;
  if (auto it = options_.service_env.find(service); it != options_.service_env.end()) {
    for (const auto& [name, value] : it->second) env[name] = value;
  }
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [name, value] : env) out.push_back(absl::StrCat(name, "=", value));
  return out;
}

absl::Status ProcessStack::PickPorts(Service service) {
  Process& p = process(service);
  absl::StatusOr<int> port = testing::PickFreePort();
  if (!port.ok()) return port.status();
  absl::StatusOr<int> metrics = testing::PickFreePort();
  if (!metrics.ok()) return metrics.status();
  p.port = *port;
  p.metrics_port = *metrics;
  channels_[static_cast<int>(service)] =
      grpc::CreateChannel(address(service), grpc::InsecureChannelCredentials());
  return absl::OkStatus();
}

absl::Status ProcessStack::FirstLaunch(Service service) {
  absl::Status launched;
  for (int attempt = 0; attempt < kMaxPortAttempts; ++attempt) {
    launched = Launch(service);
    // A port picked a moment ago may have been taken since by a process outside this
    // stack; nobody has been given this service's ports yet (peers launch after it), so
    // it can move to others.
    if (launched.ok() || !absl::StrContains(launched.message(), "cannot serve")) break;
    if (absl::Status s = PickPorts(service); !s.ok()) return s;
  }
  return launched;
}

absl::Status ProcessStack::Launch(Service service) {
  Process& p = process(service);
  if (p.pid > 0) {
    return absl::FailedPreconditionError(absl::StrCat(ServiceName(service), " is running"));
  }
  ++p.launches;  // each life of the process has its own log
  testing::SpawnSpec spec;
  spec.argv = {p.binary};
  spec.env = Environment(service);
  spec.output_path = LogPath(service);
  absl::StatusOr<pid_t> pid = testing::Spawn(spec);
  if (!pid.ok()) return pid.status();
  p.pid = *pid;
  return WaitUntilServing(service);
}

absl::StatusOr<server::ServingStatus> ProcessStack::Health(Service service, bool readiness) const {
  return server::CheckHealth(channel(service), readiness ? HealthServiceOf(service) : "",
                             absl::Seconds(5));
}

absl::Status ProcessStack::WaitUntilServing(Service service) {
  Process& p = process(service);
  const absl::Time deadline = absl::Now() + options_.ready_timeout;
  absl::Status last = absl::UnavailableError("never asked");
  while (absl::Now() < deadline) {
    int wstatus = 0;
    if (waitpid(p.pid, &wstatus, WNOHANG) == p.pid) {
      p.pid = 0;
      return absl::UnavailableError(
          absl::StrCat(ServiceName(service), " exited during start-up (status ", wstatus,
                       "); output:\n", testing::FileTail(LogPath(service))));
    }
    absl::StatusOr<server::ServingStatus> health =
        server::CheckHealth(channel(service), HealthServiceOf(service), absl::Seconds(1));
    if (health.ok() && *health == server::ServingStatus::kServing) return absl::OkStatus();
    last =
        health.ok() ? absl::UnavailableError(server::ServingStatusName(*health)) : health.status();
    absl::SleepFor(absl::Milliseconds(50));
  }
  testing::KillAndReap(p.pid);
  p.pid = 0;
  return absl::DeadlineExceededError(absl::StrCat(
      ServiceName(service), " not SERVING within ", absl::FormatDuration(options_.ready_timeout),
      " (last: ", last.ToString(), "); output:\n", testing::FileTail(LogPath(service))));
}

absl::Status ProcessStack::Kill(Service service) {
  Process& p = process(service);
  if (p.pid <= 0) return absl::OkStatus();
  testing::KillAndReap(std::exchange(p.pid, 0));
  return absl::OkStatus();
}

absl::Status ProcessStack::Freeze(Service service) {
  const Process& p = process(service);
  if (p.pid <= 0 || kill(p.pid, SIGSTOP) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(ServiceName(service), " is not running"));
  }
  return absl::OkStatus();
}

absl::Status ProcessStack::Thaw(Service service) {
  const Process& p = process(service);
  if (p.pid <= 0 || kill(p.pid, SIGCONT) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(ServiceName(service), " is not running"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> ProcessStack::Stop(Service service, absl::Duration grace) {
  Process& p = process(service);
  if (p.pid <= 0) {
    return absl::FailedPreconditionError(absl::StrCat(ServiceName(service), " is not running"));
  }
  return testing::TerminateAndReap(std::exchange(p.pid, 0), grace);
}

}  // namespace gridloop::e2e
