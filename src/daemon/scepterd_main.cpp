// scepterd: the certificate server daemon. Wiring only: options, the master passphrase,
// the Device, the command table, the startup-config, the control socket and the timer.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string_view>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "ca/device.h"
#include "cli/command_table.h"
#include "cli/commands/commands.h"
#include "cli/config.h"
#include "cli/session.h"
#include "common/fs.h"
#include "common/log.h"
#include "daemon/control_server.h"
#include "daemon/http_frontend.h"
#include "daemon/master_key.h"
#include "scep/upstream_client.h"

namespace {

std::atomic<bool> g_stop{false};
// The main loop's one-second sleep. A plain std::mutex on purpose: it guards no data (the
// flag is atomic, set by the signal handler) and only serves the condition variable.
std::mutex g_mu;
std::condition_variable g_cv;

void on_signal(int) { g_stop = true; }

}  // namespace

int main(int argc, char** argv) {
  using namespace scepter;
  CLI::App app{"scepterd: a certificate server with the Cisco IOS CLI"};
  std::string nvram = "/var/lib/scepterd/nvram";
  std::string flash;
  std::string socket_path = "/run/scepterd/scepterd.sock";
  std::string socket_mode = "0600";
  std::string password_file;
  std::string log_file;
  bool verbose = false;
  std::string log_format = "text";
  int audit_checkpoint_seconds = 60;
  app.add_option("--nvram", nvram, "Directory that plays the router's NVRAM (startup-config)");
  app.add_option("--flash", flash, "Directory for flash: (default <nvram>/../flash)");
  app.add_option("--socket", socket_path, "Control socket for the scepter shell");
  app.add_option("--socket-mode", socket_mode,
                 "Permissions of the control socket: 0600 (root and scepterd's user), or 0660 "
                 "(its group too)")
      ->check(CLI::IsMember({"0600", "0660"}));
  app.add_option("--password-file", password_file,
                 "File holding the master passphrase that encrypts private keys");
  app.add_option("--log", log_file, "Log file (default: standard error)");
  app.add_flag("-v,--verbose", verbose, "Log debug messages");
  app.add_option("--log-format", log_format,
                 "text (the default) or json: one JSON object per line, times in UTC")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--audit-checkpoint-seconds", audit_checkpoint_seconds,
                 "How often the audit log gets a checkpoint signed by a CA key while records "
                 "arrive (default 60)")
      ->check(CLI::Range(1, 86400));
  CLI11_PARSE(app, argc, argv);

  log::init(verbose, log_file, log_format == "json" ? log::Format::kJson : log::Format::kText);
  // NVRAM holds the keys, the startup-config and the private-config: a directory another
  // user can write to (or its parent) would let them swap any of these.
  Status nvram_ok = fs::make_dirs(nvram);
  if (nvram_ok.ok()) nvram_ok = fs::check_private_dir(nvram, "NVRAM directory");
  if (!nvram_ok.ok()) {
    std::fprintf(stderr, "scepterd: %s\n", nvram_ok.message().c_str());
    return 1;
  }
  auto master = daemon::load_master_passphrase(password_file, nvram);
  if (!master.has_value()) {
    std::fprintf(stderr, "scepterd: %s\n", master.error().to_string().c_str());
    return 1;
  }
  if (master->generated) {
    log::warn(
        "no master passphrase given: generated one in {} (mode 0600); keep it with the "
        "keys, or use --password-file",
        master->source);
  } else {
    log::info("master passphrase from {}", master->source);
  }

  SystemClock clock;
  // The trustpoints' SCEP client (crypto pki authenticate/enroll, sub-CA and RA).
  auto device =
      ca::Device::create({nvram, flash, master->passphrase, std::make_shared<scep::HttpUpstream>(),
                          std::chrono::seconds(audit_checkpoint_seconds)},
                         clock);
  daemon::wipe(master->passphrase);  // the Device keeps the one copy it needs
  if (!device.has_value()) {
    std::fprintf(stderr, "scepterd: %s\n", device.error().to_string().c_str());
    return 1;
  }
  if (Status s = fs::check_private_dir((*device)->flash_dir(), "Flash directory"); !s.ok()) {
    std::fprintf(stderr, "scepterd: %s\n", s.message().c_str());
    return 1;
  }
  cli::CommandTable table;
  cli::register_all_commands(table);

  const std::string startup = (*device)->startup_config_path();
  if (auto text = fs::read_file(startup); text.has_value()) {
    // It holds passwords: an older version wrote it 0644.
    if (Status s = fs::restrict_mode(startup, 0600); !s.ok()) {
      log::warn("cannot make {} private: {}", startup, s.message());
    }
    cli::LoadResult r = cli::load_config(table, **device, *text);
    // One log line per output line: the log escapes newlines. Failing lines come with
    // their passwords masked (load_config).
    std::string_view out = r.output;
    while (!out.empty()) {
      const auto nl = out.find('\n');
      log::info("startup-config: {}", out.substr(0, nl));
      out.remove_prefix(nl == std::string_view::npos ? out.size() : nl + 1);
    }
    if (r.errors > 0) log::warn("startup-config: {} line(s) failed", r.errors);
  } else if (text.error().code() != Code::kNotFound) {
    log::error("cannot read {}: {}", startup, text.error().message());
  }

  daemon::ControlServer control(
      {.path = socket_path, .socket_mode = socket_mode == "0660" ? 0660u : 0600u},
      [&](const std::string& peer) -> std::unique_ptr<cli::ShellSession> {
        (*device)->audit().record({"login", "shell " + peer, "", "shell session opened", "ok"});
        return std::make_unique<cli::Session>(table, **device,
                                              cli::SessionOptions{.actor = "shell " + peer});
      });
  if (Status s = control.start(); !s.ok()) {
    std::fprintf(stderr, "scepterd: control socket: %s\n", s.to_string().c_str());
    return 1;
  }
  log::info("scepterd ready; shell: scepter --socket {}", socket_path);
  (*device)->audit().record(
      {"start", "scepterd", "", fmt::format("scepterd started (pid {})", ::getpid()), "ok"});

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // The timers of every certificate server (CRL refresh, request expiry, recovery), and
  // the HTTP listener following `ip http ...`.
  daemon::HttpFrontend http(**device);
  // The trustpoints talk to their CAs on a thread of their own (see poll_trustpoints()).
  std::thread trustpoints([&device] {
    while (!g_stop) {
      (*device)->poll_trustpoints();
      std::unique_lock<std::mutex> lock(g_mu);
      g_cv.wait_for(lock, std::chrono::seconds(1), [] { return g_stop.load(); });
    }
  });
  while (!g_stop) {
    (*device)->tick();
    http.reconcile();
    std::unique_lock<std::mutex> lock(g_mu);
    g_cv.wait_for(lock, std::chrono::seconds(1), [] { return g_stop.load(); });
  }
  log::info("scepterd stopping");
  (*device)->audit().record({"stop", "scepterd", "", "scepterd stopping", "ok"});
  trustpoints.join();
  control.stop();
  return 0;
}
