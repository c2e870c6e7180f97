#ifndef GRIDLOOP_SERVICES_DISPATCH_GEO_VOLUNTEER_INDEX_H_
#define GRIDLOOP_SERVICES_DISPATCH_GEO_VOLUNTEER_INDEX_H_

// Volunteers by where they are, so dispatch finds the nearest ones without scanning all.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "services/dispatch/policy.h"

namespace gridloop::dispatch {

// What the index keeps of a volunteer: enough to pick candidates near a point.
struct IndexedVolunteer {
  std::string id;
  double latitude = 0;
  double longitude = 0;
  SkillSet skills = 0;
  std::vector<WeeklyWindow> availability;
  int max_concurrent = 1;
  bool active = true;
};

struct NearbyQuery {
  double latitude = 0;
  double longitude = 0;
  double max_distance_m = 5000;
  // Volunteers must have at least one of these; 0 = any.
  SkillSet skills_any = 0;
  // How many to return at most (the nearest that pass the filter).
  int limit = 50;
};

// An in-memory S2 cell index of active volunteers: leaf cell ids in an ordered container,
// searched by covering a growing cap around the query point (500 m, doubling up to the
// maximum distance) and scanning only the covered cell ranges.
//
// Thread-safe: any number of concurrent Nearest() calls; Upsert/Remove take the write lock.
class VolunteerIndex {
 public:
  VolunteerIndex();
  ~VolunteerIndex();
  VolunteerIndex(const VolunteerIndex&) = delete;
  VolunteerIndex& operator=(const VolunteerIndex&) = delete;

  // Adds or replaces the volunteer with `v.id`. An inactive volunteer, or one at an
  // invalid location (not finite, out of range), is removed instead.
  void Upsert(IndexedVolunteer v);
  // Unknown ids are ignored.
  void Remove(absl::string_view id);
  // Replaces the whole content at once (start-up load), keeping what Upsert would keep; of
  // two records with one id, the later wins.
  void Reset(std::vector<IndexedVolunteer> all);
  size_t size() const;

  // The nearest active volunteers within query.max_distance_m that have one of
  // query.skills_any, nearest first (equal distances by id), at most query.limit; empty for
  // an invalid query point. `distances_m`, unless null, receives their distances in metres
  // (as DistanceMeters measures them), in the same order. Copies, so the caller may keep
  // them after the lock is released.
  std::vector<IndexedVolunteer> Nearest(const NearbyQuery& query,
                                        std::vector<double>* distances_m) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Great-circle distance in metres.
double DistanceMeters(double lat1, double lng1, double lat2, double lng2);

}  // namespace gridloop::dispatch

#endif  // GRIDLOOP_SERVICES_DISPATCH_GEO_VOLUNTEER_INDEX_H_
