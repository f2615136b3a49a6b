#pragma once
// For ca/ tests of certificate servers that depend on their trustpoint (mode sub-cs,
// mode ra) only: a key store holding the server's key, the trustpoint of the server's
// label as a SCEP client of a FakeUpstream, the ServerDeps the Device would wire, and
// the daemon's timer pass. Header-only.

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "ca/ca_test_support.h"
#include "ca/certificate_server.h"
#include "ca/device.h"
#include "ca/fake_upstream.h"
#include "ca/trustpoint_client.h"

namespace scepter::ca::testing {

class SuperiorFixture : public ::testing::Test {
 protected:
  // `label`: the server, its trustpoint and its key; `hostname`: the device's.
  SuperiorFixture(std::string label, std::string hostname)
      : label_(std::move(label)), hostname_(std::move(hostname)) {
    keys_ = std::move(*KeyStore::open(dir_.file("keys"), "master", kTestKdfIterations));
    // The server's key up front (generating one would only slow the tests down).
    KeyEntry e{label_, shared_ca_key(), KeyUsage::kGeneralPurpose, true, clock_.now()};
    EXPECT_TRUE(keys_->put(e).ok());
    tp_.name = label_;
    tp_.enrollment_url = "http://127.0.0.1:1";
    tp_.rsakeypair = label_;
    client_ = std::make_unique<TrustpointClient>(*keys_, clock_, dir_.path(), upstream_);
    client_->on_change([this](const std::string&) {
      if (server_) server_->superior_answered();
    });
  }

  // What the Device wires for a server of this label.
  ServerDeps deps() {
    ServerDeps d{*keys_, clock_, resolver_for(dir_.path()), dir_.path(), {}, kTestKdfIterations};
    d.superior_state = [this] { return client_->state(label_); };
    d.superior_enroll = [this](const EnrollOptions& o) {
      return client_->enroll(tp_, o, hostname_);
    };
    d.superior_rollover = [this](const EnrollOptions& o) {
      return client_->enroll_rollover(tp_, o, rollover_key_label(label_));
    };
    d.superior_promote = [this] { return client_->promote_rollover(label_); };
    d.superior_cancel_rollover = [this] { return client_->cancel_rollover(label_); };
    d.superior_target = [this]() -> Result<UpstreamTarget> {
      auto state = client_->state(label_);
      if (!state || !state->ca) return fail(permission_denied("not authenticated"));
      return UpstreamTarget{tp_.enrollment_url, *state->ca, state->caps,
                            Seconds(60 * std::max(1, tp_.retry_period_minutes))};
    };
    d.upstream = upstream_;
    return d;
  }

  // A subordinate CA of this label, as the sub-CA tests configure it.
  ServerConfig sub_ca_config() const {
    ServerConfig cfg;
    cfg.label = label_;
    cfg.mode = ServerMode::kSubCs;
    cfg.issuer_name = "CN=" + label_ + ", O=Example";
    cfg.archive_password = "archive-password";
    cfg.grant = GrantMode::kAuto;
    return cfg;
  }

  // `crypto pki authenticate`, the operator accepting.
  void authenticate() {
    auto fetched = client_->fetch_ca(tp_, label_);
    ASSERT_TRUE(fetched.has_value());
    ASSERT_TRUE(client_->accept_ca(label_, *fetched).ok());
  }

  // One pass of the daemon's timer: the trustpoint polls, then the server's timers run.
  void tick() {
    client_->tick([this](const std::string&) -> std::optional<TrustpointConfig> { return tp_; },
                  hostname_);
    server_->tick();
  }

  const std::string label_;
  const std::string hostname_;
  store::testing::TempDir dir_;
  FakeClock clock_{from_unix(kStart)};
  std::unique_ptr<KeyStore> keys_;
  std::shared_ptr<FakeUpstream> upstream_ =
      std::make_shared<FakeUpstream>(*pki::Key::generate_ec(256), from_unix(kStart), "CN=root");
  std::unique_ptr<TrustpointClient> client_;
  TrustpointConfig tp_;
  std::unique_ptr<CertificateServer> server_;
};

}  // namespace scepter::ca::testing
