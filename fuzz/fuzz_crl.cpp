// libFuzzer target for the CRL readers: parse_crl_info() on arbitrary bytes (the same code
// reads a `<label>.crl` from disk), and crl_lists_certificate(), which reads the CRL a
// trustpoint fetches from its CA. Seed it with real CRLs, e.g. the output of `openssl ca
// -gencrl` converted to DER.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <openssl/x509.h>

#include "pki/crl.h"
#include "pki/ptr.h"

namespace {

// An issuer with a key (any CRL that names another issuer stops at the name check; one
// naming this issuer reaches the signature check) and a certificate to look up.
struct Fixture {
  scepter::pki::Ptr<X509> issuer{X509_new()};
  scepter::pki::Ptr<X509> cert{X509_new()};
  Fixture() {
    scepter::pki::Ptr<EVP_PKEY> key(EVP_EC_gen("P-256"));
    X509_NAME_add_entry_by_txt(X509_get_subject_name(issuer.get()), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("fuzz"), -1, -1, 0);
    X509_set_pubkey(issuer.get(), key.get());
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 2);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view der(reinterpret_cast<const char*>(data), size);
  scepter::Result<scepter::pki::CrlInfo> info = scepter::pki::parse_crl_info(der);
  if (info.has_value()) {
    CA_ASSERT(info->size_bytes == size, "parse_crl_info reports the input size");
    CA_ASSERT(info->issuer != nullptr, "a parsed CRL has an issuer");
  } else {
    CA_ASSERT(info.error().code() == scepter::Code::kInvalidArgument,
              "bad input is an invalid argument");
  }
  static const Fixture f;
  scepter::Result<bool> listed =
      scepter::pki::crl_lists_certificate(der, f.issuer.get(), f.cert.get());
  CA_ASSERT(listed.has_value() || listed.error().code() == scepter::Code::kInvalidArgument,
            "a CRL that cannot be used is an invalid argument");
  return 0;
}
