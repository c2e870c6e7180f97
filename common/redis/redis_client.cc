#include "common/redis/redis_client.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <ostream>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/log/log.h"
#include "common/redis/internal/reply.h"
#include "common/status/status_macros.h"

namespace gridloop::redis {
namespace internal {

Reply CopyReply(const redisReply& r) {
  Reply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r.elements);
      for (size_t i = 0; i < r.elements; ++i) out.elements.push_back(CopyReply(*r.element[i]));
      break;
    case REDIS_REPLY_NIL:
    default:
      break;
  }
  return out;
}

}  // namespace internal

namespace {

using internal::CopyReply;

// Error-reply kinds that describe the server's state, not the command: the same command
// may succeed later (after loading, a script timeout, a failover, a resharding).
constexpr absl::string_view kTransientErrors[] = {"LOADING",  "BUSY",     "MASTERDOWN",
                                                  "READONLY", "TRYAGAIN", "CLUSTERDOWN"};

// Owns one hiredis reply; hiredis hands them out as void*.
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

// Pointer/length views of `argv` for the *Argv hiredis calls, which are binary-safe.
struct ArgvView {
  explicit ArgvView(const std::vector<std::string>& argv) {
    ptrs.reserve(argv.size());
    lens.reserve(argv.size());
    for (const std::string& a : argv) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
  }
  int argc() const { return static_cast<int>(ptrs.size()); }
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
};

// True when an idle connection still looks usable: nothing to read and no EOF. A server
// that restarted closed its end long ago, and without this check the first call after a
// restart would fail on every pooled connection in turn.
bool LooksAlive(const redisContext* ctx) {
  if (ctx->err != 0 || ctx->fd < 0) return false;
  char byte;
  ssize_t n = recv(ctx->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
  // 0 is EOF; >0 is an unsolicited or stale reply that would desynchronise the stream.
  return false;
}

void IgnoreSigpipeOnce() {
  static const bool done = [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      signal(SIGPIPE, SIG_IGN);
    }
    return true;
  }();
  (void)done;
}

class PooledClient final : public Client {
 public:
  explicit PooledClient(const Options& options)
      : options_(options), endpoint_(absl::StrCat(options.host, ":", options.port)) {}

  ~PooledClient() override {
    absl::MutexLock lock(&mu_);
    for (redisContext* ctx : idle_) redisFree(ctx);
    idle_.clear();
  }

  absl::StatusOr<Reply> Command(std::vector<std::string> argv) override {
    if (argv.empty()) return absl::InvalidArgumentError("redis command: argv is empty");
    ASSIGN_OR_RETURN(Lease lease, Borrow());
    ASSIGN_OR_RETURN(Reply reply, Run(lease, argv));
    if (reply.is_error()) return StatusFromErrorReply(reply.str);
    return reply;
  }

  absl::StatusOr<std::vector<Reply>> Pipeline(
      std::vector<std::vector<std::string>> commands) override {
    for (const auto& argv : commands) {
      if (argv.empty()) return absl::InvalidArgumentError("redis pipeline: a command is empty");
    }
    std::vector<Reply> replies;
    if (commands.empty()) return replies;
    ASSIGN_OR_RETURN(Lease lease, Borrow());
    redisContext* ctx = lease.ctx();
    for (const auto& argv : commands) {
      ArgvView view(argv);
      if (redisAppendCommandArgv(ctx, view.argc(), view.ptrs.data(), view.lens.data()) !=
          REDIS_OK) {
        return TransportError(ctx);
      }
    }
    replies.reserve(commands.size());
    for (size_t i = 0; i < commands.size(); ++i) {
      void* raw = nullptr;
      if (redisGetReply(ctx, &raw) != REDIS_OK || raw == nullptr) return TransportError(ctx);
      ReplyPtr reply(static_cast<redisReply*>(raw));
      replies.push_back(CopyReply(*reply));
    }
    return replies;
  }

  absl::StatusOr<Reply> Eval(const Script& script, std::vector<std::string> keys,
                             std::vector<std::string> args) override {
    std::vector<std::string> argv;
    argv.reserve(3 + keys.size() + args.size());
    argv.emplace_back("EVALSHA");
    argv.push_back(script.sha());
    argv.push_back(absl::StrCat(keys.size()));
    for (std::string& k : keys) argv.push_back(std::move(k));
    for (std::string& a : args) argv.push_back(std::move(a));

    // One connection throughout: a SCRIPT LOAD on one server followed by an EVALSHA
    // routed elsewhere would be pointless once connections can target replicas.
    ASSIGN_OR_RETURN(Lease lease, Borrow());
    ASSIGN_OR_RETURN(Reply reply, Run(lease, argv));
    if (reply.is_error() && absl::StartsWith(reply.str, "NOSCRIPT")) {
      ASSIGN_OR_RETURN(Reply loaded, Run(lease, {"SCRIPT", "LOAD", script.source()}));
      if (loaded.is_error()) return StatusFromErrorReply(loaded.str);
      if (loaded.str != script.sha()) {
        return absl::InternalError(absl::StrCat("redis SCRIPT LOAD returned sha ", loaded.str,
                                                ", expected ", script.sha()));
      }
      ASSIGN_OR_RETURN(reply, Run(lease, argv));
    }
    if (reply.is_error()) return StatusFromErrorReply(reply.str);
    return reply;
  }

 private:
  // A borrowed connection. Goes back to the pool on destruction unless it saw a transport
  // error, in which case it is closed and its slot freed for a fresh one.
  class Lease {
   public:
    Lease(PooledClient* pool, redisContext* ctx) : pool_(pool), ctx_(ctx) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), ctx_(std::exchange(other.ctx_, nullptr)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (ctx_ != nullptr) pool_->Return(ctx_);
    }
    redisContext* ctx() const { return ctx_; }

   private:
    PooledClient* pool_;
    redisContext* ctx_;
  };

  bool CanBorrow() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !idle_.empty() || live_ < options_.pool_size;
  }

  absl::StatusOr<Lease> Borrow() {
    std::vector<redisContext*> stale;
    redisContext* ctx = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (!mu_.AwaitWithTimeout(absl::Condition(this, &PooledClient::CanBorrow),
                                options_.pool_wait)) {
        return absl::UnavailableError(absl::StrCat("redis pool exhausted: no free connection to ",
                                                   endpoint_, " within ",
                                                   absl::FormatDuration(options_.pool_wait)));
      }
      while (!idle_.empty() && ctx == nullptr) {
        redisContext* candidate = idle_.back();
        idle_.pop_back();
        if (LooksAlive(candidate)) {
          ctx = candidate;
        } else {
          stale.push_back(candidate);
          --live_;
        }
      }
      // Reserve the slot before connecting so concurrent callers cannot overshoot.
      if (ctx == nullptr) ++live_;
    }
    for (redisContext* dead : stale) redisFree(dead);
    if (ctx != nullptr) return Lease(this, ctx);

    absl::StatusOr<redisContext*> fresh = Dial();
    if (!fresh.ok()) {
      absl::MutexLock lock(&mu_);
      --live_;
      return fresh.status();
    }
    return Lease(this, *fresh);
  }

  absl::StatusOr<redisContext*> Dial() {
    redisContext* ctx = options_.connect_timeout == absl::InfiniteDuration()
                            ? redisConnect(options_.host.c_str(), options_.port)
                            : redisConnectWithTimeout(options_.host.c_str(), options_.port,
                                                      absl::ToTimeval(options_.connect_timeout));
    if (ctx == nullptr) return absl::UnavailableError("redis: cannot allocate a connection");
    if (ctx->err == 0 && options_.command_timeout != absl::InfiniteDuration()) {
      redisSetTimeout(ctx, absl::ToTimeval(options_.command_timeout));
    }
    // Keepalive lets the kernel notice a peer that vanished without a FIN (a dead host, a
    // dropped NAT entry), so an idle pooled connection does not hang the next call.
    if (ctx->err == 0) redisEnableKeepAlive(ctx);
    if (ctx->err != 0) {
      absl::Status status = absl::UnavailableError(
          absl::StrCat("redis ", endpoint_, ": cannot connect: ", ctx->errstr));
      redisFree(ctx);
      NoteFailure(status);
      return status;
    }
    NoteSuccess();
    return ctx;
  }

  void Return(redisContext* ctx) {
    bool healthy = ctx->err == 0;
    {
      absl::MutexLock lock(&mu_);
      if (healthy) {
        idle_.push_back(ctx);
      } else {
        --live_;
      }
    }
    if (!healthy) redisFree(ctx);
  }

  // Sends one command on the lease; an error reply is a value here, not a status.
  absl::StatusOr<Reply> Run(Lease& lease, const std::vector<std::string>& argv) {
    ArgvView view(argv);
    void* raw = redisCommandArgv(lease.ctx(), view.argc(), view.ptrs.data(), view.lens.data());
    if (raw == nullptr) return TransportError(lease.ctx());
    ReplyPtr reply(static_cast<redisReply*>(raw));
    return CopyReply(*reply);
  }

  absl::Status TransportError(const redisContext* ctx) {
    // hiredis reports an expired SO_RCVTIMEO/SO_SNDTIMEO as the text of EAGAIN.
    static const std::string kTimedOutText = std::strerror(EAGAIN);
    absl::Status status;
    if (ctx->err == REDIS_ERR_IO && kTimedOutText == ctx->errstr) {
      status = absl::UnavailableError(absl::StrCat("redis ", endpoint_, ": timed out after ",
                                                   absl::FormatDuration(options_.command_timeout)));
    } else {
      status = absl::UnavailableError(absl::StrCat(
          "redis ", endpoint_, ": connection error: ", ctx->err != 0 ? ctx->errstr : "no reply"));
    }
    NoteFailure(status);
    return status;
  }

  // Logs only transitions, so a Redis outage gives one line, not one per call.
  void NoteFailure(const absl::Status& status) {
    bool was_failing;
    {
      absl::MutexLock lock(&mu_);
      was_failing = std::exchange(failing_, true);
    }
    if (!was_failing) {
      log::Warn("redis unavailable", {{"endpoint", endpoint_}, {"error", status.ToString()}});
    }
  }

  void NoteSuccess() {
    bool was_failing;
    {
      absl::MutexLock lock(&mu_);
      was_failing = std::exchange(failing_, false);
    }
    if (was_failing) log::Info("redis reachable again", {{"endpoint", endpoint_}});
  }

  const Options options_;
  const std::string endpoint_;

  absl::Mutex mu_;
  std::vector<redisContext*> idle_ ABSL_GUARDED_BY(mu_);
  // Idle + borrowed + being dialled; never above options_.pool_size.
  int live_ ABSL_GUARDED_BY(mu_) = 0;
  bool failing_ ABSL_GUARDED_BY(mu_) = false;
};

std::string Sha1Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // EVP_Digest only fails on allocation failure inside OpenSSL, which we cannot recover
  // from any better than by aborting.
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha1(), nullptr) != 1) abort();
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), static_cast<size_t>(len)));
}

}  // namespace

std::string Reply::DebugString() const {
  switch (type) {
    case Type::kNil:
      return "(nil)";
    case Type::kString:
      return absl::StrCat("\"", absl::CEscape(str), "\"");
    case Type::kStatus:
      return absl::StrCat("+", absl::CEscape(str));
    case Type::kError:
      return absl::StrCat("-", absl::CEscape(str));
    case Type::kInteger:
      return absl::StrCat("(integer) ", integer);
    case Type::kArray:
      return absl::StrCat(
          "[",
          absl::StrJoin(elements, ", ",
                        [](std::string* out, const Reply& r) { out->append(r.DebugString()); }),
          "]");
  }
  return "(unknown)";
}

std::ostream& operator<<(std::ostream& os, const Reply& reply) { return os << reply.DebugString(); }

Script::Script(std::string source) : source_(std::move(source)), sha_(Sha1Hex(source_)) {}

absl::Status StatusFromErrorReply(absl::string_view message) {
  absl::string_view kind = message.substr(0, message.find(' '));
  for (absl::string_view transient : kTransientErrors) {
    if (kind == transient) return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

absl::StatusOr<std::unique_ptr<Client>> Connect(const Options& options) {
  if (options.host.empty()) return absl::InvalidArgumentError("redis options: host is empty");
  if (options.port <= 0 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis options: port ", options.port, " is outside 1..65535"));
  }
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis options: pool_size ", options.pool_size, " must be at least 1"));
  }
  if (options.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("redis options: connect_timeout must be positive");
  }
  if (options.command_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("redis options: command_timeout must be positive");
  }
  if (options.pool_wait < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("redis options: pool_wait must not be negative");
  }
  IgnoreSigpipeOnce();
  return std::unique_ptr<Client>(std::make_unique<PooledClient>(options));
}

absl::Status Ping(Client& client) {
  ASSIGN_OR_RETURN(Reply reply, client.Command({"PING"}));
  if (reply.type != Reply::Type::kStatus || reply.str != "PONG") {
    return absl::InternalError(absl::StrCat("redis PING answered ", reply.DebugString()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::function<absl::Status()>> NewPing(Options options) {
  options.pool_size = 1;
  ASSIGN_OR_RETURN(std::unique_ptr<Client> own, Connect(options));
  std::shared_ptr<Client> client = std::move(own);
  return std::function<absl::Status()>([client] { return Ping(*client); });
}

}  // namespace gridloop::redis
