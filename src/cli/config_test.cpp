// The running-config framework, saving it, and loading configuration text.
#include "cli/config.h"

#include <sys/stat.h>

#include <map>

#include <gtest/gtest.h>

#include "cli/cli_testing.h"
#include "cli/commands/commands.h"
#include "cli/type7.h"
#include "common/fs.h"
#include "common/testing.h"

namespace scepter::cli {
namespace {

// A stand-in certificate-server area: state kept by the test, written back by a writer.
struct FakeServers {
  struct Server {
    std::string issuer;
    std::int64_t crl_hours = 0;
    bool shutdown = true;
  };
  std::map<std::string, Server, std::less<>> servers;
};

void add_fake_server_area(CommandTable& t, FakeServers& state) {
  FakeServers* st = &state;
  t.add(Node::kConfig, "crypto pki server WORD$label",
        {"Encryption module", "Public Key components", "Enable IOS Certificate server",
         "Certificate Server label"},
        [st](Context& ctx, const Args& a) {
          st->servers[std::string(a.word("label"))];
          ctx.enter(Node::kCsServer, std::string(a.word("label")));
          return CmdResult();
        });
  t.add(Node::kCsServer, "issuer-name LINE$dn", {"Issuer name", "Issuer name string"},
        [st](Context& ctx, const Args& a) {
          st->servers[std::string(ctx.server_label())].issuer = std::string(a.line("dn"));
          return CmdResult();
        });
  t.add(Node::kCsServer, "[no] lifetime crl (1-336)$hours",
        {kNoHelp, "Lifetimes of CA items", "Certificate revocation list", "Hours (default 168)"},
        [st](Context& ctx, const Args& a) {
          st->servers[std::string(ctx.server_label())].crl_hours = a.integer("hours");
          return CmdResult();
        });
  t.add(Node::kCsServer, "[no] shutdown", {kNoHelp, "Shutdown IOS CS"},
        [st](Context& ctx, const Args& a) {
          st->servers[std::string(ctx.server_label())].shutdown = !a.has("no");
          return CmdResult();
        });
  t.add_config_writer(config_order::kCertificateServers, [st](ca::Device&, ConfigText& out) {
    for (const auto& [label, s] : st->servers) {
      out.line("crypto pki server " + label);
      if (!s.issuer.empty()) out.child("issuer-name " + s.issuer);
      if (s.crl_hours) out.child("lifetime crl " + std::to_string(s.crl_hours));
      if (!s.shutdown) out.child("no shutdown");
      out.bang();
    }
  });
}

struct Configured {
  CommandTable table;
  FakeServers state;
  testing::TempDevice dev;
  Configured() {
    // Only the system areas: the fake server area stands in for the real one.
    register_system_commands(table);
    register_config_commands(table);
    add_fake_server_area(table, state);
  }
  std::string body() { return running_config(table, dev.device()); }
};

TEST(ConfigText, SeparatorsAndIndentation) {
  ConfigText t;
  t.bang();
  t.line("crypto pki server a");
  t.child("grant auto");
  t.bang();
  t.bang();
  t.line("ip http server");
  EXPECT_EQ(t.text(), "crypto pki server a\n grant auto\n!\nip http server\n");
}

TEST(RunningConfig, DefaultBodyAndFrame) {
  Configured c;
  std::string body = c.body();
  EXPECT_EQ(body, "!\nhostname Router\n!\nend\n");
  EXPECT_EQ(frame_running_config(body),
            "Building configuration...\n\nCurrent configuration : 24 bytes\n"
            "!\nhostname Router\n!\nend\n");
}

TEST(RunningConfig, RoundTrip) {
  const std::string text =
      "hostname ca1\n"
      "crypto pki server mycs\n"
      " issuer-name CN=mycs, O=Example, C=US\n"
      " lifetime crl 24\n"
      "crypto pki server b\n"
      "  no shutdown\n"
      "! a comment\n"
      "end\n";
  Configured first;
  LoadResult r = load_config(first.table, first.dev.device(), text);
  EXPECT_EQ(r.errors, 0) << r.output;
  std::string body = first.body();
  EXPECT_EQ(body,
            "!\n"
            "hostname ca1\n"
            "!\n"
            "crypto pki server b\n"
            " no shutdown\n"
            "!\n"
            "crypto pki server mycs\n"
            " issuer-name CN=mycs, O=Example, C=US\n"
            " lifetime crl 24\n"
            "!\n"
            "end\n");
  Configured second;
  r = load_config(second.table, second.dev.device(), body);
  EXPECT_EQ(r.errors, 0) << r.output;
  EXPECT_EQ(second.body(), body);
}

TEST(RunningConfig, RoundTripWithTheRealCommands) {
  const std::string text =
      "hostname ca1\n"
      "crypto pki server mycs\n"
      " database level complete\n"
      " issuer-name CN=mycs, O=Example, C=US\n"
      " lifetime crl 24\n"
      " lifetime certificate 200\n"
      " grant auto\n"
      " cdp-url http://ca1.example.com/cgi-bin/pkiclient.exe?operation=GetCRL\n"
      "end\n";
  auto body_of = [](CommandTable& table, testing::TempDevice& dev, std::string_view config) {
    LoadResult r = load_config(table, dev.device(), config);
    EXPECT_EQ(r.errors, 0) << r.output;
    return running_config(table, dev.device());
  };
  CommandTable table;
  register_all_commands(table);
  testing::TempDevice first;
  std::string body = body_of(table, first, text);
  EXPECT_NE(body.find("hostname ca1\n"), std::string::npos) << body;
  EXPECT_NE(body.find("crypto pki server mycs\n"), std::string::npos) << body;
  EXPECT_NE(body.find(" issuer-name CN=mycs, O=Example, C=US\n"), std::string::npos) << body;
  testing::TempDevice second;
  EXPECT_EQ(body_of(table, second, body), body);
}

// A certificate server's section as a router's `show running-config` prints it.
TEST(LoadConfig, ARoutersCertificateServerSectionLoadsCleanly) {
  CommandTable table;
  register_all_commands(table);
  testing::TempDevice dev;
  LoadResult r = load_config(table, dev.device(),
                             "crypto pki server iosca\n"
                             " database level minimum\n"
                             " database url crl publish tftp://192.0.2.71/ username myname "
                             "password 7 0822455D0A16\n"
                             " database username admin password 7 094F471A1A0A\n"
                             " database archive pkcs12 password 7 070C285F4D06485744\n"
                             " issuer-name CN=iosca\n"
                             " lifetime crl 24\n"
                             " lifetime certificate 200\n"
                             " cdp-url http://192.0.2.1/cgi-bin/pkiclient.exe?operation=GetCRL\n"
                             " shutdown\n"
                             "crypto pki server edge\n"
                             " no database archive\n"
                             " hash sha256\n"
                             " eku server-auth client-auth\n"
                             " lifetime ca-certificate 1825\n"
                             " shutdown\n"
                             "crypto pki trustpoint edge\n"
                             " revocation-check crl\n"
                             " rsakeypair edge\n");
  EXPECT_EQ(r.errors, 0) << r.output;
  const std::string body = running_config(table, dev.device());
  EXPECT_NE(body.find(" database archive pkcs12 password 7 "), std::string::npos) << body;
  EXPECT_EQ(body.find("cisco"), std::string::npos) << body;           // cisco, cisco123
  EXPECT_EQ(body.find("database level"), std::string::npos) << body;  // the default
  EXPECT_EQ(body.find("hash sha256"), std::string::npos) << body;     // the default
  EXPECT_NE(body.find("crypto pki server edge\n"
                      " no database archive\n"
                      " lifetime ca-certificate 1825\n"
                      " eku server-auth client-auth\n"
                      " shutdown\n"),
            std::string::npos)
      << body;
  // Printed back, it loads into the same configuration.
  testing::TempDevice again;
  EXPECT_EQ(load_config(table, again.device(), body).errors, 0);
  EXPECT_EQ(running_config(table, again.device()), body);
}

TEST(LoadConfig, ReportsBadLinesAndGoesOn) {
  Configured c;
  LoadResult r = load_config(c.table, c.dev.device(), "hostname ca1\nbogus line\nhostname ca2\n");
  EXPECT_EQ(r.errors, 1);
  EXPECT_NE(r.output.find("line 2: bogus line\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("% Invalid input detected at '^' marker."), std::string::npos);
  EXPECT_EQ(c.dev.device().hostname(), "ca2");
}

TEST(Type7, KnownVectorsDecode) {
  // Texts written by IOS routers (and by every published decoder).
  EXPECT_EQ(*type7_decode("0822455D0A16"), "cisco");
  EXPECT_EQ(*type7_decode("094F471A1A0A"), "cisco");
  EXPECT_EQ(*type7_decode("02050D480809"), "cisco");
  EXPECT_EQ(*type7_decode("0822455d0a16"), "cisco");  // lower-case hex too
}

TEST(Type7, RoundTripAndStableText) {
  for (const std::string& clear :
       {std::string("cisco1234"), std::string("p@ss word with spaces!"), std::string(200, 'x'),
        std::string("a"), std::string("\xC3\xA9t\xC3\xA9 2026")}) {
    const std::string hidden = type7_encode(clear);
    EXPECT_EQ(hidden, type7_encode(clear)) << "the text must not change between shows";
    EXPECT_EQ(hidden.find(clear), std::string::npos);
    auto back = type7_decode(hidden);
    ASSERT_OK(back) << hidden;
    EXPECT_EQ(*back, clear);
  }
  EXPECT_EQ(type7_encode("cisco"), "01100F175804");  // offset: byte sum mod 16
}

TEST(Type7, RejectsWhatIsNotType7) {
  for (const std::string& bad :
       std::vector<std::string>{"", "08", "0822455D0A1", "0822455D0AZZ", "X822455D0A16",
                                "5322455D0A16", "08" + std::string(514, 'A'), "0841" /* NUL */}) {
    EXPECT_CODE(type7_decode(bad), Code::kInvalidArgument) << bad;
  }
  EXPECT_CODE(type7_decode(type7_encode(std::string("a\nb"))), Code::kInvalidArgument);
}

TEST(Type7, MaskPasswords) {
  EXPECT_EQ(mask_passwords(" database archive pem password cisco1234"),
            " database archive pem password *****");
  EXPECT_EQ(mask_passwords("database username admin password 7 0822455D0A16"),
            "database username admin password 7 *****");
  EXPECT_EQ(mask_passwords("database username admin pass 0 secret extra words"),
            "database username admin pass 0 *****");
  EXPECT_EQ(mask_passwords("database username admin passwd secret"),
            "database username admin passwd *****");
  EXPECT_EQ(mask_passwords("database archive pem PASSWORD 7x"),
            "database archive pem PASSWORD *****");
  EXPECT_EQ(mask_passwords("issuer-name CN=ca1"), "issuer-name CN=ca1");
  EXPECT_EQ(mask_passwords("database username admin password"), "database username admin password");
}

// The real certificate-server commands: passwords are written as type 7, read back in
// all three IOS forms, and a failing line at load time is logged without its secret.
class PasswordConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { register_all_commands(table_); }
  LoadResult load(testing::TempDevice& dev, std::string_view text) {
    return load_config(table_, dev.device(), text);
  }
  std::string body(testing::TempDevice& dev) { return running_config(table_, dev.device()); }
  CommandTable table_;
};

TEST_F(PasswordConfigTest, RunningConfigNeverShowsAPasswordInClear) {
  testing::TempDevice dev;
  LoadResult r = load(dev,
                      "crypto pki server mycs\n"
                      " database username admin password s3cretDbPass\n"
                      " database archive pem password cisco1234\n"
                      "end\n");
  ASSERT_EQ(r.errors, 0) << r.output;
  const std::string text = body(dev);
  EXPECT_EQ(text.find("s3cretDbPass"), std::string::npos) << text;
  EXPECT_EQ(text.find("cisco1234"), std::string::npos) << text;
  EXPECT_NE(text.find(" database username admin password 7 " + type7_encode("s3cretDbPass") + "\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(" database archive pem password 7 " + type7_encode("cisco1234") + "\n"),
            std::string::npos)
      << text;

  // The saved startup-config is the same text, readable by the owner only.
  ASSERT_OK(save_config(text, dev.device().startup_config_path()));
  struct stat st {};
  ASSERT_EQ(::stat(dev.device().startup_config_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // Round trip: the type 7 text loads back to the same passwords.
  testing::TempDevice second;
  r = load(second, text);
  ASSERT_EQ(r.errors, 0) << r.output;
  EXPECT_EQ(body(second), text);
  auto server = second.device().server("mycs");
  ASSERT_TRUE(server);
  EXPECT_EQ(server->config().locations.default_login.password, "s3cretDbPass");
  EXPECT_EQ(server->config().archive_password, "cisco1234");
}

// `database url ser postgresql://USER:PASSWORD@...`: typed with the password in the URL,
// shown with the password apart as type 7, and read back to the same configuration.
TEST_F(PasswordConfigTest, ADatabaseServerUrlKeepsItsPasswordOutOfTheConfig) {
  testing::TempDevice dev;
  LoadResult r = load(dev,
                      "crypto pki server mycs\n"
                      " database url ser postgresql://ca:s3cret%40db@127.0.0.1:5432/scepter\n"
                      "end\n");
  ASSERT_EQ(r.errors, 0) << r.output;
  const std::string text = body(dev);
  EXPECT_EQ(text.find("s3cret"), std::string::npos) << text;
  EXPECT_NE(text.find(" database url ser postgresql://ca@127.0.0.1:5432/scepter username ca "
                      "password 7 " +
                      type7_encode("s3cret@db") + "\n"),
            std::string::npos)
      << text;
  testing::TempDevice second;
  r = load(second, text);
  ASSERT_EQ(r.errors, 0) << r.output;
  EXPECT_EQ(body(second), text);
  const auto& loc = second.device().server("mycs")->config().locations;
  EXPECT_EQ(loc.storage.at(files::FileType::kSer), "postgresql://ca@127.0.0.1:5432/scepter");
  EXPECT_EQ(loc.logins.at("postgresql://ca@127.0.0.1:5432/scepter").password, "s3cret@db");

  // `no database url ser URL` (with or without the password) takes the login away too.
  r = load(second,
           "crypto pki server mycs\n no database url ser "
           "postgresql://ca:x@127.0.0.1:5432/scepter\nend\n");
  ASSERT_EQ(r.errors, 0) << r.output;
  EXPECT_EQ(body(second).find("postgresql"), std::string::npos) << body(second);
}

TEST_F(PasswordConfigTest, ADatabaseServerUrlIsRefusedWhereItCannotWork) {
  for (const std::string line : {
           " database url postgresql://ca:pw@db/scepter",               // not the primary
           " database url crl postgresql://ca:pw@db/scepter",           // not the CRL
           " database url ser postgresql:scepter",                      // not a URI
           " database url ser postgresql://ca@db/scepter?password=pw",  // password as a parameter
           " database url ser postgresql://ca:pw@db/x username ca password pw",  // twice
           " database url ser postgresql://ca@db/x username other password pw",  // another user
       }) {
    testing::TempDevice dev;
    LoadResult r = load(dev, "crypto pki server mycs\n" + line + "\nend\n");
    EXPECT_EQ(r.errors, 1) << line << "\n" << r.output;
    EXPECT_EQ(body(dev).find("postgres"), std::string::npos) << line << "\n" << body(dev);
  }
}

TEST_F(PasswordConfigTest, AcceptsClearType0AndType7) {
  for (const std::string& line : std::vector<std::string>{
           " database archive pkcs12 password cisco1234",
           " database archive pkcs12 password 0 cisco1234",
           " database archive pkcs12 password 7 " + type7_encode("cisco1234")}) {
    testing::TempDevice dev;
    LoadResult r = load(dev, "crypto pki server mycs\n" + line + "\nend\n");
    ASSERT_EQ(r.errors, 0) << line << "\n" << r.output;
    EXPECT_EQ(dev.device().server("mycs")->config().archive_password, "cisco1234") << line;
  }
  testing::TempDevice dev;
  LoadResult r = load(dev,
                      "crypto pki server mycs\n"
                      " database username admin password 0 plain\n"
                      "end\n");
  ASSERT_EQ(r.errors, 0) << r.output;
  EXPECT_EQ(dev.device().server("mycs")->config().locations.default_login.password, "plain");
}

TEST_F(PasswordConfigTest, FailingLinesAreLoggedWithoutTheirSecret) {
  testing::TempDevice dev;
  LoadResult r = load(dev,
                      "crypto pki server mycs\n"
                      " database archive pem password short\n"
                      " database archive pem password 7 ZZsecretZZ\n"
                      " database username admin password 7 0822455D0A1\n"
                      "end\n");
  EXPECT_EQ(r.errors, 3) << r.output;
  EXPECT_EQ(r.output.find("short"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("secret"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("0822455D0A1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("line 2:  database archive pem password *****\n"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("line 3:  database archive pem password 7 *****\n"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("Invalid encrypted password."), std::string::npos) << r.output;
}

class SaveTest : public ::testing::Test {
 protected:
  void SetUp() override { register_all_commands(table_); }
  std::string transcript(std::string_view input) {
    return testing::run_transcript(session_, input);
  }
  CommandTable table_;
  testing::TempDevice dev_;
  Session session_{table_, dev_.device()};
};

TEST_F(SaveTest, WriteMemoryAndShowStartup) {
  EXPECT_EQ(session_.execute("show startup-config").output, "startup-config is not present\n");
  session_.execute("configure terminal");
  session_.execute("hostname ca1");
  session_.execute("end");
  Reply r = session_.execute("write memory");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.output, "Building configuration...\n[OK]\n");
  auto saved = fs::read_file(dev_.device().startup_config_path());
  ASSERT_TRUE(saved.has_value());
  EXPECT_EQ(*saved, "!\nhostname ca1\n!\nend\n");
  struct stat st {};
  ASSERT_EQ(::stat(dev_.device().startup_config_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(session_.execute("show startup-config").output, *saved);
  EXPECT_EQ(session_.execute("wr").output, "Building configuration...\n[OK]\n");
  EXPECT_EQ(session_.execute("write terminal").output,
            session_.execute("show running-config").output);
}

TEST_F(SaveTest, CopyRunningConfigAsksForTheName) {
  EXPECT_EQ(transcript("copy running-config startup-config\n\n"),
            "Router#copy running-config startup-config\n"
            "Destination filename [startup-config]? \n"
            "Building configuration...\n[OK]\n");
  EXPECT_TRUE(fs::exists(dev_.device().startup_config_path()));
  EXPECT_EQ(transcript("copy run start\nbackup-config\n"),
            "Router#copy run start\n"
            "Destination filename [startup-config]? backup-config\n"
            "Building configuration...\n[OK]\n");
  EXPECT_TRUE(fs::exists(dev_.device().nvram_dir() + "/backup-config"));
  session_.execute("copy run start");
  Reply r = session_.execute("../escape");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "% Invalid destination filename\n");
}

}  // namespace
}  // namespace scepter::cli
