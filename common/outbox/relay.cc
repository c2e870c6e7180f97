#include "common/outbox/relay.h"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
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

// A stream id "<ms>-<seq>" as numbers; ids compare by these, not as text.
std::pair<uint64_t, uint64_t> IdParts(absl::string_view id) {
  std::pair<uint64_t, uint64_t> parts{0, 0};
  const size_t dash = id.find('-');
  if (!absl::SimpleAtoi(id.substr(0, dash), &parts.first)) return {0, 0};
  if (dash != absl::string_view::npos && !absl::SimpleAtoi(id.substr(dash + 1), &parts.second)) {
    return {parts.first, 0};
  }
  return parts;
}

// Whether entry `id` comes after `than` in its stream; everything comes after "".
bool IdAfter(absl::string_view id, absl::string_view than) {
  return than.empty() || IdParts(id) > IdParts(than);
}

}  // namespace

Relay::Relay(redis::Client* redis, ProducerFactory producer_factory, RelayOptions options)
    : redis_(redis),
      producer_factory_(std::move(producer_factory)),
      options_(std::move(options)),
      owner_(options_.owner.empty() ? DefaultOwner() : options_.owner) {}

Relay::~Relay() { Stop(); }

void Relay::Start() {
  absl::MutexLock lock(&signals_->mu);
  if (thread_.joinable() || signals_->stopping) return;
  thread_ = std::thread([this] { Loop(); });
}

void Relay::Stop() {
  {
    absl::MutexLock lock(&signals_->mu);
    if (signals_->stopping) return;
    signals_->stopping = true;
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock run(&run_mu_);
  kafka::Producer* producer = nullptr;  // replaced only under run_mu_
  {
    absl::MutexLock state(&state_mu_);
    closing_ = true;
    producer = producer_.get();
  }
  if (producer != nullptr) {
    if (absl::Status s = producer->Flush(absl::Seconds(5)); !s.ok()) {
      log::Warn("outbox relay: flush on stop", {{"error", s.ToString()}});
    }
    // What was acknowledged is deleted now rather than published again by the next holder.
    absl::StatusOr<PassResult> last = Pass(/*read=*/false);
    if (!last.ok()) {
      log::Warn("outbox relay: last deletes on stop", {{"error", last.status().ToString()}});
    }
  }
  ReleaseLeases();
}

void Relay::Notify(const std::string& stream) {
  absl::MutexLock lock(&signals_->mu);
  signals_->notified = true;
  if (!signals_->all_dirty) signals_->dirty.insert(stream);
}

void Relay::Publish(Appended entry) {
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&state_mu_);
    auto it = held_.find(entry.stream);
    if (!closing_ && it != held_.end() && producer_ != nullptr && !producer_->fatal() &&
        now < leases_valid_until_) {
      StreamState& state = it->second;
      // A pass read it (and sent it) before its writer got here.
      if (!IdAfter(entry.id, state.cursor)) return;
      // Sent at once only right behind what was sent before it; an entry between the two
      // (another writer's, or one whose writer has not got here yet) is read by a pass.
      const bool follows =
          entry.previous_id.empty() ? state.in_flight.empty() : entry.previous_id == state.cursor;
      if (follows && !state.failed && state.retry_at <= now &&
          state.in_flight.size() < static_cast<size_t>(options_.batch)) {
        std::vector<Entry> one;
        one.push_back(Entry{std::move(entry.id), std::move(entry.key), std::move(entry.value)});
        if (Send(state, std::move(one), /*wait_for_room=*/false).ok()) return;
      }
    }
  }
  Notify(entry.stream);
}

void Relay::Notify() {
  absl::MutexLock lock(&signals_->mu);
  signals_->notified = true;
  signals_->all_dirty = true;
  signals_->dirty.clear();
}

void Relay::Loop() {
  absl::Duration backoff = options_.retry_backoff;
  // The first pass reads every stream at once; later ones read what notifications named,
  // or what had more than a batch, and every stream at the idle poll (entries written by
  // a process that did not notify) and at most `sweep` after the last such pass.
  absl::Time next_poll = absl::InfinitePast();
  absl::Time last_all = absl::InfinitePast();
  absl::Time next_retry = absl::InfiniteFuture();
  // While something sent is not deleted yet: the pass that deletes it.
  absl::Time next_delete = absl::InfiniteFuture();
  bool more = false;
  while (true) {
    bool read = false;
    bool read_all = false;
    std::set<std::string> named;
    {
      absl::MutexLock lock(&signals_->mu);
      Signals* sig = signals_.get();
      auto wake = [sig, more]() ABSL_SHARED_LOCKS_REQUIRED(sig->mu) {
        return sig->stopping || sig->delivered || sig->notified || more || sig->sent;
      };
      sig->watch_sends = next_delete == absl::InfiniteFuture();
      const absl::Time until = std::min({next_poll, next_retry, next_delete});
      sig->mu.AwaitWithTimeout(absl::Condition(&wake),
                               std::max(absl::ZeroDuration(), until - absl::Now()));
      sig->watch_sends = false;
      if (sig->stopping) return;
      const absl::Time now = absl::Now();
      if (sig->sent) {
        sig->sent = false;
        next_delete = std::min(next_delete, now + options_.delete_every);
        // Nothing else to do yet: the pass comes when what was sent may be back.
        if (!sig->delivered && !sig->notified && !more && now < std::min(next_poll, next_retry)) {
          continue;
        }
      }
      const bool sweep_due = now - last_all >= options_.sweep;
      read = sig->notified || more || now >= next_poll || now >= next_retry ||
             (now >= next_delete && sweep_due);
      if (read) {
        read_all = sig->all_dirty || now >= next_poll || sweep_due;
        named.swap(sig->dirty);
        sig->all_dirty = false;
        sig->notified = false;
      }
      sig->delivered = false;
    }
    absl::StatusOr<PassResult> r;
    {
      absl::MutexLock run(&run_mu_);
      {
        absl::MutexLock state(&state_mu_);
        for (const std::string& stream : named) {
          if (auto it = held_.find(stream); it != held_.end()) it->second.unread = true;
        }
      }
      r = Pass(read, read_all);
    }
    if (!r.ok()) {
      log::Warn("outbox relay: pass failed; retrying",
                {{"error", r.status().ToString()}, {"topic", options_.topic}});
      // Every stream is read again, from its oldest entry, after the backoff.
      more = false;
      next_delete = absl::InfiniteFuture();
      next_poll = absl::Now() + backoff;
      backoff = std::min(backoff * 2, options_.retry_backoff * 16);
      continue;
    }
    backoff = options_.retry_backoff;
    if (!r->failure.ok()) {
      log::Warn("outbox relay: delivery failed; the stream is read again",
                {{"error", r->failure.ToString()}, {"topic", options_.topic}});
    }
    next_retry = r->next_retry;
    if (read) more = r->more;
    if (read_all) {
      last_all = absl::Now();
      next_poll = last_all + options_.idle_poll;
    }
    next_delete = r->outstanding ? absl::Now() + options_.delete_every : absl::InfiniteFuture();
  }
}

absl::StatusOr<int> Relay::RunOnce() {
  absl::MutexLock run(&run_mu_);
  ASSIGN_OR_RETURN(PassResult sent, Pass(/*read=*/true, /*read_all=*/true));
  if (!WaitInFlight(options_.overdue)) {
    return absl::DeadlineExceededError("outbox relay: delivery reports overdue");
  }
  ASSIGN_OR_RETURN(PassResult acked, Pass(/*read=*/false));
  const int done = sent.deleted + acked.deleted;
  absl::Status failure = !sent.failure.ok() ? sent.failure : acked.failure;
  if (!failure.ok() && done == 0) return failure;
  return done;
}

int64_t Relay::in_flight() const {
  absl::MutexLock lock(&signals_->mu);
  return signals_->in_flight;
}

int64_t Relay::failed_deliveries() const {
  absl::MutexLock lock(&signals_->mu);
  return signals_->failed;
}

bool Relay::WaitInFlight(absl::Duration timeout) {
  absl::MutexLock lock(&signals_->mu);
  Signals* sig = signals_.get();
  auto none = [sig]() ABSL_SHARED_LOCKS_REQUIRED(sig->mu) { return sig->in_flight == 0; };
  return sig->mu.AwaitWithTimeout(absl::Condition(&none), timeout);
}

absl::Status Relay::EnsureProducer(bool* replaced) {
  *replaced = false;
  std::unique_ptr<kafka::Producer> old;
  {
    absl::MutexLock state(&state_mu_);
    if (producer_ != nullptr && !producer_->fatal()) return absl::OkStatus();
    if (producer_ != nullptr) {
      log::Error("outbox relay: producer hit a fatal error; recreating it");
      old = std::move(producer_);
      // Whatever the old producer had in flight is sent again by the new one.
      ResetStreams();
      *replaced = true;
    }
  }
  old.reset();
  ASSIGN_OR_RETURN(std::unique_ptr<kafka::Producer> fresh, producer_factory_());
  absl::MutexLock state(&state_mu_);
  producer_ = std::move(fresh);
  return absl::OkStatus();
}

void Relay::ResetStreams() {
  for (auto& [stream, state] : held_) state = StreamState{};
}

absl::StatusOr<bool> Relay::HoldLease(const std::string& stream) {
  ASSIGN_OR_RETURN(
      redis::Reply r,
      redis_->Eval(LeaseScript(), {absl::StrCat(stream, ":lease")},
                   {owner_, absl::StrCat(absl::ToInt64Milliseconds(options_.lease_ttl))}));
  return r.integer == 1;
}

void Relay::ReleaseLeases() {
  std::vector<std::string> streams;
  {
    absl::MutexLock state(&state_mu_);
    for (const auto& [stream, s] : held_) streams.push_back(stream);
    held_.clear();
    leases_valid_until_ = absl::InfinitePast();
  }
  for (const std::string& stream : streams) {
    absl::StatusOr<redis::Reply> r =
        redis_->Eval(ReleaseScript(), {absl::StrCat(stream, ":lease")}, {owner_});
    if (!r.ok()) log::Warn("outbox relay: lease release", {{"error", r.status().ToString()}});
  }
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

absl::Status Relay::CheckLeases(absl::Time now) {
  // Leases are renewed well inside their lifetime rather than on every pass: a pass is
  // milliseconds, a lease a minute. A relay missing some leases asks again after an idle
  // poll, so a stream released by a stopping replica is taken over at once.
  if (now - lease_checked_ <= (all_held_ ? options_.lease_ttl / 4 : options_.idle_poll)) {
    return absl::OkStatus();
  }
  std::vector<std::string> mine;
  for (const std::string& stream : options_.streams) {
    ASSIGN_OR_RETURN(bool ours, HoldLease(stream));
    if (ours) mine.push_back(stream);
  }
  absl::MutexLock state(&state_mu_);
  std::map<std::string, StreamState> held;
  for (const std::string& stream : mine) {
    // A stream held all along keeps its place; one taken (back) over starts from its
    // oldest entry, since another relay may have left entries before any old cursor.
    auto it = held_.find(stream);
    held[stream] = it != held_.end() ? std::move(it->second) : StreamState{};
  }
  held_ = std::move(held);
  all_held_ = mine.size() == options_.streams.size();
  lease_checked_ = now;
  // Publish() sends only while the leases are surely still ours: they were just renewed
  // for lease_ttl, and the next check comes at a quarter of it.
  leases_valid_until_ = now + options_.lease_ttl / 2;
  return absl::OkStatus();
}

absl::StatusOr<Relay::PassResult> Relay::Pass(bool read, bool read_all) {
  const absl::Time now = absl::Now();
  RETURN_IF_ERROR(CheckLeases(now));
  if (now - lag_checked_ > absl::Seconds(1)) {
    RETURN_IF_ERROR(UpdateLag());
    lag_checked_ = now;
  }
  PassResult result;
  std::vector<std::vector<std::string>> cmds;
  int to_delete = 0;
  // The streams read by this pass and how many entries each was asked for. The states
  // stay where they are: only this thread adds or removes streams.
  std::vector<std::pair<StreamState*, size_t>> reading;
  size_t deletes = 0;
  {
    absl::MutexLock lock(&state_mu_);
    if (read_all) {
      for (auto& [stream, state] : held_) state.unread = true;
    }
    // What came back since the last pass: each stream's acknowledged prefix is deleted;
    // an entry after a failed one waits so the stream's order survives into Kafka.
    for (auto& [stream, state] : held_) {
      std::vector<std::string> acked;
      while (!state.in_flight.empty() && !state.failed) {
        const Delivery& d = *state.in_flight.front();
        if (!d.done.load(std::memory_order_acquire)) {
          if (now - d.sent_at < options_.overdue) break;
          state.failed = true;
          if (result.failure.ok()) {
            result.failure = absl::DeadlineExceededError(
                absl::StrCat("outbox relay: no delivery report for ", stream, " ", d.id));
          }
          break;
        }
        if (!d.result.ok()) {
          state.failed = true;
          if (result.failure.ok()) result.failure = d.result;
          break;
        }
        acked.push_back(d.id);
        state.in_flight.pop_front();
        state.backoff = absl::ZeroDuration();
      }
      if (state.failed) {
        const bool all_back =
            std::all_of(state.in_flight.begin(), state.in_flight.end(), [&](const auto& d) {
              return d->done.load(std::memory_order_acquire) ||
                     now - d->sent_at >= options_.overdue;
            });
        if (all_back) {
          state.backoff = state.backoff == absl::ZeroDuration()
                              ? options_.retry_backoff
                              : std::min(state.backoff * 2, options_.retry_backoff * 16);
          const absl::Duration backoff = state.backoff;
          state = StreamState{};
          state.backoff = backoff;
          state.retry_at = now + backoff;
        }
      }
      if (state.retry_at > now) result.next_retry = std::min(result.next_retry, state.retry_at);
      if (!acked.empty()) {
        to_delete += static_cast<int>(acked.size());
        std::vector<std::string> del = {"XDEL", stream};
        std::move(acked.begin(), acked.end(), std::back_inserter(del));
        cmds.push_back(std::move(del));
      }
    }
    deletes = cmds.size();
    if (read) {
      for (auto& [stream, state] : held_) {
        const auto limit = static_cast<size_t>(options_.batch);
        const size_t room = limit - std::min(state.in_flight.size(), limit);
        if (!state.unread || state.failed || state.retry_at > now) continue;
        if (room == 0) continue;
        // Exclusive of the cursor: what is in flight is not read again.
        std::string from = state.cursor.empty() ? "-" : absl::StrCat("(", state.cursor);
        cmds.push_back({"XRANGE", stream, std::move(from), "+", "COUNT", absl::StrCat(room)});
        reading.emplace_back(&state, room);
      }
    }
    if (cmds.empty()) {
      result.outstanding = AnyInFlight();
      return result;
    }
  }

  absl::StatusOr<std::vector<redis::Reply>> replies = redis_->Pipeline(std::move(cmds));
  for (size_t i = 0; replies.ok() && i < replies->size(); ++i) {
    if ((*replies)[i].is_error()) replies = redis::StatusFromErrorReply((*replies)[i].str);
  }
  if (!replies.ok()) {
    // Deletes may not have happened: read every stream from its oldest entry again.
    absl::MutexLock lock(&state_mu_);
    ResetStreams();
    return replies.status();
  }
  result.deleted = to_delete;
  published_.fetch_add(to_delete);
  lag_.store(std::max<int64_t>(0, lag_.load() - to_delete));

  std::vector<std::vector<Entry>> entries(reading.size());
  bool any = false;
  for (size_t i = 0; i < reading.size(); ++i) {
    for (const redis::Reply& e : (*replies)[deletes + i].elements) {
      if (e.elements.size() != 2) continue;
      Entry entry{e.elements[0].str, "", ""};
      const auto& fields = e.elements[1].elements;
      for (size_t f = 0; f + 1 < fields.size(); f += 2) {
        if (fields[f].str == kKeyField) entry.key = fields[f + 1].str;
        if (fields[f].str == kValueField) entry.value = fields[f + 1].str;
      }
      entries[i].push_back(std::move(entry));
    }
    any = any || !entries[i].empty();
  }
  bool replaced = false;
  if (any) RETURN_IF_ERROR(EnsureProducer(&replaced));
  absl::MutexLock lock(&state_mu_);
  if (replaced) {
    // What was read follows entries the old producer may not have delivered.
    result.more = true;
  } else {
    for (size_t i = 0; i < reading.size(); ++i) {
      StreamState& state = *reading[i].first;
      // A full batch leaves the stream unread: the rest is read at the next pass.
      state.unread = (*replies)[deletes + i].elements.size() >= reading[i].second;
      if (state.unread) result.more = true;
      if (!entries[i].empty()) {
        RETURN_IF_ERROR(Send(state, std::move(entries[i]), /*wait_for_room=*/true));
      }
    }
  }
  result.outstanding = AnyInFlight();
  return result;
}

bool Relay::AnyInFlight() const {
  return std::any_of(held_.begin(), held_.end(),
                     [](const auto& h) { return !h.second.in_flight.empty(); });
}

absl::Status Relay::Send(StreamState& state, std::vector<Entry> entries, bool wait_for_room) {
  // Entries in order: those that Publish() sent while a pass was reading them come first.
  entries.erase(entries.begin(), std::find_if(entries.begin(), entries.end(), [&](const Entry& e) {
                  return IdAfter(e.id, state.cursor);
                }));
  if (entries.empty()) return absl::OkStatus();
  {
    absl::MutexLock lock(&signals_->mu);
    signals_->in_flight += static_cast<int64_t>(entries.size());
    if (signals_->watch_sends) signals_->sent = true;
  }
  const absl::Time sent_at = absl::Now();
  for (size_t i = 0; i < entries.size(); ++i) {
    Entry& e = entries[i];
    auto d = std::make_shared<Delivery>();
    d->id = e.id;
    d->sent_at = sent_at;
    std::shared_ptr<Signals> sig = signals_;
    kafka::Producer::DeliveryCallback done = [sig, d](absl::Status s) {
      const bool failed = !s.ok();
      d->result = std::move(s);
      d->done.store(true, std::memory_order_release);
      absl::MutexLock lock(&sig->mu);
      --sig->in_flight;
      if (failed) ++sig->failed;
      // A failure the loop handles at once; successes wait for its next pass.
      if (failed) sig->delivered = true;
    };
    absl::Status enq =
        wait_for_room ? producer_->Produce(options_.topic, e.key, e.value, {}, std::move(done))
                      : producer_->TryProduce(options_.topic, e.key, e.value, {}, std::move(done));
    if (!enq.ok()) {
      // Not enqueued: no callback will come for it or for those after it. Later entries
      // of this stream must not go out ahead of this one, so the next pass reads again
      // from here.
      absl::MutexLock lock(&signals_->mu);
      signals_->in_flight -= static_cast<int64_t>(entries.size() - i);
      return enq;
    }
    state.cursor = e.id;
    state.in_flight.push_back(std::move(d));
  }
  return absl::OkStatus();
}

}  // namespace gridloop::outbox
