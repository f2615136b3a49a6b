#pragma once
// TlsServerContext: the TLS configuration of a server endpoint (scepterd's HTTPS, the
// transport of EST, RFC 7030): its certificate chain, its private key and the protocol
// choices, built once and never modified. http/ serves TLS connections from it.
//
// Protocol choices, fixed here rather than configurable:
//   - TLS 1.2 and 1.3 only (1.0 and 1.1 are refused in the handshake);
//   - the server's cipher order; for TLS 1.2 only ECDHE with AES-GCM or ChaCha20-Poly1305
//     (forward secret, AEAD); TLS 1.3's suites are all of that kind;
//   - session tickets on (resumption skips the certificate and key exchange work);
//   - no renegotiation, no compression.
//
// Client certificates are requested, never required, and never judged here: a client
// may present any certificate, from any CA, expired or self-signed, and the handshake
// succeeds; a client that presents none is served too. What the TLS layer does prove is
// that the client holds the private key of the certificate it presented (its
// CertificateVerify signature over the handshake). What the certificate is worth (which
// CA issued it, whether it is revoked, whom it names) is for the application to decide
// from the DER (peer_certificate_der()); the CA looks it up in its own database. Do not
// read SSL_get_verify_result(): no chain was verified.
//
// Failures: create() fails with kInvalidArgument for an empty chain, a key without its
// private half, or a key that is not the leaf's (the public keys differ); with kInternal
// when OpenSSL cannot build the context.
//
// Ownership and threads: a TlsServerContext is immutable once created and is shared
// (std::shared_ptr<const TlsServerContext>) by the server and its open connections, so
// a renewed identity can replace it while old connections finish with the old one. It
// keeps a copy of the Key, so a key on a PKCS#11 token stays usable (its module and
// session loaded) as long as any connection needs it. Any number of threads may create
// connections from one context at once (OpenSSL allows concurrent SSL_new on an SSL_CTX
// nobody modifies).

#include <memory>
#include <string>
#include <vector>

#include <openssl/types.h>

#include "common/status.h"
#include "pki/certificate.h"
#include "pki/key.h"
#include "pki/ptr.h"

namespace scepter::pki {

template <>
struct Free<SSL_CTX> {
  void operator()(SSL_CTX* p) const;
};

struct TlsServerSettings {
  // The server's certificate first, then the intermediate CA certificates a client needs
  // to reach its trust anchor (the root may be left out). Sent in this order.
  std::vector<Certificate> chain;
  // The private key of chain.front(). May be held by a PKCS#11 token: it is used through
  // its EVP_PKEY, never exported.
  Key key;
};

class TlsServerContext {
 public:
  static Result<std::shared_ptr<const TlsServerContext>> create(const TlsServerSettings& settings);

  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;
  ~TlsServerContext();

  // The server's certificate (the chain's first).
  const Certificate& certificate() const { return chain_.front(); }
  const std::vector<Certificate>& chain() const { return chain_; }

  // Borrowed, for the TLS stream of each connection (SSL_new). Valid while this
  // context lives; SSL objects made from it hold their own reference. Do not modify it.
  SSL_CTX* native_handle() const { return ctx_.get(); }

 private:
  TlsServerContext(std::vector<Certificate> chain, Key key, Ptr<SSL_CTX> ctx);

  std::vector<Certificate> chain_;
  Key key_;  // declared before ctx_, which may need it (a token's session) to its end
  Ptr<SSL_CTX> ctx_;
};

// The DER of the certificate the client of `ssl` presented in its handshake (or in the
// session it resumed), empty when it presented none. Not verified: see above.
std::string peer_certificate_der(const SSL* ssl);

// Makes the next SSL_shutdown() on `ssl` send close_notify and return at once, without
// waiting for the peer's own close_notify (which a client that has read its answer
// rarely sends before it closes the connection).
void shutdown_without_waiting(SSL* ssl);

}  // namespace scepter::pki
