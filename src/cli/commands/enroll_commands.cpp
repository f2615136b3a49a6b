// crypto pki authenticate NAME, crypto pki enroll NAME (and its no form), and the
// trustpoint part of show crypto pki certificates: scepterd as a SCEP client of a CA,
// with the dialogues of an IOS router.
#include <arpa/inet.h>

#include <memory>
#include <string>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/more_commands.h"
#include "cli/context.h"
#include "cli/questions.h"
#include "common/clock.h"
#include "pki/digest.h"
#include "pki/name.h"

namespace scepter::cli {
namespace {

using ca::EnrollOptions;
using ca::TrustpointClient;
using ca::TrustpointConfig;

constexpr std::string_view kCrypto = "Encryption module";
constexpr std::string_view kPki = "Public Key components";

CmdResult authenticate(Context& ctx, const Args& a) {
  const std::string name(a.word("name"));
  std::optional<TrustpointConfig> tp = ctx.device().trustpoint(name);
  if (!tp) return ctx.error(fmt::format("Trustpoint {} does not exist.", name));
  auto fetched = ctx.device().enrollment().fetch_ca(*tp, name);
  if (!fetched.has_value()) {
    if (tp->enrollment_url.empty()) return ctx.error(fetched.error().message());
    ctx.printf("% Error in receiving Certificate Authority certificate: {}\n",
               fetched.error().message());
    return ctx.error("Failed to authenticate the Certificate Authority");
  }
  auto shared = std::make_shared<const TrustpointClient::Fetched>(std::move(*fetched));
  const ca::UpstreamCertificates& certs = shared->certificates;
  if (certs.ca_chain.size() > 1) {
    ctx.printf("% The CA sent a chain of {} CA certificates; the root is:\n",
               certs.ca_chain.size());
  }
  print_ca_fingerprints(ctx, certs.root());
  return confirm(
      ctx, "% Do you accept this certificate?",
      [name, shared](Context& c) -> CmdResult {
        Status s = c.device().enrollment().accept_ca(name, *shared);
        if (!s.ok()) return c.error(s.message());
        c.print("Trustpoint CA certificate accepted.\n");
        if (shared->certificates.ra_signer || shared->certificates.ra_encrypter) {
          c.print(
              "% The CA is fronted by a Registration Authority; its certificate was "
              "accepted with the CA's.\n");
        }
        return CmdResult();
      },
      [](Context& c) -> CmdResult { return c.error("Certificate not accepted by user."); });
}

// What the enroll dialogue has gathered so far.
struct EnrollAnswers {
  std::string name;
  EnrollOptions options;
};
using Answers = std::shared_ptr<EnrollAnswers>;

CmdResult send_request(Context& ctx, const Answers& ans) {
  std::optional<TrustpointConfig> tp = ctx.device().trustpoint(ans->name);
  if (!tp) return ctx.error(fmt::format("Trustpoint {} no longer exists.", ans->name));
  auto result = ctx.device().enrollment().enroll(*tp, ans->options, ctx.device().fqdn());
  if (!result.has_value()) return ctx.error(result.error().message());
  ctx.print("% Certificate request sent to Certificate Authority\n");
  ctx.printf("% The 'show crypto pki certificates {}' command will show the fingerprint.\n",
             ans->name);
  if (result->encryption_fingerprint_md5.empty()) {
    ctx.printf("% Certificate Request Fingerprint MD5: {}\n",
               pki::ios_fingerprint(result->fingerprint_md5));
    ctx.printf("% Certificate Request Fingerprint SHA1: {}\n",
               pki::ios_fingerprint(result->fingerprint_sha1));
  } else {
    // Usage keys: one request per key, as IOS prints them.
    ctx.printf("% Signing Certificate Request Fingerprint MD5: {}\n",
               pki::ios_fingerprint(result->fingerprint_md5));
    ctx.printf("% Signing Certificate Request Fingerprint SHA1: {}\n",
               pki::ios_fingerprint(result->fingerprint_sha1));
    ctx.printf("% Encryption Certificate Request Fingerprint MD5: {}\n",
               pki::ios_fingerprint(result->encryption_fingerprint_md5));
    ctx.printf("% Encryption Certificate Request Fingerprint SHA1: {}\n",
               pki::ios_fingerprint(result->encryption_fingerprint_sha1));
  }
  switch (result->status) {
    case ca::UpstreamReply::Status::kSuccess:
      ctx.print("%PKI-6-CERTRET: Certificate received from Certificate Authority\n");
      break;
    case ca::UpstreamReply::Status::kPending:
      if (!result->error.empty()) {
        ctx.printf("% The CA could not be reached ({}); the request will be sent again.\n",
                   result->error);
      } else {
        ctx.print("% Enrollment in progress...\n");
      }
      break;
    case ca::UpstreamReply::Status::kFailure:
      return ctx.error(fmt::format("Certificate enrollment failed: {}", result->error));
  }
  return CmdResult();
}

CmdResult ask_request(Context& ctx, const Answers& ans) {
  return confirm(ctx, "Request certificate from CA?",
                 [ans](Context& c) { return send_request(c, ans); });
}

CmdResult ask_ip(Context& ctx, const Answers& ans) {
  return confirm_or(
      ctx, "% Include an IP address in the subject name?", false,
      [ans](Context& c) -> CmdResult {
        Question q;
        q.prompt = "Enter IP Address[]: ";
        q.on_answer = [ans](Context& c2, std::string_view answer) -> CmdResult {
          std::string ip(answer);
          while (!ip.empty() && ip.back() == ' ') ip.pop_back();
          while (!ip.empty() && ip.front() == ' ') ip.erase(0, 1);
          in_addr a4{};
          in6_addr a6{};
          if (inet_pton(AF_INET, ip.c_str(), &a4) != 1 &&
              inet_pton(AF_INET6, ip.c_str(), &a6) != 1) {
            return c2.error(fmt::format("{} is not an IP address; enrollment aborted.", ip));
          }
          ans->options.ip_address = ip;
          return ask_request(c2, ans);
        };
        c.ask(std::move(q));
        return CmdResult();
      },
      [ans](Context& c) { return ask_request(c, ans); });
}

CmdResult ask_subject(Context& ctx, const Answers& ans) {
  std::optional<TrustpointConfig> tp = ctx.device().trustpoint(ans->name);
  if (!tp) return ctx.error(fmt::format("Trustpoint {} no longer exists.", ans->name));
  if (!tp->subject_name.empty()) {
    ctx.printf("% The subject name in the certificate will include: {}\n", tp->subject_name);
  }
  ctx.printf("% The subject name in the certificate will include: {}\n", ctx.device().fqdn());
  return confirm(
      ctx, "% Include the router serial number in the subject name?",
      [ans](Context& c) {
        ans->options.include_serial = true;
        return ask_ip(c, ans);
      },
      [ans](Context& c) { return ask_ip(c, ans); });
}

CmdResult enroll(Context& ctx, const Args& a) {
  auto ans = std::make_shared<EnrollAnswers>();
  ans->name = std::string(a.word("name"));
  std::optional<TrustpointConfig> tp = ctx.device().trustpoint(ans->name);
  if (!tp) return ctx.error(fmt::format("Trustpoint {} does not exist.", ans->name));
  if (ctx.device().server(ans->name)) {
    return ctx.error(fmt::format(
        "Trustpoint {0} belongs to certificate server {0}, which enrols by itself (mode "
        "sub-cs or mode ra).",
        ans->name));
  }
  auto state = ctx.device().enrollment().state(ans->name);
  if (!state || !state->ca) {
    return ctx.error(fmt::format(
        "You must authenticate the Certificate Authority before you can enroll with it (crypto "
        "pki authenticate {}).",
        ans->name));
  }
  if (state->pending) {
    return ctx.error(fmt::format(
        "A certificate request for trustpoint {} is already waiting for the CA (no crypto pki "
        "enroll {} cancels it).",
        ans->name, ans->name));
  }
  auto after_password = [ans](Context& c, std::string pw) {
    ans->options.challenge_password = std::move(pw);
    c.print("\n");
    return ask_subject(c, ans);
  };
  if (state->certificate) {
    ctx.print(
        "% You already have a certificate from this CA; enrolling again replaces it when "
        "the new one arrives.\n");
  }
  ctx.print("%\n% Start certificate enrollment ..\n");
  ctx.print(
      "% Create a challenge password. You will need to verbally provide this\n"
      "   password to the CA Administrator in order to revoke your certificate.\n"
      "   For security reasons your password will not be saved in the configuration.\n"
      "   Please make a note of it.\n\n");
  PasswordQuestion q;
  q.empty_cancels = false;
  return ask_password(ctx, q, after_password);
}

CmdResult cancel_enroll(Context& ctx, const Args& a) {
  const std::string name(a.word("name"));
  Status s = ctx.device().enrollment().cancel(name);
  if (!s.ok()) return ctx.error(s.message());
  ctx.printf("% Enrollment request for trustpoint {} cancelled.\n", name);
  return {};
}

}  // namespace

void print_ca_fingerprints(Context& ctx, const pki::Certificate& cert) {
  ctx.print("Certificate has the following attributes:\n");
  ctx.printf("  Fingerprint MD5: {}\n", pki::ios_fingerprint(cert.md5_fingerprint()));
  ctx.printf("  Fingerprint SHA1: {}\n", pki::ios_fingerprint(cert.sha1_fingerprint()));
}

void render_trustpoint_certificates(Context& ctx, const std::string& only) {
  for (const TrustpointConfig& tp : ctx.device().trustpoints()) {
    if (!only.empty() && tp.name != only) continue;
    auto state = ctx.device().enrollment().state(tp.name);
    if (!state) continue;
    auto block = [&](std::string_view title, const pki::Certificate& cert, std::string_view usage) {
      const std::string serial = even_hex(cert.serial_hex());
      const bool revoked = state->revoked_at && state->certificate && cert == *state->certificate;
      ctx.printf("{}\n  Status: {}\n", title, revoked ? "Revoked" : "Available");
      ctx.printf("  Certificate Serial Number (hex): {}\n", serial);
      ctx.printf("  Certificate Usage: {}\n", usage);
      ctx.printf("  Issuer: \n    {}\n", pki::format_dn_ios(cert.issuer()));
      ctx.printf("  Subject: \n    {}\n", pki::format_dn_ios(cert.subject()));
      ctx.printf("  Validity Date: \n    start date: {}\n    end   date: {}\n",
                 format_ios_time(cert.not_before()), format_ios_time(cert.not_after()));
      ctx.printf("  Associated Trustpoints: {} \n\n", tp.name);
    };
    // Usage keys have a certificate (and a request) per key.
    const bool usage_keys = state->encryption_certificate.has_value() ||
                            (state->pending && state->pending->parts.size() > 1);
    if (state->pending) {
      for (const auto& part : state->pending->parts) {
        ctx.printf(
            "Certificate\n  Status: Pending\n  Key Usage: {}\n",
            !usage_keys ? "General Purpose" : (part.encryption ? "Encryption" : "Signature"));
        ctx.printf("  Certificate Request Fingerprint MD5: {}\n",
                   pki::ios_fingerprint(part.fingerprint_md5));
        ctx.printf("  Associated Trustpoint: {}\n\n", tp.name);
      }
    }
    // A certificate server's own certificate says what it is, as on IOS; so does a
    // rollover certificate (the next one, held until it takes over).
    std::string kind;
    if (auto server = ctx.device().server(tp.name)) {
      const ca::ServerConfig cfg = server->config();
      if (cfg.mode == ca::ServerMode::kSubCs) kind = "subordinate CA certificate";
      if (ca::is_ra_mode(cfg)) kind = "RA mode CS certificate";
    }
    auto title = [&kind](bool rollover) -> std::string {
      if (kind.empty()) return rollover ? "Certificate (Rollover)" : "Certificate";
      return fmt::format("Certificate ({}{})", kind, rollover ? ", Rollover" : "");
    };
    if (state->certificate) {
      block(title(false), *state->certificate, usage_keys ? "Signature" : "General Purpose");
    }
    if (state->encryption_certificate) {
      block(title(false), *state->encryption_certificate, "Encryption");
    }
    if (state->rollover_certificate) {
      block(title(true), *state->rollover_certificate,
            usage_keys ? "Signature" : "General Purpose");
    }
    if (state->rollover_encryption_certificate) {
      block(title(true), *state->rollover_encryption_certificate, "Encryption");
    }
    if (state->ca) {
      const ca::UpstreamCertificates& ca = *state->ca;
      if (ca.ra_signer && ca.ra_encrypter && *ca.ra_signer == *ca.ra_encrypter) {
        block("RA Certificate", *ca.ra_signer, "General Purpose");
      } else {
        if (ca.ra_signer) block("RA Certificate", *ca.ra_signer, "Signature");
        if (ca.ra_encrypter) block("RA Certificate", *ca.ra_encrypter, "Encryption");
      }
      for (const pki::Certificate& c : ca.ca_chain) block("CA Certificate", c, "Signature");
    }
    if (state->next_ca) {
      for (const pki::Certificate& c : state->next_ca->ca_chain) {
        block("CA Certificate (Rollover)", c, "Signature");
      }
    }
  }
}

void register_enroll_commands(CommandTable& t) {
  t.add(Node::kConfig, "crypto pki authenticate WORD$name",
        {kCrypto, kPki, "Get the certification authority certificate", "Trustpoint name"},
        authenticate);
  t.add(Node::kConfig, "crypto pki enroll WORD$name",
        {kCrypto, kPki, "Request a certificate from a certification authority", "Trustpoint name"},
        enroll);
  t.add(Node::kConfig, "no crypto pki enroll WORD$name",
        {kNoHelp, kCrypto, kPki, "Request a certificate from a certification authority",
         "Trustpoint name"},
        cancel_enroll);
}

}  // namespace scepter::cli
