#include "pki/name.h"

#include <gtest/gtest.h>

#include "common/testing.h"
#include "pki/csr.h"
#include "pki/io.h"
#include "pki/test_support.h"

namespace scepter::pki {
namespace {

struct Entry {
  int nid;
  std::string value;
  int type;
  int set;
};

std::vector<Entry> entries(const X509_NAME* name) {
  std::vector<Entry> out;
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    const ASN1_STRING* v = X509_NAME_ENTRY_get_data(e);
    out.push_back({OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)), std::string(string_bytes(v)),
                   ASN1_STRING_type(v), X509_NAME_ENTRY_set(e)});
  }
  return out;
}

// DER round trip, as a name read from a request or certificate would be.
Ptr<X509_NAME> reparse(const X509_NAME* name) {
  const std::string der = to_der(i2d_X509_NAME, name);
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  return Ptr<X509_NAME>(d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
}

TEST(ParseDn, ReversesIntoDerOrder) {
  auto name = parse_dn("CN=mycs, O=Example, C=US");
  ASSERT_OK(name);
  const auto e = entries(name->get());
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].nid, NID_countryName);
  EXPECT_EQ(e[0].value, "US");
  EXPECT_EQ(e[1].nid, NID_organizationName);
  EXPECT_EQ(e[2].nid, NID_commonName);
  EXPECT_EQ(e[2].value, "mycs");
  for (const Entry& x : e) EXPECT_EQ(x.type, V_ASN1_PRINTABLESTRING);
  EXPECT_EQ(e[0].set, 0);
  EXPECT_EQ(e[2].set, 2);
}

TEST(ParseDn, LabelsAreCaseInsensitiveWithAliases) {
  auto a = parse_dn("cn=R15,OU=VPN,o=Cisco,C=RU");
  ASSERT_OK(a);
  auto b = parse_dn("CN=R15, ou=VPN, O=Cisco, c=RU");
  ASSERT_OK(b);
  EXPECT_EQ(X509_NAME_cmp(a->get(), b->get()), 0);
  auto c = parse_dn(
      "hostname=r1.example.com, ipaddress=10.0.0.1, email=a@b.c, "
      "serialNumber=FTX123, DC=example, l=Moscow, st=Moscow, UID=u1");
  ASSERT_OK(c);
  const auto e = entries(c->get());
  ASSERT_EQ(e.size(), 8u);
  EXPECT_EQ(e[7].nid, NID_pkcs9_unstructuredName);
  EXPECT_EQ(e[7].type, V_ASN1_IA5STRING);  // as IOS clients send it
  EXPECT_EQ(e[6].nid, NID_pkcs9_unstructuredAddress);
  EXPECT_EQ(e[5].nid, NID_pkcs9_emailAddress);
  EXPECT_EQ(e[5].type, V_ASN1_IA5STRING);
  EXPECT_EQ(e[4].nid, NID_serialNumber);
  EXPECT_EQ(e[4].type, V_ASN1_PRINTABLESTRING);
  EXPECT_EQ(e[3].nid, NID_domainComponent);
  EXPECT_EQ(e[3].type, V_ASN1_IA5STRING);
  EXPECT_EQ(e[0].nid, NID_userId);
  auto d =
      parse_dn("emailAddress=x@y.z,unstructuredName=h,unstructuredAddress=1.2.3.4,2.5.4.3=oid");
  ASSERT_OK(d);
  EXPECT_EQ(entries(d->get())[0].nid, NID_commonName);
}

TEST(ParseDn, EscapesQuotesAndMultiValuedRdns) {
  auto name = parse_dn(R"(CN=a\,b\+c\\d, O="Example, Inc", OU=x\2Cy, L=\ lead)");
  ASSERT_OK(name);
  const auto e = entries(name->get());
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[3].value, "a,b+c\\d");
  EXPECT_EQ(e[2].value, "Example, Inc");
  EXPECT_EQ(e[1].value, "x,y");
  EXPECT_EQ(e[0].value, " lead");

  auto multi = parse_dn("serialNumber=67111345+hostname=R27.otus.ru, cn=R27, ou=VPN, o=Otus, c=RU");
  ASSERT_OK(multi);
  const auto m = entries(multi->get());
  ASSERT_EQ(m.size(), 6u);
  EXPECT_EQ(m[4].set, m[5].set);
  EXPECT_EQ(m[4].nid, NID_serialNumber);
  EXPECT_EQ(m[5].nid, NID_pkcs9_unstructuredName);
  EXPECT_NE(m[3].set, m[4].set);
}

TEST(ParseDn, NonAsciiBecomesUtf8String) {
  auto name = parse_dn("CN=Müller, O=A&B");
  ASSERT_OK(name);
  const auto e = entries(name->get());
  EXPECT_EQ(e[1].type, V_ASN1_UTF8STRING);
  EXPECT_EQ(e[1].value, "Müller");
  EXPECT_EQ(e[0].type, V_ASN1_UTF8STRING);  // '&' is not in PrintableString
}

TEST(ParseDn, RejectsInvalidNames) {
  for (const char* bad :
       {"",
        "   ",
        "CN",
        "CN=",
        "=x",
        "CN=x,",
        ",CN=x",
        "CN=x,,O=y",
        "XX=y",
        "CN=x+",
        "C=USA",
        "C=U",
        "CN=\"open",
        "CN=a\"b",
        "CN=#0403",
        "CN=x\\",
        "1.=x",
        "CN=x;O=y",
        "CN=0123456789012345678901234567890123456789012345678901234567890123456789",
        "serialNumber=a_b"}) {
    auto r = parse_dn(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(r.error().message(), std::string(bad) + " is not a valid subject name");
  }
}

TEST(FormatDn, ConfigFormRoundTrips) {
  for (const char* text :
       {"CN=mycs, O=Example, C=US", "CN=R15, OU=VPN, O=Cisco, C=RU",
        "serialNumber=67111345+unstructuredName=R27.otus.ru, CN=R27, OU=VPN, O=Otus, C=RU",
        "CN=a\\,b\\+c\\\\d\\\"e\\<f\\>g\\;h, O=\\ x\\ ", "CN=Müller", "E=a@b.c, DC=example",
        "2.5.4.12=Boss, unstructuredAddress=10.1.1.1, L=x, ST=y, UID=z, title=t, street=s",
        "CN=\\#hash"}) {
    auto name = parse_dn(text);
    ASSERT_OK(name) << text;
    const std::string formatted = format_dn_config(name->get());
    auto again = parse_dn(formatted);
    ASSERT_OK(again) << formatted;
    EXPECT_EQ(to_der(i2d_X509_NAME, name->get()), to_der(i2d_X509_NAME, again->get()))
        << text << " -> " << formatted;
  }
  EXPECT_EQ(format_dn_config(parse_dn("cn=mycs,o=Example,c=US")->get()),
            "CN=mycs, O=Example, C=US");
  EXPECT_EQ(format_dn_config(parse_dn("CN=a\\,b")->get()), "CN=a\\,b");
  EXPECT_EQ(format_dn_config(parse_dn("2.5.4.12=Boss")->get()), "title=Boss");
  EXPECT_EQ(format_dn_config(parse_dn("1.3.6.1.4.1.99999.1=x")->get()), "1.3.6.1.4.1.99999.1=x");
}

TEST(FormatDn, IosDisplayForm) {
  auto name = parse_dn("serialNumber=67111345+hostname=R27.otus.ru,cn=R27,ou=VPN,o=Otus,c=RU");
  ASSERT_OK(name);
  Ptr<X509_NAME> der = reparse(name->get());
  ASSERT_TRUE(der);
  EXPECT_EQ(format_dn_ios(der.get()),
            "serialNumber=67111345+hostname=R27.otus.ru,cn=R27,ou=VPN,o=Otus,c=RU");
  // DER sorts a multi-valued RDN; IOS prints it in that order.
  auto perth = parse_dn("serialNumber=69210114+hostname=Perth.perth.xyz.com+ipaddress=4.4.4.2");
  ASSERT_OK(perth);
  der = reparse(perth->get());
  EXPECT_EQ(format_dn_ios(der.get()),
            "serialNumber=69210114+ipaddress=4.4.4.2+hostname=Perth.perth.xyz.com");
  EXPECT_EQ(format_dn_ios(parse_dn("E=a@b.c,L=x,ST=y,CN=R12")->get()), "e=a@b.c,l=x,st=y,cn=R12");
  EXPECT_EQ(format_dn_ios(parse_dn("CN=a\\0Ab")->get()), "cn=a\\0Ab");
  Ptr<X509_NAME> empty(X509_NAME_new());
  EXPECT_EQ(format_dn_ios(empty.get()), "");
  EXPECT_EQ(format_dn_config(empty.get()), "");
}

// One RDN per line for the multi-line displays; a ',' or '+' inside a value stays in its
// line, which splitting format_dn_ios could not tell apart.
TEST(FormatDn, IosLines) {
  auto name = parse_dn("serialNumber=67111345+hostname=R27.otus.ru,cn=R27,o=Otus\\, Inc,c=RU");
  ASSERT_OK(name);
  Ptr<X509_NAME> der = reparse(name->get());
  ASSERT_TRUE(der);
  EXPECT_EQ(format_dn_ios_lines(der.get()),
            (std::vector<std::string>{"serialNumber=67111345+hostname=R27.otus.ru", "cn=R27",
                                      "o=Otus, Inc", "c=RU"}));
  EXPECT_EQ(format_dn_ios(der.get()),
            "serialNumber=67111345+hostname=R27.otus.ru,cn=R27,o=Otus, Inc,c=RU");
  const auto rdns = ios_rdns(der.get());
  ASSERT_EQ(rdns.size(), 4u);
  ASSERT_EQ(rdns[0].size(), 2u);
  EXPECT_EQ(rdns[0][1].label, "hostname");
  EXPECT_EQ(rdns[0][1].value, "R27.otus.ru");
  EXPECT_EQ(rdns[2][0].label, "o");
  EXPECT_EQ(rdns[2][0].value, "Otus, Inc");
  Ptr<X509_NAME> empty(X509_NAME_new());
  EXPECT_TRUE(format_dn_ios_lines(empty.get()).empty());
}

// An IOS-style subject made by OpenSSL: our config form matches OpenSSL's RFC 2253 print
// (apart from spacing), and the IOS form is the reference's example.
TEST(FormatDn, AgreesWithOpenssl) {
  test::TempDir dir;
  auto out = test::run(
      "cd " + dir.file("") +
      " && openssl req -new -newkey rsa:1024 -nodes -keyout k.pem -out r.pem -multivalue-rdn"
      " -subj '/C=RU/O=Otus/OU=VPN/CN=R27/serialNumber=67111345+unstructuredName=R27.otus.ru'"
      " && openssl req -in r.pem -noout -subject -nameopt RFC2253");
  ASSERT_EQ(out.status, 0) << out.text;
  auto csr = Csr::parse(dir.read("r.pem"));
  ASSERT_OK(csr);
  EXPECT_EQ(format_dn_ios(csr->subject()),
            "serialNumber=67111345+hostname=R27.otus.ru,cn=R27,ou=VPN,o=Otus,c=RU");
  // OpenSSL prints the RDNs in the same order (it lists a multi-valued RDN backwards).
  EXPECT_NE(out.text.find("subject=unstructuredName=R27.otus.ru+serialNumber=67111345,"
                          "CN=R27,OU=VPN,O=Otus,C=RU"),
            std::string::npos)
      << out.text;
  const std::string config = format_dn_config(csr->subject());
  EXPECT_EQ(config,
            "serialNumber=67111345+unstructuredName=R27.otus.ru, CN=R27, OU=VPN, O=Otus, C=RU");
  auto reparsed = parse_dn(config);
  ASSERT_OK(reparsed);
  EXPECT_EQ(X509_NAME_cmp(reparsed->get(), csr->subject()), 0);
}

}  // namespace
}  // namespace scepter::pki
