// crypto pki trustpoint NAME (config mode), its ca-trustpoint subcommands, show crypto
// pki trustpoints, and the trustpoint config writer.
//
// A certificate server creates a trustpoint with its own label that holds its CA
// certificate. Once that certificate exists, the trustpoint is locked (the seed: "the
// trustpoint is locked so that it cannot be modified"); re-entering the values it already
// has is accepted, so a saved configuration can be pasted back.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/key_commands_common.h"
#include "cli/commands/more_commands.h"
#include "cli/context.h"
#include "cli/questions.h"
#include "common/clock.h"
#include "common/parse.h"
#include "pki/certificate.h"
#include "pki/digest.h"
#include "pki/name.h"

namespace scepter::cli {
namespace {

using ca::TrustpointConfig;

constexpr std::string_view kCrypto = "Encryption module";
constexpr std::string_view kPki = "Public Key components";
constexpr std::string_view kTrustpoint = "Define a CA trustpoint";

// The subcommands that recreate `tp`, in the order the running-config shows them.
std::vector<std::string> trustpoint_lines(const TrustpointConfig& tp) {
  std::vector<std::string> out;
  if (!tp.enrollment_url.empty()) out.push_back("enrollment url " + tp.enrollment_url);
  if (tp.enrollment_mode_ra) out.push_back("enrollment mode ra");
  if (tp.retry_period_minutes > 0) {
    out.push_back(fmt::format("enrollment retry period {}", tp.retry_period_minutes));
  }
  if (tp.retry_count > 0) out.push_back(fmt::format("enrollment retry count {}", tp.retry_count));
  if (!tp.subject_name.empty()) out.push_back("subject-name " + tp.subject_name);
  if (!tp.revocation_check.empty()) out.push_back("revocation-check " + tp.revocation_check);
  if (!tp.rsakeypair.empty()) {
    std::string line = "rsakeypair " + tp.rsakeypair;
    if (tp.rsakeypair_bits > 0) line += fmt::format(" {}", tp.rsakeypair_bits);
    if (tp.rsakeypair_encryption_bits > 0)
      line += fmt::format(" {}", tp.rsakeypair_encryption_bits);
    out.push_back(std::move(line));
  }
  if (!tp.on_device.empty()) out.push_back("on " + tp.on_device + ":");
  if (tp.hash) out.push_back(fmt::format("hash {}", pki::hash_name(*tp.hash)));
  if (tp.auto_enroll) {
    std::string line = "auto-enroll";
    if (tp.auto_enroll_percent > 0) line += fmt::format(" {}", tp.auto_enroll_percent);
    if (tp.auto_enroll_regenerate) line += " regenerate";
    out.push_back(line);
  }
  return out;
}

void write_trustpoints(ca::Device& device, ConfigText& out) {
  for (const TrustpointConfig& tp : device.trustpoints()) {
    out.line("crypto pki trustpoint " + tp.name);
    for (const std::string& line : trustpoint_lines(tp)) out.child(line);
    out.bang();
  }
}

// A root certificate server under the trustpoint's label: its trustpoint holds the
// server's own CA certificate (a subordinate CA's or an RA's holds the superior's).
std::shared_ptr<ca::CertificateServer> root_server(ca::Device& device, const std::string& name) {
  auto server = device.server(name);
  if (!server) return nullptr;
  const ca::ServerConfig cfg = server->config();
  if (cfg.mode == ca::ServerMode::kSubCs || ca::is_ra_mode(cfg)) return nullptr;
  return server;
}

// The CA certificate a trustpoint holds: the root its operator authenticated, or a root
// certificate server's own.
std::optional<pki::Certificate> ca_certificate(ca::Device& device, const std::string& name) {
  if (auto enrolled = device.enrollment().state(name); enrolled && enrolled->ca) {
    return enrolled->ca->root();
  }
  auto server = root_server(device, name);
  if (!server) return std::nullopt;
  return server->info().ca_certificate;
}

Status check_trustpoint_name(std::string_view name) {
  if (ca::KeyStore::check_label(std::string(name)).ok()) return ok_status();
  return invalid_argument(fmt::format(
      "Invalid trustpoint name {}: use 1 to 64 letters, digits, '.', '_' or '-'.", name));
}

CmdResult enter_trustpoint(Context& ctx, const Args& a) {
  std::string name(a.word("name"));
  Status s = check_trustpoint_name(name);
  if (!s.ok()) return ctx.error(s.message());
  s = ctx.device().edit_trustpoint(
      name, [](TrustpointConfig&) { return ok_status(); }, /*create=*/true);
  if (!s.ok()) return ctx.error(s.message());
  ctx.enter(Node::kCaTrustpoint, name);
  return {};
}

CmdResult delete_trustpoint(Context& ctx, const Args& a) {
  std::string name(a.word("name"));
  if (!ctx.device().trustpoint(name)) {
    return ctx.error(fmt::format("Trustpoint {} does not exist.", name));
  }
  if (ctx.device().server(name)) {
    return ctx.error(fmt::format(
        "The trustpoint {0} is used by certificate server {0}; remove the server first (no "
        "crypto pki server {0}).",
        name));
  }
  ctx.print(
      "% Removing an enrolled trustpoint will destroy all certificates\n"
      " received from the related Certificate Authority.\n\n");
  return confirm(ctx, "Are you sure you want to do this?", [name](Context& c) {
    // Checked again: the question gave time for a server to take the trustpoint.
    Status s = c.device().remove_trustpoint(name);
    if (s.code() == Code::kNotFound) return CmdResult();  // removed meanwhile: nothing to do
    if (s.code() == Code::kPermissionDenied) {
      return c.error(fmt::format(
          "The trustpoint {0} is used by certificate server {0}; remove the server first (no "
          "crypto pki server {0}).",
          name));
    }
    if (!s.ok()) return c.error(s.message());
    return CmdResult();
  });
}

// Applies `edit` to the current trustpoint, in one step on the device, unless the
// trustpoint is locked and the edit changes it.
CmdResult edit_trustpoint(Context& ctx, const std::function<void(TrustpointConfig&)>& edit) {
  std::string name(ctx.trustpoint_name());
  // Looked up first: the device's trustpoint lock is held while the edit runs.
  auto server = ctx.device().server(name);
  Status s = ctx.device().edit_trustpoint(name, [&](TrustpointConfig& tp) -> Status {
    const std::vector<std::string> before = trustpoint_lines(tp);
    edit(tp);
    if (server && server->has_ca_certificate() && trustpoint_lines(tp) != before) {
      return permission_denied(fmt::format(
          "Trustpoint {0} is locked: it holds the CA certificate of certificate server {0}.",
          name));
    }
    return ok_status();
  });
  if (s.code() == Code::kNotFound) {
    return ctx.error(fmt::format("Trustpoint {} no longer exists.", name));
  }
  if (!s.ok()) return ctx.error(s.message());
  return {};
}

bool is_host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

// http://host[:port][/path] or https://...; the host is a name, an IPv4 address or an
// IPv6 address in brackets (http://[2001:DB8::1]:80, as in the IOS guide).
Status check_enrollment_url(std::string_view url) {
  auto bad = [url](std::string_view why) {
    return invalid_argument(fmt::format("{} is not a valid enrollment URL: {}.", url, why));
  };
  for (char c : url) {
    if (std::isspace(static_cast<unsigned char>(c))) return bad("it contains a blank");
  }
  std::string lower(url.substr(0, 8));
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view rest;
  if (lower.starts_with("http://")) {
    rest = url.substr(7);
  } else if (lower.starts_with("https://")) {
    rest = url.substr(8);
  } else {
    return bad("use http://host[:port][/path] or https://host[:port][/path]");
  }
  std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  std::string_view port;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("the IPv6 address has no ']'");
    std::string addr(authority.substr(1, close - 1));
    in6_addr a6{};
    if (inet_pton(AF_INET6, addr.c_str(), &a6) != 1) return bad("the IPv6 address is invalid");
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return bad("junk after the IPv6 address");
    if (!after.empty()) port = after.substr(1);
  } else {
    auto colon = authority.find(':');
    std::string_view host = authority.substr(0, colon);
    if (host.empty()) return bad("the host is missing");
    for (char c : host) {
      if (!is_host_char(c)) return bad("the host name has an invalid character");
    }
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return bad("the port is missing");
    }
  }
  if (!port.empty()) {
    int value = 0;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || value > 65535) {
        return bad("the port must be a number from 1 to 65535");
      }
      value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) return bad("the port must be a number from 1 to 65535");
  }
  return ok_status();
}

// `enrollment url URL`, and the guide's one-line form `enrollment [mode ra] [retry period
// MIN] [retry count N] url URL [pem]`, which sets the same things as the separate lines.
CmdResult enrollment_url(Context& ctx, const Args& a) {
  std::string url(a.line("url"));
  const bool no = a.has("no");
  if (!no) {
    std::string_view rest = trim_space(url);
    if (rest.ends_with(" pem") || rest.ends_with("\tpem")) {
      // PEM boundaries are for requests copied by hand (`enrollment terminal pem`); a
      // request sent over SCEP has none.
      return ctx.error(
          "The pem keyword is for requests copied by hand; scepterd sends its requests over "
          "SCEP. Enter the command without \"pem\".");
    }
    Status s = check_enrollment_url(url);
    if (!s.ok()) return ctx.error(s.message());
  }
  return edit_trustpoint(ctx, [&](TrustpointConfig& tp) {
    tp.enrollment_url = no ? "" : url;
    if (no) return;
    if (a.has("ra")) tp.enrollment_mode_ra = true;
    if (a.has("minutes")) tp.retry_period_minutes = static_cast<int>(a.integer("minutes"));
    if (a.has("polls")) tp.retry_count = static_cast<int>(a.integer("polls"));
  });
}

CmdResult enrollment_mode(Context& ctx, const Args& a) {
  return edit_trustpoint(ctx, [&](TrustpointConfig& tp) { tp.enrollment_mode_ra = !a.has("no"); });
}

CmdResult retry_period(Context& ctx, const Args& a) {
  return edit_trustpoint(ctx, [&](TrustpointConfig& tp) {
    tp.retry_period_minutes = a.has("no") ? 0 : static_cast<int>(a.integer("minutes"));
  });
}

CmdResult retry_count(Context& ctx, const Args& a) {
  return edit_trustpoint(ctx, [&](TrustpointConfig& tp) {
    tp.retry_count = a.has("no") ? 0 : static_cast<int>(a.integer("polls"));
  });
}

CmdResult subject_name(Context& ctx, const Args& a) {
  std::string dn;
  if (!a.has("no")) {
    auto parsed = pki::parse_dn(a.line("dn"));
    if (!parsed.has_value()) return ctx.error(parsed.error().message());
    dn = pki::format_dn_config(parsed->get());
  }
  return edit_trustpoint(ctx, [&](TrustpointConfig& tp) { tp.subject_name = dn; });
}

// The sizes are the ones a key generated at enrolment gets (a key that exists keeps its
// own). A second size asks for IOS usage keys: a signature key and an encryption key,
// each enrolled for a certificate of its own.
CmdResult rsakeypair(Context& ctx, const Args& a) {
  std::string label(a.word("label"));
  if (!a.has("no")) {
    Status s = ca::KeyStore::check_label(label);
    if (!s.ok()) return ctx.error(fmt::format("Invalid key label {}: {}.", label, s.message()));
    if ((a.has("bits") && a.integer("bits") < 1024) ||
        (a.has("encryption_bits") && a.integer("encryption_bits") < 1024)) {
      return ctx.error("Keys of fewer than 1024 bits cannot be enrolled; use 1024 to 4096.");
    }
  }
  return edit_trustpoint(ctx, [&](TrustpointConfig& tp) {
    const bool on = !a.has("no");
    tp.rsakeypair = on ? label : "";
    tp.rsakeypair_bits = on && a.has("bits") ? static_cast<int>(a.integer("bits")) : 0;
    tp.rsakeypair_encryption_bits =
        on && a.has("encryption_bits") ? static_cast<int>(a.integer("encryption_bits")) : 0;
  });
}

// `on NAME:`: keys generated for this trustpoint are made on the token NAME.
CmdResult on_device(Context& ctx, const Args& a) {
  std::string device;
  if (!a.has("no")) {
    device = strip_device_colon(a.word("device"));
    if (!ctx.device().tokens().get(device)) {
      return ctx.error(fmt::format("No token named {} is configured (crypto pki token {} ...).",
                                   device, device));
    }
  }
  return edit_trustpoint(ctx, [&](TrustpointConfig& tp) { tp.on_device = device; });
}

CmdResult set_hash(Context& ctx, const Args& a) {
  std::optional<pki::Hash> hash;
  if (!a.has("no")) {
    auto parsed = pki::parse_hash(a.choice("alg"));
    if (!parsed.has_value()) return ctx.error(parsed.error().message());
    hash = *parsed;
  }
  return edit_trustpoint(ctx, [&](TrustpointConfig& tp) { tp.hash = hash; });
}

CmdResult auto_enroll(Context& ctx, const Args& a) {
  return edit_trustpoint(ctx, [&](TrustpointConfig& tp) {
    const bool on = !a.has("no");
    tp.auto_enroll = on;
    tp.auto_enroll_percent = on && a.has("percent") ? static_cast<int>(a.integer("percent")) : 0;
    tp.auto_enroll_regenerate = on && a.has("regenerate");
  });
}

CmdResult revocation_check(Context& ctx, const Args& a) {
  if (!a.has("no") && a.choice("method") == "ocsp") {
    // Said rather than stored: nothing would check.
    return ctx.error("OCSP revocation checking is not supported; use \"revocation-check crl\".");
  }
  return edit_trustpoint(ctx, [&](TrustpointConfig& tp) {
    tp.revocation_check = a.has("no") ? "" : std::string(a.choice("method"));
  });
}

// "Yes (General Purpose, non-exportable)" or "No".
std::string key_state(ca::Device& device, const TrustpointConfig& tp) {
  auto key = device.keys().get(tp.rsakeypair.empty() ? device.fqdn() : tp.rsakeypair);
  if (!key) return "No";
  std::string usage = ca::key_usage_name(key->usage);
  if (usage.ends_with(" Key")) usage.resize(usage.size() - 4);
  return fmt::format("Yes ({}, {})", usage, key->exportable ? "exportable" : "non-exportable");
}

// Where the trustpoint's SCEP client sends its requests, as IOS shows it: the enrollment
// URL, with "/cgi-bin" (where IOS looks for pkiclient.exe) when it has no path.
std::string scep_url(const std::string& url) {
  const auto scheme = url.find("://");
  const auto path =
      std::min(url.find_first_of("/?#", scheme == std::string::npos ? 0 : scheme + 3), url.size());
  const auto path_end = std::min(url.find_first_of("?#", path), url.size());
  if (url.find_first_not_of('/', path) < path_end) return url;
  return url.substr(0, path) + "/cgi-bin" + url.substr(path_end);
}

void show_trustpoint(Context& ctx, const TrustpointConfig& tp, bool status) {
  const auto cert = ca_certificate(ctx.device(), tp.name);
  const auto enrolled = ctx.device().enrollment().state(tp.name);
  ctx.printf("Trustpoint {}:\n", tp.name);
  if (!status) {
    if (!cert) {
      ctx.print("    Not authenticated.\n");
      return;
    }
    ctx.print("    Subject Name:\n");
    for (const std::string& line : pki::format_dn_ios_lines(cert->subject())) {
      ctx.printf("    {}\n", line);
    }
    ctx.printf("          Serial Number (hex): {}\n", even_hex(cert->serial_hex()));
    ctx.print("    Certificate configured.\n");
    // The CA's next certificate: a certificate server's shadow, or the one this
    // trustpoint fetched with GetNextCACert.
    auto server = root_server(ctx.device(), tp.name);
    if ((server && server->rollover_certificate()) || (enrolled && enrolled->next_ca)) {
      ctx.print("    Rollover certificate configured.\n");
    }
    if (!tp.enrollment_url.empty()) ctx.printf("    SCEP URL: {}\n", scep_url(tp.enrollment_url));
    if (enrolled && enrolled->ca && !tp.enrollment_url.empty()) {
      // What the CA said it can do (GetCACaps), in the guide's words.
      ctx.printf("    Enrollment Protocol:\n      SCEPv1{}\n",
                 enrolled->caps.get_next_ca_cert ? ", PKI Rollover" : "");
    }
    return;
  }
  if (cert) {
    ctx.print("  Issuing CA certificate configured:\n");
    ctx.printf("    Subject Name:\n     {}\n", pki::format_dn_ios(cert->subject()));
    ctx.printf("    Fingerprint MD5: {} \n", pki::ios_fingerprint(cert->md5_fingerprint()));
    ctx.printf("    Fingerprint SHA1: {} \n", pki::ios_fingerprint(cert->sha1_fingerprint()));
  }
  auto router_cert = [&ctx](std::string_view usage, const pki::Certificate& mine) {
    ctx.printf("  Router {} certificate configured:\n", usage);
    ctx.printf("    Subject Name:\n     {}\n", pki::format_dn_ios(mine.subject()));
    ctx.printf("    Fingerprint MD5: {} \n", pki::ios_fingerprint(mine.md5_fingerprint()));
    ctx.printf("    Fingerprint SHA1: {} \n", pki::ios_fingerprint(mine.sha1_fingerprint()));
  };
  if (enrolled && enrolled->certificate) {
    router_cert(enrolled->encryption_certificate ? "Signature" : "General Purpose",
                *enrolled->certificate);
  }
  if (enrolled && enrolled->encryption_certificate) {
    router_cert("Encryption", *enrolled->encryption_certificate);
  }
  // The CA's rollover, as this trustpoint knows it.
  if (enrolled && enrolled->next_ca) {
    const pki::Certificate& next = enrolled->next_ca->issuing_ca();
    ctx.print("  Rollover CA certificate configured:\n");
    ctx.printf("    Subject Name:\n     {}\n", pki::format_dn_ios(next.subject()));
    ctx.printf("    Fingerprint MD5: {} \n", pki::ios_fingerprint(next.md5_fingerprint()));
    ctx.printf("    Fingerprint SHA1: {} \n", pki::ios_fingerprint(next.sha1_fingerprint()));
  }
  if (enrolled && enrolled->rollover_certificate) {
    router_cert("Rollover", *enrolled->rollover_certificate);
    ctx.printf("    Takes over at: {}\n",
               format_ios_time(enrolled->rollover_certificate->not_before()));
  }
  std::string requests = "None";
  if (enrolled && enrolled->pending) {
    requests = enrolled->pending->delivered() ? "Pending" : "Pending (not yet received by the CA)";
    if (enrolled->pending->rollover) requests += " (rollover)";
  } else if (enrolled && enrolled->certificate) {
    requests = "Yes";
  }
  ctx.print("  State:\n");
  ctx.printf("    Keys generated ............. {}\n", key_state(ctx.device(), tp));
  ctx.printf("    Issuing CA authenticated ....... {}\n", cert ? "Yes" : "No");
  ctx.printf("    Certificate request(s) ..... {}\n", requests);
  if (enrolled && enrolled->pending) {
    ctx.printf("    Next attempt ............... {}\n",
               format_ios_time(enrolled->pending->next_attempt));
  }
  if (enrolled && !enrolled->last_error.empty()) {
    ctx.printf("    Last error ................. {}\n", enrolled->last_error);
  }
  if (enrolled && enrolled->revoked_at) {
    ctx.printf("    Certificate revoked ........ Yes (found on the CA's CRL {})\n",
               format_ios_time(*enrolled->revoked_at));
  } else if (enrolled && !enrolled->crl_error.empty()) {
    ctx.printf("    CRL check .................. {}\n", enrolled->crl_error);
  }
}

CmdResult show_trustpoints(Context& ctx, const Args& a) {
  if (a.has("name")) {
    auto tp = ctx.device().trustpoint(std::string(a.word("name")));
    if (!tp) return ctx.error(fmt::format("Trustpoint {} does not exist.", a.word("name")));
    show_trustpoint(ctx, *tp, a.has("status"));
    return {};
  }
  bool first = true;
  for (const TrustpointConfig& tp : ctx.device().trustpoints()) {
    // IOS leaves two blank lines between trustpoints.
    if (!first) ctx.print("\n\n");
    first = false;
    show_trustpoint(ctx, tp, a.has("status"));
  }
  return {};
}

}  // namespace

void register_trustpoint_commands(CommandTable& t) {
  t.add(Node::kConfig, "crypto pki trustpoint WORD$name",
        {kCrypto, kPki, kTrustpoint, "Trustpoint name"}, enter_trustpoint);
  t.add(Node::kConfig, "no crypto pki trustpoint WORD$name",
        {kNoHelp, kCrypto, kPki, kTrustpoint, "Trustpoint name"}, delete_trustpoint);

  constexpr std::string_view kEnroll = "Enrollment parameters";
  constexpr Node kTp = Node::kCaTrustpoint;
  t.add(kTp, "[no] enrollment url LINE$url",
        {kNoHelp, kEnroll, "CA server enrollment URL", "http://host[:port][/path] (or https://)"},
        enrollment_url);
  // The one-line form of the guide's "Configuring a Subordinate Certificate Server".
  t.add(kTp,
        "enrollment <mode ra [retry period (1-60)$minutes] [retry count (1-100)$polls]|retry "
        "period (1-60)$minutes [retry count (1-100)$polls]|retry count (1-100)$polls> url "
        "LINE$url",
        {kEnroll,
         "Mode supported by the Certificate Authority",
         "Registration Authority mode",
         "Polling parameters",
         "Time between enrollment polls",
         "Minutes (default 1)",
         "Polling parameters",
         "Number of enrollment polls",
         "Number of polls",
         "Polling parameters",
         "Time between enrollment polls",
         "Minutes (default 1)",
         "Polling parameters",
         "Number of enrollment polls",
         "Number of polls",
         "Polling parameters",
         "Number of enrollment polls",
         "Number of polls",
         "CA server enrollment URL",
         "http://host[:port][/path] (or https://) [pem]"},
        enrollment_url);
  t.add(kTp, "[no] enrollment mode ra",
        {kNoHelp, kEnroll, "Mode supported by the Certificate Authority",
         "Registration Authority mode"},
        enrollment_mode);
  t.add(kTp, "[no] enrollment retry period (1-60)$minutes",
        {kNoHelp, kEnroll, "Polling parameters", "Time between enrollment polls",
         "Minutes (default 1)"},
        retry_period);
  t.add(kTp, "[no] enrollment retry count (1-100)$polls",
        {kNoHelp, kEnroll, "Polling parameters", "Number of enrollment polls",
         "Number of polls (default: poll indefinitely)"},
        retry_count);
  t.add(kTp, "[no] subject-name LINE$dn",
        {kNoHelp, "Subject Name", "Distinguished name, e.g. CN=ra1, OU=ioscs RA, O=Example, C=US"},
        subject_name);
  t.add(kTp, "[no] rsakeypair WORD$label [(360-4096)$bits] [(360-4096)$encryption_bits]",
        {kNoHelp, "Specify rsakeypair", "Key pair label", "Size of the signature (or general) key",
         "Size of the encryption key"},
        rsakeypair);
  // The spelling of the seed's subordinate CA example.
  t.add(kTp, "[no] rsa keypair WORD$label [(360-4096)$bits] [(360-4096)$encryption_bits]",
        {kNoHelp, "RSA key pair", "Specify rsakeypair", "Key pair label",
         "Size of the signature (or general) key", "Size of the encryption key"},
        rsakeypair);
  t.add(kTp, "on WORD$device",
        {"Generate the keys on a token", "Token name followed by a colon (token0:)"}, on_device);
  t.add(kTp, "no on [WORD$device]", {kNoHelp, "Generate the keys in the key store", "Token name"},
        on_device);
  t.add(kTp, "hash <md5|sha1|sha256|sha384|sha512>$alg",
        {"Hash algorithm for self-signed certificates", "MD5", "SHA-1", "SHA-256", "SHA-384",
         "SHA-512"},
        set_hash);
  t.add(kTp, "no hash [<md5|sha1|sha256|sha384|sha512>$alg]",
        {kNoHelp, "Hash algorithm for self-signed certificates", "MD5", "SHA-1", "SHA-256",
         "SHA-384", "SHA-512"},
        set_hash);
  t.add(kTp, "revocation-check <crl|none|ocsp>$method",
        {"Revocation checking options", "Check the CRL", "Ignore revocation check",
         "Check with OCSP"},
        revocation_check);
  t.add(kTp, "no revocation-check [<crl|none|ocsp>$method]",
        {kNoHelp, "Revocation checking options", "Check the CRL", "Ignore revocation check",
         "Check with OCSP"},
        revocation_check);
  t.add(
      kTp, "auto-enroll [(1-100)$percent] [regenerate]",
      {"Auto enroll", "Renew at this percentage of the certificate's lifetime (default: at expiry)",
       "Generate a new key pair for the renewal"},
      auto_enroll);
  t.add(kTp, "no auto-enroll [(1-100)$percent] [regenerate]",
        {kNoHelp, "Auto enroll", "Renew at this percentage of the certificate's lifetime",
         "Generate a new key pair for the renewal"},
        auto_enroll);
  t.add_config_writer(config_order::kTrustpoints, write_trustpoints);

  t.add(Node::kExec, "show crypto pki trustpoints [WORD$name] [status]",
        {"Show running system information", kCrypto, kPki, "Show trustpoints", "Trustpoint name",
         "Show trustpoint status"},
        show_trustpoints);
}

}  // namespace scepter::cli
