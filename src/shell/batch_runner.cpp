#include "shell/batch_runner.h"

#include <istream>
#include <memory>
#include <ostream>

#include "shell/control_client.h"

namespace scepter::shell {

LineSource lines_from(std::vector<std::string> lines) {
  auto state =
      std::make_shared<std::pair<std::vector<std::string>, std::size_t>>(std::move(lines), 0);
  return [state]() -> std::optional<std::string> {
    if (state->second >= state->first.size()) return std::nullopt;
    return state->first[state->second++];
  };
}

LineSource lines_from(std::istream& in) {
  return [&in]() -> std::optional<std::string> {
    std::string line;
    if (!std::getline(in, line)) return std::nullopt;
    return line;
  };
}

int run_batch(const std::string& socket_path, const LineSource& next_line, std::ostream& out,
              std::ostream& err) {
  auto session = open_session(socket_path);
  if (!session) {
    err << cannot_connect_message(socket_path, session.error());
    return kExitUnreachable;
  }
  ControlClient& client = *session->client;
  client.set_async_sink([&out](std::string_view text) {
    out << text;
    if (!text.empty() && text.back() != '\n') out << '\n';
    out.flush();
  });
  const Answer& hello = session->hello;

  std::string prompt = hello.prompt;
  bool hidden = hello.hidden;
  bool failed = false;
  while (auto line = next_line()) {
    if (!line->empty() && line->back() == '\r') line->pop_back();
    if (is_question(prompt, hidden) && !prompt.empty()) out << prompt << "\n";
    auto answer = client.exec(*line);
    if (!answer) {
      out.flush();
      err << "% Lost the connection to scepterd at " << socket_path << ": "
          << answer.error().message() << "\n";
      return kExitUnreachable;
    }
    out << answer->output;
    out.flush();
    failed = failed || !answer->ok;
    prompt = answer->prompt;
    hidden = answer->hidden;
    if (answer->closed) return failed ? kExitFailed : kExitOk;
  }
  if (is_question(prompt, hidden)) {
    if (!prompt.empty()) out << prompt << "\n";
    out.flush();
    err << "% Input ended while scepterd was waiting for an answer\n";
    failed = true;
  }
  return failed ? kExitFailed : kExitOk;
}

}  // namespace scepter::shell
