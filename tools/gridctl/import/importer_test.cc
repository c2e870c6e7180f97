#include "tools/gridctl/import/importer.h"

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gridloop::gridctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The natural key of an item, which also tells the fake service what to answer.
std::string KeyOf(const v1::ImportItem& item) {
  switch (item.item_case()) {
    case v1::ImportItem::kRegion:
      return item.region().code();
    case v1::ImportItem::kHousehold:
      return item.household().code();
    case v1::ImportItem::kResident:
      return item.resident().name();
    case v1::ImportItem::kStaff:
      return item.staff().person_id();
    case v1::ImportItem::ITEM_NOT_SET:
      break;
  }
  return "?";
}

// ImportBatch as a script: queued failures first, then an answer per item decided by its
// key ("reject…" is rejected, "same…" unchanged, "upd…" updated, the rest created).
class FakeService {
 public:
  BatchSender Sender() {
    return
        [this](const v1::ImportBatchRequest& request) -> absl::StatusOr<v1::ImportBatchResponse> {
          // Several batches may be in flight (ImporterOptions::parallel).
          std::lock_guard<std::mutex> lock(mu);
          requests.push_back(request);
          if (!failures.empty()) {
            absl::Status s = failures.front();
            failures.pop_front();
            return s;
          }
          if (!always_fail.ok()) return always_fail;
          v1::ImportBatchResponse response;
          for (int i = 0; i < request.items_size(); ++i) {
            const std::string key = KeyOf(request.items(i));
            if (absl::StartsWith(key, "silent")) continue;  // no result for it
            v1::ImportResult* r = response.add_results();
            r->set_index(i);
            r->set_id(key);
            if (absl::StartsWith(key, "reject")) {
              r->set_outcome(v1::IMPORT_OUTCOME_REJECTED);
              r->set_message(absl::StrCat("parent region of ", key, " is unknown"));
            } else if (absl::StartsWith(key, "same")) {
              r->set_outcome(v1::IMPORT_OUTCOME_UNCHANGED);
            } else if (absl::StartsWith(key, "upd")) {
              r->set_outcome(v1::IMPORT_OUTCOME_UPDATED);
            } else {
              r->set_outcome(v1::IMPORT_OUTCOME_CREATED);
            }
          }
          return response;
        };
  }

  // Every key sent, in order.
  std::vector<std::string> Keys() const {
    std::vector<std::string> keys;
    for (const auto& req : requests) {
      for (const auto& item : req.items()) keys.push_back(KeyOf(item));
    }
    return keys;
  }

  std::mutex mu;
  std::vector<v1::ImportBatchRequest> requests;
  std::deque<absl::Status> failures;
  absl::Status always_fail;
};

// Files held in memory, opened by path.
class Files {
 public:
  void Add(const std::string& path, std::string text) { files_[path] = std::move(text); }
  std::function<std::unique_ptr<std::istream>(const std::string&)> Opener() const {
    return [this](const std::string& path) -> std::unique_ptr<std::istream> {
      auto it = files_.find(path);
      if (it == files_.end()) return nullptr;
      return std::make_unique<std::istringstream>(it->second);
    };
  }

 private:
  std::map<std::string, std::string> files_;
};

class ImporterTest : public ::testing::Test {
 protected:
  ImporterOptions Options(int batch_size = 500) {
    ImporterOptions o;
    o.batch_size = batch_size;
    o.sleep = [this](absl::Duration d) { sleeps_.push_back(d); };
    o.open = files_.Opener();
    o.progress = [this](const ImportProgress& p) {
      progress_.emplace_back(p.rows_done, p.rows_total);
    };
    return o;
  }

  absl::StatusOr<ImportSummary> Run(const std::vector<ImportFile>& files, int batch_size = 500,
                                    int parallel = 1) {
    ImporterOptions options = Options(batch_size);
    options.parallel = parallel;
    Importer importer(service_.Sender(), options);
    return importer.Run(files, rejects_);
  }

  FakeService service_;
  Files files_;
  std::vector<absl::Duration> sleeps_;
  std::vector<std::pair<int64_t, int64_t>> progress_;
  std::ostringstream rejects_;
};

constexpr char kRegionsHeader[] = "code,name,level,parent_code\n";

TEST_F(ImporterTest, ImportsKindsInDependencyOrderAndRegionsParentsFirst) {
  files_.Add("r.csv", absl::StrCat(kRegionsHeader,
                                   "3301.06.003,文新街道,street,3301.06\n"
                                   "3301.06.003.001,竞舟社区,community,3301.06.003\n"
                                   "3301,杭州市,city,\n"
                                   "3301.06.003.002,德加社区,community,3301.06.003\n"
                                   "3301.06,西湖区,district,3301\n"));
  files_.Add("h.csv", "code,region_code\nH1,3301.06.003.001\n");
  files_.Add("p.csv", "name,household_code\n王伟,H1\n");
  files_.Add("s.csv", "region_code,person_id,name,role\n3301.06.003.001,p1,张敏,grid_worker\n");
  absl::StatusOr<ImportSummary> summary = Run({{FileKind::kStaff, "s.csv"},
                                               {FileKind::kResidents, "p.csv"},
                                               {FileKind::kHouseholds, "h.csv"},
                                               {FileKind::kRegions, "r.csv"}});
  ASSERT_TRUE(summary.ok()) << summary.status();
  // Same depth keeps file order: the two communities stay as they were.
  EXPECT_THAT(service_.Keys(), ElementsAre("3301", "3301.06", "3301.06.003", "3301.06.003.001",
                                           "3301.06.003.002", "H1", "王伟", "p1"));
  // One batch per file: a file's items never share a batch with the next kind.
  EXPECT_EQ(service_.requests.size(), 4u);
  ASSERT_EQ(summary->files.size(), 4u);
  EXPECT_EQ(summary->files[0].file.path, "r.csv");
  EXPECT_EQ(summary->files[0].counts.created, 5);
  EXPECT_EQ(summary->files[3].file.path, "s.csv");
  EXPECT_EQ(summary->total.created, 8);
  EXPECT_EQ(summary->total.rejected, 0);
  EXPECT_EQ(rejects_.str(), "");
  EXPECT_EQ(service_.requests[0].items(0).region().name(), "杭州市");
  EXPECT_EQ(service_.requests[2].items(0).resident().household_code(), "H1");
}

TEST_F(ImporterTest, SplitsFilesIntoBatches) {
  std::string households = "code,region_code\n";
  for (int i = 0; i < 7; ++i) absl::StrAppend(&households, "H", i, ",g\n");
  files_.Add("h.csv", households);
  std::string regions = kRegionsHeader;
  for (int i = 0; i < 5; ++i) absl::StrAppend(&regions, "g.", i, ",n,grid,g\n");
  files_.Add("r.csv", regions);
  absl::StatusOr<ImportSummary> summary =
      Run({{FileKind::kHouseholds, "h.csv"}, {FileKind::kRegions, "r.csv"}}, 3);
  ASSERT_TRUE(summary.ok()) << summary.status();
  std::vector<int> sizes;
  for (const auto& r : service_.requests) sizes.push_back(r.items_size());
  EXPECT_THAT(sizes, ElementsAre(3, 2, 3, 3, 1));
  EXPECT_EQ(summary->total.created, 12);
  // Progress after every batch, up to every row.
  ASSERT_FALSE(progress_.empty());
  EXPECT_EQ(progress_.back(), std::make_pair(int64_t{12}, int64_t{12}));
  for (const auto& [done, total] : progress_) EXPECT_EQ(total, 12);
}

TEST_F(ImporterTest, BatchesInFlightTogetherCountAndRejectLikeOneAtATime) {
  std::string people = "name,household_code\n";
  std::vector<std::string> sent;
  for (int i = 0; i < 11; ++i) {
    const std::string name = absl::StrCat(i % 4 == 1 ? "reject" : i % 4 == 2 ? "same" : "new", i);
    absl::StrAppend(&people, name, ",H1\n");
    sent.push_back(name);
  }
  files_.Add("p.csv", people);
  absl::StatusOr<ImportSummary> summary = Run({{FileKind::kResidents, "p.csv"}}, 2, 3);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(service_.requests.size(), 6u);  // 2+2+2+2+2+1 rows
  std::vector<std::string> keys = service_.Keys();
  std::sort(keys.begin(), keys.end());
  std::sort(sent.begin(), sent.end());
  EXPECT_EQ(keys, sent);
  EXPECT_EQ(summary->total.created, 5);
  EXPECT_EQ(summary->total.unchanged, 3);
  EXPECT_EQ(summary->total.rejected, 3);
  // In line order, whatever order the batches were answered in.
  EXPECT_EQ(rejects_.str(),
            "p.csv:3: parent region of reject1 is unknown\n"
            "p.csv:7: parent region of reject5 is unknown\n"
            "p.csv:11: parent region of reject9 is unknown\n");
  ASSERT_FALSE(progress_.empty());
  EXPECT_EQ(progress_.back().first, 11);
}

TEST_F(ImporterTest, RetriesUnavailableWithGrowingBackoff) {
  files_.Add("h.csv", "code,region_code\nH1,g\nH2,g\n");
  service_.failures = {absl::UnavailableError("connection refused"),
                       absl::DeadlineExceededError("slow"), absl::UnavailableError("again")};
  absl::StatusOr<ImportSummary> summary = Run({{FileKind::kHouseholds, "h.csv"}});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(service_.requests.size(), 4u);
  EXPECT_THAT(sleeps_,
              ElementsAre(absl::Milliseconds(250), absl::Milliseconds(500), absl::Seconds(1)));
  EXPECT_EQ(summary->total.created, 2);
  EXPECT_EQ(summary->total.rejected, 0);
}

TEST_F(ImporterTest, BatchThatKeepsFailingIsRejectedAndTheRestGoesOn) {
  files_.Add("h.csv", "code,region_code\nH1,g\nH2,g\nH3,g\nH4,g\nH5,g\n");
  // The first batch goes through, the second fails on all five tries, the third works.
  ImporterOptions options = Options(2);
  options.max_attempts = 5;
  options.initial_backoff = absl::Seconds(1);
  options.max_backoff = absl::Seconds(3);
  int calls = 0;
  BatchSender inner = service_.Sender();
  Importer importer(
      [&](const v1::ImportBatchRequest& r) -> absl::StatusOr<v1::ImportBatchResponse> {
        ++calls;
        if (calls >= 2 && calls <= 6) return absl::UnavailableError("node restarting");
        return inner(r);
      },
      options);
  absl::StatusOr<ImportSummary> summary =
      importer.Run({{FileKind::kHouseholds, "h.csv"}}, rejects_);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(calls, 7);
  EXPECT_THAT(sleeps_,
              ElementsAre(absl::Seconds(1), absl::Seconds(2), absl::Seconds(3), absl::Seconds(3)));
  EXPECT_EQ(summary->total.created, 3);
  EXPECT_EQ(summary->total.rejected, 2);
  EXPECT_EQ(rejects_.str(),
            "h.csv:4: batch failed: UNAVAILABLE: node restarting\n"
            "h.csv:5: batch failed: UNAVAILABLE: node restarting\n");
}

TEST_F(ImporterTest, ServiceThatNeverAnswersStopsTheImport) {
  files_.Add("h.csv", "code,region_code\nH1,g\nH2,g\nH3,g\n");
  service_.always_fail = absl::UnavailableError("connection refused");
  absl::StatusOr<ImportSummary> summary = Run({{FileKind::kHouseholds, "h.csv"}}, 1);
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(summary.status().message(), HasSubstr("could not be reached"));
  // The first batch's tries only; the others are not attempted.
  EXPECT_EQ(service_.requests.size(), 5u);
  EXPECT_EQ(sleeps_.size(), 4u);
}

TEST_F(ImporterTest, OtherErrorsAreNotRetried) {
  files_.Add("h.csv", "code,region_code\nH1,g\nH2,g\n");
  service_.always_fail = absl::PermissionDeniedError("operators only");
  absl::StatusOr<ImportSummary> summary = Run({{FileKind::kHouseholds, "h.csv"}}, 1);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(service_.requests.size(), 2u);
  EXPECT_TRUE(sleeps_.empty());
  EXPECT_EQ(summary->total.rejected, 2);
  EXPECT_EQ(rejects_.str(),
            "h.csv:2: batch failed: PERMISSION_DENIED: operators only\n"
            "h.csv:3: batch failed: PERMISSION_DENIED: operators only\n");
}

TEST_F(ImporterTest, RejectsFileListsEveryBadRowInLineOrder) {
  files_.Add("p.csv",
             "name,gender,household_code\n"
             "王伟,male,H1\n"
             "reject-李娜,female,H1\n"
             "张敏,robot,H1\n"
             "\"刘洋,male,H1\n"
             "陈静,female,H2\n"
             "杨磊,male\n"
             "same-赵强,male,H3\n"
             "upd-黄丽,female,H3\n");
  absl::StatusOr<ImportSummary> summary = Run({{FileKind::kResidents, "p.csv"}});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(rejects_.str(),
            "p.csv:3: parent region of reject-李娜 is unknown\n"
            "p.csv:4: gender: \"robot\" is not one of male, female or empty\n"
            "p.csv:5: unterminated quoted field\n"
            "p.csv:7: expected 3 fields, found 2\n");
  EXPECT_THAT(service_.Keys(), ElementsAre("王伟", "reject-李娜", "陈静", "same-赵强", "upd-黄丽"));
  const ImportCounts& c = summary->total;
  EXPECT_EQ(c.created, 2);
  EXPECT_EQ(c.updated, 1);
  EXPECT_EQ(c.unchanged, 1);
  EXPECT_EQ(c.rejected, 4);
  EXPECT_EQ(c.rows(), 8);
}

TEST_F(ImporterTest, RegionRejectsAreInLineOrderThoughSentParentsFirst) {
  files_.Add("r.csv", absl::StrCat(kRegionsHeader,
                                   "reject.a.b,x,grid,reject.a\n"
                                   "3301,杭州市,village,\n"
                                   "reject,y,city,\n"));
  absl::StatusOr<ImportSummary> summary = Run({{FileKind::kRegions, "r.csv"}});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_THAT(service_.Keys(), ElementsAre("reject", "reject.a.b"));
  EXPECT_EQ(rejects_.str(),
            "r.csv:2: parent region of reject.a.b is unknown\n"
            "r.csv:3: level: \"village\" is not one of city, district, street, community, grid, "
            "micro_grid, building, unit\n"
            "r.csv:4: parent region of reject is unknown\n");
  EXPECT_EQ(summary->total.rejected, 3);
}

TEST_F(ImporterTest, MalformedRowsNeverStopTheRest) {
  std::string text = "code,region_code,address\n";
  for (int i = 0; i < 10; ++i) {
    absl::StrAppend(&text, i % 3 == 1 ? "\"broken," : "", "H", i, ",g,\"addr ", i, "\"\n");
  }
  files_.Add("h.csv", text);
  absl::StatusOr<ImportSummary> summary = Run({{FileKind::kHouseholds, "h.csv"}}, 2);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_THAT(service_.Keys(), ElementsAre("H0", "H2", "H3", "H5", "H6", "H8", "H9"));
  EXPECT_EQ(summary->total.created, 7);
  EXPECT_EQ(summary->total.rejected, 3);
  EXPECT_THAT(rejects_.str(), HasSubstr("h.csv:3: "));
  EXPECT_THAT(rejects_.str(), HasSubstr("h.csv:6: "));
  EXPECT_THAT(rejects_.str(), HasSubstr("h.csv:9: "));
}

TEST_F(ImporterTest, RowWithoutResultIsRejected) {
  files_.Add("h.csv", "code,region_code\nH1,g\nsilent,g\n");
  absl::StatusOr<ImportSummary> summary = Run({{FileKind::kHouseholds, "h.csv"}});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->total.created, 1);
  EXPECT_EQ(summary->total.rejected, 1);
  EXPECT_EQ(rejects_.str(), "h.csv:3: the service returned no outcome for this row\n");
}

TEST_F(ImporterTest, BadHeaderFailsBeforeAnythingIsSent) {
  files_.Add("r.csv", absl::StrCat(kRegionsHeader, "3301,杭州市,city,\n"));
  files_.Add("p.csv", "name,nickname\n王伟,小王\n");
  absl::StatusOr<ImportSummary> summary =
      Run({{FileKind::kRegions, "r.csv"}, {FileKind::kResidents, "p.csv"}});
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(summary.status().message(), HasSubstr("p.csv: unknown column \"nickname\""));
  EXPECT_TRUE(service_.requests.empty());
}

TEST_F(ImporterTest, UnreadableFileFailsBeforeAnythingIsSent) {
  files_.Add("r.csv", absl::StrCat(kRegionsHeader, "3301,杭州市,city,\n"));
  absl::StatusOr<ImportSummary> summary =
      Run({{FileKind::kRegions, "r.csv"}, {FileKind::kStaff, "missing.csv"}});
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(summary.status().message(), HasSubstr("missing.csv: cannot read"));
  EXPECT_TRUE(service_.requests.empty());
}

TEST_F(ImporterTest, EmptyFileImportsNothing) {
  files_.Add("h.csv", "code,region_code\n");
  absl::StatusOr<ImportSummary> summary = Run({{FileKind::kHouseholds, "h.csv"}});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_TRUE(service_.requests.empty());
  EXPECT_EQ(summary->total.rows(), 0);
}

}  // namespace
}  // namespace gridloop::gridctl
