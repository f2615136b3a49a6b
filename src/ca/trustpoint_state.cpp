#include "ca/trustpoint_state.h"

#include <nlohmann/json.hpp>

#include "pki/encoding.h"

namespace scepter::ca {
namespace {

using json = nlohmann::json;

std::string pem_of(const pki::Certificate& c) { return c.pem(); }

Result<pki::Certificate> cert_from(const json& j) {
  if (!j.is_string()) return fail(invalid_argument("a certificate is not a PEM string"));
  return pki::Certificate::from_pem(j.get<std::string>());
}

json caps_to_json(const UpstreamCaps& caps) {
  return json{{"post", caps.post},
              {"renewal", caps.renewal},
              {"next_ca", caps.get_next_ca_cert},
              {"aes", caps.aes},
              {"des3", caps.des3},
              {"sha1", caps.sha1},
              {"sha256", caps.sha256},
              {"sha512", caps.sha512},
              {"scep_standard", caps.scep_standard},
              {"announced", caps.announced}};
}

UpstreamCaps caps_from_json(const json& j) {
  UpstreamCaps caps;
  caps.post = j.value("post", false);
  caps.renewal = j.value("renewal", false);
  caps.get_next_ca_cert = j.value("next_ca", false);
  caps.aes = j.value("aes", false);
  caps.des3 = j.value("des3", false);
  caps.sha1 = j.value("sha1", false);
  caps.sha256 = j.value("sha256", false);
  caps.sha512 = j.value("sha512", false);
  caps.scep_standard = j.value("scep_standard", false);
  caps.announced = j.value("announced", std::vector<std::string>{});
  return caps;
}

json certs_to_json(const UpstreamCertificates& certs) {
  json j = json::object();
  json chain = json::array();
  for (const auto& c : certs.ca_chain) chain.push_back(pem_of(c));
  j["ca_chain"] = chain;
  if (certs.ra_signer) j["ra_signer"] = pem_of(*certs.ra_signer);
  if (certs.ra_encrypter) j["ra_encrypter"] = pem_of(*certs.ra_encrypter);
  return j;
}

Result<UpstreamCertificates> certs_from_json(const json& j) {
  UpstreamCertificates certs;
  if (!j["ca_chain"].is_array() || j["ca_chain"].empty()) {
    return fail(invalid_argument("ca_chain is empty"));
  }
  for (const auto& c : j["ca_chain"]) {
    ASSIGN_OR_RETURN(auto cert, cert_from(c));
    certs.ca_chain.push_back(std::move(cert));
  }
  if (j.contains("ra_signer")) {
    ASSIGN_OR_RETURN(auto cert, cert_from(j["ra_signer"]));
    certs.ra_signer = std::move(cert);
  }
  if (j.contains("ra_encrypter")) {
    ASSIGN_OR_RETURN(auto cert, cert_from(j["ra_encrypter"]));
    certs.ra_encrypter = std::move(cert);
  }
  return certs;
}

}  // namespace

std::string encode_state(const EnrollmentState& s) {
  json j = json::object();
  if (s.ca) {
    j = certs_to_json(*s.ca);
    j["caps"] = caps_to_json(s.caps);
  }
  if (s.next_ca) j["next_ca"] = certs_to_json(*s.next_ca);
  if (s.certificate) j["certificate"] = pem_of(*s.certificate);
  if (s.encryption_certificate) j["encryption_certificate"] = pem_of(*s.encryption_certificate);
  if (s.rollover_certificate) j["rollover_certificate"] = pem_of(*s.rollover_certificate);
  if (s.rollover_encryption_certificate) {
    j["rollover_encryption_certificate"] = pem_of(*s.rollover_encryption_certificate);
  }
  if (!s.rollover_key_label.empty()) {
    j["rollover_key"] = json{{"label", s.rollover_key_label}, {"target", s.rollover_key_target}};
  }
  if (s.pending) {
    const auto& p = *s.pending;
    json parts = json::array();
    for (const auto& part : p.parts) {
      parts.push_back(json{{"csr", pki::pem_encode("CERTIFICATE REQUEST", part.csr_der)},
                           {"transaction_id", part.transaction_id},
                           {"fingerprint", part.fingerprint_md5},
                           {"delivered", part.delivered},
                           {"encryption", part.encryption}});
    }
    j["pending"] = json{
        {"parts", parts},        {"key", p.key_label}, {"signer_key", p.signer_key_label},
        {"renewal", p.renewal},  {"polls", p.polls},   {"next_attempt", to_unix(p.next_attempt)},
        {"rollover", p.rollover}};
  }
  if (!s.last_error.empty()) j["last_error"] = s.last_error;
  if (s.revoked_at) j["revoked_at"] = to_unix(*s.revoked_at);
  return j.dump(1) + "\n";
}

Result<EnrollmentState> decode_state(const std::string& text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return fail(invalid_argument("not a JSON object"));
  EnrollmentState s;
  if (j.contains("ca_chain")) {
    ASSIGN_OR_RETURN(s.ca, certs_from_json(j));
    if (j.contains("caps")) s.caps = caps_from_json(j["caps"]);
  }
  if (j.contains("next_ca")) {
    if (!j["next_ca"].is_object()) return fail(invalid_argument("next_ca is not an object"));
    ASSIGN_OR_RETURN(s.next_ca, certs_from_json(j["next_ca"]));
  }
  if (j.contains("rollover_certificate")) {
    ASSIGN_OR_RETURN(auto cert, cert_from(j["rollover_certificate"]));
    s.rollover_certificate = std::move(cert);
  }
  if (j.contains("rollover_encryption_certificate")) {
    ASSIGN_OR_RETURN(auto cert, cert_from(j["rollover_encryption_certificate"]));
    s.rollover_encryption_certificate = std::move(cert);
  }
  if (j.contains("rollover_key")) {
    const json& k = j["rollover_key"];
    if (!k.is_object()) return fail(invalid_argument("rollover_key is not an object"));
    s.rollover_key_label = k.value("label", std::string());
    s.rollover_key_target = k.value("target", std::string());
    if (s.rollover_key_label.empty() || s.rollover_key_target.empty()) {
      return fail(invalid_argument("rollover_key names no key"));
    }
  }
  if (j.contains("certificate")) {
    ASSIGN_OR_RETURN(auto cert, cert_from(j["certificate"]));
    s.certificate = std::move(cert);
  }
  if (j.contains("encryption_certificate")) {
    ASSIGN_OR_RETURN(auto cert, cert_from(j["encryption_certificate"]));
    s.encryption_certificate = std::move(cert);
  }
  if (j.contains("pending")) {
    const json& p = j["pending"];
    if (!p.is_object()) return fail(invalid_argument("pending is not an object"));
    EnrollmentState::Pending pending;
    auto read_part = [](const json& q) -> Result<EnrollmentState::Pending::Part> {
      if (!q.is_object()) return fail(invalid_argument("a pending request is not an object"));
      EnrollmentState::Pending::Part part;
      ASSIGN_OR_RETURN(part.csr_der,
                       pki::pem_decode(q.value("csr", std::string()), "CERTIFICATE REQUEST"));
      part.transaction_id = q.value("transaction_id", std::string());
      part.fingerprint_md5 = q.value("fingerprint", std::string());
      part.delivered = q.value("delivered", false);
      part.encryption = q.value("encryption", false);
      if (part.transaction_id.empty()) {
        return fail(invalid_argument("a pending request has no transactionID"));
      }
      return part;
    };
    if (p.contains("parts")) {
      if (!p["parts"].is_array()) return fail(invalid_argument("pending parts is not a list"));
      for (const json& q : p["parts"]) {
        ASSIGN_OR_RETURN(auto part, read_part(q));
        pending.parts.push_back(std::move(part));
      }
    } else {
      // Written before usage keys: the one request's fields beside the others.
      ASSIGN_OR_RETURN(auto part, read_part(p));
      pending.parts.push_back(std::move(part));
    }
    pending.key_label = p.value("key", std::string());
    pending.signer_key_label = p.value("signer_key", std::string());
    pending.renewal = p.value("renewal", false);
    pending.rollover = p.value("rollover", false);
    pending.polls = p.value("polls", 0);
    pending.next_attempt = from_unix(p.value("next_attempt", std::int64_t{0}));
    if (pending.key_label.empty() || pending.parts.empty() || pending.parts.size() > 2) {
      return fail(invalid_argument("pending has no key or no request"));
    }
    s.pending = std::move(pending);
  }
  s.last_error = j.value("last_error", std::string());
  if (j.contains("revoked_at")) {
    if (!j["revoked_at"].is_number_integer())
      return fail(invalid_argument("revoked_at is not a time"));
    s.revoked_at = from_unix(j["revoked_at"].get<std::int64_t>());
  }
  return s;
}

}  // namespace scepter::ca
