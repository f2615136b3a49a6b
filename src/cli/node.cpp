#include "cli/node.h"

#include "common/status.h"

namespace scepter::cli {
namespace {

constexpr NodeInfo kNodes[] = {
    // id, parent, name, prompt
    {Node::kExec, Node::kExec, "exec", "{host}#"},
    {Node::kConfig, Node::kExec, "config", "{host}(config)#"},
    {Node::kCsServer, Node::kConfig, "cs-server", "{host}(cs-server)#"},
    {Node::kCaTrustpoint, Node::kConfig, "ca-trustpoint", "{host}(ca-trustpoint)#"},
    {Node::kCertChain, Node::kConfig, "config-cert-chain", "{host}(config-cert-chain)#"},
};
static_assert(std::size(kNodes) == static_cast<std::size_t>(Node::kCount),
              "every Node needs a row in kNodes");

}  // namespace

const NodeInfo& node_info(Node node) {
  auto i = static_cast<std::size_t>(node);
  CA_ASSERT(i < std::size(kNodes), "node out of range");
  CA_ASSERT(kNodes[i].id == node, "kNodes rows must follow the enumerator order");
  return kNodes[i];
}

std::span<const NodeInfo> all_nodes() { return kNodes; }

bool is_config_node(Node node) {
  // Walk up: a mode is a config mode when kConfig is on its path to kExec.
  for (Node n = node; n != Node::kExec; n = parent_of(n)) {
    if (n == Node::kConfig) return true;
  }
  return false;
}

std::string render_prompt(Node node, std::string_view hostname) {
  std::string_view tmpl = node_info(node).prompt;
  constexpr std::string_view kHost = "{host}";
  std::string out;
  auto pos = tmpl.find(kHost);
  if (pos == std::string_view::npos) return std::string(tmpl);
  out.append(tmpl.substr(0, pos));
  out.append(hostname);
  out.append(tmpl.substr(pos + kHost.size()));
  return out;
}

}  // namespace scepter::cli
