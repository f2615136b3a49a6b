#include "pki/profile.h"

#include <gtest/gtest.h>

#include "common/testing.h"
#include "pki/name.h"
#include "pki/test_support.h"

namespace scepter::pki {
namespace {

using Strings = std::vector<std::string>;

Ptr<X509_EXTENSION> conf_ext(int nid, const char* value) {
  Ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, nullptr, nid, value));
  if (!ext) std::abort();
  return ext;
}

Ptr<X509_EXTENSION> raw_ext(const char* oid, const std::string& value) {
  Ptr<ASN1_OBJECT> obj(OBJ_txt2obj(oid, 1));
  Ptr<ASN1_STRING> data(ASN1_OCTET_STRING_new());
  ASN1_OCTET_STRING_set(data.get(), reinterpret_cast<const unsigned char*>(value.data()),
                        static_cast<int>(value.size()));
  Ptr<X509_EXTENSION> ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 0, data.get()));
  if (!ext) std::abort();
  return ext;
}

Csr request(const Key& key, const std::vector<Ptr<X509_EXTENSION>>& exts,
            const std::string& dn = "CN=r1.example.com") {
  auto subject = parse_dn(dn);
  std::vector<const X509_EXTENSION*> borrowed;
  for (const auto& e : exts) borrowed.push_back(e.get());
  auto csr = make_csr(CsrSpec{.subject = subject->get(), .key = key, .extensions = borrowed});
  if (!csr) std::abort();
  return *csr;
}

std::vector<Ptr<X509_EXTENSION>> everything() {
  std::vector<Ptr<X509_EXTENSION>> exts;
  exts.push_back(conf_ext(NID_basic_constraints, "critical,CA:TRUE,pathlen:5"));
  exts.push_back(conf_ext(NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign"));
  exts.push_back(conf_ext(NID_ext_key_usage,
                          "clientAuth,codeSigning,OCSPSigning,anyExtendedKeyUsage,serverAuth,"
                          "1.3.6.1.4.1.99999.7"));
  exts.push_back(conf_ext(NID_subject_alt_name,
                          "DNS:r1.example.com,otherName:1.3.6.1.4.1.311.20.2.3;UTF8:upn@corp,"
                          "IP:192.0.2.1,IP:2001:db8::1,RID:1.2.3.4,email:ops@example.com,"
                          "URI:https://example.com/r1"));
  exts.push_back(conf_ext(NID_subject_key_identifier, "0102030405"));
  exts.push_back(conf_ext(NID_crl_distribution_points, "URI:http://evil.example/crl"));
  exts.push_back(conf_ext(NID_info_access, "OCSP;URI:http://evil.example/ocsp"));
  exts.push_back(raw_ext("2.5.29.32", "\x30\x08\x30\x06\x06\x04\x55\x1D\x20\x00"));
  exts.push_back(conf_ext(NID_netscape_cert_type, "objsign"));
  exts.push_back(raw_ext("1.3.6.1.4.1.99999.1", std::string("\x05\x00", 2)));
  return exts;
}

TEST(Profile, EndEntityReport) {
  const Csr csr = request(test::rsa_key_1024(), everything());
  const ProfileReport r = evaluate_profile(csr, Profile{});
  EXPECT_EQ(r.basic_constraints, "CA:FALSE");
  // Of what it asks, only digitalSignature is an end entity's: that is what it gets.
  EXPECT_EQ(r.key_usage, "digitalSignature");
  EXPECT_EQ(r.ekus, (Strings{"serverAuth", "clientAuth"}));
  EXPECT_EQ(r.sans, (Strings{"DNS:r1.example.com", "IP:192.0.2.1", "IP:2001:db8::1",
                             "email:ops@example.com", "URI:https://example.com/r1"}));
  EXPECT_FALSE(r.san_critical);
  EXPECT_EQ(
      r.dropped,
      (Strings{"basicConstraints CA:TRUE (replaced by the profile)",
               "keyUsage keyCertSign, cRLSign (replaced by the profile)",
               "extendedKeyUsage codeSigning", "extendedKeyUsage OCSPSigning",
               "extendedKeyUsage anyExtendedKeyUsage", "extendedKeyUsage 1.3.6.1.4.1.99999.7",
               "subjectAltName otherName", "subjectAltName registeredID",
               "subjectKeyIdentifier (computed by the CA)", "cRLDistributionPoints",
               "authorityInfoAccess", "certificatePolicies", "nsCertType", "1.3.6.1.4.1.99999.1"}));
}

TEST(Profile, EcKeyAndOperatorEkus) {
  const Csr plain = request(test::ec_key_256(), {});
  ProfileReport r = evaluate_profile(plain, Profile{});
  EXPECT_EQ(r.key_usage, "digitalSignature, keyAgreement");
  EXPECT_TRUE(r.ekus.empty());
  EXPECT_TRUE(r.sans.empty());
  EXPECT_TRUE(r.dropped.empty());
  r = evaluate_profile(plain,
                       Profile{.extra_ekus = {Eku::kSshServer, Eku::kIpsecIke, Eku::kIpsecIke}});
  EXPECT_EQ(r.ekus, (Strings{"ipsecIKE", "sshServer"}));
  // Asking for exactly what the profile gives drops nothing.
  std::vector<Ptr<X509_EXTENSION>> modest;
  modest.push_back(conf_ext(NID_basic_constraints, "critical,CA:FALSE"));
  modest.push_back(conf_ext(NID_key_usage, "critical,digitalSignature"));
  modest.push_back(conf_ext(NID_ext_key_usage, "clientAuth"));
  r = evaluate_profile(request(test::ec_key_256(), modest), Profile{});
  EXPECT_TRUE(r.dropped.empty()) << r.dropped.front();
  EXPECT_EQ(r.ekus, (Strings{"clientAuth"}));
  EXPECT_EQ(r.key_usage, "digitalSignature");
}

// IOS usage keys: the signature key's request asks for digitalSignature, the encryption
// key's for keyEncipherment, and each certificate carries what its request asked for —
// never more than the profile allows, and a CA keeps the CA usages.
TEST(Profile, UsageKeysNarrowTheKeyUsage) {
  std::vector<Ptr<X509_EXTENSION>> sign, encrypt, both, alien;
  sign.push_back(conf_ext(NID_key_usage, "critical,digitalSignature"));
  encrypt.push_back(conf_ext(NID_key_usage, "critical,keyEncipherment"));
  both.push_back(conf_ext(NID_key_usage, "critical,keyEncipherment,digitalSignature"));
  alien.push_back(conf_ext(NID_key_usage, "critical,keyCertSign"));
  const Key& key = test::rsa_key_1024();
  EXPECT_EQ(evaluate_profile(request(key, sign), Profile{}).key_usage, "digitalSignature");
  EXPECT_EQ(evaluate_profile(request(key, encrypt), Profile{}).key_usage, "keyEncipherment");
  EXPECT_EQ(evaluate_profile(request(key, both), Profile{}).key_usage,
            "digitalSignature, keyEncipherment");
  // Nothing of an end entity's asked for: the profile's usages.
  ProfileReport r = evaluate_profile(request(key, alien), Profile{});
  EXPECT_EQ(r.key_usage, "digitalSignature, keyEncipherment");
  EXPECT_EQ(r.dropped, (Strings{"keyUsage keyCertSign (replaced by the profile)"}));
  r = evaluate_profile(request(key, encrypt), Profile{.ca = CaProfile{}});
  EXPECT_EQ(r.key_usage, "digitalSignature, keyCertSign, cRLSign");
  // The certificate says what the report says.
  auto exts = profile_extensions(request(key, encrypt), Profile{});
  ASSERT_TRUE(exts.has_value());
  Ptr<ASN1_BIT_STRING> ku(static_cast<ASN1_BIT_STRING*>(X509V3_EXT_d2i((*exts)[1].get())));
  ASSERT_TRUE(ku);
  EXPECT_EQ(ASN1_BIT_STRING_get_bit(ku.get(), 0), 0);  // digitalSignature
  EXPECT_EQ(ASN1_BIT_STRING_get_bit(ku.get(), 2), 1);  // keyEncipherment
}

TEST(Profile, CaReport) {
  const Csr csr = request(test::rsa_key_1024(), everything());
  ProfileReport r = evaluate_profile(csr, Profile{.ca = CaProfile{.path_len = 0}});
  EXPECT_EQ(r.basic_constraints, "CA:TRUE, pathlen:0");
  EXPECT_EQ(r.key_usage, "digitalSignature, keyCertSign, cRLSign");
  EXPECT_TRUE(r.ekus.empty());
  ASSERT_GE(r.dropped.size(), 5u);
  EXPECT_EQ(r.dropped[0], "basicConstraints pathlen:5 (replaced by the profile)");
  EXPECT_EQ(r.dropped[1], "extendedKeyUsage clientAuth");  // no EKU in a CA certificate
  r = evaluate_profile(csr, Profile{.ca = CaProfile{}, .extra_ekus = {Eku::kServerAuth}});
  EXPECT_EQ(r.basic_constraints, "CA:TRUE");
  EXPECT_TRUE(r.ekus.empty());
  const Csr negative = request(test::ec_key_256(), {});
  EXPECT_CODE(profile_extensions(negative, Profile{.ca = CaProfile{.path_len = -1}}),
              Code::kInvalidArgument);
}

TEST(Profile, EmptySubjectMakesSanCritical) {
  std::vector<Ptr<X509_EXTENSION>> exts;
  exts.push_back(conf_ext(NID_subject_alt_name, "DNS:only.example"));
  auto empty = Ptr<X509_NAME>(X509_NAME_new());
  auto csr = make_csr(
      CsrSpec{.subject = empty.get(), .key = test::ec_key_256(), .extensions = {exts[0].get()}});
  ASSERT_OK(csr);
  const ProfileReport r = evaluate_profile(*csr, Profile{});
  EXPECT_TRUE(r.san_critical);
  EXPECT_EQ(r.sans, (Strings{"DNS:only.example"}));
  auto out = profile_extensions(*csr, Profile{});
  ASSERT_OK(out);
  ASSERT_EQ(out->size(), 3u);
  EXPECT_EQ(OBJ_obj2nid(X509_EXTENSION_get_object((*out)[2].get())), NID_subject_alt_name);
  EXPECT_EQ(X509_EXTENSION_get_critical((*out)[2].get()), 1);
}

TEST(Profile, EkuNames) {
  EXPECT_EQ(*parse_eku("server-auth"), Eku::kServerAuth);
  EXPECT_EQ(*parse_eku("ServerAuth"), Eku::kServerAuth);
  EXPECT_EQ(*parse_eku("ipsec-ike"), Eku::kIpsecIke);
  EXPECT_EQ(*parse_eku("ipsecIKE"), Eku::kIpsecIke);
  EXPECT_EQ(*parse_eku("ssh-client"), Eku::kSshClient);
  EXPECT_EQ(*parse_eku("email-protection"), Eku::kEmailProtection);
  for (const char* bad : {"code-signing", "ocsp-signing", "time-stamping", "codeSigning",
                          "anyExtendedKeyUsage", "", "server-aut"}) {
    EXPECT_CODE(parse_eku(bad), Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(eku_name(Eku::kIpsecEndSystem), "ipsecEndSystem");
  EXPECT_EQ(eku_name(Eku::kSshServer), "sshServer");
}

}  // namespace
}  // namespace scepter::pki
