// The certificate profile's subjectAltName rules: kinds kept, kinds dropped.

#include <gtest/gtest.h>

#include <openssl/x509v3.h>

#include "pki/issuer_test_support.h"

namespace scepter::pki {
namespace {

using namespace issuer_testing;

GENERAL_NAME* general_name(int type, void* value) {
  GENERAL_NAME* gen = GENERAL_NAME_new();
  GENERAL_NAME_set0_value(gen, type, value);
  return gen;
}

ASN1_STRING* ia5(const std::string& s) {
  ASN1_STRING* str = ASN1_IA5STRING_new();
  ASN1_STRING_set(str, s.data(), static_cast<int>(s.size()));
  return str;
}

ASN1_STRING* octets(const std::string& s) {
  ASN1_STRING* str = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(str, reinterpret_cast<const unsigned char*>(s.data()),
                        static_cast<int>(s.size()));
  return str;
}

// The SAN entries the profile keeps, as GENERAL_NAMEs.
Ptr<STACK_OF(GENERAL_NAME)> kept_names() {
  Ptr<STACK_OF(GENERAL_NAME)> names(GENERAL_NAMES_new());
  sk_GENERAL_NAME_push(names.get(), general_name(GEN_DNS, ia5("a.example")));
  sk_GENERAL_NAME_push(names.get(),
                       general_name(GEN_IPADD, octets(std::string("\xC0\x00\x02\x01", 4))));
  sk_GENERAL_NAME_push(
      names.get(), general_name(GEN_IPADD, octets(std::string(
                                               "\x20\x01\x0D\xB8\0\0\0\0\0\0\0\0\0\0\0\x01", 16))));
  sk_GENERAL_NAME_push(names.get(), general_name(GEN_EMAIL, ia5("a@example.com")));
  sk_GENERAL_NAME_push(names.get(), general_name(GEN_URI, ia5("https://example.com/x")));
  return names;
}

// kept_names() interleaved with kinds the profile drops.
Ptr<X509_EXTENSION> mixed_san() {
  Ptr<STACK_OF(GENERAL_NAME)> keep = kept_names();
  Ptr<STACK_OF(GENERAL_NAME)> names(GENERAL_NAMES_new());
  auto take = [&] { sk_GENERAL_NAME_push(names.get(), sk_GENERAL_NAME_shift(keep.get())); };
  take();
  GENERAL_NAME* other = GENERAL_NAME_new();
  ASN1_TYPE* utf8 = ASN1_TYPE_new();
  Ptr<ASN1_STRING> upn(ia5("upn@corp"));
  ASN1_TYPE_set1(utf8, V_ASN1_UTF8STRING, upn.get());  // copies it
  GENERAL_NAME_set0_othername(other, OBJ_txt2obj("1.3.6.1.4.1.311.20.2.3", 1), utf8);
  sk_GENERAL_NAME_push(names.get(), other);
  take();
  auto dn = parse_dn("CN=dir");
  sk_GENERAL_NAME_push(names.get(), general_name(GEN_DIRNAME, X509_NAME_dup(dn->get())));
  take();
  sk_GENERAL_NAME_push(names.get(), general_name(GEN_RID, OBJ_txt2obj("1.2.3.4", 1)));
  // An address with a mask (name-constraint form) and a DNS name with a NUL byte.
  sk_GENERAL_NAME_push(names.get(), general_name(GEN_IPADD, octets(std::string(8, '\x0A'))));
  sk_GENERAL_NAME_push(names.get(),
                       general_name(GEN_DNS, ia5(std::string("bank.example\0.evil", 18))));
  take();
  take();
  return Ptr<X509_EXTENSION>(X509V3_EXT_i2d(NID_subject_alt_name, 1, names.get()));
}

TEST(IssueCertificate, SubjectAltNameKeepsOnlyKnownKinds) {
  const Key& ca_key = test::ec_key_256();
  const Certificate ca = test::make_test_ca(ca_key);
  auto san = mixed_san();
  ASSERT_TRUE(san);
  auto ee = issue(request("CN=sans", test::ec_key_256(), {san.get()}), ca, ca_key);
  ASSERT_OK(ee);
  EXPECT_EQ(extension_nids(*ee),
            (std::vector<int>{NID_basic_constraints, NID_key_usage, NID_subject_alt_name,
                              NID_authority_key_identifier, NID_subject_key_identifier}));
  // Requested critical, issued non-critical: the subject is not empty.
  EXPECT_FALSE(extension_critical(*ee, NID_subject_alt_name));
  Ptr<STACK_OF(GENERAL_NAME)> kept = kept_names();
  EXPECT_EQ(extension_value(*ee, NID_subject_alt_name), to_der(i2d_GENERAL_NAMES, kept.get()));
  TempDir dir;
  const std::string text = openssl_text(dir, *ee);
  EXPECT_NE(text.find("DNS:a.example, IP Address:192.0.2.1, IP Address:2001:DB8:0:0:0:0:0:1, "
                      "email:a@example.com, URI:https://example.com/x\n"),
            std::string::npos)
      << text;

  // An empty subject makes the subjectAltName critical, and is refused without one.
  Ptr<X509_NAME> empty(X509_NAME_new());
  auto keep_san = Ptr<X509_EXTENSION>(X509V3_EXT_i2d(NID_subject_alt_name, 0, kept.get()));
  auto csr = make_csr(
      CsrSpec{.subject = empty.get(), .key = test::ec_key_256(), .extensions = {keep_san.get()}});
  ASSERT_OK(csr);
  auto anonymous = issue(*csr, ca, ca_key);
  ASSERT_OK(anonymous);
  EXPECT_TRUE(extension_critical(*anonymous, NID_subject_alt_name));
  auto other_only = conf_ext(NID_subject_alt_name, "RID:1.2.3.4");
  csr = make_csr(
      CsrSpec{.subject = empty.get(), .key = test::ec_key_256(), .extensions = {other_only.get()}});
  ASSERT_OK(csr);
  EXPECT_CODE(issue(*csr, ca, ca_key), Code::kInvalidArgument);
  csr = make_csr(CsrSpec{.subject = empty.get(), .key = test::ec_key_256()});
  ASSERT_OK(csr);
  EXPECT_CODE(issue(*csr, ca, ca_key), Code::kInvalidArgument);
}

}  // namespace
}  // namespace scepter::pki
