#ifndef GRIDLOOP_SERVICES_ASSESSMENT_TALLY_H_
#define GRIDLOOP_SERVICES_ASSESSMENT_TALLY_H_

#include <array>
#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace gridloop::assessment {

// The counters kept per subject and period. Every figure on a scorecard is computed from
// them at read time, so a change of scoring formula needs no recount. The definitions of
// what increments each one are in docs/assessment.md.
enum class Counter : int {
  kReceived = 0,       // incidents reported in the period
  kCancelled,          // ... of them cancelled (excluded from every rate)
  kResponseDue,        // respond-by deadline in the period, outcome known
  kResponseMet,        // ... first accepted by the deadline
  kResolutionDue,      // first resolve-by in the period: closed, or a resolve deadline missed
  kResolutionClosed,   // ... closed now
  kTimelinessDue,      // first resolve-by in the period, resolved or deadline missed
  kTimelinessMet,      // ... first resolved by the first resolve-by
  kFeedbackSatisfied,  // latest feedback given in the period
  kFeedbackBasic,
  kFeedbackDissatisfied,
  kReopenDue,      // reported in the period and given feedback at least once
  kReopened,       // ... reopened at least once
  kEscalationDue,  // reported in the period, not cancelled
  kEscalated,      // ... escalated at least one level
  kOffersMade,     // volunteers: offers made in the period
  kOffersAccepted,
  kOffersDeclined,
  kOffersExpired,
  kServiceMillihours,  // volunteers: hours credited × 1000
  kServicePoints,
  kSurveyResponses,          // regions: survey responses received in the period
  kSurveySatisfactionMilli,  // ... the sum of their satisfaction × 1000
  kCount,
};

inline constexpr int kCounterCount = static_cast<int>(Counter::kCount);

// The stored field name of `c` (short: they are repeated in every counter hash).
absl::string_view CounterField(Counter c);
// The counter stored under `field`; nullopt for a name this version does not know.
std::optional<Counter> CounterFromField(absl::string_view field);

// One subject's counters for one period.
struct Tally {
  std::array<int64_t, kCounterCount> n{};

  int64_t operator[](Counter c) const { return n[static_cast<int>(c)]; }
  int64_t& operator[](Counter c) { return n[static_cast<int>(c)]; }
  bool operator==(const Tally&) const = default;
  Tally& operator+=(const Tally& o) {
    for (int i = 0; i < kCounterCount; ++i) n[i] += o.n[i];
    return *this;
  }
  bool empty() const {
    for (int64_t v : n) {
      if (v != 0) return false;
    }
    return true;
  }
};

}  // namespace gridloop::assessment

#endif  // GRIDLOOP_SERVICES_ASSESSMENT_TALLY_H_
