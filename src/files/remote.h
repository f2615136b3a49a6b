#pragma once
// Files on other machines: the remote URLs of `database url`, `copy` and `crypto pki
// export`, moved with libcurl.
//
//   tftp://host[:port]/path        no login; the server must allow creating files
//   ftp://host[:port]/path         username/password (or anonymous)
//   http(s)://host[:port]/path     GET to read, PUT to write (WebDAV-style); basic auth
//   sftp://host[:port]/path        username/password; the host key must be known
//   scp://host[:port]/path         as sftp
//
// A write over ftp goes to a temporary name first and is renamed over the file, so that a
// reader never sees half a CRL; the other protocols write the file in place. Directories
// are created where the protocol can (ftp, sftp, scp; http when the server does it for a
// PUT, as nginx's create_full_put_path). Every transfer has a connect and a total timeout:
// a dead server costs seconds, not a hung thread.
//
// SSH host keys are checked against an OpenSSH known_hosts file; a host not in it, or with
// another key, is refused (never trusted on first use). An https server's certificate is
// checked against the system's CAs, or the operator's own CA file when there is one.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/url.h"

namespace scepter::files {

// True for the URL schemes above (and for rcp:, which is refused by validate_remote_url).
bool is_remote_url(std::string_view url);

// A login for a remote location. Empty username: the URL's own, else anonymous.
struct Credentials {
  std::string username;
  std::string password;
  bool operator==(const Credentials&) const = default;
};

// Checks a remote URL before it is used or stored: a known scheme, a host, a path.
// `allow_password`: a password written into the URL itself ("ftp://u:p@host/") is refused
// where the URL is kept in the configuration, which would show it in clear. The message
// says what is wrong, e.g. "rcp: is not supported; use scp: or sftp:".
Status validate_remote_url(std::string_view url, bool allow_password);

// "ftp://h/dir" + "x.crl" -> "ftp://h/dir/x.crl"; the name is percent-encoded.
std::string join_url(std::string_view dir_url, std::string_view name);

// For messages and logs: common/url.h (the password shown as "***").
using ::scepter::redact_url;

struct TransferOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds total_timeout{120000};
  // A download larger than this is aborted (kInvalidArgument).
  std::uint64_t max_download_bytes = std::uint64_t{4} << 30;
  // OpenSSH known_hosts file for sftp and scp (required for them).
  std::string ssh_known_hosts;
  // PEM file of the CAs that https servers' certificates are checked against, instead of
  // the system's, when the file exists (a file server with a certificate of a private CA).
  std::string https_ca_file;
};

// Errors: kNotFound when the server says the file does not exist; kPermissionDenied for a
// refused login or a refused write; kUnavailable when the server cannot be reached or the
// transfer fails midway; kInvalidArgument for a bad URL. Each message names the URL (its
// password redacted) and the server's reason, e.g.
//   "cannot write ftp://127.0.0.1:2121/ca/x.crl: login denied"
// Thread-safe: each call uses its own connection.
class RemoteFiles {
 public:
  explicit RemoteFiles(TransferOptions options = {}) : options_(std::move(options)) {}

  Result<std::string> read(const std::string& url, const Credentials& login) const;
  // `cancel` (optional) aborts the transfer soon after it becomes true (kUnavailable).
  Status write(const std::string& url, const Credentials& login, std::string_view data,
               const std::atomic<bool>* cancel = nullptr) const;
  // Deletes the file (ftp DELE, sftp rm, http DELETE): kNotFound when it is not there;
  // tftp and scp have no way to delete (kInvalidArgument, with the way out for scp).
  Status remove(const std::string& url, const Credentials& login) const;
  // Streams between a local file and a URL (for database copies: no size in memory).
  // download() writes `local_path` atomically (a temporary file beside it, synced, renamed).
  Result<std::uint64_t> download(const std::string& url, const Credentials& login,
                                 const std::string& local_path) const;
  Result<std::uint64_t> upload(const std::string& local_path, const std::string& url,
                               const Credentials& login) const;

  const TransferOptions& options() const { return options_; }

 private:
  TransferOptions options_;
};

}  // namespace scepter::files
