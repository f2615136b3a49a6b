#pragma once
// For tests only: tls-alpn-01 validation certificates made to order (good ones and each
// kind of wrong one), and a TLS server on 127.0.0.1 that presents one. Aborts on set-up
// failures.

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/ip_prefix.h"
#include "common/status.h"
#include "common/unique_fd.h"
#include "pki/digest.h"
#include "pki/key.h"
#include "pki/ptr.h"
#include "pki/tls_alpn_probe.h"
#include "pki/tls_context.h"

namespace scepter::pki::testing {

struct TlsAlpnCertSpec {
  std::vector<std::string> dns_names = {};     // subjectAltName dNSName entries
  std::vector<std::string> ip_addresses = {};  // subjectAltName iPAddress entries
  std::string key_authorization = {};          // hashed into acmeIdentifier
  bool acme_identifier = true;                 // false: leave the extension out
  bool critical = true;                        // the extension's criticality
  bool raw_digest = false;                     // true: the digest bare, not in an OCTET STRING
};

// A self-signed certificate for `key` shaped by `spec`.
inline std::string make_tls_alpn_certificate(const Key& key, const TlsAlpnCertSpec& spec) {
  Ptr<X509> x(X509_new());
  CA_ASSERT(x != nullptr, "X509_new");
  X509_set_version(x.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("acme tls-alpn-01"), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 86400);
  X509_set_pubkey(x.get(), key.evp());
  if (!spec.dns_names.empty() || !spec.ip_addresses.empty()) {
    Ptr<STACK_OF(GENERAL_NAME)> names(sk_GENERAL_NAME_new_null());
    for (const auto& dns : spec.dns_names) {
      GENERAL_NAME* gn = GENERAL_NAME_new();
      ASN1_IA5STRING* s = ASN1_IA5STRING_new();
      ASN1_STRING_set(s, dns.data(), static_cast<int>(dns.size()));
      GENERAL_NAME_set0_value(gn, GEN_DNS, s);
      sk_GENERAL_NAME_push(names.get(), gn);
    }
    for (const auto& ip : spec.ip_addresses) {
      const auto a = parse_ip_address(ip);
      CA_ASSERT(a.has_value(), "test IP address");
      GENERAL_NAME* gn = GENERAL_NAME_new();
      ASN1_OCTET_STRING* s = ASN1_OCTET_STRING_new();
      ASN1_OCTET_STRING_set(s, a->bytes.data(), static_cast<int>(a->size()));
      GENERAL_NAME_set0_value(gn, GEN_IPADD, s);
      sk_GENERAL_NAME_push(names.get(), gn);
    }
    CA_ASSERT(X509_add1_ext_i2d(x.get(), NID_subject_alt_name, names.get(), 0, 0) == 1, "SAN");
  }
  if (spec.acme_identifier) {
    const std::string hash = digest(Hash::kSha256, spec.key_authorization);
    std::string value;
    if (spec.raw_digest) {
      value = hash;
    } else {
      Ptr<ASN1_STRING> inner(ASN1_OCTET_STRING_new());
      ASN1_OCTET_STRING_set(inner.get(), reinterpret_cast<const unsigned char*>(hash.data()),
                            static_cast<int>(hash.size()));
      unsigned char* der = nullptr;
      const int n = i2d_ASN1_OCTET_STRING(inner.get(), &der);
      CA_ASSERT(n > 0, "i2d_ASN1_OCTET_STRING");
      value.assign(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
      OPENSSL_free(der);
    }
    Ptr<ASN1_STRING> data(ASN1_OCTET_STRING_new());
    ASN1_OCTET_STRING_set(data.get(), reinterpret_cast<const unsigned char*>(value.data()),
                          static_cast<int>(value.size()));
    Ptr<ASN1_OBJECT> oid(OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1));
    Ptr<X509_EXTENSION> ext(
        X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), spec.critical ? 1 : 0, data.get()));
    CA_ASSERT(ext && X509_add_ext(x.get(), ext.get(), -1) == 1, "acmeIdentifier");
  }
  CA_ASSERT(X509_sign(x.get(), key.evp(), EVP_sha256()) > 0, "X509_sign");
  unsigned char* der = nullptr;
  const int n = i2d_X509(x.get(), &der);
  CA_ASSERT(n > 0, "i2d_X509");
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return out;
}

// A TLS server on 127.0.0.1 (an ephemeral port) that answers every connection with one
// handshake presenting `cert_der`, selecting "acme-tls/1" when `alpn` (and no protocol
// otherwise), then closes it. Records the SNI of the last handshake.
class TlsAlpnServer {
 public:
  TlsAlpnServer(const Key& key, const std::string& cert_der, bool alpn = true) : alpn_(alpn) {
    // A client that closes first must not kill the test with SIGPIPE (scepterd ignores it
    // too).
    ::signal(SIGPIPE, SIG_IGN);
    ctx_.reset(SSL_CTX_new(TLS_server_method()));
    const auto* p = reinterpret_cast<const unsigned char*>(cert_der.data());
    Ptr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(cert_der.size())));
    CA_ASSERT(cert && SSL_CTX_use_certificate(ctx_.get(), cert.get()) == 1 &&
                  SSL_CTX_use_PrivateKey(ctx_.get(), key.evp()) == 1,
              "test TLS server identity");
    SSL_CTX_set_alpn_select_cb(ctx_.get(), &TlsAlpnServer::select, this);
    SSL_CTX_set_tlsext_servername_callback(ctx_.get(), &TlsAlpnServer::on_sni);
    SSL_CTX_set_tlsext_servername_arg(ctx_.get(), this);
    listener_ = UniqueFd(::socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    CA_ASSERT(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::listen(listener_.get(), 8) == 0 &&
                  ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&a), &len) == 0,
              "test TLS listener");
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~TlsAlpnServer() {
    stop_ = true;
    ::shutdown(listener_.get(), SHUT_RDWR);
    thread_.join();
  }

  std::uint16_t port() const { return port_; }
  std::string last_sni() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sni_;
  }

 private:
  static int select(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                    unsigned inlen, void* arg) {
    auto* self = static_cast<TlsAlpnServer*>(arg);
    if (!self->alpn_) return SSL_TLSEXT_ERR_NOACK;
    // The client's list: length-prefixed names.
    for (unsigned i = 0; i < inlen;) {
      const unsigned n = in[i];
      if (i + 1 + n > inlen) break;
      if (std::string_view(reinterpret_cast<const char*>(in + i + 1), n) == "acme-tls/1") {
        *out = in + i + 1;
        *outlen = static_cast<unsigned char>(n);
        return SSL_TLSEXT_ERR_OK;
      }
      i += 1 + n;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  static int on_sni(SSL* ssl, int*, void* arg) {
    auto* self = static_cast<TlsAlpnServer*>(arg);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    std::lock_guard<std::mutex> lock(self->mu_);
    self->sni_ = name != nullptr ? name : "";
    return SSL_TLSEXT_ERR_OK;
  }
  void serve() {
    while (!stop_) {
      UniqueFd c(::accept(listener_.get(), nullptr, nullptr));
      if (!c.valid()) return;
      SSL* ssl = SSL_new(ctx_.get());
      SSL_set_fd(ssl, c.get());
      if (SSL_accept(ssl) == 1) SSL_shutdown(ssl);
      SSL_free(ssl);
      ERR_clear_error();
    }
  }

  Ptr<SSL_CTX> ctx_;
  bool alpn_;
  UniqueFd listener_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::string sni_;
  std::thread thread_;
};

}  // namespace scepter::pki::testing
