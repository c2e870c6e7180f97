#ifndef GRIDLOOP_SERVICES_INCIDENTS_CATEGORIES_H_
#define GRIDLOOP_SERVICES_INCIDENTS_CATEGORIES_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gridloop/v1/incidents.pb.h"

namespace gridloop::incidents {

// One kind of problem residents report, with the deadlines it must be handled within.
struct Category {
  std::string code;  // stable, [a-z0-9_.-], what city platforms map their codes to
  std::string name;  // display name (Chinese)
  v1::Urgency default_urgency = v1::URGENCY_NORMAL;
  absl::Duration respond_within;
  absl::Duration resolve_within;
  v1::AssigneeKind handled_by = v1::ASSIGNEE_KIND_GRID_WORKER;
  std::string department;  // for department-handled categories
};

// The category taxonomy. Immutable after construction, so safe to share across threads.
class Taxonomy {
 public:
  // The built-in taxonomy: the problems the domain names (roof leaks, street lights,
  // disputes, noise, sanitation, illegal construction, property management, help for the
  // elderly and disabled, safety hazards...).
  static Taxonomy Default();

  // Parses a CSV taxonomy with the header
  //   code,name,default_urgency,respond_within,resolve_within,handled_by,department
  // where urgency is low|normal|high|critical, durations are like 2h / 30m / 3d... (absl
  // durations: use h/m/s), handled_by is grid_worker|volunteer|department. InvalidArgument
  // names the line and column of the first bad value.
  static absl::StatusOr<Taxonomy> FromCsv(absl::string_view csv);

  // nullptr when unknown.
  const Category* Find(absl::string_view code) const;
  const std::vector<Category>& all() const { return categories_; }

 private:
  explicit Taxonomy(std::vector<Category> categories);
  std::vector<Category> categories_;
  std::map<std::string, size_t, std::less<>> by_code_;
};

}  // namespace gridloop::incidents

#endif  // GRIDLOOP_SERVICES_INCIDENTS_CATEGORIES_H_
