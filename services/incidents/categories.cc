#include "services/incidents/categories.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace gridloop::incidents {
namespace {

using absl::Hours;
using absl::Minutes;

bool ValidCode(absl::string_view code) {
  if (code.empty() || code.size() > 64) return false;
  for (char c : code) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' || c == '.' || c == '-')) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<v1::Urgency> ParseUrgency(absl::string_view s) {
  if (s == "low") return v1::URGENCY_LOW;
  if (s == "normal") return v1::URGENCY_NORMAL;
  if (s == "high") return v1::URGENCY_HIGH;
  if (s == "critical") return v1::URGENCY_CRITICAL;
  return absl::InvalidArgumentError(absl::StrCat("unknown urgency \"", s, "\""));
}

absl::StatusOr<v1::AssigneeKind> ParseHandledBy(absl::string_view s) {
  if (s == "grid_worker") return v1::ASSIGNEE_KIND_GRID_WORKER;
  if (s == "volunteer") return v1::ASSIGNEE_KIND_VOLUNTEER;
  if (s == "department") return v1::ASSIGNEE_KIND_DEPARTMENT;
  return absl::InvalidArgumentError(absl::StrCat("unknown handled_by \"", s, "\""));
}

}  // namespace

Taxonomy::Taxonomy(std::vector<Category> categories) : categories_(std::move(categories)) {
  for (size_t i = 0; i < categories_.size(); ++i) by_code_[categories_[i].code] = i;
}

Taxonomy Taxonomy::Default() {
  // Deadlines follow the rules of thumb of the grid reports: small problems the same day
  // (今日事今日毕), safety first, disputes and construction given the time they need.
  using v1::ASSIGNEE_KIND_DEPARTMENT;
  using v1::ASSIGNEE_KIND_GRID_WORKER;
  using v1::ASSIGNEE_KIND_VOLUNTEER;
  return Taxonomy({
      {"street_light", "路灯故障", v1::URGENCY_NORMAL, Hours(4), Hours(24),
       ASSIGNEE_KIND_DEPARTMENT, "urban_management"},
      {"roof_leak", "房屋漏水", v1::URGENCY_HIGH, Hours(2), Hours(48), ASSIGNEE_KIND_GRID_WORKER,
       ""},
      {"neighbour_dispute", "邻里纠纷", v1::URGENCY_NORMAL, Hours(4), Hours(72),
       ASSIGNEE_KIND_GRID_WORKER, ""},
      {"noise", "噪音扰民", v1::URGENCY_NORMAL, Hours(2), Hours(24), ASSIGNEE_KIND_GRID_WORKER, ""},
      {"sanitation", "环境卫生", v1::URGENCY_LOW, Hours(4), Hours(24), ASSIGNEE_KIND_GRID_WORKER,
       ""},
      {"illegal_construction", "违章搭建", v1::URGENCY_NORMAL, Hours(8), Hours(24 * 7),
       ASSIGNEE_KIND_DEPARTMENT, "urban_management"},
      {"property_management", "物业纠纷", v1::URGENCY_NORMAL, Hours(8), Hours(24 * 5),
       ASSIGNEE_KIND_GRID_WORKER, ""},
      {"elderly_help", "为老服务", v1::URGENCY_HIGH, Hours(1), Hours(24), ASSIGNEE_KIND_VOLUNTEER,
       ""},
      {"disability_help", "助残服务", v1::URGENCY_HIGH, Hours(1), Hours(24),
       ASSIGNEE_KIND_VOLUNTEER, ""},
      {"safety_hazard", "安全隐患", v1::URGENCY_CRITICAL, Minutes(30), Hours(8),
       ASSIGNEE_KIND_GRID_WORKER, ""},
      {"public_facility", "公共设施损坏", v1::URGENCY_NORMAL, Hours(4), Hours(72),
       ASSIGNEE_KIND_DEPARTMENT, "housing"},
      {"other", "其他", v1::URGENCY_NORMAL, Hours(8), Hours(72), ASSIGNEE_KIND_GRID_WORKER, ""},
  });
}

absl::StatusOr<Taxonomy> Taxonomy::FromCsv(absl::string_view csv) {
  std::vector<Category> out;
  std::map<std::string, int, std::less<>> seen;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(csv, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    std::vector<std::string> cols = absl::StrSplit(line, ',');
    for (auto& c : cols) c = std::string(absl::StripAsciiWhitespace(c));
    if (cols.size() >= 1 && cols[0] == "code") continue;  // the header row
    auto bad = [&](absl::string_view column, absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("categories line ", line_no, ", ", column, ": ", why));
    };
    if (cols.size() != 7) return bad("row", "expected 7 columns");
    Category c;
    c.code = cols[0];
    if (!ValidCode(c.code)) return bad("code", "must be 1-64 of [a-z0-9_.-]");
    if (seen.count(c.code)) return bad("code", absl::StrCat("duplicate \"", c.code, "\""));
    seen[c.code] = line_no;
    c.name = cols[1];
    if (c.name.empty()) return bad("name", "required");
    auto urgency = ParseUrgency(cols[2]);
    if (!urgency.ok()) return bad("default_urgency", urgency.status().message());
    c.default_urgency = *urgency;
    if (!absl::ParseDuration(cols[3], &c.respond_within) ||
        c.respond_within <= absl::ZeroDuration()) {
      return bad("respond_within", "not a positive duration");
    }
    if (!absl::ParseDuration(cols[4], &c.resolve_within) || c.resolve_within < c.respond_within) {
      return bad("resolve_within", "not a duration at least respond_within");
    }
    auto handled_by = ParseHandledBy(cols[5]);
    if (!handled_by.ok()) return bad("handled_by", handled_by.status().message());
    c.handled_by = *handled_by;
    c.department = cols[6];
    if (c.handled_by == v1::ASSIGNEE_KIND_DEPARTMENT && c.department.empty()) {
      return bad("department", "required when handled_by is department");
    }
    out.push_back(std::move(c));
  }
  if (out.empty()) return absl::InvalidArgumentError("categories: no category defined");
  return Taxonomy(std::move(out));
}

const Category* Taxonomy::Find(absl::string_view code) const {
  auto it = by_code_.find(code);
  return it == by_code_.end() ? nullptr : &categories_[it->second];
}

}  // namespace gridloop::incidents
