// gridloop-assessment-bench: how many incident events assessment folds per second, live
// and in a rebuild, against a bare consumer reading the same records in the same run.
//
//   gridloop-assessment-bench [--partitions=4] [--partition_bytes=4718592] [--seed=1]
//                             [--rounds=1] [--fold_latency=true] [--timeout=600s]
//                             [--show_incidents=0]
//
// Everything runs in this process except Redis: a redis-server child (AOF on, appendfsync
// everysec), librdkafka's mock cluster (one broker) and the assessment app as its main()
// composes it. Each round is a fresh setup:
//
//  1. Synthetic incident lifecycles go straight to the incident topic (`--partitions`
//     partitions), each event as the incidents service publishes it: key = incident id,
//     value = an IncidentEvent with the snapshot after the change, versions 1..n. The
//     incidents are spread over the 48 grids of one street and its 200 grid workers,
//     reported from 2026-11-16 to noon on 2026-11-27 (local time) and cut there: most
//     are assigned, accepted, resolved and closed with feedback; the SLA timer marks
//     missed deadlines and dispatch escalates those (吹哨); some are reopened and handled
//     again, some escalated by hand up to a department, some cancelled, the latest still
//     open. Generation stops before any partition would hold more than
//     `--partition_bytes` of keys and values, so nothing ages out of the mock broker
//     (~5 MiB per partition). The same seed gives the same events.
//  2. Baseline: a bare kafka::Consumer with the options assessment's own consumer gets
//     (assign mode, both event topics) reads everything from the beginning and only parses
//     each IncidentEvent. It also checks that every partition is complete from offset 0
//     and holds the records predicted for it.
//  3. Live fold: assessment::App starts (assign mode over every partition, outbox relay and
//     score publisher on) and folds the topic from the beginning; the clock runs from
//     App::Start until its consumer has processed every event.
//  4. Rebuild: Rebuilder::Start (formula v1) as an operator would through StartRebuild;
//     the clock runs until GetRebuild says SWITCHED. The rebuilt generation's counters
//     must equal, key for key, the live generation's captured before the rebuild.
//  5. With `--fold_latency`, a separate pass folds the same events in the same order
//     through Folder::FoldIncidentEvent on a second, empty redis-server, one call at a
//     time, timing each.
//
// Redis's own counters (INFO commandstats, INFO cpu) are read around the live fold and
// the rebuild: commands per event, and Redis CPU against wall time.
//
// `--show_incidents=N` prints the lives of N incidents, event by event, and exits.
//
// Prints a summary line per round and a JSON object for scripts after it; with
// `--rounds` > 1, the medians last (one line and one JSON object with "median":true).
// Exit status: 0 when every round folded every event and rebuilt the live figures
// exactly, 1 if a round failed or the rebuilt figures differ, 2 on bad settings.

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"
#include "common/clock/proto_time.h"
#include "common/config/config.h"
#include "common/identity/identity.h"
#include "common/kafka/consumer.h"
#include "common/kafka/producer.h"
#include "common/log/log.h"
#include "common/redis/redis_client.h"
#include "common/testing/kafka_cluster.h"
#include "common/testing/redis_server.h"
#include "gridloop/v1/assessment.pb.h"
#include "gridloop/v1/events.pb.h"
#include "services/assessment/app.h"
#include "services/assessment/folder.h"
#include "services/assessment/redis_assessment_store.h"

namespace gridloop {
namespace {

struct BenchOptions {
  int partitions = 4;
  // Keys and values per partition; the mock broker drops a partition's oldest records
  // beyond ~5 MiB, and record batches add a little to what is counted here.
  int64_t partition_bytes = 4718592;  // 4.5 MiB
  int64_t seed = 1;
  int rounds = 1;
  bool fold_latency = true;
  absl::Duration timeout = absl::Seconds(600);
  int show_incidents = 0;
};

absl::StatusOr<BenchOptions> ParseOptions(const config::Settings& settings) {
  BenchOptions o;
  absl::StatusOr<int64_t> partitions = settings.GetInt("partitions", o.partitions);
  if (!partitions.ok()) return partitions.status();
  absl::StatusOr<int64_t> bytes = settings.GetInt("partition_bytes", o.partition_bytes);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<int64_t> seed = settings.GetInt("seed", o.seed);
  if (!seed.ok()) return seed.status();
  absl::StatusOr<int64_t> rounds = settings.GetInt("rounds", o.rounds);
  if (!rounds.ok()) return rounds.status();
  absl::StatusOr<bool> latency = settings.GetBool("fold_latency", o.fold_latency);
  if (!latency.ok()) return latency.status();
  absl::StatusOr<absl::Duration> timeout = settings.GetDuration("timeout", o.timeout);
  if (!timeout.ok()) return timeout.status();
  absl::StatusOr<int64_t> show = settings.GetInt("show_incidents", o.show_incidents);
  if (!show.ok()) return show.status();
  if (*partitions < 1 || *partitions > 64) {
    return absl::InvalidArgumentError("partitions: must be within 1..64");
  }
  if (*bytes < 65536 || *bytes > int64_t{5} * 1024 * 1024) {
    return absl::InvalidArgumentError(
        "partition_bytes: must be within 64 KiB..5 MiB (the mock broker keeps ~5 MiB)");
  }
  if (*rounds < 1 || *rounds > 100) return absl::InvalidArgumentError("rounds: within 1..100");
  if (*timeout <= absl::ZeroDuration()) return absl::InvalidArgumentError("timeout: positive");
  if (*show < 0 || *show > 100000) {
    return absl::InvalidArgumentError("show_incidents: within 0..100000");
  }
  o.partitions = static_cast<int>(*partitions);
  o.partition_bytes = *bytes;
  o.seed = *seed;
  o.rounds = static_cast<int>(*rounds);
  o.fold_latency = *latency;
  o.timeout = *timeout;
  o.show_incidents = static_cast<int>(*show);
  return o;
}

// ---------------------------------------------------------------------------------------
// The street and its incidents.

constexpr int kCommunities = 6;
constexpr int kGridsPerCommunity = 8;
constexpr int kGrids = kCommunities * kGridsPerCommunity;
constexpr int kGridWorkers = 200;
constexpr int kVolunteersPerCommunity = 10;
constexpr char kStreetLeader[] = "sl-003";

// Reports run from Monday 2026-11-16 00:00 local time (UTC+8) to the bench's "now",
// Friday 2026-11-27 12:00 local: later events have not happened yet.
const absl::Time kFirstReport = absl::FromUnixSeconds(1794758400);  // 2026-11-15T16:00:00Z
const absl::Time kNow = absl::FromUnixSeconds(1795752000);          // 2026-11-27T04:00:00Z

// The incidents service's built-in taxonomy (services/incidents/categories.cc), with how
// often each category is reported on this street.
struct Category {
  const char* code;
  const char* title;
  const char* description;
  const char* resolution;
  v1::Urgency urgency;
  absl::Duration respond_within;
  absl::Duration resolve_within;
  v1::AssigneeKind route;
  // Where an incident of this category ends up when escalated to department level.
  const char* department;
  int weight;
};

const std::vector<Category>& Categories() {
  using absl::Hours;
  using absl::Minutes;
  static const std::vector<Category>* const categories = new std::vector<Category>{
      {"sanitation", "楼道堆放垃圾", "单元楼道长期堆放杂物和垃圾，有异味，影响通行。",
       "已联系物业清运，楼道已清理干净。", v1::URGENCY_LOW, Hours(4), Hours(24),
       v1::ASSIGNEE_KIND_GRID_WORKER, "urban_management", 20},
      {"noise", "夜间施工噪音", "晚上十点以后隔壁工地仍在施工，噪音很大，影响休息。",
       "已联系施工方，夜间停止施工。", v1::URGENCY_NORMAL, Hours(2), Hours(24),
       v1::ASSIGNEE_KIND_GRID_WORKER, "ecology_environment", 15},
      {"property_management", "物业不作为", "小区电梯多次故障，物业迟迟不安排维修。",
       "已约谈物业，电梯已维修并安排每月检查。", v1::URGENCY_NORMAL, Hours(8), Hours(24 * 5),
       v1::ASSIGNEE_KIND_GRID_WORKER, "housing", 12},
      {"neighbour_dispute", "邻里纠纷", "楼上住户长期在阳台晾晒滴水，多次沟通无果。",
       "已上门调解，双方达成一致。", v1::URGENCY_NORMAL, Hours(4), Hours(72),
       v1::ASSIGNEE_KIND_GRID_WORKER, "justice", 10},
      {"roof_leak", "房屋漏水", "顶楼卧室天花板漏水，雨天更严重。",
       "已协调维修基金，屋面防水已修复。", v1::URGENCY_HIGH, Hours(2), Hours(48),
       v1::ASSIGNEE_KIND_GRID_WORKER, "housing", 8},
      {"street_light", "路灯不亮", "小区门口两盏路灯已经一周不亮，晚上出行不便。",
       "已更换灯具，路灯恢复照明。", v1::URGENCY_NORMAL, Hours(4), Hours(24),
       v1::ASSIGNEE_KIND_DEPARTMENT, "urban_management", 8},
      {"other", "其他问题", "小区门口共享单车乱停乱放，占用盲道。", "已联系运营企业清理。",
       v1::URGENCY_NORMAL, Hours(8), Hours(72), v1::ASSIGNEE_KIND_GRID_WORKER, "urban_management",
       8},
      {"safety_hazard", "电动车楼道充电", "有住户把电动车推进楼道充电，存在火灾隐患。",
       "已劝离并张贴告示，楼道已清空。", v1::URGENCY_CRITICAL, Minutes(30), Hours(8),
       v1::ASSIGNEE_KIND_GRID_WORKER, "emergency_management", 5},
      {"public_facility", "健身器材损坏", "小区广场健身器材螺丝松动，老人使用有危险。",
       "已维修加固。", v1::URGENCY_NORMAL, Hours(4), Hours(72), v1::ASSIGNEE_KIND_DEPARTMENT,
       "housing", 5},
      {"illegal_construction", "违章搭建", "一楼住户在院子里搭建彩钢板房。",
       "已责令限期拆除，现已拆除。", v1::URGENCY_NORMAL, Hours(8), Hours(24 * 7),
       v1::ASSIGNEE_KIND_DEPARTMENT, "urban_management", 4},
      {"elderly_help", "独居老人需要帮助", "独居老人行动不便，需要有人帮忙买菜和配药。",
       "志愿者已上门帮助。", v1::URGENCY_HIGH, Hours(1), Hours(24), v1::ASSIGNEE_KIND_VOLUNTEER,
       "civil_affairs", 4},
      {"disability_help", "残疾人出行帮助", "轮椅使用者需要陪同去医院复诊。", "志愿者已陪同就医。",
       v1::URGENCY_HIGH, Hours(1), Hours(24), v1::ASSIGNEE_KIND_VOLUNTEER, "civil_affairs", 1},
  };
  return *categories;
}

std::string GridCode(int grid) {
  return absl::StrFormat("3301.06.003.%03d.g%02d", grid / kGridsPerCommunity + 1, grid + 1);
}
// Grid workers are dealt round the grids: the first eight grids have five, the rest four.
std::string GridWorker(int n) { return absl::StrFormat("gw-%03d", n + 1); }
std::string CommunityLeader(int grid) {
  return absl::StrFormat("cl-%03d", grid / kGridsPerCommunity + 1);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  double Uniform(double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(engine_);
  }
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(engine_); }
  bool Chance(double p) { return Uniform(0, 1) < p; }
  absl::Duration Between(absl::Duration lo, absl::Duration hi) {
    return lo + (hi - lo) * Uniform(0, 1);
  }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(Int(0, static_cast<int>(v.size()) - 1))];
  }
  uint64_t Bits() { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

// An id shaped like the incidents service's (services/incidents/ids.cc): the UTC date of
// the report, a shard, then twelve Crockford base32 characters.
std::string IncidentId(absl::Time reported, Rng& rng) {
  static constexpr char kBase32[] = "0123456789abcdefghjkmnpqrstvwxyz";
  std::string id = absl::FormatTime("%y%m%d", reported, absl::UTCTimeZone());
  absl::StrAppendFormat(&id, "-%02x", rng.Int(0, 15));
  for (int i = 0; i < 12; ++i) id += kBase32[rng.Bits() % 32];
  return id;
}

bool IsOpen(v1::IncidentStatus s) {
  return s == v1::INCIDENT_STATUS_REPORTED || s == v1::INCIDENT_STATUS_ASSIGNED ||
         s == v1::INCIDENT_STATUS_IN_PROGRESS || s == v1::INCIDENT_STATUS_REOPENED ||
         s == v1::INCIDENT_STATUS_ESCALATED;
}

// One incident's life up to kNow, told as the incidents service publishes it: every change
// a new version with the snapshot after it (services/incidents/state_machine.cc), the SLA
// timer checking each deadline once when it falls due, and dispatch answering reports,
// escalations, reopenings and missed deadlines as services/dispatch/dispatcher.cc does.
class Lifecycle {
 public:
  Lifecycle(const Category& category, int grid, absl::Time reported, Rng& rng)
      : category_(category), grid_(grid), rng_(rng) {
    cancel_ = rng_.Chance(0.04);
    to_department_ = category.route == v1::ASSIGNEE_KIND_GRID_WORKER && rng_.Chance(0.03);
    reopen_ = rng_.Chance(0.06);
    no_feedback_ = rng_.Chance(0.05);
    cancel_at_ = reported + rng_.Between(absl::Minutes(10), absl::Minutes(90));
    Report(reported);
  }

  std::vector<v1::IncidentEvent> Run() && {
    while (true) {
      const Action next = Plan();
      if (next.kind == Action::kNone) break;
      if (!checks_.empty()) {
        auto check =
            std::min_element(checks_.begin(), checks_.end(),
                             [](const Check& a, const Check& b) { return a.fire < b.fire; });
        const absl::Time fire = std::max(check->fire, last_ + absl::Seconds(1));
        if (fire < next.at && fire < kNow) {
          const std::string kind = check->kind;
          checks_.erase(check);
          CheckDeadline(kind, fire);
          continue;
        }
      }
      if (next.at >= kNow) break;
      Do(next);
    }
    return std::move(events_);
  }

 private:
  struct Action {
    enum Kind { kNone, kAssign, kAccept, kResolve, kFeedback, kEscalate, kCancel } kind = kNone;
    absl::Time at;
  };
  // The SLA timer looks at each deadline once, a few seconds after it falls due.
  struct Check {
    std::string kind;  // "respond" | "resolve"
    absl::Time fire;
  };

  // What happens next, and when, given where the incident stands.
  Action Plan() {
    const absl::Time soon = last_ + absl::Seconds(1);
    switch (inc_.status()) {
      case v1::INCIDENT_STATUS_REPORTED:
      case v1::INCIDENT_STATUS_ESCALATED:
      case v1::INCIDENT_STATUS_REOPENED:
        // Dispatch reacts to the event within seconds (outbox relay, consumer, handler).
        return {Action::kAssign, last_ + rng_.Between(absl::Seconds(2), absl::Seconds(20))};
      case v1::INCIDENT_STATUS_ASSIGNED:
        if (cancel_) return {Action::kCancel, std::max(cancel_at_, soon)};
        if (HandsOn()) {
          return {Action::kEscalate, last_ + rng_.Between(absl::Minutes(10), absl::Minutes(40))};
        }
        return {Action::kAccept, AcceptAt()};
      case v1::INCIDENT_STATUS_IN_PROGRESS:
        if (HandsOn()) {
          return {Action::kEscalate, last_ + rng_.Between(absl::Minutes(30), absl::Minutes(90))};
        }
        return {Action::kResolve, ResolveAt()};
      case v1::INCIDENT_STATUS_RESOLVED:
        if (no_feedback_) return {};
        // 回访: the hotline calls the resident back within the day, in working hours.
        return {Action::kFeedback,
                WorkingHours(last_ + rng_.Between(absl::Hours(1), absl::Hours(24)))};
      default:
        return {};
    }
  }

  // Planned escalation by hand up to a department: whoever holds it below that level
  // blows the whistle (吹哨) rather than finishing it; a grid worker first looks at it.
  bool HandsOn() const {
    if (!to_department_ || inc_.escalation_level() >= v1::ESCALATION_LEVEL_DEPARTMENT) {
      return false;
    }
    if (inc_.escalation_level() == v1::ESCALATION_LEVEL_GRID) {
      return inc_.status() == v1::INCIDENT_STATUS_IN_PROGRESS;
    }
    return true;
  }

  // `t` if it falls between 08:00 and 21:00 local time, else early the next morning.
  absl::Time WorkingHours(absl::Time t) {
    const absl::TimeZone local = absl::FixedTimeZone(8 * 3600);
    const absl::CivilSecond cs = absl::ToCivilSecond(t, local);
    if (cs.hour() >= 8 && cs.hour() < 21) return t;
    absl::CivilDay day(cs);
    if (cs.hour() >= 21) ++day;
    return absl::FromCivil(absl::CivilHour(day) + 8, local) +
           rng_.Between(absl::ZeroDuration(), absl::Hours(2));
  }

  absl::Time AcceptAt() {
    const absl::Time earliest = last_ + absl::Minutes(1);
    if (!first_holder_) return last_ + rng_.Between(absl::Minutes(5), absl::Minutes(40));
    // Most accept well within the respond-by deadline; some miss it.
    const double f = rng_.Chance(0.08) ? rng_.Uniform(1.05, 2.0) : rng_.Uniform(0.03, 0.8);
    return std::max(earliest, round_start_ + category_.respond_within * f);
  }

  absl::Time ResolveAt() {
    const absl::Time earliest = last_ + absl::Minutes(10);
    if (!first_holder_) return last_ + rng_.Between(absl::Hours(1), absl::Hours(8));
    const double f = rng_.Chance(0.05) ? rng_.Uniform(1.05, 1.6) : rng_.Uniform(0.1, 0.9);
    return std::max(earliest, round_start_ + category_.resolve_within * f);
  }

  void Do(const Action& a) {
    switch (a.kind) {
      case Action::kAssign:
        Assign(a.at);
        break;
      case Action::kAccept:
        *inc_.mutable_accepted_at() = ToTimestamp(a.at);
        inc_.set_status(v1::INCIDENT_STATUS_IN_PROGRESS);
        Emit(v1::INCIDENT_EVENT_TYPE_ACCEPTED, a.at, inc_.assignee().id(), HolderRole(), "");
        break;
      case Action::kResolve:
        inc_.set_resolution(category_.resolution);
        *inc_.mutable_resolved_at() = ToTimestamp(a.at);
        inc_.set_status(v1::INCIDENT_STATUS_RESOLVED);
        Emit(v1::INCIDENT_EVENT_TYPE_RESOLVED, a.at, inc_.assignee().id(), HolderRole(), "");
        break;
      case Action::kFeedback:
        Feedback(a.at);
        break;
      case Action::kEscalate: {
        // A copy: escalation clears the holder.
        const std::string holder = inc_.assignee().id();
        Escalate(a.at, holder, HolderRole());
        break;
      }
      case Action::kCancel:
        *inc_.mutable_cancelled_at() = ToTimestamp(a.at);
        inc_.set_status(v1::INCIDENT_STATUS_CANCELLED);
        Emit(v1::INCIDENT_EVENT_TYPE_CANCELLED, a.at, Operator(), "operator", "");
        break;
      case Action::kNone:
        break;
    }
  }

  void Report(absl::Time at) {
    inc_.set_id(IncidentId(at, rng_));
    inc_.set_status(v1::INCIDENT_STATUS_REPORTED);
    inc_.set_category(category_.code);
    inc_.set_region_code(GridCode(grid_));
    inc_.set_escalation_level(v1::ESCALATION_LEVEL_GRID);
    inc_.set_title(category_.title);
    inc_.set_description(category_.description);
    static const std::vector<const char*>* const roads = new std::vector<const char*>{
        "文三路", "学院路", "教工路", "古翠路", "莫干山路", "保俶北路"};
    inc_.set_address(absl::StrFormat("%s%d号%d幢%d单元", rng_.Pick(*roads), rng_.Int(1, 400),
                                     rng_.Int(1, 30), rng_.Int(1, 4)));
    // Grids lie in rows of eight, one row per community, each ~400 m across.
    const int row = grid_ / kGridsPerCommunity;
    const int column = grid_ % kGridsPerCommunity;
    inc_.mutable_location()->set_latitude(30.27 + 0.004 * row + rng_.Uniform(0, 0.004));
    inc_.mutable_location()->set_longitude(120.10 + 0.004 * column + rng_.Uniform(0, 0.004));
    inc_.set_urgency(category_.urgency);
    std::string actor;
    std::string role;
    const int channel = rng_.Int(0, 99);
    if (channel < 35) {  // 民情热线: name and phone, the phone masked in events
      inc_.set_channel(v1::CHANNEL_HOTLINE);
      static const std::vector<const char*>* const names = new std::vector<const char*>{
          "张先生", "王女士", "李先生", "赵阿姨", "陈女士", "刘大爷", "杨先生", "周女士"};
      inc_.mutable_reporter()->set_name(rng_.Pick(*names));
      inc_.mutable_reporter()->set_phone(
          absl::StrFormat("13%d****%04d", rng_.Int(0, 9), rng_.Int(0, 9999)));
      actor = Operator();
      role = "operator";
    } else if (channel < 60) {  // the app: a registered resident reports
      inc_.set_channel(v1::CHANNEL_APP);
      actor = absl::StrFormat("res-%06d", rng_.Int(1, 60000));
      inc_.mutable_reporter()->set_resident_id(actor);
      role = "resident";
    } else if (channel < 80) {  // 巡查: the grid worker is the reporter
      inc_.set_channel(v1::CHANNEL_PATROL);
      actor = WorkerOf(grid_, "");
      inc_.mutable_reporter()->set_resident_id(actor);
      role = "grid_worker";
    } else {  // 12345 work orders
      inc_.set_channel(v1::CHANNEL_CITY_PLATFORM);
      inc_.set_external_ref(
          absl::StrCat("12345-", absl::FormatTime("%Y%m%d", at, absl::FixedTimeZone(8 * 3600)),
                       absl::StrFormat("%05d", rng_.Int(1, 99999))));
      inc_.mutable_reporter()->set_phone(
          absl::StrFormat("15%d****%04d", rng_.Int(0, 9), rng_.Int(0, 9999)));
      actor = "city-platform";
      role = "operator";
    }
    *inc_.mutable_reported_at() = ToTimestamp(at);
    StartRound(at);
    Emit(v1::INCIDENT_EVENT_TYPE_REPORTED, at, actor, role, "");
  }

  // A report or a reopening: fresh deadlines, checked once each when they fall due.
  void StartRound(absl::Time at) {
    round_start_ = at;
    first_holder_ = true;
    *inc_.mutable_respond_by() = ToTimestamp(at + category_.respond_within);
    *inc_.mutable_resolve_by() = ToTimestamp(at + category_.resolve_within);
    checks_ = {{"respond",
                at + category_.respond_within + rng_.Between(absl::Seconds(1), absl::Seconds(10))},
               {"resolve",
                at + category_.resolve_within + rng_.Between(absl::Seconds(1), absl::Seconds(10))}};
  }

  // What the incidents service's SLA pass does when a deadline falls due, and dispatch's
  // answer to a missed one: one level up, unless it is resolved or at the top already.
  void CheckDeadline(const std::string& kind, absl::Time at) {
    const v1::IncidentStatus st = inc_.status();
    const bool respond = kind == "respond";
    const bool missed = respond ? IsOpen(st) && st != v1::INCIDENT_STATUS_IN_PROGRESS : IsOpen(st);
    if (!missed) return;
    if (respond) {
      inc_.set_respond_overdue(true);
    } else {
      inc_.set_resolve_overdue(true);
    }
    Emit(v1::INCIDENT_EVENT_TYPE_OVERDUE, at, "sla-timer", "system", kind);
    if (inc_.escalation_level() < v1::ESCALATION_LEVEL_DEPARTMENT) {
      const absl::Time then = at + rng_.Between(absl::Seconds(1), absl::Seconds(5));
      if (then < kNow) Escalate(then, "dispatch", "system");
    }
  }

  void Escalate(absl::Time at, const std::string& actor, const std::string& role) {
    inc_.set_escalation_level(static_cast<v1::EscalationLevel>(inc_.escalation_level() + 1));
    inc_.clear_assignee();
    inc_.clear_accepted_at();
    *inc_.mutable_escalated_at() = ToTimestamp(at);
    inc_.set_status(v1::INCIDENT_STATUS_ESCALATED);
    first_holder_ = false;
    Emit(v1::INCIDENT_EVENT_TYPE_ESCALATED, at, actor, role, "");
  }

  // Dispatch's choice (Dispatcher::DispatchByRoute, AssignAtLevel): a report or a
  // reopening goes by the category's route; an escalation to the community's or the
  // street's leader, then to the category's department.
  void Assign(absl::Time at) {
    const std::string previous = previous_holder_;
    const bool by_route = inc_.status() == v1::INCIDENT_STATUS_REPORTED ||
                          inc_.status() == v1::INCIDENT_STATUS_REOPENED;
    v1::Assignee* a = inc_.mutable_assignee();
    switch (by_route ? v1::ESCALATION_LEVEL_GRID : inc_.escalation_level()) {
      case v1::ESCALATION_LEVEL_GRID:
        a->set_kind(category_.route);
        if (category_.route == v1::ASSIGNEE_KIND_DEPARTMENT) {
          a->set_id(category_.department);
        } else if (category_.route == v1::ASSIGNEE_KIND_VOLUNTEER) {
          a->set_id(
              absl::StrFormat("vol-%04d", (grid_ / kGridsPerCommunity) * kVolunteersPerCommunity +
                                              rng_.Int(1, kVolunteersPerCommunity)));
        } else {
          a->set_id(WorkerOf(grid_, previous));
        }
        break;
      case v1::ESCALATION_LEVEL_COMMUNITY:
        a->set_kind(v1::ASSIGNEE_KIND_GRID_WORKER);
        a->set_id(CommunityLeader(grid_));
        break;
      case v1::ESCALATION_LEVEL_STREET:
        a->set_kind(v1::ASSIGNEE_KIND_GRID_WORKER);
        a->set_id(kStreetLeader);
        break;
      default:
        a->set_kind(v1::ASSIGNEE_KIND_DEPARTMENT);
        a->set_id(category_.department);
        break;
    }
    previous_holder_ = a->id();
    *inc_.mutable_assigned_at() = ToTimestamp(at);
    inc_.set_status(v1::INCIDENT_STATUS_ASSIGNED);
    Emit(v1::INCIDENT_EVENT_TYPE_ASSIGNED, at, "dispatch", "system", "");
  }

  void Feedback(absl::Time at) {
    v1::Feedback* fb = inc_.mutable_feedback();
    *fb->mutable_at() = ToTimestamp(at);
    if (reopen_ && inc_.reopen_count() == 0) {
      fb->set_satisfaction(v1::SATISFACTION_DISSATISFIED);
      fb->set_comment("问题没有彻底解决，又出现了。");
      inc_.set_reopen_count(inc_.reopen_count() + 1);
      inc_.clear_assignee();
      inc_.clear_accepted_at();
      *inc_.mutable_reopened_at() = ToTimestamp(at);
      inc_.set_respond_overdue(false);
      inc_.set_resolve_overdue(false);
      inc_.set_status(v1::INCIDENT_STATUS_REOPENED);
      StartRound(at);
      Emit(v1::INCIDENT_EVENT_TYPE_REOPENED, at, Operator(), "operator", "");
      return;
    }
    if (rng_.Chance(0.78)) {
      fb->set_satisfaction(v1::SATISFACTION_SATISFIED);
      fb->set_comment("处理很及时，满意。");
    } else {
      fb->set_satisfaction(v1::SATISFACTION_BASICALLY_SATISFIED);
      fb->set_comment("基本解决了。");
    }
    *inc_.mutable_closed_at() = ToTimestamp(at);
    inc_.set_status(v1::INCIDENT_STATUS_CLOSED);
    Emit(v1::INCIDENT_EVENT_TYPE_CLOSED, at, Operator(), "operator", "");
  }

  // One of the grid's workers, another than `avoid` when the grid has one.
  std::string WorkerOf(int grid, const std::string& avoid) {
    std::vector<std::string> workers;
    for (int n = grid; n < kGridWorkers; n += kGrids) {
      if (GridWorker(n) != avoid) workers.push_back(GridWorker(n));
    }
    return workers.empty() ? avoid : rng_.Pick(workers);
  }

  std::string HolderRole() const {
    switch (inc_.assignee().kind()) {
      case v1::ASSIGNEE_KIND_DEPARTMENT:
        return "department";
      case v1::ASSIGNEE_KIND_VOLUNTEER:
        return "volunteer";
      default:
        return absl::StartsWith(inc_.assignee().id(), "gw-") ? "grid_worker" : "grid_leader";
    }
  }

  std::string Operator() { return absl::StrFormat("hotline-%02d", rng_.Int(1, 12)); }

  // MakeEvent (services/incidents/incidents.cc): id "<incident>.<version>", the snapshot
  // after the change without its history.
  void Emit(v1::IncidentEventType type, absl::Time at, const std::string& actor,
            const std::string& role, const std::string& detail) {
    inc_.set_version(inc_.version() + 1);
    *inc_.mutable_updated_at() = ToTimestamp(at);
    v1::IncidentEvent e;
    e.set_event_id(absl::StrCat(inc_.id(), ".", inc_.version()));
    e.set_incident_id(inc_.id());
    e.set_version(inc_.version());
    e.set_type(type);
    *e.mutable_occurred_at() = ToTimestamp(at);
    e.mutable_actor()->set_person_id(actor);
    e.mutable_actor()->set_role(role);
    e.set_detail(detail);
    *e.mutable_incident() = inc_;
    events_.push_back(std::move(e));
    last_ = at;
  }

  const Category& category_;
  const int grid_;
  Rng& rng_;
  bool cancel_ = false;
  bool to_department_ = false;
  bool reopen_ = false;
  bool no_feedback_ = false;
  absl::Time cancel_at_;
  absl::Time round_start_;
  bool first_holder_ = true;  // the first holder of this round: planned times apply
  std::string previous_holder_;
  std::vector<Check> checks_;
  absl::Time last_;
  v1::Incident inc_;
  std::vector<v1::IncidentEvent> events_;
};

// A local time of day for a report: mostly 07:00-22:00, some at night.
absl::Time ReportTime(Rng& rng) {
  const int days = static_cast<int>((kNow - kFirstReport) / absl::Hours(24)) + 1;
  while (true) {
    const absl::Time day = kFirstReport + absl::Hours(24) * rng.Int(0, days - 1);
    const absl::Duration in_day = rng.Chance(0.9) ? rng.Between(absl::Hours(7), absl::Hours(22))
                                                  : rng.Between(absl::Hours(22), absl::Hours(31));
    const absl::Time at = absl::FromUnixMillis(absl::ToUnixMillis(day + in_day));
    if (at < kNow) return at;
  }
}

// librdkafka's default partitioner (consistent_random): CRC-32 of the key modulo the
// partition count. The bare consumer checks every prediction.
int PartitionOf(absl::string_view key, int partitions) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? 0xEDB88320U ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFU;
  for (unsigned char ch : key) crc = table[(crc ^ ch) & 0xFFU] ^ (crc >> 8);
  return static_cast<int>((crc ^ 0xFFFFFFFFU) % static_cast<uint32_t>(partitions));
}

struct Produced {
  std::string key;
  std::string value;
  absl::Time at;
  int partition = 0;
};

struct Dataset {
  std::vector<Produced> records;  // in the order produced: by time, each incident in order
  int64_t incidents = 0;
  std::vector<int64_t> partition_bytes;
  std::vector<int64_t> partition_records;
  std::map<v1::IncidentEventType, int64_t> by_type;
};

// Incidents until one more would take a partition past `budget` bytes of keys and values.
Dataset Generate(const BenchOptions& opts) {
  Rng rng(static_cast<uint64_t>(opts.seed));
  const std::vector<Category>& categories = Categories();
  int total_weight = 0;
  for (const Category& c : categories) total_weight += c.weight;
  Dataset d;
  d.partition_bytes.assign(opts.partitions, 0);
  d.partition_records.assign(opts.partitions, 0);
  std::vector<Produced> records;
  while (true) {
    int w = rng.Int(0, total_weight - 1);
    const Category* category = categories.data();
    for (const Category& c : categories) {
      if (w < c.weight) {
        category = &c;
        break;
      }
      w -= c.weight;
    }
    std::vector<v1::IncidentEvent> events =
        Lifecycle(*category, rng.Int(0, kGrids - 1), ReportTime(rng), rng).Run();
    const std::string& key = events.front().incident_id();
    const int p = PartitionOf(key, opts.partitions);
    std::vector<Produced> mine;
    int64_t bytes = 0;
    for (const v1::IncidentEvent& e : events) {
      Produced r{key, e.SerializeAsString(), FromTimestamp(e.occurred_at()), p};
      bytes += static_cast<int64_t>(r.key.size() + r.value.size());
      mine.push_back(std::move(r));
    }
    if (d.partition_bytes[p] + bytes > opts.partition_bytes) break;
    d.partition_bytes[p] += bytes;
    d.partition_records[p] += static_cast<int64_t>(mine.size());
    ++d.incidents;
    for (const v1::IncidentEvent& e : events) ++d.by_type[e.type()];
    for (Produced& r : mine) records.push_back(std::move(r));
  }
  // The incidents service publishes as things happen: all incidents interleaved in time.
  std::stable_sort(records.begin(), records.end(),
                   [](const Produced& a, const Produced& b) { return a.at < b.at; });
  d.records = std::move(records);
  return d;
}

absl::Status ProduceAll(const std::string& brokers, const Dataset& d, absl::Duration timeout) {
  // Declared before the producer, whose delivery callbacks use them until it is gone.
  std::atomic<int64_t> failed{0};
  absl::Mutex first_error_mu;
  std::string first_error;
  kafka::ProducerOptions po;
  po.brokers = brokers;
  absl::StatusOr<std::unique_ptr<kafka::Producer>> producer = kafka::Producer::Create(po);
  if (!producer.ok()) return producer.status();
  for (const Produced& r : d.records) {
    absl::Status s = (*producer)->Produce(assessment::kIncidentEventsTopic, r.key, r.value, {},
                                          [&](const absl::Status& done) {
                                            if (done.ok()) return;
                                            failed.fetch_add(1);
                                            absl::MutexLock lock(&first_error_mu);
                                            if (first_error.empty()) first_error = done.ToString();
                                          });
    if (!s.ok()) return s;
  }
  if (absl::Status s = (*producer)->Flush(timeout); !s.ok()) return s;
  if (failed.load() != 0) {
    absl::MutexLock lock(&first_error_mu);
    return absl::UnavailableError(
        absl::StrCat(failed.load(), " records were not delivered, first: ", first_error));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------
// Measuring.

// Polls `done` every `every` until it holds or `deadline` passes.
template <typename Done>
bool WaitUntil(absl::Time deadline, absl::Duration every, Done done) {
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(every);
  }
  return true;
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  return v[i];
}

double Median(std::vector<double> v) { return Percentile(std::move(v), 0.5); }

double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// What Redis counts itself: calls per command (those scripts make included) and the
// server's CPU time.
struct RedisStats {
  std::map<std::string, int64_t> calls;
  std::map<std::string, int64_t> usec;
  double cpu_s = 0;
};

absl::StatusOr<RedisStats> ReadRedisStats(redis::Client& redis) {
  RedisStats out;
  for (const char* section : {"commandstats", "cpu"}) {
    absl::StatusOr<redis::Reply> info = redis.Command({"INFO", section});
    if (!info.ok()) return info.status();
    for (absl::string_view line : absl::StrSplit(info->str, "\r\n")) {
      if (absl::ConsumePrefix(&line, "cmdstat_")) {
        // cmdstat_hincrby:calls=12,usec=34,usec_per_call=...
        const std::vector<absl::string_view> name_rest = absl::StrSplit(line, ':');
        if (name_rest.size() != 2) continue;
        for (absl::string_view kv : absl::StrSplit(name_rest[1], ',')) {
          int64_t v = 0;
          if (absl::ConsumePrefix(&kv, "calls=") && absl::SimpleAtoi(kv, &v)) {
            out.calls[std::string(name_rest[0])] = v;
          } else if (absl::ConsumePrefix(&kv, "usec=") && absl::SimpleAtoi(kv, &v)) {
            out.usec[std::string(name_rest[0])] = v;
          }
        }
      } else if (absl::StartsWith(line, "used_cpu_sys:") ||
                 absl::StartsWith(line, "used_cpu_user:")) {
        double v = 0;
        if (absl::SimpleAtod(line.substr(line.find(':') + 1), &v)) out.cpu_s += v;
      }
    }
  }
  return out;
}

// Redis's work over a phase, per event.
struct RedisWork {
  double evalsha = 0;
  double hincrby = 0;
  double zadd = 0;
  double zrem = 0;
  double commands = 0;         // every command, those run by scripts included
  double script_us = 0;        // EVALSHA time inside Redis, per event
  double redis_cpu_share = 0;  // Redis CPU time / wall time
  double bench_cpu_share = 0;  // this process's CPU time / wall time
};

RedisWork WorkBetween(const RedisStats& a, const RedisStats& b, int64_t events, absl::Duration wall,
                      double bench_cpu_s) {
  auto delta = [&](const std::map<std::string, int64_t>& before,
                   const std::map<std::string, int64_t>& after, const std::string& name) {
    auto x = before.find(name);
    auto y = after.find(name);
    return static_cast<double>((y == after.end() ? 0 : y->second) -
                               (x == before.end() ? 0 : x->second));
  };
  const double n = static_cast<double>(std::max<int64_t>(events, 1));
  RedisWork w;
  w.evalsha = delta(a.calls, b.calls, "evalsha") / n;
  w.hincrby = delta(a.calls, b.calls, "hincrby") / n;
  w.zadd = delta(a.calls, b.calls, "zadd") / n;
  w.zrem = delta(a.calls, b.calls, "zrem") / n;
  double all = 0;
  for (const auto& [name, calls] : b.calls) all += delta(a.calls, b.calls, name);
  w.commands = all / n;
  w.script_us = delta(a.usec, b.usec, "evalsha") / n;
  w.redis_cpu_share = (b.cpu_s - a.cpu_s) / absl::ToDoubleSeconds(wall);
  w.bench_cpu_share = bench_cpu_s / absl::ToDoubleSeconds(wall);
  return w;
}

using Figures = std::map<std::string, std::map<std::string, std::string>>;

// Every counter of a generation, keyed without the generation: the figures themselves.
// As tests/integration/assessment_service_test.cc compares them: the incident records
// (their revision counts how often they were folded) and the dispatch dedupe sets are
// left out, every other hash and sorted set must match exactly.
absl::StatusOr<Figures> Counters(redis::Client& redis, int64_t generation) {
  Figures out;
  const std::string prefix = absl::StrCat("asm:{a}:", generation, ":");
  std::string cursor = "0";
  do {
    absl::StatusOr<redis::Reply> r =
        redis.Command({"SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000"});
    if (!r.ok()) return r.status();
    if (r->elements.size() != 2) return absl::InternalError("SCAN: unexpected reply");
    cursor = r->elements[0].str;
    std::vector<std::string> keys;
    std::vector<std::vector<std::string>> types;
    for (const redis::Reply& k : r->elements[1].elements) {
      const std::string rest = k.str.substr(prefix.size());
      if (absl::StartsWith(rest, "f:") || absl::StartsWith(rest, "seen:")) continue;
      keys.push_back(k.str);
      types.push_back({"TYPE", k.str});
    }
    if (keys.empty()) continue;
    absl::StatusOr<std::vector<redis::Reply>> typed = redis.Pipeline(types);
    if (!typed.ok()) return typed.status();
    std::vector<std::vector<std::string>> dumps;
    std::vector<std::string> dumped;
    for (size_t i = 0; i < keys.size(); ++i) {
      const std::string& type = (*typed)[i].str;
      if (type == "hash") {
        dumps.push_back({"HGETALL", keys[i]});
      } else if (type == "zset") {
        dumps.push_back({"ZRANGE", keys[i], "0", "-1", "WITHSCORES"});
      } else {
        continue;
      }
      dumped.push_back(keys[i]);
    }
    if (dumps.empty()) continue;
    absl::StatusOr<std::vector<redis::Reply>> values = redis.Pipeline(dumps);
    if (!values.ok()) return values.status();
    for (size_t i = 0; i < dumped.size(); ++i) {
      auto& m = out[dumped[i].substr(prefix.size())];
      const std::vector<redis::Reply>& v = (*values)[i].elements;
      for (size_t j = 0; j + 1 < v.size(); j += 2) m[v[j].str] = v[j + 1].str;
    }
  } while (cursor != "0");
  return out;
}

size_t FieldCount(const Figures& f) {
  size_t n = 0;
  for (const auto& [key, fields] : f) n += fields.size();
  return n;
}

// What assessment::App gives its consumer with `ac` (app.cc): assign mode over the same
// partitions of both event topics.
kafka::ConsumerOptions ConsumerOptionsLike(const assessment::AppConfig& ac,
                                           const std::string& group) {
  kafka::ConsumerOptions o;
  o.brokers = ac.kafka_brokers;
  o.group_id = group;
  for (int32_t p : ac.assign_partitions) {
    o.assign.emplace_back(ac.incident_topic, p);
    o.assign.emplace_back(ac.dispatch_topic, p);
  }
  o.max_attempts = ac.consumer_max_attempts;
  return o;
}

struct BareResult {
  absl::Duration elapsed;      // from Start() until the last record was handled
  absl::Duration first_after;  // from Start() until the first record reached the handler
};

// The baseline: reads the `n` records from the beginning, parsing each and nothing else.
// Fails unless every partition is complete from offset 0 and holds what was predicted.
absl::StatusOr<BareResult> RunBareConsumer(kafka::ConsumerOptions options, const Dataset& d,
                                           absl::Duration timeout) {
  struct PartitionSeen {
    int64_t count = 0;
    int64_t first = -1;
    int64_t last = -1;
    int64_t bytes = 0;
  };
  const auto n = static_cast<int64_t>(d.records.size());
  const size_t partitions = d.partition_records.size();
  // Touched by the consuming thread only, and read here after Stop() joined it.
  std::vector<PartitionSeen> seen(partitions);
  int64_t other = 0;
  absl::Time first_at;
  absl::Time finished;
  std::atomic<int64_t> handled{0};
  absl::Notification all_read;
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> consumer =
      kafka::Consumer::Create(std::move(options), [&](const kafka::Record& record) {
        if (handled.load() == 0) first_at = absl::Now();
        v1::IncidentEvent event;
        if (!event.ParseFromString(record.value)) {
          return absl::InvalidArgumentError("not an IncidentEvent");
        }
        if (record.topic == assessment::kIncidentEventsTopic && record.partition >= 0 &&
            static_cast<size_t>(record.partition) < partitions) {
          PartitionSeen& p = seen[record.partition];
          if (p.first < 0) p.first = record.offset;
          p.last = record.offset;
          ++p.count;
          p.bytes += static_cast<int64_t>(record.key.size() + record.value.size());
        } else {
          ++other;
        }
        if (handled.fetch_add(1) + 1 == n) {
          finished = absl::Now();
          all_read.Notify();
        }
        return absl::OkStatus();
      });
  if (!consumer.ok()) return consumer.status();
  const absl::Time start = absl::Now();
  (*consumer)->Start();
  const bool done = all_read.WaitForNotificationWithTimeout(timeout);
  // A moment for any record beyond `n` to show itself before the count is checked.
  absl::SleepFor(absl::Milliseconds(300));
  (*consumer)->Stop();
  if (!done) {
    return absl::DeadlineExceededError(
        absl::StrCat("bare consumer read ", handled.load(), " of ", n, " records"));
  }
  for (size_t p = 0; p < partitions; ++p) {
    const PartitionSeen& s = seen[p];
    if (s.count > 0 && (s.first != 0 || s.last + 1 != s.count)) {
      return absl::DataLossError(absl::StrCat("partition ", p, " read offsets ", s.first, "..",
                                              s.last, " (", s.count,
                                              " records): some aged out of the broker"));
    }
    if (s.count != d.partition_records[p] || s.bytes != d.partition_bytes[p]) {
      return absl::DataLossError(absl::StrCat("partition ", p, " holds ", s.count, " records, ",
                                              s.bytes, " bytes; expected ", d.partition_records[p],
                                              " records, ", d.partition_bytes[p], " bytes"));
    }
  }
  if (handled.load() != n || other != 0) {
    return absl::DataLossError(absl::StrCat("bare consumer read ", handled.load(), " records (",
                                            other, " elsewhere), expected ", n));
  }
  return BareResult{finished - start, first_at - start};
}

struct LatencyResult {
  std::vector<double> us;
  absl::Duration total;
};

// Folds every event, in the order produced, into an empty keyspace on its own Redis, one
// FoldIncidentEvent call at a time.
absl::StatusOr<LatencyResult> RunFoldLatency(const Dataset& d, const Clock* clock) {
  testing::RedisServer::Options redis_opts;
  redis_opts.appendonly = true;
  redis_opts.appendfsync = "everysec";
  absl::StatusOr<std::unique_ptr<testing::RedisServer>> server =
      testing::RedisServer::Start(redis_opts);
  if (!server.ok()) return server.status();
  redis::Options ro;
  ro.host = (*server)->host();
  ro.port = (*server)->port();
  absl::StatusOr<std::unique_ptr<redis::Client>> client = redis::Connect(ro);
  if (!client.ok()) return client.status();
  assessment::RedisAssessmentStore store(client->get(), clock);
  assessment::Folder folder(&store);
  LatencyResult out;
  out.us.reserve(d.records.size());
  const absl::Time start = absl::Now();
  for (const Produced& r : d.records) {
    v1::IncidentEvent event;
    if (!event.ParseFromString(r.value)) return absl::DataLossError("unparsable event");
    const absl::Time begin = absl::Now();
    if (absl::Status s = folder.FoldIncidentEvent(event); !s.ok()) return s;
    out.us.push_back(absl::ToDoubleMicroseconds(absl::Now() - begin));
  }
  out.total = absl::Now() - start;
  return out;
}

// ---------------------------------------------------------------------------------------
// A round.

struct RoundResult {
  int64_t events = 0;
  int64_t incidents = 0;
  double bare_rate = 0;
  double bare_first_s = 0;
  double live_ratio = 0;     // live_rate / bare_rate
  double rebuild_ratio = 0;  // rebuild_rate / bare_rate
  double live_rate = 0;
  double live_s = 0;
  double live_first_s = 0;
  double live_steady_rate = 0;  // from the first event folded on
  int64_t applied = 0;
  int64_t repeats = 0;
  double rebuild_rate = 0;
  double rebuild_s = 0;
  bool rebuilt_equals_live = false;
  int64_t figure_keys = 0;
  int64_t figure_fields = 0;
  RedisWork live_work;
  RedisWork rebuild_work;
  double fold_p50_ms = 0;
  double fold_p99_ms = 0;
  double fold_direct_rate = 0;
};

std::string Json(const RoundResult& r, int round, int partitions, bool median) {
  return absl::StrFormat(
      "{\"round\":%d,\"median\":%s,\"partitions\":%d,\"events\":%d,\"incidents\":%d,"
      "\"bare_events_per_s\":%.1f,\"live_events_per_s\":%.1f,\"live_ratio\":%.5f,"
      "\"rebuild_events_per_s\":%.1f,\"rebuild_ratio\":%.5f,\"rebuilt_equals_live\":%s,"
      "\"live_s\":%.3f,\"live_first_s\":%.3f,\"live_events_per_s_from_first\":%.1f,"
      "\"rebuild_s\":%.3f,\"bare_first_s\":%.3f,\"fold_p50_ms\":%.3f,\"fold_p99_ms\":%.3f,"
      "\"fold_direct_events_per_s\":%.1f,\"live_hincrby_per_event\":%.2f,"
      "\"rebuild_hincrby_per_event\":%.2f,\"rebuild_zadd_per_event\":%.2f,"
      "\"rebuild_commands_per_event\":%.2f,\"rebuild_script_us_per_event\":%.1f,"
      "\"live_redis_cpu_share\":%.3f,\"live_bench_cpu_share\":%.3f,"
      "\"rebuild_redis_cpu_share\":%.3f,\"rebuild_bench_cpu_share\":%.3f}",
      round, median ? "true" : "false", partitions, r.events, r.incidents, r.bare_rate, r.live_rate,
      r.live_ratio, r.rebuild_rate, r.rebuild_ratio, r.rebuilt_equals_live ? "true" : "false",
      r.live_s, r.live_first_s, r.live_steady_rate, r.rebuild_s, r.bare_first_s, r.fold_p50_ms,
      r.fold_p99_ms, r.fold_direct_rate, r.live_work.hincrby, r.rebuild_work.hincrby,
      r.rebuild_work.zadd, r.rebuild_work.commands, r.rebuild_work.script_us,
      r.live_work.redis_cpu_share, r.live_work.bench_cpu_share, r.rebuild_work.redis_cpu_share,
      r.rebuild_work.bench_cpu_share);
}

void PrintWork(const char* phase, const RedisWork& w) {
  absl::PrintF(
      "  %s, per event: %.2f EVALSHA, %.2f HINCRBY, %.2f ZADD, %.2f ZREM, %.1f Redis commands "
      "in all (those of scripts included), %.1f us inside EVALSHA; Redis CPU %.0f%% and this "
      "process %.0f%% of wall time\n",
      phase, w.evalsha, w.hincrby, w.zadd, w.zrem, w.commands, w.script_us, 100 * w.redis_cpu_share,
      100 * w.bench_cpu_share);
}

// "INCIDENT_EVENT_TYPE_REPORTED" -> "reported".
std::string LowerName(absl::string_view enum_name, absl::string_view prefix) {
  std::string name(absl::StripPrefix(enum_name, prefix));
  absl::AsciiStrToLower(&name);
  return name;
}

absl::StatusOr<RoundResult> RunRound(const BenchOptions& opts) {
  const Clock* clock = SystemClock::Get();
  RoundResult result;

  // 1. The events.
  const absl::Time gen_start = absl::Now();
  const Dataset d = Generate(opts);
  const auto n = static_cast<int64_t>(d.records.size());
  result.events = n;
  result.incidents = d.incidents;
  std::string per_partition;
  for (int64_t b : d.partition_bytes) {
    absl::StrAppendFormat(&per_partition, "%s%.2f", per_partition.empty() ? "" : " / ",
                          static_cast<double>(b) / (1024.0 * 1024.0));
  }
  std::string by_type;
  for (const auto& [type, count] : d.by_type) {
    absl::StrAppendFormat(&by_type, "%s%s %d", by_type.empty() ? "" : ", ",
                          LowerName(v1::IncidentEventType_Name(type), "INCIDENT_EVENT_TYPE_"),
                          count);
  }
  absl::PrintF("generated %d events of %d incidents in %.2f s (%s)\n", n, d.incidents,
               absl::ToDoubleSeconds(absl::Now() - gen_start), by_type);
  absl::PrintF("  keys + values per partition: %s MiB\n", per_partition);
  std::fflush(stdout);

  testing::RedisServer::Options redis_opts;
  redis_opts.appendonly = true;
  redis_opts.appendfsync = "everysec";
  absl::StatusOr<std::unique_ptr<testing::RedisServer>> redis_server =
      testing::RedisServer::Start(redis_opts);
  if (!redis_server.ok()) return redis_server.status();
  absl::StatusOr<std::unique_ptr<testing::MockKafkaCluster>> kafka =
      testing::MockKafkaCluster::Start(1);
  if (!kafka.ok()) return kafka.status();
  const std::string brokers = (*kafka)->bootstrap();
  for (auto [topic, partitions] :
       {std::pair<const char*, int>{assessment::kIncidentEventsTopic, opts.partitions},
        std::pair<const char*, int>{assessment::kDispatchEventsTopic, opts.partitions},
        std::pair<const char*, int>{assessment::kScoreEventsTopic, 1}}) {
    if (absl::Status s = (*kafka)->CreateTopic(topic, partitions); !s.ok()) return s;
  }
  redis::Options ro;
  ro.host = (*redis_server)->host();
  ro.port = (*redis_server)->port();
  absl::StatusOr<std::unique_ptr<redis::Client>> redis = redis::Connect(ro);
  if (!redis.ok()) return redis.status();

  const absl::Time produce_start = absl::Now();
  if (absl::Status s = ProduceAll(brokers, d, opts.timeout); !s.ok()) return s;
  absl::PrintF("produced to %s (%d partitions) in %.2f s\n", assessment::kIncidentEventsTopic,
               opts.partitions, absl::ToDoubleSeconds(absl::Now() - produce_start));
  std::fflush(stdout);

  assessment::AppConfig ac;
  ac.listen = "127.0.0.1:0";
  ac.redis = (*redis_server)->address();
  ac.kafka_brokers = brokers;
  for (int32_t p = 0; p < opts.partitions; ++p) ac.assign_partitions.push_back(p);
  // Surveys are not exercised: nothing asks the residents service.
  ac.residents_addr = "127.0.0.1:1";
  ac.relay = true;

  // 2. Baseline.
  absl::StatusOr<BareResult> bare =
      RunBareConsumer(ConsumerOptionsLike(ac, "gridloop-assessment-bench-bare"), d, opts.timeout);
  if (!bare.ok()) return bare.status();
  result.bare_rate = static_cast<double>(n) / absl::ToDoubleSeconds(bare->elapsed);
  result.bare_first_s = absl::ToDoubleSeconds(bare->first_after);
  absl::PrintF(
      "bare consumer: %d records in %.3f s = %.0f events/s (first record after %.3f s; every "
      "partition complete from offset 0, as predicted)\n",
      n, absl::ToDoubleSeconds(bare->elapsed), result.bare_rate, result.bare_first_s);
  std::fflush(stdout);

  // 3. Live fold.
  absl::StatusOr<RedisStats> live_before = ReadRedisStats(**redis);
  if (!live_before.ok()) return live_before.status();
  const double live_cpu_before = ProcessCpuSeconds();
  const absl::Time live_start = absl::Now();
  absl::StatusOr<std::unique_ptr<assessment::App>> app = assessment::App::Start(ac, clock);
  if (!app.ok()) return app.status();
  kafka::Consumer* consumer = (*app)->consumer();
  absl::Time first_folded = absl::InfiniteFuture();
  const bool folded = WaitUntil(absl::Now() + opts.timeout, absl::Milliseconds(1), [&] {
    const int64_t done = consumer->processed();
    if (done > 0 && first_folded == absl::InfiniteFuture()) first_folded = absl::Now();
    return done >= n || consumer->dead_lettered() > 0;
  });
  const absl::Time live_end = absl::Now();
  const double live_cpu = ProcessCpuSeconds() - live_cpu_before;
  if (!folded || consumer->dead_lettered() > 0) {
    return absl::DeadlineExceededError(absl::StrCat("assessment folded ", consumer->processed(),
                                                    " of ", n, " events (",
                                                    consumer->dead_lettered(), " dead-lettered)"));
  }
  absl::StatusOr<RedisStats> live_after = ReadRedisStats(**redis);
  if (!live_after.ok()) return live_after.status();
  const absl::Duration live = live_end - live_start;
  result.live_s = absl::ToDoubleSeconds(live);
  result.live_rate = static_cast<double>(n) / result.live_s;
  result.live_first_s = absl::ToDoubleSeconds(first_folded - live_start);
  result.live_steady_rate = static_cast<double>(n) / absl::ToDoubleSeconds(live_end - first_folded);
  result.applied = (*app)->folder().applied();
  result.repeats = (*app)->folder().repeats();
  result.live_work = WorkBetween(*live_before, *live_after, n, live, live_cpu);
  absl::PrintF(
      "live fold: %d events in %.3f s = %.0f events/s (first folded after %.3f s; %.0f events/s "
      "from then on); %d changed a figure, %d changed nothing\n",
      n, result.live_s, result.live_rate, result.live_first_s, result.live_steady_rate,
      result.applied, result.repeats);
  PrintWork("live", result.live_work);
  std::fflush(stdout);

  absl::StatusOr<assessment::Generations> g = (*app)->store().GetGenerations();
  if (!g.ok()) return g.status();
  absl::StatusOr<Figures> live_figures = Counters(**redis, g->current);
  if (!live_figures.ok()) return live_figures.status();
  result.figure_keys = static_cast<int64_t>(live_figures->size());
  result.figure_fields = static_cast<int64_t>(FieldCount(*live_figures));

  // 4. Rebuild.
  Caller op;
  op.person_id = "assessment-bench";
  op.role = Role::kSystem;
  v1::StartRebuildRequest start_req;
  start_req.set_request_id("bench-rebuild");
  start_req.set_formula_version("v1");
  absl::StatusOr<RedisStats> rebuild_before = ReadRedisStats(**redis);
  if (!rebuild_before.ok()) return rebuild_before.status();
  const double rebuild_cpu_before = ProcessCpuSeconds();
  const absl::Time rebuild_start = absl::Now();
  absl::StatusOr<v1::Rebuild> started = (*app)->rebuilder().Start(op, start_req);
  if (!started.ok()) return started.status();
  v1::GetRebuildRequest get_req;
  get_req.set_rebuild_id(start_req.request_id());
  v1::Rebuild done;
  // Every 10 ms: each look is a Redis read, which should not take from the rebuild.
  const bool finished = WaitUntil(absl::Now() + opts.timeout, absl::Milliseconds(10), [&] {
    absl::StatusOr<v1::Rebuild> now = (*app)->rebuilder().Get(op, get_req);
    if (!now.ok()) return false;
    done = *std::move(now);
    return done.state() != v1::REBUILD_STATE_RUNNING;
  });
  const absl::Time rebuild_end = absl::Now();
  const double rebuild_cpu = ProcessCpuSeconds() - rebuild_cpu_before;
  if (!finished) {
    return absl::DeadlineExceededError(
        absl::StrCat("the rebuild folded ", done.events_folded(), " of ", n, " events"));
  }
  if (done.state() != v1::REBUILD_STATE_SWITCHED) {
    return absl::InternalError(absl::StrCat("the rebuild failed: ", done.error()));
  }
  if (done.events_folded() != n) {
    return absl::DataLossError(
        absl::StrCat("the rebuild folded ", done.events_folded(), " events, expected ", n));
  }
  absl::StatusOr<RedisStats> rebuild_after = ReadRedisStats(**redis);
  if (!rebuild_after.ok()) return rebuild_after.status();
  const absl::Duration rebuild = rebuild_end - rebuild_start;
  result.rebuild_s = absl::ToDoubleSeconds(rebuild);
  result.rebuild_rate = static_cast<double>(done.events_folded()) / result.rebuild_s;
  result.live_ratio = result.live_rate / result.bare_rate;
  result.rebuild_ratio = result.rebuild_rate / result.bare_rate;
  result.rebuild_work = WorkBetween(*rebuild_before, *rebuild_after, n, rebuild, rebuild_cpu);
  absl::PrintF("rebuild: %d events folded into generation %d in %.3f s = %.0f events/s\n",
               done.events_folded(), done.generation(), result.rebuild_s, result.rebuild_rate);
  PrintWork("rebuild", result.rebuild_work);

  absl::StatusOr<Figures> rebuilt = Counters(**redis, done.generation());
  if (!rebuilt.ok()) return rebuilt.status();
  result.rebuilt_equals_live = *rebuilt == *live_figures;
  absl::PrintF(
      "  figures: %d keys, %d fields in generation %d (live) and %d keys, %d fields in "
      "generation %d (rebuilt)\n",
      result.figure_keys, result.figure_fields, g->current, rebuilt->size(), FieldCount(*rebuilt),
      done.generation());
  absl::PrintF("rebuilt == live: %s\n", result.rebuilt_equals_live ? "yes" : "no");
  std::fflush(stdout);
  app->reset();

  // 5. Per-event fold latency.
  if (opts.fold_latency) {
    absl::StatusOr<LatencyResult> lat = RunFoldLatency(d, clock);
    if (!lat.ok()) return lat.status();
    result.fold_p50_ms = Percentile(lat->us, 0.50) / 1000;
    result.fold_p99_ms = Percentile(lat->us, 0.99) / 1000;
    result.fold_direct_rate = static_cast<double>(n) / absl::ToDoubleSeconds(lat->total);
    absl::PrintF(
        "FoldIncidentEvent, one call at a time into an empty keyspace: p50 %.3f ms, p99 %.3f ms "
        "(%.0f events/s)\n",
        result.fold_p50_ms, result.fold_p99_ms, result.fold_direct_rate);
    std::fflush(stdout);
  }
  return result;
}

void PrintSummary(const RoundResult& r, const std::string& label) {
  absl::PrintF(
      "%s: %d events, %d incidents | bare consumer %.0f events/s | live fold %.0f events/s "
      "(%.2f%% of bare) | rebuild %.0f events/s (%.2f%% of bare) | rebuilt == live: %s\n",
      label, r.events, r.incidents, r.bare_rate, r.live_rate, 100 * r.live_ratio, r.rebuild_rate,
      100 * r.rebuild_ratio, r.rebuilt_equals_live ? "yes" : "no");
}

int Fail(const absl::Status& status, int code = 1) {
  absl::FPrintF(stderr, "assessment-bench: %s\n", status.ToString());
  return code;
}

// The first `count` incidents reported, event by event, in local time.
void ShowIncidents(const Dataset& d, int count) {
  std::map<std::string, std::vector<v1::IncidentEvent>> lives;
  std::vector<std::string> order;
  for (const Produced& r : d.records) {
    v1::IncidentEvent e;
    if (!e.ParseFromString(r.value)) continue;
    auto [it, added] = lives.try_emplace(r.key);
    if (added) {
      if (static_cast<int>(order.size()) == count) {
        lives.erase(it);
        continue;
      }
      order.push_back(r.key);
    }
    it->second.push_back(std::move(e));
  }
  const absl::TimeZone local = absl::FixedTimeZone(8 * 3600);
  for (const std::string& id : order) {
    const std::vector<v1::IncidentEvent>& events = lives[id];
    const v1::Incident& first = events.front().incident();
    absl::PrintF("%s %s %s, respond by %s, resolve by %s\n", id, first.category(),
                 first.region_code(),
                 absl::FormatTime("%m-%d %H:%M", FromTimestamp(first.respond_by()), local),
                 absl::FormatTime("%m-%d %H:%M", FromTimestamp(first.resolve_by()), local));
    for (const v1::IncidentEvent& e : events) {
      const v1::Incident& inc = e.incident();
      absl::PrintF(
          "  v%d %s %-9s by %s (%s)%s -> %s, level %d, assignee %s%s%s%s\n", e.version(),
          absl::FormatTime("%m-%d %H:%M:%S", FromTimestamp(e.occurred_at()), local),
          LowerName(v1::IncidentEventType_Name(e.type()), "INCIDENT_EVENT_TYPE_"),
          e.actor().person_id(), e.actor().role(),
          e.detail().empty() ? "" : absl::StrCat(" ", e.detail()),
          LowerName(v1::IncidentStatus_Name(inc.status()), "INCIDENT_STATUS_"),
          static_cast<int>(inc.escalation_level()),
          inc.assignee().id().empty() ? "-" : inc.assignee().id(),
          inc.respond_overdue() ? ", respond overdue" : "",
          inc.resolve_overdue() ? ", resolve overdue" : "",
          inc.has_feedback()
              ? absl::StrCat(", feedback ",
                             LowerName(v1::Satisfaction_Name(inc.feedback().satisfaction()),
                                       "SATISFACTION_"))
              : "");
    }
  }
}

int Run(const BenchOptions& opts) {
  if (opts.show_incidents > 0) {
    ShowIncidents(Generate(opts), opts.show_incidents);
    return 0;
  }
  std::vector<RoundResult> rounds;
  bool all_equal = true;
  for (int round = 1; round <= opts.rounds; ++round) {
    absl::PrintF("--- round %d of %d\n", round, opts.rounds);
    std::fflush(stdout);
    absl::StatusOr<RoundResult> r = RunRound(opts);
    if (!r.ok()) return Fail(r.status());
    PrintSummary(*r, absl::StrCat("round ", round));
    absl::PrintF("%s\n", Json(*r, round, opts.partitions, false));
    std::fflush(stdout);
    all_equal = all_equal && r->rebuilt_equals_live;
    rounds.push_back(*r);
  }
  if (rounds.size() > 1) {
    auto med = [&](auto field) {
      std::vector<double> v;
      v.reserve(rounds.size());
      for (const RoundResult& r : rounds) v.push_back(static_cast<double>(field(r)));
      return Median(std::move(v));
    };
    RoundResult m = rounds.front();  // events, incidents: the same every round
    m.bare_rate = med([](const RoundResult& r) { return r.bare_rate; });
    m.bare_first_s = med([](const RoundResult& r) { return r.bare_first_s; });
    m.live_rate = med([](const RoundResult& r) { return r.live_rate; });
    m.live_s = med([](const RoundResult& r) { return r.live_s; });
    m.live_first_s = med([](const RoundResult& r) { return r.live_first_s; });
    m.live_steady_rate = med([](const RoundResult& r) { return r.live_steady_rate; });
    m.rebuild_rate = med([](const RoundResult& r) { return r.rebuild_rate; });
    m.rebuild_s = med([](const RoundResult& r) { return r.rebuild_s; });
    m.fold_p50_ms = med([](const RoundResult& r) { return r.fold_p50_ms; });
    m.fold_p99_ms = med([](const RoundResult& r) { return r.fold_p99_ms; });
    m.fold_direct_rate = med([](const RoundResult& r) { return r.fold_direct_rate; });
    m.live_work.hincrby = med([](const RoundResult& r) { return r.live_work.hincrby; });
    m.live_work.redis_cpu_share =
        med([](const RoundResult& r) { return r.live_work.redis_cpu_share; });
    m.live_work.bench_cpu_share =
        med([](const RoundResult& r) { return r.live_work.bench_cpu_share; });
    m.rebuild_work.hincrby = med([](const RoundResult& r) { return r.rebuild_work.hincrby; });
    m.rebuild_work.zadd = med([](const RoundResult& r) { return r.rebuild_work.zadd; });
    m.rebuild_work.commands = med([](const RoundResult& r) { return r.rebuild_work.commands; });
    m.rebuild_work.script_us = med([](const RoundResult& r) { return r.rebuild_work.script_us; });
    m.rebuild_work.redis_cpu_share =
        med([](const RoundResult& r) { return r.rebuild_work.redis_cpu_share; });
    m.rebuild_work.bench_cpu_share =
        med([](const RoundResult& r) { return r.rebuild_work.bench_cpu_share; });
    // The median of the ratios, each taken within its round, not the ratio of the medians.
    m.live_ratio = med([](const RoundResult& r) { return r.live_ratio; });
    m.rebuild_ratio = med([](const RoundResult& r) { return r.rebuild_ratio; });
    m.rebuilt_equals_live = all_equal;
    PrintSummary(m, absl::StrCat("median of ", rounds.size()));
    absl::PrintF("%s\n", Json(m, 0, opts.partitions, true));
    std::fflush(stdout);
  }
  if (!all_equal) {
    absl::FPrintF(stderr, "assessment-bench: the rebuilt figures differ from the live ones\n");
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace gridloop

int main(int argc, char** argv) {
  // As every service's main does (server::PrepareProcess), less the blocked signals: the
  // app shares this process, and Ctrl-C should end the whole run.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  gridloop::log::SetService("assessment-bench");
  if (std::getenv("GRIDLOOP_LOG_LEVEL") == nullptr) {
    gridloop::log::SetLevel(gridloop::log::Level::kWarn);
  }
  absl::StatusOr<gridloop::config::Settings> settings =
      gridloop::config::Settings::FromProcess(argc, argv);
  if (!settings.ok()) return gridloop::Fail(settings.status(), 2);
  absl::StatusOr<gridloop::BenchOptions> options = gridloop::ParseOptions(*settings);
  if (!options.ok()) return gridloop::Fail(options.status(), 2);
  return gridloop::Run(*options);
}
