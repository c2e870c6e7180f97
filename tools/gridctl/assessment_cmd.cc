#include "tools/gridctl/assessment_cmd.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock/proto_time.h"
#include "gridloop/v1/assessment.grpc.pb.h"

namespace gridloop::gridctl {
namespace {

namespace v1 = ::gridloop::v1;

std::string Upper(std::string s) {
  absl::AsciiStrToUpper(&s);
  return s;
}

std::string Local(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", FromTimestamp(ts), absl::FixedTimeZone(8 * 3600));
}

class AssessmentCli {
 public:
  explicit AssessmentCli(const config::Settings& s) : settings_(s) {
    stub_ = v1::AssessmentService::NewStub(grpc::CreateChannel(
        s.Get("assessment_addr", "127.0.0.1:50054"), grpc::InsecureChannelCredentials()));
    std::vector<std::string> as = absl::StrSplit(s.Get("as", "ops-01:operator"), ':');
    person_ = as.empty() ? "" : as[0];
    role_ = as.size() > 1 ? as[1] : "operator";
    scope_ = s.Get("scope", s.Get("city_region", "3301"));
  }

  int Run(const std::string& sub) {
    if (sub == "rebuild") return Rebuild();
    if (sub == "scorecard") return Scorecard();
    if (sub == "rankings") return Rankings();
    if (sub == "trend") return Trend();
    std::cerr << "usage: gridctl assessment rebuild|scorecard|rankings|trend [--name=value ...]\n";
    return 2;
  }

 private:
  std::unique_ptr<grpc::ClientContext> Context() const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ctx->AddMetadata("x-gridloop-person", person_);
    ctx->AddMetadata("x-gridloop-role", role_);
    if (!scope_.empty()) ctx->AddMetadata("x-gridloop-region", scope_);
    return ctx;
  }

  static int Fail(const grpc::Status& s) {
    std::cerr << "error: " << s.error_code() << " " << s.error_message() << "\n";
    return 1;
  }

  bool Kind(v1::SubjectKind* out) const {
    const std::string name = "SUBJECT_KIND_" + Upper(settings_.Get("kind", "region"));
    if (!v1::SubjectKind_Parse(name, out) || *out == v1::SUBJECT_KIND_UNSPECIFIED) {
      std::cerr << "--kind: region, grid_worker, volunteer or department\n";
      return false;
    }
    return true;
  }

  bool Period(v1::Period* out) const {
    const std::string name = "PERIOD_" + Upper(settings_.Get("period", "month"));
    if (!v1::Period_Parse(name, out) || *out == v1::PERIOD_UNSPECIFIED) {
      std::cerr << "--period: day, week, month, quarter or year\n";
      return false;
    }
    return true;
  }

  bool At(google::protobuf::Timestamp* out) const {
    const std::string text = settings_.Get("at", "");
    if (text.empty()) return true;
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
      std::cerr << "--at: an RFC 3339 time, e.g. 2026-11-27T09:00:00+08:00\n";
      return false;
    }
    *out = ToTimestamp(t);
    return true;
  }

  static void Print(const v1::Scorecard& c) {
    std::printf("%s %s  %s  (formula %s)\n",
                v1::SubjectKind_Name(c.subject_kind()).substr(13).c_str(), c.subject_id().c_str(),
                c.period_key().c_str(), c.formula_version().c_str());
    std::printf("  received %lld, cancelled %lld\n", static_cast<long long>(c.received()),
                static_cast<long long>(c.cancelled()));
    for (const v1::Rate& r : c.rates()) {
      if (r.denominator() == 0) {
        std::printf("  %-20s      -   (no data)\n", r.name().c_str());
        continue;
      }
      std::printf("  %-20s %6.1f%%  %g / %lld%s\n", r.name().c_str(), 100 * r.value(),
                  r.numerator(), static_cast<long long>(r.denominator()),
                  r.weight() > 0 ? absl::StrCat("   weight ", r.weight()).c_str() : "");
    }
    if (c.subject_kind() == v1::SUBJECT_KIND_VOLUNTEER) {
      std::printf("  service: %.1f h, %lld points\n", c.service_hours(),
                  static_cast<long long>(c.service_points()));
    }
    if (c.insufficient_sample()) {
      // Every level is missed for the same reason: say it once.
      std::printf("  score %.1f, not rated: %s\n", c.score(),
                  c.missed().empty() ? "insufficient sample" : c.missed(0).reason().c_str());
      return;
    }
    std::printf("  score %.1f, %d stars%s\n", c.score(), c.stars(), c.frozen() ? " (frozen)" : "");
    for (const v1::StarLevelMiss& m : c.missed()) {
      std::printf("  not %d stars: %s\n", m.stars(), m.reason().c_str());
    }
  }

  int Scorecard() {
    v1::GetScorecardRequest req;
    v1::SubjectKind kind;
    v1::Period period;
    if (!Kind(&kind) || !Period(&period) || !At(req.mutable_at())) return 2;
    req.set_subject_kind(kind);
    req.set_subject_id(settings_.Get("id", ""));
    req.set_period(period);
    v1::Scorecard card;
    grpc::Status s = stub_->GetScorecard(Context().get(), req, &card);
    if (!s.ok()) return Fail(s);
    Print(card);
    return 0;
  }

  int Rankings() {
    v1::ListRankingsRequest req;
    v1::SubjectKind kind;
    v1::Period period;
    if (!Kind(&kind) || !Period(&period) || !At(req.mutable_at())) return 2;
    int depth = 0;
    int limit = 10;
    if (!absl::SimpleAtoi(settings_.Get("depth", "0"), &depth) ||
        !absl::SimpleAtoi(settings_.Get("limit", "10"), &limit)) {
      std::cerr << "--depth and --limit are numbers\n";
      return 2;
    }
    req.set_subject_kind(kind);
    req.set_within_region(settings_.Get("within", ""));
    req.set_region_depth(depth);
    req.set_period(period);
    req.set_limit(limit);
    req.set_order(settings_.Has("bottom") ? v1::RANKING_ORDER_BOTTOM : v1::RANKING_ORDER_TOP);
    v1::ListRankingsResponse resp;
    grpc::Status s = stub_->ListRankings(Context().get(), req, &resp);
    if (!s.ok()) return Fail(s);
    std::printf("%-5s %-28s %7s %6s %9s\n", "RANK", "SUBJECT", "SCORE", "STARS", "RECEIVED");
    for (const v1::RankingEntry& e : resp.entries()) {
      std::printf("%-5d %-28s %7.1f %6d %9lld\n", e.rank(), e.scorecard().subject_id().c_str(),
                  e.scorecard().score(), e.scorecard().stars(),
                  static_cast<long long>(e.scorecard().received()));
    }
    std::printf("%d ranked, %d with too few incidents (formula %s)\n", resp.ranked(),
                resp.insufficient_sample(), resp.formula_version().c_str());
    return 0;
  }

  int Trend() {
    v1::GetTrendRequest req;
    v1::SubjectKind kind;
    v1::Period period;
    if (!Kind(&kind) || !Period(&period) || !At(req.mutable_at())) return 2;
    int n = 6;
    if (!absl::SimpleAtoi(settings_.Get("periods", "6"), &n)) {
      std::cerr << "--periods is a number\n";
      return 2;
    }
    req.set_subject_kind(kind);
    req.set_subject_id(settings_.Get("id", ""));
    req.set_period(period);
    req.set_periods(n);
    v1::GetTrendResponse resp;
    grpc::Status s = stub_->GetTrend(Context().get(), req, &resp);
    if (!s.ok()) return Fail(s);
    for (const v1::Scorecard& c : resp.scorecards()) {
      std::printf("%-12s received %5lld  score %5.1f  %s\n", c.period_key().c_str(),
                  static_cast<long long>(c.received()), c.score(),
                  c.insufficient_sample() ? "insufficient sample"
                                          : absl::StrCat(c.stars(), " stars").c_str());
    }
    return 0;
  }

  // Starts a rebuild and follows it to the end: the exit code says whether it switched.
  int Rebuild() {
    v1::StartRebuildRequest req;
    req.set_request_id(
        settings_.Get("id", absl::StrCat("rebuild-", absl::ToUnixSeconds(absl::Now()))));
    req.set_formula_version(settings_.Get("formula", ""));
    v1::Rebuild r;
    grpc::Status s = stub_->StartRebuild(Context().get(), req, &r);
    if (!s.ok()) return Fail(s);
    std::printf("rebuild %s: generation %lld replaces %lld, formula %s\n", r.id().c_str(),
                static_cast<long long>(r.generation()),
                static_cast<long long>(r.previous_generation()), r.formula_version().c_str());
    const absl::Time started = absl::Now();
    while (r.state() == v1::REBUILD_STATE_RUNNING) {
      absl::SleepFor(absl::Milliseconds(500));
      v1::GetRebuildRequest get;
      get.set_rebuild_id(r.id());
      s = stub_->GetRebuild(Context().get(), get, &r);
      if (!s.ok()) return Fail(s);
      std::printf("  %lld events folded\n", static_cast<long long>(r.events_folded()));
    }
    const double secs = absl::ToDoubleSeconds(absl::Now() - started);
    if (r.state() != v1::REBUILD_STATE_SWITCHED) {
      std::printf("rebuild %s failed: %s\n", r.id().c_str(), r.error().c_str());
      return 1;
    }
    std::printf("rebuild %s switched over: %lld events in %.1f s (%.0f/s), finished %s\n",
                r.id().c_str(), static_cast<long long>(r.events_folded()), secs,
                secs > 0 ? static_cast<double>(r.events_folded()) / secs : 0.0,
                Local(r.finished_at()).c_str());
    return 0;
  }

  const config::Settings& settings_;
  std::unique_ptr<v1::AssessmentService::Stub> stub_;
  std::string person_;
  std::string role_;
  std::string scope_;
};

}  // namespace

int RunAssessment(const std::string& sub, const config::Settings& settings) {
  return AssessmentCli(settings).Run(sub);
}

}  // namespace gridloop::gridctl
