#include "tools/gridctl/import/csv.h"

#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gridloop::gridctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Every record of `text` after its header.
std::vector<CsvRecord> ReadAll(const std::string& text, CsvOptions options = {}) {
  std::istringstream in(text);
  CsvReader reader(in, options);
  EXPECT_TRUE(reader.ReadHeader().ok());
  std::vector<CsvRecord> records;
  CsvRecord record;
  while (reader.Next(record)) records.push_back(record);
  return records;
}

TEST(CsvReader, ReadsHeaderAndRecordsWithTheirLines) {
  std::istringstream in("a, b ,c\n1,2,3\n4,5,6\n");
  CsvReader reader(in);
  ASSERT_TRUE(reader.ReadHeader().ok());
  EXPECT_THAT(reader.header(), ElementsAre("a", "b", "c"));
  CsvRecord r;
  ASSERT_TRUE(reader.Next(r));
  EXPECT_TRUE(r.error.ok());
  EXPECT_EQ(r.line, 2);
  EXPECT_THAT(r.fields, ElementsAre("1", "2", "3"));
  ASSERT_TRUE(reader.Next(r));
  EXPECT_EQ(r.line, 3);
  EXPECT_THAT(r.fields, ElementsAre("4", "5", "6"));
  EXPECT_FALSE(reader.Next(r));
}

TEST(CsvReader, QuotedFieldsHoldCommasQuotesAndLineBreaks) {
  auto records = ReadAll(
      "name,address,note\n"
      "\"王, 小明\",\"3幢\n2单元\",\"他说\"\"好\"\"\"\n"
      "\"\",x,\"\"\"\"\n");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_TRUE(records[0].error.ok()) << records[0].error;
  EXPECT_EQ(records[0].line, 2);
  EXPECT_THAT(records[0].fields, ElementsAre("王, 小明", "3幢\n2单元", "他说\"好\""));
  // The line break inside the quotes moved the next record down a line.
  EXPECT_EQ(records[1].line, 4);
  EXPECT_THAT(records[1].fields, ElementsAre("", "x", "\""));
}

TEST(CsvReader, SkipsByteOrderMarkAndAcceptsCrlf) {
  auto records = ReadAll(
      "\xEF\xBB\xBF"
      "a,b\r\n1,\"x\r\ny\"\r\n2,\r\n");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_THAT(records[0].fields, ElementsAre("1", "x\r\ny"));
  EXPECT_EQ(records[1].line, 4);
  EXPECT_THAT(records[1].fields, ElementsAre("2", ""));

  std::istringstream in(
      "\xEF\xBB\xBF"
      "code,name\n");
  CsvReader reader(in);
  ASSERT_TRUE(reader.ReadHeader().ok());
  EXPECT_THAT(reader.header(), ElementsAre("code", "name"));
}

TEST(CsvReader, SkipsBlankLinesAndReadsALastLineWithoutBreak) {
  auto records = ReadAll("a,b\n\n1,2\r\n\r\n\n3,4");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].line, 3);
  EXPECT_EQ(records[1].line, 6);
  EXPECT_THAT(records[1].fields, ElementsAre("3", "4"));
}

TEST(CsvReader, TrailingCommaIsAnEmptyLastField) {
  auto records = ReadAll("a,b,c\n1,,\n");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_TRUE(records[0].error.ok());
  EXPECT_THAT(records[0].fields, ElementsAre("1", "", ""));
}

TEST(CsvReader, WrongFieldCountIsAnErrorOfThatRecordOnly) {
  auto records = ReadAll("a,b\n1,2,3\n4\n5,6\n");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(records[0].error.message(), HasSubstr("line 2: expected 2 fields, found 3"));
  EXPECT_THAT(records[1].error.message(), HasSubstr("line 3: expected 2 fields, found 1"));
  EXPECT_TRUE(records[2].error.ok());
  EXPECT_THAT(records[2].fields, ElementsAre("5", "6"));
}

TEST(CsvReader, UnterminatedQuoteCostsOneRecord) {
  auto records = ReadAll("a,b\n1,\"open\n2,x\n3,y\n");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].line, 2);
  EXPECT_THAT(records[0].error.message(), HasSubstr("line 2: unterminated quoted field"));
  EXPECT_TRUE(records[1].error.ok());
  EXPECT_EQ(records[1].line, 3);
  EXPECT_THAT(records[1].fields, ElementsAre("2", "x"));
  EXPECT_EQ(records[2].line, 4);
  EXPECT_THAT(records[2].fields, ElementsAre("3", "y"));
}

TEST(CsvReader, StrayQuoteThatClosesLaterStillCostsOneRecord) {
  // The quote opened on line 2 is closed by the first quote of line 4, which leaves text
  // after it: the record is bad, and lines 3 and 4 are read again on their own.
  auto records = ReadAll("a,b\n1,\"open\n2,x\n\"3\",y\n");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_THAT(records[0].error.message(), HasSubstr("line 2: text after a closing quote"));
  EXPECT_THAT(records[1].fields, ElementsAre("2", "x"));
  EXPECT_EQ(records[2].line, 4);
  EXPECT_THAT(records[2].fields, ElementsAre("3", "y"));
}

TEST(CsvReader, QuoteInsideAnUnquotedFieldIsAnError) {
  auto records = ReadAll("a,b\nab\"c,1\n2,3\n");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_THAT(records[0].error.message(), HasSubstr("line 2: quote inside an unquoted field"));
  EXPECT_THAT(records[1].fields, ElementsAre("2", "3"));
}

TEST(CsvReader, TextAfterClosingQuoteIsAnError) {
  auto records = ReadAll("a,b\n\"x\"y,1\n2,3\n");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_THAT(records[0].error.message(), HasSubstr("line 2: text after a closing quote"));
  EXPECT_EQ(records[1].line, 3);
  EXPECT_TRUE(records[1].error.ok());
}

TEST(CsvReader, LongOpenQuoteIsCutOffAndTheRestRead) {
  std::string text = "a,b\n1,\"open\n";
  for (int i = 0; i < 20; ++i) text += "2,xxxxxxxxxx\n";
  CsvOptions options;
  options.max_record_bytes = 64;
  auto records = ReadAll(text, options);
  ASSERT_EQ(records.size(), 21u);
  EXPECT_THAT(records[0].error.message(), HasSubstr("unterminated quoted field (still open"));
  for (size_t i = 1; i < records.size(); ++i) {
    EXPECT_TRUE(records[i].error.ok()) << i;
    EXPECT_EQ(records[i].line, static_cast<int64_t>(i) + 2);
  }
}

TEST(CsvReader, EmptyInputHasNoHeader) {
  std::istringstream in("");
  CsvReader reader(in);
  EXPECT_EQ(reader.ReadHeader().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CsvReader, MalformedHeaderIsAnError) {
  std::istringstream in("a,\"b\n");
  CsvReader reader(in);
  absl::Status s = reader.ReadHeader();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("header"));
}

}  // namespace
}  // namespace gridloop::gridctl
