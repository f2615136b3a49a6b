#include "common/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace scepter::fs {
namespace {

// Longest part of the target's name kept in a temporary's name, so that
// ".<name>.XXXXXX" stays under NAME_MAX.
constexpr std::size_t kMaxTempStem = 200;

Status errno_status(const std::string& what, const std::string& path, int e = errno) {
  std::string msg = fmt::format("{} {}: {}", what, path, std::strerror(e));
  if (e == ENOENT) return not_found(msg);
  if (e == EACCES || e == EPERM || e == EROFS) return permission_denied(msg);
  return unavailable(msg);
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string name_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports the result (a delayed write error can show up here).
  int close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Status write_all(int fd, std::string_view data, const std::string& name) {
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("cannot write", name);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return ok_status();
}

// Everything after the temporary exists; the caller unlinks it when this fails.
Status fill_and_replace(Fd& fd, const std::string& tmp, const std::string& path,
                        std::string_view data, int mode) {
  // The bits are set before the first byte goes in, so a secret is never readable by
  // others, whatever the umask.
  if (::fchmod(fd.get(), static_cast<mode_t>(mode & 07777)) != 0) {
    return errno_status("cannot set permissions of", tmp);
  }
  RETURN_IF_ERROR(write_all(fd.get(), data, tmp));
  if (::fsync(fd.get()) != 0) return errno_status("cannot sync", tmp);
  if (fd.close() != 0) return errno_status("cannot close", tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return errno_status("cannot rename to", path);
  return ok_status();
}

}  // namespace

Status fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status("cannot open directory", dir);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return errno_status("cannot sync directory", dir);
  return ok_status();
}

Status write_atomic(const std::string& path, std::string_view data, int mode) {
  const std::string dir = dir_of(path);
  // mkostemp opens with O_CREAT|O_EXCL (never through a symlink, never an existing file)
  // and a random suffix, retrying on collisions: nobody can prepare the name for us.
  std::string tmp = fmt::format("{}/.{}.XXXXXX", dir, name_of(path).substr(0, kMaxTempStem));
  Fd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (fd.get() < 0) return errno_status("cannot create a temporary file in", dir);
  Status s = fill_and_replace(fd, tmp, path, data, mode);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  return fsync_dir(dir);
}

Status restrict_mode(const std::string& path, int mode) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) return errno_status("cannot open", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_status("cannot examine", path);
  if (!S_ISREG(st.st_mode)) return unavailable(fmt::format("{} is not a regular file", path));
  const mode_t wanted = st.st_mode & 07777 & static_cast<mode_t>(mode);
  if (wanted != (st.st_mode & 07777) && ::fchmod(fd.get(), wanted) != 0) {
    return errno_status("cannot change permissions of", path);
  }
  return ok_status();
}

Result<std::string> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return fail(errno_status("cannot open", path));
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = errno_status("cannot read", path);
      ::close(fd);
      return fail(s);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Status make_dirs(const std::string& path) {
  if (path.empty()) return ok_status();
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST) {
      return errno_status("cannot create directory", cur);
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return unavailable(fmt::format("{} is not a directory", path));
  }
  return ok_status();
}

Status remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_status("cannot remove", path);
  return ok_status();
}

Status check_private_dir(const std::string& dir, std::string_view what) {
  std::unique_ptr<char, decltype(&std::free)> real(::realpath(dir.c_str(), nullptr), &std::free);
  if (!real) return errno_status(fmt::format("cannot examine {}", what), dir);
  const uid_t me = ::geteuid();
  std::string cur = real.get();
  while (true) {
    struct stat st {};
    if (::lstat(cur.c_str(), &st) != 0)
      return errno_status(fmt::format("cannot examine {}", what), cur);
    const bool self = cur == real.get();
    if (self && !S_ISDIR(st.st_mode)) {
      return unavailable(fmt::format("{} {} is not a directory", what, dir));
    }
    const std::string subject = self ? fmt::format("{} {}", what, dir)
                                     : fmt::format("{} {}: its parent {}", what, dir, cur);
    const bool shared = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0;
    if (shared) {
      return permission_denied(fmt::format(
          "{} is writable by other users; fix its permissions (chmod go-w {})", subject, cur));
    }
    if (st.st_uid != 0 && st.st_uid != me) {
      return permission_denied(
          fmt::format("{} is owned by another user (uid {}); fix its owner (chown {} {})", subject,
                      st.st_uid, me, cur));
    }
    if (cur == "/") break;
    cur = dir_of(cur);
  }
  return ok_status();
}

}  // namespace scepter::fs
