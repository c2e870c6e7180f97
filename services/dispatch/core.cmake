# The offer state machine and the ledger's rules (pure).
gridloop_library(gridloop_dispatch_rules
  SOURCES offers.cc ledger.cc
  DEPS gridloop_proto gridloop_clock absl::strings absl::statusor absl::time)

gridloop_test(dispatch_rules_test
  SOURCES offers_test.cc ledger_test.cc
  DEPS gridloop_dispatch_rules
  LABELS unit)

# Residents' answers about who is responsible, kept briefly (pure).
gridloop_library(gridloop_dispatch_staff_cache
  SOURCES staff_cache.cc
  DEPS gridloop_proto gridloop_clock absl::flat_hash_map absl::strings absl::statusor
       absl::synchronization absl::time)

gridloop_test(dispatch_staff_cache_test
  SOURCES staff_cache_test.cc
  DEPS gridloop_dispatch_staff_cache
  LABELS unit)

# Which incident versions this process saw its records reach (pure).
gridloop_library(gridloop_dispatch_applied_versions
  SOURCES applied_versions.cc
  DEPS absl::hash absl::strings absl::synchronization)

gridloop_test(dispatch_applied_versions_test
  SOURCES applied_versions_test.cc
  DEPS gridloop_dispatch_applied_versions
  LABELS unit)

# Incident events -> assignments and offers, over the dispatch store and the peers.
gridloop_library(gridloop_dispatch_core
  SOURCES dispatcher.cc redis_dispatch_store.cc grpc_peers.cc
  DEPS gridloop_dispatch_rules gridloop_dispatch_ports gridloop_dispatch_policy
       gridloop_dispatch_applied_versions gridloop_dispatch_geo gridloop_redis gridloop_identity gridloop_log gridloop_status
       gridloop_clock gridloop_grpc_client)
gridloop_embed_text(gridloop_dispatch_core lua/dispatch_commit.lua kDispatchCommitLua)

gridloop_test(dispatch_dispatcher_test
  SOURCES dispatcher_test.cc
  DEPS gridloop_dispatch_core gridloop_dispatch_store gridloop_testing_redis
  LABELS integration
  TIMEOUT 300)

