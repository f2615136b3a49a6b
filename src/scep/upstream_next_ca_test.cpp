// HttpUpstream::get_next_ca_cert against HTTP servers on 127.0.0.1: handlers that answer
// as a CA (or an RA) in the middle of a rollover, and a real ScepService with none.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "scep/cms_util.h"
#include "scep/next_ca.h"
#include "scep/service_fixture.h"
#include "scep/upstream_client.h"
#include "scep/upstream_test_support.h"

namespace scepter::scep {
namespace {

using namespace std::chrono_literals;
using namespace upstream_testing;
using testing::client_key;

constexpr std::time_t kSigningTime = 1'767'225'600;  // 2026-01-01T00:00:00Z

class UpstreamNextCaTest : public ::testing::Test {
 protected:
  void serve(int status, std::string type, std::string body) {
    server_ = TestServer::start([=](const http::Request&) { return answer(status, type, body); });
    ASSERT_TRUE(server_);
  }
  Result<ca::UpstreamCertificates> fetch(const ca::UpstreamCertificates& current) {
    HttpUpstream upstream(
        HttpUpstreamOptions{.connect_timeout = 5'000ms, .total_timeout = 10'000ms});
    return upstream.get_next_ca_cert(server_->url(), "root ca", current);
  }

  const Hierarchy& h = hierarchy();
  pki::Certificate next_root =
      make_cert("Root CA", client_key(15), nullptr, nullptr, true, nullptr, 2);
  std::unique_ptr<TestServer> server_;
};

std::string signed_answer(const std::vector<pki::Certificate>& certs,
                          const pki::Certificate& signer, EVP_PKEY* key) {
  auto der = encode_next_ca_cert(certs, signer, key_of(key), kSigningTime);
  EXPECT_OK(der);
  return der.value_or("");
}

TEST_F(UpstreamNextCaTest, FetchesTheRolloverRoot) {
  serve(200, "application/x-x509-next-ca-cert", signed_answer({next_root}, h.root, root_key()));
  auto next = fetch(only_ca(h.root));
  ASSERT_OK(next);
  ASSERT_EQ(next->ca_chain.size(), 1u);
  EXPECT_EQ(next->issuing_ca(), next_root);
  EXPECT_FALSE(next->ra_signer);

  auto seen = server_->seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].path, "/cgi-bin/pkiclient.exe");
  EXPECT_EQ(seen[0].query, "operation=GetNextCACert&message=root%20ca");
}

TEST_F(UpstreamNextCaTest, RaSignedAnswerWithNewChainAndRaCertificates) {
  // The current RA (signature and encryption certificates under the sub-CA) answers with
  // the new sub-CA, the root and the new RA certificates.
  ca::UpstreamCertificates current;
  current.ca_chain = {h.sub, h.root};
  current.ra_signer = h.ra_sign;
  current.ra_encrypter = h.ra_encrypt;
  const pki::Certificate next_sub =
      make_cert("Sub CA", client_key(16), &h.root, root_key(), true, nullptr, 30);
  const pki::Certificate next_ra_sign = make_cert("RA sign", client_key(17), &next_sub,
                                                  client_key(16), false, "digitalSignature", 31);
  const pki::Certificate next_ra_encrypt = make_cert("RA encrypt", client_key(17), &next_sub,
                                                     client_key(16), false, "keyEncipherment", 32);
  serve(200, "application/x-x509-next-ca-cert",
        signed_answer({next_ra_sign, next_ra_encrypt, next_sub, h.root}, h.ra_sign, ra_sign_key()));
  auto next = fetch(current);
  ASSERT_OK(next);
  ASSERT_EQ(next->ca_chain.size(), 2u);
  EXPECT_EQ(next->ca_chain[0], next_sub);
  EXPECT_EQ(next->ca_chain[1], h.root);
  ASSERT_TRUE(next->ra_signer);
  EXPECT_EQ(*next->ra_signer, next_ra_sign);
  ASSERT_TRUE(next->ra_encrypter);
  EXPECT_EQ(*next->ra_encrypter, next_ra_encrypt);

  // Without the RA among the trusted signers the same answer is refused.
  EXPECT_CODE(fetch(only_ca(h.sub)), Code::kInvalidArgument);
}

TEST_F(UpstreamNextCaTest, NotFoundMeansNoRolloverCertificate) {
  serve(404, "text/plain", "no rollover CA certificate\n");
  auto next = fetch(only_ca(h.root));
  EXPECT_CODE(next, Code::kNotFound);
  ASSERT_FALSE(next.has_value());
  EXPECT_NE(next.error().message().find("the CA has no rollover certificate"), std::string::npos)
      << next.error().message();
}

TEST_F(UpstreamNextCaTest, OtherHttpErrorsAreUnavailable) {
  serve(503, "text/plain", "busy\n");
  EXPECT_CODE(fetch(only_ca(h.root)), Code::kUnavailable);
}

TEST_F(UpstreamNextCaTest, RefusesAnotherContentType) {
  serve(200, "application/x-x509-ca-ra-cert", signed_answer({next_root}, h.root, root_key()));
  auto next = fetch(only_ca(h.root));
  EXPECT_CODE(next, Code::kInvalidArgument);
  ASSERT_FALSE(next.has_value());
  EXPECT_NE(next.error().message().find("Content-Type"), std::string::npos);
}

TEST_F(UpstreamNextCaTest, RefusesForgedAndUnsignedAnswers) {
  serve(200, "application/x-x509-next-ca-cert",
        signed_answer({next_root}, h.stranger, stranger_key()));
  EXPECT_CODE(fetch(only_ca(h.root)), Code::kInvalidArgument);

  serve(200, "application/x-x509-next-ca-cert", bundle({next_root}));
  auto next = fetch(only_ca(h.root));
  EXPECT_CODE(next, Code::kInvalidArgument);
  ASSERT_FALSE(next.has_value());
  EXPECT_NE(next.error().message().find("jscep#72"), std::string::npos) << next.error().message();
}

TEST_F(UpstreamNextCaTest, RefusesAnUnauthenticatedTrustpoint) {
  serve(200, "application/x-x509-next-ca-cert", signed_answer({next_root}, h.root, root_key()));
  EXPECT_CODE(fetch(ca::UpstreamCertificates{}), Code::kInvalidArgument);
  EXPECT_TRUE(server_->seen().empty());
}

// Another UpstreamCa that does not implement GetNextCACert still compiles and says so.
class CapsOnlyUpstream final : public ca::UpstreamCa {
 public:
  Result<ca::UpstreamCaps> get_ca_caps(const std::string&, const std::string&) override {
    return ca::UpstreamCaps{};
  }
  Result<ca::UpstreamCertificates> get_ca_cert(const std::string&, const std::string&) override {
    return fail(unavailable("down"));
  }
  Result<ca::UpstreamReply> send(const ca::UpstreamRequest&) override {
    return fail(unavailable("down"));
  }
  Result<std::string> get_crl(const std::string&, const std::string&) override {
    return fail(unavailable("down"));
  }
};

TEST(UpstreamNextCaDefaultTest, NotSupportedByDefault) {
  CapsOnlyUpstream upstream;
  auto next = upstream.get_next_ca_cert("http://192.0.2.1", "ca", only_ca(hierarchy().root));
  EXPECT_CODE(next, Code::kUnavailable);
  ASSERT_FALSE(next.has_value());
  EXPECT_NE(next.error().message().find("not supported by this client"), std::string::npos);
}

// A real ScepService without a rollover certificate answers 404.
class UpstreamNextCaServiceTest : public testing::ScepServiceTest {
 protected:
  void SetUp() override {
    ScepServiceTest::SetUp();
    if (HasFatalFailure()) return;
    http_ = serve_scep(*service_);
    ASSERT_TRUE(http_);
  }
  void TearDown() override { http_.reset(); }
  std::unique_ptr<TestServer> http_;
};

TEST_F(UpstreamNextCaServiceTest, ScepterdWithoutRolloverAnswersNotFound) {
  HttpUpstream upstream;
  auto current = upstream.get_ca_cert(http_->url(), testing::kLabel);
  ASSERT_OK(current);
  EXPECT_CODE(upstream.get_next_ca_cert(http_->url(), testing::kLabel, *current), Code::kNotFound);
}

}  // namespace
}  // namespace scepter::scep
