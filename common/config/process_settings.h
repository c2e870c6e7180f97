#ifndef GRIDLOOP_COMMON_CONFIG_PROCESS_SETTINGS_H_
#define GRIDLOOP_COMMON_CONFIG_PROCESS_SETTINGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/config/config.h"

namespace gridloop::config {

// What every GridLoop process reads the same way: its gRPC and metrics addresses, Redis,
// and the executor its calls run on. A service's AppConfig derives from it and sets its
// own defaults in its constructor.
struct ProcessSettings {
  std::string listen = "0.0.0.0:50051";
  std::string metrics_listen;  // empty = no metrics endpoint
  std::string redis = "127.0.0.1:6379";
  int redis_pool = 16;
  int workers = 16;       // executor threads: each blocks on one Redis call at a time
  int max_queue = 10000;  // beyond this, RESOURCE_EXHAUSTED
  absl::Duration drain_timeout = absl::Seconds(20);
  // Who this process is across restarts: the name its outbox leases are held under. A
  // restarted process with the same name (a container restarted in its pod, which keeps
  // the pod's name) resumes publishing at once; one with a new name waits until the dead
  // process's leases expire (a minute). Empty = "<hostname>-<pid>-<random>", new every
  // start. Two live processes must never share one.
  std::string instance;

  // Reads listen, metrics_listen, redis, redis_pool, workers, max_queue, drain_timeout and
  // instance from `s`, the current values being the defaults. InvalidArgument names a bad one by
  // its variable.
  absl::Status ReadProcess(const Settings& s);
};

// How a service consumes event topics.
struct ConsumerSettings {
  std::string kafka_brokers = "127.0.0.1:9092";
  std::string consumer_group;
  // Empty: join the group and take the partitions it assigns. Otherwise consume exactly
  // these partitions without joining (a single replica, or tests).
  std::vector<int32_t> assign_partitions;
  int consumer_max_attempts = 1000;  // ~80 min of retries before an event is dead-lettered
  // Events handled at once, never two of one incident (see kafka::ConsumerOptions::workers).
  int consumer_workers = 1;
  // How long the broker may hold an empty fetch. A real broker answers as soon as data
  // arrives, so this costs nothing there; the dev broker holds every empty fetch for all of
  // it, so there it adds up to this much to each hop.
  absl::Duration kafka_fetch_wait = absl::Milliseconds(10);

  // Reads kafka_brokers, consumer_group, consumer_partitions ("0,1,2"),
  // consumer_max_attempts, consumer_workers and kafka_fetch_wait from `s`, the current
  // values being the defaults.
  absl::Status ReadConsumer(const Settings& s);
};

// The contents of the file at `path`, named by the setting `variable` (for the message).
absl::StatusOr<std::string> ReadSettingFile(const std::string& path, absl::string_view variable);

}  // namespace gridloop::config

#endif  // GRIDLOOP_COMMON_CONFIG_PROCESS_SETTINGS_H_
