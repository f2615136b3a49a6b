// What a certificate server shows: show crypto pki server [LABEL [requests|crl|
// certificates]], the legacy `crypto pki server LABEL info requests|crl`, show crypto pki
// certificates, and crypto pki export LABEL pem. Layouts follow the IOS guide.
#include <tuple>

#include <fmt/format.h>

#include "acme/report.h"
#include "ca/device.h"
#include "cli/commands/cs_commands.h"
#include "cli/commands/more_commands.h"
#include "cli/context.h"
#include "common/fs.h"
#include "pki/crl.h"
#include "pki/digest.h"
#include "pki/name.h"

namespace scepter::cli {
namespace {

using namespace cs_help;
constexpr std::string_view kShow = "Show running system information";

const char* level_text(files::DbLevel level) {
  switch (level) {
    case files::DbLevel::kMinimal:
      return "Minimum - no cert data written to storage";
    case files::DbLevel::kNames:
      return "Names - all certificate names written as <serialnum>.cnm";
    case files::DbLevel::kComplete:
      return "Complete - all issued certs written as <serialnum>.cer";
  }
  return "";
}

void render_storage(Context& ctx, const ca::ServerConfig& c) {
  if (c.locations.storage.empty()) {
    ctx.printf("  Current storage dir: {}\n", c.locations.primary);
  } else {
    ctx.printf("  Current primary storage dir: {}\n", c.locations.primary);
    for (const auto& [type, url] : c.locations.storage) {
      ctx.printf("  Current storage dir for .{} files: {}\n", files::type_keyword(type), url);
    }
  }
  ctx.printf("  Database Level: {}\n", level_text(c.level));
}

// RA mode, as an IOS RA shows it: the issuer name is the RA's own subject, the CA
// fingerprint the issuing CA's; no serial, CRL or expiry timers (the CA has those).
// The rollover lines of `show crypto pki server`, in the guide's "Verifying CA
// Certificate Information" layout.
void render_rollover(Context& ctx, const ca::ServerInfo& info) {
  const ca::ServerConfig& c = info.config;
  const std::string_view what = ca::is_ra_mode(c) ? "RA" : "CA";
  if (info.rollover_certificate) {
    ctx.print("  Rollover status: available for rollover\n");
    ctx.printf("    Rollover {} cert fingerprint: {}\n", what,
               pki::ios_fingerprint(info.rollover_certificate->md5_fingerprint()));
    ctx.printf("    Rollover {} certificate expiration timer: {}\n", what,
               format_ios_time(info.rollover_certificate->not_after()));
  } else if (info.rollover_requested) {
    ctx.print("  Rollover status: requested from the superior CA\n");
  }
  if (c.auto_rollover_days) {
    ctx.printf("  Auto-Rollover configured, overlap period {} days\n", *c.auto_rollover_days);
    if (info.ca_certificate && !info.rollover_certificate) {
      ctx.printf("  Autorollover timer: {}\n",
                 format_ios_time(info.ca_certificate->not_after() -
                                 std::chrono::days(*c.auto_rollover_days)));
    }
  }
}

void render_ra(Context& ctx, const ca::ServerInfo& info) {
  const ca::ServerConfig& c = info.config;
  if (info.ca_certificate) {
    ctx.printf("  Issuer name: {}\n", pki::format_dn_ios(info.ca_certificate->subject()));
  }
  if (info.issuing_ca) {
    ctx.printf("  CA cert fingerprint: {}\n",
               pki::ios_fingerprint(info.issuing_ca->md5_fingerprint()));
  } else {
    ctx.print("  CA cert fingerprint: -Not found-\n");
  }
  ctx.printf("  Server configured in RA mode{}\n",
             c.mode == ca::ServerMode::kRaTransparent ? " (transparent)" : "");
  if (info.ca_certificate) {
    ctx.printf("  RA cert fingerprint: {}\n",
               pki::ios_fingerprint(info.ca_certificate->md5_fingerprint()));
  }
  if (info.ra_encryption_certificate) {
    // Usage keys: the certificate clients encrypt their requests to.
    ctx.printf("  RA encryption cert fingerprint: {}\n",
               pki::ios_fingerprint(info.ra_encryption_certificate->md5_fingerprint()));
  }
  ctx.printf("  Granting mode is: {}\n", ca::grant_mode_text(c.grant));
  if (info.ca_certificate) {
    ctx.printf("  RA certificate expiration timer: {}\n",
               format_ios_time(info.ca_certificate->not_after()));
  }
  if (c.est) {
    // scepterd's own line (`est`).
    const ca::HttpConfig http = ctx.device().http();
    ctx.printf("  EST server: enabled at /.well-known/est/{}/ on the HTTP secure server{}\n",
               c.label, http.secure_server ? "" : " (off: ip http secure-server)");
    ctx.printf("  EST accounts: {}\n", c.est_users.size());
  }
  if (c.acme.enabled) {
    // scepterd's own line (`acme`).
    const ca::HttpConfig http = ctx.device().http();
    ctx.printf("  ACME server: enabled at /acme/{}/directory on the HTTP secure server{}\n",
               c.label, http.secure_server ? "" : " (off: ip http secure-server)");
  }
  render_storage(ctx, c);
  render_rollover(ctx, info);
}

void render_server(Context& ctx, const ca::CertificateServer& server) {
  const ca::ServerInfo info = server.info();
  const ca::ServerConfig& c = info.config;
  ctx.printf("Certificate Server {}:\n", c.label);
  if (info.state == ca::ServerState::kEnabled) {
    ctx.print("  Status: enabled\n");
  } else if (info.reason.empty()) {
    ctx.print("  Status: disabled\n");
  } else {
    ctx.printf("  Status: disabled, {}\n", info.reason);
  }
  ctx.printf("  State: {}\n", ca::server_state_name(info.state));
  if (c.shutdown) {
    ctx.print("  Server's configuration is unlocked (enter \"no shut\" to lock it)\n");
  } else {
    ctx.print("  Server's configuration is locked (enter \"shut\" to unlock it)\n");
  }
  if (ca::is_ra_mode(c)) {
    render_ra(ctx, info);
    return;
  }
  ctx.printf("  Issuer name: {}\n", c.effective_issuer());
  if (info.ca_certificate) {
    ctx.printf("  CA cert fingerprint: {}\n",
               pki::ios_fingerprint(info.ca_certificate->md5_fingerprint()));
  } else {
    ctx.print("  CA cert fingerprint: -Not found-\n");
  }
  if (info.scep_encryption_certificate) {
    // `scep encryption-key`: the certificate clients encrypt their requests to.
    ctx.printf("  SCEP encryption cert fingerprint: {} (key {})\n",
               pki::ios_fingerprint(info.scep_encryption_certificate->md5_fingerprint()),
               c.scep_encryption_key);
  }
  if (c.mode == ca::ServerMode::kSubCs) {
    ctx.print("  Server configured in subordinate server mode\n");
    if (info.upper_ca) {
      ctx.printf("  Upper CA cert fingerprint: {}\n",
                 pki::ios_fingerprint(info.upper_ca->md5_fingerprint()));
    }
  }
  ctx.printf("  Granting mode is: {}\n", ca::grant_mode_text(c.grant));
  ctx.printf("  Last certificate issued serial number: 0x{:X}\n", info.last_serial);
  ctx.printf(
      "  CA certificate expiration timer: {}\n",
      format_ios_time(info.ca_certificate ? info.ca_certificate->not_after() : from_unix(0)));
  if (info.crl_next_update) {
    ctx.printf("  CRL NextUpdate timer: {}\n", format_ios_time(*info.crl_next_update));
  } else {
    ctx.print("  CRL not present.\n");
  }
  // Several nodes on one database (scepterd's own line).
  if (info.crl_publisher) ctx.printf("  CRL published by: {}\n", *info.crl_publisher);
  if (c.ocsp) {
    // scepterd's own lines (`ocsp`).
    ctx.printf("  OCSP responder: enabled at /ocsp, responses valid {} hours, nonces {}\n",
               c.ocsp_validity_hours, c.ocsp_nonce ? "echoed" : "ignored");
    ctx.printf("  OCSP responses signed by: {}\n",
               c.ocsp_responder_key.empty() ? "the CA key"
                                            : "delegated responder key " + c.ocsp_responder_key);
    ctx.printf("  OCSP URL in issued certificates: {}\n",
               c.ocsp_url.empty() ? ctx.device().ocsp_url() : c.ocsp_url);
  }
  if (c.est) {
    // scepterd's own line (`est`).
    const ca::HttpConfig http = ctx.device().http();
    ctx.printf("  EST server: enabled at /.well-known/est/{}/ on the HTTP secure server{}\n",
               c.label, http.secure_server ? "" : " (off: ip http secure-server)");
    ctx.printf("  EST accounts: {}\n", c.est_users.size());
  }
  render_storage(ctx, c);
  render_rollover(ctx, info);
}

std::shared_ptr<ca::CertificateServer> named_server(Context& ctx, const Args& a) {
  return ctx.device().server(std::string(a.word("label")));
}

CmdResult show_server(Context& ctx, const Args& a) {
  if (a.has("label")) {
    auto server = named_server(ctx, a);
    if (!server)
      return ctx.error(fmt::format("Certificate server {} does not exist.", a.word("label")));
    render_server(ctx, *server);
    return {};
  }
  for (const auto& server : ctx.device().servers()) render_server(ctx, *server);
  return {};
}

void render_requests(Context& ctx, const ca::CertificateServer& server,
                     const std::vector<store::RequestRecord>& all) {
  ctx.print("Enrollment Request Database:\n");
  // The guide's sections; rollover requests (issued under the rollover CA certificate,
  // or a subordinate's for after its current certificate) apart, as in its "shadow PKI
  // certificate information requests" example (which shows no subordinate CA; its
  // rollover section is named as the others).
  const std::tuple<store::RequestKind, bool, const char*> sections[] = {
      {store::RequestKind::kSubCa, false, "Subordinate CA certificate requests:"},
      {store::RequestKind::kSubCa, true, "Subordinate CA rollover certificate requests:"},
      {store::RequestKind::kRa, false, "RA certificate requests:"},
      {store::RequestKind::kRa, true, "RA rollover certificate requests:"},
      {store::RequestKind::kRouter, false, "Router certificates requests:"},
      {store::RequestKind::kRouter, true, "Router rollover certificates requests:"}};
  for (const auto& [kind, rollover, title] : sections) {
    ctx.printf("\n{}\nReqID  State      Fingerprint                      SubjectName\n", title);
    ctx.print("--------------------------------------------------------------\n");
    for (const auto& r : all) {
      if (r.kind != kind || ca::is_rollover_request(r) != rollover) continue;
      ctx.printf("{:<6} {:<10} {} {}\n", r.id, store::request_state_name(r.state), r.fingerprint,
                 r.subject);
      // scepterd's own: where a request came from when not SCEP or the shell.
      const std::string acme_prefix = ca::acme_transaction("");
      if (r.transaction_id.starts_with(acme_prefix)) {
        ctx.printf("       ACME order {}\n", r.transaction_id.substr(acme_prefix.size()));
      }
      // What the request asks for that the certificate profile will not put in.
      for (const std::string& item : server.dropped_by_profile(r)) {
        ctx.printf("       not granted: {}\n", item);
      }
    }
  }
}

// scepterd's own: `show crypto pki server LABEL acme`.
CmdResult show_acme(Context& ctx, const Args& a) {
  auto server = named_server(ctx, a);
  if (!server)
    return ctx.error(fmt::format("Certificate server {} does not exist.", a.word("label")));
  if (!server->config().acme.enabled) {
    ctx.printf("Certificate Server {} does not offer ACME.\n", server->label());
    return {};
  }
  constexpr std::size_t kListed = 100;
  auto report = acme::acme_report(*server, ctx.device().clock().now(), kListed);
  if (!report.has_value()) return ctx.error(report.error().message());
  auto more = [&](std::uint64_t all, std::size_t shown) {
    if (all > shown) ctx.printf("  ... {} more\n", all - shown);
  };
  ctx.printf("ACME accounts of certificate server {}: {}\n", server->label(), report->accounts);
  ctx.print("  Account                 Status       Created                       Contact\n");
  for (const acme::Account& acc : report->account_list) {
    std::string contact;
    for (const std::string& m : acc.contact) contact += (contact.empty() ? "" : ", ") + m;
    ctx.printf("  {:<23} {:<12} {:<29} {}\n", acc.id, acc.status, format_ios_time(acc.created),
               contact.empty() ? "-" : contact);
    if (!acc.eab_key_id.empty()) ctx.printf("    bound by EAB key {}\n", acc.eab_key_id);
  }
  more(report->accounts, report->account_list.size());
  ctx.printf("\nACME orders: {}\n", report->orders);
  ctx.print("  Order                   Account                 Status      Expires\n");
  for (const auto& [order, status] : report->order_list) {
    ctx.printf("  {:<23} {:<23} {:<11} {}\n", order.id, order.account, status,
               format_ios_time(order.expires));
    std::string names;
    for (const acme::Identifier& i : order.identifiers) {
      names += (names.empty() ? "" : ", ") + i.type + ":" + i.value;
    }
    ctx.printf("    {}\n", names);
    if (!order.certificate.empty()) ctx.printf("    certificate 0x{}\n", order.certificate);
    if (order.error) ctx.printf("    error {}: {}\n", order.error->type, order.error->detail);
  }
  more(report->orders, report->order_list.size());
  ctx.printf("\nPending ACME authorizations: {}\n", report->pending.size());
  ctx.print("  Authorization           Account                 Identifier\n");
  for (const acme::Authorization& z : report->pending) {
    std::string challenges;
    for (const acme::Challenge& ch : z.challenges) {
      challenges += (challenges.empty() ? "" : ", ") +
                    std::string(acme::challenge_type_name(ch.type)) + " " + ch.status;
    }
    ctx.printf("  {:<23} {:<23} {}:{}{}\n", z.id, z.account, z.identifier.type,
               z.wildcard ? "*." + z.identifier.value : z.identifier.value,
               challenges.empty() ? "" : " (" + challenges + ")");
  }
  return {};
}

CmdResult show_requests(Context& ctx, const Args& a) {
  auto server = named_server(ctx, a);
  if (!server)
    return ctx.error(fmt::format("Certificate server {} does not exist.", a.word("label")));
  auto all = server->requests();
  if (!all.has_value()) return ctx.error(all.error().message());
  render_requests(ctx, *server, *all);
  return {};
}

// scepterd's own: copies on their way to remote locations (`database url ... publish
// ftp://...`): how many wait, and why the last try failed. Kept out of `show crypto pki
// server`, whose lines are IOS's; a failed try is also logged when it happens.
CmdResult show_publish(Context& ctx, const Args& a) {
  auto server = named_server(ctx, a);
  if (!server)
    return ctx.error(fmt::format("Certificate server {} does not exist.", a.word("label")));
  const ca::ServerInfo info = server->info();
  if (!info.publish) {
    ctx.printf("Certificate Server {} publishes to no remote location.\n", a.word("label"));
    return {};
  }
  const auto& p = *info.publish;
  ctx.printf("Publish queue of certificate server {}:\n", a.word("label"));
  ctx.printf("  {} file{} waiting, {} sent\n", p.waiting, p.waiting == 1 ? "" : "s", p.sent);
  if (!p.last_error.empty()) {
    ctx.printf("  Last error: {}", p.last_error);
    if (p.next_try.count() > 0) ctx.printf(" (next try in {} s)", p.next_try.count());
    ctx.print("\n");
  }
  return {};
}

CmdResult show_crl(Context& ctx, const Args& a) {
  auto server = named_server(ctx, a);
  if (!server)
    return ctx.error(fmt::format("Certificate server {} does not exist.", a.word("label")));
  auto crl = server->current_crl();
  if (!crl.has_value()) return ctx.error(crl.error().message());
  const pki::CrlInfo& info = crl->info;
  ctx.print("Certificate Revocation List:\n");
  ctx.printf("    Issuer: {}\n", pki::format_dn_ios(info.issuer.get()));
  ctx.printf("    This Update: {}\n", format_ios_time(info.this_update));
  if (info.next_update) ctx.printf("    Next Update: {}\n", format_ios_time(*info.next_update));
  if (info.crl_number) ctx.printf("    CRL Number: {}\n", *info.crl_number);
  ctx.printf("    Number of CRL entries: {}\n", info.entries.size());
  ctx.printf("    CRL size: {} bytes\n", info.size_bytes);
  for (const auto& e : info.entries) {
    ctx.printf("    Serial Number (hex): {}\n", even_hex(e.serial.hex()));
    ctx.printf("    Revocation Date: {}\n", format_ios_time(e.revoked_at));
    if (e.reason) {
      const char* name = pki::crl_reason_name(*e.reason);
      ctx.printf("    Reason Code: {}\n", name ? std::string(name) : std::to_string(*e.reason));
    }
  }
  return {};
}

CmdResult show_issued(Context& ctx, const Args& a) {
  auto server = named_server(ctx, a);
  if (!server)
    return ctx.error(fmt::format("Certificate server {} does not exist.", a.word("label")));
  ctx.print("Serial Issued date              Expire date               Subject Name\n");
  Status s = server->for_each_certificate([&](const store::CertRecord& r) {
    const pki::SerialNumber serial{r.serial, r.serial_entropy};
    ctx.printf("{:<7} {:<24} {:<25} {}{}\n", serial.hex(), format_ios_time(r.not_before),
               format_ios_time(r.not_after), r.subject, r.revoked_at ? " (revoked)" : "");
    return true;
  });
  return s.ok() ? CmdResult{} : ctx.error(s.message());
}

// Certificate servers' CA certificates with the trustpoints' certificates: one listing,
// as on IOS, where a server's CA certificate is its trustpoint's.
CmdResult show_certificates(Context& ctx, const Args& a) {
  render_trustpoint_certificates(ctx, a.has("label") ? std::string(a.word("label")) : "");
  return {};
}

CmdResult export_pem(Context& ctx, const Args& a) {
  auto server = named_server(ctx, a);
  std::optional<pki::Certificate> cert;
  // `rollover`: the shadow CA certificate of a rollover (the guide's "Exporting a CA
  // Rollover Certificate").
  const bool rollover = a.has("rollover");
  if (server) cert = rollover ? server->rollover_certificate() : server->info().ca_certificate;
  if (!cert) {
    return ctx.error(fmt::format("Trustpoint {} has no {}CA certificate.", a.word("label"),
                                 rollover ? "rollover " : ""));
  }
  if (a.has("url")) {
    Status s = ctx.device().write_url(a.word("url"), cert->pem(), 0644);
    if (!s.ok()) return ctx.error(s.message());
    ctx.printf("% Exporting {}CA certificate to {}\n", rollover ? "rollover " : "", a.word("url"));
    return {};
  }
  ctx.print(rollover ? "% Rollover CA certificate:\n" : "% CA certificate:\n");
  ctx.print(cert->pem());
  return {};
}

}  // namespace

void register_cs_show_commands(CommandTable& t) {
  t.add(Node::kExec, "show crypto pki server [WORD$label]",
        {kShow, kCrypto, kPki, "Show IOS Certificate server status", kLabel}, show_server);
  t.add(Node::kExec, "show crypto pki server WORD$label requests",
        {kShow, kCrypto, kPki, "Show IOS Certificate server status", kLabel,
         "Enrollment request database"},
        show_requests);
  t.add(Node::kExec, "show crypto pki server WORD$label crl",
        {kShow, kCrypto, kPki, "Show IOS Certificate server status", kLabel,
         "Current certificate revocation list"},
        show_crl);
  t.add(Node::kExec, "show crypto pki server WORD$label publish",
        {kShow, kCrypto, kPki, "Show IOS Certificate server status", kLabel,
         "Copies waiting for remote publish locations"},
        show_publish);
  t.add(Node::kExec, "show crypto pki server WORD$label acme",
        {kShow, kCrypto, kPki, "Show IOS Certificate server status", kLabel,
         "ACME accounts, orders and pending authorizations"},
        show_acme);
  t.add(Node::kExec, "show crypto pki server WORD$label certificates",
        {kShow, kCrypto, kPki, "Show IOS Certificate server status", kLabel, "Issued certificates"},
        show_issued);
  t.add(Node::kExec, "crypto pki server WORD$label info requests",
        {kCrypto, kPki, kServer, kLabel, "Information", "Enrollment request database"},
        show_requests);
  t.add(Node::kExec, "crypto pki server WORD$label info crl",
        {kCrypto, kPki, kServer, kLabel, "Information", "Current certificate revocation list"},
        show_crl);
  t.add(Node::kExec, "show crypto pki certificates [WORD$label]",
        {kShow, kCrypto, kPki, "Show certificates", "Trustpoint name"}, show_certificates);
  t.add(Node::kConfig, "crypto pki export WORD$label pem terminal [rollover]",
        {kCrypto, kPki, "Export certificates or keys", "Trustpoint name", "PEM format",
         "Print at the terminal", "The rollover CA certificate"},
        export_pem);
  t.add(
      Node::kConfig, "crypto pki export WORD$label pem url WORD$url [rollover]",
      {kCrypto, kPki, "Export certificates or keys", "Trustpoint name", "PEM format",
       "Write to a file", "nvram:NAME, flash:NAME or a local path", "The rollover CA certificate"},
      export_pem);
}

}  // namespace scepter::cli
