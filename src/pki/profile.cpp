#include "pki/profile.h"

#include <arpa/inet.h>
#include <strings.h>

#include <algorithm>
#include <array>
#include <climits>

#include <fmt/format.h>
#include <openssl/err.h>

namespace scepter::pki {
namespace {

// EXTENDED_KEY_USAGE is STACK_OF(ASN1_OBJECT), which ptr.h does not cover.
struct EkuFree {
  void operator()(EXTENDED_KEY_USAGE* p) const { EXTENDED_KEY_USAGE_free(p); }
};
using EkuPtr = std::unique_ptr<EXTENDED_KEY_USAGE, EkuFree>;

struct EkuInfo {
  Eku eku;
  int nid;
  const char* name;   // OpenSSL's short name, except for the SSH ones
  const char* ios;    // the IOS `eku` keyword
  bool from_request;  // may a request obtain it by asking
};
constexpr std::array<EkuInfo, 9> kEkus = {{
    {Eku::kServerAuth, NID_server_auth, "serverAuth", "server-auth", true},
    {Eku::kClientAuth, NID_client_auth, "clientAuth", "client-auth", true},
    {Eku::kIpsecIke, NID_ipsec_IKE, "ipsecIKE", "ipsec-ike", true},
    {Eku::kIpsecEndSystem, NID_ipsecEndSystem, "ipsecEndSystem", "ipsec-end-system", true},
    {Eku::kIpsecTunnel, NID_ipsecTunnel, "ipsecTunnel", "ipsec-tunnel", true},
    {Eku::kIpsecUser, NID_ipsecUser, "ipsecUser", "ipsec-user", true},
    {Eku::kEmailProtection, NID_email_protect, "emailProtection", "email-protection", true},
    {Eku::kSshClient, NID_sshClient, "sshClient", "ssh-client", false},
    {Eku::kSshServer, NID_sshServer, "sshServer", "ssh-server", false},
}};

const EkuInfo& info(Eku eku) { return kEkus[static_cast<std::size_t>(eku)]; }

// RFC 5280 4.2.1.3 bit numbers and names.
constexpr std::array<const char*, 9> kKeyUsageNames = {
    "digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement",
    "keyCertSign",      "cRLSign",        "encipherOnly",    "decipherOnly"};
constexpr int kDigitalSignature = 0;
constexpr int kKeyEncipherment = 2;
constexpr int kKeyAgreement = 4;
constexpr int kKeyCertSign = 5;
constexpr int kCrlSign = 6;

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += ", ";
    out += p;
  }
  return out;
}

std::string object_name(const ASN1_OBJECT* obj) {
  const int nid = OBJ_obj2nid(obj);
  if (nid == NID_crl_distribution_points) return "cRLDistributionPoints";  // RFC 5280 name
  if (nid != NID_undef) return OBJ_nid2sn(nid);
  char buf[80];  // a longer OID is cut short: this is for messages only
  if (OBJ_obj2txt(buf, sizeof buf, obj, 1) <= 0) return "an unknown OID";
  return buf;
}

bool printable_ascii(const ASN1_STRING* s) {
  const int len = ASN1_STRING_length(s);
  if (len <= 0) return false;
  const unsigned char* p = ASN1_STRING_get0_data(s);
  for (int i = 0; i < len; ++i) {
    if (p[i] < 0x21 || p[i] > 0x7E) return false;
  }
  return true;
}

std::string text(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

// What the profile decides for one request; evaluate_profile() reports it and
// profile_extensions() encodes it.
struct Decision {
  ProfileReport report;
  bool ca = false;
  std::optional<int> path_len;
  std::vector<int> key_usage;                // bit numbers
  std::array<bool, kEkus.size()> ekus = {};  // by Eku
  Ptr<STACK_OF(GENERAL_NAME)> sans;          // kept entries, in request order
};

void review_basic_constraints(X509_EXTENSION* ext, Decision& d) {
  Ptr<BASIC_CONSTRAINTS> bc(static_cast<BASIC_CONSTRAINTS*>(X509V3_EXT_d2i(ext)));
  if (!bc) {
    ERR_clear_error();
    d.report.dropped.push_back("basicConstraints (malformed)");
    return;
  }
  if (bc->ca != 0 && !d.ca) {
    d.report.dropped.push_back("basicConstraints CA:TRUE (replaced by the profile)");
    return;
  }
  if (bc->ca != 0 && bc->pathlen != nullptr) {
    const long asked = ASN1_INTEGER_get(bc->pathlen);
    if (!d.path_len || asked != *d.path_len) {
      d.report.dropped.push_back(
          fmt::format("basicConstraints pathlen:{} (replaced by the profile)", asked));
    }
  }
}

void review_key_usage(X509_EXTENSION* ext, Decision& d) {
  Ptr<ASN1_STRING> ku(static_cast<ASN1_BIT_STRING*>(X509V3_EXT_d2i(ext)));
  if (!ku) {
    ERR_clear_error();
    d.report.dropped.push_back("keyUsage (malformed)");
    return;
  }
  std::vector<std::string> refused;
  std::vector<int> granted;  // asked for and allowed, in bit order
  for (int bit = 0; bit < static_cast<int>(kKeyUsageNames.size()); ++bit) {
    if (ASN1_BIT_STRING_get_bit(ku.get(), bit) != 1) continue;
    if (std::find(d.key_usage.begin(), d.key_usage.end(), bit) == d.key_usage.end()) {
      refused.emplace_back(kKeyUsageNames[static_cast<std::size_t>(bit)]);
    } else {
      granted.push_back(bit);
    }
  }
  if (!refused.empty()) {
    d.report.dropped.push_back("keyUsage " + join(refused) + " (replaced by the profile)");
  }
  // An end entity may ask for less than the profile allows (IOS usage keys: one key to
  // sign, one to encrypt); a CA always gets the CA usages.
  if (!d.ca && !granted.empty()) d.key_usage = std::move(granted);
}

void review_ekus(X509_EXTENSION* ext, Decision& d) {
  EkuPtr asked(static_cast<EXTENDED_KEY_USAGE*>(X509V3_EXT_d2i(ext)));
  if (!asked) {
    ERR_clear_error();
    d.report.dropped.push_back("extendedKeyUsage (malformed)");
    return;
  }
  for (int i = 0; i < sk_ASN1_OBJECT_num(asked.get()); ++i) {
    const ASN1_OBJECT* oid = sk_ASN1_OBJECT_value(asked.get(), i);
    const int nid = OBJ_obj2nid(oid);
    const auto* it = std::find_if(kEkus.begin(), kEkus.end(), [nid](const EkuInfo& e) {
      return e.nid == nid && e.from_request;
    });
    if (it == kEkus.end() || d.ca) {
      d.report.dropped.push_back("extendedKeyUsage " + object_name(oid));
      continue;
    }
    d.ekus[static_cast<std::size_t>(it->eku)] = true;
  }
}

void review_sans(X509_EXTENSION* ext, Decision& d) {
  Ptr<STACK_OF(GENERAL_NAME)> names(static_cast<STACK_OF(GENERAL_NAME)*>(X509V3_EXT_d2i(ext)));
  if (!names) {
    ERR_clear_error();
    d.report.dropped.push_back("subjectAltName (malformed)");
    return;
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gen = sk_GENERAL_NAME_value(names.get(), i);
    int type = 0;
    const void* value = GENERAL_NAME_get0_value(gen, &type);
    std::string shown;
    switch (type) {
      case GEN_DNS:
      case GEN_EMAIL:
      case GEN_URI: {
        const char* kind = type == GEN_DNS ? "DNS" : type == GEN_EMAIL ? "email" : "URI";
        const auto* s = static_cast<const ASN1_IA5STRING*>(value);
        if (!printable_ascii(s)) {
          d.report.dropped.push_back(fmt::format("subjectAltName {} (not printable ASCII)", kind));
          continue;
        }
        shown = fmt::format("{}:{}", kind, text(s));
        break;
      }
      case GEN_IPADD: {
        const auto* ip = static_cast<const ASN1_OCTET_STRING*>(value);
        const int len = ASN1_STRING_length(ip);
        char buf[INET6_ADDRSTRLEN] = {};
        if ((len != 4 && len != 16) ||
            inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip), buf, sizeof buf) ==
                nullptr) {
          d.report.dropped.push_back("subjectAltName IP (not 4 or 16 bytes)");
          continue;
        }
        shown = std::string("IP:") + buf;
        break;
      }
      case GEN_OTHERNAME:
        d.report.dropped.push_back("subjectAltName otherName");
        continue;
      case GEN_X400:
        d.report.dropped.push_back("subjectAltName x400Address");
        continue;
      case GEN_DIRNAME:
        d.report.dropped.push_back("subjectAltName dirName");
        continue;
      case GEN_EDIPARTY:
        d.report.dropped.push_back("subjectAltName ediPartyName");
        continue;
      case GEN_RID:
        d.report.dropped.push_back("subjectAltName registeredID");
        continue;
      default:
        d.report.dropped.push_back("subjectAltName (unknown kind)");
        continue;
    }
    Ptr<GENERAL_NAME> copy(GENERAL_NAME_dup(gen));
    if (!d.sans) d.sans.reset(GENERAL_NAMES_new());
    // On allocation failure the entry is left out; profile_extensions() notices.
    if (!copy || !d.sans || sk_GENERAL_NAME_push(d.sans.get(), copy.get()) == 0) {
      ERR_clear_error();
      d.report.dropped.push_back("subjectAltName (out of memory)");
      continue;
    }
    copy.release();  // d.sans owns it now
    d.report.sans.push_back(std::move(shown));
  }
}

Decision decide(const Csr& csr, const Profile& profile) {
  Decision d;
  d.ca = profile.ca.has_value();
  if (d.ca) {
    d.path_len = profile.ca->path_len;
    d.key_usage = {kDigitalSignature, kKeyCertSign, kCrlSign};
  } else if (csr.public_key().is_rsa()) {
    d.key_usage = {kDigitalSignature, kKeyEncipherment};
  } else {
    // keyAgreement: ECDH with the key, as S/MIME encryption to an EC key needs.
    d.key_usage = {kDigitalSignature, kKeyAgreement};
  }
  for (const auto& ext : csr.requested_extensions()) {
    X509_EXTENSION* e = ext.get();
    const ASN1_OBJECT* oid = X509_EXTENSION_get_object(e);
    switch (OBJ_obj2nid(oid)) {
      case NID_basic_constraints:
        review_basic_constraints(e, d);
        break;
      case NID_key_usage:
        review_key_usage(e, d);
        break;
      case NID_ext_key_usage:
        review_ekus(e, d);
        break;
      case NID_subject_alt_name:
        review_sans(e, d);
        break;
      case NID_subject_key_identifier:
        d.report.dropped.push_back("subjectKeyIdentifier (computed by the CA)");
        break;
      case NID_authority_key_identifier:
        d.report.dropped.push_back("authorityKeyIdentifier (set by the CA)");
        break;
      default:
        d.report.dropped.push_back(object_name(oid));
        break;
    }
  }
  if (!d.ca) {
    for (Eku eku : profile.extra_ekus) {
      const auto i = static_cast<std::size_t>(eku);
      if (i < d.ekus.size()) d.ekus[i] = true;
    }
  }
  d.report.basic_constraints =
      !d.ca ? "CA:FALSE"
            : (d.path_len ? fmt::format("CA:TRUE, pathlen:{}", *d.path_len) : "CA:TRUE");
  std::vector<std::string> ku;
  for (int bit : d.key_usage) ku.emplace_back(kKeyUsageNames[static_cast<std::size_t>(bit)]);
  d.report.key_usage = join(ku);
  for (const EkuInfo& e : kEkus) {
    if (d.ekus[static_cast<std::size_t>(e.eku)]) d.report.ekus.emplace_back(eku_name(e.eku));
  }
  d.report.san_critical = X509_NAME_entry_count(csr.subject()) == 0;
  return d;
}

Result<Ptr<X509_EXTENSION>> eku_ext(const std::array<bool, kEkus.size()>& ekus) {
  EkuPtr stack(sk_ASN1_OBJECT_new_null());
  if (!stack) return fail(last_error("allocating extendedKeyUsage"));
  for (const EkuInfo& e : kEkus) {
    if (!ekus[static_cast<std::size_t>(e.eku)]) continue;
    // OBJ_nid2obj returns a static object: the stack's free leaves it alone.
    ASN1_OBJECT* oid = OBJ_nid2obj(e.nid);
    if (oid == nullptr || sk_ASN1_OBJECT_push(stack.get(), oid) == 0) {
      return fail(last_error("building extendedKeyUsage"));
    }
  }
  Ptr<X509_EXTENSION> ext(X509V3_EXT_i2d(NID_ext_key_usage, 0, stack.get()));
  if (!ext) return fail(last_error("encoding extendedKeyUsage"));
  return ext;
}

}  // namespace

Result<Ptr<X509_EXTENSION>> basic_constraints_ext(bool ca, std::optional<int> path_len) {
  Ptr<BASIC_CONSTRAINTS> bc(BASIC_CONSTRAINTS_new());
  if (!bc) return fail(last_error("allocating basicConstraints"));
  bc->ca = ca ? 0xFF : 0;  // DER TRUE; FALSE is the default and is left out
  if (ca && path_len) {
    bc->pathlen = ASN1_INTEGER_new();
    if (bc->pathlen == nullptr || ASN1_INTEGER_set(bc->pathlen, *path_len) != 1) {
      return fail(last_error("building basicConstraints"));
    }
  }
  Ptr<X509_EXTENSION> ext(X509V3_EXT_i2d(NID_basic_constraints, 1, bc.get()));
  if (!ext) return fail(last_error("encoding basicConstraints"));
  return ext;
}

Result<Ptr<X509_EXTENSION>> key_usage_ext(const std::vector<int>& bits) {
  Ptr<ASN1_STRING> ku(ASN1_BIT_STRING_new());
  if (!ku) return fail(last_error("allocating keyUsage"));
  for (int bit : bits) {
    if (ASN1_BIT_STRING_set_bit(ku.get(), bit, 1) != 1) {
      return fail(last_error("building keyUsage"));
    }
  }
  Ptr<X509_EXTENSION> ext(X509V3_EXT_i2d(NID_key_usage, 1, ku.get()));
  if (!ext) return fail(last_error("encoding keyUsage"));
  return ext;
}

std::string_view eku_name(Eku eku) { return info(eku).name; }

Result<Eku> parse_eku(std::string_view name) {
  for (const EkuInfo& e : kEkus) {
    for (std::string_view known : {std::string_view(e.ios), eku_name(e.eku)}) {
      if (name.size() == known.size() && strncasecmp(name.data(), known.data(), name.size()) == 0) {
        return e.eku;
      }
    }
  }
  return fail(invalid_argument(fmt::format(
      "'{}' is not an extended key usage the CA issues (server-auth, client-auth, ipsec-ike, "
      "ipsec-end-system, ipsec-tunnel, ipsec-user, email-protection, ssh-client, ssh-server)",
      name)));
}

ProfileReport evaluate_profile(const Csr& csr, const Profile& profile) {
  return decide(csr, profile).report;
}

Result<std::vector<Ptr<X509_EXTENSION>>> profile_extensions(const Csr& csr,
                                                            const Profile& profile) {
  if (profile.ca && profile.ca->path_len && *profile.ca->path_len < 0) {
    return fail(invalid_argument("a CA path length cannot be negative"));
  }
  Decision d = decide(csr, profile);
  std::vector<Ptr<X509_EXTENSION>> out;
  ASSIGN_OR_RETURN(auto bc, basic_constraints_ext(d.ca, d.path_len));
  out.push_back(std::move(bc));
  ASSIGN_OR_RETURN(auto ku, key_usage_ext(d.key_usage));
  out.push_back(std::move(ku));
  if (!d.report.ekus.empty()) {
    ASSIGN_OR_RETURN(auto eku, eku_ext(d.ekus));
    out.push_back(std::move(eku));
  }
  if (d.sans && sk_GENERAL_NAME_num(d.sans.get()) > 0) {
    Ptr<X509_EXTENSION> san(
        X509V3_EXT_i2d(NID_subject_alt_name, d.report.san_critical ? 1 : 0, d.sans.get()));
    if (!san) return fail(last_error("encoding subjectAltName"));
    out.push_back(std::move(san));
  } else if (d.report.san_critical) {
    return fail(invalid_argument(
        "the request has an empty subject and no subjectAltName entry the CA can certify "
        "(DNS, IP, email or URI)"));
  }
  return out;
}

}  // namespace scepter::pki
