#include "ca/audit_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "pki/digest.h"
#include "pki/encoding.h"
#include "pki/name.h"

namespace scepter::ca {
namespace {

using Json = nlohmann::json;

const std::string kNoHead(64, '0');

// The text a record's hash covers: its JSON without "hash", keys sorted (nlohmann's
// objects are), no spaces, bytes that are not UTF-8 replaced (so that reading the line
// back gives the same text).
std::string canonical(const Json& record) {
  return record.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string chain_hash(const std::string& text) {
  return pki::hex_upper(pki::digest(pki::Hash::kSha256, text));
}

Status write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return unavailable(fmt::format("cannot write the audit log: {}", std::strerror(errno)));
    done += static_cast<std::size_t>(n);
  }
  return ok_status();
}

std::string string_field(const Json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<AuditRecord> to_record(const Json& j) {
  if (!j.is_object() || !j.contains("seq") || !j["seq"].is_number_unsigned()) return std::nullopt;
  AuditRecord r;
  r.seq = j["seq"].get<std::uint64_t>();
  r.time = string_field(j, "time");
  r.event = string_field(j, "event");
  r.actor = string_field(j, "actor");
  r.ca = string_field(j, "ca");
  r.detail = string_field(j, "detail");
  r.outcome = string_field(j, "outcome");
  return r;
}

// Calls `fn` with each line of the file, without its line feed, and whether the line was
// ended (only a last line cut short is not), until `fn` returns false. Reads a line at a
// time: memory does not grow with the log.
Status for_each_line(const std::string& path,
                     const std::function<bool(const std::string&, bool ended)>& fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return unavailable(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  std::string line;
  while (std::getline(in, line)) {
    if (!fn(line, !in.eof())) break;
  }
  if (in.bad()) return unavailable(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  return ok_status();
}

}  // namespace

Result<std::unique_ptr<AuditLog>> AuditLog::open(std::string path, const Clock& clock) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    return fail(
        unavailable(fmt::format("cannot open the audit log {}: {}", path, std::strerror(errno))));
  }
  // The last line that was ended, whether one after it was cut short, and how many
  // records came after the last checkpoint.
  std::string last;
  bool cut = false;
  std::uint64_t since_checkpoint = 0;
  RETURN_IF_ERROR(for_each_line(path, [&](const std::string& line, bool ended) {
    if (!ended) {
      cut = true;
      return false;
    }
    last = line;
    since_checkpoint =
        line.find("\"event\":\"checkpoint\"") != std::string::npos ? 0 : since_checkpoint + 1;
    return true;
  }));
  if (cut) RETURN_IF_ERROR(write_all(fd.get(), "\n"));
  std::unique_ptr<AuditLog> log(new AuditLog(std::move(path), clock, std::move(fd)));
  MutexLock lock(log->mu_);
  log->head_ = kNoHead;
  log->unsigned_ = since_checkpoint;
  // The chain goes on from the last complete record. One that cannot be read (someone
  // wrote there) is reported, not fatal: the CA keeps working, and verify_audit() stops
  // at that line.
  if (!last.empty()) {
    Json j = Json::parse(last, nullptr, false);
    auto record = to_record(j);
    if (record && j.contains("hash") && j["hash"].is_string()) {
      log->seq_ = record->seq;
      log->head_ = j["hash"].get<std::string>();
    } else {
      log::error("audit: the last record of {} cannot be read: see \"verify audit\"", log->path_);
    }
  }
  return log;
}

Result<std::string> AuditLog::append_locked(const AuditEvent& event, const std::string* signer,
                                            const std::string* signature) {
  Json j;
  j["seq"] = seq_ + 1;
  j["time"] = format_iso_time(clock_.now());
  j["event"] = event.event;
  j["actor"] = event.actor;
  j["ca"] = event.ca;
  j["detail"] = event.detail;
  j["outcome"] = event.outcome;
  j["prev"] = head_;
  if (signer != nullptr) j["signer"] = *signer;
  if (signature != nullptr) j["signature"] = *signature;
  const std::string hash = chain_hash(canonical(j));
  j["hash"] = hash;
  RETURN_IF_ERROR(write_all(fd_.get(), canonical(j) + "\n"));
  ++seq_;
  head_ = hash;
  return hash;
}

void AuditLog::record(const AuditEvent& event) {
  MutexLock lock(mu_);
  auto written = append_locked(event, nullptr, nullptr);
  if (!written.has_value()) {
    log::error("audit: {} (event {}: {})", written.error().message(), event.event, event.detail);
    return;
  }
  ++unsigned_;
}

void AuditLog::record_untrusted(const AuditEvent& event) {
  const TimePoint now = clock_.now();
  MutexLock lock(mu_);
  if (now - untrusted_window_ >= std::chrono::minutes(1)) {
    untrusted_window_ = now;
    untrusted_written_ = 0;
  }
  if (untrusted_written_ >= kUntrustedPerMinute) {
    ++untrusted_left_out_;
    return;
  }
  ++untrusted_written_;
  AuditEvent e = event;
  if (untrusted_left_out_ > 0) {
    e.detail += fmt::format(" ({} more such events before this one were not recorded)",
                            std::exchange(untrusted_left_out_, 0));
  }
  auto written = append_locked(e, nullptr, nullptr);
  if (!written.has_value()) {
    log::error("audit: {} (event {}: {})", written.error().message(), e.event, e.detail);
    return;
  }
  ++unsigned_;
}

std::uint64_t AuditLog::unsigned_records() const {
  MutexLock lock(mu_);
  return unsigned_;
}

Status AuditLog::checkpoint(const std::string& label, const pki::Certificate& cert,
                            const pki::Key& key) {
  MutexLock lock(mu_);
  if (unsigned_ == 0) return ok_status();
  ASSIGN_OR_RETURN(std::string signature, key.sign(head_));
  const std::string signer = pki::base64_encode(cert.der(), 0);
  const std::string sig64 = pki::base64_encode(signature, 0);
  const std::string serial = cert.serial_hex();
  ASSIGN_OR_RETURN(std::string hash,
                   append_locked({"checkpoint", "scepterd", label,
                                  fmt::format("{} records signed by the certificate 0x{} of {}",
                                              unsigned_, serial, label),
                                  "ok"},
                                 &signer, &sig64));
  (void)hash;
  unsigned_ = 0;
  if (::fdatasync(fd_.get()) != 0) {
    return unavailable(fmt::format("cannot sync the audit log: {}", std::strerror(errno)));
  }
  return ok_status();
}

Result<std::vector<AuditRecord>> read_audit(const std::string& path, std::size_t count) {
  std::deque<AuditRecord> kept;
  RETURN_IF_ERROR(for_each_line(path, [&](const std::string& line, bool) {
    auto r = to_record(Json::parse(line, nullptr, false));
    if (!r) return true;
    kept.push_back(std::move(*r));
    if (count != 0 && kept.size() > count) kept.pop_front();
    return true;
  }));
  return std::vector<AuditRecord>(std::make_move_iterator(kept.begin()),
                                  std::make_move_iterator(kept.end()));
}

Result<AuditVerification> verify_audit(const std::string& path,
                                       const std::vector<pki::Certificate>& trusted) {
  AuditVerification v;
  std::string head = kNoHead;
  std::uint64_t seq = 0;
  std::uint64_t number = 0;
  std::set<std::string> signers;
  // Checkpoints by a certificate not in `trusted` (a CA certificate replaced by a rollover
  // since), not yet vouched for by a later checkpoint by one that is: the first one's line
  // and what names it, and the signers to list once they are vouched for.
  std::optional<std::uint64_t> unvouched_line;
  std::string unvouched_problem;
  std::vector<std::string> unvouched_signers;
  // Why the line does not verify, or "" when it does (and the chain moves on).
  const auto check = [&](const std::string& text, bool ended) -> std::string {
    if (!ended) return "the last record was cut short";
    Json j = Json::parse(text, nullptr, false);
    auto record = to_record(j);
    if (!record || !j.contains("hash") || !j["hash"].is_string() || !j.contains("prev")) {
      return "not an audit record";
    }
    const std::string hash = j["hash"].get<std::string>();
    j.erase("hash");
    if (chain_hash(canonical(j)) != hash) return "the record was changed";
    if (string_field(j, "prev") != head) {
      return "the record before it is missing, or was changed or moved";
    }
    if (record->seq != seq + 1) return fmt::format("record {} follows record {}", record->seq, seq);
    if (record->event == "checkpoint") {
      auto der = pki::base64_decode(string_field(j, "signer"));
      auto signature = pki::base64_decode(string_field(j, "signature"));
      if (!der || !signature) return "a checkpoint without its signature";
      bool known = false;
      for (const pki::Certificate& c : trusted) known = known || c.der() == *der;
      auto cert = pki::Certificate::from_der(*der);
      if (!cert) return "a checkpoint whose certificate cannot be read";
      auto key = cert->public_key();
      if (!key || !key->verify(head, *signature).ok()) {
        return "a checkpoint whose signature does not verify";
      }
      if (known) {
        // It vouches for every record before it, checkpoints by older keys included.
        signers.insert(fmt::format("{} (serial 0x{})", record->ca, cert->serial_hex()));
        signers.insert(unvouched_signers.begin(), unvouched_signers.end());
        unvouched_signers.clear();
        unvouched_line.reset();
      } else {
        // Signed by a CA certificate that a rollover has replaced since (or one this
        // device does not hold at all): good only if a later checkpoint by a certificate
        // it holds covers it.
        if (!unvouched_line) {
          unvouched_line = number;
          unvouched_problem = fmt::format(
              "a checkpoint signed by a certificate this device does not hold (0x{}, {}), and "
              "no checkpoint after it is signed by one it holds",
              cert->serial_hex(), pki::format_dn_ios(cert->subject()));
        }
        unvouched_signers.push_back(fmt::format(
            "{} (serial 0x{}, a certificate this device no longer holds, vouched for by a "
            "later checkpoint)",
            record->ca, cert->serial_hex()));
      }
      ++v.checkpoints;
      v.unsigned_tail = 0;
    } else {
      ++v.unsigned_tail;
    }
    head = hash;
    seq = record->seq;
    ++v.records;
    return "";
  };
  RETURN_IF_ERROR(for_each_line(path, [&](const std::string& text, bool ended) {
    ++number;
    std::string problem = check(text, ended);
    if (problem.empty()) return true;
    v.bad_line = number;
    v.problem = std::move(problem);
    return false;
  }));
  // The last checkpoint must be by a certificate the device holds.
  if (!v.bad_line && unvouched_line) {
    v.bad_line = unvouched_line;
    v.problem = std::move(unvouched_problem);
  }
  v.signers.assign(signers.begin(), signers.end());
  return v;
}

}  // namespace scepter::ca
