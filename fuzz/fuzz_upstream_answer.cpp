// libFuzzer target for what scepterd reads from a superior CA before any signature is
// checked: a GetCACaps body and a GetCACert body (both Content-Types), then the roles of
// the certificates. The first byte picks the reader; the rest is the body. Seed it with
// real answers, e.g. `curl -o ca.p7 '.../pkiclient.exe?operation=GetCACert'` from a
// scepterd sub-CA or an RA.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "scep/upstream_client.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  using scepter::scep::kMaxAnnouncedCaps;
  switch (data[0] % 3) {
    case 0: {
      scepter::ca::UpstreamCaps caps = scepter::scep::parse_ca_caps(body);
      CA_ASSERT(caps.announced.size() <= kMaxAnnouncedCaps, "announced capabilities bounded");
      break;
    }
    case 1:
    case 2: {
      const std::string_view type =
          data[0] % 3 == 1 ? "application/x-x509-ca-cert" : "application/x-x509-ca-ra-cert";
      auto certs = scepter::scep::read_ca_certificates(type, body, "fuzz");
      if (!certs.has_value()) {
        CA_ASSERT(certs.error().code() == scepter::Code::kInvalidArgument,
                  "bad input is an invalid argument");
        break;
      }
      CA_ASSERT(certs->size() <= scepter::scep::kMaxUpstreamCertificates, "certificates bounded");
      auto roles = scepter::scep::classify_ca_certificates(std::move(*certs));
      if (roles.has_value()) {
        CA_ASSERT(!roles->ca_chain.empty(), "a classified answer has a CA");
      } else {
        CA_ASSERT(roles.error().code() == scepter::Code::kInvalidArgument,
                  "an unusable answer is an invalid argument");
      }
      break;
    }
  }
  return 0;
}
