// The ledger's decisions (in-memory twin) and how ApplyOnce talks to Redis (mock client).

#include "common/events/ledger.h"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "common/events/memory_ledger.h"
#include "common/redis/mock_redis_client.h"
#include "common/redis/redis_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gridloop::events {
namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Return;

// "applied", "skipped" or the status, so that failures read plainly.
std::string Outcome(const absl::StatusOr<bool>& result) {
  if (!result.ok()) return result.status().ToString();
  return *result ? "applied" : "skipped";
}

// Feeds `versions` of one incident through a MemoryLedger; returns those applied, in order.
std::vector<int64_t> AppliedInOrder(MemoryLedger& ledger, const std::vector<int64_t>& versions,
                                    const std::string& incident = "inc-1") {
  std::vector<int64_t> applied;
  for (int64_t version : versions) {
    absl::StatusOr<bool> done = ledger.ApplyOnce(incident, version, [&] {
      applied.push_back(version);
      return absl::OkStatus();
    });
    EXPECT_TRUE(done.ok()) << done.status();
  }
  return applied;
}

TEST(EachOnce, DuplicatesApplyOnce) {
  MemoryLedger ledger(Policy::kEachOnce);
  EXPECT_THAT(AppliedInOrder(ledger, {1, 1, 2, 2, 2}), ElementsAre(1, 2));
  EXPECT_EQ(ledger.Applied("inc-1").watermark(), 2);
  EXPECT_THAT(ledger.Applied("inc-1").above_watermark(), IsEmpty());
}

TEST(EachOnce, ReplayAfterRepublishAppliesEachVersionOnce) {
  MemoryLedger ledger(Policy::kEachOnce);
  EXPECT_THAT(AppliedInOrder(ledger, {1, 2, 1, 2, 3}), ElementsAre(1, 2, 3));
}

TEST(EachOnce, OlderVersionAfterNewerIsStillApplied) {
  MemoryLedger ledger(Policy::kEachOnce);
  EXPECT_THAT(AppliedInOrder(ledger, {1, 3}), ElementsAre(1, 3));
  EXPECT_EQ(ledger.Applied("inc-1").watermark(), 1);
  EXPECT_THAT(ledger.Applied("inc-1").above_watermark(), ElementsAre(3));
  EXPECT_THAT(AppliedInOrder(ledger, {2, 2, 3}), ElementsAre(2));
  EXPECT_EQ(ledger.Applied("inc-1").watermark(), 3);
  EXPECT_THAT(ledger.Applied("inc-1").above_watermark(), IsEmpty());
}

TEST(EachOnce, GapsKeepVersionsAboveWatermarkUntilFilled) {
  MemoryLedger ledger(Policy::kEachOnce);
  EXPECT_THAT(AppliedInOrder(ledger, {2, 5, 3}), ElementsAre(2, 5, 3));
  EXPECT_EQ(ledger.Applied("inc-1").watermark(), 0);
  EXPECT_THAT(ledger.Applied("inc-1").above_watermark(), ElementsAre(2, 3, 5));
  EXPECT_THAT(AppliedInOrder(ledger, {3, 1}), ElementsAre(1));
  EXPECT_EQ(ledger.Applied("inc-1").watermark(), 3);
  EXPECT_THAT(ledger.Applied("inc-1").above_watermark(), ElementsAre(5));
  EXPECT_THAT(AppliedInOrder(ledger, {5, 4, 4}), ElementsAre(4));
  EXPECT_EQ(ledger.Applied("inc-1").watermark(), 5);
  EXPECT_THAT(ledger.Applied("inc-1").above_watermark(), IsEmpty());
}

TEST(LatestWins, DuplicatesAndOlderVersionsAreSkipped) {
  MemoryLedger ledger(Policy::kLatestWins);
  EXPECT_THAT(AppliedInOrder(ledger, {1, 2, 1, 2, 3}), ElementsAre(1, 2, 3));
  EXPECT_EQ(ledger.Applied("inc-1").watermark(), 3);
}

TEST(LatestWins, VersionArrivingAfterANewerOneIsSuperseded) {
  MemoryLedger ledger(Policy::kLatestWins);
  EXPECT_THAT(AppliedInOrder(ledger, {3, 2}), ElementsAre(3));
  EXPECT_THAT(AppliedInOrder(ledger, {1, 3, 2, 2}, "inc-2"), ElementsAre(1, 3));
}

TEST(LatestWins, GapsAreJumped) {
  MemoryLedger ledger(Policy::kLatestWins);
  EXPECT_THAT(AppliedInOrder(ledger, {1, 4, 2, 3, 5}), ElementsAre(1, 4, 5));
  EXPECT_EQ(ledger.Applied("inc-1").watermark(), 5);
  EXPECT_THAT(ledger.Applied("inc-1").above_watermark(), IsEmpty());
}

TEST(MemoryLedger, IncidentsAreIndependent) {
  for (Policy policy : {Policy::kEachOnce, Policy::kLatestWins}) {
    MemoryLedger ledger(policy);
    EXPECT_THAT(AppliedInOrder(ledger, {1, 2}, "a"), ElementsAre(1, 2));
    EXPECT_THAT(AppliedInOrder(ledger, {1, 2}, "b"), ElementsAre(1, 2)) << PolicyName(policy);
  }
}

TEST(MemoryLedger, FailedEffectLeavesVersionUnmarked) {
  for (Policy policy : {Policy::kEachOnce, Policy::kLatestWins}) {
    MemoryLedger ledger(policy);
    absl::StatusOr<bool> failed =
        ledger.ApplyOnce("a", 1, [] { return absl::UnavailableError("downstream"); });
    EXPECT_EQ(failed.status(), absl::UnavailableError("downstream"));
    EXPECT_EQ(ledger.Applied("a").watermark(), 0);
    int runs = 0;
    auto effect = [&] {
      ++runs;
      return absl::OkStatus();
    };
    EXPECT_EQ(Outcome(ledger.ApplyOnce("a", 1, effect)), "applied") << PolicyName(policy);
    EXPECT_EQ(Outcome(ledger.ApplyOnce("a", 1, effect)), "skipped");
    EXPECT_EQ(runs, 1);
  }
}

TEST(MemoryLedger, RejectsEventsItCannotRecord) {
  MemoryLedger ledger(Policy::kEachOnce);
  int runs = 0;
  auto effect = [&] {
    ++runs;
    return absl::OkStatus();
  };
  EXPECT_EQ(ledger.ApplyOnce("", 1, effect).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ledger.ApplyOnce("a}b", 1, effect).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ledger.ApplyOnce("a", 0, effect).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ledger.ApplyOnce("a", kMaxVersion + 1, effect).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(runs, 0);
}

TEST(Ledger, KeySharesTheIncidentHashTag) {
  Ledger ledger("dsp", Policy::kEachOnce);
  EXPECT_EQ(ledger.Key("inc-42"), "dsp:{inc-42}:applied");
}

TEST(Ledger, GuardedSourceWrapsTheEffectBetweenGuardAndMark) {
  Ledger ledger("dsp", Policy::kEachOnce);
  const std::string source = ledger.GuardedSource("return redis.call('INCR', KEYS[2])");
  EXPECT_TRUE(absl::StartsWith(source, ledger.LuaPrologue())) << source;
  EXPECT_TRUE(absl::EndsWith(source, ledger.LuaEpilogue())) << source;
  EXPECT_THAT(source, HasSubstr("return redis.call('INCR', KEYS[2])"));
  EXPECT_THAT(source, HasSubstr(kDuplicateMarker));
}

TEST(Ledger, ScriptFlagsLineIsMovedToTheTop) {
  Ledger ledger("dsp", Policy::kLatestWins);
  const std::string source = ledger.GuardedSource("#!lua flags=allow-cross-slot\nreturn 1");
  EXPECT_TRUE(absl::StartsWith(source, "#!lua flags=allow-cross-slot\n-- gridloop")) << source;
  EXPECT_THAT(source, HasSubstr("gridloop_ledger_effect()\nreturn 1\nend"));
}

TEST(Ledger, GuardIsComposedOncePerEffect) {
  Ledger each("dsp", Policy::kEachOnce);
  Ledger latest("dsp", Policy::kLatestWins);
  const redis::Script incr("return redis.call('INCR', KEYS[2])");
  const redis::Script incr_copy("return redis.call('INCR', KEYS[2])");
  const redis::Script other("return 1");
  EXPECT_EQ(&each.Guard(incr), &each.Guard(incr_copy));
  EXPECT_NE(&each.Guard(incr), &each.Guard(other));
  EXPECT_EQ(each.Guard(incr).source(), each.GuardedSource(incr.source()));
  EXPECT_NE(each.Guard(incr).sha(), latest.Guard(incr).sha());
}

class ApplyOnceTest : public ::testing::Test {
 protected:
  redis::MockClient client_;
  Ledger ledger_{"asm", Policy::kEachOnce};
  const redis::Script effect_{"redis.call('RPUSH', KEYS[2], ARGV[2]) return 1"};
};

TEST_F(ApplyOnceTest, ReservesFirstKeyAndArgumentForTheLedger) {
  const std::string expected_sha = ledger_.Guard(effect_).sha();
  EXPECT_CALL(client_, Eval(_, ElementsAre("asm:{inc-7}:applied", "asm:{inc-7}:log"),
                            ElementsAre("12", "hello")))
      .WillOnce([&](const redis::Script& script, auto, auto) -> absl::StatusOr<redis::Reply> {
        EXPECT_EQ(script.sha(), expected_sha);
        return redis::Reply::Integer(1);
      });
  EXPECT_EQ(
      Outcome(ApplyOnce(client_, ledger_, "inc-7", 12, effect_, {"asm:{inc-7}:log"}, {"hello"})),
      "applied");
}

TEST_F(ApplyOnceTest, DuplicateMarkerMeansSkipped) {
  EXPECT_CALL(client_, Eval)
      .WillOnce(Return(redis::Reply::Status(kDuplicateMarker)))
      .WillOnce(Return(redis::Reply::Nil()))
      .WillOnce(Return(redis::Reply::Status("OK")));
  EXPECT_EQ(Outcome(ApplyOnce(client_, ledger_, "inc-7", 1, effect_, {}, {})), "skipped");
  // Whatever else the effect returns means it ran.
  EXPECT_EQ(Outcome(ApplyOnce(client_, ledger_, "inc-7", 1, effect_, {}, {})), "applied");
  EXPECT_EQ(Outcome(ApplyOnce(client_, ledger_, "inc-7", 1, effect_, {}, {})), "applied");
}

TEST_F(ApplyOnceTest, PassesRedisFailuresThrough) {
  EXPECT_CALL(client_, Eval)
      .WillOnce(Return(redis::StatusFromErrorReply("ERR effect refused")))
      .WillOnce(Return(absl::UnavailableError("connection reset")));
  EXPECT_EQ(ApplyOnce(client_, ledger_, "inc-7", 1, effect_, {}, {}).status(),
            absl::InternalError("ERR effect refused"));
  EXPECT_EQ(ApplyOnce(client_, ledger_, "inc-7", 1, effect_, {}, {}).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(ApplyOnceTest, RejectsBadInputWithoutCallingRedis) {
  EXPECT_CALL(client_, Eval).Times(0);
  EXPECT_EQ(ApplyOnce(client_, ledger_, "", 1, effect_, {}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ApplyOnce(client_, ledger_, "inc-7", 0, effect_, {}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ApplyOnce(client_, ledger_, "{inc-7}", 1, effect_, {}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  Ledger bad_prefix("", Policy::kLatestWins);
  EXPECT_EQ(ApplyOnce(client_, bad_prefix, "inc-7", 1, effect_, {}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gridloop::events
