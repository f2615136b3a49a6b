#include "acme/names.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <string>

#include "common/ip_prefix.h"
#include "pki/identity.h"
#include "pki/name.h"

namespace scepter::acme {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// An identifier's name: a host name of at least two labels.
bool is_host_name(std::string_view name) {
  return !dns_name_error(name) && name.find('.') != std::string_view::npos;
}

bool under_suffix(std::string_view name, const std::string& suffix) {
  return name == suffix || (name.size() > suffix.size() && name.ends_with(suffix) &&
                            name[name.size() - suffix.size() - 1] == '.');
}

Problem rejected(const std::string& value, const std::string& why) {
  Problem p = problem("rejectedIdentifier", value + ": " + why);
  return p;
}

}  // namespace

std::optional<std::string> dns_name_error(std::string_view name) {
  if (name.empty()) return "a DNS name has at least one label";
  if (name.size() > 253) return "a DNS name has at most 253 characters";
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find('.', start);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view label = name.substr(start, end - start);
    if (label.empty() || label.size() > 63) return "each label has 1 to 63 characters";
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') {
        return "labels have letters, digits and hyphens only";
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return "a label neither starts nor ends with a hyphen";
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::optional<Problem> check_identifier(const nlohmann::json& in, const ca::AcmeConfig& config,
                                        Identifier& out) {
  if (!in.is_object() || !in.contains("type") || !in.contains("value") ||
      !in.at("type").is_string() || !in.at("value").is_string()) {
    return problem("malformed", "an identifier is an object with a type and a value");
  }
  const std::string type = in.at("type").get<std::string>();
  const std::string value = in.at("value").get<std::string>();
  if (type == "dns") {
    std::string name = lower(value);
    const bool wildcard = name.starts_with("*.");
    const std::string base = wildcard ? name.substr(2) : name;
    if (!is_host_name(base)) {
      return rejected(value, "not a DNS name (letters, digits and '-' in labels, no trailing dot)");
    }
    const bool allowed =
        std::any_of(config.dns_suffixes.begin(), config.dns_suffixes.end(),
                    [&](const std::string& suffix) { return under_suffix(base, suffix); });
    if (!allowed) {
      return rejected(value, "outside the names this CA certifies over ACME (acme allow dns)");
    }
    out = Identifier{"dns", std::move(name)};
    return std::nullopt;
  }
  if (type == "ip") {
    auto address = parse_ip_address(value);
    if (!address) return rejected(value, "not an IP address");
    const bool allowed = std::any_of(config.ip_prefixes.begin(), config.ip_prefixes.end(),
                                     [&](const std::string& p) {
                                       auto prefix = parse_ip_prefix(p);
                                       return prefix && prefix->contains(*address);
                                     });
    if (!allowed) {
      return rejected(value, "outside the addresses this CA certifies over ACME (acme allow ip)");
    }
    out = Identifier{"ip", address->text()};
    return std::nullopt;
  }
  return problem("unsupportedIdentifier",
                 "identifiers of type \"" + type + "\" are not certified here (dns and ip are)");
}

std::optional<Problem> check_csr_names(const pki::Csr& csr,
                                       const std::vector<Identifier>& identifiers) {
  std::set<std::string> want;
  for (const Identifier& i : identifiers) {
    want.insert((i.type == "dns" ? "DNS:" : "IP:") + i.value);
  }
  std::set<std::string> asked;
  for (const std::string& san : pki::requested_alt_names(csr)) {
    if (san.starts_with("DNS:")) {
      asked.insert("DNS:" + lower(san.substr(4)));
    } else if (san.starts_with("IP:")) {
      auto address = parse_ip_address(san.substr(3));
      asked.insert(address ? "IP:" + address->text() : san);
    } else {
      return problem("badCSR", "the CSR asks for " + san + ", which is not in the order");
    }
  }
  for (const auto& rdn : pki::ios_rdns(csr.subject())) {
    for (const pki::IosAttribute& attribute : rdn) {
      if (attribute.label != "cn") {
        return problem("badCSR",
                       "the CSR's subject holds " + attribute.label +
                           "=; only a commonName naming one of the order's names may be there");
      }
      const std::string cn = lower(attribute.value);
      if (!want.contains("DNS:" + cn) && !want.contains("IP:" + cn)) {
        return problem("badCSR",
                       "the CSR's commonName " + attribute.value + " is not in the order");
      }
    }
  }
  if (asked != want) {
    std::string missing;
    for (const std::string& w : want) {
      if (!asked.contains(w)) missing += (missing.empty() ? "" : ", ") + w;
    }
    std::string extra;
    for (const std::string& a : asked) {
      if (!want.contains(a)) extra += (extra.empty() ? "" : ", ") + a;
    }
    return problem("badCSR", "the CSR's subjectAltName must hold exactly the order's names" +
                                 (missing.empty() ? "" : "; missing: " + missing) +
                                 (extra.empty() ? "" : "; not in the order: " + extra));
  }
  return std::nullopt;
}

std::optional<std::vector<std::string>> certificate_identifiers(const pki::Certificate& cert) {
  std::set<std::string> names;
  auto add = [&](const std::string& kind, const std::string& value) {
    if (kind == "DNS") {
      std::string name = lower(value);
      const std::string base = name.starts_with("*.") ? name.substr(2) : name;
      if (!is_host_name(base)) return false;
      names.insert("DNS:" + name);
      return true;
    }
    auto address = parse_ip_address(value);
    if (!address) return false;
    names.insert("IP:" + address->text());
    return true;
  };
  for (const std::string& san : pki::alt_names(cert)) {
    const std::size_t colon = san.find(':');
    const std::string kind = colon == std::string::npos ? san : san.substr(0, colon);
    if ((kind != "DNS" && kind != "IP") || !add(kind, san.substr(colon + 1))) return std::nullopt;
  }
  for (const auto& rdn : pki::ios_rdns(cert.subject())) {
    for (const pki::IosAttribute& attribute : rdn) {
      if (attribute.label != "cn") return std::nullopt;
      if (!add(parse_ip_address(attribute.value) ? "IP" : "DNS", attribute.value)) {
        return std::nullopt;
      }
    }
  }
  if (names.empty()) return std::nullopt;
  return std::vector<std::string>(names.begin(), names.end());
}

std::string identifier_name(const Identifier& identifier, bool wildcard) {
  if (identifier.type == "ip") return "IP:" + identifier.value;
  return "DNS:" + std::string(wildcard ? "*." : "") + identifier.value;
}

}  // namespace scepter::acme
