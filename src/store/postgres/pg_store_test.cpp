// PgStore beyond the contract: several nodes on one database, lost connections, an
// unreachable server, schema versions. Needs SCEPTER_TEST_POSTGRES (pg_test_util.h).

#include "store/postgres/pg_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/testing.h"
#include "store/postgres/pg_test_util.h"
#include "store/postgres/reserve.h"
#include "store/postgres/schema.h"
#include "store/test_util.h"

namespace scepter::store {
namespace {

using testing::make_cert;
using testing::make_request;
using testing::one_cert;
using testing::PgSchema;

constexpr int kRounds = 20;

// Runs `fn(t)` on `n` threads released together.
void run_together(int n, const std::function<void(int)>& fn) {
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < n) std::this_thread::yield();
      fn(t);
    });
  }
  for (auto& th : threads) th.join();
}

PgOptions small_pool() {
  PgOptions o;
  o.max_connections = 4;
  return o;
}

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string base = testing::postgres_test_url();
    if (base.empty()) return testing::skip_without_postgres();
    auto schema = PgSchema::create(base);
    ASSERT_OK(schema);
    schema_ = std::move(*schema);
  }

  std::unique_ptr<PgStore> open(const std::string& url) {
    auto s = PgStore::open(url, small_pool());
    EXPECT_OK(s);
    return s ? std::move(*s) : nullptr;
  }
  // Two nodes of one CA: two stores on one database.
  void open_two() {
    a_ = open(schema_->url());
    b_ = open(schema_->url());
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
  }
  Store& node(int i) { return i % 2 == 0 ? *a_ : *b_; }

  std::unique_ptr<PgSchema> schema_;
  std::unique_ptr<PgStore> a_;  // destroyed before the schema
  std::unique_ptr<PgStore> b_;
};

TEST_F(PgStoreTest, TwoNodesNeverAllocateTheSameSerialOrId) {
  open_two();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 300;
  std::vector<std::vector<Serial>> serials(kThreads);
  std::vector<std::vector<RequestId>> ids(kThreads);
  run_together(kThreads, [&](int t) {
    for (int i = 0; i < kPerThread; ++i) {
      auto s = node(t).allocate_serial();
      auto id = node(t).next_request_id();
      EXPECT_OK(s);
      EXPECT_OK(id);
      serials[t].push_back(s.value_or(0));
      ids[t].push_back(id.value_or(0));
    }
  });
  std::set<Serial> all_serials;
  std::set<RequestId> all_ids;
  for (int t = 0; t < kThreads; ++t) {
    for (std::size_t i = 1; i < serials[t].size(); ++i) EXPECT_LT(serials[t][i - 1], serials[t][i]);
    all_serials.insert(serials[t].begin(), serials[t].end());
    all_ids.insert(ids[t].begin(), ids[t].end());
  }
  EXPECT_EQ(all_serials.size(), std::size_t{kThreads * kPerThread});
  EXPECT_EQ(all_ids.size(), std::size_t{kThreads * kPerThread});
  EXPECT_EQ(*all_serials.begin(), 2u);
  EXPECT_EQ(*all_ids.begin(), 1);
}

// A value one node stores above every block taken so far is never handed out by the
// other, while both keep allocating: what the other still has of an older block is
// below it, and its next block starts above it. (A value stored inside a block another
// node took before is the primary key's to refuse: SameSerialFromTwoNodesOneWins.)
TEST_F(PgStoreTest, ExplicitValuesRaiseTheOtherNodesCounters) {
  open_two();
  auto row = [&](const char* counter) {
    return std::stoll(schema_->value(
        fmt::format("SELECT n FROM {}.counters WHERE name = '{}'", schema_->name(), counter)));
  };
  // Allocates until a value above `v`: none is `v`; returns the first above.
  auto first_above = [](auto allocate, std::int64_t v) {
    for (int i = 0; i <= pg::Reserve::kMaxBlock; ++i) {
      const std::int64_t got = allocate();
      EXPECT_NE(got, v);
      if (got > v) return got;
    }
    ADD_FAILURE() << "no value above " << v;
    return std::int64_t{0};
  };
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    while (!stop.load()) {
      EXPECT_OK(a_->allocate_serial());
      EXPECT_OK(b_->next_request_id());
    }
  });
  auto b_serial = [&] { return static_cast<std::int64_t>(b_->allocate_serial().value_or(0)); };
  auto a_id = [&] { return a_->next_request_id().value_or(0); };
  for (int round = 0; round < kRounds; ++round) {
    EXPECT_OK(b_->allocate_serial());  // b holds a block of serials
    const auto ahead = static_cast<Serial>(row(pg::kSerialCounter) + 50);
    ASSERT_OK(a_->write(one_cert(ahead)));
    first_above(b_serial, static_cast<std::int64_t>(ahead));

    EXPECT_OK(a_->next_request_id());
    const RequestId id = row(pg::kRequestCounter) + 50;
    WriteBatch put;
    put.put_request(make_request(id));
    ASSERT_OK(b_->write(put));
    first_above(a_id, id);
  }
  stop = true;
  churn.join();

  // The legacy floor written by the CA takes effect on every node at once.
  const std::int64_t floor = row(pg::kSerialCounter) + 1000;
  WriteBatch b;
  b.put_meta("last_serial", std::to_string(floor));
  ASSERT_OK(a_->write(b));
  EXPECT_EQ(first_above(b_serial, floor), floor + 1);
}

// A node takes values in blocks once they are asked for quickly, one at a time
// otherwise: a lone node's serials stay consecutive.
TEST_F(PgStoreTest, ValuesComeInBlocksUnderLoadOnly) {
  open_two();
  auto row = [&] {
    return std::stoll(schema_->value(fmt::format("SELECT n FROM {}.counters WHERE name = '{}'",
                                                 schema_->name(), pg::kSerialCounter)));
  };
  EXPECT_EQ(a_->allocate_serial().value_or(0), 2u);
  EXPECT_EQ(row(), 2);
  for (int i = 0; i < 500; ++i) EXPECT_OK(a_->allocate_serial());  // up to 502
  // Blocks of 1, 2, 4, ... 64, then 64: [2], [3, 4], ... [33, 64], [65, 128], ...
  EXPECT_EQ(row(), 512);
  // A value of a's block is never b's.
  const Serial next_b = b_->allocate_serial().value_or(0);
  EXPECT_GT(next_b, static_cast<Serial>(502));
  EXPECT_EQ(next_b, static_cast<Serial>(row()));
}

TEST_F(PgStoreTest, SameSerialFromTwoNodesOneWins) {
  open_two();
  for (Serial s = 1; s <= kRounds; ++s) {
    std::atomic<int> won{0};
    std::atomic<int> lost{0};
    run_together(2, [&](int t) {
      CertRecord c = make_cert(s);
      c.subject = "node " + std::to_string(t);
      WriteBatch batch;
      batch.put_certificate(c);
      const Status st = node(t).write(batch);
      if (st.ok()) {
        won.fetch_add(1);
      } else {
        EXPECT_EQ(st.code(), Code::kAlreadyExists) << st.to_string();
        lost.fetch_add(1);
      }
    });
    EXPECT_EQ(won.load(), 1) << "serial " << s;
    EXPECT_EQ(lost.load(), 1) << "serial " << s;
  }
  EXPECT_EQ(a_->certificate_count().value_or(0), std::uint64_t{kRounds});
}

// A client resending one transaction through a balancer reaches both nodes: of the two
// requests they store for it, one wins. The winner can be stored again (granted).
TEST_F(PgStoreTest, SameTransactionFromTwoNodesOneWins) {
  open_two();
  for (int round = 0; round < kRounds; ++round) {
    const std::string tid = "TID" + std::to_string(round);
    std::atomic<RequestId> winner{0};
    std::atomic<int> lost{0};
    run_together(2, [&](int t) {
      const RequestId id = node(t).next_request_id().value_or(0);
      WriteBatch batch;
      batch.put_request(make_request(id, tid));
      const Status st = node(t).write(batch);
      if (st.ok()) {
        winner = id;
      } else {
        EXPECT_EQ(st.code(), Code::kAlreadyExists) << st.to_string();
        lost.fetch_add(1);
      }
    });
    ASSERT_EQ(lost.load(), 1) << tid;
    auto stored = b_->request_by_transaction(tid);
    ASSERT_OK(stored);
    EXPECT_EQ(stored->id, winner.load());
    RequestRecord granted = *stored;
    granted.state = RequestState::kGranted;
    WriteBatch again;
    again.put_request(granted);
    EXPECT_OK(a_->write(again));
  }
  // Requests without a transactionID (the shell's) are not limited.
  for (int i = 0; i < 3; ++i) {
    WriteBatch batch;
    batch.put_request(make_request(a_->next_request_id().value_or(0)));
    EXPECT_OK(a_->write(batch));
  }
}

// A database of schema version 1 in which two requests share a transactionID (two nodes
// raced before version 2) opens: the newer one keeps answering for the transaction.
TEST_F(PgStoreTest, SchemaVersionOneIsMigrated) {
  ASSERT_OK(schema_->exec(pg::migration_sql(1)));
  ASSERT_OK(schema_->exec(
      "INSERT INTO meta(key, value) VALUES ('schema_version', convert_to('1', 'UTF8'))"));
  std::string rows;
  for (const auto& [id, tid] : {std::pair{5, "RACED"}, {7, "RACED"}, {9, "OTHER"}}) {
    rows +=
        fmt::format("{}({}, 0, 0, '{}'::bytea, ''::bytea, ''::bytea, ''::bytea, 0, ''::bytea, 0)",
                    rows.empty() ? "" : ", ", id, tid);
  }
  ASSERT_OK(
      schema_->exec("INSERT INTO requests(id, state, kind, transaction_id, csr_der, "
                    "fingerprint, subject, created, signer_cert_der, flags) VALUES " +
                    rows));
  auto store = open(schema_->url());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(schema_->value("SELECT convert_from(value, 'UTF8') FROM " + schema_->name() +
                           ".meta WHERE key = 'schema_version'"),
            std::to_string(pg::kSchemaVersion));
  auto raced = store->request_by_transaction("RACED");
  ASSERT_OK(raced);
  EXPECT_EQ(raced->id, 7);
  EXPECT_EQ(store->request(5).value_or(RequestRecord{}).transaction_id, "");
  EXPECT_EQ(store->request_by_transaction("OTHER").value_or(RequestRecord{}).id, 9);
  WriteBatch dup;
  dup.put_request(make_request(11, "RACED"));
  EXPECT_CODE(store->write(dup), Code::kAlreadyExists);
  // Revocation reasons (version 3) work on the migrated tables.
  WriteBatch revoked = one_cert(12);
  revoked.revoke(12, from_unix(1'700'000'000), 1);  // keyCompromise
  ASSERT_OK(store->write(revoked));
  EXPECT_EQ(store->certificate(12).value_or(CertRecord{}).revocation_reason, 1);
}

// Two nodes change one ACME record from the version both read (an order finalised
// twice, through two nodes): exactly one compare-and-set wins, the other is kAborted.
// Creating one record from both: one insert wins, the other is kAlreadyExists.
TEST_F(PgStoreTest, AcmeCompareAndSetFromTwoNodesOneWins) {
  open_two();
  constexpr int kThreads = 4;
  for (int round = 0; round < kRounds; ++round) {
    const std::string id = "order-" + std::to_string(round);
    std::atomic<int> created{0};
    run_together(2, [&](int t) {
      AcmeRecord rec;
      rec.kind = AcmeKind::kOrder;
      rec.id = id;
      rec.owner = "acct";
      rec.body = fmt::format("{{\"node\":{}}}", t);
      WriteBatch b;
      b.put_acme(rec);
      const Status st = node(t).write(b);
      if (st.ok()) {
        created.fetch_add(1);
      } else {
        EXPECT_EQ(st.code(), Code::kAlreadyExists) << st.to_string();
      }
    });
    ASSERT_EQ(created.load(), 1) << id;
    auto read = a_->acme(AcmeKind::kOrder, id);
    ASSERT_OK(read);
    ASSERT_EQ(read->version, 1);
    std::atomic<int> won{0};
    std::atomic<int> winner{-1};
    run_together(kThreads, [&](int t) {
      AcmeRecord mine = *read;
      mine.body = fmt::format("{{\"status\":\"valid\",\"by\":{}}}", t);
      WriteBatch b;
      b.put_acme(mine);
      const Status st = node(t).write(b);
      if (st.ok()) {
        won.fetch_add(1);
        winner = t;
      } else {
        EXPECT_EQ(st.code(), Code::kAborted) << st.to_string();
      }
    });
    ASSERT_EQ(won.load(), 1) << id;
    auto after = b_->acme(AcmeKind::kOrder, id);
    ASSERT_OK(after);
    EXPECT_EQ(after->version, 2);
    EXPECT_EQ(after->body, fmt::format("{{\"status\":\"valid\",\"by\":{}}}", winner.load()));
  }
  EXPECT_EQ(b_->count_acme(AcmeKind::kOrder).value_or(0), std::uint64_t{kRounds});
}

// A database of schema version 3 (before ACME records) gains the table acme at open.
TEST_F(PgStoreTest, SchemaVersionThreeGainsTheAcmeTable) {
  for (int v = 1; v <= 3; ++v) ASSERT_OK(schema_->exec(pg::migration_sql(v)));
  ASSERT_OK(schema_->exec(
      "INSERT INTO meta(key, value) VALUES ('schema_version', convert_to('3', 'UTF8'))"));
  ASSERT_OK(
      schema_->exec("INSERT INTO certificates(serial, der, subject, not_before, not_after) "
                    "VALUES (2, '\\x3082'::bytea, 'cn=r2'::bytea, 1700000000, 1800000000)"));
  EXPECT_EQ(schema_->value("SELECT to_regclass('" + schema_->name() + ".acme') IS NULL"), "t");
  auto store = open(schema_->url());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(schema_->value("SELECT convert_from(value, 'UTF8') FROM " + schema_->name() +
                           ".meta WHERE key = 'schema_version'"),
            std::to_string(pg::kSchemaVersion));
  EXPECT_EQ(store->certificate(2).value_or(CertRecord{}).subject, "cn=r2");
  AcmeRecord account;
  account.kind = AcmeKind::kAccount;
  account.id = "acct";
  account.body = "{}";
  WriteBatch b;
  b.put_acme(account);
  ASSERT_OK(store->write(b));
  EXPECT_EQ(store->acme(AcmeKind::kAccount, "acct").value_or(AcmeRecord{}).version, 1);
  EXPECT_EQ(schema_->value("SELECT count(*) FROM pg_indexes WHERE schemaname = '" +
                           schema_->name() + "' AND indexname IN ('acme_owner', 'acme_expires')"),
            "2");
}

TEST_F(PgStoreTest, OneTimeValueFromTwoNodesOneWins) {
  open_two();
  constexpr int kThreads = 4;
  for (int round = 0; round < kRounds; ++round) {
    const std::string otp = "otp-" + std::to_string(round);
    WriteBatch setup;
    setup.put_meta("otp", otp);
    ASSERT_OK(a_->write(setup));
    std::atomic<int> won{0};
    run_together(kThreads, [&](int t) {
      WriteBatch b;
      b.delete_meta_if("otp", otp);
      b.put_request(make_request(round * kThreads + t + 1));
      const Status st = node(t).write(b);
      if (st.ok()) {
        won.fetch_add(1);
      } else {
        EXPECT_EQ(st.code(), Code::kNotFound) << st.to_string();
      }
    });
    EXPECT_EQ(won.load(), 1) << "round " << round;
    EXPECT_FALSE(b_->meta("otp")->has_value());
  }
  EXPECT_EQ(a_->count_requests({}).value_or(0), std::uint64_t{kRounds});
}

TEST_F(PgStoreTest, RevokeFromTwoNodesOneWins) {
  open_two();
  WriteBatch certs;
  for (Serial s = 1; s <= kRounds; ++s) certs.put_certificate(make_cert(s));
  ASSERT_OK(a_->write(certs));
  for (Serial s = 1; s <= kRounds; ++s) {
    std::atomic<int> won{0};
    run_together(2, [&](int t) {
      WriteBatch b;
      b.revoke(s, from_unix(1'700'000'000 + t));
      const Status st = node(t).write(b);
      if (st.ok()) {
        won.fetch_add(1);
      } else {
        EXPECT_EQ(st.code(), Code::kAlreadyExists) << st.to_string();
      }
    });
    EXPECT_EQ(won.load(), 1) << "serial " << s;
  }
  std::size_t revoked = 0;
  ASSERT_OK(b_->for_each_revocation([&](const Revocation&) { ++revoked; }));
  EXPECT_EQ(revoked, std::size_t{kRounds});
}

// Batches that lock the same rows in opposite orders may deadlock; the server aborts
// one, and the engine runs it again: both succeed.
TEST_F(PgStoreTest, OpposingBatchesBothCommit) {
  open_two();
  constexpr int kKeys = 40;
  WriteBatch setup;
  for (int k = 0; k < kKeys; ++k) setup.put_meta("k" + std::to_string(k), "0");
  ASSERT_OK(a_->write(setup));
  for (int round = 0; round < 3; ++round) {
    run_together(2, [&](int t) {
      WriteBatch b;
      for (int i = 0; i < kKeys; ++i) {
        const int k = t == 0 ? i : kKeys - 1 - i;
        b.put_meta("k" + std::to_string(k), std::to_string(t));
      }
      EXPECT_OK(node(t).write(b));
    });
  }
}

TEST_F(PgStoreTest, UnreachableServerIsUnavailableQuickly) {
  // Port 1 of the loopback: nothing listens, the connection is refused.
  const auto start = std::chrono::steady_clock::now();
  auto s = PgStore::open("postgresql://scepter:hunter2-secret@127.0.0.1:1/scepter_test");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(6));
  EXPECT_CODE(s, Code::kUnavailable);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().message().find("hunter2"), std::string::npos) << s.error().message();
  EXPECT_NE(s.error().message().find("scepter:***@127.0.0.1:1"), std::string::npos)
      << s.error().message();
}

// A server that keeps the connection open but does not answer (here: a table another
// session holds locked) fails the call after the store's timeout, without a retry that
// would wait as long again; once it answers, the store works again.
TEST_F(PgStoreTest, AServerThatDoesNotAnswerFailsTheCallInTime) {
  PgOptions options = small_pool();
  options.timeout = std::chrono::milliseconds(300);
  auto opened = PgStore::open(schema_->url(), options);
  ASSERT_OK(opened);
  PgStore& store = **opened;
  ASSERT_OK(store.write(one_cert(5)));

  std::unique_ptr<PGconn, decltype(&PQfinish)> locker(PQconnectdb(schema_->url().c_str()),
                                                      &PQfinish);
  ASSERT_EQ(PQstatus(locker.get()), CONNECTION_OK);
  PQclear(PQexec(locker.get(), "BEGIN; LOCK TABLE certificates IN ACCESS EXCLUSIVE MODE"));

  for (int i = 0; i < 2; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto read = store.certificate(5);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_CODE(read, Code::kUnavailable);
    if (!read) {
      EXPECT_NE(read.error().message().find("did not answer within 0.3 s"), std::string::npos)
          << read.error().message();
    }
    EXPECT_GE(took, std::chrono::milliseconds(300));
    EXPECT_LT(took, std::chrono::seconds(3));
  }
  const auto start = std::chrono::steady_clock::now();
  const Status w = store.write(one_cert(6));
  EXPECT_EQ(w.code(), Code::kUnavailable) << w.to_string();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));

  PQclear(PQexec(locker.get(), "COMMIT"));
  EXPECT_OK(store.certificate(5));
  EXPECT_OK(store.write(one_cert(7)));
}

TEST_F(PgStoreTest, KilledConnectionsAreReplaced) {
  const std::string app = "scepter_kill_" + schema_->name();
  auto store = open(schema_->url_with("application_name", app));
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->write(one_cert(5)));
  // Several connections in the pool, all idle.
  run_together(4, [&](int) { EXPECT_OK(store->certificate(5)); });
  ASSERT_GE(store->open_connections(), 1u);

  auto kill = [&] {
    return schema_->value(
        "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
        "WHERE application_name = '" +
        app + "'");
  };
  EXPECT_NE(kill(), "0");
  // The next call may fail (kUnavailable) or reconnect; the one after it works.
  auto first = store->certificate(5);
  if (!first) {
    EXPECT_CODE(first, Code::kUnavailable);
  }
  EXPECT_OK(store->certificate(5));

  EXPECT_NE(kill(), "0");
  const Status w = store->write(one_cert(6));
  if (!w.ok()) {
    EXPECT_EQ(w.code(), Code::kUnavailable) << w.to_string();
  }
  EXPECT_OK(store->write(one_cert(7)));
  EXPECT_OK(store->certificate(7));

  EXPECT_NE(kill(), "0");
  auto serial = store->allocate_serial();
  if (!serial) {
    EXPECT_CODE(serial, Code::kUnavailable);
  }
  EXPECT_OK(store->allocate_serial());
}

// One node at a time holds a role (the node that serves a CA). The lease ends when it is
// released, or when its session does; roles of other names are independent.
TEST_F(PgStoreTest, ARoleIsHeldByOneNodeAtATime) {
  const std::string app = "scepter_role_" + schema_->name();
  a_ = open(schema_->url_with("application_name", app));
  b_ = open(schema_->url());
  ASSERT_NE(a_, nullptr);
  ASSERT_NE(b_, nullptr);
  const std::string role = "serve:" + schema_->name();  // advisory locks span the database
  auto first = a_->try_take_role(role);
  ASSERT_OK(first);
  ASSERT_NE(*first, nullptr);
  EXPECT_TRUE((*first)->held());
  auto second = b_->try_take_role(role);
  ASSERT_OK(second);
  EXPECT_EQ(*second, nullptr);
  auto other = b_->try_take_role(role + "-other");
  ASSERT_OK(other);
  EXPECT_NE(*other, nullptr);

  first->reset();
  auto again = b_->try_take_role(role);
  ASSERT_OK(again);
  ASSERT_NE(*again, nullptr);
  b_->try_take_role(role).value().reset();  // refused: nothing to release

  // A's next lease loses its session: held() says so, and B may take the role.
  again->reset();
  auto lease = a_->try_take_role(role);
  ASSERT_OK(lease);
  ASSERT_NE(*lease, nullptr);
  EXPECT_NE(schema_->value("SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_locks "
                           "JOIN pg_stat_activity USING (pid) WHERE locktype = 'advisory' "
                           "AND application_name = '" +
                           app + "'"),
            "0");
  EXPECT_FALSE((*lease)->held());
  auto taken = b_->try_take_role(role);
  ASSERT_OK(taken);
  EXPECT_NE(*taken, nullptr);
}

// Events of a committed batch reach the other nodes' watches, not the sender's own, and
// not those of a batch that failed. A listener whose session ends says so with "" and
// goes on receiving.
TEST_F(PgStoreTest, EventsReachTheOtherNodesOnceCommitted) {
  const std::string app = "scepter_watch_" + schema_->name();
  a_ = open(schema_->url_with("application_name", app));
  b_ = open(schema_->url());
  ASSERT_NE(a_, nullptr);
  ASSERT_NE(b_, nullptr);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> seen_a, seen_b;
  auto collect = [&](std::vector<std::string>& into) {
    return [&](const std::string& event) {
      std::lock_guard<std::mutex> lock(mu);
      into.push_back(event);
      cv.notify_all();
    };
  };
  auto wa = a_->watch(collect(seen_a));
  auto wb = b_->watch(collect(seen_b));
  ASSERT_OK(wa);
  ASSERT_OK(wb);
  auto wait_for = [&](std::vector<std::string>& list, const std::string& event) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(15),
                       [&] { return std::find(list.begin(), list.end(), event) != list.end(); });
  };
  const std::string tag = schema_->name();

  WriteBatch failing;  // rolled back: never delivered
  failing.notify("lost:" + tag);
  failing.revoke(12345, TimePoint{});
  EXPECT_CODE(b_->write(failing), Code::kNotFound);
  WriteBatch from_b;
  from_b.put_meta("k", "v");
  from_b.notify("crl:" + tag);
  ASSERT_OK(b_->write(from_b));
  EXPECT_TRUE(wait_for(seen_a, "crl:" + tag));
  WriteBatch from_a;
  from_a.notify("revocations:" + tag);
  ASSERT_OK(a_->write(from_a));
  EXPECT_TRUE(wait_for(seen_b, "revocations:" + tag));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(std::count(seen_a.begin(), seen_a.end(), "lost:" + tag), 0);
    EXPECT_EQ(std::count(seen_b.begin(), seen_b.end(), "crl:" + tag), 0);  // its own
    EXPECT_EQ(std::count(seen_a.begin(), seen_a.end(), "revocations:" + tag), 0);
  }

  // A's sessions end (its listener's among them): it reconnects, reports "", and hears B
  // again.
  EXPECT_NE(schema_->value("SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                           "WHERE application_name = '" +
                           app + "'"),
            "0");
  EXPECT_TRUE(wait_for(seen_a, ""));
  WriteBatch later;
  later.notify("later:" + tag);
  ASSERT_OK(b_->write(later));
  EXPECT_TRUE(wait_for(seen_a, "later:" + tag));
  wa->reset();  // stops and joins its thread
  wb->reset();
}

TEST_F(PgStoreTest, PoolSmallerThanTheCallers) {
  PgOptions one;
  one.max_connections = 1;
  auto s = PgStore::open(schema_->url(), one);
  ASSERT_OK(s);
  Store& store = **s;
  run_together(6, [&](int t) {
    for (int i = 0; i < 20; ++i) {
      const Serial serial = static_cast<Serial>(t * 100 + i + 1);
      EXPECT_OK(store.write(one_cert(serial)));
      EXPECT_OK(store.certificate(serial));
    }
  });
  EXPECT_EQ((*s)->open_connections(), 1u);
  // A callback may use the store while a walk is under way, even with one connection.
  ASSERT_OK(store.for_each_certificate([&](const CertRecord& c) {
    EXPECT_OK(store.certificate(c.serial));
    return true;
  }));
}

TEST_F(PgStoreTest, OverlappedWorkThatThrowsLeavesAfterTheCommit) {
  auto store = open(schema_->url());
  ASSERT_NE(store, nullptr);
  bool ran = false;
  EXPECT_THROW((void)store->write_overlapped(one_cert(9),
                                             [&] {
                                               ran = true;
                                               throw std::runtime_error("signing failed");
                                             }),
               std::runtime_error);
  EXPECT_TRUE(ran);
  EXPECT_OK(store->certificate(9));
  // A failing batch runs it too, once.
  int runs = 0;
  EXPECT_CODE(store->write_overlapped(one_cert(9), [&] { ++runs; }), Code::kAlreadyExists);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(store->stats().batches_failed, 1u);
}

TEST_F(PgStoreTest, SchemaAtTheNewestVersionReopens) {
  auto first = open(schema_->url());
  ASSERT_NE(first, nullptr);
  ASSERT_OK(first->write(one_cert(3)));
  first.reset();
  auto again = open(schema_->url());
  ASSERT_NE(again, nullptr);
  EXPECT_OK(again->certificate(3));
  EXPECT_EQ(schema_->value("SELECT convert_from(value, 'UTF8') FROM " + schema_->name() +
                           ".meta WHERE key = 'schema_version'"),
            std::to_string(pg::kSchemaVersion));
}

TEST_F(PgStoreTest, NodesStartingTogetherShareOneSchema) {
  std::vector<std::unique_ptr<PgStore>> stores(4);
  run_together(4, [&](int t) { stores[t] = open(schema_->url()); });
  for (auto& s : stores) ASSERT_NE(s, nullptr);
  ASSERT_OK(stores[0]->write(one_cert(4)));
  for (auto& s : stores) EXPECT_OK(s->certificate(4));
}

TEST_F(PgStoreTest, NewerSchemaIsRefused) {
  ASSERT_NE(open(schema_->url()), nullptr);
  ASSERT_OK(
      schema_->exec("UPDATE meta SET value = convert_to('99', 'UTF8') "
                    "WHERE key = 'schema_version'"));
  auto s = PgStore::open(schema_->url());
  EXPECT_CODE(s, Code::kUnavailable);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("newer"), std::string::npos) << s.error().message();
}

TEST_F(PgStoreTest, ForeignTablesAreRefused) {
  ASSERT_OK(schema_->exec("CREATE TABLE meta(key TEXT PRIMARY KEY, value BYTEA)"));
  auto s = PgStore::open(schema_->url());
  EXPECT_CODE(s, Code::kUnavailable);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("not a scepter database"), std::string::npos)
      << s.error().message();
}

}  // namespace
}  // namespace scepter::store
