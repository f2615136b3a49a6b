#pragma once
// For tests only: a real DNS resolver, Debian's unbound, serving one static zone on
// 127.0.0.1 at a free port, whose records a test adds and removes while it runs
// (unbound-control over a Unix socket). Not thread-safe; one per test or fixture.
//
//   UnboundServer dns("example.test.", {"a.example.test. A 127.0.0.1"});
//   if (!dns.ok()) GTEST_SKIP() << dns.error();
//   dns.add("_acme-challenge.a.example.test. 1 IN TXT \"...\"");
//   settings.resolver = dns.resolver();

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace scepter::acme::testing {

class UnboundServer {
 public:
  // Starts unbound with `zone` ("example.test.") as a static local zone holding
  // `records` (unbound local-data lines). Names outside the zone are not resolved
  // (no recursion). ok() tells whether it runs; error() why not.
  explicit UnboundServer(std::string zone = "example.test.",
                         const std::vector<std::string>& records = {}) {
    char dir[] = "/tmp/scepter-unbound-XXXXXX";
    if (::mkdtemp(dir) == nullptr) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = dir;
    conf_ = dir_ + "/unbound.conf";
    port_ = free_port();
    std::ofstream conf(conf_);
    conf << "server:\n"
         << "  interface: 127.0.0.1\n"
         << "  port: " << port_ << "\n"
         << "  do-daemonize: no\n  use-syslog: no\n  chroot: \"\"\n  username: \"\"\n"
         << "  directory: \"" << dir_ << "\"\n"
         << "  pidfile: \"\"\n  logfile: \"\"\n  verbosity: 1\n"
         << "  do-ip6: no\n  module-config: \"iterator\"\n"
         << "  local-zone: \"" << zone << "\" static\n";
    for (const std::string& r : records) conf << "  local-data: \"" << r << "\"\n";
    conf << "remote-control:\n  control-enable: yes\n"
         << "  control-interface: " << dir_ << "/ctl.sock\n"
         << "  control-use-cert: no\n";
    conf.close();
    const std::string unbound = program("unbound");
    if (unbound.empty()) {
      error_ = "unbound is not installed";
      return;
    }
    pid_ = spawn({unbound, "-d", "-c", conf_}, dir_ + "/unbound.log");
    if (pid_ <= 0) {
      error_ = "cannot start unbound";
      return;
    }
    // Ready when its control socket answers (it binds its ports before that).
    for (int i = 0; i < 100; ++i) {
      if (control({"status"})) {
        ok_ = true;
        return;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::ifstream log(dir_ + "/unbound.log");
    std::stringstream text;
    text << log.rdbuf();
    error_ = "unbound did not start: " + text.str();
  }
  UnboundServer(const UnboundServer&) = delete;
  UnboundServer& operator=(const UnboundServer&) = delete;
  ~UnboundServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  std::uint16_t port() const { return port_; }
  // For ValidationSettings::resolver: "127.0.0.1:PORT".
  std::string resolver() const { return "127.0.0.1:" + std::to_string(port_); }

  // Adds one record: "_acme-challenge.a.example.test. 1 IN TXT \"value\"".
  bool add(const std::string& record) { return control({"local_data", record}); }
  // Removes every record of `name` ("_acme-challenge.a.example.test.").
  bool remove(const std::string& name) { return control({"local_data_remove", name}); }

 private:
  static std::string program(const std::string& name) {
    for (const char* dir : {"/usr/sbin/", "/usr/local/sbin/", "/usr/bin/", "/sbin/"}) {
      const std::string path = std::string(dir) + name;
      if (::access(path.c_str(), X_OK) == 0) return path;
    }
    return {};
  }

  // A port free for both UDP and TCP on 127.0.0.1 just now.
  static std::uint16_t free_port() {
    for (int attempt = 0; attempt < 20; ++attempt) {
      const int udp = ::socket(AF_INET, SOCK_DGRAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t len = sizeof a;
      ::bind(udp, reinterpret_cast<sockaddr*>(&a), sizeof a);
      ::getsockname(udp, reinterpret_cast<sockaddr*>(&a), &len);
      const int tcp = ::socket(AF_INET, SOCK_STREAM, 0);
      const bool tcp_free = ::bind(tcp, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      ::close(tcp);
      ::close(udp);
      if (tcp_free) return ntohs(a.sin_port);
    }
    return 0;
  }

  // Runs argv with stdout and stderr to `log` (or /dev/null); the child's pid.
  static pid_t spawn(const std::vector<std::string>& argv, const std::string& log) {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int out =
          ::open(log.empty() ? "/dev/null" : log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      if (out >= 0) {
        ::dup2(out, 1);
        ::dup2(out, 2);
      }
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    return pid;
  }

  bool control(const std::vector<std::string>& command) {
    const std::string tool = program("unbound-control");
    if (tool.empty()) return false;
    std::vector<std::string> argv = {tool, "-c", conf_};
    argv.insert(argv.end(), command.begin(), command.end());
    const pid_t pid = spawn(argv, dir_ + "/control.log");
    if (pid <= 0) return false;
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

  std::string dir_;
  std::string conf_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  bool ok_ = false;
  std::string error_;
};

}  // namespace scepter::acme::testing
