// libFuzzer target: PKCS#10 requests as a SCEP client or an operator's paste delivers
// them. Csr::parse must reject anything malformed with a Status, and every accessor of
// a request it accepts must work. The key bytes a request keeps (and a certificate issued
// for it embeds) must be what OpenSSL writes for the key it decoded.
//
// Csr::parse reads the request with DER walks of its own and OpenSSL's d2i for each value,
// not with d2i_X509_REQ (which decodes the key through OpenSSL's slow decoders). Whatever
// it accepts, d2i_X509_REQ must accept too and read the same way: the same subject, the
// same public key, the same requested extensions, and the same answer to the signature
// check as X509_REQ_verify.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "pki/csr.h"
#include "pki/io.h"
#include "pki/issuer.h"
#include "pki/name.h"
#include "pki/profile.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using scepter::pki::Csr;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto csr = Csr::parse(input);
  if (!csr) return 0;
  X509_REQ* req = csr->x509_req();
  if (req == nullptr || X509_NAME_cmp(csr->subject(), X509_REQ_get_subject_name(req)) != 0) {
    std::abort();
  }
  EVP_PKEY* openssl_key = X509_REQ_get0_pubkey(req);
  if (openssl_key == nullptr || EVP_PKEY_eq(openssl_key, csr->public_key().evp()) != 1) {
    std::abort();
  }
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req);
  const auto& ours = csr->requested_extensions();
  if (exts == nullptr || static_cast<std::size_t>(sk_X509_EXTENSION_num(exts)) != ours.size()) {
    std::abort();
  }
  for (std::size_t i = 0; i < ours.size(); ++i) {
    X509_EXTENSION* theirs = sk_X509_EXTENSION_value(exts, static_cast<int>(i));
    if (scepter::pki::to_der(i2d_X509_EXTENSION, theirs) !=
        scepter::pki::to_der(i2d_X509_EXTENSION, ours[i].get())) {
      std::abort();
    }
  }
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  const bool openssl_verifies = X509_REQ_verify(req, openssl_key) == 1;
  ERR_clear_error();
  if (csr->verify_signature().ok() != openssl_verifies) std::abort();
  (void)csr->der();
  (void)csr->pem();
  (void)scepter::pki::format_dn_ios(csr->subject());
  (void)scepter::pki::format_dn_config(csr->subject());
  // The quick look that lets listings skip parsing must never miss an extension request.
  if (!csr->requested_extensions().empty() && !scepter::pki::may_request_extensions(input)) {
    std::abort();
  }
  (void)csr->challenge_password();
  if (csr->public_key().public_key_der() !=
      scepter::pki::to_der(i2d_PUBKEY, csr->public_key().evp())) {
    std::abort();
  }
  if (scepter::pki::key_identifier(csr->public_key()).size() != 20) std::abort();
  (void)csr->public_key().is_rsa();
  (void)csr->key_bits();
  (void)csr->md5_fingerprint();
  (void)csr->spki_md5_hex();
  (void)csr->x509_req();
  (void)scepter::pki::key_description(csr->public_key());
  // The profile reads the requested extensions again: it must take whatever parse took.
  (void)scepter::pki::evaluate_profile(*csr, {});
  (void)scepter::pki::profile_extensions(*csr, {.ca = scepter::pki::CaProfile{.path_len = 1},
                                                .extra_ekus = {scepter::pki::Eku::kServerAuth}});
  // Anything we print back as a config name must parse again.
  (void)scepter::pki::parse_dn(scepter::pki::format_dn_config(csr->subject()));
  return 0;
}
