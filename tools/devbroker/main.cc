// gridloop-devbroker: a Kafka-protocol broker for local runs and end-to-end tests,
// hosted by librdkafka's mock cluster (see common/testing/kafka_cluster.h for how it
// differs from a real broker).
//
//   gridloop-devbroker [--brokers=1] [--partitions=16] [--topics=a,b,c]
//                      [--bootstrap-file=PATH]
//
// Once the topics exist it prints `bootstrap=<host:port,...>` on stdout and, with
// --bootstrap-file, writes the same address (without the prefix) to PATH atomically, so
// a launcher may wait for either. Runs until SIGTERM or SIGINT, then exits 0.

#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/config/config.h"
#include "common/log/log.h"
#include "common/testing/kafka_cluster.h"

namespace {

constexpr char kDefaultTopics[] =
    "gridloop.incident.events.v1,gridloop.incident.events.v1.dlq,"
    "gridloop.dispatch.events.v1,gridloop.dispatch.events.v1.dlq,"
    "gridloop.assessment.scores.v1";

[[noreturn]] void Fail(absl::string_view what, const absl::Status& status) {
  gridloop::log::Error(what, {{"error", status.ToString()}});
  std::exit(2);
}

// Readers never see a half-written file: write a sibling, then rename over the target.
absl::Status WriteAtomically(const std::string& path, const std::string& content) {
  const std::string temp = absl::StrCat(path, ".tmp");
  {
    std::ofstream out(temp, std::ios::trunc);
    out << content << '\n';
    out.close();
    if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", temp));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot rename ", temp, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  gridloop::log::SetService("devbroker");

  // Blocked before any thread starts so that every thread inherits the mask and the
  // signals wait for sigwait() below instead of killing the process mid-write.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<gridloop::config::Settings> settings =
      gridloop::config::Settings::FromProcess(argc, argv);
  if (!settings.ok()) Fail("bad flags", settings.status());
  absl::StatusOr<int64_t> brokers = settings->GetInt("brokers", 1);
  if (!brokers.ok()) Fail("bad flags", brokers.status());
  absl::StatusOr<int64_t> partitions = settings->GetInt("partitions", 16);
  if (!partitions.ok()) Fail("bad flags", partitions.status());
  if (*brokers < 1 || *brokers > 32 || *partitions < 1 || *partitions > 10000) {
    Fail("bad flags",
         absl::InvalidArgumentError("--brokers must be 1..32 and --partitions 1..10000"));
  }
  std::vector<std::string> topics;
  for (absl::string_view topic :
       absl::StrSplit(settings->Get("topics", kDefaultTopics), ',', absl::SkipWhitespace())) {
    topics.emplace_back(absl::StripAsciiWhitespace(topic));
  }
  const std::string bootstrap_file = settings->Get("bootstrap_file");

  absl::StatusOr<std::unique_ptr<gridloop::testing::MockKafkaCluster>> cluster =
      gridloop::testing::MockKafkaCluster::Start(static_cast<int>(*brokers));
  if (!cluster.ok()) Fail("cannot start the mock cluster", cluster.status());
  for (const std::string& topic : topics) {
    if (absl::Status created = (*cluster)->CreateTopic(topic, static_cast<int>(*partitions));
        !created.ok()) {
      Fail("cannot create topic", created);
    }
  }
  const std::string& bootstrap = (*cluster)->bootstrap();
  if (!bootstrap_file.empty()) {
    if (absl::Status written = WriteAtomically(bootstrap_file, bootstrap); !written.ok()) {
      Fail("cannot write the bootstrap file", written);
    }
  }
  std::cout << "bootstrap=" << bootstrap << std::endl;  // endl: a launcher reads a pipe
  gridloop::log::Info("devbroker ready", {{"bootstrap", bootstrap},
                                          {"brokers", absl::StrCat(*brokers)},
                                          {"partitions", absl::StrCat(*partitions)},
                                          {"topics", absl::StrJoin(topics, ",")}});

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  gridloop::log::Info("devbroker stopping", {{"signal", absl::StrCat(signal_number)}});
  // A stale address would send the next launcher to a closed port.
  if (!bootstrap_file.empty()) std::remove(bootstrap_file.c_str());
  cluster->reset();
  return 0;
}
