#include "shell/control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

namespace scepter::shell {
namespace {

using nlohmann::json;

Result<Answer> parse_answer(const json& j) {
  Answer a;
  try {
    if (auto it = j.find("output"); it != j.end()) a.output = it->get<std::string>();
    if (auto it = j.find("ok"); it != j.end()) a.ok = it->get<bool>();
    if (auto it = j.find("closed"); it != j.end()) a.closed = it->get<bool>();
    if (auto it = j.find("prompt"); it != j.end()) a.prompt = it->get<std::string>();
    if (auto it = j.find("hidden"); it != j.end()) a.hidden = it->get<bool>();
    if (auto it = j.find("completions"); it != j.end()) {
      a.completions = it->get<std::vector<std::string>>();
    }
  } catch (const json::exception& e) {
    return fail(internal_error(std::string("scepterd sent a malformed answer: ") + e.what()));
  }
  return a;
}

}  // namespace

std::string default_socket_path() {
  const char* env = std::getenv("SCEPTER_SOCKET");
  if (env != nullptr && *env != '\0') return env;
  return std::string(kDefaultSocketPath);
}

bool is_question(std::string_view prompt, bool hidden) {
  if (hidden) return true;
  auto end = prompt.find_last_not_of(' ');
  if (end == std::string_view::npos) return true;  // an empty prompt: pasting input
  return prompt[end] != '#' && prompt[end] != '>';
}

bool is_config_prompt(std::string_view prompt) {
  return !prompt.empty() && prompt.back() == '#' && prompt.find('(') != std::string_view::npos;
}

Result<std::unique_ptr<ControlClient>> ControlClient::connect(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return fail(unavailable("socket path is too long"));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(unavailable(std::strerror(errno)));
  std::unique_ptr<ControlClient> client(new ControlClient(fd));  // owns fd from here
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return fail(unavailable(std::strerror(errno)));
  return client;
}

ControlClient::~ControlClient() { ::close(fd_); }

Result<Answer> ControlClient::hello() { return request("hello", nullptr); }
Result<Answer> ControlClient::exec(std::string_view line) {
  std::string l(line);
  return request("exec", &l);
}
Result<Answer> ControlClient::help(std::string_view line) {
  std::string l(line);
  return request("help", &l);
}
Result<Answer> ControlClient::complete(std::string_view line) {
  std::string l(line);
  return request("complete", &l);
}

Result<Answer> ControlClient::request(std::string_view op, const std::string* line) {
  json j = {{"op", op}};
  if (line != nullptr) j["line"] = *line;
  // replace: a line typed in a non-UTF-8 locale must not throw; the daemon sees U+FFFD.
  std::string out = j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  std::string_view rest = out;
  Status sent;
  while (!rest.empty()) {
    ssize_t n = ::send(fd_, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // The daemon may have refused us and closed before reading: its answer (the
      // reason) can still be waiting to be read.
      sent = unavailable(std::strerror(errno));
      break;
    }
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  for (;;) {
    std::string text;
    while (!take_line(text)) {
      Status s = fill();
      if (!s.ok()) return fail(sent.ok() ? s : sent);
    }
    json answer = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (answer.is_discarded() || !answer.is_object()) {
      return fail(internal_error("scepterd sent something that is not JSON"));
    }
    if (auto it = answer.find("async"); it != answer.end()) {
      if (it->is_string() && sink_) sink_(it->get_ref<const std::string&>());
      continue;
    }
    return parse_answer(answer);
  }
}

Status ControlClient::poll_async() {
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    RETURN_IF_ERROR(fill());
    std::string text;
    while (take_line(text)) {
      json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
      // An answer nobody asked for (only a refusal can be one) is dropped here; the
      // end-of-file that follows it is what the caller sees.
      if (!j.is_object()) continue;
      auto it = j.find("async");
      if (it != j.end() && it->is_string() && sink_) sink_(it->get_ref<const std::string&>());
    }
  }
  return ok_status();
}

Status ControlClient::fill() {
  char chunk[16 * 1024];
  for (;;) {
    ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return unavailable(std::strerror(errno));
    if (n == 0) return unavailable("scepterd closed the connection");
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return ok_status();
  }
}

bool ControlClient::take_line(std::string& line) {
  auto nl = buffer_.find('\n');
  if (nl == std::string::npos) return false;
  line.assign(buffer_, 0, nl);
  buffer_.erase(0, nl + 1);
  return true;
}

Result<OpenSession> open_session(const std::string& path) {
  OpenSession session;
  ASSIGN_OR_RETURN(session.client, ControlClient::connect(path));
  Result<Answer> hello = session.client->hello();
  if (!hello) return fail(unavailable(hello.error().message()));
  if (hello->closed) {  // refused: too many sessions, or not allowed
    std::string why = hello->output;
    if (why.rfind("% ", 0) == 0) why.erase(0, 2);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return fail(unavailable(why));
  }
  session.hello = std::move(*hello);
  return session;
}

std::string cannot_connect_message(const std::string& path, const Status& why) {
  return "% Cannot connect to scepterd at " + path + ": " + why.message() + "\n";
}

}  // namespace scepter::shell
