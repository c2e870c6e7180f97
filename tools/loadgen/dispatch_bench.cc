// gridloop-dispatch-bench: how many incident events the dispatch service handles per
// second, end to end, against a bare consumer reading the same records in the same run.
//
//   gridloop-dispatch-bench [--incidents=20000] [--partitions=4] [--report-threads=8]
//                           [--timeout=300s] [--verify=true]
//
// Everything runs in this process except Redis: a redis-server child (AOF on, appendfsync
// everysec), librdkafka's mock cluster, and the residents, incidents and dispatch apps as
// their main()s compose them. The residents ledger is one grid with an on-duty grid worker.
//
//  1. `--incidents` roof leaks (a grid worker's category) naming their grid are reported
//     through IncidentService by `--report-threads` threads, and the incidents relay
//     publishes their `reported` events to the incident topic (`--partitions` partitions).
//  2. Baseline: a bare kafka::Consumer, with the settings dispatch's consumer gets, reads
//     those records from the beginning and only parses each IncidentEvent. It also checks
//     that every record is still there (the mock broker drops a partition's oldest records
//     beyond ~5 MiB).
//  3. Dispatch: the dispatch app starts, and a consumer built as the app builds its own
//     (same group, options and handler: parse, then Dispatcher::HandleIncidentEvent) reads
//     the topic from the beginning. The app's own consumer is pointed at an empty topic and
//     stopped, so that this one can time every event it hands to the app's dispatcher.
//     Each `reported` event costs a GetResponsible call to residents, an AssignIncident
//     call to incidents and the dispatch record's commit in Redis. The clock stops when
//     the handler has finished the last `reported` event, i.e. every incident is ASSIGNED.
//     The `assigned` events incidents publishes meanwhile are handled as they come (with
//     the backlog prefetched, after the last `reported` one); they are waited for and
//     timed apart.
//
// Prints both rates (N / time from the consumer's Start()) and their ratio; the same from
// each consumer's first record on, since the client's start is most of the baseline's
// time; and the handler's p50/p99 per event type. The last line is one JSON object for
// scripts. Exit status: 0 after a run in which every incident was assigned, 1 if the run
// failed, 2 on bad settings.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"
#include "common/clock/proto_time.h"
#include "common/config/config.h"
#include "common/kafka/consumer.h"
#include "common/log/log.h"
#include "common/testing/grpc_stack.h"
#include "common/testing/kafka_cluster.h"
#include "common/testing/redis_server.h"
#include "gridloop/v1/events.pb.h"
#include "gridloop/v1/incidents.grpc.pb.h"
#include "gridloop/v1/residents.grpc.pb.h"
#include "services/dispatch/app.h"
#include "services/incidents/app.h"
#include "services/residents/app.h"

namespace gridloop {
namespace {

constexpr const char* kGrid = testing::kTestGrid;
constexpr const char* kCommunity = testing::kTestCommunity;
constexpr char kGridWorker[] = "gw-1";
constexpr char kCategory[] = "roof_leak";
// Where the dispatch app's own consumer waits, idle, while the bench drives its dispatcher.
constexpr char kIdleTopic[] = "gridloop.bench.idle";

struct BenchOptions {
  int incidents = 20000;
  int partitions = 4;
  int report_threads = 8;
  absl::Duration timeout = absl::Seconds(300);
  bool verify = true;
};

absl::StatusOr<BenchOptions> ParseOptions(const config::Settings& settings) {
  BenchOptions o;
  absl::StatusOr<int64_t> incidents = settings.GetInt("incidents", o.incidents);
  if (!incidents.ok()) return incidents.status();
  absl::StatusOr<int64_t> partitions = settings.GetInt("partitions", o.partitions);
  if (!partitions.ok()) return partitions.status();
  absl::StatusOr<int64_t> threads = settings.GetInt("report_threads", o.report_threads);
  if (!threads.ok()) return threads.status();
  absl::StatusOr<absl::Duration> timeout = settings.GetDuration("timeout", o.timeout);
  if (!timeout.ok()) return timeout.status();
  absl::StatusOr<bool> verify = settings.GetBool("verify", o.verify);
  if (!verify.ok()) return verify.status();
  if (*incidents < 1 || *incidents > 1000000) {
    return absl::InvalidArgumentError("incidents: must be within 1..1000000");
  }
  if (*partitions < 1 || *partitions > 64) {
    return absl::InvalidArgumentError("partitions: must be within 1..64");
  }
  if (*threads < 1 || *threads > 256) {
    return absl::InvalidArgumentError("report_threads: must be within 1..256");
  }
  if (*timeout <= absl::ZeroDuration()) return absl::InvalidArgumentError("timeout: positive");
  o.incidents = static_cast<int>(*incidents);
  o.partitions = static_cast<int>(*partitions);
  o.report_threads = static_cast<int>(*threads);
  o.timeout = *timeout;
  o.verify = *verify;
  return o;
}

// The test ledger: city to grid, a grid worker on duty in the grid and a leader above it.
absl::Status BuildLedger(v1::ResidentService::Stub& stub) {
  if (absl::Status s = testing::CreateTestStreet(stub); !s.ok()) return s;
  for (auto [person, region, role] :
       {std::tuple{kGridWorker, kGrid, v1::STAFF_ROLE_GRID_WORKER},
        std::tuple{"cl-1", kCommunity, v1::STAFF_ROLE_REGION_LEADER}}) {
    if (absl::Status s =
            testing::AddTestStaff(stub, person, region, role, absl::Now() - absl::Hours(24));
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// Reports `n` roof leaks with `threads` calls in flight; returns how many failed.
int ReportIncidents(v1::IncidentService::Stub& stub, int n, int threads) {
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  absl::Mutex first_error_mu;
  std::string first_error;
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      v1::ReportIncidentRequest req;
      req.set_category(kCategory);
      req.set_title("房屋漏水");
      req.set_description("顶楼卧室天花板漏水，雨天更严重。");
      req.set_channel(v1::CHANNEL_HOTLINE);
      req.set_region_code(kGrid);
      req.mutable_location()->set_latitude(30.285);
      req.mutable_location()->set_longitude(120.105);
      req.mutable_reporter()->set_name("张先生");
      req.mutable_reporter()->set_phone("13900001111");
      for (int i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
        req.set_request_id(absl::StrCat("bench-leak-", i));
        v1::IncidentResponse resp;
        grpc::Status s =
            stub.ReportIncident(testing::CallAs("hotline-1", "operator").get(), req, &resp);
        if (!s.ok()) {
          failed.fetch_add(1);
          absl::MutexLock lock(&first_error_mu);
          if (first_error.empty()) first_error = s.error_message();
        }
      }
    });
  }
  for (std::thread& w : workers) w.join();
  if (failed.load() > 0) {
    std::fprintf(stderr, "dispatch-bench: %d reports failed, first: %s\n", failed.load(),
                 first_error.c_str());
  }
  return failed.load();
}

// Polls `done` every millisecond until it holds or `deadline` passes.
template <typename Done>
bool WaitUntil(absl::Time deadline, Done done) {
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  return v[i];
}

// What dispatch::App gives its consumer with `dc`, for `partitions` partitions of `topic`.
kafka::ConsumerOptions ConsumerOptionsLike(const dispatch::AppConfig& dc, const std::string& topic,
                                           int partitions, const std::string& group) {
  kafka::ConsumerOptions o = kafka::ConsumerOptionsFrom(dc);
  o.group_id = group;
  for (int32_t p = 0; p < partitions; ++p) o.assign.emplace_back(topic, p);
  return o;
}

struct BareResult {
  absl::Duration elapsed;      // from Start() until the last record was handled
  absl::Duration first_after;  // from Start() until the first record reached the handler
  int64_t records = 0;
};

// The baseline: reads the `n` records from the beginning, parsing each and nothing else.
// Fails unless exactly `n` records came, every partition complete from offset 0 and none
// twice.
absl::StatusOr<BareResult> RunBareConsumer(kafka::ConsumerOptions options, int n, int partitions,
                                           absl::Duration timeout) {
  // With more than one worker the handler runs on several threads, and records of
  // different keys finish in any order: each partition's offsets are collected, not
  // followed.
  absl::Mutex mu;
  std::vector<std::set<int64_t>> offsets(partitions);
  int64_t handled = 0;
  int64_t not_reported = 0;
  absl::Time first_at;
  absl::Time finished;
  absl::Notification all_read;
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> consumer =
      kafka::Consumer::Create(std::move(options), [&](const kafka::Record& record) {
        v1::IncidentEvent event;
        if (!event.ParseFromString(record.value)) {
          return absl::InvalidArgumentError("not an IncidentEvent");
        }
        absl::MutexLock lock(&mu);
        if (event.type() != v1::INCIDENT_EVENT_TYPE_REPORTED) ++not_reported;
        if (record.partition >= 0 && record.partition < static_cast<int32_t>(offsets.size())) {
          offsets[record.partition].insert(record.offset);
        }
        if (++handled == 1) first_at = absl::Now();
        if (handled == n) {
          finished = absl::Now();
          all_read.Notify();
        }
        return absl::OkStatus();
      });
  if (!consumer.ok()) return consumer.status();
  const absl::Time start = absl::Now();
  (*consumer)->Start();
  const bool done = all_read.WaitForNotificationWithTimeout(timeout);
  // A moment for any record beyond `n` to show itself before the count is checked.
  absl::SleepFor(absl::Milliseconds(300));
  (*consumer)->Stop();
  absl::MutexLock lock(&mu);
  if (!done) {
    return absl::DeadlineExceededError(
        absl::StrCat("bare consumer read ", handled, " of ", n, " records"));
  }
  int64_t total = 0;
  for (int p = 0; p < partitions; ++p) {
    const std::set<int64_t>& seen = offsets[p];
    total += static_cast<int64_t>(seen.size());
    if (!seen.empty() &&
        (*seen.begin() != 0 || *seen.rbegin() + 1 != static_cast<int64_t>(seen.size()))) {
      return absl::DataLossError(absl::StrCat("partition ", p, " read ", seen.size(),
                                              " distinct offsets within ", *seen.begin(), "..",
                                              *seen.rbegin(), ": some aged out of the broker"));
    }
  }
  if (total != handled) {
    return absl::DataLossError(
        absl::StrCat("bare consumer read ", handled - total, " records twice"));
  }
  if (total != n || not_reported != 0) {
    return absl::DataLossError(absl::StrCat("bare consumer read ", handled, " records (",
                                            not_reported, " not `reported`), expected ", n));
  }
  return BareResult{finished - start, first_at - start, handled};
}

struct DispatchResult {
  absl::Duration elapsed;              // from Start() until the last `reported` event was handled
  absl::Duration first_after;          // from Start() until the first record reached the handler
  absl::Duration until_on_topic;       // ... until incidents had published every `assigned` event
  absl::Duration until_echoes;         // ... until dispatch had handled every `assigned` event too
  int64_t assigned_before_finish = 0;  // `assigned` events handled within `elapsed`
  int64_t failed_calls = 0;            // handler calls that returned an error (then retried)
  int64_t dead_lettered = 0;
  std::vector<double> reported_us;  // handler time per `reported` event
  std::vector<double> assigned_us;  // handler time per `assigned` event
};

// Times dispatch's handling of the `n` reported events with the app's own dispatcher, then
// lets it handle the `n` assigned events its assignments produce.
absl::StatusOr<DispatchResult> RunDispatch(dispatch::App& app, incidents::App& incidents,
                                           kafka::ConsumerOptions options, int n,
                                           absl::Duration timeout) {
  // The handler runs on the consumer's workers at once: the vectors and times are
  // written under `mu`, and read here after Stop() joined them.
  absl::Mutex mu;
  DispatchResult result;
  result.reported_us.reserve(n);
  result.assigned_us.reserve(n);
  absl::Time first_at;
  absl::Time finished;
  absl::Time echoes_done;
  std::atomic<int64_t> calls{0};
  std::atomic<int64_t> reported{0};
  std::atomic<int64_t> assigned{0};
  std::atomic<int64_t> failed{0};
  absl::Notification all_assigned;
  absl::Notification all_echoes;
  dispatch::Dispatcher* dispatcher = &app.dispatcher();
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> consumer =
      kafka::Consumer::Create(std::move(options), [&](const kafka::Record& record) {
        const absl::Time begin = absl::Now();
        if (calls.fetch_add(1) == 0) {
          absl::MutexLock lock(&mu);
          first_at = begin;
        }
        // What the app's consumer does, word for word.
        v1::IncidentEvent event;
        if (!event.ParseFromString(record.value)) {
          return absl::InvalidArgumentError("not an IncidentEvent");
        }
        absl::Status status = dispatcher->HandleIncidentEvent(event);
        const absl::Time end = absl::Now();
        if (!status.ok()) {
          failed.fetch_add(1);
          return status;
        }
        const double us = absl::ToDoubleMicroseconds(end - begin);
        absl::MutexLock lock(&mu);
        if (event.type() == v1::INCIDENT_EVENT_TYPE_REPORTED) {
          result.reported_us.push_back(us);
          if (reported.fetch_add(1) + 1 == n) {
            finished = end;
            result.assigned_before_finish = assigned.load();
            all_assigned.Notify();
          }
        } else if (event.type() == v1::INCIDENT_EVENT_TYPE_ASSIGNED) {
          result.assigned_us.push_back(us);
          if (assigned.fetch_add(1) + 1 == n) {
            echoes_done = end;
            all_echoes.Notify();
          }
        }
        return status;
      });
  if (!consumer.ok()) return consumer.status();
  outbox::Relay* relay = incidents.relay();
  const int64_t published_before = relay->published();
  const absl::Time start = absl::Now();
  (*consumer)->Start();
  const bool done = all_assigned.WaitForNotificationWithTimeout(timeout);
  const bool on_topic = done && WaitUntil(absl::Now() + timeout, [&] {
                          return relay->published() - published_before >= n;
                        });
  const absl::Time published = absl::Now();
  const bool echoes = on_topic && all_echoes.WaitForNotificationWithTimeout(timeout);
  (*consumer)->Stop();
  absl::MutexLock lock(&mu);
  if (!done) {
    return absl::DeadlineExceededError(absl::StrCat("dispatch handled ", reported.load(), " of ", n,
                                                    " reported events (", failed.load(),
                                                    " handler errors)"));
  }
  if (!on_topic) {
    return absl::DeadlineExceededError(absl::StrCat("incidents published ",
                                                    relay->published() - published_before, " of ",
                                                    n, " assigned events"));
  }
  if (!echoes) {
    return absl::DeadlineExceededError(
        absl::StrCat("dispatch handled ", assigned.load(), " of ", n, " assigned events"));
  }
  result.elapsed = finished - start;
  result.first_after = first_at - start;
  result.until_on_topic = published - start;
  result.until_echoes = echoes_done - start;
  result.failed_calls = failed.load();
  result.dead_lettered = (*consumer)->dead_lettered();
  return result;
}

// Reads the whole incident topic back: `n` reported events, and `n` assigned ones that
// give `n` distinct incidents to the grid worker.
absl::Status VerifyTopic(const std::string& brokers, int n) {
  const size_t want = static_cast<size_t>(n) * 2;
  std::vector<kafka::Record> records =
      testing::ReadTopic(brokers, incidents::kIncidentEventsTopic, want, absl::Seconds(120));
  int64_t reported = 0;
  std::set<std::string> assigned;
  for (const kafka::Record& r : records) {
    v1::IncidentEvent event;
    if (!event.ParseFromString(r.value)) return absl::DataLossError("unparsable record");
    if (event.type() == v1::INCIDENT_EVENT_TYPE_REPORTED) ++reported;
    if (event.type() == v1::INCIDENT_EVENT_TYPE_ASSIGNED &&
        event.incident().status() == v1::INCIDENT_STATUS_ASSIGNED &&
        event.incident().assignee().id() == kGridWorker) {
      assigned.insert(event.incident_id());
    }
  }
  if (records.size() != want || reported != n || assigned.size() != static_cast<size_t>(n)) {
    return absl::DataLossError(absl::StrCat(
        "the incident topic holds ", records.size(), " records: ", reported, " reported, ",
        assigned.size(), " incidents assigned to ", kGridWorker, "; expected ", n, " of each"));
  }
  return absl::OkStatus();
}

int Fail(const absl::Status& status, int code = 1) {
  std::fprintf(stderr, "dispatch-bench: %s\n", status.ToString().c_str());
  return code;
}

int Run(const BenchOptions& opts) {
  const Clock* clock = SystemClock::Get();
  const int n = opts.incidents;

  testing::RedisServer::Options redis_opts;
  redis_opts.appendonly = true;
  redis_opts.appendfsync = "everysec";
  absl::StatusOr<std::unique_ptr<testing::RedisServer>> redis =
      testing::RedisServer::Start(redis_opts);
  if (!redis.ok()) return Fail(redis.status());
  absl::StatusOr<std::unique_ptr<testing::MockKafkaCluster>> kafka =
      testing::MockKafkaCluster::Start(1);
  if (!kafka.ok()) return Fail(kafka.status());
  const std::string brokers = (*kafka)->bootstrap();
  for (auto [topic, partitions] :
       {std::pair<const char*, int>{incidents::kIncidentEventsTopic, opts.partitions},
        std::pair<const char*, int>{dispatch::kDispatchEventsTopic, 1},
        std::pair<const char*, int>{kIdleTopic, 1}}) {
    if (absl::Status s = (*kafka)->CreateTopic(topic, partitions); !s.ok()) return Fail(s);
  }

  residents::AppConfig rc;
  rc.listen = "127.0.0.1:0";
  rc.redis = (*redis)->address();
  rc.pii_keys = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  rc.pii_index_key = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
  absl::StatusOr<std::unique_ptr<residents::App>> residents = residents::App::Start(rc, clock);
  if (!residents.ok()) return Fail(residents.status());
  const std::string residents_addr = absl::StrCat("127.0.0.1:", (*residents)->port());
  {
    auto stub = v1::ResidentService::NewStub(
        grpc::CreateChannel(residents_addr, grpc::InsecureChannelCredentials()));
    if (absl::Status s = BuildLedger(*stub); !s.ok()) return Fail(s);
  }

  incidents::AppConfig ic;
  ic.listen = "127.0.0.1:0";
  ic.redis = (*redis)->address();
  ic.kafka_brokers = brokers;
  ic.residents_addr = residents_addr;
  ic.relay = true;
  absl::StatusOr<std::unique_ptr<incidents::App>> incidents = incidents::App::Start(ic, clock);
  if (!incidents.ok()) return Fail(incidents.status());
  const std::string incidents_addr = absl::StrCat("127.0.0.1:", (*incidents)->port());

  // 1. The reported events.
  std::printf("reporting %d %s incidents in grid %s with %d threads...\n", n, kCategory, kGrid,
              opts.report_threads);
  std::fflush(stdout);
  const absl::Time report_start = absl::Now();
  {
    auto stub = v1::IncidentService::NewStub(
        grpc::CreateChannel(incidents_addr, grpc::InsecureChannelCredentials()));
    if (ReportIncidents(*stub, n, opts.report_threads) != 0) return 1;
  }
  const absl::Duration reporting = absl::Now() - report_start;
  if (!WaitUntil(absl::Now() + opts.timeout,
                 [&] { return (*incidents)->relay()->published() >= n; })) {
    return Fail(absl::DeadlineExceededError(absl::StrCat("incidents published ",
                                                         (*incidents)->relay()->published(), " of ",
                                                         n, " reported events")));
  }
  std::printf("reported in %.2f s (%.0f reports/s); all %d events on %s (%d partitions)\n",
              absl::ToDoubleSeconds(reporting), n / absl::ToDoubleSeconds(reporting), n,
              incidents::kIncidentEventsTopic, opts.partitions);
  std::fflush(stdout);

  dispatch::AppConfig dc;
  dc.listen = "127.0.0.1:0";
  dc.redis = (*redis)->address();
  dc.kafka_brokers = brokers;
  dc.incidents_addr = incidents_addr;
  dc.residents_addr = residents_addr;
  dc.incident_topic = kIdleTopic;
  dc.assign_partitions = {0};

  // 2. Baseline.
  absl::StatusOr<BareResult> bare =
      RunBareConsumer(ConsumerOptionsLike(dc, incidents::kIncidentEventsTopic, opts.partitions,
                                          "gridloop-dispatch-bench-bare"),
                      n, opts.partitions, opts.timeout);
  if (!bare.ok()) return Fail(bare.status());
  const double bare_rate = n / absl::ToDoubleSeconds(bare->elapsed);
  std::printf(
      "bare consumer: %lld records in %.3f s = %.0f events/s (first record after %.3f s; all "
      "present from offset 0)\n",
      static_cast<long long>(bare->records), absl::ToDoubleSeconds(bare->elapsed), bare_rate,
      absl::ToDoubleSeconds(bare->first_after));
  std::fflush(stdout);

  // 3. Dispatch.
  absl::StatusOr<std::unique_ptr<dispatch::App>> app = dispatch::App::Start(dc, clock);
  if (!app.ok()) return Fail(app.status());
  (*app)->consumer()->Stop();
  absl::StatusOr<DispatchResult> run = RunDispatch(
      **app, **incidents,
      ConsumerOptionsLike(dc, incidents::kIncidentEventsTopic, opts.partitions, dc.consumer_group),
      n, opts.timeout);
  if (!run.ok()) return Fail(run.status());
  if (run->dead_lettered != 0) {
    return Fail(absl::InternalError(
        absl::StrCat(run->dead_lettered, " events were dead-lettered by dispatch")));
  }
  const double dispatch_rate = n / absl::ToDoubleSeconds(run->elapsed);
  const double ratio = dispatch_rate / bare_rate;
  const double rep_p50 = Percentile(run->reported_us, 0.50) / 1000;
  const double rep_p99 = Percentile(run->reported_us, 0.99) / 1000;
  const double asg_p50 = Percentile(run->assigned_us, 0.50) / 1000;
  const double asg_p99 = Percentile(run->assigned_us, 0.99) / 1000;
  std::printf(
      "dispatch: %d `reported` events handled, every incident ASSIGNED, in %.3f s = %.0f "
      "events/s (first record after %.3f s; %lld `assigned` events handled in between)\n",
      n, absl::ToDoubleSeconds(run->elapsed), dispatch_rate,
      absl::ToDoubleSeconds(run->first_after), static_cast<long long>(run->assigned_before_finish));
  std::printf(
      "          all %d `assigned` events on the topic after %.3f s, and handled by dispatch "
      "after %.3f s; %lld handler errors (retried)\n",
      n, absl::ToDoubleSeconds(run->until_on_topic), absl::ToDoubleSeconds(run->until_echoes),
      static_cast<long long>(run->failed_calls));
  std::printf(
      "          handler time per `reported` event p50 %.3f ms, p99 %.3f ms; per `assigned` "
      "event p50 %.3f ms, p99 %.3f ms\n",
      rep_p50, rep_p99, asg_p50, asg_p99);
  std::printf("dispatch / bare consumer = %.2f%%\n", 100 * ratio);
  // The client's start (connect, offsets) is most of the baseline's time; without it:
  const double dispatch_steady = n / absl::ToDoubleSeconds(run->elapsed - run->first_after);
  const double bare_steady = n / absl::ToDoubleSeconds(bare->elapsed - bare->first_after);
  std::printf(
      "from the first record on: dispatch %.0f events/s, bare consumer %.0f events/s, "
      "dispatch / bare consumer = %.2f%%\n",
      dispatch_steady, bare_steady, 100 * dispatch_steady / bare_steady);
  std::fflush(stdout);

  app->reset();
  if (opts.verify) {
    if (absl::Status s = VerifyTopic(brokers, n); !s.ok()) return Fail(s);
    std::printf("verified: %s holds %d reported and %d assigned events, each incident to %s\n",
                incidents::kIncidentEventsTopic, n, n, kGridWorker);
  }
  std::printf(
      "{\"incidents\":%d,\"partitions\":%d,\"dispatch_events_per_s\":%.1f,"
      "\"bare_events_per_s\":%.1f,\"ratio\":%.5f,\"dispatch_events_per_s_from_first\":%.1f,"
      "\"bare_events_per_s_from_first\":%.1f,\"dispatch_s\":%.3f,\"bare_s\":%.3f,"
      "\"dispatch_first_s\":%.3f,\"bare_first_s\":%.3f,\"assigned_on_topic_s\":%.3f,"
      "\"assigned_handled_s\":%.3f,\"reported_p50_ms\":%.3f,\"reported_p99_ms\":%.3f,"
      "\"assigned_p50_ms\":%.3f,\"assigned_p99_ms\":%.3f,\"handler_errors\":%lld}\n",
      n, opts.partitions, dispatch_rate, bare_rate, ratio, dispatch_steady, bare_steady,
      absl::ToDoubleSeconds(run->elapsed), absl::ToDoubleSeconds(bare->elapsed),
      absl::ToDoubleSeconds(run->first_after), absl::ToDoubleSeconds(bare->first_after),
      absl::ToDoubleSeconds(run->until_on_topic), absl::ToDoubleSeconds(run->until_echoes), rep_p50,
      rep_p99, asg_p50, asg_p99, static_cast<long long>(run->failed_calls));
  std::fflush(stdout);
  incidents->reset();
  residents->reset();
  return 0;
}

}  // namespace
}  // namespace gridloop

int main(int argc, char** argv) {
  // As every service's main does (server::PrepareProcess), less the blocked signals: the
  // apps here share this process, and Ctrl-C should end the whole run.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  gridloop::log::SetService("dispatch-bench");
  if (std::getenv("GRIDLOOP_LOG_LEVEL") == nullptr) {
    gridloop::log::SetLevel(gridloop::log::Level::kWarn);
  }
  absl::StatusOr<gridloop::config::Settings> settings =
      gridloop::config::Settings::FromProcess(argc, argv);
  if (!settings.ok()) return gridloop::Fail(settings.status(), 2);
  absl::StatusOr<gridloop::BenchOptions> options = gridloop::ParseOptions(*settings);
  if (!options.ok()) return gridloop::Fail(options.status(), 2);
  return gridloop::Run(*options);
}
