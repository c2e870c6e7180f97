#ifndef GRIDLOOP_COMMON_SERVER_EXECUTOR_H_
#define GRIDLOOP_COMMON_SERVER_EXECUTOR_H_

#include <cstddef>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace gridloop::server {

// A fixed pool of threads with a bounded queue, where handlers run the blocking part of a
// call (hiredis, librdkafka) so gRPC's callback threads never block. The bound is the
// back-pressure: when it is reached Post refuses, and the handler finishes the call with
// RESOURCE_EXHAUSTED instead of letting memory and latency grow without limit.
// Thread-safe.
class Executor {
 public:
  // Starts `threads` (>= 1) workers; at most `max_queue` tasks wait beyond those running.
  Executor(int threads, size_t max_queue);
  // Shuts down (see Shutdown).
  ~Executor();

  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues `task` to run on a worker. False, without running or keeping `task`, when the
  // queue is full or Shutdown has begun. A task must not throw.
  bool Post(absl::AnyInvocable<void() &&> task);

  // Refuses new tasks, runs every task already queued, then joins the workers. Idempotent.
  // Must not be called from a worker.
  void Shutdown();

  // Tasks queued and not yet started.
  size_t queued() const;

 private:
  void Work();
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_queue_;
  mutable absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex join_mu_;  // serialises concurrent Shutdown calls
  std::vector<std::thread> workers_ ABSL_GUARDED_BY(join_mu_);
};

}  // namespace gridloop::server

#endif  // GRIDLOOP_COMMON_SERVER_EXECUTOR_H_
