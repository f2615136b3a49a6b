#include "ca/request_policy.h"

#include <gtest/gtest.h>

#include "common/testing.h"

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace scepter::ca {
namespace {

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(' ');
  const auto e = s.find_last_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream in(line);
  std::string cell;
  std::getline(in, cell, '|');  // before the first bar
  while (std::getline(in, cell, '|')) out.push_back(trim(cell));
  if (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

// A table of docs/policy.md, between its markers `<!-- NAME:begin -->` and
// `<!-- NAME:end -->`.
std::vector<std::vector<std::string>> policy_table(const std::string& name) {
  std::ifstream f(::scepter::testing::source_path("docs/policy.md"));
  EXPECT_TRUE(f.good()) << "docs/policy.md not found";
  std::vector<std::vector<std::string>> rows;
  std::string line;
  bool inside = false;
  while (std::getline(f, line)) {
    if (line.find("<!-- " + name + ":begin -->") != std::string::npos) {
      inside = true;
    } else if (line.find("<!-- " + name + ":end -->") != std::string::npos) {
      break;
    } else if (inside && line.rfind("|", 0) == 0 && line.find("---") == std::string::npos) {
      rows.push_back(cells(line));
    }
  }
  return rows;
}

GrantMode mode_of(const std::string& s) {
  if (s == "auto") return GrantMode::kAuto;
  if (s == "none") return GrantMode::kNone;
  if (s == "ra-auto") return GrantMode::kRaAuto;
  EXPECT_EQ(s, "manual");
  return GrantMode::kManual;
}

// Signer column -> (signer, same identity).
std::pair<Signer, bool> signer_of(const std::string& s) {
  static const std::map<std::string, std::pair<Signer, bool>> kSigners = {
      {"self-signed", {Signer::kSelfSigned, false}},
      {"ours, same identity", {Signer::kOurs, true}},
      {"ours, other identity", {Signer::kOurs, false}},
      {"RA", {Signer::kRa, false}},
      {"revoked", {Signer::kRevoked, false}},
      {"expired", {Signer::kExpired, false}},
      {"foreign", {Signer::kForeign, false}},
  };
  auto it = kSigners.find(s);
  EXPECT_NE(it, kSigners.end()) << s;
  return it == kSigners.end() ? std::pair{Signer::kForeign, false} : it->second;
}

std::string outcome(const Decision& d) {
  switch (d.verdict) {
    case Verdict::kGrant:
      return d.renewal ? "renewal" : "grant";
    case Verdict::kPending:
      return d.authorized ? "authorized" : "pending";
    case Verdict::kReject:
      return "reject";
  }
  return "?";
}

// A table's column -> the path of the request. CertPoll and resend are both a stored
// request examined again.
const std::map<std::string, RequestPath>& column_paths() {
  static const std::map<std::string, RequestPath> paths = {
      {"PKCSReq", RequestPath::kPkcsReq},
      {"RenewalReq", RequestPath::kRenewalReq},
      {"CertPoll", RequestPath::kPoll},
      {"resend", RequestPath::kPoll},
      {"shell grant", RequestPath::kShellGrant}};
  return paths;
}

// Checks every cell of the table `name` against decide() for requests of class `request`.
void check_table(const std::string& name, RequestClass request) {
  const auto rows = policy_table(name);
  ASSERT_EQ(rows.size(), 1u + 4 * 7) << name << ": header plus 4 grant modes x 7 signers";
  const std::vector<std::string> header = rows[0];
  ASSERT_EQ(header.size(), 7u);
  int checked = 0;
  for (std::size_t r = 1; r < rows.size(); ++r) {
    const auto& row = rows[r];
    ASSERT_EQ(row.size(), 7u) << name << " row " << r;
    ServerConfig cfg;
    cfg.grant = mode_of(row[0]);
    auto [signer, same] = signer_of(row[1]);
    for (std::size_t c = 2; c < 7; ++c) {
      PolicyInput in;
      in.path = column_paths().at(header[c]);
      in.request = request;
      in.signer = signer;
      in.same_identity = same;
      const Decision d = decide(in, cfg);
      EXPECT_EQ(outcome(d), row[c])
          << name << ": " << row[0] << " / " << row[1] << " / " << header[c];
      if (d.verdict == Verdict::kReject) {
        EXPECT_FALSE(d.reason.empty());
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 4 * 7 * 5);
}

TEST(RequestPolicy, EveryCellOfTheDocumentedTable) {
  check_table("policy-table", RequestClass::kEndEntity);
}

TEST(RequestPolicy, EveryCellOfTheDocumentedCaTable) {
  check_table("policy-table-ca", RequestClass::kCa);
}

const GrantMode kModes[] = {GrantMode::kManual, GrantMode::kAuto, GrantMode::kNone,
                            GrantMode::kRaAuto};
const Signer kSigners[] = {Signer::kSelfSigned, Signer::kOurs,    Signer::kRa,
                           Signer::kRevoked,    Signer::kExpired, Signer::kForeign};
const RequestPath kPaths[] = {RequestPath::kManual, RequestPath::kPkcsReq, RequestPath::kRenewalReq,
                              RequestPath::kPoll, RequestPath::kShellGrant};

// Neither grant auto, nor grant ra-auto, nor the one-time password, nor a certificate of
// ours (an RA's included) obtains a CA certificate: only the operator's grant does.
TEST(RequestPolicy, EveryCellOfTheAcmeTable) {
  auto rows = policy_table("policy-table-acme");
  ASSERT_EQ(rows.size(), 9u);  // the header and 8 rows
  rows.erase(rows.begin());
  const std::vector<std::pair<std::string, RequestPath>> columns = {
      {"finalize", RequestPath::kAcme},
      {"poll", RequestPath::kPoll},
      {"shell grant", RequestPath::kShellGrant}};
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 5u);
    ServerConfig cfg;
    cfg.grant = mode_of(row[0]);
    cfg.acme_auto = row[1] == "on";
    for (std::size_t c = 0; c < columns.size(); ++c) {
      PolicyInput in;
      in.path = columns[c].second;
      in.signer = Signer::kNone;
      in.acme = true;
      in.names_validated = true;
      const Decision d = decide(in, cfg);
      const std::string got = d.verdict == Verdict::kGrant    ? "grant"
                              : d.verdict == Verdict::kReject ? "reject"
                              : d.authorized                  ? "authorized"
                                                              : "pending";
      EXPECT_EQ(got, row[2 + c]) << row[0] << " / grant auto acme " << row[1] << " / "
                                 << columns[c].first;
    }
  }
}

TEST(RequestPolicy, AcmeCertifiesValidatedEndEntitiesOnly) {
  ServerConfig cfg;
  cfg.grant = GrantMode::kAuto;
  cfg.acme_auto = true;
  PolicyInput in;
  in.path = RequestPath::kAcme;
  in.acme = true;
  in.names_validated = true;
  for (RequestClass kind : {RequestClass::kCa, RequestClass::kRa}) {
    in.request = kind;
    EXPECT_EQ(decide(in, cfg).verdict, Verdict::kReject);
  }
  in.request = RequestClass::kEndEntity;
  in.names_validated = false;
  EXPECT_EQ(decide(in, cfg).verdict, Verdict::kReject);
  // The one-time password changes nothing for ACME.
  in.otp = true;
  EXPECT_EQ(decide(in, cfg).verdict, Verdict::kReject);
  // The pending limit holds for a new order that would wait.
  cfg.grant = GrantMode::kManual;
  cfg.acme_auto = false;
  in.otp = false;
  in.names_validated = true;
  in.open_requests = static_cast<std::uint64_t>(cfg.max_pending_requests);
  EXPECT_EQ(decide(in, cfg).verdict, Verdict::kReject);
  in.path = RequestPath::kPoll;
  EXPECT_EQ(decide(in, cfg).verdict, Verdict::kPending);
}

TEST(RequestPolicy, CaRequestsWaitForTheOperator) {
  for (GrantMode m : kModes) {
    for (Signer s : kSigners) {
      for (RequestPath p : kPaths) {
        for (bool same : {false, true}) {
          ServerConfig cfg;
          cfg.grant = m;
          PolicyInput in{.path = p,
                         .request = RequestClass::kCa,
                         .signer = s,
                         .same_identity = same,
                         .otp = true};
          const Decision d = decide(in, cfg);
          std::string want = "pending";
          if (p == RequestPath::kShellGrant) {
            want = "grant";
          } else if (m == GrantMode::kNone || s == Signer::kRevoked ||
                     (p == RequestPath::kRenewalReq && s != Signer::kOurs && s != Signer::kRa)) {
            want = "reject";
          }
          EXPECT_EQ(outcome(d), want)
              << grant_mode_text(m) << " " << signer_name(s) << " " << request_path_name(p);
          EXPECT_FALSE(d.consumes_otp);
          EXPECT_FALSE(d.renewal);
          if (d.verdict == Verdict::kReject) {
            EXPECT_EQ(d.fail_info, ScepFailInfo::kBadRequest);
          }
        }
      }
    }
  }
}

TEST(RequestPolicy, CaRequestsUnderGrantAutoOrWithThePasswordStillWait) {
  ServerConfig cfg;
  cfg.grant = GrantMode::kAuto;
  for (Signer s : {Signer::kSelfSigned, Signer::kRa, Signer::kForeign}) {
    EXPECT_EQ(outcome(decide(
                  {.path = RequestPath::kPkcsReq, .request = RequestClass::kCa, .signer = s}, cfg)),
              "pending")
        << signer_name(s);
  }
  cfg.grant = GrantMode::kManual;
  for (RequestPath p : {RequestPath::kManual, RequestPath::kPkcsReq}) {
    const Decision d = decide(
        {.path = p, .request = RequestClass::kCa, .signer = Signer::kSelfSigned, .otp = true}, cfg);
    EXPECT_EQ(d.verdict, Verdict::kPending) << request_path_name(p);
    EXPECT_FALSE(d.consumes_otp);
  }
  cfg.grant = GrantMode::kNone;
  EXPECT_EQ(decide({.path = RequestPath::kPkcsReq, .request = RequestClass::kCa}, cfg).verdict,
            Verdict::kReject);
}

TEST(RequestPolicy, CaRequestsMeetTheKeyRuleAndThePendingLimit) {
  ServerConfig cfg;
  cfg.grant = GrantMode::kAuto;
  cfg.max_pending_requests = 2;
  for (RequestPath p : kPaths) {
    const Decision d =
        decide({.path = p, .request = RequestClass::kCa, .rsa = true, .key_bits = 1024}, cfg);
    EXPECT_EQ(d.verdict, Verdict::kReject) << request_path_name(p);
    EXPECT_EQ(d.fail_info, ScepFailInfo::kBadAlg);
  }
  for (RequestPath p : {RequestPath::kManual, RequestPath::kPkcsReq, RequestPath::kRenewalReq}) {
    const Decision d = decide(
        {.path = p, .request = RequestClass::kCa, .signer = Signer::kOurs, .open_requests = 2},
        cfg);
    EXPECT_EQ(d.verdict, Verdict::kReject) << request_path_name(p);
    EXPECT_NE(d.reason.find("Too many"), std::string::npos) << d.reason;
  }
  EXPECT_EQ(
      decide({.path = RequestPath::kPkcsReq, .request = RequestClass::kCa, .open_requests = 1}, cfg)
          .verdict,
      Verdict::kPending);
  // A stored request is polled, and granted by the operator, whatever the count.
  EXPECT_EQ(
      decide({.path = RequestPath::kPoll, .request = RequestClass::kCa, .open_requests = 2}, cfg)
          .verdict,
      Verdict::kPending);
  EXPECT_EQ(
      decide({.path = RequestPath::kShellGrant, .request = RequestClass::kCa, .open_requests = 2},
             cfg)
          .verdict,
      Verdict::kGrant);
}

// An RA issues no certificate of its own, least of all a CA's.
TEST(RequestPolicy, CaRequestsAreRefusedInRaMode) {
  for (ServerMode mode : {ServerMode::kRa, ServerMode::kRaTransparent}) {
    for (GrantMode m : kModes) {
      for (RequestPath p : kPaths) {
        ServerConfig cfg;
        cfg.mode = mode;
        cfg.grant = m;
        const Decision d =
            decide({.path = p, .request = RequestClass::kCa, .signer = Signer::kSelfSigned}, cfg);
        EXPECT_EQ(d.verdict, Verdict::kReject) << request_path_name(p);
        EXPECT_EQ(d.fail_info, ScepFailInfo::kBadRequest);
        EXPECT_NE(d.reason.find("RA mode"), std::string::npos) << d.reason;
      }
    }
  }
  for (ServerMode mode : {ServerMode::kRoot, ServerMode::kSubCs}) {
    ServerConfig cfg;
    cfg.mode = mode;
    EXPECT_EQ(decide({.path = RequestPath::kShellGrant, .request = RequestClass::kCa}, cfg).verdict,
              Verdict::kGrant);
  }
}

TEST(RequestPolicy, CaRequestsAreRefusedUnderAPathLengthOfZero) {
  for (GrantMode m : kModes) {
    for (RequestPath p : kPaths) {
      ServerConfig cfg;
      cfg.grant = m;
      PolicyInput in{.path = p, .request = RequestClass::kCa, .signer = Signer::kSelfSigned};
      in.issuer_path_len = 0;
      const Decision d = decide(in, cfg);
      EXPECT_EQ(d.verdict, Verdict::kReject) << request_path_name(p);
      EXPECT_NE(d.reason.find("pathLen 0"), std::string::npos) << d.reason;
      in.issuer_path_len = 1;  // room for one more CA: the usual rules
      const Decision usual = decide(in, cfg);
      EXPECT_EQ(
          usual.verdict,
          decide({.path = p, .request = RequestClass::kCa, .signer = Signer::kSelfSigned}, cfg)
              .verdict);
    }
  }
  // End-entity requests do not care.
  PolicyInput ee{.path = RequestPath::kShellGrant};
  ee.issuer_path_len = 0;
  EXPECT_EQ(decide(ee, ServerConfig{}).verdict, Verdict::kGrant);
}

TEST(RequestPolicy, RaRoleRequestsWaitForTheOperator) {
  for (GrantMode m : kModes) {
    for (Signer s : kSigners) {
      for (RequestPath p : kPaths) {
        for (bool same : {false, true}) {
          ServerConfig cfg;
          cfg.grant = m;
          PolicyInput in{.path = p,
                         .request = RequestClass::kRa,
                         .signer = s,
                         .same_identity = same,
                         .otp = true};
          const Decision d = decide(in, cfg);
          std::string want = "pending";
          if (p == RequestPath::kShellGrant) {
            want = "grant";
          } else if (m == GrantMode::kNone || s == Signer::kRevoked ||
                     (p == RequestPath::kRenewalReq && s != Signer::kOurs && s != Signer::kRa)) {
            want = "reject";
          }
          EXPECT_EQ(outcome(d), want)
              << grant_mode_text(m) << " " << signer_name(s) << " " << request_path_name(p);
        }
      }
    }
  }
}

TEST(RequestPolicy, OneTimePasswordGrantsNewUnauthenticatedRequestsOnly) {
  ServerConfig cfg;  // grant manual
  for (RequestPath p : {RequestPath::kManual, RequestPath::kPkcsReq}) {
    const Decision d = decide({.path = p, .signer = Signer::kSelfSigned, .otp = true}, cfg);
    EXPECT_EQ(d.verdict, Verdict::kGrant);
    EXPECT_TRUE(d.consumes_otp);
  }
  EXPECT_EQ(
      decide({.path = RequestPath::kPoll, .signer = Signer::kSelfSigned, .otp = true}, cfg).verdict,
      Verdict::kPending);
  cfg.grant = GrantMode::kNone;
  EXPECT_EQ(decide({.path = RequestPath::kPkcsReq, .otp = true}, cfg).verdict, Verdict::kReject);
  cfg.grant = GrantMode::kRaAuto;
  EXPECT_EQ(decide({.path = RequestPath::kPkcsReq, .otp = true}, cfg).verdict, Verdict::kGrant);
  // Without the password nothing is consumed.
  cfg.grant = GrantMode::kAuto;
  EXPECT_FALSE(decide({.path = RequestPath::kPkcsReq, .otp = true}, cfg).consumes_otp);
}

TEST(RequestPolicy, RenewalFollowsTheModeWhenAutoRenewalIsOff) {
  ServerConfig cfg;
  cfg.renewal_auto = false;
  for (RequestPath p : {RequestPath::kPkcsReq, RequestPath::kRenewalReq, RequestPath::kPoll}) {
    EXPECT_EQ(outcome(decide({.path = p, .signer = Signer::kOurs, .same_identity = true}, cfg)),
              "pending");
  }
  cfg.grant = GrantMode::kAuto;
  EXPECT_EQ(
      outcome(decide(
          {.path = RequestPath::kRenewalReq, .signer = Signer::kOurs, .same_identity = true}, cfg)),
      "grant");
}

TEST(RequestPolicy, SmallRsaKeysAreRefusedOnEveryPath) {
  for (GrantMode m : kModes) {
    for (RequestPath p : kPaths) {
      ServerConfig cfg;
      cfg.grant = m;
      const Decision d = decide({.path = p,
                                 .signer = Signer::kOurs,
                                 .same_identity = true,
                                 .rsa = true,
                                 .key_bits = 1024},
                                cfg);
      EXPECT_EQ(d.verdict, Verdict::kReject);
      EXPECT_EQ(d.fail_info, ScepFailInfo::kBadAlg);
      EXPECT_NE(d.reason.find("1024"), std::string::npos);
    }
  }
  ServerConfig old_devices;
  old_devices.min_rsa_bits = 1024;
  old_devices.grant = GrantMode::kAuto;
  EXPECT_EQ(decide({.path = RequestPath::kPkcsReq, .key_bits = 1024}, old_devices).verdict,
            Verdict::kGrant);
  // EC keys are judged by their curve when parsed, not by this size.
  ServerConfig cfg;
  cfg.grant = GrantMode::kAuto;
  EXPECT_EQ(decide({.path = RequestPath::kPkcsReq, .rsa = false, .key_bits = 256}, cfg).verdict,
            Verdict::kGrant);
}

TEST(RequestPolicy, PendingLimitRefusesNewRequestsOnly) {
  ServerConfig cfg;
  cfg.max_pending_requests = 3;
  EXPECT_EQ(decide({.path = RequestPath::kPkcsReq, .open_requests = 2}, cfg).verdict,
            Verdict::kPending);
  for (RequestPath p : {RequestPath::kPkcsReq, RequestPath::kManual, RequestPath::kRenewalReq}) {
    const Decision d = decide({.path = p, .signer = Signer::kOurs, .open_requests = 3}, cfg);
    EXPECT_EQ(d.verdict, Verdict::kReject) << request_path_name(p);
  }
  EXPECT_EQ(decide({.path = RequestPath::kPoll, .open_requests = 3}, cfg).verdict,
            Verdict::kPending);
  // Requests for the RA role wait for the operator, so they count too.
  const Decision ra = decide({.path = RequestPath::kPkcsReq,
                              .request = RequestClass::kRa,
                              .signer = Signer::kSelfSigned,
                              .open_requests = 3},
                             cfg);
  EXPECT_EQ(ra.verdict, Verdict::kReject);
  EXPECT_EQ(
      decide({.path = RequestPath::kPoll, .request = RequestClass::kRa, .open_requests = 3}, cfg)
          .verdict,
      Verdict::kPending);
  // Requests granted at once are not limited.
  EXPECT_EQ(decide({.path = RequestPath::kPkcsReq,
                    .signer = Signer::kOurs,
                    .same_identity = true,
                    .open_requests = 3},
                   cfg)
                .verdict,
            Verdict::kGrant);
}

// The signers of the rollover table: kind, same identity, CA certificate.
struct RolloverSigner {
  Signer signer;
  bool same_identity;
  bool is_ca;
};

RolloverSigner rollover_signer_of(const std::string& s) {
  static const std::map<std::string, RolloverSigner> kSigners = {
      {"sub-CA, same identity", {Signer::kOurs, true, true}},
      {"sub-CA, other identity", {Signer::kOurs, false, true}},
      {"ours, same identity", {Signer::kOurs, true, false}},
      {"RA, same identity", {Signer::kRa, true, false}},
      {"RA, other identity", {Signer::kRa, false, false}},
      {"RA CA, same identity", {Signer::kRa, true, true}},
      {"revoked", {Signer::kRevoked, false, false}},
      {"expired", {Signer::kExpired, false, false}},
      {"foreign", {Signer::kForeign, false, false}},
      {"self-signed", {Signer::kSelfSigned, false, false}},
  };
  auto it = kSigners.find(s);
  EXPECT_NE(it, kSigners.end()) << s;
  return it == kSigners.end() ? RolloverSigner{Signer::kForeign, false, false} : it->second;
}

// Every cell of the rollover table, in every grant mode, with and without each setting.
TEST(RequestPolicy, EveryCellOfTheDocumentedRolloverTable) {
  const auto rows = policy_table("policy-table-rollover");
  ASSERT_EQ(rows.size(), 1u + 8 + 9) << "header plus 8 CA and 9 RA rows";
  const std::vector<std::string> header = rows[0];
  ASSERT_EQ(header.size(), 7u);
  int granted = 0;
  for (std::size_t r = 1; r < rows.size(); ++r) {
    const auto& row = rows[r];
    ASSERT_EQ(row.size(), 7u) << "row " << r;
    ASSERT_TRUE(row[0] == "CA" || row[0] == "RA") << row[0];
    const RequestClass request = row[0] == "CA" ? RequestClass::kCa : RequestClass::kRa;
    const RolloverSigner signer = rollover_signer_of(row[1]);
    for (GrantMode m : kModes) {
      for (bool ca_setting : {false, true}) {
        for (bool ra_setting : {false, true}) {
          ServerConfig cfg;
          cfg.grant = m;
          cfg.rollover_auto_ca = ca_setting;
          cfg.rollover_auto_ra = ra_setting;
          const bool setting = request == RequestClass::kCa ? ca_setting : ra_setting;
          for (std::size_t c = 2; c < 7; ++c) {
            std::string want = row[c];
            if (want == "renewal" && !setting) want = "pending";
            if (m == GrantMode::kNone && header[c] != "shell grant") want = "reject";
            PolicyInput in{.path = column_paths().at(header[c]),
                           .request = request,
                           .signer = signer.signer,
                           .same_identity = signer.same_identity,
                           .signer_is_ca = signer.is_ca,
                           .otp = true};
            const Decision d = decide(in, cfg);
            EXPECT_EQ(outcome(d), want)
                << row[0] << " / " << row[1] << " / " << header[c] << " / " << grant_mode_text(m)
                << " ca-cert " << ca_setting << " ra-cert " << ra_setting;
            // The password is never used up by a CA or RA request.
            EXPECT_FALSE(d.consumes_otp);
            if (outcome(d) == "renewal") ++granted;
          }
        }
      }
    }
  }
  // Two rows x 4 paths x 3 grant modes x the 2 configurations with the setting on.
  EXPECT_EQ(granted, 2 * 4 * 3 * 2);
}

// An end-entity request gains nothing from either setting: the usual renewal rule decides.
TEST(RequestPolicy, RolloverSettingsGrantNoEndEntityRequest) {
  for (GrantMode m : kModes) {
    for (Signer s : kSigners) {
      for (RequestPath p : kPaths) {
        for (bool same : {false, true}) {
          for (bool ca : {false, true}) {
            for (bool renewal : {false, true}) {
              ServerConfig off;
              off.grant = m;
              off.renewal_auto = renewal;
              ServerConfig on = off;
              on.rollover_auto_ca = on.rollover_auto_ra = true;
              const PolicyInput in{.path = p,
                                   .request = RequestClass::kEndEntity,
                                   .signer = s,
                                   .same_identity = same,
                                   .signer_is_ca = ca};
              EXPECT_EQ(outcome(decide(in, on)), outcome(decide(in, off)))
                  << grant_mode_text(m) << " " << signer_name(s) << " " << request_path_name(p);
            }
          }
        }
      }
    }
  }
}

// The rules before still hold: RA mode, pathLen 0, the key size; and the pending limit
// does not concern a request granted at once.
TEST(RequestPolicy, RolloverKeepsTheRulesThatComeFirst) {
  ServerConfig cfg;
  cfg.rollover_auto_ca = cfg.rollover_auto_ra = true;
  const PolicyInput sub_ca{.path = RequestPath::kPkcsReq,
                           .request = RequestClass::kCa,
                           .signer = Signer::kOurs,
                           .same_identity = true,
                           .signer_is_ca = true};
  const PolicyInput ra{.path = RequestPath::kPkcsReq,
                       .request = RequestClass::kRa,
                       .signer = Signer::kRa,
                       .same_identity = true};
  ASSERT_EQ(outcome(decide(sub_ca, cfg)), "renewal");
  ASSERT_EQ(outcome(decide(ra, cfg)), "renewal");

  for (int path_len : {0, -1}) {
    PolicyInput in = sub_ca;
    in.issuer_path_len = path_len;
    const Decision d = decide(in, cfg);
    EXPECT_EQ(d.verdict, Verdict::kReject) << path_len;
    EXPECT_NE(d.reason.find("pathLen 0"), std::string::npos) << d.reason;
  }
  PolicyInput room = sub_ca;
  room.issuer_path_len = 1;
  EXPECT_EQ(outcome(decide(room, cfg)), "renewal");

  for (ServerMode mode : {ServerMode::kRa, ServerMode::kRaTransparent}) {
    ServerConfig ra_mode = cfg;
    ra_mode.mode = mode;
    const Decision d = decide(sub_ca, ra_mode);
    EXPECT_EQ(d.verdict, Verdict::kReject);
    EXPECT_NE(d.reason.find("RA mode"), std::string::npos) << d.reason;
  }
  ServerConfig sub_cs = cfg;
  sub_cs.mode = ServerMode::kSubCs;
  EXPECT_EQ(outcome(decide(sub_ca, sub_cs)), "renewal");

  for (const PolicyInput& base : {sub_ca, ra}) {
    PolicyInput small = base;
    small.key_bits = 1024;
    const Decision d = decide(small, cfg);
    EXPECT_EQ(d.verdict, Verdict::kReject);
    EXPECT_EQ(d.fail_info, ScepFailInfo::kBadAlg);

    ServerConfig limited = cfg;
    limited.max_pending_requests = 1;
    PolicyInput crowded = base;
    crowded.open_requests = 5;
    EXPECT_EQ(outcome(decide(crowded, limited)), "renewal");
    // Without the setting it would wait, and the limit refuses it.
    limited.rollover_auto_ca = limited.rollover_auto_ra = false;
    EXPECT_EQ(outcome(decide(crowded, limited)), "reject");
  }
}

}  // namespace
}  // namespace scepter::ca
