#include "common/outbox/relay.h"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"

namespace gridloop::outbox {
namespace {

// Takes or renews the lease when it is free or already ours.
constexpr char kLeaseLua[] = R"lua(
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
)lua";

// Gives the lease up only if it is still ours.
constexpr char kReleaseLua[] = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua";

const redis::Script& LeaseScript() {
  static const redis::Script* const s = new redis::Script(kLeaseLua);
  return *s;
}

const redis::Script& ReleaseScript() {
  static const redis::Script* const s = new redis::Script(kReleaseLua);
  return *s;
}

std::string DefaultOwner() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  std::random_device rd;
  return absl::StrFormat("%s-%d-%08x", host, getpid(), rd());
}

// Counts delivery reports of one pass.
class Latch {
 public:
  explicit Latch(size_t n) : remaining_(n) {}
  void Done() {
    absl::MutexLock lock(&mu_);
    --remaining_;
  }
  bool Wait(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto zero = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return remaining_ == 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&zero), timeout);
  }

 private:
  absl::Mutex mu_;
  size_t remaining_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

Relay::Relay(redis::Client* redis, ProducerFactory producer_factory, RelayOptions options)
    : redis_(redis),
      producer_factory_(std::move(producer_factory)),
      options_(std::move(options)),
      owner_(options_.owner.empty() ? DefaultOwner() : options_.owner) {}

Relay::~Relay() { Stop(); }

void Relay::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Loop(); });
}

void Relay::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock run(&run_mu_);
  if (producer_ != nullptr) {
    if (absl::Status s = producer_->Flush(absl::Seconds(5)); !s.ok()) {
      log::Warn("outbox relay: flush on stop", {{"error", s.ToString()}});
    }
  }
  ReleaseLeases();
}

void Relay::Notify() {
  absl::MutexLock lock(&mu_);
  notified_ = true;
}

void Relay::Loop() {
  absl::Duration backoff = options_.retry_backoff;
  absl::Duration wait = absl::ZeroDuration();
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto wake = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return notified_ || stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&wake), wait);
      if (stopping_) return;
      notified_ = false;
    }
    absl::StatusOr<int> n = RunOnce();
    if (!n.ok()) {
      log::Warn("outbox relay: pass failed; retrying",
                {{"error", n.status().ToString()}, {"topic", options_.topic}});
      wait = backoff;
      backoff = std::min(backoff * 2, options_.retry_backoff * 16);
      continue;
    }
    backoff = options_.retry_backoff;
    // A full pass suggests more is waiting: go again at once.
    wait = *n > 0 ? absl::ZeroDuration() : options_.idle_poll;
  }
}

absl::Status Relay::EnsureProducer() {
  if (producer_ != nullptr && !producer_->fatal()) return absl::OkStatus();
  if (producer_ != nullptr) {
    log::Error("outbox relay: producer hit a fatal error; recreating it");
    producer_.reset();
  }
  ASSIGN_OR_RETURN(producer_, producer_factory_());
  return absl::OkStatus();
}

absl::StatusOr<bool> Relay::HoldLease(const std::string& stream) {
  ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_->Eval(LeaseScript(), {absl::StrCat(stream, ":lease")},
                   {owner_, absl::StrCat(absl::ToInt64Milliseconds(options_.lease_ttl))}));
  return r.integer == 1;
}

void Relay::ReleaseLeases() {
  for (const std::string& stream : held_) {
    absl::StatusOr<redis::Reply> r =
        redis_->Eval(ReleaseScript(), {absl::StrCat(stream, ":lease")}, {owner_});
    if (!r.ok()) log::Warn("outbox relay: lease release", {{"error", r.status().ToString()}});
  }
  held_.clear();
  lease_checked_ = absl::InfinitePast();
}

absl::Status Relay::UpdateLag() {
  std::vector<std::vector<std::string>> cmds;
  for (const std::string& s : options_.streams) cmds.push_back({"XLEN", s});
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_->Pipeline(std::move(cmds)));
  int64_t total = 0;
  for (const redis::Reply& r : replies) total += r.integer;
  lag_.store(total);
  return absl::OkStatus();
}

absl::StatusOr<int> Relay::RunOnce() {
  absl::MutexLock run(&run_mu_);
  const absl::Time now = absl::Now();
  // Leases are renewed well inside their lifetime rather than on every pass: a pass is
  // milliseconds, a lease a minute. A relay missing some leases asks again after an idle
  // poll, so a stream released by a stopping replica is taken over at once.
  const bool all_held = held_.size() == options_.streams.size();
  if (now - lease_checked_ > (all_held ? options_.lease_ttl / 4 : options_.idle_poll)) {
    std::vector<std::string> held;
    for (const std::string& stream : options_.streams) {
      ASSIGN_OR_RETURN(bool mine, HoldLease(stream));
      if (mine) held.push_back(stream);
    }
    held_ = std::move(held);
    lease_checked_ = now;
  }
  if (now - lag_checked_ > absl::Seconds(1)) {
    RETURN_IF_ERROR(UpdateLag());
    lag_checked_ = now;
  }
  if (held_.empty()) return 0;

  std::vector<std::vector<std::string>> reads;
  for (const std::string& stream : held_) {
    reads.push_back({"XRANGE", stream, "-", "+", "COUNT", absl::StrCat(options_.batch)});
  }
  ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, redis_->Pipeline(std::move(reads)));
  std::vector<Entry> entries;
  for (size_t i = 0; i < replies.size(); ++i) {
    if (replies[i].is_error()) return redis::StatusFromErrorReply(replies[i].str);
    for (const redis::Reply& e : replies[i].elements) {
      if (e.elements.size() != 2) continue;
      Entry entry{held_[i], e.elements[0].str, "", ""};
      const auto& fields = e.elements[1].elements;
      for (size_t f = 0; f + 1 < fields.size(); f += 2) {
        if (fields[f].str == kKeyField) entry.key = fields[f + 1].str;
        if (fields[f].str == kValueField) entry.value = fields[f + 1].str;
      }
      entries.push_back(std::move(entry));
    }
  }
  if (entries.empty()) return 0;

  RETURN_IF_ERROR(EnsureProducer());
  // Shared with the delivery callbacks, which may outlive this pass if the wait below
  // gives up.
  struct Pass {
    explicit Pass(size_t n) : results(n, absl::UnavailableError("not sent")), latch(n) {}
    std::vector<absl::Status> results;
    Latch latch;
  };
  auto pass = std::make_shared<Pass>(entries.size());
  size_t sent = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    absl::Status enq = producer_->Produce(options_.topic, entries[i].key, entries[i].value, {},
                                          [pass, i](absl::Status s) {
                                            pass->results[i] = std::move(s);
                                            pass->latch.Done();
                                          });
    if (!enq.ok()) {
      // Not enqueued: no callback will come. Later entries of the same stream must not be
      // deleted ahead of this one, so stop sending; the next pass resumes here.
      for (size_t k = i; k < entries.size(); ++k) pass->latch.Done();
      break;
    }
    ++sent;
  }
  // The producer's own delivery timeout bounds this; the margin covers its last retry.
  if (!pass->latch.Wait(absl::Minutes(2))) {
    return absl::DeadlineExceededError("outbox relay: delivery reports overdue");
  }
  const std::vector<absl::Status>& results = pass->results;

  // Per stream, delete the acknowledged prefix only: an entry after a failed one waits so
  // the stream's order survives into Kafka.
  std::vector<std::vector<std::string>> deletes;
  std::vector<std::string> failed_streams;
  int done = 0;
  absl::Status first_error;
  std::map<std::string, std::vector<std::string>> acked;
  std::map<std::string, bool> blocked;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (blocked[e.stream]) continue;
    if (i >= sent || !results[i].ok()) {
      blocked[e.stream] = true;
      if (first_error.ok()) {
        first_error = i >= sent ? absl::UnavailableError("enqueue failed") : results[i];
      }
      continue;
    }
    acked[e.stream].push_back(e.id);
  }
  for (auto& [stream, ids] : acked) {
    std::vector<std::string> cmd = {"XDEL", stream};
    cmd.insert(cmd.end(), ids.begin(), ids.end());
    done += static_cast<int>(ids.size());
    deletes.push_back(std::move(cmd));
  }
  if (!deletes.empty()) {
    ASSIGN_OR_RETURN(std::vector<redis::Reply> del, redis_->Pipeline(std::move(deletes)));
    for (const redis::Reply& r : del) {
      if (r.is_error()) return redis::StatusFromErrorReply(r.str);
    }
  }
  published_.fetch_add(done);
  lag_.store(std::max<int64_t>(0, lag_.load() - done));
  if (!first_error.ok() && done == 0) return first_error;
  return done;
}

}  // namespace gridloop::outbox
