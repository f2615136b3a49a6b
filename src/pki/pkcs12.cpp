#include "pki/pkcs12.h"

#include <climits>

#include <openssl/err.h>

#include "pki/io.h"
#include "pki/provider.h"

namespace scepter::pki {

Result<std::string> make_pkcs12(const Certificate& cert, const Key& key,
                                std::string_view passphrase, std::string_view friendly_name,
                                const std::vector<Certificate>& chain, Pkcs12Cipher cipher,
                                int iterations) {
  if (passphrase.empty()) return fail(invalid_argument("a passphrase is required"));
  if (iterations < 1 || iterations > kMaxKeyEncryptionIterations) {
    return fail(invalid_argument("iteration count out of range"));
  }
  if (passphrase.size() > INT_MAX) return fail(invalid_argument("passphrase too long"));
  if (!key.has_private()) return fail(invalid_argument("the key has no private part"));
  // A key on a token never leaves it: the file holds the certificates alone.
  const bool on_token = !key.token().empty();
  ASSIGN_OR_RETURN(const Key cert_key, cert.public_key());
  if (!cert_key.equals_public(key)) {
    return fail(invalid_argument("the key does not match the certificate"));
  }
  Ptr<STACK_OF(X509)> ca(sk_X509_new_null());
  if (!ca) return fail(last_error("allocating chain"));
  for (const Certificate& c : chain) {
    Ptr<X509> ref = up_ref(c.x509());
    if (sk_X509_push(ca.get(), ref.get()) == 0) return fail(last_error("building chain"));
    ref.release();  // the stack owns this reference now
  }
  const std::string pass(passphrase);
  const std::string name(friendly_name);
  const bool aes = cipher == Pkcs12Cipher::kAes256;
  const int nid = aes ? NID_aes_256_cbc : NID_pbe_WithSHA1And3_Key_TripleDES_CBC;
  // mac_iter -1: no MAC here, so that we choose its digest below (PKCS12_create would
  // use SHA-1).
  Ptr<PKCS12> p12(PKCS12_create(pass.c_str(), name.empty() ? nullptr : name.c_str(),
                                on_token ? nullptr : key.evp(), cert.x509(), ca.get(), nid, nid,
                                iterations, -1, 0));
  if (!p12) return fail(last_error("building PKCS#12"));
  if (PKCS12_set_mac(p12.get(), pass.c_str(), static_cast<int>(pass.size()), nullptr, 0, iterations,
                     aes ? EVP_sha256() : EVP_sha1()) != 1) {
    return fail(last_error("adding PKCS#12 MAC"));
  }
  std::string der = to_der(i2d_PKCS12, p12.get());
  if (der.empty()) return fail(last_error("encoding PKCS#12"));
  return der;
}

Result<Pkcs12Contents> parse_pkcs12(std::string_view der, std::string_view passphrase) {
  if (der.empty()) return fail(invalid_argument("empty PKCS#12"));
  if (der.size() > LONG_MAX || passphrase.size() > INT_MAX) {
    return fail(invalid_argument("PKCS#12 input too large"));
  }
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Ptr<PKCS12> p12(d2i_PKCS12(nullptr, &p, static_cast<long>(der.size())));
  if (!p12) return fail(last_error(Code::kInvalidArgument, "not a PKCS#12 file"));
  if (p != reinterpret_cast<const unsigned char*>(der.data() + der.size())) {
    return fail(invalid_argument("trailing bytes after the PKCS#12"));
  }
  const std::string pass(passphrase);
  if (PKCS12_mac_present(p12.get()) == 1) {
    // OpenSSL runs whatever count the file names: look before verifying.
    const ASN1_INTEGER* mac_iter = nullptr;
    PKCS12_get0_mac(nullptr, nullptr, nullptr, &mac_iter, p12.get());
    // Absent means 1 (RFC 7292).
    const long iter = mac_iter == nullptr ? 1 : ASN1_INTEGER_get(mac_iter);
    if (iter < 0 || iter > kMaxKeyEncryptionIterations) {
      ERR_clear_error();
      return fail(invalid_argument("the PKCS#12 MAC asks for too many iterations"));
    }
  }
  if (PKCS12_mac_present(p12.get()) == 1 &&
      PKCS12_verify_mac(p12.get(), pass.c_str(), static_cast<int>(pass.size())) != 1) {
    ERR_clear_error();
    return fail(permission_denied("wrong PKCS#12 passphrase"));
  }
  load_legacy_provider();  // RC2-40 and single DES bags from old exporters
  EVP_PKEY* raw_key = nullptr;
  X509* raw_cert = nullptr;
  STACK_OF(X509)* raw_ca = nullptr;
  const int ok = PKCS12_parse(p12.get(), pass.c_str(), &raw_key, &raw_cert, &raw_ca);
  Ptr<EVP_PKEY> pkey(raw_key);
  Ptr<X509> cert(raw_cert);
  Ptr<STACK_OF(X509)> ca(raw_ca);
  if (ok != 1) {
    // Without a MAC a wrong passphrase shows up only here, as a decryption failure.
    if (PKCS12_mac_present(p12.get()) != 1) {
      ERR_clear_error();
      return fail(permission_denied("cannot decrypt the PKCS#12: wrong passphrase?"));
    }
    return fail(last_error(Code::kInvalidArgument, "cannot read the PKCS#12 contents"));
  }
  if (!pkey) return fail(invalid_argument("the PKCS#12 holds no private key"));
  if (!cert) return fail(invalid_argument("the PKCS#12 holds no certificate for its key"));
  ASSIGN_OR_RETURN(Key key, Key::from_evp(std::move(pkey)));
  ASSIGN_OR_RETURN(Certificate certificate, Certificate::from_x509(std::move(cert)));
  std::vector<Certificate> chain;
  while (ca && sk_X509_num(ca.get()) > 0) {
    ASSIGN_OR_RETURN(Certificate c, Certificate::from_x509(Ptr<X509>(sk_X509_shift(ca.get()))));
    chain.push_back(std::move(c));
  }
  return Pkcs12Contents{std::move(key), std::move(certificate), std::move(chain)};
}

}  // namespace scepter::pki
