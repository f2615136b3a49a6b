#pragma once
// EstService: the server side of EST (RFC 7030 as updated by RFC 8951) for the
// certificate servers of a device that have `est`: /cacerts, /csrattrs, /simpleenroll,
// /simplereenroll and /serverkeygen under /.well-known/est/.
//
// Like ScepService it knows nothing of sockets: the HTTPS front end hands it the method,
// the path, the headers it needs, the body and the client's TLS certificate, and sends
// back what it returns.
//
// Paths: /.well-known/est/OP for the only server with `est`, /.well-known/est/LABEL/OP
// (RFC 7030 3.2.2) or /LABEL/.well-known/est/OP for server LABEL; the last form is what
// clients that put their URL's path in front of /.well-known/est/ (strongSwan) reach.
//
// Enrolment (simpleenroll, simplereenroll, serverkeygen):
//   - The client must authenticate (RFC 7030 3.2.3, 3.3.2): with a valid certificate of
//     this CA in the TLS handshake; with the CA's live one-time password as the HTTP
//     Basic password (any user name); or as one of the server's `est user` accounts.
//     Anything else gets 401 with WWW-Authenticate Basic before the body is looked at:
//     an unauthenticated request costs no parsing and no key operation. An account's
//     password costs an scrypt (some milliseconds) to check, so an account takes at most
//     kMaxAccountFailures wrong passwords a minute (then 401 without checking, until the
//     minute is over); a password that verified is remembered (by its SHA-256), so a
//     client that sends it again costs no scrypt. Unknown user names cost nothing.
//   - simplereenroll needs the client's certificate (RFC 7030 4.2.2) and a request for
//     exactly its subject and subjectAltNames; otherwise 401 or 400.
//   - The request goes to CertificateServer::scep_enroll(), so the request policy decides
//     as for SCEP: the TLS certificate is the signer, simplereenroll is a RenewalReq, the
//     Basic password is the one-time password. A request's transactionID is derived from
//     its bytes, its signer and the operation, so that a client asking again with the
//     same request (after a 202) gets the stored request's answer, never a second one.
//   - Answers: 200 with the certificate as a certs-only PKCS#7, base64 on one line (RFC
//     8951; strongSwan reads nothing else); 202 with Retry-After (`est retry-after`) while
//     the request waits for the operator; 400 with the reason when refused; 503 with
//     Retry-After when the server has trouble of its own (database down).
//   - serverkeygen: the server makes the key (CertificateServer::server_keygen: of the
//     kind the request's key is; the request's own key and signature count for nothing
//     else, RFC 7030 4.4.1) and answers 200 with multipart/mixed: the key as an
//     unencrypted PKCS#8 (application/pkcs8; TLS protects it) and the certificate as
//     certs-only, both base64. Asking for the key encrypted to another key
//     (DecryptKeyIdentifier, AsymmetricDecryptKeyIdentifier) gets 501. While the request
//     waits for the operator (202), its key waits sealed in the stored request; the client
//     polls with the same request and gets the same key. While the server makes another
//     key, 503 with Retry-After.
// Bodies are base64 (with or without line breaks; Content-Transfer-Encoding is ignored,
// RFC 8951); bodies over scep::kMaxPkiMessageSize are refused with 413.
// fullcmc answers 501.
//
// Thread-safe: handle() may run on many threads at once; it holds no lock of its own.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"

namespace scepter::ca {
class Device;
}

namespace scepter::est {

// An EST path taken apart: the label (empty: none) and the operation as written.
struct EstPath {
  std::string label;
  std::string operation;
};
// nullopt when `path` is not an EST path (see above). Labels and operations are single
// non-empty path segments.
std::optional<EstPath> parse_path(std::string_view path);

struct EstHttpRequest {
  std::string method;                        // "GET", "POST"
  std::string path;                          // percent-decoded, without the query
  std::optional<std::string> authorization;  // the Authorization header
  std::string body;
  std::string peer_certificate_der;  // the client's TLS certificate; empty: none
};

struct EstHttpResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Wrong passwords an `est user` account takes in a minute before it is refused unchecked.
inline constexpr int kMaxAccountFailures = 5;

class EstService {
 public:
  explicit EstService(ca::Device& device) : device_(device) {}
  EstHttpResponse handle(const EstHttpRequest& request) const;

 private:
  // Whether `password` is account `user`'s of server `label` (`hashed`: its secret), within
  // the limits above.
  bool account_matches(const std::string& label, const std::string& user, const std::string& hashed,
                       std::string_view password) const;

  struct AccountState {
    std::string secret;    // the secret `verified` was checked against
    std::string verified;  // SHA-256 of the password that last verified
    int failures = 0;
    TimePoint window{};  // the start of the minute failures are counted in
  };

  ca::Device& device_;
  mutable Mutex mu_;
  // By label and user name; only accounts that exist get an entry.
  mutable std::map<std::string, AccountState> accounts_ GUARDED_BY(mu_);
};

// The user name and password of an HTTP Basic Authorization header value, nullopt when
// it is not Basic credentials ("Basic " + base64 of "user:password").
struct BasicCredentials {
  std::string user;
  std::string password;
};
std::optional<BasicCredentials> basic_credentials(std::string_view authorization);

}  // namespace scepter::est
