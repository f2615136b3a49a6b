#include "common/fs.h"

#include <sys/stat.h>
#include <cstdlib>

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

}  // namespace
}  // namespace scepter
