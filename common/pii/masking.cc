#include "common/pii/masking.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace gridloop::pii {
namespace {

constexpr size_t kShortestIdNumber = 15;
constexpr size_t kShortestPhone = 11;

// Keeps the first `head` and last `tail` bytes of `s` when it is at least `min_size`
// bytes of characters accepted by `allowed`; otherwise masks it all.
template <typename Pred>
std::string KeepEnds(absl::string_view s, size_t head, size_t tail, size_t min_size, Pred allowed) {
  bool shown = s.size() >= min_size;
  for (char c : s) shown = shown && allowed(static_cast<unsigned char>(c));
  if (!shown) return std::string(s.size(), '*');
  return absl::StrCat(s.substr(0, head), std::string(s.size() - head - tail, '*'),
                      s.substr(s.size() - tail));
}

// The length of the well-formed UTF-8 sequence `s` starts with (Unicode table 3-7:
// no overlong forms, surrogates or code points past U+10FFFF), or 0.
size_t Utf8SequenceLength(absl::string_view s) {
  const auto lead = static_cast<unsigned char>(s[0]);
  if (lead < 0x80) return 1;
  size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (s.size() < length) return 0;
  for (size_t i = 1; i < length; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < (i == 1 ? low : 0x80) || c > (i == 1 ? high : 0xBF)) return 0;
  }
  return length;
}

}  // namespace

std::string MaskIdNumber(absl::string_view id_number) {
  return KeepEnds(id_number, 6, 4, kShortestIdNumber,
                  [](unsigned char c) { return absl::ascii_isdigit(c) || c == 'X'; });
}

std::string MaskPhone(absl::string_view phone) {
  return KeepEnds(phone, 3, 4, kShortestPhone,
                  [](unsigned char c) { return absl::ascii_isdigit(c); });
}

std::string MaskName(absl::string_view name) {
  size_t first = 0;
  size_t characters = 0;
  for (size_t i = 0; i < name.size(); ++characters) {
    const size_t length = Utf8SequenceLength(name.substr(i));
    if (length == 0) return std::string(name.size(), '*');
    if (i == 0) first = length;
    i += length;
  }
  if (characters <= 1) return std::string(characters, '*');
  return absl::StrCat(name.substr(0, first), std::string(characters - 1, '*'));
}

}  // namespace gridloop::pii
