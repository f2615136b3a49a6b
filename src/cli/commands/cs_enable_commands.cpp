// `shutdown` and `no shutdown` in cs-server mode: enabling a certificate server with the
// IOS dialogues — the confirmation and archive passphrase of a root, and for a
// subordinate CA or an RA the superior's certificate to accept and the request to it.
#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/cs_commands.h"
#include "cli/commands/more_commands.h"
#include "cli/context.h"
#include "cli/questions.h"
#include "common/log.h"
#include "pki/name.h"

namespace scepter::cli {
namespace {

CmdResult shutdown_server(Context& ctx, const Args&) {
  auto server = current_server(ctx);
  if (!server) return ctx.error("The certificate server no longer exists.");
  server->shutdown();
  return {};
}

// `scep encryption-key`: what enabling made for it.
void print_encryption(Context& ctx, const ca::EnableReport& r) {
  if (r.generated_encryption_key_bits != 0) {
    ctx.printf("% Generating {} bit RSA keys for SCEP encryption, keys will be {}...[OK]\n",
               r.generated_encryption_key_bits,
               r.encryption_key_on_token.empty() ? "non-exportable" : "on-token, non-exportable");
  }
  if (!r.issued_encryption_serial.empty()) {
    ctx.printf("% SCEP encryption certificate issued (serial 0x{}).\n", r.issued_encryption_serial);
  }
}

CmdResult print_enable(Context& ctx, const Result<ca::EnableReport>& r, bool exporting_printed) {
  if (!r.has_value()) return ctx.error(r.error().message());
  if (r->generated_key) {
    ctx.printf("% Generating {} bit RSA keys, keys will be {}...[OK]\n", r->key_bits,
               r->key_on_token.empty() ? "non-exportable" : "on-token, non-exportable");
  }
  if (r->archived && !exporting_printed) {
    ctx.print(r->key_on_token.empty()
                  ? "% Exporting Certificate Server signing certificate and keys...\n"
                  : "% Exporting Certificate Server signing certificate...\n");
  }
  if (r->generated_ca && r->archived && !r->key_on_token.empty()) {
    ctx.printf(
        "% The CA key is on token {} and never leaves it: the archive holds the CA "
        "certificate only.\n",
        r->key_on_token);
  }
  if (r->generated_ca && !r->archived && !r->archive_skipped_reason.empty() &&
      r->archive_skipped_reason != "archive disabled") {
    ctx.printf("% The CA key was not archived: {}.\n", r->archive_skipped_reason);
  }
  print_encryption(ctx, *r);
  ctx.print("% Certificate Server enabled.\n");
  if (!ctx.device().http().server) ctx.print(kHttpOffNote);
  return {};
}

// The archive passphrase, typed twice as IOS asks; Return at the first prompt gives up.
PasswordQuestion archive_passphrase_question() {
  PasswordQuestion q;
  q.min_length = 8;
  q.max_length = 200;
  q.length_message = "% The passphrase must be {min} to {max} characters long.";
  return q;
}

// mode sub-cs and mode ra: enables with the certificate from the superior (a CA
// certificate, or the RA's), or asks for it and says that the server waits.
CmdResult enable_subordinate(Context& ctx, const std::shared_ptr<ca::CertificateServer>& server,
                             const std::string& archive_password) {
  const auto before = ctx.device().enrollment().state(server->label());
  const bool was_pending = before && before->pending;
  auto r =
      server->enable({.archive_password = archive_password, .request_superior = ctx.interactive()});
  if (r.has_value()) {
    if (r->archived) ctx.print("% Exporting Certificate Server signing certificate and keys...\n");
    print_encryption(ctx, *r);
    ctx.print("% Certificate Server enabled.\n");
    if (!ctx.device().http().server) ctx.print(kHttpOffNote);
    return {};
  }
  if (server->state() == ca::ServerState::kWaitingForSuperior) {
    if (!was_pending) ctx.print("% Certificate request sent to Certificate Authority\n");
    ctx.printf("% Enrollment in progress... {}\n", r.error().message());
    return {};
  }
  return ctx.error(r.error().message());
}

// The checks and the dialogue with the superior that follow the passphrase.
CmdResult subordinate_dialogue(Context& ctx, const std::shared_ptr<ca::CertificateServer>& server,
                               const std::string& archive_password) {
  const ca::ServerConfig cfg = server->config();
  const std::string label = server->label();
  if (ca::is_ra_mode(cfg) && !server->has_ca_certificate()) {
    // Said before the operator is asked anything: the RA's request must name its role.
    std::optional<ca::TrustpointConfig> tp = ctx.device().trustpoint(label);
    auto dn = tp ? ca::enrollment_subject(*tp, {}, ctx.device().fqdn())
                 : Result<std::string>(fail(not_found("Trustpoint " + label + " does not exist.")));
    if (!dn.has_value()) return ctx.error(dn.error().message());
    auto name = pki::parse_dn(*dn);
    if (!name.has_value()) return ctx.error(name.error().message());
    if (Status s = ca::check_ra_subject(name->get(), label); !s.ok()) {
      return ctx.error(s.message());
    }
  }
  auto state = ctx.device().enrollment().state(label);
  if (server->has_ca_certificate() || (state && state->ca) || !ctx.interactive()) {
    return enable_subordinate(ctx, server, archive_password);
  }
  std::optional<ca::TrustpointConfig> tp = ctx.device().trustpoint(label);
  if (!tp) return ctx.error(fmt::format("Trustpoint {} no longer exists.", label));
  log::trace(log::Category::kPkiServer, "CRYPTO_CS: authenticating the CA '{}'", label);
  auto fetched = ctx.device().enrollment().fetch_ca(*tp, label);
  if (!fetched.has_value()) {
    ctx.printf("% {}\n", fetched.error().message());
    return ctx.error("Failed to authenticate the Certificate Authority");
  }
  auto shared = std::make_shared<const ca::TrustpointClient::Fetched>(std::move(*fetched));
  print_ca_fingerprints(ctx, shared->certificates.root());
  return confirm(
      ctx, "% Do you accept this certificate?",
      [server, shared, archive_password](Context& c) -> CmdResult {
        Status s = c.device().enrollment().accept_ca(server->label(), *shared);
        if (!s.ok()) return c.error(s.message());
        c.print("Trustpoint CA certificate accepted.\n");
        return enable_subordinate(c, server, archive_password);
      },
      [](Context& c) -> CmdResult {
        return c.error("Certificate not accepted by user. The server stays disabled.");
      });
}

CmdResult no_shutdown_subordinate(Context& ctx,
                                  const std::shared_ptr<ca::CertificateServer>& server) {
  if (server->has_ca_certificate() || !server->needs_archive_password()) {
    return subordinate_dialogue(ctx, server, {});
  }
  if (!ctx.interactive()) {
    return ctx.error(
        "The CA key archive needs a password: enter \"no shutdown\" on the console to give "
        "it, or configure \"database archive pkcs12 password PASSWORD\" (or \"no database "
        "archive\").");
  }
  // As IOS asks, before the key is generated. The superior grants later: the server
  // keeps the passphrase in memory until then, and asks again after a restart.
  ctx.print(
      "%Some server settings cannot be changed after CA certificate generation.\n"
      "% Please enter a passphrase to protect the private key\n"
      "% or type Return to exit\n");
  return ask_password(
      ctx, archive_passphrase_question(),
      [server](Context& c, std::string pw) -> CmdResult {
        return subordinate_dialogue(c, server, pw);
      },
      [](Context& c) -> CmdResult { return c.error("Aborted."); });
}

CmdResult no_shutdown(Context& ctx, const Args&) {
  auto server = current_server(ctx);
  if (!server) return ctx.error("The certificate server no longer exists.");
  // A second `no shutdown` once enabled (the seed's RA task has one) changes nothing.
  if (server->state() == ca::ServerState::kEnabled) return {};
  if (server->config().mode == ca::ServerMode::kSubCs || ca::is_ra_mode(server->config())) {
    return no_shutdown_subordinate(ctx, server);
  }
  if (!ctx.interactive() || server->has_ca_certificate()) {
    return print_enable(ctx, server->enable({}), false);
  }
  ctx.print(
      "% Ready to generate the CA certificate.\n"
      "% Some server settings cannot be changed after CA certificate generation.\n");
  return confirm(ctx, "Are you sure you want to do this?", [server](Context& c) -> CmdResult {
    if (!server->needs_archive_password()) return print_enable(c, server->enable({}), false);
    c.print(
        "% Exporting Certificate Server signing certificate and keys...\n"
        "% Please enter a passphrase to protect the private key.\n");
    return ask_password(
        c, archive_passphrase_question(),
        [server](Context& c2, std::string pw) -> CmdResult {
          return print_enable(c2, server->enable({.archive_password = pw}), true);
        },
        [](Context& c2) -> CmdResult { return c2.error("Aborted."); });
  });
}
}  // namespace

void register_cs_enable_commands(CommandTable& t) {
  t.add(Node::kCsServer, "shutdown", {"Shut down the certificate server"}, shutdown_server);
  t.add(Node::kCsServer, "no shutdown", {kNoHelp, "Enable the certificate server"}, no_shutdown);
}

}  // namespace scepter::cli
