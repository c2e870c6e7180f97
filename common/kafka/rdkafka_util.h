#ifndef GRIDLOOP_COMMON_KAFKA_RDKAFKA_UTIL_H_
#define GRIDLOOP_COMMON_KAFKA_RDKAFKA_UTIL_H_

// Private to common/kafka and common/testing: small pieces shared by the producer, the
// consumer and the test fixture that touch librdkafka's C++ API directly.

#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/kafka/record.h"

namespace gridloop::kafka::internal {

// Sets one property; InvalidArgument naming the property and librdkafka's reason.
absl::Status SetConf(RdKafka::Conf& conf, const std::string& name, const std::string& value);
// Sets every property of `properties`, stopping at the first rejected one.
absl::Status SetConf(RdKafka::Conf& conf, const std::map<std::string, std::string>& properties);

// A duration as librdkafka's whole milliseconds ("5" for 5ms), rounding up so that a
// positive duration never becomes 0.
std::string Millis(absl::Duration d);

// Copies a consumed message out of librdkafka's buffers.
Record ToRecord(RdKafka::Message& message);

// Writes an error, throttle or log event as a structured log line; `client` names the
// handle ("producer", "consumer").
void LogEvent(const RdKafka::Event& event, absl::string_view client);

}  // namespace gridloop::kafka::internal

#endif  // GRIDLOOP_COMMON_KAFKA_RDKAFKA_UTIL_H_
