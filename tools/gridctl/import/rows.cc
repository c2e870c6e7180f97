#include "tools/gridctl/import/rows.h"

#include <cmath>
#include <cstddef>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/clock/proto_time.h"

namespace gridloop::gridctl {
namespace {

// Column positions within ColumnsOf(kind); the lists there are in this order.
enum RegionColumn : size_t {
  kRegionCode,
  kRegionName,
  kRegionLevel,
  kRegionParentCode,
  kRegionBoundary,
  kRegionValidFrom,
};
enum HouseholdColumn : size_t { kHouseholdCode, kHouseholdRegionCode, kHouseholdAddress };
enum ResidentColumn : size_t {
  kResidentName,
  kResidentGender,
  kResidentBirthDate,
  kResidentIdNumber,
  kResidentPhone,
  kResidentHouseholdCode,
  kResidentRegionCode,
  kResidentTags,
  kResidentContactByPhone,
  kResidentShareWithVolunteers,
  kResidentPublishInLedger,
};
enum StaffColumn : size_t {
  kStaffRegionCode,
  kStaffPersonId,
  kStaffName,
  kStaffRole,
  kStaffOnDuty,
  kStaffPhone,
  kStaffDuty,
  kStaffDepartment,
  kStaffValidFrom,
};

// The columns without which no record of the kind could be imported.
const std::vector<size_t>& RequiredColumns(FileKind kind) {
  static const auto* regions = new std::vector<size_t>{kRegionCode, kRegionName, kRegionLevel};
  static const auto* households = new std::vector<size_t>{kHouseholdCode, kHouseholdRegionCode};
  static const auto* residents = new std::vector<size_t>{kResidentName};
  static const auto* staff =
      new std::vector<size_t>{kStaffRegionCode, kStaffPersonId, kStaffName, kStaffRole};
  switch (kind) {
    case FileKind::kRegions:
      return *regions;
    case FileKind::kHouseholds:
      return *households;
    case FileKind::kResidents:
      return *residents;
    case FileKind::kStaff:
      break;
  }
  return *staff;
}

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

// Parses a lower-case enumeration value by its proto name: `prefix` + upper case. The
// unspecified value is not a choice a file can make.
template <typename Enum, typename ParseFn>
absl::StatusOr<Enum> ParseEnum(absl::string_view field, absl::string_view text,
                               absl::string_view prefix, ParseFn parse, absl::string_view choices) {
  std::string name = absl::StrCat(prefix, text);
  absl::AsciiStrToUpper(&name);
  Enum value{};
  if (text.empty() || absl::AsciiStrToLower(text) == "unspecified" || !parse(name, &value)) {
    return Invalid(field, absl::StrCat("\"", text, "\" is not one of ", choices));
  }
  return value;
}

absl::StatusOr<google::protobuf::Timestamp> ParseTimestamp(absl::string_view field,
                                                           absl::string_view text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
    return Invalid(field, absl::StrCat("\"", text,
                                       "\" is not an RFC 3339 time such as "
                                       "2024-03-01T08:00:00+08:00"));
  }
  return ToTimestamp(t);
}

absl::Status ParseRing(absl::string_view field, absl::string_view text, v1::Ring& ring) {
  for (absl::string_view point : absl::StrSplit(text, ';')) {
    point = absl::StripAsciiWhitespace(point);
    if (point.empty()) continue;  // a trailing ';' is harmless
    std::vector<absl::string_view> parts =
        absl::StrSplit(point, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    double lat = 0;
    double lng = 0;
    if (parts.size() != 2 || !absl::SimpleAtod(parts[0], &lat) ||
        !absl::SimpleAtod(parts[1], &lng) || !std::isfinite(lat) || !std::isfinite(lng)) {
      return Invalid(field, absl::StrCat("\"", point, R"(" is not "latitude longitude")"));
    }
    if (lat < -90 || lat > 90 || lng < -180 || lng > 180) {
      return Invalid(field, absl::StrCat("\"", point, "\" is off the earth"));
    }
    v1::LatLng* p = ring.add_points();
    p->set_latitude(lat);
    p->set_longitude(lng);
  }
  if (ring.points_size() < 3) {
    return Invalid(field,
                   absl::StrCat("a ring needs at least 3 points (got ", ring.points_size(), ")"));
  }
  return absl::OkStatus();
}

bool IsGridLevel(v1::RegionLevel level) {
  return level == v1::REGION_LEVEL_GRID || level == v1::REGION_LEVEL_MICRO_GRID;
}

absl::Status Required(absl::string_view field, absl::string_view value) {
  return value.empty() ? Invalid(field, "required") : absl::OkStatus();
}

}  // namespace

absl::string_view FileKindName(FileKind kind) {
  switch (kind) {
    case FileKind::kRegions:
      return "regions";
    case FileKind::kHouseholds:
      return "households";
    case FileKind::kResidents:
      return "residents";
    case FileKind::kStaff:
      break;
  }
  return "staff";
}

const std::vector<std::string>& ColumnsOf(FileKind kind) {
  static const auto* regions = new std::vector<std::string>{
      "code", "name", "level", "parent_code", "boundary", "valid_from"};
  static const auto* households = new std::vector<std::string>{"code", "region_code", "address"};
  static const auto* residents = new std::vector<std::string>{"name",
                                                              "gender",
                                                              "birth_date",
                                                              "id_number",
                                                              "phone",
                                                              "household_code",
                                                              "region_code",
                                                              "tags",
                                                              "contact_by_phone",
                                                              "share_with_volunteers",
                                                              "publish_in_ledger"};
  static const auto* staff =
      new std::vector<std::string>{"region_code", "person_id", "name",       "role",      "on_duty",
                                   "phone",       "duty",      "department", "valid_from"};
  switch (kind) {
    case FileKind::kRegions:
      return *regions;
    case FileKind::kHouseholds:
      return *households;
    case FileKind::kResidents:
      return *residents;
    case FileKind::kStaff:
      break;
  }
  return *staff;
}

absl::Status ParseBoundary(absl::string_view field, absl::string_view text, v1::Region& region) {
  region.clear_boundary();
  region.clear_holes();
  int index = 0;
  for (absl::string_view ring_text : absl::StrSplit(text, '|')) {
    v1::Ring ring;
    const std::string ring_field =
        index == 0 ? std::string(field) : absl::StrCat(field, " hole ", index);
    if (absl::Status s = ParseRing(ring_field, ring_text, ring); !s.ok()) return s;
    if (index == 0) {
      *region.mutable_boundary() = std::move(*ring.mutable_points());
    } else {
      *region.add_holes() = std::move(ring);
    }
    ++index;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> ParseBool(absl::string_view field, absl::string_view text, bool empty_value) {
  if (text.empty()) return empty_value;
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "true" || lower == "1" || lower == "yes") return true;
  if (lower == "false" || lower == "0" || lower == "no") return false;
  return Invalid(field, absl::StrCat("\"", text, "\" is not true/false, 1/0 or yes/no"));
}

absl::StatusOr<RowConverter> RowConverter::Create(FileKind kind,
                                                  const std::vector<std::string>& header) {
  const std::vector<std::string>& columns = ColumnsOf(kind);
  std::vector<int> positions(columns.size(), -1);
  std::vector<std::string> problems;
  for (size_t i = 0; i < header.size(); ++i) {
    size_t column = 0;
    while (column < columns.size() && columns[column] != header[i]) ++column;
    if (column == columns.size()) {
      problems.push_back(absl::StrCat("unknown column \"", header[i], "\""));
    } else if (positions[column] >= 0) {
      problems.push_back(absl::StrCat("column \"", header[i], "\" appears twice"));
    } else {
      positions[column] = static_cast<int>(i);
    }
  }
  for (size_t column : RequiredColumns(kind)) {
    if (positions[column] < 0) {
      problems.push_back(absl::StrCat("missing column \"", columns[column], "\""));
    }
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(absl::StrJoin(problems, "; "), " (", FileKindName(kind),
                     " columns are: ", absl::StrJoin(columns, ","), ")"));
  }
  return RowConverter(kind, std::move(positions));
}

absl::string_view RowConverter::Value(const std::vector<std::string>& fields, size_t column) const {
  const int position = positions_[column];
  if (position < 0 || static_cast<size_t>(position) >= fields.size()) return "";
  return absl::StripAsciiWhitespace(fields[position]);
}

absl::StatusOr<v1::ImportItem> RowConverter::Convert(const std::vector<std::string>& fields) const {
  switch (kind_) {
    case FileKind::kRegions:
      return RegionItem(fields);
    case FileKind::kHouseholds:
      return HouseholdItem(fields);
    case FileKind::kResidents:
      return ResidentItem(fields);
    case FileKind::kStaff:
      break;
  }
  return StaffItem(fields);
}

absl::StatusOr<v1::ImportItem> RowConverter::RegionItem(
    const std::vector<std::string>& fields) const {
  v1::ImportItem item;
  v1::Region& region = *item.mutable_region();
  const absl::string_view code = Value(fields, kRegionCode);
  const absl::string_view name = Value(fields, kRegionName);
  if (absl::Status s = Required("code", code); !s.ok()) return s;
  if (absl::Status s = Required("name", name); !s.ok()) return s;
  absl::StatusOr<v1::RegionLevel> level = ParseEnum<v1::RegionLevel>(
      "level", Value(fields, kRegionLevel), "REGION_LEVEL_", v1::RegionLevel_Parse,
      "city, district, street, community, grid, micro_grid, building, unit");
  if (!level.ok()) return level.status();
  region.set_code(std::string(code));
  region.set_name(std::string(name));
  region.set_level(*level);
  region.set_parent_code(std::string(Value(fields, kRegionParentCode)));
  if (const absl::string_view boundary = Value(fields, kRegionBoundary); !boundary.empty()) {
    if (!IsGridLevel(*level)) {
      return Invalid("boundary", "only grids and micro-grids have a boundary");
    }
    if (absl::Status s = ParseBoundary("boundary", boundary, region); !s.ok()) return s;
  }
  if (const absl::string_view from = Value(fields, kRegionValidFrom); !from.empty()) {
    absl::StatusOr<google::protobuf::Timestamp> ts = ParseTimestamp("valid_from", from);
    if (!ts.ok()) return ts.status();
    *region.mutable_boundary_valid_from() = *ts;
  }
  return item;
}

absl::StatusOr<v1::ImportItem> RowConverter::HouseholdItem(
    const std::vector<std::string>& fields) const {
  v1::ImportItem item;
  v1::Household& household = *item.mutable_household();
  const absl::string_view code = Value(fields, kHouseholdCode);
  const absl::string_view region_code = Value(fields, kHouseholdRegionCode);
  if (absl::Status s = Required("code", code); !s.ok()) return s;
  if (absl::Status s = Required("region_code", region_code); !s.ok()) return s;
  household.set_code(std::string(code));
  household.set_region_code(std::string(region_code));
  household.set_address(std::string(Value(fields, kHouseholdAddress)));
  return item;
}

absl::StatusOr<v1::ImportItem> RowConverter::ResidentItem(
    const std::vector<std::string>& fields) const {
  v1::ImportItem item;
  v1::Resident& resident = *item.mutable_resident();
  const absl::string_view name = Value(fields, kResidentName);
  if (absl::Status s = Required("name", name); !s.ok()) return s;
  const absl::string_view id_number = Value(fields, kResidentIdNumber);
  const absl::string_view household_code = Value(fields, kResidentHouseholdCode);
  // Without either there is no natural key, and a re-run would create the person again.
  if (id_number.empty() && household_code.empty()) {
    return Invalid("id_number", "required when household_code is empty");
  }
  resident.set_name(std::string(name));
  if (const absl::string_view gender = Value(fields, kResidentGender); !gender.empty()) {
    absl::StatusOr<v1::Gender> g = ParseEnum<v1::Gender>("gender", gender, "GENDER_",
                                                         v1::Gender_Parse, "male, female or empty");
    if (!g.ok()) return g.status();
    resident.set_gender(*g);
  }
  if (const absl::string_view birth = Value(fields, kResidentBirthDate); !birth.empty()) {
    absl::CivilDay day;
    if (birth.size() != 10 || !absl::ParseCivilTime(birth, &day)) {
      return Invalid("birth_date", absl::StrCat("\"", birth, "\" is not a date YYYY-MM-DD"));
    }
    resident.set_birth_date(std::string(birth));
  }
  resident.set_id_number(std::string(id_number));
  resident.set_phone(std::string(Value(fields, kResidentPhone)));
  resident.set_household_code(std::string(household_code));
  resident.set_region_code(std::string(Value(fields, kResidentRegionCode)));
  for (absl::string_view tag : absl::StrSplit(Value(fields, kResidentTags), ';')) {
    tag = absl::StripAsciiWhitespace(tag);
    if (!tag.empty()) resident.add_tags(std::string(tag));
  }
  v1::Consent& consent = *resident.mutable_consent();
  // Consent is never assumed: an empty cell withholds it.
  absl::StatusOr<bool> contact =
      ParseBool("contact_by_phone", Value(fields, kResidentContactByPhone), false);
  if (!contact.ok()) return contact.status();
  absl::StatusOr<bool> share =
      ParseBool("share_with_volunteers", Value(fields, kResidentShareWithVolunteers), false);
  if (!share.ok()) return share.status();
  absl::StatusOr<bool> publish =
      ParseBool("publish_in_ledger", Value(fields, kResidentPublishInLedger), false);
  if (!publish.ok()) return publish.status();
  consent.set_contact_by_phone(*contact);
  consent.set_share_with_volunteers(*share);
  consent.set_publish_in_ledger(*publish);
  return item;
}

absl::StatusOr<v1::ImportItem> RowConverter::StaffItem(
    const std::vector<std::string>& fields) const {
  v1::ImportItem item;
  v1::AssignStaffRequest& staff = *item.mutable_staff();
  const absl::string_view region_code = Value(fields, kStaffRegionCode);
  const absl::string_view person_id = Value(fields, kStaffPersonId);
  const absl::string_view name = Value(fields, kStaffName);
  if (absl::Status s = Required("region_code", region_code); !s.ok()) return s;
  if (absl::Status s = Required("person_id", person_id); !s.ok()) return s;
  if (absl::Status s = Required("name", name); !s.ok()) return s;
  absl::StatusOr<v1::StaffRole> role = ParseEnum<v1::StaffRole>(
      "role", Value(fields, kStaffRole), "STAFF_ROLE_", v1::StaffRole_Parse,
      "supervisor, grid_leader, grid_leader_assistant, grid_worker, building_leader, "
      "co_manager, liaison, public_sentiment_liaison, region_leader");
  if (!role.ok()) return role.status();
  // A roster lists the people who serve; one marked off duty says so explicitly.
  absl::StatusOr<bool> on_duty = ParseBool("on_duty", Value(fields, kStaffOnDuty), true);
  if (!on_duty.ok()) return on_duty.status();
  staff.set_region_code(std::string(region_code));
  staff.set_person_id(std::string(person_id));
  staff.set_name(std::string(name));
  staff.set_role(*role);
  staff.set_on_duty(*on_duty);
  staff.set_phone(std::string(Value(fields, kStaffPhone)));
  staff.set_duty(std::string(Value(fields, kStaffDuty)));
  staff.set_department(std::string(Value(fields, kStaffDepartment)));
  if (const absl::string_view from = Value(fields, kStaffValidFrom); !from.empty()) {
    absl::StatusOr<google::protobuf::Timestamp> ts = ParseTimestamp("valid_from", from);
    if (!ts.ok()) return ts.status();
    *staff.mutable_valid_from() = *ts;
  }
  return item;
}

}  // namespace gridloop::gridctl
