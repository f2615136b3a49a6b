// libFuzzer target: PKCS#10 requests as a SCEP client or an operator's paste delivers
// them. Csr::parse must reject anything malformed with a Status, and every accessor of
// a request it accepts must work. The key bytes a request keeps (and a certificate issued
// for it embeds) must be what OpenSSL writes for the key it decoded.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

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
  (void)csr->verify_signature();
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
