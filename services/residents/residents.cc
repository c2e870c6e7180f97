#include "services/residents/residents.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/clock/proto_time.h"
#include "common/pii/cipher.h"
#include "common/pii/id_number.h"
#include "common/pii/masking.h"
#include "common/status/status_macros.h"
#include "google/protobuf/util/message_differencer.h"

namespace gridloop::residents {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;
constexpr int kMaxRegionCodeChars = 64;
constexpr int kMaxNameChars = 64;
constexpr int kMaxTextChars = 512;
constexpr int kMaxTags = 16;
constexpr int kCommitAttempts = 4;
constexpr int kMaxAncestors = 16;

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

std::string NewId(absl::string_view prefix) {
  return absl::StrCat(prefix, absl::BytesToHexString(pii::internal::RandomBytes(8)));
}

std::string Fingerprint(absl::string_view method, const google::protobuf::Message& req) {
  return absl::BytesToHexString(pii::internal::HmacSha256(
      "gridloop.residents.request", absl::StrCat(method, "\n", req.SerializeAsString())));
}

size_t Utf8Length(absl::string_view s) {
  size_t n = 0;
  for (char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  return n;
}

absl::Status CheckText(absl::string_view field, absl::string_view value, size_t max_chars,
                       bool required) {
  if (value.empty()) return required ? Invalid(field, "required") : absl::OkStatus();
  if (Utf8Length(value) > max_chars) {
    return Invalid(field, absl::StrCat("at most ", max_chars, " characters"));
  }
  for (char ch : value) {
    if (static_cast<unsigned char>(ch) < 0x20 && ch != '\n' && ch != '\t') {
      return Invalid(field, "control characters are not allowed");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckCode(absl::string_view field, absl::string_view code) {
  if (code.empty()) return Invalid(field, "required");
  if (code.size() > kMaxRegionCodeChars) {
    return Invalid(field, absl::StrCat("at most ", kMaxRegionCodeChars, " characters"));
  }
  for (absl::string_view seg : absl::StrSplit(code, '.')) {
    if (seg.empty()) return Invalid(field, "empty segment between '.'");
    for (char ch : seg) {
      if (!(absl::ascii_isalnum(ch) || ch == '-' || ch == '_')) {
        return Invalid(field, "segments of letters, digits, '-' and '_', separated by '.'");
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckId(absl::string_view field, absl::string_view id) {
  if (id.empty()) return Invalid(field, "required");
  if (id.size() > 64) return Invalid(field, "at most 64 characters");
  for (char ch : id) {
    if (!(absl::ascii_isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == ':')) {
      return Invalid(field, "letters, digits, '-', '_', '.' and ':' only");
    }
  }
  return absl::OkStatus();
}

// A published work number: a mainland mobile, or a landline with its area code
// ("0571-88886666").
absl::Status CheckWorkPhone(absl::string_view phone) {
  if (phone.empty() || pii::NormalizeMobile("phone", phone).ok()) return absl::OkStatus();
  std::string digits;
  for (char ch : phone) {
    if (absl::ascii_isdigit(ch)) {
      digits += ch;
    } else if (ch != '-' && ch != ' ') {
      return Invalid("phone", "a mobile number, or a landline with its area code");
    }
  }
  if (digits.size() < 10 || digits.size() > 12 || digits[0] != '0') {
    return Invalid("phone", "a mobile number, or a landline with its area code");
  }
  return absl::OkStatus();
}

absl::Status CheckRequestId(absl::string_view request_id) {
  return CheckId("request_id", request_id);
}

bool IsStaffRole(Role r) {
  return r == Role::kGridWorker || r == Role::kGridLeader || r == Role::kSupervisor ||
         r == Role::kOperator;
}

absl::Status MayChange(const Caller& c, absl::string_view region_code) {
  if (c.anonymous()) return absl::UnauthenticatedError("a caller identity is required");
  if (c.role == Role::kSystem) return absl::OkStatus();
  if (!IsStaffRole(c.role)) {
    return absl::PermissionDeniedError(
        absl::StrCat("role ", RoleName(c.role), " may not change the ledger"));
  }
  if (!c.ActsWithin(region_code)) {
    return absl::PermissionDeniedError(
        absl::StrCat("region ", region_code, " is outside the caller's scope"));
  }
  return absl::OkStatus();
}

absl::Status MayRead(const Caller& c, absl::string_view region_code, absl::string_view self) {
  if (c.anonymous()) return absl::UnauthenticatedError("a caller identity is required");
  if (c.role == Role::kSystem) return absl::OkStatus();
  if (c.role == Role::kResident) {
    if (!self.empty() && c.person_id == self) return absl::OkStatus();
    return absl::PermissionDeniedError("a resident may read only their own record");
  }
  if (!IsStaffRole(c.role) && c.role != Role::kDepartment && c.role != Role::kVolunteer) {
    return absl::PermissionDeniedError(
        absl::StrCat("role ", RoleName(c.role), " may not read residents"));
  }
  if (!c.ActsWithin(region_code)) {
    return absl::PermissionDeniedError(
        absl::StrCat("region ", region_code, " is outside the caller's scope"));
  }
  return absl::OkStatus();
}

bool MaySeeInFull(const Caller& c, absl::string_view region_code, absl::string_view self) {
  if (c.role == Role::kResident) return !self.empty() && c.person_id == self;
  return (c.role == Role::kGridWorker || c.role == Role::kGridLeader ||
          c.role == Role::kSupervisor) &&
         c.ActsWithin(region_code);
}

bool IsGridLevel(v1::RegionLevel l) {
  return l == v1::REGION_LEVEL_GRID || l == v1::REGION_LEVEL_MICRO_GRID;
}

std::string Member(absl::string_view region_code, absl::string_view id) {
  return absl::StrCat(region_code, ".|", id);
}

absl::StatusOr<int> PageSize(int requested) {
  if (requested < 0) return Invalid("page_size", "must not be negative");
  return requested == 0 ? kDefaultPageSize : std::min(requested, kMaxPageSize);
}

absl::StatusOr<std::string> DecodeToken(absl::string_view token) {
  std::string out;
  if (!absl::WebSafeBase64Unescape(token, &out) || out.empty()) {
    return Invalid("page_token", "not a token this service issued");
  }
  return out;
}

std::string EncodeToken(absl::string_view cursor) { return absl::WebSafeBase64Escape(cursor); }

template <typename M>
absl::StatusOr<M> Parse(absl::string_view bytes, absl::string_view what) {
  M m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat("residents: unreadable ", what));
  }
  return m;
}

bool Same(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

absl::Time TimeOr(const google::protobuf::Timestamp& ts, absl::Time fallback) {
  return ts.seconds() == 0 && ts.nanos() == 0 ? fallback : FromTimestamp(ts);
}

bool ActiveAt(const v1::StaffAssignment& s, absl::Time at) {
  if (FromTimestamp(s.valid_from()) > at) return false;
  return !s.has_valid_to() || at < FromTimestamp(s.valid_to());
}

// A grid's shape alone, to tell whether an import changes it.
std::string ShapeBytes(const v1::Region& r) {
  v1::Region shape;
  *shape.mutable_boundary() = r.boundary();
  *shape.mutable_holes() = r.holes();
  return shape.SerializeAsString();
}

// A boundary version as stored: the grid's region record at the time, with valid_to.
struct StoredBoundary {
  v1::Region region;
  absl::Time valid_to = absl::InfiniteFuture();
};

std::string EncodeBoundary(const v1::Region& r, absl::Time valid_to) {
  return absl::StrCat(
      valid_to == absl::InfiniteFuture() ? "" : absl::StrCat(absl::ToUnixMillis(valid_to)), "\n",
      r.SerializeAsString());
}

absl::StatusOr<StoredBoundary> DecodeBoundary(absl::string_view value) {
  const size_t nl = value.find('\n');
  if (nl == absl::string_view::npos) return absl::DataLossError("residents: bad boundary record");
  StoredBoundary b;
  int64_t ms = 0;
  if (nl > 0 && absl::SimpleAtoi(value.substr(0, nl), &ms)) b.valid_to = absl::FromUnixMillis(ms);
  ASSIGN_OR_RETURN(b.region, Parse<v1::Region>(value.substr(nl + 1), "boundary"));
  return b;
}

geo::Boundary ToGeo(const StoredBoundary& b, absl::string_view version_id) {
  geo::Boundary g;
  g.grid_code = b.region.code();
  g.version_id = std::string(version_id);
  std::vector<geo::LatLng> outer;
  for (const v1::LatLng& p : b.region.boundary()) outer.push_back({p.latitude(), p.longitude()});
  g.rings.push_back(std::move(outer));
  for (const v1::Ring& hole : b.region.holes()) {
    std::vector<geo::LatLng> ring;
    for (const v1::LatLng& p : hole.points()) ring.push_back({p.latitude(), p.longitude()});
    g.rings.push_back(std::move(ring));
  }
  g.valid_from = TimeOr(b.region.boundary_valid_from(), absl::InfinitePast());
  g.valid_to = b.valid_to;
  return g;
}

std::string VersionId(absl::string_view code, absl::Time valid_from) {
  return absl::StrCat(code, "@", absl::ToUnixMillis(valid_from));
}

// A commit that may meet a concurrent change: recompute and retry a few times.
template <typename Attempt>
auto Retrying(Attempt attempt) -> decltype(attempt()) {
  for (int i = 0; i < kCommitAttempts; ++i) {
    auto result = attempt();
    if (result.ok() || result.status().code() != absl::StatusCode::kAborted ||
        result.status().message() != "retry") {
      return result;
    }
  }
  return absl::AbortedError("the record changed concurrently; retry");
}

const absl::Status& Retry() {
  static const absl::Status* const s = new absl::Status(absl::AbortedError("retry"));
  return *s;
}

// The earlier result of a repeated request, or INVALID_ARGUMENT when the id was used for
// something else.
template <typename M>
absl::StatusOr<M> Replay(const Earlier& earlier, absl::string_view fingerprint) {
  if (earlier.fingerprint != fingerprint) {
    return Invalid("request_id", "already used for a different request");
  }
  return Parse<M>(earlier.result, "earlier result");
}

}  // namespace

Residents::Residents(LedgerStore* store, const pii::Keyring* keyring, const Clock* clock)
    : store_(store), keyring_(keyring), clock_(clock) {}

template <typename M>
absl::StatusOr<std::optional<M>> Residents::FirstResult(absl::string_view request_id,
                                                        absl::string_view fingerprint) {
  if (request_id.empty()) return std::optional<M>();
  ASSIGN_OR_RETURN(std::optional<Earlier> earlier, store_->FindEarlier(request_id));
  if (!earlier.has_value()) return std::optional<M>();
  ASSIGN_OR_RETURN(M first, Replay<M>(*earlier, fingerprint));
  return std::optional<M>(std::move(first));
}

template <typename M>
absl::StatusOr<M> Residents::CommitOr(Txn txn, M next, absl::string_view fingerprint) {
  ASSIGN_OR_RETURN(CommitResult res, store_->Commit(std::move(txn)));
  if (res.conflict) return Retry();
  if (res.earlier.has_value()) return Replay<M>(*res.earlier, fingerprint);
  return next;
}

template <typename M>
absl::StatusOr<Residents::Upserted<M>> Residents::CommitUpsert(Txn txn, M next, Outcome outcome,
                                                               absl::string_view fingerprint) {
  ASSIGN_OR_RETURN(CommitResult res, store_->Commit(std::move(txn)));
  if (res.conflict) return Retry();
  if (res.earlier.has_value()) {
    ASSIGN_OR_RETURN(M first, Replay<M>(*res.earlier, fingerprint));
    return Upserted<M>{std::move(first), Outcome::kUnchanged};
  }
  return Upserted<M>{std::move(next), outcome};
}

// ---------------------------------------------------------------------------------------
// Grid index

absl::Status Residents::LoadGrids() {
  absl::MutexLock lock(&geo_mu_);
  // Note the log's position first: changes made while loading are applied again after.
  ASSIGN_OR_RETURN(auto last,
                   store_->redis().Command({"XREVRANGE", keys::GeoLog(), "+", "-", "COUNT", "1"}));
  std::string seen = "0";
  if (!last.elements.empty() && !last.elements[0].elements.empty()) {
    seen = last.elements[0].elements[0].str;
  }
  ASSIGN_OR_RETURN(auto all, store_->HGetAll(keys::Boundaries()));
  for (const auto& [version_id, value] : all) {
    ASSIGN_OR_RETURN(StoredBoundary b, DecodeBoundary(value));
    RETURN_IF_ERROR(grids_.Upsert(ToGeo(b, version_id)));
  }
  geo_seen_ = seen;
  return absl::OkStatus();
}

absl::Status Residents::RefreshGrids() {
  absl::MutexLock lock(&geo_mu_);
  while (true) {
    ASSIGN_OR_RETURN(auto changes, store_->XRangeAfter(keys::GeoLog(), geo_seen_, "v", 500));
    if (changes.empty()) return absl::OkStatus();
    for (const auto& [entry_id, version_id] : changes) {
      ASSIGN_OR_RETURN(redis::Reply r,
                       store_->redis().Command({"HGET", keys::Boundaries(), version_id}));
      if (r.is_nil()) {
        grids_.Remove(version_id);
      } else {
        ASSIGN_OR_RETURN(StoredBoundary b, DecodeBoundary(r.str));
        RETURN_IF_ERROR(grids_.Upsert(ToGeo(b, version_id)));
      }
      geo_seen_ = entry_id;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Regions

absl::StatusOr<std::optional<v1::Region>> Residents::FindRegion(absl::string_view code) {
  ASSIGN_OR_RETURN(std::optional<std::string> bytes, store_->Get(keys::Region(code)));
  if (!bytes.has_value()) return std::optional<v1::Region>();
  ASSIGN_OR_RETURN(v1::Region r, Parse<v1::Region>(*bytes, "region"));
  return std::optional<v1::Region>(std::move(r));
}

absl::StatusOr<v1::Region> Residents::MustRegion(absl::string_view field, absl::string_view code) {
  RETURN_IF_ERROR(CheckCode(field, code));
  ASSIGN_OR_RETURN(std::optional<v1::Region> r, FindRegion(code));
  if (!r.has_value()) return absl::NotFoundError(absl::StrCat("region ", code, " not found"));
  return *std::move(r);
}

absl::StatusOr<std::vector<v1::Region>> Residents::Ancestors(const v1::Region& region) {
  std::vector<v1::Region> chain;
  std::string parent = region.parent_code();
  while (!parent.empty() && static_cast<int>(chain.size()) < kMaxAncestors) {
    ASSIGN_OR_RETURN(std::optional<v1::Region> p, FindRegion(parent));
    if (!p.has_value()) break;  // a parent deleted under a child cannot happen; be lenient
    parent = p->parent_code();
    chain.push_back(*std::move(p));
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

absl::StatusOr<std::optional<v1::Region>> Residents::GridOf(const v1::Region& region) {
  if (region.level() == v1::REGION_LEVEL_GRID) return std::optional<v1::Region>(region);
  if (region.level() < v1::REGION_LEVEL_GRID) return std::optional<v1::Region>();
  ASSIGN_OR_RETURN(std::vector<v1::Region> up, Ancestors(region));
  for (const v1::Region& r : std::vector<v1::Region>(up.rbegin(), up.rend())) {
    if (r.level() == v1::REGION_LEVEL_GRID) return std::optional<v1::Region>(r);
  }
  return std::optional<v1::Region>();
}

absl::StatusOr<v1::Region> Residents::CreateRegion(const v1::CreateRegionRequest& req,
                                                   const Caller& c) {
  RETURN_IF_ERROR(CheckRequestId(req.request_id()));
  ASSIGN_OR_RETURN(Upserted<v1::Region> up,
                   UpsertRegion(req.region(), req.request_id(), c, /*upsert=*/false));
  return up.record;
}

absl::StatusOr<Residents::Upserted<v1::Region>> Residents::UpsertRegion(
    const v1::Region& in, absl::string_view request_id, const Caller& c, bool upsert) {
  RETURN_IF_ERROR(CheckCode("region.code", in.code()));
  RETURN_IF_ERROR(CheckText("region.name", in.name(), kMaxNameChars, true));
  if (!v1::RegionLevel_IsValid(in.level()) || in.level() == v1::REGION_LEVEL_UNSPECIFIED) {
    return Invalid("region.level",
                   "required: city, district, street, community, grid, "
                   "micro_grid, building or unit");
  }
  if (!in.boundary().empty() && !IsGridLevel(in.level())) {
    return Invalid("region.boundary", "only grids and micro-grids have a boundary");
  }
  RETURN_IF_ERROR(MayChange(c, in.code()));
  v1::CreateRegionRequest as_request;
  as_request.set_request_id(std::string(request_id));
  *as_request.mutable_region() = in;
  const std::string fingerprint = Fingerprint("CreateRegion", as_request);

  std::optional<v1::Region> parent;
  if (!in.parent_code().empty()) {
    RETURN_IF_ERROR(CheckCode("region.parent_code", in.parent_code()));
    if (!absl::StartsWith(in.code(), absl::StrCat(in.parent_code(), ".")) ||
        in.code().find('.', in.parent_code().size() + 1) != std::string::npos) {
      return Invalid("region.code", "must be parent_code, '.', and one more segment");
    }
    ASSIGN_OR_RETURN(parent, FindRegion(in.parent_code()));
    if (!parent.has_value()) {
      return Invalid("region.parent_code", absl::StrCat("no region ", in.parent_code()));
    }
    if (parent->level() >= in.level()) {
      return Invalid("region.level", "must be below the parent's level");
    }
  }
  const absl::Time now = clock_->Now();
  geo::Boundary boundary;
  if (!in.boundary().empty()) {
    StoredBoundary sb{in, absl::InfiniteFuture()};
    sb.region.set_code(in.code());
    boundary = ToGeo(sb, VersionId(in.code(), TimeOr(in.boundary_valid_from(), now)));
    boundary.valid_from = TimeOr(in.boundary_valid_from(), now);
    RETURN_IF_ERROR(geo::ValidateBoundary(boundary));
  }

  return Retrying([&]() -> absl::StatusOr<Upserted<v1::Region>> {
    if (!request_id.empty()) {
      ASSIGN_OR_RETURN(std::optional<v1::Region> earlier,
                       FirstResult<v1::Region>(request_id, fingerprint));
      if (earlier.has_value()) {
        return Upserted<v1::Region>{*std::move(earlier), Outcome::kUnchanged};
      }
    }
    ASSIGN_OR_RETURN(std::optional<std::string> cur_bytes, store_->Get(keys::Region(in.code())));
    if (cur_bytes.has_value()) {
      ASSIGN_OR_RETURN(v1::Region cur, Parse<v1::Region>(*cur_bytes, "region"));
      if (cur.level() != in.level() || cur.parent_code() != in.parent_code()) {
        return absl::AlreadyExistsError(
            absl::StrCat("region ", in.code(), " exists with another level or parent"));
      }
      if (!upsert) {
        return absl::AlreadyExistsError(absl::StrCat("region ", in.code(), " exists"));
      }
      const bool same_boundary = in.boundary().empty() || ShapeBytes(cur) == ShapeBytes(in);
      if (cur.name() == in.name() && same_boundary) {
        return Upserted<v1::Region>{std::move(cur), Outcome::kUnchanged};
      }
      v1::Region next = cur;
      next.set_name(in.name());
      next.set_version(cur.version() + 1);
      *next.mutable_updated_at() = ToTimestamp(now);
      if (!same_boundary) {
        ASSIGN_OR_RETURN(
            next, WriteBoundary(next, in.boundary(), in.holes(),
                                TimeOr(in.boundary_valid_from(), now), request_id, fingerprint));
        return Upserted<v1::Region>{std::move(next), Outcome::kUpdated};
      }
      Txn txn;
      txn.Equals(keys::Region(in.code()), *cur_bytes)
          .Set(keys::Region(in.code()), next.SerializeAsString())
          .Request(request_id, fingerprint, next.SerializeAsString());
      return CommitUpsert<v1::Region>(std::move(txn), std::move(next), Outcome::kUpdated,
                                      fingerprint);
    }
    v1::Region next = in;
    next.set_version(1);
    *next.mutable_created_at() = ToTimestamp(now);
    *next.mutable_updated_at() = ToTimestamp(now);
    Txn txn;
    txn.Absent(keys::Region(in.code()));
    if (parent.has_value()) txn.Present(keys::Region(in.parent_code()));
    if (!in.boundary().empty()) {
      *next.mutable_boundary_valid_from() = ToTimestamp(boundary.valid_from);
      txn.HSet(keys::Boundaries(), boundary.version_id,
               EncodeBoundary(next, absl::InfiniteFuture()))
          .SAdd(keys::GridVersions(in.code()), boundary.version_id)
          .XAdd(keys::GeoLog(), "v", boundary.version_id);
    }
    txn.Set(keys::Region(in.code()), next.SerializeAsString())
        .ZAdd(keys::Children(in.parent_code()), in.code())
        .Request(request_id, fingerprint, next.SerializeAsString());
    ASSIGN_OR_RETURN(CommitResult res, store_->Commit(std::move(txn)));
    if (res.conflict) return Retry();
    if (res.earlier.has_value()) {
      ASSIGN_OR_RETURN(v1::Region r, Replay<v1::Region>(*res.earlier, fingerprint));
      return Upserted<v1::Region>{std::move(r), Outcome::kUnchanged};
    }
    if (!in.boundary().empty()) RETURN_IF_ERROR(RefreshGrids());
    return Upserted<v1::Region>{std::move(next), Outcome::kCreated};
  });
}

absl::StatusOr<v1::Region> Residents::WriteBoundary(
    const v1::Region& current, const google::protobuf::RepeatedPtrField<v1::LatLng>& boundary,
    const google::protobuf::RepeatedPtrField<v1::Ring>& holes, absl::Time valid_from,
    absl::string_view request_id, absl::string_view fingerprint) {
  ASSIGN_OR_RETURN(std::optional<std::string> cur_bytes, store_->Get(keys::Region(current.code())));
  if (!cur_bytes.has_value()) {
    return absl::NotFoundError(absl::StrCat("region ", current.code(), " not found"));
  }
  ASSIGN_OR_RETURN(v1::Region stored, Parse<v1::Region>(*cur_bytes, "region"));
  v1::Region next = current;
  *next.mutable_boundary() = boundary;
  *next.mutable_holes() = holes;
  *next.mutable_boundary_valid_from() = ToTimestamp(valid_from);
  next.set_version(stored.version() + 1);
  *next.mutable_updated_at() = ToTimestamp(clock_->Now());
  const std::string version_id = VersionId(next.code(), valid_from);
  geo::Boundary g = ToGeo(StoredBoundary{next, absl::InfiniteFuture()}, version_id);
  RETURN_IF_ERROR(geo::ValidateBoundary(g));

  Txn txn;
  txn.Equals(keys::Region(next.code()), *cur_bytes);
  if (!stored.boundary().empty()) {
    const absl::Time old_from = TimeOr(stored.boundary_valid_from(), absl::InfinitePast());
    if (valid_from <= old_from) {
      return Invalid("valid_from", "must be after the current boundary's valid_from");
    }
    const std::string old_id = VersionId(stored.code(), old_from);
    txn.HSet(keys::Boundaries(), old_id, EncodeBoundary(stored, valid_from))
        .XAdd(keys::GeoLog(), "v", old_id);
  }
  txn.HSet(keys::Boundaries(), version_id, EncodeBoundary(next, absl::InfiniteFuture()))
      .SAdd(keys::GridVersions(next.code()), version_id)
      .XAdd(keys::GeoLog(), "v", version_id)
      .Set(keys::Region(next.code()), next.SerializeAsString())
      .Request(request_id, fingerprint, next.SerializeAsString());
  ASSIGN_OR_RETURN(CommitResult res, store_->Commit(std::move(txn)));
  if (res.conflict) return Retry();
  if (res.earlier.has_value()) return Replay<v1::Region>(*res.earlier, fingerprint);
  RETURN_IF_ERROR(RefreshGrids());
  return next;
}

absl::StatusOr<v1::Region> Residents::GetRegion(absl::string_view code) {
  return MustRegion("code", code);
}

absl::StatusOr<v1::Region> Residents::UpdateRegion(const v1::UpdateRegionRequest& req,
                                                   const Caller& c) {
  RETURN_IF_ERROR(CheckRequestId(req.request_id()));
  RETURN_IF_ERROR(CheckCode("code", req.code()));
  RETURN_IF_ERROR(CheckText("name", req.name(), kMaxNameChars, true));
  if (req.expected_version() < 0) return Invalid("expected_version", "must not be negative");
  RETURN_IF_ERROR(MayChange(c, req.code()));
  const std::string fingerprint = Fingerprint("UpdateRegion", req);
  return Retrying([&]() -> absl::StatusOr<v1::Region> {
    ASSIGN_OR_RETURN(std::optional<v1::Region> earlier,
                     FirstResult<v1::Region>(req.request_id(), fingerprint));
    if (earlier.has_value()) return *std::move(earlier);
    ASSIGN_OR_RETURN(std::optional<std::string> bytes, store_->Get(keys::Region(req.code())));
    if (!bytes.has_value()) return absl::NotFoundError(absl::StrCat("region ", req.code()));
    ASSIGN_OR_RETURN(v1::Region next, Parse<v1::Region>(*bytes, "region"));
    if (req.expected_version() != 0 && req.expected_version() != next.version()) {
      return absl::AbortedError(absl::StrCat("region ", req.code(), " is at version ",
                                             next.version(), ", not ", req.expected_version()));
    }
    next.set_name(req.name());
    next.set_version(next.version() + 1);
    *next.mutable_updated_at() = ToTimestamp(clock_->Now());
    Txn txn;
    txn.Equals(keys::Region(req.code()), *bytes)
        .Set(keys::Region(req.code()), next.SerializeAsString())
        .Request(req.request_id(), fingerprint, next.SerializeAsString());
    return CommitOr<v1::Region>(std::move(txn), std::move(next), fingerprint);
  });
}

absl::StatusOr<v1::Region> Residents::SetGridBoundary(const v1::SetGridBoundaryRequest& req,
                                                      const Caller& c) {
  RETURN_IF_ERROR(CheckRequestId(req.request_id()));
  ASSIGN_OR_RETURN(v1::Region region, MustRegion("code", req.code()));
  if (!IsGridLevel(region.level())) return Invalid("code", "not a grid or micro-grid");
  if (req.boundary().empty()) return Invalid("boundary", "required");
  if (req.expected_version() < 0) return Invalid("expected_version", "must not be negative");
  RETURN_IF_ERROR(MayChange(c, req.code()));
  const std::string fingerprint = Fingerprint("SetGridBoundary", req);
  return Retrying([&]() -> absl::StatusOr<v1::Region> {
    ASSIGN_OR_RETURN(std::optional<v1::Region> earlier,
                     FirstResult<v1::Region>(req.request_id(), fingerprint));
    if (earlier.has_value()) return *std::move(earlier);
    ASSIGN_OR_RETURN(v1::Region cur, MustRegion("code", req.code()));
    if (req.expected_version() != 0 && req.expected_version() != cur.version()) {
      return absl::AbortedError(absl::StrCat("region ", req.code(), " is at version ",
                                             cur.version(), ", not ", req.expected_version()));
    }
    return WriteBoundary(cur, req.boundary(), req.holes(), TimeOr(req.valid_from(), clock_->Now()),
                         req.request_id(), fingerprint);
  });
}

absl::StatusOr<v1::DeleteRegionResponse> Residents::DeleteRegion(const v1::DeleteRegionRequest& req,
                                                                 const Caller& c) {
  RETURN_IF_ERROR(CheckRequestId(req.request_id()));
  RETURN_IF_ERROR(CheckCode("code", req.code()));
  RETURN_IF_ERROR(MayChange(c, req.code()));
  const std::string fingerprint = Fingerprint("DeleteRegion", req);
  v1::DeleteRegionResponse resp;
  resp.set_code(req.code());
  return Retrying([&]() -> absl::StatusOr<v1::DeleteRegionResponse> {
    ASSIGN_OR_RETURN(std::optional<v1::DeleteRegionResponse> earlier,
                     FirstResult<v1::DeleteRegionResponse>(req.request_id(), fingerprint));
    if (earlier.has_value()) return *std::move(earlier);
    ASSIGN_OR_RETURN(std::optional<std::string> bytes, store_->Get(keys::Region(req.code())));
    if (!bytes.has_value()) return absl::NotFoundError(absl::StrCat("region ", req.code()));
    ASSIGN_OR_RETURN(v1::Region cur, Parse<v1::Region>(*bytes, "region"));
    ASSIGN_OR_RETURN(auto children, store_->RangeByLex(keys::Children(req.code()), "-", "+", 1));
    if (!children.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("region ", req.code(), " has child regions; delete them first"));
    }
    ASSIGN_OR_RETURN(auto people,
                     store_->RangeByLex(keys::ByRegion(), absl::StrCat("[", req.code(), ".|"),
                                        absl::StrCat("[", req.code(), ".|\xff"), 1));
    ASSIGN_OR_RETURN(int64_t households, store_->SCard(keys::GridHouseholds(req.code())));
    ASSIGN_OR_RETURN(int64_t staff, store_->SCard(keys::RegionStaff(req.code())));
    if (!people.empty() || households > 0 || staff > 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("region ", req.code(), " still has residents, households or staff records"));
    }
    Txn txn;
    txn.Equals(keys::Region(req.code()), *bytes)
        .Del(keys::Region(req.code()))
        .ZRem(keys::Children(cur.parent_code()), req.code());
    // Its boundary history goes too: nothing can be attributed to a grid that is gone.
    ASSIGN_OR_RETURN(std::vector<std::string> versions,
                     store_->SMembers(keys::GridVersions(req.code())));
    for (const std::string& version_id : versions) {
      txn.HDel(keys::Boundaries(), version_id).XAdd(keys::GeoLog(), "v", version_id);
    }
    txn.Del(keys::GridVersions(req.code()));
    txn.Request(req.request_id(), fingerprint, resp.SerializeAsString());
    ASSIGN_OR_RETURN(CommitResult res, store_->Commit(std::move(txn)));
    if (res.conflict) return Retry();
    if (res.earlier.has_value()) {
      return Replay<v1::DeleteRegionResponse>(*res.earlier, fingerprint);
    }
    RETURN_IF_ERROR(RefreshGrids());
    return resp;
  });
}

absl::StatusOr<v1::ListChildrenResponse> Residents::ListChildren(
    const v1::ListChildrenRequest& req) {
  if (!req.code().empty()) RETURN_IF_ERROR(MustRegion("code", req.code()).status());
  ASSIGN_OR_RETURN(int size, PageSize(req.page_size()));
  std::string min = "-";
  if (!req.page_token().empty()) {
    ASSIGN_OR_RETURN(std::string after, DecodeToken(req.page_token()));
    min = absl::StrCat("(", after);
  }
  ASSIGN_OR_RETURN(auto codes, store_->RangeByLex(keys::Children(req.code()), min, "+", size + 1));
  v1::ListChildrenResponse resp;
  const bool more = static_cast<int>(codes.size()) > size;
  if (more) codes.resize(size);
  std::vector<std::string> ks;
  ks.reserve(codes.size());
  for (const std::string& code : codes) ks.push_back(keys::Region(code));
  ASSIGN_OR_RETURN(auto values, store_->MGet(std::move(ks)));
  for (const auto& v : values) {
    if (!v.has_value()) continue;
    ASSIGN_OR_RETURN(*resp.add_regions(), Parse<v1::Region>(*v, "region"));
  }
  if (more && !codes.empty()) resp.set_next_page_token(EncodeToken(codes.back()));
  return resp;
}

absl::StatusOr<v1::ListAncestorsResponse> Residents::ListAncestors(
    const v1::ListAncestorsRequest& req) {
  ASSIGN_OR_RETURN(v1::Region region, MustRegion("code", req.code()));
  ASSIGN_OR_RETURN(std::vector<v1::Region> chain, Ancestors(region));
  v1::ListAncestorsResponse resp;
  for (v1::Region& r : chain) *resp.add_regions() = std::move(r);
  return resp;
}

absl::StatusOr<v1::LocateGridResponse> Residents::LocateGrid(const v1::LocateGridRequest& req) {
  if (!req.has_location()) return Invalid("location", "required");
  const double lat = req.location().latitude();
  const double lng = req.location().longitude();
  if (!(lat >= -90 && lat <= 90)) return Invalid("location.latitude", "must be within -90..90");
  if (!(lng >= -180 && lng <= 180)) {
    return Invalid("location.longitude", "must be within -180..180");
  }
  const absl::Time at = TimeOr(req.at(), clock_->Now());
  std::optional<geo::Located> found = grids_.LocateCell(lat, lng, at);
  if (!found.has_value()) {
    return absl::NotFoundError(absl::StrCat("no grid covers ", lat, ",", lng));
  }
  v1::LocateGridResponse resp;
  ASSIGN_OR_RETURN(std::optional<v1::Region> region, FindRegion(found->grid_code));
  if (!region.has_value()) {
    return absl::NotFoundError(absl::StrCat("grid ", found->grid_code, " is gone"));
  }
  *resp.mutable_region() = *std::move(region);
  if (found->cell_id != 0) {
    resp.set_cell_id(found->cell_id);
    *resp.mutable_cell_valid_until() = ToTimestamp(found->until);
  }
  return resp;
}

absl::StatusOr<v1::GridPublication> Residents::GetGridPublication(
    const v1::GetGridPublicationRequest& req) {
  ASSIGN_OR_RETURN(v1::Region grid, MustRegion("code", req.code()));
  if (!IsGridLevel(grid.level())) return Invalid("code", "not a grid or micro-grid");
  v1::GridPublication pub;
  ASSIGN_OR_RETURN(std::vector<v1::StaffAssignment> staff, StaffOf(grid.code()));
  const absl::Time now = clock_->Now();
  for (v1::StaffAssignment& s : staff) {
    if (ActiveAt(s, now)) *pub.add_staff() = std::move(s);
  }
  ASSIGN_OR_RETURN(int64_t households, store_->SCard(keys::GridHouseholds(grid.code())));
  pub.set_household_count(households);
  *pub.mutable_grid() = std::move(grid);
  return pub;
}

// ---------------------------------------------------------------------------------------
// Households

absl::StatusOr<std::optional<v1::Household>> Residents::FindHousehold(absl::string_view id) {
  ASSIGN_OR_RETURN(std::optional<std::string> bytes, store_->Get(keys::Household(id)));
  if (!bytes.has_value()) return std::optional<v1::Household>();
  ASSIGN_OR_RETURN(v1::Household h, Parse<v1::Household>(*bytes, "household"));
  return std::optional<v1::Household>(std::move(h));
}

absl::StatusOr<v1::Household> Residents::CreateHousehold(const v1::CreateHouseholdRequest& req,
                                                         const Caller& c) {
  RETURN_IF_ERROR(CheckRequestId(req.request_id()));
  ASSIGN_OR_RETURN(
      Upserted<v1::Household> up,
      UpsertHousehold(req.household(), req.request_id(), Fingerprint("CreateHousehold", req), c));
  return up.record;
}

absl::StatusOr<Residents::Upserted<v1::Household>> Residents::UpsertHousehold(
    const v1::Household& in, absl::string_view request_id, absl::string_view fingerprint,
    const Caller& c) {
  RETURN_IF_ERROR(CheckId("household.code", in.code()));
  RETURN_IF_ERROR(CheckText("household.address", in.address(), kMaxTextChars, false));
  ASSIGN_OR_RETURN(v1::Region region, MustRegion("household.region_code", in.region_code()));
  ASSIGN_OR_RETURN(std::optional<v1::Region> grid, GridOf(region));
  if (!grid.has_value()) {
    return Invalid("household.region_code", "must be a grid or lie inside one");
  }
  RETURN_IF_ERROR(MayChange(c, region.code()));
  const bool is_import = request_id.empty();
  return Retrying([&]() -> absl::StatusOr<Upserted<v1::Household>> {
    if (!is_import) {
      ASSIGN_OR_RETURN(std::optional<v1::Household> earlier,
                       FirstResult<v1::Household>(request_id, fingerprint));
      if (earlier.has_value()) {
        return Upserted<v1::Household>{*std::move(earlier), Outcome::kUnchanged};
      }
    }
    ASSIGN_OR_RETURN(std::optional<std::string> existing_id,
                     store_->Get(keys::HouseholdCode(in.code())));
    const absl::Time now = clock_->Now();
    if (existing_id.has_value()) {
      if (!is_import) {
        return absl::AlreadyExistsError(absl::StrCat("household ", in.code(), " exists"));
      }
      ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                       store_->Get(keys::Household(*existing_id)));
      if (!bytes.has_value()) return Retry();
      ASSIGN_OR_RETURN(v1::Household cur, Parse<v1::Household>(*bytes, "household"));
      if (cur.region_code() == in.region_code() && cur.address() == in.address()) {
        return Upserted<v1::Household>{std::move(cur), Outcome::kUnchanged};
      }
      v1::Household next = cur;
      next.set_region_code(in.region_code());
      next.set_grid_code(grid->code());
      next.set_address(in.address());
      next.set_version(cur.version() + 1);
      *next.mutable_updated_at() = ToTimestamp(now);
      Txn txn;
      txn.Equals(keys::Household(cur.id()), *bytes)
          .Set(keys::Household(cur.id()), next.SerializeAsString())
          .SRem(keys::GridHouseholds(cur.grid_code()), cur.id())
          .SAdd(keys::GridHouseholds(next.grid_code()), cur.id());
      ASSIGN_OR_RETURN(CommitResult res, store_->Commit(std::move(txn)));
      if (res.conflict) return Retry();
      return Upserted<v1::Household>{std::move(next), Outcome::kUpdated};
    }
    v1::Household next;
    next.set_id(NewId("hh-"));
    next.set_code(in.code());
    next.set_region_code(in.region_code());
    next.set_grid_code(grid->code());
    next.set_address(in.address());
    next.set_version(1);
    *next.mutable_created_at() = ToTimestamp(now);
    *next.mutable_updated_at() = ToTimestamp(now);
    Txn txn;
    txn.Absent(keys::HouseholdCode(in.code()))
        .Present(keys::Region(in.region_code()))
        .Set(keys::Household(next.id()), next.SerializeAsString())
        .Set(keys::HouseholdCode(in.code()), next.id())
        .SAdd(keys::GridHouseholds(grid->code()), next.id())
        .Request(request_id, fingerprint, next.SerializeAsString());
    return CommitUpsert<v1::Household>(std::move(txn), std::move(next), Outcome::kCreated,
                                       fingerprint);
  });
}

absl::StatusOr<v1::Household> Residents::GetHousehold(const v1::GetHouseholdRequest& req,
                                                      const Caller& c) {
  RETURN_IF_ERROR(CheckId("id", req.id()));
  ASSIGN_OR_RETURN(std::optional<v1::Household> h, FindHousehold(req.id()));
  if (!h.has_value()) return absl::NotFoundError(absl::StrCat("household ", req.id()));
  RETURN_IF_ERROR(MayRead(c, h->region_code(), ""));
  return *std::move(h);
}

// ---------------------------------------------------------------------------------------
// Residents

namespace {

std::string IdNumberAd(absl::string_view id) { return absl::StrCat("resident/", id, "/id_number"); }
std::string PhoneAd(absl::string_view id) { return absl::StrCat("resident/", id, "/phone"); }

bool LooksMasked(absl::string_view value) { return absl::StrContains(value, '*'); }

absl::Status CheckTag(absl::string_view tag) {
  if (tag.empty() || tag.size() > 32) return Invalid("resident.tags", "1..32 characters each");
  for (char ch : tag) {
    if (!(absl::ascii_islower(ch) || absl::ascii_isdigit(ch) || ch == '_')) {
      return Invalid("resident.tags", absl::StrCat("\"", tag, "\": lower snake case only"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::optional<v1::Resident>> Residents::FindStored(absl::string_view id) {
  ASSIGN_OR_RETURN(std::optional<std::string> bytes, store_->Get(keys::Resident(id)));
  if (!bytes.has_value()) return std::optional<v1::Resident>();
  ASSIGN_OR_RETURN(v1::Resident r, Parse<v1::Resident>(*bytes, "resident"));
  return std::optional<v1::Resident>(std::move(r));
}

absl::StatusOr<Residents::PlainResident> Residents::Normalize(const v1::Resident& in,
                                                              absl::string_view id,
                                                              const PlainResident* previous) {
  RETURN_IF_ERROR(CheckText("resident.name", in.name(), kMaxNameChars, true));
  v1::Resident out;
  out.set_id(std::string(id));
  out.set_name(in.name());
  if (!v1::Gender_IsValid(in.gender())) return Invalid("resident.gender", "unknown value");
  out.set_gender(in.gender());
  out.set_birth_date(in.birth_date());
  const absl::Time now = clock_->Now();

  // ID-card number: a masked value (as a read returned it) keeps the stored one.
  std::string id_number;
  if (previous != nullptr && LooksMasked(in.id_number())) {
    id_number = previous->id_number;
  } else if (!in.id_number().empty()) {
    ASSIGN_OR_RETURN(id_number, pii::NormalizeIdNumber("resident.id_number", in.id_number(), now));
  }
  if (!id_number.empty()) {
    const absl::CivilDay born = pii::BirthDateOf(id_number);
    const std::string born_text = absl::FormatCivilTime(born);
    if (!in.birth_date().empty() && in.birth_date() != born_text) {
      return Invalid("resident.birth_date", "does not match the ID-card number");
    }
    out.set_birth_date(born_text);
    const v1::Gender g =
        pii::GenderOf(id_number) == pii::Gender::kMale ? v1::GENDER_MALE : v1::GENDER_FEMALE;
    if (in.gender() != v1::GENDER_UNSPECIFIED && in.gender() != g) {
      return Invalid("resident.gender", "does not match the ID-card number");
    }
    out.set_gender(g);
  } else if (!out.birth_date().empty()) {
    absl::CivilDay day;
    if (!absl::ParseCivilTime(out.birth_date(), &day) ||
        absl::FormatCivilTime(day) != out.birth_date()) {
      return Invalid("resident.birth_date", "must be YYYY-MM-DD");
    }
  }

  std::string phone;
  if (previous != nullptr && LooksMasked(in.phone())) {
    phone = previous->phone;
  } else if (!in.phone().empty()) {
    ASSIGN_OR_RETURN(phone, pii::NormalizeMobile("resident.phone", in.phone()));
  }

  // Household: by id, or by its code.
  if (!in.household_id().empty() || !in.household_code().empty()) {
    std::string household_id = in.household_id();
    if (household_id.empty()) {
      RETURN_IF_ERROR(CheckId("resident.household_code", in.household_code()));
      ASSIGN_OR_RETURN(std::optional<std::string> hid,
                       store_->Get(keys::HouseholdCode(in.household_code())));
      if (!hid.has_value()) {
        return Invalid("resident.household_code",
                       absl::StrCat("no household ", in.household_code()));
      }
      household_id = *hid;
    }
    RETURN_IF_ERROR(CheckId("resident.household_id", household_id));
    ASSIGN_OR_RETURN(std::optional<v1::Household> h, FindHousehold(household_id));
    if (!h.has_value()) {
      return Invalid("resident.household_id", absl::StrCat("no household ", household_id));
    }
    out.set_household_id(h->id());
    out.set_household_code(h->code());
    if (in.region_code().empty()) out.set_region_code(h->region_code());
  }
  if (!in.region_code().empty()) out.set_region_code(in.region_code());
  if (out.region_code().empty()) return Invalid("resident.region_code", "required");
  RETURN_IF_ERROR(MustRegion("resident.region_code", out.region_code()).status());

  std::set<std::string> tags;
  for (const std::string& t : in.tags()) {
    RETURN_IF_ERROR(CheckTag(t));
    tags.insert(t);
  }
  if (static_cast<int>(tags.size()) > kMaxTags) {
    return Invalid("resident.tags", absl::StrCat("at most ", kMaxTags));
  }
  for (const std::string& t : tags) out.add_tags(t);
  *out.mutable_consent() = in.consent();
  return PlainResident{std::move(out), std::move(id_number), std::move(phone)};
}

absl::StatusOr<Residents::PlainResident> Residents::Unseal(const v1::Resident& stored) const {
  PlainResident plain{stored, "", ""};
  if (!stored.id_number().empty()) {
    ASSIGN_OR_RETURN(plain.id_number,
                     keyring_->Decrypt(stored.id_number(), IdNumberAd(stored.id())));
  }
  if (!stored.phone().empty()) {
    ASSIGN_OR_RETURN(plain.phone, keyring_->Decrypt(stored.phone(), PhoneAd(stored.id())));
  }
  plain.record.clear_id_number();
  plain.record.clear_phone();
  return plain;
}

absl::StatusOr<std::optional<std::string>> Residents::ResidentByKey(const v1::Resident& in) {
  if (!in.id_number().empty()) {
    ASSIGN_OR_RETURN(std::string idn,
                     pii::NormalizeIdNumber("resident.id_number", in.id_number(), clock_->Now()));
    return store_->Get(keys::IdNumberIndex(keyring_->BlindIndex("id_number", idn)));
  }
  std::string household_id = in.household_id();
  if (household_id.empty() && !in.household_code().empty()) {
    ASSIGN_OR_RETURN(std::optional<std::string> hid,
                     store_->Get(keys::HouseholdCode(in.household_code())));
    if (!hid.has_value()) return std::optional<std::string>();
    household_id = *hid;
  }
  if (household_id.empty()) {
    return Invalid("resident", "an import needs id_number, or household_code and name");
  }
  ASSIGN_OR_RETURN(std::vector<std::string> members,
                   store_->SMembers(keys::HouseholdMembers(household_id)));
  for (const std::string& id : members) {
    ASSIGN_OR_RETURN(std::optional<v1::Resident> r, FindStored(id));
    if (r.has_value() && r->name() == in.name() && r->id_number().empty()) {
      return std::optional<std::string>(id);
    }
  }
  return std::optional<std::string>();
}

absl::StatusOr<Residents::Upserted<v1::Resident>> Residents::WriteResident(
    const v1::Resident& in, const std::optional<v1::Resident>& prev, absl::string_view request_id,
    absl::string_view fingerprint, int64_t expected_version, const Caller& c) {
  const std::string id = prev.has_value() ? prev->id() : NewId("r-");
  std::optional<PlainResident> before;
  if (prev.has_value()) {
    // A stale version is refused even when the change would leave the record as it is.
    if (expected_version != 0 && expected_version != prev->version()) {
      return absl::AbortedError(absl::StrCat("resident ", id, " is at version ", prev->version(),
                                             ", not ", expected_version));
    }
    ASSIGN_OR_RETURN(before, Unseal(*prev));
  }
  ASSIGN_OR_RETURN(PlainResident after, Normalize(in, id, before.has_value() ? &*before : nullptr));
  v1::Resident& next = after.record;
  RETURN_IF_ERROR(MayChange(c, next.region_code()));
  if (prev.has_value()) RETURN_IF_ERROR(MayChange(c, prev->region_code()));
  const absl::Time now = clock_->Now();
  const std::string& idn = after.id_number;
  const std::string& phone = after.phone;
  const std::string old_idn = before.has_value() ? before->id_number : "";
  const std::string old_phone = before.has_value() ? before->phone : "";
  if (prev.has_value()) {
    v1::Resident b = before->record;
    b.clear_version();
    b.clear_created_at();
    b.clear_updated_at();
    b.clear_personal_data_masked();
    if (Same(next, b) && idn == old_idn && phone == old_phone) {
      return Upserted<v1::Resident>{*prev, Outcome::kUnchanged};
    }
    next.set_version(prev->version() + 1);
    *next.mutable_created_at() = prev->created_at();
  } else {
    next.set_version(1);
    *next.mutable_created_at() = ToTimestamp(now);
  }
  // Sealed only now, when there is something to write: a fresh nonce, the active key.
  if (!idn.empty()) {
    ASSIGN_OR_RETURN(*next.mutable_id_number(), keyring_->Encrypt(idn, IdNumberAd(id)));
  }
  if (!phone.empty()) {
    ASSIGN_OR_RETURN(*next.mutable_phone(), keyring_->Encrypt(phone, PhoneAd(id)));
  }
  *next.mutable_updated_at() = ToTimestamp(now);

  Txn txn;
  if (prev.has_value()) {
    txn.Equals(keys::Resident(id), prev->SerializeAsString());
    txn.ZRem(keys::ByRegion(), Member(prev->region_code(), id));
    for (const std::string& t : prev->tags()) {
      txn.ZRem(keys::ByTag(t), Member(prev->region_code(), id));
    }
    if (!prev->household_id().empty()) txn.SRem(keys::HouseholdMembers(prev->household_id()), id);
    if (!old_idn.empty() && old_idn != idn) {
      txn.Del(keys::IdNumberIndex(keyring_->BlindIndex("id_number", old_idn)));
    }
    if (!old_phone.empty() && old_phone != phone) {
      txn.SRem(keys::PhoneIndex(keyring_->BlindIndex("phone", old_phone)), id);
    }
  } else {
    txn.Absent(keys::Resident(id));
  }
  if (!idn.empty() && idn != old_idn) {
    txn.Absent(keys::IdNumberIndex(keyring_->BlindIndex("id_number", idn)))
        .Set(keys::IdNumberIndex(keyring_->BlindIndex("id_number", idn)), id);
  }
  if (!phone.empty()) txn.SAdd(keys::PhoneIndex(keyring_->BlindIndex("phone", phone)), id);
  txn.Set(keys::Resident(id), next.SerializeAsString())
      .ZAdd(keys::ByRegion(), Member(next.region_code(), id));
  for (const std::string& t : next.tags()) txn.ZAdd(keys::ByTag(t), Member(next.region_code(), id));
  if (!next.household_id().empty()) txn.SAdd(keys::HouseholdMembers(next.household_id()), id);
  if (!request_id.empty()) {
    // The request record holds the sealed record: erasure finds it through this set.
    txn.SAdd(keys::ResidentRequests(id), keys::Request(request_id))
        .Request(request_id, fingerprint, next.SerializeAsString());
  }
  ASSIGN_OR_RETURN(CommitResult res, store_->Commit(std::move(txn)));
  if (res.conflict) {
    if (!idn.empty() && idn != old_idn) {
      ASSIGN_OR_RETURN(std::optional<std::string> holder,
                       store_->Get(keys::IdNumberIndex(keyring_->BlindIndex("id_number", idn))));
      if (holder.has_value() && *holder != id) {
        return absl::AlreadyExistsError(
            "resident.id_number: another resident has this ID-card number");
      }
    }
    return Retry();
  }
  if (res.earlier.has_value()) {
    ASSIGN_OR_RETURN(v1::Resident r, Replay<v1::Resident>(*res.earlier, fingerprint));
    return Upserted<v1::Resident>{std::move(r), Outcome::kUnchanged};
  }
  return Upserted<v1::Resident>{std::move(next),
                                prev.has_value() ? Outcome::kUpdated : Outcome::kCreated};
}

absl::StatusOr<v1::Resident> Residents::Render(const v1::Resident& stored, const Caller& c,
                                               absl::string_view method, absl::string_view purpose,
                                               bool echo) {
  v1::Resident out = stored;
  // What a write echoes back is masked: the caller has just sent the plaintext.
  const bool full = !echo && MaySeeInFull(c, stored.region_code(), stored.id());
  ASSIGN_OR_RETURN(PlainResident plain, Unseal(stored));
  const std::string& idn = plain.id_number;
  const std::string& phone = plain.phone;
  if (full && (!idn.empty() || !phone.empty())) {
    v1::AccessLogEntry e;
    *e.mutable_at() = ToTimestamp(clock_->Now());
    e.set_person_id(c.person_id);
    e.set_role(std::string(RoleName(c.role)));
    e.set_resident_id(stored.id());
    if (!idn.empty()) e.add_fields("id_number");
    if (!phone.empty()) e.add_fields("phone");
    e.set_method(std::string(method));
    e.set_purpose(std::string(purpose));
    Txn txn;
    // Logged only while the resident exists: an erased resident leaves no log behind.
    txn.Present(keys::Resident(stored.id()))
        .LPush(keys::AccessLog(stored.id()), e.SerializeAsString());
    ASSIGN_OR_RETURN(CommitResult res, store_->Commit(std::move(txn)));
    if (!res.committed) return absl::NotFoundError(absl::StrCat("resident ", stored.id()));
  }
  out.set_id_number(full ? idn : pii::MaskIdNumber(idn));
  out.set_phone(full ? phone : pii::MaskPhone(phone));
  if (idn.empty()) out.clear_id_number();
  if (phone.empty()) out.clear_phone();
  out.set_personal_data_masked(!full && (!idn.empty() || !phone.empty()));
  return out;
}

absl::StatusOr<v1::Resident> Residents::CreateResident(const v1::CreateResidentRequest& req,
                                                       const Caller& c) {
  RETURN_IF_ERROR(CheckRequestId(req.request_id()));
  if (!req.has_resident()) return Invalid("resident", "required");
  if (c.anonymous()) return absl::UnauthenticatedError("a caller identity is required");
  const std::string fingerprint = Fingerprint("CreateResident", req);
  ASSIGN_OR_RETURN(
      Upserted<v1::Resident> up, Retrying([&]() -> absl::StatusOr<Upserted<v1::Resident>> {
        ASSIGN_OR_RETURN(std::optional<v1::Resident> earlier,
                         FirstResult<v1::Resident>(req.request_id(), fingerprint));
        if (earlier.has_value()) {
          return Upserted<v1::Resident>{*std::move(earlier), Outcome::kUnchanged};
        }
        return WriteResident(req.resident(), std::nullopt, req.request_id(), fingerprint, 0, c);
      }));
  // A replay of an erased resident's creation is gone with the resident.
  ASSIGN_OR_RETURN(std::optional<v1::Resident> live, FindStored(up.record.id()));
  if (!live.has_value()) return absl::NotFoundError(absl::StrCat("resident ", up.record.id()));
  return Render(up.record, c, "CreateResident", "", /*echo=*/true);
}

absl::StatusOr<v1::Resident> Residents::GetResident(const v1::GetResidentRequest& req,
                                                    const Caller& c) {
  RETURN_IF_ERROR(CheckId("id", req.id()));
  RETURN_IF_ERROR(CheckText("purpose", req.purpose(), kMaxTextChars, false));
  ASSIGN_OR_RETURN(std::optional<v1::Resident> r, FindStored(req.id()));
  if (!r.has_value()) return absl::NotFoundError(absl::StrCat("resident ", req.id()));
  RETURN_IF_ERROR(MayRead(c, r->region_code(), r->id()));
  return Render(*r, c, "GetResident", req.purpose());
}

absl::StatusOr<v1::Resident> Residents::UpdateResident(const v1::UpdateResidentRequest& req,
                                                       const Caller& c) {
  RETURN_IF_ERROR(CheckRequestId(req.request_id()));
  RETURN_IF_ERROR(CheckId("resident.id", req.resident().id()));
  if (req.expected_version() < 0) return Invalid("expected_version", "must not be negative");
  const std::string fingerprint = Fingerprint("UpdateResident", req);
  ASSIGN_OR_RETURN(
      Upserted<v1::Resident> up, Retrying([&]() -> absl::StatusOr<Upserted<v1::Resident>> {
        ASSIGN_OR_RETURN(std::optional<v1::Resident> earlier,
                         FirstResult<v1::Resident>(req.request_id(), fingerprint));
        if (earlier.has_value()) {
          return Upserted<v1::Resident>{*std::move(earlier), Outcome::kUnchanged};
        }
        ASSIGN_OR_RETURN(std::optional<v1::Resident> prev, FindStored(req.resident().id()));
        if (!prev.has_value())
          return absl::NotFoundError(absl::StrCat("resident ", req.resident().id()));
        return WriteResident(req.resident(), prev, req.request_id(), fingerprint,
                             req.expected_version(), c);
      }));
  return Render(up.record, c, "UpdateResident", "", /*echo=*/true);
}

absl::StatusOr<v1::SearchResidentsResponse> Residents::SearchResidents(
    const v1::SearchResidentsRequest& req, const Caller& c) {
  RETURN_IF_ERROR(CheckCode("region_prefix", req.region_prefix()));
  if (!req.tag().empty()) RETURN_IF_ERROR(CheckTag(req.tag()));
  RETURN_IF_ERROR(MayRead(c, req.region_prefix(), ""));
  ASSIGN_OR_RETURN(int size, PageSize(req.page_size()));
  const std::string key = req.tag().empty() ? keys::ByRegion() : keys::ByTag(req.tag());
  std::string min = absl::StrCat("[", req.region_prefix(), ".");
  if (!req.page_token().empty()) {
    ASSIGN_OR_RETURN(std::string after, DecodeToken(req.page_token()));
    if (!absl::StartsWith(after, absl::StrCat(req.region_prefix(), "."))) {
      return Invalid("page_token", "belongs to another search");
    }
    min = absl::StrCat("(", after);
  }
  ASSIGN_OR_RETURN(
      auto members,
      store_->RangeByLex(key, min, absl::StrCat("[", req.region_prefix(), ".\xff"), size + 1));
  const bool more = static_cast<int>(members.size()) > size;
  if (more) members.resize(size);
  std::vector<std::string> ks;
  ks.reserve(members.size());
  for (const std::string& m : members) ks.push_back(keys::Resident(m.substr(m.rfind('|') + 1)));
  ASSIGN_OR_RETURN(auto values, store_->MGet(std::move(ks)));
  v1::SearchResidentsResponse resp;
  for (const auto& v : values) {
    if (!v.has_value()) continue;
    ASSIGN_OR_RETURN(v1::Resident r, Parse<v1::Resident>(*v, "resident"));
    ASSIGN_OR_RETURN(*resp.add_residents(), Render(r, c, "SearchResidents", ""));
  }
  if (more && !members.empty()) resp.set_next_page_token(EncodeToken(members.back()));
  return resp;
}

absl::StatusOr<v1::FindResidentsResponse> Residents::FindResidents(
    const v1::FindResidentsRequest& req, const Caller& c) {
  RETURN_IF_ERROR(CheckText("purpose", req.purpose(), kMaxTextChars, false));
  if (c.anonymous()) return absl::UnauthenticatedError("a caller identity is required");
  std::vector<std::string> ids;
  if (req.key_case() == v1::FindResidentsRequest::kIdNumber) {
    ASSIGN_OR_RETURN(std::string idn,
                     pii::NormalizeIdNumber("id_number", req.id_number(), clock_->Now()));
    ASSIGN_OR_RETURN(std::optional<std::string> id,
                     store_->Get(keys::IdNumberIndex(keyring_->BlindIndex("id_number", idn))));
    if (id.has_value()) ids.push_back(*id);
  } else if (req.key_case() == v1::FindResidentsRequest::kPhone) {
    ASSIGN_OR_RETURN(std::string phone, pii::NormalizeMobile("phone", req.phone()));
    ASSIGN_OR_RETURN(ids, store_->SMembers(keys::PhoneIndex(keyring_->BlindIndex("phone", phone))));
    std::sort(ids.begin(), ids.end());
  } else {
    return Invalid("key", "id_number or phone required");
  }
  v1::FindResidentsResponse resp;
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(std::optional<v1::Resident> r, FindStored(id));
    if (!r.has_value()) continue;
    // Out-of-scope matches are left out, not refused: the caller learns nothing of them.
    if (!MayRead(c, r->region_code(), r->id()).ok()) continue;
    ASSIGN_OR_RETURN(*resp.add_residents(), Render(*r, c, "FindResidents", req.purpose()));
  }
  return resp;
}

absl::StatusOr<v1::EraseResidentResponse> Residents::EraseResident(
    const v1::EraseResidentRequest& req, const Caller& c) {
  RETURN_IF_ERROR(CheckRequestId(req.request_id()));
  RETURN_IF_ERROR(CheckId("id", req.id()));
  const std::string fingerprint = Fingerprint("EraseResident", req);
  return Retrying([&]() -> absl::StatusOr<v1::EraseResidentResponse> {
    ASSIGN_OR_RETURN(std::optional<v1::EraseResidentResponse> earlier,
                     FirstResult<v1::EraseResidentResponse>(req.request_id(), fingerprint));
    if (earlier.has_value()) return *std::move(earlier);
    ASSIGN_OR_RETURN(std::optional<v1::Resident> r, FindStored(req.id()));
    v1::EraseResidentResponse resp;
    if (!r.has_value()) {
      if (c.anonymous()) return absl::UnauthenticatedError("a caller identity is required");
      return resp;  // nothing (left) to erase
    }
    RETURN_IF_ERROR(MayChange(c, r->region_code()));
    resp.set_erased(true);
    Txn txn;
    txn.Equals(keys::Resident(r->id()), r->SerializeAsString()).Del(keys::Resident(r->id()));
    ASSIGN_OR_RETURN(PlainResident plain, Unseal(*r));
    if (!plain.id_number.empty()) {
      txn.Del(keys::IdNumberIndex(keyring_->BlindIndex("id_number", plain.id_number)));
    }
    if (!plain.phone.empty()) {
      txn.SRem(keys::PhoneIndex(keyring_->BlindIndex("phone", plain.phone)), r->id());
    }
    txn.ZRem(keys::ByRegion(), Member(r->region_code(), r->id()));
    for (const std::string& t : r->tags()) {
      txn.ZRem(keys::ByTag(t), Member(r->region_code(), r->id()));
    }
    if (!r->household_id().empty()) txn.SRem(keys::HouseholdMembers(r->household_id()), r->id());
    txn.Del(keys::AccessLog(r->id()));
    ASSIGN_OR_RETURN(std::vector<std::string> requests,
                     store_->SMembers(keys::ResidentRequests(r->id())));
    for (const std::string& k : requests) {
      if (absl::StartsWith(k, keys::Request(""))) txn.Del(k);
    }
    txn.Del(keys::ResidentRequests(r->id()));
    txn.Request(req.request_id(), fingerprint, resp.SerializeAsString());
    ASSIGN_OR_RETURN(CommitResult res, store_->Commit(std::move(txn)));
    if (res.conflict) return Retry();
    if (res.earlier.has_value()) {
      return Replay<v1::EraseResidentResponse>(*res.earlier, fingerprint);
    }
    return resp;
  });
}

absl::StatusOr<v1::ListAccessLogResponse> Residents::ListAccessLog(
    const v1::ListAccessLogRequest& req, const Caller& c) {
  RETURN_IF_ERROR(CheckId("resident_id", req.resident_id()));
  ASSIGN_OR_RETURN(std::optional<v1::Resident> r, FindStored(req.resident_id()));
  if (!r.has_value()) return absl::NotFoundError(absl::StrCat("resident ", req.resident_id()));
  if (!MaySeeInFull(c, r->region_code(), r->id()) &&
      !(c.role == Role::kOperator && c.ActsWithin(r->region_code()))) {
    RETURN_IF_ERROR(MayRead(c, r->region_code(), r->id()));
    return absl::PermissionDeniedError("the access log is for those who may read it in full");
  }
  ASSIGN_OR_RETURN(int size, PageSize(req.page_size()));
  int64_t start = 0;
  if (!req.page_token().empty()) {
    ASSIGN_OR_RETURN(std::string t, DecodeToken(req.page_token()));
    if (!absl::SimpleAtoi(t, &start) || start < 0) return Invalid("page_token", "malformed");
  }
  ASSIGN_OR_RETURN(auto entries,
                   store_->LRange(keys::AccessLog(req.resident_id()), start, start + size));
  v1::ListAccessLogResponse resp;
  const bool more = static_cast<int>(entries.size()) > size;
  if (more) entries.resize(size);
  for (const std::string& e : entries) {
    ASSIGN_OR_RETURN(*resp.add_entries(), Parse<v1::AccessLogEntry>(e, "access log entry"));
  }
  if (more) resp.set_next_page_token(EncodeToken(absl::StrCat(start + size)));
  return resp;
}

// ---------------------------------------------------------------------------------------
// Staff

absl::StatusOr<std::vector<v1::StaffAssignment>> Residents::StaffOf(absl::string_view region_code) {
  ASSIGN_OR_RETURN(std::vector<std::string> ids, store_->SMembers(keys::RegionStaff(region_code)));
  std::vector<std::string> ks;
  ks.reserve(ids.size());
  for (const std::string& id : ids) ks.push_back(keys::Staff(id));
  ASSIGN_OR_RETURN(auto values, store_->MGet(std::move(ks)));
  std::vector<v1::StaffAssignment> out;
  for (const auto& v : values) {
    if (!v.has_value()) continue;
    ASSIGN_OR_RETURN(v1::StaffAssignment s, Parse<v1::StaffAssignment>(*v, "staff assignment"));
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::make_tuple(a.role(), a.name(), a.id()) <
           std::make_tuple(b.role(), b.name(), b.id());
  });
  return out;
}

absl::StatusOr<v1::StaffAssignment> Residents::AssignStaff(const v1::AssignStaffRequest& req,
                                                           const Caller& c) {
  RETURN_IF_ERROR(CheckRequestId(req.request_id()));
  ASSIGN_OR_RETURN(Upserted<v1::StaffAssignment> up,
                   UpsertStaff(req, Fingerprint("AssignStaff", req), c));
  return up.record;
}

absl::StatusOr<Residents::Upserted<v1::StaffAssignment>> Residents::UpsertStaff(
    const v1::AssignStaffRequest& req, absl::string_view fingerprint, const Caller& c) {
  RETURN_IF_ERROR(MustRegion("region_code", req.region_code()).status());
  RETURN_IF_ERROR(CheckId("person_id", req.person_id()));
  RETURN_IF_ERROR(CheckText("name", req.name(), kMaxNameChars, true));
  if (!v1::StaffRole_IsValid(req.role()) || req.role() == v1::STAFF_ROLE_UNSPECIFIED) {
    return Invalid("role", "required");
  }
  RETURN_IF_ERROR(CheckWorkPhone(req.phone()));
  RETURN_IF_ERROR(CheckText("duty", req.duty(), kMaxTextChars, false));
  RETURN_IF_ERROR(CheckText("department", req.department(), kMaxNameChars, false));
  RETURN_IF_ERROR(MayChange(c, req.region_code()));
  const std::string& request_id = req.request_id();
  return Retrying([&]() -> absl::StatusOr<Upserted<v1::StaffAssignment>> {
    if (!request_id.empty()) {
      ASSIGN_OR_RETURN(std::optional<v1::StaffAssignment> earlier,
                       FirstResult<v1::StaffAssignment>(request_id, fingerprint));
      if (earlier.has_value()) {
        return Upserted<v1::StaffAssignment>{*std::move(earlier), Outcome::kUnchanged};
      }
    }
    const absl::Time now = clock_->Now();
    const absl::Time from = TimeOr(req.valid_from(), now);
    ASSIGN_OR_RETURN(std::vector<v1::StaffAssignment> current, StaffOf(req.region_code()));
    // The current assignment of this person in this role, if any, is updated in place.
    for (const v1::StaffAssignment& s : current) {
      if (s.person_id() != req.person_id() || s.role() != req.role() || s.has_valid_to()) {
        continue;
      }
      v1::StaffAssignment next = s;
      next.set_name(req.name());
      next.set_on_duty(req.on_duty());
      next.set_phone(req.phone());
      next.set_duty(req.duty());
      next.set_department(req.department());
      if (Same(next, s)) return Upserted<v1::StaffAssignment>{s, Outcome::kUnchanged};
      next.set_version(s.version() + 1);
      Txn txn;
      txn.Equals(keys::Staff(s.id()), s.SerializeAsString())
          .Set(keys::Staff(s.id()), next.SerializeAsString())
          .Request(request_id, fingerprint, next.SerializeAsString());
      return CommitUpsert<v1::StaffAssignment>(std::move(txn), std::move(next), Outcome::kUpdated,
                                               fingerprint);
    }
    v1::StaffAssignment next;
    next.set_id(NewId("st-"));
    next.set_region_code(req.region_code());
    next.set_person_id(req.person_id());
    next.set_name(req.name());
    next.set_role(req.role());
    next.set_on_duty(req.on_duty());
    next.set_phone(req.phone());
    next.set_duty(req.duty());
    next.set_department(req.department());
    *next.mutable_valid_from() = ToTimestamp(from);
    next.set_version(1);
    Txn txn;
    txn.Present(keys::Region(req.region_code()))
        .Set(keys::Staff(next.id()), next.SerializeAsString())
        .SAdd(keys::RegionStaff(req.region_code()), next.id())
        .Request(request_id, fingerprint, next.SerializeAsString());
    return CommitUpsert<v1::StaffAssignment>(std::move(txn), std::move(next), Outcome::kCreated,
                                             fingerprint);
  });
}

absl::StatusOr<v1::StaffAssignment> Residents::EndStaffAssignment(
    const v1::EndStaffAssignmentRequest& req, const Caller& c) {
  RETURN_IF_ERROR(CheckRequestId(req.request_id()));
  RETURN_IF_ERROR(CheckId("id", req.id()));
  const std::string fingerprint = Fingerprint("EndStaffAssignment", req);
  return Retrying([&]() -> absl::StatusOr<v1::StaffAssignment> {
    ASSIGN_OR_RETURN(std::optional<v1::StaffAssignment> earlier,
                     FirstResult<v1::StaffAssignment>(req.request_id(), fingerprint));
    if (earlier.has_value()) return *std::move(earlier);
    ASSIGN_OR_RETURN(std::optional<std::string> bytes, store_->Get(keys::Staff(req.id())));
    if (!bytes.has_value()) return absl::NotFoundError(absl::StrCat("staff assignment ", req.id()));
    ASSIGN_OR_RETURN(v1::StaffAssignment s, Parse<v1::StaffAssignment>(*bytes, "staff"));
    RETURN_IF_ERROR(MayChange(c, s.region_code()));
    if (s.has_valid_to()) {
      return absl::FailedPreconditionError(absl::StrCat("assignment ", s.id(), " has ended"));
    }
    const absl::Time to = TimeOr(req.valid_to(), clock_->Now());
    if (to <= FromTimestamp(s.valid_from())) {
      return Invalid("valid_to", "must be after the assignment's valid_from");
    }
    *s.mutable_valid_to() = ToTimestamp(to);
    s.set_version(s.version() + 1);
    Txn txn;
    txn.Equals(keys::Staff(s.id()), *bytes)
        .Set(keys::Staff(s.id()), s.SerializeAsString())
        .Request(req.request_id(), fingerprint, s.SerializeAsString());
    return CommitOr<v1::StaffAssignment>(std::move(txn), std::move(s), fingerprint);
  });
}

absl::StatusOr<v1::ListStaffResponse> Residents::ListStaff(const v1::ListStaffRequest& req) {
  RETURN_IF_ERROR(MustRegion("region_code", req.region_code()).status());
  const absl::Time at = TimeOr(req.at(), clock_->Now());
  ASSIGN_OR_RETURN(std::vector<v1::StaffAssignment> all, StaffOf(req.region_code()));
  v1::ListStaffResponse resp;
  for (v1::StaffAssignment& s : all) {
    if (req.include_ended() || ActiveAt(s, at)) *resp.add_staff() = std::move(s);
  }
  return resp;
}

absl::StatusOr<v1::GetResponsibleResponse> Residents::GetResponsible(
    const v1::GetResponsibleRequest& req) {
  ASSIGN_OR_RETURN(v1::Region region, MustRegion("region_code", req.region_code()));
  ASSIGN_OR_RETURN(std::optional<v1::Region> grid, GridOf(region));
  if (!grid.has_value()) return Invalid("region_code", "must be a grid or lie inside one");
  const absl::Time at = TimeOr(req.at(), clock_->Now());
  v1::GetResponsibleResponse resp;
  ASSIGN_OR_RETURN(std::vector<v1::Region> up, Ancestors(*grid));
  std::vector<v1::Region> chain = {*grid};
  std::reverse(up.begin(), up.end());
  for (v1::Region& r : up) {
    const bool street_or_above = r.level() <= v1::REGION_LEVEL_STREET;
    chain.push_back(std::move(r));
    if (street_or_above) break;
  }
  for (const v1::Region& r : chain) {
    ASSIGN_OR_RETURN(std::vector<v1::StaffAssignment> staff, StaffOf(r.code()));
    v1::EscalationStep* step = resp.add_escalation_chain();
    *step->mutable_region() = r;
    for (v1::StaffAssignment& s : staff) {
      if (!ActiveAt(s, at)) continue;
      const bool is_grid = r.code() == grid->code();
      if (is_grid && s.role() == v1::STAFF_ROLE_GRID_WORKER && s.on_duty()) {
        *resp.add_grid_workers() = s;
      }
      if (is_grid && s.role() == v1::STAFF_ROLE_GRID_LEADER && !resp.has_leader()) {
        *resp.mutable_leader() = s;
      }
      if (s.role() == v1::STAFF_ROLE_GRID_LEADER || s.role() == v1::STAFF_ROLE_REGION_LEADER ||
          s.role() == v1::STAFF_ROLE_SUPERVISOR ||
          (is_grid && s.role() == v1::STAFF_ROLE_GRID_WORKER && s.on_duty())) {
        *step->add_responsible() = std::move(s);
      }
    }
  }
  *resp.mutable_grid() = *std::move(grid);
  return resp;
}

// ---------------------------------------------------------------------------------------
// Import

absl::StatusOr<v1::ImportBatchResponse> Residents::ImportBatch(const v1::ImportBatchRequest& req,
                                                               const Caller& c) {
  if (c.anonymous()) return absl::UnauthenticatedError("a caller identity is required");
  constexpr int kMaxBatch = 5000;
  if (req.items_size() > kMaxBatch) {
    return Invalid("items", absl::StrCat("at most ", kMaxBatch, " per batch"));
  }
  v1::ImportBatchResponse resp;
  auto outcome = [](Outcome o) {
    switch (o) {
      case Outcome::kCreated:
        return v1::IMPORT_OUTCOME_CREATED;
      case Outcome::kUpdated:
        return v1::IMPORT_OUTCOME_UPDATED;
      case Outcome::kUnchanged:
        return v1::IMPORT_OUTCOME_UNCHANGED;
    }
    return v1::IMPORT_OUTCOME_UNSPECIFIED;
  };
  for (int i = 0; i < req.items_size(); ++i) {
    const v1::ImportItem& item = req.items(i);
    v1::ImportResult* result = resp.add_results();
    result->set_index(i);
    absl::StatusOr<std::pair<Outcome, std::string>> done =
        [&]() -> absl::StatusOr<std::pair<Outcome, std::string>> {
      switch (item.item_case()) {
        case v1::ImportItem::kRegion: {
          ASSIGN_OR_RETURN(auto up, UpsertRegion(item.region(), "", c, /*upsert=*/true));
          return std::make_pair(up.outcome, up.record.code());
        }
        case v1::ImportItem::kHousehold: {
          ASSIGN_OR_RETURN(auto up, UpsertHousehold(item.household(), "", "", c));
          return std::make_pair(up.outcome, up.record.code());
        }
        case v1::ImportItem::kResident: {
          ASSIGN_OR_RETURN(std::optional<std::string> id, ResidentByKey(item.resident()));
          std::optional<v1::Resident> prev;
          if (id.has_value()) {
            ASSIGN_OR_RETURN(prev, FindStored(*id));
          }
          ASSIGN_OR_RETURN(auto up, Retrying([&] {
                             return WriteResident(item.resident(), prev, "", "", 0, c);
                           }));
          return std::make_pair(up.outcome, up.record.id());
        }
        case v1::ImportItem::kStaff: {
          v1::AssignStaffRequest staff = item.staff();
          staff.clear_request_id();
          ASSIGN_OR_RETURN(auto up, UpsertStaff(staff, "", c));
          return std::make_pair(up.outcome, up.record.id());
        }
        case v1::ImportItem::ITEM_NOT_SET:
          break;
      }
      return Invalid("item", "empty");
    }();
    if (done.ok()) {
      result->set_outcome(outcome(done->first));
      result->set_id(done->second);
    } else if (done.status().code() == absl::StatusCode::kUnavailable) {
      return done.status();  // the store is down: the whole batch is retried
    } else {
      result->set_outcome(v1::IMPORT_OUTCOME_REJECTED);
      result->set_message(std::string(done.status().message()));
    }
  }
  return resp;
}

}  // namespace gridloop::residents
