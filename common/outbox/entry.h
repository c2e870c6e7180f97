#ifndef GRIDLOOP_COMMON_OUTBOX_ENTRY_H_
#define GRIDLOOP_COMMON_OUTBOX_ENTRY_H_

#include <string>

namespace gridloop::outbox {

// An outbox stream entry carries the record's Kafka key in field "k" and value in "v";
// that is the whole format, so any service's Lua script can write one with XADD.
inline constexpr char kKeyField[] = "k";
inline constexpr char kValueField[] = "v";

// An entry this process has just appended to an outbox stream, as its writer learnt it from
// Redis: enough for the relay to publish it without reading it back.
struct Appended {
  std::string stream;
  std::string id;
  // The stream's last entry when this one was appended; empty when the stream held none
  // (every entry before it was published and deleted).
  std::string previous_id;
  std::string key;
  std::string value;
};

}  // namespace gridloop::outbox

#endif  // GRIDLOOP_COMMON_OUTBOX_ENTRY_H_
