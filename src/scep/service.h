#pragma once
// ScepService: the server side of SCEP (RFC 8894) for the certificate servers of a
// device — GetCACaps, GetCACert, GetNextCACert, PKIOperation (PKCSReq, RenewalReq,
// CertPoll, GetCert, GetCRL) and the plain `operation=GetCRL` used by HTTP CDPs.
//
// It knows nothing of HTTP sockets: the HTTP layer hands it the operation, the raw
// `message=` value and the body, and sends back what it returns. Every answer to a
// PKIOperation that could be parsed is a signed CertRep (FAILURE with a failInfo when
// something is wrong), never an HTTP error.
//
// Thread-safe: handle() may run on many threads at once; it holds no lock of its own.

#include <string>
#include <vector>

#include "common/clock.h"

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
};

struct ScepServiceOptions {
  // A request whose signingTime is further than this from the server's clock is answered
  // FAILURE badTime.
  Seconds max_clock_skew = Seconds(24 * 3600);
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

  ca::Device& device_;
  ScepServiceOptions options_;
};

}  // namespace scepter::scep
