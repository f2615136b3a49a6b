#include "scep/service.h"

#include <cctype>
#include <ctime>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca/device.h"
#include "common/log.h"
#include "common/metrics.h"
#include "scep/cert_rep.h"
#include "scep/cms_util.h"
#include "scep/message.h"
#include "scep/next_ca.h"
#include "scep/request.h"

namespace scepter::scep {
namespace {

using ca::CertificateServer;
using log::Category;

ScepHttpResponse text(int status, std::string body) {
  return {status, "text/plain", std::move(body) + "\n", {}};
}

// The server's own trouble: try again later, the request itself may well be fine.
ScepHttpResponse unavailable_reply(Seconds retry_after, std::string body) {
  ScepHttpResponse r = text(503, std::move(body));
  r.headers.emplace_back("Retry-After", std::to_string(retry_after.count()));
  return r;
}

bool server_trouble(const Status& s) {
  return s.code() == Code::kUnavailable || s.code() == Code::kInternal;
}

// What the reply to a request signed with `request` is signed with: never below SHA-256.
DigestAlg reply_digest(DigestAlg request) {
  switch (request) {
    case DigestAlg::kMd5:
    case DigestAlg::kSha1:
    case DigestAlg::kSha224:
    case DigestAlg::kSha256:
      return DigestAlg::kSha256;
    case DigestAlg::kSha384:
    case DigestAlg::kSha512:
      return request;
  }
  return DigestAlg::kSha256;
}

// Attacker-chosen text on its way to a log line or a terminal.
std::string esc(std::string_view s) { return detail::printable_text(s, 512); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A label in `message=`: undo percent-escapes and '+' for space, nothing more.
std::string decode_label(std::string_view raw) {
  std::string out;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '%' && i + 2 < raw.size() && hex_value(raw[i + 1]) >= 0 &&
        hex_value(raw[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(raw[i + 1]) * 16 + hex_value(raw[i + 2]));
      i += 2;
    } else {
      out += raw[i] == '+' ? ' ' : raw[i];
    }
  }
  return out;
}

// The server GetCACert / GetCRL name with `message=`. Clients often send their own
// trustpoint name (IOS) or "CAIdentifier" (sscep), so anything that is not a label means
// the default server: the first enabled one by label.
std::shared_ptr<CertificateServer> pick(const ca::Device& device, const std::string& label) {
  if (!label.empty()) {
    if (auto s = device.server(label); s && s->state() == ca::ServerState::kEnabled) return s;
  }
  for (const auto& s : device.servers()) {
    if (s->state() == ca::ServerState::kEnabled) return s;
  }
  return nullptr;
}

// A 200 answer whose body is bytes kept elsewhere.
ScepHttpResponse shared(std::string content_type, std::shared_ptr<const std::string> body) {
  return {200, std::move(content_type), {}, {}, std::move(body)};
}

// The GetCACaps answers: the same bytes for every request.
std::shared_ptr<const std::string> capabilities_body(bool next_ca_cert) {
  static const auto kCaps = std::make_shared<const std::string>(ScepService::capabilities());
  static const auto kWithNext =
      std::make_shared<const std::string>(ScepService::capabilities() + "GetNextCACert\n");
  return next_ca_cert ? kWithNext : kCaps;
}

FailInfo to_wire(ca::ScepFailInfo f) { return static_cast<FailInfo>(static_cast<int>(f)); }

struct Reply {
  const ca::SigningIdentity* id;
  std::string transaction_id;
  std::string recipient_nonce;
  DigestAlg digest = DigestAlg::kSha256;
  std::time_t now = 0;
  // What the request was, for /metrics ("unknown" when it could not be read).
  std::string_view message_type = "unknown";
};

// /metrics: every CertRep sent, by the request's messageType, pkiStatus and failInfo.
void count_reply(const Reply& r, PkiStatus status, std::string_view fail) {
  metrics::Registry::global()
      .counter("scepter_scep_replies_total",
               "SCEP CertRep messages sent, by request messageType, pkiStatus and failInfo.",
               {"message_type", "pki_status", "fail_info"})
      .with({r.message_type, pki_status_name(status), fail})
      .add();
}

// The CertRep's DER: signed, and enveloped when it carries certificates or a CRL.
Result<std::string> encode_reply(const Reply& r, CertRepParams p) {
  p.signer_cert = r.id->certificate.x509();
  p.signer_key = r.id->key.evp();
  p.digest = reply_digest(r.digest);
  p.transaction_id = r.transaction_id;
  p.recipient_nonce = r.recipient_nonce;
  p.signing_time = r.now;
  return encode_cert_rep(p);
}

// The answer carrying an encoded CertRep of this status.
ScepHttpResponse send_reply(const Reply& r, PkiStatus status, Result<std::string> der,
                            std::string_view fail = "none") {
  if (!der.has_value()) {
    log::error("SCEP: cannot build CertRep: {}", der.error().message());
    return text(500, "cannot build the reply");
  }
  count_reply(r, status, fail);
  log::trace(Category::kPkiServer, "CRYPTO_CS: sending CertRep {} for transaction {}",
             pki_status_name(status), r.transaction_id);
  log::trace(Category::kPkiTransactions, "CRYPTO_PKI: transaction {}: CertRep {}", r.transaction_id,
             pki_status_name(status));
  return {200, "application/x-pki-message", std::move(*der), {}};
}

ScepHttpResponse cert_rep(const Reply& r, CertRepParams p) {
  const PkiStatus status = p.status;
  const std::string_view fail =
      status == PkiStatus::kFailure ? fail_info_name(p.fail_info) : std::string_view("none");
  return send_reply(r, status, encode_reply(r, std::move(p)), fail);
}

ScepHttpResponse failure(const Reply& r, FailInfo info, std::string why) {
  log::trace(Category::kPkiServer, "CRYPTO_CS: transaction {}: request refused ({}): {}",
             r.transaction_id, fail_info_name(info), esc(why));
  CertRepParams p;
  p.status = PkiStatus::kFailure;
  p.fail_info = info;
  p.fail_info_text = std::move(why);
  return cert_rep(r, std::move(p));
}

}  // namespace

std::string ScepService::capabilities() {
  // Only what scepterd really does (GetNextCACert is added while a rollover CA certificate
  // exists, see GetCACaps below). SHA-384 is
  // supported too, and strongSwan 5.9.8 needs to see it before it will use AES.
  return "AES\nDES3\nPOSTPKIOperation\nRenewal\nSHA-1\nSHA-256\nSHA-384\nSHA-512\nSCEPStandard\n";
}

ScepHttpResponse ScepService::handle(const ScepHttpRequest& request) const {
  const std::string& op = request.operation;
  if (op == "GetCACaps") {
    log::trace(Category::kPkiServer, "CRYPTO_PKI_SCEP: CS received GetCACaps request");
    // GetNextCACert only while the server named (or the first) has a rollover
    // certificate to give (RFC 8894 3.5.2).
    auto server = pick(device_, decode_label(request.message_raw));
    return shared("text/plain", capabilities_body(server && server->rollover_certificate()));
  }
  if (op == "GetCACert") {
    log::trace(Category::kPkiServer, "CRYPTO_PKI_SCEP: CS received GetCACert request");
    auto server = pick(device_, decode_label(request.message_raw));
    if (!server) return unavailable_reply(options_.retry_after, "no certificate server is enabled");
    auto id = server->signing_identity();
    if (!id.has_value()) return unavailable_reply(options_.retry_after, id.error().message());
    if (id->chain.empty()) {
      // The DER the certificate holds, not a copy of it: the answer shares the certificate.
      auto cert = std::make_shared<const pki::Certificate>(std::move(id->certificate));
      return shared("application/x-x509-ca-cert",
                    std::shared_ptr<const std::string>(cert, &cert->der()));
    }
    // A subordinate CA: the chain, issuing CA first, up to the root (RFC 8894 4.2.1.2).
    // An RA: its certificate first (with usage keys, the signature one, then the
    // encryption one: clients tell them apart by keyUsage), then the issuing CA's chain.
    // A CA with `scep encryption-key`: the certificate of that key (an RA's to the
    // client), then the CA's.
    std::vector<X509*> chain{id->certificate.x509()};
    if (id->encryption_certificate) chain.push_back(id->encryption_certificate->x509());
    for (const pki::Certificate& c : id->chain) chain.push_back(c.x509());
    auto bundle = encode_degenerate_certs(chain);
    if (!bundle.has_value()) {
      return unavailable_reply(options_.retry_after, bundle.error().message());
    }
    return {200, "application/x-x509-ca-ra-cert", std::move(*bundle), {}};
  }
  if (op == "GetNextCACert") return next_ca_cert(request);
  if (op == "GetCRL") {
    // The plain form, for HTTP CDPs (`cdp-url http://ca/cgi-bin/pkiclient.exe?operation=GetCRL`).
    auto server = pick(device_, request.has_message ? decode_label(request.message_raw) : "");
    if (!server) return unavailable_reply(options_.retry_after, "no certificate server is enabled");
    if (ca::is_ra_mode(server->config())) return text(404, "an RA has no CRL");
    // The bytes as published: never parsed again on this path.
    auto crl = server->crl_der();
    if (!crl) {
      log::warn("SCEP GetCRL: certificate server {} has no CRL", server->label());
      return unavailable_reply(options_.retry_after, "the CRL is not available");
    }
    return shared("application/pkix-crl", std::move(crl));
  }
  if (op == "PKIOperation") return pki_operation(request);
  return text(400, op.empty() ? "missing operation" : "unknown operation " + esc(op));
}

ScepHttpResponse ScepService::next_ca_cert(const ScepHttpRequest& request) const {
  log::trace(Category::kPkiServer, "CRYPTO_PKI_SCEP: CS received GetNextCACert request");
  auto server = pick(device_, decode_label(request.message_raw));
  if (!server) return unavailable_reply(options_.retry_after, "no certificate server is enabled");
  // The rollover certificate, and a subordinate's next chain above it.
  std::vector<pki::Certificate> next = server->rollover_chain();
  // No CertRep without a transactionID: a plain refusal (RFC 8894 4.7).
  if (next.empty()) return text(404, "no rollover CA certificate");
  auto id = server->signing_identity();
  if (!id.has_value()) return unavailable_reply(options_.retry_after, id.error().message());
  const std::string& signer = id->certificate.der();
  std::string next_der;
  for (const pki::Certificate& c : next) next_der += c.der();
  {
    MutexLock lock(next_ca_mu_);
    auto it = next_ca_answers_.find(server->label());
    if (it != next_ca_answers_.end() && it->second.signer == signer &&
        it->second.next == next_der) {
      return shared(std::string(kNextCaCertContentType), it->second.body);
    }
  }
  // Signed by the current CA key, which the client already trusts.
  auto der = encode_next_ca_cert(next, id->certificate, id->key, to_unix(device_.clock().now()));
  if (!der.has_value()) return unavailable_reply(options_.retry_after, der.error().message());
  auto body = std::make_shared<const std::string>(std::move(*der));
  {
    MutexLock lock(next_ca_mu_);
    next_ca_answers_[server->label()] = NextCaAnswer{signer, next_der, body};
  }
  return shared(std::string(kNextCaCertContentType), std::move(body));
}

namespace {

// The server's own trouble while answering `reply`: 503 with Retry-After for
// kUnavailable / kInternal, else a FAILURE that names no internal detail.
ScepHttpResponse server_error(const Reply& reply, const CertificateServer& server,
                              const Status& error, Seconds retry_after) {
  log::error("SCEP: certificate server {}: transaction {}: {}", server.label(),
             reply.transaction_id, esc(error.message()));
  if (server_trouble(error)) {
    return unavailable_reply(retry_after, "the certificate server cannot answer now");
  }
  return failure(reply, FailInfo::kBadRequest, "The request cannot be processed.");
}

// A CA outcome with failInfo badMessageCheck (a CSR that does not verify) says what an
// envelope that cannot be opened says: it comes from the decrypted content.
ScepHttpResponse outcome_failure(const Reply& reply, const ca::ScepOutcome& outcome) {
  const FailInfo info = to_wire(outcome.fail_info);
  if (info == FailInfo::kBadMessageCheck) {
    log::trace(Category::kPkiServer, "CRYPTO_CS: transaction {}: CA: {}", reply.transaction_id,
               esc(outcome.fail_text));
    return failure(reply, info, kEnvelopeFailureText);
  }
  return failure(reply, info, outcome.fail_text);
}

}  // namespace

ScepHttpResponse ScepService::pki_operation(const ScepHttpRequest& request) const {
  // Sizes are capped before anything is parsed. A base64 `message=` is 4/3 of the DER,
  // and may be percent-escaped and broken into lines (IOS): allow for that before
  // decoding, then cap the DER itself.
  constexpr std::size_t kMaxRawGetMessage = 4 * kMaxPkiMessageSize;
  std::string der;
  if (request.method == "POST") {
    if (request.body.size() > kMaxPkiMessageSize) return text(413, "PKIOperation too large");
    der = request.body;
  } else {
    if (!request.has_message) return text(400, "PKIOperation without message");
    if (request.message_raw.size() > kMaxRawGetMessage) {
      return text(413, "PKIOperation too large");
    }
    auto decoded = decode_get_message(request.message_raw);
    if (!decoded.has_value()) return text(400, "message is not base64");
    if (decoded->size() > kMaxPkiMessageSize) return text(413, "PKIOperation too large");
    der = std::move(*decoded);
  }
  if (der.empty()) return text(400, "empty PKIOperation");

  // The enabled servers, and the one that answers a message addressed to none of them:
  // the one `message=` names on a POST (a CA identifier there), else the first.
  struct Candidate {
    std::shared_ptr<CertificateServer> server;
    ca::SigningIdentity id;
  };
  std::vector<Candidate> candidates;
  for (const auto& server : device_.servers()) {
    if (server->state() != ca::ServerState::kEnabled) continue;
    auto id = server->signing_identity();
    if (!id.has_value()) continue;  // disabled meanwhile
    candidates.push_back({server, std::move(*id)});
  }
  if (candidates.empty()) {
    return unavailable_reply(options_.retry_after, "no certificate server is enabled");
  }
  const Candidate* fallback = &candidates.front();
  if (request.method == "POST" && request.has_message) {
    const std::string label = decode_label(request.message_raw);
    for (const Candidate& c : candidates) {
      if (c.server->label() == label) fallback = &c;
    }
  }

  const std::time_t now = to_unix(device_.clock().now());
  auto refused = [&](const Candidate& by, const DecodeError& e) {
    log::trace(Category::kPkiServer, "CRYPTO_CS: PKIOperation refused: {}",
               esc(e.detail.empty() ? e.status.message() : e.detail));
    if (!e.replyable) return text(400, "malformed PKIOperation: " + esc(e.status.message()));
    Reply r{&by.id, e.transaction_id, e.sender_nonce, e.digest, now};
    return failure(r, e.fail_info, e.status.message());
  };

  auto pending = PendingPkiMessage::parse(der);
  if (!pending.has_value()) return refused(*fallback, pending.error());
  // No cryptography yet: the recipientInfo names the server whose key may be tried.
  const Candidate* chosen = nullptr;
  for (const Candidate& c : candidates) {
    if (pending->addressed_to(c.id.decryption_certificate().x509())) {
      chosen = &c;
      break;
    }
  }
  if (chosen == nullptr) return refused(*fallback, pending->not_addressed_to_us());
  // Decrypting, the database and signing: within the server's share of the workers.
  const std::optional<ca::RequestSlot> slot = device_.try_begin_request(*chosen->server);
  if (!slot) {
    return unavailable_reply(options_.retry_after,
                             "the certificate server is busy: try again later");
  }
  DecodeResult result = std::move(*pending).open(chosen->id.decryption_key().evp(),
                                                 chosen->id.decryption_certificate().x509());
  if (!result.has_value()) return refused(*chosen, result.error());

  const DecodedRequest& req = *result;
  CertificateServer& server = *chosen->server;
  Reply reply{&chosen->id, req.transaction_id,         req.sender_nonce, req.digest,
              now,         message_type_name(req.type)};
  log::trace(Category::kPkiServer, "CRYPTO_PKI_SCEP: CS {} received {} request, transaction {}",
             server.label(), message_type_name(req.type), req.transaction_id);
  log::trace(Category::kPkiTransactions,
             "CRYPTO_PKI: received {} ({} bytes, {}, {}), transaction {}",
             message_type_name(req.type), der.size(), digest_name(req.digest),
             cipher_name(req.cipher), req.transaction_id);
  if (req.signing_time && std::abs(*req.signing_time - now) > options_.max_clock_skew.count()) {
    return failure(reply, FailInfo::kBadTime, "signingTime is too far from the server's clock");
  }
  if (req.cipher == CipherAlg::kDesCbc && !server.config().scep_allow_des) {
    return failure(reply, FailInfo::kBadAlg,
                   "single DES is not accepted (scep allow-des enables it for old clients)");
  }

  // The decoder made sure the signer key is RSA: the reply is enveloped to it with RSA
  // key transport (RFC 8894).
  CertRepParams ok;
  ok.status = PkiStatus::kSuccess;
  ok.recipient = req.signer;
  ok.cipher = req.cipher;
  // The CertRep of a granted certificate. A client rollover certificate comes with the
  // rollover CA certificate that signed it, and a subordinate's next chain above it (the
  // client has not fetched them yet, perhaps).
  const auto granted_reply = [&](const pki::Certificate& cert) {
    CertRepParams p = ok;
    p.certificates = {cert.der()};
    const std::vector<pki::Certificate> next = server.rollover_chain();
    if (!next.empty() && cert.signed_by(next.front())) {
      for (const pki::Certificate& c : next) p.certificates.push_back(c.der());
    }
    return encode_reply(reply, std::move(p));
  };
  switch (req.type) {
    case MessageType::kPkcsReq:
    case MessageType::kRenewalReq:
    case MessageType::kCertPoll: {
      // A new certificate's CertRep is signed while the certificate is committed; it
      // goes out only if the outcome is that certificate's kSuccess.
      std::optional<std::pair<std::string, Result<std::string>>> prepared;  // cert, CertRep
      ca::ScepRequest enrol{
          req.transaction_id, req.signer.der, req.type == MessageType::kRenewalReq,
          [&](const pki::Certificate& cert) { prepared.emplace(cert.der(), granted_reply(cert)); }};
      Result<ca::ScepOutcome> outcome = req.type == MessageType::kCertPoll
                                            ? server.scep_poll(req.transaction_id)
                                            : server.scep_enroll(*req.csr, enrol);
      if (!outcome.has_value()) {
        return server_error(reply, server, outcome.error(), options_.retry_after);
      }
      switch (outcome->status) {
        case ca::ScepOutcome::Status::kSuccess: {
          if (prepared && prepared->first == outcome->certificate->der()) {
            return send_reply(reply, PkiStatus::kSuccess, std::move(prepared->second));
          }
          return send_reply(reply, PkiStatus::kSuccess, granted_reply(*outcome->certificate));
        }
        case ca::ScepOutcome::Status::kPending: {
          CertRepParams p;
          p.status = PkiStatus::kPending;
          return cert_rep(reply, std::move(p));
        }
        case ca::ScepOutcome::Status::kFailure:
          return outcome_failure(reply, *outcome);
      }
      break;
    }
    case MessageType::kGetCert: {
      auto serial = pki::SerialNumber::from_asn1(req.serial.get());
      if (!serial.has_value()) {
        return failure(reply, FailInfo::kBadCertId, "serial number out of range");
      }
      auto cert = server.certificate_by_serial(*serial);
      if (!cert.has_value()) {
        if (cert.error().code() != Code::kNotFound) {
          return server_error(reply, server, cert.error(), options_.retry_after);
        }
        return failure(reply, FailInfo::kBadCertId, "no certificate 0x" + serial->hex());
      }
      ok.certificates = {cert->der()};
      return cert_rep(reply, std::move(ok));
    }
    case MessageType::kGetCrl: {
      if (ca::is_ra_mode(server.config())) {
        return failure(reply, FailInfo::kBadRequest, "an RA has no CRL: ask the issuing CA");
      }
      auto crl = server.crl_der();
      if (!crl) {
        return server_error(reply, server, unavailable("CRL not present."), options_.retry_after);
      }
      ok.crl_der = *crl;
      return cert_rep(reply, std::move(ok));
    }
    case MessageType::kCertRep:
      break;
  }
  return failure(reply, FailInfo::kBadRequest, "unsupported messageType");
}

}  // namespace scepter::scep
