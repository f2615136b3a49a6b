#include "cli/command_table.h"

#include <algorithm>

namespace scepter::cli {

void CommandTable::add(Node node, std::string_view grammar,
                       std::initializer_list<std::string_view> helps, Handler handler,
                       CommandOptions options) {
  add(node, grammar, std::span<const std::string_view>(helps.begin(), helps.size()),
      std::move(handler), std::move(options));
}

void CommandTable::add(Node node, std::string_view grammar, std::span<const std::string_view> helps,
                       Handler handler, CommandOptions options) {
  Status s = try_add(node, grammar, helps, std::move(handler), std::move(options));
  if (!s.ok()) assert_fail(__FILE__, __LINE__, "command grammar", s.message().c_str());
}

Status CommandTable::try_add(Node node, std::string_view grammar,
                             std::span<const std::string_view> helps, Handler handler,
                             CommandOptions options) {
  if (static_cast<std::size_t>(node) >= static_cast<std::size_t>(Node::kCount)) {
    return invalid_argument("no such mode");
  }
  if (!handler) return invalid_argument(std::string(grammar) + ": no handler");
  std::vector<std::string> help_lines(helps.begin(), helps.end());
  ASSIGN_OR_RETURN(CommandGraph graph, compile_grammar(grammar, help_lines));
  auto cmd = std::make_unique<Command>(Command{node, std::string(grammar), std::move(graph),
                                               std::move(handler), std::move(options)});
  commands_[static_cast<std::size_t>(node)].push_back(std::move(cmd));
  return ok_status();
}

std::span<const std::unique_ptr<Command>> CommandTable::commands(Node node) const {
  return commands_[static_cast<std::size_t>(node)];
}

void CommandTable::add_config_writer(int order, ConfigWriter writer) {
  writers_.push_back(OrderedWriter{order, std::move(writer)});
}

std::vector<const ConfigWriter*> CommandTable::config_writers() const {
  std::vector<const OrderedWriter*> sorted;
  for (const auto& w : writers_) sorted.push_back(&w);
  std::stable_sort(
      sorted.begin(), sorted.end(),
      [](const OrderedWriter* a, const OrderedWriter* b) { return a->order < b->order; });
  std::vector<const ConfigWriter*> out;
  for (const auto* w : sorted) out.push_back(&w->writer);
  return out;
}

}  // namespace scepter::cli
