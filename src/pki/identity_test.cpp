#include "pki/identity.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <openssl/objects.h>

#include "pki/name.h"

namespace scepter::pki {
namespace {

Ptr<X509_NAME> dn(std::string_view text) {
  auto n = parse_dn(text);
  EXPECT_TRUE(n.has_value()) << text;
  return n.has_value() ? std::move(*n) : nullptr;
}

TEST(NameHasAttribute, WholeValueOnlyIgnoringCase) {
  auto ra = dn("CN=myra, OU=ioscs RA, O=company");
  EXPECT_TRUE(name_has_attribute(ra.get(), NID_organizationalUnitName, "ioscs RA"));
  EXPECT_TRUE(name_has_attribute(ra.get(), NID_organizationalUnitName, "IOSCS ra"));
  EXPECT_FALSE(name_has_attribute(ra.get(), NID_commonName, "ioscs RA"));

  auto cn_ra = dn("CN=ioscs RA");
  EXPECT_TRUE(name_has_attribute(cn_ra.get(), NID_commonName, "ioscs RA"));

  auto radius = dn("CN=ioscs radius");
  EXPECT_FALSE(name_has_attribute(radius.get(), NID_commonName, "ioscs RA"));
}

TEST(NameHasAttribute, EmbeddedTextIsNotAnAttribute) {
  // One CN whose value contains the text ",ou=ioscs RA".
  Ptr<X509_NAME> name(X509_NAME_new());
  ASSERT_TRUE(X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_ASC,
                                         reinterpret_cast<const unsigned char*>("evil,ou=ioscs RA"),
                                         -1, -1, 0));
  EXPECT_FALSE(name_has_attribute(name.get(), NID_organizationalUnitName, "ioscs RA"));
  EXPECT_FALSE(name_has_attribute(name.get(), NID_commonName, "ioscs RA"));
  std::string shown = format_dn_ios(name.get());
  std::transform(shown.begin(), shown.end(), shown.begin(), ::tolower);
  EXPECT_NE(shown.find("ou=ioscs ra"), std::string::npos)
      << shown << ": the display form contains the text, so a substring test would be fooled";
}

TEST(SameName, CanonicalComparison) {
  auto a = dn("CN=Router1, O=Example");
  auto b = dn("cn=router1,  o=example");
  auto c = dn("O=Example, CN=Router1");
  EXPECT_TRUE(same_name(a.get(), b.get()));
  EXPECT_FALSE(same_name(a.get(), c.get()));
  EXPECT_FALSE(same_name(a.get(), nullptr));
}

}  // namespace
}  // namespace scepter::pki
