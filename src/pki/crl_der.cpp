#include "pki/crl_der.h"

#include <chrono>
#include <climits>
#include <ctime>

#include <openssl/asn1.h>
#include <openssl/err.h>

#include "pki/ptr.h"

namespace scepter::pki::der {
namespace {

// Number of identifier octets for a tag number (X.690 8.1.2: high-tag form from 31 up).
std::size_t tag_octets(int tag) {
  std::size_t n = 1;
  if (tag >= 31) {
    for (int t = tag; t > 0; t >>= 7) ++n;
  }
  return n;
}

Status malformed(const char* what, const char* why) {
  return invalid_argument(std::string("malformed CRL: ") + what + ": " + why);
}

bool is_time_tag(const Tlv& t) {
  return t.cls == V_ASN1_UNIVERSAL && !t.constructed &&
         (t.tag == V_ASN1_UTCTIME || t.tag == V_ASN1_GENERALIZEDTIME);
}

// The tag of the TLV at the front of `in`, without consuming it; fails like read_tlv.
Result<Tlv> peek_tlv(std::string_view in, const char* what) { return read_tlv(in, what); }

}  // namespace

std::size_t header_size(std::size_t content_len) {
  std::size_t n = 2;
  if (content_len >= 0x80) {
    for (std::size_t l = content_len; l > 0; l >>= 8) ++n;
  }
  return n;
}

std::size_t put_header(unsigned char identifier, std::size_t content_len, char* out) {
  const std::size_t n = header_size(content_len);
  out[0] = static_cast<char>(identifier);
  if (n == 2) {
    out[1] = static_cast<char>(content_len);
    return n;
  }
  // Long form: 0x80 | number of length octets, then the length big-endian, no leading zero.
  const std::size_t octets = n - 2;
  out[1] = static_cast<char>(0x80 | octets);
  for (std::size_t i = 0; i < octets; ++i) {
    out[n - 1 - i] = static_cast<char>((content_len >> (8 * i)) & 0xFF);
  }
  return n;
}

void append_framed(std::string& out, unsigned char identifier, std::string_view content) {
  char header[kMaxHeaderSize];
  out.append(header, put_header(identifier, content.size(), header));
  out.append(content);
}

const char* next_tlv(std::string_view& in, Tlv& out) {
  if (in.empty()) return "missing";
  const auto* start = reinterpret_cast<const unsigned char*>(in.data());
  const unsigned char* p = start;
  long len = 0;
  int tag = 0;
  int cls = 0;
  const long max =
      in.size() > static_cast<std::size_t>(LONG_MAX) ? LONG_MAX : static_cast<long>(in.size());
  const int rc = ASN1_get_object(&p, &len, &tag, &cls, max);
  if (rc & 0x80) {
    ERR_clear_error();  // callers report their own message; the queue adds nothing
    return "truncated or bad length";
  }
  if (rc & 0x01) return "indefinite length";
  const auto header = static_cast<std::size_t>(p - start);
  const auto content_len = static_cast<std::size_t>(len);
  // ASN1_get_object accepts BER lengths; DER wants the minimal form.
  if (header != tag_octets(tag) + header_size(content_len) - 1) return "length not in DER form";
  out.tag = tag;
  out.cls = cls;
  out.constructed = (rc & V_ASN1_CONSTRUCTED) != 0;
  out.whole = in.substr(0, header + content_len);
  out.content = out.whole.substr(header);
  in.remove_prefix(header + content_len);
  return nullptr;
}

Result<Tlv> read_tlv(std::string_view& in, const char* what) {
  Tlv t;
  if (const char* why = next_tlv(in, t)) return fail(malformed(what, why));
  return t;
}

Result<Tlv> expect_tlv(std::string_view& in, int cls, int tag, bool constructed, const char* what) {
  ASSIGN_OR_RETURN(Tlv t, read_tlv(in, what));
  if (t.cls != cls || t.tag != tag || t.constructed != constructed) {
    return fail(malformed(what, "unexpected tag"));
  }
  return t;
}

Result<CrlParts> split_crl(std::string_view der) {
  CrlParts parts;
  std::string_view in = der;
  ASSIGN_OR_RETURN(Tlv outer,
                   expect_tlv(in, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true, "CertificateList"));
  if (!in.empty()) return fail(malformed("CertificateList", "trailing bytes"));

  std::string_view body = outer.content;
  ASSIGN_OR_RETURN(Tlv tbs,
                   expect_tlv(body, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true, "tbsCertList"));
  ASSIGN_OR_RETURN(Tlv alg,
                   expect_tlv(body, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true, "signatureAlgorithm"));
  ASSIGN_OR_RETURN(Tlv sig,
                   expect_tlv(body, V_ASN1_UNIVERSAL, V_ASN1_BIT_STRING, false, "signatureValue"));
  if (!body.empty()) return fail(malformed("CertificateList", "unexpected field"));
  if (sig.content.empty() || sig.content[0] != 0) {
    return fail(malformed("signatureValue", "not a whole number of octets"));
  }
  parts.tbs = tbs.whole;
  parts.sig_alg = alg.whole;
  parts.signature = sig.content.substr(1);

  std::string_view t = tbs.content;
  ASSIGN_OR_RETURN(Tlv first, peek_tlv(t, "tbsCertList"));
  if (first.cls == V_ASN1_UNIVERSAL && first.tag == V_ASN1_INTEGER) {
    ASSIGN_OR_RETURN(Tlv version, read_tlv(t, "version"));
    // RFC 5280 5.1.2.1: if present, the version MUST be v2 (INTEGER 1).
    if (version.constructed || version.content != std::string_view("\x01", 1)) {
      return fail(malformed("version", "not v2"));
    }
    parts.version = 2;
  }
  ASSIGN_OR_RETURN(Tlv tbs_alg,
                   expect_tlv(t, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true, "signature"));
  ASSIGN_OR_RETURN(Tlv issuer, expect_tlv(t, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true, "issuer"));
  ASSIGN_OR_RETURN(Tlv this_update, read_tlv(t, "thisUpdate"));
  if (!is_time_tag(this_update)) return fail(malformed("thisUpdate", "not a Time"));
  parts.tbs_sig_alg = tbs_alg.whole;
  parts.issuer = issuer.whole;
  parts.this_update = this_update.whole;

  if (!t.empty()) {
    ASSIGN_OR_RETURN(Tlv next, peek_tlv(t, "tbsCertList"));
    if (is_time_tag(next)) {
      parts.next_update = next.whole;
      t.remove_prefix(next.whole.size());
    }
  }
  if (!t.empty()) {
    ASSIGN_OR_RETURN(Tlv next, peek_tlv(t, "tbsCertList"));
    if (next.cls == V_ASN1_UNIVERSAL && next.tag == V_ASN1_SEQUENCE && next.constructed) {
      parts.entries = next.content;
      t.remove_prefix(next.whole.size());
    }
  }
  if (!t.empty()) {
    ASSIGN_OR_RETURN(Tlv wrapper, expect_tlv(t, V_ASN1_CONTEXT_SPECIFIC, 0, true, "crlExtensions"));
    std::string_view w = wrapper.content;
    ASSIGN_OR_RETURN(Tlv exts,
                     expect_tlv(w, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE, true, "crlExtensions"));
    if (!w.empty()) return fail(malformed("crlExtensions", "trailing bytes"));
    parts.extensions = exts.whole;
  }
  if (!t.empty()) return fail(malformed("tbsCertList", "unexpected field"));
  return parts;
}

Status read_entry(std::string_view& in, RawEntry& out) {
  // The per-entry path of a million-entry CRL: no Result<> temporaries, no messages
  // built unless something is wrong.
  Tlv e;
  Tlv serial;
  Tlv time;
  if (const char* why = next_tlv(in, e)) return malformed("entry", why);
  if (e.cls != V_ASN1_UNIVERSAL || e.tag != V_ASN1_SEQUENCE || !e.constructed) {
    return malformed("entry", "unexpected tag");
  }
  std::string_view c = e.content;
  if (const char* why = next_tlv(c, serial)) return malformed("userCertificate", why);
  if (serial.cls != V_ASN1_UNIVERSAL || serial.tag != V_ASN1_INTEGER || serial.constructed) {
    return malformed("userCertificate", "unexpected tag");
  }
  if (const char* why = next_tlv(c, time)) return malformed("revocationDate", why);
  if (!is_time_tag(time)) return malformed("revocationDate", "not a Time");
  out.has_extensions = false;
  out.extensions = {};
  if (!c.empty()) {
    Tlv exts;
    if (const char* why = next_tlv(c, exts)) return malformed("crlEntryExtensions", why);
    if (exts.cls != V_ASN1_UNIVERSAL || exts.tag != V_ASN1_SEQUENCE || !exts.constructed) {
      return malformed("crlEntryExtensions", "unexpected tag");
    }
    if (!c.empty()) return malformed("entry", "trailing bytes");
    out.has_extensions = true;
    out.extensions = exts.whole;
  }
  Result<SerialNumber> value = SerialNumber::from_integer_content(serial.content);
  if (!value.has_value()) {
    return invalid_argument("malformed CRL: serial is not an integer in 0..2^128-1 (" +
                            value.error().message() + ")");
  }
  out.serial = *value;
  out.whole = e.whole;
  out.time = time.whole;
  return ok_status();
}

std::string encode_serial(std::uint64_t serial) {
  Ptr<ASN1_STRING> value(ASN1_INTEGER_new());
  CA_ASSERT(value && ASN1_INTEGER_set_uint64(value.get(), serial) == 1, "out of memory");
  unsigned char buf[32];  // a 64-bit INTEGER is at most 2 + 9 bytes
  unsigned char* p = buf;
  const int n = i2d_ASN1_INTEGER(value.get(), &p);
  CA_ASSERT(n > 0 && n <= static_cast<int>(sizeof buf), "i2d_ASN1_INTEGER");
  return std::string(reinterpret_cast<char*>(buf), static_cast<std::size_t>(n));
}

bool time_in_range(TimePoint t) {
  // ASN1_TIME_set happily writes a five-digit year; GeneralizedTime has four.
  constexpr std::int64_t kYear0 = -62167219200;     // 0000-01-01T00:00:00Z
  constexpr std::int64_t kYear9999 = 253402300799;  // 9999-12-31T23:59:59Z
  return to_unix(t) >= kYear0 && to_unix(t) <= kYear9999;
}

std::size_t put_time(TimePoint t, char* out, bool generalized) {
  if (!time_in_range(t)) return 0;
  using namespace std::chrono;
  const sys_days day = floor<days>(t);
  const year_month_day ymd(day);
  const hh_mm_ss<Seconds> hms(t - day);
  const int y = static_cast<int>(ymd.year());  // 0..9999
  const bool utc = !generalized && y >= 1950 && y <= 2049;
  // Two decimal digits of v (0..99) at p.
  const auto two = [](char* p, unsigned v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  char* p = out;
  *p++ = static_cast<char>(utc ? kUtcTime : kGeneralizedTime);
  *p++ = static_cast<char>(utc ? 13 : 15);
  if (!utc) {
    two(p, static_cast<unsigned>(y / 100));
    p += 2;
  }
  two(p, static_cast<unsigned>(y % 100));
  two(p + 2, static_cast<unsigned>(ymd.month()));
  two(p + 4, static_cast<unsigned>(ymd.day()));
  two(p + 6, static_cast<unsigned>(hms.hours().count()));
  two(p + 8, static_cast<unsigned>(hms.minutes().count()));
  two(p + 10, static_cast<unsigned>(hms.seconds().count()));
  p[12] = 'Z';
  return static_cast<std::size_t>(p + 13 - out);
}

Result<std::string> encode_time(TimePoint t) {
  char buf[kMaxTimeSize];
  const std::size_t n = put_time(t, buf);
  if (n == 0) {
    return fail(invalid_argument("time out of range for a CRL: " + std::to_string(to_unix(t))));
  }
  return std::string(buf, n);
}

Result<TimePoint> decode_time(std::string_view tlv) {
  const auto* p = reinterpret_cast<const unsigned char*>(tlv.data());
  Ptr<ASN1_STRING> value(d2i_ASN1_TIME(nullptr, &p, static_cast<long>(tlv.size())));
  std::tm tm{};
  if (!value || ASN1_TIME_to_tm(value.get(), &tm) != 1) {
    ERR_clear_error();
    return fail(invalid_argument("malformed CRL: bad time"));
  }
  using namespace std::chrono;
  const sys_days day = year{tm.tm_year + 1900} / month{static_cast<unsigned>(tm.tm_mon + 1)} /
                       std::chrono::day{static_cast<unsigned>(tm.tm_mday)};
  return TimePoint(duration_cast<Seconds>(day.time_since_epoch()) + hours{tm.tm_hour} +
                   minutes{tm.tm_min} + Seconds{tm.tm_sec});
}

}  // namespace scepter::pki::der
