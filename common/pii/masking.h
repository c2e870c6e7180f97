#ifndef GRIDLOOP_COMMON_PII_MASKING_H_
#define GRIDLOOP_COMMON_PII_MASKING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace gridloop::pii {

// What staff and logs may see of personal data. Each mask expects the normalised form
// (see id_number.h) and, given anything it does not recognise, hides every byte rather
// than guess which part is safe to show. The results are always valid UTF-8.

// "110105********1234": the region code and the last four characters of an identity card
// number (18 characters, or 15 for a first-generation card).
std::string MaskIdNumber(absl::string_view id_number);

// "138****5678": the first three and last four digits of a phone number of 11+ digits.
std::string MaskPhone(absl::string_view phone);

// "张**": the first character of a name and one '*' per further character, counting
// UTF-8 code points. A one-character name is hidden entirely.
std::string MaskName(absl::string_view name);

}  // namespace gridloop::pii

#endif  // GRIDLOOP_COMMON_PII_MASKING_H_
