// libFuzzer target for the REST API: ApiService::handle() on a real Device with one
// enabled certificate server and one account, fed what a client on the network controls —
// the method, the path under /api/v1, the query, the Cookie, X-CSRF-Token and Content-Type
// headers, the body and the certificate it presented in the TLS handshake. The first byte
// picks the method and whether the request carries the live session (as a bearer token, or
// as the cookie with its CSRF token), so that the fuzzer reaches the resources behind the
// login; the rest is split at NUL bytes. Every answer must be a known status and, unless
// it is the CRL, JSON; nothing may crash.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/service.h"
#include "ca/device_test_support.h"
#include "fuzz_input.h"
#include "pki/password_hash.h"

namespace {

struct Fixture : scepter::ca::testing::DeviceWithServer {
  Fixture() {
    const scepter::Status opened =
        open_device([](scepter::ca::ServerConfig& c) { c.archive_enabled = false; });
    CA_ASSERT(opened.ok(), "an enabled server");
    CA_ASSERT(device_->accounts().set({"fuzz", 15, *scepter::pki::type9_hash("fuzz-pw"), ""}).ok(),
              "an account");
    service = std::make_unique<scepter::api::ApiService>(*device_);
    login();
  }
  // A live session (the fuzzer may have logged it out). Its wrong passwords may have
  // locked the account: that lock is lifted first.
  void login() {
    device_->accounts().clear_lockout(std::nullopt);
    scepter::http::Request r;
    r.method = "POST";
    r.path = "/api/v1/session";
    r.headers = {{"Content-Type", "application/json"}};
    r.body = R"({"username": "fuzz", "password": "fuzz-pw"})";
    r.remote_address = "127.0.0.1";
    auto answer = service->handle(r);
    CA_ASSERT(answer.status == 201, "a login");
    auto j = nlohmann::json::parse(answer.body);
    token = j["token"];
    csrf = j["csrf_token"];
  }

  std::unique_ptr<scepter::api::ApiService> service;
  std::string token;
  std::string csrf;
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

}  // namespace

// The CA's key is made here, outside the per-input timeout (it takes seconds under ASan).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fixture& f = fixture();
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  const auto parts = scepter::fuzzing::split_fields(
      std::string_view(reinterpret_cast<const char*>(data + 1), size - 1), 6);
  static constexpr const char* kMethods[] = {"GET", "POST", "DELETE", "HEAD",
                                             "PUT", "POST", "GET",    "OPTIONS"};
  scepter::http::Request req;
  req.method = kMethods[mode & 7];
  req.path = "/api/v1" + std::string(parts[0]);
  req.query = std::string(parts[1]);
  req.params = scepter::http::QueryParams::parse(req.query);
  req.remote_address = "192.0.2.1";
  if (!parts[2].empty()) req.headers.push_back({"Cookie", std::string(parts[2])});
  if (!parts[3].empty()) req.headers.push_back({"Content-Type", std::string(parts[3])});
  req.body = std::string(parts[4]);
  req.peer_certificate_der = std::string(parts[5]);
  if (mode & 16) {
    req.headers.push_back({"Authorization", "Bearer " + f.token});
  } else if (mode & 32) {
    req.headers.push_back({"Cookie", "scepter_session=" + f.token});
    req.headers.push_back({"X-CSRF-Token", f.csrf});
  }
  const scepter::http::Response r = f.service->handle(req);
  const int s = r.status;
  CA_ASSERT(s == 200 || s == 201 || s == 400 || s == 401 || s == 403 || s == 404 || s == 405 ||
                s == 409 || s == 429 || s == 503,
            "a known API status");
  if (r.content_type != "application/pkix-crl") {
    CA_ASSERT(nlohmann::json::accept(r.payload()), "a JSON answer");
  }
  // Logged out, or a new password given: log in again for the next input.
  if ((mode & 48) != 0 && s == 401) f.login();
  // The audit log grows with each action: keep it small, as fuzz_cli does.
  std::error_code ec;
  const std::string audit = f.device_->audit_log_path();
  if (std::filesystem::file_size(audit, ec) > (1u << 20))
    std::filesystem::resize_file(audit, 0, ec);
  return 0;
}
