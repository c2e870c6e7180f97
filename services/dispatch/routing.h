#ifndef GRIDLOOP_SERVICES_DISPATCH_ROUTING_H_
#define GRIDLOOP_SERVICES_DISPATCH_ROUTING_H_

// Where each incident category goes first, and which skills a volunteer needs for it.
// Configuration, not code: a city changes it with a CSV file (see README).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gridloop/v1/incidents.pb.h"
#include "services/dispatch/policy.h"

namespace gridloop::dispatch {

// The configurable skill list. A skill is [a-z0-9_]{1,32}; at most 64 of them.
class SkillCatalog {
 public:
  // medical, legal, repair, tutoring, companionship, psychology, elderly_care,
  // disability_care, cleaning, electrical, plumbing, mediation, first_aid, driving.
  static SkillCatalog Default();
  // A comma-separated list. InvalidArgument names the first bad or duplicate skill, or
  // says there are none or more than 64.
  static absl::StatusOr<SkillCatalog> Parse(absl::string_view list);

  // The bit of `skill`; nullopt when it is not in the catalog.
  std::optional<SkillSet> Bit(absl::string_view skill) const;
  // The set of `skills`. InvalidArgument naming `field` and the first unknown skill.
  absl::StatusOr<SkillSet> SetOf(const std::vector<std::string>& skills,
                                 absl::string_view field) const;
  const std::vector<std::string>& all() const { return skills_; }

 private:
  explicit SkillCatalog(std::vector<std::string> skills);
  std::vector<std::string> skills_;
  std::map<std::string, int, std::less<>> index_;
};

// Where one category goes.
struct Route {
  std::string category;
  // GRID_WORKER: the grid's on-duty grid worker gets the order; VOLUNTEER: volunteers
  // near the incident are offered it, the grid worker if nobody takes it; DEPARTMENT: the
  // department below gets the order at once.
  v1::AssigneeKind kind = v1::ASSIGNEE_KIND_GRID_WORKER;
  // The department an escalation to department level (and a DEPARTMENT route) goes to.
  std::string department;
  SkillSet skills = 0;  // volunteers need at least one of these; 0 = anyone
  std::vector<std::string> skill_names;
};

// category -> Route. Immutable after construction, so safe to share across threads.
class Routing {
 public:
  // Mirrors the incidents service's built-in taxonomy: elderly and disability help go to
  // volunteers, street lights, illegal construction and public facilities to their
  // departments, the rest to the grid worker; every category names the department an
  // escalation reaches. A skill the route wants that `skills` lacks is left out.
  static Routing Default(const SkillCatalog& skills);
  // Parses CSV with the header `category,route,department,skills`, where route is
  // grid_worker|volunteer|department and skills is a '|'-separated list from `skills`
  // (may be empty). A row with category "*" is the fallback for categories not listed.
  // The header must come first (blank lines and lines starting with '#' are skipped), and
  // every row names a department. InvalidArgument names the line and column of the first
  // bad value.
  static absl::StatusOr<Routing> FromCsv(absl::string_view csv, const SkillCatalog& skills);

  // The category's route, or the fallback ("*" row; else grid worker with department
  // "comprehensive_governance", 综治中心).
  const Route& For(absl::string_view category) const;
  // The listed categories in order; the fallback is not among them.
  const std::vector<Route>& all() const { return routes_; }

 private:
  Routing(std::vector<Route> routes, Route fallback);
  std::vector<Route> routes_;
  Route fallback_;
  std::map<std::string, size_t, std::less<>> by_category_;
};

}  // namespace gridloop::dispatch

#endif  // GRIDLOOP_SERVICES_DISPATCH_ROUTING_H_
