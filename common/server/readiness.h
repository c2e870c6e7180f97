#ifndef GRIDLOOP_COMMON_SERVER_READINESS_H_
#define GRIDLOOP_COMMON_SERVER_READINESS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/server/metrics.h"
#include "common/server/periodic.h"
#include "common/server/server.h"

namespace gridloop::server {

// Keeps a server's readiness (the status of its named health services, which readiness
// probes ask for) in step with the dependencies it cannot answer without, so that an
// orchestrator stops routing calls to a replica while its Redis is out of reach and routes
// them again once Redis answers. The overall status ("", the liveness probe's) is left
// alone: restarting the process would not bring Redis back, and a restarting fleet makes
// an outage longer. Kafka is no such dependency: writes go to the outbox and wait there.
//
// Each dependency is reported as gridloop_dependency_up{dependency} (1 or 0). Thread-safe.
class Readiness {
 public:
  struct Dependency {
    std::string name;  // "redis": in logs and the metric's label
    // OK when the dependency can be used. Must return within a bounded time (a
    // client-side timeout), since the checks run one after another.
    std::function<absl::Status()> check;
  };

  struct Options {
    absl::Duration interval = absl::Seconds(2);
    // Failed checks in a row before the replica is reported not ready, so that one broken
    // connection does not take it out. A dependency never reached since the start is
    // reported at its first failure: such a replica has never been able to serve.
    int failures_to_unready = 2;
  };

  // `server` and `metrics` (may be null) must outlive this object.
  Readiness(Server* server, Metrics* metrics, std::vector<Dependency> dependencies,
            Options options);
  Readiness(Server* server, Metrics* metrics, std::vector<Dependency> dependencies)
      : Readiness(server, metrics, std::move(dependencies), Options{}) {}
  ~Readiness();

  Readiness(const Readiness&) = delete;
  Readiness& operator=(const Readiness&) = delete;

  // Runs every check once on the calling thread and reports the outcome to the server;
  // true when every dependency counts as up.
  bool CheckNow();

  // CheckNow() every Options::interval on a thread of its own, the first at once.
  void Start();
  // Waits for a round in progress. Idempotent; Start() after Stop() does nothing.
  void Stop();

 private:
  struct Watched {
    Dependency dependency;
    int failures = 0;      // in a row
    bool ever_up = false;  // answered at least once since the start
    bool down = false;     // counted as down (what readiness says)
  };

  Server* const server_;
  Metrics* const metrics_;
  const Options options_;

  absl::Mutex mu_;  // one round at a time: the thread's and a caller's
  std::vector<Watched> watched_ ABSL_GUARDED_BY(mu_);
  bool ready_ ABSL_GUARDED_BY(mu_) = true;  // Server::Start reports SERVING

  std::unique_ptr<Periodic> periodic_;
};

}  // namespace gridloop::server

#endif  // GRIDLOOP_COMMON_SERVER_READINESS_H_
