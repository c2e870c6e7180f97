// The residents service in-process against a real redis-server, called over gRPC.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/clock/clock.h"
#include "common/clock/proto_time.h"
#include "common/pii/keyring.h"
#include "common/redis/redis_client.h"
#include "common/testing/redis_server.h"
#include "gridloop/v1/residents.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/residents/app.h"
#include "tools/gridctl/import/grpc_sender.h"
#include "tools/gridctl/import/importer.h"
#include "tools/seedgen/seedgen.h"

namespace gridloop::residents {
namespace {

constexpr char kKeys[] = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr char kIndexKey[] = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
constexpr char kIdNumber[] = "11010519491231002X";

struct As {
  std::string person;
  std::string role;
  std::string region;
};
const As kOperator{"op-1", "operator", "3301"};
const As kWorker{"gw-7", "grid_worker", "3301.06.003.001.g01"};
const As kVolunteer{"vol-1", "volunteer", "3301"};

v1::LatLng P(double lat, double lng) {
  v1::LatLng p;
  p.set_latitude(lat);
  p.set_longitude(lng);
  return p;
}

// A square grid [lat, lat+0.01] x [lng, lng+0.01].
void Square(v1::Region* r, double lat, double lng) {
  *r->add_boundary() = P(lat, lng);
  *r->add_boundary() = P(lat, lng + 0.01);
  *r->add_boundary() = P(lat + 0.01, lng + 0.01);
  *r->add_boundary() = P(lat + 0.01, lng);
}

class ResidentsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::RedisServer::Options options;
    options.appendonly = true;
    auto redis = testing::RedisServer::Start(options);
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_server_ = std::move(*redis);
    redis::Options ro;
    ro.port = redis_server_->port();
    redis_ = *redis::Connect(ro);
    app_ = StartApp();
    stub_ = Stub(*app_);
  }

  std::unique_ptr<App> StartApp() {
    AppConfig c;
    c.listen = "127.0.0.1:0";
    c.redis = redis_server_->address();
    c.workers = 4;
    c.pii_keys = kKeys;
    c.pii_active_key = "k1";
    c.pii_index_key = kIndexKey;
    c.grid_refresh = absl::Hours(1);  // tests refresh explicitly
    auto app = App::Start(c, &clock_);
    EXPECT_TRUE(app.ok()) << app.status();
    return app.ok() ? std::move(*app) : nullptr;
  }

  static std::unique_ptr<v1::ResidentService::Stub> Stub(App& app) {
    return v1::ResidentService::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", app.port()),
                                                            grpc::InsecureChannelCredentials()));
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(const As& as) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!as.person.empty()) ctx->AddMetadata("x-gridloop-person", as.person);
    if (!as.role.empty()) ctx->AddMetadata("x-gridloop-role", as.role);
    if (!as.region.empty()) ctx->AddMetadata("x-gridloop-region", as.region);
    return ctx;
  }

  grpc::Status Region(const std::string& code, const std::string& name, v1::RegionLevel level,
                      const std::string& parent, v1::Region* out, double lat = 0, double lng = 0) {
    v1::CreateRegionRequest req;
    req.set_request_id(absl::StrCat("region-", code));
    req.mutable_region()->set_code(code);
    req.mutable_region()->set_name(name);
    req.mutable_region()->set_level(level);
    req.mutable_region()->set_parent_code(parent);
    if (lat != 0) Square(req.mutable_region(), lat, lng);
    return stub_->CreateRegion(Ctx(kOperator).get(), req, out);
  }

  // 3301 → 3301.06 → 3301.06.003 → 3301.06.003.001 → grids g01 and g02 side by side.
  void BuildTree() {
    v1::Region r;
    ASSERT_TRUE(Region("3301", "杭州市", v1::REGION_LEVEL_CITY, "", &r).ok());
    ASSERT_TRUE(Region("3301.06", "西湖区", v1::REGION_LEVEL_DISTRICT, "3301", &r).ok());
    ASSERT_TRUE(Region("3301.06.003", "文新街道", v1::REGION_LEVEL_STREET, "3301.06", &r).ok());
    ASSERT_TRUE(
        Region("3301.06.003.001", "嘉绿苑社区", v1::REGION_LEVEL_COMMUNITY, "3301.06.003", &r)
            .ok());
    ASSERT_TRUE(Region("3301.06.003.001.g01", "第一网格", v1::REGION_LEVEL_GRID, "3301.06.003.001",
                       &r, 30.28, 120.10)
                    .ok());
    ASSERT_TRUE(Region("3301.06.003.001.g02", "第二网格", v1::REGION_LEVEL_GRID, "3301.06.003.001",
                       &r, 30.28, 120.11)
                    .ok());
  }

  grpc::Status Locate(double lat, double lng, v1::LocateGridResponse* out,
                      v1::ResidentService::Stub* stub = nullptr) {
    v1::LocateGridRequest req;
    *req.mutable_location() = P(lat, lng);
    return (stub ? stub : stub_.get())->LocateGrid(Ctx({}).get(), req, out);
  }

  grpc::Status CreateResident(const As& as, const std::string& rid, const std::string& name,
                              const std::string& id_number, const std::string& phone,
                              v1::Resident* out) {
    v1::CreateResidentRequest req;
    req.set_request_id(rid);
    req.mutable_resident()->set_name(name);
    req.mutable_resident()->set_id_number(id_number);
    req.mutable_resident()->set_phone(phone);
    req.mutable_resident()->set_region_code("3301.06.003.001.g01");
    req.mutable_resident()->add_tags("elderly_living_alone");
    return stub_->CreateResident(Ctx(as).get(), req, out);
  }

  // Every key and every value held in Redis, flattened to strings.
  std::vector<std::string> Everything() {
    std::vector<std::string> out;
    std::string cursor = "0";
    do {
      auto r = redis_->Command({"SCAN", cursor, "COUNT", "1000"});
      cursor = r->elements[0].str;
      for (const auto& k : r->elements[1].elements) {
        out.push_back(k.str);
        auto type = redis_->Command({"TYPE", k.str});
        std::vector<std::string> dump;
        if (type->str == "string") dump = {"GET", k.str};
        if (type->str == "hash") dump = {"HGETALL", k.str};
        if (type->str == "set") dump = {"SMEMBERS", k.str};
        if (type->str == "zset") dump = {"ZRANGE", k.str, "0", "-1"};
        if (type->str == "list") dump = {"LRANGE", k.str, "0", "-1"};
        if (type->str == "stream") dump = {"XRANGE", k.str, "-", "+"};
        if (dump.empty()) continue;
        auto v = redis_->Command(dump);
        out.push_back(v->DebugString());
        if (!v->str.empty()) out.push_back(v->str);
      }
    } while (cursor != "0");
    return out;
  }

  FakeClock clock_;
  std::unique_ptr<testing::RedisServer> redis_server_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<App> app_;
  std::unique_ptr<v1::ResidentService::Stub> stub_;
};

TEST_F(ResidentsServiceTest, TheRegionTreeAnswersChildrenAndAncestors) {
  BuildTree();
  v1::ListChildrenRequest children;
  children.set_code("3301.06.003.001");
  children.set_page_size(1);
  v1::ListChildrenResponse page;
  ASSERT_TRUE(stub_->ListChildren(Ctx({}).get(), children, &page).ok());
  ASSERT_EQ(page.regions_size(), 1);
  EXPECT_EQ(page.regions(0).code(), "3301.06.003.001.g01");
  children.set_page_token(page.next_page_token());
  ASSERT_TRUE(stub_->ListChildren(Ctx({}).get(), children, &page).ok());
  ASSERT_EQ(page.regions_size(), 1);
  EXPECT_EQ(page.regions(0).code(), "3301.06.003.001.g02");
  EXPECT_TRUE(page.next_page_token().empty());

  v1::ListAncestorsRequest up;
  up.set_code("3301.06.003.001.g02");
  v1::ListAncestorsResponse chain;
  ASSERT_TRUE(stub_->ListAncestors(Ctx({}).get(), up, &chain).ok());
  ASSERT_EQ(chain.regions_size(), 4);
  EXPECT_EQ(chain.regions(0).code(), "3301");
  EXPECT_EQ(chain.regions(3).code(), "3301.06.003.001");
}

TEST_F(ResidentsServiceTest, BadRegionsAreRefusedNamingTheField) {
  BuildTree();
  v1::Region r;
  grpc::Status s = Region("3301.07.x", "x", v1::REGION_LEVEL_STREET, "3301.06", &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "region.code")) << s.error_message();
  s = Region("3301.06.009", "x", v1::REGION_LEVEL_STREET, "3301.06.404", &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  s = Region("3301.06.009", "", v1::REGION_LEVEL_STREET, "3301.06", &r);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "region.name")) << s.error_message();

  // A bow-tie boundary crosses itself.
  v1::CreateRegionRequest req;
  req.set_request_id("bowtie");
  req.mutable_region()->set_code("3301.06.003.001.g09");
  req.mutable_region()->set_name("坏网格");
  req.mutable_region()->set_level(v1::REGION_LEVEL_GRID);
  req.mutable_region()->set_parent_code("3301.06.003.001");
  *req.mutable_region()->add_boundary() = P(30.0, 120.0);
  *req.mutable_region()->add_boundary() = P(30.01, 120.01);
  *req.mutable_region()->add_boundary() = P(30.0, 120.01);
  *req.mutable_region()->add_boundary() = P(30.01, 120.0);
  s = stub_->CreateRegion(Ctx(kOperator).get(), req, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "region.boundary")) << s.error_message();

  // The same code again under another request id exists already; the same request again
  // is its first result.
  v1::CreateRegionRequest again;
  again.set_request_id("other");
  again.mutable_region()->set_code("3301");
  again.mutable_region()->set_name("杭州市");
  again.mutable_region()->set_level(v1::REGION_LEVEL_CITY);
  EXPECT_EQ(stub_->CreateRegion(Ctx(kOperator).get(), again, &r).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  again.set_request_id("region-3301");
  EXPECT_TRUE(stub_->CreateRegion(Ctx(kOperator).get(), again, &r).ok());
  EXPECT_EQ(r.version(), 1);

  // Without a role, no changes.
  EXPECT_EQ(stub_->CreateRegion(Ctx({}).get(), again, &r).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ResidentsServiceTest, LocateGridFindsTheGridAndFollowsBoundaryChangesAcrossReplicas) {
  BuildTree();
  v1::LocateGridResponse found;
  ASSERT_TRUE(Locate(30.285, 120.105, &found).ok());
  EXPECT_EQ(found.region().code(), "3301.06.003.001.g01");
  // With a cell around the point that has the same answer, for as long as no boundary
  // held says otherwise.
  ASSERT_NE(found.cell_id(), 0);
  EXPECT_EQ(FromTimestamp(found.cell_valid_until()), clock_.Now() + absl::Hours(1));
  ASSERT_TRUE(Locate(30.285, 120.115, &found).ok());
  EXPECT_EQ(found.region().code(), "3301.06.003.001.g02");
  EXPECT_EQ(Locate(30.5, 120.5, &found).error_code(), grpc::StatusCode::NOT_FOUND);
  // On the shared edge: exactly one of the two, the same every time.
  ASSERT_TRUE(Locate(30.285, 120.11, &found).ok());
  const std::string edge = found.region().code();
  EXPECT_EQ(found.cell_id(), 0);  // no cell there is clear of the other grid
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(Locate(30.285, 120.11, &found).ok());
    EXPECT_EQ(found.region().code(), edge);
  }

  // A second replica, started now, knows the grids; a boundary moved through the first
  // reaches it with its next refresh, and the old boundary still answers for the past.
  std::unique_ptr<App> replica = StartApp();
  ASSERT_NE(replica, nullptr);
  auto replica_stub = Stub(*replica);
  const absl::Time before = clock_.Now();
  clock_.Advance(absl::Hours(1));
  v1::SetGridBoundaryRequest move;
  move.set_request_id("move-g02");
  move.set_code("3301.06.003.001.g02");
  v1::Region shape;
  Square(&shape, 30.30, 120.11);
  *move.mutable_boundary() = shape.boundary();
  v1::Region moved;
  ASSERT_TRUE(stub_->SetGridBoundary(Ctx(kOperator).get(), move, &moved).ok());
  EXPECT_EQ(moved.version(), 2);
  ASSERT_TRUE(replica->residents().RefreshGrids().ok());
  for (auto* stub : {stub_.get(), replica_stub.get()}) {
    EXPECT_EQ(Locate(30.285, 120.115, &found, stub).error_code(), grpc::StatusCode::NOT_FOUND);
    ASSERT_TRUE(Locate(30.305, 120.115, &found, stub).ok());
    EXPECT_EQ(found.region().code(), "3301.06.003.001.g02");
    v1::LocateGridRequest past;
    *past.mutable_location() = P(30.285, 120.115);
    *past.mutable_at() = ToTimestamp(before);
    ASSERT_TRUE(stub->LocateGrid(Ctx({}).get(), past, &found).ok());
    EXPECT_EQ(found.region().code(), "3301.06.003.001.g02");
    // That answer held until the move.
    ASSERT_NE(found.cell_id(), 0);
    EXPECT_EQ(FromTimestamp(found.cell_valid_until()), clock_.Now());
  }
}

TEST_F(ResidentsServiceTest, PersonalDataIsEncryptedMaskedAndFullReadsAreLogged) {
  BuildTree();
  v1::Resident created;
  ASSERT_TRUE(
      CreateResident(kOperator, "res-1", "张三丰", kIdNumber, "13812345678", &created).ok());
  EXPECT_FALSE(created.id().empty());
  EXPECT_EQ(created.id_number(), "110105********002X");
  EXPECT_EQ(created.phone(), "138****5678");
  EXPECT_EQ(created.birth_date(), "1949-12-31");
  EXPECT_EQ(created.gender(), v1::GENDER_FEMALE);
  // Never plaintext in Redis.
  for (const std::string& s : Everything()) {
    EXPECT_FALSE(absl::StrContains(s, kIdNumber)) << s;
    EXPECT_FALSE(absl::StrContains(s, "13812345678")) << s;
  }

  // A bad ID number names the field.
  v1::Resident bad;
  grpc::Status s = CreateResident(kOperator, "res-bad", "李四", "110105194912310021", "", &bad);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "resident.id_number")) << s.error_message();
  s = CreateResident(kOperator, "res-dup", "王五", kIdNumber, "", &bad);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);

  // The grid worker of that grid reads in full, and it is logged; a volunteer sees masks.
  v1::GetResidentRequest get;
  get.set_id(created.id());
  get.set_purpose("回访");
  v1::Resident full;
  ASSERT_TRUE(stub_->GetResident(Ctx(kWorker).get(), get, &full).ok());
  EXPECT_EQ(full.id_number(), kIdNumber);
  EXPECT_EQ(full.phone(), "13812345678");
  EXPECT_FALSE(full.personal_data_masked());
  v1::Resident masked;
  ASSERT_TRUE(stub_->GetResident(Ctx(kVolunteer).get(), get, &masked).ok());
  EXPECT_EQ(masked.id_number(), "110105********002X");
  EXPECT_TRUE(masked.personal_data_masked());
  EXPECT_EQ(stub_->GetResident(Ctx({}).get(), get, &masked).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  As elsewhere{"gw-9", "grid_worker", "3301.06.003.001.g02"};
  EXPECT_EQ(stub_->GetResident(Ctx(elsewhere).get(), get, &masked).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  v1::ListAccessLogRequest log;
  log.set_resident_id(created.id());
  v1::ListAccessLogResponse entries;
  ASSERT_TRUE(stub_->ListAccessLog(Ctx(kOperator).get(), log, &entries).ok());
  ASSERT_EQ(entries.entries_size(), 1);
  EXPECT_EQ(entries.entries(0).person_id(), "gw-7");
  EXPECT_EQ(entries.entries(0).purpose(), "回访");

  // Found through the keyed-hash index, by ID number and by phone.
  v1::FindResidentsRequest find;
  find.set_id_number("11010519491231002x");
  v1::FindResidentsResponse hits;
  ASSERT_TRUE(stub_->FindResidents(Ctx(kOperator).get(), find, &hits).ok());
  ASSERT_EQ(hits.residents_size(), 1);
  EXPECT_EQ(hits.residents(0).id(), created.id());
  find.set_phone("+86 138-1234-5678");
  ASSERT_TRUE(stub_->FindResidents(Ctx(kOperator).get(), find, &hits).ok());
  EXPECT_EQ(hits.residents_size(), 1);

  // Search by region prefix and tag.
  v1::SearchResidentsRequest search;
  search.set_region_prefix("3301.06");
  search.set_tag("elderly_living_alone");
  v1::SearchResidentsResponse found;
  ASSERT_TRUE(stub_->SearchResidents(Ctx(kOperator).get(), search, &found).ok());
  ASSERT_EQ(found.residents_size(), 1);
  search.set_tag("veteran");
  ASSERT_TRUE(stub_->SearchResidents(Ctx(kOperator).get(), search, &found).ok());
  EXPECT_EQ(found.residents_size(), 0);
}

TEST_F(ResidentsServiceTest, ErasureLeavesNoTraceInRedis) {
  BuildTree();
  v1::Resident created;
  ASSERT_TRUE(
      CreateResident(kOperator, "res-erase", "赵六", kIdNumber, "13812345678", &created).ok());
  v1::GetResidentRequest get;
  get.set_id(created.id());
  v1::Resident full;
  ASSERT_TRUE(stub_->GetResident(Ctx(kWorker).get(), get, &full).ok());  // an access log entry
  auto stored = redis_->Command({"GET", absl::StrCat("res:{ledger}:r:", created.id())});
  ASSERT_FALSE(stored->is_nil());

  v1::EraseResidentRequest erase;
  erase.set_request_id("erase-1");
  erase.set_id(created.id());
  v1::EraseResidentResponse erased;
  ASSERT_TRUE(stub_->EraseResident(Ctx(kOperator).get(), erase, &erased).ok());
  EXPECT_TRUE(erased.erased());
  ASSERT_TRUE(stub_->EraseResident(Ctx(kOperator).get(), erase, &erased).ok());  // a repeat
  EXPECT_TRUE(erased.erased());

  pii::Keyring keyring = *pii::Keyring::Parse(kKeys, "k1", kIndexKey);
  const std::vector<std::string> traces = {
      created.id(),
      "赵六",
      kIdNumber,
      "13812345678",
      keyring.BlindIndex("id_number", kIdNumber),
      keyring.BlindIndex("phone", "13812345678"),
  };
  for (const std::string& s : Everything()) {
    for (const std::string& t : traces) EXPECT_FALSE(absl::StrContains(s, t)) << t << " in " << s;
  }
  EXPECT_EQ(stub_->GetResident(Ctx(kOperator).get(), get, &full).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // The ID number is free again.
  ASSERT_TRUE(CreateResident(kOperator, "res-again", "赵六", kIdNumber, "", &created).ok());
}

TEST_F(ResidentsServiceTest, ResponsiblePeopleAreEffectiveDated) {
  BuildTree();
  auto assign = [&](const std::string& region, const std::string& person, v1::StaffRole role,
                    v1::StaffAssignment* out) {
    v1::AssignStaffRequest req;
    req.set_request_id(absl::StrCat("assign-", region, "-", person));
    req.set_region_code(region);
    req.set_person_id(person);
    req.set_name(absl::StrCat("姓名", person));
    req.set_role(role);
    req.set_on_duty(true);
    req.set_duty("巡查、走访、上报");
    return stub_->AssignStaff(Ctx(kOperator).get(), req, out);
  };
  v1::StaffAssignment worker, leader, community, street;
  ASSERT_TRUE(assign("3301.06.003.001.g01", "gw-1", v1::STAFF_ROLE_GRID_WORKER, &worker).ok());
  ASSERT_TRUE(assign("3301.06.003.001.g01", "gl-1", v1::STAFF_ROLE_GRID_LEADER, &leader).ok());
  ASSERT_TRUE(assign("3301.06.003.001", "cl-1", v1::STAFF_ROLE_REGION_LEADER, &community).ok());
  ASSERT_TRUE(assign("3301.06.003", "sv-1", v1::STAFF_ROLE_SUPERVISOR, &street).ok());
  v1::StaffAssignment bad;
  grpc::Status s = assign("3301.06.003.001.g01", "", v1::STAFF_ROLE_GRID_WORKER, &bad);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(s.error_message(), "person_id")) << s.error_message();

  v1::GetResponsibleRequest req;
  req.set_region_code("3301.06.003.001.g01");
  v1::GetResponsibleResponse resp;
  ASSERT_TRUE(stub_->GetResponsible(Ctx({}).get(), req, &resp).ok());
  ASSERT_EQ(resp.grid_workers_size(), 1);
  EXPECT_EQ(resp.grid_workers(0).person_id(), "gw-1");
  EXPECT_EQ(resp.leader().person_id(), "gl-1");
  ASSERT_EQ(resp.escalation_chain_size(), 3);
  EXPECT_EQ(resp.escalation_chain(0).region().code(), "3301.06.003.001.g01");
  EXPECT_EQ(resp.escalation_chain(1).responsible(0).person_id(), "cl-1");
  EXPECT_EQ(resp.escalation_chain(2).responsible(0).person_id(), "sv-1");

  // The worker leaves; now nobody is on duty, but yesterday's answer is unchanged.
  const absl::Time yesterday = clock_.Now();
  clock_.Advance(absl::Hours(24));
  v1::EndStaffAssignmentRequest end;
  end.set_request_id("end-gw-1");
  end.set_id(worker.id());
  v1::StaffAssignment ended;
  ASSERT_TRUE(stub_->EndStaffAssignment(Ctx(kOperator).get(), end, &ended).ok());
  ASSERT_TRUE(stub_->GetResponsible(Ctx({}).get(), req, &resp).ok());
  EXPECT_EQ(resp.grid_workers_size(), 0);
  *req.mutable_at() = ToTimestamp(yesterday + absl::Minutes(1));
  ASSERT_TRUE(stub_->GetResponsible(Ctx({}).get(), req, &resp).ok());
  EXPECT_EQ(resp.grid_workers_size(), 1);

  v1::GetGridPublicationRequest pub_req;
  pub_req.set_code("3301.06.003.001.g01");
  v1::GridPublication pub;
  ASSERT_TRUE(stub_->GetGridPublication(Ctx({}).get(), pub_req, &pub).ok());
  ASSERT_EQ(pub.staff_size(), 1);
  EXPECT_EQ(pub.staff(0).duty(), "巡查、走访、上报");
}

TEST_F(ResidentsServiceTest, ImportingTheSameBatchTwiceChangesNothing) {
  v1::ImportBatchRequest batch;
  auto region = [&](const std::string& code, const std::string& parent, v1::RegionLevel level) {
    v1::Region* r = batch.add_items()->mutable_region();
    r->set_code(code);
    r->set_name(code);
    r->set_level(level);
    r->set_parent_code(parent);
    return r;
  };
  region("3301", "", v1::REGION_LEVEL_CITY);
  region("3301.06", "3301", v1::REGION_LEVEL_DISTRICT);
  Square(region("3301.06.g01", "3301.06", v1::REGION_LEVEL_GRID), 30.28, 120.10);
  v1::Household* h = batch.add_items()->mutable_household();
  h->set_code("HH-0001");
  h->set_region_code("3301.06.g01");
  h->set_address("文新街道 1 幢 1 单元 101");
  v1::Resident* r = batch.add_items()->mutable_resident();
  r->set_name("钱七");
  r->set_id_number(kIdNumber);
  r->set_household_code("HH-0001");
  v1::Resident* nameless = batch.add_items()->mutable_resident();
  nameless->set_name("孙八");
  nameless->set_household_code("HH-0001");
  v1::Resident* bad = batch.add_items()->mutable_resident();
  bad->set_name("坏行");
  bad->set_id_number("110105194912310021");
  v1::AssignStaffRequest* st = batch.add_items()->mutable_staff();
  st->set_region_code("3301.06.g01");
  st->set_person_id("gw-1");
  st->set_name("周九");
  st->set_role(v1::STAFF_ROLE_GRID_WORKER);
  st->set_on_duty(true);

  v1::ImportBatchResponse first, second;
  ASSERT_TRUE(stub_->ImportBatch(Ctx(kOperator).get(), batch, &first).ok());
  ASSERT_EQ(first.results_size(), batch.items_size());
  for (const auto& res : first.results()) {
    if (res.index() == 6) {
      EXPECT_EQ(res.outcome(), v1::IMPORT_OUTCOME_REJECTED);
      EXPECT_TRUE(absl::StartsWith(res.message(), "resident.id_number")) << res.message();
    } else {
      EXPECT_EQ(res.outcome(), v1::IMPORT_OUTCOME_CREATED) << res.index() << " " << res.message();
    }
  }
  const std::vector<std::string> before = Everything();
  ASSERT_TRUE(stub_->ImportBatch(Ctx(kOperator).get(), batch, &second).ok());
  for (const auto& res : second.results()) {
    EXPECT_EQ(res.outcome(),
              res.index() == 6 ? v1::IMPORT_OUTCOME_REJECTED : v1::IMPORT_OUTCOME_UNCHANGED)
        << res.index() << " " << res.message();
  }
  EXPECT_EQ(Everything().size(), before.size());
  v1::GridPublication pub;
  v1::GetGridPublicationRequest pub_req;
  pub_req.set_code("3301.06.g01");
  ASSERT_TRUE(stub_->GetGridPublication(Ctx({}).get(), pub_req, &pub).ok());
  EXPECT_EQ(pub.household_count(), 1);
}

TEST_F(ResidentsServiceTest, TheRestOfTheApiOverTheSameLedger) {
  BuildTree();
  v1::GetRegionRequest get_region;
  get_region.set_code("3301.06.003");
  v1::Region region;
  ASSERT_TRUE(stub_->GetRegion(Ctx({}).get(), get_region, &region).ok());
  EXPECT_EQ(region.name(), "文新街道");
  get_region.set_code("3301.06.404");
  EXPECT_EQ(stub_->GetRegion(Ctx({}).get(), get_region, &region).error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::UpdateRegionRequest rename;
  rename.set_request_id("rename-1");
  rename.set_code("3301.06.003");
  rename.set_name("文新街道办事处");
  rename.set_expected_version(7);
  EXPECT_EQ(stub_->UpdateRegion(Ctx(kOperator).get(), rename, &region).error_code(),
            grpc::StatusCode::ABORTED);
  rename.set_request_id("rename-2");
  rename.set_expected_version(1);
  ASSERT_TRUE(stub_->UpdateRegion(Ctx(kOperator).get(), rename, &region).ok());
  EXPECT_EQ(region.version(), 2);
  EXPECT_EQ(region.name(), "文新街道办事处");

  // A household in a building of grid g01, found again by id; it counts for the grid.
  v1::Region building;
  ASSERT_TRUE(Region("3301.06.003.001.g01.b03", "3幢", v1::REGION_LEVEL_BUILDING,
                     "3301.06.003.001.g01", &building)
                  .ok());
  v1::CreateHouseholdRequest hh;
  hh.set_request_id("hh-1");
  hh.mutable_household()->set_code("WX-0301");
  hh.mutable_household()->set_region_code("3301.06.003.001.g01.b03");
  hh.mutable_household()->set_address("嘉绿苑 3 幢 301");
  v1::Household household;
  ASSERT_TRUE(stub_->CreateHousehold(Ctx(kOperator).get(), hh, &household).ok());
  EXPECT_EQ(household.grid_code(), "3301.06.003.001.g01");
  hh.set_request_id("hh-2");
  EXPECT_EQ(stub_->CreateHousehold(Ctx(kOperator).get(), hh, &household).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  v1::GetHouseholdRequest get_hh;
  get_hh.set_id(household.id());
  v1::Household again;
  ASSERT_TRUE(stub_->GetHousehold(Ctx(kWorker).get(), get_hh, &again).ok());
  EXPECT_EQ(again.code(), "WX-0301");

  // A resident of that household; an update with the masked values keeps them.
  v1::CreateResidentRequest create;
  create.set_request_id("res-hh");
  create.mutable_resident()->set_name("孙阿姨");
  create.mutable_resident()->set_id_number(kIdNumber);
  create.mutable_resident()->set_phone("13812345678");
  create.mutable_resident()->set_household_code("WX-0301");
  v1::Resident resident;
  ASSERT_TRUE(stub_->CreateResident(Ctx(kOperator).get(), create, &resident).ok());
  EXPECT_EQ(resident.region_code(), "3301.06.003.001.g01.b03");
  EXPECT_EQ(resident.household_id(), household.id());
  v1::UpdateResidentRequest update;
  update.set_request_id("upd-1");
  *update.mutable_resident() = resident;
  update.mutable_resident()->add_tags("disabled");
  update.set_expected_version(resident.version());
  v1::Resident updated;
  ASSERT_TRUE(stub_->UpdateResident(Ctx(kOperator).get(), update, &updated).ok());
  EXPECT_EQ(updated.version(), 2);
  EXPECT_EQ(updated.id_number(), resident.id_number());
  v1::GetResidentRequest get;
  get.set_id(resident.id());
  v1::Resident full;
  ASSERT_TRUE(stub_->GetResident(Ctx(kWorker).get(), get, &full).ok());
  EXPECT_EQ(full.id_number(), kIdNumber);
  EXPECT_EQ(full.phone(), "13812345678");
  update.set_request_id("upd-2");
  EXPECT_EQ(stub_->UpdateResident(Ctx(kOperator).get(), update, &updated).error_code(),
            grpc::StatusCode::ABORTED);

  // Staff listed, ended ones only on request.
  v1::AssignStaffRequest assign;
  assign.set_request_id("st-1");
  assign.set_region_code("3301.06.003.001.g01");
  assign.set_person_id("gw-1");
  assign.set_name("李网格");
  assign.set_role(v1::STAFF_ROLE_GRID_WORKER);
  assign.set_phone("0571-88886666");
  v1::StaffAssignment staff;
  ASSERT_TRUE(stub_->AssignStaff(Ctx(kOperator).get(), assign, &staff).ok());
  assign.set_request_id("st-bad");
  assign.set_phone("12345");
  grpc::Status bad = stub_->AssignStaff(Ctx(kOperator).get(), assign, &staff);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(bad.error_message(), "phone")) << bad.error_message();
  clock_.Advance(absl::Hours(1));
  v1::EndStaffAssignmentRequest end;
  end.set_request_id("end-1");
  end.set_id(staff.id());
  ASSERT_TRUE(stub_->EndStaffAssignment(Ctx(kOperator).get(), end, &staff).ok());
  v1::ListStaffRequest list;
  list.set_region_code("3301.06.003.001.g01");
  v1::ListStaffResponse listed;
  ASSERT_TRUE(stub_->ListStaff(Ctx({}).get(), list, &listed).ok());
  EXPECT_EQ(listed.staff_size(), 0);
  list.set_include_ended(true);
  ASSERT_TRUE(stub_->ListStaff(Ctx({}).get(), list, &listed).ok());
  EXPECT_EQ(listed.staff_size(), 1);

  // A region with anything under it stays; an empty one goes, boundary and all.
  v1::DeleteRegionRequest del;
  del.set_request_id("del-1");
  del.set_code("3301.06.003.001.g01");
  v1::DeleteRegionResponse deleted;
  EXPECT_EQ(stub_->DeleteRegion(Ctx(kOperator).get(), del, &deleted).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  del.set_request_id("del-2");
  del.set_code("3301.06.003.001.g02");
  ASSERT_TRUE(stub_->DeleteRegion(Ctx(kOperator).get(), del, &deleted).ok());
  v1::LocateGridResponse found;
  EXPECT_EQ(Locate(30.285, 120.115, &found).error_code(), grpc::StatusCode::NOT_FOUND);
  auto versions = redis_->Command({"HKEYS", "res:{ledger}:boundaries"});
  ASSERT_TRUE(versions.ok()) << versions.status();
  for (const auto& version : versions->elements) {
    EXPECT_FALSE(absl::StartsWith(version.str, "3301.06.003.001.g02@")) << version.str;
  }
  EXPECT_EQ(redis_->Command({"EXISTS", "res:{ledger}:gridversions:3301.06.003.001.g02"})->integer,
            0);
  get_region.set_code("3301.06.003.001.g02");
  EXPECT_EQ(stub_->GetRegion(Ctx({}).get(), get_region, &region).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// gridctl's importer over CSV files from the seed generator, bad rows included, against
// this server; then the same files again.
TEST_F(ResidentsServiceTest, TheCsvImportRejectsBadRowsAndARerunChangesNothing) {
  const std::string dir = ::testing::TempDir() + "/seed-" + std::to_string(getpid());
  seedgen::SeedOptions options;
  options.communities = 2;
  options.grids_per_community = 2;
  options.residents = 200;
  options.bad_rows = true;
  auto written = seedgen::WriteSeedFiles(options, dir);
  ASSERT_TRUE(written.ok()) << written.status();

  gridctl::ImportCaller caller;
  caller.region_scope = "3301";
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", app_->port()),
                                     grpc::InsecureChannelCredentials());
  const std::vector<gridctl::ImportFile> files = {
      {gridctl::FileKind::kRegions, dir + "/regions.csv"},
      {gridctl::FileKind::kHouseholds, dir + "/households.csv"},
      {gridctl::FileKind::kResidents, dir + "/residents.csv"},
      {gridctl::FileKind::kStaff, dir + "/staff.csv"}};
  auto run = [&](std::ostringstream& rejects) {
    gridctl::ImporterOptions io;
    io.batch_size = 64;
    io.sleep = [](absl::Duration) {};
    gridctl::Importer importer(gridctl::MakeGrpcBatchSender(channel, caller, absl::Seconds(30)),
                               io);
    return importer.Run(files, rejects);
  };
  std::ostringstream rejects;
  auto first = run(rejects);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->total.rejected, written->bad_rows) << rejects.str();
  EXPECT_EQ(first->total.created, written->regions + written->households + written->residents +
                                      written->staff - written->bad_rows);
  // Each rejected row is named by file and line, with the reason.
  EXPECT_TRUE(absl::StrContains(rejects.str(), "residents.csv:")) << rejects.str();
  EXPECT_TRUE(absl::StrContains(rejects.str(), "check character")) << rejects.str();

  const size_t keys_before = redis_->Command({"DBSIZE"})->integer;
  std::ostringstream rejects_again;
  auto second = run(rejects_again);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->total.created, 0);
  EXPECT_EQ(second->total.updated, 0);
  EXPECT_EQ(second->total.unchanged, first->total.created);
  EXPECT_EQ(second->total.rejected, written->bad_rows);
  EXPECT_EQ(static_cast<size_t>(redis_->Command({"DBSIZE"})->integer), keys_before);
  std::filesystem::remove_all(dir);

  // The imported ledger answers: every grid of the seed has its worker on duty.
  v1::GetResponsibleRequest req;
  req.set_region_code("3301.06.003.001.g01");
  v1::GetResponsibleResponse resp;
  ASSERT_TRUE(stub_->GetResponsible(Ctx({}).get(), req, &resp).ok());
  EXPECT_GE(resp.grid_workers_size(), 1);
  EXPECT_TRUE(resp.has_leader());
}

}  // namespace
}  // namespace gridloop::residents
