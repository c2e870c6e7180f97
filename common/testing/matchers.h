#ifndef GRIDLOOP_COMMON_TESTING_MATCHERS_H_
#define GRIDLOOP_COMMON_TESTING_MATCHERS_H_

#include <google/protobuf/util/message_differencer.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

// Matchers the store and domain tests share.
namespace gridloop::testing {

inline absl::Status StatusOf(const absl::Status& s) { return s; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// An absl::Status or StatusOr with the code `code`.
MATCHER_P(StatusIs, code, absl::StatusCodeToString(code)) {
  const absl::Status s = ::gridloop::testing::StatusOf(arg);
  if (s.code() == code) return true;
  *result_listener << "which is " << s;
  return false;
}

// A protobuf message equal to `expected`, field by field.
MATCHER_P(EqualsProto, expected, expected.ShortDebugString()) {
  if (google::protobuf::util::MessageDifferencer::Equals(arg, expected)) return true;
  *result_listener << "which is " << arg.ShortDebugString();
  return false;
}

}  // namespace gridloop::testing

#endif  // GRIDLOOP_COMMON_TESTING_MATCHERS_H_
