#pragma once
// The command modes ("nodes", as FRR calls them) of the IOS shell. Each mode is one row of
// a table with an explicit parent (where `exit` goes, and where a line that does not
// match is tried next) and a prompt template. To add a mode, add an enumerator before
// kCount and a row in node.cpp; a unit test checks the table is complete and consistent.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace scepter::cli {

enum class Node : std::uint8_t {
  kExec,          // Router#
  kConfig,        // Router(config)#
  kCsServer,      // Router(cs-server)#      crypto pki server <label>
  kCaTrustpoint,  // Router(ca-trustpoint)#  crypto pki trustpoint <name>
  kCertChain,     // Router(config-cert-chain)#  crypto pki certificate chain <name>
  kCount,
};

struct NodeInfo {
  Node id;
  Node parent;              // kExec is its own parent
  std::string_view name;    // short name for logs and tests: "exec", "config", ...
  std::string_view prompt;  // "{host}" stands for the hostname
};

// The row for `node`. Aborts on an out-of-range value (a bug).
const NodeInfo& node_info(Node node);
// Every row, in enumerator order.
std::span<const NodeInfo> all_nodes();

inline Node parent_of(Node node) { return node_info(node).parent; }
// True for kConfig and every mode below it (where `end`, `exit` and `do` work).
bool is_config_node(Node node);
// The prompt with "{host}" replaced: "ca1(cs-server)#".
std::string render_prompt(Node node, std::string_view hostname);

}  // namespace scepter::cli
