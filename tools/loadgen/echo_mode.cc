#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tools/loadgen/call_mode.h"
#include "tools/loadgen/echo.grpc.pb.h"

namespace gridloop::loadgen {
namespace {

namespace pb = ::gridloop::bench::v1;

// Calls EchoService.Echo with a fixed payload of --payload-bytes (default 64).
class EchoMode final : public CallMode {
 public:
  EchoMode(std::shared_ptr<grpc::Channel> channel, size_t payload_bytes)
      : stub_(pb::EchoService::NewStub(std::move(channel))) {
    request_.set_payload(std::string(payload_bytes, 'x'));
  }

  void StartCall(std::unique_ptr<grpc::ClientContext> ctx, Done done) override {
    // Owns what gRPC needs until the callback; the request is shared and only read.
    struct Call {
      std::unique_ptr<grpc::ClientContext> ctx;
      pb::EchoResponse response;
      Done done;
    };
    auto* call = new Call{std::move(ctx), {}, std::move(done)};
    stub_->async()->Echo(call->ctx.get(), &request_, &call->response,
                         [call](const grpc::Status& status) {
                           // `done` last: once it has run, the runner may tear everything
                           // down, so nothing of this call may be touched after it.
                           Done done = std::move(call->done);
                           // A copy: `status` may be owned by the call deleted below.
                           // NOLINTNEXTLINE(performance-unnecessary-copy-initialization)
                           grpc::Status result = status;
                           delete call;
                           done(result);
                         });
  }

 private:
  std::unique_ptr<pb::EchoService::Stub> stub_;
  pb::EchoRequest request_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<CallMode>> NewEchoMode(const ModeContext& context) {
  int64_t payload_bytes = 64;
  if (context.settings != nullptr) {
    absl::StatusOr<int64_t> bytes = context.settings->GetInt("payload_bytes", 64);
    if (!bytes.ok()) return bytes.status();
    payload_bytes = *bytes;
  }
  if (payload_bytes < 0 || payload_bytes > (64 << 20)) {
    return absl::InvalidArgumentError(
        absl::StrCat("payload-bytes: ", payload_bytes, " is not within 0..67108864"));
  }
  return std::make_unique<EchoMode>(context.channel, static_cast<size_t>(payload_bytes));
}

}  // namespace gridloop::loadgen
