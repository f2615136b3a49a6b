#pragma once
// The Store contract suite (STYLE §5): the fixture shared by the store_contract*_test.cpp
// files. Every TEST_P(StoreContract, ...) runs on every engine instantiated in
// store_contract_test.cpp.

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "store/store.h"
#include "store/test_util.h"

namespace scepter::store::testing {

// Owns whatever the engine needs besides the store (a scratch directory). Engines that
// persist can reopen their database, as a restarted process would.
struct Engine {
  std::unique_ptr<testing::TempDir> dir;
  std::unique_ptr<Store> store;
  std::function<std::unique_ptr<Store>()> reopen;  // null: nothing survives the store
};
using StoreFactory = Engine (*)();

class StoreContract : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    engine_ = GetParam()();
    ASSERT_NE(engine_.store, nullptr);
  }
  Store& store() { return *engine_.store; }
  bool can_reopen() const { return engine_.reopen != nullptr; }
  // Closes the store and opens its database again (the old one is gone first).
  void reopen() {
    engine_.store.reset();
    engine_.store = engine_.reopen();
    ASSERT_NE(engine_.store, nullptr);
  }

  std::vector<Serial> serials() {
    std::vector<Serial> out;
    EXPECT_OK(store().for_each_certificate([&](const CertRecord& c) {
      out.push_back(c.serial);
      return true;
    }));
    return out;
  }
  std::vector<Revocation> revocations() {
    std::vector<Revocation> out;
    EXPECT_OK(store().for_each_revocation([&](const Revocation& r) { out.push_back(r); }));
    return out;
  }

  Engine engine_;
};

inline void expect_same(const CertRecord& a, const CertRecord& b) {
  EXPECT_EQ(a.serial, b.serial);
  EXPECT_EQ(a.der, b.der);
  EXPECT_EQ(a.subject, b.subject);
  EXPECT_EQ(a.not_before, b.not_before);
  EXPECT_EQ(a.not_after, b.not_after);
  EXPECT_EQ(a.revoked_at, b.revoked_at);
  EXPECT_EQ(a.revocation_reason, b.revocation_reason);
  EXPECT_EQ(a.request_id, b.request_id);
  EXPECT_EQ(a.predecessor, b.predecessor);
  EXPECT_EQ(a.serial_entropy, b.serial_entropy);
}

inline void expect_same(const RequestRecord& a, const RequestRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.transaction_id, b.transaction_id);
  EXPECT_EQ(a.csr_der, b.csr_der);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.subject, b.subject);
  EXPECT_EQ(a.created, b.created);
  EXPECT_EQ(a.serial, b.serial);
  EXPECT_EQ(a.signer_cert_der, b.signer_cert_der);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.reason, b.reason);
}

inline void expect_same(const AcmeRecord& a, const AcmeRecord& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.owner, b.owner);
  EXPECT_EQ(a.body, b.body);
  EXPECT_EQ(a.expires, b.expires);
  EXPECT_EQ(a.version, b.version);
}

// A record not stored yet (version 0) whose body derives from the id.
inline AcmeRecord make_acme(AcmeKind kind, std::string id, std::string owner = "") {
  AcmeRecord r;
  r.kind = kind;
  r.body = "{\"id\":\"" + id + "\",\"status\":\"pending\"}";
  r.id = std::move(id);
  r.owner = std::move(owner);
  return r;
}

}  // namespace scepter::store::testing
