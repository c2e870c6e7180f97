#ifndef GRIDLOOP_TOOLS_GRIDCTL_IMPORT_IMPORTER_H_
#define GRIDLOOP_TOOLS_GRIDCTL_IMPORT_IMPORTER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "gridloop/v1/residents.pb.h"
#include "tools/gridctl/import/rows.h"

namespace gridloop::gridctl {

// Sends one batch to ResidentService.ImportBatch. A status that is not OK means the batch
// as a whole failed; per-item rejections come back inside the response.
using BatchSender =
    std::function<absl::StatusOr<v1::ImportBatchResponse>(const v1::ImportBatchRequest&)>;

// What happened to the rows of a file (or of all files).
struct ImportCounts {
  int64_t created = 0;
  int64_t updated = 0;
  int64_t unchanged = 0;
  int64_t rejected = 0;

  int64_t rows() const { return created + updated + unchanged + rejected; }
  ImportCounts& operator+=(const ImportCounts& other);
};

struct ImportFile {
  FileKind kind = FileKind::kRegions;
  std::string path;
};

struct FileSummary {
  ImportFile file;
  ImportCounts counts;
};

struct ImportSummary {
  std::vector<FileSummary> files;  // in the order they were imported
  ImportCounts total;
};

// Reported after every batch.
struct ImportProgress {
  absl::string_view path;  // the file being imported
  int64_t rows_done = 0;   // over all files
  int64_t rows_total = 0;
};

struct ImporterOptions {
  int batch_size = 500;
  // Batches of households, residents and staff in flight at once (regions go one batch at
  // a time, parents first). Above 1 the sender is called from several threads.
  int parallel = 1;
  // Tries of one batch that fails with UNAVAILABLE or DEADLINE_EXCEEDED, the first
  // included; the wait between tries doubles from `initial_backoff` up to `max_backoff`.
  int max_attempts = 5;
  absl::Duration initial_backoff = absl::Milliseconds(250);
  absl::Duration max_backoff = absl::Seconds(8);
  // absl::SleepFor when empty.
  std::function<void(absl::Duration)> sleep;
  // Called on the importing thread after every batch; may be empty.
  std::function<void(const ImportProgress&)> progress;
  // Opens a file for reading; a std::ifstream when empty. Null or a failed stream means
  // the file cannot be read.
  std::function<std::unique_ptr<std::istream>(const std::string& path)> open;
};

// Imports CSV files through ImportBatch. Files are imported in dependency order
// (regions, households, residents, staff) whatever order they are given in, and regions
// parents first (by the number of '.'-separated segments of the code, otherwise in file
// order), so that every item can refer to records sent before it. A bad row costs only
// that row; each rejected row becomes a line "<path>:<line>: <reason>" in the rejects
// output, in line order within a file.
//
// Holds a whole regions file in memory to order it; the other files are streamed a batch
// at a time. Not thread-safe; the sender is called from the thread that calls Run.
class Importer {
 public:
  Importer(BatchSender sender, ImporterOptions options);

  // Runs the import. Before anything is sent every file is opened, its header checked
  // and its rows counted: InvalidArgument naming the file when one cannot be read, has
  // an unknown or repeated column or lacks a required one.
  // Unavailable when the service never answered: the first batch failed with
  // UNAVAILABLE or DEADLINE_EXCEEDED on every try, and trying every other batch would
  // only delay saying so. Once the service has answered, a batch that fails is counted
  // as rejected rows and the import goes on. Internal when `rejects` cannot be written.
  absl::StatusOr<ImportSummary> Run(const std::vector<ImportFile>& files, std::ostream& rejects);

 private:
  struct Row {
    int64_t line = 0;
    v1::ImportItem item;
  };
  struct Reject {
    int64_t line = 0;
    std::string reason;
  };

  absl::StatusOr<std::unique_ptr<std::istream>> Open(const std::string& path) const;
  // Checks the header and counts the records of `file`.
  absl::StatusOr<int64_t> Survey(const ImportFile& file) const;
  absl::Status ImportFileRows(const ImportFile& file, std::ostream& rejects, ImportCounts& counts);
  // Sends `rows` (none is fine) as one batch, adds their outcomes to `counts` and their
  // rejections to `rejects`. Unavailable only when the service has never answered and
  // this batch could not be delivered.
  absl::Status SendBatch(absl::Span<Row> rows, ImportCounts& counts, std::vector<Reject>& rejects);
  // Sends up to `parallel` batches at once, then counts their outcomes in order.
  absl::Status SendWave(std::vector<std::vector<Row>>& wave, ImportCounts& counts,
                        std::vector<Reject>& rejects);
  static v1::ImportBatchRequest RequestOf(absl::Span<Row> rows);
  absl::Status Apply(absl::Span<Row> rows, absl::StatusOr<v1::ImportBatchResponse> response,
                     ImportCounts& counts, std::vector<Reject>& rejects);
  // Writes `rejects` in line order and clears them.
  static absl::Status WriteRejects(const ImportFile& file, std::vector<Reject>& rejects,
                                   std::ostream& out);
  void RowsDone(const ImportFile& file, size_t rows);
  absl::StatusOr<v1::ImportBatchResponse> SendWithRetry(const v1::ImportBatchRequest& request);

  BatchSender sender_;
  ImporterOptions options_;
  std::atomic<bool> answered_{false};  // the service has answered some batch
  int64_t rows_done_ = 0;
  int64_t rows_total_ = 0;
};

}  // namespace gridloop::gridctl

#endif  // GRIDLOOP_TOOLS_GRIDCTL_IMPORT_IMPORTER_H_
