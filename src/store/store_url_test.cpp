// open_store(): engine choice from the database URL.

#include <gtest/gtest.h>

#include "common/testing.h"
#include "common/url.h"
#include "store/memory/memory_store.h"
#include "store/postgres/pg_store.h"
#include "store/postgres/pg_test_util.h"
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
  auto ftp = open_store({"ftp://x/y"});
  ASSERT_FALSE(ftp.has_value());
  EXPECT_NE(ftp.error().message().find("ftp"), std::string::npos);
}

// Nothing listens on port 1 of the loopback: the connection is refused at once.
TEST(OpenStore, PostgresUrlsReachTheServerAndHideThePassword) {
  for (const std::string url :
       {"postgresql://ca:s3cret@127.0.0.1:1/scepter", "POSTGRES://ca:s3cret@127.0.0.1:1/scepter"}) {
    auto pg = open_store({url});
    EXPECT_CODE(pg, Code::kUnavailable);
    ASSERT_FALSE(pg.has_value());
    const std::string& msg = pg.error().message();
    EXPECT_EQ(msg.find("s3cret"), std::string::npos) << msg;
    EXPECT_NE(msg.find("ca:***@127.0.0.1:1/scepter"), std::string::npos) << msg;
  }
  auto query = open_store({"postgresql://ca@127.0.0.1:1/scepter?password=s3cret&sslmode=disable"});
  EXPECT_CODE(query, Code::kUnavailable);
  ASSERT_FALSE(query.has_value());
  EXPECT_EQ(query.error().message().find("s3cret"), std::string::npos) << query.error().message();
  EXPECT_NE(query.error().message().find("password=***&sslmode"), std::string::npos)
      << query.error().message();
  // libpq refuses what it cannot parse, and may quote it: still no password.
  auto bad = open_store({"postgresql://ca:s3cr%zzet@127.0.0.1:1/scepter?no_such_option=1"});
  EXPECT_CODE(bad, Code::kInvalidArgument);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message().find("s3cr"), std::string::npos) << bad.error().message();
}

TEST(OpenStore, PostgresUrlOpensAPgStore) {
  const std::string base = testing::postgres_test_url();
  if (base.empty()) return testing::skip_without_postgres();
  auto schema = testing::PgSchema::create(base);
  ASSERT_OK(schema);
  auto s = open_store({(*schema)->url()});
  ASSERT_OK(s);
  EXPECT_TRUE(is<PgStore>(*s));
  ASSERT_OK((*s)->write(one_cert(1)));
  EXPECT_OK((*s)->certificate(1));
}

TEST(Redacted, HidesPasswordsOnly) {
  EXPECT_EQ(redact_url("postgresql://ca:pw@db:5432/x"), "postgresql://ca:***@db:5432/x");
  EXPECT_EQ(redact_url("postgresql://ca@db/x"), "postgresql://ca@db/x");
  EXPECT_EQ(redact_url("postgresql://c:p@h1:5432,h2:5433/x?target_session_attrs=read-write"),
            "postgresql://c:***@h1:5432,h2:5433/x?target_session_attrs=read-write");
  EXPECT_EQ(redact_url("postgresql://db/x?user=ca&password=pw&sslmode=require"),
            "postgresql://db/x?user=ca&password=***&sslmode=require");
  EXPECT_EQ(redact_url("host=db password='p w' user=ca"), "host=db password=*** user=ca");
  EXPECT_EQ(redact_url("postgresql://db/x?passwordfile=/f"), "postgresql://db/x?passwordfile=/f");
  EXPECT_EQ(redact_url("/var/lib/ca.ser"), "/var/lib/ca.ser");
  EXPECT_EQ(redact_url("sqlite:/a@b:c/d.ser"), "sqlite:/a@b:c/d.ser");
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
