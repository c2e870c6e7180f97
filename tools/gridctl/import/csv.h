#ifndef GRIDLOOP_TOOLS_GRIDCTL_IMPORT_CSV_H_
#define GRIDLOOP_TOOLS_GRIDCTL_IMPORT_CSV_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <istream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace gridloop::gridctl {

// One record of a CSV file.
struct CsvRecord {
  // The 1-based line on which the record starts; a quoted field may carry it over
  // several lines.
  int64_t line = 0;
  std::vector<std::string> fields;
  // InvalidArgument, starting "line N: ", when the record is malformed; `fields` then
  // holds whatever was read and must not be used.
  absl::Status error;
};

struct CsvOptions {
  // A quoted field still open after this many bytes of its record is taken to be an
  // unterminated quote rather than a long value, which bounds what a reader holds.
  size_t max_record_bytes = size_t{1} << 20;
};

// Reads RFC 4180 CSV from a stream: fields separated by commas, a field in double quotes
// may hold commas, line breaks and doubled quotes (""). Lines end in LF or CRLF; a UTF-8
// byte-order mark before the header is skipped, and so are blank lines between records.
// A quote inside an unquoted field, text after a closing quote, an unterminated quote
// and a record with a different number of fields than the header are errors of that
// record only: reading goes on with the next one. When the bad record spanned several
// lines (an unterminated quote swallows what follows it), reading resumes on the line
// after the one where it started, so one stray quote costs one record.
//
// Not thread-safe. The stream must outlive the reader.
class CsvReader {
 public:
  explicit CsvReader(std::istream& in, CsvOptions options = {});

  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // Reads the header row; names are trimmed of surrounding spaces. InvalidArgument when
  // the input is empty or the header row is malformed. Call once, before Next.
  absl::Status ReadHeader();
  const std::vector<std::string>& header() const { return header_; }

  // Reads the next record into `record`. False at the end of the input.
  bool Next(CsvRecord& record);

 private:
  struct Line {
    int64_t number = 0;
    std::string text;  // without its line break, CR included when the break was CRLF
  };

  // The next physical line, replayed ones first. False at the end of the input.
  bool NextLine(Line& line);
  // Parses one record starting at the next non-blank line, without checking its width.
  bool ReadRecord(CsvRecord& record);

  std::istream& in_;
  CsvOptions options_;
  std::vector<std::string> header_;
  int64_t lines_read_ = 0;
  bool at_start_ = true;
  // Lines of a malformed multi-line record, to be read again.
  std::deque<Line> replay_;
};

}  // namespace gridloop::gridctl

#endif  // GRIDLOOP_TOOLS_GRIDCTL_IMPORT_CSV_H_
