// The readers of a CA's GetCACaps and GetCACert answers, on hostile input.

#include <string>

#include <gtest/gtest.h>

#include "scep/upstream_client.h"

namespace scepter::scep {
namespace {

TEST(UpstreamCaps, AHostileAnswerIsBounded) {
  std::string body;
  for (int i = 0; i < 1000; ++i) body += std::string(200, 'x') + "\n";
  body += "POSTPKIOperation\n";
  ca::UpstreamCaps caps = parse_ca_caps(body);
  EXPECT_TRUE(caps.post);  // understood wherever it is
  ASSERT_EQ(caps.announced.size(), kMaxAnnouncedCaps);
  EXPECT_EQ(caps.announced.front().size(), kMaxCapLength);
}

TEST(UpstreamCaCertificates, ContentTypesAndGarbage) {
  auto wrong = read_ca_certificates("text/html", "<html>", "ca.example");
  ASSERT_FALSE(wrong.has_value());
  EXPECT_NE(wrong.error().message().find("ca.example"), std::string::npos);
  EXPECT_FALSE(read_ca_certificates("application/x-x509-ca-cert", "junk", "h").has_value());
  EXPECT_FALSE(read_ca_certificates("application/x-x509-ca-ra-cert", "junk", "h").has_value());
}

}  // namespace
}  // namespace scepter::scep
