#include "common/identity/identity_interceptor.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/identity/identity.h"
#include "common/identity/internal/registry.h"
#include "gtest/gtest.h"
#include "tools/loadgen/echo.grpc.pb.h"

namespace gridloop {
namespace {

namespace pb = ::gridloop::bench::v1;

std::string Describe(const Caller& caller) {
  return absl::StrCat(caller.person_id, "|", RoleName(caller.role), "|", caller.region_scope);
}

// Answers with the caller it sees, read from another thread as handlers do when they hand
// their work to an executor.
class WhoAmIService final : public pb::EchoService::CallbackService {
 public:
  ~WhoAmIService() override {
    absl::MutexLock lock(&mu_);
    for (std::thread& t : threads_) t.join();
  }

  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx, const pb::EchoRequest*,
                                 pb::EchoResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    absl::MutexLock lock(&mu_);
    threads_.emplace_back([ctx, resp, reactor] {
      resp->set_payload(Describe(CallerOf(*ctx)));
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

class IdentityInterceptorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(std::make_unique<IdentityInterceptorFactory>());
    builder.experimental().SetInterceptorCreators(std::move(creators));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = pb::EchoService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override { server_->Shutdown(); }

  std::string Call(const std::vector<std::pair<std::string, std::string>>& headers) {
    grpc::ClientContext ctx;
    for (const auto& [key, value] : headers) ctx.AddMetadata(key, value);
    pb::EchoRequest req;
    pb::EchoResponse resp;
    grpc::Status status = stub_->Echo(&ctx, req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return resp.payload();
  }

  WhoAmIService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<pb::EchoService::Stub> stub_;
};

TEST_F(IdentityInterceptorTest, HeadersReachTheHandlerAsTheCaller) {
  EXPECT_EQ(Call({{kPersonHeader, "p-42"}, {kRoleHeader, "grid_worker"}, {kRegionHeader, "3301"}}),
            "p-42|grid_worker|3301");
}

TEST_F(IdentityInterceptorTest, NoHeadersMeansAnonymous) { EXPECT_EQ(Call({}), "|anonymous|"); }

TEST_F(IdentityInterceptorTest, UnknownRoleMeansAnonymous) {
  EXPECT_EQ(Call({{kPersonHeader, "p-42"}, {kRoleHeader, "emperor"}}), "|anonymous|");
}

TEST_F(IdentityInterceptorTest, EachCallSeesItsOwnCallerAndNothingOutlivesTheCalls) {
  constexpr int kClients = 8;
  constexpr int kCallsEach = 25;
  std::vector<std::thread> clients;
  clients.reserve(kClients);
  std::vector<int> mismatches(kClients, 0);
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([this, c, &mismatches] {
      for (int i = 0; i < kCallsEach; ++i) {
        std::string person = absl::StrCat("p-", c, "-", i);
        std::string got = Call({{kPersonHeader, person}, {kRoleHeader, "volunteer"}});
        if (got != absl::StrCat(person, "|volunteer|")) ++mismatches[c];
      }
    });
  }
  for (std::thread& t : clients) t.join();
  for (int c = 0; c < kClients; ++c) EXPECT_EQ(mismatches[c], 0) << "client " << c;
  // The client has its answer before the server destroys the call; shut down so every
  // call is gone, then nothing may remain attached.
  server_->Shutdown();
  EXPECT_EQ(identity_internal::CallerRegistry::Get().Size(), 0u);
}

}  // namespace
}  // namespace gridloop
