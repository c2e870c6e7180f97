#include "common/server/server.h"

#include <google/protobuf/unknown_field_set.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <prometheus/metric_family.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/identity/identity.h"
#include "common/server/executor.h"
#include "common/server/metrics.h"
#include "common/testing/child_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/loadgen/echo.grpc.pb.h"

namespace gridloop::server {
namespace {

namespace pb = ::gridloop::bench::v1;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

constexpr char kEchoService[] = "gridloop.bench.v1.EchoService";
constexpr absl::Duration kPatience = absl::Seconds(20);  // a deadline, not a delay

// Echoes through an executor like a real handler, with payloads that steer it:
// "hold" stays in flight until ReleaseHeld(); "fail:<code>" finishes with that code;
// "whoami" answers with the caller's identity.
class TestEchoService final : public pb::EchoService::CallbackService {
 public:
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx, const pb::EchoRequest* req,
                                 pb::EchoResponse* resp) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    const std::string& payload = req->payload();
    int code = 0;
    if (payload == "hold") {
      resp->set_payload("released");
      absl::MutexLock lock(&mu_);
      held_.push_back(reactor);
    } else if (absl::StartsWith(payload, "fail:") && absl::SimpleAtoi(payload.substr(5), &code)) {
      reactor->Finish(grpc::Status(static_cast<grpc::StatusCode>(code), "as asked"));
    } else {
      bool posted = executor_.Post([ctx, req, resp, reactor] {
        if (req->payload() == "whoami") {
          Caller caller = CallerOf(*ctx);
          resp->set_payload(
              absl::StrCat(caller.person_id, "|", RoleName(caller.role), "|", caller.region_scope));
        } else {
          resp->set_payload(req->payload());
        }
        reactor->Finish(grpc::Status::OK);
      });
      if (!posted) reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "busy"));
    }
    return reactor;
  }

  bool AwaitHeld(size_t count) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, count]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return held_.size() >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kPatience);
  }

  // Finishes the held calls from the test's thread, as an executor would.
  void ReleaseHeld() {
    std::vector<grpc::ServerUnaryReactor*> held;
    {
      absl::MutexLock lock(&mu_);
      held.swap(held_);
    }
    for (grpc::ServerUnaryReactor* reactor : held) reactor->Finish(grpc::Status::OK);
  }

 private:
  Executor executor_{2, 64};
  absl::Mutex mu_;
  std::vector<grpc::ServerUnaryReactor*> held_ ABSL_GUARDED_BY(mu_);
};

std::string ToBytes(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

grpc::ByteBuffer FromBytes(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

// A length-delimited protobuf field holding `value`, for messages this test has no
// generated code for (grpc.health.v1, grpc.reflection.v1alpha).
std::string StringField(int number, const std::string& value) {
  std::string out(1, static_cast<char>((number << 3) | 2));
  out.push_back(static_cast<char>(value.size()));  // values here are < 128 bytes
  return out + value;
}

enum class Health { kUnknown = 0, kServing = 1, kNotServing = 2 };

Health ParseHealth(const std::string& bytes) {
  UnknownFieldSet fields;
  if (!fields.ParseFromString(bytes)) return Health::kUnknown;
  for (int i = 0; i < fields.field_count(); ++i) {
    const UnknownField& field = fields.field(i);
    if (field.number() == 1 && field.type() == UnknownField::TYPE_VARINT) {
      return static_cast<Health>(field.varint());
    }
  }
  return Health::kUnknown;
}

// A bidirectional generic call driven step by step through a completion queue.
class GenericStream {
 public:
  GenericStream(const std::shared_ptr<grpc::Channel>& channel, const std::string& method)
      : stub_(channel) {
    ctx_.set_deadline(std::chrono::system_clock::now() + absl::ToChronoSeconds(kPatience));
    call_ = stub_.PrepareCall(&ctx_, method, &cq_);
    call_->StartCall(Tag(1));
    started_ = Step(1);
  }
  ~GenericStream() {
    ctx_.TryCancel();
    if (started_) {
      grpc::Status status;
      call_->Finish(&status, Tag(9));
      Step(9);
    }
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  bool Send(const std::string& bytes, bool last) {
    grpc::ByteBuffer buffer = FromBytes(bytes);
    call_->Write(buffer, Tag(2));
    if (!Step(2)) return false;
    if (!last) return true;
    call_->WritesDone(Tag(3));
    return Step(3);
  }
  // The next message; nullopt if the stream ended.
  std::optional<std::string> Receive() {
    grpc::ByteBuffer buffer;
    call_->Read(&buffer, Tag(4));
    if (!Step(4)) return std::nullopt;
    return ToBytes(buffer);
  }
  bool started() const { return started_; }

 private:
  // Completion-queue tags are opaque: only compared, never dereferenced.
  // NOLINTNEXTLINE(performance-no-int-to-ptr)
  static void* Tag(intptr_t n) { return reinterpret_cast<void*>(n); }
  bool Step(intptr_t expected) {
    void* tag = nullptr;
    bool ok = false;
    if (!cq_.Next(&tag, &ok)) return false;
    return ok && tag == Tag(expected);
  }

  grpc::GenericStub stub_;
  grpc::ClientContext ctx_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  bool started_ = false;
};

class ServerTest : public ::testing::Test {
 protected:
  ServerOptions Options() {
    ServerOptions options;
    options.service_name = "echo-test";
    options.health_services = {kEchoService};
    options.listen = "127.0.0.1:0";
    return options;
  }

  void StartServer(ServerOptions options) {
    absl::StatusOr<std::unique_ptr<Server>> server =
        Server::Start(std::move(options), {&service_}, &metrics_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = NewChannel();
    stub_ = pb::EchoService::NewStub(channel_);
  }

  std::shared_ptr<grpc::Channel> NewChannel() {
    // A channel argument nobody else sets keeps each channel on its own connection.
    grpc::ChannelArguments args;
    args.SetInt("gridloop.test.channel", next_channel_++);
    return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                     grpc::InsecureChannelCredentials(), args);
  }

  grpc::Status Echo(const std::string& payload, std::string* out = nullptr,
                    const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoSeconds(kPatience));
    for (const auto& [key, value] : headers) ctx.AddMetadata(key, value);
    pb::EchoRequest req;
    req.set_payload(payload);
    pb::EchoResponse resp;
    grpc::Status status = stub_->Echo(&ctx, req, &resp);
    if (out != nullptr) *out = resp.payload();
    return status;
  }

  // grpc.health.v1.Health/Check for `service`; kUnknown with a non-OK status.
  Health Check(const std::string& service, grpc::StatusCode* code = nullptr) {
    grpc::GenericStub stub(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoSeconds(kPatience));
    grpc::ByteBuffer request = FromBytes(service.empty() ? "" : StringField(1, service));
    grpc::ByteBuffer response;
    grpc::Status status;
    absl::Notification done;
    stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();
    if (code != nullptr) *code = status.error_code();
    return status.ok() ? ParseHealth(ToBytes(response)) : Health::kUnknown;
  }

  TestEchoService service_;
  Metrics metrics_;
  std::unique_ptr<Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::EchoService::Stub> stub_;
  int next_channel_ = 0;
};

TEST_F(ServerTest, ReportsEveryHealthNameServingAndSetReadyMovesOnlyTheNamedOnes) {
  StartServer(Options());
  EXPECT_EQ(Check(""), Health::kServing);
  EXPECT_EQ(Check(kEchoService), Health::kServing);
  grpc::StatusCode code = grpc::StatusCode::OK;
  EXPECT_EQ(Check("gridloop.v1.NoSuchService", &code), Health::kUnknown);
  EXPECT_EQ(code, grpc::StatusCode::NOT_FOUND);

  // Not ready is not dead: the liveness probe's "" keeps answering SERVING.
  server_->SetReady(false);
  EXPECT_EQ(Check(kEchoService), Health::kNotServing);
  EXPECT_EQ(Check(""), Health::kServing);
  server_->SetReady(true);
  EXPECT_EQ(Check(kEchoService), Health::kServing);
  EXPECT_EQ(Check(""), Health::kServing);
}

TEST_F(ServerTest, HealthTurnsNotServingWhenShutdownBeginsWhileCallsDrain) {
  StartServer(Options());
  // A call in flight keeps the drain going while the watcher looks.
  pb::EchoRequest hold;
  hold.set_payload("hold");
  pb::EchoResponse held_response;
  grpc::ClientContext held_ctx;
  grpc::Status held_status;
  absl::Notification held_done;
  stub_->async()->Echo(&held_ctx, &hold, &held_response, [&](grpc::Status s) {
    held_status = std::move(s);
    held_done.Notify();
  });
  ASSERT_TRUE(service_.AwaitHeld(1));

  auto watch = std::make_unique<GenericStream>(channel_, "/grpc.health.v1.Health/Watch");
  ASSERT_TRUE(watch->started());
  ASSERT_TRUE(watch->Send(StringField(1, kEchoService), /*last=*/true));
  std::optional<std::string> first = watch->Receive();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(ParseHealth(*first), Health::kServing);

  std::thread waiter([this] { server_->Wait(); });
  server_->Shutdown();
  std::optional<std::string> next = watch->Receive();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(ParseHealth(*next), Health::kNotServing);
  watch.reset();

  service_.ReleaseHeld();
  ASSERT_TRUE(held_done.WaitForNotificationWithTimeout(kPatience));
  EXPECT_TRUE(held_status.ok()) << held_status.error_message();
  waiter.join();
}

TEST_F(ServerTest, InFlightCallCompletesDuringGracefulShutdownBeforeTheHooksRun) {
  StartServer(Options());
  absl::Mutex mu;
  std::vector<std::string> events;
  auto note = [&](std::string event) {
    absl::MutexLock lock(&mu);
    events.push_back(std::move(event));
  };
  server_->OnShutdown([&] { note("first hook"); });
  server_->OnShutdown([&] { note("second hook"); });

  pb::EchoRequest hold;
  hold.set_payload("hold");
  pb::EchoResponse response;
  grpc::ClientContext ctx;
  grpc::Status status;
  absl::Notification done;
  stub_->async()->Echo(&ctx, &hold, &response, [&](grpc::Status s) {
    status = std::move(s);
    note("call finished");
    done.Notify();
  });
  ASSERT_TRUE(service_.AwaitHeld(1));

  std::thread waiter([&] {
    server_->Wait();
    note("wait returned");
  });
  server_->Shutdown();
  // The server tells connected clients it is going away once it stops accepting calls;
  // wait for that so the release below happens during the drain.
  ASSERT_TRUE(channel_->WaitForStateChange(
      GRPC_CHANNEL_READY, std::chrono::system_clock::now() + absl::ToChronoSeconds(kPatience)));
  {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(events.empty()) << "nothing may finish while the call is held";
  }
  service_.ReleaseHeld();
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kPatience));
  waiter.join();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.payload(), "released");
  absl::MutexLock lock(&mu);
  // The client's callback runs on its own schedule; the server's steps keep their order.
  std::vector<std::string> server_steps;
  for (const std::string& e : events) {
    if (e != "call finished") server_steps.push_back(e);
  }
  EXPECT_EQ(server_steps, (std::vector<std::string>{"first hook", "second hook", "wait returned"}));
}

TEST_F(ServerTest, RefusesCallsOnceStopped) {
  StartServer(Options());
  ASSERT_TRUE(Echo("hello").ok());
  server_->Shutdown();
  server_->Wait();
  grpc::Status status = Echo("too late");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(ServerTest, ReflectionListsTheServices) {
  StartServer(Options());
  GenericStream reflection(channel_,
                           "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo");
  ASSERT_TRUE(reflection.started());
  // ServerReflectionRequest{list_services: ""}
  ASSERT_TRUE(reflection.Send(StringField(7, ""), /*last=*/true));
  std::optional<std::string> reply = reflection.Receive();
  ASSERT_TRUE(reply.has_value());

  std::vector<std::string> names;
  UnknownFieldSet response;
  ASSERT_TRUE(response.ParseFromString(*reply));
  for (int i = 0; i < response.field_count(); ++i) {
    if (response.field(i).number() != 6) continue;  // list_services_response
    UnknownFieldSet list;
    ASSERT_TRUE(list.ParseFromString(response.field(i).length_delimited()));
    for (int j = 0; j < list.field_count(); ++j) {
      UnknownFieldSet service;
      ASSERT_TRUE(service.ParseFromString(list.field(j).length_delimited()));
      names.push_back(service.field(0).length_delimited());
    }
  }
  EXPECT_THAT(names, ::testing::IsSupersetOf(
                         {std::string(kEchoService), std::string("grpc.health.v1.Health")}));
}

double SampleOf(prometheus::Registry& registry, const std::string& family,
                const std::map<std::string, std::string>& labels, bool histogram_count) {
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name != family) continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      std::map<std::string, std::string> have;
      for (const prometheus::ClientMetric::Label& l : m.label) have[l.name] = l.value;
      if (have != labels) continue;
      return histogram_count ? static_cast<double>(m.histogram.sample_count) : m.counter.value;
    }
  }
  return 0;
}

TEST_F(ServerTest, CountsCallsByMethodAndCodeAndServesThem) {
  ServerOptions options = Options();
  options.metrics_listen = "127.0.0.1:0";
  StartServer(options);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Echo("hi").ok());
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(
        Echo(absl::StrCat("fail:", static_cast<int>(grpc::StatusCode::NOT_FOUND))).error_code(),
        grpc::StatusCode::NOT_FOUND);
  }
  std::map<std::string, std::string> ok = {
      {"service", kEchoService}, {"method", "Echo"}, {"code", "OK"}};
  std::map<std::string, std::string> not_found = {
      {"service", kEchoService}, {"method", "Echo"}, {"code", "NOT_FOUND"}};
  EXPECT_EQ(SampleOf(metrics_.registry(), "gridloop_rpc_total", ok, false), 3);
  EXPECT_EQ(SampleOf(metrics_.registry(), "gridloop_rpc_total", not_found, false), 2);
  EXPECT_EQ(SampleOf(metrics_.registry(), "gridloop_rpc_duration_seconds", ok, true), 3);

  // Method names a client makes up do not become series of their own.
  grpc::GenericStub generic(channel_);
  grpc::ClientContext ctx;
  grpc::ByteBuffer request = FromBytes("");
  grpc::ByteBuffer response;
  grpc::Status unknown_status;
  absl::Notification unknown_done;
  generic.UnaryCall(&ctx, "/made.Up/Method", grpc::StubOptions(), &request, &response,
                    [&](grpc::Status s) {
                      unknown_status = std::move(s);
                      unknown_done.Notify();
                    });
  unknown_done.WaitForNotification();
  EXPECT_EQ(unknown_status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  std::map<std::string, std::string> other = {
      {"service", "other"}, {"method", "other"}, {"code", "UNIMPLEMENTED"}};
  EXPECT_EQ(SampleOf(metrics_.registry(), "gridloop_rpc_total", other, false), 1);

  metrics_.outbox_lag().Set(7);
  metrics_.ObserveConsumer("dispatch", 3, 0);
  ASSERT_NE(metrics_.exposed_port(), 0);
  std::string page = gridloop::testing::HttpGet(metrics_.exposed_port(), "/metrics");
  EXPECT_TRUE(
      absl::StrContains(page, absl::StrCat(R"(gridloop_rpc_total{code="NOT_FOUND",)",
                                           R"(method="Echo",service=")", kEchoService, R"("} 2)")))
      << page;
  EXPECT_TRUE(absl::StrContains(page, "gridloop_outbox_lag 7")) << page;
  EXPECT_TRUE(absl::StrContains(page, R"(gridloop_consumer_lag{consumer="dispatch"} 3)")) << page;
}

TEST_F(ServerTest, ConsumerStateBecomesLagGaugeAndDeadLetterCounter) {
  const std::map<std::string, std::string> dispatch = {{"consumer", "dispatch"}};
  const auto dead_lettered = [&] {
    return SampleOf(metrics_.registry(), "gridloop_consumer_dead_lettered_total", dispatch, false);
  };
  metrics_.ObserveConsumer("dispatch", 12, 0);
  EXPECT_EQ(dead_lettered(), 0);
  metrics_.ObserveConsumer("dispatch", 4, 3);
  metrics_.ObserveConsumer("dispatch", 2, 3);  // the same count again adds nothing
  EXPECT_EQ(dead_lettered(), 3);
  // A consumer created anew counts from zero: the counter goes on from where it stood.
  metrics_.ObserveConsumer("dispatch", 0, 1);
  EXPECT_EQ(dead_lettered(), 4);
  metrics_.ObserveConsumer("assessment", 0, 2);
  EXPECT_EQ(dead_lettered(), 4);
  EXPECT_EQ(SampleOf(metrics_.registry(), "gridloop_consumer_dead_lettered_total",
                     {{"consumer", "assessment"}}, false),
            2);

  ASSERT_TRUE(metrics_.Expose("127.0.0.1:0").ok());
  std::string page = gridloop::testing::HttpGet(metrics_.exposed_port(), "/metrics");
  EXPECT_TRUE(absl::StrContains(page, R"(gridloop_consumer_lag{consumer="dispatch"} 0)")) << page;
  EXPECT_TRUE(
      absl::StrContains(page, R"(gridloop_consumer_dead_lettered_total{consumer="dispatch"} 4)"))
      << page;
}

TEST_F(ServerTest, IdentityHeadersReachTheHandler) {
  StartServer(Options());
  std::string who;
  ASSERT_TRUE(Echo("whoami", &who,
                   {{"x-gridloop-person", "p-9"},
                    {"x-gridloop-role", "supervisor"},
                    {"x-gridloop-region", "3301"}})
                  .ok());
  EXPECT_EQ(who, "p-9|supervisor|3301");
  ASSERT_TRUE(Echo("whoami", &who).ok());
  EXPECT_EQ(who, "|anonymous|");
}

TEST_F(ServerTest, RejectsAMessageOverTheReceiveLimit) {
  ServerOptions options = Options();
  options.max_receive_message_bytes = 1024;
  StartServer(options);
  EXPECT_TRUE(Echo(std::string(900, 'x')).ok());
  grpc::Status status = Echo(std::string(2048, 'x'));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
}

TEST_F(ServerTest, StartFailsOnAnAddressItCannotBind) {
  ServerOptions options = Options();
  options.listen = "192.0.2.1:0";  // TEST-NET-1: not an address of this host
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(options, {&service_}, nullptr);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kUnavailable) << server.status();
}

TEST_F(ServerTest, StartFailsOnAPortAnotherServerServes) {
  StartServer(Options());
  ServerOptions options = Options();
  options.listen = absl::StrCat("127.0.0.1:", server_->port());
  absl::StatusOr<std::unique_ptr<Server>> second = Server::Start(options, {&service_}, nullptr);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
  // The first server still answers every call.
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(Echo("still here").ok());
}

}  // namespace
}  // namespace gridloop::server
