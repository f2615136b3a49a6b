#pragma once
// ScepService: the server side of SCEP (RFC 8894) for the certificate servers of a
// device — GetCACaps, GetCACert, GetNextCACert, PKIOperation (PKCSReq, RenewalReq,
// CertPoll, GetCert, GetCRL) and the plain `operation=GetCRL` used by HTTP CDPs.
//
// It knows nothing of HTTP sockets: the HTTP layer hands it the operation, the raw
// `message=` value and the body, and sends back what it returns (status, content type,
// body and the extra headers).
//
// PKIOperation:
//   - A POST body, or the DER of a GET `message=`, over kMaxPkiMessageSize (64 KiB) is
//     answered 413 before anything is parsed.
//   - One message costs at most one private-key operation whatever the number of
//     enabled certificate servers: the envelope's single recipientInfo is read first
//     (no cryptography), the enabled server whose CA certificate it names is picked,
//     and only that server's key verifies and decrypts (request.h). A message that
//     names none of them gets FAILURE badMessageCheck, signed by the server `message=`
//     names on a POST, else by the first enabled one.
//   - Every answer to a message that could be parsed is a signed CertRep (FAILURE with a
//     failInfo when the request is wrong). Every refusal from the envelope on, and a CA
//     answer with failInfo badMessageCheck, says the same failInfoText
//     (kEnvelopeFailureText); the reason goes to the `debug crypto pki server` trace.
//   - The server's own trouble is not the request's fault and is no CertRep: when the
//     certificate server fails with kUnavailable or kInternal (database down, disk full,
//     disabled meanwhile), the answer is HTTP 503 text/plain with `Retry-After`, so that
//     clients try again rather than give up. No enabled server at all: 503 as well.
//   - CertReps are signed with SHA-256 or stronger: a request signed with MD5, SHA-1 or
//     SHA-224 gets a SHA-256 reply, SHA-384 and SHA-512 requests get their own digest.
//     The signatureAlgorithm stays rsaEncryption (cert_rep.h); clients verify the
//     digest the signerInfo names, as strongSwan, sscep, micromdm and OpenSSL do.
//   - Text from the request reaches logs and traces only escaped (printable ASCII).
//
// GetNextCACert costs a CA private-key signature only once per rollover certificate: the
// answer is kept and served again until the rollover certificate or the CA certificate
// changes (an unauthenticated client cannot make the server sign on demand).
//
// Thread-safe: handle() may run on many threads at once. The only lock of its own guards
// the kept GetNextCACert answers, and no cryptography runs under it.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"

namespace scepter::ca {
class Device;
}

namespace scepter::scep {

struct ScepHttpRequest {
  std::string method;       // "GET" or "POST"
  std::string operation;    // the `operation=` value
  std::string message_raw;  // the `message=` value exactly as received (not decoded)
  bool has_message = false;
  std::string body;  // POST body
};

struct ScepHttpResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  // Extra headers to send, e.g. {"Retry-After", "30"} with a 503.
  std::vector<std::pair<std::string, std::string>> headers;
  // Immutable bytes the server keeps anyway (the CRL as published, the CA certificate,
  // the capabilities): when set, they are the body, shared rather than copied, and
  // `body` is empty.
  std::shared_ptr<const std::string> shared_body = nullptr;

  // The body: *shared_body when set, else body.
  std::string_view payload() const { return shared_body ? *shared_body : body; }
};

struct ScepServiceOptions {
  // A request whose signingTime is further than this from the server's clock is answered
  // FAILURE badTime.
  Seconds max_clock_skew = Seconds(24 * 3600);
  // The `Retry-After` of a 503 for the server's own trouble.
  Seconds retry_after = Seconds(30);
};

class ScepService {
 public:
  explicit ScepService(ca::Device& device, ScepServiceOptions options = {})
      : device_(device), options_(options) {}

  ScepHttpResponse handle(const ScepHttpRequest& request) const;

  // The GetCACaps keywords, one per line.
  static std::string capabilities();

 private:
  ScepHttpResponse pki_operation(const ScepHttpRequest& request) const;
  ScepHttpResponse next_ca_cert(const ScepHttpRequest& request) const;

  // A GetNextCACert answer, valid while the server still signs with `signer` and rolls
  // over to `next` (both DER).
  struct NextCaAnswer {
    std::string signer;
    std::string next;
    std::shared_ptr<const std::string> body;
  };

  ca::Device& device_;
  ScepServiceOptions options_;
  mutable Mutex next_ca_mu_;
  mutable std::map<std::string, NextCaAnswer> next_ca_answers_ GUARDED_BY(next_ca_mu_);
};

}  // namespace scepter::scep
