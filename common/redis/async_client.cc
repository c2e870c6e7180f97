#include "common/redis/async_client.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <list>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/log/log.h"
#include "common/redis/internal/reply.h"

namespace gridloop::redis {
namespace {

struct Conn;

// One command from hand-over to callback. Owned by the queue, then by hiredis (as the
// reply callback's privdata), then by OnReply.
struct Pending {
  std::vector<std::string> argv;
  AsyncClient::Callback done;
  const Script* script = nullptr;  // set for EVALSHA: NOSCRIPT reloads and retries once
  bool retried = false;
  Conn* conn = nullptr;
  absl::Time sent_at;
  std::list<Pending*>::iterator in_flight;
};

struct Conn {
  redisAsyncContext* ac = nullptr;
  int epoll_fd = -1;
  uint32_t events = 0;
  bool registered = false;
  bool timed_out = false;
  std::list<Pending*> in_flight;  // oldest first

  void Watch(uint32_t flag, bool on) {
    const uint32_t old = events;
    events = on ? (events | flag) : (events & ~flag);
    if (ac == nullptr || (events == old && registered)) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = this;
    if (!registered) {
      epoll_ctl(epoll_fd, EPOLL_CTL_ADD, ac->c.fd, &ev);
      registered = true;
    } else {
      epoll_ctl(epoll_fd, EPOLL_CTL_MOD, ac->c.fd, &ev);
    }
  }
};

void AddRead(void* p) { static_cast<Conn*>(p)->Watch(EPOLLIN, true); }
void DelRead(void* p) { static_cast<Conn*>(p)->Watch(EPOLLIN, false); }
void AddWrite(void* p) { static_cast<Conn*>(p)->Watch(EPOLLOUT, true); }
void DelWrite(void* p) { static_cast<Conn*>(p)->Watch(EPOLLOUT, false); }
void Cleanup(void* p) {
  auto* conn = static_cast<Conn*>(p);
  if (conn->registered && conn->ac != nullptr) {
    epoll_ctl(conn->epoll_fd, EPOLL_CTL_DEL, conn->ac->c.fd, nullptr);
  }
  conn->registered = false;
  conn->events = 0;
}

void OnConnect(const redisAsyncContext* ac, int status) {
  if (status == REDIS_OK) return;
  // hiredis frees the context after a failed connect; forget it.
  auto* conn = static_cast<Conn*>(ac->data);
  if (conn != nullptr && conn->ac == ac) conn->ac = nullptr;
}

void OnDisconnect(const redisAsyncContext* ac, int /*status*/) {
  auto* conn = static_cast<Conn*>(ac->data);
  if (conn != nullptr && conn->ac == ac) conn->ac = nullptr;
}

}  // namespace

class AsyncClient::Impl {
 public:
  explicit Impl(const Options& options)
      : options_(options), endpoint_(absl::StrCat(options.host, ":", options.port)) {}

  ~Impl() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    Wake();
    if (thread_.joinable()) thread_.join();
    if (wake_fd_ >= 0) close(wake_fd_);
    if (epoll_fd_ >= 0) close(epoll_fd_);
  }

  absl::Status Init() {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd_ < 0 || wake_fd_ < 0) {
      return absl::InternalError(
          absl::StrCat("redis async: cannot set up epoll: ", strerror(errno)));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the wake-up fd
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    conns_.resize(options_.pool_size);
    for (auto& c : conns_) {
      c = std::make_unique<Conn>();
      c->epoll_fd = epoll_fd_;
    }
    thread_ = std::thread([this] { Loop(); });
    return absl::OkStatus();
  }

  void Submit(std::unique_ptr<Pending> p) {
    bool was_empty = false;
    std::unique_ptr<Pending> refused;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) {
        refused = std::move(p);
      } else {
        was_empty = queue_.empty();
        queue_.push_back(std::move(p));
      }
    }
    if (refused != nullptr) {  // the I/O thread is gone or going: answer here
      refused->done(absl::UnavailableError("redis: client is shutting down"));
      return;
    }
    // One wake-up per batch: the loop drains the whole queue when it runs.
    if (was_empty) Wake();
  }

 private:
  void Wake() {
    const uint64_t one = 1;
    ssize_t ignored = write(wake_fd_, &one, sizeof(one));
    (void)ignored;
  }

  void Loop() {
    constexpr int kMaxEvents = 64;
    epoll_event events[kMaxEvents];
    const int tick_ms = static_cast<int>(std::max<int64_t>(
        1, std::min<int64_t>(100, absl::ToInt64Milliseconds(options_.command_timeout) / 4)));
    while (true) {
      const int n = epoll_wait(epoll_fd_, events, kMaxEvents, tick_ms);
      for (int i = 0; i < n; ++i) {
        if (events[i].data.ptr == nullptr) {
          uint64_t count;
          ssize_t ignored = read(wake_fd_, &count, sizeof(count));
          (void)ignored;
          continue;
        }
        auto* conn = static_cast<Conn*>(events[i].data.ptr);
        if ((events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0 && conn->ac != nullptr) {
          redisAsyncHandleRead(conn->ac);
        }
        if ((events[i].events & EPOLLOUT) != 0 && conn->ac != nullptr) {
          redisAsyncHandleWrite(conn->ac);
        }
      }
      std::vector<std::unique_ptr<Pending>> batch;
      bool stopping;
      {
        absl::MutexLock lock(&mu_);
        batch.swap(queue_);
        stopping = stopping_;
      }
      if (stopping) {
        for (auto& p : batch) p->done(absl::UnavailableError("redis: client is shutting down"));
        for (auto& c : conns_) Drop(*c, /*timed_out=*/false);
        return;
      }
      for (auto& p : batch) Send(std::move(p));
      ExpireStuckConnections();
    }
  }

  // Closes `conn`; hiredis then calls every in-flight callback with no reply.
  void Drop(Conn& conn, bool timed_out) {
    if (conn.ac == nullptr) return;
    conn.timed_out = timed_out;
    redisAsyncContext* ac = conn.ac;
    redisAsyncFree(ac);
    conn.ac = nullptr;
    conn.timed_out = false;
  }

  void ExpireStuckConnections() {
    const absl::Time now = absl::Now();
    for (auto& c : conns_) {
      if (c->ac != nullptr && !c->in_flight.empty() &&
          now - c->in_flight.front()->sent_at > options_.command_timeout) {
        log::Warn("redis async: command timed out; reconnecting", {{"redis", endpoint_}});
        Drop(*c, /*timed_out=*/true);
      }
    }
  }

  bool Connect(Conn& conn) {
    redisAsyncContext* ac = redisAsyncConnect(options_.host.c_str(), options_.port);
    if (ac == nullptr) return false;
    if (ac->err != 0) {
      log::Warn("redis async: cannot connect", {{"redis", endpoint_}, {"error", ac->errstr}});
      redisAsyncFree(ac);
      return false;
    }
    conn.ac = ac;
    ac->data = &conn;
    ac->ev.data = &conn;
    ac->ev.addRead = AddRead;
    ac->ev.delRead = DelRead;
    ac->ev.addWrite = AddWrite;
    ac->ev.delWrite = DelWrite;
    ac->ev.cleanup = Cleanup;
    redisAsyncSetConnectCallback(ac, OnConnect);
    redisAsyncSetDisconnectCallback(ac, OnDisconnect);
    // Replies are read as they arrive.
    AddRead(&conn);
    return true;
  }

  void Send(std::unique_ptr<Pending> p) {
    Conn& conn = *conns_[next_conn_++ % conns_.size()];
    if (conn.ac == nullptr && !Connect(conn)) {
      p->done(absl::UnavailableError(absl::StrCat("redis ", endpoint_, ": cannot connect")));
      return;
    }
    Dispatch(conn, std::move(p));
  }

  void Dispatch(Conn& conn, std::unique_ptr<Pending> p) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    argv.reserve(p->argv.size());
    lens.reserve(p->argv.size());
    for (const std::string& a : p->argv) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    p->conn = &conn;
    p->sent_at = absl::Now();
    Pending* raw = p.get();
    raw->in_flight = conn.in_flight.insert(conn.in_flight.end(), raw);
    if (redisAsyncCommandArgv(conn.ac, &Impl::OnReply, p.release(), static_cast<int>(argv.size()),
                              argv.data(), lens.data()) != REDIS_OK) {
      std::unique_ptr<Pending> back(raw);
      conn.in_flight.erase(back->in_flight);
      back->done(absl::UnavailableError(absl::StrCat("redis ", endpoint_, ": connection closing")));
    }
  }

  static void OnReply(redisAsyncContext* ac, void* r, void* privdata) {
    std::unique_ptr<Pending> p(static_cast<Pending*>(privdata));
    Conn& conn = *p->conn;
    conn.in_flight.erase(p->in_flight);
    if (r == nullptr) {
      p->done(absl::UnavailableError(conn.timed_out ? "redis: command timed out"
                                                    : "redis: connection lost"));
      return;
    }
    Reply reply = internal::CopyReply(*static_cast<redisReply*>(r));
    if (reply.is_error() && p->script != nullptr && !p->retried &&
        absl::StartsWith(reply.str, "NOSCRIPT") && ac != nullptr && conn.ac == ac) {
      // Load, then run again on the same connection: replies come in order, so the
      // retry sees the script.
      const char* load[] = {"SCRIPT", "LOAD", p->script->source().data()};
      const size_t load_lens[] = {6, 4, p->script->source().size()};
      redisAsyncCommandArgv(ac, nullptr, nullptr, 3, load, load_lens);
      p->retried = true;
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      for (const std::string& a : p->argv) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      Pending* raw = p.get();
      raw->sent_at = absl::Now();
      raw->in_flight = conn.in_flight.insert(conn.in_flight.end(), raw);
      if (redisAsyncCommandArgv(ac, &Impl::OnReply, p.release(), static_cast<int>(argv.size()),
                                argv.data(), lens.data()) != REDIS_OK) {
        std::unique_ptr<Pending> back(raw);
        conn.in_flight.erase(back->in_flight);
        back->done(absl::UnavailableError("redis: connection closing"));
      }
      return;
    }
    if (reply.is_error()) {
      p->done(StatusFromErrorReply(reply.str));
      return;
    }
    p->done(std::move(reply));
  }

  const Options options_;
  const std::string endpoint_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::vector<std::unique_ptr<Conn>> conns_;  // the I/O thread's only
  size_t next_conn_ = 0;                      // the I/O thread's only
  std::thread thread_;

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Pending>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

AsyncClient::AsyncClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AsyncClient::~AsyncClient() = default;

absl::StatusOr<std::unique_ptr<AsyncClient>> AsyncClient::Start(const Options& options) {
  if (options.host.empty()) return absl::InvalidArgumentError("redis: host is empty");
  if (options.port <= 0 || options.port > 65535) {
    return absl::InvalidArgumentError("redis: port out of range");
  }
  if (options.pool_size < 1) return absl::InvalidArgumentError("redis: pool_size must be >= 1");
  if (options.command_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("redis: command_timeout must be positive");
  }
  // A dead peer must not kill the process: hiredis writes with write(2).
  signal(SIGPIPE, SIG_IGN);
  auto impl = std::make_unique<Impl>(options);
  if (absl::Status s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<AsyncClient>(new AsyncClient(std::move(impl)));
}

void AsyncClient::Command(std::vector<std::string> argv, Callback done) {
  auto p = std::make_unique<Pending>();
  p->argv = std::move(argv);
  p->done = std::move(done);
  impl_->Submit(std::move(p));
}

void AsyncClient::Eval(const Script& script, std::vector<std::string> keys,
                       std::vector<std::string> args, Callback done) {
  auto p = std::make_unique<Pending>();
  p->argv.reserve(3 + keys.size() + args.size());
  p->argv.emplace_back("EVALSHA");
  p->argv.push_back(script.sha());
  p->argv.push_back(absl::StrCat(keys.size()));
  for (std::string& k : keys) p->argv.push_back(std::move(k));
  for (std::string& a : args) p->argv.push_back(std::move(a));
  p->script = &script;
  p->done = std::move(done);
  impl_->Submit(std::move(p));
}

}  // namespace gridloop::redis
