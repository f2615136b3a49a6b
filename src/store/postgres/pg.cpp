#include "store/postgres/pg.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace scepter::store::pg {
namespace {

// Stable catalog OIDs (pg_type.dat); the server headers that name them are not a
// dependency of the client.
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt4ArrayOid = 1007;

// A zero-length value must still be a value: libpq reads a null pointer as SQL NULL.
constexpr char kEmpty[] = "";

std::string big_endian(std::uint64_t v, int bytes) {
  std::string out(static_cast<std::size_t>(bytes), '\0');
  for (int i = bytes - 1; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

std::string one_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decoded(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

Code code_of_sqlstate(std::string_view state) {
  if (state == kUniqueViolation) return Code::kAlreadyExists;
  const std::string_view cls = state.substr(0, 2);
  if (state == "23503" || state == "23514" || state == "23502" || cls == "22") {
    return Code::kInvalidArgument;
  }
  // 08 connection, 28 authorization, 3D no such database, 3F no such schema, 40
  // transaction rollback, 53 insufficient resources (disk full, too many connections),
  // 55 object in use, 57 operator intervention (shutdown, cancel), 58 system (I/O),
  // XX internal (corruption); 42501 permission denied, 42P01 missing table.
  if (cls == "08" || cls == "28" || cls == "3D" || cls == "3F" || cls == "40" || cls == "53" ||
      cls == "55" || cls == "57" || cls == "58" || cls == "XX" || state == "42501" ||
      state == "42P01" || state == "25006") {
    return Code::kUnavailable;
  }
  return Code::kInternal;
}

}  // namespace

Oid oid_of(char type) {
  switch (type) {
    case 'i':
      return kInt8Oid;
    case 'n':
      return kInt4Oid;
    case 'b':
      return kByteaOid;
    case 't':
      return kTextOid;
    case 'a':
      return kInt4ArrayOid;
    default:
      CA_ASSERT(false, "unknown parameter type letter");
      return 0;
  }
}

void Params::add(const char* p, std::size_t n, int format) {
  values_.push_back(p);
  lengths_.push_back(static_cast<int>(n));
  formats_.push_back(format);
}

Params& Params::int8(std::int64_t v) {
  owned_.push_back(big_endian(static_cast<std::uint64_t>(v), 8));
  add(owned_.back().data(), 8, 1);
  return *this;
}

Params& Params::int4(std::int32_t v) {
  owned_.push_back(big_endian(static_cast<std::uint32_t>(v), 4));
  add(owned_.back().data(), 4, 1);
  return *this;
}

Params& Params::bytes(std::string_view v) {
  add(v.empty() ? kEmpty : v.data(), v.size(), 1);
  return *this;
}

Params& Params::owned_bytes(std::string v) {
  owned_.push_back(std::move(v));
  return bytes(owned_.back());
}

Params& Params::int4_array(const std::vector<int>& v) {
  std::string text = "{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(v[i]);
  }
  text += '}';
  owned_.push_back(std::move(text));
  add(owned_.back().c_str(), owned_.back().size(), 0);
  return *this;
}

Params& Params::null() {
  add(nullptr, 0, 1);
  return *this;
}

std::int64_t Rows::int64(int row, int col) const {
  const auto* p = reinterpret_cast<const unsigned char*>(PQgetvalue(r_.get(), row, col));
  const int n = PQgetlength(r_.get(), row, col);
  if (n != 2 && n != 4 && n != 8) return 0;
  std::uint64_t v = (p[0] & 0x80) != 0 ? ~std::uint64_t{0} : 0;  // sign-extended
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return static_cast<std::int64_t>(v);
}

std::string Rows::bytes(int row, int col) const {
  const char* p = PQgetvalue(r_.get(), row, col);
  const int n = PQgetlength(r_.get(), row, col);
  if (p == nullptr || n <= 0) return {};
  return std::string(p, static_cast<std::size_t>(n));
}

std::uint64_t Rows::affected() const {
  const char* text = PQcmdTuples(r_.get());
  std::uint64_t n = 0;
  std::from_chars(text, text + std::strlen(text), n);
  return n;
}

std::string sqlstate_of(const PGresult* r) {
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  return state != nullptr ? state : "";
}

std::string message_of(PGconn* conn) {
  const char* msg = conn != nullptr ? PQerrorMessage(conn) : nullptr;
  return one_line(msg != nullptr && *msg != '\0' ? msg : "no message from libpq");
}

Status error_of(PGconn* conn, const PGresult* r, std::string_view what) {
  const std::string state = sqlstate_of(r);
  if (state.empty() || PQstatus(conn) != CONNECTION_OK) {
    return unavailable(fmt::format("{}: {}", what, message_of(conn)));
  }
  const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  return Status(code_of_sqlstate(state), fmt::format("{}: {} (SQLSTATE {})", what,
                                                     primary != nullptr ? primary : "", state));
}

std::string scrubbed(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& s : secrets) {
    if (s.empty()) continue;
    for (auto pos = text.find(s); pos != std::string::npos; pos = text.find(s, pos + 3)) {
      text.replace(pos, s.size(), "***");
    }
  }
  return text;
}

std::vector<std::string> secrets_of(std::string_view url) {
  std::vector<std::string> raw;
  if (const auto start = url.find("://"); start != std::string_view::npos) {
    const auto host = start + 3;
    const auto end = url.find_first_of("/?#", host);
    const auto at = url.substr(0, end).rfind('@');
    if (at != std::string_view::npos && at >= host) {
      const auto colon = url.substr(0, at).find(':', host);
      if (colon != std::string_view::npos) raw.emplace_back(url.substr(colon + 1, at - colon - 1));
    }
  }
  constexpr std::string_view kKey = "password=";
  for (auto pos = url.find(kKey); pos != std::string_view::npos; pos = url.find(kKey, pos)) {
    pos += kKey.size();
    std::string_view value = url.substr(pos);
    if (value.starts_with('\'')) {
      value.remove_prefix(1);
      value = value.substr(0, value.find('\''));
    } else {
      value = value.substr(0, value.find_first_of("& \t\n#"));
    }
    raw.emplace_back(value);
  }
  std::vector<std::string> out;
  for (const std::string& s : raw) {
    if (s.empty()) continue;
    out.push_back(s);
    if (std::string d = percent_decoded(s); d != s && !d.empty()) out.push_back(std::move(d));
  }
  // Longest first, so that a secret containing another is replaced whole.
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return out;
}

}  // namespace scepter::store::pg
