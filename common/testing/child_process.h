#ifndef GRIDLOOP_COMMON_TESTING_CHILD_PROCESS_H_
#define GRIDLOOP_COMMON_TESTING_CHILD_PROCESS_H_

// Child processes for tests that run servers as separate programs (redis-server, the
// services' own binaries): started with a chosen environment and output file, killed with
// the thread that started them (PR_SET_PDEATHSIG), so a crashed test leaks none.

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gridloop::testing {

struct SpawnSpec {
  // argv[0] is the program's path; it is run as given, not looked up on PATH.
  std::vector<std::string> argv;
  // The whole environment of the child, "NAME=value" each; the parent's is not inherited,
  // so a test's result never depends on what the shell that ran it exported.
  std::vector<std::string> env;
  // stdout and stderr go here (truncated first); stdin is /dev/null.
  std::string output_path;
};

// Forks and execs. Internal when fork or exec fails (exec's errno reported).
absl::StatusOr<pid_t> Spawn(const SpawnSpec& spec);

// Polls for the exit of `pid` until `deadline`; true when it has been reaped. `wstatus`,
// when given, receives waitpid's status.
bool ReapBefore(pid_t pid, absl::Time deadline, int* wstatus = nullptr);

// SIGKILL, then waits for the exit.
void KillAndReap(pid_t pid);

// SIGTERM, waiting up to `grace` for a clean exit before SIGKILL. Returns waitpid's
// status of the exit.
int TerminateAndReap(pid_t pid, absl::Duration grace);

// A loopback port that was free a moment ago, chosen at random outside the kernel's
// ephemeral range: the local end of an outgoing connection (a test's own client, a peer's
// reconnect) cannot take it before the caller binds it, and a restarted server can have
// it back. Another test picking at the same moment still could; callers that can tell (a
// server that quits with EADDRINUSE) retry.
absl::StatusOr<int> PickFreePort();

// The whole HTTP/1.0 response (status line, headers and body) of GET `path` on
// 127.0.0.1:`port`, e.g. a process's /metrics page; empty when nothing answers.
std::string HttpGet(int port, absl::string_view path);

// Ignores SIGPIPE in this process if nobody chose a handler: writing to a peer that was
// just killed must fail with EPIPE, not end the test.
void IgnoreSigpipe();

// The last `bytes` of the file at `path` ("" when it cannot be read).
std::string FileTail(const std::string& path, size_t bytes = 2000);

}  // namespace gridloop::testing

#endif  // GRIDLOOP_COMMON_TESTING_CHILD_PROCESS_H_
