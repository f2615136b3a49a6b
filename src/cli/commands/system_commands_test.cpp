// clock, dir, hostname, ip domain name, terminal.
#include <chrono>
#include <filesystem>
#include <regex>

#include <gtest/gtest.h>

#include "cli/cli_testing.h"
#include "cli/commands/clock_commands.h"
#include "cli/commands/commands.h"
#include "cli/commands/more_commands_testing.h"
#include "cli/config.h"
#include "common/fs.h"

namespace scepter::cli {
namespace {

class SystemCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override { register_all_commands(table_); }
  Reply run(std::string_view line) { return session_.execute(line); }
  static std::string marker(std::size_t column) {
    return std::string(column, ' ') + "^\n% Invalid input detected at '^' marker.\n";
  }

  CommandTable table_;
  testing::TempDevice dev_;
  Session session_{table_, dev_.device()};
};

TimePoint nov27_noon() {
  using namespace std::chrono;
  return time_point_cast<Seconds>(sys_days(year(2026) / November / 27)) + hours(12);
}

TEST_F(SystemCommandsTest, ClockSetDayFirstOrMonthFirst) {
  for (std::string_view line : {"clock set 12:00:00 27 Nov 2026", "clock set 12:00:00 nov 27 2026",
                                "clock set 12:00:00 27 NOVEMBER 2026"}) {
    Reply r = run(line);
    EXPECT_TRUE(r.ok) << line << ": " << r.output;
    EXPECT_EQ(r.output, "");
    auto drift = dev_.clock().now() - nov27_noon();
    EXPECT_LE(std::chrono::abs(drift), Seconds(2)) << line;
  }
  std::string shown = run("show clock").output;
  EXPECT_TRUE(std::regex_match(shown, std::regex(R"(\*12:00:0[0-2]\.\d{3} UTC Fri Nov 27 2026\n)")))
      << shown;
}

TEST_F(SystemCommandsTest, ClockSetChecksEveryField) {
  // "Router#" is 7 columns; the marker goes under the bad word.
  EXPECT_EQ(run("clock set 24:00:00 1 Jan 2026").output, marker(7 + 10));
  EXPECT_EQ(run("clock set 12:60:00 1 Jan 2026").output, marker(7 + 10));
  EXPECT_EQ(run("clock set 12:00:00 32 Jan 2026").output, marker(7 + 19));
  EXPECT_EQ(run("clock set 12:00:00 1 Foo 2026").output, marker(7 + 21));
  EXPECT_EQ(run("clock set 12:00:00 1 Jan 2036").output, marker(7 + 25));
  EXPECT_EQ(run("clock set 12:00:00 1 Jan 1992").output, marker(7 + 25));
  EXPECT_EQ(run("clock set 12:00:00 31 Feb 2026").output, marker(7 + 19));
  EXPECT_EQ(run("clock set 12:00:00 Feb 29 2026").output, marker(7 + 23));
  EXPECT_TRUE(run("clock set 12:00:00 Feb 29 2028").ok);
  EXPECT_EQ(run("clock set 12:00:00 1 Jan").output, "% Incomplete command.\n");
}

// The seed's PST/PDT: times are shown, and `clock set` is read, in the configured zone.
TEST_F(SystemCommandsTest, TimeZoneAndSummerTime) {
  using namespace std::chrono;
  ASSERT_TRUE(run("configure terminal").ok);
  ASSERT_TRUE(run("clock timezone PST -8").ok);
  ASSERT_TRUE(run("clock summer-time PDT recurring").ok);
  // 12:00 UTC on Nov 27 is 04:00 PST; in June it is 05:00 PDT.
  EXPECT_EQ(format_ios_time(nov27_noon()), "04:00:00 PST Nov 27 2026");
  const TimePoint june = time_point_cast<Seconds>(sys_days(year(2026) / June / 1)) + hours(12);
  EXPECT_EQ(format_ios_time(june), "05:00:00 PDT Jun 1 2026");
  // The US rules: from 2:00 on the second Sunday of March (Mar 8 2026, 10:00 UTC) to
  // 2:00 PDT on the first Sunday of November (Nov 1 2026, 09:00 UTC).
  const TimePoint mar8 = time_point_cast<Seconds>(sys_days(year(2026) / March / 8));
  EXPECT_EQ(format_ios_time(mar8 + hours(10) - Seconds(1)), "01:59:59 PST Mar 8 2026");
  EXPECT_EQ(format_ios_time(mar8 + hours(10)), "03:00:00 PDT Mar 8 2026");
  const TimePoint nov1 = time_point_cast<Seconds>(sys_days(year(2026) / November / 1));
  EXPECT_EQ(format_ios_time(nov1 + hours(9) - Seconds(1)), "01:59:59 PDT Nov 1 2026");
  EXPECT_EQ(format_ios_time(nov1 + hours(9)), "01:00:00 PST Nov 1 2026");
  // clock set takes local time.
  ASSERT_TRUE(run("end").ok);
  ASSERT_TRUE(run("clock set 04:00:00 27 Nov 2026").ok);
  EXPECT_LE(abs(dev_.clock().now() - nov27_noon()), Seconds(2));
  EXPECT_NE(run("show clock").output.find(" PST Fri Nov 27 2026"), std::string::npos);
  std::string config = run("show running-config").output;
  EXPECT_NE(config.find("clock timezone PST -8 0\nclock summer-time PDT recurring\n"),
            std::string::npos)
      << config;
  // Other rules (central Europe), and what is refused.
  ASSERT_TRUE(run("configure terminal").ok);
  ASSERT_TRUE(run("clock timezone CET 1").ok);
  ASSERT_TRUE(run("clock summer-time CEST recurring last Sun Mar 2:00 last Sun Oct 3:00").ok);
  EXPECT_EQ(format_ios_time(june), "14:00:00 CEST Jun 1 2026");
  EXPECT_EQ(format_ios_time(nov27_noon()), "13:00:00 CET Nov 27 2026");
  config = run("do show running-config").output;
  EXPECT_NE(config.find("clock summer-time CEST recurring last Sun Mar 2:00 last Sun Oct 3:00\n"),
            std::string::npos)
      << config;
  EXPECT_FALSE(run("clock summer-time CEST recurring 6 Sun Mar 2:00 last Sun Oct 3:00").ok);
  EXPECT_FALSE(run("clock timezone XYZ 24").ok);
  EXPECT_NE(run("clock summer-time X date Mar 1 2026 2:00 Nov 1 2026 2:00")
                .output.find("Only recurring summer time is supported"),
            std::string::npos);
  ASSERT_TRUE(run("no clock summer-time").ok);
  ASSERT_TRUE(run("no clock timezone").ok);
  EXPECT_EQ(format_ios_time(nov27_noon()), "12:00:00 UTC Nov 27 2026");
  EXPECT_EQ(display_zone(), DisplayZone{});
}

TEST(ShowClock, Format) {
  using namespace std::chrono;
  EXPECT_EQ(format_show_clock(nov27_noon(), 0), "*12:00:00.000 UTC Fri Nov 27 2026");
  TimePoint t = time_point_cast<Seconds>(sys_days(year(2025) / January / 4)) + hours(9) +
                minutes(8) + Seconds(7);
  EXPECT_EQ(format_show_clock(t, 42), "*09:08:07.042 UTC Sat Jan 4 2025");
}

TEST_F(SystemCommandsTest, DirListsRegularFilesByName) {
  ASSERT_TRUE(fs::write_atomic(dev_.device().nvram_dir() + "/b.ser", "12345").ok());
  ASSERT_TRUE(fs::write_atomic(dev_.device().nvram_dir() + "/a.crl", "1").ok());
  ASSERT_TRUE(fs::make_dirs(dev_.device().nvram_dir() + "/subdir").ok());
  std::string out = run("dir nvram:").output;
  EXPECT_TRUE(std::regex_match(out, std::regex("Directory of nvram:/\n\n"
                                               "    1  -rw-           1 +<no date>  a.crl\n"
                                               "    2  -rw-           0 +<no date>  audit.log\n"
                                               "    3  -rw-           5 +<no date>  b.ser\n"
                                               "\n\\d+ bytes total \\(\\d+ bytes free\\)\n")))
      << out;
  out = run("dir").output;
  EXPECT_TRUE(std::regex_match(out, std::regex("Directory of flash:/\n\nNo files in directory\n"
                                               "\n\\d+ bytes total \\(\\d+ bytes free\\)\n")))
      << out;
  EXPECT_EQ(run("dir nv").output.substr(0, 20), "Directory of nvram:/");
  // A directory or a file anywhere on the machine, as IOS lists disk0:/dir or a file.
  const std::string sub = dev_.device().nvram_dir() + "/subdir";
  ASSERT_TRUE(fs::write_atomic(sub + "/c.txt", "123").ok());
  out = run("dir " + sub).output;
  EXPECT_EQ(out.substr(0, out.find("\n\n") + 2), "Directory of " + sub + "/\n\n") << out;
  EXPECT_NE(out.find("  c.txt\n"), std::string::npos) << out;
  out = run("dir nvram:b.ser").output;
  EXPECT_TRUE(std::regex_search(out, std::regex("Directory of nvram:b.ser\n\n"
                                                "    1  -rw-           5 +<no date>  b.ser\n")))
      << out;
  EXPECT_EQ(run("dir tftp://192.0.2.1/").output,
            "% dir lists nvram:, flash: and local directories.\n");
  EXPECT_TRUE(run("enable").ok);
  std::filesystem::remove_all(dev_.device().flash_dir());
  Reply r = run("dir flash:");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "%Error opening flash:/ (No such file or directory)\n");
}

TEST_F(SystemCommandsTest, Hostname) {
  run("configure terminal");
  const std::vector<std::string> bad_names = {"hostname 1abc", "hostname a_b", "hostname a-",
                                              "hostname " + std::string(64, 'a')};
  for (const std::string& bad : bad_names) {
    Reply r = run(bad);
    EXPECT_FALSE(r.ok) << bad;
    EXPECT_EQ(r.output, "% Hostname contains one or more illegal characters.\n");
  }
  EXPECT_TRUE(run("hostname ca-1").ok);
  EXPECT_EQ(session_.prompt(), "ca-1(config)#");
  EXPECT_TRUE(run("no hostname").ok);
  EXPECT_EQ(session_.prompt(), "Router(config)#");
}

TEST_F(SystemCommandsTest, DomainName) {
  run("configure terminal");
  EXPECT_EQ(dev_.device().fqdn(), "Router");
  Reply r = run("ip domain name example.com");
  EXPECT_TRUE(r.ok) << r.output;
  EXPECT_EQ(r.output, "");
  EXPECT_EQ(dev_.device().domain_name(), "example.com");
  EXPECT_EQ(dev_.device().fqdn(), "Router.example.com");
  ASSERT_TRUE(run("hostname ca1").ok);
  EXPECT_EQ(dev_.device().fqdn(), "ca1.example.com");
  // Printed right after the hostname, in modern IOS's spelling whichever was typed.
  EXPECT_NE(
      run("do show running-config").output.find("!\nhostname ca1\nip domain name example.com\n!\n"),
      std::string::npos);
  ASSERT_TRUE(run("ip domain-name corp.example-1.org").ok);
  EXPECT_EQ(dev_.device().domain_name(), "corp.example-1.org");
  EXPECT_NE(run("do show running-config").output.find("ip domain name corp.example-1.org\n"),
            std::string::npos);
  EXPECT_EQ(run("do show running-config").output.find("domain-name"), std::string::npos);

  const std::vector<std::string> bad = {"a_b.com",
                                        "-a.com",
                                        "a-.com",
                                        "a..com",
                                        ".a.com",
                                        "a.com.",
                                        "a b",
                                        "a/b",
                                        std::string(64, 'a') + ".com",
                                        std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                                            std::string(63, 'c') + "." + std::string(63, 'd')};
  for (const std::string& name : bad) {
    r = run("ip domain name " + name);
    EXPECT_FALSE(r.ok) << name;
    if (name == "a b") continue;  // two words: the grammar's marker
    EXPECT_EQ(r.output, "% Invalid domain name " + name +
                            ": use labels of letters, digits and hyphens (not at either end of a "
                            "label) separated by dots, such as example.com.\n")
        << name;
  }
  EXPECT_EQ(dev_.device().domain_name(), "corp.example-1.org");  // unchanged
  EXPECT_EQ(session_.help("ip domain "),
            "  lookup  Enable IP Domain Name System hostname translation\n"
            "  name    Define the default domain name\n");
  EXPECT_NE(session_.help("ip domain name ").find("  WORD  Default domain name\n"),
            std::string::npos);
  EXPECT_EQ(run("ip domain name").output, "% Incomplete command.\n");
  EXPECT_EQ(run("ip domain-name").output, "% Incomplete command.\n");

  // `no` with or without the name, in either spelling.
  EXPECT_TRUE(run("no ip domain name").ok);
  EXPECT_EQ(dev_.device().domain_name(), "");
  EXPECT_EQ(dev_.device().fqdn(), "ca1");
  ASSERT_TRUE(run("ip domain name example.com").ok);
  EXPECT_TRUE(run("no ip domain-name example.com").ok);
  EXPECT_EQ(dev_.device().domain_name(), "");
  EXPECT_EQ(run("do show running-config").output.find("ip domain"), std::string::npos);
}

TEST_F(SystemCommandsTest, DomainLookupOnlyOff) {
  run("configure terminal");
  // Pasted router configurations say this often; scepterd never looks names up anyway.
  for (std::string_view line : {"no ip domain lookup", "no ip domain-lookup"}) {
    Reply r = run(line);
    EXPECT_TRUE(r.ok) << line << ": " << r.output;
    EXPECT_EQ(r.output, "");
  }
  for (std::string_view line : {"ip domain lookup", "ip domain-lookup"}) {
    Reply r = run(line);
    EXPECT_FALSE(r.ok) << line;
    EXPECT_EQ(r.output,
              "% Name lookup is not supported: scepterd never resolves names typed at the "
              "prompt, as with \"no ip domain lookup\".\n");
  }
  EXPECT_EQ(run("do show running-config").output.find("lookup"), std::string::npos);
}

// Saved with `write memory` and read back by a restarted daemon.
TEST(DomainNameConfig, KeptAcrossARestart) {
  CommandTable table;
  register_all_commands(table);
  testing::KeyDevice dev;
  {
    Session session(table, dev.device());
    for (std::string_view line :
         {"configure terminal", "hostname ca1", "ip domain-name example.com", "end"}) {
      ASSERT_TRUE(session.execute(line).ok) << line;
    }
    ASSERT_TRUE(session.execute("write memory").ok);
  }
  const std::string before = running_config(table, dev.device());
  auto saved = fs::read_file(dev.device().startup_config_path());
  ASSERT_TRUE(saved.has_value());
  EXPECT_NE(saved->find("hostname ca1\nip domain name example.com\n"), std::string::npos) << *saved;

  dev.reopen();
  EXPECT_EQ(dev.device().domain_name(), "");
  LoadResult r = load_config(table, dev.device(), *saved);
  EXPECT_EQ(r.errors, 0) << r.output;
  EXPECT_EQ(dev.device().fqdn(), "ca1.example.com");
  EXPECT_EQ(running_config(table, dev.device()), before);
}

TEST_F(SystemCommandsTest, TerminalSettingsAreAccepted) {
  EXPECT_TRUE(run("terminal length 0").ok);
  EXPECT_TRUE(run("term width 132").ok);
  EXPECT_FALSE(run("terminal length 513").ok);
}

}  // namespace
}  // namespace scepter::cli
