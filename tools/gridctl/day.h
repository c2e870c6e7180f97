#ifndef GRIDLOOP_TOOLS_GRIDCTL_DAY_H_
#define GRIDLOOP_TOOLS_GRIDCTL_DAY_H_

// The scripted day (`gridctl day`, and the end of `./tools/dev run`): a dozen incidents of
// one grid driven around the closed loop against a running stack, by simulated residents,
// hotline operators and assignees reacting to the events on Kafka. Nobody assigns by hand:
// the dispatch service does, as in production.
//
// The script, one incident per category of the built-in taxonomy, all at the same spot:
//
//   category              channel                  first handled by     resident's word
//   roof_leak             hotline (民情热线)        grid worker          satisfied
//   street_light          12345 work order         department           satisfied
//   neighbour_dispute     walk-in                  grid worker          basically satisfied
//   noise                 hotline                  grid worker          none: see below
//   sanitation            grid worker's patrol     grid worker          satisfied (核查)
//   illegal_construction  grid worker's patrol     department           satisfied (核查)
//   property_management   mailbox (民情信箱)        grid worker          dissatisfied -> reopened
//                                                                       -> re-dispatched ->
//                                                                       satisfied
//   elderly_help          hotline, 点名 the day's  volunteer (accepts   satisfied
//                         volunteer                the offer)
//   disability_help       public-sentiment liaison volunteer route; the grid worker when no
//                                                  volunteer with its skills is near
//                                                                       satisfied
//   safety_hazard         grid worker's patrol     grid worker          satisfied (核查)
//   public_facility       数字化城管 work order     department           satisfied
//   other                 hotline                  grid worker          satisfied
//
// Every assignee accepts and resolves what dispatch gives them, except the first assignee
// of `noise`, who never answers: tools/gridctl/day_categories.csv gives noise a 5 s
// respond-by, the incidents service's SLA timer emits `overdue`, dispatch escalates it one
// level (吹哨) and assigns it to the community's leader, who accepts. The day leaves it
// there: ESCALATED-then-assigned, accepted, IN_PROGRESS, escalation level community, with
// no feedback (its resolve-by is a day away). The other eleven end CLOSED.
// Reporters known by name and phone give feedback through the hotline's follow-up call
// (回访, recorded by the operator); patrol reports are verified (核查) by the grid's leader.
//
// The day's categories (day_categories.csv) keep the built-in names, urgencies and
// handlers but answer in 5 min and resolve in 15 min (noise: 5 s and 24 h). The assessment
// service counts the response rate in the period of each incident's first respond-by and
// resolution and timeliness in the period of its first resolve-by (docs/assessment.md);
// with the built-in deadlines (up to 7 days) most of the day's figures would fall on later
// days' scorecards, and which ones would depend on the hour the day was played.
//
// What the street's day scorecard shows after one day on an otherwise empty stack
// (DayOutcome::street_day, formula v1, the day's taxonomy), from the definitions in
// docs/assessment.md:
//
//   received      12  (every report; none cancelled: cancelled 0)
//   response      11 / 12   the 11 accepted within 5 min of their report; noise's first
//                           respond-by passed with nobody accepting (accepted later, by the
//                           community leader, still after that deadline: not met)
//   resolution    11 / 11   the 11 closed; noise is neither closed nor past its resolve-by
//   timeliness    11 / 11   the 11 first resolved before their first resolve-by (the
//                           reopened one counts its first resolution)
//   satisfaction  10.8 / 11 the latest feedback of the 11 closed: 10 satisfied (the reopened
//                           one's second answer included) + 0.8 x 1 basically satisfied
//   reopen         1 / 11   incidents with feedback; property_management reopened once
//   escalation     1 / 12   incidents not cancelled; noise escalated one level
//   survey_satisfaction  no data (0 / 0)
//   score = 100 x (0.35 x 10.8/11 + 0.25 x 11/12 + 0.25 x 1 + 0.10 x 1 + 0.05 x (1 - 1/11))
//           / (0.35 + 0.25 + 0.25 + 0.10 + 0.05) = 96.8258 (escalation has weight 0; rates
//           without data are left out); sample 12 >= 5; 5 stars (score >= 90, satisfaction
//           0.982 >= 0.90).
//
// These hold when the reports and every first deadline that counts fall on one local day
// (UTC+8): DayOutcome::within_one_day says whether they did. A day started less than about
// 15 minutes before local midnight splits its figures over two days' scorecards.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gridloop/v1/assessment.pb.h"
#include "gridloop/v1/incidents.pb.h"

namespace gridloop::gridctl {

struct DayOptions {
  // gRPC addresses of the four services and the Kafka bootstrap list. All required:
  // residents says which grid the spot lies in and who is on duty there.
  std::string incidents_addr, dispatch_addr, assessment_addr, residents_addr, kafka_brokers;
  std::string incident_topic = "gridloop.incident.events.v1";
  // Read for the offers the day's volunteer accepts.
  std::string dispatch_topic = "gridloop.dispatch.events.v1";
  // Region code of the street whose scorecard ends the day; the spot's grid must lie in it.
  std::string street;
  // A spot inside a grid that has a grid worker on duty and whose community has a leader.
  double latitude = 0, longitude = 0;
  // Prefix of every request_id (at most 40 characters), so a second day against the same
  // stack reports afresh. Empty: "day-" and the current time. The day's volunteer is
  // registered with a request_id of its own that does not depend on it, so every day at
  // the same spot has the same volunteer.
  std::string run_id;
  // The loop as it happens, one line per call and per event; nullptr = silent.
  std::ostream* out = nullptr;
  // How long to wait for any one expected event (and for assessment to fold the day).
  absl::Duration step_timeout = absl::Seconds(60);
};

struct DayIncident {
  std::string id, category, title;
  v1::Channel channel = v1::CHANNEL_UNSPECIFIED;
  v1::IncidentStatus final_status = v1::INCIDENT_STATUS_UNSPECIFIED;  // as GetIncident returns it
  std::string assignee_id;
  v1::AssigneeKind assignee_kind = v1::ASSIGNEE_KIND_UNSPECIFIED;
  bool reopened = false, escalated = false;
  v1::EscalationLevel escalation_level = v1::ESCALATION_LEVEL_GRID;
  // The resident's latest word; UNSPECIFIED for the escalated incident.
  v1::Satisfaction satisfaction = v1::SATISFACTION_UNSPECIFIED;
  int64_t version = 0;
  // The incident ended as the script says (see the top of this file).
  bool as_expected = false;
};

struct DayOutcome {
  std::vector<DayIncident> incidents;  // in the order they were reported
  std::string grid;                    // the grid the spot lies in
  std::string volunteer_id;            // the day's volunteer (elderly_help's assignee)
  // GetScorecard(REGION, street, PERIOD_DAY, at the first report) once assessment has folded
  // the last version of every one of the day's incidents.
  v1::Scorecard street_day;
  // The reports, every first respond-by, the first resolve-by of every resolved incident
  // and every feedback fall on the same local day (UTC+8), so all of the day's figures are
  // in street_day.
  bool within_one_day = false;
};

// Plays the day against a stack whose incidents service runs with
// GRIDLOOP_CATEGORIES_FILE=tools/gridctl/day_categories.csv. InvalidArgument for missing or
// malformed options; FailedPrecondition when the incidents service has another taxonomy (a
// category missing, or noise not overdue within half of `step_timeout`), or the spot lies
// in no grid, outside `street`, or in a grid without a grid worker on duty or a community
// leader; DeadlineExceeded naming the incident and what it waited for when an
// expected event does not arrive within `step_timeout`; Unavailable (or the call's own
// code) when a service refuses a call the script depends on. Blocks for the whole day
// (typically under a minute); not thread-safe with respect to `options.out`.
absl::StatusOr<DayOutcome> PlayDay(const DayOptions& options);

}  // namespace gridloop::gridctl

#endif  // GRIDLOOP_TOOLS_GRIDCTL_DAY_H_
