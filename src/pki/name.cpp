#include "pki/name.h"

#include <climits>
#include <optional>
#include <vector>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "pki/encoding.h"
#include "pki/io.h"

namespace scepter::pki {
namespace {

struct Attribute {
  int nid;
  std::string_view config;  // label format_dn_config prints
  std::string_view ios;     // label format_dn_ios prints
  unsigned long prefer;     // string types we choose among, cheapest first
};

constexpr unsigned long kDirString = B_ASN1_PRINTABLESTRING | B_ASN1_UTF8STRING;

constexpr Attribute kAttributes[] = {
    {NID_commonName, "CN", "cn", kDirString},
    {NID_organizationalUnitName, "OU", "ou", kDirString},
    {NID_organizationName, "O", "o", kDirString},
    {NID_countryName, "C", "c", kDirString},
    {NID_localityName, "L", "l", kDirString},
    {NID_stateOrProvinceName, "ST", "st", kDirString},
    {NID_pkcs9_emailAddress, "E", "e", kDirString},
    {NID_serialNumber, "serialNumber", "serialNumber", kDirString},
    {NID_domainComponent, "DC", "dc", kDirString},
    {NID_userId, "UID", "uid", kDirString},
    {NID_title, "title", "title", kDirString},
    {NID_streetAddress, "street", "street", kDirString},
    {NID_pkcs9_unstructuredName, "unstructuredName", "hostname",
     B_ASN1_IA5STRING | B_ASN1_UTF8STRING},
    {NID_pkcs9_unstructuredAddress, "unstructuredAddress", "ipaddress", kDirString},
};

struct Alias {
  std::string_view label;  // lower case
  int nid;
};

constexpr Alias kAliases[] = {
    {"email", NID_pkcs9_emailAddress},
    {"emailaddress", NID_pkcs9_emailAddress},
    {"hostname", NID_pkcs9_unstructuredName},
    {"ipaddress", NID_pkcs9_unstructuredAddress},
};

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

const Attribute* find_attribute(int nid) {
  for (const Attribute& a : kAttributes) {
    if (a.nid == nid) return &a;
  }
  return nullptr;
}

bool is_dotted_oid(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (const char c : s) {
    if (c != '.' && (c < '0' || c > '9')) return false;
  }
  return s.find('.') != std::string_view::npos;
}

// OBJ_nid2obj returns a static object; freeing it through Ptr is a no-op, so both kinds
// of object can share one owner type.
Ptr<ASN1_OBJECT> label_object(std::string_view label) {
  for (const Attribute& a : kAttributes) {
    if (iequals(label, a.config)) return Ptr<ASN1_OBJECT>(OBJ_nid2obj(a.nid));
  }
  for (const Alias& a : kAliases) {
    if (iequals(label, a.label)) return Ptr<ASN1_OBJECT>(OBJ_nid2obj(a.nid));
  }
  if (is_dotted_oid(label)) {
    return Ptr<ASN1_OBJECT>(OBJ_txt2obj(std::string(label).c_str(), 1));
  }
  return nullptr;
}

// One attribute of an RDN as written in the text.
struct Ava {
  std::string label;
  std::string value;  // unescaped, UTF-8
};
using Rdn = std::vector<Ava>;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

// Splits the text into RDNs of attributes, handling escapes and quotes. Returns nullopt on
// a syntax error.
std::optional<std::vector<Rdn>> tokenize(std::string_view s) {
  std::vector<Rdn> rdns(1);
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (true) {
    while (i < n && is_space(s[i])) ++i;
    Ava ava;
    while (i < n && s[i] != '=' && s[i] != ',' && s[i] != '+') ava.label.push_back(s[i++]);
    while (!ava.label.empty() && is_space(ava.label.back())) ava.label.pop_back();
    if (i == n || s[i] != '=' || ava.label.empty()) return std::nullopt;
    ++i;  // '='
    while (i < n && is_space(s[i])) ++i;
    if (i < n && s[i] == '"') {
      ++i;
      while (i < n && s[i] != '"') {
        if (s[i] == '\\') {
          if (++i == n) return std::nullopt;
        }
        ava.value.push_back(s[i++]);
      }
      if (i == n) return std::nullopt;
      ++i;  // closing quote
      while (i < n && is_space(s[i])) ++i;
    } else {
      // RFC 4514's "#hexstring" form is not supported; "\#" is a literal '#'.
      if (i < n && s[i] == '#') return std::nullopt;
      std::size_t keep = 0;  // length of the value up to its last escaped character
      while (i < n && s[i] != ',' && s[i] != '+') {
        if (s[i] == '\\') {
          if (++i == n) return std::nullopt;
          const int hi = hex_value(s[i]);
          const int lo = i + 1 < n ? hex_value(s[i + 1]) : -1;
          if (hi >= 0 && lo >= 0) {
            ava.value.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
          } else {
            ava.value.push_back(s[i++]);
          }
          keep = ava.value.size();
        } else if (s[i] == '"' || s[i] == ';') {
          // RFC 4514 requires these escaped; an unescaped ';' is most likely meant as
          // an (old-style) separator, so refuse rather than swallow it into the value.
          return std::nullopt;
        } else {
          ava.value.push_back(s[i++]);
        }
      }
      while (ava.value.size() > keep && is_space(ava.value.back())) ava.value.pop_back();
    }
    if (ava.value.empty()) return std::nullopt;
    rdns.back().push_back(std::move(ava));
    if (i == n) return rdns;
    if (s[i] == ',') {
      rdns.emplace_back();
    } else if (s[i] != '+') {
      return std::nullopt;
    }
    ++i;
  }
}

// Builds one entry with the string type our policy picks for this attribute.
Ptr<X509_NAME_ENTRY> make_entry(const ASN1_OBJECT* obj, std::string_view value) {
  if (value.size() > INT_MAX) return nullptr;
  const int nid = OBJ_obj2nid(obj);
  const Attribute* attr = find_attribute(nid);
  unsigned long mask = attr ? attr->prefer : kDirString;
  long minsize = 0;
  long maxsize = 0;
  if (const ASN1_STRING_TABLE* tbl = ASN1_STRING_TABLE_get(nid)) {
    minsize = tbl->minsize;
    maxsize = tbl->maxsize;
    if ((tbl->flags & STABLE_NO_MASK) != 0 || (tbl->mask & mask) == 0) {
      mask = tbl->mask;
    } else {
      mask &= tbl->mask;
    }
  }
  ASN1_STRING* raw = nullptr;
  if (ASN1_mbstring_ncopy(&raw, reinterpret_cast<const unsigned char*>(value.data()),
                          static_cast<int>(value.size()), MBSTRING_UTF8, mask, minsize,
                          maxsize) < 0) {
    return nullptr;
  }
  Ptr<ASN1_STRING> str(raw);
  return Ptr<X509_NAME_ENTRY>(X509_NAME_ENTRY_create_by_OBJ(
      nullptr, obj, ASN1_STRING_type(str.get()), ASN1_STRING_get0_data(str.get()),
      ASN1_STRING_length(str.get())));
}

// The RDNs of `name` in DER order, each a list of entries in stored order.
std::vector<std::vector<const X509_NAME_ENTRY*>> rdns_of(const X509_NAME* name) {
  std::vector<std::vector<const X509_NAME_ENTRY*>> rdns;
  int current = -1;
  const int count = X509_NAME_entry_count(name);
  for (int i = 0; i < count; ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    const int set = X509_NAME_ENTRY_set(e);
    if (rdns.empty() || set != current) rdns.emplace_back();
    current = set;
    rdns.back().push_back(e);
  }
  return rdns;
}

// The value as UTF-8, or nullopt when it is not a text type or not valid text.
std::optional<std::string> utf8_value(const X509_NAME_ENTRY* e) {
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(e);
  unsigned char* out = nullptr;
  const int len = ASN1_STRING_to_UTF8(&out, data);
  OpenSslBuf<unsigned char> owned(out);
  if (len < 0) {
    ERR_clear_error();
    return std::nullopt;
  }
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(len));
}

std::string raw_hex_value(const X509_NAME_ENTRY* e) {
  return "#" + hex_upper(string_bytes(X509_NAME_ENTRY_get_data(e)));
}

std::string dotted(const ASN1_OBJECT* obj) {
  char buf[128];
  const int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
  if (n <= 0) return "?";
  return std::string(buf, static_cast<std::size_t>(n) < sizeof buf ? n : sizeof buf - 1);
}

void append_escaped_byte(std::string& out, unsigned char c) {
  out.push_back('\\');
  out += hex_upper(std::string_view(reinterpret_cast<const char*>(&c), 1));
}

std::string escape_config(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c < 0x20 || c == 0x7F) {
      append_escaped_byte(out, c);
      continue;
    }
    const bool special = c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' ||
                         c == ';' || (i == 0 && (c == '#' || c == ' ')) ||
                         (i + 1 == v.size() && c == ' ');
    if (special) out.push_back('\\');
    out.push_back(static_cast<char>(c));
  }
  return out;
}

std::string escape_display(std::string_view v) {
  std::string out;
  for (const char ch : v) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) {
      append_escaped_byte(out, c);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

}  // namespace

Result<Ptr<X509_NAME>> parse_dn(std::string_view dn) {
  auto invalid = [&] {
    ERR_clear_error();
    return fail(invalid_argument(std::string(dn) + " is not a valid subject name"));
  };
  auto rdns = tokenize(dn);
  if (!rdns) return invalid();
  Ptr<X509_NAME> name(X509_NAME_new());
  if (!name) return fail(last_error("allocating X509_NAME"));
  // RFC 4514 writes the most specific RDN first; DER starts with the least specific.
  for (auto rdn = rdns->rbegin(); rdn != rdns->rend(); ++rdn) {
    bool first = true;
    for (const Ava& ava : *rdn) {
      Ptr<ASN1_OBJECT> obj = label_object(ava.label);
      if (!obj) return invalid();
      Ptr<X509_NAME_ENTRY> entry = make_entry(obj.get(), ava.value);
      if (!entry) return invalid();
      // set = 0 starts a new RDN, -1 joins the previous one.
      if (X509_NAME_add_entry(name.get(), entry.get(), -1, first ? 0 : -1) != 1) {
        return invalid();
      }
      first = false;
    }
  }
  return name;
}

Result<Ptr<X509_NAME>> common_name(std::string_view cn) {
  if (cn.empty() || cn.size() > 64) {
    return fail(invalid_argument("a common name has 1 to 64 characters"));
  }
  return parse_dn("CN=" + escape_config(cn));
}

std::string format_dn_config(const X509_NAME* name) {
  const auto rdns = rdns_of(name);
  std::string out;
  for (auto rdn = rdns.rbegin(); rdn != rdns.rend(); ++rdn) {
    if (!out.empty()) out += ", ";
    bool first = true;
    for (const X509_NAME_ENTRY* e : *rdn) {
      if (!first) out += "+";
      first = false;
      const ASN1_OBJECT* obj = X509_NAME_ENTRY_get_object(e);
      const Attribute* attr = find_attribute(OBJ_obj2nid(obj));
      out += attr ? std::string(attr->config) : dotted(obj);
      out += "=";
      const auto value = utf8_value(e);
      out += value ? escape_config(*value) : raw_hex_value(e);
    }
  }
  return out;
}

std::vector<std::vector<IosAttribute>> ios_rdns(const X509_NAME* name) {
  const auto rdns = rdns_of(name);
  std::vector<std::vector<IosAttribute>> out;
  for (auto rdn = rdns.rbegin(); rdn != rdns.rend(); ++rdn) {
    std::vector<IosAttribute>& attrs = out.emplace_back();
    for (const X509_NAME_ENTRY* e : *rdn) {
      IosAttribute& a = attrs.emplace_back();
      const ASN1_OBJECT* obj = X509_NAME_ENTRY_get_object(e);
      const int nid = OBJ_obj2nid(obj);
      if (const Attribute* attr = find_attribute(nid)) {
        a.label = attr->ios;
      } else if (nid != NID_undef) {
        a.label = OBJ_nid2sn(nid);
      } else {
        a.label = dotted(obj);
      }
      const auto value = utf8_value(e);
      a.value = value ? escape_display(*value) : raw_hex_value(e);
    }
  }
  return out;
}

std::vector<std::string> format_dn_ios_lines(const X509_NAME* name) {
  std::vector<std::string> lines;
  for (const auto& rdn : ios_rdns(name)) {
    std::string& line = lines.emplace_back();
    for (const IosAttribute& a : rdn) {
      if (!line.empty()) line += "+";
      line += a.label + "=" + a.value;
    }
  }
  return lines;
}

std::string format_dn_ios(const X509_NAME* name) {
  std::string out;
  for (const std::string& line : format_dn_ios_lines(name)) {
    if (!out.empty()) out += ",";
    out += line;
  }
  return out;
}

bool der_contains_name(std::string_view der, const X509_NAME* name) {
  const unsigned char* enc = nullptr;
  std::size_t len = 0;
  if (X509_NAME_get0_der(name, &enc, &len) != 1 || len == 0) return true;
  return der.find(std::string_view(reinterpret_cast<const char*>(enc), len)) !=
         std::string_view::npos;
}

}  // namespace scepter::pki
