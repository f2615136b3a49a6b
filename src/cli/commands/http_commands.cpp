// ip http server, ip http port, ip http bind-address, ip http secure-server,
// ip http secure-port, ip http secure-trustpoint, ip http metrics (config mode), their
// config writer,
// and `show ip http server status` (exec). The SCEP service listens only while `ip http
// server` is configured (the seed: "The HTTP server must be enabled on the router for the
// certificate server to use SCEP"). `ip http port 0` (a Scepter extension) binds any free
// port; `show ip http server status` tells which.
#include <arpa/inet.h>

#include <optional>
#include <string>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/more_commands.h"
#include "cli/context.h"

namespace scepter::cli {
namespace {

constexpr int kDefaultPort = 80;
constexpr int kDefaultSecurePort = 443;

CmdResult http_server(Context& ctx, const Args& a) {
  const bool was_on = ctx.device().http().server;
  ctx.device().edit_http([&](ca::HttpConfig& h) { h.server = !a.has("no"); });
  if (was_on && a.has("no")) {
    for (const auto& server : ctx.device().servers()) {
      if (server->state() == ca::ServerState::kEnabled) {
        ctx.print(kHttpOffNote);
        break;
      }
    }
  }
  return {};
}

CmdResult http_port(Context& ctx, const Args& a) {
  ctx.device().edit_http([&](ca::HttpConfig& h) {
    h.port = a.has("no") ? kDefaultPort : static_cast<int>(a.integer("number"));
  });
  return {};
}

CmdResult https_server(Context& ctx, const Args& a) {
  ctx.device().edit_http([&](ca::HttpConfig& h) { h.secure_server = !a.has("no"); });
  return {};
}

CmdResult https_port(Context& ctx, const Args& a) {
  ctx.device().edit_http([&](ca::HttpConfig& h) {
    h.secure_port = a.has("no") ? kDefaultSecurePort : static_cast<int>(a.integer("number"));
  });
  return {};
}

CmdResult http_metrics(Context& ctx, const Args& a) {
  ctx.device().edit_http([&](ca::HttpConfig& h) { h.metrics = !a.has("no"); });
  return {};
}

// The seed: the certificate server's own trustpoint (and its certificate) cannot be the
// device's identity; `ip http secure-trustpoint` must name another trustpoint, one the
// device enrolled in (with a CA of its own or another).
CmdResult https_trustpoint(Context& ctx, const Args& a) {
  if (a.has("no")) {
    ctx.device().edit_http([](ca::HttpConfig& h) { h.secure_trustpoint.clear(); });
    return {};
  }
  const std::string name(a.word("trustpoint"));
  if (ctx.device().server(name)) {
    return ctx.error(fmt::format(
        "Trustpoint {} belongs to the certificate server {}: its certificate cannot be the "
        "HTTPS server's identity. Name another trustpoint, enrolled with this or another CA, "
        "or enter \"no ip http secure-trustpoint\" for a certificate the local CA issues.",
        name, name));
  }
  if (!ctx.device().trustpoint(name)) {
    return ctx.error(fmt::format("Trustpoint {} does not exist.", name));
  }
  ctx.device().edit_http([&](ca::HttpConfig& h) { h.secure_trustpoint = name; });
  return {};
}

// An IPv4 or IPv6 literal in its canonical text ("::1" for "0:0::0001"); nullopt when
// `text` is neither.
std::optional<std::string> canonical_address(std::string_view text) {
  std::string s(text);
  char buf[INET6_ADDRSTRLEN] = {};
  in_addr a4{};
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1 && inet_ntop(AF_INET, &a4, buf, sizeof buf)) {
    return std::string(buf);
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, s.c_str(), &a6) == 1 && inet_ntop(AF_INET6, &a6, buf, sizeof buf)) {
    return std::string(buf);
  }
  return std::nullopt;
}

CmdResult http_bind_address(Context& ctx, const Args& a) {
  if (a.has("no")) {
    ctx.device().edit_http([](ca::HttpConfig& h) { h.bind_address.clear(); });
    return {};
  }
  auto address = canonical_address(a.word("address"));
  if (!address) return ctx.invalid_input(a, "address");
  ctx.device().edit_http([&](ca::HttpConfig& h) { h.bind_address = *address; });
  return {};
}

// IOS's first lines of `show ip http server status`, with the port actually bound, and the
// bind address (a Scepter setting). While the listener does not (yet) serve the current
// settings, the configured port is shown with "not listening".
CmdResult show_http_server_status(Context& ctx, const Args&) {
  const ca::HttpConfig http = ctx.device().http();
  const ca::Device::HttpListening listening = ctx.device().http_listening();
  const bool serving = http.server && listening.port != 0 && listening.config.port == http.port &&
                       listening.config.bind_address == http.bind_address;
  std::string port = std::to_string(serving ? listening.port : http.port);
  if (!serving && http.port == 0) port += " (any free port)";
  if (!serving && http.server) port += ", not listening";
  ctx.printf("HTTP server status: {}\n", http.server ? "Enabled" : "Disabled");
  ctx.printf("HTTP server port: {}\n", port);
  ctx.printf("HTTP server bind address: {}\n",
             http.bind_address.empty() ? "all addresses" : http.bind_address);
  const ca::Device::HttpsListening secure = ctx.device().https_listening();
  const bool secure_serving = http.secure_server && secure.port != 0 &&
                              secure.config.secure_port == http.secure_port &&
                              secure.config.bind_address == http.bind_address;
  std::string secure_port = std::to_string(secure_serving ? secure.port : http.secure_port);
  if (!secure_serving && http.secure_port == 0) secure_port += " (any free port)";
  if (!secure_serving && http.secure_server) {
    secure_port +=
        secure.problem.empty() ? ", not listening" : ", not listening: " + secure.problem;
  }
  ctx.printf("HTTP secure server capability: Present\n");
  ctx.printf("HTTP secure server status: {}\n", http.secure_server ? "Enabled" : "Disabled");
  ctx.printf("HTTP secure server port: {}\n", secure_port);
  ctx.printf("HTTP secure server trustpoint: {}\n", http.secure_trustpoint.empty()
                                                        ? "none (a certificate from the local CA)"
                                                        : http.secure_trustpoint);
  ctx.printf("HTTP metrics (/metrics): {}\n", http.metrics ? "Enabled" : "Disabled");
  return {};
}

// Port and address come before `ip http server`, so that a configuration being loaded
// starts the server with its final settings. Like every writer, it leaves defaults out:
// the server is off by default in scepterd, so "no ip http server" is not printed.
void write_http(ca::Device& device, ConfigText& out) {
  const ca::HttpConfig http = device.http();
  if (http.port != kDefaultPort) out.line(fmt::format("ip http port {}", http.port));
  if (!http.bind_address.empty()) out.line("ip http bind-address " + http.bind_address);
  if (http.server) out.line("ip http server");
  if (http.secure_port != kDefaultSecurePort) {
    out.line(fmt::format("ip http secure-port {}", http.secure_port));
  }
  if (!http.secure_trustpoint.empty()) {
    out.line("ip http secure-trustpoint " + http.secure_trustpoint);
  }
  if (http.secure_server) out.line("ip http secure-server");
  if (!http.metrics) out.line("no ip http metrics");
}

}  // namespace

void register_http_commands(CommandTable& t) {
  constexpr std::string_view kIp = "Global IP configuration subcommands";
  constexpr std::string_view kHttp = "HTTP server configuration";
  t.add(Node::kConfig, "[no] ip http server", {kNoHelp, kIp, kHttp, "Enable HTTP server"},
        http_server);
  t.add(Node::kConfig, "[no] ip http port (0-65535)$number",
        {kNoHelp, kIp, kHttp, "HTTP server port", "Port number (default 80; 0: any free port)"},
        http_port);
  t.add(Node::kConfig, "[no] ip http bind-address WORD$address",
        {kNoHelp, kIp, kHttp, "Address the HTTP server listens on",
         "IPv4 or IPv6 address (default: all addresses)"},
        http_bind_address);
  t.add(Node::kConfig, "[no] ip http secure-server",
        {kNoHelp, kIp, kHttp, "Enable HTTP secure server (HTTPS: EST)"}, https_server);
  t.add(Node::kConfig, "[no] ip http secure-port (0-65535)$number",
        {kNoHelp, kIp, kHttp, "Set the HTTP secure server port number",
         "Port number (default 443; 0: any free port)"},
        https_port);
  t.add(Node::kConfig, "[no] ip http secure-trustpoint WORD$trustpoint",
        {kNoHelp, kIp, kHttp, "Set the HTTP secure server certificate trustpoint",
         "Trustpoint name (default: a certificate from the local CA)"},
        https_trustpoint);
  t.add(Node::kConfig, "[no] ip http metrics",
        {kNoHelp, kIp, kHttp, "Serve /metrics (Prometheus text format; default on)"}, http_metrics);
  t.add(Node::kExec, "show ip http server status",
        {"Show running system information", "IP information", "HTTP information",
         "HTTP server information", "HTTP server status"},
        show_http_server_status);
  t.add_config_writer(config_order::kHttp, write_http);
}

}  // namespace scepter::cli
