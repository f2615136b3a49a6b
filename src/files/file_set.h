#pragma once
// The certificate server's file set, as the IOS guide describes it: which file type is
// stored where (a primary location, per-type overrides) and where copies are published.
//
//   .ser  main database            .crl  current CRL (DER)
//   .crt  issued certificates      .cnm  certificate name and expiration
//   .p12 / .pem  CA key + certificate archive
//
// Locations are IOS URLs ("nvram:", "flash:certs", "/var/lib/x"), which a Resolver
// supplied by the device turns into local directories, or remote URLs (remote.h):
//   - the CRL and the archive (.p12/.pem) are written to a remote storage location at
//     once, and a failure is returned (critical, as on IOS); the CRL is read back from it;
//   - .crt and .cnm files, only ever written, go to a remote storage or publish location
//     through the PublishQueue: issuing does not wait for a file server;
//   - the main database (.ser) stays local: check_writable() refuses a remote one (see
//     docs/decisions.md, "The main database is a local file").
// Thread-safe once constructed (read-only configuration).

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "files/publish_queue.h"
#include "files/remote.h"

namespace scepter::files {

enum class FileType { kSer, kCrl, kCrt, kCnm, kP12, kPem };
std::string_view type_keyword(FileType type);  // "ser", "crl", "crt", "cnm", "p12", "pem"
Result<FileType> parse_type(std::string_view keyword);

// `database level`: what is written besides what is needed to go on issuing.
enum class DbLevel { kMinimal, kNames, kComplete };
std::string_view level_keyword(DbLevel level);  // "minimal", "names", "complete"

using Resolver = std::function<Result<std::string>(std::string_view url)>;

// `database url ser postgresql://USER@HOST:PORT/DB`: the main database on a PostgreSQL
// server (libpq's URI form, "postgres://" too, either case). Only the .ser location may
// be one; its password is kept apart from the URL, as a location's login.
bool is_database_server_url(std::string_view url);

// A database server URL split for the configuration: the URL without the password of
// its user information, the user (percent-decoded, empty when the URL names none) and
// the password (percent-decoded; nullopt when the URL has none).
struct DatabaseUrl {
  std::string url;
  std::string user;
  std::optional<std::string> password;
};
DatabaseUrl split_database_url(std::string_view url);

struct Locations {
  std::string primary = "nvram:";                        // `database url ROOT`
  std::map<FileType, std::string> storage;               // `database url TYPE ROOT`
  std::map<FileType, std::vector<std::string>> publish;  // `database url TYPE publish ROOT`
  // `... username U password P` after a `database url`, by its URL.
  std::map<std::string, Credentials> logins;
  Credentials default_login;  // `database username U password P`

  // The login for a location: its own, else `database username`.
  const Credentials& login_for(const std::string& url) const;
  bool operator==(const Locations&) const = default;
};

class FileSet {
 public:
  // `remote` and `queue` may be null: remote locations then fail with kUnavailable.
  FileSet(Locations locations, Resolver resolver, const RemoteFiles* remote = nullptr,
          PublishQueue* queue = nullptr)
      : locations_(std::move(locations)),
        resolver_(std::move(resolver)),
        remote_(remote),
        queue_(queue) {}

  // The storage URL used for a type: its override, else the primary location.
  const std::string& url_for(FileType type) const;
  bool is_remote(FileType type) const { return is_remote_url(url_for(type)); }
  // Local directory for a type; fails like the resolver (kInvalidArgument for remote URLs).
  Result<std::string> dir_for(FileType type) const;
  Result<std::string> path_for(FileType type, const std::string& name) const;
  // What store::open_store() opens as the main database `name` ("LABEL.ser"):
  // "sqlite:PATH" in a local location; for a database server, its URL with the login of
  // that URL (`username`, `password`) put back into it, percent-encoded. The result may
  // hold a password: show it only through redact_url().
  Result<std::string> database_url(const std::string& name) const;

  // Writes the file to its storage location (locally: atomically), then to every publish
  // location (a local one is created if missing; a remote one is queued). A failure to
  // store, or to publish locally, is returned: the caller treats it as critical, as IOS
  // does. A storage or publish directory that other users can write to (see
  // fs::check_private_dir) is refused with kPermissionDenied before anything is written
  // there.
  Status write(FileType type, const std::string& name, std::string_view data, int mode = 0644);
  Result<std::string> read(FileType type, const std::string& name) const;
  // Deletes the file at its storage location (a local file, or one on a server that can
  // delete: see RemoteFiles::remove); publish copies stay.
  Status remove(FileType type, const std::string& name);
  // Storage check at enable time: the directory exists (it is not created: a typo in
  // `database url` must not scatter files), a file can be created in it, and neither it
  // nor an existing publish directory of the type is writable by other users or owned by
  // another non-root user. kUnavailable with the reason otherwise, e.g.
  //   "Storage directory /x is writable by other users; fix its permissions (chmod go-w /x)"
  // A remote location is checked for a usable URL (a file server is not written to until
  // there is something to write); a remote .ser is refused. A database server is
  // accepted for .ser only (it is reached when the store opens).
  Status check_writable(FileType type) const;

  const Locations& locations() const { return locations_; }

 private:
  // Sends to a remote location: queued for .crt/.cnm, at once for the others.
  Status write_remote(FileType type, const std::string& location, const std::string& name,
                      std::string_view data);

  Locations locations_;
  Resolver resolver_;
  const RemoteFiles* remote_;
  PublishQueue* queue_;
};

}  // namespace scepter::files
