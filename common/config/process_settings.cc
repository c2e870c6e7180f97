#include "common/config/process_settings.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status/status_macros.h"

namespace gridloop::config {

absl::Status ProcessSettings::ReadProcess(const Settings& s) {
  listen = s.Get("listen", listen);
  metrics_listen = s.Get("metrics_listen", metrics_listen);
  redis = s.Get("redis", redis);
  ASSIGN_OR_RETURN(int64_t pool, s.GetInt("redis_pool", redis_pool));
  ASSIGN_OR_RETURN(int64_t threads, s.GetInt("workers", workers));
  ASSIGN_OR_RETURN(int64_t queue, s.GetInt("max_queue", max_queue));
  ASSIGN_OR_RETURN(drain_timeout, s.GetDuration("drain_timeout", drain_timeout));
  instance = s.Get("instance", instance);
  if (instance.size() > 128 || !std::all_of(instance.begin(), instance.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
               c == '.';
      })) {
    return absl::InvalidArgumentError(
        "GRIDLOOP_INSTANCE: at most 128 of A-Z a-z 0-9 - _ . (e.g. the pod's name)");
  }
  if (pool < 1 || pool > 1024) return absl::InvalidArgumentError("GRIDLOOP_REDIS_POOL: 1..1024");
  if (threads < 1 || threads > 1024) {
    return absl::InvalidArgumentError("GRIDLOOP_WORKERS: 1..1024");
  }
  if (queue < 1) return absl::InvalidArgumentError("GRIDLOOP_MAX_QUEUE: at least 1");
  if (drain_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("GRIDLOOP_DRAIN_TIMEOUT: must not be negative");
  }
  RETURN_IF_ERROR(ParseHostPort(listen, "GRIDLOOP_LISTEN").status());
  RETURN_IF_ERROR(ParseHostPort(redis, "GRIDLOOP_REDIS").status());
  if (!metrics_listen.empty()) {
    RETURN_IF_ERROR(ParseHostPort(metrics_listen, "GRIDLOOP_METRICS_LISTEN").status());
  }
  redis_pool = static_cast<int>(pool);
  workers = static_cast<int>(threads);
  max_queue = static_cast<int>(queue);
  return absl::OkStatus();
}

absl::Status ConsumerSettings::ReadConsumer(const Settings& s) {
  kafka_brokers = s.Get("kafka_brokers", kafka_brokers);
  consumer_group = s.Get("consumer_group", consumer_group);
  const std::string partitions = s.Get("consumer_partitions", "");
  if (!partitions.empty()) assign_partitions.clear();
  for (absl::string_view p : absl::StrSplit(partitions, ',', absl::SkipWhitespace())) {
    int32_t n = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(p), &n) || n < 0) {
      return absl::InvalidArgumentError(
          "GRIDLOOP_CONSUMER_PARTITIONS: a comma-separated list of partition numbers");
    }
    assign_partitions.push_back(n);
  }
  ASSIGN_OR_RETURN(int64_t attempts, s.GetInt("consumer_max_attempts", consumer_max_attempts));
  if (attempts < 1 || attempts > 1'000'000) {
    return absl::InvalidArgumentError("GRIDLOOP_CONSUMER_MAX_ATTEMPTS: 1..1000000");
  }
  if (kafka_brokers.empty()) return absl::InvalidArgumentError("GRIDLOOP_KAFKA_BROKERS: required");
  if (consumer_group.empty()) {
    return absl::InvalidArgumentError("GRIDLOOP_CONSUMER_GROUP: required");
  }
  consumer_max_attempts = static_cast<int>(attempts);
  ASSIGN_OR_RETURN(int64_t workers, s.GetInt("consumer_workers", consumer_workers));
  if (workers < 1 || workers > 256) {
    return absl::InvalidArgumentError("GRIDLOOP_CONSUMER_WORKERS: 1..256");
  }
  consumer_workers = static_cast<int>(workers);
  ASSIGN_OR_RETURN(absl::Duration fetch_wait, s.GetDuration("kafka_fetch_wait", kafka_fetch_wait));
  if (fetch_wait < absl::Milliseconds(1) || fetch_wait > absl::Seconds(10)) {
    return absl::InvalidArgumentError("GRIDLOOP_KAFKA_FETCH_WAIT: 1ms..10s");
  }
  kafka_fetch_wait = fetch_wait;
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadSettingFile(const std::string& path, absl::string_view variable) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(variable, ": cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace gridloop::config
