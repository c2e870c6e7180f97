#ifndef GRIDLOOP_SERVICES_INCIDENTS_VALIDATION_H_
#define GRIDLOOP_SERVICES_INCIDENTS_VALIDATION_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/pii/id_number.h"
#include "common/pii/masking.h"
#include "gridloop/v1/incidents.pb.h"
#include "services/incidents/categories.h"

namespace gridloop::incidents {

// Limits on what a caller may send. Text limits count characters (UTF-8 code points),
// because a Chinese title of 100 characters is 300 bytes.
inline constexpr size_t kMaxRequestIdChars = 128;
inline constexpr size_t kMaxTitleChars = 100;
inline constexpr size_t kMaxDescriptionChars = 2000;
inline constexpr size_t kMaxAddressChars = 200;
inline constexpr size_t kMaxNoteChars = 1000;
inline constexpr size_t kMaxNameChars = 50;
inline constexpr size_t kMaxIdChars = 64;
inline constexpr size_t kMaxRegionCodeChars = 64;

// InvalidArgument naming `field` when `text` is empty (if `required`), too long, or holds
// control characters (newlines and tabs are allowed where `multiline`).
absl::Status CheckText(absl::string_view field, absl::string_view text, size_t max_chars,
                       bool required, bool multiline = false);

// A request_id: 1-128 printable ASCII characters.
absl::Status CheckRequestId(absl::string_view request_id);

// Mobile numbers are checked and masked as everywhere in the project (common/pii).
using pii::MaskPhone;
using pii::NormalizeMobile;

// A region code: 1-64 of [A-Za-z0-9.-_]; codes are paths, so a prefix is a subtree.
absl::Status CheckRegionCode(absl::string_view field, absl::string_view code);

// Checks every field of a report against the taxonomy; the first problem found is
// returned as InvalidArgument naming the field.
absl::Status ValidateReport(const v1::ReportIncidentRequest& req, const Taxonomy& taxonomy);

}  // namespace gridloop::incidents

#endif  // GRIDLOOP_SERVICES_INCIDENTS_VALIDATION_H_
