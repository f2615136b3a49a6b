#pragma once
// ControlClient: the `scepter` shell's connection to scepterd's control socket. It sends
// one request at a time (docs/shell.md has the wire format) and returns the daemon's
// answer; asynchronous lines ({"async":...}, debug traces) that arrive meanwhile or while
// idle go to the async sink.
//
// Not thread-safe: one thread drives a client. The sink runs on that thread, inside
// exec()/help()/complete()/hello() or poll_async().

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace scepter::shell {

// Where scepterd listens unless told otherwise: $SCEPTER_SOCKET, else this path.
inline constexpr std::string_view kDefaultSocketPath = "/run/scepterd/scepterd.sock";
std::string default_socket_path();

// The daemon's answer to one request.
struct Answer {
  std::string output;   // text to print; lines end with '\n'
  bool ok = true;       // false when the line failed
  bool closed = false;  // the daemon ended the session (`exit`, or it refused us)
  std::string prompt;   // prompt for the next line: "ca1#", or a question ("Password: ")
  bool hidden = false;  // the next line is a secret: do not echo or record it
  std::vector<std::string> completions;  // complete() only
};

// True when `prompt` asks a question rather than showing a mode ("ca1#", "ca1(config)#",
// "ca1>"): the next line is an answer, not a command.
bool is_question(std::string_view prompt, bool hidden);
// True for a configuration-mode prompt such as "ca1(config)#" or "ca1(cs-server)#".
bool is_config_prompt(std::string_view prompt);

class ControlClient {
 public:
  using AsyncSink = std::function<void(std::string_view)>;

  // Fails with kUnavailable, the message being the system's reason ("No such file or
  // directory", "Connection refused", "Permission denied"), when nothing can be reached.
  static Result<std::unique_ptr<ControlClient>> connect(const std::string& path);
  ~ControlClient();
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  void set_async_sink(AsyncSink sink) { sink_ = std::move(sink); }

  // Each sends one request and waits for its answer. They fail with kUnavailable when the
  // daemon goes away, kInternal when it answers something that is not the protocol.
  Result<Answer> hello();
  Result<Answer> exec(std::string_view line);
  Result<Answer> help(std::string_view line);
  Result<Answer> complete(std::string_view line);

  // Delivers async lines that have already arrived, without blocking. Fails with
  // kUnavailable when the daemon has closed the connection.
  Status poll_async();
  // For poll(2): readable when poll_async() has something to do.
  int fd() const { return fd_; }

 private:
  explicit ControlClient(int fd) : fd_(fd) {}
  Result<Answer> request(std::string_view op, const std::string* line);
  // Reads more bytes into buffer_. Fails at end-of-file or on error.
  Status fill();
  // Takes one complete line from buffer_, if there is one.
  bool take_line(std::string& line);

  int fd_;  // owned
  std::string buffer_;
  AsyncSink sink_;
};

// A connected client and the daemon's first answer (the prompt to show).
struct OpenSession {
  std::unique_ptr<ControlClient> client;
  Answer hello;
};
// connect() and hello(). Fails with kUnavailable saying why: the system's reason, or the
// daemon's refusal ("Too many shell sessions (64 open), try again later").
Result<OpenSession> open_session(const std::string& path);
// The message for a failed open_session(): "% Cannot connect to scepterd at PATH: WHY\n".
std::string cannot_connect_message(const std::string& path, const Status& why);

}  // namespace scepter::shell
