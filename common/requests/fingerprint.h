#ifndef GRIDLOOP_COMMON_REQUESTS_FINGERPRINT_H_
#define GRIDLOOP_COMMON_REQUESTS_FINGERPRINT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace gridloop {

// What a mutating request asked, as a stable digest: SHA-256 (hex) of `method` and the
// deterministic serialisation of `request` with its `request_id` field cleared. Stored
// beside a request's first result, so that a repeat with the same request_id is told apart
// from a caller reusing the id with other parameters (a bug, not a retry).
std::string RequestFingerprint(absl::string_view method, const google::protobuf::Message& request);

}  // namespace gridloop

#endif  // GRIDLOOP_COMMON_REQUESTS_FINGERPRINT_H_
