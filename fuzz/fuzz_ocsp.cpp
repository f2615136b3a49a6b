// libFuzzer target for the OCSP request reader, parse_request(), which reads what any
// client on the network POSTs to /ocsp (or GETs in the URL). A request it accepts is
// answered: the CertIDs are matched against an issuer and a response is signed echoing
// them and the nonce. Seed it with requests from `openssl ocsp -reqout`.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "pki/issuer.h"
#include "pki/name.h"
#include "pki/ocsp.h"

namespace {

constexpr std::int64_t kNow = 1735995514;

scepter::pki::Certificate make_ca(const scepter::pki::Key& key) {
  auto name = scepter::pki::parse_dn("CN=fuzz");
  CA_ASSERT(name.has_value(), "a name");
  auto cert = scepter::pki::make_ca_certificate({.subject = name->get(),
                                                 .key = key,
                                                 .not_before = scepter::from_unix(kNow),
                                                 .not_after = scepter::from_unix(kNow + 86400)});
  CA_ASSERT(cert.has_value(), "a CA certificate");
  return *cert;
}

struct Fixture {
  scepter::pki::Key key = *scepter::pki::Key::generate_ec(256);
  scepter::pki::Certificate ca = make_ca(key);
  scepter::pki::ocsp::IssuerMatch match{ca};
  scepter::pki::ocsp::ResponseSigner signer =
      *scepter::pki::ocsp::ResponseSigner::create(ca, key, scepter::pki::Hash::kSha256, false);
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace ocsp = scepter::pki::ocsp;
  const std::string_view der(reinterpret_cast<const char*>(data), size);
  scepter::Result<ocsp::Request> req = ocsp::parse_request(der);
  if (!req.has_value()) {
    CA_ASSERT(req.error().code() == scepter::Code::kInvalidArgument,
              "bad input is an invalid argument");
    return 0;
  }
  CA_ASSERT(!req->ids.empty() && req->ids.size() <= ocsp::kMaxCertIds, "1..16 CertIDs");
  static const Fixture f;
  std::vector<ocsp::SingleStatus> statuses;
  const scepter::TimePoint now = scepter::from_unix(kNow);
  for (const ocsp::CertId& id : req->ids) {
    CA_ASSERT(der.find(id.whole) != std::string_view::npos, "a CertID is a view of the input");
    statuses.push_back(
        {.cert_id = id.whole,
         .status = f.match.matches(id) ? ocsp::CertStatus::kGood : ocsp::CertStatus::kUnknown,
         .this_update = now});
  }
  auto signed_response = f.signer.sign(statuses, now, req->nonce_extension);
  CA_ASSERT(signed_response.has_value(), "an accepted request can be answered");
  return 0;
}
