#ifndef GRIDLOOP_COMMON_TESTING_REDIS_SERVER_H_
#define GRIDLOOP_COMMON_TESTING_REDIS_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gridloop::testing {

// A real redis-server child process on a free loopback port, for integration tests.
// It runs in a fresh temporary directory that is removed on destruction, so no
// persistence files are left behind. Not thread-safe: one owner.
//
// The child is killed if the thread that started it exits (PR_SET_PDEATHSIG), so a
// crashed test never leaks a server. Start and Restart therefore belong on a thread that
// outlives the server, normally the test's main thread.
//
// Starting ignores SIGPIPE in the test process, since probing a dying server can raise it.
class RedisServer {
 public:
  struct Options {
    bool appendonly = false;
    std::string appendfsync = "everysec";  // always | everysec | no
    // Further `--name value` arguments for redis-server, appended last.
    std::vector<std::string> extra_args;
  };

  // Finds redis-server on PATH (or /usr/bin/redis-server), picks a free port and waits
  // until the server answers and has finished loading. NotFound if there is no
  // redis-server; Unavailable if it did not come up (the message carries its log tail).
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start() { return Start(Options{}); }

  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  // SIGKILLs and reaps the process if it runs, then removes the directory.
  ~RedisServer();

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1"; }
  // "127.0.0.1:<port>".
  std::string address() const;
  // The server's working directory (AOF files, redis.log).
  const std::string& dir() const { return dir_; }
  bool running() const { return pid_ > 0; }

  // For fault tests: stops the process and waits until it has exited. `hard` sends SIGKILL
  // (a crash: data not yet written to the AOF is lost); otherwise SIGTERM, which Redis
  // handles as SHUTDOWN, escalating to SIGKILL after 10 s. OK if it was already stopped.
  absl::Status Stop(bool hard);

  // Starts again on the same port and directory (AOF data is kept) and waits until the
  // server answers. FailedPrecondition if it is running; Unavailable if it did not come up,
  // e.g. because something else took the port meanwhile.
  absl::Status Restart();

 private:
  RedisServer(std::string binary, Options options, std::string dir)
      : binary_(std::move(binary)), options_(std::move(options)), dir_(std::move(dir)) {}

  // Launches on port_ and waits until ready. On failure the child is reaped and pid_ is 0;
  // `port_taken` tells whether it quit because something else had bound port_ meanwhile.
  absl::Status Launch(bool* port_taken);
  std::string LogTail() const;

  const std::string binary_;
  const Options options_;
  const std::string dir_;
  int port_ = 0;
  pid_t pid_ = 0;
};

}  // namespace gridloop::testing

#endif  // GRIDLOOP_COMMON_TESTING_REDIS_SERVER_H_
