#ifndef GRIDLOOP_COMMON_TESTING_GRPC_STACK_H_
#define GRIDLOOP_COMMON_TESTING_GRPC_STACK_H_

// What tests and benchmarks that run services in-process over gRPC keep needing: a free
// port, a call made as someone, waiting for a condition, and one street of regions.

#include <grpcpp/client_context.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gridloop/v1/residents.grpc.pb.h"

namespace gridloop::testing {

// A loopback TCP port that was free a moment ago (for a server that must know its port
// before it starts, e.g. one a peer is configured with).
int FreePort();

// A client context for a call made as `person` in `role` (acting within `region` when not
// empty), with a 10 s deadline.
std::unique_ptr<grpc::ClientContext> CallAs(const std::string& person, const std::string& role,
                                            const std::string& region = "");

// Polls `done` every 20 ms until it holds or `timeout` passed; returns its last answer.
// For waiting on another process or thread, never as a stand-in for synchronisation.
bool Eventually(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(30));

// The grid used across tests, and its ancestors up to the city.
inline constexpr char kTestGrid[] = "3301.06.003.001.g01";
inline constexpr char kTestCommunity[] = "3301.06.003.001";
inline constexpr char kTestStreet[] = "3301.06.003";

// Creates city 3301 -> district 3301.06 -> street 3301.06.003 -> community
// 3301.06.003.001 -> grid 3301.06.003.001.g01 (the square 30.28..30.29 N,
// 120.10..120.11 E) through `residents`, as an operator of 3301.
absl::Status CreateTestStreet(v1::ResidentService::Stub& residents);

// Puts `person` on duty in `region` as `role` from `valid_from` on.
absl::Status AddTestStaff(v1::ResidentService::Stub& residents, const std::string& person,
                          const std::string& region, v1::StaffRole role, absl::Time valid_from);

}  // namespace gridloop::testing

#endif  // GRIDLOOP_COMMON_TESTING_GRPC_STACK_H_
