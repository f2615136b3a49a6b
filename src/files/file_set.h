#pragma once
// The certificate server's file set, as the IOS guide describes it: which file type is
// stored where (a primary location, per-type overrides) and where copies are published.
//
//   .ser  main database            .crl  current CRL (DER)
//   .crt  issued certificates      .cnm  certificate name and expiration
//   .p12 / .pem  CA key + certificate archive
//
// Locations are IOS URLs ("nvram:", "flash:certs", "/var/lib/x"); a Resolver supplied
// by the device turns them into local directories. Remote schemes come later: today the
// resolver refuses them. Thread-safe once constructed (read-only configuration).

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace scepter::files {

enum class FileType { kSer, kCrl, kCrt, kCnm, kP12, kPem };
std::string_view type_keyword(FileType type);  // "ser", "crl", "crt", "cnm", "p12", "pem"
Result<FileType> parse_type(std::string_view keyword);

// `database level`: what is written besides what is needed to go on issuing.
enum class DbLevel { kMinimal, kNames, kComplete };
std::string_view level_keyword(DbLevel level);  // "minimal", "names", "complete"

using Resolver = std::function<Result<std::string>(std::string_view url)>;

struct Locations {
  std::string primary = "nvram:";                        // `database url ROOT`
  std::map<FileType, std::string> storage;               // `database url TYPE ROOT`
  std::map<FileType, std::vector<std::string>> publish;  // `database url TYPE publish ROOT`
};

class FileSet {
 public:
  FileSet(Locations locations, Resolver resolver)
      : locations_(std::move(locations)), resolver_(std::move(resolver)) {}

  // The storage URL used for a type: its override, else the primary location.
  const std::string& url_for(FileType type) const;
  // Local directory for a type; fails like the resolver (kInvalidArgument for remote URLs).
  Result<std::string> dir_for(FileType type) const;
  Result<std::string> path_for(FileType type, const std::string& name) const;

  // Writes the file atomically to its storage location, then to every publish location
  // (created if missing). Any failure is returned: the caller treats it as critical, as
  // IOS does. A storage or publish directory that other users can write to (see
  // fs::check_private_dir) is refused with kPermissionDenied before anything is written
  // there.
  Status write(FileType type, const std::string& name, std::string_view data, int mode = 0644);
  Result<std::string> read(FileType type, const std::string& name) const;
  Status remove(FileType type, const std::string& name);
  // Storage check at enable time: the directory exists (it is not created: a typo in
  // `database url` must not scatter files), a file can be created in it, and neither it
  // nor an existing publish directory of the type is writable by other users or owned by
  // another non-root user. kUnavailable with the reason otherwise, e.g.
  //   "Storage directory /x is writable by other users; fix its permissions (chmod go-w /x)"
  Status check_writable(FileType type) const;

  const Locations& locations() const { return locations_; }

 private:
  Locations locations_;
  Resolver resolver_;
};

}  // namespace scepter::files
