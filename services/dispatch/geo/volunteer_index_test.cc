#include "services/dispatch/geo/volunteer_index.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <numbers>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gridloop::dispatch {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Hangzhou, where the tests place their volunteers.
constexpr double kLat0 = 30.27;
constexpr double kLng0 = 120.15;
constexpr double kMetersPerDegreeLat = 111195.0;
const double kMetersPerDegreeLng = kMetersPerDegreeLat * std::cos(kLat0 * std::numbers::pi / 180);

constexpr SkillSet kMedical = 1 << 0;
constexpr SkillSet kRepair = 1 << 1;
constexpr SkillSet kLegal = 1 << 2;

// A volunteer `north` and `east` metres from the test centre.
IndexedVolunteer At(std::string id, double north, double east, SkillSet skills = kMedical) {
  IndexedVolunteer v;
  v.id = std::move(id);
  v.latitude = kLat0 + north / kMetersPerDegreeLat;
  v.longitude = kLng0 + east / kMetersPerDegreeLng;
  v.skills = skills;
  return v;
}

NearbyQuery Around(double north = 0, double east = 0) {
  NearbyQuery q;
  q.latitude = kLat0 + north / kMetersPerDegreeLat;
  q.longitude = kLng0 + east / kMetersPerDegreeLng;
  return q;
}

std::vector<std::string> Ids(const std::vector<IndexedVolunteer>& volunteers) {
  std::vector<std::string> ids;
  ids.reserve(volunteers.size());
  for (const IndexedVolunteer& v : volunteers) ids.push_back(v.id);
  return ids;
}

std::vector<std::string> NearestIds(const VolunteerIndex& index, const NearbyQuery& query) {
  return Ids(index.Nearest(query, nullptr));
}

TEST(VolunteerIndex, NearestComeFirst) {
  VolunteerIndex index;
  index.Upsert(At("v100", 100, 0));
  index.Upsert(At("v300", 0, -300));
  index.Upsert(At("v50", -50, 0));
  index.Upsert(At("v2000", 2000, 0));
  EXPECT_EQ(index.size(), 4u);

  NearbyQuery query = Around();
  query.limit = 3;
  std::vector<double> distances;
  EXPECT_THAT(Ids(index.Nearest(query, &distances)), ElementsAre("v50", "v100", "v300"));
  ASSERT_EQ(distances.size(), 3u);
  EXPECT_NEAR(distances[0], 50, 0.5);
  EXPECT_NEAR(distances[1], 100, 0.5);
  EXPECT_NEAR(distances[2], 300, 1);

  // The volunteer 2 km away is found once the limit asks for more than the first cap holds.
  query.limit = 10;
  EXPECT_THAT(NearestIds(index, query), ElementsAre("v50", "v100", "v300", "v2000"));
}

TEST(VolunteerIndex, EqualDistancesBreakById) {
  VolunteerIndex index;
  index.Upsert(At("b", 100, 0));
  index.Upsert(At("c", 100, 0));
  index.Upsert(At("a", 100, 0));
  NearbyQuery query = Around();
  query.limit = 2;
  EXPECT_THAT(NearestIds(index, query), ElementsAre("a", "b"));
}

TEST(VolunteerIndex, OnlyVolunteersWithOneOfTheSkillsAreReturned) {
  VolunteerIndex index;
  index.Upsert(At("nurse", 10, 0, kMedical));
  index.Upsert(At("lawyer", 20, 0, kLegal));
  index.Upsert(At("handy-nurse", 30, 0, kMedical | kRepair));
  index.Upsert(At("nothing", 5, 0, 0));

  NearbyQuery query = Around();
  query.skills_any = kRepair | kLegal;
  EXPECT_THAT(NearestIds(index, query), ElementsAre("lawyer", "handy-nurse"));
  query.skills_any = 0;
  EXPECT_THAT(NearestIds(index, query), ElementsAre("nothing", "nurse", "lawyer", "handy-nurse"));
}

TEST(VolunteerIndex, VolunteersBeyondTheMaximumDistanceAreNotReturned) {
  VolunteerIndex index;
  index.Upsert(At("v4k", 4000, 0));
  index.Upsert(At("v6k", 0, 6000));

  NearbyQuery query = Around();
  EXPECT_THAT(NearestIds(index, query), ElementsAre("v4k"));
  query.max_distance_m = 7000;  // not a power of two times the first radius
  EXPECT_THAT(NearestIds(index, query), ElementsAre("v4k", "v6k"));
  query.max_distance_m = 3000;
  EXPECT_THAT(NearestIds(index, query), IsEmpty());
  query.max_distance_m = 0;
  EXPECT_THAT(NearestIds(index, query), IsEmpty());
}

TEST(VolunteerIndex, AZeroDistanceFindsVolunteersOnTheSpot) {
  VolunteerIndex index;
  index.Upsert(At("here", 0, 0));
  index.Upsert(At("there", 1, 0));
  NearbyQuery query = Around();
  query.max_distance_m = 0;
  EXPECT_THAT(NearestIds(index, query), ElementsAre("here"));
}

TEST(VolunteerIndex, TheWholeEarthCanBeSearched) {
  VolunteerIndex index;
  index.Upsert(At("home", 0, 0));
  IndexedVolunteer antipode;
  antipode.id = "antipode";
  antipode.latitude = -kLat0;
  antipode.longitude = kLng0 - 180;
  index.Upsert(antipode);

  NearbyQuery query = Around();
  query.max_distance_m = std::numeric_limits<double>::infinity();
  std::vector<double> distances;
  EXPECT_THAT(Ids(index.Nearest(query, &distances)), ElementsAre("home", "antipode"));
  EXPECT_NEAR(distances[1], std::numbers::pi * 6371010.0, 1);
}

TEST(VolunteerIndex, UpsertMovesAVolunteer) {
  VolunteerIndex index;
  index.Upsert(At("v", 0, 0, kMedical));
  index.Upsert(At("v", 3000, 0, kLegal));
  EXPECT_EQ(index.size(), 1u);

  NearbyQuery here = Around();
  here.max_distance_m = 1000;
  EXPECT_THAT(NearestIds(index, here), IsEmpty());

  NearbyQuery there = Around(3000, 0);
  there.max_distance_m = 1000;
  there.skills_any = kMedical;
  EXPECT_THAT(NearestIds(index, there), IsEmpty());  // the skills were replaced too
  there.skills_any = kLegal;
  EXPECT_THAT(NearestIds(index, there), ElementsAre("v"));
}

TEST(VolunteerIndex, ResultsAreCopiesOfTheWholeRecord) {
  VolunteerIndex index;
  IndexedVolunteer v = At("v", 10, 10, kMedical | kLegal);
  v.availability = {{3, 600, 120}};
  v.max_concurrent = 4;
  index.Upsert(v);

  const std::vector<IndexedVolunteer> found = index.Nearest(Around(), nullptr);
  index.Remove("v");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].skills, kMedical | kLegal);
  EXPECT_EQ(found[0].max_concurrent, 4);
  ASSERT_EQ(found[0].availability.size(), 1u);
  EXPECT_EQ(found[0].availability[0].start_minute, 600);
  EXPECT_DOUBLE_EQ(found[0].latitude, v.latitude);
  EXPECT_DOUBLE_EQ(found[0].longitude, v.longitude);
}

TEST(VolunteerIndex, RemovedVolunteersAreNotReturned) {
  VolunteerIndex index;
  index.Upsert(At("a", 10, 0));
  index.Upsert(At("b", 20, 0));
  index.Remove("a");
  index.Remove("unknown");
  EXPECT_EQ(index.size(), 1u);
  EXPECT_THAT(NearestIds(index, Around()), ElementsAre("b"));

  // A freed slot is reused without disturbing the others.
  index.Upsert(At("c", 5, 0));
  EXPECT_THAT(NearestIds(index, Around()), ElementsAre("c", "b"));
}

TEST(VolunteerIndex, InactiveVolunteersAreNotReturned) {
  VolunteerIndex index;
  IndexedVolunteer resting = At("resting", 10, 0);
  resting.active = false;
  index.Upsert(resting);
  EXPECT_EQ(index.size(), 0u);

  index.Upsert(At("leaving", 20, 0));
  IndexedVolunteer left = At("leaving", 20, 0);
  left.active = false;
  index.Upsert(left);
  EXPECT_EQ(index.size(), 0u);
  EXPECT_THAT(NearestIds(index, Around()), IsEmpty());
}

TEST(VolunteerIndex, InvalidLocationsAreIgnored) {
  VolunteerIndex index;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (auto [lat, lng] : {std::pair{nan, kLng0}, std::pair{kLat0, nan}, std::pair{91.0, kLng0},
                          std::pair{kLat0, 180.5}, std::pair{-inf, kLng0}}) {
    IndexedVolunteer v = At("v", 0, 0);
    v.latitude = lat;
    v.longitude = lng;
    index.Upsert(v);
    EXPECT_EQ(index.size(), 0u) << lat << "," << lng;
  }

  // A volunteer moved to an invalid location leaves the index.
  index.Upsert(At("v", 0, 0));
  IndexedVolunteer lost = At("v", 0, 0);
  lost.latitude = nan;
  index.Upsert(lost);
  EXPECT_EQ(index.size(), 0u);
}

TEST(VolunteerIndex, InvalidQueriesFindNobody) {
  VolunteerIndex index;
  index.Upsert(At("v", 0, 0));
  std::vector<double> distances = {1, 2, 3};

  NearbyQuery query = Around();
  query.latitude = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(index.Nearest(query, &distances), IsEmpty());
  EXPECT_THAT(distances, IsEmpty());
  query = Around();
  query.limit = 0;
  EXPECT_THAT(NearestIds(index, query), IsEmpty());
  query = Around();
  query.max_distance_m = -1;
  EXPECT_THAT(NearestIds(index, query), IsEmpty());
  query = Around();
  query.max_distance_m = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THAT(NearestIds(index, query), IsEmpty());
}

TEST(VolunteerIndex, ResetReplacesTheWholeContent) {
  VolunteerIndex index;
  index.Upsert(At("old", 0, 0));

  IndexedVolunteer inactive = At("inactive", 5, 0);
  inactive.active = false;
  IndexedVolunteer nowhere = At("nowhere", 5, 0);
  nowhere.latitude = 100;
  index.Reset({At("a", 10, 0), At("twice", 20, 0, kMedical), inactive, nowhere, At("b", 30, 0),
               At("twice", 40, 0, kLegal)});
  EXPECT_EQ(index.size(), 3u);
  EXPECT_THAT(NearestIds(index, Around()), ElementsAre("a", "b", "twice"));

  // The later of two records with one id won, and the index stays editable.
  NearbyQuery legal = Around();
  legal.skills_any = kLegal;
  std::vector<double> distances;
  EXPECT_THAT(Ids(index.Nearest(legal, &distances)), ElementsAre("twice"));
  EXPECT_NEAR(distances[0], 40, 0.5);
  index.Remove("a");
  index.Upsert(At("c", 1, 0));
  EXPECT_THAT(NearestIds(index, Around()), ElementsAre("c", "b", "twice"));

  // A later record that retires a volunteer wins as well.
  IndexedVolunteer retired = At("b", 30, 0);
  retired.active = false;
  index.Reset({At("a", 10, 0), At("b", 30, 0), retired, At("c", 5, 0), At("a", 20, 0)});
  EXPECT_EQ(index.size(), 2u);
  std::vector<double> after;
  EXPECT_THAT(Ids(index.Nearest(Around(), &after)), ElementsAre("c", "a"));
  EXPECT_NEAR(after[1], 20, 0.5);

  index.Reset({});
  EXPECT_EQ(index.size(), 0u);
  EXPECT_THAT(NearestIds(index, Around()), IsEmpty());
}

TEST(VolunteerIndex, DistanceMetersMeasuresTheGreatCircle) {
  EXPECT_DOUBLE_EQ(DistanceMeters(kLat0, kLng0, kLat0, kLng0), 0);
  // One degree of a meridian on S2's mean earth.
  EXPECT_NEAR(DistanceMeters(30, 120, 31, 120), 6371010.0 * std::numbers::pi / 180, 1e-6);
  // A degree of longitude shrinks with the cosine of the latitude.
  EXPECT_NEAR(DistanceMeters(60, 10, 60, 11), 6371010.0 * std::numbers::pi / 180 / 2, 5);
  EXPECT_DOUBLE_EQ(DistanceMeters(30, 120, 31, 121), DistanceMeters(31, 121, 30, 120));
}

// ---- Agreement with a scan of every volunteer

class BruteForce {
 public:
  void Upsert(const IndexedVolunteer& v) {
    if (v.active) {
      by_id_[v.id] = v;
    } else {
      by_id_.erase(v.id);
    }
  }
  void Remove(const std::string& id) { by_id_.erase(id); }

  std::vector<std::pair<std::string, double>> Nearest(const NearbyQuery& q) const {
    std::vector<std::tuple<double, std::string>> found;
    for (const auto& [id, v] : by_id_) {
      if (q.skills_any != 0 && (v.skills & q.skills_any) == 0) continue;
      const double d = DistanceMeters(q.latitude, q.longitude, v.latitude, v.longitude);
      if (d <= q.max_distance_m) found.emplace_back(d, id);
    }
    std::sort(found.begin(), found.end());
    std::vector<std::pair<std::string, double>> out;
    for (size_t i = 0; i < found.size() && i < static_cast<size_t>(q.limit); ++i) {
      out.emplace_back(std::get<1>(found[i]), std::get<0>(found[i]));
    }
    return out;
  }

  size_t size() const { return by_id_.size(); }

 private:
  std::map<std::string, IndexedVolunteer> by_id_;
};

std::vector<std::pair<std::string, double>> Pairs(const VolunteerIndex& index,
                                                  const NearbyQuery& q) {
  std::vector<double> distances;
  const std::vector<IndexedVolunteer> found = index.Nearest(q, &distances);
  EXPECT_EQ(found.size(), distances.size());
  std::vector<std::pair<std::string, double>> out;
  for (size_t i = 0; i < found.size() && i < distances.size(); ++i) {
    out.emplace_back(found[i].id, distances[i]);
  }
  return out;
}

TEST(VolunteerIndex, AgreesWithAScanOfEveryVolunteer) {
  std::mt19937_64 rng(20251201);
  // A 20 km square around the centre, thinner than a real city so that some queries need
  // several rounds of widening.
  std::uniform_real_distribution<double> offset(-10000, 10000);
  std::uniform_int_distribution<int> skill_bit(0, 13);
  std::bernoulli_distribution one_in_ten(0.1);
  auto random_volunteer = [&](std::string id) {
    IndexedVolunteer v = At(std::move(id), offset(rng), offset(rng), 0);
    for (int k = 1 + static_cast<int>(rng() % 3); k > 0; --k) {
      v.skills |= SkillSet{1} << skill_bit(rng);
    }
    v.active = !one_in_ten(rng);
    return v;
  };

  std::vector<IndexedVolunteer> all;
  for (int i = 0; i < 5000; ++i) {
    IndexedVolunteer v = random_volunteer("v" + std::to_string(i));
    // Some share a spot exactly with another, so that ties by id are exercised.
    if (i > 0 && one_in_ten(rng)) {
      v.latitude = all[i - 1].latitude;
      v.longitude = all[i - 1].longitude;
    }
    all.push_back(v);
  }
  VolunteerIndex index;
  BruteForce scan;
  index.Reset(all);
  for (const IndexedVolunteer& v : all) scan.Upsert(v);
  ASSERT_EQ(index.size(), scan.size());

  // Then edits: moves (some to a new skill set, some out of service) and removals.
  for (int i = 0; i < 1000; ++i) {
    const std::string id = "v" + std::to_string(rng() % 5500);
    if (i % 3 == 0) {
      index.Remove(id);
      scan.Remove(id);
    } else {
      const IndexedVolunteer v = random_volunteer(id);
      index.Upsert(v);
      scan.Upsert(v);
    }
  }
  ASSERT_EQ(index.size(), scan.size());

  const double max_distances[] = {0, 150, 800, 2500, 5000, 12000, 40000};
  std::uniform_int_distribution<int> limit(1, 80);
  for (int i = 0; i < 400; ++i) {
    NearbyQuery q = Around(offset(rng) * 1.2, offset(rng) * 1.2);
    q.limit = limit(rng);
    q.max_distance_m = max_distances[rng() % std::size(max_distances)];
    q.skills_any =
        i % 4 == 0 ? 0 : (SkillSet{1} << skill_bit(rng)) | (SkillSet{1} << skill_bit(rng));
    if (i % 10 == 0) {
      // On a volunteer's spot, where distances tie at zero.
      const IndexedVolunteer& v = all[rng() % all.size()];
      q.latitude = v.latitude;
      q.longitude = v.longitude;
    }
    ASSERT_EQ(Pairs(index, q), scan.Nearest(q))
        << "query " << i << " at " << q.latitude << "," << q.longitude << " limit " << q.limit
        << " max " << q.max_distance_m << " skills " << q.skills_any;
  }
}

TEST(VolunteerIndex, ReadersRunAlongsideAWriter) {
  VolunteerIndex index;
  // A 50 x 10 lattice of volunteers 20 m apart.
  auto spot = [](int i, int shift) {
    const int row = i / 50;
    const int column = (i + shift) % 50;
    return At("v" + std::to_string(i), 20.0 * column, 20.0 * row);
  };
  std::vector<IndexedVolunteer> all;
  all.reserve(500);
  for (int i = 0; i < 500; ++i) all.push_back(spot(i, 0));
  index.Reset(all);

  std::atomic<bool> done = false;
  std::atomic<int> unordered = 0;
  auto reader = [&] {
    NearbyQuery q = Around(500, 100);
    q.limit = 20;
    while (!done.load()) {
      std::vector<double> distances;
      index.Nearest(q, &distances);
      if (!std::is_sorted(distances.begin(), distances.end())) ++unordered;
    }
  };
  std::thread r1(reader);
  std::thread r2(reader);
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 500; i += 7) {
      index.Upsert(spot(i, round));
    }
    // Never one of the ids the loop above upserts again.
    index.Remove("v" + std::to_string(round * 7 + 3));
  }
  done = true;
  r1.join();
  r2.join();
  EXPECT_EQ(unordered.load(), 0);
  EXPECT_EQ(index.size(), 480u);
}

}  // namespace
}  // namespace gridloop::dispatch
