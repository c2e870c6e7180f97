// gridctl: the operator's command line for a running GridLoop stack.
//
//   gridctl demo [--dispatched]       one incident through its whole lifecycle, with events
//                                     (--dispatched: the dispatch service assigns it)
//   gridctl categories                the category taxonomy
//   gridctl report --category C --title T --region R (--resident ID | --name N --phone P)
//   gridctl get --id ID               an incident with its history
//   gridctl history ID                an incident's history, one line per change
//   gridctl list [--region P] [--status reported,...] [--page-size N]
//   gridctl health                    health of incidents (and residents, dispatch,
//                                     assessment) services
//   gridctl day [--street 3301.06.003] [--at 30.2675,120.0828] [--run-id ID]
//               [--step-timeout 60s] [--scorecard=false]
//                                     a scripted day of a dozen incidents around the loop
//                                     (tools/gridctl/day.h); exit 0 when each ended as
//                                     scripted
//   gridctl assessment scorecard --kind region|grid_worker|volunteer|department --id X
//                      [--period day|week|month|quarter|year] [--at RFC3339]
//   gridctl assessment rankings --kind K --within REGION [--depth N] [--bottom] [--limit N]
//   gridctl assessment trend --kind K --id X [--periods N]
//   gridctl assessment rebuild [--formula vN] [--id ID]
//                                     recompute every figure from the topics and switch
//                                     over (docs/assessment.md)
//   gridctl import (--dir D | --regions F --households F --residents F --staff F)
//                  [--rejects F] [--batch 500] [--parallel 4] [--scope R]
//                                     load CSV files into the residents service
//                                     (docs/import.md)
//
// Common settings: --incidents-addr / GRIDLOOP_INCIDENTS_ADDR (127.0.0.1:50051),
// --residents-addr / GRIDLOOP_RESIDENTS_ADDR (127.0.0.1:50052, import only),
// --kafka-brokers / GRIDLOOP_KAFKA_BROKERS (demo and day), --dispatch-addr /
// GRIDLOOP_DISPATCH_ADDR (127.0.0.1:50053), --assessment-addr / GRIDLOOP_ASSESSMENT_ADDR
// (127.0.0.1:50054), --as person:role (the caller; import always runs as an operator and
// takes only the person, "import" by default; day acts as each of its people in turn).
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock/proto_time.h"
#include "common/config/config.h"
#include "common/kafka/consumer.h"
#include "common/server/health_check.h"
#include "gridloop/v1/events.pb.h"
#include "gridloop/v1/incidents.grpc.pb.h"
#include "tools/gridctl/assessment_cmd.h"
#include "tools/gridctl/day.h"
#include "tools/gridctl/import/grpc_sender.h"
#include "tools/gridctl/import/importer.h"
#include "tools/gridctl/names.h"

namespace gridloop::gridctl {
namespace {

namespace v1 = ::gridloop::v1;

std::string Time(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", FromTimestamp(ts), absl::FixedTimeZone(8 * 3600));
}

class Cli {
 public:
  explicit Cli(const config::Settings& s) : settings_(s) {
    const std::string addr = s.Get("incidents_addr", "127.0.0.1:50051");
    channel_ = grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
    stub_ = v1::IncidentService::NewStub(channel_);
    std::vector<std::string> as = absl::StrSplit(s.Get("as", "hotline-01:operator"), ':');
    person_ = as.empty() ? "" : as[0];
    role_ = as.size() > 1 ? as[1] : "operator";
  }

  int Run(const std::string& command) {
    if (command == "categories") return Categories();
    if (command == "report") return Report();
    if (command == "get") return Get();
    if (command == "history") return History();
    if (command == "day") return Day();
    if (command == "list") return List();
    if (command == "health") return Health();
    if (command == "demo") return Demo();
    if (command == "import") return Import();
    std::cerr << "unknown command \"" << command << "\"\n";
    return 2;
  }

 private:
  std::unique_ptr<grpc::ClientContext> Context(const std::string& person, const std::string& role) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!person.empty()) ctx->AddMetadata("x-gridloop-person", person);
    if (!role.empty()) ctx->AddMetadata("x-gridloop-role", role);
    return ctx;
  }

  static int Fail(const grpc::Status& s) {
    std::cerr << "error: " << s.error_code() << " " << s.error_message() << "\n";
    return 1;
  }

  static void PrintIncident(const v1::Incident& inc) {
    std::printf("%s  %-11s v%lld  %-20s %s\n", inc.id().c_str(), StatusName(inc.status()).c_str(),
                static_cast<long long>(inc.version()), inc.category().c_str(), inc.title().c_str());
  }

  int Categories() {
    v1::ListCategoriesResponse resp;
    auto ctx = Context(person_, role_);
    grpc::Status s = stub_->ListCategories(ctx.get(), {}, &resp);
    if (!s.ok()) return Fail(s);
    std::printf("%-22s %-14s %-10s %-10s %s\n", "CODE", "NAME", "RESPOND", "RESOLVE", "HANDLED BY");
    for (const auto& c : resp.categories()) {
      std::printf("%-22s %-14s %-10s %-10s %s\n", c.code().c_str(), c.name().c_str(),
                  absl::FormatDuration(absl::Seconds(c.respond_within().seconds())).c_str(),
                  absl::FormatDuration(absl::Seconds(c.resolve_within().seconds())).c_str(),
                  KindName(c.handled_by()).c_str());
    }
    return 0;
  }

  int Report() {
    v1::ReportIncidentRequest req;
    req.set_request_id(
        settings_.Get("request_id", absl::StrCat("gridctl-", absl::ToUnixNanos(absl::Now()))));
    req.set_category(settings_.Get("category"));
    req.set_title(settings_.Get("title"));
    req.set_description(settings_.Get("description"));
    req.set_region_code(settings_.Get("region"));
    req.set_address(settings_.Get("address"));
    req.set_channel(v1::CHANNEL_HOTLINE);
    req.mutable_reporter()->set_resident_id(settings_.Get("resident"));
    req.mutable_reporter()->set_name(settings_.Get("name"));
    req.mutable_reporter()->set_phone(settings_.Get("phone"));
    v1::IncidentResponse resp;
    auto ctx = Context(person_, role_);
    grpc::Status s = stub_->ReportIncident(ctx.get(), req, &resp);
    if (!s.ok()) return Fail(s);
    PrintIncident(resp.incident());
    return 0;
  }

  int Get() {
    v1::GetIncidentRequest req;
    req.set_id(settings_.Get("id"));
    v1::Incident inc;
    auto ctx = Context(person_, role_);
    grpc::Status s = stub_->GetIncident(ctx.get(), req, &inc);
    if (!s.ok()) return Fail(s);
    PrintIncident(inc);
    std::printf(
        "  region %s  urgency %s  escalation %d  assignee %s %s\n", inc.region_code().c_str(),
        EnumWord(v1::Urgency_Name(inc.urgency()), "URGENCY_").c_str(), inc.escalation_level(),
        KindName(inc.assignee().kind()).c_str(), inc.assignee().id().c_str());
    std::printf("  respond by %s%s  resolve by %s%s\n", Time(inc.respond_by()).c_str(),
                inc.respond_overdue() ? " (overdue)" : "", Time(inc.resolve_by()).c_str(),
                inc.resolve_overdue() ? " (overdue)" : "");
    for (const auto& h : inc.history()) {
      std::printf("  v%-3lld %s  %-10s %-11s -> %-11s by %s (%s) %s\n",
                  static_cast<long long>(h.version()), Time(h.at()).c_str(),
                  EventName(h.type()).c_str(), StatusName(h.from_status()).c_str(),
                  StatusName(h.to_status()).c_str(), h.actor_id().c_str(), h.actor_role().c_str(),
                  h.note().c_str());
    }
    return 0;
  }

  int List() {
    v1::ListIncidentsRequest req;
    req.set_region_prefix(settings_.Get("region"));
    for (absl::string_view st : absl::StrSplit(settings_.Get("status"), ',', absl::SkipEmpty())) {
      v1::IncidentStatus value;
      std::string name = absl::StrCat("INCIDENT_STATUS_", std::string(st));
      absl::AsciiStrToUpper(&name);
      if (!v1::IncidentStatus_Parse(name, &value)) {
        std::cerr << "unknown status " << st << "\n";
        return 2;
      }
      req.add_statuses(value);
    }
    auto size = settings_.GetInt("page_size", 20);
    req.set_page_size(size.ok() ? static_cast<int>(*size) : 20);
    req.set_page_token(settings_.Get("page_token"));
    v1::ListIncidentsResponse resp;
    auto ctx = Context(person_, role_);
    grpc::Status s = stub_->ListIncidents(ctx.get(), req, &resp);
    if (!s.ok()) return Fail(s);
    for (const auto& inc : resp.incidents()) PrintIncident(inc);
    if (!resp.next_page_token().empty()) {
      std::printf("next page: --page-token %s\n", resp.next_page_token().c_str());
    }
    return 0;
  }

  // Incidents, and residents and dispatch too when their addresses are known.
  int Health() {
    int rc = HealthOf(channel_, "gridloop.v1.IncidentService");
    for (auto [setting, service] :
         {std::pair{"residents_addr", "gridloop.v1.ResidentService"},
          std::pair{"dispatch_addr", "gridloop.v1.DispatchService"},
          std::pair{"assessment_addr", "gridloop.v1.AssessmentService"}}) {
      const std::string addr = settings_.Get(setting, "");
      if (addr.empty()) continue;
      rc |= HealthOf(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()), service);
    }
    return rc;
  }

  // Every accepted change of one incident, oldest first, one line each.
  int History() {
    v1::GetIncidentRequest req;
    req.set_id(settings_.Get("id"));
    if (req.id().empty()) {
      std::cerr << "usage: gridctl history INCIDENT_ID\n";
      return 2;
    }
    v1::Incident inc;
    auto ctx = Context(person_, role_);
    grpc::Status s = stub_->GetIncident(ctx.get(), req, &inc);
    if (!s.ok()) return Fail(s);
    std::printf("%s  %s  %s  (%s, v%lld, grid %s)\n", inc.id().c_str(), inc.category().c_str(),
                inc.title().c_str(), StatusName(inc.status()).c_str(),
                static_cast<long long>(inc.version()), inc.region_code().c_str());
    for (const v1::HistoryEntry& h : inc.history()) {
      std::string what;
      switch (h.type()) {
        case v1::INCIDENT_EVENT_TYPE_ASSIGNED:
          what = absl::StrCat("to ", KindName(h.assignee().kind()), " ", h.assignee().id());
          break;
        case v1::INCIDENT_EVENT_TYPE_OVERDUE:
          what = absl::StrCat(h.note(), " deadline missed");
          break;
        case v1::INCIDENT_EVENT_TYPE_GRID_LOCATED:
          what = absl::StrCat("grid ", h.note());
          break;
        default:
          what = h.note();
      }
      if (h.type() == v1::INCIDENT_EVENT_TYPE_ASSIGNED && !h.note().empty()) {
        absl::StrAppend(&what, " (", h.note(), ")");
      }
      const std::string from =
          h.from_status() == v1::INCIDENT_STATUS_UNSPECIFIED ? "-" : StatusName(h.from_status());
      std::printf("  %s  v%-3lld %-13s %-11s -> %-11s by %s (%s)%s%s\n", Time(h.at()).c_str(),
                  static_cast<long long>(h.version()), EventName(h.type()).c_str(), from.c_str(),
                  StatusName(h.to_status()).c_str(), h.actor_id().c_str(), h.actor_role().c_str(),
                  what.empty() ? "" : "  ", what.c_str());
    }
    return 0;
  }

  static int HealthOf(const std::shared_ptr<grpc::Channel>& channel, const std::string& service);
  int Demo();
  int Day();
  int Import();

  const config::Settings& settings_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::IncidentService::Stub> stub_;
  std::string person_;
  std::string role_;
};

int Cli::HealthOf(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  absl::StatusOr<server::ServingStatus> health =
      server::CheckHealth(channel, service, absl::Seconds(3));
  if (!health.ok()) {
    std::printf("%-30s DOWN (%s)\n", service.c_str(),
                std::string(health.status().message()).c_str());
    return 1;
  }
  std::printf("%-30s %s\n", service.c_str(),
              std::string(server::ServingStatusName(*health)).c_str());
  return *health == server::ServingStatus::kServing ? 0 : 1;
}

// One incident through report -> assign -> accept -> resolve -> feedback, printing each
// call and each event as it arrives on the topic.
int Cli::Demo() {
  const std::string brokers = settings_.Get("kafka_brokers", "127.0.0.1:9092");
  const std::string topic = settings_.Get("incident_topic", "gridloop.incident.events.v1");

  absl::Mutex mu;
  std::string watched;  // the demo incident's id, once known
  std::vector<v1::IncidentEvent> seen;
  kafka::ConsumerOptions copts;
  copts.brokers = brokers;
  copts.group_id = absl::StrCat("gridctl-demo-", absl::ToUnixNanos(absl::Now()));
  copts.topics = {topic};
  auto consumer = kafka::Consumer::Create(copts, [&](const kafka::Record& r) -> absl::Status {
    v1::IncidentEvent e;
    if (!e.ParseFromString(r.value)) return absl::OkStatus();
    absl::MutexLock lock(&mu);
    if (r.key != watched) return absl::OkStatus();
    std::printf("    event  v%lld %-9s  incident %s is %s  (partition %d, offset %lld)\n",
                static_cast<long long>(e.version()), EventName(e.type()).c_str(),
                e.incident_id().c_str(), StatusName(e.incident().status()).c_str(), r.partition,
                static_cast<long long>(r.offset));
    std::fflush(stdout);
    seen.push_back(std::move(e));
    return absl::OkStatus();
  });
  if (!consumer.ok()) {
    std::cerr << "cannot read events: " << consumer.status() << "\n";
    return 1;
  }

  // Takes the response, not its incident: the call must have returned before it is read.
  auto step = [&](const char* who, const char* what, const grpc::Status& s,
                  const v1::IncidentResponse& r) {
    const v1::Incident& inc = r.incident();
    if (!s.ok()) {
      std::printf("  %-28s %-22s FAILED: %s\n", who, what, s.error_message().c_str());
      return false;
    }
    std::printf("  %-28s %-22s -> %s (v%lld)\n", who, what, StatusName(inc.status()).c_str(),
                static_cast<long long>(inc.version()));
    std::fflush(stdout);
    return true;
  };

  const std::string run = absl::StrCat(absl::ToUnixNanos(absl::Now()));
  std::printf("GridLoop demo: one incident around the loop\n");
  v1::ReportIncidentRequest report;
  report.set_request_id(absl::StrCat("demo-report-", run));
  report.set_category("roof_leak");
  report.set_title("3号楼顶楼漏水");
  report.set_description("昨夜大雨后 3 号楼 6 楼天花板渗水，住户放了水桶接水。");
  report.set_channel(v1::CHANNEL_APP);
  report.mutable_location()->set_latitude(30.2741);
  report.mutable_location()->set_longitude(120.1551);
  report.set_address("西湖区文新街道 嘉绿苑社区 3 号楼 2 单元 601");
  // --by_location=lat,lng: no region code; the incidents service asks residents for the
  // grid (as `./tools/dev run` does against its seed data).
  const std::string by_location = settings_.Get("by_location", "");
  if (by_location.empty()) {
    report.set_region_code("330106.003.012.g07");
    report.mutable_reporter()->set_resident_id("res-601-wang");
  } else {
    std::vector<std::string> ll = absl::StrSplit(by_location, ',');
    double lat = 0;
    double lng = 0;
    if (ll.size() != 2 || !absl::SimpleAtod(ll[0], &lat) || !absl::SimpleAtod(ll[1], &lng)) {
      std::cerr << "--by_location: expected lat,lng\n";
      return 2;
    }
    report.mutable_location()->set_latitude(lat);
    report.mutable_location()->set_longitude(lng);
    report.mutable_reporter()->set_name("王女士");
    report.mutable_reporter()->set_phone("13800138000");
  }
  v1::IncidentResponse resp;
  {
    // By location: a call to the hotline (民情热线), taken by operator hotline-01.
    const bool hotline = !by_location.empty();
    if (hotline) report.set_channel(v1::CHANNEL_HOTLINE);
    auto ctx = hotline ? Context("hotline-01", "operator") : Context("res-601-wang", "resident");
    if (!step(hotline ? "operator hotline-01" : "resident res-601-wang", "ReportIncident",
              stub_->ReportIncident(ctx.get(), report, &resp), resp)) {
      return 1;
    }
  }
  const std::string id = resp.incident().id();
  std::printf("    grid %s%s\n", resp.incident().region_code().c_str(),
              resp.incident().grid_pending() ? "(to be located: residents did not answer)"
              : by_location.empty()          ? ""
                                             : " (located by the residents service)");
  std::printf("    incident %s  respond by %s  resolve by %s (UTC+8)\n", id.c_str(),
              Time(resp.incident().respond_by()).c_str(),
              Time(resp.incident().resolve_by()).c_str());
  {
    absl::MutexLock lock(&mu);
    watched = id;
  }
  (*consumer)->Start();

  // With the dispatch service running (--dispatched), nobody assigns by hand: dispatch
  // reads the report from Kafka and gives the order (派单) to the grid's worker on duty.
  std::string assignee = "gw-007-li";
  if (settings_.Get("dispatched", "false") == "true") {
    v1::GetIncidentRequest get;
    get.set_id(id);
    v1::Incident now;
    const absl::Time until = absl::Now() + absl::Seconds(30);
    while (absl::Now() < until) {
      auto ctx = Context("hotline-01", "operator");
      if (stub_->GetIncident(ctx.get(), get, &now).ok() &&
          now.status() == v1::INCIDENT_STATUS_ASSIGNED) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(50));  // polling a remote service
    }
    if (now.status() != v1::INCIDENT_STATUS_ASSIGNED) {
      std::printf("  dispatch did not assign the incident within 30 s\n");
      return 1;
    }
    assignee = now.assignee().id();
    std::printf("  %-28s %-22s -> assigned to %s (v%lld)\n", "dispatch service", "派单 (automatic)",
                assignee.c_str(), static_cast<long long>(now.version()));
    std::fflush(stdout);
  } else {
    v1::AssignIncidentRequest assign;
    assign.set_request_id(absl::StrCat("demo-assign-", run));
    assign.set_incident_id(id);
    assign.mutable_assignee()->set_kind(v1::ASSIGNEE_KIND_GRID_WORKER);
    assign.mutable_assignee()->set_id(assignee);
    assign.set_expected_version(resp.incident().version());
    assign.set_note("派单：嘉绿苑第七网格 网格员李");
    auto ctx = Context("hotline-01", "operator");
    if (!step("operator hotline-01", "AssignIncident",
              stub_->AssignIncident(ctx.get(), assign, &resp), resp)) {
      return 1;
    }
  }
  v1::AcceptAssignmentRequest accept;
  accept.set_request_id(absl::StrCat("demo-accept-", run));
  accept.set_incident_id(id);
  accept.set_assignee_id(assignee);
  {
    auto ctx = Context(assignee, "grid_worker");
    const std::string who = "grid worker " + assignee;
    if (!step(who.c_str(), "AcceptAssignment", stub_->AcceptAssignment(ctx.get(), accept, &resp),
              resp)) {
      return 1;
    }
  }
  v1::ResolveIncidentRequest resolve;
  resolve.set_request_id(absl::StrCat("demo-resolve-", run));
  resolve.set_incident_id(id);
  resolve.set_resolution("联系物业修补屋面防水层，已复查不再渗水。");
  {
    auto ctx = Context(assignee, "grid_worker");
    const std::string who = "grid worker " + assignee;
    if (!step(who.c_str(), "ResolveIncident", stub_->ResolveIncident(ctx.get(), resolve, &resp),
              resp)) {
      return 1;
    }
  }
  v1::SubmitFeedbackRequest feedback;
  feedback.set_request_id(absl::StrCat("demo-feedback-", run));
  feedback.set_incident_id(id);
  feedback.set_satisfaction(v1::SATISFACTION_SATISFIED);
  feedback.set_comment("修得很快，谢谢网格员！");
  {
    // A reporter known only by name and phone is called back by the hotline (回访), which
    // records the answer; a registered resident answers in the app.
    const bool callback = !by_location.empty();
    auto ctx = callback ? Context("hotline-01", "operator") : Context("res-601-wang", "resident");
    if (!step(callback ? "operator hotline-01 (回访)" : "resident res-601-wang",
              "SubmitFeedback (satisfied)", stub_->SubmitFeedback(ctx.get(), feedback, &resp),
              resp)) {
      return 1;
    }
  }

  // Wait for all five events (the relay publishes within milliseconds; joining the
  // consumer group takes a few seconds).
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  bool complete = false;
  {
    absl::MutexLock lock(&mu);
    auto five = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return seen.size() >= 5; };
    complete = mu.AwaitWithDeadline(absl::Condition(&five), deadline);
  }
  (*consumer)->Stop();
  if (!complete) {
    std::printf("  not every event arrived within 30 s\n");
    return 1;
  }
  std::printf("closed the loop: reported -> assigned -> in progress -> resolved -> closed\n");
  std::printf("try: gridctl get --id %s\n", id.c_str());
  return 0;
}

// The street's scorecard as the day left it, one line per figure.
void PrintDayScorecard(const v1::Scorecard& c) {
  std::printf("\nthe street's scorecard: region %s, day %s (formula %s)\n", c.subject_id().c_str(),
              c.period_key().c_str(), c.formula_version().c_str());
  std::printf("  %-20s %lld (cancelled %lld)\n", "received", static_cast<long long>(c.received()),
              static_cast<long long>(c.cancelled()));
  for (const v1::Rate& r : c.rates()) {
    if (r.denominator() == 0) {
      std::printf("  %-20s no data\n", r.name().c_str());
      continue;
    }
    std::printf("  %-20s %g / %lld = %.1f%%\n", r.name().c_str(), r.numerator(),
                static_cast<long long>(r.denominator()), 100 * r.value());
  }
  if (c.insufficient_sample()) {
    std::printf("  score %.1f, not rated (sample %lld)\n", c.score(),
                static_cast<long long>(c.sample()));
  } else {
    std::printf("  score %.1f, %d stars\n", c.score(), c.stars());
  }
}

// The scripted day against the stack the settings name. Exit code 0 when every incident
// ended as the script says, 1 when one did not or the day could not be played, 2 on bad
// settings.
int Cli::Day() {
  DayOptions o;
  o.incidents_addr = settings_.Get("incidents_addr", "127.0.0.1:50051");
  o.dispatch_addr = settings_.Get("dispatch_addr", "127.0.0.1:50053");
  o.assessment_addr = settings_.Get("assessment_addr", "127.0.0.1:50054");
  o.residents_addr = settings_.Get("residents_addr", "127.0.0.1:50052");
  o.kafka_brokers = settings_.Get("kafka_brokers", "127.0.0.1:9092");
  o.incident_topic = settings_.Get("incident_topic", o.incident_topic);
  o.dispatch_topic = settings_.Get("dispatch_topic", o.dispatch_topic);
  // The seed street of `./tools/dev run` and a spot in its first grid.
  o.street = settings_.Get("street", "3301.06.003");
  std::vector<std::string> at = absl::StrSplit(settings_.Get("at", "30.2675,120.0828"), ',');
  if (at.size() != 2 || !absl::SimpleAtod(at[0], &o.latitude) ||
      !absl::SimpleAtod(at[1], &o.longitude)) {
    std::cerr << "--at: expected lat,lng\n";
    return 2;
  }
  o.run_id = settings_.Get("run_id", "");
  absl::StatusOr<absl::Duration> step = settings_.GetDuration("step_timeout", o.step_timeout);
  absl::StatusOr<bool> scorecard = settings_.GetBool("scorecard", true);
  if (!step.ok() || !scorecard.ok()) {
    std::cerr << (step.ok() ? scorecard.status() : step.status()).message() << "\n";
    return 2;
  }
  o.step_timeout = *step;
  o.out = &std::cout;
  absl::StatusOr<DayOutcome> day = PlayDay(o);
  std::cout.flush();
  if (!day.ok()) {
    std::cerr << "day: " << day.status() << "\n";
    return absl::IsInvalidArgument(day.status()) ? 2 : 1;
  }
  if (*scorecard) PrintDayScorecard(day->street_day);
  int unexpected = 0;
  for (const DayIncident& d : day->incidents) unexpected += d.as_expected ? 0 : 1;
  if (unexpected > 0) {
    std::fprintf(stderr, "day: %d incident(s) did not end as scripted\n", unexpected);
    return 1;
  }
  std::fflush(stdout);
  return 0;
}

// Import progress on stderr: a bar redrawn in place on a terminal, a line every few
// seconds otherwise (a log file would fill with redraws).
class ImportProgressPrinter {
 public:
  explicit ImportProgressPrinter(bool terminal) : terminal_(terminal) {}

  void Update(const ImportProgress& p) {
    const absl::Time now = absl::Now();
    const bool last = p.rows_done >= p.rows_total;
    if (now - shown_ < (terminal_ ? absl::Milliseconds(100) : absl::Seconds(5)) && !last) return;
    shown_ = now;
    const double seconds = absl::ToDoubleSeconds(now - start_);
    const double rate = seconds > 0 ? static_cast<double>(p.rows_done) / seconds : 0;
    const double fraction =
        p.rows_total > 0 ? static_cast<double>(p.rows_done) / static_cast<double>(p.rows_total)
                         : 1.0;
    const std::string file = std::filesystem::path(std::string(p.path)).filename().string();
    if (terminal_) {
      constexpr int kWidth = 30;
      const int filled = std::clamp(static_cast<int>(fraction * kWidth), 0, kWidth);
      std::fprintf(stderr, "\r[%s%s] %lld/%lld rows  %.0f rows/s  %s\x1b[K",
                   std::string(filled, '#').c_str(), std::string(kWidth - filled, ' ').c_str(),
                   static_cast<long long>(p.rows_done), static_cast<long long>(p.rows_total), rate,
                   file.c_str());
      drawn_ = true;
    } else {
      std::fprintf(stderr, "import: %lld/%lld rows (%.0f%%), %.0f rows/s, %s\n",
                   static_cast<long long>(p.rows_done), static_cast<long long>(p.rows_total),
                   fraction * 100, rate, file.c_str());
    }
    std::fflush(stderr);
  }

  void Finish() {
    if (drawn_) std::fputc('\n', stderr);
    drawn_ = false;
  }

 private:
  const bool terminal_;
  const absl::Time start_ = absl::Now();
  absl::Time shown_ = absl::InfinitePast();
  bool drawn_ = false;
};

// Loads CSV files through ResidentService.ImportBatch (docs/import.md). Exit code 0 when
// every row went in, 1 when some were rejected, 2 on bad settings or files, or when the
// service could not be reached at all.
int Cli::Import() {
  const std::string dir = settings_.Get("dir");
  std::vector<ImportFile> files;
  for (FileKind kind : kFileKinds) {
    const std::string path = settings_.Get(FileKindName(kind));
    if (!path.empty()) files.push_back({kind, path});
  }
  if (!dir.empty() && !files.empty()) {
    std::cerr << "import: give --dir or the file flags (--regions, --households, --residents, "
                 "--staff), not both\n";
    return 2;
  }
  if (!dir.empty()) {
    for (FileKind kind : kFileKinds) {
      std::filesystem::path path =
          std::filesystem::path(dir) / absl::StrCat(FileKindName(kind), ".csv");
      std::error_code ec;
      if (std::filesystem::exists(path, ec)) files.push_back({kind, path.string()});
    }
    if (files.empty()) {
      std::cerr << "import: no regions.csv, households.csv, residents.csv or staff.csv in " << dir
                << "\n";
      return 2;
    }
  }
  if (files.empty()) {
    std::cerr << "usage: gridctl import (--dir=DIR | --regions=F --households=F --residents=F "
                 "--staff=F) [--rejects=FILE] [--batch=500] [--parallel=4] [--scope=REGION] "
                 "[--as=PERSON]\n";
    return 2;
  }
  absl::StatusOr<int64_t> batch = settings_.GetInt("batch", 500);
  if (!batch.ok() || *batch < 1 || *batch > 100000) {
    std::cerr << "import: --batch must be a whole number from 1 to 100000\n";
    return 2;
  }
  const std::string rejects_path = settings_.Get(
      "rejects", (std::filesystem::path(dir.empty() ? "." : dir) / "rejects.txt").string());
  std::ofstream rejects(rejects_path, std::ios::trunc);
  if (!rejects) {
    std::cerr << "import: cannot write " << rejects_path << "\n";
    return 2;
  }

  ImportCaller caller;
  const std::string as = settings_.Get("as");
  if (std::string person = as.substr(0, as.find(':')); !person.empty()) {
    caller.person = std::move(person);
  }
  caller.region_scope = settings_.Get("scope");
  const std::string addr = settings_.Get("residents_addr", "127.0.0.1:50052");
  auto channel = grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());

  ImportProgressPrinter printer(isatty(STDERR_FILENO) != 0);
  ImporterOptions options;
  options.batch_size = static_cast<int>(*batch);
  absl::StatusOr<int64_t> parallel = settings_.GetInt("parallel", 4);
  if (!parallel.ok() || *parallel < 1 || *parallel > 64) {
    std::cerr << "import: --parallel must be a whole number from 1 to 64\n";
    return 2;
  }
  options.parallel = static_cast<int>(*parallel);
  options.progress = [&](const ImportProgress& p) { printer.Update(p); };
  Importer importer(MakeGrpcBatchSender(channel, caller, absl::Seconds(30)), std::move(options));
  absl::StatusOr<ImportSummary> summary = importer.Run(files, rejects);
  printer.Finish();
  rejects.close();
  if (!summary.ok()) {
    std::cerr << "import: " << summary.status().message() << " (" << addr << ")\n";
    return 2;
  }
  if (!rejects) {
    std::cerr << "import: cannot write " << rejects_path << "\n";
    return 2;
  }

  size_t width = 5;
  for (const FileSummary& f : summary->files) width = std::max(width, f.file.path.size());
  auto row = [&](const std::string& name, const ImportCounts& c) {
    std::printf("%-*s %9lld %9lld %9lld %9lld\n", static_cast<int>(width), name.c_str(),
                static_cast<long long>(c.created), static_cast<long long>(c.updated),
                static_cast<long long>(c.unchanged), static_cast<long long>(c.rejected));
  };
  std::printf("%-*s %9s %9s %9s %9s\n", static_cast<int>(width), "FILE", "CREATED", "UPDATED",
              "UNCHANGED", "REJECTED");
  for (const FileSummary& f : summary->files) row(f.file.path, f.counts);
  row("total", summary->total);
  if (summary->total.rejected > 0) {
    std::cerr << "import: " << summary->total.rejected << " rows rejected, listed in "
              << rejects_path << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace gridloop::gridctl

int main(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') {
    std::fprintf(stderr,
                 "usage: gridctl demo|day|categories|report|get|history|list|health|import|"
                 "assessment [--name=value ...]\n");
    return 2;
  }
  const std::string command = argv[1];
  // "assessment" takes a subcommand: the settings start after it.
  const bool nested = command == "assessment";
  if (nested && (argc < 3 || argv[2][0] == '-')) {
    std::fprintf(stderr, "usage: gridctl assessment rebuild|scorecard|rankings|trend\n");
    return 2;
  }
  std::map<std::string, std::string> env;
  for (const char* name :
       {"GRIDLOOP_INCIDENTS_ADDR", "GRIDLOOP_RESIDENTS_ADDR", "GRIDLOOP_KAFKA_BROKERS",
        "GRIDLOOP_AS", "GRIDLOOP_INCIDENT_TOPIC", "GRIDLOOP_ASSESSMENT_ADDR",
        "GRIDLOOP_CITY_REGION", "GRIDLOOP_DISPATCH_ADDR", "GRIDLOOP_DISPATCH_TOPIC"}) {
    if (const char* v = std::getenv(name)) env[name] = v;
  }
  std::vector<std::string> args(argv + (nested ? 2 : 1), argv + argc);
  // "history ID": the incident id comes first, the settings after it.
  if (command == "history" && args.size() >= 2 && args[1][0] != '-') {
    args[1] = "--id=" + args[1];
  }
  std::vector<const char*> arg_ptrs;
  arg_ptrs.reserve(args.size());
  for (const std::string& a : args) arg_ptrs.push_back(a.c_str());
  absl::StatusOr<gridloop::config::Settings> settings =
      gridloop::config::Settings::Parse(static_cast<int>(arg_ptrs.size()), arg_ptrs.data(), env);
  if (!settings.ok()) {
    std::fprintf(stderr, "%s\n", settings.status().ToString().c_str());
    return 2;
  }
  if (nested) return gridloop::gridctl::RunAssessment(argv[2], *settings);
  gridloop::gridctl::Cli cli(*settings);
  return cli.Run(command);
}
