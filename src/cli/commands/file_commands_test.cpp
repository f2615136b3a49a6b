// copy SOURCE DESTINATION: the IOS dialogue, a live database copied as one consistent
// snapshot while certificates are issued, the live database never overwritten, and the
// seed's restore (a backup copied back over a server that was shut down).
#include <atomic>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "ca/ca_test_support.h"
#include "cli/commands/more_commands_testing.h"
#include "common/fs.h"
#include "store/store.h"

namespace scepter::cli {
namespace {

// "N bytes copied in S secs (R bytes/sec)" with the numbers blanked.
std::string blank_numbers(const std::string& out) {
  static const std::regex kCopied(R"(\d+ bytes copied in [0-9.]+ secs \(\d+ bytes/sec\))");
  return std::regex_replace(out, kCopied, "N bytes copied in S secs (R bytes/sec)");
}

class FileCommandsTest : public testing::MoreCommandsTest {
 protected:
  std::string flash(const std::string& name) { return dev_.device().flash_dir() + "/" + name; }
  std::string nvram(const std::string& name) { return dev_.device().nvram_dir() + "/" + name; }
  // The serials in the database file at `path`, opened as the server opens it.
  std::uint64_t last_serial(const std::string& path) {
    auto store = store::open_store({"sqlite:" + path});
    EXPECT_TRUE(store.has_value()) << store.error().to_string();
    if (!store.has_value()) return 0;
    auto last = (*store)->last_serial();
    EXPECT_TRUE(last.has_value());
    return last.value_or(0);
  }
};

TEST_F(FileCommandsTest, CopyAsksForTheNameAndSaysHowMuchWasCopied) {
  ASSERT_TRUE(fs::write_atomic(nvram("notes.txt"), "twelve bytes").ok());
  EXPECT_EQ(blank_numbers(run("copy nvram:notes.txt flash:\n\n")),
            "Router#copy nvram:notes.txt flash:\n"
            "Destination filename [notes.txt]? \n"
            "\nN bytes copied in S secs (R bytes/sec)\n");
  EXPECT_EQ(*fs::read_file(flash("notes.txt")), "twelve bytes");
  EXPECT_NE(run("copy nvram:notes.txt flash:other.txt\n\n").find("\n12 bytes copied in "),
            std::string::npos);
  EXPECT_EQ(*fs::read_file(flash("other.txt")), "twelve bytes");
  // Another name typed at the question; an existing file is overwritten once confirmed.
  EXPECT_EQ(blank_numbers(run("copy nvram:notes.txt flash:\nrenamed.txt\n")),
            "Router#copy nvram:notes.txt flash:\n"
            "Destination filename [notes.txt]? renamed.txt\n"
            "\nN bytes copied in S secs (R bytes/sec)\n");
  EXPECT_TRUE(fs::exists(flash("renamed.txt")));
  ASSERT_TRUE(fs::write_atomic(nvram("notes.txt"), "changed").ok());
  EXPECT_EQ(blank_numbers(run("copy nvram:notes.txt flash:renamed.txt\n\nno\n")),
            "Router#copy nvram:notes.txt flash:renamed.txt\n"
            "Destination filename [renamed.txt]? \n"
            "%Warning:There is a file already existing with this name\n"
            "Do you want to over write? [yes]: no\n");
  EXPECT_EQ(*fs::read_file(flash("renamed.txt")), "twelve bytes");
  run("copy nvram:notes.txt flash:renamed.txt\n\n\n");
  EXPECT_EQ(*fs::read_file(flash("renamed.txt")), "changed");
}

TEST_F(FileCommandsTest, DeleteAsksTheNameAndForConfirmation) {
  for (const char* name : {"a.txt", "b.txt", "c.txt"}) {
    ASSERT_TRUE(fs::write_atomic(flash(name), "x").ok());
  }
  // "n" at [confirm] keeps the file; Return deletes it.
  EXPECT_EQ(run("delete flash:a.txt\n\nn\n"),
            "Router#delete flash:a.txt\n"
            "Delete filename [a.txt]? \n"
            "Delete flash:a.txt? [confirm]n\n");
  EXPECT_TRUE(fs::exists(flash("a.txt")));
  EXPECT_EQ(run("delete flash:a.txt\nb.txt\n\n"),
            "Router#delete flash:a.txt\n"
            "Delete filename [a.txt]? b.txt\n"
            "Delete flash:b.txt? [confirm]\n");
  EXPECT_TRUE(fs::exists(flash("a.txt")));
  EXPECT_FALSE(fs::exists(flash("b.txt")));
  EXPECT_EQ(run("delete /force flash:c.txt\n\n"),
            "Router#delete /force flash:c.txt\n"
            "Delete filename [c.txt]? \n");
  EXPECT_FALSE(fs::exists(flash("c.txt")));
  EXPECT_EQ(run("delete /force flash:c.txt\n\n"),
            "Router#delete /force flash:c.txt\n"
            "Delete filename [c.txt]? \n"
            "%Error deleting flash:c.txt (No such file or directory)\n");
  EXPECT_EQ(run("delete /force tftp://127.0.0.1/c.txt\n\n"),
            "Router#delete /force tftp://127.0.0.1/c.txt\n"
            "Delete filename [c.txt]? \n"
            "%Error deleting tftp://127.0.0.1/c.txt (cannot delete tftp://127.0.0.1/c.txt: tftp "
            "cannot delete files)\n");
  // The database of an enabled server stays.
  auto server = enabled_server("mycs");
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(run("delete /force nvram:mycs.ser\n\n"),
            "Router#delete /force nvram:mycs.ser\n"
            "Delete filename [mycs.ser]? \n"
            "% nvram:mycs.ser is the database of certificate server mycs, which is not shut "
            "down: enter \"shutdown\" under crypto pki server mycs before deleting it.\n");
  EXPECT_TRUE(fs::exists(nvram("mycs.ser")));
}

TEST_F(FileCommandsTest, MoreShowsATextFileAndFiltersApply) {
  run("write memory\n");
  const std::string saved = *fs::read_file(nvram("startup-config"));
  EXPECT_EQ(run("more nvram:startup-config\n"), "Router#more nvram:startup-config\n" + saved);
  EXPECT_EQ(run("more nvram:startup-config | include ^hostname\n"),
            "Router#more nvram:startup-config | include ^hostname\nhostname Router\n");
  EXPECT_EQ(run("show running-config | count ^hostname\n"),
            "Router#show running-config | count ^hostname\n"
            "Number of lines which match regexp = 1\n");
  EXPECT_EQ(run("show running-config | grep x\n"),
            "Router#show running-config | grep x\n"
            "                             ^\n"
            "% Invalid input detected at '^' marker.\n");
  EXPECT_EQ(run("more nvram:nosuch\n"),
            "Router#more nvram:nosuch\n%Error opening nvram:nosuch (No such file or directory)\n");
  ASSERT_TRUE(fs::write_atomic(flash("bin"), std::string("a\0b", 3)).ok());
  EXPECT_EQ(run("more flash:bin\n"), "Router#more flash:bin\n% flash:bin is not a text file.\n");
}

TEST_F(FileCommandsTest, BadSourcesAndDestinationsAreRefused) {
  EXPECT_EQ(exec("copy nvram:nosuch flash:").output,
            "%Error opening nvram:nosuch (No such file or directory)\n");
  EXPECT_EQ(exec("copy rcp://127.0.0.1/backup.ser nvram:").output,
            "% rcp: is not supported; use scp: or sftp:\n");
  EXPECT_EQ(exec("copy ftp://u:secret@127.0.0.1/a%0d%0aDELE%20b nvram:").output,
            "% ftp://u:***@127.0.0.1/a%0d%0aDELE%20b is not a usable URL: control character in "
            "the path\n");
  EXPECT_EQ(exec("copy ftp://127.0.0.1/ nvram:").output, "% No file name in ftp://127.0.0.1/\n");
  EXPECT_EQ(exec("copy nvram:a.txt ftp://u:pw@127.0.0.1/?x").output,
            "%Error opening nvram:a.txt (No such file or directory)\n");
  ASSERT_TRUE(fs::write_atomic(nvram("a.txt"), "a").ok());
  EXPECT_EQ(exec("copy nvram:a.txt flash:nosuchdir/a.txt").output,
            "%Error opening flash:nosuchdir/a.txt (No such file or directory)\n");
  ASSERT_TRUE(exec("copy nvram:a.txt nvram:").ok);
  Reply r = exec("");
  EXPECT_EQ(r.output, "% The source and the destination are the same file.\n");
  ASSERT_TRUE(exec("copy nvram:a.txt flash:").ok);
  r = exec("../escape");
  EXPECT_EQ(r.output, "% Invalid destination filename\n");
}

// A backup of a database in use is one consistent snapshot, taken while certificates are
// issued; the live database cannot be overwritten; shut down, the server takes the backup
// back (the seed's restore) and continues its serials from it.
TEST_F(FileCommandsTest, ALiveDatabaseIsCopiedConsistentlyAndRestoredOnlyWhenShutDown) {
  auto server = enabled_server("mycs");
  ASSERT_NE(server, nullptr);
  ca::ServerConfig cfg = server->config();
  cfg.grant = ca::GrantMode::kAuto;
  ASSERT_TRUE(server->set_config(cfg).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> issued{0};
  std::thread writer([&] {
    while (!stop) {
      auto out = server->submit(ca::testing::make_csr_der("CN=leaf" + std::to_string(issued)),
                                ca::RequestSource::kManualPem);
      if (out.has_value() && out->certificate) ++issued;
    }
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (issued < 5 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (issued < 5) {
    stop = true;
    writer.join();
    FAIL() << "no certificates issued";
  }
  std::string out;
  for (int i = 0; i < 3; ++i) {
    out = run("copy nvram:mycs.ser flash:backup" + std::to_string(i) + ".ser\n\n");
    EXPECT_NE(out.find(" bytes copied in "), std::string::npos) << out;
  }
  stop = true;
  writer.join();
  // Each copy opens as a database whose certificates are all there up to its last serial.
  for (int i = 0; i < 3; ++i) {
    const std::string copy = flash("backup" + std::to_string(i) + ".ser");
    auto store = store::open_store({"sqlite:" + copy});
    ASSERT_TRUE(store.has_value()) << store.error().to_string();
    auto last = (*store)->last_serial();
    ASSERT_TRUE(last.has_value());
    EXPECT_GE(*last, 5u);
    for (std::uint64_t serial = 2; serial <= *last; ++serial) {
      auto cert = (*store)->certificate(serial);
      ASSERT_TRUE(cert.has_value()) << copy << " serial " << serial;
    }
  }
  const std::uint64_t backed_up = last_serial(flash("backup0.ser"));
  const std::uint64_t live = server->info().last_serial;
  ASSERT_GT(live, backed_up);

  EXPECT_EQ(exec("copy flash:backup0.ser nvram:mycs.ser").output, "");
  EXPECT_EQ(exec("").output,
            "% nvram:mycs.ser is the database of certificate server mycs, which is not shut "
            "down: enter \"shutdown\" under crypto pki server mycs before replacing it.\n");
  server->shutdown();
  out = run("copy flash:backup0.ser nvram:mycs.ser\n\n\n");
  EXPECT_NE(out.find("Do you want to over write? [yes]: \n\n"), std::string::npos) << out;
  auto report = server->enable({});
  ASSERT_TRUE(report.has_value()) << report.error().to_string();
  EXPECT_EQ(server->info().last_serial, backed_up);
  auto next = server->submit(ca::testing::make_csr_der("CN=after"), ca::RequestSource::kManualPem);
  ASSERT_TRUE(next.has_value() && next->certificate);
  EXPECT_EQ(next->certificate->serial()->sequence, backed_up + 1);
}

}  // namespace
}  // namespace scepter::cli
