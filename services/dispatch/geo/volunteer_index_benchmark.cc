// Dispatch decisions over a city of 1,000,000 volunteers: the nearest 50 with a wanted skill
// within 5 km, found with VolunteerIndex, turned into candidates with their load and ranked.
// The baseline makes the same decision by scanning every volunteer.
//
// The volunteers are spread uniformly over a 40 km x 40 km box around 30.27N 120.15E, each
// with 2-3 of 14 skills; half are available any time, half in 1-3 weekly windows. Each
// decision's duration is recorded, and p50_us / p99_us are reported beside the mean (with
// several threads, the mean of the threads' percentiles).

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <numbers>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "s2/s1angle.h"
#include "s2/s1chord_angle.h"
#include "s2/s2latlng.h"
#include "s2/s2point.h"
#include "services/dispatch/geo/volunteer_index.h"
#include "services/dispatch/policy.h"

namespace gridloop::dispatch {
namespace {

constexpr int64_t kVolunteers = 1'000'000;
constexpr int kSkills = 14;
constexpr double kCenterLat = 30.27;
constexpr double kCenterLng = 120.15;
constexpr double kHalfSideMeters = 20000;
constexpr double kMetersPerDegreeLat = 111195;
constexpr double kEarthRadiusMeters = 6371010.0;
constexpr double kMaxDistanceMeters = 5000;
constexpr int kLimit = 50;
constexpr size_t kIncidents = size_t{1} << 16;
// How many decisions the baseline and the index are checked to agree on.
constexpr size_t kAgreementChecks = 64;

const double kMetersPerDegreeLng =
    kMetersPerDegreeLat * std::cos(kCenterLat * std::numbers::pi / 180);

// Monday 1 December 2025, 10:00 in the city (02:00 UTC).
const absl::Time kNow = absl::FromUnixSeconds(1764547200 + 2 * 3600);

struct Incident {
  double latitude;
  double longitude;
  SkillSet skills;
};

// What the baseline scans: the position as a unit vector, so that it pays no trigonometry.
struct ScanRecord {
  S2Point point;
  SkillSet skills;
};

// Three distinct skills out of kSkills.
SkillSet ThreeSkills(std::mt19937_64& rng) {
  SkillSet skills = 0;
  while (std::popcount(skills) < 3) skills |= SkillSet{1} << (rng() % kSkills);
  return skills;
}

struct City {
  City() {
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> offset(-kHalfSideMeters, kHalfSideMeters);
    volunteers.reserve(kVolunteers);
    scan.reserve(kVolunteers);
    for (int64_t i = 0; i < kVolunteers; ++i) {
      IndexedVolunteer v;
      v.id = absl::StrCat("v", 100000000 + i);
      v.latitude = kCenterLat + offset(rng) / kMetersPerDegreeLat;
      v.longitude = kCenterLng + offset(rng) / kMetersPerDegreeLng;
      for (int want = 2 + static_cast<int>(rng() % 2); std::popcount(v.skills) < want;) {
        v.skills |= SkillSet{1} << (rng() % kSkills);
      }
      if (rng() % 2 == 1) {
        for (int w = 1 + static_cast<int>(rng() % 3); w > 0; --w) {
          v.availability.push_back({1 + static_cast<int>(rng() % 7),
                                    60 * (6 + static_cast<int>(rng() % 16)),
                                    60 * (2 + static_cast<int>(rng() % 5))});
        }
      }
      v.max_concurrent = 1 + static_cast<int>(rng() % 3);
      scan.push_back({S2LatLng::FromDegrees(v.latitude, v.longitude).ToPoint(), v.skills});
      volunteers.push_back(std::move(v));
    }
    index.Reset(volunteers);
    incidents.reserve(kIncidents);
    for (size_t i = 0; i < kIncidents; ++i) {
      incidents.push_back({kCenterLat + offset(rng) / kMetersPerDegreeLat,
                           kCenterLng + offset(rng) / kMetersPerDegreeLng, ThreeSkills(rng)});
    }
  }

  std::vector<IndexedVolunteer> volunteers;
  std::vector<ScanRecord> scan;
  VolunteerIndex index;
  std::vector<Incident> incidents;
};

// Built on first use and kept for the process: a city takes seconds to generate.
const City& TheCity() {
  static const auto* const city = new City();
  return *city;
}

// Stands in for the load dispatch reads per volunteer: fixed per id, 0-2 active tasks and
// 0-5 recent assignments, so some volunteers are full.
VolunteerCandidate Candidate(const IndexedVolunteer& v, double distance_m) {
  uint64_t h = 1469598103934665603u;
  for (char c : v.id) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211u;
  VolunteerCandidate c;
  c.id = v.id;
  c.skills = v.skills;
  c.distance_m = distance_m;
  c.availability = v.availability;
  c.active_tasks = static_cast<int>(h % 3);
  c.max_concurrent = v.max_concurrent;
  c.recent_assignments = static_cast<int>((h >> 8) % 6);
  return c;
}

JobView Job(const Incident& incident) {
  JobView job;
  job.incident_id = "i1";
  job.skills_wanted = incident.skills;
  return job;
}

// The nearest kLimit volunteers within kMaxDistanceMeters with one of the incident's skills.
std::vector<IndexedVolunteer> Nearest(const City& city, const Incident& incident,
                                      std::vector<double>* distances) {
  NearbyQuery query;
  query.latitude = incident.latitude;
  query.longitude = incident.longitude;
  query.max_distance_m = kMaxDistanceMeters;
  query.skills_any = incident.skills;
  query.limit = kLimit;
  return city.index.Nearest(query, distances);
}

std::vector<RankedVolunteer> IndexedDecision(const City& city, const Incident& incident) {
  std::vector<double> distances;
  const std::vector<IndexedVolunteer> nearest = Nearest(city, incident, &distances);
  std::vector<VolunteerCandidate> candidates;
  candidates.reserve(nearest.size());
  for (size_t i = 0; i < nearest.size(); ++i) {
    candidates.push_back(Candidate(nearest[i], distances[i]));
  }
  return RankVolunteers(Job(incident), candidates, kNow);
}

// The same decision without the index: every volunteer's skills and distance tested.
std::vector<RankedVolunteer> ScanDecision(const City& city, const Incident& incident) {
  const S2Point center = S2LatLng::FromDegrees(incident.latitude, incident.longitude).ToPoint();
  const S1ChordAngle radius(S1Angle::Radians(kMaxDistanceMeters / kEarthRadiusMeters));
  std::vector<std::pair<double, uint32_t>> within;
  for (size_t i = 0; i < city.scan.size(); ++i) {
    const ScanRecord& r = city.scan[i];
    if ((r.skills & incident.skills) == 0) continue;
    const S1ChordAngle d(center, r.point);
    if (d <= radius) within.emplace_back(d.length2(), static_cast<uint32_t>(i));
  }
  const size_t count = std::min<size_t>(kLimit, within.size());
  std::partial_sort(within.begin(), within.begin() + static_cast<ptrdiff_t>(count), within.end(),
                    [&](const auto& a, const auto& b) {
                      if (a.first != b.first) return a.first < b.first;
                      return city.volunteers[a.second].id < city.volunteers[b.second].id;
                    });
  std::vector<VolunteerCandidate> candidates;
  candidates.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const double meters =
        S1ChordAngle::FromLength2(within[i].first).ToAngle().radians() * kEarthRadiusMeters;
    candidates.push_back(Candidate(city.volunteers[within[i].second], meters));
  }
  return RankVolunteers(Job(incident), candidates, kNow);
}

bool SameDecision(const std::vector<RankedVolunteer>& a, const std::vector<RankedVolunteer>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const RankedVolunteer& x, const RankedVolunteer& y) {
                      return x.id == y.id && x.score == y.score;
                    });
}

using Decide = std::vector<RankedVolunteer> (*)(const City&, const Incident&);

// Times each decision on its own, for the percentiles.
void RunDecisions(benchmark::State& state, Decide decide) {
  const City& city = TheCity();
  if (state.thread_index() == 0) {
    for (size_t i = 0; i < kAgreementChecks; ++i) {
      if (!SameDecision(IndexedDecision(city, city.incidents[i]),
                        ScanDecision(city, city.incidents[i]))) {
        state.SkipWithError("the index and the scan decided differently");
        return;
      }
    }
  }
  std::vector<double> micros;
  micros.reserve(size_t{1} << 20);
  size_t i = static_cast<size_t>(state.thread_index()) * 7919;
  int64_t asked = 0;
  for (auto _ : state) {
    const Incident& incident = city.incidents[i++ & (kIncidents - 1)];
    const auto start = std::chrono::steady_clock::now();
    std::vector<RankedVolunteer> ranked = decide(city, incident);
    const auto end = std::chrono::steady_clock::now();
    micros.push_back(std::chrono::duration<double, std::micro>(end - start).count());
    asked += static_cast<int64_t>(ranked.size());
    benchmark::DoNotOptimize(ranked);
  }
  std::sort(micros.begin(), micros.end());
  auto percentile = [&](double p) {
    if (micros.empty()) return 0.0;
    return micros[std::min(micros.size() - 1,
                           static_cast<size_t>(p * static_cast<double>(micros.size())))];
  };
  state.counters["p50_us"] = benchmark::Counter(percentile(0.50), benchmark::Counter::kAvgThreads);
  state.counters["p99_us"] = benchmark::Counter(percentile(0.99), benchmark::Counter::kAvgThreads);
  // How many volunteers a decision leaves to ask, on average: proof that it decided.
  state.counters["ranked"] = benchmark::Counter(
      static_cast<double>(asked) / static_cast<double>(std::max<int64_t>(1, state.iterations())),
      benchmark::Counter::kAvgThreads);
  state.SetItemsProcessed(state.iterations());
}

void IndexedDispatchDecision(benchmark::State& state) { RunDecisions(state, IndexedDecision); }
BENCHMARK(IndexedDispatchDecision)->UseRealTime()->Threads(1)->Threads(2);

// The index's share of a decision.
void IndexNearest(benchmark::State& state) {
  const City& city = TheCity();
  size_t i = 0;
  int64_t found = 0;
  for (auto _ : state) {
    std::vector<double> distances;
    std::vector<IndexedVolunteer> nearest =
        Nearest(city, city.incidents[i++ & (kIncidents - 1)], &distances);
    found += static_cast<int64_t>(nearest.size());
    benchmark::DoNotOptimize(nearest);
  }
  if (found != state.iterations() * kLimit) state.SkipWithError("fewer than the limit found");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(IndexNearest)->UseRealTime();

void LinearScanDispatchDecision(benchmark::State& state) { RunDecisions(state, ScanDecision); }
BENCHMARK(LinearScanDispatchDecision)->UseRealTime()->Unit(benchmark::kMillisecond);

using Build = void (*)(VolunteerIndex* index, std::vector<IndexedVolunteer> all);

// Times `build` filling an empty index with the whole city; copying the city for it and
// checking the result are not timed.
void RunIndexBuild(benchmark::State& state, Build build) {
  const City& city = TheCity();
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<IndexedVolunteer> copy = city.volunteers;
    auto index = std::make_unique<VolunteerIndex>();
    state.ResumeTiming();
    build(index.get(), std::move(copy));
    state.PauseTiming();
    if (index->size() != city.volunteers.size()) state.SkipWithError("volunteers lost");
    index.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kVolunteers);
}

// Loading every volunteer at start-up.
void IndexBuildByReset(benchmark::State& state) {
  RunIndexBuild(state, [](VolunteerIndex* index, std::vector<IndexedVolunteer> all) {
    index->Reset(std::move(all));
  });
}
BENCHMARK(IndexBuildByReset)->Unit(benchmark::kMillisecond)->Iterations(1);

// The same content one Upsert at a time, as change events would bring it.
void IndexBuildByUpsert(benchmark::State& state) {
  RunIndexBuild(state, [](VolunteerIndex* index, std::vector<IndexedVolunteer> all) {
    for (IndexedVolunteer& v : all) index->Upsert(std::move(v));
  });
}
BENCHMARK(IndexBuildByUpsert)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace gridloop::dispatch
