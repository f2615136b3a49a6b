#include "files/file_set.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "common/fs.h"
#include "common/parse.h"
#include "common/percent.h"

namespace scepter::files {

std::string_view type_keyword(FileType type) {
  switch (type) {
    case FileType::kSer:
      return "ser";
    case FileType::kCrl:
      return "crl";
    case FileType::kCrt:
      return "crt";
    case FileType::kCnm:
      return "cnm";
    case FileType::kP12:
      return "p12";
    case FileType::kPem:
      return "pem";
  }
  return "ser";
}

Result<FileType> parse_type(std::string_view keyword) {
  for (FileType t : {FileType::kSer, FileType::kCrl, FileType::kCrt, FileType::kCnm, FileType::kP12,
                     FileType::kPem}) {
    if (type_keyword(t) == keyword) return t;
  }
  return fail(invalid_argument("unknown file type " + std::string(keyword)));
}

std::string_view level_keyword(DbLevel level) {
  switch (level) {
    case DbLevel::kMinimal:
      return "minimal";
    case DbLevel::kNames:
      return "names";
    case DbLevel::kComplete:
      return "complete";
  }
  return "minimal";
}

bool is_database_server_url(std::string_view url) {
  const std::string scheme = ascii_lower(url.substr(0, url.find(':')));
  return url.find(':') != std::string_view::npos &&
         (scheme == "postgresql" || scheme == "postgres");
}

DatabaseUrl split_database_url(std::string_view url) {
  DatabaseUrl out{std::string(url), "", std::nullopt};
  const auto start = url.find("://");
  if (start == std::string_view::npos) return out;
  const auto host = start + 3;
  const auto at = url.substr(0, url.find_first_of("/?#", host)).rfind('@');
  if (at == std::string_view::npos || at < host) return out;
  const std::string_view info = url.substr(host, at - host);
  const auto colon = info.find(':');
  out.user = percent_decode(info.substr(0, colon));
  if (colon != std::string_view::npos) {
    out.password = percent_decode(info.substr(colon + 1));
    out.url = std::string(url.substr(0, host + colon)) + std::string(url.substr(at));
  }
  return out;
}

const Credentials& Locations::login_for(const std::string& url) const {
  auto it = logins.find(url);
  return it == logins.end() ? default_login : it->second;
}

const std::string& FileSet::url_for(FileType type) const {
  auto it = locations_.storage.find(type);
  return it == locations_.storage.end() ? locations_.primary : it->second;
}

Result<std::string> FileSet::dir_for(FileType type) const { return resolver_(url_for(type)); }

Result<std::string> FileSet::path_for(FileType type, const std::string& name) const {
  ASSIGN_OR_RETURN(std::string dir, dir_for(type));
  return dir + "/" + name;
}

Status FileSet::write_remote(FileType type, const std::string& location, const std::string& name,
                             std::string_view data) {
  if (type == FileType::kCrt || type == FileType::kCnm) {
    if (queue_ == nullptr) return unavailable("no publish queue for " + redact_url(location));
    return queue_->enqueue(location, name, data);
  }
  if (remote_ == nullptr) return unavailable("remote storage is not available here");
  return remote_->write(join_url(location, name), locations_.login_for(location), data);
}

Status FileSet::write(FileType type, const std::string& name, std::string_view data, int mode) {
  const std::string& url = url_for(type);
  if (is_remote_url(url)) {
    RETURN_IF_ERROR(write_remote(type, url, name, data));
  } else {
    ASSIGN_OR_RETURN(std::string dir, dir_for(type));
    // Checked on every write, not only at enable time: permissions can change while the
    // server runs, and a file written into a directory others control is theirs to swap.
    RETURN_IF_ERROR(fs::check_private_dir(dir, "Storage directory"));
    RETURN_IF_ERROR(fs::write_atomic(dir + "/" + name, data, mode));
  }
  auto it = locations_.publish.find(type);
  if (it == locations_.publish.end()) return ok_status();
  for (const std::string& url : it->second) {
    if (is_remote_url(url)) {
      // Published copies never hold issuing up: all of them go through the queue.
      if (queue_ == nullptr) return unavailable("no publish queue for " + redact_url(url));
      RETURN_IF_ERROR(queue_->enqueue(url, name, data));
      continue;
    }
    ASSIGN_OR_RETURN(std::string pub, resolver_(url));
    RETURN_IF_ERROR(fs::make_dirs(pub));
    RETURN_IF_ERROR(fs::check_private_dir(pub, "Publish directory"));
    RETURN_IF_ERROR(fs::write_atomic(pub + "/" + name, data, mode));
  }
  return ok_status();
}

Result<std::string> FileSet::read(FileType type, const std::string& name) const {
  if (const std::string& url = url_for(type); is_remote_url(url)) {
    if (remote_ == nullptr) return fail(unavailable("remote storage is not available here"));
    return remote_->read(join_url(url, name), locations_.login_for(url));
  }
  ASSIGN_OR_RETURN(std::string path, path_for(type, name));
  return fs::read_file(path);
}

Status FileSet::remove(FileType type, const std::string& name) {
  if (const std::string& url = url_for(type); is_remote_url(url)) {
    if (remote_ == nullptr) return fail(unavailable("remote storage is not available here"));
    return remote_->remove(join_url(url, name), locations_.login_for(url));
  }
  ASSIGN_OR_RETURN(std::string path, path_for(type, name));
  return fs::remove_file(path);
}

Result<std::string> FileSet::database_url(const std::string& name) const {
  const std::string& url = url_for(FileType::kSer);
  if (!is_database_server_url(url)) {
    ASSIGN_OR_RETURN(std::string path, path_for(FileType::kSer, name));
    return "sqlite:" + path;
  }
  // Only the URL's own login: `database username` is for file servers.
  auto login = locations_.logins.find(url);
  if (login == locations_.logins.end()) return url;
  const Credentials& c = login->second;
  const std::string secret = c.password.empty() ? "" : ":" + percent_encode(c.password);
  const auto start = url.find("://");
  if (start == std::string::npos) return url;
  const auto host = start + 3;
  const auto at = url.substr(0, url.find_first_of("/?#", host)).rfind('@');
  if (at != std::string::npos && at >= host) {
    return url.substr(0, at) + secret + url.substr(at);
  }
  if (c.username.empty()) return url;
  return url.substr(0, host) + percent_encode(c.username) + secret + "@" + url.substr(host);
}

Status FileSet::check_writable(FileType type) const {
  if (const std::string& url = url_for(type); is_database_server_url(url)) {
    if (type == FileType::kSer) return ok_status();
    return unavailable(fmt::format(
        "{} is a database server: only the main database can be there (database url ser {})",
        redact_url(url), redact_url(url)));
  }
  if (const std::string& url = url_for(type); is_remote_url(url)) {
    if (type == FileType::kSer) {
      return unavailable(fmt::format(
          "the main database (.ser) cannot be on {}: it is a local database file; enter "
          "\"database url ser nvram:\" (or a local directory) and copy it to the server for "
          "backups",
          redact_url(url)));
    }
    Status s = validate_remote_url(url, /*allow_password=*/false);
    if (!s.ok()) return unavailable(s.message());
    if (remote_ == nullptr) return unavailable("remote storage is not available here");
    return ok_status();
  }
  ASSIGN_OR_RETURN(std::string dir, dir_for(type));
  // A missing directory is an error, not something to create: a typo in `database url`
  // must not silently scatter the CA's files. Probe with a real file so that read-only
  // mounts are caught even when running as root. The probe gets a fresh random name
  // (O_EXCL): a fixed name could be a symlink planted by another user, and opening it
  // with O_TRUNC as root would truncate whatever it points at.
  std::string probe = dir + "/.scepter-probe.XXXXXX";
  int fd = ::mkostemp(probe.data(), O_CLOEXEC);
  if (fd < 0) {
    return unavailable("storage " + url_for(type) + " (" + dir +
                       ") is not accessible: " + std::strerror(errno));
  }
  ::close(fd);
  ::unlink(probe.c_str());
  Status shared = fs::check_private_dir(dir, "Storage directory");
  if (!shared.ok()) return unavailable(shared.message());
  auto it = locations_.publish.find(type);
  if (it == locations_.publish.end()) return ok_status();
  for (const std::string& url : it->second) {
    if (is_remote_url(url)) {
      if (Status s = validate_remote_url(url, false); !s.ok()) return unavailable(s.message());
      if (queue_ == nullptr) return unavailable("no publish queue for " + redact_url(url));
      continue;
    }
    auto pub = resolver_(url);
    // Publish directories are created on first use; only an existing one can be judged.
    if (!pub.has_value() || !fs::exists(*pub)) continue;
    shared = fs::check_private_dir(*pub, "Publish directory");
    if (!shared.ok()) return unavailable(shared.message());
  }
  return ok_status();
}

}  // namespace scepter::files
