#include "common/server/readiness.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace gridloop::server {

Readiness::Readiness(Server* server, Metrics* metrics, std::vector<Dependency> dependencies,
                     Options options)
    : server_(server), metrics_(metrics), options_(options) {
  for (Dependency& d : dependencies) watched_.push_back(Watched{std::move(d)});
  periodic_ = std::make_unique<Periodic>(options_.interval, [this] { (void)CheckNow(); });
}

Readiness::~Readiness() { Stop(); }

void Readiness::Start() { periodic_->Start(); }

void Readiness::Stop() { periodic_->Stop(); }

bool Readiness::CheckNow() {
  absl::MutexLock lock(&mu_);
  bool ready = true;
  for (Watched& w : watched_) {
    const absl::Status status = w.dependency.check();
    const std::string& name = w.dependency.name;
    if (metrics_ != nullptr) metrics_->ObserveDependency(name, status.ok());
    if (status.ok()) {
      w.failures = 0;
      w.ever_up = true;
      if (w.down) {
        w.down = false;
        log::Info("dependency reachable again", {{"dependency", name}});
      }
    } else {
      ++w.failures;
      if (!w.down && (!w.ever_up || w.failures >= options_.failures_to_unready)) {
        w.down = true;
        log::Warn("dependency unreachable; not ready", {{"dependency", name},
                                                        {"failed_checks", absl::StrCat(w.failures)},
                                                        {"error", status.ToString()}});
      }
    }
    if (w.down) ready = false;
  }
  // Only changes: every report reaches each open Health/Watch stream.
  if (ready != ready_) {
    ready_ = ready;
    server_->SetReady(ready);
  }
  return ready;
}

}  // namespace gridloop::server
