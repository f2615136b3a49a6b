#include "ca/request_policy.h"

#include <fmt/format.h>
#include <openssl/objects.h>

#include "pki/identity.h"

namespace scepter::ca {
namespace {

Decision grant(bool renewal = false, bool otp = false) {
  Decision d;
  d.verdict = Verdict::kGrant;
  d.renewal = renewal;
  d.consumes_otp = otp;
  return d;
}

Decision pending(bool authorized = false) {
  Decision d;
  d.verdict = Verdict::kPending;
  d.authorized = authorized;
  return d;
}

Decision reject(ScepFailInfo info, std::string reason) {
  Decision d;
  d.verdict = Verdict::kReject;
  d.fail_info = info;
  d.reason = std::move(reason);
  return d;
}

bool is_new(RequestPath p) {
  return p == RequestPath::kManual || p == RequestPath::kPkcsReq || p == RequestPath::kRenewalReq ||
         p == RequestPath::kAcme;
}

bool over_limit(const PolicyInput& in, const ServerConfig& cfg) {
  return in.open_requests >= static_cast<std::uint64_t>(cfg.max_pending_requests);
}

// A subordinate CA or an RA of ours asking, with the certificate it holds, for a new one
// of the same identity and the same kind (IOS's rollover re-enrolment).
bool is_rollover_granted(const PolicyInput& in, const ServerConfig& cfg) {
  if (!in.same_identity) return false;
  if (in.request == RequestClass::kCa) {
    return cfg.rollover_auto_ca && in.signer == Signer::kOurs && in.signer_is_ca;
  }
  if (in.request == RequestClass::kRa) {
    return cfg.rollover_auto_ra && in.signer == Signer::kRa && !in.signer_is_ca;
  }
  return false;
}

Decision too_many(const PolicyInput& in) {
  return reject(ScepFailInfo::kBadRequest,
                fmt::format("Too many requests ({}) are waiting for the operator; try again later.",
                            in.open_requests));
}

}  // namespace

Decision decide(const PolicyInput& in, const ServerConfig& cfg) {
  // What the request asks for, whoever decides.
  if (in.request == RequestClass::kCa &&
      (cfg.mode == ServerMode::kRa || cfg.mode == ServerMode::kRaTransparent)) {
    return reject(ScepFailInfo::kBadRequest,
                  "The request asks for a CA certificate (basicConstraints CA:TRUE); a "
                  "certificate server in RA mode issues no CA certificates.");
  }
  if (in.request == RequestClass::kCa && in.issuer_path_len && *in.issuer_path_len <= 0) {
    return reject(ScepFailInfo::kBadRequest,
                  "The request asks for a CA certificate, and this CA's own certificate allows "
                  "no CA below it (pathLen 0).");
  }
  if (in.rsa && in.key_bits < cfg.min_rsa_bits) {
    return reject(ScepFailInfo::kBadAlg,
                  fmt::format("RSA keys of {} bits are refused; at least {} are required.",
                              in.key_bits, cfg.min_rsa_bits));
  }
  // The operator's own decision on a stored request.
  if (in.path == RequestPath::kShellGrant) return grant();

  if (cfg.grant == GrantMode::kNone) {
    return reject(ScepFailInfo::kBadRequest, "All requests are rejected (grant none).");
  }
  // Signers that cannot vouch for anything.
  if (in.signer == Signer::kRevoked) {
    return reject(ScepFailInfo::kBadRequest,
                  "The request is signed by a revoked certificate of this CA.");
  }
  if (in.path == RequestPath::kRenewalReq && in.signer != Signer::kOurs &&
      in.signer != Signer::kRa) {
    return reject(ScepFailInfo::kBadRequest,
                  "A RenewalReq must be signed by a valid certificate of this CA.");
  }
  // ACME: the CA validated the names itself, which proves control of the names and
  // nothing else. End entities only; granted under `grant auto` or the operator's
  // standing decision `grant auto acme`, otherwise they wait for the operator, vouched
  // for (authorized) like an RA's.
  if (in.acme) {
    if (in.request != RequestClass::kEndEntity) {
      return reject(ScepFailInfo::kBadRequest,
                    "ACME certifies end entities only: a certificate for a CA or for the RA role "
                    "is the operator's decision.");
    }
    if (!in.names_validated) {
      return reject(ScepFailInfo::kBadRequest,
                    "The names of the ACME order were not all validated for its account.");
    }
    if (cfg.grant == GrantMode::kAuto || cfg.acme_auto) return grant();
    if (is_new(in.path) && over_limit(in, cfg)) return too_many(in);
    return pending(/*authorized=*/true);
  }
  // A certificate for the RA role is the operator's decision alone: neither grant auto,
  // nor a one-time password, nor a certificate of ours (an RA's included) can obtain it.
  // So is a subordinate CA: its certificate can issue any certificate under this CA's
  // name. Both wait even under grant auto, and take their place among the requests
  // waiting for the operator. The one exception is the operator's standing decision
  // `grant auto rollover`: an RA or sub-CA the operator certified may replace its own
  // certificate with one of the same identity (and the same path length rules, above).
  if (is_rollover_granted(in, cfg)) return grant(/*renewal=*/true);
  if (in.request == RequestClass::kRa || in.request == RequestClass::kCa) {
    if (is_new(in.path) && over_limit(in, cfg)) return too_many(in);
    return pending();
  }

  // Renewal: the same identity, vouched for by its own valid certificate.
  if (in.signer == Signer::kOurs && in.same_identity && cfg.renewal_auto) {
    return grant(/*renewal=*/true);
  }
  // Forwarded by one of our RAs.
  if (in.signer == Signer::kRa) {
    if (cfg.grant == GrantMode::kRaAuto || cfg.grant == GrantMode::kAuto) return grant();
    return pending(/*authorized=*/true);
  }
  // Everything else proves nothing about its requester.
  if (cfg.grant == GrantMode::kAuto) return grant();
  if (in.otp && is_new(in.path)) return grant(false, /*otp=*/true);
  if (is_new(in.path) && over_limit(in, cfg)) return too_many(in);
  return pending();
}

bool is_ra_certificate_name(const X509_NAME* subject) {
  constexpr std::string_view kRaRoleName = "ioscs RA";
  return pki::name_has_attribute(subject, NID_commonName, kRaRoleName) ||
         pki::name_has_attribute(subject, NID_organizationalUnitName, kRaRoleName);
}

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kGrant:
      return "grant";
    case Verdict::kPending:
      return "pending";
    case Verdict::kReject:
      return "reject";
  }
  return "reject";
}

const char* signer_name(Signer s) {
  switch (s) {
    case Signer::kNone:
      return "none";
    case Signer::kSelfSigned:
      return "self-signed";
    case Signer::kOurs:
      return "ours";
    case Signer::kRa:
      return "RA";
    case Signer::kRevoked:
      return "revoked";
    case Signer::kExpired:
      return "expired";
    case Signer::kForeign:
      return "foreign";
  }
  return "foreign";
}

const char* request_path_name(RequestPath p) {
  switch (p) {
    case RequestPath::kManual:
      return "request pkcs10";
    case RequestPath::kPkcsReq:
      return "PKCSReq";
    case RequestPath::kRenewalReq:
      return "RenewalReq";
    case RequestPath::kPoll:
      return "poll";
    case RequestPath::kShellGrant:
      return "shell grant";
    case RequestPath::kAcme:
      return "ACME finalize";
  }
  return "poll";
}

const char* fail_info_name(ScepFailInfo info) {
  switch (info) {
    case ScepFailInfo::kBadAlg:
      return "badAlg";
    case ScepFailInfo::kBadMessageCheck:
      return "badMessageCheck";
    case ScepFailInfo::kBadRequest:
      return "badRequest";
    case ScepFailInfo::kBadTime:
      return "badTime";
    case ScepFailInfo::kBadCertId:
      return "badCertId";
  }
  return "badRequest";
}

}  // namespace scepter::ca
