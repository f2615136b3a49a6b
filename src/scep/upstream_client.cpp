#include "scep/upstream_client.h"

#include <cctype>
#include <memory>
#include <optional>
#include <utility>

#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/parse.h"
#include "files/curl_util.h"
#include "pki/name.h"
#include "scep/client.h"
#include "scep/next_ca.h"
#include "scep/payload.h"
#include "scep/request.h"

namespace scepter::scep {
namespace {

constexpr auto kTrace = log::Category::kPkiTransactions;
// Response header lines kept for the trace; the body has its own bound.
constexpr std::size_t kMaxTracedHeaderBytes = 4096;
// Longest request-target shown in the trace (a GET PKIOperation carries kilobytes).
constexpr std::size_t kMaxTracedTarget = 160;

using files::CurlPtr;
using files::init_curl;

bool iequals(std::string_view a, std::string_view b) { return ascii_lower(a) == ascii_lower(b); }

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}

// One part of a parsed URL, or nullopt when it is absent.
std::optional<std::string> url_part(CURLU* url, CURLUPart part) {
  char* raw = nullptr;
  if (curl_url_get(url, part, &raw, 0) != CURLUE_OK || raw == nullptr) return std::nullopt;
  CurlPtr<char> owned(raw);
  return std::string(raw);
}

// Where one operation goes.
struct Target {
  std::string url;   // absolute, for curl
  std::string host;  // for messages ("192.0.2.6", "[2001:db8::1]")
  std::string path_and_query;
};

Result<Target> make_target(std::string_view enrollment_url, std::string_view operation,
                           std::string_view message) {
  auto bad = [&](std::string_view why) {
    return fail(
        invalid_argument(fmt::format("{} is not a valid enrollment URL: {}", enrollment_url, why)));
  };
  init_curl();
  CurlPtr<CURLU> url(curl_url());
  if (!url) return fail(internal_error("curl_url failed"));
  const std::string text(trim_space(enrollment_url));
  if (text.empty()) return bad("empty");
  if (CURLUcode rc = curl_url_set(url.get(), CURLUPART_URL, text.c_str(), 0); rc != CURLUE_OK) {
    return bad(curl_url_strerror(rc));
  }
  const auto scheme = url_part(url.get(), CURLUPART_SCHEME);
  if (!scheme || (*scheme != "http" && *scheme != "https")) return bad("not http:// or https://");
  const auto host = url_part(url.get(), CURLUPART_HOST);
  if (!host || host->empty()) return bad("no host");
  if (url_part(url.get(), CURLUPART_USER)) return bad("user information is not allowed");
  if (url_part(url.get(), CURLUPART_QUERY)) return bad("a query is not allowed");
  if (url_part(url.get(), CURLUPART_FRAGMENT)) return bad("a fragment is not allowed");

  std::string path = url_part(url.get(), CURLUPART_PATH).value_or("/");
  if (!ends_with_ci(path, "pkiclient.exe")) {
    // As IOS: the path is where the CA's scripts are ("/cgi-bin" when none is given),
    // and the script is pkiclient.exe.
    while (!path.empty() && path.back() == '/') path.pop_back();
    path += path.empty() ? "/cgi-bin/pkiclient.exe" : "/pkiclient.exe";
  }
  std::string query = fmt::format("operation={}", operation);
  if (!message.empty()) query += fmt::format("&message={}", message);
  if (curl_url_set(url.get(), CURLUPART_PATH, path.c_str(), 0) != CURLUE_OK) {
    return bad("cannot build the request URL");
  }
  auto base = url_part(url.get(), CURLUPART_URL);
  if (!base) return bad("cannot build the request URL");
  // The query is appended as it is, not through curl_url_set(), which would rewrite the
  // caller's percent-escapes.
  return Target{*base + "?" + query, *host, path + "?" + query};
}

std::string traced_target(const Target& target) {
  if (target.path_and_query.size() <= kMaxTracedTarget) return target.path_and_query;
  return fmt::format("{}... ({} characters)", target.path_and_query.substr(0, kMaxTracedTarget),
                     target.path_and_query.size());
}

// The percent-encoded `message=` value of GetCACaps and GetCACert.
std::string escape_ident(const std::string& ident) {
  if (ident.empty()) return {};
  init_curl();
  CurlPtr<char> escaped(curl_easy_escape(nullptr, ident.data(), static_cast<int>(ident.size())));
  return escaped ? std::string(escaped.get()) : std::string();
}

struct HttpAnswer {
  long status = 0;
  std::string content_type;  // lower case, without parameters
  std::string body;
};

struct Transfer {
  std::size_t limit = 0;
  bool too_large = false;
  std::string body;
  std::vector<std::string> header_lines;
  std::size_t header_bytes = 0;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (n > t->limit - t->body.size()) {
    t->too_large = true;
    return 0;  // not n: curl aborts the transfer with CURLE_WRITE_ERROR
  }
  t->body.append(data, n);
  return n;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  std::string_view line = trim_space(std::string_view(data, n));
  if (line.starts_with("HTTP/")) {  // a new response (after a 100 Continue): start over
    t->header_lines.clear();
    t->header_bytes = 0;
  }
  if (!line.empty() && t->header_bytes + line.size() <= kMaxTracedHeaderBytes) {
    t->header_lines.emplace_back(line);
    t->header_bytes += line.size();
  }
  return n;
}

// One HTTP exchange: GET `target`, or POST `post_body` to it when given.
Result<HttpAnswer> fetch(const HttpUpstreamOptions& options, const Target& target,
                         const std::string* post_body) {
  init_curl();
  CurlPtr<CURL> curl(curl_easy_init());
  if (!curl) return fail(internal_error("curl_easy_init failed"));
  CURL* h = curl.get();
  Transfer transfer;
  transfer.limit = options.max_response_bytes;
  char error[CURL_ERROR_SIZE] = {};
  CurlPtr<curl_slist> headers;
  auto add_header = [&](const char* line) {
    curl_slist* grown = curl_slist_append(headers.get(), line);
    if (grown != nullptr) {
      (void)headers.release();  // now part of `grown`
      headers.reset(grown);
    }
  };

  curl_easy_setopt(h, CURLOPT_URL, target.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  // "" disables proxies, including those of http_proxy/https_proxy/all_proxy: an
  // upstream on the loopback or the management network is reached directly, whatever
  // the environment scepterd was started from.
  curl_easy_setopt(h, CURLOPT_PROXY, "");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // required for timeouts in threads
  curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options.total_timeout.count()));
  curl_easy_setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(options.max_response_bytes));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  if (post_body != nullptr) {
    add_header("Content-Type: application/x-pki-message");
    add_header("Expect:");  // no 100-continue round trip: SCEP servers rarely answer it
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, post_body->data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(post_body->size()));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  } else {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  }

  const CURLcode rc = curl_easy_perform(h);
  char* ip = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip != nullptr && *ip != '\0') {
    long port = 0;
    curl_easy_getinfo(h, CURLINFO_PRIMARY_PORT, &port);
    log::trace(kTrace, "CRYPTO_PKI: http connection opened to {} port {}", ip, port);
  }
  if (transfer.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    log::trace(kTrace, "CRYPTO_PKI: answer from {} is over {} bytes: transfer aborted", target.host,
               options.max_response_bytes);
    return fail(invalid_argument(fmt::format("answer too large from {} (over {} bytes)",
                                             target.host, options.max_response_bytes)));
  }
  if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
    return fail(invalid_argument(
        fmt::format("cannot use URL {}: {}", target.url, *error ? error : curl_easy_strerror(rc))));
  }
  if (rc != CURLE_OK) {
    const std::string why = *error ? error : curl_easy_strerror(rc);
    log::trace(kTrace, "CRYPTO_PKI: cannot reach {}: {}", target.host, why);
    return fail(unavailable(fmt::format("cannot reach {}: {}", target.host, why)));
  }

  HttpAnswer answer;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &answer.status);
  char* type = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type != nullptr) {
    std::string_view t(type);
    answer.content_type = ascii_lower(trim_space(t.substr(0, t.find(';'))));
  }
  answer.body = std::move(transfer.body);
  log::trace(kTrace, "CRYPTO_PKI: received msg of {} bytes", answer.body.size());
  log::trace(kTrace, "CRYPTO_PKI: HTTP response header:");
  for (const std::string& line : transfer.header_lines) log::trace(kTrace, "    {}", line);
  return answer;
}

ca::ScepFailInfo to_ca(FailInfo info) {
  switch (info) {
    case FailInfo::kBadAlg:
      return ca::ScepFailInfo::kBadAlg;
    case FailInfo::kBadMessageCheck:
      return ca::ScepFailInfo::kBadMessageCheck;
    case FailInfo::kBadRequest:
      return ca::ScepFailInfo::kBadRequest;
    case FailInfo::kBadTime:
      return ca::ScepFailInfo::kBadTime;
    case FailInfo::kBadCertId:
      return ca::ScepFailInfo::kBadCertId;
  }
  return ca::ScepFailInfo::kBadRequest;
}

MessageType message_type(ca::UpstreamRequest::Kind kind) {
  switch (kind) {
    case ca::UpstreamRequest::Kind::kPkcsReq:
      return MessageType::kPkcsReq;
    case ca::UpstreamRequest::Kind::kRenewalReq:
      return MessageType::kRenewalReq;
    case ca::UpstreamRequest::Kind::kCertPoll:
      return MessageType::kCertPoll;
  }
  return MessageType::kPkcsReq;
}

// See the header: the strongest of what the upstream announced.
DigestAlg choose_digest(const ca::UpstreamCaps& caps) {
  if (caps.sha512) return DigestAlg::kSha512;
  if (caps.sha256 || caps.scep_standard) return DigestAlg::kSha256;
  if (caps.sha1) return DigestAlg::kSha1;
  return DigestAlg::kSha256;
}

CipherAlg choose_cipher(const ca::UpstreamCaps& caps) {
  if (caps.aes || caps.scep_standard) return CipherAlg::kAes128Cbc;
  // DES3 is what RFC 8894 lets a client assume of a CA that announces nothing.
  return CipherAlg::kDes3Cbc;
}

}  // namespace

Result<std::string> operation_url(std::string_view enrollment_url, std::string_view operation,
                                  std::string_view message) {
  ASSIGN_OR_RETURN(Target target, make_target(enrollment_url, operation, message));
  return std::move(target.url);
}

HttpUpstream::HttpUpstream(HttpUpstreamOptions options) : options_(std::move(options)) {
  init_curl();
}

Result<ca::UpstreamCaps> HttpUpstream::get_ca_caps(const std::string& url,
                                                   const std::string& ident) {
  ASSIGN_OR_RETURN(Target target, make_target(url, "GetCACaps", escape_ident(ident)));
  log::trace(kTrace, "CRYPTO_PKI: Sending CA Capabilities Request:");
  log::trace(kTrace, "GET {} HTTP/1.1", traced_target(target));
  ASSIGN_OR_RETURN(HttpAnswer answer, fetch(options_, target, nullptr));
  ca::UpstreamCaps caps;
  if (answer.status != 200) {
    log::trace(kTrace, "CRYPTO_PKI: GetCACaps answered HTTP {}: no capabilities assumed",
               answer.status);
    return caps;
  }
  caps = parse_ca_caps(answer.body);
  std::string list;
  for (const std::string& c : caps.announced) list += (list.empty() ? "" : ", ") + c;
  log::trace(kTrace, "CRYPTO_PKI: transaction GetCACaps completed");
  log::trace(kTrace, "CRYPTO_PKI: CA capabilities: {}", list.empty() ? "none" : list);
  return caps;
}

Result<std::string> HttpUpstream::get_crl(const std::string& url, const std::string& ident) {
  ASSIGN_OR_RETURN(Target target, make_target(url, "GetCRL", escape_ident(ident)));
  log::trace(kTrace, "CRYPTO_PKI: Sending CRL Request:");
  log::trace(kTrace, "GET {} HTTP/1.1", traced_target(target));
  ASSIGN_OR_RETURN(HttpAnswer answer, fetch(options_, target, nullptr));
  if (answer.status != 200) {
    return fail(unavailable(fmt::format("HTTP {} from {} for GetCRL", answer.status, target.host)));
  }
  log::trace(kTrace, "CRYPTO_PKI: received a CRL of {} bytes", answer.body.size());
  return std::move(answer.body);
}

Result<ca::UpstreamCertificates> HttpUpstream::get_ca_cert(const std::string& url,
                                                           const std::string& ident) {
  ASSIGN_OR_RETURN(Target target, make_target(url, "GetCACert", escape_ident(ident)));
  log::trace(kTrace, "CRYPTO_PKI: Sending CA Certificate Request:");
  log::trace(kTrace, "GET {} HTTP/1.1", traced_target(target));
  ASSIGN_OR_RETURN(HttpAnswer answer, fetch(options_, target, nullptr));
  if (answer.status != 200) {
    return fail(
        unavailable(fmt::format("HTTP {} from {} for GetCACert", answer.status, target.host)));
  }

  ASSIGN_OR_RETURN(std::vector<pki::Certificate> certs,
                   read_ca_certificates(answer.content_type, answer.body, target.host));
  log::trace(kTrace, "Received {} bytes from server as CA certificate:", answer.body.size());

  ASSIGN_OR_RETURN(ca::UpstreamCertificates out, classify_ca_certificates(std::move(certs)));
  log::trace(kTrace, "CRYPTO_PKI: transaction GetCACert completed");
  log::trace(kTrace, "CRYPTO_PKI: CA certificate received.");
  log::trace(kTrace, "CRYPTO_PKI: issuing CA {}", describe_certificate(out.issuing_ca()));
  for (size_t i = 1; i < out.ca_chain.size(); ++i) {
    log::trace(kTrace, "CRYPTO_PKI: CA {}", describe_certificate(out.ca_chain[i]));
  }
  if (out.ra_signer)
    log::trace(kTrace, "CRYPTO_PKI: RA signing {}", describe_certificate(*out.ra_signer));
  if (out.ra_encrypter) {
    log::trace(kTrace, "CRYPTO_PKI: RA encryption {}", describe_certificate(*out.ra_encrypter));
  }
  return out;
}

Result<ca::UpstreamCertificates> HttpUpstream::get_next_ca_cert(
    const std::string& url, const std::string& ident, const ca::UpstreamCertificates& current) {
  if (current.ca_chain.empty()) {
    return fail(
        invalid_argument("no upstream CA certificate (the trustpoint is not authenticated)"));
  }
  ASSIGN_OR_RETURN(Target target, make_target(url, "GetNextCACert", escape_ident(ident)));
  log::trace(kTrace, "CRYPTO_PKI: Sending Next CA Certificate Request:");
  log::trace(kTrace, "GET {} HTTP/1.1", traced_target(target));
  ASSIGN_OR_RETURN(HttpAnswer answer, fetch(options_, target, nullptr));
  if (answer.status == 404) {
    return fail(not_found(fmt::format(
        "HTTP 404 from {} for GetNextCACert: the CA has no rollover certificate", target.host)));
  }
  if (answer.status != 200) {
    return fail(unavailable(
        fmt::format("HTTP {} from {} for GetNextCACert: no rollover certificate obtained",
                    answer.status, target.host)));
  }
  if (answer.content_type != kNextCaCertContentType) {
    return fail(
        invalid_argument(fmt::format("GetNextCACert answer from {} has Content-Type \"{}\", not {}",
                                     target.host, answer.content_type, kNextCaCertContentType)));
  }
  auto certs = decode_next_ca_cert(answer.body, {current.issuing_ca(), current.ra_signer});
  if (!certs.has_value()) {
    log::trace(kTrace, "CRYPTO_PKI: GetNextCACert answer from {} refused: {}", target.host,
               certs.error().message());
    return fail(invalid_argument(fmt::format("from {}: {}", target.host, certs.error().message())));
  }
  auto next = classify_ca_certificates(std::move(*certs));
  if (!next.has_value()) {
    return fail(invalid_argument(
        fmt::format("GetNextCACert answer from {}: {}", target.host, next.error().message())));
  }
  log::trace(kTrace, "CRYPTO_PKI: transaction GetNextCACert completed");
  log::trace(kTrace, "CRYPTO_PKI: rollover issuing CA {}",
             describe_certificate(next->issuing_ca()));
  for (size_t i = 1; i < next->ca_chain.size(); ++i) {
    log::trace(kTrace, "CRYPTO_PKI: rollover CA {}", describe_certificate(next->ca_chain[i]));
  }
  if (next->ra_signer) {
    log::trace(kTrace, "CRYPTO_PKI: rollover RA signing {}",
               describe_certificate(*next->ra_signer));
  }
  if (next->ra_encrypter) {
    log::trace(kTrace, "CRYPTO_PKI: rollover RA encryption {}",
               describe_certificate(*next->ra_encrypter));
  }
  return std::move(*next);
}

Result<ca::UpstreamReply> HttpUpstream::send(const ca::UpstreamRequest& request) {
  if (request.upstream.ca_chain.empty()) {
    return fail(
        invalid_argument("no upstream CA certificate (the trustpoint is not authenticated)"));
  }
  if (!request.signer_key || !request.signer_key->has_private()) {
    return fail(invalid_argument("the request's signing key has no private part"));
  }
  if (request.transaction_id.empty()) return fail(invalid_argument("no transactionID"));
  auto csr = decode_pkcs10(request.csr_der);
  if (!csr.has_value()) {
    return fail(invalid_argument(
        fmt::format("the request's PKCS#10 does not parse: {}", csr.error().message())));
  }
  const MessageType type = message_type(request.kind);
  std::string payload;
  if (request.kind == ca::UpstreamRequest::Kind::kCertPoll) {
    ASSIGN_OR_RETURN(payload, encode_issuer_and_subject(request.upstream.issuing_ca().subject(),
                                                        X509_REQ_get_subject_name(csr->get())));
  } else {
    payload = request.csr_der;
  }

  std::string nonce(kNonceSize, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(nonce.data()), static_cast<int>(nonce.size())) !=
      1) {
    return fail(internal_error("RAND_bytes failed"));
  }
  PkiRequestParams params;
  params.type = type;
  params.payload = std::move(payload);
  params.digest = choose_digest(request.caps);
  // A first enrolment signs with a throw-away certificate for its own key, as clients do.
  pki::Ptr<X509> self_signed;
  if (request.signer_cert) {
    params.signer_cert = request.signer_cert->x509();
  } else {
    ASSIGN_OR_RETURN(self_signed,
                     make_self_signed_signer(request.signer_key->evp(),
                                             X509_REQ_get_subject_name(csr->get()), params.digest));
    params.signer_cert = self_signed.get();
  }
  params.signer_key = request.signer_key->evp();
  params.recipient_cert = request.upstream.recipient().x509();
  params.cipher = choose_cipher(request.caps);
  params.transaction_id = request.transaction_id;
  params.sender_nonce = nonce;
  ASSIGN_OR_RETURN(std::string message, encode_pki_request(params));

  const bool post = request.caps.post || request.caps.scep_standard;
  ASSIGN_OR_RETURN(Target target, make_target(request.url, "PKIOperation",
                                              post ? "" : encode_get_message(message)));
  log::trace(kTrace, "CRYPTO_PKI: Sending {} for {} (transaction ID {}): {}, {}, {}, to {}",
             message_type_name(type), pki::format_dn_ios(X509_REQ_get_subject_name(csr->get())),
             request.transaction_id, post ? "POST" : "GET", digest_name(params.digest),
             cipher_name(params.cipher), describe_certificate(request.upstream.recipient()));
  log::trace(kTrace, "{} {} HTTP/1.1", post ? "POST" : "GET", traced_target(target));
  ASSIGN_OR_RETURN(HttpAnswer answer, fetch(options_, target, post ? &message : nullptr));
  if (answer.status != 200) {
    return fail(
        unavailable(fmt::format("HTTP {} from {} for PKIOperation", answer.status, target.host)));
  }

  const pki::Certificate& signer = request.upstream.reply_signer();
  auto rep = decode_cert_rep(answer.body, request.signer_key->evp(), signer.x509());
  if (!rep.has_value()) {
    log::trace(kTrace, "CRYPTO_PKI: CertRep from {} refused: {}", target.host,
               rep.error().message());
    return fail(
        invalid_argument(fmt::format("CertRep from {} (Content-Type \"{}\"): {}", target.host,
                                     answer.content_type, rep.error().message())));
  }
  if (rep->transaction_id != request.transaction_id) {
    return fail(
        invalid_argument(fmt::format("CertRep from {} is for transaction {}, not ours ({})",
                                     target.host, rep->transaction_id, request.transaction_id)));
  }
  if (rep->recipient_nonce != nonce) {
    return fail(invalid_argument(
        fmt::format("CertRep from {}: recipientNonce is not the senderNonce we sent (a replay?)",
                    target.host)));
  }
  log::trace(kTrace, "CRYPTO_PKI: The PKCS #7 message has 1 verified signers.");
  log::trace(kTrace, "CRYPTO_PKI: signing cert: {}", describe_certificate(signer));
  log::trace(kTrace, "CRYPTO_PKI: transaction {} completed", message_type_name(type));

  ca::UpstreamReply reply;
  reply.method = post ? "POST" : "GET";
  reply.digest = std::string(digest_name(params.digest));
  reply.cipher = std::string(cipher_name(params.cipher));
  reply.fail_text = rep->fail_info_text;
  switch (rep->status) {
    case PkiStatus::kSuccess:
      reply.status = ca::UpstreamReply::Status::kSuccess;
      break;
    case PkiStatus::kPending:
      reply.status = ca::UpstreamReply::Status::kPending;
      log::trace(kTrace, "CRYPTO_PKI: status = 102: certificate request pending");
      return reply;
    case PkiStatus::kFailure:
      reply.status = ca::UpstreamReply::Status::kFailure;
      if (rep->fail_info) reply.fail_info = to_ca(*rep->fail_info);
      log::trace(kTrace, "CRYPTO_PKI: status = 101: certificate request failed ({}{}{})",
                 rep->fail_info ? fail_info_name(*rep->fail_info) : "no failInfo",
                 rep->fail_info_text.empty() ? "" : ": ", rep->fail_info_text);
      return reply;
  }
  if (rep->certificates.empty()) {
    return fail(
        invalid_argument(fmt::format("CertRep SUCCESS from {} holds no certificate", target.host)));
  }
  for (pki::Ptr<X509>& x : rep->certificates) {
    auto cert = pki::Certificate::from_x509(std::move(x));
    if (!cert.has_value()) {
      return fail(invalid_argument(
          fmt::format("CertRep SUCCESS from {}: {}", target.host, cert.error().message())));
    }
    reply.certificates.push_back(std::move(*cert));
  }
  log::trace(kTrace, "CRYPTO_PKI: status = 100: certificate is granted");
  log::trace(kTrace, "The PKCS #7 message contains {} certs and 0 crls.",
             reply.certificates.size());
  return reply;
}

}  // namespace scepter::scep
