#include "acme/validation.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "acme/dns_resolver.h"
#include "common/unique_fd.h"
#include "files/curl_util.h"
#include "pki/digest.h"
#include "pki/encoding.h"
#include "pki/tls_alpn_probe.h"

namespace scepter::acme {
namespace {

using Clock = std::chrono::steady_clock;
using files::CurlPtr;

// RFC 8555 8.3: the key authorization file is small; anything past this is not one.
constexpr std::size_t kMaxBody = 8192;

// A name that can go into a URL and a DNS query as it is (the service checked it
// already; this keeps odd bytes out of both).
bool plausible_dns_name(std::string_view s) {
  return !s.empty() && s.size() <= 253 && s.front() != '.' && s.back() != '.' &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_';
         });
}

// The received bytes, shortened and with control characters replaced, for a detail.
std::string quoted(std::string_view bytes) {
  std::string out;
  for (char c : bytes.substr(0, 64)) {
    out += (c >= 0x20 && c < 0x7F && c != '"') ? c : '?';
  }
  return "\"" + out + (bytes.size() > 64 ? "...\"" : "\"");
}

std::chrono::milliseconds left(Clock::time_point deadline) {
  return std::max(std::chrono::milliseconds(0),
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

bool allowed(const IpAddress& a, const ValidationSettings& settings) {
  if (!is_special_address(a)) return true;
  return std::any_of(settings.connect_allowed.begin(), settings.connect_allowed.end(),
                     [&](const IpPrefix& p) { return p.contains(a); });
}

// One validation: its identifier, its deadline, and the detail prefix of its problems.
struct Attempt {
  ChallengeType type;
  const Identifier& identifier;
  const ValidationSettings& settings;
  Clock::time_point deadline;

  Problem problem(std::string type_name, std::string_view detail) const {
    const int status = type_name == "serverInternal" ? 500 : 400;
    return Problem{std::move(type_name),
                   fmt::format("{} for {} {}: {}", challenge_type_name(type), identifier.type,
                               identifier.value, detail),
                   status};
  }
};

// The addresses validation may connect to for the identifier, in the order to try them
// (the resolver's AAAA first, then A), or the problem that leaves none.
Result<std::vector<IpAddress>> targets(const Attempt& at, std::optional<Problem>& problem) {
  std::vector<IpAddress> found;
  if (at.identifier.type == "ip") {
    found.push_back(*parse_ip_address(at.identifier.value));
  } else {
    auto addresses =
        lookup_addresses(DnsQuery{at.identifier.value, at.settings.resolver, at.deadline});
    if (!addresses) {
      problem =
          at.problem(addresses.error().code() == Code::kInvalidArgument ? "serverInternal" : "dns",
                     addresses.error().message());
      return fail(addresses.error());
    }
    found = std::move(*addresses);
  }
  std::vector<IpAddress> usable;
  std::vector<std::string> refused;
  for (const IpAddress& a : found) {
    if (allowed(a, at.settings)) {
      usable.push_back(a);
    } else {
      refused.push_back(a.text());
    }
  }
  if (usable.empty()) {
    const std::string detail =
        fmt::format("{} {}, which validation does not connect to (acme allow connect)",
                    at.identifier.type == "ip" ? "the address is" : "the name resolves to",
                    fmt::join(refused, ", "));
    problem = at.problem("connection", detail);
    return fail(permission_denied(detail));
  }
  return usable;
}

// ---- http-01 (RFC 8555 8.3) ----

struct Body {
  std::string bytes;
  bool too_large = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* body = static_cast<Body*>(user);
  const std::size_t len = size * n;
  if (body->bytes.size() + len > kMaxBody) {
    body->too_large = true;
    return 0;  // aborts the transfer
  }
  body->bytes.append(data, len);
  return len;
}

std::optional<Problem> validate_http01(const Attempt& at, const std::string& token,
                                       const std::string& key_authorization) {
  std::optional<Problem> problem;
  auto addresses = targets(at, problem);
  if (!addresses) return problem;
  const int port = at.settings.http_port;
  const bool v6_host = at.identifier.type == "ip" && parse_ip_address(at.identifier.value)->v6;
  const std::string host = v6_host ? "[" + at.identifier.value + "]" : at.identifier.value;
  const std::string url = fmt::format("http://{}{}/.well-known/acme-challenge/{}", host,
                                      port == 80 ? "" : fmt::format(":{}", port), token);
  files::init_curl();
  std::string last_failure = "no address to try";
  for (const IpAddress& a : *addresses) {
    const auto remaining = left(at.deadline);
    if (remaining.count() <= 0) {
      return at.problem("connection", fmt::format("timed out ({})", last_failure));
    }
    CurlPtr<CURL> curl(curl_easy_init());
    if (!curl) return at.problem("serverInternal", "curl_easy_init failed");
    CURL* h = curl.get();
    // The connection goes to the address checked above, whatever the URL's host says.
    const std::string connect_to =
        fmt::format("::{}:{}", a.v6 ? "[" + a.text() + "]" : a.text(), port);
    CurlPtr<curl_slist> connect_list(curl_slist_append(nullptr, connect_to.c_str()));
    Body body;
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_CONNECT_TO, connect_list.get());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(remaining.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(remaining.count()));
    curl_easy_setopt(h, CURLOPT_USERAGENT, "Scepter ACME validation");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
    const CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (body.too_large) {
      return at.problem(
          "incorrectResponse",
          fmt::format("the response from {} is larger than {} bytes", a.text(), kMaxBody));
    }
    if (rc != CURLE_OK || status == 0) {
      last_failure = fmt::format("{} port {}: {}", a.text(), port,
                                 error[0] != '\0' ? error : curl_easy_strerror(rc));
      if (rc == CURLE_OPERATION_TIMEDOUT) {
        return at.problem("connection", "timed out: " + last_failure);
      }
      continue;  // the next address may answer
    }
    if (status >= 300 && status < 400) {
      return at.problem(
          "incorrectResponse",
          fmt::format("{} answered {}: redirects are not followed", a.text(), status));
    }
    if (status != 200) {
      return at.problem("unauthorized", fmt::format("{} answered {} for {}", a.text(), status,
                                                    "/.well-known/acme-challenge/" + token));
    }
    std::string_view got = body.bytes;
    while (!got.empty() &&
           (got.back() == ' ' || got.back() == '\t' || got.back() == '\r' || got.back() == '\n')) {
      got.remove_suffix(1);
    }
    if (got != key_authorization) {
      return at.problem("incorrectResponse",
                        fmt::format("{} answered {}, not the key authorization {}", a.text(),
                                    quoted(got), quoted(key_authorization)));
    }
    return std::nullopt;
  }
  return at.problem("connection", last_failure);
}

// ---- dns-01 (RFC 8555 8.4) ----

std::optional<Problem> validate_dns01(const Attempt& at, const std::string& key_authorization) {
  if (at.identifier.type != "dns") {
    return at.problem("malformed", "dns-01 applies to DNS names only (RFC 8738 7)");
  }
  std::string base = at.identifier.value;
  if (base.rfind("*.", 0) == 0) base.erase(0, 2);  // a wildcard's authorization
  const std::string name = "_acme-challenge." + base;
  auto values = lookup_txt(DnsQuery{name, at.settings.resolver, at.deadline});
  if (!values) {
    return at.problem(values.error().code() == Code::kInvalidArgument ? "serverInternal" : "dns",
                      values.error().message());
  }
  const std::string want =
      pki::base64url_encode(pki::digest(pki::Hash::kSha256, key_authorization));
  for (const std::string& v : *values) {
    if (v == want) return std::nullopt;
  }
  std::vector<std::string> shown;
  for (std::size_t i = 0; i < values->size() && i < 4; ++i) shown.push_back(quoted((*values)[i]));
  return at.problem("incorrectResponse",
                    fmt::format("no TXT record at {} is {} (found {}{})", name, quoted(want),
                                fmt::join(shown, ", "), values->size() > 4 ? ", ..." : ""));
}

// ---- tls-alpn-01 (RFC 8737) ----

// A TCP connection to a:port, or why there is none by the deadline.
Result<UniqueFd> connect_tcp(const IpAddress& a, int port, Clock::time_point deadline) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (a.v6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(static_cast<std::uint16_t>(port));
    std::memcpy(&s6->sin6_addr, a.bytes.data(), 16);
    len = sizeof *s6;
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(static_cast<std::uint16_t>(port));
    std::memcpy(&s4->sin_addr, a.bytes.data(), 4);
    len = sizeof *s4;
  }
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail(unavailable(fmt::format("socket: {}", std::strerror(errno))));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    if (errno != EINPROGRESS) {
      return fail(unavailable(fmt::format("{} port {}: {}", a.text(), port, std::strerror(errno))));
    }
    pollfd p{fd.get(), POLLOUT, 0};
    const auto wait = left(deadline);
    if (wait.count() <= 0 || ::poll(&p, 1, static_cast<int>(wait.count())) <= 0) {
      return fail(unavailable(fmt::format("{} port {}: timed out", a.text(), port)));
    }
    int err = 0;
    socklen_t err_len = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &err_len);
    if (err != 0) {
      return fail(unavailable(fmt::format("{} port {}: {}", a.text(), port, std::strerror(err))));
    }
  }
  return fd;
}

std::optional<Problem> validate_tls_alpn01(const Attempt& at,
                                           const std::string& key_authorization) {
  std::optional<Problem> problem;
  auto addresses = targets(at, problem);
  if (!addresses) return problem;
  const bool is_ip = at.identifier.type == "ip";
  const std::string sni = is_ip ? pki::tls_alpn_server_name(*parse_ip_address(at.identifier.value))
                                : at.identifier.value;
  const int port = at.settings.tls_port;
  std::string last_failure;
  for (const IpAddress& a : *addresses) {
    auto fd = connect_tcp(a, port, at.deadline);
    if (!fd) {
      last_failure = fd.error().message();
      continue;  // the next address may answer
    }
    auto der = pki::fetch_tls_alpn_certificate(fd->get(), sni, at.deadline);
    if (!der) {
      return at.problem(der.error().code() == Code::kUnavailable ? "connection" : "tls",
                        fmt::format("{} port {}: {}", a.text(), port, der.error().message()));
    }
    const Status verdict =
        pki::check_tls_alpn_certificate(*der, at.identifier.value, is_ip, key_authorization);
    if (!verdict.ok()) {
      return at.problem("incorrectResponse",
                        fmt::format("{} port {}: {}", a.text(), port, verdict.message()));
    }
    return std::nullopt;
  }
  return at.problem("connection", last_failure);
}

}  // namespace

const char* challenge_type_name(ChallengeType t) {
  switch (t) {
    case ChallengeType::kHttp01:
      return "http-01";
    case ChallengeType::kDns01:
      return "dns-01";
    case ChallengeType::kTlsAlpn01:
      return "tls-alpn-01";
  }
  return "unknown";
}

std::optional<ChallengeType> challenge_type_by_name(std::string_view name) {
  for (ChallengeType t :
       {ChallengeType::kHttp01, ChallengeType::kDns01, ChallengeType::kTlsAlpn01}) {
    if (name == challenge_type_name(t)) return t;
  }
  return std::nullopt;
}

std::optional<Problem> validate(ChallengeType type, const Identifier& identifier,
                                const std::string& token, const std::string& key_authorization,
                                const ValidationSettings& settings) {
  const Attempt at{type, identifier, settings, Clock::now() + settings.timeout};
  if (identifier.type == "ip") {
    if (!parse_ip_address(identifier.value)) {
      return at.problem("malformed", "not an IP address");
    }
  } else if (identifier.type == "dns") {
    if (!plausible_dns_name(identifier.value.rfind("*.", 0) == 0 && type == ChallengeType::kDns01
                                ? identifier.value.substr(2)
                                : identifier.value)) {
      return at.problem("malformed", "not a DNS name validation can look up");
    }
  } else {
    return at.problem("unsupportedIdentifier", "unknown identifier type");
  }
  // The token goes into a URL; RFC 8555 8.1 makes it base64url.
  if (token.empty() || !pki::base64url_decode(token).has_value() ||
      key_authorization.rfind(token + ".", 0) != 0) {
    return at.problem("serverInternal", "the token or key authorization is malformed");
  }
  switch (type) {
    case ChallengeType::kHttp01:
      return validate_http01(at, token, key_authorization);
    case ChallengeType::kDns01:
      return validate_dns01(at, key_authorization);
    case ChallengeType::kTlsAlpn01:
      return validate_tls_alpn01(at, key_authorization);
  }
  return at.problem("serverInternal", "unknown challenge type");
}

}  // namespace scepter::acme
