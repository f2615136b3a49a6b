// libFuzzer target for the CRL reader: parse_crl_info() on arbitrary bytes (the same code
// reads a `<label>.crl` from disk and CRLs fetched from upstream CAs). Seed it with real
// CRLs, e.g. the output of `openssl ca -gencrl` converted to DER.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "pki/crl.h"

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
  return 0;
}
