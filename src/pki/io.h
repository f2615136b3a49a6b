#pragma once
// Moving bytes in and out of OpenSSL: memory BIOs and i2d output. Internal to pki/.

#include <string>
#include <string_view>

#include "pki/ptr.h"

namespace scepter::pki {

// A read-only BIO over `data`, which must outlive it. Null only on allocation failure.
Ptr<BIO> read_bio(std::string_view data);
// An empty, growable memory BIO to write into. Null only on allocation failure.
Ptr<BIO> write_bio();
// Everything written to a memory BIO so far.
std::string bio_contents(BIO* bio);

// The DER that `i2d` (any OpenSSL i2d_* function) writes for `obj`; empty on failure.
template <class Fn, class T>
std::string to_der(Fn i2d, T* obj) {
  unsigned char* out = nullptr;
  const int len = i2d(obj, &out);
  if (len <= 0 || out == nullptr) return {};
  OpenSslBuf<unsigned char> owned(out);
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(len));
}

// The bytes of an ASN1_STRING (OCTET STRING, IA5String, ...).
inline std::string_view string_bytes(const ASN1_STRING* s) {
  return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
          static_cast<std::size_t>(ASN1_STRING_length(s))};
}

}  // namespace scepter::pki
