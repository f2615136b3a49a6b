// The running-config writer for certificate servers: the `crypto pki server` sections.
#include <string>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/cs_server_config.h"
#include "cli/type7.h"
#include "pki/digest.h"
#include "pki/encoding.h"
#include "pki/profile.h"

namespace scepter::cli {
namespace {

using ca::ServerConfig;

std::string_view eku_keyword(pki::Eku eku) {
  for (const auto& [word, help] : kEkuKeywords) {
    if (auto e = pki::parse_eku(word); e.has_value() && *e == eku) return word;
  }
  CA_ASSERT(false, "an extended key usage without an eku keyword");
  return "";
}

// After the est lines, in the order of ca::AcmeConfig; only what is not the default.
void write_acme(const ca::AcmeConfig& a, ConfigText& out) {
  if (a.enabled) out.child("acme");
  for (const auto& s : a.dns_suffixes) out.child("acme allow dns " + s);
  for (const auto& p : a.ip_prefixes) out.child("acme allow ip " + p);
  for (const auto& p : a.connect_prefixes) out.child("acme allow connect " + p);
  if (!a.http01) out.child("no acme challenge http-01");
  if (!a.dns01) out.child("no acme challenge dns-01");
  if (!a.tls_alpn01) out.child("no acme challenge tls-alpn-01");
  if (a.lifetime_days != ca::kDefaultAcmeLifetimeDays) {
    out.child(fmt::format("acme lifetime {}", a.lifetime_days));
  }
  if (!a.resolver.empty()) out.child("acme resolver " + a.resolver);
  if (a.http_port != ca::kDefaultAcmeHttpPort) {
    out.child(fmt::format("acme http-port {}", a.http_port));
  }
  if (a.tls_port != ca::kDefaultAcmeTlsPort) out.child(fmt::format("acme tls-port {}", a.tls_port));
  if (a.accounts_per_minute != ca::kDefaultAcmeAccountsPerMinute) {
    out.child(fmt::format("acme rate-limit accounts {}", a.accounts_per_minute));
  }
  if (a.orders_per_minute != ca::kDefaultAcmeOrdersPerMinute) {
    out.child(fmt::format("acme rate-limit orders {}", a.orders_per_minute));
  }
  // The key as IOS hides passwords (type 7, cli/type7.h): never in clear.
  for (const auto& [id, key] : a.eab_keys) {
    out.child(fmt::format("acme eab {} hmac 7 {}", id, type7_encode(pki::base64url_encode(key))));
  }
}

}  // namespace

void write_servers(ca::Device& device, ConfigText& out) {
  for (const auto& server : device.servers()) {
    const ServerConfig c = server->config();
    out.line("crypto pki server " + c.label);
    // A location's login follows its URL; passwords as IOS type 7, never in clear (see
    // cli/type7.h for what that is worth).
    auto login = [&](const std::string& url) -> std::string {
      auto it = c.locations.logins.find(url);
      if (it == c.locations.logins.end()) return "";
      return " username " + it->second.username +
             (it->second.password.empty() ? ""
                                          : " password 7 " + type7_encode(it->second.password));
    };
    if (c.locations.primary != "nvram:") {
      out.child("database url " + c.locations.primary + login(c.locations.primary));
    }
    for (const auto& [type, url] : c.locations.storage) {
      out.child(fmt::format("database url {} {}{}", files::type_keyword(type), url, login(url)));
    }
    for (const auto& [type, urls] : c.locations.publish) {
      for (const auto& url : urls) {
        out.child(fmt::format("database url {} publish {}{}", files::type_keyword(type), url,
                              login(url)));
      }
    }
    if (c.level != files::DbLevel::kMinimal) {
      out.child(fmt::format("database level {}", files::level_keyword(c.level)));
    }
    if (const files::Credentials& d = c.locations.default_login; !d.username.empty()) {
      out.child("database username " + d.username +
                (d.password.empty() ? "" : " password 7 " + type7_encode(d.password)));
    }
    if (!c.archive_enabled) {
      out.child("no database archive");
    } else if (c.archive_format == ca::ArchiveFormat::kPem || !c.archive_password.empty()) {
      out.child(
          std::string("database archive ") +
          (c.archive_format == ca::ArchiveFormat::kPem ? "pem" : "pkcs12") +
          (c.archive_password.empty() ? "" : " password 7 " + type7_encode(c.archive_password)));
    }
    if (!c.issuer_name.empty()) out.child("issuer-name " + c.issuer_name);
    if (c.crl_lifetime_hours != 168)
      out.child(fmt::format("lifetime crl {}", c.crl_lifetime_hours));
    // Each line is checked against the other lifetime when loaded (certificate <= CA
    // less 30 days), starting from the defaults: a certificate lifetime longer than the
    // default CA lifetime allows needs the CA lifetime first, a shorter one needs it after.
    const bool ca_first = c.cert_lifetime_days > ServerConfig{}.max_cert_lifetime_days();
    if (ca_first && c.ca_lifetime_days != 1095) {
      out.child(fmt::format("lifetime ca-certificate {}", c.ca_lifetime_days));
    }
    if (c.cert_lifetime_days != 365) {
      out.child(fmt::format("lifetime certificate {}", c.cert_lifetime_days));
    }
    if (!ca_first && c.ca_lifetime_days != 1095) {
      out.child(fmt::format("lifetime ca-certificate {}", c.ca_lifetime_days));
    }
    if (c.request_lifetime_hours != 168) {
      out.child(fmt::format("lifetime enrollment-request {}", c.request_lifetime_hours));
    }
    if (!c.cdp_url.empty()) out.child("cdp-url " + c.cdp_url);
    if (c.grant == ca::GrantMode::kAuto) out.child("grant auto");
    if (c.grant == ca::GrantMode::kNone) out.child("grant none");
    if (c.grant == ca::GrantMode::kRaAuto) out.child("grant ra-auto");
    if (!c.renewal_auto) out.child("no grant auto renewal");
    if (c.acme_auto) out.child("grant auto acme");
    if (c.rollover_auto_ca) out.child("grant auto rollover ca-cert");
    if (c.rollover_auto_ra) out.child("grant auto rollover ra-cert");
    if (c.min_rsa_bits != ca::kDefaultMinRsaBits) {
      out.child(fmt::format("limit rsa-key-size minimum {}", c.min_rsa_bits));
    }
    if (c.max_pending_requests != ca::kDefaultMaxPendingRequests) {
      out.child(fmt::format("limit pending-requests {}", c.max_pending_requests));
    }
    if (c.sub_ca_path_len) out.child(fmt::format("pathlen {}", *c.sub_ca_path_len));
    if (c.serial_number_above != 0) {
      out.child(fmt::format("serial-number 0x{:X}", c.serial_number_above));
    }
    if (c.hash != pki::Hash::kSha256) out.child(fmt::format("hash {}", pki::hash_name(c.hash)));
    if (!c.ekus.empty()) {
      std::string line = "eku";
      for (pki::Eku e : c.ekus) line += " " + std::string(eku_keyword(e));
      out.child(line);
    }
    if (c.auto_rollover_days) out.child(fmt::format("auto-rollover {}", *c.auto_rollover_days));
    if (c.mode == ca::ServerMode::kRa) out.child("mode ra");
    if (c.mode == ca::ServerMode::kRaTransparent) out.child("mode ra transparent");
    if (c.mode == ca::ServerMode::kSubCs) out.child("mode sub-cs");
    if (c.scep_allow_des) out.child("scep allow-des");
    if (!c.scep_encryption_key.empty()) out.child("scep encryption-key " + c.scep_encryption_key);
    if (c.ocsp) out.child("ocsp");
    if (!c.ocsp_url.empty()) out.child("ocsp url " + c.ocsp_url);
    if (c.ocsp_validity_hours != ca::kDefaultOcspValidityHours) {
      out.child(fmt::format("ocsp validity {}", c.ocsp_validity_hours));
    }
    if (!c.ocsp_nonce) out.child("no ocsp nonce");
    if (!c.ocsp_responder_key.empty()) out.child("ocsp responder-key " + c.ocsp_responder_key);
    if (c.est) out.child("est");
    if (c.est_retry_after_seconds != ca::kDefaultEstRetryAfterSeconds) {
      out.child(fmt::format("est retry-after {}", c.est_retry_after_seconds));
    }
    for (const auto& [name, secret] : c.est_users) {
      out.child(fmt::format("est user {} secret 9 {}", name, secret));
    }
    write_acme(c.acme, out);
    // Last, so that loading the configuration applies every setting before enabling.
    out.child(c.shutdown ? "shutdown" : "no shutdown");
  }
}

}  // namespace scepter::cli
