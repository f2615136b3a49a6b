// HttpUpstream against real HTTP servers on 127.0.0.1: small handlers that answer fixed
// bytes or act as a CA or RA (decoding the request, signing the CertRep as told).

#include "scep/upstream_client.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/testing.h"
#include "http/server.h"
#include "http/test_client.h"
#include "pki/io.h"
#include "scep/cert_rep.h"
#include "scep/service_fixture.h"
#include "scep/upstream_test_support.h"

namespace scepter::scep {
namespace {

using namespace std::chrono_literals;
using namespace upstream_testing;
using ca::UpstreamReply;
using ca::UpstreamRequest;
using testing::client_key;

// ---------------------------------------------------------------------------------
// URLs

TEST(UpstreamUrlTest, CompletesThePathAsIosDoes) {
  EXPECT_EQ(*operation_url("http://ca.example", "GetCACaps"),
            "http://ca.example/cgi-bin/pkiclient.exe?operation=GetCACaps");
  EXPECT_EQ(*operation_url("http://ca.example:8080/", "GetCACert", "sub"),
            "http://ca.example:8080/cgi-bin/pkiclient.exe?operation=GetCACert&message=sub");
  EXPECT_EQ(*operation_url("http://192.0.2.6/scep/pkiclient.exe", "GetCACaps"),
            "http://192.0.2.6/scep/pkiclient.exe?operation=GetCACaps");
  EXPECT_EQ(*operation_url("http://192.0.2.6/CGI-BIN/PKICLIENT.EXE", "GetCACaps"),
            "http://192.0.2.6/CGI-BIN/PKICLIENT.EXE?operation=GetCACaps");
  EXPECT_EQ(*operation_url("http://ndes/certsrv/mscep/mscep.dll", "GetCACaps"),
            "http://ndes/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps");
  EXPECT_EQ(
      *operation_url("http://[2001:db8::1]:8080", "PKIOperation", "MIIB%2B"),
      "http://[2001:db8::1]:8080/cgi-bin/pkiclient.exe?operation=PKIOperation&message=MIIB%2B");
  EXPECT_EQ(*operation_url("https://ca.example/scep/", "GetCACaps"),
            "https://ca.example/scep/pkiclient.exe?operation=GetCACaps");
}

TEST(UpstreamUrlTest, RefusesWhatIsNotAnHttpUrl) {
  for (const char* bad : {"", "ca.example", "ftp://ca.example/", "file:///etc/passwd", "http://",
                          "http://user:pw@ca.example/", "http://ca.example/?a=b",
                          "http://ca.example/#frag", "tftp://192.0.2.6/x"}) {
    auto url = operation_url(bad, "GetCACaps");
    EXPECT_FALSE(url.has_value()) << bad << " -> " << url.value_or("");
    if (!url.has_value()) {
      EXPECT_EQ(url.error().code(), Code::kInvalidArgument) << bad;
    }
  }
}

// ---------------------------------------------------------------------------------
// HTTP-level behaviour against handlers with fixed answers

class UpstreamHttpTest : public ::testing::Test {
 protected:
  void serve(http::Handler handler) {
    server_ = TestServer::start(std::move(handler));
    ASSERT_TRUE(server_);
  }
  void serve_fixed(int status, std::string type, std::string body) {
    serve([=](const http::Request&) { return answer(status, type, body); });
  }
  std::string url() const { return server_->url(); }

  HttpUpstreamOptions options_{.connect_timeout = 5'000ms, .total_timeout = 10'000ms};
  std::unique_ptr<TestServer> server_;
};

TEST_F(UpstreamHttpTest, CapsAreParsedCaseInsensitively) {
  serve_fixed(200, "text/plain",
              "postpkioperation\r\nRenewal\nGETNEXTCACERT\n  AES  \nDES3\nSHA-1\nsha-256\n"
              "SHA-512\nScepStandard\nSHA-384\n\n");
  HttpUpstream upstream(options_);
  auto caps = upstream.get_ca_caps(url(), "my ca");
  ASSERT_OK(caps);
  EXPECT_TRUE(caps->post);
  EXPECT_TRUE(caps->renewal);
  EXPECT_TRUE(caps->get_next_ca_cert);
  EXPECT_TRUE(caps->aes);
  EXPECT_TRUE(caps->des3);
  EXPECT_TRUE(caps->sha1);
  EXPECT_TRUE(caps->sha256);
  EXPECT_TRUE(caps->sha512);
  EXPECT_TRUE(caps->scep_standard);
  EXPECT_EQ(caps->announced,
            (std::vector<std::string>{"postpkioperation", "Renewal", "GETNEXTCACERT", "AES", "DES3",
                                      "SHA-1", "sha-256", "SHA-512", "ScepStandard", "SHA-384"}));

  auto seen = server_->seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].path, "/cgi-bin/pkiclient.exe");
  EXPECT_EQ(seen[0].query, "operation=GetCACaps&message=my%20ca");
  EXPECT_EQ(seen[0].user_agent, "scepterd");
}

TEST_F(UpstreamHttpTest, CapsWithOnlySomeLinesAndNoIdent) {
  serve_fixed(200, "text/plain", "DES3\nSHA-1\n");
  HttpUpstream upstream(options_);
  auto caps = upstream.get_ca_caps(url(), "");
  ASSERT_OK(caps);
  EXPECT_TRUE(caps->des3);
  EXPECT_TRUE(caps->sha1);
  EXPECT_FALSE(caps->post);
  EXPECT_FALSE(caps->aes);
  EXPECT_FALSE(caps->sha256);
  EXPECT_FALSE(caps->scep_standard);
  EXPECT_EQ(server_->seen().at(0).query, "operation=GetCACaps");
}

TEST_F(UpstreamHttpTest, CapsHttpErrorMeansNothingAnnounced) {
  serve_fixed(404, "text/plain", "Not Found\n");
  HttpUpstream upstream(options_);
  auto caps = upstream.get_ca_caps(url(), "ca");
  ASSERT_OK(caps);
  EXPECT_FALSE(caps->post);
  EXPECT_FALSE(caps->aes);
  EXPECT_TRUE(caps->announced.empty());
}

TEST_F(UpstreamHttpTest, ConnectionRefusedIsUnavailable) {
  serve_fixed(200, "text/plain", "");
  const std::string gone = url();
  server_->stop();  // the port is released at once; nothing listens there now
  HttpUpstream upstream(options_);
  const std::vector<Status> results = {
      ::scepter::testing::status_of(upstream.get_ca_caps(gone, "")),
      ::scepter::testing::status_of(upstream.get_ca_cert(gone, "")),
      ::scepter::testing::status_of(
          upstream.send(make_request(gone, client_key(0), "r1", only_ca(hierarchy().root), {}))),
  };
  for (const Status& s : results) {
    EXPECT_EQ(s.code(), Code::kUnavailable) << s.to_string();
    EXPECT_EQ(s.message().rfind("cannot reach 127.0.0.1: ", 0), 0u) << s.message();
  }
}

TEST_F(UpstreamHttpTest, StalledServerTimesOutAsUnavailable) {
  http::testing::Gate gate;
  serve([&](const http::Request&) {
    gate.pass();
    return answer(200, "text/plain", "AES\n");
  });
  HttpUpstreamOptions quick = options_;
  quick.total_timeout = 200ms;
  HttpUpstream upstream(quick);
  auto caps = upstream.get_ca_caps(url(), "");
  gate.open();
  server_.reset();  // the handler holds `gate`: finished before it goes
  ASSERT_FALSE(caps.has_value());
  EXPECT_EQ(caps.error().code(), Code::kUnavailable) << caps.error().to_string();
}

TEST_F(UpstreamHttpTest, OversizeAnswerIsRefused) {
  serve_fixed(200, "application/x-x509-ca-cert", std::string(300 * 1024, 'x'));
  HttpUpstream upstream(options_);  // default limit: 256 KiB
  auto cert = upstream.get_ca_cert(url(), "");
  ASSERT_FALSE(cert.has_value());
  EXPECT_EQ(cert.error().code(), Code::kInvalidArgument);
  EXPECT_NE(cert.error().message().find("answer too large"), std::string::npos)
      << cert.error().message();

  HttpUpstreamOptions small = options_;
  small.max_response_bytes = 100;
  auto caps = HttpUpstream(small).get_ca_caps(url(), "");
  ASSERT_FALSE(caps.has_value());
  EXPECT_EQ(caps.error().code(), Code::kInvalidArgument);
}

TEST_F(UpstreamHttpTest, GetCaCertSingleDerOrPem) {
  const Hierarchy& h = hierarchy();
  std::atomic<bool> pem{false};
  serve([&](const http::Request&) {
    return answer(200, "application/x-x509-ca-cert", pem ? h.root.pem() : h.root.der());
  });
  HttpUpstream upstream(options_);
  for (bool as_pem : {false, true}) {
    pem = as_pem;
    auto certs = upstream.get_ca_cert(url(), "root");
    ASSERT_OK(certs);
    ASSERT_EQ(certs->ca_chain.size(), 1u);
    EXPECT_EQ(certs->issuing_ca(), h.root);
    EXPECT_EQ(certs->root(), h.root);
    EXPECT_FALSE(certs->ra_signer);
    EXPECT_FALSE(certs->ra_encrypter);
    EXPECT_EQ(certs->recipient(), h.root);
    EXPECT_EQ(certs->reply_signer(), h.root);
  }
  EXPECT_EQ(server_->seen().at(0).query, "operation=GetCACert&message=root");
}

TEST_F(UpstreamHttpTest, GetCaCertRootAndSubCa) {
  const Hierarchy& h = hierarchy();
  serve_fixed(200, "application/x-x509-ca-ra-cert", bundle({h.root, h.sub}));
  auto certs = HttpUpstream(options_).get_ca_cert(url(), "");
  ASSERT_OK(certs);
  ASSERT_EQ(certs->ca_chain.size(), 2u);
  EXPECT_EQ(certs->issuing_ca(), h.sub);
  EXPECT_EQ(certs->root(), h.root);
  EXPECT_FALSE(certs->ra_signer);
  EXPECT_FALSE(certs->ra_encrypter);
}

TEST_F(UpstreamHttpTest, GetCaCertCaAndOneRa) {
  const Hierarchy& h = hierarchy();
  serve_fixed(200, "application/x-x509-ca-ra-cert", bundle({h.ra_both, h.sub}));
  auto certs = HttpUpstream(options_).get_ca_cert(url(), "");
  ASSERT_OK(certs);
  ASSERT_EQ(certs->ca_chain.size(), 1u);
  EXPECT_EQ(certs->issuing_ca(), h.sub);
  ASSERT_TRUE(certs->ra_signer);
  ASSERT_TRUE(certs->ra_encrypter);
  EXPECT_EQ(*certs->ra_signer, h.ra_both);
  EXPECT_EQ(certs->recipient(), h.ra_both);
  EXPECT_EQ(certs->reply_signer(), h.ra_both);
}

TEST_F(UpstreamHttpTest, GetCaCertCaAndTwoRasSplitByKeyUsage) {
  const Hierarchy& h = hierarchy();
  serve_fixed(200, "application/x-x509-ca-ra-cert",
              bundle({h.ra_encrypt, h.root, h.sub, h.ra_sign}));
  auto certs = HttpUpstream(options_).get_ca_cert(url(), "");
  ASSERT_OK(certs);
  ASSERT_EQ(certs->ca_chain.size(), 2u);
  EXPECT_EQ(certs->issuing_ca(), h.sub);
  EXPECT_EQ(certs->root(), h.root);
  EXPECT_EQ(certs->reply_signer(), h.ra_sign);
  EXPECT_EQ(certs->recipient(), h.ra_encrypt);
}

TEST_F(UpstreamHttpTest, GetCaCertRefusesBundlesThatDoNotClassify) {
  const Hierarchy& h = hierarchy();
  const pki::Certificate other_root =
      make_cert("Other Root", stranger_key(), nullptr, nullptr, true);
  struct Case {
    const char* what;
    std::vector<pki::Certificate> certs;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"two RAs for signing", {h.sub, h.ra_sign, h.ra_sign2}, "two RA certificates for signing"},
      {"a leaf nobody issued", {h.sub, h.stranger}, "neither a CA certificate nor issued"},
      {"no CA at all", {h.ra_sign, h.ra_encrypt}, "no CA certificate"},
      {"two unrelated CAs", {h.root, other_root}, "cannot tell which CA"},
      {"a CA outside the chain", {h.sub, h.ra_sign, other_root}, "not in the chain"},
  };
  std::string body;
  std::mutex mu;
  serve([&](const http::Request&) {
    std::lock_guard<std::mutex> lock(mu);
    return answer(200, "application/x-x509-ca-ra-cert", body);
  });
  HttpUpstream upstream(options_);
  for (const Case& c : cases) {
    {
      std::lock_guard<std::mutex> lock(mu);
      body = bundle(c.certs);
    }
    auto certs = upstream.get_ca_cert(url(), "");
    ASSERT_FALSE(certs.has_value()) << c.what;
    EXPECT_EQ(certs.error().code(), Code::kInvalidArgument) << c.what;
    EXPECT_NE(certs.error().message().find(c.message), std::string::npos)
        << c.what << ": " << certs.error().message();
  }
}

TEST_F(UpstreamHttpTest, GetCaCertRefusesMoreThanSixteenCertificates) {
  const Hierarchy& h = hierarchy();
  std::vector<pki::Certificate> many = {h.root};
  for (long i = 0; i < 16; ++i) {
    many.push_back(make_cert(fmt::format("Sub {}", i), sub_key(), &h.root, root_key(), true,
                             nullptr, 100 + i));
  }
  serve_fixed(200, "application/x-x509-ca-ra-cert", bundle(many));
  auto certs = HttpUpstream(options_).get_ca_cert(url(), "");
  ASSERT_FALSE(certs.has_value());
  EXPECT_EQ(certs.error().code(), Code::kInvalidArgument);
  EXPECT_NE(certs.error().message().find("17 certificates"), std::string::npos)
      << certs.error().message();
}

TEST_F(UpstreamHttpTest, GetCaCertErrors) {
  std::atomic<int> mode{0};
  serve([&](const http::Request&) {
    switch (mode.load()) {
      case 0:
        return answer(500, "text/plain", "oops\n");
      case 1:
        return answer(200, "text/html", "<html></html>");
      case 2:
        return answer(200, "application/x-x509-ca-cert", "not a certificate");
      default:
        return answer(200, "application/x-x509-ca-ra-cert", "not a PKCS#7");
    }
  });
  HttpUpstream upstream(options_);
  const Code want[] = {Code::kUnavailable, Code::kInvalidArgument, Code::kInvalidArgument,
                       Code::kInvalidArgument};
  for (int i = 0; i < 4; ++i) {
    mode = i;
    auto certs = upstream.get_ca_cert(url(), "");
    ASSERT_FALSE(certs.has_value()) << i;
    EXPECT_EQ(certs.error().code(), want[i]) << i << ": " << certs.error().to_string();
  }
}

TEST_F(UpstreamHttpTest, PkiOperationHttpErrorIsUnavailable) {
  serve_fixed(503, "text/plain", "disabled\n");
  auto reply = HttpUpstream(options_).send(
      make_request(url(), client_key(0), "r1", only_ca(hierarchy().root), standard_caps()));
  ASSERT_FALSE(reply.has_value());
  EXPECT_EQ(reply.error().code(), Code::kUnavailable);
  EXPECT_NE(reply.error().message().find("503"), std::string::npos) << reply.error().message();
}

// ---------------------------------------------------------------------------------
// PKIOperation against a handler that plays the CA (or RA) and may forge its answer.

enum class Forgery { kNone, kWrongKey, kOtherTransaction, kOtherNonce, kSuccessWithoutCertificate };

class UpstreamFakeCaTest : public UpstreamHttpTest {
 protected:
  // Decrypts with `recipient`, signs the CertRep with `signer` (or, for kWrongKey, with
  // a certificate that names `signer` but holds another key) and issues with the sub-CA.
  void serve_ca(const pki::Certificate& recipient, EVP_PKEY* recipient_key,
                const pki::Certificate& signer, EVP_PKEY* signer_key, Forgery forgery) {
    impostor_ = testing::impostor(signer.x509(), stranger_key(), stranger_key());
    serve([=, this](const http::Request& r) {
      auto req = decode_pki_message(pki_message_of(r), recipient_key, recipient.x509());
      if (!req.has_value()) return answer(400, "text/plain", req.error().status.message());
      const Hierarchy& h = hierarchy();
      auto cert = testing::issue(req->csr->x509_req(), h.sub.x509(), sub_key(), 42);
      CertRepParams p;
      p.signer_cert = forgery == Forgery::kWrongKey ? impostor_.get() : signer.x509();
      p.signer_key = forgery == Forgery::kWrongKey ? stranger_key() : signer_key;
      p.digest = req->digest;
      p.transaction_id =
          forgery == Forgery::kOtherTransaction ? "0123456789ABCDEF" : req->transaction_id;
      p.recipient_nonce =
          forgery == Forgery::kOtherNonce ? std::string("replayed-nonce!!") : req->sender_nonce;
      p.status = PkiStatus::kSuccess;
      p.recipient = req->signer;
      p.cipher = req->cipher;
      if (forgery == Forgery::kSuccessWithoutCertificate) {
        p.crl_der = testing::crl_der(h.sub.x509(), sub_key());
      } else {
        p.certificates = {pki::to_der(i2d_X509, cert.get()), h.sub.der()};
      }
      auto rep = encode_cert_rep(p);
      if (!rep.has_value()) return answer(500, "text/plain", rep.error().message());
      return answer(200, "application/x-pki-message", *rep);
    });
  }
  void serve_sub_ca(Forgery forgery) {
    const Hierarchy& h = hierarchy();
    serve_ca(h.sub, sub_key(), h.sub, sub_key(), forgery);
  }

  pki::Ptr<X509> impostor_;
};

TEST_F(UpstreamFakeCaTest, SuccessOverPostWithTheStrongestAnnouncedAlgorithms) {
  serve_sub_ca(Forgery::kNone);
  ca::UpstreamCaps caps;
  caps.post = true;
  caps.aes = true;
  caps.sha256 = true;
  caps.sha512 = true;
  UpstreamRequest rq = make_request(url(), client_key(0), "r1", only_ca(hierarchy().sub), caps);
  auto reply = HttpUpstream(options_).send(rq);
  ASSERT_OK(reply);
  EXPECT_EQ(reply->status, UpstreamReply::Status::kSuccess);
  ASSERT_EQ(reply->certificates.size(), 2u);
  EXPECT_TRUE(reply->certificates[0].public_key()->equals_public(*rq.signer_key));
  EXPECT_EQ(reply->certificates[1], hierarchy().sub);
  EXPECT_EQ(reply->method, "POST");
  EXPECT_EQ(reply->digest, "SHA-512");
  EXPECT_EQ(reply->cipher, "AES-128-CBC");
  auto seen = server_->seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].query, "operation=PKIOperation");
  EXPECT_EQ(seen[0].content_type, "application/x-pki-message");
}

TEST_F(UpstreamFakeCaTest, GetWithDes3WhenNothingIsAnnounced) {
  serve_sub_ca(Forgery::kNone);
  UpstreamRequest rq = make_request(url(), client_key(0), "r1", only_ca(hierarchy().sub), {});
  auto reply = HttpUpstream(options_).send(rq);
  ASSERT_OK(reply);
  EXPECT_EQ(reply->status, UpstreamReply::Status::kSuccess);
  EXPECT_EQ(reply->method, "GET");
  EXPECT_EQ(reply->digest, "SHA-256");
  EXPECT_EQ(reply->cipher, "DES-EDE3-CBC");
  auto seen = server_->seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_TRUE(seen[0].body.empty());
  // The message is base64 with '+', '/' and '=' percent-escaped: nothing a query parser
  // could misread.
  const std::string prefix = "operation=PKIOperation&message=";
  ASSERT_EQ(seen[0].query.rfind(prefix, 0), 0u) << seen[0].query;
  const std::string value = seen[0].query.substr(prefix.size());
  EXPECT_EQ(value.find_first_of("+/=& \n"), std::string::npos) << value;
  // Sent exactly as encode_get_message() wrote it (curl rewrites no escape).
  EXPECT_EQ(encode_get_message(decode_get_message(value).value_or("")), value);
}

TEST_F(UpstreamFakeCaTest, Sha1OnlyWhenThatIsAllTheCaAnnounces) {
  serve_sub_ca(Forgery::kNone);
  ca::UpstreamCaps caps;
  caps.sha1 = true;
  caps.des3 = true;
  auto reply = HttpUpstream(options_).send(
      make_request(url(), client_key(0), "r1", only_ca(hierarchy().sub), caps));
  ASSERT_OK(reply);
  EXPECT_EQ(reply->digest, "SHA-1");
  EXPECT_EQ(reply->cipher, "DES-EDE3-CBC");
}

TEST_F(UpstreamFakeCaTest, RaWithSplitKeysEncryptsToOneAndVerifiesTheOther) {
  const Hierarchy& h = hierarchy();
  serve_ca(h.ra_encrypt, ra_encrypt_key(), h.ra_sign, ra_sign_key(), Forgery::kNone);
  ca::UpstreamCertificates upstream = only_ca(h.sub);
  upstream.ra_signer = h.ra_sign;
  upstream.ra_encrypter = h.ra_encrypt;
  auto reply = HttpUpstream(options_).send(
      make_request(url(), client_key(0), "r1", upstream, standard_caps()));
  ASSERT_OK(reply);
  EXPECT_EQ(reply->status, UpstreamReply::Status::kSuccess);

  // The same answer checked against the CA instead of the RA's signing certificate.
  auto wrong = HttpUpstream(options_).send(make_request(
      url(), client_key(0), "r1",
      [&] {
        ca::UpstreamCertificates u = only_ca(h.sub);
        u.ra_encrypter = h.ra_encrypt;
        return u;
      }(),
      standard_caps()));
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code(), Code::kInvalidArgument);
}

TEST_F(UpstreamFakeCaTest, ForgedAnswersAreRefused) {
  const Hierarchy& h = hierarchy();
  struct Case {
    Forgery forgery;
    const char* message;
  };
  for (const Case& c :
       {Case{Forgery::kWrongKey, "signature"}, Case{Forgery::kOtherTransaction, "not ours"},
        Case{Forgery::kOtherNonce, "recipientNonce"},
        Case{Forgery::kSuccessWithoutCertificate, "no certificate"}}) {
    serve_ca(h.sub, sub_key(), h.sub, sub_key(), c.forgery);
    auto reply = HttpUpstream(options_).send(
        make_request(url(), client_key(0), "r1", only_ca(h.sub), standard_caps()));
    ASSERT_FALSE(reply.has_value()) << c.message;
    EXPECT_EQ(reply.error().code(), Code::kInvalidArgument) << reply.error().to_string();
    EXPECT_NE(reply.error().message().find(c.message), std::string::npos)
        << reply.error().message();
    server_.reset();
  }
}

TEST_F(UpstreamFakeCaTest, RequestsThatCannotBeBuiltAreRefusedBeforeSending) {
  serve_sub_ca(Forgery::kNone);
  HttpUpstream upstream(options_);
  UpstreamRequest no_ca = make_request(url(), client_key(0), "r1", {}, standard_caps());
  EXPECT_EQ(upstream.send(no_ca).error().code(), Code::kInvalidArgument);
  UpstreamRequest bad_csr =
      make_request(url(), client_key(0), "r1", only_ca(hierarchy().sub), standard_caps());
  bad_csr.csr_der = "not a CSR";
  EXPECT_EQ(upstream.send(bad_csr).error().code(), Code::kInvalidArgument);
  UpstreamRequest public_only =
      make_request(url(), client_key(0), "r1", only_ca(hierarchy().sub), standard_caps());
  public_only.signer_key = *hierarchy().root.public_key();
  EXPECT_EQ(upstream.send(public_only).error().code(), Code::kInvalidArgument);
  EXPECT_TRUE(server_->seen().empty());
}

}  // namespace
}  // namespace scepter::scep
