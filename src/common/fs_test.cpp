#include "common/fs.h"

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "common/testing.h"

namespace scepter {
namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/scepter-fs-XXXXXX";
  return ::mkdtemp(tmpl);
}

TEST(Fs, WriteAtomicThenRead) {
  std::string dir = temp_dir();
  std::string path = dir + "/a.bin";
  ASSERT_OK(fs::write_atomic(path, std::string("hello\0world", 11), 0600));
  auto data = fs::read_file(path);
  ASSERT_OK(data);
  EXPECT_EQ(*data, std::string("hello\0world", 11));
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Fs, MissingFileIsNotFound) {
  EXPECT_CODE(fs::read_file("/nonexistent/dir/file"), Code::kNotFound);
}

TEST(Fs, MakeDirsCreatesParents) {
  std::string dir = temp_dir() + "/x/y/z";
  ASSERT_OK(fs::make_dirs(dir));
  EXPECT_TRUE(fs::exists(dir));
  ASSERT_OK(fs::remove_file(dir + "/none"));
}

TEST(Fs, WriteIntoMissingDirectoryFails) {
  EXPECT_FALSE(fs::write_atomic("/nonexistent/dir/file", "x").ok());
}

TEST(Fs, WriteAtomicDoesNotFollowAPlantedSymlink) {
  std::string dir = temp_dir();
  const std::string victim = dir + "/victim";
  ASSERT_OK(fs::write_atomic(victim, "precious"));
  const std::string path = dir + "/startup-config";
  // The names an attacker could guess: the old "<path>.tmp.<pid>" scheme and the
  // temporary's prefix with a few suffixes.
  for (const std::string& name : {path + ".tmp." + std::to_string(::getpid()),
                                  dir + "/.startup-config.", dir + "/.startup-config.XXXXXX"}) {
    ASSERT_EQ(::symlink(victim.c_str(), name.c_str()), 0) << name;
  }
  ASSERT_OK(fs::write_atomic(path, "secret", 0600));
  EXPECT_EQ(*fs::read_file(victim), "precious");
  EXPECT_EQ(*fs::read_file(path), "secret");
  struct stat st {};
  ASSERT_EQ(::lstat(victim.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST(Fs, WriteAtomicReplacesASymlinkInsteadOfWritingThroughIt) {
  std::string dir = temp_dir();
  const std::string victim = dir + "/victim";
  ASSERT_OK(fs::write_atomic(victim, "precious"));
  const std::string path = dir + "/private-config";
  ASSERT_EQ(::symlink(victim.c_str(), path.c_str()), 0);
  ASSERT_OK(fs::write_atomic(path, "secret", 0600));
  EXPECT_EQ(*fs::read_file(victim), "precious");
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Fs, WriteAtomicLeavesNoTemporaryBehind) {
  std::string dir = temp_dir();
  ASSERT_OK(fs::write_atomic(dir + "/a", "1"));
  EXPECT_FALSE(fs::write_atomic(dir + "/no-such-dir/b", "2").ok());
  int entries = 0;
  DIR* d = ::opendir(dir.c_str());
  ASSERT_NE(d, nullptr);
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) ++entries;
  }
  ::closedir(d);
  EXPECT_EQ(entries, 1);
}

// Set by the child below: the directory whose temporary the SIGXFSZ handler inspects.
char g_watch_dir[256];

// Runs when the first write() of the data exceeds RLIMIT_FSIZE (0): at that instant the
// temporary must already have its final mode. Exits 0 if so, 1 if not, 2 if not found.
void on_file_size_exceeded(int) {
  DIR* d = ::opendir(g_watch_dir);
  if (d == nullptr) ::_exit(2);
  while (dirent* e = ::readdir(d)) {
    if (std::strncmp(e->d_name, ".k.", 3) != 0) continue;
    std::string p = std::string(g_watch_dir) + "/" + e->d_name;
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) ::_exit(2);
    ::_exit((st.st_mode & 0777) == 0640 ? 0 : 1);
  }
  ::_exit(2);
}

TEST(Fs, ModeIsSetBeforeTheFirstByteIsWritten) {
  const std::string dir = temp_dir();
  ASSERT_LT(dir.size(), sizeof g_watch_dir);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::strcpy(g_watch_dir, dir.c_str());
    ::umask(077);  // mkostemp's 0600 would stay 0600 without an explicit fchmod
    struct sigaction sa {};
    sa.sa_handler = on_file_size_exceeded;
    ::sigaction(SIGXFSZ, &sa, nullptr);
    struct rlimit lim {
      0, 0
    };
    ::setrlimit(RLIMIT_FSIZE, &lim);
    (void)fs::write_atomic(dir + "/k", "key material", 0640);
    ::_exit(3);  // the write never hit the limit
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Fs, RestrictModeOnlyRemovesBits) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/startup-config";
  ASSERT_OK(fs::write_atomic(path, "x", 0644));
  ASSERT_OK(fs::restrict_mode(path, 0600));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::chmod(path.c_str(), 0400), 0);
  ASSERT_OK(fs::restrict_mode(path, 0600));
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0400u);
  EXPECT_CODE(fs::restrict_mode(dir + "/missing", 0600), Code::kNotFound);
  const std::string link = dir + "/link";
  ASSERT_EQ(::symlink(path.c_str(), link.c_str()), 0);
  EXPECT_FALSE(fs::restrict_mode(link, 0600).ok());
}

TEST(Fs, PrivateDirAcceptsOwnDirectoryAndRefusesSharedOnes) {
  const std::string dir = temp_dir();
  ASSERT_OK(fs::check_private_dir(dir));
  ASSERT_EQ(::chmod(dir.c_str(), 0757), 0);
  Status s = fs::check_private_dir(dir, "Storage directory");
  EXPECT_CODE(s, Code::kPermissionDenied);
  EXPECT_EQ(s.message(), "Storage directory " + dir +
                             " is writable by other users; fix its permissions (chmod go-w " + dir +
                             ")");
  ASSERT_EQ(::chmod(dir.c_str(), 01777), 0);
  ASSERT_OK(fs::check_private_dir(dir));
  // A symlink is judged by what it points at.
  const std::string inner = dir + "/inner";
  ASSERT_OK(fs::make_dirs(inner));
  ASSERT_EQ(::chmod(inner.c_str(), 0777), 0);
  const std::string link = temp_dir() + "/link";
  ASSERT_EQ(::symlink(inner.c_str(), link.c_str()), 0);
  EXPECT_CODE(fs::check_private_dir(link), Code::kPermissionDenied);
  EXPECT_CODE(fs::check_private_dir(dir + "/missing"), Code::kNotFound);
}

}  // namespace
}  // namespace scepter
