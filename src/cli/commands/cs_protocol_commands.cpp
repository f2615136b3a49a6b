// The protocols a certificate server speaks besides SCEP, under `crypto pki server LABEL`
// (cs-server mode): `ocsp ...` (RFC 6960 at /ocsp on the HTTP server) and `est ...`
// (RFC 7030 under /.well-known/est/ on the HTTPS server). scepterd's own commands: IOS
// has neither. Their running-config lines: cs_server_config_writer.cpp.
#include <string>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/cs_commands.h"
#include "cli/context.h"
#include "pki/password_hash.h"

namespace scepter::cli {
namespace {

using ca::ServerConfig;

CmdResult ocsp(Context& ctx, const Args& a) {
  return edit_config(ctx, [&](ServerConfig& c) {
    c.ocsp = !a.has("no");
    return ok_status();
  });
}

CmdResult ocsp_url(Context& ctx, const Args& a) {
  if (incomplete(a, "url")) return ctx.error("Incomplete command.");
  return edit_config(ctx, [&](ServerConfig& c) -> Status {
    std::string url(a.line("url"));
    if (!a.has("no") && !url.starts_with("http://")) {
      // RFC 6960 appendix A: OCSP over HTTP; clients do not fetch it over HTTPS (the
      // response is signed, and a TLS check would need OCSP itself).
      return invalid_argument("The OCSP URL must be an HTTP URL (http://...).");
    }
    c.ocsp_url = a.has("no") ? "" : url;
    return ok_status();
  });
}

CmdResult ocsp_validity(Context& ctx, const Args& a) {
  if (incomplete(a, "hours")) return ctx.error("Incomplete command.");
  return edit_config(ctx, [&](ServerConfig& c) {
    c.ocsp_validity_hours =
        a.has("no") ? ca::kDefaultOcspValidityHours : static_cast<int>(a.integer("hours"));
    return ok_status();
  });
}

CmdResult ocsp_responder_key(Context& ctx, const Args& a) {
  return set_key_label(ctx, a, &ServerConfig::ocsp_responder_key);
}

CmdResult ocsp_nonce(Context& ctx, const Args& a) {
  return edit_config(ctx, [&](ServerConfig& c) {
    c.ocsp_nonce = !a.has("no");
    return ok_status();
  });
}

CmdResult est(Context& ctx, const Args& a) {
  return edit_config(ctx, [&](ServerConfig& c) {
    c.est = !a.has("no");
    return ok_status();
  });
}

CmdResult est_retry_after(Context& ctx, const Args& a) {
  if (incomplete(a, "seconds")) return ctx.error("Incomplete command.");
  return edit_config(ctx, [&](ServerConfig& c) {
    c.est_retry_after_seconds =
        a.has("no") ? ca::kDefaultEstRetryAfterSeconds : static_cast<int>(a.integer("seconds"));
    return ok_status();
  });
}

// `est user NAME secret [0|9] PASSWORD`: kept and written as type 9 (scrypt) only.
CmdResult est_user(Context& ctx, const Args& a) {
  const std::string name(a.word("name"));
  if (name.size() > 64 || name.find(':') != std::string::npos) {
    return ctx.error("An EST user name has at most 64 characters and no ':' (HTTP Basic).");
  }
  if (a.has("no")) {
    return edit_config(ctx, [&](ServerConfig& c) {
      c.est_users.erase(name);
      return ok_status();
    });
  }
  if (!a.has("pw")) return ctx.error("Incomplete command.");
  const std::string secret(a.word("pw"));
  std::string hashed;
  if (a.has("enc") && a.choice("enc") == "9") {
    if (!pki::is_type9(secret)) return ctx.error("Invalid type 9 secret.");
    hashed = secret;
  } else {
    auto made = pki::type9_hash(secret);
    if (!made.has_value()) return ctx.error(made.error().message());
    hashed = std::move(*made);
  }
  return edit_config(ctx, [&](ServerConfig& c) {
    c.est_users[name] = hashed;
    return ok_status();
  });
}

}  // namespace

void register_cs_protocol_commands(CommandTable& t) {
  constexpr std::string_view kOcsp = "OCSP responder at /ocsp on the HTTP server (default off)";
  t.add(Node::kCsServer, "[no] ocsp", {kNoHelp, kOcsp}, ocsp);
  t.add(Node::kCsServer, "[no] ocsp url [LINE$url]",
        {kNoHelp, kOcsp, "OCSP URL put in issued certificates (default http://HOST[:PORT]/ocsp)",
         "HTTP URL"},
        ocsp_url);
  t.add(Node::kCsServer, "[no] ocsp validity [(1-168)$hours]",
        {kNoHelp, kOcsp, "From a response's thisUpdate to its nextUpdate", "Hours (default 24)"},
        ocsp_validity);
  t.add(Node::kCsServer, "[no] ocsp responder-key [WORD$key]",
        {kNoHelp, kOcsp, "Key pair of a delegated responder (default: the CA key signs)",
         "Key label (generated at no shutdown if it does not exist)"},
        ocsp_responder_key);
  t.add(Node::kCsServer, "[no] ocsp nonce",
        {kNoHelp, kOcsp, "Echo request nonces in responses signed for them (default on)"},
        ocsp_nonce);
  constexpr std::string_view kEst =
      "EST (RFC 7030) at /.well-known/est/LABEL/ on the HTTP secure server (default off)";
  t.add(Node::kCsServer, "[no] est", {kNoHelp, kEst}, est);
  t.add(Node::kCsServer, "[no] est retry-after [(10-86400)$seconds]",
        {kNoHelp, kEst, "When clients ask again about a request waiting for the operator",
         "Seconds (default 60)"},
        est_retry_after);
  t.add(Node::kCsServer, "[no] est user WORD$name [secret [<0|9>$enc] WORD$pw]",
        {kNoHelp, kEst, "HTTP Basic account that may send EST requests", "User name",
         "The account's password", "The password follows in clear text (kept as type 9)",
         "The password follows as a type 9 (scrypt) secret", "The password"},
        est_user);
}

}  // namespace scepter::cli
