#include "tools/gridctl/import/importer.h"

#include <algorithm>
#include <fstream>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/status/status_macros.h"
#include "tools/gridctl/import/csv.h"

namespace gridloop::gridctl {
namespace {

bool Retryable(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kDeadlineExceeded;
}

// Parents before children: a code has one more segment than its parent's.
int64_t Depth(const v1::ImportItem& item) {
  return std::count(item.region().code().begin(), item.region().code().end(), '.');
}

// The reason without the reader's "line N: " prefix, which the rejects line already has.
std::string RecordError(const CsvRecord& record) {
  absl::string_view message = record.error.message();
  absl::ConsumePrefix(&message, absl::StrCat("line ", record.line, ": "));
  return std::string(message);
}

}  // namespace

ImportCounts& ImportCounts::operator+=(const ImportCounts& other) {
  created += other.created;
  updated += other.updated;
  unchanged += other.unchanged;
  rejected += other.rejected;
  return *this;
}

Importer::Importer(BatchSender sender, ImporterOptions options)
    : sender_(std::move(sender)), options_(std::move(options)) {
  if (options_.batch_size < 1) options_.batch_size = 1;
  if (options_.parallel < 1) options_.parallel = 1;
  if (options_.max_attempts < 1) options_.max_attempts = 1;
  if (!options_.sleep) options_.sleep = [](absl::Duration d) { absl::SleepFor(d); };
}

absl::StatusOr<std::unique_ptr<std::istream>> Importer::Open(const std::string& path) const {
  std::unique_ptr<std::istream> in;
  if (options_.open) {
    in = options_.open(path);
  } else {
    in = std::make_unique<std::ifstream>(path, std::ios::binary);
  }
  if (in == nullptr || !*in) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read"));
  return in;
}

absl::StatusOr<int64_t> Importer::Survey(const ImportFile& file) const {
  ASSIGN_OR_RETURN(std::unique_ptr<std::istream> in, Open(file.path));
  CsvReader reader(*in);
  if (absl::Status s = reader.ReadHeader(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(file.path, ": ", s.message()));
  }
  if (absl::StatusOr<RowConverter> c = RowConverter::Create(file.kind, reader.header()); !c.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(file.path, ": ", c.status().message()));
  }
  int64_t rows = 0;
  CsvRecord record;
  while (reader.Next(record)) ++rows;
  if (in->bad()) return absl::InvalidArgumentError(absl::StrCat(file.path, ": read failed"));
  return rows;
}

absl::StatusOr<ImportSummary> Importer::Run(const std::vector<ImportFile>& files,
                                            std::ostream& rejects) {
  std::vector<ImportFile> ordered = files;
  std::stable_sort(ordered.begin(), ordered.end(), [](const ImportFile& a, const ImportFile& b) {
    return static_cast<int>(a.kind) < static_cast<int>(b.kind);
  });
  rows_done_ = 0;
  rows_total_ = 0;
  for (const ImportFile& file : ordered) {
    ASSIGN_OR_RETURN(int64_t rows, Survey(file));
    rows_total_ += rows;
  }
  ImportSummary summary;
  for (const ImportFile& file : ordered) {
    FileSummary& done = summary.files.emplace_back();
    done.file = file;
    RETURN_IF_ERROR(ImportFileRows(file, rejects, done.counts));
    summary.total += done.counts;
  }
  return summary;
}

absl::Status Importer::ImportFileRows(const ImportFile& file, std::ostream& out,
                                      ImportCounts& counts) {
  ASSIGN_OR_RETURN(std::unique_ptr<std::istream> in, Open(file.path));
  CsvReader reader(*in);
  RETURN_IF_ERROR(reader.ReadHeader());
  ASSIGN_OR_RETURN(RowConverter converter, RowConverter::Create(file.kind, reader.header()));
  const auto batch_size = static_cast<size_t>(options_.batch_size);
  // Regions are ordered as a whole before any is sent, so they are all read first; the
  // other kinds go out a batch at a time.
  const bool streamed = file.kind != FileKind::kRegions;

  std::vector<Row> rows;
  std::vector<std::vector<Row>> wave;  // full batches waiting to go out together
  size_t wave_rows = 0;
  std::vector<Reject> rejects;
  size_t read_rejects = 0;  // rows in `rejects` that the reader or converter turned down
  CsvRecord record;
  while (reader.Next(record)) {
    if (!record.error.ok()) {
      rejects.push_back({record.line, RecordError(record)});
      ++read_rejects;
    } else if (absl::StatusOr<v1::ImportItem> item = converter.Convert(record.fields); !item.ok()) {
      rejects.push_back({record.line, std::string(item.status().message())});
      ++read_rejects;
    } else {
      rows.push_back({record.line, *std::move(item)});
    }
    if (streamed && (rows.size() >= batch_size || rejects.size() >= batch_size)) {
      wave_rows += rows.size();
      wave.push_back(std::move(rows));
      rows.clear();
      if (static_cast<int>(wave.size()) >= options_.parallel || rejects.size() >= batch_size) {
        counts.rejected += static_cast<int64_t>(read_rejects);
        RETURN_IF_ERROR(SendWave(wave, counts, rejects));
        RETURN_IF_ERROR(WriteRejects(file, rejects, out));
        RowsDone(file, wave_rows + read_rejects);
        wave_rows = 0;
        read_rejects = 0;
      }
    }
  }
  if (in->bad()) return absl::InvalidArgumentError(absl::StrCat(file.path, ": read failed"));
  counts.rejected += static_cast<int64_t>(read_rejects);
  if (streamed) {
    wave_rows += rows.size();
    wave.push_back(std::move(rows));
    RETURN_IF_ERROR(SendWave(wave, counts, rejects));
    RETURN_IF_ERROR(WriteRejects(file, rejects, out));
    RowsDone(file, wave_rows + read_rejects);
    return absl::OkStatus();
  }

  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& a, const Row& b) { return Depth(a.item) < Depth(b.item); });
  // The rows turned down while reading count as done with the first batch.
  size_t done = read_rejects;
  for (size_t start = 0; start < rows.size(); start += batch_size) {
    const size_t size = std::min(batch_size, rows.size() - start);
    RETURN_IF_ERROR(SendBatch(absl::MakeSpan(rows).subspan(start, size), counts, rejects));
    RowsDone(file, done + size);
    done = 0;
  }
  if (rows.empty()) RowsDone(file, done);
  return WriteRejects(file, rejects, out);
}

v1::ImportBatchRequest Importer::RequestOf(absl::Span<Row> rows) {
  v1::ImportBatchRequest request;
  request.mutable_items()->Reserve(static_cast<int>(rows.size()));
  for (Row& row : rows) *request.add_items() = std::move(row.item);
  return request;
}

absl::Status Importer::SendBatch(absl::Span<Row> rows, ImportCounts& counts,
                                 std::vector<Reject>& rejects) {
  if (rows.empty()) return absl::OkStatus();
  return Apply(rows, SendWithRetry(RequestOf(rows)), counts, rejects);
}

absl::Status Importer::SendWave(std::vector<std::vector<Row>>& wave, ImportCounts& counts,
                                std::vector<Reject>& rejects) {
  wave.erase(std::remove_if(wave.begin(), wave.end(),
                            [](const std::vector<Row>& rows) { return rows.empty(); }),
             wave.end());
  if (wave.empty()) return absl::OkStatus();
  std::vector<v1::ImportBatchRequest> requests;
  requests.reserve(wave.size());
  for (std::vector<Row>& rows : wave) requests.push_back(RequestOf(absl::MakeSpan(rows)));
  std::vector<absl::StatusOr<v1::ImportBatchResponse>> responses(wave.size(),
                                                                 absl::UnknownError("not sent"));
  if (wave.size() == 1) {
    responses[0] = SendWithRetry(requests[0]);
  } else {
    // The service works on each batch on a thread of its own; its round trips to Redis
    // overlap instead of adding up.
    std::vector<std::thread> threads;
    threads.reserve(wave.size());
    for (size_t i = 0; i < wave.size(); ++i) {
      threads.emplace_back([&, i] { responses[i] = SendWithRetry(requests[i]); });
    }
    for (std::thread& t : threads) t.join();
  }
  for (size_t i = 0; i < wave.size(); ++i) {
    RETURN_IF_ERROR(Apply(absl::MakeSpan(wave[i]), std::move(responses[i]), counts, rejects));
  }
  wave.clear();
  return absl::OkStatus();
}

absl::Status Importer::Apply(absl::Span<Row> rows, absl::StatusOr<v1::ImportBatchResponse> response,
                             ImportCounts& counts, std::vector<Reject>& rejects) {
  if (!response.ok()) {
    if (!answered_ && Retryable(response.status())) {
      return absl::UnavailableError(absl::StrCat("the residents service could not be reached: ",
                                                 response.status().ToString()));
    }
    const std::string reason = absl::StrCat("batch failed: ", response.status().ToString());
    for (const Row& row : rows) rejects.push_back({row.line, reason});
    counts.rejected += static_cast<int64_t>(rows.size());
    return absl::OkStatus();
  }
  std::vector<const v1::ImportResult*> by_index(rows.size(), nullptr);
  for (const v1::ImportResult& result : response->results()) {
    if (result.index() >= 0 && static_cast<size_t>(result.index()) < rows.size() &&
        by_index[result.index()] == nullptr) {
      by_index[result.index()] = &result;
    }
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    const v1::ImportResult* result = by_index[i];
    switch (result == nullptr ? v1::IMPORT_OUTCOME_UNSPECIFIED : result->outcome()) {
      case v1::IMPORT_OUTCOME_CREATED:
        ++counts.created;
        break;
      case v1::IMPORT_OUTCOME_UPDATED:
        ++counts.updated;
        break;
      case v1::IMPORT_OUTCOME_UNCHANGED:
        ++counts.unchanged;
        break;
      case v1::IMPORT_OUTCOME_REJECTED:
        ++counts.rejected;
        rejects.push_back({rows[i].line, result->message().empty() ? "rejected by the service"
                                                                   : result->message()});
        break;
      default:
        ++counts.rejected;
        rejects.push_back({rows[i].line, "the service returned no outcome for this row"});
        break;
    }
  }
  return absl::OkStatus();
}

absl::Status Importer::WriteRejects(const ImportFile& file, std::vector<Reject>& rejects,
                                    std::ostream& out) {
  std::stable_sort(rejects.begin(), rejects.end(),
                   [](const Reject& a, const Reject& b) { return a.line < b.line; });
  for (const Reject& r : rejects) {
    // One line per row, whatever the service put in its message.
    out << file.path << ":" << r.line << ": " << absl::StrReplaceAll(r.reason, {{"\n", " "}})
        << "\n";
  }
  rejects.clear();
  if (!out) return absl::InternalError("cannot write the rejects file");
  return absl::OkStatus();
}

void Importer::RowsDone(const ImportFile& file, size_t rows) {
  rows_done_ += static_cast<int64_t>(rows);
  if (options_.progress) options_.progress({file.path, rows_done_, rows_total_});
}

absl::StatusOr<v1::ImportBatchResponse> Importer::SendWithRetry(
    const v1::ImportBatchRequest& request) {
  absl::Duration backoff = options_.initial_backoff;
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<v1::ImportBatchResponse> response = sender_(request);
    if (response.ok() || !Retryable(response.status())) {
      answered_ = true;
      return response;
    }
    if (attempt >= options_.max_attempts) return response;
    options_.sleep(backoff);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

}  // namespace gridloop::gridctl
