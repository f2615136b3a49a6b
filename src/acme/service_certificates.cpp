// AcmeService (service.h): certificates. cert/ID (the order's chain), revoke-cert and
// renewal-info/CERTID (RFC 9773).

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "acme/names.h"
#include "acme/objects.h"
#include "acme/service.h"
#include "acme/service_internal.h"
#include "ca/device.h"
#include "pki/certificate.h"
#include "pki/encoding.h"
#include "pki/serial_number.h"

namespace scepter::acme {

namespace {

// Whether the account of `c` holds a valid authorization for every name `cert`
// certifies (RFC 8555 7.6); false for a certificate naming anything ACME cannot
// authorize, or nothing. Looks at no more than kMaxAuthorizationsLooked of the
// account's authorizations.
Result<bool> holds_authorizations_for(const RequestContext& c, const pki::Certificate& cert) {
  auto names = certificate_identifiers(cert);
  if (!names) return false;
  std::set<std::string> missing(names->begin(), names->end());
  ASSIGN_OR_RETURN(
      std::vector<AcmeRecord> records,
      c.store->acme_by_owner(AcmeKind::kAuthorization, c.account.id, kMaxAuthorizationsLooked));
  for (const AcmeRecord& r : records) {
    auto a = authorization_from(r);
    if (!a.has_value() || authorization_status(*a, c.now) != "valid") continue;
    missing.erase(identifier_name(a->identifier, a->wildcard));
  }
  return missing.empty();
}

}  // namespace

// ---- Certificates ----------------------------------------------------------------------

AcmeHttpResponse AcmeService::certificate(Context& c, const std::string& order_id) {
  Order o;
  if (auto answer = load_order(c, order_id, o)) return *answer;
  if (o.status != "valid" || o.certificate.empty()) {
    return problem_answer(problem("malformed", "the order has no certificate", 404));
  }
  auto serial = pki::SerialNumber::from_hex(o.certificate);
  if (!serial) return problem_answer(server_trouble(internal_error("stored serial is unreadable")));
  auto cert = c.server->certificate_by_serial(*serial);
  if (!cert.has_value()) return problem_answer(server_trouble(cert.error()));
  auto chain = c.server->ca_chain();
  if (!chain.has_value()) return problem_answer(server_trouble(chain.error()));
  AcmeHttpResponse r;
  r.status = 200;
  r.content_type = "application/pem-certificate-chain";
  r.body = cert->pem();
  for (const pki::Certificate& ca : *chain) r.body += ca.pem();
  return r;
}

AcmeHttpResponse AcmeService::revoke(Context& c) {
  if (!c.payload.is_object() || !c.payload.contains("certificate") ||
      !c.payload.at("certificate").is_string()) {
    return problem_answer(
        problem("malformed", "revokeCert carries {\"certificate\": base64url DER}"));
  }
  std::optional<int> reason;
  if (c.payload.contains("reason")) {
    const json& r = c.payload.at("reason");
    const std::int64_t code = r.is_number_integer() ? r.get<std::int64_t>() : -1;
    if (code < 0 || code > 10 || !store::is_crl_reason(static_cast<int>(code)) || code == 8) {
      return problem_answer(
          problem("badRevocationReason", "the reason is not a CRLReason a CA may give"));
    }
    reason = static_cast<int>(code);
  }
  auto der = pki::base64url_decode(c.payload.at("certificate").get<std::string>());
  if (!der.has_value())
    return problem_answer(problem("malformed", "the certificate is not base64url"));
  auto cert = pki::Certificate::from_der(*der);
  if (!cert.has_value())
    return problem_answer(problem("malformed", "the certificate cannot be read"));
  auto serial = cert->serial();
  if (!serial.has_value())
    return problem_answer(problem("malformed", "the certificate's serial is not one of this CA's"));
  auto ours = c.server->certificate_by_serial(*serial);
  if (!ours.has_value() || ours->der() != cert->der()) {
    if (ours.has_value() || ours.error().code() == Code::kNotFound) {
      return problem_answer(problem("malformed", "this CA did not issue the certificate", 404));
    }
    return problem_answer(server_trouble(ours.error()));
  }
  // Who may revoke (RFC 8555 7.6): the certificate's key; for a certificate issued over
  // ACME, also the account whose order it was, or an account holding valid
  // authorizations for every name it certifies. (A certificate from SCEP or EST is its
  // device's: only its key or the operator revokes it.)
  bool allowed = false;
  if (c.jws.jwk) {
    auto key = cert->public_key();
    allowed = key.has_value() && key->equals_public(c.jws.jwk->key);
  } else {
    auto record = c.server->stored_certificate(serial->sequence);
    if (!record.has_value()) return problem_answer(server_trouble(record.error()));
    bool from_acme = false;
    if (record->request_id != 0) {
      auto request = c.store->request(record->request_id);
      const std::string prefix = ca::acme_transaction("");
      if (request.has_value() && request->transaction_id.starts_with(prefix)) {
        from_acme = true;
        auto order = c.store->acme(AcmeKind::kOrder, request->transaction_id.substr(prefix.size()));
        allowed = order.has_value() && order->owner == c.account.id;
      }
    }
    if (from_acme && !allowed) {
      auto holds = holds_authorizations_for(c, *cert);
      if (!holds.has_value()) return problem_answer(server_trouble(holds.error()));
      allowed = *holds;
    }
  }
  if (!allowed) {
    return problem_answer(problem("unauthorized",
                                  "only the certificate's key, the account that ordered it or one "
                                  "with valid authorizations for all its names may revoke it",
                                  403));
  }
  Status s = c.server->revoke(*serial, reason);
  if (s.code() == Code::kAlreadyExists)
    return problem_answer(problem("alreadyRevoked", "the certificate is revoked already"));
  if (s.code() == Code::kInvalidArgument)
    return problem_answer(problem("badRevocationReason", s.message()));
  if (!s.ok()) return problem_answer(server_trouble(s));
  const std::string actor =
      c.jws.jwk ? std::string("acme by certificate key") : "acme account " + c.account.id;
  device_.audit().record({"revoke", actor, c.label,
                          fmt::format("certificate 0x{}{}", serial->hex(),
                                      reason ? fmt::format(" reason {}", *reason) : ""),
                          "ok"});
  AcmeHttpResponse r;
  r.status = 200;
  return r;
}

AcmeHttpResponse AcmeService::renewal_info(Context& c, std::string_view cert_id) {
  // RFC 9773 4.1: base64url(AKI keyIdentifier) "." base64url(serial's DER content).
  const std::size_t dot = cert_id.find('.');
  if (dot == std::string_view::npos)
    return problem_answer(problem("malformed", "a certID is AKI.serial"));
  auto aki = pki::base64url_decode(cert_id.substr(0, dot));
  auto serial_bytes = pki::base64url_decode(cert_id.substr(dot + 1));
  if (!aki.has_value() || !serial_bytes.has_value()) {
    return problem_answer(problem("malformed", "a certID is two base64url parts"));
  }
  auto serial = pki::SerialNumber::from_integer_content(*serial_bytes);
  if (!serial.has_value())
    return problem_answer(problem("malformed", "the serial cannot be read", 404));
  auto record = c.server->stored_certificate(serial->sequence);
  if (!record.has_value()) {
    if (record.error().code() == Code::kNotFound)
      return problem_answer(problem("malformed", "no such certificate", 404));
    return problem_answer(server_trouble(record.error()));
  }
  auto cert = pki::Certificate::from_der(record->der);
  if (!cert.has_value()) return problem_answer(server_trouble(cert.error()));
  // The certID names this certificate: the key that signed it and all of its serial.
  auto cert_serial = cert->serial();
  if (cert->authority_key_id() != *aki || !cert_serial.has_value() ||
      cert_serial->entropy != serial->entropy) {
    return problem_answer(problem("malformed", "no such certificate", 404));
  }
  auto chain = c.server->ca_chain();
  if (!chain.has_value()) return problem_answer(server_trouble(chain.error()));
  const pki::Certificate& current = chain->front();
  const std::optional<pki::Certificate> shadow = c.server->rollover_certificate();
  const bool by_current_key = *aki == current.subject_key_id();
  const bool by_shadow_key = shadow && *aki == shadow->subject_key_id();
  const RenewalWindow w = renewal_window(*record, by_current_key || by_shadow_key,
                                         by_current_key && (shadow || c.config.auto_rollover_days)
                                             ? std::optional<TimePoint>(current.not_after())
                                             : std::nullopt,
                                         c.now);
  AcmeHttpResponse r =
      json_answer(200, {{"suggestedWindow",
                         {{"start", format_iso_time(w.start)}, {"end", format_iso_time(w.end)}}}});
  return with_retry_after(std::move(r), static_cast<int>(w.retry_after.count()));
}

RenewalWindow renewal_window(const store::CertRecord& cert, bool by_a_live_key,
                             std::optional<TimePoint> switch_at, TimePoint now) {
  RenewalWindow w;
  if (cert.revoked_at || !by_a_live_key) {
    // Revoked, or signed by a key the CA has rolled over from: renew now (a window in
    // the past, RFC 9773 4.2).
    w.start = now - Seconds(3600);
    w.end = now - Seconds(1);
  } else if (switch_at && cert.not_after >= *switch_at) {
    // Cut short by the end of the CA certificate, which the rollover certificate takes
    // over from: until then the CA can only issue certificates ending at the same
    // moment, so the window opens at the switch, kept short because the certificate
    // ends there. Asked again by the switch at the latest.
    w.start = *switch_at;
    w.end = *switch_at + kSwitchRenewalWindow;
    w.retry_after = std::clamp(std::chrono::duration_cast<Seconds>(*switch_at - now), Seconds(60),
                               w.retry_after);
  } else {
    // The last third of the validity, ending a ninth before expiry.
    const auto life = cert.not_after - cert.not_before;
    w.start = cert.not_before + life * 2 / 3;
    w.end = cert.not_after - life / 9;
  }
  return w;
}

}  // namespace scepter::acme
