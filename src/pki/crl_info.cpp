// Reading CRLs: signature check and the decoded view for display.

#include <climits>
#include <memory>

#include <openssl/err.h>
#include <openssl/objects.h>

#include "pki/crl.h"
#include "pki/crl_der.h"

namespace scepter::pki {
namespace {

struct FreeExtensions {
  void operator()(STACK_OF(X509_EXTENSION) * s) const {
    sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
  }
};
using Extensions = std::unique_ptr<STACK_OF(X509_EXTENSION), FreeExtensions>;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Result<Ptr<X509_ALGOR>> decode_algorithm(std::string_view tlv) {
  const unsigned char* p = bytes(tlv);
  Ptr<X509_ALGOR> alg(d2i_X509_ALGOR(nullptr, &p, static_cast<long>(tlv.size())));
  if (!alg) return fail(last_error(Code::kInvalidArgument, "malformed CRL signature algorithm"));
  return alg;
}

std::string algorithm_name(const X509_ALGOR& alg) {
  const int nid = OBJ_obj2nid(alg.algorithm);
  if (nid != NID_undef) return OBJ_nid2ln(nid);
  char oid[128];
  const int n = OBJ_obj2txt(oid, sizeof oid, alg.algorithm, 1);
  return n > 0 ? std::string(oid) : std::string("unknown");
}

// Reads cRLNumber and the AKI keyid from the crlExtensions.
Status read_extensions(std::string_view tlv, CrlInfo& info) {
  const unsigned char* p = bytes(tlv);
  Extensions exts(d2i_X509_EXTENSIONS(nullptr, &p, static_cast<long>(tlv.size())));
  if (!exts) return last_error(Code::kInvalidArgument, "malformed CRL extensions");
  int crit = 0;
  Ptr<ASN1_STRING> number(
      static_cast<ASN1_INTEGER*>(X509V3_get_d2i(exts.get(), NID_crl_number, &crit, nullptr)));
  if (number) {
    std::uint64_t n = 0;
    if (ASN1_INTEGER_get_uint64(&n, number.get()) != 1) {
      ERR_clear_error();
      return invalid_argument("CRL number is not in 0..2^64-1");
    }
    info.crl_number = n;
  } else if (crit != -1) {  // -1: absent; otherwise repeated or undecodable
    ERR_clear_error();
    return invalid_argument("malformed cRLNumber extension");
  }
  Ptr<AUTHORITY_KEYID> aki(static_cast<AUTHORITY_KEYID*>(
      X509V3_get_d2i(exts.get(), NID_authority_key_identifier, &crit, nullptr)));
  if (aki) {
    if (aki->keyid) {
      info.authority_key_id.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(aki->keyid)),
                                   static_cast<std::size_t>(ASN1_STRING_length(aki->keyid)));
    }
  } else if (crit != -1) {
    ERR_clear_error();
    return invalid_argument("malformed authorityKeyIdentifier extension");
  }
  return ok_status();
}

// The reasonCode among an entry's crlEntryExtensions, or nullopt when there is none.
Result<std::optional<int>> read_entry_reason(std::string_view tlv) {
  const unsigned char* p = bytes(tlv);
  Extensions exts(d2i_X509_EXTENSIONS(nullptr, &p, static_cast<long>(tlv.size())));
  if (!exts) return fail(last_error(Code::kInvalidArgument, "malformed CRL entry extensions"));
  int crit = 0;
  Ptr<ASN1_STRING> code(
      static_cast<ASN1_ENUMERATED*>(X509V3_get_d2i(exts.get(), NID_crl_reason, &crit, nullptr)));
  if (!code) {
    if (crit == -1) return std::optional<int>();  // absent
    ERR_clear_error();
    return fail(invalid_argument("malformed reasonCode extension"));
  }
  // Codes this build has no name for (7, or one a later RFC adds) are shown as numbers.
  const long value = ASN1_ENUMERATED_get(code.get());
  if (value < 0 || value > INT_MAX) {
    ERR_clear_error();
    return fail(invalid_argument("reasonCode out of range"));
  }
  return std::optional<int>(static_cast<int>(value));
}

}  // namespace

Status verify_crl_signature(std::string_view crl_der, EVP_PKEY* issuer_key) {
  if (!issuer_key) return invalid_argument("no key to verify the CRL with");
  ASSIGN_OR_RETURN(der::CrlParts parts, der::split_crl(crl_der));
  // RFC 5280 5.1.1.2: the outer and inner identifiers MUST be the same.
  if (parts.sig_alg != parts.tbs_sig_alg) {
    return invalid_argument("the CRL's two signature algorithm fields differ");
  }
  ASSIGN_OR_RETURN(Ptr<X509_ALGOR> alg, decode_algorithm(parts.sig_alg));
  int md_nid = NID_undef;
  int key_nid = NID_undef;
  const EVP_MD* md = nullptr;
  if (OBJ_find_sigid_algs(OBJ_obj2nid(alg->algorithm), &md_nid, &key_nid) != 1 ||
      (md = EVP_get_digestbynid(md_nid)) == nullptr) {
    return invalid_argument("unsupported CRL signature algorithm " + algorithm_name(*alg));
  }
  if (!EVP_PKEY_is_a(issuer_key, OBJ_nid2sn(key_nid))) {
    return invalid_argument("the CRL signature algorithm " + algorithm_name(*alg) +
                            " does not fit the issuer key");
  }
  Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, issuer_key) != 1) {
    return last_error("starting to verify the CRL");
  }
  if (EVP_DigestVerify(ctx.get(), bytes(parts.signature), parts.signature.size(), bytes(parts.tbs),
                       parts.tbs.size()) != 1) {
    ERR_clear_error();
    return invalid_argument("the CRL signature does not verify with the issuer key");
  }
  return ok_status();
}

Result<CrlInfo> parse_crl_info(std::string_view crl_der) {
  ASSIGN_OR_RETURN(der::CrlParts parts, der::split_crl(crl_der));
  CrlInfo info;
  info.version = parts.version;
  info.size_bytes = crl_der.size();
  info.issuer_der.assign(parts.issuer);
  const unsigned char* p = bytes(parts.issuer);
  info.issuer.reset(d2i_X509_NAME(nullptr, &p, static_cast<long>(parts.issuer.size())));
  if (!info.issuer) return fail(last_error(Code::kInvalidArgument, "malformed CRL issuer"));
  ASSIGN_OR_RETURN(Ptr<X509_ALGOR> alg, decode_algorithm(parts.sig_alg));
  info.signature_algorithm = algorithm_name(*alg);
  ASSIGN_OR_RETURN(info.this_update, der::decode_time(parts.this_update));
  if (!parts.next_update.empty()) {
    ASSIGN_OR_RETURN(info.next_update, der::decode_time(parts.next_update));
  }
  if (!parts.extensions.empty()) RETURN_IF_ERROR(read_extensions(parts.extensions, info));
  std::string_view rest = parts.entries;
  der::RawEntry e;
  while (!rest.empty()) {
    RETURN_IF_ERROR(der::read_entry(rest, e));
    ASSIGN_OR_RETURN(TimePoint at, der::decode_time(e.time));
    std::optional<int> reason;
    if (e.has_extensions) {
      ASSIGN_OR_RETURN(reason, read_entry_reason(e.extensions));
    }
    info.entries.push_back({e.serial, at, reason});
  }
  return info;
}

}  // namespace scepter::pki
