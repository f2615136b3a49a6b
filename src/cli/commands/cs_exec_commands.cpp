// Exec commands of a certificate server: crypto pki server LABEL grant|reject|remove|
// revoke|unrevoke|request pkcs10|password generate|rollover [cancel].
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/cs_commands.h"
#include "cli/context.h"
#include "cli/questions.h"
#include "common/fs.h"
#include "pki/crl.h"
#include "pki/encoding.h"

namespace scepter::cli {
namespace {

using namespace cs_help;

std::shared_ptr<ca::CertificateServer> find_server(Context& ctx, const Args& a) {
  return ctx.device().server(std::string(a.word("label")));
}

#define REQUIRE_SERVER(server)                                                               \
  auto server = find_server(ctx, a);                                                         \
  if (!server) {                                                                             \
    return ctx.error(fmt::format("Certificate server {} does not exist.", a.word("label"))); \
  }

std::optional<store::RequestId> request_id(const Args& a) {
  if (a.has("all")) return std::nullopt;
  return static_cast<store::RequestId>(a.integer("id"));
}

std::string format_certificate(const pki::Certificate& cert, bool pem) {
  return pem ? cert.pem() : pki::base64_encode(cert.der());
}

CmdResult grant(Context& ctx, const Args& a) {
  REQUIRE_SERVER(server);
  auto issued = server->grant(request_id(a));
  if (!issued.has_value()) return ctx.error(issued.error().message());
  if (ca::is_ra_mode(server->config())) {
    // The issuing CA decides now: what it granted at once is shown below; the rest is
    // "authorized" in `info requests` until it answers.
    ctx.print("% Granted requests are forwarded to the issuing CA.\n");
  }
  for (const auto& i : *issued) {
    // The seed: a manually submitted request's certificate is displayed when granted.
    if (i.source == ca::RequestSource::kScep) continue;
    ctx.printf("% Granted certificate for request {}:\n", i.request_id);
    ctx.print(format_certificate(i.certificate, i.source == ca::RequestSource::kManualPem));
  }
  return {};
}

CmdResult reject(Context& ctx, const Args& a) {
  REQUIRE_SERVER(server);
  Status s = server->reject(request_id(a));
  return s.ok() ? CmdResult{} : ctx.error(s.message());
}

CmdResult remove(Context& ctx, const Args& a) {
  REQUIRE_SERVER(server);
  Status s = server->remove(request_id(a));
  return s.ok() ? CmdResult{} : ctx.error(s.message());
}

// `revoke` and `unrevoke` differ in the server call and in the refusal when the
// certificate already is as asked: `already` is its code, `already_text` ends the message.
CmdResult change_revocation(
    Context& ctx, const Args& a,
    const std::function<Status(ca::CertificateServer&, const pki::SerialNumber&)>& op, Code already,
    std::string_view already_text) {
  REQUIRE_SERVER(server);
  auto serial = pki::SerialNumber::parse(a.word("serial"));
  if (!serial) return ctx.invalid_input(a, "serial");
  Status s = op(*server, *serial);
  if (s.code() == Code::kNotFound) {
    return ctx.error(fmt::format(
        "Certificate with serial number 0x{} was not issued by this server.", serial->hex()));
  }
  if (s.code() == already) {
    return ctx.error(
        fmt::format("Certificate with serial number 0x{} {}.", serial->hex(), already_text));
  }
  return s.ok() ? CmdResult{} : ctx.error(s.message());
}

// The RFC 5280 CRLReasons `revoke ... reason` offers, by code. The keyword is the RFC's
// name (pki::crl_reason_name) in lower case, as keywords are; matching ignores case, so
// `keyCompromise` works as the RFC spells it. removeFromCRL, which only delta CRLs carry,
// is left out.
struct ReasonKeyword {
  int code;
  std::string_view help;
};
constexpr ReasonKeyword kReasonKeywords[] = {
    {0, "Reason not given (the CRL entry carries none)"},
    {1, "The certificate's private key was compromised"},
    {2, "The key of a CA in the certificate's chain was compromised"},
    {3, "The subject's name or other information changed"},
    {4, "The certificate was replaced"},
    {5, "The certificate is no longer needed"},
    {6, "The certificate is on hold"},
    {9, "A privilege granted by the certificate was withdrawn"},
    {10, "The attribute authority was compromised"},
};

std::string reason_keyword(int code) {
  std::string keyword = pki::crl_reason_name(code);
  for (char& c : keyword) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return keyword;
}

// The code of the keyword matched by `reason <...>$crl_reason`; nullopt without one.
std::optional<int> reason_code(const Args& a) {
  const std::string_view keyword = a.choice("crl_reason");
  if (keyword.empty()) return std::nullopt;
  return pki::crl_entry_reason_by_name(keyword);
}

CmdResult revoke(Context& ctx, const Args& a) {
  const std::optional<int> reason = reason_code(a);
  return change_revocation(
      ctx, a,
      [reason](ca::CertificateServer& server, const pki::SerialNumber& serial) {
        return server.revoke(serial, reason);
      },
      Code::kAlreadyExists, "is already revoked");
}

CmdResult unrevoke(Context& ctx, const Args& a) {
  return change_revocation(
      ctx, a,
      [](ca::CertificateServer& server, const pki::SerialNumber& serial) {
        return server.unrevoke(serial);
      },
      Code::kInvalidArgument, "is not revoked");
}

CmdResult submit_text(Context& ctx, std::shared_ptr<ca::CertificateServer> server,
                      std::string_view text, bool pem_out, bool rollover = false) {
  auto der = pki::decode_any(text, "CERTIFICATE REQUEST");
  if (!der.has_value()) {
    return ctx.error("Invalid PKCS10 request: " + der.error().message());
  }
  auto out = server->submit(
      *der, pem_out ? ca::RequestSource::kManualPem : ca::RequestSource::kManualBase64, rollover);
  if (!out.has_value()) return ctx.error(out.error().message());
  if (out->certificate) {
    ctx.printf("% Granted certificate:\n");
    ctx.print(format_certificate(*out->certificate, pem_out));
  } else {
    ctx.printf("% Enrollment request pending, reqId={}\n", out->request.id);
  }
  return {};
}

CmdResult request_pkcs10(Context& ctx, const Args& a) {
  REQUIRE_SERVER(server);
  const bool pem_out = a.choice("format") == "pem";
  if (a.has("url")) {
    auto text = ctx.device().read_url(a.word("url"));
    if (!text.has_value()) return ctx.error(text.error().message());
    return submit_text(ctx, server, *text, pem_out);
  }
  ctx.print("% Enter Base64 encoded or PEM formatted PKCS10 enrollment request.\n");
  return ask_paste(ctx, {}, [server, pem_out](Context& c, std::string text) {
    return submit_text(c, server, text, pem_out);
  });
}

// The guide's "Requesting a Certificate Server Client Rollover Certificate": the request
// is certified under the rollover CA certificate, from the moment it takes over.
CmdResult rollover_request(Context& ctx, const Args& a) {
  REQUIRE_SERVER(server);
  if (!server->rollover_certificate()) {
    return ctx.error(fmt::format(
        "Certificate server {} has no rollover CA certificate (crypto pki server {} rollover "
        "makes one).",
        server->label(), server->label()));
  }
  const bool pem_out = a.choice("format") == "pem";
  ctx.print("% Enter Base64 encoded or PEM formatted PKCS10 enrollment request.\n");
  return ask_paste(ctx, {}, [server, pem_out](Context& c, std::string text) {
    return submit_text(c, server, text, pem_out, /*rollover=*/true);
  });
}

CmdResult password_generate(Context& ctx, const Args& a) {
  REQUIRE_SERVER(server);
  const int minutes = static_cast<int>(a.integer("minutes", 60));
  auto otp = server->generate_password(minutes);
  if (!otp.has_value()) return ctx.error(otp.error().message());
  ctx.printf("% New one-time enrollment password: {}\n", otp->password);
  ctx.printf("% It is valid for {} minutes (until {}) and replaces any previous one.\n", minutes,
             format_ios_time(otp->expires));
  return {};
}

CmdResult rollover_started(Context& ctx, ca::CertificateServer& server, Status s) {
  if (!s.ok()) return ctx.error(s.message());
  auto cert = server.rollover_certificate();
  if (!cert && server.config().mode != ca::ServerMode::kRoot) {
    // A subordinate CA or an RA: its superior decides.
    ctx.print(
        "% Rollover certificate requested from the superior CA: it is installed when the CA "
        "grants it.\n");
    return {};
  }
  if (!cert) return ctx.error("The rollover CA certificate was cancelled meanwhile.");
  ctx.printf("% Rollover CA certificate generated: fingerprint {}\n",
             pki::ios_fingerprint(cert->md5_fingerprint()));
  ctx.printf("% It becomes the CA certificate at {}, when the current one expires.\n",
             format_ios_time(cert->not_before()));
  return {};
}

// `crypto pki server X rollover`: stage two now. The shadow key is archived like the CA
// key: without a configured archive password, it is asked for, as at the first
// `no shutdown`.
CmdResult rollover(Context& ctx, const Args& a) {
  REQUIRE_SERVER(server);
  const ca::ServerConfig cfg = server->config();
  if (cfg.archive_enabled && cfg.archive_password.empty() && !ca::is_ra_mode(cfg) &&
      server->state() == ca::ServerState::kEnabled && !server->rollover_certificate()) {
    ctx.print(
        "% The rollover CA key will be archived: enter the password that protects the archive.\n");
    PasswordQuestion q;
    return ask_password(ctx, q, [server](Context& c, std::string password) {
      return rollover_started(c, *server, server->start_rollover(password));
    });
  }
  return rollover_started(ctx, *server, server->start_rollover());
}

CmdResult rollover_cancel(Context& ctx, const Args& a) {
  REQUIRE_SERVER(server);
  Status s = server->cancel_rollover();
  if (!s.ok()) return ctx.error(s.message());
  ctx.print("% Rollover CA certificate and keys deleted.\n");
  return {};
}

}  // namespace

void register_cs_exec_commands(CommandTable& t) {
  const std::string_view kId = "Request ID";
  for (auto [verb, help, fn] : {std::tuple{"grant", "Grant enrollment requests", &grant},
                                std::tuple{"reject", "Reject enrollment requests", &reject},
                                std::tuple{"remove", "Remove enrollment requests", &remove}}) {
    t.add(Node::kExec, fmt::format("crypto pki server WORD$label {} all", verb),
          {kCrypto, kPki, kServer, kLabel, help, "All pending requests"}, fn);
    t.add(Node::kExec, fmt::format("crypto pki server WORD$label {} (1-2147483647)$id", verb),
          {kCrypto, kPki, kServer, kLabel, help, kId}, fn);
  }
  // revoke SERIAL [reason KEYWORD]: one keyword, and one help line, per CRLReason.
  const std::string_view kSerial = "Serial number: 0x<hex>, 0<octal> or decimal";
  const std::string_view kReason = "Why it is revoked (RFC 5280 CRLReason)";
  std::vector<std::string_view> revoke_helps = {
      kCrypto, kPki, kServer, kLabel, "Revoke a certificate", kSerial, kReason};
  std::string reasons;
  for (const ReasonKeyword& r : kReasonKeywords) {
    reasons += (reasons.empty() ? "" : "|") + reason_keyword(r.code);
    revoke_helps.push_back(r.help);
  }
  t.add(Node::kExec,
        fmt::format("crypto pki server WORD$label revoke WORD$serial [reason <{}>$crl_reason]",
                    reasons),
        revoke_helps, revoke);
  t.add(Node::kExec, "crypto pki server WORD$label unrevoke WORD$serial",
        {kCrypto, kPki, kServer, kLabel, "Unrevoke a certificate", kSerial}, unrevoke);
  t.add(Node::kExec, "crypto pki server WORD$label request pkcs10 terminal [<base64|pem>$format]",
        {kCrypto, kPki, kServer, kLabel, "Manual enrollment", "PKCS#10 request",
         "Paste the request at the terminal", "Show the granted certificate in base64",
         "Show the granted certificate in PEM"},
        request_pkcs10);
  t.add(Node::kExec,
        "crypto pki server WORD$label request pkcs10 url WORD$url [<base64|pem>$format]",
        {kCrypto, kPki, kServer, kLabel, "Manual enrollment", "PKCS#10 request",
         "Read the request from a file", "nvram:NAME, flash:NAME, a local path or a remote URL",
         "Show the granted certificate in base64", "Show the granted certificate in PEM"},
        request_pkcs10);
  // IOS also takes the URL without the `url` keyword.
  t.add(Node::kExec, "crypto pki server WORD$label request pkcs10 WORD$url [<base64|pem>$format]",
        {kCrypto, kPki, kServer, kLabel, "Manual enrollment", "PKCS#10 request",
         "nvram:NAME, flash:NAME, a local path or a remote URL",
         "Show the granted certificate in base64", "Show the granted certificate in PEM"},
        request_pkcs10);
  for (Node node : {Node::kExec, Node::kConfig}) {
    // The guide shows both prompts for these.
    t.add(node, "crypto pki server WORD$label rollover",
          {kCrypto, kPki, kServer, kLabel, "Start the CA certificate rollover now"}, rollover);
    t.add(node, "crypto pki server WORD$label rollover cancel",
          {kCrypto, kPki, kServer, kLabel, "CA certificate rollover",
           "Delete the rollover CA certificate and keys"},
          rollover_cancel);
    t.add(node,
          "crypto pki server WORD$label rollover request pkcs10 terminal [<base64|pem>$format]",
          {kCrypto, kPki, kServer, kLabel, "CA certificate rollover",
           "Client rollover certificate request", "PKCS#10 request",
           "Paste the request at the terminal", "Show the granted certificate in base64",
           "Show the granted certificate in PEM"},
          rollover_request);
  }
  t.add(Node::kExec, "crypto pki server WORD$label password generate [(1-1440)$minutes]",
        {kCrypto, kPki, kServer, kLabel, "One-time enrollment password", "Generate a new password",
         "Minutes it stays valid (default 60)"},
        password_generate);
}

}  // namespace scepter::cli
