#pragma once
// Helpers for the ca/ unit tests only: a certificate server on a FakeClock in a scratch
// directory, and PKCS#10 requests made with pki::make_csr. Header-only.

#include <openssl/x509v3.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "ca/certificate_server.h"
#include "ca/keystore.h"
#include "common/clock.h"
#include "common/testing.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "pki/name.h"
#include "store/test_util.h"

namespace scepter::ca::testing {

// 2027-01-15T08:00:00Z: calendar-valid, well before 2049.
inline constexpr std::int64_t kStart = 1'800'000'000;

// The CA key of every test CA: a fixed key from tests/keys (tests/keys/make.sh).
inline const pki::Key& shared_ca_key() {
  static const pki::Key key = [] {
    std::ifstream f(::scepter::testing::source_path("tests/keys/rsa-2048-b.pem"));
    std::stringstream pem;
    pem << f.rdbuf();
    auto k = pki::Key::from_pem(pem.str());
    CA_ASSERT(k.has_value(), "missing test key");
    return *k;
  }();
  return key;
}

// A PKCS#10 for `subject` (IOS/RFC 4514 text) on a new P-256 key.
inline std::string make_csr_der(const std::string& subject, const std::string& challenge = "") {
  auto name = pki::parse_dn(subject);
  auto key = pki::Key::generate_ec(256);
  auto csr = pki::make_csr({.subject = name->get(), .key = *key, .challenge_password = challenge});
  return csr->der();
}

// The same asking for a CA certificate (basicConstraints CA:TRUE, as a sub-CA does).
inline std::string make_csr_der_ca(const std::string& subject) {
  auto name = pki::parse_dn(subject);
  auto key = pki::Key::generate_ec(256);
  pki::Ptr<X509_EXTENSION> bc(
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:TRUE"));
  auto csr = pki::make_csr({.subject = name->get(), .key = *key, .extensions = {bc.get()}});
  return csr->der();
}

inline constexpr int kTestKdfIterations = 1000;

// Resolves "nvram:x" to <dir>/x and absolute paths as they are, like Device does.
inline files::Resolver resolver_for(const std::string& dir) {
  return [dir](std::string_view url) -> Result<std::string> {
    if (url.starts_with("nvram:")) {
      std::string rest(url.substr(6));
      return rest.empty() ? dir : dir + "/" + rest;
    }
    if (url.starts_with("/")) return std::string(url);
    return fail(invalid_argument("unsupported URL " + std::string(url)));
  };
}

// A KeyStore and a CertificateServer "ca" in a scratch directory. The CA key is put in
// the key store up front (exportable, so it is archived).
class ServerHarness {
 public:
  explicit ServerHarness(ServerConfig config = default_config()) {
    // Cheap key derivation: the tests check what is encrypted, not how slowly.
    keys_ = std::move(*KeyStore::open(dir_.file("keys"), "master-passphrase", kTestKdfIterations));
    KeyEntry e{"ca", shared_ca_key(), KeyUsage::kGeneralPurpose, true, clock_.now()};
    (void)keys_->put(e);
    make_server(std::move(config));
  }

  static ServerConfig default_config() {
    ServerConfig c;
    c.label = "ca";
    c.archive_password = "archive-password";
    return c;
  }

  // A new CertificateServer over the same directory and keys, as after a restart.
  // `opener` replaces SQLite for the main database (FaultyStore, a blocking opener...).
  void make_server(ServerConfig config, StoreOpener opener = {}) {
    server_.reset();
    const std::string label = config.label;
    ServerDeps deps{*keys_,
                    clock_,
                    resolver_for(dir_.path()),
                    dir_.path(),
                    std::move(opener),
                    kTestKdfIterations};
    deps.on_event = [this, label](EventKind kind, std::string id, std::string state) {
      events_.publish(kind, label, std::move(id), std::move(state));
    };
    server_ = std::make_unique<CertificateServer>(std::move(config), std::move(deps));
  }

  CertificateServer& server() { return *server_; }
  FakeClock& clock() { return clock_; }
  KeyStore& keys() { return *keys_; }
  // What the server published (as the Device wires it).
  EventHub& events() { return events_; }
  const store::testing::TempDir& dir() const { return dir_; }
  std::string file(const std::string& name) const { return dir_.file(name); }

  Status set(const std::function<void(ServerConfig&)>& edit) {
    ServerConfig c = server_->config();
    edit(c);
    return server_->set_config(c);
  }

 private:
  store::testing::TempDir dir_;
  FakeClock clock_{from_unix(kStart)};
  EventHub events_{clock_};
  std::unique_ptr<KeyStore> keys_;
  std::unique_ptr<CertificateServer> server_;
};

inline std::uint64_t serial_of(const pki::Certificate& c) { return c.serial()->sequence; }

// A fixture around one ServerHarness, with the steps most server tests take.
class ServerTest : public ::testing::Test {
 protected:
  void enable() { ASSERT_OK(h_.server().enable({})); }
  void set_grant(GrantMode mode) {
    ASSERT_OK(h_.set([&](ServerConfig& c) { c.grant = mode; }));
  }
  SubmitOutcome submit(const std::string& subject, const std::string& challenge = "") {
    auto out = h_.server().submit(make_csr_der(subject, challenge), RequestSource::kManualPem);
    EXPECT_OK(out);
    return out.has_value() ? *out : SubmitOutcome{};
  }
  std::vector<store::RequestRecord> requests() { return *h_.server().requests(); }

  ServerHarness h_;
};

}  // namespace scepter::ca::testing
