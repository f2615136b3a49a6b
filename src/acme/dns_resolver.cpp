#include "acme/dns_resolver.h"

#include <arpa/nameser.h>
#include <poll.h>
#include <sys/time.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

#include <ares.h>
#include <fmt/format.h>

namespace scepter::acme {
namespace {

using Clock = std::chrono::steady_clock;

struct ServerAddress {
  IpAddress address;
  int port = 53;
};

std::optional<ServerAddress> parse_server(std::string_view text) {
  ServerAddress out;
  std::string_view host = text;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      if (port.empty()) return std::nullopt;
    }
    const auto a = parse_ip_address(host);
    if (!a || !a->v6) return std::nullopt;
    out.address = *a;
  } else if (auto a = parse_ip_address(text)) {
    out.address = *a;  // a bare IPv4 or IPv6 address
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const auto v4 = parse_ip_address(text.substr(0, colon));
    if (!v4 || v4->v6) return std::nullopt;
    out.address = *v4;
    port = text.substr(colon + 1);
    if (port.empty()) return std::nullopt;
  }
  if (!port.empty()) {
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
    if (ec != std::errc() || end != port.data() + port.size() || out.port < 1 || out.port > 65535) {
      return std::nullopt;
    }
  }
  return out;
}

void init_library() {
  static const int rc = ares_library_init(ARES_LIB_INIT_ALL);
  (void)rc;  // a failure shows in ares_init_options
}

Status ares_status(int rc, const std::string& name, std::string_view what) {
  switch (rc) {
    case ARES_ENOTFOUND:
      return not_found(fmt::format("DNS: {} does not exist", name));
    case ARES_ENODATA:
      return not_found(fmt::format("DNS: {} has no {} record", name, what));
    case ARES_EBADNAME:
      return invalid_argument(fmt::format("DNS: {} is not a valid name", name));
    case ARES_ETIMEOUT:
      return unavailable(fmt::format("DNS: the {} query for {} timed out", what, name));
    default:
      return unavailable(
          fmt::format("DNS: the {} query for {} failed: {}", what, name, ares_strerror(rc)));
  }
}

// One c-ares channel with its own timeouts and server, destroyed (cancelling what is
// still pending) with the object.
class Channel {
 public:
  Channel() = default;
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  ~Channel() {
    if (channel_ != nullptr) ares_destroy(channel_);
  }

  Status open(const DnsQuery& q) {
    init_library();
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(q.deadline - Clock::now());
    ares_options options{};
    // Each try waits a part of the time left, so that a lost UDP packet is retried.
    options.timeout = static_cast<int>(std::clamp<long long>(left.count() / 3, 100, 5000));
    options.tries = 3;
    options.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    const int rc = ares_init_options(&channel_, &options,
                                     ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS);
    if (rc != ARES_SUCCESS) {
      channel_ = nullptr;
      return unavailable(fmt::format("DNS: cannot set up the resolver: {}", ares_strerror(rc)));
    }
    if (!q.resolver.empty()) {
      const auto server = parse_server(q.resolver);
      if (!server) return invalid_argument("DNS: bad resolver address " + q.resolver);
      const std::string csv = server->address.v6
                                  ? fmt::format("[{}]:{}", server->address.text(), server->port)
                                  : fmt::format("{}:{}", server->address.text(), server->port);
      const int set = ares_set_servers_ports_csv(channel_, csv.c_str());
      if (set != ARES_SUCCESS) {
        return invalid_argument(
            fmt::format("DNS: cannot use resolver {}: {}", q.resolver, ares_strerror(set)));
      }
    }
    return ok_status();
  }

  ares_channel get() const { return channel_; }

  // Runs the channel until `done()` or the deadline; false on the deadline.
  template <class Done>
  bool run(Clock::time_point deadline, Done done) {
    while (!done()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      ares_socket_t socks[ARES_GETSOCK_MAXNUM];
      const int bits = ares_getsock(channel_, socks, ARES_GETSOCK_MAXNUM);
      pollfd fds[ARES_GETSOCK_MAXNUM];
      nfds_t n = 0;
      for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
        short events = 0;
        if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
        if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
        if (events == 0) continue;
        fds[n++] = pollfd{socks[i], events, 0};
      }
      timeval max{static_cast<time_t>(left.count() / 1000),
                  static_cast<suseconds_t>(left.count() % 1000 * 1000)};
      timeval tv{};
      const timeval* wait = ares_timeout(channel_, &max, &tv);
      const int ms = static_cast<int>(wait->tv_sec * 1000 + (wait->tv_usec + 999) / 1000);
      const int ready = ::poll(fds, n, ms);
      if (ready <= 0) {
        // Nothing readable: let c-ares handle its timeouts (retries, next server).
        ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        continue;
      }
      for (nfds_t i = 0; i < n; ++i) {
        const bool r = (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
        const bool w = (fds[i].revents & POLLOUT) != 0;
        if (r || w) {
          ares_process_fd(channel_, r ? fds[i].fd : ARES_SOCKET_BAD,
                          w ? fds[i].fd : ARES_SOCKET_BAD);
        }
      }
    }
    return true;
  }

 private:
  ares_channel channel_ = nullptr;
};

// What one query's callback leaves behind.
struct Answer {
  bool done = false;
  int status = ARES_SUCCESS;
  std::string bytes;
};

void on_answer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  auto* a = static_cast<Answer*>(arg);
  a->done = true;
  a->status = status;
  if (status == ARES_SUCCESS && abuf != nullptr && alen > 0) {
    a->bytes.assign(reinterpret_cast<const char*>(abuf), static_cast<std::size_t>(alen));
  }
}

const unsigned char* raw(const Answer& a) {
  return reinterpret_cast<const unsigned char*>(a.bytes.data());
}

}  // namespace

bool valid_resolver(const std::string& resolver) { return parse_server(resolver).has_value(); }

Result<std::vector<std::string>> lookup_txt(const DnsQuery& query) {
  Answer answer;  // declared before the channel: its callback may run as it is destroyed
  Channel channel;
  RETURN_IF_ERROR(channel.open(query));
  ares_query(channel.get(), query.name.c_str(), ns_c_in, ns_t_txt, on_answer, &answer);
  if (!channel.run(query.deadline, [&] { return answer.done; })) {
    return fail(ares_status(ARES_ETIMEOUT, query.name, "TXT"));
  }
  if (answer.status != ARES_SUCCESS) return fail(ares_status(answer.status, query.name, "TXT"));
  ares_txt_ext* txt = nullptr;
  const int rc = ares_parse_txt_reply_ext(raw(answer), static_cast<int>(answer.bytes.size()), &txt);
  if (rc != ARES_SUCCESS) return fail(ares_status(rc, query.name, "TXT"));
  std::vector<std::string> values;
  for (const ares_txt_ext* t = txt; t != nullptr; t = t->next) {
    if (t->record_start || values.empty()) values.emplace_back();
    values.back().append(reinterpret_cast<const char*>(t->txt), t->length);
  }
  ares_free_data(txt);
  if (values.empty()) return fail(ares_status(ARES_ENODATA, query.name, "TXT"));
  return values;
}

Result<std::vector<IpAddress>> lookup_addresses(const DnsQuery& query) {
  Answer aaaa;
  Answer a;
  Channel channel;
  RETURN_IF_ERROR(channel.open(query));
  ares_query(channel.get(), query.name.c_str(), ns_c_in, ns_t_aaaa, on_answer, &aaaa);
  ares_query(channel.get(), query.name.c_str(), ns_c_in, ns_t_a, on_answer, &a);
  if (!channel.run(query.deadline, [&] { return a.done && aaaa.done; })) {
    return fail(ares_status(ARES_ETIMEOUT, query.name, "A/AAAA"));
  }
  std::vector<IpAddress> out;
  if (aaaa.status == ARES_SUCCESS) {
    ares_addr6ttl addrs[32];
    int count = 32;
    const int rc = ares_parse_aaaa_reply(raw(aaaa), static_cast<int>(aaaa.bytes.size()), nullptr,
                                         addrs, &count);
    for (int i = 0; rc == ARES_SUCCESS && i < count; ++i) {
      IpAddress ip;
      ip.v6 = true;
      std::memcpy(ip.bytes.data(), &addrs[i].ip6addr, 16);
      out.push_back(ip);
    }
  }
  if (a.status == ARES_SUCCESS) {
    ares_addrttl addrs[32];
    int count = 32;
    const int rc =
        ares_parse_a_reply(raw(a), static_cast<int>(a.bytes.size()), nullptr, addrs, &count);
    for (int i = 0; rc == ARES_SUCCESS && i < count; ++i) {
      IpAddress ip;
      std::memcpy(ip.bytes.data(), &addrs[i].ipaddr, 4);
      out.push_back(ip);
    }
  }
  if (!out.empty()) return out;
  // Neither answered with addresses: report the more telling failure (a resolver
  // failure before "no such name").
  const int worst =
      a.status != ARES_SUCCESS && a.status != ARES_ENOTFOUND && a.status != ARES_ENODATA
          ? a.status
          : (aaaa.status != ARES_SUCCESS && aaaa.status != ARES_ENOTFOUND &&
                     aaaa.status != ARES_ENODATA
                 ? aaaa.status
                 : (a.status == ARES_SUCCESS ? ARES_ENODATA : a.status));
  return fail(ares_status(worst, query.name, "A/AAAA"));
}

}  // namespace scepter::acme
