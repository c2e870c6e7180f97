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

// One command from hand-over to callback. Owned by the submitter, then by hiredis (as the
// reply callback's privdata), then by OnReply, then by the completion list.
struct Pending {
  std::vector<std::string> argv;
  AsyncClient::Callback done;
  const Script* script = nullptr;  // set for EVALSHA: NOSCRIPT reloads and retries once
  bool retried = false;
  Conn* conn = nullptr;
  absl::Time sent_at;
  std::list<Pending*>::iterator in_flight;
  absl::StatusOr<Reply> result;  // filled in under the lock, handed to `done` outside it
};

using Completions = std::vector<std::unique_ptr<Pending>>;

struct Conn {
  redisAsyncContext* ac = nullptr;
  int epoll_fd = -1;
  bool connected = false;  // the TCP connect finished: commands may be written directly
  bool want_read = false;  // what hiredis asks for...
  bool want_write = false;
  bool write_blocked = false;      // the socket took less than was written: wait for EPOLLOUT
  uint32_t registered_events = 0;  // ...and what epoll has, brought in line by Sync
  bool registered = false;
  bool timed_out = false;
  std::list<Pending*> in_flight;       // oldest first
  Completions* completions = nullptr;  // where OnReply puts finished commands

  // hiredis toggles write interest around every write; epoll is told only when the
  // wanted set differs from what it has, so a write that completes at once costs no
  // epoll_ctl. Output held back behind replies still due (see Submit) needs no EPOLLOUT:
  // the I/O thread writes it when it reads those replies.
  void Sync() {
    if (ac == nullptr) return;
    const bool out = want_write && (!connected || write_blocked);
    const uint32_t want = (want_read ? EPOLLIN : 0u) | (out ? EPOLLOUT : 0u);
    if (registered && want == registered_events) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.ptr = this;
    epoll_ctl(epoll_fd, registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, ac->c.fd, &ev);
    registered = true;
    registered_events = want;
  }
};

void AddRead(void* p) { static_cast<Conn*>(p)->want_read = true; }
void DelRead(void* p) { static_cast<Conn*>(p)->want_read = false; }
void AddWrite(void* p) { static_cast<Conn*>(p)->want_write = true; }
void DelWrite(void* p) { static_cast<Conn*>(p)->want_write = false; }
void Cleanup(void* p) {
  auto* conn = static_cast<Conn*>(p);
  if (conn->registered && conn->ac != nullptr) {
    epoll_ctl(conn->epoll_fd, EPOLL_CTL_DEL, conn->ac->c.fd, nullptr);
  }
  conn->registered = false;
  conn->registered_events = 0;
  conn->want_read = false;
  conn->want_write = false;
}

void OnConnect(const redisAsyncContext* ac, int status) {
  auto* conn = static_cast<Conn*>(ac->data);
  if (conn == nullptr || conn->ac != ac) return;
  if (status == REDIS_OK) {
    conn->connected = true;
    return;
  }
  // hiredis frees the context after a failed connect; forget it.
  conn->ac = nullptr;
  conn->connected = false;
}

void OnDisconnect(const redisAsyncContext* ac, int /*status*/) {
  auto* conn = static_cast<Conn*>(ac->data);
  if (conn != nullptr && conn->ac == ac) {
    conn->ac = nullptr;
    conn->connected = false;
  }
}

void CompleteAll(Completions& done) {
  for (auto& p : done) p->done(std::move(p->result));
  done.clear();
}

}  // namespace

// Threads: a submitting thread formats its command and, on an idle connection, writes it to
// the socket itself, so a command costs no hand-over to the I/O thread; the I/O thread
// waits for replies (and for writes the socket could not take at once), writes what was
// queued behind them, and runs the callbacks. Every hiredis
// context is touched only under `mu_`; callbacks always run after it is released.
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
    {
      absl::MutexLock lock(&mu_);
      conns_.resize(options_.pool_size);
      for (auto& c : conns_) {
        c = std::make_unique<Conn>();
        c->epoll_fd = epoll_fd_;
      }
    }
    thread_ = std::thread([this] { Loop(); });
    return absl::OkStatus();
  }

  void Submit(std::unique_ptr<Pending> p) {
    Completions done;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) {  // the I/O thread is gone or going: answer here
        p->result = absl::UnavailableError("redis: client is shutting down");
        done.push_back(std::move(p));
      } else {
        Conn& conn = *conns_[next_conn_++ % conns_.size()];
        conn.completions = &done;
        const bool idle = conn.in_flight.empty();
        Send(conn, std::move(p));
        // On an idle connection the command is written at once. Behind commands still
        // waiting for replies it stays in the output buffer, and the I/O thread writes
        // everything gathered when it reads the next reply: under load many commands go
        // out in one write(2) and reach Redis in one read, at no added wake-up.
        if (idle) Flush(conn);
        if (conn.ac != nullptr) conn.Sync();
        conn.completions = nullptr;
      }
    }
    CompleteAll(done);
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
    Completions done;
    while (true) {
      const int n = epoll_wait(epoll_fd_, events, kMaxEvents, tick_ms);
      bool stopping;
      {
        absl::MutexLock lock(&mu_);
        for (auto& c : conns_) c->completions = &done;
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
            redisAsyncHandleWrite(conn->ac);  // finishes a connect, or a blocked write
            if (conn->ac != nullptr) conn->write_blocked = conn->want_write;
          }
        }
        stopping = stopping_;
        if (stopping) {
          for (auto& c : conns_) Drop(*c, /*timed_out=*/false);
        } else {
          ExpireStuckConnections();
          for (auto& c : conns_) {
            // What callers queued behind the replies just read, and any NOSCRIPT retry.
            Flush(*c);
            if (c->ac != nullptr) c->Sync();
          }
        }
        for (auto& c : conns_) c->completions = nullptr;
      }
      CompleteAll(done);
      if (stopping) return;
    }
  }

  // Writes what `conn` has buffered, as far as the socket takes it without blocking.
  static void Flush(Conn& conn) {
    if (conn.ac == nullptr || !conn.connected || !conn.want_write) return;
    redisAsyncHandleWrite(conn.ac);
    if (conn.ac != nullptr) conn.write_blocked = conn.want_write;
  }

  // Closes `conn`; hiredis then calls every in-flight callback with no reply.
  void Drop(Conn& conn, bool timed_out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (conn.ac == nullptr) return;
    conn.timed_out = timed_out;
    redisAsyncContext* ac = conn.ac;
    redisAsyncFree(ac);
    conn.ac = nullptr;
    conn.connected = false;
    conn.write_blocked = false;
    conn.timed_out = false;
  }

  void ExpireStuckConnections() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const absl::Time now = absl::Now();
    for (auto& c : conns_) {
      if (c->ac != nullptr && !c->in_flight.empty() &&
          now - c->in_flight.front()->sent_at > options_.command_timeout) {
        log::Warn("redis async: command timed out; reconnecting", {{"redis", endpoint_}});
        Drop(*c, /*timed_out=*/true);
      }
    }
  }

  bool Connect(Conn& conn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    redisAsyncContext* ac = redisAsyncConnect(options_.host.c_str(), options_.port);
    if (ac == nullptr) return false;
    if (ac->err != 0) {
      log::Warn("redis async: cannot connect", {{"redis", endpoint_}, {"error", ac->errstr}});
      redisAsyncFree(ac);
      return false;
    }
    conn.ac = ac;
    conn.connected = false;
    conn.write_blocked = false;
    ac->data = &conn;
    ac->ev.data = &conn;
    ac->ev.addRead = AddRead;
    ac->ev.delRead = DelRead;
    ac->ev.addWrite = AddWrite;
    ac->ev.delWrite = DelWrite;
    ac->ev.cleanup = Cleanup;
    redisAsyncSetConnectCallback(ac, OnConnect);
    redisAsyncSetDisconnectCallback(ac, OnDisconnect);
    // Replies are read as they arrive; the first write readiness says the connect is done.
    conn.want_read = true;
    conn.want_write = true;
    return true;
  }

  void Send(Conn& conn, std::unique_ptr<Pending> p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (conn.ac == nullptr && !Connect(conn)) {
      p->result = absl::UnavailableError(absl::StrCat("redis ", endpoint_, ": cannot connect"));
      conn.completions->push_back(std::move(p));
      return;
    }
    Dispatch(conn, std::move(p));
  }

  // Queues `p` on `conn`'s context (hiredis's output buffer); the caller writes it.
  static void Dispatch(Conn& conn, std::unique_ptr<Pending> p) {
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
      back->result = absl::UnavailableError("redis: connection closing");
      conn.completions->push_back(std::move(back));
    }
  }

  // Runs under `mu_` (inside hiredis's read, write or free): records the result only.
  static void OnReply(redisAsyncContext* ac, void* r, void* privdata) {
    std::unique_ptr<Pending> p(static_cast<Pending*>(privdata));
    Conn& conn = *p->conn;
    conn.in_flight.erase(p->in_flight);
    if (r == nullptr) {
      p->result = absl::UnavailableError(conn.timed_out ? "redis: command timed out"
                                                        : "redis: connection lost");
      conn.completions->push_back(std::move(p));
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
      Dispatch(conn, std::move(p));
      return;
    }
    if (reply.is_error()) {
      p->result = StatusFromErrorReply(reply.str);
    } else {
      p->result = std::move(reply);
    }
    conn.completions->push_back(std::move(p));
  }

  const Options options_;
  const std::string endpoint_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Conn>> conns_ ABSL_GUARDED_BY(mu_);
  size_t next_conn_ ABSL_GUARDED_BY(mu_) = 0;
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
