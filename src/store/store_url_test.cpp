// open_store(): engine choice from the database URL.

#include <gtest/gtest.h>

#include "common/testing.h"
#include "store/memory/memory_store.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "store/test_util.h"

namespace scepter::store {
namespace {

using testing::one_cert;
using testing::TempDir;

template <class Engine>
bool is(const std::unique_ptr<Store>& s) {
  return dynamic_cast<Engine*>(s.get()) != nullptr;
}

TEST(OpenStore, MemoryUrl) {
  auto s = open_store({"memory:"});
  ASSERT_OK(s);
  EXPECT_TRUE(is<MemoryStore>(*s));
  ASSERT_OK((*s)->write(one_cert(1)));
  EXPECT_CODE(open_store({"memory:x"}), Code::kInvalidArgument);
}

TEST(OpenStore, SqliteUrlsAndBarePaths) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  for (const std::string& url : {"sqlite:" + dir.file("a.ser"), "SQLite:" + dir.file("b.ser"),
                                 "sqlite://" + dir.file("c.ser"), dir.file("d.ser"),
                                 std::string(":memory:"), std::string("sqlite::memory:")}) {
    auto s = open_store({url});
    ASSERT_OK(s) << url;
    EXPECT_TRUE(is<SqliteStore>(*s)) << url;
    EXPECT_OK((*s)->write(one_cert(1))) << url;
  }
  for (const char* name : {"a.ser", "b.ser", "c.ser", "d.ser"}) {
    auto s = SqliteStore::open(dir.file(name));
    ASSERT_OK(s) << name;
    EXPECT_OK((*s)->certificate(1)) << name;
  }
}

TEST(OpenStore, PathWithColonIsAPath) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  auto s = open_store({dir.file("ca:1.ser")});
  ASSERT_OK(s);
  EXPECT_TRUE(is<SqliteStore>(*s));
}

TEST(OpenStore, BadUrls) {
  EXPECT_CODE(open_store({""}), Code::kInvalidArgument);
  EXPECT_CODE(open_store({"sqlite:"}), Code::kInvalidArgument);
  EXPECT_CODE(open_store({"sqlite://host/x.ser"}), Code::kInvalidArgument);
  EXPECT_CODE(open_store({"tftp://10.1.1.1/ca.ser"}), Code::kInvalidArgument);
  EXPECT_CODE(open_store({"nvram:ca.ser"}), Code::kInvalidArgument);
  auto pg = open_store({"postgresql://ca@db/scepter"});
  EXPECT_CODE(pg, Code::kInvalidArgument);
  ASSERT_FALSE(pg.has_value());
  EXPECT_NE(pg.error().message().find("not supported yet"), std::string::npos);
  auto secret = open_store({"postgresql://ca:s3cret@db:5432/scepter"});
  ASSERT_FALSE(secret.has_value());
  EXPECT_EQ(secret.error().message().find("s3cret"), std::string::npos) << secret.error().message();
  EXPECT_NE(secret.error().message().find("postgresql://ca:***@db:5432/scepter"), std::string::npos)
      << secret.error().message();
  auto ftp = open_store({"ftp://x/y"});
  ASSERT_FALSE(ftp.has_value());
  EXPECT_NE(ftp.error().message().find("ftp"), std::string::npos);
}

TEST(OpenStore, MissingDirectoryIsUnavailable) {
  TempDir dir;
  const std::string path = dir.file("no/such/dir/ca.ser");
  auto s = open_store({"sqlite:" + path});
  EXPECT_CODE(s, Code::kUnavailable);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find(path), std::string::npos) << s.error().message();
}

TEST(RequestStateName, AllStates) {
  EXPECT_STREQ(request_state_name(RequestState::kInitial), "initial");
  EXPECT_STREQ(request_state_name(RequestState::kAuthorized), "authorized");
  EXPECT_STREQ(request_state_name(RequestState::kDenied), "denied");
  EXPECT_STREQ(request_state_name(RequestState::kGranted), "granted");
  EXPECT_STREQ(request_state_name(RequestState::kMalformed), "malformed");
  EXPECT_STREQ(request_state_name(RequestState::kPending), "pending");
}

TEST(WriteBatch, RecordsOpsInOrder) {
  WriteBatch b;
  EXPECT_TRUE(b.empty());
  b.put_meta("k", "v");
  b.revoke(3, from_unix(9));
  b.delete_request(4);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b.ops()[0].kind, WriteBatch::Op::Kind::kPutMeta);
  EXPECT_EQ(b.ops()[1].serial, 3u);
  EXPECT_EQ(b.ops()[1].at, from_unix(9));
  EXPECT_EQ(b.ops()[2].request_id, 4);
  b.clear();
  EXPECT_TRUE(b.empty());
}

}  // namespace
}  // namespace scepter::store
