#include "services/assessment/tally.h"

namespace gridloop::assessment {
namespace {

constexpr std::array<absl::string_view, kCounterCount> kFields = {
    "rcv",     "cnl",     "rsp_due", "rsp_met", "res_due", "res_cls", "tml_due",   "tml_met",
    "fb_sat",  "fb_bas",  "fb_dis",  "rop_due", "rop",     "esc_due", "esc",       "off_made",
    "off_acc", "off_dec", "off_exp", "svc_mh",  "svc_pts", "srv_n",   "srv_sat_m",
};

}  // namespace

absl::string_view CounterField(Counter c) { return kFields[static_cast<int>(c)]; }

std::optional<Counter> CounterFromField(absl::string_view field) {
  for (int i = 0; i < kCounterCount; ++i) {
    if (kFields[i] == field) return static_cast<Counter>(i);
  }
  return std::nullopt;
}

}  // namespace gridloop::assessment
