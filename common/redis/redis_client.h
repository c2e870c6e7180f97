#ifndef GRIDLOOP_COMMON_REDIS_REDIS_CLIENT_H_
#define GRIDLOOP_COMMON_REDIS_REDIS_CLIENT_H_

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

// The project's only door to Redis. Blocking calls over a small pool of hiredis
// connections; callers on latency-sensitive threads (gRPC callbacks) hand the work to an
// executor first. No hiredis type appears in this header, so adapters and their tests
// depend on this interface alone (see mock_redis_client.h).

namespace gridloop::redis {

// A reply copied out of hiredis. A plain value: copyable, comparable, no hiredis type.
struct Reply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };

  Type type = Type::kNil;
  std::string str;              // kString (binary-safe), kStatus, kError
  int64_t integer = 0;          // kInteger
  std::vector<Reply> elements;  // kArray

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }

  // Builders, mostly for mocks and fakes.
  static Reply Nil() { return Reply{}; }
  static Reply String(std::string s) { return Reply{Type::kString, std::move(s), 0, {}}; }
  static Reply Status(std::string s) { return Reply{Type::kStatus, std::move(s), 0, {}}; }
  static Reply Error(std::string s) { return Reply{Type::kError, std::move(s), 0, {}}; }
  static Reply Integer(int64_t i) { return Reply{Type::kInteger, {}, i, {}}; }
  static Reply Array(std::vector<Reply> e) { return Reply{Type::kArray, {}, 0, std::move(e)}; }

  friend bool operator==(const Reply& a, const Reply& b) = default;

  // A one-line rendering for logs and test failures; string bytes are C-escaped.
  std::string DebugString() const;
};

std::ostream& operator<<(std::ostream& os, const Reply& reply);

// A Lua script identified by the SHA1 (lowercase hex) of its source, as Redis names it in
// EVALSHA and SCRIPT LOAD. Immutable after construction, so one instance may be shared by
// all threads (typically a function-local static beside the adapter that runs it).
class Script {
 public:
  explicit Script(std::string source);

  const std::string& source() const { return source_; }
  const std::string& sha() const { return sha_; }

 private:
  std::string source_;
  std::string sha_;
};

struct Options {
  std::string host = "127.0.0.1";
  int port = 6379;
  // Connections kept open at most; also the number of calls that can run at once.
  int pool_size = 8;
  absl::Duration connect_timeout = absl::Seconds(1);
  // Bounds each socket read and write of a command (hiredis redisSetTimeout).
  // absl::InfiniteDuration() disables it, which only blocking commands should want.
  absl::Duration command_timeout = absl::Seconds(2);
  // How long a call waits for a free connection when all pool_size are in use.
  absl::Duration pool_wait = absl::Seconds(2);
};

// A pool of connections to one Redis server. Thread-safe: every call borrows one
// connection for its duration and gives it back, so calls from many threads run in
// parallel up to Options::pool_size. Every call blocks the calling thread.
//
// Failure codes shared by all calls:
//  - Unavailable: Redis could not be reached, the connection broke, a read or write
//    exceeded command_timeout, no connection was free within pool_wait, or Redis answered
//    LOADING / BUSY / MASTERDOWN / READONLY / TRYAGAIN / CLUSTERDOWN. Retrying may help.
//    A connection that failed is closed and never reused; the next call reconnects.
//  - Internal: any other error reply, with Redis's message unchanged as the status
//    message (so a script's own error text reaches the adapter that raised it).
//  - InvalidArgument: an empty command.
// A command that timed out may still have run on the server; retry only what is
// idempotent.
//
// The client must outlive every call in flight.
class Client {
 public:
  virtual ~Client() = default;

  // Runs one command; `argv` is binary-safe (each element may hold any bytes).
  virtual absl::StatusOr<Reply> Command(std::vector<std::string> argv) = 0;

  // Sends all `commands` on one connection in one round trip and returns their replies in
  // order. An error reply to one command comes back as Reply{kError} in its slot and does
  // not fail the call; only a transport failure (or an empty command) does. Not atomic:
  // wrap in MULTI/EXEC or use a Script for that.
  virtual absl::StatusOr<std::vector<Reply>> Pipeline(
      std::vector<std::vector<std::string>> commands) = 0;

  // EVALSHA script.sha() numkeys keys... args...; when Redis does not know the script
  // (NOSCRIPT) it is loaded with SCRIPT LOAD and run once more. Error replies raised by the
  // script map as for Command.
  virtual absl::StatusOr<Reply> Eval(const Script& script, std::vector<std::string> keys,
                                     std::vector<std::string> args) = 0;
};

// Creates the pool. Connections are made lazily and re-made after failures, so a service
// can start while Redis is still coming up; Connect itself never touches the network and
// fails only on bad options (InvalidArgument naming the field).
//
// Side effect: if SIGPIPE still has its default disposition it is set to ignored, because
// hiredis writes with write(2) and a peer that went away would otherwise kill the process.
absl::StatusOr<std::unique_ptr<Client>> Connect(const Options& options);

// PING through `client`: OK when Redis answers PONG.
absl::Status Ping(Client& client);

// A readiness check: PING over a connection of its own, made with `options` (its pool size
// set to one), so that it tells whether Redis answers, not whether a service's pool,
// busy under load, has a connection free. A busy pool must not take a replica out of
// service. The returned function is thread-safe and owns its connection.
absl::StatusOr<std::function<absl::Status()>> NewPing(Options options);

// The status for a Redis error reply `message` ("ERR ...", "BUSY ..."): Unavailable for the
// transient kinds listed above Client, Internal otherwise. Exposed for fakes that want to
// fail the way the real client does.
absl::Status StatusFromErrorReply(absl::string_view message);

}  // namespace gridloop::redis

#endif  // GRIDLOOP_COMMON_REDIS_REDIS_CLIENT_H_
