#ifndef GRIDLOOP_SERVICES_DISPATCH_OFFERS_H_
#define GRIDLOOP_SERVICES_DISPATCH_OFFERS_H_

// The life of an offer to a volunteer, as one pure function: the Redis adapter only
// compares versions, so every rule lives (and is tested) here.
//
//   OFFERED --accept (before expires_at)--> ACCEPTED --assignment recorded--> (assigned)
//   OFFERED --decline--> DECLINED
//   OFFERED --expire (at or after expires_at)--> EXPIRED
//   OFFERED / ACCEPTED but not yet assigned --withdraw--> WITHDRAWN

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gridloop/v1/dispatch.pb.h"

namespace gridloop::dispatch {

enum class OfferAction { kAccept, kDecline, kExpire, kWithdraw, kMarkAssigned };

// "accept", "decline"... for messages.
absl::string_view OfferActionName(OfferAction action);

// "offered", "accepted"...
std::string OfferStatusName(v1::OfferStatus status);

// True while the volunteer may still answer.
bool IsOpen(const v1::Offer& offer);

// The offer after `action` at `now`, with version + 1 and responded_at set when the
// volunteer answered. `reason` is kept for a decline. FailedPrecondition, naming the
// offer's status, when the action does not apply: answering a closed offer, accepting or
// declining after expires_at, expiring before it. kMarkAssigned on an offer already
// assigned returns it unchanged (same version), so a repeated confirmation is harmless.
absl::StatusOr<v1::Offer> NextOffer(const v1::Offer& offer, OfferAction action, absl::Time now,
                                    absl::string_view reason = "");

}  // namespace gridloop::dispatch

#endif  // GRIDLOOP_SERVICES_DISPATCH_OFFERS_H_
