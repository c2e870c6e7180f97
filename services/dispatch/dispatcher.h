#ifndef GRIDLOOP_SERVICES_DISPATCH_DISPATCHER_H_
#define GRIDLOOP_SERVICES_DISPATCH_DISPATCHER_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock/clock.h"
#include "common/identity/identity.h"
#include "gridloop/v1/dispatch.pb.h"
#include "gridloop/v1/events.pb.h"
#include "services/dispatch/applied_versions.h"
#include "services/dispatch/dispatch_store.h"
#include "services/dispatch/geo/volunteer_index.h"
#include "services/dispatch/ledger.h"
#include "services/dispatch/offers.h"
#include "services/dispatch/peers.h"
#include "services/dispatch/policy.h"
#include "services/dispatch/routing.h"
#include "services/dispatch/volunteer_store.h"

namespace gridloop::dispatch {

struct DispatcherOptions {
  // How long a volunteer has to answer an offer.
  absl::Duration offer_ttl = absl::Minutes(10);
  // An accepted offer whose assignment IncidentService did not confirm is tried again
  // after this long (by the timers, on whichever replica gets there first).
  absl::Duration assign_retry = absl::Seconds(5);
  // Assignments within this window count against a candidate (fairness).
  absl::Duration fairness_window = absl::Hours(24 * 7);
  // Nearest volunteers considered per decision, and volunteers asked per round before
  // the grid worker gets the order.
  int candidates = 50;
  int max_offers_per_round = 5;
  PolicyWeights weights;
  // Kept after an incident is closed or cancelled, for GetDispatch and late duplicates.
  absl::Duration retain_finished = absl::Hours(24 * 30);
  // What a closed incident is worth to the volunteer who handled it.
  CreditRules credit;
  // Incidents whose applied version is remembered in memory (see AppliedVersions); 0
  // reads every record from Redis.
  size_t applied_versions_slots = 1 << 16;
};

// Turns incident events into assignments (派单), runs volunteer offers with their
// deadlines, escalates overdue incidents (吹哨) and credits volunteers' service.
//
// Every decision is keyed by the incident version that caused it: the dispatch record
// remembers the last version applied, so a replayed event changes nothing, and every
// command to IncidentService carries a request_id derived from the decision, so a retry
// after a crash returns the first result instead of assigning twice. Changes to one
// incident's record compare versions; a concurrent change (another replica's timer, a
// volunteer's answer) makes the loser re-read and decide again.
//
// Thread-safe; blocks on Redis and on the peers.
class Dispatcher {
 public:
  // Everything must outlive the dispatcher.
  Dispatcher(DispatchStore* dispatch, VolunteerStore* volunteers, const VolunteerIndex* index,
             const Routing* routing, IncidentCommands* incidents, StaffDirectory* staff,
             const Clock* clock, DispatcherOptions options);

  // Applies one record of gridloop.incident.events.v1. OK when applied or when it was
  // already (a duplicate or superseded version); InvalidArgument for an event that cannot
  // be an incident event (it goes to the DLQ); Unavailable when Redis or a peer could not
  // be reached (the consumer retries).
  absl::Status HandleIncidentEvent(const v1::IncidentEvent& event);

  // Expires due offers and moves each to the next candidate, and retries assignments of
  // accepted offers that were not confirmed. Returns how many timers it handled.
  absl::StatusOr<int> FireDueTimers(int limit);

  // RPCs.
  absl::StatusOr<v1::ListOffersResponse> ListOffers(const v1::ListOffersRequest& request,
                                                    const Caller& caller);
  // Accept: the offer is ACCEPTED and IncidentService assigns the incident to the
  // volunteer (if it cannot be reached just now, the offer stays accepted and the
  // assignment is retried). Decline: the next candidate is asked. Answering the same
  // way twice returns the offer as it is. FailedPrecondition when the offer is closed,
  // expired, or its incident can no longer be assigned.
  absl::StatusOr<v1::Offer> RespondToOffer(const v1::RespondToOfferRequest& request,
                                           const Caller& caller);
  absl::StatusOr<v1::Dispatch> GetDispatch(const v1::GetDispatchRequest& request,
                                           const Caller& caller);

 private:
  struct Plan;

  absl::Status ApplyEvent(const v1::IncidentEvent& event, const std::optional<v1::Dispatch>& job);
  absl::Status StartRound(Plan& plan, const std::string& avoid_id);
  absl::Status DispatchByRoute(Plan& plan, const std::string& avoid_id);
  absl::Status OfferNextVolunteer(Plan& plan, const std::string& avoid_id);
  absl::Status MakeOffer(Plan& plan, const std::string& volunteer_id, bool named,
                         double distance_m);
  // The responsible people of `level` (the grid's workers on duty, the community's or
  // street's leaders), else the category's department; the previous assignee last.
  absl::Status AssignAtLevel(Plan& plan, v1::EscalationLevel level);
  absl::Status AssignStaff(Plan& plan, const std::vector<std::string>& people,
                           const std::string& avoid_id);
  absl::Status AssignTo(Plan& plan, v1::AssigneeKind kind, const std::string& id);
  absl::Status WithdrawOpenOffer(Plan& plan, absl::string_view reason);
  absl::Status CreditClosed(const v1::Incident& incident, int64_t version);

  // Closes `offer_id` with `action` (decline, expire) and asks the next candidate.
  absl::StatusOr<v1::Offer> CloseAndAdvance(const std::string& offer_id, OfferAction action,
                                            absl::string_view reason);
  // Has IncidentService assign an accepted offer's incident to its volunteer.
  absl::StatusOr<v1::Offer> ConfirmAssignment(const std::string& offer_id);

  v1::DispatchEvent NewEvent(v1::DispatchEventType type, const v1::Dispatch& job) const;
  // Assignments before this neither count against anyone nor are kept.
  absl::Time FairnessWindowStart() const;

  DispatchStore* const dispatch_;
  VolunteerStore* const volunteers_;
  const VolunteerIndex* const index_;
  const Routing* const routing_;
  IncidentCommands* const incidents_;
  StaffDirectory* const staff_;
  const Clock* const clock_;
  const DispatcherOptions options_;
  AppliedVersions applied_;
};

}  // namespace gridloop::dispatch

#endif  // GRIDLOOP_SERVICES_DISPATCH_DISPATCHER_H_
