#include "pki/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace scepter::pki {

void Free<SSL_CTX>::operator()(SSL_CTX* p) const { SSL_CTX_free(p); }

namespace {

// TLS 1.2: ECDHE only (forward secrecy) with AEAD ciphers, strongest first; ECDSA before
// RSA so that a server with both keys would prefer the cheaper one. (Mozilla's
// "intermediate" list without the DHE suites.)
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr char kTls13Suites[] =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr char kGroups[] = "X25519:P-256:P-384";
// Names the sessions this server issues, so that a session (or ticket) is only resumed
// by a server of ours. OpenSSL refuses to resume without one when it asks for client
// certificates.
constexpr unsigned char kSessionContext[] = "scepterd";

// Client certificates are the application's to judge (see the header): the chain is not
// verified here at all.
int accept_any_chain(X509_STORE_CTX*, void*) { return 1; }

}  // namespace

TlsServerContext::TlsServerContext(std::vector<Certificate> chain, Key key, Ptr<SSL_CTX> ctx)
    : chain_(std::move(chain)), key_(std::move(key)), ctx_(std::move(ctx)) {}

TlsServerContext::~TlsServerContext() = default;

Result<std::shared_ptr<const TlsServerContext>> TlsServerContext::create(
    const TlsServerSettings& settings) {
  if (settings.chain.empty()) {
    return fail(invalid_argument("TLS server: no certificate"));
  }
  if (!settings.key.has_private()) {
    return fail(invalid_argument("TLS server: the key has no private part"));
  }
  Ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) {
    return fail(last_error("TLS server: SSL_CTX_new"));
  }
  SSL_CTX* c = ctx.get();
  if (!SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) ||
      !SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION)) {
    return fail(last_error("TLS server: protocol versions"));
  }
  SSL_CTX_set_options(
      c, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_clear_options(c, SSL_OP_NO_TICKET);
  if (!SSL_CTX_set_cipher_list(c, kTls12Ciphers) || !SSL_CTX_set_ciphersuites(c, kTls13Suites) ||
      !SSL_CTX_set1_groups_list(c, kGroups)) {
    return fail(last_error("TLS server: cipher suites"));
  }
  if (!SSL_CTX_set_session_id_context(c, kSessionContext, sizeof kSessionContext - 1)) {
    return fail(last_error("TLS server: session context"));
  }
  // Ask for a certificate, accept none, judge none.
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_cert_verify_callback(c, accept_any_chain, nullptr);

  const Certificate& leaf = settings.chain.front();
  if (!SSL_CTX_use_certificate(c, leaf.x509())) {
    return fail(last_error(Code::kInvalidArgument, "TLS server: certificate"));
  }
  // Fails when the key is not the certificate's (OpenSSL compares the public keys).
  if (!SSL_CTX_use_PrivateKey(c, settings.key.evp()) || !SSL_CTX_check_private_key(c)) {
    return fail(last_error(Code::kInvalidArgument,
                           "TLS server: the private key does not match the certificate"));
  }
  for (std::size_t i = 1; i < settings.chain.size(); ++i) {
    if (!SSL_CTX_add1_chain_cert(c, settings.chain[i].x509())) {
      return fail(last_error("TLS server: certificate chain"));
    }
  }
  return std::shared_ptr<const TlsServerContext>(
      new TlsServerContext(settings.chain, settings.key, std::move(ctx)));
}

std::string peer_certificate_der(const SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) {
    return {};
  }
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert, &der);
  if (n <= 0) {
    ERR_clear_error();
    return {};
  }
  const OpenSslBuf<unsigned char> owned(der);
  return std::string(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
}

void shutdown_without_waiting(SSL* ssl) {
  SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_RECEIVED_SHUTDOWN);
}

}  // namespace scepter::pki
