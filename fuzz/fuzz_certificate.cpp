// libFuzzer target: certificates as a SCEP client (its signer certificate), an upstream CA
// or an operator's paste delivers them. Certificate::from_der must reject anything
// malformed with a Status; for one it accepts, the key bytes public_key() keeps (found by
// walking the certificate's DER) must be what OpenSSL writes for the key it decoded.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <openssl/x509.h>

#include "pki/certificate.h"
#include "pki/io.h"
#include "pki/issuer.h"
#include "pki/name.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto cert = scepter::pki::Certificate::from_der(input);
  if (!cert) return 0;
  (void)cert->serial();
  (void)cert->serial_hex();
  (void)scepter::pki::format_dn_ios(cert->subject());
  (void)cert->subject_key_id();
  (void)cert->is_ca();
  auto key = cert->public_key();
  if (!key) return 0;
  if (key->public_key_der() != scepter::pki::to_der(i2d_PUBKEY, key->evp())) std::abort();
  (void)scepter::pki::key_identifier(*key);
  (void)cert->verify_signature(*key);
  return 0;
}
