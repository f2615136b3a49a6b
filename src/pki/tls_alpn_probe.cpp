#include "pki/tls_alpn_probe.h"

#include <fcntl.h>
#include <poll.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "pki/digest.h"
#include "pki/ptr.h"
#include "pki/tls_context.h"

namespace scepter::pki {
namespace {

// Local owners: Free<SSL> is declared by the TLS test helpers.
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};

constexpr char kAcmeIdentifierOid[] = "1.3.6.1.5.5.7.1.31";

bool ascii_iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view string_of(const ASN1_STRING* s) {
  return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
          static_cast<std::size_t>(ASN1_STRING_length(s))};
}

// Waits until `fd` is ready for what OpenSSL asked; false when the deadline passes.
bool wait_for(int fd, int ssl_error, std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd, static_cast<short>(ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), 0};
  return ::poll(&p, 1, static_cast<int>(left.count())) > 0;
}

}  // namespace

std::string tls_alpn_server_name(const IpAddress& address) {
  std::string out;
  if (!address.v6) {
    for (int i = 3; i >= 0; --i) out += fmt::format("{}.", address.bytes[i]);
    return out + "in-addr.arpa";
  }
  constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    out += kHex[address.bytes[i] & 0xF];
    out += '.';
    out += kHex[address.bytes[i] >> 4];
    out += '.';
  }
  return out + "ip6.arpa";
}

Result<std::string> fetch_tls_alpn_certificate(int fd, const std::string& server_name,
                                               std::chrono::steady_clock::time_point deadline) {
  ERR_clear_error();
  Ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return fail(last_error("SSL_CTX_new"));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // No verification: the certificate is self-signed and judged by its extensions.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  // ALPN wire format: a length byte, then the name.
  std::string alpn(1, static_cast<char>(kAcmeTlsAlpnProtocol.size()));
  alpn += kAcmeTlsAlpnProtocol;
  if (SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const unsigned char*>(alpn.data()),
                              static_cast<unsigned>(alpn.size())) != 0) {
    return fail(last_error("SSL_CTX_set_alpn_protos"));
  }
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  if (!ssl) return fail(last_error("SSL_new"));
  if (SSL_set_tlsext_host_name(ssl.get(), server_name.c_str()) != 1 ||
      SSL_set_fd(ssl.get(), fd) != 1) {
    return fail(last_error("setting up the TLS client"));
  }
  const int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  for (;;) {
    const int rc = SSL_connect(ssl.get());
    if (rc == 1) break;
    const int err = SSL_get_error(ssl.get(), rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (!wait_for(fd, err, deadline)) {
        ERR_clear_error();
        return fail(unavailable("the TLS handshake timed out"));
      }
      continue;
    }
    if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN) {
      // errno 0 with SSL_ERROR_SYSCALL: the peer closed the connection.
      const int saved = errno;
      ERR_clear_error();
      return fail(
          unavailable(saved != 0 ? fmt::format("the TLS handshake failed: {}", std::strerror(saved))
                                 : "the server closed the connection in the "
                                   "TLS handshake"));
    }
    return fail(last_error(Code::kInvalidArgument, "the TLS handshake failed"));
  }
  const unsigned char* chosen = nullptr;
  unsigned chosen_len = 0;
  SSL_get0_alpn_selected(ssl.get(), &chosen, &chosen_len);
  if (std::string_view(reinterpret_cast<const char*>(chosen), chosen ? chosen_len : 0) !=
      kAcmeTlsAlpnProtocol) {
    return fail(invalid_argument("the server did not select the ALPN protocol acme-tls/1"));
  }
  std::string der = peer_certificate_der(ssl.get());
  if (der.empty()) return fail(invalid_argument("the server sent no certificate"));
  return der;
}

Status check_tls_alpn_certificate(std::string_view der, std::string_view name, bool is_ip,
                                  std::string_view key_authorization) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Ptr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != reinterpret_cast<const unsigned char*>(der.data() + der.size())) {
    ERR_clear_error();
    return invalid_argument("the server's certificate cannot be parsed");
  }
  X509* x = cert.get();

  // subjectAltName: one extension with one entry, the identifier.
  if (X509_get_ext_by_NID(x, NID_subject_alt_name, -1) < 0) {
    return invalid_argument("the certificate has no subjectAltName");
  }
  int crit = 0;
  Ptr<STACK_OF(GENERAL_NAME)> names(static_cast<STACK_OF(GENERAL_NAME)*>(
      X509_get_ext_d2i(x, NID_subject_alt_name, &crit, nullptr)));
  if (!names) {
    ERR_clear_error();
    return invalid_argument(crit == -2 ? "the certificate has more than one subjectAltName"
                                       : "the certificate's subjectAltName cannot be decoded");
  }
  if (sk_GENERAL_NAME_num(names.get()) != 1) {
    return invalid_argument(fmt::format("the certificate's subjectAltName has {} entries, not 1",
                                        sk_GENERAL_NAME_num(names.get())));
  }
  const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), 0);
  bool matches = false;
  if (!is_ip && gn->type == GEN_DNS) {
    matches = ascii_iequal(string_of(gn->d.dNSName), name);
  } else if (is_ip && gn->type == GEN_IPADD) {
    const auto want = parse_ip_address(name);
    const auto got = ip_address_from_bytes(string_of(gn->d.iPAddress));
    matches = want && got && *want == *got;
  }
  if (!matches) {
    return invalid_argument(fmt::format("the certificate's subjectAltName does not name {}", name));
  }

  // acmeIdentifier: critical, an OCTET STRING of the key authorization's SHA-256.
  Ptr<ASN1_OBJECT> oid(OBJ_txt2obj(kAcmeIdentifierOid, 1));
  if (!oid) return last_error("OBJ_txt2obj");
  const int at = X509_get_ext_by_OBJ(x, oid.get(), -1);
  if (at < 0) return invalid_argument("the certificate has no acmeIdentifier extension");
  if (X509_get_ext_by_OBJ(x, oid.get(), at) >= 0) {
    return invalid_argument("the certificate has more than one acmeIdentifier extension");
  }
  X509_EXTENSION* ext = X509_get_ext(x, at);
  if (X509_EXTENSION_get_critical(ext) != 1) {
    return invalid_argument("the certificate's acmeIdentifier extension is not critical");
  }
  const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(ext);
  const auto* vp = ASN1_STRING_get0_data(value);
  const long vlen = ASN1_STRING_length(value);
  Ptr<ASN1_STRING> inner(d2i_ASN1_OCTET_STRING(nullptr, &vp, vlen));
  if (!inner || vp != ASN1_STRING_get0_data(value) + vlen) {
    ERR_clear_error();
    return invalid_argument("the certificate's acmeIdentifier is not an OCTET STRING");
  }
  if (string_of(inner.get()) != digest(Hash::kSha256, key_authorization)) {
    return invalid_argument(
        "the certificate's acmeIdentifier is not the SHA-256 of the key authorization");
  }
  return ok_status();
}

}  // namespace scepter::pki
