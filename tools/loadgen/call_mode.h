#ifndef GRIDLOOP_TOOLS_LOADGEN_CALL_MODE_H_
#define GRIDLOOP_TOOLS_LOADGEN_CALL_MODE_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/config/config.h"

namespace gridloop::loadgen {

// One kind of call the load generator makes (an Echo, a ReportIncident...). The runner
// decides when; a mode only knows how to issue one call.
class CallMode {
 public:
  // Receives the finished call's status; may run on any gRPC thread.
  using Done = std::function<void(const grpc::Status&)>;

  virtual ~CallMode() = default;

  // Starts one asynchronous call with `ctx` (deadline and headers already set by the
  // runner; the mode keeps it alive until the call ends) and calls `done` exactly once
  // when it ends, as the last thing it does with that call: once `done` returns, the
  // runner may destroy the mode. Must not block. Thread-safe: many calls are in flight.
  virtual void StartCall(std::unique_ptr<grpc::ClientContext> ctx, Done done) = 0;
};

// What a mode is built from.
struct ModeContext {
  std::shared_ptr<grpc::Channel> channel;
  // All command-line settings, for a mode's own ones (e.g. --payload-bytes).
  const config::Settings* settings = nullptr;
};

// Builds the mode named `name` ("echo"). InvalidArgument for an unknown name (the message
// lists the known ones) or for a mode setting the mode rejects.
absl::StatusOr<std::unique_ptr<CallMode>> NewCallMode(absl::string_view name,
                                                      const ModeContext& context);

// The names NewCallMode accepts, sorted.
std::vector<std::string> CallModeNames();

// Mode constructors, one per mode; NewCallMode dispatches to them by name.
absl::StatusOr<std::unique_ptr<CallMode>> NewEchoMode(const ModeContext& context);
absl::StatusOr<std::unique_ptr<CallMode>> NewReportMode(const ModeContext& context);

}  // namespace gridloop::loadgen

#endif  // GRIDLOOP_TOOLS_LOADGEN_CALL_MODE_H_
