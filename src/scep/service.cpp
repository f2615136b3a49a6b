#include "scep/service.h"

#include <cctype>
#include <ctime>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca/device.h"
#include "common/log.h"
#include "scep/cert_rep.h"
#include "scep/message.h"
#include "scep/request.h"

namespace scepter::scep {
namespace {

using ca::CertificateServer;
using log::Category;

ScepHttpResponse text(int status, std::string body) {
  return {status, "text/plain", std::move(body) + "\n"};
}

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

// Encoded only: parsing the DER again would decode its public key once more, one of
// the costliest steps of an enrolment with OpenSSL 3 (docs/performance.md).
std::string der_of(X509* cert) {
  const int len = i2d_X509(cert, nullptr);
  if (len <= 0) return {};
  std::string der(static_cast<std::size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  return i2d_X509(cert, &p) == len ? der : std::string();
}

FailInfo to_wire(ca::ScepFailInfo f) { return static_cast<FailInfo>(static_cast<int>(f)); }

struct Reply {
  const ca::SigningIdentity* id;
  std::string transaction_id;
  std::string recipient_nonce;
  DigestAlg digest = DigestAlg::kSha256;
  std::time_t now = 0;
};

ScepHttpResponse cert_rep(const Reply& r, CertRepParams p) {
  p.signer_cert = r.id->certificate.x509();
  p.signer_key = r.id->key.evp();
  p.digest = r.digest;
  p.transaction_id = r.transaction_id;
  p.recipient_nonce = r.recipient_nonce;
  p.signing_time = r.now;
  auto der = encode_cert_rep(p);
  if (!der.has_value()) {
    log::error("SCEP: cannot build CertRep: {}", der.error().message());
    return text(500, "cannot build the reply");
  }
  log::trace(Category::kPkiServer, "CRYPTO_CS: sending CertRep {} for transaction {}",
             pki_status_name(p.status), r.transaction_id);
  log::trace(Category::kPkiTransactions, "CRYPTO_PKI: transaction {}: CertRep {}", r.transaction_id,
             pki_status_name(p.status));
  return {200, "application/x-pki-message", std::move(*der)};
}

ScepHttpResponse failure(const Reply& r, FailInfo info, std::string why) {
  log::trace(Category::kPkiServer, "CRYPTO_CS: request refused ({}): {}", fail_info_name(info),
             why);
  CertRepParams p;
  p.status = PkiStatus::kFailure;
  p.fail_info = info;
  p.fail_info_text = std::move(why);
  return cert_rep(r, std::move(p));
}

}  // namespace

std::string ScepService::capabilities() {
  // Only what scepterd really does. GetNextCACert comes with CA rollover. SHA-384 is
  // supported too, and strongSwan 5.9.8 needs to see it before it will use AES.
  return "AES\nDES3\nPOSTPKIOperation\nRenewal\nSHA-1\nSHA-256\nSHA-384\nSHA-512\nSCEPStandard\n";
}

ScepHttpResponse ScepService::handle(const ScepHttpRequest& request) const {
  const std::string& op = request.operation;
  if (op == "GetCACaps") {
    log::trace(Category::kPkiServer, "CRYPTO_PKI_SCEP: CS received GetCACaps request");
    return {200, "text/plain", capabilities()};
  }
  if (op == "GetCACert") {
    log::trace(Category::kPkiServer, "CRYPTO_PKI_SCEP: CS received GetCACert request");
    auto server = pick(device_, decode_label(request.message_raw));
    if (!server) return text(503, "no certificate server is enabled");
    auto id = server->signing_identity();
    if (!id.has_value()) return text(503, id.error().message());
    return {200, "application/x-x509-ca-cert", id->certificate.der()};
  }
  if (op == "GetNextCACert") {
    return text(404, "no rollover CA certificate");
  }
  if (op == "GetCRL") {
    // The plain form, for HTTP CDPs (`cdp-url http://ca/cgi-bin/pkiclient.exe?operation=GetCRL`).
    auto server = pick(device_, request.has_message ? decode_label(request.message_raw) : "");
    if (!server) return text(503, "no certificate server is enabled");
    auto crl = server->current_crl();
    if (!crl.has_value()) return text(503, crl.error().message());
    return {200, "application/pkix-crl", crl->der};
  }
  if (op == "PKIOperation") return pki_operation(request);
  return text(400, op.empty() ? "missing operation" : "unknown operation " + op);
}

ScepHttpResponse ScepService::pki_operation(const ScepHttpRequest& request) const {
  std::string der;
  if (request.method == "POST") {
    der = request.body;
  } else {
    if (!request.has_message) return text(400, "PKIOperation without message");
    auto decoded = decode_get_message(request.message_raw);
    if (!decoded.has_value()) return text(400, "message is not base64");
    der = std::move(*decoded);
  }
  if (der.empty()) return text(400, "empty PKIOperation");

  // The envelope says which CA it is for: try every enabled server, and take the one
  // whose certificate the client named (or, failing that, whose key opens it).
  std::shared_ptr<CertificateServer> chosen;
  std::optional<ca::SigningIdentity> chosen_id;
  std::optional<DecodeResult> result;
  for (const auto& server : device_.servers()) {
    if (server->state() != ca::ServerState::kEnabled) continue;
    auto id = server->signing_identity();
    if (!id.has_value()) continue;
    DecodeResult r = decode_pki_message(der, id->key.evp(), id->certificate.x509());
    bool better = !result.has_value() || (r.has_value() && !result->has_value()) ||
                  (r.has_value() && r->recipient_matched && !(*result)->recipient_matched);
    if (better) {
      result = std::move(r);
      chosen = server;
      chosen_id = std::move(*id);
    }
    if (result->has_value() && (*result)->recipient_matched) break;
  }
  if (!chosen) return text(503, "no certificate server is enabled");
  const std::time_t now = to_unix(device_.clock().now());
  if (!result->has_value()) {
    const DecodeError& e = result->error();
    log::trace(Category::kPkiServer, "CRYPTO_CS: PKIOperation refused: {}", e.status.message());
    if (!e.replyable) return text(400, "malformed PKIOperation: " + e.status.message());
    Reply r{&*chosen_id, e.transaction_id, e.sender_nonce, e.digest, now};
    return failure(r, e.fail_info, e.status.message());
  }
  const DecodedRequest& req = **result;
  Reply reply{&*chosen_id, req.transaction_id, req.sender_nonce, req.digest, now};
  log::trace(Category::kPkiServer, "CRYPTO_PKI_SCEP: CS received {} request, transaction {}",
             message_type_name(req.type), req.transaction_id);
  log::trace(Category::kPkiTransactions,
             "CRYPTO_PKI: received {} ({} bytes, {}, {}), transaction {}",
             message_type_name(req.type), der.size(), digest_name(req.digest),
             cipher_name(req.cipher), req.transaction_id);
  if (req.signing_time && std::abs(*req.signing_time - now) > options_.max_clock_skew.count()) {
    return failure(reply, FailInfo::kBadTime, "signingTime is too far from the server's clock");
  }
  if (req.cipher == CipherAlg::kDesCbc && !chosen->config().scep_allow_des) {
    return failure(reply, FailInfo::kBadAlg,
                   "single DES is not accepted (scep allow-des enables it for old clients)");
  }

  // The reply is enveloped to the requester's signer certificate with RSA key transport
  // (RFC 8894); other key types could not be answered, so refuse before issuing.
  if (EVP_PKEY* signer_key = X509_get0_pubkey(req.signer.get());
      signer_key == nullptr || EVP_PKEY_base_id(signer_key) != EVP_PKEY_RSA) {
    return failure(reply, FailInfo::kBadAlg, "the signer certificate must have an RSA key");
  }
  CertRepParams ok;
  ok.status = PkiStatus::kSuccess;
  ok.recipient_cert = req.signer.get();
  ok.cipher = req.cipher;
  switch (req.type) {
    case MessageType::kPkcsReq:
    case MessageType::kRenewalReq:
    case MessageType::kCertPoll: {
      Result<ca::ScepOutcome> outcome =
          req.type == MessageType::kCertPoll
              ? chosen->scep_poll(req.transaction_id)
              : chosen->scep_enroll(req.payload, {req.transaction_id, der_of(req.signer.get()),
                                                  req.type == MessageType::kRenewalReq});
      if (!outcome.has_value()) {
        return failure(reply, FailInfo::kBadRequest, "server error: " + outcome.error().message());
      }
      switch (outcome->status) {
        case ca::ScepOutcome::Status::kSuccess:
          ok.certificates = {outcome->certificate->x509()};
          return cert_rep(reply, std::move(ok));
        case ca::ScepOutcome::Status::kPending: {
          CertRepParams p;
          p.status = PkiStatus::kPending;
          return cert_rep(reply, std::move(p));
        }
        case ca::ScepOutcome::Status::kFailure:
          return failure(reply, to_wire(outcome->fail_info), outcome->fail_text);
      }
      break;
    }
    case MessageType::kGetCert: {
      std::uint64_t serial = 0;
      if (!req.serial || ASN1_INTEGER_get_uint64(&serial, req.serial.get()) != 1) {
        return failure(reply, FailInfo::kBadCertId, "serial number out of range");
      }
      auto cert = chosen->certificate_by_serial(serial);
      if (!cert.has_value()) {
        return failure(reply, FailInfo::kBadCertId, fmt::format("no certificate 0x{:X}", serial));
      }
      ok.certificates = {cert->x509()};
      return cert_rep(reply, std::move(ok));
    }
    case MessageType::kGetCrl: {
      auto crl = chosen->current_crl();
      if (!crl.has_value()) return failure(reply, FailInfo::kBadRequest, crl.error().message());
      ok.crl_der = crl->der;
      return cert_rep(reply, std::move(ok));
    }
    case MessageType::kCertRep:
      break;
  }
  return failure(reply, FailInfo::kBadRequest, "unsupported messageType");
}

}  // namespace scepter::scep
