#include "files/file_set.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "common/fs.h"
#include "common/testing.h"

namespace scepter::files {
namespace {

struct Dirs {
  std::string root;
  Resolver resolver() const {
    std::string r = root;
    return [r](std::string_view url) -> Result<std::string> {
      if (url.starts_with("nvram:")) return r + "/nvram" + std::string(url.substr(6));
      if (url.starts_with("/")) return std::string(url);
      return fail(invalid_argument("remote"));
    };
  }
};

Dirs make_dirs() {
  char tmpl[] = "/tmp/scepter-files-XXXXXX";
  Dirs d{::mkdtemp(tmpl)};
  EXPECT_OK(fs::make_dirs(d.root + "/nvram"));
  return d;
}

TEST(FileSet, PerTypeOverrideBeatsPrimary) {
  Dirs d = make_dirs();
  Locations loc;
  loc.primary = d.root + "/primary";
  ASSERT_OK(fs::make_dirs(loc.primary));
  loc.storage[FileType::kSer] = "nvram:";
  FileSet fs_set(loc, d.resolver());
  EXPECT_EQ(fs_set.url_for(FileType::kSer), "nvram:");
  EXPECT_EQ(fs_set.url_for(FileType::kCrl), d.root + "/primary");
  ASSERT_OK(fs_set.check_writable(FileType::kCrl));
  ASSERT_OK(fs_set.write(FileType::kCrl, "ca.crl", "crl-bytes"));
  EXPECT_EQ(*fs::read_file(d.root + "/primary/ca.crl"), "crl-bytes");
}

TEST(FileSet, PublishCopiesToEveryLocation) {
  Dirs d = make_dirs();
  Locations loc;
  loc.publish[FileType::kCrl] = {d.root + "/pub1", d.root + "/pub2"};
  FileSet fs_set(loc, d.resolver());
  ASSERT_OK(fs_set.write(FileType::kCrl, "ca.crl", "x"));
  EXPECT_EQ(*fs::read_file(d.root + "/nvram/ca.crl"), "x");
  EXPECT_EQ(*fs::read_file(d.root + "/pub1/ca.crl"), "x");
  EXPECT_EQ(*fs::read_file(d.root + "/pub2/ca.crl"), "x");
}

TEST(FileSet, ARemoteUrlNeedsTransfers) {
  Dirs d = make_dirs();
  Locations loc;
  loc.primary = "tftp://10.0.0.1/";
  FileSet fs_set(loc, d.resolver());
  EXPECT_CODE(fs_set.write(FileType::kCrl, "a", "b"), Code::kUnavailable);
  EXPECT_CODE(fs_set.read(FileType::kCrl, "a"), Code::kUnavailable);
  EXPECT_CODE(fs_set.check_writable(FileType::kCrl), Code::kUnavailable);
}

TEST(FileSet, MissingDirectoryFailsCheck) {
  Dirs d = make_dirs();
  Locations loc;
  loc.primary = d.root + "/missing";
  FileSet fs_set(loc, d.resolver());
  EXPECT_CODE(fs_set.check_writable(FileType::kSer), Code::kUnavailable);
  EXPECT_FALSE(fs::exists(d.root + "/missing"));
}

TEST(FileSet, PathThroughAFileFailsCheck) {
  // Root can write into any directory, so "unwritable" is simulated by a path whose
  // parent is a regular file.
  Dirs d = make_dirs();
  ASSERT_OK(fs::write_atomic(d.root + "/plain", "x"));
  Locations loc;
  loc.primary = d.root + "/plain/sub";
  FileSet fs_set(loc, d.resolver());
  EXPECT_CODE(fs_set.check_writable(FileType::kSer), Code::kUnavailable);
}

TEST(FileSet, WorldWritableStorageIsRefused) {
  Dirs d = make_dirs();
  Locations loc;
  loc.primary = d.root + "/shared";
  ASSERT_OK(fs::make_dirs(loc.primary));
  ASSERT_EQ(::chmod(loc.primary.c_str(), 0777), 0);
  FileSet fs_set(loc, d.resolver());
  Status s = fs_set.check_writable(FileType::kSer);
  EXPECT_CODE(s, Code::kUnavailable);
  EXPECT_EQ(s.message(), "Storage directory " + loc.primary +
                             " is writable by other users; fix its permissions (chmod go-w " +
                             loc.primary + ")");
  EXPECT_CODE(fs_set.write(FileType::kCrl, "ca.crl", "x"), Code::kPermissionDenied);
  EXPECT_FALSE(fs::exists(loc.primary + "/ca.crl"));
  // Fixed permissions make it usable again.
  ASSERT_EQ(::chmod(loc.primary.c_str(), 0755), 0);
  ASSERT_OK(fs_set.check_writable(FileType::kSer));
  ASSERT_OK(fs_set.write(FileType::kCrl, "ca.crl", "x"));
}

TEST(FileSet, GroupWritableStorageIsRefusedStickyIsNot) {
  Dirs d = make_dirs();
  Locations loc;
  loc.primary = d.root + "/group";
  ASSERT_OK(fs::make_dirs(loc.primary));
  ASSERT_EQ(::chmod(loc.primary.c_str(), 0770), 0);
  FileSet fs_set(loc, d.resolver());
  EXPECT_CODE(fs_set.check_writable(FileType::kSer), Code::kUnavailable);
  // With the sticky bit (as /tmp) others cannot rename or delete our files.
  ASSERT_EQ(::chmod(loc.primary.c_str(), 01777), 0);
  ASSERT_OK(fs_set.check_writable(FileType::kSer));
}

TEST(FileSet, WritableParentIsRefused) {
  Dirs d = make_dirs();
  const std::string parent = d.root + "/open";
  Locations loc;
  loc.primary = parent + "/store";
  ASSERT_OK(fs::make_dirs(loc.primary));
  ASSERT_EQ(::chmod(parent.c_str(), 0777), 0);
  FileSet fs_set(loc, d.resolver());
  Status s = fs_set.check_writable(FileType::kSer);
  EXPECT_CODE(s, Code::kUnavailable);
  EXPECT_NE(s.message().find("its parent " + parent + " is writable by other users"),
            std::string::npos)
      << s.message();
}

TEST(FileSet, WorldWritablePublishDirectoryIsRefused) {
  Dirs d = make_dirs();
  Locations loc;
  const std::string pub = d.root + "/pub";
  loc.publish[FileType::kCrl] = {pub};
  ASSERT_OK(fs::make_dirs(pub));
  ASSERT_EQ(::chmod(pub.c_str(), 0777), 0);
  FileSet fs_set(loc, d.resolver());
  Status s = fs_set.check_writable(FileType::kCrl);
  EXPECT_CODE(s, Code::kUnavailable);
  EXPECT_NE(s.message().find("Publish directory " + pub + " is writable by other users"),
            std::string::npos)
      << s.message();
  EXPECT_CODE(fs_set.write(FileType::kCrl, "ca.crl", "x"), Code::kPermissionDenied);
  EXPECT_FALSE(fs::exists(pub + "/ca.crl"));
}

TEST(FileSet, DirectoryOfAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a directory away";
  Dirs d = make_dirs();
  Locations loc;
  loc.primary = d.root + "/theirs";
  ASSERT_OK(fs::make_dirs(loc.primary));
  ASSERT_EQ(::chown(loc.primary.c_str(), 54321, 54321), 0);
  FileSet fs_set(loc, d.resolver());
  Status s = fs_set.check_writable(FileType::kSer);
  EXPECT_CODE(s, Code::kUnavailable);
  EXPECT_NE(s.message().find("is owned by another user (uid 54321)"), std::string::npos)
      << s.message();
}

TEST(FileSet, ProbeDoesNotFollowAPlantedSymlink) {
  Dirs d = make_dirs();
  const std::string victim = d.root + "/victim";
  ASSERT_OK(fs::write_atomic(victim, "precious"));
  ASSERT_EQ(::symlink(victim.c_str(), (d.root + "/nvram/.scepter-probe").c_str()), 0);
  FileSet fs_set(Locations{}, d.resolver());
  ASSERT_OK(fs_set.check_writable(FileType::kSer));
  EXPECT_EQ(*fs::read_file(victim), "precious");
}

TEST(FileSet, TypeKeywordsRoundTrip) {
  for (auto k : {"ser", "crl", "crt", "cnm", "p12", "pem"}) {
    auto t = parse_type(k);
    ASSERT_OK(t);
    EXPECT_EQ(type_keyword(*t), k);
  }
  EXPECT_CODE(parse_type("exe"), Code::kInvalidArgument);
}

}  // namespace
}  // namespace scepter::files

namespace scepter::files {
namespace {

TEST(FileSetRemote, AMainDatabaseOnAFileServerIsRefusedWithTheWayOut) {
  Dirs d = make_dirs();
  Locations loc;
  loc.primary = "ftp://127.0.0.1/ca";
  RemoteFiles remote;
  FileSet set(loc, d.resolver(), &remote);
  Status s = set.check_writable(FileType::kSer);
  EXPECT_CODE(s, Code::kUnavailable);
  EXPECT_NE(s.message().find("database url ser nvram:"), std::string::npos) << s.message();
  EXPECT_OK(set.check_writable(FileType::kCrl));
  loc.storage[FileType::kSer] = "nvram:";
  EXPECT_OK(FileSet(loc, d.resolver(), &remote).check_writable(FileType::kSer));
}

TEST(FileSetDatabaseServer, TheUrlIsSplitFromItsPassword) {
  EXPECT_TRUE(is_database_server_url("postgresql://ca@db/scepter"));
  EXPECT_TRUE(is_database_server_url("POSTGRES://db"));
  EXPECT_FALSE(is_database_server_url("nvram:"));
  EXPECT_FALSE(is_database_server_url("/var/lib/postgresql"));

  DatabaseUrl d = split_database_url("postgresql://ca%40x:p%40ss:w@h1:5432,h2/db?sslmode=require");
  EXPECT_EQ(d.url, "postgresql://ca%40x@h1:5432,h2/db?sslmode=require");
  EXPECT_EQ(d.user, "ca@x");
  EXPECT_EQ(d.password, "p@ss:w");
  d = split_database_url("postgresql://ca@db/scepter");
  EXPECT_EQ(d.url, "postgresql://ca@db/scepter");
  EXPECT_EQ(d.user, "ca");
  EXPECT_FALSE(d.password.has_value());
  d = split_database_url("postgresql://db/x@y");  // an '@' in the path is not a user
  EXPECT_EQ(d.url, "postgresql://db/x@y");
  EXPECT_TRUE(d.user.empty());
}

TEST(FileSetDatabaseServer, TheLoginIsPutBackForTheStoreOnly) {
  Dirs d = make_dirs();
  Locations loc;
  loc.storage[FileType::kSer] = "postgresql://ca@127.0.0.1:5432/scepter";
  loc.logins[loc.storage[FileType::kSer]] = {"ca", "p@ss w"};
  loc.default_login = {"ftpuser", "not-this-one"};
  FileSet set(loc, d.resolver());
  EXPECT_OK(set.check_writable(FileType::kSer));
  EXPECT_EQ(*set.database_url("mycs.ser"), "postgresql://ca:p%40ss%20w@127.0.0.1:5432/scepter");

  // A URL without a user takes the login's; without a login it is used as it is.
  loc.storage[FileType::kSer] = "postgres://db.example/ca";
  loc.logins[loc.storage[FileType::kSer]] = {"u", "pw"};
  EXPECT_EQ(*FileSet(loc, d.resolver()).database_url("x.ser"), "postgres://u:pw@db.example/ca");
  loc.logins.clear();
  EXPECT_EQ(*FileSet(loc, d.resolver()).database_url("x.ser"), "postgres://db.example/ca");

  // A local location is an SQLite file; the other files cannot go to a database server.
  loc.storage[FileType::kSer] = "nvram:";
  EXPECT_EQ(*FileSet(loc, d.resolver()).database_url("x.ser"), "sqlite:" + d.root + "/nvram/x.ser");
  loc.storage[FileType::kCrl] = "postgresql://db/ca";
  Status s = FileSet(loc, d.resolver()).check_writable(FileType::kCrl);
  EXPECT_CODE(s, Code::kUnavailable);
  EXPECT_NE(s.message().find("only the main database"), std::string::npos) << s.message();
}

TEST(FileSetRemote, CertificateFilesAndPublishedCopiesGoThroughTheQueue) {
  Dirs d = make_dirs();
  Locations loc;
  loc.primary = "nvram:";
  loc.storage[FileType::kCnm] = "ftp://a/names";
  loc.publish[FileType::kCrl] = {"http://b/crl", "nvram:/pub"};
  loc.logins["http://b/crl"] = Credentials{"web", "pw"};
  loc.default_login = Credentials{"cs", "pw2"};
  std::vector<std::string> sent;
  Mutex mu;
  PublishQueue::Options o;
  o.spool_dir = d.root + "/spool";
  RemoteFiles remote;
  auto queue = PublishQueue::open(
      o, remote, [&](const std::string& url) { return loc.login_for(url); },
      [&](const std::string& url, const Credentials& login, std::string_view data,
          const std::atomic<bool>&) {
        MutexLock lock(mu);
        sent.push_back(url + " " + login.username + " " + std::string(data));
        return ok_status();
      });
  ASSERT_TRUE(queue.has_value());
  FileSet set(loc, d.resolver(), &remote, queue->get());
  EXPECT_OK(set.check_writable(FileType::kCnm));
  EXPECT_OK(set.write(FileType::kCnm, "2.cnm", "names"));
  EXPECT_OK(set.write(FileType::kCrl, "mycs.crl", "crl"));
  ASSERT_TRUE((*queue)->wait_empty(std::chrono::seconds(5)));
  MutexLock lock(mu);
  EXPECT_EQ(sent, (std::vector<std::string>{"ftp://a/names/2.cnm cs names",
                                            "http://b/crl/mycs.crl web crl"}));
  EXPECT_EQ(*fs::read_file(d.root + "/nvram/mycs.crl"), "crl");
  EXPECT_EQ(*fs::read_file(d.root + "/nvram/pub/mycs.crl"), "crl");
  // Without a queue, a copy for a server cannot be taken.
  EXPECT_CODE(FileSet(loc, d.resolver(), &remote).write(FileType::kCnm, "3.cnm", "x"),
              Code::kUnavailable);
}

}  // namespace
}  // namespace scepter::files
