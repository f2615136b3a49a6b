// ACME (RFC 8555) under `crypto pki server LABEL` (cs-server mode): `acme ...`, which edit
// ca::AcmeConfig (ca/server_config.h). scepterd's own commands: IOS has none. Their
// running-config lines: cs_server_config_writer.cpp.
#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "acme/names.h"
#include "ca/device.h"
#include "cli/commands/cs_commands.h"
#include "cli/commands/cs_server_config.h"
#include "cli/context.h"
#include "cli/type7.h"
#include "common/ip_prefix.h"
#include "pki/digest.h"
#include "pki/encoding.h"

namespace scepter::cli {

namespace {

using ca::AcmeConfig;
using ca::ServerConfig;

// An EAB HMAC key: 256 bits, as HMAC-SHA256 wants (RFC 2104: at least the output size).
constexpr std::size_t kEabKeyBytes = 32;
constexpr std::size_t kMinEabKeyBytes = 16;

bool is_alnum(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

// `acme allow dns SUFFIX`: lower case, one trailing dot dropped, then a DNS name of
// letter-digit-hyphen labels (RFC 1123 2.1) of 1-63 characters, at most 253 in all.
Result<std::string> dns_suffix(std::string_view typed) {
  std::string name(typed);
  std::transform(name.begin(), name.end(), name.begin(), [](char ch) {
    return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch;
  });
  if (name.ends_with('.')) name.pop_back();
  const auto refuse = [&](std::string_view why) {
    return fail(invalid_argument(fmt::format("Invalid DNS suffix {}: {}.", typed, why)));
  };
  if (name.find('*') != std::string::npos) {
    return refuse("no wildcards (a suffix already allows the names below it)");
  }
  if (auto why = acme::dns_name_error(name)) return refuse(*why);
  return name;
}

// `acme resolver`: "ADDR", "ADDR:PORT" (IPv4) or "[V6]:PORT", normalised.
Result<std::string> resolver_address(std::string_view typed) {
  const auto refuse = [&]() {
    return fail(invalid_argument(fmt::format(
        "Invalid resolver {}: give ADDR, ADDR:PORT or [IPv6-ADDR]:PORT (port 1-65535).", typed)));
  };
  std::string_view host = typed;
  std::string_view port;
  bool bracketed = false;
  if (typed.starts_with('[')) {
    const auto close = typed.find(']');
    if (close == std::string_view::npos) return refuse();
    host = typed.substr(1, close - 1);
    std::string_view rest = typed.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) return refuse();
      port = rest.substr(1);
      if (port.empty()) return refuse();
    }
    bracketed = true;
  } else if (!parse_ip_address(typed)) {
    const auto colon = typed.rfind(':');
    if (colon == std::string_view::npos) return refuse();
    host = typed.substr(0, colon);
    port = typed.substr(colon + 1);
    if (port.empty()) return refuse();
  }
  const auto addr = parse_ip_address(host);
  if (!addr || (bracketed && !addr->v6) || (!bracketed && !port.empty() && addr->v6)) {
    return refuse();
  }
  if (port.empty()) return addr->text();
  if (port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    return refuse();
  }
  const int number = std::stoi(std::string(port));
  if (number < 1 || number > 65535) return refuse();
  return addr->v6 ? fmt::format("[{}]:{}", addr->text(), number)
                  : fmt::format("{}:{}", addr->text(), number);
}

bool valid_key_id(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char ch) {
    return is_alnum(ch) || ch == '.' || ch == '_' || ch == '-';
  });
}

// Adds `value` to `list` once, or (the `no` form) removes it.
void add_or_remove(std::vector<std::string>& list, const std::string& value, bool remove) {
  const auto at = std::find(list.begin(), list.end(), value);
  if (remove) {
    if (at != list.end()) list.erase(at);
  } else if (at == list.end()) {
    list.push_back(value);
  }
}

CmdResult acme(Context& ctx, const Args& a) {
  return edit_config(ctx, [&](ServerConfig& c) {
    c.acme.enabled = !a.has("no");
    return ok_status();
  });
}

CmdResult acme_allow_dns(Context& ctx, const Args& a) {
  auto suffix = dns_suffix(a.word("suffix"));
  if (!suffix) return ctx.error(suffix.error().message());
  return edit_config(ctx, [&](ServerConfig& c) {
    add_or_remove(c.acme.dns_suffixes, *suffix, a.has("no"));
    return ok_status();
  });
}

CmdResult allow_prefix(Context& ctx, const Args& a, std::vector<std::string> AcmeConfig::*list) {
  const std::string_view typed = a.word("prefix");
  const auto prefix = parse_ip_prefix(typed);
  if (!prefix) {
    return ctx.error(
        fmt::format("Invalid IP prefix {}: give ADDR/LENGTH with the host bits zero (192.0.2.0/24, "
                    "2001:db8::/32) or one address.",
                    typed));
  }
  return edit_config(ctx, [&](ServerConfig& c) {
    add_or_remove(c.acme.*list, prefix->text(), a.has("no"));
    return ok_status();
  });
}

CmdResult acme_allow_ip(Context& ctx, const Args& a) {
  return allow_prefix(ctx, a, &AcmeConfig::ip_prefixes);
}

CmdResult acme_allow_connect(Context& ctx, const Args& a) {
  return allow_prefix(ctx, a, &AcmeConfig::connect_prefixes);
}

CmdResult acme_challenge(Context& ctx, const Args& a) {
  const std::string_view type = a.choice("type");
  return edit_config(ctx, [&](ServerConfig& c) -> Status {
    bool* on = type == "http-01"  ? &c.acme.http01
               : type == "dns-01" ? &c.acme.dns01
                                  : &c.acme.tls_alpn01;
    *on = !a.has("no");
    if (!c.acme.http01 && !c.acme.dns01 && !c.acme.tls_alpn01) {
      return invalid_argument("At least one challenge type must stay offered");
    }
    return ok_status();
  });
}

CmdResult acme_lifetime(Context& ctx, const Args& a) {
  if (incomplete(a, "days")) return ctx.error("Incomplete command.");
  return edit_config(ctx, [&](ServerConfig& c) -> Status {
    const int days =
        a.has("no") ? ca::kDefaultAcmeLifetimeDays : static_cast<int>(a.integer("days"));
    // Typed: refused above `lifetime certificate`. Loaded: kept, as a later, lower
    // `lifetime certificate` keeps it (the smaller of the two applies).
    if (!a.has("no") && ctx.interactive() && days > c.cert_lifetime_days) {
      return invalid_argument(fmt::format(
          "The ACME certificate lifetime ({} days) cannot exceed the server's certificate "
          "lifetime ({} days, lifetime certificate).",
          days, c.cert_lifetime_days));
    }
    c.acme.lifetime_days = days;
    return ok_status();
  });
}

CmdResult acme_resolver(Context& ctx, const Args& a) {
  if (incomplete(a, "addr")) return ctx.error("Incomplete command.");
  std::string resolver;
  if (!a.has("no")) {
    auto r = resolver_address(a.word("addr"));
    if (!r) return ctx.error(r.error().message());
    resolver = std::move(*r);
  }
  return edit_config(ctx, [&](ServerConfig& c) {
    c.acme.resolver = resolver;
    return ok_status();
  });
}

CmdResult acme_http_port(Context& ctx, const Args& a) {
  if (incomplete(a, "port")) return ctx.error("Incomplete command.");
  return edit_config(ctx, [&](ServerConfig& c) {
    c.acme.http_port = a.has("no") ? ca::kDefaultAcmeHttpPort : static_cast<int>(a.integer("port"));
    return ok_status();
  });
}

CmdResult acme_tls_port(Context& ctx, const Args& a) {
  if (incomplete(a, "port")) return ctx.error("Incomplete command.");
  return edit_config(ctx, [&](ServerConfig& c) {
    c.acme.tls_port = a.has("no") ? ca::kDefaultAcmeTlsPort : static_cast<int>(a.integer("port"));
    return ok_status();
  });
}

CmdResult acme_rate_limit(Context& ctx, const Args& a) {
  if (incomplete(a, "count")) return ctx.error("Incomplete command.");
  const bool accounts = a.choice("what") == "accounts";
  return edit_config(ctx, [&](ServerConfig& c) {
    int& limit = accounts ? c.acme.accounts_per_minute : c.acme.orders_per_minute;
    const int fallback =
        accounts ? ca::kDefaultAcmeAccountsPerMinute : ca::kDefaultAcmeOrdersPerMinute;
    limit = a.has("no") ? fallback : static_cast<int>(a.integer("count"));
    return ok_status();
  });
}

// `acme eab KEYID`: a new random key, shown once. `acme eab KEYID hmac 7 TEXT`: the
// running-config's form, the key's base64url hidden as type 7.
CmdResult acme_eab(Context& ctx, const Args& a) {
  const std::string id(a.word("keyid"));
  if (!valid_key_id(id)) {
    return ctx.error(
        fmt::format("Invalid EAB key id {}: 1 to 64 letters, digits, '.', '_' and '-'.", id));
  }
  if (a.has("no")) {
    return edit_config(ctx, [&](ServerConfig& c) {
      c.acme.eab_keys.erase(id);
      return ok_status();
    });
  }
  std::string key;
  if (a.has("hidden")) {
    auto text = type7_decode(a.word("hidden"));
    Result<std::string> raw = text.has_value() ? pki::base64url_decode(*text) : fail(text.error());
    if (!raw || raw->size() < kMinEabKeyBytes) {
      return ctx.error(fmt::format("Invalid hidden EAB key for key id {}.", id));
    }
    key = std::move(*raw);
  } else {
    auto made = pki::random_bytes(kEabKeyBytes);
    if (!made) return ctx.error(made.error().message());
    key = std::move(*made);
  }
  CmdResult r = edit_config(ctx, [&](ServerConfig& c) -> Status {
    if (c.acme.eab_keys.contains(id)) {
      return already_exists(
          fmt::format("EAB key {} exists; remove it with no acme eab {} first", id, id));
    }
    c.acme.eab_keys[id] = key;
    return ok_status();
  });
  if (r.ok() && !a.has("hidden")) {
    ctx.printf(
        "EAB key id {}: HMAC key (base64url) {}\n"
        "Shown only now: give both to the ACME client.\n",
        id, pki::base64url_encode(key));
  }
  return r;
}

}  // namespace

void register_cs_acme_commands(CommandTable& t) {
  constexpr std::string_view kAcme =
      "ACME (RFC 8555) at /acme/LABEL/directory on the HTTP secure server (default off)";
  constexpr std::string_view kAllow = "What ACME orders may name, and where validation may connect";
  t.add(Node::kCsServer, "[no] acme", {kNoHelp, kAcme}, acme);
  t.add(Node::kCsServer, "[no] acme allow dns WORD$suffix",
        {kNoHelp, kAcme, kAllow, "DNS names equal to or below a suffix (default none)",
         "DNS suffix, e.g. example.com"},
        acme_allow_dns);
  t.add(Node::kCsServer, "[no] acme allow ip WORD$prefix",
        {kNoHelp, kAcme, kAllow, "IP addresses inside a prefix (default none)",
         "Prefix, e.g. 192.0.2.0/24 or 2001:db8::/32, or one address"},
        acme_allow_ip);
  t.add(Node::kCsServer, "[no] acme allow connect WORD$prefix",
        {kNoHelp, kAcme, kAllow,
         "Addresses validation may reach although special (loopback, link-local...)",
         "Prefix, e.g. 127.0.0.0/8 or fe80::/10, or one address"},
        acme_allow_connect);
  t.add(Node::kCsServer, "[no] acme challenge <http-01|dns-01|tls-alpn-01>$type",
        {kNoHelp, kAcme, "Challenge types offered (default all)", "HTTP challenge on port 80",
         "DNS TXT record challenge", "TLS ALPN challenge on port 443"},
        acme_challenge);
  t.add(Node::kCsServer, "[no] acme lifetime [(1-1825)$days]",
        {kNoHelp, kAcme, "Lifetime of certificates issued over ACME",
         "Days (default 90, at most the lifetime certificate)"},
        acme_lifetime);
  t.add(Node::kCsServer, "[no] acme resolver [WORD$addr]",
        {kNoHelp, kAcme, "DNS server validation asks (default the system's)",
         "ADDR, ADDR:PORT or [IPv6-ADDR]:PORT"},
        acme_resolver);
  t.add(Node::kCsServer, "[no] acme http-port [(1-65535)$port]",
        {kNoHelp, kAcme, "Port http-01 validation connects to", "Port (default 80)"},
        acme_http_port);
  t.add(Node::kCsServer, "[no] acme tls-port [(1-65535)$port]",
        {kNoHelp, kAcme, "Port tls-alpn-01 validation connects to", "Port (default 443)"},
        acme_tls_port);
  t.add(Node::kCsServer, "[no] acme rate-limit <accounts|orders>$what [(1-1000000)$count]",
        {kNoHelp, kAcme, "How many new accounts or orders a minute",
         "New accounts a minute from one client address (default 20)",
         "New orders a minute by one account (default 300)", "Count a minute"},
        acme_rate_limit);
  t.add(Node::kCsServer, "acme eab WORD$keyid [hmac 7 WORD$hidden]",
        {kAcme, "External account binding key (generated and shown once)", "Key id",
         "The HMAC key follows", kHelpPasswordHidden, "The HMAC key, hidden"},
        acme_eab);
  t.add(Node::kCsServer, "no acme eab WORD$keyid",
        {kNoHelp, kAcme, "External account binding key", "Key id"}, acme_eab);
}

}  // namespace scepter::cli
