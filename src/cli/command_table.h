#pragma once
// The command table: every command of every mode, as grammar strings with one help line
// per token (grammar.h) and a small typed handler. Built once at start-up by
// register_all_commands() (commands/commands.h), then only read: safe to share between
// sessions on any number of threads once built.
//
//   t.add(Node::kCsServer, "[no] lifetime crl (1-336)$hours",
//         {kNoHelp, "Lifetimes of CA items", "Certificate revocation list",
//          "Hours (default 168)"},
//         set_crl_lifetime);

#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.h"
#include "cli/config_text.h"
#include "cli/grammar.h"
#include "cli/node.h"
#include "cli/result.h"

namespace scepter::cli {

class Context;

using Handler = std::function<CmdResult(Context&, const Args&)>;

struct CommandOptions {
  // Accepted, but not listed by `?` nor offered by completion.
  bool hidden = false;
  // `?` and completion treat the LINE argument as a command line of this mode (`do`).
  std::optional<Node> line_node;
};

struct Command {
  Node node;
  std::string grammar;
  CommandGraph graph;
  Handler handler;
  CommandOptions options;
};

class CommandTable {
 public:
  CommandTable() = default;
  CommandTable(const CommandTable&) = delete;
  CommandTable& operator=(const CommandTable&) = delete;

  // Adds a command; aborts with the grammar and the reason when it does not compile or the
  // help lines do not match the tokens (a bug, caught at start-up and by the unit tests).
  void add(Node node, std::string_view grammar, std::initializer_list<std::string_view> helps,
           Handler handler, CommandOptions options = {});
  void add(Node node, std::string_view grammar, std::span<const std::string_view> helps,
           Handler handler, CommandOptions options = {});
  // The same, reporting the problem instead (kInvalidArgument).
  Status try_add(Node node, std::string_view grammar, std::span<const std::string_view> helps,
                 Handler handler, CommandOptions options = {});

  // The commands of one mode, in registration order.
  std::span<const std::unique_ptr<Command>> commands(Node node) const;

  void add_config_writer(int order, ConfigWriter writer);
  // All writers, by order then registration.
  std::vector<const ConfigWriter*> config_writers() const;

 private:
  struct OrderedWriter {
    int order;
    ConfigWriter writer;
  };
  std::vector<std::unique_ptr<Command>> commands_[static_cast<std::size_t>(Node::kCount)];
  std::vector<OrderedWriter> writers_;
};

}  // namespace scepter::cli
