#ifndef GRIDLOOP_COMMON_REQUESTS_FIELDS_H_
#define GRIDLOOP_COMMON_REQUESTS_FIELDS_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/timestamp.pb.h"

// The checks every service applies to the fields callers send. Each failure is
// InvalidArgument with a message that starts with the field's name.
namespace gridloop::requests {

// InvalidArgument "<field>: <why>".
absl::Status InvalidField(absl::string_view field, absl::string_view why);

// Free text: present (not blank) unless `required` is false, valid UTF-8, at most
// `max_chars` code points, no control characters (line breaks and tabs only where
// `multiline`).
absl::Status CheckText(absl::string_view field, absl::string_view text, size_t max_chars,
                       bool required = true, bool multiline = false);

// `text` is present, at most `max_chars` bytes and made only of characters `allowed`
// accepts; `allowed_text` says which those are.
absl::Status CheckChars(absl::string_view field, absl::string_view text, size_t max_chars,
                        bool (*allowed)(char), absl::string_view allowed_text);

// A request id: printable ASCII without spaces (it is stored beside separators).
absl::Status CheckRequestId(absl::string_view request_id, size_t max_chars);

// A region code path ("3301.06.003"): digits, lower-case letters and '.', no empty segment,
// so that a prefix on a '.' boundary is a subtree.
absl::Status CheckRegionCode(absl::string_view field, absl::string_view code,
                             size_t max_chars = 64);

// Within google.protobuf.Timestamp's range (years 1 to 9999), nanos 0..999,999,999.
absl::Status CheckTimestamp(absl::string_view field, const google::protobuf::Timestamp& ts);

}  // namespace gridloop::requests

#endif  // GRIDLOOP_COMMON_REQUESTS_FIELDS_H_
