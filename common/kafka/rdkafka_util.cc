#include "common/kafka/rdkafka_util.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace gridloop::kafka::internal {

absl::Status SetConf(RdKafka::Conf& conf, const std::string& name, const std::string& value) {
  std::string error;
  if (conf.set(name, value, error) != RdKafka::Conf::CONF_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("kafka property ", name, "=", value, ": ", error));
  }
  return absl::OkStatus();
}

absl::Status SetConf(RdKafka::Conf& conf, const std::map<std::string, std::string>& properties) {
  for (const auto& [name, value] : properties) {
    if (absl::Status status = SetConf(conf, name, value); !status.ok()) return status;
  }
  return absl::OkStatus();
}

std::string Millis(absl::Duration d) {
  return absl::StrCat(absl::ToInt64Milliseconds(absl::Ceil(d, absl::Milliseconds(1))));
}

Record ToRecord(RdKafka::Message& message) {
  Record record;
  record.topic = message.topic_name();
  record.partition = message.partition();
  record.offset = message.offset();
  if (message.key_pointer() != nullptr) {
    record.key.assign(static_cast<const char*>(message.key_pointer()), message.key_len());
  }
  if (message.payload() != nullptr) {
    record.value.assign(static_cast<const char*>(message.payload()), message.len());
  }
  if (const RdKafka::Headers* headers = message.headers(); headers != nullptr) {
    for (const RdKafka::Headers::Header& header : headers->get_all()) {
      Header& copy = record.headers.emplace_back();
      copy.key = header.key();
      if (header.value() != nullptr) copy.value.assign(header.value_string(), header.value_size());
    }
  }
  const RdKafka::MessageTimestamp timestamp = message.timestamp();
  if (timestamp.type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE) {
    record.timestamp = absl::FromUnixMillis(timestamp.timestamp);
  }
  return record;
}

void LogEvent(const RdKafka::Event& event, absl::string_view client) {
  switch (event.type()) {
    case RdKafka::Event::EVENT_ERROR:
      // Transport errors and "all brokers down" are routine while a broker restarts;
      // librdkafka reconnects on its own, so only fatal errors are logged as errors.
      gridloop::log::Write(
          event.fatal() ? gridloop::log::Level::kError : gridloop::log::Level::kWarn,
          "kafka client error",
          {{"client", std::string(client)},
           {"error", RdKafka::err2str(event.err())},
           {"detail", event.str()}});
      break;
    case RdKafka::Event::EVENT_THROTTLE:
      gridloop::log::Debug("kafka broker throttled", {{"client", std::string(client)},
                                                      {"broker", event.broker_name()},
                                                      {"ms", absl::StrCat(event.throttle_time())}});
      break;
    case RdKafka::Event::EVENT_LOG:
      // Debug only: every condition worth a warning also arrives as an EVENT_ERROR.
      gridloop::log::Debug(
          "kafka client log",
          {{"client", std::string(client)}, {"facility", event.fac()}, {"detail", event.str()}});
      break;
    default:
      break;
  }
}

}  // namespace gridloop::kafka::internal
