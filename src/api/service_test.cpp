// ApiService against a real Device with one enabled certificate server: requests are
// made as the HTTPS listener hands them over (path decoded, headers, body, peer address).
#include "api/service.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ca/device.h"
#include "ca/device_test_support.h"
#include "common/testing.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "pki/name.h"
#include "pki/password_hash.h"

namespace scepter::api {
namespace {

using nlohmann::json;

class ApiServiceTest : public ::testing::Test, public ca::testing::DeviceWithServer {
 protected:
  ApiServiceTest() : DeviceWithServer(TimePoint(std::chrono::seconds(1'800'000'000))) {}

  void SetUp() override {
    ASSERT_OK(open_device([](ca::ServerConfig& c) { c.archive_password = "archive-password"; }));
    add_account("admin", 15, "admin-pw");
    add_account("reader", 1, "reader-pw");
    service_ = std::make_unique<ApiService>(*device_);
  }

  void add_account(const std::string& name, int level, const std::string& password) {
    auto secret = pki::type9_hash(password);
    ASSERT_OK(secret);
    ASSERT_OK(device_->accounts().set({name, level, *secret, ""}));
  }

  http::Response call(std::string method, std::string path, std::string body = "",
                      std::vector<http::Header> headers = {}, std::string address = "192.0.2.1") {
    http::Request r;
    r.method = std::move(method);
    r.path = "/api/v1" + path;
    const auto q = r.path.find('?');
    if (q != std::string::npos) {
      r.query = r.path.substr(q + 1);
      r.path.resize(q);
      r.params = http::QueryParams::parse(r.query);
    }
    r.body = std::move(body);
    r.headers = std::move(headers);
    if (!r.body.empty()) r.headers.push_back({"Content-Type", "application/json"});
    r.remote_address = std::move(address);
    r.tls = true;
    return service_->handle(r);
  }

  json login(const std::string& user, const std::string& password) {
    auto r = call("POST", "/session", json{{"username", user}, {"password", password}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body);
  }

  http::Response as(const std::string& token, std::string method, std::string path,
                    std::string body = "") {
    return call(std::move(method), std::move(path), std::move(body),
                {{"Authorization", "Bearer " + token}});
  }

  // A pending manual request; returns its ID.
  store::RequestId pending_request(const std::string& cn) {
    auto key = pki::Key::generate_ec(256);
    auto name = pki::parse_dn("CN=" + cn);
    auto csr = pki::make_csr({.subject = name->get(), .key = *key});
    auto out = server_->submit(csr->der(), ca::RequestSource::kManualBase64);
    EXPECT_OK(out);
    return out->request.id;
  }

  std::string audit_text() {
    auto records = ca::read_audit(device_->audit_log_path(), 0);
    EXPECT_OK(records);
    std::string text;
    for (const auto& r : *records) {
      text += r.event + "|" + r.actor + "|" + r.detail + "|" + r.outcome + "\n";
    }
    return text;
  }

  std::unique_ptr<ApiService> service_;
};

TEST_F(ApiServiceTest, PathsAndHeavyRequests) {
  EXPECT_TRUE(is_api_path("/api/v1"));
  EXPECT_TRUE(is_api_path("/api/v1/servers"));
  EXPECT_FALSE(is_api_path("/api/v10"));
  EXPECT_FALSE(is_api_path("/api"));
  http::Request r;
  r.path = "/api/v1/session";
  r.method = "POST";
  EXPECT_TRUE(is_heavy_api_request(r));
  r.method = "GET";
  EXPECT_FALSE(is_heavy_api_request(r));
}

TEST_F(ApiServiceTest, OpenApiIsServedWithoutLogin) {
  auto r = call("GET", "/openapi.json");
  ASSERT_EQ(r.status, 200);
  auto doc = json::parse(r.body);
  EXPECT_EQ(doc["openapi"], "3.1.0");
  EXPECT_TRUE(doc["paths"].contains("/servers/{label}/requests/{id}/grant"));
}

TEST_F(ApiServiceTest, NothingWithoutASession) {
  auto r = call("GET", "/servers");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.content_type, "application/problem+json");
  EXPECT_EQ(call("GET", "/servers", "", {{"Authorization", "Bearer nonsense"}}).status, 401);
  EXPECT_EQ(call("GET", "/servers", "", {{"Cookie", "scepter_session=nonsense"}}).status, 401);
}

TEST_F(ApiServiceTest, LoginAndLogout) {
  json s = login("admin", "admin-pw");
  EXPECT_EQ(s["role"], "administrator");
  EXPECT_EQ(s["token"].get<std::string>().size(), 64u);
  const std::string token = s["token"];
  auto me = as(token, "GET", "/session");
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(json::parse(me.body)["username"], "admin");
  EXPECT_FALSE(json::parse(me.body).contains("token"));  // shown once, at login
  EXPECT_EQ(as(token, "DELETE", "/session").status, 200);
  EXPECT_EQ(as(token, "GET", "/session").status, 401);
  EXPECT_NE(audit_text().find("login|api admin from 192.0.2.1|REST API login (password)|ok"),
            std::string::npos);
  EXPECT_NE(audit_text().find("logout|api admin from 192.0.2.1|REST API logout|ok"),
            std::string::npos);
}

TEST_F(ApiServiceTest, SessionsExpireWhenIdle) {
  const std::string token = login("admin", "admin-pw")["token"];
  clock_.advance(kSessionIdle - std::chrono::minutes(1));
  EXPECT_EQ(as(token, "GET", "/servers").status, 200);
  clock_.advance(kSessionIdle);
  EXPECT_EQ(as(token, "GET", "/servers").status, 401);
}

TEST_F(ApiServiceTest, MalformedLogins) {
  EXPECT_EQ(call("POST", "/session", "{").status, 400);
  EXPECT_EQ(call("POST", "/session", "[1]").status, 400);
  EXPECT_EQ(call("POST", "/session", R"({"username": "admin", "password": 5})").status, 400);
  // A form is not JSON, even when it parses as such.
  http::Request r;
  r.method = "POST";
  r.path = "/api/v1/session";
  r.body = R"({"username": "admin", "password": "admin-pw"})";
  r.headers = {{"Content-Type", "text/plain"}};
  EXPECT_EQ(service_->handle(r).status, 400);
  // No password and no client certificate.
  EXPECT_EQ(call("POST", "/session", "{}").status, 401);
}

TEST_F(ApiServiceTest, WrongPasswordsFromOneAddressAreLimited) {
  for (int i = 0; i < kLoginFailuresPerMinute; ++i) {
    EXPECT_EQ(call("POST", "/session",
                   json{{"username", "x" + std::to_string(i)}, {"password", "no"}}.dump())
                  .status,
              401);
  }
  auto refused =
      call("POST", "/session", json{{"username", "admin"}, {"password", "admin-pw"}}.dump());
  EXPECT_EQ(refused.status, 429);
  // Another address is not held back; after a minute this one is not either.
  EXPECT_EQ(call("POST", "/session", json{{"username", "admin"}, {"password", "admin-pw"}}.dump(),
                 {}, "192.0.2.2")
                .status,
            201);
  clock_.advance(std::chrono::minutes(1));
  login("admin", "admin-pw");
}

TEST_F(ApiServiceTest, CookieSessionsNeedTheCsrfToken) {
  json s = login("admin", "admin-pw");
  const std::string cookie = "other=1; scepter_session=" + s["token"].get<std::string>();
  EXPECT_EQ(call("GET", "/servers", "", {{"Cookie", cookie}}).status, 200);
  EXPECT_EQ(call("POST", "/servers/ca/otp", "{}", {{"Cookie", cookie}}).status, 403);
  EXPECT_EQ(call("POST", "/servers/ca/otp", "{}",
                 {{"Cookie", cookie}, {"X-CSRF-Token", s["token"].get<std::string>()}})
                .status,
            403);
  EXPECT_EQ(call("POST", "/servers/ca/otp", "{}",
                 {{"Cookie", cookie}, {"X-CSRF-Token", s["csrf_token"].get<std::string>()}})
                .status,
            201);
}

TEST_F(ApiServiceTest, GrantRejectAndRemoveAreAudited) {
  const std::string token = login("admin", "admin-pw")["token"];
  const auto a = pending_request("a");
  const auto b = pending_request("b");
  auto list = as(token, "GET", "/servers/ca/requests?state=pending&limit=1");
  ASSERT_EQ(list.status, 200) << list.body;
  auto page = json::parse(list.body);
  EXPECT_EQ(page["total"], 2);
  EXPECT_EQ(page["requests"].size(), 1u);
  auto granted = as(token, "POST", "/servers/ca/requests/" + std::to_string(a) + "/grant");
  ASSERT_EQ(granted.status, 200) << granted.body;
  EXPECT_EQ(json::parse(granted.body)["certificates"].size(), 1u);
  EXPECT_EQ(as(token, "POST", "/servers/ca/requests/" + std::to_string(a) + "/grant").status, 409);
  EXPECT_EQ(as(token, "POST", "/servers/ca/requests/99999/grant").status, 404);
  EXPECT_EQ(as(token, "POST", "/servers/ca/requests/" + std::to_string(b) + "/reject").status, 200);
  EXPECT_EQ(as(token, "DELETE", "/servers/ca/requests/" + std::to_string(b)).status, 200);
  const std::string audit = audit_text();
  EXPECT_NE(audit.find("command|api admin from 192.0.2.1|crypto pki server ca grant " +
                       std::to_string(a) + "|ok"),
            std::string::npos)
      << audit;
  EXPECT_NE(audit.find("crypto pki server ca reject " + std::to_string(b) + "|ok"),
            std::string::npos);
  EXPECT_NE(audit.find("crypto pki server ca remove " + std::to_string(b) + "|ok"),
            std::string::npos);
}

TEST_F(ApiServiceTest, ReadersReadAndAreRefusedTheRest) {
  const std::string token = login("reader", "reader-pw")["token"];
  const auto id = pending_request("r");
  EXPECT_EQ(as(token, "GET", "/servers/ca").status, 200);
  EXPECT_EQ(as(token, "GET", "/servers/ca/requests/" + std::to_string(id)).status, 200);
  EXPECT_EQ(as(token, "POST", "/servers/ca/requests/" + std::to_string(id) + "/grant").status, 403);
  EXPECT_EQ(as(token, "POST", "/servers/ca/otp").status, 403);
  const std::string audit = audit_text();
  EXPECT_NE(audit.find("crypto pki server ca grant " + std::to_string(id) + "|failed: "),
            std::string::npos)
      << audit;
  auto shown = as(token, "GET", "/servers/ca/requests/" + std::to_string(id));
  EXPECT_EQ(json::parse(shown.body)["state"], "pending");
}

TEST_F(ApiServiceTest, RemovedAccountsLogOutAndLevelsApplyAtOnce) {
  const std::string token = login("reader", "reader-pw")["token"];
  add_account("reader", 7, "reader-pw");
  EXPECT_EQ(json::parse(as(token, "GET", "/session").body)["role"], "operator");
  device_->accounts().remove("reader");
  EXPECT_EQ(as(token, "GET", "/servers").status, 401);
}

TEST_F(ApiServiceTest, CertificatesSearchAndRevoke) {
  const std::string token = login("admin", "admin-pw")["token"];
  const auto id = pending_request("router1.example");
  ASSERT_EQ(as(token, "POST", "/servers/ca/requests/" + std::to_string(id) + "/grant").status, 200);
  auto found = json::parse(as(token, "GET", "/servers/ca/certificates?subject=ROUTER1").body);
  ASSERT_EQ(found["total"], 1) << found;
  const std::string serial = found["certificates"][0]["serial"];
  EXPECT_EQ(json::parse(as(token, "GET", "/servers/ca/certificates?subject=nope").body)["total"],
            0);
  auto one = as(token, "GET", "/servers/ca/certificates/0x" + serial);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_NE(json::parse(one.body)["pem"].get<std::string>().find("BEGIN CERTIFICATE"),
            std::string::npos);
  EXPECT_EQ(as(token, "POST", "/servers/ca/certificates/0x" + serial + "/revoke",
               R"({"reason": "removeFromCRL"})")
                .status,
            400);
  EXPECT_EQ(
      as(token, "POST", "/servers/ca/certificates/0x" + serial + "/revoke", R"({"reason": 1})")
          .status,
      400);
  auto revoked = as(token, "POST", "/servers/ca/certificates/0x" + serial + "/revoke",
                    R"({"reason": "superseded"})");
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(as(token, "POST", "/servers/ca/certificates/0x" + serial + "/revoke").status, 409);
  EXPECT_EQ(as(token, "POST", "/servers/ca/certificates/0x7777/revoke").status, 404);
  auto info = json::parse(as(token, "GET", "/servers/ca/crl/info").body);
  ASSERT_EQ(info["entries"].size(), 1u);
  EXPECT_EQ(info["entries"][0]["reason"], "superseded");
  EXPECT_NE(audit_text().find("crypto pki server ca revoke 0x" + serial + " reason superseded|ok"),
            std::string::npos);
  auto crl = as(token, "GET", "/servers/ca/crl");
  EXPECT_EQ(crl.content_type, "application/pkix-crl");
  EXPECT_EQ(crl.payload(), *server_->crl_der());
}

TEST_F(ApiServiceTest, BadPathsParametersAndMethods) {
  const std::string token = login("admin", "admin-pw")["token"];
  EXPECT_EQ(as(token, "GET", "/servers/nope").status, 404);
  EXPECT_EQ(as(token, "GET", "/servers/ca/requests/0").status, 404);
  EXPECT_EQ(as(token, "GET", "/servers/ca/requests/99999999999").status, 404);
  EXPECT_EQ(as(token, "GET", "/servers/ca/requests/1x").status, 404);
  EXPECT_EQ(as(token, "GET", "/servers/ca/certificates/0xZZ").status, 404);
  EXPECT_EQ(as(token, "GET", "/servers/ca/requests?limit=0").status, 400);
  EXPECT_EQ(as(token, "GET", "/servers/ca/requests?limit=501").status, 400);
  EXPECT_EQ(as(token, "GET", "/servers/ca/certificates?state=odd").status, 400);
  EXPECT_EQ(as(token, "GET", "/servers//ca").status, 404);
  EXPECT_EQ(as(token, "GET", "/servers/ca/").status, 404);
  EXPECT_EQ(as(token, "GET", "/servers/ca/otp").status, 405);
  EXPECT_EQ(as(token, "DELETE", "/servers").status, 405);
  EXPECT_EQ(as(token, "POST", "/servers/ca/otp", R"({"minutes": 0})").status, 400);
  EXPECT_EQ(as(token, "POST", "/servers/ca/otp", R"({"minutes": "5"})").status, 400);
  EXPECT_EQ(as(token, "POST", "/servers/ca/otp", "not json").status, 400);
  auto wrong = as(token, "PUT", "/servers/ca");
  EXPECT_EQ(wrong.status, 405);
}

}  // namespace
}  // namespace scepter::api

namespace scepter::api {
namespace {

// What a stream holds so far (as the connection would write it).
std::string stream_text(http::EventStream& s) {
  std::string out;
  bool overflowed = false;
  s.take(out, overflowed);
  return out;
}

TEST_F(ApiServiceTest, EventsNeedASession) {
  EXPECT_EQ(call("GET", "/events").status, 401);
  auto token = login("reader", "reader-pw")["token"].get<std::string>();
  EXPECT_EQ(as(token, "POST", "/events").status, 405);
}

TEST_F(ApiServiceTest, EventsStreamWhatChangesForAnyRoleByCookie) {
  auto session = login("reader", "reader-pw");
  const std::string token = session["token"].get<std::string>();
  auto r = call("GET", "/events", "", {{"Cookie", "scepter_session=" + token}});
  ASSERT_EQ(r.status, 200);
  ASSERT_NE(r.stream, nullptr);
  EXPECT_EQ(r.content_type, "text/event-stream");
  EXPECT_EQ(stream_text(*r.stream), "retry: 5000\n\n");

  const store::RequestId id = pending_request("live");
  const std::string text = stream_text(*r.stream);
  EXPECT_NE(text.find("\nevent: request\ndata: {"), std::string::npos) << text;
  EXPECT_NE(text.find("\"state\":\"pending\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"id\":\"" + std::to_string(id) + "\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"server\":\"ca\""), std::string::npos) << text;
  EXPECT_TRUE(text.starts_with("id: ")) << text;

  ASSERT_TRUE(r.stream->keep_going);
  EXPECT_TRUE(r.stream->keep_going());
  EXPECT_EQ(as(token, "DELETE", "/session").status, 200);  // logout ends the stream
  EXPECT_FALSE(r.stream->keep_going());
}

TEST_F(ApiServiceTest, EventsEndWhenTheAccountIsRemoved) {
  const std::string token = login("reader", "reader-pw")["token"].get<std::string>();
  auto r = as(token, "GET", "/events");
  ASSERT_NE(r.stream, nullptr);
  EXPECT_TRUE(r.stream->keep_going());
  ASSERT_TRUE(device_->accounts().remove("reader"));
  EXPECT_FALSE(r.stream->keep_going());
}

TEST_F(ApiServiceTest, LastEventIdReplaysOrResyncs) {
  const std::string token = login("admin", "admin-pw")["token"].get<std::string>();
  auto first = as(token, "GET", "/events");
  stream_text(*first.stream);
  pending_request("one");
  const std::string one = stream_text(*first.stream);
  const std::uint64_t seen = std::stoull(one.substr(4));  // "id: N\n..."
  pending_request("two");

  auto again =
      call("GET", "/events", "",
           {{"Authorization", "Bearer " + token}, {"Last-Event-ID", std::to_string(seen)}});
  ASSERT_NE(again.stream, nullptr);
  const std::string replay = stream_text(*again.stream);
  EXPECT_NE(replay.find("id: " + std::to_string(seen + 1) + "\nevent: request\n"),
            std::string::npos)
      << replay;
  EXPECT_EQ(replay.find("id: " + std::to_string(seen) + "\n"), std::string::npos) << replay;

  auto stale = call("GET", "/events", "",
                    {{"Authorization", "Bearer " + token}, {"Last-Event-ID", "99999999"}});
  EXPECT_NE(stream_text(*stale.stream).find("event: resync\n"), std::string::npos);
}

}  // namespace
}  // namespace scepter::api
