#include "tools/gridctl/day.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/clock/proto_time.h"
#include "common/kafka/consumer.h"
#include "common/status/grpc_status.h"
#include "common/status/status_macros.h"
#include "gridloop/v1/assessment.grpc.pb.h"
#include "gridloop/v1/dispatch.grpc.pb.h"
#include "gridloop/v1/events.pb.h"
#include "gridloop/v1/incidents.grpc.pb.h"
#include "gridloop/v1/residents.grpc.pb.h"
#include "tools/gridctl/names.h"

namespace gridloop::gridctl {
namespace {

namespace v1 = ::gridloop::v1;

// Who takes the calls: the hotline operator (who also makes the follow-up calls, 回访), the
// community's service desk (walk-ins, the mailbox, the liaison's notes) and the city
// platforms pushing their work orders down.
constexpr char kHotline[] = "hotline-01";
constexpr char kServiceDesk[] = "desk-01";
constexpr char kCityPlatform[] = "city-platform";
constexpr size_t kMaxRunIdChars = 40;
// Calls that may meet a service restarting or a full queue are tried this often.
constexpr int kCallAttempts = 4;
constexpr absl::Duration kCallDeadline = absl::Seconds(10);
// Events that happened this long before the day started are not the day's.
constexpr absl::Duration kClockSlack = absl::Seconds(5);
// Between two reports: the day's incidents come in one after another, not all at once.
constexpr absl::Duration kReportSpacing = absl::Milliseconds(250);

absl::TimeZone Local() { return absl::FixedTimeZone(8 * 3600); }
std::string ClockOf(absl::Time t) { return absl::FormatTime("%H:%M:%S", t, Local()); }
std::string DayOf(absl::Time t) { return absl::FormatTime("%Y-%m-%d", t, Local()); }

std::string LevelName(v1::EscalationLevel l) {
  return EnumWord(v1::EscalationLevel_Name(l), "ESCALATION_LEVEL_");
}
std::string ChannelName(v1::Channel c) {
  switch (c) {
    case v1::CHANNEL_HOTLINE:
      return "hotline 民情热线";
    case v1::CHANNEL_MAILBOX:
      return "mailbox 民情信箱";
    case v1::CHANNEL_WALK_IN:
      return "walk-in";
    case v1::CHANNEL_LIAISON:
      return "public-sentiment liaison 民情联络员";
    case v1::CHANNEL_PATROL:
      return "patrol 巡查";
    case v1::CHANNEL_CITY_PLATFORM:
      return "work order";
    default:
      return EnumWord(v1::Channel_Name(c), "CHANNEL_");
  }
}
// As the product shows a phone to anyone but staff and the reporter: 138****8000.
std::string MaskedPhone(absl::string_view phone) {
  if (phone.size() != 11) return "***";
  return absl::StrCat(phone.substr(0, 3), "****", phone.substr(7));
}
std::string SatisfactionName(v1::Satisfaction s) {
  std::string name = EnumWord(v1::Satisfaction_Name(s), "SATISFACTION_");
  absl::StrReplaceAll({{"_", " "}}, &name);
  return name;
}
std::string DispatchEventName(v1::DispatchEventType t) {
  return EnumWord(v1::DispatchEventType_Name(t), "DISPATCH_EVENT_TYPE_");
}

bool Transient(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ||
         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
         s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
}

bool Within(absl::string_view code, absl::string_view region) {
  return code == region || (absl::StartsWith(code, region) && code.size() > region.size() &&
                            code[region.size()] == '.');
}

// One resolution and what the resident says about it.
struct Round {
  const char* resolution;
  v1::Satisfaction satisfaction;
  const char* comment;
};

// One incident of the day (the table at the top of day.h).
struct Script {
  const char* category;
  const char* title;
  const char* description;
  v1::Channel channel;
  // The caller, unless a grid worker on patrol reports it: 回访 calls this number back.
  const char* reporter_name;
  const char* reporter_phone;
  const char* place;       // where in the grid
  const char* work_order;  // the city platform's prefix of its work-order number, if any
  std::vector<Round> rounds;
  bool named_volunteer;  // the reporter asks for the day's volunteer (点名)
  bool unanswered;       // its first assignee never accepts: the day's overdue incident
};

const std::vector<Script>& Scripts() {
  using v1::SATISFACTION_BASICALLY_SATISFIED;
  using v1::SATISFACTION_DISSATISFIED;
  using v1::SATISFACTION_SATISFIED;
  static const auto* const scripts = new std::vector<Script>{
      {"roof_leak",
       "3号楼顶楼漏水",
       "昨夜大雨后顶楼天花板渗水，住户用水桶接水。",
       v1::CHANNEL_HOTLINE,
       "王女士",
       "13800138000",
       "3幢2单元601",
       "",
       {{"联系物业修补屋面防水层，复查不再渗水。", SATISFACTION_SATISFIED,
         "修得很快，谢谢网格员！"}},
       false,
       false},
      {"street_light",
       "北门路灯不亮",
       "北门到公交站一段路灯连续三晚不亮，老人晚上出门不安全。",
       v1::CHANNEL_CITY_PLATFORM,
       "刘先生",
       "13912345678",
       "北门人行道",
       "12345",
       {{"城管维修班更换路灯镇流器，已恢复照明。", SATISFACTION_SATISFIED, "当天就亮了。"}},
       false,
       false},
      {"neighbour_dispute",
       "楼上装修渗水纠纷",
       "5楼装修导致4楼卫生间渗水，双方多次争吵。",
       v1::CHANNEL_WALK_IN,
       "陈先生",
       "13700001234",
       "5幢1单元",
       "",
       {{"网格员组织双方调解，装修方承担维修费用，签订调解协议。", SATISFACTION_BASICALLY_SATISFIED,
         "基本解决了，维修还要等几天。"}},
       false,
       false},
      {"noise",
       "夜间广场舞音响扰民",
       "每晚九点后广场舞音响声音很大，影响孩子学习。",
       v1::CHANNEL_HOTLINE,
       "赵女士",
       "13600002345",
       "中心广场",
       "",
       {},
       false,
       true},
      {"sanitation",
       "垃圾分类点满溢",
       "2号垃圾分类点垃圾满溢，周边有异味。",
       v1::CHANNEL_PATROL,
       "",
       "",
       "2号垃圾分类点",
       "",
       {{"通知保洁公司清运，并增加一次清运频次。", SATISFACTION_SATISFIED,
         "核查：已清运，周边干净。"}},
       false,
       false},
      {"illegal_construction",
       "一楼院内搭建彩钢棚",
       "1幢一楼住户在院内搭建彩钢棚，占用消防通道。",
       v1::CHANNEL_PATROL,
       "",
       "",
       "1幢南侧",
       "",
       {{"城管执法队责令自行拆除，已拆除完毕。", SATISFACTION_SATISFIED,
         "核查：已拆除，消防通道畅通。"}},
       false,
       false},
      {"property_management",
       "电梯停运物业拖延",
       "7幢电梯停运一周，物业一直说在等配件。",
       v1::CHANNEL_MAILBOX,
       "孙先生",
       "13500003456",
       "7幢",
       "",
       {{"督促物业联系维保单位，电梯临时恢复运行。", SATISFACTION_DISSATISFIED,
         "只是临时恢复，今天又停了。"},
        {"协调物业更换主板并通过检验，电梯恢复正常运行。", SATISFACTION_SATISFIED,
         "这次彻底修好了，谢谢。"}},
       false,
       false},
      {"elderly_help",
       "独居老人需要陪同就医",
       "8幢独居的李奶奶腿脚不便，需要有人陪同去社区医院复诊。",
       v1::CHANNEL_HOTLINE,
       "李女士",
       "13300004567",
       "8幢3单元102",
       "",
       {{"志愿者陪同李奶奶复诊取药，已安全送回家。", SATISFACTION_SATISFIED,
         "志愿者很耐心，谢谢！"}},
       true,
       false},
      {"disability_help",
       "无障碍坡道损坏",
       "6幢单元门口无障碍坡道破损，轮椅无法通行。",
       v1::CHANNEL_LIAISON,
       "周大爷",
       "13200005678",
       "6幢2单元门口",
       "",
       {{"修复坡道破损处并加装扶手。", SATISFACTION_SATISFIED, "轮椅能正常进出了。"}},
       false,
       false},
      {"safety_hazard",
       "楼道飞线充电",
       "3幢楼道有居民私拉电线给电动车充电，存在火灾隐患。",
       v1::CHANNEL_PATROL,
       "",
       "",
       "3幢1单元楼道",
       "",
       {{"劝导居民拆除私拉电线，引导到集中充电桩充电。", SATISFACTION_SATISFIED,
         "核查：楼道已清理，无飞线充电。"}},
       false,
       false},
      {"public_facility",
       "健身器材单杠松动",
       "小区健身角单杠松动，存在安全隐患。",
       v1::CHANNEL_CITY_PLATFORM,
       "吴先生",
       "13100006789",
       "健身角",
       "szcg",
       {{"更换单杠固定螺栓并做安全检查。", SATISFACTION_SATISFIED, "修好了。"}},
       false,
       false},
      {"other",
       "咨询老年优待证办理",
       "居民咨询老年人优待证的办理流程和材料。",
       v1::CHANNEL_HOTLINE,
       "郑先生",
       "15800007890",
       "",
       "",
       {{"网格员上门讲解办理流程并帮助预约。", SATISFACTION_SATISFIED, "讲得很清楚。"}},
       false,
       false},
  };
  return *scripts;
}

// One of the day's incidents as the day follows it.
struct Track {
  const Script* script = nullptr;
  int number = 0;          // 1.. in the order reported
  v1::Incident reported;   // as ReportIncident returned it: the first deadlines
  int64_t seen = 0;        // the highest version handled
  size_t rounds_done = 0;  // resolutions the resident has answered
  bool done = false;
  absl::Time waiting_since;
  std::string waiting_for;

  std::string Short() const {
    const std::string& id = reported.id();
    return id.size() > 6 ? id.substr(id.size() - 6) : id;
  }
};

// A record of either topic, parsed by the consumer's thread.
struct Arrival {
  bool dispatch = false;
  v1::IncidentEvent incident_event;
  v1::DispatchEvent dispatch_event;
};

// A person the day acts as.
struct Actor {
  std::string person;
  std::string role;
  std::string label;  // as printed: "grid worker staff-00005"
};

class Day {
 public:
  explicit Day(const DayOptions& options) : options_(options) {}

  absl::StatusOr<DayOutcome> Play() {
    RETURN_IF_ERROR(Validate());
    Connect();
    RETURN_IF_ERROR(CheckCategories());
    RETURN_IF_ERROR(FindGrid());
    RETURN_IF_ERROR(RegisterVolunteer());
    RETURN_IF_ERROR(StartWatching());
    Say("");
    Say(absl::StrFormat("%-8s  %-6s  %-20s  %s", "TIME", "ID", "CATEGORY", "WHAT"));
    absl::Status loop = RunLoop();
    consumer_->Stop();
    RETURN_IF_ERROR(loop);
    return Conclude();
  }

 private:
  absl::Status Validate() {
    const DayOptions& o = options_;
    for (auto [value, name] : {std::pair{&o.incidents_addr, "incidents_addr"},
                               {&o.dispatch_addr, "dispatch_addr"},
                               {&o.assessment_addr, "assessment_addr"},
                               {&o.residents_addr, "residents_addr"},
                               {&o.kafka_brokers, "kafka_brokers"},
                               {&o.incident_topic, "incident_topic"},
                               {&o.dispatch_topic, "dispatch_topic"},
                               {&o.street, "street"}}) {
      if (value->empty()) return absl::InvalidArgumentError(absl::StrCat(name, ": required"));
    }
    if (!(o.latitude >= -90 && o.latitude <= 90) || !(o.longitude >= -180 && o.longitude <= 180)) {
      return absl::InvalidArgumentError("latitude, longitude: not a point on the earth");
    }
    if (o.step_timeout <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError("step_timeout: must be positive");
    }
    const absl::Time now = absl::Now();
    run_id_ = o.run_id.empty()
                  ? absl::StrCat("day-", absl::FormatTime("%Y%m%d-%H%M%S", now, Local()), "-",
                                 absl::ToUnixMillis(now) % 1000)
                  : o.run_id;
    if (run_id_.size() > kMaxRunIdChars) {
      return absl::InvalidArgumentError(
          absl::StrCat("run_id: at most ", kMaxRunIdChars, " characters"));
    }
    for (char c : run_id_) {
      if (c <= 0x20 || c >= 0x7f) {
        return absl::InvalidArgumentError("run_id: printable ASCII without spaces only");
      }
    }
    since_ = now - kClockSlack;
    return absl::OkStatus();
  }

  void Connect() {
    auto channel = [](const std::string& addr) {
      return grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
    };
    incidents_ = v1::IncidentService::NewStub(channel(options_.incidents_addr));
    dispatch_ = v1::DispatchService::NewStub(channel(options_.dispatch_addr));
    assessment_ = v1::AssessmentService::NewStub(channel(options_.assessment_addr));
    residents_ = v1::ResidentService::NewStub(channel(options_.residents_addr));
  }

  // A call made as `person` in `role`, acting within the street.
  std::unique_ptr<grpc::ClientContext> As(const std::string& person,
                                          const std::string& role) const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(kCallDeadline));
    ctx->AddMetadata("x-gridloop-person", person);
    ctx->AddMetadata("x-gridloop-role", role);
    ctx->AddMetadata("x-gridloop-region", options_.street);
    return ctx;
  }

  // `call` with a fresh context each time, again while the service is unavailable. Every
  // mutating call carries a request_id, so a repeat returns the first result.
  static grpc::Status Retrying(const std::function<grpc::Status()>& call) {
    grpc::Status s;
    for (int attempt = 0; attempt < kCallAttempts; ++attempt) {
      s = call();
      if (!Transient(s) || attempt + 1 == kCallAttempts) break;
      absl::SleepFor(absl::Milliseconds(250) * (1 << attempt));  // backing off a peer
    }
    return s;
  }

  // ---- Printing

  void Say(absl::string_view line) {
    if (options_.out == nullptr) return;
    *options_.out << line << '\n';
    options_.out->flush();
  }

  void Line(absl::Time at, const Track& t, absl::string_view what) {
    Say(absl::StrFormat("%-8s  %-6s  %-20s  %s", ClockOf(at), t.Short(), t.script->category, what));
  }

  void Wait(Track& t, std::string what) {
    t.waiting_since = absl::Now();
    t.waiting_for = std::move(what);
  }

  std::string NameOf(const std::string& person) const {
    auto it = names_.find(person);
    return it == names_.end() ? person : absl::StrCat(person, " ", it->second);
  }

  // The assignee acting on their incident, with the role their headers carry.
  Actor AssigneeActor(const v1::Assignee& a) const {
    switch (a.kind()) {
      case v1::ASSIGNEE_KIND_VOLUNTEER:
        return {a.id(), "volunteer", absl::StrCat("volunteer ", NameOf(a.id()))};
      case v1::ASSIGNEE_KIND_DEPARTMENT:
        return {a.id(), "department", absl::StrCat("department ", a.id())};
      default: {
        auto it = staff_roles_.find(a.id());
        const std::string role = it == staff_roles_.end() ? "grid_worker" : it->second;
        std::string label = role == "grid_worker" ? "grid worker" : "leader";
        return {a.id(), role, absl::StrCat(label, " ", NameOf(a.id()))};
      }
    }
  }

  // Who gives the resident's word: the hotline calls a named reporter back (回访); a patrol
  // report is verified (核查) by the grid's leader.
  Actor FeedbackActor(const Script& s) const {
    if (s.channel != v1::CHANNEL_PATROL) {
      return {kHotline, "operator", absl::StrCat("operator ", kHotline, " 回访 follow-up call")};
    }
    return {verifier_.person, verifier_.role, absl::StrCat(verifier_.label, " 核查 verification")};
  }

  Actor ReportTaker(const Script& s) const {
    switch (s.channel) {
      case v1::CHANNEL_PATROL:
        return patroller_;
      case v1::CHANNEL_HOTLINE:
        return {kHotline, "operator", absl::StrCat("operator ", kHotline)};
      case v1::CHANNEL_CITY_PLATFORM:
        return {kCityPlatform, "operator", "the city platform"};
      default:
        return {kServiceDesk, "operator", absl::StrCat("service desk ", kServiceDesk)};
    }
  }

  // ---- Setting the stage

  // The day needs its own taxonomy: with the built-in one the overdue incident would take
  // hours to become overdue.
  absl::Status CheckCategories() {
    v1::ListCategoriesResponse resp;
    grpc::Status s = Retrying(
        [&] { return incidents_->ListCategories(As(kHotline, "operator").get(), {}, &resp); });
    if (!s.ok()) return Annotate(s, "incidents ListCategories");
    std::map<std::string, absl::Duration> respond_within;
    for (const v1::Category& c : resp.categories()) {
      respond_within[c.code()] = absl::Seconds(c.respond_within().seconds()) +
                                 absl::Nanoseconds(c.respond_within().nanos());
    }
    for (const Script& script : Scripts()) {
      auto it = respond_within.find(script.category);
      const bool missing = it == respond_within.end();
      if (missing || (script.unanswered && it->second * 2 > options_.step_timeout)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the incidents service ",
            missing ? absl::StrCat("has no category ", script.category)
                    : absl::StrCat("gives ", script.category, " ", absl::FormatDuration(it->second),
                                   " to be answered, more than half the step timeout of ",
                                   absl::FormatDuration(options_.step_timeout)),
            ": the day's overdue incident needs it to run with "
            "GRIDLOOP_CATEGORIES_FILE=tools/gridctl/day_categories.csv"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status FindGrid() {
    v1::LocateGridRequest locate;
    locate.mutable_location()->set_latitude(options_.latitude);
    locate.mutable_location()->set_longitude(options_.longitude);
    v1::LocateGridResponse located;
    grpc::Status s = Retrying(
        [&] { return residents_->LocateGrid(As(kHotline, "operator").get(), locate, &located); });
    if (s.error_code() == grpc::StatusCode::NOT_FOUND || (s.ok() && !located.has_region())) {
      return absl::FailedPreconditionError(absl::StrFormat("the spot %.6f,%.6f lies in no grid",
                                                           options_.latitude, options_.longitude));
    }
    if (!s.ok()) return Annotate(s, "residents LocateGrid");
    grid_ = located.region().code();
    grid_name_ = located.region().name();
    if (!Within(grid_, options_.street)) {
      return absl::FailedPreconditionError(
          absl::StrCat("the spot lies in grid ", grid_, ", outside street ", options_.street));
    }
    v1::GetResponsibleRequest who;
    who.set_region_code(grid_);
    v1::GetResponsibleResponse responsible;
    s = Retrying([&] {
      return residents_->GetResponsible(As(kHotline, "operator").get(), who, &responsible);
    });
    if (!s.ok()) return Annotate(s, "residents GetResponsible");
    for (const v1::StaffAssignment& w : responsible.grid_workers()) {
      if (!w.on_duty()) continue;
      staff_roles_[w.person_id()] = "grid_worker";
      names_[w.person_id()] = w.name();
      if (patroller_.person.empty()) {
        patroller_ = {w.person_id(), "grid_worker",
                      absl::StrCat("grid worker ", w.person_id(), " ", w.name(), " on patrol")};
      }
    }
    if (patroller_.person.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("grid ", grid_, " has no grid worker on duty for dispatch to assign"));
    }
    std::string community_leader;
    for (const v1::EscalationStep& step : responsible.escalation_chain()) {
      for (const v1::StaffAssignment& p : step.responsible()) {
        if (staff_roles_.count(p.person_id()) == 0) {
          staff_roles_[p.person_id()] =
              p.role() == v1::STAFF_ROLE_SUPERVISOR ? "supervisor" : "grid_leader";
          names_[p.person_id()] = p.name();
        }
        if (step.region().level() == v1::REGION_LEVEL_COMMUNITY && community_leader.empty()) {
          community_leader = p.person_id();
        }
      }
    }
    if (community_leader.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the community of grid ", grid_, " has no leader to escalate the overdue incident to"));
    }
    // The grid's leader verifies patrol reports; without one, the community's.
    const std::string verifier =
        responsible.has_leader() ? responsible.leader().person_id() : community_leader;
    verifier_ = {verifier, staff_roles_[verifier], absl::StrCat("leader ", NameOf(verifier))};

    Say(absl::StrFormat("GridLoop: a scripted day at %.6f,%.6f, grid %s %s (street %s)",
                        options_.latitude, options_.longitude, grid_, grid_name_, options_.street));
    std::vector<std::string> cast;
    for (const v1::StaffAssignment& w : responsible.grid_workers()) {
      if (w.on_duty()) cast.push_back(absl::StrCat("grid worker ", NameOf(w.person_id())));
    }
    if (responsible.has_leader()) {
      cast.push_back(absl::StrCat("grid leader ", NameOf(responsible.leader().person_id())));
    }
    cast.push_back(absl::StrCat("community leader ", NameOf(community_leader)));
    Say(absl::StrCat("  on duty: ", absl::StrJoin(cast, "; ")));
    return absl::OkStatus();
  }

  // The day's volunteer, near the spot. The request_id depends only on the spot, so every
  // day played there finds the same volunteer instead of registering another.
  absl::Status RegisterVolunteer() {
    v1::RegisterVolunteerRequest req;
    req.set_request_id(absl::StrFormat("gridctl-day-volunteer-%s-%.6f-%.6f", grid_,
                                       options_.latitude, options_.longitude));
    v1::Volunteer* v = req.mutable_volunteer();
    v->set_name("周建华");
    v->set_region_code(grid_);
    v->mutable_location()->set_latitude(options_.latitude);
    // About 150 m east of the spot.
    v->mutable_location()->set_longitude(options_.longitude + 0.0015);
    // No skill of disability_help's route: the named request is the day's one volunteer
    // task, whatever the state of dispatch's volunteer index.
    v->add_skills("elderly_care");
    v->add_skills("first_aid");
    v->set_party_member(true);
    v->set_service_unit("西湖区民政局");
    v->set_max_concurrent_tasks(2);
    v->set_phone("13957100001");
    v1::Volunteer out;
    grpc::Status s = Retrying(
        [&] { return dispatch_->RegisterVolunteer(As(kHotline, "operator").get(), req, &out); });
    if (!s.ok()) return Annotate(s, "dispatch RegisterVolunteer");
    volunteer_id_ = out.id();
    names_[volunteer_id_] = out.name();
    Say(absl::StrCat("  volunteer ", NameOf(volunteer_id_), " (party member; ",
                     absl::StrJoin(out.skills(), ", "), "), about 150 m from the spot",
                     out.active() ? "" : " (INACTIVE)"));
    return absl::OkStatus();
  }

  absl::Status StartWatching() {
    kafka::ConsumerOptions copts;
    copts.brokers = options_.kafka_brokers;
    copts.group_id = absl::StrCat("gridctl-", run_id_, "-", absl::ToUnixNanos(absl::Now()));
    copts.topics = {options_.incident_topic, options_.dispatch_topic};
    copts.max_attempts = 1;
    auto consumer = kafka::Consumer::Create(copts, [this](const kafka::Record& r) {
      Arrival a;
      absl::Time at;
      if (r.topic == options_.dispatch_topic) {
        if (!a.dispatch_event.ParseFromString(r.value)) return absl::OkStatus();
        a.dispatch = true;
        at = FromTimestamp(a.dispatch_event.occurred_at());
      } else {
        if (!a.incident_event.ParseFromString(r.value)) return absl::OkStatus();
        at = FromTimestamp(a.incident_event.occurred_at());
      }
      if (at < since_) return absl::OkStatus();
      absl::MutexLock lock(&mu_);
      arrivals_.push_back(std::move(a));
      return absl::OkStatus();
    });
    if (!consumer.ok()) {
      return absl::UnavailableError(
          absl::StrCat("cannot read the events: ", consumer.status().message()));
    }
    consumer_ = *std::move(consumer);
    consumer_->Start();
    Say(absl::StrCat("  run ", run_id_, " (every request_id starts with it); watching ",
                     options_.incident_topic, " and ", options_.dispatch_topic));
    return absl::OkStatus();
  }

  absl::Status Report(size_t i) {
    const Script& s = Scripts()[i];
    Track t;
    t.script = &s;
    t.number = static_cast<int>(i) + 1;
    v1::ReportIncidentRequest req;
    req.set_request_id(absl::StrFormat("%s-%02d-%s", run_id_, t.number, s.category));
    req.set_category(s.category);
    req.set_title(s.title);
    req.set_description(s.description);
    req.set_channel(s.channel);
    req.mutable_location()->set_latitude(options_.latitude);
    req.mutable_location()->set_longitude(options_.longitude);
    req.set_address(absl::StrCat(grid_name_, " ", s.place));
    if (*s.reporter_phone != '\0') {
      req.mutable_reporter()->set_name(s.reporter_name);
      req.mutable_reporter()->set_phone(s.reporter_phone);
    }
    if (*s.work_order != '\0') {
      req.set_external_ref(absl::StrFormat("%s-%s-%02d", s.work_order, run_id_, t.number));
    }
    if (s.named_volunteer) req.set_requested_volunteer_id(volunteer_id_);
    const Actor taker = ReportTaker(s);
    v1::IncidentResponse resp;
    grpc::Status st = Retrying(
        [&] { return incidents_->ReportIncident(As(taker.person, taker.role).get(), req, &resp); });
    if (!st.ok()) {
      return Annotate(st, absl::StrCat("ReportIncident of ", s.category, " by ", taker.label));
    }
    t.reported = resp.incident();
    by_id_[t.reported.id()] = tracks_.size();
    tracks_.push_back(std::move(t));
    Track& added = tracks_.back();
    std::string what =
        absl::StrCat("call   ReportIncident    -> reported v", added.reported.version(), "  by ",
                     taker.label, "; ", ChannelName(s.channel));
    if (!req.external_ref().empty()) absl::StrAppend(&what, " ", req.external_ref());
    if (*s.reporter_phone != '\0') {
      absl::StrAppend(&what, ", caller ", s.reporter_name, " ", MaskedPhone(s.reporter_phone));
    }
    if (s.named_volunteer) {
      absl::StrAppend(&what, ", asks for volunteer ", NameOf(volunteer_id_), " (点名)");
    }
    Line(absl::Now(), added, what);
    Wait(added, tracks_.size() == 1
                    ? absl::StrCat("its reported event to come back on ", options_.incident_topic)
                    : "its reported event");
    return absl::OkStatus();
  }

  // ---- The loop

  // Reports the day's incidents a moment apart and reacts to every event until each has
  // reached its end. The first report goes out alone: the others follow once its event has
  // come back, i.e. once the day's consumer has joined its group and reads the topic, so
  // that from then on every line is printed as it happens.
  absl::Status RunLoop() {
    const size_t total = Scripts().size();
    absl::Time next_report = absl::Now();
    while (true) {
      const bool watching = !tracks_.empty() && tracks_.front().seen > 0;
      const bool to_report = tracks_.size() < total && (tracks_.empty() || watching);
      if (to_report && absl::Now() >= next_report) {
        RETURN_IF_ERROR(Report(tracks_.size()));
        next_report = absl::Now() + kReportSpacing;
        continue;
      }
      absl::Time deadline = absl::InfiniteFuture();
      bool open = tracks_.size() < total;
      for (const Track& t : tracks_) {
        if (t.done) continue;
        open = true;
        deadline = std::min(deadline, t.waiting_since + options_.step_timeout);
      }
      if (!open) return absl::OkStatus();
      std::optional<Arrival> next = Next(to_report ? std::min(deadline, next_report) : deadline);
      if (!next.has_value()) {
        if (absl::Now() >= deadline) return Stuck();
        continue;  // the next report is due
      }
      if (next->dispatch) {
        RETURN_IF_ERROR(OnDispatchEvent(next->dispatch_event));
      } else {
        RETURN_IF_ERROR(OnIncidentEvent(next->incident_event));
      }
    }
  }

  std::optional<Arrival> Next(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !arrivals_.empty(); };
    if (!mu_.AwaitWithDeadline(absl::Condition(&ready), deadline)) return std::nullopt;
    Arrival a = std::move(arrivals_.front());
    arrivals_.pop_front();
    return a;
  }

  absl::Status Stuck() const {
    std::vector<std::string> late;
    const absl::Time now = absl::Now();
    for (const Track& t : tracks_) {
      if (t.done || now < t.waiting_since + options_.step_timeout) continue;
      late.push_back(absl::StrCat(
          "incident ", t.reported.id(), " (", t.script->category, ", last seen at v", t.seen,
          ") waited ", absl::FormatDuration(options_.step_timeout), " for ", t.waiting_for));
    }
    return absl::DeadlineExceededError(absl::StrJoin(late, "; "));
  }

  Track* Find(const std::string& incident_id) {
    auto it = by_id_.find(incident_id);
    return it == by_id_.end() ? nullptr : &tracks_[it->second];
  }

  absl::Status OnIncidentEvent(const v1::IncidentEvent& e) {
    Track* found = Find(e.incident_id());
    if (found == nullptr) return absl::OkStatus();  // not one of the day's
    Track& t = *found;
    // A redelivery, or a version already acted on.
    if (e.version() <= t.seen) return absl::OkStatus();
    t.seen = e.version();
    const v1::Incident& inc = e.incident();
    const absl::Time at = FromTimestamp(e.occurred_at());
    const std::string head = absl::StrFormat("event  %-17s v%-2d %-12s", EventName(e.type()),
                                             e.version(), StatusName(inc.status()));
    const std::string by = absl::StrCat("by ", e.actor().person_id(), " (", e.actor().role(), ")");
    switch (e.type()) {
      case v1::INCIDENT_EVENT_TYPE_REPORTED:
        Line(at, t, absl::StrCat(head, by, ", grid ", inc.region_code()));
        Wait(t, t.script->named_volunteer ? "dispatch to offer it to the volunteer asked for"
                                          : "dispatch to assign it");
        return absl::OkStatus();
      case v1::INCIDENT_EVENT_TYPE_GRID_LOCATED:
        Line(at, t, absl::StrCat(head, "grid ", inc.region_code()));
        return absl::OkStatus();
      case v1::INCIDENT_EVENT_TYPE_ASSIGNED:
        return OnAssigned(t, e, head, by);
      case v1::INCIDENT_EVENT_TYPE_ACCEPTED:
        Line(at, t, absl::StrCat(head, by));
        if (t.script->unanswered && inc.escalation_level() > v1::ESCALATION_LEVEL_GRID) {
          // 吹哨报到: the whistle was answered. Resolving it is tomorrow's work.
          Line(
              absl::Now(), t,
              absl::StrCat("note   the whistle is answered: escalated to ",
                           LevelName(inc.escalation_level()), " level and in hand with ",
                           AssigneeActor(inc.assignee()).label, "; the day leaves it in progress"));
          t.done = true;
          return absl::OkStatus();
        }
        return Resolve(t, e);
      case v1::INCIDENT_EVENT_TYPE_RESOLVED:
        Line(at, t, absl::StrCat(head, by));
        return GiveFeedback(t, e);
      case v1::INCIDENT_EVENT_TYPE_CLOSED:
        Line(at, t, absl::StrCat(head, SatisfactionName(inc.feedback().satisfaction()), ", ", by));
        t.done = true;
        return absl::OkStatus();
      case v1::INCIDENT_EVENT_TYPE_REOPENED:
        Line(at, t,
             absl::StrCat(head, SatisfactionName(inc.feedback().satisfaction()), ", reopen #",
                          inc.reopen_count(), ", ", by));
        Wait(t, "dispatch to assign it again");
        return absl::OkStatus();
      case v1::INCIDENT_EVENT_TYPE_OVERDUE:
        Line(at, t, absl::StrCat(head, e.detail(), " deadline missed, ", by));
        Wait(t, "dispatch to escalate it");
        return absl::OkStatus();
      case v1::INCIDENT_EVENT_TYPE_ESCALATED:
        Line(at, t,
             absl::StrCat(head, "to ", LevelName(inc.escalation_level()), " level (吹哨), ", by));
        Wait(t, absl::StrCat("dispatch to assign it at ", LevelName(inc.escalation_level()),
                             " level"));
        return absl::OkStatus();
      case v1::INCIDENT_EVENT_TYPE_CANCELLED:
        Line(at, t, absl::StrCat(head, by));
        return absl::FailedPreconditionError(
            absl::StrCat("incident ", t.reported.id(), " was cancelled, which the day never does"));
      default:
        Line(at, t, absl::StrCat(head, by));
        return absl::OkStatus();
    }
  }

  absl::Status OnAssigned(Track& t, const v1::IncidentEvent& e, const std::string& head,
                          const std::string& by) {
    const v1::Incident& inc = e.incident();
    const Actor assignee = AssigneeActor(inc.assignee());
    Line(FromTimestamp(e.occurred_at()), t,
         absl::StrCat(head, "to ", assignee.label,
                      inc.escalation_level() > v1::ESCALATION_LEVEL_GRID
                          ? absl::StrCat(" at ", LevelName(inc.escalation_level()), " level")
                          : "",
                      inc.reopen_count() > 0 ? " again" : "", ", ", by));
    if (inc.status() != v1::INCIDENT_STATUS_ASSIGNED || inc.assignee().id().empty()) {
      return absl::OkStatus();
    }
    if (t.script->unanswered && inc.escalation_level() == v1::ESCALATION_LEVEL_GRID) {
      Line(absl::Now(), t,
           absl::StrCat("note   ", assignee.label, " does not answer (the script): respond-by ",
                        ClockOf(FromTimestamp(t.reported.respond_by())), " will pass"));
      Wait(t, "the respond-by deadline to raise overdue");
      return absl::OkStatus();
    }
    v1::AcceptAssignmentRequest req;
    req.set_request_id(absl::StrCat(run_id_, "-", t.number, "-accept-v", e.version()));
    req.set_incident_id(t.reported.id());
    req.set_assignee_id(inc.assignee().id());
    v1::IncidentResponse resp;
    grpc::Status s = Retrying([&] {
      return incidents_->AcceptAssignment(As(assignee.person, assignee.role).get(), req, &resp);
    });
    RETURN_IF_ERROR(Called(t, "AcceptAssignment", s, resp, assignee.label));
    Wait(t, "the accepted event");
    return absl::OkStatus();
  }

  absl::Status Resolve(Track& t, const v1::IncidentEvent& e) {
    const Script& script = *t.script;
    if (t.rounds_done >= script.rounds.size()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "incident ", t.reported.id(), " was accepted more often than the script resolves it"));
    }
    const Actor assignee = AssigneeActor(e.incident().assignee());
    v1::ResolveIncidentRequest req;
    req.set_request_id(absl::StrCat(run_id_, "-", t.number, "-resolve-v", e.version()));
    req.set_incident_id(t.reported.id());
    req.set_resolution(script.rounds[t.rounds_done].resolution);
    v1::IncidentResponse resp;
    grpc::Status s = Retrying([&] {
      return incidents_->ResolveIncident(As(assignee.person, assignee.role).get(), req, &resp);
    });
    RETURN_IF_ERROR(Called(t, "ResolveIncident", s, resp, assignee.label));
    Wait(t, "the resolved event");
    return absl::OkStatus();
  }

  absl::Status GiveFeedback(Track& t, const v1::IncidentEvent& e) {
    const Script& script = *t.script;
    if (t.rounds_done >= script.rounds.size()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "incident ", t.reported.id(), " was resolved more often than the script answers"));
    }
    const Round& round = script.rounds[t.rounds_done];
    const Actor giver = FeedbackActor(script);
    v1::SubmitFeedbackRequest req;
    req.set_request_id(absl::StrCat(run_id_, "-", t.number, "-feedback-v", e.version()));
    req.set_incident_id(t.reported.id());
    req.set_satisfaction(round.satisfaction);
    req.set_comment(round.comment);
    v1::IncidentResponse resp;
    grpc::Status s = Retrying(
        [&] { return incidents_->SubmitFeedback(As(giver.person, giver.role).get(), req, &resp); });
    RETURN_IF_ERROR(Called(t, "SubmitFeedback", s, resp,
                           absl::StrCat(giver.label, ": ", SatisfactionName(round.satisfaction),
                                        " \"", round.comment, "\"")));
    ++t.rounds_done;
    Wait(t, round.satisfaction == v1::SATISFACTION_DISSATISFIED ? "the reopened event"
                                                                : "the closed event");
    return absl::OkStatus();
  }

  absl::Status OnDispatchEvent(const v1::DispatchEvent& e) {
    const std::string& incident_id =
        e.incident_id().empty() ? e.offer().incident_id() : e.incident_id();
    Track* found = Find(incident_id);
    if (found == nullptr || !seen_dispatch_.insert(e.event_id()).second) return absl::OkStatus();
    Track& t = *found;
    const absl::Time at = FromTimestamp(e.occurred_at());
    const std::string head =
        absl::StrFormat("event  %-17s %-16s", DispatchEventName(e.type()), "(dispatch)");
    switch (e.type()) {
      case v1::DISPATCH_EVENT_TYPE_OFFER_MADE:
        Line(at, t,
             absl::StrCat(head, "offered to volunteer ", NameOf(e.offer().volunteer_id()),
                          e.offer().named() ? " (点名: asked for by the caller)" : ""));
        return AcceptOffer(t, e.offer());
      case v1::DISPATCH_EVENT_TYPE_OFFER_ACCEPTED:
      case v1::DISPATCH_EVENT_TYPE_OFFER_DECLINED:
      case v1::DISPATCH_EVENT_TYPE_OFFER_EXPIRED:
      case v1::DISPATCH_EVENT_TYPE_OFFER_WITHDRAWN:
        Line(at, t,
             absl::StrCat(head, "volunteer ", e.offer().volunteer_id(),
                          e.reason().empty() ? "" : absl::StrCat(": ", e.reason())));
        return absl::OkStatus();
      case v1::DISPATCH_EVENT_TYPE_ESCALATED:
        Line(at, t, absl::StrCat(head, "blew the whistle (吹哨): ", e.reason()));
        return absl::OkStatus();
      default:
        // Assignments show as the incident's own events; credits come after the day.
        return absl::OkStatus();
    }
  }

  absl::Status AcceptOffer(Track& t, const v1::Offer& offer) {
    const std::string label = absl::StrCat("volunteer ", NameOf(offer.volunteer_id()));
    v1::RespondToOfferRequest req;
    req.set_request_id(absl::StrCat(run_id_, "-", t.number, "-answer-", offer.id()));
    req.set_offer_id(offer.id());
    req.set_accept(true);
    v1::Offer answered;
    grpc::Status s = Retrying([&] {
      return dispatch_->RespondToOffer(As(offer.volunteer_id(), "volunteer").get(), req, &answered);
    });
    if (!s.ok()) {
      Line(absl::Now(), t,
           absl::StrCat("call   RespondToOffer    FAILED: ", s.error_message(), "  by ", label));
      return Annotate(
          s, absl::StrCat("RespondToOffer (accept) of incident ", t.reported.id(), " by ", label));
    }
    Line(absl::Now(), t,
         absl::StrCat("call   RespondToOffer    -> offer ",
                      EnumWord(v1::OfferStatus_Name(answered.status()), "OFFER_STATUS_"),
                      answered.assigned() ? ", assigned" : "", "  accepted by ", label));
    Wait(t, "the assignment to the volunteer");
    return absl::OkStatus();
  }

  // Prints a call's line; a refusal stops the day (the script has no answer to it).
  absl::Status Called(const Track& t, absl::string_view rpc, const grpc::Status& s,
                      const v1::IncidentResponse& resp, absl::string_view who) {
    if (!s.ok()) {
      Line(absl::Now(), t,
           absl::StrFormat("call   %-17s FAILED: %s  by %s", rpc, s.error_message(), who));
      return Annotate(s, absl::StrCat(rpc, " of incident ", t.reported.id(), " by ", who));
    }
    Line(absl::Now(), t,
         absl::StrFormat("call   %-17s -> %s v%d  by %s", rpc, StatusName(resp.incident().status()),
                         resp.incident().version(), who));
    return absl::OkStatus();
  }

  static absl::Status Annotate(const grpc::Status& s, absl::string_view what) {
    absl::Status st = FromGrpcStatus(s);
    return absl::Status(st.code(), absl::StrCat(what, ": ", st.message()));
  }

  // ---- The end of the day

  absl::StatusOr<DayOutcome> Conclude() {
    DayOutcome outcome;
    outcome.grid = grid_;
    outcome.volunteer_id = volunteer_id_;
    std::map<std::string, int64_t> last_versions;
    const absl::Time at = FromTimestamp(tracks_.front().reported.reported_at());
    const std::string day = DayOf(at);
    bool one_day = true;
    for (const Track& t : tracks_) {
      v1::GetIncidentRequest get;
      get.set_id(t.reported.id());
      v1::Incident inc;
      grpc::Status s = Retrying(
          [&] { return incidents_->GetIncident(As(kHotline, "operator").get(), get, &inc); });
      if (!s.ok()) return Annotate(s, absl::StrCat("GetIncident ", t.reported.id()));
      DayIncident d;
      d.id = inc.id();
      d.category = inc.category();
      d.title = inc.title();
      d.channel = inc.channel();
      d.final_status = inc.status();
      d.assignee_id = inc.assignee().id();
      d.assignee_kind = inc.assignee().kind();
      d.reopened = inc.reopen_count() > 0;
      d.escalated = inc.escalation_level() > v1::ESCALATION_LEVEL_GRID;
      d.escalation_level = inc.escalation_level();
      d.satisfaction = inc.feedback().satisfaction();
      d.version = inc.version();
      d.as_expected = AsExpected(*t.script, inc);
      last_versions[d.id] = d.version;
      outcome.incidents.push_back(std::move(d));

      auto same_day = [&](const google::protobuf::Timestamp& ts) {
        if (DayOf(FromTimestamp(ts)) != day) one_day = false;
      };
      same_day(t.reported.reported_at());
      same_day(t.reported.respond_by());
      if (inc.has_resolved_at()) same_day(t.reported.resolve_by());
      if (inc.has_feedback()) same_day(inc.feedback().at());
    }
    outcome.within_one_day = one_day;
    PrintIncidents(outcome);

    RETURN_IF_ERROR(WaitForFold(at, last_versions));
    v1::GetScorecardRequest req;
    req.set_subject_kind(v1::SUBJECT_KIND_REGION);
    req.set_subject_id(options_.street);
    req.set_period(v1::PERIOD_DAY);
    *req.mutable_at() = ToTimestamp(at);
    grpc::Status s = Retrying([&] {
      return assessment_->GetScorecard(As(kHotline, "operator").get(), req, &outcome.street_day);
    });
    if (!s.ok()) return Annotate(s, "assessment GetScorecard");
    if (!one_day) {
      Say(absl::StrCat("note: the day ran across local midnight; some of its figures count on ",
                       "the next day's scorecard"));
    }
    return outcome;
  }

  bool AsExpected(const Script& s, const v1::Incident& inc) const {
    if (inc.assignee().id().empty()) return false;
    if (s.unanswered) {
      return inc.status() == v1::INCIDENT_STATUS_IN_PROGRESS && inc.respond_overdue() &&
             inc.escalation_level() >= v1::ESCALATION_LEVEL_COMMUNITY;
    }
    if (s.named_volunteer && (inc.assignee().kind() != v1::ASSIGNEE_KIND_VOLUNTEER ||
                              inc.assignee().id() != volunteer_id_)) {
      return false;
    }
    return inc.status() == v1::INCIDENT_STATUS_CLOSED &&
           inc.reopen_count() == static_cast<int>(s.rounds.size()) - 1 &&
           inc.escalation_level() == v1::ESCALATION_LEVEL_GRID &&
           inc.feedback().satisfaction() == s.rounds.back().satisfaction;
  }

  void PrintIncidents(const DayOutcome& outcome) {
    Say("");
    Say(absl::StrFormat("the day's %d incidents in grid %s:", outcome.incidents.size(), grid_));
    Say(absl::StrFormat("  %-21s  %-20s  %-11s  %-30s  %s", "INCIDENT", "CATEGORY", "STATUS",
                        "ASSIGNEE", "OUTCOME"));
    for (size_t i = 0; i < outcome.incidents.size(); ++i) {
      const DayIncident& d = outcome.incidents[i];
      std::string result;
      if (tracks_[i].script->unanswered) {
        result = absl::StrCat("respond-by missed, escalated to ", LevelName(d.escalation_level),
                              " level (吹哨) and accepted there");
      } else {
        result = SatisfactionName(d.satisfaction);
        if (d.reopened) result = absl::StrCat("reopened once, then ", result);
      }
      if (!d.as_expected) absl::StrAppend(&result, "  <- NOT AS SCRIPTED");
      Say(absl::StrFormat("  %-21s  %-20s  %-11s  %-30s  %s", d.id, d.category,
                          StatusName(d.final_status),
                          absl::StrCat(KindName(d.assignee_kind), " ", d.assignee_id), result));
    }
  }

  // Until the assessment service has folded the last version of every incident of the
  // day: its explanation of the street's `received` names each incident with the latest
  // version it folded.
  absl::Status WaitForFold(absl::Time at, const std::map<std::string, int64_t>& last) {
    const absl::Time start = absl::Now();
    const absl::Time deadline = start + options_.step_timeout;
    size_t folded = 0;
    while (true) {
      v1::ExplainRequest req;
      req.set_subject_kind(v1::SUBJECT_KIND_REGION);
      req.set_subject_id(options_.street);
      req.set_period(v1::PERIOD_DAY);
      *req.mutable_at() = ToTimestamp(at);
      req.set_part(v1::EXPLAIN_PART_RECEIVED);
      req.set_page_size(500);
      folded = 0;
      grpc::Status s;
      do {
        v1::ExplainResponse resp;
        s = Retrying(
            [&] { return assessment_->Explain(As(kHotline, "operator").get(), req, &resp); });
        if (!s.ok()) break;
        for (const v1::ExplainedIncident& e : resp.incidents()) {
          auto it = last.find(e.incident_id());
          if (it != last.end() && e.version() >= it->second) ++folded;
        }
        req.set_page_token(resp.next_page_token());
      } while (!req.page_token().empty());
      if (!s.ok()) return Annotate(s, "assessment Explain");
      if (folded == last.size()) break;
      if (absl::Now() >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "assessment folded the last events of ", folded, " of the day's ", last.size(),
            " incidents within ", absl::FormatDuration(options_.step_timeout)));
      }
      absl::SleepFor(absl::Milliseconds(200));  // polling a remote service
    }
    Say(
        absl::StrFormat("assessment has folded the last event of all %d incidents (%.1f s after "
                        "the day's end)",
                        last.size(), absl::ToDoubleSeconds(absl::Now() - start)));
    return absl::OkStatus();
  }

  const DayOptions& options_;
  std::string run_id_;
  absl::Time since_;
  std::unique_ptr<v1::IncidentService::Stub> incidents_;
  std::unique_ptr<v1::DispatchService::Stub> dispatch_;
  std::unique_ptr<v1::AssessmentService::Stub> assessment_;
  std::unique_ptr<v1::ResidentService::Stub> residents_;

  std::string grid_;
  std::string grid_name_;
  std::string volunteer_id_;
  std::map<std::string, std::string> staff_roles_;  // person -> the role they act in
  std::map<std::string, std::string> names_;        // person -> name, for printing
  Actor patroller_;
  Actor verifier_;

  std::vector<Track> tracks_;
  std::map<std::string, size_t> by_id_;
  std::set<std::string> seen_dispatch_;

  absl::Mutex mu_;
  std::deque<Arrival> arrivals_ ABSL_GUARDED_BY(mu_);
  // Last: stopped and destroyed before what its handler touches.
  std::unique_ptr<kafka::Consumer> consumer_;
};

}  // namespace

absl::StatusOr<DayOutcome> PlayDay(const DayOptions& options) { return Day(options).Play(); }

}  // namespace gridloop::gridctl
