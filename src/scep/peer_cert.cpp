#include "scep/peer_cert.h"

#include <utility>

#include <openssl/err.h>

#include "pki/crl_der.h"

namespace scepter::scep {

PeerCert::PeerCert(std::string der, std::string issuer_and_serial, pki::Ptr<EVP_PKEY> key)
    : der(std::move(der)), issuer_and_serial(std::move(issuer_and_serial)), key(std::move(key)) {}

PeerCert::PeerCert(const PeerCert& other)
    : der(other.der),
      issuer_and_serial(other.issuer_and_serial),
      key(other.key ? pki::up_ref(other.key.get()) : nullptr) {}

PeerCert& PeerCert::operator=(const PeerCert& other) {
  if (this != &other) *this = PeerCert(other);
  return *this;
}

Result<PeerCert> PeerCert::from_x509(X509* cert) {
  if (cert == nullptr) return fail(invalid_argument("no certificate"));
  EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key == nullptr) {
    ERR_clear_error();
    return fail(invalid_argument("the certificate's public key cannot be read"));
  }
  const int der_len = i2d_X509(cert, nullptr);
  const unsigned char* name = nullptr;
  std::size_t name_len = 0;
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  const int serial_len = i2d_ASN1_INTEGER(serial, nullptr);
  if (der_len <= 0 || serial_len <= 0 ||
      X509_NAME_get0_der(X509_get_issuer_name(cert), &name, &name_len) != 1) {
    return fail(pki::last_error("encoding a certificate"));
  }
  PeerCert out;
  out.der.resize(static_cast<std::size_t>(der_len));
  auto* p = reinterpret_cast<unsigned char*>(out.der.data());
  i2d_X509(cert, &p);
  std::string ias(reinterpret_cast<const char*>(name), name_len);
  const std::size_t at = ias.size();
  ias.resize(at + static_cast<std::size_t>(serial_len));
  p = reinterpret_cast<unsigned char*>(ias.data() + at);
  i2d_ASN1_INTEGER(serial, &p);
  pki::der::append_framed(out.issuer_and_serial, pki::der::kSequence, ias);
  out.key = pki::up_ref(key);
  return out;
}

}  // namespace scepter::scep
