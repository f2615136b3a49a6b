#pragma once
// For the HTTPS tests and http_load only: a throw-away CA that issues server and client
// certificates valid from an hour ago to a day from now, and a tiny blocking TLS client
// on OpenSSL (the test controls its versions, its certificate and its sessions). Not
// thread-safe; one client per thread.

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/status.h"
#include "http/test_client.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/issuer.h"
#include "pki/key.h"
#include "pki/name.h"
#include "pki/tls_context.h"

namespace scepter::pki {
template <>
struct Free<SSL> {
  void operator()(SSL* p) const { SSL_free(p); }
};
template <>
struct Free<SSL_SESSION> {
  void operator()(SSL_SESSION* p) const { SSL_SESSION_free(p); }
};
}  // namespace scepter::pki

namespace scepter::http::testing {

inline TimePoint now_seconds() {
  return std::chrono::time_point_cast<std::chrono::seconds>(SysClock::now());
}

// A CA with an EC P-256 key of its own. Aborts on failure (test set-up).
class TestCa {
 public:
  TestCa() : key_(must(pki::Key::generate_ec(256))), cert_(make_ca(key_)) {}

  const pki::Certificate& certificate() const { return cert_; }

  // An end-entity certificate "CN=<cn>" for `key`.
  pki::Certificate issue(const std::string& cn, const pki::Key& key) {
    auto subject = must(pki::parse_dn("CN=" + cn + ", O=Test"));
    const pki::Csr csr = must(pki::make_csr(pki::CsrSpec{.subject = subject.get(), .key = key}));
    return must(pki::issue_certificate(pki::IssueSpec{
        .csr = csr,
        .ca_cert = cert_,
        .ca_key = key_,
        .serial = pki::SerialNumber{++serial_},
        .not_before = now_seconds() - std::chrono::hours(1),
        .not_after = now_seconds() + std::chrono::hours(24),
    }));
  }

  // A server identity "CN=<cn>" for `key`, with this CA's certificate in its chain.
  std::shared_ptr<const pki::TlsServerContext> server_context(const std::string& cn,
                                                              const pki::Key& key) {
    return must(pki::TlsServerContext::create(
        pki::TlsServerSettings{.chain = {issue(cn, key), cert_}, .key = key}));
  }

  template <class T>
  static T must(Result<T> r) {
    CA_ASSERT(r.has_value(), "test PKI set-up failed");
    return std::move(*r);
  }

 private:
  static pki::Certificate make_ca(const pki::Key& key) {
    auto name = must(pki::parse_dn("CN=Throw-away Test CA, O=Test"));
    return must(pki::make_ca_certificate(pki::CaCertSpec{
        .subject = name.get(),
        .key = key,
        .serial = 1,
        .not_before = now_seconds() - std::chrono::hours(1),
        .not_after = now_seconds() + std::chrono::hours(24),
    }));
  }

  pki::Key key_;
  pki::Certificate cert_;
  std::uint64_t serial_ = 1;
};

struct TlsClientOptions {
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  // OpenSSL 3 refuses TLS 1.0 and 1.1 at its default security level; 0 allows them.
  int security_level = -1;                        // -1: OpenSSL's default
  const pki::Certificate* certificate = nullptr;  // a client certificate to present
  const pki::Key* key = nullptr;                  // its key
  const pki::Certificate* trust = nullptr;        // set: verify the server against it
  SSL_SESSION* session = nullptr;                 // set: offer to resume it
};

class TlsClient {
 public:
  TlsClient() = default;
  TlsClient(TlsClient&&) noexcept = default;
  TlsClient& operator=(TlsClient&&) noexcept = default;
  // Says goodbye (close_notify): OpenSSL does not resume a session whose connection
  // ended without it.
  ~TlsClient() { shutdown(); }

  void shutdown() {
    if (ssl_ && SSL_is_init_finished(ssl_.get())) {
      SSL_shutdown(ssl_.get());
      ERR_clear_error();
    }
  }

  // TCP to 127.0.0.1:port, then the handshake; false when either fails (error() says
  // why). Reads wait at most `timeout` each.
  bool connect(std::uint16_t port, const TlsClientOptions& o = {},
               std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    shutdown();
    ssl_.reset();
    ctx_.reset();
    error_.clear();
    if (!tcp_.connect("127.0.0.1", port)) {
      return failed("connect");
    }
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(tcp_.fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX* c = ctx_.get();
    if (o.security_level >= 0) {
      SSL_CTX_set_security_level(c, o.security_level);
    }
    SSL_CTX_set_min_proto_version(c, o.min_version);
    SSL_CTX_set_max_proto_version(c, o.max_version);
    if (o.certificate != nullptr) {
      if (!SSL_CTX_use_certificate(c, o.certificate->x509()) ||
          !SSL_CTX_use_PrivateKey(c, o.key->evp())) {
        return failed("client certificate");
      }
    }
    if (o.trust != nullptr) {
      X509_STORE_add_cert(SSL_CTX_get_cert_store(c), o.trust->x509());
      SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    }
    ssl_.reset(SSL_new(c));
    SSL_set_fd(ssl_.get(), tcp_.fd());
    if (o.session != nullptr) {
      SSL_set_session(ssl_.get(), o.session);
    }
    if (SSL_connect(ssl_.get()) != 1) {
      return failed("handshake");
    }
    return true;
  }

  bool send(std::string_view data) {
    while (!data.empty()) {
      const int n = SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size()));
      if (n <= 0) {
        return failed("write");
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // One SSL_read of at most `max` bytes (at most one TLS record's data); empty on EOF,
  // close_notify or error.
  std::string read_some(std::size_t max) {
    std::string out(max, '\0');
    const int n = SSL_read(ssl_.get(), out.data(), static_cast<int>(max));
    out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    if (n <= 0) {
      eof_ = true;
      last_read_error_ = SSL_get_error(ssl_.get(), n);
      ERR_clear_error();
    }
    return out;
  }

  std::optional<RawResponse> read_response(bool head = false) {
    return read_response_from(buf_, head, [this] {
      std::string more = read_some(16384);
      buf_ += more;
      return !more.empty();
    });
  }

  // True when the server ends the connection (close_notify, EOF or reset) with no
  // further data before the read timeout. `clean` tells whether it sent close_notify.
  bool wait_closed(bool* clean = nullptr) {
    while (!read_some(16384).empty()) {
    }
    if (clean != nullptr) {
      *clean = last_read_error_ == SSL_ERROR_ZERO_RETURN;
    }
    return last_read_error_ == SSL_ERROR_ZERO_RETURN || last_read_error_ == SSL_ERROR_SYSCALL ||
           last_read_error_ == SSL_ERROR_SSL;
  }

  // What read_response() read past the response it returned (a streamed body's start).
  std::string take_buffered() { return std::exchange(buf_, std::string()); }

  // "TLSv1.3", "TLSv1.2".
  std::string version() const { return SSL_get_version(ssl_.get()); }
  std::string cipher() const { return SSL_get_cipher_name(ssl_.get()); }
  bool session_reused() const { return SSL_session_reused(ssl_.get()) == 1; }
  bool server_verified() const { return SSL_get_verify_result(ssl_.get()) == X509_V_OK; }
  // The session to resume in a later connection (owned by the caller).
  pki::Ptr<SSL_SESSION> session() const {
    return pki::Ptr<SSL_SESSION>(SSL_get1_session(ssl_.get()));
  }
  // The server's certificate as it sent it.
  std::string server_certificate_der() const { return pki::peer_certificate_der(ssl_.get()); }
  const std::string& error() const { return error_; }
  int fd() const { return tcp_.fd(); }

 private:
  bool failed(const char* what) {
    error_ = pki::last_error(what).message();
    return false;
  }

  RawClient tcp_;  // declared first: closed after ssl_ is freed
  pki::Ptr<SSL_CTX> ctx_;
  pki::Ptr<SSL> ssl_;
  std::string buf_;
  bool eof_ = false;
  int last_read_error_ = SSL_ERROR_NONE;
  std::string error_;
};

}  // namespace scepter::http::testing
