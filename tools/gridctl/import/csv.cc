#include "tools/gridctl/import/csv.h"

#include <iterator>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace gridloop::gridctl {
namespace {

constexpr absl::string_view kByteOrderMark = "\xEF\xBB\xBF";

bool IsBlank(absl::string_view line) { return line.empty() || line == "\r"; }

absl::Status Malformed(int64_t line, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", why));
}

}  // namespace

CsvReader::CsvReader(std::istream& in, CsvOptions options) : in_(in), options_(options) {}

bool CsvReader::NextLine(Line& line) {
  if (!replay_.empty()) {
    line = std::move(replay_.front());
    replay_.pop_front();
    return true;
  }
  if (!std::getline(in_, line.text)) return false;
  line.number = ++lines_read_;
  if (at_start_) {
    at_start_ = false;
    if (absl::StartsWith(line.text, kByteOrderMark)) line.text.erase(0, kByteOrderMark.size());
  }
  return true;
}

bool CsvReader::ReadRecord(CsvRecord& record) {
  record.fields.clear();
  record.error = absl::OkStatus();
  Line first;
  do {
    if (!NextLine(first)) return false;
  } while (IsBlank(first.text));
  record.line = first.number;

  // The lines after the first, kept so that a malformed record can give them back.
  std::vector<Line> more;
  auto give_back = [&](absl::Status error) {
    record.error = std::move(error);
    replay_.insert(replay_.begin(), std::make_move_iterator(more.begin()),
                   std::make_move_iterator(more.end()));
    return true;
  };

  enum class State { kFieldStart, kUnquoted, kQuoted, kAfterQuote };
  State state = State::kFieldStart;
  const std::string* text = &first.text;
  size_t bytes = text->size();
  std::string field;
  size_t i = 0;
  while (true) {
    // A CR is the first half of a CRLF line break only outside quotes and last on its line.
    const bool at_end = i == text->size() ||
                        (state != State::kQuoted && i + 1 == text->size() && (*text)[i] == '\r');
    if (at_end) {
      if (state != State::kQuoted) {
        record.fields.push_back(std::move(field));
        return true;
      }
      field += '\n';
      Line next;
      if (!NextLine(next)) return give_back(Malformed(record.line, "unterminated quoted field"));
      bytes += next.text.size() + 1;
      more.push_back(std::move(next));
      text = &more.back().text;
      i = 0;
      if (bytes > options_.max_record_bytes) {
        return give_back(Malformed(
            record.line,
            absl::StrCat("unterminated quoted field (still open after ", bytes, " bytes)")));
      }
      continue;
    }
    const char c = (*text)[i++];
    switch (state) {
      case State::kFieldStart:
        if (c == '"') {
          state = State::kQuoted;
        } else if (c == ',') {
          record.fields.emplace_back();
        } else {
          field += c;
          state = State::kUnquoted;
        }
        break;
      case State::kUnquoted:
        if (c == ',') {
          record.fields.push_back(std::move(field));
          field.clear();
          state = State::kFieldStart;
        } else if (c == '"') {
          return give_back(Malformed(record.line, "quote inside an unquoted field"));
        } else {
          field += c;
        }
        break;
      case State::kQuoted:
        if (c != '"') {
          field += c;
        } else if (i < text->size() && (*text)[i] == '"') {
          field += '"';
          ++i;
        } else {
          state = State::kAfterQuote;
        }
        break;
      case State::kAfterQuote:
        if (c != ',') return give_back(Malformed(record.line, "text after a closing quote"));
        record.fields.push_back(std::move(field));
        field.clear();
        state = State::kFieldStart;
        break;
    }
  }
}

absl::Status CsvReader::ReadHeader() {
  CsvRecord record;
  if (!ReadRecord(record)) return absl::InvalidArgumentError("no header row: the input is empty");
  if (!record.error.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("header: ", record.error.message()));
  }
  header_.clear();
  for (const std::string& name : record.fields) {
    header_.emplace_back(absl::StripAsciiWhitespace(name));
  }
  return absl::OkStatus();
}

bool CsvReader::Next(CsvRecord& record) {
  if (!ReadRecord(record)) return false;
  if (record.error.ok() && !header_.empty() && record.fields.size() != header_.size()) {
    record.error = Malformed(record.line, absl::StrCat("expected ", header_.size(),
                                                       " fields, found ", record.fields.size()));
  }
  return true;
}

}  // namespace gridloop::gridctl
