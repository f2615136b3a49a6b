// TlsServerContext: what create() checks, the protocol choices it makes, and handshakes
// against it in memory (a BIO pair, no network): versions, client certificates that are
// not judged, and a server key held by a PKCS#11 token (SoftHSM2).

#include "pki/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <gtest/gtest.h>

#include "pki/softhsm_testing.h"
#include "pki/test_support.h"
#include "pki/token.h"

namespace scepter::pki {

template <>
struct Free<SSL> {
  void operator()(SSL* p) const { SSL_free(p); }
};

namespace {

// A certificate for `key` issued by the test CA (test::make_test_ca with rsa_key_2048):
// valid from kNow, so the test clients below do not check times (they verify nothing).
Certificate issue_for(const Key& key, const std::string& cn) {
  const Key& ca_key = test::rsa_key_2048();
  static const Certificate ca = test::make_test_ca(ca_key);
  auto subject = parse_dn("CN=" + cn);
  auto csr = make_csr(CsrSpec{.subject = subject->get(), .key = key});
  CA_ASSERT(csr.has_value(), "test CSR");
  auto cert = issue_certificate(IssueSpec{.csr = *csr,
                                          .ca_cert = ca,
                                          .ca_key = ca_key,
                                          .serial = SerialNumber{2},
                                          .not_before = from_unix(test::kNow),
                                          .not_after = from_unix(test::kNow + 86400)});
  CA_ASSERT(cert.has_value(), "test certificate");
  return *cert;
}

struct ClientSettings {
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  const Certificate* certificate = nullptr;
  const Key* key = nullptr;
};

struct Handshake {
  bool ok = false;
  Ptr<SSL> server;
  Ptr<SSL> client;
};

// Runs a handshake between a client and `server` over a BIO pair, in this thread.
Handshake handshake(const TlsServerContext& server, const ClientSettings& s = {}) {
  Ptr<SSL_CTX> client_ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_security_level(client_ctx.get(), 0);  // lets the client offer TLS 1.0/1.1
  SSL_CTX_set_min_proto_version(client_ctx.get(), s.min_version);
  SSL_CTX_set_max_proto_version(client_ctx.get(), s.max_version);
  if (s.certificate != nullptr) {
    EXPECT_EQ(SSL_CTX_use_certificate(client_ctx.get(), s.certificate->x509()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(client_ctx.get(), s.key->evp()), 1);
  }
  Handshake h;
  h.server.reset(SSL_new(server.native_handle()));
  h.client.reset(SSL_new(client_ctx.get()));
  BIO* server_bio = nullptr;
  BIO* client_bio = nullptr;
  EXPECT_EQ(BIO_new_bio_pair(&server_bio, 0, &client_bio, 0), 1);
  SSL_set_bio(h.server.get(), server_bio, server_bio);
  SSL_set_bio(h.client.get(), client_bio, client_bio);
  SSL_set_accept_state(h.server.get());
  SSL_set_connect_state(h.client.get());
  bool server_done = false, client_done = false;
  for (int round = 0; round < 20 && !(server_done && client_done); ++round) {
    for (auto [ssl, done] :
         {std::pair{h.client.get(), &client_done}, std::pair{h.server.get(), &server_done}}) {
      if (*done) continue;
      const int rc = SSL_do_handshake(ssl);
      if (rc == 1) {
        *done = true;
      } else if (const int e = SSL_get_error(ssl, rc);
                 e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return h;
      }
    }
  }
  h.ok = server_done && client_done;
  return h;
}

TlsServerSettings settings_for(const Key& key) {
  return TlsServerSettings{.chain = {issue_for(key, "server")}, .key = key};
}

TEST(TlsServerContext, ProtocolChoices) {
  const Key& key = test::ec_key_256();
  const Certificate ca = test::make_test_ca(test::rsa_key_2048());
  auto ctx = TlsServerContext::create({.chain = {issue_for(key, "server"), ca}, .key = key});
  ASSERT_OK(ctx);
  SSL_CTX* c = (*ctx)->native_handle();
  EXPECT_EQ(SSL_CTX_get_min_proto_version(c), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CTX_get_max_proto_version(c), TLS1_3_VERSION);
  const std::uint64_t options = SSL_CTX_get_options(c);
  EXPECT_NE(options & SSL_OP_CIPHER_SERVER_PREFERENCE, 0u);
  EXPECT_NE(options & SSL_OP_NO_RENEGOTIATION, 0u);
  EXPECT_NE(options & SSL_OP_NO_COMPRESSION, 0u);
  EXPECT_EQ(options & SSL_OP_NO_TICKET, 0u);
  // Asked for, not required.
  EXPECT_EQ(SSL_CTX_get_verify_mode(c), SSL_VERIFY_PEER);
  // TLS 1.2 suites: all ECDHE with an AEAD cipher.
  STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(c);
  ASSERT_NE(ciphers, nullptr);
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(ciphers, i);
    if (SSL_CIPHER_get_kx_nid(cipher) == NID_kx_any) continue;  // a TLS 1.3 suite
    EXPECT_EQ(SSL_CIPHER_get_kx_nid(cipher), NID_kx_ecdhe) << SSL_CIPHER_get_name(cipher);
    EXPECT_TRUE(SSL_CIPHER_is_aead(cipher)) << SSL_CIPHER_get_name(cipher);
  }
  // The chain after the leaf, as given.
  STACK_OF(X509)* chain = nullptr;
  ASSERT_EQ(SSL_CTX_get0_chain_certs(c, &chain), 1);
  ASSERT_EQ(sk_X509_num(chain), 1);
  EXPECT_EQ(X509_cmp(sk_X509_value(chain, 0), ca.x509()), 0);
  EXPECT_EQ((*ctx)->certificate().der(), (*ctx)->chain().front().der());
}

TEST(TlsServerContext, KeyMustBeTheLeafs) {
  const Certificate rsa_leaf = issue_for(test::rsa_key_2048(), "server");
  // Same type, another key.
  EXPECT_CODE(TlsServerContext::create({.chain = {rsa_leaf}, .key = test::fixed_key("rsa-2048-b")}),
              Code::kInvalidArgument);
  // Another type.
  EXPECT_CODE(TlsServerContext::create({.chain = {rsa_leaf}, .key = test::ec_key_256()}),
              Code::kInvalidArgument);
  // The public half only.
  auto public_only = rsa_leaf.public_key();
  ASSERT_OK(public_only);
  EXPECT_CODE(TlsServerContext::create({.chain = {rsa_leaf}, .key = *public_only}),
              Code::kInvalidArgument);
  EXPECT_CODE(TlsServerContext::create({.chain = {}, .key = test::rsa_key_2048()}),
              Code::kInvalidArgument);
  EXPECT_OK(TlsServerContext::create({.chain = {rsa_leaf}, .key = test::rsa_key_2048()}));
}

TEST(TlsServerContext, HandshakesOverTls12And13AndRefusesOlder) {
  auto ctx = TlsServerContext::create(settings_for(test::ec_key_256()));
  ASSERT_OK(ctx);
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    Handshake h = handshake(**ctx, {.min_version = version, .max_version = version});
    ASSERT_TRUE(h.ok) << version;
    EXPECT_EQ(SSL_version(h.server.get()), version);
    EXPECT_EQ(peer_certificate_der(h.server.get()), "");
    EXPECT_EQ(peer_certificate_der(h.client.get()), (*ctx)->certificate().der());
  }
  for (const int version : {TLS1_VERSION, TLS1_1_VERSION}) {
    EXPECT_FALSE(handshake(**ctx, {.min_version = version, .max_version = version}).ok) << version;
  }
}

TEST(TlsServerContext, ClientCertificateIsAcceptedUnjudged) {
  auto ctx = TlsServerContext::create(settings_for(test::ec_key_256()));
  ASSERT_OK(ctx);
  const Key& stranger_key = test::ec_key_256();
  // Self-signed, from no CA the server knows, and long expired (kNow is 2025).
  const Certificate stranger = test::make_test_ca(stranger_key, "stranger");
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    Handshake h = handshake(**ctx, {.min_version = version,
                                    .max_version = version,
                                    .certificate = &stranger,
                                    .key = &stranger_key});
    ASSERT_TRUE(h.ok) << version;
    EXPECT_EQ(peer_certificate_der(h.server.get()), stranger.der());
  }
}

// The server's key stays on the token: the handshake signs through PKCS#11.
TEST(TlsServerContext, KeyOnAToken) {
  if (!test::softhsm_installed()) GTEST_SKIP() << "softhsm2 is not installed";
  test::SoftHsm hsm;
  ASSERT_EQ(hsm.init_token("tls-token"), "");
  auto token = Token::open(test::SoftHsm::spec("tls-token"));
  ASSERT_OK(token);
  auto key = (*token)->generate_rsa("tls", 2048);
  ASSERT_OK(key);
  auto ctx = TlsServerContext::create(settings_for(*key));
  ASSERT_OK(ctx);
  token->reset();  // the context keeps what the key needs
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    Handshake h = handshake(**ctx, {.min_version = version, .max_version = version});
    EXPECT_TRUE(h.ok) << version;
  }
  // A key of the token that is not the leaf's is refused like any other.
  auto token2 = Token::open(test::SoftHsm::spec("tls-token"));
  ASSERT_OK(token2);
  auto other = (*token2)->generate_rsa("other", 2048);
  ASSERT_OK(other);
  EXPECT_CODE(TlsServerContext::create({.chain = {(*ctx)->certificate()}, .key = *other}),
              Code::kInvalidArgument);
}

}  // namespace
}  // namespace scepter::pki
