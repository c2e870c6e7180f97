#ifndef GRIDLOOP_COMMON_IDENTITY_INTERNAL_REGISTRY_H_
#define GRIDLOOP_COMMON_IDENTITY_INTERNAL_REGISTRY_H_

#include <array>
#include <cstdint>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/identity/identity.h"

namespace gridloop::identity_internal {

// The callers of the calls in flight, keyed by their server context. gRPC 1.51 gives an
// interceptor no per-call slot a handler can read, so the context's address is the link;
// an entry lives exactly as long as the interceptor that made it, which gRPC destroys
// together with the context, so an address is never reused while its entry exists.
// Sharded so concurrent calls rarely contend on one lock. Thread-safe.
class CallerRegistry {
 public:
  // The process-wide registry (never destroyed, so it outlives every server).
  static CallerRegistry& Get();

  void Attach(const void* call, Caller caller);
  void Detach(const void* call);
  std::optional<Caller> Find(const void* call) const;
  // How many calls have a caller attached; for tests.
  size_t Size() const;

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<const void*, Caller> callers ABSL_GUARDED_BY(mu);
  };
  Shard& ShardFor(const void* call) const {
    // Contexts are heap objects; the low bits carry no information.
    return shards_[(reinterpret_cast<uintptr_t>(call) >> 6) % kShards];
  }

  mutable std::array<Shard, kShards> shards_;
};

}  // namespace gridloop::identity_internal

#endif  // GRIDLOOP_COMMON_IDENTITY_INTERNAL_REGISTRY_H_
