#ifndef GRIDLOOP_COMMON_SERVER_HEALTH_CHECK_H_
#define GRIDLOOP_COMMON_SERVER_HEALTH_CHECK_H_

// The client side of grpc.health.v1.Health/Check, which every GridLoop server answers: for
// operators' tools and for tests that wait until a separately started service is ready.

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace gridloop::server {

// grpc.health.v1.HealthCheckResponse.ServingStatus.
enum class ServingStatus { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

absl::string_view ServingStatusName(ServingStatus status);

// Asks `channel` for the health of `service` ("" = the whole server), waiting at most
// `timeout`. A failed call returns its status (UNAVAILABLE when nothing listens,
// DEADLINE_EXCEEDED when it did not answer in time; NOT_FOUND is the server's way of
// saying SERVICE_UNKNOWN and comes back as kServiceUnknown).
absl::StatusOr<ServingStatus> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                          const std::string& service, absl::Duration timeout);

}  // namespace gridloop::server

#endif  // GRIDLOOP_COMMON_SERVER_HEALTH_CHECK_H_
