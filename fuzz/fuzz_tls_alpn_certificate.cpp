// libFuzzer target: the certificate an ACME client's server presents for tls-alpn-01
// (RFC 8737), and the addresses and prefixes operators type. check_tls_alpn_certificate
// must answer every input with a Status, never crash; parse_ip_prefix must give back a
// prefix that prints and parses to itself.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/ip_prefix.h"
#include "pki/tls_alpn_probe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)scepter::pki::check_tls_alpn_certificate(input, "a.example.test", false, "t.k");
  (void)scepter::pki::check_tls_alpn_certificate(input, "192.0.2.1", true, "t.k");
  if (auto p = scepter::parse_ip_prefix(input.substr(0, 64))) {
    auto again = scepter::parse_ip_prefix(p->text());
    if (!again || !(again->network == p->network) || again->length != p->length) std::abort();
    (void)scepter::is_special_address(p->network);
  }
  return 0;
}
