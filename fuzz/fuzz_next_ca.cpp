// libFuzzer target for a GetNextCACert answer, the client side: decode_next_ca_cert()
// with a fixed trusted CA certificate (made once per process).
//
// The first byte picks what the rest is:
//   even: the whole answer, as an upstream sends it. Nothing here can forge the CA's
//         signature, so this covers the parsing and the checks before verification.
//   odd:  the content of an answer the trusted CA really signed, to reach what is read
//         only after the signature verifies (the inner certs-only SignedData).
// Seed it with real answers: `curl -o next.p7 '.../pkiclient.exe?operation=GetNextCACert'`
// (with a leading 0x00 byte), or a certs-only PKCS#7 from `openssl crl2pkcs7 -nocrl
// -certfile new.pem -outform DER` (with a leading 0x01 byte).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"
#include "pki/certificate.h"
#include "pki/key.h"
#include "pki/name.h"
#include "scep/client.h"
#include "scep/cms_util.h"
#include "scep/next_ca.h"

namespace {

struct Ca {
  std::optional<scepter::pki::Key> key;
  std::optional<scepter::pki::Certificate> cert;
};

Ca make_ca() {
  Ca ca;
  auto key = scepter::pki::Key::generate_ec(256);
  CA_ASSERT(key.has_value(), "EC key generation works");
  auto name = scepter::pki::parse_dn("CN=Fuzz Root CA");
  CA_ASSERT(name.has_value(), "fixed name parses");
  auto x509 = scepter::scep::make_self_signed_signer(key->evp(), name->get());
  CA_ASSERT(x509.has_value(), "self-signed certificate");
  auto cert = scepter::pki::Certificate::from_x509(std::move(*x509));
  CA_ASSERT(cert.has_value(), "certificate reads back");
  ca.key = std::move(*key);
  ca.cert = std::move(*cert);
  return ca;
}

const Ca& ca() {
  static const Ca instance = make_ca();
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Ca& c = ca();
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string answer;
  if (data[0] % 2 == 0) {
    answer.assign(body);
  } else {
    scepter::scep::detail::SignSpec spec;
    spec.cert = c.cert->x509();
    spec.key = c.key->evp();
    spec.signing_time = 0;
    auto signed_answer = scepter::scep::detail::sign_data(body, spec, {});
    if (!signed_answer.has_value()) return 0;
    answer = std::move(*signed_answer);
  }
  auto certs = scepter::scep::decode_next_ca_cert(answer, scepter::scep::NextCaTrust{*c.cert});
  if (!certs.has_value()) {
    CA_ASSERT(certs.error().code() == scepter::Code::kInvalidArgument,
              "bad input is an invalid argument");
    return 0;
  }
  CA_ASSERT(data[0] % 2 == 1, "only an answer the trusted CA signed is accepted");
  CA_ASSERT(!certs->empty() && certs->size() <= scepter::scep::kMaxNextCaCertificates,
            "certificates bounded");
  return 0;
}
