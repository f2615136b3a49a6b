#pragma once
// Test-only: a ca::Device with one enabled certificate server ("ca") and a ScepService
// over it, for the ScepService tests. Requests are built the way clients build them
// (scep/client.h) and every answer is read back as a client reads it.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include "ca/device.h"
#include "common/testing.h"
#include "scep/cert_rep.h"
#include "scep/client.h"
#include "scep/payload.h"
#include "scep/request.h"
#include "scep/service.h"
#include "scep/test_fixtures.h"
#include "store/test_util.h"

namespace scepter::scep::testing {

inline constexpr char kLabel[] = "ca";
inline const std::string kNonce = "0123456789abcdef";

// RSA keys are slow to make (more so under the sanitizers): one set per test binary.
inline const pki::Key& device_ca_key() {
  static const pki::Key key = *pki::Key::generate_rsa(2048);
  return key;
}

inline EVP_PKEY* client_key(size_t i) {
  static std::vector<pki::Ptr<EVP_PKEY>> keys;
  while (keys.size() <= i) keys.push_back(rsa_key(2048));
  return keys[i].get();
}

inline std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

// The `message=` value as IOS sends it: base64 with a line break every 64 characters,
// then '+', '/', '=' and the line breaks percent-escaped.
inline std::string ios_get_message(std::string_view der) {
  pki::Ptr<BIO> b64(BIO_new(BIO_f_base64()));  // wraps at 64 characters with '\n'
  BIO* mem = BIO_new(BIO_s_mem());
  BIO_push(b64.get(), mem);  // freed with b64 (BIO_free_all)
  BIO_write(b64.get(), der.data(), static_cast<int>(der.size()));
  (void)BIO_flush(b64.get());
  char* data = nullptr;
  const long len = BIO_get_mem_data(mem, &data);
  std::string text(data, static_cast<size_t>(len));
  text = replace_all(text, "+", "%2B");
  text = replace_all(text, "/", "%2F");
  text = replace_all(text, "=", "%3D");
  return replace_all(text, "\n", "%0A");
}

inline X509_NAME* subject_of(X509_REQ* csr) { return X509_REQ_get_subject_name(csr); }

class ScepServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = ca::Device::create({tmp_.file("nvram"), "", "passphrase"}, clock_);
    ASSERT_OK(d);
    device_ = std::move(*d);
    auto s = device_->create_server(kLabel);
    ASSERT_OK(s);
    server_ = *s;
    ca::KeyEntry key{kLabel, ca_key(), ca::KeyUsage::kGeneralPurpose, true, clock_.now()};
    ASSERT_OK(device_->keys().put(key));
    ca::ServerConfig c = server_->config();
    c.archive_password = "archive-password";
    configure(c);
    ASSERT_OK(server_->set_config(c));
    ASSERT_OK(server_->enable({}));
    auto id = server_->signing_identity();
    ASSERT_OK(id);
    ca_cert_ = pki::up_ref((id->chain.empty() ? id->certificate : id->chain.front()).x509());
    reply_signer_ = pki::up_ref(id->certificate.x509());
    recipient_ = pki::up_ref(id->decryption_certificate().x509());
    service_ = std::make_unique<ScepService>(*device_);
  }

  // What a derived fixture changes: the CA key, and the server's configuration.
  virtual const pki::Key& ca_key() const { return device_ca_key(); }
  virtual void configure(ca::ServerConfig&) {}

  void set_grant(ca::GrantMode mode) {
    ca::ServerConfig c = server_->config();
    c.grant = mode;
    ASSERT_OK(server_->set_config(c));
  }

  void allow_des(bool on) {
    ca::ServerConfig c = server_->config();
    c.scep_allow_des = on;
    ASSERT_OK(server_->set_config(c));
  }

  // A PKIOperation from `key`, signed by `signer` (a throw-away self-signed certificate
  // when null) and encrypted to our CA.
  PkiRequestParams params(MessageType type, std::string payload, EVP_PKEY* key,
                          X509* signer = nullptr) {
    PkiRequestParams rq;
    rq.type = type;
    rq.payload = std::move(payload);
    if (signer == nullptr) {
      auto self = make_self_signed_signer(key, name("SCEP SIGNER").get());
      EXPECT_OK(self);
      signers_.push_back(std::move(*self));
      signer = signers_.back().get();
    }
    rq.signer_cert = signer;
    rq.signer_key = key;
    rq.recipient_cert = recipient_.get();
    rq.transaction_id = *transaction_id_for(key);
    rq.sender_nonce = kNonce;
    return rq;
  }

  PkiRequestParams pkcs_req(EVP_PKEY* key, std::string_view cn, std::string_view challenge = "",
                            X509* signer = nullptr) {
    auto csr = make_csr(key, cn, challenge);
    return params(MessageType::kPkcsReq, csr_der(csr.get()), key, signer);
  }

  // A renewal: a PKCS#10 for `new_key`, signed with the current certificate and its key.
  PkiRequestParams renewal(MessageType type, EVP_PKEY* new_key, X509* old_cert, EVP_PKEY* old_key) {
    auto csr = make_csr(new_key, "r1", "");
    PkiRequestParams rq = params(type, csr_der(csr.get()), old_key, old_cert);
    rq.transaction_id = *transaction_id_for(new_key);
    return rq;
  }

  PkiRequestParams cert_poll(EVP_PKEY* key, std::string_view cn) {
    auto csr = make_csr(key, cn);
    auto body =
        encode_issuer_and_subject(X509_get_subject_name(ca_cert_.get()), subject_of(csr.get()));
    EXPECT_OK(body);
    return params(MessageType::kCertPoll, *body, key);
  }

  PkiRequestParams by_serial(MessageType type, EVP_PKEY* key, long serial) {
    pki::Ptr<ASN1_INTEGER> n(ASN1_INTEGER_new());
    ASN1_INTEGER_set(n.get(), serial);
    auto body = encode_issuer_and_serial(X509_get_subject_name(ca_cert_.get()), n.get());
    EXPECT_OK(body);
    return params(type, *body, key);
  }

  ScepHttpResponse post(const std::string& der) const {
    return service_->handle({"POST", "PKIOperation", "", false, der});
  }

  ScepHttpResponse get(const std::string& message_value) const {
    return service_->handle({"GET", "PKIOperation", message_value, true, ""});
  }

  ScepHttpResponse send(const PkiRequestParams& rq) const {
    auto msg = encode_pki_request(rq);
    EXPECT_OK(msg);
    return post(msg.value_or(""));
  }

  // The CertRep in `resp`, checked against its signer (the CA, or the CA's SCEP key) and
  // opened with `key`.
  CertRep rep_of(const ScepHttpResponse& resp, EVP_PKEY* key) const {
    EXPECT_EQ(resp.status, 200) << resp.body;
    EXPECT_EQ(resp.content_type, "application/x-pki-message");
    auto rep = decode_cert_rep(resp.body, key, reply_signer_.get());
    EXPECT_OK(rep);
    if (!rep.has_value()) return {};
    EXPECT_EQ(rep->recipient_nonce, kNonce);
    EXPECT_NE(rep->sender_nonce, kNonce);
    return std::move(*rep);
  }

  CertRep exchange(const PkiRequestParams& rq) const {
    CertRep rep = rep_of(send(rq), rq.signer_key);
    EXPECT_EQ(rep.transaction_id, rq.transaction_id);
    return rep;
  }

  // The certificate of a SUCCESS reply, checked to be signed by our CA.
  pki::Ptr<X509> issued(CertRep& rep) const {
    EXPECT_EQ(rep.status, PkiStatus::kSuccess) << rep.fail_info_text;
    if (rep.certificates.empty()) {
      ADD_FAILURE() << "no certificate in the reply";
      return nullptr;
    }
    X509* cert = rep.certificates.front().get();
    EXPECT_EQ(X509_verify(cert, X509_get0_pubkey(ca_cert_.get())), 1);
    EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(ca_cert_.get())), 0);
    return std::move(rep.certificates.front());
  }

  void expect_failure(const CertRep& rep, FailInfo want) const {
    EXPECT_EQ(rep.status, PkiStatus::kFailure);
    ASSERT_TRUE(rep.fail_info.has_value());
    EXPECT_EQ(*rep.fail_info, want) << rep.fail_info_text;
    EXPECT_FALSE(rep.fail_info_text.empty());
  }

  std::vector<store::RequestRecord> requests() const {
    auto r = server_->requests();
    EXPECT_OK(r);
    return r.value_or(std::vector<store::RequestRecord>{});
  }

  store::testing::TempDir tmp_;
  // The server's clock stands still unless a test moves it (set_offset_seconds); it
  // starts at the real time because clients sign their messages with the real time.
  FakeClock clock_{std::chrono::floor<Seconds>(SysClock::now())};
  std::unique_ptr<ca::Device> device_;
  std::shared_ptr<ca::CertificateServer> server_;
  pki::Ptr<X509> ca_cert_;
  pki::Ptr<X509> reply_signer_;  // the certificate that signs CertReps (the CA's, by default)
  pki::Ptr<X509> recipient_;     // the certificate clients encrypt to (the CA's, by default)
  std::unique_ptr<ScepService> service_;
  std::vector<pki::Ptr<X509>> signers_;
};

inline long serial_of(X509* cert) { return ASN1_INTEGER_get(X509_get0_serialNumber(cert)); }

}  // namespace scepter::scep::testing
