#pragma once
// Helpers shared by the issuer tests (issuer_test.cpp, issuer_san_test.cpp) only.

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <openssl/x509v3.h>

#include "pki/encoding.h"
#include "pki/io.h"
#include "pki/issuer.h"
#include "pki/name.h"
#include "pki/test_support.h"

namespace scepter::pki::issuer_testing {

using test::run;
using test::TempDir;

inline constexpr char kCdp[] = "http://ca1.example.com/cgi-bin/pkiclient.exe?operation=GetCRL";

inline std::vector<int> extension_nids(const Certificate& cert) {
  std::vector<int> nids;
  for (int i = 0; i < X509_get_ext_count(cert.x509()); ++i) {
    nids.push_back(OBJ_obj2nid(X509_EXTENSION_get_object(X509_get_ext(cert.x509(), i))));
  }
  return nids;
}

inline std::string extension_value(const Certificate& cert, int nid) {
  const int i = X509_get_ext_by_NID(cert.x509(), nid, -1);
  if (i < 0) return {};
  return std::string(string_bytes(X509_EXTENSION_get_data(X509_get_ext(cert.x509(), i))));
}

inline bool extension_critical(const Certificate& cert, int nid) {
  const int i = X509_get_ext_by_NID(cert.x509(), nid, -1);
  return i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert.x509(), i)) == 1;
}

// `openssl x509 -noout -text` of a certificate.
inline std::string openssl_text(const TempDir& dir, const Certificate& cert) {
  dir.write("text.pem", cert.pem());
  auto out = run("openssl x509 -noout -text -in " + dir.file("text.pem"));
  EXPECT_EQ(out.status, 0) << out.text;
  return out.text;
}

// Runs `openssl verify` of `leaf` against `ca`; returns its output, "OK" lines included.
inline test::Output openssl_verify(const TempDir& dir, const Certificate& ca,
                                   const Certificate& leaf) {
  dir.write("ca.pem", ca.pem());
  dir.write("leaf.pem", leaf.pem());
  return run("openssl verify -attime " + std::to_string(test::kNow + 1000) + " -CAfile " +
             dir.file("ca.pem") + " " + dir.file("leaf.pem"));
}

// Asserts that the strings appear in `text` in this order.
inline void expect_in_order(const std::string& text, const std::vector<std::string>& parts) {
  std::size_t pos = 0;
  for (const std::string& p : parts) {
    const std::size_t at = text.find(p, pos);
    ASSERT_NE(at, std::string::npos) << "missing or out of order: " << p << "\n" << text;
    pos = at + p.size();
  }
}

inline Csr request(const std::string& dn, const Key& key,
                   std::vector<const X509_EXTENSION*> exts = {}) {
  auto subject = parse_dn(dn);
  auto csr = make_csr(CsrSpec{.subject = subject->get(), .key = key, .extensions = exts});
  if (!csr) std::abort();
  return *csr;
}

inline Result<Certificate> issue(const Csr& csr, const Certificate& ca, const Key& ca_key,
                                 std::uint64_t serial = 2, std::string cdp = {},
                                 bool allow_ca = false, Hash hash = Hash::kSha256) {
  return issue_certificate(IssueSpec{.csr = csr,
                                     .ca_cert = ca,
                                     .ca_key = ca_key,
                                     .serial = SerialNumber{serial},
                                     .not_before = from_unix(test::kNow + 100),
                                     .not_after = from_unix(test::kNow + 100 + 365 * 86400),
                                     .hash = hash,
                                     .cdp_url = std::move(cdp),
                                     .allow_ca = allow_ca});
}

inline Ptr<X509_EXTENSION> conf_ext(int nid, const char* value) {
  Ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, nullptr, nid, value));
  if (!ext) std::abort();
  return ext;
}

}  // namespace scepter::pki::issuer_testing
