#include "services/dispatch/applied_versions.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace gridloop::dispatch {
namespace {

TEST(AppliedVersions, KnowsOnlyWhatWasRecordedAndKeepsTheNewest) {
  AppliedVersions applied(1024);
  EXPECT_EQ(applied.Get("inc-1"), 0);
  applied.Record("inc-1", 3);
  EXPECT_EQ(applied.Get("inc-1"), 3);
  // A late, older record (a retry that lost a race) does not move it back.
  applied.Record("inc-1", 2);
  EXPECT_EQ(applied.Get("inc-1"), 3);
  applied.Record("inc-1", 5);
  EXPECT_EQ(applied.Get("inc-1"), 5);
  EXPECT_EQ(applied.Get("inc-2"), 0);
  // Nothing to record for no id or no version.
  applied.Record("", 4);
  applied.Record("inc-3", 0);
  EXPECT_EQ(applied.Get(""), 0);
  EXPECT_EQ(applied.Get("inc-3"), 0);
}

TEST(AppliedVersions, AnIncidentSharingASlotForgetsTheOtherInsteadOfAnsweringForIt) {
  AppliedVersions applied(1);
  applied.Record("inc-1", 7);
  applied.Record("inc-2", 2);
  EXPECT_EQ(applied.Get("inc-1"), 0);
  EXPECT_EQ(applied.Get("inc-2"), 2);
  applied.Record("inc-1", 1);
  EXPECT_EQ(applied.Get("inc-1"), 1);
  EXPECT_EQ(applied.Get("inc-2"), 0);
}

TEST(AppliedVersions, NoSlotsKeepNothing) {
  AppliedVersions applied(0);
  applied.Record("inc-1", 3);
  EXPECT_EQ(applied.Get("inc-1"), 0);
}

TEST(AppliedVersions, ConcurrentRecordsOfOneIncidentKeepTheNewest) {
  AppliedVersions applied(4096);
  constexpr int kThreads = 8;
  constexpr int kVersions = 2000;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&applied, t] {
      for (int v = 1; v <= kVersions; ++v) {
        // Half the threads walk the versions backwards.
        applied.Record("inc-1", t % 2 == 0 ? v : kVersions + 1 - v);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(applied.Get("inc-1"), kVersions);
}

TEST(AppliedVersions, ConcurrentIncidentsNeverAnswerWithAnothersVersion) {
  // Few slots for many ids, so that they keep taking each other's place.
  AppliedVersions applied(16);
  constexpr int kThreads = 8;
  constexpr int kIncidents = 100;
  static constexpr int kVersions = 20;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&applied] {
      for (int v = 1; v <= kVersions; ++v) {
        for (int i = 0; i < kIncidents; ++i) {
          // The version names its incident: i * 1000 + v.
          applied.Record(absl::StrCat("inc-", i), i * 1000 + v);
          const int64_t seen = applied.Get(absl::StrCat("inc-", (i * 7) % kIncidents));
          if (seen != 0) {
            EXPECT_EQ(seen / 1000, (i * 7) % kIncidents);
            EXPECT_LE(seen % 1000, kVersions);
          }
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
}

}  // namespace
}  // namespace gridloop::dispatch
