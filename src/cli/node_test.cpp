#include "cli/node.h"

#include <gtest/gtest.h>

namespace scepter::cli {
namespace {

TEST(Node, TableIsConsistent) {
  for (const NodeInfo& n : all_nodes()) {
    EXPECT_EQ(&node_info(n.id), &n);
    EXPECT_NE(n.prompt.find("{host}"), std::string_view::npos) << n.name;
    // Every mode reaches exec by its parents.
    Node cur = n.id;
    for (int i = 0; i < 16 && cur != Node::kExec; ++i) cur = parent_of(cur);
    EXPECT_EQ(cur, Node::kExec) << n.name;
  }
}

TEST(Node, Prompts) {
  EXPECT_EQ(render_prompt(Node::kExec, "ca1"), "ca1#");
  EXPECT_EQ(render_prompt(Node::kConfig, "ca1"), "ca1(config)#");
  EXPECT_EQ(render_prompt(Node::kCsServer, "ca1"), "ca1(cs-server)#");
  EXPECT_EQ(render_prompt(Node::kCaTrustpoint, "ca1"), "ca1(ca-trustpoint)#");
}

TEST(Node, ConfigModes) {
  EXPECT_FALSE(is_config_node(Node::kExec));
  EXPECT_TRUE(is_config_node(Node::kConfig));
  EXPECT_TRUE(is_config_node(Node::kCsServer));
  EXPECT_EQ(parent_of(Node::kCsServer), Node::kConfig);
}

}  // namespace
}  // namespace scepter::cli
