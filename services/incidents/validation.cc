#include "services/incidents/validation.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace gridloop::incidents {
namespace {

// Counts code points; returns -1 when `s` is not valid UTF-8.
int64_t Utf8Length(absl::string_view s) {
  int64_t count = 0;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    if (len == 0 || i + len > s.size()) return -1;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return -1;
    }
    i += len;
    ++count;
  }
  return count;
}

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

}  // namespace

absl::Status CheckText(absl::string_view field, absl::string_view text, size_t max_chars,
                       bool required, bool multiline) {
  if (text.empty() || absl::StripAsciiWhitespace(text).empty()) {
    return required ? Invalid(field, "required") : absl::OkStatus();
  }
  const int64_t chars = Utf8Length(text);
  if (chars < 0) return Invalid(field, "not valid UTF-8");
  if (static_cast<size_t>(chars) > max_chars) {
    return Invalid(field, absl::StrCat("at most ", max_chars, " characters (got ", chars, ")"));
  }
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      if (multiline && (c == '\n' || c == '\t' || c == '\r')) continue;
      return Invalid(field, "contains control characters");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRequestId(absl::string_view request_id) {
  if (request_id.empty()) return Invalid("request_id", "required");
  if (request_id.size() > kMaxRequestIdChars) {
    return Invalid("request_id", absl::StrCat("at most ", kMaxRequestIdChars, " characters"));
  }
  for (char c : request_id) {
    if (c <= 0x20 || c >= 0x7f) return Invalid("request_id", "printable ASCII without spaces only");
  }
  return absl::OkStatus();
}

absl::Status CheckRegionCode(absl::string_view field, absl::string_view code) {
  if (code.empty()) return Invalid(field, "required");
  if (code.size() > kMaxRegionCodeChars) {
    return Invalid(field, absl::StrCat("at most ", kMaxRegionCodeChars, " characters"));
  }
  for (char c : code) {
    if (!(absl::ascii_isalnum(c) || c == '.' || c == '-' || c == '_')) {
      return Invalid(field, "only letters, digits, '.', '-' and '_'");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateReport(const v1::ReportIncidentRequest& req, const Taxonomy& taxonomy) {
  if (absl::Status s = CheckRequestId(req.request_id()); !s.ok()) return s;
  if (req.category().empty()) return Invalid("category", "required");
  if (taxonomy.Find(req.category()) == nullptr) {
    return Invalid("category", absl::StrCat("unknown category \"",
                                            req.category().substr(0, kMaxIdChars), "\""));
  }
  if (absl::Status s = CheckText("title", req.title(), kMaxTitleChars, true); !s.ok()) return s;
  if (absl::Status s =
          CheckText("description", req.description(), kMaxDescriptionChars, false, true);
      !s.ok()) {
    return s;
  }
  if (req.channel() == v1::CHANNEL_UNSPECIFIED) return Invalid("channel", "required");
  if (!v1::Channel_IsValid(req.channel())) return Invalid("channel", "unknown channel");
  if (!v1::Urgency_IsValid(req.urgency())) return Invalid("urgency", "unknown urgency");
  if (req.has_location()) {
    const double lat = req.location().latitude();
    const double lng = req.location().longitude();
    if (!std::isfinite(lat) || lat < -90 || lat > 90) {
      return Invalid("location.latitude", "must be between -90 and 90");
    }
    if (!std::isfinite(lng) || lng < -180 || lng > 180) {
      return Invalid("location.longitude", "must be between -180 and 180");
    }
  }
  if (absl::Status s = CheckText("address", req.address(), kMaxAddressChars, false); !s.ok()) {
    return s;
  }
  // Without a region code the grid is found from the location (by the residents service).
  if (!req.region_code().empty() || !req.has_location()) {
    if (absl::Status s = CheckRegionCode("region_code", req.region_code()); !s.ok()) return s;
  }
  const v1::Reporter& r = req.reporter();
  if (absl::Status s = CheckText("reporter.resident_id", r.resident_id(), kMaxIdChars, false);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckText("reporter.name", r.name(), kMaxNameChars, false); !s.ok()) {
    return s;
  }
  if (!r.phone().empty()) {
    if (auto phone = NormalizeMobile("reporter.phone", r.phone()); !phone.ok()) {
      return phone.status();
    }
  }
  if (absl::Status s = CheckText("external_ref", req.external_ref(), kMaxIdChars, false); !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckText("requested_volunteer_id", req.requested_volunteer_id(), kMaxIdChars, false);
      !s.ok()) {
    return s;
  }
  return absl::OkStatus();
}

}  // namespace gridloop::incidents
