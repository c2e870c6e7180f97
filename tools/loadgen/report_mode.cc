#include <atomic>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gridloop/v1/incidents.grpc.pb.h"
#include "tools/loadgen/call_mode.h"

namespace gridloop::loadgen {
namespace {

namespace v1 = ::gridloop::v1;

// Calls IncidentService.ReportIncident with a realistic report and a fresh request_id per
// call, so each call is a real registration (one Lua script and one outbox entry), not an
// idempotent replay. --category (default street_light), --region (330106.003.012.g07).
class ReportMode final : public CallMode {
 public:
  ReportMode(std::shared_ptr<grpc::Channel> channel, std::string category, std::string region)
      : stub_(v1::IncidentService::NewStub(std::move(channel))),
        run_(absl::StrCat(absl::ToUnixNanos(absl::Now()))) {
    prototype_.set_category(std::move(category));
    prototype_.set_title("路灯不亮");
    prototype_.set_description("小区北门路灯整晚不亮，夜间出行不便。");
    prototype_.set_channel(v1::CHANNEL_APP);
    prototype_.mutable_location()->set_latitude(30.2741);
    prototype_.mutable_location()->set_longitude(120.1551);
    prototype_.set_address("西湖区文新街道 嘉绿苑社区 北门");
    prototype_.set_region_code(std::move(region));
    prototype_.mutable_reporter()->set_name("赵女士");
    prototype_.mutable_reporter()->set_phone("13800138000");
  }

  void StartCall(std::unique_ptr<grpc::ClientContext> ctx, Done done) override {
    struct Call {
      std::unique_ptr<grpc::ClientContext> ctx;
      v1::ReportIncidentRequest request;
      v1::IncidentResponse response;
      Done done;
    };
    auto* call = new Call{std::move(ctx), prototype_, {}, std::move(done)};
    call->request.set_request_id(absl::StrCat("loadgen-", run_, "-", next_.fetch_add(1)));
    stub_->async()->ReportIncident(call->ctx.get(), &call->request, &call->response,
                                   [call](const grpc::Status& status) {
                                     // `done` last: the runner may tear down after it.
                                     Done done = std::move(call->done);
                                     // A copy: `status` may be owned by the call deleted below.
                                     // NOLINTNEXTLINE(performance-unnecessary-copy-initialization)
                                     grpc::Status result = status;
                                     delete call;
                                     done(result);
                                   });
  }

 private:
  std::unique_ptr<v1::IncidentService::Stub> stub_;
  v1::ReportIncidentRequest prototype_;
  const std::string run_;
  std::atomic<int64_t> next_{0};
};

}  // namespace

absl::StatusOr<std::unique_ptr<CallMode>> NewReportMode(const ModeContext& context) {
  std::string category = "street_light";
  std::string region = "330106.003.012.g07";
  if (context.settings != nullptr) {
    category = context.settings->Get("category", category);
    region = context.settings->Get("region", region);
  }
  if (category.empty()) return absl::InvalidArgumentError("category: required");
  return std::make_unique<ReportMode>(context.channel, std::move(category), std::move(region));
}

}  // namespace gridloop::loadgen
