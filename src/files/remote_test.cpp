// What can be checked without a server. Transfers against real tftp, ftp, http and ssh
// servers are in tests/integration/test_remote_files.py.
#include "files/remote.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/testing.h"

namespace scepter::files {
namespace {

TEST(RemoteUrl, SchemesThatAreRemote) {
  for (const char* url : {"tftp://h/x", "ftp://h/x", "http://h/x", "https://h/x", "sftp://h/x",
                          "scp://h/x", "rcp://h/x", "tftp:"}) {
    EXPECT_TRUE(is_remote_url(url)) << url;
  }
  for (const char* url : {"nvram:", "flash:x", "/var/lib/x", "file:///x", "ldap://h/x"}) {
    EXPECT_FALSE(is_remote_url(url)) << url;
  }
}

TEST(RemoteUrl, Validation) {
  EXPECT_OK(validate_remote_url("ftp://127.0.0.1:2121/ca", false));
  EXPECT_OK(validate_remote_url("http://[::1]:8080/ca/", false));
  EXPECT_OK(validate_remote_url("sftp://user@host/ca", false));
  EXPECT_OK(validate_remote_url("ftp://user:secret@host/ca", true));
  EXPECT_CODE(validate_remote_url("ftp://user:secret@host/ca", false), Code::kInvalidArgument);
  EXPECT_CODE(validate_remote_url("rcp://host/ca", true), Code::kInvalidArgument);
  EXPECT_CODE(validate_remote_url("tftp:", true), Code::kInvalidArgument);
  EXPECT_CODE(validate_remote_url("ftp://", true), Code::kInvalidArgument);
  EXPECT_CODE(validate_remote_url("http://h/x?y=1", true), Code::kInvalidArgument);
  EXPECT_CODE(validate_remote_url("ftp://h/x%0d%0aDELE%20y", true), Code::kInvalidArgument);
  Status s = validate_remote_url("ftp://u:topsecret@h/ca", false);
  EXPECT_EQ(s.message().find("topsecret"), std::string::npos) << s.message();
}

TEST(RemoteUrl, JoinAndRedact) {
  EXPECT_EQ(join_url("ftp://h/dir/", "mycs.crl"), "ftp://h/dir/mycs.crl");
  EXPECT_EQ(join_url("ftp://h/dir", "a b.cer"), "ftp://h/dir/a%20b.cer");
  EXPECT_EQ(redact_url("ftp://u:pw@h/x"), "ftp://u:***@h/x");
  EXPECT_EQ(redact_url("ftp://u@h/x"), "ftp://u@h/x");
  EXPECT_EQ(redact_url("http://h/x@y"), "http://h/x@y");
}

// A port on 127.0.0.1 with nothing listening: bound, never listened on, then closed.
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(RemoteFiles, AServerThatIsNotThereIsUnavailableWithTheReason) {
  RemoteFiles remote;
  const std::string url = "ftp://127.0.0.1:" + std::to_string(closed_port()) + "/x.crl";
  Status s = remote.write(url, {"u", "secret"}, "data");
  EXPECT_CODE(s, Code::kUnavailable);
  EXPECT_NE(s.message().find("cannot write ftp://127.0.0.1"), std::string::npos) << s.message();
  EXPECT_CODE(remote.read(url, {}), Code::kUnavailable);
}

TEST(RemoteFiles, SshNeedsAKnownHostsFile) {
  RemoteFiles remote;
  EXPECT_CODE(remote.read("sftp://127.0.0.1/x", {"u", "p"}), Code::kInvalidArgument);
}

}  // namespace
}  // namespace scepter::files
