#include "common/server/executor.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace gridloop::server {
namespace {

TEST(Executor, RunsPostedWork) {
  Executor executor(2, 16);
  std::atomic<int> done{0};
  absl::Notification all_done;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(executor.Post([&] {
      if (done.fetch_add(1) + 1 == 10) all_done.Notify();
    }));
  }
  all_done.WaitForNotification();
  EXPECT_EQ(done.load(), 10);
}

TEST(Executor, RefusesWorkBeyondTheQueueBound) {
  Executor executor(1, 2);
  absl::Notification started;
  absl::Notification release;
  ASSERT_TRUE(executor.Post([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();  // the worker is busy; the queue is empty
  EXPECT_TRUE(executor.Post([] {}));
  EXPECT_TRUE(executor.Post([] {}));
  EXPECT_FALSE(executor.Post([] {}));
  EXPECT_EQ(executor.queued(), 2u);
  release.Notify();
}

TEST(Executor, ShutdownRunsQueuedWorkThenRefusesMore) {
  Executor executor(1, 8);
  absl::Notification started;
  absl::Notification release;
  std::atomic<int> ran{0};
  ASSERT_TRUE(executor.Post([&] {
    started.Notify();
    release.WaitForNotification();
    ran.fetch_add(1);
  }));
  started.WaitForNotification();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(executor.Post([&] { ran.fetch_add(1); }));

  // Shutdown waits for the running task and for the queue behind it.
  std::thread stopper([&] { executor.Shutdown(); });
  release.Notify();
  stopper.join();
  EXPECT_EQ(ran.load(), 6);
  EXPECT_EQ(executor.queued(), 0u);
  EXPECT_FALSE(executor.Post([] {}));
  executor.Shutdown();  // idempotent
}

TEST(Executor, DestructionDrainsTheQueue) {
  std::atomic<int> ran{0};
  {
    Executor executor(2, 64);
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(executor.Post([&] { ran.fetch_add(1); }));
  }
  EXPECT_EQ(ran.load(), 50);
}

}  // namespace
}  // namespace gridloop::server
