#include "common/pii/id_number.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace gridloop::pii {
namespace {

constexpr size_t kIdLength = 18;
constexpr int kCheckWeights[kIdLength - 1] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
constexpr char kCheckCharacters[] = "10X98765432";
constexpr int kEarliestBirthYear = 1900;

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

bool AllDigits(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return true;
}

// The value of `s`, which holds digits only.
int DigitsValue(absl::string_view s) {
  int value = 0;
  for (char c : s) value = value * 10 + (c - '0');
  return value;
}

// ISO 7064 MOD 11-2 over the first 17 digits of `id`.
char CheckCharacter(absl::string_view id) {
  int sum = 0;
  for (size_t i = 0; i < kIdLength - 1; ++i) sum += (id[i] - '0') * kCheckWeights[i];
  return kCheckCharacters[sum % 11];
}

// Births are registered in local time, and all of China keeps UTC+8 without daylight
// saving; a fixed zone needs no tz database in the container.
absl::TimeZone ChinaTime() { return absl::FixedTimeZone(8 * 60 * 60); }

}  // namespace

absl::StatusOr<std::string> NormalizeIdNumber(absl::string_view field, absl::string_view raw,
                                              absl::Time now) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(raw);
  if (trimmed.empty()) return Invalid(field, "required");
  if (trimmed.size() != kIdLength) {
    return Invalid(field, absl::StrCat("must be 18 characters (got ", trimmed.size(), ")"));
  }
  std::string id(trimmed);
  if (id.back() == 'x') id.back() = 'X';
  if (!AllDigits(absl::string_view(id).substr(0, kIdLength - 1)) ||
      !(absl::ascii_isdigit(id.back()) || id.back() == 'X')) {
    return Invalid(field, "must be 17 digits followed by a digit or X");
  }
  const absl::CivilDay birth = BirthDateOf(id);
  const absl::string_view date = absl::string_view(id).substr(6, 8);
  if (birth.year() != DigitsValue(date.substr(0, 4)) ||
      birth.month() != DigitsValue(date.substr(4, 2)) ||
      birth.day() != DigitsValue(date.substr(6, 2))) {
    return Invalid(field, "birth date is not a calendar date");
  }
  if (birth.year() < kEarliestBirthYear) {
    return Invalid(field, absl::StrCat("birth year must be ", kEarliestBirthYear, " or later"));
  }
  if (birth > absl::ToCivilDay(now, ChinaTime())) {
    return Invalid(field, "birth date is in the future");
  }
  if (id.back() != CheckCharacter(id)) return Invalid(field, "check character does not match");
  return id;
}

absl::CivilDay BirthDateOf(absl::string_view id_number) {
  if (id_number.size() < 14) return absl::CivilDay();
  const absl::string_view date = id_number.substr(6, 8);
  if (!AllDigits(date)) return absl::CivilDay();
  // CivilDay normalises an impossible date (Feb 30 becomes Mar 2), which is how
  // NormalizeIdNumber detects one.
  return absl::CivilDay(DigitsValue(date.substr(0, 4)), DigitsValue(date.substr(4, 2)),
                        DigitsValue(date.substr(6, 2)));
}

Gender GenderOf(absl::string_view id_number) {
  // The sequence number's last digit is odd for men and even for women.
  return id_number.size() >= kIdLength - 1 && absl::ascii_isdigit(id_number[16]) &&
                 (id_number[16] - '0') % 2 == 1
             ? Gender::kMale
             : Gender::kFemale;
}

absl::StatusOr<std::string> NormalizeMobile(absl::string_view field, absl::string_view raw) {
  absl::string_view rest = absl::StripAsciiWhitespace(raw);
  if (rest.empty()) return Invalid(field, "required");
  const bool international = absl::ConsumePrefix(&rest, "+");
  std::string digits;
  for (char c : rest) {
    if (absl::ascii_isdigit(c)) {
      // Longer than "86" + 11 digits cannot be a mobile number; stop copying early.
      if (digits.size() == 13) return Invalid(field, "too many digits for a mobile number");
      digits += c;
    } else if (c != ' ' && c != '-') {
      return Invalid(field, "only digits, spaces, dashes and a leading +86 are allowed");
    }
  }
  if (international && !absl::StartsWith(digits, "86")) {
    return Invalid(field, "only the +86 country code is accepted");
  }
  if (digits.size() == 13 && absl::StartsWith(digits, "86")) digits.erase(0, 2);
  if (digits.size() != 11 || digits[0] != '1' || digits[1] < '3' || digits[1] > '9') {
    return Invalid(field, "not a mainland mobile number (11 digits starting 13-19)");
  }
  return digits;
}

}  // namespace gridloop::pii
