#include "services/dispatch/offers.h"

#include "common/clock/proto_time.h"
#include "gtest/gtest.h"

namespace gridloop::dispatch {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'780'000'000);

v1::Offer Open() {
  v1::Offer o;
  o.set_id("261127-03abc-o1");
  o.set_status(v1::OFFER_STATUS_OFFERED);
  o.set_version(1);
  *o.mutable_offered_at() = ToTimestamp(kT0);
  *o.mutable_expires_at() = ToTimestamp(kT0 + absl::Minutes(10));
  return o;
}

TEST(OfferStateMachine, AcceptBeforeTheDeadline) {
  absl::StatusOr<v1::Offer> o = NextOffer(Open(), OfferAction::kAccept, kT0 + absl::Minutes(9));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->status(), v1::OFFER_STATUS_ACCEPTED);
  EXPECT_EQ(o->version(), 2);
  EXPECT_EQ(FromTimestamp(o->responded_at()), kT0 + absl::Minutes(9));
  EXPECT_FALSE(o->assigned());
  EXPECT_FALSE(IsOpen(*o));
}

TEST(OfferStateMachine, AnswersAtOrAfterTheDeadlineAreRefused) {
  for (OfferAction a : {OfferAction::kAccept, OfferAction::kDecline}) {
    absl::StatusOr<v1::Offer> o = NextOffer(Open(), a, kT0 + absl::Minutes(10));
    EXPECT_EQ(o.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(o.status().message().find("expired"), std::string::npos);
  }
}

TEST(OfferStateMachine, DeclineKeepsTheReason) {
  absl::StatusOr<v1::Offer> o = NextOffer(Open(), OfferAction::kDecline, kT0, "out of town");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->status(), v1::OFFER_STATUS_DECLINED);
  EXPECT_EQ(o->decline_reason(), "out of town");
}

TEST(OfferStateMachine, ExpiresOnlyOnceItsDeadlinePassed) {
  EXPECT_EQ(NextOffer(Open(), OfferAction::kExpire, kT0 + absl::Minutes(9)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<v1::Offer> o = NextOffer(Open(), OfferAction::kExpire, kT0 + absl::Minutes(10));
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->status(), v1::OFFER_STATUS_EXPIRED);
  // A second replica's timer finds it closed.
  EXPECT_EQ(NextOffer(*o, OfferAction::kExpire, kT0 + absl::Hours(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(OfferStateMachine, ClosedOffersCannotBeAnsweredAgain) {
  v1::Offer declined = *NextOffer(Open(), OfferAction::kDecline, kT0);
  absl::StatusOr<v1::Offer> o = NextOffer(declined, OfferAction::kAccept, kT0);
  EXPECT_EQ(o.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(o.status().message().find("declined"), std::string::npos);
}

TEST(OfferStateMachine, WithdrawOpenOrAcceptedButUnassigned) {
  absl::StatusOr<v1::Offer> w = NextOffer(Open(), OfferAction::kWithdraw, kT0, "escalated");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->status(), v1::OFFER_STATUS_WITHDRAWN);
  v1::Offer accepted = *NextOffer(Open(), OfferAction::kAccept, kT0);
  EXPECT_TRUE(NextOffer(accepted, OfferAction::kWithdraw, kT0).ok());
  v1::Offer assigned = *NextOffer(accepted, OfferAction::kMarkAssigned, kT0);
  EXPECT_EQ(NextOffer(assigned, OfferAction::kWithdraw, kT0).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(OfferStateMachine, MarkAssignedIsIdempotent) {
  v1::Offer accepted = *NextOffer(Open(), OfferAction::kAccept, kT0);
  v1::Offer assigned = *NextOffer(accepted, OfferAction::kMarkAssigned, kT0);
  EXPECT_TRUE(assigned.assigned());
  EXPECT_EQ(assigned.version(), accepted.version() + 1);
  absl::StatusOr<v1::Offer> again = NextOffer(assigned, OfferAction::kMarkAssigned, kT0);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->version(), assigned.version());
  EXPECT_EQ(NextOffer(Open(), OfferAction::kMarkAssigned, kT0).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace gridloop::dispatch
