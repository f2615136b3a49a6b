#pragma once
// HttpUpstream: ca::UpstreamCa over HTTP with libcurl — how scepterd, as a trustpoint,
// a subordinate CA or an RA, talks SCEP (RFC 8894) to the CA above it.
//
// URLs. The trustpoint's `enrollment url` is http://host[:port][/path] (IPv6 in
// brackets); https:// works too. As IOS reads it, the path is the location of the CA's
// scripts, "/cgi-bin" when there is none, and "/pkiclient.exe" is appended unless the
// path already ends in "pkiclient.exe": http://ca -> /cgi-bin/pkiclient.exe,
// http://ndes/certsrv/mscep/mscep.dll -> /certsrv/mscep/mscep.dll/pkiclient.exe. Then
// "?operation=NAME[&message=VALUE]" (see operation_url()).
//
// Algorithms of a PKIOperation, from the upstream's GetCACaps:
//   - method: POST (application/x-pki-message) when it announces POSTPKIOperation or
//     SCEPStandard, else GET with the message in the query;
//   - cipher: AES-128-CBC when it announces AES or SCEPStandard, else DES3-CBC (the
//     RFC 8894 minimum, which every SCEP CA has; single DES is never sent);
//   - digest: SHA-512 when announced, else SHA-256 when announced (or SCEPStandard),
//     else SHA-1 when announced, else SHA-256 (a CA that lists no digest has not told us
//     it lacks SHA-256, and nothing weaker is chosen without being asked; MD5 never).
//
// Errors follow ca/upstream_ca.h:
//   - kUnavailable: the host cannot be reached, the transfer timed out or broke off
//     ("cannot reach HOST: <curl's reason>"), or a GetCACert or PKIOperation got an HTTP
//     status other than 200 ("HTTP 503 from URL"). A GetCACaps with an HTTP error status
//     is no error: the upstream announced nothing (RFC 8894 §3.5.2).
//   - kInvalidArgument: a URL that is not http(s)://host..., an answer over
//     max_response_bytes ("answer too large"), and whatever is wrong with the answer
//     itself (see get_ca_cert() and send()).
//
// Network behaviour: one connection per call (no reuse), no redirects followed, only the
// http and https protocols, and no proxy — not even one named by http_proxy and friends
// in the environment, so that what scepterd does depends on its configuration alone.
//
// Every step is traced in the `debug crypto pki transactions` category, in the words of
// IOS ("CRYPTO_PKI: http connection opened").
//
// Thread-safe: calls may run on any number of threads at once; each has its own curl
// handle. The first HttpUpstream constructed initialises libcurl once for the process.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "ca/upstream_ca.h"
#include "common/status.h"
#include "pki/certificate.h"

namespace scepter::scep {

struct HttpUpstreamOptions {
  std::chrono::milliseconds connect_timeout{10'000};  // TCP (and TLS) connect
  std::chrono::milliseconds total_timeout{30'000};    // the whole exchange
  // Larger answers are cut off: kInvalidArgument "answer too large".
  std::size_t max_response_bytes = 256 * 1024;
  std::string user_agent = "scepterd";
};

// GetCACert answers with more certificates than this are refused.
inline constexpr std::size_t kMaxUpstreamCertificates = 16;
// GetCACaps: lines kept in UpstreamCaps::announced, and the length kept of each.
inline constexpr std::size_t kMaxAnnouncedCaps = 32, kMaxCapLength = 64;

class HttpUpstream final : public ca::UpstreamCa {
 public:
  explicit HttpUpstream(HttpUpstreamOptions options = {});

  // GetCACaps. Lines are matched case-insensitively; unknown ones are only kept in
  // `announced`.
  Result<ca::UpstreamCaps> get_ca_caps(const std::string& url, const std::string& ident) override;

  // GetCACert. `application/x-x509-ca-cert`: one DER (or PEM) certificate, the CA.
  // `application/x-x509-ca-ra-cert`: a certs-only PKCS#7 whose certificates are sorted
  // by classify_ca_certificates(). kInvalidArgument for another Content-Type, bytes that
  // do not parse, more than kMaxUpstreamCertificates, or a bundle that does not classify.
  Result<ca::UpstreamCertificates> get_ca_cert(const std::string& url,
                                               const std::string& ident) override;

  // One PKIOperation. The message is signed by request.signer_cert/signer_key with a
  // fresh senderNonce, encrypted to request.upstream.recipient(); CertPoll carries
  // IssuerAndSubject(issuing CA's subject, the CSR's subject). The CertRep must verify
  // against request.upstream.reply_signer() and echo our transactionID and senderNonce;
  // otherwise, or when it does not parse or a SUCCESS holds no certificate,
  // kInvalidArgument. kInvalidArgument as well, before anything is sent, for a request
  // that cannot be built (no CA, a CSR that does not parse, a signer without a private
  // key).
  Result<ca::UpstreamReply> send(const ca::UpstreamRequest& request) override;

  // `operation=GetCRL`: the body of a 200 answer (at most max_response_bytes), else
  // kUnavailable.
  Result<std::string> get_crl(const std::string& url, const std::string& ident) override;

  // GetNextCACert. The answer must be `application/x-x509-next-ca-cert` and pass
  // decode_next_ca_cert() (scep/next_ca.h) with current.issuing_ca() and
  // current.ra_signer as the trusted signers; its certificates are then sorted by
  // classify_ca_certificates(). HTTP 404 gives kNotFound ("the CA has no rollover
  // certificate"), another HTTP error kUnavailable; kInvalidArgument for another
  // Content-Type, an answer that does not verify or does not classify, or a `current`
  // with no CA certificate.
  Result<ca::UpstreamCertificates> get_next_ca_cert(
      const std::string& url, const std::string& ident,
      const ca::UpstreamCertificates& current) override;

 private:
  HttpUpstreamOptions options_;
};

// The URL of one operation: `enrollment_url` with the CGI path completed (see above),
// then "?operation=OPERATION" and, when `message` is not empty, "&message=MESSAGE".
// `message` is put in as given: the caller percent-encodes it. kInvalidArgument when
// `enrollment_url` is not an absolute http:// or https:// URL with a host, or has a
// query, a fragment or user information.
Result<std::string> operation_url(std::string_view enrollment_url, std::string_view operation,
                                  std::string_view message = {});

// The roles of the certificates of a GetCACert answer (ca::UpstreamCertificates):
//   - CA certificates are those with basicConstraints CA:TRUE; a single certificate is
//     also taken as the CA when it is self-issued without basicConstraints (a v1 root).
//   - The issuing CA is, when RA certificates (the others) are present, the CA that
//     issued them (checked by signature), else the one CA certificate that issued no
//     other CA certificate of the answer. ca_chain is the issuing CA followed by its
//     issuers as far as they were sent.
//   - An RA certificate with keyUsage digitalSignature or nonRepudiation signs, one with
//     keyEncipherment is encrypted to; both usages, or no keyUsage extension, fill both.
// kInvalidArgument, naming the certificate, when there is no CA certificate, when the
// issuing CA is ambiguous, when a certificate fits no role (a leaf the CAs did not
// issue, a CA outside the chain, an RA with neither usage) or two fit the same one.
Result<ca::UpstreamCertificates> classify_ca_certificates(std::vector<pki::Certificate> certs);

// "<subject> (MD5 fingerprint <hex>)": how traces and errors name an upstream's
// certificate.
std::string describe_certificate(const pki::Certificate& cert);

// The body of a GetCACaps answer: one capability per line, case ignored, blanks trimmed.
// Never fails; unknown lines are only kept in `announced` (bounded, see above).
ca::UpstreamCaps parse_ca_caps(std::string_view body);

// The certificates of a GetCACert answer body, before classification: one DER (or PEM)
// certificate for `application/x-x509-ca-cert`, a certs-only PKCS#7 of at most
// kMaxUpstreamCertificates for `application/x-x509-ca-ra-cert`. kInvalidArgument, naming
// `host`, for another Content-Type or bytes that do not parse.
Result<std::vector<pki::Certificate>> read_ca_certificates(std::string_view content_type,
                                                           std::string_view body,
                                                           std::string_view host);

}  // namespace scepter::scep
