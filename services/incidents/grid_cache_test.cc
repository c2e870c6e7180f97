#include "services/incidents/grid_cache.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/geo/cell.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gridloop::incidents {
namespace {

using ::testing::Optional;

const absl::Time kAsked = absl::FromUnixSeconds(1764547200);

// A point of the seed street, and the cell of ~150 m (level 16) around it.
constexpr double kLat = 30.2675;
constexpr double kLng = 120.0828;
uint64_t CellAround(double lat, double lng, int level) {
  return geo::CellParent(geo::LeafCell(lat, lng), level);
}

TEST(GridCache, AnAnswerServesItsWholeCellWhileItCounts) {
  GridCache cache(absl::Seconds(10));
  EXPECT_EQ(cache.Find(kLat, kLng, kAsked), std::nullopt);
  cache.Put(CellAround(kLat, kLng, 16), "g01", kAsked, kAsked + absl::Hours(1));

  EXPECT_THAT(cache.Find(kLat, kLng, kAsked), Optional(std::string("g01")));
  EXPECT_THAT(cache.Find(kLat + 0.00002, kLng - 0.00002, kAsked + absl::Seconds(9)),
              Optional(std::string("g01")));
  // Not before it was asked, nor from ttl after it, nor outside the cell.
  EXPECT_EQ(cache.Find(kLat, kLng, kAsked - absl::Seconds(1)), std::nullopt);
  EXPECT_EQ(cache.Find(kLat, kLng, kAsked + absl::Seconds(10)), std::nullopt);
  EXPECT_EQ(cache.Find(kLat + 0.01, kLng, kAsked), std::nullopt);
  EXPECT_EQ(cache.Find(91, kLng, kAsked), std::nullopt);
}

TEST(GridCache, AnAnswerEndsWhereResidentsSaidItDoes) {
  GridCache cache(absl::Minutes(10));
  cache.Put(CellAround(kLat, kLng, 18), "g01", kAsked, kAsked + absl::Seconds(3));
  EXPECT_THAT(cache.Find(kLat, kLng, kAsked + absl::Seconds(2)), Optional(std::string("g01")));
  EXPECT_EQ(cache.Find(kLat, kLng, kAsked + absl::Seconds(3)), std::nullopt);
  // A later answer for the same cell replaces it.
  cache.Put(CellAround(kLat, kLng, 18), "g02", kAsked + absl::Seconds(5), kAsked + absl::Hours(1));
  EXPECT_THAT(cache.Find(kLat, kLng, kAsked + absl::Seconds(6)), Optional(std::string("g02")));
  EXPECT_EQ(cache.size(), 1);
}

TEST(GridCache, CellsOfEveryLevelAreFound) {
  GridCache cache(absl::Seconds(10));
  cache.Put(CellAround(kLat, kLng, 12), "wide", kAsked, kAsked + absl::Hours(1));
  cache.Put(CellAround(30.30, 120.20, 22), "narrow", kAsked, kAsked + absl::Hours(1));
  ASSERT_EQ(CellAround(kLat - 0.0001, kLng - 0.0001, 12), CellAround(kLat, kLng, 12));
  EXPECT_THAT(cache.Find(kLat - 0.0001, kLng - 0.0001, kAsked), Optional(std::string("wide")));
  EXPECT_THAT(cache.Find(30.30, 120.20, kAsked), Optional(std::string("narrow")));
  EXPECT_EQ(cache.Find(30.301, 120.20, kAsked), std::nullopt);
}

TEST(GridCache, KeepsNothingWithoutATtlOrACell) {
  GridCache off(absl::ZeroDuration());
  off.Put(CellAround(kLat, kLng, 16), "g01", kAsked, kAsked + absl::Hours(1));
  EXPECT_EQ(off.Find(kLat, kLng, kAsked), std::nullopt);
  EXPECT_EQ(off.size(), 0);

  GridCache cache(absl::Seconds(10));
  cache.Put(0, "g01", kAsked, kAsked + absl::Hours(1));
  cache.Put(~uint64_t{0}, "g01", kAsked, kAsked + absl::Hours(1));
  cache.Put(CellAround(kLat, kLng, 16), "g01", kAsked, kAsked);  // already over
  EXPECT_EQ(cache.size(), 0);
  EXPECT_EQ(cache.Find(kLat, kLng, kAsked), std::nullopt);
}

TEST(GridCache, AFullCacheDropsLapsedAnswersFirstThenAll) {
  GridCache cache(absl::Seconds(10), 3);
  cache.Put(CellAround(30.20, 120.0, 16), "a", kAsked, kAsked + absl::Seconds(1));
  cache.Put(CellAround(30.21, 120.0, 16), "b", kAsked, kAsked + absl::Hours(1));
  cache.Put(CellAround(30.22, 120.0, 20), "c", kAsked, kAsked + absl::Hours(1));
  ASSERT_EQ(cache.size(), 3);
  const absl::Time later = kAsked + absl::Seconds(2);
  cache.Put(CellAround(30.23, 120.0, 16), "d", later, later + absl::Hours(1));
  EXPECT_EQ(cache.size(), 3);  // "a" had lapsed
  EXPECT_THAT(cache.Find(30.21, 120.0, later), Optional(std::string("b")));
  EXPECT_THAT(cache.Find(30.22, 120.0, later), Optional(std::string("c")));
  EXPECT_THAT(cache.Find(30.23, 120.0, later), Optional(std::string("d")));

  cache.Put(CellAround(30.24, 120.0, 16), "e", later, later + absl::Hours(1));
  EXPECT_EQ(cache.size(), 1);
  EXPECT_THAT(cache.Find(30.24, 120.0, later), Optional(std::string("e")));
  EXPECT_EQ(cache.Find(30.21, 120.0, later), std::nullopt);
  EXPECT_EQ(cache.Find(30.22, 120.0, later), std::nullopt);
}

TEST(GridCache, ReadersAndWritersShareIt) {
  GridCache cache(absl::Seconds(10), 64);
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0};
  std::vector<std::thread> readers;
  readers.reserve(4);
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        std::optional<std::string> g = cache.Find(kLat, kLng, kAsked);
        if (g.has_value() && *g != "g01") wrong.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 2000; ++i) {
    cache.Put(CellAround(kLat, kLng, 16), "g01", kAsked, kAsked + absl::Hours(1));
    cache.Put(CellAround(30.0 + i * 0.001, 121.0, 16), "elsewhere", kAsked,
              kAsked + absl::Hours(1));
  }
  stop.store(true);
  for (std::thread& r : readers) r.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(cache.size(), 64);
}

}  // namespace
}  // namespace gridloop::incidents
