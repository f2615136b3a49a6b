// SqliteStore beyond the contract: files, errors, grouping of concurrent writes.

#include "store/sqlite/sqlite_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/db.h"
#include "store/sqlite/sqlite_test_util.h"
#include "store/test_util.h"

namespace scepter::store {
namespace {

using testing::eventually;
using testing::make_cert;
using testing::make_request;
using testing::one_cert;
using testing::RawConnection;
using testing::TempDir;

void write_file(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

TEST(SqliteStore, PersistsAcrossReopen) {
  TempDir dir;
  const std::string path = dir.file("ca.ser");
  RequestRecord granted = make_request(2, "tid-2");
  granted.state = RequestState::kGranted;
  granted.serial = 2;
  {
    auto s = SqliteStore::open(path);
    ASSERT_OK(s);
    WriteBatch b;
    b.put_certificate(make_cert(1));
    b.put_certificate(make_cert(2));
    b.put_certificate(make_cert(3));
    b.revoke(3, from_unix(1234));
    b.put_request(make_request(1, "tid-1"));
    b.put_request(granted);
    b.put_meta("last_serial", "3");
    ASSERT_OK((*s)->write(b));
  }
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));  // checkpointed on close
  auto s = SqliteStore::open(path);
  ASSERT_OK(s);
  Store& store = **s;
  EXPECT_EQ(store.certificate_count().value_or(0), 3u);
  EXPECT_EQ(store.certificate(2)->der, make_cert(2).der);
  EXPECT_EQ(store.certificate(3)->revoked_at, from_unix(1234));
  EXPECT_EQ(store.request_by_transaction("tid-2")->serial, Serial{2});
  EXPECT_EQ(store.requests()->size(), 2u);
  EXPECT_EQ(store.meta("last_serial")->value_or(""), "3");
  EXPECT_OK((*s)->check_integrity());
  EXPECT_CODE(store.write(one_cert(2)), Code::kAlreadyExists);
}

TEST(SqliteStore, EmptyFileBecomesADatabase) {
  TempDir dir;
  write_file(dir.file("ca.ser"), "");
  auto s = SqliteStore::open(dir.file("ca.ser"));
  ASSERT_OK(s);
  EXPECT_OK((*s)->write(one_cert(1)));
}

TEST(SqliteStore, MissingDirectoryIsUnavailable) {
  TempDir dir;
  const std::string path = dir.file("missing/ca.ser");
  auto s = SqliteStore::open(path);
  EXPECT_CODE(s, Code::kUnavailable);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find(path), std::string::npos) << s.error().message();
  EXPECT_NE(s.error().message().find("unable to open"), std::string::npos) << s.error().message();
}

TEST(SqliteStore, DirectoryIsUnavailable) {
  TempDir dir;
  EXPECT_CODE(SqliteStore::open(dir.path()), Code::kUnavailable);
}

TEST(SqliteStore, NotADatabaseIsUnavailable) {
  TempDir dir;
  const std::string path = dir.file("ca.ser");
  std::string junk;
  while (junk.size() < 8192) junk += "this is not a database; ";
  write_file(path, junk);
  auto s = SqliteStore::open(path);
  EXPECT_CODE(s, Code::kUnavailable);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find(path), std::string::npos) << s.error().message();
  EXPECT_NE(s.error().message().find("not a database"), std::string::npos) << s.error().message();
}

TEST(SqliteStore, AnotherApplicationsDatabaseIsUnavailable) {
  TempDir dir;
  const std::string path = dir.file("other.db");
  {
    RawConnection raw(path);
    ASSERT_OK(raw.exec("CREATE TABLE things(x)"));
  }
  auto s = SqliteStore::open(path);
  EXPECT_CODE(s, Code::kUnavailable);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("not a scepter database"), std::string::npos);
}

TEST(SqliteStore, NewerSchemaIsUnavailable) {
  TempDir dir;
  const std::string path = dir.file("ca.ser");
  ASSERT_OK(SqliteStore::open(path));
  {
    RawConnection raw(path);
    const std::string newer = std::to_string(sqlite::kSchemaVersion + 1);
    ASSERT_OK(
        raw.exec(("UPDATE meta SET value = '" + newer + "' WHERE key = 'schema_version'").c_str()));
  }
  auto s = SqliteStore::open(path);
  EXPECT_CODE(s, Code::kUnavailable);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("schema version"), std::string::npos);
}

TEST(SqliteStore, ReadOnlyFileIsUnavailable) {
  if (::geteuid() == 0) GTEST_SKIP() << "root ignores file permissions";
  TempDir dir;
  const std::string path = dir.file("ca.ser");
  ASSERT_OK(SqliteStore::open(path));
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  EXPECT_CODE(SqliteStore::open(path), Code::kUnavailable);
  ASSERT_EQ(::chmod(dir.path().c_str(), 0500), 0);
  EXPECT_CODE(SqliteStore::open(dir.file("new.ser")), Code::kUnavailable);
  ::chmod(dir.path().c_str(), 0700);
}

// A damaged file must give errors, never a crash: overwrite pages in the middle.
TEST(SqliteStore, CorruptFileGivesErrorsNotCrashes) {
  TempDir dir;
  const std::string path = dir.file("ca.ser");
  {
    auto s = SqliteStore::open(path);
    ASSERT_OK(s);
    WriteBatch b;
    for (Serial i = 1; i <= 2000; ++i) b.put_certificate(make_cert(i));
    for (RequestId i = 1; i <= 200; ++i) b.put_request(make_request(i, "t"));
    ASSERT_OK((*s)->write(b));
    WriteBatch r;
    for (Serial i = 1; i <= 2000; i += 3) r.revoke(i, from_unix(5));
    ASSERT_OK((*s)->write(r));
  }
  const auto size = std::filesystem::file_size(path);
  ASSERT_GT(size, 40'000u);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    for (std::uint64_t off = 4096 * 2; off < size; off += 4096 * 3) {
      f.seekp(static_cast<std::streamoff>(off));
      const std::string garbage(1500, '\xa5');
      f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    }
  }
  auto s = SqliteStore::open(path);
  if (!s.has_value()) {
    EXPECT_EQ(s.error().code(), Code::kUnavailable) << s.error().to_string();
    return;
  }
  Store& store = **s;
  EXPECT_CODE((*s)->check_integrity(), Code::kUnavailable);
  // Whatever each call returns, it returns.
  (void)store.certificate_count();
  for (Serial i = 1; i <= 2000; i += 97) (void)store.certificate(i);
  (void)store.for_each_certificate([](const CertRecord&) { return true; });
  (void)store.for_each_revocation([](const Revocation&) {});
  (void)store.requests();
  (void)store.request_by_transaction("t");
  (void)store.write(one_cert(5000));
  (void)store.meta("schema_version");
}

TEST(SqliteStore, CorruptHeaderIsUnavailable) {
  TempDir dir;
  const std::string path = dir.file("ca.ser");
  ASSERT_OK(SqliteStore::open(path));
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.write("garbage garbage garbage", 23);
  }
  EXPECT_CODE(SqliteStore::open(path), Code::kUnavailable);
}

TEST(SqliteStore, LockedDatabaseTimesOut) {
  TempDir dir;
  const std::string path = dir.file("ca.ser");
  auto s = SqliteStore::open(path, {.busy_timeout_ms = 50});
  ASSERT_OK(s);
  RawConnection other(path);
  ASSERT_OK(other.exec("BEGIN IMMEDIATE"));
  EXPECT_CODE((*s)->write(one_cert(1)), Code::kUnavailable);
  ASSERT_OK(other.exec("ROLLBACK"));
  ASSERT_OK((*s)->write(one_cert(1)));
}

// While a write waits for the file lock, reads are served by the read connection.
TEST(SqliteStore, ReadsDoNotWaitForTheWriter) {
  TempDir dir;
  const std::string path = dir.file("ca.ser");
  auto opened = SqliteStore::open(path, {.busy_timeout_ms = 60'000});
  ASSERT_OK(opened);
  SqliteStore& store = **opened;
  ASSERT_OK(store.write(one_cert(1)));
  RawConnection other(path);
  ASSERT_OK(other.exec("BEGIN IMMEDIATE"));
  std::thread writer([&] { EXPECT_OK(store.write(one_cert(2))); });
  ASSERT_TRUE(eventually([&] { return store.queued_writes() == 1; }));
  EXPECT_EQ(store.certificate_count().value_or(0), 1u);
  EXPECT_OK(store.certificate(1));
  EXPECT_CODE(store.certificate(2), Code::kNotFound);
  EXPECT_EQ(store.queued_writes(), 1u);  // the write is still stuck
  ASSERT_OK(other.exec("ROLLBACK"));
  writer.join();
  EXPECT_OK(store.certificate(2));
}

// Schema version 1 exactly as that release created it (do not change: it is the
// starting point the migrations must handle).
constexpr const char* kVersion1Schema = R"sql(
PRAGMA application_id=1396920404;
CREATE TABLE meta(
  key TEXT PRIMARY KEY NOT NULL,
  value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE counters(
  name TEXT PRIMARY KEY NOT NULL,
  n INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters VALUES ('certificates', 0);
CREATE TABLE certificates(
  serial INTEGER PRIMARY KEY CHECK (serial >= 0),
  der BLOB NOT NULL,
  subject TEXT NOT NULL,
  not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  revoked_at INTEGER,
  request_id INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX certificates_revoked ON certificates(serial, revoked_at)
  WHERE revoked_at IS NOT NULL;
CREATE TRIGGER certificates_counted AFTER INSERT ON certificates BEGIN
  UPDATE counters SET n = n + 1 WHERE name = 'certificates';
END;
CREATE TRIGGER certificates_uncounted AFTER DELETE ON certificates BEGIN
  UPDATE counters SET n = n - 1 WHERE name = 'certificates';
END;
CREATE TABLE requests(
  id INTEGER PRIMARY KEY,
  state INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  transaction_id TEXT NOT NULL,
  csr_der BLOB NOT NULL,
  fingerprint TEXT NOT NULL,
  subject TEXT NOT NULL,
  created INTEGER NOT NULL,
  serial INTEGER REFERENCES certificates(serial),
  signer_cert_der BLOB NOT NULL,
  flags INTEGER NOT NULL
);
CREATE INDEX requests_transaction ON requests(transaction_id, id);
INSERT INTO meta VALUES ('schema_version', '1');
)sql";

// What a version-1 server left behind: certificates 1-3 (3 revoked), requests 4 (granted,
// serial 3) and 6 (pending), and its own counters in meta.
void write_version1_database(const std::string& path) {
  RawConnection raw(path);
  ASSERT_OK(raw.exec("PRAGMA journal_mode=WAL"));
  ASSERT_OK(raw.exec(kVersion1Schema));
  ASSERT_OK(raw.exec(R"sql(
INSERT INTO certificates VALUES (1, X'3082', 'cn=ca', 1700000000, 1800000000, NULL, 0);
INSERT INTO certificates VALUES (2, X'308201', 'cn=r2', 1700000001, 1800000001, NULL, 4);
INSERT INTO certificates VALUES (3, X'308202', 'cn=r3', 1700000002, 1800000002, 1700000500, 5);
INSERT INTO requests VALUES (4, 3, 0, 'tid-4', X'3082AA', '0123456789ABCDEF0123456789ABCDEF',
                             'hostname=r4', 1700000004, 3, X'3000', 1);
INSERT INTO requests VALUES (6, 5, 1, '', X'3082BB', 'FEDCBA9876543210FEDCBA9876543210',
                             'cn=ioscs RA', 1700000006, NULL, X'', 0);
INSERT INTO meta VALUES ('last_serial', CAST('3' AS BLOB));
INSERT INTO meta VALUES ('last_request_id', CAST('7' AS BLOB));
INSERT INTO meta VALUES ('otp', CAST('abc 1700009999' AS BLOB));
)sql"));
}

TEST(SqliteStore, Version1DatabaseIsMigratedAndKeepsItsData) {
  TempDir dir;
  const std::string path = dir.file("ca.ser");
  write_version1_database(path);
  {
    auto opened = SqliteStore::open(path);
    ASSERT_OK(opened);
    SqliteStore& store = **opened;
    EXPECT_OK(store.check_integrity());
    EXPECT_EQ(store.meta("schema_version")->value_or(""), std::to_string(sqlite::kSchemaVersion));
    EXPECT_EQ(store.meta("otp")->value_or(""), "abc 1700009999");
    EXPECT_EQ(store.certificate_count().value_or(0), 3u);
    auto c3 = store.certificate(3);
    ASSERT_OK(c3);
    EXPECT_EQ(c3->der, std::string("\x30\x82\x02", 3));
    EXPECT_EQ(c3->subject, "cn=r3");
    EXPECT_EQ(c3->revoked_at, from_unix(1700000500));
    EXPECT_FALSE(c3->revocation_reason.has_value());
    EXPECT_EQ(c3->request_id, 5);
    EXPECT_FALSE(c3->predecessor.has_value());
    auto r4 = store.request_by_transaction("tid-4");
    ASSERT_OK(r4);
    EXPECT_EQ(r4->id, 4);
    EXPECT_EQ(r4->state, RequestState::kGranted);
    EXPECT_EQ(r4->serial, Serial{3});
    EXPECT_EQ(r4->signer_cert_der, std::string("\x30\x00", 2));
    EXPECT_EQ(r4->flags, 1);
    EXPECT_EQ(r4->reason, "");
    EXPECT_EQ(store.request(6)->kind, RequestKind::kRa);
    EXPECT_EQ(store.count_requests({RequestState::kPending}).value_or(0), 1u);
    int revoked = 0;
    ASSERT_OK(store.for_each_revocation([&](const Revocation& r) {
      EXPECT_EQ(r.serial, 3u);
      EXPECT_FALSE(r.reason.has_value());
      ++revoked;
    }));
    EXPECT_EQ(revoked, 1);
    // The counters continue from the old data.
    EXPECT_EQ(store.allocate_serial().value_or(0), 4u);
    EXPECT_EQ(store.next_request_id().value_or(0), 8);

    // New fields work on the migrated tables.
    CertRecord renewed = make_cert(4);
    renewed.predecessor = 2;
    renewed.serial_entropy = ~std::uint64_t{0};
    RequestRecord refused = make_request(8);
    refused.reason = "refused";
    WriteBatch b;
    b.put_certificate(renewed);
    b.put_request(refused);
    b.revoke(2, from_unix(1700000600), 4);  // superseded
    ASSERT_OK(store.write(b));
    WriteBatch del;
    del.delete_request(8);
    ASSERT_OK(store.write(del));
  }
  RawConnection raw(path);
  EXPECT_EQ(raw.query("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                      "('requests_created', 'requests_state')"),
            "2");
  EXPECT_EQ(raw.query("SELECT value FROM meta WHERE key = 'schema_last_request_id'"), "8");
  auto opened = SqliteStore::open(path);  // opening again migrates nothing
  ASSERT_OK(opened);
  EXPECT_EQ((*opened)->certificate(4)->predecessor, Serial{2});
  EXPECT_EQ((*opened)->certificate(4)->serial_entropy, ~std::uint64_t{0});
  EXPECT_EQ((*opened)->certificate(2)->revocation_reason, 4);
  EXPECT_EQ((*opened)->next_request_id().value_or(0), 9);  // 8 was deleted, not reused
  EXPECT_EQ((*opened)->allocate_serial().value_or(0), 5u);
  EXPECT_OK((*opened)->check_integrity());
}

// A fresh file gets the same schema as a migrated one.
TEST(SqliteStore, NewAndMigratedSchemasAgree) {
  TempDir dir;
  const std::string fresh = dir.file("fresh.ser");
  const std::string old = dir.file("old.ser");
  ASSERT_OK(SqliteStore::open(fresh));
  {
    RawConnection raw(old);
    ASSERT_OK(raw.exec(kVersion1Schema));
  }
  ASSERT_OK(SqliteStore::open(old));
  const char* kSchemaSql =
      "SELECT group_concat(type || ' ' || name || ': ' || sql, char(10)) FROM "
      "(SELECT * FROM sqlite_master ORDER BY type, name)";
  const std::string want = RawConnection(fresh).query(kSchemaSql);
  EXPECT_NE(want.find("requests_state"), std::string::npos) << want;
  EXPECT_EQ(RawConnection(old).query(kSchemaSql), want);
  EXPECT_EQ(RawConnection(old).query("SELECT value FROM meta WHERE key = 'schema_last_request_id'"),
            "0");
}

// The indexes are what keeps counting and expiry from reading the whole table.
TEST(SqliteStore, RequestQueriesUseTheIndexes) {
  TempDir dir;
  const std::string path = dir.file("ca.ser");
  ASSERT_OK(SqliteStore::open(path));
  RawConnection raw(path);
  EXPECT_NE(raw.plan("SELECT COUNT(*) FROM requests WHERE state IN (1, 2, 2, 2, 2, 2)")
                .find("requests_state"),
            std::string::npos);
  EXPECT_NE(raw.plan("DELETE FROM requests WHERE created < 5").find("requests_created"),
            std::string::npos);
}

// A file of schema version 4 (before ACME records): its data stays, and it gains the
// table acme with its indexes.
TEST(SqliteStore, Version4DatabaseGainsTheAcmeTable) {
  TempDir dir;
  const std::string path = dir.file("ca.ser");
  {
    auto opened = SqliteStore::open(path);
    ASSERT_OK(opened);
    CertRecord c = make_cert(2);
    c.revoked_at = from_unix(1'700'000'100);
    c.revocation_reason = 1;
    WriteBatch b;
    b.put_certificate(c);
    b.put_request(make_request(3, "tid-3"));
    ASSERT_OK((*opened)->write(b));
  }
  {
    // What version 4 left behind: everything but the table acme.
    RawConnection raw(path);
    ASSERT_OK(raw.exec("DROP TABLE acme"));
    ASSERT_OK(raw.exec("UPDATE meta SET value = '4' WHERE key = 'schema_version'"));
    ASSERT_EQ(raw.query("SELECT count(*) FROM sqlite_master WHERE name LIKE 'acme%'"), "0");
  }
  {
    auto opened = SqliteStore::open(path);
    ASSERT_OK(opened);
    SqliteStore& store = **opened;
    EXPECT_EQ(store.meta("schema_version")->value_or(""), std::to_string(sqlite::kSchemaVersion));
    EXPECT_EQ(store.certificate(2)->revocation_reason, 1);
    EXPECT_EQ(store.request_by_transaction("tid-3")->id, 3);
    EXPECT_EQ(store.count_acme(AcmeKind::kOrder).value_or(99), 0u);
    AcmeRecord order;
    order.kind = AcmeKind::kOrder;
    order.id = "o1";
    order.owner = "a1";
    order.body = "{}";
    order.expires = from_unix(1'800'000'000);
    WriteBatch b;
    b.put_acme(order);
    ASSERT_OK(store.write(b));
    EXPECT_EQ(store.acme(AcmeKind::kOrder, "o1")->version, 1);
    EXPECT_OK(store.check_integrity());
  }
  RawConnection raw(path);
  EXPECT_EQ(raw.query("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                      "('acme_owner', 'acme_expires')"),
            "2");
  EXPECT_NE(raw.plan("SELECT id FROM acme WHERE kind = 2 AND owner = 'a1' ORDER BY id")
                .find("acme_owner"),
            std::string::npos);
  EXPECT_NE(raw.plan("DELETE FROM acme WHERE expires <> 0 AND expires < 5").find("acme_expires"),
            std::string::npos);
  auto again = SqliteStore::open(path);  // opening again migrates nothing
  ASSERT_OK(again);
  EXPECT_EQ((*again)->acme(AcmeKind::kOrder, "o1")->owner, "a1");
}

TEST(SqliteStore, DamagedRequestMarkIsUnavailable) {
  TempDir dir;
  const std::string path = dir.file("ca.ser");
  ASSERT_OK(SqliteStore::open(path));
  {
    RawConnection raw(path);
    ASSERT_OK(raw.exec("UPDATE meta SET value = 'junk' WHERE key = 'schema_last_request_id'"));
  }
  auto s = SqliteStore::open(path);
  EXPECT_CODE(s, Code::kUnavailable);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("schema_last_request_id"), std::string::npos);
}

TEST(SqliteStore, UnknownOldSchemaVersionIsUnavailable) {
  TempDir dir;
  const std::string path = dir.file("ca.ser");
  ASSERT_OK(SqliteStore::open(path));
  {
    RawConnection raw(path);
    ASSERT_OK(raw.exec("UPDATE meta SET value = '0' WHERE key = 'schema_version'"));
  }
  EXPECT_CODE(SqliteStore::open(path), Code::kUnavailable);
}

}  // namespace
}  // namespace scepter::store
