#include "files/remote.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "common/fs.h"
#include "files/curl_util.h"

namespace scepter::files {
namespace {

constexpr std::array<std::string_view, 6> kSchemes = {"tftp",  "ftp",  "http",
                                                      "https", "sftp", "scp"};

std::string_view scheme_of(std::string_view url) {
  auto colon = url.find(':');
  return colon == std::string_view::npos ? std::string_view{} : url.substr(0, colon);
}

bool is_ssh(std::string_view scheme) { return scheme == "sftp" || scheme == "scp"; }

std::optional<std::string> url_part(CURLU* url, CURLUPart part, unsigned flags = 0) {
  char* raw = nullptr;
  if (curl_url_get(url, part, &raw, flags) != CURLUE_OK || raw == nullptr) return std::nullopt;
  CurlPtr<char> owned(raw);
  return std::string(raw);
}

// Where a transfer reads from or writes to: memory or an open file.
struct Stream {
  std::string* memory = nullptr;  // download into / upload from (with `offset`)
  std::string_view upload;
  std::size_t offset = 0;
  std::FILE* file = nullptr;
  std::uint64_t bytes = 0;
  std::uint64_t limit = 0;
  bool too_large = false;
  const std::atomic<bool>* cancel = nullptr;
};

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* s = static_cast<const Stream*>(user);
  return s->cancel != nullptr && s->cancel->load() ? 1 : 0;
}

std::size_t on_download(char* data, std::size_t size, std::size_t n, void* user) {
  auto* s = static_cast<Stream*>(user);
  const std::size_t len = size * n;
  if (s->bytes + len > s->limit) {
    s->too_large = true;
    return 0;
  }
  if (s->file != nullptr) {
    if (std::fwrite(data, 1, len, s->file) != len) return 0;
  } else {
    s->memory->append(data, len);
  }
  s->bytes += len;
  return len;
}

std::size_t on_upload(char* buffer, std::size_t size, std::size_t n, void* user) {
  auto* s = static_cast<Stream*>(user);
  const std::size_t room = size * n;
  std::size_t len = 0;
  if (s->file != nullptr) {
    len = std::fread(buffer, 1, room, s->file);
    if (len == 0 && std::ferror(s->file)) return CURL_READFUNC_ABORT;
  } else {
    len = std::min(room, s->upload.size() - s->offset);
    std::memcpy(buffer, s->upload.data() + s->offset, len);
    s->offset += len;
  }
  s->bytes += len;
  return len;
}

enum class Direction { kRead, kWrite, kDelete };

Status transfer_error(Direction dir, const std::string& url, Code code, std::string_view why) {
  constexpr std::string_view kVerb[] = {"read", "write", "delete"};
  return Status(
      code, fmt::format("cannot {} {}: {}", kVerb[static_cast<int>(dir)], redact_url(url), why));
}

// Appends `cmd` to a curl command list.
Status append_command(CurlPtr<curl_slist>& list, const std::string& cmd) {
  curl_slist* grown = curl_slist_append(list.get(), cmd.c_str());
  if (grown == nullptr) return internal_error("curl_slist_append failed");
  (void)list.release();
  list.reset(grown);
  return ok_status();
}

// The command that deletes the file of `url` after the connection is made: ftp deletes
// by its name in the URL's directory (where curl has changed to), sftp by its path
// ("/~/x" is x in the login's home); http asks DELETE of the URL itself.
Result<std::string> delete_command(std::string_view scheme, const std::string& url) {
  CurlPtr<CURLU> parsed(curl_url());
  curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0);
  const std::string path = url_part(parsed.get(), CURLUPART_PATH, CURLU_URLDECODE).value_or("");
  const std::string base = path.substr(path.rfind('/') + 1);
  if (base.empty()) {
    return fail(transfer_error(Direction::kDelete, url, Code::kInvalidArgument, "no file name"));
  }
  if (scheme == "ftp") return "DELE " + base;
  // sftp quote commands take a quoted path; validate_remote_url refused control
  // characters, and a quote could end the argument.
  if (path.find('"') != std::string::npos) {
    return fail(transfer_error(Direction::kDelete, url, Code::kInvalidArgument,
                               "a '\"' in the path cannot be sent to the sftp server"));
  }
  const std::string where = path.rfind("/~/", 0) == 0 ? path.substr(3) : path;
  return "rm \"" + where + "\"";
}

// One transfer of `stream` to or from `url`.
Status perform(const TransferOptions& options, Direction dir, const std::string& url,
               const Credentials& login, Stream& stream, std::uint64_t upload_size) {
  RETURN_IF_ERROR(validate_remote_url(url, /*allow_password=*/true));
  const std::string_view scheme = scheme_of(url);
  if (is_ssh(scheme) && options.ssh_known_hosts.empty()) {
    return transfer_error(dir, url, Code::kInvalidArgument, "no known_hosts file is configured");
  }
  init_curl();
  CurlPtr<CURL> curl(curl_easy_init());
  if (!curl) return internal_error("curl_easy_init failed");
  CURL* h = curl.get();
  char error[CURL_ERROR_SIZE] = {};

  // Over ftp a write goes to a temporary name in the same directory, renamed when it is
  // complete (vsftpd and most servers rename over an existing file).
  std::string target = url;
  CurlPtr<curl_slist> post_quote;
  if (dir == Direction::kWrite && scheme == "ftp") {
    CurlPtr<CURLU> parsed(curl_url());
    curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0);
    const std::string path = url_part(parsed.get(), CURLUPART_PATH).value_or("/");
    const std::string name = url_part(parsed.get(), CURLUPART_PATH, CURLU_URLDECODE).value_or("");
    const std::string base = name.substr(name.rfind('/') + 1);
    if (base.empty()) return transfer_error(dir, url, Code::kInvalidArgument, "no file name");
    const std::string temp = "." + base + ".part";
    // The path as given (still percent-encoded), with the temporary name for its last part.
    const std::size_t slash = path.rfind('/');
    const std::string temp_path =
        path.substr(0, slash + 1) + "." + path.substr(slash + 1) + ".part";
    curl_url_set(parsed.get(), CURLUPART_PATH, temp_path.c_str(), 0);
    target = url_part(parsed.get(), CURLUPART_URL).value_or(url);
    for (const std::string& cmd : {"RNFR " + temp, "RNTO " + base}) {
      RETURN_IF_ERROR(append_command(post_quote, cmd));
    }
    curl_easy_setopt(h, CURLOPT_POSTQUOTE, post_quote.get());
  }
  if (dir == Direction::kDelete) {
    if (scheme == "tftp" || scheme == "scp") {
      return transfer_error(dir, url, Code::kInvalidArgument,
                            fmt::format("{} cannot delete files{}", scheme,
                                        scheme == "scp" ? "; use sftp:// for this server" : ""));
    }
    // No transfer: ftp and sftp send the command once connected, http asks DELETE.
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (scheme == "http" || scheme == "https") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
      ASSIGN_OR_RETURN(std::string cmd, delete_command(scheme, url));
      RETURN_IF_ERROR(append_command(post_quote, cmd));
      curl_easy_setopt(h, CURLOPT_POSTQUOTE, post_quote.get());
    }
  }

  curl_easy_setopt(h, CURLOPT_URL, target.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "tftp,ftp,http,https,sftp,scp");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_PROXY, "");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options.total_timeout.count()));
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  if (stream.cancel != nullptr) {
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &stream);
  }
  if (!login.username.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, login.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, login.password.c_str());
  }
  if (scheme == "http" || scheme == "https") {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(h, CURLOPT_FAILONERROR, 0L);
  }
  const bool own_cas = scheme == "https" && !options.https_ca_file.empty() &&
                       ::access(options.https_ca_file.c_str(), F_OK) == 0;
  if (own_cas) {
    curl_easy_setopt(h, CURLOPT_CAINFO, options.https_ca_file.c_str());
    curl_easy_setopt(h, CURLOPT_CAPATH, nullptr);
  }
  if (scheme == "ftp" || scheme == "sftp") {
    curl_easy_setopt(h, CURLOPT_FTP_CREATE_MISSING_DIRS, static_cast<long>(CURLFTP_CREATE_DIR));
  }
  if (is_ssh(scheme)) {
    // No key callback: libcurl then accepts only a host whose key is in the file.
    curl_easy_setopt(h, CURLOPT_SSH_KNOWNHOSTS, options.ssh_known_hosts.c_str());
    curl_easy_setopt(h, CURLOPT_SSH_AUTH_TYPES,
                     static_cast<long>(CURLSSH_AUTH_PASSWORD | CURLSSH_AUTH_KEYBOARD));
    curl_easy_setopt(h, CURLOPT_NEW_FILE_PERMS, 0644L);
  }
  if (dir == Direction::kDelete) {
    // Nothing moves.
  } else if (dir == Direction::kWrite) {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
    curl_easy_setopt(h, CURLOPT_READDATA, &stream);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(upload_size));
  } else {
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_download);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &stream);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(stream.limit));
  }

  const CURLcode rc = curl_easy_perform(h);
  const std::string why = *error != '\0' ? error : curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_OK:
      break;
    case CURLE_FILESIZE_EXCEEDED:
      return transfer_error(dir, url, Code::kInvalidArgument,
                            fmt::format("the file is larger than {} bytes", stream.limit));
    case CURLE_WRITE_ERROR:
      if (stream.too_large) {
        return transfer_error(dir, url, Code::kInvalidArgument,
                              fmt::format("the file is larger than {} bytes", stream.limit));
      }
      return transfer_error(dir, url, Code::kUnavailable, why);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return transfer_error(dir, url, Code::kInvalidArgument, why);
    case CURLE_LOGIN_DENIED:
      return transfer_error(dir, url, Code::kPermissionDenied, "login denied");
    case CURLE_REMOTE_ACCESS_DENIED:
    case CURLE_TFTP_PERM:
      return transfer_error(dir, url, Code::kPermissionDenied, why);
    case CURLE_REMOTE_FILE_NOT_FOUND:
    case CURLE_TFTP_NOTFOUND:
      return transfer_error(dir, url, Code::kNotFound, "no such file");
    case CURLE_PEER_FAILED_VERIFICATION:
      if (is_ssh(scheme)) {
        return transfer_error(
            dir, url, Code::kPermissionDenied,
            fmt::format("the server's host key is not the one in {} ({}); add it with "
                        "ssh-keyscan if the server is the right one",
                        options.ssh_known_hosts, why));
      }
      if (!options.https_ca_file.empty()) {
        return transfer_error(
            dir, url, Code::kPermissionDenied,
            own_cas ? fmt::format("the server's certificate is not trusted by the CAs in {} ({})",
                                  options.https_ca_file, why)
                    : fmt::format("the server's certificate is not trusted by the system's CAs "
                                  "({}); a private CA's certificate goes in {}",
                                  why, options.https_ca_file));
      }
      return transfer_error(dir, url, Code::kPermissionDenied, why);
    case CURLE_QUOTE_ERROR:
      // The server refused the delete command; an sftp server says why in words.
      if (dir == Direction::kDelete &&
          (why.find("550") != std::string::npos || why.find("No such file") != std::string::npos)) {
        return transfer_error(dir, url, Code::kNotFound, "no such file");
      }
      return transfer_error(dir, url, Code::kPermissionDenied, why);
    case CURLE_REMOTE_DISK_FULL:
      return transfer_error(dir, url, Code::kUnavailable, "the server's disk is full");
    default:
      return transfer_error(dir, url, Code::kUnavailable, why);
  }
  if (scheme == "http" || scheme == "https") {
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status == 401 || status == 403) {
      return transfer_error(dir, url, Code::kPermissionDenied,
                            fmt::format("HTTP {} (login or permission refused)", status));
    }
    if (status == 404 && dir != Direction::kWrite) {
      return transfer_error(dir, url, Code::kNotFound, "no such file (HTTP 404)");
    }
    if (status == 507) {
      return transfer_error(dir, url, Code::kUnavailable, "the server's disk is full (HTTP 507)");
    }
    if (status < 200 || status >= 300) {
      return transfer_error(dir, url, Code::kUnavailable, fmt::format("HTTP {}", status));
    }
  }
  return ok_status();
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

bool is_remote_url(std::string_view url) {
  const std::string_view scheme = scheme_of(url);
  return scheme == "rcp" || std::find(kSchemes.begin(), kSchemes.end(), scheme) != kSchemes.end();
}

Status validate_remote_url(std::string_view url, bool allow_password) {
  auto bad = [&](std::string_view why) {
    return invalid_argument(fmt::format("{} is not a usable URL: {}", redact_url(url), why));
  };
  const std::string_view scheme = scheme_of(url);
  if (scheme == "rcp") return invalid_argument("rcp: is not supported; use scp: or sftp:");
  if (std::find(kSchemes.begin(), kSchemes.end(), scheme) == kSchemes.end()) {
    return bad("the scheme must be tftp, ftp, http, https, sftp or scp");
  }
  if (url.substr(scheme.size(), 3) != "://") return bad("expected " + std::string(scheme) + "://");
  init_curl();
  CurlPtr<CURLU> parsed(curl_url());
  if (!parsed) return internal_error("curl_url failed");
  const std::string text(url);
  if (CURLUcode rc = curl_url_set(parsed.get(), CURLUPART_URL, text.c_str(), 0); rc != CURLUE_OK) {
    return bad(curl_url_strerror(rc));
  }
  if (url_part(parsed.get(), CURLUPART_HOST).value_or("").empty()) return bad("no host");
  if (url_part(parsed.get(), CURLUPART_QUERY) || url_part(parsed.get(), CURLUPART_FRAGMENT)) {
    return bad("a file URL has no query or fragment");
  }
  if (!allow_password && url_part(parsed.get(), CURLUPART_PASSWORD)) {
    return bad(
        "give the password with \"password\", not in the URL, so that it is not shown "
        "in clear");
  }
  // A decoded control character (say %0d%0a) would become part of an FTP command; libcurl
  // refuses to decode one.
  const auto path = url_part(parsed.get(), CURLUPART_PATH, CURLU_URLDECODE);
  if (!path.has_value()) return bad("control character in the path");
  for (unsigned char c : *path) {
    if (c < 0x20 || c == 0x7f) return bad("control character in the path");
  }
  return ok_status();
}

std::string join_url(std::string_view dir_url, std::string_view name) {
  while (!dir_url.empty() && dir_url.back() == '/') dir_url.remove_suffix(1);
  init_curl();
  CurlPtr<char> escaped(curl_easy_escape(nullptr, name.data(), static_cast<int>(name.size())));
  return std::string(dir_url) + "/" + (escaped ? escaped.get() : std::string(name));
}

Result<std::string> RemoteFiles::read(const std::string& url, const Credentials& login) const {
  std::string out;
  Stream stream;
  stream.memory = &out;
  stream.limit = options_.max_download_bytes;
  RETURN_IF_ERROR(perform(options_, Direction::kRead, url, login, stream, 0));
  return out;
}

Status RemoteFiles::write(const std::string& url, const Credentials& login, std::string_view data,
                          const std::atomic<bool>* cancel) const {
  Stream stream;
  stream.upload = data;
  stream.cancel = cancel;
  return perform(options_, Direction::kWrite, url, login, stream, data.size());
}

Status RemoteFiles::remove(const std::string& url, const Credentials& login) const {
  Stream stream;
  return perform(options_, Direction::kDelete, url, login, stream, 0);
}

Result<std::uint64_t> RemoteFiles::download(const std::string& url, const Credentials& login,
                                            const std::string& local_path) const {
  std::string temp = local_path + ".XXXXXX";
  int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) {
    return fail(unavailable(fmt::format("cannot create {}: {}", temp, std::strerror(errno))));
  }
  std::unique_ptr<std::FILE, FileCloser> file(::fdopen(fd, "wb"));
  if (!file) {
    ::close(fd);
    ::unlink(temp.c_str());
    return fail(internal_error("fdopen failed"));
  }
  Stream stream;
  stream.file = file.get();
  stream.limit = options_.max_download_bytes;
  Status s = perform(options_, Direction::kRead, url, login, stream, 0);
  if (s.ok() && (std::fflush(file.get()) != 0 || ::fsync(fd) != 0)) {
    s = unavailable(fmt::format("cannot write {}: {}", local_path, std::strerror(errno)));
  }
  file.reset();
  if (s.ok() && ::rename(temp.c_str(), local_path.c_str()) != 0) {
    s = unavailable(fmt::format("cannot write {}: {}", local_path, std::strerror(errno)));
  }
  if (!s.ok()) {
    ::unlink(temp.c_str());
    return fail(s);
  }
  const auto slash = local_path.rfind('/');
  RETURN_IF_ERROR(fs::fsync_dir(slash == std::string::npos ? "." : local_path.substr(0, slash)));
  return stream.bytes;
}

Result<std::uint64_t> RemoteFiles::upload(const std::string& local_path, const std::string& url,
                                          const Credentials& login) const {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(local_path.c_str(), "rbe"));
  if (!file) {
    return fail(unavailable(fmt::format("cannot read {}: {}", local_path, std::strerror(errno))));
  }
  struct stat st {};
  if (::fstat(::fileno(file.get()), &st) != 0) {
    return fail(unavailable(fmt::format("cannot read {}: {}", local_path, std::strerror(errno))));
  }
  Stream stream;
  stream.file = file.get();
  RETURN_IF_ERROR(perform(options_, Direction::kWrite, url, login, stream,
                          static_cast<std::uint64_t>(st.st_size)));
  return stream.bytes;
}

}  // namespace scepter::files
