// scepter: the Scepter certificate server shell. Connects to scepterd's control socket
// and types lines into one session: interactively with line editing when stdin is a
// terminal, otherwise from -c options or stdin (see docs/shell.md).

#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "shell/batch_runner.h"
#include "shell/control_client.h"
#include "shell/interactive.h"

namespace {
constexpr int kExitUsage = 64;  // EX_USAGE: distinct from the shell's own statuses
}

int main(int argc, char** argv) {
  using namespace scepter::shell;
  CLI::App app{"scepter - shell for the Scepter certificate server (scepterd)", "scepter"};
  std::string socket_path = default_socket_path();
  std::vector<std::string> commands;
  app.add_option("-s,--socket", socket_path,
                 "scepterd's control socket (default: $SCEPTER_SOCKET, else " +
                     std::string(kDefaultSocketPath) + ")")
      ->option_text("PATH");
  app.add_option("-c,--command", commands,
                 "A line typed at the prompt; repeat for more lines, all in one session")
      ->option_text("LINE")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.footer(
      "Without -c, lines come from stdin when it is not a terminal.\n"
      "Exit status: 0 all lines succeeded, 1 a line failed, 2 scepterd unreachable.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  if (!commands.empty()) return run_batch(socket_path, lines_from(commands), std::cout, std::cerr);
  if (::isatty(STDIN_FILENO) == 0) {
    return run_batch(socket_path, lines_from(std::cin), std::cout, std::cerr);
  }
  return run_interactive(socket_path);
}
