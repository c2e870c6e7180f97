#ifndef GRIDLOOP_COMMON_PII_ID_NUMBER_H_
#define GRIDLOOP_COMMON_PII_ID_NUMBER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace gridloop::pii {

// Validation of the personal identifiers a resident record holds. Error messages start
// with `field` and say what is wrong, but never repeat the value: they reach logs and
// callers, and the value is personal data.

// A resident identity card number (GB 11643-1999): a 6-digit region code, the birth date
// as YYYYMMDD, a 3-digit sequence and a check character (ISO 7064 MOD 11-2, '0'-'9' or
// 'X'). Surrounding whitespace is trimmed and a lower-case 'x' becomes 'X'; the result is
// the form to store, mask and blind-index. The birth date must be a calendar date from
// 1900 on and not after the current date in China (UTC+8) at `now`.
// InvalidArgument otherwise.
absl::StatusOr<std::string> NormalizeIdNumber(absl::string_view field, absl::string_view raw,
                                              absl::Time now);

enum class Gender { kFemale, kMale };

// The birth date and gender encoded in `id_number`, which must be a result of
// NormalizeIdNumber; anything else gives an unspecified (but safe) answer.
absl::CivilDay BirthDateOf(absl::string_view id_number);
Gender GenderOf(absl::string_view id_number);

// A mainland China mobile number: 11 digits starting 13-19, optionally written with a
// leading +86 or 86, spaces or dashes. Returns the 11 digits; InvalidArgument otherwise.
absl::StatusOr<std::string> NormalizeMobile(absl::string_view field, absl::string_view raw);

}  // namespace gridloop::pii

#endif  // GRIDLOOP_COMMON_PII_ID_NUMBER_H_
