// username NAME [privilege LEVEL] secret [0|9] PASSWORD, aaa local authentication attempts
// max-fail N (config mode), their config writer, clear aaa local user lockout and show aaa
// local user lockout (exec): the accounts of the REST API (ca/accounts.h).
#include <cctype>
#include <string>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/more_commands.h"
#include "cli/context.h"
#include "pki/password_hash.h"

namespace scepter::cli {
namespace {

CmdResult username(Context& ctx, const Args& a) {
  ca::Accounts& accounts = ctx.device().accounts();
  const std::string name(a.word("name"));
  if (!ca::valid_account_name(name)) {
    return ctx.error("A user name has 1 to 64 printable characters, without spaces or ':'.");
  }
  if (a.has("no")) {
    if (!accounts.remove(name)) return ctx.error(fmt::format("User {} does not exist.", name));
    return {};
  }
  std::optional<ca::Account> existing = accounts.find(name);
  ca::Account account = existing.value_or(ca::Account{name, ca::kMinPrivilege, {}, {}});
  if (a.has("level")) account.privilege = static_cast<int>(a.integer("level"));
  if (a.has("pw")) {
    const std::string secret(a.word("pw"));
    if (a.choice("enc") == "9") {
      if (!pki::is_type9(secret)) return ctx.error("Invalid type 9 secret.");
      account.secret = secret;
    } else {
      auto made = pki::type9_hash(secret);
      if (!made.has_value()) return ctx.error(made.error().message());
      account.secret = std::move(*made);
    }
  } else if (!existing) {
    // IOS would make an account without a password; one that logs in with none is refused.
    return ctx.error(
        fmt::format("User {} needs a secret: username {} secret PASSWORD.", name, name));
  }
  Status s = accounts.set(std::move(account));
  return s.ok() ? CmdResult{} : ctx.error(s.message());
}

// `username NAME certificate sha256 HEX`: the client certificate that logs in as NAME.
CmdResult username_certificate(Context& ctx, const Args& a) {
  ca::Accounts& accounts = ctx.device().accounts();
  const std::string name(a.word("name"));
  std::optional<ca::Account> existing = accounts.find(name);
  if (a.has("no")) {
    if (!existing) return ctx.error(fmt::format("User {} does not exist.", name));
    if (existing->secret.empty()) {
      return ctx.error(fmt::format(
          "User {} has no secret: remove the account (no username {}) instead.", name, name));
    }
    existing->certificate_sha256.clear();
    Status s = accounts.set(std::move(*existing));
    return s.ok() ? CmdResult{} : ctx.error(s.message());
  }
  if (!a.has("fingerprint")) return ctx.error("Incomplete command.");
  std::string hex;
  for (char c : a.word("fingerprint")) {
    if (c == ':') continue;
    hex.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  if (hex.size() != 64 || hex.find_first_not_of("0123456789ABCDEF") != std::string::npos) {
    return ctx.error("A SHA-256 fingerprint has 64 hex digits (colons allowed).");
  }
  if (!ca::valid_account_name(name)) {
    return ctx.error("A user name has 1 to 64 printable characters, without spaces or ':'.");
  }
  ca::Account account = existing.value_or(ca::Account{name, ca::kMinPrivilege, {}, {}});
  account.certificate_sha256 = hex;
  if (a.has("level")) account.privilege = static_cast<int>(a.integer("level"));
  Status s = accounts.set(std::move(account));
  return s.ok() ? CmdResult{} : ctx.error(s.message());
}

CmdResult max_fail(Context& ctx, const Args& a) {
  ctx.device().accounts().set_max_fail(
      a.has("no") ? std::nullopt : std::optional<int>(static_cast<int>(a.integer("count"))));
  return {};
}

CmdResult clear_lockout(Context& ctx, const Args& a) {
  std::optional<std::string> name;
  if (!a.has("all")) name = std::string(a.word("name"));
  if (name && !ctx.device().accounts().find(*name)) {
    return ctx.error(fmt::format("User {} does not exist.", *name));
  }
  ctx.device().accounts().clear_lockout(name);
  return {};
}

// IOS's two columns, and when a lock Scepter set by itself ends.
CmdResult show_lockout(Context& ctx, const Args&) {
  const auto locks = ctx.device().accounts().lockouts();
  ctx.printf("{:<24}{:<10}{}\n", "Local-user", "Failures", "Locked until");
  for (const auto& lock : locks) {
    ctx.printf("{:<24}{:<10}{}\n", lock.name, lock.failures,
               lock.locked_until ? format_ios_time(*lock.locked_until) : "cleared by an operator");
  }
  return {};
}

void write_accounts(ca::Device& device, ConfigText& out) {
  if (auto n = device.accounts().max_fail()) {
    out.line(fmt::format("aaa local authentication attempts max-fail {}", *n));
  }
  for (const ca::Account& account : device.accounts().list()) {
    const std::string level = account.privilege == ca::kMinPrivilege
                                  ? ""
                                  : fmt::format(" privilege {}", account.privilege);
    if (!account.secret.empty()) {
      out.line(fmt::format("username {}{} secret 9 {}", account.name, level, account.secret));
      if (!account.certificate_sha256.empty()) {
        out.line(fmt::format("username {} certificate sha256 {}", account.name,
                             account.certificate_sha256));
      }
    } else {
      out.line(fmt::format("username {}{} certificate sha256 {}", account.name, level,
                           account.certificate_sha256));
    }
  }
}

}  // namespace

void register_account_commands(CommandTable& t) {
  t.add(Node::kConfig,
        "[no] username WORD$name [privilege (1-15)$level] [secret [<0|9>$enc] WORD$pw]",
        {kNoHelp, "Establish User Name Authentication (REST API and web console)", "User name",
         "Set user privilege level", "1 reads, 2-14 operate, 15 administers",
         "Specify the secret for the user", "Specifies an UNENCRYPTED secret will follow",
         "Specifies a SCRYPT-hashed secret will follow", "The secret"},
        username);
  t.add(Node::kConfig,
        "[no] username WORD$name [privilege (1-15)$level] certificate [sha256 WORD$fingerprint]",
        {kNoHelp, "Establish User Name Authentication (REST API and web console)", "User name",
         "Set user privilege level", "1 reads, 2-14 operate, 15 administers",
         "The client certificate that logs in as this user", "Its SHA-256 fingerprint",
         "64 hex digits, colons allowed"},
        username_certificate);
  t.add(Node::kConfig, "[no] aaa local authentication attempts max-fail (1-65535)$count",
        {kNoHelp, "Authentication, Authorization and Accounting", "AAA local method options",
         "Local authentication", "Set the maximum number of unsuccessful attempts",
         "Lock the account after this many wrong passwords in a row, until cleared",
         "Number of unsuccessful attempts"},
        max_fail);
  t.add(Node::kExec, "clear aaa local user lockout username WORD$name",
        {"Reset functions", "Clear AAA information", "Clear AAA local method options",
         "Clear local AAA users", "Clear locked-out local users", "Username", "User name"},
        clear_lockout);
  t.add(Node::kExec, "clear aaa local user lockout all",
        {"Reset functions", "Clear AAA information", "Clear AAA local method options",
         "Clear local AAA users", "Clear locked-out local users", "All locked-out users"},
        clear_lockout);
  t.add(Node::kExec, "show aaa local user lockout",
        {"Show running system information", "Show AAA values", "Show AAA local method options",
         "Show local AAA users", "Show locked-out local users"},
        show_lockout);
  t.add_config_writer(config_order::kAccounts, write_accounts);
}

}  // namespace scepter::cli
