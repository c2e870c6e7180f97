#ifndef GRIDLOOP_COMMON_KAFKA_RECORD_H_
#define GRIDLOOP_COMMON_KAFKA_RECORD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace gridloop::kafka {

// One Kafka record header. Values are bytes; a header sent with a null value reads back
// as an empty string.
struct Header {
  std::string key;
  std::string value;
};

// A consumed record, copied out of librdkafka's buffers so it may outlive the poll that
// produced it. An absent key or value reads as an empty string.
struct Record {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  std::vector<Header> headers;
  // Producer create time (or broker append time, per the topic's setting); the Unix
  // epoch when the broker sent none.
  absl::Time timestamp;
};

}  // namespace gridloop::kafka

#endif  // GRIDLOOP_COMMON_KAFKA_RECORD_H_
