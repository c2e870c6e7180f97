#ifndef GRIDLOOP_COMMON_REDIS_ASYNC_CLIENT_H_
#define GRIDLOOP_COMMON_REDIS_ASYNC_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/redis/redis_client.h"

namespace gridloop::redis {

// Redis without a blocked thread per call, for the hot write path: `options.pool_size`
// connections (hiredis's asynchronous API on epoll). The calling thread writes its command
// to the socket itself, so a command costs no hand-over between threads; one I/O thread
// waits for the replies and runs the callbacks. No thread sleeps on a round trip, and
// concurrent commands share Redis's own batching.
//
// Replies on one connection come in order; commands are spread over the connections
// round-robin, so two commands from one caller may complete in either order.
//
// Failure: a connection error, or a command without a reply after
// `options.command_timeout`, fails every command in flight on that connection with
// Unavailable and the connection is made anew for the next command. Error replies map as
// in Client (StatusFromErrorReply). Thread-safe.
class AsyncClient {
 public:
  // Runs exactly once: on the I/O thread, or, when the command fails before it could be
  // sent (no connection, shutting down), on the calling thread before Command or Eval
  // returns. It must not block (hand work elsewhere).
  using Callback = std::function<void(absl::StatusOr<Reply>)>;

  // Starts the I/O thread; connections are made on first use. InvalidArgument for bad
  // options, Internal if the thread's epoll cannot be set up.
  static absl::StatusOr<std::unique_ptr<AsyncClient>> Start(const Options& options);

  // Fails every command not yet answered with Unavailable, then stops the thread.
  ~AsyncClient();

  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  void Command(std::vector<std::string> argv, Callback done);

  // EVALSHA; on NOSCRIPT the script is loaded and run once more on the same connection.
  // `script` must outlive the call (scripts are process-wide constants).
  void Eval(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
            Callback done);

  class Impl;

 private:
  explicit AsyncClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gridloop::redis

#endif  // GRIDLOOP_COMMON_REDIS_ASYNC_CLIENT_H_
