#include "services/dispatch/offers.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/clock/proto_time.h"

namespace gridloop::dispatch {
namespace {

absl::Status NotApplicable(const v1::Offer& offer, OfferAction action, absl::string_view why) {
  return absl::FailedPreconditionError(
      absl::StrCat("offer ", offer.id(), " cannot ", OfferActionName(action), ": ", why));
}

}  // namespace

absl::string_view OfferActionName(OfferAction action) {
  switch (action) {
    case OfferAction::kAccept:
      return "accept";
    case OfferAction::kDecline:
      return "decline";
    case OfferAction::kExpire:
      return "expire";
    case OfferAction::kWithdraw:
      return "withdraw";
    case OfferAction::kMarkAssigned:
      return "mark assigned";
  }
  return "?";
}

std::string OfferStatusName(v1::OfferStatus status) {
  std::string name(absl::StripPrefix(v1::OfferStatus_Name(status), "OFFER_STATUS_"));
  absl::AsciiStrToLower(&name);
  return name;
}

bool IsOpen(const v1::Offer& offer) { return offer.status() == v1::OFFER_STATUS_OFFERED; }

absl::StatusOr<v1::Offer> NextOffer(const v1::Offer& offer, OfferAction action, absl::Time now,
                                    absl::string_view reason) {
  const absl::Time expires = FromTimestamp(offer.expires_at());
  const bool open = IsOpen(offer);
  const std::string status = OfferStatusName(offer.status());
  v1::Offer next = offer;
  switch (action) {
    case OfferAction::kAccept:
    case OfferAction::kDecline:
      if (!open) return NotApplicable(offer, action, absl::StrCat("it is already ", status));
      if (now >= expires) return NotApplicable(offer, action, "it has expired");
      next.set_status(action == OfferAction::kAccept ? v1::OFFER_STATUS_ACCEPTED
                                                     : v1::OFFER_STATUS_DECLINED);
      *next.mutable_responded_at() = ToTimestamp(now);
      if (action == OfferAction::kDecline) next.set_decline_reason(std::string(reason));
      break;
    case OfferAction::kExpire:
      if (!open) return NotApplicable(offer, action, absl::StrCat("it is already ", status));
      if (now < expires) return NotApplicable(offer, action, "its deadline has not passed");
      next.set_status(v1::OFFER_STATUS_EXPIRED);
      break;
    case OfferAction::kWithdraw:
      if (!open && !(offer.status() == v1::OFFER_STATUS_ACCEPTED && !offer.assigned())) {
        return NotApplicable(
            offer, action,
            absl::StrCat("it is already ", status, offer.assigned() ? " and assigned" : ""));
      }
      next.set_status(v1::OFFER_STATUS_WITHDRAWN);
      next.set_decline_reason(std::string(reason));
      break;
    case OfferAction::kMarkAssigned:
      if (offer.status() != v1::OFFER_STATUS_ACCEPTED) {
        return NotApplicable(offer, action, absl::StrCat("it is ", status));
      }
      if (offer.assigned()) return offer;
      next.set_assigned(true);
      break;
  }
  next.set_version(offer.version() + 1);
  return next;
}

}  // namespace gridloop::dispatch
