#include "common/requests/fields.h"

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace gridloop::requests {
namespace {

// google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
constexpr int64_t kMinTimestampSeconds = -62'135'596'800;
constexpr int64_t kMaxTimestampSeconds = 253'402'300'799;

// The code points of `s`; nullopt when `s` is not valid UTF-8 (overlong forms,
// surrogates and values above U+10FFFF included).
std::optional<std::vector<char32_t>> DecodeUtf8(absl::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto lead = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if (lead < 0x80) {
      len = 1;
      cp = lead;
    } else if ((lead >> 5) == 0x6) {
      len = 2;
      cp = lead & 0x1F;
      min = 0x80;
    } else if ((lead >> 4) == 0xE) {
      len = 3;
      cp = lead & 0x0F;
      min = 0x800;
    } else if ((lead >> 3) == 0x1E) {
      len = 4;
      cp = lead & 0x07;
      min = 0x10000;
    } else {
      return std::nullopt;
    }
    if (i + len > s.size()) return std::nullopt;
    for (size_t k = 1; k < len; ++k) {
      const auto cont = static_cast<unsigned char>(s[i + k]);
      if ((cont & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (cont & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    out.push_back(cp);
    i += len;
  }
  return out;
}

// C0, DEL and C1 controls.
bool IsControl(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

}  // namespace

absl::Status InvalidField(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

absl::Status CheckText(absl::string_view field, absl::string_view text, size_t max_chars,
                       bool required, bool multiline) {
  if (absl::StripAsciiWhitespace(text).empty()) {
    return required ? InvalidField(field, "required") : absl::OkStatus();
  }
  const std::optional<std::vector<char32_t>> chars = DecodeUtf8(text);
  if (!chars.has_value()) return InvalidField(field, "not valid UTF-8");
  if (chars->size() > max_chars) {
    return InvalidField(
        field, absl::StrCat("at most ", max_chars, " characters (got ", chars->size(), ")"));
  }
  for (char32_t cp : *chars) {
    if (!IsControl(cp)) continue;
    if (multiline && (cp == '\n' || cp == '\t' || cp == '\r')) continue;
    return InvalidField(field, "control characters are not allowed");
  }
  return absl::OkStatus();
}

absl::Status CheckChars(absl::string_view field, absl::string_view text, size_t max_chars,
                        bool (*allowed)(char), absl::string_view allowed_text) {
  if (text.empty()) return InvalidField(field, "required");
  if (text.size() > max_chars) {
    return InvalidField(field, absl::StrCat("at most ", max_chars, " characters"));
  }
  for (char ch : text) {
    if (!allowed(ch)) return InvalidField(field, allowed_text);
  }
  return absl::OkStatus();
}

absl::Status CheckRequestId(absl::string_view request_id, size_t max_chars) {
  return CheckChars(
      "request_id", request_id, max_chars, [](char ch) { return ch > 0x20 && ch < 0x7f; },
      "printable ASCII without spaces only");
}

absl::Status CheckRegionCode(absl::string_view field, absl::string_view code, size_t max_chars) {
  absl::Status s = CheckChars(
      field, code, max_chars,
      [](char ch) { return absl::ascii_isdigit(ch) || (ch >= 'a' && ch <= 'z') || ch == '.'; },
      "only digits, lower-case letters and '.'");
  if (!s.ok()) return s;
  if (code.front() == '.' || code.back() == '.' || absl::StrContains(code, "..")) {
    return InvalidField(field, "segments must not be empty");
  }
  return absl::OkStatus();
}

absl::Status CheckTimestamp(absl::string_view field, const google::protobuf::Timestamp& ts) {
  if (ts.seconds() < kMinTimestampSeconds || ts.seconds() > kMaxTimestampSeconds ||
      ts.nanos() < 0 || ts.nanos() > 999'999'999) {
    return InvalidField(field, "not a valid timestamp");
  }
  return absl::OkStatus();
}

}  // namespace gridloop::requests
