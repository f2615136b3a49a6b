#pragma once
// The configuration of one certificate server (`crypto pki server LABEL` and its
// subcommands), with the seed's defaults and ranges. A plain value: the CLI edits a
// copy and hands it to CertificateServer::set_config(), which enforces the locks.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "files/file_set.h"
#include "pki/digest.h"
#include "pki/profile.h"

namespace scepter::ca {

enum class GrantMode { kManual, kAuto, kNone, kRaAuto };
enum class ServerMode { kRoot, kRa, kRaTransparent, kSubCs };
enum class ArchiveFormat { kPkcs12, kPem };

// Ranges from the seed (and the IOS command reference where the seed is silent).
inline constexpr int kMinLifetimeDays = 1, kMaxLifetimeDays = 1825;
inline constexpr int kMinCrlHours = 1, kMaxCrlHours = 336;
inline constexpr int kMinRequestHours = 1, kMaxRequestHours = 1000;
inline constexpr int kMaxAutoRolloverDays = 1825;
inline constexpr int kCertMarginDays = 30;  // certificate lifetime <= CA lifetime - 30 days
inline constexpr int kDefaultCaKeyBits = 2048;
inline constexpr int kDefaultMinRsaBits = 2048, kLowestMinRsaBits = 1024, kHighestMinRsaBits = 4096;
inline constexpr int kMinOcspValidityHours = 1, kMaxOcspValidityHours = 168;
inline constexpr int kDefaultOcspValidityHours = 24;
inline constexpr int kDefaultEstRetryAfterSeconds = 60;
inline constexpr int kDefaultMaxPendingRequests = 1000, kMaxPendingRequestsLimit = 1000000;

inline constexpr int kDefaultAcmeLifetimeDays = 90;
inline constexpr int kDefaultAcmeHttpPort = 80, kDefaultAcmeTlsPort = 443;
inline constexpr int kDefaultAcmeAccountsPerMinute = 20, kDefaultAcmeOrdersPerMinute = 300;

// Scepter extension: ACME (RFC 8555) at /acme/LABEL/ on the HTTPS server. Orders are
// certified through the same request policy and profile as SCEP; the names they may
// hold are the operator's allow-lists.
struct AcmeConfig {
  bool enabled = false;  // `acme`
  // `acme allow dns SUFFIX`: DNS identifiers equal to SUFFIX or below it (lower case,
  // no trailing dot). None: no DNS identifier is certified.
  std::vector<std::string> dns_suffixes;
  // `acme allow ip PREFIX`: IP identifiers inside one of these prefixes ("192.0.2.0/24",
  // "2001:db8::/32"; common/ip_prefix.h). None: no IP identifier is certified.
  std::vector<std::string> ip_prefixes;
  // `acme allow connect PREFIX`: validation may connect to (and accept DNS answers
  // naming) addresses in these prefixes even when they are loopback, link-local or
  // otherwise refused by default (acme/validation.h).
  std::vector<std::string> connect_prefixes;
  // `[no] acme challenge http-01|dns-01|tls-alpn-01`: the challenge types offered (all
  // by default).
  bool http01 = true;
  bool dns01 = true;
  bool tls_alpn01 = true;
  // `acme lifetime DAYS`: the lifetime of certificates ordered over ACME (at most the
  // server's `lifetime certificate`).
  int lifetime_days = kDefaultAcmeLifetimeDays;
  // `acme resolver ADDR[:PORT]`: the DNS server validation asks; empty: the system's
  // (/etc/resolv.conf).
  std::string resolver;
  // `acme http-port PORT` / `acme tls-port PORT`: where http-01 and tls-alpn-01 connect
  // (RFC 8555 says 80 and 443; other ports are for tests and labs).
  int http_port = kDefaultAcmeHttpPort;
  int tls_port = kDefaultAcmeTlsPort;
  // `acme rate-limit accounts N`: new accounts a minute from one client address;
  // `acme rate-limit orders N`: new orders a minute by one account. Past them, newAccount
  // and newOrder answer rateLimited (429) with Retry-After.
  int accounts_per_minute = kDefaultAcmeAccountsPerMinute;
  int orders_per_minute = kDefaultAcmeOrdersPerMinute;
  // `acme eab KEYID`: external account binding keys (RFC 8555 7.3.4), by key id, each
  // its raw HMAC-SHA256 key. When there is any, newAccount requires a binding by one of
  // them, and each key binds one account.
  std::map<std::string, std::string> eab_keys;
};

struct ServerConfig {
  std::string label;
  // `database url ...` (primary "nvram:" by default) and `database username`
  files::Locations locations;
  files::DbLevel level = files::DbLevel::kMinimal;
  bool archive_enabled = true;  // `no database archive` turns it off
  ArchiveFormat archive_format = ArchiveFormat::kPkcs12;
  std::string archive_password;  // empty: asked at the first `no shutdown`
  std::string issuer_name;       // empty: "CN=<label>"
  int ca_lifetime_days = 1095;
  int cert_lifetime_days = 365;
  int crl_lifetime_hours = 168;  // the seed's default (newer IOS uses 6)
  int request_lifetime_hours = 168;
  std::string cdp_url;
  GrantMode grant = GrantMode::kManual;
  pki::Hash hash = pki::Hash::kSha256;
  // `eku` (IOS-XE): extended key usages added to every end-entity certificate issued from
  // now on, whatever the request asks; a CA certificate gets none (pki::Profile). Each
  // once, in pki::Eku order. Empty (the default): only those the request asks for.
  std::vector<pki::Eku> ekus;
  std::optional<int> auto_rollover_days;  // `auto-rollover [DAYS]`; none: no automatic rollover
  ServerMode mode = ServerMode::kRoot;
  // Scepter extension (`scep allow-des`): accept single-DES envelopes from old IOS.
  bool scep_allow_des = false;
  // Scepter extension (`scep encryption-key LABEL`): clients encrypt their SCEP requests
  // to this RSA key pair rather than to the CA key, which then only signs (an EC CA, or a
  // CA key on a token that must not decrypt). The CA issues it a certificate at `no
  // shutdown` (generating the key if it does not exist). Empty: the CA key does both.
  std::string scep_encryption_key;
  // `grant auto renewal` (default on): a request signed by a valid certificate of this CA
  // for exactly that certificate's identity is granted without the operator.
  bool renewal_auto = true;
  // `grant auto acme` (default off): an ACME order whose names were all validated is
  // granted at finalize; otherwise it waits for the operator (request_policy.h).
  bool acme_auto = false;
  // `grant auto rollover ca-cert` (default off): a subordinate CA's request for a new CA
  // certificate of its own identity, signed by its valid CA certificate from this CA, is
  // granted without the operator.
  bool rollover_auto_ca = false;
  // `grant auto rollover ra-cert` (default off): the same for an RA's request for a new RA
  // certificate, signed by its valid RA certificate from this CA.
  bool rollover_auto_ra = false;
  // Scepter extension (`limit rsa-key-size minimum BITS`): smallest requester RSA key.
  int min_rsa_bits = kDefaultMinRsaBits;
  // Scepter extension (`limit pending-requests N`): requests waiting for the operator;
  // new ones past it are refused.
  int max_pending_requests = kDefaultMaxPendingRequests;
  // Scepter extension (`pathlen N`): the basicConstraints pathLenConstraint of the
  // subordinate CA certificates the operator grants; absent (the default): none, as on the
  // CA certificates IOS makes.
  std::optional<int> sub_ca_path_len;
  // Scepter extension (`serial-number N`): new serials start above N. Set when a CA moves
  // from another server (an IOS router): with the CA's key and certificate imported and no
  // database yet, `no shutdown` makes a database for that CA, takes the revocations from
  // its LABEL.crl, and issues above N; later, a larger N raises the next serial. 0: unset.
  std::uint64_t serial_number_above = 0;
  // Scepter extension (`ocsp`): the CA answers OCSP (RFC 6960) at /ocsp on the HTTP
  // server, and the certificates it issues from then on carry an authorityInfoAccess
  // OCSP URL: `ocsp url URL`, or (empty) http://HOST[:PORT]/ocsp of this device's name and
  // `ip http port`.
  bool ocsp = false;
  std::string ocsp_url;
  // `ocsp validity HOURS`: from a response's thisUpdate to its nextUpdate; responses are
  // signed again after half of it.
  int ocsp_validity_hours = kDefaultOcspValidityHours;
  // `no ocsp nonce`: nonces in requests are ignored, so every answer comes from the
  // cache (RFC 5019 2.1). Default: a request's nonce is echoed in a response signed for it.
  bool ocsp_nonce = true;
  // `ocsp responder-key LABEL`: responses are signed by this key pair (generated at `no
  // shutdown` if missing) as a delegated responder, with a certificate the CA issues it
  // for 30 days and renews with 10 days left. Empty: the CA key signs them.
  std::string ocsp_responder_key;
  // Scepter extension (`est`): the CA takes EST (RFC 7030) enrolments at
  // /.well-known/est/LABEL/ on the HTTPS server (`ip http secure-server`), from clients
  // that authenticate (a valid certificate of this CA, or the one-time password as the
  // HTTP Basic password), through the same request policy as SCEP.
  bool est = false;
  // `est retry-after SECONDS`: what a 202 (a request waiting for the operator) tells the
  // client in Retry-After.
  int est_retry_after_seconds = kDefaultEstRetryAfterSeconds;
  // `est user NAME secret PASSWORD`: HTTP Basic accounts that may send EST requests, by
  // name, each with its password as IOS keeps `secret 9` (pki/password_hash.h). An
  // account authenticates the client, and nothing more: its requests are granted as the
  // grant mode says (manual: by the operator).
  std::map<std::string, std::string> est_users;
  AcmeConfig acme;
  bool shutdown = true;

  std::string effective_issuer() const { return issuer_name.empty() ? "CN=" + label : issuer_name; }
  // The seed: "The maximum certificate lifetime is 1 month less than the lifetime of
  // the CA certificate."
  int max_cert_lifetime_days() const { return ca_lifetime_days - kCertMarginDays; }
};

const char* grant_mode_text(GrantMode mode);  // for `show crypto pki server`

}  // namespace scepter::ca
