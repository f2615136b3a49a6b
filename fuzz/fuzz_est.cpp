// libFuzzer target for the EST request paths: EstService::handle() on a real Device with
// one enabled certificate server, fed what a client on the network controls — the method,
// the path, the Authorization header, the body and the certificate it presented in the
// TLS handshake. The first byte picks the method and whether the Basic password is the
// live one-time password (so that bodies reach the PKCS#10 reader and the request
// policy); the rest is split at NUL bytes into path, Authorization, body and peer DER.
// Every answer must be a known status; nothing may crash.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ca/device_test_support.h"
#include "est/service.h"
#include "fuzz_input.h"
#include "pki/encoding.h"
#include "pki/password_hash.h"

namespace {

struct Fixture : scepter::ca::testing::DeviceWithServer {
  Fixture() {
    const scepter::Status opened = open_device([](scepter::ca::ServerConfig& c) {
      c.archive_enabled = false;
      c.est = true;
      // An account, so that Basic credentials naming it reach the password check (a few a
      // minute: the rest are refused unchecked).
      c.est_users["fuzz"] = *scepter::pki::type9_hash("fuzz-account");
    });
    CA_ASSERT(opened.ok(), "an enabled server");
    service = std::make_unique<scepter::est::EstService>(*device_);
  }
  // The live one-time password, made again once a grant consumed it.
  std::string password() {
    if (current.empty() || !server_->one_time_password_matches(current)) {
      auto p = server_->generate_password(60);
      CA_ASSERT(p.has_value(), "a password");
      current = p->password;
    }
    return current;
  }

  std::unique_ptr<scepter::est::EstService> service;
  std::string current;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture f;
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  const auto parts = scepter::fuzzing::split_fields(
      std::string_view(reinterpret_cast<const char*>(data + 1), size - 1), 4);
  scepter::est::EstHttpRequest req;
  req.method = (mode & 1) ? "POST" : "GET";
  req.path = std::string(parts[0]);
  if (!parts[1].empty()) req.authorization = std::string(parts[1]);
  if (mode & 2) {
    req.authorization = "Basic " + scepter::pki::base64_encode("fuzz:" + f.password(), 0);
    if (mode & 4) req.path = "/.well-known/est/simpleenroll";
  }
  req.body = std::string(parts[2]);
  req.peer_certificate_der = std::string(parts[3]);
  const scepter::est::EstHttpResponse r = f.service->handle(req);
  const int s = r.status;
  CA_ASSERT(s == 200 || s == 202 || s == 400 || s == 401 || s == 404 || s == 405 || s == 413 ||
                s == 501 || s == 503,
            "a known EST status");
  return 0;
}
