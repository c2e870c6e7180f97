#ifndef GRIDLOOP_COMMON_CLOCK_PROTO_TIME_H_
#define GRIDLOOP_COMMON_CLOCK_PROTO_TIME_H_

#include <cstdint>

#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace gridloop {

// absl::Time <-> google.protobuf.Timestamp (UTC), normalised so nanos is in [0, 1e9).
inline google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  const absl::Duration since = t - absl::UnixEpoch();
  int64_t seconds = absl::ToInt64Seconds(since);
  absl::Duration rem = since - absl::Seconds(seconds);
  if (rem < absl::ZeroDuration()) {
    --seconds;
    rem += absl::Seconds(1);
  }
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(rem)));
  return ts;
}

inline absl::Time FromTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

inline int64_t ToUnixMillis(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1000 + ts.nanos() / 1'000'000;
}

inline google::protobuf::Duration ToDurationProto(absl::Duration d) {
  google::protobuf::Duration out;
  const int64_t seconds = absl::ToInt64Seconds(d);
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d - absl::Seconds(seconds))));
  return out;
}

}  // namespace gridloop

#endif  // GRIDLOOP_COMMON_CLOCK_PROTO_TIME_H_
