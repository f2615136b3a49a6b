// crypto pki authenticate NAME, crypto pki enroll NAME (and its no form), and show crypto
// pki certificates: scepterd as a SCEP client of a CA, with the dialogues of an IOS
// router, and the certificates its trustpoints and certificate servers hold.
#include <arpa/inet.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ca/device.h"
#include "cli/commands/more_commands.h"
#include "cli/context.h"
#include "cli/questions.h"
#include "common/clock.h"
#include "pki/csr.h"
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

namespace {

// One entry of `show crypto pki certificates`: a certificate, or a request the CA has not
// answered yet, with every trustpoint it belongs to (IOS lists a CA certificate that two
// trustpoints share once, naming both).
struct Listed {
  std::string title = {};  // "Certificate", "CA Certificate", "CA Certificate (Rollover)", ...
  std::string usage = {};  // "General Purpose", "Signature", "Encryption"
  std::optional<pki::Certificate> cert = {};
  bool revoked = false;
  // The device's own certificate: its subject starts with the identity lines.
  bool own = false;
  std::string storage = {};  // the Storage line; empty: none
  // A request not granted yet (cert is empty): the PKCS#10 and its MD5 fingerprint.
  std::optional<pki::Csr> request = {};
  std::string request_fingerprint = {};
  std::vector<std::string> trustpoints = {};
};

// The identity lines IOS puts above a device certificate's subject: "Name:" (the host
// name, unstructuredName, or else the common name), "IP Address:" (unstructuredAddress)
// and "Serial Number:" (serialNumber).
std::vector<std::string> identity_lines(const X509_NAME* subject) {
  std::string host, cn, ip, serial;
  for (const auto& rdn : pki::ios_rdns(subject)) {
    for (const pki::IosAttribute& a : rdn) {
      std::string* slot = a.label == "hostname"       ? &host
                          : a.label == "cn"           ? &cn
                          : a.label == "ipaddress"    ? &ip
                          : a.label == "serialNumber" ? &serial
                                                      : nullptr;
      if (slot && slot->empty()) *slot = a.value;
    }
  }
  std::vector<std::string> out;
  if (!host.empty() || !cn.empty()) out.push_back("Name: " + (host.empty() ? cn : host));
  if (!ip.empty()) out.push_back("IP Address: " + ip);
  if (!serial.empty()) out.push_back("Serial Number: " + serial);
  return out;
}

// The 15.x / IOS-XE block of a certificate.
void print_certificate(Context& ctx, const Listed& e) {
  const pki::Certificate& cert = *e.cert;
  ctx.printf("{}\n  Status: {}\n", e.title, e.revoked ? "Revoked" : "Available");
  ctx.printf("  Certificate Serial Number (hex): {}\n", even_hex(cert.serial_hex()));
  ctx.printf("  Certificate Usage: {}\n", e.usage);
  ctx.print("  Issuer: \n");
  for (const std::string& line : pki::format_dn_ios_lines(cert.issuer())) {
    ctx.printf("    {}\n", line);
  }
  const std::vector<std::string> identity =
      e.own ? identity_lines(cert.subject()) : std::vector<std::string>{};
  // As IOS: "Subject:" ends in a blank unless the identity lines follow.
  ctx.print(identity.empty() ? "  Subject: \n" : "  Subject:\n");
  for (const std::string& line : identity) ctx.printf("    {}\n", line);
  for (const std::string& line : pki::format_dn_ios_lines(cert.subject())) {
    ctx.printf("    {}\n", line);
  }
  ctx.printf("  Validity Date: \n    start date: {}\n    end   date: {}\n",
             format_ios_time(cert.not_before()), format_ios_time(cert.not_after()));
  ctx.printf("  Associated Trustpoints: {} \n", fmt::join(e.trustpoints, " "));
  if (!e.storage.empty()) ctx.printf("  Storage: {}\n", e.storage);
  ctx.print("\n");
}

// The guide's block of a request sent but not granted: the identity lines under "Subject
// Name", then the RDNs they do not already show.
void print_request(Context& ctx, const Listed& e) {
  ctx.printf("{}\n  Subject Name\n", e.title);
  const X509_NAME* subject = e.request ? e.request->subject() : nullptr;
  if (subject) {
    for (const std::string& line : identity_lines(subject)) ctx.printf("    {}\n", line);
    for (const auto& rdn : pki::ios_rdns(subject)) {
      std::string line;
      bool identity_only = true;
      for (const pki::IosAttribute& a : rdn) {
        if (a.label != "hostname" && a.label != "ipaddress" && a.label != "serialNumber") {
          identity_only = false;
        }
        line += (line.empty() ? "" : "+") + a.label + "=" + a.value;
      }
      if (!identity_only) ctx.printf("    {}\n", line);
    }
  }
  ctx.print("    Status: Pending\n");
  ctx.printf("    Key Usage: {}\n", e.usage);
  ctx.printf("    Fingerprint: {}\n", pki::ios_fingerprint(e.request_fingerprint));
  ctx.printf("    Associated Trustpoint: {}\n\n", fmt::join(e.trustpoints, " "));
}

// Everything a trustpoint holds, in IOS's order: its requests, its own certificates, the
// RA's and then the CA's; a certificate server's CA certificate for its own trustpoint.
std::vector<Listed> collect_certificates(Context& ctx) {
  std::vector<Listed> out;
  auto add = [&out](Listed e, const std::string& tp) {
    for (Listed& seen : out) {
      if (seen.cert && e.cert && seen.title == e.title && *seen.cert == *e.cert) {
        if (std::find(seen.trustpoints.begin(), seen.trustpoints.end(), tp) ==
            seen.trustpoints.end()) {
          seen.trustpoints.push_back(tp);
        }
        return;
      }
    }
    e.trustpoints.push_back(tp);
    out.push_back(std::move(e));
  };
  for (const TrustpointConfig& tp : ctx.device().trustpoints()) {
    std::optional<ca::ServerInfo> info;
    if (auto server = ctx.device().server(tp.name)) info = server->info();
    // A certificate server's own certificate says what it is, as on IOS; so does a
    // rollover certificate (the next one, held until it takes over).
    std::string kind;
    if (info && info->config.mode == ca::ServerMode::kSubCs) kind = "subordinate CA certificate";
    if (info && ca::is_ra_mode(info->config)) kind = "RA mode CS certificate";
    auto title = [&kind](bool rollover) -> std::string {
      if (kind.empty()) return rollover ? "Certificate (Rollover)" : "Certificate";
      return fmt::format("Certificate ({}{})", kind, rollover ? ", Rollover" : "");
    };
    if (info && kind.empty() && info->ca_certificate) {
      // A root CA's certificate, where IOS keeps it.
      add({.title = "CA Certificate",
           .usage = "Signature",
           .cert = info->ca_certificate,
           .storage = fmt::format("nvram:{}#1CA.cer", tp.name)},
          tp.name);
      if (info->rollover_certificate) {
        // The shadow of a rollover, labelled as IOS labels it.
        add({.title = "CA Certificate (Rollover)",
             .usage = "Signature",
             .cert = info->rollover_certificate,
             .storage = fmt::format("{}.ser (database)", tp.name)},
            tp.name);
      }
    }
    const auto state = ctx.device().enrollment().state(tp.name);
    // Usage keys have a certificate (and a request) per key.
    const bool usage_keys = (state && (state->encryption_certificate.has_value() ||
                                       (state->pending && state->pending->parts.size() > 1))) ||
                            (info && info->ra_encryption_certificate);
    const std::string general = usage_keys ? "Signature" : "General Purpose";
    if (state && state->pending) {
      for (const auto& part : state->pending->parts) {
        auto csr = pki::Csr::parse(part.csr_der);
        Listed e{.title = "Certificate",
                 .usage = part.encryption ? "Encryption" : general,
                 .request_fingerprint = part.fingerprint_md5};
        if (csr.has_value()) e.request = std::move(*csr);
        add(std::move(e), tp.name);
      }
    }
    auto own = [&](bool rollover, const std::optional<pki::Certificate>& cert,
                   const std::string& usage) {
      if (!cert) return;
      const bool revoked = !rollover && state && state->revoked_at && state->certificate &&
                           *cert == *state->certificate;
      add({.title = title(rollover), .usage = usage, .cert = cert, .revoked = revoked, .own = true},
          tp.name);
    };
    if (state) {
      own(false, state->certificate, general);
      own(false, state->encryption_certificate, "Encryption");
      own(true, state->rollover_certificate, general);
      own(true, state->rollover_encryption_certificate, "Encryption");
    }
    if (info && !kind.empty()) {
      // A subordinate CA's or an RA's certificate is its server's too: listed from there
      // when the trustpoint's record lacks it (a server restored from its archive).
      own(false, info->ca_certificate, general);
      own(false, info->ra_encryption_certificate, "Encryption");
    }
    if (!state) continue;
    if (state->ca) {
      const ca::UpstreamCertificates& ca = *state->ca;
      if (ca.ra_signer && ca.ra_encrypter && *ca.ra_signer == *ca.ra_encrypter) {
        add({.title = "RA Certificate", .usage = "General Purpose", .cert = ca.ra_signer}, tp.name);
      } else {
        if (ca.ra_signer) {
          add({.title = "RA Certificate", .usage = "Signature", .cert = ca.ra_signer}, tp.name);
        }
        if (ca.ra_encrypter) {
          add({.title = "RA Certificate", .usage = "Encryption", .cert = ca.ra_encrypter}, tp.name);
        }
      }
      for (const pki::Certificate& c : ca.ca_chain) {
        add({.title = "CA Certificate", .usage = "Signature", .cert = c}, tp.name);
      }
    }
    if (state->next_ca) {
      for (const pki::Certificate& c : state->next_ca->ca_chain) {
        add({.title = "CA Certificate (Rollover)", .usage = "Signature", .cert = c}, tp.name);
      }
    }
  }
  return out;
}

}  // namespace

void render_trustpoint_certificates(Context& ctx, const std::string& only) {
  for (const Listed& e : collect_certificates(ctx)) {
    if (!only.empty() &&
        std::find(e.trustpoints.begin(), e.trustpoints.end(), only) == e.trustpoints.end()) {
      continue;
    }
    if (e.cert) {
      print_certificate(ctx, e);
    } else {
      print_request(ctx, e);
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
