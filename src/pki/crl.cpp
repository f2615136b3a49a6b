#include "pki/crl.h"

#include <cctype>

#include <openssl/x509.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <climits>
#include <iterator>

#include "pki/crl_der.h"
#include "pki/der_signer.h"

namespace scepter::pki {
namespace {

// Average size of an entry (2 + INTEGER + UTCTime) for a serial of up to 4 bytes.
constexpr std::size_t kTypicalEntryBytes = 23;

template <class T>
Result<std::string> to_der(int (*i2d)(const T*, unsigned char**), const T* obj, const char* what) {
  const int n = i2d(obj, nullptr);
  if (n <= 0) return fail(last_error(what));
  std::string out(static_cast<std::size_t>(n), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  if (i2d(obj, &p) != n) return fail(last_error(what));
  return out;
}

// The non-critical authorityKeyIdentifier extension (keyid only, as IOS writes it).
Result<std::string> aki_extension(X509* issuer) {
  Ptr<AUTHORITY_KEYID> aki(AUTHORITY_KEYID_new());
  if (!aki) return fail(last_error("AUTHORITY_KEYID_new"));
  if (const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(issuer)) {
    aki->keyid = ASN1_OCTET_STRING_dup(skid);
  } else {
    // RFC 5280 4.2.1.2 method 1, which is what the issuer's SKI would have held.
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_pubkey_digest(issuer, EVP_sha1(), md, &len) != 1) {
      return fail(last_error("hashing the issuer public key"));
    }
    aki->keyid = ASN1_OCTET_STRING_new();
    if (aki->keyid && ASN1_OCTET_STRING_set(aki->keyid, md, static_cast<int>(len)) != 1) {
      return fail(last_error("ASN1_OCTET_STRING_set"));
    }
  }
  if (!aki->keyid) return fail(last_error("copying the key identifier"));
  Ptr<X509_EXTENSION> ext(X509V3_EXT_i2d(NID_authority_key_identifier, 0, aki.get()));
  if (!ext) return fail(last_error("encoding authorityKeyIdentifier"));
  return to_der(i2d_X509_EXTENSION, ext.get(), "encoding authorityKeyIdentifier");
}

Result<std::string> crl_number_extension(std::uint64_t number) {
  Ptr<ASN1_STRING> value(ASN1_INTEGER_new());
  if (!value || ASN1_INTEGER_set_uint64(value.get(), number) != 1) {
    return fail(last_error("encoding cRLNumber"));
  }
  Ptr<X509_EXTENSION> ext(X509V3_EXT_i2d(NID_crl_number, 0, value.get()));
  if (!ext) return fail(last_error("encoding cRLNumber"));
  return to_der(i2d_X509_EXTENSION, ext.get(), "encoding cRLNumber");
}

// The crlEntryExtensions of an entry revoked for `code`: an Extensions SEQUENCE holding
// the non-critical reasonCode extension (an ENUMERATED), encoded by OpenSSL.
Result<std::string> reason_extensions(int code) {
  Ptr<ASN1_STRING> value(ASN1_ENUMERATED_new());
  if (!value || ASN1_ENUMERATED_set(value.get(), code) != 1) {
    return fail(last_error("encoding reasonCode"));
  }
  Ptr<X509_EXTENSION> ext(X509V3_EXT_i2d(NID_crl_reason, 0, value.get()));
  if (!ext) return fail(last_error("encoding reasonCode"));
  ASSIGN_OR_RETURN(const std::string ext_der,
                   to_der(i2d_X509_EXTENSION, ext.get(), "encoding reasonCode"));
  std::string out;
  der::append_framed(out, der::kSequence, ext_der);
  return out;
}

}  // namespace

const char* crl_reason_name(int code) {
  static constexpr const char* kNames[] = {
      "unspecified",   "keyCompromise",        "cACompromise",    "affiliationChanged",
      "superseded",    "cessationOfOperation", "certificateHold", nullptr,
      "removeFromCRL", "privilegeWithdrawn",   "aACompromise",
  };
  static_assert(std::size(kNames) == kCrlReasonAaCompromise + 1);
  if (code < 0 || code > kCrlReasonAaCompromise) return nullptr;
  return kNames[code];
}

bool is_crl_entry_reason(int code) {
  return crl_reason_name(code) != nullptr && code != kCrlReasonRemoveFromCrl;
}

std::optional<int> crl_entry_reason_by_name(std::string_view name) {
  for (int code = 0; code <= kCrlReasonAaCompromise; ++code) {
    if (!is_crl_entry_reason(code)) continue;
    const std::string_view candidate = crl_reason_name(code);
    if (candidate.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < name.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(name[i])) ==
             std::tolower(static_cast<unsigned char>(candidate[i]));
    }
    if (same) return code;
  }
  return std::nullopt;
}

Result<CrlBuilder> CrlBuilder::create(X509* issuer, EVP_PKEY* key) {
  if (!issuer || !key) return fail(invalid_argument("CRL issuer certificate or key missing"));
  if (X509_check_private_key(issuer, key) != 1) {
    ERR_clear_error();
    return fail(invalid_argument("the CRL signing key does not match the issuer certificate"));
  }
  CrlBuilder b;
  b.key_ = up_ref(key);
  const unsigned char* name = nullptr;
  std::size_t name_len = 0;
  // The cached encoding: the issuer's subject exactly as it is in the certificate.
  if (X509_NAME_get0_der(X509_get_subject_name(issuer), &name, &name_len) != 1) {
    return fail(last_error("encoding the issuer name"));
  }
  b.issuer_der_.assign(reinterpret_cast<const char*>(name), name_len);
  ASSIGN_OR_RETURN(b.aki_extension_, aki_extension(issuer));
  return b;
}

Result<CrlBuilder> CrlBuilder::load(X509* issuer, EVP_PKEY* key, std::string_view crl_der) {
  ASSIGN_OR_RETURN(CrlBuilder b, create(issuer, key));
  RETURN_IF_ERROR(verify_crl_signature(crl_der, X509_get0_pubkey(issuer)));
  ASSIGN_OR_RETURN(der::CrlParts parts, der::split_crl(crl_der));
  if (parts.issuer != b.issuer_der_) {
    return fail(invalid_argument("the CRL was not issued by this certificate's subject"));
  }
  // The entries are already DER, signed by this issuer: keep them as they are and only
  // index the serials. (No reserve: entry sizes vary, and a guess that overshoots a power
  // of two doubles the index.)
  std::string_view rest = parts.entries;
  der::RawEntry e;
  while (!rest.empty()) {
    RETURN_IF_ERROR(der::read_entry(rest, e));
    if (!b.serials_.insert(e.serial.sequence)) {
      return fail(invalid_argument("CRL lists serial number " + std::to_string(e.serial.sequence) +
                                   " twice"));
    }
  }
  b.entries_.assign(parts.entries);
  return b;
}

void CrlBuilder::reserve(std::size_t n) {
  entries_.reserve(entries_.size() + n * kTypicalEntryBytes);
  serials_.reserve(serials_.size() + n);
}

Status CrlBuilder::add(const SerialNumber& serial, TimePoint revoked_at,
                       std::optional<int> reason) {
  // Both encodings have fixed upper bounds (SerialNumber::kMaxDerSize, der::kMaxTimeSize)
  // and are written by hand, not by OpenSSL: this loop is the CA's start-up path (see
  // crl_der.h).
  unsigned char serial_der[SerialNumber::kMaxDerSize];
  char time_der[der::kMaxTimeSize];
  const std::size_t time_len = der::put_time(revoked_at, time_der);
  if (time_len == 0) {
    return invalid_argument("revocation time out of range: " + std::to_string(to_unix(revoked_at)));
  }
  // The extension bytes depend on the code alone: OpenSSL encodes each code once per
  // builder, and every later entry with that code copies them.
  std::string_view extensions;
  if (reason && *reason != kCrlReasonUnspecified) {
    if (!is_crl_entry_reason(*reason)) {
      return invalid_argument("revocation reason " + std::to_string(*reason) +
                              " is not a CRLReason of a complete CRL");
    }
    std::string& cached = reason_extensions_[static_cast<std::size_t>(*reason)];
    if (cached.empty()) {
      ASSIGN_OR_RETURN(cached, reason_extensions(*reason));
    }
    extensions = cached;
  }
  const std::size_t serial_len = serial.put_der(serial_der);
  if (!serials_.insert(serial.sequence)) {
    return already_exists("serial number " + std::to_string(serial.sequence) +
                          " is already on the CRL");
  }
  char header[der::kMaxHeaderSize];
  const std::size_t content = serial_len + time_len + extensions.size();
  entries_.append(header, der::put_header(der::kSequence, content, header));
  entries_.append(reinterpret_cast<const char*>(serial_der), serial_len);
  entries_.append(time_der, time_len);
  entries_.append(extensions);
  return ok_status();
}

Status CrlBuilder::remove(const SerialNumber& serial) {
  if (!contains(serial.sequence)) {
    return not_found("serial number " + std::to_string(serial.sequence) + " is not on the CRL");
  }
  // Every entry starts with its serial's INTEGER, and all our INTEGERs are DER (minimal),
  // so a prefix match on the encoding is an exact match on the value.
  const std::string want = serial.der();
  std::string_view rest = entries_;
  std::size_t offset = 0;
  while (!rest.empty()) {
    Result<der::Tlv> entry = der::read_tlv(rest, "entry");
    CA_ASSERT(entry.has_value(), "the CRL entry buffer is corrupt");
    if (entry->content.starts_with(want)) {
      entries_.erase(offset, entry->whole.size());
      serials_.erase(serial.sequence);
      return ok_status();
    }
    offset += entry->whole.size();
  }
  return not_found("serial number " + serial.hex() + " is not on the CRL");
}

Result<std::string> CrlBuilder::build(TimePoint this_update, TimePoint next_update,
                                      std::uint64_t crl_number, const EVP_MD* md) const {
  if (next_update < this_update) {
    return fail(invalid_argument("CRL nextUpdate is before thisUpdate"));
  }
  ASSIGN_OR_RETURN(DerSigner signer, DerSigner::start(key_.get(), md, "CRL"));
  const std::string& alg = signer.algorithm();
  ASSIGN_OR_RETURN(const std::string this_der, der::encode_time(this_update));
  ASSIGN_OR_RETURN(const std::string next_der, der::encode_time(next_update));
  ASSIGN_OR_RETURN(const std::string number_ext, crl_number_extension(crl_number));
  std::string exts_content;
  exts_content.reserve(aki_extension_.size() + number_ext.size());
  exts_content.append(aki_extension_).append(number_ext);
  std::string exts_seq;
  der::append_framed(exts_seq, der::kSequence, exts_content);
  std::string exts;
  der::append_framed(exts, der::kContext0, exts_seq);
  const std::string version = der::encode_serial(1);  // v2 is INTEGER 1

  // Sizes first, so the output is allocated once and entries_ copied once.
  const std::size_t revoked_len =
      entries_.empty() ? 0 : der::header_size(entries_.size()) + entries_.size();
  const std::size_t tbs_content = version.size() + alg.size() + issuer_der_.size() +
                                  this_der.size() + next_der.size() + revoked_len + exts.size();
  const std::size_t tbs_len = der::header_size(tbs_content) + tbs_content;
  const std::size_t room = signer.outer_room(tbs_len);

  std::string out;
  out.reserve(room + tbs_len);
  out.resize(room);
  char header[der::kMaxHeaderSize];
  out.append(header, der::put_header(der::kSequence, tbs_content, header));
  out.append(version).append(alg).append(issuer_der_).append(this_der).append(next_der);
  if (!entries_.empty()) {
    out.append(header, der::put_header(der::kSequence, entries_.size(), header));
    out.append(entries_);
  }
  out.append(exts);
  CA_ASSERT(out.size() == room + tbs_len, "TBSCertList size");
  return signer.finish(std::move(out), room);
}

Result<bool> crl_lists_certificate(std::string_view crl_der, X509* issuer, X509* cert) {
  if (crl_der.size() > static_cast<std::size_t>(INT_MAX)) {
    return fail(invalid_argument("the CRL is too large"));
  }
  const auto* p = reinterpret_cast<const unsigned char*>(crl_der.data());
  Ptr<X509_CRL> crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(crl_der.size())));
  if (!crl || p != reinterpret_cast<const unsigned char*>(crl_der.data()) + crl_der.size()) {
    ERR_clear_error();
    return fail(invalid_argument("not a DER CRL"));
  }
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(issuer)) != 0) {
    return fail(invalid_argument("the CRL is not the issuing CA's"));
  }
  EVP_PKEY* key = X509_get0_pubkey(issuer);
  if (key == nullptr || X509_CRL_verify(crl.get(), key) != 1) {
    ERR_clear_error();
    return fail(invalid_argument("the CRL's signature does not verify with the issuing CA's key"));
  }
  X509_REVOKED* entry = nullptr;
  const bool listed = X509_CRL_get0_by_serial(crl.get(), &entry, X509_get0_serialNumber(cert)) == 1;
  ERR_clear_error();
  return listed;
}

}  // namespace scepter::pki
