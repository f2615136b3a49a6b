#pragma once
// A small command table for engine tests: each handler records what matched. Tests only.

#include <string>

#include "cli/command_table.h"
#include "cli/context.h"

namespace scepter::cli::testing {

struct Call {
  std::string grammar;
  Args args;
  Node node = Node::kExec;
  std::string target;
};

inline Call& last_call() {
  static Call call;
  return call;
}

inline Handler record(std::string grammar) {
  return [grammar](Context& ctx, const Args& a) {
    last_call() = Call{grammar, a, ctx.node(), std::string(ctx.target(ctx.node()))};
    return CmdResult();
  };
}

// Registers `grammar` with a recording handler and placeholder help lines.
inline void add_recorded(CommandTable& t, Node node, std::string_view grammar,
                         std::initializer_list<std::string_view> helps) {
  t.add(node, grammar, helps, record(std::string(grammar)));
}

// Exec, config and cs-server commands; combine with register_system_commands() for the
// mode commands (configure terminal, end, exit, do, hostname).
inline void build_test_table(CommandTable& t) {
  add_recorded(t, Node::kExec, "show clock",
               {"Show running system information", "Display the system clock"});
  add_recorded(t, Node::kExec, "show crypto pki server [WORD$label]",
               {"Show running system information", "Encryption module", "Public Key components",
                "Show Certificate Server", "Certificate Server label"});
  add_recorded(t, Node::kExec, "show crypto pki certificates",
               {"Show running system information", "Encryption module", "Public Key components",
                "Show certificates"});
  add_recorded(t, Node::kExec, "shutdown", {"Shut the system down"});
  add_recorded(t, Node::kExec,
               "crypto key generate rsa {<general-keys|usage-keys|signature|encryption>$usage|"
               "label WORD$label|exportable|modulus (360-4096)$bits}",
               {"Encryption module", "Auth, Crypto, Key", "Generate new keys", "Generate RSA keys",
                "Generate a general purpose RSA key pair", "Generate separate RSA key pairs",
                "Generate a signature RSA key pair", "Generate an encryption RSA key pair",
                "Provide a label", "RSA key pair label", "Allow the key to be exported",
                "Provide number of modulus bits on the command line", "size of the key modulus"});
  add_recorded(t, Node::kExec, "grant <all|(1-2147483647)$id>",
               {"Grant requests", "Grant all requests", "Request id"});
  add_recorded(t, Node::kExec, "name <set|WORD$value>", {"Name", "Set keyword", "Any name"});
  add_recorded(t, Node::kExec, "level prio (1-10)$n", {"Level", "Short keyword", "Value"});
  add_recorded(t, Node::kExec, "level priority (1-10)$n", {"Level", "Long keyword", "Value"});
  t.add(Node::kConfig, "crypto pki server WORD$label",
        {"Encryption module", "Public Key components", "Enable IOS Certificate server",
         "Certificate Server label"},
        [](Context& ctx, const Args& a) {
          ctx.enter(Node::kCsServer, std::string(a.word("label")));
          return CmdResult();
        });
  add_recorded(t, Node::kCsServer, "[no] lifetime crl (1-336)$hours",
               {"Negate a command or set its defaults", "Lifetimes of CA items",
                "Certificate revocation list", "Hours (default 168)"});
  add_recorded(t, Node::kCsServer, "issuer-name LINE$dn", {"Issuer name", "Issuer name string"});
  add_recorded(t, Node::kCsServer, "hash <md5|sha1|sha256>$alg",
               {"Hash algorithm", "MD5", "SHA-1", "SHA-256"});
}

}  // namespace scepter::cli::testing
