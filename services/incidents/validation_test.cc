#include "services/incidents/validation.h"

#include <string>

#include "gtest/gtest.h"

namespace gridloop::incidents {
namespace {

v1::ReportIncidentRequest Good() {
  v1::ReportIncidentRequest r;
  r.set_request_id("req-1");
  r.set_category("roof_leak");
  r.set_title("3号楼顶漏水");
  r.set_description("雨后屋顶漏水，\n影响两户");
  r.set_channel(v1::CHANNEL_APP);
  r.mutable_location()->set_latitude(30.27);
  r.mutable_location()->set_longitude(120.15);
  r.set_address("西湖区文三路 3 号楼");
  r.set_region_code("330106.001.002.g07");
  r.mutable_reporter()->set_name("王阿姨");
  r.mutable_reporter()->set_phone("138 0013 8000");
  return r;
}

void ExpectInvalid(const v1::ReportIncidentRequest& r, const std::string& field) {
  absl::Status s = ValidateReport(r, Taxonomy::Default());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field;
  EXPECT_EQ(s.message().substr(0, field.size()), field) << s.message();
}

TEST(ReportValidation, AcceptsAWellFormedReport) {
  EXPECT_TRUE(ValidateReport(Good(), Taxonomy::Default()).ok());
}

TEST(ReportValidation, NamesTheBadField) {
  auto r = Good();
  r.clear_request_id();
  ExpectInvalid(r, "request_id");
  r = Good();
  r.set_category("alien_landing");
  ExpectInvalid(r, "category");
  r = Good();
  r.set_title("   ");
  ExpectInvalid(r, "title");
  r = Good();
  std::string long_title;
  for (int i = 0; i < 101; ++i) long_title += "漏";
  r.set_title(long_title);
  ExpectInvalid(r, "title");
  r = Good();
  r.set_title("bad\x01title");
  ExpectInvalid(r, "title");
  r = Good();
  r.set_description(std::string(2001, 'x'));
  ExpectInvalid(r, "description");
  r = Good();
  r.set_channel(v1::CHANNEL_UNSPECIFIED);
  ExpectInvalid(r, "channel");
  r = Good();
  r.set_channel(static_cast<v1::Channel>(99));
  ExpectInvalid(r, "channel");
  r = Good();
  r.mutable_location()->set_latitude(91);
  ExpectInvalid(r, "location.latitude");
  r = Good();
  r.mutable_location()->set_longitude(-180.5);
  ExpectInvalid(r, "location.longitude");
  r = Good();
  r.mutable_location()->set_latitude(std::nan(""));
  ExpectInvalid(r, "location.latitude");
  r = Good();
  r.set_region_code("");
  r.clear_location();
  ExpectInvalid(r, "region_code");
  r = Good();
  r.set_region_code("");  // with a location, the grid is found from it
  EXPECT_TRUE(ValidateReport(r, Taxonomy::Default()).ok());
  r = Good();
  r = Good();
  r.set_region_code("33 01");
  ExpectInvalid(r, "region_code");
  r = Good();
  r.mutable_reporter()->set_phone("12345");
  ExpectInvalid(r, "reporter.phone");
  r = Good();
  r.mutable_reporter()->set_phone("12800138000");  // 12x is not a mobile prefix
  ExpectInvalid(r, "reporter.phone");
  r = Good();
  r.set_urgency(static_cast<v1::Urgency>(42));
  ExpectInvalid(r, "urgency");
}

TEST(MobileNumbers, NormalisedOrRefused) {
  EXPECT_EQ(*NormalizeMobile("p", "+86 138-0013-8000"), "13800138000");
  EXPECT_EQ(*NormalizeMobile("p", "19912345678"), "19912345678");
  EXPECT_FALSE(NormalizeMobile("p", "1380013800").ok());
  EXPECT_FALSE(NormalizeMobile("p", "138001380001").ok());
  EXPECT_FALSE(NormalizeMobile("p", "1380013800a").ok());
}

TEST(MobileNumbers, MaskedForDisplay) { EXPECT_EQ(MaskPhone("13800138000"), "138****8000"); }

TEST(TextLimits, CountCharactersNotBytesAndRejectBrokenUtf8) {
  EXPECT_TRUE(CheckText("t", "路灯不亮", 4, true).ok());
  EXPECT_FALSE(CheckText("t", "路灯不亮了", 4, true).ok());
  EXPECT_FALSE(CheckText("t", std::string("\xe8\xb7", 2), 10, true).ok());
}

}  // namespace
}  // namespace gridloop::incidents
