#include "services/dispatch/routing.h"

#include <iterator>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace gridloop::dispatch {
namespace {

constexpr size_t kMaxSkills = 64;
constexpr size_t kMaxSkillChars = 32;
constexpr size_t kMaxCodeChars = 64;
constexpr absl::string_view kFallbackCategory = "*";
// 综治中心: the comprehensive-governance centre takes whatever no rule names.
constexpr absl::string_view kFallbackDepartment = "comprehensive_governance";
constexpr absl::string_view kCsvHeader = "category,route,department,skills";

bool ValidSkill(absl::string_view skill) {
  if (skill.empty() || skill.size() > kMaxSkillChars) return false;
  for (char c : skill) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_')) return false;
  }
  return true;
}

// Category and department codes, spelt as the incidents service spells category codes.
bool ValidCode(absl::string_view code) {
  if (code.empty() || code.size() > kMaxCodeChars) return false;
  for (char c : code) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' || c == '.' || c == '-')) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<v1::AssigneeKind> ParseRouteKind(absl::string_view s) {
  if (s == "grid_worker") return v1::ASSIGNEE_KIND_GRID_WORKER;
  if (s == "volunteer") return v1::ASSIGNEE_KIND_VOLUNTEER;
  if (s == "department") return v1::ASSIGNEE_KIND_DEPARTMENT;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown route \"", s, "\" (grid_worker, volunteer or department)"));
}

Route FallbackRoute() {
  Route route;
  route.category = std::string(kFallbackCategory);
  route.kind = v1::ASSIGNEE_KIND_GRID_WORKER;
  route.department = std::string(kFallbackDepartment);
  return route;
}

}  // namespace

SkillCatalog::SkillCatalog(std::vector<std::string> skills) : skills_(std::move(skills)) {
  for (size_t i = 0; i < skills_.size(); ++i) index_[skills_[i]] = static_cast<int>(i);
}

SkillCatalog SkillCatalog::Default() {
  return SkillCatalog({"medical", "legal", "repair", "tutoring", "companionship", "psychology",
                       "elderly_care", "disability_care", "cleaning", "electrical", "plumbing",
                       "mediation", "first_aid", "driving"});
}

absl::StatusOr<SkillCatalog> SkillCatalog::Parse(absl::string_view list) {
  if (absl::StripAsciiWhitespace(list).empty()) {
    return absl::InvalidArgumentError("skills: none listed");
  }
  std::vector<std::string> skills;
  std::map<std::string, int, std::less<>> seen;
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    const absl::string_view skill = absl::StripAsciiWhitespace(item);
    if (!ValidSkill(skill)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "skills: \"", skill.substr(0, kMaxSkillChars + 1), "\" is not 1-32 of [a-z0-9_]"));
    }
    if (!seen.emplace(std::string(skill), 0).second) {
      return absl::InvalidArgumentError(absl::StrCat("skills: duplicate \"", skill, "\""));
    }
    skills.emplace_back(skill);
  }
  if (skills.size() > kMaxSkills) {
    return absl::InvalidArgumentError(
        absl::StrCat("skills: at most ", kMaxSkills, " (got ", skills.size(), ")"));
  }
  return SkillCatalog(std::move(skills));
}

std::optional<SkillSet> SkillCatalog::Bit(absl::string_view skill) const {
  auto it = index_.find(skill);
  if (it == index_.end()) return std::nullopt;
  return SkillSet{1} << it->second;
}

absl::StatusOr<SkillSet> SkillCatalog::SetOf(const std::vector<std::string>& skills,
                                             absl::string_view field) const {
  SkillSet set = 0;
  for (const std::string& skill : skills) {
    std::optional<SkillSet> bit = Bit(skill);
    if (!bit.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": unknown skill \"", absl::string_view(skill).substr(0, kMaxCodeChars), "\""));
    }
    set |= *bit;
  }
  return set;
}

Routing::Routing(std::vector<Route> routes, Route fallback)
    : routes_(std::move(routes)), fallback_(std::move(fallback)) {
  for (size_t i = 0; i < routes_.size(); ++i) by_category_[routes_[i].category] = i;
}

Routing Routing::Default(const SkillCatalog& skills) {
  using v1::ASSIGNEE_KIND_DEPARTMENT;
  using v1::ASSIGNEE_KIND_GRID_WORKER;
  using v1::ASSIGNEE_KIND_VOLUNTEER;
  struct Row {
    const char* category;
    v1::AssigneeKind kind;
    const char* department;
    std::vector<std::string> skills;
  };
  const std::vector<Row> rows = {
      {"street_light", ASSIGNEE_KIND_DEPARTMENT, "urban_management", {}},
      {"roof_leak", ASSIGNEE_KIND_GRID_WORKER, "housing", {"repair", "plumbing"}},
      {"neighbour_dispute", ASSIGNEE_KIND_GRID_WORKER, "justice", {"mediation", "legal"}},
      {"noise", ASSIGNEE_KIND_GRID_WORKER, "public_security", {}},
      {"sanitation", ASSIGNEE_KIND_GRID_WORKER, "urban_management", {"cleaning"}},
      {"illegal_construction", ASSIGNEE_KIND_DEPARTMENT, "urban_management", {}},
      {"property_management", ASSIGNEE_KIND_GRID_WORKER, "housing", {"mediation"}},
      {"elderly_help",
       ASSIGNEE_KIND_VOLUNTEER,
       "civil_affairs",
       {"elderly_care", "companionship", "medical"}},
      {"disability_help",
       ASSIGNEE_KIND_VOLUNTEER,
       "civil_affairs",
       {"disability_care", "companionship", "medical"}},
      {"safety_hazard",
       ASSIGNEE_KIND_GRID_WORKER,
       "emergency_management",
       {"first_aid", "electrical"}},
      {"public_facility", ASSIGNEE_KIND_DEPARTMENT, "housing", {}},
      {"other", ASSIGNEE_KIND_GRID_WORKER, "comprehensive_governance", {}},
  };
  std::vector<Route> routes;
  routes.reserve(rows.size());
  for (const Row& row : rows) {
    Route route;
    route.category = row.category;
    route.kind = row.kind;
    route.department = row.department;
    // A city's own catalog may lack a skill; the route then asks only for those it has.
    for (const std::string& name : row.skills) {
      if (std::optional<SkillSet> bit = skills.Bit(name)) {
        route.skills |= *bit;
        route.skill_names.push_back(name);
      }
    }
    routes.push_back(std::move(route));
  }
  return Routing(std::move(routes), FallbackRoute());
}

absl::StatusOr<Routing> Routing::FromCsv(absl::string_view csv, const SkillCatalog& skills) {
  constexpr absl::string_view kColumns[] = {"category", "route", "department", "skills"};
  std::vector<Route> routes;
  std::optional<Route> fallback;
  std::map<std::string, int, std::less<>> seen;  // category -> line
  bool header_seen = false;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(csv, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    std::vector<absl::string_view> cols = absl::StrSplit(line, ',');
    for (absl::string_view& c : cols) c = absl::StripAsciiWhitespace(c);
    // Columns are named from 1, as a spreadsheet shows them.
    auto bad = [line_no, &kColumns](size_t column, absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(
          "routing line ", line_no, ", column ", column + 1, " (", kColumns[column], "): ", why));
    };
    if (!header_seen) {
      // The header is required so that a file with its columns in another order fails
      // here rather than routing incidents to the wrong place.
      if (absl::StrJoin(cols, ",") != kCsvHeader) {
        return absl::InvalidArgumentError(
            absl::StrCat("routing line ", line_no, ": expected the header \"", kCsvHeader, "\""));
      }
      header_seen = true;
      continue;
    }
    if (cols.size() != std::size(kColumns)) {
      return absl::InvalidArgumentError(absl::StrCat("routing line ", line_no, ": expected ",
                                                     std::size(kColumns), " columns, got ",
                                                     cols.size()));
    }

    Route route;
    route.category = std::string(cols[0]);
    if (route.category != kFallbackCategory && !ValidCode(route.category)) {
      return bad(0, "must be \"*\" or 1-64 of [a-z0-9_.-]");
    }
    if (auto [it, inserted] = seen.emplace(route.category, line_no); !inserted) {
      return bad(0, absl::StrCat("\"", route.category, "\" already routed on line ", it->second));
    }

    absl::StatusOr<v1::AssigneeKind> kind = ParseRouteKind(cols[1]);
    if (!kind.ok()) return bad(1, kind.status().message());
    route.kind = *kind;

    // Every route names a department: it is where an escalation goes.
    route.department = std::string(cols[2]);
    if (!ValidCode(route.department)) return bad(2, "required, 1-64 of [a-z0-9_.-]");

    if (!cols[3].empty()) {
      for (absl::string_view name : absl::StrSplit(cols[3], '|')) {
        name = absl::StripAsciiWhitespace(name);
        std::optional<SkillSet> bit = skills.Bit(name);
        if (!bit.has_value()) {
          return bad(3, absl::StrCat("unknown skill \"", name.substr(0, kMaxCodeChars), "\""));
        }
        if ((route.skills & *bit) != 0) {
          return bad(3, absl::StrCat("\"", name, "\" listed twice"));
        }
        route.skills |= *bit;
        route.skill_names.emplace_back(name);
      }
    }

    if (route.category == kFallbackCategory) {
      fallback = std::move(route);
    } else {
      routes.push_back(std::move(route));
    }
  }
  if (!header_seen) return absl::InvalidArgumentError("routing: empty, not even a header");
  if (routes.empty() && !fallback.has_value()) {
    return absl::InvalidArgumentError("routing: no route defined");
  }
  return Routing(std::move(routes), fallback.has_value() ? *std::move(fallback) : FallbackRoute());
}

const Route& Routing::For(absl::string_view category) const {
  auto it = by_category_.find(category);
  return it == by_category_.end() ? fallback_ : routes_[it->second];
}

}  // namespace gridloop::dispatch
