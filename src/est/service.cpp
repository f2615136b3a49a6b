#include "est/service.h"

#include <algorithm>

#include <fmt/format.h>

#include "ca/device.h"
#include "common/log.h"
#include "pki/crl_der.h"
#include "pki/csr.h"
#include "pki/digest.h"
#include "pki/encoding.h"
#include "pki/identity.h"
#include "pki/password_hash.h"
#include "scep/cert_rep.h"
#include "scep/request.h"

namespace scepter::est {
namespace {

constexpr std::string_view kWellKnown = "/.well-known/est";

// Retry-After for the server's own trouble (database down, disabled meanwhile).
constexpr int kUnavailableRetrySeconds = 30;

EstHttpResponse text(int status, std::string body) {
  return {status, "text/plain", std::move(body) + "\n", {}};
}

EstHttpResponse unavailable(const Status& s) {
  log::warn("EST: {}", s.message());
  EstHttpResponse r = text(503, "The certificate server cannot answer now; try again later.");
  r.headers.emplace_back("Retry-After", std::to_string(kUnavailableRetrySeconds));
  return r;
}

// The server already runs its share of the request workers (ca::Device::
// try_begin_request()): its storage is slow or hangs. Not logged: every client of it
// would add a line.
EstHttpResponse busy() {
  EstHttpResponse r = text(503, "The certificate server is busy; try again later.");
  r.headers.emplace_back("Retry-After", std::to_string(kUnavailableRetrySeconds));
  return r;
}

EstHttpResponse unauthorized(const std::string& label, std::string why) {
  EstHttpResponse r = text(401, std::move(why));
  r.headers.emplace_back("WWW-Authenticate",
                         fmt::format("Basic realm=\"EST {}\", charset=\"UTF-8\"", label));
  return r;
}

// A certs-only PKCS#7 of `certs`, base64 on one line: RFC 8951 lets receivers take line
// breaks or none, and strongSwan's client takes none only.
Result<std::string> certs_only_base64(const std::vector<pki::Certificate>& certs) {
  std::vector<X509*> x509;
  x509.reserve(certs.size());
  for (const auto& c : certs) x509.push_back(c.x509());
  ASSIGN_OR_RETURN(std::string pkcs7, scep::encode_degenerate_certs(x509));
  return pki::base64_encode(pkcs7, 0);
}

EstHttpResponse certs_only(const std::vector<pki::Certificate>& certs, const char* content_type) {
  auto body = certs_only_base64(certs);
  if (!body.has_value()) return unavailable(body.error());
  EstHttpResponse r{200, content_type, std::move(*body), {}};
  r.headers.emplace_back("Content-Transfer-Encoding", "base64");
  return r;
}

// The attributes a serverkeygen request names a key to encrypt the new key to with
// (RFC 7030 4.4.1.1, 4.4.1.2): id-aa-decryptKeyID and id-aa-asymmDecryptKeyID.
constexpr const char* kDecryptKeyIdentifier = "1.2.840.113549.1.9.16.2.37";
constexpr const char* kAsymmetricDecryptKeyIdentifier = "1.2.840.113549.1.9.16.2.54";

// serverkeygen's answer (RFC 7030 4.4.2, RFC 8951): multipart/mixed, the private key as
// an unencrypted PKCS#8 (TLS protects it) and the certificate as a certs-only PKCS#7,
// each base64. The boundary has characters base64 never has.
constexpr std::string_view kBoundary = "est-scepter-boundary";

EstHttpResponse key_and_certificate(const pki::Key& key, const pki::Certificate& cert) {
  auto pkcs8 = key.to_pkcs8_der();
  if (!pkcs8.has_value()) return unavailable(pkcs8.error());
  auto certs = certs_only_base64({cert});
  if (!certs.has_value()) return unavailable(certs.error());
  std::string body = fmt::format(
      "--{0}\r\nContent-Type: application/pkcs8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "{1}\r\n--{0}\r\nContent-Type: application/pkcs7-mime; smime-type=certs-only\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n{2}\r\n--{0}--\r\n",
      kBoundary, pki::base64_encode(*pkcs8, 0), *certs);
  OPENSSL_cleanse(pkcs8->data(), pkcs8->size());
  EstHttpResponse r{
      200, fmt::format("multipart/mixed; boundary={}", kBoundary), std::move(body), {}};
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

// CsrAttrs (RFC 7030 4.5.2): the signature algorithms the request should be signed with,
// by the digest the CA signs with (`hash`, at least SHA-256), for an RSA or an EC key.
std::string csr_attrs_der(pki::Hash hash) {
  // sha{256,384,512}WithRSAEncryption 1.2.840.113549.1.1.{11,12,13} and
  // ecdsa-with-SHA{256,384,512} 1.2.840.10045.4.3.{2,3,4}.
  unsigned char rsa_last = 11, ec_last = 2;
  if (hash == pki::Hash::kSha384) rsa_last = 12, ec_last = 3;
  if (hash == pki::Hash::kSha512) rsa_last = 13, ec_last = 4;
  const std::string rsa = {
      '\x2A', '\x86', '\x48', '\x86', '\xF7', '\x0D', '\x01', '\x01', static_cast<char>(rsa_last)};
  const std::string ec = {'\x2A', '\x86', '\x48', '\xCE',
                          '\x3D', '\x04', '\x03', static_cast<char>(ec_last)};
  std::string content;
  pki::der::append_framed(content, 0x06, rsa);
  pki::der::append_framed(content, 0x06, ec);
  std::string out;
  pki::der::append_framed(out, pki::der::kSequence, content);
  return out;
}

// The server a request is for (the one named, or the only one with `est`), with the
// configuration it had when picked: one snapshot serves the whole request.
struct Picked {
  std::shared_ptr<ca::CertificateServer> server;
  ca::ServerConfig config;
};

Result<Picked> pick(ca::Device& device, const std::string& label) {
  auto serving = [](const std::shared_ptr<ca::CertificateServer>& s) -> std::optional<Picked> {
    if (!s || s->state() != ca::ServerState::kEnabled) return std::nullopt;
    ca::ServerConfig config = s->config();
    if (!config.est) return std::nullopt;
    return Picked{s, std::move(config)};
  };
  if (!label.empty()) {
    auto picked = serving(device.server(label));
    if (!picked) return fail(not_found("No EST service is named " + label + "."));
    return std::move(*picked);
  }
  std::optional<Picked> only;
  for (auto& server : device.servers()) {
    auto picked = serving(server);
    if (!picked) continue;
    if (only) {
      return fail(
          not_found("Several certificate servers take EST here: name one, as in "
                    "/.well-known/est/" +
                    only->server->label() + "/."));
    }
    only = std::move(picked);
  }
  if (!only) return fail(not_found("No certificate server takes EST here."));
  return std::move(*only);
}

}  // namespace

std::optional<EstPath> parse_path(std::string_view path) {
  const std::size_t at = path.find(kWellKnown);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view before = path.substr(0, at);
  std::string_view after = path.substr(at + kWellKnown.size());
  if (!after.starts_with('/')) return std::nullopt;
  after.remove_prefix(1);
  auto segment_ok = [](std::string_view s) {
    return !s.empty() && s.size() <= 64 && s.find('/') == std::string_view::npos;
  };
  EstPath out;
  if (!before.empty()) {
    // /LABEL/.well-known/est/OP
    if (!before.starts_with('/')) return std::nullopt;
    before.remove_prefix(1);
    if (!segment_ok(before) || !segment_ok(after)) return std::nullopt;
    out.label = std::string(before);
    out.operation = std::string(after);
    return out;
  }
  const std::size_t slash = after.find('/');
  if (slash == std::string_view::npos) {
    if (!segment_ok(after)) return std::nullopt;
    out.operation = std::string(after);
    return out;
  }
  const std::string_view label = after.substr(0, slash);
  const std::string_view op = after.substr(slash + 1);
  if (!segment_ok(label) || !segment_ok(op)) return std::nullopt;
  out.label = std::string(label);
  out.operation = std::string(op);
  return out;
}

std::optional<BasicCredentials> basic_credentials(std::string_view authorization) {
  constexpr std::string_view kBasic = "basic ";
  if (authorization.size() < kBasic.size()) return std::nullopt;
  for (std::size_t i = 0; i < kBasic.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kBasic[i]) {
      return std::nullopt;
    }
  }
  authorization.remove_prefix(kBasic.size());
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  auto decoded = pki::base64_decode(authorization);
  if (!decoded.has_value()) return std::nullopt;
  const std::size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

bool EstService::account_matches(const std::string& label, const std::string& user,
                                 const std::string& hashed, std::string_view password) const {
  const std::string key = label + '\0' + user;
  const std::string digest = pki::digest(pki::Hash::kSha256, password);
  const TimePoint now = device_.clock().now();
  {
    MutexLock lock(mu_);
    AccountState& st = accounts_[key];
    if (st.secret == hashed && !st.verified.empty() &&
        pki::constant_time_equal(st.verified, digest)) {
      return true;
    }
    if (now - st.window >= std::chrono::minutes(1)) {
      st.window = now;
      st.failures = 0;
    }
    if (st.failures >= kMaxAccountFailures) return false;
  }
  // The scrypt runs without the lock: other accounts are not held up by it.
  const bool ok = pki::type9_verify(password, hashed);
  MutexLock lock(mu_);
  AccountState& st = accounts_[key];
  if (ok) {
    st.secret = hashed;
    st.verified = digest;
    st.failures = 0;
  } else {
    ++st.failures;
    log::info("EST: wrong password for account {} of {}", user, label);
    device_.audit().record_untrusted(
        {"login", "est user " + user, label, "EST HTTP Basic", "failed: wrong password"});
  }
  return ok;
}

EstHttpResponse EstService::handle(const EstHttpRequest& request) const {
  std::optional<EstPath> path = parse_path(request.path);
  if (!path) return text(404, "Not an EST path.");
  auto picked = pick(device_, path->label);
  if (!picked.has_value()) return text(404, picked.error().message());
  const std::shared_ptr<ca::CertificateServer>& server = picked->server;
  const ca::ServerConfig& config = picked->config;
  const std::string& op = path->operation;
  const bool get = request.method == "GET" || request.method == "HEAD";

  if (op == "cacerts" || op == "csrattrs") {
    if (!get) return text(405, "Use GET.");
    if (op == "csrattrs") {
      const pki::Hash hash = std::max(config.hash, pki::Hash::kSha256);
      EstHttpResponse r{
          200, "application/csrattrs", pki::base64_encode(csr_attrs_der(hash), 0), {}};
      r.headers.emplace_back("Content-Transfer-Encoding", "base64");
      return r;
    }
    auto chain = server->ca_chain();
    if (!chain.has_value()) return unavailable(chain.error());
    return certs_only(*chain, "application/pkcs7-mime");
  }
  if (op == "fullcmc") return text(501, "This EST server does not offer fullcmc.");
  const bool reenroll = op == "simplereenroll";
  const bool keygen = op == "serverkeygen";
  if (op != "simpleenroll" && !reenroll && !keygen) {
    return text(404, "Unknown EST operation " + op + ".");
  }
  if (request.method != "POST") return text(405, "Use POST.");
  // What follows reads the database and signs.
  const std::optional<ca::RequestSlot> slot = device_.try_begin_request(*server);
  if (!slot) return busy();

  // Who asks, before anything of the request is read.
  const std::string& label = server->label();
  std::optional<pki::Certificate> client_cert;
  ca::Signer signer = ca::Signer::kNone;
  if (!request.peer_certificate_der.empty()) {
    auto s = server->classify_client(request.peer_certificate_der, client_cert);
    if (!s.has_value()) return unavailable(s.error());
    signer = *s;
  }
  const bool by_certificate = signer == ca::Signer::kOurs || signer == ca::Signer::kRa;
  // Basic credentials: the one-time password (any user name), else an account's.
  std::optional<std::string> password;
  std::string account;
  if (request.authorization) {
    if (auto creds = basic_credentials(*request.authorization)) {
      if (server->one_time_password_matches(creds->password)) {
        password = creds->password;
      } else {
        const auto it = config.est_users.find(creds->user);
        if (it != config.est_users.end() &&
            account_matches(label, it->first, it->second, creds->password)) {
          account = it->first;
        }
      }
    }
  }
  if (reenroll && !by_certificate) {
    return unauthorized(label,
                        "Re-enrolment needs the certificate being renewed, valid and issued by "
                        "this CA, in the TLS handshake.");
  }
  if (!by_certificate && !password && account.empty()) {
    return unauthorized(label,
                        "Authenticate with a certificate of this CA, the one-time enrolment "
                        "password or an EST account.");
  }

  if (request.body.size() > scep::kMaxPkiMessageSize * 4 / 3 + 1024) {
    return text(413, "The request is too large.");
  }
  auto der = pki::base64_decode(request.body);
  if (!der.has_value() || der->empty()) return text(400, "The body is not a base64 PKCS#10.");
  auto csr = pki::Csr::parse(*der);
  if (!csr.has_value()) return text(400, "Not a usable PKCS#10: " + csr.error().message());
  if (keygen && (csr->has_attribute(kDecryptKeyIdentifier) ||
                 csr->has_attribute(kAsymmetricDecryptKeyIdentifier))) {
    return text(501,
                "This EST server sends the keys it makes over TLS only: it does not encrypt "
                "them to another key (DecryptKeyIdentifier, AsymmetricDecryptKeyIdentifier).");
  }
  if (reenroll && !pki::same_identity(*csr, *client_cert)) {
    return text(400,
                "A re-enrolment asks for the subject and subjectAltNames of the certificate "
                "it renews (RFC 7030 4.2.2).");
  }

  // The same request from the same client for the same operation is one transaction.
  std::string tid_input = op;
  tid_input.push_back('\0');
  tid_input += account;
  tid_input.push_back('\0');
  tid_input += request.peer_certificate_der;
  tid_input.push_back('\0');
  tid_input += *der;
  ca::ScepRequest scep;
  scep.transaction_id =
      "EST-" + pki::hex_upper(pki::digest(pki::Hash::kSha256, tid_input)).substr(0, 32);
  scep.signer_cert_der = request.peer_certificate_der;
  scep.renewal = reenroll;
  scep.password = password;
  std::optional<pki::Key> key;
  Result<ca::ScepOutcome> outcome = fail(internal_error("no outcome"));
  if (keygen) {
    auto made = server->server_keygen(*csr, scep);
    if (!made.has_value()) return unavailable(made.error());
    outcome = std::move(made->outcome);
    key = std::move(made->key);
  } else {
    outcome = server->scep_enroll(*csr, scep);
  }
  if (!outcome.has_value()) return unavailable(outcome.error());
  switch (outcome->status) {
    case ca::ScepOutcome::Status::kSuccess:
      if (key) return key_and_certificate(*key, *outcome->certificate);
      return certs_only({*outcome->certificate}, "application/pkcs7-mime; smime-type=certs-only");
    case ca::ScepOutcome::Status::kPending: {
      EstHttpResponse r =
          text(202, fmt::format("Request {} waits for the operator.", outcome->request_id));
      r.headers.emplace_back("Retry-After", std::to_string(config.est_retry_after_seconds));
      return r;
    }
    case ca::ScepOutcome::Status::kFailure:
      break;
  }
  return text(400, outcome->fail_text.empty() ? "The request was refused." : outcome->fail_text);
}

}  // namespace scepter::est
