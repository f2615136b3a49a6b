// crypto pki server LABEL (config mode) and its cs-server subcommands (but `shutdown` and
// `no shutdown`: cs_enable_commands.cpp; the running-config writer:
// cs_server_config_writer.cpp).
#include <algorithm>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "ca/device.h"
#include "ca/keystore.h"
#include "cli/commands/cs_commands.h"
#include "cli/commands/cs_server_config.h"
#include "cli/context.h"
#include "cli/questions.h"
#include "cli/type7.h"
#include "common/parse.h"
#include "files/file_set.h"
#include "pki/digest.h"
#include "pki/name.h"
#include "pki/profile.h"

namespace scepter::cli {

std::shared_ptr<ca::CertificateServer> current_server(Context& ctx) {
  return ctx.device().server(std::string(ctx.server_label()));
}

bool incomplete(const Args& a, std::string_view name) { return !a.has("no") && !a.has(name); }

CmdResult edit_config(Context& ctx, const std::function<Status(ca::ServerConfig&)>& edit) {
  auto server = current_server(ctx);
  if (!server) return ctx.error("The certificate server no longer exists.");
  ca::ServerConfig cfg = server->config();
  Status s = edit(cfg);
  if (!s.ok()) return ctx.error(s.message());
  s = server->set_config(cfg);
  if (!s.ok()) return ctx.error(s.message());
  return {};
}

CmdResult set_key_label(Context& ctx, const Args& a, std::string ca::ServerConfig::*field) {
  if (incomplete(a, "key")) return ctx.error("Incomplete command.");
  std::string label = a.has("no") ? std::string() : std::string(a.word("key"));
  if (!label.empty()) {
    if (Status s = ca::KeyStore::check_label(label); !s.ok()) {
      return ctx.error(fmt::format("Invalid key label {}: {}.", label, s.message()));
    }
  }
  return edit_config(ctx, [&](ca::ServerConfig& c) {
    c.*field = label;
    return ok_status();
  });
}

namespace {

using ca::ServerConfig;

CmdResult enter_server(Context& ctx, const Args& a) {
  std::string label(a.word("label"));
  if (!ctx.device().server(label)) {
    auto created = ctx.device().create_server(label);
    // Another shell may have created it meanwhile: enter it all the same.
    if (!created.has_value() && created.error().code() != Code::kAlreadyExists) {
      return ctx.error(created.error().message());
    }
  }
  ctx.enter(Node::kCsServer, label);
  return {};
}

CmdResult delete_server(Context& ctx, const Args& a) {
  std::string label(a.word("label"));
  if (!ctx.device().server(label)) {
    return ctx.error(fmt::format("Certificate server {} does not exist.", label));
  }
  ctx.print(fmt::format(
      "% The certificate server {0}, its trustpoint {0} and its key {0} will be deleted.\n",
      label));
  return confirm(ctx, "Are you sure you want to do this?", [label](Context& c) -> CmdResult {
    Status s = c.device().delete_server(label);
    if (!s.ok()) return c.error(s.message());
    return {};
  });
}

Status check_url(Context& ctx, std::string_view url) {
  // Kept in the configuration: a password goes in `password`, where it is stored as
  // type 7, not in the URL.
  if (files::is_remote_url(url)) return files::validate_remote_url(url, /*allow_password=*/false);
  auto path = ctx.device().resolve_local_url(url);
  return path.has_value() ? ok_status() : path.error();
}

// `database url ser postgresql://USER:PASSWORD@HOST:PORT/DB`: the URL is kept without its
// password, which becomes the location's login (stored and shown as type 7), so the
// running-config never shows it in clear and reads back to the same configuration.
Status take_database_server_url(const Args& a, std::string& url,
                                std::optional<files::Credentials>& login) {
  if (!a.has("type") || a.choice("type") != "ser" || a.has("publish")) {
    return invalid_argument(
        "A PostgreSQL URL is only for the main database: database url ser "
        "postgresql://USER:PASSWORD@HOST:PORT/DB");
  }
  if (url.find("://") == std::string::npos) {
    return invalid_argument("Enter the URL as postgresql://USER:PASSWORD@HOST:PORT/DB");
  }
  const std::string lower = ascii_lower(url);
  if (lower.find("?password=") != std::string::npos ||
      lower.find("&password=") != std::string::npos) {
    return invalid_argument(
        "Give the password in the URL's user part (postgresql://USER:PASSWORD@HOST/DB), "
        "not as a parameter");
  }
  files::DatabaseUrl split = files::split_database_url(url);
  url = split.url;
  if (a.has("user")) {
    if (split.password) {
      return invalid_argument("Give the password in the URL or after it, not both");
    }
    const std::string user(a.word("user"));
    if (!split.user.empty() && split.user != user) {
      return invalid_argument(
          fmt::format("The username {} is not the URL's user {}", user, split.user));
    }
    ASSIGN_OR_RETURN(std::string pw, password_argument(a));
    login = files::Credentials{user, pw};
  } else if (split.password) {
    login = files::Credentials{split.user, *split.password};
  }
  return ok_status();
}

CmdResult database_url(Context& ctx, const Args& a) {
  const bool no = a.has("no");
  std::string url(a.word("url"));
  const bool db_server = files::is_database_server_url(url);
  std::optional<files::Credentials> db_login;
  if (!no && db_server) {
    Status s = take_database_server_url(a, url, db_login);
    if (!s.ok()) return ctx.error(s.message());
  } else if (!no) {
    Status s = check_url(ctx, url);
    if (!s.ok()) return ctx.error(s.message());
  }
  auto server = current_server(ctx);
  bool had_ca = server && server->has_ca_certificate();
  std::string before = server ? server->config().locations.primary : "";
  if (!no && a.has("user") && !files::is_remote_url(url) && !db_server) {
    return ctx.error("A username is for a remote location (tftp:, ftp:, http:, sftp:, scp:).");
  }
  CmdResult r = edit_config(ctx, [&](ServerConfig& c) -> Status {
    if (no) {
      c.locations.logins.erase(db_server ? files::split_database_url(url).url : url);
    } else if (db_server) {
      if (db_login) {
        c.locations.logins[url] = *db_login;
      } else {
        c.locations.logins.erase(url);
      }
    } else if (a.has("user")) {
      ASSIGN_OR_RETURN(std::string pw, password_argument(a));
      c.locations.logins[url] = files::Credentials{std::string(a.word("user")), pw};
    }
    if (!a.has("type")) {
      c.locations.primary = no ? "nvram:" : url;
      return ok_status();
    }
    ASSIGN_OR_RETURN(files::FileType t, files::parse_type(a.choice("type")));
    if (a.has("publish")) {
      auto& list = c.locations.publish[t];
      if (no) {
        std::erase(list, url);
        if (url.empty()) list.clear();
        if (list.empty()) c.locations.publish.erase(t);
      } else if (std::find(list.begin(), list.end(), url) == list.end()) {
        list.push_back(url);
      }
      return ok_status();
    }
    if (no) {
      c.locations.storage.erase(t);
    } else {
      c.locations.storage[t] = url;
    }
    return ok_status();
  });
  if (r.ok() && had_ca && ctx.interactive() &&
      before != current_server(ctx)->config().locations.primary) {
    ctx.print(
        "% Server database url was changed. You need to move the\n"
        "% existing database to the new location.\n");
  }
  return r;
}

CmdResult database_level(Context& ctx, const Args& a) {
  if (incomplete(a, "level")) return ctx.error("Incomplete command.");
  return edit_config(ctx, [&](ServerConfig& c) {
    std::string_view l = a.choice("level");
    c.level = a.has("no")       ? files::DbLevel::kMinimal
              : l == "names"    ? files::DbLevel::kNames
              : l == "complete" ? files::DbLevel::kComplete
                                : files::DbLevel::kMinimal;
    return ok_status();
  });
}

CmdResult database_username(Context& ctx, const Args& a) {
  if (incomplete(a, "user")) return ctx.error("Incomplete command.");
  return edit_config(ctx, [&](ServerConfig& c) -> Status {
    ASSIGN_OR_RETURN(std::string pw, password_argument(a));
    c.locations.default_login =
        a.has("no") ? files::Credentials{} : files::Credentials{std::string(a.word("user")), pw};
    return ok_status();
  });
}

CmdResult database_archive(Context& ctx, const Args& a) {
  return edit_config(ctx, [&](ServerConfig& c) -> Status {
    if (a.has("no")) {
      c.archive_enabled = false;
      c.archive_password.clear();
      return ok_status();
    }
    ASSIGN_OR_RETURN(std::string pw, password_argument(a));
    if (!pw.empty() && (pw.size() < 8 || pw.size() > 200)) {
      return invalid_argument("The archive password must be 8 to 200 characters long.");
    }
    c.archive_enabled = true;
    c.archive_format =
        a.choice("format") == "pem" ? ca::ArchiveFormat::kPem : ca::ArchiveFormat::kPkcs12;
    c.archive_password = pw;
    return ok_status();
  });
}

CmdResult issuer_name(Context& ctx, const Args& a) {
  if (incomplete(a, "dn")) return ctx.error("Incomplete command.");
  return edit_config(ctx, [&](ServerConfig& c) -> Status {
    if (a.has("no")) {
      c.issuer_name.clear();
      return ok_status();
    }
    // Kept as typed when it is no DN: IOS takes the line and refuses it at `no shutdown`
    // ("my-server is not a valid subject name"), where the enabling checks say so.
    std::string dn(a.line("dn"));
    auto parsed = pki::parse_dn(dn);
    c.issuer_name = parsed.has_value() ? pki::format_dn_config(parsed->get()) : dn;
    return ok_status();
  });
}

CmdResult lifetime(Context& ctx, const Args& a) {
  if (incomplete(a, "value")) return ctx.error("Incomplete command.");
  return edit_config(ctx, [&](ServerConfig& c) {
    const bool no = a.has("no");
    const int v = static_cast<int>(a.integer("value"));
    std::string_view what = a.choice("what");
    if (what == "ca-certificate") c.ca_lifetime_days = no ? 1095 : v;
    if (what == "certificate") c.cert_lifetime_days = no ? 365 : v;
    if (a.has("crl")) c.crl_lifetime_hours = no ? 168 : v;
    if (a.has("enrollment-request")) c.request_lifetime_hours = no ? 168 : v;
    return ok_status();
  });
}

CmdResult cdp_url(Context& ctx, const Args& a) {
  if (incomplete(a, "url")) return ctx.error("Incomplete command.");
  return edit_config(ctx, [&](ServerConfig& c) -> Status {
    std::string url(a.line("url"));
    if (!a.has("no") && !url.starts_with("http://") && !url.starts_with("https://")) {
      return invalid_argument("The CDP URL must be an HTTP URL (http://...).");
    }
    c.cdp_url = a.has("no") ? "" : url;
    return ok_status();
  });
}

CmdResult set_grant(Context& ctx, const Args& a) {
  if (incomplete(a, "mode")) return ctx.error("Incomplete command.");
  const std::string mode(a.choice("mode"));
  auto apply = [mode, no = a.has("no")](Context& c) -> CmdResult {
    CmdResult r = edit_config(c, [&](ServerConfig& cfg) {
      cfg.grant = no                  ? ca::GrantMode::kManual
                  : mode == "auto"    ? ca::GrantMode::kAuto
                  : mode == "none"    ? ca::GrantMode::kNone
                  : mode == "ra-auto" ? ca::GrantMode::kRaAuto
                                      : ca::GrantMode::kManual;
      return ok_status();
    });
    if (r.ok() && !no && mode == "auto" && c.interactive()) {
      c.print("%PKI-6-CS_GRANT_AUTO: All enrollment requests will be automatically granted.\n");
    }
    return r;
  };
  if (!a.has("no") && mode == "ra-auto") {
    ctx.print(
        "\n% This will cause all certificate requests already authorized by known RAs to be\n"
        "automatically granted.\n");
    return confirm(ctx, "Are you sure you want to do this?", apply);
  }
  return apply(ctx);
}

CmdResult grant_auto_renewal(Context& ctx, const Args& a) {
  return edit_config(ctx, [&](ServerConfig& c) {
    c.renewal_auto = !a.has("no");
    return ok_status();
  });
}

CmdResult grant_auto_acme(Context& ctx, const Args& a) {
  return edit_config(ctx, [&](ServerConfig& c) {
    c.acme_auto = !a.has("no");
    return ok_status();
  });
}

CmdResult grant_auto_rollover(Context& ctx, const Args& a) {
  if (!a.has("which")) return ctx.error("Incomplete command.");
  const bool ca_cert = a.choice("which") == "ca-cert";
  return edit_config(ctx, [&](ServerConfig& c) {
    (ca_cert ? c.rollover_auto_ca : c.rollover_auto_ra) = !a.has("no");
    return ok_status();
  });
}

CmdResult limit_rsa_key_size(Context& ctx, const Args& a) {
  if (incomplete(a, "bits")) return ctx.error("Incomplete command.");
  return edit_config(ctx, [&](ServerConfig& c) {
    c.min_rsa_bits =
        a.has("no") ? ca::kDefaultMinRsaBits : static_cast<int>(a.integer("bits", 2048));
    return ok_status();
  });
}

CmdResult limit_pending_requests(Context& ctx, const Args& a) {
  if (incomplete(a, "count")) return ctx.error("Incomplete command.");
  return edit_config(ctx, [&](ServerConfig& c) {
    c.max_pending_requests =
        a.has("no") ? ca::kDefaultMaxPendingRequests : static_cast<int>(a.integer("count", 1000));
    return ok_status();
  });
}

CmdResult path_len(Context& ctx, const Args& a) {
  if (incomplete(a, "depth")) return ctx.error("Incomplete command.");
  return edit_config(ctx, [&](ServerConfig& c) {
    if (a.has("no")) {
      c.sub_ca_path_len.reset();
    } else {
      c.sub_ca_path_len = static_cast<int>(a.integer("depth", 0));
    }
    return ok_status();
  });
}

CmdResult serial_number(Context& ctx, const Args& a) {
  if (incomplete(a, "serial")) return ctx.error("Incomplete command.");
  std::uint64_t above = 0;
  if (!a.has("no")) {
    auto serial = pki::SerialNumber::parse(a.word("serial"));
    if (!serial || serial->entropy || serial->sequence == 0 ||
        serial->sequence >= store::kMaxSerial) {
      return ctx.error(
          fmt::format("Invalid serial number {}: give the last serial number the "
                      "CA issued, as 0xHEX, 0OCTAL or decimal.",
                      a.word("serial")));
    }
    above = serial->sequence;
  }
  return edit_config(ctx, [&](ServerConfig& c) {
    c.serial_number_above = above;
    return ok_status();
  });
}

CmdResult set_hash(Context& ctx, const Args& a) {
  if (incomplete(a, "alg")) return ctx.error("Incomplete command.");
  pki::Hash hash = pki::Hash::kSha256;
  if (!a.has("no")) {
    auto parsed = pki::parse_hash(a.choice("alg"));
    if (!parsed.has_value()) return ctx.error(parsed.error().message());
    hash = *parsed;
  }
  auto apply = [hash](Context& c) -> CmdResult {
    return edit_config(c, [&](ServerConfig& cfg) {
      cfg.hash = hash;
      return ok_status();
    });
  };
  if (!pki::collision_prone(hash)) return apply(ctx);
  // Sequential serials are safe only with a collision-resistant hash (the 2008 MD5
  // rogue-CA attack): the issuer adds 64 random bits to every serial while this is in force.
  if (ctx.interactive()) {
    ctx.printf(
        "\n% {0} signatures are open to chosen-prefix collisions. While hash {1} is in\n"
        "% force, every new certificate serial number carries 64 random bits after its\n"
        "% sequence number. Use {1} only for devices that cannot verify SHA-256.\n",
        hash == pki::Hash::kMd5 ? "MD5" : "SHA-1", pki::hash_name(hash));
  }
  return confirm(ctx, "Are you sure you want to do this?", apply);
}

// Replaces the whole list; `no eku` empties it. Like `lifetime certificate`, it applies to
// the certificates issued from now on, so it may change while the server is enabled.
CmdResult set_eku(Context& ctx, const Args& a) {
  std::vector<pki::Eku> ekus;
  for (const auto& [word, help] : kEkuKeywords) {
    if (!a.has(word)) continue;
    auto eku = pki::parse_eku(word);
    if (!eku.has_value()) return ctx.error(eku.error().message());
    ekus.push_back(*eku);
  }
  if (!a.has("no") && ekus.empty()) return ctx.error("Incomplete command.");
  std::sort(ekus.begin(), ekus.end());  // certificate order, whatever the typing order
  return edit_config(ctx, [&](ServerConfig& c) {
    c.ekus = a.has("no") ? std::vector<pki::Eku>{} : ekus;
    return ok_status();
  });
}

CmdResult auto_rollover(Context& ctx, const Args& a) {
  return edit_config(ctx, [&](ServerConfig& c) {
    if (a.has("no")) {
      c.auto_rollover_days.reset();
    } else {
      c.auto_rollover_days = static_cast<int>(a.integer("days", 30));
    }
    return ok_status();
  });
}

CmdResult set_mode(Context& ctx, const Args& a) {
  if (incomplete(a, "kind")) return ctx.error("Incomplete command.");
  return edit_config(ctx, [&](ServerConfig& c) {
    if (a.has("no")) {
      c.mode = ca::ServerMode::kRoot;
    } else if (a.choice("kind") == "sub-cs") {
      c.mode = ca::ServerMode::kSubCs;
    } else {
      c.mode = a.has("transparent") ? ca::ServerMode::kRaTransparent : ca::ServerMode::kRa;
    }
    return ok_status();
  });
}

CmdResult allow_des(Context& ctx, const Args& a) {
  return edit_config(ctx, [&](ServerConfig& c) {
    c.scep_allow_des = !a.has("no");
    return ok_status();
  });
}

CmdResult encryption_key(Context& ctx, const Args& a) {
  return set_key_label(ctx, a, &ServerConfig::scep_encryption_key);
}

}  // namespace

void register_cs_server_commands(CommandTable& t) {
  constexpr std::string_view kCrypto = "Encryption module";
  constexpr std::string_view kPki = "Public Key components";
  t.add(Node::kConfig, "crypto pki server WORD$label",
        {kCrypto, kPki, "Enable IOS Certificate server", "Name of the certificate server"},
        enter_server);
  t.add(Node::kConfig, "no crypto pki server WORD$label",
        {"Negate a command or set its defaults", kCrypto, kPki, "Enable IOS Certificate server",
         "Name of the certificate server"},
        delete_server);
  const std::string_view kDb = "Certificate database configuration";
  const std::string_view kUrl = "Certificate database URL";
  const std::string_view kRoot =
      "Root URL (nvram:, flash:DIR, a local directory, tftp:, ftp:, http(s):, sftp:, scp:)";
  // `... username U password [0|7] P` after each form: the login for that location.
  const std::string login = " [username WORD$user [password [<0|7>$enc] WORD$password]]";
  auto with_login = [](std::vector<std::string_view> help) {
    help.insert(help.end(), {"Username for the location", "Username", "Password",
                             kHelpPasswordClear, kHelpPasswordHidden, "The password"});
    return help;
  };
  t.add(Node::kCsServer, "[no] database url WORD$url" + login,
        with_login({kNoHelp, kDb, kUrl, kRoot}), database_url);
  t.add(Node::kCsServer, "[no] database url <cnm|crl|crt|p12|pem|ser>$type WORD$url" + login,
        with_login({kNoHelp, kDb, kUrl, "Certificate name and expiration files", "CRL file",
                    "Issued certificate files", "Archive in PKCS#12 format",
                    "Archive in PEM format", "Main database (serial number) file", kRoot}),
        database_url);
  t.add(Node::kCsServer, "[no] database url <cnm|crl|crt>$type publish WORD$url" + login,
        with_login({kNoHelp, kDb, kUrl, "Certificate name and expiration files", "CRL file",
                    "Issued certificate files", "Publish a copy of the files", kRoot}),
        database_url);
  // "minimum" is what routers accept and print; the guide says "minimal".
  t.add(Node::kCsServer, "[no] database level [<minimal|minimum|names|complete>$level]",
        {kNoHelp, kDb, "Certificate database level", "Only what is needed to go on issuing",
         "The same as minimal", "Also the name and expiry of each certificate",
         "Also each issued certificate"},
        database_level);
  t.add(Node::kCsServer, "[no] database username [WORD$user] [password [<0|7>$enc] WORD$password]",
        {kNoHelp, kDb, "Username to access the database", "Username", "Password",
         kHelpPasswordClear, kHelpPasswordHidden, "The password"},
        database_username);
  t.add(
      Node::kCsServer, "database archive <pkcs12|pem>$format [password [<0|7>$enc] WORD$password]",
      {kDb, "CA key and certificate archive", "PKCS#12 archive (default)", "PEM archive",
       "Password", kHelpPasswordClear, kHelpPasswordHidden, "Archive password (8-200 characters)"},
      database_archive);
  t.add(Node::kCsServer, "no database archive", {kNoHelp, kDb, "CA key and certificate archive"},
        database_archive);
  t.add(Node::kCsServer, "[no] issuer-name [LINE$dn]",
        {kNoHelp, "Issuer name", "Distinguished name, e.g. CN=ca1, O=Example, C=US"}, issuer_name);
  // The guide's "issuer name DN-string" (Step 8 of the subordinate server), hidden: typed
  // `issuer name`, "issuer" abbreviates issuer-name here as in the line above, and "name"
  // matches this keyword before that LINE.
  t.add(Node::kCsServer, "[no] issuer-name name [LINE$dn]",
        {kNoHelp, "Issuer name", "Issuer name", "Distinguished name, e.g. CN=ca1, O=Example, C=US"},
        issuer_name, CommandOptions{.hidden = true, .line_node = std::nullopt});
  t.add(Node::kCsServer, "[no] lifetime <ca-certificate|certificate>$what [(1-1825)$value]",
        {kNoHelp, "Lifetimes of CA items", "Lifetime of the CA certificate",
         "Lifetime of issued certificates", "Days (CA default 1095, certificate default 365)"},
        lifetime);
  t.add(Node::kCsServer, "[no] lifetime crl [(1-336)$value]",
        {kNoHelp, "Lifetimes of CA items", "Certificate revocation list", "Hours (default 168)"},
        lifetime);
  t.add(Node::kCsServer, "[no] lifetime enrollment-request [(1-1000)$value]",
        {kNoHelp, "Lifetimes of CA items", "Enrollment request", "Hours (default 168)"}, lifetime);
  t.add(Node::kCsServer, "[no] cdp-url [LINE$url]",
        {kNoHelp, "CRL distribution point put in issued certificates", "HTTP URL"}, cdp_url);
  t.add(Node::kCsServer, "[no] grant [<auto|none|ra-auto>$mode]",
        {kNoHelp, "Granting policy (default manual)", "Grant every request automatically",
         "Reject every request", "Grant requests authorized by a known RA"},
        set_grant);
  t.add(Node::kCsServer, "[no] grant auto renewal",
        {kNoHelp, "Granting policy (default manual)", "Grant requests automatically",
         "Renewals signed by the certificate they renew, same identity (default on)"},
        grant_auto_renewal);
  t.add(Node::kCsServer, "[no] grant auto acme",
        {kNoHelp, "Granting policy (default manual)", "Grant requests automatically",
         "ACME orders whose names were all validated (default off)"},
        grant_auto_acme);
  t.add(Node::kCsServer, "[no] grant auto rollover <ca-cert|ra-cert>$which",
        {kNoHelp, "Granting policy (default manual)", "Grant requests automatically",
         "Rollover (re-enrollment) requests of subordinate CAs and RA mode CAs",
         "Subordinate CA rollover certificate (default off)",
         "RA mode CA rollover certificate (default off)"},
        grant_auto_rollover);
  t.add(Node::kCsServer, "[no] limit rsa-key-size minimum [(1024-4096)$bits]",
        {kNoHelp, "Limits on requests", "RSA key size of requesters", "Smallest size accepted",
         "Bits (default 2048)"},
        limit_rsa_key_size);
  t.add(Node::kCsServer, "[no] limit pending-requests [(1-1000000)$count]",
        {kNoHelp, "Limits on requests", "Requests waiting for the operator",
         "Most requests kept waiting (default 1000)"},
        limit_pending_requests);
  t.add(Node::kCsServer, "[no] pathlen [(0-8)$depth]",
        {kNoHelp, "Path length of subordinate CA certificates (default none)",
         "CA certificates allowed below a subordinate CA"},
        path_len);
  t.add(Node::kCsServer, "[no] serial-number [WORD$serial]",
        {kNoHelp, "New serial numbers start above this one (a CA moved from another server)",
         "The last serial number the CA issued there: 0xHEX, 0OCTAL or decimal"},
        serial_number);
  t.add(Node::kCsServer, "[no] hash [<md5|sha1|sha256|sha384|sha512>$alg]",
        {kNoHelp, "Hash function for signatures (default sha256)", "MD5 (not recommended)",
         "SHA-1 (not recommended)", "SHA-256", "SHA-384", "SHA-512"},
        set_hash);
  std::string eku_grammar = "[no] eku {";
  std::vector<std::string_view> eku_help = {kNoHelp, "Extended key usages of issued certificates"};
  for (const auto& [word, help] : kEkuKeywords) {
    eku_grammar += std::string(eku_help.size() > 2 ? "|" : "") + std::string(word);
    eku_help.push_back(help);
  }
  t.add(Node::kCsServer, eku_grammar + "}", eku_help, set_eku);
  t.add(Node::kCsServer, "[no] auto-rollover [(0-1825)$days]",
        {kNoHelp, "Automatic CA certificate rollover", "Overlap in days (default 30)"},
        auto_rollover);
  t.add(Node::kCsServer, "[no] mode [<ra|sub-cs>$kind] [transparent]",
        {kNoHelp, "Server mode (default root)", "Registration authority",
         "Subordinate certificate server", "Forward requests unchanged (RA mode)"},
        set_mode);
  t.add(Node::kCsServer, "[no] scep allow-des",
        {kNoHelp, "SCEP settings", "Accept single-DES envelopes (old IOS clients; insecure)"},
        allow_des);
  t.add(Node::kCsServer, "[no] scep encryption-key [WORD$key]",
        {kNoHelp, "SCEP settings", "RSA key pair clients encrypt requests to (default: the CA key)",
         "Key label (generated at no shutdown if it does not exist)"},
        encryption_key);
  t.add_config_writer(config_order::kCertificateServers, write_servers);
}

}  // namespace scepter::cli
